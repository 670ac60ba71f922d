"""Go ``text/template`` as docker's ``--format`` uses it.

A faithful port of the parts of Go's ``text/template`` (Go 1.24, as in docker CLI v28)
that docker users meet: the lexer (trim markers, comments, raw strings, char constants),
the parser (pipelines, variables, ``if``/``else if``/``range``/``with``/``else with``,
``break``/``continue``, ``define``/``template``/``block``) and the executor with Go's
error messages.  The function set is Go's builtins plus docker's ``templates``
package (``json``, ``split``, ``join``, ``title``, ``lower``, ``upper``, ``pad``,
``truncate``).

Data model: see :mod:`dockyard.golang.fmt`.  Dicts are Go maps (a missing key
prints ``<no value>``), :class:`~dockyard.golang.fmt.GoStruct` and other objects
are structs (a missing field is an error, niladic methods are called, methods with
parameters take template arguments: ``{{.Label "com.example"}}``).

Typical use::

    tmpl = Template(preprocess_format(user_format))   # compile once
    for obj in objects:
        out.write(tmpl.execute(obj) + "\\n")          # render many times

or :func:`format_items`, which reproduces docker's ``formatter.Context.Write``
(``table`` prefix → header row + tabwriter).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping

from dockyard.errors import InvalidArgument
from dockyard.golang import fmt as gofmt

TYPE_CHECKING = False  # typing costs every command ~2 ms to import
if TYPE_CHECKING:
    from typing import Any, NoReturn, TextIO

__all__ = [
    "GoFunc",
    "HeaderMap",
    "Template",
    "TemplateError",
    "TemplateExecError",
    "TemplateParseError",
    "format_items",
    "header_cells",
    "is_table_format",
    "marshal_context",
    "parse",
    "preprocess_format",
]


# ---------------------------------------------------------------------------
# errors


class TemplateError(InvalidArgument):
    """A template failed to parse or execute.

    ``str(err)`` is docker's message (``template parsing error: template: ...``);
    :attr:`detail` is Go's error text alone; :attr:`partial` holds the output produced
    before an execution error (Go writes it before failing).
    """

    def __init__(self, detail: str, partial: str = "") -> None:
        super().__init__("template parsing error: " + detail)
        self.detail = detail
        self.partial = partial


class TemplateParseError(TemplateError):
    """The format string is not a valid template."""


class TemplateExecError(TemplateError):
    """Executing the template against a value failed."""


class _ExecFailure(Exception):
    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class _ParseFailure(Exception):
    pass


class _Break(Exception):
    pass


class _Continue(Exception):
    pass


# ---------------------------------------------------------------------------
# lexer

(
    _ERROR,
    _BOOL,
    _CHAR,
    _CHARCONST,
    _COMPLEX,
    _ASSIGN,
    _DECLARE,
    _EOF,
    _FIELD,
    _IDENT,
    _LDELIM,
    _LPAREN,
    _NUMBER,
    _PIPE,
    _RAWSTRING,
    _RDELIM,
    _RPAREN,
    _SPACE,
    _STRING,
    _TEXT,
    _VARIABLE,
    _KEYWORD,
    _BLOCK,
    _BREAK,
    _CONTINUE,
    _DOT,
    _DEFINE,
    _ELSE,
    _END,
    _IF,
    _NIL,
    _RANGE,
    _TEMPLATE,
    _WITH,
) = range(34)

_KEYWORDS = {
    ".": _DOT,
    "block": _BLOCK,
    "break": _BREAK,
    "continue": _CONTINUE,
    "define": _DEFINE,
    "else": _ELSE,
    "end": _END,
    "if": _IF,
    "range": _RANGE,
    "nil": _NIL,
    "template": _TEMPLATE,
    "with": _WITH,
}

_SPACE_CHARS = " \t\r\n"


class _Item:
    __slots__ = ("pos", "typ", "val")

    def __init__(self, typ: int, pos: int, val: str) -> None:
        self.typ = typ
        self.pos = pos
        self.val = val

    def __str__(self) -> str:
        if self.typ == _EOF:
            return "EOF"
        if self.typ == _ERROR:
            return self.val
        if self.typ > _KEYWORD:
            return f"<{self.val}>"
        if len(self.val) > 10:
            return gofmt.go_quote(self.val[:10]) + "..."
        return gofmt.go_quote(self.val)


def _is_alnum(c: str) -> bool:
    return c == "_" or c.isalpha() or c.isdecimal()


def _fmt_U(c: str) -> str:
    """Go's %#U of a rune."""
    if not c:
        return "U+FFFFFFFFFFFFFFFF"
    o = ord(c)
    s = f"U+{o:04X}"
    if c == " " or (c.isprintable() and not c.isspace()):
        s += f" '{c}'"
    return s


def _has_left_trim(s: str, i: int) -> bool:
    return len(s) >= i + 2 and s[i] == "-" and s[i + 1] in _SPACE_CHARS


def _has_right_trim(s: str, i: int) -> bool:
    return len(s) >= i + 2 and s[i] in _SPACE_CHARS and s[i + 1] == "-"


class _Lexer:
    """Go's text/template/parse lexer, run to completion into a list of items."""

    def __init__(self, text: str) -> None:
        self.input = text
        self.n = len(text)
        self.pos = 0
        self.start = 0
        self.width = 0
        self.paren_depth = 0
        self.items: list[_Item] = []

    def run(self) -> list[_Item]:
        state: Callable[[], Any] | None = self.lex_text
        while state is not None:
            state = state()
        return self.items

    # helpers
    def next(self) -> str:
        if self.pos >= self.n:
            self.width = 0
            return ""
        c = self.input[self.pos]
        self.pos += 1
        self.width = 1
        return c

    def peek(self) -> str:
        return self.input[self.pos] if self.pos < self.n else ""

    def backup(self) -> None:
        self.pos -= self.width

    def emit(self, typ: int) -> None:
        self.items.append(_Item(typ, self.start, self.input[self.start : self.pos]))
        self.start = self.pos

    def ignore(self) -> None:
        self.start = self.pos

    def accept(self, valid: str) -> bool:
        c = self.next()
        if c and c in valid:
            return True
        self.backup()
        return False

    def accept_run(self, valid: str) -> None:
        while True:
            c = self.next()
            if not c or c not in valid:
                break
        self.backup()

    def errorf(self, msg: str) -> Callable[[], Any] | None:
        self.items.append(_Item(_ERROR, self.start, msg))
        return None

    def at_right_delim(self) -> tuple[bool, bool]:
        s, p = self.input, self.pos
        if _has_right_trim(s, p) and s.startswith("}}", p + 2):
            return True, True
        if s.startswith("}}", p):
            return True, False
        return False, False

    def at_terminator(self) -> bool:
        c = self.peek()
        if c == "" or c in _SPACE_CHARS or c in ".,|:)(":
            return True
        return self.input.startswith("}}", self.pos)

    # states
    def lex_text(self) -> Callable[[], Any] | None:
        s = self.input
        x = s.find("{{", self.pos)
        if x >= 0:
            if x > self.pos:
                self.pos = x
                trim = 0
                if _has_left_trim(s, x + 2):
                    seg = s[self.start : x]
                    trim = len(seg) - len(seg.rstrip(_SPACE_CHARS))
                self.pos -= trim
                text = s[self.start : self.pos]
                item = _Item(_TEXT, self.start, text)
                self.pos += trim
                self.ignore()
                if text:
                    self.items.append(item)
            return self.lex_left_delim
        self.pos = self.n
        if self.pos > self.start:
            self.emit(_TEXT)
            return self.lex_text
        self.emit(_EOF)
        return None

    def lex_left_delim(self) -> Callable[[], Any] | None:
        self.pos += 2
        trim = _has_left_trim(self.input, self.pos)
        after = 2 if trim else 0
        if self.input.startswith("/*", self.pos + after):
            self.pos += after
            self.ignore()
            return self.lex_comment
        self.emit(_LDELIM)
        self.pos += after
        self.ignore()
        self.paren_depth = 0
        return self.lex_inside_action

    def lex_comment(self) -> Callable[[], Any] | None:
        self.pos += 2
        x = self.input.find("*/", self.pos)
        if x < 0:
            return self.errorf("unclosed comment")
        self.pos = x + 2
        delim, trim = self.at_right_delim()
        if not delim:
            return self.errorf("comment ends before closing delimiter")
        if trim:
            self.pos += 2
        self.pos += 2
        if trim:
            rest = self.input[self.pos :]
            self.pos += len(rest) - len(rest.lstrip(_SPACE_CHARS))
        self.ignore()
        return self.lex_text

    def lex_right_delim(self) -> Callable[[], Any] | None:
        _, trim = self.at_right_delim()
        if trim:
            self.pos += 2
            self.ignore()
        self.pos += 2
        self.emit(_RDELIM)
        if trim:
            rest = self.input[self.pos :]
            self.pos += len(rest) - len(rest.lstrip(_SPACE_CHARS))
            self.ignore()
        return self.lex_text

    def lex_inside_action(self) -> Callable[[], Any] | None:
        delim, _ = self.at_right_delim()
        if delim:
            if self.paren_depth == 0:
                return self.lex_right_delim
            return self.errorf("unclosed left paren")
        c = self.next()
        if c == "":
            return self.errorf("unclosed action")
        if c in _SPACE_CHARS:
            self.backup()
            return self.lex_space
        if c == "=":
            self.emit(_ASSIGN)
        elif c == ":":
            if self.next() != "=":
                return self.errorf("expected :=")
            self.emit(_DECLARE)
        elif c == "|":
            self.emit(_PIPE)
        elif c == '"':
            return self.lex_quote
        elif c == "`":
            return self.lex_raw_quote
        elif c == "$":
            return self.lex_variable
        elif c == "'":
            return self.lex_char
        elif c == "." and self.pos < self.n and not ("0" <= self.input[self.pos] <= "9"):
            return self.lex_field
        elif c in ".+-" or "0" <= c <= "9":
            self.backup()
            return self.lex_number
        elif _is_alnum(c):
            self.backup()
            return self.lex_identifier
        elif c == "(":
            self.paren_depth += 1
            self.emit(_LPAREN)
        elif c == ")":
            self.paren_depth -= 1
            if self.paren_depth < 0:
                return self.errorf("unexpected right paren")
            self.emit(_RPAREN)
        elif ord(c) < 0x80 and c.isprintable():
            self.emit(_CHAR)
        else:
            return self.errorf(f"unrecognized character in action: {_fmt_U(c)}")
        return self.lex_inside_action

    def lex_space(self) -> Callable[[], Any] | None:
        num = 0
        while True:
            c = self.peek()
            if c == "" or c not in _SPACE_CHARS:
                break
            self.next()
            num += 1
        if _has_right_trim(self.input, self.pos - 1) and self.input.startswith("}}", self.pos + 1):
            self.backup()
            if num == 1:
                return self.lex_right_delim
        self.emit(_SPACE)
        return self.lex_inside_action

    def lex_identifier(self) -> Callable[[], Any] | None:
        while True:
            c = self.next()
            if c and _is_alnum(c):
                continue
            self.backup()
            word = self.input[self.start : self.pos]
            if not self.at_terminator():
                return self.errorf(f"bad character {_fmt_U(c)}")
            kw = _KEYWORDS.get(word, 0)
            if kw > _KEYWORD:
                self.emit(kw)
            elif word[0] == ".":
                self.emit(_FIELD)
            elif word in ("true", "false"):
                self.emit(_BOOL)
            else:
                self.emit(_IDENT)
            return self.lex_inside_action

    def lex_field(self) -> Callable[[], Any] | None:
        return self.lex_field_or_variable(_FIELD)

    def lex_variable(self) -> Callable[[], Any] | None:
        if self.at_terminator():
            self.emit(_VARIABLE)
            return self.lex_inside_action
        return self.lex_field_or_variable(_VARIABLE)

    def lex_field_or_variable(self, typ: int) -> Callable[[], Any] | None:
        if self.at_terminator():
            self.emit(_VARIABLE if typ == _VARIABLE else _DOT)
            return self.lex_inside_action
        c = ""
        while True:
            c = self.next()
            if not c or not _is_alnum(c):
                self.backup()
                break
        if not self.at_terminator():
            return self.errorf(f"bad character {_fmt_U(c)}")
        self.emit(typ)
        return self.lex_inside_action

    def lex_char(self) -> Callable[[], Any] | None:
        while True:
            c = self.next()
            if c == "\\":
                c2 = self.next()
                if c2 not in ("", "\n"):
                    continue
                return self.errorf("unterminated character constant")
            if c in ("", "\n"):
                return self.errorf("unterminated character constant")
            if c == "'":
                break
        self.emit(_CHARCONST)
        return self.lex_inside_action

    def lex_number(self) -> Callable[[], Any] | None:
        if not self.scan_number():
            text = self.input[self.start : self.pos]
            return self.errorf(f"bad number syntax: {gofmt.go_quote(text)}")
        c = self.peek()
        if c in ("+", "-") and c:
            if not self.scan_number() or self.input[self.pos - 1] != "i":
                return self.errorf(
                    f"bad number syntax: {gofmt.go_quote(self.input[self.start : self.pos])}"
                )
            self.emit(_COMPLEX)
        else:
            self.emit(_NUMBER)
        return self.lex_inside_action

    def scan_number(self) -> bool:
        self.accept("+-")
        digits = "0123456789_"
        if self.accept("0"):
            if self.accept("xX"):
                digits = "0123456789abcdefABCDEF_"
            elif self.accept("oO"):
                digits = "01234567_"
            elif self.accept("bB"):
                digits = "01_"
        self.accept_run(digits)
        if self.accept("."):
            self.accept_run(digits)
        if len(digits) == 11 and self.accept("eE"):
            self.accept("+-")
            self.accept_run("0123456789_")
        if len(digits) == 23 and self.accept("pP"):
            self.accept("+-")
            self.accept_run("0123456789_")
        self.accept("i")
        c = self.peek()
        if c and _is_alnum(c):
            self.next()
            return False
        return True

    def lex_quote(self) -> Callable[[], Any] | None:
        while True:
            c = self.next()
            if c == "\\":
                c2 = self.next()
                if c2 not in ("", "\n"):
                    continue
                return self.errorf("unterminated quoted string")
            if c in ("", "\n"):
                return self.errorf("unterminated quoted string")
            if c == '"':
                break
        self.emit(_STRING)
        return self.lex_inside_action

    def lex_raw_quote(self) -> Callable[[], Any] | None:
        while True:
            c = self.next()
            if c == "":
                return self.errorf("unterminated raw quoted string")
            if c == "`":
                break
        self.emit(_RAWSTRING)
        return self.lex_inside_action


# ---------------------------------------------------------------------------
# string / number literals


class _SyntaxError(Exception):
    pass


_SIMPLE_ESC = {
    "a": "\a",
    "b": "\b",
    "f": "\f",
    "n": "\n",
    "r": "\r",
    "t": "\t",
    "v": "\v",
    "\\": "\\",
}


def _unquote_char(s: str, i: int, quote: str, out: bytearray) -> int:
    """strconv.UnquoteChar: decode one (possibly escaped) char at s[i]; return next index."""
    c = s[i]
    if c == quote and quote in "'\"":
        raise _SyntaxError
    if c != "\\":
        out += gofmt.utf8_bytes(c)
        return i + 1
    if i + 1 >= len(s):
        raise _SyntaxError
    c = s[i + 1]
    i += 2
    if c in _SIMPLE_ESC:
        out += _SIMPLE_ESC[c].encode()
        return i
    if c in "xuU":
        n = {"x": 2, "u": 4, "U": 8}[c]
        h = s[i : i + n]
        if len(h) < n or any(ch not in "0123456789abcdefABCDEF" for ch in h):
            raise _SyntaxError
        v = int(h, 16)
        if c == "x":
            out.append(v)
        else:
            if v > 0x10FFFF or 0xD800 <= v <= 0xDFFF:
                raise _SyntaxError
            out += chr(v).encode("utf-8")
        return i + n
    if "0" <= c <= "7":
        o = s[i - 1 : i + 2]
        if len(o) < 3 or any(ch not in "01234567" for ch in o):
            raise _SyntaxError
        v = int(o, 8)
        if v > 255:
            raise _SyntaxError
        out.append(v)
        return i + 2
    if c in "'\"":
        if c != quote:
            raise _SyntaxError
        out += c.encode()
        return i
    raise _SyntaxError


def _unquote(text: str) -> str:
    """strconv.Unquote for "..." and `...` literals."""
    if len(text) < 2 or text[0] != text[-1]:
        raise _SyntaxError
    q = text[0]
    body = text[1:-1]
    if q == "`":
        if "`" in body:
            raise _SyntaxError
        return body.replace("\r", "")
    if q != '"' or "\n" in body:
        raise _SyntaxError
    if "\\" not in body and '"' not in body:
        return body
    out = bytearray()
    i = 0
    while i < len(body):
        i = _unquote_char(body, i, '"', out)
    return gofmt.from_utf8_bytes(bytes(out))


def _parse_go_int(s: str) -> int:
    """strconv.ParseInt(s, 0, 64) without the range check."""
    t = s
    neg = False
    if t[:1] in "+-":
        neg = t[0] == "-"
        t = t[1:]
    if not t or t[0] == "_" or t[-1] == "_" or "__" in t:
        raise ValueError(s)
    low = t.lower()
    if low.startswith(("0x", "0o", "0b")):
        base = {"x": 16, "o": 8, "b": 2}[low[1]]
        digits = t[2:].lstrip("_") if t[2:3] == "_" else t[2:]
    elif len(t) > 1 and t[0] == "0":
        base = 8
        digits = t[1:].lstrip("_") if t[1:2] == "_" else t[1:]
    else:
        base = 10
        digits = t
    if not digits or any(c not in "0123456789abcdefABCDEF_" for c in digits):
        raise ValueError(s)
    v = int(digits.replace("_", ""), base)
    return -v if neg else v


# ---------------------------------------------------------------------------
# parse tree


class _Node:
    __slots__ = ("pos",)

    def __init__(self, pos: int) -> None:
        self.pos = pos


class _TextNode(_Node):
    __slots__ = ("text",)

    def __init__(self, pos: int, text: str) -> None:
        super().__init__(pos)
        self.text = text

    def __str__(self) -> str:
        return self.text


class _ListNode(_Node):
    __slots__ = ("nodes",)

    def __init__(self, pos: int) -> None:
        super().__init__(pos)
        self.nodes: list[_Node] = []

    def __str__(self) -> str:
        return "".join(str(n) for n in self.nodes)


class _DotNode(_Node):
    __slots__ = ()

    def __str__(self) -> str:
        return "."


class _NilNode(_Node):
    __slots__ = ()

    def __str__(self) -> str:
        return "nil"


class _BoolNode(_Node):
    __slots__ = ("value",)

    def __init__(self, pos: int, value: bool) -> None:
        super().__init__(pos)
        self.value = value

    def __str__(self) -> str:
        return "true" if self.value else "false"


class _NumberNode(_Node):
    __slots__ = ("float_val", "int_val", "is_complex", "is_float", "is_int", "is_uint", "text")

    def __init__(self, pos: int, text: str) -> None:
        super().__init__(pos)
        self.text = text
        self.is_int = False
        self.is_uint = False
        self.is_float = False
        self.is_complex = False
        self.int_val = 0
        self.float_val = 0.0

    def __str__(self) -> str:
        return self.text


class _StringNode(_Node):
    __slots__ = ("quoted", "text")

    def __init__(self, pos: int, quoted: str, text: str) -> None:
        super().__init__(pos)
        self.quoted = quoted
        self.text = text

    def __str__(self) -> str:
        return self.quoted


class _FieldNode(_Node):
    __slots__ = ("ident",)

    def __init__(self, pos: int, ident: list[str]) -> None:
        super().__init__(pos)
        self.ident = ident

    def __str__(self) -> str:
        return "".join("." + i for i in self.ident)


class _VariableNode(_Node):
    __slots__ = ("ident",)

    def __init__(self, pos: int, ident: list[str]) -> None:
        super().__init__(pos)
        self.ident = ident

    def __str__(self) -> str:
        return ".".join(self.ident)


class _IdentifierNode(_Node):
    __slots__ = ("ident",)

    def __init__(self, pos: int, ident: str) -> None:
        super().__init__(pos)
        self.ident = ident

    def __str__(self) -> str:
        return self.ident


class _ChainNode(_Node):
    __slots__ = ("field", "node")

    def __init__(self, pos: int, node: _Node) -> None:
        super().__init__(pos)
        self.node = node
        self.field: list[str] = []

    def __str__(self) -> str:
        s = f"({self.node})" if isinstance(self.node, _PipeNode) else str(self.node)
        return s + "".join("." + f for f in self.field)


class _CommandNode(_Node):
    __slots__ = ("args",)

    def __init__(self, pos: int) -> None:
        super().__init__(pos)
        self.args: list[_Node] = []

    def __str__(self) -> str:
        return " ".join(f"({a})" if isinstance(a, _PipeNode) else str(a) for a in self.args)


class _PipeNode(_Node):
    __slots__ = ("cmds", "decl", "is_assign")

    def __init__(self, pos: int) -> None:
        super().__init__(pos)
        self.is_assign = False
        self.decl: list[_VariableNode] = []
        self.cmds: list[_CommandNode] = []

    def __str__(self) -> str:
        s = ""
        if self.decl:
            s = ", ".join(str(v) for v in self.decl) + (" = " if self.is_assign else " := ")
        return s + " | ".join(str(c) for c in self.cmds)


class _ActionNode(_Node):
    __slots__ = ("pipe",)

    def __init__(self, pos: int, pipe: _PipeNode) -> None:
        super().__init__(pos)
        self.pipe = pipe

    def __str__(self) -> str:
        return "{{" + str(self.pipe) + "}}"


class _BranchNode(_Node):
    __slots__ = ("else_list", "list", "pipe")
    keyword = ""

    def __init__(
        self, pos: int, pipe: _PipeNode, lst: _ListNode, else_list: _ListNode | None
    ) -> None:
        super().__init__(pos)
        self.pipe = pipe
        self.list = lst
        self.else_list = else_list

    def __str__(self) -> str:
        s = "{{" + self.keyword + " " + str(self.pipe) + "}}" + str(self.list)
        if self.else_list is not None:
            s += "{{else}}" + str(self.else_list)
        return s + "{{end}}"


class _IfNode(_BranchNode):
    __slots__ = ()
    keyword = "if"


class _RangeNode(_BranchNode):
    __slots__ = ()
    keyword = "range"


class _WithNode(_BranchNode):
    __slots__ = ()
    keyword = "with"


class _TemplateNode(_Node):
    __slots__ = ("name", "pipe")

    def __init__(self, pos: int, name: str, pipe: _PipeNode | None) -> None:
        super().__init__(pos)
        self.name = name
        self.pipe = pipe

    def __str__(self) -> str:
        if self.pipe is None:
            return "{{template " + gofmt.go_quote(self.name) + "}}"
        return "{{template " + gofmt.go_quote(self.name) + " " + str(self.pipe) + "}}"


class _BreakNode(_Node):
    __slots__ = ()

    def __str__(self) -> str:
        return "{{break}}"


class _ContinueNode(_Node):
    __slots__ = ()

    def __str__(self) -> str:
        return "{{continue}}"


class _EndNode(_Node):
    __slots__ = ()

    def __str__(self) -> str:
        return "{{end}}"


class _ElseNode(_Node):
    __slots__ = ()

    def __str__(self) -> str:
        return "{{else}}"


# ---------------------------------------------------------------------------
# parser


class _Parser:
    def __init__(
        self,
        text: str,
        name: str,
        funcs: Callable[[str], bool],
        items: list[_Item],
        treeset: dict[str, _ListNode],
    ) -> None:
        self.text = text
        self.name = name
        self.has_func = funcs
        self.items = items
        self.i = 0
        self.maxread = 0
        self.vars: list[str] = ["$"]
        self.range_depth = 0
        self.action_line = 0
        self.treeset = treeset

    # token stream
    def _line(self, pos: int) -> int:
        return 1 + self.text.count("\n", 0, pos)

    def next(self) -> _Item:
        idx = min(self.i, len(self.items) - 1)
        self.i += 1
        if idx > self.maxread:
            self.maxread = idx
        return self.items[idx]

    def backup(self) -> None:
        self.i -= 1

    def peek(self) -> _Item:
        it = self.next()
        self.i -= 1
        return it

    def next_non_space(self) -> _Item:
        while True:
            it = self.next()
            if it.typ != _SPACE:
                return it

    def peek_non_space(self) -> _Item:
        it = self.next_non_space()
        self.backup()
        return it

    def errorf(self, msg: str) -> NoReturn:
        line = self._line(self.items[self.maxread].pos)
        raise _ParseFailure(f"template: {self.name}:{line}: {msg}")

    def expect(self, typ: int, context: str) -> _Item:
        tok = self.next_non_space()
        if tok.typ != typ:
            self.unexpected(tok, context)
        return tok

    def unexpected(self, tok: _Item, context: str) -> NoReturn:
        if tok.typ == _ERROR:
            extra = ""
            tok_line = self._line(tok.pos)
            if self.action_line != 0 and self.action_line != tok_line:
                extra = f" in action started at {self.name}:{self.action_line}"
                if tok.val.endswith(" action"):
                    extra = extra[len(" in action") :]
            self.errorf(f"{tok}{extra}")
        self.errorf(f"unexpected {tok} in {context}")

    # grammar
    def parse(self) -> _ListNode:
        root = _ListNode(self.peek().pos)
        while self.peek().typ != _EOF:
            if self.peek().typ == _LDELIM:
                save = self.i
                self.next()
                if self.next_non_space().typ == _DEFINE:
                    sub = self._sub_parser()
                    sub.parse_definition()
                    self.i = sub.i
                    self.maxread = max(self.maxread, sub.maxread)
                    continue
                self.i = save
            n = self.text_or_action()
            if isinstance(n, (_EndNode, _ElseNode)):
                self.errorf(f"unexpected {n}")
            root.nodes.append(n)
        return root

    def _sub_parser(self) -> _Parser:
        sub = _Parser(self.text, self.name, self.has_func, self.items, self.treeset)
        sub.i = self.i
        sub.maxread = self.maxread
        return sub

    def add_tree(self, name: str, root: _ListNode) -> None:
        old = self.treeset.get(name)
        if old is None or _is_empty_tree(old):
            self.treeset[name] = root
            return
        if not _is_empty_tree(root):
            self.errorf(f"template: multiple definition of template {gofmt.go_quote(name)}")

    def parse_definition(self) -> None:
        context = "define clause"
        tok = self.next_non_space()
        if tok.typ not in (_STRING, _RAWSTRING):
            self.unexpected(tok, context)
        try:
            name = _unquote(tok.val)
        except _SyntaxError:
            self.errorf("invalid syntax")
        self.expect(_RDELIM, context)
        root, end = self.item_list()
        if not isinstance(end, _EndNode):
            self.errorf(f"unexpected {end} in {context}")
        self.add_tree(name, root)

    def item_list(self) -> tuple[_ListNode, _Node]:
        lst = _ListNode(self.peek_non_space().pos)
        while self.peek_non_space().typ != _EOF:
            n = self.text_or_action()
            if isinstance(n, (_EndNode, _ElseNode)):
                return lst, n
            lst.nodes.append(n)
        self.errorf("unexpected EOF")

    def text_or_action(self) -> _Node:
        tok = self.next_non_space()
        if tok.typ == _TEXT:
            return _TextNode(tok.pos, tok.val)
        if tok.typ == _LDELIM:
            self.action_line = self._line(tok.pos)
            try:
                return self.action()
            finally:
                self.action_line = 0
        self.unexpected(tok, "input")

    def action(self) -> _Node:
        tok = self.next_non_space()
        t = tok.typ
        if t == _BLOCK:
            return self.block_control()
        if t == _BREAK:
            return self.break_control(tok.pos, "{{break}}")
        if t == _CONTINUE:
            return self.break_control(tok.pos, "{{continue}}")
        if t == _ELSE:
            return self.else_control()
        if t == _END:
            return _EndNode(self.expect(_RDELIM, "end").pos)
        if t == _IF:
            return _IfNode(*self.parse_control("if"))
        if t == _RANGE:
            return _RangeNode(*self.parse_control("range"))
        if t == _TEMPLATE:
            return self.template_control()
        if t == _WITH:
            return _WithNode(*self.parse_control("with"))
        self.backup()
        tok = self.peek()
        return _ActionNode(tok.pos, self.pipeline("command", _RDELIM))

    def break_control(self, pos: int, what: str) -> _Node:
        tok = self.next_non_space()
        if tok.typ != _RDELIM:
            self.unexpected(tok, what)
        if self.range_depth == 0:
            self.errorf(f"{what} outside {{{{range}}}}")
        return _BreakNode(pos) if what == "{{break}}" else _ContinueNode(pos)

    def else_control(self) -> _Node:
        peek = self.peek_non_space()
        if peek.typ in (_IF, _WITH):
            return _ElseNode(peek.pos)
        tok = self.expect(_RDELIM, "else")
        return _ElseNode(tok.pos)

    def parse_control(self, context: str) -> tuple[int, _PipeNode, _ListNode, _ListNode | None]:
        nvars = len(self.vars)
        try:
            pipe = self.pipeline(context, _RDELIM)
            if context == "range":
                self.range_depth += 1
            lst, nxt = self.item_list()
            if context == "range":
                self.range_depth -= 1
            else_list: _ListNode | None = None
            if isinstance(nxt, _ElseNode):
                if context == "if" and self.peek().typ == _IF:
                    self.next()
                    else_list = _ListNode(nxt.pos)
                    else_list.nodes.append(_IfNode(*self.parse_control("if")))
                elif context == "with" and self.peek().typ == _WITH:
                    self.next()
                    else_list = _ListNode(nxt.pos)
                    else_list.nodes.append(_WithNode(*self.parse_control("with")))
                else:
                    else_list, nxt = self.item_list()
                    if not isinstance(nxt, _EndNode):
                        self.errorf(f"expected end; found {nxt}")
            return pipe.pos, pipe, lst, else_list
        finally:
            del self.vars[nvars:]

    def parse_template_name(self, tok: _Item, context: str) -> str:
        if tok.typ in (_STRING, _RAWSTRING):
            try:
                return _unquote(tok.val)
            except _SyntaxError:
                self.errorf("invalid syntax")
        self.unexpected(tok, context)

    def template_control(self) -> _Node:
        context = "template clause"
        tok = self.next_non_space()
        name = self.parse_template_name(tok, context)
        pipe: _PipeNode | None = None
        if self.next_non_space().typ != _RDELIM:
            self.backup()
            pipe = self.pipeline(context, _RDELIM)
        return _TemplateNode(tok.pos, name, pipe)

    def block_control(self) -> _Node:
        context = "block clause"
        tok = self.next_non_space()
        name = self.parse_template_name(tok, context)
        pipe = self.pipeline(context, _RDELIM)
        sub = self._sub_parser()
        root, end = sub.item_list()
        if not isinstance(end, _EndNode):
            self.i, self.maxread = sub.i, sub.maxread
            self.errorf(f"unexpected {end} in {context}")
        sub.add_tree(name, root)
        self.i = sub.i
        self.maxread = max(self.maxread, sub.maxread)
        return _TemplateNode(tok.pos, name, pipe)

    def pipeline(self, context: str, end: int) -> _PipeNode:
        tok = self.peek_non_space()
        pipe = _PipeNode(tok.pos)
        while True:  # decls
            v = self.peek_non_space()
            if v.typ != _VARIABLE:
                break
            save = self.i
            self.next()
            nxt = self.peek_non_space()
            if nxt.typ in (_ASSIGN, _DECLARE):
                pipe.is_assign = nxt.typ == _ASSIGN
                self.next_non_space()
                pipe.decl.append(_VariableNode(v.pos, v.val.split(".")))
                self.vars.append(v.val)
            elif nxt.typ == _CHAR and nxt.val == ",":
                self.next_non_space()
                pipe.decl.append(_VariableNode(v.pos, v.val.split(".")))
                self.vars.append(v.val)
                if context == "range" and len(pipe.decl) < 2:
                    if self.peek_non_space().typ in (_VARIABLE, _RDELIM, _RPAREN):
                        continue
                    self.errorf("range can only initialize variables")
                self.errorf(f"too many declarations in {context}")
            else:
                # "$x" is an operand, not a declaration: put it (and what follows) back
                self.i = save
            break
        while True:
            tok = self.next_non_space()
            if tok.typ == end:
                self.check_pipeline(pipe, context)
                return pipe
            if tok.typ in (
                _BOOL,
                _CHARCONST,
                _COMPLEX,
                _DOT,
                _FIELD,
                _IDENT,
                _NUMBER,
                _NIL,
                _RAWSTRING,
                _STRING,
                _VARIABLE,
                _LPAREN,
            ):
                self.backup()
                pipe.cmds.append(self.command())
            else:
                self.unexpected(tok, context)

    def check_pipeline(self, pipe: _PipeNode, context: str) -> None:
        if not pipe.cmds:
            self.errorf(f"missing value for {context}")
        for i, c in enumerate(pipe.cmds[1:]):
            if isinstance(c.args[0], (_BoolNode, _DotNode, _NilNode, _NumberNode, _StringNode)):
                self.errorf(f"non executable command in pipeline stage {i + 2}")

    def command(self) -> _CommandNode:
        cmd = _CommandNode(self.peek_non_space().pos)
        while True:
            self.peek_non_space()
            operand = self.operand()
            if operand is not None:
                cmd.args.append(operand)
            tok = self.next()
            if tok.typ == _SPACE:
                continue
            if tok.typ in (_RDELIM, _RPAREN):
                self.backup()
            elif tok.typ == _PIPE:
                pass
            else:
                self.unexpected(tok, "operand")
            break
        if not cmd.args:
            self.errorf("empty command")
        return cmd

    def operand(self) -> _Node | None:
        node = self.term()
        if node is None:
            return None
        if self.peek().typ == _FIELD:
            chain = _ChainNode(self.peek().pos, node)
            while self.peek().typ == _FIELD:
                chain.field.append(self.next().val[1:])
            if isinstance(node, _FieldNode):
                return _FieldNode(chain.pos, node.ident + chain.field)
            if isinstance(node, _VariableNode):
                return _VariableNode(chain.pos, node.ident + chain.field)
            if isinstance(node, (_BoolNode, _StringNode, _NumberNode, _NilNode, _DotNode)):
                self.errorf(f"unexpected . after term {gofmt.go_quote(str(node))}")
            return chain
        return node

    def term(self) -> _Node | None:
        tok = self.next_non_space()
        t = tok.typ
        if t == _IDENT:
            if not self.has_func(tok.val):
                self.errorf(f"function {gofmt.go_quote(tok.val)} not defined")
            return _IdentifierNode(tok.pos, tok.val)
        if t == _DOT:
            return _DotNode(tok.pos)
        if t == _NIL:
            return _NilNode(tok.pos)
        if t == _VARIABLE:
            ident = tok.val.split(".")
            if ident[0] not in self.vars:
                self.errorf(f"undefined variable {gofmt.go_quote(ident[0])}")
            return _VariableNode(tok.pos, ident)
        if t == _FIELD:
            return _FieldNode(tok.pos, tok.val[1:].split("."))
        if t == _BOOL:
            return _BoolNode(tok.pos, tok.val == "true")
        if t in (_CHARCONST, _COMPLEX, _NUMBER):
            return self.number(tok)
        if t == _LPAREN:
            return self.pipeline("parenthesized pipeline", _RPAREN)
        if t in (_STRING, _RAWSTRING):
            try:
                return _StringNode(tok.pos, tok.val, _unquote(tok.val))
            except _SyntaxError:
                self.errorf("invalid syntax")
        self.backup()
        return None

    def number(self, tok: _Item) -> _NumberNode:
        text = tok.val
        n = _NumberNode(tok.pos, text)
        if tok.typ == _CHARCONST:
            out = bytearray()
            try:
                nxt = _unquote_char(text, 1, "'", out)
            except (_SyntaxError, IndexError):
                self.errorf("invalid syntax")
            if text[nxt:] != "'":
                self.errorf(f"malformed character constant: {text}")
            r = out.decode("utf-8", "replace")
            v = ord(r[0]) if len(r) == 1 else (out[0] if len(out) == 1 else 0xFFFD)
            n.is_int = n.is_uint = n.is_float = True
            n.int_val = v
            n.float_val = float(v)
            return n
        if tok.typ == _COMPLEX or text.endswith("i"):
            self.errorf(f"illegal number syntax: {gofmt.go_quote(text)}")
        try:
            v = _parse_go_int(text)
            if -(1 << 63) <= v < (1 << 63):
                n.is_int = True
                n.int_val = v
            if 0 <= v < (1 << 64):
                n.is_uint = True
                if not n.is_int:
                    n.int_val = v
            if n.is_int or n.is_uint:
                n.is_float = True
                n.float_val = float(v)
        except ValueError:
            pass
        if not n.is_int and not n.is_uint:
            try:
                f = gofmt.go_parse_float(text)
            except ValueError:
                f = None
            if f is not None:
                if not any(c in text for c in ".eEpP"):
                    self.errorf(f"integer overflow: {gofmt.go_quote(text)}")
                n.is_float = True
                n.float_val = f
                if f == f and abs(f) != float("inf") and f == int(f) and abs(f) < 2**63:
                    n.is_int = True
                    n.int_val = int(f)
                    n.is_uint = f >= 0
        if not n.is_int and not n.is_uint and not n.is_float:
            self.errorf(f"illegal number syntax: {gofmt.go_quote(text)}")
        return n


def _is_empty_tree(n: _Node) -> bool:
    if isinstance(n, _ListNode):
        return all(_is_empty_tree(x) for x in n.nodes)
    if isinstance(n, _TextNode):
        return n.text.strip() == ""
    return False


# ---------------------------------------------------------------------------
# functions


class _Missing:
    """Go's invalid reflect.Value: a missing map key, or no value at all."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "<no value>"


_MISSING: Any = _Missing()
_NOFINAL: Any = object()

# parameter kinds
_ANY = "interface {}"
_VALUE = "reflect.Value"
_STR = "string"
_INT = "int"
_STRS = "[]string"


class GoFunc:
    """A template function with Go-typed parameters.

    *params* are the kinds of the fixed parameters and *variadic* the kind of the
    ``...`` elements (or None).  Kinds: ``"string"``, ``"int"``, ``"bool"``,
    ``"float64"``, ``"[]string"``, ``"interface {}"`` (any value) and
    ``"reflect.Value"`` (any value, missing values passed as such).
    Plain callables given to :class:`Template` get all-``interface {}`` parameters.
    """

    __slots__ = ("fn", "params", "variadic")

    def __init__(
        self, fn: Callable[..., Any], params: tuple[str, ...] = (), variadic: str | None = None
    ) -> None:
        self.fn = fn
        self.params = params
        self.variadic = variadic


def _wrap_callable(fn: Callable[..., Any] | GoFunc, bound: bool = False) -> GoFunc:
    if isinstance(fn, GoFunc):
        return fn
    code = getattr(fn, "__code__", None)
    if code is None:
        func = getattr(fn, "__func__", None)
        code = getattr(func, "__code__", None)
        bound = bound or func is not None
    if code is None:
        return GoFunc(fn, (), _ANY)
    nargs = code.co_argcount
    if bound or getattr(fn, "__self__", None) is not None:
        nargs -= 1
    variadic = _ANY if code.co_flags & 0x04 else None
    return GoFunc(fn, (_ANY,) * max(nargs, 0), variadic)


def _truth(v: Any) -> bool:
    """Go's isTrue (``ok`` is always true for Python values)."""
    if v is _MISSING or v is None:
        return False
    if isinstance(v, bool):
        return v
    if isinstance(v, (int, float)):
        return v != 0
    if isinstance(v, gofmt.GoStruct):
        return True
    if isinstance(v, (str, bytes, bytearray, list, tuple, Mapping)):
        return len(v) > 0
    return True


class _FuncError(Exception):
    pass


def _basic_kind(v: Any) -> str:
    if v is _MISSING or v is None:
        return "invalid"
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, int):
        return "int"
    if isinstance(v, float):
        return "float"
    if isinstance(v, str):
        return "string"
    if isinstance(v, complex):
        return "complex"
    return "other"


def _f_eq(arg1: Any, *arg2: Any) -> bool:
    if not arg2:
        raise _FuncError("missing argument for comparison")
    k1 = _basic_kind(arg1)
    for arg in arg2:
        k2 = _basic_kind(arg)
        if k1 != k2:
            if k1 != "invalid" and k2 != "invalid":
                raise _FuncError("incompatible types for comparison")
            truth = False
        elif k1 == "invalid":
            truth = True
        elif k1 == "other":
            if isinstance(arg1, (list, tuple, Mapping)) or isinstance(arg, (list, tuple, Mapping)):
                raise _FuncError(
                    f"non-comparable type {gofmt.sprint_value(arg1)}: {gofmt.go_type_name(arg1)}"
                )
            truth = arg1 == arg
        else:
            truth = arg1 == arg
        if truth:
            return True
    return False


def _f_ne(a: Any, b: Any) -> bool:
    return not _f_eq(a, b)


def _f_lt(a: Any, b: Any) -> bool:
    k1 = _basic_kind(a)
    if k1 in ("invalid", "other"):
        raise _FuncError("invalid type for comparison")
    k2 = _basic_kind(b)
    if k2 in ("invalid", "other"):
        raise _FuncError("invalid type for comparison")
    if k1 != k2:
        raise _FuncError("incompatible types for comparison")
    if k1 in ("bool", "complex"):
        raise _FuncError("invalid type for comparison")
    return bool(a < b)


def _f_le(a: Any, b: Any) -> bool:
    return _f_lt(a, b) or _f_eq(a, b)


def _f_gt(a: Any, b: Any) -> bool:
    return not _f_le(a, b)


def _f_ge(a: Any, b: Any) -> bool:
    return not _f_lt(a, b)


def _f_not(a: Any) -> bool:
    return not _truth(a)


def _f_len(item: Any) -> int:
    if item is _MISSING:
        raise _FuncError("reflect: call of reflect.Value.Type on zero Value")
    if item is None:
        raise _FuncError("len of nil pointer")
    if isinstance(item, str):
        return len(gofmt.utf8_bytes(item))
    if isinstance(item, (bytes, bytearray, list, tuple)) or (
        isinstance(item, Mapping) and not isinstance(item, gofmt.GoStruct)
    ):
        return len(item)
    raise _FuncError(f"len of type {gofmt.go_type_name(item)}")


def _index_arg(index: Any, cap: int) -> int:
    if index is _MISSING or index is None:
        raise _FuncError("cannot index slice/array with nil")
    if isinstance(index, bool) or not isinstance(index, int):
        raise _FuncError(f"cannot index slice/array with type {gofmt.go_type_name(index)}")
    if index < 0 or index > cap:
        raise _FuncError(f"index out of range: {index}")
    return index


def _map_zero(m: Mapping[Any, Any]) -> Any:
    vals = list(m.values())
    if not vals or all(isinstance(v, str) for v in vals):
        return ""
    return _MISSING


def _f_index(item: Any, *indexes: Any) -> Any:
    if item is _MISSING:
        raise _FuncError("index of untyped nil")
    for index in indexes:
        if item is None:
            # a nil map or slice: Go's typed nil would index as empty
            if isinstance(index, str):
                item = ""
                continue
            _index_arg(index, 0)
            raise _FuncError(f"index out of range: {index}")
        if isinstance(item, (str, bytes, bytearray, list, tuple)) and not isinstance(
            item, gofmt.GoStruct
        ):
            seq: Any = gofmt.utf8_bytes(item) if isinstance(item, str) else item
            x = _index_arg(index, len(seq))
            if x == len(seq):
                what = "string" if isinstance(item, str) else "slice"
                raise _FuncError(f"reflect: {what} index out of range")
            item = seq[x]
        elif isinstance(item, Mapping) and not isinstance(item, gofmt.GoStruct):
            if index is _MISSING or index is None:
                raise _FuncError("value is nil; should be of type string")
            sample = next(iter(item)) if item else ""
            if gofmt.go_type_name(index) != gofmt.go_type_name(sample):
                raise _FuncError(
                    f"value has type {gofmt.go_type_name(index)}; should be "
                    f"{gofmt.go_type_name(sample)}"
                )
            item = item[index] if index in item else _map_zero(item)
        else:
            raise _FuncError(f"can't index item of type {gofmt.go_type_name(item)}")
    return item


def _f_slice(item: Any, *indexes: Any) -> Any:
    if item is _MISSING:
        raise _FuncError("slice of untyped nil")
    if len(indexes) > 3:
        raise _FuncError(f"too many slice indexes: {len(indexes)}")
    if item is None:
        item = gofmt.NilSlice()
    if isinstance(item, str):
        if len(indexes) == 3:
            raise _FuncError("cannot 3-index slice a string")
        seq: Any = gofmt.utf8_bytes(item)
    elif isinstance(item, (list, tuple, bytes, bytearray)):
        seq = item
    else:
        raise _FuncError(f"can't slice item of type {gofmt.go_type_name(item)}")
    idx = [0, len(seq), len(seq)]
    for i, index in enumerate(indexes):
        idx[i] = _index_arg(index, len(seq))
    if idx[0] > idx[1]:
        raise _FuncError(f"invalid slice index: {idx[0]} > {idx[1]}")
    if len(indexes) == 3 and idx[1] > idx[2]:
        raise _FuncError(f"invalid slice index: {idx[1]} > {idx[2]}")
    out = seq[idx[0] : idx[1]]
    if isinstance(item, str):
        return gofmt.from_utf8_bytes(out)
    return out


def _eval_args(args: tuple[Any, ...]) -> str:
    if len(args) == 1 and isinstance(args[0], str):
        return args[0]
    return gofmt.sprint(args)


def _f_html(*args: Any) -> str:
    s = _eval_args(args)
    return (
        s.replace("&", "&amp;")
        .replace("'", "&#39;")
        .replace("<", "&lt;")
        .replace(">", "&gt;")
        .replace('"', "&#34;")
        .replace("\0", "\ufffd")
    )


_JS_ESC = {
    "\\": "\\\\",
    "'": "\\'",
    '"': '\\"',
    "<": "\\u003C",
    ">": "\\u003E",
    "&": "\\u0026",
    "=": "\\u003D",
}


def _f_js(*args: Any) -> str:
    out: list[str] = []
    for c in _eval_args(args):
        if c in _JS_ESC:
            out.append(_JS_ESC[c])
        elif c < " " or (ord(c) >= 0x80 and not c.isprintable()):
            out.append(f"\\u{ord(c):04X}")
        else:
            out.append(c)
    return "".join(out)


def _f_urlquery(*args: Any) -> str:
    s = _eval_args(args)
    out: list[str] = []
    for b in gofmt.utf8_bytes(s):
        c = chr(b)
        if c.isascii() and (c.isalnum() or c in "-_.~"):
            out.append(c)
        elif c == " ":
            out.append("+")
        else:
            out.append(f"%{b:02X}")
    return "".join(out)


def _f_print(*args: Any) -> str:
    return gofmt.sprint(args)


def _f_println(*args: Any) -> str:
    return gofmt.sprintln(args)


def _f_printf(fmt: str, *args: Any) -> str:
    return gofmt.sprintf(fmt, list(args))


def _f_call(callee: str, fn: Any, *args: Any) -> Any:
    if fn is _MISSING or fn is None:
        raise _FuncError("call of nil")
    if not callable(fn):
        raise _FuncError(f"non-function {callee} of type {gofmt.go_type_name(fn)}")
    return fn(*args)


# docker's templates package


def _f_json(v: Any) -> str:
    return gofmt.json_marshal(v).strip()


def _f_split(s: str, sep: str) -> list[str]:
    if sep == "":
        return list(s)
    return s.split(sep)


def _f_join(elems: list[str], sep: str) -> str:
    return sep.join(elems)


def _is_title_sep(c: str) -> bool:
    if c.isascii():
        return not (c.isalnum() or c == "_")
    if c.isalpha() or c.isdecimal():
        return False
    return c.isspace()


def _f_title(s: str) -> str:
    out: list[str] = []
    prev = " "
    for c in s:
        if _is_title_sep(prev):
            t = c.title()
            out.append(t if len(t) == 1 else c)
        else:
            out.append(c)
        prev = c
    return "".join(out)


def _map_runes(s: str, f: Callable[[str], str], first: bool) -> str:
    # Go maps rune by rune with the simple case mappings; Python applies the full
    # (possibly multi-rune) ones.  Keep the rune, or take the first rune for lower().
    if s.isascii():
        return f(s)
    out: list[str] = []
    for c in s:
        m = f(c)
        out.append(m if len(m) == 1 else (m[0] if first else c))
    return "".join(out)


def _f_upper(s: str) -> str:
    return _map_runes(s, str.upper, False)


def _f_lower(s: str) -> str:
    return _map_runes(s, str.lower, True)


def _f_pad(s: str, prefix: int, suffix: int) -> str:
    if s == "":
        return s
    if prefix < 0 or suffix < 0:
        raise _FuncError("strings: negative Repeat count")
    return " " * prefix + s + " " * suffix


def _f_truncate(s: str, length: int) -> str:
    b = gofmt.utf8_bytes(s)
    if len(b) < length:
        return s
    if length < 0:
        raise _FuncError(f"runtime error: slice bounds out of range [:{length}]")
    return gofmt.from_utf8_bytes(b[:length])


def _h_identity(v: str) -> str:
    return v


def _h_identity2(v: str, _: Any) -> str:
    return v


_BUILTINS: dict[str, GoFunc] = {
    "and": GoFunc(lambda *a: None, (_VALUE,), _VALUE),
    "or": GoFunc(lambda *a: None, (_VALUE,), _VALUE),
    "not": GoFunc(_f_not, (_VALUE,)),
    "len": GoFunc(_f_len, (_VALUE,)),
    "index": GoFunc(_f_index, (_VALUE,), _VALUE),
    "slice": GoFunc(_f_slice, (_VALUE,), _VALUE),
    "print": GoFunc(_f_print, (), _ANY),
    "printf": GoFunc(_f_printf, (_STR,), _ANY),
    "println": GoFunc(_f_println, (), _ANY),
    "html": GoFunc(_f_html, (), _ANY),
    "js": GoFunc(_f_js, (), _ANY),
    "urlquery": GoFunc(_f_urlquery, (), _ANY),
    "call": GoFunc(lambda fn, *a: _f_call("", fn, *a), (_VALUE,), _VALUE),
    "eq": GoFunc(_f_eq, (_VALUE,), _VALUE),
    "ne": GoFunc(_f_ne, (_VALUE, _VALUE)),
    "lt": GoFunc(_f_lt, (_VALUE, _VALUE)),
    "le": GoFunc(_f_le, (_VALUE, _VALUE)),
    "gt": GoFunc(_f_gt, (_VALUE, _VALUE)),
    "ge": GoFunc(_f_ge, (_VALUE, _VALUE)),
}

_DOCKER_FUNCS: dict[str, GoFunc] = {
    "json": GoFunc(_f_json, (_ANY,)),
    "split": GoFunc(_f_split, (_STR, _STR)),
    "join": GoFunc(_f_join, (_STRS, _STR)),
    "title": GoFunc(_f_title, (_STR,)),
    "lower": GoFunc(_f_lower, (_STR,)),
    "upper": GoFunc(_f_upper, (_STR,)),
    "pad": GoFunc(_f_pad, (_STR, _INT, _INT)),
    "truncate": GoFunc(_f_truncate, (_STR, _INT)),
}

# docker's templates.HeaderFunctions: keep the header cell intact.
_HEADER_FUNCS: dict[str, GoFunc] = {
    "json": GoFunc(_h_identity, (_STR,)),
    "split": GoFunc(_h_identity2, (_STR, _STR)),
    "join": GoFunc(_h_identity2, (_STR, _STR)),
    "title": GoFunc(_h_identity, (_STR,)),
    "lower": GoFunc(_h_identity, (_STR,)),
    "upper": GoFunc(_h_identity, (_STR,)),
    "truncate": GoFunc(_h_identity2, (_STR, _INT)),
}

_PLAIN = frozenset((dict, list, tuple, str, int, float, bool, type(None), bytes, bytearray))
# classes whose methods are not template methods (Go maps and slices have none)
_LIB_MODULES = frozenset(
    ("builtins", "collections", "_collections", "collections.abc", "_collections_abc", "typing")
)


def _find_method(recv: Any, name: str) -> Callable[..., Any] | None:
    if name[:1] == "_" or type(recv) in _PLAIN or recv is _MISSING:
        return None
    for klass in type(recv).__mro__:
        if klass.__module__ in _LIB_MODULES:
            return None
        attr = klass.__dict__.get(name)
        if attr is None:
            continue
        if isinstance(attr, (staticmethod, classmethod)) or (
            callable(attr) and not isinstance(attr, type)
        ):
            m = getattr(recv, name)
            return m if callable(m) else None
        return None
    return None


_NO_ATTR = object()


# ---------------------------------------------------------------------------
# executor


class _State:
    __slots__ = (
        "cur",
        "depth",
        "funcs",
        "missingkey",
        "name",
        "node",
        "out",
        "text",
        "treeset",
        "vars",
    )

    def __init__(
        self,
        name: str,
        text: str,
        treeset: dict[str, _ListNode],
        funcs: Mapping[str, GoFunc],
        missingkey: str,
    ) -> None:
        self.name = name
        self.cur = name  # the template being executed ({{define}}d ones change it)
        self.text = text
        self.treeset = treeset
        self.funcs = funcs
        self.missingkey = missingkey
        self.node: _Node | None = None
        self.vars: list[list[Any]] = []
        self.out: list[str] = []
        self.depth = 0

    # errors
    def at(self, node: _Node) -> None:
        self.node = node

    def errorf(self, msg: str) -> NoReturn:
        if self.node is None:
            raise _ExecFailure(f"template: {self.cur}: {msg}")
        pos = self.node.pos
        before = self.text[:pos]
        nl = before.rfind("\n")
        col_text = before if nl < 0 else before[nl + 1 :]
        col = len(gofmt.utf8_bytes(col_text))
        line = 1 + before.count("\n")
        raise _ExecFailure(
            f"template: {self.name}:{line}:{col}: executing {gofmt.go_quote(self.cur)} "
            f"at <{self.node}>: {msg}"
        )

    # variables
    def push(self, name: str, value: Any) -> None:
        self.vars.append([name, value])

    def mark(self) -> int:
        return len(self.vars)

    def pop(self, mark: int) -> None:
        del self.vars[mark:]

    def set_var(self, name: str, value: Any) -> None:
        for v in reversed(self.vars):
            if v[0] == name:
                v[1] = value
                return
        self.errorf(f"undefined variable: {name}")

    def set_top_var(self, n: int, value: Any) -> None:
        self.vars[len(self.vars) - n][1] = value

    def var_value(self, name: str) -> Any:
        for v in reversed(self.vars):
            if v[0] == name:
                return v[1]
        self.errorf(f"undefined variable: {name}")

    # walking
    def walk(self, dot: Any, node: _Node) -> None:
        self.at(node)
        if isinstance(node, _ActionNode):
            val = self.eval_pipeline(dot, node.pipe)
            if not node.pipe.decl:
                self.print_value(node, val)
        elif isinstance(node, _TextNode):
            self.out.append(node.text)
        elif isinstance(node, _ListNode):
            for n in node.nodes:
                self.walk(dot, n)
        elif isinstance(node, _IfNode):
            self.walk_if_or_with(False, dot, node)
        elif isinstance(node, _WithNode):
            self.walk_if_or_with(True, dot, node)
        elif isinstance(node, _RangeNode):
            self.walk_range(dot, node)
        elif isinstance(node, _TemplateNode):
            self.walk_template(dot, node)
        elif isinstance(node, _BreakNode):
            raise _Break
        elif isinstance(node, _ContinueNode):
            raise _Continue
        else:
            self.errorf(f"unknown node: {node}")

    def walk_if_or_with(self, is_with: bool, dot: Any, node: _BranchNode) -> None:
        mark = self.mark()
        try:
            val = self.eval_pipeline(dot, node.pipe)
            if _truth(val):
                self.walk(val if is_with else dot, node.list)
            elif node.else_list is not None:
                self.walk(dot, node.else_list)
        finally:
            self.pop(mark)

    def walk_range(self, dot: Any, r: _RangeNode) -> None:
        self.at(r)
        outer = self.mark()
        try:
            val = self.eval_pipeline(dot, r.pipe)
            mark = self.mark()
            decl = r.pipe.decl

            def one(index: Any, elem: Any) -> bool:
                if decl:
                    if r.pipe.is_assign:
                        self.set_var(decl[0].ident[0], index if len(decl) > 1 else elem)
                    else:
                        self.set_top_var(1, elem)
                if len(decl) > 1:
                    if r.pipe.is_assign:
                        self.set_var(decl[1].ident[0], elem)
                    else:
                        self.set_top_var(2, index)
                try:
                    self.walk(elem, r.list)
                except _Continue:
                    pass
                except _Break:
                    return False
                finally:
                    self.pop(mark)
                return True

            ran = False
            if isinstance(val, (list, tuple)) and not isinstance(val, gofmt.GoStruct):
                for i, e in enumerate(val):
                    ran = True
                    if not one(i, e):
                        break
            elif isinstance(val, Mapping) and not isinstance(val, gofmt.GoStruct):
                for k, e in gofmt._sorted_items(val):
                    ran = True
                    if not one(k, e):
                        break
            elif isinstance(val, (range, Iterator)):
                for i, e in enumerate(val):
                    ran = True
                    if not one(i, e):
                        break
            elif isinstance(val, int) and not isinstance(val, bool):
                if len(decl) > 1:
                    self.errorf(f"can't use {val} to iterate over more than one variable")
                for i in range(val):
                    ran = True
                    if not one(i, i):
                        break
            elif val is _MISSING or val is None:
                pass
            else:
                self.errorf(f"range can't iterate over {gofmt.sprint_value(val)}")
            if not ran and r.else_list is not None:
                self.walk(dot, r.else_list)
        finally:
            self.pop(outer)

    def walk_template(self, dot: Any, t: _TemplateNode) -> None:
        self.at(t)
        tree = self.treeset.get(t.name)
        if tree is None:
            self.errorf(f"template {gofmt.go_quote(t.name)} not defined")
        if self.depth >= _MAX_DEPTH:
            # Go allows 100000 levels; Python's stack does not, the message is Go's.
            self.errorf("exceeded maximum template depth (100000)")
        dot = self.eval_pipeline(dot, t.pipe)
        saved_vars, saved_cur = self.vars, self.cur
        self.vars = [["$", dot]]
        self.cur = t.name
        self.depth += 1
        try:
            self.walk(dot, tree)
        finally:
            self.depth -= 1
            self.vars, self.cur = saved_vars, saved_cur

    def print_value(self, node: _Node, v: Any) -> None:
        self.at(node)
        if v is _MISSING:
            self.out.append("<no value>")
        elif isinstance(v, str):
            self.out.append(v)
        else:
            self.out.append(gofmt.sprint_value(v))

    # evaluation
    def eval_pipeline(self, dot: Any, pipe: _PipeNode | None) -> Any:
        if pipe is None:
            return _MISSING
        self.at(pipe)
        value = _NOFINAL
        for cmd in pipe.cmds:
            value = self.eval_command(dot, cmd, value)
        for var in pipe.decl:
            if pipe.is_assign:
                self.set_var(var.ident[0], value)
            else:
                self.push(var.ident[0], value)
        return value

    def not_a_function(self, args: list[_Node], final: Any) -> None:
        if len(args) > 1 or final is not _NOFINAL:
            self.errorf(f"can't give argument to non-function {args[0]}")

    def eval_command(self, dot: Any, cmd: _CommandNode, final: Any) -> Any:
        first = cmd.args[0]
        if isinstance(first, _FieldNode):
            return self.eval_field_node(dot, first, cmd.args, final)
        if isinstance(first, _ChainNode):
            return self.eval_chain_node(dot, first, cmd.args, final)
        if isinstance(first, _IdentifierNode):
            return self.eval_function(dot, first, cmd, cmd.args, final)
        if isinstance(first, _PipeNode):
            self.not_a_function(cmd.args, final)
            return self.eval_pipeline(dot, first)
        if isinstance(first, _VariableNode):
            return self.eval_variable_node(dot, first, cmd.args, final)
        self.at(first)
        self.not_a_function(cmd.args, final)
        if isinstance(first, _BoolNode):
            return first.value
        if isinstance(first, _DotNode):
            return dot
        if isinstance(first, _NilNode):
            self.errorf("nil is not a command")
        if isinstance(first, _NumberNode):
            return self.ideal_constant(first)
        if isinstance(first, _StringNode):
            return first.text
        self.errorf(f"can't evaluate command {gofmt.go_quote(str(first))}")

    def ideal_constant(self, c: _NumberNode) -> Any:
        self.at(c)
        t = c.text
        is_hex_int = len(t) > 2 and t[0] == "0" and t[1] in "xX" and not any(ch in t for ch in "pP")
        if (
            c.is_float
            and not is_hex_int
            and not t.startswith("'")
            and any(ch in t for ch in ".eEpP")
        ):
            return c.float_val
        if c.is_int:
            if not -(1 << 63) <= c.int_val < (1 << 63):
                self.errorf(f"{t} overflows int")
            return c.int_val
        if c.is_uint:
            self.errorf(f"{t} overflows int")
        return _MISSING

    def eval_field_node(
        self, dot: Any, field: _FieldNode, args: list[_Node] | None, final: Any
    ) -> Any:
        self.at(field)
        return self.eval_field_chain(dot, dot, field, field.ident, args, final)

    def eval_chain_node(
        self, dot: Any, chain: _ChainNode, args: list[_Node] | None, final: Any
    ) -> Any:
        self.at(chain)
        if not chain.field:
            self.errorf("internal error: no fields in evalChainNode")
        if isinstance(chain.node, _NilNode):
            self.errorf(f"indirection through explicit nil in {chain}")
        pipe = self.eval_arg(dot, _ANY, chain.node, raw=True)
        return self.eval_field_chain(dot, pipe, chain, chain.field, args, final)

    def eval_variable_node(
        self, dot: Any, var: _VariableNode, args: list[_Node] | None, final: Any
    ) -> Any:
        self.at(var)
        value = self.var_value(var.ident[0])
        if len(var.ident) == 1:
            self.not_a_function(args or [var], final)
            return value
        return self.eval_field_chain(dot, value, var, var.ident[1:], args, final)

    def eval_field_chain(
        self,
        dot: Any,
        receiver: Any,
        node: _Node,
        ident: list[str],
        args: list[_Node] | None,
        final: Any,
    ) -> Any:
        for name in ident[:-1]:
            receiver = self.eval_field(dot, name, node, None, _NOFINAL, receiver)
        return self.eval_field(dot, ident[-1], node, args, final, receiver)

    def eval_function(
        self, dot: Any, node: _IdentifierNode, cmd: _Node, args: list[_Node] | None, final: Any
    ) -> Any:
        self.at(node)
        name = node.ident
        fn = self.funcs.get(name)
        if fn is None:
            self.errorf(f"{gofmt.go_quote(name)} is not a defined function")
        return self.eval_call(dot, fn, name in _BUILTINS, cmd, name, args, final)

    def eval_field(
        self,
        dot: Any,
        name: str,
        node: _Node,
        args: list[_Node] | None,
        final: Any,
        receiver: Any,
    ) -> Any:
        if receiver is _MISSING:
            if self.missingkey == "error":
                self.errorf(f"nil data; no entry for key {gofmt.go_quote(name)}")
            return _MISSING
        if receiver is None:
            self.errorf(f"nil pointer evaluating interface {{}}.{name}")
        method = _find_method(receiver, name)
        if method is not None:
            return self.eval_call(dot, _wrap_callable(method), False, node, name, args, final)
        has_args = (args is not None and len(args) > 1) or final is not _NOFINAL
        if isinstance(receiver, gofmt.GoStruct):
            if name in receiver:
                if has_args:
                    self.errorf(f"{name} has arguments but cannot be invoked as function")
                return receiver[name]
        elif isinstance(receiver, Mapping):
            if has_args:
                self.errorf(f"{name} is not a method but has arguments")
            if name in receiver:
                return receiver[name]
            if self.missingkey == "error":
                self.errorf(f"map has no entry for key {gofmt.go_quote(name)}")
            if self.missingkey == "zero":
                return _map_zero(receiver)
            return _MISSING
        elif (
            not isinstance(receiver, (str, bytes, bytearray, int, float, list, tuple))
            and name[:1] != "_"
        ):
            try:
                value = getattr(receiver, name, _NO_ATTR)
            except Exception as e:  # a property raising
                self.errorf(f"error calling {name}: {e}")
            if value is not _NO_ATTR:
                if has_args:
                    self.errorf(f"{name} has arguments but cannot be invoked as function")
                return value
        self.errorf(f"can't evaluate field {name} in type {gofmt.go_type_name(receiver)}")

    def eval_call(
        self,
        dot: Any,
        fn: GoFunc,
        is_builtin: bool,
        node: _Node,
        name: str,
        args: list[_Node] | None,
        final: Any,
    ) -> Any:
        call_args = args[1:] if args is not None else []
        num_in = len(call_args) + (0 if final is _NOFINAL else 1)
        params = fn.params
        num_fixed = len(call_args)
        if fn.variadic is not None:
            num_fixed = len(params)
            if num_in < num_fixed:
                self.errorf(
                    f"wrong number of args for {name}: want at least {len(params)} "
                    f"got {len(call_args)}"
                )
        elif num_in != len(params):
            self.errorf(f"wrong number of args for {name}: want {len(params)} got {num_in}")

        if is_builtin and name == "call":
            callee = str(call_args[0]) if call_args else gofmt.sprint_value(final)
            fn = GoFunc(lambda *a: _f_call(callee, *a), fn.params, fn.variadic)

        if is_builtin and name in ("and", "or"):
            v: Any = _MISSING
            for a in call_args:
                v = self.eval_arg(dot, _VALUE, a)
                if _truth(v) == (name == "or"):
                    return v
            if final is not _NOFINAL:
                v = self.validate_type(final, _VALUE)
            return v

        argv: list[Any] = []
        i = 0
        while i < num_fixed and i < len(call_args):
            argv.append(self.eval_arg(dot, params[i], call_args[i]))
            i += 1
        if fn.variadic is not None:
            while i < len(call_args):
                argv.append(self.eval_arg(dot, fn.variadic, call_args[i]))
                i += 1
        if final is not _NOFINAL:
            if fn.variadic is not None and num_in - 1 >= num_fixed:
                kind = fn.variadic
            else:
                kind = params[num_in - 1] if params else _ANY
            argv.append(self.validate_type(final, kind))
        try:
            return fn.fn(*argv)
        except (_ExecFailure, _Break, _Continue):
            raise
        except Exception as e:
            self.at(node)
            msg = str(e) if not isinstance(e, (KeyError,)) else repr(e)
            self.errorf(f"error calling {name}: {msg}")

    def validate_type(self, value: Any, kind: str) -> Any:
        if value is _MISSING:
            if kind == _ANY:
                return None
            if kind == _VALUE:
                return _MISSING
            if kind == _STRS:
                return gofmt.NilSlice()
            self.errorf(f"invalid value; expected {kind}")
        if kind in (_ANY, _VALUE):
            return value
        ok = False
        if kind == _STR:
            ok = isinstance(value, str)
        elif kind == _INT:
            ok = isinstance(value, int) and not isinstance(value, bool)
        elif kind == "bool":
            ok = isinstance(value, bool)
        elif kind == "float64":
            ok = isinstance(value, float)
        elif kind == _STRS:
            if value is None:
                return gofmt.NilSlice()
            ok = isinstance(value, (list, tuple)) and all(isinstance(x, str) for x in value)
        if not ok:
            if value is None:
                self.errorf(f"invalid value; expected {kind}")
            self.errorf(f"wrong type for value; expected {kind}; got {gofmt.go_type_name(value)}")
        return value

    def eval_arg(self, dot: Any, kind: str, n: _Node, raw: bool = False) -> Any:
        self.at(n)
        if isinstance(n, _DotNode):
            return dot if raw else self.validate_type(dot, kind)
        if isinstance(n, _NilNode):
            if kind == _ANY:
                return None
            if kind == _VALUE:
                return _MISSING
            if kind == _STRS:
                return gofmt.NilSlice()
            self.errorf(f"cannot assign nil to {kind}")
        v: Any
        if isinstance(n, _FieldNode):
            v = self.eval_field_node(dot, n, [n], _NOFINAL)
        elif isinstance(n, _VariableNode):
            v = self.eval_variable_node(dot, n, None, _NOFINAL)
        elif isinstance(n, _PipeNode):
            v = self.eval_pipeline(dot, n)
        elif isinstance(n, _IdentifierNode):
            v = self.eval_function(dot, n, n, None, _NOFINAL)
        elif isinstance(n, _ChainNode):
            v = self.eval_chain_node(dot, n, None, _NOFINAL)
        else:
            return self.eval_literal(dot, kind, n)
        return v if raw else self.validate_type(v, kind)

    def eval_literal(self, dot: Any, kind: str, n: _Node) -> Any:
        if kind == "bool":
            if isinstance(n, _BoolNode):
                return n.value
            self.errorf(f"expected bool; found {n}")
        if kind == _STR:
            if isinstance(n, _StringNode):
                return n.text
            self.errorf(f"expected string; found {n}")
        if kind == _INT:
            if isinstance(n, _NumberNode) and n.is_int:
                return n.int_val
            self.errorf(f"expected integer; found {n}")
        if kind == "float64":
            if isinstance(n, _NumberNode) and n.is_float:
                return n.float_val
            self.errorf(f"expected float; found {n}")
        if kind in (_ANY, _VALUE):
            return self.eval_empty_interface(dot, n)
        self.errorf(f"can't handle {n} for arg of type {kind}")

    def eval_empty_interface(self, dot: Any, n: _Node) -> Any:
        self.at(n)
        if isinstance(n, _BoolNode):
            return n.value
        if isinstance(n, _NumberNode):
            return self.ideal_constant(n)
        if isinstance(n, _StringNode):
            return n.text
        self.errorf(f"can't handle assignment of {n} to empty interface argument")


_MAX_DEPTH = 100


# ---------------------------------------------------------------------------
# public API


class HeaderMap(dict[str, str]):
    """docker's ``formatter.SubHeaderContext``: a header map with a ``Label`` method."""

    __slots__ = ()

    def Label(self, name: str) -> str:  # Go method name
        h = name.split(".")[-1]
        return h.replace("-", " ").replace("_", " ")


_MISSINGKEY_OPTIONS = {"default": "default", "invalid": "default", "zero": "zero", "error": "error"}


class Template:
    """A parsed Go template; parse once, execute many times.

    *name* is the template name used in messages (docker uses ``""`` for
    ``--format`` and ``"version"`` for ``docker version``).  *funcs* adds or overrides
    functions (plain callables, or :class:`GoFunc` for typed parameters).
    *missingkey* is Go's ``missingkey=`` option: ``default``/``invalid``, ``zero`` or
    ``error`` (docker's ``inspect`` uses ``error`` when it falls back to raw JSON maps).

    Raises :class:`TemplateParseError` (an ``InvalidArgument``) on a parse error.
    """

    __slots__ = ("funcs", "missingkey", "name", "root", "text", "treeset")

    def __init__(
        self,
        text: str,
        name: str = "",
        funcs: Mapping[str, Callable[..., Any] | GoFunc] | None = None,
        missingkey: str = "default",
    ) -> None:
        if missingkey not in _MISSINGKEY_OPTIONS:
            raise InvalidArgument(f"unrecognized option: missingkey={missingkey}")
        self.text = text
        self.name = name
        self.missingkey = _MISSINGKEY_OPTIONS[missingkey]
        table: dict[str, GoFunc] = {**_BUILTINS, **_DOCKER_FUNCS}
        if funcs:
            for k, f in funcs.items():
                table[k] = _wrap_callable(f)
        self.funcs = table
        self.treeset: dict[str, _ListNode] = {}
        items = _Lexer(text).run()
        parser = _Parser(text, name, table.__contains__, items, self.treeset)
        try:
            self.root = parser.parse()
            parser.add_tree(name, self.root)
        except _ParseFailure as e:
            raise TemplateParseError(str(e)) from None

    def execute(self, data: Any, funcs: Mapping[str, GoFunc] | None = None) -> str:
        """Render the template with *data* as dot; raises :class:`TemplateExecError`."""
        table = self.funcs if not funcs else {**self.funcs, **funcs}
        st = _State(self.name, self.text, self.treeset, table, self.missingkey)
        st.vars.append(["$", data])
        try:
            st.walk(data, self.root)
        except _ExecFailure as e:
            raise TemplateExecError(e.detail, gofmt.clean_output("".join(st.out))) from None
        except RecursionError:
            raise TemplateExecError(
                f"template: {self.name}: exceeded maximum template depth (100000)",
                gofmt.clean_output("".join(st.out)),
            ) from None
        return gofmt.clean_output("".join(st.out))

    def execute_header(self, header: Mapping[str, str]) -> str:
        """Render the table header like docker: header functions, errors ignored."""
        hdr = header if isinstance(header, HeaderMap) else HeaderMap(header)
        try:
            return self.execute(hdr, _HEADER_FUNCS)
        except TemplateExecError as e:
            return e.partial


def marshal_context(ctx: Any) -> dict[str, Any]:
    """docker's ``formatter.MarshalJSON`` map for a formatter context object.

    Every public method taking no arguments (besides self) and every property whose
    name starts with an upper-case letter, except ``FullHeader``, by name, sorted —
    what ``--format json`` / ``{{json .}}`` prints for ``ps``, ``images``, ... rows.
    A context class can use it as ``def __go_json__(self): return marshal_context(self)``.
    """
    out: dict[str, Any] = {}
    t = type(ctx)
    for name in sorted(dir(t)):
        if not name[:1].isupper() or name == "FullHeader":
            continue
        attr = getattr(t, name, None)
        if isinstance(attr, property):
            out[name] = getattr(ctx, name)
            continue
        code = getattr(attr, "__code__", None)
        if code is None or not callable(attr):
            continue
        if code.co_argcount == 1 and not code.co_flags & 0x0C:
            out[name] = getattr(ctx, name)()
    return out


def parse(
    text: str,
    name: str = "",
    funcs: Mapping[str, Callable[..., Any] | GoFunc] | None = None,
    missingkey: str = "default",
) -> Template:
    """Parse *text* into a :class:`Template` (see there)."""
    return Template(text, name, funcs, missingkey)


def is_table_format(fmt: str) -> bool:
    """docker's ``Format.IsTable``: the format starts with ``table``."""
    return fmt.startswith("table")


def preprocess_format(fmt: str) -> str:
    """docker's ``Context.preFormat``: the template text for a ``--format`` value.

    ``json`` becomes ``{{json .}}``; a ``table`` prefix is cut; spaces (only spaces)
    around are trimmed; the two-character sequences ``\\t`` and ``\\n`` become a tab
    and a newline (the shell passes them through literally).
    """
    if fmt == "json":
        out = "{{json .}}"
    elif fmt.startswith("table"):
        out = fmt[len("table") :]
    else:
        out = fmt
    out = out.strip(" ")
    if "\\" in out:
        out = _replace_escapes(out)
    return out


def _replace_escapes(s: str) -> str:
    # strings.NewReplacer(`\t`, "\t", `\n`, "\n"): one left-to-right pass
    out: list[str] = []
    i = 0
    n = len(s)
    while i < n:
        c = s[i]
        if c == "\\" and i + 1 < n and s[i + 1] in "tn":
            out.append("\t" if s[i + 1] == "t" else "\n")
            i += 2
        else:
            out.append(c)
            i += 1
    return "".join(out)


def header_cells(fmt: str, header: Mapping[str, str]) -> list[str]:
    """The header row docker prints for a ``table`` *fmt*, split into cells.

    *header* maps field names to column titles (``{"ID": "CONTAINER ID", ...}``); the
    row is the format's template executed against it with docker's header functions,
    so ``table {{.ID}}\\t{{upper .Names}}`` gives ``["CONTAINER ID", "NAMES"]``.
    """
    row = Template(preprocess_format(fmt)).execute_header(header)
    return row.split("\t")


_SIMPLE_FIELD = None


def _render_simple(
    text: str, items: list[Any], header: Mapping[str, str] | None
) -> list[str] | None:
    """Rows of a template made only of text and ``{{.Field}}`` actions, without the
    general executor — or None when the template or the values need it.

    For string values this is exactly what text/template prints; it keeps
    ``images`` with hundreds of rows fast. ``header`` (when given) must name every
    field too, so that the header row renders the same way.
    """
    import re

    global _SIMPLE_FIELD
    if _SIMPLE_FIELD is None:
        _SIMPLE_FIELD = re.compile(r"\{\{\s*\.([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
    parts = _SIMPLE_FIELD.split(text)
    literals, fields = parts[0::2], parts[1::2]
    if any("{{" in lit or "}}" in lit for lit in literals):
        return None
    if header is not None and any(f not in header for f in fields):
        return None
    rows = []
    for item in items:
        if not isinstance(item, Mapping):
            return None
        out = [literals[0]]
        for field, literal in zip(fields, literals[1:], strict=True):
            value = item.get(field)
            if not isinstance(value, str):
                return None
            out.append(value)
            out.append(literal)
        out.append("\n")
        rows.append("".join(out))
    return rows


def format_items(
    fmt: str,
    items: Iterable[Any],
    header: Mapping[str, str] | None = None,
    out: TextIO | None = None,
    funcs: Mapping[str, Callable[..., Any] | GoFunc] | None = None,
) -> str:
    """docker's ``formatter.Context.Write``: render every item, one per line.

    *fmt* is the user's ``--format`` value (``table …``, ``json`` or a template; the
    CLI resolves a bare ``table`` to its default format first).  For a table format
    the header row is rendered from *header* (field name → column title) and the whole
    output goes through the tabwriter (minwidth 10, tabwidth 1, padding 3).

    The result is returned and, if *out* is given, written to it.  Nothing is written
    when a template error is raised (docker buffers the rows).
    """
    from dockyard.cli.format.tabwriter import TabWriter, layout_uniform

    text_format = preprocess_format(fmt)
    items = list(items)
    rows = _render_simple(text_format, items, header) if not funcs else None
    if rows is not None:
        tmpl = None
    else:
        tmpl = Template(text_format, "", funcs)
        rows = [tmpl.execute(item) + "\n" for item in items]
    if is_table_format(fmt):
        if tmpl is None:
            simple = _render_simple(text_format, [header or {}], None)
            head = simple[0][:-1] if simple else ""
        else:
            head = tmpl.execute_header(header or {})
        fast = layout_uniform([head + "\n", *rows]) if "\n" not in head else None
        if fast is not None:
            text = fast
        else:
            tw = TabWriter(None, 10, 1, 3, " ", 0)
            tw.write(head)
            tw.write("\n")
            for r in rows:
                tw.write(r)
            text = tw.flush()
    else:
        text = "".join(rows)
    if out is not None:
        out.write(text)
    return text
