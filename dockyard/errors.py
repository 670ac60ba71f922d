"""Typed errors shared by every layer, and their mapping to exit codes and HTTP statuses.

Lower layers raise these; the CLI prints ``Error response from daemon: <msg>``-style
lines and exits with :attr:`DockyardError.exit_code`; the API server answers with
:attr:`DockyardError.http_status` and ``{"message": ...}``. The mapping lives here, once.
"""

from __future__ import annotations


class DockyardError(Exception):
    """Base of every error dockyard reports to a user."""

    exit_code = 1
    http_status = 500

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message

    def with_code(self, code: int) -> DockyardError:
        """The same error with another exit code (Docker varies it by command)."""
        self.exit_code = code
        return self


class InvalidArgument(DockyardError):
    """Bad input from the user: a malformed reference, flag value or file."""

    http_status = 400


class NotFound(DockyardError):
    """The named object does not exist."""

    http_status = 404


class Conflict(DockyardError):
    """The request clashes with the current state (in use, ambiguous, exists)."""

    http_status = 409


class Unauthorized(DockyardError):
    http_status = 401


class NotModified(DockyardError):
    http_status = 304


class Corrupt(DockyardError):
    """Data on disk or in an archive does not match what it claims to be."""

    http_status = 400


class Unsupported(DockyardError):
    """A feature this kernel, filesystem or build does not offer."""

    http_status = 501


class SystemFailure(DockyardError):
    """An operating-system call failed in a way the user cannot fix by input."""

    http_status = 500


class UsageError(DockyardError):
    """A command-line usage error (unknown flag, wrong argument count).

    Docker's CLI exits with 125 for these when they come from flag parsing.
    """

    exit_code = 125
    http_status = 400
