"""The image service: lookup, listing, inspect, history, tag, remove, prune, commit.

Images are rows keyed by their ID (the config digest, as Docker's); the config
itself is a blob in the content store. References (``refs``) map full normalised
names (``docker.io/library/busybox:latest``) to image IDs; an image without any
reference is dangling (``<none>:<none>``).
"""

from __future__ import annotations

import fnmatch
import json
import sqlite3
import time
from collections.abc import Callable, Iterable

from dockyard.engine.filters import Filters
from dockyard.errors import Conflict, InvalidArgument, NotFound
from dockyard.oci import reference as refs
from dockyard.store.metadata import Database
from dockyard.timeutil import parse_rfc3339, rfc3339_nano

TYPE_CHECKING = False  # typing costs every command ~2 ms to import
if TYPE_CHECKING:
    from typing import Any, NamedTuple

    from dockyard.engine.layerstore import LayerStore
    from dockyard.store.content import ContentStore

# ``image ls`` is on the hot path: this module avoids dataclasses (each costs an
# exec at import) and imports the layer machinery only when a verb needs it.


class Image:
    __slots__ = (
        "_labels",
        "added",
        "chain",
        "created",
        "created_unix",
        "id",
        "last_tag_time",
        "parent",
        "repo_digests",
        "repo_tags",
        "size",
    )

    def __init__(
        self,
        id: str,
        created: str,
        created_unix: float,
        added: float,
        size: int,
        parent: str,
        labels: dict[str, str] | str,
    ) -> None:
        self.id = id
        self.created = created
        self.created_unix = created_unix
        self.added = added
        self.size = size
        self.parent = parent
        self._labels = labels  # the JSON text until someone asks (listing rarely does)
        self.repo_tags: list[str] = []  # full names
        self.repo_digests: list[str] = []  # full names
        self.chain: list[str] = []
        self.last_tag_time: float | None = None

    @property
    def labels(self) -> dict[str, str]:
        if isinstance(self._labels, str):
            self._labels = json.loads(self._labels)
        assert isinstance(self._labels, dict)
        return self._labels

    @property
    def dangling(self) -> bool:
        return not self.repo_tags and not self.repo_digests


if TYPE_CHECKING:

    class DeleteResult(NamedTuple):
        """One line of ``rmi`` output: ("Untagged", "busybox:latest") or ("Deleted", id)."""

        action: str
        value: str

    class PruneReport(NamedTuple):
        deleted: list[DeleteResult]
        reclaimed: int
else:
    from collections import namedtuple

    DeleteResult = namedtuple("DeleteResult", "action value")
    PruneReport = namedtuple("PruneReport", "deleted reclaimed")


IMAGE_FILTERS = ("dangling", "label", "before", "since", "reference", "until")


class ImageService:
    def __init__(
        self,
        db: Database,
        content: Callable[[], ContentStore],
        layers: Callable[[], LayerStore],
        record_event: Callable[[str, str, str, dict[str, str]], None],
    ) -> None:
        self.db = db
        self._content = content
        self._layers = layers
        self._event = record_event

    @property
    def layers(self) -> LayerStore:
        return self._layers()

    @property
    def content(self) -> ContentStore:
        return self._content()

    # ----------------------------------------------------------------- lookup

    def _load_many(
        self, rows: list[sqlite3.Row], where: str = "", params: tuple[str, ...] = ()
    ) -> list[Image]:
        """Images with their tags, digests and layers, in four queries however many."""
        images: dict[str, Image] = {}
        for row in rows:
            images[row["id"]] = Image(
                id=row["id"],
                created=row["created"],
                created_unix=row["created_unix"],
                added=row["added"],
                size=row["size"],
                parent=row["parent"] or "",
                labels=row["labels"],
            )
        if not images:
            return []
        for r in self.db.query(
            f"SELECT image_id, name, created FROM refs {where} ORDER BY created, name", params
        ):
            image = images.get(r["image_id"])
            if image is not None:
                image.repo_tags.append(r["name"])
                image.last_tag_time = max(image.last_tag_time or 0.0, r["created"])
        for r in self.db.query(
            f"SELECT image_id, name FROM repo_digests {where} ORDER BY name", params
        ):
            if r["image_id"] in images:
                images[r["image_id"]].repo_digests.append(r["name"])
        for r in self.db.query(
            f"SELECT image_id, chain_id FROM image_layers {where} ORDER BY image_id, position",
            params,
        ):
            if r["image_id"] in images:
                images[r["image_id"]].chain.append(r["chain_id"])
        return list(images.values())

    def get(self, image_id: str) -> Image:
        rows = self.db.query("SELECT * FROM images WHERE id = ?", (image_id,))
        if not rows:
            raise NotFound(f"No such image: {image_id}")
        return self._load_many(rows, "WHERE image_id = ?", (image_id,))[0]

    def resolve(self, name: str) -> str:
        """Docker's lookup order: full ID, reference (tag or digest), then ID prefix."""
        image_id = self.try_resolve(name)
        if image_id is None:
            raise NotFound(f"No such image: {display_name(name)}")
        return image_id

    def try_resolve(self, name: str) -> str | None:
        try:
            parsed = refs.parse_any_reference(name)
        except InvalidArgument:
            parsed = None
        if isinstance(parsed, str):
            row = self.db.query_one("SELECT id FROM images WHERE id = ?", (parsed,))
            if row is not None:
                return str(row["id"])
        elif parsed is not None:
            full = str(parsed.docker_ref())
            table = "repo_digests" if parsed.digest is not None else "refs"
            row = self.db.query_one(f"SELECT image_id FROM {table} WHERE name = ?", (full,))
            if row is not None:
                return str(row["image_id"])
        prefix = refs.id_prefix_hex(name)
        if prefix is None:
            return None
        rows = self.db.query(
            "SELECT id FROM images WHERE id >= ? AND id < ? LIMIT 2",
            ("sha256:" + prefix, "sha256:" + prefix + "\x7f"),
        )
        if len(rows) > 1:
            raise Conflict(f"short identifier {name!r} is ambiguous")  # rare: hex prefixes
        return str(rows[0]["id"]) if rows else None

    def inspect_raw(self, name: str) -> tuple[Image, dict[str, Any]]:
        image = self.get(self.resolve(name))
        return image, json.loads(self.content.read(image.id))

    # ----------------------------------------------------------------- listing

    def all(self) -> list[Image]:
        return self._load_many(self.db.query("SELECT * FROM images ORDER BY created_unix DESC, id"))

    def list_images(
        self,
        *,
        show_all: bool = False,
        filters: Filters | None = None,
        reference: str | None = None,
    ) -> list[Image]:
        """Images for ``image ls``, newest first, filters applied."""
        filters = filters or Filters()
        filters.validate(IMAGE_FILTERS)
        images = self.all()
        if not show_all:
            parents = {i.parent for i in images if i.parent}
            images = [i for i in images if not (i.dangling and i.id in parents)]
        patterns = filters.get("reference") + ([reference] if reference else [])
        if filters.has("dangling"):
            want = filters.bool_value("dangling")
            images = [i for i in images if i.dangling == want]
        for label in filters.get("label"):
            images = [i for i in images if _label_matches(i.labels, label)]
        for value in filters.get("before"):
            pivot = self.get(self.resolve(value)).created_unix
            images = [i for i in images if i.created_unix < pivot]
        for value in filters.get("since"):
            pivot = self.get(self.resolve(value)).created_unix
            images = [i for i in images if i.created_unix > pivot]
        for value in filters.get("until"):
            cutoff = filters.timestamp(value)
            images = [i for i in images if i.created_unix < cutoff]
        if patterns:
            images = [i for i in images if _reference_matches(i, patterns)]
        return images

    # ----------------------------------------------------------------- history

    def history(self, name: str) -> list[dict[str, Any]]:
        """Rows newest first, as the Engine API's image history returns them."""
        image, config = self.inspect_raw(name)
        entries = config.get("history") or []
        layers = [self.layers.require(c) for c in image.chain]
        rows: list[dict[str, Any]] = []
        layer_index = 0
        if not entries:
            entries = [{"created": config.get("created", "")} for _ in layers]
        for entry in entries:
            size = 0
            if not entry.get("empty_layer"):
                if layer_index < len(layers):
                    size = layers[layer_index].size
                layer_index += 1
            rows.append(
                {
                    "Id": "<missing>",
                    "Created": int(_created(entry.get("created") or config.get("created"))),
                    "CreatedBy": entry.get("created_by", ""),
                    "Tags": None,
                    "Size": size,
                    "Comment": entry.get("comment", ""),
                }
            )
        rows.reverse()
        if rows:
            rows[0]["Id"] = image.id
            rows[0]["Tags"] = [refs.parse_reference(t).familiar() for t in image.repo_tags] or None
        return rows

    # ----------------------------------------------------------------- commit

    def create(
        self,
        config_bytes: bytes,
        chain: list[str],
        *,
        tags: Iterable[str] = (),
        repo_digests: Iterable[str] = (),
        parent: str = "",
        lease: str | None = None,
    ) -> tuple[str, list[tuple[str, str]]]:
        """Record an image whose config blob and layers are already stored.

        Returns the image ID and, for each tag that moved off another image,
        (tag, old image ID) — ``load`` reports those as Docker does.
        """
        config = json.loads(config_bytes)
        image_id = self.content.put(config_bytes)
        from dockyard.oci.image import chain_ids

        diff_ids = list(config.get("rootfs", {}).get("diff_ids") or [])
        if chain_ids(diff_ids) != chain:
            raise InvalidArgument("image config's diff_ids do not match its layers")
        created = config.get("created") or rfc3339_nano(time.time())
        labels = (config.get("config") or {}).get("Labels") or {}
        sizes = 0
        moved: list[tuple[str, str]] = []
        now = time.time()
        with self.db.transaction() as conn:
            for chain_id in chain:
                layer = conn.execute(
                    "SELECT size FROM layers WHERE chain_id = ?", (chain_id,)
                ).fetchone()
                if layer is None:
                    raise NotFound(f"layer {chain_id} does not exist")
                sizes += layer["size"]
            conn.execute(
                "INSERT OR IGNORE INTO images (id, created, created_unix, added, size, parent,"
                " top_layer, os, architecture, labels) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    image_id,
                    created,
                    _created(created),
                    now,
                    sizes,
                    parent or None,
                    chain[-1] if chain else None,
                    config.get("os", "linux"),
                    config.get("architecture", "amd64"),
                    json.dumps(labels, sort_keys=True),
                ),
            )
            conn.executemany(
                "INSERT OR IGNORE INTO image_layers (image_id, position, chain_id)"
                " VALUES (?, ?, ?)",
                [(image_id, n, c) for n, c in enumerate(chain)],
            )
            for tag in tags:
                old = conn.execute("SELECT image_id FROM refs WHERE name = ?", (tag,)).fetchone()
                if old is not None and old["image_id"] != image_id:
                    moved.append((tag, old["image_id"]))
                conn.execute(
                    "INSERT OR REPLACE INTO refs (name, image_id, created) VALUES (?, ?, ?)",
                    (tag, image_id, now),
                )
            for digest_ref in repo_digests:
                conn.execute(
                    "INSERT OR IGNORE INTO repo_digests (name, image_id) VALUES (?, ?)",
                    (digest_ref, image_id),
                )
            if lease is not None:
                conn.execute("DELETE FROM leases WHERE id = ?", (lease,))
        return image_id, moved

    # ----------------------------------------------------------------- tag

    def tag(self, source: str, target: str) -> None:
        image_id = self.resolve(source)
        ref = refs.parse_reference(target)
        if ref.digest is not None:
            raise InvalidArgument("refusing to create a tag with a digest reference")
        full = str(ref.with_default_tag())
        with self.db.transaction() as conn:
            conn.execute(
                "INSERT OR REPLACE INTO refs (name, image_id, created) VALUES (?, ?, ?)",
                (full, image_id, time.time()),
            )
        self._event("image", "tag", image_id, {"name": ref.with_default_tag().familiar()})

    # ----------------------------------------------------------------- remove

    def remove(self, name: str, *, force: bool = False, prune: bool = True) -> list[DeleteResult]:
        """``rmi``: untag by name, or delete by ID, with Docker's conflict rules."""
        image_id = self.resolve(name)
        image = self.get(image_id)
        results: list[DeleteResult] = []
        named = self._is_reference_to(name, image)
        if named is not None:
            if not force and _single_reference(image.repo_tags, image.repo_digests):
                row = self.db.query_one(
                    "SELECT id FROM containers WHERE image_id = ? LIMIT 1", (image_id,)
                )
                if row is not None:  # untagging would leave it dangling: must be forced
                    raise Conflict(
                        f"conflict: unable to remove repository reference \"{name}\""
                        f" (must force) - container {row['id'][:12]} is using its"
                        f" referenced image {_short(image_id)}"
                    )
            self._untag(named, results)
            remaining = [r for r in image.repo_tags + image.repo_digests if r != named]
            ref = refs.parse_reference(named)
            if ref.digest is None and not any(
                refs.parse_reference(t).name == ref.name for t in image.repo_tags if t != named
            ):
                # The last tag of this repository is gone: its digest references go too.
                for digest_ref in image.repo_digests:
                    if refs.parse_reference(digest_ref).name == ref.name:
                        self._untag(digest_ref, results)
                        remaining.remove(digest_ref)
            if remaining:
                return results
            if self._conflict(image_id, force) is not None or self._used(image_id):
                return results  # the untag was the whole job; the image stays in use
        else:
            repos = {refs.parse_reference(t).name for t in image.repo_tags + image.repo_digests}
            if len(repos) > 1 and not force:
                raise Conflict(
                    f"conflict: unable to delete {_short(image_id)} (must be forced)"
                    " - image is referenced in multiple repositories"
                )
            conflict = self._conflict(image_id, force)
            if conflict is not None:
                raise Conflict(conflict)
            for ref_name in image.repo_tags + image.repo_digests:
                self._untag(ref_name, results)
            if self._used(image_id):
                return results  # forced: untagged, kept for the containers made from it
        results.extend(self._delete(image_id, prune))
        return results

    def _is_reference_to(self, name: str, image: Image) -> str | None:
        """The stored reference ``name`` denotes, if it names the image by reference."""
        try:
            parsed = refs.parse_any_reference(name)
        except InvalidArgument:
            return None
        if isinstance(parsed, str):
            return None
        full = str(parsed.docker_ref())
        if full in image.repo_tags or full in image.repo_digests:
            return full
        return None

    def _conflict(self, image_id: str, force: bool) -> str | None:
        """Docker's delete conflicts: children always, containers unless forced."""
        child = self.db.query_one("SELECT id FROM images WHERE parent = ? LIMIT 1", (image_id,))
        if child is not None:
            return (
                f"conflict: unable to delete {_short(image_id)} (cannot be forced)"
                " - image has dependent child images"
            )
        row = self.db.query_one("SELECT id FROM containers WHERE image_id = ? LIMIT 1", (image_id,))
        if row is not None and not force:
            return (
                f"conflict: unable to delete {_short(image_id)} (must be forced)"
                f" - image is being used by stopped container {row['id'][:12]}"
            )
        return None

    def _used(self, image_id: str) -> bool:
        """A container was made from it: its row stays (containers.image_id refers to it)."""
        row = self.db.query_one("SELECT 1 FROM containers WHERE image_id = ? LIMIT 1", (image_id,))
        return row is not None

    def _untag(self, full: str, results: list[DeleteResult]) -> None:
        with self.db.transaction() as conn:
            conn.execute("DELETE FROM refs WHERE name = ?", (full,))
            conn.execute("DELETE FROM repo_digests WHERE name = ?", (full,))
        familiar = refs.parse_reference(full).familiar()
        results.append(DeleteResult("Untagged", familiar))
        self._event("image", "untag", full, {"name": familiar})

    def _delete(self, image_id: str, prune: bool) -> list[DeleteResult]:
        image = self.get(image_id)
        parent = image.parent
        with self.db.transaction() as conn:
            conn.execute("DELETE FROM images WHERE id = ?", (image_id,))
        results = [DeleteResult("Deleted", image_id)]
        self._event("image", "delete", image_id, {"name": image_id})
        removed = self.layers.collect_garbage(set(image.chain))
        results.extend(DeleteResult("Deleted", c) for c in removed)
        self.layers.drop_blob_if_unused(image_id)
        if prune and parent and not self._used(parent):
            try:
                parent_image = self.get(parent)
            except NotFound:
                return results
            if parent_image.dangling and not self._has_children(parent):
                results.extend(self._delete(parent, prune))
        return results

    def _has_children(self, image_id: str) -> bool:
        return self.db.query_one("SELECT 1 FROM images WHERE parent = ?", (image_id,)) is not None

    def in_use(self) -> set[str]:
        return {
            r["image_id"]
            for r in self.db.query("SELECT DISTINCT image_id FROM containers")
            if r["image_id"]
        }

    # ----------------------------------------------------------------- prune

    def prune(self, *, all_images: bool = False, filters: Filters | None = None) -> PruneReport:
        filters = filters or Filters()
        filters.validate(("until", "label", "label!", "dangling"))
        if filters.has("dangling") and not filters.bool_value("dangling"):
            all_images = True
        used = self.in_use()
        deleted: list[DeleteResult] = []
        reclaimed = 0
        candidates = [i for i in self.all() if i.id not in used]
        if not all_images:
            candidates = [i for i in candidates if i.dangling]
        for value in filters.get("until"):
            cutoff = filters.timestamp(value)
            candidates = [i for i in candidates if i.created_unix < cutoff]
        for label in filters.get("label"):
            candidates = [i for i in candidates if _label_matches(i.labels, label)]
        for label in filters.get("label!"):
            candidates = [i for i in candidates if not _label_matches(i.labels, label)]
        for image in candidates:
            try:
                current = self.get(image.id)
            except NotFound:
                continue
            if self._has_children(image.id):
                continue
            before = self._layer_bytes()
            for ref_name in current.repo_tags + current.repo_digests:
                self._untag(ref_name, deleted)
            deleted.extend(self._delete(image.id, prune=True))
            reclaimed += max(0, before - self._layer_bytes())
        return PruneReport(deleted, reclaimed)

    def _layer_bytes(self) -> int:
        row = self.db.query_one("SELECT COALESCE(SUM(size), 0) AS total FROM layers")
        return int(row["total"]) if row else 0

    def shared_sizes(self) -> dict[str, int]:
        """Per image, the bytes of layers it shares with another image."""
        counts: dict[str, int] = {}
        for row in self.db.query(
            "SELECT chain_id, COUNT(DISTINCT image_id) AS n FROM image_layers GROUP BY chain_id"
        ):
            counts[row["chain_id"]] = row["n"]
        sizes = {
            r["chain_id"]: r["size"] for r in self.db.query("SELECT chain_id, size FROM layers")
        }
        shared: dict[str, int] = {}
        for row in self.db.query("SELECT image_id, chain_id FROM image_layers"):
            if counts.get(row["chain_id"], 0) > 1:
                shared[row["image_id"]] = shared.get(row["image_id"], 0) + sizes.get(
                    row["chain_id"], 0
                )
        return shared


def _created(value: str | None) -> float:
    """An image's creation time; Docker shows images with a bad or missing one at 0."""
    if not value:
        return 0.0
    try:
        return parse_rfc3339(value)
    except InvalidArgument:
        return 0.0


def _single_reference(tags: list[str], digests: list[str]) -> bool:
    """Docker's ``isSingleReference``: one tag (digest references of that same
    repository aside), or a single reference of any kind."""
    if len(tags) + len(digests) <= 1:
        return len(tags) + len(digests) == 1
    if len(tags) > 1:
        return False
    digest_repos = {refs.parse_reference(d).name for d in digests}
    single = refs.parse_reference(tags[0] if tags else digests[0]).name
    return digest_repos == {single}


def _short(image_id: str) -> str:
    return image_id.removeprefix("sha256:")[:12]


def display_name(name: str) -> str:
    """How Docker names a missing image: with ``:latest`` added to a bare name."""
    try:
        parsed = refs.parse_any_reference(name)
    except InvalidArgument:
        return name
    if isinstance(parsed, str):
        return name
    return parsed.docker_ref().familiar()


def _label_matches(labels: dict[str, str], expr: str) -> bool:
    key, sep, value = expr.partition("=")
    if key not in labels:
        return False
    return not sep or labels[key] == value


def _reference_matches(image: Image, patterns: list[str]) -> bool:
    """Docker's reference filter: path.Match against the familiar name, with or without tag."""
    for full in image.repo_tags + image.repo_digests:
        ref = refs.parse_reference(full)
        familiar_name = ref.familiar_name
        for pattern in patterns:
            if _path_match(pattern, familiar_name):
                return True
            if ref.tag is not None and _path_match(pattern, f"{familiar_name}:{ref.tag}"):
                return True
            if ref.digest is not None and _path_match(pattern, f"{familiar_name}@{ref.digest}"):
                return True
    return False


def _path_match(pattern: str, name: str) -> bool:
    """Go's path.Match: ``*`` and ``?`` do not cross ``/``."""
    if pattern.count("/") != name.count("/"):
        return False
    return all(
        fnmatch.fnmatchcase(n, p) for p, n in zip(pattern.split("/"), name.split("/"), strict=True)
    )
