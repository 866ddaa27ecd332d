"""Reading a JSON request body into a model, with one clear message when it does not fit.

A body not sent as `Content-Type: application/json` gets 415 before it is read (a
browser sends a cross-origin form or text post without asking first, never JSON); bytes
that are not UTF-8 or not JSON get 400; JSON of the wrong shape gets 422 with the
path of the first offending field (`samples[3].completion`), what was expected there
(read from the model's JSON schema) and what came instead. Validation is strict: `"1"`
is not a number and `1` is not a string, exactly as the OpenAPI document says.
"""

from __future__ import annotations

from functools import cache
from typing import Any, TypeVar

from fastapi import Request
from pydantic import BaseModel, ValidationError

from rewardsmith.serve.errors import ApiError

M = TypeVar("M", bound=BaseModel)

_TYPES = {  # JSON schema type: (singular, plural)
    "string": ("a string", "strings"),
    "integer": ("an integer", "integers"),
    "number": ("a number", "numbers"),
    "boolean": ("true or false", "booleans"),
    "null": ("null", "nulls"),
    "object": ("an object", "objects"),
    "array": ("a list", "lists"),
}
_ANY = ("any JSON value", "JSON values")


async def read_json(request: Request, model: type[M]) -> M:
    """The body as `model`, or ApiError(400, 415 or 422) saying what is wrong."""
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type != "application/json":
        got = f"got {media_type}" if media_type else "it has none"
        raise ApiError(415, f"body: the Content-Type must be application/json; {got}")
    raw = await request.body()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ApiError(
            400, f"body: not valid UTF-8 (byte 0x{raw[exc.start]:02x} at offset {exc.start})"
        ) from None
    try:
        return model.model_validate_json(text, strict=True)
    except ValidationError as exc:
        error = max(exc.errors(include_url=False), key=lambda e: len(e["loc"]))
        if error["type"] == "json_invalid":
            raise ApiError(400, f"body: not valid JSON: {error['ctx']['error']}") from None
        raise ApiError(422, explain(error, schema_of(model))) from None


@cache
def schema_of(model: type[BaseModel]) -> dict[str, Any]:
    return model.model_json_schema()


def explain(error: Any, schema: dict[str, Any]) -> str:
    """`<field path>: <what was expected>, got <JSON type>` for one pydantic error."""
    path, node = _walk(error["loc"], schema, schema)
    if error["type"] == "missing":
        return f"{path}: missing; expected {_shape(node, schema)}"
    if error["type"].endswith("_type") or error["type"].startswith("union"):
        return f"{path}: expected {_shape(node, schema)}, got {_json_type(error['input'])}"
    if error["type"] == "value_error" and len(error["loc"]) > 1:
        # a Sample's own validators name their field ("meta.step: ..."): put it under its sample
        sample_path, _ = _walk(error["loc"][:-1], schema, schema)
        return f"{sample_path}.{error['msg'].removeprefix('Value error, ')}"
    return error["msg"] if not error["loc"] else f"{path}: {error['msg']}"


def _walk(
    loc: tuple[str | int, ...], node: dict[str, Any], root: dict[str, Any]
) -> tuple[str, dict[str, Any]]:
    """The printable path of `loc` and its schema node. In a union, pydantic puts the
    member's type into the location (`prompt.list[Message]`); that part is skipped."""
    path = ""
    for part in loc:
        node = _resolve(node, root)
        if isinstance(part, int):
            child = _item(node, part, root)
            step = f"[{part}]"
        else:
            child = _property(node, part, root)
            step = f".{part}" if path else part
        if child is None:
            if "anyOf" in node:
                continue
            break
        path, node = path + step, child
    return path or "body", node


def _resolve(node: dict[str, Any], root: dict[str, Any]) -> dict[str, Any]:
    ref = node.get("$ref")
    return root["$defs"][ref.rsplit("/", 1)[-1]] if ref else node


def _options(node: dict[str, Any], root: dict[str, Any]) -> list[dict[str, Any]]:
    return [_resolve(option, root) for option in node.get("anyOf", [node])]


def _property(node: dict[str, Any], name: str, root: dict[str, Any]) -> dict[str, Any] | None:
    for option in _options(node, root):
        if name in option.get("properties", {}):
            return option["properties"][name]
    return None


def _item(node: dict[str, Any], index: int, root: dict[str, Any]) -> dict[str, Any] | None:
    for option in _options(node, root):
        prefix = option.get("prefixItems", [])
        if index < len(prefix):
            return prefix[index]
        if "items" in option:
            return option["items"]
    return None


def _shape(node: dict[str, Any], root: dict[str, Any], plural: bool = False) -> str:
    words = []
    for option in _options(node, root):
        kind = option.get("type")
        if kind == "array" and "items" in option:
            words.append(
                f"{'lists' if plural else 'a list'} of {_shape(option['items'], root, True)}"
            )
        else:
            words.append(_TYPES.get(kind, _ANY)[plural])
    return " or ".join(dict.fromkeys(words))


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    names = {str: "a string", int: "a number", float: "a number", list: "a list", dict: "an object"}
    return names.get(type(value), type(value).__name__)
