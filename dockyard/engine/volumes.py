"""The volume service: Docker's ``local`` volume driver.

A volume is a row in ``volumes`` plus ``$ROOT/volumes/<name>/_data``. Creation and
removal change the directory inside the SQLite write transaction that changes the
row (``BEGIN IMMEDIATE`` serialises them across processes), so concurrent creates
of one name give one directory and one row, and every creator gets the volume.
The directory is made under a temporary name and renamed into place; removal
renames it to a trash name before the row goes. Leftover temporary and trash
directories carry their creator's pid and are swept once that process is gone.

Which containers use a volume comes from the ``containers`` table: a container
uses every volume its ``config`` JSON lists under ``"Mounts"`` as
``{"Type": "volume", "Name": <name>, ...}`` (the shape of Docker's inspect
``Mounts``); see :func:`volumes_in_use`.
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Callable

from dockyard.engine.filters import Filters
from dockyard.errors import Conflict, InvalidArgument, NotFound
from dockyard.store.metadata import Database

TYPE_CHECKING = False  # typing costs every command ~2 ms to import
if TYPE_CHECKING:
    from typing import Any

ANONYMOUS_LABEL = "com.docker.volume.anonymous"
DEFAULT_DRIVER = "local"
_NAME_RE = re.compile(r"[a-zA-Z0-9][a-zA-Z0-9_.-]+")
_NAME_CHARS = "[a-zA-Z0-9][a-zA-Z0-9_.-]"
_VALID_OPTS = ("type", "o", "device", "size")
# moby's local driver: an option that is given requires these others.
_MANDATORY_OPTS = (("device", ("type",)), ("type", ("device",)), ("o", ("device",)))
_TEMP_PREFIX = ".tmp-"
_TRASH_PREFIX = ".trash-"

Recorder = Callable[[str, str, str, dict[str, str]], None]
_List = list  # VolumeService.list shadows the builtin in its class body


class Volume:
    __slots__ = ("created", "driver", "labels", "mountpoint", "name", "options")

    def __init__(
        self,
        name: str,
        driver: str,
        created: float,
        labels: dict[str, str],
        options: dict[str, str],
        mountpoint: str,
    ) -> None:
        self.name = name
        self.driver = driver
        self.created = created
        self.labels = labels
        self.options = options
        self.mountpoint = mountpoint

    @property
    def anonymous(self) -> bool:
        return ANONYMOUS_LABEL in self.labels

    def inspect(self) -> dict[str, Any]:
        """``docker volume inspect``'s object (the Engine API's Volume)."""
        from dockyard.golang.timefmt import format_rfc3339, local_zone

        sec = int(self.created)
        return {
            "CreatedAt": format_rfc3339(sec, local_zone(sec)[1]),
            "Driver": self.driver,
            "Labels": dict(sorted(self.labels.items())) or None,
            "Mountpoint": self.mountpoint,
            "Name": self.name,
            "Options": dict(sorted(self.options.items())) or None,
            "Scope": "local",
        }

    def __repr__(self) -> str:
        return f"Volume({self.name!r}, driver={self.driver!r})"


class PruneReport:
    __slots__ = ("deleted", "reclaimed")

    def __init__(self, deleted: list[str], reclaimed: int) -> None:
        self.deleted = deleted
        self.reclaimed = reclaimed


def validate_name(name: str) -> None:
    """The local driver's name rule, with Docker's wording (without the op prefix)."""
    if len(name) == 1:
        raise InvalidArgument(
            "volume name is too short, names should be at least two alphanumeric characters"
        )
    if not _NAME_RE.fullmatch(name):
        raise InvalidArgument(
            f'"{name}" includes invalid characters for a local volume name, only'
            f' "{_NAME_CHARS}" are allowed. If you intended to pass a host directory,'
            " use absolute path"
        )


def validate_options(options: dict[str, str]) -> None:
    """The local driver's options: type, device, o (mount(8)'s), and size (quota)."""
    for key in options:
        if key not in _VALID_OPTS:
            raise InvalidArgument(f'invalid option: "{key}"')
    if "size" in options:
        from dockyard.golang.units import ram_in_bytes

        if ram_in_bytes(options["size"]) > 0:
            raise InvalidArgument("quota size requested but no quota support")
    for given, required in _MANDATORY_OPTS:
        if given in options:
            for other in required:
                if other not in options:
                    raise InvalidArgument(f'missing required option: "{other}"')


def volumes_in_use(db: Database) -> dict[str, list[str]]:
    """Volume name -> IDs of the containers whose ``config["Mounts"]`` list it
    (entries with ``"Type": "volume"`` and a ``"Name"``), in creation order."""
    used: dict[str, list[str]] = {}
    for row in db.query("SELECT id, config FROM containers ORDER BY created, id"):
        try:
            config = json.loads(row["config"] or "{}")
        except ValueError:
            continue
        mounts = config.get("Mounts") if isinstance(config, dict) else None
        for mount in mounts or []:
            if not isinstance(mount, dict) or mount.get("Type") != "volume":
                continue
            name = mount.get("Name")
            if name and row["id"] not in used.setdefault(name, []):
                used[name].append(row["id"])
    return used


def directory_size(path: str) -> int:
    """Bytes of the files below *path*, each inode once (the snapshotter's measure)."""
    from dockyard.store.snapshots.common import tree_usage

    return tree_usage(path).size


def _label_matches(labels: dict[str, str], expr: str) -> bool:
    key, sep, value = expr.partition("=")
    if key not in labels:
        return False
    return not sep or labels[key] == value


class VolumeService:
    def __init__(self, db: Database, root: str, record: Recorder | None = None) -> None:
        self.db = db
        self.root = os.path.join(root, "volumes")
        self._record = record

    # ------------------------------------------------------------ lookup

    def path(self, name: str) -> str:
        return os.path.join(self.root, name)

    def mountpoint(self, name: str) -> str:
        """The host directory a container mounts for volume *name* (which must exist)."""
        return self.get(name).mountpoint

    def _volume(self, row: Any) -> Volume:
        return Volume(
            row["name"],
            row["driver"],
            row["created"],
            json.loads(row["labels"] or "{}"),
            json.loads(row["options"] or "{}"),
            os.path.join(self.root, row["name"], "_data"),
        )

    def _row(self, name: str) -> Any:
        return self.db.query_one("SELECT * FROM volumes WHERE name = ?", (name,))

    def get(self, name: str) -> Volume:
        row = self._row(name)
        if row is None:
            raise NotFound(f"get {name}: no such volume")
        volume = self._volume(row)
        if not os.path.isdir(volume.mountpoint):
            self._repair(volume.name)
        return volume

    def all(self) -> list[Volume]:
        return [self._volume(r) for r in self.db.query("SELECT * FROM volumes ORDER BY name")]

    def in_use(self) -> dict[str, list[str]]:
        return volumes_in_use(self.db)

    # ------------------------------------------------------------ create

    def create(
        self,
        name: str | None = None,
        driver: str = DEFAULT_DRIVER,
        labels: dict[str, str] | None = None,
        options: dict[str, str] | None = None,
        anonymous: bool = False,
    ) -> Volume:
        """Docker's volume create: an existing volume of the same driver is returned
        as it is (labels and options are not changed); another driver is a conflict."""
        labels = dict(labels or {})
        options = dict(options or {})
        if not name:
            import secrets

            name = secrets.token_hex(32)
            anonymous = True
        if anonymous:
            labels[ANONYMOUS_LABEL] = ""
        driver = driver or DEFAULT_DRIVER
        if driver != DEFAULT_DRIVER:
            raise NotFound(
                f'create {name}: error looking up volume plugin {driver}: plugin "{driver}"'
                " not found"
            )
        existing = self._row(name)
        if existing is None:
            try:
                validate_name(name)
                validate_options(options)
            except InvalidArgument as exc:
                raise InvalidArgument(f"create {name}: {exc.message}") from None
        created = False
        with self.db.transaction() as conn:
            row = conn.execute("SELECT * FROM volumes WHERE name = ?", (name,)).fetchone()
            if row is None:
                self._make_dir(name)
                conn.execute(
                    "INSERT INTO volumes (name, driver, created, labels, options)"
                    " VALUES (?, ?, ?, ?, ?)",
                    (name, driver, time.time(), json.dumps(labels), json.dumps(options)),
                )
                row = conn.execute("SELECT * FROM volumes WHERE name = ?", (name,)).fetchone()
                created = True
        if row["driver"] != driver:
            raise Conflict(
                f"create {name}: driver '{row['driver']}' already has volume '{name}':"
                " volume name must be unique"
            )
        volume = self._volume(row)
        if created:
            self._event("create", name, driver)
        elif not os.path.isdir(volume.mountpoint):
            self._repair(name)
        return volume

    def ensure(self, name: str) -> Volume:
        """The named volume, created (local driver, no options) on first use."""
        row = self._row(name)
        if row is not None:
            return self.get(name)
        return self.create(name)

    def _make_dir(self, name: str) -> None:
        """``volumes/<name>/_data`` (0755), made under a temporary name and renamed."""
        import secrets

        os.makedirs(self.root, mode=0o701, exist_ok=True)
        self._sweep()
        final = self.path(name)
        if os.path.isdir(os.path.join(final, "_data")):
            return  # left by a process killed before its row was written: adopt it
        temp = os.path.join(self.root, f"{_TEMP_PREFIX}{os.getpid()}-{secrets.token_hex(4)}")
        os.mkdir(temp, 0o755)
        os.mkdir(os.path.join(temp, "_data"), 0o755)
        os.chmod(temp, 0o755)
        os.chmod(os.path.join(temp, "_data"), 0o755)
        try:
            os.rename(temp, final)
        except OSError:
            # a stray non-directory or half-made entry under the name: replace it
            self._discard(final)
            os.rename(temp, final)
        _fsync_dir(self.root)

    def _repair(self, name: str) -> None:
        """A row whose directory is gone (a kill during rm): give it an empty one."""
        with self.db.transaction() as conn:
            if conn.execute("SELECT 1 FROM volumes WHERE name = ?", (name,)).fetchone():
                self._make_dir(name)

    # ------------------------------------------------------------ remove

    def remove(self, name: str, force: bool = False) -> None:
        """Remove a volume no container uses; ``force`` ignores a missing one."""
        with self.db.transaction() as conn:
            row = conn.execute("SELECT name FROM volumes WHERE name = ?", (name,)).fetchone()
            if row is None:
                if force:
                    return
                raise NotFound(f"get {name}: no such volume")
            users = volumes_in_use(self.db).get(name)
            if users:
                raise Conflict(f"remove {name}: volume is in use - [{', '.join(users)}]")
            trash = self._to_trash(name)
            conn.execute("DELETE FROM volumes WHERE name = ?", (name,))
        if trash:
            _rmtree(trash)
        self._event("destroy", name, DEFAULT_DRIVER)

    def _to_trash(self, name: str) -> str | None:
        import secrets

        path = self.path(name)
        trash = os.path.join(self.root, f"{_TRASH_PREFIX}{os.getpid()}-{secrets.token_hex(4)}")
        try:
            os.rename(path, trash)
        except FileNotFoundError:
            return None
        return trash

    def _discard(self, path: str) -> None:
        if os.path.isdir(path) and not os.path.islink(path):
            trash = os.path.join(self.root, f"{_TRASH_PREFIX}{os.getpid()}-{os.urandom(4).hex()}")
            os.rename(path, trash)
            _rmtree(trash)
        elif os.path.lexists(path):
            os.unlink(path)

    def _sweep(self) -> None:
        """Remove temporary and trash directories whose process is gone."""
        from dockyard.store.procs import pid_alive

        try:
            names = os.listdir(self.root)
        except FileNotFoundError:
            return
        for entry in names:
            for prefix in (_TEMP_PREFIX, _TRASH_PREFIX):
                if not entry.startswith(prefix):
                    continue
                pid = entry[len(prefix) :].split("-", 1)[0]
                if pid.isdigit() and (int(pid) == os.getpid() or pid_alive(int(pid))):
                    continue
                _rmtree(os.path.join(self.root, entry))

    # ------------------------------------------------------------ list, prune

    def list(self, filters: Filters | None = None) -> list[Volume]:
        """``volume ls``: filters name (regexp), driver, label, dangling."""
        filters = filters or Filters()
        filters.validate(("name", "driver", "label", "dangling"))
        volumes = self.all()
        if filters.has("dangling"):
            dangling = filters.bool_value("dangling")
            used = self.in_use()
            volumes = [v for v in volumes if (v.name not in used) == dangling]
        names = filters.get("name")
        if names:
            patterns = []
            for pattern in names:
                try:
                    patterns.append(re.compile(pattern))
                except re.error as exc:
                    raise InvalidArgument(f"invalid filter 'name={pattern}': {exc}") from None
            volumes = [v for v in volumes if any(p.search(v.name) for p in patterns)]
        drivers = filters.get("driver")
        if drivers:
            volumes = [v for v in volumes if v.driver in drivers]
        for label in filters.get("label"):
            volumes = [v for v in volumes if _label_matches(v.labels, label)]
        return volumes

    def prune(self, all: bool = False, filters: Filters | None = None) -> PruneReport:
        """Remove unused local volumes: anonymous ones, or every one with ``all``
        (Docker 23+; the ``all=true`` filter does the same)."""
        filters = filters or Filters()
        filters.validate(("label", "label!", "all"))
        if filters.has("all") and filters.bool_value("all"):
            all = True
        used = self.in_use()
        candidates = [v for v in self.all() if v.name not in used and v.driver == DEFAULT_DRIVER]
        if not all:
            candidates = [v for v in candidates if v.anonymous]
        for label in filters.get("label"):
            candidates = [v for v in candidates if _label_matches(v.labels, label)]
        for label in filters.get("label!"):
            candidates = [v for v in candidates if not _label_matches(v.labels, label)]
        deleted: list[str] = []
        reclaimed = 0
        for volume in candidates:
            size = directory_size(volume.mountpoint)
            try:
                self.remove(volume.name)
            except (Conflict, NotFound):
                continue  # taken into use or removed by someone else meanwhile
            deleted.append(volume.name)
            reclaimed += size
        if os.path.isdir(self.root):
            self._sweep()
        return PruneReport(deleted, reclaimed)

    # ------------------------------------------------------------ usage

    def usage(self) -> _List[dict[str, Any]]:
        """``/system/df``'s Volumes: each volume with UsageData {Size, RefCount}.

        Volumes with mount options are left out, as Docker does (their data may be
        an external filesystem that is slow to walk)."""
        used = self.in_use()
        result = []
        for volume in self.all():
            if volume.options:
                continue
            item = volume.inspect()
            item["UsageData"] = {
                "RefCount": len(used.get(volume.name, [])),
                "Size": directory_size(volume.mountpoint),
            }
            result.append(item)
        return result

    # ------------------------------------------------------------ copy-up

    def copy_up(self, name: str, source_dir: str) -> bool:
        """Fill an empty volume from *source_dir* (the image's content at the mount
        point), as Docker does when a container first mounts a new volume.

        Owners, modes, timestamps, xattrs, hardlinks, symlinks and device nodes are
        kept, and ``_data`` takes the owner and mode of *source_dir*. Nothing is
        copied when the volume is not empty. Returns whether it copied.
        """
        import fcntl

        from dockyard.engine.copytree import copy_tree

        volume = self.get(name)
        lock_fd = os.open(self.path(name), os.O_RDONLY | os.O_DIRECTORY)
        try:
            fcntl.flock(lock_fd, fcntl.LOCK_EX)
            if os.listdir(volume.mountpoint):
                return False
            if not os.path.isdir(source_dir):
                return False
            copy_tree(source_dir, volume.mountpoint)
            return True
        finally:
            os.close(lock_fd)

    # ------------------------------------------------------------ events

    def _event(self, action: str, name: str, driver: str) -> None:
        if self._record is not None:
            self._record("volume", action, name, {"driver": driver})


def _rmtree(path: str) -> None:
    import shutil

    shutil.rmtree(path, ignore_errors=True)


def _fsync_dir(path: str) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
