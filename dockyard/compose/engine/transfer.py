"""``compose push`` and ``compose cp``: moving images and files for a project's services,
as Docker Compose v2 does (pkg/compose/push.go, pkg/compose/cp.go), through the engine's
``distribution`` service and the same copy code as ``dockyard cp`` (engine.fsops)."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING, BinaryIO

from dockyard.compose.engine.project import ComposeFailure
from dockyard.compose.engine.state import is_oneoff, number_of, service_of
from dockyard.errors import DockyardError, NotFound

if TYPE_CHECKING:
    from dockyard.compose.engine.project import ComposeProject
    from dockyard.engine.containers import Container
    from dockyard.engine.distribution import ProgressEvent


# ------------------------------------------------------------------ push


def push_tags(cp: ComposeProject, names: list[str]) -> list[tuple[str, list[str]]]:
    """(service, tags) in service order; an empty list marks a service Compose skips:
    only services with both ``build`` and ``image`` are pushed (the image and the
    build's extra ``tags``)."""
    result: list[tuple[str, list[str]]] = []
    for name in names:
        service = cp.model.services[name]
        if service.build is None or not service.image:
            result.append((name, []))
            continue
        result.append((name, [service.image, *service.build.tags]))
    return result


def push(cp: ComposeProject, names: list[str], *, ignore_failures: bool, quiet: bool) -> list[str]:
    """Push the services' images; returns the failures that were ignored (as warnings)."""
    distribution = cp.engine.distribution
    warnings: list[str] = []
    for service, tags in push_tags(cp, names):
        if not tags:
            cp.progress.event("", service, "Skipped")
            continue
        for tag in tags:
            cp.progress.event("", tag, "Pushing")

            def layer(event: ProgressEvent) -> None:
                # a layer's state changes, under its short id (compose shows them
                # nested under the tag on a terminal)
                if event.id and not event.total:
                    cp.progress.event("", event.id, event.status)

            try:
                distribution.push(tag, progress=None if quiet else layer)
            except DockyardError as exc:
                message = _push_message(exc)
                if not ignore_failures:
                    cp.progress.event("", tag, "Error")
                    raise ComposeFailure(message).with_code(1) from None
                cp.progress.event("", tag, "Warning")
                warnings.append(message)
                continue
            cp.progress.event("", tag, "Pushed")
    return warnings


def _push_message(exc: DockyardError) -> str:
    """A local lookup failure is the daemon's answer to ImagePush (prefixed); a
    registry failure arrives in the progress stream (plain), as Compose shows them."""
    if isinstance(exc, NotFound):
        return f"Error response from daemon: {exc.message}"
    return exc.message


# ------------------------------------------------------------------ cp


@dataclass(frozen=True)
class CopyRequest:
    source: str
    destination: str
    index: int = 0
    all: bool = False
    follow_link: bool = False
    archive: bool = False


def split_cp_arg(arg: str) -> tuple[str, str]:
    """Compose's splitCpArg: ``SERVICE:PATH`` unless absolute or ``.``-relative."""
    if arg.startswith("/"):
        return "", arg
    service, sep, path = arg.partition(":")
    if not sep or service.startswith("."):
        return "", arg
    return service, path


def resolve_local_path(path: str) -> str:
    """filepath.Abs keeping a trailing ``/`` or ``/.`` (archive.PreserveTrailingDotOrSeparator):
    they decide whether a copy lands inside a directory."""
    absolute = os.path.abspath(path)
    if path.endswith("/.") or path == ".":
        if not absolute.endswith("/."):
            absolute = absolute.rstrip("/") + "/."
    elif path.endswith("/") and not absolute.endswith("/"):
        absolute += "/"
    return absolute


def copy_targets(
    cp: ComposeProject, service: str, request: CopyRequest, *, to_service: bool
) -> list[Container]:
    """listContainersTargetedForCopy: ``--index`` names one container (stopped ones
    too); otherwise the service's containers (with ``--all`` also ``run`` ones) —
    all of them when copying in, the first when copying out."""
    cp.service(service)
    containers = cp.containers([service], oneoff=None)
    if request.index > 0:
        chosen = [c for c in containers if not is_oneoff(c) and number_of(c) == request.index]
        if not chosen:
            raise ComposeFailure(f'service "{service}" is not running container #{request.index}')
        return chosen[:1]
    if not request.all:
        containers = [c for c in containers if not is_oneoff(c)]
    if not containers:
        raise ComposeFailure(f'no container found for service "{service}"')
    containers.sort(key=lambda c: (is_oneoff(c), number_of(c)))
    return containers if to_service else containers[:1]


def copy(
    cp: ComposeProject,
    request: CopyRequest,
    *,
    stdin: BinaryIO | None = None,
    stdout: BinaryIO | None = None,
) -> None:
    """``compose cp``: one direction, between a service's container(s) and here."""
    from dockyard.engine import fsops

    src_service, src_path = split_cp_arg(request.source)
    dst_service, dst_path = split_cp_arg(request.destination)
    if src_service and dst_service:
        raise ComposeFailure("copying between services is not supported")
    if not src_service and not dst_service:
        raise ComposeFailure("unknown copy direction")
    to_service = bool(dst_service)
    service = dst_service or src_service
    targets = copy_targets(cp, service, request, to_service=to_service)
    engine = cp.engine
    for container in targets:
        name = container.name
        if to_service:
            message = f"{request.source} to {name}:{dst_path}"
        else:
            message = f"{name}:{src_path} to {request.destination}"
        cp.progress.event("", name, "Copying", message)
        try:
            if to_service:
                if src_path == "-":
                    stream = stdin if stdin is not None else sys.stdin.buffer
                    fsops.copy_in_stream(
                        engine, container, stream, dst_path, dst_path, archive=request.archive
                    )
                else:
                    fsops.copy_in(
                        engine,
                        container,
                        resolve_local_path(src_path),
                        dst_path,
                        follow=request.follow_link,
                        archive=request.archive,
                    )
            elif dst_path == "-":
                out = stdout if stdout is not None else sys.stdout.buffer
                fsops.copy_out_stream(engine, container, src_path, out, follow=request.follow_link)
                out.flush()
            else:
                fsops.copy_out(
                    engine,
                    container,
                    src_path,
                    resolve_local_path(dst_path),
                    follow=request.follow_link,
                )
        except fsops.LocalError as exc:
            raise ComposeFailure(exc.message) from None
        except DockyardError as exc:
            raise ComposeFailure(f"Error response from daemon: {exc.message}") from None
        cp.progress.event("", name, "Copied", message)


def attach_target(cp: ComposeProject, service: str, index: int) -> Container:
    """getSpecifiedContainer for ``attach``: a running container of the service (one-off
    ones included, after the service's own), the one numbered ``index`` if given."""
    cp.service(service)
    running = [
        c
        for c in cp.containers([service], oneoff=None)
        if c.status in ("running", "paused", "restarting") and (index <= 0 or number_of(c) == index)
    ]
    if not running:
        if index > 0:
            raise ComposeFailure(f'service "{service}" is not running container #{index}')
        raise ComposeFailure(f'service "{service}" is not running')
    running.sort(key=lambda c: (is_oneoff(c), number_of(c)))
    assert service_of(running[0]) == service
    return running[0]
