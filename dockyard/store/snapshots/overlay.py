"""The overlay2 snapshotter: each snapshot's own files, stacked by overlayfs.

Per snapshot ``<root>/<id>/`` holds ``fs/`` (the layer's files; an active
snapshot's upper dir), ``work/`` (overlayfs's work dir, active snapshots only)
and ``link``, the name of its short symlink ``<root>/l/<SHORT> -> ../<id>/fs``
(docker's overlay2 trick, so that the mount data of a long chain fits in one
page when the kernel lacks ``lowerdir+``).

Mounting prefers the new mount API, one ``fsconfig(lowerdir+)`` per layer (Linux
6.8+, no length limit); otherwise ``mount(2)`` with absolute paths when they fit
in a page, else with ``l/<SHORT>`` paths from a child whose working directory
is the root. :meth:`OverlaySnapshotter.mounts` always returns absolute paths.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import stat
from typing import NamedTuple

from dockyard.errors import InvalidArgument, Unsupported
from dockyard.store.metadata import Database
from dockyard.store.snapshots import _linux
from dockyard.store.snapshots.base import Mount, SnapshotKind, WhiteoutFormat
from dockyard.store.snapshots.common import (
    STAGING_PREFIX,
    DirectorySnapshotter,
    Row,
    purge,
)

LINK_DIR = "l"
SUPPORT_CACHE = ".overlay-supported"
_MODULE_PARAMS = "/sys/module/overlay/parameters"


def _short_name() -> str:
    return base64.b32encode(os.urandom(10)).decode("ascii")[:12]


def _module_param_on(name: str) -> bool:
    """Whether an overlay module default is on; unknown counts as on (be explicit)."""
    try:
        with open(os.path.join(_MODULE_PARAMS, name), encoding="ascii") as f:
            value = f.read().strip()
    except OSError:
        return True
    return value not in ("N", "n", "0", "off")


class _Plan(NamedTuple):
    """How to assemble one snapshot: a bind mount of one ``fs`` or an overlay."""

    readonly: bool
    bind: int | None = None  # the snapshot id whose fs is bind mounted
    lowers: tuple[int, ...] = ()  # nearest first
    upper: int | None = None


class OverlaySnapshotter(DirectorySnapshotter):
    driver = "overlay2"

    def __init__(self, root: str, db: Database, *, sync_on_commit: bool = True) -> None:
        if ":" in root or "," in root:
            raise InvalidArgument(f"overlay root {root!r} must not contain ':' or ','")
        super().__init__(root, db, sync_on_commit=sync_on_commit)
        os.makedirs(os.path.join(self.root, LINK_DIR), mode=0o700, exist_ok=True)
        #: In a user namespace overlayfs needs ``userxattr`` (``user.overlay.*``).
        self.userxattr = not _linux.in_initial_user_namespace()
        #: Use fsopen/fsconfig(lowerdir+) when the kernel has it; tests turn it off.
        self.prefer_new_mount_api = True
        self._writable_extra: list[str] | None = None

    @property
    def whiteout_format(self) -> WhiteoutFormat:
        return "overlay"

    @property
    def opaque_xattr(self) -> str:
        """The xattr (value ``y``) that marks an opaque directory in :meth:`layer_dir`."""
        return ("user" if self.userxattr else "trusted") + ".overlay.opaque"

    # -------------------------------------------------------------- hooks

    def _work(self, snapshot_id: int) -> str:
        return os.path.join(self._dir(snapshot_id), "work")

    def _populate(self, staging: str, kind: SnapshotKind, parent: Row | None) -> None:
        os.mkdir(os.path.join(staging, "fs"), 0o755)
        if kind == "active":
            os.mkdir(os.path.join(staging, "work"), 0o700)
        with open(os.path.join(staging, "link"), "w", encoding="ascii") as f:
            f.write(_short_name())

    def _read_link(self, directory: str) -> str | None:
        try:
            with open(os.path.join(directory, "link"), encoding="ascii") as f:
                name = f.read().strip()
        except (FileNotFoundError, UnicodeDecodeError):
            return None
        if not name or "/" in name or name in (".", ".."):
            return None
        return name

    def _installed(self, snapshot_id: int) -> None:
        directory = self._dir(snapshot_id)
        name = self._read_link(directory) or _short_name()
        for _ in range(8):
            try:
                os.symlink(f"../{snapshot_id}/fs", os.path.join(self.root, LINK_DIR, name))
                break
            except FileExistsError:
                name = _short_name()
        else:
            raise FileExistsError(f"no free short link name for snapshot {snapshot_id}")
        temp = os.path.join(directory, "link.tmp")
        with open(temp, "w", encoding="ascii") as f:
            f.write(name)
        os.replace(temp, os.path.join(directory, "link"))

    def _discarded(self, snapshot_id: int, trash: str) -> None:
        name = self._read_link(trash)
        if name is None:
            return
        link = os.path.join(self.root, LINK_DIR, name)
        with contextlib.suppress(OSError):
            if os.readlink(link) == f"../{snapshot_id}/fs":
                os.unlink(link)

    def _orphans(self, live_ids: set[int]) -> list[str]:
        link_dir = os.path.join(self.root, LINK_DIR)
        try:
            names = os.listdir(link_dir)
        except FileNotFoundError:
            return []
        for name in names:
            path = os.path.join(link_dir, name)
            try:
                target = os.readlink(path)
            except OSError:
                continue
            parts = target.split("/")
            ok = (
                len(parts) == 3
                and parts[0] == ".."
                and parts[2] == "fs"
                and parts[1].isascii()
                and parts[1].isdigit()
                and int(parts[1]) in live_ids
                # a stale link of a removed snapshot whose id was handed out again
                and self._read_link(self._dir(int(parts[1]))) == name
            )
            if not ok:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(path)
        return []

    # ------------------------------------------------------------ mounts

    def _plan(self, chain: list[Row]) -> _Plan:
        me, ancestors = chain[0], chain[1:]
        if me.kind == "active":
            if not ancestors:
                return _Plan(readonly=False, bind=me.id)
            return _Plan(readonly=False, lowers=tuple(a.id for a in ancestors), upper=me.id)
        layers = ancestors if me.kind == "view" else chain
        if not layers:
            return _Plan(readonly=True, bind=me.id)
        if len(layers) == 1:
            return _Plan(readonly=True, bind=layers[0].id)
        return _Plan(readonly=True, lowers=tuple(r.id for r in layers))

    def _options(self, writable: bool) -> list[str]:
        options = ["index=off"]
        if self.userxattr:
            options.append("userxattr")
        if writable:
            # A layer diff is read from the upper dir: directory renames and
            # metadata-only copy-ups would leave it incomplete.
            if self._writable_extra is None:
                self._writable_extra = [
                    f"{param}=off"
                    for param in ("redirect_dir", "metacopy")
                    if _module_param_on(param)
                ]
            options.extend(self._writable_extra)
        return options

    def _overlay_data(
        self, plan: _Plan, lowers: list[str], upper: str | None, work: str | None
    ) -> list[str]:
        options = self._options(writable=plan.upper is not None)
        options.append("lowerdir=" + ":".join(lowers))
        if upper is not None and work is not None:
            options += [f"upperdir={upper}", f"workdir={work}"]
        return options

    def mounts(self, key: str) -> list[Mount]:
        plan = self._plan(self._chain(key))
        if plan.bind is not None:
            return [
                Mount(
                    type="bind",
                    source=self._fs(plan.bind),
                    options=["rbind", "ro" if plan.readonly else "rw"],
                )
            ]
        upper = self._fs(plan.upper) if plan.upper is not None else None
        work = self._work(plan.upper) if plan.upper is not None else None
        lowers = [self._fs(i) for i in plan.lowers]
        options = self._overlay_data(plan, lowers, upper, work)
        if plan.readonly:
            options.insert(0, "ro")
        return [Mount(type="overlay", source="overlay", options=options)]

    def _short_path(self, snapshot_id: int) -> str:
        name = self._read_link(self._dir(snapshot_id))
        if name is not None and os.path.islink(os.path.join(self.root, LINK_DIR, name)):
            return f"{LINK_DIR}/{name}"
        return f"{snapshot_id}/fs"

    def mount(self, key: str, target: str) -> None:
        target = os.path.abspath(target)
        plan = self._plan(self._chain(key))
        try:
            if plan.bind is not None:
                _linux.bind_mount(self._fs(plan.bind), target, readonly=plan.readonly)
            else:
                self._mount_overlay(plan, target)
        except OSError as e:
            raise self._wrap_mount_error(key, target, e) from e

    def _mount_overlay(self, plan: _Plan, target: str) -> None:
        lowers = [self._fs(i) for i in plan.lowers]
        upper = self._fs(plan.upper) if plan.upper is not None else None
        work = self._work(plan.upper) if plan.upper is not None else None
        paths = [*lowers, *(p for p in (upper, work) if p is not None)]
        if (
            self.prefer_new_mount_api
            and _linux.lowerdir_plus_supported()
            and all(len(os.fsencode(p)) <= _linux.FSCONFIG_MAX_STRING for p in paths)
        ):
            _linux.mount_overlay_new_api(
                target,
                lowers,
                upper,
                work,
                self._options(writable=upper is not None),
                readonly=plan.readonly,
            )
            return
        flags = _linux.MS_RDONLY if plan.readonly else 0
        page = os.sysconf("SC_PAGESIZE")
        data = ",".join(self._overlay_data(plan, lowers, upper, work))
        if len(os.fsencode(data)) < page:
            _linux.mount("overlay", target, "overlay", flags, data)
            return
        short = [self._short_path(i) for i in plan.lowers]
        short_upper = f"{plan.upper}/fs" if plan.upper is not None else None
        short_work = f"{plan.upper}/work" if plan.upper is not None else None
        data = ",".join(self._overlay_data(plan, short, short_upper, short_work))
        if len(os.fsencode(data)) >= page:
            raise Unsupported(
                f"cannot mount {len(lowers)} layers: the overlay mount options exceed"
                f" {page} bytes and this kernel lacks lowerdir+ (Linux 6.8+)"
            )
        _linux.mount_in_directory(self.root, "overlay", target, "overlay", flags, data)

    def graph_driver_data(self, key: str) -> dict[str, str]:
        """Docker's overlay2 ``GraphDriver.Data``: LowerDir, MergedDir, UpperDir, WorkDir."""
        chain = self._chain(key)
        me, ancestors = chain[0], chain[1:]
        data: dict[str, str] = {}
        if ancestors:
            data["LowerDir"] = ":".join(self._fs(a.id) for a in ancestors)
        data["MergedDir"] = os.path.join(self._dir(me.id), "merged")
        if me.kind != "view":
            data["UpperDir"] = self._fs(me.id)
            data["WorkDir"] = self._work(me.id)
        return data


# ------------------------------------------------------------------ probing


def check_overlay(root: str, *, refresh: bool = False) -> tuple[bool, str]:
    """Whether overlayfs works under ``root``, and why not; cached per kernel release.

    Builds two lower layers (one with a whiteout and an opaque directory), an
    upper and a work dir in a temporary directory under ``root``, mounts them,
    checks the merged view and a write, and unmounts. The answer is cached in
    ``<root>/.overlay-supported`` and recomputed when the kernel changes.
    """
    root = os.path.abspath(root)
    os.makedirs(root, mode=0o711, exist_ok=True)
    cache = os.path.join(root, SUPPORT_CACHE)
    kernel = os.uname().release
    if not refresh:
        try:
            with open(cache, encoding="utf-8") as f:
                cached = json.load(f)
            if cached.get("kernel") == kernel:
                return bool(cached["supported"]), str(cached.get("reason", ""))
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            pass
    supported, reason = _probe(root)
    temp = os.path.join(root, f"{SUPPORT_CACHE}.{os.getpid()}.{os.urandom(4).hex()}")
    try:
        with open(temp, "w", encoding="utf-8") as f:
            json.dump({"kernel": kernel, "supported": supported, "reason": reason}, f)
        os.replace(temp, cache)
    except OSError:
        with contextlib.suppress(OSError):
            os.unlink(temp)
    return supported, reason


def overlay_supported(root: str) -> bool:
    """Whether the overlay2 driver can be used under ``root`` (see :func:`check_overlay`)."""
    return check_overlay(root)[0]


def _probe(root: str) -> tuple[bool, str]:
    from dockyard.store.procs import self_identity

    if (":" in root) or ("," in root):
        return False, f"the path {root} contains ':' or ','"
    userxattr = not _linux.in_initial_user_namespace()
    prefix = "user" if userxattr else "trusted"
    pid, start = self_identity()
    base = os.path.join(root, f"{STAGING_PREFIX}{pid}-{start}-{os.urandom(6).hex()}")
    try:
        os.mkdir(base, 0o700)
    except OSError as e:
        return False, f"cannot create a directory under {root}: {e.strerror}"
    merged = os.path.join(base, "merged")
    mounted = False
    try:
        dirs = {name: os.path.join(base, name) for name in ("l1", "l2", "upper", "work")}
        for path in (*dirs.values(), merged):
            os.mkdir(path, 0o755)
        with open(os.path.join(dirs["l1"], "gone"), "w") as f:
            f.write("lower")
        os.mkdir(os.path.join(dirs["l1"], "d"))
        with open(os.path.join(dirs["l1"], "d", "hidden"), "w") as f:
            f.write("lower")
        try:
            os.mknod(os.path.join(dirs["l2"], "gone"), stat.S_IFCHR | 0o000, os.makedev(0, 0))
            os.mkdir(os.path.join(dirs["l2"], "d"))
            os.setxattr(os.path.join(dirs["l2"], "d"), f"{prefix}.overlay.opaque", b"y")
        except OSError as e:
            return False, f"the file system under {root} cannot hold overlay whiteouts: {e}"
        with open(os.path.join(dirs["l2"], "d", "kept"), "w") as f:
            f.write("upper")
        options = ["index=off", *(["userxattr"] if userxattr else [])]
        data = ",".join(
            [
                *options,
                f"lowerdir={dirs['l2']}:{dirs['l1']}",
                f"upperdir={dirs['upper']}",
                f"workdir={dirs['work']}",
            ]
        )
        try:
            _linux.mount("overlay", merged, "overlay", 0, data)
        except OSError as e:
            return False, f"overlay mount failed: {e.strerror}"
        mounted = True
        if os.path.lexists(os.path.join(merged, "gone")):
            return False, "overlayfs does not honour whiteouts here"
        if os.path.lexists(os.path.join(merged, "d", "hidden")):
            return False, "overlayfs does not honour opaque directories here"
        if not os.path.exists(os.path.join(merged, "d", "kept")):
            return False, "overlayfs does not show lower layers here"
        with open(os.path.join(merged, "new"), "w") as f:
            f.write("x")
        if not os.path.exists(os.path.join(dirs["upper"], "new")):
            return False, "overlayfs does not write to the upper dir here"
        return True, ""
    except OSError as e:
        return False, f"overlay check failed: {e}"
    finally:
        if mounted:
            with contextlib.suppress(OSError):
                _linux.umount(merged, _linux.MNT_DETACH)
        purge(base)
