"""Building a parsed Dockerfile: stages in dependency order, steps through the cache.

The target stage (``--target``, else the last) and the stages it needs (its
base, ``COPY --from``, ``RUN --mount=from=``) are built; the others are skipped.
Each needed stage runs in its own thread and waits for the stages it depends
on, so independent stages build in parallel. Within a stage, metadata-only
instructions change the image config (:mod:`.imageconfig`) and the steps that
make layers (RUN, COPY, ADD, WORKDIR) go through the cache (:mod:`.cache`):
a hit reuses the recorded layer, a miss runs the step (:mod:`.executor`) and
says why it missed. Nothing is tagged unless every needed stage succeeded; the
build's lease protects what it uses until the image exists.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import posixpath
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from dockyard.build import executor as X
from dockyard.build import imageconfig as ic
from dockyard.build.dockerfile import instructions as I
from dockyard.build.gitproc import GitRunner
from dockyard.build.progress import Progress, Vertex
from dockyard.errors import DockyardError, InvalidArgument
from dockyard.store.buildcache import BuildCache, StepInputs, base_key, step_key
from dockyard.timeutil import rfc3339_nano

if TYPE_CHECKING:
    from dockyard.build.dockerignore import Matcher
    from dockyard.engine import Engine
    from dockyard.engine.layerstore import Layer

DEFAULT_SHELL = ["/bin/sh", "-c"]
PROXY_ARGS = ("http_proxy", "https_proxy", "ftp_proxy", "no_proxy", "all_proxy")
LINK_PARENT = "link"  # what ``--link`` steps' keys have for a parent: they do not depend on one


class BuildFailed(DockyardError):
    """A step failed: ``failed to solve: <why>``, with the Dockerfile excerpt."""

    exit_code = 1

    def __init__(
        self, message: str, excerpt: str = "", step: str = "", logs: list[str] | None = None
    ) -> None:
        super().__init__(message)
        self.excerpt = excerpt
        self.step = step
        self.logs = logs or []


class Cancelled(Exception):
    pass


@dataclass
class BuildRequest:
    dockerfile: str  # its text
    dockerfile_name: str = "Dockerfile"
    context_dir: str | None = None  # the prepared context (None: no context)
    matcher: Matcher | None = None  # the context's .dockerignore rules
    tags: list[str] = field(default_factory=list)
    build_args: dict[str, str] = field(default_factory=dict)
    target: str = ""
    no_cache: bool = False
    no_cache_filter: list[str] = field(default_factory=list)
    pull: bool = False
    labels: dict[str, str] = field(default_factory=dict)
    network: str = "default"
    secrets: dict[str, str] = field(default_factory=dict)  # id -> host file
    ssh: dict[str, list[str]] = field(default_factory=dict)  # id -> [agent socket] or key files
    platform: str = "linux/amd64"
    shm_size: int = 0
    ulimits: list[dict[str, Any]] = field(default_factory=list)
    extra_hosts: list[str] = field(default_factory=list)


@dataclass
class BuildResult:
    image_id: str
    tags: list[str]
    cached_steps: int = 0
    executed_steps: int = 0
    miss_reasons: list[tuple[str, str]] = field(default_factory=list)


@dataclass
class Stage:
    index: int
    name: str  # as written after AS (lowercased), or ""
    base: str  # FROM's image (expanded with the global args)
    platform: str
    from_inst: I.From
    commands: list[I.Instruction]
    deps: set[int] = field(default_factory=set)
    base_stage: int | None = None

    @property
    def display(self) -> str:
        return self.name or f"stage-{self.index}"


@dataclass
class StageResult:
    state: ic.ImageState
    key: str  # the last step's cache key (stands for the stage's content)


# ----------------------------------------------------------------- parsing


@dataclass
class Plan:
    stages: list[Stage]
    target: Stage
    needed: list[Stage]  # dependencies first
    meta: dict[str, str]
    escape: str


def plan_build(text: str, filename: str, build_args: dict[str, str], target: str) -> Plan:
    """The stages (FROM names expanded with the global args) and those the target needs."""
    from dockyard.build.dockerfile.stages import parse_dockerfile

    df = parse_dockerfile(text, filename)
    if not df.stages:
        from dockyard.build.dockerfile.errors import DockerfileParseError

        raise DockerfileParseError(
            f"the Dockerfile ({filename}) cannot be empty", filename=filename
        )
    plan = df.plan(build_args, target=target)
    for i in plan.needed:
        _check_stage_platform(plan.stages[i], text, filename)
    stages = [
        Stage(
            index=rs.stage.index,
            name=rs.stage.name,
            base=rs.base,
            platform=rs.stage.platform,
            from_inst=rs.stage.from_,
            commands=list(rs.stage.commands),
            deps=set(rs.deps),
            base_stage=rs.base_stage,
        )
        for rs in plan.stages
    ]
    return Plan(
        stages=stages,
        target=stages[plan.target],
        needed=[stages[i] for i in plan.needed],
        meta=dict(plan.meta_args),
        escape=df.escape_token,
    )


def _check_stage_platform(rs: Any, text: str, filename: str) -> None:
    """``FROM --platform=`` other than linux/amd64 is refused, naming the FROM line:
    dockyard has no emulator to run another platform's RUN steps."""
    from dockyard.oci.platform import format_platform, normalize

    if rs.platform is None:
        return
    p = normalize(rs.platform)
    if (p.os, p.architecture) == ("linux", "amd64"):
        return
    inst = rs.stage.from_
    raise BuildFailed(
        f"no emulator for platform {format_platform(p)}: this host runs linux/amd64"
        " and dockyard builds for it only",
        excerpt=excerpt(text, filename, inst.start_line, inst.end_line),
        step=inst.original,
    )


def find_stage(stages: list[Stage], name: str, before: int) -> Stage | None:
    """The stage ``COPY --from`` / ``--mount from=`` names (by name or index)."""
    lowered = name.lower()
    found = None
    for s in stages:
        if s.name and s.name == lowered:
            found = s
    if found is not None:
        return found
    if name.isascii() and name.isdigit() and int(name) < len(stages):
        return stages[int(name)]
    del before
    return None


# ----------------------------------------------------------------- the build


class Builder:
    def __init__(self, engine: Engine, request: BuildRequest, progress: Progress) -> None:
        self.engine = engine
        self.req = request
        self.progress = progress
        self.cache = BuildCache(engine.db)
        self.lease = ""
        self.results: dict[int, StageResult] = {}
        self.errors: list[BaseException] = []
        self.cancelled = threading.Event()
        self.done: dict[int, threading.Event] = {}
        self.lock = threading.Lock()
        self.result = BuildResult("", [])
        self.escape = "\\"
        self.stages: list[Stage] = []
        self.meta: dict[str, str] = {}
        self.used_args: set[str] = set()
        self.memo: dict[str, str] = {}  # file identity+times -> content hash (kept between builds)
        self.ssh_sockets: dict[str, str] = {}  # --ssh id -> the agent's socket (this process)
        self.ssh_paths: dict[str, str] = {}  # --ssh id -> the agent's socket (for git's ssh)
        self.git = GitRunner()  # ADD <git>'s commands, killed with a cancelled build

    # -------------------------------------------------------------- entry

    def build(self) -> BuildResult:
        from dockyard.oci import reference as refs

        tags = []
        for t in self.req.tags:
            try:
                tags.append(str(refs.parse_reference(t).with_default_tag()))
            except InvalidArgument:
                raise InvalidArgument(
                    f'invalid argument "{t}" for "-t, --tag" flag: invalid reference format'
                ) from None
        v = self.progress.vertex(
            f"[internal] load build definition from {self.req.dockerfile_name}"
        )
        size = len(self.req.dockerfile.encode("utf-8", "surrogateescape"))  # not UTF-8: as read
        v.note(f"transferring dockerfile: {size}B done")
        plan = plan_build(
            self.req.dockerfile, self.req.dockerfile_name, self.req.build_args, self.req.target
        )
        self.escape = plan.escape
        self.stages, self.meta = plan.stages, plan.meta
        v.done()
        final, needed = plan.target, plan.needed
        X.reap_stale(self.engine)
        from dockyard.build import hashmemo

        root = self.engine.options.root
        self.memo = hashmemo.load(root)
        known = len(self.memo)
        self.lease = self.engine.leases.create()
        agents = None
        try:
            if self.req.ssh:
                from dockyard.build import sshagent

                agents = sshagent.start(self.req.ssh, X.temp_dir(self.engine, "ssh-"))
                self.ssh_sockets, self.ssh_paths = agents.sockets, agents.paths
            self._run_stages(needed)
            state = self.results[final.index].state.clone()
            if self.req.labels:
                labels = dict(state.config.get("Labels") or {})
                labels.update(self.req.labels)
                state.config["Labels"] = labels
            v = self.progress.vertex("exporting to image")
            config = ic.config_bytes(state)
            image_id, _ = self.engine.images.create(
                config, list(state.chain), tags=tags, parent="", lease=self.lease
            )
            v.note(f"writing image {image_id} done")
            for t in tags:
                v.note(f"naming to {t} done")
            v.done()
        finally:
            if agents is not None:
                agents.close()
            self.engine.leases.release(self.lease)
            if len(self.memo) != known:
                hashmemo.save(root, self.memo)
        for t in tags:
            self.engine.events.record("image", "tag", image_id, {"name": t})
        self.result.image_id = image_id
        self.result.tags = tags
        return self.result

    def _run_stages(self, needed: list[Stage]) -> None:
        for s in needed:
            self.done[s.index] = threading.Event()
        if len(needed) == 1:
            self._stage_thread(needed[0])
        else:
            threads = [
                threading.Thread(target=self._stage_thread, args=(s,), daemon=True) for s in needed
            ]
            for t in threads:
                t.start()
            try:
                for t in threads:
                    while t.is_alive():
                        t.join(0.2)
            except BaseException:
                self.cancelled.set()
                X.kill_running()
                self.git.cancel()
                for t in threads:
                    t.join()
                raise
        if self.errors:
            raise self.errors[0]

    def _stage_thread(self, stage: Stage) -> None:
        try:
            for dep in sorted(stage.deps):
                while not self.done[dep].wait(0.2):
                    if self.cancelled.is_set():
                        raise Cancelled()
                if dep not in self.results:
                    raise Cancelled()
            self.results[stage.index] = StageRun(self, stage).run()
        except Cancelled:
            pass
        except BaseException as exc:
            with self.lock:
                self.errors.append(exc)
            self.cancelled.set()
            if threading.current_thread() is threading.main_thread():
                raise
        finally:
            self.done[stage.index].set()

    # -------------------------------------------------------------- helpers

    def base_image(
        self, engine: Engine, name: str, inst: I.Instruction | None = None
    ) -> tuple[str, dict[str, Any]]:
        """The FROM image (or ``--from`` image): local, or pulled when the engine can
        pull. A failure names ``inst``'s place in the Dockerfile."""
        from dockyard.oci import reference as refs

        images = engine.images
        image_id = None if self.req.pull else images.try_resolve(name)
        full = name
        with contextlib.suppress(InvalidArgument):
            full = str(refs.parse_reference(name).with_default_tag())
        v = self.progress.vertex(f"[internal] load metadata for {full}")
        if image_id is None:
            distribution = getattr(engine, "distribution", None)
            if distribution is not None and hasattr(distribution, "pull"):
                try:
                    distribution.pull(name)
                except DockyardError as err:
                    v.error(str(err))
                    raise BuildFailed(
                        f"{name}: failed to resolve source metadata for {full}: {err}",
                        excerpt=self._excerpt_of(inst),
                        step=f"[internal] load metadata for {full}",
                    ) from None
                image_id = images.try_resolve(name)
            elif self.req.pull:
                image_id = images.try_resolve(name)
        if image_id is None:
            message = (
                f"{name}: failed to resolve source metadata for {full}: pull access denied,"
                " repository does not exist or may require authorization"
            )
            v.error(message)
            raise BuildFailed(
                message,
                excerpt=self._excerpt_of(inst),
                step=f"[internal] load metadata for {full}",
            )
        v.done()
        config = json.loads(images.content.read(image_id))
        return image_id, config

    def _excerpt_of(self, inst: I.Instruction | None) -> str:
        if inst is None:
            return ""
        return excerpt(
            self.req.dockerfile, self.req.dockerfile_name, inst.start_line, inst.end_line
        )

    def no_cache_for(self, stage: Stage) -> bool:
        if self.req.no_cache:
            return True
        return bool(stage.name) and stage.name in [n.lower() for n in self.req.no_cache_filter]


class StageRun:
    """One stage's instructions, in order."""

    def __init__(self, builder: Builder, stage: Stage) -> None:
        self.b = builder
        # Each stage thread has its own Engine, so its own SQLite connection: one
        # connection must not run two threads' transactions at once.
        self.own_engine = len(builder.done) > 1
        self.engine = _engine_like(builder.engine) if self.own_engine else builder.engine
        self.cache = BuildCache(self.engine.db)
        self.stage = stage
        self.progress = builder.progress
        self.args: list[tuple[str, str]] = []  # declared ARGs with their values, in order
        self.key = ""
        self.parent_missed = False
        self.no_cache = builder.no_cache_for(stage)
        self.index = 0
        self.total = 0
        self.state = ic.ImageState()
        self.shell = list(DEFAULT_SHELL)

    # -------------------------------------------------------------- names

    def _label(self, text: str, onbuild: bool = False) -> str:
        if self.total == 0:
            return text
        self.index += 1
        width = len(str(self.total))
        prefix = "[" + (f"{self.stage.display} " if self._named() else "")
        prefix += f"{self.index:>{width}}/{self.total}] "
        return prefix + ("ONBUILD " if onbuild else "") + text

    def _named(self) -> bool:
        return len(self.b.stages) > 1

    # -------------------------------------------------------------- env

    def env(self) -> dict[str, str]:
        """What expansion and RUN see: the image's Env plus the stage's ARGs (ENV wins)."""
        values = {k: v for k, v in self.args}
        values.update(self.state.env_map())
        return values

    def run_env(self) -> list[str]:
        env = self.state.env
        names = {e.partition("=")[0] for e in env}
        env += [f"{k}={v}" for k, v in dict(self.args).items() if k not in names]
        return env

    # -------------------------------------------------------------- the stage

    def claim(self, chain_id: str) -> None:
        self.engine.layers.claim(self.b.lease, chain_id)

    def run(self) -> StageResult:
        try:
            return self._run_stage()
        finally:
            if self.own_engine:
                self.engine.close()

    def _run_stage(self) -> StageResult:
        stage = self.stage
        commands = list(stage.commands)
        from_stage = None if stage.base_stage is None else self.b.stages[stage.base_stage]
        triggers: list[str] = []
        if from_stage is not None:
            base_stage = self.b.results[from_stage.index]
            self.state = base_stage.state.clone()
            self.state.config.pop("OnBuild", None)
            self.key = base_stage.key
            self.total = sum(1 for c in commands if _makes_layer(c))
        elif stage.base.lower() == "scratch":
            self.state = ic.scratch()
            self.key = base_key("", self.b.req.platform)
            self.total = sum(1 for c in commands if _makes_layer(c))
        else:
            image_id, config = self.b.base_image(self.engine, stage.base, stage.from_inst)
            chain = self.engine.images.get(image_id).chain
            for c in chain[-1:]:
                self.claim(c)
            self.state, triggers = ic.from_image(image_id, config, chain)
            self.key = base_key(image_id, self.b.req.platform)
        if "PATH" not in self.state.env_map():  # BuildKit: "make sure that PATH is always set"
            self.state.config["Env"] = [*self.state.env, f"PATH={ic.DEFAULT_PATH}"]
        trigger_insts = self._parse_triggers(triggers)
        if from_stage is None and stage.base.lower() != "scratch":
            self.total = 1 + sum(1 for c in [*trigger_insts, *commands] if _makes_layer(c))
            v = self.progress.vertex(self._label(f"FROM {_full_name(stage.base)}"))
            v.done()
        else:
            self.total += sum(1 for c in trigger_insts if _makes_layer(c))
        if self.state.config.get("Shell"):
            self.shell = list(self.state.config["Shell"])
        for inst in trigger_insts:
            self._dispatch(inst, onbuild=True)
        for inst in commands:
            if self.b.cancelled.is_set() and len(self.b.stages) > 1:
                raise Cancelled()
            self._dispatch(inst, onbuild=False)
        return StageResult(self.state, self.key)

    def _parse_triggers(self, triggers: list[str]) -> list[I.Instruction]:
        from dockyard.build.dockerfile.parser import parse

        result: list[I.Instruction] = []
        for text in triggers:
            ast = parse(text, self.b.req.dockerfile_name)
            if len(ast.ast.children) != 1:
                raise InvalidArgument("onbuild trigger should be a single expression")
            inst = I.parse_instruction(ast.ast.children[0], self.b.req.dockerfile_name)
            inst.start_line = self.stage.from_inst.start_line
            inst.end_line = self.stage.from_inst.end_line
            result.append(inst)
        return result

    # -------------------------------------------------------------- dispatch

    def _dispatch(self, raw: I.Instruction, *, onbuild: bool) -> None:
        if isinstance(raw, I.Arg):
            self._arg(raw)
            return
        ex = I.Expander(self.env(), self.b.escape)
        inst = raw.expand(ex)
        used = {k for k in ex.used if k in dict(self.args)}
        st = self.state
        if isinstance(inst, I.Env):
            parts = []
            for kv in inst.env:
                st.set_env(kv.key, kv.value)
                parts.append(f"{kv.key}={kv.value}")
            st.record("ENV " + " ".join(parts), layer=False)
        elif isinstance(inst, I.Label):
            labels = dict(st.config.get("Labels") or {})
            parts = []
            for kv in inst.labels:
                labels[kv.key] = kv.value
                parts.append(f"{kv.key}={kv.value}")
            st.config["Labels"] = labels
            st.record("LABEL " + " ".join(parts), layer=False)
        elif isinstance(inst, I.Maintainer):
            st.author = inst.maintainer
            st.record(f"MAINTAINER {inst.maintainer}", layer=False)
        elif isinstance(inst, I.Expose):
            ports = dict(st.config.get("ExposedPorts") or {})
            shown = []
            for p in inst.ports:
                for spec in _port_specs(p):
                    ports[spec] = {}
                    shown.append(spec)
            st.config["ExposedPorts"] = ports
            st.record(f"EXPOSE {ic.go_list(shown)}", layer=False)
        elif isinstance(inst, I.Volume):
            volumes = dict(st.config.get("Volumes") or {})
            for path in inst.volumes:
                if not path:
                    raise self._fail(raw, "VOLUME specified can not be an empty string")
                volumes[path] = {}
            st.config["Volumes"] = volumes
            st.record(f"VOLUME {ic.go_list(inst.volumes)}", layer=False)
        elif isinstance(inst, I.User):
            st.config["User"] = inst.user
            st.record(f"USER {inst.user}", layer=False)
        elif isinstance(inst, I.StopSignal):
            _check_signal(inst.signal, self, raw)
            st.config["StopSignal"] = inst.signal
            st.record(f"STOPSIGNAL {inst.signal}", layer=False)
        elif isinstance(inst, I.Shell):
            st.config["Shell"] = list(inst.shell)
            self.shell = list(inst.shell)
            st.record(f"SHELL {ic.go_list(inst.shell)}", layer=False)
        elif isinstance(inst, I.Onbuild):
            st.config["OnBuild"] = [*(st.config.get("OnBuild") or []), inst.expression]
        elif isinstance(inst, I.Cmd):
            args = self._with_shell(inst.cmd_line) if inst.prepend_shell else list(inst.cmd_line)
            st.config["Cmd"] = args
            st.config["ArgsEscaped"] = True
            self._cmd_set = True
            st.record(f"CMD {ic.go_quoted_list(args)}", layer=False)
        elif isinstance(inst, I.Entrypoint):
            args = self._with_shell(inst.cmd_line) if inst.prepend_shell else list(inst.cmd_line)
            st.config["Entrypoint"] = args
            if not getattr(self, "_cmd_set", False):
                st.config.pop("Cmd", None)
            st.record(f"ENTRYPOINT {ic.go_quoted_list(args)}", layer=False)
        elif isinstance(inst, I.Healthcheck):
            h = inst.health
            check: dict[str, Any] = {"Test": list(h.test)}
            for key, value in (
                ("Interval", h.interval),
                ("Timeout", h.timeout),
                ("StartPeriod", h.start_period),
                ("StartInterval", h.start_interval),
                ("Retries", h.retries),
            ):
                if value:
                    check[key] = value
            st.config["Healthcheck"] = check
            st.record(f"HEALTHCHECK {ic.healthcheck_text(check)}", layer=False)
        elif isinstance(inst, I.Workdir):
            self._workdir(raw, inst, used, onbuild)
        elif isinstance(inst, I.Run):
            self._run(raw, inst, onbuild)
        elif isinstance(inst, (I.Copy, I.Add)):
            self._copy(raw, inst, used, onbuild)
        elif isinstance(inst, I.From):
            raise self._fail(raw, "FROM in the middle of a stage")
        else:  # pragma: no cover - the parser knows no other instruction
            raise self._fail(raw, f"unknown instruction: {inst.keyword}")

    def _arg(self, inst: I.Arg) -> None:
        req = self.b.req
        parts = []
        for a in inst.args:
            value: str | None
            if a.key in req.build_args:
                value = req.build_args[a.key]
            elif a.value is not None:
                value = I.Expander(self.env(), self.b.escape).word(a.value)
            elif a.key in self.b.meta:
                value = self.b.meta[a.key]
            else:
                value = None
            self.b.used_args.add(a.key)
            self.args = [(k, v) for k, v in self.args if k != a.key]
            self.args.append((a.key, value if value is not None else ""))
            parts.append(a.key if value is None else f"{a.key}={value}")
        self.state.record("ARG " + " ".join(parts), layer=False)

    def _with_shell(self, args: list[str]) -> list[str]:
        return [*self.shell, *args]

    def _fail(self, inst: I.Instruction, message: str) -> BuildFailed:
        return BuildFailed(message, excerpt=self._excerpt(inst), step=inst.original)

    def _excerpt(self, inst: I.Instruction) -> str:
        req = self.b.req
        return excerpt(req.dockerfile, req.dockerfile_name, inst.start_line, inst.end_line)

    # -------------------------------------------------------------- layer steps

    def _step(
        self,
        raw: I.Instruction,
        label: str,
        inputs: StepInputs,
        created_by: str,
        execute: Callable[[X.StepWork, Vertex], None],
        *,
        buildkit_suffix: bool,
        link: bool = False,
        more_files: Callable[[], dict[str, str]] | None = None,
    ) -> None:
        """A step that makes a layer: through the cache, or executed.

        ``more_files``: the rest of ``inputs.files`` when it is not in the key (the
        copied files one by one, whose digest is ``inputs.content``), computed only
        for a miss, which stores them and says which of them changed.

        ``link`` (``COPY --link``): the step runs on an empty root, its cache key
        leaves out the parent, and its layer is applied on whatever the parent is,
        so a changed parent reuses the step's result (BuildKit's semantics).
        """
        b = self.b
        # the parent's layer is part of the key: a rebuilt parent (--no-cache) gets
        # its own children, so a hit always continues the same chain of layers
        state_key = step_key(f"{self.key}@{self.state.top or ''}", inputs)
        parent_key = LINK_PARENT if link else self.key
        key = step_key(LINK_PARENT, inputs) if link else state_key
        v = self.progress.vertex(label)
        record = None if self.no_cache else self.cache.lookup(key)
        if record is not None:
            chain_id, diff_id = record.chain_id, record.diff_id
            try:
                if link:
                    chain_id = self._link(record.chain_id).chain_id
                else:
                    self.claim(chain_id)
            except DockyardError as err:
                v.error(str(err))
                raise BuildFailed(str(err), excerpt=self._excerpt(raw), step=label) from None
            v.cached()
            with b.lock:
                b.result.cached_steps += 1
            self.state.add_layer(chain_id, diff_id)
            self.state.record(
                created_by, layer=True, created=record.created, buildkit=buildkit_suffix
            )
            self.key = state_key
            return
        if more_files is not None:
            inputs.files.update(more_files())
        if self.no_cache:
            reason = "--no-cache" if b.req.no_cache else "--no-cache-filter"
        else:
            reason = self.cache.explain_miss(
                parent_key, inputs, parent_missed=self.parent_missed and not link
            )
        v.miss(reason)
        with b.lock:
            b.result.miss_reasons.append((label, reason))
            b.result.executed_steps += 1
        try:
            with X.StepWork(self.engine, b.lease, None if link else self.state.top) as work:
                execute(work, v)
                layer = work.commit()
            stored = layer
            if link:
                layer = self._link(layer.chain_id)
        except X.RunFailed as err:
            v.error(str(err))
            logs = [f"{line}" for line in v.logs[-10:]]
            raise BuildFailed(str(err), excerpt=self._excerpt(raw), step=label, logs=logs) from None
        except DockyardError as err:
            v.error(str(err))
            if isinstance(err, BuildFailed):
                raise
            raise BuildFailed(str(err), excerpt=self._excerpt(raw), step=label) from None
        except BaseException:
            v.error("cancelled")
            raise
        created = rfc3339_nano(time.time())
        self.cache.store(
            key, parent_key, inputs, step=label, chain_id=stored.chain_id,
            diff_id=stored.diff_id, created=created,
        )  # fmt: skip
        v.done()
        self.state.add_layer(layer.chain_id, layer.diff_id)
        self.state.record(created_by, layer=True, created=created, buildkit=buildkit_suffix)
        self.key = state_key
        self.parent_missed = True

    def _link(self, standalone: str) -> Layer:
        """A ``--link`` layer (made on nothing) applied on the stage's top layer."""
        layer = self.engine.layers.claim(self.b.lease, standalone)
        if layer is None:
            raise InvalidArgument(f"cached layer {standalone} was removed")
        top = self.state.top
        if top is None:
            return layer
        return self.engine.layers.unpack(
            self.b.lease, layer.blob_digest, layer.media_type, top, layer.diff_id
        )

    def _context_extra(self) -> str:
        c = self.state.config
        return json.dumps(
            {"env": self.state.env, "user": c.get("User") or "", "wd": c.get("WorkingDir") or ""},
            sort_keys=True,
        )

    # -------------------------------------------------------------- WORKDIR

    def _workdir(self, raw: I.Instruction, inst: I.Workdir, used: set[str], onbuild: bool) -> None:
        current = self.state.config.get("WorkingDir") or "/"
        wd = posixpath.normpath(posixpath.join(current, inst.path)) if inst.path else current
        if not wd.startswith("/"):
            wd = "/" + wd
        self.state.config["WorkingDir"] = wd
        if wd == "/":
            self.state.record(f"WORKDIR {wd}", layer=False)
            return
        user = self.state.config.get("User") or ""
        inputs = StepInputs(
            instruction=f"WORKDIR {wd}",
            args={k: v for k, v in self.args if k in used},
            extra=json.dumps({"user": user}),
        )
        label = self._label(_display(raw, self.env()), onbuild)

        def execute(work: X.StepWork, v: Vertex) -> None:
            uid, gid = X.user_ids(work.rootfs, user) if user else (0, 0)
            X.make_dir(work, wd, uid, gid)

        self._step(raw, label, inputs, f"WORKDIR {wd}", execute, buildkit_suffix=False)

    # -------------------------------------------------------------- RUN

    def _run(self, raw: I.Instruction, inst: I.Run, onbuild: bool) -> None:
        args = list(inst.cmd_line)
        script: tuple[str, str] | None = None  # (name, text) of a heredoc run as a file
        files: dict[str, str] = {}
        if inst.files and len(args) == 1 and inst.prepend_shell:
            from dockyard.build.dockerfile.parser import chomp_heredoc_content, must_parse_heredoc

            if must_parse_heredoc(args[0]) is not None:  # just one here-document: run it
                data = inst.files[0].data
                data = chomp_heredoc_content(data) if inst.files[0].chomp else data
                if data.startswith("#!"):
                    script = (inst.files[0].name, data)
                    args = [f"/dev/pipes/{inst.files[0].name}"]
                    files["<<" + inst.files[0].name] = hashlib.sha256(data.encode()).hexdigest()
                else:
                    args = [data]
            else:  # a command with here-documents: the shell reads them
                text = args[0]
                for f in inst.files:
                    text += "\n" + f.data + f.name
                args = [text]
        argv = self._with_shell(args) if inst.prepend_shell else args
        created_by = "RUN " + ic.run_created_by(argv, self.args)
        mounts_desc = [
            {k: v for k, v in m.__dict__.items() if v not in (None, "", False, 0)}
            for m in inst.mounts
        ]
        network = inst.network or "default"
        if network == "default" and self.b.req.network not in ("", "default"):
            network = self.b.req.network
        extra: dict[str, Any] = {"ctx": self._context_extra(), "mounts": mounts_desc}
        # BuildKit's proxy args: given with --build-arg, RUN sees them (both spellings)
        # without an ARG, and neither the history nor the cache key does
        declared = {k for k, _ in self.args}
        proxies: dict[str, str] = {}
        for name, value in self.b.req.build_args.items():
            if name.lower() in PROXY_ARGS and name not in declared:
                proxies.setdefault(name.upper(), value)
                proxies.setdefault(name.lower(), value)
        for m in inst.mounts:
            if m.type == "cache" and m.from_:
                extra.setdefault("from", []).append(self._source_key(raw, m.from_))
            if m.type == "bind":
                if m.from_:
                    src_key = self._source_key(raw, m.from_)
                    extra.setdefault("from", []).append(src_key)
                else:
                    rels = self._context_sources(raw, [m.source or "."])
                    root = self._context_root(raw)
                    for path, digest in X.file_digests(
                        root, rels, self.b.req.matcher, self.b.memo
                    ).items():
                        files[f"{m.target}:{path}"] = digest
        inputs = StepInputs(
            instruction="RUN "
            + " ".join(argv)
            + (f" --network={network}" if network != "default" else ""),
            args=dict(self.args),
            files=files,
            extra=json.dumps(extra, sort_keys=True, default=str),
        )
        label = self._label(_display(raw, self.env()), onbuild)
        state = self.state

        def execute(work: X.StepWork, v: Vertex) -> None:
            with contextlib.ExitStack() as stack:
                mounts, env_extra = self._run_mounts(raw, inst, argv, stack)
                if script is not None:  # a heredoc with #!: BuildKit runs it as a file
                    path = os.path.join(work.dir, "pipes", script[0])
                    os.makedirs(os.path.dirname(path), exist_ok=True)
                    with open(path, "w") as f:
                        f.write(script[1])
                    os.chmod(path, 0o755)
                    mounts.append(X.RunMount(f"/dev/pipes/{script[0]}", path, readonly=True))
                env = self.run_env() + env_extra
                names = {e.partition("=")[0] for e in env}
                env += [f"{k}={v}" for k, v in proxies.items() if k not in names]
                spec = X.RunSpec(
                    argv=argv,
                    env=env,
                    user=state.config.get("User") or "",
                    workdir=state.config.get("WorkingDir") or "/",
                    network=network,
                    mounts=mounts,
                    extra_hosts=self.b.req.extra_hosts,
                    shm_size=self.b.req.shm_size,
                    ulimits=self.b.req.ulimits,
                )
                X.run_process(self.engine, work, spec, v.log)

        self._step(raw, label, inputs, created_by, execute, buildkit_suffix=True)

    def _run_mounts(
        self, raw: I.Instruction, inst: I.Run, argv: list[str], stack: contextlib.ExitStack
    ) -> tuple[list[X.RunMount], list[str]]:
        mounts: list[X.RunMount] = []
        env: list[str] = []
        ssh_count = 0
        wd = self.state.config.get("WorkingDir") or "/"
        for m in inst.mounts:
            target = posixpath.normpath(posixpath.join(wd, m.target)) if m.target else ""
            if m.type == "cache":
                host = stack.enter_context(self._cache_mount(raw, m, target, argv, stack))
                mounts.append(X.RunMount(target, host, "bind", readonly=False))
            elif m.type == "tmpfs":
                mounts.append(X.RunMount(target, "", "tmpfs"))
            elif m.type == "bind":
                from dockyard.build.context import resolve_in_root

                if m.from_:
                    root = stack.enter_context(self._source_view(raw, m.from_))
                    rel = self._view_sources(raw, root, [m.source or "."])[0]
                else:
                    root = self._context_root(raw)
                    rel = self._context_sources(raw, [m.source or "."])[0]
                host = resolve_in_root(root, rel)
                if not m.readonly:  # writes go to a copy that is thrown away, as in BuildKit
                    scratch = stack.enter_context(_scratch_dir(self.engine))
                    copy = os.path.join(scratch, "src")
                    if os.path.isdir(host):
                        shutil.copytree(host, copy, symlinks=True)
                    else:
                        shutil.copy2(host, copy)
                    host = copy
                mounts.append(X.RunMount(target, host, "bind", readonly=m.readonly))
            elif m.type == "secret":
                secret_id = m.cache_id or posixpath.basename(m.target or "")
                path = self.b.req.secrets.get(secret_id)
                if path is None:
                    if m.required:
                        raise self._fail(raw, f"secret {secret_id}: not found")
                    continue
                with open(path, "rb") as f:
                    value = f.read()
                if m.env:
                    env.append(f"{m.env}={value.decode('utf-8', 'surrogateescape')}")
                    if not m.target:
                        continue
                # a copy of its own with the mount's owner and mode (BuildKit: 0:0, 0400)
                scratch = stack.enter_context(_scratch_dir(self.engine))
                copy = os.path.join(scratch, "secret")
                fd = os.open(copy, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                with os.fdopen(fd, "wb") as f:
                    f.write(value)
                os.chown(copy, m.uid or 0, m.gid or 0)
                os.chmod(copy, m.mode if m.mode is not None else 0o400)
                dest = target or f"/run/secrets/{secret_id}"
                mounts.append(X.RunMount(dest, copy, "bind", readonly=True))
            elif m.type == "ssh":
                from dockyard.build import sshagent

                ssh_id = m.cache_id or "default"
                sock = self.b.ssh_sockets.get(ssh_id)
                if sock is None:
                    if m.required:
                        raise self._fail(
                            raw, f"no SSH key {json.dumps(ssh_id)} forwarded from the client"
                        )
                    continue
                dest = target or f"/run/buildkit/ssh_agent.{ssh_count}"
                scratch = stack.enter_context(_scratch_dir(self.engine))
                os.chmod(scratch, 0o711)  # the step's user reaches the socket by its mode
                relay = stack.enter_context(
                    sshagent.forwarded(
                        sock,
                        scratch,
                        m.uid or 0,
                        m.gid or 0,
                        m.mode if m.mode is not None else 0o600,
                    )
                )
                mounts.append(X.RunMount(dest, relay, "bind", readonly=False))
                if ssh_count == 0:  # BuildKit: SSH_AUTH_SOCK names the first one
                    env.append(f"SSH_AUTH_SOCK={dest}")
                ssh_count += 1
        return mounts, env

    @contextlib.contextmanager
    def _cache_mount(
        self,
        raw: I.Instruction,
        m: I.Mount,
        target: str,
        argv: list[str],
        stack: contextlib.ExitStack,
    ) -> Iterator[str]:
        """A ``RUN --mount=type=cache`` directory, locked for the step as ``sharing``
        says: ``shared`` (the default) lets concurrent steps use it together,
        ``locked`` makes them wait for each other, ``private`` gives a step that
        finds it in use a directory of its own. A new one starts with the files of
        ``from`` (``source`` in it), else empty."""
        import fcntl

        cache_id = m.cache_id or target
        digest = hashlib.sha256(cache_id.encode()).hexdigest()[:32]
        base = os.path.join(self.engine.options.root, "build-cache-mounts")
        os.makedirs(base, mode=0o700, exist_ok=True)
        sharing = m.cache_sharing or "shared"
        instance = 0
        while True:
            name = digest if instance == 0 else f"{digest}-{instance}"
            host = os.path.join(base, name)
            lock = open(host + ".lock", "a+")  # noqa: SIM115 - held for the step
            try:
                if sharing == "private":
                    try:
                        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    except BlockingIOError:
                        lock.close()
                        instance += 1
                        continue
                else:
                    fcntl.flock(lock, fcntl.LOCK_EX if sharing == "locked" else fcntl.LOCK_SH)
            except BaseException:
                lock.close()
                raise
            break
        try:
            if not os.path.isdir(host):
                fresh = host + ".new"
                shutil.rmtree(fresh, ignore_errors=True)
                os.makedirs(fresh)
                if m.from_:
                    from dockyard.build.context import resolve_in_root

                    root = stack.enter_context(self._source_view(raw, m.from_))
                    rel = self._view_sources(raw, root, [m.source or "."])[0]
                    shutil.copytree(
                        resolve_in_root(root, rel), fresh, symlinks=True, dirs_exist_ok=True
                    )
                os.chmod(fresh, m.mode if m.mode is not None else 0o755)
                os.chown(fresh, m.uid or 0, m.gid or 0)
                os.rename(fresh, host)
            description = f"cached mount {target} from exec {' '.join(argv)}"
            if m.cache_id:
                description += f" with id {json.dumps(m.cache_id)}"
            with open(host + ".desc", "w") as f:
                f.write(description + "\n")
            os.utime(host)  # last used
            yield host
        finally:
            lock.close()

    # -------------------------------------------------------------- COPY / ADD

    def _context_root(self, raw: I.Instruction) -> str:
        root = self.b.req.context_dir
        if root is None:
            raise self._fail(raw, "this build has no context to copy from")
        return root

    def _context_sources(
        self, raw: I.Instruction, sources: list[str], double_star: bool = False
    ) -> list[str]:
        from dockyard.build.context import OutsideContext, SourceNotFound, resolve_sources

        root = self._context_root(raw)
        try:
            return resolve_sources(root, sources, self.b.req.matcher or (), double_star=double_star)
        except (SourceNotFound, OutsideContext) as err:
            raise self._fail(raw, str(err)) from None

    def _view_sources(
        self, raw: I.Instruction, root: str, sources: list[str], double_star: bool = False
    ) -> list[str]:
        from dockyard.build.context import SourceNotFound, resolve_sources

        try:
            return resolve_sources(root, sources, (), strict_outside=False, double_star=double_star)
        except SourceNotFound as err:
            raise self._fail(raw, str(err)) from None

    def _source_key(self, raw: I.Instruction, name: str) -> str:
        src = find_stage(self.b.stages, name, self.stage.index)
        if src is not None:
            return self.b.results[src.index].key
        image_id, _ = self.b.base_image(self.engine, name, raw)
        return image_id

    @contextlib.contextmanager
    def _source_view(self, raw: I.Instruction, name: str) -> Any:
        """A read-only mount of a stage's or image's files."""
        src = find_stage(self.b.stages, name, self.stage.index)
        if src is not None:
            top = self.b.results[src.index].state.top
        else:
            image_id, _ = self.b.base_image(self.engine, name, raw)
            chain = self.engine.images.get(image_id).chain
            top = chain[-1] if chain else None
        base = X.temp_dir(self.engine, "view-")
        target = os.path.join(base, "root")
        os.mkdir(target)
        try:
            if top is None:  # a stage or image without layers: nothing to copy
                yield target
                return
            self.claim(top)
            key = f"build-view-{os.urandom(8).hex()}"
            snaps = self.engine.snapshots
            self.engine.leases.add(self.b.lease, "snapshot", key)
            snaps.view(key, top)
            try:
                snaps.mount(key, target)
                try:
                    yield target
                finally:
                    snaps.unmount(target)
            finally:
                snaps.remove(key)
        finally:
            shutil.rmtree(base, ignore_errors=True)

    def _copy(
        self, raw: I.Instruction, inst: I.Copy | I.Add, used: set[str], onbuild: bool
    ) -> None:
        is_add = isinstance(inst, I.Add)
        keyword = "ADD" if is_add else "COPY"
        created_by = keyword
        if isinstance(inst, I.Copy) and inst.parents:
            created_by += " --parents"
        if inst.chown:
            created_by += f" --chown={inst.chown}"
        if inst.chmod:
            created_by += f" --chmod={inst.chmod}"
        for s in inst.sources:
            created_by += " " + s
        for c in inst.source_contents:
            created_by += " <<" + c.path
        created_by += " " + inst.dest
        wd = self.state.config.get("WorkingDir") or "/"
        dest = posixpath.join(wd, inst.dest)
        parents = isinstance(inst, I.Copy) and inst.parents
        dest_is_dir = (
            inst.dest.endswith("/") or len(inst.sources) + len(inst.source_contents) > 1 or parents
        )
        if dest_is_dir and not dest.endswith("/"):
            dest += "/"
        chmod = None
        if inst.chmod:
            try:
                chmod = int(inst.chmod, 8)
            except ValueError:
                raise self._fail(raw, f"invalid chmod parameter: {inst.chmod}") from None
        checksum = inst.checksum if isinstance(inst, I.Add) else ""
        if checksum:
            self._check_checksum_sources(raw, inst.sources)
        from_name = inst.from_ if isinstance(inst, I.Copy) else ""
        gits = self._git_sources(raw, inst) if not from_name else {}
        urls = [
            s
            for s in inst.sources
            if is_add and s not in gits and s.startswith(("http://", "https://"))
        ]
        local = [s for s in inst.sources if s not in urls and s not in gits]
        keep_git_dir = isinstance(inst, I.Add) and bool(inst.keep_git_dir)
        extra: dict[str, Any] = {"user": inst.chown, "wd": wd}
        if gits and keep_git_dir:
            extra["keep_git_dir"] = True
        files: dict[str, str] = {}
        local_files: Callable[[], dict[str, str]] | None = None
        downloads: dict[str, str] = {}
        # downloads, here-documents and git checkouts need a directory; plain copies not
        needs_tmp = bool(urls or gits or inst.source_contents)
        tmp = X.temp_dir(self.engine, "copy-") if needs_tmp else ""
        try:
            content = ""
            if from_name:
                extra["from"] = self._source_key(raw, from_name)
            elif local:
                from dockyard.build.context import checksum_paths

                root = self._context_root(raw)
                rels = self._context_sources(raw, local, double_star=parents)
                matcher = self.b.req.matcher

                def local_files() -> dict[str, str]:
                    # per file, for saying which one changed: needed only on a miss
                    return X.file_digests(root, rels, matcher, self.b.memo)

                content = checksum_paths(
                    root,
                    local,
                    matcher or (),
                    copy_excludes=inst.excludes,
                    cache=self.b.memo,
                    double_star=parents,
                )
            for url in urls:
                if checksum:  # the key is the pinned digest: downloaded only on a miss
                    files[url] = self._http_checksum(raw, checksum)
                else:
                    downloads[url] = self._download(raw, url, tmp, "")
                    files[url] = "sha256:" + _file_digest(downloads[url])
            for src, git in gits.items():
                files[src] = "git:" + git.commit
            for c in inst.source_contents:
                path = os.path.join(tmp, "heredoc", c.path.lstrip("/"))
                os.makedirs(os.path.dirname(path), exist_ok=True)
                with open(path, "w") as f:
                    f.write(c.data)
                files["<<" + c.path] = hashlib.sha256(c.data.encode()).hexdigest()
            if content:
                others = {
                    k: v
                    for k, v in files.items()
                    if k in gits or k.startswith(("http://", "https://", "<<"))
                }
                content += json.dumps(others, sort_keys=True) if others else ""
            inputs = StepInputs(
                instruction=created_by,
                args={k: v for k, v in self.args if k in used},
                files=files,
                extra=json.dumps(extra, sort_keys=True),
                content=content,
            )
            label = self._label(_display(raw, self.env()), onbuild)

            def execute(work: X.StepWork, v: Vertex) -> None:
                uid = gid = 0
                if inst.chown:
                    uid, gid = X.user_ids(work.rootfs, inst.chown)
                with contextlib.ExitStack() as stack:
                    sources: list[X.Source] = []
                    matcher = None
                    if from_name:
                        root = stack.enter_context(self._source_view(raw, from_name))
                        sources = self._sources(raw, root, local, parents, view=True)
                    elif local:
                        root = self._context_root(raw)
                        sources = self._sources(raw, root, local, parents, view=False)
                        matcher = self.b.req.matcher
                    for n, (src, git) in enumerate(gits.items()):
                        v.log(f"fetching {src} at {git.commit}\n".encode())
                        path = self._git_checkout(raw, git, tmp, n, keep_git_dir)
                        sources.append(
                            X.Source(os.path.dirname(path), os.path.basename(path), context=False)
                        )
                    for url in urls:
                        if url not in downloads:
                            downloads[url] = self._download(raw, url, tmp, files[url])
                    for path in downloads.values():
                        os.chmod(path, 0o600)
                        sources.append(X.Source(os.path.dirname(path), os.path.basename(path)))
                    for c in inst.source_contents:
                        sources.append(X.Source(os.path.join(tmp, "heredoc"), c.path.lstrip("/")))
                    X.copy_into(
                        work,
                        X.CopySpec(
                            sources=sources,
                            dest=dest,
                            dest_is_dir=dest_is_dir,
                            uid=uid,
                            gid=gid,
                            chmod=chmod,
                            matcher=matcher,
                            excludes=_excludes(inst.excludes),
                            unpack=is_add and (getattr(inst, "unpack", None) is not False),
                        ),
                    )

            # --chown by name reads the parent's /etc/passwd: such a copy stays linked
            link = inst.link and (not inst.chown or _numeric_owner(inst.chown))
            self._step(
                raw,
                label,
                inputs,
                created_by,
                execute,
                buildkit_suffix=True,
                link=link,
                more_files=local_files,
            )
        finally:
            if tmp:
                shutil.rmtree(tmp, ignore_errors=True)

    def _git_sources(self, raw: I.Instruction, inst: I.Copy | I.Add) -> dict[str, _GitSource]:
        """ADD's git sources, each with the commit its ref names now (which must
        match ``--checksum``) and, over ssh, the server's host keys as scanned now.
        COPY refuses them, as BuildKit does."""
        from dockyard.build import gitsource

        out: dict[str, _GitSource] = {}
        for src in inst.sources:
            ref = gitsource.parse_git_ref(src)
            if ref is None:
                continue
            if not isinstance(inst, I.Add):
                raise self._fail(raw, "source can't be a git ref for COPY")
            try:
                gitsource.check_checksum(inst.checksum)
            except gitsource.GitError as err:
                raise self._fail(raw, str(err)) from None
            known_hosts = ""
            if ref.uses_ssh:
                # BuildKit's git source always mounts the "default" agent over ssh
                if "default" not in self.b.ssh_paths:
                    raise self._fail(raw, 'no SSH key "default" forwarded from the client')
                known_hosts = gitsource.scan_host_keys(ref)
            with _scratch_dir(self.engine) as home:
                try:
                    env = self._git_env(ref, home, known_hosts)
                    commit, name = gitsource.resolve_commit(ref, env, inst.checksum, self.b.git)
                except gitsource.GitError as err:
                    raise self._fail(raw, str(err)) from None
            out[src] = _GitSource(ref, commit, name, known_hosts)
        return out

    def _git_env(self, ref: Any, home: str, known_hosts: str) -> dict[str, str]:
        from dockyard.build import gitsource

        sock = self.b.ssh_paths.get("default", "") if ref.uses_ssh else ""
        hosts_file = ""
        if known_hosts:
            hosts_file = os.path.join(home, "known_hosts")
            with open(hosts_file, "w") as f:
                f.write(known_hosts)
        return gitsource.git_env(home, sock, hosts_file)

    def _git_checkout(
        self, raw: I.Instruction, git: _GitSource, tmp: str, n: int, keep: bool
    ) -> str:
        from dockyard.build import gitsource

        where = os.path.join(tmp, f"git-{n}")
        home = os.path.join(where, "home")
        os.makedirs(home)
        try:
            env = self._git_env(git.ref, home, git.known_hosts)
            return gitsource.fetch(
                git.ref, git.commit, git.name, where, env, keep_git_dir=keep, runner=self.b.git
            )
        except gitsource.GitError as err:
            raise self._fail(raw, str(err)) from None

    def _sources(
        self, raw: I.Instruction, root: str, patterns: list[str], parents: bool, *, view: bool
    ) -> list[X.Source]:
        """COPY's sources in ``root``; with ``--parents`` each keeps its path (below
        a ``/./`` pivot when the pattern has one) under the destination."""
        if not parents:
            rels = (
                self._view_sources(raw, root, patterns)
                if view
                else self._context_sources(raw, patterns)
            )
            return [X.Source(root, r) for r in rels]
        out: list[X.Source] = []
        seen: set[str] = set()
        for pattern in patterns:
            rels = (
                self._view_sources(raw, root, [pattern], double_star=True)
                if view
                else self._context_sources(raw, [pattern], double_star=True)
            )
            pivot = _parents_pivot(pattern)
            for rel in rels:
                if rel in seen or any(rel.startswith(p + "/") for p in seen if p):
                    continue  # already copied with a directory above it
                seen.add(rel)
                target = rel
                if pivot and (rel == pivot or rel.startswith(pivot + "/")):
                    target = rel[len(pivot) :].lstrip("/")
                out.append(X.Source(root, rel, target))
        return out

    def _download(self, raw: I.Instruction, url: str, tmp: str, checksum: str) -> str:
        import httpx

        where = os.path.join(tmp, "dl-" + hashlib.sha256(url.encode()).hexdigest()[:16])
        os.makedirs(where)
        name = posixpath.basename(url.split("?")[0].split("#")[0].rstrip("/")) or "index.html"
        path = os.path.join(where, name)
        h = hashlib.sha256()
        try:
            with httpx.stream("GET", url, follow_redirects=True, timeout=60) as resp:
                if resp.status_code >= 400:
                    raise self._fail(
                        raw, f"failed to load cache key: invalid response status {resp.status_code}"
                    )
                with open(path, "wb") as f:
                    for chunk in resp.iter_bytes():
                        f.write(chunk)
                        h.update(chunk)
        except httpx.HTTPError as err:
            raise self._fail(raw, f"failed to load cache key: {err}") from None
        if checksum and f"sha256:{h.hexdigest()}" != checksum:
            # BuildKit hashes with sha256 only: another algorithm never matches
            raise self._fail(
                raw, f"digest mismatch for {url}: sha256:{h.hexdigest()} (expected: {checksum})"
            )
        return path

    def _check_checksum_sources(self, raw: I.Instruction, sources: list[str]) -> None:
        """``ADD --checksum`` takes one source, an http(s) URL or a git reference."""
        from dockyard.build import gitsource

        if len(sources) != 1:
            raise self._fail(raw, "checksum can't be specified for multiple sources")
        src = sources[0]
        if gitsource.parse_git_ref(src) is None and not src.startswith(("http://", "https://")):
            raise self._fail(raw, "checksum requires HTTP(S) or Git sources")

    def _http_checksum(self, raw: I.Instruction, checksum: str) -> str:
        """An http source's ``--checksum``: a digest as go-digest parses it."""
        from dockyard.oci.digest import parse_digest

        try:
            return str(parse_digest(checksum))
        except InvalidArgument as err:
            raise self._fail(raw, str(err)) from None


def _numeric_owner(chown: str) -> bool:
    user, _, group = chown.partition(":")
    return user.isdigit() and (not group or group.isdigit())


def _parents_pivot(pattern: str) -> str:
    """The part of a ``COPY --parents`` source before its ``/./`` (rsync's
    ``--relative`` pivot), as a context-relative path; "" when it has none."""
    text = pattern
    while text.startswith(("./", "/")):
        text = text[2:] if text.startswith("./") else text[1:]
    index = text.find("/./")
    if index < 0:
        return ""
    return posixpath.normpath(text[:index]).lstrip("/").removeprefix(".")


def excerpt(text: str, name: str, start: int, end: int) -> str:
    """The Dockerfile lines around an error, marked as BuildKit shows them."""
    lines = text.splitlines()
    end = max(start, end)
    if start <= 0 or start > len(lines):
        return ""
    first = max(1, start - 4)
    last = min(len(lines), end + 4)
    out = [f"{name}:{start}" + (f"-{end}" if end != start else ""), "-" * 20]
    for n in range(first, last + 1):
        mark = ">>>" if start <= n <= end else "   "
        out.append(f" {n:>3} | {mark} {lines[n - 1]}")
    out.append("-" * 20)
    return "\n".join(out)


@dataclass(frozen=True)
class _GitSource:
    """An ADD git source as resolved when the step's cache key is made."""

    ref: Any  # gitsource.GitRef
    commit: str  # what the ref names now
    name: str  # the remote's full name for the ref ("" for a commit id)
    known_hosts: str  # the ssh server's keys as scanned ("" when not ssh or not scanned)


@contextlib.contextmanager
def _scratch_dir(engine: Engine) -> Iterator[str]:
    path = X.temp_dir(engine, "scratch-")
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def _excludes(patterns: list[str]) -> Matcher | None:
    from dockyard.build.dockerignore import Matcher

    return Matcher(patterns) if patterns else None


def _engine_like(engine: Engine) -> Engine:
    from dockyard.engine import Engine

    return Engine(engine.options)


def _file_digest(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def _makes_layer(inst: I.Instruction) -> bool:
    return isinstance(inst, (I.Run, I.Copy, I.Add, I.Workdir))


def _display(raw: I.Instruction, env: dict[str, str]) -> str:
    """The progress name: the instruction as written, variables expanded, keyword upper."""
    from dockyard.build.dockerfile.shell_lex import Lex

    text = raw.original
    with contextlib.suppress(DockyardError):  # BuildKit keeps quotes and escapes here
        text = Lex(raw_quotes=True, raw_escapes=True).process_word(text, env)
    head, sep, rest = text.partition(" ")
    return head.upper() + sep + rest


def _full_name(name: str) -> str:
    from dockyard.oci import reference as refs

    try:
        return str(refs.parse_reference(name).with_default_tag())
    except InvalidArgument:
        return name


def _port_specs(port: str) -> list[str]:
    """``nat.ParsePortSpecs`` reduced to what EXPOSE takes: port[-range][/proto]."""
    number, _, proto = port.partition("/")
    proto = (proto or "tcp").lower()
    if ":" in number:
        number = number.rsplit(":", 1)[1]
    start, _, end = number.partition("-")
    try:
        first = int(start)
        last = int(end) if end else first
    except ValueError:
        raise InvalidArgument(f"invalid containerPort: {number}") from None
    return [f"{p}/{proto}" for p in range(first, last + 1)]


def _check_signal(name: str, run: StageRun, raw: I.Instruction) -> None:
    import signal as signals

    if name.isdigit():
        return
    wanted = name.upper()
    wanted = wanted if wanted.startswith("SIG") else "SIG" + wanted
    if not hasattr(signals, wanted) and not wanted.startswith("SIGRTM"):
        raise run._fail(raw, f"Invalid signal: {name}")


__all__ = ["BuildFailed", "BuildRequest", "BuildResult", "Builder", "plan_build"]
