"""Pure parts of the registry server: manifest checks, names, config, pagination."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dockyard.errors import InvalidArgument
from dockyard.registry.server import manifests
from dockyard.registry.server.app import _paginate
from dockyard.registry.server.config import apply_environment, from_mapping, parse_addr
from dockyard.registry.server.errors import RegistryError
from dockyard.registry.server.names import check_name, is_valid_name

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.sampled_from(
        ["schemaVersion", "mediaType", "config", "layers", "manifests", "subject", "digest",
         "size", "urls", "annotations", "artifactType"]), children, max_size=6),
    max_leaves=30,
)


@settings(max_examples=300, deadline=None)
@given(json_values, st.sampled_from(["", manifests.mt.OCI_MANIFEST, manifests.mt.OCI_INDEX,
                                     manifests.mt.DOCKER_MANIFEST, "application/json"]))
def test_parse_only_raises_manifest_invalid(value: object, content_type: str) -> None:
    data = json.dumps(value).encode()
    try:
        manifests.parse(data, content_type)
    except RegistryError as err:
        assert err.code == "MANIFEST_INVALID" and err.status == 400


@given(st.binary(max_size=200))
def test_parse_bytes_never_crashes(data: bytes) -> None:
    try:
        manifests.parse(data, "")
    except RegistryError as err:
        assert err.code == "MANIFEST_INVALID"


def test_parse_deeply_nested_json() -> None:
    with pytest.raises(RegistryError):
        manifests.parse(b"[" * 100_000 + b"]" * 100_000, "")


def test_media_type_from_shape() -> None:
    digest = "sha256:" + "a" * 64
    index = json.dumps({"schemaVersion": 2, "manifests": []}).encode()
    assert manifests.parse(index, "").media_type == manifests.mt.OCI_INDEX
    image = json.dumps({"schemaVersion": 2, "config": {
        "mediaType": "application/x", "digest": digest, "size": 1}}).encode()
    parsed = manifests.parse(image, "application/octet-stream")
    assert parsed.media_type == manifests.mt.OCI_MANIFEST
    assert parsed.artifact_type == "application/x"  # the config type stands in
    assert manifests.stored_media_type(index) == manifests.mt.OCI_INDEX


@pytest.mark.parametrize("name", ["a", "a/b", "a.b-c__d/e-f", "0/1", "x" * 255])
def test_valid_names(name: str) -> None:
    assert is_valid_name(name) and check_name(name) == name


@pytest.mark.parametrize("name", ["", "A", "a/", "/a", "a//b", "a__-b", "a___b", "é", "x" * 256])
def test_invalid_names(name: str) -> None:
    assert not is_valid_name(name)
    with pytest.raises(RegistryError) as err:
        check_name(name)
    assert err.value.code == "NAME_INVALID"


def test_paginate() -> None:
    items = ["a", "b", "c", "d"]
    assert _paginate(items, None, None) == (items, False)
    assert _paginate(items, None, 2) == (["a", "b"], True)
    assert _paginate(items, "b", 2) == (["c", "d"], False)
    assert _paginate(items, "bb", None) == (["c", "d"], False)
    assert _paginate(items, None, 0) == ([], False)
    assert _paginate(items, None, 4) == (items, False)


@pytest.mark.parametrize(
    ("addr", "expected"),
    [(":5000", ("0.0.0.0", 5000)), ("127.0.0.1:0", ("127.0.0.1", 0)),
     ("[::1]:5001", ("::1", 5001)), ("localhost:80", ("localhost", 80))],
)
def test_parse_addr(addr: str, expected: tuple[str, int]) -> None:
    assert parse_addr(addr) == expected


@pytest.mark.parametrize("addr", ["5000", "host:x", "1.2.3.4:70000", "example.com:5000", ""])
def test_parse_addr_rejects(addr: str) -> None:
    with pytest.raises(InvalidArgument):
        parse_addr(addr)


def test_config_mapping() -> None:
    s = from_mapping({
        "version": 0.1,
        "storage": {"filesystem": {"rootdirectory": "/srv/r"}, "delete": {"enabled": True},
                    "maintenance": {"readonly": {"enabled": True}}},
        "http": {"addr": ":5000", "tls": {"certificate": "/c", "key": "/k"}},
        "auth": {"htpasswd": {"realm": "R", "path": "/h"}},
    })
    assert (s.root, s.delete_enabled, s.read_only, s.addr) == ("/srv/r", True, True, ":5000")
    assert (s.tls_certificate, s.tls_key, s.htpasswd_realm, s.htpasswd_path) == (
        "/c", "/k", "R", "/h")
    for bad in [{"storage": {"filesystem": {}, "s3": {}}}, {"auth": {"silly": {}}},
                {"storage": {"delete": {"enabled": "maybe"}}}, {"auth": {"token": {}}},
                {"auth": {"htpasswd": {"path": "/h"}, "token": {"realm": "r"}}}]:
        with pytest.raises(InvalidArgument):
            from_mapping(bad)


def test_environment_overrides_file() -> None:
    data = {"http": {"addr": ":5000"}, "auth": {"token": {"realm": "x"}}}
    env = {"REGISTRY_HTTP_ADDR": "127.0.0.1:6000", "REGISTRY_AUTH": "htpasswd",
           "REGISTRY_AUTH_HTPASSWD_PATH": "/etc/h", "REGISTRY_STORAGE_DELETE_ENABLED": "true"}
    s = from_mapping(apply_environment(data, env))
    assert s.addr == "127.0.0.1:6000" and s.htpasswd_path == "/etc/h" and s.token is None
    assert s.delete_enabled
