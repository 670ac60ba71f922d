"""API version negotiation and the headers every answer carries, as dockerd's."""

from __future__ import annotations

from dockyard import __version__
from dockyard.engine.system import API_VERSION, MIN_API_VERSION
from dockyard.errors import InvalidArgument

__all__ = ["API_VERSION", "MIN_API_VERSION", "check_version", "parse_version", "server_headers"]


def parse_version(text: str) -> tuple[int, int]:
    major, _, minor = text.partition(".")
    try:
        return int(major), int(minor or 0)
    except ValueError:
        raise InvalidArgument(f"invalid API version: {text}") from None


def check_version(requested: str) -> None:
    """dockerd's versionMiddleware: 400 for a version outside [MIN_API_VERSION, API_VERSION]."""
    wanted = parse_version(requested)
    if wanted > parse_version(API_VERSION):
        raise InvalidArgument(
            f"client version {requested} is too new. Maximum supported API version is {API_VERSION}"
        )
    if wanted < parse_version(MIN_API_VERSION):
        raise InvalidArgument(
            f"client version {requested} is too old. Minimum supported API version is"
            f" {MIN_API_VERSION}, please upgrade your client to a newer version"
        )


def server_headers(experimental: bool) -> dict[str, str]:
    return {
        "Api-Version": API_VERSION,
        "Docker-Experimental": "true" if experimental else "false",
        "Ostype": "linux",
        "Server": f"Docker/{__version__} (linux)",
    }
