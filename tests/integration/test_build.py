"""``dockyard build``: the image it makes, the cache and why it misses, stages, mounts,
failures, ``builder prune``.

Golden values:
- BuildKit's history and config rules are from moby/buildkit at 73ed6825
  (frontend/dockerfile/dockerfile2llb/convert.go: ``dispatch*`` and
  ``commitToHistory``; ``emptyImage`` in image.go; the history-time rule of
  exporter/containerimage/writer.go ``normalizeLayersAndHistory``).
- ``build_golden/classic_docker.json`` is what docker 20.10's classic builder
  made of ``build_golden/golden.Dockerfile`` (DOCKER_BUILDKIT=0); the config must
  match it except for what BuildKit does differently (ArgsEscaped, Image). The
  comparison with BuildKit itself (docker 20.10's CLI still has its own BuildKit
  client) is tests/interop/test_build_same_image.py.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import Dockyard, Result, needs_root
from tests.integration._network_support import NetDockyard, cleanup, links_on

pytestmark = needs_root

GOLDEN = Path(__file__).parent / "build_golden"
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
COMMANDS = {
    "build": "build:cmd_build",
    "image build": "build:cmd_build",
    "builder build": "build:cmd_build",
    "builder prune": "build:cmd_builder_prune",
}
# Runs the real CLI entry point with the build commands registered (the lead adds
# them to dockyard/cli/main.py; updating the table again is harmless).
_RUNNER = (
    f"import sys; from dockyard.cli import main as m; m.COMMANDS.update({json.dumps(COMMANDS)});"
    " m.GROUPS.add('builder');"
    " sys.exit(m.main(sys.argv[1:]))"
)


def run(dy: Dockyard, *args: str, input: bytes | None = None, check: bool = True) -> Result:
    proc = subprocess.run(
        [sys.executable, "-c", _RUNNER, *args],
        input=input,
        capture_output=True,
        env=dy.env,
        timeout=300,
    )
    result = Result(proc.returncode, proc.stdout.decode(), proc.stderr.decode())
    if check and result.code != 0:
        raise AssertionError(f"dockyard {' '.join(args)} exited {result.code}\n{result.err}")
    return result


def build(dy: Dockyard, ctx: Path, *args: str, check: bool = True) -> Result:
    return run(dy, "build", "--progress", "plain", *args, str(ctx), check=check)


def config_of(dy: Dockyard, ref: str) -> dict:  # type: ignore[type-arg]
    image_id = dy("image", "inspect", "--format", "{{.Id}}", ref).out.strip()
    blob = Path(dy.root) / "blobs" / "sha256" / image_id.removeprefix("sha256:")
    return json.loads(blob.read_text())  # type: ignore[no-any-return]


def image_id(dy: Dockyard, ref: str) -> str:
    return dy("image", "inspect", "--format", "{{.Id}}", ref).out.strip()


def cat(dy: Dockyard, ref: str, *paths: str) -> str:
    return dy("run", "--rm", "--network", "none", "--entrypoint", "cat", ref, *paths).out


@pytest.fixture
def dy(tmp_path: Path) -> Iterator[NetDockyard]:
    """A root whose default bridge is this test's own (RUN steps attach to it)."""
    from tests.conftest import _unmount_below

    d = NetDockyard(tmp_path / "root", tmp_path / "run")
    yield d
    leftovers = cleanup(d)
    _unmount_below(tmp_path)
    assert not leftovers, leftovers


@pytest.fixture
def golden_ctx(tmp_path: Path) -> Path:
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    shutil.copy(GOLDEN / "golden.Dockerfile", ctx / "Dockerfile")
    (ctx / "hello.txt").write_text("hello\n")
    return ctx


def cache_records(dy: Dockyard) -> list[dict]:  # type: ignore[type-arg]
    """The engine's ``/system/df`` BuildCache records."""
    code = (
        "import json; from dockyard.engine import Engine; from dockyard.config import"
        " resolve_options; print(json.dumps(Engine(resolve_options()).system.disk_usage()"
        "['BuildCache']))"
    )
    proc = subprocess.run([sys.executable, "-c", code], env=dy.env, capture_output=True, check=True)
    return json.loads(proc.stdout)  # type: ignore[no-any-return]


def step_lines(out: str, word: str) -> list[str]:
    return [line for line in out.splitlines() if word in line]


def assert_nothing_left(dy: Dockyard) -> None:
    """No build directory, mount, runtime container, active snapshot or lease."""
    build_dir = Path(dy.run_root) / "build"
    assert not build_dir.exists() or not [p for p in build_dir.iterdir() if p.name != "fsops"]
    with open("/proc/mounts") as f:
        assert str(dy.run_root) + "/build" not in f.read()
    netns = Path(dy.run_root) / "netns"
    assert not netns.exists() or not list(netns.iterdir())
    if isinstance(dy, NetDockyard):
        assert links_on(dy.bridge) == []
    state = Path(dy.run_root) / "runtime" / "runc"
    assert not state.exists() or not list(state.iterdir())
    db = sqlite3.connect(Path(dy.root) / "dockyard.db")
    try:
        assert db.execute("SELECT key FROM snapshots WHERE kind != 'committed'").fetchall() == []
        assert db.execute("SELECT id FROM leases").fetchall() == []
        if db.execute("SELECT name FROM sqlite_master WHERE name = 'network_endpoints'").fetchone():
            assert db.execute("SELECT * FROM network_endpoints").fetchall() == []
    finally:
        db.close()


# ----------------------------------------------------------------- the image


BUILDKIT_HISTORY = [
    ("ENV APP_HOME=/app PATH=/app/bin:" + DEFAULT_PATH, True),
    ("ARG VERSION=1.0", True),
    ("LABEL org.example.version=1.0 maintainer=dock yard", True),
    ("WORKDIR /app", False),
    ("COPY hello.txt ./ # buildkit", False),
    ('RUN |1 VERSION=1.0 /bin/sh -c echo "built $VERSION" > built.txt # buildkit', False),
    ("USER nobody", True),
    ("EXPOSE [53/udp 8080/tcp]", True),
    ("VOLUME [/data]", True),
    (
        "HEALTHCHECK {Test:[CMD-SHELL wget -q -O- http://localhost:8080/ || exit 1]"
        " Interval:30s Timeout:3s StartPeriod:0s StartInterval:0s Retries:2}",
        True,
    ),
    ("STOPSIGNAL SIGTERM", True),
    ("SHELL [/bin/sh -ec]", True),
    ('ENTRYPOINT ["/bin/sh" "-c"]', True),
    ('CMD ["echo hello"]', True),
]


def test_config_and_history_match_docker(dy: Dockyard, busybox: str, golden_ctx: Path) -> None:
    build(dy, golden_ctx, "-t", "golden:dy")
    config = config_of(dy, "golden:dy")
    classic = json.loads((GOLDEN / "classic_docker.json").read_text())
    expected = {k: v for k, v in classic["config"].items() if v not in (None, "", False, [], {})}
    expected.pop("Image")  # BuildKit leaves it out
    expected["ArgsEscaped"] = True  # BuildKit's dispatchCmd sets it on Linux too
    assert config["config"] == expected
    new = config["history"][1:]
    assert [(h["created_by"], h.get("empty_layer", False)) for h in new] == BUILDKIT_HISTORY
    assert {h["comment"] for h in new} == {"buildkit.dockerfile.v0"}
    assert config["history"][0]["comment"] == "Imported from -"
    assert len(config["rootfs"]["diff_ids"]) == 4  # base, WORKDIR, COPY, RUN
    assert config["created"] == new[-1]["created"]
    # metadata steps before the first layer take its time; later ones the previous layer's
    assert new[0]["created"] == new[3]["created"]
    assert new[-1]["created"] == new[5]["created"]
    assert cat(dy, "golden:dy", "/app/hello.txt", "/app/built.txt") == "hello\nbuilt 1.0\n"
    out = dy("run", "--rm", "--network", "none", "--entrypoint", "id", "golden:dy").out
    assert out.startswith("uid=65534")


def test_scratch_entrypoint_and_onbuild(dy: Dockyard, busybox: str, tmp_path: Path) -> None:
    parent = tmp_path / "parent"
    parent.mkdir()
    (parent / "Dockerfile").write_text(
        'FROM busybox\nCMD ["inherited"]\nONBUILD RUN echo triggered > /trigger\n'
        "ONBUILD ENV FROM_TRIGGER=yes\n"
    )
    build(dy, parent, "-t", "parent")
    assert config_of(dy, "parent")["config"]["OnBuild"] == [
        "RUN echo triggered > /trigger",
        "ENV FROM_TRIGGER=yes",
    ]
    child = tmp_path / "child"
    child.mkdir()
    (child / "Dockerfile").write_text("FROM parent\nENTRYPOINT echo hi\n")
    out = build(dy, child, "-t", "child").err
    assert "[2/2] ONBUILD RUN echo triggered > /trigger" in out
    config = config_of(dy, "child")["config"]
    assert "OnBuild" not in config
    assert "FROM_TRIGGER=yes" in config["Env"]
    assert config["Entrypoint"] == ["/bin/sh", "-c", "echo hi"]
    assert "Cmd" not in config  # ENTRYPOINT resets the inherited CMD
    assert cat(dy, "child", "/trigger") == "triggered\n"
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    (scratch / "Dockerfile").write_text("FROM scratch\nENV A=b\n")
    build(dy, scratch, "-t", "empty")
    config = config_of(dy, "empty")
    assert config["config"] == {
        "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "A=b"],
        "WorkingDir": "/",
    }
    assert config["rootfs"]["diff_ids"] == []


# ----------------------------------------------------------------- the cache


def test_rebuild_cached_and_miss_reasons(dy: Dockyard, busybox: str, golden_ctx: Path) -> None:
    first = build(dy, golden_ctx, "-t", "app")
    assert len(step_lines(first.err, "cache miss:")) == 3
    first_id = image_id(dy, "app")

    again = build(dy, golden_ctx, "-t", "app")
    assert len(step_lines(again.err, " CACHED")) == 3
    assert "cache miss" not in again.err
    assert image_id(dy, "app") == first_id  # same layers, same times: the same image

    (golden_ctx / "hello.txt").write_text("changed\n")
    changed = build(dy, golden_ctx, "-t", "app")
    assert "cache miss: file hello.txt changed" in changed.err
    assert "cache miss: parent changed" in changed.err
    assert " CACHED" in changed.err  # WORKDIR still cached
    assert cat(dy, "app", "/app/hello.txt") == "changed\n"

    arg = build(dy, golden_ctx, "-t", "app", "--build-arg", "VERSION=2.0")
    assert 'cache miss: build arg VERSION changed ("1.0" -> "2.0")' in arg.err
    assert cat(dy, "app", "/app/built.txt") == "built 2.0\n"

    nocache = build(dy, golden_ctx, "-t", "app", "--build-arg", "VERSION=2.0", "--no-cache")
    assert len(step_lines(nocache.err, "cache miss: --no-cache")) == 3

    # the cache outlives the image and serves another tag and Dockerfile name
    dy("rmi", "app")
    shutil.copy(golden_ctx / "Dockerfile", golden_ctx / "Other.Dockerfile")
    other = build(
        dy, golden_ctx, "-t", "other", "-f", str(golden_ctx / "Other.Dockerfile"),
        "--build-arg", "VERSION=2.0",
    )  # fmt: skip
    assert "cache miss" not in other.err
    assert_nothing_left(dy)


def test_dockerignore_and_instruction_change(dy: Dockyard, busybox: str, tmp_path: Path) -> None:
    ctx = tmp_path / "ctx"
    (ctx / "src").mkdir(parents=True)
    (ctx / "src" / "a.txt").write_text("a")
    (ctx / "src" / "skip.log").write_text("log")
    (ctx / ".dockerignore").write_text("**/*.log\n")
    (ctx / "src" / "b.md").write_text("b")
    (ctx / "Dockerfile").write_text(
        "FROM busybox\nCOPY --exclude=*.md src /x/\nRUN ls /x > /x.list\n"
    )
    build(dy, ctx, "-t", "excl")
    assert cat(dy, "excl", "/x.list") == "a.txt\n"
    (ctx / "Dockerfile").write_text(
        "FROM busybox\nCOPY --chown=nobody:nogroup --chmod=600 src/a.txt /owned/\n"
        "RUN stat -c '%u:%g %a' /owned /owned/a.txt > /modes\n"
    )
    build(dy, ctx, "-t", "owned")
    assert cat(dy, "owned", "/modes") == "65534:65534 755\n65534:65534 600\n"
    (ctx / "src" / "b.md").unlink()
    (ctx / "Dockerfile").write_text("FROM busybox\nCOPY src /src\nRUN ls /src > /list\n")
    build(dy, ctx, "-t", "ign")
    assert cat(dy, "ign", "/list") == "a.txt\n"
    (ctx / "src" / "skip.log").write_text("changed log")  # ignored: still cached
    assert "cache miss" not in build(dy, ctx, "-t", "ign").err
    (ctx / "src" / "new.txt").write_text("n")
    assert "cache miss: file src/new.txt added" in build(dy, ctx, "-t", "ign").err
    (ctx / "Dockerfile").write_text("FROM busybox\nCOPY src /src\nRUN ls -1 /src > /list\n")
    out = build(dy, ctx, "-t", "ign").err
    assert "cache miss: instruction changed" in out


# ----------------------------------------------------------------- stages


def test_multi_stage_copy_from_and_target(dy: Dockyard, busybox: str, tmp_path: Path) -> None:
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text(
        "FROM busybox AS base\nRUN echo a > /a\n"
        "FROM busybox AS broken\nRUN exit 7\n"
        "FROM busybox AS other\nRUN echo o > /o\n"
        "FROM scratch\nCOPY --from=base /a /b\nCOPY --from=other /o /o\n"
        "COPY --from=base /bin/busybox /bin/cat\n"
        "COPY --from=busybox:latest /etc/group /group\n"
    )
    out = build(dy, ctx, "-t", "multi").err
    assert "[base 2/2] RUN echo a > /a" in out
    assert "[other 2/2] RUN echo o > /o" in out
    assert "exit 7" not in out  # the unused stage is skipped
    assert "[stage-3 1/4] COPY --from=base /a /b" in out
    assert cat(dy, "multi", "/b", "/o") == "a\no\n"
    assert cat(dy, "multi", "/group").startswith("root:x:0:")
    target = build(dy, ctx, "-t", "onlybase", "--target", "base")
    assert "CACHED" in target.err and "stage-3" not in target.err
    assert cat(dy, "onlybase", "/a") == "a\n"
    missing = build(dy, ctx, "--target", "nosuch", check=False)
    assert missing.code == 1
    assert 'target stage "nosuch" could not be found' in missing.err


# ----------------------------------------------------------------- RUN mounts


def test_independent_stages_run_in_parallel(dy: Dockyard, busybox: str, tmp_path: Path) -> None:
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text(
        "FROM busybox AS one\nRUN sleep 1 && echo 1 > /one\n"
        "FROM busybox AS two\nRUN sleep 1 && echo 2 > /two\n"
        "FROM busybox\nCOPY --from=one /one /one\nCOPY --from=two /two /two\n"
    )
    out = build(dy, ctx, "-t", "par").err.splitlines()
    headers = {i: line.split()[0] for i, line in enumerate(out) if "] RUN sleep 1" in line}
    assert len(headers) == 2
    done = [
        i
        for i, line in enumerate(out)
        if line.split()[:2] in ([n, "DONE"] for n in headers.values())
    ]
    assert max(headers) < min(done)  # both steps started before either ended
    assert cat(dy, "par", "/one", "/two") == "1\n2\n"


def test_cache_mount_secret_bind_tmpfs(dy: Dockyard, busybox: str, tmp_path: Path) -> None:
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "data.txt").write_text("from the context\n")
    (ctx / "Dockerfile").write_text(
        "FROM busybox\n"
        "RUN --mount=type=cache,target=/cache echo x >> /cache/f && wc -l < /cache/f > /count\n"
        "RUN --mount=type=secret,id=tok wc -c < /run/secrets/tok > /secretlen\n"
        "RUN --mount=type=bind,target=/ctx cat /ctx/data.txt > /copied\n"
        "RUN --mount=type=tmpfs,target=/scratch touch /scratch/x && ls /scratch > /tmpls\n"
    )
    secret = tmp_path / "token"
    secret.write_text("supersecretvalue")
    args = ("-t", "mounts", "--secret", f"id=tok,src={secret}")
    build(dy, ctx, *args)
    assert cat(dy, "mounts", "/count", "/secretlen", "/copied", "/tmpls") == (
        "1\n16\nfrom the context\nx\n"
    )
    build(dy, ctx, *args, "--no-cache")
    assert cat(dy, "mounts", "/count") == "2\n"  # the cache directory persisted
    listing = dy(
        "run", "--rm", "--network", "none", "--entrypoint", "ls", "mounts", "/"
    ).out.split()
    for gone in ("cache", "ctx", "scratch", "run"):
        assert gone not in listing
    for blob in (Path(dy.root) / "blobs" / "sha256").iterdir():
        assert b"supersecretvalue" not in blob.read_bytes()
    (ctx / "data.txt").write_text("changed\n")
    out = build(dy, ctx, *args).err
    assert "cache miss: file /ctx:data.txt changed" in out
    assert_nothing_left(dy)


def test_cache_mount_sharing_and_from(dy: NetDockyard, busybox: str, tmp_path: Path) -> None:
    """Two stages run at once on one cache id: ``locked`` takes turns, ``private``
    gives the second its own directory, ``shared`` lets them overlap; ``from``
    fills a new cache directory."""
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    probe = (
        "if [ -e /c/busy ]; then echo overlap; else echo alone; fi > /res;"
        " ls /c >> /res; touch /c/busy /c/$STAGE; sleep 1; rm -f /c/busy"
    )

    def dockerfile(sharing: str, probe: str = probe) -> str:
        return (
            "FROM busybox AS seed\nRUN mkdir /seed && echo seeded > /seed/x\n"
            + "".join(
                f"FROM busybox AS {st}\nENV STAGE={st}\n"
                f"RUN --mount=type=cache,id={sharing},target=/c,sharing={sharing} {probe}\n"
                for st in ("a", "b")
            )
            + "FROM busybox\nCOPY --from=a /res /a\nCOPY --from=b /res /b\n"
            "RUN --mount=type=cache,target=/f,from=seed,source=/seed cat /f/x > /fromseed\n"
        )

    (ctx / "Dockerfile").write_text(dockerfile("locked"))
    build(dy, ctx, "-t", "locked")
    results = sorted(cat(dy, "locked", "/a").split() + cat(dy, "locked", "/b").split())
    assert results.count("overlap") == 0 and results.count("alone") == 2
    assert ("a" in results) != ("b" in results)  # the second saw the first's file
    assert cat(dy, "locked", "/fromseed") == "seeded\n"

    (ctx / "Dockerfile").write_text(dockerfile("private"))
    build(dy, ctx, "-t", "private")
    # never in use by both at once (a busy directory is not handed out again); when
    # the two ran at the same time each started empty
    a_saw, b_saw = cat(dy, "private", "/a").split(), cat(dy, "private", "/b").split()
    assert a_saw[0] == b_saw[0] == "alone"
    assert a_saw == ["alone"] or b_saw == ["alone"]

    # shared: each waits (up to 10 s) to see the other's file in the directory
    wait = (
        "touch /c/$STAGE; for i in $(seq 200); do [ -e /c/a ] && [ -e /c/b ] && break;"
        " sleep 0.05; done; ls /c > /res"
    )
    (ctx / "Dockerfile").write_text(dockerfile("shared", wait))
    build(dy, ctx, "-t", "shared")
    assert cat(dy, "shared", "/a").split() == cat(dy, "shared", "/b").split() == ["a", "b"]
    records = [ln.split() for ln in dy("system", "df", "-v").out.splitlines()]
    mounts = [r for r in records if len(r) > 1 and r[1] == "exec.cachemount"]
    assert len(mounts) == 5  # locked, private (two), shared, the seeded one
    assert_nothing_left(dy)


def test_heredoc_script_and_proxy_args(dy: NetDockyard, busybox: str, tmp_path: Path) -> None:
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text(
        "FROM busybox\nRUN <<EOF\n#!/bin/sh\necho \"script $0\" > /script\nEOF\n"
        "RUN env | grep -i _proxy | sort > /proxy\n"
    )
    proxy = "http://proxy.invalid:3128"
    build(dy, ctx, "-t", "script", "--build-arg", f"HTTP_PROXY={proxy}")
    assert cat(dy, "script", "/script") == "script /dev/pipes/EOF\n"
    assert cat(dy, "script", "/proxy") == f"HTTP_PROXY={proxy}\nhttp_proxy={proxy}\n"
    listing = dy("run", "--rm", "--network", "none", "--entrypoint", "ls", "script", "/dev")
    assert "pipes" not in listing.out.split()
    history = json.dumps(config_of(dy, "script")["history"])
    assert "proxy.invalid" not in history
    # another proxy: the steps stay cached (BuildKit leaves proxies out of the key)
    out = build(dy, ctx, "-t", "script", "--build-arg", "HTTP_PROXY=http://other.invalid").err
    assert "cache miss" not in out
    # the script's text is in the key
    (ctx / "Dockerfile").write_text(
        "FROM busybox\nRUN <<EOF\n#!/bin/sh\necho \"changed $0\" > /script\nEOF\n"
    )
    build(dy, ctx, "-t", "script")
    assert cat(dy, "script", "/script") == "changed /dev/pipes/EOF\n"
    assert_nothing_left(dy)


# ----------------------------------------------------------------- failures


def test_failing_run_tags_nothing_leaves_nothing(
    dy: Dockyard, busybox: str, tmp_path: Path
) -> None:
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text("FROM busybox\nRUN echo before\nRUN echo out && exit 3\n")
    result = build(dy, ctx, "-t", "broken", check=False)
    assert result.code == 1
    assert (
        'ERROR: failed to solve: process "/bin/sh -c echo out && exit 3" did not complete'
        " successfully: exit code: 3" in result.err
    )
    assert "Dockerfile:3" in result.err
    assert "   3 | >>> RUN echo out && exit 3" in result.err
    assert "#5 0." in result.err and " out\n" in result.err  # the step's output
    assert dy("images", "-q", "broken").out.strip() == ""
    assert_nothing_left(dy)
    again = build(dy, ctx, "-t", "broken", check=False)
    assert again.code == 1 and "#4 CACHED" in again.err  # the good step stayed cached


def test_bad_input_errors(dy: Dockyard, busybox: str, tmp_path: Path) -> None:
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text("FROM busybox\nCOPY nothere /x\n")
    result = build(dy, ctx, check=False)
    assert result.code == 1
    assert '"/nothere": not found' in result.err
    assert "Dockerfile:2" in result.err
    (ctx / "Dockerfile").write_text("FROM busybox\nFOO bar\n")
    result = build(dy, ctx, check=False)
    assert result.code == 1
    assert "ERROR: failed to solve: dockerfile parse error on line 2: unknown instruction: FOO" in (
        result.err
    )
    assert "   2 | >>> FOO bar" in result.err
    result = build(dy, ctx, "-t", "Bad:Tag", check=False)
    assert result.code == 125
    assert 'invalid argument "Bad:Tag" for "-t, --tag" flag: invalid reference format' in result.err
    assert_nothing_left(dy)


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("COPY --foo a b", "dockerfile parse error on line 2: unknown flag: --foo"),
        ("COPY ../x /x", "forbidden path outside the build context: ../x"),
        ("ENV", "dockerfile parse error on line 2: ENV requires at least one argument"),
        ("ENV onlyname", "dockerfile parse error on line 2: ENV must have two arguments"),
        ("ENV =x", "dockerfile parse error on line 2: ENV names can not be blank"),
        ("ARG =x", "dockerfile parse error on line 2: ARG names can not be blank"),
        ("RUN --mount=type=bogus true",
         'dockerfile parse error on line 2: unsupported mount type "bogus"'),
        # not a stage, so an image; the registry is a closed loopback port
        ("COPY --from=127.0.0.1:9/nostage /a /b",
         "127.0.0.1:9/nostage: failed to resolve source metadata for 127.0.0.1:9/nostage:latest"),
    ],
)  # fmt: skip
def test_errors_name_file_line_and_instruction(
    dy: NetDockyard, busybox: str, tmp_path: Path, line: str, message: str
) -> None:
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text(f"FROM busybox\n{line}\nRUN true\n")
    result = build(dy, ctx, "-t", "never", check=False)
    assert result.code == 1
    assert f"ERROR: failed to solve: {message}" in result.err
    assert "Dockerfile:2\n" in result.err
    assert f"   2 | >>> {line}\n" in result.err
    assert dy("images", "-q", "never").out == ""
    assert_nothing_left(dy)


def test_unknown_base_names_its_from_line(dy: NetDockyard, busybox: str, tmp_path: Path) -> None:
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text("FROM busybox AS ok\nRUN true\nFROM 127.0.0.1:9/missing\n")
    result = build(dy, ctx, check=False)
    assert result.code == 1
    assert " > [internal] load metadata for 127.0.0.1:9/missing:latest:" in result.err
    assert "Dockerfile:3\n" in result.err and "   3 | >>> FROM 127.0.0.1:9/missing" in result.err
    result = build(dy, ctx, "--target", "nope", check=False)
    assert result.code == 1
    assert 'ERROR: failed to solve: target stage "nope" could not be found' in result.err
    assert_nothing_left(dy)


# ----------------------------------------------------------------- CLI details


def test_run_network_default_is_the_bridge(dy: NetDockyard, busybox: str, tmp_path: Path) -> None:
    """RUN gets what ``docker run`` gets on the default bridge: an address on it, a
    default route through its gateway (reachable); ``none`` has only loopback, and
    ``host`` sees the host's devices. Nothing stays attached after a step."""
    import http.server
    import threading

    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text(
        "FROM busybox\nRUN ip -o -4 addr show eth0 > /addr && ip route > /route"
        " && cat /etc/resolv.conf > /resolv\n"
    )
    build(dy, ctx, "-t", "net")
    gateway = str(dy.subnet[1])
    assert f" inet {dy.subnet[2]}/24" in cat(dy, "net", "/addr") or str(dy.subnet) in cat(
        dy, "net", "/route"
    )
    assert f"default via {gateway} dev eth0" in cat(dy, "net", "/route")
    assert links_on(dy.bridge) == []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = b"from the host\n"
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer((gateway, 0), Handler)  # the test's bridge
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        port = server.server_address[1]
        (ctx / "Dockerfile").write_text(
            f"FROM busybox\nRUN wget -q -O /got http://{gateway}:{port}/\n"
        )
        build(dy, ctx, "-t", "fetched")
        assert cat(dy, "fetched", "/got") == "from the host\n"
    finally:
        server.shutdown()
        server.server_close()
    (ctx / "Dockerfile").write_text("FROM busybox\nRUN ls /sys/class/net > /links\n")
    build(dy, ctx, "-t", "none", "--network", "none")
    assert cat(dy, "none", "/links").split() == ["lo"]
    build(dy, ctx, "-t", "host", "--network", "host")
    assert dy.bridge in cat(dy, "host", "/links").split()
    (ctx / "Dockerfile").write_text("FROM busybox\nRUN --network=none ls /sys/class/net > /l\n")
    build(dy, ctx, "-t", "flag")
    assert cat(dy, "flag", "/l").split() == ["lo"]
    assert_nothing_left(dy)


def test_copy_parents_link_and_add_chmod(dy: NetDockyard, busybox: str, tmp_path: Path) -> None:
    ctx = tmp_path / "ctx"
    for d in ("x", "y", "x/y", "src/x"):
        (ctx / d).mkdir(parents=True, exist_ok=True)
    for f in ("x/a.txt", "y/a.txt", "x/y/b.txt", "x/y/c.txt", "src/x/d.txt", "src/e.txt"):
        (ctx / f).write_text(f + "\n")
    (ctx / "tool.sh").write_text("echo tool\n")
    (ctx / "Dockerfile").write_text(
        "FROM busybox\n"
        "COPY ./x/a.txt ./y/a.txt /no_parents/\n"
        "COPY --parents ./x/a.txt ./y/a.txt /parents/\n"
        "COPY --parents ./x/./y/*.txt /pivot/\n"
        "COPY --parents src/x /dirs/\n"
        "COPY --parents ./src/**/*.txt /star/\n"
        "ADD --chmod=751 tool.sh /bin/tool\n"
        "RUN find /no_parents /parents /pivot /dirs /star -type f | sort > /found"
        " && stat -c %a /bin/tool > /mode\n"
    )
    build(dy, ctx, "-t", "parents")
    assert cat(dy, "parents", "/found").split() == [
        "/dirs/src/x/d.txt",
        "/no_parents/a.txt",
        "/parents/x/a.txt",
        "/parents/y/a.txt",
        "/pivot/y/b.txt",
        "/pivot/y/c.txt",
        "/star/src/e.txt",
        "/star/src/x/d.txt",
    ]
    assert cat(dy, "parents", "/mode") == "751\n"

    # --link: the layer does not depend on its parent; a changed parent reuses it
    (ctx / "Dockerfile").write_text(
        "FROM busybox\nRUN echo one > /base\nCOPY --link --chown=7:8 x/a.txt /app/\n"
        "ADD --link --chmod=700 tool.sh /app/\n"
        "RUN stat -c '%u:%g' /app/a.txt > /owner && cat /base /app/a.txt > /both\n"
    )
    build(dy, ctx, "-t", "linked")
    assert cat(dy, "linked", "/owner", "/both") == "7:8\none\nx/a.txt\n"
    first = config_of(dy, "linked")["rootfs"]["diff_ids"]
    (ctx / "Dockerfile").write_text(
        "FROM busybox\nRUN echo two > /base\nCOPY --link --chown=7:8 x/a.txt /app/\n"
        "ADD --link --chmod=700 tool.sh /app/\n"
        "RUN stat -c '%u:%g' /app/a.txt > /owner && cat /base /app/a.txt > /both\n"
    )
    out = build(dy, ctx, "-t", "linked").err
    assert "#5 [3/5] COPY --link --chown=7:8 x/a.txt /app/\n#5 CACHED" in out
    assert "#6 [4/5] ADD --link --chmod=700 tool.sh /app/\n#6 CACHED" in out
    assert step_lines(out, "CACHED") == ["#5 CACHED", "#6 CACHED"]
    assert cat(dy, "linked", "/owner", "/both") == "7:8\ntwo\nx/a.txt\n"
    second = config_of(dy, "linked")["rootfs"]["diff_ids"]
    assert first[-3:-1] == second[-3:-1]  # the very same layers, on a different parent
    assert first[-4] != second[-4]
    listing = dy("run", "--rm", "--entrypoint", "stat", "linked", "-c", "%a", "/app/tool.sh")
    assert listing.out == "700\n"
    # without --link the copy misses when the parent changed
    (ctx / "Dockerfile").write_text("FROM busybox\nRUN echo three > /base\nCOPY x/a.txt /app/\n")
    out = build(dy, ctx, "-t", "plain").err
    assert "cache miss: parent changed" in out
    assert_nothing_left(dy)


def test_stdin_quiet_iidfile(dy: Dockyard, busybox: str, tmp_path: Path) -> None:
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    iid = tmp_path / "iid"
    result = run(
        dy, "build", "-q", "--iidfile", str(iid), "-t", "fromstdin", "--label", "a=b",
        "-f", "-", str(ctx), input=b"FROM busybox\nRUN echo hi > /hi\n",
    )  # fmt: skip
    assert result.out.strip() == iid.read_text() == image_id(dy, "fromstdin")
    assert result.err == ""
    assert config_of(dy, "fromstdin")["config"]["Labels"] == {"a": "b"}
    piped = run(
        dy,
        "image",
        "build",
        "-q",
        "--label",
        "a=b",
        "-",
        input=b"FROM busybox\nRUN echo hi > /hi\n",
    )
    assert piped.out.strip() == iid.read_text()  # cached: the same image
    hosts = run(
        dy, "build", "-q", "-t", "hosts", "--add-host", "myhost:10.1.2.3", "--ulimit",
        "nofile=123:456", "--network", "none", "-",
        input=b"FROM busybox\nRUN grep myhost /etc/hosts > /h && ulimit -n >> /h\n",
    )  # fmt: skip
    assert hosts.code == 0
    assert cat(dy, "hosts", "/h") == "10.1.2.3\tmyhost\n123\n"


def test_builder_prune(dy: Dockyard, busybox: str, golden_ctx: Path) -> None:
    build(dy, golden_ctx, "-t", "app")
    dy("rmi", "app")
    pruned = run(dy, "builder", "prune", "-f")
    assert pruned.out.startswith("Deleted build cache objects:\n")
    assert "Total reclaimed space: " in pruned.out
    assert "Total reclaimed space: 0B" not in pruned.out
    out = build(dy, golden_ctx, "-t", "app").err
    assert len(step_lines(out, "cache miss: not built before")) == 1
    recent = run(dy, "builder", "prune", "-f", "-a", "--filter", "until=24h")
    assert recent.out == "Total reclaimed space: 0B\n"  # nothing is older than a day
    kept = run(dy, "builder", "prune", "-f")  # the image uses the layers: kept
    assert kept.out == "Total reclaimed space: 0B\n"
    assert "cache miss" not in build(dy, golden_ctx, "-t", "app").err
    run(dy, "builder", "prune", "-a", "-f")
    assert "cache miss" in build(dy, golden_ctx, "-t", "app").err
    assert_nothing_left(dy)


def test_builder_prune_filters(dy: NetDockyard, busybox: str, tmp_path: Path) -> None:
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text(
        "FROM busybox\nRUN echo one > /one\nRUN echo two > /two\n"
        "RUN --mount=type=cache,target=/c touch /c/x\n"
    )
    build(dy, ctx)
    bad = run(dy, "builder", "prune", "-f", "--filter", "label=a=b", check=False)
    assert bad.code != 0 and "invalid filter 'label'" in bad.err
    twice = run(dy, "builder", "prune", "-f", "--filter", "type=regular", "--filter",
                "type=exec.cachemount", check=False)  # fmt: skip
    assert twice.code != 0 and "filters expect only one value" in twice.err
    records = cache_records(dy)
    by_desc = {r["Description"]: r for r in records}
    two = next(r for d, r in by_desc.items() if "echo two" in d)
    one = next(r for d, r in by_desc.items() if "echo one" in d)
    assert two["Parents"] == [one["ID"]]
    # the image (untagged, but an image) uses the layers: -a needed; exact description
    out = run(dy, "builder", "prune", "-f", "-a", "--filter",
              f"description={two['Description']}").out  # fmt: skip
    assert out.startswith(f"Deleted build cache objects:\n{two['ID']}\n\n")
    out = run(dy, "builder", "prune", "-f", "--filter", "type=exec.cachemount").out
    assert out.startswith("Deleted build cache objects:\n") and len(out.splitlines()[1]) == 25
    out = run(dy, "builder", "prune", "-f", "-a", "--filter", f"id={one['ID'][:6]}").out
    assert out.startswith(f"Deleted build cache objects:\n{one['ID']}\n\n")
    left = cache_records(dy)
    assert len(left) == 1 and "/c touch" in left[0]["Description"]
    assert_nothing_left(dy)


def test_system_df_and_prune_account_for_the_build_cache(
    dy: Dockyard, busybox: str, tmp_path: Path
) -> None:
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text(
        "FROM busybox\nRUN head -c 300000 /dev/zero > /big\n"
        "RUN --mount=type=cache,target=/cache head -c 50000 /dev/zero > /cache/c\n"
    )
    build(dy, ctx, "-t", "cached")
    df = dy("system", "df", "--format", "{{json .}}").out.splitlines()
    row = json.loads(df[3])
    # both steps' layers are the image's: counted under Images (shared); the cache
    # mount's 50kB is the build cache's own
    assert row == {"Active": "0", "Reclaimable": "50kB", "Size": "50kB",
                   "TotalCount": "3", "Type": "Build Cache"}  # fmt: skip
    api = dy("system", "df", "-v").out
    assert "\nBuild cache usage: 50kB\n\nCACHE ID " in api
    lines = api[api.index("Build cache usage"):].splitlines()[2:]
    assert lines[0].split()[:7] == ["CACHE", "ID", "CACHE", "TYPE", "SIZE", "CREATED", "LAST"]
    kinds = sorted((ln.split()[1], ln.split()[-1]) for ln in lines[1:])
    assert kinds == [("exec.cachemount", "false"), ("regular", "true"), ("regular", "true")]
    images_before = json.loads(dy("system", "df", "--format", "{{json .}}").out.splitlines()[0])
    dy("rmi", "cached")
    rows = [json.loads(ln) for ln in dy("system", "df", "--format", "{{json .}}").out.splitlines()]
    # the removed image's layers are the build cache's now, counted there only
    from dockyard.golang.units import human_size

    busybox_size = int(dy("image", "inspect", "--format", "{{.Size}}", "busybox").out)
    assert rows[0]["Size"] == human_size(busybox_size, 4)
    assert rows[0]["Size"] != images_before["Size"]
    row = rows[3]
    assert row["TotalCount"] == "3" and row["Size"] == row["Reclaimable"]
    assert row["Size"].endswith("kB") and float(row["Size"][:-2]) >= 350  # 300kB + 50kB
    pruned = dy("system", "prune", "-a", "-f").out
    assert "Deleted build cache objects:\n" in pruned
    ids = pruned[pruned.index("Deleted build cache objects:"):].split("\n\n")[0].splitlines()[1:]
    assert len(ids) == 3 and all(len(i) == 25 for i in ids)
    total = pruned.rsplit("Total reclaimed space: ", 1)[1].strip()
    assert total.endswith("kB") and float(total[:-2]) >= 350
    row = json.loads(dy("system", "df", "--format", "{{json .}}").out.splitlines()[3])
    assert row["TotalCount"] == "0" and row["Size"] == "0B"
    assert_nothing_left(dy)


def test_add_url_and_archive(dy: Dockyard, busybox: str, tmp_path: Path) -> None:
    import hashlib
    import http.server
    import tarfile
    import threading

    served = tmp_path / "served"
    served.mkdir()
    (served / "file.txt").write_text("downloaded\n")
    handler = lambda *a: http.server.SimpleHTTPRequestHandler(*a, directory=str(served))  # noqa: E731
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        ctx = tmp_path / "ctx"
        ctx.mkdir()
        inner = tmp_path / "inner.txt"
        inner.write_text("inside\n")
        with tarfile.open(ctx / "files.tar.gz", "w:gz") as tar:
            tar.add(inner, arcname="unpacked/inner.txt")
        url = f"http://127.0.0.1:{server.server_port}/file.txt"
        digest = hashlib.sha256(b"downloaded\n").hexdigest()
        (ctx / "Dockerfile").write_text(
            f"FROM busybox\nADD --checksum=sha256:{digest} {url} /dl/\nADD files.tar.gz /x/\n"
        )
        build(dy, ctx, "-t", "adds")
        assert cat(dy, "adds", "/dl/file.txt", "/x/unpacked/inner.txt") == "downloaded\ninside\n"
        (ctx / "Dockerfile").write_text(
            f"FROM busybox\nADD --checksum=sha256:{'0' * 64} {url} /dl/\n"
        )
        bad = build(dy, ctx, check=False)
        assert bad.code == 1 and "digest mismatch" in bad.err
    finally:
        server.shutdown()
        server.server_close()
    assert_nothing_left(dy)


def test_against_docker_classic(
    dy: Dockyard, busybox: str, golden_ctx: Path, tmp_path: Path
) -> None:
    """When a private dockerd can run, its classic builder's config is ours (minus
    ArgsEscaped and Image, which BuildKit does differently)."""
    from tests.dockerd import private_dockerd

    with private_dockerd(tmp_path / "docker") as env:
        if env is None:
            pytest.skip("docker is not available")
        bb = tmp_path / "bb.tar"
        dy("save", "-o", str(bb), "busybox:latest")
        subprocess.run(["docker", "load", "-i", str(bb)], env=env, check=True, capture_output=True)
        denv = dict(env, DOCKER_BUILDKIT="0")
        subprocess.run(
            ["docker", "build", "-q", "-t", "golden", str(golden_ctx)],
            env=denv, check=True, capture_output=True,
        )  # fmt: skip
        theirs = json.loads(
            subprocess.run(
                ["docker", "image", "inspect", "golden"], env=env, check=True, capture_output=True
            ).stdout
        )[0]["Config"]
    build(dy, golden_ctx, "-t", "golden")
    ours = config_of(dy, "golden")["config"]
    expected = {k: v for k, v in theirs.items() if v not in (None, "", False, [], {})}
    expected.pop("Image", None)
    expected["ArgsEscaped"] = True
    assert ours == expected


def test_cancel_leaves_nothing(dy: Dockyard, busybox: str, tmp_path: Path) -> None:
    import signal
    import time

    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text("FROM busybox\nRUN echo started && sleep 60\n")
    proc = subprocess.Popen(
        [sys.executable, "-c", _RUNNER, "build", "--progress", "plain", "-t", "slow", str(ctx)],
        env=dy.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        assert proc.stderr is not None
        seen = b""
        deadline = time.monotonic() + 60
        while b"started" not in seen and time.monotonic() < deadline:
            seen += os.read(proc.stderr.fileno(), 4096)
        assert b"started" in seen
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode != 0
    assert dy("images", "-q", "slow").out.strip() == ""
    assert_nothing_left(dy)


def test_killed_build_is_reaped_by_the_next(dy: Dockyard, busybox: str, tmp_path: Path) -> None:
    import signal
    import time

    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text("FROM busybox\nRUN echo started && sleep 60\n")
    proc = subprocess.Popen(
        [sys.executable, "-c", _RUNNER, "build", "--progress", "plain", "-t", "slow", str(ctx)],
        env=dy.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        assert proc.stderr is not None
        seen = b""
        deadline = time.monotonic() + 60
        while b"started" not in seen and time.monotonic() < deadline:
            seen += os.read(proc.stderr.fileno(), 4096)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    (ctx / "Dockerfile").write_text("FROM busybox\nRUN echo fine\n")
    build(dy, ctx, "-t", "after")  # reaps what the killed build left
    dy("system", "prune", "-f")  # and the stale lease of the killed process
    assert dy("images", "-q", "slow").out.strip() == ""
    assert_nothing_left(dy)
