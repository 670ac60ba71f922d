"""Produced specs validate against the OCI runtime-spec JSON schema (when jsonschema is there)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from dockyard.runtime.spec import DeviceNode, EtcFiles, HostInfo, MountSpec, build_spec

SCHEMA_DIR = Path("/work/shared/reference/oci-runtime-spec")


def _specs() -> list[dict[str, Any]]:
    common: dict[str, Any] = {
        "rootfs": "/r",
        "cgroups_path": "/docker/x",
        "host": HostInfo(cgroup_v2=True),
    }
    return [
        build_spec({"Cmd": ["sh"], "Hostname": "x"}, {}, {}, **common),
        build_spec(
            {"Cmd": ["sh"], "Hostname": "x", "Tty": True, "User": "1000:1000"},
            {
                "Memory": 64 << 20,
                "NanoCpus": 500_000_000,
                "PidsLimit": 10,
                "Ulimits": [{"Name": "nofile", "Soft": 10, "Hard": 20}],
                "SecurityOpt": ["no-new-privileges"],
                "Tmpfs": {"/run": "size=1m"},
                "ReadonlyRootfs": True,
            },
            {},
            mounts=[MountSpec("/d", "/h", propagation="rshared")],
            etc_files=EtcFiles("/c/r", "/c/hn", "/c/h"),
            devices=[DeviceNode("/dev/fuse", "c", 10, 229, host_path="/dev/fuse")],
            **common,
        ),
        build_spec({"Cmd": ["sh"]}, {"Privileged": True, "NetworkMode": "host"}, {}, **common),
    ]


def test_specs_round_trip_as_json() -> None:
    for spec in _specs():
        assert json.loads(json.dumps(spec)) == spec


def test_specs_validate_against_schema() -> None:
    jsonschema = pytest.importorskip("jsonschema")
    schema_path = SCHEMA_DIR / "config-schema.json"
    if not (SCHEMA_DIR / "defs.json").exists():
        pytest.skip("the schema's defs.json / defs-linux.json are not in the reference copy")
    schema = json.loads(schema_path.read_text())
    resolver_base = schema_path.resolve().as_uri()
    validator_cls = jsonschema.validators.validator_for(schema)
    resolver = jsonschema.RefResolver(base_uri=resolver_base, referrer=schema)
    validator = validator_cls(schema, resolver=resolver)
    for spec in _specs():
        validator.validate(spec)


# Field types from runtime-spec's specs-go (config.go), for the fields build_spec writes.
_TYPES: dict[str, type | tuple[type, ...]] = {
    "ociVersion": str,
    "process.terminal": bool,
    "process.user.uid": int,
    "process.user.gid": int,
    "process.user.additionalGids[]": int,
    "process.args[]": str,
    "process.env[]": str,
    "process.cwd": str,
    "process.capabilities.bounding[]": str,
    "process.capabilities.effective[]": str,
    "process.capabilities.permitted[]": str,
    "process.rlimits[].type": str,
    "process.rlimits[].hard": int,
    "process.rlimits[].soft": int,
    "process.noNewPrivileges": bool,
    "process.oomScoreAdj": int,
    "root.path": str,
    "root.readonly": bool,
    "hostname": str,
    "mounts[].destination": str,
    "mounts[].type": str,
    "mounts[].source": str,
    "mounts[].options[]": str,
    "linux.sysctl.*": str,
    "linux.resources.devices[].allow": bool,
    "linux.resources.devices[].type": str,
    "linux.resources.devices[].major": int,
    "linux.resources.devices[].minor": int,
    "linux.resources.devices[].access": str,
    "linux.resources.memory.limit": int,
    "linux.resources.memory.swap": int,
    "linux.resources.cpu.quota": int,
    "linux.resources.cpu.period": int,
    "linux.resources.pids.limit": int,
    "linux.cgroupsPath": str,
    "linux.namespaces[].type": str,
    "linux.namespaces[].path": str,
    "linux.devices[].path": str,
    "linux.devices[].type": str,
    "linux.devices[].major": int,
    "linux.devices[].minor": int,
    "linux.devices[].fileMode": int,
    "linux.devices[].uid": int,
    "linux.devices[].gid": int,
    "linux.seccomp.defaultAction": str,
    "linux.seccomp.defaultErrnoRet": int,
    "linux.seccomp.architectures[]": str,
    "linux.seccomp.syscalls[].names[]": str,
    "linux.seccomp.syscalls[].action": str,
    "linux.seccomp.syscalls[].errnoRet": int,
    "linux.seccomp.syscalls[].args[].index": int,
    "linux.seccomp.syscalls[].args[].value": int,
    "linux.seccomp.syscalls[].args[].op": str,
    "linux.rootfsPropagation": str,
    "linux.maskedPaths[]": str,
    "linux.readonlyPaths[]": str,
}
_NAMESPACES = {"pid", "network", "mount", "ipc", "uts", "user", "cgroup", "time"}


def _walk(value: Any, path: str, seen: dict[str, Any]) -> None:
    if isinstance(value, dict):
        for k, v in value.items():
            key = f"{path}.{k}" if path else k
            star = f"{path}.*"
            if star in _TYPES:
                seen[star] = v
                assert isinstance(v, _TYPES[star]), star
                continue
            _walk(v, key, seen)
    elif isinstance(value, list):
        for item in value:
            _walk(item, path + "[]", seen)
    else:
        assert path in _TYPES, f"unexpected field {path}"
        assert isinstance(value, _TYPES[path]) and not (
            _TYPES[path] is int and isinstance(value, bool)
        ), f"{path}: {value!r}"


def test_specs_use_runtime_spec_field_names_and_types() -> None:
    for spec in _specs():
        _walk(spec, "", {})
        assert {n["type"] for n in spec["linux"]["namespaces"]} <= _NAMESPACES
        for m in spec["mounts"]:
            assert m["destination"].startswith("/")
        for rule in spec["linux"]["resources"]["devices"]:
            assert set(rule["access"]) <= set("rwm")
