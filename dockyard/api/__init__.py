"""The Docker Engine API server (``dockyard serve``): routes → Engine calls.

``app`` builds the aiohttp application from the route modules listed in
``routes.MODULES`` (a new area plugs in by adding a module there); ``server``
binds the listeners and runs it until SIGTERM. Containers never depend on the
server: each has its own monitor, so stopping the server leaves them running.
"""
