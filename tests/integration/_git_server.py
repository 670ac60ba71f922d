"""Git repositories served on loopback for ``ADD <git ref>`` tests: ``git daemon``
(git://), ``git http-backend`` behind a small HTTP server (http://) and a private
``sshd`` (ssh://, ``git@host:path``). All listen on loopback only and are stopped
by PID / shut down afterwards."""

from __future__ import annotations

import gzip
import http.server
import os
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

GIT_ENV = {
    "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
    "HOME": "/nonexistent",
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_AUTHOR_NAME": "Dock Yard",
    "GIT_AUTHOR_EMAIL": "dy@example.invalid",
    "GIT_COMMITTER_NAME": "Dock Yard",
    "GIT_COMMITTER_EMAIL": "dy@example.invalid",
    "LC_ALL": "C",
}


def git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(repo), *args], env=GIT_ENV, check=True, capture_output=True, text=True
    ).stdout.strip()


def make_repo(base: Path, name: str = "repo.git") -> tuple[Path, Path]:
    """A work tree (to commit in) and the bare repository served from ``base``."""
    work = base / "work"
    work.mkdir(parents=True)
    git(work, "init", "-q", "-b", "main")
    (work / "a.txt").write_text("first\n")
    (work / "sub").mkdir()
    (work / "sub" / "b.txt").write_text("in sub\n")
    git(work, "add", ".")
    git(work, "commit", "-q", "-m", "first")
    git(work, "tag", "-a", "v1", "-m", "version 1")
    bare = base / "served" / name
    bare.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        ["git", "clone", "-q", "--bare", str(work), str(bare)],
        env=GIT_ENV, check=True, capture_output=True,
    )  # fmt: skip
    git(work, "remote", "add", "origin", str(bare))
    return work, bare


def commit(work: Path, path: str, text: str, message: str) -> str:
    """Commit a change and push it to the served repository; returns the commit."""
    (work / path).write_text(text)
    git(work, "add", ".")
    git(work, "commit", "-q", "-m", message)
    git(work, "push", "-q", "origin", "main")
    return git(work, "rev-parse", "HEAD")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def git_daemon(base_path: Path) -> Iterator[int]:
    """``git daemon`` exporting ``base_path`` on 127.0.0.1; yields its port."""
    port = free_port()
    proc = subprocess.Popen(
        ["git", "daemon", "--export-all", f"--base-path={base_path}", "--listen=127.0.0.1",
         f"--port={port}", "--reuseaddr", "--informative-errors", str(base_path)],
        env=GIT_ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 20
        while True:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("git daemon did not start")
            time.sleep(0.05)
        yield port
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@dataclass
class Hold:
    """Holds the first fetch (a request that wants objects) until released."""

    reached: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)


class _GitHTTP(http.server.BaseHTTPRequestHandler):
    """Smart HTTP through ``git http-backend`` (CGI)."""

    root = ""
    hold: Hold | None = None

    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        self._cgi(b"")

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            body = b""
            while True:
                size = int(self.rfile.readline().strip(), 16)
                if size == 0:
                    self.rfile.readline()
                    break
                body += self.rfile.read(size)
                self.rfile.readline()
        else:
            body = self.rfile.read(length)
        if self.hold is not None:
            plain = body
            if self.headers.get("Content-Encoding", "").lower() == "gzip":
                plain = gzip.decompress(body)
            if b"want " in plain:
                self.hold.reached.set()
                self.hold.release.wait(120)
        self._cgi(body)

    def _cgi(self, body: bytes) -> None:
        path, _, query = self.path.partition("?")
        env = dict(
            GIT_ENV,
            GIT_PROJECT_ROOT=self.root,
            GIT_HTTP_EXPORT_ALL="1",
            REQUEST_METHOD=self.command,
            PATH_INFO=path,
            QUERY_STRING=query,
            CONTENT_TYPE=self.headers.get("Content-Type", ""),
            CONTENT_LENGTH=str(len(body)),
            REMOTE_ADDR="127.0.0.1",
        )
        if self.headers.get("Content-Encoding"):
            env["HTTP_CONTENT_ENCODING"] = self.headers["Content-Encoding"]
        if self.headers.get("Git-Protocol"):
            env["GIT_PROTOCOL"] = self.headers["Git-Protocol"]
        out = subprocess.run(
            ["git", "http-backend"], input=body, env=env, capture_output=True, check=False
        ).stdout
        head, _, payload = out.partition(b"\r\n\r\n")
        status = 200
        headers = []
        for line in head.decode("latin-1").split("\r\n"):
            key, _, value = line.partition(":")
            if key.lower() == "status":
                status = int(value.split()[0])
            elif key:
                headers.append((key, value.strip()))
        try:
            self.send_response(status)
            for key, value in headers:
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client went away (an interrupted build)


@contextmanager
def git_http(root: Path, hold: Hold | None = None) -> Iterator[int]:
    """Smart HTTP for the repositories in ``root`` on 127.0.0.1; yields its port.
    With ``hold``, fetches wait for ``hold.release`` (ls-remote does not)."""
    handler = type("Handler", (_GitHTTP,), {"root": str(root), "hold": hold})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield int(server.server_address[1])
    finally:
        if hold is not None:
            hold.release.set()
        server.shutdown()
        server.server_close()
        thread.join(10)


# ----------------------------------------------------------------- ssh


SSHD = "/usr/sbin/sshd"


def ssh_keygen(path: Path, comment: str = "dockyard-test") -> Path:
    """A passphrase-less ed25519 key pair at ``path`` (and ``path``.pub)."""
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", str(path)],
        check=True, capture_output=True,
    )  # fmt: skip
    return path


@dataclass
class SSHServer:
    """A private ``sshd`` on loopback: ``git@<address>`` logs in (with a key of
    ``authorized_keys``) to a home holding the served repositories."""

    address: str
    port: int
    home: Path
    log: Path
    host_key: Path

    def url(self, name: str = "repo.git") -> str:
        """The ``ssh://`` URL (with the port) of a served repository."""
        return f"ssh://git@{self.address}:{self.port}{self.home / name}"

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")


@contextmanager
def sshd(
    home: Path,
    work: Path,
    authorized: list[Path],
    *,
    address: str = "127.0.0.1",
    port: int = 0,
    host_key: Path | None = None,
    also: tuple[str, int] | None = None,
) -> Iterator[SSHServer]:
    """``sshd -D`` on ``address``:``port`` (a free port when 0), and on ``also``
    too, for the user ``git``, whose home is ``home`` (so ``git@host:repo.git``
    names ``home/repo.git``). Everything it reads is in ``work``: its configuration,
    host key, authorized keys, pid file and log. The user exists only for sshd:
    it runs in a mount namespace of its own where a copy of ``/etc/passwd`` with
    ``git`` (uid 0) is bound over the real one and ``/run`` is a private tmpfs
    (for ``/run/sshd``, its privilege separation directory). Stopped by PID."""
    work.mkdir(parents=True, exist_ok=True)
    if host_key is None:
        host_key = ssh_keygen(work / "host_key", "dockyard-test-host")
    keys = work / "authorized_keys"
    keys.write_text("".join(Path(f"{k}.pub").read_text() for k in authorized))
    passwd = work / "passwd"
    passwd.write_text(Path("/etc/passwd").read_text() + f"git:x:0:0:git:{home}:/bin/sh\n")
    port = port or free_port()
    config = work / "sshd_config"
    config.write_text(
        f"ListenAddress {address}:{port}\n"
        + (f"ListenAddress {also[0]}:{also[1]}\n" if also else "")
        + f"HostKey {host_key}\n"
        f"PidFile {work / 'sshd.pid'}\n"
        f"AuthorizedKeysFile {keys}\n"
        "StrictModes no\nUsePAM no\nUseDNS no\nPrintMotd no\nPrintLastLog no\n"
        "PubkeyAuthentication yes\nPasswordAuthentication no\n"
        "KbdInteractiveAuthentication no\nPermitRootLogin prohibit-password\n"
        "AllowUsers git\nAcceptEnv GIT_PROTOCOL\nAllowTcpForwarding no\n"
        "X11Forwarding no\nLogLevel VERBOSE\n"
    )
    log = work / "sshd.log"
    script = (
        'mount --bind "$1" /etc/passwd && mount -t tmpfs -o mode=755 dockyard-sshd /run'
        ' && mkdir -m 755 /run/sshd && exec "$2" -D -e -f "$3"'
    )
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            ["unshare", "--mount", "--propagation", "private", "sh", "-c", script, "sshd",
             str(passwd), SSHD, str(config)],
            stdin=subprocess.DEVNULL, stdout=out, stderr=out,
        )  # fmt: skip
    try:
        deadline = time.monotonic() + 20
        waiting = [(address, port), *([also] if also else [])]
        while waiting:
            with socket.socket() as s:
                if s.connect_ex(waiting[0]) == 0:
                    waiting.pop(0)
                    continue
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"sshd did not start: {log.read_text(errors='replace')}")
            time.sleep(0.05)
        yield SSHServer(address, port, home, log, host_key)
    finally:
        proc.send_signal(signal.SIGTERM)  # unshare and sh exec: this is sshd's PID
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
