"""Go's ``fmt.Sprint`` of decoded YAML scalars: how compose-go turns numbers and
booleans into the strings of labels, environment values and options."""

from __future__ import annotations

import math
from typing import Any


def go_sprint(value: Any) -> str:
    """Go's ``fmt.Sprint`` of a decoded YAML scalar."""
    if value is None:
        return "<nil>"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return _go_float_g(value)
    return str(value)


def _go_float_g(value: float) -> str:
    """``%v`` of a float64 (strconv's shortest ``'g'``): the shortest digits, in
    exponent form when the exponent is below -4 or from 6 on."""
    if math.isnan(value) or math.isinf(value):
        return "NaN" if math.isnan(value) else ("+Inf" if value > 0 else "-Inf")
    if value == 0:
        return "0"
    mantissa, _, exponent = repr(abs(value)).partition("e")
    whole, _, frac = mantissa.partition(".")
    figures = (whole + frac).lstrip("0")
    exp = (int(exponent) if exponent else 0) + len(whole.lstrip("0")) - 1
    if not whole.strip("0"):
        exp = (int(exponent) if exponent else 0) - (len(frac) - len(frac.lstrip("0"))) - 1
    figures = figures.rstrip("0") or "0"
    sign = "-" if value < 0 else ""
    if exp < -4 or exp >= 6:
        text = figures[0] + ("." + figures[1:] if len(figures) > 1 else "")
        return f"{sign}{text}e{'-' if exp < 0 else '+'}{abs(exp):02d}"
    if exp < 0:
        return f"{sign}0.{'0' * (-exp - 1)}{figures}"
    if len(figures) <= exp + 1:
        return sign + figures + "0" * (exp + 1 - len(figures))
    return f"{sign}{figures[: exp + 1]}.{figures[exp + 1 :]}"
