"""Container records through the CLI: create, ps, inspect, rename, rm, prune.

Starting containers arrives with the runtime; these are the commands that work
on containers without running them, with Docker's output and errors.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from tests.conftest import Dockyard, needs_root

pytestmark = needs_root


def test_create_and_list(dy: Dockyard, busybox: str) -> None:
    cid = dy(
        "create",
        "--name",
        "web",
        "-e",
        "A=1",
        "-l",
        "tier=front",
        "busybox",
        "sh",
        "-c",
        "echo hello world; sleep 100",
    ).out.strip()
    assert re.fullmatch(r"[0-9a-f]{64}", cid)
    # Not running: plain ps shows only the header; -a shows it as Created.
    assert dy("ps").lines == [
        "CONTAINER ID   IMAGE     COMMAND   CREATED   STATUS    PORTS     NAMES"
    ]
    rows = dy("ps", "-a").lines
    assert rows[0].split() == [
        "CONTAINER",
        "ID",
        "IMAGE",
        "COMMAND",
        "CREATED",
        "STATUS",
        "PORTS",
        "NAMES",
    ]
    fields = re.split(r"\s{3,}", rows[1])
    assert fields[0] == cid[:12]
    assert fields[1] == "busybox"
    assert fields[2] == '"sh -c \'echo hello w…"'
    assert fields[-2] == "Created"
    assert fields[-1] == "web"
    assert dy("ps", "-aq").out == cid[:12] + "\n"
    assert dy("ps", "-a", "--no-trunc", "--format", "{{.ID}} {{.Command}}").out == (
        f"{cid} \"sh -c 'echo hello world; sleep 100'\"\n"
    )
    assert dy("ps", "-a", "-q", "-f", "label=tier=front").out == cid[:12] + "\n"
    assert dy("ps", "-a", "-q", "-f", "label=tier=back").out == ""
    assert dy("ps", "-q", "-f", "status=created").out == cid[:12] + "\n"
    assert dy("ps", "-a", "-q", "-f", "name=we").out == cid[:12] + "\n"
    assert dy("ps", "-a", "-q", "-f", "ancestor=busybox").out == cid[:12] + "\n"
    bad = dy.fails("ps", "-f", "status=sleeping")
    assert bad.err == "Error response from daemon: Invalid filter 'status=sleeping'\n"


def test_inspect_shape(dy: Dockyard, busybox: str) -> None:
    cid = dy("create", "--name", "insp", "-m", "64m", "busybox", "sh").out.strip()
    info = json.loads(dy("container", "inspect", "insp").out)[0]
    assert info["Id"] == cid
    assert info["Name"] == "/insp"
    assert info["Path"] == "sh" and info["Args"] == []
    assert info["Image"] == busybox
    assert info["State"]["Status"] == "created" and info["State"]["Pid"] == 0
    assert info["State"]["StartedAt"] == "0001-01-01T00:00:00Z"
    assert info["Config"]["Hostname"] == cid[:12]
    assert info["Config"]["Image"] == "busybox"
    assert info["Config"]["Cmd"] == ["sh"]
    assert info["HostConfig"]["Memory"] == 64 * 1024 * 1024
    assert info["HostConfig"]["LogConfig"] == {"Type": "json-file", "Config": {}}
    assert info["HostConfig"]["RestartPolicy"] == {"Name": "no", "MaximumRetryCount": 0}
    assert "/proc/kcore" in info["HostConfig"]["MaskedPaths"]
    assert set(info) >= {"GraphDriver", "Mounts", "NetworkSettings", "Platform", "Driver"}
    # The generic inspect finds containers before images; --type narrows it.
    assert dy("inspect", "-f", "{{.Name}}", "insp").out == "/insp\n"
    assert dy("inspect", "-f", "{{.Id}}", "busybox").out == busybox + "\n"
    missing = dy.fails("inspect", "--type", "container", "busybox")
    assert missing.err == "Error: No such container: busybox\n"
    gone = dy.fails("container", "inspect", "nothere")
    assert gone.err == "Error response from daemon: No such container: nothere\n"


def test_image_config_is_merged(dy: Dockyard, busybox_tar: Path) -> None:
    dy(
        "import",
        "-c",
        "ENV A=image B=image",
        "-c",
        "WORKDIR /srv",
        "-c",
        'CMD ["top"]',
        "-c",
        "LABEL from=image",
        str(busybox_tar),
        "cfg:1",
    )
    dy("create", "--name", "merged", "-e", "B=run", "-l", "x=y", "cfg:1")
    config = json.loads(dy("container", "inspect", "merged").out)[0]["Config"]
    assert config["Env"] == ["B=run", "A=image"]
    assert config["WorkingDir"] == "/srv"
    assert config["Cmd"] == ["top"]
    assert config["Labels"] == {"from": "image", "x": "y"}
    dy("create", "--name", "entry", "--entrypoint", "echo", "cfg:1", "hi")
    info = json.loads(dy("container", "inspect", "entry").out)[0]
    assert (info["Path"], info["Args"]) == ("echo", ["hi"])


def test_names_and_errors(dy: Dockyard, busybox: str) -> None:
    first = dy("create", "--name", "dup", "busybox", "sh").out.strip()
    conflict = dy.fails("create", "--name", "dup", "busybox", "sh")
    assert conflict.code == 1
    assert conflict.err == (
        'Error response from daemon: Conflict. The container name "/dup" is already in use by'
        f' container "{first}". You have to remove (or rename) that container to be able to'
        " reuse that name.\n"
    )
    bad = dy.fails("create", "--name", "b@d", "busybox", "sh")
    assert bad.err == (
        "Error response from daemon: Invalid container name (b@d), only"
        " [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed\n"
    )
    auto = dy("create", "busybox", "sh").out.strip()
    name = json.loads(dy("inspect", auto).out)[0]["Name"]
    assert re.fullmatch(r"/[a-z]+_[a-z]+\d?", name)
    # Nothing is left behind by a failed create: no row, no snapshot, no directory.
    assert len(dy("ps", "-aq").lines) == 2
    dy.fails("create", "nosuchimage")
    assert len(dy("ps", "-aq").lines) == 2
    assert len(list((dy.root / "containers").iterdir())) == 2


def test_rename_rm_and_prune(dy: Dockyard, busybox: str) -> None:
    a = dy("create", "--name", "aa", "busybox", "sh").out.strip()
    dy("create", "--name", "bb", "busybox", "sh")
    assert "Invalid container name (x)" in dy.fails("create", "--name", "x", "busybox", "sh").err
    dy("rename", "aa", "renamed")
    assert json.loads(dy("inspect", a).out)[0]["Name"] == "/renamed"
    taken = dy.fails("rename", "renamed", "bb")
    assert "is already in use by container" in taken.err
    assert dy("rm", "renamed").out == "renamed\n"
    assert dy.fails("rm", "renamed").err == (
        "Error response from daemon: No such container: renamed\n"
    )
    assert dy("rm", "-f", "renamed").out == ""
    # The image is in use by b: rmi refuses without -f.
    refused = dy.fails("rmi", busybox[7:19])
    assert "image is being used by stopped container" in refused.err
    # By its only name, as docker: refused before anything is untagged.
    b = dy("inspect", "-f", "{{.Id}}", "bb").out.strip()
    assert dy.fails("rmi", "busybox").err == (
        'Error response from daemon: conflict: unable to remove repository reference "busybox"'
        f" (must force) - container {b[:12]} is using its referenced image {busybox[7:19]}\n"
    )
    assert dy("images", "--format", "{{.Repository}}").out == "busybox\n"
    # A second name goes without -f; the last one then takes -f and leaves the image
    # for the container (untagged, listed as <none>).
    dy("tag", "busybox", "second")
    assert dy("rmi", "second").out == "Untagged: second:latest\n"
    out = dy("container", "prune", "-f").out
    assert out.startswith("Deleted Containers:\n")
    assert out.endswith("Total reclaimed space: 0B\n")
    assert dy("ps", "-aq").out == ""
    assert list((dy.root / "containers").iterdir()) == []
    engine = dy.engine()
    try:
        assert [i.key for i in engine.snapshots.walk() if i.key.startswith("container-")] == []
    finally:
        engine.close()
    dy("rmi", "busybox")


def test_system_prune_takes_containers_volumes_and_images(dy: Dockyard, busybox: str) -> None:
    stopped = dy("create", "--name", "old", "busybox", "sh").out.strip()
    anonymous = dy.engine()
    try:
        volume = anonymous.volumes.create(anonymous=True).name
    finally:
        anonymous.close()
    dy("volume", "create", "named")
    out = dy("system", "prune", "-a", "-f", "--volumes").out
    assert out.startswith(
        f"Deleted Containers:\n{stopped}\n\nDeleted Volumes:\n{volume}\n\n"
        "Deleted Images:\nuntagged: busybox:latest\n"
    )
    assert out.endswith("\n\nTotal reclaimed space: " + out.rsplit(": ", 1)[1])
    assert dy("ps", "-aq").out == "" and dy("images", "-q").out == ""
    assert dy("volume", "ls", "-q").out == "named\n"
    info = json.loads(dy("inspect", "named").out)[0]
    assert info["Name"] == "named" and info["Driver"] == "local"


def test_mounts_volumes_and_rm_v(dy: Dockyard, busybox_tar: Path, tmp_path: Path) -> None:
    dy("import", "-c", "VOLUME /image-vol", str(busybox_tar), "withvol:1")
    missing_dir = tmp_path / "made-at-start"
    cid = dy(
        "create",
        "--name",
        "mnt",
        "-v",
        f"{missing_dir}:/a",
        "-v",
        "named1:/b:ro",
        "-v",
        "/c",
        "--mount",
        f"type=bind,source={tmp_path},target=/d,readonly",
        "withvol:1",
        "sh",
    ).out.strip()
    mounts = json.loads(dy("inspect", "-f", "{{json .Mounts}}", "mnt").out)
    assert [m["Destination"] for m in mounts] == ["/a", "/b", "/c", "/d", "/image-vol"]
    bind, named, anon, ro_bind, image_vol = mounts
    assert bind == {
        "Type": "bind",
        "Source": str(missing_dir),
        "Destination": "/a",
        "Mode": "",
        "RW": True,
        "Propagation": "rprivate",
    }
    assert named["Type"] == "volume" and named["Name"] == "named1" and named["RW"] is False
    assert named["Source"] == str(dy.root / "volumes" / "named1" / "_data")
    assert named["Driver"] == "local" and named["Mode"] == "ro"
    assert re.fullmatch(r"[0-9a-f]{64}", anon["Name"])
    assert ro_bind["RW"] is False and ro_bind["Source"] == str(tmp_path)
    assert re.fullmatch(r"[0-9a-f]{64}", image_vol["Name"])
    assert not missing_dir.exists()  # -v makes it when the container starts
    volumes = set(dy("volume", "ls", "-q").lines)
    assert volumes == {"named1", anon["Name"], image_vol["Name"]}
    # In use: the volume cannot be removed.
    busy = dy.fails("volume", "rm", "named1")
    assert f"volume is in use - [{cid}]" in busy.err
    # rm -v takes the anonymous volumes and leaves the named one.
    dy("rm", "-v", "mnt")
    assert dy("volume", "ls", "-q").lines == ["named1"]
    errors = [
        (
            ["--mount", "type=bind,source=/nope,target=/x"],
            'invalid mount config for type "bind": bind source path does not exist: /nope',
        ),
        (
            ["-v", "relative:x"],
            "invalid volume specification: 'relative:x': invalid mount"
            " config for type \"volume\": invalid mount path: 'x' mount path must be absolute",
        ),
        (["-v", "/a:/b:bogus"], "invalid mode: bogus"),
        (["-v", "v1:/same", "-v", "v2:/same"], "Duplicate mount point: /same"),
    ]
    for args, message in errors:
        result = dy.fails("create", *args, "withvol:1", "sh")
        assert result.err == f"Error response from daemon: {message}\n", args
    # A failed create leaves no anonymous volume, container or directory behind.
    assert dy("volume", "ls", "-q").lines == ["named1"]
    assert dy("ps", "-aq").out == ""
