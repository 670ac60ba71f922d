"""The volume commands end to end through the real ``dockyard`` console script.

The expected strings are what the docker CLI (28.2) printed against a dockerd for
the same commands (mount points aside: they name the root).
"""

from __future__ import annotations

import json
import os
import re
import time

from tests.conftest import Dockyard

INVALID_NAME = (
    'Error response from daemon: create x/y: "x/y" includes invalid characters for a'
    ' local volume name, only "[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed. If you intended'
    " to pass a host directory, use absolute path\n"
)
PRUNE_PROMPT = (
    "WARNING! This will remove anonymous local volumes not used by at least one container.\n"
    "Are you sure you want to continue? [y/N] "
)
PRUNE_ALL_PROMPT = (
    "WARNING! This will remove all local volumes not used by at least one container.\n"
    "Are you sure you want to continue? [y/N] "
)


def use_volume(dy: Dockyard, cid: str, *names: str) -> None:
    """Record a container using volumes, as the container service will."""
    engine = dy.engine()
    try:
        mounts = [{"Type": "volume", "Name": n, "Destination": f"/{n}"} for n in names]
        with engine.db.transaction() as conn:
            conn.execute(
                "INSERT INTO containers (id, name, created, config) VALUES (?, ?, ?, ?)",
                (cid, "c" + cid[:6], time.time(), json.dumps({"Mounts": mounts})),
            )
    finally:
        engine.close()


def test_create_and_errors(dy: Dockyard) -> None:
    assert dy("volume", "create", "dytest1").out == "dytest1\n"
    assert dy("volume", "create", "dytest1").out == "dytest1\n"
    assert dy("volume", "create", "--name", "dyt8").out == "dyt8\n"
    anon = dy("volume", "create").out
    assert re.fullmatch(r"[0-9a-f]{64}\n", anon)
    bad = dy.fails("volume", "create", "x/y")
    assert (bad.code, bad.out, bad.err) == (1, "", INVALID_NAME)
    short = dy.fails("volume", "create", "a")
    assert short.err == (
        "Error response from daemon: create a: volume name is too short, names should be"
        " at least two alphanumeric characters\n"
    )
    opt = dy.fails("volume", "create", "-o", "foo=bar", "v1")
    assert opt.err == 'Error response from daemon: create v1: invalid option: "foo"\n'
    opt = dy.fails("volume", "create", "-o", "foo", "v1")
    assert opt.err == 'Error response from daemon: create v1: invalid option: "foo"\n'
    opt = dy.fails("volume", "create", "-o", "type=tmpfs", "v1")
    assert opt.err == 'Error response from daemon: create v1: missing required option: "device"\n'
    opt = dy.fails("volume", "create", "-o", "size=10m", "v1")
    assert opt.err == (
        "Error response from daemon: create v1: quota size requested but no quota support\n"
    )
    both = dy.fails("volume", "create", "--name", "a1", "b1")
    assert (both.code, both.err) == (
        1,
        "conflicting options: cannot specify a volume-name through both --name and as a"
        " positional arg\n",
    )
    driver = dy.fails("volume", "create", "-d", "other", "dytest1")
    assert driver.err == (
        "Error response from daemon: create dytest1: error looking up volume plugin other:"
        ' plugin "other" not found\n'
    )
    # Natural order: the anonymous volume's random hex name sorts by its first character.
    listed = dy("volume", "ls", "-q").lines
    assert listed[listed.index("dyt8") :][:2] == ["dyt8", "dytest1"]
    assert sorted(listed) == sorted([anon.strip(), "dyt8", "dytest1"])
    assert listed.index(anon.strip()) == (0 if anon[0] <= "d" else 2)
    data = dy.root / "volumes" / "dytest1" / "_data"
    assert data.is_dir() and (os.stat(data).st_mode & 0o777) == 0o755


def test_ls_table_quiet_format_and_filters(dy: Dockyard) -> None:
    dy("volume", "create", "dytest1")
    dy("volume", "create", "--label", "a=b", "--label", "c", "dytest2")
    dy("volume", "create", "vol10")
    dy("volume", "create", "vol9")
    assert dy("volume", "ls").out == (
        "DRIVER    VOLUME NAME\n"
        "local     dytest1\n"
        "local     dytest2\n"
        "local     vol9\n"
        "local     vol10\n"
    )
    assert dy("volume", "list", "-q").out == "dytest1\ndytest2\nvol9\nvol10\n"
    assert dy("volume", "ls", "-f", "name=test.").out == (
        "DRIVER    VOLUME NAME\nlocal     dytest1\nlocal     dytest2\n"
    )
    assert dy("volume", "ls", "-f", "label=a=b", "-f", "label=c").out == (
        "DRIVER    VOLUME NAME\nlocal     dytest2\n"
    )
    assert dy("volume", "ls", "-f", "label=a", "-f", "label=zz").out == "DRIVER    VOLUME NAME\n"
    assert dy("volume", "ls", "-f", "driver=loc").out == "DRIVER    VOLUME NAME\n"
    use_volume(dy, "a" * 64, "vol9")
    assert dy("volume", "ls", "-q", "-f", "dangling=false").out == "vol9\n"
    assert dy("volume", "ls", "-q", "-f", "dangling=true").out == "dytest1\ndytest2\nvol10\n"
    mount = dy.root / "volumes" / "dytest2" / "_data"
    assert dy("volume", "ls", "-f", "name=dytest2", "--format", "{{json .}}").out == (
        '{"Availability":"N/A","Driver":"local","Group":"N/A","Labels":"a=b,c=",'
        f'"Links":"N/A","Mountpoint":"{mount}","Name":"dytest2","Scope":"local",'
        '"Size":"N/A","Status":"N/A"}\n'
    )
    assert dy(
        "volume", "ls", "-f", "name=dytest", "--format", "table {{.Name}}\t{{.Size}}\t{{.Labels}}"
    ).out == (
        "VOLUME NAME   SIZE      LABELS\ndytest1       N/A       \ndytest2       N/A       a=b,c=\n"
    )
    bad = dy.fails("volume", "ls", "-f", "bogus=1")
    assert (bad.code, bad.err) == (1, "Error response from daemon: Invalid filter 'bogus'\n")
    bad = dy.fails("volume", "ls", "-f", "dangling=maybe")
    assert bad.err == "Error response from daemon: Invalid filter 'dangling=[maybe]'\n"


def test_inspect(dy: Dockyard) -> None:
    dy("volume", "create", "dytest1")
    dy(
        "volume",
        "create",
        "--label",
        "a=b",
        "--label",
        "c",
        "-o",
        "type=tmpfs",
        "-o",
        "device=tmpfs",
        "-o",
        "o=size=64m",
        "dytest2",
    )
    out = dy("volume", "inspect", "dytest1", "dytest2").out
    created = re.findall(r'"CreatedAt": "([^"]+)"', out)
    assert len(created) == 2
    for value in created:
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(Z|[+-]\d\d:\d\d)", value)
    root = dy.root / "volumes"
    assert out == (
        "[\n"
        "    {\n"
        f'        "CreatedAt": "{created[0]}",\n'
        '        "Driver": "local",\n'
        '        "Labels": null,\n'
        f'        "Mountpoint": "{root}/dytest1/_data",\n'
        '        "Name": "dytest1",\n'
        '        "Options": null,\n'
        '        "Scope": "local"\n'
        "    },\n"
        "    {\n"
        f'        "CreatedAt": "{created[1]}",\n'
        '        "Driver": "local",\n'
        '        "Labels": {\n'
        '            "a": "b",\n'
        '            "c": ""\n'
        "        },\n"
        f'        "Mountpoint": "{root}/dytest2/_data",\n'
        '        "Name": "dytest2",\n'
        '        "Options": {\n'
        '            "device": "tmpfs",\n'
        '            "o": "size=64m",\n'
        '            "type": "tmpfs"\n'
        "        },\n"
        '        "Scope": "local"\n'
        "    }\n"
        "]\n"
    )
    assert dy("volume", "inspect", "-f", "{{.Name}} {{.Labels}}", "dytest2").out == (
        "dytest2 map[a:b c:]\n"
    )
    missing = dy.fails("volume", "inspect", "nothere")
    assert (missing.code, missing.out, missing.err) == (
        1,
        "[]\n",
        "Error response from daemon: get nothere: no such volume\n",
    )
    mixed = dy.fails("volume", "inspect", "--format", "{{.Name}}", "nope", "dytest1")
    assert (mixed.out, mixed.err) == (
        "dytest1\n",
        "Error response from daemon: get nope: no such volume\n",
    )


def test_rm(dy: Dockyard) -> None:
    dy("volume", "create", "dytest1")
    dy("volume", "create", "dyt8")
    in_use = "0faeae937955507ba750be5db7ddae3b1a91ec2aa85b00163f2d09758e6f0095"
    use_volume(dy, in_use, "dytest1")
    result = dy.fails("volume", "rm", "dytest1", "nothere", "dyt8")
    assert result.code == 1
    assert result.out == "dyt8\n"
    assert result.err == (
        f"Error response from daemon: remove dytest1: volume is in use - [{in_use}]\n"
        "Error response from daemon: get nothere: no such volume\n"
    )
    assert dy("volume", "rm", "-f", "nothere").out == "nothere\n"
    assert dy("volume", "ls", "-q").out == "dytest1\n"
    assert os.listdir(dy.root / "volumes") == ["dytest1"]
    engine = dy.engine()
    try:
        events = engine.db.query(
            "SELECT action, actor_id, attributes FROM events WHERE type = 'volume' ORDER BY seq"
        )
    finally:
        engine.close()
    assert [(e["action"], e["actor_id"], json.loads(e["attributes"])) for e in events] == [
        ("create", "dytest1", {"driver": "local"}),
        ("create", "dyt8", {"driver": "local"}),
        ("destroy", "dyt8", {"driver": "local"}),
    ]


def test_prune(dy: Dockyard) -> None:
    anon = dy("volume", "create").out.strip()
    anon_used = dy("volume", "create").out.strip()
    dy("volume", "create", "named")
    dy("volume", "create", "--label", "keep=1", "kept")
    use_volume(dy, "b" * 64, anon_used)
    (dy.root / "volumes" / anon / "_data" / "f").write_bytes(b"\0" * 1_200_000)
    declined = dy("volume", "prune", input=b"n\n")
    assert (declined.out, declined.err) == (PRUNE_PROMPT, "")
    declined = dy("volume", "prune", "-a", input=b"")
    assert declined.out == PRUNE_ALL_PROMPT
    assert dy("volume", "ls", "-q").out.count("\n") == 4
    assert dy("volume", "prune", input=b"y\n").out == (
        f"{PRUNE_PROMPT}Deleted Volumes:\n{anon}\n\nTotal reclaimed space: 1.2MB\n"
    )
    assert dy("volume", "prune", "-f").out == "Total reclaimed space: 0B\n"
    assert dy("volume", "prune", "-af", "--filter", "label!=keep").out == (
        "Deleted Volumes:\nnamed\n\nTotal reclaimed space: 0B\n"
    )
    bad = dy.fails("volume", "prune", "-f", "--filter", "until=1h")
    assert bad.err == "Error response from daemon: Invalid filter 'until'\n"
    assert sorted(dy("volume", "ls", "-q").out.split()) == sorted([anon_used, "kept"])


def test_system_df_counts_volumes(dy: Dockyard) -> None:
    dy("volume", "create", "dytest1")
    dy("volume", "create", "dytest2x")
    dy("volume", "create", "-o", "type=tmpfs", "-o", "device=tmpfs", "withopts")
    (dy.root / "volumes" / "dytest2x" / "_data" / "f").write_bytes(b"\0" * 1_200_000)
    lines = dy("system", "df").lines
    assert "Local Volumes   2         0         1.2MB     1.2MB (100%)" in lines
    verbose = dy("system", "df", "-v").out
    assert (
        "Local Volumes space usage:\n\n"
        "VOLUME NAME   LINKS     SIZE\n"
        "dytest1       0         0B\n"
        "dytest2x      0         1.2MB\n"
        "\nBuild cache usage: 0B\n"
    ) in verbose
    use_volume(dy, "c" * 64, "dytest2x")
    assert "Local Volumes   2         1         1.2MB     0B (0%)" in dy("system", "df").lines
    assert "dytest2x      1         1.2MB" in dy("system", "df", "-v").lines


def test_volume_group_help(dy: Dockyard) -> None:
    out = dy("volume").out
    for command in ("create", "inspect", "ls", "prune", "rm"):
        assert f"  {command}\n" in out
    assert "  volume      Manage volumes\n" in dy().out
