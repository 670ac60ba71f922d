"""build_spec end to end: process, namespaces, resources, sysctls, security options."""

from __future__ import annotations

import json
from typing import Any

import pytest

from dockyard.errors import InvalidArgument, SystemFailure
from dockyard.runtime.spec import (
    DEFAULT_CAPABILITIES,
    DeviceNode,
    EtcFiles,
    HostInfo,
    MountSpec,
    SpecOptions,
    Ulimit,
    build_spec,
)
from dockyard.runtime.spec.caps import ALL_CAPABILITIES
from dockyard.runtime.spec.process import command, environment, replace_or_append_env

HOST = HostInfo(arch="amd64", kernel=(6, 1), cgroup_v2=False)
PASSWD = "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000:App:/home/app:/bin/sh\n"
GROUP = "root:x:0:\napp:x:1000:\nwheel:x:10:app\naudio:x:29:\n"
IMAGE = {
    "Env": ["PATH=/usr/local/bin:/usr/bin:/bin", "LANG=C.UTF-8"],
    "Cmd": ["sh"],
    "WorkingDir": "/srv",
}


def spec(
    config: dict[str, Any] | None = None,
    host_config: dict[str, Any] | None = None,
    image: dict[str, Any] | None = None,
    **kw: Any,
) -> dict[str, Any]:
    kw.setdefault("host", HOST)
    kw.setdefault("passwd", PASSWD)
    kw.setdefault("group", GROUP)
    return build_spec(
        {"Hostname": "c0ffee", **(config or {})},
        host_config or {},
        IMAGE if image is None else image,
        rootfs="/var/lib/dockyard/containers/c0ffee/rootfs",
        cgroups_path="/docker/c0ffee",
        **kw,
    )


# --- process ----------------------------------------------------------------------------------


def test_minimal_spec_shape() -> None:
    s = spec()
    assert list(s) == ["ociVersion", "process", "root", "hostname", "mounts", "linux"]
    assert s["ociVersion"] == "1.1.0"
    p = s["process"]
    assert "terminal" not in p
    assert p["user"] == {"uid": 0, "gid": 0, "additionalGids": [0]}
    assert p["args"] == ["sh"]
    assert p["cwd"] == "/srv"
    assert p["env"] == [
        "PATH=/usr/local/bin:/usr/bin:/bin",
        "HOSTNAME=c0ffee",
        "LANG=C.UTF-8",
        "HOME=/root",
    ]
    caps = list(DEFAULT_CAPABILITIES)
    assert p["capabilities"] == {"bounding": caps, "effective": caps, "permitted": caps}
    assert p["oomScoreAdj"] == 0
    assert "noNewPrivileges" not in p and "rlimits" not in p
    assert s["root"] == {"path": "/var/lib/dockyard/containers/c0ffee/rootfs"}
    assert s["hostname"] == "c0ffee"
    json.dumps(s)  # serialisable


def test_tty_env_and_default_path() -> None:
    s = spec({"Tty": True, "Env": ["FOO=bar", "LANG=en_US"]}, image={"Cmd": ["sh"]})
    assert s["process"]["terminal"] is True
    assert s["process"]["env"] == [
        "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        "HOSTNAME=c0ffee",
        "TERM=xterm",
        "FOO=bar",
        "LANG=en_US",
        "HOME=/root",
    ]
    assert s["process"]["cwd"] == "/"


def test_env_run_wins_and_unset() -> None:
    env = environment(
        {"Env": ["LANG=fr", "TERM=dumb", "HOME=/x"], "Tty": True},
        {"Env": ["LANG=C", "A=1"]},
        hostname="h",
        home="/root",
    )
    assert env == [
        "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        "HOSTNAME=h",
        "TERM=dumb",
        "LANG=fr",
        "HOME=/x",
        "A=1",
    ]
    assert replace_or_append_env(["A=1", "B=2"], ["A", "C=3"]) == ["B=2", "C=3"]


@pytest.mark.parametrize(
    ("config", "image", "args"),
    [
        ({}, {"Entrypoint": ["/ep"], "Cmd": ["a"]}, ["/ep", "a"]),
        ({"Cmd": ["b"]}, {"Entrypoint": ["/ep"], "Cmd": ["a"]}, ["/ep", "b"]),
        ({"Entrypoint": ["/x"]}, {"Entrypoint": ["/ep"], "Cmd": ["a"]}, ["/x"]),
        ({"Entrypoint": ["/x"], "Cmd": ["y"]}, {"Entrypoint": ["/ep"], "Cmd": ["a"]}, ["/x", "y"]),
        # --entrypoint "" drops the image's entrypoint but keeps its Cmd.
        ({"Entrypoint": [""]}, {"Entrypoint": ["/ep"], "Cmd": ["a"]}, []),
        ({"Entrypoint": []}, {"Entrypoint": ["/ep"], "Cmd": ["a"]}, ["a"]),
        ({"Entrypoint": "/s"}, {}, ["/s"]),
    ],
)
def test_command(config: dict[str, Any], image: dict[str, Any], args: list[str]) -> None:
    if not args:
        with pytest.raises(InvalidArgument, match="No command specified"):
            command(config, image)
        return
    assert command(config, image) == args


def test_no_command() -> None:
    with pytest.raises(InvalidArgument) as e:
        spec(image={})
    assert str(e.value) == "No command specified"


def test_user_from_image_and_run() -> None:
    s = spec(image={**IMAGE, "User": "app"})
    assert s["process"]["user"] == {"uid": 1000, "gid": 1000, "additionalGids": [1000, 10]}
    assert "HOME=/home/app" in s["process"]["env"]
    s = spec({"User": "0:audio"}, {"GroupAdd": ["wheel", "4242"]}, image={**IMAGE, "User": "app"})
    assert s["process"]["user"] == {"uid": 0, "gid": 29, "additionalGids": [29, 10, 4242]}
    with pytest.raises(InvalidArgument) as e:
        spec({"User": "nobody"})
    assert str(e.value) == "unable to find user nobody: no matching entries in passwd file"


def test_user_without_passwd_file() -> None:
    s = spec({"User": "1234:5678"}, passwd=None, group=None)
    assert s["process"]["user"] == {"uid": 1234, "gid": 5678, "additionalGids": [5678]}
    assert "HOME=/" in s["process"]["env"]


def test_init_wraps_command() -> None:
    s = spec(host_config={"Init": True}, init_path="/usr/libexec/docker-init")
    assert s["process"]["args"] == ["/sbin/docker-init", "--", "sh"]
    assert any(m["destination"] == "/sbin/docker-init" for m in s["mounts"])
    s = spec(host_config={"Init": True, "PidMode": "host"}, init_path="/x")
    assert s["process"]["args"] == ["sh"]
    assert not any(m["destination"] == "/sbin/docker-init" for m in s["mounts"])
    s = spec(init_path="/x", options=SpecOptions(init_by_default=True))
    assert s["process"]["args"][0] == "/sbin/docker-init"
    s = spec(host_config={"Init": False}, init_path="/x", options=SpecOptions(init_by_default=True))
    assert s["process"]["args"] == ["sh"]
    with pytest.raises(SystemFailure, match="docker-init"):
        spec(host_config={"Init": True})


def test_rlimits_merge_daemon_defaults() -> None:
    s = spec(
        host_config={"Ulimits": [{"Name": "nofile", "Soft": 1024, "Hard": 2048}]},
        options=SpecOptions(default_ulimits=(Ulimit("nofile", 1, 1), Ulimit("nproc", 4096, 8192))),
    )
    assert s["process"]["rlimits"] == [
        {"type": "RLIMIT_NOFILE", "hard": 2048, "soft": 1024},
        {"type": "RLIMIT_NPROC", "hard": 8192, "soft": 4096},
    ]
    with pytest.raises(InvalidArgument, match="invalid ulimit type: bogus"):
        spec(host_config={"Ulimits": [{"Name": "bogus", "Soft": 1, "Hard": 1}]})


def test_oom_score_adj() -> None:
    assert spec(host_config={"OomScoreAdj": -500})["process"]["oomScoreAdj"] == -500
    with pytest.raises(InvalidArgument, match=r"range for oom score adj is \[-1000, 1000\]"):
        spec(host_config={"OomScoreAdj": 1001})


# --- capabilities, privileged, security options ------------------------------------------


def test_cap_add_drop_reflected_in_spec_and_seccomp() -> None:
    s = spec(host_config={"CapAdd": ["SYS_BOOT"], "CapDrop": ["NET_RAW"]})
    caps = s["process"]["capabilities"]["bounding"]
    assert "CAP_SYS_BOOT" in caps and "CAP_NET_RAW" not in caps
    names = {n for r in s["linux"]["seccomp"]["syscalls"] for n in r["names"]}
    assert "reboot" in names


def test_privileged() -> None:
    available = tuple(c for c in ALL_CAPABILITIES if c != "CAP_SYS_RESOURCE")
    host = HostInfo(cgroup_v2=False, capabilities=available)
    tty0 = DeviceNode("/dev/tty0", "c", 4, 0, 0o620, 0, 5, host_path="/dev/tty0")
    s = spec(host_config={"Privileged": True}, host=host, host_devices=[tty0])
    assert s["process"]["capabilities"]["bounding"] == list(available)
    lx = s["linux"]
    assert "seccomp" not in lx
    assert "maskedPaths" not in lx and "readonlyPaths" not in lx
    assert lx["resources"]["devices"] == [{"allow": True, "access": "rwm"}]
    assert lx["devices"] == [
        {
            "path": "/dev/tty0",
            "type": "c",
            "major": 4,
            "minor": 0,
            "fileMode": 0o620,
            "uid": 0,
            "gid": 5,
        }
    ]
    sys_mount = next(m for m in s["mounts"] if m["destination"] == "/sys")
    assert "ro" not in sys_mount["options"]


def test_masked_and_readonly_paths() -> None:
    lx = spec()["linux"]
    assert lx["maskedPaths"] == [
        "/proc/acpi",
        "/proc/asound",
        "/proc/interrupts",
        "/proc/kcore",
        "/proc/keys",
        "/proc/latency_stats",
        "/proc/sched_debug",
        "/proc/scsi",
        "/proc/timer_list",
        "/proc/timer_stats",
        "/sys/devices/virtual/powercap",
        "/sys/firmware",
    ]
    assert lx["readonlyPaths"] == [
        "/proc/bus",
        "/proc/fs",
        "/proc/irq",
        "/proc/sys",
        "/proc/sysrq-trigger",
    ]
    lx = spec(host_config={"MaskedPaths": ["/proc/x"], "ReadonlyPaths": []})["linux"]
    assert lx["maskedPaths"] == ["/proc/x"] and "readonlyPaths" not in lx
    lx = spec(host_config={"Privileged": True, "MaskedPaths": ["/proc/y"]})["linux"]
    assert lx["maskedPaths"] == ["/proc/y"]
    lx = spec(host_config={"SecurityOpt": ["systempaths=unconfined"]})["linux"]
    assert "maskedPaths" not in lx and "readonlyPaths" not in lx


def test_security_opts() -> None:
    s = spec(host_config={"SecurityOpt": ["no-new-privileges"]})
    assert s["process"]["noNewPrivileges"] is True
    s = spec(host_config={"SecurityOpt": ["no-new-privileges=false"]})
    assert "noNewPrivileges" not in s["process"]
    s = spec(host_config={"SecurityOpt": ["no-new-privileges:true"]})  # deprecated ':' form
    assert s["process"]["noNewPrivileges"] is True
    assert "seccomp" not in spec(host_config={"SecurityOpt": ["seccomp=unconfined"]})["linux"]
    assert "seccomp" in spec(host_config={"SecurityOpt": ["seccomp=builtin"]})["linux"]
    with pytest.raises(InvalidArgument) as e:
        spec(host_config={"SecurityOpt": ["bogus"]})
    assert str(e.value) == 'invalid --security-opt 1: "bogus"'
    with pytest.raises(InvalidArgument) as e:
        spec(host_config={"SecurityOpt": ["foo=bar"]})
    assert str(e.value) == 'invalid --security-opt 2: "foo=bar"'
    with pytest.raises(InvalidArgument, match="invalid --security-opt 2"):
        spec(host_config={"SecurityOpt": ["no-new-privileges=maybe"]})


def test_custom_seccomp_profile_also_when_privileged() -> None:
    profile = json.dumps({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": []})
    s = spec(host_config={"SecurityOpt": [f"seccomp={profile}"]})
    assert s["linux"]["seccomp"] == {"defaultAction": "SCMP_ACT_ALLOW"}
    s = spec(host_config={"Privileged": True, "SecurityOpt": [f"seccomp={profile}"]})
    assert s["linux"]["seccomp"] == {"defaultAction": "SCMP_ACT_ALLOW"}


def test_no_seccomp_on_host_without_it() -> None:
    host = HostInfo(cgroup_v2=False, seccomp=False)
    assert "seccomp" not in spec(host=host)["linux"]
    with pytest.raises(InvalidArgument, match="seccomp is not enabled in your kernel"):
        spec(host=host, host_config={"SecurityOpt": ['seccomp={"defaultAction":"x"}']})


# --- namespaces ---------------------------------------------------------------------------


def ns(s: dict[str, Any]) -> list[dict[str, Any]]:
    result: list[dict[str, Any]] = s["linux"]["namespaces"]
    return result


def test_default_namespaces_v1_and_v2() -> None:
    assert ns(spec()) == [
        {"type": "mount"},
        {"type": "network"},
        {"type": "uts"},
        {"type": "pid"},
        {"type": "ipc"},
    ]
    v2 = spec(host=HostInfo(cgroup_v2=True))
    assert ns(v2)[-1] == {"type": "cgroup"}
    assert {"type": "cgroup"} not in ns(
        spec(host=HostInfo(cgroup_v2=True), host_config={"CgroupnsMode": "host"})
    )
    assert ns(spec(host_config={"CgroupnsMode": "private"}))[-1] == {"type": "cgroup"}


def test_host_modes_drop_namespaces() -> None:
    s = spec(
        {"Domainname": "example.com"},
        {"NetworkMode": "host", "PidMode": "host", "IpcMode": "host", "UTSMode": "host"},
    )
    assert ns(s) == [{"type": "mount"}]
    assert "hostname" not in s
    assert "HOSTNAME=c0ffee" in s["process"]["env"]
    assert "sysctl" not in s["linux"]  # no net defaults, no domainname in the host's UTS


def test_namespace_paths() -> None:
    s = spec(
        host_config={
            "NetworkMode": "container:abc",
            "IpcMode": "container:abc",
            "PidMode": "container:abc",
        },
        netns_path="/proc/42/ns/net",
        namespace_paths={"ipc": "/proc/42/ns/ipc", "pid": "/proc/42/ns/pid"},
    )
    assert ns(s) == [
        {"type": "mount"},
        {"type": "network", "path": "/proc/42/ns/net"},
        {"type": "uts"},
        {"type": "pid", "path": "/proc/42/ns/pid"},
        {"type": "ipc", "path": "/proc/42/ns/ipc"},
    ]
    assert "sysctl" not in s["linux"]  # joined network namespace: no default net sysctls
    s = spec(netns_path="/run/dockyard/netns/c0ffee")
    assert ns(s)[1] == {"type": "network", "path": "/run/dockyard/netns/c0ffee"}
    with pytest.raises(InvalidArgument, match="no namespace path"):
        spec(host_config={"PidMode": "container:abc"})
    with pytest.raises(InvalidArgument, match="invalid IPC mode: bogus"):
        spec(host_config={"IpcMode": "bogus"})


# --- sysctls and resources ----------------------------------------------------------------


def test_sysctls() -> None:
    s = spec(
        {"Domainname": "example.com"},
        {"Sysctls": {"net.ipv4.ip_forward": "1", "kernel.shmmax": "1"}},
    )
    assert s["linux"]["sysctl"] == {
        "kernel.domainname": "example.com",
        "net.ipv4.ping_group_range": "0 2147483647",
        "net.ipv4.ip_unprivileged_port_start": "0",
        "net.ipv4.ip_forward": "1",
        "kernel.shmmax": "1",
    }
    s = spec(host_config={"Sysctls": {"net.ipv4.ip_unprivileged_port_start": "1024"}})
    assert s["linux"]["sysctl"]["net.ipv4.ip_unprivileged_port_start"] == "1024"
    assert "sysctl" not in spec(options=SpecOptions(default_sysctls=False))["linux"]
    with pytest.raises(InvalidArgument) as e:
        spec(host_config={"Sysctls": {"kernel.panic": "1"}})
    assert str(e.value) == "sysctl 'kernel.panic=1' is not allowed"
    with pytest.raises(InvalidArgument, match="not allowed in host network namespace"):
        spec(host_config={"NetworkMode": "host", "Sysctls": {"net.core.somaxconn": "1"}})


def test_resources() -> None:
    r = spec(
        host_config={
            "Memory": 64 << 20,
            "MemoryReservation": 32 << 20,
            "OomKillDisable": True,
            "NanoCpus": 1_500_000_000,
            "CpuShares": 512,
            "CpusetCpus": "0-1",
            "PidsLimit": 100,
        }
    )["linux"]["resources"]
    assert list(r) == ["devices", "memory", "cpu", "pids"]
    assert r["memory"] == {
        "limit": 64 << 20,
        "reservation": 32 << 20,
        "swap": 128 << 20,
        "disableOOMKiller": True,
    }
    assert r["cpu"] == {"shares": 512, "quota": 150000, "period": 100000, "cpus": "0-1"}
    assert r["pids"] == {"limit": 100}
    r = spec(host_config={"Memory": 64 << 20, "MemorySwap": -1, "PidsLimit": 0, "CpuQuota": 50000})[
        "linux"
    ]["resources"]
    assert r["memory"] == {"limit": 64 << 20}
    assert r["pids"] == {"limit": -1}
    assert r["cpu"] == {"quota": 50000}
    no_swap = HostInfo(cgroup_v2=False, swap_limit=False)
    r = spec(host_config={"Memory": 64 << 20}, host=no_swap)["linux"]["resources"]
    assert r["memory"] == {"limit": 64 << 20}


def test_devices_and_cgroup_rules() -> None:
    fuse = DeviceNode("/dev/fuse", "c", 10, 229, 0o666, host_path="/dev/fuse", permissions="rw")
    s = spec(host_config={"DeviceCgroupRules": ["c 42:* rmw", "a *:* m"]}, devices=[fuse])
    rules = s["linux"]["resources"]["devices"]
    assert rules[0] == {"allow": False, "access": "rwm"}
    assert rules[-3:] == [
        {"allow": True, "type": "c", "major": 10, "minor": 229, "access": "rw"},
        {"allow": True, "type": "c", "major": 42, "minor": -1, "access": "rmw"},
        {"allow": True, "type": "a", "major": -1, "minor": -1, "access": "m"},
    ]
    assert s["linux"]["devices"][0]["path"] == "/dev/fuse"
    with pytest.raises(InvalidArgument, match="invalid device cgroup rule format: 'x'"):
        spec(host_config={"DeviceCgroupRules": ["x"]})


def test_default_device_allow_list() -> None:
    rules = spec()["linux"]["resources"]["devices"]
    assert [(r["allow"], r.get("type"), r.get("major"), r.get("minor")) for r in rules] == [
        (False, None, None, None),
        (True, "c", 1, 5),
        (True, "c", 1, 3),
        (True, "c", 1, 9),
        (True, "c", 1, 8),
        (True, "c", 5, 0),
        (True, "c", 5, 1),
        (False, "c", 10, 229),
    ]
    assert all(r["access"] == "rwm" for r in rules)


def test_mounts_and_readonly_root_in_spec() -> None:
    s = spec(
        host_config={"ReadonlyRootfs": True, "ShmSize": 1 << 20, "Tmpfs": {"/run": "size=1m"}},
        mounts=[MountSpec("/data", "/v/_data", type="volume")],
        etc_files=EtcFiles("/c/resolv.conf", "/c/hostname", "/c/hosts"),
    )
    assert s["root"] == {"path": "/var/lib/dockyard/containers/c0ffee/rootfs", "readonly": True}
    dests = [m["destination"] for m in s["mounts"]]
    assert dests == [
        "/proc",
        "/dev",
        "/dev/pts",
        "/sys",
        "/sys/fs/cgroup",
        "/dev/mqueue",
        "/dev/shm",
        "/run",
        "/data",
        "/etc/resolv.conf",
        "/etc/hostname",
        "/etc/hosts",
    ]
    shm = s["mounts"][6]
    assert shm["options"][-1] == "size=1048576"
    assert s["mounts"][-1]["options"] == ["rbind", "ro", "rprivate"]


def test_cgroups_path_verbatim() -> None:
    assert spec()["linux"]["cgroupsPath"] == "/docker/c0ffee"
