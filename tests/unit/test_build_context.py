"""Build contexts (directory, tar on stdin, Dockerfile alone, URL) and their digests."""

from __future__ import annotations

import bz2
import gzip
import http.server
import io
import lzma
import os
import tarfile
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from dockyard.build.context import (
    BuildContext,
    OutsideContext,
    SourceNotFound,
    checksum_paths,
    load_context,
    resolve_sources,
)
from dockyard.errors import DockyardError, InvalidArgument

DOCKERFILE = b"FROM busybox\nCOPY . /app\n"


def make_tar(
    members: dict[str, bytes], extra: Callable[[tarfile.TarFile], None] | None = None
) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = 0o644
            tf.addfile(info, io.BytesIO(data))
        if extra:
            extra(tf)
    return buf.getvalue()


COMPRESSORS: dict[str, Callable[[bytes], bytes]] = {
    "plain": lambda b: b,
    "gzip": gzip.compress,
    "bzip2": bz2.compress,
    "xz": lzma.compress,
}


@pytest.fixture
def ctx_dir(tmp_path: Path) -> Path:
    d = tmp_path / "ctx"
    (d / "src").mkdir(parents=True)
    (d / "Dockerfile").write_bytes(DOCKERFILE)
    (d / "src" / "a.txt").write_text("a")
    (d / "src" / "b.log").write_text("b")
    (d / ".dockerignore").write_text("*.log\n**/*.log\n")
    return d


# -- directory contexts -------------------------------------------------------


def test_directory_context(ctx_dir: Path) -> None:
    with load_context(str(ctx_dir)) as ctx:
        assert ctx.root == str(ctx_dir)
        assert ctx.dockerfile == DOCKERFILE
        assert ctx.dockerfile_name == "Dockerfile"
        assert ctx.ignore_patterns == ["*.log", "**/*.log"]
        assert ctx.matcher.excluded("src/b.log")
        assert not ctx.temporary
    assert ctx_dir.exists()  # never removed


def test_directory_dockerfile_flag(ctx_dir: Path, tmp_path: Path) -> None:
    (ctx_dir / "sub").mkdir()
    (ctx_dir / "sub" / "Dev.Dockerfile").write_bytes(b"FROM dev\n")
    (ctx_dir / "sub" / "Dev.Dockerfile.dockerignore").write_text("src\n")
    # relative to the context when not found from the current directory
    ctx = load_context(str(ctx_dir), dockerfile="sub/Dev.Dockerfile", cwd=str(tmp_path))
    assert ctx.dockerfile == b"FROM dev\n" and ctx.ignore_patterns == ["src"]
    # relative to the current directory first, as Docker's CLI
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "Dev.Dockerfile").write_bytes(b"FROM cwd\n")
    ctx = load_context(str(ctx_dir), dockerfile="sub/Dev.Dockerfile", cwd=str(tmp_path))
    assert ctx.dockerfile == b"FROM cwd\n"
    ctx = load_context(str(ctx_dir), dockerfile=str(ctx_dir / "sub" / "Dev.Dockerfile"))
    assert ctx.dockerfile == b"FROM dev\n"


def test_directory_errors(ctx_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(InvalidArgument, match='unable to prepare context: path "nope" not found'):
        load_context("nope")
    (ctx_dir / "Dockerfile").unlink()
    with pytest.raises(InvalidArgument) as info:
        load_context(str(ctx_dir))
    assert str(info.value) == (
        "unable to prepare context: unable to evaluate symlinks in Dockerfile path: "
        f"lstat {ctx_dir}/Dockerfile: no such file or directory"
    )


def test_dockerfile_from_stdin_with_directory(ctx_dir: Path) -> None:
    ctx = load_context(str(ctx_dir), dockerfile="-", stdin=io.BytesIO(b"FROM stdin\n"))
    assert (ctx.dockerfile, ctx.dockerfile_name, ctx.root) == (b"FROM stdin\n", "-", str(ctx_dir))


def test_stdin_for_both_is_refused() -> None:
    with pytest.raises(
        InvalidArgument, match="can't use stdin for both build context and dockerfile"
    ):
        load_context("-", dockerfile="-", stdin=io.BytesIO(b""))


# -- stdin ---------------------------------------------------------------------


def test_dockerfile_alone_on_stdin(tmp_path: Path) -> None:
    ctx = load_context("-", stdin=io.BytesIO(DOCKERFILE), tmp_dir=str(tmp_path))
    try:
        assert ctx.dockerfile == DOCKERFILE
        assert ctx.temporary and os.listdir(ctx.root) == []
    finally:
        ctx.cleanup()
    assert not os.path.exists(ctx.root)


@pytest.mark.parametrize("compression", sorted(COMPRESSORS))
def test_tar_on_stdin(compression: str, tmp_path: Path) -> None:
    data = make_tar(
        {
            "Dockerfile": DOCKERFILE,
            "app/main.py": b"print(1)\n",
            "Other.Dockerfile": b"FROM other\n",
        }
    )
    stream = io.BytesIO(COMPRESSORS[compression](data))
    with load_context("-", stdin=stream, tmp_dir=str(tmp_path)) as ctx:
        assert ctx.dockerfile == DOCKERFILE
        assert (Path(ctx.root) / "app" / "main.py").read_bytes() == b"print(1)\n"
        root = ctx.root
    assert not os.path.exists(root)
    stream = io.BytesIO(COMPRESSORS[compression](data))
    with load_context(
        "-", dockerfile="Other.Dockerfile", stdin=stream, tmp_dir=str(tmp_path)
    ) as ctx:
        assert ctx.dockerfile == b"FROM other\n"


def test_tar_without_dockerfile(tmp_path: Path) -> None:
    stream = io.BytesIO(make_tar({"a": b"a"}))
    with pytest.raises(InvalidArgument, match="Cannot locate specified Dockerfile: Dockerfile"):
        load_context("-", stdin=stream, tmp_dir=str(tmp_path))
    assert os.listdir(tmp_path) == []  # nothing left behind


def test_tar_dockerignore_applies(tmp_path: Path) -> None:
    stream = io.BytesIO(
        make_tar({"Dockerfile": DOCKERFILE, ".dockerignore": b"secret\n", "secret": b"s"})
    )
    with load_context("-", stdin=stream, tmp_dir=str(tmp_path)) as ctx:
        assert ctx.ignore_patterns == ["secret"]
        with pytest.raises(SourceNotFound):
            ctx.checksum(["secret"])


def _symlink_escape(tf: tarfile.TarFile) -> None:
    link = tarfile.TarInfo("escape")
    link.type = tarfile.SYMTYPE
    link.linkname = "/"
    tf.addfile(link)
    evil = tarfile.TarInfo("escape/tmp/pwned-by-tar")
    evil.size = 1
    tf.addfile(evil, io.BytesIO(b"x"))


def _hardlink_escape(tf: tarfile.TarFile) -> None:
    hl = tarfile.TarInfo("stolen")
    hl.type = tarfile.LNKTYPE
    hl.linkname = "../../../../../../etc/hostname"
    tf.addfile(hl)


@pytest.mark.parametrize(
    "hostile",
    [
        make_tar({"Dockerfile": DOCKERFILE, "../../../../tmp/pwned-by-tar": b"x"}),
        make_tar({"Dockerfile": DOCKERFILE}, _symlink_escape),
        make_tar({"Dockerfile": DOCKERFILE}, _hardlink_escape),
    ],
    ids=["dotdot", "symlink", "hardlink"],
)
def test_hostile_tars_rejected(hostile: bytes, tmp_path: Path) -> None:
    work = tmp_path / "work"
    work.mkdir()
    with pytest.raises(DockyardError):
        load_context("-", stdin=io.BytesIO(hostile), tmp_dir=str(work))
    assert not Path("/tmp/pwned-by-tar").exists()
    assert os.listdir(work) == []


# -- URLs ----------------------------------------------------------------------


@pytest.fixture
def http_server(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    served = tmp_path / "www"
    served.mkdir()

    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *a: object, **kw: object) -> None:
            super().__init__(*a, directory=str(served), **kw)  # type: ignore[arg-type]

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", served
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_url_tar_context(http_server: tuple[str, Path], tmp_path: Path) -> None:
    base, served = http_server
    (served / "ctx.tar.gz").write_bytes(
        gzip.compress(make_tar({"Dockerfile": DOCKERFILE, "f": b"1"}))
    )
    with load_context(f"{base}/ctx.tar.gz", tmp_dir=str(tmp_path)) as ctx:
        assert ctx.dockerfile == DOCKERFILE
        assert (Path(ctx.root) / "f").read_bytes() == b"1"


def test_url_dockerfile(http_server: tuple[str, Path], tmp_path: Path) -> None:
    base, served = http_server
    (served / "Dockerfile").write_bytes(DOCKERFILE)
    with load_context(f"{base}/Dockerfile", tmp_dir=str(tmp_path)) as ctx:
        assert ctx.dockerfile == DOCKERFILE
        assert os.listdir(ctx.root) == []


def test_url_not_found(http_server: tuple[str, Path], tmp_path: Path) -> None:
    base, _ = http_server
    work = tmp_path / "work"
    work.mkdir()
    with pytest.raises(InvalidArgument, match=r"unable to download remote context .* status 404"):
        load_context(f"{base}/missing.tar", tmp_dir=str(work))
    assert os.listdir(work) == []


# -- sources and checksums ---------------------------------------------------


def test_checksum_ignores_times_but_sees_content_and_mode(ctx_dir: Path) -> None:
    first = checksum_paths(str(ctx_dir), ["src"])
    os.utime(ctx_dir / "src" / "a.txt", (1, 1))
    assert checksum_paths(str(ctx_dir), ["src"]) == first
    (ctx_dir / "src" / "a.txt").write_text("A")
    changed = checksum_paths(str(ctx_dir), ["src"])
    assert changed != first
    os.chmod(ctx_dir / "src" / "a.txt", 0o600)
    assert checksum_paths(str(ctx_dir), ["src"]) != changed


@pytest.mark.skipif(os.geteuid() != 0, reason="changing a file's owner needs root")
def test_checksum_sees_owner(ctx_dir: Path) -> None:
    first = checksum_paths(str(ctx_dir), ["src/a.txt"])
    os.chown(ctx_dir / "src" / "a.txt", 1234, 1234)
    assert checksum_paths(str(ctx_dir), ["src/a.txt"]) != first


def test_checksum_honours_ignore_rules(ctx_dir: Path) -> None:
    with load_context(str(ctx_dir)) as ctx:
        before = ctx.checksum(["src"])
        (ctx_dir / "src" / "new.log").write_text("ignored")
        assert ctx.checksum(["src"]) == before
        (ctx_dir / "src" / "new.txt").write_text("seen")
        assert ctx.checksum(["src"]) != before
        with pytest.raises(SourceNotFound) as info:
            ctx.checksum(["src/b.log"])
        assert str(info.value) == 'failed to compute cache key: "/src/b.log": not found'


def test_copy_excludes_are_relative_to_the_source(ctx_dir: Path) -> None:
    full = checksum_paths(str(ctx_dir), ["src"])
    (ctx_dir / "src" / "tmp").mkdir()
    (ctx_dir / "src" / "tmp" / "x").write_text("x")
    assert checksum_paths(str(ctx_dir), ["src"], copy_excludes=["tmp"]) == full
    assert checksum_paths(str(ctx_dir), ["src"]) != full


def test_wildcards_and_missing_sources(ctx_dir: Path) -> None:
    root = str(ctx_dir)
    assert resolve_sources(root, ["src/*.txt", "Dockerfile", "/src/../src/a.txt"]) == [
        "src/a.txt",
        "Dockerfile",
    ]
    assert resolve_sources(root, ["*/[ab].*"]) == ["src/a.txt", "src/b.log"]
    assert resolve_sources(root, ["*/[ab].*"], ["*.log", "**/*.log"]) == ["src/a.txt"]
    with pytest.raises(SourceNotFound, match=r'"/missing\.txt": not found'):
        resolve_sources(root, ["missing.txt"])
    with pytest.raises(SourceNotFound, match=r'"/\*.none": not found'):
        checksum_paths(root, ["*.none"])
    with pytest.raises(OutsideContext, match=r"forbidden path outside the build context: \.\./x"):
        checksum_paths(root, ["../x"])
    a = checksum_paths(root, ["src/*.txt"])
    (ctx_dir / "src" / "c.txt").write_text("c")
    assert checksum_paths(root, ["src/*.txt"]) != a  # a new match changes the digest


def test_symlinks_resolve_inside_the_context(ctx_dir: Path) -> None:
    (ctx_dir / "up").symlink_to("/src")  # absolute: means <context>/src
    (ctx_dir / "loop").symlink_to("loop")
    assert checksum_paths(str(ctx_dir), ["up/a.txt"]) != checksum_paths(str(ctx_dir), ["src/a.txt"])
    assert resolve_sources(str(ctx_dir), ["up/a.txt"]) == ["up/a.txt"]
    with pytest.raises(SourceNotFound):
        checksum_paths(str(ctx_dir), ["loop"])
    (ctx_dir / "etc").symlink_to("/etc/hostname-not-here")
    with pytest.raises(SourceNotFound):
        checksum_paths(str(ctx_dir), ["etc"])


def test_content_cache_avoids_rereading(ctx_dir: Path) -> None:
    cache: dict[str, str] = {}
    first = checksum_paths(str(ctx_dir), ["."], cache=cache)
    assert cache
    assert checksum_paths(str(ctx_dir), ["."], cache=cache) == first
    assert checksum_paths(str(ctx_dir), ["."]) == first


def test_build_context_checksum_helper(ctx_dir: Path) -> None:
    ctx = BuildContext(str(ctx_dir), b"", "Dockerfile", ["src"])
    with pytest.raises(SourceNotFound):
        ctx.checksum(["src/a.txt"])


def test_double_star_for_copy_parents(tmp_path: Path) -> None:
    from dockyard.build.context import SourceNotFound, resolve_sources

    for f in ("src/a.txt", "src/x/b.txt", "src/x/y/c.txt", "src/x/y/d.md", "other/e.txt"):
        (tmp_path / f).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / f).write_text(f)
    found = resolve_sources(str(tmp_path), ["./src/**/*.txt"], double_star=True)
    assert found == ["src/a.txt", "src/x/b.txt", "src/x/y/c.txt"]
    # Go's filepath.Match: ** is *, one level only
    assert resolve_sources(str(tmp_path), ["src/**/*.txt"]) == ["src/x/b.txt"]
    everything = resolve_sources(str(tmp_path), ["src/**"], double_star=True)
    assert everything == ["src/a.txt", "src/x", "src/x/b.txt", "src/x/y", "src/x/y/c.txt",
                          "src/x/y/d.md"]  # fmt: skip
    with pytest.raises(SourceNotFound):
        resolve_sources(str(tmp_path), ["src/**/*.go"], double_star=True)
