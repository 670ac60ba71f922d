"""Content digests: ``<algorithm>:<hex>`` strings, validated as go-digest validates them.

Docker (go-digest v1.0.0) supports ``sha256``, ``sha384`` and ``sha512``; the OCI
image spec registers ``sha256`` and ``sha512`` (and ``blake3``, which Docker does
not support). Anything else that fits the digest grammar is "unsupported digest
algorithm", anything that does not is "invalid checksum digest format" -- the same
words Docker prints.
"""

from __future__ import annotations

import re

from dockyard.errors import InvalidArgument

SHA256 = "sha256"
SHA384 = "sha384"
SHA512 = "sha512"
CANONICAL_ALGORITHM = SHA256

# Hex length of each supported algorithm's encoded part.
_HEX_LENGTH = {SHA256: 64, SHA384: 96, SHA512: 128}

# go-digest DigestRegexpAnchored (the OCI descriptor grammar).
_GRAMMAR = re.compile(r"[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]+")
_LOWER_HEX = re.compile(r"[a-f0-9]+")

ERR_INVALID_FORMAT = "invalid checksum digest format"
ERR_INVALID_LENGTH = "invalid checksum digest length"
ERR_UNSUPPORTED = "unsupported digest algorithm"


TYPE_CHECKING = False  # typing costs every command ~2 ms to import
if TYPE_CHECKING:
    from typing import NamedTuple, Protocol

    class _DigestFields(NamedTuple):
        algorithm: str
        hex: str
else:
    from collections import namedtuple

    Protocol = object
    _DigestFields = namedtuple("_DigestFields", "algorithm hex")


class Hasher(Protocol):
    """The part of a :mod:`hashlib` object used to digest a stream."""

    def update(self, data: bytes, /) -> None: ...

    def hexdigest(self) -> str: ...


class Digest(_DigestFields):
    """A validated digest; ``str(d)`` is the ``algorithm:hex`` form.

    A NamedTuple rather than a dataclass: it is defined on every command's
    start-up path, and a dataclass costs an ``exec`` at import.
    """

    __slots__ = ()

    @classmethod
    def parse(cls, s: str) -> Digest:
        return parse_digest(s)

    @classmethod
    def of(cls, data: bytes, algorithm: str = CANONICAL_ALGORITHM) -> Digest:
        return cls(algorithm, _new_hash(algorithm, data).hexdigest())

    @property
    def short_id(self) -> str:
        return self.hex[:12]

    def __str__(self) -> str:
        return f"{self.algorithm}:{self.hex}"


def _validation_error(s: str) -> str | None:
    """Return the go-digest error message for ``s``, or None when it is valid."""
    algorithm, sep, encoded = s.partition(":")
    if not sep or not encoded:
        return ERR_INVALID_FORMAT
    expected_len = _HEX_LENGTH.get(algorithm)
    if expected_len is None:
        return ERR_UNSUPPORTED if _GRAMMAR.fullmatch(s) else ERR_INVALID_FORMAT
    if len(encoded) != expected_len:
        return ERR_INVALID_LENGTH
    if not _LOWER_HEX.fullmatch(encoded):
        return ERR_INVALID_FORMAT
    return None


def parse_digest(s: str) -> Digest:
    """Parse and validate ``s``; raise InvalidArgument with Docker's wording."""
    err = _validation_error(s)
    if err is not None:
        raise InvalidArgument(err)
    algorithm, _, encoded = s.partition(":")
    return Digest(algorithm, encoded)


def validate_digest(s: str) -> str:
    """Return ``s`` unchanged if it is a valid, supported digest; raise otherwise."""
    parse_digest(s)
    return s


def is_digest(s: str) -> bool:
    """True if ``s`` is a valid digest with a supported algorithm."""
    return _validation_error(s) is None


def matches_digest_grammar(s: str) -> bool:
    """True if ``s`` fits the OCI digest grammar, whatever its algorithm."""
    return _GRAMMAR.fullmatch(s) is not None


def is_supported_algorithm(algorithm: str) -> bool:
    return algorithm in _HEX_LENGTH


def _new_hash(algorithm: str, data: bytes = b"") -> Hasher:
    if algorithm not in _HEX_LENGTH:
        raise InvalidArgument(ERR_UNSUPPORTED)
    import hashlib  # lazily: loading OpenSSL costs every command 2 ms

    return hashlib.new(algorithm, data)


def new_hasher(algorithm: str = CANONICAL_ALGORITHM) -> Hasher:
    """A fresh hash object for streaming content through ``algorithm``."""
    return _new_hash(algorithm)


def digest_bytes(data: bytes, algorithm: str = CANONICAL_ALGORITHM) -> str:
    return f"{algorithm}:{_new_hash(algorithm, data).hexdigest()}"


def sha256_digest(data: bytes) -> str:
    """``sha256:<hex>`` of ``data``."""
    import hashlib

    return "sha256:" + hashlib.sha256(data).hexdigest()


def hex_of(digest: str) -> str:
    """The encoded part of a valid digest (``sha256:abc…`` -> ``abc…``)."""
    return parse_digest(digest).hex


def algorithm_of(digest: str) -> str:
    return parse_digest(digest).algorithm


def short_id(digest_or_id: str) -> str:
    """First 12 characters after any ``algo:`` prefix, as Docker's TruncateID does."""
    _, sep, rest = digest_or_id.partition(":")
    return (rest if sep else digest_or_id)[:12]


def verify(data: bytes, expected: str) -> bool:
    """True if ``data`` hashes to the (valid) digest ``expected``."""
    d = parse_digest(expected)
    return _new_hash(d.algorithm, data).hexdigest() == d.hex
