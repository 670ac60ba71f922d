"""``run`` / ``create`` flags, turned into the Engine API's Config and HostConfig.

The CLI parses what the user typed into the same JSON shapes the Engine API
takes (``ContainerConfig``, ``HostConfig``, ``NetworkingConfig``), so the engine
has one input format whether a container comes from ``dockyard run`` or from a
Docker client talking to ``dockyard serve``. Value errors read as Docker's:
``invalid argument "1x" for "-m, --memory" flag: invalid size: '1x'``.
"""

from __future__ import annotations

import os
from types import SimpleNamespace

from dockyard.cli.parser import CommandParser
from dockyard.errors import InvalidArgument, UsageError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

RUN_USAGE = "[OPTIONS] IMAGE [COMMAND] [ARG...]"


def add_run_flags(p: CommandParser) -> None:
    """The flags ``run`` and ``create`` share (``run`` adds -d, --rm is on both)."""
    p.flag("-i", "--interactive", help="Keep STDIN open even if not attached")
    p.flag("-t", "--tty", help="Allocate a pseudo-TTY")
    p.flag(
        "--rm",
        help="Automatically remove the container and its associated anonymous volumes"
        " when it exits",
    )
    p.option("--name", help="Assign a name to the container")
    p.multi("-e", "--env", help="Set environment variables")
    p.multi("--env-file", help="Read in a file of environment variables")
    p.option("-w", "--workdir", help="Working directory inside the container")
    p.option("-u", "--user", help="Username or UID (format: <name|uid>[:<group|gid>])")
    p.multi("--group-add", help="Add additional groups to join")
    p.option("--entrypoint", help="Overwrite the default ENTRYPOINT of the image")
    p.option("-h", "--hostname", help="Container host name")
    p.option("--domainname", help="Container NIS domain name")
    p.multi("-l", "--label", help="Set meta data on a container")
    p.multi("--label-file", help="Read in a line delimited file of labels")
    p.multi("-v", "--volume", help="Bind mount a volume")
    p.multi("--mount", metavar="mount", help="Attach a filesystem mount to the container")
    p.multi("--tmpfs", help="Mount a tmpfs directory")
    p.multi("--volumes-from", help="Mount volumes from the specified container(s)")
    p.flag("--read-only", help="Mount the container's root filesystem as read only")
    p.option("--restart", default="no", help="Restart policy to apply when a container exits")
    p.option("--stop-signal", help="Signal to stop the container")
    p.option("--stop-timeout", metavar="int", help="Timeout (in seconds) to stop a container")
    p.flag(
        "--init", help="Run an init inside the container that forwards signals and reaps processes"
    )
    p.multi("--cap-add", help="Add Linux capabilities")
    p.multi("--cap-drop", help="Drop Linux capabilities")
    p.flag("--privileged", help="Give extended privileges to this container")
    p.multi("--security-opt", help="Security Options")
    p.multi("--device", help="Add a host device to the container")
    p.multi("--ulimit", metavar="ulimit", help="Ulimit options")
    p.multi("--sysctl", metavar="map", help="Sysctl options")
    p.option("--shm-size", metavar="bytes", help="Size of /dev/shm")
    p.option("-m", "--memory", metavar="bytes", help="Memory limit")
    p.option(
        "--memory-swap",
        metavar="bytes",
        help="Swap limit equal to memory plus swap: '-1' to enable unlimited swap",
    )
    p.option("--memory-reservation", metavar="bytes", help="Memory soft limit")
    p.option(
        "--memory-swappiness", metavar="int", help="Tune container memory swappiness (0 to 100)"
    )
    p.flag("--oom-kill-disable", help="Disable OOM Killer")
    p.option("--oom-score-adj", metavar="int", help="Tune host's OOM preferences (-1000 to 1000)")
    p.option("--cpus", metavar="decimal", help="Number of CPUs")
    p.option("-c", "--cpu-shares", metavar="int", help="CPU shares (relative weight)")
    p.option("--cpuset-cpus", help="CPUs in which to allow execution (0-3, 0,1)")
    p.option("--cpuset-mems", help="MEMs in which to allow execution (0-3, 0,1)")
    p.option("--cpu-period", metavar="int", help="Limit CPU CFS (Completely Fair Scheduler) period")
    p.option("--cpu-quota", metavar="int", help="Limit CPU CFS (Completely Fair Scheduler) quota")
    p.option("--pids-limit", metavar="int", help="Tune container pids limit (set -1 for unlimited)")
    p.option("--pid", help="PID namespace to use")
    p.option("--ipc", help="IPC mode to use")
    p.option("--uts", help="UTS namespace to use")
    p.option("--cgroupns", help="Cgroup namespace to use (host|private)")
    p.option("--cgroup-parent", help="Optional parent cgroup for the container")
    p.option("--health-cmd", help="Command to run to check health")
    p.option(
        "--health-interval",
        metavar="duration",
        help="Time between running the check (ms|s|m|h) (default 0s)",
    )
    p.option(
        "--health-timeout",
        metavar="duration",
        help="Maximum time to allow one check to run (ms|s|m|h) (default 0s)",
    )
    p.option(
        "--health-retries", metavar="int", help="Consecutive failures needed to report unhealthy"
    )
    p.option(
        "--health-start-period",
        metavar="duration",
        help="Start period for the container to initialize before starting health-retries"
        " countdown (ms|s|m|h) (default 0s)",
    )
    p.option(
        "--health-start-interval",
        metavar="duration",
        help="Time between running the check during the start period (ms|s|m|h) (default 0s)",
    )
    p.flag("--no-healthcheck", help="Disable any container-specified HEALTHCHECK")
    p.option("--log-driver", help="Logging driver for the container")
    p.multi("--log-opt", help="Log driver options")
    p.option("--cidfile", help="Write the container ID to the file")
    p.option("--runtime", help="Runtime to use for this container")
    p.option("--platform", help="Set platform if server is multi-platform capable")
    p.option(
        "--pull", default="missing", help='Pull image before running ("always", "missing", "never")'
    )
    p.option("--detach-keys", help="Override the key sequence for detaching a container")
    p.flag("--sig-proxy", default=True, help="Proxy received signals to the process")
    p.option("--network", "--net", help="Connect a container to a network")
    p.multi("--network-alias", help="Add network-scoped alias for the container")
    p.option("--ip", help="IPv4 address (e.g., 172.30.100.104)")
    p.option("--ip6", help="IPv6 address (e.g., 2001:db8::33)")
    p.option("--mac-address", help="Container MAC address (e.g., 92:d0:c6:0a:29:33)")
    p.multi("-p", "--publish", help="Publish a container's port(s) to the host")
    p.flag("-P", "--publish-all", help="Publish all exposed ports to random ports")
    p.multi("--expose", help="Expose a port or a range of ports")
    p.multi("--dns", help="Set custom DNS servers")
    p.multi("--dns-search", help="Set custom DNS search domains")
    p.multi("--dns-option", help="Set DNS options")
    p.multi("--add-host", help="Add a custom host-to-IP mapping (host:ip)")
    p.multi("-a", "--attach", help="Attach to STDIN, STDOUT or STDERR")
    p.option("--userns", help="User namespace to use")
    p.multi("--link", help="Add link to another container")


class _FlagValueError(Exception):
    """A flag's value does not parse; shown with the usage like any flag error."""


def _invalid(flag: str, value: str, reason: str) -> _FlagValueError:
    return _FlagValueError(f'invalid argument "{value}" for "{flag}" flag: {reason}')


def _typed(value: str | None, flag: str, parse: Callable[[str], Any]) -> Any:
    if value is None:
        return None
    try:
        return parse(value)
    except (ValueError, InvalidArgument) as exc:  # the golang parsers use Go's wording
        raise _invalid(flag, value, str(exc)) from None


def _int(value: str) -> int:
    try:
        return int(value, 10)
    except ValueError:
        raise ValueError(f'strconv.ParseInt: parsing "{value}": invalid syntax') from None


def _bytes(value: str) -> int:
    from dockyard.golang.units import ram_in_bytes

    return ram_in_bytes(value)


def _swap(value: str) -> int:
    return -1 if value == "-1" else _bytes(value)


def _nano_cpus(value: str) -> int:
    from fractions import Fraction

    try:
        cpus = Fraction(value)
    except (ValueError, ZeroDivisionError):
        raise ValueError(f"failed to parse {value} as a rational number") from None
    nano = cpus * 1_000_000_000
    if nano.denominator != 1:
        raise ValueError("value is too precise")
    return int(nano)


def _duration_ns(value: str) -> int:
    from dockyard.golang.units import parse_go_duration_ns

    return parse_go_duration_ns(value)


def read_env_file(path: str) -> list[str]:
    """Docker's --env-file: KEY=VALUE lines, ``#`` comments, a bare KEY takes the host's."""
    try:
        with open(path, encoding="utf-8") as f:
            lines = f.read().splitlines()
    except FileNotFoundError:
        raise UsageError(f"open {path}: no such file or directory").with_code(125) from None
    out = []
    for n, line in enumerate(lines, 1):
        text = line.lstrip()
        if not text or text.startswith("#"):
            continue
        key, sep, value = text.partition("=")
        if " " in key or "\t" in key:
            raise UsageError(f"variable '{key}' contains whitespaces").with_code(125)
        if not key:
            raise UsageError(f"invalid environment variable at line {n}: {line}").with_code(125)
        if sep:
            out.append(f"{key}={value}")
        elif key in os.environ:
            out.append(f"{key}={os.environ[key]}")
    return out


def _env(values: list[str]) -> list[str]:
    out = []
    for value in values:
        key, sep, _ = value.partition("=")
        if not key:
            raise UsageError(f"invalid environment variable: {value}").with_code(125)
        if sep:
            out.append(value)
        elif key in os.environ:
            out.append(f"{key}={os.environ[key]}")
    return out


def _labels(values: list[str], files: list[str]) -> dict[str, str]:
    labels: dict[str, str] = {}
    for path in files:
        for line in read_env_file(path):
            key, _, value = line.partition("=")
            labels[key] = value
    for value in values:
        key, _, rest = value.partition("=")
        labels[key] = rest
    return labels


def _restart(value: str) -> dict[str, Any]:
    name, _, count = value.partition(":")
    if name not in ("", "no", "always", "unless-stopped", "on-failure"):
        raise UsageError(f"invalid restart policy '{name}'").with_code(125)
    if count:
        if name != "on-failure":
            raise UsageError(
                f"maximum retry count cannot be used with restart policy '{name}'"
            ).with_code(125)
        try:
            retries = int(count)
        except ValueError:
            raise UsageError(f"maximum retry count must be an integer: {count}").with_code(
                125
            ) from None
        return {"Name": name, "MaximumRetryCount": retries}
    return {"Name": name or "no", "MaximumRetryCount": 0}


def _ulimits(values: list[str]) -> list[dict[str, Any]]:
    out = []
    for value in values:
        name, sep, limits = value.partition("=")
        if not sep:
            raise _invalid("--ulimit", value, f"invalid ulimit argument: {value}")
        soft, _, hard = limits.partition(":")
        try:
            soft_n = int(soft)
            hard_n = int(hard) if hard else soft_n
        except ValueError:
            raise _invalid("--ulimit", value, f"invalid ulimit argument: {value}") from None
        if soft_n > hard_n:
            raise _invalid(
                "--ulimit",
                value,
                f"ulimit soft limit must be less than or equal to hard limit: {soft_n} > {hard_n}",
            )
        out.append({"Name": name, "Soft": soft_n, "Hard": hard_n})
    return out


def _devices(values: list[str]) -> list[dict[str, str]]:
    out = []
    for value in values:
        parts = value.split(":")
        host = parts[0]
        container = host
        perms = "rwm"
        if len(parts) == 2:
            if set(parts[1]) <= set("rwm") and parts[1]:
                perms = parts[1]
            else:
                container = parts[1]
        elif len(parts) == 3:
            container, perms = parts[1], parts[2]
        elif len(parts) > 3:
            raise _invalid("--device", value, f"invalid device specification: {value}")
        out.append({"PathOnHost": host, "PathInContainer": container, "CgroupPermissions": perms})
    return out


def _tmpfs(values: list[str]) -> dict[str, str]:
    out = {}
    for value in values:
        path, _, options = value.partition(":")
        out[path] = options
    return out


def _mounts(values: list[str]) -> list[dict[str, Any]]:
    """--mount type=bind|volume|tmpfs,source=,target=,readonly,... as Docker's Mounts."""
    out = []
    for value in values:
        fields: dict[str, str] = {}
        volume_labels: dict[str, str] = {}
        for part in value.split(","):
            key, sep, val = part.partition("=")
            key = key.strip().lower()
            if key == "volume-label":
                label, _, label_value = val.partition("=")
                volume_labels[label] = label_value
            else:
                fields[key] = val if sep else "true"
        kind = fields.pop("type", "volume")
        mount: dict[str, Any] = {"Type": kind}
        target = (
            fields.pop("target", None) or fields.pop("destination", None) or fields.pop("dst", None)
        )
        if not target:
            raise _invalid("--mount", value, "target is required")
        mount["Target"] = target
        source = fields.pop("source", None) or fields.pop("src", None)
        if source:
            mount["Source"] = source
        readonly = fields.pop("readonly", None) or fields.pop("ro", None)
        if readonly is not None:
            mount["ReadOnly"] = readonly.lower() in ("1", "true")
        if kind == "bind":
            propagation = fields.pop("bind-propagation", None)
            if propagation:
                mount["BindOptions"] = {"Propagation": propagation}
        elif kind == "volume":
            opts: dict[str, Any] = {}
            if fields.pop("volume-nocopy", None) is not None:
                opts["NoCopy"] = True
            driver = fields.pop("volume-driver", None)
            if driver:
                opts["DriverConfig"] = {"Name": driver}
            if volume_labels:
                opts["Labels"] = volume_labels
            if opts:
                mount["VolumeOptions"] = opts
        elif kind == "tmpfs":
            opts = {}
            if "tmpfs-size" in fields:
                opts["SizeBytes"] = _typed(fields.pop("tmpfs-size"), "--mount", _bytes)
            if "tmpfs-mode" in fields:
                opts["Mode"] = int(fields.pop("tmpfs-mode"), 8)
            if opts:
                mount["TmpfsOptions"] = opts
        else:
            raise _invalid("--mount", value, f"unknown mount type: {kind!r}")
        fields.pop("consistency", None)
        if fields:
            raise _invalid("--mount", value, f"unexpected key '{next(iter(fields))}' in '{value}'")
        out.append(mount)
    return out


def _ports(values: list[str], expose: list[str]) -> tuple[dict[str, Any], dict[str, Any]]:
    """-p [ip:][hostPort:]containerPort[/proto] and --expose, with ranges."""
    exposed: dict[str, Any] = {}
    bindings: dict[str, list[dict[str, str]]] = {}
    for value in expose:
        ports, _, proto = value.partition("/")
        for n in _port_range(ports, value, "--expose"):
            exposed[f"{n}/{proto or 'tcp'}"] = {}
    for value in values:
        spec, _, proto = value.rpartition("/") if "/" in value else (value, "", "")
        proto = proto or "tcp"
        ip = ""
        if spec.startswith("["):
            end = spec.index("]")
            ip, spec = spec[1:end], spec[end + 2 :]
        parts = spec.split(":")
        if len(parts) == 1:
            host_port, container = "", parts[0]
        elif len(parts) == 2:
            host_port, container = parts
        elif len(parts) == 3:
            ip, host_port, container = parts
        else:
            raise _invalid("-p, --publish", value, f"invalid proto: {value}")
        containers = _port_range(container, value, "-p, --publish")
        hosts = _port_range(host_port, value, "-p, --publish") if host_port else []
        if hosts and len(containers) == 1 and len(hosts) > 1:
            # one container port, a host range: the engine picks a free one from it
            key = f"{containers[0]}/{proto}"
            exposed[key] = {}
            bindings.setdefault(key, []).append({"HostIp": ip, "HostPort": host_port})
            continue
        if hosts and len(hosts) != len(containers) and len(hosts) != 1:
            raise _invalid(
                "-p, --publish",
                value,
                f"invalid ranges specified for container and host Ports: {container} and"
                f" {host_port}",
            )
        for i, number in enumerate(containers):
            key = f"{number}/{proto}"
            exposed[key] = {}
            if not hosts:
                host = ""
            elif len(hosts) == 1 and len(containers) > 1:
                host = f"{hosts[0]}"
            else:
                host = str(hosts[i])
            bindings.setdefault(key, []).append({"HostIp": ip, "HostPort": host})
    return exposed, bindings


def _port_range(text: str, value: str, flag: str) -> list[int]:
    start, sep, end = text.partition("-")
    try:
        first = int(start)
        last = int(end) if sep else first
    except ValueError:
        raise _invalid(flag, value, f"invalid containerPort: {text}") from None
    if not (0 < first <= last <= 65535):
        raise _invalid(flag, value, f"invalid port range: {text}")
    return list(range(first, last + 1))


def _healthcheck(ns: SimpleNamespace) -> dict[str, Any] | None:
    if ns.no_healthcheck:
        if any(
            v is not None
            for v in (
                ns.health_cmd,
                ns.health_interval,
                ns.health_timeout,
                ns.health_retries,
                ns.health_start_period,
            )
        ):
            raise UsageError("--no-healthcheck conflicts with --health-* options").with_code(125)
        return {"Test": ["NONE"]}
    check: dict[str, Any] = {}
    if ns.health_cmd is not None:
        check["Test"] = ["CMD-SHELL", ns.health_cmd]
    for attr, key, flag in (
        ("health_interval", "Interval", "--health-interval"),
        ("health_timeout", "Timeout", "--health-timeout"),
        ("health_start_period", "StartPeriod", "--health-start-period"),
        ("health_start_interval", "StartInterval", "--health-start-interval"),
    ):
        value = _typed(getattr(ns, attr), flag, _duration_ns)
        if value is not None:
            if value < 0:
                raise UsageError(f"{flag} cannot be negative").with_code(125)
            check[key] = value
    retries = _typed(ns.health_retries, "--health-retries", _int)
    if retries is not None:
        if retries < 0:
            raise UsageError("--health-retries cannot be negative").with_code(125)
        check["Retries"] = retries
    return check or None


def build_container_request(
    ns: SimpleNamespace, parser: CommandParser, *, detach: bool = False
) -> tuple[str, dict[str, Any], dict[str, Any], dict[str, Any]]:
    """(image, Config, HostConfig, NetworkingConfig) from parsed run/create flags.

    A bad flag value fails as Docker's CLI does: the message, the usage, exit 125.
    """
    try:
        return _build(ns, parser.command, detach)
    except _FlagValueError as exc:
        parser.fail(str(exc))


def _security_opts(opts: list[str], command_name: str) -> list[str]:
    """Docker's CLI sends a ``seccomp=FILE`` profile as its compacted JSON text."""
    out = []
    for opt in opts:
        key, sep, value = opt.partition("=")
        if not sep:
            key, sep, value = opt.partition(":")
        special = value in ("", "unconfined", "builtin") or value.lstrip().startswith("{")
        if key == "seccomp" and not special:  # "{...}": already JSON, as the API takes it
            opt = "seccomp=" + _seccomp_profile(value, command_name)
        out.append(opt)
    return out


def _seccomp_profile(path: str, command_name: str) -> str:
    import json

    def fail(message: str) -> Exception:
        return UsageError(
            f"dockyard: {message}\n\nRun 'dockyard {command_name} --help' for more information"
        ).with_code(125)

    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as exc:
        reason = os.strerror(exc.errno).lower() if exc.errno else str(exc)
        op = "read" if isinstance(exc, IsADirectoryError) else "open"  # Go opens, then reads
        raise fail(f"opening seccomp profile ({path}) failed: {op} {path}: {reason}") from None
    try:
        doc = json.loads(data)
    except ValueError as exc:
        raise fail(f"compacting json for seccomp profile ({path}) failed: {exc}") from None
    return json.dumps(doc, separators=(",", ":"), ensure_ascii=False)


def _build(
    ns: SimpleNamespace, command_name: str, detach: bool
) -> tuple[str, dict[str, Any], dict[str, Any], dict[str, Any]]:
    image, command = ns.args[0], ns.args[1:]
    if ns.rm and ns.restart not in (None, "", "no"):
        raise UsageError(
            "dockyard: conflicting options: cannot specify both --restart and --rm\n\n"
            f"Run 'dockyard {command_name} --help' for more information"
        )
    env = [*(line for path in ns.env_file for line in read_env_file(path)), *_env(ns.env)]
    exposed, bindings = _ports(ns.publish, ns.expose)
    attach = [a.lower() for a in ns.attach]
    for stream in attach:
        if stream not in ("stdin", "stdout", "stderr"):
            raise UsageError(
                f'invalid argument {stream!r} for "-a, --attach" flag:'
                " valid streams are STDIN, STDOUT and STDERR"
            ).with_code(125)
    config: dict[str, Any] = {
        "Hostname": ns.hostname or "",
        "Domainname": ns.domainname or "",
        "User": ns.user or "",
        "AttachStdin": ("stdin" in attach) if attach else (ns.interactive and not detach),
        "AttachStdout": ("stdout" in attach) if attach else not detach,
        "AttachStderr": ("stderr" in attach) if attach else not detach,
        "ExposedPorts": exposed or None,
        "Tty": ns.tty,
        "OpenStdin": ns.interactive,
        "StdinOnce": ns.interactive and not detach,
        "Env": env or None,
        "Cmd": command or None,
        "Image": image,
        "Volumes": None,
        "WorkingDir": ns.workdir or "",
        "Entrypoint": None if ns.entrypoint is None else [ns.entrypoint],
        "OnBuild": None,
        "Labels": _labels(ns.label, ns.label_file),
    }
    if ns.stop_signal:
        config["StopSignal"] = ns.stop_signal
    timeout = _typed(ns.stop_timeout, "--stop-timeout", _int)
    if timeout is not None:
        config["StopTimeout"] = timeout
    health = _healthcheck(ns)
    if health is not None:
        config["Healthcheck"] = health
    if ns.mac_address:
        config["MacAddress"] = ns.mac_address
    memory = _typed(ns.memory, "-m, --memory", _bytes) or 0
    swap = _typed(ns.memory_swap, "--memory-swap", _swap) or 0
    if swap and swap != -1 and memory and swap < memory:
        raise UsageError(
            "Minimum memoryswap limit should be larger than memory limit, see usage"
        ).with_code(125)
    nano = _typed(ns.cpus, "--cpus", _nano_cpus) or 0
    cpu_quota = _typed(ns.cpu_quota, "--cpu-quota", _int) or 0
    cpu_period = _typed(ns.cpu_period, "--cpu-period", _int) or 0
    if nano and (cpu_quota or cpu_period):
        raise UsageError(
            "Conflicting options: Nano CPUs and CPU Period cannot both be set"
        ).with_code(125)
    pids = _typed(ns.pids_limit, "--pids-limit", _int)
    host: dict[str, Any] = {
        "Binds": list(ns.volume) or None,
        "ContainerIDFile": ns.cidfile or "",
        "LogConfig": {
            "Type": ns.log_driver or "",
            "Config": dict(o.partition("=")[::2] for o in ns.log_opt) or None,
        },
        "NetworkMode": ns.network or "default",
        "PortBindings": bindings or None,
        "RestartPolicy": _restart(ns.restart or "no"),
        "AutoRemove": ns.rm,
        "VolumeDriver": "",
        "VolumesFrom": list(ns.volumes_from) or None,
        "CapAdd": list(ns.cap_add) or None,
        "CapDrop": list(ns.cap_drop) or None,
        "CgroupnsMode": ns.cgroupns or "",
        "Dns": list(ns.dns),
        "DnsOptions": list(ns.dns_option),
        "DnsSearch": list(ns.dns_search),
        "ExtraHosts": list(ns.add_host) or None,
        "GroupAdd": list(ns.group_add) or None,
        "IpcMode": ns.ipc or "",
        "Links": list(ns.link) or None,
        "OomScoreAdj": _typed(ns.oom_score_adj, "--oom-score-adj", _int) or 0,
        "PidMode": ns.pid or "",
        "Privileged": ns.privileged,
        "PublishAllPorts": ns.publish_all,
        "ReadonlyRootfs": ns.read_only,
        "SecurityOpt": _security_opts(ns.security_opt, command_name) or None,
        "Tmpfs": _tmpfs(ns.tmpfs) or None,
        "UTSMode": ns.uts or "",
        "UsernsMode": ns.userns or "",
        "ShmSize": _typed(ns.shm_size, "--shm-size", _bytes) or 0,
        "Sysctls": dict(s.partition("=")[::2] for s in ns.sysctl) or None,
        "Runtime": ns.runtime or "",
        "Init": True if ns.init else None,
        "Mounts": _mounts(ns.mount) or None,
        "Memory": memory,
        "MemorySwap": swap,
        "MemoryReservation": _typed(ns.memory_reservation, "--memory-reservation", _bytes) or 0,
        "MemorySwappiness": _typed(ns.memory_swappiness, "--memory-swappiness", _int),
        "OomKillDisable": ns.oom_kill_disable,
        "NanoCpus": nano,
        "CpuShares": _typed(ns.cpu_shares, "-c, --cpu-shares", _int) or 0,
        "CpuPeriod": cpu_period,
        "CpuQuota": cpu_quota,
        "CpusetCpus": ns.cpuset_cpus or "",
        "CpusetMems": ns.cpuset_mems or "",
        "PidsLimit": pids,
        "Ulimits": _ulimits(ns.ulimit) or None,
        "Devices": _devices(ns.device),
        "CgroupParent": ns.cgroup_parent or "",
    }
    networking: dict[str, Any] = {"EndpointsConfig": {}}
    if ns.network_alias or ns.ip or ns.ip6:
        endpoint: dict[str, Any] = {}
        if ns.network_alias:
            endpoint["Aliases"] = list(ns.network_alias)
        if ns.ip or ns.ip6:
            endpoint["IPAMConfig"] = {"IPv4Address": ns.ip or "", "IPv6Address": ns.ip6 or ""}
        networking["EndpointsConfig"][ns.network or "default"] = endpoint
    return image, config, host, networking
