"""The pure parts of compose push/cp/watch: argument splitting, local paths, watch rules
(Compose's ignore rules and batch classification) and the polling watcher's diffs."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from dockyard.compose.engine import filewatch, transfer, watch


def test_split_cp_arg_as_compose() -> None:
    assert transfer.split_cp_arg("web:/etc/hosts") == ("web", "/etc/hosts")
    assert transfer.split_cp_arg("/abs:path") == ("", "/abs:path")
    assert transfer.split_cp_arg("./web:x") == ("", "./web:x")
    assert transfer.split_cp_arg("plain") == ("", "plain")
    assert transfer.split_cp_arg("web:") == ("web", "")


def test_resolve_local_path_keeps_trailing_separator_and_dot(tmp_path: Path) -> None:
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        assert transfer.resolve_local_path("a/") == f"{tmp_path}/a/"
        assert transfer.resolve_local_path("a/.") == f"{tmp_path}/a/."
        assert transfer.resolve_local_path(".") == f"{tmp_path}/."
        assert transfer.resolve_local_path("a/b") == f"{tmp_path}/a/b"
    finally:
        os.chdir(cwd)


def _rule(
    path: str, action: str, target: str | None, ignore: list[str] | None = None
) -> watch.Rule:
    return watch.Rule(
        service="web",
        path=path,
        action=action,
        target=target,
        ignore=[
            watch.RootedMatcher("/", watch.EPHEMERAL),
            watch.RootedMatcher("/", [".git/"]),
            watch.RootedMatcher(path, ignore or []),
        ],
    )


def test_rule_mapping_and_ignores() -> None:
    rule = _rule("/src/app", "sync", "/app", ["node_modules/", "*.tmp"])
    assert rule.mapping("/src/app/a/b.py") == ("/src/app/a/b.py", "/app/a/b.py")
    assert rule.mapping("/src/app") == ("/src/app", "/app")
    assert rule.mapping("/src/other/x") is None
    assert rule.mapping("/src/application/x") is None  # not a child, only a prefix
    assert rule.mapping("/src/app/node_modules/x/y.js") is None
    assert rule.mapping("/src/app/x.tmp") is None
    assert rule.mapping("/src/app/sub/x.tmp") is not None  # "*.tmp" is rooted at the path
    # editors' temporary files (EphemeralPathMatcher)
    for name in ("a.py~", ".a.py.swp", "4913", ".#a.py", "#a.py#", ".idea/workspace.xml"):
        assert rule.mapping(f"/src/app/{name}") is None, name
    include = watch.Rule("web", "/src", "sync", "/x", include=watch.RootedMatcher("/src", ["*.py"]))
    assert include.mapping("/src/a.py") == ("/src/a.py", "/x/a.py")
    assert include.mapping("/src/a.txt") is None


def test_classify_a_batch() -> None:
    rules = [
        _rule("/p/src", "sync", "/app"),
        _rule("/p/package.json", "rebuild", None),
        _rule("/p/conf", "sync+restart", "/etc/conf"),
        watch.Rule("worker", "/p/src", "sync+exec", "/w", exec={"command": ["true"]}),
    ]
    batch = watch.classify(
        {"/p/src/a.py", "/p/src/b.py", "/p/package.json", "/p/conf/x.ini", "/p/README"}, rules
    )
    assert batch.rebuild == ["web"]
    assert batch.sync == {
        "web": [
            ("/p/conf/x.ini", "/etc/conf/x.ini"),
            ("/p/src/a.py", "/app/a.py"),
            ("/p/src/b.py", "/app/b.py"),
        ],
        "worker": [("/p/src/a.py", "/w/a.py"), ("/p/src/b.py", "/w/b.py")],
    }
    assert batch.restart == ["web"]
    assert batch.exec == {"worker": [3]}


def test_go_strings_is_go_percent_q_of_a_slice() -> None:
    assert watch.go_strings(["web"]) == '["web"]'
    assert watch.go_strings(["a", 'b"c']) == '["a" "b\\"c"]'


def test_tar_of_names_entries_by_container_path(tmp_path: Path) -> None:
    import tarfile

    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "f").write_text("x")
    (tmp_path / "g").write_text("y")
    data = watch.tar_of([(str(tmp_path / "d"), "/app/d"), (str(tmp_path / "g"), "/app/g")])
    with tarfile.open(fileobj=data) as tar:
        assert sorted(tar.getnames()) == ["app/d", "app/d/f", "app/g"]


def test_polling_watcher_reports_files_not_directory_mtimes(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "a").write_text("1")
    poller = filewatch.PollingWatcher([str(tmp_path)])
    assert poller.poll() == set()
    (tmp_path / "sub" / "b").write_text("2")
    assert poller.poll() == {str(tmp_path / "sub" / "b")}  # not sub itself
    (tmp_path / "sub" / "a").write_text("changed")
    assert poller.poll() == {str(tmp_path / "sub" / "a")}
    (tmp_path / "sub" / "a").unlink()
    (tmp_path / "new").mkdir()
    assert poller.poll() == {str(tmp_path / "sub" / "a"), str(tmp_path / "new")}


def test_next_batch_waits_for_quiet(tmp_path: Path) -> None:
    clock = [0.0]
    writes = {1: "a", 2: "b"}
    ticks = [0]

    def sleep(seconds: float) -> None:
        ticks[0] += 1
        clock[0] += seconds
        name = writes.pop(ticks[0], None)
        if name:
            (tmp_path / name).write_text(name)

    poller = filewatch.PollingWatcher(
        [str(tmp_path)], interval=0.1, quiet=0.5, clock=lambda: clock[0], sleep=sleep
    )
    batch = poller.next_batch()
    assert batch == {str(tmp_path / "a"), str(tmp_path / "b")}  # one batch for both
    assert clock[0] >= 0.7
    assert poller.next_batch(lambda: True) == set()


# ------------------------------------------------------------------ CLI checks before the engine


def _cli(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    from dockyard.cli.commands.compose import cmd_compose
    from dockyard.cli.errors import report
    from dockyard.errors import DockyardError

    try:
        code = cmd_compose(lambda: None, argv, "compose")  # type: ignore[arg-type,return-value]
    except DockyardError as exc:
        code = report(exc)
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_rejects_bad_arguments_before_touching_the_engine(
    capsys: pytest.CaptureFixture[str],
) -> None:
    cases = {
        ("cp", "", "web:/x"): "source can not be empty",
        ("cp", "./a", ""): "destination can not be empty",
        ("cp", "--index", "x", "a", "web:/x"): 'invalid argument "x" for "--index" flag',
        ("scale", "web"): "invalid scale specifier: web",
        ("scale", "web=two"): "can't parse replica value as int: web=two",
        ("up", "--attach", "a", "--attach-dependencies"): "cannot combine --attach and",
        ("up", "--abort-on-container-exit", "--abort-on-container-failure"): (
            "--abort-on-container-failure cannot be combined with --abort-on-container-exit"
        ),
        ("up", "-d", "--abort-on-container-failure"): "--detach cannot be combined with",
    }
    for argv, message in cases.items():
        code, _, err = _cli(list(argv), capsys)
        assert code != 0 and message in err, (argv, err)


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    from dockyard import __version__

    assert _cli(["version", "--short"], capsys)[:2] == (0, f"{__version__}\n")
    assert _cli(["version", "--format", "json"], capsys)[:2] == (
        0,
        f'{{"version":"{__version__}"}}\n',
    )


def test_ignored_directories_are_not_scanned(tmp_path: Path) -> None:
    root = str(tmp_path)
    rules = [_rule(root, "sync", "/app", ["node_modules/"])]
    assert watch.ignored_directory(rules, f"{root}/node_modules")
    assert watch.ignored_directory(rules, f"{root}/node_modules/deep")
    assert not watch.ignored_directory(rules, f"{root}/src")
    assert not watch.ignored_directory(rules, "/elsewhere")  # no rule watches it
    # an exception pattern may bring a child back: scan it
    excepting = [_rule(root, "sync", "/app", ["node_modules/", "!node_modules/keep"])]
    assert not watch.ignored_directory(excepting, f"{root}/node_modules")
    # a second rule that wants the directory keeps it scanned
    both = [*rules, _rule(root, "rebuild", None)]
    assert not watch.ignored_directory(both, f"{root}/node_modules")

    (tmp_path / "node_modules" / "pkg").mkdir(parents=True)
    (tmp_path / "src").mkdir()
    poller = filewatch.PollingWatcher([root], skip=lambda d: watch.ignored_directory(rules, d))
    (tmp_path / "node_modules" / "pkg" / "index.js").write_text("x")
    (tmp_path / "src" / "a.py").write_text("x")
    assert poller.poll() == {f"{root}/src/a.py"}


def _watch_project(tmp_path: Path, yaml_text: str) -> object:
    """What watch.rules reads of a ComposeProject: the loaded project and its model."""
    from types import SimpleNamespace

    from dockyard.compose.loader import ProjectOptions, load_project
    from dockyard.compose.model import build_model

    (tmp_path / "compose.yaml").write_text(yaml_text)
    project = load_project(
        ProjectOptions(config_files=[str(tmp_path / "compose.yaml")], environ={}, cwd=str(tmp_path))
    )
    return SimpleNamespace(project=project, model=build_model(project.model, project.working_dir))


def test_x_develop_is_read_as_compose_reads_it(tmp_path: Path) -> None:
    """loadDevelopmentConfig: x-develop warns, its relative paths start at the project
    directory; a develop section, when there too, wins."""
    (tmp_path / "src").mkdir()
    cp = _watch_project(
        tmp_path,
        "services:\n"
        "  web:\n"
        "    image: busybox\n"
        "    x-develop:\n"
        "      watch:\n"
        "        - {path: ./src, action: sync, target: /app, ignore: '*.tmp'}\n"
        "  api:\n"
        "    image: busybox\n"
        "    x-develop:\n"
        "      watch: [{path: ./src, action: restart}]\n"
        "    develop:\n"
        "      watch: [{path: ./src, action: sync+restart, target: /srv}]\n",
    )
    warnings: list[str] = []
    rules, paths = watch.rules(cp, ["web", "api"], warnings.append)  # type: ignore[arg-type]
    deprecated = "x-develop is DEPRECATED, please use the official `develop` attribute"
    assert warnings == [deprecated, deprecated]
    src = os.path.realpath(tmp_path / "src")
    assert paths == [src, str(tmp_path / "src")]
    assert [(r.service, r.action, r.target) for r in rules] == [
        ("web", "sync", "/app"),
        ("api", "sync+restart", "/srv"),
    ]


def test_x_develop_checks_use_compose_messages(tmp_path: Path) -> None:
    from dockyard.compose.engine.project import ComposeFailure

    cp = _watch_project(
        tmp_path,
        "services:\n"
        "  web:\n"
        "    image: busybox\n"
        "    x-develop:\n"
        "      watch: [{path: ., action: rebuild}]\n",
    )
    with pytest.raises(ComposeFailure) as caught:
        watch.rules(cp, ["web"], lambda line: None)  # type: ignore[arg-type]
    # Compose swaps the two arguments of this message
    assert caught.value.message == (
        "service rebuild doesn't have a build section, can't apply web on watch"
    )
