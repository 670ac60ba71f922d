"""``.dockerignore``: reading it, Docker's pattern rules, and a filtered walk.

Reading (moby ``ignorefile.ReadAll``): a UTF-8 BOM is dropped, lines starting
with ``#`` are comments, each pattern is trimmed, ``filepath.Clean``-ed, loses a
leading ``/``; ``!`` marks an exception. ``<Dockerfile>.dockerignore`` next to
the Dockerfile wins over the context's ``.dockerignore`` (BuildKit's rule).

Matching (moby ``patternmatcher``): ``*`` and ``?`` never cross ``/``, ``**``
crosses any number of directories, ``[...]`` classes, ``\\`` escapes; a path is
excluded when it or one of its parent directories matches, and later patterns
win (``!`` re-includes). Walking (BuildKit's fsutil): an excluded directory is
not entered unless an exception could match something inside it; a directory
that holds an included file is listed even if excluded itself.
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import NamedTuple

from dockyard.errors import InvalidArgument

_REGEX_SPECIAL = frozenset(".+()|{}$")
_PATTERN_CHARS = "*[]?^\\"


def clean_path(p: str) -> str:
    """Go's ``path.Clean`` (slash-separated)."""
    if not p:
        return "."
    rooted = p.startswith("/")
    out: list[str] = []
    for part in p.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            if out and out[-1] != "..":
                out.pop()
            elif not rooted:
                out.append("..")
            continue
        out.append(part)
    s = "/".join(out)
    if rooted:
        return "/" + s
    return s or "."


def read_patterns(text: str | bytes) -> list[str]:
    """The patterns of an ignore file's text."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", "surrogateescape")
    if text.startswith("\ufeff"):
        text = text[1:]
    out: list[str] = []
    for line in text.split("\n"):
        if line.endswith("\r"):
            line = line[:-1]
        if line.startswith("#"):
            continue
        pattern = line.strip()
        if not pattern:
            continue
        invert = pattern.startswith("!")
        if invert:
            pattern = pattern[1:].strip()
        if pattern:
            pattern = clean_path(pattern)
            if len(pattern) > 1 and pattern.startswith("/"):
                pattern = pattern[1:]
        out.append("!" + pattern if invert else pattern)
    return out


def ignore_file_for(context_dir: str, dockerfile: str | None) -> str | None:
    """The ignore file that applies: ``<Dockerfile>.dockerignore`` beside the
    Dockerfile if present, else ``<context>/.dockerignore``, else None."""
    if dockerfile:
        specific = dockerfile + ".dockerignore"
        if os.path.isfile(specific):
            return specific
    generic = os.path.join(context_dir, ".dockerignore")
    return generic if os.path.isfile(generic) else None


def load_patterns(context_dir: str, dockerfile: str | None = None) -> list[str]:
    path = ignore_file_for(context_dir, dockerfile)
    if path is None:
        return []
    with open(path, "rb") as f:
        return read_patterns(f.read())


# ---------------------------------------------------------------------------
# Go's filepath.Match


def _class_end(pattern: str, i: int) -> tuple[str, int]:
    """Translate the class starting after ``[`` at ``i``; (regex, index after ``]``)."""
    out = ["["]
    if i < len(pattern) and pattern[i] == "^":
        out.append("^")
        i += 1
    count = 0
    while True:
        if i >= len(pattern):
            raise ValueError("syntax error in pattern")
        if pattern[i] == "]" and count > 0:
            return "".join(out) + "]", i + 1
        lo, i = _class_char(pattern, i)
        out.append(re.escape(lo))
        if i < len(pattern) and pattern[i] == "-":
            hi, i = _class_char(pattern, i + 1)
            if hi < lo:
                raise ValueError("syntax error in pattern")
            out.append("-" + re.escape(hi))
        count += 1


def _class_char(pattern: str, i: int) -> tuple[str, int]:
    if i >= len(pattern) or pattern[i] in "-]":
        raise ValueError("syntax error in pattern")
    if pattern[i] == "\\":
        i += 1
        if i >= len(pattern):
            raise ValueError("syntax error in pattern")
    return pattern[i], i + 1


def _go_match_regex(pattern: str) -> re.Pattern[str]:
    out: list[str] = []
    i = 0
    while i < len(pattern):
        c = pattern[i]
        if c == "*":
            out.append("[^/]*")
            i += 1
        elif c == "?":
            out.append("[^/]")
            i += 1
        elif c == "[":
            cls, i = _class_end(pattern, i + 1)
            out.append(cls)
        elif c == "\\":
            if i + 1 >= len(pattern):
                raise ValueError("syntax error in pattern")
            out.append(re.escape(pattern[i + 1]))
            i += 2
        else:
            out.append(re.escape(c))
            i += 1
    return re.compile("".join(out) + r"\Z", re.DOTALL)


_MATCH_CACHE: dict[str, re.Pattern[str]] = {}


def path_match(pattern: str, name: str) -> bool:
    """Go's ``filepath.Match``; ValueError("syntax error in pattern") for a bad pattern."""
    rx = _MATCH_CACHE.get(pattern)
    if rx is None:
        rx = _go_match_regex(pattern)
        if len(_MATCH_CACHE) < 4096:
            _MATCH_CACHE[pattern] = rx
    return rx.match(name) is not None


def has_wildcards(path: str) -> bool:
    """Whether a COPY source is a pattern (BuildKit's ``containsWildcards``)."""
    i = 0
    while i < len(path):
        c = path[i]
        if c == "\\":
            i += 2
            continue
        if c in "*?[":
            return True
        i += 1
    return False


# ---------------------------------------------------------------------------
# patternmatcher


@dataclass
class Pattern:
    text: str  # cleaned, without "!"
    exclusion: bool
    kind: str  # "exact", "prefix", "suffix", "regexp"
    regex: re.Pattern[str] | None

    def match(self, path: str) -> bool:
        if self.kind == "exact":
            return path == self.text
        if self.kind == "prefix":
            return path.startswith(self.text[:-2])
        if self.kind == "suffix":
            suffix = self.text[2:]
            if path.endswith(suffix):
                return True
            return suffix.startswith("/") and path == suffix[1:]
        assert self.regex is not None
        return self.regex.match(path) is not None

    def without_trailing_glob(self) -> str:
        s = self.text
        while s.endswith("/**"):
            s = s[:-3]
        if s.endswith("**"):
            s = s[:-2]
        return s


def _compile(pattern: str) -> tuple[str, re.Pattern[str] | None]:
    reg = ["^"]
    kind = "exact"
    i = 0
    n = len(pattern)
    first = True
    while i < n:
        ch = pattern[i]
        i += 1
        if ch == "*":
            if i < n and pattern[i] == "*":
                i += 1
                if i < n and pattern[i] == "/":
                    i += 1
                if i >= n:
                    if kind == "exact":
                        kind = "prefix"
                    else:
                        reg.append(".*")
                        kind = "regexp"
                else:
                    reg.append("(.*/)?")
                    kind = "regexp"
                if first:
                    kind = "suffix"
            else:
                reg.append("[^/]*")
                kind = "regexp"
        elif ch == "?":
            reg.append("[^/]")
            kind = "regexp"
        elif ch in _REGEX_SPECIAL:
            reg.append("\\" + ch)
        elif ch == "\\":
            if i < n:
                reg.append("\\" + pattern[i])
                i += 1
                kind = "regexp"
            else:
                reg.append("\\\\")
        elif ch in "[]":
            reg.append(ch)
            kind = "regexp"
        else:
            reg.append(ch)
        first = False
    if kind != "regexp":
        return kind, None
    try:
        return kind, re.compile("".join(reg) + r"\Z", re.DOTALL)
    except re.error as err:
        raise InvalidArgument(f"syntax error in pattern: {err}") from None


class _Entry(NamedTuple):
    path: str  # relative, slash-separated
    is_dir: bool


class Matcher:
    """Docker's ignore-pattern matcher for paths relative to the context root."""

    def __init__(self, patterns: Sequence[str]) -> None:
        self.patterns: list[Pattern] = []
        for raw in patterns:
            p = raw.strip()
            if not p:
                continue
            p = clean_path(p)
            exclusion = p.startswith("!")
            if exclusion:
                if len(p) == 1:
                    raise InvalidArgument('illegal exclusion pattern: "!"')
                p = p[1:]
            try:
                path_match(p, ".")
            except ValueError:
                raise InvalidArgument("syntax error in pattern") from None
            kind, regex = _compile(p)
            self.patterns.append(Pattern(p, exclusion, kind, regex))
        self.has_exclusions = any(p.exclusion for p in self.patterns)
        self._prefix_only_exceptions = not any(
            p.exclusion and any(c in p.without_trailing_glob() for c in _PATTERN_CHARS)
            for p in self.patterns
        )

    def __bool__(self) -> bool:
        return bool(self.patterns)

    def excluded(self, path: str, is_dir: bool = False) -> bool:
        """Whether ``path`` (relative to the root) is excluded (``MatchesOrParentMatches``)."""
        path = clean_path(path.lstrip("/")) if path else "."
        if path == ".":
            return False
        matched, _ = self._match(path, None)
        return matched

    def _match(self, path: str, parent: list[bool] | None) -> tuple[bool, list[bool]]:
        """``MatchesUsingParentResults``: the verdict and per-pattern matches to pass
        to children (``parent`` None: check every ancestor directory)."""
        matched = False
        info = [False] * len(self.patterns)
        ancestors: list[str] | None = None
        for i, pat in enumerate(self.patterns):
            m = parent[i] if parent else False
            if not m:
                if pat.exclusion != matched:
                    continue
                m = pat.match(path)
                if not m and parent is None and "/" in path:
                    if ancestors is None:
                        parts = path.split("/")[:-1]
                        ancestors = ["/".join(parts[: k + 1]) for k in range(len(parts))]
                    m = any(pat.match(a) for a in ancestors)
            info[i] = m
            if m:
                matched = not pat.exclusion
        return matched, info

    def _may_hold_exception(self, path: str) -> bool:
        if not self.has_exclusions:
            return False
        if not self._prefix_only_exceptions:
            return True
        dir_slash = path + "/"
        return any(
            p.exclusion and (p.without_trailing_glob() + "/").startswith(dir_slash)
            for p in self.patterns
        )

    def walk(self, root: str, start: str = "") -> Iterator[tuple[str, bool]]:
        """Included entries under ``root`` (or its subdirectory ``start``) as
        ``(relative path, is_dir)``, parents before children, sorted by name;
        symlinks are listed, never followed."""
        start = "" if start in ("", ".") else clean_path(start)
        parent: list[bool] | None = None
        pending: list[str] = []
        if start:
            matched, parent = self._match(start, None)
            if matched and not self._may_hold_exception(start):
                return
        yield from self._walk_dir(root, start, parent, pending)

    def _walk_dir(
        self, root: str, rel: str, parent: list[bool] | None, pending: list[str]
    ) -> Iterator[tuple[str, bool]]:
        """``pending``: excluded ancestor directories entered for their exceptions,
        listed (and cleared) once something below them is included."""
        full = os.path.join(root, rel) if rel else root
        with os.scandir(full) as it:
            entries = sorted(it, key=lambda e: e.name)
        for e in entries:
            path = f"{rel}/{e.name}" if rel else e.name
            is_dir = e.is_dir(follow_symlinks=False)
            if self.patterns:
                matched, info = self._match(path, parent if parent is not None else [])
            else:
                matched, info = False, []
            if matched:
                if is_dir and self._may_hold_exception(path):
                    pending.append(path)
                    yield from self._walk_dir(root, path, info, pending)
                    if pending and pending[-1] == path:
                        pending.pop()
                continue
            for p in pending:
                yield p, True
            pending.clear()
            yield path, is_dir
            if is_dir:
                yield from self._walk_dir(root, path, info, pending)


def included_files(root: str, patterns: Sequence[str]) -> Iterator[str]:
    """Relative paths of the non-directory entries a build context keeps."""
    for path, is_dir in Matcher(patterns).walk(root):
        if not is_dir:
            yield path


def file_kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "dir"
    if stat.S_ISLNK(mode):
        return "symlink"
    if stat.S_ISREG(mode):
        return "file"
    return "other"
