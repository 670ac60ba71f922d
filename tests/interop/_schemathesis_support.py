"""Runs schemathesis against a ``dockyard serve`` that sits in a network namespace of
its own (only ``lo``, brought up): whatever a generated request makes the server do,
no packet can leave the host, and the bridges, veths and iptables rules it creates
vanish with the namespace. The schemathesis CLI joins that namespace (nsenter) and
talks TCP to 127.0.0.1 there; set-up and clean-up use the server's unix socket.

Used by tests/interop/test_api_schemathesis.py (a bounded run) and by
``python -m tests.interop._schemathesis_support`` (the full run, see ``main``).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[2]
SPEC = Path("/work/shared/reference/docker-engine-api-v1.43.yaml")
SPEC_FALLBACK = REPO.parent / "shared" / "reference" / "docker-engine-api-v1.43.yaml"
PORT = 2375  # inside the private namespace: nothing else listens there
REGISTRY = "127.0.0.1:5000"  # dockyard's own registry, in the same namespace
POOL = ("st-created", "st-running")
# hijacked (101 UPGRADED) routes: a plain HTTP client cannot speak them; they are
# covered by the hijack tests
SKIP = {("POST", "/containers/{id}/attach"), ("GET", "/containers/{id}/attach/ws")}
LAUNCHER = (
    "from dockyard.cli.main import COMMANDS, main;"
    "COMMANDS.setdefault('serve', 'serve:cmd_serve');"
    "raise SystemExit(main())"
)


def spec_path() -> Path:
    return SPEC if SPEC.exists() else SPEC_FALLBACK


def implemented_operations() -> list[tuple[str, str]]:
    """(method, spec path) for every route ``dockyard serve`` registers."""
    import importlib

    from aiohttp import web

    from dockyard.api.app import ROUTE_MODULES
    from dockyard.api.http import Router

    router = Router(web.Application())
    for name in ROUTE_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name == name:
                continue
            raise
        module.setup(router)
    found = set()
    for method, path in router.handlers:
        spec = re.sub(r"\{(\w+):[^}]*\}", r"{\1}", path)
        if method != "HEAD" or spec != "/_ping":
            found.add((method, spec))
    return sorted(found)


def operation_regex(operations: list[tuple[str, str]]) -> str:
    """One regex over schemathesis' operation labels ("GET /v1.43/containers/json")."""
    wanted = [op for op in operations if op not in SKIP]
    parts = [re.escape(f"{m} {p}") for m, p in wanted]
    return "^(" + "|".join(parts) + ")$"


@dataclass
class IsolatedServer:
    root: Path
    env: dict[str, str]
    dir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="dy-st-", dir="/tmp")))
    proc: subprocess.Popen[bytes] | None = None
    registry: subprocess.Popen[bytes] | None = None

    @property
    def sock(self) -> str:
        return str(self.dir / "d.sock")

    @property
    def log(self) -> Path:
        return self.dir / "server.log"

    def start(self) -> None:
        env = dict(self.env)
        env["HOME"] = str(self.dir / "home")  # /auth must not touch the real ~/.docker
        env["DOCKER_CONFIG"] = str(self.dir / "home" / ".docker")
        os.makedirs(env["DOCKER_CONFIG"], exist_ok=True)
        script = 'ip link set lo up && exec "$@"'
        argv = ["unshare", "--net", "--", "sh", "-c", script, "sh", sys.executable, "-c"]
        argv += [LAUNCHER, "serve", "-H", f"tcp://127.0.0.1:{PORT}", "-H", f"unix://{self.sock}"]
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(argv, env=env, stdout=log, stderr=log, cwd=REPO)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"serve exited {self.proc.returncode}: {self.log.read_text()}")
            if os.path.exists(self.sock):
                with contextlib.suppress(OSError), socket.socket(socket.AF_UNIX) as s:
                    s.connect(self.sock)
                    return
            time.sleep(0.05)
        raise AssertionError(f"serve did not start: {self.log.read_text()}")

    def start_registry(self) -> None:
        """``dockyard registry serve`` in the namespace: every name the requests use
        points there (see the hooks), so pulls, pushes, logins and searches get a
        registry's real answers rather than a refused connection."""
        argv = ["nsenter", f"--net={self.netns()}", sys.executable, "-c", LAUNCHER]
        argv += ["registry", "serve", "--addr", REGISTRY, "--storage", str(self.dir / "reg")]
        with open(self.dir / "registry.log", "ab") as log:
            self.registry = subprocess.Popen(argv, env=self.env, stdout=log, stderr=log)
        deadline = time.monotonic() + 30
        check = ["nsenter", f"--net={self.netns()}", "curl", "-sf", f"http://{REGISTRY}/v2/"]
        while subprocess.run(check, capture_output=True).returncode != 0:
            if self.registry.poll() is not None or time.monotonic() > deadline:
                raise AssertionError((self.dir / "registry.log").read_text())
            time.sleep(0.1)

    def client(self) -> httpx.Client:
        return httpx.Client(
            transport=httpx.HTTPTransport(uds=self.sock), base_url="http://docker", timeout=60
        )

    def netns(self) -> str:
        assert self.proc is not None
        return f"/proc/{self.proc.pid}/ns/net"

    def make_pool(self) -> list[str]:
        with self.client() as c:
            for name in POOL:
                r = c.post(
                    "/containers/create",
                    params={"name": name},
                    json={"Image": "busybox", "Cmd": ["sleep", "600"]},
                )
                assert r.status_code == 201, r.text
            r = c.post(f"/containers/{POOL[1]}/start")
            assert r.status_code == 204, r.text
        return list(POOL)

    def clean(self) -> None:
        """Everything the run made, through the server (it sits in the namespace)."""
        with self.client() as c:
            for entry in c.get("/containers/json", params={"all": "1"}).json():
                c.delete(f"/containers/{entry['Id']}", params={"force": "1", "v": "1"})
            for net in c.get("/networks").json():
                if net["Name"] not in ("bridge", "host", "none"):
                    c.delete(f"/networks/{net['Id']}")
            c.post("/volumes/prune", params={"filters": json.dumps({"all": ["true"]})})
            c.post("/build/prune", params={"all": "1"})

    def stop(self) -> int | None:
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode

    def _stop_helpers(self) -> None:
        """The run root's DNS server and port proxy (they hold the namespace)."""
        for name in ("dnsd.pid", "portd.pid"):
            with contextlib.suppress(OSError, ValueError):
                pid_file = Path(self.env["DOCKYARD_RUN"]) / "network" / name
                pid = int(pid_file.read_text().strip() or 0)
                if pid > 1:
                    os.kill(pid, signal.SIGTERM)

    def _cli_sweep(self) -> None:
        """Whatever the server could not remove (it hung, say): the CLI, in the
        namespace, straight on the store."""
        enter = ["nsenter", f"--net={self.netns()}", sys.executable, "-m", "dockyard"]
        listed = subprocess.run(
            [*enter, "ps", "-aq", "--no-trunc"], env=self.env, capture_output=True, text=True
        )
        ids = listed.stdout.split()
        if ids:
            subprocess.run([*enter, "rm", "-f", "-v", *ids], env=self.env, capture_output=True)

    def cleanup(self) -> None:
        try:
            if self.proc is not None and self.proc.poll() is None:
                with contextlib.suppress(Exception):
                    self.clean()
                with contextlib.suppress(Exception):
                    self._cli_sweep()
        finally:
            self.stop()
            self._stop_helpers()
            if self.registry is not None and self.registry.poll() is None:
                self.registry.terminate()
                try:
                    self.registry.wait(10)
                except subprocess.TimeoutExpired:
                    self.registry.kill()
                    self.registry.wait()
            shutil.rmtree(self.dir, ignore_errors=True)


def write_daemon_json(config_file: Path) -> None:
    """The mirror is the registry in the namespace: nothing is meant for Docker Hub."""
    config = json.loads(config_file.read_text() or "{}") if config_file.exists() else {}
    config["registry-mirrors"] = [f"http://{REGISTRY}"]
    config["insecure-registries"] = [REGISTRY]
    config["max-download-attempts"] = 1
    config_file.write_text(json.dumps(config))


@contextlib.contextmanager
def isolated_server(root: Path, env: dict[str, str]) -> Iterator[IsolatedServer]:
    write_daemon_json(Path(env["DOCKYARD_CONFIG_FILE"]))
    server = IsolatedServer(root, env)
    try:
        server.start()
        server.start_registry()
        yield server
    finally:
        server.cleanup()


@dataclass
class RunResult:
    code: int
    output: str
    server_log: str
    report: dict[str, object]


def run_schemathesis(
    server: IsolatedServer,
    *,
    max_examples: int,
    phases: str = "examples,coverage,fuzzing",
    seed: int | None = 1,
    max_time: float | None = None,
    workers: int = 2,
    checks: str = "not_a_server_error",
    extra: list[str] | None = None,
) -> RunResult:
    pool = server.make_pool()
    base = f"http://127.0.0.1:{PORT}/v1.43"
    report = server.dir / "report.json"
    argv = ["nsenter", f"--net={server.netns()}", str(Path(sys.executable).parent / "schemathesis")]
    argv += ["run", str(spec_path()), "--url", base, "--checks", checks]
    argv += ["--include-name-regex", operation_regex(implemented_operations())]
    argv += ["--phases", phases, "--max-examples", str(max_examples), "--workers", str(workers)]
    argv += ["--request-timeout", "30", "--continue-on-failure", "--no-color"]
    argv += [
        "--suppress-health-check",
        "all",
        "--report",
        "json",
        "--report-json-path",
        str(report),
    ]
    argv += ["--warnings", "off"]
    if seed is not None:
        argv += ["--seed", str(seed)]
    if max_time is not None:
        argv += ["--max-time", str(int(max_time))]
    argv += extra or []
    env = dict(os.environ)
    env.update(
        SCHEMATHESIS_HOOKS="tests.interop.schemathesis_hooks",
        PYTHONPATH=str(REPO),
        DOCKYARD_ST_BASE=base,
        DOCKYARD_ST_REGISTRY=REGISTRY,
        DOCKYARD_ST_CONTAINERS=",".join(pool),
        NO_COLOR="1",
        COLUMNS="160",
    )
    output = server.dir / "schemathesis.log"  # written as it goes: tail it during a long run
    with open(output, "w") as out:
        proc = subprocess.run(argv, env=env, cwd=REPO, stdout=out, stderr=subprocess.STDOUT)
    data: dict[str, object] = {}
    with contextlib.suppress(OSError, ValueError):
        data = json.loads(report.read_text())
    return RunResult(proc.returncode, output.read_text(), server.log.read_text(), data)


def main() -> int:
    """The full run: ``sudo .venv/bin/python -m tests.interop._schemathesis_support [N]``
    (N examples per operation, default 100) with a private root in a temp directory."""
    import tests.conftest as conf

    examples = int(sys.argv[1]) if len(sys.argv) > 1 else 100
    base = Path(tempfile.mkdtemp(prefix="dy-st-full-", dir="/tmp"))
    dy = conf.Dockyard(base / "root", base / "run")
    try:
        tar = base / "busybox.tar"
        subprocess.run([str(REPO / "scripts" / "make-busybox-rootfs.sh"), str(tar)], check=True)
        dy("import", "-c", 'CMD ["sh"]', str(tar), "busybox:latest")
        with isolated_server(dy.root, dy.env) as server:
            result = run_schemathesis(server, max_examples=examples, seed=None, workers=2)
        print(result.output)
        if os.environ.get("DOCKYARD_ST_KEEP"):
            keep = Path(os.environ["DOCKYARD_ST_KEEP"])
            keep.mkdir(parents=True, exist_ok=True)
            (keep / "output.txt").write_text(result.output)
            (keep / "server.log").write_text(result.server_log)
            (keep / "report.json").write_text(json.dumps(result.report))
        tracebacks = result.server_log.count("Traceback")
        print(f"server tracebacks: {tracebacks}")
        return result.code or (1 if tracebacks else 0)
    finally:
        conf.stop_zygote(dy.run_root)
        conf._unmount_below(base)
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
