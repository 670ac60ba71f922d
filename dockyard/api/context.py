"""What every route shares: the engine (one per worker thread), the event hub, and the
registries of pending attaches and execs.

The Engine's SQLite connection must not be used by two threads at once, so each
worker thread of the pool gets its own Engine on the same options; a route runs
its blocking engine work with :meth:`ApiContext.run`.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, TypeVar

from dockyard.config import Options
from dockyard.engine import Engine

if TYPE_CHECKING:
    from dockyard.api.attach import AttachRegistry
    from dockyard.api.events import EventHub
    from dockyard.api.execs import ExecRegistry

T = TypeVar("T")
WORKER_THREADS = 64


class ApiContext:
    def __init__(self, options: Options) -> None:
        self.options = options
        self._local = threading.local()
        self._engines: list[Engine] = []
        self._lock = threading.Lock()
        self.pool = ThreadPoolExecutor(WORKER_THREADS, thread_name_prefix="engine")
        from dockyard.api.attach import AttachRegistry
        from dockyard.api.events import EventHub
        from dockyard.api.execs import ExecRegistry

        self.events: EventHub = EventHub(self)
        self.attaches: AttachRegistry = AttachRegistry()
        self.execs: ExecRegistry = ExecRegistry()

    def engine(self) -> Engine:
        """This thread's Engine."""
        engine: Engine | None = getattr(self._local, "engine", None)
        if engine is None:
            engine = Engine(self.options)
            self._local.engine = engine
            with self._lock:
                self._engines.append(engine)
        return engine

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """``fn(engine, *args)`` on a worker thread."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.pool, lambda: fn(self.engine(), *args))

    async def run_plain(self, fn: Callable[..., T], *args: Any) -> T:
        """``fn(*args)`` on a worker thread (blocking work that needs no engine)."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.pool, lambda: fn(*args))

    def close(self) -> None:
        self.pool.shutdown(wait=False, cancel_futures=True)
        with self._lock:
            for engine in self._engines:
                engine.close()
            self._engines.clear()
