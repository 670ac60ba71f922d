"""``com.docker.compose.config-hash`` with Docker Compose v2's bytes.

Compose computes it in pkg/compose/hash.go ``ServiceHash``: it clears ``Build``,
``PullPolicy``, ``Scale``, ``Deploy.Replicas``, ``DependsOn`` and ``Profiles`` of the
loaded ``types.ServiceConfig`` (compose-go v2) and takes the SHA-256 of ``json.Marshal``
of what is left. The bytes therefore follow Go's encoding/json over compose-go's
structs: fields in struct order, ``omitempty`` (false, 0, "", nil and empty
slices/maps dropped; structs never), ``omitzero`` on the opt-out booleans (dropped
when *true*), map keys sorted, HTML characters escaped (``\\u003c``...), and the
custom marshallers: ``UnitBytes`` as a decimal string, ``Duration`` as Go's
``time.Duration.String``, ``HostsList`` as a sorted ``host=ip`` list, ``UlimitsConfig``
as a bare number when single, ``FileMode`` as an octal string, float32 in Go's
shortest form. ``command``/``entrypoint`` have no omitempty (``null`` when unset).

The service given is dockyard's normalised service (compose-go's canonical model as
``docker compose config`` prints it). Before hashing, what compose-go's loader and
``up`` do to the struct is applied: the default secret target
(``/run/secrets/<source>``), env_file dropped once resolved
(``WithServicesEnvironmentResolved(true)``; label_file stays, its labels merged),
short device mappings and ``gpus`` defaults expanded; and, as reconcile.go's
``serviceHashWithResolvedRefs`` does, ``service:`` references (network_mode, ipc,
pid, volumes_from) replaced by the ID of the referenced service's first container
when a resolver is given.

Field tables mirror compose-go v2.13 ``types/types.go`` (and build.go, develop.go,
hooks.go, healthcheck.go, device.go, envfile.go, models.go). Keys the tables do not
know (``x-`` extensions: ``json:"-"``) are not hashed, as in Compose. The output is
checked byte for byte against compose-go itself (docs/compose-confighash.md).
"""

from __future__ import annotations

import hashlib
import json
import math
import struct
from collections.abc import Callable
from typing import Any

from dockyard.compose.normalize import go_duration
from dockyard.golang.units import parse_go_duration_ns

# A field: (json name, kind, omitempty). Kinds are strings for scalars and tuples for
# composites: ("ptr", fields) a pointer to a struct, ("struct", fields) a struct
# value, ("list", kind), ("map", kind).
Field = tuple[str, Any, bool]

STR, BOOL, INT, F32 = "str", "bool", "int", "f32"
BYTES, DURATION, PTR_DURATION = "bytes", "duration", "ptr_duration"
PTR_BOOL, PTR_INT = "ptr_bool", "ptr_int"
COMMAND, HOSTS, ULIMIT, FILEMODE = "command", "hosts", "ulimit", "filemode"
OPT_OUT = "opt_out"  # OptOut bool with omitzero: dropped when true
NULLABLE_STR = "nullable_str"  # *string, in MappingWithEquals


def _list(kind: Any) -> tuple[str, Any]:
    return ("list", kind)


def _map(kind: Any) -> tuple[str, Any]:
    return ("map", kind)


def _ptr(fields: list[Field]) -> tuple[str, Any]:
    return ("ptr", fields)


def _struct(fields: list[Field]) -> tuple[str, Any]:
    return ("struct", fields)


LIST_STR = _list(STR)
MAP_STR = _map(STR)

SERVICE_HOOK: list[Field] = [
    ("command", COMMAND, False),
    ("image", STR, True),
    ("user", STR, True),
    ("privileged", BOOL, True),
    ("working_dir", STR, True),
    ("environment", _map(NULLABLE_STR), True),
    ("per_replica", BOOL, True),
]
TRIGGER: list[Field] = [
    ("path", STR, False),
    ("action", STR, False),
    ("target", STR, True),
    ("exec", _struct(SERVICE_HOOK), True),
    ("include", LIST_STR, True),
    ("ignore", LIST_STR, True),
    ("initial_sync", BOOL, True),
]
DEVELOP: list[Field] = [("watch", _list(_struct(TRIGGER)), True)]
WEIGHT_DEVICE: list[Field] = [("Path", STR, False), ("Weight", INT, False)]
THROTTLE_DEVICE: list[Field] = [("Path", STR, False), ("Rate", BYTES, False)]
BLKIO: list[Field] = [
    ("weight", INT, True),
    ("weight_device", _list(_struct(WEIGHT_DEVICE)), True),
    ("device_read_bps", _list(_struct(THROTTLE_DEVICE)), True),
    ("device_read_iops", _list(_struct(THROTTLE_DEVICE)), True),
    ("device_write_bps", _list(_struct(THROTTLE_DEVICE)), True),
    ("device_write_iops", _list(_struct(THROTTLE_DEVICE)), True),
]
FILE_REFERENCE: list[Field] = [
    ("source", STR, True),
    ("target", STR, True),
    ("uid", STR, True),
    ("gid", STR, True),
    ("mode", FILEMODE, True),
]
CREDENTIAL_SPEC: list[Field] = [
    ("config", STR, True),
    ("file", STR, True),
    ("registry", STR, True),
]
DEVICE_REQUEST: list[Field] = [
    ("capabilities", LIST_STR, True),
    ("driver", STR, True),
    ("count", "device_count", True),
    ("device_ids", LIST_STR, True),
    ("options", MAP_STR, True),
]
GENERIC_RESOURCE: list[Field] = [
    ("discrete_resource_spec", _ptr([("kind", STR, False), ("value", INT, False)]), True),
]
RESOURCE: list[Field] = [
    ("cpus", F32, True),
    ("memory", BYTES, True),
    ("pids", INT, True),
    ("devices", _list(_struct(DEVICE_REQUEST)), True),
    ("generic_resources", _list(_struct(GENERIC_RESOURCE)), True),
]
UPDATE_CONFIG: list[Field] = [
    ("parallelism", PTR_INT, True),
    ("delay", DURATION, True),
    ("failure_action", STR, True),
    ("monitor", DURATION, True),
    ("max_failure_ratio", F32, True),
    ("order", STR, True),
]
RESTART_POLICY: list[Field] = [
    ("condition", STR, True),
    ("delay", PTR_DURATION, True),
    ("max_attempts", PTR_INT, True),
    ("window", PTR_DURATION, True),
]
PLACEMENT: list[Field] = [
    ("constraints", LIST_STR, True),
    ("preferences", _list(_struct([("spread", STR, True)])), True),
    ("max_replicas_per_node", INT, True),
]
DEPLOY: list[Field] = [
    ("mode", STR, True),
    ("replicas", PTR_INT, True),
    ("labels", MAP_STR, True),
    ("update_config", _ptr(UPDATE_CONFIG), True),
    ("rollback_config", _ptr(UPDATE_CONFIG), True),
    (
        "resources",
        _struct([("limits", _ptr(RESOURCE), True), ("reservations", _ptr(RESOURCE), True)]),
        True,
    ),
    ("restart_policy", _ptr(RESTART_POLICY), True),
    ("placement", _struct(PLACEMENT), True),
    ("endpoint_mode", STR, True),
]
DEVICE_MAPPING: list[Field] = [
    ("source", STR, True),
    ("target", STR, True),
    ("permissions", STR, True),
]
PROVIDER: list[Field] = [("type", STR, True), ("options", _map(LIST_STR), True)]
ENV_FILE: list[Field] = [
    ("path", STR, True),
    ("required", OPT_OUT, True),
    ("format", STR, True),
]
EXTENDS: list[Field] = [("file", STR, True), ("service", STR, True)]
HEALTHCHECK: list[Field] = [
    ("test", LIST_STR, True),
    ("timeout", PTR_DURATION, True),
    ("interval", PTR_DURATION, True),
    ("retries", PTR_INT, True),
    ("start_period", PTR_DURATION, True),
    ("start_interval", PTR_DURATION, True),
    ("disable", BOOL, True),
]
LOGGING: list[Field] = [("driver", STR, True), ("options", MAP_STR, True)]
SERVICE_MODEL: list[Field] = [("endpoint_var", STR, True), ("model_var", STR, True)]
SERVICE_NETWORK: list[Field] = [
    ("aliases", LIST_STR, True),
    ("driver_opts", MAP_STR, True),
    ("gw_priority", INT, True),
    ("interface_name", STR, True),
    ("ipv4_address", STR, True),
    ("ipv6_address", STR, True),
    ("link_local_ips", LIST_STR, True),
    ("mac_address", STR, True),
    ("priority", INT, True),
]
SERVICE_PORT: list[Field] = [
    ("name", STR, True),
    ("mode", STR, True),
    ("host_ip", STR, True),
    ("target", INT, True),
    ("published", STR, True),
    ("protocol", STR, True),
    ("app_protocol", STR, True),
]
VOLUME_BIND: list[Field] = [
    ("selinux", STR, True),
    ("propagation", STR, True),
    ("create_host_path", OPT_OUT, True),
    ("recursive", STR, True),
]
VOLUME_VOLUME: list[Field] = [
    ("labels", MAP_STR, True),
    ("nocopy", BOOL, True),
    ("subpath", STR, True),
]
VOLUME_TMPFS: list[Field] = [("size", BYTES, True), ("mode", INT, True)]
SERVICE_VOLUME: list[Field] = [
    ("type", STR, True),
    ("source", STR, True),
    ("target", STR, True),
    ("read_only", BOOL, True),
    ("consistency", STR, True),
    ("bind", _ptr(VOLUME_BIND), True),
    ("volume", _ptr(VOLUME_VOLUME), True),
    ("tmpfs", _ptr(VOLUME_TMPFS), True),
    ("image", _ptr([("subpath", STR, True)]), True),
]

# types.ServiceConfig, in its declaration order (Name and Extensions are json:"-").
SERVICE: list[Field] = [
    ("profiles", LIST_STR, True),
    ("annotations", MAP_STR, True),
    ("attach", PTR_BOOL, True),
    ("build", "cleared", True),
    ("develop", _ptr(DEVELOP), True),
    ("blkio_config", _ptr(BLKIO), True),
    ("cap_add", LIST_STR, True),
    ("cap_drop", LIST_STR, True),
    ("cgroup_parent", STR, True),
    ("cgroup", STR, True),
    ("cpu_count", INT, True),
    ("cpu_percent", F32, True),
    ("cpu_period", INT, True),
    ("cpu_quota", INT, True),
    ("cpu_rt_period", INT, True),
    ("cpu_rt_runtime", INT, True),
    ("cpus", F32, True),
    ("cpuset", STR, True),
    ("cpu_shares", INT, True),
    ("command", COMMAND, False),
    ("configs", _list(_struct(FILE_REFERENCE)), True),
    ("container_name", STR, True),
    ("credential_spec", _ptr(CREDENTIAL_SPEC), True),
    ("depends_on", "cleared", True),
    ("deploy", _ptr(DEPLOY), True),
    ("device_cgroup_rules", LIST_STR, True),
    ("devices", _list(_struct(DEVICE_MAPPING)), True),
    ("dns", LIST_STR, True),
    ("dns_opt", LIST_STR, True),
    ("dns_search", LIST_STR, True),
    ("dockerfile", STR, True),
    ("domainname", STR, True),
    ("entrypoint", COMMAND, False),
    ("provider", _ptr(PROVIDER), True),
    ("environment", _map(NULLABLE_STR), True),
    ("env_file", _list(_struct(ENV_FILE)), True),
    ("expose", LIST_STR, True),
    ("extends", _ptr(EXTENDS), True),
    ("external_links", LIST_STR, True),
    ("extra_hosts", HOSTS, True),
    ("group_add", LIST_STR, True),
    ("gpus", _list(_struct(DEVICE_REQUEST)), True),
    ("hostname", STR, True),
    ("healthcheck", _ptr(HEALTHCHECK), True),
    ("image", STR, True),
    ("init", PTR_BOOL, True),
    ("ipc", STR, True),
    ("isolation", STR, True),
    ("labels", MAP_STR, True),
    ("label_file", LIST_STR, True),
    ("links", LIST_STR, True),
    ("logging", _ptr(LOGGING), True),
    ("log_driver", STR, True),
    ("log_opt", MAP_STR, True),
    ("mem_limit", BYTES, True),
    ("mem_reservation", BYTES, True),
    ("memswap_limit", BYTES, True),
    ("mem_swappiness", BYTES, True),
    ("mac_address", STR, True),
    ("models", _map(_ptr(SERVICE_MODEL)), True),
    ("net", STR, True),
    ("network_mode", STR, True),
    ("networks", _map(_ptr(SERVICE_NETWORK)), True),
    ("oom_kill_disable", BOOL, True),
    ("oom_score_adj", INT, True),
    ("pid", STR, True),
    ("pids_limit", INT, True),
    ("platform", STR, True),
    ("ports", _list(_struct(SERVICE_PORT)), True),
    ("privileged", BOOL, True),
    ("pull_policy", "cleared", True),
    ("read_only", BOOL, True),
    ("restart", STR, True),
    ("runtime", STR, True),
    ("scale", "cleared", True),
    ("secrets", _list(_struct(FILE_REFERENCE)), True),
    ("security_opt", LIST_STR, True),
    ("shm_size", BYTES, True),
    ("stdin_open", BOOL, True),
    ("stop_grace_period", PTR_DURATION, True),
    ("stop_signal", STR, True),
    ("storage_opt", MAP_STR, True),
    ("sysctls", MAP_STR, True),
    ("tmpfs", LIST_STR, True),
    ("tty", BOOL, True),
    ("ulimits", _map(ULIMIT), True),
    ("use_api_socket", BOOL, True),
    ("user", STR, True),
    ("userns_mode", STR, True),
    ("uts", STR, True),
    ("volume_driver", STR, True),
    ("volumes", _list(_struct(SERVICE_VOLUME)), True),
    ("volumes_from", LIST_STR, True),
    ("working_dir", STR, True),
    ("pre_start", _list(_struct(SERVICE_HOOK)), True),
    ("post_start", _list(_struct(SERVICE_HOOK)), True),
    ("pre_stop", _list(_struct(SERVICE_HOOK)), True),
]

HASHED_KEYS = frozenset(name for name, kind, _ in SERVICE if kind != "cleared")
SCALAR_KINDS = frozenset({STR, BOOL, INT, F32, BYTES})

Resolver = Callable[[str], "str | None"]


# ------------------------------------------------------------------ Go's encoding


def go_string(text: str) -> str:
    """encoding/json's string: HTML-safe (``<``, ``>``, ``&``, U+2028/9 escaped),
    other non-ASCII kept as UTF-8."""
    encoded = json.dumps(text, ensure_ascii=False)
    return (
        encoded.replace("<", "\\u003c")
        .replace(">", "\\u003e")
        .replace("&", "\\u0026")
        .replace("\u2028", "\\u2028")
        .replace("\u2029", "\\u2029")
    )


def float32_value(value: float) -> float:
    return float(struct.unpack("<f", struct.pack("<f", value))[0])


def go_float32(value: float) -> str:
    """encoding/json's float32: the shortest decimal that reads back as the same
    float32, in 'f' form (exponent form below 1e-6 or from 1e21 on)."""
    f = float32_value(value)
    if math.isnan(f) or math.isinf(f):
        raise ValueError(f"json: unsupported value: {value}")
    if f == 0:
        return "0"
    digits = ""
    for precision in range(1, 18):
        candidate = f"{f:.{precision - 1}e}"
        if float32_value(float(candidate)) == f:
            digits = candidate
            break
    mantissa, _, exponent = digits.partition("e")
    exp = int(exponent)
    magnitude = abs(f)
    # compared as float32, as encoding/json does for 32-bit floats
    if magnitude < float32_value(1e-6) or magnitude >= float32_value(1e21):
        sign = "-" if exp < 0 else "+"
        return f"{mantissa}e{sign}{abs(exp):02d}".replace("e-0", "e-").replace("e+0", "e+")
    negative = mantissa.startswith("-")
    figures = mantissa.lstrip("-").replace(".", "")
    point = exp + 1  # digits before the decimal point
    if point <= 0:
        text = "0." + "0" * (-point) + figures
    elif point >= len(figures):
        text = figures + "0" * (point - len(figures))
    else:
        text = figures[:point] + "." + figures[point:]
    return ("-" if negative else "") + text


def _int(value: Any) -> int:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value)
    return int(str(value).strip())


def _bytes(value: Any) -> int:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return int(value)
    from dockyard.golang.units import ram_in_bytes

    text = str(value).strip()
    try:
        return int(text)
    except ValueError:
        return ram_in_bytes(text)


def _duration_ns(value: Any) -> int:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return int(value * 1_000_000_000)
    return parse_go_duration_ns(str(value))


def _device_count(value: Any) -> int:
    if isinstance(value, str) and value.lower() == "all":
        return -1
    return _int(value)


def is_empty(kind: Any, value: Any) -> bool:
    """Whether ``omitempty`` leaves a value of that kind out."""
    try:
        return _empty(kind, value)
    except (TypeError, ValueError):
        return False


def _empty(kind: Any, value: Any) -> bool:
    """Go's isEmptyValue for the field's Go type (the marshaller does not matter)."""
    if value is None:
        return True
    if isinstance(kind, tuple):
        if kind[0] in ("list", "map"):
            return len(value) == 0
        return kind[0] == "ptr" and value is None  # structs are never empty
    if kind in (STR,):
        return str(value) == ""
    if kind in (BOOL,):
        return not value
    if kind in (INT, "device_count"):
        return (_device_count(value) if kind == "device_count" else _int(value)) == 0
    if kind == F32:
        return float32_value(float(value)) == 0
    if kind == BYTES:
        return _bytes(value) == 0
    if kind == DURATION:
        return _duration_ns(value) == 0
    if kind == HOSTS:
        return len(value) == 0
    if kind == OPT_OUT:
        return bool(value)  # omitzero: OptOut.IsZero() is its value
    return False  # pointers (present means non-nil), COMMAND


def encode(kind: Any, value: Any) -> str:
    if isinstance(kind, tuple):
        shape, inner = kind
        if shape in ("ptr", "struct"):
            if value is None:
                return "null"
            return encode_struct(inner, value if isinstance(value, dict) else {})
        if shape == "list":
            if value is None:
                return "null"
            return "[" + ",".join(encode(inner, v) for v in value) + "]"
        if value is None:
            return "null"
        items = sorted((str(k), v) for k, v in value.items())
        return "{" + ",".join(f"{go_string(k)}:{encode(inner, v)}" for k, v in items) + "}"
    if value is None and kind in (NULLABLE_STR, COMMAND, PTR_BOOL, PTR_INT, PTR_DURATION):
        return "null"
    if kind in (STR, NULLABLE_STR):
        if value is None:
            return '""'
        if isinstance(value, bool):
            value = "true" if value else "false"
        return go_string(str(value))
    if kind in (BOOL, PTR_BOOL, OPT_OUT):
        return "true" if value else "false"
    if kind in (INT, PTR_INT):
        return str(_int(value))
    if kind == "device_count":
        return str(_device_count(value))
    if kind == F32:
        return go_float32(float(value))
    if kind == BYTES:
        return go_string(str(_bytes(value)))
    if kind in (DURATION, PTR_DURATION):
        return go_string(go_duration(_duration_ns(value)))
    if kind == COMMAND:
        return "[" + ",".join(go_string(str(v)) for v in value) + "]"
    if kind == HOSTS:
        return "[" + ",".join(go_string(h) for h in sorted(_hosts(value))) + "]"
    if kind == ULIMIT:
        # UlimitsConfig.MarshalJSON: the bare number when Single is set, else the
        # struct (soft/hard, omitempty) — so a single limit of 0 is {}
        limits = value if isinstance(value, dict) else {"single": value}
        single = _int(limits.get("single") or 0)
        if single:
            return str(single)
        return encode_struct(
            [("single", INT, True), ("soft", INT, True), ("hard", INT, True)], limits
        )
    if kind == FILEMODE:
        mode = int(value, 8) if isinstance(value, str) else _int(value)
        return go_string("0" + format(mode, "o"))
    raise ValueError(f"unknown field kind {kind!r}")


def _hosts(value: Any) -> list[str]:
    if isinstance(value, dict):
        out = []
        for host, ips in value.items():
            for ip in ips if isinstance(ips, list) else [ips]:
                out.append(f"{host}={'' if ip is None else ip}")
        return out
    result = []
    for entry in value:
        text = str(entry)
        if "=" not in text:
            host, _, ip = text.partition(":")
            text = f"{host}={ip}"
        result.append(text)
    return result


def _zero(kind: Any) -> str:
    """The JSON of a Go zero value (an absent field without omitempty)."""
    if kind == STR:
        return '""'
    if kind == BOOL:
        return "false"
    if kind in (INT, F32, "device_count"):
        return "0"
    if kind == BYTES:
        return '"0"'  # UnitBytes.MarshalJSON
    if kind == DURATION:
        return '"0s"'  # Duration.MarshalJSON
    if kind == OPT_OUT:
        return "false"
    return "null"  # nil slices, maps, pointers; a nil ShellCommand


def encode_struct(fields: list[Field], value: dict[str, Any]) -> str:
    parts = []
    for name, kind, omitempty in fields:
        if kind == "cleared":
            continue
        present = name in value
        item = value.get(name)
        if isinstance(kind, tuple) and kind[0] == "struct":
            # a struct value is always there (its zero value when absent)
            parts.append(f"{go_string(name)}:{encode(kind, item or {})}")
            continue
        if not present or item is None:
            if not omitempty:
                parts.append(f"{go_string(name)}:{_zero(kind)}")
            continue
        if omitempty and _empty(kind, item):
            continue
        parts.append(f"{go_string(name)}:{encode(kind, item)}")
    return "{" + ",".join(parts) + "}"


# ------------------------------------------------------------------ the service


def _device_mapping(value: Any) -> dict[str, Any]:
    if isinstance(value, dict):
        return value
    parts = str(value).split(":")
    source = parts[0]
    target = parts[1] if len(parts) > 1 and parts[1] else source
    permissions = parts[2] if len(parts) > 2 else "rwm"
    return {"source": source, "target": target, "permissions": permissions}


def _device_request(value: dict[str, Any]) -> dict[str, Any]:
    request = dict(value)
    if "count" not in request and "device_ids" not in request:
        request["count"] = "all"
    return request


def prepare(service: dict[str, Any], resolve: Resolver | None = None) -> dict[str, Any]:
    """The service as compose-go's struct holds it when ``up`` hashes it."""
    result = dict(service)
    for key in ("build", "pull_policy", "scale", "depends_on", "profiles"):
        result.pop(key, None)
    # up loads with WithServicesEnvironmentResolved(true): env_file is dropped once
    # merged; labels are resolved with WithServicesLabelsResolved(false), so
    # label_file stays
    result.pop("env_file", None)
    deploy = result.get("deploy")
    if isinstance(deploy, dict):
        deploy = {k: v for k, v in deploy.items() if k != "replicas"}
        resources = deploy.get("resources")
        if isinstance(resources, dict) and isinstance(resources.get("reservations"), dict):
            reservations = dict(resources["reservations"])
            if isinstance(reservations.get("devices"), list):
                reservations["devices"] = [_device_request(d) for d in reservations["devices"]]
            deploy["resources"] = {**resources, "reservations": reservations}
        result["deploy"] = deploy
    if isinstance(result.get("secrets"), list):
        secrets = []
        for item in result["secrets"]:
            entry = {"source": item} if isinstance(item, str) else dict(item)
            entry.setdefault("target", f"/run/secrets/{entry.get('source', '')}")
            secrets.append(entry)
        result["secrets"] = secrets
    if isinstance(result.get("configs"), list):
        result["configs"] = [
            {"source": item} if isinstance(item, str) else item for item in result["configs"]
        ]
    if isinstance(result.get("devices"), list):
        result["devices"] = [_device_mapping(d) for d in result["devices"]]
    gpus = result.get("gpus")
    if isinstance(gpus, str):
        result["gpus"] = [{"count": "all"}]
    elif isinstance(gpus, list):
        result["gpus"] = [_device_request(g) for g in gpus]
    blkio = result.get("blkio_config")
    if isinstance(blkio, dict):
        # WeightDevice/ThrottleDevice have no json tags: Go names the keys Path,
        # Weight and Rate
        blkio = dict(blkio)
        for key, value in blkio.items():
            if isinstance(value, list):
                blkio[key] = [
                    {k[:1].upper() + k[1:]: v for k, v in d.items()} if isinstance(d, dict) else d
                    for d in value
                ]
        result["blkio_config"] = blkio
    develop = result.get("develop")
    if isinstance(develop, dict) and isinstance(develop.get("watch"), list):
        result["develop"] = {**develop, "watch": [_trigger(t) for t in develop["watch"]]}
    image = result.get("image")
    if isinstance(result.get("pre_start"), list) and image:
        # compose-go's inheritPreStartImage
        result["pre_start"] = [
            {**hook, "image": hook.get("image") or image} if isinstance(hook, dict) else hook
            for hook in result["pre_start"]
        ]
    if resolve is not None:
        _resolve_references(result, resolve)
    return result


def _trigger(trigger: Any) -> Any:
    """A watch rule as compose-go decodes it: ignore/include lists, exec.command split."""
    if not isinstance(trigger, dict):
        return trigger
    result = dict(trigger)
    for key in ("ignore", "include"):
        if isinstance(result.get(key), str):
            result[key] = [result[key]]
    hook = result.get("exec")
    if isinstance(hook, dict) and isinstance(hook.get("command"), str):
        import shlex

        result["exec"] = {**hook, "command": shlex.split(hook["command"])}
    return result


def _resolve_references(service: dict[str, Any], resolve: Resolver) -> None:
    """resolveServiceReferences: ``service:NAME`` → ``container:<id>`` and
    volumes_from entries → the container ID (``container:NAME`` → ``NAME``)."""
    sources = [str(entry) for entry in service.get("volumes_from") or []]
    if sources:
        service["volumes_from"] = sources
    for i, entry in enumerate(sources):
        spec = entry.split(":")
        if spec[0] == "container":
            sources[i] = spec[1]
            continue
        found = resolve(spec[0])
        if found is None:
            return  # compose stops at the first reference it cannot resolve
        sources[i] = found
    for key in ("network_mode", "ipc", "pid"):
        mode = service.get(key)
        if isinstance(mode, str) and mode.startswith("service:"):
            found = resolve(mode[len("service:") :])
            if found is None:
                return
            service[key] = f"container:{found}"


def marshal(service: dict[str, Any], resolve: Resolver | None = None) -> bytes:
    """``json.Marshal`` of the cleared ServiceConfig, as Compose hashes it."""
    return encode_struct(SERVICE, prepare(service, resolve)).encode("utf-8")


def service_hash(service: dict[str, Any], resolve: Resolver | None = None) -> str:
    return hashlib.sha256(marshal(service, resolve)).hexdigest()
