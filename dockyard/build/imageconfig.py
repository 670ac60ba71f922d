"""The image a Dockerfile stage makes: its config and history as BuildKit writes them.

Mirrors moby/buildkit ``frontend/dockerfile/dockerfile2llb/convert.go`` (the
``dispatch*`` functions and ``commitToHistory``) and the image exporter's
``normalizeLayersAndHistory`` (``exporter/containerimage/writer.go``):

- every instruction but FROM and ONBUILD adds a history entry with the comment
  ``buildkit.dockerfile.v0``; RUN, COPY and ADD end their ``created_by`` with
  `` # buildkit``; metadata-only steps are ``empty_layer``;
- ``FROM scratch`` starts with ``WorkingDir: /`` and the default ``PATH``;
- CMD sets ``ArgsEscaped``; ENTRYPOINT resets a CMD inherited from the base;
- ONBUILD triggers of the base do not carry over (they run instead);
- history entries without a time get the time of the nearest layer, and the
  image's ``created`` is the last entry's, so a fully cached rebuild gives the
  same image ID.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from typing import Any

from dockyard.golang.fmt import go_quote

HISTORY_COMMENT = "buildkit.dockerfile.v0"
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


@dataclass
class ImageState:
    """A stage's image while it is being built."""

    config: dict[str, Any] = field(default_factory=dict)  # the image config's "config"
    history: list[dict[str, Any]] = field(default_factory=list)
    diff_ids: list[str] = field(default_factory=list)
    chain: list[str] = field(default_factory=list)  # chain ids of the layers
    architecture: str = "amd64"
    os: str = "linux"
    author: str = ""
    variant: str = ""
    base_id: str = ""  # the FROM image's id ('' for scratch)

    def clone(self) -> ImageState:
        return copy.deepcopy(self)

    @property
    def top(self) -> str | None:
        return self.chain[-1] if self.chain else None

    # ------------------------------------------------------------- env

    @property
    def env(self) -> list[str]:
        return list(self.config.get("Env") or [])

    def env_map(self) -> dict[str, str]:
        result: dict[str, str] = {}
        for item in self.env:
            key, _, value = item.partition("=")
            result[key] = value
        return result

    def set_env(self, key: str, value: str) -> None:
        env = self.env
        for i, item in enumerate(env):
            if item.partition("=")[0] == key:
                env[i] = f"{key}={value}"
                break
        else:
            env.append(f"{key}={value}")
        self.config["Env"] = env

    # ------------------------------------------------------------- history

    def record(
        self, created_by: str, *, layer: bool, created: str | None = None, buildkit: bool = False
    ) -> None:
        """``commitToHistory``: one history entry (``created`` None: filled in later)."""
        entry: dict[str, Any] = {
            "created_by": created_by + (" # buildkit" if buildkit else ""),
            "comment": HISTORY_COMMENT,
        }
        if created is not None:
            entry["created"] = created
        if not layer:
            entry["empty_layer"] = True
        self.history.append(entry)

    def add_layer(self, chain_id: str, diff_id: str) -> None:
        self.chain.append(chain_id)
        self.diff_ids.append(diff_id)


def scratch(architecture: str = "amd64", os_name: str = "linux", variant: str = "") -> ImageState:
    """BuildKit's ``emptyImage``."""
    return ImageState(
        config={"Env": [f"PATH={DEFAULT_PATH}"], "WorkingDir": "/"},
        architecture=architecture,
        os=os_name,
        variant=variant,
    )


def from_image(
    image_id: str, config_blob: dict[str, Any], chain: list[str]
) -> tuple[ImageState, list[str]]:
    """The state a stage starts from, and the base's ONBUILD triggers to run."""
    config = copy.deepcopy(config_blob.get("config") or {})
    triggers = list(config.pop("OnBuild", None) or [])
    for key in ("Image", "Hostname", "Domainname", "AttachStdin", "AttachStdout"):
        config.pop(key, None)
    state = ImageState(
        config=config,
        history=copy.deepcopy(list(config_blob.get("history") or [])),
        diff_ids=list((config_blob.get("rootfs") or {}).get("diff_ids") or []),
        chain=list(chain),
        architecture=config_blob.get("architecture") or "amd64",
        os=config_blob.get("os") or "linux",
        author=config_blob.get("author") or "",
        variant=config_blob.get("variant") or "",
        base_id=image_id,
    )
    return state, triggers


# ----------------------------------------------------------------- formatting


def go_duration(ns: int) -> str:
    """Go's ``time.Duration.String``."""
    if ns == 0:
        return "0s"
    sign = "-" if ns < 0 else ""
    u = abs(ns)
    if u < 1_000_000_000:
        for unit, size in (("ms", 1_000_000), ("µs", 1_000), ("ns", 1)):
            if u >= size:
                return sign + _fraction(u, size) + unit
    hours, rest = divmod(u, 3600 * 1_000_000_000)
    minutes, rest = divmod(rest, 60 * 1_000_000_000)
    seconds = _fraction(rest, 1_000_000_000) + "s"
    if hours:
        return f"{sign}{hours}h{minutes}m{seconds}"
    if minutes:
        return f"{sign}{minutes}m{seconds}"
    return sign + seconds


def _fraction(value: int, unit: int) -> str:
    whole, frac = divmod(value, unit)
    if not frac:
        return str(whole)
    digits = str(frac).rjust(len(str(unit)) - 1, "0").rstrip("0")
    return f"{whole}.{digits}"


def go_list(items: list[str]) -> str:
    """``fmt.Sprintf("%v", []string)``."""
    return "[" + " ".join(items) + "]"


def go_quoted_list(items: list[str]) -> str:
    """``fmt.Sprintf("%q", []string)``."""
    return "[" + " ".join(go_quote(s) for s in items) + "]"


def healthcheck_text(check: dict[str, Any]) -> str:
    """``fmt.Sprintf("%+v", HealthcheckConfig)`` of docker-image-spec."""
    return (
        f"{{Test:{go_list(list(check.get('Test') or []))}"
        f" Interval:{go_duration(int(check.get('Interval') or 0))}"
        f" Timeout:{go_duration(int(check.get('Timeout') or 0))}"
        f" StartPeriod:{go_duration(int(check.get('StartPeriod') or 0))}"
        f" StartInterval:{go_duration(int(check.get('StartInterval') or 0))}"
        f" Retries:{int(check.get('Retries') or 0)}}}"
    )


def run_created_by(args: list[str], build_args: list[tuple[str, str]]) -> str:
    """``runCommandString``: ``|N K=V ... <argv joined>`` (build args of the stage)."""
    merged: dict[str, str] = {}
    for key, value in build_args:
        merged[key] = value
    prefix = [f"|{len(merged)}", *(f"{k}={v}" for k, v in merged.items())] if merged else []
    return " ".join([*prefix, *args])


# ----------------------------------------------------------------- the final config

# docker-image-spec's ImageConfig fields in their order (json tags, omitempty); a base
# image's other keys (Hostname, AttachStdout, ...) are not carried over, as in BuildKit
_CONFIG_ORDER = (
    "User",
    "ExposedPorts",
    "Env",
    "Entrypoint",
    "Cmd",
    "Volumes",
    "WorkingDir",
    "Labels",
    "StopSignal",
    "ArgsEscaped",
    "Healthcheck",
    "OnBuild",
    "Shell",
)


def fill_history_times(history: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The exporter's rule for entries without a time (see the module doc)."""
    result = [dict(h) for h in history]
    created: str | None = None
    seen_missing = False
    for h in result:
        if h.get("created"):
            created = h["created"]
            if seen_missing:
                break
        else:
            seen_missing = True
    seen_missing = False
    for h in result:
        if h.get("created"):
            if seen_missing:
                created = h["created"]
        else:
            seen_missing = True
            if created is not None:
                h["created"] = created
    return result


def _ordered_history(h: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key in ("created", "created_by", "author", "comment", "empty_layer"):
        if h.get(key) not in (None, "", False):
            out[key] = h[key]
    return out


def config_bytes(state: ImageState) -> bytes:
    """The image config blob for a finished stage."""
    history = [_ordered_history(h) for h in fill_history_times(state.history)]
    created = next((h["created"] for h in reversed(history) if h.get("created")), None)
    config: dict[str, Any] = {}
    for key in _CONFIG_ORDER:
        value = state.config.get(key)
        if value not in (None, "", [], {}, False):
            config[key] = value
    blob: dict[str, Any] = {"architecture": state.architecture}
    if state.author:
        blob["author"] = state.author
    blob["config"] = config
    if created:
        blob["created"] = created
    blob["history"] = history
    blob["os"] = state.os
    blob["rootfs"] = {"type": "layers", "diff_ids": list(state.diff_ids)}
    if state.variant:
        blob["variant"] = state.variant
    return json.dumps(blob, separators=(",", ":")).encode()
