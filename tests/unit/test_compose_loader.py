"""Loading compose projects: discovery, -f merging, names, environment, profiles,
extends and include, and errors that name the file and key path."""

from __future__ import annotations

import io
import pathlib
from typing import Any

import pytest

from dockyard.compose.errors import ComposeError
from dockyard.compose.loader import (
    Project,
    ProjectOptions,
    load_project,
    normalize_project_name,
)


def write(path: pathlib.Path, text: str) -> pathlib.Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def load(cwd: pathlib.Path, env: dict[str, str] | None = None, **kwargs: Any) -> Project:
    return load_project(ProjectOptions(cwd=str(cwd), environ=dict(env or {}), **kwargs))


SIMPLE = "services:\n  web:\n    image: busybox\n"


# ------------------------------------------------------------------ discovery


@pytest.mark.parametrize(
    ("present", "chosen"),
    [
        (["docker-compose.yml"], "docker-compose.yml"),
        (["docker-compose.yml", "docker-compose.yaml"], "docker-compose.yaml"),
        (["docker-compose.yaml", "compose.yml"], "compose.yml"),
        (["compose.yml", "compose.yaml", "docker-compose.yml"], "compose.yaml"),
    ],
)
def test_discovery_order(tmp_path: pathlib.Path, present: list[str], chosen: str) -> None:
    for name in present:
        write(tmp_path / name, f"services:\n  s:\n    image: {name}\n")
    project = load(tmp_path)
    assert project.config_files == [str(tmp_path / chosen)]
    assert project.services["s"]["image"] == chosen
    assert bool(project.warnings) == (len(present) > 1)


def test_discovery_searches_parent_directories(tmp_path: pathlib.Path) -> None:
    write(tmp_path / "proj" / "compose.yaml", SIMPLE)
    deep = tmp_path / "proj" / "a" / "b"
    deep.mkdir(parents=True)
    project = load(deep)
    assert project.working_dir == str(tmp_path / "proj")
    assert project.name == "proj"


def test_discovery_adds_the_override_file(tmp_path: pathlib.Path) -> None:
    write(tmp_path / "compose.yaml", SIMPLE)
    write(tmp_path / "compose.override.yaml", "services:\n  web:\n    command: echo hi\n")
    project = load(tmp_path)
    assert project.config_files[1].endswith("compose.override.yaml")
    assert project.services["web"]["command"] == ["echo", "hi"]


def test_no_compose_file(tmp_path: pathlib.Path) -> None:
    with pytest.raises(ComposeError) as info:
        load(tmp_path)
    assert info.value.message == "no configuration file provided: not found"
    assert info.value.exit_code == 14


def test_missing_explicit_file(tmp_path: pathlib.Path) -> None:
    with pytest.raises(ComposeError, match=r"open .*/nope.yaml: no such file or directory"):
        load(tmp_path, config_files=["nope.yaml"])


def test_stdin_file(tmp_path: pathlib.Path) -> None:
    project = load(tmp_path, config_files=["-"], read_stdin=io.StringIO(SIMPLE).read)
    assert project.services["web"]["image"] == "busybox"
    assert project.working_dir == str(tmp_path)


# ------------------------------------------------------------------ -f merging


def test_several_files_merge_as_the_spec_says(tmp_path: pathlib.Path) -> None:
    write(
        tmp_path / "a.yaml",
        "services:\n  web:\n    image: a\n    command: [echo, a]\n"
        "    ports: ['8080:80']\n    volumes: ['one:/data']\n"
        "    environment: {A: '1', B: '2'}\n    dns: [1.1.1.1]\n"
        "volumes:\n  one: {}\n  two: {}\n",
    )
    write(
        tmp_path / "b.yaml",
        "services:\n  web:\n    image: b\n    command: [echo, b]\n"
        "    ports: ['9090:90', '8080:80']\n    volumes: ['two:/data']\n"
        "    environment: [B=3, C=4]\n    dns: [8.8.8.8]\n",
    )
    web = load(tmp_path, config_files=["a.yaml", "b.yaml"]).services["web"]
    assert web["image"] == "b"
    assert web["command"] == ["echo", "b"]
    assert [p["published"] for p in web["ports"]] == ["8080", "9090"]
    assert [v["source"] for v in web["volumes"]] == ["two"]
    assert web["environment"] == {"A": "1", "B": "3", "C": "4"}
    assert web["dns"] == ["1.1.1.1", "8.8.8.8"]


def test_reset_and_override_tags_in_an_override_file(tmp_path: pathlib.Path) -> None:
    write(
        tmp_path / "a.yaml",
        "services:\n  web:\n    image: a\n    ports: ['80:80']\n"
        "    environment: {FOO: bar, KEEP: k}\n",
    )
    write(
        tmp_path / "b.yaml",
        "services:\n  web:\n    ports: !override ['443:443']\n"
        "    environment:\n      FOO: !reset null\n",
    )
    web = load(tmp_path, config_files=["a.yaml", "b.yaml"]).services["web"]
    assert [p["target"] for p in web["ports"]] == [443]
    assert web["environment"] == {"KEEP": "k"}


def test_relative_paths_of_every_file_use_the_project_directory(tmp_path: pathlib.Path) -> None:
    write(tmp_path / "compose.yaml", "services:\n  web:\n    build: ./app\n")
    write(tmp_path / "other" / "extra.yaml", "services:\n  web:\n    volumes: ['./data:/data']\n")
    web = load(tmp_path, config_files=["compose.yaml", "other/extra.yaml"]).services["web"]
    assert web["build"]["context"] == str(tmp_path / "app")
    assert web["volumes"][0]["source"] == str(tmp_path / "data")


# ------------------------------------------------------------------ project name


@pytest.mark.parametrize(
    ("directory", "expected"),
    [("My_App", "my_app"), ("web.site", "website"), ("__x-Y", "x-y"), ("A b C", "abc")],
)
def test_directory_name_normalisation(directory: str, expected: str) -> None:
    assert normalize_project_name(directory) == expected


def test_project_name_precedence(tmp_path: pathlib.Path) -> None:
    proj = tmp_path / "Dir.Name"
    write(proj / "compose.yaml", SIMPLE)
    assert load(proj).name == "dirname"
    write(proj / "compose.yaml", "name: fromfile\n" + SIMPLE)
    assert load(proj).name == "fromfile"
    assert load(proj, {"COMPOSE_PROJECT_NAME": "fromenv"}).name == "fromenv"
    assert load(proj, {"COMPOSE_PROJECT_NAME": "fromenv"}, project_name="flag").name == "flag"
    write(proj / ".env", "COMPOSE_PROJECT_NAME=dotenv\n")
    assert load(proj).name == "dotenv"


@pytest.mark.parametrize("bad", ["Upper", "-lead", "sp ace", "dot.ted"])
def test_explicit_project_names_must_be_normalised(tmp_path: pathlib.Path, bad: str) -> None:
    write(tmp_path / "compose.yaml", SIMPLE)
    with pytest.raises(ComposeError, match="invalid project name"):
        load(tmp_path, project_name=bad)


def test_project_name_is_available_for_interpolation(tmp_path: pathlib.Path) -> None:
    write(
        tmp_path / "p1" / "compose.yaml",
        "services:\n  web:\n    image: x/${COMPOSE_PROJECT_NAME}\n",
    )
    assert load(tmp_path / "p1").services["web"]["image"] == "x/p1"


# ------------------------------------------------------------------ environment


def test_dotenv_and_os_environment_precedence(tmp_path: pathlib.Path) -> None:
    write(tmp_path / "compose.yaml", "services:\n  web:\n    image: ${IMG}:${TAG}\n")
    write(tmp_path / ".env", "IMG=fromdotenv\nTAG=dotenvtag\n")
    assert load(tmp_path).services["web"]["image"] == "fromdotenv:dotenvtag"
    assert load(tmp_path, {"TAG": "ostag"}).services["web"]["image"] == "fromdotenv:ostag"


def test_env_file_flags_replace_dotenv_and_later_wins(tmp_path: pathlib.Path) -> None:
    write(tmp_path / "compose.yaml", "services:\n  web:\n    image: ${IMG}:${TAG}\n")
    write(tmp_path / ".env", "IMG=dotenv\nTAG=dotenv\n")
    write(tmp_path / "one.env", "IMG=one\nTAG=one\n")
    write(tmp_path / "two.env", "TAG=two\n")
    project = load(tmp_path, env_files=["one.env", "two.env"])
    assert project.services["web"]["image"] == "one:two"
    with pytest.raises(ComposeError, match=r"couldn't find env file: .*/missing\.env"):
        load(tmp_path, env_files=["missing.env"])


def test_compose_file_variable(tmp_path: pathlib.Path) -> None:
    write(tmp_path / "a.yaml", SIMPLE)
    write(tmp_path / "b.yaml", "services:\n  web:\n    user: nobody\n")
    write(tmp_path / ".env", "COMPOSE_FILE=a.yaml:b.yaml\n")
    project = load(tmp_path)
    assert project.config_files == [str(tmp_path / "a.yaml"), str(tmp_path / "b.yaml")]
    assert project.services["web"]["user"] == "nobody"


def test_unset_variable_warns_and_defaults_to_blank(tmp_path: pathlib.Path) -> None:
    write(tmp_path / "compose.yaml", "services:\n  web:\n    image: busybox\n    user: '${WHO}'\n")
    project = load(tmp_path)
    assert project.warnings == ['The "WHO" variable is not set. Defaulting to a blank string.']


def test_required_variable_error_names_the_key(tmp_path: pathlib.Path) -> None:
    write(tmp_path / "compose.yaml", "services:\n  web:\n    image: ${IMG:?set IMG}\n")
    with pytest.raises(ComposeError) as info:
        load(tmp_path)
    assert info.value.message == (
        "error while interpolating services.web.image: "
        "required variable IMG is missing a value: set IMG"
    )


def test_no_interpolation_keeps_templates(tmp_path: pathlib.Path) -> None:
    write(tmp_path / "compose.yaml", "services:\n  web:\n    image: ${IMG:?x}\n")
    project = load(tmp_path, interpolate=False)
    assert project.services["web"]["image"] == "${IMG:?x}"


# ------------------------------------------------------------------ validation errors


def test_unknown_key_error_names_file_and_path(tmp_path: pathlib.Path) -> None:
    path = write(tmp_path / "compose.yaml", "services:\n  web:\n    image: x\n    foo: 1\n")
    with pytest.raises(ComposeError) as info:
        load(tmp_path)
    assert info.value.message == (
        f"validating {path}: services.web Additional property foo is not allowed"
    )
    assert info.value.exit_code == 15


def test_wrong_type_error_names_item_path(tmp_path: pathlib.Path) -> None:
    path = write(
        tmp_path / "compose.yaml",
        "services:\n  web:\n    image: x\n    ports:\n      - target: 80\n        foo: 1\n",
    )
    with pytest.raises(ComposeError) as info:
        load(tmp_path)
    assert info.value.message == (
        f"validating {path}: services.web.ports.0 Additional property foo is not allowed"
    )
    write(tmp_path / "compose.yaml", "services:\n  web:\n    image: [x]\n")
    with pytest.raises(ComposeError, match=r"services.web.image must be a string"):
        load(tmp_path)


def test_validation_is_per_file(tmp_path: pathlib.Path) -> None:
    write(tmp_path / "a.yaml", SIMPLE)
    bad = write(tmp_path / "b.yaml", "services:\n  web:\n    restart: [no]\n")
    with pytest.raises(ComposeError, match=f"validating {bad}: services.web.restart"):
        load(tmp_path, config_files=["a.yaml", "b.yaml"])


def test_top_level_must_be_a_mapping(tmp_path: pathlib.Path) -> None:
    write(tmp_path / "compose.yaml", "- a\n- b\n")
    with pytest.raises(ComposeError, match="Top-level object must be a mapping"):
        load(tmp_path)


def test_empty_file(tmp_path: pathlib.Path) -> None:
    write(tmp_path / "compose.yaml", "")
    with pytest.raises(ComposeError, match="empty compose file"):
        load(tmp_path)


def test_version_is_obsolete(tmp_path: pathlib.Path) -> None:
    write(tmp_path / "compose.yaml", "version: '3.8'\n" + SIMPLE)
    project = load(tmp_path)
    assert "version" not in project.model
    assert "the attribute `version` is obsolete" in project.warnings[0]


# ------------------------------------------------------------------ profiles


PROFILED = (
    "services:\n"
    "  web:\n    image: x\n"
    "  debug:\n    image: x\n    profiles: [debug]\n"
    "  tools:\n    image: x\n    profiles: [tools, debug]\n"
)


def test_profiles_select_services(tmp_path: pathlib.Path) -> None:
    write(tmp_path / "compose.yaml", PROFILED)
    assert sorted(load(tmp_path).services) == ["web"]
    assert sorted(load(tmp_path, profiles=["tools"]).services) == ["tools", "web"]
    assert sorted(load(tmp_path, profiles=["debug"]).services) == ["debug", "tools", "web"]
    assert sorted(load(tmp_path, {"COMPOSE_PROFILES": "tools,debug"}).services) == [
        "debug",
        "tools",
        "web",
    ]
    assert sorted(load(tmp_path, profiles=["*"]).services) == ["debug", "tools", "web"]
    assert load(tmp_path).all_profiles() == ["debug", "tools"]


def test_dependency_on_disabled_service(tmp_path: pathlib.Path) -> None:
    write(tmp_path / "compose.yaml", PROFILED + "  app:\n    image: x\n    depends_on: [debug]\n")
    with pytest.raises(ComposeError, match='service "debug" is required by "app" but is disabled'):
        load(tmp_path)


# ------------------------------------------------------------------ extends


def test_extends_in_the_same_file(tmp_path: pathlib.Path) -> None:
    write(
        tmp_path / "compose.yaml",
        "services:\n"
        "  base:\n    image: busybox\n    environment: {A: '1'}\n    ports: ['80:80']\n"
        "  web:\n    extends: base\n    environment: {B: '2'}\n    command: [echo]\n"
        "  web2:\n    extends:\n      service: web\n    image: other\n",
    )
    services = load(tmp_path).services
    assert services["web"]["image"] == "busybox"
    assert services["web"]["environment"] == {"A": "1", "B": "2"}
    assert services["web2"]["image"] == "other"
    assert services["web2"]["command"] == ["echo"]
    assert "extends" not in services["web2"]


def test_extends_another_file_resolves_its_paths(tmp_path: pathlib.Path) -> None:
    write(
        tmp_path / "common" / "base.yaml",
        "services:\n  app:\n    build: ./src\n    env_file: app.env\n",
    )
    write(tmp_path / "common" / "app.env", "FROM_FILE=1\n")
    write(
        tmp_path / "compose.yaml",
        "services:\n  web:\n    extends:\n      file: common/base.yaml\n      service: app\n",
    )
    web = load(tmp_path).services["web"]
    assert web["build"]["context"] == str(tmp_path / "common" / "src")
    assert web["environment"] == {"FROM_FILE": "1"}


def test_extends_errors(tmp_path: pathlib.Path) -> None:
    write(tmp_path / "compose.yaml", "services:\n  web:\n    extends: nope\n")
    with pytest.raises(
        ComposeError, match=r'cannot extend service "web" .*service "nope" not found'
    ):
        load(tmp_path)
    write(tmp_path / "compose.yaml", "services:\n  a:\n    extends: b\n  b:\n    extends: a\n")
    with pytest.raises(ComposeError, match="circular reference with extends"):
        load(tmp_path)


# ------------------------------------------------------------------ include


def test_include_adds_resources_with_their_own_paths_and_env(tmp_path: pathlib.Path) -> None:
    write(
        tmp_path / "db" / "compose.yaml",
        "services:\n  db:\n    image: postgres:${PG}\n    volumes: ['./init:/init']\n"
        "volumes:\n  dbdata: {}\n",
    )
    write(tmp_path / "db" / ".env", "PG=16\n")
    write(
        tmp_path / "compose.yaml",
        "include:\n  - db/compose.yaml\nservices:\n  web:\n    image: x\n    depends_on: [db]\n",
    )
    project = load(tmp_path)
    assert sorted(project.services) == ["db", "web"]
    assert project.services["db"]["image"] == "postgres:16"
    assert project.services["db"]["volumes"][0]["source"] == str(tmp_path / "db" / "init")
    assert project.model["volumes"]["dbdata"]["name"] == f"{project.name}_dbdata"


def test_include_long_syntax_and_conflicts(tmp_path: pathlib.Path) -> None:
    write(tmp_path / "inc" / "c.yaml", "services:\n  db:\n    image: ${DBIMG}\n")
    write(tmp_path / "vars.env", "DBIMG=mysql\n")
    write(
        tmp_path / "compose.yaml",
        "include:\n  - path: inc/c.yaml\n    env_file: vars.env\nservices:\n  web:\n    image: x\n",
    )
    assert load(tmp_path).services["db"]["image"] == "mysql"
    write(
        tmp_path / "compose.yaml",
        "include:\n  - path: inc/c.yaml\n    env_file: vars.env\n"
        "services:\n  db:\n    image: other\n",
    )
    with pytest.raises(ComposeError, match=r"services\.db conflicts with imported resource"):
        load(tmp_path)


def test_include_cycle(tmp_path: pathlib.Path) -> None:
    write(tmp_path / "a.yaml", "include: [b.yaml]\nservices: {}\n")
    write(tmp_path / "b.yaml", "include: [a.yaml]\nservices: {}\n")
    write(tmp_path / "compose.yaml", "include: [a.yaml]\nservices: {}\n")
    with pytest.raises(ComposeError, match="include cycle detected"):
        load(tmp_path)
