"""Load an OCI ``linux.seccomp`` section into the current process through libseccomp.

This mirrors runc (libcontainer/seccomp): the section is validated and turned into a
list of rules (:func:`parse_seccomp`, pure), the rules are compiled into a libseccomp
filter (:func:`compile_filter`) and the filter is loaded just before ``execve``
(:func:`load_filter`). Like runc, dockyard:

- skips syscall names this libseccomp does not know (an older library or another
  architecture) instead of failing, and skips rules whose action is the default;
- splits a rule with several conditions on the same argument into one rule per
  condition (libseccomp refuses duplicate argument indexes in one rule);
- leaves ``no_new_privs`` to the caller (the filter's NNP attribute is cleared), so
  loading needs either ``no_new_privs`` or ``CAP_SYS_ADMIN``.

``SCMP_ACT_NOTIFY`` (seccomp user notification with a listener socket) is not
supported: any profile using it is refused with :class:`Unsupported`.
libseccomp is opened with ctypes on first use, so importing this module is cheap and
works on hosts without the library.
"""

from __future__ import annotations

import ctypes
import errno as _errno
import os
from dataclasses import dataclass
from typing import Any

from dockyard.errors import InvalidArgument, SystemFailure, Unsupported

# Action values from seccomp.h.
SCMP_ACT_KILL_PROCESS = 0x80000000
SCMP_ACT_KILL_THREAD = 0x00000000
SCMP_ACT_TRAP = 0x00030000
SCMP_ACT_ERRNO_BASE = 0x00050000
SCMP_ACT_TRACE_BASE = 0x7FF00000
SCMP_ACT_LOG = 0x7FFC0000
SCMP_ACT_ALLOW = 0x7FFF0000


def act_errno(code: int) -> int:
    return SCMP_ACT_ERRNO_BASE | (code & 0xFFFF)


def act_trace(code: int) -> int:
    return SCMP_ACT_TRACE_BASE | (code & 0xFFFF)


# OCI action name -> (fixed value, or None when it carries an errno/msg value).
_ACTIONS: dict[str, int | None] = {
    "SCMP_ACT_KILL": SCMP_ACT_KILL_THREAD,
    "SCMP_ACT_KILL_THREAD": SCMP_ACT_KILL_THREAD,
    "SCMP_ACT_KILL_PROCESS": SCMP_ACT_KILL_PROCESS,
    "SCMP_ACT_TRAP": SCMP_ACT_TRAP,
    "SCMP_ACT_ERRNO": None,
    "SCMP_ACT_TRACE": None,
    "SCMP_ACT_ALLOW": SCMP_ACT_ALLOW,
    "SCMP_ACT_LOG": SCMP_ACT_LOG,
}
_NOTIFY = "SCMP_ACT_NOTIFY"

# enum scmp_compare
_OPS = {
    "SCMP_CMP_NE": 1,
    "SCMP_CMP_LT": 2,
    "SCMP_CMP_LE": 3,
    "SCMP_CMP_EQ": 4,
    "SCMP_CMP_GE": 5,
    "SCMP_CMP_GT": 6,
    "SCMP_CMP_MASKED_EQ": 7,
}

# enum scmp_filter_attr
_ATTR_CTL_NNP = 3
_ATTR_CTL_TSYNC = 4
_ATTR_CTL_LOG = 6
_ATTR_CTL_SSB = 7
_ATTR_CTL_OPTIMIZE = 8
_ATTR_API_SYSRAWRC = 9

_FLAG_TSYNC = "SECCOMP_FILTER_FLAG_TSYNC"
_FLAG_LOG = "SECCOMP_FILTER_FLAG_LOG"
_FLAG_SPEC_ALLOW = "SECCOMP_FILTER_FLAG_SPEC_ALLOW"
_FLAG_WAIT_KILLABLE_RECV = "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"
# flag -> (filter attribute, minimum libseccomp API level)
_FLAGS = {
    _FLAG_TSYNC: (_ATTR_CTL_TSYNC, 2),
    _FLAG_LOG: (_ATTR_CTL_LOG, 3),
    _FLAG_SPEC_ALLOW: (_ATTR_CTL_SSB, 4),
}

# OCI architecture names (runtime-spec, libseccomp 2.6); libseccomp's own name is
# the lower-cased suffix.
ARCHITECTURES = (
    "SCMP_ARCH_X86",
    "SCMP_ARCH_X86_64",
    "SCMP_ARCH_X32",
    "SCMP_ARCH_ARM",
    "SCMP_ARCH_AARCH64",
    "SCMP_ARCH_MIPS",
    "SCMP_ARCH_MIPS64",
    "SCMP_ARCH_MIPS64N32",
    "SCMP_ARCH_MIPSEL",
    "SCMP_ARCH_MIPSEL64",
    "SCMP_ARCH_MIPSEL64N32",
    "SCMP_ARCH_PPC",
    "SCMP_ARCH_PPC64",
    "SCMP_ARCH_PPC64LE",
    "SCMP_ARCH_S390",
    "SCMP_ARCH_S390X",
    "SCMP_ARCH_PARISC",
    "SCMP_ARCH_PARISC64",
    "SCMP_ARCH_RISCV64",
    "SCMP_ARCH_LOONGARCH64",
    "SCMP_ARCH_M68K",
    "SCMP_ARCH_SH",
    "SCMP_ARCH_SHEB",
)

MAX_ARGS = 6  # syscall arguments seccomp can look at
_OPTIMIZE_ABOVE = 400  # runc turns on libseccomp's binary tree above this many entries
_U64 = 1 << 64


# --- the pure part: OCI section -> rules -------------------------------------


@dataclass(frozen=True)
class Condition:
    index: int
    op: int
    value: int
    value_two: int


@dataclass(frozen=True)
class Rule:
    """One ``seccomp_rule_add_array`` call (conditions are ANDed)."""

    name: str
    action: int
    conditions: tuple[Condition, ...]


@dataclass(frozen=True)
class SeccompPlan:
    default_action: int
    architectures: tuple[str, ...]
    flags: tuple[str, ...]
    rules: tuple[Rule, ...]
    entries: int  # syscall names in the profile, for runc's optimisation threshold


def parse_seccomp(seccomp: dict[str, Any]) -> SeccompPlan:
    """Validate an OCI ``linux.seccomp`` object and turn it into rules, without libseccomp."""
    if not isinstance(seccomp, dict):
        raise InvalidArgument("seccomp: expected an object")
    default = _action(seccomp.get("defaultAction"), seccomp.get("defaultErrnoRet"), "defaultAction")
    arches = tuple(_list_of_str(seccomp.get("architectures"), "architectures"))
    for arch in arches:
        if arch not in ARCHITECTURES:
            raise InvalidArgument(f"seccomp: unknown architecture {arch!r}")
    flags = tuple(_list_of_str(seccomp.get("flags"), "flags"))
    for flag in flags:
        if flag == _FLAG_WAIT_KILLABLE_RECV:
            raise Unsupported(f"seccomp: flag {flag} needs SCMP_ACT_NOTIFY, which is not supported")
        if flag not in _FLAGS:
            raise InvalidArgument(f"seccomp: unknown flag {flag!r}")
    syscalls = seccomp.get("syscalls") or []
    if not isinstance(syscalls, list):
        raise InvalidArgument("seccomp: syscalls must be a list")
    rules: list[Rule] = []
    entries = 0
    for i, entry in enumerate(syscalls):
        if not isinstance(entry, dict):
            raise InvalidArgument(f"seccomp: syscalls[{i}] must be an object")
        names = _list_of_str(entry.get("names"), f"syscalls[{i}].names")
        if not names:
            raise InvalidArgument(f"seccomp: syscalls[{i}].names must not be empty")
        if "" in names:
            raise InvalidArgument("seccomp: empty string is not a valid syscall")
        entries += len(names)
        action = _action(entry.get("action"), entry.get("errnoRet"), f"syscalls[{i}].action")
        conditions = [
            _condition(arg, f"syscalls[{i}].args[{j}]")
            for j, arg in enumerate(entry.get("args") or [])
        ]
        if action == default:
            continue  # redundant, and libseccomp refuses it
        for name in names:
            rules.extend(Rule(name, action, group) for group in _condition_groups(conditions))
    return SeccompPlan(default, arches, flags, tuple(rules), entries)


def _condition_groups(conditions: list[Condition]) -> list[tuple[Condition, ...]]:
    """runc's rule: if any argument index repeats, every condition becomes its own rule."""
    indexes = [c.index for c in conditions]
    if len(set(indexes)) == len(indexes):
        return [tuple(conditions)]
    return [(c,) for c in conditions]


def _action(name: object, errno_ret: object, where: str) -> int:
    if name == _NOTIFY:
        raise Unsupported(f"seccomp: {where} SCMP_ACT_NOTIFY is not supported by this runtime")
    if not isinstance(name, str) or name not in _ACTIONS:
        raise InvalidArgument(f"seccomp: {where}: invalid action {name!r}")
    fixed = _ACTIONS[name]
    if fixed is not None:
        if errno_ret is not None:
            raise InvalidArgument(f"seccomp: {where}: {name} does not take an errno return value")
        return fixed
    code = _errno.EPERM if errno_ret is None else _uint(errno_ret, 0xFFFF, f"{where} errnoRet")
    return act_errno(code) if name == "SCMP_ACT_ERRNO" else act_trace(code)


def _condition(arg: object, where: str) -> Condition:
    if not isinstance(arg, dict):
        raise InvalidArgument(f"seccomp: {where} must be an object")
    index = _uint(arg.get("index"), MAX_ARGS - 1, f"{where}.index")
    op = arg.get("op")
    if not isinstance(op, str) or op not in _OPS:
        raise InvalidArgument(f"seccomp: {where}: invalid operator {op!r}")
    value = _uint(arg.get("value"), _U64 - 1, f"{where}.value")
    two = arg.get("valueTwo")
    value_two = 0 if two is None else _uint(two, _U64 - 1, f"{where}.valueTwo")
    return Condition(index, _OPS[op], value, value_two)


def _uint(value: object, maximum: int, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= maximum:
        raise InvalidArgument(
            f"seccomp: {where} must be an integer from 0 to {maximum}, not {value!r}"
        )
    return value


def _list_of_str(value: object, where: str) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise InvalidArgument(f"seccomp: {where} must be a list of strings")
    return value


# --- libseccomp through ctypes -------------------------------------------------


class _ArgCmp(ctypes.Structure):
    _fields_ = [
        ("arg", ctypes.c_uint),
        ("op", ctypes.c_int),
        ("datum_a", ctypes.c_uint64),
        ("datum_b", ctypes.c_uint64),
    ]


_lib: ctypes.CDLL | None = None


def _libseccomp() -> ctypes.CDLL:
    global _lib
    if _lib is None:
        try:
            lib = ctypes.CDLL("libseccomp.so.2", use_errno=True)
        except OSError as e:
            raise Unsupported(f"seccomp: libseccomp.so.2 is not available: {e}") from None
        ctx, u32, cint, cstr = ctypes.c_void_p, ctypes.c_uint32, ctypes.c_int, ctypes.c_char_p
        signatures: dict[str, tuple[list[Any], Any]] = {
            "seccomp_init": ([u32], ctx),
            "seccomp_release": ([ctx], None),
            "seccomp_arch_add": ([ctx, u32], cint),
            "seccomp_arch_resolve_name": ([cstr], u32),
            "seccomp_attr_set": ([ctx, cint, u32], cint),
            "seccomp_syscall_resolve_name": ([cstr], cint),
            "seccomp_rule_add_array": (
                [ctx, u32, cint, ctypes.c_uint, ctypes.POINTER(_ArgCmp)],
                cint,
            ),
            "seccomp_load": ([ctx], cint),
            "seccomp_export_bpf": ([ctx, cint], cint),
            "seccomp_api_get": ([], ctypes.c_uint),
        }
        for name, (argtypes, restype) in signatures.items():
            fn = getattr(lib, name)
            fn.argtypes = argtypes
            fn.restype = restype
        _lib = lib
    return _lib


def _failure(rc: int, what: str) -> SystemFailure | Unsupported:
    code = -rc
    message = f"seccomp: {what}: {os.strerror(code)}"
    if code in (_errno.EOPNOTSUPP, _errno.ENOSYS):
        return Unsupported(message)
    return SystemFailure(message)


def _lib_name(arch: str) -> bytes:
    return arch.removeprefix("SCMP_ARCH_").lower().encode()


def api_level() -> int:
    """libseccomp's API level on this kernel (0 when libseccomp is missing)."""
    try:
        return int(_libseccomp().seccomp_api_get())
    except Unsupported:
        return 0


class SeccompFilter:
    """A compiled libseccomp filter, not yet loaded. Release it with :meth:`close`."""

    def __init__(self, ctx: int, skipped: list[str]) -> None:
        self._ctx: int | None = ctx
        self.skipped = skipped  # syscall names this libseccomp does not know

    def _handle(self) -> int:
        if self._ctx is None:
            raise SystemFailure("seccomp: filter already released")
        return self._ctx

    def load(self) -> None:
        """Install the filter on the calling thread (all threads with TSYNC); irreversible."""
        rc = _libseccomp().seccomp_load(self._handle())
        if rc < 0:
            raise _failure(rc, "loading the filter")

    def export_bpf(self) -> bytes:
        """The filter as the classic BPF program the kernel would get (8 bytes per insn)."""
        fd = os.memfd_create("dockyard-seccomp-bpf", os.MFD_CLOEXEC)
        try:
            rc = _libseccomp().seccomp_export_bpf(self._handle(), fd)
            if rc < 0:
                raise _failure(rc, "exporting the filter")
            os.lseek(fd, 0, os.SEEK_SET)
            chunks = []
            while chunk := os.read(fd, 65536):
                chunks.append(chunk)
            return b"".join(chunks)
        finally:
            os.close(fd)

    def close(self) -> None:
        if self._ctx is not None:
            _libseccomp().seccomp_release(self._ctx)
            self._ctx = None

    def __enter__(self) -> SeccompFilter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        if getattr(self, "_ctx", None) is not None and _lib is not None:
            self.close()


def compile_filter(seccomp: dict[str, Any]) -> SeccompFilter:
    """Build a libseccomp filter from an OCI ``linux.seccomp`` object (nothing is loaded)."""
    plan = parse_seccomp(seccomp)
    lib = _libseccomp()
    handle = lib.seccomp_init(plan.default_action)
    if not handle:
        raise InvalidArgument(
            f"seccomp: libseccomp refused default action {plan.default_action:#x}"
        )
    filt = SeccompFilter(handle, [])
    try:
        _build(lib, handle, plan, filt.skipped)
    except BaseException:
        filt.close()
        raise
    return filt


def _build(lib: ctypes.CDLL, ctx: int, plan: SeccompPlan, skipped: list[str]) -> None:
    # Real errnos instead of libseccomp 2.5's -ECANCELED for kernel errors (best effort).
    lib.seccomp_attr_set(ctx, _ATTR_API_SYSRAWRC, 1)
    _set_attr(lib, ctx, _ATTR_CTL_NNP, 0, "clearing the no_new_privs attribute")
    for arch in plan.architectures:
        token = lib.seccomp_arch_resolve_name(_lib_name(arch))
        if not token:
            raise Unsupported(f"seccomp: architecture {arch} is not supported by this libseccomp")
        rc = lib.seccomp_arch_add(ctx, token)
        if rc == -_errno.EDOM:
            raise InvalidArgument(
                f"seccomp: architecture {arch} cannot share a filter with the others "
                "(a different byte order)"
            )
        if rc < 0 and rc != -_errno.EEXIST:
            raise _failure(rc, f"adding architecture {arch}")
    for flag in plan.flags:
        attr, level = _FLAGS[flag]
        if api_level() < level:
            raise Unsupported(f"seccomp: flag {flag} is not supported by this kernel or libseccomp")
        _set_attr(lib, ctx, attr, 1, f"setting flag {flag}")
    if plan.entries > _OPTIMIZE_ABOVE:
        lib.seccomp_attr_set(ctx, _ATTR_CTL_OPTIMIZE, 2)  # a speed-up only; ignore failure
    numbers: dict[str, int] = {}
    for rule in plan.rules:
        nr = numbers.get(rule.name)
        if nr is None:
            nr = numbers[rule.name] = lib.seccomp_syscall_resolve_name(rule.name.encode())
            if nr == -1:  # __NR_SCMP_ERROR: unknown here, skipped like runc does
                skipped.append(rule.name)
        if nr == -1:
            continue
        args = (_ArgCmp * len(rule.conditions))(
            *(_ArgCmp(c.index, c.op, c.value, c.value_two) for c in rule.conditions)
        )
        rc = lib.seccomp_rule_add_array(ctx, rule.action, nr, len(rule.conditions), args)
        if rc < 0:
            raise _failure(rc, f"adding rule for syscall {rule.name}")


def _set_attr(lib: ctypes.CDLL, ctx: int, attr: int, value: int, what: str) -> None:
    rc = lib.seccomp_attr_set(ctx, attr, value)
    if rc < 0:
        raise _failure(rc, what)


def load_filter(seccomp: dict[str, Any]) -> None:
    """Compile ``seccomp`` and load it into the calling process.

    Needs no_new_privs or CAP_SYS_ADMIN; irreversible.
    """
    with compile_filter(seccomp) as filt:
        filt.load()


def supported_actions() -> list[str]:
    """The actions this runtime can load here, for the ``features`` command."""
    level = api_level()
    if level < 1:
        return []
    actions = [
        "SCMP_ACT_ALLOW",
        "SCMP_ACT_ERRNO",
        "SCMP_ACT_KILL",
        "SCMP_ACT_KILL_THREAD",
        "SCMP_ACT_TRACE",
        "SCMP_ACT_TRAP",
    ]
    if level >= 3:
        actions += ["SCMP_ACT_KILL_PROCESS", "SCMP_ACT_LOG"]
    return sorted(actions)


def supported_architectures() -> list[str]:
    """The OCI architecture names this libseccomp knows (empty without libseccomp)."""
    try:
        lib = _libseccomp()
    except Unsupported:
        return []
    return [arch for arch in ARCHITECTURES if lib.seccomp_arch_resolve_name(_lib_name(arch))]


def supported_operators() -> list[str]:
    """The argument comparison operators (all of libseccomp's)."""
    return list(_OPS)


def supported_flags() -> list[str]:
    """The ``flags`` this runtime can apply here."""
    level = api_level()
    return [flag for flag, (_, minimum) in _FLAGS.items() if level >= minimum]
