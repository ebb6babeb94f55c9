"""HTTP errors as RFC 9457 problem details (`application/problem+json`), for every HTTP route."""

from typing import Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from .errors import GatewayError

MEDIA_TYPE = "application/problem+json"
TITLES = {
    400: "Bad request",
    401: "Authentication required",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    413: "Content too large",
    414: "URI too long",
    422: "Invalid request",
    431: "Request header fields too large",
    500: "Internal error",
    503: "Service unavailable",
}


class Problem(HTTPException, GatewayError):
    """An HTTP error with a readable detail and optional extra members."""

    def __init__(self, status: int, detail: str, **extra: Any) -> None:
        super().__init__(status_code=status, detail=detail)
        self.extra = extra


def problem(status: int, detail: str, **extra: Any) -> JSONResponse:
    """A problem response."""
    body = {"type": "about:blank", "title": TITLES.get(status, "Error"), "status": status}
    body |= {"detail": detail, **extra}
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse(body, status_code=status, media_type=MEDIA_TYPE, headers=headers)


def install(app: FastAPI) -> None:
    """Answer HTTP errors and invalid requests as problems."""

    @app.exception_handler(HTTPException)
    async def http_error(_request: Request, err: HTTPException) -> JSONResponse:
        return problem(err.status_code, str(err.detail), **getattr(err, "extra", {}))

    @app.exception_handler(RequestValidationError)
    async def invalid(_request: Request, err: RequestValidationError) -> JSONResponse:
        errors = [{"loc": list(e["loc"]), "message": e["msg"]} for e in err.errors()[:20]]
        first = errors[0] if errors else {"loc": [], "message": "invalid request"}
        where = ".".join(str(part) for part in first["loc"])
        return problem(422, f"{where}: {first['message']}", errors=errors)
