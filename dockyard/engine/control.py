"""Managing running containers: pause/unpause, top, stats, update, restart.

Pausing freezes the container's cgroup through its OCI runtime (``runc pause``), as
containerd does for dockerd; the record then says ``Status: paused, Paused: true``
(``Running`` stays true, as Docker's). ``top`` asks the runtime for the pids and
filters the host's ``ps`` output by them, like dockerd. ``stats`` reads the cgroup
(``/dockyard/<id>``) and computes Docker's numbers. ``update`` merges resources into
the recorded HostConfig and writes them into the live cgroup.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import subprocess

from dockyard.errors import Conflict, DockyardError, InvalidArgument, SystemFailure

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from dockyard.engine import Engine
    from dockyard.engine.containers import Container

ACTIVE = ("running", "paused", "restarting")
# HostConfig keys `update` may change (moby's UpdateContainer).
UPDATABLE = (
    "Memory",
    "MemorySwap",
    "MemoryReservation",
    "NanoCpus",
    "CpuShares",
    "CpuPeriod",
    "CpuQuota",
    "CpusetCpus",
    "CpusetMems",
    "PidsLimit",
)


# ------------------------------------------------------------------ runtime


def _runtime(engine: Engine, container: Container, *args: str) -> str:
    """Run ``<runtime> --root R <args> <id>``; its stdout, or SystemFailure with its error."""
    lc = engine.lifecycle
    name = container.host_config.get("Runtime") or "runc"
    argv = [*lc.runtime_argv(name), *args, container.id]
    proc = subprocess.run(argv, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise SystemFailure(_runtime_error(proc.stderr) or f"exit status {proc.returncode}")
    return proc.stdout


def _runtime_error(stderr: str) -> str:
    """runc logs ``time=... level=error msg="..."``; keep the message."""
    lines = [line for line in stderr.strip().splitlines() if line.strip()]
    if not lines:
        return ""
    last = lines[-1]
    m = re.search(r'msg="((?:[^"\\]|\\.)*)"', last)
    return m.group(1).replace('\\"', '"') if m else last


def _active(engine: Engine, container: Container) -> None:
    engine.lifecycle.refresh(container)
    if container.status not in ACTIVE:
        raise Conflict(f"Container {container.id} is not running")


def pause(engine: Engine, container: Container) -> None:
    _active(engine, container)
    if container.status == "paused":
        raise Conflict(f"Container {container.id} is already paused")
    if container.status == "restarting":
        raise Conflict(_restarting(container))
    try:
        _runtime(engine, container, "pause")
    except DockyardError as exc:
        raise SystemFailure(f"Cannot pause container {container.id}: {exc.message}") from None
    engine.lifecycle.record_state(container.id, {"Status": "paused", "Paused": True})
    container.state.update(Status="paused", Paused=True)
    engine.events.container("pause", container)


def unpause(engine: Engine, container: Container) -> None:
    engine.lifecycle.refresh(container)
    if container.status != "paused":
        raise Conflict(f"Container {container.id} is not paused")
    try:
        _runtime(engine, container, "resume")
    except DockyardError as exc:
        raise SystemFailure(f"Cannot unpause container {container.id}: {exc.message}") from None
    engine.lifecycle.record_state(container.id, {"Status": "running", "Paused": False})
    container.state.update(Status="running", Paused=False)
    engine.events.container("unpause", container)


def ensure_running_for_signal(engine: Engine, container: Container) -> None:
    """Thaw a paused container so a signal just sent (or about to be) is acted on.

    A frozen (cgroup v1) process does not even die of SIGKILL until thawed; dockerd
    resumes a paused container after signalling it in kill and stop. No-op otherwise.
    """
    if container.status != "paused" and not container.state.get("Paused"):
        return
    with contextlib.suppress(DockyardError):
        _runtime(engine, container, "resume")
    engine.lifecycle.record_state(container.id, {"Status": "running", "Paused": False})
    container.state.update(Status="running", Paused=False)
    engine.events.container("unpause", container)


def _restarting(container: Container) -> str:
    return f"Container {container.id} is restarting, wait until the container is running"


# ---------------------------------------------------------------------- top

_PID_ARG_RE = re.compile(r"\s+([^\s]*)=\s*(PID[^\s]*)")


def top(engine: Engine, container: Container, ps_args: str) -> tuple[list[str], list[list[str]]]:
    """dockerd's ContainerTop: (titles, processes) of ``ps <ps_args>`` for the container."""
    ps_args = ps_args or "-ef"
    for key, value in _PID_ARG_RE.findall(ps_args):
        if key != "pid":
            raise InvalidArgument(f'specifying "{key}={value}" is not allowed')
    _active(engine, container)
    if container.status == "restarting":
        raise Conflict(_restarting(container))
    pids = container_pids(engine, container)
    args = ps_args.split(" ")
    quick = "-q" + ",".join(str(p) for p in pids)
    proc = subprocess.run(["ps", *args, quick], capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        # some ps options (such as f) can't be used together with q
        proc = subprocess.run(["ps", *args], capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            first = proc.stderr.split("\n", 1)[0] or f"exit status {proc.returncode}"
            # dockerd answers 500 here; ps refusing its arguments is the client's input,
            # so 400 (Engine API: bad input is never a 5xx), with dockerd's message
            raise InvalidArgument(f"ps: {first}")
    return parse_ps_output(proc.stdout, pids)


def container_pids(engine: Engine, container: Container) -> list[int]:
    try:
        out = _runtime(engine, container, "ps", "--format", "json")
        return [int(p) for p in json.loads(out or "[]") or []]
    except (DockyardError, ValueError, TypeError):
        pid = int(container.state.get("Pid") or 0)
        return [pid] if pid else []


def parse_ps_output(text: str, pids: list[int]) -> tuple[list[str], list[list[str]]]:
    """moby's parsePSOutput: the header, and the lines whose PID is one of ``pids``
    (thread lines, PID ``-``, follow their process); extra fields merge into the last."""
    lines = text.split("\n")
    titles = lines[0].split()
    if "PID" not in titles:
        raise SystemFailure("Couldn't find PID field in ps output")
    index = titles.index("PID")
    wanted = set(pids)
    processes: list[list[str]] = []
    keep_threads = False
    for line in lines[1:]:
        fields = line.split()
        if not fields:
            continue
        if len(fields) <= index:
            continue
        if fields[index] == "-":
            if keep_threads:
                processes.append(_merge(fields, len(titles)))
            continue
        try:
            pid = int(fields[index])
        except ValueError:
            raise SystemFailure(
                f"Unexpected pid '{fields[index]}': strconv.Atoi: parsing"
                f' "{fields[index]}": invalid syntax'
            ) from None
        keep_threads = pid in wanted
        if keep_threads:
            processes.append(_merge(fields, len(titles)))
    return titles, processes


def _merge(fields: list[str], count: int) -> list[str]:
    return [*fields[: count - 1], " ".join(fields[count - 1 :])]


# -------------------------------------------------------------------- stats


def system_cpu_usage() -> int:
    """moby's getSystemCPUUsage: the first seven ``cpu`` fields of /proc/stat, in ns."""
    with open("/proc/stat") as f:
        for line in f:
            parts = line.split()
            if parts and parts[0] == "cpu":
                ticks = sum(int(x) for x in parts[1:8])
                return ticks * 1_000_000_000 // os.sysconf("SC_CLK_TCK")
    return 0


def machine_memory() -> int:
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) * 1024
    return 0


def _net_io(pid: int) -> tuple[int, int]:
    """Bytes received and sent on the container's interfaces other than lo; none
    when it shares the host's network namespace (Docker shows no networks then)."""
    try:
        if os.stat(f"/proc/{pid}/ns/net").st_ino == os.stat("/proc/1/ns/net").st_ino:
            return 0, 0
        with open(f"/proc/{pid}/net/dev") as f:
            lines = f.read().splitlines()[2:]
    except OSError:
        return 0, 0
    rx = tx = 0
    for line in lines:
        name, _, rest = line.partition(":")
        fields = rest.split()
        if name.strip() == "lo" or len(fields) < 9:
            continue
        rx += int(fields[0])
        tx += int(fields[8])
    return rx, tx


def sample(engine: Engine, container: Container) -> dict[str, Any]:
    """One stats reading (Docker's stats JSON, flattened); zeros when not running."""
    from dockyard.runtime.linux.cgroups import CgroupManager

    out: dict[str, Any] = {
        "id": container.id,
        "name": container.name,
        "running": False,
        "cpu": 0,
        "system": system_cpu_usage(),
        "online": os.sysconf("SC_NPROCESSORS_ONLN"),
        "mem": 0,
        "limit": 0,
        "pids": 0,
        "blk": (0, 0),
        "net": (0, 0),
    }
    engine.lifecycle.refresh(container)
    if container.status not in ACTIVE:
        return out
    try:
        stats = CgroupManager(f"/dockyard/{container.id}").stats()
    except (DockyardError, OSError):
        return out
    mem = stats.get("memory") or {}
    usage = int(mem.get("usage") or 0)
    raw = mem.get("stats") or {}
    inactive = raw.get("total_inactive_file", raw.get("inactive_file", 0))
    machine = machine_memory()
    limit = int(mem.get("limit") or 0)
    if limit <= 0 or (machine and limit > machine):
        limit = machine
    pid = int(container.state.get("Pid") or 0)
    blk = stats.get("blkio") or {}
    out.update(
        running=True,
        cpu=int(((stats.get("cpu") or {}).get("usage") or {}).get("total") or 0),
        mem=usage - inactive if inactive < usage else usage,
        limit=limit,
        pids=int((stats.get("pids") or {}).get("current") or 0),
        blk=(int(blk.get("read_bytes") or 0), int(blk.get("write_bytes") or 0)),
        net=_net_io(pid) if pid else (0, 0),
    )
    return out


def stats_row(prev: dict[str, Any] | None, cur: dict[str, Any], *, trunc: bool) -> dict[str, str]:
    """The CLI's stats entry, formatted: CPU % from two readings (Docker's formula)."""
    from dockyard.golang.units import bytes_size, human_size

    cpu_percent = 0.0
    if prev is not None and cur["running"] and prev["running"]:
        cpu_delta = cur["cpu"] - prev["cpu"]
        system_delta = cur["system"] - prev["system"]
        if system_delta > 0 and cpu_delta > 0:
            cpu_percent = cpu_delta / system_delta * cur["online"] * 100.0
    mem_percent = cur["mem"] / cur["limit"] * 100.0 if cur["limit"] else 0.0
    return {
        "ID": cur["id"][:12] if trunc else cur["id"],
        "Name": cur["name"],
        "CPUPerc": f"{cpu_percent:.2f}%",
        "MemUsage": f"{bytes_size(cur['mem'])} / {bytes_size(cur['limit'])}",
        "MemPerc": f"{mem_percent:.2f}%",
        "NetIO": f"{human_size(cur['net'][0])} / {human_size(cur['net'][1])}",
        "BlockIO": f"{human_size(cur['blk'][0])} / {human_size(cur['blk'][1])}",
        "PIDs": str(cur["pids"]),
    }


# ------------------------------------------------------------------- update


def validate_update(resources: dict[str, Any]) -> None:
    """dockerd's verifyContainerSettings for an update (only the values given)."""
    from dockyard.runtime.spec.resources import validate_resources

    checked = dict(resources)
    if not checked.get("Memory"):
        checked.pop("MemorySwap", None)  # allowed alone in an update
    validate_resources(checked)


def update(
    engine: Engine,
    container: Container,
    resources: dict[str, Any],
    restart_policy: dict[str, Any] | None = None,
) -> None:
    """moby's ContainerUpdate: merge into the record, then into the live cgroup."""
    cid = container.id
    old = container.host_config
    try:
        merged = _merge_resources(old, resources)
        if restart_policy is not None:
            if old.get("AutoRemove") and restart_policy.get("Name") not in ("", "no"):
                raise Conflict(
                    "Restart policy cannot be updated because AutoRemove is enabled"
                    " for the container"
                )
            merged["RestartPolicy"] = restart_policy
    except DockyardError as exc:
        raise type(exc)(f"Cannot update container {cid}: {exc.message}") from None
    _save_host_config(engine, cid, merged)
    engine.lifecycle.refresh(container)
    if container.status in ("running", "paused"):
        try:
            apply_resources(container.id, merged)
        except DockyardError as exc:
            _save_host_config(engine, cid, {k: old.get(k) for k in merged})
            raise SystemFailure(f"Cannot update container {cid}: {exc.message}") from None
    engine.events.container("update", container)


def _merge_resources(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """The changed HostConfig keys, after moby's UpdateContainer checks."""
    nano, period, quota = (new.get(k) or 0 for k in ("NanoCpus", "CpuPeriod", "CpuQuota"))
    if nano > 0 and (old.get("CpuPeriod") or 0) > 0:
        raise Conflict(
            "Conflicting options: Nano CPUs cannot be updated as CPU Period has already been set"
        )
    if nano > 0 and (old.get("CpuQuota") or 0) > 0:
        raise Conflict(
            "Conflicting options: Nano CPUs cannot be updated as CPU Quota has already been set"
        )
    if period > 0 and (old.get("NanoCpus") or 0) > 0:
        raise Conflict(
            "Conflicting options: CPU Period cannot be updated as NanoCPUs has already been set"
        )
    if quota > 0 and (old.get("NanoCpus") or 0) > 0:
        raise Conflict(
            "Conflicting options: CPU Quota cannot be updated as NanoCPUs has already been set"
        )
    out: dict[str, Any] = {}
    for key in UPDATABLE:
        value = new.get(key)
        if key == "PidsLimit":
            if value is not None:
                out[key] = value
        elif value:
            out[key] = value
    # dockerd stores MemorySwap = 2 * Memory at create; dockyard leaves it 0, so use
    # that effective value for the check and keep it in the record.
    old_swap = old.get("MemorySwap") or 0
    if not old_swap and (old.get("Memory") or 0) > 0:
        old_swap = 2 * old["Memory"]
        out.setdefault("MemorySwap", old_swap)
    if out.get("Memory") and not new.get("MemorySwap") and out["Memory"] > old_swap:
        raise Conflict(
            "Memory limit should be smaller than already set memoryswap limit,"
            " update the memoryswap at the same time"
        )
    return out


def _save_host_config(engine: Engine, container_id: str, changes: dict[str, Any]) -> None:
    with engine.db.transaction() as conn:
        row = conn.execute("SELECT config FROM containers WHERE id = ?", (container_id,)).fetchone()
        if row is None:
            return
        spec = json.loads(row["config"])
        spec.setdefault("HostConfig", {}).update(changes)
        conn.execute(
            "UPDATE containers SET config = ? WHERE id = ?", (json.dumps(spec), container_id)
        )


def apply_resources(container_id: str, changes: dict[str, Any]) -> None:
    """Write the updated limits into the container's cgroup (the OCI resources mapping
    the bundle was built with, for the changed keys only)."""
    from dockyard.runtime.linux.cgroups import CgroupManager
    from dockyard.runtime.spec.host import detect_host
    from dockyard.runtime.spec.resources import build_resources

    resources = build_resources(changes, swap_limit=detect_host().swap_limit)
    if "Memory" not in changes:
        resources.get("memory", {}).pop("swap", None)  # a derived default, not a change
        if "MemorySwap" in changes and detect_host().swap_limit:
            resources.setdefault("memory", {})["swap"] = changes["MemorySwap"]
    if resources:
        CgroupManager(f"/dockyard/{container_id}").set(resources)


# ------------------------------------------------------------------ restart


def restart(
    engine: Engine, container: Container, timeout: int | None, stop_signal: str | None
) -> None:
    """Stop (if running) and start again; the stop signal may be overridden."""
    try:
        if stop_signal:
            container.config["StopSignal"] = stop_signal  # this call only; not saved
        ensure_running_for_signal(engine, container)
        engine.lifecycle.stop(container, timeout)
        fresh = engine.containers.get(container.id)
        engine.lifecycle.start(fresh)
    except DockyardError as exc:
        raise type(exc)(f"Cannot restart container {container.id}: {exc.message}") from None
    engine.events.container("restart", container)
