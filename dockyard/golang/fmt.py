"""Go value printing as ``fmt`` and ``encoding/json`` do it, for Python values mapped from Go.

The mapping used everywhere in :mod:`dockyard.cli.format`:

==========================  ==============================================
Python                      Go
==========================  ==============================================
``None``                    a nil pointer / interface (prints ``<nil>``)
``bool``                    ``bool``
``int``                     ``int`` / ``int64``
``float``                   ``float64``
``str``                     ``string``
``list`` / ``tuple``        a slice (``[a b]``)
``dict``                    a map (``map[k:v]``, keys sorted like fmt does)
:class:`GoStruct`           a struct (``{v1 v2}``), missing field is an error
:class:`NilSlice`           a nil slice: prints ``[]``, JSON ``null``
:class:`NilMap`             a nil map: prints ``map[]``, JSON ``null``
other objects               a struct; public attributes are fields and
                            methods are callable from templates
==========================  ==============================================

JSON of a ``dict`` keeps insertion order (data decoded from Docker's JSON already has
Go's order: declaration order for structs, sorted keys for maps).  An object may define
``__go_json__()`` returning the JSON-able value to encode (Go's ``MarshalJSON``), and
``__go_type__`` (a class attribute) naming its Go type for error messages and ``%T``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping

TYPE_CHECKING = False  # typing costs every command ~2 ms to import
if TYPE_CHECKING:
    from typing import Any

__all__ = [
    "GoStruct",
    "NilMap",
    "NilSlice",
    "clean_output",
    "format_float",
    "from_utf8_bytes",
    "go_parse_float",
    "go_quote",
    "go_type_name",
    "json_marshal",
    "sprint",
    "sprint_value",
    "sprintf",
    "sprintln",
    "struct_fields",
    "utf8_bytes",
]


def utf8_bytes(s: str) -> bytes:
    """The bytes Go would hold for *s* (raw bytes kept as surrogate escapes)."""
    try:
        return s.encode("utf-8")
    except UnicodeEncodeError:
        pass
    try:
        return s.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        return s.encode("utf-8", "surrogatepass")


def from_utf8_bytes(b: bytes) -> str:
    """Inverse of :func:`utf8_bytes`: invalid bytes become surrogate escapes."""
    return b.decode("utf-8", "surrogateescape")


def clean_output(s: str) -> str:
    """Make text writable: raw (invalid UTF-8) bytes become U+FFFD, as a terminal shows."""
    if s.isascii():
        return s
    try:
        s.encode("utf-8")
        return s
    except UnicodeEncodeError:
        return "".join("\ufffd" if 0xD800 <= ord(c) <= 0xDFFF else c for c in s)


if TYPE_CHECKING:
    _Dict = dict[str, Any]
    _List = list[Any]
else:
    _Dict = dict
    _List = list


class GoStruct(_Dict):
    """A dict standing for a Go struct value.

    Field lookup of a missing key is an error (``can't evaluate field``), ``%v`` prints
    ``{v1 v2}`` in insertion order, and it is always true in ``{{if}}``.
    """

    __slots__ = ("go_type",)

    def __init__(self, *args: Any, go_type: str = "struct", **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.go_type = go_type


class NilSlice(_List):
    """A Go nil slice: empty, prints ``[]``, encodes to JSON ``null``."""

    __slots__ = ()


class NilMap(_Dict):
    """A Go nil map: empty, prints ``map[]``, encodes to JSON ``null``."""

    __slots__ = ()


# ---------------------------------------------------------------------------
# type names


def go_type_name(v: Any) -> str:
    """Best-effort Go type name of a Python value, for messages and ``%T``."""
    if v is None:
        return "<nil>"
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, int):
        return "int"
    if isinstance(v, float):
        return "float64"
    if isinstance(v, str):
        return "string"
    if isinstance(v, GoStruct):
        return v.go_type
    name = getattr(type(v), "__go_type__", None)
    if isinstance(name, str):
        return name
    if isinstance(v, (bytes, bytearray)):
        return "[]uint8"
    if isinstance(v, (list, tuple)):
        if v and all(isinstance(x, str) for x in v):
            return "[]string"
        if v:
            names = {go_type_name(x) for x in v}
            if len(names) == 1 and isinstance(v[0], GoStruct):
                return "[]" + names.pop()
        return "[]interface {}"
    if isinstance(v, Mapping):
        if v and all(isinstance(x, str) for x in v.values()):
            return "map[string]string"
        return "map[string]interface {}"
    return type(v).__name__


def _is_stringer(v: Any) -> bool:
    """Whether an object defines its own ``__str__`` (Go's Stringer / error)."""
    if isinstance(v, BaseException):
        return True
    for klass in type(v).__mro__:
        if klass is object:
            return False
        if "__str__" in klass.__dict__:
            return True
    return False


def struct_fields(v: Any) -> list[tuple[str, Any]]:
    """The (name, value) pairs of a struct-like value, in declaration order."""
    if isinstance(v, Mapping):
        return list(v.items())
    dc = getattr(v, "__dataclass_fields__", None)
    if dc is not None:
        return [(n, getattr(v, n)) for n in dc if not n.startswith("_")]
    slots = getattr(type(v), "__slots__", None)
    if slots and not hasattr(v, "__dict__"):
        names = [slots] if isinstance(slots, str) else list(slots)
        return [(n, getattr(v, n)) for n in names if not n.startswith("_") and hasattr(v, n)]
    d = getattr(v, "__dict__", None)
    if isinstance(d, dict):
        return [(k, x) for k, x in d.items() if not k.startswith("_")]
    return []


def _sorted_items(m: Mapping[Any, Any]) -> list[tuple[Any, Any]]:
    items = list(m.items())
    try:
        items.sort(key=lambda kv: (_kind_rank(kv[0]), kv[0]))
    except TypeError:
        items.sort(key=lambda kv: (_kind_rank(kv[0]), str(kv[0])))
    return items


def _kind_rank(k: Any) -> int:
    if isinstance(k, bool):
        return 0
    if isinstance(k, (int, float)):
        return 1
    if isinstance(k, str):
        return 2
    return 3


# ---------------------------------------------------------------------------
# floats


def _shortest_digits(f: float) -> tuple[str, int]:
    """Shortest round-tripping decimal digits of abs(f) and the decimal point position.

    The value is ``0.<digits> * 10**dp``; zero gives ``("", 0)``.
    """
    s = repr(abs(f))
    exp = 0
    if "e" in s:
        s, e = s.split("e")
        exp = int(e)
    if "." in s:
        ip, fp = s.split(".")
    else:
        ip, fp = s, ""
    digits = ip + fp
    dp = len(ip) + exp
    stripped = digits.lstrip("0")
    dp -= len(digits) - len(stripped)
    digits = stripped.rstrip("0")
    if not digits:
        return "", 0
    return digits, dp


def _fmt_e_digits(digits: str, dp: int, prec: int, upper: bool) -> str:
    if not digits:
        digits, dp = "0", 1
    mant = digits[0]
    rest = digits[1:]
    if prec < 0:
        if rest:
            mant += "." + rest
    elif prec > 0:
        mant += "." + (rest + "0" * prec)[:prec]
    exp = dp - 1 if digits != "0" else 0
    sign = "-" if exp < 0 else "+"
    e = "E" if upper else "e"
    return f"{mant}{e}{sign}{abs(exp):02d}"


def _fmt_f_digits(digits: str, dp: int, prec: int) -> str:
    if not digits:
        ip, fp = "0", ""
    elif dp <= 0:
        ip, fp = "0", "0" * (-dp) + digits
    elif dp >= len(digits):
        ip, fp = digits + "0" * (dp - len(digits)), ""
    else:
        ip, fp = digits[:dp], digits[dp:]
    if prec < 0:
        return ip + ("." + fp if fp else "")
    if prec == 0:
        return ip
    return ip + "." + (fp + "0" * prec)[:prec]


def format_float(f: float, verb: str = "g", prec: int = -1) -> str:
    """strconv.FormatFloat(f, verb, prec, 64) for verbs e E f F g G (prec -1: shortest)."""
    if math.isnan(f):
        return "NaN"
    if math.isinf(f):
        return "+Inf" if f > 0 else "-Inf"
    neg = math.copysign(1.0, f) < 0
    sign = "-" if neg else ""
    if prec >= 0:
        v = "f" if verb == "F" else verb
        if v in "gG" and prec == 0:
            prec = 1
        return format(f, f".{prec}{v}")
    digits, dp = _shortest_digits(f)
    if verb in "eE":
        return sign + _fmt_e_digits(digits, dp, -1, verb == "E")
    if verb in "fF":
        return sign + _fmt_f_digits(digits, dp, -1)
    # 'g' / 'G' shortest: %e is used if the exponent is < -4 or >= 6 (strconv uses
    # precision 6 for this decision when the precision is the shortest possible).
    if not digits:
        return sign + "0"
    exp = dp - 1
    if exp < -4 or exp >= 6:
        return sign + _fmt_e_digits(digits, dp, -1, verb == "G")
    return sign + _fmt_f_digits(digits, dp, -1)


def _json_float(f: float) -> str:
    if math.isnan(f) or math.isinf(f):
        raise ValueError(f"json: unsupported value: {format_float(f)}")
    a = abs(f)
    if a != 0 and (a < 1e-6 or a >= 1e21):
        s = format_float(f, "e", -1)
        # clean up e-09 to e-9
        if len(s) >= 4 and s[-4] == "e" and s[-3] == "-" and s[-2] == "0":
            s = s[:-2] + s[-1]
        return s
    return format_float(f, "f", -1)


# ---------------------------------------------------------------------------
# %v


def sprint_value(v: Any, plus: bool = False) -> str:
    """fmt's ``%v`` (``%+v`` with *plus*) of a value."""
    if v is None:
        return "<nil>"
    if v is True:
        return "true"
    if v is False:
        return "false"
    if isinstance(v, str):
        return v
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return format_float(v, "g", -1)
    if isinstance(v, GoStruct):
        return _struct_str(list(v.items()), plus)
    if isinstance(v, (bytes, bytearray)):
        return "[" + " ".join(str(b) for b in v) + "]"
    if isinstance(v, (list, tuple)):
        return "[" + " ".join(sprint_value(x, plus) for x in v) + "]"
    if isinstance(v, Mapping):
        return (
            "map["
            + " ".join(
                sprint_value(k, plus) + ":" + sprint_value(x, plus) for k, x in _sorted_items(v)
            )
            + "]"
        )
    if _is_stringer(v):
        return str(v)
    return _struct_str(struct_fields(v), plus)


def _struct_str(fields: list[tuple[str, Any]], plus: bool) -> str:
    if plus:
        return "{" + " ".join(f"{k}:{sprint_value(x, plus)}" for k, x in fields) + "}"
    return "{" + " ".join(sprint_value(x, plus) for _, x in fields) + "}"


def sprint(args: Iterable[Any]) -> str:
    """fmt.Sprint: spaces are added between operands when neither is a string."""
    out: list[str] = []
    prev_string = True
    for i, a in enumerate(args):
        is_string = isinstance(a, str)
        if i > 0 and not is_string and not prev_string:
            out.append(" ")
        out.append(sprint_value(a))
        prev_string = is_string
    return "".join(out)


def sprintln(args: Iterable[Any]) -> str:
    """fmt.Sprintln: spaces always between operands, newline appended."""
    return " ".join(sprint_value(a) for a in args) + "\n"


# ---------------------------------------------------------------------------
# strconv.ParseFloat


def _underscore_ok(s: str) -> bool:
    saw = "^"
    i = 0
    if s[:1] in ("+", "-"):
        s = s[1:]
    hexa = False
    if len(s) >= 2 and s[0] == "0" and s[1].lower() in "box":
        i = 2
        saw = "0"
        hexa = s[1].lower() == "x"
    while i < len(s):
        c = s[i]
        if "0" <= c <= "9" or (hexa and "a" <= c.lower() <= "f"):
            saw = "0"
        elif c == "_":
            if saw != "0":
                return False
            saw = "_"
        else:
            if saw == "_":
                return False
            saw = "!"
        i += 1
    return saw != "_"


def go_parse_float(s: str) -> float:
    """strconv.ParseFloat(s, 64); raises ValueError("invalid syntax" / "value out of range")."""
    t = s
    neg = False
    if t[:1] in ("+", "-"):
        neg = t[0] == "-"
        t = t[1:]
    low = t.lower()
    if low in ("inf", "infinity"):
        return -math.inf if neg else math.inf
    if s.lower() == "nan":
        return math.nan
    if not t or not t.isascii():
        raise ValueError("invalid syntax")
    if "_" in t and not _underscore_ok(s):
        raise ValueError("invalid syntax")
    body = t.replace("_", "")
    if low.startswith("0x"):
        h = body[2:]
        if "p" not in h.lower():
            raise ValueError("invalid syntax")
        mant, _, exp = h.lower().partition("p")
        ip, _, fp = mant.partition(".")
        if not (ip or fp) or any(c not in "0123456789abcdef" for c in ip + fp):
            raise ValueError("invalid syntax")
        e = exp[1:] if exp[:1] in ("+", "-") else exp
        if not e.isdigit():
            raise ValueError("invalid syntax")
        try:
            v = float.fromhex("0x" + (ip or "0") + "." + fp + "p" + exp)
        except OverflowError:
            raise ValueError("value out of range") from None
    else:
        mant, has_exp, exp = body.lower().partition("e")
        ip, _, fp = mant.partition(".")
        if not (ip + fp).isdigit():
            raise ValueError("invalid syntax")
        if has_exp:
            e = exp[1:] if exp[:1] in ("+", "-") else exp
            if not e.isdigit():
                raise ValueError("invalid syntax")
        v = float(body)
    if math.isinf(v):
        raise ValueError("value out of range")
    return -v if neg else v


# ---------------------------------------------------------------------------
# strconv.Quote


def _is_print(c: str) -> bool:
    return c == " " or (c.isprintable() and not c.isspace())


def go_quote(s: str, ascii_only: bool = False) -> str:
    """strconv.Quote (``ascii_only``: strconv.QuoteToASCII)."""
    out = ['"']
    for c in s:
        o = ord(c)
        if c == '"':
            out.append('\\"')
        elif c == "\\":
            out.append("\\\\")
        elif _is_print(c) and (o < 0x80 or not (ascii_only or 0xD800 <= o <= 0xDFFF)):
            out.append(c)
        elif c in _SHORT_ESC:
            out.append(_SHORT_ESC[c])
        elif 0xDC80 <= o <= 0xDCFF:
            out.append(f"\\x{o - 0xDC00:02x}")
        elif 0xD800 <= o <= 0xDFFF:
            out.append("\\ufffd")
        elif o < 0x20 or o == 0x7F:
            out.append(f"\\x{o:02x}")
        elif o < 0x10000:
            out.append(f"\\u{o:04x}")
        else:
            out.append(f"\\U{o:08x}")
    out.append('"')
    return "".join(out)


_SHORT_ESC = {
    "\a": "\\a",
    "\b": "\\b",
    "\f": "\\f",
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
    "\v": "\\v",
}


def _quote_rune(o: int, ascii_only: bool = False) -> str:
    if o > 0x10FFFF or 0xD800 <= o <= 0xDFFF:
        o = 0xFFFD
    c = chr(o)
    if c == "'":
        return "'\\''"
    q = go_quote(c, ascii_only)[1:-1]
    if q == '\\"':
        q = '"'
    return "'" + q + "'"


# ---------------------------------------------------------------------------
# Printf


class _Spec:
    __slots__ = (
        "minus",
        "plus",
        "plusv",
        "prec",
        "sharp",
        "sharpv",
        "space",
        "verb",
        "width",
        "zero",
    )

    def __init__(self) -> None:
        self.minus = False
        self.plus = False
        self.plusv = False
        self.sharpv = False
        self.sharp = False
        self.space = False
        self.zero = False
        self.width = -1
        self.prec = -1
        self.verb = ""


def _pad(s: str, sp: _Spec, zero: bool = True, numeric: bool = False) -> str:
    """Pad to the width: spaces, or zeros with the 0 flag (after the sign for numbers)."""
    w = sp.width
    if w < 0 or len(s) >= w:
        return s
    n = w - len(s)
    if sp.minus:
        return s + " " * n
    if sp.zero and zero:
        if numeric and s[:1] in ("+", "-", " "):
            return s[0] + "0" * n + s[1:]
        return "0" * n + s
    return " " * n + s


def _bad_verb(verb: str, arg: Any, missing: bool = False) -> str:
    if missing:
        return f"%!{verb}(MISSING)"
    if arg is None:
        return f"%!{verb}(<nil>)"
    return f"%!{verb}({go_type_name(arg)}={sprint_value(arg)})"


def _fmt_int(n: int, sp: _Spec) -> str:
    verb = sp.verb
    if verb == "c":
        return _pad(chr(n) if 0 <= n <= 0x10FFFF else "\ufffd", sp)
    if verb == "q":
        return _pad(_quote_rune(n, sp.plus), sp)
    if verb == "U":
        s = f"U+{n:04X}" if n >= 0 else f"U+{n & 0xFFFFFFFFFFFFFFFF:04X}"
        if sp.sharp and 0 <= n <= 0x10FFFF and _is_print(chr(n)):
            s += " '" + chr(n) + "'"
        return _pad(s, sp)
    neg = n < 0
    a = -n if neg else n
    if verb in ("d", "v"):
        body = str(a)
    elif verb == "b":
        body = format(a, "b")
    elif verb in ("o", "O"):
        body = format(a, "o")
    elif verb == "x":
        body = format(a, "x")
    else:
        body = format(a, "X")
    if sp.prec >= 0:
        if sp.prec == 0 and a == 0:
            body = ""
        body = body.rjust(sp.prec, "0")
    prefix = ""
    if verb == "O":
        prefix = "0o"
    elif sp.sharp:
        if verb == "b":
            prefix = "0b"
        elif verb == "o" and not body.startswith("0"):
            prefix = "0"
        elif verb == "x":
            prefix = "0x"
        elif verb == "X":
            prefix = "0X"
    sign = "-" if neg else ("+" if sp.plus else (" " if sp.space else ""))
    s = prefix + body
    if sp.zero and not sp.minus and sp.prec < 0 and sp.width > len(sign) + len(s):
        s = prefix + body.rjust(sp.width - len(sign) - len(prefix), "0")
    return _pad(sign + s, sp, zero=False)


def _hex_float(f: float, prec: int, upper: bool) -> str:
    if math.isnan(f) or math.isinf(f):
        return format_float(f)
    sign = "-" if math.copysign(1.0, f) < 0 else ""
    a = abs(f)
    if a == 0:
        mant, exp = "0", 0
        frac = ""
    else:
        m, e = math.frexp(a)  # a = m * 2**e, 0.5 <= m < 1
        mi = int(m * (1 << 53))  # 53-bit integer mantissa
        exp = e - 1
        # normalise to 1.xxx: leading bit then 52 bits = 13 hex digits
        frac_bits = mi & ((1 << 52) - 1)
        frac = f"{frac_bits:013x}"
        mant = "1"
        if prec >= 0 and prec < 13:
            shift = (13 - prec) * 4
            v = (1 << 52) | frac_bits
            half = 1 << (shift - 1)
            rem = v & ((1 << shift) - 1)
            v >>= shift
            if rem > half or (rem == half and v & 1):
                v += 1
            if v >> (prec * 4) >= 2:
                v >>= 1
                exp += 1
            frac = f"{v & ((1 << (prec * 4)) - 1):0{prec}x}" if prec else ""
    if prec < 0:
        frac = frac.rstrip("0")
    elif len(frac) < prec:
        frac += "0" * (prec - len(frac))
    s = sign + "0x" + mant + ("." + frac if frac else "") + "p" + ("-" if exp < 0 else "+")
    s += f"{abs(exp):02d}"
    return s.upper() if upper else s


def _fmt_float_spec(f: float, sp: _Spec) -> str:
    verb = sp.verb
    prec = sp.prec
    if verb == "v":
        verb = "g"
    elif verb in "eEfF" and prec < 0:
        prec = 6
    s = _hex_float(f, prec, verb == "X") if verb in "xX" else format_float(f, verb, prec)
    if sp.sharp and verb in "gG" and "." not in s and "e" not in s.lower() and "Inf" not in s:
        s += "."
    if s[0] not in "+-":
        if sp.plus:
            s = "+" + s
        elif sp.space:
            s = " " + s
    elif s[0] == "+" and not sp.plus and s != "+Inf":
        s = s[1:]
    elif s == "+Inf" and not sp.plus:
        s = " Inf" if sp.space else "+Inf"
    if "Inf" in s or "NaN" in s:
        return _pad(s, sp, zero=False)
    return _pad(s, sp, numeric=True)


def _fmt_str(s: str, sp: _Spec) -> str:
    verb = sp.verb
    if verb in ("s", "v"):
        if sp.prec >= 0:
            s = s[: sp.prec]
        return _pad(s, sp)
    if verb == "q":
        if sp.prec >= 0:
            s = s[: sp.prec]
        if sp.sharp and "`" not in s and all(_is_print(c) or c == "\t" for c in s):
            return _pad("`" + s + "`", sp)
        return _pad(go_quote(s, sp.plus), sp)
    # x / X
    data = s.encode("utf-8", "surrogatepass")
    if sp.prec >= 0:
        data = data[: sp.prec]
    digits = "0123456789abcdef" if verb == "x" else "0123456789ABCDEF"
    parts: list[str] = []
    for i, b in enumerate(data):
        if sp.space and i > 0:
            parts.append(" ")
        if sp.sharp and (sp.space or i == 0):
            parts.append("0x" if verb == "x" else "0X")
        parts.append(digits[b >> 4] + digits[b & 15])
    return _pad("".join(parts), sp)


def _fmt_arg(arg: Any, sp: _Spec) -> str:
    verb = sp.verb
    if verb == "T":
        return _pad(go_type_name(arg), sp)
    if arg is None:
        if verb == "v":
            return _pad("<nil>", sp)
        return _bad_verb(verb, None)
    if sp.sharpv:
        if isinstance(arg, str):
            return _pad(go_quote(arg), sp)
        if isinstance(arg, (bool, int)):
            return _fmt_arg(arg, _plain_v(sp))
        if isinstance(arg, float):
            s = format_float(arg, "g", -1)
            return _pad(s, sp)
    if isinstance(arg, bool):
        if verb in ("t", "v"):
            return _pad("true" if arg else "false", sp)
        return _bad_verb(verb, arg)
    if isinstance(arg, int):
        if verb in "vdboOxXcqU":
            return _fmt_int(arg, sp)
        return _bad_verb(verb, arg)
    if isinstance(arg, float):
        if verb in "veEfFgGxX":
            return _fmt_float_spec(arg, sp)
        return _bad_verb(verb, arg)
    if isinstance(arg, str):
        if verb in "vsqxX":
            return _fmt_str(arg, sp)
        return _bad_verb(verb, arg)
    if verb in "vsqxX" and _is_stringer(arg) and not isinstance(arg, (list, tuple, Mapping)):
        return _fmt_str(str(arg), sp)
    if isinstance(arg, (bytes, bytearray)):
        if verb in "sqxX":
            return _fmt_str(arg.decode("utf-8", "replace"), sp)
        arg = list(arg)
    if isinstance(arg, (list, tuple)) and not isinstance(arg, GoStruct):
        inner = _Spec()
        _copy_spec(sp, inner)
        return "[" + " ".join(_fmt_arg(x, inner) for x in arg) + "]"
    if isinstance(arg, Mapping) and not isinstance(arg, GoStruct):
        inner = _Spec()
        _copy_spec(sp, inner)
        return (
            "map["
            + " ".join(_fmt_arg(k, inner) + ":" + _fmt_arg(x, inner) for k, x in _sorted_items(arg))
            + "]"
        )
    fields = list(arg.items()) if isinstance(arg, GoStruct) else struct_fields(arg)
    inner = _Spec()
    _copy_spec(sp, inner)
    if verb == "v" and sp.plusv:
        return "{" + " ".join(f"{k}:{_fmt_arg(x, inner)}" for k, x in fields) + "}"
    return "{" + " ".join(_fmt_arg(x, inner) for _, x in fields) + "}"


def _plain_v(sp: _Spec) -> _Spec:
    inner = _Spec()
    _copy_spec(sp, inner)
    inner.sharpv = False
    return inner


def _copy_spec(src: _Spec, dst: _Spec) -> None:
    for name in _Spec.__slots__:
        setattr(dst, name, getattr(src, name))


def _parsenum(fmt: str, i: int) -> tuple[int, bool, int]:
    start = i
    while i < len(fmt) and "0" <= fmt[i] <= "9":
        i += 1
    if i == start:
        return 0, False, i
    num = int(fmt[start:i])
    if num > 1_000_000:
        return -1, False, len(fmt)
    return num, True, i


def _int_from_arg(args: list[Any], argnum: int) -> tuple[int, bool, int]:
    if argnum >= len(args):
        return 0, False, argnum
    a = args[argnum]
    if isinstance(a, int) and not isinstance(a, bool) and -1_000_000 <= a <= 1_000_000:
        return a, True, argnum + 1
    return 0, False, argnum + 1


def _arg_number(fmt: str, i: int, argnum: int, nargs: int) -> tuple[int, int, bool, bool, bool]:
    """Returns (argnum, i, found, good, reordered)."""
    if i >= len(fmt) or fmt[i] != "[":
        return argnum, i, False, True, False
    end = fmt.find("]", i + 1)
    if len(fmt) - i < 3 or end < 0:
        return argnum, i + 1, False, False, True
    num, ok, newi = _parsenum(fmt, i + 1)
    if not ok or newi != end:
        return argnum, end + 1, False, False, True
    index = num - 1
    if 0 <= index < nargs:
        return index, end + 1, True, True, True
    return argnum, end + 1, True, False, True


def sprintf(fmt: str, args: list[Any]) -> str:
    """fmt.Sprintf with Go's verbs, flags, widths, argument indexes and ``%!`` annotations."""
    out: list[str] = []
    end = len(fmt)
    argnum = 0
    reordered = False
    i = 0
    while i < end:
        good = True
        j = fmt.find("%", i)
        if j < 0:
            out.append(fmt[i:])
            break
        out.append(fmt[i:j])
        i = j + 1
        sp = _Spec()
        while i < end:
            c = fmt[i]
            if c == "#":
                sp.sharp = True
            elif c == "0":
                sp.zero = not sp.minus
            elif c == "+":
                sp.plus = True
            elif c == "-":
                sp.minus = True
                sp.zero = False
            elif c == " ":
                sp.space = True
            else:
                break
            i += 1
        argnum, i, after_index, ok, reo = _arg_number(fmt, i, argnum, len(args))
        good = good and ok
        reordered = reordered or reo
        if i < end and fmt[i] == "*":
            i += 1
            sp.width, present, argnum = _int_from_arg(args, argnum)
            if not present:
                out.append("%!(BADWIDTH)")
                sp.width = -1
            elif sp.width < 0:
                sp.width = -sp.width
                sp.minus = True
                sp.zero = False
            after_index = False
        else:
            w, present, i = _parsenum(fmt, i)
            sp.width = w if present else -1
            if after_index and present:
                good = False
        if i + 1 < end and fmt[i] == ".":
            i += 1
            if after_index:
                good = False
            argnum, i, after_index, ok, reo = _arg_number(fmt, i, argnum, len(args))
            good = good and ok
            reordered = reordered or reo
            if i < end and fmt[i] == "*":
                i += 1
                sp.prec, present, argnum = _int_from_arg(args, argnum)
                if sp.prec < 0:
                    sp.prec = -1
                    present = False
                if not present:
                    out.append("%!(BADPREC)")
                    sp.prec = -1
                after_index = False
            else:
                p, present, i = _parsenum(fmt, i)
                sp.prec = p if present else 0
        if not after_index:
            argnum, i, after_index, ok, reo = _arg_number(fmt, i, argnum, len(args))
            good = good and ok
            reordered = reordered or reo
        if i >= end:
            out.append("%!(NOVERB)")
            break
        verb = fmt[i]
        i += 1
        sp.verb = verb
        if verb == "%":
            out.append("%")
        elif not good:
            out.append(f"%!{verb}(BADINDEX)")
        elif argnum >= len(args):
            out.append(f"%!{verb}(MISSING)")
        else:
            if verb == "v":
                sp.sharpv, sp.sharp = sp.sharp, False
                sp.plusv, sp.plus = sp.plus, False
            out.append(_fmt_arg(args[argnum], sp))
            argnum += 1
    if not reordered and argnum < len(args):
        extra = ", ".join(
            "<nil>" if a is None else f"{go_type_name(a)}={sprint_value(a)}" for a in args[argnum:]
        )
        out.append(f"%!(EXTRA {extra})")
    return "".join(out)


# ---------------------------------------------------------------------------
# JSON (encoding/json with SetEscapeHTML(false), compact)


def json_marshal(v: Any, escape_html: bool = False) -> str:
    """Go's ``json.Marshal`` output (compact).

    Docker's ``{{json}}`` uses an Encoder with ``SetEscapeHTML(false)``; pass
    ``escape_html=True`` for plain ``json.Marshal`` (``<`` → ``\\u003c`` etc.).
    Raises ValueError for NaN/Inf like Go.
    """
    out: list[str] = []
    _json_enc(v, out, escape_html, 0)
    return "".join(out)


def _json_str(s: str, escape_html: bool) -> str:
    out = ['"']
    start = 0
    for i, c in enumerate(s):
        o = ord(c)
        if (
            o >= 0x20
            and c not in '"\\'
            and o not in (0x2028, 0x2029)
            and not (0xD800 <= o <= 0xDFFF)
            and not (escape_html and c in "<>&")
        ):
            continue
        out.append(s[start:i])
        start = i + 1
        if c == '"':
            out.append('\\"')
        elif c == "\\":
            out.append("\\\\")
        elif c == "\n":
            out.append("\\n")
        elif c == "\r":
            out.append("\\r")
        elif c == "\t":
            out.append("\\t")
        elif c == "\b":
            out.append("\\b")
        elif c == "\f":
            out.append("\\f")
        elif 0xD800 <= o <= 0xDFFF:
            out.append("\\ufffd")
        else:
            out.append(f"\\u{o:04x}")
    out.append(s[start:])
    out.append('"')
    return "".join(out)


def _json_enc(v: Any, out: list[str], esc: bool, depth: int) -> None:
    if depth > 1000:
        raise ValueError("json: unsupported value: encountered a cycle")
    if v is None:
        out.append("null")
    elif v is True:
        out.append("true")
    elif v is False:
        out.append("false")
    elif isinstance(v, str):
        out.append(_json_str(v, esc))
    elif isinstance(v, int):
        out.append(str(int(v)))
    elif isinstance(v, float):
        out.append(_json_float(v))
    elif hasattr(v, "__go_json_raw__"):
        # A MarshalJSON that returns finished bytes: Go copies them as they are.
        out.append(v.__go_json_raw__())
    elif hasattr(v, "__go_json__"):
        _json_enc(v.__go_json__(), out, esc, depth + 1)
    elif isinstance(v, (NilSlice, NilMap)):
        out.append("null")
    elif isinstance(v, (bytes, bytearray)):
        import base64

        out.append('"' + base64.b64encode(bytes(v)).decode("ascii") + '"')
    elif isinstance(v, (list, tuple)):
        out.append("[")
        for i, x in enumerate(v):
            if i:
                out.append(",")
            _json_enc(x, out, esc, depth + 1)
        out.append("]")
    elif isinstance(v, Mapping):
        out.append("{")
        for i, (k, x) in enumerate(v.items()):
            if i:
                out.append(",")
            out.append(_json_str(k if isinstance(k, str) else sprint_value(k), esc))
            out.append(":")
            _json_enc(x, out, esc, depth + 1)
        out.append("}")
    elif _is_stringer(v) and not hasattr(v, "__dataclass_fields__"):
        out.append(_json_str(str(v), esc))
    else:
        out.append("{")
        for i, (k, x) in enumerate(struct_fields(v)):
            if i:
                out.append(",")
            out.append(_json_str(k, esc))
            out.append(":")
            _json_enc(x, out, esc, depth + 1)
        out.append("}")
