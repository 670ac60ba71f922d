"""JSON through the C accelerator only.

``import json`` pulls in ``re`` and ``enum`` (about 1.5 MiB in every monitor);
``_json`` alone gives the same encoder and decoder. Go's encoder escapes
``<``, ``>``, ``&``, U+2028 and U+2029; :func:`dumps` does too, so log lines
are byte-for-byte what Docker writes.
"""

from __future__ import annotations

import _json

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs the monitor memory
if TYPE_CHECKING:
    from typing import Any


class _Ctx:
    strict = True
    object_hook = None
    object_pairs_hook = None
    parse_float = float
    parse_int = int
    memo: dict[str, str]

    def __init__(self) -> None:
        self.memo = {}

    @staticmethod
    def parse_constant(name: str) -> float:
        return {"NaN": float("nan"), "Infinity": float("inf"), "-Infinity": float("-inf")}[name]


_scan = _json.make_scanner(_Ctx())  # type: ignore[arg-type]


def _raise(obj: object) -> object:
    raise TypeError(f"not JSON serializable: {type(obj).__name__}")


_encode = _json.make_encoder(
    None, _raise, _json.encode_basestring, None, ":", ",", False, False, True
)


def loads(text: str | bytes) -> Any:
    if isinstance(text, bytes):
        text = text.decode("utf-8")
    ws = " \t\n\r"
    i = 0
    while i < len(text) and text[i] in ws:
        i += 1
    try:
        value, end = _scan(text, i)
    except StopIteration as e:
        raise ValueError(f"invalid JSON at {e.value}") from None
    while end < len(text) and text[end] in ws:
        end += 1
    if end != len(text):
        raise ValueError(f"extra data in JSON at {end}")
    return value


def dumps(obj: object) -> str:
    """Compact JSON, UTF-8 kept as is, with Go's HTML-safe escapes."""
    out = "".join(_encode(obj, 0))
    if "<" in out or ">" in out or "&" in out or "\u2028" in out or "\u2029" in out:
        out = (
            out.replace("<", "\\u003c")
            .replace(">", "\\u003e")
            .replace("&", "\\u0026")
            .replace("\u2028", "\\u2028")
            .replace("\u2029", "\\u2029")
        )
    return out
