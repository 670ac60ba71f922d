"""The spec's mount list: Docker's defaults, user mounts, /etc files, the init binary.

Follows moby's ``withMounts``: user mounts are sorted by destination depth
(stable), a user mount replaces the default at the same destination (and a
user ``/dev`` drops every default under it), ``/dev/shm`` gets ``size=ShmSize``
and disappears with ``--ipc none``, a read-only rootfs makes the remaining
defaults read-only except the kernel filesystems under /proc and /dev, and
``--privileged`` makes /sys (and the cgroup mount) writable.
"""

from __future__ import annotations

import posixpath
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

from dockyard.errors import InvalidArgument
from dockyard.runtime.spec.types import EtcFiles, MountSpec

DEFAULT_SHM_SIZE = 64 * 1024 * 1024
INIT_PATH_IN_CONTAINER = "/sbin/docker-init"
_PROPAGATIONS = ("private", "rprivate", "shared", "rshared", "slave", "rslave")
_KEEP_WRITABLE = frozenset({"/proc", "/dev/pts", "/dev/shm", "/dev/mqueue", "/dev"})

# moby/sys/mount: option -> (flag key) for MergeTmpfsOptions; propagation options share a key.
_FLAG_KEYS = {
    "ro": "rdonly", "rw": "rdonly", "suid": "nosuid", "nosuid": "nosuid", "dev": "nodev",
    "nodev": "nodev", "exec": "noexec", "noexec": "noexec", "sync": "sync", "async": "sync",
    "dirsync": "dirsync", "remount": "remount", "mand": "mand", "nomand": "mand",
    "atime": "noatime", "noatime": "noatime", "diratime": "nodiratime",
    "nodiratime": "nodiratime", "relatime": "relatime", "norelatime": "relatime",
    "strictatime": "strictatime", "nostrictatime": "strictatime",
    **{p: "propagation" for p in (
        "bind", "rbind", "unbindable", "runbindable", *_PROPAGATIONS
    )},
}  # fmt: skip
_TMPFS_DATA_KEYS = frozenset({"", "size", "mode", "uid", "gid", "nr_inodes", "nr_blocks", "mpol"})


def default_mounts() -> list[dict[str, Any]]:
    """Docker's default mounts (moby ``oci.DefaultLinuxSpec``), in Docker's order."""

    def m(dest: str, typ: str, src: str, *opts: str) -> dict[str, Any]:
        return {"destination": dest, "type": typ, "source": src, "options": list(opts)}

    return [
        m("/proc", "proc", "proc", "nosuid", "noexec", "nodev"),
        m("/dev", "tmpfs", "tmpfs", "nosuid", "strictatime", "mode=755", "size=65536k"),
        m("/dev/pts", "devpts", "devpts", "nosuid", "noexec", "newinstance", "ptmxmode=0666",
          "mode=0620", "gid=5"),
        m("/sys", "sysfs", "sysfs", "nosuid", "noexec", "nodev", "ro"),
        m("/sys/fs/cgroup", "cgroup", "cgroup", "ro", "nosuid", "noexec", "nodev"),
        m("/dev/mqueue", "mqueue", "mqueue", "nosuid", "noexec", "nodev"),
        m("/dev/shm", "tmpfs", "shm", "nosuid", "noexec", "nodev", "mode=1777"),
    ]  # fmt: skip


def merge_tmpfs_options(options: Sequence[str]) -> list[str]:
    """moby/sys/mount ``MergeTmpfsOptions``: the last of each flag or data key wins."""
    seen_flags: set[str] = set()
    seen_data: set[str] = set()
    out: list[str] = []
    for option in reversed(options):
        if option == "defaults":
            continue
        key = _FLAG_KEYS.get(option)
        if key is not None:
            if key not in seen_flags:
                out.insert(0, option)
                seen_flags.add(key)
            continue
        name, eq, _ = option.partition("=")
        if not eq or name not in _TMPFS_DATA_KEYS:
            raise InvalidArgument(f'invalid tmpfs option "{name}"')
        if name not in seen_data:
            out.insert(0, option)
            seen_data.add(name)
    return out


def tmpfs_data(
    size_bytes: int = 0, mode: int = 0, read_only: bool = False, options: Sequence[str] = ()
) -> str:
    """Docker's data string for ``--mount type=tmpfs`` (moby ``ConvertTmpfsOptions``)."""
    raw: list[str] = ["ro"] if read_only else []
    if mode:
        raw.append(f"mode={mode:o}")
    if size_bytes:
        size, suffix = size_bytes, ""
        for sfx, div in (("g", 1 << 30), ("m", 1 << 20), ("k", 1 << 10)):
            if size_bytes % div == 0:
                size, suffix = size_bytes // div, sfx
                break
        raw.append(f"size={size}{suffix}")
    raw.extend(options)
    return ",".join(raw)


def _depth(dest: str) -> int:
    return posixpath.normpath(dest).count("/")


class _Mount(NamedTuple):
    """moby's ``container.Mount``: what goes into withMounts."""

    destination: str
    source: str
    writable: bool = True
    propagation: str = ""
    tmpfs: bool = False
    data: str = ""
    non_recursive: bool = False
    ro_non_recursive: bool = False
    ro_force_recursive: bool = False


def _from_spec(m: MountSpec) -> _Mount:
    if m.type == "tmpfs":
        data = m.tmpfs_options
        if m.read_only and "ro" not in data.split(","):
            data = ",".join(x for x in ("ro", data) if x)
        return _Mount(m.destination, "tmpfs", tmpfs=True, data=data)
    if m.propagation and m.propagation not in _PROPAGATIONS:
        raise InvalidArgument(f"invalid propagation mode: {m.propagation}")
    if m.read_only_non_recursive and m.read_only_force_recursive:
        raise InvalidArgument(
            "mount options conflict: ReadOnlyNonRecursive && BindOptions.ReadOnlyForceRecursive"
        )
    if not m.read_only and (m.read_only_non_recursive or m.read_only_force_recursive):
        which = "ReadOnlyNonRecursive" if m.read_only_non_recursive else "ReadOnlyForceRecursive"
        raise InvalidArgument(f"mount options conflict: !ReadOnly && BindOptions.{which}")
    propagation = m.propagation or ("rprivate" if m.type == "bind" else "")
    return _Mount(
        m.destination,
        m.source,
        writable=not m.read_only,
        propagation=propagation,
        non_recursive=m.non_recursive,
        ro_non_recursive=m.read_only_non_recursive,
        ro_force_recursive=m.read_only_force_recursive,
    )


class MountPlan(NamedTuple):
    mounts: list[dict[str, Any]]
    rootfs_propagation: str = ""


def build_mounts(
    user_mounts: Sequence[MountSpec],
    *,
    tmpfs: Mapping[str, str] | None = None,
    etc_files: EtcFiles | None = None,
    shm_size: int = 0,
    ipc_mode: str = "",
    shm_path: str | None = None,
    readonly_rootfs: bool = False,
    privileged: bool = False,
    writable_cgroups: bool | None = None,
    init_path: str | None = None,
    rro: bool = False,
) -> MountPlan:
    """The spec's ``mounts`` and, when a mount asks for it, ``rootfsPropagation``.

    ``tmpfs`` is ``HostConfig.Tmpfs`` (destination -> data). ``shm_path`` is a
    host tmpfs to bind at /dev/shm (``--ipc shareable`` / ``container:``).
    ``init_path`` is the host's docker-init binary, bound at /sbin/docker-init.
    """
    spec_mounts = list(user_mounts)
    # moby's order before sorting: ipc mount, tmpfs mounts, binds/volumes, /etc files.
    mounts: list[_Mount] = []
    user_dests = {posixpath.normpath(m.destination) for m in spec_mounts}
    user_dests.update(posixpath.normpath(d) for d in (tmpfs or {}))
    if shm_path and "/dev/shm" not in user_dests:
        mounts.append(_Mount("/dev/shm", shm_path, propagation="rprivate"))
    for dest, data in (tmpfs or {}).items():
        mounts.append(_Mount(dest, "tmpfs", tmpfs=True, data=data))
    mounts.extend(_from_spec(m) for m in spec_mounts if m.type == "tmpfs")
    mounts.extend(_from_spec(m) for m in spec_mounts if m.type != "tmpfs")
    if etc_files is not None:
        for dest, src in (
            ("/etc/resolv.conf", etc_files.resolv_conf),
            ("/etc/hostname", etc_files.hostname),
            ("/etc/hosts", etc_files.hosts),
        ):
            if src and dest not in user_dests:
                mounts.append(_Mount(dest, src, not readonly_rootfs, "rprivate"))
    mounts.sort(key=lambda m: _depth(m.destination))

    dests = {m.destination for m in mounts}
    mount_dev = "/dev" in dests
    out: list[dict[str, Any]] = []
    defaults = default_mounts()
    if init_path:
        defaults.append(
            {
                "destination": INIT_PATH_IN_CONTAINER,
                "type": "bind",
                "source": init_path,
                "options": ["bind", "ro"],
            }
        )
    for d in defaults:
        if d["destination"] in dests:
            continue
        if mount_dev and d["destination"].startswith("/dev/"):
            continue
        if d["destination"] == "/dev/shm":
            if ipc_mode == "none":
                continue
            d["options"].append(f"size={shm_size or DEFAULT_SHM_SIZE}")
        out.append(d)

    rootfs_propagation = ""
    for m in mounts:
        if m.tmpfs:
            opts = ["noexec", "nosuid", "nodev", "rprivate"]
            if m.data:
                opts.extend(m.data.split(","))
            out.append(
                {
                    "destination": m.destination,
                    "type": "tmpfs",
                    "source": "tmpfs",
                    "options": merge_tmpfs_options(opts),
                }
            )
            continue
        if m.propagation in ("shared", "rshared"):
            rootfs_propagation = "shared"
        elif m.propagation in ("slave", "rslave") and rootfs_propagation != "shared":
            rootfs_propagation = "rslave"
        opts = ["bind" if m.non_recursive else "rbind"]
        if not m.writable:
            use_rro = rro and not m.ro_non_recursive
            if m.ro_force_recursive and not rro:
                raise InvalidArgument(
                    "rro is not supported: the runtime or kernel (older than 5.12?) lacks it"
                )
            opts.append("rro" if use_rro else "ro")
        if m.propagation:
            opts.append(m.propagation)
        out.append(
            {"destination": m.destination, "type": "bind", "source": m.source, "options": opts}
        )

    if readonly_rootfs:
        for d in out:
            if d["destination"] in _KEEP_WRITABLE or d["destination"] in dests:
                continue
            if "ro" not in d["options"]:
                d["options"].append("ro")
    writable_cg = privileged if writable_cgroups is None else writable_cgroups
    for d in out:
        if (privileged and d["destination"] == "/sys") or (writable_cg and d["type"] == "cgroup"):
            d["options"] = [o for o in d["options"] if o != "ro"]
    return MountPlan(out, rootfs_propagation)
