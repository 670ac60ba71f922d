"""``dockyard serve``: listening, version negotiation, headers, errors, system routes,
events, and a clean stop that leaves containers running."""

from __future__ import annotations

import json
import os
import socket
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import Dockyard, needs_root
from tests.integration._api_support import LAUNCHER, Server, running_server

pytestmark = needs_root


@pytest.fixture
def api(dy: Dockyard, busybox: str) -> Iterator[Server]:
    with running_server(dy) as server:
        yield server


def test_ping_get_and_head_carry_dockerd_headers(api: Server) -> None:
    with api.client() as c:
        r = c.get("/_ping")
        assert r.status_code == 200 and r.text == "OK"
        assert r.headers["api-version"] == "1.43"
        assert r.headers["docker-experimental"] == "false"
        assert r.headers["ostype"] == "linux"
        assert r.headers["server"].startswith("Docker/")
        h = c.head("/v1.43/_ping")
        assert h.status_code == 200 and h.content == b""
        assert h.headers["api-version"] == "1.43"


def test_version_negotiation(api: Server) -> None:
    with api.client() as c:
        assert c.get("/v1.24/version").status_code == 200
        version = c.get("/v1.43/version").json()
        assert version["ApiVersion"] == "1.43" and version["MinAPIVersion"] == "1.24"
        assert version["Os"] == "linux"
        too_new = c.get("/v1.44/version")
        assert too_new.status_code == 400
        assert too_new.json() == {
            "message": "client version 1.44 is too new. Maximum supported API version is 1.43"
        }
        too_old = c.get("/v1.12/info")
        assert too_old.status_code == 400
        assert too_old.json()["message"] == (
            "client version 1.12 is too old. Minimum supported API version is 1.24,"
            " please upgrade your client to a newer version"
        )


def test_errors_are_json_messages_with_docker_statuses(api: Server) -> None:
    with api.client() as c:
        r = c.get("/v1.43/nothing/here")
        assert r.status_code == 404 and r.json() == {"message": "page not found"}
        r = c.get("/containers/nope/json")
        assert r.status_code == 404 and r.json() == {"message": "No such container: nope"}
        r = c.get("/images/nope:latest/json")
        assert r.status_code == 404 and "No such image" in r.json()["message"]
        r = c.post(
            "/containers/create", content=b"{not json", headers={"Content-Type": "application/json"}
        )
        assert r.status_code == 400 and r.json()["message"].startswith("invalid JSON")
        r = c.post("/containers/create", json={"Image": "busybox", "Cmd": 5})
        assert r.status_code == 400 and r.json()["message"] == "invalid type for Cmd"
        r = c.post("/containers/create", json=["a list"])
        assert r.status_code == 400
        r = c.get("/containers/json", params={"filters": "{bad"})
        assert r.status_code == 400 and "invalid filter" in r.json()["message"]
        r = c.get("/containers/json", params={"filters": json.dumps({"colour": ["red"]})})
        assert r.status_code == 400 and r.json()["message"] == "Invalid filter 'colour'"
        r = c.put("/_ping")
        assert r.status_code == 405 and "message" in r.json()
        r = c.post("/containers/create", content=b"x" * (17 << 20))
        assert r.status_code == 400 and r.json()["message"] == "request body is too large"


def test_info_and_system_df(api: Server, dy: Dockyard) -> None:
    dy("create", "--name", "idle", "busybox", "true")
    with api.client() as c:
        info = c.get("/info").json()
        assert info["Containers"] == 1 and info["ContainersStopped"] == 1
        assert info["Images"] == 1 and info["OSType"] == "linux"
        df = c.get("/system/df").json()
        assert df["Images"][0]["RepoTags"] == ["busybox:latest"]
        assert [x["Names"] for x in df["Containers"]] == [["/idle"]]
        assert "SizeRw" in df["Containers"][0]
        assert df["Volumes"] == [] and "LayersSize" in df


def test_auth_answers_with_a_message(api: Server) -> None:
    with api.client() as c:
        r = c.post("/auth", json={})
        assert r.status_code >= 400 and r.json()["message"]
        assert c.post("/auth", content=b"").status_code == 400


def test_events_stream_with_filters_and_history(api: Server, dy: Dockyard) -> None:
    seen: list[dict[str, object]] = []
    ready = threading.Event()

    def follow() -> None:
        filters = json.dumps({"type": ["container"], "event": ["create", "destroy"]})
        with (
            api.client() as c,
            c.stream("GET", "/events", params={"filters": filters}) as r,
        ):
            assert r.status_code == 200
            ready.set()
            for line in r.iter_lines():
                seen.append(json.loads(line))
                if len(seen) == 2:
                    return

    thread = threading.Thread(target=follow, daemon=True)
    thread.start()
    assert ready.wait(10)
    time.sleep(0.2)  # the subscription is in place once the headers are out
    before = time.time()
    cid = dy("create", "--name", "ev1", "busybox", "true").out.strip()
    dy("rm", "ev1")
    thread.join(20)
    assert [e["Action"] for e in seen] == ["create", "destroy"]
    create = seen[0]
    assert create["Type"] == "container" and create["id"] == cid and create["status"] == "create"
    assert create["from"] == "busybox"
    actor = create["Actor"]
    assert isinstance(actor, dict) and actor["Attributes"]["name"] == "ev1"
    # since/until: the past only, then the stream ends
    with api.client() as c:
        r = c.get(
            "/events",
            params={
                "since": f"{before - 1:.3f}",
                "until": f"{time.time():.3f}",
                "filters": json.dumps({"container": ["ev1"]}),
            },
        )
        assert r.status_code == 200
        actions = [json.loads(line)["Action"] for line in r.text.splitlines()]
        assert actions == ["create", "destroy"]
        r = c.get("/events", params={"since": "20", "until": "10"})
        assert r.status_code == 400


def test_socket_mode_and_stale_socket(dy: Dockyard) -> None:
    server = Server(dy)
    try:
        with open(server.sock, "w"):
            pass
        os.unlink(server.sock)
        stale = socket.socket(socket.AF_UNIX)
        stale.bind(server.sock)  # a socket nobody listens on: replaced
        stale.close()
        server.start()
        mode = os.stat(server.sock).st_mode
        assert stat.S_ISSOCK(mode) and stat.S_IMODE(mode) == 0o660
        with server.client() as c:
            assert c.get("/_ping").status_code == 200
        # a second server on the same socket refuses to start, and leaves it alone
        second = subprocess.run(
            [sys.executable, "-c", LAUNCHER, "serve", "-H", server.host],
            env=dy.env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert second.returncode == 1
        assert f"another server is listening on {server.sock}" in second.stderr
        with server.client() as c:
            assert c.get("/_ping").status_code == 200
    finally:
        server.cleanup()


def test_several_hosts_and_tcp(dy: Dockyard) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = Server(dy, "-H", f"tcp://127.0.0.1:{port}")
    try:
        server.start()
        with server.client() as c:
            assert c.get("/_ping").text == "OK"
        r = httpx.get(f"http://127.0.0.1:{port}/v1.43/version", timeout=10)
        assert r.json()["ApiVersion"] == "1.43"
    finally:
        server.cleanup()


def test_sigterm_stops_cleanly_and_leaves_containers_running(dy: Dockyard, busybox: str) -> None:
    server = Server(dy)
    try:
        server.start()
        with server.client() as c:
            cid = c.post("/containers/create", json={"Image": "busybox", "Cmd": ["sleep", "60"]})
            cid_text = cid.json()["Id"]
            assert c.post(f"/containers/{cid_text}/start").status_code == 204
        assert server.stop() == 0
        assert not os.path.exists(server.sock)
        assert dy("inspect", "-f", "{{.State.Status}}", cid_text).out.strip() == "running"
        server.start()  # and a new server sees it as it is
        with server.client() as c:
            listed = c.get("/containers/json").json()
            assert [x["Id"] for x in listed] == [cid_text]
            assert c.delete(f"/containers/{cid_text}", params={"force": "1"}).status_code == 204
    finally:
        server.cleanup()
        dy("rm", "-f", cid_text, check=False) if "cid_text" in locals() else None


def test_concurrent_clients(api: Server, dy: Dockyard) -> None:
    dy("create", "--name", "many", "busybox", "true")
    errors: list[str] = []

    def worker() -> None:
        with api.client() as c:
            for _ in range(10):
                for path in ("/containers/json?all=1", "/containers/many/json", "/images/json"):
                    r = c.get(path)
                    if r.status_code != 200:
                        errors.append(f"{path}: {r.status_code} {r.text}")

    threads = [threading.Thread(target=worker) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []


def test_socket_group(dy: Dockyard) -> None:
    import grp

    server = Server(dy, "--group", "daemon")
    try:
        server.start()
        assert os.stat(server.sock).st_gid == grp.getgrnam("daemon").gr_gid
    finally:
        server.cleanup()
    bad = subprocess.run(
        [sys.executable, "-c", LAUNCHER, "serve", "-H", server.host, "--group", "no-such-grp"],
        env=dy.env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert bad.returncode == 1 and "group no-such-grp not found" in bad.stderr


def test_socket_activation(dy: Dockyard, tmp_path_factory: pytest.TempPathFactory) -> None:
    import tempfile

    directory = tempfile.mkdtemp(prefix="dy-act-", dir="/tmp")
    path = os.path.join(directory, "activated.sock")
    listener = socket.socket(socket.AF_UNIX)
    listener.bind(path)
    listener.listen(8)
    code = (
        "import os; os.dup2(int(os.environ.pop('TEST_FD')), 3);"
        "os.environ.update(LISTEN_PID=str(os.getpid()), LISTEN_FDS='1');" + LAUNCHER
    )
    env = dict(dy.env, TEST_FD=str(listener.fileno()))
    proc = subprocess.Popen(
        [sys.executable, "-c", code, "serve", "-H", "fd://"],
        env=env,
        pass_fds=(listener.fileno(),),
        stderr=subprocess.PIPE,
    )
    listener.close()  # the server holds it now
    try:
        with httpx.Client(transport=httpx.HTTPTransport(uds=path), timeout=30) as c:
            deadline = time.monotonic() + 20
            while True:
                try:
                    r = c.get("http://docker/_ping")
                    break
                except httpx.TransportError:
                    assert time.monotonic() < deadline and proc.poll() is None
                    time.sleep(0.05)
            assert r.text == "OK"
    finally:
        proc.terminate()
        assert proc.wait(15) == 0
        import shutil

        shutil.rmtree(directory, ignore_errors=True)


def _make_certs(directory: str) -> dict[str, str]:
    def run(*args: str) -> None:
        subprocess.run(["openssl", *args], cwd=directory, check=True, capture_output=True)

    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    run(
        "req",
        "-x509",
        *ec,
        "-keyout",
        "ca-key.pem",
        "-out",
        "ca.pem",
        "-days",
        "1",
        "-subj",
        "/CN=dockyard-test-ca",
    )
    for name, ext in (
        ("server", "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n"),
        ("client", "extendedKeyUsage=clientAuth\n"),
    ):
        with open(os.path.join(directory, f"{name}.ext"), "w") as f:
            f.write(ext)
        run("req", *ec, "-keyout", f"{name}-key.pem", "-out", f"{name}.csr", "-subj", f"/CN={name}")
        run(
            "x509",
            "-req",
            "-in",
            f"{name}.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca-key.pem",
            "-CAcreateserial",
            "-out",
            f"{name}-cert.pem",
            "-days",
            "1",
            "-extfile",
            f"{name}.ext",
        )
    return {n: os.path.join(directory, n) for n in os.listdir(directory)}


@pytest.mark.skipif(not os.path.exists("/usr/bin/openssl"), reason="openssl is not installed")
def test_tls_verify(dy: Dockyard, tmp_path: Path) -> None:
    import ssl

    certs = _make_certs(str(tmp_path))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = Server(
        dy,
        "-H",
        f"tcp://127.0.0.1:{port}",
        "--tlsverify",
        "--tlscacert",
        certs["ca.pem"],
        "--tlscert",
        certs["server-cert.pem"],
        "--tlskey",
        certs["server-key.pem"],
    )
    try:
        server.start()
        context = ssl.create_default_context(cafile=certs["ca.pem"])
        context.load_cert_chain(certs["client-cert.pem"], certs["client-key.pem"])
        url = f"https://127.0.0.1:{port}/v1.43/version"
        r = httpx.get(url, verify=context, timeout=10)
        assert r.json()["ApiVersion"] == "1.43"
        anonymous = ssl.create_default_context(cafile=certs["ca.pem"])
        with pytest.raises(httpx.TransportError):
            httpx.get(url, verify=anonymous, timeout=10)
        docker = "/usr/local/bin/docker"
        if os.path.exists(docker):
            out = subprocess.run(
                [
                    docker,
                    "--tlsverify",
                    "--tlscacert",
                    certs["ca.pem"],
                    "--tlscert",
                    certs["client-cert.pem"],
                    "--tlskey",
                    certs["client-key.pem"],
                    "-H",
                    f"tcp://127.0.0.1:{port}",
                    "version",
                    "--format",
                    "{{.Server.APIVersion}}",
                ],
                capture_output=True,
                text=True,
                timeout=60,
                env=dict(os.environ, DOCKER_CONFIG=str(tmp_path)),
            )
            assert (out.returncode, out.stdout) == (0, "1.43\n"), out.stderr
    finally:
        server.cleanup()


def test_fifty_clients_while_containers_come_and_go(api: Server, dy: Dockyard) -> None:
    """No error under load, and no file descriptors leak: a second round of thousands
    of requests leaves the server with about as many open files as the first did
    (each worker thread keeps its own store connection: a few files per thread
    the second round may add to the pool; a leak per request would be thousands)."""
    assert api.proc is not None
    body = {"Image": "busybox", "Cmd": ["sh", "-c", "echo up; sleep 0.3"]}
    with api.client() as c:
        watched = c.post(
            "/containers/create",
            json={"Image": "busybox", "Cmd": ["sh", "-c", "while :; do echo t; sleep 0.2; done"]},
        ).json()["Id"]
        assert c.post(f"/containers/{watched}/start").status_code == 204

    def open_fds() -> int:
        assert api.proc is not None
        return len(os.listdir(f"/proc/{api.proc.pid}/fd"))

    requests = [0]

    def load_round() -> list[str]:
        errors: list[str] = []
        stop = threading.Event()

        def client_loop() -> None:
            with api.client() as c:
                while not stop.is_set():
                    for path in (
                        "/containers/json?all=1",
                        f"/containers/{watched}/json",
                        f"/containers/{watched}/logs?stdout=1&tail=5",
                        "/images/json",
                    ):
                        r = c.get(path)
                        requests[0] += 1
                        if r.status_code != 200:
                            errors.append(f"{path}: {r.status_code} {r.text}")

        threads = [threading.Thread(target=client_loop) for _ in range(50)]
        for t in threads:
            t.start()
        with api.client() as c:
            for _ in range(2):  # containers come and go meanwhile
                ids = [c.post("/containers/create", json=body).json()["Id"] for _ in range(3)]
                for cid in ids:
                    r = c.post(f"/containers/{cid}/start")
                    assert r.status_code == 204, r.text
                for cid in ids:
                    assert c.post(f"/containers/{cid}/wait").json()["StatusCode"] == 0
                    assert c.delete(f"/containers/{cid}").status_code == 204
        stop.set()
        for t in threads:
            t.join(60)
        time.sleep(0.5)  # closed connections are reaped
        return errors

    assert load_round() == []
    plateau = open_fds()
    requests[0] = 0
    assert load_round() == []
    assert requests[0] > 1000
    assert open_fds() <= plateau + 3 * 16, (plateau, open_fds())
    with api.client() as c:
        assert c.delete(f"/containers/{watched}", params={"force": "1"}).status_code == 204


def test_bad_addresses_fail_with_a_message(dy: Dockyard) -> None:
    for args, message in (
        (["-H", "bogus://x"], "Invalid bind address format: bogus://x"),
        (["-H", "tcp://127.0.0.1:notaport"], "Invalid bind address format"),
        (["--tlsverify", "-H", "tcp://127.0.0.1:0"], "TLS needs --tlscert and --tlskey"),
        (["-H", "fd://"], "no sockets found via socket activation"),
    ):
        proc = subprocess.run(
            [sys.executable, "-c", LAUNCHER, "serve", *args],
            env=dy.env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert proc.returncode == 1
        assert proc.stderr.startswith("failed to start the API server: ")
        assert message in proc.stderr
