"""``build_spec``: a container's settings turned into an OCI runtime config.json.

Mirrors moby's ``daemon.createSpec`` (Docker 28): start from Docker's default
Linux spec, then apply the common options, cgroups, resources, sysctls, user,
devices, rlimits, namespaces, capabilities, seccomp and mounts. Everything the
host knows (volume paths, device numbers, namespace paths, /etc/passwd
contents, host facts) arrives already resolved; nothing here touches the disk
except reading the bundled default seccomp profile.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from dockyard.errors import InvalidArgument, SystemFailure
from dockyard.runtime.spec import caps as _caps
from dockyard.runtime.spec import seccomp as _seccomp
from dockyard.runtime.spec.mounts import INIT_PATH_IN_CONTAINER, build_mounts
from dockyard.runtime.spec.namespaces import build_namespaces
from dockyard.runtime.spec.process import command, environment
from dockyard.runtime.spec.resources import (
    build_devices,
    build_resources,
    build_rlimits,
    validate_sysctls,
)
from dockyard.runtime.spec.security import (
    SECCOMP_BUILTIN,
    SECCOMP_UNCONFINED,
    SecurityOptions,
    parse_security_opts,
)
from dockyard.runtime.spec.types import (
    DeviceNode,
    EtcFiles,
    HostInfo,
    MountSpec,
    SpecOptions,
)
from dockyard.runtime.spec.users import resolve_process_user

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing costs the run path ~3 ms to import
    from typing import Any

# Docker 28 writes 1.2.1, which crun 1.8 (Debian 12) refuses; 1.1.0 covers every field used.
OCI_VERSION = "1.1.0"

DEFAULT_MASKED_PATHS: tuple[str, ...] = (
    "/proc/acpi",
    "/proc/asound",
    "/proc/interrupts",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/sched_debug",
    "/proc/scsi",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/sys/devices/virtual/powercap",
    "/sys/firmware",
)
DEFAULT_READONLY_PATHS: tuple[str, ...] = (
    "/proc/bus",
    "/proc/fs",
    "/proc/irq",
    "/proc/sys",
    "/proc/sysrq-trigger",
)


def _str(d: Mapping[str, Any], key: str) -> str:
    v = d.get(key)
    return v if isinstance(v, str) else ""


def _is_private_mode(mode: str) -> bool:
    """moby's ``NetworkMode.IsPrivate`` / ``PidMode.IsPrivate``: not host, not container:."""
    return mode != "host" and not mode.startswith("container:")


def _seccomp_section(
    sec: SecurityOptions, privileged: bool, capabilities: Sequence[str], host: HostInfo
) -> dict[str, Any] | None:
    """moby's ``WithSeccomp``."""
    profile = sec.seccomp_profile
    if profile == SECCOMP_UNCONFINED:
        return None
    custom = profile not in ("", SECCOMP_BUILTIN)
    if privileged and not custom:
        return None
    if not host.seccomp and not privileged:
        if custom:
            raise InvalidArgument(
                "seccomp is not enabled in your kernel, cannot run a custom seccomp profile"
            )
        return None
    doc = _seccomp.parse_profile(profile) if custom else _seccomp.default_profile()
    return _seccomp.to_oci(doc, capabilities, host.arch, host.kernel)


def build_spec(
    config: Mapping[str, Any],
    host_config: Mapping[str, Any],
    image_config: Mapping[str, Any] | None = None,
    *,
    rootfs: str,
    cgroups_path: str,
    mounts: Sequence[MountSpec] = (),
    etc_files: EtcFiles | None = None,
    passwd: str | None = None,
    group: str | None = None,
    netns_path: str | None = None,
    namespace_paths: Mapping[str, str] | None = None,
    init_path: str | None = None,
    devices: Sequence[DeviceNode] = (),
    host_devices: Sequence[DeviceNode] = (),
    shm_path: str | None = None,
    host: HostInfo | None = None,
    options: SpecOptions | None = None,
) -> dict[str, Any]:
    """Build config.json (as a dict, keys in runtime-spec's Go order).

    ``config`` and ``host_config`` are Engine API ContainerConfig / HostConfig
    objects; ``image_config`` is the image config's ``config`` section. Binds
    and volumes come resolved in ``mounts`` (HostConfig.Tmpfs is read here).
    ``etc_files`` are the host paths of the generated resolv.conf, hostname
    and hosts. ``passwd`` / ``group`` are the image's /etc/passwd and
    /etc/group contents (None when absent). ``netns_path`` is the network
    namespace to join (a prepared one, or another container's);
    ``namespace_paths`` gives paths for ``container:<id>`` IPC/PID modes.
    ``init_path`` is the host's docker-init, needed when ``--init`` is on.
    ``devices`` are the ``--device`` nodes; ``host_devices`` every host device
    (used with ``--privileged``). ``shm_path`` is a host tmpfs for /dev/shm
    when the IPC mode shares one. ``host`` defaults to :func:`.host.detect_host`.

    Raises InvalidArgument with Docker's wording for bad input.
    """
    if host is None:
        from dockyard.runtime.spec.host import detect_host

        host = detect_host()
    options = options or SpecOptions()
    image = image_config or {}
    hc = host_config
    privileged = bool(hc.get("Privileged"))
    sec = parse_security_opts(hc.get("SecurityOpt"))
    network_mode = _str(hc, "NetworkMode")
    pid_mode = _str(hc, "PidMode")
    ipc_mode = _str(hc, "IpcMode")
    uts_mode = _str(hc, "UTSMode")

    # process
    args = command(config, image)
    init = hc.get("Init")
    if _is_private_mode(pid_mode) and (init is True or (init is None and options.init_by_default)):
        if not init_path:
            raise SystemFailure('exec: "docker-init": executable file not found in $PATH')
        args = [INIT_PATH_IN_CONTAINER, "--", *args]
    else:
        init_path = None
    user_spec = _str(config, "User") or _str(image, "User")
    user, home = resolve_process_user(user_spec, hc.get("GroupAdd") or (), passwd, group)
    hostname = "" if uts_mode == "host" else _str(config, "Hostname")
    env = environment(config, image, hostname=_str(config, "Hostname"), home=home)
    cwd = _str(config, "WorkingDir") or _str(image, "WorkingDir") or "/"
    capabilities = _caps.tweak_capabilities(
        hc.get("CapAdd"), hc.get("CapDrop"), privileged, host.capabilities
    )
    oom_score_adj = hc.get("OomScoreAdj") or 0
    if not -1000 <= oom_score_adj <= 1000:
        raise InvalidArgument(
            f"Invalid value {oom_score_adj}, range for oom score adj is [-1000, 1000]"
        )

    process: dict[str, Any] = {}
    if config.get("Tty"):
        process["terminal"] = True
    process["user"] = user
    process["args"] = args
    process["env"] = env
    process["cwd"] = cwd
    process["capabilities"] = (
        {"bounding": capabilities, "effective": capabilities, "permitted": capabilities}
        if capabilities
        else {}
    )
    rlimits = build_rlimits(hc.get("Ulimits"), options.default_ulimits)
    if rlimits:
        process["rlimits"] = rlimits
    if sec.no_new_privileges:
        process["noNewPrivileges"] = True
    process["oomScoreAdj"] = oom_score_adj

    # sysctls
    sysctl: dict[str, str] = {}
    if _str(config, "Domainname") and uts_mode != "host":
        sysctl["kernel.domainname"] = _str(config, "Domainname")
    if _is_private_mode(network_mode) and options.default_sysctls:
        sysctl["net.ipv4.ping_group_range"] = "0 2147483647"
        sysctl["net.ipv4.ip_unprivileged_port_start"] = "0"
    user_sysctls = hc.get("Sysctls") or {}
    validate_sysctls(user_sysctls, host_network=network_mode == "host", host_ipc=ipc_mode == "host")
    sysctl.update(user_sysctls)

    # resources and devices
    resources = build_resources(hc, swap_limit=host.swap_limit)
    device_nodes, device_rules = build_devices(
        devices,
        privileged=privileged,
        host_devices=host_devices,
        cgroup_rules=hc.get("DeviceCgroupRules") or (),
    )
    resources = {"devices": device_rules, **resources}

    paths = dict(namespace_paths or {})
    if netns_path:
        paths["network"] = netns_path
    namespaces = build_namespaces(
        network_mode=network_mode,
        ipc_mode=ipc_mode,
        pid_mode=pid_mode,
        uts_mode=uts_mode,
        cgroupns_mode=_str(hc, "CgroupnsMode"),
        cgroup_v2=host.cgroup_v2,
        paths=paths,
    )

    plan = build_mounts(
        mounts,
        tmpfs=hc.get("Tmpfs") or {},
        etc_files=etc_files,
        shm_size=hc.get("ShmSize") or 0,
        ipc_mode=ipc_mode,
        shm_path=shm_path,
        readonly_rootfs=bool(hc.get("ReadonlyRootfs")),
        privileged=privileged,
        writable_cgroups=sec.writable_cgroups,
        init_path=init_path,
        rro=host.rro,
    )

    masked = hc.get("MaskedPaths")
    readonly = hc.get("ReadonlyPaths")
    if masked is None:
        unconfined = privileged or sec.unconfined_systempaths
        masked = [] if unconfined else [*DEFAULT_MASKED_PATHS, *options.extra_masked_paths]
    if readonly is None:
        unconfined = privileged or sec.unconfined_systempaths
        readonly = [] if unconfined else list(DEFAULT_READONLY_PATHS)

    linux: dict[str, Any] = {}
    if sysctl:
        linux["sysctl"] = sysctl
    linux["resources"] = resources
    linux["cgroupsPath"] = cgroups_path
    linux["namespaces"] = namespaces
    if device_nodes:
        linux["devices"] = device_nodes
    seccomp = _seccomp_section(sec, privileged, capabilities, host)
    if seccomp is not None:
        linux["seccomp"] = seccomp
    if plan.rootfs_propagation:
        linux["rootfsPropagation"] = plan.rootfs_propagation
    if masked:
        linux["maskedPaths"] = list(masked)
    if readonly:
        linux["readonlyPaths"] = list(readonly)

    spec: dict[str, Any] = {"ociVersion": OCI_VERSION, "process": process}
    spec["root"] = {"path": rootfs}
    if hc.get("ReadonlyRootfs"):
        spec["root"]["readonly"] = True
    if hostname:
        spec["hostname"] = hostname
    spec["mounts"] = plan.mounts
    spec["linux"] = linux
    return spec
