"""The registry client's pure parts: challenges, credentials, endpoints, errors, progress."""

from __future__ import annotations

import base64
import io
import json
import os
import subprocess
from pathlib import Path

import httpx
import pytest

from dockyard.cli.commands.distribution import ProgressPrinter, _go_duration, _search_filters
from dockyard.engine.distribution import (
    ProgressEvent,
    _docker_layer_type,
    _mount_sources,
    registry_domain,
    split_search_term,
)
from dockyard.errors import InvalidArgument
from dockyard.oci import mediatypes as mt
from dockyard.oci import reference as refs
from dockyard.oci.manifest import parse_index
from dockyard.oci.platform import Platform
from dockyard.registry.client.challenge import parse_challenges
from dockyard.registry.client.credentials import (
    DOCKER_HUB_SERVER,
    AuthConfig,
    CredentialStore,
    hostname_of,
    server_key,
)
from dockyard.registry.client.errors import registry_error
from dockyard.registry.client.hosts import RegistrySettings
from dockyard.registry.client.session import pull_scope, push_scope, retry_after

# ----------------------------------------------------------------- challenges


def test_bearer_challenge() -> None:
    [c] = parse_challenges(
        'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",'
        'scope="repository:library/busybox:pull"'
    )
    assert c.scheme == "bearer"
    assert c.realm == "https://auth.docker.io/token"
    assert c.params["service"] == "registry.docker.io"
    assert c.params["scope"] == "repository:library/busybox:pull"


def test_several_challenges_escapes_and_tokens() -> None:
    cs = parse_challenges('Basic realm="a \\"quoted\\" realm", Bearer realm=x ,service="s"')
    assert [c.scheme for c in cs] == ["basic", "bearer"]
    assert cs[0].realm == 'a "quoted" realm'
    assert cs[1].params == {"realm": "x", "service": "s"}


def test_challenge_without_params_and_garbage() -> None:
    assert [c.scheme for c in parse_challenges("Negotiate")] == ["negotiate"]
    assert parse_challenges("") == []


def test_scopes() -> None:
    assert pull_scope("library/busybox") == "repository:library/busybox:pull"
    assert push_scope("a/b") == "repository:a/b:pull,push"


# ----------------------------------------------------------------- credentials


def test_credentials_write_read_erase_as_docker(tmp_path: Path) -> None:
    store = CredentialStore(str(tmp_path / "cfg"))
    assert store.get("127.0.0.1:5000").empty
    assert store.store("127.0.0.1:5000", AuthConfig("alice", "pw:with:colons")) is True
    text = (tmp_path / "cfg" / "config.json").read_text()
    auth = base64.b64encode(b"alice:pw:with:colons").decode()
    assert (
        text
        == '{\n\t"auths": {\n\t\t"127.0.0.1:5000": {\n\t\t\t"auth": "' + auth + '"\n\t\t}\n\t}\n}'
    )
    got = store.get("127.0.0.1:5000")
    assert (got.username, got.password) == ("alice", "pw:with:colons")
    assert store.erase("127.0.0.1:5000") is True
    assert store.erase("127.0.0.1:5000") is False
    assert store.get("127.0.0.1:5000").empty


def test_credentials_keep_unknown_keys_and_match_by_hostname(tmp_path: Path) -> None:
    cfg = tmp_path / "config.json"
    auth = base64.b64encode(b"u:p").decode()
    cfg.write_text(
        json.dumps({"auths": {"https://reg.example:443/v1/": {"auth": auth}}, "psFormat": "x"})
    )
    store = CredentialStore(str(tmp_path))
    assert store.get("reg.example:443").username == "u"
    store.store("other:1", AuthConfig("a", "b"))
    assert json.loads(cfg.read_text())["psFormat"] == "x"


def test_docker_config_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "elsewhere"))
    assert CredentialStore().path == str(tmp_path / "elsewhere" / "config.json")


def test_invalid_config_file(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text("{not json")
    with pytest.raises(InvalidArgument, match="loading config file"):
        CredentialStore(str(tmp_path)).get("x")


def _fake_helper(tmp_path: Path, name: str) -> Path:
    bindir = tmp_path / "bin"
    bindir.mkdir(exist_ok=True)
    store = tmp_path / f"{name}.json"
    helper = bindir / f"docker-credential-{name}"
    helper.write_text(
        "#!/usr/bin/env python3\n"
        "import json, sys\n"
        f"path = {str(store)!r}\n"
        "try:\n    data = json.load(open(path))\nexcept FileNotFoundError:\n    data = {}\n"
        "action = sys.argv[1]\nbody = sys.stdin.read()\n"
        "if action == 'store':\n    doc = json.loads(body)\n    data[doc['ServerURL']] = doc\n"
        "elif action == 'get':\n"
        "    if body.strip() not in data:\n"
        "        print('credentials not found in native keychain'); sys.exit(1)\n"
        "    print(json.dumps(data[body.strip()])); sys.exit(0)\n"
        "elif action == 'erase':\n    data.pop(body.strip(), None)\n"
        "json.dump(data, open(path, 'w'))\n"
    )
    helper.chmod(0o755)
    return store


def test_cred_helpers_and_creds_store(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    per_host = _fake_helper(tmp_path, "perhost")
    default = _fake_helper(tmp_path, "default")
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}:{os.environ['PATH']}")
    (tmp_path / "config.json").write_text(
        json.dumps({"credsStore": "default", "credHelpers": {"special:5000": "perhost"}})
    )
    store = CredentialStore(str(tmp_path))
    assert store.store("special:5000", AuthConfig("s", "1")) is False
    assert store.store(DOCKER_HUB_SERVER, AuthConfig("h", "2")) is False
    assert json.loads(per_host.read_text()) == {
        "special:5000": {"ServerURL": "special:5000", "Username": "s", "Secret": "1"}
    }
    assert list(json.loads(default.read_text())) == [DOCKER_HUB_SERVER]
    assert json.loads((tmp_path / "config.json").read_text())["auths"] == {
        "special:5000": {},
        DOCKER_HUB_SERVER: {},
    }
    assert store.get("special:5000") == AuthConfig("s", "1", "", "special:5000")
    assert store.get("unknown:1").empty  # "credentials not found" is not an error
    store.store("tok:1", AuthConfig(identity_token="T"))
    assert store.get("tok:1").identity_token == "T"
    assert store.erase("special:5000") is True
    assert json.loads(per_host.read_text()) == {}


def test_missing_helper_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text(json.dumps({"credsStore": "does-not-exist-here"}))
    with pytest.raises(Exception, match="docker-credential-does-not-exist-here"):
        CredentialStore(str(tmp_path)).get("x:1")


def test_server_keys() -> None:
    assert server_key("docker.io") == DOCKER_HUB_SERVER
    assert server_key("127.0.0.1:5000") == "127.0.0.1:5000"
    assert hostname_of("https://index.docker.io/v1/") == "index.docker.io"
    assert registry_domain(None) == "docker.io"
    assert registry_domain("https://index.docker.io/v1/") == "docker.io"
    assert registry_domain("http://127.0.0.1:5000/") == "127.0.0.1:5000"


# ----------------------------------------------------------------- endpoints


def test_reference_to_endpoints_docker_hub_with_mirrors() -> None:
    s = RegistrySettings.from_daemon(
        {"registry-mirrors": ["http://127.0.0.1:5001/", "https://mirror.example"]}, {}
    )
    ref = refs.parse_reference("busybox")
    eps = s.endpoints(ref.domain)
    assert [e.url for e in eps] == [
        "http://127.0.0.1:5001",
        "https://mirror.example",
        "https://registry-1.docker.io",
    ]
    assert [e.mirror for e in eps] == [True, True, False]
    assert [e.url for e in s.endpoints(ref.domain, push=True)] == ["https://registry-1.docker.io"]
    assert ref.path == "library/busybox"


def test_insecure_registries_fall_back_to_http() -> None:
    s = RegistrySettings.from_daemon({"insecure-registries": ["10.0.0.0/8", "reg.lan:5000"]}, {})
    assert [e.url for e in s.endpoints("127.0.0.1:5000")] == [
        "https://127.0.0.1:5000",
        "http://127.0.0.1:5000",
    ]
    assert s.is_insecure("localhost:5000")
    assert s.is_insecure("[::1]:5000")
    assert s.is_insecure("10.2.3.4:443")
    assert s.is_insecure("reg.lan:5000")
    assert not s.is_insecure("reg.lan:6000")
    assert not s.is_insecure("192.168.1.1:5000")
    assert [e.url for e in s.endpoints("registry.example.com")] == ["https://registry.example.com"]


def test_settings_from_daemon_json_and_environment() -> None:
    s = RegistrySettings.from_daemon(
        {"max-concurrent-downloads": 7, "max-concurrent-uploads": 2, "max-download-attempts": 4},
        {"DOCKYARD_REGISTRY_BACKOFF": "0.1", "DOCKYARD_REGISTRY_READ_TIMEOUT": "2"},
    )
    assert (s.max_concurrent_downloads, s.max_concurrent_uploads, s.attempts) == (7, 2, 4)
    assert [s.backoff_delay(n) for n in (1, 2, 3)] == [0.1, 0.2, 0.4]
    assert s.read_timeout == 2.0
    assert RegistrySettings.from_daemon({}, {}).max_concurrent_downloads == 3
    assert RegistrySettings().backoff_delay(10) == 8.0
    with pytest.raises(InvalidArgument):
        RegistrySettings.from_daemon({"max-concurrent-downloads": 0}, {})
    with pytest.raises(InvalidArgument):
        RegistrySettings.from_daemon({"registry-mirrors": ["mirror.example"]}, {})


def _certificate(directory: Path, name: str) -> tuple[Path, Path]:
    cert, key = directory / f"{name}.pem", directory / f"{name}.key"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-keyout", str(key), "-out", str(cert), "-subj", f"/CN={name}"],
        check=True, capture_output=True,
    )  # fmt: skip
    return cert, key


def test_tls_trust_from_certs_d(tmp_path: Path) -> None:
    host_dir = tmp_path / "certs.d" / "reg.example:5000"
    host_dir.mkdir(parents=True)
    ca, _ = _certificate(tmp_path, "ca")
    (host_dir / "ca.crt").write_bytes(ca.read_bytes())
    s = RegistrySettings(certs_dirs=(str(tmp_path / "certs.d"),))
    ctx = s.tls_context("reg.example:5000", verify=True)
    subjects = [dict(x[0] for x in c["subject"]).get("commonName") for c in ctx.get_ca_certs()]
    assert "ca" in subjects
    client, client_key = _certificate(tmp_path, "client")
    (host_dir / "client.cert").write_bytes(client.read_bytes())
    with pytest.raises(InvalidArgument, match=r"missing key client\.key"):
        s.tls_context("reg.example:5000", verify=True)
    (host_dir / "client.key").write_bytes(client_key.read_bytes())
    s.tls_context("reg.example:5000", verify=True)  # the pair loads


# ----------------------------------------------------------------- errors and retries


def _response(
    status: int, body: bytes = b"", headers: dict[str, str] | None = None
) -> httpx.Response:
    return httpx.Response(status, content=body, headers=headers or {})


def test_registry_errors_in_dockers_words() -> None:
    err = registry_error(
        _response(404, b'{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]}'),
        "GET",
    )
    assert err.message == "manifest unknown: manifest unknown"
    assert err.codes == ("MANIFEST_UNKNOWN",) and not err.transient
    assert registry_error(_response(401), "GET").message == "unauthorized: authentication required"
    assert registry_error(_response(401), "GET").access_denied
    five = registry_error(_response(503), "GET")
    assert five.transient
    assert five.message == "received unexpected HTTP status: 503 Service Unavailable"


def test_retry_after() -> None:
    assert retry_after(_response(429, headers={"Retry-After": "2"})) == 2.0
    assert retry_after(_response(429, headers={"Retry-After": "9999"})) == 30.0
    assert retry_after(_response(429)) is None
    assert retry_after(_response(429, headers={"Retry-After": "soon"})) is None


# ----------------------------------------------------------------- platform choice


def _index() -> bytes:
    def entry(arch: str, variant: str = "", digit: str = "a") -> dict[str, object]:
        platform: dict[str, str] = {"architecture": arch, "os": "linux"}
        if variant:
            platform["variant"] = variant
        return {
            "mediaType": mt.OCI_MANIFEST,
            "digest": "sha256:" + digit * 64,
            "size": 1,
            "platform": platform,
        }

    return json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": mt.OCI_INDEX,
            "manifests": [
                entry("arm", "v6", "1"),
                entry("arm", "v7", "2"),
                entry("arm64", "v8", "3"),
                entry("amd64", "", "4"),
            ],
        }
    ).encode()


@pytest.mark.parametrize(
    ("wanted", "digit"),
    [
        (Platform("linux", "amd64"), "4"),
        (Platform("linux", "arm64", "v8"), "3"),
        (Platform("linux", "arm", "v7"), "2"),
        (Platform("linux", "arm", "v6"), "1"),
    ],
)
def test_platform_choice(wanted: Platform, digit: str) -> None:
    assert parse_index(_index()).select(wanted).digest == "sha256:" + digit * 64


def test_no_matching_platform_in_dockers_words() -> None:
    with pytest.raises(Exception, match="no matching manifest for linux/s390x in the manifest"):
        parse_index(_index()).select(Platform("linux", "s390x"))


# ----------------------------------------------------------------- push helpers


def test_push_layer_types_and_mount_sources() -> None:
    assert _docker_layer_type(mt.OCI_LAYER_GZIP) == mt.DOCKER_LAYER_GZIP
    assert _docker_layer_type(mt.DOCKER_LAYER) == mt.DOCKER_LAYER
    target = refs.parse_reference("reg:5000/new")
    names = ["reg:5000/old:1", "reg:5000/new:2", "other:1/x:1", "reg:5000/old@sha256:" + "a" * 64]
    assert _mount_sources(target, names) == ["old"]
    assert split_search_term("busybox") == ("docker.io", "busybox")
    assert split_search_term("127.0.0.1:5000/bus") == ("127.0.0.1:5000", "bus")


def test_search_filters() -> None:
    assert _search_filters(["stars=3", "is-official=true"]) == {"stars": 3, "is-official": 1}
    with pytest.raises(InvalidArgument):
        _search_filters(["color=red"])


# ----------------------------------------------------------------- progress output


def test_plain_progress_drops_bars() -> None:
    out = io.StringIO()
    p = ProgressPrinter(out, terminal=False)
    p(ProgressEvent("latest", "Pulling from library/busybox"))
    p(ProgressEvent("abc", "Pulling fs layer"))
    p(ProgressEvent("abc", "Downloading", 10, 100))
    p(ProgressEvent("abc", "Pull complete"))
    p(ProgressEvent("", "Digest: sha256:x"))
    assert out.getvalue() == (
        "latest: Pulling from library/busybox\nabc: Pulling fs layer\nabc: Pull complete\n"
        "Digest: sha256:x\n"
    )


def test_terminal_progress_bar_like_jsonmessage() -> None:
    out = io.StringIO()
    p = ProgressPrinter(out, terminal=True)
    p.width = 200
    bar = p.bar(ProgressEvent("abc", "Downloading", 1_200_000, 10_000_000))
    assert bar.startswith("[======>" + " " * 44 + "]    1.2MB/10MB")
    p.width = 80
    assert p.bar(ProgressEvent("x", "Downloading", 5, 5)) == "      5B/5B"
    p(ProgressEvent("a", "Pulling fs layer"))
    p(ProgressEvent("b", "Pulling fs layer"))
    p(ProgressEvent("a", "Pull complete"))
    text = out.getvalue()
    assert "\x1b[2A\x1b[2K\ra: Pull complete \r\x1b[2B" in text
    assert _go_duration(65) == "1m5s" and _go_duration(7200) == "2h0m0s"
