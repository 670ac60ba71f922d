"""The compose model in its canonical (long) form, as compose-go produces it for
``docker compose config``: short syntaxes expanded, lists turned into mappings,
defaults filled in, resources named ``<project>_<key>``, keys in compose-go's order."""

from __future__ import annotations

import os
import re
import shlex
from collections.abc import Mapping
from typing import Any

from dockyard.compose.envfile import read_env_file, read_env_file_format
from dockyard.compose.errors import ComposeError
from dockyard.compose.gosprint import go_sprint
from dockyard.compose.loader import InvalidProject
from dockyard.compose.merge import list_or_dict_to_dict
from dockyard.compose.order import order_model
from dockyard.golang.units import parse_go_duration_ns, ram_in_bytes

_BOOL_KEYS = (
    "attach",
    "init",
    "oom_kill_disable",
    "privileged",
    "read_only",
    "stdin_open",
    "tty",
)
_INT_KEYS = (
    "cpu_count",
    "cpu_period",
    "cpu_quota",
    "cpu_rt_period",
    "cpu_rt_runtime",
    "cpu_shares",
    "oom_score_adj",
    "pids_limit",
    "scale",
)
_FLOAT_KEYS = ("cpus", "cpu_percent")
_BYTES_KEYS = ("mem_limit", "mem_reservation", "memswap_limit", "shm_size")
_STRING_LIST_KEYS = ("dns", "dns_search", "tmpfs")


def to_bool(value: Any, where: str) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).lower()
    if text in ("y", "yes", "true", "on", "1"):
        return True
    if text in ("n", "no", "false", "off", "0"):
        return False
    raise ComposeError(f"{where}: invalid boolean: {value}")


def to_int(value: Any, where: str) -> int:
    if isinstance(value, bool):
        raise ComposeError(f"{where}: invalid integer: {value}")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    try:
        return int(str(value).strip())
    except ValueError:
        raise ComposeError(f"{where}: invalid integer: {value}") from None


def to_float(value: Any, where: str) -> float | int:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return value
    try:
        number = float(str(value))
    except ValueError:
        raise ComposeError(f"{where}: invalid number: {value}") from None
    return int(number) if number.is_integer() else number


def to_bytes(value: Any, where: str) -> int:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return int(value)
    try:
        return ram_in_bytes(str(value))
    except Exception:
        raise ComposeError(f"{where}: invalid size: {value}") from None


def go_duration(nanoseconds: int) -> str:
    """Go's ``time.Duration.String``."""
    if nanoseconds == 0:
        return "0s"
    sign = "-" if nanoseconds < 0 else ""
    n = abs(nanoseconds)
    if n < 1_000_000_000:
        for unit, size in (("ms", 1_000_000), ("µs", 1_000), ("ns", 1)):
            if n >= size:
                whole, frac = divmod(n, size)
                text = str(whole)
                if frac:
                    digits = len(str(size)) - 1
                    text += "." + str(frac).rjust(digits, "0").rstrip("0")
                return sign + text + unit
    hours, rest = divmod(n, 3600 * 1_000_000_000)
    minutes, rest = divmod(rest, 60 * 1_000_000_000)
    seconds, frac = divmod(rest, 1_000_000_000)
    text = str(seconds)
    if frac:
        text += "." + str(frac).rjust(9, "0").rstrip("0")
    text += "s"
    if hours:
        return f"{sign}{hours}h{minutes}m{text}"
    if minutes:
        return f"{sign}{minutes}m{text}"
    return sign + text


def to_duration(value: Any, where: str) -> str:
    try:
        return go_duration(parse_go_duration_ns(str(value)))
    except Exception:
        raise ComposeError(f"{where}: time: invalid duration {value!r}") from None


def shell_split(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return shlex.split(value)
        except ValueError as exc:
            raise ComposeError(f"invalid command line {value!r}: {exc}") from None
    return value


# ------------------------------------------------------------------- ports


def _port_range(text: str) -> list[int]:
    if "-" in text:
        start_text, _, end_text = text.partition("-")
        start, end = int(start_text), int(end_text)
        if end < start:
            raise ValueError(text)
        return list(range(start, end + 1))
    return [int(text)]


def parse_port(spec: Any, where: str) -> list[dict[str, Any]]:
    """``[ip:][published:]target[/protocol]`` → long-syntax port mappings."""
    if isinstance(spec, int | float) and not isinstance(spec, bool):
        return [{"mode": "ingress", "target": int(spec), "protocol": "tcp"}]
    text = str(spec)
    protocol = "tcp"
    if "/" in text:
        text, _, protocol = text.rpartition("/")
    host_ip = ""
    published = ""
    if text.startswith("["):  # [::1]:80:80
        end = text.find("]")
        host_ip = text[1:end]
        rest = text[end + 2 :]
        published, _, target = rest.rpartition(":")
    else:
        parts = text.split(":")
        if len(parts) == 1:
            target = parts[0]
        elif len(parts) == 2:
            published, target = parts
        elif len(parts) == 3:
            host_ip, published, target = parts
        else:
            host_ip = ":".join(parts[:-2])
            published, target = parts[-2], parts[-1]
            # go-connections' net.SplitHostPort(ip + ":"): IPv6 needs brackets
            raise ComposeError(
                f"Invalid ip address {host_ip}: address {host_ip}:: too many colons in address"
            )
    if host_ip and not _is_ip(host_ip):
        raise ComposeError(f"Invalid ip address: {host_ip}")
    try:
        targets = _port_range(target)
        publisheds = _port_range(published) if published else []
    except ValueError:
        raise ComposeError(f"{where}: Invalid containerPort: {spec}") from None
    if publisheds and len(publisheds) != len(targets) and len(targets) != 1:
        raise ComposeError(
            f"{where}: Invalid ranges specified for container and host Ports: {spec}"
        )
    result = []
    for index, port in enumerate(targets):
        entry: dict[str, Any] = {"mode": "ingress"}
        if host_ip:
            entry["host_ip"] = host_ip
        entry["target"] = port
        if publisheds:
            if len(targets) == 1 and len(publisheds) > 1:
                entry["published"] = published
            else:
                entry["published"] = str(publisheds[index])
        entry["protocol"] = protocol
        result.append(entry)
    return result


def _is_ip(text: str) -> bool:
    import ipaddress

    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def _long_port(item: dict[str, Any], where: str) -> dict[str, Any]:
    entry = dict(item)
    entry.setdefault("mode", "ingress")
    if "target" in entry:
        entry["target"] = to_int(entry["target"], where)
    if "published" in entry:
        entry["published"] = str(entry["published"])
    entry.setdefault("protocol", "tcp")
    return entry


# ------------------------------------------------------------------- volumes


_BIND_OPTIONS = {"rprivate", "private", "rshared", "shared", "rslave", "slave"}


def parse_volume(spec: str, where: str) -> dict[str, Any]:
    """``[source:]target[:mode]`` → a long-syntax mount, as compose-go's
    format.ParseVolume reads it: options it does not know (``cached``,
    ``consistent``, ``delegated``, …) are ignored, ``rw`` undoes ``ro``, ``z``/``Z``
    and propagations make a bind section even on a volume, ``nocopy`` a volume
    section even on a bind."""
    if not spec:
        raise ComposeError(f"{where}: invalid empty volume spec")
    if len(spec) <= 2:
        return {"type": "volume", "target": spec}
    parts = _split_volume_spec(spec)
    if any(part == "" for part in parts):
        raise ComposeError(f"invalid spec: {spec}: empty section between colons")
    if len(parts) > 3:
        raise ComposeError(f"invalid spec: {spec}: too many colons")
    entry: dict[str, Any] = {}
    if len(parts) == 1:
        entry["target"] = parts[0]
    else:
        entry["source"], entry["target"] = parts[0], parts[1]
    bind: dict[str, Any] | None = None
    volume: dict[str, Any] | None = None
    for mode in parts[2].split(",") if len(parts) == 3 else []:
        if mode == "ro":
            entry["read_only"] = True
        elif mode == "rw":
            entry.pop("read_only", None)
        elif mode == "nocopy":
            volume = {"nocopy": True}
        elif mode in ("z", "Z"):
            bind = {**(bind or {}), "selinux": mode}
        elif mode in _BIND_OPTIONS:
            bind = {**(bind or {}), "propagation": mode}
    source = entry.get("source", "")
    if _is_file_path(source):
        entry["type"] = "bind"
        entry["bind"] = {**(bind or {}), "create_host_path": True}
        if volume is not None:
            entry["volume"] = volume
    else:
        entry["type"] = "volume"
        if bind is not None:
            entry["bind"] = bind
        entry["volume"] = volume or {}
    return {key: entry[key] for key in _VOLUME_KEYS if key in entry}


_VOLUME_KEYS = ("type", "source", "target", "read_only", "bind", "volume")


def _split_volume_spec(spec: str) -> list[str]:
    """Splits on colons outside ``${...}``, keeping a Windows drive (``C:``) whole."""
    parts: list[str] = []
    buffer = ""
    depth = 0
    for i, char in enumerate(spec):
        if char == "$" and spec[i + 1 : i + 2] == "{":
            depth += 1
        elif char == "}" and depth:
            depth -= 1
        elif char == ":" and depth == 0 and not (len(buffer) == 1 and buffer.isalpha()):
            parts.append(buffer)
            buffer = ""
            continue
        buffer += char
    parts.append(buffer)
    return parts


def _is_file_path(source: str) -> bool:
    if not source:
        return False
    if source[0] in "./~" or source.startswith("\\\\"):
        return True
    return len(source) > 1 and source[0].isalpha() and source[1] == ":"


def _long_volume(item: dict[str, Any], where: str) -> dict[str, Any]:
    entry = dict(item)
    if "read_only" in entry:
        entry["read_only"] = to_bool(entry["read_only"], where)
    if isinstance(entry.get("bind"), dict) and "create_host_path" in entry["bind"]:
        entry["bind"] = {
            **entry["bind"],
            "create_host_path": to_bool(entry["bind"]["create_host_path"], where),
        }
    return entry


# ------------------------------------------------------------------- services


def _environment(
    service: dict[str, Any], env: Mapping[str, str], where: str
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    files: list[dict[str, Any]] = []
    raw_files = service.get("env_file")
    if isinstance(raw_files, str):
        raw_files = [raw_files]
    own: dict[str, Any] = {}
    for key, value in list_or_dict_to_dict(service.get("environment")).items():
        own[key] = env.get(key) if value is None else go_sprint(value)
    # WithServicesEnvironmentResolved: a file's ${VAR} is looked up in the project
    # environment, then in the service's own environment
    lookup = {**{k: v for k, v in own.items() if v is not None}, **env}
    result: dict[str, Any] = {}
    for item in raw_files or []:
        spec = {"path": item, "required": True} if isinstance(item, str) else dict(item)
        spec["required"] = to_bool(spec.get("required", True), where)
        files.append(spec)
        path = str(spec["path"])
        if not os.path.exists(path):
            if spec["required"]:
                raise ComposeError(
                    f"env file {path} not found: stat {path}: no such file or directory"
                )
            continue
        env_format = spec.get("format")
        result.update(
            read_env_file_format(path, None if env_format is None else str(env_format), lookup)
        )
    result.update(own)
    return dict(sorted(result.items())), files


def _mapping_of_strings(value: Any) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, item in list_or_dict_to_dict(value).items():
        if item is None:
            result[key] = ""
        else:
            result[key] = go_sprint(item)
    return dict(sorted(result.items()))


def _extra_hosts(value: Any) -> list[str]:
    """compose-go's HostsList: ``host=ip`` (``=`` tried before ``:``), several IPs
    after one separator split on commas (list form), ``[v6]`` brackets removed."""
    pairs: list[tuple[str, str]] = []
    if isinstance(value, dict):
        for host, ips in value.items():
            for ip in ips if isinstance(ips, list) else [ips]:
                pairs.append((str(host), "" if ip is None else str(ip)))
    else:
        for entry in value or []:
            text = str(entry)
            for separator in ("=", ":"):
                host, found, ips = text.partition(separator)
                if found:
                    pairs.extend((host, ip) for ip in ips.split(","))
                    break
            else:
                raise ComposeError(f"invalid additional host, missing IP: {text}")
    out = []
    for host, ip in pairs:
        if not host or ":" in host or "=" in host:
            raise ComposeError(f"bad host name '{host}'")
        if len(ip) > 2 and ip.startswith("[") and ip.endswith("]"):
            ip = ip[1:-1]
        out.append(f"{host}={ip}")
    return out


def _label_files(service: dict[str, Any]) -> None:
    """WithServicesLabelsResolved(false), as ``up`` loads: the files' labels under the
    service's own, the (absolute) file list kept."""
    files = service["label_file"]
    files = [files] if isinstance(files, str) else [str(f) for f in files]
    labels: dict[str, str] = {}
    for path in files:
        if not os.path.exists(path):
            raise ComposeError(
                f"label file {path} not found: stat {path}: no such file or directory"
            )
        labels.update(read_env_file(path, dict(labels)))
    labels.update(service.get("labels") or {})
    if labels:
        service["labels"] = dict(sorted(labels.items()))
    service["label_file"] = files


def _device(value: Any) -> Any:
    """compose-go's canonical device mapping: ``source[:target[:permissions]]`` in
    its long form, the target defaulting to the source, permissions to rwm."""
    if not isinstance(value, str):
        return value
    parts = value.split(":")
    target = parts[1] if len(parts) > 1 and parts[1] else parts[0]
    permissions = parts[2] if len(parts) > 2 else "rwm"
    return {"source": parts[0], "target": target, "permissions": permissions}


def _develop(value: dict[str, Any]) -> dict[str, Any]:
    """A watch rule as compose-go decodes it: ignore/include lists, exec.command split."""
    develop = dict(value)
    triggers = []
    for item in develop.get("watch") or []:
        trigger = dict(item) if isinstance(item, dict) else item
        if isinstance(trigger, dict):
            for key in ("ignore", "include"):
                if isinstance(trigger.get(key), str):
                    trigger[key] = [trigger[key]]
            if isinstance(trigger.get("exec"), dict):
                trigger["exec"] = _hook(trigger["exec"])
        triggers.append(trigger)
    if "watch" in develop:
        develop["watch"] = triggers
    return develop


def _provider(value: dict[str, Any]) -> dict[str, Any]:
    """compose-go's MultiOptions: each option a list of strings (fmt.Sprint of each)."""
    provider = dict(value)
    options = provider.get("options")
    if isinstance(options, dict):
        fixed: dict[str, list[str]] = {}
        for key, item in options.items():
            items = item if isinstance(item, list) else [item]
            if items:
                fixed[str(key)] = [go_sprint(v) for v in items]
        provider["options"] = dict(sorted(fixed.items()))
    return provider


def _service_network(value: Any) -> Any:
    if isinstance(value, dict) and isinstance(value.get("driver_opts"), dict):
        return {
            **value,
            "driver_opts": {k: go_sprint(v) for k, v in sorted(value["driver_opts"].items())},
        }
    return value


def _hook(value: Any) -> Any:
    """A lifecycle hook as compose-go decodes it: command split like a service's,
    environment a MappingWithEquals (a bare name is null)."""
    if not isinstance(value, dict):
        return value
    hook = dict(value)
    if "command" in hook:
        hook["command"] = shell_split(hook["command"])
    if "environment" in hook:
        hook["environment"] = _mapping_with_equals(hook["environment"])
    return hook


def _mapping_with_equals(value: Any) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, item in list_or_dict_to_dict(value).items():
        result[key] = None if item is None else go_sprint(item)
    return dict(sorted(result.items()))


def _depends_on(value: Any) -> dict[str, Any]:
    if isinstance(value, list):
        return {name: {"condition": "service_started", "required": True} for name in value}
    result: dict[str, Any] = {}
    for name, spec in (value or {}).items():
        entry: dict[str, Any] = {"condition": spec.get("condition", "service_started")}
        if "restart" in spec and to_bool(spec["restart"], "depends_on"):
            entry["restart"] = True
        entry["required"] = to_bool(spec.get("required", True), "depends_on")
        result[name] = entry
    return result


def _mounts(value: Any) -> list[dict[str, Any]]:
    out = []
    for item in value or []:
        if isinstance(item, str):
            out.append({"source": item})
        else:
            out.append(dict(item))
    return out


def _ulimits(value: dict[str, Any], where: str) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for name, limit in sorted(value.items()):
        if isinstance(limit, dict):
            result[name] = {
                "soft": to_int(limit["soft"], where),
                "hard": to_int(limit["hard"], where),
            }
        else:
            result[name] = to_int(limit, where)
    return result


def _healthcheck(value: dict[str, Any], where: str) -> dict[str, Any]:
    result = dict(value)
    test = result.get("test")
    if isinstance(test, str):
        result["test"] = ["CMD-SHELL", test]
    for key in ("interval", "timeout", "start_period", "start_interval"):
        if key in result:
            result[key] = to_duration(result[key], f"{where}.{key}")
    if "retries" in result:
        result["retries"] = to_int(result["retries"], where)
    if "disable" in result:
        result["disable"] = to_bool(result["disable"], where)
    return result


def _build(value: Any, env: Mapping[str, str]) -> dict[str, Any]:
    build = {"context": value} if isinstance(value, str) else dict(value)
    build.setdefault("context", ".")
    if not build.get("dockerfile") and not build.get("dockerfile_inline"):
        build["dockerfile"] = "Dockerfile"
    if "args" in build:
        args = {}
        for key, val in list_or_dict_to_dict(build["args"]).items():
            args[key] = (
                env.get(key)
                if val is None
                else (str(val) if not isinstance(val, bool) else str(val).lower())
            )
        build["args"] = dict(sorted(args.items()))
    for key in ("labels", "additional_contexts"):
        if key in build:
            build[key] = _mapping_of_strings(build[key])
    if "extra_hosts" in build:
        build["extra_hosts"] = _extra_hosts(build["extra_hosts"])
    return build


def _deploy(value: dict[str, Any] | None, where: str) -> dict[str, Any] | None:
    if value is None:
        return None
    deploy = dict(value)
    if "replicas" in deploy:
        deploy["replicas"] = to_int(deploy["replicas"], f"{where}.replicas")
    if "labels" in deploy:
        deploy["labels"] = _mapping_of_strings(deploy["labels"])
    resources = deploy.get("resources")
    if isinstance(resources, dict):
        fixed = {}
        for part in ("limits", "reservations"):
            spec = resources.get(part)
            if isinstance(spec, dict):
                spec = dict(spec)
                if "cpus" in spec:
                    spec["cpus"] = to_float(spec["cpus"], where)
                if "memory" in spec:
                    spec["memory"] = str(to_bytes(spec["memory"], where))
                if "pids" in spec:
                    spec["pids"] = to_int(spec["pids"], where)
                fixed[part] = spec
        deploy["resources"] = fixed
    return deploy


def normalize_service(
    name: str, raw: dict[str, Any], env: Mapping[str, str], project: str
) -> dict[str, Any]:
    where = f"services.{name}"
    service = dict(raw or {})
    service.pop("extends", None)
    if "build" in service:
        service["build"] = _build(service["build"], env)
    for key in ("command", "entrypoint"):
        if key in service:
            service[key] = shell_split(service[key])
    environment, env_files = _environment(service, env, where)
    if environment:
        service["environment"] = environment
    else:
        service.pop("environment", None)
    if env_files:
        service["env_file"] = env_files
    for key in ("labels", "annotations", "sysctls"):
        if key in service:
            service[key] = _mapping_of_strings(service[key])
    if "label_file" in service:
        _label_files(service)
    for key in ("pre_start", "post_start", "pre_stop"):
        if isinstance(service.get(key), list):
            service[key] = [_hook(hook) for hook in service[key]]
    if isinstance(service.get("models"), list):
        service["models"] = {name: None for name in service["models"]}
    if isinstance(service.get("models"), dict):
        service["models"] = dict(sorted(service["models"].items()))
    if isinstance(service.get("provider"), dict):
        service["provider"] = _provider(service["provider"])
    if "extra_hosts" in service:
        # HostsList is a map: Compose writes it sorted
        service["extra_hosts"] = sorted(_extra_hosts(service["extra_hosts"]))
    if isinstance(service.get("devices"), list):
        service["devices"] = [_device(d) for d in service["devices"]]
    if isinstance(service.get("develop"), dict):
        service["develop"] = _develop(service["develop"])
    for key in _STRING_LIST_KEYS:
        if isinstance(service.get(key), str):
            service[key] = [service[key]]
    if "ports" in service:
        ports: list[dict[str, Any]] = []
        for item in service["ports"]:
            if isinstance(item, dict):
                ports.append(_long_port(item, where))
            else:
                ports.extend(parse_port(item, where))
        service["ports"] = ports
    if "expose" in service:
        service["expose"] = [str(e) for e in service["expose"]]
    if "volumes" in service:
        service["volumes"] = [
            _long_volume(v, where) if isinstance(v, dict) else parse_volume(v, where)
            for v in service["volumes"]
        ]
    for key in ("secrets", "configs"):
        if key in service:
            service[key] = _mounts(service[key])
    for secret in service.get("secrets") or []:
        # compose-go's SetDefaultValues: a secret is mounted at /run/secrets/<source>
        # unless it says otherwise (configs have no such default in the model)
        secret.setdefault("target", f"/run/secrets/{secret.get('source', '')}")
    dependencies = _depends_on(service.get("depends_on"))
    for link in service.get("links") or []:
        dependencies.setdefault(
            link.split(":")[0], {"condition": "service_started", "restart": True, "required": True}
        )
    for namespace in (service.get(k) for k in ("network_mode", "ipc", "pid", "uts", "cgroup")):
        if isinstance(namespace, str) and namespace.startswith("service:"):
            dependencies.setdefault(
                namespace[len("service:") :],
                {"condition": "service_started", "restart": True, "required": True},
            )
    for source in service.get("volumes_from") or []:
        if not source.startswith("container:"):
            dependencies.setdefault(
                source.split(":")[0], {"condition": "service_started", "required": True}
            )
    if dependencies:
        service["depends_on"] = dict(sorted(dependencies.items()))
    if "healthcheck" in service:
        service["healthcheck"] = _healthcheck(service["healthcheck"], f"{where}.healthcheck")
    if "stop_grace_period" in service:
        service["stop_grace_period"] = to_duration(service["stop_grace_period"], where)
    for key in _BOOL_KEYS:
        if key in service:
            service[key] = to_bool(service[key], f"{where}.{key}")
    for key in _INT_KEYS:
        if key in service:
            service[key] = to_int(service[key], f"{where}.{key}")
    for key in _FLOAT_KEYS:
        if key in service:
            service[key] = to_float(service[key], f"{where}.{key}")
    for key in _BYTES_KEYS:
        if key in service:
            service[key] = str(to_bytes(service[key], f"{where}.{key}"))
    if "ulimits" in service:
        service["ulimits"] = _ulimits(service["ulimits"], where)
    if "deploy" in service:
        deploy = _deploy(service["deploy"], f"{where}.deploy")
        if deploy is None:
            service.pop("deploy")
        else:
            service["deploy"] = deploy
    if service.get("pull_policy") == "if_not_present":
        service["pull_policy"] = "missing"
    networks = service.get("networks")
    if isinstance(networks, list):
        networks = {n: None for n in networks}
    if not networks and "network_mode" not in service and "provider" not in service:
        # compose-go's implicit default network skips provider services
        networks = {"default": None}
    if networks:
        service["networks"] = {
            key: _service_network(value) for key, value in sorted(networks.items())
        }
    else:
        service.pop("networks", None)
    if "logging" in service and isinstance(service["logging"].get("options"), dict):
        service["logging"] = {
            **service["logging"],
            "options": {
                k: (None if v is None else go_sprint(v))
                for k, v in sorted(service["logging"]["options"].items())
            },
        }
    return service


def _resource(kind: str, key: str, value: Any, project: str) -> dict[str, Any]:
    spec = dict(value or {})
    external = spec.get("external")
    if isinstance(external, dict):
        if external.get("name"):
            if spec.get("name"):
                raise ComposeError(
                    f"can't use both '{kind}.external.name' (deprecated) and '{kind}.name'"
                )
            spec["name"] = external["name"]
        spec["external"] = True
    elif external is not None:
        spec["external"] = to_bool(external, f"{kind}.{key}.external")
        if not spec["external"]:
            spec.pop("external")
    if not spec.get("name"):
        spec["name"] = key if spec.get("external") else f"{project}_{key}"
    if "labels" in spec:
        spec["labels"] = _mapping_of_strings(spec["labels"])
    if "driver_opts" in spec:
        spec["driver_opts"] = {k: go_sprint(v) for k, v in sorted(spec["driver_opts"].items())}
    for flag in ("internal", "attachable", "enable_ipv6", "enable_ipv4"):
        if flag in spec:
            spec[flag] = to_bool(spec[flag], f"{kind}.{key}.{flag}")
    return spec


def normalize(
    model: dict[str, Any], project: str, working_dir: str, env: Mapping[str, str]
) -> dict[str, Any]:
    """The canonical model (``model`` has been merged, extended, profile-filtered and
    its paths resolved)."""
    services = {
        name: normalize_service(name, svc, env, project)
        for name, svc in sorted((model.get("services") or {}).items())
    }
    networks = dict(model.get("networks") or {})
    uses_default = any("default" in (s.get("networks") or {}) for s in services.values())
    if uses_default and "default" not in networks:
        networks["default"] = None
    result: dict[str, Any] = {"name": project, "services": services}
    for kind, section in (
        ("networks", networks),
        ("volumes", model.get("volumes")),
        ("secrets", model.get("secrets")),
        ("configs", model.get("configs")),
    ):
        if section:
            result[kind] = {
                key: _resource(kind, key, value, project) for key, value in sorted(section.items())
            }
    if model.get("models"):
        result["models"] = dict(sorted(model["models"].items()))
    for key, value in model.items():
        if key.startswith("x-"):
            result[key] = value
    return order_model(result)


# ------------------------------------------------------------------- consistency


def check_consistency(model: dict[str, Any]) -> None:
    """Compose-go's checks of references between services and resources."""
    services = model.get("services") or {}
    for name, service in services.items():
        _check_mount_targets(name, service)
        if not service.get("image") and not service.get("build") and not service.get("provider"):
            raise InvalidProject(
                f"service {json_quote(name)} has neither an image nor a build context specified"
            )
        for dep in service.get("depends_on") or {}:
            if dep not in services:
                if not service["depends_on"][dep].get("required", True):
                    continue
                raise InvalidProject(
                    f"service {json_quote(name)} depends on undefined service {json_quote(dep)}"
                )
        mode = service.get("network_mode", "")
        if mode.startswith("service:") and mode[len("service:") :] not in services:
            raise InvalidProject(
                f"service {json_quote(mode[len('service:') :])} not found for "
                f"network_mode {json_quote(mode)} of service {json_quote(name)}"
            )
        if mode and service.get("networks"):
            raise ComposeError(
                f"service {name} declares mutually exclusive `network_mode` and `networks`"
            )
        for network in service.get("networks") or {}:
            if network not in (model.get("networks") or {}):
                raise InvalidProject(
                    f"service {json_quote(name)} refers to undefined network {network}"
                )
        for volume in service.get("volumes") or []:
            source = volume.get("source")
            if (
                volume.get("type") == "volume"
                and source
                and source not in (model.get("volumes") or {})
            ):
                raise InvalidProject(
                    f"service {json_quote(name)} refers to undefined volume {source}"
                )
        for kind in ("secrets", "configs"):
            for item in service.get(kind) or []:
                if item.get("source") not in (model.get(kind) or {}):
                    raise InvalidProject(
                        f"service {json_quote(name)} refers to undefined {kind[:-1]} "
                        f"{item.get('source')}"
                    )
        scale = service.get("scale")
        replicas = (service.get("deploy") or {}).get("replicas")
        if scale is not None and replicas is not None and scale != replicas:
            raise InvalidProject(
                f"services.{name}: can't set distinct values on 'scale' and 'deploy.replicas'"
            )
        _check_resources(name, service)
        if service.get("container_name") and max(scale or 1, replicas or 1) > 1:
            raise InvalidProject(
                f"services.{name}: can't set container_name and {name} as container name "
                "must be unique"
            )
    from dockyard.compose.planner import check_cycles

    check_cycles(services)


def _check_mount_targets(name: str, service: dict[str, Any]) -> None:
    """compose-go's unicity pass indexes volumes and devices by target: a long-syntax
    entry without one is an error."""
    for key, what in (("volumes", "volume"), ("devices", "device")):
        for index, item in enumerate(service.get(key) or []):
            if isinstance(item, dict) and not isinstance(item.get("target"), str):
                raise ComposeError(
                    f"service {what} services.{name}.{key}.[{index}] is missing a mount target"
                )


def _check_resources(name: str, service: dict[str, Any]) -> None:
    """compose-go's checks that the legacy keys agree with ``deploy.resources`` (an
    unset resource there counts as 0)."""
    resources = (service.get("deploy") or {}).get("resources") or {}
    for key, part, field_name in (
        ("cpus", "limits", "cpus"),
        ("mem_limit", "limits", "memory"),
        ("mem_reservation", "reservations", "memory"),
        ("pids_limit", "limits", "pids"),
    ):
        value = service.get(key)
        spec = resources.get(part)
        if not value or not isinstance(spec, dict):
            continue
        other = spec.get(field_name) or 0
        if key == "cpus":
            same = _float32(float(value)) == _float32(float(other))
        else:
            same = int(value) == int(other)
        if not same:
            raise InvalidProject(
                f"services.{name}: can't set distinct values on '{key}' and "
                f"'deploy.resources.{part}.{field_name}'"
            )


def _float32(value: float) -> float:
    import struct

    return float(struct.unpack("<f", struct.pack("<f", value))[0])


def json_quote(text: str) -> str:
    import json

    return json.dumps(text)


_ = re
