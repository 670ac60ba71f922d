"""cgroup v1 driver: one directory per mounted hierarchy (cpu, memory, pids, ...)."""

from __future__ import annotations

import errno
import os
import time
from typing import Any

from dockyard import log
from dockyard.errors import InvalidArgument, SystemFailure, Unsupported

from . import convert, fs

# The order runc sets subsystems in: cpuset before anything that needs CPUs,
# devices early so that the container never sees more than it should.
_ORDER = ("cpuset", "devices", "memory", "cpu", "pids", "blkio", "hugetlb", "net_cls", "net_prio")


def _missing(controller: str, what: str) -> Unsupported:
    return Unsupported(
        f"cgroup v1 controller {controller!r} is not mounted on this host; cannot set {what}"
    )


class V1Driver:
    """Per-controller directories for one container cgroup."""

    def __init__(self, paths: dict[str, str]) -> None:
        #: controller (or "name=..." hierarchy) -> absolute cgroup directory
        self.paths = paths

    @classmethod
    def discover(
        cls, cgroups_path: str, mounts: list[fs.CgroupMount], own: dict[str, str]
    ) -> V1Driver:
        paths: dict[str, str] = {}
        for m in mounts:
            if m.version != 1:
                continue
            for c in m.controllers:
                paths[c] = fs.resolve(cgroups_path, m, own.get(c))
        return cls(paths)

    # -- layout -------------------------------------------------------------

    def dirs(self) -> list[str]:
        """The distinct directories (co-mounted controllers share one)."""
        return sorted(set(self.paths.values()))

    def has(self, controller: str) -> bool:
        return controller in self.paths

    def file(self, controller: str, name: str) -> str:
        return os.path.join(self.paths[controller], name)

    def create(self) -> None:
        for d in self.dirs():
            fs.makedirs(d)
        if self.has("cpuset"):
            self._init_cpuset(self.paths["cpuset"])

    def _init_cpuset(self, leaf: str) -> None:
        """Copy cpuset.cpus/mems down from the first ancestor that has them.

        A v1 cpuset starts empty and refuses tasks until both are set.
        """
        chain: list[str] = []
        d = leaf
        while os.path.exists(os.path.join(d, "cpuset.cpus")):
            chain.append(d)
            parent = os.path.dirname(d)
            if parent == d:
                break
            d = parent
        for d in reversed(chain[:-1] if len(chain) > 1 else []):
            parent = os.path.dirname(d)
            for name in ("cpuset.cpus", "cpuset.mems"):
                if not fs.read(os.path.join(d, name)).strip():
                    value = fs.read(os.path.join(parent, name)).strip()
                    fs.write(os.path.join(d, name), value)

    def apply(self, pid: int) -> None:
        self.create()  # cheap when it exists; a cpuset must be filled before tasks join
        for d in self.dirs():
            fs.write(os.path.join(d, "cgroup.procs"), str(pid))

    # -- limits -------------------------------------------------------------

    def set(self, resources: dict[str, Any]) -> None:
        if resources.get("unified"):
            raise Unsupported("unified cgroup v2 resources are not supported on a cgroup v1 host")
        if resources.get("rdma"):
            raise Unsupported("rdma cgroup limits are not supported")
        cpu = resources.get("cpu") or {}
        if cpu.get("cpus") or cpu.get("mems"):
            self._set_cpuset(cpu)
        if resources.get("devices") is not None:
            self._set_devices(resources["devices"])
        if resources.get("memory"):
            self._set_memory(resources["memory"])
        if cpu:
            self._set_cpu(cpu)
        pids = resources.get("pids") or {}
        if pids.get("limit") is not None:
            if not self.has("pids"):
                raise _missing("pids", "pids.limit")
            fs.write(self.file("pids", "pids.max"), convert.pids_max(int(pids["limit"])))
        if resources.get("blockIO"):
            self._set_blkio(resources["blockIO"])
        for hp in resources.get("hugepageLimits") or []:
            if not self.has("hugetlb"):
                raise _missing("hugetlb", "hugepageLimits")
            size = hp["pageSize"]
            path = self.file("hugetlb", f"hugetlb.{size}.limit_in_bytes")
            if not os.path.exists(path):
                raise Unsupported(f"huge page size {size!r} is not supported by this kernel")
            fs.write(path, str(int(hp["limit"])))
        net = resources.get("network") or {}
        if net.get("classID") is not None:
            if not self.has("net_cls"):
                raise _missing("net_cls", "network.classID")
            fs.write(self.file("net_cls", "net_cls.classid"), str(int(net["classID"])))
        for prio in net.get("priorities") or []:
            if not self.has("net_prio"):
                raise _missing("net_prio", "network.priorities")
            line = f"{prio['name']} {int(prio['priority'])}"
            fs.write(self.file("net_prio", "net_prio.ifpriomap"), line)

    def _set_cpuset(self, cpu: dict[str, Any]) -> None:
        if not self.has("cpuset"):
            raise _missing("cpuset", "cpu.cpus/cpu.mems")
        if cpu.get("cpus"):
            fs.write(self.file("cpuset", "cpuset.cpus"), str(cpu["cpus"]))
        if cpu.get("mems"):
            fs.write(self.file("cpuset", "cpuset.mems"), str(cpu["mems"]))

    def _set_devices(self, devices: list[dict[str, Any]]) -> None:
        rules = [convert.device_rule(d) for d in devices]
        if not self.has("devices"):
            if convert.is_allow_all(devices):
                log.debug("cgroup: devices controller not mounted; default allow-all kept")
                return
            raise _missing("devices", "device rules")
        for allow, text in rules:
            fs.write(self.file("devices", "devices.allow" if allow else "devices.deny"), text)

    def _set_memory(self, mem: dict[str, Any]) -> None:
        if not self.has("memory"):
            raise _missing("memory", "memory limits")
        limit = int(mem.get("limit") or 0)
        swap = int(mem.get("swap") or 0)
        memsw = self.file("memory", "memory.memsw.limit_in_bytes")
        has_swap = os.path.exists(memsw)
        if limit == -1 and swap == 0 and has_swap:
            swap = -1  # unlimited memory: unlimited memory+swap as well
        if swap != 0 and not has_swap:
            raise Unsupported(
                "memory.swap is set but this kernel has no swap accounting "
                "(memory.memsw.limit_in_bytes is missing)"
            )

        def set_limit() -> None:
            if limit != 0:
                fs.write(self.file("memory", "memory.limit_in_bytes"), str(limit))

        def set_swap() -> None:
            if swap != 0:
                fs.write(memsw, str(swap))

        # The kernel wants memory <= memory+swap at every step, so the order
        # depends on whether the limits go up or down (runc's rule).
        if limit != 0 and swap != 0:
            current = int(fs.read(self.file("memory", "memory.limit_in_bytes")))
            if swap == -1 or current < swap:
                set_swap()
                set_limit()
            else:
                set_limit()
                set_swap()
        else:
            set_limit()
            set_swap()
        if mem.get("reservation"):
            fs.write(
                self.file("memory", "memory.soft_limit_in_bytes"), str(int(mem["reservation"]))
            )
        if mem.get("kernel") or mem.get("kernelTCP"):
            log.warn("cgroup: kernel memory limits are deprecated and ignored")
        if mem.get("disableOOMKiller"):
            fs.write(self.file("memory", "memory.oom_control"), "1")
        swappiness = mem.get("swappiness")
        if swappiness is not None and int(swappiness) >= 0:
            if int(swappiness) > 100:
                raise InvalidArgument(f"invalid memory swappiness {swappiness}: must be 0-100")
            fs.write(self.file("memory", "memory.swappiness"), str(int(swappiness)))

    def _set_cpu(self, cpu: dict[str, Any]) -> None:
        keys = ("shares", "quota", "period", "burst", "realtimeRuntime", "realtimePeriod", "idle")
        if not any(cpu.get(k) for k in keys):
            return
        if not self.has("cpu"):
            raise _missing("cpu", "cpu shares/quota/period")
        if cpu.get("shares"):
            path = self.file("cpu", "cpu.shares")
            fs.write(path, str(int(cpu["shares"])))
            got = int(fs.read(path))
            if got != int(cpu["shares"]):
                raise SystemFailure(
                    f"cgroup: cpu.shares {cpu['shares']} was clamped by the kernel to {got}"
                )
        period = int(cpu.get("period") or 0)
        quota = int(cpu.get("quota") or 0)
        qpath = self.file("cpu", "cpu.cfs_quota_us")
        ppath = self.file("cpu", "cpu.cfs_period_us")
        if period:
            try:
                fs.write(ppath, str(period))
            except SystemFailure:
                # A new period shorter than the current quota allows is refused
                # (EINVAL); set the quota first and try again.
                if not quota:
                    raise
                fs.write(qpath, str(quota))
        if quota:
            fs.write(qpath, str(quota))
        if cpu.get("burst") is not None and cpu.get("burst"):
            fs.write(self.file("cpu", "cpu.cfs_burst_us"), str(int(cpu["burst"])))
        if cpu.get("realtimePeriod"):
            fs.write(self.file("cpu", "cpu.rt_period_us"), str(int(cpu["realtimePeriod"])))
        if cpu.get("realtimeRuntime"):
            fs.write(self.file("cpu", "cpu.rt_runtime_us"), str(int(cpu["realtimeRuntime"])))
        if cpu.get("idle"):
            fs.write(self.file("cpu", "cpu.idle"), str(int(cpu["idle"])))

    def _blkio_file(self, *names: str) -> str | None:
        for name in names:
            path = self.file("blkio", name)
            if os.path.exists(path):
                return path
        return None

    def _set_blkio(self, bio: dict[str, Any]) -> None:
        if not any(bio.get(k) for k in bio):
            return
        if not self.has("blkio"):
            raise _missing("blkio", "blockIO")
        if bio.get("weight"):
            path = self._blkio_file("blkio.weight", "blkio.bfq.weight")
            if path is None:
                raise Unsupported(
                    "blockIO.weight needs the CFQ or BFQ I/O scheduler (no blkio.weight)"
                )
            fs.write(path, str(int(bio["weight"])))
        if bio.get("leafWeight"):
            path = self._blkio_file("blkio.leaf_weight")
            if path is None:
                raise Unsupported("blockIO.leafWeight is not supported by this kernel")
            fs.write(path, str(int(bio["leafWeight"])))
        for wd in bio.get("weightDevice") or []:
            if wd.get("weight"):
                path = self._blkio_file("blkio.weight_device", "blkio.bfq.weight_device")
                if path is None:
                    raise Unsupported("blockIO.weightDevice needs the CFQ or BFQ I/O scheduler")
                fs.write(path, f"{int(wd['major'])}:{int(wd['minor'])} {int(wd['weight'])}")
        for key, name in (
            ("throttleReadBpsDevice", "blkio.throttle.read_bps_device"),
            ("throttleWriteBpsDevice", "blkio.throttle.write_bps_device"),
            ("throttleReadIOPSDevice", "blkio.throttle.read_iops_device"),
            ("throttleWriteIOPSDevice", "blkio.throttle.write_iops_device"),
        ):
            for entry in bio.get(key) or []:
                path = self._blkio_file(name)
                if path is None:
                    raise Unsupported(f"blockIO.{key} is not supported by this kernel ({name})")
                fs.write(path, convert.throttle_v1(entry))

    # -- freezer ------------------------------------------------------------

    def can_freeze(self) -> bool:
        return self.has("freezer")

    def _freezer_set(self, state: str, timeout: float = 5.0) -> None:
        if not self.has("freezer"):
            raise Unsupported("cgroup v1 freezer is not mounted on this host")
        path = self.file("freezer", "freezer.state")
        deadline = time.monotonic() + timeout
        i = 0
        fs.write(path, state)
        while True:
            current = fs.read(path).strip()
            if current == state:
                return
            if time.monotonic() > deadline:
                if state == "FROZEN":
                    fs.write(path, "THAWED")
                raise SystemFailure(f"cgroup: {path} stuck in {current} while setting {state}")
            i += 1
            if i % 50 == 0:
                fs.write(path, state)  # FREEZING can need a nudge (runc does the same)
            time.sleep(0.001 if i < 100 else 0.01)

    def freeze(self) -> None:
        self._freezer_set("FROZEN")

    def thaw(self) -> None:
        self._freezer_set("THAWED")

    def state(self) -> str:
        if not self.has("freezer"):
            return "thawed"
        text = fs.read_opt(self.file("freezer", "freezer.state"))
        return "frozen" if text is not None and text.strip() == "FROZEN" else "thawed"

    # -- reading ------------------------------------------------------------

    def procs_dir(self) -> str | None:
        for c in ("pids", "freezer", "memory", "cpu", "devices"):
            if c in self.paths:
                return self.paths[c]
        dirs = self.dirs()
        return dirs[0] if dirs else None

    def pids(self) -> list[int]:
        d = self.procs_dir()
        return fs.procs(d) if d else []

    def oom_killed(self) -> bool:
        if not self.has("memory"):
            return False
        text = fs.read_opt(self.file("memory", "memory.oom_control")) or ""
        return convert.parse_flat_keyed(text).get("oom_kill", 0) > 0

    def stats(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        acct = self.paths.get("cpuacct")
        if acct and os.path.isdir(acct):
            usage = int(fs.read_opt(os.path.join(acct, "cpuacct.usage")) or 0)
            percpu = [
                int(x)
                for x in (fs.read_opt(os.path.join(acct, "cpuacct.usage_percpu")) or "").split()
            ]
            user = int(fs.read_opt(os.path.join(acct, "cpuacct.usage_user")) or 0)
            system = int(fs.read_opt(os.path.join(acct, "cpuacct.usage_sys")) or 0)
            out["cpu"] = {
                "usage": {"total": usage, "percpu": percpu, "user": user, "kernel": system}
            }
        cpu_dir = self.paths.get("cpu")
        if cpu_dir and os.path.isdir(cpu_dir):
            st = convert.parse_flat_keyed(fs.read_opt(os.path.join(cpu_dir, "cpu.stat")) or "")
            out.setdefault("cpu", {"usage": {"total": 0, "percpu": [], "user": 0, "kernel": 0}})
            out["cpu"]["throttling"] = {
                "periods": st.get("nr_periods", 0),
                "throttled_periods": st.get("nr_throttled", 0),
                "throttled_time": st.get("throttled_time", 0),
            }
        mem = self.paths.get("memory")
        if mem and os.path.isdir(mem):
            raw = convert.parse_flat_keyed(fs.read_opt(os.path.join(mem, "memory.stat")) or "")

            def num(name: str) -> int:
                return int((fs.read_opt(os.path.join(mem, name)) or "0").strip() or 0)

            out["memory"] = {
                "usage": num("memory.usage_in_bytes"),
                "max_usage": num("memory.max_usage_in_bytes"),
                "limit": convert.normalise_limit(
                    fs.read_opt(os.path.join(mem, "memory.limit_in_bytes")) or "max"
                ),
                "cache": raw.get("total_cache", raw.get("cache", 0)),
                "inactive_file": raw.get("total_inactive_file", raw.get("inactive_file", 0)),
                "failcnt": num("memory.failcnt"),
                "stats": raw,
            }
        pids = self.paths.get("pids")
        if pids and os.path.isdir(pids):
            out["pids"] = {
                "current": int((fs.read_opt(os.path.join(pids, "pids.current")) or "0").strip()),
                "limit": convert.normalise_limit(
                    fs.read_opt(os.path.join(pids, "pids.max")) or "max"
                ),
            }
        blk = self.paths.get("blkio")
        if blk and os.path.isdir(blk):
            text = ""
            for name in (
                "blkio.io_service_bytes_recursive",
                "blkio.throttle.io_service_bytes_recursive",
                "blkio.bfq.io_service_bytes_recursive",
            ):
                text = fs.read_opt(os.path.join(blk, name)) or ""
                if text.strip() and not text.strip().startswith("Total 0"):
                    break
            read, write = convert.parse_blkio_bytes(text)
            out["blkio"] = {"read_bytes": read, "write_bytes": write}
        return out

    # -- teardown -----------------------------------------------------------

    def destroy(self) -> None:
        for d in self.dirs():
            try:
                fs.remove_tree(d)
            except SystemFailure as e:
                cause = e.__cause__
                if isinstance(cause, OSError) and cause.errno == errno.ENOENT:
                    continue
                raise
