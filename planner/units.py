"""Parse and format physical quantities with units.

Inside the program every quantity is a float in SI base units:

=========  ==========================  ===========
kind       meaning                     base unit
=========  ==========================  ===========
bandwidth  data rate                   bytes/s
compute    operation rate              FLOP/s
flops      operation count             FLOP
memory     capacity                    bytes
time       duration                    seconds
power      power                       watts
=========  ==========================  ===========

Parsing is deliberately strict, because a silent factor of 8 (bit vs byte), 1.07 (GB vs GiB) or 10**9
(milli vs mega) would make every downstream number wrong:

* ``b`` / ``bit`` is a bit and ``B`` is a byte. SI prefixes are decimal (``k``/``K`` 1e3, ``M`` 1e6,
  ``G`` 1e9, ``T`` 1e12, ``P`` 1e15, ``E`` 1e18); IEC prefixes (``Ki``, ``Mi``, ``Gi``, ``Ti``, ``Pi``)
  are powers of 1024. ``"16 GB"`` is 16e9 bytes and ``"16 GiB"`` is 16 * 2**30 bytes.
* Prefix letter case matters (``m`` is milli, ``M`` is mega); only kilo may be written ``k`` or ``K``.
  Units that differ from an accepted unit only by letter case (``"gbps"``, ``"mB/s"``) are rejected.
* A lone ``b`` for memory (``"16 Gb"``) and ``b/s`` for bandwidth (``"200 Gb/s"``) are rejected as
  too easily confused with bytes: write ``Gbit`` / ``Gbit/s`` / ``Gbps`` for bits, ``GB`` / ``GB/s``
  for bytes.
* ``FLOPs`` (lowercase s) is rejected as ambiguous between a count and a rate: write ``GFLOP`` for a
  count, ``GFLOP/s`` (or ``GFLOPS``) for a rate. One MAC is 2 FLOP.
* A number without a unit is an error, as are NaN, infinities, booleans and empty strings.
  Negative values parse; range checks are the caller's job.
* Digits are ASCII ``0``-``9`` only, here and in every number the tool reads (YAML fields, graph.txt,
  option values such as ``--levels``, ``--tiles``, ``--boards``): Python's ``int``/``float`` and a regex
  ``\\d`` also take other scripts' digits (``'٤'``, full-width ``'４'``), which YAML does not, so every
  parser matches ``[0-9]`` (or checks ``str.isascii()``; ``parse_number`` reads a plain number) and one
  rule holds everywhere.

Formatting picks a readable unit and rounds to a number of significant digits: bandwidth in SI bytes
(``B/s`` .. ``TB/s``), compute in ``FLOP/s`` .. ``EFLOP/s``, flops in ``FLOP`` .. ``EFLOP``, memory in
IEC bytes (``B``, ``KiB`` .. ``PiB``), time in ``ns``/``us``/``ms``/``s`` and power in
``mW``/``W``/``kW``/``MW``. Every formatted string parses back with the same kind.

This module is imported at CLI start-up: pure Python, standard library only.
"""

from __future__ import annotations

import math
import re

__all__ = ["KINDS", "UnitError", "accepted_units", "format_quantity", "parse_number", "parse_quantity"]


class UnitError(ValueError):
    """Raised for an unparseable quantity; str(err) is a one-line message that says what was given
    and lists the accepted units for that kind."""


KINDS: tuple[str, ...] = ("bandwidth", "compute", "flops", "memory", "time", "power")

_SI: dict[str, float] = {"k": 1e3, "K": 1e3, "M": 1e6, "G": 1e9, "T": 1e12, "P": 1e15, "E": 1e18}
_IEC: dict[str, float] = {"Ki": 2.0**10, "Mi": 2.0**20, "Gi": 2.0**30, "Ti": 2.0**40, "Pi": 2.0**50}
_BIT = 0.125  # bytes per bit


def _si(prefixes: str, template: str, scale: float = 1.0) -> dict[str, float]:
    """``{template.format(p): factor(p) * scale}`` for each prefix letter p in `prefixes`;
    ``"."`` stands for no prefix."""
    out: dict[str, float] = {}
    for p in prefixes:
        if p == ".":
            out[template.format("")] = scale
        else:
            out[template.format(p)] = _SI[p] * scale
    return out


def _build_tables() -> dict[str, dict[str, float]]:
    bandwidth: dict[str, float] = {}
    bandwidth.update(_si(".kKMGT", "{}bps", _BIT))
    bandwidth.update(_si(".kKMGT", "{}bit/s", _BIT))
    bandwidth.update(_si(".kKMGTP", "{}B/s"))
    bandwidth.update({f"{p}B/s": f for p, f in _IEC.items() if p != "Pi"})
    bandwidth.update(_si("kKMGT", "{}Bps"))

    compute: dict[str, float] = {}
    compute.update(_si(".kKMGTPE", "{}FLOPS"))
    compute.update(_si(".kKMGTPE", "{}FLOP/s"))
    compute.update(_si(".kKMGTPE", "{}flop/s"))
    compute.update(_si(".kKMGTPE", "{}OPS"))
    compute.update(_si(".kKMGTPE", "{}OP/s"))

    flops: dict[str, float] = {}
    flops.update(_si(".kKMGTPE", "{}FLOP"))
    flops.update(_si(".kKMGTPE", "{}flop"))
    flops.update(_si(".kKMGTPE", "{}MAC", 2.0))
    flops.update(_si(".kKMGTPE", "{}MACs", 2.0))

    memory: dict[str, float] = {"B": 1.0, "byte": 1.0, "bytes": 1.0}
    memory.update(_si("kKMGTP", "{}B"))
    memory.update({f"{p}B": f for p, f in _IEC.items()})
    memory.update({"bit": _BIT, "bits": _BIT})
    memory.update(_si("kKMGT", "{}bit", _BIT))

    time = {"ns": 1e-9, "us": 1e-6, "\u00b5s": 1e-6, "\u03bcs": 1e-6, "ms": 1e-3}
    time.update({"s": 1.0, "sec": 1.0, "min": 60.0, "h": 3600.0})

    power = {"mW": 1e-3, "W": 1.0, "kW": 1e3, "KW": 1e3, "MW": 1e6}

    return {
        "bandwidth": bandwidth,
        "compute": compute,
        "flops": flops,
        "memory": memory,
        "time": time,
        "power": power,
    }


_TABLES = _build_tables()

# Units used by format_quantity, smallest first: (factor, unit).
_DISPLAY: dict[str, tuple[tuple[float, str], ...]] = {
    "bandwidth": tuple((_SI.get(p, 1.0), f"{p}B/s") for p in ("", "k", "M", "G", "T")),
    "compute": tuple((_SI.get(p, 1.0), f"{p}FLOP/s") for p in ("", "k", "M", "G", "T", "P", "E")),
    "flops": tuple((_SI.get(p, 1.0), f"{p}FLOP") for p in ("", "k", "M", "G", "T", "P", "E")),
    "memory": ((1.0, "B"), *((f, f"{p}B") for p, f in _IEC.items())),
    "time": ((1e-9, "ns"), (1e-6, "us"), (1e-3, "ms"), (1.0, "s")),
    "power": ((1e-3, "mW"), (1.0, "W"), (1e3, "kW"), (1e6, "MW")),
}

_EXAMPLES = {
    "bandwidth": "900 GB/s",
    "compute": "15.7 TFLOP/s",
    "flops": "2.5 TFLOP",
    "memory": "16 GiB",
    "time": "2.3 ms",
    "power": "700 W",
}

_DECIMAL = r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?"  # ASCII digits only (see above)
_NUMBER = re.compile(rf"({_DECIMAL})\s*(.*)", re.DOTALL)
_NONFINITE = re.compile(r"[+-]?(?:nan|inf|infinity)\b", re.IGNORECASE)
# Only needed to explain an error: compiled on first use (re caches), not at import.
_AMBIGUOUS_FLOPS = r"(?i:([kmgtpe]?)flops)"
_BIT_OR_BYTE = r"([kKMGTP]?)(i?)b(/s)?"


def _check_kind(kind: str) -> dict[str, float]:
    try:
        return _TABLES[kind]
    except (KeyError, TypeError):
        raise ValueError(f"unknown quantity kind {kind!r}; expected one of {', '.join(KINDS)}") from None


def accepted_units(kind: str) -> list[str]:
    """The unit spellings parse_quantity accepts for `kind` (a fresh list, in a readable order).

    Raises ValueError for an unknown `kind`.
    """
    return list(_check_kind(kind))


# What error messages list: the canonical spellings with the prefixes they take (the tables accept a few
# more variants, e.g. kbps/Kbps or flop/s, which accepted_units() lists in full).
_ACCEPTED_SUMMARY = {
    "bandwidth": "bit/s or bps (k, M, G, T prefixes: 25 Gbps, 10 Gbit/s) or B/s (k, M, G, T, P or KiB/s, "
    "MiB/s, GiB/s, TiB/s: 900 GB/s, 1.25e9 B/s)",
    "compute": "FLOPS or FLOP/s (k, M, G, T, P, E prefixes: 15.7 TFLOPS, 125 TFLOP/s), OPS or OP/s",
    "flops": "FLOP (k, M, G, T, P, E prefixes: 2 GFLOP) or MAC (1 MAC = 2 FLOP: 4.1 GMAC)",
}


def _accepted_text(kind: str) -> str:
    summary = _ACCEPTED_SUMMARY.get(kind)
    return "accepted units: " + (summary if summary else ", ".join(_TABLES[kind]))


def _short(value: object, limit: int = 60) -> str:
    """repr() of `value`, shortened; repr escapes newlines, so the message stays on one line."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _fail(value: object, kind: str, problem: str, list_units: bool = True) -> UnitError:
    text = f"invalid {kind} {_short(value)}: {problem}"
    if list_units:
        text += f"; {_accepted_text(kind)}"
    return UnitError(text)


def _unit_problem(unit: str, kind: str) -> str:
    """Why `unit` (not in the table for `kind`) is rejected."""
    m = re.fullmatch(_AMBIGUOUS_FLOPS, unit)
    if m and unit not in _TABLES["compute"]:
        p = m.group(1)
        p = p if p in ("k", "K") else p.upper()
        return (
            f"unit {unit!r} is ambiguous (a count or a rate?): write '{p}FLOP' for a count "
            f"or '{p}FLOP/s' for a rate"
        )
    if kind in ("memory", "bandwidth"):
        m = re.fullmatch(_BIT_OR_BYTE, unit)
        if m and bool(m.group(3)) == (kind == "bandwidth"):
            p, i, per_s = m.group(1), m.group(2), m.group(3) or ""
            byte_unit = f"{p}{i}B{per_s}"
            bit_unit = f"{p}bit{per_s}"
            alternatives = f"write {byte_unit!r} for bytes"
            if not i and bit_unit in _TABLES[kind]:
                extra = f" (or '{p}bps')" if per_s and f"{p}bps" in _TABLES[kind] else ""
                alternatives += f" or {bit_unit!r}{extra} for bits"
            return f"unit {unit!r} is ambiguous: 'b' means bit and 'B' means byte; {alternatives}"
    folded = unit.casefold()
    near = [u for u in _TABLES[kind] if u.casefold() == folded]
    if near:
        return (
            f"unit {unit!r} has the wrong letter case (prefix case matters: 'm' is milli, 'M' mega, "
            f"'G' giga, 'T' tera; 'b' is bit, 'B' byte); did you mean {' or '.join(map(repr, near))}?"
        )
    for other in KINDS:
        if other != kind and unit in _TABLES[other]:
            hint = ""
            if kind == "compute" and other == "flops" and f"{unit}/s" in _TABLES["compute"]:
                hint = f" (for a rate write '{unit}/s')"
            elif kind == "flops" and other == "compute":
                base = unit[:-2] if unit.endswith("/s") else unit[:-1]
                if base in _TABLES["flops"]:
                    hint = f" (for a count write {base!r})"
            return f"{unit!r} is a {other} unit, not a {kind} unit{hint}"
    return f"unknown {kind} unit {_short(unit)}"


def parse_quantity(value: str | int | float, kind: str) -> float:
    """Parse ``"<number> <unit>"`` (whitespace optional, e.g. ``"25Gbps"``) into SI base units of `kind`.

    `kind` is one of KINDS: bandwidth -> bytes/s, compute -> FLOP/s, flops -> FLOP, memory -> bytes,
    time -> s, power -> W. Returns a finite float (negative values are allowed). Raises UnitError for
    a bare number, a missing, unknown or ambiguous unit, NaN/infinity, a bool, or any non-string;
    raises ValueError for an unknown `kind`.
    """
    table = _check_kind(kind)
    example = _EXAMPLES[kind]
    if isinstance(value, bool):
        raise _fail(value, kind, f"expected a {kind} with a unit, e.g. {example!r}, not a bool")
    if isinstance(value, (int, float)):
        if isinstance(value, float) and not math.isfinite(value):
            raise _fail(value, kind, "not a finite number")
        raise _fail(value, kind, f"expected a {kind} with a unit, e.g. {example!r}")
    if not isinstance(value, str):
        raise _fail(value, kind, f"expected a {kind} with a unit, e.g. {example!r}")

    text = value.strip()
    if not text:
        raise _fail(value, kind, f"empty; expected a {kind} with a unit, e.g. {example!r}")
    if _NONFINITE.match(text):
        raise _fail(value, kind, "not a finite number")
    m = _NUMBER.fullmatch(text)
    if m is None:
        raise _fail(value, kind, f"expected a number followed by a unit, e.g. {example!r}")
    number_text, unit = m.group(1), m.group(2)
    if not unit:
        raise _fail(value, kind, f"expected a {kind} with a unit, e.g. {example!r}")
    factor = table.get(unit)
    if factor is None:
        raise _fail(value, kind, _unit_problem(unit, kind))
    result = float(number_text) * factor
    if not math.isfinite(result):
        raise _fail(value, kind, "not a finite number (out of range)", list_units=False)
    return result


def parse_number(text: str) -> float:
    """A plain decimal number without a unit (``"0.4"``, ``"1e-3"``), in ASCII digits; ValueError for
    anything else (other scripts' digits, ``nan``, ``inf``, ``1_000``, which ``float()`` would take)."""
    if not re.fullmatch(_DECIMAL, text.strip()):
        raise ValueError(f"expected a number written in ASCII digits, got {_short(text)}")
    return float(text)


def _format_number(x: float, digits: int) -> str:
    """`x` to `digits` significant digits, trailing zeros stripped, no exponent for |x| >= 1."""
    text = f"{x:.{digits}g}"
    if "e" not in text:
        return text
    mantissa, _, exp_text = text.partition("e")
    exp = int(exp_text)
    if exp < 0:
        return f"{mantissa}e{exp}"
    sign = "-" if mantissa.startswith("-") else ""
    whole, _, frac = mantissa.lstrip("-").partition(".")
    all_digits = whole + frac
    point = len(whole) + exp
    if point >= len(all_digits):
        return sign + all_digits + "0" * (point - len(all_digits))
    return f"{sign}{all_digits[:point]}.{all_digits[point:]}"


def format_quantity(value: float, kind: str, digits: int = 4) -> str:
    """Format `value` (SI base units of `kind`) with a readable unit and `digits` significant digits.

    Units: bandwidth B/s..TB/s (SI bytes), compute FLOP/s..EFLOP/s, flops FLOP..EFLOP, memory
    B, KiB..PiB (IEC), time ns/us/ms/s, power mW/W/kW/MW. Trailing zeros are stripped ("900 GB/s",
    "16 GiB", "2.3 ms"); zero is "0 <base unit>"; NaN and infinities format as e.g. "inf s".
    The result parses back with parse_quantity to within a relative 10**-(digits-1).
    """
    _check_kind(kind)
    if isinstance(digits, bool) or not isinstance(digits, int) or digits < 1:
        raise ValueError(f"digits must be a positive integer, got {digits!r}")
    if isinstance(value, (bool, str)):
        raise TypeError(f"format_quantity expects a real number, got {_short(value)}")
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise TypeError(f"format_quantity expects a real number, got {_short(value)}") from None
    units = _DISPLAY[kind]
    base = next(u for f, u in units if f == 1.0)
    if value == 0.0:
        return f"0 {base}"
    if not math.isfinite(value):
        return f"{value} {base}"
    size = abs(value)
    index = 0
    for i, (factor, _) in enumerate(units):
        if size >= factor:
            index = i
    factor, unit = units[index]
    number = _format_number(value / factor, digits)
    # Rounding may carry into the next unit (999.96 ms -> "1000 ms"): move up a unit.
    if index + 1 < len(units) and abs(float(number)) * factor >= units[index + 1][0]:
        factor, unit = units[index + 1]
        number = _format_number(value / factor, digits)
    return f"{number} {unit}"
