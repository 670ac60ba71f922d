"""Access control: htpasswd basic auth and JWT bearer tokens, as distribution's.

``htpasswd``: every request needs a user and password from a bcrypt htpasswd
file (``htpasswd -Bbn``); a user that authenticates may do anything. The file is
re-read when it changes. A verified password is remembered (by its SHA-256) so
that a pull of many layers costs one bcrypt check, not one per request.

``token``: clients get a JWT from the token server named in ``realm`` and send
it as ``Authorization: Bearer``. It must be signed by a certificate in
``rootcertbundle`` (directly, or through an ``x5c`` chain ending at one), name
this registry's ``issuer`` and ``service``, be current, and grant the actions the
request needs in its ``access`` claim. Verification needs the ``cryptography``
package; without it the registry refuses to start with token auth.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import importlib
import itertools
import json
import os
import time
from dataclasses import dataclass
from typing import Any, NamedTuple, Protocol

from aiohttp import web

from dockyard.registry.server.errors import RegistryError


class Access(NamedTuple):
    """One resource and the actions a request needs on it (a token scope)."""

    type: str
    name: str
    actions: tuple[str, ...]

    def scope(self) -> str:
        return f"{self.type}:{self.name}:{','.join(self.actions)}"


class Authenticator(Protocol):
    async def authorize(self, request: web.Request, access: list[Access]) -> None:
        """Return when the request may proceed; raise an UNAUTHORIZED RegistryError."""


def _unauthorized(challenge: str, message: str | None = None, detail: Any = None) -> RegistryError:
    return RegistryError(
        "UNAUTHORIZED", detail, message=message, headers={"WWW-Authenticate": challenge}
    )


# ------------------------------------------------------------------ htpasswd


class HtpasswdAuthenticator:
    def __init__(self, realm: str, path: str) -> None:
        self.realm = realm
        self.path = path
        self._entries: dict[str, bytes] = {}
        self._loaded_stat: tuple[float, int] | None = None
        self._verified: set[tuple[str, bytes, bytes]] = set()
        self._load()

    def _load(self) -> None:
        st = os.stat(self.path)
        stamp = (st.st_mtime, st.st_size)
        if stamp == self._loaded_stat:
            return
        entries: dict[str, bytes] = {}
        with open(self.path, encoding="utf-8") as f:
            for line in f:
                line = line.strip()
                if not line or line.startswith("#"):
                    continue
                user, sep, hashed = line.partition(":")
                if sep and user:
                    entries[user] = hashed.encode()
        self._entries = entries
        self._loaded_stat = stamp
        self._verified.clear()

    async def authorize(self, request: web.Request, access: list[Access]) -> None:
        challenge = f'Basic realm="{self.realm}"'
        credentials = _basic_credentials(request.headers.get("Authorization", ""))
        if credentials is None:
            raise _unauthorized(challenge)
        user, password = credentials
        try:
            self._load()
        except OSError:
            raise _unauthorized(challenge) from None
        hashed = self._entries.get(user)
        if hashed is None or not hashed.startswith((b"$2a$", b"$2b$", b"$2y$")):
            raise _unauthorized(challenge, "invalid username or password")
        key = (user, hashlib.sha256(password.encode()).digest(), hashed)
        if key in self._verified:
            return
        if not await asyncio.to_thread(_bcrypt_matches, password, hashed):
            raise _unauthorized(challenge, "invalid username or password")
        self._verified.add(key)


def _bcrypt_matches(password: str, hashed: bytes) -> bool:
    import bcrypt

    try:
        return bcrypt.checkpw(password.encode(), hashed)
    except ValueError:
        return False


def _basic_credentials(header: str) -> tuple[str, str] | None:
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode()
    except (ValueError, UnicodeDecodeError):
        return None
    user, sep, password = decoded.partition(":")
    return (user, password) if sep else None


# --------------------------------------------------------------------- token


@dataclass
class TokenSettings:
    realm: str
    service: str
    issuer: str
    rootcertbundle: str


_ALGORITHMS = {
    "RS256": "SHA256", "RS384": "SHA384", "RS512": "SHA512",
    "PS256": "SHA256", "PS384": "SHA384", "PS512": "SHA512",
    "ES256": "SHA256", "ES384": "SHA384", "ES512": "SHA512",
}
_LEEWAY = 60.0


class TokenAuthenticator:
    def __init__(self, settings: TokenSettings) -> None:
        try:
            x509 = _module("cryptography.x509")
        except ImportError:
            raise RuntimeError(
                "token authentication needs the Python 'cryptography' package"
            ) from None
        self.settings = settings
        with open(settings.rootcertbundle, "rb") as f:
            self._roots = x509.load_pem_x509_certificates(f.read())
        if not self._roots:
            raise RuntimeError(f"no certificates in {settings.rootcertbundle}")

    def _challenge(self, access: list[Access], error: str | None = None) -> str:
        s = self.settings
        parts = [f'Bearer realm="{s.realm}"', f'service="{s.service}"']
        if access:
            parts.append('scope="' + " ".join(a.scope() for a in access) + '"')
        if error:
            parts.append(f'error="{error}"')
        return ",".join(parts)

    async def authorize(self, request: web.Request, access: list[Access]) -> None:
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise _unauthorized(self._challenge(access))
        try:
            claims = self.verify(token.strip())
        except ValueError as err:
            raise _unauthorized(
                self._challenge(access, "invalid_token"), f"invalid token: {err}"
            ) from None
        granted = _granted(claims)
        for needed in access:
            have = granted.get((needed.type, needed.name), set())
            if "*" not in have and not set(needed.actions) <= have:
                raise _unauthorized(
                    self._challenge(access, "insufficient_scope"),
                    "insufficient scope",
                    [{"Type": a.type, "Name": a.name, "Action": ",".join(a.actions)}
                     for a in access],
                )

    def verify(self, token: str) -> dict[str, Any]:
        """The claims of a valid token; ValueError with the reason otherwise."""
        try:
            header_b64, claims_b64, signature_b64 = token.split(".")
            header = json.loads(_b64url(header_b64))
            claims = json.loads(_b64url(claims_b64))
            signature = _b64url(signature_b64)
        except (ValueError, UnicodeDecodeError):
            raise ValueError("malformed token") from None
        if not isinstance(header, dict) or not isinstance(claims, dict):
            raise ValueError("malformed token")
        algorithm = header.get("alg")
        if algorithm not in _ALGORITHMS:
            raise ValueError(f"unsupported signing algorithm {str(algorithm)[:20]!r}")
        signed = f"{header_b64}.{claims_b64}".encode()
        keys = self._signing_keys(header)
        if not any(_signature_ok(key, algorithm, signed, signature) for key in keys):
            raise ValueError("signature not from a trusted key")
        self._check_claims(claims)
        return claims

    def _signing_keys(self, header: dict[str, Any]) -> list[Any]:
        x509 = _module("cryptography.x509")
        chain = header.get("x5c")
        if not chain:
            return [cert.public_key() for cert in self._roots]
        if not isinstance(chain, list) or not all(isinstance(c, str) for c in chain):
            raise ValueError("malformed x5c")
        try:
            certs = [x509.load_der_x509_certificate(base64.b64decode(c)) for c in chain]
        except ValueError:
            raise ValueError("malformed x5c certificate") from None
        now = time.time()
        for cert in certs:
            if not (
                cert.not_valid_before_utc.timestamp() - _LEEWAY
                <= now
                <= cert.not_valid_after_utc.timestamp() + _LEEWAY
            ):
                raise ValueError("x5c certificate expired or not yet valid")
        # Each certificate must be issued by the next; the last by a trusted root.
        for child, parent in itertools.pairwise(certs):
            if not _issued_by(child, parent):
                raise ValueError("x5c chain is broken")
        last = certs[-1]
        if not any(last == root or _issued_by(last, root) for root in self._roots):
            raise ValueError("x5c chain does not end at a trusted certificate")
        return [certs[0].public_key()]

    def _check_claims(self, claims: dict[str, Any]) -> None:
        s = self.settings
        if claims.get("iss") != s.issuer:
            raise ValueError("token issuer does not match")
        audience = claims.get("aud")
        audiences = audience if isinstance(audience, list) else [audience]
        if s.service not in audiences:
            raise ValueError("token audience does not match")
        now = time.time()
        exp, nbf = claims.get("exp"), claims.get("nbf")
        if not isinstance(exp, int | float) or now > exp + _LEEWAY:
            raise ValueError("token has expired")
        if isinstance(nbf, int | float) and now < nbf - _LEEWAY:
            raise ValueError("token is not yet valid")


def _granted(claims: dict[str, Any]) -> dict[tuple[str, str], set[str]]:
    granted: dict[tuple[str, str], set[str]] = {}
    entries = claims.get("access")
    if not isinstance(entries, list):
        return granted
    for entry in entries:
        if not isinstance(entry, dict):
            continue
        actions = entry.get("actions")
        if isinstance(actions, list):
            key = (str(entry.get("type")), str(entry.get("name")))
            granted.setdefault(key, set()).update(a for a in actions if isinstance(a, str))
    return granted


def _module(name: str) -> Any:
    """Import a ``cryptography`` module (optional: only token auth needs it)."""
    return importlib.import_module(name)


def _b64url(data: str) -> bytes:
    return base64.urlsafe_b64decode(data + "=" * (-len(data) % 4))


def _issued_by(child: Any, parent: Any) -> bool:
    try:
        child.verify_directly_issued_by(parent)
    except (ValueError, TypeError, Exception):  # InvalidSignature is an Exception subclass
        return False
    return True


def _signature_ok(key: Any, algorithm: str, signed: bytes, signature: bytes) -> bool:
    invalid_signature = _module("cryptography.exceptions").InvalidSignature
    hashes = _module("cryptography.hazmat.primitives.hashes")
    ec = _module("cryptography.hazmat.primitives.asymmetric.ec")
    padding = _module("cryptography.hazmat.primitives.asymmetric.padding")
    rsa = _module("cryptography.hazmat.primitives.asymmetric.rsa")
    encode_dss_signature = _module(
        "cryptography.hazmat.primitives.asymmetric.utils"
    ).encode_dss_signature
    hash_algorithm = getattr(hashes, _ALGORITHMS[algorithm])()
    try:
        if algorithm.startswith(("RS", "PS")):
            if not isinstance(key, rsa.RSAPublicKey):
                return False
            pad = (
                padding.PKCS1v15()
                if algorithm.startswith("RS")
                else padding.PSS(
                    mgf=padding.MGF1(hash_algorithm), salt_length=hash_algorithm.digest_size
                )
            )
            key.verify(signature, signed, pad, hash_algorithm)
            return True
        if not isinstance(key, ec.EllipticCurvePublicKey) or len(signature) % 2:
            return False
        half = len(signature) // 2
        der = encode_dss_signature(
            int.from_bytes(signature[:half], "big"), int.from_bytes(signature[half:], "big")
        )
        key.verify(der, signed, ec.ECDSA(hash_algorithm))
        return True
    except invalid_signature:
        return False
