"""Flag parsing with pflag's rules and Docker's errors."""

from __future__ import annotations

import pytest

from dockyard.cli.parser import CommandParser
from dockyard.errors import UsageError


def parser() -> CommandParser:
    p = CommandParser("images", "[OPTIONS] [REPOSITORY[:TAG]]", "List images")
    p.flag("-a", "--all")
    p.flag("-q", "--quiet")
    p.flag("-H", "--human", default=True)
    p.multi("-f", "--filter")
    p.option("--format")
    p.option("-o", "--output")
    return p


def test_forms() -> None:
    ns = parser().parse(
        [
            "-aq",
            "-f",
            "a=1",
            "--filter=b=2",
            "-fc=3",
            "--format",
            "{{.ID}}",
            "repo",
            "-o=out",
            "-H=false",
        ]
    )
    assert ns.all and ns.quiet and not ns.human
    assert ns.filter == ["a=1", "b=2", "c=3"]
    assert ns.format == "{{.ID}}" and ns.output == "out"
    assert ns.args == ["repo"]
    ns = parser().parse(["--", "-a"])
    assert ns.args == ["-a"] and not ns.all
    ns = parser().parse(["-", "--all=false"])
    assert ns.args == ["-"] and ns.all is False
    stop = parser().parse(["x", "-a"], interspersed=False)
    assert stop.args == ["x", "-a"] and not stop.all


@pytest.mark.parametrize(
    ("argv", "first_line"),
    [
        (["--foo"], "unknown flag: --foo"),
        (["-x"], "unknown shorthand flag: 'x' in -x"),
        (["-ax"], "unknown shorthand flag: 'x' in -ax"),
        (["--format"], "flag needs an argument: --format"),
        (["-o"], "flag needs an argument: 'o' in -o"),
        (
            ["--all=maybe"],
            'invalid argument "maybe" for "-a, --all" flag: strconv.ParseBool:'
            ' parsing "maybe": invalid syntax',
        ),
    ],
)
def test_flag_errors_exit_125(argv: list[str], first_line: str) -> None:
    with pytest.raises(UsageError) as info:
        parser().parse(argv)
    assert info.value.exit_code == 125
    lines = info.value.message.splitlines()
    assert lines[0] == first_line
    assert lines[2] == "Usage:  dockyard images [OPTIONS] [REPOSITORY[:TAG]]"
    assert lines[-1] == "Run 'dockyard images --help' for more information"


def test_argument_counts_exit_1() -> None:
    with pytest.raises(UsageError) as info:
        parser().parse(["a", "b"], max_args=1)
    assert info.value.exit_code == 1
    assert info.value.message.startswith('"dockyard images" requires at most 1 argument.')
    with pytest.raises(UsageError, match="requires at least 2 arguments"):
        parser().parse(["a"], min_args=2)
    with pytest.raises(UsageError, match="requires exactly 2 arguments"):
        parser().parse(["a"], min_args=2, max_args=2)
    with pytest.raises(UsageError) as info:
        parser().parse(["a"], max_args=0)
    assert info.value.message.startswith('"dockyard images" accepts no arguments.\n')


def test_help(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        parser().parse(["--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    assert "Usage:  dockyard images [OPTIONS] [REPOSITORY[:TAG]]" in out
    assert "  -a, --all" in out and "      --format string" in out
    with pytest.raises(SystemExit):
        parser().parse(["-h"])
