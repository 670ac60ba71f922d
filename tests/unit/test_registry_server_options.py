"""``registry serve`` options: config file, TLS, htpasswd, bearer tokens, read-only
mode, signals, resumable uploads across a restart, and start-up errors."""

from __future__ import annotations

import base64
import json
import shutil
import signal
import ssl
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.unit.test_registry_server_helpers import (
    SERVE_CODE,
    push_blob,
    push_image,
    running_server,
    self_signed_cert,
    sha256,
    start_server,
)


def error_code(r: httpx.Response) -> str:
    return str(r.json()["errors"][0]["code"])


def test_sigterm_and_sigint_stop_cleanly(tmp_path: Path) -> None:
    for signum in (signal.SIGTERM, signal.SIGINT):
        server = start_server(tmp_path)
        with server.client() as c:
            assert c.get("/v2/").status_code == 200
        server.proc.send_signal(signum)
        assert server.proc.wait(timeout=15) == 0


def test_config_file(tmp_path: Path) -> None:
    storage = tmp_path / "from-config"
    config = tmp_path / "config.yml"
    config.write_text(
        "version: 0.1\n"
        "log: {level: info}\n"
        f"storage:\n  filesystem:\n    rootdirectory: {storage}\n"
        "  delete:\n    enabled: true\n"
        "http:\n  addr: 127.0.0.1:0\n"
    )
    cmd = [sys.executable, "-c", SERVE_CODE, str(config)]
    proc = subprocess.Popen(cmd, stderr=subprocess.PIPE)
    try:
        assert proc.stderr is not None
        line = proc.stderr.readline().decode()
        assert "listening on 127.0.0.1:" in line, line
        address = line.split("listening on ")[1].split()[0]
        with httpx.Client(base_url=f"http://{address}") as c:
            digest = push_blob(c, "cfg/repo", b"configured")
            assert c.delete(f"/v2/cfg/repo/blobs/{digest}").status_code == 202
        assert (storage / "docker/registry/v2/repositories/cfg/repo").is_dir()
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=15) == 0


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ("storage: {s3: {bucket: x}}\n", "storage driver 's3' is not supported"),
        ("storage: [\n", "configuration error"),
        ("auth: {htpasswd: {realm: x}}\n", "auth.htpasswd.path is required"),
        ("http: {addr: 'nohost'}\n", "invalid listen address"),
        ("http: {addr: '999.1.1.1:5000'}\n", "invalid listen address"),
        ("http: {tls: {certificate: /nonexistent.pem, key: /nonexistent.key}}\n"
         "storage: {filesystem: {rootdirectory: ROOT}}\n", "cannot load TLS"),
        ("auth: {htpasswd: {realm: x, path: /nonexistent/htpasswd}}\n"
         "storage: {filesystem: {rootdirectory: ROOT}}\n", "htpasswd file"),
    ],
)
def test_bad_configuration_fails_to_start(tmp_path: Path, config: str, message: str) -> None:
    path = tmp_path / "config.yml"
    path.write_text(config.replace("ROOT", str(tmp_path / "root")))
    proc = subprocess.run([sys.executable, "-c", SERVE_CODE, str(path)],
                          capture_output=True, text=True, timeout=30)
    assert proc.returncode == 1
    assert message in proc.stderr
    assert "Traceback" not in proc.stderr


def test_address_in_use(tmp_path: Path) -> None:
    with running_server(tmp_path / "a") as first:
        proc = subprocess.run(
            [sys.executable, "-c", SERVE_CODE, "--addr", first.address,
             "--storage", str(tmp_path / "b")],
            capture_output=True, text=True, timeout=30,
        )
        assert proc.returncode == 1
        assert "bind: Address already in use" in proc.stderr


def test_help_lists_the_flags() -> None:
    proc = subprocess.run([sys.executable, "-c", SERVE_CODE, "--help"],
                          capture_output=True, text=True, timeout=30)
    assert proc.returncode == 0
    for flag in ("--addr", "--config", "--storage", "--tls-cert", "--tls-key", "--htpasswd",
                 "--read-only", "--enable-delete"):
        assert flag in proc.stdout


def test_tls(tmp_path: Path) -> None:
    cert, key = self_signed_cert(tmp_path)
    with running_server(tmp_path / "root", "--tls-cert", str(cert), "--tls-key", str(key)) as s:
        assert s.scheme == "https"
        with httpx.Client(base_url=s.url, verify=ssl.create_default_context(cafile=str(cert))) as c:
            assert c.get("/v2/").status_code == 200
            digest, _ = push_image(c, "tls/app", "v1", [b"secure layer"])
            assert c.get("/v2/tls/app/manifests/v1").headers["Docker-Content-Digest"] == digest
        with pytest.raises(httpx.ConnectError):  # an untrusted certificate is refused
            httpx.get(f"{s.url}/v2/", timeout=10)
        with pytest.raises(httpx.RemoteProtocolError):  # plain HTTP on the TLS port
            httpx.get(f"http://{s.address}/v2/", timeout=10)


def _htpasswd(path: Path, users: dict[str, str]) -> None:
    lines = []
    for user, password in users.items():
        if shutil.which("htpasswd"):
            out = subprocess.run(["htpasswd", "-Bbn", user, password], check=True,
                                 capture_output=True, text=True).stdout
            lines.append(out.strip())
        else:
            import bcrypt

            lines.append(f"{user}:{bcrypt.hashpw(password.encode(), bcrypt.gensalt(5)).decode()}")
    path.write_text("\n".join(lines) + "\n")


def test_htpasswd(tmp_path: Path) -> None:
    htpasswd = tmp_path / "htpasswd"
    _htpasswd(htpasswd, {"alice": "wonderland", "bob": "builder"})
    with running_server(tmp_path / "root", "--htpasswd", str(htpasswd),
                        "--realm", "Test Realm") as s:
        with s.client() as anonymous:
            for path in ["/v2/", "/v2/_catalog", "/v2/x/tags/list", "/v2/Bad/tags/list"]:
                r = anonymous.get(path)
                assert r.status_code == 401, path
                assert r.headers["WWW-Authenticate"] == 'Basic realm="Test Realm"'
                assert error_code(r) == "UNAUTHORIZED"
            r = anonymous.post("/v2/x/blobs/uploads/", params={"digest": sha256(b"a")},
                               content=b"a")
            assert r.status_code == 401
        for auth in [("alice", "wrong"), ("nobody", "wonderland"), ("alice", "")]:
            with s.client(auth=auth) as c:
                r = c.get("/v2/")
                assert r.status_code == 401 and error_code(r) == "UNAUTHORIZED"
        with s.client(headers={"Authorization": "Basic !!!notbase64"}) as c:
            assert c.get("/v2/").status_code == 401
        with s.client(auth=("alice", "wonderland")) as c:
            assert c.get("/v2/").status_code == 200
            digest, _ = push_image(c, "private/app", "v1", [b"private layer"])
        with s.client(auth=("bob", "builder")) as c:
            assert c.get("/v2/private/app/manifests/v1").headers["Docker-Content-Digest"] == digest
        # A changed file is picked up without a restart.
        _htpasswd(htpasswd, {"carol": "new"})
        time.sleep(0.01)
        with s.client(auth=("carol", "new")) as c:
            assert c.get("/v2/").status_code == 200
        with s.client(auth=("alice", "wonderland")) as c:
            assert c.get("/v2/").status_code == 401


def test_read_only(tmp_path: Path) -> None:
    root = tmp_path / "root"
    with running_server(root) as s, s.client() as c:
        _, manifest = push_image(c, "ro/app", "v1", [b"ro layer"])
    with running_server(root, "--read-only", "--enable-delete") as s, s.client() as c:
        assert c.get("/v2/ro/app/manifests/v1").status_code == 200
        layer = json.loads(manifest)["layers"][0]["digest"]
        assert c.get(f"/v2/ro/app/blobs/{layer}").status_code == 200
        requests = [
            ("POST", "/v2/ro/app/blobs/uploads/", {}),
            ("POST", "/v2/ro/app/blobs/uploads/", {"digest": sha256(b"x")}),
            ("PUT", "/v2/ro/app/manifests/v2", {}),
            ("DELETE", "/v2/ro/app/manifests/v1", {}),
            ("DELETE", f"/v2/ro/app/blobs/{layer}", {}),
        ]
        for method, path, params in requests:
            r = c.request(method, path, params=params, content=b"x")
            assert r.status_code == 405, (method, path)
            assert error_code(r) == "UNSUPPORTED"
        assert c.get("/v2/ro/app/manifests/v1").status_code == 200
        assert c.get("/v2/ro/app/tags/list").json()["tags"] == ["v1"]


def test_upload_resumes_after_restart(tmp_path: Path) -> None:
    """The running hash is rebuilt from disk when the server lost it."""
    root = tmp_path / "root"
    data = bytes(range(256)) * 20_000
    with running_server(root) as s, s.client() as c:
        location = c.post("/v2/resume/blobs/uploads/").headers["Location"]
        r = c.patch(location, content=data[:3_000_000],
                    headers={"Content-Range": f"0-{3_000_000 - 1}"})
        assert r.status_code == 202
    with running_server(root) as s, s.client() as c:
        r = c.get(location)
        assert r.status_code == 204 and r.headers["Range"] == f"0-{3_000_000 - 1}"
        r = c.put(location, params={"digest": sha256(data)}, content=data[3_000_000:],
                  headers={"Content-Range": f"3000000-{len(data) - 1}"})
        assert r.status_code == 201, r.text
        assert c.get(f"/v2/resume/blobs/{sha256(data)}").content == data


# ------------------------------------------------------------------ tokens


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class _TokenIssuer:
    def __init__(self, directory: Path) -> None:
        import datetime

        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec, rsa
        from cryptography.x509.oid import NameOID

        now = datetime.datetime.now(datetime.UTC)

        def cert(subject_key, issuer_key, name: str, issuer_name: str, ca: bool):  # type: ignore[no-untyped-def]
            return (
                x509.CertificateBuilder()
                .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
                .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer_name)]))
                .public_key(subject_key.public_key())
                .serial_number(x509.random_serial_number())
                .not_valid_before(now - datetime.timedelta(minutes=5))
                .not_valid_after(now + datetime.timedelta(days=1))
                .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
                .sign(issuer_key, hashes.SHA256())
            )

        self.root_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.root = cert(self.root_key, self.root_key, "root", "root", True)
        self.leaf_key = ec.generate_private_key(ec.SECP256R1())
        self.leaf = cert(self.leaf_key, self.root_key, "leaf", "root", False)
        self.stranger_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.bundle = directory / "root.pem"
        self.bundle.write_bytes(self.root.public_bytes(serialization.Encoding.PEM))
        self._der = self.leaf.public_bytes(serialization.Encoding.DER)

    def token(self, access: list[dict[str, Any]], *, issuer: str = "test-issuer",
              audience: str = "test-registry", expires: float = 300, key: str = "root") -> str:
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import ec, padding
        from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

        now = time.time()
        claims = {"iss": issuer, "sub": "tester", "aud": audience, "exp": int(now + expires),
                  "nbf": int(now - 10), "iat": int(now), "jti": "x", "access": access}
        if key == "leaf":
            header = {"alg": "ES256", "typ": "JWT", "x5c": [base64.b64encode(self._der).decode()]}
        else:
            header = {"alg": "RS256", "typ": "JWT"}
        signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}"
        if key == "leaf":
            der = self.leaf_key.sign(signing_input.encode(), ec.ECDSA(hashes.SHA256()))
            r, s = decode_dss_signature(der)
            signature = r.to_bytes(32, "big") + s.to_bytes(32, "big")
        else:
            private = self.root_key if key == "root" else self.stranger_key
            signature = private.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
        return f"{signing_input}.{_b64(signature)}"


def test_bearer_tokens(tmp_path: Path) -> None:
    pytest.importorskip("cryptography")
    issuer = _TokenIssuer(tmp_path)
    config = tmp_path / "config.yml"
    config.write_text(
        f"storage: {{filesystem: {{rootdirectory: {tmp_path / 'root'}}}}}\n"
        "auth:\n  token:\n    realm: https://auth.example.test/token\n"
        "    service: test-registry\n    issuer: test-issuer\n"
        f"    rootcertbundle: {issuer.bundle}\n"
    )
    push_pull = [{"type": "repository", "name": "tok/app", "actions": ["pull", "push"]}]
    pull_only = [{"type": "repository", "name": "tok/app", "actions": ["pull"]}]
    with running_server(tmp_path / "root", "--config", str(config)) as s:
        with s.client() as c:
            r = c.get("/v2/tok/app/tags/list")
            assert r.status_code == 401 and error_code(r) == "UNAUTHORIZED"
            assert r.headers["WWW-Authenticate"] == (
                'Bearer realm="https://auth.example.test/token",service="test-registry",'
                'scope="repository:tok/app:pull"'
            )
        for key in ("root", "leaf"):
            token = issuer.token(push_pull, key=key)
            with s.client(headers={"Authorization": f"Bearer {token}"}) as c:
                assert c.get("/v2/").status_code == 200
                push_image(c, "tok/app", key, [b"token layer " + key.encode()])
        with s.client(headers={"Authorization": f"Bearer {issuer.token(pull_only)}"}) as c:
            assert c.get("/v2/tok/app/manifests/root").status_code == 200
            r = c.post("/v2/tok/app/blobs/uploads/")
            assert r.status_code == 401
            assert 'error="insufficient_scope"' in r.headers["WWW-Authenticate"]
            assert 'scope="repository:tok/app:pull,push"' in r.headers["WWW-Authenticate"]
            assert c.get("/v2/tok/other/tags/list").status_code == 401
            assert c.get("/v2/_catalog").status_code == 401
        bad_tokens = [
            issuer.token(push_pull, issuer="someone-else"),
            issuer.token(push_pull, audience="another-registry"),
            issuer.token(push_pull, expires=-3600),
            issuer.token(push_pull, key="stranger"),
            issuer.token(push_pull)[:-10] + "AAAAAAAAAA",
            "not.a.token",
            "garbage",
        ]
        for token in bad_tokens:
            with s.client(headers={"Authorization": f"Bearer {token}"}) as c:
                r = c.get("/v2/tok/app/tags/list")
                assert r.status_code == 401, token
                assert 'error="invalid_token"' in r.headers["WWW-Authenticate"]
        catalog = [{"type": "registry", "name": "catalog", "actions": ["*"]}]
        with s.client(headers={"Authorization": f"Bearer {issuer.token(catalog)}"}) as c:
            assert c.get("/v2/_catalog").json() == {"repositories": ["tok/app"]}


def test_environment_like_dockers_deploy_guide(tmp_path: Path) -> None:
    """REGISTRY_* variables as Docker's "deploy a registry server" guide sets them."""
    cert, key = self_signed_cert(tmp_path)
    htpasswd = tmp_path / "htpasswd"
    _htpasswd(htpasswd, {"testuser": "testpassword"})
    env = {
        "REGISTRY_HTTP_ADDR": "127.0.0.1:0",
        "REGISTRY_HTTP_TLS_CERTIFICATE": str(cert),
        "REGISTRY_HTTP_TLS_KEY": str(key),
        "REGISTRY_AUTH": "htpasswd",
        "REGISTRY_AUTH_HTPASSWD_REALM": "Registry Realm",
        "REGISTRY_AUTH_HTPASSWD_PATH": str(htpasswd),
        "REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY": str(tmp_path / "root"),
        "REGISTRY_STORAGE_DELETE_ENABLED": "true",
    }
    import os

    proc = subprocess.Popen([sys.executable, "-c", SERVE_CODE], stderr=subprocess.PIPE,
                            env={**os.environ, **env})
    try:
        assert proc.stderr is not None
        line = proc.stderr.readline().decode()
        assert "(https)" in line, line
        address = line.split("listening on ")[1].split()[0]
        context = ssl.create_default_context(cafile=str(cert))
        with httpx.Client(base_url=f"https://{address}", verify=context) as c:
            r = c.get("/v2/")
            assert r.status_code == 401
            assert r.headers["WWW-Authenticate"] == 'Basic realm="Registry Realm"'
        with httpx.Client(base_url=f"https://{address}", verify=context,
                          auth=("testuser", "testpassword")) as c:
            digest = push_blob(c, "env/app", b"from the environment")
            assert c.delete(f"/v2/env/app/blobs/{digest}").status_code == 202
        assert (tmp_path / "root/docker/registry/v2/repositories/env/app").is_dir()
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=15) == 0
