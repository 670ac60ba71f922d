"""How the CLI prints an error: Docker's wording and exit codes, one place."""

from __future__ import annotations

import sys

from dockyard.errors import DockyardError, UsageError


class ClientError(DockyardError):
    """An error Docker's CLI reports itself (no ``Error response from daemon:`` prefix)."""


def report(exc: DockyardError) -> int:
    if isinstance(exc, UsageError | ClientError):
        text = exc.message
    else:
        text = f"Error response from daemon: {exc.message}"
    sys.stderr.write(text.rstrip("\n") + "\n")
    return exc.exit_code
