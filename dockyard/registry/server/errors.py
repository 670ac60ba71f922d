"""The distribution spec's error codes, each with its HTTP status and message.

Every handler failure is a :class:`RegistryError`; the application turns it into
``{"errors": [{"code": ..., "message": ..., "detail": ...}]}`` with the status
below. Messages are distribution's (github.com/distribution/distribution
``registry/api/errcode``), so clients that print them show familiar words.
"""

from __future__ import annotations

from typing import Any

# code -> (HTTP status, distribution's message)
CODES: dict[str, tuple[int, str]] = {
    "BLOB_UNKNOWN": (404, "blob unknown to registry"),
    "BLOB_UPLOAD_INVALID": (400, "blob upload invalid"),
    "BLOB_UPLOAD_UNKNOWN": (404, "blob upload unknown to registry"),
    "DIGEST_INVALID": (400, "provided digest did not match uploaded content"),
    "MANIFEST_BLOB_UNKNOWN": (400, "blob unknown to registry"),
    "MANIFEST_INVALID": (400, "manifest invalid"),
    "MANIFEST_UNKNOWN": (404, "manifest unknown"),
    "NAME_INVALID": (400, "invalid repository name"),
    "NAME_UNKNOWN": (404, "repository name not known to registry"),
    "SIZE_INVALID": (400, "provided length did not match content length"),
    "TAG_INVALID": (400, "manifest tag did not match URI"),
    "UNAUTHORIZED": (401, "authentication required"),
    "DENIED": (403, "requested access to the resource is denied"),
    "UNSUPPORTED": (405, "The operation is unsupported."),
    "TOOMANYREQUESTS": (429, "too many requests"),
    "PAGINATION_NUMBER_INVALID": (400, "invalid number of results requested"),
    "UNKNOWN": (500, "unknown error"),
}


class RegistryError(Exception):
    """A failure answered with one of :data:`CODES`."""

    def __init__(
        self,
        code: str,
        detail: Any = None,
        *,
        message: str | None = None,
        status: int | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        default_status, default_message = CODES[code]
        self.code = code
        self.status = status if status is not None else default_status
        self.message = message if message is not None else default_message
        self.detail = detail
        self.headers = headers or {}
        super().__init__(f"{code}: {self.message}")

    def body(self) -> dict[str, Any]:
        return {"errors": [{"code": self.code, "message": self.message, "detail": self.detail}]}
