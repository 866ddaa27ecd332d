"""Optional bearer-token authentication for every endpoint but the health probes."""

from __future__ import annotations

import hmac

from starlette.types import ASGIApp, Receive, Scope, Send

from rewardsmith.serve.errors import ApiError

CHALLENGE = {"WWW-Authenticate": "Bearer"}


class BearerAuthMiddleware:
    """401 unless the request carries `Authorization: Bearer <token>` (or is a probe)."""

    def __init__(self, app: ASGIApp, token: str, open_paths: frozenset[str]) -> None:
        self.app = app
        self.expected = token.encode()
        self.open_paths = open_paths

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] not in self.open_paths:
            problem = self._problem(dict(scope["headers"]).get(b"authorization"))
            if problem is not None:
                await ApiError(401, problem, CHALLENGE).response()(scope, receive, send)
                return
        await self.app(scope, receive, send)

    def _problem(self, header: bytes | None) -> str | None:
        if header is None:
            return "Authorization: missing; expected 'Bearer <token>'"
        scheme, _, given = header.partition(b" ")
        if scheme.lower() != b"bearer" or not given.strip():
            return "Authorization: expected 'Bearer <token>'"
        if not hmac.compare_digest(given.strip(), self.expected):
            return "Authorization: wrong bearer token"
        return None
