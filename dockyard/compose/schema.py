"""The Compose file format as dockyard checks it, key by key (the Compose
Specification's structure, written out with :mod:`dockyard.compose.schemacheck`).

``validate(data)`` raises :class:`SchemaViolation` for the first problem found.
Quirks of the specification are kept on purpose (for example top-level ``networks``
and ``models`` tolerate keys outside the name pattern) so that dockyard accepts
exactly the files Docker Compose accepts.
"""

from __future__ import annotations

from typing import Any

from dockyard.compose.schemacheck import AnyValue, Array, Node, Object, OneOf, Scalar

NAME = "^[a-zA-Z0-9._-]+$"


def T(*types: str, **kw: Any) -> Scalar:
    return Scalar(tuple(types), **kw)


STR = T("string")
BOOL_OR_STR = T("boolean", "string")
INT_OR_STR = T("integer", "string")
NUM_OR_STR = T("number", "string")
STR_LIST = Array(STR)
LIST_OF_STRINGS = Array(STR, unique=True)
STRING_OR_LIST = OneOf(STR, LIST_OF_STRINGS)
LIST_OR_DICT = OneOf(
    Object(patterns=((".+", T("string", "number", "boolean", "null")),), x=False),
    Array(STR, unique=True),
)
EXTRA_HOSTS = OneOf(
    Object(patterns=((".+", OneOf(STR, Array(STR))),), x=False),
    Array(STR, unique=True),
)
COMMAND = OneOf(T("null"), STR, Array(STR))
DRIVER_OPTS = Object(patterns=(("^.+$", T("string", "number")),), extra=None, x=False)
SERVICE_HOOK = Object(
    {
        "command": COMMAND,
        "user": STR,
        "privileged": BOOL_OR_STR,
        "working_dir": STR,
        "environment": LIST_OR_DICT,
    },
    required=("command",),
)
ENV_FILE = OneOf(
    STR,
    Array(
        OneOf(
            STR,
            Object(
                {"path": STR, "format": STR, "required": BOOL_OR_STR},
                required=("path",),
                x=False,
            ),
        )
    ),
)
LABEL_FILE = OneOf(STR, Array(STR))
BLKIO_LIMIT = Object({"path": STR, "rate": INT_OR_STR}, x=False)
BLKIO_WEIGHT = Object({"path": STR, "weight": INT_OR_STR}, x=False)
CONFIG_OR_SECRET = Array(
    OneOf(
        STR,
        Object({"source": STR, "target": STR, "uid": STR, "gid": STR, "mode": NUM_OR_STR}),
    )
)
ULIMITS = Object(
    patterns=(
        (
            "^[a-z]+$",
            OneOf(
                INT_OR_STR,
                Object({"hard": INT_OR_STR, "soft": INT_OR_STR}, required=("soft", "hard")),
            ),
        ),
    ),
    extra=None,
    x=False,
)
_DEVICE_REQUEST_PROPS: dict[str, Node] = {
    "capabilities": LIST_OF_STRINGS,
    "count": T("string", "integer"),
    "device_ids": LIST_OF_STRINGS,
    "driver": STR,
    "options": LIST_OR_DICT,
}
DEVICES = Array(Object(dict(_DEVICE_REQUEST_PROPS), required=("capabilities",)))
GPUS = OneOf(
    T("string", enum=("all",)),
    Array(Object(dict(_DEVICE_REQUEST_PROPS), extra=None, x=False)),
)
GENERIC_RESOURCES = Array(
    Object({"discrete_resource_spec": Object({"kind": STR, "value": NUM_OR_STR})})
)
HEALTHCHECK = Object(
    {
        "disable": BOOL_OR_STR,
        "interval": STR,
        "retries": NUM_OR_STR,
        "test": OneOf(STR, Array(STR)),
        "timeout": STR,
        "start_period": STR,
        "start_interval": STR,
    }
)
DEVELOPMENT = Object(
    {
        "watch": Array(
            Object(
                {
                    "ignore": STRING_OR_LIST,
                    "include": STRING_OR_LIST,
                    "path": STR,
                    "action": T(
                        "string",
                        enum=("rebuild", "sync", "restart", "sync+restart", "sync+exec"),
                    ),
                    "target": STR,
                    "exec": SERVICE_HOOK,
                    "initial_sync": T("boolean"),
                },
                required=("path", "action"),
            )
        )
    },
    also=("null",),
)
_UPDATE = Object(
    {
        "parallelism": INT_OR_STR,
        "delay": STR,
        "failure_action": STR,
        "monitor": STR,
        "max_failure_ratio": NUM_OR_STR,
        "order": T("string", enum=("start-first", "stop-first")),
    }
)
DEPLOYMENT = Object(
    {
        "mode": STR,
        "endpoint_mode": STR,
        "replicas": INT_OR_STR,
        "labels": LIST_OR_DICT,
        "rollback_config": _UPDATE,
        "update_config": _UPDATE,
        "resources": Object(
            {
                "limits": Object({"cpus": NUM_OR_STR, "memory": STR, "pids": INT_OR_STR}),
                "reservations": Object(
                    {
                        "cpus": NUM_OR_STR,
                        "memory": STR,
                        "generic_resources": GENERIC_RESOURCES,
                        "devices": DEVICES,
                    }
                ),
            }
        ),
        "restart_policy": Object(
            {"condition": STR, "delay": STR, "max_attempts": INT_OR_STR, "window": STR}
        ),
        "placement": Object(
            {
                "constraints": Array(STR),
                "preferences": Array(Object({"spread": STR})),
                "max_replicas_per_node": INT_OR_STR,
            }
        ),
    },
    also=("null",),
)
BUILD = OneOf(
    STR,
    Object(
        {
            "context": STR,
            "dockerfile": STR,
            "dockerfile_inline": STR,
            "entitlements": Array(STR),
            "args": LIST_OR_DICT,
            "ssh": LIST_OR_DICT,
            "labels": LIST_OR_DICT,
            "cache_from": Array(STR),
            "cache_to": Array(STR),
            "no_cache": BOOL_OR_STR,
            "additional_contexts": LIST_OR_DICT,
            "network": STR,
            "provenance": BOOL_OR_STR,
            "sbom": BOOL_OR_STR,
            "pull": BOOL_OR_STR,
            "target": STR,
            "shm_size": INT_OR_STR,
            "extra_hosts": EXTRA_HOSTS,
            "isolation": STR,
            "privileged": BOOL_OR_STR,
            "secrets": CONFIG_OR_SECRET,
            "tags": Array(STR),
            "ulimits": ULIMITS,
            "platforms": Array(STR),
        }
    ),
)
DEPENDS_ON = OneOf(
    LIST_OF_STRINGS,
    Object(
        patterns=(
            (
                NAME,
                Object(
                    {
                        "restart": BOOL_OR_STR,
                        "required": T("boolean"),
                        "condition": T(
                            "string",
                            enum=(
                                "service_started",
                                "service_healthy",
                                "service_completed_successfully",
                            ),
                        ),
                    },
                    required=("condition",),
                ),
            ),
        ),
        x=False,
    ),
)
SERVICE_NETWORKS = OneOf(
    LIST_OF_STRINGS,
    Object(
        patterns=(
            (
                NAME,
                OneOf(
                    Object(
                        {
                            "aliases": LIST_OF_STRINGS,
                            "interface_name": STR,
                            "ipv4_address": STR,
                            "ipv6_address": STR,
                            "link_local_ips": LIST_OF_STRINGS,
                            "mac_address": STR,
                            "driver_opts": DRIVER_OPTS,
                            "priority": T("number"),
                            "gw_priority": T("number"),
                        }
                    ),
                    T("null"),
                ),
            ),
        ),
        x=False,
    ),
)
PORTS = Array(
    OneOf(
        T("number"),
        STR,
        Object(
            {
                "name": STR,
                "mode": STR,
                "host_ip": STR,
                "target": INT_OR_STR,
                "published": T("string", "integer"),
                "protocol": STR,
                "app_protocol": STR,
            }
        ),
    ),
    unique=True,
)
SERVICE_VOLUMES = Array(
    OneOf(
        STR,
        Object(
            {
                "type": T("string", enum=("bind", "volume", "tmpfs", "cluster", "npipe", "image")),
                "source": STR,
                "target": STR,
                "read_only": BOOL_OR_STR,
                "consistency": STR,
                "bind": Object(
                    {
                        "propagation": STR,
                        "create_host_path": BOOL_OR_STR,
                        "recursive": T(
                            "string", enum=("enabled", "disabled", "writable", "readonly")
                        ),
                        "selinux": T("string", enum=("z", "Z")),
                    }
                ),
                "volume": Object({"labels": LIST_OR_DICT, "nocopy": BOOL_OR_STR, "subpath": STR}),
                "tmpfs": Object(
                    {
                        "size": OneOf(T("integer", minimum=0), STR),
                        "mode": NUM_OR_STR,
                    }
                ),
                "image": Object({"subpath": STR}),
            },
            required=("type",),
        ),
    ),
    unique=True,
)
SERVICE = Object(
    {
        "develop": DEVELOPMENT,
        "deploy": DEPLOYMENT,
        "annotations": LIST_OR_DICT,
        "attach": BOOL_OR_STR,
        "build": BUILD,
        "blkio_config": Object(
            {
                "device_read_bps": Array(BLKIO_LIMIT),
                "device_read_iops": Array(BLKIO_LIMIT),
                "device_write_bps": Array(BLKIO_LIMIT),
                "device_write_iops": Array(BLKIO_LIMIT),
                "weight": INT_OR_STR,
                "weight_device": Array(BLKIO_WEIGHT),
            },
            x=False,
        ),
        "cap_add": Array(STR, unique=True),
        "cap_drop": Array(STR, unique=True),
        "cgroup": T("string", enum=("host", "private")),
        "cgroup_parent": STR,
        "command": COMMAND,
        "configs": CONFIG_OR_SECRET,
        "container_name": T("string", pattern="[a-zA-Z0-9][a-zA-Z0-9_.-]+"),
        "cpu_count": OneOf(STR, T("integer", minimum=0)),
        "cpu_percent": OneOf(STR, T("integer", minimum=0, maximum=100)),
        "cpu_shares": NUM_OR_STR,
        "cpu_quota": NUM_OR_STR,
        "cpu_period": NUM_OR_STR,
        "cpu_rt_period": NUM_OR_STR,
        "cpu_rt_runtime": NUM_OR_STR,
        "cpus": NUM_OR_STR,
        "cpuset": STR,
        "credential_spec": Object({"config": STR, "file": STR, "registry": STR}),
        "depends_on": DEPENDS_ON,
        "device_cgroup_rules": LIST_OF_STRINGS,
        "devices": Array(
            OneOf(
                STR,
                Object({"source": STR, "target": STR, "permissions": STR}, required=("source",)),
            )
        ),
        "dns": STRING_OR_LIST,
        "dns_opt": Array(STR, unique=True),
        "dns_search": STRING_OR_LIST,
        "domainname": STR,
        "entrypoint": COMMAND,
        "env_file": ENV_FILE,
        "label_file": LABEL_FILE,
        "environment": LIST_OR_DICT,
        "expose": Array(T("string", "number"), unique=True),
        "extends": OneOf(
            STR, Object({"service": STR, "file": STR}, required=("service",), x=False)
        ),
        "provider": Object(
            {
                "type": STR,
                "options": Object(
                    patterns=(
                        (
                            "^.+$",
                            OneOf(
                                T("string", "number", "boolean"),
                                Array(T("string", "number", "boolean")),
                            ),
                        ),
                    ),
                    extra=None,
                    x=False,
                ),
            },
            required=("type",),
        ),
        "external_links": Array(STR, unique=True),
        "extra_hosts": EXTRA_HOSTS,
        "gpus": GPUS,
        "group_add": Array(T("string", "number"), unique=True),
        "healthcheck": HEALTHCHECK,
        "hostname": STR,
        "image": STR,
        "init": BOOL_OR_STR,
        "ipc": STR,
        "isolation": STR,
        "labels": LIST_OR_DICT,
        "links": Array(STR, unique=True),
        "logging": Object(
            {
                "driver": STR,
                "options": Object(
                    patterns=(("^.+$", T("string", "number", "null")),), extra=None, x=False
                ),
            }
        ),
        "mac_address": STR,
        "mem_limit": NUM_OR_STR,
        "mem_reservation": T("string", "integer"),
        "mem_swappiness": INT_OR_STR,
        "memswap_limit": NUM_OR_STR,
        "network_mode": STR,
        "models": OneOf(
            LIST_OF_STRINGS,
            Object(
                patterns=((NAME, Object({"endpoint_var": STR, "model_var": STR})),),
                extra=None,
                x=False,
            ),
        ),
        "networks": SERVICE_NETWORKS,
        "oom_kill_disable": BOOL_OR_STR,
        "oom_score_adj": OneOf(STR, T("integer", minimum=-1000, maximum=1000)),
        "pid": T("string", "null"),
        "pids_limit": NUM_OR_STR,
        "platform": STR,
        "ports": PORTS,
        "post_start": Array(SERVICE_HOOK),
        "pre_stop": Array(SERVICE_HOOK),
        "privileged": BOOL_OR_STR,
        "profiles": LIST_OF_STRINGS,
        "pull_policy": T(
            "string",
            pattern="always|never|build|if_not_present|missing|refresh|daily|weekly"
            "|every_([0-9]+[wdhms])+",
        ),
        "pull_refresh_after": STR,
        "read_only": BOOL_OR_STR,
        "restart": STR,
        "runtime": STR,
        "scale": INT_OR_STR,
        "security_opt": Array(STR, unique=True),
        "shm_size": NUM_OR_STR,
        "secrets": CONFIG_OR_SECRET,
        "sysctls": LIST_OR_DICT,
        "stdin_open": BOOL_OR_STR,
        "stop_grace_period": STR,
        "stop_signal": STR,
        "storage_opt": Object(extra=None, x=False),
        "tmpfs": STRING_OR_LIST,
        "tty": BOOL_OR_STR,
        "ulimits": ULIMITS,
        "use_api_socket": T("boolean"),
        "user": STR,
        "uts": STR,
        "userns_mode": STR,
        "volumes": SERVICE_VOLUMES,
        "volumes_from": Array(STR, unique=True),
        "working_dir": STR,
    }
)
EXTERNAL = Object({"name": STR}, also=("boolean", "string"))
EXTERNAL_LOOSE = Object({"name": STR}, extra=None, x=False, also=("boolean", "string"))
NETWORK = Object(
    {
        "name": STR,
        "driver": STR,
        "driver_opts": DRIVER_OPTS,
        "ipam": Object(
            {
                "driver": STR,
                "config": Array(
                    Object(
                        {
                            "subnet": STR,
                            "ip_range": STR,
                            "gateway": STR,
                            "aux_addresses": Object(patterns=(("^.+$", STR),), x=False),
                        }
                    )
                ),
                "options": Object(patterns=(("^.+$", STR),), x=False),
            }
        ),
        "external": EXTERNAL,
        "internal": BOOL_OR_STR,
        "enable_ipv4": BOOL_OR_STR,
        "enable_ipv6": BOOL_OR_STR,
        "attachable": BOOL_OR_STR,
        "labels": LIST_OR_DICT,
    },
    also=("null",),
)
VOLUME = Object(
    {
        "name": STR,
        "driver": STR,
        "driver_opts": DRIVER_OPTS,
        "external": EXTERNAL,
        "labels": LIST_OR_DICT,
    },
    also=("null",),
)
SECRET = Object(
    {
        "name": STR,
        "environment": STR,
        "file": STR,
        "external": EXTERNAL_LOOSE,
        "labels": LIST_OR_DICT,
        "driver": STR,
        "driver_opts": DRIVER_OPTS,
        "template_driver": STR,
    }
)
CONFIG = Object(
    {
        "name": STR,
        "content": STR,
        "environment": STR,
        "file": STR,
        "external": EXTERNAL_LOOSE,
        "labels": LIST_OR_DICT,
        "template_driver": STR,
    }
)
MODEL = Object(
    {
        "name": STR,
        "model": STR,
        "context_size": T("integer"),
        "runtime_flags": Array(STR),
    },
    required=("model",),
)
INCLUDE = OneOf(
    STR,
    Object(
        {"path": STRING_OR_LIST, "env_file": STRING_OR_LIST, "project_directory": STR},
        x=False,
    ),
)
COMPOSE_FILE = Object(
    {
        "version": STR,
        "name": STR,
        "include": Array(INCLUDE),
        "services": Object(patterns=((NAME, SERVICE),), x=False),
        "models": Object(patterns=((NAME, MODEL),), extra=None, x=False),
        "networks": Object(patterns=((NAME, NETWORK),), extra=None, x=False),
        "volumes": Object(patterns=((NAME, VOLUME),), x=False),
        "secrets": Object(patterns=((NAME, SECRET),), x=False),
        "configs": Object(patterns=((NAME, CONFIG),), x=False),
    }
)

__all__ = ["COMPOSE_FILE", "AnyValue", "validate"]


def validate(data: Any) -> None:
    """Raise :class:`~dockyard.compose.schemacheck.SchemaViolation` if ``data`` is not a
    valid compose file (after interpolation, before merging)."""
    COMPOSE_FILE.check(data, "")
