""".dockerignore: reading, Docker's pattern rules, filepath.Match, the filtered walk."""

from __future__ import annotations

from pathlib import Path

import pytest

from dockyard.build.dockerignore import (
    Matcher,
    clean_path,
    ignore_file_for,
    load_patterns,
    path_match,
    read_patterns,
)
from dockyard.errors import InvalidArgument

# (pattern, path, excluded) — one pattern, the path or a parent must match.
SINGLE: list[tuple[str, str, bool]] = [
    ("*", "fileutils.go", True),
    ("*.go", "fileutils.go", True),
    ("**", "file", True),
    ("**", "dir/file", True),
    ("**/", "file", True),
    ("**/**", "dir/file", True),
    ("dir/**", "dir/file", True),
    ("dir/**", "dir/dir2/file", True),
    ("**/dir", "dir", True),
    ("**/dir", "dir/file", True),
    ("**/dir2/*", "dir/dir2/file", True),
    ("**/dir2/**", "dir/dir2/dir3/file", True),
    ("**file", "file", True),
    ("**file", "dir/dir/file", True),
    ("**/file", "dir/dir/file", True),
    ("**/file*", "dir/dir/file.txt", True),
    ("**/file*txt", "dir/dir/file.txt", True),
    ("**/**/*.txt", "dir/dir/file.txt", True),
    ("**/**/*.txt2", "dir/dir/file.txt", False),
    ("**/*.txt", "file.txt", True),
    ("a**/*.txt", "a/dir/dir/file.txt", True),
    ("a/*.txt", "a/dir/file.txt", False),
    ("a/*.txt", "a/file.txt", True),
    ("a/*.txt**", "a/file.txt", True),
    ("a[b-d]e", "ae", False),
    ("a[b-d]e", "ace", True),
    ("a[^b-d]e", "aze", True),
    (".*", ".foo", True),
    (".*", "foo", False),
    ("abc.def", "abcdef", False),
    ("abc.def", "abc.def", True),
    ("abc?def", "abcZdef", True),
    ("abc?def", "abcdef", False),
    ("a\\\\", "a\\", True),
    ("a\\*b", "a*b", True),
    ("**/foo/bar", "foo/bar", True),
    ("**/foo/bar", "dir/dir2/foo/bar", True),
    ("abc/**", "abc", False),
    ("abc/**", "abc/def/ghi", True),
    ("**/.foo", ".foo", True),
    ("**/.foo", "bar.foo", False),
    ("a(b)c/def", "a(b)c/def", True),
    ("a.|)$(}+{bc", "a.|)$(}+{bc", True),
    ("dist/*.whl", "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl", True),
    ("docs", "docs/README.md", True),
    ("docs/", "docs/README.md", True),
    ("a*", "ab/c", True),
    ("./a/../b", "b/c", True),
]


@pytest.mark.parametrize(("pattern", "path", "excluded"), SINGLE)
def test_single_pattern(pattern: str, path: str, excluded: bool) -> None:
    assert Matcher([pattern]).excluded(path) is excluded


MULTI: list[tuple[list[str], str, bool]] = [
    (["!fileutils.go", "*.go"], "fileutils.go", True),
    (["*.go", "!fileutils.go"], "fileutils.go", False),
    (["docs", "!docs/README.md"], "docs/README.md", False),
    (["docs/*", "!docs/README.md"], "docs/README.md", False),
    (["**", "!util/docker/web"], "util/docker/web/foo", False),
    (["**", "!util/docker/web", "util/docker/web/foo"], "util/docker/web/foo", True),
    (["**", "!dist/*.whl"], "dist/x-1.whl", False),
    (["*.md", "!README*.md", "README-secret.md"], "README.md", False),
    (["*.md", "!README*.md", "README-secret.md"], "README-secret.md", True),
]


@pytest.mark.parametrize(("patterns", "path", "excluded"), MULTI)
def test_later_patterns_win(patterns: list[str], path: str, excluded: bool) -> None:
    assert Matcher(patterns).excluded(path) is excluded


def test_leading_slash_is_dropped_when_read() -> None:
    assert Matcher(read_patterns("/docs\n")).excluded("docs/README.md")
    assert not Matcher(["/docs"]).excluded("docs/README.md")  # patternmatcher itself keeps it


def test_root_never_excluded() -> None:
    assert not Matcher(["*"]).excluded(".")


@pytest.mark.parametrize("bad", ["[", "[^", "a[", "\\", "[]a]", "[x-]", "[a-b-c]"])
def test_bad_patterns(bad: str) -> None:
    with pytest.raises(InvalidArgument):
        Matcher([bad])


def test_lone_exclamation() -> None:
    with pytest.raises(InvalidArgument, match='illegal exclusion pattern: "!"'):
        Matcher(["!"])


MATCH: list[tuple[str, str, bool]] = [
    ("abc", "abc", True),
    ("*c", "abc", True),
    ("a*/b", "abc/b", True),
    ("a*/b", "a/c/b", False),
    ("a*b*c*d*e*/f", "axbxcxdxexxx/f", True),
    ("a*b?c*x", "abxbbxdbxebxczzx", True),
    ("ab[^e-g]", "abc", True),
    ("ab[^b-d]", "abc", False),
    ("a?b", "a☺b", True),
    ("a???b", "a☺b", False),
    ("[a-ζ]*", "α", True),
    ("a?b", "a/b", False),
    ("[\\]a]", "]", True),
    ("[x\\-]", "-", True),
    ("[\\-x]", "a", False),
    ("*x", "xxx", True),
]


@pytest.mark.parametrize(("pattern", "name", "ok"), MATCH)
def test_filepath_match(pattern: str, name: str, ok: bool) -> None:
    assert path_match(pattern, name) is ok


@pytest.mark.parametrize("bad", ["[]a]", "[-]", "[x-]", "[-x]", "\\", "[a-b-c]", "[", "[^bc", "a["])
def test_filepath_match_bad(bad: str) -> None:
    with pytest.raises(ValueError, match="syntax error in pattern"):
        path_match(bad, "a")


def test_clean_path() -> None:
    assert [clean_path(p) for p in ["", "a//b/", "./a/../..", "/../x", "a/./b/../c"]] == [
        ".", "a/b", "..", "/x", "a/c",
    ]  # fmt: skip


def test_read_patterns() -> None:
    text = (
        "\ufeff# comment\n  # indented comment is a pattern\n\n"
        " /abs/path \n!  keep/../me\r\nsub/\n/\n"
    )
    assert read_patterns(text) == [
        "# indented comment is a pattern",
        "abs/path",
        "!me",
        "sub",
        "/",
    ]


def _tree(root: Path, files: list[str]) -> None:
    for f in files:
        p = root / f
        if f.endswith("/"):
            p.mkdir(parents=True, exist_ok=True)
        else:
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_text(f)


def test_walk(tmp_path: Path) -> None:
    _tree(
        tmp_path,
        [
            "README.md",
            "a/b/f",
            "a/g",
            "c/keep/k",
            "c/other",
            "node_modules/x/y",
            "docs/r.md",
            "empty/",
        ],
    )
    m = Matcher(read_patterns("node_modules\n/a/b\nc\n!c/keep\n**/*.md\n!README.md\n"))
    assert list(m.walk(str(tmp_path))) == [
        ("README.md", False),
        ("a", True),
        ("a/g", False),
        ("c", True),
        ("c/keep", True),
        ("c/keep/k", False),
        ("docs", True),
        ("empty", True),
    ]


def test_walk_wildcard_exception_descends(tmp_path: Path) -> None:
    _tree(tmp_path, ["x/keep", "x/drop", "y/z/keep", "top"])
    m = Matcher(["*", "!*/keep"])
    assert list(m.walk(str(tmp_path))) == [("x", True), ("x/keep", False)]
    m = Matcher(["**", "!**/keep"])
    assert [p for p, d in m.walk(str(tmp_path)) if not d] == ["x/keep", "y/z/keep"]
    assert list(m.walk(str(tmp_path))).count(("y", True)) == 1


def test_walk_without_patterns_lists_everything(tmp_path: Path) -> None:
    _tree(tmp_path, ["a/b", "c"])
    (tmp_path / "link").symlink_to("/etc")
    assert list(Matcher([]).walk(str(tmp_path))) == [
        ("a", True),
        ("a/b", False),
        ("c", False),
        ("link", False),
    ]


def test_walk_from_subdirectory(tmp_path: Path) -> None:
    _tree(tmp_path, ["src/a.py", "src/a.pyc", "src/sub/b.py"])
    m = Matcher(["**/*.pyc"])
    assert list(m.walk(str(tmp_path), "src")) == [
        ("src/a.py", False),
        ("src/sub", True),
        ("src/sub/b.py", False),
    ]
    assert list(Matcher(["src"]).walk(str(tmp_path), "src")) == []


def test_dockerfile_specific_ignore_file_wins(tmp_path: Path) -> None:
    (tmp_path / ".dockerignore").write_text("generic\n")
    (tmp_path / "build").mkdir()
    dockerfile = tmp_path / "build" / "app.Dockerfile"
    dockerfile.write_text("FROM a\n")
    assert load_patterns(str(tmp_path), str(dockerfile)) == ["generic"]
    (tmp_path / "build" / "app.Dockerfile.dockerignore").write_text("specific\n")
    assert ignore_file_for(str(tmp_path), str(dockerfile)) == str(dockerfile) + ".dockerignore"
    assert load_patterns(str(tmp_path), str(dockerfile)) == ["specific"]
    assert load_patterns(str(tmp_path / "build")) == []
