"""A registry that corrupts, truncates, drops, stalls, fails or throttles: pull retries
within bounds, then fails clearly with nothing stored; the next pull succeeds."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests import registryd
from tests.conftest import Dockyard, needs_root
from tests.faultproxy import FaultProxy
from tests.integration._distribution_support import (
    FAST_RETRIES,
    cli,
    nothing_stored,
    second_root,
    set_daemon_json,
)

pytestmark = [
    needs_root,
    pytest.mark.skipif(not registryd.available(), reason="docker-registry is not installed"),
]

ATTEMPTS = 3


@pytest.fixture
def proxy(dy: Dockyard, busybox: str, tmp_path: Path) -> Iterator[FaultProxy]:
    """busybox pushed to a registry; a fault proxy in front of it."""
    dy.env["DOCKER_CONFIG"] = str(tmp_path / "docker-config")
    with registryd.registry(tmp_path / "registry") as reg, FaultProxy(reg.host) as fp:
        fp.state.stall_seconds = 3
        dy("tag", "busybox:latest", f"{reg.host}/busybox:latest")
        cli(dy, "push", f"{reg.host}/busybox:latest")
        yield fp


def _puller(tmp_path: Path) -> Dockyard:
    other = second_root(tmp_path)
    other.env["DOCKER_CONFIG"] = str(tmp_path / "docker-config")
    set_daemon_json(other, {"max-download-attempts": ATTEMPTS})
    return other


LAYER = "/blobs/sha256:"


def _layer_blob(tmp_path: Path, image_id: str) -> str:
    engine = Dockyard(tmp_path / "root", tmp_path / "run").engine()
    try:
        return engine.layers.require(engine.images.get(image_id).chain[0]).blob_digest
    finally:
        engine.close()


@pytest.mark.parametrize("kind", ["corrupt", "truncate", "drop", "stall", "500", "429"])
def test_a_passing_fault_is_retried(
    proxy: FaultProxy, busybox: str, tmp_path: Path, kind: str
) -> None:
    other = _puller(tmp_path)
    layer_blob = _layer_blob(tmp_path, busybox)
    proxy.inject(kind, path=f"/blobs/{layer_blob}", times=1)
    out = cli(other, "pull", f"{proxy.host}/busybox", env=FAST_RETRIES).lines
    assert proxy.pending() == 0
    assert out[-1] == f"{proxy.host}/busybox:latest"
    assert other("images", "-q", "--no-trunc").out.strip() == busybox
    if kind in ("truncate", "drop", "stall"):
        # The retry resumed where the body stopped instead of starting over.
        ranged = [h for m, p, h in proxy.state.requests if layer_blob in p and "Range" in h]
        assert ranged, [(m, p, h.get("Range")) for m, p, h in proxy.state.requests]


@pytest.mark.parametrize(
    ("kind", "message"),
    [
        ("corrupt", "filesystem layer verification failed for digest sha256:"),
        ("truncate", "unexpected EOF"),
        ("drop", "unexpected EOF"),
        ("stall", "the registry stalled"),
        ("500", "after 3 attempts: unknown: injected failure"),
        ("429", "toomanyrequests: slow down"),
    ],
)
def test_a_lasting_fault_fails_clearly_and_stores_nothing(
    proxy: FaultProxy, busybox: str, tmp_path: Path, kind: str, message: str
) -> None:
    other = _puller(tmp_path)
    proxy.inject(kind, path=LAYER, times=1000)
    failed = cli(other, "pull", f"{proxy.host}/busybox", env=FAST_RETRIES, check=False)
    assert failed.code == 1
    assert failed.err.startswith("Error response from daemon: "), failed.err
    assert message in failed.err, failed.err
    served = 1000 - proxy.pending()
    assert ATTEMPTS <= served <= ATTEMPTS * 2  # config and layer may each be tried
    nothing_stored(other)
    proxy.clear()
    cli(other, "pull", f"{proxy.host}/busybox", env=FAST_RETRIES)
    assert other("images", "-q", "--no-trunc").out.strip() == busybox


def test_manifest_errors_are_retried_then_reported(proxy: FaultProxy, tmp_path: Path) -> None:
    other = _puller(tmp_path)
    proxy.inject("500", path="/manifests/", times=1)
    cli(other, "pull", f"{proxy.host}/busybox", env=FAST_RETRIES)
    other("rmi", f"{proxy.host}/busybox")
    proxy.inject("500", path="/manifests/", times=1000)
    failed = cli(other, "pull", f"{proxy.host}/busybox", env=FAST_RETRIES, check=False)
    assert failed.err == ("Error response from daemon: unknown: injected failure\n"), failed.err
    nothing_stored(other)
