"""The HTTP transport to one registry endpoint: auth challenges, tokens, retries.

A session first pings ``/v2/`` (as Docker does) to learn how the registry wants
to be authenticated: not at all, ``Basic`` with the stored credentials, or
``Bearer`` tokens fetched from the challenge's realm for a set of scopes
(``repository:library/busybox:pull``). Tokens are cached per scope set for the
session's life. Idempotent requests are retried on 5xx, 429 (honouring
``Retry-After``), dropped connections and stalls, with doubling back-off.
"""

from __future__ import annotations

import base64
import threading
import time
from collections.abc import Iterable, Mapping
from typing import Any

import httpx

from dockyard import __version__, log
from dockyard.registry.client.challenge import Challenge, parse_challenge_headers
from dockyard.registry.client.credentials import AuthConfig
from dockyard.registry.client.errors import (
    RegistryError,
    TransientError,
    registry_error,
    transport_error,
)
from dockyard.registry.client.hosts import Endpoint, RegistrySettings

USER_AGENT = f"dockyard/{__version__} (docker-compatible)"
MAX_RETRY_AFTER = 30.0


def pull_scope(path: str) -> str:
    return f"repository:{path}:pull"


def push_scope(path: str) -> str:
    return f"repository:{path}:pull,push"


class Session:
    def __init__(self, endpoint: Endpoint, settings: RegistrySettings, auth: AuthConfig) -> None:
        self.endpoint = endpoint
        self.settings = settings
        self.auth = auth
        verify: Any = endpoint.tls if endpoint.tls is not False else True
        self.client = httpx.Client(
            verify=verify,
            timeout=httpx.Timeout(15.0, read=settings.read_timeout),
            follow_redirects=True,
            headers={"User-Agent": USER_AGENT},
            limits=httpx.Limits(max_connections=32, max_keepalive_connections=16),
            trust_env=False,
        )
        self.challenge: Challenge | None = None
        self._tokens: dict[tuple[str, ...], str] = {}
        self._lock = threading.Lock()

    def close(self) -> None:
        self.client.close()

    def url(self, path: str) -> str:
        return path if "://" in path else self.endpoint.url + path

    # ------------------------------------------------------------------ auth

    def ping(self) -> httpx.Response:
        """GET /v2/ and learn the challenge; raises TransientError when unreachable."""
        url = self.url("/v2/")
        try:
            resp = self.client.get(url)
        except httpx.HTTPError as exc:
            raise transport_error(exc, "GET", url) from None
        if resp.status_code == 401:
            self._learn(resp)
        return resp

    def _learn(self, resp: httpx.Response) -> bool:
        challenges = parse_challenge_headers(resp.headers.get_list("www-authenticate"))
        for wanted in ("bearer", "basic"):
            for c in challenges:
                if c.scheme == wanted:
                    changed = self.challenge != c
                    self.challenge = c
                    return changed
        return False

    def _basic(self) -> str | None:
        if not (self.auth.username or self.auth.password):
            return None
        raw = f"{self.auth.username}:{self.auth.password}".encode()
        return "Basic " + base64.b64encode(raw).decode()

    def token(self, scopes: Iterable[str]) -> str:
        """A bearer token for ``scopes`` from the challenge's realm (cached)."""
        assert self.challenge is not None
        key = tuple(sorted(set(scopes)))
        with self._lock:
            cached = self._tokens.get(key)
        if cached is not None:
            return cached
        params: list[tuple[str, str | int | float | bool | None]] = []
        if self.challenge.params.get("service"):
            params.append(("service", self.challenge.params["service"]))
        params.extend(("scope", s) for s in key)
        headers = {}
        basic = self._basic()
        if basic:
            headers["Authorization"] = basic
        realm = self.challenge.realm
        try:
            resp = self.client.get(realm, params=params, headers=headers)
        except httpx.HTTPError as exc:
            raise transport_error(exc, "GET", realm) from None
        if resp.status_code != 200:
            err = registry_error(resp, "GET")
            if resp.status_code == 401:
                raise RegistryError(
                    f'Get "{realm}": unauthorized: incorrect username or password',
                    401,
                    ("UNAUTHORIZED",),
                )
            raise err
        try:
            doc = resp.json()
        except ValueError:
            raise RegistryError(f"unable to decode token response from {realm}", 500) from None
        token = str(doc.get("token") or doc.get("access_token") or "")
        if not token:
            raise RegistryError(f"no token in the response from {realm}", 500)
        with self._lock:
            self._tokens[key] = token
        return token

    def _authorization(self, scopes: Iterable[str]) -> str | None:
        if self.challenge is None:
            return None
        if self.challenge.scheme == "basic":
            return self._basic()
        if self.challenge.scheme == "bearer":
            return "Bearer " + self.token(scopes)
        return None

    # ------------------------------------------------------------------ requests

    def send(
        self,
        method: str,
        path: str,
        *,
        scopes: Iterable[str] = (),
        headers: Mapping[str, str] | None = None,
        params: Any = None,
        content: Any = None,
        stream: bool = False,
    ) -> httpx.Response:
        """One request (no retries); answers a new challenge once. Errors in the
        transport become TransientError; HTTP errors are left to the caller."""
        scopes = list(scopes)
        url = self.url(path)
        for attempt in range(2):
            h = dict(headers or {})
            authorization = self._authorization(scopes)
            if authorization:
                h["Authorization"] = authorization
            request = self.client.build_request(
                method, url, headers=h, params=params, content=content
            )
            try:
                resp = self.client.send(request, stream=stream)
            except httpx.HTTPError as exc:
                raise transport_error(exc, method, url) from None
            if resp.status_code == 401 and attempt == 0 and content is None:
                had = self.challenge
                if self._learn(resp) or (had is not None and had.scheme == "bearer"):
                    if had is not None and had.scheme == "bearer":
                        with self._lock:
                            self._tokens.pop(tuple(sorted(set(scopes))), None)
                    resp.close()
                    continue
            return resp
        return resp

    def call(
        self,
        method: str,
        path: str,
        *,
        scopes: Iterable[str] = (),
        headers: Mapping[str, str] | None = None,
        params: Any = None,
        ok: tuple[int, ...] = (200,),
    ) -> httpx.Response:
        """An idempotent request with retries; returns a loaded response with an ``ok`` status."""
        attempt = 0
        while True:
            attempt += 1
            try:
                resp = self.send(method, path, scopes=scopes, headers=headers, params=params)
                if resp.status_code in ok:
                    return resp
                err = registry_error(resp, method)
                if not err.transient:
                    raise err
                delay = retry_after(resp)
                failure: Exception = err
            except TransientError as exc:
                failure, delay = exc, None
            if attempt >= self.settings.attempts:
                raise failure
            wait = delay if delay is not None else self.settings.backoff_delay(attempt)
            log.debug(f"{method} {path}: {failure}; retrying in {wait:.1f}s")
            time.sleep(wait)


def retry_after(resp: httpx.Response) -> float | None:
    value = resp.headers.get("retry-after")
    if not value:
        return None
    try:
        return min(max(float(value), 0.0), MAX_RETRY_AFTER)
    except ValueError:
        from email.utils import parsedate_to_datetime

        try:
            when = parsedate_to_datetime(value).timestamp()
        except (TypeError, ValueError):
            return None
        return min(max(when - time.time(), 0.0), MAX_RETRY_AFTER)
