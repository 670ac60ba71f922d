"""A loaded compose project bound to an Engine: its resources (networks, volumes,
images) and the containers of each service, created, started, stopped and removed
as Docker Compose v2 does it."""

from __future__ import annotations

import contextlib
import io
import os
import secrets
import tarfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from dockyard.compose import convert as L
from dockyard.compose.engine.progress import Progress
from dockyard.compose.engine.state import (
    ACTIVE,
    labels_of,
    number_of,
    project_containers,
    service_of,
)
from dockyard.compose.model import ProjectModel, Service, build_model
from dockyard.compose.planner import config_hash, start_order, with_dependencies
from dockyard.errors import DockyardError, NotFound

if TYPE_CHECKING:
    from dockyard.compose.loader import Project
    from dockyard.engine import Engine
    from dockyard.engine.containers import Container


class ComposeFailure(DockyardError):
    """A failure compose reports without the daemon prefix (exit 1)."""


@dataclass
class UpOptions:
    services: list[str] = field(default_factory=list)
    no_deps: bool = False
    build: bool = False
    no_build: bool = False
    pull: str = "policy"
    force_recreate: bool = False
    no_recreate: bool = False
    remove_orphans: bool = False
    scale: dict[str, int] = field(default_factory=dict)
    start: bool = True
    timeout: int | None = None
    wait: bool = False
    wait_timeout: float = 0


def service_image(project: str, service: Service) -> str:
    return service.image or f"{project}-{service.name}"


class ComposeProject:
    def __init__(self, engine: Engine, project: Project, progress: Progress) -> None:
        self.engine = engine
        self.project = project
        self.name = project.name
        self.model: ProjectModel = build_model(project.model, project.working_dir)
        self.progress = progress
        self._callback_lock = threading.Lock()
        self.ansi = "auto"  # the --ansi flag: colours in attached logs
        self.info = L.ProjectInfo(
            name=project.name,
            working_dir=project.working_dir,
            config_files=list(project.config_files),
            networks={k: n.name for k, n in self.model.networks.items()},
            volumes={k: v.name for k, v in self.model.volumes.items()},
        )

    # ------------------------------------------------------------- selection

    def service(self, name: str) -> Service:
        service = self.model.services.get(name)
        if service is None:
            raise ComposeFailure(f"no such service: {name}")
        return service

    def select(self, names: list[str], *, with_deps: bool = True) -> list[str]:
        for name in names:
            self.service(name)
        if not names:
            return sorted(self.model.services)
        if not with_deps:
            return sorted(set(names))
        return with_dependencies(self.project.services, names)

    def waves(self, names: list[str]) -> list[list[str]]:
        """``names`` in dependency waves (dependencies outside ``names`` ignored)."""
        raw = {n: self.project.services[n] for n in names}
        trimmed = {
            n: {
                **s,
                "depends_on": {d: v for d, v in (s.get("depends_on") or {}).items() if d in raw},
            }
            for n, s in raw.items()
        }
        return start_order(trimmed)

    def ordered(self, names: list[str]) -> list[str]:
        return [n for wave in self.waves(names) for n in wave]

    def containers(
        self, services: list[str] | None = None, *, oneoff: bool | None = False
    ) -> list[Container]:
        return project_containers(self.engine, self.name, services=services, oneoff=oneoff)

    # ------------------------------------------------------------- resources

    def ensure_networks(self, services: list[str]) -> None:
        used: set[str] = set()
        for name in services:
            service = self.model.services[name]
            if not service.network_mode:
                used.update(service.networks)
        networks = getattr(self.engine, "networks", None)
        if used and networks is None:
            raise ComposeFailure("networking is not available in this dockyard build")
        for key in sorted(used):
            spec = self.model.networks.get(key)
            if spec is None:
                raise ComposeFailure(
                    f"service refers to undefined network {key}: invalid compose project"
                )
            existing = self.engine.networks.try_get(spec.name)
            if spec.external:
                if existing is None:
                    raise ComposeFailure(
                        f"network {spec.name} declared as external, but could not be found"
                    )
                continue
            if existing is not None:
                if existing.labels.get(L.PROJECT) != self.name:
                    self.progress.text(
                        f"WARN[0000] a network with name {spec.name} exists but was not"
                        f' created for project "{self.name}".\nSet `external: true` to use an'
                        " existing network"
                    )
                continue
            self.progress.event("Network", spec.name, "Creating")
            ipam_config = spec.ipam.get("config") or [{}]
            subnets = [c["subnet"] for c in ipam_config if c.get("subnet")]
            gateways = [c["gateway"] for c in ipam_config if c.get("gateway")]
            ranges = [c["ip_range"] for c in ipam_config if c.get("ip_range")]
            labels = {
                **spec.labels,
                L.NETWORK: key,
                L.PROJECT: self.name,
                L.VERSION: _version(),
            }
            self.engine.networks.create(
                spec.name,
                driver=spec.driver or "bridge",
                subnets=subnets,
                gateways=gateways,
                ip_ranges=ranges,
                internal=spec.internal,
                attachable=spec.attachable,
                ipv6=bool(spec.enable_ipv6),
                labels=labels,
                options=dict(spec.driver_opts),
            )
            self.progress.event("Network", spec.name, "Created")

    def ensure_volumes(self) -> None:
        volumes = self.engine.volumes
        for key, spec in sorted(self.model.volumes.items()):
            try:
                existing = volumes.get(spec.name)
            except NotFound:
                existing = None
            if spec.external:
                if existing is None:
                    raise ComposeFailure(f'external volume "{spec.name}" not found')
                continue
            if existing is not None:
                if existing.labels.get(L.PROJECT) != self.name:
                    self.progress.text(
                        f'WARN[0000] volume "{spec.name}" already exists but was not created'
                        " by Docker Compose. Use `external: true` to use an existing volume"
                    )
                continue
            self.progress.event("Volume", spec.name, "Creating")
            volumes.create(
                spec.name,
                driver=spec.driver or "local",
                labels={**spec.labels, L.VOLUME: key, L.PROJECT: self.name, L.VERSION: _version()},
                options=dict(spec.driver_opts),
            )
            self.progress.event("Volume", spec.name, "Created")

    def remove_networks(self) -> None:
        """The project's networks; without a compose file, those labelled with it."""
        networks = getattr(self.engine, "networks", None)
        if networks is None:
            return
        names = [s.name for s in self.model.networks.values() if not s.external]
        if not self.project.config_files:
            names = [n.name for n in networks.all() if n.labels.get(L.PROJECT) == self.name]
        for name in sorted(names):
            network = networks.try_get(name)
            if network is None or network.labels.get(L.PROJECT) not in (self.name, None):
                continue
            self.progress.event("Network", name, "Removing")
            try:
                networks.remove(network.id)
            except DockyardError as exc:
                self.progress.event("Network", name, "Error")
                raise ComposeFailure(exc.message) from None
            self.progress.event("Network", name, "Removed")

    def remove_volumes(self) -> None:
        for spec in self.model.volumes.values():
            if spec.external:
                continue
            try:
                volume = self.engine.volumes.get(spec.name)
            except NotFound:
                continue
            if volume.labels.get(L.PROJECT) not in (self.name, None):
                continue
            self.progress.event("Volume", spec.name, "Removing")
            self.engine.volumes.remove(spec.name)
            self.progress.event("Volume", spec.name, "Removed")

    # ------------------------------------------------------------- images

    def ensure_images(
        self,
        services: list[str],
        *,
        build: bool = False,
        no_build: bool = False,
        pull: str = "policy",
    ) -> dict[str, str]:
        """service -> image ID, building or pulling what the policies ask for."""
        result: dict[str, str] = {}
        for name in services:
            service = self.model.services[name]
            ref = service_image(self.name, service)
            present = self.engine.images.try_resolve(ref)
            policy = pull if pull != "policy" else (service.pull_policy or "missing")
            if (
                service.build is not None
                and not no_build
                and (build or policy == "build" or present is None)
            ):
                present = self.build(name)
            elif policy == "always" or (
                present is None and policy in ("missing", "if_not_present")
            ):
                present = self.pull(name)
            if present is None:
                if service.build is not None:
                    raise ComposeFailure(f"image {ref} not found; build it or remove --no-build")
                raise ComposeFailure(f"No such image: {ref}")
            result[name] = present
        return result

    def pull(self, name: str) -> str:
        service = self.model.services[name]
        ref = service_image(self.name, service)
        try:
            distribution = self.engine.distribution
        except ImportError:
            raise ComposeFailure(
                f"pulling {ref}: the registry client is not available in this dockyard build"
            ) from None
        self.progress.event("", name, "Pulling")
        try:
            image_id = distribution.pull(ref, platform=service.platform)[0].image_id
        except DockyardError as exc:
            self.progress.event("", name, "Error")
            raise ComposeFailure(exc.message) from None
        self.progress.event("", name, "Pulled")
        return image_id

    def build(
        self,
        name: str,
        *,
        no_cache: bool = False,
        pull: bool = False,
        args: dict[str, str] | None = None,
        quiet: bool = False,
    ) -> str:
        service = self.model.services[name]
        spec = service.build
        if spec is None:
            raise ComposeFailure(f"service {name} has no build section")
        try:
            from dockyard.build.builder import Builder, BuildRequest
            from dockyard.build.context import load_context
            from dockyard.build.progress import Progress as BuildProgress

        except ImportError:
            raise ComposeFailure(
                f"building {name}: the builder is not available in this dockyard build"
            ) from None
        ref = service_image(self.name, service)
        build_args = {k: v for k, v in spec.args.items() if v is not None}
        build_args.update(args or {})
        if spec.dockerfile_inline is not None:
            loaded = load_context(spec.context, dockerfile=None)
            text = spec.dockerfile_inline
            dockerfile_name = "Dockerfile"
        else:
            dockerfile = spec.dockerfile
            if dockerfile and not os.path.isabs(dockerfile):
                dockerfile = os.path.join(spec.context, dockerfile)
            loaded = load_context(spec.context, dockerfile=dockerfile)
            text = loaded.dockerfile.decode("utf-8", "surrogateescape")
            dockerfile_name = os.path.basename(loaded.dockerfile_name)
        try:
            request = BuildRequest(
                dockerfile=text,
                dockerfile_name=dockerfile_name,
                context_dir=loaded.root,
                matcher=loaded.matcher if loaded.ignore_patterns else None,
                tags=[ref, *spec.tags],
                build_args=build_args,
                target=spec.target or "",
                no_cache=no_cache or spec.no_cache,
                pull=pull or spec.pull,
                labels={
                    **spec.labels,
                    L.PROJECT: self.name,
                    L.SERVICE: name,
                    L.VERSION: _version(),
                },
                network=spec.network or "default",
            )
            progress = BuildProgress("quiet" if quiet else self.progress.mode)
            self.progress.event("Service", name, "Building")
            try:
                result = Builder(self.engine, request, progress).build()
            except DockyardError as exc:
                raise ComposeFailure(f"failed to solve: {exc.message}") from None
        finally:
            loaded.cleanup()
        self.progress.event("Service", name, "Built")
        return result.image_id

    # ------------------------------------------------------------- containers

    def peer(self, service: str) -> str:
        """The first container of ``service`` (for service: references)."""
        found = self.containers([service])
        if not found:
            raise ComposeFailure(f"service {service} has no container to reference")
        return found[0].name

    def peer_id(self, service: str) -> str | None:
        """The ID of the service's first container (Compose's Containers.sorted()[0]),
        which the config hash uses for ``service:`` references; None when none."""
        found = sorted(self.containers([service]), key=lambda c: c.name)
        return found[0].id if found else None

    def container_name(self, service: Service, number: int) -> str:
        return service.container_name or f"{self.name}-{service.name}-{number}"

    def create_container(
        self,
        service: Service,
        number: int,
        image_id: str,
        *,
        name: str | None = None,
        oneoff: bool = False,
        publish: bool = True,
        adjust: Callable[[L.ContainerRequest], None] | None = None,
    ) -> Container:
        name = name or self.container_name(service, number)
        request = L.container_request(
            self.info,
            service,
            number,
            name,
            service_image(self.name, service),
            self.peer,
            oneoff=oneoff,
            publish=publish,
            image_id=image_id,
            peer_ids=self.peer_id,
        )
        for kind, objects in (("secrets", self.model.secrets), ("configs", self.model.configs)):
            binds, files = L.file_objects(service, kind, objects, self.project.environment)
            if binds:
                request.host["Binds"] = [*(request.host.get("Binds") or []), *binds]
            request.files.extend(files)
        if adjust is not None:
            adjust(request)
        container = self.engine.containers.create(
            request.image, request.config, request.host, request.networking, name=request.name
        )
        if request.files:
            try:
                self._inject_files(container, request.files)
            except BaseException:
                self.engine.containers.remove(container.id, force=True)
                raise
        return container

    def _inject_files(self, container: Container, files: list[tuple[str, bytes, int]]) -> None:
        """Copy content/environment secrets and configs in, as compose does (a tar
        extracted into the container's filesystem before it starts)."""
        from dockyard.engine.fsops import copy_in_stream

        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
            made: set[str] = set()
            for path, data, mode in files:
                parts = path.strip("/").split("/")
                for i in range(1, len(parts)):
                    directory = "/".join(parts[:i])
                    if directory not in made:
                        made.add(directory)
                        entry = tarfile.TarInfo(directory)
                        entry.type = tarfile.DIRTYPE
                        entry.mode = 0o755
                        entry.mtime = int(time.time())
                        tar.addfile(entry)
                entry = tarfile.TarInfo("/".join(parts))
                entry.size = len(data)
                entry.mode = mode
                entry.mtime = int(time.time())
                tar.addfile(entry, io.BytesIO(data))
        buffer.seek(0)
        copy_in_stream(self.engine, container, buffer, "/", "/", archive=False)

    def expected_hash(self, service: Service) -> str:
        return config_hash(service.raw, self.peer_id)

    def converge(
        self,
        names: list[str],
        images: dict[str, str],
        options: UpOptions,
    ) -> list[Container]:
        """Create or recreate what ``up``/``create`` needs; returns the containers to start
        (in dependency order)."""
        recreated: set[str] = set()
        result: list[Container] = []
        for name in self.ordered(names):
            service = self.model.services[name]
            wanted = options.scale.get(name, service.replicas)
            if wanted > 1 and service.container_name:
                self.progress.text(
                    f'WARN[0000] service "{name}" has container_name set and cannot be scaled'
                )
                wanted = 1
            existing = self.containers([name])
            expected = self.expected_hash(service)
            image_id = images.get(name, "")
            shares = any(dep in recreated for dep in _namespace_dependencies(service))
            # depends_on with restart: true — restarted when the dependency was recreated
            restart = any(
                dep in recreated and spec.restart for dep, spec in service.depends_on.items()
            )
            keep: list[Container] = []
            for container in existing:
                if number_of(container) > wanted or len(keep) >= wanted:
                    self.stop_and_remove(container, options.timeout)
                    continue
                keep.append(container)
            for container in keep:
                labels = labels_of(container)
                changed = labels.get(L.CONFIG_HASH) != expected or (
                    image_id and container.image_id != image_id
                )
                if options.force_recreate or shares or (changed and not options.no_recreate):
                    container = self.recreate(container, service, image_id, options.timeout)
                    recreated.add(name)
                elif restart and container.status in ACTIVE:
                    self._stop_one(self.engine, container, options.timeout)
                elif container.status in ACTIVE:
                    self.progress.event("Container", container.name, "Running")
                result.append(container)
            numbers = {number_of(c) for c in keep}
            number = 1
            while len(numbers) < wanted:
                while number in numbers:
                    number += 1
                cname = self.container_name(service, number)
                self.progress.event("Container", cname, "Creating")
                try:
                    container = self.create_container(service, number, image_id)
                except DockyardError as exc:
                    self.progress.event("Container", cname, "Error")
                    raise _daemon(exc) from None
                self.progress.event("Container", cname, "Created")
                numbers.add(number)
                result.append(container)
        return result

    def recreate(
        self, old: Container, service: Service, image_id: str, timeout: int | None
    ) -> Container:
        self.progress.event("Container", old.name, "Recreate")
        name = old.name
        temporary = f"{old.id[:12]}_{name}"
        self.engine.lifecycle.stop(old, timeout if timeout is not None else _stop_timeout(service))
        self.engine.containers.rename(old.id, temporary)
        try:
            container = self.create_container(
                service,
                number_of(old),
                image_id,
                name=name,
                adjust=lambda request: self._keep_anonymous_volumes(old, request),
            )
        except BaseException:
            self.engine.containers.rename(old.id, name)
            raise
        self.engine.containers.remove(old.id, force=True)
        self.progress.event("Container", name, "Recreated")
        return container

    def _keep_anonymous_volumes(self, old: Container, request: L.ContainerRequest) -> None:
        """A recreated container keeps its predecessor's anonymous volumes (their data),
        as Compose does."""
        kept: dict[str, str] = {}
        for mount in old.spec.get("Mounts") or []:
            if mount.get("Type") != "volume" or not mount.get("Name"):
                continue
            try:
                volume = self.engine.volumes.get(mount["Name"])
            except NotFound:
                continue
            if volume.anonymous:
                kept[os.path.normpath(mount["Destination"])] = volume.name
        if not kept:
            return
        mounts = list(request.host.get("Mounts") or [])
        bound = {os.path.normpath(b.split(":")[1]) for b in request.host.get("Binds") or []}
        for mount in mounts:
            target = os.path.normpath(mount.get("Target") or "")
            if mount.get("Type") == "volume" and not mount.get("Source") and target in kept:
                mount["Source"] = kept.pop(target)
            elif target in kept:
                kept.pop(target)
        for target, name in sorted(kept.items()):
            if target not in bound:
                mounts.append({"Type": "volume", "Source": name, "Target": target})
        request.host["Mounts"] = mounts or None

    def stop_and_remove(
        self, container: Container, timeout: int | None, *, volumes: bool = False
    ) -> None:
        if container.status in ACTIVE:
            self.progress.event("Container", container.name, "Stopping")
            self.engine.lifecycle.stop(container, timeout)
            self.progress.event("Container", container.name, "Stopped")
        self.progress.event("Container", container.name, "Removing")
        with contextlib.suppress(NotFound):
            self.engine.containers.remove(container.id, force=True, volumes=volumes)
        self.progress.event("Container", container.name, "Removed")

    def orphans(self) -> list[Container]:
        known = set(self.model.services)
        return [c for c in self.containers(oneoff=None) if service_of(c) not in known]

    def start_containers(
        self,
        containers: list[Container],
        *,
        wait_deps: bool = True,
        on_started: Callable[[Container], None] | None = None,
    ) -> None:
        """Start in dependency order, waiting for each service's depends_on conditions;
        the containers of one dependency wave start in parallel."""
        by_service: dict[str, list[Container]] = {}
        for c in containers:
            by_service.setdefault(service_of(c), []).append(c)

        def start_one(engine: Engine, container: Container) -> None:
            fresh = engine.containers.get(container.id)
            if fresh.status in ACTIVE:
                return
            self.progress.event("Container", fresh.name, "Starting")
            try:
                engine.lifecycle.start(fresh)
            except DockyardError as exc:
                self.progress.event("Container", fresh.name, "Error")
                raise _daemon(exc) from None
            self.progress.event("Container", fresh.name, "Started")
            if on_started is not None:
                with self._callback_lock:
                    on_started(fresh)

        for wave in self.waves([s for s in by_service if s in self.model.services]):
            if wait_deps:
                for name in wave:
                    self.wait_dependencies(self.model.services[name])
            self.in_parallel([c for name in wave for c in by_service[name]], start_one)

    def wait_dependencies(self, service: Service) -> None:
        for dep, spec in sorted(service.depends_on.items()):
            if spec.condition == "service_started":
                continue
            targets = self.containers([dep])
            if not targets and not spec.required:
                continue
            for container in targets:
                self.wait_condition(container, spec.condition, dep)

    def wait_condition(self, container: Container, condition: str, service: str) -> None:
        self.progress.event("Container", container.name, "Waiting")
        while True:
            fresh = self.engine.containers.try_get(container.id)
            if fresh is None:
                raise ComposeFailure(f"container {container.name} has been removed")
            self.engine.lifecycle.refresh(fresh)
            if condition == "service_healthy":
                if not fresh.config.get("Healthcheck") or (
                    fresh.config["Healthcheck"].get("Test") in (None, [], ["NONE"])
                ):
                    self.progress.event("Container", container.name, "Error")
                    raise ComposeFailure(
                        f"dependency failed to start: container {container.name} has no"
                        " healthcheck configured"
                    )
                health = (fresh.state.get("Health") or {}).get("Status")
                if health == "healthy":
                    self.progress.event("Container", container.name, "Healthy")
                    return
                if health == "unhealthy":
                    self.progress.event("Container", container.name, "Error")
                    raise ComposeFailure(
                        f"dependency failed to start: container {container.name} is unhealthy"
                    )
                if fresh.status not in ACTIVE:
                    self.progress.event("Container", container.name, "Error")
                    raise ComposeFailure(
                        f"dependency failed to start: container {container.name} exited"
                        f" ({fresh.state.get('ExitCode', 0)})"
                    )
            elif condition == "service_completed_successfully":
                if fresh.status in ("exited", "dead"):
                    code = int(fresh.state.get("ExitCode") or 0)
                    if code != 0:
                        self.progress.event("Container", container.name, "Error")
                        raise ComposeFailure(
                            f'service "{service}" didn\'t complete successfully: exit {code}'
                        )
                    self.progress.event("Container", container.name, "Exited")
                    return
            else:
                return
            time.sleep(0.05)

    def wait_running_or_healthy(self, containers: list[Container], timeout: float) -> None:
        """``up --wait``: every container running, and healthy when it has a check."""
        deadline = time.monotonic() + timeout if timeout else float("inf")
        for container in containers:
            self.progress.event("Container", container.name, "Waiting")
            while True:
                fresh = self.engine.containers.get(container.id)
                health = (fresh.state.get("Health") or {}).get("Status")
                check = (fresh.config.get("Healthcheck") or {}).get("Test")
                if fresh.status not in ACTIVE:
                    code = fresh.state.get("ExitCode", 0)
                    self.progress.event("Container", fresh.name, "Error")
                    raise ComposeFailure(f"container {fresh.name} exited ({code})")
                if health == "unhealthy":
                    self.progress.event("Container", fresh.name, "Error")
                    raise ComposeFailure(f"container {fresh.name} is unhealthy")
                if not check or check == ["NONE"] or health == "healthy":
                    self.progress.event("Container", fresh.name, "Healthy" if health else "Running")
                    break
                if time.monotonic() > deadline:
                    raise ComposeFailure(f"timeout waiting for {fresh.name}")
                time.sleep(0.05)

    def stop(self, containers: list[Container], timeout: int | None) -> None:
        """Stop in reverse dependency order; the containers of one level in parallel."""
        waves = self.waves(
            [s for s in {service_of(c) for c in containers} if s in self.model.services]
        )
        rank = {s: i for i, wave in enumerate(waves) for s in wave}
        levels: dict[int, list[Container]] = {}
        for container in containers:
            levels.setdefault(-rank.get(service_of(container), len(waves)), []).append(container)
        for level in sorted(levels):
            self.in_parallel(levels[level], lambda engine, c: self._stop_one(engine, c, timeout))

    def _stop_one(self, engine: Engine, container: Container, timeout: int | None) -> None:
        fresh = engine.containers.try_get(container.id)
        if fresh is None:
            return
        engine.lifecycle.refresh(fresh)
        if fresh.status not in ACTIVE:
            return
        self.progress.event("Container", fresh.name, "Stopping")
        service = self.model.services.get(service_of(fresh))
        wait = timeout
        if wait is None and service is not None:
            wait = _stop_timeout(service)
        engine.lifecycle.stop(fresh, wait)
        self.progress.event("Container", fresh.name, "Stopped")

    def in_parallel(
        self, containers: list[Container], action: Callable[[Engine, Container], None]
    ) -> None:
        """Run ``action`` for each container in its own thread, each with its own Engine
        (its own database connection); the first error is raised after all finished."""
        if len(containers) <= 1:
            for container in containers:
                action(self.engine, container)
            return
        from dockyard.engine import Engine as EngineClass

        errors: list[BaseException] = []

        def run(container: Container) -> None:
            engine = EngineClass(self.engine.options)
            try:
                action(engine, container)
            except BaseException as exc:  # re-raised in the caller
                errors.append(exc)
            finally:
                engine.close()

        threads = [threading.Thread(target=run, args=(c,)) for c in containers]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        if errors:
            raise errors[0]

    def oneoff_name(self, service: str) -> str:
        return f"{self.name}-{service}-run-{secrets.token_hex(6)}"


def _namespace_dependencies(service: Service) -> set[str]:
    """Services whose containers this one shares a namespace or volumes with: when they
    are recreated, this one must be too."""
    result: set[str] = set()
    mode = service.network_mode or ""
    if mode.startswith("service:"):
        result.add(mode.partition(":")[2])
    for value in service.volumes_from:
        kind, _, rest = value.partition(":")
        if kind == "service":
            result.add(rest.partition(":")[0])
        elif kind != "container":
            result.add(kind)
    return result


def _stop_timeout(service: Service) -> int | None:
    return int(service.stop_grace_period) if service.stop_grace_period is not None else None


def _daemon(exc: DockyardError) -> DockyardError:
    if isinstance(exc, ComposeFailure):
        return exc
    return ComposeFailure(f"Error response from daemon: {exc.message}").with_code(exc.exit_code)


def _version() -> str:
    from dockyard import __version__

    return __version__
