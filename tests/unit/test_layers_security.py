"""Hostile layers: each must fail with a clear error and write nothing outside the target.

Every test gets a target directory with a sentinel directory beside it; after the
attempt, everything outside the target must be exactly as before.
"""

from __future__ import annotations

import gzip
import io
import os
import stat
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from dockyard.errors import Corrupt, DockyardError, InvalidArgument
from dockyard.store.layers import apply_layer
from tests.unit._layers_support import TarBuilder, needs_root, outside_state

pytestmark = needs_root


@dataclass
class Box:
    tmp: Path
    target: Path
    sentinel: Path

    def apply(self, blob: bytes, whiteouts: str = "oci") -> None:
        apply_layer(io.BytesIO(blob), str(self.target), whiteouts=whiteouts)  # type: ignore[arg-type]


@pytest.fixture(params=["oci", "overlay"])
def whiteouts(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def box(tmp_path: Path) -> Iterator[Box]:
    target = tmp_path / "target"
    target.mkdir()
    sentinel = tmp_path / "sentinel"
    sentinel.mkdir(mode=0o755)
    (sentinel / "keep").write_bytes(b"precious")
    (sentinel / "sub").mkdir()
    before = outside_state(tmp_path, target)
    yield Box(tmp_path, target, sentinel)
    assert outside_state(tmp_path, target) == before, "something outside the target changed"
    assert (sentinel / "keep").read_bytes() == b"precious"
    assert os.lstat(sentinel / "keep").st_nlink == 1


def _refused(box: Box, blob: bytes, match: str, whiteouts: str = "oci",
             error: type[DockyardError] = InvalidArgument) -> None:
    with pytest.raises(error, match=match) as info:
        box.apply(blob, whiteouts)
    assert "\n" not in str(info.value)


# -- names ------------------------------------------------------------------------

@pytest.mark.parametrize("name", [
    "../sentinel/pwned",
    "a/../../sentinel/pwned",
    "./../sentinel/pwned",
    "/../sentinel/pwned",
    "a/b/../../../sentinel/pwned",
    "..",
])
def test_dotdot_escape(box: Box, whiteouts: str, name: str) -> None:
    _refused(box, TarBuilder().file(name, b"evil").bytes(), r"escapes the layer root", whiteouts)


def test_dotdot_escape_error_message(box: Box) -> None:
    with pytest.raises(InvalidArgument) as info:
        box.apply(TarBuilder().file("../x", b"").bytes())
    assert str(info.value) == 'invalid tar header: path "../x" escapes the layer root'


def test_dotdot_in_directory_and_whiteout_entries(box: Box, whiteouts: str) -> None:
    _refused(box, TarBuilder().dir("../sentinel/sub").bytes(), "escapes", whiteouts)
    _refused(box, TarBuilder().whiteout("../sentinel/keep").bytes(), "escapes", whiteouts)
    _refused(box, TarBuilder().opaque("../sentinel").bytes(), "escapes", whiteouts)


def test_harmless_dotdot_is_cleaned(box: Box) -> None:
    box.apply(TarBuilder().file("a/../b", b"fine").bytes())
    assert (box.target / "b").read_bytes() == b"fine"


def test_absolute_names_are_relative_to_the_root(box: Box, whiteouts: str) -> None:
    abs_sentinel = str(box.sentinel)
    box.apply(TarBuilder().file(abs_sentinel + "/keep", b"inside").file("/etc/x", b"x").bytes(),
              whiteouts)
    assert (box.target / abs_sentinel.lstrip("/") / "keep").read_bytes() == b"inside"
    assert (box.target / "etc/x").read_bytes() == b"x"


def test_nul_in_name(box: Box) -> None:
    ti = tarfile.TarInfo("x")
    ti.pax_headers = {"path": "ok\0../../sentinel/keep"}
    _refused(box, TarBuilder().raw(ti).bytes(), "NUL", error=Corrupt)


@pytest.mark.parametrize("pax", [{"uid": str(1 << 40)}, {"mtime": "9" * 30}])
def test_out_of_range_values(box: Box, pax: dict[str, str]) -> None:
    _refused(box, TarBuilder().file("f", b"", pax=pax).bytes(), "invalid tar header",
             error=Corrupt)


def test_too_long_name(box: Box) -> None:
    _refused(box, TarBuilder().file("a/" * 3000 + "f", b"").bytes(), "too long")


# -- symlinks ---------------------------------------------------------------------

def test_write_through_absolute_symlink_made_by_the_layer(box: Box, whiteouts: str) -> None:
    blob = TarBuilder().symlink("link", str(box.sentinel)).file("link/pwned", b"evil").bytes()
    _refused(box, blob, r'passes through symlink "link" created by this layer', whiteouts)


def test_write_through_relative_escaping_symlink(box: Box, whiteouts: str) -> None:
    blob = TarBuilder().symlink("link", "../sentinel").file("link/pwned", b"evil").bytes()
    _refused(box, blob, "passes through symlink", whiteouts)


def test_write_through_nested_symlink(box: Box, whiteouts: str) -> None:
    blob = (
        TarBuilder()
        .dir("a")
        .symlink("a/b", "../../sentinel")
        .dir("a/b/sub")  # a directory entry through the link
        .bytes()
    )
    _refused(box, blob, "passes through symlink", whiteouts)


def test_directory_replaced_by_symlink_then_written_through(box: Box, whiteouts: str) -> None:
    blob = (
        TarBuilder()
        .dir("d")
        .file("d/ok", b"ok")
        .symlink("d", str(box.sentinel))
        .file("d/pwned", b"evil")
        .bytes()
    )
    _refused(box, blob, "passes through symlink", whiteouts)


def test_symlink_chain_through_layer_links(box: Box, whiteouts: str) -> None:
    blob = (
        TarBuilder()
        .symlink("one", "two")
        .symlink("two", str(box.sentinel))
        .file("one/pwned", b"evil")
        .bytes()
    )
    _refused(box, blob, "passes through symlink", whiteouts)


def test_whiteout_through_symlink(box: Box, whiteouts: str) -> None:
    blob = TarBuilder().symlink("link", str(box.sentinel)).whiteout("link/keep").bytes()
    _refused(box, blob, "passes through symlink", whiteouts)


def test_opaque_through_symlink(box: Box, whiteouts: str) -> None:
    blob = TarBuilder().symlink("link", str(box.sentinel)).opaque("link").bytes()
    _refused(box, blob, "passes through symlink", whiteouts)


def test_symlink_entry_itself_may_point_anywhere(box: Box, whiteouts: str) -> None:
    box.apply(TarBuilder().symlink("etc-link", "/etc").symlink("up", "../../../..").bytes(),
              whiteouts)
    assert os.readlink(box.target / "etc-link") == "/etc"


# -- hardlinks --------------------------------------------------------------------

@pytest.mark.parametrize(
    "linkname", ["../sentinel/keep", "a/../../sentinel/keep", "../../etc/passwd"]
)
def test_hardlink_escape(box: Box, whiteouts: str, linkname: str) -> None:
    _refused(box, TarBuilder().hardlink("h", linkname).bytes(), "target escapes the layer root",
             whiteouts)


def test_hardlink_error_message(box: Box) -> None:
    with pytest.raises(InvalidArgument) as info:
        box.apply(TarBuilder().hardlink("h", "../../etc/passwd").bytes())
    assert str(info.value) == (
        'invalid hardlink "h" -> "../../etc/passwd": target escapes the layer root'
    )


def test_hardlink_through_symlinked_dir(box: Box, whiteouts: str) -> None:
    blob = TarBuilder().symlink("link", str(box.sentinel)).hardlink("h", "link/keep").bytes()
    _refused(box, blob, "passes through symlink", whiteouts)


def test_hardlink_with_absolute_host_path_stays_inside(box: Box, whiteouts: str) -> None:
    # "/…/sentinel/keep" means that path inside the root, where it does not exist.
    blob = TarBuilder().hardlink("h", str(box.sentinel / "keep")).bytes()
    _refused(box, blob, "target does not exist", whiteouts, error=Corrupt)


def test_hardlink_to_layer_symlink_is_not_traversable(box: Box, whiteouts: str) -> None:
    blob = (
        TarBuilder()
        .symlink("s", str(box.sentinel))
        .hardlink("h", "s")
        .file("h/pwned", b"evil")
        .bytes()
    )
    _refused(box, blob, r'passes through symlink "h"', whiteouts)


def test_hardlink_to_lower_symlink_is_not_traversable(box: Box) -> None:
    os.symlink(str(box.sentinel), box.target / "lower")
    blob = TarBuilder().hardlink("h", "lower").file("h/pwned", b"evil").bytes()
    _refused(box, blob, r'passes through symlink "h"')


# -- whiteout names -----------------------------------------------------------------

@pytest.mark.parametrize("name", [".wh...", "d/.wh...", ".wh..", "d/.wh."])
def test_whiteout_of_dot_or_dotdot(box: Box, whiteouts: str, name: str) -> None:
    (box.target / "d").mkdir()
    _refused(box, TarBuilder().file(name, b"").bytes(), "invalid whiteout", whiteouts)
    assert (box.target / "d").is_dir()


# -- lower-layer symlinks: followed, but only inside the root ---------------------------

def test_lower_symlinks_resolve_inside_the_root(box: Box) -> None:
    t = box.target
    (t / "usr/lib").mkdir(parents=True)
    os.symlink("usr/lib", t / "lib")
    os.symlink("/usr/lib", t / "lib64")
    os.symlink("../../../../../../usr/lib", t / "libx")
    os.symlink(str(box.sentinel), t / "escape")
    blob = (
        TarBuilder()
        .file("lib/a", b"a")
        .file("lib64/b", b"b")
        .file("libx/c", b"c")
        .file("escape/pwned", b"inside")
        .bytes()
    )
    box.apply(blob)
    assert sorted(os.listdir(t / "usr/lib")) == ["a", "b", "c"]
    assert (t / str(box.sentinel).lstrip("/") / "pwned").read_bytes() == b"inside"
    assert os.path.islink(t / "lib")


def test_lower_symlink_loop(box: Box) -> None:
    os.symlink("b", box.target / "a")
    os.symlink("a", box.target / "b")
    _refused(box, TarBuilder().file("a/x", b"").bytes(), "too many levels of symbolic links")


def test_entries_replace_lower_symlinks_pointing_outside(box: Box, whiteouts: str) -> None:
    t = box.target
    os.symlink(str(box.sentinel / "keep"), t / "file")
    os.symlink(str(box.sentinel), t / "dir")
    os.symlink(str(box.sentinel / "keep"), t / "node")
    os.symlink(str(box.sentinel / "keep"), t / "hl")
    os.symlink(str(box.sentinel / "keep"), t / "fifo")
    blob = (
        TarBuilder()
        .file("file", b"replaced", mode=0o777)
        .dir("dir", mode=0o700)
        .device("node", 1, 3)
        .file("src", b"s")
        .hardlink("hl", "src", mode=0o777)
        .fifo("fifo")
        .bytes()
    )
    box.apply(blob, whiteouts)
    assert (t / "file").read_bytes() == b"replaced"
    assert stat.S_ISDIR(os.lstat(t / "dir").st_mode)
    assert stat.S_ISCHR(os.lstat(t / "node").st_mode)
    assert os.lstat(t / "hl").st_ino == os.lstat(t / "src").st_ino
    assert stat.S_ISFIFO(os.lstat(t / "fifo").st_mode)


def test_whiteout_of_lower_symlink_removes_the_link_only(box: Box) -> None:
    os.symlink(str(box.sentinel), box.target / "link")
    box.apply(TarBuilder().whiteout("link").bytes())
    assert not os.path.lexists(box.target / "link")


def test_opaque_in_lower_symlinked_dir_stays_inside(box: Box) -> None:
    t = box.target
    (t / "real").mkdir()
    (t / "real/old").write_bytes(b"o")
    os.symlink("/real", t / "alias")
    box.apply(TarBuilder().opaque("alias").bytes())
    assert list((t / "real").iterdir()) == []


# -- damaged archives ------------------------------------------------------------------

def _layer() -> bytes:
    return TarBuilder().dir("d").file("d/a", os.urandom(5000)).file("d/b", b"b" * 700).bytes()


@pytest.mark.parametrize("cut", [10, 600, 2000, 4000])
def test_truncated_tar(box: Box, cut: int) -> None:
    _refused(box, _layer()[:cut], r"^unexpected EOF$", error=Corrupt)


def test_truncated_gzip(box: Box) -> None:
    blob = gzip.compress(_layer())
    _refused(box, blob[: len(blob) - 20], r"^unexpected EOF$", error=Corrupt)


def test_truncated_zstd(box: Box) -> None:
    import zstandard

    blob = zstandard.ZstdCompressor().compress(_layer())
    _refused(box, blob[: len(blob) - 5], r"^unexpected EOF$", error=Corrupt)


def test_corrupt_gzip(box: Box) -> None:
    blob = bytearray(gzip.compress(_layer()))
    blob[len(blob) // 2] ^= 0xFF
    blob[len(blob) // 2 + 1] ^= 0xFF
    _refused(box, bytes(blob), "gzip|invalid tar header|unexpected EOF", error=Corrupt)


def test_bad_header_checksum(box: Box) -> None:
    blob = bytearray(_layer())
    blob[3] ^= 0x20
    _refused(box, bytes(blob), "invalid tar header: checksum mismatch", error=Corrupt)


def test_garbage(box: Box) -> None:
    _refused(box, b"\x01not a tar archive\n" * 300, "invalid tar header", error=Corrupt)
