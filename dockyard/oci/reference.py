"""Docker image references, parsed and normalised as github.com/distribution/reference does.

``busybox`` is ``docker.io/library/busybox``; ``busybox`` with the default tag is
``docker.io/library/busybox:latest``. Error messages are upstream's, word for word;
callers add their own prefix (``Error parsing reference: "x" is not a valid
repository/tag: <message>``).

Grammar (upstream's reference.go)::

    reference   := name [ ":" tag ] [ "@" digest ]
    name        := [domain '/'] remote-name
    domain      := host [':' port-number]
    remote-name := path-component ['/' path-component]*
    tag         := /[\\w][\\w.-]{0,127}/
"""

from __future__ import annotations

import re

from dockyard.errors import InvalidArgument
from dockyard.oci.digest import parse_digest

DEFAULT_DOMAIN = "docker.io"
LEGACY_DEFAULT_DOMAIN = "index.docker.io"
OFFICIAL_REPO_PREFIX = "library/"
DEFAULT_TAG = "latest"
REPOSITORY_NAME_TOTAL_LENGTH_MAX = 255

ERR_REFERENCE_INVALID_FORMAT = "invalid reference format"
ERR_TAG_INVALID_FORMAT = "invalid tag format"
ERR_DIGEST_INVALID_FORMAT = "invalid digest format"
ERR_NAME_CONTAINS_UPPERCASE = "repository name must be lowercase"
ERR_NAME_EMPTY = "repository name must have at least one component"
ERR_NAME_TOO_LONG = (
    f"repository name must not be more than {REPOSITORY_NAME_TOTAL_LENGTH_MAX} characters"
)
ERR_NAME_NOT_CANONICAL = "repository name must be canonical"

# --- regular expressions, assembled exactly as upstream's regexp.go -------------
# Go's \w and [[:xdigit:]] are ASCII-only; spelled out here so Python's Unicode
# classes cannot widen them. Patterns are matched with fullmatch (Go's ^...$).
_ALPHANUMERIC = r"[a-z0-9]+"
_SEPARATOR = r"(?:[._]|__|[-]+)"
_DOMAIN_NAME_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_OPTIONAL_PORT = r"(?::[0-9]+)?"
_TAG = r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}"
_DIGEST = r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*[:][0-9A-Fa-f]{32,}"
_IDENTIFIER = r"[a-f0-9]{64}"
_IPV6_ADDRESS = r"\[(?:[a-fA-F0-9:]+)\]"
_DOMAIN_NAME = _DOMAIN_NAME_COMPONENT + r"(?:\." + _DOMAIN_NAME_COMPONENT + r")*"
_HOST = r"(?:" + _DOMAIN_NAME + r"|" + _IPV6_ADDRESS + r")"
_DOMAIN_AND_PORT = _HOST + _OPTIONAL_PORT
_PATH_COMPONENT = _ALPHANUMERIC + r"(?:" + _SEPARATOR + _ALPHANUMERIC + r")*"
_REMOTE_NAME = _PATH_COMPONENT + r"(?:/" + _PATH_COMPONENT + r")*"
_NAME = r"(?:" + _DOMAIN_AND_PORT + r"/)?" + _REMOTE_NAME


class _Patterns:
    """The grammar's compiled expressions, built on first use: compiling them costs
    every command about a millisecond, and most commands never parse a reference."""

    def __init__(self) -> None:
        self.reference = re.compile(
            r"(" + _NAME + r")(?::(" + _TAG + r"))?(?:@(" + _DIGEST + r"))?"
        )
        self.anchored_name = re.compile(r"(?:(" + _DOMAIN_AND_PORT + r")/)?(" + _REMOTE_NAME + r")")
        self.tag = re.compile(_TAG)
        self.digest = re.compile(_DIGEST)
        self.domain = re.compile(_DOMAIN_AND_PORT)
        self.identifier = re.compile(_IDENTIFIER)
        self.short_id = re.compile(r"(?:sha256:)?[a-f0-9]{1,64}")


_compiled: list[_Patterns] = []


def _p() -> _Patterns:
    if not _compiled:
        _compiled.append(_Patterns())
    return _compiled[0]


TYPE_CHECKING = False  # typing costs every command ~2 ms to import
if TYPE_CHECKING:
    from typing import NamedTuple

    class _ReferenceFields(NamedTuple):
        domain: str
        path: str
        tag: str | None = None
        digest: str | None = None
else:
    from collections import namedtuple

    _ReferenceFields = namedtuple(
        "_ReferenceFields", "domain path tag digest", defaults=(None, None)
    )


class Reference(_ReferenceFields):
    """A parsed image reference. ``domain`` is empty only for un-normalised names.

    A NamedTuple rather than a dataclass: it is defined on every command's
    start-up path, and a dataclass costs an ``exec`` at import.
    """

    __slots__ = ()

    @property
    def name(self) -> str:
        """Full repository name: ``docker.io/library/busybox``."""
        return f"{self.domain}/{self.path}" if self.domain else self.path

    @property
    def familiar_name(self) -> str:
        """Repository name as Docker shows it: ``busybox``, ``user/app``, ``host:5000/x``."""
        domain, path = _familiarize(self.domain, self.path)
        return f"{domain}/{path}" if domain else path

    @property
    def is_name_only(self) -> bool:
        return self.tag is None and self.digest is None

    def _suffix(self) -> str:
        s = f":{self.tag}" if self.tag is not None else ""
        return s + (f"@{self.digest}" if self.digest is not None else "")

    def __str__(self) -> str:
        return self.name + self._suffix()

    def familiar(self) -> str:
        """The reference as Docker prints it (``busybox:latest``, ``localhost:5000/x:1``)."""
        return self.familiar_name + self._suffix()

    def with_tag(self, tag: str) -> Reference:
        """Set the tag (upstream WithTag; a digest, if any, is kept)."""
        if not _p().tag.fullmatch(tag):
            raise InvalidArgument(ERR_TAG_INVALID_FORMAT)
        return self._replace(tag=tag)

    def with_digest(self, digest: str) -> Reference:
        """Set the digest (upstream WithDigest; a tag, if any, is kept)."""
        if not _p().digest.fullmatch(digest):
            raise InvalidArgument(ERR_DIGEST_INVALID_FORMAT)
        return self._replace(digest=digest)

    def with_default_tag(self) -> Reference:
        """Upstream TagNameOnly: add ``latest`` when there is neither tag nor digest."""
        return self._replace(tag=DEFAULT_TAG) if self.is_name_only else self

    def trimmed(self) -> Reference:
        """Upstream TrimNamed: the repository alone, without tag or digest."""
        return Reference(self.domain, self.path)

    def docker_ref(self) -> Reference:
        """Upstream ParseDockerRef's rule: digest wins over tag; a bare name gets ``latest``."""
        if self.tag is not None and self.digest is not None:
            return self._replace(tag=None)
        return self.with_default_tag()


def _familiarize(domain: str, path: str) -> tuple[str, str]:
    if domain != DEFAULT_DOMAIN:
        return domain, path
    if path.startswith(OFFICIAL_REPO_PREFIX):
        rest = path[len(OFFICIAL_REPO_PREFIX) :]
        if "/" not in rest:
            return "", rest
    return "", path


def split_canonical(full: str) -> tuple[str, str | None, str | None]:
    """(familiar repository, tag, digest) of a reference the store wrote in full form.

    No validation and no regex: the store only holds references that were parsed
    on the way in, and listing hundreds of them must stay cheap.
    """
    name, at, digest = full.partition("@")
    slash = name.rfind("/")
    colon = name.rfind(":")
    tag = None
    if colon > slash:
        name, tag = name[:colon], name[colon + 1 :]
    domain, _, path = name.partition("/")
    domain, path = _familiarize(domain, path)
    return (f"{domain}/{path}" if domain else path), tag, (digest if at else None)


def split_docker_domain(name: str) -> tuple[str, str]:
    """Split a familiar name into (domain, remote-name), defaulting to Docker Hub.

    The first component is a domain if it is ``localhost``, contains ``.`` or
    ``:``, or has uppercase letters (repository paths cannot).
    """
    maybe_domain, sep, maybe_remote = name.partition("/")
    if not sep:
        return DEFAULT_DOMAIN, OFFICIAL_REPO_PREFIX + name
    if maybe_domain == "localhost":
        domain, remote = maybe_domain, maybe_remote
    elif maybe_domain == LEGACY_DEFAULT_DOMAIN:
        domain, remote = DEFAULT_DOMAIN, maybe_remote
    elif "." in maybe_domain or ":" in maybe_domain or maybe_domain.lower() != maybe_domain:
        domain, remote = maybe_domain, maybe_remote
    else:
        domain, remote = DEFAULT_DOMAIN, name
    if domain == DEFAULT_DOMAIN and "/" not in remote:
        remote = OFFICIAL_REPO_PREFIX + remote
    return domain, remote


def parse(s: str) -> Reference:
    """Upstream Parse: the grammar only, no normalisation (``domain`` may be empty)."""
    if s == "":
        raise InvalidArgument(ERR_NAME_EMPTY)
    m = _p().reference.fullmatch(s)
    if m is None:
        lowered = s.lower()
        if lowered != s and _p().reference.fullmatch(lowered):
            raise InvalidArgument(ERR_NAME_CONTAINS_UPPERCASE)
        raise InvalidArgument(ERR_REFERENCE_INVALID_FORMAT)
    name, tag, digest = m.group(1), m.group(2), m.group(3)
    nm = _p().anchored_name.fullmatch(name)
    domain, path = (nm.group(1) or "", nm.group(2)) if nm else ("", name)
    if len(path) > REPOSITORY_NAME_TOTAL_LENGTH_MAX:
        raise InvalidArgument(ERR_NAME_TOO_LONG)
    if digest is not None:
        parse_digest(digest)  # raises with go-digest's wording
    return Reference(domain, path, tag, digest)


def parse_normalized_named(s: str) -> Reference:
    """Upstream ParseNormalizedNamed: ``ubuntu`` -> ``docker.io/library/ubuntu``.

    No default tag is added; see :func:`parse_docker_ref` or
    :meth:`Reference.with_default_tag`.
    """
    if _p().identifier.fullmatch(s):
        raise InvalidArgument(
            f"invalid repository name ({s}), cannot specify 64-byte hexadecimal strings"
        )
    domain, remainder = split_docker_domain(s)
    remote = remainder.partition(":")[0]
    if remote.lower() != remote:
        raise InvalidArgument(
            f"{ERR_REFERENCE_INVALID_FORMAT}: repository name ({remote}) must be lowercase"
        )
    return parse(domain + "/" + remainder)


parse_reference = parse_normalized_named
"""The parser callers want for user input: Docker's normalisation, no default tag."""


def parse_docker_ref(s: str) -> Reference:
    """Upstream ParseDockerRef: normalised, tag-or-digest (digest wins), default ``latest``."""
    return parse_normalized_named(s).docker_ref()


def parse_named(s: str) -> Reference:
    """Upstream ParseNamed: like parse_normalized_named but ``s`` must already be canonical."""
    ref = parse_normalized_named(s)
    if str(ref) != s:
        raise InvalidArgument(ERR_NAME_NOT_CANONICAL)
    return ref


def parse_any_reference(s: str) -> Reference | str:
    """Upstream ParseAnyReference: a 64-hex ID or a digest gives the digest string."""
    if _p().identifier.fullmatch(s):
        return "sha256:" + s
    try:
        parse_digest(s)
    except InvalidArgument:
        return parse_normalized_named(s)
    return s


def with_name(name: str) -> Reference:
    """Upstream WithName: a repository name (no tag/digest), not normalised."""
    m = _p().anchored_name.fullmatch(name)
    if m is None:
        raise InvalidArgument(ERR_REFERENCE_INVALID_FORMAT)
    if len(m.group(2)) > REPOSITORY_NAME_TOTAL_LENGTH_MAX:
        raise InvalidArgument(ERR_NAME_TOO_LONG)
    return Reference(m.group(1) or "", m.group(2))


def familiar_name(ref: Reference) -> str:
    return ref.familiar_name


def familiar_string(ref: Reference) -> str:
    return ref.familiar()


def tag_name_only(ref: Reference) -> Reference:
    return ref.with_default_tag()


def is_valid_tag(tag: str) -> bool:
    return _p().tag.fullmatch(tag) is not None


def is_full_hex_id(s: str) -> bool:
    """True for a bare 64-hex image/container ID (upstream's "identifier")."""
    return _p().identifier.fullmatch(s) is not None


def looks_like_id_prefix(s: str) -> bool:
    """True if ``s`` could name an image by ID: 1-64 lowercase hex, maybe ``sha256:``-prefixed."""
    return _p().short_id.fullmatch(s) is not None


def id_prefix_hex(s: str) -> str | None:
    """The hex part of an ID or ID prefix (``sha256:`` stripped), or None if ``s`` is not one."""
    if not looks_like_id_prefix(s):
        return None
    return s.removeprefix("sha256:")
