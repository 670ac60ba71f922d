"""The build cache: content-addressed step results, and why a step missed.

A step's key is the sha256 of its parent's key, the instruction text after
expansion, the values of the build args the step can see, and the digest of
the content it copies (file contents, modes, owners and names; never mtimes).
Each row of ``build_cache`` (key, parent, chain_id, created, last_used,
description) remembers the layer the step made; ``description`` is JSON with
the step's inputs, so a later miss can say what differs from the nearest
earlier build of the same step: which file, which build arg, the instruction,
or the parent. Rows keep their layers alive (the layer store's garbage
collection skips chain ids the cache holds), so the cache outlives ``rmi`` of
the images built from it; ``builder prune`` drops rows and then the layers
nothing else uses.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from dockyard.store.metadata import Database


@dataclass
class StepInputs:
    """What a step's result depends on."""

    instruction: str  # the instruction after expansion, with its flags
    args: dict[str, str] = field(default_factory=dict)  # build args the step sees
    files: dict[str, str] = field(default_factory=dict)  # copied path -> content digest
    extra: str = ""  # anything else (a source stage's key, the environment, mounts)
    content: str = ""  # the digest of the copied content (default: from ``files``)

    def content_digest(self) -> str:
        h = hashlib.sha256()
        for path in sorted(self.files):
            h.update(path.encode("utf-8", "surrogateescape") + b"\0" + self.files[path].encode())
            h.update(b"\n")
        return h.hexdigest()


def step_key(parent: str, inputs: StepInputs) -> str:
    payload = json.dumps(
        {
            "parent": parent,
            "instruction": inputs.instruction,
            "args": sorted(inputs.args.items()),
            "content": inputs.content or (inputs.content_digest() if inputs.files else ""),
            "extra": inputs.extra,
        },
        separators=(",", ":"),
    )
    return "sha256:" + hashlib.sha256(payload.encode()).hexdigest()


def base_key(image_id: str, platform: str) -> str:
    """The key a stage starts from: its base image (or scratch) and platform."""
    text = f"FROM {image_id or 'scratch'} {platform}"
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True)
class CacheRecord:
    key: str
    parent: str
    chain_id: str
    diff_id: str
    created: str  # RFC 3339, the layer's history time
    step: str
    last_used: float
    size: int = 0


@dataclass(frozen=True)
class CacheUsage:
    """One cache entry as ``system df`` and ``builder prune`` see it (BuildKit's record).

    ``in_use``: a running build holds its layer right now. ``in_image``: an image
    uses its layer. ``shared``: its bytes are counted elsewhere (by the image that
    uses the layer, or by another entry with the same layer), so ``system df``
    leaves them out of the build cache's size, as docker does.
    """

    key: str
    step: str
    size: int
    created: float
    last_used: float
    in_use: bool
    shared: bool
    in_image: bool = False
    parent: str = ""  # the key of the entry this step continues ("" for a base)
    usage_count: int = 1
    chain_id: str = ""


class BuildCache:
    def __init__(self, db: Database) -> None:
        self.db = db

    # ------------------------------------------------------------- lookups

    def lookup(self, key: str) -> CacheRecord | None:
        """The step's result if its layer still exists; touches last_used."""
        row = self.db.query_one(
            "SELECT b.*, l.size AS size FROM build_cache b JOIN layers l"
            " ON l.chain_id = b.chain_id WHERE b.key = ?",
            (key,),
        )
        if row is None:
            return None
        desc = _desc(row["description"])
        now = time.time()
        with self.db.transaction() as conn:
            conn.execute(
                "UPDATE build_cache SET last_used = ?, description = json_set(description,"
                " '$.uses', COALESCE(json_extract(description, '$.uses'), 1) + 1) WHERE key = ?",
                (now, key),
            )
        return CacheRecord(
            key=key,
            parent=row["parent"] or "",
            chain_id=row["chain_id"],
            diff_id=desc.get("diff_id", ""),
            created=desc.get("created", ""),
            step=desc.get("step", ""),
            last_used=now,
            size=row["size"],
        )

    def store(
        self,
        key: str,
        parent: str,
        inputs: StepInputs,
        *,
        step: str,
        chain_id: str,
        diff_id: str,
        created: str,
    ) -> None:
        description = json.dumps(
            {
                "step": step,
                "diff_id": diff_id,
                "created": created,
                "instruction": inputs.instruction,
                "args": inputs.args,
                "files": inputs.files,
                "extra": inputs.extra,
            },
            separators=(",", ":"),
        )
        now = time.time()
        with self.db.transaction() as conn:
            conn.execute(
                "INSERT OR REPLACE INTO build_cache"
                " (key, parent, image_id, chain_id, created, last_used, description)"
                " VALUES (?, ?, NULL, ?, ?, ?, ?)",
                (key, parent, chain_id, now, now, description),
            )

    # ------------------------------------------------------------- why a miss

    def explain_miss(self, parent: str, inputs: StepInputs, *, parent_missed: bool) -> str:
        """Why no entry matched: compared with the earlier builds of this step."""
        if parent_missed:
            return "parent changed"
        rows = self.db.query(
            "SELECT description FROM build_cache WHERE parent = ? ORDER BY last_used DESC",
            (parent,),
        )
        earlier = [_desc(r["description"]) for r in rows]
        same = [d for d in earlier if d.get("instruction") == inputs.instruction]
        if not same:
            return "instruction changed" if earlier else "not built before"
        previous = same[0]
        reasons: list[str] = []
        old_args: dict[str, str] = previous.get("args") or {}
        for name in sorted(set(old_args) | set(inputs.args)):
            if old_args.get(name) != inputs.args.get(name):
                reasons.append(
                    f"build arg {name} changed"
                    f" ({_shown(old_args.get(name))} -> {_shown(inputs.args.get(name))})"
                )
        old_files: dict[str, str] = previous.get("files") or {}
        changed = [p for p in inputs.files if p in old_files and old_files[p] != inputs.files[p]]
        for p in [p for p in changed if inputs.files[p].startswith("git:")]:
            changed.remove(p)  # ADD of a git ref: say where the ref moved
            old, new = old_files[p].removeprefix("git:"), inputs.files[p].removeprefix("git:")
            reasons.append(f"git source {p} moved from commit {old[:12]} to {new[:12]}")
        added = [p for p in inputs.files if p not in old_files]
        removed = [p for p in old_files if p not in inputs.files]
        reasons += _files("changed", changed) + _files("added", added) + _files("removed", removed)
        reasons += _extra_changes(previous.get("extra", ""), inputs.extra)
        if not reasons:
            reasons.append("cached layer was removed")
        return "; ".join(reasons)

    # ------------------------------------------------------------- usage and prune

    def usage(self, held: set[str] | frozenset[str] = frozenset()) -> list[CacheUsage]:
        """Every entry, most recently used first; ``held``: the chain ids running
        builds hold (their entries are in use)."""
        rows = self.db.query(
            "SELECT b.key, b.parent, b.chain_id, b.created, b.last_used, b.description,"
            " l.size AS size,"
            " EXISTS (SELECT 1 FROM image_layers il WHERE il.chain_id = b.chain_id) AS in_image,"
            " (SELECT MIN(o.key) FROM build_cache o WHERE o.chain_id = b.chain_id) AS owner"
            " FROM build_cache b LEFT JOIN layers l ON l.chain_id = b.chain_id"
            " ORDER BY b.last_used DESC, b.key"
        )
        out = []
        for r in rows:
            desc = _desc(r["description"])
            in_image = bool(r["in_image"])
            out.append(
                CacheUsage(
                    key=r["key"],
                    step=desc.get("step", ""),
                    size=int(r["size"] or 0),
                    created=r["created"],
                    last_used=r["last_used"],
                    in_use=(r["chain_id"] or "") in held,
                    shared=in_image or r["owner"] != r["key"],
                    in_image=in_image,
                    parent=r["parent"] or "",
                    usage_count=int(desc.get("uses") or 1),
                    chain_id=r["chain_id"] or "",
                )
            )
        return out

    def prune(
        self,
        *,
        all_entries: bool,
        until: float | None = None,
        keep_storage: int = 0,
        held: set[str] | frozenset[str] = frozenset(),
        match: Callable[[CacheUsage], bool] | None = None,
    ) -> tuple[list[CacheUsage], set[str]]:
        """Drop entries (least recently used first); returns them and their chain ids.

        Without ``all_entries`` only entries whose layer no image uses go (docker's
        default keeps the cache of tagged images too, but has no images to keep).
        """
        entries = list(reversed(self.usage(held)))  # least recently used first
        total = sum(e.size for e in entries)
        chosen: list[CacheUsage] = []
        for e in entries:
            if keep_storage and total <= keep_storage:
                break
            if until is not None and e.last_used >= until:
                continue
            if match is not None and not match(e):
                continue
            if e.in_use or (not all_entries and e.in_image):
                continue
            chosen.append(e)
            total -= e.size
        chains: set[str] = set()
        if chosen:
            with self.db.transaction() as conn:
                for e in chosen:
                    row = conn.execute(
                        "SELECT chain_id FROM build_cache WHERE key = ?", (e.key,)
                    ).fetchone()
                    if row is not None and row["chain_id"]:
                        chains.add(row["chain_id"])
                    conn.execute("DELETE FROM build_cache WHERE key = ?", (e.key,))
        return chosen, chains


_EXTRA_NAMES = {
    "ctx": "environment (ENV, USER or WORKDIR)",
    "env": "environment (ENV)",
    "user": "user",
    "wd": "working directory",
    "from": "source stage or image",
    "mounts": "RUN mounts",
}


def _extra_changes(old: str, new: str) -> list[str]:
    if old == new:
        return []
    try:
        before, after = json.loads(old or "{}"), json.loads(new or "{}")
    except ValueError:
        return ["step options changed"]
    if not isinstance(before, dict) or not isinstance(after, dict):
        return ["step options changed"]
    changed = sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k))
    return [f"{_EXTRA_NAMES.get(k, k)} changed" for k in changed]


def _desc(text: str | None) -> dict[str, Any]:
    try:
        value = json.loads(text or "{}")
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _shown(value: str | None) -> str:
    return "unset" if value is None else json.dumps(value)


def _files(verb: str, paths: list[str]) -> list[str]:
    if not paths:
        return []
    shown = ", ".join(sorted(paths)[:3])
    more = f" and {len(paths) - 3} more" if len(paths) > 3 else ""
    return [f"file{'s' if len(paths) > 1 else ''} {shown}{more} {verb}"]
