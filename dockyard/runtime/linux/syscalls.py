"""The one thin layer between the runtime and libc (youki's ``Syscall`` trait).

Everything that changes kernel state goes through :class:`Syscalls`, so the logic
above it (namespace order, rootfs preparation, capability math) can be driven by
:class:`FakeSyscalls`, which only records the calls, in unit tests without root.
"""

from __future__ import annotations

import ctypes
import errno
import os
import platform
from typing import Any

# clone / unshare flags
CLONE_NEWNS = 0x00020000
CLONE_NEWCGROUP = 0x02000000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000
CLONE_NEWTIME = 0x00000080

# mount flags
MS_RDONLY = 0x1
MS_NOSUID = 0x2
MS_NODEV = 0x4
MS_NOEXEC = 0x8
MS_SYNCHRONOUS = 0x10
MS_REMOUNT = 0x20
MS_MANDLOCK = 0x40
MS_DIRSYNC = 0x80
MS_NOSYMFOLLOW = 0x100
MS_NOATIME = 0x400
MS_NODIRATIME = 0x800
MS_BIND = 0x1000
MS_MOVE = 0x2000
MS_REC = 0x4000
MS_SILENT = 0x8000
MS_UNBINDABLE = 0x20000
MS_PRIVATE = 0x40000
MS_SLAVE = 0x80000
MS_SHARED = 0x100000
MS_RELATIME = 0x200000
MS_STRICTATIME = 0x1000000
MS_LAZYTIME = 0x2000000
MNT_DETACH = 0x2

# prctl options
PR_SET_PDEATHSIG = 1
PR_SET_KEEPCAPS = 8
PR_CAPBSET_READ = 23
PR_CAPBSET_DROP = 24
PR_SET_NO_NEW_PRIVS = 38
PR_GET_NO_NEW_PRIVS = 39
PR_SET_CHILD_SUBREAPER = 36
PR_CAP_AMBIENT = 47
PR_CAP_AMBIENT_RAISE = 2
PR_CAP_AMBIENT_CLEAR_ALL = 4

TIOCSCTTY = 0x540E
_BPF_SYSCALL = {"x86_64": 321, "aarch64": 280, "armv7l": 386, "ppc64le": 361, "s390x": 351}
_LINUX_CAPABILITY_VERSION_3 = 0x20080522


class _CapHeader(ctypes.Structure):
    _fields_ = (("version", ctypes.c_uint32), ("pid", ctypes.c_int))


class _CapData(ctypes.Structure):
    _fields_ = (
        ("effective", ctypes.c_uint32),
        ("permitted", ctypes.c_uint32),
        ("inheritable", ctypes.c_uint32),
    )


class _Rlimit(ctypes.Structure):
    _fields_ = (("cur", ctypes.c_uint64), ("max", ctypes.c_uint64))


_libc: ctypes.CDLL | None = None


def _lib() -> ctypes.CDLL:
    global _libc
    if _libc is None:
        # the C library the interpreter already has loaded: find_library runs ldconfig
        _libc = ctypes.CDLL(None, use_errno=True)
    return _libc


def _check(result: int, what: str) -> int:
    if result == -1:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")
    return result


def _b(value: str | None) -> bytes | None:
    return None if value is None else os.fsencode(value)


class Syscalls:
    """Real system calls. Methods raise :class:`OSError` with the call named."""

    def unshare(self, flags: int) -> None:
        _check(_lib().unshare(ctypes.c_int(flags)), "unshare")

    def setns(self, fd: int, nstype: int) -> None:
        _check(_lib().setns(ctypes.c_int(fd), ctypes.c_int(nstype)), "setns")

    def mount(
        self, source: str | None, target: str, fstype: str | None, flags: int, data: str | None
    ) -> None:
        res = _lib().mount(
            _b(source), _b(target), _b(fstype), ctypes.c_ulong(flags), _b(data or None)
        )
        _check(res, f"mount {source or 'none'} on {target} ({fstype or 'flags'} {flags:#x})")

    def umount2(self, target: str, flags: int) -> None:
        _check(_lib().umount2(_b(target), ctypes.c_int(flags)), f"umount2 {target}")

    def pivot_root(self, new_root: str, put_old: str) -> None:
        _check(_lib().syscall(155, _b(new_root), _b(put_old)), "pivot_root")

    def sethostname(self, name: str) -> None:
        data = name.encode()
        _check(_lib().sethostname(data, ctypes.c_size_t(len(data))), "sethostname")

    def setdomainname(self, name: str) -> None:
        data = name.encode()
        _check(_lib().setdomainname(data, ctypes.c_size_t(len(data))), "setdomainname")

    def chdir(self, path: str) -> None:
        os.chdir(path)

    def chroot(self, path: str) -> None:
        os.chroot(path)

    def mknod(self, path: str, mode: int, device: int) -> None:
        try:
            os.mknod(path, mode, device)
        except OSError as exc:
            raise OSError(exc.errno, f"mknod {path}: {exc.strerror}") from None

    def prctl(self, option: int, arg2: int = 0, arg3: int = 0, arg4: int = 0, arg5: int = 0) -> int:
        args = (ctypes.c_ulong(a) for a in (arg2, arg3, arg4, arg5))
        return _check(_lib().prctl(ctypes.c_int(option), *args), f"prctl({option})")

    def capget(self) -> tuple[int, int, int]:
        header = _CapHeader(_LINUX_CAPABILITY_VERSION_3, 0)
        data = (_CapData * 2)()
        _check(_lib().capget(ctypes.byref(header), data), "capget")
        e, p, i = (
            int(getattr(data[0], f)) | (int(getattr(data[1], f)) << 32)
            for f in ("effective", "permitted", "inheritable")
        )
        return e, p, i

    def capset(self, effective: int, permitted: int, inheritable: int) -> None:
        header = _CapHeader(_LINUX_CAPABILITY_VERSION_3, 0)
        data = (_CapData * 2)()
        for i in range(2):
            data[i].effective = (effective >> (32 * i)) & 0xFFFFFFFF
            data[i].permitted = (permitted >> (32 * i)) & 0xFFFFFFFF
            data[i].inheritable = (inheritable >> (32 * i)) & 0xFFFFFFFF
        _check(_lib().capset(ctypes.byref(header), data), "capset")

    def setresuid(self, uid: int) -> None:
        os.setresuid(uid, uid, uid)

    def setresgid(self, gid: int) -> None:
        os.setresgid(gid, gid, gid)

    def setgroups(self, groups: list[int]) -> None:
        os.setgroups(groups)

    def getrlimit(self, resource: int) -> tuple[int, int]:
        limit = _Rlimit()
        _check(_lib().prlimit(0, ctypes.c_int(resource), None, ctypes.byref(limit)), "prlimit")
        return int(limit.cur), int(limit.max)

    def setrlimit(self, resource: int, soft: int, hard: int) -> None:
        limit = _Rlimit(soft, hard)
        _check(_lib().prlimit(0, ctypes.c_int(resource), ctypes.byref(limit), None), "prlimit")

    def setsid(self) -> None:
        os.setsid()

    def set_controlling_tty(self, fd: int) -> None:
        import fcntl

        fcntl.ioctl(fd, TIOCSCTTY, 0)

    def fork(self) -> int:
        return os.fork()

    def execve(self, path: str, argv: list[str], env: dict[str, str]) -> None:
        os.execve(path, argv, env)

    def write_file(self, path: str, data: str) -> None:
        with open(path, "w") as f:
            f.write(data)

    def symlink(self, target: str, path: str) -> None:
        os.symlink(target, path)

    def chmod(self, path: str, mode: int) -> None:
        os.chmod(path, mode)

    def chown(self, path: str, uid: int, gid: int) -> None:
        os.chown(path, uid, gid)

    def dup2(self, fd: int, fd2: int) -> None:
        os.dup2(fd, fd2)

    def bpf(self, cmd: int, attr: ctypes.Array[ctypes.c_char]) -> int:
        """bpf(2) with ``attr`` (a ``union bpf_attr``, updated in place by the kernel)."""
        number = _BPF_SYSCALL.get(platform.machine())
        if number is None:
            raise OSError(errno.ENOSYS, f"bpf: unknown syscall number on {platform.machine()}")
        res = _lib().syscall(
            ctypes.c_long(number), ctypes.c_int(cmd), attr, ctypes.c_uint(len(attr))
        )
        return _check(res, f"bpf(cmd={cmd})")

    def open_directory(self, path: str) -> int:
        return os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)

    def close(self, fd: int) -> None:
        os.close(fd)


class FakeSyscalls(Syscalls):
    """Records every call as ``(name, args...)`` instead of making it; for unit tests."""

    def __init__(self, rlimits: dict[int, tuple[int, int]] | None = None) -> None:
        self.calls: list[tuple[Any, ...]] = []
        self.rlimits = dict(rlimits or {})
        self.caps = (0, 0, 0)
        self.bpf_results: list[int | OSError] = []

    def names(self) -> list[str]:
        return [c[0] for c in self.calls]

    def _rec(self, *call: Any) -> None:
        self.calls.append(call)

    def unshare(self, flags: int) -> None:
        self._rec("unshare", flags)

    def setns(self, fd: int, nstype: int) -> None:
        self._rec("setns", fd, nstype)

    def mount(
        self, source: str | None, target: str, fstype: str | None, flags: int, data: str | None
    ) -> None:
        self._rec("mount", source, target, fstype, flags, data)

    def umount2(self, target: str, flags: int) -> None:
        self._rec("umount2", target, flags)

    def pivot_root(self, new_root: str, put_old: str) -> None:
        self._rec("pivot_root", new_root, put_old)

    def sethostname(self, name: str) -> None:
        self._rec("sethostname", name)

    def setdomainname(self, name: str) -> None:
        self._rec("setdomainname", name)

    def chdir(self, path: str) -> None:
        self._rec("chdir", path)

    def chroot(self, path: str) -> None:
        self._rec("chroot", path)

    def mknod(self, path: str, mode: int, device: int) -> None:
        self._rec("mknod", path, mode, device)

    def prctl(self, option: int, arg2: int = 0, arg3: int = 0, arg4: int = 0, arg5: int = 0) -> int:
        self._rec("prctl", option, arg2, arg3, arg4, arg5)
        return 0

    def capget(self) -> tuple[int, int, int]:
        return self.caps

    def capset(self, effective: int, permitted: int, inheritable: int) -> None:
        self._rec("capset", effective, permitted, inheritable)
        self.caps = (effective, permitted, inheritable)

    def setresuid(self, uid: int) -> None:
        self._rec("setresuid", uid)

    def setresgid(self, gid: int) -> None:
        self._rec("setresgid", gid)

    def setgroups(self, groups: list[int]) -> None:
        self._rec("setgroups", list(groups))

    def getrlimit(self, resource: int) -> tuple[int, int]:
        return self.rlimits.get(resource, (1024, 4096))

    def setrlimit(self, resource: int, soft: int, hard: int) -> None:
        self._rec("setrlimit", resource, soft, hard)
        self.rlimits[resource] = (soft, hard)

    def setsid(self) -> None:
        self._rec("setsid")

    def set_controlling_tty(self, fd: int) -> None:
        self._rec("set_controlling_tty", fd)

    def fork(self) -> int:
        self._rec("fork")
        return 0

    def execve(self, path: str, argv: list[str], env: dict[str, str]) -> None:
        self._rec("execve", path, list(argv), dict(env))

    def write_file(self, path: str, data: str) -> None:
        self._rec("write_file", path, data)

    def symlink(self, target: str, path: str) -> None:
        self._rec("symlink", target, path)

    def chmod(self, path: str, mode: int) -> None:
        self._rec("chmod", path, mode)

    def chown(self, path: str, uid: int, gid: int) -> None:
        self._rec("chown", path, uid, gid)

    def dup2(self, fd: int, fd2: int) -> None:
        self._rec("dup2", fd, fd2)

    def bpf(self, cmd: int, attr: ctypes.Array[ctypes.c_char]) -> int:
        """Records ``("bpf", cmd, attr bytes)``; returns :attr:`bpf_results` in turn
        (an ``OSError`` there is raised), else a made-up fd."""
        self._rec("bpf", cmd, bytes(attr))
        if self.bpf_results:
            result = self.bpf_results.pop(0)
            if isinstance(result, OSError):
                raise result
            return result
        return 1000 + len(self.calls)

    def open_directory(self, path: str) -> int:
        self._rec("open_directory", path)
        return 900

    def close(self, fd: int) -> None:
        self._rec("close", fd)
