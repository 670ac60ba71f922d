"""``registry garbage-collect``: mark from manifests, sweep the rest, as distribution's."""

from __future__ import annotations

import json
from pathlib import Path

import httpx

from tests.unit.test_registry_server_helpers import (
    OCI_INDEX,
    OCI_MANIFEST,
    push_blob,
    push_image,
    run_gc,
    running_server,
    sha256,
)


def _blob_exists(root: Path, digest: str) -> bool:
    hexpart = digest.split(":")[1]
    return (root / f"docker/registry/v2/blobs/sha256/{hexpart[:2]}/{hexpart}/data").exists()


def _layers(manifest: bytes) -> list[str]:
    body = json.loads(manifest)
    return [body["config"]["digest"], *(layer["digest"] for layer in body["layers"])]


def _populate(root: Path) -> dict[str, object]:
    with running_server(root, "--enable-delete") as s, s.client() as c:
        kept, kept_manifest = push_image(c, "gc/app", "v1", [b"kept layer", b"shared"])
        untagged, untagged_manifest = push_image(c, "gc/app", "old", [b"old layer", b"shared"])
        assert c.delete("/v2/gc/app/manifests/old").status_code == 202
        orphan = push_blob(c, "gc/app", b"uploaded but never referenced")
        child, child_manifest = push_image(c, "gc/multi", "child", [b"child layer"])
        index = json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [
            {"mediaType": OCI_MANIFEST, "digest": child, "size": len(child_manifest)}]})
        assert c.put("/v2/gc/multi/manifests/multi", content=index,
                     headers={"Content-Type": OCI_INDEX}).status_code == 201
        assert c.delete("/v2/gc/multi/manifests/child").status_code == 202
        gone, gone_manifest = push_image(c, "gc/deleted", "v1", [b"deleted image layer"])
        assert c.delete(f"/v2/gc/deleted/manifests/{gone}").status_code == 202
    return {
        "kept": kept, "kept_blobs": _layers(kept_manifest),
        "untagged": untagged, "untagged_blobs": _layers(untagged_manifest),
        "orphan": orphan, "index": sha256(index.encode()), "child": child,
        "child_blobs": _layers(child_manifest), "gone": gone, "gone_blobs": _layers(gone_manifest),
    }


def test_dry_run_deletes_nothing(tmp_path: Path) -> None:
    root = tmp_path / "root"
    found = _populate(root)
    before = sorted(p for p in root.rglob("*"))
    proc = run_gc("--storage", str(root), "--dry-run")
    assert proc.returncode == 0, proc.stderr
    assert f"blob eligible for deletion: {found['orphan']}" in proc.stdout
    assert sorted(p for p in root.rglob("*")) == before


def test_sweeps_unreferenced_blobs(tmp_path: Path) -> None:
    root = tmp_path / "root"
    found = _populate(root)
    proc = run_gc("--storage", str(root))
    assert proc.returncode == 0, proc.stderr
    assert "gc/app: marking manifest " + str(found["kept"]) in proc.stdout
    assert not _blob_exists(root, str(found["orphan"]))
    assert not _blob_exists(root, str(found["gone"]))
    for digest in found["gone_blobs"]:  # type: ignore[attr-defined]
        if digest not in found["kept_blobs"]:  # type: ignore[operator]
            assert not _blob_exists(root, digest)
    # Untagged manifests are kept without --delete-untagged, and so are their blobs.
    for digest in [found["kept"], found["untagged"], found["index"], found["child"],
                   *found["kept_blobs"], *found["untagged_blobs"], *found["child_blobs"]]:  # type: ignore[misc]
        assert _blob_exists(root, str(digest)), digest
    with running_server(root) as s, s.client() as c:
        assert c.get(f"/v2/gc/app/manifests/{found['untagged']}").status_code == 200
        assert c.get(f"/v2/gc/app/blobs/{found['orphan']}").status_code == 404
        _pull_all(c, "gc/app", "v1")
        _pull_all(c, "gc/multi", str(found["child"]))


def test_delete_untagged(tmp_path: Path) -> None:
    root = tmp_path / "root"
    found = _populate(root)
    proc = run_gc("--storage", str(root), "--delete-untagged")
    assert proc.returncode == 0, proc.stderr
    assert f"gc/app: manifest eligible for deletion: {found['untagged']}" in proc.stdout
    assert not _blob_exists(root, str(found["untagged"]))
    assert not _blob_exists(root, sha256(b"old layer"))
    assert _blob_exists(root, sha256(b"shared"))
    # The index is tagged: its untagged child stays, with the child's blobs.
    assert _blob_exists(root, str(found["child"]))
    for digest in found["child_blobs"]:  # type: ignore[attr-defined]
        assert _blob_exists(root, digest)
    with running_server(root) as s, s.client() as c:
        _pull_all(c, "gc/app", "v1")
        assert c.get(f"/v2/gc/app/manifests/{found['untagged']}").status_code == 404
        assert c.get("/v2/gc/multi/manifests/multi").status_code == 200
        _pull_all(c, "gc/multi", str(found["child"]))


def test_needs_storage(tmp_path: Path) -> None:
    proc = run_gc()
    assert proc.returncode == 1 and "configuration file or --storage" in proc.stderr
    proc = run_gc("--storage", str(tmp_path / "absent"))
    assert proc.returncode == 1 and "does not exist" in proc.stderr
    config = tmp_path / "config.yml"
    config.write_text(f"storage: {{filesystem: {{rootdirectory: {tmp_path}}}}}\n")
    proc = run_gc(str(config))
    assert proc.returncode == 0 and "0 blobs marked, 0 blobs" in proc.stdout


def _pull_all(c: httpx.Client, name: str, reference: str) -> None:
    r = c.get(f"/v2/{name}/manifests/{reference}")
    assert r.status_code == 200
    for digest in _layers(r.content):
        blob = c.get(f"/v2/{name}/blobs/{digest}")
        assert blob.status_code == 200 and sha256(blob.content) == digest
