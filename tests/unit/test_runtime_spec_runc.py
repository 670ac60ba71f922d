"""A built spec is accepted by the real runtimes (runc, crun) and gives Docker's environment.

Needs root, a runtime and a static busybox. The container gets its own network
namespace with no interfaces, so no traffic leaves it; ``runc run`` in the
foreground removes the container and its cgroup when the command exits, and
``delete --force`` in ``finally`` covers failures.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from dockyard.runtime.spec import EtcFiles, MountSpec, build_spec
from dockyard.runtime.spec.etc_files import hostname_file, hosts_file
from dockyard.runtime.spec.host import detect_host

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root")

BUSYBOX = "/bin/busybox"
# Docker's 14 default capabilities as a CapBnd mask.
DOCKER_CAPBND = "00000000a80425fb"


@pytest.fixture
def bundle(tmp_path: Path) -> Iterator[Path]:
    if not os.path.exists(BUSYBOX):
        pytest.skip("busybox is not installed")
    rootfs = tmp_path / "rootfs"
    for d in ("bin", "etc", "proc", "sys", "dev", "tmp"):
        (rootfs / d).mkdir(parents=True)
    shutil.copy(BUSYBOX, rootfs / "bin" / "busybox")
    (rootfs / "bin" / "sh").symlink_to("busybox")
    (rootfs / "etc" / "passwd").write_text("root:x:0:0:root:/root:/bin/sh\n")
    (rootfs / "etc" / "group").write_text("root:x:0:\nwheel:x:10:root\n")
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "hello").write_text("from the host\n")
    (tmp_path / "hostname").write_text(hostname_file("c0ffee"))
    (tmp_path / "hosts").write_text(hosts_file(hostname="c0ffee"))
    (tmp_path / "resolv.conf").write_text("nameserver 192.0.2.1\n")
    yield tmp_path


@pytest.mark.parametrize("runtime", ["runc", "crun"])
def test_runtime_runs_built_spec(bundle: Path, runtime: str) -> None:
    if shutil.which(runtime) is None:
        pytest.skip(f"{runtime} is not installed")
    cid = "dyspec-" + uuid.uuid4().hex[:12]
    rootfs = bundle / "rootfs"
    script = (
        "id; hostname; grep CapBnd /proc/self/status; cat /data/hello; "
        "cat /etc/resolv.conf; echo $HOME; pwd; touch /data/ro 2>/dev/null || echo ro-ok"
    )
    spec = build_spec(
        {"Hostname": "c0ffee", "Cmd": ["sh", "-c", script], "WorkingDir": "/tmp"},
        {},
        {},
        rootfs=str(rootfs),
        cgroups_path=f"/{cid}",
        mounts=[MountSpec("/data", str(bundle / "data"), read_only=True)],
        etc_files=EtcFiles(
            str(bundle / "resolv.conf"), str(bundle / "hostname"), str(bundle / "hosts")
        ),
        passwd=(rootfs / "etc" / "passwd").read_text(),
        group=(rootfs / "etc" / "group").read_text(),
        host=detect_host(),
    )
    (bundle / "config.json").write_text(json.dumps(spec))
    state = bundle / "state"
    state.mkdir()
    cmd = [runtime, "--root", str(state)]
    try:
        res = subprocess.run(
            [*cmd, "run", "--bundle", str(bundle), cid],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=60,
        )
    finally:
        subprocess.run([*cmd, "delete", "--force", cid], capture_output=True, timeout=30)
    if "hybrid mode not supported" in res.stderr:
        pytest.skip(f"{runtime} does not run on this hybrid cgroup host: {res.stderr.strip()}")
    assert res.returncode == 0, res.stderr
    lines = res.stdout.splitlines()
    assert lines[0].startswith("uid=0(root) gid=0(root) groups=0(root),10(wheel)")
    assert lines[1] == "c0ffee"
    assert lines[2].split() == ["CapBnd:", DOCKER_CAPBND]
    assert lines[3] == "from the host"
    assert lines[4] == "nameserver 192.0.2.1"
    assert lines[5:] == ["/root", "/tmp", "ro-ok"]


def test_runc_restricted_container(bundle: Path) -> None:
    if shutil.which("runc") is None:
        pytest.skip("runc is not installed")
    cid = "dyspec-" + uuid.uuid4().hex[:12]
    rootfs = bundle / "rootfs"
    (rootfs / "etc" / "passwd").write_text(
        "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n"
    )
    (rootfs / "etc" / "group").write_text("root:x:0:\nnogroup:x:65534:\n")
    script = (
        "id; grep -E 'CapBnd|NoNewPrivs|Seccomp:' /proc/self/status; "
        "touch /x 2>/dev/null || echo rootfs-ro; touch /run/y && echo run-rw; "
        "cat /sys/fs/cgroup/pids/pids.max 2>/dev/null || cat /sys/fs/cgroup/pids.max; "
        "ulimit -n; cat /proc/sys/net/ipv4/ip_unprivileged_port_start"
    )
    spec = build_spec(
        {"Hostname": "ro", "Cmd": ["sh", "-c", script], "User": "nobody"},
        {
            "ReadonlyRootfs": True,
            "Tmpfs": {"/run": "size=1m"},
            "CapDrop": ["ALL"],
            "SecurityOpt": ["no-new-privileges"],
            "PidsLimit": 50,
            "Memory": 64 << 20,
            "NanoCpus": 500_000_000,
            "Ulimits": [{"Name": "nofile", "Soft": 512, "Hard": 1024}],
        },
        {},
        rootfs=str(rootfs),
        cgroups_path=f"/{cid}",
        passwd=(rootfs / "etc" / "passwd").read_text(),
        group=(rootfs / "etc" / "group").read_text(),
        host=detect_host(),
    )
    (bundle / "config.json").write_text(json.dumps(spec))
    state = bundle / "state"
    state.mkdir()
    cmd = ["runc", "--root", str(state)]
    try:
        res = subprocess.run(
            [*cmd, "run", "--bundle", str(bundle), cid],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=60,
        )
    finally:
        subprocess.run([*cmd, "delete", "--force", cid], capture_output=True, timeout=30)
    assert res.returncode == 0, res.stderr
    lines = res.stdout.splitlines()
    assert lines[0].startswith("uid=65534(nobody) gid=65534(nogroup)")
    assert [line.split() for line in lines[1:4]] == [
        ["CapBnd:", "0000000000000000"],
        ["NoNewPrivs:", "1"],
        ["Seccomp:", "2"],
    ]
    assert lines[4:] == ["rootfs-ro", "run-rw", "50", "512", "0"]
