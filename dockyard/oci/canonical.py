"""Deterministic JSON bytes for the documents we create (configs, manifests, indexes).

The digest of a document is the digest of its bytes, so the bytes must not
depend on chance. The choice made here mirrors Go's ``encoding/json``, which
wrote every Docker-made config and manifest:

* compact: no spaces, no trailing newline;
* object keys in *insertion order*, because Go writes struct fields in
  declaration order -- the builders in :mod:`dockyard.oci.image` insert keys in the
  Go structs' order and sort the keys of map-typed fields (labels, annotations,
  exposed ports, volumes), as Go sorts map keys;
* UTF-8 output; ``<``, ``>``, ``&``, U+2028 and U+2029 escaped as ``\\u003c`` etc.,
  as Go's HTML-safe encoder does; other control characters as JSON requires;
* NaN and infinities refused (Go refuses them too); lone surrogates become U+FFFD.

Bytes received from elsewhere are never re-serialised: their digest is of the
bytes as received.
"""

from __future__ import annotations

import json
import re
from typing import Any

_LONE_SURROGATE = re.compile("[\ud800-\udfff]")

_GO_ESCAPES = (
    ("<", "\\u003c"),
    (">", "\\u003e"),
    ("&", "\\u0026"),
    ("\u2028", "\\u2028"),
    ("\u2029", "\\u2029"),
)


def canonical_json(obj: Any) -> bytes:
    """Serialise ``obj`` as Go's ``json.Marshal`` would (see module docstring)."""
    text = json.dumps(obj, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    # These characters can only occur inside strings, so plain replacement is safe.
    for char, escaped in _GO_ESCAPES:
        if char in text:
            text = text.replace(char, escaped)
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        # Go writes U+FFFD for what is not valid UTF-8 (here: lone surrogates).
        return _LONE_SURROGATE.sub("\ufffd", text).encode("utf-8")
