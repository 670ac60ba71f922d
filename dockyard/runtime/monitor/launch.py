"""Start a monitor from the engine (or the CLI) and wait until the container runs."""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from typing import Any

from ...errors import SystemFailure
from . import jsonlite
from .options import Options

_PKG_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(__file__))))
_BOOT = (
    "import sys;sys.path.insert(0,{root!r});from dockyard.runtime.monitor.main import main;main()"
)


def monitor_argv(opts: Options, python: str | None = None) -> list[str]:
    """The monitor's command line: ``python -I -S -c <boot> ARGS``.

    ``-I -S`` keeps start-up and memory small; the boot snippet puts this source
    tree on ``sys.path`` because ``-S`` skips site-packages (and ``.pth`` files).
    """
    boot = _BOOT.format(root=_PKG_ROOT)
    return [python or sys.executable, "-I", "-S", "-c", boot, *opts.to_argv()]


def spawn(opts: Options, *, timeout: float = 60.0, run_root: str | None = None) -> dict[str, Any]:
    """Start a monitor for ``opts`` and wait for its report.

    The monitor is forked by the run root's zygote (see :mod:`.zygote`; ``run_root``
    defaults to the one of a ``$RUN/containers/<id>`` state dir) or, when there is
    none or it fails, exec'd: double fork (the monitor is not our child, and
    survives us), set the child subreaper flag, exec the monitor with
    ``--daemonized``. Returns the report:
    ``{"Pid": <container pid>, "Status": "running"|"created", "MonitorPid": n}``.
    Raises :class:`SystemFailure` with the runtime's message when create/start failed.
    """
    from . import zygote

    validate(opts)
    os.makedirs(opts.state_dir, exist_ok=True)
    opts.daemonized = True
    opts.sync_fd = -1
    root = run_root or zygote.run_root_of(opts.state_dir)
    report = b""
    if root is not None and zygote.enabled():
        r, w = os.pipe()
        try:
            zygote.request(root, opts.to_argv(), w)
        except zygote.NotStarted:
            os.close(w)
            os.close(r)
        else:
            os.close(w)
            # empty: no monitor got the pipe (the zygote went away with the request)
            report = _read_all(r, timeout)
    if not report:
        report = _exec_monitor(opts, timeout)
    if not report:
        raise SystemFailure(
            f"container monitor exited without a report (see {opts.state_dir}/monitor.err)"
        )
    value = jsonlite.loads(report)
    if not isinstance(value, dict):
        raise SystemFailure(f"container monitor: bad report {report!r}")
    if "Error" in value:
        raise SystemFailure(str(value["Error"]))
    try:
        with open(os.path.join(opts.state_dir, "monitor.pid")) as f:
            value["MonitorPid"] = int(f.read().strip())
    except (OSError, ValueError):
        pass
    return value


def _exec_monitor(opts: Options, timeout: float) -> bytes:
    """Fork and exec a monitor for ``opts``; its report (empty when it sent none)."""
    r, w = os.pipe()
    opts.sync_fd = w
    argv = monitor_argv(opts)
    # everything the child needs is looked up now: after a fork in a threaded
    # process (the API server) the child must not import or dlopen
    from .main import become_daemon, detach_stdio, libc_prctl

    prctl = libc_prctl()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(r)
            become_daemon(prctl)
            detach_stdio()
            os.set_inheritable(w, True)
            os.execv(argv[0], argv)
        finally:
            os._exit(127)
    os.close(w)
    opts.sync_fd = -1
    os.waitpid(pid, 0)
    return _read_all(r, timeout)


def validate(opts: Options) -> None:
    """Reject bad restart policies, log options and health checks before forking."""
    from ...errors import InvalidArgument
    from .health import HealthConfig
    from .logs import parse_size
    from .policy import RestartPolicy

    try:
        RestartPolicy.parse(opts.restart)
        if opts.log_driver not in ("json-file", "local", "none"):
            raise ValueError(f"unsupported log driver: {opts.log_driver}")
        if "max-size" in opts.log_opts:
            parse_size(opts.log_opts["max-size"])
        if "max-file" in opts.log_opts and int(opts.log_opts["max-file"]) < 1:
            raise ValueError("max-file must be at least 1")
        if opts.healthcheck is not None:
            hc = HealthConfig(opts.healthcheck)
            if not hc.disabled:
                hc.argv()
    except ValueError as e:
        raise InvalidArgument(str(e)) from None


def _read_all(fd: int, timeout: float) -> bytes:
    import select

    data = b""
    poller = select.poll()
    poller.register(fd, select.POLLIN)
    try:
        while True:
            if not poller.poll(int(timeout * 1000)):
                raise SystemFailure("timed out waiting for the container monitor")
            chunk = os.read(fd, 4096)
            if not chunk:
                return data
            data += chunk
    finally:
        os.close(fd)


def make_options(
    container_id: str,
    bundle: str,
    state_dir: str,
    *,
    runtime: str = "runc",
    runtime_root: str,
    runtime_args: Sequence[str] = (),
    tty: bool = False,
    stdin: bool = False,
    log_driver: str = "json-file",
    log_opts: dict[str, str] | None = None,
    log_dir: str = "",
    restart: str = "no",
    healthcheck: dict[str, Any] | None = None,
    remove: bool = False,
    cleanup_cmd: Sequence[str] = (),
    start_on_attach: bool = False,
) -> Options:
    """Options by keyword (what the engine calls)."""
    o = Options()
    o.container_id, o.bundle, o.state_dir = container_id, bundle, state_dir
    o.runtime, o.runtime_root, o.tty, o.stdin = runtime, runtime_root, tty, stdin
    o.runtime_args = list(runtime_args)
    o.log_driver, o.log_opts, o.log_dir = log_driver, dict(log_opts or {}), log_dir
    o.restart, o.healthcheck, o.remove = restart, healthcheck, remove
    o.cleanup_cmd, o.start_on_attach = list(cleanup_cmd), start_on_attach
    return o
