"""dockyard's compose validation against the Compose Specification's JSON schema.

The project does not ship the schema; this test reads it from ../shared at test time
(skipped when absent) and checks that dockyard accepts exactly what the schema accepts,
over a hand-written corpus and over generated documents that put candidate values at
every property path the schema describes.
"""

from __future__ import annotations

import copy
import json
import pathlib
from typing import Any

import pytest

from dockyard.compose.schema import validate
from dockyard.compose.schemacheck import SchemaViolation

jsonschema = pytest.importorskip("jsonschema")

SCHEMA_PATH = (
    pathlib.Path(__file__).resolve().parents[3]
    / "shared"
    / "reference"
    / "compose-spec.schema.json"
)
if not SCHEMA_PATH.exists():
    pytest.skip("compose-spec.schema.json not available", allow_module_level=True)

REFERENCE = json.loads(SCHEMA_PATH.read_text())
VALIDATOR = jsonschema.Draft7Validator(REFERENCE)  # the schema names draft-07


def dockyard_accepts(doc: Any) -> bool:
    try:
        validate(doc)
    except SchemaViolation:
        return False
    return True


def reference_accepts(doc: Any) -> bool:
    return bool(VALIDATOR.is_valid(doc))


def assert_parity(doc: Any) -> None:
    expected = reference_accepts(doc)
    got = dockyard_accepts(doc)
    if expected != got:
        errors = [e.message for e in VALIDATOR.iter_errors(doc)][:3]
        pytest.fail(
            f"schema {'accepts' if expected else 'rejects'} but dockyard "
            f"{'accepts' if got else 'rejects'}: {json.dumps(doc)[:400]}\nschema: {errors}"
        )


# ------------------------------------------------------------------ the corpus

VALID = [
    {},
    {"services": {}},
    {"name": "proj", "services": {"web": {"image": "nginx"}}},
    {"version": "3.8", "services": {"web": {"image": "nginx"}}},
    {"services": {"web": {"build": ".", "ports": ["80:80", 8080, {"target": 80}]}}},
    {"services": {"web": {"image": "x", "environment": {"A": 1, "B": None, "C": True}}}},
    {"services": {"web": {"image": "x", "environment": ["A=1", "B"]}}},
    {"services": {"web": {"image": "x", "depends_on": ["db"]}}},
    {"services": {"web": {"image": "x", "depends_on": {"db": {"condition": "service_healthy"}}}}},
    {"services": {"w": {"image": "x", "healthcheck": {"test": ["CMD", "true"], "retries": 3}}}},
    {"services": {"w": {"image": "x", "deploy": {"resources": {"limits": {"cpus": 0.5}}}}}},
    {"services": {"w": {"image": "x", "deploy": None, "develop": None}}},
    {
        "services": {
            "w": {
                "image": "x",
                "volumes": ["./a:/a:ro", {"type": "bind", "source": ".", "target": "/b"}],
            }
        }
    },
    {"services": {"w": {"image": "x", "networks": {"front": None, "back": {"aliases": ["a"]}}}}},
    {"services": {"w": {"image": "x", "ulimits": {"nofile": {"soft": 1, "hard": 2}, "nproc": 5}}}},
    {"services": {"w": {"image": "x", "x-custom": {"anything": [1, 2]}}}},
    {"x-anchors": {"a": 1}, "services": {"w": {"image": "x"}}},
    {"networks": {"n": None, "m": {"external": True}}, "volumes": {"v": None}},
    {"secrets": {"s": {"file": "./s"}}, "configs": {"c": {"content": "hello"}}},
    {"include": ["a.yaml", {"path": ["b.yaml"], "env_file": ".env"}]},
    {"services": {"w": {"image": "x", "command": None, "entrypoint": "sh"}}},
    {"services": {"w": {"image": "x", "cpu_percent": 50, "cpu_count": "2"}}},
    {"services": {"w": {"image": "x", "gpus": "all"}}},
    {"services": {"w": {"image": "x", "pull_policy": "every_12h"}}},
    {"services": {"w": {"image": "x", "container_name": "my-container"}}},
    {"services": {"w": {"image": "x", "extra_hosts": {"h": ["1.2.3.4", "::1"]}}}},
    {"services": {"w": {"image": "x", "env_file": [{"path": "a.env", "required": False}]}}},
    {"services": {"w": {"image": "x", "post_start": [{"command": "echo"}]}}},
    {"models": {"m": {"model": "ai/x"}}, "services": {"w": {"image": "x", "models": ["m"]}}},
]
INVALID = [
    [],
    "text",
    {"services": {"web": {"image": "x", "foo": 1}}},
    {"unknown": 1},
    {"services": {"web": {"image": 1}}},
    {"services": {"web": {"ports": [True]}}},
    {"services": {"web": {"ports": ["80", "80"]}}},
    {"services": {"web": {"ports": [{"target": 80, "foo": 1}]}}},
    {"services": {"web": {"depends_on": {"db": {}}}}},
    {"services": {"web": {"depends_on": {"db": {"condition": "started"}}}}},
    {"services": {"web": {"depends_on": ["db", "db"]}}},
    {"services": {"web": {"cgroup": "other"}}},
    {"services": {"web": {"cpu_percent": 101}}},
    {"services": {"web": {"oom_score_adj": -1001}}},
    {"services": {"web": {"container_name": "-"}}},
    {"services": {"web": {"pull_policy": "sometimes"}}},
    {"services": {"web": {"volumes": [{"source": "a", "target": "/a"}]}}},
    {"services": {"web": {"volumes": [{"type": "weird", "target": "/a"}]}}},
    {"services": {"web": {"healthcheck": {"test": 1}}}},
    {"services": {"web": {"healthcheck": {"foo": 1}}}},
    {"services": {"web": {"environment": {"A": [1]}}}},
    {"services": {"web": {"environment": ["A=1", "A=1"]}}},
    {"services": {"web": {"build": {"context": ".", "foo": 1}}}},
    {"services": {"web": {"build": 1}}},
    {"services": {"web": {"deploy": {"resources": {"limits": {"memory": 5}}}}}},
    {"services": {"web": {"deploy": {"update_config": {"order": "random"}}}}},
    {"services": {"web": {"ulimits": {"nofile": {"soft": 1}}}}},
    {"services": {"we b": {"image": "x"}}},
    {"services": {"web": None}},
    {"volumes": {"v": {"driver": 1}}},
    {"volumes": {"bad name": {}}},
    {"secrets": {"s": {"file": 1}}},
    {"configs": {"c": {"foo": "x"}}},
    {"networks": {"n": {"ipam": {"config": [{"subnet": 1}]}}}},
    {"networks": {"n": {"external": {"foo": "x"}}}},
    {"include": [{"path": "a", "foo": 1}]},
    {"services": {"w": {"extends": {"file": "x"}}}},
    {"services": {"w": {"gpus": "some"}}},
    {"services": {"w": {"devices": [{"target": "/dev/x"}]}}},
    {"models": {"m": {}}},
]


@pytest.mark.parametrize("doc", VALID, ids=range(len(VALID)))
def test_valid_corpus(doc: Any) -> None:
    assert reference_accepts(doc), "corpus entry must be valid for the schema"
    assert dockyard_accepts(doc)


@pytest.mark.parametrize("doc", INVALID, ids=range(len(INVALID)))
def test_invalid_corpus(doc: Any) -> None:
    assert not reference_accepts(doc), "corpus entry must be invalid for the schema"
    assert not dockyard_accepts(doc)


# ------------------------------------------------------------------ generated documents

CANDIDATES: list[Any] = [
    None,
    True,
    False,
    0,
    -1,
    1,
    2.5,
    101,
    -1001,
    1.0,
    "",
    "x",
    "all",
    "host",
    "private",
    "service_started",
    "start-first",
    "bind",
    "volume",
    "z",
    "sync",
    "always",
    "every_1d",
    "ab",
    "enabled",
    [],
    ["a"],
    ["a", "a"],
    [1],
    [None],
    [{"a": 1}],
    [{"command": "x"}],
    [{"path": "p"}],
    [{"type": "volume", "target": "/t"}],
    [{"capabilities": ["gpu"]}],
    [{"source": "s"}],
    {},
    {"a": "b"},
    {"x-a": 1},
    {"a": None},
    {"a": [1]},
    {"soft": 1, "hard": 2},
    {"condition": "service_started"},
    {"model": "m"},
    {"type": "t"},
    {"foo": 1},
    {"a": {"condition": "service_healthy"}},
    {"nofile": 3},
    {"path": "p", "action": "sync"},
]


def _resolve(schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        schema = REFERENCE["definitions"][name]
    return schema


def _property_paths(
    schema: dict[str, Any], prefix: tuple[Any, ...], depth: int, seen: set[int]
) -> list[tuple[Any, ...]]:
    schema = _resolve(schema)
    if depth > 7:
        return []
    paths: list[tuple[Any, ...]] = []
    for alt in schema.get("oneOf", []) + schema.get("anyOf", []):
        paths.extend(_property_paths(alt, prefix, depth + 1, seen))
    for name, sub in (schema.get("properties") or {}).items():
        path = (*prefix, name)
        paths.append(path)
        paths.extend(_property_paths(sub, path, depth + 1, seen))
    for pattern, sub in (schema.get("patternProperties") or {}).items():
        if pattern == "^x-":
            continue
        key = "nofile" if pattern == "^[a-z]+$" else "k1"
        path = (*prefix, key)
        paths.append(path)
        paths.extend(_property_paths(sub, path, depth + 1, seen))
    if "properties" in schema or "patternProperties" in schema:
        paths.append((*prefix, "foo"))
        paths.append((*prefix, "x-ext"))
    items = schema.get("items")
    if isinstance(items, dict):
        path = (*prefix, 0)
        paths.append(path)
        paths.extend(_property_paths(items, path, depth + 1, seen))
    return paths


def _place(path: tuple[Any, ...], value: Any) -> Any:
    doc: Any = value
    for key in reversed(path):
        doc = [doc] if isinstance(key, int) else {key: doc}
    return doc


ALL_PATHS = sorted(set(_property_paths(REFERENCE, (), 0, set())), key=lambda p: [str(x) for x in p])


def test_generated_paths_cover_the_schema() -> None:
    services = [p for p in ALL_PATHS if p[:1] == ("services",)]
    assert len(services) > 300
    assert ("services", "k1", "deploy", "resources", "limits", "cpus") in ALL_PATHS


@pytest.mark.parametrize("path", ALL_PATHS, ids=lambda p: ".".join(map(str, p)))
def test_parity_at_every_path(path: tuple[Any, ...]) -> None:
    for value in CANDIDATES:
        assert_parity(_place(path, copy.deepcopy(value)))


def test_parity_with_hypothesis_documents() -> None:
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    scalars = st.one_of(
        st.none(),
        st.booleans(),
        st.integers(-2000, 2000),
        st.floats(allow_nan=False, allow_infinity=False, width=32),
        st.sampled_from(["", "a", "x-y", "host", "all", "1", "service_healthy", "bind"]),
    )
    values = st.recursive(
        scalars,
        lambda inner: st.one_of(
            st.lists(inner, max_size=3),
            st.dictionaries(
                st.sampled_from(["a", "x-b", "target", "soft", "hard", "condition", "path"]),
                inner,
                max_size=3,
            ),
        ),
        max_leaves=6,
    )
    service_paths = [p for p in ALL_PATHS if p[:1] == ("services",)]

    @settings(max_examples=400, deadline=None, suppress_health_check=list(HealthCheck))
    @given(st.sampled_from(service_paths), values)
    def check(path: tuple[Any, ...], value: Any) -> None:
        assert_parity(_place(path, value))

    check()
