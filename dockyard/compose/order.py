"""Key order of ``docker compose config`` output: compose-go's struct field order for
known keys, sorted keys for user-named mappings, ``x-`` extensions last."""

from __future__ import annotations

from typing import Any

SERVICE = [
    "profiles",
    "annotations",
    "attach",
    "build",
    "develop",
    "blkio_config",
    "cap_add",
    "cap_drop",
    "cgroup_parent",
    "cgroup",
    "cpu_count",
    "cpu_percent",
    "cpu_period",
    "cpu_quota",
    "cpu_rt_period",
    "cpu_rt_runtime",
    "cpus",
    "cpuset",
    "cpu_shares",
    "command",
    "configs",
    "container_name",
    "credential_spec",
    "depends_on",
    "deploy",
    "device_cgroup_rules",
    "devices",
    "dns",
    "dns_opt",
    "dns_search",
    "dockerfile",
    "domainname",
    "entrypoint",
    "provider",
    "environment",
    "env_file",
    "expose",
    "extends",
    "external_links",
    "extra_hosts",
    "group_add",
    "gpus",
    "hostname",
    "healthcheck",
    "image",
    "init",
    "ipc",
    "isolation",
    "labels",
    "label_file",
    "links",
    "logging",
    "log_driver",
    "log_opt",
    "mem_limit",
    "mem_reservation",
    "memswap_limit",
    "mem_swappiness",
    "mac_address",
    "models",
    "net",
    "network_mode",
    "networks",
    "oom_kill_disable",
    "oom_score_adj",
    "pid",
    "pids_limit",
    "platform",
    "ports",
    "privileged",
    "pull_policy",
    "pull_refresh_after",
    "read_only",
    "restart",
    "runtime",
    "scale",
    "secrets",
    "security_opt",
    "shm_size",
    "stdin_open",
    "stop_grace_period",
    "stop_signal",
    "storage_opt",
    "sysctls",
    "tmpfs",
    "tty",
    "ulimits",
    "use_api_socket",
    "user",
    "userns_mode",
    "uts",
    "volume_driver",
    "volumes",
    "volumes_from",
    "working_dir",
    "post_start",
    "pre_stop",
]
BUILD = [
    "context",
    "dockerfile",
    "dockerfile_inline",
    "entitlements",
    "args",
    "ssh",
    "labels",
    "cache_from",
    "cache_to",
    "no_cache",
    "additional_contexts",
    "network",
    "provenance",
    "sbom",
    "pull",
    "target",
    "shm_size",
    "extra_hosts",
    "isolation",
    "privileged",
    "secrets",
    "tags",
    "ulimits",
    "platforms",
]
HEALTHCHECK = [
    "test",
    "timeout",
    "interval",
    "retries",
    "start_period",
    "start_interval",
    "disable",
]
DEPLOY = [
    "mode",
    "replicas",
    "labels",
    "update_config",
    "rollback_config",
    "resources",
    "restart_policy",
    "placement",
    "endpoint_mode",
]
RESOURCE = ["cpus", "memory", "pids", "devices", "generic_resources"]
PORT = ["name", "mode", "host_ip", "target", "published", "protocol", "app_protocol"]
MOUNT = ["type", "source", "target", "read_only", "consistency", "bind", "volume", "tmpfs", "image"]
BIND = ["selinux", "propagation", "create_host_path", "recursive"]
VOLUME_OPTIONS = ["labels", "nocopy", "subpath"]
TRIGGER = ["path", "action", "target", "exec", "include", "ignore", "initial_sync"]
DEPENDENCY = ["condition", "restart", "required"]
SERVICE_NETWORK = [  # compose-go v2.13's ServiceNetworkConfig field order
    "aliases",
    "driver_opts",
    "gw_priority",
    "interface_name",
    "ipv4_address",
    "ipv6_address",
    "link_local_ips",
    "mac_address",
    "priority",
]
NETWORK = [
    "name",
    "driver",
    "driver_opts",
    "ipam",
    "external",
    "internal",
    "enable_ipv4",
    "enable_ipv6",
    "attachable",
    "labels",
]
VOLUME = ["name", "driver", "driver_opts", "external", "labels"]
SECRET = [
    "name",
    "content",
    "environment",
    "file",
    "external",
    "labels",
    "driver",
    "driver_opts",
    "template_driver",
]
SERVICE_MOUNT = ["source", "target", "uid", "gid", "mode"]
TOP = ["name", "services", "networks", "volumes", "secrets", "configs", "models"]


def ordered(mapping: dict[str, Any], keys: list[str]) -> dict[str, Any]:
    result = {k: mapping[k] for k in keys if k in mapping}
    rest = [k for k in mapping if k not in result]
    for key in sorted(k for k in rest if not k.startswith("x-")):
        result[key] = mapping[key]
    # extensions are a Go map in compose-go: written last, keys sorted at every level
    for key in sorted(k for k in rest if k.startswith("x-")):
        result[key] = _sorted_deep(mapping[key])
    return result


def _sorted_deep(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _sorted_deep(value[k]) for k in sorted(value, key=str)}
    if isinstance(value, list):
        return [_sorted_deep(v) for v in value]
    return value


def _service(service: dict[str, Any]) -> dict[str, Any]:
    s = dict(service)
    if isinstance(s.get("build"), dict):
        s["build"] = ordered(s["build"], BUILD)
    if isinstance(s.get("healthcheck"), dict):
        s["healthcheck"] = ordered(s["healthcheck"], HEALTHCHECK)
    if isinstance(s.get("deploy"), dict):
        deploy = ordered(s["deploy"], DEPLOY)
        resources = deploy.get("resources")
        if isinstance(resources, dict):
            deploy["resources"] = ordered(
                {
                    k: ordered(v, RESOURCE) if isinstance(v, dict) else v
                    for k, v in resources.items()
                },
                ["limits", "reservations"],
            )
        s["deploy"] = deploy
    if isinstance(s.get("ports"), list):
        s["ports"] = [ordered(p, PORT) if isinstance(p, dict) else p for p in s["ports"]]
    if isinstance(s.get("volumes"), list):
        s["volumes"] = [
            ordered(
                {
                    **v,
                    **(
                        {"bind": ordered(v["bind"], BIND)}
                        if isinstance(v.get("bind"), dict)
                        else {}
                    ),
                    **(
                        {"volume": ordered(v["volume"], VOLUME_OPTIONS)}
                        if isinstance(v.get("volume"), dict)
                        else {}
                    ),
                },
                MOUNT,
            )
            if isinstance(v, dict)
            else v
            for v in s["volumes"]
        ]
    develop = s.get("develop")
    if isinstance(develop, dict) and isinstance(develop.get("watch"), list):
        s["develop"] = {
            **develop,
            "watch": [ordered(t, TRIGGER) if isinstance(t, dict) else t for t in develop["watch"]],
        }
    if isinstance(s.get("depends_on"), dict):
        s["depends_on"] = {
            k: ordered(v, DEPENDENCY) if isinstance(v, dict) else v
            for k, v in s["depends_on"].items()
        }
    if isinstance(s.get("networks"), dict):
        s["networks"] = {
            k: ordered(v, SERVICE_NETWORK) if isinstance(v, dict) else v
            for k, v in s["networks"].items()
        }
    for key in ("secrets", "configs"):
        if isinstance(s.get(key), list):
            s[key] = [ordered(m, SERVICE_MOUNT) if isinstance(m, dict) else m for m in s[key]]
    return ordered(s, SERVICE)


def order_model(model: dict[str, Any]) -> dict[str, Any]:
    result = ordered(model, TOP)
    if isinstance(result.get("services"), dict):
        result["services"] = {
            name: _service(svc) for name, svc in sorted(result["services"].items())
        }
    for kind, keys in (
        ("networks", NETWORK),
        ("volumes", VOLUME),
        ("secrets", SECRET),
        ("configs", SECRET),
    ):
        if isinstance(result.get(kind), dict):
            result[kind] = {
                name: ordered(spec, keys) if isinstance(spec, dict) else spec
                for name, spec in sorted(result[kind].items())
            }
    return result
