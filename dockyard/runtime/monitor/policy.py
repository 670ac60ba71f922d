"""Restart policies and Docker's back-off (pure logic)."""

from __future__ import annotations

BACKOFF_START = 0.1  # seconds; doubles after each restart
BACKOFF_MAX = 60.0
RESET_AFTER = 10.0  # a container that ran this long resets the back-off


class RestartPolicy:
    """``no``, ``on-failure[:N]``, ``always`` or ``unless-stopped``."""

    __slots__ = ("max_retries", "name")

    def __init__(self, name: str = "no", max_retries: int = 0) -> None:
        self.name = name
        self.max_retries = max_retries

    @classmethod
    def parse(cls, text: str) -> RestartPolicy:
        name, _, count = (text or "no").partition(":")
        if name not in ("no", "on-failure", "always", "unless-stopped"):
            raise ValueError(f"invalid restart policy '{name}'")
        if count and name != "on-failure":
            raise ValueError(f"maximum retry count cannot be used with restart policy '{name}'")
        try:
            retries = int(count) if count else 0
        except ValueError:
            raise ValueError(f"invalid restart count: {count!r}") from None
        if retries < 0:
            raise ValueError("maximum retry count cannot be negative")
        return cls(name, retries)

    def should_restart(self, exit_code: int, restart_count: int, stopped_by_user: bool) -> bool:
        if stopped_by_user or self.name == "no":
            return False
        if self.name == "on-failure":
            return exit_code != 0 and (self.max_retries == 0 or restart_count < self.max_retries)
        return True


class Backoff:
    """Docker's restart delay: 100 ms, doubling, back to 100 ms after a 10 s run."""

    def __init__(self) -> None:
        self.delay = 0.0

    def next(self, ran_for: float) -> float:
        if ran_for >= RESET_AFTER or self.delay == 0.0:
            self.delay = BACKOFF_START
        else:
            self.delay = min(self.delay * 2, BACKOFF_MAX)
        return self.delay
