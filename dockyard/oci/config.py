"""Image configs: read and validate, build, ChainIDs, and history aligned with layers.

An image's ID is the digest of its config's bytes. :func:`build_config` returns a
dict whose keys follow Go's ``ocispec.Image`` order, ready for
:func:`dockyard.oci.canonical.canonical_json`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from dockyard.errors import Corrupt, InvalidArgument
from dockyard.oci.descriptor import (
    Json,
    checked_digest,
    expect_object,
    load_json,
    optional_str,
    string_list,
    string_map,
)
from dockyard.oci.digest import parse_digest, sha256_digest
from dockyard.oci.platform import Platform


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    created: str | None = None
    created_by: str | None = None
    author: str | None = None
    comment: str | None = None
    empty_layer: bool = False

    def to_dict(self) -> dict[str, Any]:
        """Go ``ocispec.History`` field order; empty fields omitted."""
        d: dict[str, Any] = {}
        for key in ("created", "created_by", "author", "comment"):
            value = getattr(self, key)
            if value:
                d[key] = value
        if self.empty_layer:
            d["empty_layer"] = True
        return d

    @classmethod
    def from_dict(cls, value: Any, where: str = "history entry") -> HistoryEntry:
        d = expect_object(value, where)
        empty = d.get("empty_layer")
        if empty is not None and not isinstance(empty, bool):
            raise Corrupt(f"{where}: empty_layer must be a boolean")
        return cls(
            created=optional_str(d, "created", where),
            created_by=optional_str(d, "created_by", where),
            author=optional_str(d, "author", where),
            comment=optional_str(d, "comment", where),
            empty_layer=bool(empty),
        )


@dataclass(frozen=True, slots=True)
class ImageConfig:
    """The parts of an image config the engine reads; ``raw`` keeps the whole document."""

    architecture: str
    os: str
    diff_ids: tuple[str, ...]
    history: tuple[HistoryEntry, ...] = ()
    config: dict[str, Any] = field(default_factory=dict)
    created: str | None = None
    author: str | None = None
    variant: str = ""
    os_version: str = ""
    os_features: tuple[str, ...] = ()
    raw: dict[str, Any] = field(default_factory=dict)

    @property
    def platform(self) -> Platform:
        return Platform(self.os, self.architecture, self.variant, self.os_version, self.os_features)

    @property
    def chain_ids(self) -> list[str]:
        return chain_ids(self.diff_ids)

    def layer_history(self) -> list[tuple[HistoryEntry, str | None]]:
        return align_history(self.history, self.diff_ids)


# Execution-config fields and their shapes, in Go's ocispec.ImageConfig order followed
# by Docker's extensions (dockerspec.DockerOCIImageConfig).
_STR_LIST_FIELDS = ("Env", "Entrypoint", "Cmd", "OnBuild", "Shell")
_SET_FIELDS = ("ExposedPorts", "Volumes")  # Go map[string]struct{}: {"80/tcp": {}}
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


def _check_exec_config(value: Any, where: str) -> dict[str, Any]:
    if value is None:
        return {}
    cfg = dict(expect_object(value, where))
    for key in _STR_LIST_FIELDS:
        string_list(cfg, key, where)
    for key in _SET_FIELDS:
        if cfg.get(key) is not None:
            expect_object(cfg[key], f"{where}: {key}")
    string_map(cfg, "Labels", where)
    for key in ("User", "WorkingDir", "StopSignal"):
        optional_str(cfg, key, where)
    return cfg


def parse_config(data: Json) -> ImageConfig:
    """Read and validate an image config (OCI or Docker ``container.image.v1``).

    ``os`` and ``architecture`` are REQUIRED by the spec but, as Docker does, a
    missing one is read as empty rather than refused; a missing ``rootfs`` is refused.
    """
    doc = load_json(data, "image config")
    where = "invalid image config"
    rootfs = doc.get("rootfs")
    if rootfs is None:
        raise Corrupt("invalid image JSON, no RootFS key")
    rootfs = expect_object(rootfs, f"{where}: rootfs")
    rootfs_type = rootfs.get("type")
    if rootfs_type != "layers":
        raise Corrupt(f"{where}: rootfs type {json.dumps(rootfs_type)} is not supported")
    raw_ids = string_list(rootfs, "diff_ids", f"{where}: rootfs")
    diff_ids = tuple(
        checked_digest(x, f"{where}: rootfs.diff_ids[{i}]") for i, x in enumerate(raw_ids)
    )
    raw_history = doc.get("history")
    if raw_history is not None and not isinstance(raw_history, list):
        raise Corrupt(f"{where}: history must be a list")
    history = tuple(
        HistoryEntry.from_dict(h, f"{where}: history[{i}]") for i, h in enumerate(raw_history or [])
    )
    features = string_list(doc, "os.features", where)
    return ImageConfig(
        architecture=optional_str(doc, "architecture", where) or "",
        os=optional_str(doc, "os", where) or "",
        diff_ids=diff_ids,
        history=history,
        config=_check_exec_config(doc.get("config"), f"{where}: config"),
        created=optional_str(doc, "created", where),
        author=optional_str(doc, "author", where),
        variant=optional_str(doc, "variant", where) or "",
        os_version=optional_str(doc, "os.version", where) or "",
        os_features=tuple(features),
        raw=dict(doc),
    )


def _is_empty(value: Any) -> bool:
    """Go's omitempty for the kinds of value the known fields hold."""
    return value is None or value is False or value == "" or value == [] or value == {}


def _ordered_exec_config(cfg: Mapping[str, Any]) -> dict[str, Any]:
    """Known fields in Go order, with omitempty and map keys sorted; unknown keys last, sorted."""
    out: dict[str, Any] = {}
    for key in _CONFIG_ORDER:
        value = cfg.get(key)
        if _is_empty(value):
            continue
        if isinstance(value, Mapping) and (key in _SET_FIELDS or key == "Labels"):
            value = dict(sorted(value.items()))
        out[key] = value
    for key in sorted(k for k in cfg if k not in _CONFIG_ORDER):
        if cfg[key] is not None:
            out[key] = cfg[key]
    return out


def build_config(
    *,
    architecture: str,
    os: str,
    diff_ids: Sequence[str],
    history: Sequence[HistoryEntry] = (),
    config: Mapping[str, Any] | None = None,
    created: str | None = None,
    author: str | None = None,
    variant: str = "",
    os_version: str = "",
    os_features: Sequence[str] = (),
) -> dict[str, Any]:
    """An image config dict in ``ocispec.Image`` field order, ready for :func:`canonical_json`.

    When ``history`` is given its non-empty entries must match ``diff_ids`` one to one.
    """
    for diff_id in diff_ids:
        parse_digest(diff_id)
    if history and sum(not h.empty_layer for h in history) != len(diff_ids):
        raise InvalidArgument(
            f"history has {sum(not h.empty_layer for h in history)} non-empty entries "
            f"for {len(diff_ids)} layers"
        )
    try:
        exec_config = _check_exec_config(dict(config or {}), "config")
    except Corrupt as e:
        raise InvalidArgument(e.message) from None
    d: dict[str, Any] = {}
    if created:
        d["created"] = created
    if author:
        d["author"] = author
    d["architecture"] = architecture
    d["os"] = os
    if os_version:
        d["os.version"] = os_version
    if os_features:
        d["os.features"] = list(os_features)
    if variant:
        d["variant"] = variant
    d["config"] = _ordered_exec_config(exec_config)
    d["rootfs"] = {"type": "layers", "diff_ids": list(diff_ids)}
    if history:
        d["history"] = [h.to_dict() for h in history]
    return d


def image_id(config_bytes: bytes) -> str:
    """An image's ID: the digest of its config's bytes."""
    return sha256_digest(config_bytes)


def chain_ids(diff_ids: Sequence[str]) -> list[str]:
    """ChainIDs per the OCI spec, bottom layer first.

    ChainID(L0) = DiffID(L0); ChainID(Ln) = sha256(ChainID(Ln-1) + " " + DiffID(Ln)).
    """
    out: list[str] = []
    for diff_id in diff_ids:
        out.append(diff_id if not out else sha256_digest(f"{out[-1]} {diff_id}".encode()))
    return out


def chain_id(diff_ids: Sequence[str]) -> str | None:
    """The ChainID of the whole stack, None for no layers."""
    ids = chain_ids(diff_ids)
    return ids[-1] if ids else None


def align_history(
    history: Sequence[HistoryEntry], diff_ids: Sequence[str]
) -> list[tuple[HistoryEntry, str | None]]:
    """Pair each history entry with the DiffID of the layer it made (None for empty ones).

    As ``docker history``: more non-empty entries than layers is an error; fewer is
    tolerated (the extra layers have no history).
    """
    out: list[tuple[HistoryEntry, str | None]] = []
    layer = 0
    for h in history:
        if h.empty_layer:
            out.append((h, None))
            continue
        if layer >= len(diff_ids):
            raise Corrupt("too many non-empty layers in History section")
        out.append((h, diff_ids[layer]))
        layer += 1
    return out


def non_empty_history(history: Sequence[HistoryEntry]) -> list[HistoryEntry]:
    """The history entries that made a layer, in layer order."""
    return [h for h in history if not h.empty_layer]
