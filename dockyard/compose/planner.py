"""Start order of services, dependency cycles, and the config hash Compose uses to
decide whether a service's containers must be recreated."""

from __future__ import annotations

import hashlib
import json
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


_NOT_HASHED = ("build", "pull_policy", "scale", "deploy", "develop", "depends_on", "profiles")


def config_hash(service: dict[str, Any]) -> str:
    """The ``com.docker.compose.config-hash`` label value: SHA-256 of the normalised
    service without what Compose leaves out of its hash (build, pull_policy, scale,
    deploy.replicas, depends_on, profiles), so a change to any of those does not
    recreate containers. Same semantics as Compose; the bytes hashed are dockyard's
    canonical JSON, so the value differs from the one Compose writes."""
    relevant = {k: v for k, v in service.items() if k not in _NOT_HASHED}
    deploy = service.get("deploy")
    if isinstance(deploy, dict):
        trimmed = {k: v for k, v in deploy.items() if k != "replicas"}
        if trimmed:
            relevant["deploy"] = trimmed
    text = json.dumps(relevant, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


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
