"""cgroup v2 driver: one directory in the unified hierarchy.

Used alone on a pure v2 host and, in hybrid mode, only to place the process
in the unified tree (resources then go through the v1 controllers).
"""

from __future__ import annotations

import os
import time
from typing import Any

from dockyard import log
from dockyard.errors import SystemFailure, Unsupported
from dockyard.runtime.linux.syscalls import Syscalls

from . import convert, devices_bpf, fs


class V2Driver:
    def __init__(self, path: str, mount_point: str, syscalls: Syscalls | None = None) -> None:
        self.path = path
        self.mount_point = mount_point
        self.syscalls = syscalls  # None: the real bpf(2), for the device program

    @classmethod
    def discover(
        cls, cgroups_path: str, mounts: list[fs.CgroupMount], own: dict[str, str]
    ) -> V2Driver | None:
        for m in mounts:
            if m.version == 2:
                return cls(fs.resolve(cgroups_path, m, own.get("")), m.point)
        return None

    def file(self, name: str) -> str:
        return os.path.join(self.path, name)

    def available(self) -> set[str]:
        """Controllers enabled for this cgroup by its parent (what it may use)."""
        where = self.path if os.path.isdir(self.path) else os.path.dirname(self.path)
        return set((fs.read_opt(os.path.join(where, "cgroup.controllers")) or "").split())

    # -- layout -------------------------------------------------------------

    def create(self) -> None:
        """mkdir -p, enabling every available controller on the way down (runc does)."""
        rel = os.path.relpath(self.path, self.mount_point)
        current = self.mount_point
        parts = [] if rel == "." else rel.split("/")
        for part in parts:
            ctrls = (fs.read_opt(os.path.join(current, "cgroup.controllers")) or "").split()
            subtree = os.path.join(current, "cgroup.subtree_control")
            enabled = set((fs.read_opt(subtree) or "").split())
            for c in ctrls:
                if c in enabled:
                    continue
                try:
                    fs.write(subtree, "+" + c)
                except SystemFailure as e:  # e.g. processes in an inner node
                    log.debug(f"cgroup: could not enable {c} in {current}: {e}")
            current = os.path.join(current, part)
            fs.makedirs(current)

    def apply(self, pid: int) -> None:
        if not os.path.isdir(self.path):
            self.create()
        fs.write(self.file("cgroup.procs"), str(pid))

    # -- limits -------------------------------------------------------------

    def _need(self, controller: str, what: str) -> None:
        if controller not in self.available():
            raise Unsupported(
                f"cgroup v2 controller {controller!r} is not enabled for {self.path}; "
                f"cannot set {what}"
            )

    def set(self, resources: dict[str, Any]) -> None:
        if resources.get("rdma"):
            raise Unsupported("rdma cgroup limits are not supported")
        devices = resources.get("devices")
        if devices:
            devices_bpf.apply(self.path, devices, self.syscalls)
        cpu = resources.get("cpu") or {}
        if cpu.get("cpus") or cpu.get("mems"):
            self._need("cpuset", "cpu.cpus/cpu.mems")
            if cpu.get("cpus"):
                fs.write(self.file("cpuset.cpus"), str(cpu["cpus"]))
            if cpu.get("mems"):
                fs.write(self.file("cpuset.mems"), str(cpu["mems"]))
        if resources.get("memory"):
            self._set_memory(resources["memory"])
        self._set_cpu(cpu)
        pids = resources.get("pids") or {}
        if pids.get("limit") is not None:
            self._need("pids", "pids.limit")
            fs.write(self.file("pids.max"), convert.pids_max(int(pids["limit"])))
        if resources.get("blockIO"):
            self._set_io(resources["blockIO"])
        for hp in resources.get("hugepageLimits") or []:
            self._need("hugetlb", "hugepageLimits")
            path = self.file(f"hugetlb.{hp['pageSize']}.max")
            if not os.path.exists(path):
                raise Unsupported(f"huge page size {hp['pageSize']!r} is not supported")
            fs.write(path, str(int(hp["limit"])))
        net = resources.get("network") or {}
        if net.get("classID") is not None or net.get("priorities"):
            raise Unsupported("network classID/priorities need cgroup v1 net_cls/net_prio")
        for key, value in (resources.get("unified") or {}).items():
            self._set_unified(str(key), str(value))

    def _set_memory(self, mem: dict[str, Any]) -> None:
        limit = int(mem.get("limit") or 0)
        swap_max = convert.swap_v2(mem.get("swap"), mem.get("limit"))
        wanted = limit != 0 or swap_max is not None or mem.get("reservation")
        if wanted:
            self._need("memory", "memory limits")
        if swap_max is not None:
            path = self.file("memory.swap.max")
            if not os.path.exists(path):
                if swap_max != -1:
                    raise Unsupported("memory.swap is set but this kernel has no swap accounting")
            else:
                fs.write(path, convert.v2_limit(swap_max))
        if limit != 0:
            fs.write(self.file("memory.max"), convert.v2_limit(limit))
        if mem.get("reservation"):
            fs.write(self.file("memory.low"), convert.v2_limit(int(mem["reservation"])))
        if mem.get("disableOOMKiller"):
            raise Unsupported("memory.disableOOMKiller is not supported on cgroup v2")
        swappiness = mem.get("swappiness")
        if swappiness is not None and int(swappiness) >= 0:
            raise Unsupported("memory.swappiness is not supported on cgroup v2")
        if mem.get("kernel") or mem.get("kernelTCP"):
            log.warn("cgroup: kernel memory limits are deprecated and ignored")

    def _set_cpu(self, cpu: dict[str, Any]) -> None:
        weight = convert.shares_to_weight(int(cpu.get("shares") or 0))
        line = convert.cpu_max(cpu.get("quota"), cpu.get("period"))
        if cpu.get("realtimeRuntime") or cpu.get("realtimePeriod"):
            raise Unsupported("realtime CPU limits are not supported on cgroup v2")
        if weight or line or cpu.get("burst") or cpu.get("idle"):
            self._need("cpu", "cpu shares/quota/period")
        if weight:
            fs.write(self.file("cpu.weight"), str(weight))
        if line:
            fs.write(self.file("cpu.max"), line)
        if cpu.get("burst"):
            fs.write(self.file("cpu.max.burst"), str(int(cpu["burst"])))
        if cpu.get("idle"):
            fs.write(self.file("cpu.idle"), str(int(cpu["idle"])))

    def _set_io(self, bio: dict[str, Any]) -> None:
        if not any(bio.get(k) for k in bio):
            return
        self._need("io", "blockIO")
        if bio.get("weight"):
            bfq = self.file("io.bfq.weight")
            if os.path.exists(bfq):
                fs.write(bfq, str(int(bio["weight"])))
            else:
                path = self.file("io.weight")
                if not os.path.exists(path):
                    raise Unsupported(
                        "blockIO.weight is not supported by this kernel (no io.weight)"
                    )
                fs.write(path, f"default {convert.blkio_weight_to_io_weight(int(bio['weight']))}")
        for wd in bio.get("weightDevice") or []:
            if wd.get("weight"):
                bfq = self.file("io.bfq.weight")
                if not os.path.exists(bfq):
                    raise Unsupported(
                        "blockIO.weightDevice needs the BFQ I/O scheduler on cgroup v2"
                    )
                fs.write(bfq, f"{int(wd['major'])}:{int(wd['minor'])} {int(wd['weight'])}")
        for key, io_key in (
            ("throttleReadBpsDevice", "rbps"),
            ("throttleWriteBpsDevice", "wbps"),
            ("throttleReadIOPSDevice", "riops"),
            ("throttleWriteIOPSDevice", "wiops"),
        ):
            for entry in bio.get(key) or []:
                fs.write(self.file("io.max"), convert.io_max_v2(io_key, entry))

    def _set_unified(self, key: str, value: str) -> None:
        if "/" in key or key.startswith("."):
            raise Unsupported(f"unified resource {key!r} is not a cgroup file name")
        path = self.file(key)
        if not os.path.exists(path):
            controller = key.split(".", 1)[0]
            if controller not in self.available() and controller != "cgroup":
                raise Unsupported(
                    f"unified resource {key!r}: controller {controller!r} is not enabled"
                )
            raise Unsupported(f"unified resource {key!r}: no such cgroup file {path}")
        fs.write(path, value)

    # -- freezer ------------------------------------------------------------

    def can_freeze(self) -> bool:
        return os.path.exists(self.file("cgroup.freeze"))

    def _freeze_set(self, want: int, timeout: float = 5.0) -> None:
        path = self.file("cgroup.freeze")
        if not os.path.exists(path):
            raise Unsupported("this kernel has no cgroup v2 freezer (cgroup.freeze)")
        fs.write(path, str(want))
        deadline = time.monotonic() + timeout
        delay = 0.001
        while self._frozen() != bool(want):
            if time.monotonic() > deadline:
                if want:
                    fs.write(path, "0")
                raise SystemFailure(f"cgroup: {self.path} did not settle to frozen={want}")
            time.sleep(delay)
            delay = min(delay * 2, 0.05)

    def _frozen(self) -> bool:
        events = convert.parse_flat_keyed(fs.read_opt(self.file("cgroup.events")) or "")
        return events.get("frozen", 0) == 1

    def freeze(self) -> None:
        self._freeze_set(1)

    def thaw(self) -> None:
        self._freeze_set(0)

    def state(self) -> str:
        return "frozen" if self._frozen() else "thawed"

    # -- reading ------------------------------------------------------------

    def pids(self) -> list[int]:
        return fs.procs(self.path)

    def oom_killed(self) -> bool:
        events = convert.parse_flat_keyed(fs.read_opt(self.file("memory.events")) or "")
        return events.get("oom_kill", 0) > 0

    def stats(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if not os.path.isdir(self.path):
            return out
        st = convert.parse_flat_keyed(fs.read_opt(self.file("cpu.stat")) or "")
        if st:
            out["cpu"] = {
                "usage": {
                    "total": st.get("usage_usec", 0) * 1000,
                    "percpu": [],
                    "user": st.get("user_usec", 0) * 1000,
                    "kernel": st.get("system_usec", 0) * 1000,
                },
                "throttling": {
                    "periods": st.get("nr_periods", 0),
                    "throttled_periods": st.get("nr_throttled", 0),
                    "throttled_time": st.get("throttled_usec", 0) * 1000,
                },
            }
        current = fs.read_opt(self.file("memory.current"))
        if current is not None:
            raw = convert.parse_flat_keyed(fs.read_opt(self.file("memory.stat")) or "")
            peak = fs.read_opt(self.file("memory.peak"))
            out["memory"] = {
                "usage": int(current),
                "max_usage": int(peak) if peak and peak.strip().isdigit() else 0,
                "limit": convert.normalise_limit(fs.read_opt(self.file("memory.max")) or "max"),
                "cache": raw.get("file", 0),
                "inactive_file": raw.get("inactive_file", 0),
                "failcnt": convert.parse_flat_keyed(
                    fs.read_opt(self.file("memory.events")) or ""
                ).get("max", 0),
                "stats": raw,
            }
        pcur = fs.read_opt(self.file("pids.current"))
        if pcur is not None:
            out["pids"] = {
                "current": int(pcur),
                "limit": convert.normalise_limit(fs.read_opt(self.file("pids.max")) or "max"),
            }
        io = fs.read_opt(self.file("io.stat"))
        if io is not None:
            read, write = convert.parse_io_stat(io)
            out["blkio"] = {"read_bytes": read, "write_bytes": write}
        return out

    def destroy(self) -> None:
        fs.remove_tree(self.path)
