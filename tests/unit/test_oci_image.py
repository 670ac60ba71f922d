"""Descriptors, manifests, indexes, image configs, chain IDs and canonical JSON."""

from __future__ import annotations

import base64
import copy
import hashlib
import json
from typing import Any

import pytest

from dockyard.errors import Corrupt, InvalidArgument, NotFound
from dockyard.oci import mediatypes as mt
from dockyard.oci.image import (
    Descriptor,
    HistoryEntry,
    ImageConfig,
    Index,
    Manifest,
    align_history,
    build_config,
    build_index,
    build_manifest,
    canonical_json,
    chain_id,
    chain_ids,
    detect_media_type,
    image_id,
    non_empty_history,
    parse_config,
    parse_index,
    parse_manifest,
    parse_manifest_or_index,
    schema1_error,
    select_manifest,
)
from dockyard.oci.platform import Platform


def _d(n: int) -> str:
    return "sha256:" + hashlib.sha256(str(n).encode()).hexdigest()


CONFIG_DESC = {"mediaType": mt.OCI_CONFIG, "digest": _d(0), "size": 1234}
LAYER_DESC = {"mediaType": mt.OCI_LAYER_GZIP, "digest": _d(1), "size": 5678}

OCI_MANIFEST_DOC: dict[str, Any] = {
    "schemaVersion": 2,
    "mediaType": mt.OCI_MANIFEST,
    "config": CONFIG_DESC,
    "layers": [LAYER_DESC, {**LAYER_DESC, "digest": _d(2), "annotations": {"a": "b"}}],
    "annotations": {"org.opencontainers.image.created": "2024-01-01T00:00:00Z"},
}

DOCKER_MANIFEST_DOC: dict[str, Any] = {
    "schemaVersion": 2,
    "mediaType": mt.DOCKER_MANIFEST,
    "config": {"mediaType": mt.DOCKER_CONFIG, "size": 1469, "digest": _d(3)},
    "layers": [{"mediaType": mt.DOCKER_LAYER_GZIP, "size": 2591575, "digest": _d(4)}],
}


def _index_doc(*entries: dict[str, Any], media_type: str = mt.OCI_INDEX) -> dict[str, Any]:
    return {"schemaVersion": 2, "mediaType": media_type, "manifests": list(entries)}


def _entry(n: int, os: str, arch: str, variant: str = "", **extra: Any) -> dict[str, Any]:
    p: dict[str, Any] = {"architecture": arch, "os": os}
    if variant:
        p["variant"] = variant
    return {"mediaType": mt.OCI_MANIFEST, "digest": _d(n), "size": 500 + n, "platform": p, **extra}


# --- descriptors -----------------------------------------------------------------------------


def test_descriptor_round_trip_and_key_order() -> None:
    raw = {
        "mediaType": mt.OCI_MANIFEST,
        "digest": _d(1),
        "size": 7682,
        "urls": ["https://example.com/blob"],
        "annotations": {"z": "1", "a": "2"},
        "platform": {"architecture": "arm64", "os": "linux", "variant": "v8"},
        "artifactType": "application/vnd.example+type",
    }
    d = Descriptor.from_dict(raw)
    assert d.platform == Platform("linux", "arm64", "v8")
    assert d.urls == ("https://example.com/blob",)
    out = d.to_dict()
    assert list(out) == [
        "mediaType",
        "digest",
        "size",
        "urls",
        "annotations",
        "platform",
        "artifactType",
    ]
    assert list(out["annotations"]) == ["a", "z"]
    assert Descriptor.from_dict(out) == d
    minimal = Descriptor(mt.OCI_LAYER, _d(2), 0)
    assert minimal.to_dict() == {"mediaType": mt.OCI_LAYER, "digest": _d(2), "size": 0}
    assert hash(minimal) == hash(Descriptor(mt.OCI_LAYER, _d(2), 0, annotations={"x": "y"}))


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d.pop("mediaType"), "descriptor: missing mediaType"),
        (lambda d: d.update(mediaType=5), "descriptor: mediaType must be a string"),
        (lambda d: d.pop("digest"), "descriptor: missing digest"),
        (lambda d: d.update(digest="sha256:abc"), "descriptor: invalid checksum digest length"),
        (lambda d: d.update(digest="md5:" + "a" * 32), "descriptor: unsupported digest algorithm"),
        (lambda d: d.update(digest=7), "descriptor: digest must be a string"),
        (lambda d: d.pop("size"), "descriptor: size must be an integer"),
        (lambda d: d.update(size="12"), "descriptor: size must be an integer"),
        (lambda d: d.update(size=True), "descriptor: size must be an integer"),
        (lambda d: d.update(size=1.5), "descriptor: size must be an integer"),
        (lambda d: d.update(size=-1), "descriptor: size must not be negative"),
        (lambda d: d.update(urls="x"), "descriptor: urls must be a list of strings"),
        (
            lambda d: d.update(annotations={"a": 1}),
            "descriptor: annotations must map strings to strings",
        ),
        (lambda d: d.update(platform="linux"), "descriptor: invalid platform: expected an object"),
        (
            lambda d: d.update(platform={"os": "linux", "architecture": 1}),
            "descriptor: invalid platform: 'architecture' must be a string",
        ),
    ],
)
def test_descriptor_validation(mutate: Any, message: str) -> None:
    raw = dict(LAYER_DESC)
    mutate(raw)
    with pytest.raises(Corrupt) as ei:
        Descriptor.from_dict(raw)
    assert ei.value.message == message


def test_descriptor_not_an_object() -> None:
    with pytest.raises(Corrupt, match="expected a JSON object"):
        Descriptor.from_dict(["x"])


def test_descriptor_embedded_data() -> None:
    content = b'{"hello":"world"}'
    digest = "sha256:" + hashlib.sha256(content).hexdigest()
    encoded = base64.b64encode(content).decode()
    d = Descriptor(mt.OCI_CONFIG, digest, len(content), data=encoded)
    assert d.embedded_data() == content
    assert Descriptor(mt.OCI_CONFIG, digest, len(content)).embedded_data() is None
    with pytest.raises(Corrupt, match="does not match"):
        Descriptor(mt.OCI_CONFIG, _d(1), len(content), data=encoded).embedded_data()
    with pytest.raises(Corrupt, match="base64"):
        Descriptor(mt.OCI_CONFIG, digest, len(content), data="!!!").embedded_data()


# --- manifests -------------------------------------------------------------------------------


def test_parse_oci_manifest() -> None:
    m = parse_manifest(json.dumps(OCI_MANIFEST_DOC).encode())
    assert m.media_type == mt.OCI_MANIFEST
    assert m.config.digest == _d(0)
    assert [layer.digest for layer in m.layers] == [_d(1), _d(2)]
    assert m.layers[1].annotations == {"a": "b"}
    assert m.annotations["org.opencontainers.image.created"] == "2024-01-01T00:00:00Z"
    assert m.is_image
    assert m.subject is None


def test_parse_docker_manifest() -> None:
    m = parse_manifest(json.dumps(DOCKER_MANIFEST_DOC), mt.DOCKER_MANIFEST)
    assert m.media_type == mt.DOCKER_MANIFEST
    assert m.config.media_type == mt.DOCKER_CONFIG
    assert m.layers[0].size == 2591575
    assert m.is_image


def test_manifest_media_type_from_transport_or_shape() -> None:
    doc = {k: v for k, v in OCI_MANIFEST_DOC.items() if k != "mediaType"}
    assert parse_manifest(doc).media_type == mt.OCI_MANIFEST
    assert parse_manifest(doc, mt.DOCKER_MANIFEST).media_type == mt.DOCKER_MANIFEST
    assert parse_manifest(doc, "application/json").media_type == mt.OCI_MANIFEST


def test_artifact_manifest_is_not_an_image() -> None:
    doc = copy.deepcopy(OCI_MANIFEST_DOC)
    doc["artifactType"] = "application/vnd.example.sbom"
    doc["config"] = {"mediaType": mt.OCI_EMPTY, "digest": _d(9), "size": 2}
    doc["subject"] = {"mediaType": mt.OCI_MANIFEST, "digest": _d(8), "size": 10}
    m = parse_manifest(doc)
    assert not m.is_image
    assert m.artifact_type == "application/vnd.example.sbom"
    assert m.subject is not None and m.subject.digest == _d(8)


def test_manifest_with_no_layers_is_valid() -> None:
    doc = {**OCI_MANIFEST_DOC, "layers": []}
    assert parse_manifest(doc).layers == ()


@pytest.mark.parametrize(
    ("doc", "media_type", "message"),
    [
        (
            {**OCI_MANIFEST_DOC, "schemaVersion": 3},
            None,
            "invalid manifest: schemaVersion must be 2, not 3",
        ),
        (
            {k: v for k, v in OCI_MANIFEST_DOC.items() if k != "schemaVersion"},
            None,
            "invalid manifest: schemaVersion must be 2, not null",
        ),
        (
            {**OCI_MANIFEST_DOC, "schemaVersion": "2"},
            None,
            'invalid manifest: schemaVersion must be 2, not "2"',
        ),
        (
            {k: v for k, v in OCI_MANIFEST_DOC.items() if k != "config"},
            None,
            "invalid manifest: missing config",
        ),
        (
            {k: v for k, v in OCI_MANIFEST_DOC.items() if k != "layers"},
            None,
            "invalid manifest: missing layers",
        ),
        ({**OCI_MANIFEST_DOC, "layers": {}}, None, "invalid manifest: layers must be a list"),
        (
            {**OCI_MANIFEST_DOC, "layers": [{**LAYER_DESC, "size": -5}]},
            None,
            "invalid manifest: layers[0]: size must not be negative",
        ),
        (
            {**OCI_MANIFEST_DOC, "config": {**CONFIG_DESC, "digest": "nope"}},
            None,
            "invalid manifest: config: invalid checksum digest format",
        ),
        (
            {**OCI_MANIFEST_DOC, "annotations": ["x"]},
            None,
            "invalid manifest: annotations must map strings to strings",
        ),
        (
            _index_doc(_entry(1, "linux", "amd64")),
            mt.OCI_MANIFEST,
            f"media-type: expected manifest but found index ({mt.OCI_INDEX})",
        ),
        (
            {k: v for k, v in OCI_MANIFEST_DOC.items() if k != "mediaType"} | {"manifests": []},
            mt.DOCKER_MANIFEST,
            f"media-type: expected manifest but found index ({mt.DOCKER_MANIFEST})",
        ),
        (
            {**OCI_MANIFEST_DOC, "mediaType": 7},
            None,
            "invalid manifest: mediaType must be a string",
        ),
        (
            {**OCI_MANIFEST_DOC, "manifests": [CONFIG_DESC]},
            None,
            f"media-type: expected manifest but found index ({mt.OCI_MANIFEST})",
        ),
        (
            _index_doc(_entry(1, "linux", "amd64")),
            None,
            f"media-type: expected manifest but found index ({mt.OCI_INDEX})",
        ),
    ],
)
def test_manifest_validation(doc: dict[str, Any], media_type: str | None, message: str) -> None:
    with pytest.raises(Corrupt) as ei:
        parse_manifest(doc, media_type)
    assert ei.value.message == message


def test_known_media_type_field_wins_over_the_transports() -> None:
    # The field is covered by the digest; a Content-Type header is not. Docker/OCI
    # flavour disagreements are tolerated (as containerd does), kind disagreements not.
    doc = {**DOCKER_MANIFEST_DOC, "mediaType": mt.OCI_MANIFEST}
    assert parse_manifest(doc, mt.DOCKER_MANIFEST).media_type == mt.OCI_MANIFEST
    assert parse_index(_index_doc(), mt.DOCKER_MANIFEST_LIST).media_type == mt.OCI_INDEX
    # An unknown field type defers to the descriptor's / transport's type.
    odd = {**OCI_MANIFEST_DOC, "mediaType": "application/vnd.example"}
    assert parse_manifest(odd, mt.OCI_MANIFEST).media_type == mt.OCI_MANIFEST
    no_field = {k: v for k, v in OCI_MANIFEST_DOC.items() if k != "mediaType"}
    with pytest.raises(Corrupt) as ei:
        parse_index(no_field, mt.OCI_INDEX)
    assert ei.value.message == f"media-type: expected index but found manifest ({mt.OCI_INDEX})"


def test_manifest_bad_json() -> None:
    with pytest.raises(Corrupt, match="invalid manifest: not valid JSON"):
        parse_manifest(b"{not json")
    with pytest.raises(Corrupt, match="invalid manifest: expected a JSON object"):
        parse_manifest(b"[1, 2]")
    with pytest.raises(Corrupt, match="not valid JSON"):
        parse_manifest(b"\xff\xfe")


def test_unknown_document_is_unsupported() -> None:
    with pytest.raises(InvalidArgument, match="unsupported manifest format"):
        parse_manifest({"schemaVersion": 2})
    with pytest.raises(InvalidArgument, match="unsupported manifest format"):
        parse_manifest(OCI_MANIFEST_DOC | {"mediaType": "application/vnd.example"})


SCHEMA1_DOC: dict[str, Any] = {
    "schemaVersion": 1,
    "name": "library/busybox",
    "tag": "latest",
    "architecture": "amd64",
    "fsLayers": [{"blobSum": _d(1)}],
    "history": [{"v1Compatibility": "{}"}],
}


@pytest.mark.parametrize(
    ("doc", "media_type"),
    [
        (SCHEMA1_DOC, None),
        (SCHEMA1_DOC, mt.DOCKER_SCHEMA1_SIGNED_MANIFEST),
        ({**SCHEMA1_DOC, "mediaType": mt.DOCKER_SCHEMA1_MANIFEST}, None),
        ({k: v for k, v in SCHEMA1_DOC.items() if k != "schemaVersion"}, None),
        ({**OCI_MANIFEST_DOC, "schemaVersion": 1, "mediaType": None}, None),
    ],
)
def test_schema1_is_refused(doc: dict[str, Any], media_type: str | None) -> None:
    for parser in (parse_manifest, parse_index, parse_manifest_or_index):
        with pytest.raises(InvalidArgument) as ei:
            parser(doc, media_type)
        assert "schema 1 support has been removed" in ei.value.message


def test_schema1_message_is_dockers() -> None:
    assert schema1_error("docker.io/library/old:1").message == (
        "Docker Image Format v1 and Docker Image manifest version 2, schema 1 support has been "
        "removed. Suggest the author of docker.io/library/old:1 to upgrade the image to the OCI "
        "Format or Docker Image manifest v2, schema 2. More information at "
        "https://docs.docker.com/go/deprecated-image-specs/"
    )
    assert schema1_error().message == (
        "Docker Image Format v1 and Docker Image manifest version 2, schema 1 support has been "
        "removed. More information at https://docs.docker.com/go/deprecated-image-specs/"
    )


def test_build_manifest_matches_go_field_order() -> None:
    config = Descriptor(mt.OCI_CONFIG, _d(0), 10)
    layers = [Descriptor(mt.OCI_LAYER_GZIP, _d(1), 20)]
    doc = build_manifest(config, layers, annotations={"b": "2", "a": "1"})
    assert list(doc) == ["schemaVersion", "mediaType", "config", "layers", "annotations"]
    assert canonical_json(doc) == (
        b'{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",'
        b'"config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"'
        + _d(0).encode()
        + b'","size":10},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip",'
        b'"digest":"' + _d(1).encode() + b'","size":20}],"annotations":{"a":"1","b":"2"}}'
    )
    m = parse_manifest(canonical_json(doc))
    assert m.to_dict() == doc
    artifact = build_manifest(
        config, [], artifact_type="x/y", subject=Descriptor(mt.OCI_MANIFEST, _d(5), 1)
    )
    assert list(artifact) == [
        "schemaVersion",
        "mediaType",
        "artifactType",
        "config",
        "layers",
        "subject",
    ]
    docker = build_manifest(config, layers, media_type=mt.DOCKER_MANIFEST)
    assert docker["mediaType"] == mt.DOCKER_MANIFEST
    with pytest.raises(InvalidArgument):
        build_manifest(config, layers, media_type=mt.OCI_INDEX)


# --- indexes ---------------------------------------------------------------------------------


def test_parse_index_and_manifest_list() -> None:
    idx = parse_index(_index_doc(_entry(1, "linux", "amd64"), _entry(2, "linux", "arm64", "v8")))
    assert isinstance(idx, Index)
    assert [m.platform for m in idx.manifests] == [
        Platform("linux", "amd64"),
        Platform("linux", "arm64", "v8"),
    ]
    lst = parse_index(
        _index_doc(
            {**_entry(1, "linux", "amd64"), "mediaType": mt.DOCKER_MANIFEST},
            media_type=mt.DOCKER_MANIFEST_LIST,
        )
    )
    assert lst.media_type == mt.DOCKER_MANIFEST_LIST
    assert parse_index(_index_doc()).manifests == ()


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ({"schemaVersion": 2, "mediaType": mt.OCI_INDEX}, "invalid image index: missing manifests"),
        ({**_index_doc(), "manifests": "x"}, "invalid image index: manifests must be a list"),
        (
            _index_doc(_entry(1, "linux", "amd64"), {"mediaType": mt.OCI_MANIFEST, "size": 1}),
            "invalid image index: manifests[1]: missing digest",
        ),
        ({**_index_doc(), "schemaVersion": 1}, "Docker Image Format v1"),
        (OCI_MANIFEST_DOC, f"media-type: expected index but found manifest ({mt.OCI_MANIFEST})"),
        (
            {**_index_doc(), "config": CONFIG_DESC},
            f"media-type: expected index but found manifest ({mt.OCI_INDEX})",
        ),
    ],
)
def test_index_validation(doc: dict[str, Any], message: str) -> None:
    with pytest.raises((Corrupt, InvalidArgument)) as ei:
        parse_index(doc)
    assert str(ei.value).startswith(message)


def test_parse_manifest_or_index() -> None:
    assert isinstance(parse_manifest_or_index(json.dumps(OCI_MANIFEST_DOC)), Manifest)
    assert isinstance(parse_manifest_or_index(_index_doc()), Index)
    no_type = {k: v for k, v in _index_doc(_entry(1, "linux", "amd64")).items() if k != "mediaType"}
    assert isinstance(parse_manifest_or_index(no_type), Index)
    assert isinstance(parse_manifest_or_index(no_type, mt.DOCKER_MANIFEST_LIST), Index)


def test_detect_media_type() -> None:
    assert detect_media_type({"mediaType": mt.DOCKER_MANIFEST_LIST}, mt.OCI_INDEX) == (
        mt.DOCKER_MANIFEST_LIST
    )
    assert detect_media_type({"mediaType": "x"}, mt.OCI_INDEX) == mt.OCI_INDEX
    assert detect_media_type({"mediaType": "x"}) == "x"
    assert detect_media_type({}, mt.OCI_INDEX + "; charset=utf-8") == mt.OCI_INDEX
    assert detect_media_type({"manifests": []}, "application/octet-stream") == mt.OCI_INDEX
    assert detect_media_type({"config": {}}) == mt.OCI_MANIFEST
    assert detect_media_type({"fsLayers": []}) == mt.DOCKER_SCHEMA1_MANIFEST


def test_build_index_round_trip() -> None:
    descs = [
        Descriptor(mt.OCI_MANIFEST, _d(1), 100, platform=Platform("linux", "amd64")),
        Descriptor(mt.OCI_MANIFEST, _d(2), 200, platform=Platform("linux", "arm", "v7")),
    ]
    doc = build_index(descs, annotations={"k": "v"})
    assert list(doc) == ["schemaVersion", "mediaType", "manifests", "annotations"]
    assert doc["manifests"][1]["platform"] == {
        "architecture": "arm",
        "os": "linux",
        "variant": "v7",
    }
    idx = parse_index(canonical_json(doc))
    assert idx.manifests == tuple(descs)
    assert idx.to_dict() == doc
    with pytest.raises(InvalidArgument):
        build_index(descs, media_type=mt.OCI_MANIFEST)


# --- choosing a manifest from an index ----------------------------------------------------------

ATTESTATION: dict[str, Any] = {
    "mediaType": mt.OCI_MANIFEST,
    "digest": _d(99),
    "size": 840,
    "annotations": {
        "vnd.docker.reference.digest": _d(1),
        "vnd.docker.reference.type": "attestation-manifest",
    },
    "platform": {"architecture": "unknown", "os": "unknown"},
}

MULTI = parse_index(
    _index_doc(
        _entry(1, "linux", "amd64"),
        _entry(2, "linux", "arm", "v6"),
        _entry(3, "linux", "arm", "v7"),
        _entry(4, "linux", "arm64", "v8"),
        _entry(5, "linux", "386"),
        _entry(6, "linux", "ppc64le"),
        _entry(7, "windows", "amd64"),
        ATTESTATION,
    )
)


@pytest.mark.parametrize(
    ("wanted", "digest"),
    [
        (Platform("linux", "amd64"), _d(1)),
        (Platform("linux", "x86_64"), _d(1)),
        (Platform("linux", "arm64"), _d(4)),
        (Platform("linux", "arm64", "v8"), _d(4)),
        (Platform("linux", "aarch64"), _d(4)),
        (Platform("linux", "arm", "v7"), _d(3)),
        (Platform("linux", "arm"), _d(3)),
        (Platform("linux", "armhf"), _d(3)),
        (Platform("linux", "arm", "v6"), _d(2)),
        (Platform("linux", "386"), _d(5)),
        (Platform("linux", "ppc64le"), _d(6)),
        (Platform("windows", "amd64"), _d(7)),
    ],
)
def test_select_manifest(wanted: Platform, digest: str) -> None:
    assert MULTI.select(wanted).digest == digest


def test_select_manifest_fallbacks() -> None:
    only_arm32 = [d for d in MULTI.manifests if d.digest in (_d(2), _d(3))]
    assert select_manifest(only_arm32, Platform("linux", "arm64", "v8")).digest == _d(3)
    only_386 = [d for d in MULTI.manifests if d.digest == _d(5)]
    assert select_manifest(only_386, Platform("linux", "amd64")).digest == _d(5)
    with pytest.raises(NotFound):
        select_manifest(only_386, Platform("linux", "amd64"), strict=True)


def test_select_manifest_not_found_message() -> None:
    with pytest.raises(NotFound) as ei:
        MULTI.select(Platform("linux", "s390x"))
    assert ei.value.message == "no matching manifest for linux/s390x in the manifest list entries"
    with pytest.raises(NotFound) as ei:
        select_manifest([], Platform("linux", "arm64", "v8"))
    assert (
        ei.value.message == "no matching manifest for linux/arm64/v8 in the manifest list entries"
    )


def test_select_manifest_skips_attestations_and_unknown_types() -> None:
    unknown_type = {**_entry(10, "linux", "amd64"), "mediaType": "application/vnd.example+json"}
    no_platform_attestation = {k: v for k, v in ATTESTATION.items() if k != "platform"}
    idx = parse_index(_index_doc(unknown_type, no_platform_attestation))
    with pytest.raises(NotFound):
        idx.select(Platform("linux", "amd64"))


def test_select_manifest_platformless_entry_is_last_resort() -> None:
    bare = {"mediaType": mt.OCI_MANIFEST, "digest": _d(20), "size": 1}
    idx = parse_index(_index_doc(bare, _entry(21, "linux", "amd64")))
    assert idx.select(Platform("linux", "amd64")).digest == _d(21)
    assert idx.select(Platform("linux", "riscv64")).digest == _d(20)


# --- image config --------------------------------------------------------------------------------

BUSYBOX_LIKE_CONFIG: dict[str, Any] = {
    "architecture": "amd64",
    "config": {
        "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
        "Cmd": ["sh"],
    },
    "created": "2024-09-26T21:31:42Z",
    "history": [
        {
            "created": "2024-09-26T21:31:42Z",
            "created_by": "BusyBox 1.37.0 (glibc), Debian 12",
        }
    ],
    "os": "linux",
    "rootfs": {"type": "layers", "diff_ids": [_d(50)]},
}

SPEC_EXAMPLE_CONFIG: dict[str, Any] = {
    "created": "2015-10-31T22:22:56.015925234Z",
    "author": "Alyssa P. Hacker <alyspdev@example.com>",
    "architecture": "amd64",
    "os": "linux",
    "config": {
        "User": "alice",
        "ExposedPorts": {"8080/tcp": {}},
        "Env": [
            "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "FOO=oci_is_a",
        ],
        "Entrypoint": ["/bin/my-app-binary"],
        "Cmd": ["--foreground", "--config", "/etc/my-app.d/default.cfg"],
        "Volumes": {"/var/job-result-data": {}, "/var/log/my-app-logs": {}},
        "WorkingDir": "/home/alice",
        "Labels": {"com.example.project.git.url": "https://example.com/project.git"},
    },
    "rootfs": {
        "diff_ids": [
            "sha256:c6f988f4874bb0add23a778f753c65efe992244e148a1d2ec2a8b664fb66bbd1",
            "sha256:5f70bf18a086007016e948b04aed3b82103a36bea41755b6cddfaf10ace3c6ef",
        ],
        "type": "layers",
    },
    "history": [
        {
            "created": "2015-10-31T22:22:54.690851953Z",
            "created_by": "/bin/sh -c #(nop) ADD "
            "file:a3bc1e842b69636f9df5256c49c5374fb4eef1e281fe3f282c65fb853ee171c5 in /",
        },
        {
            "created": "2015-10-31T22:22:55.613815829Z",
            "created_by": '/bin/sh -c #(nop) CMD ["sh"]',
            "empty_layer": True,
        },
        {"created": "2015-10-31T22:22:56.329850019Z", "created_by": "/bin/sh -c apk add curl"},
    ],
}


def test_parse_spec_example_config() -> None:
    raw = json.dumps(SPEC_EXAMPLE_CONFIG, indent=4).encode()
    cfg = parse_config(raw)
    assert isinstance(cfg, ImageConfig)
    assert cfg.platform == Platform("linux", "amd64")
    assert cfg.author == "Alyssa P. Hacker <alyspdev@example.com>"
    assert cfg.config["User"] == "alice"
    assert len(cfg.diff_ids) == 2
    assert [h.empty_layer for h in cfg.history] == [False, True, False]
    pairs = cfg.layer_history()
    assert [diff for _, diff in pairs] == [cfg.diff_ids[0], None, cfg.diff_ids[1]]
    assert cfg.chain_ids == chain_ids(cfg.diff_ids)
    assert cfg.raw["created"] == SPEC_EXAMPLE_CONFIG["created"]


def test_parse_docker_style_config_with_extra_fields() -> None:
    doc = {
        **BUSYBOX_LIKE_CONFIG,
        "container_config": {"Cmd": ["/bin/sh"]},
        "docker_version": "20.10.7",
        "variant": "v8",
        "architecture": "arm64",
        "config": {**BUSYBOX_LIKE_CONFIG["config"], "Healthcheck": {"Test": ["NONE"]}, "Image": ""},
    }
    cfg = parse_config(doc)
    assert cfg.platform == Platform("linux", "arm64", "v8")
    assert cfg.raw["docker_version"] == "20.10.7"
    assert cfg.config["Healthcheck"] == {"Test": ["NONE"]}


def test_config_missing_os_and_arch_are_tolerated() -> None:
    doc = {"rootfs": {"type": "layers", "diff_ids": []}}
    cfg = parse_config(doc)
    assert (cfg.os, cfg.architecture, cfg.diff_ids, cfg.history, cfg.config) == ("", "", (), (), {})


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d.pop("rootfs"), "invalid image JSON, no RootFS key"),
        (lambda d: d.update(rootfs=[]), "invalid image config: rootfs: expected a JSON object"),
        (
            lambda d: d["rootfs"].update(type="layerz"),
            'invalid image config: rootfs type "layerz" is not supported',
        ),
        (
            lambda d: d["rootfs"].pop("type"),
            "invalid image config: rootfs type null is not supported",
        ),
        (
            lambda d: d["rootfs"].update(diff_ids=["sha256:nope"]),
            "invalid image config: rootfs.diff_ids[0]: invalid checksum digest length",
        ),
        (
            lambda d: d["rootfs"].update(diff_ids="x"),
            "invalid image config: rootfs: diff_ids must be a list of strings",
        ),
        (lambda d: d.update(os=1), "invalid image config: os must be a string"),
        (lambda d: d.update(history={}), "invalid image config: history must be a list"),
        (
            lambda d: d.update(history=[{"empty_layer": "yes"}]),
            "invalid image config: history[0]: empty_layer must be a boolean",
        ),
        (
            lambda d: d.update(history=[{"created_by": 5}]),
            "invalid image config: history[0]: created_by must be a string",
        ),
        (lambda d: d.update(config=[]), "invalid image config: config: expected a JSON object"),
        (
            lambda d: d["config"].update(Cmd="sh"),
            "invalid image config: config: Cmd must be a list of strings",
        ),
        (
            lambda d: d["config"].update(Labels={"a": 1}),
            "invalid image config: config: Labels must map strings to strings",
        ),
        (
            lambda d: d["config"].update(ExposedPorts=["80/tcp"]),
            "invalid image config: config: ExposedPorts: expected a JSON object",
        ),
    ],
)
def test_config_validation(mutate: Any, message: str) -> None:
    doc = copy.deepcopy(BUSYBOX_LIKE_CONFIG)
    mutate(doc)
    with pytest.raises(Corrupt) as ei:
        parse_config(doc)
    assert ei.value.message == message


def test_config_null_optionals_are_absent() -> None:
    doc = copy.deepcopy(BUSYBOX_LIKE_CONFIG)
    doc.update(config=None, history=None, author=None)
    doc["rootfs"]["diff_ids"] = None
    cfg = parse_config(doc)
    assert (cfg.config, cfg.history, cfg.author, cfg.diff_ids) == ({}, (), None, ())


def test_build_config_canonical_bytes() -> None:
    history = [
        HistoryEntry(
            created="2024-01-01T00:00:00Z", created_by="/bin/sh -c #(nop) ADD file:x in / "
        ),
        HistoryEntry(created="2024-01-01T00:00:01Z", created_by='CMD ["sh"]', empty_layer=True),
    ]
    doc = build_config(
        architecture="amd64",
        os="linux",
        diff_ids=[_d(1)],
        history=history,
        created="2024-01-01T00:00:01Z",
        config={
            "Labels": {"z": "1", "a": "<&>"},
            "Cmd": ["sh"],
            "Env": ["PATH=/bin"],
            "ExposedPorts": {"443/tcp": {}, "80/tcp": {}},
            "User": "",
            "Entrypoint": None,
            "ArgsEscaped": False,
            "Shell": ["/bin/sh", "-c"],
            "Zeta": 1,
            "Alpha": True,
        },
    )
    assert list(doc) == ["created", "architecture", "os", "config", "rootfs", "history"]
    assert list(doc["config"]) == ["ExposedPorts", "Env", "Cmd", "Labels", "Shell", "Alpha", "Zeta"]
    assert list(doc["config"]["ExposedPorts"]) == ["443/tcp", "80/tcp"]
    data = canonical_json(doc)
    assert data == (
        b'{"created":"2024-01-01T00:00:01Z","architecture":"amd64","os":"linux",'
        b'"config":{"ExposedPorts":{"443/tcp":{},"80/tcp":{}},"Env":["PATH=/bin"],"Cmd":["sh"],'
        b'"Labels":{"a":"\\u003c\\u0026\\u003e","z":"1"},"Shell":["/bin/sh","-c"],'
        b'"Alpha":true,"Zeta":1},'
        b'"rootfs":{"type":"layers","diff_ids":["' + _d(1).encode() + b'"]},'
        b'"history":[{"created":"2024-01-01T00:00:00Z",'
        b'"created_by":"/bin/sh -c #(nop) ADD file:x in / "},'
        b'{"created":"2024-01-01T00:00:01Z","created_by":"CMD [\\"sh\\"]","empty_layer":true}]}'
    )
    assert image_id(data) == "sha256:" + hashlib.sha256(data).hexdigest()
    cfg = parse_config(data)
    assert cfg.history == tuple(history)
    assert cfg.config["Labels"] == {"a": "<&>", "z": "1"}


def test_build_config_platform_fields_order() -> None:
    doc = build_config(
        architecture="arm64",
        os="linux",
        variant="v8",
        os_version="1",
        os_features=["f"],
        author="me",
        diff_ids=[],
    )
    assert list(doc) == [
        "author",
        "architecture",
        "os",
        "os.version",
        "os.features",
        "variant",
        "config",
        "rootfs",
    ]
    assert doc["config"] == {}
    assert doc["rootfs"] == {"type": "layers", "diff_ids": []}
    assert parse_config(doc).platform == Platform("linux", "arm64", "v8", "1", ("f",))


def test_build_config_checks_its_input() -> None:
    with pytest.raises(InvalidArgument):
        build_config(architecture="amd64", os="linux", diff_ids=["sha256:bad"])
    with pytest.raises(InvalidArgument, match="1 non-empty entries for 2 layers"):
        build_config(
            architecture="amd64",
            os="linux",
            diff_ids=[_d(1), _d(2)],
            history=[HistoryEntry(created_by="x")],
        )
    with pytest.raises(InvalidArgument, match="Cmd must be a list of strings"):
        build_config(architecture="amd64", os="linux", diff_ids=[], config={"Cmd": "sh"})


# --- history --------------------------------------------------------------------------------------


def test_align_history() -> None:
    h = [
        HistoryEntry(created_by="ADD"),
        HistoryEntry(created_by="ENV", empty_layer=True),
        HistoryEntry(created_by="RUN"),
        HistoryEntry(created_by="CMD", empty_layer=True),
    ]
    assert align_history(h, [_d(1), _d(2)]) == [
        (h[0], _d(1)),
        (h[1], None),
        (h[2], _d(2)),
        (h[3], None),
    ]
    assert non_empty_history(h) == [h[0], h[2]]
    # Fewer non-empty entries than layers: tolerated, as by `docker history`.
    assert align_history(h[:1], [_d(1), _d(2)]) == [(h[0], _d(1))]
    with pytest.raises(Corrupt, match="too many non-empty layers in History section"):
        align_history(h, [_d(1)])
    assert align_history([], []) == []


def test_history_entry_dict() -> None:
    e = HistoryEntry(created="t", created_by="c", author="a", comment="m", empty_layer=True)
    assert list(e.to_dict()) == ["created", "created_by", "author", "comment", "empty_layer"]
    assert HistoryEntry.from_dict(e.to_dict()) == e
    assert HistoryEntry().to_dict() == {}


# --- chain IDs ------------------------------------------------------------------------------------


def _sha(s: str) -> str:
    return "sha256:" + hashlib.sha256(s.encode()).hexdigest()


def test_chain_ids_follow_the_spec_recursion() -> None:
    a, b, c = _d(1), _d(2), _d(3)
    ab = _sha(f"{a} {b}")
    abc = _sha(f"{ab} {c}")
    assert chain_ids([a]) == [a]
    assert chain_ids([a, b]) == [a, ab]
    assert chain_ids([a, b, c]) == [a, ab, abc]
    assert chain_id([a, b, c]) == abc
    assert chain_ids([]) == []
    assert chain_id([]) is None
    # Order matters: the same layers stacked differently are a different chain.
    assert chain_id([b, a]) != chain_id([a, b])


def test_chain_id_known_value() -> None:
    # Spec example config's diff_ids; value fixed by the recursion above.
    ids = SPEC_EXAMPLE_CONFIG["rootfs"]["diff_ids"]
    assert chain_id(ids) == _sha(f"{ids[0]} {ids[1]}")
    assert chain_id(ids) == (
        "sha256:" + hashlib.sha256((ids[0] + " " + ids[1]).encode("ascii")).hexdigest()
    )


# --- canonical JSON -------------------------------------------------------------------------------


def test_canonical_json() -> None:
    assert canonical_json({"b": 1, "a": [True, None, "x"]}) == b'{"b":1,"a":[true,null,"x"]}'
    assert canonical_json({"s": "<a href='x'>&</a>"}) == (
        b'{"s":"\\u003ca href=\'x\'\\u003e\\u0026\\u003c/a\\u003e"}'
    )
    assert canonical_json({"s": "caf\u00e9 \u2028\u2029"}) == (
        '{"s":"caf\u00e9 \\u2028\\u2029"}'.encode()
    )
    assert canonical_json({"s": 'tab\tnl\nq"bs\\\x01'}) == b'{"s":"tab\\tnl\\nq\\"bs\\\\\\u0001"}'
    assert canonical_json({"s": "\ud800"}) == '{"s":"\ufffd"}'.encode()
    with pytest.raises(ValueError):
        canonical_json({"x": float("nan")})


def test_canonical_json_is_stable() -> None:
    doc = build_config(architecture="amd64", os="linux", diff_ids=[_d(1)])
    assert canonical_json(doc) == canonical_json(json.loads(canonical_json(doc)))


# --- media types ----------------------------------------------------------------------------------


def test_media_type_predicates() -> None:
    assert mt.is_manifest(mt.OCI_MANIFEST) and mt.is_manifest(mt.DOCKER_MANIFEST)
    assert mt.is_index(mt.OCI_INDEX) and mt.is_index(mt.DOCKER_MANIFEST_LIST)
    assert not mt.is_manifest(mt.OCI_INDEX)
    assert mt.is_config(mt.DOCKER_CONFIG) and not mt.is_config(mt.OCI_EMPTY)
    assert mt.is_schema1(mt.DOCKER_SCHEMA1_SIGNED_MANIFEST)
    assert mt.layer_compression(mt.DOCKER_LAYER_GZIP) == "gzip"
    assert mt.layer_compression(mt.OCI_LAYER_ZSTD) == "zstd"
    assert mt.layer_compression(mt.OCI_LAYER) == "none"
    assert mt.layer_compression(mt.OCI_CONFIG) is None
    assert mt.is_layer(mt.OCI_LAYER_NONDISTRIBUTABLE_GZIP)
    assert mt.is_nondistributable(mt.DOCKER_LAYER_FOREIGN_GZIP)
    assert not mt.is_nondistributable(mt.OCI_LAYER_GZIP)
    assert mt.layer_type_for("gzip") == mt.OCI_LAYER_GZIP
    assert mt.layer_type_for("none", docker=True) == mt.DOCKER_LAYER
    assert mt.MANIFEST_ACCEPT[0] == mt.OCI_INDEX
