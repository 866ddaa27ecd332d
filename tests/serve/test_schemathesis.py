"""Property-based tests of the server against its own OpenAPI document (schemathesis).

Every operation gets schema-valid and schema-invalid requests; every answer must pass all
of schemathesis' checks: no 5xx, only documented status codes, content types and headers,
bodies that match the documented schemas, invalid data rejected with a 4xx, and auth
enforced where the document says so. Header values are kept to visible ASCII: a header
with control characters is not HTTP, and uvicorn rejects it before the app sees it.
"""

from __future__ import annotations

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from schemathesis import DataGenerationMethod, GenerationConfig
from schemathesis.checks import ALL_CHECKS
from schemathesis.generation import HeaderConfig

from rewardsmith.serve.local import LocalServer
from tests.serve.conftest import AUTH

schemathesis.experimental.OPEN_API_3_1.enable()  # FastAPI writes OpenAPI 3.1


@pytest.fixture(scope="session")
def served_schema(math_server: LocalServer):
    document = httpx.get(f"{math_server.url}/openapi.json", headers=AUTH).json()
    return schemathesis.from_dict(document, base_url=math_server.url)


VISIBLE_ASCII = st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1)

schema = schemathesis.from_pytest_fixture(
    "served_schema",
    data_generation_methods=DataGenerationMethod.all(),
    generation_config=GenerationConfig(
        with_security_parameters=False,  # the token is ours; `ignored_auth` checks without it
        headers=HeaderConfig(strategy=VISIBLE_ASCII),
    ),
)


@schema.parametrize()
@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
def test_server_honours_its_openapi_document(case):
    case.headers = {**(case.headers or {}), **AUTH}
    response = case.call(timeout=60)
    case.validate_response(response, checks=ALL_CHECKS, headers=AUTH)  # auth given, not generated
