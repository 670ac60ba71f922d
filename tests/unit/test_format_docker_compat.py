# ruff: noqa: E501  (expected values are verbatim docker output lines)
"""Go text/template behaviour checked against the real docker CLI (v28.2.2).

Every expected value below was produced by the real ``docker`` binary:

* ``VERSION_CASES``: ``docker version --format FMT`` (template name ``"version"``, data
  ``system.versionInfo``, output through ``tabwriter.NewWriter(out, 20, 1, 1, ' ', 0)``
  plus a trailing newline; stderr holds the error, exit code 64 for parse errors).
* ``NETWORK_CASES``: ``docker network ls --format FMT`` (docker's
  ``formatter.Context.Write`` with the network header map).

The data model mirrors the Go values docker used (structs as GoStruct / objects).
"""

from __future__ import annotations

from typing import Any

import pytest

from dockyard.cli.format.tabwriter import TabWriter
from dockyard.cli.format.template import (
    Template,
    TemplateError,
    TemplateExecError,
    TemplateParseError,
    format_items,
)
from dockyard.golang.fmt import GoStruct


class ClientVersion:
    """docker's system.clientVersion (Platform is a nil *platformInfo)."""

    __go_type__ = "system.clientVersion"

    def __init__(self) -> None:
        self.Platform = None
        self.Version = "28.2.2"
        self.APIVersion = "1.41"
        self.DefaultAPIVersion = "1.50"
        self.GitCommit = "e6534b4"
        self.GoVersion = "go1.24.3"
        self.Os = "linux"
        self.Arch = "amd64"
        self.BuildTime = "Fri May 30 12:07:14 2025"
        self.Context = "default"

    def __go_json__(self) -> dict[str, Any]:
        return {
            "Version": self.Version,
            "ApiVersion": self.APIVersion,
            "DefaultAPIVersion": self.DefaultAPIVersion,
            "GitCommit": self.GitCommit,
            "GoVersion": self.GoVersion,
            "Os": self.Os,
            "Arch": self.Arch,
            "BuildTime": self.BuildTime,
            "Context": self.Context,
        }


class ServerVersion(GoStruct):
    """types.Version: JSON names differ from field names (ApiVersion), omitempty."""

    def __go_json__(self) -> dict[str, Any]:
        d = dict(self)
        d["ApiVersion"] = d.pop("APIVersion")
        out = {k: d[k] for k in ("Platform", "Components", "Version", "ApiVersion",
                                 "MinAPIVersion", "GitCommit", "GoVersion", "Os", "Arch",
                                 "KernelVersion")}
        if d["Experimental"]:
            out["Experimental"] = True
        out["BuildTime"] = d["BuildTime"]
        return out


def _comp(name: str, version: str, details: dict[str, str]) -> GoStruct:
    return GoStruct(
        {"Name": name, "Version": version, "Details": details}, go_type="types.ComponentVersion"
    )


ENGINE_DETAILS = {
    "ApiVersion": "1.41",
    "Arch": "amd64",
    "BuildTime": "Thu May  7 21:09:36 2026",
    "Experimental": "false",
    "GitCommit": "5d6db84",
    "GoVersion": "go1.19.8",
    "KernelVersion": "6.18.44-fc-v669",
    "MinAPIVersion": "1.12",
    "Os": "linux",
}


def version_info() -> GoStruct:
    server = ServerVersion(
        {
            "Platform": GoStruct({"Name": ""}, go_type="struct { Name string }"),
            "Components": [
                _comp("Engine", "20.10.24+dfsg1", dict(ENGINE_DETAILS)),
                _comp("containerd", "1.6.20~ds1", {"GitCommit": "1.6.20~ds1-1+deb12u3"}),
                _comp("runc", "1.1.5+ds1", {"GitCommit": "1.1.5+ds1-1+deb12u1"}),
                _comp("docker-init", "0.19.0", {"GitCommit": ""}),
            ],
            "Version": "20.10.24+dfsg1",
            "APIVersion": "1.41",
            "MinAPIVersion": "1.12",
            "GitCommit": "5d6db84",
            "GoVersion": "go1.19.8",
            "Os": "linux",
            "Arch": "amd64",
            "KernelVersion": "6.18.44-fc-v669",
            "Experimental": False,
            "BuildTime": "2026-05-07T21:09:36.000000000+00:00",
        },
        go_type="*types.Version",
    )
    return GoStruct({"Client": ClientVersion(), "Server": server}, go_type="system.versionInfo")


def docker_version_format(fmt: str) -> tuple[str, str, int]:
    """What ``docker version --format fmt`` prints: (stdout, stderr, exit code)."""
    try:
        tmpl = Template(fmt, "version")
    except TemplateParseError as e:
        return "", str(e), 64
    tw = TabWriter(None, 20, 1, 1, " ", 0)
    try:
        out, err, rc = tmpl.execute(version_info()), "", 0
    except TemplateExecError as e:
        out, err, rc = e.partial, e.detail, 1
    tw.write(out)
    tw.write("\n")
    return tw.flush(), err, rc


VERSION_CASES: list[tuple[str, str, str, int]] = [
    ('{{.Client.Version}}', '28.2.2\n', '', 0),
    ('{{.Server.Version}} {{.Server.APIVersion}}', '20.10.24+dfsg1 1.41\n', '', 0),
    ('{{json .Client}}', '{"Version":"28.2.2","ApiVersion":"1.41","DefaultAPIVersion":"1.50","GitCommit":"e6534b4","GoVersion":"go1.24.3","Os":"linux","Arch":"amd64","BuildTime":"Fri May 30 12:07:14 2025","Context":"default"}\n', '', 0),
    ('{{json .Server}}', '{"Platform":{"Name":""},"Components":[{"Name":"Engine","Version":"20.10.24+dfsg1","Details":{"ApiVersion":"1.41","Arch":"amd64","BuildTime":"Thu May  7 21:09:36 2026","Experimental":"false","GitCommit":"5d6db84","GoVersion":"go1.19.8","KernelVersion":"6.18.44-fc-v669","MinAPIVersion":"1.12","Os":"linux"}},{"Name":"containerd","Version":"1.6.20~ds1","Details":{"GitCommit":"1.6.20~ds1-1+deb12u3"}},{"Name":"runc","Version":"1.1.5+ds1","Details":{"GitCommit":"1.1.5+ds1-1+deb12u1"}},{"Name":"docker-init","Version":"0.19.0","Details":{"GitCommit":""}}],"Version":"20.10.24+dfsg1","ApiVersion":"1.41","MinAPIVersion":"1.12","GitCommit":"5d6db84","GoVersion":"go1.19.8","Os":"linux","Arch":"amd64","KernelVersion":"6.18.44-fc-v669","BuildTime":"2026-05-07T21:09:36.000000000+00:00"}\n', '', 0),
    ('{{.Client}}', '{<nil> 28.2.2 1.41 1.50 e6534b4 go1.24.3 linux amd64 Fri May 30 12:07:14 2025 default}\n', '', 0),
    ('{{.Server.Components}}', '[{Engine 20.10.24+dfsg1 map[ApiVersion:1.41 Arch:amd64 BuildTime:Thu May  7 21:09:36 2026 Experimental:false GitCommit:5d6db84 GoVersion:go1.19.8 KernelVersion:6.18.44-fc-v669 MinAPIVersion:1.12 Os:linux]} {containerd 1.6.20~ds1 map[GitCommit:1.6.20~ds1-1+deb12u3]} {runc 1.1.5+ds1 map[GitCommit:1.1.5+ds1-1+deb12u1]} {docker-init 0.19.0 map[GitCommit:]}]\n', '', 0),
    ('{{(index .Server.Components 0).Details}}', 'map[ApiVersion:1.41 Arch:amd64 BuildTime:Thu May  7 21:09:36 2026 Experimental:false GitCommit:5d6db84 GoVersion:go1.19.8 KernelVersion:6.18.44-fc-v669 MinAPIVersion:1.12 Os:linux]\n', '', 0),
    ('{{.Foo}}', '\n', 'template: version:1:2: executing "version" at <.Foo>: can\'t evaluate field Foo in type system.versionInfo', 1),
    ('{{.Client.Foo}}', '\n', 'template: version:1:9: executing "version" at <.Client.Foo>: can\'t evaluate field Foo in type system.clientVersion', 1),
    ('{{.Server.Foo}}', '\n', 'template: version:1:9: executing "version" at <.Server.Foo>: can\'t evaluate field Foo in type *types.Version', 1),
    ('{{index (index .Server.Components 0).Details "Nope"}}|{{(index .Server.Components 0).Details.Nope}}', '|<no value>\n', '', 0),
    ('{{range 3}}x{{end}}', 'xxx\n', '', 0),
    ('{{range $i, $e := 3}}{{$i}}{{$e}},{{end}}', '\n', 'template: version:1:18: executing "version" at <3>: can\'t use 3 to iterate over more than one variable', 1),
    ('{{range $i := 3}}{{$i}},{{end}}', '0,1,2,\n', '', 0),
    ('{{range .Client.Version}}{{end}}', '\n', 'template: version:1:15: executing "version" at <.Client.Version>: range can\'t iterate over 28.2.2', 1),
    ('{{upper 3}}', '\n', 'template: version:1:8: executing "version" at <3>: expected string; found 3', 1),
    ('{{upper .Client}}', '\n', 'template: version:1:8: executing "version" at <.Client>: wrong type for value; expected string; got system.clientVersion', 1),
    ('{{index .Server.Components 9}}', '\n', 'template: version:1:2: executing "version" at <index .Server.Components 9>: error calling index: index out of range: 9', 1),
    ('{{index .Server.Components 4}}', '\n', 'template: version:1:2: executing "version" at <index .Server.Components 4>: error calling index: reflect: slice index out of range', 1),
    ('{{index .Server.Components -1}}', '\n', 'template: version:1:2: executing "version" at <index .Server.Components -1>: error calling index: index out of range: -1', 1),
    ('{{index (index .Server.Components 0).Details 3}}', '\n', 'template: version:1:2: executing "version" at <index (index .Server.Components 0).Details 3>: error calling index: value has type int; should be string', 1),
    ('{{index (index .Server.Components 0).Details "Os" "x"}}', '\n', 'template: version:1:2: executing "version" at <index (index .Server.Components 0).Details "Os" "x">: error calling index: cannot index slice/array with type string', 1),
    ('{{index .Client.Version 0}}', '50\n', '', 0),
    ('{{index 3 1}}', '\n', 'template: version:1:2: executing "version" at <index 3 1>: error calling index: can\'t index item of type int', 1),
    ('{{index nil 1}}', '\n', 'template: version:1:2: executing "version" at <index nil 1>: error calling index: index of untyped nil', 1),
    ('{{slice "abcdef" 1 3}}', 'bc\n', '', 0),
    ('{{slice "abcdef" 3 1}}', '\n', 'template: version:1:2: executing "version" at <slice "abcdef" 3 1>: error calling slice: invalid slice index: 3 > 1', 1),
    ('{{slice "abcdef" 1 9}}', '\n', 'template: version:1:2: executing "version" at <slice "abcdef" 1 9>: error calling slice: index out of range: 9', 1),
    ('{{slice "abcdef" 2}}', 'cdef\n', '', 0),
    ('{{slice "abc" 1 2 3}}', '\n', 'template: version:1:2: executing "version" at <slice "abc" 1 2 3>: error calling slice: cannot 3-index slice a string', 1),
    ('{{slice .Server.Components 1 2}}', '[{containerd 1.6.20~ds1 map[GitCommit:1.6.20~ds1-1+deb12u3]}]\n', '', 0),
    ('{{len "héllo"}}', '6\n', '', 0),
    ('{{len 3}}', '\n', 'template: version:1:2: executing "version" at <len 3>: error calling len: len of type int', 1),
    ('{{len (index .Server.Components 0).Details.Nope}}', '\n', 'template: version:1:2: executing "version" at <len (index .Server.Components 0).Details.Nope>: error calling len: reflect: call of reflect.Value.Type on zero Value', 1),
    ('{{(index .Server.Components 0).Details.Nope.Foo}}', '<no value>\n', '', 0),
    ('{{len .Server.Components}}', '4\n', '', 0),
    ('{{len (index .Server.Components 0).Details}}', '9\n', '', 0),
    ('{{.Client.Version 1}}', '\n', 'template: version:1:9: executing "version" at <.Client.Version>: Version has arguments but cannot be invoked as function', 1),
    ('{{(index .Server.Components 0).Details.Os 1}}', '\n', 'template: version:1:28: executing "version" at <0>: Os is not a method but has arguments', 1),
    ('{{printf "%d|%s|%v|%q|%5s|%-5s|%05d|%x|%X|%.2f|%t|%c|%U|%e|%g|%o|%b" 42 "a" 1.5 "q\\"" "ab" "ab" 42 255 "hi" 3.14159 true 65 65 1234.5678 0.000012345 8 5}}', '42|a|1.5|"q\\""|   ab|ab   |00042|ff|6869|3.14|true|A|U+0041|1.234568e+03|1.2345e-05|10|101\n', '', 0),
    ('{{printf "%d" "x"}}', '%!d(string=x)\n', '', 0),
    ('{{printf "%d %d" 1}}', '1 %!d(MISSING)\n', '', 0),
    ('{{printf "%d" 1 2}}', '1%!(EXTRA int=2)\n', '', 0),
    ('{{printf "%s" nil}}', '%!s(<nil>)\n', '', 0),
    ('{{printf "%v" .Server.Components}}', '[{Engine 20.10.24+dfsg1 map[ApiVersion:1.41 Arch:amd64 BuildTime:Thu May  7 21:09:36 2026 Experimental:false GitCommit:5d6db84 GoVersion:go1.19.8 KernelVersion:6.18.44-fc-v669 MinAPIVersion:1.12 Os:linux]} {containerd 1.6.20~ds1 map[GitCommit:1.6.20~ds1-1+deb12u3]} {runc 1.1.5+ds1 map[GitCommit:1.1.5+ds1-1+deb12u1]} {docker-init 0.19.0 map[GitCommit:]}]\n', '', 0),
    ('{{printf "%+v" .Client}}', '{Platform:<nil> Version:28.2.2 APIVersion:1.41 DefaultAPIVersion:1.50 GitCommit:e6534b4 GoVersion:go1.24.3 Os:linux Arch:amd64 BuildTime:Fri May 30 12:07:14 2025 Context:default}\n', '', 0),
    ('{{printf "%z" 1}}', '%!z(int=1)\n', '', 0),
    ('{{printf "%!" 1}}', '%!!(int=1)\n', '', 0),
    ('{{printf "100%%"}}', '100%\n', '', 0),
    ('{{printf "%"}}', '%!(NOVERB)\n', '', 0),
    ('{{printf "%6.2f|%-8.3s|%+d|% d|%#x|%#o|%08.3f|%x" 3.14159 "abcdef" 5 5 255 8 3.14159 -255}}', '  3.14|abc     |+5| 5|0xff|010|0003.142|-ff\n', '', 0),
    ('{{json "a\\u2028b\\bc\\x01\\x7f\\t\\n<>&é"}}', '"a\\u2028b\\bc\\u0001\x7f\\t\\n<>&é"\n', '', 0),
    ('{{json 1e6}}|{{json 1.5}}|{{json 1e21}}|{{json 1e20}}|{{json 0.000001}}|{{json 0.0000001}}|{{json 123456789.0}}|{{json 3}}|{{json nil}}|{{json true}}', '1000000|1.5|1e+21|100000000000000000000|0.000001|1e-7|123456789|3|null|true\n', '', 0),
    ('{{json (index .Server.Components 0).Details}}', '{"ApiVersion":"1.41","Arch":"amd64","BuildTime":"Thu May  7 21:09:36 2026","Experimental":"false","GitCommit":"5d6db84","GoVersion":"go1.19.8","KernelVersion":"6.18.44-fc-v669","MinAPIVersion":"1.12","Os":"linux"}\n', '', 0),
    ('{{json .Server.Components}}', '[{"Name":"Engine","Version":"20.10.24+dfsg1","Details":{"ApiVersion":"1.41","Arch":"amd64","BuildTime":"Thu May  7 21:09:36 2026","Experimental":"false","GitCommit":"5d6db84","GoVersion":"go1.19.8","KernelVersion":"6.18.44-fc-v669","MinAPIVersion":"1.12","Os":"linux"}},{"Name":"containerd","Version":"1.6.20~ds1","Details":{"GitCommit":"1.6.20~ds1-1+deb12u3"}},{"Name":"runc","Version":"1.1.5+ds1","Details":{"GitCommit":"1.1.5+ds1-1+deb12u1"}},{"Name":"docker-init","Version":"0.19.0","Details":{"GitCommit":""}}]\n', '', 0),
    ('{{json (split "a,b,,c" ",")}}', '["a","b","","c"]\n', '', 0),
    ('{{split "a,b" ""}}', '[a , b]\n', '', 0),
    ('{{split "" ","}}', '[]\n', '', 0),
    ('{{json (split "" ",")}}', '[""]\n', '', 0),
    ('{{join (split "a,b" ",") "-"}}', 'a-b\n', '', 0),
    ('{{join .Server.Components ","}}', '\n', 'template: version:1:14: executing "version" at <.Server.Components>: wrong type for value; expected []string; got []types.ComponentVersion', 1),
    ('{{title "hello wORLD foo-bar x_y 3d éa"}}', 'Hello WORLD Foo-Bar X_y 3d Éa\n', '', 0),
    ('{{upper "straße"}}|{{lower "ÀB"}}', 'STRAßE|àb\n', '', 0),
    ('{{pad "ab" 1 2}}|{{pad "" 1 2}}|', ' ab  ||\n', '', 0),
    ('{{truncate "abcdef" 3}}|{{truncate "ab" 3}}|{{truncate "abc" -1}}', 'abc|ab|\n', 'template: version:1:46: executing "version" at <truncate "abc" -1>: error calling truncate: runtime error: slice bounds out of range [:-1]', 1),
    ('{{html "<a href=\\"x\\">&\'</a>"}}', '&lt;a href=&#34;x&#34;&gt;&amp;&#39;&lt;/a&gt;\n', '', 0),
    ('{{js "a\'b\\"c<d>&=\\n\\\\`"}}', 'a\\\'b\\"c\\u003Cd\\u003E\\u0026\\u003D\\u000A\\\\`\n', '', 0),
    ('{{urlquery "a b&c=d/é?~_-."}}', 'a+b%26c%3Dd%2F%C3%A9%3F~_-.\n', '', 0),
    ('{{print 1 2 "a" "b" 3 nil true}}', '1 2ab3 <nil> true\n', '', 0),
    ('{{println 1 "a" 2}}|', '1 a 2\n|\n', '', 0),
    ('{{print}}|{{println}}|', '|\n|\n', '', 0),
    ('{{eq 1 1}} {{eq 1 2 1}} {{eq "a" "a"}} {{ne 1 2}} {{lt 1 2}} {{le 2 2}} {{gt 2 1}} {{ge "b" "a"}} {{lt "a" "b"}} {{gt 1.5 1.2}}', 'true true true true true true true true true true\n', '', 0),
    ('{{gt 1.5 1}}', '\n', 'template: version:1:2: executing "version" at <gt 1.5 1>: error calling gt: incompatible types for comparison', 1),
    ('{{eq 1 "a"}}', '\n', 'template: version:1:2: executing "version" at <eq 1 "a">: error calling eq: incompatible types for comparison', 1),
    ('{{lt true false}}', '\n', 'template: version:1:2: executing "version" at <lt true false>: error calling lt: invalid type for comparison', 1),
    ('{{eq .Client.Platform nil}}', 'true\n', '', 0),
    ('{{eq 1 1.0}}', '\n', 'template: version:1:2: executing "version" at <eq 1 1.0>: error calling eq: incompatible types for comparison', 1),
    ('{{and 1 0 2}}|{{and 1 2}}|{{or 0 "" "x"}}|{{or 0 ""}}|{{not 0}}|{{not "a"}}', '0|2|x||true|false\n', '', 0),
    ('{{and}}', '\n', 'template: version:1:2: executing "version" at <and>: wrong number of args for and: want at least 1 got 0', 1),
    ('{{eq .Server.Components .Server.Components}}', '\n', 'template: version:1:2: executing "version" at <eq .Server.Components .Server.Components>: error calling eq: non-comparable type [{Engine 20.10.24+dfsg1 map[ApiVersion:1.41 Arch:amd64 BuildTime:Thu May  7 21:09:36 2026 Experimental:false GitCommit:5d6db84 GoVersion:go1.19.8 KernelVersion:6.18.44-fc-v669 MinAPIVersion:1.12 Os:linux]} {containerd 1.6.20~ds1 map[GitCommit:1.6.20~ds1-1+deb12u3]} {runc 1.1.5+ds1 map[GitCommit:1.1.5+ds1-1+deb12u1]} {docker-init 0.19.0 map[GitCommit:]}]: []types.ComponentVersion', 1),
    ('{{lt .Server.Components 1}}', '\n', 'template: version:1:2: executing "version" at <lt .Server.Components 1>: error calling lt: invalid type for comparison', 1),
    ('{{eq}}', '\n', 'template: version:1:2: executing "version" at <eq>: wrong number of args for eq: want at least 1 got 0', 1),
    ('{{eq 1}}', '\n', 'template: version:1:2: executing "version" at <eq 1>: error calling eq: missing argument for comparison', 1),
    ('{{range $k, $v := (index .Server.Components 0).Details}}{{$k}}={{$v}};{{end}}', 'ApiVersion=1.41;Arch=amd64;BuildTime=Thu May  7 21:09:36 2026;Experimental=false;GitCommit=5d6db84;GoVersion=go1.19.8;KernelVersion=6.18.44-fc-v669;MinAPIVersion=1.12;Os=linux;\n', '', 0),
    ('{{range (index .Server.Components 0).Details}}{{.}},{{end}}', '1.41,amd64,Thu May  7 21:09:36 2026,false,5d6db84,go1.19.8,6.18.44-fc-v669,1.12,linux,\n', '', 0),
    ('{{range $v := (index .Server.Components 0).Details}}{{$v}},{{end}}', '1.41,amd64,Thu May  7 21:09:36 2026,false,5d6db84,go1.19.8,6.18.44-fc-v669,1.12,linux,\n', '', 0),
    ('{{range $i, $c := .Server.Components}}{{$i}}:{{$c.Name}}{{if eq $i 1}}{{break}}{{end}} {{end}}', '0:Engine 1:containerd\n', '', 0),
    ('{{range .Server.Components}}{{if eq .Name "runc"}}{{continue}}{{end}}{{.Name}} {{end}}', 'Engine containerd docker-init \n', '', 0),
    ('{{with .Client.Platform}}x{{else}}none{{end}}', 'none\n', '', 0),
    ('{{with .Client}}{{.Os}}{{end}}', 'linux\n', '', 0),
    ('{{with $x := .Client}}{{$x.Os}}{{end}}', 'linux\n', '', 0),
    ('{{with .Client.Platform}}a{{else with .Client.Os}}{{.}}{{end}}', 'linux\n', '', 0),
    ('{{if .Client.Platform}}a{{else if .Client.Os}}b{{else}}c{{end}}', 'b\n', '', 0),
    ('{{$x := 1}}{{if true}}{{$x = 2}}{{end}}{{$x}}', '2\n', '', 0),
    ('{{$x := 1}}{{if true}}{{$x := 2}}{{$x}}{{end}}{{$x}}', '21\n', '', 0),
    ('{{$x = 1}}', '\n', 'template: version:1:7: executing "version" at <1>: undefined variable: $x', 1),
    ('{{template "a"}}', '\n', 'template: version:1:11: executing "version" at <{{template "a"}}>: template "a" not defined', 1),
    ('{{define "a"}}[{{.}}]{{end}}{{template "a" .Client.Os}}', '[linux]\n', '', 0),
    ('{{block "b" .Client.Os}}<{{.}}>{{end}}', '<linux>\n', '', 0),
    ('{{nil}}', '\n', 'template: version:1:2: executing "version" at <nil>: nil is not a command', 1),
    ('{{1 2}}', '\n', 'template: version:1:2: executing "version" at <1>: can\'t give argument to non-function 1', 1),
    ('{{"a" "b"}}', '\n', 'template: version:1:2: executing "version" at <"a">: can\'t give argument to non-function "a"', 1),
    ('a  {{- "b" -}}  c', 'abc\n', '', 0),
    ('a {{- /* x */ -}} b', 'ab\n', '', 0),
    ('{{/* x */}}', '\n', '', 0),
    ('a {{-3}}', 'a -3\n', '', 0),
    ('{{.Client.Os | printf "%s-%s" "x"}}', 'x-linux\n', '', 0),
    ('{{.Client.Os | len}}', '5\n', '', 0),
    ('{{"abc" | slice 1}}', '\n', 'template: version:1:10: executing "version" at <slice 1>: error calling slice: can\'t slice item of type int', 1),
    ('{{.Client.Version | upper | printf "%q"}}', '"28.2.2"\n', '', 0),
    ('{{(.Client).Os}}', 'linux\n', '', 0),
    ('{{(index .Server.Components 0).Name}}', 'Engine\n', '', 0),
    ('{{$c := index .Server.Components 1}}{{$c.Details.GitCommit}}', '1.6.20~ds1-1+deb12u3\n', '', 0),
    ('{{$.Client.Os}}', 'linux\n', '', 0),
    ('{{$x := .Client}}{{$x.Nope}}', '\n', 'template: version:1:21: executing "version" at <$x.Nope>: can\'t evaluate field Nope in type system.clientVersion', 1),
    ('{{$D := (index .Server.Components 0).Details}}{{$D.Foo}}', '<no value>\n', '', 0),
    ('{{printf "%T %T %T %T %T" 1 1.5 "a" true nil}}', 'int float64 string bool <nil>\n', '', 0),
    ('{{print (index .Server.Components 0).Details.Nope}}', '<nil>\n', '', 0),
    ('{{printf "%s" (index .Server.Components 0).Details.Nope}}', '%!s(<nil>)\n', '', 0),
    ('{{(index .Server.Components 0).Details.Nope | printf "%v"}}', '<nil>\n', '', 0),
    ('{{json (index .Server.Components 0).Details.Nope}}', 'null\n', '', 0),
    ('{{upper (index .Server.Components 0).Details.Nope}}', '\n', 'template: version:1:34: executing "version" at <0>: invalid value; expected string', 1),
    ('{{if (index .Server.Components 0).Details.Nope}}y{{else}}n{{end}}', 'n\n', '', 0),
    ('{{eq (index .Server.Components 0).Details.Nope "x"}}', 'false\n', '', 0),
    ('{{range (index .Server.Components 0).Details.Nope}}y{{else}}n{{end}}', 'n\n', '', 0),
    ('{{with (index .Server.Components 0).Details.Nope}}y{{else}}n{{end}}', 'n\n', '', 0),
    ('{{index (index .Server.Components 0).Details "Nope" | printf "%q"}}', '""\n', '', 0),
    ('{{not (index .Server.Components 0).Details.Nope}}', 'true\n', '', 0),
    ('{{and (index .Server.Components 0).Details.Nope 1}}', '<no value>\n', '', 0),
    ('{{or (index .Server.Components 0).Details.Nope}}', '<no value>\n', '', 0),
    ('{{join (index .Server.Components 0).Details.Nope ","}}', '\n', '', 0),
    ('{{len .Client.Platform}}', '\n', 'template: version:1:2: executing "version" at <len .Client.Platform>: error calling len: len of nil pointer', 1),
    ('{{.Client.Platform}}', '<nil>\n', '', 0),
    ('{{print .Client.Platform}}', '<nil>\n', '', 0),
    ('{{json .Client.Platform}}', 'null\n', '', 0),
    ('{{.Server.Components.Foo}}', '\n', 'template: version:1:9: executing "version" at <.Server.Components.Foo>: can\'t evaluate field Foo in type []types.ComponentVersion', 1),
    ('{{index .Server.Components 0 "x"}}', '\n', 'template: version:1:2: executing "version" at <index .Server.Components 0 "x">: error calling index: can\'t index item of type types.ComponentVersion', 1),
    ('line1\n{{.Foo}}', 'line1\n\n', 'template: version:2:2: executing "version" at <.Foo>: can\'t evaluate field Foo in type system.versionInfo', 1),
    ('line1\n  {{if .Foo}}\n{{end}}', 'line1\n  \n', 'template: version:2:7: executing "version" at <.Foo>: can\'t evaluate field Foo in type system.versionInfo', 1),
    ('a\n{{if .X}}\nb', '', 'template parsing error: template: version:3: unexpected EOF', 64),
    ('{{range $i := .Server.Components}}{{$i.Name}} {{end}}', 'Engine containerd runc docker-init \n', '', 0),
    ('{{"\\x41\\u00e9\\101|"}}', 'AéA|\n', '', 0),
    ("{{'a'}} {{'\\n'}} {{'é'}} {{'\\''}} {{'\\x41'}}", '97 10 233 39 65\n', '', 0),
    ('{{"\\q"}}', '', 'template parsing error: template: version:1: invalid syntax', 64),
    ('{{`raw\\n`}}', 'raw\\n\n', '', 0),
    ('{{0x1F}} {{0o17}} {{0b101}} {{017}} {{1_000}} {{1e3}} {{-5}} {{+5}} {{.5}} {{1.}} {{0x1p4}} {{1.5e-7}} {{-0}}', '31 15 5 15 1000 1000 -5 5 0.5 1 16 1.5e-07 0\n', '', 0),
    ('{{99999999999999999999}}', '', 'template parsing error: template: version:1: integer overflow: "99999999999999999999"', 64),
    ('{{18446744073709551615}}', '\n', 'template: version:1:2: executing "version" at <18446744073709551615>: 18446744073709551615 overflows int', 1),
    ('{{truncate "abc" 1.0}}', 'a\n', '', 0),
    ('{{truncate "abc" 1.5}}', '\n', 'template: version:1:17: executing "version" at <1.5>: expected integer; found 1.5', 1),
    ('{{truncate "abc" "1"}}', '\n', 'template: version:1:17: executing "version" at <"1">: expected integer; found "1"', 1),
    ('{{pad "a" 1}}', '\n', 'template: version:1:2: executing "version" at <pad>: wrong number of args for pad: want 3 got 2', 1),
    ('{{printf}}', '\n', 'template: version:1:2: executing "version" at <printf>: wrong number of args for printf: want at least 1 got 0', 1),
    ('{{.Server.Experimental}} {{.Server.Platform}} {{.Server.Platform.Name}}|', 'false {} |\n', '', 0),
    ('{{if .Server.Experimental}}y{{else}}n{{end}} {{if .Server.Platform}}y{{end}}', 'n y\n', '', 0),
    ('{{printf "%v|%+v|%s|%d" .Server.Components .Server.Components (index .Server.Components 1) 3}}', '[{Engine 20.10.24+dfsg1 map[ApiVersion:1.41 Arch:amd64 BuildTime:Thu May  7 21:09:36 2026 Experimental:false GitCommit:5d6db84 GoVersion:go1.19.8 KernelVersion:6.18.44-fc-v669 MinAPIVersion:1.12 Os:linux]} {containerd 1.6.20~ds1 map[GitCommit:1.6.20~ds1-1+deb12u3]} {runc 1.1.5+ds1 map[GitCommit:1.1.5+ds1-1+deb12u1]} {docker-init 0.19.0 map[GitCommit:]}]|[{Name:Engine Version:20.10.24+dfsg1 Details:map[ApiVersion:1.41 Arch:amd64 BuildTime:Thu May  7 21:09:36 2026 Experimental:false GitCommit:5d6db84 GoVersion:go1.19.8 KernelVersion:6.18.44-fc-v669 MinAPIVersion:1.12 Os:linux]} {Name:containerd Version:1.6.20~ds1 Details:map[GitCommit:1.6.20~ds1-1+deb12u3]} {Name:runc Version:1.1.5+ds1 Details:map[GitCommit:1.1.5+ds1-1+deb12u1]} {Name:docker-init Version:0.19.0 Details:map[GitCommit:]}]|{containerd 1.6.20~ds1 map[GitCommit:1.6.20~ds1-1+deb12u3]}|3\n', '', 0),
    ('{{printf "%q" (split "a,b" ",")}}', '["a" "b"]\n', '', 0),
    ('{{printf "%x|% x|%#x|%X" "hi" "hi" "hi" (split "a,b" ",")}}', '6869|68 69|0x6869|[61 62]\n', '', 0),
    ('{{printf "%5.1f|%-7.2e|%g|%G|%.3g|%10.4v" 3.14159 1234.5 1e21 1e-7 123456.0 3.14159}}', '  3.1|1.23e+03|1e+21|1E-07|1.23e+05|     3.142\n', '', 0),
    ('{{printf "%c|%q|%U|%#U|%x|%o|%O|%b" 0x1F600 65 0x1F600 65 -1 9 9 -5}}', "😀|'A'|U+1F600|U+0041 'A'|-1|11|0o11|-101\n", '', 0),
    ('{{printf "%t|%v|%s" true false true}}', 'true|false|%!s(bool=true)\n', '', 0),
    ('{{printf "%*d|%-*d|%.*f" 5 42 4 7 2 3.14159}}', '   42|7   |3.14\n', '', 0),
    ('{{printf "%[2]s %[1]s" "a" "b"}}', 'b a\n', '', 0),
    ('{{printf "%v %v" 1e6 123456789.0}} {{print 1e6 0.000001 1e-5 100000.0 1.0 -2.5}}', '1e+06 1.23456789e+08 1e+06 1e-06 1e-05 100000 1 -2.5\n', '', 0),
    ('{{print "a" 1 2 "b" "c" 3.5 true}}', 'a1 2bc3.5 true\n', '', 0),
    ('{{println}}{{println "x"}}', '\nx\n\n', '', 0),
    ('{{slice (split "a,b,c,d" ",") 1 3}} {{slice (split "a,b,c,d" ",") 1 2 3}} {{slice "héllo" 1 3}}', '[b c] [b] é\n', '', 0),
    ('{{index (split "a,b,c,d" ",") 2}} {{index "abc" 1}}', 'c 98\n', '', 0),
    ('{{html 1 "<" 2}} {{js 1 2}} {{urlquery "x" "y z"}}', '1&lt;2 1 2 xy+z\n', '', 0),
    ('{{len (split "a,b" ",")}} {{len ""}}', '2 0\n', '', 0),
    ('{{not true}} {{not .Server.Components}} {{not .Client}}', 'false false false\n', '', 0),
    ('{{and .Client.Os .Client.Arch}} {{or .Client.Platform .Client.Os}}', 'amd64 linux\n', '', 0),
    ('{{eq .Client.Os "linux" "darwin"}} {{eq .Client.Os "darwin" "linux"}} {{ne .Client.Os "linux"}}', 'true true false\n', '', 0),
    ('{{lt "abc" "abd"}} {{le 3 2}} {{gt "b" "a"}} {{ge 2 2}} {{lt -1 1}}', 'true false true true true\n', '', 0),
    ('{{range .Server.Components}}{{.Name}}{{else}}none{{end}}', 'Enginecontainerdruncdocker-init\n', '', 0),
    ('{{range $i, $c := .Server.Components}}{{if $i}}, {{end}}{{$c.Name}}{{end}}', 'Engine, containerd, runc, docker-init\n', '', 0),
    ('{{range .Server.Components}}{{range $k, $v := .Details}}{{$k}} {{end}}|{{end}}', 'ApiVersion Arch BuildTime Experimental GitCommit GoVersion KernelVersion MinAPIVersion Os |GitCommit |GitCommit |GitCommit |\n', '', 0),
    ('{{with .Server}}{{.Version}} {{$.Client.Version}}{{end}}', '20.10.24+dfsg1 28.2.2\n', '', 0),
    ('{{range .Server.Components}}{{$.Client.Os}}{{end}}', 'linuxlinuxlinuxlinux\n', '', 0),
    ('{{if and .Client.Os (not .Client.Platform)}}yes{{end}}', 'yes\n', '', 0),
    ('{{if or (eq .Client.Os "windows") (eq .Client.Arch "amd64")}}yes{{end}}', 'yes\n', '', 0),
    ('{{- "x" -}}', 'x\n', '', 0),
    ('a\n\n  {{- "b" }}  \n  c', 'ab  \n  c\n', '', 0),
    ('a {{- "b" -}} \n c', 'abc\n', '', 0),
    ('{{if true -}}   x   {{- end}}', 'x\n', '', 0),
    ('{{range $i, $e := split "a b c" " " -}}\n  {{$i}}={{$e}}\n{{end}}', '0=a\n1=b\n2=c\n\n', '', 0),
    ('{{"a"}}{{/* comment */}}{{"b"}}', 'ab\n', '', 0),
    ('{{/* multi\nline */}}x', 'x\n', '', 0),
    ('{{ .Client.Os }}', 'linux\n', '', 0),
    ('{{.Client.Os|upper}}', 'LINUX\n', '', 0),
    ('{{ $x := "a" }}{{ $x }}', 'a\n', '', 0),
    ('{{$x, $y := 1}}', '', 'template parsing error: template: version:1: too many declarations in command', 64),
    ('{{range $x, $y, $z := .Server.Components}}{{end}}', '', 'template parsing error: template: version:1: too many declarations in range', 64),
    ('{{range $x, 3 := .Server.Components}}{{end}}', '', 'template parsing error: template: version:1: range can only initialize variables', 64),
    ('{{with $x, $y := 1}}{{end}}', '', 'template parsing error: template: version:1: too many declarations in with', 64),
    ('{{.Client.Os.}}', '', 'template parsing error: template: version:1: unexpected <.> in operand', 64),
    ('{{"a".Foo}}', '', 'template parsing error: template: version:1: unexpected . after term "\\"a\\""', 64),
    ('{{(.Client).Foo}}', '\n', 'template: version:1:3: executing "version" at <.Client>: can\'t evaluate field Foo in type system.clientVersion', 1),
    ('{{(nil).Foo}}', '\n', 'template: version:1:3: executing "version" at <nil>: nil is not a command', 1),
    ('{{(1).Foo}}', '\n', 'template: version:1:3: executing "version" at <1>: can\'t evaluate field Foo in type int', 1),
    ('{{$.Foo}}', '\n', 'template: version:1:3: executing "version" at <$.Foo>: can\'t evaluate field Foo in type system.versionInfo', 1),
    ('{{ :}}', '', 'template parsing error: template: version:1: expected :=', 64),
    ('{{ = }}', '', 'template parsing error: template: version:1: unexpected "=" in command', 64),
    ('{{:= 1}}', '', 'template parsing error: template: version:1: unexpected ":=" in command', 64),
    ('{{.X :}}', '', 'template parsing error: template: version:1: expected :=', 64),
    ('{{.X =}}', '', 'template parsing error: template: version:1: unexpected "=" in operand', 64),
    ('{{1 + 2}}', '', 'template parsing error: template: version:1: illegal number syntax: "+"', 64),
    ('{{"a"|"b"}}', '', 'template parsing error: template: version:1: non executable command in pipeline stage 2', 64),
    ('{{.X|.Y|}}', '\n', 'template: version:1:2: executing "version" at <.X>: can\'t evaluate field X in type system.versionInfo', 1),
    ('{{if}}', '', 'template parsing error: template: version:1: missing value for if', 64),
    ('{{if .X}}{{else if}}{{end}}', '', 'template parsing error: template: version:1: missing value for if', 64),
    ('{{range .X}}{{else}}{{break}}{{end}}', '', 'template parsing error: template: version:1: {{break}} outside {{range}}', 64),
    ('{{range .X}}{{continue}}{{end}}', '\n', 'template: version:1:8: executing "version" at <.X>: can\'t evaluate field X in type system.versionInfo', 1),
    ('{{define "x"}}{{end}}{{define "x"}}y{{end}}', '\n', '', 0),
    ('{{define "x"}}a{{end}}{{define "x"}}b{{end}}', '', 'template parsing error: template: version:1: template: multiple definition of template "x"', 64),
    ('{{define x}}{{end}}', '', 'template parsing error: template: version:1: unexpected "x" in define clause', 64),
    ('{{template x}}', '', 'template parsing error: template: version:1: unexpected "x" in template clause', 64),
    ('{{template "x" 1 2}}', '\n', 'template: version:1:11: executing "version" at <{{template "x" 1 2}}>: template "x" not defined', 1),
    ('{{block "x"}}{{end}}', '', 'template parsing error: template: version:1: missing value for block clause', 64),
    ('{{end', '', 'template parsing error: template: version:1: unclosed action', 64),
    ('{{else}', '', "template parsing error: template: version:1: bad character U+007D '}'", 64),
    ('{{.X}}}}', '\n', 'template: version:1:2: executing "version" at <.X>: can\'t evaluate field X in type system.versionInfo', 1),
    ('{{.X}}}', '\n', 'template: version:1:2: executing "version" at <.X>: can\'t evaluate field X in type system.versionInfo', 1),
    ('{{{.X}}', '', 'template parsing error: template: version:1: unexpected "{" in command', 64),
    ('}}{{.X}}{{', '', 'template parsing error: template: version:1: unclosed action', 64),
    ('{{.Foo$}}', '', "template parsing error: template: version:1: bad character U+0024 '$'", 64),
    ('{{$ x}}', '', 'template parsing error: template: version:1: function "x" not defined', 64),
    ('{{$x.}}', '', 'template parsing error: template: version:1: undefined variable "$x"', 64),
    ('{{.Foo.Bar-baz}}', '', "template parsing error: template: version:1: bad character U+002D '-'", 64),
    ('{{..}}', '', 'template parsing error: template: version:1: unexpected <.> in operand', 64),
    ('{{.1}}', '0.1\n', '', 0),
    ('{{1.2.3}}', '', 'template parsing error: template: version:1: unexpected ".3" in operand', 64),
    ('{{0x}}', '', 'template parsing error: template: version:1: illegal number syntax: "0x"', 64),
    ('{{1e}}', '', 'template parsing error: template: version:1: illegal number syntax: "1e"', 64),
    ('{{1_}}', '', 'template parsing error: template: version:1: illegal number syntax: "1_"', 64),
    ("{{'ab'}}", '', "template parsing error: template: version:1: malformed character constant: 'ab'", 64),
    ("{{''}}", '', 'template parsing error: template: version:1: invalid syntax', 64),
    ('{{"\\x4"}}', '', 'template parsing error: template: version:1: invalid syntax', 64),
    ('{{"\\u12"}}', '', 'template parsing error: template: version:1: invalid syntax', 64),
    ('{{"\\400"}}', '', 'template parsing error: template: version:1: invalid syntax', 64),
    ('{{"\\\'"}}', '', 'template parsing error: template: version:1: invalid syntax', 64),
    ('{{\'\\"\'}}', '', 'template parsing error: template: version:1: invalid syntax', 64),
    ('{{/*x*/ }}', '', 'template parsing error: template: version:1: comment ends before closing delimiter', 64),
    ('{{ /*x*/}}', '', 'template parsing error: template: version:1: unexpected "/" in command', 64),
    ('{{/*x*/}}{{/*y*/}}z', 'z\n', '', 0),
    ('{{- /*x*/ -}}', '\n', '', 0),
    ('{{printf "%s" "a" | printf "%s-%s" "b"}}', 'b-a\n', '', 0),
    ('{{"x" | printf}}', 'x\n', '', 0),
    ('{{"x" | printf "%s"}}', 'x\n', '', 0),
    ('{{index .Server.Components 0 | len}}', '\n', 'template: version:1:31: executing "version" at <len>: error calling len: len of type types.ComponentVersion', 1),
    ('{{.Client.Os | eq "linux"}}', 'true\n', '', 0),
    ('{{.Client.Os | and 1}} {{.Client.Os | or 0}} {{0 | or 1}}', 'linux linux 1\n', '', 0),
    ('{{.Client.Os | not}}', 'false\n', '', 0),
    ('{{3 | .Client.Os}}', '\n', 'template: version:1:13: executing "version" at <.Client.Os>: Os has arguments but cannot be invoked as function', 1),
    ('{{.Client.Os | $}}', '\n', 'template: version:1:15: executing "version" at <$>: can\'t give argument to non-function $', 1),
    ('{{"x" | print 1}}', '1x\n', '', 0),
    ('{{.Foo\n', '', 'template parsing error: template: version:2: unclosed action started at version:1', 64),
    ('{{.Foo\n\n', '', 'template parsing error: template: version:3: unclosed action started at version:1', 64),
    ('a\n{{.Foo\n}}', 'a\n\n', 'template: version:2:2: executing "version" at <.Foo>: can\'t evaluate field Foo in type system.versionInfo', 1),
    ('{{.Foo\n.Bar}}', '\n', 'template: version:1:2: executing "version" at <.Foo>: can\'t evaluate field Foo in type system.versionInfo', 1),
    ('{{"a\nb"}}', '', 'template parsing error: template: version:1: unterminated quoted string', 64),
    ('{{"abc}}\n', '', 'template parsing error: template: version:1: unterminated quoted string', 64),
    ('{{if .X}}\n\n{{else}}\n{{else}}\n{{end}}', '', 'template parsing error: template: version:4: expected end; found {{else}}', 64),
    ('{{range .X}}\n{{end}}\n{{end}}', '', 'template parsing error: template: version:3: unexpected {{end}}', 64),
    ('x\n{{$y}}', '', 'template parsing error: template: version:2: undefined variable "$y"', 64),
    ('x\n\n{{foo}}', '', 'template parsing error: template: version:3: function "foo" not defined', 64),
    ('{{/* a\nb */ x}}', '', 'template parsing error: template: version:1: comment ends before closing delimiter', 64),
    ('x\n{{(\n.X}}', '', 'template parsing error: template: version:3: unclosed left paren in action started at version:2', 64),
    ('{{ \n  .Client.Os \n }}', 'linux\n', '', 0),
    ('{{- \n "x" \n -}}', 'x\n', '', 0),
    ('é{{.Foo}}', 'é\n', 'template: version:1:4: executing "version" at <.Foo>: can\'t evaluate field Foo in type system.versionInfo', 1),
    ('éé\nà{{.Foo}}', 'éé\nà\n', 'template: version:2:4: executing "version" at <.Foo>: can\'t evaluate field Foo in type system.versionInfo', 1),
    ('{{.Client.Os}}{{"é" | printf "%s%s" .Foo}}', 'linux\n', 'template: version:1:37: executing "version" at <.Foo>: can\'t evaluate field Foo in type system.versionInfo', 1),
    ('{{"\\xff"}}|{{len "\\xff"}}', '�|1\n', '', 0),
    ('{{printf "%q" "\\xff"}}', '"\\xff"\n', '', 0),
    ('{{printf "%q" "é\\u00a0\\x01\\t"}}', '"é\\u00a0\\x01\\t"\n', '', 0),
    ('{{printf "%+q" "é"}}', '"\\u00e9"\n', '', 0),
    ('{{printf "%#q" "a`b"}} {{printf "%#q" "ab"}}', '"a`b" `ab`\n', '', 0),
    ('{{printf "%x" 3.5}}', '0x1.cp+01\n', '', 0),
    ('{{printf "%s" 3}} {{printf "%d" true}} {{printf "%s" (split "a" ",")}} {{printf "%d" (split "a" ",")}}', '%!s(int=3) %!d(bool=true) [a] [%!d(string=a)]\n', '', 0),
    ('{{printf "%5t|%-6v|%3c|" true false 65}}', ' true|false |  A|\n', '', 0),
    ('{{printf "%05s|%-05d|%+.2e|% .3f|%+v" "ab" 7 12345.678 2.5 3}}', '000ab|7    |+1.23e+04| 2.500|3\n', '', 0),
    ('{{printf "%.0f %.0f %.0f %.1f" 0.5 1.5 2.5 0.25}}', '0 2 2 0.2\n', '', 0),
    ('{{printf "%e %E %.3e %.0e" 0.0 1e-10 -123.456 5.5}}', '0.000000e+00 1.000000E-10 -1.235e+02 6e+00\n', '', 0),
    ('{{printf "%g %g %g %g %g %g" 0.0001 0.00001 1e5 1e6 123456.0 1234567.0}}', '0.0001 1e-05 100000 1e+06 123456 1.234567e+06\n', '', 0),
    ('{{printf "%.2g %.10g %g" 123.0 0.1 100.0}}', '1.2e+02 0.1 100\n', '', 0),
    ('{{print 3.0 2.5e10 1e100 -0.0}}', '3 2.5e+10 1e+100 -0\n', '', 0),
    ('{{json 1e100}} {{json -0.0}} {{json 5e-324}} {{json 1.7976931348623157e308}}', '1e+100 -0 5e-324 1.7976931348623157e+308\n', '', 0),
    ('{{printf "%d %x %o %b %X" -42 -42 -42 -42 3054}}', '-42 -2a -52 -101010 BEE\n', '', 0),
    ('{{printf "%#b %#o %#X %#x" 5 8 255 0}}', '0b101 010 0XFF 0x0\n', '', 0),
    ('{{printf "%.3d|%8.3d|%-8.3d|%08d|%+08d" 7 7 7 -42 42}}', '007|     007|007     |-0000042|+0000042\n', '', 0),
    ('{{printf "%6.2s|%.1q" "abcdef" "abc"}}', '    ab|"a"\n', '', 0),
    ('{{printf "%v" (index .Server.Components 0).Details}}', 'map[ApiVersion:1.41 Arch:amd64 BuildTime:Thu May  7 21:09:36 2026 Experimental:false GitCommit:5d6db84 GoVersion:go1.19.8 KernelVersion:6.18.44-fc-v669 MinAPIVersion:1.12 Os:linux]\n', '', 0),
    ('{{printf "%s" (index .Server.Components 0).Details}}', 'map[ApiVersion:1.41 Arch:amd64 BuildTime:Thu May  7 21:09:36 2026 Experimental:false GitCommit:5d6db84 GoVersion:go1.19.8 KernelVersion:6.18.44-fc-v669 MinAPIVersion:1.12 Os:linux]\n', '', 0),
    ('{{printf "%q" (index .Server.Components 0).Details}}', 'map["ApiVersion":"1.41" "Arch":"amd64" "BuildTime":"Thu May  7 21:09:36 2026" "Experimental":"false" "GitCommit":"5d6db84" "GoVersion":"go1.19.8" "KernelVersion":"6.18.44-fc-v669" "MinAPIVersion":"1.12" "Os":"linux"]\n', '', 0),
    ('{{printf "%d" (index .Server.Components 0).Details}}', 'map[%!d(string=ApiVersion):%!d(string=1.41) %!d(string=Arch):%!d(string=amd64) %!d(string=BuildTime):%!d(string=Thu May  7 21:09:36 2026) %!d(string=Experimental):%!d(string=false) %!d(string=GitCommit):%!d(string=5d6db84) %!d(string=GoVersion):%!d(string=go1.19.8) %!d(string=KernelVersion):%!d(string=6.18.44-fc-v669) %!d(string=MinAPIVersion):%!d(string=1.12) %!d(string=Os):%!d(string=linux)]\n', '', 0),
    ('{{index (index .Server.Components 0).Details "Os" | printf "%q"}}', '"linux"\n', '', 0),
    ('{{printf "%T" (index .Server.Components 0).Details}} {{printf "%T" .Server.Components}} {{printf "%T" (split "a" ",")}}', 'map[string]string []types.ComponentVersion []string\n', '', 0),
    ('{{printf "%v" (index .Server.Components 1)}}', '{containerd 1.6.20~ds1 map[GitCommit:1.6.20~ds1-1+deb12u3]}\n', '', 0),
    ('{{printf "%+v" (index .Server.Components 3)}}', '{Name:docker-init Version:0.19.0 Details:map[GitCommit:]}\n', '', 0),
    ('{{printf "%s|%v" .Server.Experimental .Server.Experimental}}', '%!s(bool=false)|false\n', '', 0),
    ('{{printf "%%d %d %%" 5}}', '%d 5 %\n', '', 0),
    ('{{printf "%-5%|"}}', '%|\n', '', 0),
    ('{{printf "%d %d" 1 2 3 4}}', '1 2%!(EXTRA int=3, int=4)\n', '', 0),
    ('{{printf "%[3]d %d" 1 2}}', '%!d(BADINDEX) 1\n', '', 0),
    ('{{printf "%[0]d" 1}}', '%!d(BADINDEX)\n', '', 0),
    ('{{printf "%.*d" "x" 5}}', '%!(BADPREC)5\n', '', 0),
    ('{{printf "%*d" "x" 5}}', '%!(BADWIDTH)5\n', '', 0),
    ('{{printf "%!d"}}', '%!!(MISSING)d\n', '', 0),
    ('{{printf "%#v" 1}}', '1\n', '', 0),
    ('{{printf "%#v" "a"}}', '"a"\n', '', 0),
    ('{{html "a\\x00b"}} {{js "é\\x01"}} {{urlquery "\\x00"}}', 'a�b é\\u0001 %00\n', '', 0),
    ('{{title "ǆabc"}} {{title "hello\\tworld\\nagain"}} {{title "o\'neil x.y"}}', "ǅabc Hello          World\nAgain O'Neil X.Y\n", '', 0),
    ('{{upper "ﬁ"}} {{lower "İ"}}', 'ﬁ i\n', '', 0),
    ('{{split "a b" " "}} {{split "abc" "b"}} {{split "aaa" "a"}}', '[a b] [a c] [   ]\n', '', 0),
    ('{{join (split "a,b" ",") ""}}', 'ab\n', '', 0),
    ('{{pad "x" 0 0}}|{{pad "x" -1 2}}|', 'x|\n', 'template: version:1:18: executing "version" at <pad "x" -1 2>: error calling pad: strings: negative Repeat count', 1),
    ('{{truncate "" 0}}|{{truncate "abc" 0}}|{{truncate "abc" 3}}|{{truncate "abc" 4}}|', '||abc|abc|\n', '', 0),
    ('{{json "é"}} {{json "\\u00e9\\u2029"}} {{json "\\x1f\\x7f"}}', '"é" "é\\u2029" "\\u001f\x7f"\n', '', 0),
    ('{{json (index .Server.Components 0)}}', '{"Name":"Engine","Version":"20.10.24+dfsg1","Details":{"ApiVersion":"1.41","Arch":"amd64","BuildTime":"Thu May  7 21:09:36 2026","Experimental":"false","GitCommit":"5d6db84","GoVersion":"go1.19.8","KernelVersion":"6.18.44-fc-v669","MinAPIVersion":"1.12","Os":"linux"}}\n', '', 0),
    ('{{json .Server.Experimental}}', 'false\n', '', 0),
    ('{{json 0.1}} {{json 100.0}} {{json 1e20}} {{json 12345678901234567890.0}}', '0.1 100 100000000000000000000 12345678901234567000\n', '', 0),
    ("{{json 'a'}} {{json 0x10}}", '97 16\n', '', 0),
    ('{{-/* c */}}', '', 'template parsing error: template: version:1: illegal number syntax: "-"', 64),
    ('{{- /* c */}}x', 'x\n', '', 0),
    ('x {{- /* c */}}', 'x\n', '', 0),
    ('{{/* c */ -}}  x', 'x\n', '', 0),
    ('{{/* c */-}}', '', 'template parsing error: template: version:1: comment ends before closing delimiter', 64),
    ('{{-}}', '', 'template parsing error: template: version:1: illegal number syntax: "-"', 64),
    ('{{- -}}', '', 'template parsing error: template: version:1: illegal number syntax: "-"', 64),
    ('{{ - }}', '', 'template parsing error: template: version:1: illegal number syntax: "-"', 64),
    ('{{.Client.Os|printf "%s"}}', 'linux\n', '', 0),
    ('{{\t.Client.Os\t}}', 'linux\n', '', 0),
    ('{{.Client.Os\\r\n}}', '', "template parsing error: template: version:1: bad character U+005C '\\'", 64),
    ('a \t\n{{- "b"}}', 'ab\n', '', 0),
    ('{{"\\x00"|len}}', '1\n', '', 0),
    ('{{printf "%s" "\\x00"}}|', '\x00|\n', '', 0),
    ('{{.Client.Os | printf "%s" | printf "[%s]"}}', '[linux]\n', '', 0),
    ('{{$x := .Client}}{{with $x}}{{.Os}}{{end}}', 'linux\n', '', 0),
    ('{{range $i, $e := .Server.Components}}{{$i}}{{end}}{{$i}}', '', 'template parsing error: template: version:1: undefined variable "$i"', 64),
    ('{{with $x := 1}}{{end}}{{$x}}', '', 'template parsing error: template: version:1: undefined variable "$x"', 64),
    ('{{$x := 1}}{{$x := 2}}{{$x}}', '2\n', '', 0),
    ('{{range .Server.Components}}{{$c := .Name}}{{end}}{{$c}}', '', 'template parsing error: template: version:1: undefined variable "$c"', 64),
    ('{{if $x := .Client.Os}}{{$x}}{{end}}', 'linux\n', '', 0),
    ('{{range $k, $v := .Server.Components}}{{$k}}{{end}}', '0123\n', '', 0),
    ('{{range $k := (index .Server.Components 0).Details}}{{$k}},{{end}}', '1.41,amd64,Thu May  7 21:09:36 2026,false,5d6db84,go1.19.8,6.18.44-fc-v669,1.12,linux,\n', '', 0),
    ('{{index .Server.Components 1 | printf "%v"}}', '{containerd 1.6.20~ds1 map[GitCommit:1.6.20~ds1-1+deb12u3]}\n', '', 0),
    ('{{(index .Server.Components 1).Details.GitCommit | len}}', '20\n', '', 0),
    ('{{.Server.Components | len}}', '4\n', '', 0),
    ('{{.Server.Components | json}}', '[{"Name":"Engine","Version":"20.10.24+dfsg1","Details":{"ApiVersion":"1.41","Arch":"amd64","BuildTime":"Thu May  7 21:09:36 2026","Experimental":"false","GitCommit":"5d6db84","GoVersion":"go1.19.8","KernelVersion":"6.18.44-fc-v669","MinAPIVersion":"1.12","Os":"linux"}},{"Name":"containerd","Version":"1.6.20~ds1","Details":{"GitCommit":"1.6.20~ds1-1+deb12u3"}},{"Name":"runc","Version":"1.1.5+ds1","Details":{"GitCommit":"1.1.5+ds1-1+deb12u1"}},{"Name":"docker-init","Version":"0.19.0","Details":{"GitCommit":""}}]\n', '', 0),
    ('{{.Client.Os | html}}', 'linux\n', '', 0),
    ('{{and .Client.Os .Client.Arch .Client.Context}}', 'default\n', '', 0),
    ('{{or}}', '\n', 'template: version:1:2: executing "version" at <or>: wrong number of args for or: want at least 1 got 0', 1),
    ('{{not}}', '\n', 'template: version:1:2: executing "version" at <not>: wrong number of args for not: want 1 got 0', 1),
    ('{{not 1 2}}', '\n', 'template: version:1:2: executing "version" at <not>: wrong number of args for not: want 1 got 2', 1),
    ('{{len}}', '\n', 'template: version:1:2: executing "version" at <len>: wrong number of args for len: want 1 got 0', 1),
    ('{{index}}', '\n', 'template: version:1:2: executing "version" at <index>: wrong number of args for index: want at least 1 got 0', 1),
    ('{{index .Server.Components}}', '[{Engine 20.10.24+dfsg1 map[ApiVersion:1.41 Arch:amd64 BuildTime:Thu May  7 21:09:36 2026 Experimental:false GitCommit:5d6db84 GoVersion:go1.19.8 KernelVersion:6.18.44-fc-v669 MinAPIVersion:1.12 Os:linux]} {containerd 1.6.20~ds1 map[GitCommit:1.6.20~ds1-1+deb12u3]} {runc 1.1.5+ds1 map[GitCommit:1.1.5+ds1-1+deb12u1]} {docker-init 0.19.0 map[GitCommit:]}]\n', '', 0),
    ('{{slice .Client.Os}}', 'linux\n', '', 0),
    ('{{eq .Client.Os}}', '\n', 'template: version:1:2: executing "version" at <eq .Client.Os>: error calling eq: missing argument for comparison', 1),
    ('{{ne 1}}', '\n', 'template: version:1:2: executing "version" at <ne>: wrong number of args for ne: want 2 got 1', 1),
    ('{{ne 1 2 3}}', '\n', 'template: version:1:2: executing "version" at <ne>: wrong number of args for ne: want 2 got 3', 1),
    ('{{lt 1}}', '\n', 'template: version:1:2: executing "version" at <lt>: wrong number of args for lt: want 2 got 1', 1),
    ('{{html}}|{{js}}|{{urlquery}}|', '|||\n', '', 0),
    ('{{call .Client.Os}}', '\n', 'template: version:1:2: executing "version" at <call .Client.Os>: error calling call: non-function .Client.Os of type string', 1),
    ('{{call nil}}', '\n', 'template: version:1:2: executing "version" at <call nil>: error calling call: call of nil', 1),
    ('{{print nil}}', '<nil>\n', '', 0),
    ('{{printf nil}}', '\n', 'template: version:1:9: executing "version" at <nil>: cannot assign nil to string', 1),
    ('{{printf "%s" nil nil}}', '%!s(<nil>)%!(EXTRA <nil>)\n', '', 0),
    ('{{len nil}}', '\n', 'template: version:1:2: executing "version" at <len nil>: error calling len: reflect: call of reflect.Value.Type on zero Value', 1),
    ('{{slice nil}}', '\n', 'template: version:1:2: executing "version" at <slice nil>: error calling slice: slice of untyped nil', 1),
    ('{{not nil}}', 'true\n', '', 0),
    ('{{and nil 1}}', '<no value>\n', '', 0),
    ('{{or nil 1}}', '1\n', '', 0),
    ('{{eq nil nil}}', 'true\n', '', 0),
    ('{{json nil}}', 'null\n', '', 0),
    ('{{upper nil}}', '\n', 'template: version:1:8: executing "version" at <nil>: cannot assign nil to string', 1),
    ('{{join nil ","}}', '\n', '', 0),
    ('{{pad nil 1 1}}', '\n', 'template: version:1:6: executing "version" at <nil>: cannot assign nil to string', 1),
    ('{{title "ǆemal"}}', 'ǅemal\n', '', 0),
    ('{{$.Server.Components | len}}', '4\n', '', 0),
    ('{{range $i, $c := .Server.Components}}{{if eq $i 0}}{{continue}}{{end}}{{$c.Name}},{{end}}', 'containerd,runc,docker-init,\n', '', 0),
    ('{{range .Server.Components}}{{range .Details}}{{break}}{{end}}{{.Name}},{{end}}', 'Engine,containerd,runc,docker-init,\n', '', 0),
    ('{{range .Server.Components}}x{{else}}{{break}}{{end}}', '', 'template parsing error: template: version:1: {{break}} outside {{range}}', 64),
    ('{{with .Client}}{{break}}{{end}}', '', 'template parsing error: template: version:1: {{break}} outside {{range}}', 64),
    ('{{range .Server.Components}}{{with .Name}}{{break}}{{end}}{{end}}|', '|\n', '', 0),
    ('{{range .Server.Components}}{{if true}}{{continue}}{{end}}x{{end}}|', '|\n', '', 0),
    ('{{template "a" 1}}{{define "a"}}{{.}}{{template "b" .}}{{end}}{{define "b"}}+{{.}}{{end}}', '1+1\n', '', 0),
    ('{{define "a"}}{{end}}{{define "a"}}{{end}}ok', 'ok\n', '', 0),
    ('{{define "a"}} {{end}}{{define "a"}}x{{end}}{{template "a"}}', 'x\n', '', 0),
    ('{{block "a" .}}{{end}}{{define "a"}}y{{end}}', 'y\n', '', 0),
    ('{{define "a"}}y{{end}}{{block "a" .}}z{{end}}', '', 'template parsing error: template: version:1: template: multiple definition of template "a"', 64),
]


@pytest.mark.parametrize(("fmt", "stdout", "stderr", "rc"), VERSION_CASES)
def test_docker_version_format(fmt: str, stdout: str, stderr: str, rc: int) -> None:
    assert docker_version_format(fmt) == (stdout, stderr, rc)


NETWORKS: list[dict[str, str]] = [
    {'CreatedAt': '2026-11-27 19:55:45.483206469 +0000 UTC', 'Driver': 'host', 'ID': 'c2f8ef85f255', 'IPv4': 'false', 'IPv6': 'false', 'Internal': 'false', 'Labels': '', 'Name': 'host', 'Scope': 'local'},
    {'CreatedAt': '2026-11-27 19:55:45.482246707 +0000 UTC', 'Driver': 'null', 'ID': '65cabf702f70', 'IPv4': 'false', 'IPv6': 'false', 'Internal': 'false', 'Labels': '', 'Name': 'none', 'Scope': 'local'},
]


class NetworkContext:
    """docker's *network.networkContext: every column is a niladic method."""

    __go_type__ = "*network.networkContext"

    def __init__(self, d: dict[str, str]) -> None:
        self._d = d

    def __go_json__(self) -> dict[str, str]:
        return self._d

    def ID(self) -> str:
        return self._d["ID"]

    def Name(self) -> str:
        return self._d["Name"]

    def Driver(self) -> str:
        return self._d["Driver"]

    def Scope(self) -> str:
        return self._d["Scope"]

    def IPv4(self) -> str:
        return self._d["IPv4"]

    def IPv6(self) -> str:
        return self._d["IPv6"]

    def Internal(self) -> str:
        return self._d["Internal"]

    def Labels(self) -> str:
        return self._d["Labels"]

    def Label(self, name: str) -> str:
        return ""

    def CreatedAt(self) -> str:
        return self._d["CreatedAt"]


NETWORK_HEADER = {
    "ID": "NETWORK ID",
    "Name": "NAME",
    "Driver": "DRIVER",
    "Scope": "SCOPE",
    "IPv4": "IPV4",
    "IPv6": "IPV6",
    "Internal": "INTERNAL",
    "Labels": "LABELS",
    "CreatedAt": "CREATED AT",
}


def docker_network_ls(fmt: str) -> tuple[str, str, int]:
    try:
        out = format_items(fmt, [NetworkContext(d) for d in NETWORKS], NETWORK_HEADER)
    except TemplateError as e:
        return "", str(e), 1
    return out, "", 0


NETWORK_CASES: list[tuple[str, str, str, int]] = [
    ('table {{.Name}}\\t{{.Driver}}', 'NAME      DRIVER\nhost      host\nnone      null\n', '', 0),
    ('table {{.Name}}', 'NAME\nhost\nnone\n', '', 0),
    ('table {{.Name}}\\t', 'NAME      \nhost      \nnone      \n', '', 0),
    ('table {{.Name}}\\t{{.Driver}}\\t', 'NAME      DRIVER    \nhost      host      \nnone      null      \n', '', 0),
    ('table {{.Foo}}', '', 'template parsing error: template: :1:2: executing "" at <.Foo>: can\'t evaluate field Foo in type *network.networkContext', 1),
    ('table {{.Name}}: {{.Driver}}', 'NAME: DRIVER\nhost: host\nnone: null\n', '', 0),
    ('table {{upper .Name}}\\t{{pad .Driver 2 2}}|', 'NAME        DRIVER  |\nHOST        host  |\nNONE        null  |\n', '', 0),
    ('table    {{.Name}}   ', 'NAME\nhost\nnone\n', '', 0),
    ('tablefoo {{.Name}}', 'foo NAME\nfoo host\nfoo none\n', '', 0),
    ('{{.Name}}\\t{{.Driver}}', 'host\thost\nnone\tnull\n', '', 0),
    ('table {{.Name}}\\t{{if eq .Name "host"}}averyveryverylongcell{{end}}\\t{{.Scope}}', 'NAME                              SCOPE\nhost      averyveryverylongcell   local\nnone                              local\n', '', 0),
    ('table {{.Name}}\\n{{.Driver}}', 'NAME\nDRIVER\nhost\nhost\nnone\nnull\n', '', 0),
    ('table {{.Labels}}\\t{{.Label "x"}}\\t{{.CreatedAt}}', 'LABELS    x         CREATED AT\n                    2026-11-27 19:55:45.483206469 +0000 UTC\n                    2026-11-27 19:55:45.482246707 +0000 UTC\n', '', 0),
    ('table {{.Label "com.docker-compose.project_name"}}\\t{{.Name}}', 'project name   NAME\n               host\n               none\n', '', 0),
    ('table {{json .Name}}\\t{{title .Driver}}\\t{{truncate .ID 3}}\\t{{split .Name "o"}}\\t{{join (split .Name "o") ","}}', 'NAME      DRIVER    NETWORK ID   NAME      NAME\n"host"    Host      c2f          [h st]    h,st\n"none"    Null      65c          [n ne]    n,ne\n', '', 0),
    ('json', '{"CreatedAt":"2026-11-27 19:55:45.483206469 +0000 UTC","Driver":"host","ID":"c2f8ef85f255","IPv4":"false","IPv6":"false","Internal":"false","Labels":"","Name":"host","Scope":"local"}\n{"CreatedAt":"2026-11-27 19:55:45.482246707 +0000 UTC","Driver":"null","ID":"65cabf702f70","IPv4":"false","IPv6":"false","Internal":"false","Labels":"","Name":"none","Scope":"local"}\n', '', 0),
    ('{{json .}}', '{"CreatedAt":"2026-11-27 19:55:45.483206469 +0000 UTC","Driver":"host","ID":"c2f8ef85f255","IPv4":"false","IPv6":"false","Internal":"false","Labels":"","Name":"host","Scope":"local"}\n{"CreatedAt":"2026-11-27 19:55:45.482246707 +0000 UTC","Driver":"null","ID":"65cabf702f70","IPv4":"false","IPv6":"false","Internal":"false","Labels":"","Name":"none","Scope":"local"}\n', '', 0),
    ('table {{.ID}}\\t{{.Name}}\\t{{.Driver}}\\t{{.Scope}}\\t{{.IPv4}}\\t{{.IPv6}}\\t{{.Internal}}', 'NETWORK ID     NAME      DRIVER    SCOPE     IPV4      IPV6      INTERNAL\nc2f8ef85f255   host      host      local     false     false     false\n65cabf702f70   none      null      local     false     false     false\n', '', 0),
    ('table {{.Name}}\\t\\t{{.Driver}}', 'NAME                DRIVER\nhost                host\nnone                null\n', '', 0),
    ('table \\t{{.Name}}', '          NAME\n          host\n          none\n', '', 0),
    ('table {{.Name}}\\t{{.Name}}{{.Name}}{{.Name}}{{.Name}}\\t{{.Driver}}', 'NAME      NAMENAMENAMENAME   DRIVER\nhost      hosthosthosthost   host\nnone      nonenonenonenone   null\n', '', 0),
    ('table {{if eq .Name "host"}}{{.Name}}\\t{{end}}{{.Driver}}', 'DRIVER\nhost      host\nnull\n', '', 0),
    ('table {{if eq .Name "none"}}x\\ty\\tz{{else}}a\\tb{{end}}', 'a         b\na         b\nx         y         z\n', '', 0),
    ('table {{if eq .Name "none"}}x\\ty\\tz\\t{{else}}a\\tb{{end}}', 'a         b\na         b\nx         y         z         \n', '', 0),
    ('table 日本語\\t{{.Name}}\\tcafé\\t{{.Driver}}', '日本語    NAME      café      DRIVER\n日本語    host      café      host\n日本語    none      café      null\n', '', 0),
    ('table {{.Name}}\\\\t{{.Driver}}', 'NAME\\     DRIVER\nhost\\     host\nnone\\     null\n', '', 0),
    ('table {{.Name}}\\v{{.Driver}}', 'NAME\\vDRIVER\nhost\\vhost\nnone\\vnull\n', '', 0),
    ('table {{range $i := 3}}{{$i}}\\t{{end}}', '0         1         2         \n0         1         2         \n0         1         2         \n', '', 0),
    ('{{.Name}}\\n', 'host\n\nnone\n\n', '', 0),
    ('table {{.Nope}}', '', 'template parsing error: template: :1:2: executing "" at <.Nope>: can\'t evaluate field Nope in type *network.networkContext', 1),
    ('table {{.Label}}', '', 'template parsing error: template: :1:2: executing "" at <.Label>: wrong number of args for Label: want 1 got 0', 1),
    ('table {{.Name "x"}}', '', 'template parsing error: template: :1:2: executing "" at <.Name>: wrong number of args for Name: want 0 got 1', 1),
    ('table {{printf "%-20s|" .Name}}\\t{{.Driver}}', 'NAME                |   DRIVER\nhost                |   host\nnone                |   null\n', '', 0),
    ('table {{.Name | printf "%s!"}}', 'NAME!\nhost!\nnone!\n', '', 0),
    ('table {{json .}}', '\n{"CreatedAt":"2026-11-27 19:55:45.483206469 +0000 UTC","Driver":"host","ID":"c2f8ef85f255","IPv4":"false","IPv6":"false","Internal":"false","Labels":"","Name":"host","Scope":"local"}\n{"CreatedAt":"2026-11-27 19:55:45.482246707 +0000 UTC","Driver":"null","ID":"65cabf702f70","IPv4":"false","IPv6":"false","Internal":"false","Labels":"","Name":"none","Scope":"local"}\n', '', 0),
    ('table {{.Name}}{{"\\n"}}', '', 'template parsing error: template: :1: unterminated quoted string', 1),
    ('table {{"x\\ty"}}\\t{{.Name}}', 'x         y         NAME\nx         y         host\nx         y         none\n', '', 0),
    ('table {{with .Name}}{{.}}{{end}}\\t{{.Driver}}', 'NAME      DRIVER\nhost      host\nnone      null\n', '', 0),
    ('{{.Name}} {{.Driver}}', 'host host\nnone null\n', '', 0),
    ('table {{.CreatedAt}}', 'CREATED AT\n2026-11-27 19:55:45.483206469 +0000 UTC\n2026-11-27 19:55:45.482246707 +0000 UTC\n', '', 0),
    ('table{{.Name}}', 'NAME\nhost\nnone\n', '', 0),
    ('table  ', '\n\n\n', '', 0),
    ('{{if eq .Name "host"}}{{.Nope}}{{end}}', '', 'template parsing error: template: :1:24: executing "" at <.Nope>: can\'t evaluate field Nope in type *network.networkContext', 1),
]


@pytest.mark.parametrize(("fmt", "stdout", "stderr", "rc"), NETWORK_CASES)
def test_docker_network_ls_format(fmt: str, stdout: str, stderr: str, rc: int) -> None:
    assert docker_network_ls(fmt) == (stdout, stderr, rc)
