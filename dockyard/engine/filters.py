"""Docker's filter arguments: ``-f key=value`` on the CLI, ``filters=`` JSON in the API."""

from __future__ import annotations

import json
import time

from dockyard.errors import InvalidArgument


class Filters:
    def __init__(self, values: dict[str, list[str]] | None = None) -> None:
        self.values: dict[str, list[str]] = {k: list(v) for k, v in (values or {}).items()}

    @classmethod
    def from_cli(cls, args: list[str]) -> Filters:
        values: dict[str, list[str]] = {}
        for arg in args:
            key, sep, value = arg.partition("=")
            if not sep:
                raise InvalidArgument("bad format of filter (expected name=value)")
            values.setdefault(key.strip().lower(), []).append(value)
        return cls(values)

    @classmethod
    def from_json(cls, text: str) -> Filters:
        """Both API forms: ``{"k": {"v": true}}`` and the legacy ``{"k": ["v"]}``."""
        if not text:
            return cls()
        try:
            raw = json.loads(text)
        except ValueError as exc:
            raise InvalidArgument(f"invalid filter: {exc}") from None
        if not isinstance(raw, dict):
            raise InvalidArgument("invalid filter: expected a JSON object")
        values: dict[str, list[str]] = {}
        for key, value in raw.items():
            if isinstance(value, dict):
                values[key] = [str(v) for v, on in value.items() if on]
            elif isinstance(value, list):
                values[key] = [str(v) for v in value]
            else:
                raise InvalidArgument(f"Invalid filter '{key}'")
        return cls(values)

    def to_json(self) -> str:
        return json.dumps({k: {v: True for v in vs} for k, vs in self.values.items()})

    def validate(self, allowed: tuple[str, ...]) -> None:
        for key in self.values:
            if key not in allowed:
                raise InvalidArgument(f"Invalid filter '{key}'")

    def has(self, key: str) -> bool:
        return bool(self.values.get(key))

    def get(self, key: str) -> list[str]:
        return self.values.get(key, [])

    def bool_value(self, key: str) -> bool:
        result: bool | None = None
        for value in self.get(key):
            lowered = value.lower()
            if lowered in ("true", "1"):
                parsed = True
            elif lowered in ("false", "0"):
                parsed = False
            else:
                raise InvalidArgument(f"Invalid filter '{key}=[{value}]'")
            if result is not None and result != parsed:
                raise InvalidArgument(f"Invalid filter '{key}=[{value}]'")
            result = parsed
        return bool(result)

    def timestamp(self, value: str, now: float | None = None) -> float:
        from dockyard.timeutil import parse_timestamp

        return parse_timestamp(value, time.time() if now is None else now)
