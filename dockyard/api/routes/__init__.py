"""Route modules, one per area of the Engine API; each has ``setup(router)``."""
