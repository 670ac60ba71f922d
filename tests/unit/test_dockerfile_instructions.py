"""Typed instructions, their flags and errors, expansion, and stage planning."""

from __future__ import annotations

import pytest

from dockyard.build.dockerfile.errors import DockerfileParseError
from dockyard.build.dockerfile.instructions import (
    Add,
    Arg,
    ArgDef,
    Cmd,
    Copy,
    Entrypoint,
    Env,
    Expander,
    Expose,
    From,
    Health,
    Healthcheck,
    Instruction,
    KeyValue,
    Label,
    Maintainer,
    Mount,
    Onbuild,
    Run,
    Shell,
    StopSignal,
    User,
    Volume,
    Workdir,
    parse_mount,
)
from dockyard.build.dockerfile.stages import (
    parse_dockerfile,
    parse_onbuild_trigger,
)
from dockyard.errors import InvalidArgument, NotFound
from dockyard.oci.platform import Platform


def one(line: str) -> Instruction:
    df = parse_dockerfile("FROM scratch\n" + line + "\n")
    assert len(df.stages[0].commands) == 1
    return df.stages[0].commands[0]


def error(text: str) -> DockerfileParseError:
    with pytest.raises(DockerfileParseError) as info:
        parse_dockerfile(text)
    return info.value


# -- every instruction ---------------------------------------------------------


def test_from() -> None:
    df = parse_dockerfile("FROM --platform=linux/arm64 alpine:3.19 AS Build\nFROM build\n")
    f = df.stages[0].from_
    assert isinstance(f, From)
    assert (f.base_name, f.stage_name, f.platform) == ("alpine:3.19", "build", "linux/arm64")
    assert [s.display_name for s in df.stages] == ["build", "stage-1"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("FROM a b\n", "FROM requires either one or three arguments"),
        ("FROM a AS 1x\n", 'invalid name for build stage: "1x", name can\'t start'),
        ("FROM --platfrm=x a\n", "unknown flag: --platfrm (did you mean platform?)"),
        ("FROM --plat=x a\n", "unknown flag: --plat"),
        ("RUN x\n", "no build stage in current context"),
    ],
)
def test_from_errors(text: str, message: str) -> None:
    err = error(text)
    assert message in str(err)
    assert err.line == 1


def test_run_shell_and_exec_forms() -> None:
    r = one("RUN echo  hi")
    assert isinstance(r, Run)
    assert (r.cmd_line, r.prepend_shell) == (["echo  hi"], True)
    r = one('RUN ["echo", "hi"]')
    assert isinstance(r, Run)
    assert (r.cmd_line, r.prepend_shell) == (["echo", "hi"], False)
    assert (r.network, r.security, r.mounts) == ("default", "sandbox", [])


def test_run_heredoc_files() -> None:
    r = one("RUN <<-EOF bash\n\techo hi\nEOF")
    assert isinstance(r, Run)
    assert r.cmd_line == ["<<-EOF bash"]
    assert [(f.name, f.data, f.chomp) for f in r.files] == [("EOF", "\techo hi\n", True)]


def test_run_mounts() -> None:
    r = one(
        "RUN --mount=type=cache,target=/root/.cache,id=pip,sharing=locked,mode=0700,uid=1 "
        "--mount=type=secret,id=tok,env=TOKEN,required "
        "--mount=type=bind,from=build,source=/out,target=/in,rw "
        "--mount=type=tmpfs,target=/t,size=64m "
        "--mount=type=ssh "
        "--network=none --security=insecure make"
    )
    assert isinstance(r, Run)
    assert r.mounts == [
        Mount(
            "cache",
            target="/root/.cache",
            readonly=False,
            cache_id="pip",
            cache_sharing="locked",
            mode=0o700,
            uid=1,
        ),
        Mount("secret", cache_id="tok", env="TOKEN", required=True, readonly=True),
        Mount("bind", from_="build", source="/out", target="/in", readonly=False),
        Mount("tmpfs", target="/t", readonly=False, size_limit=64 << 20),
        Mount("ssh", readonly=True),
    ]
    assert (r.network, r.security) == ("none", "insecure")
    assert sorted(r.flags_used) == ["mount", "network", "security"]


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("type=nfs", 'unsupported mount type "nfs"'),
        ("type=cach", 'unsupported mount type "cach" (did you mean cache?)'),
        ("type=bind,size=1m", "unexpected key 'size' for mount type 'bind'"),
        ("type=cache,sharing=open", 'unsupported sharing value "open"'),
        ("type=bind,mode=0700", 'mode not allowed for "bind" type mounts'),
        ("type=secret", "invalid secret mount. one of source, target required"),
        ("type=secret,id=a,source=b", "both source and id can't be set"),
        ("type=bind,sharing=shared", "invalid cache sharing set for bind mount"),
        ("type=bind,required", "unexpected key 'required' for mount type 'bind'"),
        ("type=bind,bogus", "invalid field 'bogus' must be a key=value pair"),
        ("type=bind,targt=/x", "unexpected key 'targt' in 'targt=/x' (did you mean target?)"),
        ("type=cache,uid=x", "invalid value x for uid"),
        ("type=bind,ro=maybe", "invalid value for ro: maybe"),
        ("type=bind,from=$X", "'from' doesn't support variable expansion"),
    ],
)
def test_run_mount_errors(spec: str, message: str) -> None:
    err = error(f"FROM a\nRUN --mount={spec} true\n")
    assert message in err.detail
    assert err.line == 2 and err.instruction == "RUN"


def test_run_mount_expanded_later() -> None:
    r = one("RUN --mount=type=$T,target=${DIR} true")
    assert isinstance(r, Run)
    assert r.mounts == []  # values with variables wait for expansion
    ex = Expander({"T": "cache", "DIR": "/c"})
    expanded = r.expand(ex)
    assert expanded.mounts == [Mount("cache", target="/c", readonly=False)]
    assert ex.used == {"T", "DIR"}
    with pytest.raises(DockerfileParseError, match='unsupported mount type "bad"'):
        r.expand(Expander({"T": "bad", "DIR": "/c"}))


def test_run_flag_errors() -> None:
    assert 'invalid network mode "bridge"' in str(error("FROM a\nRUN --network=bridge x\n"))
    assert 'security "root" is not valid' in str(error("FROM a\nRUN --security=root x\n"))
    assert "unknown flag: --mounts (did you mean mount?)" in str(
        error("FROM a\nRUN --mounts=x y\n")
    )
    assert "missing a value on flag: --network" in str(error("FROM a\nRUN --network x\n"))
    assert "duplicate flag specified: --network" in str(
        error("FROM a\nRUN --network=none --network=host x\n")
    )


def test_parse_mount_direct() -> None:
    assert parse_mount("target=/x") == Mount("bind", target="/x", readonly=True)
    assert parse_mount('"type=cache","target=/a,b"') == Mount(
        "cache", target="/a,b", readonly=False
    )


def test_cmd_entrypoint_shell() -> None:
    c = one('CMD ["a", "b"]')
    assert isinstance(c, Cmd) and c.cmd_line == ["a", "b"] and not c.prepend_shell
    e = one("ENTRYPOINT exec  top -b")
    assert isinstance(e, Entrypoint) and e.cmd_line == ["exec  top -b"] and e.prepend_shell
    s = one('SHELL ["powershell", "-command"]')
    assert isinstance(s, Shell) and s.shell == ["powershell", "-command"]
    assert "SHELL requires the arguments to be in JSON form" in str(error("FROM a\nSHELL sh -c\n"))
    assert "SHELL requires at least one argument" in str(error("FROM a\nSHELL []\n"))


def test_label_env_maintainer() -> None:
    label = one('LABEL a=1 "b c"="d e" f="g\\"h"')
    assert isinstance(label, Label)
    assert label.labels == [
        KeyValue("a", "1"),
        KeyValue('"b c"', '"d e"'),
        KeyValue("f", '"g\\"h"'),
    ]
    env = one("ENV PATH /usr/bin:$PATH")
    assert isinstance(env, Env) and env.env == [KeyValue("PATH", "/usr/bin:$PATH", True)]
    expanded = env.expand(Expander({"PATH": "/bin"}))
    assert expanded.env == [KeyValue("PATH", "/usr/bin:/bin", True)]
    labels = label.expand(Expander({}))
    assert labels.labels == [KeyValue("a", "1"), KeyValue("b c", "d e"), KeyValue("f", 'g"h')]
    m = one("MAINTAINER Jane Doe <j@d>")
    assert isinstance(m, Maintainer) and m.maintainer == "Jane Doe <j@d>"


def test_expose_sorted_then_expanded() -> None:
    e = one("EXPOSE 8080 $PORTS 80/udp")
    assert isinstance(e, Expose) and e.ports == ["$PORTS", "80/udp", "8080"]
    assert e.expand(Expander({"PORTS": "1 2"})).ports == ["1", "2", "80/udp", "8080"]


def test_copy_and_add_flags() -> None:
    c = one(
        "COPY --from=build --chown=app:app --chmod=0755 --link --parents "
        "--exclude=*.md --exclude=tmp a b /dst/"
    )
    assert isinstance(c, Copy)
    assert (c.from_, c.chown, c.chmod, c.link, c.parents) == (
        "build",
        "app:app",
        "0755",
        True,
        True,
    )
    assert (c.excludes, c.sources, c.dest) == (["*.md", "tmp"], ["a", "b"], "/dst/")
    a = one(
        "ADD --checksum=sha256:abc --keep-git-dir=false --chown=1 --link=false "
        "https://x/y.tgz /opt/"
    )
    assert isinstance(a, Add)
    assert (a.checksum, a.keep_git_dir, a.chown, a.link, a.unpack) == (
        "sha256:abc",
        False,
        "1",
        False,
        None,
    )
    assert one("ADD x y").keep_git_dir is None  # type: ignore[attr-defined]


def test_copy_heredoc_sources_and_expansion() -> None:
    c = one("COPY <<-EOF <<'RAW' $SRC ${DST}\n\tline $X\nEOF\n$X stays\nRAW")
    assert isinstance(c, Copy)
    assert c.sources == ["$SRC"]
    assert [(s.path, s.data, s.expand) for s in c.source_contents] == [
        ("EOF", "line $X\n", True),
        ("RAW", "$X stays\n", False),
    ]
    ex = Expander({"SRC": "s", "DST": "/d", "X": "x"})
    e = c.expand(ex)
    assert (e.sources, e.dest) == (["s"], "/d")
    assert [s.data for s in e.source_contents] == ["line x\n", "$X stays\n"]
    assert ex.used == {"SRC", "DST", "X"}


@pytest.mark.parametrize(
    ("line", "message"),
    [
        (
            "COPY a",
            "COPY requires at least two arguments, but only one was provided. "
            "Destination could not be determined",
        ),
        ("ADD a", "ADD requires at least two arguments, but only one was provided"),
        ("COPY a <<EOF\nx\nEOF", "COPY cannot accept a heredoc as a destination"),
        ("COPY --chown a b", "missing a value on flag: --chown"),
        ("COPY --link=maybe a b", "expecting boolean value for flag --link, not: maybe"),
        ("COPY --link= a b", "missing a value on flag: --link"),
        ("COPY --keep-git-dir a b", "unknown flag: --keep-git-dir"),
        ("ADD --parents a b", "unknown flag: --parents"),
    ],
)
def test_copy_add_errors(line: str, message: str) -> None:
    assert message in str(error("FROM a\n" + line + "\n"))


def test_volume_user_workdir_stopsignal() -> None:
    v = one('VOLUME ["/a", "/b"]')
    assert isinstance(v, Volume) and v.volumes == ["/a", "/b"]
    assert one("VOLUME /a /b").volumes == ["/a", "/b"]  # type: ignore[attr-defined]
    assert "VOLUME specified can not be an empty string" in str(error('FROM a\nVOLUME [""]\n'))
    u = one("USER ${U}:grp")
    assert isinstance(u, User) and u.expand(Expander({"U": "me"})).user == "me:grp"
    w = one("WORKDIR /app/$SUB")
    assert isinstance(w, Workdir) and w.expand(Expander({"SUB": "x"})).path == "/app/x"
    s = one("STOPSIGNAL SIG$N")
    assert isinstance(s, StopSignal) and s.expand(Expander({"N": "TERM"})).signal == "SIGTERM"


@pytest.mark.parametrize("cmd", ["MAINTAINER", "WORKDIR", "USER", "STOPSIGNAL"])
def test_exactly_one_argument(cmd: str) -> None:
    assert str(error(f"FROM a\n{cmd}\n")).endswith(f"{cmd} requires exactly one argument")


@pytest.mark.parametrize(
    "cmd", ["ENV", "LABEL", "ONBUILD", "HEALTHCHECK", "EXPOSE", "VOLUME", "ARG"]
)
def test_at_least_one_argument(cmd: str) -> None:
    assert str(error(f"FROM a\n{cmd}\n")).endswith(f"{cmd} requires at least one argument")


def test_arg() -> None:
    a = one('ARG A B=2 C="x y" D=')
    assert isinstance(a, Arg)
    assert a.args == [ArgDef("A"), ArgDef("B", "2"), ArgDef("C", '"x y"'), ArgDef("D", "")]
    assert a.expand(Expander({})).args[2] == ArgDef("C", "x y")
    named = one("ARG $N=${V}")
    assert isinstance(named, Arg)
    assert named.expand(Expander({"N": "n", "V": "v"})).args == [ArgDef("$N", "v")]
    assert "ARG names can not be blank" in str(error("FROM a\nARG =x\n"))


def test_arg_doc_comment() -> None:
    df = parse_dockerfile("# VERSION the version to build\nARG VERSION=1\nFROM a\n")
    assert df.global_args[0].args == [ArgDef("VERSION", "1", "the version to build")]


def test_onbuild() -> None:
    o = one("ONBUILD RUN echo hi")
    assert isinstance(o, Onbuild) and o.expression == "RUN echo hi"
    o = one("onbuild COPY <<EOF /x\nbody\nEOF")
    assert isinstance(o, Onbuild) and o.expression == "COPY <<EOF /x\nbody\nEOF"
    assert "Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed" in str(
        error("FROM a\nONBUILD ONBUILD RUN x\n")
    )
    assert "FROM isn't allowed as an ONBUILD trigger" in str(error("FROM a\nONBUILD from x\n"))
    assert "MAINTAINER isn't allowed as an ONBUILD trigger" in str(
        error("FROM a\nONBUILD MAINTAINER x\n")
    )
    trigger = parse_onbuild_trigger("RUN echo hi")
    assert isinstance(trigger, Run) and trigger.cmd_line == ["echo hi"]


def test_healthcheck() -> None:
    h = one(
        "HEALTHCHECK --interval=5s --timeout=3s --start-period=1m --start-interval=2s "
        "--retries=3 CMD curl -f x"
    )
    assert isinstance(h, Healthcheck)
    assert h.health == Health(
        ["CMD-SHELL", "curl -f x"], 5 * 10**9, 3 * 10**9, 60 * 10**9, 2 * 10**9, 3
    )
    h = one('HEALTHCHECK CMD ["curl", "x"]')
    assert h.health.test == ["CMD", "curl", "x"]  # type: ignore[attr-defined]
    assert one("HEALTHCHECK none").health == Health(["NONE"])  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("HEALTHCHECK NONE x", "HEALTHCHECK NONE takes no arguments"),
        ("HEALTHCHECK CMD", "Missing command after HEALTHCHECK CMD"),
        ("HEALTHCHECK CONNECT TCP 7000", 'Unknown type "CONNECT" in HEALTHCHECK (try CMD)'),
        ("HEALTHCHECK --interval=1ns CMD x", 'Interval "interval" cannot be less than 1ms'),
        ("HEALTHCHECK --timeout=soon CMD x", 'time: invalid duration "soon"'),
        ("HEALTHCHECK --retries=-1 CMD x", "--retries cannot be negative (-1)"),
        ("HEALTHCHECK --retries=x CMD x", 'strconv.ParseInt: parsing "x": invalid syntax'),
        ("HEALTHCHECK --bogus=1 CMD x", "unknown flag: --bogus"),
    ],
)
def test_healthcheck_errors(line: str, message: str) -> None:
    assert message in str(error("FROM a\n" + line + "\n"))


def test_unknown_instruction_error() -> None:
    err = error("FROM a\nRUN x\nFOOBAR bar\n")
    assert str(err) == "dockerfile parse error on line 3: unknown instruction: FOOBAR"
    assert (err.line, err.instruction, err.filename) == (3, "FOOBAR", "Dockerfile")
    assert str(error("FROM a\nFOO x\n")).endswith("unknown instruction: FOO (did you mean FROM?)")
    assert str(error("FROM a\nCOPPY a b\n")).endswith(
        "unknown instruction: COPPY (did you mean COPY?)"
    )
    assert str(error("FROM a\nruun x\n")).endswith("unknown instruction: ruun (did you mean run?)")


def test_error_is_invalid_argument_with_filename() -> None:
    with pytest.raises(InvalidArgument) as info:
        parse_dockerfile("FROM a\nEXPOSE\n", "build/Dockerfile.dev")
    assert info.value.filename == "build/Dockerfile.dev"  # type: ignore[attr-defined]


# -- stages and plans ------------------------------------------------------------

MULTI = """\
ARG BASE=alpine
ARG TAG
FROM ${BASE}:${TAG:-3.19} AS deps
RUN true
FROM golang AS build
COPY --from=deps /x /x
RUN --mount=type=bind,from=tools,target=/t true
FROM busybox AS tools
FROM build AS test
FROM scratch AS unused
FROM scratch
COPY --from=build /bin/app /app
COPY --from=tools /t /t
COPY --from=nginx:1.25 /etc/nginx /etc/nginx
"""


def test_stages_and_global_args() -> None:
    df = parse_dockerfile(MULTI)
    assert [(s.index, s.name, s.base_name) for s in df.stages] == [
        (0, "deps", "${BASE}:${TAG:-3.19}"),
        (1, "build", "golang"),
        (2, "tools", "busybox"),
        (3, "test", "build"),
        (4, "unused", "scratch"),
        (5, "", "scratch"),
    ]
    assert [a.args for a in df.global_args] == [[ArgDef("BASE", "alpine")], [ArgDef("TAG")]]
    assert df.stage_by_name("TOOLS") is df.stages[2]


def test_plan_default_target() -> None:
    plan = parse_dockerfile(MULTI).plan({"TAG": "3.20"})
    assert plan.meta_args["BASE"] == "alpine" and plan.meta_args["TAG"] == "3.20"
    assert plan.stages[0].base == "alpine:3.20"
    assert plan.target == 5
    assert plan.needed == [0, 2, 1, 5]
    assert plan.levels == [[0, 2], [1], [5]]
    assert plan.stages[5].images == ["nginx:1.25"]
    assert sorted(plan.stages[1].deps) == [0, 2]


def test_plan_target_and_from_stage() -> None:
    plan = parse_dockerfile(MULTI).plan({}, target="TEST")
    assert plan.stages[0].base == "alpine:3.19"
    assert plan.stages[3].base_stage == 1
    assert plan.needed == [0, 2, 1, 3]
    with pytest.raises(NotFound, match='target stage "tset" could not be found'):
        parse_dockerfile(MULTI).plan({}, target="tset")


def test_plan_platform_args() -> None:
    df = parse_dockerfile("FROM --platform=$BUILDPLATFORM golang AS b\nFROM alpine:$TARGETARCH\n")
    plan = df.plan(
        {},
        target_platform=Platform("linux", "arm64", "v8"),
        build_platform=Platform("linux", "amd64"),
    )
    assert plan.meta_args["TARGETPLATFORM"] == "linux/arm64/v8"
    assert plan.meta_args["BUILDARCH"] == "amd64"
    assert plan.stages[0].platform == Platform("linux", "amd64")
    assert plan.stages[1].base == "alpine:arm64"
    assert plan.needed == [1]


def test_plan_errors() -> None:
    # parsing accepts it; the plan refuses the variable
    df = parse_dockerfile("FROM a\nCOPY --from=$X a b\n")
    with pytest.raises(
        DockerfileParseError, match="variable expansion is not supported for --from"
    ):
        df.plan({})
    with pytest.raises(DockerfileParseError, match="invalid stage index 3"):
        parse_dockerfile("FROM a\nCOPY --from=3 a b\n").plan({})
    with pytest.raises(DockerfileParseError, match="circular dependency detected on stage: a"):
        parse_dockerfile("FROM x AS a\nCOPY --from=b / /\nFROM x AS b\nCOPY --from=a / /\n").plan(
            {}
        )
    with pytest.raises(DockerfileParseError, match=r"base name \(\$NONE\) should not be blank"):
        parse_dockerfile("FROM $NONE\n").plan({})


def test_from_refers_only_to_earlier_stages() -> None:
    plan = parse_dockerfile("FROM later\nFROM alpine AS later\n").plan({})
    assert plan.stages[0].base_stage is None and plan.stages[0].base == "later"
