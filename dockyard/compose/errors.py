"""The one error type the compose loader raises; its message is Docker Compose's wording."""

from __future__ import annotations

from dockyard.errors import InvalidArgument


class ComposeError(InvalidArgument):
    """Invalid compose input: YAML, schema, interpolation, references, files.

    Docker Compose v2 exits 15 when it cannot load a project (its parse-failure status)
    and 14 when no compose file is found; ``with_code`` sets the latter.
    """

    exit_code = 15

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.warnings: list[str] = []
