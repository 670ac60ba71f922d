"""Reference parsing, normalisation and familiar forms.

Most cases are taken from distribution/reference's own test tables
(reference_test.go, normalize_test.go); Docker behaves as that package does.
"""

from __future__ import annotations

import pytest

from dockyard.errors import InvalidArgument
from dockyard.oci.reference import (
    ERR_DIGEST_INVALID_FORMAT,
    ERR_NAME_CONTAINS_UPPERCASE,
    ERR_NAME_EMPTY,
    ERR_NAME_NOT_CANONICAL,
    ERR_NAME_TOO_LONG,
    ERR_REFERENCE_INVALID_FORMAT,
    ERR_TAG_INVALID_FORMAT,
    Reference,
    familiar_name,
    familiar_string,
    id_prefix_hex,
    is_full_hex_id,
    is_valid_tag,
    looks_like_id_prefix,
    parse,
    parse_any_reference,
    parse_docker_ref,
    parse_named,
    parse_normalized_named,
    parse_reference,
    split_docker_domain,
    tag_name_only,
    with_name,
)

F64 = "f" * 64
SHA_F = "sha256:" + F64
HEX64 = "1a3f5e7d9c1b3a5f7e9d1c3b5a7f9e1d3c5b7a9f1e3d5d7c9b1a3f5e7d9c1b3a"


def _err(fn: object, s: str) -> str:
    with pytest.raises(InvalidArgument) as ei:
        fn(s)  # type: ignore[operator]
    return ei.value.message


# --- upstream TestReferenceParse: the raw grammar (no normalisation) ---------------------

# (input, name, domain, tag, digest)
PARSE_VALID = [
    ("test_com", "test_com", "", None, None),
    ("test.com:tag", "test.com", "", "tag", None),
    ("test.com:5000", "test.com", "", "5000", None),
    ("test.com/repo:tag", "test.com/repo", "test.com", "tag", None),
    ("test:5000/repo", "test:5000/repo", "test:5000", None, None),
    ("test:5000/repo:tag", "test:5000/repo", "test:5000", "tag", None),
    (f"test:5000/repo@{SHA_F}", "test:5000/repo", "test:5000", None, SHA_F),
    (f"test:5000/repo:tag@{SHA_F}", "test:5000/repo", "test:5000", "tag", SHA_F),
    ("lowercase:Uppercase", "lowercase", "", "Uppercase", None),
    (
        "a/" * 127 + "a:tag-puts-this-over-max",
        "a/" * 127 + "a",
        "a",
        "tag-puts-this-over-max",
        None,
    ),
    (
        "sub-dom1.foo.com/bar/baz/quux",
        "sub-dom1.foo.com/bar/baz/quux",
        "sub-dom1.foo.com",
        None,
        None,
    ),
    (
        "sub-dom1.foo.com/bar/baz/quux:some-long-tag",
        "sub-dom1.foo.com/bar/baz/quux",
        "sub-dom1.foo.com",
        "some-long-tag",
        None,
    ),
    (
        "b.gcr.io/test.example.com/my-app:test.example.com",
        "b.gcr.io/test.example.com/my-app",
        "b.gcr.io",
        "test.example.com",
        None,
    ),
    ("xn--n3h.com/myimage:xn--n3h.com", "xn--n3h.com/myimage", "xn--n3h.com", "xn--n3h.com", None),
    (
        f"xn--7o8h.com/myimage:xn--7o8h.com@{SHA_F}",
        "xn--7o8h.com/myimage",
        "xn--7o8h.com",
        "xn--7o8h.com",
        SHA_F,
    ),
    ("foo_bar.com:8080", "foo_bar.com", "", "8080", None),
    ("foo/foo_bar.com:8080", "foo/foo_bar.com", "foo", "8080", None),
    ("192.168.1.1", "192.168.1.1", "", None, None),
    ("192.168.1.1:tag", "192.168.1.1", "", "tag", None),
    ("192.168.1.1:5000", "192.168.1.1", "", "5000", None),
    ("192.168.1.1/repo", "192.168.1.1/repo", "192.168.1.1", None, None),
    ("192.168.1.1:5000/repo", "192.168.1.1:5000/repo", "192.168.1.1:5000", None, None),
    ("192.168.1.1:5000/repo:5050", "192.168.1.1:5000/repo", "192.168.1.1:5000", "5050", None),
    ("[2001:db8::1]/repo", "[2001:db8::1]/repo", "[2001:db8::1]", None, None),
    (
        "[2001:db8:1:2:3:4:5:6]/repo:tag",
        "[2001:db8:1:2:3:4:5:6]/repo",
        "[2001:db8:1:2:3:4:5:6]",
        "tag",
        None,
    ),
    ("[2001:db8::1]:5000/repo", "[2001:db8::1]:5000/repo", "[2001:db8::1]:5000", None, None),
    ("[2001:db8::1]:5000/repo:tag", "[2001:db8::1]:5000/repo", "[2001:db8::1]:5000", "tag", None),
    (
        f"[2001:db8::1]:5000/repo@{SHA_F}",
        "[2001:db8::1]:5000/repo",
        "[2001:db8::1]:5000",
        None,
        SHA_F,
    ),
    (
        f"[2001:db8::1]:5000/repo:tag@{SHA_F}",
        "[2001:db8::1]:5000/repo",
        "[2001:db8::1]:5000",
        "tag",
        SHA_F,
    ),
    ("[2001:db8::]:5000/repo", "[2001:db8::]:5000/repo", "[2001:db8::]:5000", None, None),
    ("[::1]:5000/repo", "[::1]:5000/repo", "[::1]:5000", None, None),
    (
        "example.com/" + "a" * 255 + ":tag",
        "example.com/" + "a" * 255,
        "example.com",
        "tag",
        None,
    ),
]


@pytest.mark.parametrize(("s", "name", "domain", "tag", "digest"), PARSE_VALID)
def test_parse_valid(s: str, name: str, domain: str, tag: str | None, digest: str | None) -> None:
    ref = parse(s)
    assert str(ref) == s
    assert ref.name == name
    assert ref.domain == domain
    assert ref.tag == tag
    assert ref.digest == digest


PARSE_INVALID = [
    ("", ERR_NAME_EMPTY),
    (":justtag", ERR_REFERENCE_INVALID_FORMAT),
    (f"@{SHA_F}", ERR_REFERENCE_INVALID_FORMAT),
    ("repo@sha256:" + "f" * 34, "invalid checksum digest length"),
    ("validname@invaliddigest:" + F64, "unsupported digest algorithm"),
    ("Uppercase:tag", ERR_NAME_CONTAINS_UPPERCASE),
    ("test:5000/Uppercase/lowercase:tag", ERR_NAME_CONTAINS_UPPERCASE),
    ("domain/" + "a" * 256 + ":tag", ERR_NAME_TOO_LONG),
    ("aa/asdf$$^/aa", ERR_REFERENCE_INVALID_FORMAT),
    ("[2001:db8::1]", ERR_REFERENCE_INVALID_FORMAT),
    ("[2001:db8::1]:5000", ERR_REFERENCE_INVALID_FORMAT),
    ("[2001:db8::1]:tag", ERR_REFERENCE_INVALID_FORMAT),
    ("[fe80::1%eth0]:5000/repo", ERR_REFERENCE_INVALID_FORMAT),
    ("[fe80::1%@invalidzone]:5000/repo", ERR_REFERENCE_INVALID_FORMAT),
]


@pytest.mark.parametrize(("s", "message"), PARSE_INVALID)
def test_parse_invalid(s: str, message: str) -> None:
    assert _err(parse, s) == message


def test_parse_sha512_and_sha384_digests_are_supported_as_in_docker() -> None:
    # Upstream's own test binary does not link sha512; Docker (go-digest v1.0.0) does.
    sha512 = "sha512:" + "f" * 128
    assert parse(f"validname@{sha512}").digest == sha512
    sha384 = "sha384:" + "f" * 96
    assert parse(f"validname@{sha384}").digest == sha384


def test_parse_uppercase_digest_hex_is_invalid_format() -> None:
    # The reference grammar admits [A-F]; go-digest then refuses it.
    assert _err(parse, "repo@sha256:" + "F" * 64) == "invalid checksum digest format"


# --- upstream TestValidateReferenceName / TestValidateRemoteName --------------------------

VALID_NAMES = [
    "docker/docker",
    "library/debian",
    "debian",
    "localhost/library/debian",
    "localhost/debian",
    "LOCALDOMAIN/library/debian",
    "LOCALDOMAIN/debian",
    "docker.io/docker/docker",
    "docker.io/library/debian",
    "docker.io/debian",
    "index.docker.io/docker/docker",
    "index.docker.io/library/debian",
    "index.docker.io/debian",
    "127.0.0.1:5000/docker/docker",
    "127.0.0.1:5000/library/debian",
    "127.0.0.1:5000/debian",
    "192.168.0.1",
    "192.168.0.1:80",
    "192.168.0.1:8/debian",
    "192.168.0.2:25000/debian",
    "thisisthesongthatneverendsitgoesonandonandonthisisthesongthatnev",
    "[fc00::1]:5000/docker",
    "[fc00::1]:5000/docker/docker",
    "[fc00:1:2:3:4:5:6:7]:5000/library/debian",
    f"docker.io/{HEX64}",
    "Docker/docker",
    "DOCKER/docker",
    "docker-rules/docker",
    "docker---rules/docker",
    "doc/docker",
    "d/docker",
    "jess/t",
    "dock__er/docker",
]

INVALID_NAMES = [
    "https://github.com/docker/docker",
    "docker/Docker",
    "-docker",
    "-docker/docker",
    "-docker.io/docker/docker",
    "docker///docker",
    "docker.io/docker/Docker",
    "docker.io/docker///docker",
    "[fc00::1]",
    "[fc00::1]:5000",
    "fc00::1:5000/debian",
    "[fe80::1%eth0]:5000/debian",
    "[2001:db8:3:4::192.0.2.33]:5000/debian",
    HEX64,
    "docker-/docker",
    "-docker-/docker",
    "____/____",
    "_docker/_docker",
    "dock..er/docker",
    "dock_.er/docker",
    "dock-.er/docker",
    "docker/",
    "this_is_not_a_valid_namespace_because_its_lenth_is_greater_than_255_" * 4 + "/docker",
]


@pytest.mark.parametrize("s", VALID_NAMES)
def test_valid_repository_names(s: str) -> None:
    parse_normalized_named(s)


@pytest.mark.parametrize("s", INVALID_NAMES)
def test_invalid_repository_names(s: str) -> None:
    with pytest.raises(InvalidArgument):
        parse_normalized_named(s)


# --- upstream TestParseRepositoryInfo: familiar / full / ambiguous spellings -------------

# (remote name, familiar name, full name, ambiguous name or "", domain)
REPOSITORY_INFO = [
    ("fooo", "localhost/fooo", "localhost/fooo", "localhost/fooo", "localhost"),
    ("fooo/bar", "localhost/fooo/bar", "localhost/fooo/bar", "localhost/fooo/bar", "localhost"),
    ("fooo", "LOCALDOMAIN/fooo", "LOCALDOMAIN/fooo", "LOCALDOMAIN/fooo", "LOCALDOMAIN"),
    (
        "fooo/bar",
        "LOCALDOMAIN/fooo/bar",
        "LOCALDOMAIN/fooo/bar",
        "LOCALDOMAIN/fooo/bar",
        "LOCALDOMAIN",
    ),
    ("fooo/bar", "fooo/bar", "docker.io/fooo/bar", "index.docker.io/fooo/bar", "docker.io"),
    ("library/ubuntu", "ubuntu", "docker.io/library/ubuntu", "library/ubuntu", "docker.io"),
    ("nonlibrary/ubuntu", "nonlibrary/ubuntu", "docker.io/nonlibrary/ubuntu", "", "docker.io"),
    ("other/library", "other/library", "docker.io/other/library", "", "docker.io"),
    (
        "private/moonbase",
        "127.0.0.1:8000/private/moonbase",
        "127.0.0.1:8000/private/moonbase",
        "",
        "127.0.0.1:8000",
    ),
    (
        "privatebase",
        "127.0.0.1:8000/privatebase",
        "127.0.0.1:8000/privatebase",
        "",
        "127.0.0.1:8000",
    ),
    (
        "private/moonbase",
        "example.com/private/moonbase",
        "example.com/private/moonbase",
        "",
        "example.com",
    ),
    ("privatebase", "example.com/privatebase", "example.com/privatebase", "", "example.com"),
    (
        "private/moonbase",
        "example.com:8000/private/moonbase",
        "example.com:8000/private/moonbase",
        "",
        "example.com:8000",
    ),
    (
        "privatebasee",
        "example.com:8000/privatebasee",
        "example.com:8000/privatebasee",
        "",
        "example.com:8000",
    ),
    (
        "library/ubuntu-12.04-base",
        "ubuntu-12.04-base",
        "docker.io/library/ubuntu-12.04-base",
        "index.docker.io/library/ubuntu-12.04-base",
        "docker.io",
    ),
    ("library/foo", "foo", "docker.io/library/foo", "docker.io/foo", "docker.io"),
    ("library/foo/bar", "library/foo/bar", "docker.io/library/foo/bar", "", "docker.io"),
    ("store/foo/bar", "store/foo/bar", "docker.io/store/foo/bar", "", "docker.io"),
    ("bar", "Foo/bar", "Foo/bar", "", "Foo"),
    ("bar", "FOO/bar", "FOO/bar", "", "FOO"),
]


def _repository_info_cases() -> list[tuple[str, str, str, str, str]]:
    out = []
    for remote, familiar, full, ambiguous, domain in REPOSITORY_INFO:
        for spelling in (familiar, full, ambiguous):
            if spelling:
                out.append((spelling, remote, familiar, full, domain))
    return out


@pytest.mark.parametrize(("s", "remote", "familiar", "full", "domain"), _repository_info_cases())
def test_repository_info(s: str, remote: str, familiar: str, full: str, domain: str) -> None:
    ref = parse_normalized_named(s)
    assert ref.familiar_name == familiar
    assert familiar_name(ref) == familiar
    assert str(ref) == full
    assert ref.name == full
    assert ref.domain == domain
    assert ref.path == remote


# --- upstream TestNormalizedSplitHostname -------------------------------------------------

SPLIT = [
    ("test.com/foo", "test.com", "foo"),
    ("test_com/foo", "docker.io", "test_com/foo"),
    ("docker/migrator", "docker.io", "docker/migrator"),
    ("test.com:8080/foo", "test.com:8080", "foo"),
    ("test-com:8080/foo", "test-com:8080", "foo"),
    ("foo", "docker.io", "library/foo"),
    ("xn--n3h.com/foo", "xn--n3h.com", "foo"),
    ("xn--n3h.com:18080/foo", "xn--n3h.com:18080", "foo"),
    ("docker.io/foo", "docker.io", "library/foo"),
    ("docker.io/library/foo", "docker.io", "library/foo"),
    ("docker.io/library/foo/bar", "docker.io", "library/foo/bar"),
    ("localhost/foo", "localhost", "foo"),
    ("index.docker.io/foo", "docker.io", "library/foo"),
]


@pytest.mark.parametrize(("s", "domain", "path"), SPLIT)
def test_normalized_split(s: str, domain: str, path: str) -> None:
    ref = parse_normalized_named(s)
    assert (ref.domain, ref.path) == (domain, path)
    assert split_docker_domain(s) == (domain, path)


# --- upstream TestParseDockerRef ----------------------------------------------------------

DIGEST_E6 = "sha256:e6693c20186f837fc393390135d8a598a96a833917917789d63766cab6c59582"
DOCKER_REF = [
    ("busybox", "docker.io/library/busybox:latest"),
    ("busybox:latest", "docker.io/library/busybox:latest"),
    (f"busybox@{DIGEST_E6}", f"docker.io/library/busybox@{DIGEST_E6}"),
    ("library/busybox", "docker.io/library/busybox:latest"),
    ("docker.io/busybox", "docker.io/library/busybox:latest"),
    ("docker.io/library/busybox", "docker.io/library/busybox:latest"),
    ("docker.io/busybox:latest", "docker.io/library/busybox:latest"),
    ("library/busybox:latest", "docker.io/library/busybox:latest"),
    ("docker.io/library/busybox:latest", "docker.io/library/busybox:latest"),
    ("gcr.io/library/busybox", "gcr.io/library/busybox:latest"),
    (f"gcr.io/library/busybox:latest@{DIGEST_E6}", f"gcr.io/library/busybox@{DIGEST_E6}"),
]


@pytest.mark.parametrize(("s", "expected"), DOCKER_REF)
def test_parse_docker_ref(s: str, expected: str) -> None:
    ref = parse_docker_ref(s)
    assert str(ref) == expected
    assert str(parse(expected)) == expected


# --- upstream TestParseAnyReference -------------------------------------------------------

DBCC = "dbcc1c35ac38df41fd2f5e4130b32ffdb93ebae8b3dbe638c23575912276fc9c"
ANY_REF = [
    ("redis", "docker.io/library/redis"),
    ("redis:latest", "docker.io/library/redis:latest"),
    ("docker.io/library/redis:latest", "docker.io/library/redis:latest"),
    (f"redis@sha256:{DBCC}", f"docker.io/library/redis@sha256:{DBCC}"),
    (f"docker.io/library/redis@sha256:{DBCC}", f"docker.io/library/redis@sha256:{DBCC}"),
    ("dmcgowan/myapp", "docker.io/dmcgowan/myapp"),
    ("dmcgowan/myapp:latest", "docker.io/dmcgowan/myapp:latest"),
    ("docker.io/mcgowan/myapp:latest", "docker.io/mcgowan/myapp:latest"),
    (f"dmcgowan/myapp@sha256:{DBCC}", f"docker.io/dmcgowan/myapp@sha256:{DBCC}"),
    (f"docker.io/dmcgowan/myapp@sha256:{DBCC}", f"docker.io/dmcgowan/myapp@sha256:{DBCC}"),
    (DBCC, f"sha256:{DBCC}"),
    (f"sha256:{DBCC}", f"sha256:{DBCC}"),
    (DBCC[:-1], f"docker.io/library/{DBCC[:-1]}"),
    ("dbcc1", "docker.io/library/dbcc1"),
]


@pytest.mark.parametrize(("s", "expected"), ANY_REF)
def test_parse_any_reference(s: str, expected: str) -> None:
    result = parse_any_reference(s)
    assert str(result) == expected
    if expected.startswith("sha256:"):
        assert isinstance(result, str)
    else:
        assert isinstance(result, Reference)


# --- upstream TestParseNamed -------------------------------------------------------------


@pytest.mark.parametrize(
    ("s", "domain", "path"),
    [
        ("test.com/foo", "test.com", "foo"),
        ("test:8080/foo", "test:8080", "foo"),
        ("docker.io/library/foo", "docker.io", "library/foo"),
    ],
)
def test_parse_named_canonical(s: str, domain: str, path: str) -> None:
    ref = parse_named(s)
    assert (ref.domain, ref.path) == (domain, path)


@pytest.mark.parametrize("s", ["test_com/foo", "test.com", "foo", "library/foo", "docker.io/foo"])
def test_parse_named_not_canonical(s: str) -> None:
    assert _err(parse_named, s) == ERR_NAME_NOT_CANONICAL


# --- upstream TestWithNameFailure / TestDomainAndPath -------------------------------------


@pytest.mark.parametrize(
    ("s", "message"),
    [
        ("", ERR_REFERENCE_INVALID_FORMAT),
        (":justtag", ERR_REFERENCE_INVALID_FORMAT),
        (f"@{SHA_F}", ERR_REFERENCE_INVALID_FORMAT),
        (f"validname@invaliddigest:{F64}", ERR_REFERENCE_INVALID_FORMAT),
        ("example.com/repo:tag", ERR_REFERENCE_INVALID_FORMAT),
        ("example.com/" + "a" * 256, ERR_NAME_TOO_LONG),
        ("aa/asdf$$^/aa", ERR_REFERENCE_INVALID_FORMAT),
    ],
)
def test_with_name_failure(s: str, message: str) -> None:
    assert _err(with_name, s) == message


@pytest.mark.parametrize(
    ("s", "domain", "path"),
    [
        ("test.com/foo", "test.com", "foo"),
        ("test_com/foo", "", "test_com/foo"),
        ("test:8080/foo", "test:8080", "foo"),
        ("test.com:8080/foo", "test.com:8080", "foo"),
        ("test-com:8080/foo", "test-com:8080", "foo"),
        ("xn--n3h.com:18080/foo", "xn--n3h.com:18080", "foo"),
    ],
)
def test_with_name_domain_and_path(s: str, domain: str, path: str) -> None:
    ref = with_name(s)
    assert (ref.domain, ref.path) == (domain, path)
    assert str(ref) == s


# --- upstream TestWithTag / TestWithDigest -------------------------------------------------

SHORT_DIGEST = "sha256:1234567890098765432112345667890098765"


@pytest.mark.parametrize(
    ("name", "digest", "tag", "combined"),
    [
        ("test.com/foo", None, "tag", "test.com/foo:tag"),
        ("foo", None, "tag2", "foo:tag2"),
        ("test.com:8000/foo", None, "tag4", "test.com:8000/foo:tag4"),
        ("test.com:8000/foo", None, "TAG5", "test.com:8000/foo:TAG5"),
        ("test.com:8000/foo", SHORT_DIGEST, "TAG5", f"test.com:8000/foo:TAG5@{SHORT_DIGEST}"),
    ],
)
def test_with_tag(name: str, digest: str | None, tag: str, combined: str) -> None:
    ref = with_name(name)
    if digest:
        ref = ref.with_digest(digest)
    assert str(ref.with_tag(tag)) == combined


@pytest.mark.parametrize(
    ("name", "tag", "combined"),
    [
        ("test.com/foo", None, f"test.com/foo@{SHORT_DIGEST}"),
        ("foo", None, f"foo@{SHORT_DIGEST}"),
        ("test.com:8000/foo", None, f"test.com:8000/foo@{SHORT_DIGEST}"),
        ("test.com:8000/foo", "latest", f"test.com:8000/foo:latest@{SHORT_DIGEST}"),
    ],
)
def test_with_digest(name: str, tag: str | None, combined: str) -> None:
    ref = with_name(name)
    if tag:
        ref = ref.with_tag(tag)
    assert str(ref.with_digest(SHORT_DIGEST)) == combined


def test_invalid_reference_components() -> None:
    with pytest.raises(InvalidArgument):
        parse_normalized_named("-foo")
    ref = parse_normalized_named("busybox")
    assert _err(ref.with_tag, "-foo") == ERR_TAG_INVALID_FORMAT
    assert _err(ref.with_digest, "foo") == ERR_DIGEST_INVALID_FORMAT


def test_reference_with_tag_and_digest_familiar_string() -> None:
    short = "busybox:latest@sha256:86e0e091d0da6bde2456dbb48306f3956bbeb2eae1b5b9a43045843f69fe4aaa"
    ref = parse_normalized_named(short)
    assert str(ref) == "docker.io/library/" + short
    assert ref.tag == "latest"
    assert ref.digest is not None
    assert familiar_string(ref) == short


# --- Docker's error messages, as `docker tag` / `docker pull` print them ---------------------


@pytest.mark.parametrize(
    ("s", "message"),
    [
        (
            "UPPER:tag",
            "invalid reference format: repository name (library/UPPER) must be lowercase",
        ),
        (
            "docker/Docker",
            "invalid reference format: repository name (docker/Docker) must be lowercase",
        ),
        (
            "test:5000/Uppercase/lowercase:tag",
            "invalid reference format: repository name (Uppercase/lowercase) must be lowercase",
        ),
        ("a::b", "invalid reference format"),
        ("", "invalid reference format"),
        (":tag", "invalid reference format"),
        ("busybox:" + "a" * 129, "invalid reference format"),
        ("busybox:-tag", "invalid reference format"),
        ("busybox@sha256:abc", "invalid reference format"),
        ("busybox@sha256:" + "a" * 40, "invalid checksum digest length"),
        ("busybox@md5:" + "a" * 32, "unsupported digest algorithm"),
        ("busybox@sha256:" + "A" * 64, "invalid checksum digest format"),
        (
            HEX64,
            f"invalid repository name ({HEX64}), cannot specify 64-byte hexadecimal strings",
        ),
        ("example.com/" + "a" * 256, "repository name must not be more than 255 characters"),
    ],
)
def test_docker_error_messages(s: str, message: str) -> None:
    assert _err(parse_normalized_named, s) == message


def test_tag_length_limit() -> None:
    assert parse_normalized_named("busybox:" + "a" * 128).tag == "a" * 128
    assert is_valid_tag("a" * 128)
    assert not is_valid_tag("a" * 129)
    assert is_valid_tag("_x") and is_valid_tag("V1.0-rc_2")
    assert not is_valid_tag(".x") and not is_valid_tag("-x") and not is_valid_tag("")


def test_tag_is_ascii_only() -> None:
    # Go's \w is ASCII; Python's would accept "é".
    assert not is_valid_tag("é")
    with pytest.raises(InvalidArgument):
        parse_normalized_named("busybox:é")


def test_trailing_newline_is_not_accepted() -> None:
    # Go's $ is end-of-text; Python's $ would also match before a final newline.
    with pytest.raises(InvalidArgument):
        parse_normalized_named("busybox\n")
    assert not is_full_hex_id(HEX64 + "\n")


def test_path_length_limit_counts_path_only() -> None:
    # Upstream checks the path (not domain + path) against 255.
    ok = parse_normalized_named("example.com/" + "a" * 255)
    assert len(ok.path) == 255
    assert len(ok.name) > 255


# --- the Reference value ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("s", "familiar", "full"),
    [
        ("busybox", "busybox:latest", "docker.io/library/busybox:latest"),
        ("busybox:1.36", "busybox:1.36", "docker.io/library/busybox:1.36"),
        ("library/busybox", "busybox:latest", "docker.io/library/busybox:latest"),
        ("index.docker.io/busybox", "busybox:latest", "docker.io/library/busybox:latest"),
        ("user/app", "user/app:latest", "docker.io/user/app:latest"),
        ("docker.io/library/a/b", "library/a/b:latest", "docker.io/library/a/b:latest"),
        ("localhost:5000/x:1", "localhost:5000/x:1", "localhost:5000/x:1"),
        ("localhost/x", "localhost/x:latest", "localhost/x:latest"),
        ("quay.io/coreos/etcd:v3", "quay.io/coreos/etcd:v3", "quay.io/coreos/etcd:v3"),
        (f"busybox@{DIGEST_E6}", f"busybox@{DIGEST_E6}", f"docker.io/library/busybox@{DIGEST_E6}"),
    ],
)
def test_familiar_and_full_strings(s: str, familiar: str, full: str) -> None:
    ref = parse_reference(s).with_default_tag()
    assert ref.familiar() == familiar
    assert str(ref) == full


def test_reference_value_semantics() -> None:
    ref = parse_reference("busybox")
    assert ref == Reference("docker.io", "library/busybox")
    assert ref.tag is None and ref.digest is None and ref.is_name_only
    assert tag_name_only(ref) == Reference("docker.io", "library/busybox", "latest")
    tagged = ref.with_tag("1")
    assert tagged.with_default_tag() is tagged
    digested = ref.with_digest(DIGEST_E6)
    assert digested.with_default_tag() is digested  # a digest alone needs no tag
    both = tagged.with_digest(DIGEST_E6)
    assert both.docker_ref() == digested
    assert both.trimmed() == ref
    assert {ref, Reference("docker.io", "library/busybox")} == {ref}
    with pytest.raises(AttributeError):
        ref.tag = "x"  # type: ignore[misc]


# --- image-ID helpers ---------------------------------------------------------------------


def test_is_full_hex_id() -> None:
    assert is_full_hex_id(HEX64)
    assert not is_full_hex_id(HEX64[:-1])
    assert not is_full_hex_id(HEX64.upper())
    assert not is_full_hex_id("sha256:" + HEX64)


@pytest.mark.parametrize(
    ("s", "hex_part"),
    [
        ("a", "a"),
        ("1a3f5e", "1a3f5e"),
        (HEX64, HEX64),
        ("sha256:" + HEX64, HEX64),
        ("sha256:1a3f", "1a3f"),
        ("busybox", None),
        ("1A3F", None),
        ("sha256:", None),
        ("", None),
        (HEX64 + "0", None),
        ("sha512:1a3f", None),
    ],
)
def test_id_prefixes(s: str, hex_part: str | None) -> None:
    assert looks_like_id_prefix(s) is (hex_part is not None)
    assert id_prefix_hex(s) == hex_part
