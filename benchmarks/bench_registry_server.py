#!/usr/bin/env python3
"""dockyard's registry server against Debian's docker-registry (distribution 2.8)
on the same work: the same image pushed to both, then 20 concurrent pulls of all
its blobs; prints throughput and the ratio.

    .venv/bin/python benchmarks/bench_registry_server.py [--layers 5] [--layer-mb 40]
        [--clients 20] [--repeat 3] [--client curl|httpx]

Both servers run on 127.0.0.1 with a private storage directory on the same disk.
A "pull" fetches the manifest and then every blob, one after another, as one
client does; ``--clients`` pulls run at once. The default client is curl (one
process per pull, so the client is not the bottleneck); ``--client httpx``
uses Python threads instead. Pushes (one client, monolithic uploads) are timed
too. Nothing is sent anywhere but loopback.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.unit.test_registry_server_helpers import push_image, start_server  # noqa: E402

REGISTRY_BINARY = "/usr/bin/docker-registry"
NAME = "bench/app"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_docker_registry(storage: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    config = storage.parent / "docker-registry.yml"
    config.write_text(
        "version: 0.1\n"
        "log: {level: error, accesslog: {disabled: true}}\n"
        f"storage: {{filesystem: {{rootdirectory: {storage}}}}}\n"
        f"http: {{addr: 127.0.0.1:{port}}}\n"
    )
    proc = subprocess.Popen([REGISTRY_BINARY, "serve", str(config)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    address = f"127.0.0.1:{port}"
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://{address}/v2/", timeout=1).status_code == 200:
                return proc, address
        except httpx.HTTPError:
            time.sleep(0.05)
    proc.kill()
    raise SystemExit("docker-registry did not start")


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def make_layers(count: int, size: int) -> list[bytes]:
    return [os.urandom(size) for _ in range(count)]


def blob_digests(address: str) -> list[str]:
    r = httpx.get(f"http://{address}/v2/{NAME}/manifests/latest",
                  headers={"Accept": "application/vnd.oci.image.manifest.v1+json"})
    manifest = r.json()
    return [manifest["config"]["digest"], *(layer["digest"] for layer in manifest["layers"])]


def pull_curl(address: str, digests: list[str]) -> int:
    urls = [f"http://{address}/v2/{NAME}/manifests/latest"]
    urls += [f"http://{address}/v2/{NAME}/blobs/{d}" for d in digests]
    args = ["curl", "-sS", "--fail", "-H", "Accept: application/vnd.oci.image.manifest.v1+json"]
    for url in urls:
        args += ["-o", "/dev/null", "-w", "%{size_download}\\n", url]
    out = subprocess.run(args, check=True, capture_output=True, text=True).stdout
    return sum(int(n) for n in out.split())


def pull_httpx(address: str, digests: list[str]) -> int:
    total = 0
    with httpx.Client(base_url=f"http://{address}", timeout=120) as c:
        total += len(c.get(f"/v2/{NAME}/manifests/latest").content)
        for digest in digests:
            with c.stream("GET", f"/v2/{NAME}/blobs/{digest}") as r:
                r.raise_for_status()
                for chunk in r.iter_bytes(1 << 20):
                    total += len(chunk)
    return total


def concurrent_pulls(
    address: str, clients: int, pull: Callable[[str, list[str]], int]
) -> tuple[float, int]:
    digests = blob_digests(address)
    start = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(clients) as pool:
        sizes = list(pool.map(lambda _: pull(address, digests), range(clients)))
    return time.perf_counter() - start, sum(sizes)


def timed_push(address: str, layers: list[bytes]) -> float:
    start = time.perf_counter()
    with httpx.Client(base_url=f"http://{address}", timeout=300) as c:
        push_image(c, NAME, "latest", layers, single_post=False)
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--layers", type=int, default=5)
    parser.add_argument("--layer-mb", type=int, default=40)
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--client", choices=("curl", "httpx"), default="curl")
    parser.add_argument("--workdir", default="/var/tmp")
    args = parser.parse_args()
    if args.client == "curl" and shutil.which("curl") is None:
        args.client = "httpx"
    pull = pull_curl if args.client == "curl" else pull_httpx
    have_registry = os.access(REGISTRY_BINARY, os.X_OK)

    layers = make_layers(args.layers, args.layer_mb << 20)
    image_mb = sum(len(layer) for layer in layers) / 1e6
    print(f"image: {args.layers} layers, {image_mb:.0f} MB; {args.clients} concurrent pulls "
          f"({args.client}); median of {args.repeat}")
    results: dict[str, tuple[float, float]] = {}
    with tempfile.TemporaryDirectory(dir=args.workdir, prefix="bench-registry-") as tmp:
        work = Path(tmp)
        servers: list[tuple[str, Callable[[], tuple[object, str]], Callable[[object], None]]] = []

        def start_dockyard() -> tuple[object, str]:
            server = start_server(work / "dockyard")
            return server, server.address

        servers.append(("dockyard", start_dockyard, lambda s: s.stop()))  # type: ignore[attr-defined]
        if have_registry:
            servers.append((
                "docker-registry",
                lambda: start_docker_registry(work / "docker-registry"),
                lambda p: stop(p),  # type: ignore[arg-type]
            ))
        else:
            print(f"{REGISTRY_BINARY} not installed: dockyard only")
        running: list[tuple[str, object, str, Callable[[object], None]]] = []
        try:
            for label, starter, stopper in servers:
                handle, address = starter()
                running.append((label, handle, address, stopper))
            pushes: dict[str, float] = {}
            samples: dict[str, list[float]] = {label: [] for label, *_ in running}
            totals: dict[str, int] = {}
            for label, _, address, _ in running:
                pushes[label] = timed_push(address, layers)
                assert pull(address, blob_digests(address)) >= image_mb * 1e6  # warm up
            # Alternate the servers round by round so drift hits both alike.
            for _ in range(args.repeat):
                for label, _, address, _ in running:
                    seconds, totals[label] = concurrent_pulls(address, args.clients, pull)
                    samples[label].append(seconds)
            for label, *_ in running:
                seconds = statistics.median(samples[label])
                throughput = totals[label] / seconds / 1e6
                results[label] = (throughput, pushes[label])
                print(f"{label:16} pull {throughput:8.0f} MB/s  ({totals[label] / 1e6:.0f} MB in "
                      f"{seconds:.2f} s)   push {image_mb / pushes[label]:6.0f} MB/s "
                      f"({pushes[label]:.2f} s)")
        finally:
            for _, handle, _, stopper in running:
                stopper(handle)
    if "docker-registry" in results:
        ours, theirs = results["dockyard"], results["docker-registry"]
        print(f"ratio dockyard/docker-registry: pull throughput {ours[0] / theirs[0]:.2f}x, "
              f"push speed {theirs[1] / ours[1]:.2f}x (higher is better for dockyard)")
    print(json.dumps({k: {"pull_MBps": round(v[0]), "push_s": round(v[1], 2)}
                      for k, v in results.items()}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
