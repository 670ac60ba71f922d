"""What exists of a project: its containers, found by Docker Compose's labels (so
containers made by either tool are seen by both)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from dockyard.compose import convert as L

if TYPE_CHECKING:
    from dockyard.engine import Engine
    from dockyard.engine.containers import Container

ACTIVE = ("running", "paused", "restarting")


def labels_of(container: Container) -> dict[str, str]:
    result: dict[str, str] = container.config.get("Labels") or {}
    return result


def service_of(container: Container) -> str:
    return labels_of(container).get(L.SERVICE, "")


def number_of(container: Container) -> int:
    try:
        return int(labels_of(container).get(L.NUMBER, "0"))
    except ValueError:
        return 0


def is_oneoff(container: Container) -> bool:
    return labels_of(container).get(L.ONEOFF, "False").lower() == "true"


def project_containers(
    engine: Engine,
    project: str,
    *,
    services: list[str] | None = None,
    oneoff: bool | None = False,
    running_only: bool = False,
) -> list[Container]:
    """The project's containers, sorted by service then number. ``oneoff``: False for
    service containers, True for ``run`` ones, None for both."""
    from dockyard.engine.filters import Filters

    found = engine.containers.list_containers(
        show_all=True, filters=Filters({"label": [f"{L.PROJECT}={project}"]})
    )
    result = []
    for c in found:
        if oneoff is not None and is_oneoff(c) != oneoff:
            continue
        if services is not None and service_of(c) not in services:
            continue
        if running_only and c.status not in ACTIVE:
            continue
        result.append(c)
    result.sort(key=lambda c: (service_of(c), is_oneoff(c), number_of(c), c.name))
    return result


def short_name(container: Container, project: str) -> str:
    """The log prefix: ``<service>-<n>`` for compose-named containers, else the name."""
    prefix = project + "-"
    name = container.name
    return name[len(prefix) :] if name.startswith(prefix) else name


def all_projects(engine: Engine) -> dict[str, list[Container]]:
    from dockyard.engine.filters import Filters

    projects: dict[str, list[Container]] = {}
    for c in engine.containers.list_containers(
        show_all=True, filters=Filters({"label": [L.PROJECT]})
    ):
        projects.setdefault(labels_of(c)[L.PROJECT], []).append(c)
    return projects
