"""The few mount-related system calls the snapshotters need, through ctypes.

``mount(2)``/``umount2(2)`` come from libc; the new mount API (``fsopen``,
``fsconfig``, ``fsmount``, ``move_mount``) has no libc wrappers in older glibc,
so it goes through ``syscall(2)`` with the generic syscall numbers (the same on
every architecture listed in :data:`_NEW_API_ARCHES`).

Every failure raises :class:`OSError` with the errno and, for the new API, the
message the kernel left in the filesystem context's log.
"""

from __future__ import annotations

import ctypes
import errno as errno_mod
import os
from collections.abc import Sequence

MS_RDONLY = 0x1
MS_REMOUNT = 0x20
MS_BIND = 0x1000
MS_REC = 0x4000
MNT_DETACH = 0x2

_SYS_MOVE_MOUNT = 429
_SYS_FSOPEN = 430
_SYS_FSCONFIG = 431
_SYS_FSMOUNT = 432

_FSOPEN_CLOEXEC = 0x1
_FSCONFIG_SET_FLAG = 0
_FSCONFIG_SET_STRING = 1
_FSCONFIG_CMD_CREATE = 6
_FSMOUNT_CLOEXEC = 0x1
_MOUNT_ATTR_RDONLY = 0x1
_MOVE_MOUNT_F_EMPTY_PATH = 0x4
_AT_FDCWD = -100

# fsconfig(2) copies a string value with strndup_user(value, 256).
FSCONFIG_MAX_STRING = 255

# Architectures whose numbers for syscalls >= 424 are the generic table's.
_NEW_API_ARCHES = frozenset(
    {"x86_64", "aarch64", "arm64", "riscv64", "ppc64le", "ppc64", "s390x", "loongarch64"}
)

_libc = ctypes.CDLL(None, use_errno=True)
_libc.mount.argtypes = [
    ctypes.c_char_p,
    ctypes.c_char_p,
    ctypes.c_char_p,
    ctypes.c_ulong,
    ctypes.c_char_p,
]
_libc.mount.restype = ctypes.c_int
_libc.umount2.argtypes = [ctypes.c_char_p, ctypes.c_int]
_libc.umount2.restype = ctypes.c_int
_libc.syscall.restype = ctypes.c_long

_lowerdir_plus: bool | None = None


def _raise(what: str, detail: str = "") -> None:
    err = ctypes.get_errno()
    message = f"{what}: {os.strerror(err)}"
    if detail:
        message += f" ({detail})"
    raise OSError(err, message)


def _enc(value: str | None) -> bytes | None:
    return None if value is None else os.fsencode(value)


def mount(
    source: str | None, target: str, fstype: str | None, flags: int = 0, data: str | None = None
) -> None:
    if _libc.mount(_enc(source), _enc(target), _enc(fstype), flags, _enc(data)) != 0:
        _raise(f"mount {fstype or 'bind'} on {target}")


def umount(target: str, flags: int = 0) -> None:
    if _libc.umount2(_enc(target), flags) != 0:
        _raise(f"unmount {target}")


def bind_mount(source: str, target: str, *, readonly: bool, recursive: bool = True) -> None:
    """Bind ``source`` on ``target``; a read-only bind needs a second remount call."""
    flags = MS_BIND | (MS_REC if recursive else 0)
    mount(source, target, None, flags)
    if readonly:
        try:
            mount(None, target, None, MS_REMOUNT | MS_BIND | MS_RDONLY)
        except OSError:
            umount(target, MNT_DETACH)
            raise


def _syscall(number: int, *args: object) -> int:
    result: int = _libc.syscall(ctypes.c_long(number), *args)
    return result


def _fs_log(fd: int) -> str:
    """Messages the kernel queued on an fs context ("e overlayfs: ...")."""
    lines: list[str] = []
    for _ in range(16):
        try:
            chunk = os.read(fd, 4096)
        except OSError:
            break
        if not chunk:
            break
        lines.append(chunk.decode(errors="replace").strip())
    return "; ".join(lines)


def _fsconfig_string(fd: int, key: str, value: str) -> None:
    rc = _syscall(
        _SYS_FSCONFIG,
        ctypes.c_int(fd),
        ctypes.c_uint(_FSCONFIG_SET_STRING),
        ctypes.c_char_p(key.encode()),
        ctypes.c_char_p(os.fsencode(value)),
        ctypes.c_int(0),
    )
    if rc != 0:
        _raise(f"fsconfig {key}={value}", _fs_log(fd))


def _fsconfig_flag(fd: int, key: str) -> None:
    rc = _syscall(
        _SYS_FSCONFIG,
        ctypes.c_int(fd),
        ctypes.c_uint(_FSCONFIG_SET_FLAG),
        ctypes.c_char_p(key.encode()),
        ctypes.c_void_p(None),
        ctypes.c_int(0),
    )
    if rc != 0:
        _raise(f"fsconfig {key}", _fs_log(fd))


def _fsopen(fstype: str) -> int:
    fd = _syscall(_SYS_FSOPEN, ctypes.c_char_p(fstype.encode()), ctypes.c_uint(_FSOPEN_CLOEXEC))
    if fd < 0:
        _raise(f"fsopen {fstype}")
    return fd


def lowerdir_plus_supported() -> bool:
    """Whether overlayfs takes one lower layer per ``fsconfig(lowerdir+)`` (Linux 6.8+).

    Probed once per process: open an overlay context and set ``lowerdir+`` to ``/``.
    """
    global _lowerdir_plus
    if _lowerdir_plus is not None:
        return _lowerdir_plus
    supported = False
    if os.uname().machine in _NEW_API_ARCHES:  # not platform: it costs every mount ~1 ms
        try:
            fd = _fsopen("overlay")
        except OSError:
            fd = -1
        if fd >= 0:
            try:
                _fsconfig_string(fd, "lowerdir+", "/")
                supported = True
            except OSError:
                supported = False
            finally:
                os.close(fd)
    _lowerdir_plus = supported
    return supported


def mount_overlay_new_api(
    target: str,
    lowers: Sequence[str],
    upper: str | None,
    work: str | None,
    options: Sequence[str],
    *,
    readonly: bool,
) -> None:
    """Mount an overlay with one ``lowerdir+`` per layer: no option-length limit.

    ``lowers`` is nearest-first (the order of ``lowerdir=``); every path must be
    at most :data:`FSCONFIG_MAX_STRING` bytes.
    """
    fd = _fsopen("overlay")
    try:
        _fsconfig_string(fd, "source", "overlay")
        for option in options:
            key, sep, value = option.partition("=")
            if sep:
                _fsconfig_string(fd, key, value)
            else:
                _fsconfig_flag(fd, key)
        for lower in lowers:
            _fsconfig_string(fd, "lowerdir+", lower)
        if upper is not None and work is not None:
            _fsconfig_string(fd, "upperdir", upper)
            _fsconfig_string(fd, "workdir", work)
        rc = _syscall(
            _SYS_FSCONFIG,
            ctypes.c_int(fd),
            ctypes.c_uint(_FSCONFIG_CMD_CREATE),
            ctypes.c_void_p(None),
            ctypes.c_void_p(None),
            ctypes.c_int(0),
        )
        if rc != 0:
            _raise("create overlay", _fs_log(fd))
        attrs = _MOUNT_ATTR_RDONLY if readonly else 0
        mfd = _syscall(
            _SYS_FSMOUNT, ctypes.c_int(fd), ctypes.c_uint(_FSMOUNT_CLOEXEC), ctypes.c_uint(attrs)
        )
        if mfd < 0:
            _raise("fsmount overlay", _fs_log(fd))
    finally:
        os.close(fd)
    try:
        rc = _syscall(
            _SYS_MOVE_MOUNT,
            ctypes.c_int(mfd),
            ctypes.c_char_p(b""),
            ctypes.c_int(_AT_FDCWD),
            ctypes.c_char_p(os.fsencode(target)),
            ctypes.c_uint(_MOVE_MOUNT_F_EMPTY_PATH),
        )
        if rc != 0:
            _raise(f"move_mount overlay to {target}")
    finally:
        os.close(mfd)


def mount_in_directory(
    cwd: str, source: str, target: str, fstype: str, flags: int, data: str
) -> None:
    """``mount(2)`` from a forked child whose working directory is ``cwd``.

    Lets the mount data use short relative paths (overlay's ``lowerdir=l/ABC:...``)
    without changing the working directory of this, possibly threaded, process.
    ``target`` must be absolute.
    """
    if not os.path.isabs(target):
        raise ValueError("mount target must be absolute")
    src, tgt, fst, dat = _enc(source), _enc(target), _enc(fstype), _enc(data)
    pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the child
        code = 255
        try:
            os.chdir(cwd)
            failed = _libc.mount(src, tgt, fst, flags, dat) != 0
            code = (ctypes.get_errno() or 255) if failed else 0
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        err = code if 0 < code < 255 else errno_mod.EIO
        raise OSError(err, f"mount {fstype} on {target}: {os.strerror(err)}")


def _unescape(field: str) -> str:
    # mountinfo escapes space, tab, newline and backslash as \ooo.
    out: list[str] = []
    i = 0
    while i < len(field):
        if field[i] == "\\" and i + 3 < len(field) and field[i + 1 : i + 4].isdigit():
            out.append(chr(int(field[i + 1 : i + 4], 8)))
            i += 4
        else:
            out.append(field[i])
            i += 1
    return "".join(out)


def mount_points() -> list[str]:
    """Mount points of this process's mount namespace, in mount order."""
    points: list[str] = []
    with open("/proc/self/mountinfo", encoding="utf-8", errors="surrogateescape") as f:
        for line in f:
            fields = line.split(" ")
            if len(fields) > 4:
                points.append(_unescape(fields[4]))
    return points


def mounts_under(path: str) -> list[str]:
    """Mount points at or below ``path``, deepest first (the order to unmount them)."""
    real = os.path.realpath(path)
    prefix = real.rstrip("/") + "/"
    found = [p for p in mount_points() if p == real or p.startswith(prefix)]
    return sorted(set(found), key=lambda p: p.count("/"), reverse=True)


def in_initial_user_namespace() -> bool:
    """True when this process is in the host's user namespace (full uid map)."""
    try:
        with open("/proc/self/uid_map", encoding="ascii") as f:
            fields = f.read().split()
    except OSError:
        return True
    return fields[:3] == ["0", "0", "4294967295"]


_libc.syncfs.argtypes = [ctypes.c_int]
_libc.syncfs.restype = ctypes.c_int


def syncfs(fd: int) -> None:
    if _libc.syncfs(fd) != 0:
        _raise("syncfs")
