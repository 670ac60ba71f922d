"""A container's files: cp (both ways, tar streams, symlinks kept inside), diff,
export and commit — real containers on runc, each test cleaning up after itself."""

from __future__ import annotations

import io
import os
import shutil
import stat
import subprocess
import tarfile
import time
from pathlib import Path

import pytest

from dockyard.cli.commands.filesystem import _human, _split_cp_arg
from tests.conftest import DOCKYARD, Dockyard, needs_root
from tests.integration.test_container_run import nothing_left

pytestmark = [
    needs_root,
    pytest.mark.skipif(shutil.which("runc") is None, reason="runc is not installed"),
]


def _wait_for_file(dy: Dockyard, container: str, path: str) -> None:
    deadline = time.monotonic() + 20
    while dy("cp", f"{container}:{path}", "-", check=False).code != 0:
        assert time.monotonic() < deadline, f"{path} never appeared in {container}"
        time.sleep(0.1)


def _members(data: bytes) -> dict[str, tarfile.TarInfo]:
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        return {m.name: m for m in tar.getmembers()}


def _cp_out_bytes(dy: Dockyard, src: str) -> bytes:
    return _cp_out_bytes_args(dy, src)


def _cp_out_bytes_args(dy: Dockyard, *args: str) -> bytes:
    """``cp ... -``'s tar, as bytes (the fixture decodes output as text)."""
    proc = subprocess.run(
        [DOCKYARD, "cp", *args, "-"], capture_output=True, env=dy.env, timeout=60, check=True
    )
    return proc.stdout


def _tar(entries: dict[str, bytes | str]) -> bytes:
    """A tar of files (bytes) and symlinks (str targets)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, value in entries.items():
            info = tarfile.TarInfo(name)
            if isinstance(value, str):
                info.type, info.linkname = tarfile.SYMTYPE, value
                tar.addfile(info)
            else:
                info.size = len(value)
                tar.addfile(info, io.BytesIO(value))
    return buf.getvalue()


def test_cp_arg_parsing_and_sizes() -> None:
    assert _split_cp_arg("box:/etc") == ("box", "/etc")
    assert _split_cp_arg("/abs:path") == ("", "/abs:path")
    assert _split_cp_arg("./c:x") == ("", "./c:x")
    assert _split_cp_arg("plain") == ("", "plain")
    assert _human(2048) == "2.05kB"
    assert _human(999) == "999B"
    assert _human(6144) == "6.14kB"


def test_cp_file_into_stopped_and_running_container(
    dy: Dockyard, busybox: str, tmp_path: Path
) -> None:
    src = tmp_path / "hello.txt"
    src.write_bytes(b"hello from the host\n")
    src.chmod(0o640)
    dy("create", "--name", "box", "busybox", "sleep", "60")
    try:
        dy("cp", str(src), "box:/hello.txt")  # stopped: the snapshot is mounted for it
        dy("cp", "box:/hello.txt", str(tmp_path / "back.txt"))
        back = tmp_path / "back.txt"
        assert back.read_bytes() == b"hello from the host\n"
        assert stat.S_IMODE(back.stat().st_mode) == 0o640
        assert back.stat().st_uid == os.getuid()
        # A file onto an existing directory lands inside it.
        dy("cp", str(src), "box:/tmp")
        dy("start", "box")
        src.write_bytes(b"second\n")
        dy("cp", str(src), "box:/etc/second")  # running: its mounted root
        out = tmp_path / "outdir"
        out.mkdir()
        dy("cp", "box:/etc/second", str(out))
        assert (out / "second").read_bytes() == b"second\n"
        hello = _members(_cp_out_bytes(dy, "box:/tmp/hello.txt"))["hello.txt"]
        assert stat.S_IMODE(hello.mode) == 0o640
        # The writable layer holds what was copied while it ran, after it stops too.
        dy("rm", "-f", "box")
    finally:
        dy("rm", "-f", "box", check=False)
    nothing_left(dy)


def test_cp_directories_follow_dockers_nesting_rules(
    dy: Dockyard, busybox: str, tmp_path: Path
) -> None:
    tree = tmp_path / "tree"
    (tree / "sub").mkdir(parents=True)
    (tree / "sub" / "a").write_text("a\n")
    (tree / "top").write_text("top\n")
    os.chmod(tree / "sub", 0o750)
    dy("create", "--name", "box", "busybox", "true")
    try:
        dy("cp", str(tree), "box:/new")  # missing destination: becomes the directory
        dy("cp", str(tree), "box:/new")  # existing directory: nests inside
        dy("cp", f"{tree}/.", "box:/etc")  # trailing /. copies the contents
        names = set(_members(_cp_out_bytes(dy, "box:/new")))
        assert {"new", "new/top", "new/sub/a", "new/tree", "new/tree/sub/a"} <= names
        etc = _members(_cp_out_bytes(dy, "box:/etc"))
        assert "etc/top" in etc and "etc/sub/a" in etc and "etc/passwd" in etc
        assert stat.S_IMODE(etc["etc/sub"].mode) == 0o750
        out = tmp_path / "out"
        dy("cp", "box:/new", str(out))
        assert (out / "sub" / "a").read_text() == "a\n"
        dy("cp", "box:/new", str(out))
        assert (out / "new" / "tree" / "top").read_text() == "top\n"
        contents = tmp_path / "contents"
        contents.mkdir()
        dy("cp", "box:/new/.", str(contents))
        assert sorted(os.listdir(contents)) == ["sub", "top", "tree"]
        err = dy.fails("cp", "box:/new", str(tree / "top")).err
        assert err == "cannot copy directory\n"
        # A directory is never replaced by a file, nor a file by a directory.
        (out / "passwd").mkdir()
        err = dy.fails("cp", "box:/etc/passwd", str(out)).err
        assert err == f'cannot overwrite directory "{out}/passwd" with non-directory "{out}"\n'
        (tmp_path / "sub").write_text("file\n")
        err = dy.fails("cp", str(tmp_path / "sub"), "box:/new").err
        assert err == (
            "Error response from daemon: Error processing tar file(exit status 1):"
            ' cannot overwrite directory "/new/sub" with non-directory "/new"\n'
        )
        (tmp_path / "top").mkdir()
        err = dy.fails("cp", str(tmp_path / "top"), "box:/new").err
        assert err.endswith('cannot overwrite non-directory "/new/top" with directory "/new"\n')
    finally:
        dy("rm", "-f", "box", check=False)
    nothing_left(dy)


def test_cp_tar_streams_both_ways(dy: Dockyard, busybox: str) -> None:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        info = tarfile.TarInfo("streamed/file.txt")
        data = b"from a tar stream\n"
        info.size, info.mode, info.uid, info.gid = len(data), 0o604, 1234, 4321
        tar.addfile(info, io.BytesIO(data))
    dy("create", "--name", "box", "busybox", "true")
    try:
        dy("cp", "-", "box:/tmp", input=buf.getvalue())
        raw = _cp_out_bytes(dy, "box:/tmp/streamed")
        members = _members(raw)
        assert set(members) == {"streamed", "streamed/file.txt"}
        f = members["streamed/file.txt"]
        assert (stat.S_IMODE(f.mode), f.uid, f.gid) == (0o604, 1234, 4321)
        with tarfile.open(fileobj=io.BytesIO(raw)) as tar:
            extracted = tar.extractfile("streamed/file.txt")
            assert extracted is not None and extracted.read() == data
        # Symlinks the container holds resolve inside it, from its root (as Docker
        # extracts, chrooted): d/lib -> /real puts lib/x in /real.
        dy("cp", "-", "box:/", input=_tar({"real/keep": b"", "d/lib": "/real"}))
        dy("cp", "-", "box:/d", input=_tar({"lib/x": b"through the link\n"}))
        assert "real/x" in _members(_cp_out_bytes(dy, "box:/real"))
        escape = _tar({"../outside": b"no"})
        assert "escapes the layer root" in dy.fails("cp", "-", "box:/d", input=escape).err
        err = dy.fails("cp", "-", "box:/nowhere", input=buf.getvalue()).err
        assert err == 'destination "box:/nowhere" must be a directory\n'
    finally:
        dy("rm", "-f", "box", check=False)
    nothing_left(dy)


def test_cp_symlinks_never_leave_the_container(dy: Dockyard, busybox: str, tmp_path: Path) -> None:
    name = f"dockyard-cp-escape-{os.getpid()}"
    host_file = Path("/etc") / name
    host_only = Path("/etc") / f"{name}-host-only"
    written = Path("/etc") / f"{name}-written"
    host_file.write_text("HOST\n")
    host_only.write_text("HOST\n")
    script = (
        f"ln -s / /escape; ln -s ../../../../../../etc /rel; ln -s /etc/{name} /abs;"
        f" echo container > /etc/{name}"
    )
    try:
        dy("run", "--name", "box", "busybox", "sh", "-c", script)
        for src in (f"box:/escape/etc/{name}", f"box:/rel/{name}", "box:/abs"):
            out = tmp_path / "out"
            dy("cp", "-L", src, str(out))
            assert out.read_text() == "container\n", src
            out.unlink()
        err = dy.fails("cp", f"box:/escape/etc/{host_only.name}", str(tmp_path)).err
        assert err == (
            f"Error response from daemon: Could not find the file /escape/etc/{host_only.name}"
            " in container box\n"
        )
        # Writing through the symlinks stays inside too.
        local = tmp_path / written.name
        local.write_text("copied\n")
        dy("cp", str(local), "box:/escape/etc/")
        dy("cp", str(local), "box:/rel/")
        assert not written.exists()
        assert _members(_cp_out_bytes(dy, f"box:/etc/{written.name}"))
        # -L to a stream: named as the target is, as Docker does.
        assert name in _members(_cp_out_bytes_args(dy, "-L", "box:/abs"))
        # Without -L the link itself is copied.
        link = _members(_cp_out_bytes(dy, "box:/abs"))["abs"]
        assert link.issym() and link.linkname == f"/etc/{name}"
    finally:
        dy("rm", "-f", "box", check=False)
        for path in (host_file, host_only, written):
            path.unlink(missing_ok=True)
    nothing_left(dy)


def test_cp_errors(dy: Dockyard, busybox: str, tmp_path: Path) -> None:
    dy("create", "--name", "box", "busybox", "true")
    try:
        missing = dy.fails("cp", "box:/nope", str(tmp_path))
        assert (
            missing.err
            == "Error response from daemon: Could not find the file /nope in container box\n"
        )
        assert missing.code == 1
        assert dy.fails("cp", "a:/x", "b:/y").err == "copying between containers is not supported\n"
        assert dy.fails("cp", "/a", "/b").err == "must specify at least one container source\n"
        assert dy.fails("cp", "nosuch:/x", str(tmp_path)).err == (
            "Error response from daemon: No such container: nosuch\n"
        )
        gone = tmp_path / "gone"
        assert (
            dy.fails("cp", str(gone), "box:/").err == f"lstat {gone}: no such file or directory\n"
        )
        f = tmp_path / "f"
        f.write_text("x")
        assert dy.fails("cp", str(f), "box:/nodir/").err == "no such directory\n"
        assert dy.fails("cp", str(f), "box:/nodir/x").err == (
            "Error response from daemon: Could not find the file /nodir in container box\n"
        )
        assert dy.fails("cp", "box:/etc/passwd", f"{tmp_path}/no/").err == "no such directory\n"
        assert "not a directory" in dy.fails("cp", "box:/etc/passwd/", str(tmp_path)).err
    finally:
        dy("rm", "-f", "box", check=False)
    nothing_left(dy)


def test_diff_lists_added_changed_deleted(dy: Dockyard, busybox: str) -> None:
    try:
        dy(
            "run",
            "--name",
            "box",
            "busybox",
            "sh",
            "-c",
            "touch /new; rm /etc/group; echo >> /etc/passwd",
        )
        assert dy("diff", "box").out == "C /etc\nD /etc/group\nC /etc/passwd\nA /new\n"
        assert (
            dy.fails("diff", "nosuch").err
            == "Error response from daemon: No such container: nosuch\n"
        )
    finally:
        dy("rm", "-f", "box", check=False)
    nothing_left(dy)


def test_export_then_import_runs(dy: Dockyard, busybox: str, tmp_path: Path) -> None:
    out = tmp_path / "export.tar"
    try:
        dy("run", "--name", "box", "busybox", "sh", "-c", "echo exported > /marker")
        dy("export", "-o", str(out), "box")
        names = set(_members(out.read_bytes()))
        assert "marker" in names and "bin/busybox" in names
        dy("import", "-c", 'CMD ["cat","/marker"]', str(out), "exported:1")
        assert dy("run", "--rm", "exported:1").out == "exported\n"
    finally:
        dy("rm", "-f", "box", check=False)
        dy("rmi", "exported:1", check=False)
    nothing_left(dy)


def test_commit_a_running_container(dy: Dockyard, busybox: str) -> None:
    try:
        dy("run", "-d", "--name", "box", "busybox", "sh", "-c", "echo committed > /hello; sleep 60")
        _wait_for_file(dy, "box", "/hello")
        image_id = dy(
            "commit", "-m", "my message", "-a", "me", "-c", 'CMD ["cat","/hello"]', "box", "snap:1"
        ).out.strip()
        assert image_id.startswith("sha256:") and len(image_id) == 71
        # The container was paused for the commit and resumed after.
        assert dy("ps", "--format", "{{.Status}}").out.startswith("Up ")
        assert dy("run", "--rm", "snap:1").out == "committed\n"
        rows = dy("history", "--format", "{{.CreatedBy}}|{{.Comment}}", "snap:1").lines
        assert rows[0] == "sh -c echo committed > /hello; sleep 60|my message"
        assert len(rows) == 2
        author = dy("image", "inspect", "--format", "{{.Author}} {{.Parent}}", "snap:1").out
        assert author.strip() == f"me {busybox}"
        # An image from a stopped container, without pausing.
        dy("rm", "-f", "box")
        dy("create", "--name", "box", "busybox", "true")
        second = dy("commit", "--pause=false", "box").out.strip()
        assert dy("history", "-q", second).lines[0] == second[7:19]
        dy("rmi", second)
    finally:
        dy("rm", "-f", "box", check=False)
        dy("rmi", "snap:1", check=False)
    nothing_left(dy)


def test_cp_reaches_volumes_and_archive_mode(dy: Dockyard, busybox: str, tmp_path: Path) -> None:
    src = tmp_path / "owned"
    src.write_text("owned\n")
    os.chown(src, 1234, 4321)
    try:
        dy("create", "--name", "box", "-v", "fsvol:/data", "busybox", "true")
        dy("cp", str(src), "box:/data/")  # kept as it is, as dockerd does without -a
        dy("cp", "-a", str(src), "box:/root-owned")  # -a: the container user's (root)
        volume_file = dy.root / "volumes" / "fsvol" / "_data" / "owned"
        assert volume_file.read_text() == "owned\n"
        assert (volume_file.stat().st_uid, volume_file.stat().st_gid) == (1234, 4321)
        members = _members(_cp_out_bytes(dy, "box:/data"))
        assert members["data/owned"].uid == 1234
        assert members["data/owned"].gid == 4321
        root_owned = _members(_cp_out_bytes(dy, "box:/root-owned"))["root-owned"]
        assert (root_owned.uid, root_owned.gid) == (0, 0)
    finally:
        dy("rm", "-f", "box", check=False)
        dy("volume", "rm", "fsvol", check=False)
    nothing_left(dy)


def test_vfs_driver_cp_diff_export_commit(tmp_path: Path, busybox_tar: Path) -> None:
    """The same verbs on the vfs driver (a full copy per snapshot, diffs by comparing)."""
    dy = Dockyard(tmp_path / "root", tmp_path / "run")
    vfs = ("--storage-driver", "vfs")
    dy(*vfs, "import", "-c", 'CMD ["sh"]', str(busybox_tar), "busybox:latest")
    src = tmp_path / "added"
    src.write_text("added\n")
    try:
        dy(*vfs, "create", "--name", "box", "busybox", "true")
        dy(*vfs, "cp", str(src), "box:/etc/")
        assert dy(*vfs, "diff", "box").out == "C /etc\nA /etc/added\n"
        names = set(
            _members(
                subprocess.run(
                    [DOCKYARD, *vfs, "export", "box"], capture_output=True, env=dy.env, check=True
                ).stdout
            )
        )
        assert "etc/added" in names and "bin/busybox" in names
        image = dy(*vfs, "commit", "-m", "on vfs", "box", "vfsimg").out.strip()
        rows = dy(*vfs, "history", "--format", "{{.Comment}}", image).lines
        assert len(rows) == 2 and rows[0] == "on vfs"
    finally:
        dy(*vfs, "rm", "-f", "box", check=False)
        dy(*vfs, "rmi", "vfsimg", "busybox", check=False)
    with open("/proc/mounts") as f:
        assert str(tmp_path) not in f.read()
