"""The typed error for a Dockerfile that cannot be parsed, in BuildKit's wording."""

from __future__ import annotations

from dockyard.errors import InvalidArgument


class DockerfileParseError(InvalidArgument):
    """``dockerfile parse error on line N: <detail>``.

    ``detail`` is BuildKit's message alone (``unknown instruction: FOO``),
    ``line``/``end_line`` the 1-based lines of the instruction (0 when the
    error is about the whole file), ``instruction`` its keyword as written.
    """

    def __init__(
        self,
        detail: str,
        *,
        line: int = 0,
        end_line: int = 0,
        instruction: str = "",
        filename: str = "Dockerfile",
    ) -> None:
        self.detail = detail
        self.line = line
        self.end_line = max(end_line, line)
        self.instruction = instruction
        self.filename = filename
        message = f"dockerfile parse error on line {line}: {detail}" if line > 0 else detail
        super().__init__(message)


def suggest(value: str, options: list[str], case_sensitive: bool) -> str:
    """BuildKit's ``suggest.Search``: the closest option within Levenshtein distance 2."""
    orig = value
    if not case_sensitive:
        value = value.lower()
    match = ""
    best = 3
    for opt in sorted(options):
        cmp = opt if case_sensitive else opt.lower()
        if cmp == value:
            return ""
        dist = _levenshtein(value, cmp)
        if dist < best:
            best = dist
            match = cmp if case_sensitive else _match_case(cmp, orig)
    return match


def with_suggestion(message: str, value: str, options: list[str], case_sensitive: bool) -> str:
    match = suggest(value, options, case_sensitive)
    return f"{message} (did you mean {match}?)" if match else message


def _match_case(val: str, orig: str) -> str:
    if orig == orig.lower():
        return val.lower()
    if orig == orig.upper():
        return val.upper()
    return val


def _levenshtein(a: str, b: str) -> int:
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return prev[-1]
