"""Starting containers and recording how they end.

``start``: mount the container's writable snapshot as its root filesystem, write
hostname, hosts and resolv.conf, build the OCI bundle from the Engine API
config, and hand it to a monitor process (dockyard.runtime.monitor), which asks
the OCI runtime to create and start it and then outlives this process. When the
container ends, the monitor runs ``dockyard container-exited ID`` (a hidden
command): it records the exit in the store, unmounts the root filesystem and,
for ``--rm``, removes the container. A monitor that died without reporting is
noticed by :func:`refresh` and the container is recorded as exited.
"""

from __future__ import annotations

import _signal  # type: ignore[import-not-found]  # not signal: its enums cost ~1.5 ms
import contextlib
import json
import os
import shutil
import sys
import time

from dockyard.errors import Conflict, InvalidArgument, NotFound, SystemFailure
from dockyard.store.procs import pid_alive
from dockyard.timeutil import rfc3339_nano

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from dockyard.engine import Engine
    from dockyard.engine.containers import Container
    from dockyard.engine.networks import NetPlan

RUNTIME_BINARIES = {"runc": "runc", "crun": "crun", "dockyard": "dockyard-runtime"}


class Lifecycle:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    # ---------------------------------------------------------------- paths

    def state_dir(self, container_id: str) -> str:
        return os.path.join(self.engine.options.run_root, "containers", container_id)

    def rootfs_dir(self, container_id: str) -> str:
        return os.path.join(self.engine.options.run_root, "rootfs", container_id)

    def runtime_root(self, runtime: str) -> str:
        return os.path.join(self.engine.options.run_root, "runtime", runtime)

    def runtime_args(self, name: str) -> list[str]:
        """The runtime's extra global flags (daemon.json ``runtimeArgs``)."""
        from dockyard.config import runtime_args

        return runtime_args(self.engine.options.daemon, name)

    def runtime_argv(self, name: str) -> list[str]:
        """``<binary> --root R <runtimeArgs>``: the start of every runtime invocation."""
        binary, root = self.runtime_binary(name), self.runtime_root(name)
        return [binary, "--root", root, *self.runtime_args(name)]

    def runtime_binary(self, name: str) -> str:
        configured = self.engine.options.daemon.get("runtimes") or {}
        if name in configured:
            return str(configured[name].get("path") or name)
        if name not in RUNTIME_BINARIES:
            raise InvalidArgument(f"unknown or invalid runtime name: {name}")
        binary = RUNTIME_BINARIES[name]
        found = shutil.which(binary) or shutil.which(binary, path=os.path.dirname(sys.executable))
        if found is None:
            raise SystemFailure(f"runtime {name!r} is not installed ({binary} not found in PATH)")
        return found

    # ---------------------------------------------------------------- start

    def start(self, container: Container, *, wait_for_attach: bool = False) -> dict[str, Any]:
        """Start a created or exited container; returns the monitor's report.

        ``wait_for_attach``: the monitor creates the container and starts it only when
        an attach client says so, so that ``run`` sees all of its output.
        """
        from dockyard.runtime.monitor.launch import make_options, spawn

        self.refresh(container)
        if container.status in ("running", "paused", "restarting"):
            return {"Pid": container.state.get("Pid", 0), "Status": container.status}
        e = self.engine
        cid = container.id
        state_dir = self.state_dir(cid)
        rootfs = self.rootfs_dir(cid)
        shutil.rmtree(state_dir, ignore_errors=True)
        os.makedirs(state_dir, mode=0o700)
        os.makedirs(rootfs, exist_ok=True)
        # The same lock as cp/export/commit take to mount a stopped container.
        import fcntl

        lock = os.open(e.containers.container_dir(cid), os.O_RDONLY | os.O_CLOEXEC)
        try:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if not _is_mount_point(rootfs):
                e.snapshots.mount(container.snapshot_key, rootfs)
        finally:
            os.close(lock)
        # Running from here on: the monitor may report the end before spawn returns.
        self.record_state(
            cid,
            {
                "Status": "running",
                "Running": True,
                "Paused": False,
                "Restarting": False,
                "OOMKilled": False,
                "Dead": False,
                "Pid": 0,
                "MonitorPid": 0,
                "ExitCode": 0,
                "Error": "",
                "StartedAt": rfc3339_nano(time.time()),
                "FinishedAt": "0001-01-01T00:00:00Z",
            },
        )
        try:
            plan = e.networks.attach(container)
            bundle = self._write_bundle(container, rootfs, state_dir, plan)
            runtime = container.host_config.get("Runtime") or "runc"
            log = container.host_config.get("LogConfig") or {}
            health = container.config.get("Healthcheck")
            if health and health.get("Test") in (None, [], ["NONE"]):
                health = None
            opts = make_options(
                cid,
                bundle,
                state_dir,
                runtime=self.runtime_binary(runtime),
                runtime_root=self.runtime_root(runtime),
                runtime_args=self.runtime_args(runtime),
                tty=bool(container.config.get("Tty")),
                stdin=bool(container.config.get("OpenStdin")),
                log_driver=log.get("Type") or "json-file",
                log_opts=log.get("Config") or {},
                log_dir=e.containers.container_dir(cid),
                restart=_restart_text(container.host_config.get("RestartPolicy") or {}),
                healthcheck=health,
                remove=False,
                cleanup_cmd=self._exited_command(cid),
                start_on_attach=wait_for_attach,
            )
            report = spawn(opts)
        except BaseException as exc:
            self._delete_runtime_state(container)
            with contextlib.suppress(Exception):
                e.networks.detach(container)
            self._unmount(cid)
            shutil.rmtree(state_dir, ignore_errors=True)
            error = _start_error(exc) if isinstance(exc, SystemFailure) else exc
            code = error.exit_code if isinstance(error, SystemFailure) else 128
            self.record_state(
                cid,
                {
                    "Status": "exited" if container.status == "exited" else "created",
                    "Running": False,
                    "Pid": 0,
                    "MonitorPid": 0,
                    "Error": str(error),
                    "ExitCode": code if code in (126, 127) else 128,
                },
            )
            raise error from None
        self.record_state(
            cid,
            {"Pid": int(report.get("Pid") or 0), "MonitorPid": int(report.get("MonitorPid") or 0)},
            only_if_running=True,
        )
        e.events.container("start", container)
        return report

    def _exited_command(self, container_id: str) -> list[str]:
        opts = self.engine.options
        argv = [
            sys.executable,
            "-m",
            "dockyard",
            "--root",
            opts.root,
            "--run-root",
            opts.run_root,
        ]
        if os.path.exists(opts.config_file):  # a missing default file is fine, a named one not
            argv += ["--config-file", opts.config_file]
        if self.engine.storage_driver:
            argv += ["--storage-driver", self.engine.storage_driver]
        return [*argv, "container-exited", container_id]

    def _write_bundle(
        self, container: Container, rootfs: str, state_dir: str, plan: NetPlan
    ) -> str:
        from dockyard.runtime.spec import EtcFiles, MountSpec, build_spec
        from dockyard.runtime.spec.etc_files import hostname_file, hosts_file, resolv_conf

        e = self.engine
        cid = container.id
        config = container.config
        host = container.host_config
        directory = e.containers.container_dir(cid)
        hostname = config.get("Hostname") or cid[:12]
        gateway_ip = e.options.daemon.get("host-gateway-ip")
        files = {
            "hostname": hostname_file(hostname),
            "hosts": plan.hosts_text
            if plan.hosts_text is not None
            else hosts_file(
                hostname=hostname,
                domainname=config.get("Domainname") or "",
                addresses=plan.addresses,
                extra_hosts=host.get("ExtraHosts") or [],
                host_gateway=[gateway_ip] if gateway_ip else plan.host_gateways[:1],
            ),
            "resolv.conf": plan.resolv_text
            if plan.resolv_text is not None
            else resolv_conf(
                _read_host("/etc/resolv.conf"),
                dns=host.get("Dns") or [],
                dns_search=host.get("DnsSearch") or [],
                dns_options=host.get("DnsOptions") or [],
                mode=plan.resolv_mode,
            ),
        }
        for name, text in files.items():
            _write_atomic(os.path.join(directory, name), text)
        mounts = []
        for m in container.spec.get("Mounts") or []:
            if m["Type"] == "volume" and not m.get("NoCopy"):
                # A new, empty volume is filled from the image's content there.
                fd = open_dir_in_root(rootfs, m["Destination"])
                if fd is not None:
                    try:
                        e.volumes.copy_up(m["Name"], f"/proc/self/fd/{fd}/.")
                    finally:
                        os.close(fd)
            if m["Type"] == "bind" and not os.path.exists(m["Source"]):
                os.makedirs(m["Source"], exist_ok=True)  # -v makes a missing host directory
            mounts.append(
                MountSpec(
                    destination=m["Destination"],
                    source=m.get("Source", ""),
                    type=m["Type"],
                    read_only=not m.get("RW", True),
                    propagation=m.get("Propagation") or "",
                )
            )
        image_config = e.containers.image_config(container.image_id)
        # looked up only for --init (the daemon's "init" default is not applied to specs)
        init_path = (
            shutil.which("docker-init") or shutil.which("tini-static") if host.get("Init") else None
        )
        spec = build_spec(
            config,
            host,
            image_config,
            rootfs=rootfs,
            cgroups_path=f"/dockyard/{cid}",
            mounts=mounts,
            etc_files=EtcFiles(
                resolv_conf=os.path.join(directory, "resolv.conf"),
                hostname=os.path.join(directory, "hostname"),
                hosts=os.path.join(directory, "hosts"),
            ),
            passwd=read_in_root(rootfs, "etc", "passwd"),
            group=read_in_root(rootfs, "etc", "group"),
            init_path=init_path,
            netns_path=plan.netns_path,
        )
        bundle = os.path.join(state_dir, "bundle")
        os.makedirs(bundle, exist_ok=True)
        # compact: json's C encoder does not indent (indent=1 cost ~2 ms a start)
        _write_atomic(os.path.join(bundle, "config.json"), json.dumps(spec))
        return bundle

    # ---------------------------------------------------------------- state

    def record_state(
        self,
        container_id: str,
        changes: dict[str, Any],
        *,
        only_if_running: bool = False,
        only_if_status: tuple[str, ...] = (),
    ) -> bool:
        """Merge ``changes`` into the container's State in one transaction; False
        when the record was left alone.

        ``only_if_running``: leave the record alone if the container has ended
        meanwhile (the monitor's report of the end stands). ``only_if_status``:
        change it only from one of these statuses (a claim: of several processes
        recording the same exit, exactly one gets True).
        """
        with self.engine.db.transaction() as conn:
            row = conn.execute(
                "SELECT state FROM containers WHERE id = ?", (container_id,)
            ).fetchone()
            if row is None:
                return False
            state = json.loads(row["state"])
            if only_if_running and state.get("Status") != "running":
                return False
            if only_if_status and state.get("Status") not in only_if_status:
                return False
            state.update(changes)
            conn.execute(
                "UPDATE containers SET state = ? WHERE id = ?", (json.dumps(state), container_id)
            )
            return True

    def _monitor_of(self, container: Container) -> int:
        """The pid of the monitor of the container's current run (0: not known yet)."""
        return int(container.state.get("MonitorPid") or 0) or self._monitor_pid_file(container.id)

    def _start_in_progress(self, container_id: str) -> bool:
        """No monitor pid yet, but a state directory made in the last 30 s: a start
        that has not spawned its monitor (or whose monitor is writing its pid)."""
        state_dir = self.state_dir(container_id)
        since = os.path.getmtime(state_dir) if os.path.isdir(state_dir) else 0.0
        return time.time() - since < 30

    def _monitor_pid_file(self, container_id: str) -> int:
        """The pid in the monitor's ``monitor.pid`` (0: none, or not written yet)."""
        try:
            with open(os.path.join(self.state_dir(container_id), "monitor.pid")) as f:
                return int(f.read().strip() or 0)
        except (OSError, ValueError):
            return 0

    def _read_state_file(self, container_id: str, name: str) -> dict[str, Any] | None:
        """One of the monitor's JSON files (health.json, exit.json), or None."""
        try:
            with open(os.path.join(self.state_dir(container_id), name)) as f:
                value = json.load(f)
        except (OSError, ValueError):
            return None
        return value if isinstance(value, dict) else None

    def refresh(self, container: Container) -> None:
        """Bring a running container's record up to date when its monitor is gone
        without having reported (it was killed): the container has ended too."""
        if container.status not in ("running", "paused", "restarting"):
            return
        monitor = self._monitor_of(container)
        if not monitor and self._start_in_progress(container.id):
            return
        if monitor and pid_alive(monitor):
            self.container_pid(container)  # fills a pid the starting CLI did not record
            health = self._read_state_file(container.id, "health.json")
            if health:
                container.state["Health"] = health
            live = self._read_state_file(container.id, "state.json") or {}
            if live.get("RestartCount"):  # the monitor's restarts so far (not stored)
                container.state["RestartCount"] = live["RestartCount"]
                if live.get("StartedAt"):
                    container.state["StartedAt"] = live["StartedAt"]  # the latest start
            if live.get("Status") == "restarting":
                # between an exit and the restart policy's next start, as dockerd shows it
                last = self._read_state_file(container.id, "exit.json") or {}
                container.state.update(
                    Status="restarting",
                    Running=True,
                    Restarting=True,
                    Pid=0,
                    ExitCode=int(last.get("ExitCode") or 0),
                    FinishedAt=last.get("FinishedAt") or container.state.get("FinishedAt", ""),
                )
            return
        self.exited(container.id)
        fresh = self.engine.containers.try_get(container.id)
        if fresh is not None:
            container.state = fresh.state
        else:
            container.state = dict(container.state, Status="removing")

    def exited_if_reported(self, container_id: str) -> None:
        """Record the end now if the monitor has written its report (``run --rm``
        does, rather than wait for the monitor's callback to start up)."""
        if os.path.exists(os.path.join(self.state_dir(container_id), "exit.json")):
            self.exited(container_id)

    def exited(self, container_id: str) -> None:
        """The monitor's report that the container ended (the hidden command)."""
        e = self.engine
        container = e.containers.try_get(container_id)
        if container is None or container.status not in ACTIVE_STATUSES:
            return  # already recorded (a failed start records itself)
        state_dir = self.state_dir(container_id)
        report: dict[str, Any] = {}
        with (
            contextlib.suppress(OSError, ValueError),
            open(os.path.join(state_dir, "exit.json")) as f,
        ):
            report = json.load(f)
        if not report:
            # No report: its monitor died (refresh found it dead), or this is a late
            # call about a run already recorded while the next run starts (a stale
            # exit callback): that run is not ours to end.
            monitor = self._monitor_of(container)
            if pid_alive(monitor) if monitor else self._start_in_progress(container_id):
                return
        health = self._read_state_file(container_id, "health.json")
        if health:
            self.record_state(container_id, {"Health": health})
        pid = self.container_pid(container)
        if not report and pid > 1 and pid_alive(pid):
            _signal_process(pid, _signal.SIGKILL)  # the monitor died: nobody supervises it now
        code = int(report.get("ExitCode", 137 if not report else 0))
        # A container whose process never started stays "created", as Docker's does.
        failed_start = bool(report.get("Error")) and not report.get("RestartCount")
        claimed = self.record_state(
            container_id,
            {
                "Status": "created" if failed_start else "exited",
                "Running": False,
                "Paused": False,
                "Restarting": False,
                "Pid": 0,
                "ExitCode": code,
                "OOMKilled": bool(report.get("OOMKilled")),
                "Error": str(report.get("Error") or ""),
                "FinishedAt": report.get("FinishedAt") or rfc3339_nano(time.time()),
                # kept with the state; inspect shows it beside State, as Docker does
                "RestartCount": int(report.get("RestartCount") or 0),
            },
            only_if_status=ACTIVE_STATUSES,
        )
        if not claimed:
            return  # another process (the CLI of `run --rm`, or the callback) recorded it
        # the monitor reports first and deletes the runtime's state meanwhile
        monitor_deletes = bool(report.get("RuntimeDeleting"))
        if not report.get("RuntimeDeleted") and not monitor_deletes:
            self._delete_runtime_state(container)
        with contextlib.suppress(Exception):
            e.networks.detach(container)
        self._unmount(container_id)
        e.events.container("die", container, {"exitCode": str(code)})
        if container.host_config.get("AutoRemove"):
            with contextlib.suppress(NotFound, Conflict):
                e.containers.remove(container_id, volumes=True)
        if monitor_deletes:
            self._await_runtime_deleted(container)
        shutil.rmtree(state_dir, ignore_errors=True)

    def _await_runtime_deleted(self, container: Container, timeout: float = 10.0) -> None:
        """Until the monitor says it deleted the runtime's state (``exit.json`` rewritten
        with ``RuntimeDeleted``); delete it here if it could not or is gone."""
        monitor = self._monitor_pid_file(container.id)
        deadline = time.monotonic() + timeout
        while True:
            report = self._read_state_file(container.id, "exit.json") or {}
            if not report.get("RuntimeDeleting"):
                if not report.get("RuntimeDeleted"):
                    self._delete_runtime_state(container)
                return
            if not monitor or not pid_alive(monitor) or time.monotonic() > deadline:
                self._delete_runtime_state(container)
                return
            time.sleep(0.001)

    def _delete_runtime_state(self, container: Container) -> None:
        import subprocess

        runtime = container.host_config.get("Runtime") or "runc"
        try:
            argv = self.runtime_argv(runtime)
        except (InvalidArgument, SystemFailure):
            return
        subprocess.run(
            [*argv, "delete", "--force", container.id],
            capture_output=True,
            check=False,
        )

    def _unmount(self, container_id: str) -> None:
        rootfs = self.rootfs_dir(container_id)
        if _is_mount_point(rootfs):
            self.engine.snapshots.unmount(rootfs)
        with contextlib.suppress(OSError):
            os.rmdir(rootfs)

    # ---------------------------------------------------------------- signals

    def kill(self, container: Container, sig: int = _signal.SIGKILL) -> None:
        self.refresh(container)
        if container.status not in ("running", "paused", "restarting"):
            raise Conflict(f"Container {container.id} is not running")
        _signal_process(self.container_pid(container), sig)
        self._resume_if_paused(container)

    def container_pid(self, container: Container) -> int:
        """The container's main process; read from its monitor's state when the record
        has none yet (the starting CLI may have died before writing it)."""
        pid = int(container.state.get("Pid") or 0)
        if pid <= 0:
            state = self._read_state_file(container.id, "state.json") or {}
            pid = int(state.get("Pid") or 0)
            if pid > 0:
                self.record_state(
                    container.id,
                    {"Pid": pid, "MonitorPid": int(state.get("MonitorPid") or 0)},
                    only_if_running=True,
                )
                container.state["Pid"] = pid
        return pid

    def _resume_if_paused(self, container: Container) -> None:
        """Signal first, then thaw a paused container, as dockerd does."""
        from dockyard.engine.control import ensure_running_for_signal

        ensure_running_for_signal(self.engine, container)

    def stop(self, container: Container, timeout: int | None = None) -> None:
        """SIGTERM (or the configured stop signal), then SIGKILL after the timeout."""
        self.refresh(container)
        if container.status not in ("running", "paused", "restarting"):
            return
        state_dir = self.state_dir(container.id)
        with contextlib.suppress(OSError):
            open(os.path.join(state_dir, "no-restart"), "w").close()
        if timeout is None:
            timeout = int(container.config.get("StopTimeout") or 10)
        sig = _signal_number(container.config.get("StopSignal") or "SIGTERM")
        with _Recorder(self, container.id) as recorder:
            pid = self.container_pid(container)
            _signal_process(pid, sig)
            self._resume_if_paused(container)
            if not self.wait_exited(container.id, timeout, recorder):
                _signal_process(self.container_pid(container), _signal.SIGKILL)
                self.wait_exited(container.id, 30, recorder)

    def kill_and_wait(self, container: Container, timeout: float = 30) -> None:
        """SIGKILL without a restart (``rm -f``), and wait for the end to be recorded."""
        self.refresh(container)
        if container.status not in ACTIVE_STATUSES:
            return
        with contextlib.suppress(OSError):
            open(os.path.join(self.state_dir(container.id), "no-restart"), "w").close()
        with _Recorder(self, container.id) as recorder:
            self.kill(container)
            self.wait_exited(container.id, timeout, recorder)

    def wait_run_dir_removed(self, container_id: str, timeout: float = 5) -> None:
        settle = time.monotonic() + timeout
        while os.path.isdir(self.state_dir(container_id)) and time.monotonic() < settle:
            time.sleep(0.002)

    def wait_exited(
        self, container_id: str, timeout: float, recorder: _Recorder | None = None
    ) -> bool:
        """Wait until the record says the container is no longer running.

        With a ``recorder`` attached to the monitor, the end is recorded here as soon
        as the monitor reports it (rather than by its callback, a process of its own)."""
        deadline = time.monotonic() + timeout
        if recorder is not None and recorder.wait(deadline):
            self.exited_if_reported(container_id)
        while True:
            container = self.engine.containers.try_get(container_id)
            if container is not None:
                self.refresh(container)
            if container is None or container.status not in ACTIVE_STATUSES:
                # whoever recorded the end removes the run directory last: let it finish
                self.wait_run_dir_removed(container_id)
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.005)


class _Recorder:
    """An attach connection that tells the monitor "this process records the exit":
    a stopping command then records it on the exit frame, instead of waiting for the
    monitor's callback to start a whole ``dockyard container-exited`` process."""

    def __init__(self, lifecycle: Lifecycle, container_id: str) -> None:
        from dockyard.runtime.monitor.client import AttachClient

        self.client: AttachClient | None = None
        try:
            path = os.path.join(lifecycle.state_dir(container_id), "attach")
            self.client = AttachClient(path, timeout=5)
            self.client.records_exit()
            # a monitor still holding the container for an attacher (one that died
            # before it said START) would hold its end too: we are stopping it
            self.client.start()
        except OSError:
            self.close()

    def __enter__(self) -> _Recorder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self.client is not None:
            self.client.close()
            self.client = None

    def wait(self, deadline: float) -> bool:
        """Until the monitor's final exit frame (True), its hang-up or the deadline."""
        client = self.client
        if client is None:
            return False
        try:
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                client.sock.settimeout(min(left, 3600.0))
                frame = client.read_frame()
                if frame is None:
                    break
                report = client.exit
                if report is not None and not report.get("Restarting"):
                    return True
        except TimeoutError:
            return False  # still connected: a later wait (after SIGKILL) goes on reading
        except (OSError, ValueError):
            pass
        self.close()  # the monitor is gone: the record is brought up to date by refresh
        return False


ACTIVE_STATUSES = ("running", "paused", "restarting")


def _signal_process(pid: int, sig: int) -> None:
    """Signal a container's process. Never pid 0 or 1 (our own group, or init): a record
    without a pid must not turn into ``kill(0, SIGKILL)``."""
    if pid <= 1:
        return
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, sig)


def _restart_text(policy: dict[str, Any]) -> str:
    name = policy.get("Name") or "no"
    count = int(policy.get("MaximumRetryCount") or 0)
    return f"{name}:{count}" if name == "on-failure" and count else name


def _signal_number(name: str) -> int:
    text = name.upper()
    if text.isdigit():
        return int(text)
    if not text.startswith("SIG"):
        text = "SIG" + text
    number = getattr(_signal, text, None) if "_" not in text else None  # not SIG_DFL & co
    if not isinstance(number, int):
        raise InvalidArgument(f"Invalid signal: {name}")
    return number


def _start_error(exc: SystemFailure) -> SystemFailure:
    """Docker's wording for a failed start: ``failed to create task for container: ...``."""
    message = exc.message
    error = SystemFailure(f"failed to create task for container: {message}")
    if "executable file not found" in message or "no such file or directory" in message:
        error.exit_code = 127
    elif "permission denied" in message:
        error.exit_code = 126
    return error


def _is_mount_point(path: str) -> bool:
    """Whether something is mounted at ``path`` — also a bind mount from the same
    filesystem (vfs), which os.path.ismount cannot tell from a plain directory."""
    target = os.path.realpath(path)
    try:
        with open("/proc/self/mountinfo") as f:
            return any(line.split()[4] == target for line in f)
    except OSError:
        return os.path.ismount(path)


def _read_host(path: str) -> str:
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return ""


def read_in_root(root: str, *parts: str) -> str | None:
    """A file inside a container's root, refusing symlinks on the way (they could point
    at the host's files)."""
    fd = open_dir_in_root(root, "/".join(parts[:-1]))
    if fd is None:
        return None
    try:
        file_fd = os.open(parts[-1], os.O_RDONLY | os.O_NOFOLLOW, dir_fd=fd)
    except OSError:
        return None
    finally:
        os.close(fd)
    with os.fdopen(file_fd, encoding="utf-8", errors="replace") as f:
        return f.read(1 << 20)


def open_dir_in_root(root: str, path: str) -> int | None:
    """A directory inside a container's root as an fd, refusing symlinks on the way."""
    fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY)
    for part in [p for p in path.split("/") if p]:
        try:
            nxt = os.open(part, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=fd)
        except OSError:
            os.close(fd)
            return None
        os.close(fd)
        fd = nxt
    return fd


def _write_atomic(path: str, text: str) -> None:
    tmp = f"{path}.{os.getpid()}.tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, path)
