"""``dockyard-runtime``: a runc-compatible command line for dockyard's OCI runtime."""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
from typing import Any

from dockyard.errors import DockyardError, InvalidArgument


def parse_signal(value: str) -> int:
    text = value.strip().upper()
    if text.isdigit():
        return int(text)
    name = text if text.startswith("SIG") else "SIG" + text
    try:
        return int(signal.Signals[name])
    except KeyError:
        raise InvalidArgument(f"unknown signal {value!r}") from None


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="dockyard-runtime", description="dockyard's OCI runtime")
    p.add_argument("--root", default=None, help="state root (default /run/dockyard-runtime)")
    p.add_argument("--log", default=None)
    p.add_argument("--log-format", default="text", choices=("text", "json"))
    p.add_argument("--debug", action="store_true")
    p.add_argument("--systemd-cgroup", action="store_true")
    p.add_argument("--rootless", default=None)
    p.add_argument("-v", "--version", action="store_true")
    sub = p.add_subparsers(dest="command")

    def with_id(name: str, help: str) -> argparse.ArgumentParser:
        cmd = sub.add_parser(name, help=help)
        cmd.add_argument("id")
        return cmd

    def create_flags(cmd: argparse.ArgumentParser) -> None:
        cmd.add_argument("-b", "--bundle", default=".")
        cmd.add_argument("--pid-file")
        cmd.add_argument("--console-socket")
        cmd.add_argument("--preserve-fds", type=int, default=0)
        cmd.add_argument("--no-pivot", action="store_true")
        cmd.add_argument("--no-new-keyring", action="store_true")

    create_flags(with_id("create", "create a container"))
    run = with_id("run", "create and start a container")
    create_flags(run)
    run.add_argument("-d", "--detach", action="store_true")
    run.add_argument("--keep", action="store_true")
    with_id("start", "start a created container")
    with_id("state", "print the state of a container")
    kill = with_id("kill", "send a signal to the container's init")
    kill.add_argument("signal", nargs="?", default="SIGTERM")
    kill.add_argument("-a", "--all", action="store_true")
    delete = with_id("delete", "delete a container")
    delete.add_argument("-f", "--force", action="store_true")
    with_id("pause", "freeze all processes of a container")
    with_id("resume", "thaw a paused container")
    ps = with_id("ps", "list the processes of a container")
    ps.add_argument("-f", "--format", default="table", choices=("table", "json"))
    ps.add_argument("ps_args", nargs=argparse.REMAINDER)
    ex = with_id("exec", "run a process in a running container")
    ex.add_argument("-p", "--process")
    ex.add_argument("-t", "--tty", action="store_true")
    ex.add_argument("--console-socket")
    ex.add_argument("--pid-file")
    ex.add_argument("-d", "--detach", action="store_true")
    ex.add_argument("-e", "--env", action="append", default=[])
    ex.add_argument("--cwd")
    ex.add_argument("-u", "--user")
    ex.add_argument("-c", "--cap", action="append", default=[])
    ex.add_argument("--no-new-privs", action="store_true")
    ex.add_argument("--preserve-fds", type=int, default=0)
    ex.add_argument("args", nargs=argparse.REMAINDER)
    lst = sub.add_parser("list", help="list containers")
    lst.add_argument("-f", "--format", default="table", choices=("table", "json"))
    lst.add_argument("-q", "--quiet", action="store_true")
    sub.add_parser("features", help="show the enabled features")
    return p


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.version:
            print("dockyard-runtime version 0.1\nspec: 1.0.2")
            return 0
        if not args.command:
            _parser().print_help()
            return 0
        return _dispatch(args)
    except DockyardError as exc:
        _log_error(args, exc.message)
        return 1
    except OSError as exc:
        _log_error(args, str(exc))
        return 1


def _log_error(args: argparse.Namespace, message: str) -> None:
    import datetime

    now = datetime.datetime.now(datetime.UTC).astimezone().isoformat(timespec="seconds")
    if args.log:
        try:
            with open(args.log, "a") as f:
                if args.log_format == "json":
                    f.write(
                        json.dumps(
                            {"level": "error", "msg": message, "time": now}, separators=(",", ":")
                        )
                        + "\n"
                    )
                else:
                    f.write(f'time="{now}" level=error msg={json.dumps(message)}\n')
        except OSError:
            pass
    print(message, file=sys.stderr)


def _dispatch(args: argparse.Namespace) -> int:
    from dockyard.runtime.linux.container import Runtime

    rt = Runtime(args.root)
    cmd = args.command
    if cmd == "features":
        print(json.dumps(features(), indent=4))
    elif cmd == "create":
        rt.create(
            args.id,
            args.bundle,
            pid_file=args.pid_file,
            console_socket=args.console_socket,
            preserve_fds=args.preserve_fds,
            no_pivot=args.no_pivot,
        )
    elif cmd == "run":
        return _run(rt, args)
    elif cmd == "start":
        rt.start(args.id)
    elif cmd == "state":
        print(json.dumps(rt.state(args.id).to_oci(), indent=2))
    elif cmd == "kill":
        rt.kill(args.id, parse_signal(args.signal), all_processes=args.all)
    elif cmd == "delete":
        rt.delete(args.id, force=args.force)
    elif cmd == "pause":
        rt.pause(args.id)
    elif cmd == "resume":
        rt.resume(args.id)
    elif cmd == "ps":
        return _ps(rt, args)
    elif cmd == "exec":
        return rt.exec(
            args.id,
            _exec_process(rt, args),
            detach=args.detach,
            pid_file=args.pid_file,
            console_socket=args.console_socket,
        )
    elif cmd == "list":
        _list(rt, args)
    return 0


def _run(rt: Any, args: argparse.Namespace) -> int:
    """create + start; in the foreground wait (proxying our own pty if the process wants one)."""
    import socket

    from dockyard.runtime.linux.container import FORWARDED_SIGNALS, _wait_forwarding, load_spec

    own_console = None
    console = None
    if not args.console_socket and not args.detach:
        spec = load_spec(os.path.realpath(args.bundle))
        if (spec.get("process") or {}).get("terminal"):
            own_console, console = socket.socketpair()
    state = rt.create(
        args.id,
        args.bundle,
        pid_file=args.pid_file,
        console_socket=args.console_socket,
        console=console,
        preserve_fds=args.preserve_fds,
        subreaper=not args.detach,
        no_pivot=args.no_pivot,
    )
    master = -1
    try:
        if own_console is not None:
            from dockyard.runtime.linux.console import recv_fd

            master, _ = recv_fd(own_console)
            own_console.close()
        if not args.detach:  # a signal that comes before we forward is held, not lost
            signal.pthread_sigmask(signal.SIG_BLOCK, FORWARDED_SIGNALS)
        rt.start(args.id)
    except BaseException:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, FORWARDED_SIGNALS)
        rt.delete(args.id, force=True)
        raise
    if args.detach:
        return 0
    if master >= 0:
        from dockyard.runtime.linux.console import proxy

        signal.pthread_sigmask(signal.SIG_UNBLOCK, FORWARDED_SIGNALS)
        code = proxy(master, state.pid)
    else:
        code = _wait_forwarding(state.pid)
    if not args.keep:
        rt.delete(args.id, force=True)
    return code


def _exec_process(rt: Any, args: argparse.Namespace) -> dict[str, Any]:
    if args.process:
        with open(args.process) as f:
            process: dict[str, Any] = json.load(f)
        return process
    command = list(args.args)
    if command and command[0] == "--":
        command = command[1:]
    if not command:
        raise InvalidArgument("exec: no command given (args or --process)")
    base = dict(rt._spec(args.id).get("process") or {})
    base["args"] = command
    base["terminal"] = bool(args.tty)
    env = list(base.get("env") or [])
    for item in args.env:
        key = item.partition("=")[0]
        env = [e for e in env if e.partition("=")[0] != key] + [item]
    base["env"] = env
    if args.cwd:
        base["cwd"] = args.cwd
    if args.user:
        uid, _, gid = args.user.partition(":")
        base["user"] = {"uid": int(uid), "gid": int(gid or 0)}
    if args.no_new_privs:
        base["noNewPrivileges"] = True
    if args.cap:
        caps = dict(base.get("capabilities") or {})
        for kind in ("bounding", "effective", "permitted", "ambient"):
            caps[kind] = sorted({*caps.get(kind, []), *args.cap})
        base["capabilities"] = caps
    return base


def _ps(rt: Any, args: argparse.Namespace) -> int:
    import subprocess

    pids = rt.pids(args.id)
    if args.format == "json":
        print(json.dumps(pids))
        return 0
    ps_args = [a for a in args.ps_args if a != "--"] or ["-ef"]
    out = subprocess.run(["ps", *ps_args], capture_output=True, text=True, check=True).stdout
    lines = out.splitlines()
    if not lines:
        return 0
    header = lines[0].split()
    try:
        column = header.index("PID")
    except ValueError:
        raise InvalidArgument("ps output has no PID column") from None
    print(lines[0])
    wanted = set(pids)
    for line in lines[1:]:
        fields = line.split()
        if len(fields) > column and fields[column].isdigit() and int(fields[column]) in wanted:
            print(line)
    return 0


def _list(rt: Any, args: argparse.Namespace) -> None:
    states = []
    for cid in rt.store.list():
        try:
            states.append(rt.state(cid))
        except DockyardError:
            continue
    if args.quiet:
        for s in states:
            print(s.id)
    elif args.format == "json":
        print(json.dumps([s.to_oci() for s in states]))
    else:
        print(f"{'ID':<20}{'PID':<10}{'STATUS':<10}{'BUNDLE':<40}CREATED")
        for s in states:
            pid = s.pid if s.status != "stopped" else 0
            print(f"{s.id:<20}{pid:<10}{s.status:<10}{s.bundle:<40}{s.created}")


def features() -> dict[str, Any]:
    from dockyard.runtime.linux import capabilities, mountopts, namespaces

    seccomp: dict[str, Any] = {"enabled": False}
    try:
        from dockyard.runtime.linux import seccomp as sc_mod

        actions = sc_mod.supported_actions()
        seccomp = {"enabled": bool(actions), "actions": actions}
    except Exception:
        pass
    cgroup_v1 = os.path.isdir("/sys/fs/cgroup/cpu") or os.path.isdir("/sys/fs/cgroup/memory")
    cgroup_v2 = os.path.exists("/sys/fs/cgroup/cgroup.controllers") or os.path.exists(
        "/sys/fs/cgroup/unified/cgroup.controllers"
    )
    options = sorted(
        {*mountopts.FLAGS, *mountopts.PROPAGATION, *mountopts.IGNORED} - {"idmap", "ridmap"}
    )
    return {
        "ociVersionMin": "1.0.0",
        "ociVersionMax": "1.0.2",
        "hooks": ["prestart", "createRuntime", "poststart", "poststop"],
        "mountOptions": options,
        "linux": {
            "namespaces": sorted(k for k in namespaces.FLAGS if k != "time"),
            "capabilities": list(capabilities.NAMES[: capabilities.last_cap() + 1]),
            "cgroup": {"v1": cgroup_v1, "v2": cgroup_v2, "systemd": False, "systemdUser": False},
            "seccomp": seccomp,
            "apparmor": {"enabled": False},
            "selinux": {"enabled": False},
        },
        "annotations": {"io.github.dockyard.runtime": "dockyard-runtime"},
    }


if __name__ == "__main__":
    sys.exit(main())
