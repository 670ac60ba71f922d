"""The per-container monitor (conmon's role).

One small process per running container: it asks the OCI runtime to create and
start the container, owns its stdio (pipes or a pty), writes the log, serves an
attach socket, records the exit, applies the restart policy, runs health checks
and, with ``--rm``, cleans up. It outlives the CLI that started it.

This package's ``__init__`` imports nothing: the monitor process imports only
the modules it needs (see :mod:`.main`), to keep its memory small. The engine
uses :func:`dockyard.runtime.monitor.launch.spawn` and
:class:`dockyard.runtime.monitor.client.AttachClient`.
"""
