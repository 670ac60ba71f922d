"""Repository names, tags and references as the distribution spec defines them."""

from __future__ import annotations

import re

from dockyard.oci.digest import is_digest, matches_digest_grammar
from dockyard.oci.reference import _REMOTE_NAME, REPOSITORY_NAME_TOTAL_LENGTH_MAX, is_valid_tag
from dockyard.registry.server.errors import RegistryError

# The spec's <name> regex is distribution/reference's remote-name grammar.
_NAME = re.compile(_REMOTE_NAME)


def check_name(name: str) -> str:
    """``name`` unchanged, or NAME_INVALID."""
    if len(name) > REPOSITORY_NAME_TOTAL_LENGTH_MAX:
        raise RegistryError(
            "NAME_INVALID",
            {"name": name[:300]},
            message=f"repository name must not be more than "
            f"{REPOSITORY_NAME_TOTAL_LENGTH_MAX} characters",
        )
    if not _NAME.fullmatch(name):
        raise RegistryError("NAME_INVALID", {"name": name[:300]})
    return name


def is_valid_name(name: str) -> bool:
    return len(name) <= REPOSITORY_NAME_TOTAL_LENGTH_MAX and _NAME.fullmatch(name) is not None


def check_digest(value: str) -> str:
    """A valid digest with a supported algorithm, or DIGEST_INVALID (400)."""
    if not is_digest(value):
        raise RegistryError(
            "DIGEST_INVALID", {"digest": value[:200]}, message="invalid digest format"
            if not matches_digest_grammar(value)
            else "unsupported digest algorithm or invalid digest"
        )
    return value


def looks_like_digest(reference: str) -> bool:
    """A manifest reference is a digest when it has the digest's ``:`` (tags cannot)."""
    return ":" in reference


def check_tag(tag: str) -> str:
    if not is_valid_tag(tag):
        raise RegistryError("TAG_INVALID", {"tag": tag[:200]}, message="invalid tag")
    return tag


def is_tag(tag: str) -> bool:
    return is_valid_tag(tag)
