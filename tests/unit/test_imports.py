"""Every module imports, and the hot path of ``images`` stays lean."""

from __future__ import annotations

import importlib
import pkgutil
import subprocess
import sys

import dockyard


def test_every_module_imports() -> None:
    for module in pkgutil.walk_packages(dockyard.__path__, "dockyard."):
        if module.name.endswith(".__main__"):
            continue  # an entry point runs when imported
        importlib.import_module(module.name)


def test_image_listing_avoids_costly_modules() -> None:
    code = (
        "import sys\n"
        "import dockyard.cli.main, dockyard.cli.commands.image, dockyard.engine.images\n"
        "heavy = {'typing', 'dataclasses', 'argparse', 'shutil', 'hashlib', 'logging'}\n"
        "print(sorted(heavy & set(sys.modules)))\n"
    )
    out = subprocess.run(
        [sys.executable, "-S", "-c", code],
        capture_output=True,
        text=True,
        check=True,
        cwd=str(next(iter(dockyard.__path__)) + "/.."),
    ).stdout
    assert out.strip() == "[]"
