"""``dockyard compose config`` against golden outputs for realistic projects.

The golden files are compose-go v2.13.0's own output for these projects: the project
loaded and printed as docker/compose's ``config`` does (``LoadProject``,
``WithServicesEnvironmentResolved(true)``, ``Project.MarshalYAML``/``MarshalJSON``),
with the project directory replaced by ``{{DIR}}`` (docs/compose-confighash.md
describes that oracle).
"""

from __future__ import annotations

import json
import os
import pathlib
import shutil

import pytest

from dockyard.cli.commands.compose import cmd_compose
from dockyard.cli.errors import ClientError, report
from dockyard.errors import DockyardError, UsageError

GOLDEN = pathlib.Path(__file__).parent / "compose_golden"


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    env = {"PATH": os.environ.get("PATH", "/usr/bin")}
    monkeypatch.setattr(os, "environ", env)
    return env


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    try:
        code = cmd_compose(lambda: None, argv, "compose")  # type: ignore[arg-type,return-value]
    except DockyardError as exc:
        code = report(exc)
    out, err = capsys.readouterr()
    return code, out, err


def project_copy(
    name: str, tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> pathlib.Path:
    target = tmp_path / name
    shutil.copytree(GOLDEN / name, target)
    monkeypatch.chdir(target)
    return target


@pytest.mark.parametrize("name", ["counter", "blog", "profiles"])
def test_config_yaml_golden(
    name: str,
    tmp_path: pathlib.Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    clean_env: dict[str, str],
) -> None:
    directory = project_copy(name, tmp_path, monkeypatch)
    code, out, err = run(["config"], capsys)
    assert (code, err) == (0, "")
    expected = (GOLDEN / f"{name}.expected.yaml").read_text().replace("{{DIR}}", str(directory))
    assert out == expected


def test_config_json_golden(
    tmp_path: pathlib.Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    clean_env: dict[str, str],
) -> None:
    directory = project_copy("blog", tmp_path, monkeypatch)
    clean_env["DB_USER"] = "admin"
    code, out, _ = run(["config", "--format", "json"], capsys)
    assert code == 0
    expected = (GOLDEN / "blog.expected.json").read_text().replace("{{DIR}}", str(directory))
    assert out == expected


def test_listing_flags(
    tmp_path: pathlib.Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    clean_env: dict[str, str],
) -> None:
    project_copy("profiles", tmp_path, monkeypatch)
    assert run(["config", "--services"], capsys)[1] == "app\n"
    assert run(["--profile", "debug", "config", "--services"], capsys)[1] == "app\ndebug\n"
    assert run(["--profile", "debug,workers", "config", "--services"], capsys)[1] == (
        "app\ndebug\nworker\n"
    )
    assert run(["config", "--profiles"], capsys)[1] == "debug\nworkers\n"
    assert run(["--profile", "debug", "config", "--images"], capsys)[1] == (
        "profiles-app\nbusybox\n"
    )
    assert run(["config", "-q"], capsys)[:2] == (0, "")
    code, out, _ = run(["--profile", "debug", "config", "debug"], capsys)
    assert code == 0 and "  app:\n" in out and "  debug:\n" in out  # with its dependency
    assert "context: ./app" not in run(["config", "--no-path-resolution"], capsys)[1]
    monkeypatch.chdir(tmp_path)
    project_copy("counter", tmp_path, monkeypatch)
    assert run(["config", "--volumes"], capsys)[1] == "counts\n"
    assert run(["config", "--networks"], capsys)[1] == "default\n"
    assert "source: ./seed\n" in run(["config", "--no-path-resolution"], capsys)[1]
    code, out, _ = run(["config", "--hash", "*"], capsys)
    assert code == 0
    assert [line.split()[0] for line in out.splitlines()] == ["counter", "web"]


def test_global_flags_and_no_interpolate(
    tmp_path: pathlib.Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    clean_env: dict[str, str],
) -> None:
    directory = project_copy("counter", tmp_path, monkeypatch)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "alt.env").write_text("WEB_PORT=9999\n")
    code, out, _ = run(
        ["--project-directory", str(directory), "-p", "other", "--env-file", "alt.env", "config"],
        capsys,
    )
    assert code == 0
    assert out.startswith("name: other\n")
    assert 'published: "9999"' in out
    code, out, _ = run(
        ["-f", str(directory / "compose.yaml"), "config", "--no-interpolate", "--no-normalize"],
        capsys,
    )
    assert code == 0
    assert "${WEB_PORT:-8080}:8080" in out


def test_errors_exit_codes_and_messages(
    tmp_path: pathlib.Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    clean_env: dict[str, str],
) -> None:
    monkeypatch.chdir(tmp_path)
    code, out, err = run(["config"], capsys)
    assert (code, out, err) == (14, "", "no configuration file provided: not found\n")
    (tmp_path / "compose.yaml").write_text("services:\n  web:\n    image: x\n    prots: []\n")
    code, _, err = run(["config"], capsys)
    assert code == 15
    assert err == (
        f"validating {tmp_path}/compose.yaml: "
        "services.web Additional property prots is not allowed\n"
    )
    (tmp_path / "compose.yaml").write_text("services:\n  web:\n    image: ${IMG:?need an image}\n")
    code, _, err = run(["config"], capsys)
    assert code == 15
    assert "required variable IMG is missing a value: need an image" in err
    (tmp_path / "compose.yaml").write_text("services:\n  web:\n    image: $USERX\n")
    code, _, err = run(["config", "-q"], capsys)
    assert code == 15  # image is blank: neither image nor build
    assert err.startswith('WARN[0000] The "USERX" variable is not set.')
    code, out, _ = run(["config", "--no-consistency", "--services"], capsys)
    assert (code, out) == (0, "web\n")
    with pytest.raises(ClientError, match='unknown docker command: "compose nope"'):
        cmd_compose(lambda: None, ["nope"], "compose")  # type: ignore[arg-type,return-value]
    with pytest.raises(UsageError, match="unknown flag: --bogus"):
        cmd_compose(lambda: None, ["config", "--bogus"], "compose")  # type: ignore[arg-type,return-value]


def test_stdin_file(
    tmp_path: pathlib.Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    clean_env: dict[str, str],
) -> None:
    import io
    import sys

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "stdin", io.StringIO("services:\n  s:\n    image: busybox\n"))
    code, out, _ = run(["-f", "-", "config", "--services"], capsys)
    assert (code, out) == (0, "s\n")


CONFIG_EXPECTED = json.loads((GOLDEN / "config.expected.json").read_text())
# where dockyard's YAML still differs from compose-go's (deploy durations and device
# requests, gpus, blkio rates): kept to show the gap, strict so a fix is noticed
CONFIG_GAPS = {"deploy", "devices", "scalars", "watch_exec_string"}


@pytest.mark.parametrize(
    "case",
    [
        pytest.param(c, marks=pytest.mark.xfail(strict=True)) if c in CONFIG_GAPS else c
        for c in sorted(CONFIG_EXPECTED)
    ],
)
def test_config_yaml_matches_compose_go(
    case: str,
    tmp_path: pathlib.Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The confighash corpus printed by ``config``, against compose-go's own YAML."""
    directory = tmp_path / case
    shutil.copytree(GOLDEN / "confighash" / case, directory)
    env = {"PATH": "/usr/bin:/bin", "HOME": "/root"}
    if (directory / "env.json").exists():
        env.update(json.loads((directory / "env.json").read_text()))
    if (directory / "profiles.txt").exists():
        env["COMPOSE_PROFILES"] = (directory / "profiles.txt").read_text().strip()
    monkeypatch.setattr(os, "environ", env)
    monkeypatch.chdir(directory)
    argv = ["-f", str(directory / "compose.yaml")]
    if (directory / "compose.override.yaml").exists():
        argv += ["-f", str(directory / "compose.override.yaml")]
    code, out, err = run([*argv, "config"], capsys)
    assert (code, err) == (0, "")
    assert out == CONFIG_EXPECTED[case].replace("{{DIR}}", str(directory))
