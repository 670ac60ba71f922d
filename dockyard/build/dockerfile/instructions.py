"""Typed Dockerfile instructions from AST nodes (BuildKit's ``instructions`` package).

:func:`parse_instruction` turns one :class:`~dockyard.build.dockerfile.parser.Node`
into an :class:`Instruction` subclass, checking its arguments and ``--flags`` with
BuildKit's messages. Values are kept as written; ``inst.expand(expander)`` returns
a copy with variables expanded the way BuildKit's dispatcher does for that
instruction (see :mod:`~dockyard.build.dockerfile.shell_lex`), the
:class:`Expander` remembering which variables were used (for cache keys).
"""

from __future__ import annotations

import csv
import dataclasses
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from dockyard.build.dockerfile.errors import DockerfileParseError, with_suggestion
from dockyard.build.dockerfile.parser import (
    Node,
    chomp_heredoc_content,
    must_parse_heredoc,
)
from dockyard.build.dockerfile.shell_lex import Lex
from dockyard.errors import DockyardError
from dockyard.golang.fmt import go_quote

INSTRUCTION_NAMES = (
    "add", "arg", "cmd", "copy", "entrypoint", "env", "expose", "from",
    "healthcheck", "label", "maintainer", "onbuild", "run", "shell",
    "stopsignal", "user", "volume", "workdir",
)  # fmt: skip

MOUNT_TYPES = ("bind", "cache", "tmpfs", "secret", "ssh")
SHARING_MODES = ("shared", "private", "locked")
NETWORK_MODES = ("default", "none", "host")
SECURITY_MODES = ("sandbox", "insecure")
_STAGE_NAME = re.compile(r"^[a-z][a-z0-9-_.]*\Z")
_MOUNT_KEYS = [
    "type", "from", "source", "target", "readonly", "id", "sharing", "required", "size",
    "mode", "uid", "gid", "src", "dst", "destination", "ro", "rw", "readwrite", "env",
]  # fmt: skip


class _Invalid(Exception):
    """An instruction-level error; becomes a DockerfileParseError with the node's lines."""


# ---------------------------------------------------------------------------
# Expansion


class Expander:
    """Expands words against ``env`` and records the variables it looked up.

    ``used``: variables found in ``env``; ``unmatched``: referenced but unset.
    """

    def __init__(self, env: Mapping[str, str], escape_token: str = "\\") -> None:
        self.env = env
        self.lex = Lex(escape_token)
        self._raw = Lex("\\", skip_process_quotes=True)
        self.used: set[str] = set()
        self.unmatched: set[str] = set()

    def word(self, word: str) -> str:
        r = self.lex.process(word, self.env)
        self.used |= r.matched
        self.unmatched |= r.unmatched
        return r.result

    def words(self, word: str) -> list[str]:
        r = self.lex.process(word, self.env)
        self.used |= r.matched
        self.unmatched |= r.unmatched
        return r.words

    def raw(self, text: str) -> str:
        """Heredoc bodies: only ``$`` substitutions and ``\\`` escapes, quotes kept."""
        r = self._raw.process(text, self.env)
        self.used |= r.matched
        self.unmatched |= r.unmatched
        return r.result


# ---------------------------------------------------------------------------
# Instruction types


@dataclass(frozen=True)
class KeyValue:
    key: str
    value: str
    no_delim: bool = False  # the old ``ENV key value`` form


@dataclass(frozen=True)
class ArgDef:
    key: str
    value: str | None = None
    doc_comment: str = ""


@dataclass(frozen=True)
class SourceContent:
    """An inline file from a heredoc (``COPY <<EOF /dest``)."""

    path: str
    data: str
    expand: bool


@dataclass(frozen=True)
class InlineFile:
    """A heredoc attached to RUN/CMD/ENTRYPOINT."""

    name: str
    data: str
    chomp: bool


@dataclass(kw_only=True)
class Instruction:
    keyword: str  # as written: "RUN", "run", ...
    original: str  # the instruction's text (continuations joined)
    start_line: int = 0
    end_line: int = 0
    comments: list[str] = field(default_factory=list)
    flags_used: list[str] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.keyword.lower()

    def expand(self, ex: Expander) -> Instruction:
        """A copy with variables expanded (instructions that do not expand: self)."""
        return self


@dataclass(kw_only=True)
class From(Instruction):
    base_name: str
    stage_name: str = ""  # lowercased; "" when unnamed
    platform: str = ""


@dataclass(kw_only=True)
class _CommandLine(Instruction):
    cmd_line: list[str]
    prepend_shell: bool  # shell form: run through SHELL
    files: list[InlineFile] = field(default_factory=list)


@dataclass(frozen=True)
class Mount:
    type: str = "bind"
    from_: str = ""
    source: str = ""
    target: str = ""
    readonly: bool = True
    size_limit: int = 0
    cache_id: str = ""
    cache_sharing: str = ""
    required: bool = False
    env: str | None = None
    mode: int | None = None
    uid: int | None = None
    gid: int | None = None


@dataclass(kw_only=True)
class Run(_CommandLine):
    mount_specs: list[str] = field(default_factory=list)
    mounts: list[Mount] = field(default_factory=list)  # set by parse (no $) or expand
    network: str = "default"
    security: str = "sandbox"

    def expand(self, ex: Expander) -> Run:
        try:
            mounts = [parse_mount(spec, ex.word) for spec in self.mount_specs]
        except _Invalid as err:
            raise _located(self, str(err)) from None
        return dataclasses.replace(self, mounts=mounts)


@dataclass(kw_only=True)
class Cmd(_CommandLine):
    pass


@dataclass(kw_only=True)
class Entrypoint(_CommandLine):
    pass


@dataclass(kw_only=True)
class Shell(Instruction):
    shell: list[str]


@dataclass(kw_only=True)
class Label(Instruction):
    labels: list[KeyValue]

    def expand(self, ex: Expander) -> Label:
        return dataclasses.replace(self, labels=_expand_kvs(self.labels, ex))


@dataclass(kw_only=True)
class Env(Instruction):
    env: list[KeyValue]

    def expand(self, ex: Expander) -> Env:
        return dataclasses.replace(self, env=_expand_kvs(self.env, ex))


@dataclass(kw_only=True)
class Maintainer(Instruction):
    maintainer: str


@dataclass(kw_only=True)
class Expose(Instruction):
    ports: list[str]  # sorted, as BuildKit keeps them

    def expand(self, ex: Expander) -> Expose:
        ports: list[str] = []
        for p in self.ports:
            ports.extend(ex.words(p))
        return dataclasses.replace(self, ports=ports)


@dataclass(kw_only=True)
class _SourcesAndDest(Instruction):
    sources: list[str]
    dest: str
    source_contents: list[SourceContent] = field(default_factory=list)
    chown: str = ""
    chmod: str = ""
    link: bool = False
    excludes: list[str] = field(default_factory=list)

    def _expanded(self, ex: Expander) -> dict[str, object]:
        contents = [
            dataclasses.replace(c, data=ex.raw(c.data)) if c.expand else c
            for c in self.source_contents
        ]
        return {
            "sources": [ex.word(s) for s in self.sources],
            "dest": ex.word(self.dest),
            "chown": ex.word(self.chown),
            "chmod": ex.word(self.chmod),
            "source_contents": contents,
        }


@dataclass(kw_only=True)
class Add(_SourcesAndDest):
    checksum: str = ""
    keep_git_dir: bool | None = None
    unpack: bool | None = None

    def expand(self, ex: Expander) -> Add:
        fields = self._expanded(ex)
        return dataclasses.replace(self, checksum=ex.word(self.checksum), **fields)  # type: ignore[arg-type]


@dataclass(kw_only=True)
class Copy(_SourcesAndDest):
    from_: str = ""  # never expanded (BuildKit refuses variables here)
    parents: bool = False

    def expand(self, ex: Expander) -> Copy:
        return dataclasses.replace(self, **self._expanded(ex))  # type: ignore[arg-type]


@dataclass(kw_only=True)
class Volume(Instruction):
    volumes: list[str]

    def expand(self, ex: Expander) -> Volume:
        return dataclasses.replace(self, volumes=[ex.word(v) for v in self.volumes])


@dataclass(kw_only=True)
class User(Instruction):
    user: str

    def expand(self, ex: Expander) -> User:
        return dataclasses.replace(self, user=ex.word(self.user))


@dataclass(kw_only=True)
class Workdir(Instruction):
    path: str

    def expand(self, ex: Expander) -> Workdir:
        return dataclasses.replace(self, path=ex.word(self.path))


@dataclass(kw_only=True)
class StopSignal(Instruction):
    signal: str

    def expand(self, ex: Expander) -> StopSignal:
        return dataclasses.replace(self, signal=ex.word(self.signal))


@dataclass(kw_only=True)
class Arg(Instruction):
    args: list[ArgDef]

    def expand(self, ex: Expander) -> Arg:
        """Defaults expanded (BuildKit's ``dispatchArg``); names never are."""
        out = [
            ArgDef(a.key, None if a.value is None else ex.word(a.value), a.doc_comment)
            for a in self.args
        ]
        return dataclasses.replace(self, args=out)


@dataclass(kw_only=True)
class Onbuild(Instruction):
    expression: str  # the trigger as written (heredocs appended), stored in the image


@dataclass(frozen=True)
class Health:
    """Docker's HealthcheckConfig; durations in nanoseconds (0: inherit the default)."""

    test: list[str]
    interval: int = 0
    timeout: int = 0
    start_period: int = 0
    start_interval: int = 0
    retries: int = 0


@dataclass(kw_only=True)
class Healthcheck(Instruction):
    health: Health


def _expand_kvs(kvs: list[KeyValue], ex: Expander) -> list[KeyValue]:
    return [KeyValue(ex.word(kv.key), ex.word(kv.value), kv.no_delim) for kv in kvs]


def _located(inst: Instruction, detail: str) -> DockerfileParseError:
    return DockerfileParseError(
        detail, line=inst.start_line, end_line=inst.end_line, instruction=inst.keyword
    )


# ---------------------------------------------------------------------------
# Flags (BuildKit's BFlags)


class _Flags:
    def __init__(self, args: list[str]) -> None:
        self.args = args
        self.kinds: dict[str, str] = {}
        self.values: dict[str, str] = {}
        self.lists: dict[str, list[str]] = {}
        self.used: list[str] = []

    def add_bool(self, name: str) -> None:
        self.kinds[name] = "bool"
        self.values[name] = "false"

    def add_string(self, name: str, default: str = "") -> None:
        self.kinds[name] = "string"
        self.values[name] = default

    def add_strings(self, name: str) -> None:
        self.kinds[name] = "strings"
        self.lists[name] = []

    def parse(self) -> None:
        for a in self.args:
            if a == "--":
                return
            if not a.startswith("--"):
                raise _Invalid(f"arg should start with -- : {a}")
            flag_name, has_value, value = a.partition("=")
            arg = flag_name[2:]
            kind = self.kinds.get(arg)
            if kind is None:
                raise _Invalid(
                    with_suggestion(f"unknown flag: {flag_name}", arg, list(self.kinds), True)
                )
            if arg in self.used and kind != "strings":
                raise _Invalid(f"duplicate flag specified: {flag_name}")
            if arg not in self.used:
                self.used.append(arg)
            if kind == "bool":
                if has_value and value == "":
                    raise _Invalid(f"missing a value on flag: {flag_name}")
                low = value.lower()
                if low in ("true", ""):
                    self.values[arg] = "true"
                elif low == "false":
                    self.values[arg] = "false"
                else:
                    raise _Invalid(f"expecting boolean value for flag {flag_name}, not: {value}")
            elif not has_value:
                raise _Invalid(f"missing a value on flag: {flag_name}")
            elif kind == "string":
                self.values[arg] = value
            else:
                self.lists[arg].append(value)

    def true(self, name: str) -> bool:
        return self.values[name] == "true"

    def optional_bool(self, name: str) -> bool | None:
        return self.true(name) if name in self.used else None


# ---------------------------------------------------------------------------
# RUN --mount


def _go_parse_bool(value: str) -> bool:
    if value in ("1", "t", "T", "TRUE", "true", "True"):
        return True
    if value in ("0", "f", "F", "FALSE", "false", "False"):
        return False
    raise ValueError(value)


def _parse_uint(value: str, base: int) -> int:
    if not value or not all(
        c in "0123456789abcdefABCDEF"[: base if base <= 10 else 22] for c in value
    ):
        raise ValueError(value)
    n = int(value, base)
    if n >= 1 << 32:
        raise ValueError(value)
    return n


def parse_mount(spec: str, expand: object = None) -> Mount:
    """Parse one ``--mount`` value (CSV ``key=value`` fields), expanding values with
    ``expand`` (a ``str -> str`` callable) when given."""
    try:
        fields = next(csv.reader([spec], strict=True), [])
    except csv.Error as err:
        raise _Invalid(f"failed to parse csv mounts: {err}") from None
    m: dict[str, object] = {"type": "bind"}
    ro_auto = True
    for fld in fields:
        key, has_value, value = fld.partition("=")
        key = key.lower()
        mtype = m["type"]
        if not has_value:
            if key in ("readonly", "ro"):
                m["readonly"], ro_auto = True, False
            elif key in ("readwrite", "rw"):
                m["readonly"], ro_auto = False, False
            elif key == "required":
                if mtype not in ("secret", "ssh"):
                    raise _Invalid(f"unexpected key '{key}' for mount type '{mtype}'")
                m["required"] = True
            else:
                raise _Invalid(f"invalid field '{fld}' must be a key=value pair")
            continue
        if key == "from" and "$" in value[:-1]:
            raise _Invalid(
                f"'{key}' doesn't support variable expansion, define alias stage instead"
            )
        if callable(expand):
            value = expand(value)
        if key == "type":
            v = value.lower()
            if v not in MOUNT_TYPES:
                raise _Invalid(
                    with_suggestion(
                        f"unsupported mount type {go_quote(value)}", value, list(MOUNT_TYPES), True
                    )
                )
            m["type"] = v
        elif key == "from":
            m["from_"] = value
        elif key in ("source", "src"):
            m["source"] = value
        elif key in ("target", "dst", "destination"):
            m["target"] = value
        elif key in ("readonly", "ro", "readwrite", "rw"):
            try:
                b = _go_parse_bool(value)
            except ValueError:
                raise _Invalid(f"invalid value for {key}: {value}") from None
            m["readonly"] = b if key in ("readonly", "ro") else not b
            ro_auto = False
        elif key == "required":
            if mtype not in ("secret", "ssh"):
                raise _Invalid(f"unexpected key '{key}' for mount type '{mtype}'")
            try:
                m["required"] = _go_parse_bool(value)
            except ValueError:
                raise _Invalid(f"invalid value for {key}: {value}") from None
        elif key == "size":
            if mtype != "tmpfs":
                raise _Invalid(f"unexpected key '{key}' for mount type '{mtype}'")
            from dockyard.golang.units import ram_in_bytes

            try:
                m["size_limit"] = ram_in_bytes(value)
            except (DockyardError, ValueError):
                raise _Invalid(f"invalid value for {key}: {value}") from None
        elif key == "id":
            m["cache_id"] = value
        elif key == "sharing":
            v = value.lower()
            if v not in SHARING_MODES:
                raise _Invalid(
                    with_suggestion(
                        f"unsupported sharing value {go_quote(value)}",
                        value,
                        list(SHARING_MODES),
                        True,
                    )
                )
            m["cache_sharing"] = v
        elif key in ("mode", "uid", "gid"):
            try:
                m[key] = _parse_uint(value, 8 if key == "mode" else 10)
            except ValueError:
                raise _Invalid(f"invalid value {value} for {key}") from None
        elif key == "env":
            m["env"] = value
        else:
            raise _Invalid(
                with_suggestion(f"unexpected key '{key}' in '{fld}'", key, _MOUNT_KEYS, True)
            )
    mtype = m["type"]
    if mtype not in ("secret", "ssh", "cache"):
        for k in ("mode", "uid", "gid"):
            if k in m:
                raise _Invalid(f"{k} not allowed for {go_quote(str(mtype))} type mounts")
    if ro_auto:
        m["readonly"] = mtype not in ("cache", "tmpfs")
    if mtype == "secret":
        if m.get("from_"):
            raise _Invalid("secret mount should not have a from")
        if m.get("cache_sharing"):
            raise _Invalid("secret mount should not define sharing")
        if not m.get("source") and not m.get("target") and not m.get("cache_id"):
            raise _Invalid("invalid secret mount. one of source, target required")
        if m.get("source") and m.get("cache_id"):
            raise _Invalid("both source and id can't be set")
    if m.get("cache_sharing") and mtype != "cache":
        raise _Invalid(f"invalid cache sharing set for {mtype} mount")
    return Mount(**m)  # type: ignore[arg-type]


# ---------------------------------------------------------------------------
# Node → instruction


def parse_instruction(node: Node, filename: str = "Dockerfile") -> Instruction:
    """The typed instruction for ``node``; DockerfileParseError on bad input."""
    parser = _PARSERS.get(node.value.lower())
    if parser is None:
        detail = with_suggestion(
            f"unknown instruction: {node.value}",
            node.value,
            [n.upper() for n in INSTRUCTION_NAMES],
            False,
        )
        raise DockerfileParseError(
            detail,
            line=node.start_line,
            end_line=node.end_line,
            instruction=node.value,
            filename=filename,
        )
    req = _Request(node)
    try:
        inst = parser(req)
    except _Invalid as err:
        raise DockerfileParseError(
            str(err),
            line=node.start_line,
            end_line=node.end_line,
            instruction=node.value,
            filename=filename,
        ) from None
    inst.flags_used = list(req.flags.used)
    return inst


class _Request:
    def __init__(self, node: Node) -> None:
        self.node = node
        self.args = node.args()
        self.flags = _Flags(list(node.flags))
        self.is_json = node.is_json

    def base(self) -> dict[str, object]:
        n = self.node
        return {
            "keyword": n.value,
            "original": n.original.strip(),
            "start_line": n.start_line,
            "end_line": n.end_line,
            "comments": list(n.prev_comment),
        }


def _kvs(args: list[str], cmd: str) -> list[KeyValue]:
    if not args:
        raise _Invalid(f"{cmd} requires at least one argument")
    if len(args) % 3:
        raise _Invalid(f"Bad input to {cmd}, too many arguments")
    out = []
    for j in range(0, len(args), 3):
        if not args[j]:
            raise _Invalid(f"{cmd} names can not be blank")
        out.append(KeyValue(args[j], args[j + 1], args[j + 2] == ""))
    return out


def _parse_env(req: _Request) -> Instruction:
    req.flags.parse()
    return Env(env=_kvs(req.args, "ENV"), **req.base())  # type: ignore[arg-type]


def _parse_label(req: _Request) -> Instruction:
    req.flags.parse()
    return Label(labels=_kvs(req.args, "LABEL"), **req.base())  # type: ignore[arg-type]


def _parse_maintainer(req: _Request) -> Instruction:
    if len(req.args) != 1:
        raise _Invalid("MAINTAINER requires exactly one argument")
    req.flags.parse()
    return Maintainer(maintainer=req.args[0], **req.base())  # type: ignore[arg-type]


def _sources_and_dest(req: _Request, command: str) -> dict[str, object]:
    srcs, dest = req.args[:-1], req.args[-1]
    if must_parse_heredoc(dest) is not None:
        raise _Invalid(f"{command} cannot accept a heredoc as a destination")
    lookup = {h.name: h for h in req.node.heredocs}
    paths: list[str] = []
    contents: list[SourceContent] = []
    for src in srcs:
        heredoc = must_parse_heredoc(src)
        if heredoc is None:
            paths.append(src)
            continue
        found = lookup.get(heredoc.name)
        data = found.content if found is not None else ""
        if heredoc.chomp:
            data = chomp_heredoc_content(data)
        contents.append(SourceContent(path=heredoc.name, data=data, expand=heredoc.expand))
    return {"sources": paths, "dest": dest, "source_contents": contents}


def _parse_add(req: _Request) -> Instruction:
    if len(req.args) < 2:
        raise _Invalid(
            "ADD requires at least two arguments, but only one was provided. "
            "Destination could not be determined"
        )
    f = req.flags
    f.add_string("chown")
    f.add_string("chmod")
    f.add_bool("link")
    f.add_bool("keep-git-dir")
    f.add_string("checksum")
    f.add_bool("unpack")
    f.add_strings("exclude")
    f.parse()
    return Add(
        chown=f.values["chown"],
        chmod=f.values["chmod"],
        link=f.true("link"),
        keep_git_dir=f.optional_bool("keep-git-dir"),
        checksum=f.values["checksum"],
        unpack=f.optional_bool("unpack"),
        excludes=list(f.lists["exclude"]),
        **_sources_and_dest(req, "ADD"),  # type: ignore[arg-type]
        **req.base(),  # type: ignore[arg-type]
    )


def _parse_copy(req: _Request) -> Instruction:
    if len(req.args) < 2:
        raise _Invalid(
            "COPY requires at least two arguments, but only one was provided. "
            "Destination could not be determined"
        )
    f = req.flags
    f.add_string("chown")
    f.add_string("from")
    f.add_string("chmod")
    f.add_bool("link")
    f.add_strings("exclude")
    f.add_bool("parents")
    f.parse()
    return Copy(
        from_=f.values["from"],
        chown=f.values["chown"],
        chmod=f.values["chmod"],
        link=f.true("link"),
        parents=f.true("parents"),
        excludes=list(f.lists["exclude"]),
        **_sources_and_dest(req, "COPY"),  # type: ignore[arg-type]
        **req.base(),  # type: ignore[arg-type]
    )


def _parse_from(req: _Request) -> Instruction:
    args = req.args
    stage_name = ""
    if len(args) == 3 and args[1].lower() == "as":
        stage_name = args[2].lower()
        if not _STAGE_NAME.match(stage_name):
            raise _Invalid(
                f"invalid name for build stage: {go_quote(args[2])}, "
                "name can't start with a number or contain symbols"
            )
    elif len(args) != 1:
        raise _Invalid("FROM requires either one or three arguments")
    req.flags.add_string("platform")
    req.flags.parse()
    return From(
        base_name=args[0],
        stage_name=stage_name,
        platform=req.flags.values["platform"],
        **req.base(),  # type: ignore[arg-type]
    )


_ONBUILD_PREFIX = re.compile(r"(?i)^\s*ONBUILD\s*")


def _parse_onbuild(req: _Request) -> Instruction:
    if not req.args:
        raise _Invalid("ONBUILD requires at least one argument")
    req.flags.parse()
    trigger = req.args[0].strip().upper()
    if trigger == "ONBUILD":
        raise _Invalid("Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed")
    if trigger in ("MAINTAINER", "FROM"):
        raise _Invalid(f"{trigger} isn't allowed as an ONBUILD trigger")
    expression = _ONBUILD_PREFIX.sub("", req.node.original, count=1)
    for h in req.node.heredocs:
        expression += "\n" + h.content + h.name
    return Onbuild(expression=expression, **req.base())  # type: ignore[arg-type]


def _parse_workdir(req: _Request) -> Instruction:
    if len(req.args) != 1:
        raise _Invalid("WORKDIR requires exactly one argument")
    req.flags.parse()
    return Workdir(path=req.args[0], **req.base())  # type: ignore[arg-type]


def _command_line(req: _Request, empty_as_none: bool = False) -> dict[str, object]:
    files = [InlineFile(h.name, h.content, h.chomp) for h in req.node.heredocs]
    args = list(req.args) if req.is_json else ([" ".join(req.args)] if req.args else [])
    return {"cmd_line": args, "files": files, "prepend_shell": not req.is_json}


def _parse_run(req: _Request) -> Instruction:
    f = req.flags
    f.add_strings("mount")
    f.add_string("network", "default")
    f.add_string("security", "sandbox")
    f.parse()
    specs = list(f.lists["mount"])
    mounts = [parse_mount(s, None) for s in specs if "$" not in s]
    for s in specs:
        if "$" in s:  # check what can be checked before expansion
            _precheck_from(s)
    if len(mounts) != len(specs):
        mounts = []
    network = f.values["network"]
    if network not in NETWORK_MODES:
        raise _Invalid(f"invalid network mode {go_quote(network)}")
    security = f.values["security"]
    if security not in SECURITY_MODES:
        raise _Invalid(f"security {go_quote(security)} is not valid")
    return Run(
        mount_specs=specs,
        mounts=mounts,
        network=network,
        security=security,
        **_command_line(req),  # type: ignore[arg-type]
        **req.base(),  # type: ignore[arg-type]
    )


def _precheck_from(spec: str) -> None:
    try:
        fields = next(csv.reader([spec]), [])
    except csv.Error:
        return
    for fld in fields:
        key, _, value = fld.partition("=")
        if key.lower() == "from" and "$" in value[:-1]:
            raise _Invalid("'from' doesn't support variable expansion, define alias stage instead")


def _parse_cmd(req: _Request) -> Instruction:
    req.flags.parse()
    return Cmd(**_command_line(req), **req.base())  # type: ignore[arg-type]


def _parse_entrypoint(req: _Request) -> Instruction:
    req.flags.parse()
    return Entrypoint(**_command_line(req, True), **req.base())  # type: ignore[arg-type]


def _opt_interval(name: str, value: str) -> int:
    if not value:
        return 0
    from dockyard.golang.units import parse_go_duration_ns

    try:
        d = parse_go_duration_ns(value)
    except DockyardError as err:
        raise _Invalid(str(err)) from None
    if d == 0:
        return 0
    if d < 1_000_000:
        raise _Invalid(f"Interval {go_quote(name)} cannot be less than 1ms")
    return d


def _parse_healthcheck(req: _Request) -> Instruction:
    if not req.args:
        raise _Invalid("HEALTHCHECK requires at least one argument")
    typ = req.args[0].upper()
    args = req.args[1:]
    if typ == "NONE":
        if args:
            raise _Invalid("HEALTHCHECK NONE takes no arguments")
        return Healthcheck(health=Health(test=["NONE"]), **req.base())  # type: ignore[arg-type]
    f = req.flags
    for name in ("interval", "timeout", "start-period", "start-interval", "retries"):
        f.add_string(name)
    f.parse()
    if typ != "CMD":
        raise _Invalid(f"Unknown type {go_quote(typ)} in HEALTHCHECK (try CMD)")
    cmd = list(args) if req.is_json else ([" ".join(args)] if args else [])
    if not cmd:
        raise _Invalid("Missing command after HEALTHCHECK CMD")
    test = ["CMD" if req.is_json else "CMD-SHELL", *cmd]
    interval = _opt_interval("interval", f.values["interval"])
    timeout = _opt_interval("timeout", f.values["timeout"])
    start_period = _opt_interval("start-period", f.values["start-period"])
    start_interval = _opt_interval("start-interval", f.values["start-interval"])
    retries = 0
    if f.values["retries"]:
        raw = f.values["retries"]
        try:
            if not re.fullmatch(r"[+-]?[0-9]+", raw):
                raise ValueError
            retries = int(raw)
            if not -(1 << 31) <= retries < 1 << 31:
                raise _Invalid(f"strconv.ParseInt: parsing {go_quote(raw)}: value out of range")
        except ValueError:
            raise _Invalid(f"strconv.ParseInt: parsing {go_quote(raw)}: invalid syntax") from None
        if retries < 0:
            raise _Invalid(f"--retries cannot be negative ({retries})")
    health = Health(test, interval, timeout, start_period, start_interval, retries)
    return Healthcheck(health=health, **req.base())  # type: ignore[arg-type]


def _parse_expose(req: _Request) -> Instruction:
    if not req.args:
        raise _Invalid("EXPOSE requires at least one argument")
    req.flags.parse()
    return Expose(ports=sorted(req.args), **req.base())  # type: ignore[arg-type]


def _parse_user(req: _Request) -> Instruction:
    if len(req.args) != 1:
        raise _Invalid("USER requires exactly one argument")
    req.flags.parse()
    return User(user=req.args[0], **req.base())  # type: ignore[arg-type]


def _parse_volume(req: _Request) -> Instruction:
    if not req.args:
        raise _Invalid("VOLUME requires at least one argument")
    req.flags.parse()
    volumes = []
    for v in req.args:
        v = v.strip()
        if not v:
            raise _Invalid("VOLUME specified can not be an empty string")
        volumes.append(v)
    return Volume(volumes=volumes, **req.base())  # type: ignore[arg-type]


def _parse_stopsignal(req: _Request) -> Instruction:
    if len(req.args) != 1:
        raise _Invalid("STOPSIGNAL requires exactly one argument")
    return StopSignal(signal=req.args[0], **req.base())  # type: ignore[arg-type]


def _doc_comment(comments: list[str], name: str) -> str:
    if not name:
        return ""
    for line in comments:
        if line.startswith(name + " "):
            return line[len(name) + 1 :]
    return ""


def _parse_arg(req: _Request) -> Instruction:
    if not req.args:
        raise _Invalid("ARG requires at least one argument")
    out = []
    for arg in req.args:
        if "=" in arg:
            key, value = arg.split("=", 1)
            if not key:
                raise _Invalid("ARG names can not be blank")
            out.append(ArgDef(key, value, _doc_comment(req.node.prev_comment, key)))
        else:
            out.append(ArgDef(arg, None, _doc_comment(req.node.prev_comment, arg)))
    return Arg(args=out, **req.base())  # type: ignore[arg-type]


def _parse_shell(req: _Request) -> Instruction:
    req.flags.parse()
    args = list(req.args) if req.is_json else ([" ".join(req.args)] if req.args else [])
    if not args:
        raise _Invalid("SHELL requires at least one argument")
    if not req.is_json:
        raise _Invalid("SHELL requires the arguments to be in JSON form")
    return Shell(shell=args, **req.base())  # type: ignore[arg-type]


_PARSERS = {
    "env": _parse_env,
    "maintainer": _parse_maintainer,
    "label": _parse_label,
    "add": _parse_add,
    "copy": _parse_copy,
    "from": _parse_from,
    "onbuild": _parse_onbuild,
    "workdir": _parse_workdir,
    "run": _parse_run,
    "cmd": _parse_cmd,
    "healthcheck": _parse_healthcheck,
    "entrypoint": _parse_entrypoint,
    "expose": _parse_expose,
    "user": _parse_user,
    "volume": _parse_volume,
    "stopsignal": _parse_stopsignal,
    "arg": _parse_arg,
    "shell": _parse_shell,
}
