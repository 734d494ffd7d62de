"""Go ``encoding/json`` look-alikes: output escaping and strict/lenient struct decoding.

The daemon encodes with Go (compact, ``<>&`` escaped, UTF-8 kept) and decodes request
payloads into Go structs (case-insensitive field names, no int/float/bool coercion).
This module reproduces both so that the sandbox answers the same bytes-ish and fails
on the same inputs (PROTOCOL.md §4.3, §4.4, §5.3).
"""

from __future__ import annotations

import json
import math
from typing import Any

MISSING: Any = object()
_INT64 = (-(2**63), 2**63 - 1)


class DecodeError(Exception):
    """A Go decode failure (wrong type for a field, or ``d`` not an object)."""


def dumps(value: Any) -> str:
    """Compact JSON escaped like Go: ``<``, ``>``, ``&``, U+2028 and U+2029 as ``\\uXXXX``."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return (
        text.replace("<", "\\u003c")
        .replace(">", "\\u003e")
        .replace("&", "\\u0026")
        .replace("\u2028", "\\u2028")
        .replace("\u2029", "\\u2029")
    )


def _go_float(number: float) -> str:
    if number == 0:
        return "0"
    if math.isfinite(number) and 1e-6 <= abs(number) < 1e21:
        if number.is_integer():
            return str(int(number))
        return repr(number)
    mantissa, _, exponent = f"{number:e}".partition("e")
    shortest = repr(number).partition("e")[0] if "e" in repr(number) else mantissa.rstrip("0").rstrip(".")
    exp = int(exponent)
    return f"{shortest}e{'+' if exp >= 0 else '-'}{abs(exp):02d}"


def go_reencode(value: Any) -> str:
    """Re-serialize a decoded ``map[string]any`` the way Go does (sorted keys, float64 numbers)."""
    if isinstance(value, dict):
        items = ",".join(f"{dumps(k)}:{go_reencode(value[k])}" for k in sorted(value))
        return "{" + items + "}"
    if isinstance(value, list):
        return "[" + ",".join(go_reencode(v) for v in value) + "]"
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return dumps(value)
    if isinstance(value, int | float):
        return _go_float(float(value))
    raise TypeError(type(value))


def ci_get(obj: dict[str, Any], name: str) -> Any:
    """Go's field matching: exact key first, else a case-insensitive one; MISSING if none."""
    if name in obj:
        return obj[name]
    lowered = name.lower()
    for key, value in obj.items():
        if key.lower() == lowered:
            return value
    return MISSING


def _convert(kind: str, raw: Any) -> Any:
    if raw is None:  # JSON null leaves a Go field at its zero value
        return {"str": "", "bool": False, "int": 0, "optint": None, "strlist": None, "optstr": None}[kind]
    if kind in ("str", "optstr") and isinstance(raw, str):
        return raw
    if kind == "bool" and isinstance(raw, bool):
        return raw
    if kind in ("int", "optint") and type(raw) is int and _INT64[0] <= raw <= _INT64[1]:
        return raw
    if kind == "strlist" and isinstance(raw, list) and all(v is None or isinstance(v, str) for v in raw):
        return ["" if v is None else v for v in raw]
    raise DecodeError(kind)


def decode(d: Any, spec: dict[str, str], *, strict: bool) -> dict[str, Any]:
    """Decode ``d`` into the fields of ``spec`` (name → str/optstr/bool/int/optint/strlist).

    Strict: a missing ``d``, a non-object ``d`` or any wrongly typed field raises
    :class:`DecodeError` (→ ``invalid arguments``). Lenient (the ops that ignore decode
    errors): bad fields keep their zero value, like Go's partially filled struct.
    """
    out = {name: _convert(kind, None) for name, kind in spec.items()}
    if d is MISSING or d is None or not isinstance(d, dict):
        if strict and d is not None:
            raise DecodeError("d")
        return out
    for name, kind in spec.items():
        raw = ci_get(d, name)
        if raw is MISSING:
            continue
        try:
            out[name] = _convert(kind, raw)
        except DecodeError:
            if strict:
                raise
    return out
