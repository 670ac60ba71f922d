"""Packages import only from below (ARCHITECTURE.md's layer table), checked on the source.

Every ``import`` counts: at module level, inside functions and under
``TYPE_CHECKING``, because a lazy import is still a dependency.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "dockyard"

# Bottom-up; modules in one group may import each other.
LAYERS: list[set[str]] = [
    {"errors", "config", "timeutil", "log", "golang", "__init__"},
    {"oci"},
    {"store"},
    {"runtime"},
    {"network"},
    {"registry"},
    {"engine"},
    {"build"},
    {"compose"},
    {"api"},
    {"cli", "__main__"},
]
RANK = {name: rank for rank, group in enumerate(LAYERS) for name in group}


def _top(module: str) -> str | None:
    parts = module.split(".")
    if parts[0] != "dockyard":
        return None
    if len(parts) == 1 or parts[1] not in RANK:  # the package itself, or a name in it
        return "__init__"
    return parts[1]


def _imports(tree: ast.AST) -> list[tuple[int, str]]:
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
            found += [(node.lineno, f"{node.module}.{a.name}") for a in node.names
                      if node.module == "dockyard"]
    return found


def test_every_top_level_module_has_a_layer() -> None:
    names = {p.stem if p.is_file() else p.name for p in PACKAGE.iterdir()
             if (p.suffix == ".py" or (p.is_dir() and (p / "__init__.py").exists()))}
    assert names - set(RANK) == set()


def test_packages_import_only_from_below() -> None:
    wrong = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE)
        own = rel.parts[0].removesuffix(".py")
        for line, module in _imports(ast.parse(path.read_text(), str(path))):
            top = _top(module)
            if top is None or top == "__init__" or top == own:
                continue
            if RANK[top] > RANK[own]:
                wrong.append(f"{rel}:{line} imports {module}")
    assert wrong == []
