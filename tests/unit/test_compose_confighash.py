"""``com.docker.compose.config-hash`` byte-identical to Docker Compose v2.

The corpus in ``compose_golden/confighash/`` (one project per folder: compose.yaml,
the files it names, ``env.json`` for the environment, ``profiles.txt``,
``containers.json`` for the container IDs ``service:`` references resolve to) and
the answers in ``compose_golden/confighash.expected.json`` were computed with
compose-go v2.13.0's loader and ``types`` (built with Go 1.24) and docker/compose's
``ServiceHash`` (pkg/compose/hash.go; the project loaded as ``up`` loads it, then
``WithServicesEnvironmentResolved(true)``; references resolved as reconcile.go's
``serviceHashWithResolvedRefs`` does). An answer is either the service's exact
``json.Marshal`` bytes (``{{DIR}}`` standing for the project directory) with their
SHA-256, or the error the loader gave. docs/compose-confighash.md says how to
recompute them. ``COMPOSE_ORACLE`` is the hash Compose's own test suite pins
(pkg/compose/convergence_test.go ``TestCreateMobyContainer``).
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest

from dockyard.compose import confighash
from dockyard.compose.errors import ComposeError
from dockyard.compose.loader import ProjectOptions, load_project
from dockyard.compose.planner import config_hash

COMPOSE_ORACLE = "8dbce408396f8986266bc5deba0c09cfebac63c95c2238e405c7bee5f1bd84b8"


def test_compose_test_suite_oracle() -> None:
    service = {"networks": {"a": {"priority": 10}, "b": {"priority": 100}}}
    assert confighash.marshal(service) == (
        b'{"command":null,"entrypoint":null,"networks":{"a":{"priority":10},"b":{"priority":100}}}'
    )
    assert config_hash(service) == COMPOSE_ORACLE


def test_compose_hash_test_scale_and_replicas_are_cleared() -> None:
    """pkg/compose/hash_test.go: Scale and Deploy.Replicas do not change the hash;
    the (non-nil) Deploy still marshals its struct fields."""
    one = {"image": "bar", "scale": 1, "deploy": {"replicas": 1}}
    two = {"image": "bar", "scale": 2, "deploy": {"replicas": 2}}
    expected = (
        b'{"command":null,"deploy":{"resources":{},"placement":{}},"entrypoint":null,"image":"bar"}'
    )
    assert confighash.marshal(one) == confighash.marshal(two) == expected
    assert config_hash(one) == hashlib.sha256(expected).hexdigest()


GOLDEN = Path(__file__).parent / "compose_golden"
EXPECTED = json.loads((GOLDEN / "confighash.expected.json").read_text())


@pytest.mark.parametrize("case", sorted(EXPECTED))
def test_hash_matches_compose(case: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    directory = tmp_path / case
    shutil.copytree(GOLDEN / "confighash" / case, directory)
    monkeypatch.setenv("HOME", "/root")  # "~" in volume sources
    environ = {"PATH": "/usr/bin:/bin", "HOME": "/root"}
    if (directory / "env.json").exists():
        environ.update(json.loads((directory / "env.json").read_text()))
    profiles_file = directory / "profiles.txt"
    profiles = profiles_file.read_text().split(",") if profiles_file.exists() else []
    files = [str(directory / "compose.yaml")]
    if (directory / "compose.override.yaml").exists():
        files.append(str(directory / "compose.override.yaml"))
    ids: dict[str, str] = {}
    if (directory / "containers.json").exists():
        ids = json.loads((directory / "containers.json").read_text())
    options = ProjectOptions(
        config_files=files,
        environ=environ,
        cwd=str(directory),
        profiles=[p.strip() for p in profiles if p.strip()],
        project_name="oracle",
    )
    expected = EXPECTED[case]
    if "error" in expected:
        with pytest.raises(ComposeError) as caught:
            load_project(options)
        assert str(caught.value) == expected["error"].replace("{{DIR}}", str(directory))
        return
    project = load_project(options)
    assert sorted(project.services) == sorted(expected)
    resolve = ids.get if ids else None
    for name, answer in expected.items():
        text = answer["json"].replace("{{DIR}}", str(directory))
        assert confighash.marshal(project.services[name], resolve).decode() == text, name
        digest = config_hash(project.services[name], resolve)
        assert digest == answer.get("hash", hashlib.sha256(text.encode()).hexdigest()), name


def test_unresolvable_references_hash_the_raw_form() -> None:
    """reconcile.go: on a resolution failure the raw form is hashed."""
    service = {"image": "x", "network_mode": "service:db"}
    assert b'"network_mode":"service:db"' in confighash.marshal(service, lambda name: None)
    assert b'"network_mode":"service:db"' in confighash.marshal(service)


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (0.5, "0.5"),
        (0.1, "0.1"),  # float32(0.1) prints as 0.1, not 0.10000000149011612
        (1.5, "1.5"),
        (2.0, "2"),
        (123456789.0, "123456790"),
        (1e-7, "1e-7"),
        (1e21, "1e+21"),
        (0.000001, "0.000001"),
    ],
)
def test_go_float32(value: float, text: str) -> None:
    assert confighash.go_float32(value) == text


def test_go_string_escapes_as_encoding_json() -> None:
    assert confighash.go_string("a<b>&c") == '"a\\u003cb\\u003e\\u0026c"'
    assert confighash.go_string("tab\there\u2028") == '"tab\\there\\u2028"'
    assert confighash.go_string("é") == '"é"'
    assert confighash.go_string("\x01") == '"\\u0001"'


def test_what_compose_leaves_out_changes_nothing() -> None:
    base = {"image": "busybox", "networks": {"default": None}}
    for extra in (
        {"build": {"context": "."}},
        {"pull_policy": "build"},
        {"scale": 3},
        {"depends_on": {"db": {"condition": "service_healthy", "required": True}}},
        {"profiles": ["x"]},
        {"env_file": [{"path": "/x.env", "required": True}]},
        {"x-anything": 1},
    ):
        assert config_hash({**base, **extra}) == config_hash(base), extra
    # develop is hashed (ServiceHash does not clear it)
    assert config_hash(base) != config_hash(
        {**base, "develop": {"watch": [{"path": "/a", "action": "rebuild"}]}}
    )


def test_untagged_fields_hooks_and_triggers() -> None:
    """WeightDevice/ThrottleDevice have no json tags (keys Path, Weight, Rate; no
    omitempty, so a zero Rate is "0"); a pre_start hook inherits the service image
    (inheritPreStartImage); a trigger's string ignore is a list and its exec.command
    a split ShellCommand. The bytes are the oracle's for the same service written as
    YAML (pre_start is outside the schema dockyard validates against, hence a dict)."""
    service = {
        "image": "x",
        "networks": {"default": None},
        "blkio_config": {
            "weight": 300,
            "weight_device": [{"path": "/dev/sda", "weight": 400}],
            "device_read_bps": [{"path": "/dev/sda", "rate": "1mb"}, {"path": "/dev/sdb"}],
        },
        "pre_start": [{"command": ["a"]}],
        "develop": {
            "watch": [
                {
                    "path": "/a",
                    "action": "sync+exec",
                    "target": "/b",
                    "ignore": "x",
                    "exec": {"command": "echo hi"},
                }
            ]
        },
    }
    assert confighash.marshal(service).decode() == (
        '{"develop":{"watch":[{"path":"/a","action":"sync+exec","target":"/b",'
        '"exec":{"command":["echo","hi"]},"ignore":["x"]}]},'
        '"blkio_config":{"weight":300,"weight_device":[{"Path":"/dev/sda","Weight":400}],'
        '"device_read_bps":[{"Path":"/dev/sda","Rate":"1048576"},{"Path":"/dev/sdb","Rate":"0"}]},'
        '"command":null,"entrypoint":null,"image":"x","networks":{"default":null},'
        '"pre_start":[{"command":["a"],"image":"x"}]}'
    )
