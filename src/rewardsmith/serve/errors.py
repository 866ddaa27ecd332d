"""Error answers: every 4xx and 5xx is JSON `{"error": "<one clear message>"}`.

`ApiError` is raised by handlers and middlewares; `install` makes FastAPI answer it, its
own 404 and 405, and crashes in that shape; `documented` lists the error answers an
endpoint can give, for the OpenAPI document.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse

from rewardsmith.serve.models import ErrorBody

MEANINGS = {
    400: "The body is not valid UTF-8 JSON.",
    401: "Missing or wrong `Authorization: Bearer <token>` header.",
    408: "The body did not arrive within the request deadline.",
    413: "The body is larger than the server's limit.",
    415: "The body is not sent as `Content-Type: application/json`.",
    422: "The JSON does not have the expected shape (the message names the field).",
    429: "Too many requests queued in this worker; retry after `Retry-After` seconds.",
    503: "The reward is not loaded: still loading, or it failed to (the message says).",
    504: "Scoring did not finish within the request deadline.",
}


class ApiError(Exception):
    """An answer other than 2xx, with its message and extra headers."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or {}

    def response(self) -> JSONResponse:
        return error_response(self.status, self.message, self.headers)


def error_response(
    status: int, message: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status, headers=headers)


def documented(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` entries for these error statuses."""
    out: dict[int | str, dict[str, Any]] = {}
    for status in statuses:
        entry: dict[str, Any] = {"model": ErrorBody, "description": MEANINGS[status]}
        if status == 429:
            entry["headers"] = {
                "Retry-After": {
                    "description": "seconds to wait before retrying",
                    "schema": {"type": "integer"},
                }
            }
        if status == 401:
            entry["headers"] = {
                "WWW-Authenticate": {"description": "`Bearer`", "schema": {"type": "string"}}
            }
        out[status] = entry
    return out


def install(app: FastAPI) -> None:
    """Answer ApiError, HTTP errors (404, 405) and crashes as `{"error": ...}`."""

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> JSONResponse:
        return exc.response()

    @app.exception_handler(HTTPException)
    async def _http_error(request: Request, exc: HTTPException) -> JSONResponse:
        messages = {
            404: f"no endpoint at {request.url.path}",
            405: f"{request.url.path} does not accept {request.method}",
        }
        message = messages.get(exc.status_code, str(exc.detail))
        return error_response(exc.status_code, message, dict(exc.headers or {}))

    @app.exception_handler(Exception)
    async def _crash(request: Request, exc: Exception) -> JSONResponse:
        # uvicorn logs the traceback: Starlette re-raises after this answer is sent
        return error_response(500, f"internal error: {type(exc).__name__}")
