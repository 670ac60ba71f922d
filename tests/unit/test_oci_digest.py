from __future__ import annotations

import hashlib

import pytest

from dockyard.errors import InvalidArgument
from dockyard.oci.digest import (
    Digest,
    algorithm_of,
    digest_bytes,
    hex_of,
    is_digest,
    matches_digest_grammar,
    new_hasher,
    parse_digest,
    sha256_digest,
    short_id,
    validate_digest,
    verify,
)

EMPTY_SHA256 = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"


def test_sha256_of_known_inputs() -> None:
    assert sha256_digest(b"") == EMPTY_SHA256
    assert (
        sha256_digest(b"hello world")
        == "sha256:b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9"
    )
    assert digest_bytes(b"") == EMPTY_SHA256
    assert digest_bytes(b"x", "sha512") == "sha512:" + hashlib.sha512(b"x").hexdigest()


@pytest.mark.parametrize(
    "s",
    [
        EMPTY_SHA256,
        "sha384:" + "0" * 96,
        "sha512:" + "a" * 128,
    ],
)
def test_valid_digests(s: str) -> None:
    d = parse_digest(s)
    assert str(d) == s
    assert is_digest(s)
    assert validate_digest(s) == s


# go-digest's error for each malformed digest (Docker prints these verbatim).
@pytest.mark.parametrize(
    ("s", "message"),
    [
        ("", "invalid checksum digest format"),
        ("sha256", "invalid checksum digest format"),
        ("sha256:", "invalid checksum digest format"),
        (":" + "a" * 64, "invalid checksum digest format"),
        ("sha256:" + "a" * 63, "invalid checksum digest length"),
        ("sha256:" + "a" * 65, "invalid checksum digest length"),
        ("sha256:" + "A" * 64, "invalid checksum digest format"),
        ("sha256:" + "g" * 64, "invalid checksum digest format"),
        ("sha512:" + "a" * 64, "invalid checksum digest length"),
        ("md5:d41d8cd98f00b204e9800998ecf8427e", "unsupported digest algorithm"),
        (
            "multihash+base58:QmRZxt2b1FVZPNqd8hsiykDL3TdBDeTSPX9Kv46HmX4Gx8",
            "unsupported digest algorithm",
        ),
        ("blake3:" + "a" * 64, "unsupported digest algorithm"),
        ("SHA256:" + "a" * 64, "invalid checksum digest format"),
        ("sha256:" + "a" * 63 + "!", "invalid checksum digest format"),
        ("foo:bar!", "invalid checksum digest format"),
    ],
)
def test_invalid_digests(s: str, message: str) -> None:
    with pytest.raises(InvalidArgument) as ei:
        parse_digest(s)
    assert ei.value.message == message
    assert not is_digest(s)


def test_grammar_accepts_unregistered_algorithms() -> None:
    assert matches_digest_grammar("sha256+b64u:LCa0a2j_xo_5m0U8HTBBNBNCLXBkg7-g-YpeiGJm564")
    assert matches_digest_grammar("multihash+base58:QmRZxt2b1FVZPNqd8hsiykDL3TdBDeTSPX9Kv46HmX4Gx8")
    assert not matches_digest_grammar("sha256:")
    assert not matches_digest_grammar("Sha256:abc")


def test_helpers() -> None:
    assert hex_of(EMPTY_SHA256) == EMPTY_SHA256[7:]
    assert algorithm_of(EMPTY_SHA256) == "sha256"
    assert short_id(EMPTY_SHA256) == "e3b0c44298fc"
    assert short_id("e3b0c44298fc1c149afbf4c8996fb924") == "e3b0c44298fc"
    assert short_id("abc") == "abc"
    with pytest.raises(InvalidArgument):
        hex_of("nope")


def test_digest_value() -> None:
    d = Digest.of(b"")
    assert str(d) == EMPTY_SHA256
    assert d.algorithm == "sha256"
    assert d.short_id == "e3b0c44298fc"
    assert Digest.parse(EMPTY_SHA256) == d
    assert hash(d) == hash(Digest("sha256", d.hex))


def test_streaming_hasher_and_verify() -> None:
    h = new_hasher()
    for chunk in (b"hello", b" ", b"world"):
        h.update(chunk)
    assert "sha256:" + h.hexdigest() == sha256_digest(b"hello world")
    assert verify(b"", EMPTY_SHA256)
    assert not verify(b"x", EMPTY_SHA256)
    with pytest.raises(InvalidArgument):
        new_hasher("md5")
