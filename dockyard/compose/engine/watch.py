"""``compose watch``: develop.watch rules and what a batch of changed files does to the
services (Docker Compose v2's pkg/compose/watch.go): ``sync`` copies the files into the
service's containers (a tar extracted at ``/``, deletions as ``rm -rf``), ``restart`` /
``sync+restart`` restart them, ``sync+exec`` runs the rule's command, ``rebuild`` builds
the image again and recreates the service's containers."""

from __future__ import annotations

import contextlib
import io
import os
import posixpath
import tarfile
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from dockyard.compose.engine.project import ComposeFailure, UpOptions
from dockyard.compose.engine.state import ACTIVE
from dockyard.golang.fmt import go_quote

if TYPE_CHECKING:
    from dockyard.build.dockerignore import Matcher
    from dockyard.compose.engine.project import ComposeProject
    from dockyard.compose.model import Service
    from dockyard.engine.containers import Container

SYNC_ACTIONS = ("sync", "sync+restart", "sync+exec")

# compose's EphemeralPathMatcher: editors' temporary files, never synced
EPHEMERAL = [
    "**/*___jb_old___",
    "**/*___jb_tmp___",
    "**/.idea/**",
    "**/.#*",
    "**/#*#",
    "**/4913",
    "**/*~",
    "**/.*.swp",
    "**/.*.swx",
    "**/.*.swo",
    "**/.*.swn",
    "**/.*.kate-swp",
    "**/*-go-tmp-umask",
]

Log = Callable[[str], None]


class RootedMatcher:
    """compose's dockerPathMatcher: Docker ignore patterns relative to ``root``, matched
    against absolute paths with MatchesOrParentMatches."""

    def __init__(self, root: str, patterns: list[str]) -> None:
        from dockyard.build.dockerignore import Matcher

        self.root = os.path.abspath(root)
        self.matcher: Matcher | None = Matcher(patterns) if patterns else None
        self.has_exclusions = self.matcher is not None and self.matcher.has_exclusions

    def matches(self, path: str) -> bool:
        if self.matcher is None:
            return False
        if not is_child(self.root, path):
            return False
        relative = os.path.relpath(path, self.root)
        return self.matcher.excluded(relative)


def is_child(parent: str, path: str) -> bool:
    return path == parent or path.startswith(parent.rstrip("/") + "/")


@dataclass
class Rule:
    service: str
    path: str
    action: str
    target: str | None = None
    include: RootedMatcher | None = None
    ignore: list[RootedMatcher] = field(default_factory=list)
    initial_sync: bool = False
    exec: dict[str, Any] | None = None

    def mapping(self, host_path: str) -> tuple[str, str | None] | None:
        """(host path, container path) when the rule applies to ``host_path``."""
        if not is_child(self.path, host_path):
            return None
        if self.include is not None and not self.include.matches(host_path):
            return None
        if any(m.matches(host_path) for m in self.ignore):
            return None
        if not self.target:
            return host_path, None
        relative = os.path.relpath(host_path, self.path)
        return host_path, posixpath.normpath(posixpath.join(self.target, relative))


def ignored_directory(rule_list: list[Rule], directory: str) -> bool:
    """Whether no rule can want anything under ``directory``: every rule watching it
    ignores the directory itself, with no ``!`` exception that could bring a child
    back (Docker's MatchesOrParentMatches then ignores all its children)."""
    relevant = [r for r in rule_list if is_child(r.path, directory)]
    if not relevant:
        return False
    for rule in relevant:
        hits = [m for m in rule.ignore if m.matches(directory)]
        if not hits or any(m.has_exclusions for m in rule.ignore):
            return False
    return True


def _dockerignore(service: Service) -> RootedMatcher:
    """LoadDockerIgnore: the build context's ignore file (none without ``build``)."""
    if service.build is None:
        return RootedMatcher("/", [])
    from dockyard.build.dockerignore import load_patterns

    dockerfile = service.build.dockerfile
    if dockerfile and not os.path.isabs(dockerfile):
        dockerfile = os.path.join(service.build.context, dockerfile)
    return RootedMatcher(service.build.context, load_patterns(service.build.context, dockerfile))


def _bind_mounted(path: str, service: Service) -> bool:
    for mount in service.volumes:
        if mount.type == "bind" and mount.source:
            relative = os.path.relpath(path, mount.source)
            if not relative.startswith(".."):
                return True
    return False


def rules(cp: ComposeProject, names: list[str], log_warning: Log) -> tuple[list[Rule], list[str]]:
    """The watch rules of ``names`` and the paths to watch (sync paths a bind mount
    already covers are not watched, with Compose's warning)."""
    result: list[Rule] = []
    paths: list[str] = []
    for name in names:
        service = cp.model.services[name]
        develop = _x_develop(cp, name, log_warning)
        if isinstance(service.raw.get("develop"), dict):
            develop = service.raw["develop"]
        if develop is None:
            continue
        common = [
            _dockerignore(service),
            RootedMatcher("/", EPHEMERAL),
            RootedMatcher("/", [".git/"]),
        ]
        for trigger in develop.get("watch") or []:
            action = str(trigger.get("action", ""))
            path = os.path.normpath(str(trigger["path"]))
            if action == "rebuild" and service.build is None:
                raise ComposeFailure(
                    f'can\'t watch service "{name}" with action rebuild without a build context'
                )
            if action in SYNC_ACTIONS and _bind_mounted(path, service):
                log_warning(
                    f"path '{path}' also declared by a bind mount volume,"
                    " this path won't be monitored!\n"
                )
                continue
            include = trigger.get("include") or []
            rule = Rule(
                service=name,
                path=path,
                action=action,
                target=trigger.get("target"),
                include=RootedMatcher(path, list(include)) if include else None,
                ignore=[*common, RootedMatcher(path, list(trigger.get("ignore") or []))],
                initial_sync=bool(trigger.get("initial_sync")),
                exec=trigger.get("exec"),
            )
            result.append(rule)
            paths.append(path)
    return result, paths


def _x_develop(cp: ComposeProject, name: str, log_warning: Log) -> dict[str, Any] | None:
    """The deprecated ``x-develop`` extension, read as Compose's
    loadDevelopmentConfig does (even when ``develop`` is there too): relative paths
    from the project directory with symlinks resolved, and its checks, messages
    included."""
    service = cp.model.services[name]
    value = service.raw.get("x-develop")
    if "x-develop" not in service.raw:
        return None
    log_warning("x-develop is DEPRECATED, please use the official `develop` attribute")
    config = dict(value) if isinstance(value, dict) else {}
    base = os.path.realpath(cp.project.working_dir)
    triggers = []
    for item in config.get("watch") or []:
        trigger = dict(item) if isinstance(item, dict) else {}
        path = str(trigger.get("path") or "")
        if not os.path.isabs(path):
            path = os.path.join(base, path)
        if os.path.exists(path):
            path = os.path.realpath(path)
        trigger["path"] = os.path.normpath(path)
        for key in ("ignore", "include"):
            if isinstance(trigger.get(key), str):
                trigger[key] = [trigger[key]]
        hook = trigger.get("exec")
        if isinstance(hook, dict) and isinstance(hook.get("command"), str):
            import shlex

            trigger["exec"] = {**hook, "command": shlex.split(hook["command"])}
        action = trigger.get("action")
        if action == "rebuild" and service.build is None:
            # Compose's message, its arguments in that order
            raise ComposeFailure(
                f"service rebuild doesn't have a build section, can't apply {name} on watch"
            )
        command = (trigger.get("exec") or {}).get("command")
        if action == "sync+exec" and not command:
            raise ComposeFailure(
                f'can\'t watch with action "sync+exec" on service {name} without a command'
            )
        triggers.append(trigger)
    return {**config, "watch": triggers}


# ------------------------------------------------------------------ actions


@dataclass
class Batch:
    rebuild: list[str] = field(default_factory=list)
    restart: list[str] = field(default_factory=list)
    sync: dict[str, list[tuple[str, str]]] = field(default_factory=dict)
    exec: dict[str, list[int]] = field(default_factory=dict)


def classify(changed: set[str], rule_list: list[Rule]) -> Batch:
    """What a batch of changed paths asks for (handleWatchBatch's first loop)."""
    batch = Batch()
    for path in sorted(changed):
        for i, rule in enumerate(rule_list):
            mapped = rule.mapping(path)
            if mapped is None:
                continue
            service = rule.service
            if rule.action == "rebuild":
                _add(batch.rebuild, service)
            elif rule.action == "restart":
                _add(batch.restart, service)
            elif rule.action in SYNC_ACTIONS and mapped[1] is not None:
                batch.sync.setdefault(service, []).append((mapped[0], mapped[1]))
                if rule.action == "sync+restart":
                    _add(batch.restart, service)
                elif rule.action == "sync+exec":
                    _add(batch.exec.setdefault(service, []), i)
    return batch


def _add(items: list[Any], item: Any) -> None:
    if item not in items:
        items.append(item)


def go_strings(values: list[str]) -> str:
    """Go's ``%q`` of a []string: ``["a" "b"]``."""
    return "[" + " ".join(go_quote(v) for v in values) + "]"


class Watcher:
    """Applies batches to a bound project; ``log`` prints Compose's watch messages."""

    def __init__(
        self,
        cp: ComposeProject,
        rule_list: list[Rule],
        log: Log,
        *,
        quiet_build: bool = False,
        prune: bool = True,
    ) -> None:
        self.cp = cp
        self.rules = rule_list
        self.log = log
        self.quiet_build = quiet_build
        self.prune = prune

    def initial_sync(self) -> None:
        """Rules with ``initial_sync``: every (not ignored) file under the path, once."""
        for rule in self.rules:
            if not rule.initial_sync or rule.action not in SYNC_ACTIONS or not rule.target:
                continue
            files: list[tuple[str, str]] = []
            if os.path.isdir(rule.path):
                for directory, dirs, names in os.walk(rule.path):
                    dirs[:] = [
                        d for d in dirs if rule.mapping(os.path.join(directory, d)) is not None
                    ]
                    for name in names:
                        mapped = rule.mapping(os.path.join(directory, name))
                        if mapped is not None and mapped[1] is not None:
                            files.append((mapped[0], mapped[1]))
            elif os.path.isfile(rule.path):
                files.append((rule.path, rule.target))
            if files:
                self.sync(rule.service, files)

    def handle(self, changed: set[str]) -> None:
        batch = classify(changed, self.rules)
        if batch.rebuild:
            self.rebuild(batch.rebuild)
        for service, mappings in batch.sync.items():
            self.log(
                f"Syncing service {go_quote(service)} after {len(mappings)} changes were detected"
            )
            self.sync(service, mappings)
        if batch.restart:
            self.restart(batch.restart)
            self.log(f"service(s) {go_strings(batch.restart)} restarted")
        for service, indexes in batch.exec.items():
            for i in indexes:
                self.run_hook(service, self.rules[i].exec or {})

    # ---------------------------------------------------------------- sync

    def sync(self, service: str, mappings: list[tuple[str, str]]) -> None:
        """Tar's Sync: existing files extracted into every container of the service,
        missing ones removed with ``rm -rf``."""
        from dockyard.engine import fsops

        copy = [(h, c) for h, c in mappings if os.path.lexists(h)]
        delete = [c for h, c in mappings if not os.path.lexists(h)]
        errors: list[str] = []
        for container in self.cp.containers([service]):
            if delete:
                code = self._exec(container, ["rm", "-rf", *delete])
                if code != 0:
                    errors.append(f"deleting paths in {container.id}: exit code {code}")
            if not copy:
                continue
            try:
                fsops.copy_in_stream(
                    self.cp.engine, container, tar_of(copy), "/", "/", archive=True
                )
            except Exception as exc:  # reported like compose's joined errors
                errors.append(f"copying files to {container.id}: {exc}")
        if errors:
            raise ComposeFailure("\n".join(errors))

    def _exec(
        self,
        container: Container,
        cmd: list[str],
        *,
        user: str = "",
        workdir: str = "",
        env: list[str] | None = None,
        privileged: bool = False,
    ) -> int:
        from dockyard.engine.execs import ExecRequest, run_exec

        request = ExecRequest(
            cmd=cmd, user=user, workdir=workdir, env=env or [], privileged=privileged
        )
        null = os.open(os.devnull, os.O_RDWR)
        try:
            return run_exec(self.cp.engine, container.id, request, (null, null, 2))
        finally:
            os.close(null)

    def run_hook(self, service: str, hook: dict[str, Any]) -> None:
        command = hook.get("command") or []
        if isinstance(command, str):
            import shlex

            command = shlex.split(command)
        environment = hook.get("environment") or {}
        if isinstance(environment, dict):
            env = [f"{k}={'' if v is None else v}" for k, v in environment.items()]
        else:
            env = [str(e) for e in environment]
        for container in self.cp.containers([service]):
            if container.status not in ACTIVE:
                continue
            self._exec(
                container,
                [str(c) for c in command],
                user=str(hook.get("user") or ""),
                workdir=str(hook.get("working_dir") or ""),
                env=env,
                privileged=bool(hook.get("privileged")),
            )

    # ---------------------------------------------------------------- restart, rebuild

    def restart(self, services: list[str]) -> None:
        from dockyard.engine.control import restart

        cp = self.cp
        for container in cp.containers(services):
            cp.progress.event("Container", container.name, "Restarting")
            restart(cp.engine, cp.engine.containers.get(container.id), None, None)
            cp.progress.event("Container", container.name, "Started")

    def rebuild(self, services: list[str]) -> None:
        cp = self.cp
        self.log(f"Rebuilding service(s) {go_strings(services)} after changes were detected...")
        images: dict[str, str] = {}
        try:
            for name in services:
                images[name] = cp.build(name, quiet=self.quiet_build)
        except ComposeFailure as exc:
            self.log(f"Build failed. Error: {exc.message}")
            raise
        if self.prune:
            prune_dangling(cp)
        self.log(f"service(s) {go_strings(services)} successfully built")
        try:
            containers = cp.converge(
                services, images, UpOptions(services=services, no_deps=True, force_recreate=True)
            )
        except ComposeFailure as exc:
            self.log(f"Failed to recreate services after update. Error: {exc.message}")
            raise
        try:
            cp.start_containers(containers)
        except ComposeFailure as exc:
            self.log(f"Application failed to start after update. Error: {exc.message}")


def prune_dangling(cp: ComposeProject) -> None:
    """``--prune``: the project's images left dangling by a rebuild."""
    from dockyard.compose import convert as L
    from dockyard.engine.filters import Filters
    from dockyard.errors import DockyardError

    with contextlib.suppress(DockyardError):
        cp.engine.images.prune(filters=Filters({"label": [f"{L.PROJECT}={cp.name}"]}))


def tar_of(mappings: list[tuple[str, str]]) -> io.BytesIO:
    """A tar of the host paths, each named by its path in the container."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        seen: set[str] = set()
        for host, container in mappings:
            name = container.lstrip("/")
            if name in seen:
                continue
            seen.add(name)
            tar.add(host, arcname=name, recursive=True)
    buffer.seek(0)
    return buffer
