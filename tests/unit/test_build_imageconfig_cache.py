"""The builder's pure parts: BuildKit's history strings and times, the cache keys and
why a step missed (golden values from moby/buildkit 73ed6825,
frontend/dockerfile/dockerfile2llb/convert.go and exporter/containerimage/writer.go)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dockyard.build import imageconfig as ic
from dockyard.build.progress import Progress
from dockyard.store.buildcache import BuildCache, StepInputs, base_key, step_key
from dockyard.store.metadata import Database


@pytest.mark.parametrize(
    ("ns", "text"),
    [
        (0, "0s"),
        (30 * 10**9, "30s"),
        (90 * 10**9, "1m30s"),
        (3600 * 10**9, "1h0m0s"),
        (1_500_000_000, "1.5s"),
        (500_000_000, "500ms"),
        (1_000, "1µs"),
        (7, "7ns"),
    ],
)
def test_go_duration(ns: int, text: str) -> None:
    assert ic.go_duration(ns) == text


def test_healthcheck_and_list_formats() -> None:
    check = {"Test": ["CMD-SHELL", "curl -f x || exit 1"], "Interval": 5 * 10**9, "Retries": 3}
    assert ic.healthcheck_text(check) == (
        "{Test:[CMD-SHELL curl -f x || exit 1] Interval:5s Timeout:0s StartPeriod:0s"
        " StartInterval:0s Retries:3}"
    )
    assert ic.go_quoted_list(["/bin/sh", "-c", 'say "hi"']) == '["/bin/sh" "-c" "say \\"hi\\""]'
    assert ic.go_list(["8080/tcp", "53/udp"]) == "[8080/tcp 53/udp]"


def test_run_created_by_lists_build_args() -> None:
    argv = ["/bin/sh", "-c", "echo $A"]
    assert ic.run_created_by(argv, []) == "/bin/sh -c echo $A"
    assert ic.run_created_by(argv, [("A", "1"), ("B", ""), ("A", "2")]) == (
        "|2 A=2 B= /bin/sh -c echo $A"
    )


def test_history_times_and_created() -> None:
    state = ic.ImageState(history=[{"created": "T0", "created_by": "base"}])
    state.record("ENV A=1", layer=False)
    state.record("COPY a b", layer=True, created="T1", buildkit=True)
    state.record("USER x", layer=False)
    state.record("RUN x", layer=True, created="T2", buildkit=True)
    state.record("CMD [x]", layer=False)
    state.diff_ids = ["sha256:a", "sha256:b", "sha256:c"]
    blob = json.loads(ic.config_bytes(state))
    times = [h["created"] for h in blob["history"]]
    assert times == ["T0", "T1", "T1", "T1", "T2", "T2"]
    assert blob["created"] == "T2"
    assert blob["history"][2] == {
        "created": "T1",
        "created_by": "COPY a b # buildkit",
        "comment": "buildkit.dockerfile.v0",
    }
    assert blob["history"][1]["empty_layer"] is True
    assert list(blob) == ["architecture", "config", "created", "history", "os", "rootfs"]


def test_scratch_and_base_state() -> None:
    state = ic.scratch()
    assert state.config == {"Env": [f"PATH={ic.DEFAULT_PATH}"], "WorkingDir": "/"}
    base = {
        "architecture": "amd64",
        "os": "linux",
        "config": {"Cmd": ["sh"], "OnBuild": ["RUN x"], "Hostname": "h", "Env": ["A=1"]},
        "rootfs": {"type": "layers", "diff_ids": ["sha256:1"]},
        "history": [{"created": "T"}],
    }
    state, triggers = ic.from_image("sha256:img", base, ["sha256:1"])
    assert triggers == ["RUN x"]
    assert "OnBuild" not in state.config
    state.set_env("A", "2")
    state.set_env("B", "3")
    assert state.env == ["A=2", "B=3"]
    blob = json.loads(ic.config_bytes(state))
    assert blob["config"] == {"Env": ["A=2", "B=3"], "Cmd": ["sh"]}


def test_step_keys_depend_on_inputs_not_times() -> None:
    parent = base_key("sha256:img", "linux/amd64")
    a = StepInputs("COPY a /a", files={"a": "file:644:0:0:abc"})
    assert step_key(parent, a) == step_key(parent, StepInputs("COPY a /a", files=dict(a.files)))
    assert step_key(parent, a) != step_key(parent, StepInputs("COPY a /a", files={"a": "x"}))
    assert step_key(parent, a) != step_key("other", a)
    with_arg = StepInputs("RUN x", args={"V": "1"})
    assert step_key(parent, with_arg) != step_key(parent, StepInputs("RUN x", args={"V": "2"}))


def test_miss_reasons(tmp_path: Path) -> None:
    db = Database(str(tmp_path / "db.sqlite"))
    db.execute(
        "INSERT INTO layers (chain_id, diff_id, parent, size, blob_digest, blob_size,"
        " media_type, created) VALUES ('sha256:l', 'sha256:l', NULL, 3, 'sha256:l', 3, 't', 0)"
    )
    cache = BuildCache(db)
    parent = "sha256:parent"
    old = StepInputs(
        "COPY . /app", args={"V": "1"}, files={"a.txt": "1", "b.txt": "2"}, extra='{"user": ""}'
    )
    key = step_key(parent, old)
    cache.store(key, parent, old, step="[2/3] COPY . /app", chain_id="sha256:l",
                diff_id="sha256:l", created="T")  # fmt: skip
    assert cache.lookup(key) is not None
    assert cache.lookup("sha256:nothing") is None
    new = StepInputs(
        "COPY . /app",
        args={"V": "2"},
        files={"a.txt": "changed", "c.txt": "3"},
        extra='{"user": "app"}',
    )
    reason = cache.explain_miss(parent, new, parent_missed=False)
    assert reason == (
        'build arg V changed ("1" -> "2"); file a.txt changed; file c.txt added;'
        " file b.txt removed; user changed"
    )
    assert cache.explain_miss(parent, new, parent_missed=True) == "parent changed"
    other = StepInputs("COPY other /app")
    assert cache.explain_miss(parent, other, parent_missed=False) == "instruction changed"
    assert cache.explain_miss("sha256:new", other, parent_missed=False) == "not built before"
    usage = cache.usage()
    assert [(u.step, u.size, u.in_use) for u in usage] == [("[2/3] COPY . /app", 3, False)]
    removed, chains = cache.prune(all_entries=False)
    assert [r.key for r in removed] == [key] and chains == {"sha256:l"}
    assert cache.usage() == []
    db.close()


def test_progress_plain_format() -> None:
    import io

    out = io.StringIO()
    progress = Progress("plain", out)
    v = progress.vertex("[1/2] RUN echo hi")
    v.miss("file a changed")
    v.log(b"hi\npartial")
    v.done()
    c = progress.vertex("[2/2] COPY a b")
    c.cached()
    text = out.getvalue()
    assert text.startswith('#0 building with "default" instance')
    assert "#1 [1/2] RUN echo hi\n#1 cache miss: file a changed\n#1 0." in text
    assert " hi\n" in text and " partial\n#1 DONE " in text
    assert "#2 [2/2] COPY a b\n#2 CACHED\n" in text
    with pytest.raises(Exception, match="invalid progress mode"):
        Progress("fancy", out)


def test_usage_records_shared_in_use_and_df_summary(tmp_path: Path) -> None:
    """Entries sharing a layer count it once; a layer an image uses is counted under
    Images (shared); an entry a running build holds is in use, and prune keeps it."""
    from dockyard.engine.builds import summarize

    db = Database(str(tmp_path / "db.sqlite"))
    for chain, size in (("sha256:a", 100), ("sha256:b", 20), ("sha256:c", 5)):
        db.execute(
            "INSERT INTO layers (chain_id, diff_id, parent, size, blob_digest, blob_size,"
            " media_type, created) VALUES (?, ?, NULL, ?, ?, ?, 't', 0)",
            (chain, chain, size, chain, size),
        )
    cache = BuildCache(db)
    steps = [("sha256:k1", "sha256:a"), ("sha256:k2", "sha256:a"), ("sha256:k3", "sha256:b"),
             ("sha256:k4", "sha256:c")]  # fmt: skip
    parent = "sha256:base"
    for key, chain in steps:
        cache.store(key, parent, StepInputs("RUN " + key), step="step " + key, chain_id=chain,
                    diff_id=chain, created="T")  # fmt: skip
        parent = key
    assert cache.lookup("sha256:k3") is not None
    assert cache.lookup("sha256:k3") is not None
    usage = {u.key: u for u in cache.usage(held={"sha256:c"})}
    assert usage["sha256:k3"].usage_count == 3  # stored, then used twice
    assert usage["sha256:k1"].usage_count == 1
    assert usage["sha256:k2"].parent == "sha256:k1"
    shared = {k for k, u in usage.items() if u.shared}
    assert shared == {"sha256:k2"}  # k1 counts layer a; k2 has the same layer
    assert {k for k, u in usage.items() if u.in_use} == {"sha256:k4"}
    records = [
        {"Size": u.size, "Shared": u.shared, "InUse": u.in_use} for u in usage.values()
    ]
    # total, active, size (shared left out), reclaimable (in use left out)
    assert summarize(records) == (4, 1, 125, 120)  # type: ignore[arg-type]
    removed, chains = cache.prune(all_entries=True, held={"sha256:c"})
    assert {r.key for r in removed} == {"sha256:k1", "sha256:k2", "sha256:k3"}
    assert chains == {"sha256:a", "sha256:b"}
    assert [u.key for u in cache.usage()] == ["sha256:k4"]
    db.close()
