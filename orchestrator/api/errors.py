"""The API's error tree, shared by the server (renders) and the client (maps back).

    APIError                      code  reason
    ├── BadRequest                400   BadRequest
    ├── Unauthorized              401   Unauthorized
    ├── Forbidden                 403   Forbidden
    ├── NotFound                  404   NotFound
    ├── MethodNotAllowed          405   MethodNotAllowed
    ├── AlreadyExists             409   AlreadyExists
    ├── Conflict                  409   Conflict
    ├── Gone                      410   Expired   ("too old resource version")
    ├── RequestEntityTooLarge     413   RequestEntityTooLarge
    ├── UnsupportedMediaType      415   UnsupportedMediaType
    ├── Invalid                   422   Invalid   (details.causes lists every bad field)
    ├── TooManyRequests           429   TooManyRequests
    ├── InternalError             500   InternalError
    ├── ServiceUnavailable        503   ServiceUnavailable
    └── Timeout                   504   Timeout   ("Too large resource version")

Each renders once as a Kubernetes ``Status`` object (``to_status``);
``from_status`` turns a Status received over HTTP back into the same class.
"""

from __future__ import annotations

from typing import Any, ClassVar


class APIError(Exception):
    code: ClassVar[int] = 500
    reason: ClassVar[str] = "InternalError"

    def __init__(
        self,
        message: str,
        *,
        details: dict[str, Any] | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or {}
        self.metadata = metadata or {}  # a ListMeta: an expired list's fresh ``continue``

    def to_status(self) -> dict[str, Any]:
        status: dict[str, Any] = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": dict(self.metadata),
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        }
        if self.details:
            status["details"] = self.details
        return status


class BadRequest(APIError):
    code, reason = 400, "BadRequest"


class Unauthorized(APIError):
    code, reason = 401, "Unauthorized"


class Forbidden(APIError):
    code, reason = 403, "Forbidden"


class NotFound(APIError):
    code, reason = 404, "NotFound"


class MethodNotAllowed(APIError):
    code, reason = 405, "MethodNotAllowed"


class AlreadyExists(APIError):
    code, reason = 409, "AlreadyExists"


class Conflict(APIError):
    code, reason = 409, "Conflict"


class Gone(APIError):
    code, reason = 410, "Expired"


class RequestEntityTooLarge(APIError):
    code, reason = 413, "RequestEntityTooLarge"


class UnsupportedMediaType(APIError):
    code, reason = 415, "UnsupportedMediaType"


class Invalid(APIError):
    code, reason = 422, "Invalid"


class TooManyRequests(APIError):
    code, reason = 429, "TooManyRequests"


class InternalError(APIError):
    code, reason = 500, "InternalError"


class ServiceUnavailable(APIError):
    code, reason = 503, "ServiceUnavailable"


class Timeout(APIError):
    code, reason = 504, "Timeout"


_BY_REASON: dict[str, type[APIError]] = {
    cls.reason: cls
    for cls in (
        BadRequest,
        Unauthorized,
        Forbidden,
        NotFound,
        MethodNotAllowed,
        AlreadyExists,
        Conflict,
        Gone,
        RequestEntityTooLarge,
        UnsupportedMediaType,
        Invalid,
        TooManyRequests,
        InternalError,
        ServiceUnavailable,
        Timeout,
    )
}
_BY_CODE: dict[int, type[APIError]] = {
    400: BadRequest,
    401: Unauthorized,
    403: Forbidden,
    404: NotFound,
    405: MethodNotAllowed,
    409: Conflict,
    410: Gone,
    413: RequestEntityTooLarge,
    415: UnsupportedMediaType,
    422: Invalid,
    429: TooManyRequests,
    503: ServiceUnavailable,
    504: Timeout,
}


def from_status(status: dict[str, Any], http_code: int) -> APIError:
    """The APIError a Status (or any error body) received over HTTP stands for."""
    reason = str(status.get("reason") or "")
    code = int(status.get("code") or http_code)
    cls = _BY_REASON.get(reason) or _BY_CODE.get(code) or InternalError
    message = str(status.get("message") or f"HTTP {code}")
    return cls(message, details=status.get("details") or None)
