"""A small loopback HTTP proxy in front of a registry that injects faults.

    with FaultProxy("127.0.0.1:5000") as proxy:
        proxy.inject("drop", path="/blobs/", times=2)
        ... pull from proxy.host ...

Faults (each consumes one matching request): ``corrupt`` flips a byte of the
body, ``truncate`` sends a short body with a matching short Content-Length,
``drop`` announces the full length and closes the connection half-way,
``stall`` sends half the body and then goes silent, ``500`` answers 500,
``429`` answers 429 with ``Retry-After: 1``. ``bearer=True`` puts a bearer-token
challenge in front (with its own ``/token`` realm, counting token requests), and
``search_results`` serves a v1 search API.
"""

from __future__ import annotations

import http.client
import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade"}


@dataclass
class Fault:
    kind: str
    path: str
    remaining: int


@dataclass
class ProxyState:
    upstream: str
    faults: list[Fault] = field(default_factory=list)
    bearer: bool = False
    tokens_issued: list[list[str]] = field(default_factory=list)
    requests: list[tuple[str, str, dict[str, str]]] = field(default_factory=list)
    search_results: list[dict[str, Any]] | None = None
    stall_seconds: float = 5.0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def take(self, path: str, method: str) -> str | None:
        with self.lock:
            for fault in self.faults:
                if fault.remaining > 0 and fault.path in path and method in ("GET", "HEAD"):
                    fault.remaining -= 1
                    return fault.kind
        return None


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            out = bytearray()
            while True:
                size = int(self.rfile.readline().strip() or b"0", 16)
                if size == 0:
                    self.rfile.readline()
                    return bytes(out)
                out += self.rfile.read(size)
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _simple(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _handle(self) -> None:
        state = self.server.state
        body = self._body()
        path = self.path
        state.requests.append((self.command, path, dict(self.headers.items())))
        if path.startswith("/token"):
            query = parse_qs(urlsplit(path).query)
            scopes = query.get("scope", [])
            with state.lock:
                state.tokens_issued.append(scopes)
                token = f"tok-{len(state.tokens_issued)}"
            self._simple(
                200, json.dumps({"token": token}).encode(), {"Content-Type": "application/json"}
            )
            return
        if path.startswith("/v1/search") and state.search_results is not None:
            q = parse_qs(urlsplit(path).query)
            n = int(q.get("n", ["25"])[0])
            term = q.get("q", [""])[0]
            results = [r for r in state.search_results if term in r["name"]][:n]
            doc = {"num_results": len(results), "query": term, "results": results}
            self._simple(200, json.dumps(doc).encode(), {"Content-Type": "application/json"})
            return
        headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
        if state.bearer:
            auth = self.headers.get("Authorization", "")
            if not auth.startswith("Bearer tok-"):
                host = self.headers.get("Host", "")
                challenge = f'Bearer realm="http://{host}/token",service="faultproxy"'
                self._simple(
                    401,
                    b'{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}',
                    {"WWW-Authenticate": challenge, "Content-Type": "application/json"},
                )
                return
            headers.pop("Authorization", None)
        fault = state.take(path, self.command)
        if fault == "500":
            self._simple(500, b'{"errors":[{"code":"UNKNOWN","message":"injected failure"}]}')
            return
        if fault == "429":
            self._simple(
                429,
                b'{"errors":[{"code":"TOOMANYREQUESTS","message":"slow down"}]}',
                {"Retry-After": "1"},
            )
            return
        conn = http.client.HTTPConnection(state.upstream, timeout=60)
        try:
            conn.request(self.command, path, body=body if body else None, headers=headers)
            resp = conn.getresponse()
            data = resp.read()
        finally:
            conn.close()
        out_headers = [(k, v) for k, v in resp.getheaders() if k.lower() not in HOP_BY_HOP]
        if fault is not None and self.command == "GET" and len(data) > 1:
            self._faulty(resp.status, out_headers, data, fault)
            return
        self.send_response(resp.status)
        for k, v in out_headers:
            if k.lower() != "content-length":
                self.send_header(k, v)
        self.send_header(
            "Content-Length",
            str(len(data)) if self.command != "HEAD" else resp.getheader("Content-Length", "0"),
        )
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def _faulty(self, status: int, headers: list[tuple[str, str]], data: bytes, fault: str) -> None:
        half = len(data) // 2
        if fault == "corrupt":
            data = data[:half] + bytes([data[half] ^ 0xFF]) + data[half + 1 :]
        self.send_response(status)
        for k, v in headers:
            if k.lower() != "content-length":
                self.send_header(k, v)
        if fault == "truncate":
            self.send_header("Content-Length", str(half))
            self.end_headers()
            self.wfile.write(data[:half])
            return
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if fault == "corrupt":
            self.wfile.write(data)
            return
        self.wfile.write(data[:half])
        self.wfile.flush()
        if fault == "stall":
            time.sleep(self.server.state.stall_seconds)
        self.close_connection = True

    do_GET = do_HEAD = do_PUT = do_POST = do_PATCH = do_DELETE = _handle


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    state: ProxyState


class FaultProxy:
    def __init__(self, upstream: str, *, bearer: bool = False) -> None:
        self.state = ProxyState(upstream=upstream, bearer=bearer)
        self.server = _Server(("127.0.0.1", 0), _Handler)
        self.server.state = self.state
        self.host = f"127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def inject(self, kind: str, *, path: str = "/blobs/sha256:", times: int = 1) -> None:
        with self.state.lock:
            self.state.faults.append(Fault(kind, path, times))

    def clear(self) -> None:
        with self.state.lock:
            self.state.faults.clear()

    def pending(self) -> int:
        with self.state.lock:
            return sum(f.remaining for f in self.state.faults)

    def __enter__(self) -> FaultProxy:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
