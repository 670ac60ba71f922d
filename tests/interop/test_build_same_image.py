"""The same image as docker's: a Dockerfile with every instruction that changes the
image config, built by dockyard and by docker (a private dockerd) — with its
classic builder (``DOCKER_BUILDKIT=0``) and with BuildKit (``=1``, through the
first docker CLI here that can: Debian's 20.10 CLI still carries its own
BuildKit client, later CLIs need the buildx plugin). The configs must be equal
(BuildKit's rules where the classic builder differs: ArgsEscaped), and the
history equal to BuildKit's entry by entry, where docker 20.10's BuildKit (v0.8)
prints EXPOSE and HEALTHCHECK as it did then (see ``_as_current_buildkit``; dockyard
writes what BuildKit writes now). The classic builder writes ``/bin/sh -c #(nop)``
entries and records ONBUILD, so only which entries make layers is compared with it."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import needs_root
from tests.integration._network_support import NetDockyard
from tests.integration.test_build import build, config_of, dy

pytestmark = needs_root
__all__ = ["dy"]

EVERY_INSTRUCTION = """\
FROM busybox
ARG VERSION=1.0
ARG UNSET
ENV APP_HOME=/app PATH=/app/bin:$PATH
ENV QUOTED="a b" PLAIN=c
LABEL org.example.version=$VERSION maintainer="dock yard"
LABEL multi.word="one two" empty=""
MAINTAINER Dock Yard <dy@example.invalid>
WORKDIR $APP_HOME
WORKDIR sub
COPY hello.txt ./
ADD hello.txt /added.txt
RUN echo "built $VERSION $UNSET" > built.txt
USER nobody:nogroup
EXPOSE 8080 53/udp 9000-9001/tcp
VOLUME /data ["/logs"]
VOLUME /more
HEALTHCHECK --interval=30s --timeout=3s --start-period=5s --retries=2 \\
  CMD wget -q -O- http://localhost:8080/ || exit 1
STOPSIGNAL SIGQUIT
ONBUILD RUN echo onbuild
ONBUILD COPY . /src
SHELL ["/bin/sh", "-ec"]
ENTRYPOINT exec /bin/echo
CMD ["hello", "world"]
"""

SHELL_FORM_CMD = """\
FROM busybox
ENV A=1
SHELL ["/bin/sh", "-xc"]
CMD echo "$A" from the shell form
HEALTHCHECK NONE
"""

CONFIG_KEYS = (
    "Env", "Cmd", "Entrypoint", "WorkingDir", "User", "ExposedPorts", "Volumes", "Labels",
    "Healthcheck", "StopSignal", "OnBuild", "Shell", "ArgsEscaped",
)  # fmt: skip


def _docker_cli(env: dict[str, str], probe: Path) -> str | None:
    probe.mkdir(exist_ok=True)
    (probe / "Dockerfile").write_text("FROM busybox\nLABEL probe=1\n")
    candidates = [shutil.which("docker") or "", "/usr/bin/docker"]
    for cli in dict.fromkeys(c for c in candidates if c and os.path.exists(c)):
        if (
            subprocess.run(
                [cli, "build", "-q", str(probe)], env=env, capture_output=True
            ).returncode
            == 0
        ):
            return cli
    return None


@pytest.fixture
def docker_builds(dy: NetDockyard, busybox: str, tmp_path: Path) -> Iterator[Any]:
    """A function building a context with docker: (config blob as JSON) per builder."""
    import tempfile

    from tests.dockerd import private_dockerd

    # containerd's socket lives below the exec root: a pytest path is too long for it
    short = Path(tempfile.mkdtemp(prefix="dyd-", dir="/tmp"))
    try:
        yield from _with_dockerd(dy, tmp_path, short, private_dockerd)
    finally:
        shutil.rmtree(short, ignore_errors=True)


def _with_dockerd(
    dy: NetDockyard, tmp_path: Path, short: Path, private_dockerd: Any
) -> Iterator[Any]:
    with private_dockerd(short / "docker") as env:
        if env is None:
            pytest.skip("docker is not available")
        saved = tmp_path / "bb.tar"
        dy("save", "-o", str(saved), "busybox:latest")
        subprocess.run(
            ["docker", "load", "-i", str(saved)], env=env, check=True, capture_output=True
        )

        def docker_build(ctx: Path, buildkit: bool) -> dict[str, Any] | None:
            denv = dict(env, DOCKER_BUILDKIT="1" if buildkit else "0")
            cli = _docker_cli(denv, tmp_path / "probe")
            if cli is None:
                return None
            tag = f"same-{'bk' if buildkit else 'classic'}-{ctx.name}"
            subprocess.run(
                [cli, "build", "-q", "--network", "none", "-t", tag, str(ctx)],
                env=denv, check=True, capture_output=True,
            )  # fmt: skip
            image_id = subprocess.run(
                [cli, "image", "inspect", "--format", "{{.Id}}", tag],
                env=env, check=True, capture_output=True, text=True,
            ).stdout.strip()  # fmt: skip
            saved = tmp_path / f"{tag}.tar"
            subprocess.run([cli, "save", "-o", str(saved), tag], env=env, check=True)
            import tarfile

            with tarfile.open(saved) as tar:
                member = tar.extractfile(f"{image_id.removeprefix('sha256:')}.json")
                assert member is not None
                return json.load(member)  # type: ignore[no-any-return]

        yield docker_build


def _context(tmp_path: Path, name: str, dockerfile: str) -> Path:
    ctx = tmp_path / name
    ctx.mkdir()
    (ctx / "Dockerfile").write_text(dockerfile)
    (ctx / "hello.txt").write_text("hello\n")
    return ctx


def _config(blob: dict[str, Any]) -> dict[str, Any]:
    config = blob["config"]
    return {k: config.get(k) for k in CONFIG_KEYS if config.get(k) not in (None, "", False, [], {})}


def _history(blob: dict[str, Any]) -> list[tuple[str, bool, str]]:
    return [
        (h.get("created_by", ""), bool(h.get("empty_layer")), h.get("comment", ""))
        for h in blob["history"][1:]
    ]


def _as_current_buildkit(
    entry: tuple[str, bool, str], blob: dict[str, Any]
) -> tuple[str, bool, str]:
    """A history entry of docker 20.10's BuildKit (v0.8) as BuildKit writes it now
    (dockyard's golden values are current BuildKit's): EXPOSE printed the port map
    (``map[53/udp:{} …]``, now the sorted list) and HEALTHCHECK ``%q`` of a pointer
    (``&{…}``, now ``%+v`` of the struct, with StartInterval)."""
    import re

    text, empty, comment = entry
    if text.startswith("EXPOSE map["):
        text = "EXPOSE [" + re.sub(r":\{\}", "", text[len("EXPOSE map[") :])
    elif text.startswith("HEALTHCHECK &{"):
        h = blob["config"]["Healthcheck"]

        def dur(key: str) -> str:
            return f"{(h.get(key) or 0) // 1_000_000_000}s"

        text = (
            f"HEALTHCHECK {{Test:[{' '.join(h['Test'])}] Interval:{dur('Interval')}"
            f" Timeout:{dur('Timeout')} StartPeriod:{dur('StartPeriod')}"
            f" StartInterval:{dur('StartInterval')} Retries:{h.get('Retries') or 0}}}"
        )
    return text, empty, comment


@pytest.mark.parametrize("dockerfile", [EVERY_INSTRUCTION, SHELL_FORM_CMD], ids=["all", "shell"])
def test_config_and_history_match_docker(
    dy: NetDockyard, tmp_path: Path, docker_builds: Any, dockerfile: str
) -> None:
    ctx = _context(tmp_path, "ctx", dockerfile)
    build(dy, ctx, "--network", "none", "-t", "same")
    ours = config_of(dy, "same")
    author = "Dock Yard <dy@example.invalid>" if "MAINTAINER" in dockerfile else None
    assert ours.get("author") == author
    classic = docker_builds(ctx, False)
    assert classic is not None, "docker's classic builder did not run"
    expected = _config(classic)
    expected["ArgsEscaped"] = True  # BuildKit sets it for every CMD/ENTRYPOINT on Linux
    bk = docker_builds(ctx, True)
    if bk is not None:
        assert _config(bk) == _config(ours)
        assert [_as_current_buildkit(h, bk) for h in _history(bk)] == _history(ours)
        assert ours.get("author") == bk.get("author")
        assert ours["rootfs"]["diff_ids"][:1] == bk["rootfs"]["diff_ids"][:1]
        assert len(ours["rootfs"]["diff_ids"]) == len(bk["rootfs"]["diff_ids"])
    assert _config(ours) == expected
    # the classic builder also records ONBUILD (BuildKit does not: dispatchOnbuild)
    theirs = [e for c, e, _ in _history(classic) if "#(nop)  ONBUILD " not in c]
    assert [e for _, e, _ in _history(ours)] == theirs
    if bk is None:
        pytest.skip(
            "no docker CLI here builds with BuildKit; compared with the classic builder only"
        )
