"""Platform parsing and matching; cases follow containerd's platforms tests."""

from __future__ import annotations

import platform as stdlib_platform
from collections.abc import Iterator

import pytest

from dockyard.errors import Corrupt, InvalidArgument
from dockyard.oci.platform import (
    Platform,
    PlatformMatcher,
    best_match,
    format_platform,
    host_platform,
    normalize,
    normalize_arch,
    parse_platform,
    platform_vector,
)

HOST = host_platform()
HOST_VARIANT = HOST.variant if HOST.architecture == "arm" and HOST.variant != "v7" else ""


# --- containerd TestParseSelector ----------------------------------------------------------

# (input, expected platform, formatted, platforms the exact matcher also accepts)
SELECTORS: list[tuple[str, Platform, str, list[Platform]]] = [
    (
        "linux/arm64",
        Platform("linux", "arm64"),
        "linux/arm64",
        [
            Platform("linux", "aarch64"),
            Platform("linux", "aarch64", "v8"),
            Platform("linux", "arm64", "v8"),
        ],
    ),
    (
        "linux/arm64/v8",
        Platform("linux", "arm64", "v8"),
        "linux/arm64/v8",
        [
            Platform("linux", "aarch64"),
            Platform("linux", "aarch64", "v8"),
            Platform("linux", "arm64"),
        ],
    ),
    (
        "linux/arm",
        Platform("linux", "arm"),
        "linux/arm",
        [Platform("linux", "arm", "v7"), Platform("linux", "armhf"), Platform("linux", "arm", "7")],
    ),
    ("linux/arm/v6", Platform("linux", "arm", "v6"), "linux/arm/v6", [Platform("linux", "armel")]),
    (
        "linux/arm/v7",
        Platform("linux", "arm", "v7"),
        "linux/arm/v7",
        [Platform("linux", "arm"), Platform("linux", "armhf")],
    ),
    ("arm", Platform(HOST.os, "arm"), f"{HOST.os}/arm", []),
    ("armel", Platform(HOST.os, "arm", "v6"), f"{HOST.os}/arm/v6", []),
    ("armhf", Platform(HOST.os, "arm"), f"{HOST.os}/arm", []),
    ("Aarch64", Platform(HOST.os, "arm64"), f"{HOST.os}/arm64", []),
    ("x86_64", Platform(HOST.os, "amd64"), f"{HOST.os}/amd64", []),
    ("Linux/x86_64", Platform("linux", "amd64"), "linux/amd64", []),
    ("i386", Platform(HOST.os, "386"), f"{HOST.os}/386", []),
    (
        "linux",
        Platform("linux", HOST.architecture, HOST_VARIANT),
        format_platform(Platform("linux", HOST.architecture, HOST_VARIANT)),
        [],
    ),
    ("s390x", Platform(HOST.os, "s390x"), f"{HOST.os}/s390x", []),
    ("linux/s390x", Platform("linux", "s390x"), "linux/s390x", []),
    (
        "macOS",
        Platform("darwin", HOST.architecture, HOST_VARIANT),
        format_platform(Platform("darwin", HOST.architecture, HOST_VARIANT)),
        [],
    ),
    (
        "windows",
        Platform("windows", HOST.architecture, HOST_VARIANT),
        format_platform(Platform("windows", HOST.architecture, HOST_VARIANT)),
        [],
    ),
    ("linux/amd64", Platform("linux", "amd64"), "linux/amd64", [Platform("linux", "x86_64")]),
    ("linux/amd64/v1", Platform("linux", "amd64"), "linux/amd64", []),
    ("linux/amd64/v3", Platform("linux", "amd64", "v3"), "linux/amd64/v3", []),
    ("linux/arm64/v9.0", Platform("linux", "arm64", "v9"), "linux/arm64/v9", []),
    ("linux/ppc64le", Platform("linux", "ppc64le"), "linux/ppc64le", []),
    ("linux/riscv64", Platform("linux", "riscv64"), "linux/riscv64", []),
]


@pytest.mark.parametrize(("s", "expected", "formatted", "matches"), SELECTORS)
def test_parse_selector(
    s: str, expected: Platform, formatted: str, matches: list[Platform]
) -> None:
    p = parse_platform(s)
    assert p == expected
    assert format_platform(p) == formatted
    assert str(p) == formatted
    strict = PlatformMatcher(p, strict=True)
    assert strict.match(p)
    for other in matches:
        assert strict.match(other), other


def test_parse_os_version_and_features() -> None:
    p = parse_platform("windows(10.0.17763)/amd64")
    assert (p.os, p.os_version, p.architecture) == ("windows", "10.0.17763", "amd64")
    p = parse_platform("windows(10.0.17763+win32k)/amd64")
    assert p.os_features == ("win32k",)
    p = parse_platform("linux(+gpu+simd)/amd64")
    assert (p.os_version, p.os_features) == ("", ("gpu", "simd"))
    p = parse_platform("windows(10.0.17763%2Bbuild.42)/amd64")
    assert p.os_version == "10.0.17763+build.42"
    assert parse_platform("windows()/amd64").os_version == ""


@pytest.mark.parametrize(
    ("s", "message"),
    [
        ("*", '"*": wildcards not yet supported: invalid argument'),
        ("linux/*", '"linux/*": wildcards not yet supported: invalid argument'),
        ("foo", '"foo": unknown operating system or architecture: invalid argument'),
        (
            "linux/amd64/v2/extra",
            '"linux/amd64/v2/extra": cannot parse platform specifier: invalid argument',
        ),
        (
            "linux/amd 64",
            '"amd 64" is an invalid component of "linux/amd 64": platform specifier component '
            'must match "^[A-Za-z0-9_.-]+$": invalid argument',
        ),
        (
            "linux//",
            '"" is an invalid component of "linux//": platform specifier component '
            'must match "^[A-Za-z0-9_.-]+$": invalid argument',
        ),
    ],
)
def test_parse_errors(s: str, message: str) -> None:
    with pytest.raises(InvalidArgument) as ei:
        parse_platform(s)
    assert ei.value.message == message


def test_parse_error_bad_os_component() -> None:
    with pytest.raises(InvalidArgument) as ei:
        parse_platform("")
    assert ei.value.message.startswith('"" is an invalid OS component of "": ')
    assert ei.value.message.endswith(": invalid argument")


# --- normalisation --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("arch", "variant", "expected"),
    [
        ("x86_64", "", ("amd64", "")),
        ("x86-64", "", ("amd64", "")),
        ("amd64", "v1", ("amd64", "")),
        ("amd64", "v2", ("amd64", "v2")),
        ("i386", "x", ("386", "")),
        ("aarch64", "", ("arm64", "")),
        ("arm64", "v8", ("arm64", "")),
        ("arm64", "8", ("arm64", "")),
        ("arm64", "v8.0", ("arm64", "")),
        ("arm64", "9", ("arm64", "v9")),
        ("arm64", "v9.0", ("arm64", "v9")),
        ("arm64", "v8.2", ("arm64", "v8.2")),
        ("armhf", "", ("arm", "v7")),
        ("armel", "", ("arm", "v6")),
        ("arm", "", ("arm", "v7")),
        ("arm", "7", ("arm", "v7")),
        ("arm", "6", ("arm", "v6")),
        ("arm", "5", ("arm", "v5")),
        ("arm", "8", ("arm", "v8")),
        ("ARM", "V6", ("arm", "v6")),
        ("s390x", "", ("s390x", "")),
    ],
)
def test_normalize_arch(arch: str, variant: str, expected: tuple[str, str]) -> None:
    assert normalize_arch(arch, variant) == expected


def test_normalize_platform() -> None:
    assert normalize(Platform("MacOS", "x86_64")) == Platform("darwin", "amd64")
    assert normalize(Platform("linux", "arm64", "v8")) == Platform("linux", "arm64")
    assert normalize(Platform("linux", "amd64", os_features=("b", "a", "b"))).os_features == (
        "a",
        "b",
    )
    assert normalize(Platform("", "amd64")).os == HOST.os


# --- containerd TestOnly ---------------------------------------------------------------------

ONLY: list[tuple[str, list[str], list[str]]] = [
    (
        "linux/amd64",
        ["linux/amd64", "linux/386"],
        ["linux/amd64/v2", "linux/arm/v7", "linux/arm64", "windows/amd64", "windows/arm"],
    ),
    (
        "linux/amd64/v2",
        ["linux/amd64", "linux/amd64/v1", "linux/amd64/v2", "linux/386"],
        ["linux/amd64/v3", "linux/amd64/v4", "linux/arm/v7", "linux/arm64", "windows/amd64"],
    ),
    (
        "linux/386",
        ["linux/386"],
        ["linux/amd64", "linux/arm/v7", "linux/arm64", "windows/amd64", "windows/arm"],
    ),
    (
        "windows/amd64",
        ["windows/amd64", "windows(10.0.17763)/amd64"],
        ["linux/amd64", "linux/arm/v7", "linux/arm64", "windows/arm"],
    ),
    (
        "linux/arm/v8",
        ["linux/arm", "linux/arm/v5", "linux/arm/v6", "linux/arm/v7", "linux/arm/v8"],
        ["linux/amd64", "linux/arm/v4", "linux/arm64", "windows/amd64", "windows/arm"],
    ),
    (
        "linux/arm/v7",
        ["linux/arm", "linux/arm/v5", "linux/arm/v6", "linux/arm/v7"],
        ["linux/amd64", "linux/arm/v4", "linux/arm/v8", "linux/arm64", "windows/amd64"],
    ),
    (
        "linux/arm/v6",
        ["linux/arm/v5", "linux/arm/v6"],
        ["linux/amd64", "linux/arm", "linux/arm/v4", "linux/arm/v7", "linux/arm/v8", "linux/arm64"],
    ),
    (
        "linux/arm/v5",
        ["linux/arm/v5"],
        ["linux/amd64", "linux/arm", "linux/arm/v4", "linux/arm/v6", "linux/arm/v7", "linux/arm64"],
    ),
    (
        "linux/arm/v4",
        ["linux/arm/v4"],
        ["linux/amd64", "linux/arm", "linux/arm/v5", "linux/arm/v6", "linux/arm/v7", "linux/arm64"],
    ),
    (
        "linux/arm64/v9.6",
        [
            "linux/arm",
            "linux/arm/v5",
            "linux/arm/v6",
            "linux/arm/v7",
            "linux/arm/v8",
            "linux/arm64",
            "linux/arm64/v8",
            *[f"linux/arm64/v8.{m}" for m in range(1, 10)],
            "linux/arm64/v9",
            *[f"linux/arm64/v9.{m}" for m in range(7)],
        ],
        ["linux/amd64", "linux/arm/v4", "windows/amd64", "windows/arm", "linux/arm64/v8.10"],
    ),
    (
        "linux/arm64/v9",
        [
            "linux/arm",
            "linux/arm/v5",
            "linux/arm/v6",
            "linux/arm/v7",
            "linux/arm/v8",
            "linux/arm64",
            "linux/arm64/v8",
            *[f"linux/arm64/v8.{m}" for m in range(1, 6)],
            "linux/arm64/v9",
            "linux/arm64/v9.0",
        ],
        ["linux/amd64", "linux/arm/v4", "windows/amd64", "windows/arm", "linux/arm64/v8.6"],
    ),
    (
        "linux/arm64/v8.1",
        [
            "linux/arm",
            "linux/arm/v5",
            "linux/arm/v6",
            "linux/arm/v7",
            "linux/arm/v8",
            "linux/arm64",
            "linux/arm64/v8",
            "linux/arm64/v8.1",
        ],
        ["linux/amd64", "linux/arm/v4", "linux/arm/v9", "linux/arm64/v9", "windows/amd64"],
    ),
    (
        "linux/arm64",
        [
            "linux/arm",
            "linux/arm/v5",
            "linux/arm/v6",
            "linux/arm/v7",
            "linux/arm/v8",
            "linux/arm64",
            "linux/arm64/v8",
        ],
        ["linux/amd64", "linux/arm/v4", "linux/arm/v9", "linux/arm64/v9", "windows/amd64"],
    ),
]


def _only_cases() -> Iterator[tuple[str, str, bool]]:
    for wanted, yes, no in ONLY:
        for candidate in yes:
            yield wanted, candidate, True
        for candidate in no:
            yield wanted, candidate, False


@pytest.mark.parametrize(("wanted", "candidate", "expected"), list(_only_cases()))
def test_only(wanted: str, candidate: str, expected: bool) -> None:
    matcher = PlatformMatcher(parse_platform(wanted))
    assert matcher.match(parse_platform(candidate)) is expected


@pytest.mark.parametrize(
    ("wanted", "yes", "no"),
    [
        (
            "linux/amd64",
            ["linux/amd64"],
            ["linux/386", "linux/arm/v7", "linux/arm64", "windows/amd64"],
        ),
        ("linux/386", ["linux/386"], ["linux/amd64", "linux/arm/v7", "linux/arm64"]),
        ("windows/amd64", ["windows/amd64", "windows(10.0.17763)/amd64"], ["linux/amd64"]),
        (
            "linux/arm/v8",
            ["linux/arm/v8"],
            ["linux/arm", "linux/arm/v5", "linux/arm/v6", "linux/arm/v7", "linux/arm64"],
        ),
        ("linux/arm/v7", ["linux/arm", "linux/arm/v7"], ["linux/arm/v5", "linux/arm/v6"]),
        ("linux/arm64", ["linux/arm64", "linux/arm64/v8"], ["linux/arm/v8", "linux/arm64/v8.1"]),
    ],
)
def test_only_strict(wanted: str, yes: list[str], no: list[str]) -> None:
    matcher = PlatformMatcher(parse_platform(wanted), strict=True)
    for c in yes:
        assert matcher.match(parse_platform(c)), c
    for c in no:
        assert not matcher.match(parse_platform(c)), c


# --- ranking and choosing ---------------------------------------------------------------------


def test_vector_order_prefers_exact_then_newest_fallback() -> None:
    vector = [format_platform(p) for p in platform_vector(Platform("linux", "arm", "v7"))]
    assert vector == ["linux/arm/v7", "linux/arm/v6", "linux/arm/v5"]
    vector = [format_platform(p) for p in platform_vector(Platform("linux", "amd64", "v3"))]
    assert vector == ["linux/amd64/v3", "linux/amd64/v2", "linux/amd64/v1", "linux/386"]
    vector = [format_platform(p) for p in platform_vector(Platform("linux", "arm64"))]
    assert vector == [
        "linux/arm64/v8",
        "linux/arm/v8",
        "linux/arm/v7",
        "linux/arm/v6",
        "linux/arm/v5",
    ]


def test_rank() -> None:
    m = PlatformMatcher(parse_platform("linux/arm64"))
    assert m.rank(Platform("linux", "arm64")) == 0
    assert m.rank(Platform("linux", "arm64", "v8")) == 0
    assert m.rank(Platform("linux", "arm", "v7")) == 2
    assert m.rank(Platform("linux", "amd64")) is None


def _pick(wanted: str, candidates: list[Platform | None]) -> int | None:
    items = list(enumerate(candidates))
    chosen = best_match(items, parse_platform(wanted), lambda item: item[1])
    return None if chosen is None else chosen[0]


def test_best_match() -> None:
    amd64, arm64, armv7, armv6, i386 = (
        Platform("linux", "amd64"),
        Platform("linux", "arm64", "v8"),
        Platform("linux", "arm", "v7"),
        Platform("linux", "arm", "v6"),
        Platform("linux", "386"),
    )
    assert _pick("linux/amd64", [arm64, i386, amd64]) == 2
    assert _pick("linux/amd64", [arm64, i386]) == 1
    assert _pick("linux/arm64", [amd64, armv6, armv7]) == 2
    assert _pick("linux/arm64/v8", [armv7, arm64]) == 1
    assert _pick("linux/arm/v7", [armv6, armv7]) == 1
    assert _pick("linux/arm/v5", [armv6, armv7]) is None
    # Ties: the first listed wins.
    assert _pick("linux/amd64", [amd64, Platform("linux", "x86_64")]) == 0
    # Platform-less entries are a last resort.
    assert _pick("linux/amd64", [None, i386]) == 1
    assert _pick("linux/amd64", [None, arm64]) == 0
    items = [(0, None)]
    assert (
        best_match(items, Platform("linux", "amd64"), lambda i: i[1], allow_missing=False) is None
    )


def test_more_os_features_win_a_tie() -> None:
    plain = Platform("linux", "amd64")
    gpu = Platform("linux", "amd64", os_features=("gpu",))
    wanted = Platform("linux", "amd64", os_features=("gpu",))
    assert _pick_p(wanted, [plain, gpu]) == 1
    # A candidate needing a feature the wanted platform lacks does not match.
    assert _pick_p(Platform("linux", "amd64"), [gpu]) is None


def _pick_p(wanted: Platform, candidates: list[Platform]) -> int | None:
    chosen = best_match(list(enumerate(candidates)), wanted, lambda item: item[1])
    return None if chosen is None else chosen[0]


# --- host platform and JSON ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("machine", "expected"),
    [
        ("x86_64", ("amd64", "")),
        ("AMD64", ("amd64", "")),
        ("aarch64", ("arm64", "v8")),
        ("arm64", ("arm64", "v8")),
        ("armv7l", ("arm", "v7")),
        ("armv6l", ("arm", "v6")),
        ("armv8l", ("arm", "v8")),
        ("i686", ("386", "")),
        ("ppc64le", ("ppc64le", "")),
        ("s390x", ("s390x", "")),
        ("riscv64", ("riscv64", "")),
    ],
)
def test_host_platform(
    monkeypatch: pytest.MonkeyPatch, machine: str, expected: tuple[str, str]
) -> None:
    monkeypatch.setattr(stdlib_platform, "machine", lambda: machine)
    host_platform.cache_clear()
    try:
        p = host_platform()
        assert (p.architecture, p.variant) == expected
        assert p.os == "linux"
    finally:
        host_platform.cache_clear()


def test_host_platform_message_form_on_arm64(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(stdlib_platform, "machine", lambda: "aarch64")
    host_platform.cache_clear()
    try:
        assert format_platform(host_platform()) == "linux/arm64/v8"
    finally:
        host_platform.cache_clear()


def test_platform_json_round_trip() -> None:
    p = Platform("windows", "amd64", "", "10.0.17763.1", ("win32k",))
    d = p.to_dict()
    assert list(d) == ["architecture", "os", "os.version", "os.features"]
    assert Platform.from_dict(d) == p
    assert Platform("linux", "arm", "v7").to_dict() == {
        "architecture": "arm",
        "os": "linux",
        "variant": "v7",
    }
    # Docker manifest lists carry an extra "features" key: ignored.
    assert Platform.from_dict({"architecture": "amd64", "os": "linux", "features": ["sse4"]}) == (
        Platform("linux", "amd64")
    )
    assert format_platform(Platform("", "")) == "unknown"


@pytest.mark.parametrize(
    "bad",
    [
        {"architecture": 1, "os": "linux"},
        {"architecture": "amd64", "os": ["linux"]},
        {"architecture": "amd64", "os": "linux", "os.features": "gpu"},
        {"architecture": "amd64", "os": "linux", "os.features": [1]},
    ],
)
def test_platform_from_bad_dict(bad: dict[str, object]) -> None:
    with pytest.raises(Corrupt):
        Platform.from_dict(bad)
