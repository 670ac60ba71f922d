"""Argument parsing with Docker's (cobra's) usage errors, help text and exit codes."""

from __future__ import annotations

import argparse
import sys
from typing import Any, NoReturn

from dockyard.errors import UsageError

PROG = "dockyard"


class CommandParser(argparse.ArgumentParser):
    """argparse with Docker's wording: ``unknown flag: --x``, ``requires at least 1 argument``."""

    def __init__(self, command: str, usage: str, description: str, **kwargs: Any) -> None:
        self.command = command
        self.usage_line = usage
        super().__init__(
            prog=f"{PROG} {command}",
            description=description,
            add_help=False,
            allow_abbrev=False,
            **kwargs,
        )
        self.add_argument("--help", action="store_true", help="Print usage")

    def usage_text(self) -> str:
        return f"Usage:  {PROG} {self.command} {self.usage_line}".rstrip()

    def fail(self, message: str, *, see: bool = False) -> NoReturn:
        hint = "See" if see else "Run"
        raise UsageError(
            f"{message}\n\n{self.usage_text()}\n\n"
            f"{hint} '{PROG} {self.command} --help' for more information"
        )

    def error(self, message: str) -> NoReturn:
        if message.startswith("unrecognized arguments: "):
            flag = message.split(": ", 1)[1].split()[0]
            self.fail(_unknown_flag(flag))
        if "expected one argument" in message:
            flag = message.split(":", 1)[0].replace("argument ", "").split("/")[-1]
            self.fail(f"flag needs an argument: {flag}")
        if "invalid" in message and "value" in message:
            self.fail(message.replace("argument ", ""))
        self.fail(message)

    def parse(
        self,
        argv: list[str],
        *,
        min_args: int = 0,
        max_args: int | None = None,
        positional: str = "args",
    ) -> argparse.Namespace:
        ns, extra = self.parse_known_args(argv)
        for item in extra:
            if item.startswith("-") and item != "-":
                self.fail(_unknown_flag(item))
        if extra:
            raise UsageError(f"unexpected argument {extra[0]!r}")
        if ns.help:
            self.print_help_docker()
            raise SystemExit(0)
        args = getattr(ns, positional, None)
        count = len(args) if isinstance(args, list) else (0 if args is None else 1)
        if count < min_args:
            plural = "argument" if min_args == 1 else "arguments"
            if max_args == min_args:
                msg = f'"{PROG} {self.command}" requires exactly {min_args} {plural}.'
            else:
                msg = f'"{PROG} {self.command}" requires at least {min_args} {plural}.'
            raise UsageError(
                f"{msg}\nSee '{PROG} {self.command} --help'.\n\n{self.usage_text()}\n\n"
                f"{self.description}"
            ).with_code(1)
        if max_args is not None and count > max_args:
            plural = "argument" if max_args == 1 else "arguments"
            word = "exactly" if max_args == min_args else "at most"
            raise UsageError(
                f'"{PROG} {self.command}" requires {word} {max_args} {plural}.\n'
                f"See '{PROG} {self.command} --help'.\n\n{self.usage_text()}\n\n{self.description}"
            ).with_code(1)
        return ns

    def print_help_docker(self) -> None:
        lines = [f"\n{self.usage_text()}\n", f"{self.description}\n"]
        options = [a for a in self._actions if a.option_strings and a.dest != "help"]
        if options:
            lines.append("Options:")
            rows = []
            for action in options:
                shorts = [o for o in action.option_strings if len(o) == 2]
                longs = [o for o in action.option_strings if len(o) > 2]
                flag = (shorts[0] + ", " if shorts else "    ") + (longs[0] if longs else "")
                if action.nargs != 0:
                    flag += f" {action.metavar or _type_name(action)}"
                rows.append((flag, action.help or ""))
            width = max(len(r[0]) for r in rows)
            lines.extend(f"  {flag.ljust(width)}   {text}" for flag, text in rows)
        sys.stdout.write("\n".join(lines) + "\n")


def _type_name(action: argparse.Action) -> str:
    if isinstance(action, argparse._AppendAction):
        return "list"
    if action.type is int:
        return "int"
    return "string"


def _unknown_flag(flag: str) -> str:
    if flag.startswith("--"):
        return f"unknown flag: {flag.split('=', 1)[0]}"
    return f"unknown shorthand flag: {flag[1:2]!r} in {flag}"
