"""Dockerfile text → AST, as BuildKit's ``frontend/dockerfile/parser`` builds it.

The AST is BuildKit's: a root :class:`Node` whose children are instructions; an
instruction's ``value`` is its keyword as written, its arguments a chain of
``next`` nodes (ONBUILD's argument is a node whose only child is the trigger),
``flags`` the ``--x=y`` words before the arguments, ``attributes["json"]`` set for
the JSON (exec) form, ``heredocs`` the here-documents that followed the line.
:func:`dump` prints it in BuildKit's test ``result`` format.

Rules reproduced: parser directives (``# syntax=``, ``# escape=``, ``# check=``)
only in the leading comment block, each once; comments dropped (also inside
continuations); the escape token at the end of a line continues it; empty lines
inside a continuation are skipped (with a warning, as BuildKit); unknown
instructions parse (the typed layer rejects them); JSON form only for a valid
array of strings, else the shell form, except a JSON array holding non-strings,
which is an error; heredocs (``<<EOF``, ``<<-EOF``, quoted names, several per
line, with an fd prefix) for RUN, COPY and ADD, also behind ONBUILD.
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field

from dockyard.build.dockerfile.errors import DockerfileParseError
from dockyard.build.dockerfile.shell_lex import Lex, is_go_space
from dockyard.golang.fmt import go_quote

DEFAULT_ESCAPE = "\\"
MAX_LINE = 64 * 1024  # bufio.MaxScanTokenSize

_WHITESPACE = re.compile(r"[\t\v\f\r ]+")
_HEREDOC = re.compile(r"^(\d*)<<(-?)\s*([^<]*)\Z", re.ASCII | re.DOTALL)
_LEADING_TABS = re.compile(r"^\t+", re.MULTILINE)
_DIRECTIVE = re.compile(r"^([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.+?)\s*\Z", re.ASCII | re.DOTALL)
_VALID_DIRECTIVES = ("syntax", "escape", "check")
_HEREDOC_INSTRUCTIONS = frozenset({"add", "copy", "run"})

ERR_NOT_STRING_ARRAY = "when using JSON array syntax, arrays must be comprised of strings only"


@dataclass
class Heredoc:
    name: str
    file_descriptor: int = 0
    expand: bool = True
    chomp: bool = False
    content: str = ""


@dataclass
class Node:
    value: str = ""
    next: Node | None = None
    children: list[Node] = field(default_factory=list)
    heredocs: list[Heredoc] = field(default_factory=list)
    attributes: dict[str, bool] = field(default_factory=dict)
    original: str = ""
    flags: list[str] = field(default_factory=list)
    start_line: int = 0
    end_line: int = 0
    prev_comment: list[str] = field(default_factory=list)

    @property
    def is_json(self) -> bool:
        return self.attributes.get("json", False)

    def args(self) -> list[str]:
        """The argument values (BuildKit's ``nodeArgs``; a sub-command is flattened)."""
        out: list[str] = []
        node = self
        while node.next is not None:
            arg = node.next
            if not arg.children:
                out.append(arg.value)
            elif len(arg.children) == 1:
                out.append(arg.children[0].value)
                out.extend(arg.children[0].args())
            node = arg
        return out

    def dump(self) -> str:
        """BuildKit's ``Node.Dump``: a list of s-expressions."""
        parts = [self.value.lower()]
        if self.flags:
            parts.append(" [" + " ".join(go_quote(f) for f in self.flags) + "]")
        for child in self.children:
            parts.append("(" + child.dump() + ")\n")
        n = self.next
        while n is not None:
            parts.append(" " + (n.dump() if n.children else go_quote(n.value)))
            n = n.next
        return _go_trim_space("".join(parts))

    def can_contain_heredoc(self) -> bool:
        node = self
        if node.value.lower() == "onbuild" and node.next is not None and node.next.children:
            node = node.next.children[0]
        return node.value.lower() in _HEREDOC_INSTRUCTIONS and not node.is_json


@dataclass
class Warning:
    short: str
    detail: str
    url: str
    line: int


@dataclass
class ParseResult:
    ast: Node
    escape_token: str
    directives: dict[str, str]
    warnings: list[Warning]


def dump(ast: Node | ParseResult) -> str:
    """The AST as BuildKit's parser tests write it (``result`` files), with a final newline."""
    node = ast.ast if isinstance(ast, ParseResult) else ast
    return node.dump() + "\n"


def _go_trim_space(s: str) -> str:
    i, j = 0, len(s)
    while i < j and is_go_space(s[i]):
        i += 1
    while j > i and is_go_space(s[j - 1]):
        j -= 1
    return s[i:j]


def _trim_left_space(s: str) -> str:
    i = 0
    while i < len(s) and is_go_space(s[i]):
        i += 1
    return s[i:]


def _trim_newline(s: str) -> str:
    return s.rstrip("\r\n")


def _is_comment(line: str) -> bool:
    return _trim_left_space(line).startswith("#")


class _Directives:
    """Parser-directive state: the escape token, and BuildKit's DirectiveParser."""

    def __init__(self) -> None:
        self.escape_token = DEFAULT_ESCAPE
        self.continuation = _continuation_regex(DEFAULT_ESCAPE)
        self.done = False
        self.seen: dict[str, str] = {}

    def set_escape_token(self, s: str) -> None:
        if s not in ("`", "\\"):
            raise ValueError(f"invalid escape token '{s}' does not match ` or \\")
        self.escape_token = s
        self.continuation = _continuation_regex(s)

    def possible_directive(self, line: str) -> bool:
        if self.done:
            return False
        if not line.startswith("#"):
            self.done = True
            return False
        m = _DIRECTIVE.match(_trim_left_space(line[1:]))
        if m is None or m.group(1).lower() not in _VALID_DIRECTIVES:
            self.done = True
            return False
        key = m.group(1).lower()
        if key in self.seen:
            raise ValueError(f"only one {key} parser directive can be used")
        self.seen[key] = m.group(2)
        if key == "escape":
            self.set_escape_token(m.group(2))
        return True


def _continuation_regex(esc: str) -> re.Pattern[str]:
    e = re.escape(esc)
    return re.compile(rf"([^{e}]){e}[ \t]*\Z|^{e}[ \t]*\Z", re.DOTALL)


def _trim_continuation(line: str, d: _Directives) -> tuple[str, bool]:
    """(line without a trailing continuation token, whether the logical line ends)."""
    m = d.continuation.search(line)
    if m is None:
        return line, True
    return line[: m.start()] + (m.group(1) or ""), False


def _process_line(d: _Directives, token: str, strip_left: bool) -> tuple[str, bool]:
    token = _trim_newline(token)
    if strip_left:
        token = _trim_left_space(token)
    ok = d.possible_directive(token)
    return ("" if _is_comment(token) else token), ok


def _scan_lines(text: str) -> Iterator[str]:
    start = 0
    while start < len(text):
        end = text.find("\n", start)
        stop = len(text) if end < 0 else end + 1
        line = text[start:stop]
        if len(line) > MAX_LINE // 4 and len(line.encode("utf-8", "surrogateescape")) > MAX_LINE:
            raise ValueError(f"dockerfile line greater than max allowed size of {MAX_LINE - 1}")
        yield line
        start = stop


def parse(source: str | bytes, filename: str = "Dockerfile") -> ParseResult:
    """Parse Dockerfile text (bytes are read as UTF-8, odd bytes kept) into its AST.

    Raises :class:`DockerfileParseError` with the line of the offending instruction.
    """
    text = source.decode("utf-8", "surrogateescape") if isinstance(source, bytes) else source
    if text.startswith("\ufeff"):
        text = text[1:]
    d = _Directives()
    root = Node(start_line=-1)
    warnings: list[Warning] = []
    comments: list[str] = []
    current = 0
    lines = _scan_lines(text)

    def fail(detail: str, start: int, end: int = 0, instruction: str = "") -> DockerfileParseError:
        return DockerfileParseError(
            detail, line=start, end_line=end, instruction=instruction, filename=filename
        )

    def next_line() -> str | None:
        try:
            return next(lines)
        except StopIteration:
            return None
        except ValueError as err:
            raise fail(str(err), current + 1) from None

    while (raw := next_line()) is not None:
        if _is_comment(raw):
            comment = _go_trim_space(_trim_left_space(raw)[1:])
            comments = [*comments, comment] if comment else []
        try:
            line, directive_ok = _process_line(d, raw, True)
        except ValueError as err:
            raise fail(str(err), current + 1) from None
        if directive_ok and comments:
            comments = comments[:-1]
        current += 1
        start = current
        line, end_of_line = _trim_continuation(line, d)
        if end_of_line and not line:
            continue
        buf = [line]
        empty_continuation = False
        while not end_of_line:
            raw = next_line()
            if raw is None:
                break
            try:
                cont, _ = _process_line(d, raw, False)
            except ValueError as err:
                raise fail(str(err), current + 1) from None
            current += 1
            if _is_comment(raw):
                continue
            if not _trim_left_space(_trim_newline(cont)):
                empty_continuation = True
                continue
            cont, end_of_line = _trim_continuation(cont, d)
            buf.append(cont)
        logical = "".join(buf)
        if empty_continuation:
            warnings.append(
                Warning(
                    short="Empty continuation line found in: " + logical,
                    detail="Empty continuation lines will become errors in a future release",
                    url="https://docs.docker.com/go/dockerfile/rule/no-empty-continuation/",
                    line=current,
                )
            )
        try:
            child = _node_from_line(logical, d, comments)
        except ValueError as err:
            keyword = _WHITESPACE.split(_go_trim_space(logical), maxsplit=1)[0]
            raise fail(str(err), start, current, keyword) from None
        if child.can_contain_heredoc() and "<<" in logical:
            try:
                heredocs = _heredocs_from_line(logical)
            except ValueError as err:
                raise fail(str(err), start, current, child.value) from None
            for heredoc in heredocs:
                terminated = False
                content = [heredoc.content]
                while (body := next_line()) is not None:
                    current += 1
                    candidate = _trim_newline(body)
                    if heredoc.chomp:
                        candidate = candidate.lstrip("\t")
                    if candidate == heredoc.name:
                        terminated = True
                        break
                    content.append(body)
                if not terminated:
                    raise fail("unterminated heredoc", start, current, child.value)
                heredoc.content = "".join(content)
                child.heredocs.append(heredoc)
        child.start_line, child.end_line = start, current
        if root.start_line < 0:
            root.start_line = start
        root.end_line = current
        root.children.append(child)
        comments = []

    if root.start_line < 0:
        raise DockerfileParseError("file with no instructions", filename=filename)
    return ParseResult(root, d.escape_token, dict(d.seen), warnings)


# ---------------------------------------------------------------------------
# One logical line → node


def _node_from_line(line: str, d: _Directives, comments: list[str]) -> Node:
    cmd, flags, args = _split_command(line, d)
    fn = _DISPATCH.get(cmd.lower(), _parse_ignore)
    nxt, attrs = fn(args, d)
    return Node(
        value=cmd,
        original=line,
        flags=flags,
        next=nxt,
        attributes=attrs,
        prev_comment=list(comments),
    )


def _split_command(line: str, d: _Directives) -> tuple[str, list[str], str]:
    parts = _WHITESPACE.split(_go_trim_space(line), maxsplit=1)
    args, flags = "", list[str]()
    if len(parts) == 2:
        args, flags = _extract_builder_flags(parts[1], d)
    return parts[0], flags, _go_trim_space(args)


def _extract_builder_flags(line: str, d: _Directives) -> tuple[str, list[str]]:
    """The leading ``--flag`` words (quotes and escapes processed) and the rest."""
    words: list[str] = []
    buf: list[str] = []
    in_spaces, in_word, in_quote = 0, 1, 2
    phase = in_spaces
    quote = ""
    blank_ok = False
    n = len(line)
    pos = 0
    while pos <= n:
        ch = line[pos] if pos < n else ""
        if phase == in_spaces:
            if pos == n:
                break
            if is_go_space(ch):
                pos += 1
                continue
            if ch != "-" or pos + 1 == n or line[pos + 1] != "-":
                return line[pos:], words
            phase = in_word
        if phase in (in_word, in_quote) and pos == n:
            word = "".join(buf)
            if word != "--" and (blank_ok or word):
                words.append(word)
            break
        if phase == in_word:
            if is_go_space(ch):
                word = "".join(buf)
                phase = in_spaces
                if word == "--":
                    return line[pos:], words
                if blank_ok or word:
                    words.append(word)
                buf = []
                blank_ok = False
                pos += 1
                continue
            if ch in ("'", '"'):
                quote = ch
                blank_ok = True
                phase = in_quote
                pos += 1
                continue
            if ch == d.escape_token:
                if pos + 1 == n:
                    pos += 1
                    continue
                pos += 1
                ch = line[pos]
            buf.append(ch)
            pos += 1
            continue
        # in_quote
        if ch == quote:
            phase = in_word
            pos += 1
            continue
        if ch == d.escape_token:
            if pos + 1 == n:
                phase = in_word
                pos += 1
                continue
            pos += 1
            ch = line[pos]
        buf.append(ch)
        pos += 1
    return "", words


# ---------------------------------------------------------------------------
# Line parsers (BuildKit's line_parsers.go)

_Parsed = tuple[Node | None, dict[str, bool]]


def _parse_ignore(rest: str, d: _Directives) -> _Parsed:
    return Node(), {}


def _parse_sub_command(rest: str, d: _Directives) -> _Parsed:
    if not rest:
        return None, {}
    child = _node_from_line(rest, d, [])
    return Node(children=[child]), {}


def parse_words(rest: str, escape_token: str = DEFAULT_ESCAPE) -> list[str]:
    """Split on whitespace keeping quotes and escapes (ENV/LABEL/ARG words)."""
    words: list[str] = []
    buf: list[str] = []
    in_spaces, in_word, in_quote = 0, 1, 2
    phase = in_spaces
    quote = ""
    blank_ok = False
    n = len(rest)
    pos = 0
    while pos <= n:
        ch = rest[pos] if pos < n else ""
        if phase == in_spaces:
            if pos == n:
                break
            if is_go_space(ch):
                pos += 1
                continue
            phase = in_word
        if phase in (in_word, in_quote) and pos == n:
            if blank_ok or buf:
                words.append("".join(buf))
            break
        if phase == in_word:
            if is_go_space(ch):
                phase = in_spaces
                if blank_ok or buf:
                    words.append("".join(buf))
                buf = []
                blank_ok = False
                pos += 1
                continue
            if ch in ("'", '"'):
                quote = ch
                blank_ok = True
                phase = in_quote
            if ch == escape_token:
                if pos + 1 == n:
                    pos += 1
                    continue
                buf.append(ch)
                pos += 1
                ch = rest[pos]
            buf.append(ch)
            pos += 1
            continue
        # in_quote
        if ch == quote:
            phase = in_word
        if ch == escape_token and quote != "'":
            if pos + 1 == n:
                phase = in_word
                pos += 1
                continue
            pos += 1
            buf.append(ch)
            ch = rest[pos]
        buf.append(ch)
        pos += 1
    return words


def _kv_node(key: str, value: str, sep: str) -> Node:
    return Node(value=key, next=Node(value=value, next=Node(value=sep)))


def _chain(values: list[Node]) -> Node | None:
    for a, b in itertools.pairwise(values):
        tail = a
        while tail.next is not None:
            tail = tail.next
        tail.next = b
    return values[0] if values else None


def _parse_name_val(rest: str, key: str, d: _Directives) -> Node | None:
    words = parse_words(rest, d.escape_token)
    if not words:
        return None
    if "=" not in words[0]:
        parts = _WHITESPACE.split(rest, maxsplit=1)
        if len(parts) < 2:
            raise ValueError(f"{key} must have two arguments")
        return _kv_node(parts[0], parts[1], "")
    nodes = []
    for word in words:
        if "=" not in word:
            raise ValueError(
                f"Syntax error - can't find = in {go_quote(word)}. Must be of the form: name=value"
            )
        k, v = word.split("=", 1)
        nodes.append(_kv_node(k, v, "="))
    return _chain(nodes)


def _parse_env(rest: str, d: _Directives) -> _Parsed:
    return _parse_name_val(rest, "ENV", d), {}


def _parse_label(rest: str, d: _Directives) -> _Parsed:
    return _parse_name_val(rest, "LABEL", d), {}


def _parse_name_or_name_val(rest: str, d: _Directives) -> _Parsed:
    return _chain([Node(value=w) for w in parse_words(rest, d.escape_token)]), {}


def _parse_strings_whitespace_delimited(rest: str, d: _Directives) -> _Parsed:
    if not rest:
        return None, {}
    return _chain([Node(value=s) for s in _WHITESPACE.split(rest)]), {}


def _parse_string(rest: str, d: _Directives) -> _Parsed:
    if not rest:
        return None, {}
    return Node(value=rest), {}


class _NotJSON(Exception):
    pass


def _reject_constant(name: str) -> object:
    raise _NotJSON(name)


def _parse_json(rest: str) -> _Parsed:
    rest = _trim_left_space(rest)
    if not rest.startswith("["):
        raise _NotJSON("not a JSON array")
    try:
        values = json.loads(rest, parse_constant=_reject_constant)
    except (ValueError, RecursionError) as err:
        raise _NotJSON(str(err)) from None
    if not isinstance(values, list):
        raise _NotJSON("not a JSON array")
    if not all(isinstance(v, str) for v in values):
        raise ValueError(ERR_NOT_STRING_ARRAY)
    return _chain([Node(value=v) for v in values]), {"json": True}


def _parse_maybe_json(rest: str, d: _Directives) -> _Parsed:
    if not rest:
        return None, {}
    try:
        return _parse_json(rest)
    except _NotJSON:
        return Node(value=rest), {}


def _parse_maybe_json_to_list(rest: str, d: _Directives) -> _Parsed:
    try:
        return _parse_json(rest)
    except _NotJSON:
        return _parse_strings_whitespace_delimited(rest, d)


def _parse_health_config(rest: str, d: _Directives) -> _Parsed:
    sep = 0
    while sep < len(rest) and not is_go_space(rest[sep]):
        sep += 1
    nxt = sep
    while nxt < len(rest) and is_go_space(rest[nxt]):
        nxt += 1
    if sep == 0:
        return None, {}
    cmd, attrs = _parse_maybe_json(rest[nxt:], d)
    return Node(value=rest[:sep], next=cmd), attrs


_DISPATCH = {
    "add": _parse_maybe_json_to_list,
    "arg": _parse_name_or_name_val,
    "cmd": _parse_maybe_json,
    "copy": _parse_maybe_json_to_list,
    "entrypoint": _parse_maybe_json,
    "env": _parse_env,
    "expose": _parse_strings_whitespace_delimited,
    "from": _parse_strings_whitespace_delimited,
    "healthcheck": _parse_health_config,
    "label": _parse_label,
    "maintainer": _parse_string,
    "onbuild": _parse_sub_command,
    "run": _parse_maybe_json,
    "shell": _parse_maybe_json,
    "stopsignal": _parse_string,
    "user": _parse_string,
    "volume": _parse_maybe_json_to_list,
    "workdir": _parse_string,
}


# ---------------------------------------------------------------------------
# Heredocs


def parse_heredoc(word: str) -> Heredoc | None:
    """The heredoc a word like ``<<EOF``, ``<<-"EOF"`` or ``3<<EOF`` opens, or None."""
    m = _HEREDOC.match(word)
    if m is None:
        return None
    fd = int(m.group(1)) if m.group(1) else 0
    chomp = m.group(2) == "-"
    rest = m.group(3)
    if not rest:
        return None
    lex = Lex("\\", skip_unset_env=True)
    try:
        words = lex.process_words(rest, {})
    except Exception as err:
        raise ValueError(str(err)) from None
    if len(words) != 1:
        return None
    lex.raw_quotes = True
    try:
        raw_words = lex.process_words(rest, {})
    except Exception as err:
        raise ValueError(str(err)) from None
    if len(raw_words) != len(words):
        raise ValueError(f"internal lexing of heredoc produced inconsistent results: {rest}")
    word0, raw0 = words[0], raw_words[0]
    expand = word0.count("'") + word0.count('"') == raw0.count("'") + raw0.count('"')
    return Heredoc(name=word0, file_descriptor=fd, expand=expand, chomp=chomp)


def must_parse_heredoc(word: str) -> Heredoc | None:
    try:
        return parse_heredoc(word)
    except ValueError:
        return None


def _heredocs_from_line(line: str) -> list[Heredoc]:
    lex = Lex("\\", raw_quotes=True, raw_escapes=True, skip_unset_env=True)
    try:
        words = lex.process_words(line, {})
    except Exception:
        words = []
    docs = []
    for word in words:
        heredoc = parse_heredoc(word)
        if heredoc is not None:
            docs.append(heredoc)
    return docs


def chomp_heredoc_content(src: str) -> str:
    """Remove the leading tabs of every line (``<<-``)."""
    return _LEADING_TABS.sub("", src)
