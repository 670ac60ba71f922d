"""Make image archives for tests and benchmarks without any engine: layer tars,
a config, and Docker's ``manifest.json`` — the legacy ``docker save`` layout."""

from __future__ import annotations

import hashlib
import io
import json
import os
import tarfile
from collections.abc import Iterable
from pathlib import Path


def layer_tar(files: Iterable[tuple[str, bytes]], *, mtime: int = 1_700_000_000) -> bytes:
    """A layer tar holding ``files`` (parent directories added as needed)."""
    buf = io.BytesIO()
    dirs: set[str] = set()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, data in files:
            parts = name.split("/")[:-1]
            for i in range(1, len(parts) + 1):
                d = "/".join(parts[:i])
                if d not in dirs:
                    dirs.add(d)
                    info = tarfile.TarInfo(d)
                    info.type = tarfile.DIRTYPE
                    info.mode = 0o755
                    info.mtime = mtime
                    tar.addfile(info)
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = 0o644
            info.mtime = mtime
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def random_layer(index: int, size: int) -> bytes:
    """One incompressible file of ``size`` bytes."""
    return layer_tar([(f"data/layer{index}.bin", os.urandom(size))])


def small_files_layer(count: int, size: int = 200, *, seed: int = 0) -> bytes:
    files = [
        (f"files/d{n // 1000:03d}/f{n:05d}.txt", (f"{seed}:{n}:" * size).encode()[:size])
        for n in range(count)
    ]
    return layer_tar(files)


def write_archive(
    path: Path, layers: list[bytes], tags: list[str], labels: dict[str, str] | None = None
) -> str:
    """Write a docker-save archive; returns the image ID (config digest)."""
    diff_ids = ["sha256:" + hashlib.sha256(layer).hexdigest() for layer in layers]
    config = {
        "architecture": "amd64",
        "os": "linux",
        "created": "2024-01-01T00:00:00Z",
        "config": {"Cmd": ["sh"], "Labels": labels or None},
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
        "history": [
            {"created": "2024-01-01T00:00:00Z", "created_by": f"layer {n}"}
            for n in range(len(layers))
        ],
    }
    config_bytes = json.dumps(config).encode()
    config_hex = hashlib.sha256(config_bytes).hexdigest()
    manifest = [
        {
            "Config": f"{config_hex}.json",
            "RepoTags": tags,
            "Layers": [f"{d[7:]}/layer.tar" for d in diff_ids],
        }
    ]
    with tarfile.open(path, "w") as tar:
        for diff_id, layer in zip(diff_ids, layers, strict=True):
            info = tarfile.TarInfo(f"{diff_id[7:]}/layer.tar")
            info.size = len(layer)
            tar.addfile(info, io.BytesIO(layer))
        for name, data in (
            (f"{config_hex}.json", config_bytes),
            ("manifest.json", json.dumps(manifest).encode()),
        ):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return "sha256:" + config_hex


def write_many_images(path: Path, count: int, repo: str = "many") -> None:
    """One archive holding ``count`` images that share a single small layer."""
    layer = layer_tar([("etc/hello", b"hello\n")])
    diff_id = "sha256:" + hashlib.sha256(layer).hexdigest()
    manifest = []
    configs: list[tuple[str, bytes]] = []
    for n in range(count):
        config = {
            "architecture": "amd64",
            "os": "linux",
            "created": f"2024-01-01T00:{n // 60 % 60:02d}:{n % 60:02d}Z",
            "config": {"Labels": {"n": str(n)}},
            "rootfs": {"type": "layers", "diff_ids": [diff_id]},
        }
        data = json.dumps(config).encode()
        hexdigest = hashlib.sha256(data).hexdigest()
        configs.append((f"{hexdigest}.json", data))
        manifest.append(
            {
                "Config": f"{hexdigest}.json",
                "RepoTags": [f"{repo}:{n}"],
                "Layers": [f"{diff_id[7:]}/layer.tar"],
            }
        )
    with tarfile.open(path, "w") as tar:
        entries = [
            (f"{diff_id[7:]}/layer.tar", layer),
            *configs,
            ("manifest.json", json.dumps(manifest).encode()),
        ]
        for name, data in entries:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
