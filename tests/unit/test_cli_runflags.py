"""run/create flags become the Engine API's Config and HostConfig as docker's CLI makes them."""

from __future__ import annotations

import pytest

from dockyard.cli.parser import CommandParser
from dockyard.cli.runflags import RUN_USAGE, add_run_flags, build_container_request
from dockyard.errors import UsageError


def request(*argv: str, detach: bool = False):  # type: ignore[no-untyped-def]
    p = CommandParser("create", RUN_USAGE, "Create a new container")
    add_run_flags(p)
    ns = p.parse(list(argv), min_args=1, interspersed=False)
    return build_container_request(ns, p, detach=detach)


def test_matches_what_docker_sends() -> None:
    # The same command line was given to docker 28 against dockerd 20.10; the fields
    # below are what it stored (before the daemon filled in its own defaults).
    image, config, host, _ = request(
        "--name",
        "rf-test",
        "-e",
        "A=1",
        "-p",
        "127.0.0.1:8080:80/udp",
        "-p",
        "9000-9001:90-91",
        "--expose",
        "7000",
        "-m",
        "64m",
        "--memory-swap",
        "128m",
        "--cpus",
        "1.5",
        "--restart",
        "on-failure:3",
        "--mount",
        "type=tmpfs,target=/run,tmpfs-size=64m",
        "--mount",
        "type=volume,source=v1,target=/data,readonly,volume-label=a=b",
        "-v",
        "/tmp:/host:ro",
        "--tmpfs",
        "/t:size=1m",
        "--ulimit",
        "nofile=100:200",
        "--device",
        "/dev/null:/dev/xnull:r",
        "--health-cmd",
        "true",
        "--health-interval",
        "5s",
        "-l",
        "k=v",
        "--entrypoint",
        "/bin/sh",
        "cmp:1",
        "-c",
        "echo hi",
    )
    assert image == "cmp:1"
    assert config["ExposedPorts"] == {"7000/tcp": {}, "80/udp": {}, "90/tcp": {}, "91/tcp": {}}
    assert config["Env"] == ["A=1"]
    assert config["Cmd"] == ["-c", "echo hi"]
    assert config["Entrypoint"] == ["/bin/sh"]
    assert config["Healthcheck"] == {"Test": ["CMD-SHELL", "true"], "Interval": 5_000_000_000}
    assert config["Labels"] == {"k": "v"}
    assert config["AttachStdout"] and config["AttachStderr"] and not config["AttachStdin"]
    assert host["Binds"] == ["/tmp:/host:ro"]
    assert host["PortBindings"] == {
        "80/udp": [{"HostIp": "127.0.0.1", "HostPort": "8080"}],
        "90/tcp": [{"HostIp": "", "HostPort": "9000"}],
        "91/tcp": [{"HostIp": "", "HostPort": "9001"}],
    }
    assert host["RestartPolicy"] == {"Name": "on-failure", "MaximumRetryCount": 3}
    assert host["Tmpfs"] == {"/t": "size=1m"}
    assert host["Memory"] == 67108864 and host["MemorySwap"] == 134217728
    assert host["NanoCpus"] == 1_500_000_000
    assert host["Devices"] == [
        {"PathOnHost": "/dev/null", "PathInContainer": "/dev/xnull", "CgroupPermissions": "r"}
    ]
    assert host["Ulimits"] == [{"Name": "nofile", "Soft": 100, "Hard": 200}]
    assert host["Mounts"] == [
        {"Type": "tmpfs", "Target": "/run", "TmpfsOptions": {"SizeBytes": 67108864}},
        {
            "Type": "volume",
            "Source": "v1",
            "Target": "/data",
            "ReadOnly": True,
            "VolumeOptions": {"Labels": {"a": "b"}},
        },
    ]


def test_flags_stop_at_the_image() -> None:
    _, config, _, _ = request("-i", "-t", "img", "sh", "-c", "ls -l")
    assert config["Cmd"] == ["sh", "-c", "ls -l"]
    assert config["Tty"] and config["OpenStdin"] and config["AttachStdin"]
    _, detached, _, _ = request("-i", "img", detach=True)
    assert not detached["AttachStdout"] and not detached["StdinOnce"]


def test_env_without_value_takes_the_hosts(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FROM_HOST", "yes")
    monkeypatch.delenv("NOT_SET", raising=False)
    _, config, _, _ = request("-e", "FROM_HOST", "-e", "NOT_SET", "img")
    assert config["Env"] == ["FROM_HOST=yes"]


@pytest.mark.parametrize(
    ("argv", "first_line"),
    [
        (
            ["-m", "1x", "img"],
            'invalid argument "1x" for "-m, --memory" flag: invalid suffix: \'x\'',
        ),
        (
            ["--cpus", "abc", "img"],
            'invalid argument "abc" for "--cpus" flag: failed to parse abc as a rational number',
        ),
    ],
)
def test_bad_values_fail_like_docker(argv: list[str], first_line: str) -> None:
    with pytest.raises(UsageError) as info:
        request(*argv)
    assert info.value.exit_code == 125
    lines = info.value.message.splitlines()
    assert lines[0] == first_line
    assert lines[2] == "Usage:  dockyard create [OPTIONS] IMAGE [COMMAND] [ARG...]"


def test_conflicts_and_policies() -> None:
    with pytest.raises(UsageError) as info:
        request("--rm", "--restart", "always", "img")
    assert info.value.message.startswith(
        "dockyard: conflicting options: cannot specify both --restart and --rm"
    )
    with pytest.raises(UsageError, match="invalid restart policy 'sometimes'"):
        request("--restart", "sometimes", "img")
    with pytest.raises(UsageError, match="Minimum memoryswap limit"):
        request("-m", "64m", "--memory-swap", "32m", "img")
    _, _, host, _ = request("--restart", "unless-stopped", "--memory-swap", "-1", "img")
    assert host["RestartPolicy"] == {"Name": "unless-stopped", "MaximumRetryCount": 0}
    assert host["MemorySwap"] == -1
