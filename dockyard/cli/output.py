"""Rendering lists and objects the way Docker's CLI does: tables, ``--format``, JSON."""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping, Sequence

from dockyard.cli.errors import ClientError
from dockyard.errors import InvalidArgument

TYPE_CHECKING = False  # typing costs every command ~2 ms to import
if TYPE_CHECKING:
    from typing import Any


if TYPE_CHECKING:
    _RowBase = dict[str, Any]
else:
    _RowBase = dict


class Row(_RowBase):
    """A listing row (``images``, ``history``, ``system df``): a map of fields that
    marshals as docker's formatter contexts do — keys sorted, ``<>&`` escaped."""

    def __go_json_raw__(self) -> str:
        return go_json(self)


def go_json(value: Any) -> str:
    """Go's json.Marshal of plain data: compact, map keys sorted, ``<>&`` escaped."""
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def render_rows(
    rows: Sequence[Mapping[str, Any]],
    fmt: str | None,
    default_table: str,
    headers: Mapping[str, str],
) -> str:
    """Rows through a ``--format`` (or the default table) as Docker prints them."""
    from dockyard.cli.format.template import format_items

    if not fmt or fmt == "table":
        fmt = default_table
    try:
        return format_items(fmt, rows, headers)
    except InvalidArgument as exc:
        raise ClientError(str(exc)) from None


def render_object(obj: Any, fmt: str) -> str:
    """One object through a template, as ``inspect -f`` and ``version -f`` print it."""
    from dockyard.cli.format.template import Template

    try:
        return Template(fmt).execute(obj) + "\n"
    except InvalidArgument as exc:
        raise ClientError(str(exc)) from None


def dump_json(items: list[Any]) -> str:
    """``inspect``'s output: an indented JSON array, as Go's json.MarshalIndent gives it."""
    if not items:
        return "[]\n"
    text = json.dumps(items, indent=4, ensure_ascii=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026") + "\n"


def write(text: str) -> None:
    sys.stdout.write(text)
    sys.stdout.flush()


def confirm(prompt: str) -> bool:
    """Docker's ``[y/N]`` prompt; a non-interactive stdin answers no."""
    sys.stdout.write(prompt)
    sys.stdout.flush()
    answer = sys.stdin.readline().strip().lower()
    return answer in ("y", "yes")
