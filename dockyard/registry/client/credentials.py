"""Registry credentials in the docker CLI's ``config.json``: read, store, erase.

The file is ``$DOCKER_CONFIG/config.json`` (default ``~/.docker/config.json``).
Where a registry has a ``credHelpers`` entry, or a ``credsStore`` is set, the
secret lives in ``docker-credential-<name>`` (spoken to with JSON on stdin, as
docker-credential-helpers define); otherwise ``auths[host].auth`` holds
base64("user:password"). Unknown keys in the file are kept when it is rewritten.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import subprocess
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from dockyard.errors import DockyardError, InvalidArgument

DOCKER_HUB_SERVER = "https://index.docker.io/v1/"
HELPER_NOT_FOUND = "credentials not found in native keychain"
_TOKEN_USERNAME = "<token>"


@dataclass(frozen=True)
class AuthConfig:
    username: str = ""
    password: str = ""
    identity_token: str = ""
    server_address: str = ""

    @property
    def empty(self) -> bool:
        return not (self.username or self.password or self.identity_token)


def config_dir(environ: Mapping[str, str] | None = None) -> str:
    env = os.environ if environ is None else environ
    explicit = env.get("DOCKER_CONFIG")
    if explicit:
        return explicit
    return os.path.join(os.path.expanduser("~"), ".docker")


def server_key(domain: str) -> str:
    """The key docker uses for a registry in config.json: Docker Hub has its legacy URL."""
    if domain in ("docker.io", "index.docker.io", "registry-1.docker.io"):
        return DOCKER_HUB_SERVER
    return domain


def hostname_of(server: str) -> str:
    """Docker's ConvertToHostname: ``https://host:5000/v1/`` -> ``host:5000``."""
    s = server
    for prefix in ("http://", "https://"):
        if s.startswith(prefix):
            s = s[len(prefix) :]
            break
    return s.split("/", 1)[0]


class CredentialStore:
    """One config.json and the helpers it names."""

    def __init__(self, directory: str | None = None) -> None:
        self.directory = directory or config_dir()
        self.path = os.path.join(self.directory, "config.json")

    # ------------------------------------------------------------------ file

    def _load(self) -> dict[str, Any]:
        try:
            with open(self.path, "rb") as f:
                raw = f.read()
        except FileNotFoundError:
            return {}
        if not raw.strip():
            return {}
        try:
            data = json.loads(raw)
        except ValueError as exc:
            raise InvalidArgument(f"loading config file: {self.path}: {exc}") from None
        if not isinstance(data, dict):
            raise InvalidArgument(f"loading config file: {self.path}: not a JSON object")
        return data

    def _save(self, data: dict[str, Any]) -> None:
        os.makedirs(self.directory, mode=0o700, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix="config.json", dir=self.directory)
        try:
            with os.fdopen(fd, "w") as f:
                f.write(json.dumps(data, indent="\t"))
            os.chmod(tmp, 0o600)
            os.replace(tmp, self.path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise

    def helper_for(self, server: str, data: dict[str, Any] | None = None) -> str | None:
        data = self._load() if data is None else data
        helpers = data.get("credHelpers") or {}
        host = hostname_of(server)
        for key in (server, host):
            if isinstance(helpers, dict) and helpers.get(key):
                return str(helpers[key])
        store = data.get("credsStore")
        return str(store) if store else None

    # ------------------------------------------------------------------ verbs

    def get(self, server: str) -> AuthConfig:
        """Credentials for ``server`` (a config key); empty when there are none."""
        data = self._load()
        helper = self.helper_for(server, data)
        if helper:
            return _helper_get(helper, server)
        auths = data.get("auths") or {}
        entry = auths.get(server)
        if entry is None:
            host = hostname_of(server)
            for key, value in auths.items():
                if hostname_of(key) == host:
                    entry = value
                    break
        if not isinstance(entry, dict):
            return AuthConfig(server_address=server)
        username = str(entry.get("username") or "")
        password = str(entry.get("password") or "")
        if entry.get("auth"):
            try:
                decoded = base64.b64decode(str(entry["auth"])).decode()
            except (ValueError, UnicodeDecodeError):
                raise InvalidArgument(f"invalid auth configuration file: {self.path}") from None
            username, sep, password = decoded.partition(":")
            if not sep:
                raise InvalidArgument("invalid auth configuration file")
        return AuthConfig(
            username=username,
            password=password,
            identity_token=str(entry.get("identitytoken") or ""),
            server_address=server,
        )

    def store(self, server: str, auth: AuthConfig) -> bool:
        """Save credentials; returns True when they went into the file unencrypted."""
        data = self._load()
        helper = self.helper_for(server, data)
        auths = data.setdefault("auths", {})
        if helper:
            secret = auth.identity_token or auth.password
            username = _TOKEN_USERNAME if auth.identity_token else auth.username
            _run_helper(
                helper,
                "store",
                json.dumps({"ServerURL": server, "Username": username, "Secret": secret}),
            )
            auths[server] = {}
            self._save(data)
            return False
        entry: dict[str, Any] = {}
        if auth.username or auth.password:
            entry["auth"] = base64.b64encode(f"{auth.username}:{auth.password}".encode()).decode()
        if auth.identity_token:
            entry["identitytoken"] = auth.identity_token
        auths[server] = entry
        self._save(data)
        return True

    def erase(self, server: str) -> bool:
        """Forget ``server``; False when there was nothing stored for it."""
        data = self._load()
        helper = self.helper_for(server, data)
        auths = data.get("auths") or {}
        found = server in auths
        if helper:
            try:
                _run_helper(helper, "erase", server)
                found = True
            except DockyardError:
                pass
        if server in auths:
            del auths[server]
            self._save(data)
        return found


def _helper_program(name: str) -> str:
    return f"docker-credential-{name}"


def _run_helper(name: str, action: str, stdin: str) -> str:
    program = _helper_program(name)
    try:
        proc = subprocess.run(
            [program, action], input=stdin.encode(), capture_output=True, timeout=60
        )
    except FileNotFoundError:
        raise DockyardError(
            f'error getting credentials - err: exec: "{program}": executable file not found'
            " in $PATH, out: ``"
        ) from None
    out = proc.stdout.decode(errors="replace").strip()
    if proc.returncode != 0:
        message = out or proc.stderr.decode(errors="replace").strip()
        raise DockyardError(message or f"{program} {action} failed")
    return out


def _helper_get(name: str, server: str) -> AuthConfig:
    try:
        out = _run_helper(name, "get", server)
    except DockyardError as exc:
        if HELPER_NOT_FOUND in exc.message:
            return AuthConfig(server_address=server)
        raise DockyardError(
            f"error getting credentials - err: exit status 1, out: `{exc.message}`"
        ) from None
    try:
        doc = json.loads(out)
    except ValueError:
        raise DockyardError(f"error getting credentials - invalid helper output: {out}") from None
    username = str(doc.get("Username") or "")
    secret = str(doc.get("Secret") or "")
    if username == _TOKEN_USERNAME:
        return AuthConfig(identity_token=secret, server_address=server)
    return AuthConfig(username=username, password=secret, server_address=server)
