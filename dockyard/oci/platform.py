"""Platforms (os/architecture/variant): parsing, normalisation and matching.

Follows containerd's ``platforms`` package: ``x86_64`` is ``amd64``, ``aarch64`` is
``arm64``, ``armhf`` is ``arm/v7``; ``arm64`` with no variant means ``v8``; a wanted
platform also accepts the ones its CPU can run (amd64 runs 386, arm64 runs arm/v8…v5,
arm/v7 runs v6 and v5), the exact one ranked first.

The only non-pure function is :func:`host_platform`, which asks
:func:`platform.machine` (imported lazily: most commands never need it).
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from functools import cache
from typing import Any, TypeVar

from dockyard.errors import Corrupt, InvalidArgument

T = TypeVar("T")

# GOOS and GOARCH values Go knows (containerd's isKnownOS / isKnownArch).
_KNOWN_OS = frozenset(
    {
        "aix", "android", "darwin", "dragonfly", "freebsd", "hurd", "illumos", "ios", "js",
        "linux", "nacl", "netbsd", "openbsd", "plan9", "solaris", "windows", "zos",
    }
)  # fmt: skip
_KNOWN_ARCH = frozenset(
    {
        "386", "amd64", "amd64p32", "arm", "armbe", "arm64", "arm64be", "ppc64", "ppc64le",
        "loong64", "mips", "mipsle", "mips64", "mips64le", "mips64p32", "mips64p32le", "ppc",
        "riscv", "riscv64", "s390", "s390x", "sparc", "sparc64", "wasm",
    }
)  # fmt: skip
_SPECIFIER_RE = re.compile(r"[A-Za-z0-9_.-]+")
_OS_RE = re.compile(r"([A-Za-z0-9_-]+)(?:\(([A-Za-z0-9_.%-]*)((?:\+[A-Za-z0-9_.%-]+)*)\))?")
_OS_RE_TEXT = "^" + _OS_RE.pattern + "$"
_SPECIFIER_RE_TEXT = "^" + _SPECIFIER_RE.pattern + "$"

# arm64 variant -> (majors, highest minor per major) it can run, from containerd's compare.go.
_ARM64_VERSIONS: dict[str, tuple[tuple[int, int], ...]] = {
    **{f"v8.{m}": ((8, m),) for m in range(10)},
    "v8": ((8, 0),),
    "v9": ((9, 0), (8, 5)),
    **{f"v9.{m}": ((9, m), (8, min(m + 5, 9))) for m in range(8)},
}


@dataclass(frozen=True, slots=True)
class Platform:
    """An OCI platform. Empty strings mean "not given", as in Go."""

    os: str
    architecture: str
    variant: str = ""
    os_version: str = ""
    os_features: tuple[str, ...] = ()

    def __str__(self) -> str:
        return format_platform(self)

    def normalized(self) -> Platform:
        return normalize(self)

    def to_dict(self) -> dict[str, Any]:
        """JSON form, keys in the order of the Go ``ocispec.Platform`` struct."""
        d: dict[str, Any] = {"architecture": self.architecture, "os": self.os}
        if self.os_version:
            d["os.version"] = self.os_version
        if self.os_features:
            d["os.features"] = list(self.os_features)
        if self.variant:
            d["variant"] = self.variant
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Platform:
        """Read a descriptor's ``platform`` object; Corrupt on wrong types."""
        if not isinstance(d, Mapping):
            raise Corrupt("invalid platform: expected an object")
        values: dict[str, str] = {}
        for key in ("os", "architecture", "variant", "os.version"):
            v = d.get(key)
            if v is None:
                v = ""
            if not isinstance(v, str):
                raise Corrupt(f"invalid platform: {key!r} must be a string")
            values[key] = v
        features = d.get("os.features") or []
        if not isinstance(features, list) or not all(isinstance(f, str) for f in features):
            raise Corrupt("invalid platform: 'os.features' must be a list of strings")
        return cls(
            values["os"],
            values["architecture"],
            values["variant"],
            values["os.version"],
            tuple(features),
        )


def _go_quote(s: str) -> str:
    return json.dumps(s, ensure_ascii=False)


def _invalid(msg: str) -> InvalidArgument:
    # containerd wraps errdefs.ErrInvalidArgument, which Docker prints as a suffix.
    return InvalidArgument(f"{msg}: invalid argument")


def normalize_os(os: str) -> str:
    if os == "":
        return _host_os()
    os = os.lower()
    return "darwin" if os == "macos" else os


def normalize_arch(arch: str, variant: str) -> tuple[str, str]:
    """containerd's normalizeArch: canonical (architecture, variant)."""
    arch, variant = arch.lower(), variant.lower()
    if arch == "i386":
        return "386", ""
    if arch in ("x86_64", "x86-64", "amd64"):
        return "amd64", "" if variant == "v1" else variant
    if arch in ("aarch64", "arm64"):
        if variant in ("8", "v8", "v8.0"):
            variant = ""
        elif variant in ("9", "9.0", "v9.0"):
            variant = "v9"
        return "arm64", variant
    if arch == "armhf":
        return "arm", "v7"
    if arch == "armel":
        return "arm", "v6"
    if arch == "arm":
        if variant in ("", "7"):
            variant = "v7"
        elif variant in ("5", "6", "8"):
            variant = "v" + variant
        return "arm", variant
    return arch, variant


def normalize(p: Platform) -> Platform:
    arch, variant = normalize_arch(p.architecture, p.variant)
    return Platform(
        normalize_os(p.os), arch, variant, p.os_version, tuple(sorted(set(p.os_features)))
    )


def format_platform(p: Platform) -> str:
    """``os/arch[/variant]`` as containerd's Format (``unknown`` without an OS)."""
    if not p.os:
        return "unknown"
    return "/".join(part for part in (p.os, p.architecture, p.variant) if part)


def _decode_os_option(v: str) -> str:
    if "%" not in v:
        return v
    from urllib.parse import unquote  # only for the rare escaped form

    return unquote(v)


def parse_platform(specifier: str) -> Platform:
    """Parse ``os[(version[+feature…])][/arch[/variant]]`` or a bare arch, as containerd does.

    A bare OS takes the host's architecture; a bare architecture the host's OS.
    """
    if "*" in specifier:
        raise _invalid(f"{_go_quote(specifier)}: wildcards not yet supported")
    parts = specifier.split("/", 3)
    m = _OS_RE.fullmatch(parts[0])
    if m is None:
        raise _invalid(
            f"{_go_quote(parts[0])} is an invalid OS component of {_go_quote(specifier)}: "
            f"OSAndVersion specifier component must match {_go_quote(_OS_RE_TEXT)}"
        )
    for part in parts[1:]:
        if not _SPECIFIER_RE.fullmatch(part):
            raise _invalid(
                f"{_go_quote(part)} is an invalid component of {_go_quote(specifier)}: "
                f"platform specifier component must match {_go_quote(_SPECIFIER_RE_TEXT)}"
            )
    os = normalize_os(m.group(1))
    os_version = _decode_os_option(m.group(2) or "")
    features = tuple(_decode_os_option(f) for f in (m.group(3) or "").split("+") if f.strip() != "")
    base = Platform(os, "", "", os_version, features)

    if len(parts) == 1:
        if os in _KNOWN_OS:
            host = host_platform()
            variant = host.variant if host.architecture == "arm" and host.variant != "v7" else ""
            return replace(base, architecture=host.architecture, variant=variant)
        arch, variant = normalize_arch(parts[0], "")
        if arch == "arm" and variant == "v7":
            variant = ""
        if arch in _KNOWN_ARCH:
            return Platform(_host_os(), arch, variant)
        raise _invalid(f"{_go_quote(specifier)}: unknown operating system or architecture")
    if len(parts) == 2:
        arch, variant = normalize_arch(parts[1], "")
        if arch == "arm" and variant == "v7":
            variant = ""
        return replace(base, architecture=arch, variant=variant)
    if len(parts) == 3:
        arch, variant = normalize_arch(parts[1], parts[2])
        if arch == "arm64" and variant == "":
            variant = "v8"
        return replace(base, architecture=arch, variant=variant)
    raise _invalid(f"{_go_quote(specifier)}: cannot parse platform specifier")


def _host_os() -> str:
    if sys.platform.startswith("linux"):
        return "linux"
    return {"win32": "windows", "cygwin": "windows"}.get(sys.platform, sys.platform)


@cache
def host_platform() -> Platform:
    """The platform this machine runs natively, as containerd's DefaultSpec.

    arm64 reports variant ``v8`` and 32-bit arm its version (``v7``, ``v6``),
    so that messages read ``linux/arm64/v8`` as Docker's do.
    """
    import platform as stdlib_platform  # lazily: only this function needs it

    machine = stdlib_platform.machine().lower()
    return Platform(_host_os(), *_arch_of_machine(machine))


def _arch_of_machine(machine: str) -> tuple[str, str]:
    if machine in ("i486", "i586", "i686", "x86"):
        return "386", ""
    if machine.startswith("armv") and len(machine) >= 5 and machine[4].isdigit():
        return "arm", "v" + machine[4]
    arch, variant = normalize_arch(machine, "")
    if arch == "arm64":
        variant = "v8"
    return arch, variant


def platform_vector(p: Platform) -> list[Platform]:
    """The platforms ``p`` can run, best first (containerd's platformVector)."""
    vector = [p]
    if p.architecture == "amd64":
        level = _version_number(p.variant)
        if level is not None and level > 1:
            vector += [replace(p, variant=f"v{v}") for v in range(level - 1, 0, -1)]
        vector.append(replace(p, architecture="386", variant=""))
    elif p.architecture == "arm":
        level = _version_number(p.variant)
        if level is not None and level > 5:
            vector += [replace(p, variant=f"v{v}") for v in range(level - 1, 4, -1)]
    elif p.architecture == "arm64":
        variant = p.variant or "v8"
        vector = []
        for major, top_minor in _ARM64_VERSIONS.get(variant, ()):
            for minor in range(top_minor, -1, -1):
                v = f"v{major}" if minor == 0 else f"v{major}.{minor}"
                vector.append(replace(p, variant=v))
        if variant.startswith(("v8", "v9")):
            variant = "v8"
        vector += platform_vector(replace(p, architecture="arm", variant=variant))
    return vector


def _version_number(variant: str) -> int | None:
    digits = variant.removeprefix("v")
    return int(digits) if digits.isdigit() else None


def _matches(wanted: Platform, candidate: Platform) -> bool:
    """containerd's matcher.Match; ``wanted`` is already normalised."""
    c = normalize(candidate)
    if (c.os, c.architecture, c.variant) != (wanted.os, wanted.architecture, wanted.variant):
        return False
    return set(c.os_features) <= set(wanted.os_features)


class PlatformMatcher:
    """Matches and ranks candidate platforms against a wanted one.

    ``strict=True`` is containerd's OnlyStrict (no compatible fallbacks).
    """

    def __init__(self, wanted: Platform, *, strict: bool = False) -> None:
        self.wanted = wanted
        base = normalize(wanted)
        vector = [base] if strict else platform_vector(base)
        self._vector = [normalize(p) for p in vector]

    @property
    def worst_rank(self) -> int:
        """One past the last fallback: the rank given to platform-less candidates."""
        return len(self._vector)

    def rank(self, candidate: Platform) -> int | None:
        """0 for the best fit, higher for fallbacks, None when it cannot run."""
        for i, p in enumerate(self._vector):
            if _matches(p, candidate):
                return i
        return None

    def match(self, candidate: Platform) -> bool:
        return self.rank(candidate) is not None


def best_match(
    items: Iterable[T],
    wanted: Platform | PlatformMatcher,
    platform_of: Callable[[T], Platform | None],
    *,
    allow_missing: bool = True,
) -> T | None:
    """The item whose platform fits ``wanted`` best; the first one on ties.

    Items without a platform are accepted last when ``allow_missing`` (as
    containerd's image handlers do), else skipped. More OS features win a tie.
    """
    matcher = wanted if isinstance(wanted, PlatformMatcher) else PlatformMatcher(wanted)
    best: T | None = None
    best_key: tuple[int, int] | None = None
    for item in items:
        p = platform_of(item)
        if p is None:
            if not allow_missing:
                continue
            key = (matcher.worst_rank, 0)
        else:
            r = matcher.rank(p)
            if r is None:
                continue
            key = (r, -len(p.os_features))
        if best_key is None or key < best_key:
            best, best_key = item, key
    return best
