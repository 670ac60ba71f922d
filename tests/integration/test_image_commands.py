"""The image commands end to end through the real ``dockyard`` console script."""

from __future__ import annotations

import gzip
import io
import json
import os
import re
import tarfile
from pathlib import Path

import pytest

from tests.conftest import Dockyard, needs_root

pytestmark = needs_root


def store_is_empty(dy: Dockyard) -> None:
    """No image rows, no blobs, no snapshots, no ingest leftovers."""
    assert dy("images", "-aq").out == ""
    blobs = dy.root / "blobs" / "sha256"
    assert not blobs.exists() or os.listdir(blobs) == []
    ingest = dy.root / "blobs" / "ingest"
    assert not ingest.exists() or os.listdir(ingest) == []
    engine = dy.engine()
    try:
        assert list(engine.snapshots.walk()) == []
        assert engine.db.query("SELECT * FROM layers") == []
    finally:
        engine.close()


def test_import_lists_like_docker(dy: Dockyard, busybox: str) -> None:
    assert re.fullmatch(r"sha256:[0-9a-f]{64}", busybox)
    out = dy("images").lines
    assert out[0].split() == ["REPOSITORY", "TAG", "IMAGE", "ID", "CREATED", "SIZE"]
    assert re.match(r"REPOSITORY   TAG       IMAGE ID       CREATED +SIZE$", out[0])
    fields = re.split(r"\s{2,}", out[1])
    assert fields[0] == "busybox"
    assert fields[1] == "latest"
    assert fields[2] == busybox[7:19]
    assert fields[3] in ("Less than a second ago", "1 second ago", "2 seconds ago")
    assert re.fullmatch(r"\d\.\d+MB", fields[4])
    assert dy("images", "-q").out == busybox[7:19] + "\n"
    assert dy("images", "-q", "--no-trunc").out == busybox + "\n"


def test_inspect_shape(dy: Dockyard, busybox: str) -> None:
    data = json.loads(dy("image", "inspect", "busybox").out)
    assert len(data) == 1
    info = data[0]
    assert info["Id"] == busybox
    assert info["RepoTags"] == ["busybox:latest"]
    assert info["RepoDigests"] == []
    assert info["Config"]["Cmd"] == ["sh"]
    assert info["Os"] == "linux"
    assert info["RootFS"]["Type"] == "layers"
    assert len(info["RootFS"]["Layers"]) == 1
    assert info["Size"] > 1_000_000
    assert set(info["GraphDriver"]) == {"Data", "Name"}
    assert "LastTagTime" in info["Metadata"]
    assert dy("inspect", "--format", "{{.Id}}", "busybox").out == busybox + "\n"
    assert dy("inspect", "-f", "{{json .Config.Cmd}}", busybox[7:15]).out == '["sh"]\n'
    missing = dy.fails("inspect", "nothere")
    assert missing.code == 1
    assert missing.err == "Error: No such object: nothere\n"
    assert missing.out == "[]\n"


def test_history(dy: Dockyard, busybox_tar: Path) -> None:
    image = dy("import", "-m", "my msg", str(busybox_tar), "bb").out.strip()
    lines = dy("history", "bb").lines
    assert lines[0].split() == ["IMAGE", "CREATED", "CREATED", "BY", "SIZE", "COMMENT"]
    assert lines[1].startswith(image[7:19])
    assert lines[1].rstrip().endswith("my msg")
    assert dy("history", "-q", "bb").out == image[7:19] + "\n"
    no_msg = dy("import", str(busybox_tar)).out.strip()
    assert dy("history", "--format", "{{.Comment}}", no_msg).out == "Imported from -\n"
    # Not human: sizes in bytes and RFC 3339 times under CREATED AT, as docker prints them.
    plain = dy("history", "-H=false", no_msg).lines
    assert plain[0].split()[:3] == ["IMAGE", "CREATED", "AT"]
    assert re.search(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(Z|[+-]\d\d:\d\d) +\d+ +Imported", plain[1])


def test_import_changes(dy: Dockyard, busybox_tar: Path) -> None:
    dy(
        "import",
        "-c",
        "ENV A=1 B=two",
        "-c",
        "WORKDIR /srv",
        "-c",
        "EXPOSE 80 53/udp",
        "-c",
        "LABEL k=v",
        "-c",
        "USER nobody",
        "-c",
        "ENTRYPOINT /bin/sh",
        "-c",
        "VOLUME /data",
        "-c",
        "STOPSIGNAL SIGINT",
        str(busybox_tar),
        "ch:1",
    )
    config = json.loads(dy("inspect", "ch:1").out)[0]["Config"]
    assert config["Env"] == ["A=1", "B=two"]
    assert config["WorkingDir"] == "/srv"
    assert config["ExposedPorts"] == {"80/tcp": {}, "53/udp": {}}
    assert config["Labels"] == {"k": "v"}
    assert config["User"] == "nobody"
    assert config["Entrypoint"] == ["/bin/sh", "-c", "/bin/sh"]
    assert config["Volumes"] == {"/data": {}}
    assert config["StopSignal"] == "SIGINT"
    bad = dy.fails("import", "-c", "ADD x y", str(busybox_tar))
    assert bad.err.strip().endswith("add is not a valid change command")
    assert dy("images", "-aq").out.count("\n") == 1


def test_import_from_stdin_gzip(dy: Dockyard, busybox_tar: Path) -> None:
    data = gzip.compress(busybox_tar.read_bytes())
    image = dy("import", "-", "gz:1", input=data).out.strip()
    plain = dy("import", str(busybox_tar)).out.strip()
    # Same filesystem, same layer: the diff ids agree however it arrived.
    a = json.loads(dy("inspect", image).out)[0]["RootFS"]["Layers"]
    b = json.loads(dy("inspect", plain).out)[0]["RootFS"]["Layers"]
    assert a == b


def test_tag_and_rmi_lines(dy: Dockyard, busybox: str) -> None:
    dy("tag", "busybox", "other/repo:v1")
    dy("tag", "busybox", "busybox:two")
    ids = dy("images", "--format", "{{.Repository}}:{{.Tag}} {{.ID}}").lines
    assert sorted(ids) == sorted(
        [
            f"busybox:latest {busybox[7:19]}",
            f"busybox:two {busybox[7:19]}",
            f"other/repo:v1 {busybox[7:19]}",
        ]
    )
    conflict = dy.fails("rmi", busybox[7:19])
    assert conflict.code == 1
    assert conflict.err == (
        f"Error response from daemon: conflict: unable to delete {busybox[7:19]} "
        "(must be forced) - image is referenced in multiple repositories\n"
    )
    assert dy("rmi", "other/repo:v1").out == "Untagged: other/repo:v1\n"
    out = dy("rmi", busybox[7:19]).lines
    assert out[:2] == ["Untagged: busybox:latest", "Untagged: busybox:two"]
    assert out[2] == f"Deleted: {busybox}"
    assert len(out) == 4 and out[3].startswith("Deleted: sha256:")
    store_is_empty(dy)


def test_rmi_force_and_missing(dy: Dockyard, busybox: str) -> None:
    dy("tag", "busybox", "x/y:1")
    out = dy("rmi", "-f", busybox).lines
    assert "Untagged: x/y:1" in out and "Untagged: busybox:latest" in out
    missing = dy.fails("rmi", "nonexist")
    assert missing.err == "Error response from daemon: No such image: nonexist:latest\n"


def test_save_load_round_trip(dy: Dockyard, busybox: str, tmp_path: Path) -> None:
    dy("tag", "busybox", "localhost:5000/bb:1")
    archive = tmp_path / "out.tar"
    dy("save", "-o", str(archive), "busybox", "localhost:5000/bb:1")
    with tarfile.open(archive) as tar:
        names = tar.getnames()
        manifest = json.loads(tar.extractfile("manifest.json").read())  # type: ignore[union-attr]
    assert "manifest.json" in names and "index.json" in names and "oci-layout" in names
    assert manifest[0]["RepoTags"] == ["busybox:latest", "localhost:5000/bb:1"]
    # Same images, same bytes.
    again = tmp_path / "again.tar"
    dy("save", "-o", str(again), "busybox", "localhost:5000/bb:1")
    assert archive.read_bytes() == again.read_bytes()
    dy("rmi", "-f", busybox)
    store_is_empty(dy)
    out = dy("load", "-i", str(archive)).lines
    assert out == ["Loaded image: busybox:latest", "Loaded image: localhost:5000/bb:1"]
    assert dy("images", "-q", "--no-trunc").out == busybox + "\n"
    # stdin, gzip-compressed, and the -q flag.
    dy("rmi", "-f", busybox)
    out = dy("load", "-q", input=gzip.compress(archive.read_bytes())).lines
    assert out == ["Loaded image: busybox:latest", "Loaded image: localhost:5000/bb:1"]
    assert dy("save", "busybox").out  # to a pipe: stdout


def test_load_moves_tag(dy: Dockyard, busybox: str, busybox_tar: Path, tmp_path: Path) -> None:
    archive = tmp_path / "a.tar"
    dy("save", "-o", str(archive), "busybox")
    dy("import", "-m", "other", str(busybox_tar), "busybox:latest")
    out = dy("load", "-i", str(archive)).lines
    assert out[0].startswith("The image busybox:latest already exists, renaming the old one")
    assert out[-1] == "Loaded image: busybox:latest"
    dangling = dy("images", "-f", "dangling=true", "-q").lines
    assert len(dangling) == 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["tag", "busybox", "UPPER:tag"],
            'Error parsing reference: "UPPER:tag" is not a valid repository/tag: invalid reference'
            " format: repository name (library/UPPER) must be lowercase",
        ),
        (
            ["tag", "busybox", "a::b"],
            'Error parsing reference: "a::b" is not a valid repository/tag:'
            " invalid reference format",
        ),
        (
            ["tag", "busybox", "x:" + "t" * 130],
            f'Error parsing reference: "x:{"t" * 130}" is not a valid repository/tag: invalid'
            " reference format",
        ),
    ],
)
def test_bad_references(dy: Dockyard, busybox: str, args: list[str], message: str) -> None:
    result = dy.fails(*args)
    assert result.code == 1
    assert result.err == message + "\n"
    assert dy("images", "--format", "{{.Repository}}:{{.Tag}}").out == "busybox:latest\n"


def test_unknown_flag(dy: Dockyard) -> None:
    result = dy.fails("images", "--foo")
    assert result.code == 125
    assert result.err.startswith("unknown flag: --foo\n")
    result = dy.fails("rmi")
    assert result.code == 1
    assert '"dockyard rmi" requires at least 1 argument.' in result.err


def _tar(entries: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, data in entries.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def test_corrupt_archives_store_nothing(dy: Dockyard, busybox: str, tmp_path: Path) -> None:
    archive = tmp_path / "good.tar"
    dy("save", "-o", str(archive), "busybox")
    good = archive.read_bytes()
    dy("rmi", "-f", busybox)
    store_is_empty(dy)

    cases = {
        "garbage": b"this is not a tar archive at all" * 40,
        "truncated": good[: len(good) // 2],
        "empty": b"",
    }
    # A manifest naming a missing layer, and a layer whose digest is wrong.
    with tarfile.open(archive) as tar:
        members = {m.name: m for m in tar.getmembers()}
        contents = {
            n: tar.extractfile(m).read()  # type: ignore[union-attr]
            for n, m in members.items()
            if m.isfile()
        }
    manifest = json.loads(contents["manifest.json"])
    layer_path = manifest[0]["Layers"][0]
    missing = {k: v for k, v in contents.items() if k not in (layer_path, "index.json")}
    cases["missing-layer"] = _tar(missing)
    wrong = dict(contents)
    del wrong["index.json"]
    wrong[layer_path] = _tar({"evil": b"not the layer the config names"})
    cases["wrong-digest"] = _tar(wrong)

    for name, data in cases.items():
        result = dy.fails("load", input=data)
        assert result.code == 1, name
        assert len(result.err.strip().splitlines()) == 1, (name, result.err)
        store_is_empty(dy)


def test_corrupt_import_stores_nothing(dy: Dockyard, busybox_tar: Path) -> None:
    data = busybox_tar.read_bytes()
    for bad in (data[: len(data) // 3], gzip.compress(data)[:5000], b"garbage" * 100):
        result = dy.fails("import", "-", "bad:1", input=bad)
        assert result.code == 1
        assert len(result.err.strip().splitlines()) == 1, result.err
        store_is_empty(dy)


def test_filters_and_format(dy: Dockyard, busybox_tar: Path) -> None:
    first = dy("import", "-c", "LABEL tier=base", str(busybox_tar), "one:1").out.strip()
    second = dy("import", "-m", "second", str(busybox_tar), "two:1").out.strip()
    dangling = dy("import", "-m", "third", str(busybox_tar)).out.strip()
    q = dy("images", "-q", "--no-trunc", "-f", "label=tier=base").lines
    assert q == [first]
    assert dy("images", "-q", "--no-trunc", "-f", "dangling=true").lines == [dangling]
    assert dy("images", "-q", "--no-trunc", "-f", "reference=t*").lines == [second]
    assert dy("images", "-q", "--no-trunc", "two").lines == [second]
    assert set(dy("images", "-q", "--no-trunc", "-f", "before=" + dangling).lines) == {
        first,
        second,
    }
    assert dy("images", "-q", "--no-trunc", "-f", "since=" + second).lines == [dangling]
    bad = dy.fails("images", "-f", "foo=bar")
    assert bad.err == "Error response from daemon: Invalid filter 'foo'\n"
    rows = dy("images", "--format", "table {{.Repository}}\t{{.Tag}}").lines
    assert rows[0].split() == ["REPOSITORY", "TAG"]
    json_lines = dy("images", "--format", "json").lines
    as_json = [json.loads(line) for line in json_lines]
    assert {r["Repository"] for r in as_json} == {"one", "two", "<none>"}
    # Docker's row JSON: keys sorted, <>& escaped.
    assert list(as_json[0]) == sorted(as_json[0])
    assert any("\\u003cnone\\u003e" in line for line in json_lines)
    assert dy("images", "--format", "{{upper .Repository}}", "one").out == "ONE\n"


def test_prune_and_df(dy: Dockyard, busybox_tar: Path) -> None:
    dy("import", str(busybox_tar), "keep:1")
    dy("import", "-m", "x", str(busybox_tar))
    df = dy("system", "df").lines
    assert df[0].split() == ["TYPE", "TOTAL", "ACTIVE", "SIZE", "RECLAIMABLE"]
    assert df[1].split()[:3] == ["Images", "2", "0"]
    out = dy("image", "prune", "-f").out
    assert out.startswith("Deleted Images:\ndeleted: sha256:")
    assert "Total reclaimed space: " in out
    assert len(dy("images", "-aq").lines) == 1
    out = dy("image", "prune", "-a", "-f").out
    assert "untagged: keep:1" in out
    store_is_empty(dy)
    # No prompt answer on stdin means no.
    dy("import", "-m", "y", str(busybox_tar))
    answer = dy("image", "prune", input=b"n\n")
    assert "Are you sure you want to continue? [y/N]" in answer.out
    assert len(dy("images", "-aq").lines) == 1


def test_info_version_and_config(dy: Dockyard) -> None:
    info = dy("info").out
    assert "Storage Driver: " in info and f"Docker Root Dir: {dy.root}" in info
    assert dy("version", "--format", "{{.Server.ApiVersion}}").out == "1.43\n"
    (dy.root.parent / "daemon.json").write_text('{"registry-mirrors": ["http://127.0.0.1:5000"]}')
    assert "Registry Mirrors:\n  http://127.0.0.1:5000" in dy("info").out
    (dy.root.parent / "daemon.json").write_text("{not json")
    bad = dy.fails("images")
    assert bad.code == 1
    assert "unable to configure the dockyard engine with file" in bad.err
    assert len(bad.err.strip().splitlines()) == 1
    (dy.root.parent / "daemon.json").write_text('{"no-such-key": 1}')
    bad = dy.fails("images")
    assert "the following directives don't match any configuration option: no-such-key" in bad.err


def test_import_from_url(dy: Dockyard, busybox_tar: Path) -> None:
    import http.server
    import threading

    payload = busybox_tar.read_bytes()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path != "/rootfs.tar":
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/rootfs.tar"
        image = dy("import", url, "fromurl:1").out.strip()
        assert dy("history", "--format", "{{.Comment}}", image).out == f"Imported from {url}\n"
        missing = dy.fails("import", url.replace("rootfs", "nothing"))
        assert missing.code == 1 and "404" in missing.err
        assert dy("images", "-q").lines == [image[7:19]]
    finally:
        server.shutdown()
        server.server_close()


def test_load_shows_layer_progress_on_a_terminal(dy: Dockyard, tmp_path: Path) -> None:
    import pty
    import subprocess

    from tests.conftest import DOCKYARD
    from tests.imagegen import random_layer, write_archive

    archive = tmp_path / "two.tar"
    write_archive(archive, [random_layer(1, 10_000), random_layer(2, 20_000)], ["tty:1"])
    master, slave = pty.openpty()
    proc = subprocess.run(
        [DOCKYARD, "load", "-i", str(archive)],
        env=dy.env,
        stdout=slave,
        stderr=subprocess.PIPE,
        timeout=60,
    )
    os.close(slave)
    output = b""
    while True:
        try:
            chunk = os.read(master, 4096)
        except OSError:
            break
        if not chunk:
            break
        output += chunk
    os.close(master)
    assert proc.returncode == 0, proc.stderr
    lines = output.decode().replace("\r\n", "\n").splitlines()
    assert len(lines) == 3
    assert re.fullmatch(r"[0-9a-f]{12}: Loading layer \[={50}>\]  ([\d.]+kB)/\1", lines[0])
    assert lines[2] == "Loaded image: tty:1"
    # Not a terminal: only the result, as docker prints it.
    dy("rmi", "tty:1")
    assert dy("load", "-i", str(archive)).out == "Loaded image: tty:1\n"


def test_image_of_125_layers_loads_and_mounts(dy: Dockyard, tmp_path: Path) -> None:
    from tests.imagegen import layer_tar, write_archive

    layers = [layer_tar([(f"layers/l{n:03d}", str(n).encode())]) for n in range(125)]
    archive = tmp_path / "tall.tar"
    write_archive(archive, layers, ["tall:1"])
    assert dy("load", "-i", str(archive)).out == "Loaded image: tall:1\n"
    info = json.loads(dy("inspect", "tall:1").out)[0]
    assert len(info["RootFS"]["Layers"]) == 125
    engine = dy.engine()
    target = tmp_path / "merged"
    target.mkdir()
    try:
        top = engine.images.get(engine.images.resolve("tall:1")).chain[-1]
        engine.snapshots.mount(top, str(target))
        try:
            assert (target / "layers" / "l000").read_text() == "0"
            assert (target / "layers" / "l124").read_text() == "124"
            assert len(os.listdir(target / "layers")) == 125
        finally:
            engine.snapshots.unmount(str(target))
    finally:
        engine.close()
    dy("rmi", "tall:1")
    store_is_empty(dy)


def test_vfs_driver(dy: Dockyard, busybox_tar: Path, tmp_path: Path) -> None:
    vfs = ["--storage-driver", "vfs"]
    image = dy(*vfs, "import", str(busybox_tar), "v:1").out.strip()
    info = json.loads(dy(*vfs, "inspect", "v:1").out)[0]
    assert info["GraphDriver"] == {"Data": None, "Name": "vfs"}
    archive = tmp_path / "v.tar"
    dy(*vfs, "save", "-o", str(archive), "v:1")
    dy(*vfs, "rmi", "v:1")
    assert dy(*vfs, "load", "-i", str(archive)).out == "Loaded image: v:1\n"
    assert dy(*vfs, "images", "-q", "--no-trunc").out == image + "\n"
    assert "Storage Driver: vfs" in dy(*vfs, "info").out
    # A root made with one driver refuses the other, clearly.
    other = dy.fails("--storage-driver", "overlay", "inspect", "v:1")
    assert other.code == 1 and len(other.err.strip().splitlines()) == 1


def test_rmi_refuses_an_image_a_container_uses(dy: Dockyard, busybox: str) -> None:
    # Containers arrive with their own issue; the image service's rule is already
    # here: a container row that names the image blocks rmi unless forced.
    engine = dy.engine()
    try:
        with engine.db.transaction() as conn:
            conn.execute(
                "INSERT INTO containers (id, name, image_id, created) VALUES (?, ?, ?, 0)",
                ("c" * 64, "user", busybox),
            )
    finally:
        engine.close()
    refused = dy.fails("rmi", busybox[7:19])
    assert refused.err == (
        f"Error response from daemon: conflict: unable to delete {busybox[7:19]} (must be"
        f" forced) - image is being used by stopped container {'c' * 12}\n"
    )
    # By its only name: refused too, before anything is untagged (docker's wording).
    assert dy.fails("rmi", "busybox").err == (
        'Error response from daemon: conflict: unable to remove repository reference "busybox"'
        f" (must force) - container {'c' * 12} is using its referenced image {busybox[7:19]}\n"
    )
    # Forced: the tag goes but the image stays for its container.
    assert dy("rmi", "-f", "busybox").out == "Untagged: busybox:latest\n"
    assert dy("images", "-aq", "--no-trunc").out == busybox + "\n"
    assert dy("image", "prune", "-a", "-f").out == "Total reclaimed space: 0B\n"


def test_prune_filters_and_verbose_df(dy: Dockyard, busybox_tar: Path) -> None:
    dy("import", "-c", "LABEL keep=yes", str(busybox_tar), "labelled:1")
    dy("import", "-m", "plain", str(busybox_tar), "plain:1")
    # Both are younger than an hour: until=1h keeps them.
    assert dy("image", "prune", "-a", "-f", "--filter", "until=1h").out == (
        "Total reclaimed space: 0B\n"
    )
    out = dy("image", "prune", "-a", "-f", "--filter", "label!=keep=yes").out
    assert "untagged: plain:1" in out and "labelled" not in out
    verbose = dy("system", "df", "-v").out
    assert verbose.startswith("Images space usage:\n\nREPOSITORY ")
    assert "SHARED SIZE   UNIQUE SIZE   CONTAINERS" in verbose
    assert "labelled" in verbose
    bad = dy.fails("image", "prune", "-f", "--filter", "foo=bar")
    assert bad.err == "Error response from daemon: Invalid filter 'foo'\n"
