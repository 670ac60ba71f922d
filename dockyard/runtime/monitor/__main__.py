"""``python -I -S -m dockyard.runtime.monitor ARGS`` (when dockyard is importable)."""

from dockyard.runtime.monitor.main import main

main()
