"""push and pull against Debian's docker-registry on loopback, through the real CLI."""

from __future__ import annotations

import json
import re
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests import registryd
from tests.conftest import Dockyard, needs_root
from tests.integration._distribution_support import cli, second_root

pytestmark = [
    needs_root,
    pytest.mark.skipif(not registryd.available(), reason="docker-registry is not installed"),
]

DIGEST = re.compile(r"sha256:[0-9a-f]{64}")


@pytest.fixture
def reg(tmp_path: Path) -> Iterator[registryd.Registry]:
    with registryd.registry(tmp_path / "registry") as r:
        yield r


@pytest.fixture
def pushed(dy: Dockyard, busybox: str, reg: registryd.Registry, tmp_path: Path) -> str:
    """busybox pushed as <registry>/busybox:latest; returns the reference."""
    dy.env["DOCKER_CONFIG"] = str(tmp_path / "docker-config")
    name = f"{reg.host}/busybox:latest"
    dy("tag", "busybox:latest", name)
    cli(dy, "push", name)
    return name


def _other(tmp_path: Path, dy: Dockyard) -> Dockyard:
    other = second_root(tmp_path)
    other.env["DOCKER_CONFIG"] = dy.env["DOCKER_CONFIG"]
    return other


def test_push_output_as_docker(dy: Dockyard, busybox: str, reg: registryd.Registry) -> None:
    name = f"{reg.host}/busybox"
    dy("tag", "busybox:latest", name)
    out = cli(dy, "push", name).lines
    diff_id = dy.engine().layers.require(dy.engine().images.get(busybox).chain[0]).diff_id
    short = diff_id[7:19]
    assert out[0] == "Using default tag: latest"
    assert out[1] == f"The push refers to repository [{reg.host}/busybox]"
    assert out[2] == f"{short}: Preparing"
    assert out[3] == f"{short}: Pushed"
    assert re.fullmatch(r"latest: digest: sha256:[0-9a-f]{64} size: \d+", out[4])
    # Again: the registry has it all.
    again = cli(dy, "push", name + ":latest").lines
    assert again[1:3] == [f"{short}: Preparing", f"{short}: Layer already exists"]
    assert again[3] == out[4]
    # The manifest the registry serves is the one whose digest push printed.
    digest = out[4].split()[2]
    req = urllib.request.Request(
        f"{reg.url}/v2/busybox/manifests/latest",
        headers={"Accept": "application/vnd.docker.distribution.manifest.v2+json"},
    )
    with urllib.request.urlopen(req) as resp:
        assert resp.headers["Docker-Content-Digest"] == digest
        manifest = json.loads(resp.read())
    assert manifest["config"]["digest"] == busybox
    # Push recorded the repo digest, as docker does.
    listing = dy("images", "--digests", "--format", "{{.Repository}} {{.Tag}} {{.Digest}}").lines
    assert f"{reg.host}/busybox latest {digest}" in listing, listing


def test_pull_into_empty_root_gives_same_image_and_runs(
    dy: Dockyard, pushed: str, busybox: str, tmp_path: Path
) -> None:
    other = _other(tmp_path, dy)
    out = cli(other, "pull", pushed).lines
    blob_short = out[2].split(":")[0]
    assert out[0] == "latest: Pulling from busybox"
    assert out[1:6] == [
        f"{blob_short}: Pulling fs layer",
        f"{blob_short}: Verifying Checksum",
        f"{blob_short}: Download complete",
        f"{blob_short}: Pull complete",
        out[5],
    ]
    assert DIGEST.fullmatch(out[5].removeprefix("Digest: "))
    assert out[6] == f"Status: Downloaded newer image for {pushed}"
    assert out[7] == pushed
    assert other("images", "-q", "--no-trunc").out.strip() == busybox
    assert other("run", "--rm", pushed, "echo", "pulled and running").out == "pulled and running\n"
    again = cli(other, "pull", pushed).lines
    assert again[1] == f"{blob_short}: Already exists"
    assert again[-2] == f"Status: Image is up to date for {pushed}"


def test_pull_quiet_and_digest_reference(dy: Dockyard, pushed: str, tmp_path: Path) -> None:
    other = _other(tmp_path, dy)
    assert cli(other, "pull", "-q", pushed).out == f"{pushed}\n"
    digest = other("images", "--digests", "--format", "{{.Digest}}").out.strip()
    assert DIGEST.fullmatch(digest)
    third = second_root(tmp_path, "third")
    third.env["DOCKER_CONFIG"] = dy.env["DOCKER_CONFIG"]
    by_digest = pushed.rsplit(":", 1)[0] + "@" + digest
    out = cli(third, "pull", by_digest).lines
    assert out[0] == f"{digest}: Pulling from busybox"
    assert out[-2] == f"Status: Downloaded newer image for {by_digest}"
    assert out[-1] == by_digest
    # A digest pull creates no tag, only the digest reference.
    assert third("images", "--format", "{{.Tag}} {{.Digest}}", "--digests").out.split() == [
        "<none>",
        digest,
    ]


def test_pull_all_tags(dy: Dockyard, pushed: str, tmp_path: Path) -> None:
    repo = pushed.rsplit(":", 1)[0]
    dy("tag", "busybox:latest", repo + ":v1")
    cli(dy, "push", repo + ":v1")
    other = _other(tmp_path, dy)
    result = cli(other, "pull", "-a", repo)
    assert "latest: Pulling from busybox" in result.lines
    assert "v1: Pulling from busybox" in result.lines
    assert result.lines[-2:] == [f"Status: Downloaded newer image for {repo}", repo]
    tags = sorted(other("images", "--format", "{{.Tag}}").out.split())
    assert tags == ["latest", "v1"]
    bad = cli(other, "pull", "-a", pushed, check=False)
    assert bad.code != 0 and "tag can't be used with --all-tags/-a" in bad.err


def test_push_all_tags_quiet_and_mount(dy: Dockyard, busybox: str, reg: registryd.Registry) -> None:
    repo = f"{reg.host}/first"
    dy("tag", "busybox:latest", repo + ":a")
    dy("tag", "busybox:latest", repo + ":b")
    out = cli(dy, "push", "-a", repo).lines
    assert [line.split(":")[0] for line in out if "digest:" in line] == ["a", "b"]
    assert cli(dy, "push", "-q", repo + ":a").out == f"{repo}:a\n"
    # Same registry, another repository: the layer is mounted from the first.
    dy("tag", "busybox:latest", f"{reg.host}/second:latest")
    mounted = cli(dy, "push", f"{reg.host}/second:latest").lines
    assert any(line.endswith(": Mounted from first") for line in mounted), mounted


def test_missing_things_in_dockers_words(
    dy: Dockyard, pushed: str, reg: registryd.Registry
) -> None:
    no_tag = cli(dy, "pull", f"{reg.host}/busybox:nope", check=False)
    assert no_tag.code == 1
    assert no_tag.err == (
        f"Error response from daemon: manifest for {reg.host}/busybox:nope not found:"
        " manifest unknown: manifest unknown\n"
    )
    no_local = cli(dy, "push", f"{reg.host}/absent", check=False)
    assert no_local.err == (
        f"Error response from daemon: An image does not exist locally with the tag:"
        f" {reg.host}/absent\n"
    )
    bad = cli(dy, "pull", "Busybox", check=False)
    assert bad.code == 1 and "must be lowercase" in bad.err


def _put(reg: registryd.Registry, path: str, data: bytes, media_type: str) -> None:
    req = urllib.request.Request(
        f"{reg.url}{path}", data=data, method="PUT", headers={"Content-Type": media_type}
    )
    urllib.request.urlopen(req).close()


def test_manifest_list_platform_choice(
    dy: Dockyard, busybox_tar: Path, reg: registryd.Registry, tmp_path: Path
) -> None:
    dy.env["DOCKER_CONFIG"] = str(tmp_path / "docker-config")
    repo = f"{reg.host}/multi"
    amd = dy("import", "-c", 'CMD ["sh"]', str(busybox_tar), repo + ":amd64").out.strip()
    arm = dy(
        "import",
        "--platform",
        "linux/arm64",
        "-c",
        'CMD ["sh"]',
        str(busybox_tar),
        repo + ":arm64",
    ).out.strip()
    digests = {}
    for tag in ("amd64", "arm64"):
        line = cli(dy, "push", f"{repo}:{tag}").lines[-1]
        digests[tag] = (line.split()[2], int(line.split()[4]))
    index = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [
            {
                "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
                "digest": digests[arch][0],
                "size": digests[arch][1],
                "platform": {"architecture": arch, "os": "linux"},
            }
            for arch in ("arm64", "amd64")
        ],
    }
    _put(
        reg,
        "/v2/multi/manifests/latest",
        json.dumps(index).encode(),
        "application/vnd.oci.image.index.v1+json",
    )
    other = _other(tmp_path, dy)
    cli(other, "pull", repo)
    assert other("images", "-q", "--no-trunc").out.strip() == amd
    third = second_root(tmp_path, "third")
    third.env["DOCKER_CONFIG"] = dy.env["DOCKER_CONFIG"]
    cli(third, "pull", "--platform", "linux/arm64", repo)
    assert third("images", "-q", "--no-trunc").out.strip() == arm
    wrong = cli(third, "pull", "--platform", "linux/s390x", repo, check=False)
    assert wrong.err == (
        "Error response from daemon: no matching manifest for linux/s390x in the manifest"
        " list entries\n"
    )
    single = cli(third, "pull", "--platform", "linux/arm64", f"{repo}:amd64", check=False)
    assert "does not match the specified platform: wanted linux/arm64, actual: linux/amd64" in (
        single.err
    )
    nothing_pulled = third("images", "--format", "{{.Tag}}").out.split()
    assert nothing_pulled == ["latest"]


def test_run_pulls_a_missing_image(
    dy: Dockyard, pushed: str, tmp_path: Path
) -> None:
    other = _other(tmp_path, dy)
    result = other("run", "--rm", pushed, "echo", "pulled-and-ran")
    assert result.out == "pulled-and-ran\n"
    assert result.err.startswith(f"Unable to find image '{pushed}' locally\n")
    assert f"Status: Downloaded newer image for {pushed}\n" in result.err
    # now present: no pull (and nothing on stderr)
    again = other("run", "--rm", pushed, "true")
    assert again.err == ""
    # --pull always asks the registry again; --pull never with nothing local fails
    always = other("create", "--pull", "always", pushed)
    assert f"Status: Image is up to date for {pushed}\n" in always.err
    other("rm", always.out.strip())
    missing = other("run", "--pull", "never", f"{pushed.rsplit(':', 1)[0]}:nope", check=False)
    assert missing.code != 0 and "No such image" in missing.err
    bad = other("run", "--pull", "sometimes", pushed, check=False)
    assert (bad.code, bad.err) == (
        1,  # docker's CLI checks --pull before it creates anything
        "invalid pull option: 'sometimes': must be one of \"always\", \"missing\" or \"never\"\n",
    )
