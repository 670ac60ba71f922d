"""Pure logic of the engine and the bottom layer: filters, --change, daemon.json, time."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dockyard.config import resolve_options
from dockyard.engine.changes import apply_changes, empty_container_config
from dockyard.engine.filters import Filters
from dockyard.errors import InvalidArgument
from dockyard.timeutil import parse_go_duration, parse_rfc3339, parse_timestamp, rfc3339_nano


def test_filters_cli_and_json_forms() -> None:
    f = Filters.from_cli(["dangling=true", "label=a=b", "label=c"])
    assert f.get("label") == ["a=b", "c"]
    assert f.bool_value("dangling") is True
    assert Filters.from_json('{"label": {"a=b": true}}').get("label") == ["a=b"]
    assert Filters.from_json('{"label": ["x"]}').get("label") == ["x"]
    assert json.loads(f.to_json())["dangling"] == {"true": True}
    with pytest.raises(InvalidArgument, match="bad format of filter"):
        Filters.from_cli(["nokey"])
    with pytest.raises(InvalidArgument, match="Invalid filter 'foo'"):
        Filters.from_cli(["foo=1"]).validate(("label",))
    with pytest.raises(InvalidArgument, match=r"Invalid filter 'dangling=\[maybe\]'"):
        Filters.from_cli(["dangling=maybe"]).bool_value("dangling")
    with pytest.raises(InvalidArgument):
        Filters.from_json("[1]")


def test_filter_timestamps() -> None:
    f = Filters()
    assert f.timestamp("1h", now=10_000.0) == 10_000.0 - 3600
    assert f.timestamp("1700000000") == 1_700_000_000
    assert f.timestamp("2024-01-01T00:00:00Z") == 1_704_067_200
    with pytest.raises(InvalidArgument):
        f.timestamp("yesterday")


def test_changes_apply_like_docker() -> None:
    config = apply_changes(
        empty_container_config(),
        [
            'CMD ["sh", "-c", "echo hi"]',
            "ENTRYPOINT /bin/true",
            'ENV A=1 B="two words"',
            "ENV LEGACY some value",
            "EXPOSE 80 443/tcp 53/udp",
            "LABEL a=b c=d",
            "USER 1000:1000",
            "WORKDIR /a",
            "WORKDIR b",
            'VOLUME ["/v1", "/v2"]',
            "STOPSIGNAL SIGQUIT",
            "ONBUILD RUN echo",
            "HEALTHCHECK --interval=5s --retries=2 CMD true",
        ],
    )
    assert config["Cmd"] == ["sh", "-c", "echo hi"]
    assert config["Entrypoint"] == ["/bin/sh", "-c", "/bin/true"]
    assert config["Env"] == ["A=1", "B=two words", "LEGACY=some value"]
    assert config["ExposedPorts"] == {"80/tcp": {}, "443/tcp": {}, "53/udp": {}}
    assert config["Labels"] == {"a": "b", "c": "d"}
    assert config["User"] == "1000:1000"
    assert config["WorkingDir"] == "/a/b"
    assert config["Volumes"] == {"/v1": {}, "/v2": {}}
    assert config["StopSignal"] == "SIGQUIT"
    assert config["OnBuild"] == ["RUN echo"]
    assert config["Healthcheck"] == {
        "Interval": 5_000_000_000,
        "Retries": 2,
        "Test": ["CMD-SHELL", "true"],
    }
    with pytest.raises(InvalidArgument, match=r"^run is not a valid change command$"):
        apply_changes({}, ["RUN x"])
    with pytest.raises(InvalidArgument, match=r"can't find = in \"B\""):
        apply_changes({}, ["ENV A=1 B"])


def test_daemon_json(tmp_path: Path) -> None:
    path = tmp_path / "daemon.json"
    path.write_text(
        '{"data-root": "/x", "registry-mirrors": ["http://127.0.0.1:1"],'
        ' "storage-driver": "overlay2", "debug": true}'
    )
    opts = resolve_options(config_file=str(path), environ={})
    assert opts.root == "/x"
    assert opts.storage_driver == "overlay"
    assert opts.debug and opts.log_level == "debug"
    assert opts.registry_mirrors == ["http://127.0.0.1:1"]
    # Flags beat the environment, which beats daemon.json.
    opts = resolve_options(root="/flag", config_file=str(path), environ={"DOCKYARD_ROOT": "/env"})
    assert opts.root == "/flag"
    assert resolve_options(config_file=str(path), environ={"DOCKYARD_ROOT": "/env"}).root == "/env"
    path.write_text("{oops")
    with pytest.raises(InvalidArgument, match="unable to configure the dockyard engine with file"):
        resolve_options(config_file=str(path), environ={})
    path.write_text('{"bogus": 1}')
    with pytest.raises(InvalidArgument, match="don't match any configuration option: bogus"):
        resolve_options(config_file=str(path), environ={})
    with pytest.raises(InvalidArgument, match="no such file"):
        resolve_options(config_file=str(tmp_path / "missing.json"), environ={})
    path.write_text("{}")
    with pytest.raises(InvalidArgument, match="driver not supported: zfs"):
        resolve_options(storage_driver="zfs", config_file=str(path), environ={})


def test_time_round_trips() -> None:
    assert rfc3339_nano(1_700_000_000.0) == "2023-11-14T22:13:20Z"
    assert rfc3339_nano(1_700_000_000, nanos=120_000_000) == "2023-11-14T22:13:20.12Z"
    assert parse_rfc3339("2023-11-14T22:13:20.12Z") == pytest.approx(1_700_000_000.12)
    assert parse_rfc3339("2023-11-14T23:13:20+01:00") == 1_700_000_000
    assert parse_go_duration("1h30m") == 5400
    assert parse_go_duration("1.5s") == 1.5
    assert parse_go_duration("-2m") == -120
    with pytest.raises(InvalidArgument, match="missing unit"):
        parse_go_duration("10")
    assert parse_timestamp("10m", now=1000.0) == 400.0
    assert parse_timestamp("2024-01-01") == 1_704_067_200
