"""``dockyard compose --help`` laid out as the Docker CLI prints Compose's: options
sorted and wrapped as pflag's FlagUsagesWrapped does at 80 columns (checked against
pflag v1.0.10 with Compose's flag definitions), then the commands with Compose's
descriptions, sorted as cobra sorts them."""

from __future__ import annotations

import os

import pytest

from dockyard.cli.commands.compose import COMMAND_HELP, SUBCOMMANDS, _wrap, cmd_compose

EXPECTED_OPTIONS = """\
Options:
      --all-resources              Include all resources, even those not
                                   used by services
      --ansi string                Control when to print ANSI control
                                   characters ("never"|"always"|"auto")
                                   (default "auto")
      --compatibility              Run compose in backward compatibility mode
      --dry-run                    Execute command in dry run mode
      --env-file stringArray       Specify an alternate environment file
  -f, --file stringArray           Compose configuration files
      --parallel int               Control max parallelism, -1 for
                                   unlimited (default -1)
      --profile stringArray        Specify a profile to enable
      --progress string            Set type of progress output (auto,
                                   tty, plain, json, quiet)
      --project-directory string   Specify an alternate working directory
                                   (default: the path of the, first
                                   specified, Compose file)
  -p, --project-name string        Project name
"""


def _no_terminal(fd: int = 0) -> os.terminal_size:
    raise OSError("not a terminal")


@pytest.mark.parametrize("argv", [["--help"], []])
def test_help_lists_options_and_commands(
    argv: list[str], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(os, "get_terminal_size", _no_terminal)
    try:
        code = cmd_compose(lambda: None, argv, "compose")  # type: ignore[arg-type,return-value]
    except SystemExit as exc:
        code = int(exc.code or 0)
    out = capsys.readouterr().out
    assert code == 0
    head = (
        "\nUsage:  dockyard compose [OPTIONS] COMMAND\n\n"
        "Define and run multi-container applications with Docker\n\n"
    )
    assert out.startswith(head + EXPECTED_OPTIONS + "\nCommands:\n")
    commands = out[len(head + EXPECTED_OPTIONS + "\nCommands:\n") :].split("\n")
    listed = [line for line in commands if line.startswith("  ")]
    names = [line.split()[0] for line in listed]
    assert names == sorted(COMMAND_HELP)
    assert "  attach      Attach local standard input, output, and error streams" in out
    assert "  scale       Scale services \n" in out  # Compose's Short, trailing blank included
    assert out.endswith(
        "\n\nRun 'dockyard compose COMMAND --help' for more information on a command.\n"
    )


def test_every_listed_command_exists() -> None:
    assert set(COMMAND_HELP) <= set(SUBCOMMANDS)
    assert "convert" not in COMMAND_HELP  # an alias Compose keeps out of the list


def test_wrap_falls_back_to_a_block_when_narrow() -> None:
    # less than 24 columns left: the usage starts on a new line at column 16
    assert _wrap(60, 79, "short text") == "\n" + " " * 16 + "short text"
