"""Start order of services, dependency cycles, and the config hash Compose uses to
decide whether a service's containers must be recreated."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from dockyard.compose.errors import ComposeError


def _dependencies(service: dict[str, Any]) -> list[str]:
    return sorted(service.get("depends_on") or {})


def check_cycles(services: dict[str, Any]) -> None:
    """Raise Compose's ``dependency cycle detected`` error if depends_on loops."""
    state: dict[str, int] = {}  # 1 visiting, 2 done
    stack: list[str] = []

    def visit(name: str) -> None:
        state[name] = 1
        stack.append(name)
        for dep in _dependencies(services[name]):
            if dep not in services:
                continue
            if state.get(dep) == 1:
                cycle = [*stack[stack.index(dep) :], dep]
                raise ComposeError(f"dependency cycle detected: {' -> '.join(cycle)}")
            if dep not in state:
                visit(dep)
        stack.pop()
        state[name] = 2

    for name in sorted(services):
        if name not in state:
            visit(name)


def start_order(services: dict[str, Any]) -> list[list[str]]:
    """Services grouped in waves: each wave depends only on earlier waves (what can be
    started together). Raises on a cycle."""
    check_cycles(services)
    remaining = set(services)
    done: set[str] = set()
    waves: list[list[str]] = []
    while remaining:
        wave = sorted(
            name
            for name in remaining
            if all(d in done or d not in services for d in _dependencies(services[name]))
        )
        waves.append(wave)
        done.update(wave)
        remaining.difference_update(wave)
    return waves


def dependents(services: dict[str, Any], changed: set[str]) -> set[str]:
    """``changed`` and every service that (transitively) depends on one of them."""
    result = set(changed)
    grew = True
    while grew:
        grew = False
        for name, service in services.items():
            if name not in result and any(d in result for d in _dependencies(service)):
                result.add(name)
                grew = True
    return result


def config_hash(service: dict[str, Any], resolve: Callable[[str], str | None] | None = None) -> str:
    """The ``com.docker.compose.config-hash`` label value, byte for byte as Docker
    Compose v2 computes it (dockyard.compose.confighash): SHA-256 of compose-go's
    JSON of the service without build, pull_policy, scale, deploy.replicas,
    depends_on and profiles, so a change to those alone recreates nothing.
    ``resolve`` maps a service to its first container's ID, for ``service:``
    references (network_mode, ipc, pid, volumes_from)."""
    from dockyard.compose.confighash import service_hash

    return service_hash(service, resolve)


def with_dependencies(services: dict[str, Any], names: list[str]) -> list[str]:
    """``names`` and every service they depend on, transitively (sorted)."""
    selected: set[str] = set()
    pending = list(names)
    while pending:
        name = pending.pop()
        if name in selected or name not in services:
            continue
        selected.add(name)
        pending.extend(_dependencies(services[name]))
    return sorted(selected)


def container_name(project: str, service: str, number: int, spec: dict[str, Any]) -> str:
    """``container_name`` if the service sets one, else ``<project>-<service>-<n>``."""
    explicit = spec.get("container_name")
    if explicit:
        return str(explicit)
    return f"{project}-{service}-{number}"
