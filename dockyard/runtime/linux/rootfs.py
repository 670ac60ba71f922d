"""Preparing the container's root filesystem, in the container's new mount namespace.

Order as runc's prepareRootfs: root propagation, bind the rootfs onto itself, the
config's mounts, devices and /dev symlinks, pivot_root; then (after pivot_root)
sysctls, readonly paths, masked paths and the read-only root remount.
"""

from __future__ import annotations

import errno
import os
import stat
from typing import Any

from dockyard.runtime.linux import mountopts
from dockyard.runtime.linux import syscalls as sc

DEFAULT_DEVICES: tuple[tuple[str, int, int], ...] = (
    ("/dev/null", 1, 3),
    ("/dev/zero", 1, 5),
    ("/dev/full", 1, 7),
    ("/dev/random", 1, 8),
    ("/dev/urandom", 1, 9),
    ("/dev/tty", 5, 0),
)
DEV_SYMLINKS = (
    ("/proc/self/fd", "/dev/fd"),
    ("/proc/self/fd/0", "/dev/stdin"),
    ("/proc/self/fd/1", "/dev/stdout"),
    ("/proc/self/fd/2", "/dev/stderr"),
    ("pts/ptmx", "/dev/ptmx"),
)


def rootfs_path(spec: dict[str, Any], bundle: str) -> str:
    path = str((spec.get("root") or {}).get("path") or "rootfs")
    return os.path.realpath(os.path.join(bundle, path))


def secure_join(root: str, path: str) -> str:
    """``root/path`` with symlinks resolved as if ``root`` were ``/`` (never escaping it)."""
    parts = [p for p in path.split("/") if p not in ("", ".")]
    resolved: list[str] = []
    hops = 0
    while parts:
        part = parts.pop(0)
        if part == "..":
            if resolved:
                resolved.pop()
            continue
        candidate = os.path.join(root, *resolved, part)
        if os.path.islink(candidate):
            hops += 1
            if hops > 255:
                raise OSError(errno.ELOOP, f"too many symlinks under {path}")
            target = os.readlink(candidate)
            if target.startswith("/"):
                resolved = []
            parts = [p for p in target.split("/") if p not in ("", ".")] + parts
            continue
        resolved.append(part)
    return os.path.join(root, *resolved)


def _make_target(target: str, is_dir: bool) -> None:
    if is_dir:
        os.makedirs(target, exist_ok=True)
    elif not os.path.exists(target):
        os.makedirs(os.path.dirname(target), exist_ok=True)
        with open(target, "a"):
            pass


class RootfsSetup:
    """Runs the mount steps through a :class:`Syscalls` (real or fake)."""

    def __init__(
        self, sys: sc.Syscalls, spec: dict[str, Any], rootfs: str, *, userns: bool = False
    ) -> None:
        self.sys = sys
        self.spec = spec
        self.linux: dict[str, Any] = spec.get("linux") or {}
        self.rootfs = rootfs
        self.userns = userns

    # --- before pivot_root -------------------------------------------------
    def prepare(self) -> None:
        propagation = mountopts.root_propagation(self.linux.get("rootfsPropagation"))
        self.sys.mount(None, "/", None, propagation, None)
        self.sys.mount(self.rootfs, self.rootfs, "bind", sc.MS_BIND | sc.MS_REC, None)
        dev_bound = False
        for m in self.spec.get("mounts") or []:
            self.mount_entry(m)
            if m.get("destination") == "/dev" and mountopts.parse(m.get("options")).is_bind:
                dev_bound = True
        if not dev_bound:
            self.create_devices()
            self.dev_symlinks()

    def mount_entry(self, m: dict[str, Any]) -> None:
        opts = mountopts.parse(m.get("options"))
        kind = m.get("type") or ("bind" if opts.is_bind else "")
        source = m.get("source") or kind
        target = secure_join(self.rootfs, m["destination"])
        if kind == "bind" or opts.is_bind:
            src = source if os.path.isabs(source) else os.path.join(self.rootfs, source)
            _make_target(target, os.path.isdir(src))
            bind = sc.MS_BIND | (opts.flags & sc.MS_REC)
            self.sys.mount(src, target, "bind", bind, None)
            extra = opts.flags & ~(sc.MS_BIND | sc.MS_REC | sc.MS_REMOUNT)
            if extra:
                remount = sc.MS_BIND | sc.MS_REMOUNT | extra | self._locked_flags(target)
                self.sys.mount(src, target, None, remount, None)
        elif kind == "cgroup":
            self.mount_cgroup(target, opts)
        else:
            _make_target(target, True)
            self.sys.mount(source, target, kind, opts.flags, opts.data or None)
        for flag in opts.propagation:
            self.sys.mount(None, target, None, flag, None)

    def _locked_flags(self, target: str) -> int:
        """nosuid/nodev/noexec already on the mount: a remount in a user ns must keep them."""
        return _statvfs_locked(target) if self.userns else 0

    def mount_cgroup(self, target: str, opts: mountopts.MountOptions) -> None:
        """cgroup2 when the host is unified; otherwise tmpfs with one mount per v1 hierarchy."""
        _make_target(target, True)
        flags = opts.flags & ~sc.MS_RDONLY
        hierarchies = host_cgroup_mounts()
        if not any(fs == "cgroup" for _, fs, _ in hierarchies):
            self.sys.mount("cgroup", target, "cgroup2", opts.flags, None)
            return
        self.sys.mount("tmpfs", target, "tmpfs", flags, "mode=755")
        for point, fstype, options in hierarchies:
            sub = os.path.join(target, os.path.basename(point))
            os.makedirs(sub, exist_ok=True)
            data = None if fstype == "cgroup2" else options
            self.sys.mount("cgroup", sub, fstype, opts.flags, data)
        if opts.flags & sc.MS_RDONLY:
            self.sys.mount("tmpfs", target, None, sc.MS_REMOUNT | opts.flags, "mode=755")

    def create_devices(self) -> None:
        devices = [(path, 0o20666, major, minor, 0, 0) for path, major, minor in DEFAULT_DEVICES]
        known = {d[0] for d in devices}
        for d in self.linux.get("devices") or []:
            kind = {"c": stat.S_IFCHR, "u": stat.S_IFCHR, "b": stat.S_IFBLK, "p": stat.S_IFIFO}
            mode = kind.get(d.get("type", "c"), stat.S_IFCHR) | int(d.get("fileMode", 0o666))
            entry = (d["path"], mode, d.get("major", 0), d.get("minor", 0))
            entry6 = (*entry, d.get("uid", 0), d.get("gid", 0))
            devices = [x for x in devices if x[0] != d["path"]] if d["path"] in known else devices
            devices.append(entry6)
        for path, mode, major, minor, uid, gid in devices:
            target = secure_join(self.rootfs, path)
            os.makedirs(os.path.dirname(target), exist_ok=True)
            if self.userns:
                _make_target(target, False)
                self.sys.mount(path, target, "bind", sc.MS_BIND, None)
                continue
            if os.path.lexists(target):
                os.unlink(target)
            full_mode = mode if stat.S_IFMT(mode) else (mode | stat.S_IFCHR)
            self.sys.mknod(target, full_mode, os.makedev(major, minor))
            self.sys.chmod(target, stat.S_IMODE(full_mode))  # mknod's mode is umasked
            self.sys.chown(target, uid, gid)

    def dev_symlinks(self) -> None:
        core = os.path.exists("/proc/kcore")
        links = [*DEV_SYMLINKS, ("/proc/kcore", "/dev/core")] if core else list(DEV_SYMLINKS)
        for target, link in links:
            path = secure_join(self.rootfs, link)
            if os.path.lexists(path):
                continue
            os.makedirs(os.path.dirname(path), exist_ok=True)
            self.sys.symlink(target, path)

    def pivot(self, *, no_pivot: bool = False) -> None:
        """pivot_root(".", ".") then detach the old root stacked on top (runc's trick).

        ``no_pivot`` (runc --no-pivot, for a rootfs on ramfs) moves the rootfs over /
        and chroots instead; weaker, as a chroot can be escaped with CAP_SYS_CHROOT.
        """
        self.sys.chdir(self.rootfs)
        if no_pivot:
            self.sys.mount(self.rootfs, "/", None, sc.MS_MOVE, None)
            self.sys.chroot(".")
            self.sys.chdir("/")
            return
        self.sys.pivot_root(".", ".")
        self.sys.mount(None, ".", None, sc.MS_SLAVE | sc.MS_REC, None)
        self.sys.umount2(".", sc.MNT_DETACH)
        self.sys.chdir("/")

    # --- after pivot_root --------------------------------------------------
    def finalize(self) -> None:
        for key, value in (self.linux.get("sysctl") or {}).items():
            self.sys.write_file("/proc/sys/" + key.replace(".", "/"), str(value))
        for path in self.linux.get("readonlyPaths") or []:
            self.readonly_path(path)
        for path in self.linux.get("maskedPaths") or []:
            self.mask_path(path)
        if (self.spec.get("root") or {}).get("readonly"):
            flags = sc.MS_BIND | sc.MS_REMOUNT | sc.MS_RDONLY | self._locked_flags("/")
            self.sys.mount(None, "/", None, flags, None)

    def readonly_path(self, path: str) -> None:
        if not os.path.lexists(path):
            return
        self.sys.mount(path, path, None, sc.MS_BIND | sc.MS_REC, None)
        locked = _statvfs_locked(path)
        flags = sc.MS_BIND | sc.MS_REMOUNT | sc.MS_RDONLY | sc.MS_REC | locked
        self.sys.mount(path, path, None, flags, None)

    def mask_path(self, path: str) -> None:
        if not os.path.lexists(path):
            return
        if os.path.isdir(path):
            self.sys.mount("tmpfs", path, "tmpfs", sc.MS_RDONLY, None)
        else:
            self.sys.mount("/dev/null", path, None, sc.MS_BIND, None)


def host_cgroup_mounts() -> list[tuple[str, str, str]]:
    """(mount point, fs type, super options) of the host's cgroup hierarchies."""
    found: list[tuple[str, str, str]] = []
    try:
        with open("/proc/self/mountinfo") as f:
            lines = f.read().splitlines()
    except OSError:
        return found
    for line in lines:
        left, _, right = line.partition(" - ")
        fields = left.split()
        fstype, _source, superopts = [*right.split(), "", ""][:3]
        if fstype not in ("cgroup", "cgroup2") or len(fields) < 5:
            continue
        opts = [o for o in superopts.split(",") if o not in ("rw", "ro")]
        found.append((fields[4], fstype, ",".join(opts)))
    return found


def _statvfs_locked(path: str) -> int:
    try:
        return os.statvfs(path).f_flag & (sc.MS_NOSUID | sc.MS_NODEV | sc.MS_NOEXEC)
    except OSError:
        return 0
