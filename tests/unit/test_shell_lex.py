"""Docker's word expansion (BuildKit's shell.Lex): ProcessWord and ProcessWords."""

from __future__ import annotations

import pytest

from dockyard.build.dockerfile.shell_lex import ExpansionError, Lex, expand_word

ERROR = object()
ENV = {"PWD": "/home", "SHELL": "bash", "KOREAN": "한국어", "NULL": ""}

# (input, expected result or ERROR) — ProcessWord with ENV, escape token "\".
WORD_CASES: list[tuple[str, object]] = [
    ("hello", "hello"),
    ("he'll'o", "hello"),
    ("he'llo", ERROR),
    ("he\\'llo", "he'llo"),
    ("he\\\\'llo", ERROR),
    ("abc\\tdef", "abctdef"),
    ('"abc\\tdef"', "abc\\tdef"),
    ('"abc\\\\tdef"', "abc\\tdef"),
    ("'abc\\tdef'", "abc\\tdef"),
    ("hello\\", "hello"),
    ("hello\\\\", "hello\\"),
    ('"hello', ERROR),
    ('"hello\\"', ERROR),
    ('"hel\'lo"', "hel'lo"),
    ("'hello", ERROR),
    ("'hello\\'", "hello\\"),
    ("'hello\\there'", "hello\\there"),
    ("'hello\\\\there'", "hello\\\\there"),
    ("\"''\"", "''"),
    ("$.", "$."),
    ("he$1x", "hex"),
    ("he$.x", "he$.x"),
    ("he$pwd.", "he."),
    ("he$PWD", "he/home"),
    ("he\\$PWD", "he$PWD"),
    ("he\\\\$PWD", "he\\/home"),
    ('"he\\$PWD"', "he$PWD"),
    ('"he\\\\$PWD"', "he\\/home"),
    ("\\${}", "${}"),
    ("\\${}aaa", "${}aaa"),
    ("he\\${}xx", "he${}xx"),
    ("${}", ERROR),
    ("he${}xx", ERROR),
    ("he${hi}xx", "hexx"),
    ("he${PWD}", "he/home"),
    ("he${.}", ERROR),
    ("he${XXX:-000}xx", "he000xx"),
    ("he${PWD:-000}xx", "he/homexx"),
    ("he${XXX:-$PWD}xx", "he/homexx"),
    ("he${XXX:-${PWD:-yyy}}xx", "he/homexx"),
    ("he${XXX:-${YYY:-yyy}}xx", "heyyyxx"),
    ("he${XXX:YYY}", ERROR),
    ("he${XXX?}", ERROR),
    ("he${XXX:?}", ERROR),
    ("he${PWD?}", "he/home"),
    ("he${PWD:?}", "he/home"),
    ("he${NULL?}", "he"),
    ("he${NULL:?}", ERROR),
    ("he${NULL-x}", "he"),
    ("he${NULL:-x}", "hex"),
    ("he${NULL+x}", "hex"),
    ("he${NULL:+x}", "he"),
    ("he${XXX-x}", "hex"),
    ("he${XXX+x}", "he"),
    ("he${XXX:+${PWD}}xx", "hexx"),
    ("he${PWD:+${XXX}}xx", "hexx"),
    ("he${PWD:+${SHELL}}xx", "hebashxx"),
    ("he${XXX:+000}xx", "hexx"),
    ("he${PWD:+000}xx", "he000xx"),
    ("'he${XX}'", "he${XX}"),
    ('"he${PWD}"', "he/home"),
    ("\"he'$PWD'\"", "he'/home'"),
    ('"$PWD"', "/home"),
    ("'$PWD'", "$PWD"),
    ("'\\$PWD'", "\\$PWD"),
    ("'\"hello\"'", '"hello"'),
    ("he${PWD", ERROR),
    ("he${PWD:=000}xx", ERROR),
    ("he${PWD:+${PWD}:}xx", "he/home:xx"),
    ("he${XXX:-\\$PWD:}xx", "he$PWD:xx"),
    ("he${XXX:-\\${PWD}z}xx", "he${PWDz}xx"),
    ("안녕하세요", "안녕하세요"),
    ("안'녕'하세요", "안녕하세요"),
    ("안녕\\'하세요", "안녕'하세요"),
    ("$KOREAN", "한국어"),
    ("안녕$KOREAN", "안녕한국어"),
    ("${{aaa}", ERROR),
    ("${aaa}}", "}"),
    ("${aaa", ERROR),
    ("${aaa:-bbb}}", "bbb}"),
    ("${aaa:-bbb", ERROR),
    ("${aaa:-${bbb:-ccc}}", "ccc"),
    ("${aaa:-bbb ${foo}", ERROR),
    ("${aaa:-bbb {foo}", "bbb {foo"),
    ("${:}", ERROR),
    ("${:-bbb}", ERROR),
    # positional and special parameters are never set
    ("$1", ""),
    ("${9:-bbb}", "bbb"),
    ("$999aaa", "aaa"),
    ("${001:+bbb}aaa", "aaa"),
    ("$@@@", "@@"),
    ("${@:-bbb}aaa", "bbbaaa"),
    ("$*", ""),
    ("${#:-bbb}", "bbb"),
    ("${?}", ""),
    ("${-:+bbb}", ""),
    ("$$", ""),
    ("${!:-bbb}", "bbb"),
    ("$0", ""),
]


@pytest.mark.parametrize(("word", "expected"), WORD_CASES)
def test_process_word(word: str, expected: object) -> None:
    lex = Lex("\\")
    if expected is ERROR:
        with pytest.raises(ExpansionError):
            lex.process_word(word, ENV)
    else:
        assert lex.process_word(word, ENV) == expected


WORDS_ENV = {"hi": "hi", "space": "abc  def", "leading": "  ab c", "trailing": "ab c   "}

# ProcessWords: the expansion split into words ("error" for an error).
WORDS_CASES: list[tuple[str, list[str]]] = [
    ("hello", ["hello"]),
    ("hello${hi}bye", ["hellohibye"]),
    ("hello${space}bye", ["helloabc", "defbye"]),
    ('hello"${space}"bye', ["helloabc  defbye"]),
    ('hello "${space}"bye', ["hello", "abc  defbye"]),
    ("hello${leading}def", ["hello", "ab", "cdef"]),
    ('hello"${leading}" def', ["hello  ab c", "def"]),
    ('hello"${leading}"', ["hello  ab c"]),
    ("hello${leading}", ["hello", "ab", "c"]),
    ("hello${trailing}", ["helloab", "c"]),
    ("hello${trailing}d", ["helloab", "c", "d"]),
    ('hello"${trailing}"d', ["helloab c   d"]),
    ('hel"lo${trailing}"', ["helloab c   "]),
    ('hello" there  "', ["hello there  "]),
    ("hello there     ", ["hello", "there"]),
    ("hello\\ there", ["hello there"]),
    ('hello" there', ["error"]),
    ('hello\\" there', ['hello"', "there"]),
    ('hello"\\\\there"', ["hello\\there"]),
    ('hello"\\there"', ["hello\\there"]),
    ("hello'\\\\there'", ["hello\\\\there"]),
    ("hello'\\there'", ["hello\\there"]),
    ("hello'$there'", ["hello$there"]),
]


@pytest.mark.parametrize(("word", "expected"), WORDS_CASES)
def test_process_words(word: str, expected: list[str]) -> None:
    try:
        got = Lex("\\").process_words(word, WORDS_ENV)
    except ExpansionError:
        got = ["error"]
    assert got == expected


# Pattern modifiers: ${v#p} ${v##p} ${v%p} ${v%%p} ${v/p/r} ${v//p/r}
PATTERN_ENV = {"path": "/usr/local/bin/tool.tar.gz", "s": "aXbXc", "star": "a*b"}
PATTERN_CASES: list[tuple[str, object]] = [
    ("${path#*/}", "usr/local/bin/tool.tar.gz"),
    ("${path##*/}", "tool.tar.gz"),
    ("${path%.*}", "/usr/local/bin/tool.tar"),
    ("${path%%.*}", "/usr/local/bin/tool"),
    ("${path#nomatch}", "/usr/local/bin/tool.tar.gz"),
    ("${path%/*}", "/usr/local/bin"),
    ("${path##/usr}", "/local/bin/tool.tar.gz"),
    ("${s/X/-}", "a-bXc"),
    ("${s//X/-}", "a-b-c"),
    ("${s/?X/}", "bXc"),
    ("${s//[X]/}", "aXbXc"),  # no bracket expressions: literal "[X]"
    ("${star/\\*/+}", "a+b"),
    ("${star#a\\*}", "b"),
    ("${unset//a/b}", ""),
    ("${s:#X}", ERROR),
    ("${s:%X}", ERROR),
    ("${s/X}", ERROR),
    ("${s#\\x}", ERROR),
]


@pytest.mark.parametrize(("word", "expected"), PATTERN_CASES)
def test_pattern_modifiers(word: str, expected: object) -> None:
    if expected is ERROR:
        with pytest.raises(ExpansionError):
            expand_word(word, PATTERN_ENV)
    else:
        assert expand_word(word, PATTERN_ENV) == expected


def test_mandatory_variables_messages() -> None:
    lex = Lex("\\")
    assert lex.process_word("${VAR:?message here$ARG}", {"VAR": "plain", "ARG": "x"}) == "plain"
    with pytest.raises(ExpansionError, match="VAR: message herex"):
        lex.process_word("${VAR:?message here$ARG}", {"VAR": "", "ARG": "x"})
    with pytest.raises(ExpansionError, match="VAR: message herex"):
        lex.process_word("${VAR?message here$ARG}", {"ARG": "x"})
    assert lex.process_word("${VAR?message here$ARG}", {"VAR": "", "ARG": "x"}) == ""
    with pytest.raises(ExpansionError) as info:
        lex.process_word("${X?}", {})
    assert str(info.value) == 'failed to process "${X?}": X: is not allowed to be unset'


def test_backtick_escape_token() -> None:
    lex = Lex("`")
    assert lex.process_word("a`$b c\\d", {"b": "B"}) == "a$b c\\d"
    assert lex.process_word('"x`"y"', {}) == 'x"y'


def test_skip_unset_env_and_raw_quotes() -> None:
    lex = Lex("\\", raw_quotes=True, skip_unset_env=True)
    assert lex.process_word("'$A' \"$B\" ${C:-x} $D", {"D": "d"}) == "'$A' \"$B\" ${C:-x} d"


def test_matched_and_unmatched() -> None:
    r = Lex().process("$A ${B:-$C} '$D'", {"A": "1", "C": "3"})
    assert r.result == "1 3 $D"
    assert r.matched == {"A", "C"}
    assert r.unmatched == {"B"}


def test_heredoc_marker_kept_as_one_word() -> None:
    assert Lex().process_words("cat <<  EOF > f", {}) == ["cat", "<<  EOF", ">", "f"]
