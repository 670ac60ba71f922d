"""The cgroup v2 device program: generated instructions (against runc's own
devicefilter_test.go expectations), the v1 emulation and the bpf(2) calls."""

from __future__ import annotations

import ctypes
import struct
from pathlib import Path
from typing import Any

import pytest

from dockyard.errors import InvalidArgument, Unsupported
from dockyard.runtime.linux import syscalls as sc
from dockyard.runtime.linux.cgroups import devices_bpf as db
from dockyard.runtime.linux.cgroups.v2 import V2Driver

PROLOGUE = """
0: LdXMemW dst: r2 src: r1 off: 0 imm: 0
1: AndImm32 dst: r2 imm: 65535
2: LdXMemW dst: r3 src: r1 off: 0 imm: 0
3: RShImm32 dst: r3 imm: 16
4: LdXMemW dst: r4 src: r1 off: 4 imm: 0
5: LdXMemW dst: r5 src: r1 off: 8 imm: 0
"""


def _norm(text: str) -> str:
    return "\n".join(" ".join(line.split()) for line in text.strip().splitlines() if line.strip())


def _rule(t: str, major: int, minor: int, access: str, allow: bool) -> dict[str, Any]:
    return {"type": t, "major": major, "minor": minor, "access": access, "allow": allow}


def test_no_rules_denies_everything() -> None:
    expected = PROLOGUE + "block-0:\n6: MovImm32 dst: r0 imm: 0\n7: Exit"
    assert db.build_program([]).disassemble() == _norm(expected)


def test_builtin_allow_list_matches_runc() -> None:
    # runc's specconv.AllowedDevices, in runc's order (TestDeviceFilter_BuiltInAllowList)
    rules = [
        _rule("c", -1, -1, "m", True),
        _rule("b", -1, -1, "m", True),
        _rule("c", 1, 3, "rwm", True),
        _rule("c", 1, 8, "rwm", True),
        _rule("c", 1, 7, "rwm", True),
        _rule("c", 5, 0, "rwm", True),
        _rule("c", 1, 5, "rwm", True),
        _rule("c", 1, 9, "rwm", True),
        _rule("c", 136, -1, "rwm", True),
        _rule("c", 5, 2, "rwm", True),
        _rule("c", 10, 200, "rwm", True),
    ]
    blocks = [
        "block-0:",
        "6: JNEImm dst: r2 off: -1 imm: 1 <block-1>",
        "7: MovReg32 dst: r1 src: r3",
        "8: AndImm32 dst: r1 imm: 1",
        "9: JNEReg dst: r1 off: -1 src: r3 <block-1>",
        "10: MovImm32 dst: r0 imm: 1",
        "11: Exit",
        "block-1:",
        "12: JNEImm dst: r2 off: -1 imm: 2 <block-2>",
        "13: MovReg32 dst: r1 src: r3",
        "14: AndImm32 dst: r1 imm: 1",
        "15: JNEReg dst: r1 off: -1 src: r3 <block-2>",
        "16: MovImm32 dst: r0 imm: 1",
        "17: Exit",
    ]
    n = 18
    for block, (major, minor) in enumerate(
        [(1, 3), (1, 5), (1, 7), (1, 8), (1, 9), (5, 0), (5, 2), (10, 200)], start=2
    ):
        nxt = f"<block-{block + 1}>"
        blocks += [
            f"block-{block}:",
            f"{n}: JNEImm dst: r2 off: -1 imm: 2 {nxt}",
            f"{n + 1}: JNEImm dst: r4 off: -1 imm: {major} {nxt}",
            f"{n + 2}: JNEImm dst: r5 off: -1 imm: {minor} {nxt}",
            f"{n + 3}: MovImm32 dst: r0 imm: 1",
            f"{n + 4}: Exit",
        ]
        n += 5
    blocks += [
        "block-10:",
        "58: JNEImm dst: r2 off: -1 imm: 2 <block-11>",
        "59: JNEImm dst: r4 off: -1 imm: 136 <block-11>",
        "60: MovImm32 dst: r0 imm: 1",
        "61: Exit",
        "block-11:",
        "62: MovImm32 dst: r0 imm: 0",
        "63: Exit",
    ]
    assert db.build_program(rules).disassemble() == _norm(PROLOGUE + "\n".join(blocks))


def test_privileged_allows_everything() -> None:
    prog = db.build_program([{"allow": True, "type": "a", "access": "rwm"}])
    assert prog.disassemble() == _norm(PROLOGUE + "block-0:\n6: MovImm32 dst: r0 imm: 1\n7: Exit")
    assert db.emulate([{"allow": True}]).allows_all()


def test_privileged_except_single_device() -> None:
    rules = [{"allow": True, "type": "a"}, _rule("b", 8, 0, "rwm", False)]
    expected = (
        PROLOGUE
        + """
block-0:
6: JNEImm dst: r2 off: -1 imm: 1 <block-1>
7: JNEImm dst: r4 off: -1 imm: 8 <block-1>
8: JNEImm dst: r5 off: -1 imm: 0 <block-1>
9: MovImm32 dst: r0 imm: 0
10: Exit
block-1:
11: MovImm32 dst: r0 imm: 1
12: Exit
"""
    )
    assert db.build_program(rules).disassemble() == _norm(expected)


def test_weird_order_last_reset_wins() -> None:
    # runc's TestDeviceFilter_Weird: 8:1 denied before the allow-all reset is forgotten
    rules = [
        _rule("b", 8, 1, "rwm", False),
        {"allow": True, "type": "a", "major": -1, "minor": -1, "access": "rwm"},
        _rule("b", 8, 2, "rwm", False),
    ]
    expected = (
        PROLOGUE
        + """
block-0:
6: JNEImm dst: r2 off: -1 imm: 1 <block-1>
7: JNEImm dst: r4 off: -1 imm: 8 <block-1>
8: JNEImm dst: r5 off: -1 imm: 2 <block-1>
9: MovImm32 dst: r0 imm: 0
10: Exit
block-1:
11: MovImm32 dst: r0 imm: 1
12: Exit
"""
    )
    assert db.build_program(rules).disassemble() == _norm(expected)


def test_docker_default_then_read_only_null() -> None:
    rules = [{"allow": False, "access": "rwm"}, _rule("c", 1, 3, "r", True)]
    text = db.build_program(rules).disassemble()
    assert "AndImm32 dst: r1 imm: 2" in text  # only the read bit
    assert text.endswith("block-1:\n14: MovImm32 dst: r0 imm: 0\n15: Exit")


def test_emulator_merges_and_removes_access() -> None:
    emu = db.emulate(
        [
            {"allow": False},
            _rule("c", 1, 3, "r", True),
            _rule("c", 1, 3, "w", True),
            _rule("c", 1, 5, "rwm", True),
            _rule("c", 1, 5, "wm", False),
            _rule("c", 1, 9, "rwm", True),
            _rule("c", 1, 9, "rwm", False),
        ]
    )
    assert [(r.type, r.major, r.minor, r.access, r.allow) for r in emu.rules()] == [
        ("c", 1, 3, "rw", True),
        ("c", 1, 5, "r", True),
    ]
    assert not emu.allows_all()


def test_emulator_refuses_hole_in_wildcard() -> None:
    with pytest.raises(InvalidArgument, match="punch a hole"):
        db.emulate([{"allow": False}, _rule("c", 1, -1, "rw", True), _rule("c", 1, 3, "w", False)])


@pytest.mark.parametrize(
    "bad",
    [
        {"allow": "yes"},
        {"allow": True, "type": "x"},
        {"allow": True, "type": "c", "access": "rwx"},
        {"allow": True, "type": "c", "major": -5},
        {"allow": True, "type": "c", "major": 1 << 33},
    ],
)
def test_bad_rules(bad: dict[str, Any]) -> None:
    with pytest.raises(InvalidArgument):
        db.build_program([bad])


def test_encoding_resolves_jumps() -> None:
    prog = db.build_program([{"allow": False}, _rule("c", 1, 3, "r", True)])
    raw = prog.encode()
    assert len(raw) == 8 * len(prog.insns)
    decoded = [struct.unpack_from("<BBhi", raw, 8 * i) for i in range(len(prog.insns))]
    assert decoded[0] == (0x61, 0x12, 0, 0)  # ldxw r2 = *(u32 *)(r1 + 0)
    assert decoded[5] == (0x61, 0x15, 8, 0)
    # every jump of the single block lands on the final "r0 = 0; exit"
    final = len(decoded) - 2
    for i, (code, _regs, off, _imm) in enumerate(decoded):
        if code in (0x55, 0x5D):
            assert i + 1 + off == final
    assert decoded[final] == (0xB4, 0x00, 0, 0)
    assert decoded[-1] == (0x95, 0, 0, 0)


def _attrs(fake: sc.FakeSyscalls, cmd: int) -> list[bytes]:
    return [c[2] for c in fake.calls if c[0] == "bpf" and c[1] == cmd]


class _QueryingFake(sc.FakeSyscalls):
    """Answers BPF_PROG_QUERY as the kernel does: ids into the buffer, count into attr."""

    def __init__(self, attached: list[int]) -> None:
        super().__init__()
        self.attached = attached

    def bpf(self, cmd: int, attr: ctypes.Array[ctypes.c_char]) -> int:
        if cmd == db.BPF_PROG_QUERY:
            address = struct.unpack_from("<Q", attr, 16)[0]
            ids = (ctypes.c_uint32 * len(self.attached))(*self.attached)
            ctypes.memmove(address, ids, ctypes.sizeof(ids))
            struct.pack_into("<I", attr, 24, len(self.attached))
        return super().bpf(cmd, attr)


def test_apply_loads_attaches_then_detaches_old() -> None:
    fake = _QueryingFake([41])
    fake.bpf_results = [0, 77, 0, 78, 0]  # query, load -> 77, attach, fd of id 41 -> 78, detach
    db.apply("/sys/fs/cgroup/x", [{"allow": False}], fake)
    cmds = [c[1] for c in fake.calls if c[0] == "bpf"]
    assert cmds == [
        db.BPF_PROG_QUERY,
        db.BPF_PROG_LOAD,
        db.BPF_PROG_ATTACH,
        db.BPF_PROG_GET_FD_BY_ID,
        db.BPF_PROG_DETACH,
    ]
    load = _attrs(fake, db.BPF_PROG_LOAD)[0]
    prog_type, count = struct.unpack_from("<II", load, 0)
    assert (prog_type, count) == (db.BPF_PROG_TYPE_CGROUP_DEVICE, 8)
    assert load[48:60] == b"dockyard_dev"
    assert struct.unpack_from("<I", load, 68)[0] == db.BPF_CGROUP_DEVICE
    attach = struct.unpack_from("<IIII", _attrs(fake, db.BPF_PROG_ATTACH)[0], 0)
    assert attach == (900, 77, db.BPF_CGROUP_DEVICE, db.BPF_F_ALLOW_MULTI)
    assert struct.unpack_from("<I", _attrs(fake, db.BPF_PROG_GET_FD_BY_ID)[0], 0)[0] == 41
    detach = struct.unpack_from("<III", _attrs(fake, db.BPF_PROG_DETACH)[0], 0)
    assert detach == (900, 78, db.BPF_CGROUP_DEVICE)
    assert ("close", 77) in fake.calls and ("close", 78) in fake.calls
    assert fake.calls[-1] == ("close", 900)


def test_apply_allow_all_detaches_what_was_there() -> None:
    fake = _QueryingFake([41, 42])
    db.apply("/cg", [{"allow": True}], fake)
    cmds = [c[1] for c in fake.calls if c[0] == "bpf"]
    assert db.BPF_PROG_LOAD not in cmds
    assert cmds.count(db.BPF_PROG_DETACH) == 2


def test_apply_allow_all_without_bpf_is_a_no_op() -> None:
    fake = sc.FakeSyscalls()
    fake.bpf_results = [PermissionError(1, "bpf: Operation not permitted")]
    db.apply("/cg", [{"allow": True}], fake)
    assert fake.calls[-1] == ("close", 900)
    assert [c[1] for c in fake.calls if c[0] == "bpf"] == [db.BPF_PROG_QUERY]


def test_apply_restrictive_without_bpf_is_unsupported() -> None:
    fake = sc.FakeSyscalls()
    fake.bpf_results = [PermissionError(1, "bpf: Operation not permitted")]
    with pytest.raises(Unsupported, match="bpf"):
        db.apply("/cg", [{"allow": False}], fake)
    assert fake.calls[-1] == ("close", 900)


def test_v2_driver_uses_the_device_program(tmp_path: Path) -> None:
    fake = sc.FakeSyscalls()
    drv = V2Driver(str(tmp_path), str(tmp_path), fake)
    drv.set({"devices": [{"allow": False}, _rule("c", 1, 3, "rw", True)]})
    assert db.BPF_PROG_LOAD in [c[1] for c in fake.calls if c[0] == "bpf"]
