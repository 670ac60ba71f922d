"""Interpolation, YAML reading and .env files for compose."""

from __future__ import annotations

import pytest

from dockyard.compose.envfile import parse_env_file
from dockyard.compose.errors import ComposeError
from dockyard.compose.interpolate import interpolate
from dockyard.compose.template import InvalidTemplate, MissingRequired, substitute
from dockyard.compose.yamlfile import Override, Reset, parse_documents

ENV = {"SET": "value", "EMPTY": "", "OTHER": "o"}


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("$SET", "value"),
        ("${SET}", "value"),
        ("pre-${SET}-post", "pre-value-post"),
        ("$SET.txt", "value.txt"),
        ("${UNSET:-default}", "default"),
        ("${EMPTY:-default}", "default"),
        ("${SET:-default}", "value"),
        ("${UNSET-default}", "default"),
        ("${EMPTY-default}", ""),
        ("${SET:+alt}", "alt"),
        ("${EMPTY:+alt}", ""),
        ("${UNSET:+alt}", ""),
        ("${EMPTY+alt}", "alt"),
        ("${UNSET+alt}", ""),
        ("${SET:?must}", "value"),
        ("${EMPTY?ok when empty}", ""),
        ("$$SET", "$SET"),
        ("$${SET}", "${SET}"),
        ("a $$ b", "a $ b"),
        ("${UNSET:-${OTHER}}", "o"),
        ("${UNSET:-${ALSO_UNSET:-deep}}", "deep"),
        ("${UNSET:-$OTHER and ${SET}}", "o and value"),
        ("${UNSET:-x}y}", "xy}"),
        ("${UNSET:-a:b-c}", "a:b-c"),
        ("$UNSET", ""),
        ("no variables", "no variables"),
        ("${set}", ""),  # names are case-sensitive
    ],
)
def test_substitution_forms(template: str, expected: str) -> None:
    assert substitute(template, ENV.get) == expected


def test_unset_variables_are_reported() -> None:
    unset: list[str] = []
    assert substitute("$A ${B} ${C:-x}", ENV.get, unset) == "  x"
    assert unset == ["A", "B"]


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ("${UNSET:?please set it}", "required variable UNSET is missing a value: please set it"),
        ("${EMPTY:?}", "required variable EMPTY is missing a value"),
        ("${UNSET?need $OTHER}", "required variable UNSET is missing a value: need o"),
    ],
)
def test_required_errors(template: str, message: str) -> None:
    with pytest.raises(MissingRequired) as info:
        substitute(template, ENV.get)
    assert info.value.message == message


@pytest.mark.parametrize("template", ["$1", "${", "${SET", "${SET/a/b}", "${1A}", "cost $ 5", "$"])
def test_invalid_templates(template: str) -> None:
    with pytest.raises(InvalidTemplate) as info:
        substitute(template, ENV.get)
    assert info.value.message.startswith("Invalid template: ")


def test_interpolation_errors_name_the_path() -> None:
    doc = {"services": {"web": {"image": "${IMG:?image required}", "ports": ["$1"]}}}
    with pytest.raises(ComposeError) as info:
        interpolate(doc, {})
    assert info.value.message == (
        "error while interpolating services.web.image: "
        "required variable IMG is missing a value: image required"
    )
    with pytest.raises(ComposeError) as info:
        interpolate({"services": {"web": {"ports": ["$1"]}}}, {})
    assert info.value.message == (
        "invalid interpolation format for services.web.ports.[].\n"
        'You may need to escape any $ with another $.\n"$1"'.replace('"$1"', "$1")
    )


def test_interpolation_leaves_keys_and_casts_typed_paths() -> None:
    doc = {
        "services": {
            "web": {
                "labels": {"$KEY": "$SET"},
                "read_only": "${RO}",
                "scale": "${N}",
                "ports": [{"target": "${PORT}"}],
                "image": "${N}",
            }
        },
        "volumes": {"v": {"external": "${EXT}"}},
    }
    env = {"SET": "v", "RO": "yes", "N": "3", "PORT": "80", "EXT": "false"}
    out = interpolate(doc, env)
    web = out["services"]["web"]
    assert web["labels"] == {"$KEY": "v"}
    assert web["read_only"] is True
    assert web["scale"] == 3
    assert web["ports"] == [{"target": 80}]
    assert web["image"] == "3"  # no cast outside typed paths
    assert out["volumes"]["v"]["external"] is False
    with pytest.raises(ComposeError, match="invalid boolean: maybe"):
        interpolate({"services": {"w": {"tty": "$X"}}}, {"X": "maybe"})


# ------------------------------------------------------------------ YAML


def test_yaml_scalars_follow_yaml_1_2() -> None:
    [doc] = parse_documents(
        "a: yes\nb: on\nc: 8000:80\nd: 2001-01-01\ne: 0x10\nf: 0o17\ng: 1_000\n"
        "h: 1.5\ni: ~\nj: True\nk: 017\n",
        "compose.yaml",
    )
    assert doc == {
        "a": "yes",
        "b": "on",
        "c": "8000:80",
        "d": "2001-01-01",
        "e": 16,
        "f": 15,
        "g": 1000,
        "h": 1.5,
        "i": None,
        "j": True,
        "k": 15,
    }


def test_yaml_anchors_and_merge_keys() -> None:
    [doc] = parse_documents(
        "x-base: &base\n  image: busybox\n  restart: always\n"
        "services:\n  a:\n    <<: *base\n    restart: 'no'\n  b: *base\n",
        "compose.yaml",
    )
    assert doc["services"]["a"] == {"image": "busybox", "restart": "no"}
    assert doc["services"]["b"] == {"image": "busybox", "restart": "always"}


def test_yaml_duplicate_keys_rejected_with_lines() -> None:
    with pytest.raises(ComposeError) as info:
        parse_documents("services:\n  web:\n    image: a\n    image: b\n", "/p/compose.yaml")
    assert info.value.message == (
        "parsing /p/compose.yaml: yaml: unmarshal errors:\n"
        '  line 4: mapping key "image" already defined at line 3'
    )


def test_yaml_syntax_error_names_file_and_line() -> None:
    with pytest.raises(ComposeError) as info:
        parse_documents("services:\n  web:\n    image: a\n   bad: [\n", "/p/compose.yaml")
    assert info.value.message.startswith("parsing /p/compose.yaml: yaml: line ")


def test_yaml_reset_and_override_tags() -> None:
    [doc] = parse_documents("a: !reset []\nb: !override [1]\n", "f")
    assert isinstance(doc["a"], Reset)
    assert isinstance(doc["b"], Override) and doc["b"].value == [1]


def test_yaml_multiple_documents() -> None:
    assert parse_documents("a: 1\n---\nb: 2\n", "f") == [{"a": 1}, {"b": 2}]


# ------------------------------------------------------------------ .env


def test_env_file_syntax() -> None:
    text = (
        "# comment\n"
        "A=1\n"
        "export B = two words # trailing comment\n"
        "C='single ${A} $$'\n"
        'D="line\\nbreak ${A}"\n'
        "E=${A}-${FROM_OS}\n"
        "F\n"
        "G=\n"
        'H="multi\nline"\n'
        "I=a#b\n"
    )
    env = parse_env_file(text, ".env", {"FROM_OS": "os", "F": "f-from-os"})
    assert env == {
        "A": "1",
        "B": "two words",
        "C": "single ${A} $$",
        "D": "line\nbreak 1",
        "E": "1-os",
        "F": "f-from-os",
        "G": "",
        "H": "multi\nline",
        "I": "a#b",
    }


def test_env_file_keeps_stray_dollars() -> None:
    env = parse_env_file("A=x\nPASSWORD=pa$1word\nB='$'\nC=$A$2\n", ".env")
    assert env == {"A": "x", "PASSWORD": "pa$1word", "B": "$", "C": "x$2"}


def test_env_file_bad_name() -> None:
    with pytest.raises(ComposeError, match="line 2"):
        parse_env_file("A=1\nB C=2\n", "/p/.env")
