"""The registry server's HTTP API against the OCI distribution spec: every route,
every bad input with its exact code and status. One server (deletes enabled)
serves the module; each test uses its own repository names."""

from __future__ import annotations

import hashlib
import json
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.unit.test_registry_server_helpers import (
    DOCKER_MANIFEST,
    OCI_CONFIG,
    OCI_INDEX,
    OCI_LAYER,
    OCI_MANIFEST,
    Server,
    push_blob,
    push_image,
    sha256,
    start_server,
)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    s = start_server(tmp_path_factory.mktemp("registry"), "--enable-delete")
    yield s
    assert s.stop() == 0


@pytest.fixture
def client(server: Server) -> Iterator[httpx.Client]:
    with server.client() as c:
        yield c


def error_of(r: httpx.Response) -> str:
    body = r.json()
    assert set(body) == {"errors"} and len(body["errors"]) >= 1
    assert {"code", "message", "detail"} <= set(body["errors"][0])
    return str(body["errors"][0]["code"])


def uploads_left(server: Server, name: str) -> list[str]:
    directory = server.storage / f"docker/registry/v2/repositories/{name}/_uploads"
    return os.listdir(directory) if directory.exists() else []


def blob_files(server: Server, digest: str) -> bool:
    hexpart = digest.split(":")[1]
    blobs = server.storage / "docker/registry/v2/blobs/sha256"
    return (blobs / hexpart[:2] / hexpart / "data").exists()


# ----------------------------------------------------------------- base


def test_base_endpoint(client: httpx.Client) -> None:
    r = client.get("/v2/")
    assert r.status_code == 200
    assert r.json() == {}
    assert r.headers["Docker-Distribution-API-Version"] == "registry/2.0"
    assert client.get("/v2").status_code == 200


def test_unknown_path_is_404_not_500(client: httpx.Client) -> None:
    assert client.get("/v2/foo/bar").status_code == 404
    assert client.get("/other").status_code == 404


def test_wrong_method_is_405_unsupported(client: httpx.Client) -> None:
    r = client.post("/v2/x/manifests/latest")
    assert r.status_code == 405 and error_of(r) == "UNSUPPORTED"
    r = client.put("/v2/x/tags/list")
    assert r.status_code == 405 and error_of(r) == "UNSUPPORTED"


@pytest.mark.parametrize(
    "name",
    ["Upper", "a//b", "-a", "a-", "a..b", "_a", "a/_b", "a" * 256, "a" + "/b" * 130, "a:b"],
)
def test_invalid_names(client: httpx.Client, name: str) -> None:
    for method, path in [
        ("GET", f"/v2/{name}/manifests/latest"),
        ("GET", f"/v2/{name}/tags/list"),
        ("POST", f"/v2/{name}/blobs/uploads/"),
        ("HEAD", f"/v2/{name}/blobs/{sha256(b'x')}"),
    ]:
        r = client.request(method, path)
        assert r.status_code == 400, (method, path, r.status_code)
        if method != "HEAD":
            assert error_of(r) == "NAME_INVALID"


def test_valid_unusual_names(client: httpx.Client) -> None:
    for name in ["a", "a/b/c/d", "a__b", "a---b", "a.b_c-d/e", "manifests/blobs/tags"]:
        push_image(client, name, "v1", [b"layer of " + name.encode()])
        assert client.get(f"/v2/{name}/manifests/v1").status_code == 200


# -------------------------------------------------------------- manifests


def test_push_and_pull_oci_image(client: httpx.Client) -> None:
    layers = [os.urandom(1000), os.urandom(200_000)]
    digest, manifest = push_image(client, "pull/oci", "latest", layers)
    assert digest == sha256(manifest)
    for ref in ("latest", digest):
        r = client.get(f"/v2/pull/oci/manifests/{ref}", headers={"Accept": OCI_MANIFEST})
        assert r.status_code == 200
        assert r.content == manifest
        assert r.headers["Content-Type"] == OCI_MANIFEST
        assert r.headers["Docker-Content-Digest"] == digest
        h = client.head(f"/v2/pull/oci/manifests/{ref}")
        assert h.status_code == 200 and h.content == b""
        assert int(h.headers["Content-Length"]) == len(manifest)
        assert h.headers["Docker-Content-Digest"] == digest
    for desc in json.loads(manifest)["layers"]:
        r = client.get(f"/v2/pull/oci/blobs/{desc['digest']}")
        assert r.status_code == 200 and sha256(r.content) == desc["digest"]
        assert r.headers["Docker-Content-Digest"] == desc["digest"]


def test_manifest_stored_byte_for_byte(client: httpx.Client) -> None:
    config = push_blob(client, "bytes/exact", b"{}")
    manifest = (
        f'{{\n  "schemaVersion": 2,   "mediaType": "{OCI_MANIFEST}",\n'
        f'"config": {{"mediaType": "{OCI_CONFIG}", "digest": "{config}", "size": 2}},\n'
        ' "layers": []}\n\n'
    ).encode()
    r = client.put("/v2/bytes/exact/manifests/odd", content=manifest,
                   headers={"Content-Type": OCI_MANIFEST})
    assert r.status_code == 201
    assert r.headers["Location"] == f"/v2/bytes/exact/manifests/{sha256(manifest)}"
    assert client.get("/v2/bytes/exact/manifests/odd").content == manifest


def test_docker_schema2_manifest(client: httpx.Client) -> None:
    digest, _ = push_image(client, "pull/docker", "v2", [b"docker layer"], DOCKER_MANIFEST)
    r = client.get("/v2/pull/docker/manifests/v2")
    assert r.headers["Content-Type"] == DOCKER_MANIFEST
    assert r.headers["Docker-Content-Digest"] == digest


@pytest.mark.parametrize(
    "index_type", [OCI_INDEX, "application/vnd.docker.distribution.manifest.list.v2+json"]
)
def test_index_needs_its_manifests(client: httpx.Client, index_type: str) -> None:
    name = "index/" + ("oci" if index_type == OCI_INDEX else "list")
    child, child_bytes = push_image(client, name, "child", [b"child layer"])
    missing = sha256(b"not pushed")
    index: dict[str, Any] = {
        "schemaVersion": 2, "mediaType": index_type,
        "manifests": [
            {"mediaType": OCI_MANIFEST, "digest": child, "size": len(child_bytes),
             "platform": {"architecture": "amd64", "os": "linux"}},
        ],
    }
    r = client.put(f"/v2/{name}/manifests/multi", content=json.dumps(index),
                   headers={"Content-Type": index_type})
    assert r.status_code == 201, r.text
    assert client.get(f"/v2/{name}/manifests/multi").headers["Content-Type"] == index_type
    index["manifests"].append({"mediaType": OCI_MANIFEST, "digest": missing, "size": 10})
    r = client.put(f"/v2/{name}/manifests/broken", content=json.dumps(index),
                   headers={"Content-Type": index_type})
    assert r.status_code == 400 and error_of(r) == "MANIFEST_BLOB_UNKNOWN"
    assert client.get(f"/v2/{name}/manifests/broken").status_code == 404


def test_manifest_with_unknown_blob(client: httpx.Client) -> None:
    config = push_blob(client, "refs/missing", b"{}")
    missing = sha256(b"never uploaded")
    manifest = {
        "schemaVersion": 2, "mediaType": OCI_MANIFEST,
        "config": {"mediaType": OCI_CONFIG, "digest": config, "size": 2},
        "layers": [{"mediaType": OCI_LAYER, "digest": missing, "size": 14}],
    }
    r = client.put("/v2/refs/missing/manifests/t", content=json.dumps(manifest),
                   headers={"Content-Type": OCI_MANIFEST})
    assert r.status_code == 400
    assert error_of(r) == "MANIFEST_BLOB_UNKNOWN"
    assert r.json()["errors"][0]["detail"]["digest"] == missing
    assert client.get("/v2/refs/missing/manifests/t").status_code == 404
    # A blob of another repository does not count: it is not linked here.
    other = push_blob(client, "refs/other", b"elsewhere")
    manifest["layers"] = [{"mediaType": OCI_LAYER, "digest": other, "size": 9}]
    r = client.put("/v2/refs/missing/manifests/t", content=json.dumps(manifest),
                   headers={"Content-Type": OCI_MANIFEST})
    assert error_of(r) == "MANIFEST_BLOB_UNKNOWN"
    # Foreign layers with URLs are not looked up (distribution's rule).
    manifest["layers"] = [{"mediaType": "application/vnd.oci.image.layer.nondistributable.v1.tar",
                           "digest": missing, "size": 14, "urls": ["https://example.com/x"]}]
    r = client.put("/v2/refs/missing/manifests/t", content=json.dumps(manifest),
                   headers={"Content-Type": OCI_MANIFEST})
    assert r.status_code == 201


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b"not json", OCI_MANIFEST),
        (b"[]", OCI_MANIFEST),
        (b'{"schemaVersion": 1, "name": "x", "tag": "y", "fsLayers": []}',
         "application/vnd.docker.distribution.manifest.v1+prettyjws"),
        (b'{"schemaVersion": 3, "config": {}}', OCI_MANIFEST),
        (json.dumps({"schemaVersion": 2, "mediaType": DOCKER_MANIFEST}).encode(), OCI_MANIFEST),
        (b'{"schemaVersion": 2, "config": {"mediaType": "x", "digest": "sha256:12", "size": 1}}',
         OCI_MANIFEST),
        (b'{"schemaVersion": 2, "manifests": "nope"}', OCI_INDEX),
        (b'{"schemaVersion": 2}', "application/vnd.example.unknown+json"),
        (b'{"schemaVersion": 2, "config": {"mediaType": "x", "digest": "' + sha256(b"").encode()
         + b'", "size": -1}}', OCI_MANIFEST),
    ],
)
def test_invalid_manifests(client: httpx.Client, body: bytes, content_type: str) -> None:
    r = client.put("/v2/bad/manifest/manifests/t", content=body,
                   headers={"Content-Type": content_type})
    assert r.status_code == 400, r.text
    assert error_of(r) == "MANIFEST_INVALID"
    assert client.get("/v2/bad/manifest/manifests/t").status_code == 404


def test_oversized_manifest_is_413(client: httpx.Client) -> None:
    big = b'{"schemaVersion": 2, "pad": "' + b"x" * (4 << 20) + b'"}'
    r = client.put("/v2/big/manifest/manifests/t", content=big,
                   headers={"Content-Type": OCI_MANIFEST})
    assert r.status_code == 413 and error_of(r) == "SIZE_INVALID"

    def chunked() -> Iterator[bytes]:  # no Content-Length: the limit holds while reading
        for _ in range(5):
            yield b" " * (1 << 20)

    r = client.put("/v2/big/manifest/manifests/t", content=chunked(),
                   headers={"Content-Type": OCI_MANIFEST})
    assert r.status_code == 413 and error_of(r) == "SIZE_INVALID"


def test_put_by_digest_and_extra_tags(client: httpx.Client) -> None:
    config = push_blob(client, "by/digest", b"{}")
    manifest = json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                           "config": {"mediaType": OCI_CONFIG, "digest": config, "size": 2},
                           "layers": []}).encode()
    wrong = sha256(b"something else")
    r = client.put(f"/v2/by/digest/manifests/{wrong}", content=manifest,
                   headers={"Content-Type": OCI_MANIFEST})
    assert r.status_code == 400 and error_of(r) == "DIGEST_INVALID"
    assert client.get(f"/v2/by/digest/manifests/{wrong}").status_code == 404
    digest = sha256(manifest)
    r = client.put(f"/v2/by/digest/manifests/{digest}?tag=1.0&tag=latest", content=manifest,
                   headers={"Content-Type": OCI_MANIFEST})
    assert r.status_code == 201
    assert r.headers["OCI-Tag"] == "1.0, latest"
    assert client.get("/v2/by/digest/tags/list").json()["tags"] == ["1.0", "latest"]
    assert client.get("/v2/by/digest/manifests/1.0").content == manifest


def test_sha512_manifest_digest(client: httpx.Client) -> None:
    config = push_blob(client, "sha512/m", b"{}")
    manifest = json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                           "config": {"mediaType": OCI_CONFIG, "digest": config, "size": 2},
                           "layers": []}).encode()
    digest = "sha512:" + hashlib.sha512(manifest).hexdigest()
    r = client.put(f"/v2/sha512/m/manifests/{digest}", content=manifest,
                   headers={"Content-Type": OCI_MANIFEST})
    assert r.status_code == 201 and r.headers["Docker-Content-Digest"] == digest
    assert client.get(f"/v2/sha512/m/manifests/{digest}").content == manifest


def test_manifest_lookup_errors(client: httpx.Client) -> None:
    push_image(client, "lookup/x", "here", [b"l"])
    r = client.get("/v2/lookup/x/manifests/absent")
    assert r.status_code == 404 and error_of(r) == "MANIFEST_UNKNOWN"
    assert client.head("/v2/lookup/x/manifests/absent").status_code == 404
    r = client.get(f"/v2/lookup/x/manifests/{sha256(b'nothing')}")
    assert r.status_code == 404 and error_of(r) == "MANIFEST_UNKNOWN"
    r = client.get("/v2/never/pushed/manifests/latest")
    assert r.status_code == 404 and error_of(r) == "MANIFEST_UNKNOWN"
    for bad in ["sha256:xyz", "sha256:" + "a" * 63, "md5:" + "a" * 32, "sha256:" + "A" * 64]:
        r = client.get(f"/v2/lookup/x/manifests/{bad}")
        assert r.status_code == 400 and error_of(r) == "DIGEST_INVALID", bad
    for bad_tag in [".hidden", "-dash", "t" * 129]:
        r = client.get(f"/v2/lookup/x/manifests/{bad_tag}")
        assert r.status_code == 400 and error_of(r) == "TAG_INVALID", bad_tag
        r = client.put(f"/v2/lookup/x/manifests/{bad_tag}", content=b"{}",
                       headers={"Content-Type": OCI_MANIFEST})
        assert r.status_code == 400 and error_of(r) == "TAG_INVALID", bad_tag


def test_manifest_conditional_get(client: httpx.Client) -> None:
    digest, _ = push_image(client, "cond/get", "t", [b"c"])
    r = client.get("/v2/cond/get/manifests/t", headers={"If-None-Match": f'"{digest}"'})
    assert r.status_code == 304


# ------------------------------------------------------------------ blobs


def test_blob_get_head_and_ranges(client: httpx.Client) -> None:
    data = os.urandom(3 << 20)
    digest = push_blob(client, "blobs/range", data)
    r = client.head(f"/v2/blobs/range/blobs/{digest}")
    assert r.status_code == 200 and r.content == b""
    assert int(r.headers["Content-Length"]) == len(data)
    assert r.headers["Docker-Content-Digest"] == digest
    r = client.get(f"/v2/blobs/range/blobs/{digest}", headers={"Range": "bytes=100-199"})
    assert r.status_code == 206 and r.content == data[100:200]
    assert r.headers["Content-Range"] == f"bytes 100-199/{len(data)}"
    r = client.get(f"/v2/blobs/range/blobs/{digest}", headers={"Range": "bytes=1048576-"})
    assert r.status_code == 206 and r.content == data[1048576:]
    r = client.get(f"/v2/blobs/range/blobs/{digest}", headers={"Range": f"bytes={len(data)}-"})
    assert r.status_code == 416
    r = client.get(f"/v2/blobs/range/blobs/{digest}", headers={"Range": "bytes=9-2"})
    assert r.status_code == 416
    r = client.get(f"/v2/blobs/range/blobs/{digest}", headers={"Range": "lines=1-2"})
    assert r.status_code == 416


def test_blob_errors(client: httpx.Client) -> None:
    digest = push_blob(client, "blobs/one", b"only in one")
    r = client.get(f"/v2/blobs/two/blobs/{digest}")
    assert r.status_code == 404 and error_of(r) == "BLOB_UNKNOWN"
    assert client.head(f"/v2/blobs/two/blobs/{digest}").status_code == 404
    r = client.get(f"/v2/blobs/one/blobs/{sha256(b'absent')}")
    assert r.status_code == 404 and error_of(r) == "BLOB_UNKNOWN"
    for bad in ["sha256:abc", "nodigest", "sha256:" + "g" * 64, "foo:bar"]:
        r = client.get(f"/v2/blobs/one/blobs/{bad}")
        assert r.status_code == 400 and error_of(r) == "DIGEST_INVALID", bad


# ---------------------------------------------------------------- uploads


def test_monolithic_post_put(client: httpx.Client, server: Server) -> None:
    data = os.urandom(2_500_000)
    r = client.post("/v2/up/mono/blobs/uploads/")
    assert r.status_code == 202
    location = r.headers["Location"]
    assert r.headers["Range"] == "0-0"
    assert uuid.UUID(r.headers["Docker-Upload-UUID"])
    r = client.put(location, params={"digest": sha256(data)}, content=data,
                   headers={"Content-Type": "application/octet-stream"})
    assert r.status_code == 201, r.text
    assert r.headers["Location"] == f"/v2/up/mono/blobs/{sha256(data)}"
    assert r.headers["Docker-Content-Digest"] == sha256(data)
    assert client.get(r.headers["Location"]).content == data
    assert uploads_left(server, "up/mono") == []


def test_single_post_wrong_digest_leaves_nothing(client: httpx.Client, server: Server) -> None:
    data = b"the real content"
    claimed = sha256(b"other content")
    r = client.post("/v2/up/single/blobs/uploads/", params={"digest": claimed}, content=data)
    assert r.status_code == 400 and error_of(r) == "DIGEST_INVALID"
    assert client.head(f"/v2/up/single/blobs/{claimed}").status_code == 404
    assert client.head(f"/v2/up/single/blobs/{sha256(data)}").status_code == 404
    assert not blob_files(server, claimed) and not blob_files(server, sha256(data))
    assert uploads_left(server, "up/single") == []
    r = client.post("/v2/up/single/blobs/uploads/", params={"digest": "sha256:bad"}, content=data)
    assert r.status_code == 400 and error_of(r) == "DIGEST_INVALID"


def test_chunked_upload(client: httpx.Client, server: Server) -> None:
    data = os.urandom(5 * 1024 * 1024 + 123)
    chunks = [data[:2_000_000], data[2_000_000:4_000_000], data[4_000_000:]]
    r = client.post("/v2/up/chunked/blobs/uploads/", headers={"Content-Length": "0"})
    location = r.headers["Location"]
    offset = 0
    for chunk in chunks[:2]:
        r = client.patch(location, content=chunk, headers={
            "Content-Type": "application/octet-stream",
            "Content-Range": f"{offset}-{offset + len(chunk) - 1}",
        })
        assert r.status_code == 202, r.text
        offset += len(chunk)
        assert r.headers["Range"] == f"0-{offset - 1}"
        location = r.headers["Location"]
    r = client.get(location)
    assert r.status_code == 204 and r.headers["Range"] == f"0-{offset - 1}"
    # The last chunk rides on the closing PUT.
    r = client.put(location, params={"digest": sha256(data)}, content=chunks[2], headers={
        "Content-Range": f"{offset}-{len(data) - 1}",
    })
    assert r.status_code == 201, r.text
    assert client.get(f"/v2/up/chunked/blobs/{sha256(data)}").content == data
    r = client.get(location)
    assert r.status_code == 404 and error_of(r) == "BLOB_UPLOAD_UNKNOWN"


def test_streamed_patch_without_range(client: httpx.Client) -> None:
    """Docker's client: one PATCH with a chunked body, then an empty PUT."""
    data = os.urandom(3_000_000)

    def body() -> Iterator[bytes]:
        for i in range(0, len(data), 100_000):
            yield data[i:i + 100_000]

    location = client.post("/v2/up/stream/blobs/uploads/").headers["Location"]
    r = client.patch(location, content=body())
    assert r.status_code == 202 and r.headers["Range"] == f"0-{len(data) - 1}"
    r = client.put(r.headers["Location"], params={"digest": sha256(data)})
    assert r.status_code == 201
    assert client.get(f"/v2/up/stream/blobs/{sha256(data)}").content == data


def test_out_of_order_chunk_is_416(client: httpx.Client) -> None:
    location = client.post("/v2/up/order/blobs/uploads/").headers["Location"]
    r = client.patch(location, content=b"abcd", headers={"Content-Range": "0-3"})
    assert r.status_code == 202
    for bad in ["10-13", "0-3", "2-5"]:
        r = client.patch(location, content=b"efgh", headers={"Content-Range": bad})
        assert r.status_code == 416, bad
        assert r.headers["Range"] == "0-3"
        assert error_of(r) == "BLOB_UPLOAD_INVALID"
    for malformed in ["abc", "4-", "-7", "4_7", "bytes 4-x"]:
        r = client.patch(location, content=b"efgh", headers={"Content-Range": malformed})
        assert r.status_code == 416, malformed
    r = client.put(location, params={"digest": sha256(b"abcdefgh")}, content=b"efgh",
                   headers={"Content-Range": "5-8"})
    assert r.status_code == 416
    r = client.patch(location, content=b"efgh", headers={"Content-Range": "4-7"})
    assert r.status_code == 202 and r.headers["Range"] == "0-7"
    r = client.put(location, params={"digest": sha256(b"abcdefgh")})
    assert r.status_code == 201


def test_range_length_mismatch(client: httpx.Client) -> None:
    location = client.post("/v2/up/length/blobs/uploads/").headers["Location"]
    r = client.patch(location, content=b"abc", headers={"Content-Range": "0-9"})
    assert r.status_code == 400 and error_of(r) == "SIZE_INVALID"

    def body() -> Iterator[bytes]:
        yield b"ab"
        yield b"c"

    r = client.patch(location, content=body(), headers={"Content-Range": "0-9"})
    assert r.status_code == 400 and error_of(r) == "SIZE_INVALID"
    r = client.get(location)
    assert r.status_code == 204 and r.headers["Range"] == "0-0"
    r = client.patch(location, content=b"xyz", headers={"Content-Range": "0-2"})
    assert r.headers["Range"] == "0-2"
    assert client.put(location, params={"digest": sha256(b"xyz")}).status_code == 201


def test_finish_with_wrong_digest(client: httpx.Client, server: Server) -> None:
    location = client.post("/v2/up/wrong/blobs/uploads/").headers["Location"]
    client.patch(location, content=b"payload")
    r = client.put(location)
    assert r.status_code == 400 and error_of(r) == "DIGEST_INVALID"  # no digest
    r = client.put(location, params={"digest": "sha256:nothex"})
    assert r.status_code == 400 and error_of(r) == "DIGEST_INVALID"
    claimed = sha256(b"not the payload")
    r = client.put(location, params={"digest": claimed})
    assert r.status_code == 400 and error_of(r) == "DIGEST_INVALID"
    assert client.head(f"/v2/up/wrong/blobs/{claimed}").status_code == 404
    assert not blob_files(server, sha256(b"payload"))
    assert client.get(location).status_code == 404
    assert uploads_left(server, "up/wrong") == []


def test_unknown_uploads(client: httpx.Client) -> None:
    other = client.post("/v2/up/owner/blobs/uploads/").headers["Docker-Upload-UUID"]
    for upload_id in [str(uuid.uuid4()), "not-a-uuid", "%2e%2e", other]:
        base = f"/v2/up/stranger/blobs/uploads/{upload_id}"
        for method in ("GET", "PATCH", "PUT", "DELETE"):
            r = client.request(method, base, params={"digest": sha256(b"")})
            assert r.status_code == 404, (upload_id, method)
            assert error_of(r) == "BLOB_UPLOAD_UNKNOWN"


def test_cancel_upload(client: httpx.Client, server: Server) -> None:
    location = client.post("/v2/up/cancel/blobs/uploads/").headers["Location"]
    client.patch(location, content=b"partial")
    assert uploads_left(server, "up/cancel")
    r = client.delete(location)
    assert r.status_code == 204
    assert uploads_left(server, "up/cancel") == []
    r = client.delete(location)
    assert r.status_code == 404 and error_of(r) == "BLOB_UPLOAD_UNKNOWN"


def test_empty_blob(client: httpx.Client) -> None:
    location = client.post("/v2/up/empty/blobs/uploads/").headers["Location"]
    r = client.put(location, params={"digest": sha256(b"")})
    assert r.status_code == 201
    r = client.get(f"/v2/up/empty/blobs/{sha256(b'')}")
    assert r.status_code == 200 and r.content == b""


def test_sha512_upload(client: httpx.Client) -> None:
    data = b"five twelve"
    digest = "sha512:" + hashlib.sha512(data).hexdigest()
    r = client.post("/v2/up/sha512/blobs/uploads/", params={"digest-algorithm": "sha512"})
    assert r.status_code == 202
    location = r.headers["Location"]
    client.patch(location, content=data)
    assert client.put(location, params={"digest": digest}).status_code == 201
    assert client.get(f"/v2/up/sha512/blobs/{digest}").content == data
    r = client.post("/v2/up/sha512/blobs/uploads/", params={"digest-algorithm": "md5"})
    assert r.status_code == 400 and error_of(r) == "DIGEST_INVALID"


def test_concurrent_uploads_of_the_same_blob(client: httpx.Client, server: Server) -> None:
    import concurrent.futures

    data = os.urandom(4_000_000)
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        codes = list(pool.map(
            lambda i: server.client().post(
                f"/v2/up/race{i % 2}/blobs/uploads/", params={"digest": sha256(data)},
                content=data).status_code,
            range(8),
        ))
    assert codes == [201] * 8
    for i in range(2):
        assert client.get(f"/v2/up/race{i}/blobs/{sha256(data)}").content == data


# ----------------------------------------------------------------- mounts


def test_cross_repository_mount(client: httpx.Client) -> None:
    data = b"shared layer"
    digest = push_blob(client, "mount/source", data)
    r = client.post("/v2/mount/target/blobs/uploads/",
                    params={"mount": digest, "from": "mount/source"})
    assert r.status_code == 201
    assert r.headers["Location"] == f"/v2/mount/target/blobs/{digest}"
    assert r.headers["Docker-Content-Digest"] == digest
    assert client.get(f"/v2/mount/target/blobs/{digest}").content == data
    # Not in the source repository: an upload session starts instead.
    missing = sha256(b"absent")
    for source in ["mount/source", "mount/nowhere", "INVALID"]:
        r = client.post("/v2/mount/target2/blobs/uploads/",
                        params={"mount": missing, "from": source})
        assert r.status_code == 202 and "/blobs/uploads/" in r.headers["Location"]
    r = client.post("/v2/mount/target2/blobs/uploads/", params={"mount": digest, "from": "x/y"})
    assert r.status_code == 202
    assert client.head(f"/v2/mount/target2/blobs/{digest}").status_code == 404
    r = client.post("/v2/mount/target2/blobs/uploads/", params={"mount": "bad", "from": "a"})
    assert r.status_code == 400 and error_of(r) == "DIGEST_INVALID"


# ------------------------------------------------------------- discovery


def test_tags_list_and_pagination(client: httpx.Client) -> None:
    tags = ["b", "A", "a", "1.0", "latest", "Z_9"]
    for tag in tags:
        push_image(client, "page/tags", tag, [b"same layer"])
    expected = sorted(tags)
    assert client.get("/v2/page/tags/tags/list").json() == {"name": "page/tags", "tags": expected}
    seen: list[str] = []
    url: str | None = "/v2/page/tags/tags/list?n=4"
    pages = 0
    while url:
        r = client.get(url)
        assert r.status_code == 200
        page = r.json()["tags"]
        assert len(page) <= 4
        seen += page
        pages += 1
        link = r.headers.get("Link")
        url = link.split(";")[0].strip("<>") if link else None
        if link:
            assert link.endswith('rel="next"')
    assert seen == expected and pages == 2
    r = client.get("/v2/page/tags/tags/list", params={"n": 2, "last": expected[1]})
    assert r.json()["tags"] == expected[2:4] and "Link" in r.headers
    r = client.get("/v2/page/tags/tags/list", params={"last": expected[3]})
    assert r.json()["tags"] == expected[4:] and "Link" not in r.headers
    r = client.get("/v2/page/tags/tags/list", params={"n": 0})
    assert r.json()["tags"] == [] and "Link" not in r.headers
    r = client.get("/v2/page/tags/tags/list", params={"n": len(tags)})
    assert r.json()["tags"] == expected and "Link" not in r.headers
    for bad in ["-1", "x", "1.5"]:
        r = client.get("/v2/page/tags/tags/list", params={"n": bad})
        assert r.status_code == 400 and error_of(r) == "PAGINATION_NUMBER_INVALID"
    r = client.get("/v2/page/unknown/tags/list")
    assert r.status_code == 404 and error_of(r) == "NAME_UNKNOWN"


def test_catalog_pagination(tmp_path: Path) -> None:
    with_server = start_server(tmp_path)
    try:
        with with_server.client() as c:
            names = ["zeta", "alpha/one", "alpha/two", "beta", "alpha", "gamma/x/y"]
            for name in names:
                push_blob(c, name, name.encode())
            assert c.get("/v2/_catalog").json() == {"repositories": sorted(names)}
            r = c.get("/v2/_catalog", params={"n": 4})
            assert r.json()["repositories"] == sorted(names)[:4]
            link = r.headers["Link"]
            last = sorted(names)[3].replace("/", "%2F")
            assert link == f'</v2/_catalog?last={last}&n=4>; rel="next"'
            r = c.get(link.split(";")[0].strip("<>"))
            assert r.json()["repositories"] == sorted(names)[4:] and "Link" not in r.headers
            r = c.get("/v2/_catalog", params={"n": "many"})
            assert r.status_code == 400 and error_of(r) == "PAGINATION_NUMBER_INVALID"
    finally:
        assert with_server.stop() == 0


def _artifact(client: httpx.Client, name: str, subject: str, subject_size: int,
              artifact_type: str | None, annotations: dict[str, str]) -> str:
    empty = push_blob(client, name, b"{}")
    body: dict[str, object] = {
        "schemaVersion": 2, "mediaType": OCI_MANIFEST,
        "config": {"mediaType": "application/vnd.oci.empty.v1+json", "digest": empty, "size": 2},
        "layers": [],
        "subject": {"mediaType": OCI_MANIFEST, "digest": subject, "size": subject_size},
        "annotations": annotations,
    }
    if artifact_type:
        body["artifactType"] = artifact_type
    data = json.dumps(body).encode()
    r = client.put(f"/v2/{name}/manifests/{sha256(data)}", content=data,
                   headers={"Content-Type": OCI_MANIFEST})
    assert r.status_code == 201, r.text
    assert r.headers["OCI-Subject"] == subject
    return sha256(data)


def test_referrers(client: httpx.Client) -> None:
    name = "refer/app"
    subject, subject_bytes = push_image(client, name, "v1", [b"app"])
    r = client.get(f"/v2/{name}/referrers/{subject}")
    assert r.status_code == 200
    assert r.headers["Content-Type"] == OCI_INDEX
    assert r.json() == {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": []}
    sbom = _artifact(client, name, subject, len(subject_bytes), "application/vnd.example.sbom",
                     {"org.example.format": "json"})
    sig = _artifact(client, name, subject, len(subject_bytes), None, {"sig": "yes"})
    r = client.get(f"/v2/{name}/referrers/{subject}")
    found = {m["digest"]: m for m in r.json()["manifests"]}
    assert set(found) == {sbom, sig}
    assert found[sbom]["artifactType"] == "application/vnd.example.sbom"
    assert found[sbom]["annotations"] == {"org.example.format": "json"}
    assert found[sig]["artifactType"] == "application/vnd.oci.empty.v1+json"  # the config type
    assert found[sbom]["mediaType"] == OCI_MANIFEST and found[sbom]["size"] > 0
    assert "OCI-Filters-Applied" not in r.headers
    r = client.get(f"/v2/{name}/referrers/{subject}",
                   params={"artifactType": "application/vnd.example.sbom"})
    assert r.headers["OCI-Filters-Applied"] == "artifactType"
    assert [m["digest"] for m in r.json()["manifests"]] == [sbom]
    r = client.get(f"/v2/{name}/referrers/{subject}", params={"artifactType": "none/such"})
    assert r.json()["manifests"] == []
    # Unknown subject (even in an unknown repository) is an empty list, never a 404.
    assert client.get(f"/v2/{name}/referrers/{sha256(b'x')}").json()["manifests"] == []
    assert client.get(f"/v2/refer/none/referrers/{sha256(b'x')}").status_code == 200
    r = client.get(f"/v2/{name}/referrers/sha256:nothex")
    assert r.status_code == 400 and error_of(r) == "DIGEST_INVALID"
    # A subject that does not exist yet is accepted (spec: either order).
    ghost = sha256(b"pushed later")
    _artifact(client, name, ghost, 10, "application/vnd.example.sig", {})
    assert len(client.get(f"/v2/{name}/referrers/{ghost}").json()["manifests"]) == 1
    # Deleting a referrer takes it out of the list.
    assert client.delete(f"/v2/{name}/manifests/{sbom}").status_code == 202
    r = client.get(f"/v2/{name}/referrers/{subject}")
    assert [m["digest"] for m in r.json()["manifests"]] == [sig]


# ---------------------------------------------------------------- deletes


def test_delete_tag_manifest_and_blob(client: httpx.Client) -> None:
    name = "del/app"
    digest, manifest = push_image(client, name, "v1", [b"del layer"])
    r = client.put(f"/v2/{name}/manifests/v2", content=manifest,
                   headers={"Content-Type": OCI_MANIFEST})
    assert r.status_code == 201
    assert client.delete(f"/v2/{name}/manifests/v1").status_code == 202
    assert client.get(f"/v2/{name}/manifests/v1").status_code == 404
    assert client.get(f"/v2/{name}/manifests/v2").status_code == 200
    r = client.delete(f"/v2/{name}/manifests/v1")
    assert r.status_code == 404 and error_of(r) == "MANIFEST_UNKNOWN"
    assert client.delete(f"/v2/{name}/manifests/{digest}").status_code == 202
    assert client.get(f"/v2/{name}/manifests/{digest}").status_code == 404
    assert client.get(f"/v2/{name}/manifests/v2").status_code == 404  # its tags went too
    assert client.get(f"/v2/{name}/tags/list").json()["tags"] == []
    r = client.delete(f"/v2/{name}/manifests/{digest}")
    assert r.status_code == 404 and error_of(r) == "MANIFEST_UNKNOWN"
    layer = json.loads(manifest)["layers"][0]["digest"]
    assert client.delete(f"/v2/{name}/blobs/{layer}").status_code == 202
    r = client.get(f"/v2/{name}/blobs/{layer}")
    assert r.status_code == 404 and error_of(r) == "BLOB_UNKNOWN"
    r = client.delete(f"/v2/{name}/blobs/{layer}")
    assert r.status_code == 404 and error_of(r) == "BLOB_UNKNOWN"
    r = client.delete(f"/v2/{name}/blobs/sha256:zz")
    assert r.status_code == 400 and error_of(r) == "DIGEST_INVALID"


def test_deletes_disabled_by_default(tmp_path: Path) -> None:
    server = start_server(tmp_path)
    try:
        with server.client() as c:
            digest, manifest = push_image(c, "nodelete", "v1", [b"keep"])
            layer = json.loads(manifest)["layers"][0]["digest"]
            for path in ["/v2/nodelete/manifests/v1", f"/v2/nodelete/manifests/{digest}",
                         f"/v2/nodelete/blobs/{layer}"]:
                r = c.delete(path)
                assert r.status_code == 405 and error_of(r) == "UNSUPPORTED"
            assert c.get("/v2/nodelete/manifests/v1").status_code == 200
    finally:
        assert server.stop() == 0


# ----------------------------------------------------------- robustness


def test_garbage_never_gets_500(client: httpx.Client) -> None:
    paths = [
        "/v2/a/manifests/", "/v2/a/blobs/", "/v2//manifests/x", "/v2/a/blobs/uploads/x/y",
        "/v2/a/referrers/", "/v2/%00/tags/list", "/v2/a/manifests/%2e%2e",
        "/v2/a/blobs/uploads/%2e%2e", "/v2/" + "a/" * 200 + "tags/list",
        "/v2/_catalog?n=999999999999", "/v2/a/tags/list?n=&last=",
    ]
    for method in ("GET", "HEAD", "PUT", "PATCH", "POST", "DELETE", "OPTIONS"):
        for path in paths:
            r = client.request(method, path, content=b"junk",
                               headers={"Content-Range": "junk", "Content-Type": "x/y"})
            assert r.status_code < 500, (method, path, r.status_code, r.text)
