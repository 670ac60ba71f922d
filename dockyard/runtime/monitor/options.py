"""The monitor's command line (hand-parsed: ``argparse`` costs memory in every monitor)."""

from __future__ import annotations

from . import jsonlite

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs the monitor memory
if TYPE_CHECKING:
    from collections.abc import Sequence
    from typing import Any


USAGE = """usage: python -I -S -m dockyard.runtime.monitor --id ID --bundle DIR --state-dir DIR
       --runtime BINARY --runtime-root DIR [--runtime-arg=ARG]... [--tty] [--stdin]
       [--log-driver json-file|local|none] [--log-opt KEY=VALUE]... [--log-dir DIR]
       [--restart POLICY] [--healthcheck JSON]
       [--rm] [--cleanup-cmd JSON-ARGV] [--cgroup-path PATH] [--start-on-attach]
       [--sync-fd N] [--daemonized]"""


class Options:
    """What one monitor is told. Defaults are Docker's."""

    def __init__(self) -> None:
        self.container_id = ""
        self.bundle = ""
        self.state_dir = ""
        self.runtime = "runc"
        self.runtime_root = ""
        self.runtime_args: list[str] = []  # global flags before every verb (runtimeArgs)
        self.tty = False
        self.stdin = False
        self.log_driver = "json-file"
        self.log_opts: dict[str, str] = {}
        self.log_dir = ""  # default: the state dir
        self.restart = "no"
        self.healthcheck: dict[str, Any] | None = None
        self.remove = False
        self.cleanup_cmd: list[str] = []
        self.cgroup_path: str | None = None
        self.start_on_attach = False
        self.sync_fd = -1
        self.daemonized = False

    def to_argv(self) -> list[str]:
        """The command-line form of these options (what :func:`parse` reads back)."""
        argv = ["--id", self.container_id, "--bundle", self.bundle, "--state-dir", self.state_dir]
        argv += ["--runtime", self.runtime, "--runtime-root", self.runtime_root]
        for arg in self.runtime_args:
            argv.append(f"--runtime-arg={arg}")  # one token: ARG may start with "-"
        argv += ["--log-driver", self.log_driver, "--restart", self.restart]
        for key, value in self.log_opts.items():
            argv += ["--log-opt", f"{key}={value}"]
        if self.log_dir:
            argv += ["--log-dir", self.log_dir]
        for flag, on in (
            ("--tty", self.tty),
            ("--stdin", self.stdin),
            ("--rm", self.remove),
            ("--start-on-attach", self.start_on_attach),
            ("--daemonized", self.daemonized),
        ):
            if on:
                argv.append(flag)
        if self.healthcheck is not None:
            argv += ["--healthcheck", jsonlite.dumps(self.healthcheck)]
        if self.cleanup_cmd:
            argv += ["--cleanup-cmd", jsonlite.dumps(self.cleanup_cmd)]
        if self.cgroup_path is not None:
            argv += ["--cgroup-path", self.cgroup_path]
        if self.sync_fd >= 0:
            argv += ["--sync-fd", str(self.sync_fd)]
        return argv


_FLAGS = {
    "--tty": "tty",
    "--stdin": "stdin",
    "--rm": "remove",
    "--start-on-attach": "start_on_attach",
    "--daemonized": "daemonized",
}
_VALUES = {
    "--id": "container_id",
    "--bundle": "bundle",
    "--state-dir": "state_dir",
    "--runtime": "runtime",
    "--runtime-root": "runtime_root",
    "--log-driver": "log_driver",
    "--log-dir": "log_dir",
    "--restart": "restart",
    "--cgroup-path": "cgroup_path",
}


def parse(argv: Sequence[str]) -> Options:
    """Parse ``argv``; raises ``ValueError`` with a message on bad input."""
    opts = Options()
    it = iter(argv)
    for arg in it:
        name, eq, inline = arg.partition("=")
        if name in _FLAGS and not eq:
            setattr(opts, _FLAGS[name], True)
            continue
        if name not in _VALUES and name not in (
            "--log-opt",
            "--runtime-arg",
            "--healthcheck",
            "--cleanup-cmd",
            "--sync-fd",
        ):
            raise ValueError(f"unknown option {arg!r}")
        if eq:
            value = inline
        else:
            try:
                value = next(it)
            except StopIteration:
                raise ValueError(f"option {name} needs a value") from None
        if name in _VALUES:
            setattr(opts, _VALUES[name], value)
        elif name == "--log-opt":
            key, sep, val = value.partition("=")
            if not sep:
                raise ValueError(f"invalid --log-opt {value!r}: want KEY=VALUE")
            opts.log_opts[key] = val
        elif name == "--runtime-arg":
            opts.runtime_args.append(value)
        elif name == "--healthcheck":
            hc = jsonlite.loads(value)
            if not isinstance(hc, dict):
                raise ValueError("--healthcheck must be a JSON object")
            opts.healthcheck = hc
        elif name == "--cleanup-cmd":
            cmd = jsonlite.loads(value)
            if not isinstance(cmd, list) or not all(isinstance(c, str) for c in cmd):
                raise ValueError("--cleanup-cmd must be a JSON list of strings")
            opts.cleanup_cmd = cmd
        else:
            opts.sync_fd = int(value)
    for required in ("container_id", "bundle", "state_dir", "runtime_root"):
        if not getattr(opts, required):
            raise ValueError(f"missing --{required.replace('_', '-').replace('container-', '')}")
    return opts
