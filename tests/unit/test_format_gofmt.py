"""Unit tests for dockyard.golang.fmt: Go's fmt verbs, %v printing and JSON.

Expected strings are Go's outputs (fmt / encoding/json / strconv), most of them
confirmed through the real docker CLI's templates (``{{printf ...}}``, ``{{json ...}}``).
"""

from __future__ import annotations

import math
from typing import Any

import pytest

from dockyard.golang.fmt import (
    GoStruct,
    NilMap,
    NilSlice,
    format_float,
    go_parse_float,
    go_quote,
    go_type_name,
    json_marshal,
    sprint,
    sprint_value,
    sprintf,
    sprintln,
)


@pytest.mark.parametrize(
    ("fmt", "args", "expected"),
    [
        ("%d|%s|%v|%q", [42, "a", 1.5, 'q"'], '42|a|1.5|"q\\""'),
        ("%5s|%-5s|%05d|%x|%X", ["ab", "ab", 42, 255, "hi"], "   ab|ab   |00042|ff|6869"),
        ("%.2f|%t|%c|%U|%e", [3.14159, True, 65, 65, 1234.5678], "3.14|true|A|U+0041|1.234568e+03"),
        ("%g|%o|%b", [0.000012345, 8, 5], "1.2345e-05|10|101"),
        ("%6.2f|%-8.3s|%+d|% d", [3.14159, "abcdef", 5, 5], "  3.14|abc     |+5| 5"),
        ("%#x|%#o|%08.3f|%x", [255, 8, 3.14159, -255], "0xff|010|0003.142|-ff"),
        ("%05s|%-05d|%+.2e|% .3f|%+v", ["ab", 7, 12345.678, 2.5, 3],
         "000ab|7    |+1.23e+04| 2.500|3"),
        ("%.0f %.0f %.0f %.1f", [0.5, 1.5, 2.5, 0.25], "0 2 2 0.2"),
        ("%e %E %.3e %.0e", [0.0, 1e-10, -123.456, 5.5],
         "0.000000e+00 1.000000E-10 -1.235e+02 6e+00"),
        ("%g %g %g %g %g %g", [0.0001, 0.00001, 1e5, 1e6, 123456.0, 1234567.0],
         "0.0001 1e-05 100000 1e+06 123456 1.234567e+06"),
        ("%.2g %.10g %g", [123.0, 0.1, 100.0], "1.2e+02 0.1 100"),
        ("%d %x %o %b %X", [-42, -42, -42, -42, 3054], "-42 -2a -52 -101010 BEE"),
        ("%#b %#o %#X %#x", [5, 8, 255, 0], "0b101 010 0XFF 0x0"),
        ("%.3d|%8.3d|%-8.3d|%08d|%+08d", [7, 7, 7, -42, 42],
         "007|     007|007     |-0000042|+0000042"),
        ("%6.2s|%.1q", ["abcdef", "abc"], '    ab|"a"'),
        ("%x", [3.5], "0x1.cp+01"),
        ("%c|%q|%U|%#U", [0x1F600, 65, 0x1F600, 65], "😀|'A'|U+1F600|U+0041 'A'"),
        ("%x|% x|%#x", ["hi", "hi", "hi"], "6869|68 69|0x6869"),
        ("%q", [["a", "b"]], '["a" "b"]'),
        ("%v|%d", [[1, 2], [1, 2]], "[1 2]|[1 2]"),
        ("%*d|%-*d|%.*f", [5, 42, 4, 7, 2, 3.14159], "   42|7   |3.14"),
        ("%[2]s %[1]s", ["a", "b"], "b a"),
        ("%[3]d %d", [1, 2], "%!d(BADINDEX) 1"),
        ("%[0]d", [1], "%!d(BADINDEX)"),
        ("%d", ["x"], "%!d(string=x)"),
        ("%s", [3], "%!s(int=3)"),
        ("%d", [True], "%!d(bool=true)"),
        ("%s", [None], "%!s(<nil>)"),
        ("%d %d", [1], "1 %!d(MISSING)"),
        ("%d", [1, 2], "1%!(EXTRA int=2)"),
        ("%d", [1, "a", None], "1%!(EXTRA string=a, <nil>)"),
        ("%z", [1], "%!z(int=1)"),
        ("%!", [1], "%!!(int=1)"),
        ("100%%", [], "100%"),
        ("%-5%|", [], "%|"),
        ("%", [], "%!(NOVERB)"),
        ("%#v|%#v", [1, "a"], '1|"a"'),
        ("%T %T %T %T %T", [1, 1.5, "a", True, None], "int float64 string bool <nil>"),
        ("%T", [{"a": "b"}], "map[string]string"),
        ("%v", [{"b": 1, "a": [1.5]}], "map[a:[1.5] b:1]"),
        ("%5t|%-6v|%3c|", [True, False, 65], " true|false |  A|"),
        ("%v %v", [1e6, 123456789.0], "1e+06 1.23456789e+08"),
    ],
)
def test_sprintf(fmt: str, args: list[Any], expected: str) -> None:
    assert sprintf(fmt, args) == expected


def test_sprintf_struct_verbs() -> None:
    s = GoStruct({"Name": "Engine", "Version": "1.0", "Details": {"Os": "linux"}})
    assert sprintf("%v", [s]) == "{Engine 1.0 map[Os:linux]}"
    assert sprintf("%+v", [s]) == "{Name:Engine Version:1.0 Details:map[Os:linux]}"


def test_sprint_spacing_rules() -> None:
    assert sprint([1, 2, "a", "b", 3, None, True]) == "1 2ab3 <nil> true"
    assert sprint([]) == ""
    assert sprint(["a", 1]) == "a1"
    assert sprintln([1, "a", 2]) == "1 a 2\n"
    assert sprintln([]) == "\n"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, "<nil>"),
        (0, "0"),
        (-0.0, "-0"),
        (2.5e10, "2.5e+10"),
        (1e100, "1e+100"),
        (float("inf"), "+Inf"),
        (float("-inf"), "-Inf"),
        (float("nan"), "NaN"),
        (b"hi", "[104 105]"),
        ((1, "a"), "[1 a]"),
        (NilSlice(), "[]"),
        (NilMap(), "map[]"),
        ({1: "x", 0: "y"}, "map[0:y 1:x]"),
        (GoStruct({"A": 1, "B": None}), "{1 <nil>}"),
    ],
)
def test_sprint_value(value: Any, expected: str) -> None:
    assert sprint_value(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (1e6, "1000000"),
        (1.5, "1.5"),
        (1e21, "1e+21"),
        (1e20, "100000000000000000000"),
        (0.000001, "0.000001"),
        (0.0000001, "1e-7"),
        (123456789.0, "123456789"),
        (1e100, "1e+100"),
        (-0.0, "-0"),
        (5e-324, "5e-324"),
        (0.1, "0.1"),
        (100.0, "100"),
        (12345678901234567890.0, "12345678901234567000"),
        (3, "3"),
        (None, "null"),
        (True, "true"),
        ("a\u2028b\bc\x01\x7f\t\n<>&é", '"a\\u2028b\\bc\\u0001\x7f\\t\\n<>&é"'),
        (["a", "b", "", "c"], '["a","b","","c"]'),
        ({"ApiVersion": "1.41", "Os": "linux"}, '{"ApiVersion":"1.41","Os":"linux"}'),
        (NilSlice(), "null"),
        (NilMap(), "null"),
        ([], "[]"),
        ({}, "{}"),
        (GoStruct({"Driver": "default", "Options": None, "Config": []}),
         '{"Driver":"default","Options":null,"Config":[]}'),
    ],
)
def test_json_marshal_matches_go_encoder(value: Any, expected: str) -> None:
    assert json_marshal(value) == expected


def test_json_marshal_html_escaping_option() -> None:
    assert json_marshal("<a>&") == '"<a>&"'
    assert json_marshal("<a>&", escape_html=True) == '"\\u003ca\\u003e\\u0026"'


def test_json_marshal_rejects_nan() -> None:
    with pytest.raises(ValueError, match="json: unsupported value: NaN"):
        json_marshal(math.nan)
    with pytest.raises(ValueError, match=r"json: unsupported value: \+Inf"):
        json_marshal([math.inf])


@pytest.mark.parametrize(
    ("f", "verb", "prec", "expected"),
    [
        (1e6, "g", -1, "1e+06"),
        (123456.0, "g", -1, "123456"),
        (0.0001, "g", -1, "0.0001"),
        (0.00001, "g", -1, "1e-05"),
        (1.0, "e", -1, "1e+00"),
        (1234.5678, "e", -1, "1.2345678e+03"),
        (0.000123, "f", -1, "0.000123"),
        (1e21, "f", -1, "1000000000000000000000"),
        (999.5, "g", 3, "1e+03"),
        (1.98, "g", 3, "1.98"),
        (0.0, "g", -1, "0"),
        (-2.5, "G", -1, "-2.5"),
        (1e-7, "E", -1, "1E-07"),
    ],
)
def test_format_float(f: float, verb: str, prec: int, expected: str) -> None:
    assert format_float(f, verb, prec) == expected


@pytest.mark.parametrize(
    ("s", "expected"),
    [
        ("abc", '"abc"'),
        ('q"\\', '"q\\"\\\\"'),
        ("é\u00a0\x01\t", '"é\\u00a0\\x01\\t"'),
        ("\x7f\U0001F600", '"\\x7f😀"'),
        ("\udcff", '"\\xff"'),
    ],
)
def test_go_quote(s: str, expected: str) -> None:
    assert go_quote(s) == expected


def test_go_quote_ascii() -> None:
    assert go_quote("é", ascii_only=True) == '"\\u00e9"'
    assert go_quote("\U0001F600", ascii_only=True) == '"\\U0001f600"'


@pytest.mark.parametrize(
    ("s", "expected"),
    [
        ("1", 1.0),
        ("-1.5", -1.5),
        (".5", 0.5),
        ("5.", 5.0),
        ("1e3", 1000.0),
        ("1_000.5", 1000.5),
        ("0x1p4", 16.0),
        ("+Inf", math.inf),
        ("infinity", math.inf),
    ],
)
def test_go_parse_float(s: str, expected: float) -> None:
    assert go_parse_float(s) == expected


@pytest.mark.parametrize(
    "s", ["", " 1", "1 ", "1.2.3", "1e", "e5", "_1", "1__0", "0x1", "abc", "-nan"]
)
def test_go_parse_float_invalid(s: str) -> None:
    with pytest.raises(ValueError, match="invalid syntax"):
        go_parse_float(s)


def test_go_parse_float_range() -> None:
    with pytest.raises(ValueError, match="value out of range"):
        go_parse_float("1e400")
    assert go_parse_float("1e-400") == 0.0


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("s", "string"),
        (1, "int"),
        (1.0, "float64"),
        (True, "bool"),
        (None, "<nil>"),
        (["a"], "[]string"),
        ([1], "[]interface {}"),
        ({"a": "b"}, "map[string]string"),
        ({"a": 1}, "map[string]interface {}"),
        (GoStruct(go_type="types.Port"), "types.Port"),
        ([GoStruct(go_type="types.Port")], "[]types.Port"),
    ],
)
def test_go_type_name(value: Any, expected: str) -> None:
    assert go_type_name(value) == expected
