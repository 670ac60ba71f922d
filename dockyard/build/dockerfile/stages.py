"""A parsed Dockerfile split into stages, and the stages a build needs.

:func:`parse_dockerfile` gives a :class:`Dockerfile`: the ARGs before the first
FROM (``global_args``), the :class:`Stage` list (name, index, FROM, commands),
the parser directives. :meth:`Dockerfile.plan` resolves, for a set of build args,
a platform and a ``--target``: the global ARG values, each stage's expanded base
(another stage or an image), the stages it depends on (``FROM <stage>``,
``COPY --from``, ``RUN --mount=from=``), the ones the target needs in
dependency order, and ``levels`` — groups of stages whose dependencies are all
in earlier groups, so each group can build in parallel.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from dockyard.build.dockerfile.errors import DockerfileParseError, with_suggestion
from dockyard.build.dockerfile.instructions import (
    Arg,
    Copy,
    From,
    Instruction,
    Run,
    parse_instruction,
)
from dockyard.build.dockerfile.parser import Node, Warning, parse
from dockyard.build.dockerfile.shell_lex import ExpansionError, Lex
from dockyard.errors import InvalidArgument, NotFound
from dockyard.oci.platform import Platform, format_platform, host_platform

SCRATCH = "scratch"

# ARGs usable without being declared; their values stay out of the image history
# unless the Dockerfile declares them (Docker's "predefined ARGs").
PROXY_ARGS = (
    "HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "FTP_PROXY",
    "ftp_proxy", "NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy",
)  # fmt: skip

# Set automatically in the global scope; a stage sees them after ``ARG NAME``.
PLATFORM_ARGS = (
    "BUILDPLATFORM", "BUILDOS", "BUILDOSVERSION", "BUILDARCH", "BUILDVARIANT",
    "TARGETPLATFORM", "TARGETOS", "TARGETOSVERSION", "TARGETARCH", "TARGETVARIANT",
    "TARGETSTAGE",
)  # fmt: skip

# Build arguments BuildKit itself reads (not warned about when unused).
BUILDKIT_ARGS = (
    "BUILDKIT_CACHE_MOUNT_NS", "BUILDKIT_CONTEXT_KEEP_GIT_DIR", "BUILDKIT_INLINE_CACHE",
    "BUILDKIT_MULTI_PLATFORM", "BUILDKIT_SANDBOX_HOSTNAME", "BUILDKIT_SBOM_SCAN_CONTEXT",
    "BUILDKIT_SBOM_SCAN_STAGE", "BUILDKIT_SYNTAX", "SOURCE_DATE_EPOCH",
)  # fmt: skip


@dataclass
class Stage:
    index: int
    name: str  # lowercased ``AS`` name, "" when unnamed
    from_: From
    commands: list[Instruction] = field(default_factory=list)

    @property
    def display_name(self) -> str:
        """How BuildKit names the stage in progress output: its name or ``stage-N``."""
        return self.name or f"stage-{self.index}"

    @property
    def base_name(self) -> str:
        return self.from_.base_name

    @property
    def platform(self) -> str:
        return self.from_.platform


@dataclass
class ResolvedStage:
    stage: Stage
    base: str  # the expanded FROM image (or the name of a stage)
    base_stage: int | None  # index of the stage it builds on, if any
    platform: Platform | None  # the expanded --platform, if given
    deps: dict[int, Instruction]  # stage index -> first instruction that needs it
    images: list[str]  # images used by COPY --from / RUN --mount from= (not stages)


@dataclass
class BuildPlan:
    meta_args: dict[str, str]  # the global scope: platform ARGs + global ARG values
    stages: list[ResolvedStage]
    target: int
    needed: list[int]  # stage indices the target needs, dependencies first
    levels: list[list[int]]  # ``needed`` grouped: each group depends only on earlier ones


@dataclass
class Dockerfile:
    stages: list[Stage]
    global_args: list[Arg]
    directives: dict[str, str]
    escape_token: str
    warnings: list[Warning]
    ast: Node
    filename: str = "Dockerfile"

    def stage_by_name(self, name: str) -> Stage | None:
        """The stage a name refers to (case-insensitive; the last of duplicates)."""
        found = None
        for st in self.stages:
            if st.name and st.name == name.lower():
                found = st
        return found

    def stage_names(self) -> list[str]:
        return [st.name for st in self.stages if st.name]

    def meta_args(
        self,
        build_args: Mapping[str, str] | None = None,
        *,
        target_platform: Platform | None = None,
        build_platform: Platform | None = None,
        target: str = "",
    ) -> dict[str, str]:
        """The global scope FROM lines are expanded with (BuildKit's ``buildMetaArgs``)."""
        build_args = build_args or {}
        env = default_args(build_platform, target_platform, target, build_args)
        lex = Lex(self.escape_token)
        for cmd in self.global_args:
            for a in cmd.args:
                if a.key in build_args:
                    env[a.key] = build_args[a.key]
                elif a.value is not None:
                    try:
                        env[a.key] = lex.process_word(a.value, env)
                    except ExpansionError as err:
                        raise _err(cmd, err.message, self.filename) from None
        return env

    def plan(
        self,
        build_args: Mapping[str, str] | None = None,
        *,
        target: str = "",
        target_platform: Platform | None = None,
        build_platform: Platform | None = None,
    ) -> BuildPlan:
        """Resolve bases and dependencies; pick the stages ``target`` (default: last) needs."""
        meta = self.meta_args(
            build_args,
            target_platform=target_platform,
            build_platform=build_platform,
            target=target,
        )
        lex = Lex(self.escape_token)
        resolved: list[ResolvedStage] = []
        by_name: dict[str, int] = {}
        for st in self.stages:
            try:
                base = lex.process_word(st.base_name, meta)
            except ExpansionError as err:
                raise _err(st.from_, err.message, self.filename) from None
            if not base:
                raise _err(
                    st.from_, f"base name ({st.base_name}) should not be blank", self.filename
                )
            platform = None
            if st.platform:
                try:
                    value = lex.process_word(st.platform, meta)
                except ExpansionError as err:
                    raise _err(
                        st.from_,
                        f"failed to process arguments for platform {st.platform}: {err.message}",
                        self.filename,
                    ) from None
                if not value:
                    raise _err(
                        st.from_,
                        f"empty platform value from expression {st.platform}",
                        self.filename,
                    )
                from dockyard.oci.platform import parse_platform

                try:
                    platform = parse_platform(value)
                except InvalidArgument as err:
                    raise _err(
                        st.from_,
                        f"failed to parse platform {st.platform}: {err.message}",
                        self.filename,
                    ) from None
            base_stage = by_name.get(base.lower())
            deps: dict[int, Instruction] = {}
            if base_stage is not None:
                deps[base_stage] = st.from_
            resolved.append(ResolvedStage(st, base, base_stage, platform, deps, []))
            if st.name:
                by_name[st.name] = st.index
        for rs in resolved:
            for cmd in rs.stage.commands:
                for ref in _references(cmd):
                    idx = self._resolve_ref(ref, cmd, by_name, lex)
                    if idx is None:
                        if ref not in rs.images:
                            rs.images.append(ref)
                    elif idx not in rs.deps:
                        rs.deps[idx] = cmd
        _check_cycles(resolved, self.filename)
        if target:
            idx = by_name.get(target.lower())
            if idx is None:
                msg = with_suggestion(
                    f"target stage {_q(target)} could not be found",
                    target,
                    self.stage_names(),
                    True,
                )
                raise NotFound(msg)
        else:
            idx = len(self.stages) - 1
        needed = _dependencies_first(resolved, idx)
        return BuildPlan(meta, resolved, idx, needed, _levels(resolved, needed))

    def _resolve_ref(
        self, ref: str, cmd: Instruction, by_name: Mapping[str, int], lex: Lex
    ) -> int | None:
        if isinstance(cmd, Copy):
            if lex.process_word(ref, {}) != ref:
                raise _err(
                    cmd,
                    "variable expansion is not supported for --from, define a new stage "
                    "with FROM using ARG from global scope as a workaround",
                    self.filename,
                )
            if ref.isascii() and ref.lstrip("+-").isdigit():
                index = int(ref)
                if not 0 <= index < len(self.stages):
                    raise _err(cmd, f"invalid stage index {index}", self.filename)
                return index
        return by_name.get(ref.lower())


def _q(s: str) -> str:
    from dockyard.golang.fmt import go_quote

    return go_quote(s)


def _references(cmd: Instruction) -> list[str]:
    """Stages or images an instruction reads from."""
    if isinstance(cmd, Copy) and cmd.from_:
        return [cmd.from_]
    if isinstance(cmd, Run):
        return [m.from_ for m in cmd.mounts if m.from_] or _mount_froms(cmd.mount_specs)
    return []


def _mount_froms(specs: Sequence[str]) -> list[str]:
    import csv

    out = []
    for spec in specs:
        for fld in next(csv.reader([spec]), []):
            key, _, value = fld.partition("=")
            if key.lower() == "from" and value:
                out.append(value)
    return out


def _check_cycles(stages: list[ResolvedStage], filename: str) -> None:
    state: dict[int, int] = {}  # 1: visiting, 2: done

    def visit(i: int) -> None:
        state[i] = 1
        for d in stages[i].deps:
            if state.get(d) == 1:
                st = stages[d].stage
                raise _err(
                    st.from_,
                    f"circular dependency detected on stage: {st.name or f'stage-{st.index}'}",
                    filename,
                )
            if d not in state:
                visit(d)
        state[i] = 2

    for i in range(len(stages)):
        if i not in state:
            visit(i)


def _dependencies_first(stages: list[ResolvedStage], target: int) -> list[int]:
    order: list[int] = []
    seen: set[int] = set()

    def visit(i: int) -> None:
        if i in seen:
            return
        seen.add(i)
        for d in sorted(stages[i].deps):
            visit(d)
        order.append(i)

    visit(target)
    return order


def _levels(stages: list[ResolvedStage], needed: list[int]) -> list[list[int]]:
    depth: dict[int, int] = {}
    for i in needed:  # dependencies come first
        depth[i] = 1 + max((depth[d] for d in stages[i].deps), default=-1)
    levels: list[list[int]] = [[] for _ in range(max(depth.values(), default=-1) + 1)]
    for i in needed:
        levels[depth[i]].append(i)
    return levels


def _err(inst: Instruction, detail: str, filename: str) -> DockerfileParseError:
    return DockerfileParseError(
        detail,
        line=inst.start_line,
        end_line=inst.end_line,
        instruction=inst.keyword,
        filename=filename,
    )


def default_args(
    build_platform: Platform | None,
    target_platform: Platform | None,
    target: str,
    overrides: Mapping[str, str],
) -> dict[str, str]:
    """The automatic platform ARGs (BuildKit's ``defaultArgs``)."""
    bp = build_platform or host_platform()
    tp = target_platform or bp
    tp_all = format_platform(tp)
    if tp.os_version:
        parts = tp_all.split("/")
        parts[0] = f"{parts[0]}({tp.os_version})"
        tp_all = "/".join(parts)
    values = {
        "BUILDPLATFORM": format_platform(bp),
        "BUILDOS": bp.os,
        "BUILDOSVERSION": bp.os_version,
        "BUILDARCH": bp.architecture,
        "BUILDVARIANT": bp.variant,
        "TARGETPLATFORM": tp_all,
        "TARGETOS": tp.os,
        "TARGETOSVERSION": tp.os_version,
        "TARGETARCH": tp.architecture,
        "TARGETVARIANT": tp.variant,
        "TARGETSTAGE": target or "default",
    }
    return {k: overrides.get(k, v) for k, v in values.items()}


def parse_dockerfile(source: str | bytes, filename: str = "Dockerfile") -> Dockerfile:
    """Parse a Dockerfile into stages (DockerfileParseError on any error)."""
    result = parse(source, filename)
    stages: list[Stage] = []
    global_args: list[Arg] = []
    for node in result.ast.children:
        inst = parse_instruction(node, filename)
        if isinstance(inst, From):
            stages.append(Stage(len(stages), inst.stage_name, inst))
        elif not stages:
            if isinstance(inst, Arg):
                global_args.append(inst)
            else:
                raise _err(inst, "no build stage in current context", filename)
        else:
            stages[-1].commands.append(inst)
    return Dockerfile(
        stages=stages,
        global_args=global_args,
        directives=result.directives,
        escape_token=result.escape_token,
        warnings=result.warnings,
        ast=result.ast,
        filename=filename,
    )


def parse_onbuild_trigger(expression: str, escape_token: str = "\\") -> Instruction:
    """Parse one ONBUILD trigger as stored in an image's config (``RUN echo hi``)."""
    text = expression if escape_token == "\\" else f"# escape={escape_token}\n{expression}"
    result = parse(text, "Dockerfile")
    inst = parse_instruction(result.ast.children[0])
    if inst.name in ("onbuild", "from", "maintainer"):
        raise DockerfileParseError(
            f"{inst.keyword.upper()} isn't allowed as an ONBUILD trigger",
            instruction=inst.keyword,
        )
    return inst
