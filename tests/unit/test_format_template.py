"""Unit tests for dockyard.cli.format.template (Go text/template as docker uses it).

Expected strings follow Go's text/template and docker CLI v28 semantics; the behaviours
were checked against the real docker CLI (see test_format_docker_compat.py for the
recorded corpus).
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from typing import Any

import pytest

from dockyard.cli.format.template import (
    GoFunc,
    HeaderMap,
    Template,
    TemplateError,
    TemplateExecError,
    TemplateParseError,
    format_items,
    header_cells,
    is_table_format,
    marshal_context,
    parse,
    preprocess_format,
)
from dockyard.errors import InvalidArgument
from dockyard.golang.fmt import GoStruct, NilMap, NilSlice


def render(fmt: str, data: Any = None, **kw: Any) -> str:
    return Template(fmt, **kw).execute(data)


def exec_error(fmt: str, data: Any = None, **kw: Any) -> str:
    with pytest.raises(TemplateExecError) as ei:
        Template(fmt, **kw).execute(data)
    return str(ei.value)


def parse_error(fmt: str, **kw: Any) -> str:
    with pytest.raises(TemplateParseError) as ei:
        Template(fmt, **kw)
    return str(ei.value)


# ---------------------------------------------------------------------------
# fields, maps and structs


def test_literal_text_only() -> None:
    assert render("hello world") == "hello world"
    assert render("") == ""


def test_map_fields_and_nesting() -> None:
    data = {"A": "x", "B": {"C": {"D": 42}}}
    assert render("{{.A}}-{{.B.C.D}}", data) == "x-42"


def test_missing_map_key_prints_no_value() -> None:
    assert render("{{.Nope}}", {}) == "<no value>"
    assert render("{{.A.Nope}}", {"A": {}}) == "<no value>"
    # a chain through a missing key stays <no value>
    assert render("{{.Nope.Deeper}}", {}) == "<no value>"


def test_missingkey_error_option() -> None:
    msg = exec_error("{{.Foo}}", {}, missingkey="error")
    assert msg == (
        'template parsing error: template: :1:2: executing "" at <.Foo>: '
        'map has no entry for key "Foo"'
    )
    msg = exec_error("{{.IPAM.Foo}}", {"IPAM": {}}, missingkey="error")
    assert msg.endswith('at <.IPAM.Foo>: map has no entry for key "Foo"')
    assert ":1:7:" in msg


def test_missingkey_zero_option() -> None:
    assert render("{{.Nope}}|", {"A": "x"}, missingkey="zero") == "|"
    assert render("{{.Nope}}|", {"A": 1}, missingkey="zero") == "<no value>|"


def test_bad_missingkey_option() -> None:
    with pytest.raises(InvalidArgument):
        Template("x", missingkey="bogus")


def test_gostruct_missing_field_is_an_error() -> None:
    s = GoStruct({"Name": "n"}, go_type="*formatter.ContainerContext")
    assert render("{{.Name}}", s) == "n"
    assert exec_error("{{.Foo}}", s) == (
        'template parsing error: template: :1:2: executing "" at <.Foo>: '
        "can't evaluate field Foo in type *formatter.ContainerContext"
    )


def test_object_attributes_properties_and_methods() -> None:
    class Ctx:
        __go_type__ = "*formatter.ContainerContext"

        def __init__(self) -> None:
            self.ID = "abc"
            self._hidden = "secret"

        @property
        def Image(self) -> str:
            return "busybox"

        def Names(self) -> str:
            return "web"

        def Label(self, name: str) -> str:
            return {"com.example": "yes"}.get(name, "")

    c = Ctx()
    assert render("{{.ID}} {{.Image}} {{.Names}}", c) == "abc busybox web"
    assert render('{{.Label "com.example"}}|{{.Label "x"}}|', c) == "yes||"
    assert render('{{"com.example" | .Label}}', c) == "yes"
    assert "can't evaluate field _hidden" in exec_error("{{._hidden}}", c)
    assert exec_error("{{.Nope}}", c).endswith(
        "can't evaluate field Nope in type *formatter.ContainerContext"
    )
    assert exec_error("{{.Label}}", c).endswith("wrong number of args for Label: want 1 got 0")
    assert exec_error("{{.ID 1}}", c).endswith(
        "ID has arguments but cannot be invoked as function"
    )


def test_method_raising_reports_error_calling() -> None:
    class Ctx:
        def Boom(self) -> str:
            raise ValueError("kaput")

    assert exec_error("{{.Boom}}", Ctx()) == (
        'template parsing error: template: :1:2: executing "" at <.Boom>: '
        "error calling Boom: kaput"
    )


def test_dataclass_prints_as_struct() -> None:
    @dataclass
    class Port:
        IP: str
        PrivatePort: int
        Type: str = "tcp"

    p = Port("0.0.0.0", 80)
    assert render("{{.}}", p) == "{0.0.0.0 80 tcp}"
    assert render('{{printf "%+v" .}}', p) == "{IP:0.0.0.0 PrivatePort:80 Type:tcp}"
    assert render("{{json .}}", p) == '{"IP":"0.0.0.0","PrivatePort":80,"Type":"tcp"}'
    assert render("{{.PrivatePort}}", p) == "80"


def test_dict_methods_are_not_template_methods() -> None:
    # a Go map has no methods: .keys is a (missing) map key
    assert render("{{.keys}}", {"a": 1}) == "<no value>"
    assert render("{{.items}}", {"items": 3}) == "3"


def test_dot_and_dollar() -> None:
    data = {"A": {"B": "inner"}, "T": "top"}
    assert render("{{with .A}}{{.B}} {{$.T}}{{end}}", data) == "inner top"
    assert render("{{$}}", "x") == "x"


def test_nil_pointer_field_access() -> None:
    msg = exec_error("{{.A.B}}", {"A": None})
    assert msg.endswith("at <.A.B>: nil pointer evaluating interface {}.B")


# ---------------------------------------------------------------------------
# printing values


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, "<nil>"),
        (True, "true"),
        (False, "false"),
        (42, "42"),
        (-7, "-7"),
        (1.5, "1.5"),
        (1e6, "1e+06"),
        (100000.0, "100000"),
        (1e21, "1e+21"),
        (0.0001, "0.0001"),
        (0.00001, "1e-05"),
        (123456789.0, "1.23456789e+08"),
        (3.0, "3"),
        ("s", "s"),
        ([], "[]"),
        (["a", "b"], "[a b]"),
        ([1, "x", None, True], "[1 x <nil> true]"),
        ({"b": 2, "a": 1}, "map[a:1 b:2]"),
        ({"k": ["v1", "v2"], "m": {"z": None}}, "map[k:[v1 v2] m:map[z:<nil>]]"),
        (NilSlice(), "[]"),
        (NilMap(), "map[]"),
        (GoStruct({"Driver": "default", "Options": NilMap(), "Config": []}), "{default map[] []}"),
    ],
)
def test_value_printing_follows_go_fmt_v(value: Any, expected: str) -> None:
    assert render("{{.}}", value) == expected


def test_stringer_objects_print_their_str() -> None:
    class Stringer:
        def __str__(self) -> str:
            return "custom!"

    assert render("{{.}}", Stringer()) == "custom!"
    assert render("{{.}}", [Stringer()]) == "[custom!]"


# ---------------------------------------------------------------------------
# literals, variables, pipelines


def test_literals() -> None:
    assert render('{{"a\\tb\\u00e9\\x41"}}') == "a\tbéA"
    assert render("{{`raw\\n`}}") == "raw\\n"
    assert render("{{'a'}} {{'\\n'}}") == "97 10"
    assert render("{{0x1F}} {{0o17}} {{017}} {{0b101}} {{1_000}} {{1e3}} {{-5}} {{.5}}") == (
        "31 15 15 5 1000 1000 -5 0.5"
    )
    assert render("{{true}} {{false}}") == "true false"


def test_variables_scoping_and_assignment() -> None:
    assert render("{{$x := 1}}{{if true}}{{$x = 2}}{{end}}{{$x}}") == "2"
    assert render("{{$x := 1}}{{if true}}{{$x := 2}}{{$x}}{{end}}{{$x}}") == "21"
    assert render('{{$a := "v"}}{{$a}}{{$a}}') == "vv"


def test_pipelines_pass_final_argument_last() -> None:
    d = {"Os": "linux"}
    assert render('{{.Os | printf "%s-%s" "x"}}', d) == "x-linux"
    assert render("{{.Os | len}}", d) == "5"
    assert render('{{.Os | upper | printf "%q"}}', d) == '"LINUX"'
    assert render('{{.Os | eq "linux"}}', d) == "true"
    assert render("{{(.Os)}}", d) == "linux"


def test_parenthesized_chain() -> None:
    d = {"L": [{"Name": "first"}, {"Name": "second"}]}
    assert render("{{(index .L 1).Name}}", d) == "second"


def test_trim_markers_and_comments() -> None:
    assert render('a  {{- "b" -}}  c') == "abc"
    assert render("a {{- /* x */ -}} b") == "ab"
    assert render("{{/* comment */}}x") == "x"
    assert render("{{/* multi\nline */}}x") == "x"
    assert render("a {{-3}}") == "a -3"  # "-3" is a number, not a trim marker
    assert render("{{if true -}}   x   {{- end}}") == "x"
    assert render("{{ \n .A \n }}", {"A": "multi-line action"}) == "multi-line action"


# ---------------------------------------------------------------------------
# control structures


def test_if_else_chains() -> None:
    t = Template('{{if eq .S "a"}}A{{else if eq .S "b"}}B{{else}}C{{end}}')
    assert [t.execute({"S": s}) for s in "abc"] == ["A", "B", "C"]


@pytest.mark.parametrize(
    ("value", "truth"),
    [
        (None, False),
        (0, False),
        (0.0, False),
        ("", False),
        ([], False),
        ({}, False),
        (NilSlice(), False),
        (False, False),
        (1, True),
        ("x", True),
        ([0], True),
        ({"a": 1}, True),
        (GoStruct(), True),  # struct values are always true
        (object(), True),
    ],
)
def test_truthiness(value: Any, truth: bool) -> None:
    assert render("{{if .V}}y{{else}}n{{end}}", {"V": value}) == ("y" if truth else "n")


def test_missing_key_is_false() -> None:
    assert render("{{if .Nope}}y{{else}}n{{end}}", {}) == "n"


def test_with_and_else_with() -> None:
    assert render("{{with .A}}{{.}}{{else}}none{{end}}", {"A": ""}) == "none"
    assert render("{{with .A}}[{{.}}]{{end}}", {"A": "v"}) == "[v]"
    assert render("{{with .A}}a{{else with .B}}{{.}}{{end}}", {"A": None, "B": "b"}) == "b"
    assert render("{{with $x := .A}}{{$x}}{{end}}", {"A": "v"}) == "v"


def test_range_over_list_map_int() -> None:
    assert render("{{range .}}{{.}},{{end}}", ["a", "b"]) == "a,b,"
    assert render("{{range $i, $e := .}}{{$i}}={{$e}} {{end}}", ["a", "b"]) == "0=a 1=b "
    assert render("{{range $k, $v := .}}{{$k}}={{$v}};{{end}}", {"b": 2, "a": 1}) == "a=1;b=2;"
    assert render("{{range $v := .}}{{$v}}{{end}}", {"b": 2, "a": 1}) == "12"
    assert render("{{range 3}}x{{end}}") == "xxx"
    assert render("{{range $i := 3}}{{$i}}{{end}}") == "012"


def test_range_else_and_nil() -> None:
    assert render("{{range .}}x{{else}}empty{{end}}", []) == "empty"
    assert render("{{range .L}}x{{else}}empty{{end}}", {"L": None}) == "empty"
    assert render("{{range .Nope}}x{{else}}empty{{end}}", {}) == "empty"
    assert render("{{range .}}x{{else}}empty{{end}}", {}) == "empty"


def test_range_break_continue() -> None:
    t = "{{range .}}{{if eq . 3}}{{break}}{{end}}{{if eq . 1}}{{continue}}{{end}}{{.}}{{end}}"
    assert render(t, [0, 1, 2, 3, 4]) == "02"


def test_range_over_string_is_an_error() -> None:
    assert exec_error("{{range .}}{{end}}", "abc").endswith("range can't iterate over abc")


def test_range_int_two_variables_error() -> None:
    assert exec_error("{{range $i, $e := 3}}{{end}}").endswith(
        "at <3>: can't use 3 to iterate over more than one variable"
    )


def test_define_template_block() -> None:
    assert render('{{define "a"}}[{{.}}]{{end}}{{template "a" .X}}', {"X": "v"}) == "[v]"
    assert render('{{block "b" .X}}<{{.}}>{{end}}', {"X": "v"}) == "<v>"
    assert render('{{define "a"}}[{{.}}]{{end}}{{template "a"}}') == "[<no value>]"
    assert exec_error('{{template "zz"}}').endswith('template "zz" not defined')
    assert "multiple definition of template" in parse_error(
        '{{define "x"}}a{{end}}{{define "x"}}b{{end}}'
    )


# ---------------------------------------------------------------------------
# functions


def test_comparisons() -> None:
    assert render("{{eq 1 1}} {{eq 1 2 1}} {{ne 1 2}} {{lt 1 2}} {{le 2 2}} {{gt 2 1}}") == (
        "true true true true true true"
    )
    assert render('{{ge "b" "a"}} {{lt "a" "b"}} {{gt 1.5 1.2}}') == "true true true"
    assert exec_error("{{eq 1 1.0}}").endswith(
        "error calling eq: incompatible types for comparison"
    )
    assert exec_error("{{lt true false}}").endswith("error calling lt: invalid type for comparison")
    assert exec_error("{{eq 1}}").endswith("error calling eq: missing argument for comparison")
    assert render('{{eq .Nope "x"}}', {}) == "false"
    assert render("{{eq .A nil}}", {"A": None}) == "true"


def test_and_or_not_return_values_and_short_circuit() -> None:
    assert render('{{and 1 0 2}}|{{and 1 2}}|{{or 0 "" "x"}}|{{or 0 ""}}') == "0|2|x|"
    assert render('{{not 0}} {{not "a"}}') == "true false"
    # the unevaluated argument would fail: and/or short-circuit
    assert render("{{or 1 .Fail.Deep}}", GoStruct()) == "1"
    assert render("{{and .Nope 1}}", {}) == "<no value>"
    assert exec_error("{{and}}").endswith("wrong number of args for and: want at least 1 got 0")


def test_len_index_slice() -> None:
    d = {"L": ["a", "b", "c"], "M": {"k": "v"}, "S": "héllo"}
    assert render("{{len .L}} {{len .M}} {{len .S}}", d) == "3 1 6"  # len counts bytes
    assert render('{{index .L 1}} {{index .M "k"}}|{{index .M "x"}}|', d) == "b v||"
    assert render('{{index .S 0}} {{slice .S 0 1}} {{slice .L 1}}', d) == "104 h [b c]"
    assert exec_error("{{index .L 5}}", d).endswith("error calling index: index out of range: 5")
    assert exec_error("{{index .L 3}}", d).endswith(
        "error calling index: reflect: slice index out of range"
    )
    assert exec_error("{{index .M 3}}", d).endswith(
        "error calling index: value has type int; should be string"
    )
    assert exec_error("{{index nil 1}}").endswith("error calling index: index of untyped nil")
    assert exec_error("{{slice .S 3 1}}", d).endswith(
        "error calling slice: invalid slice index: 3 > 1"
    )
    assert exec_error("{{len 3}}").endswith("error calling len: len of type int")
    assert exec_error("{{len .A}}", {"A": None}).endswith("error calling len: len of nil pointer")
    # a nil (None) map indexes like an empty one
    assert render('{{index .Labels "x"}}|', {"Labels": None}) == "|"


def test_print_println_printf() -> None:
    assert render('{{print 1 2 "a" "b" 3 nil true}}') == "1 2ab3 <nil> true"
    assert render('{{println 1 "a" 2}}') == "1 a 2\n"
    assert render('{{printf "%-5s|%5.2f|%03d|%q|%v" "ab" 3.14159 7 "x" .}}', [1, 2]) == (
        "ab   | 3.14|007|\"x\"|[1 2]"
    )
    assert render('{{printf "%d %d" 1}}') == "1 %!d(MISSING)"
    assert render('{{printf "%d" "x"}}') == "%!d(string=x)"
    assert exec_error("{{printf}}").endswith(
        "wrong number of args for printf: want at least 1 got 0"
    )


def test_html_js_urlquery() -> None:
    assert render('{{html "<a href=\\"x\\">&\'</a>"}}') == (
        "&lt;a href=&#34;x&#34;&gt;&amp;&#39;&lt;/a&gt;"
    )
    assert render('{{js "a\'b\\"c<d>&=\\n"}}') == "a\\'b\\\"c\\u003Cd\\u003E\\u0026\\u003D\\u000A"
    assert render('{{urlquery "a b&c=d/é?"}}') == "a+b%26c%3Dd%2F%C3%A9%3F"


def test_docker_functions() -> None:
    d = {"Names": ["a", "b"], "S": "hello wORLD foo-bar"}
    assert render('{{join .Names ","}}', d) == "a,b"
    assert render('{{json .Names}}', d) == '["a","b"]'
    assert render("{{title .S}}", d) == "Hello WORLD Foo-Bar"
    assert render("{{upper .S}}|{{lower .S}}", d) == "HELLO WORLD FOO-BAR|hello world foo-bar"
    assert render('{{split "a,b,,c" ","}}') == "[a b  c]"
    assert render('{{pad "ab" 1 2}}|{{pad "" 1 2}}|') == " ab  ||"
    assert render('{{truncate "abcdef" 3}}|{{truncate "ab" 3}}') == "abc|ab"
    assert render('{{json "<a>&"}}') == '"<a>&"'  # docker disables HTML escaping


def test_function_argument_type_errors() -> None:
    assert exec_error("{{upper 3}}").endswith('at <3>: expected string; found 3')
    assert exec_error("{{upper .}}", 5).endswith(
        "at <.>: wrong type for value; expected string; got int"
    )
    assert exec_error('{{truncate "abc" 1.5}}').endswith("expected integer; found 1.5")
    assert render('{{truncate "abc" 1.0}}') == "a"
    assert exec_error('{{join . ","}}', [1, 2]).endswith(
        "wrong type for value; expected []string; got []interface {}"
    )
    assert exec_error('{{upper .Nope}}', {}).endswith("invalid value; expected string")
    assert exec_error('{{pad "a" 1}}').endswith("wrong number of args for pad: want 3 got 2")


def test_custom_functions() -> None:
    def shout(s: Any) -> str:
        return str(s).upper() + "!"

    t = Template("{{shout .}} {{twice .}}", funcs={"shout": shout, "twice": lambda x: x * 2})
    assert t.execute("hi") == "HI! hihi"
    typed = Template("{{rep . 3}}", funcs={"rep": GoFunc(lambda s, n: s * n, ("string", "int"))})
    assert typed.execute("ab") == "ababab"
    assert "expected string" in exec_error(
        "{{rep 1 3}}", funcs={"rep": GoFunc(lambda s, n: s * n, ("string", "int"))}
    )
    # unknown functions are rejected at parse time
    assert parse_error("{{shout .}}") == (
        'template parsing error: template: :1: function "shout" not defined'
    )


# ---------------------------------------------------------------------------
# errors


@pytest.mark.parametrize(
    ("fmt", "message"),
    [
        ("{{.Foo", "template: :1: unclosed action"),
        ("{{.Foo}", "template: :1: bad character U+007D '}'"),
        ("{{}}", "template: :1: missing value for command"),
        ("{{end}}", "template: :1: unexpected {{end}}"),
        ("{{else}}", "template: :1: unexpected {{else}}"),
        ("{{if .X}}", "template: :1: unexpected EOF"),
        ("a\n{{if .X}}\nb", "template: :3: unexpected EOF"),
        ('{{"abc}}', "template: :1: unterminated quoted string"),
        ("{{/* x }}", "template: :1: unclosed comment"),
        ("{{/* x */ }}", "template: :1: comment ends before closing delimiter"),
        ("{{$x}}", 'template: :1: undefined variable "$x"'),
        ("{{.X 3a}}", 'template: :1: bad number syntax: "3a"'),
        ("{{(.X}}", "template: :1: unclosed left paren"),
        ("{{.X)}}", "template: :1: unexpected right paren"),
        ("{{.X | 3}}", "template: :1: non executable command in pipeline stage 2"),
        ("{{if}}{{end}}", "template: :1: missing value for if"),
        ("{{.X.}}", "template: :1: unexpected <.> in operand"),
        ("{{#}}", 'template: :1: unexpected "#" in command'),
        ("{{break}}", "template: :1: {{break}} outside {{range}}"),
        ("{{if .X}}{{else}}{{else}}{{end}}", "template: :1: expected end; found {{else}}"),
        ('{{"\\q"}}', "template: :1: invalid syntax"),
        ("{{99999999999999999999}}", 'template: :1: integer overflow: "99999999999999999999"'),
        ("{{.Foo\n", "template: :2: unclosed action started at :1"),
    ],
)
def test_parse_errors(fmt: str, message: str) -> None:
    assert parse_error(fmt) == "template parsing error: " + message


def test_parse_error_is_invalid_argument_with_detail() -> None:
    with pytest.raises(InvalidArgument) as ei:
        parse("{{end}}", name="version")
    err = ei.value
    assert isinstance(err, TemplateError)
    assert err.detail == "template: version:1: unexpected {{end}}"
    assert str(err) == "template parsing error: template: version:1: unexpected {{end}}"


def test_exec_error_position_and_partial_output() -> None:
    with pytest.raises(TemplateExecError) as ei:
        Template("line1\n  {{if .Foo}}\n{{end}}", "version").execute(GoStruct(go_type="T"))
    assert ei.value.detail == (
        'template: version:2:7: executing "version" at <.Foo>: '
        "can't evaluate field Foo in type T"
    )
    assert ei.value.partial == "line1\n  "


def test_exec_error_column_counts_bytes() -> None:
    msg = exec_error("é{{.Foo}}", GoStruct(go_type="T"))
    assert ":1:4:" in msg  # "é" is two bytes, the field starts at byte 4


def test_compile_once_render_many() -> None:
    t = Template("{{.Name}}:{{len .Tags}}")
    rows = [{"Name": f"n{i}", "Tags": ["x"] * i} for i in range(5)]
    assert [t.execute(r) for r in rows] == ["n0:0", "n1:1", "n2:2", "n3:3", "n4:4"]


# ---------------------------------------------------------------------------
# docker formatter helpers


@pytest.mark.parametrize(
    ("fmt", "expected"),
    [
        ("table {{.ID}}\\t{{.Name}}", "{{.ID}}\t{{.Name}}"),
        ("{{.ID}}\\t{{.Name}}\\n", "{{.ID}}\t{{.Name}}\n"),
        ("json", "{{json .}}"),
        ("table", ""),
        ("tablefoo {{.Name}}", "foo {{.Name}}"),
        ("   {{.ID}}   ", "{{.ID}}"),
        ("\t{{.ID}}\t", "\t{{.ID}}\t"),  # only spaces are trimmed
        ("a\\\\tb", "a\\\tb"),
        ("{{.ID}}\\x", "{{.ID}}\\x"),
    ],
)
def test_preprocess_format(fmt: str, expected: str) -> None:
    assert preprocess_format(fmt) == expected


def test_is_table_format() -> None:
    assert is_table_format("table {{.ID}}")
    assert is_table_format("tablefoo")
    assert not is_table_format("{{.ID}}")
    assert not is_table_format("json")


def test_format_items_table_with_header_and_alignment() -> None:
    rows = [{"ID": "c2f8ef85f255", "Name": "host"}, {"ID": "65cabf702f70", "Name": "none"}]
    out = format_items("table {{.ID}}\\t{{.Name}}", rows, {"ID": "NETWORK ID", "Name": "NAME"})
    assert out == (
        "NETWORK ID     NAME\n"
        "c2f8ef85f255   host\n"
        "65cabf702f70   none\n"
    )


def test_format_items_plain_and_json_and_stream() -> None:
    rows = [{"A": "x<"}, {"A": "y"}]
    buf = io.StringIO()
    assert format_items("{{.A}}", rows, out=buf) == "x<\ny\n"
    assert buf.getvalue() == "x<\ny\n"
    assert format_items("json", rows) == '{"A":"x<"}\n{"A":"y"}\n'


def test_format_items_header_only_when_empty() -> None:
    assert format_items("table {{.A}}\\t{{.B}}", [], {"A": "COL A", "B": "COL B"}) == (
        "COL A     COL B\n"
    )


def test_format_items_error_writes_nothing() -> None:
    buf = io.StringIO()
    with pytest.raises(TemplateExecError):
        format_items("{{.A}}", [{"A": 1}, GoStruct(go_type="T")], out=buf)
    assert buf.getvalue() == ""


def test_header_rendering_uses_header_functions() -> None:
    t = Template(preprocess_format("table {{upper .Name}}\\t{{json .Labels}}\\t{{truncate .ID 3}}"))
    assert t.execute_header({"Name": "NAME", "Labels": "LABELS", "ID": "ID"}) == (
        "NAME\tLABELS\tID"
    )
    # missing header keys print <no value>; the Label method names custom columns
    t2 = Template('{{.Foo}}|{{.Label "com.docker.compose.project_name"}}')
    assert t2.execute_header({}) == "<no value>|project name"
    # header errors are swallowed, keeping the partial output (like docker)
    assert Template("A{{range .X}}{{end}}B").execute_header({"X": "str"}) == "A"


def test_header_map_label() -> None:
    assert HeaderMap().Label("com.example.some-thing_here") == "some thing here"


def test_marshal_context() -> None:
    class Ctx:
        def ID(self) -> str:
            return "abc"

        def Label(self, name: str) -> str:
            return name

        def FullHeader(self) -> dict[str, str]:
            return {}

        @property
        def Size(self) -> str:
            return "1B"

        def lower(self) -> str:
            return "no"

    assert marshal_context(Ctx()) == {"ID": "abc", "Size": "1B"}


def test_go_json_hook() -> None:
    @dataclass
    class Row:
        items: list[str] = field(default_factory=list)

        def __go_json__(self) -> dict[str, Any]:
            return {"Z": 1, "A": self.items}

    assert render("{{json .}}", Row(["x"])) == '{"Z":1,"A":["x"]}'


def test_header_cells() -> None:
    header = {"ID": "CONTAINER ID", "Names": "NAMES", "Label": "ignored"}
    assert header_cells("table {{.ID}}\\t{{upper .Names}}", header) == ["CONTAINER ID", "NAMES"]
    assert header_cells('table {{.ID}}: {{.Label "com.x.y-z"}}', header) == ["CONTAINER ID: y z"]


def test_library_mapping_methods_are_not_template_methods() -> None:
    from collections import OrderedDict

    assert render("{{.keys}}", OrderedDict(a=1)) == "<no value>"
    assert render("{{.a}}", OrderedDict(a=1)) == "1"


def test_range_over_iterators_and_int_keyed_maps() -> None:
    assert render("{{range .}}{{.}}{{end}}", (c for c in "abc")) == "abc"
    assert render("{{range $i, $e := .}}{{$i}}{{$e}}{{end}}", range(2)) == "0011"
    assert render("{{index . 1}}", {1: "one", 2: "two"}) == "one"
    assert exec_error('{{index . "1"}}', {1: "one"}).endswith(
        "error calling index: value has type string; should be int"
    )
    assert render("{{range $k, $v := .}}{{$k}}{{$v}} {{end}}", {10: "a", 9: "b"}) == "9b 10a "


def test_call_builtin() -> None:
    assert render("{{call .F 2 3}}", {"F": lambda a, b: a * b}) == "6"
    assert exec_error("{{call .S}}", {"S": "x"}).endswith(
        "error calling call: non-function .S of type string"
    )
    assert exec_error("{{call nil}}").endswith("error calling call: call of nil")


def test_nested_template_error_names_the_template() -> None:
    msg = exec_error('{{define "a"}}{{.Foo}}{{end}}{{template "a" .}}', GoStruct(go_type="T"))
    assert msg == (
        'template parsing error: template: :1:16: executing "a" at <.Foo>: '
        "can't evaluate field Foo in type T"
    )


def test_invalid_utf8_bytes_from_escapes() -> None:
    # Go strings hold raw bytes: "\xff" is one byte, printed as U+FFFD by a terminal
    assert render('{{"\\xff"}}|{{len "\\xff"}}|{{printf "%q" "\\xff"}}') == '\ufffd|1|"\\xff"'
    assert render('{{truncate "héllo" 2}}') == "h\ufffd"
