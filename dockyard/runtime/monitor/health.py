"""Health checks: Docker's ``State.Health`` state machine (pure logic, no I/O).

The supervisor runs each probe (``runtime exec``) and feeds the result here;
:meth:`HealthState.to_json` is what ``health.json`` holds.
"""

from __future__ import annotations

from .timefmt import rfc3339nano

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs the monitor memory
if TYPE_CHECKING:
    from typing import Any


DEFAULT_INTERVAL = 30.0
DEFAULT_TIMEOUT = 30.0
DEFAULT_RETRIES = 3
MAX_LOG_ENTRIES = 5
MAX_OUTPUT = 4096

STARTING = "starting"
HEALTHY = "healthy"
UNHEALTHY = "unhealthy"


def _seconds(ns: object, default: float) -> float:
    if isinstance(ns, int) and not isinstance(ns, bool) and ns > 0:
        return ns / 1e9
    return default


def _frac(value: int, unit: int) -> str:
    whole, rest = divmod(value, unit)
    digits = len(str(unit)) - 1
    return f"{whole}.{rest:0{digits}d}".rstrip("0").rstrip(".") if rest else str(whole)


def go_duration(ns: int) -> str:
    """Go's ``time.Duration.String``: ``300ms``, ``1.5s``, ``1m30s``, ``2h0m0s``."""
    if ns == 0:
        return "0s"
    sign, ns = ("-", -ns) if ns < 0 else ("", ns)
    if ns < 1_000:
        return f"{sign}{ns}ns"
    if ns < 1_000_000:
        return f"{sign}{_frac(ns, 1_000)}µs"
    if ns < 1_000_000_000:
        return f"{sign}{_frac(ns, 1_000_000)}ms"
    hours, rest = divmod(ns, 3_600_000_000_000)
    minutes, rest = divmod(rest, 60_000_000_000)
    secs = _frac(rest, 1_000_000_000) + "s"
    if hours:
        return f"{sign}{hours}h{minutes}m{secs}"
    if minutes:
        return f"{sign}{minutes}m{secs}"
    return sign + secs


class HealthConfig:
    """Docker's ``Healthcheck`` (durations in nanoseconds, as in the API)."""

    __slots__ = ("interval", "retries", "start_period", "test", "timeout")

    def __init__(self, raw: dict[str, Any]) -> None:
        test = raw.get("Test") or []
        if not isinstance(test, list) or not all(isinstance(t, str) for t in test):
            raise ValueError("Healthcheck.Test must be a list of strings")
        self.test: list[str] = test
        self.interval = _seconds(raw.get("Interval"), DEFAULT_INTERVAL)
        self.timeout = _seconds(raw.get("Timeout"), DEFAULT_TIMEOUT)
        self.start_period = _seconds(raw.get("StartPeriod"), 0.0)
        retries = raw.get("Retries")
        self.retries = retries if isinstance(retries, int) and retries > 0 else DEFAULT_RETRIES

    @property
    def disabled(self) -> bool:
        return not self.test or self.test[0] == "NONE"

    def argv(self) -> list[str]:
        """The command to exec in the container."""
        kind, rest = self.test[0], self.test[1:]
        if kind == "CMD":
            return rest
        if kind == "CMD-SHELL":
            return ["/bin/sh", "-c", " ".join(rest)]
        raise ValueError(f"unknown Healthcheck.Test type {kind!r}")

    def timeout_message(self) -> str:
        return f"Health check exceeded timeout ({go_duration(round(self.timeout * 1e9))})"


class HealthState:
    def __init__(self, config: HealthConfig, started_ns: int) -> None:
        self.config = config
        self.started_ns = started_ns
        self.status = STARTING
        self.failing_streak = 0
        self.log: list[dict[str, Any]] = []

    def record(self, start_ns: int, end_ns: int, exit_code: int, output: str) -> None:
        """Fold one probe result in (``exit_code`` -1: the probe timed out or failed to run)."""
        self.log.append(
            {
                "Start": rfc3339nano(start_ns),
                "End": rfc3339nano(end_ns),
                "ExitCode": exit_code,
                "Output": output[:MAX_OUTPUT],
            }
        )
        del self.log[:-MAX_LOG_ENTRIES]
        if exit_code == 0:
            self.status = HEALTHY
            self.failing_streak = 0
            return
        in_start_period = (start_ns - self.started_ns) / 1e9 < self.config.start_period
        if in_start_period and self.status != HEALTHY:
            return  # failures during the start period do not count
        self.failing_streak += 1
        if self.failing_streak >= self.config.retries:
            self.status = UNHEALTHY

    def to_json(self) -> dict[str, Any]:
        return {"Status": self.status, "FailingStreak": self.failing_streak, "Log": self.log}
