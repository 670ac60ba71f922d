"""Device rules on cgroup v2: an eBPF ``BPF_PROG_TYPE_CGROUP_DEVICE`` program.

cgroup v2 has no devices.allow/deny files; the kernel asks a program attached
to the cgroup instead. As runc does (libcontainer/cgroups/devices), the OCI
rules first go through an emulation of the v1 devices controller (so rules
mean the same on v1 and v2, holes punched into wildcards are refused), then
the resulting exceptions become one block of instructions each::

    r2 = type, r3 = access, r4 = major, r5 = minor
    block: if type/access/major/minor do not match, jump to the next block;
           else return the exceptions' verdict
    last:  return the default verdict

The program is loaded with bpf(BPF_PROG_LOAD) and attached with
BPF_F_ALLOW_MULTI; on update the new program is attached before the old ones
are detached, so there is no moment without a filter.
"""

from __future__ import annotations

import ctypes
import struct
from dataclasses import dataclass, field
from typing import Any

from dockyard import log
from dockyard.errors import InvalidArgument, SystemFailure, Unsupported
from dockyard.runtime.linux.syscalls import Syscalls

# bpf(2) commands, program/attach types and flags (uapi/linux/bpf.h)
BPF_PROG_LOAD = 5
BPF_PROG_ATTACH = 8
BPF_PROG_DETACH = 9
BPF_PROG_GET_FD_BY_ID = 13
BPF_PROG_QUERY = 16
BPF_PROG_TYPE_CGROUP_DEVICE = 15
BPF_CGROUP_DEVICE = 6
BPF_F_ALLOW_MULTI = 2
BPF_DEVCG_ACC_MKNOD = 1
BPF_DEVCG_ACC_READ = 2
BPF_DEVCG_ACC_WRITE = 4
BPF_DEVCG_DEV_BLOCK = 1
BPF_DEVCG_DEV_CHAR = 2
LICENSE = "Apache"

_ATTR_SIZE = 128  # larger than every bpf_attr member we use; the tail stays zero
_WILDCARD = -1
_ACCESS_BITS = {"r": BPF_DEVCG_ACC_READ, "w": BPF_DEVCG_ACC_WRITE, "m": BPF_DEVCG_ACC_MKNOD}
_TYPE_BITS = {"b": BPF_DEVCG_DEV_BLOCK, "c": BPF_DEVCG_DEV_CHAR}

# opcodes (class | op | source)
_OPCODES = {
    "LdXMemW": 0x61,
    "AndImm32": 0x54,
    "RShImm32": 0x74,
    "MovReg32": 0xBC,
    "MovImm32": 0xB4,
    "JNEImm": 0x55,
    "JNEReg": 0x5D,
    "Exit": 0x95,
}


# -- the v1 devices controller, emulated ----------------------------------------


@dataclass(frozen=True, order=True)
class DeviceRule:
    """One exception: type "a"/"b"/"c", major/minor (-1 = any), access ⊆ "rwm"."""

    type: str
    major: int
    minor: int
    access: str = "rwm"
    allow: bool = True


def _number(value: Any) -> int:
    if value is None or value == _WILDCARD:
        return _WILDCARD
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= 0xFFFFFFFF:
        raise InvalidArgument(f"invalid device number {value!r} in device cgroup rule")
    return value


def parse_rule(rule: dict[str, Any]) -> DeviceRule:
    """An OCI ``linux.resources.devices`` entry (missing access means "rwm")."""
    if not isinstance(rule.get("allow"), bool):
        raise InvalidArgument(f"device cgroup rule {rule!r} needs a boolean 'allow'")
    dtype = rule.get("type") or "a"
    if dtype not in ("a", "b", "c"):
        raise InvalidArgument(f"invalid device type {dtype!r} in device cgroup rule")
    access = rule.get("access") or "rwm"
    if not isinstance(access, str) or not set(access) <= set("rwm"):
        raise InvalidArgument(f"invalid device access {access!r} in device cgroup rule")
    return DeviceRule(
        dtype, _number(rule.get("major")), _number(rule.get("minor")), access, rule["allow"]
    )


def _canon(access: set[str]) -> str:
    return "".join(c for c in "rwm" if c in access)


@dataclass
class Emulator:
    """The v1 devices cgroup state: a default verdict plus exceptions to it.

    Starts as deny-all (runc's zero value). A type "a" rule resets the state;
    any other rule adds an exception (when its verdict differs from the
    default) or removes access from one (when it agrees).
    """

    default_allow: bool = False
    exceptions: dict[tuple[str, int, int], set[str]] = field(default_factory=dict)

    def apply(self, rule: DeviceRule) -> None:
        if rule.type == "a":
            self.default_allow = rule.allow
            self.exceptions = {}
            return
        key = (rule.type, rule.major, rule.minor)
        if rule.allow != self.default_allow:
            self.exceptions.setdefault(key, set()).update(rule.access)
            return
        for partial in (
            (rule.type, _WILDCARD, rule.minor),
            (rule.type, rule.major, _WILDCARD),
            (rule.type, _WILDCARD, _WILDCARD),
        ):
            if partial != key and self.exceptions.get(partial, set()) & set(rule.access):
                raise InvalidArgument(
                    f"device cgroup rule {_text(rule)} cannot punch a hole in the wildcard "
                    f"rule {_text(DeviceRule(*partial, _canon(self.exceptions[partial])))}"
                )
        left = self.exceptions.get(key, set()) - set(rule.access)
        if left:
            self.exceptions[key] = left
        else:
            self.exceptions.pop(key, None)

    def rules(self) -> list[DeviceRule]:
        """The exceptions, sorted by (type, major, minor) as runc orders them."""
        return [
            DeviceRule(t, ma, mi, _canon(acc), not self.default_allow)
            for (t, ma, mi), acc in sorted(self.exceptions.items())
        ]

    def allows_all(self) -> bool:
        return self.default_allow and not self.exceptions


def emulate(devices: list[dict[str, Any]]) -> Emulator:
    emu = Emulator()
    for entry in devices:
        emu.apply(parse_rule(entry))
    return emu


def _text(rule: DeviceRule) -> str:
    num = ["*" if n == _WILDCARD else str(n) for n in (rule.major, rule.minor)]
    return f"{rule.type} {num[0]}:{num[1]} {rule.access}"


# -- the program --------------------------------------------------------------


@dataclass(frozen=True)
class Insn:
    """One instruction; ``target`` names the block a jump goes to."""

    op: str
    dst: int = 0
    src: int = 0
    off: int = 0
    imm: int = 0
    target: str = ""


@dataclass
class Program:
    insns: list[Insn]
    labels: dict[int, str]  # instruction index -> block label starting there

    def resolve(self) -> list[Insn]:
        """Jump targets turned into relative offsets."""
        where = {label: i for i, label in self.labels.items()}
        out = []
        for i, insn in enumerate(self.insns):
            if insn.target:
                insn = Insn(insn.op, insn.dst, insn.src, where[insn.target] - i - 1, insn.imm)
            out.append(insn)
        return out

    def encode(self) -> bytes:
        """struct bpf_insn[]: u8 code, u8 dst:4|src:4, s16 off, s32 imm (little endian)."""
        return b"".join(
            struct.pack("<BBhi", _OPCODES[i.op], i.dst | (i.src << 4), i.off, i.imm)
            for i in self.resolve()
        )

    def disassemble(self) -> str:
        """The same text as cilium/ebpf's ``Instructions.String()`` (runc's tests)."""
        lines = []
        for i, insn in enumerate(self.insns):
            if i in self.labels:
                lines.append(f"{self.labels[i]}:")
            parts = [f"{i}: {insn.op}"]
            if insn.op != "Exit":
                parts.append(f"dst: r{insn.dst}")
            if insn.op.startswith("J"):
                parts.append("off: -1")
            if insn.op in ("LdXMemW",):
                parts += [f"src: r{insn.src}", f"off: {insn.off}", f"imm: {insn.imm}"]
            elif insn.op.endswith("Reg") or insn.op.endswith("Reg32"):
                parts.append(f"src: r{insn.src}")
            elif insn.op != "Exit":
                parts.append(f"imm: {insn.imm}")
            if insn.target:
                parts.append(f"<{insn.target}>")
            lines.append(" ".join(parts))
        return "\n".join(lines)


def build_program(devices: list[dict[str, Any]]) -> Program:
    """The filter for OCI device rules (default deny, later rules win)."""
    emu = emulate(devices)
    insns = [
        Insn("LdXMemW", dst=2, src=1, off=0),  # r2 = access_type & 0xffff (device type)
        Insn("AndImm32", dst=2, imm=0xFFFF),
        Insn("LdXMemW", dst=3, src=1, off=0),  # r3 = access_type >> 16 (access)
        Insn("RShImm32", dst=3, imm=16),
        Insn("LdXMemW", dst=4, src=1, off=4),  # r4 = major
        Insn("LdXMemW", dst=5, src=1, off=8),  # r5 = minor
    ]
    labels: dict[int, str] = {}
    for block, rule in enumerate(emu.rules()):
        labels[len(insns)] = f"block-{block}"
        nxt = f"block-{block + 1}"
        insns.append(Insn("JNEImm", dst=2, imm=_TYPE_BITS[rule.type], target=nxt))
        bits = sum(_ACCESS_BITS[c] for c in rule.access)
        if bits != 7:  # every requested access bit must be in the rule's
            insns += [
                Insn("MovReg32", dst=1, src=3),
                Insn("AndImm32", dst=1, imm=bits),
                Insn("JNEReg", dst=1, src=3, target=nxt),
            ]
        if rule.major != _WILDCARD:
            insns.append(Insn("JNEImm", dst=4, imm=rule.major, target=nxt))
        if rule.minor != _WILDCARD:
            insns.append(Insn("JNEImm", dst=5, imm=rule.minor, target=nxt))
        insns += [Insn("MovImm32", dst=0, imm=int(rule.allow)), Insn("Exit")]
    labels[len(insns)] = f"block-{len(emu.rules())}"
    insns += [Insn("MovImm32", dst=0, imm=int(emu.default_allow)), Insn("Exit")]
    return Program(insns, labels)


# -- bpf(2) -------------------------------------------------------------------


def _attr(fmt: str, *values: Any) -> ctypes.Array[ctypes.c_char]:
    buf = ctypes.create_string_buffer(_ATTR_SIZE)
    struct.pack_into(fmt, buf, 0, *values)
    return buf


def load(sys: Syscalls, program: Program) -> int:
    """BPF_PROG_LOAD; returns the program fd. The verifier log is in the error."""
    code = ctypes.create_string_buffer(program.encode())
    lic = ctypes.create_string_buffer(LICENSE.encode())
    count = len(program.insns)

    def attempt(log_buf: ctypes.Array[ctypes.c_char] | None) -> int:
        attr = _attr(
            "<IIQQIIQII16sII",
            BPF_PROG_TYPE_CGROUP_DEVICE,
            count,
            ctypes.addressof(code),
            ctypes.addressof(lic),
            1 if log_buf is not None else 0,
            len(log_buf) if log_buf is not None else 0,
            ctypes.addressof(log_buf) if log_buf is not None else 0,
            0,
            0,
            b"dockyard_dev",
            0,
            BPF_CGROUP_DEVICE,
        )
        return sys.bpf(BPF_PROG_LOAD, attr)

    try:
        return attempt(None)
    except OSError as first:
        if first.errno != 22:  # EINVAL: retry once to get the verifier's reason
            raise
        verifier_log = ctypes.create_string_buffer(1 << 16)
        try:
            return attempt(verifier_log)
        except OSError as exc:
            text = verifier_log.value.decode(errors="replace").strip()
            raise OSError(exc.errno, f"{exc.strerror}; verifier: {text}") from None


def attached_ids(sys: Syscalls, cgroup_fd: int) -> list[int]:
    """The ids of the device programs attached to the cgroup (BPF_PROG_QUERY)."""
    ids = (ctypes.c_uint32 * 64)()
    attr = _attr("<IIIIQI", cgroup_fd, BPF_CGROUP_DEVICE, 0, 0, ctypes.addressof(ids), 64)
    sys.bpf(BPF_PROG_QUERY, attr)
    count = struct.unpack_from("<I", attr, 24)[0]
    return [int(ids[i]) for i in range(min(count, 64))]


def _attach(sys: Syscalls, cgroup_fd: int, prog_fd: int) -> None:
    sys.bpf(
        BPF_PROG_ATTACH, _attr("<IIII", cgroup_fd, prog_fd, BPF_CGROUP_DEVICE, BPF_F_ALLOW_MULTI)
    )


def _detach_id(sys: Syscalls, cgroup_fd: int, prog_id: int) -> None:
    try:
        prog_fd = sys.bpf(BPF_PROG_GET_FD_BY_ID, _attr("<I", prog_id))
    except FileNotFoundError:  # already gone
        return
    try:
        sys.bpf(BPF_PROG_DETACH, _attr("<IIII", cgroup_fd, prog_fd, BPF_CGROUP_DEVICE, 0))
    finally:
        sys.close(prog_fd)


def apply(cgroup_dir: str, devices: list[dict[str, Any]], sys: Syscalls | None = None) -> None:
    """Make ``devices`` the cgroup's device policy, replacing earlier programs.

    Rules that leave everything allowed attach nothing (and detach what was
    there), so privileged containers never need bpf().
    """
    sys = sys or Syscalls()
    program = build_program(devices)
    allow_all = emulate(devices).allows_all()
    fd = sys.open_directory(cgroup_dir)
    try:
        try:
            old = attached_ids(sys, fd)
        except OSError as exc:
            if allow_all:  # not permitted or not a cgroup: nothing of ours is attached
                log.debug(f"cgroup: no device programs queried on {cgroup_dir}: {exc}")
                return
            raise _failure(cgroup_dir, "query", exc) from None
        if not allow_all:
            try:
                prog_fd = load(sys, program)
            except OSError as exc:
                raise _failure(cgroup_dir, "load", exc) from None
            try:
                _attach(sys, fd, prog_fd)
            except OSError as exc:
                raise _failure(cgroup_dir, "attach", exc) from None
            finally:
                sys.close(prog_fd)
        for prog_id in old:
            try:
                _detach_id(sys, fd, prog_id)
            except OSError as exc:
                raise _failure(cgroup_dir, "detach", exc) from None
    finally:
        sys.close(fd)


def _failure(cgroup_dir: str, step: str, exc: OSError) -> Exception:
    if exc.errno in (1, 38):  # EPERM, ENOSYS
        return Unsupported(
            f"device cgroup rules on cgroup v2 need bpf(2), which is not permitted here "
            f"({step} on {cgroup_dir}: {exc})"
        )
    return SystemFailure(f"cgroup: device program {step} on {cgroup_dir}: {exc}")
