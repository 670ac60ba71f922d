"""Command-line flags as Docker's CLI (cobra + pflag) parses them, with its errors.

pflag's rules: ``--name=value`` or ``--name value``; shorthand ``-f value``,
``-fvalue`` and ``-f=value``; bool shorthands combine (``-aq``); a bool takes a
value only with ``=`` (``-H=false``); ``--`` ends the flags; flags may follow
positional arguments unless the command stops at the first one (``run``,
``exec``). Hand-written rather than argparse: the wording and exit codes are
Docker's, and it costs a fraction of argparse's start-up (argparse pulls in
shutil, gettext and locale on every command).
"""

from __future__ import annotations

import sys
from types import SimpleNamespace

from dockyard.errors import UsageError

TYPE_CHECKING = False  # typing costs every command ~2 ms to import
if TYPE_CHECKING:
    from typing import Any, NoReturn

PROG = "dockyard"
_TRUE = ("1", "t", "T", "TRUE", "true", "True")
_FALSE = ("0", "f", "F", "FALSE", "false", "False")


class _Flag:
    __slots__ = ("default", "dest", "help", "hidden", "kind", "long", "metavar", "short")

    def __init__(
        self, names: tuple[str, ...], kind: str, default: Any, metavar: str, help: str, hidden: bool
    ) -> None:
        self.short = next((n[1:] for n in names if len(n) == 2 and n[0] == "-"), "")
        self.long = next((n[2:] for n in names if n.startswith("--")), "")
        self.dest = (self.long or self.short).replace("-", "_")
        self.kind = kind  # "bool", "value" or "list"
        self.default = default
        self.metavar = metavar
        self.help = help
        self.hidden = hidden

    def label(self) -> str:
        if self.short and self.long:
            return f"-{self.short}, --{self.long}"
        return f"--{self.long}" if self.long else f"-{self.short}"


class CommandParser:
    def __init__(self, command: str, usage: str, description: str) -> None:
        self.command = command
        self.usage_line = usage
        self.description = description
        self._flags: list[_Flag] = []
        self._by_long: dict[str, _Flag] = {}
        self._by_short: dict[str, _Flag] = {}

    def _add(
        self, names: tuple[str, ...], kind: str, default: Any, metavar: str, help: str, hidden: bool
    ) -> None:
        flag = _Flag(names, kind, default, metavar, help, hidden)
        self._flags.append(flag)
        if flag.long:
            self._by_long[flag.long] = flag
        if flag.short:
            self._by_short[flag.short] = flag

    def flag(
        self, *names: str, help: str = "", default: bool = False, hidden: bool = False
    ) -> None:
        """A bool flag."""
        self._add(names, "bool", default, "", help, hidden)

    def option(
        self,
        *names: str,
        help: str = "",
        default: str | None = None,
        metavar: str = "string",
        hidden: bool = False,
    ) -> None:
        """A flag with one value (the last one given wins)."""
        self._add(names, "value", default, metavar, help, hidden)

    def multi(
        self, *names: str, help: str = "", metavar: str = "list", hidden: bool = False
    ) -> None:
        """A flag that may repeat; its values are collected in order."""
        self._add(names, "list", None, metavar, help, hidden)

    # ---------------------------------------------------------------- parsing

    def parse(
        self,
        argv: list[str],
        *,
        min_args: int = 0,
        max_args: int | None = None,
        interspersed: bool = True,
    ) -> SimpleNamespace:
        values: dict[str, Any] = {
            f.dest: (list[str]() if f.kind == "list" else f.default) for f in self._flags
        }
        args: list[str] = []
        i = 0
        while i < len(argv):
            arg = argv[i]
            i += 1
            if arg == "--":
                args.extend(argv[i:])
                break
            if arg.startswith("--") and len(arg) > 2:
                i = self._long(arg, argv, i, values)
            elif arg.startswith("-") and len(arg) > 1:
                i = self._shorts(arg, argv, i, values)
            else:
                args.append(arg)
                if not interspersed:
                    args.extend(argv[i:])
                    break
        if values.get("help"):
            self.print_help()
            raise SystemExit(0)
        self._check_count(len(args), min_args, max_args)
        return SimpleNamespace(args=args, **values)

    def _long(self, arg: str, argv: list[str], i: int, values: dict[str, Any]) -> int:
        name, eq, value = arg[2:].partition("=")
        if name == "help":
            values["help"] = True
            return i
        flag = self._by_long.get(name)
        if flag is None:
            self.fail(f"unknown flag: --{name}")
        if flag.kind == "bool":
            self._set(flag, value if eq else "true", values)
            return i
        if not eq:
            if i >= len(argv):
                self.fail(f"flag needs an argument: --{name}")
            value = argv[i]
            i += 1
        self._set(flag, value, values)
        return i

    def _shorts(self, arg: str, argv: list[str], i: int, values: dict[str, Any]) -> int:
        letters = arg[1:]
        pos = 0
        while pos < len(letters):
            letter = letters[pos]
            if letter == "h" and "h" not in self._by_short:
                values["help"] = True
                pos += 1
                continue
            flag = self._by_short.get(letter)
            if flag is None:
                self.fail(f"unknown shorthand flag: {letter!r} in {arg}")
            rest = letters[pos + 1 :]
            if flag.kind == "bool":
                if rest.startswith("="):
                    self._set(flag, rest[1:], values)
                    return i
                self._set(flag, "true", values)
                pos += 1
                continue
            if rest:
                value = rest[1:] if rest.startswith("=") else rest
            elif i < len(argv):
                value = argv[i]
                i += 1
            else:
                self.fail(f"flag needs an argument: {letter!r} in {arg}")
            self._set(flag, value, values)
            return i
        return i

    def _set(self, flag: _Flag, value: str, values: dict[str, Any]) -> None:
        if flag.kind == "bool":
            if value in _TRUE:
                values[flag.dest] = True
            elif value in _FALSE:
                values[flag.dest] = False
            else:
                self.fail(
                    f'invalid argument "{value}" for "{flag.label()}" flag: '
                    f'strconv.ParseBool: parsing "{value}": invalid syntax'
                )
        elif flag.kind == "list":
            values[flag.dest].append(value)
        else:
            values[flag.dest] = value

    def _check_count(self, count: int, min_args: int, max_args: int | None) -> None:
        word = ""
        wanted = 0
        if max_args is not None and min_args == max_args and count != min_args:
            word, wanted = "exactly", min_args
        elif count < min_args:
            word, wanted = "at least", min_args
        elif max_args is not None and count > max_args:
            word, wanted = "at most", max_args
        if not word:
            return
        plural = "argument" if wanted == 1 else "arguments"
        # cobra's NoArgs, as the docker CLI's commands without arguments say it
        wants = "accepts no arguments" if max_args == 0 else f"requires {word} {wanted} {plural}"
        raise UsageError(
            f'"{PROG} {self.command}" {wants}.\n'
            f"See '{PROG} {self.command} --help'.\n\n{self.usage_text()}\n\n{self.description}"
        ).with_code(1)

    # ---------------------------------------------------------------- output

    def usage_text(self) -> str:
        return f"Usage:  {PROG} {self.command} {self.usage_line}".rstrip()

    def fail(self, message: str) -> NoReturn:
        """A flag error: Docker's CLI prints it with the usage and exits 125."""
        raise UsageError(
            f"{message}\n\n{self.usage_text()}\n\n"
            f"Run '{PROG} {self.command} --help' for more information"
        )

    def print_help(self) -> None:
        lines = [f"\n{self.usage_text()}\n", f"{self.description}\n"]
        shown = [f for f in self._flags if not f.hidden]
        if shown:
            rows = []
            for flag in shown:
                left = (f"-{flag.short}, " if flag.short else "    ") + (
                    f"--{flag.long}" if flag.long else ""
                )
                if flag.kind != "bool":
                    left += f" {flag.metavar}"
                rows.append((left, flag.help))
            width = max(len(left) for left, _ in rows)
            lines.append("Options:")
            lines.extend(f"  {left.ljust(width)}   {text}" for left, text in rows)
        sys.stdout.write("\n".join(lines) + "\n")
