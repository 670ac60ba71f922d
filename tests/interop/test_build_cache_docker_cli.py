"""The real docker CLI's ``system df`` against ``dockyard serve`` after a build: the
Build Cache row and the ``-v`` cache table come out as dockyard's own."""

from __future__ import annotations

import re
from pathlib import Path

from tests.conftest import Dockyard
from tests.interop.test_api_docker_cli import DockerCLI, docker, pytestmark, same

__all__ = ["docker", "pytestmark"]


def _ages_blank(text: str) -> list[list[str]]:
    """``-v`` prints ages ("2 seconds ago"); the two runs are a moment apart, so the
    ages (and the column widths they make) may differ: compare the other words."""
    blanked = re.sub(r"(About an? |Less than a |\d+ )\w+ ago", "AGE", text)
    return [line.split() for line in blanked.splitlines()]


def test_system_df_build_cache(docker: DockerCLI, dy: Dockyard, tmp_path: Path) -> None:
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text(
        "FROM busybox\nRUN head -c 200000 /dev/zero > /big\n"
        "RUN --mount=type=cache,target=/c head -c 30000 /dev/zero > /c/f\n"
    )
    built = dy("build", "-q", "--network", "none", "-t", "cached", str(ctx))
    assert built.code == 0
    same(docker("system", "df"), dy("system", "df"))
    dy("rmi", "cached")
    ours = dy("system", "df")
    assert "Build Cache     3         0         230kB     230kB" in ours.out
    same(docker("system", "df"), ours)
    theirs, mine = docker("system", "df", "-v"), dy("system", "df", "-v")
    cache = theirs.out[theirs.out.index("Build cache usage:") :]
    assert _ages_blank(cache) == _ages_blank(mine.out[mine.out.index("Build cache usage:") :])
