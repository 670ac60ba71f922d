"""Errors a registry answers with, worded as Docker's engine words them."""

from __future__ import annotations

import json

import httpx

from dockyard.errors import DockyardError

TRANSIENT_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})


class RegistryError(DockyardError):
    """A registry's error response: its status and ``errors`` codes."""

    def __init__(self, message: str, status: int, codes: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.status = status
        self.codes = codes
        if status == 404:
            self.http_status = 404
        elif status in (401, 403):
            self.http_status = 401

    @property
    def transient(self) -> bool:
        return self.status in TRANSIENT_STATUSES

    @property
    def access_denied(self) -> bool:
        return self.status in (401, 403) or bool(
            {"UNAUTHORIZED", "DENIED", "NAME_UNKNOWN"} & set(self.codes)
        )


class TransientError(DockyardError):
    """A failure worth retrying: a dropped connection, a stall, a short or bad blob."""


def _describe(code: str, message: str) -> str:
    """errcode.Error.Error(): ``manifest unknown: manifest unknown``."""
    words = code.replace("_", " ").lower()
    return f"{words}: {message}" if message else words


def registry_error(resp: httpx.Response, method: str) -> RegistryError:
    """Read an error response (the body must be loaded) into a RegistryError."""
    codes: list[str] = []
    parts: list[str] = []
    try:
        doc = json.loads(resp.content) if resp.content else None
    except (ValueError, httpx.ResponseNotRead):
        doc = None
    if isinstance(doc, dict) and isinstance(doc.get("errors"), list):
        for item in doc["errors"]:
            if isinstance(item, dict):
                code = str(item.get("code") or "UNKNOWN")
                codes.append(code)
                parts.append(_describe(code, str(item.get("message") or "")))
    if len(parts) == 1:
        text = parts[0]
    elif parts:
        text = "errors:\n" + "\n".join(parts) + "\n"
    elif resp.status_code == 401:
        text = "unauthorized: authentication required"
        codes.append("UNAUTHORIZED")
    elif resp.status_code == 429:
        text = "toomanyrequests: too many requests"
        codes.append("TOOMANYREQUESTS")
    else:
        text = f"received unexpected HTTP status: {resp.status_code} {resp.reason_phrase}"
    return RegistryError(text, resp.status_code, tuple(codes))


def transport_error(exc: Exception, method: str, url: str) -> TransientError:
    """Go's ``Get "url": <reason>`` for a failed round trip."""
    reason = str(exc) or type(exc).__name__
    if isinstance(exc, httpx.TimeoutException):
        reason = "net/http: timeout awaiting response data (the registry stalled)"
    elif isinstance(exc, httpx.RemoteProtocolError):
        reason = "unexpected EOF"
    elif isinstance(exc, httpx.ConnectError) and "CERTIFICATE_VERIFY_FAILED" in reason:
        reason = f"tls: failed to verify certificate: {_x509_reason(reason)}"
    elif isinstance(exc, httpx.ConnectError):
        reason = f"dial tcp: {reason}"
    return TransientError(f'{method.capitalize()} "{url}": {reason}')


def _x509_reason(openssl: str) -> str:
    """Go's crypto/x509 wording for OpenSSL's verification failures."""
    text = openssl.lower()
    if "mismatch" in text:
        return "x509: certificate is not valid for this host"
    if "expired" in text or "not yet valid" in text:
        return "x509: certificate has expired or is not yet valid"
    return "x509: certificate signed by unknown authority"
