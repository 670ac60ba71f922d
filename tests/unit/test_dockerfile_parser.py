"""The Dockerfile parser against BuildKit's own corpus, plus the rules it encodes."""

from __future__ import annotations

from pathlib import Path

import pytest

from dockyard.build.dockerfile.errors import DockerfileParseError
from dockyard.build.dockerfile.parser import Heredoc, dump, parse

CORPUS = (
    Path(__file__).resolve().parents[3] / "shared" / "reference" / "dockerfile" / "parser-testfiles"
)
_MISSING = f"BuildKit parser corpus not found at {CORPUS} (../shared is absent)"


def _dirs(kind: str) -> list[str]:
    base = CORPUS / kind
    return sorted(p.name for p in base.iterdir() if p.is_dir()) if base.is_dir() else []


@pytest.mark.skipif(not CORPUS.is_dir(), reason=_MISSING)
@pytest.mark.parametrize("name", _dirs("testfiles") or ["<none>"])
def test_corpus_result_reproduced(name: str) -> None:
    case = CORPUS / "testfiles" / name
    expected = (case / "result").read_bytes().decode("utf-8")
    assert dump(parse((case / "Dockerfile").read_bytes())) == expected


@pytest.mark.skipif(not CORPUS.is_dir(), reason=_MISSING)
@pytest.mark.parametrize("name", _dirs("testfiles-negative") or ["<none>"])
def test_corpus_negative_rejected(name: str) -> None:
    with pytest.raises(DockerfileParseError):
        parse((CORPUS / "testfiles-negative" / name / "Dockerfile").read_bytes())


@pytest.mark.skipif(not CORPUS.is_dir(), reason=_MISSING)
def test_corpus_is_complete() -> None:
    assert len(_dirs("testfiles")) >= 30
    assert len(_dirs("testfiles-negative")) >= 4


def test_line_numbers_span_continuations_and_heredocs() -> None:
    text = "FROM a\n\nRUN one \\\n  two \\\n\n  three\n# c\nCOPY <<EOF /x\nhello\nEOF\nCMD x\n"
    ast = parse(text).ast
    assert [(c.value, c.start_line, c.end_line) for c in ast.children] == [
        ("FROM", 1, 1),
        ("RUN", 3, 6),
        ("COPY", 8, 10),
        ("CMD", 11, 11),
    ]
    assert ast.children[1].next is not None
    assert ast.children[1].next.value == "one   two   three"


def test_empty_continuation_line_warns() -> None:
    result = parse("FROM a\nRUN a \\\n\n b\n")
    assert len(result.warnings) == 1
    assert result.warnings[0].short == "Empty continuation line found in: RUN a  b"


def test_comment_inside_continuation_is_dropped() -> None:
    result = parse("FROM a\nRUN a \\\n  # not a comment end \\\n b\n")
    assert dump(result) == '(from "a")\n(run "a  b")\n'
    assert result.warnings == []


def test_comments_before_an_instruction_are_kept() -> None:
    ast = parse("# hello\n# world\nFROM a\n\n# lone\n\nRUN x\n#\nCMD y\n").ast
    assert ast.children[0].prev_comment == ["hello", "world"]
    assert ast.children[1].prev_comment == ["lone"]  # blank lines do not reset (BuildKit)
    assert ast.children[2].prev_comment == []  # an empty comment does


def test_directives_only_at_top() -> None:
    r = parse("# syntax=docker/dockerfile:1\n# check=skip=all\n#escape=`\nFROM a\nRUN a `\n b\n")
    assert r.directives == {"syntax": "docker/dockerfile:1", "check": "skip=all", "escape": "`"}
    assert r.escape_token == "`"
    assert dump(r) == '(from "a")\n(run "a  b")\n'
    late = parse("FROM a\n# escape=`\nRUN a `\n")
    assert late.directives == {} and late.escape_token == "\\"


def test_directive_errors() -> None:
    with pytest.raises(DockerfileParseError, match="only one escape parser directive can be used"):
        parse("# escape=`\n# escape=\\\nFROM a\n")
    with pytest.raises(DockerfileParseError, match="invalid escape token 'x' does not match ` or"):
        parse("# escape=x\nFROM a\n")


def test_unknown_directive_ends_the_block() -> None:
    r = parse("# foo=bar\n# escape=`\nFROM a\n")
    assert r.directives == {} and r.escape_token == "\\"


def test_bom_and_crlf() -> None:
    r = parse(b"\xef\xbb\xbfFROM a\r\nRUN x \\\r\n y\r\n")
    assert dump(r) == '(from "a")\n(run "x  y")\n'


def test_flags_and_json() -> None:
    r = parse('FROM --platform=$P a AS b\nCOPY --chown="a b" --from=x s d\nRUN ["a", "b c"]\n')
    assert dump(r) == (
        '(from ["--platform=$P"] "a" "AS" "b")\n'
        '(copy ["--chown=a b" "--from=x"] "s" "d")\n'
        '(run "a" "b c")\n'
    )
    assert r.ast.children[2].is_json


def test_json_array_of_non_strings_is_an_error() -> None:
    with pytest.raises(DockerfileParseError) as info:
        parse("FROM a\nCMD [1, 2]\n")
    assert str(info.value) == (
        "dockerfile parse error on line 2: "
        "when using JSON array syntax, arrays must be comprised of strings only"
    )
    assert info.value.line == 2 and info.value.instruction == "CMD"


def test_invalid_json_falls_back_to_shell_form() -> None:
    r = parse('CMD ["a", NaN]\nCMD ["a"] extra\n')
    assert dump(r) == '(cmd "[\\"a\\", NaN]")\n(cmd "[\\"a\\"] extra")\n'


def test_unknown_instruction_parses_as_empty() -> None:
    assert dump(parse("FOO bar baz\n")) == '(foo "")\n'


def test_env_forms_errors() -> None:
    with pytest.raises(DockerfileParseError, match=r"can't find = in \"b\""):
        parse("ENV a=1 b\n")
    with pytest.raises(DockerfileParseError, match="LABEL must have two arguments"):
        parse("LABEL a\n")


def test_no_instructions() -> None:
    with pytest.raises(DockerfileParseError, match=r"^file with no instructions$"):
        parse("\n\n# only\n")


def test_line_too_long() -> None:
    with pytest.raises(DockerfileParseError, match="max allowed size of 65535"):
        parse("FROM a\nRUN " + "x" * 70000 + "\n")


HEREDOC_FILE = """\
FROM alpine:3.6
USER <<INVALID
INVALID
RUN <<EMPTY
EMPTY
RUN 3<<EMPTY2
EMPTY2
RUN "<<NOHEREDOC"
RUN <<-UNINDENT
\tbaz
\tquux
\tUNINDENT
RUN <<-'NOEXPAND'
\tdon't expand $NAME
NOEXPAND
COPY <<FILE1 <<FILE2 /dest
content 1
FILE1
content 2
FILE2
COPY <<X <<Y /dest
Y
X
X
Y
RUN <<eo'f'
echo foo
eof
RUN <<eo\\'f
echo foo
eo'f
RUN <<'e'o\\'f
echo foo
eo'f
RUN <<'one two'
echo bar
one two
RUN <<$EOF
$EOF
RUN <<  EOF  > foo
EOF
RUN ["<<EOF"]
ONBUILD RUN <<EOF
on build
EOF
"""

HEREDOC_EXPECTED: list[list[Heredoc]] = [
    [],
    [],
    [],  # "INVALID" as an instruction
    [Heredoc("EMPTY", 0, True, False, "")],
    [Heredoc("EMPTY2", 3, True, False, "")],
    [],
    [Heredoc("UNINDENT", 0, True, True, "\tbaz\n\tquux\n")],
    [Heredoc("NOEXPAND", 0, False, True, "\tdon't expand $NAME\n")],
    [
        Heredoc("FILE1", 0, True, False, "content 1\n"),
        Heredoc("FILE2", 0, True, False, "content 2\n"),
    ],
    [Heredoc("X", 0, True, False, "Y\n"), Heredoc("Y", 0, True, False, "X\n")],
    [Heredoc("eof", 0, False, False, "echo foo\n")],
    [Heredoc("eo'f", 0, True, False, "echo foo\n")],
    [Heredoc("eo'f", 0, False, False, "echo foo\n")],
    [Heredoc("one two", 0, False, False, "echo bar\n")],
    [Heredoc("$EOF", 0, True, False, "")],
    [Heredoc("EOF", 0, True, False, "")],
    [],  # JSON form never has heredocs
    [Heredoc("EOF", 0, True, False, "on build\n")],
]


def test_heredocs() -> None:
    children = parse(HEREDOC_FILE).ast.children
    assert [c.heredocs for c in children] == HEREDOC_EXPECTED


def test_unterminated_heredoc() -> None:
    with pytest.raises(DockerfileParseError) as info:
        parse("FROM a\nRUN <<EOF\nno end\n")
    assert str(info.value) == "dockerfile parse error on line 2: unterminated heredoc"
    assert info.value.end_line == 3
