"""Go's ``text/tabwriter`` (elastic tabstops) as docker's CLI uses it.

A port of docker/cli's fork (``cli/command/formatter/tabwriter``), which measures text
with ``go-runewidth`` (East Asian wide characters count 2, combining marks 0) instead
of counting runes.  Docker's tables use ``NewWriter(out, 10, 1, 3, ' ', 0)``:
minimum cell width 10, padding 3, space padding.

Semantics reproduced exactly: cells are *terminated* by ``\\t`` (or ``\\v``); text after
the last tab of a line is a trailing cell that is never padded; a column is a run of
consecutive lines having a cell at that index; a line with a single cell ends all
columns (Go flushes there); ``\\f`` acts as a newline that also flushes.
The ``Escape`` (0xff) and ``FilterHTML`` features are not supported.
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing costs every command ~2 ms to import
if TYPE_CHECKING:
    from typing import TextIO


__all__ = [
    "ALIGN_RIGHT",
    "DEBUG",
    "DISCARD_EMPTY_COLUMNS",
    "TAB_INDENT",
    "TabWriter",
    "format_table",
    "text_width",
]

# flags (Go's values; FilterHTML=1 and StripEscape=2 are not supported)
ALIGN_RIGHT = 4
DISCARD_EMPTY_COLUMNS = 8
TAB_INDENT = 16
DEBUG = 32


def _char_width(c: str) -> int:
    o = ord(c)
    if o < 0x20 or 0x7F <= o < 0xA0:
        return 0
    import unicodedata

    if unicodedata.combining(c) or unicodedata.category(c) in ("Mn", "Me", "Cf"):
        return 0
    if 0x1160 <= o <= 0x11FF or o == 0x200B:
        return 0
    if unicodedata.east_asian_width(c) in ("W", "F"):
        return 2
    return 1


def text_width(s: str) -> int:
    """Display width of *s* as go-runewidth's StringWidth computes it."""
    if s.isascii():
        if s.isprintable():
            return len(s)
        return sum(1 for c in s if " " <= c < "\x7f")
    return sum(_char_width(c) for c in s)


class _Cell:
    __slots__ = ("htab", "text", "width")

    def __init__(self, text: str, width: int, htab: bool) -> None:
        self.text = text
        self.width = width
        self.htab = htab


class TabWriter:
    """A streaming tabwriter.

    :meth:`write` text (cells separated by tabs, lines by newlines), then call
    :meth:`flush`.  Output is written to *out* as soon as it is final; when *out*
    is None it is collected, and :meth:`flush` returns everything produced since the
    previous flush either way.
    """

    def __init__(
        self,
        out: TextIO | None = None,
        minwidth: int = 10,
        tabwidth: int = 1,
        padding: int = 3,
        padchar: str = " ",
        flags: int = 0,
    ) -> None:
        if minwidth < 0 or tabwidth < 0 or padding < 0:
            raise ValueError("negative minwidth, tabwidth, or padding")
        self.out = out
        self.minwidth = minwidth
        self.tabwidth = tabwidth
        self.padding = padding
        self.padchar = padchar
        if padchar == "\t":
            flags &= ~ALIGN_RIGHT
        self.flags = flags
        self._emitted: list[str] = []
        self._reset()

    def _reset(self) -> None:
        self._cell: list[str] = []
        self._lines: list[list[_Cell]] = [[]]
        self._widths: list[int] = []
        self._pending: list[str] = []

    # output
    def _write0(self, s: str) -> None:
        if s:
            self._pending.append(s)

    def _write_padding(self, textw: int, cellw: int, use_tabs: bool) -> None:
        if self.padchar == "\t" or use_tabs:
            if self.tabwidth == 0:
                return
            cellw = (cellw + self.tabwidth - 1) // self.tabwidth * self.tabwidth
            n = cellw - textw
            self._write0("\t" * ((n + self.tabwidth - 1) // self.tabwidth))
            return
        if cellw > textw:
            self._write0(self.padchar * (cellw - textw))

    def _write_lines(self, line0: int, line1: int) -> None:
        widths = self._widths
        for i in range(line0, line1):
            line = self._lines[i]
            use_tabs = bool(self.flags & TAB_INDENT)
            for j, c in enumerate(line):
                if j > 0 and self.flags & DEBUG:
                    self._write0("|")
                if not c.text:
                    if j < len(widths):
                        self._write_padding(c.width, widths[j], use_tabs)
                else:
                    use_tabs = False
                    if not self.flags & ALIGN_RIGHT:
                        self._write0(c.text)
                        if j < len(widths):
                            self._write_padding(c.width, widths[j], False)
                    else:
                        if j < len(widths):
                            self._write_padding(c.width, widths[j], False)
                        self._write0(c.text)
            if i + 1 == len(self._lines):
                self._write0("".join(self._cell))
            else:
                self._write0("\n")

    def _format(self, line0: int, line1: int) -> None:
        column = len(self._widths)
        this = line0
        while this < line1:
            line = self._lines[this]
            if column >= len(line) - 1:
                this += 1
                continue
            self._write_lines(line0, this)
            line0 = this
            width = self.minwidth
            discardable = True
            while this < line1:
                line = self._lines[this]
                if column >= len(line) - 1:
                    break
                c = line[column]
                w = c.width + self.padding
                if w > width:
                    width = w
                if c.width > 0 or c.htab:
                    discardable = False
                this += 1
            if discardable and self.flags & DISCARD_EMPTY_COLUMNS:
                width = 0
            self._widths.append(width)
            self._format(line0, this)
            self._widths.pop()
            line0 = this
        self._write_lines(line0, line1)

    def _flush_internal(self) -> None:
        if self._cell:
            self._terminate_cell(False)
        self._format(0, len(self._lines))
        text = "".join(self._pending)
        self._cell = []
        self._lines = [[]]
        self._widths = []
        self._pending = []
        if text:
            if self.out is not None:
                self.out.write(text)
            self._emitted.append(text)

    def _terminate_cell(self, htab: bool) -> int:
        text = "".join(self._cell)
        line = self._lines[-1]
        line.append(_Cell(text, text_width(text), htab))
        self._cell = []
        return len(line)

    # public
    def write(self, text: str) -> None:
        """Add text; complete lines may be formatted and emitted right away."""
        start = 0
        for i, ch in enumerate(text):
            if ch in "\t\v\n\f":
                if i > start:
                    self._cell.append(text[start:i])
                start = i + 1
                ncells = self._terminate_cell(ch == "\t")
                if ch in "\n\f":
                    self._lines.append([])
                    if ch == "\f" or ncells == 1:
                        self._flush_internal()
                        if ch == "\f" and self.flags & DEBUG:
                            self._emitted.append("---\n")
                            if self.out is not None:
                                self.out.write("---\n")
        if start < len(text):
            self._cell.append(text[start:])

    def flush(self) -> str:
        """Format and emit everything buffered; return all output since the last flush."""
        self._flush_internal()
        text = "".join(self._emitted)
        self._emitted = []
        return text


def format_table(
    rows: list[list[str]],
    minwidth: int = 10,
    tabwidth: int = 1,
    padding: int = 3,
    padchar: str = " ",
) -> str:
    """Lay out *rows* (lists of cells) like docker's tables; every row ends with a newline.

    Equivalent to writing ``"\\t".join(row) + "\\n"`` for each row through
    ``tabwriter.NewWriter(out, 10, 1, 3, ' ', 0)`` and flushing.
    """
    tw = TabWriter(None, minwidth, tabwidth, padding, padchar, 0)
    for row in rows:
        tw.write("\t".join(row) + "\n")
    return tw.flush()


def layout_uniform(lines: list[str], minwidth: int = 10, padding: int = 3) -> str | None:
    """The common table quickly: what :class:`TabWriter` (padchar ' ', no flags)
    prints for ``lines`` (each ending in ``\\n``) when every line has the same number
    of cells and every cell is printable ASCII — or None, to use the full writer.

    Then there is one block per column, each column is as wide as its widest cell
    plus ``padding`` (at least ``minwidth``), and a line's last cell is not padded.
    """
    if not lines:
        return ""
    rows = [line[:-1].split("\t") for line in lines if line.endswith("\n")]
    if len(rows) != len(lines):
        return None
    count = len(rows[0])
    for row in rows:
        if len(row) != count:
            return None
    text = "".join("".join(row) for row in rows)
    if not (text.isascii() and text.isprintable()):
        return None
    widths = [max(minwidth, max(len(row[i]) for row in rows) + padding) for i in range(count - 1)]
    return "".join(
        "".join(cell.ljust(width) for cell, width in zip(row, widths, strict=False))
        + row[-1]
        + "\n"
        for row in rows
    )
