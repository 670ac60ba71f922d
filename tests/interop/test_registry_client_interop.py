"""What dockyard pushes, skopeo reads; what skopeo copies in, dockyard pulls."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests import registryd
from tests.conftest import Dockyard, have, needs_root
from tests.integration._distribution_support import cli, second_root

pytestmark = [
    needs_root,
    pytest.mark.skipif(not registryd.available(), reason="docker-registry is not installed"),
    pytest.mark.skipif(not have("skopeo"), reason="skopeo is not installed"),
]


def test_skopeo_inspects_what_dockyard_pushed_and_dockyard_pulls_skopeos_copy(
    dy: Dockyard, busybox: str, tmp_path: Path
) -> None:
    dy.env["DOCKER_CONFIG"] = str(tmp_path / "docker-config")
    with registryd.registry(tmp_path / "registry") as reg:
        name = f"{reg.host}/busybox:latest"
        dy("tag", "busybox:latest", name)
        digest = cli(dy, "push", name).lines[-1].split()[2]
        inspect = subprocess.run(
            ["skopeo", "inspect", "--tls-verify=false", f"docker://{name}"],
            check=True, capture_output=True, text=True,
        )  # fmt: skip
        doc = json.loads(inspect.stdout)
        assert doc["Digest"] == digest
        assert doc["Architecture"] == "amd64" and doc["Os"] == "linux"
        raw = subprocess.run(
            ["skopeo", "inspect", "--raw", "--tls-verify=false", f"docker://{name}"],
            check=True, capture_output=True, text=True,
        )  # fmt: skip
        assert json.loads(raw.stdout)["config"]["digest"] == busybox
        # skopeo re-copies it as OCI with gzip layers; dockyard pulls that.
        subprocess.run(
            ["skopeo", "copy", "--src-tls-verify=false", "--dest-tls-verify=false",
             "--format", "oci", "--dest-compress",
             f"docker://{name}", f"docker://{reg.host}/oci:gz"],
            check=True, capture_output=True,
        )  # fmt: skip
        other = second_root(tmp_path)
        other.env["DOCKER_CONFIG"] = dy.env["DOCKER_CONFIG"]
        cli(other, "pull", f"{reg.host}/oci:gz")
        assert other("run", "--rm", f"{reg.host}/oci:gz", "echo", "ok").out == "ok\n"
