"""Tests for planner.units: parsing and formatting quantities with units."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from planner.units import KINDS, UnitError, accepted_units, format_quantity, parse_quantity


def approx(x: float) -> object:
    return pytest.approx(x, rel=1e-12)


# --- parsing: the examples from the spec -------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("25 Gbps", 25e9 / 8),
        ("25Gbps", 25e9 / 8),
        ("10 Gbit/s", 1.25e9),
        ("900 GB/s", 9e11),
        ("15.75 GB/s", 15.75e9),
        ("1.25e9 B/s", 1.25e9),
        ("3.35 TB/s", 3.35e12),
        ("100 Mbps", 100e6 / 8),
        ("1 kbps", 125.0),
        ("1 Kbps", 125.0),
        ("8 bps", 1.0),
        ("8 bit/s", 1.0),
        ("400 Tbit/s", 400e12 / 8),
        ("1 kB/s", 1e3),
        ("1 KB/s", 1e3),
        ("1 MB/s", 1e6),
        ("1 KiB/s", 1024.0),
        ("1 MiB/s", 2.0**20),
        ("1 GiB/s", 2.0**30),
        ("1 TiB/s", 2.0**40),
        ("12 MBps", 12e6),
        ("50 GBps", 50e9),
        ("1.8 TBps", 1.8e12),
    ],
)
def test_parse_bandwidth(text: str, expected: float) -> None:
    assert parse_quantity(text, "bandwidth") == approx(expected)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("15.7 TFLOPS", 15.7e12),
        ("125 TFLOP/s", 125e12),
        ("989 TFLOP/s", 989e12),
        ("2 PFLOPS", 2e15),
        ("3 GFLOPS", 3e9),
        ("7 Tflop/s", 7e12),
        ("1 kFLOPS", 1e3),
        ("1 KFLOPS", 1e3),
        ("1 EFLOP/s", 1e18),
        ("624 TOPS", 624e12),
        ("624 TOP/s", 624e12),
        ("5 FLOPS", 5.0),
    ],
)
def test_parse_compute(text: str, expected: float) -> None:
    assert parse_quantity(text, "compute") == approx(expected)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1 FLOP", 1.0),
        ("3 kFLOP", 3e3),
        ("3 MFLOP", 3e6),
        ("3 GFLOP", 3e9),
        ("3 TFLOP", 3e12),
        ("3 PFLOP", 3e15),
        ("3 EFLOP", 3e18),
        ("1 MAC", 2.0),
        ("4 GMAC", 8e9),
        ("4 GMACs", 8e9),
    ],
)
def test_parse_flops_count(text: str, expected: float) -> None:
    assert parse_quantity(text, "flops") == approx(expected)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("16 GB", 16e9),
        ("16 GiB", 16 * 2**30),
        ("80GB", 80e9),
        ("3 B", 3.0),
        ("3 byte", 3.0),
        ("3 bytes", 3.0),
        ("1 kB", 1e3),
        ("1 KB", 1e3),
        ("1 MB", 1e6),
        ("1 TB", 1e12),
        ("1 PB", 1e15),
        ("1 KiB", 1024.0),
        ("1 MiB", 2.0**20),
        ("1 TiB", 2.0**40),
        ("1 PiB", 2.0**50),
        ("8 bit", 1.0),
        ("8 Kbit", 1e3),
        ("8 Mbit", 1e6),
        ("8 Gbit", 1e9),
    ],
)
def test_parse_memory(text: str, expected: float) -> None:
    assert parse_quantity(text, "memory") == approx(expected)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("5 ns", 5e-9),
        ("5 us", 5e-6),
        ("5 \u00b5s", 5e-6),  # micro sign
        ("5 \u03bcs", 5e-6),  # Greek mu
        ("2.3 ms", 2.3e-3),
        ("2 s", 2.0),
        ("2 sec", 2.0),
        ("2 min", 120.0),
        ("2 h", 7200.0),
    ],
)
def test_parse_time(text: str, expected: float) -> None:
    assert parse_quantity(text, "time") == approx(expected)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("500 mW", 0.5), ("700 W", 700.0), ("10.2 kW", 10.2e3), ("10.2 KW", 10.2e3), ("20 MW", 20e6)],
)
def test_parse_power(text: str, expected: float) -> None:
    assert parse_quantity(text, "power") == approx(expected)


def test_bits_versus_bytes() -> None:
    assert parse_quantity("8 Gbps", "bandwidth") == approx(parse_quantity("1 GB/s", "bandwidth"))
    assert parse_quantity("8 Gbit/s", "bandwidth") == approx(parse_quantity("1 GBps", "bandwidth"))
    assert parse_quantity("8 Gbit", "memory") == approx(parse_quantity("1 GB", "memory"))


def test_si_versus_iec() -> None:
    assert parse_quantity("16 GB", "memory") == 16_000_000_000
    assert parse_quantity("16 GiB", "memory") == 17_179_869_184
    assert parse_quantity("1 TB/s", "bandwidth") == 1e12
    assert parse_quantity("1 TiB/s", "bandwidth") == 2**40


@pytest.mark.parametrize("text", ["  900 GB/s  ", "900GB/s", "900   GB/s", "\t900 GB/s\n"])
def test_whitespace_is_optional(text: str) -> None:
    assert parse_quantity(text, "bandwidth") == approx(9e11)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("-2 ms", -2e-3), ("+2 ms", 2e-3), (".5 s", 0.5), ("5. s", 5.0), ("0 s", 0.0), ("2E-3 s", 2e-3)],
)
def test_number_forms(text: str, expected: float) -> None:
    assert parse_quantity(text, "time") == approx(expected)


def test_result_is_float() -> None:
    assert type(parse_quantity("16 GiB", "memory")) is float


# --- parsing: rejections ------------------------------------------------------------------------


def _error(value: object, kind: str) -> str:
    with pytest.raises(UnitError) as info:
        parse_quantity(value, kind)  # type: ignore[arg-type]
    message = str(info.value)
    assert "\n" not in message
    return message


@pytest.mark.parametrize("value", ["900", 900, 900.0, "1e9", 0, "0"])
def test_bare_number_is_rejected(value: object) -> None:
    message = _error(value, "bandwidth")
    assert "expected a bandwidth with a unit, e.g. '900 GB/s'" in message
    assert "accepted units:" in message and "GB/s" in message
    assert repr(value) in message


# Kinds with many spellings list their canonical forms and prefixes in messages, not every variant.
CANONICAL = {
    "bandwidth": ["bps", "bit/s", "B/s", "GiB/s", "Gbps", "GB/s"],
    "compute": ["FLOPS", "FLOP/s", "OPS", "TFLOPS"],
    "flops": ["FLOP", "MAC", "GFLOP"],
}


@pytest.mark.parametrize("kind", KINDS)
def test_bare_number_is_rejected_for_every_kind(kind: str) -> None:
    message = _error(3, kind)
    assert f"expected a {kind} with a unit" in message
    for unit in CANONICAL.get(kind, accepted_units(kind)):
        assert unit in message


@pytest.mark.parametrize("value", [True, False])
def test_bool_is_rejected(value: bool) -> None:
    assert "bool" in _error(value, "memory")


@pytest.mark.parametrize("value", [None, [1, "GB"], b"1 GB"])
def test_non_string_is_rejected(value: object) -> None:
    _error(value, "memory")


@pytest.mark.parametrize("value", ["", "   "])
def test_empty_is_rejected(value: str) -> None:
    assert "empty" in _error(value, "time")


@pytest.mark.parametrize(
    "value",
    ["nan", "NaN", "inf", "-inf", "Infinity", "nan GB/s", "inf GB/s", float("nan"), float("inf"), -math.inf],
)
def test_non_finite_is_rejected(value: object) -> None:
    assert "not a finite number" in _error(value, "bandwidth")


def test_overflow_is_rejected() -> None:
    assert "finite" in _error("1e400 s", "time")
    assert "finite" in _error("1e300 EFLOP", "flops")


@pytest.mark.parametrize(
    ("value", "kind"), [("7 parsecs", "time"), ("3 furlongs/s", "bandwidth"), ("1 J", "power")]
)
def test_unknown_unit_lists_accepted_units(value: str, kind: str) -> None:
    message = _error(value, kind)
    assert value in message
    assert "accepted units: " in message
    for unit in CANONICAL.get(kind, accepted_units(kind)):
        assert unit in message


@pytest.mark.parametrize("value", ["GB/s", "GB/s 900", "fast", "1.2.3 GB/s", "1_000 GB/s", "0x10 GB/s"])
def test_malformed_is_rejected(value: str) -> None:
    assert "accepted units" in _error(value, "bandwidth")


@pytest.mark.parametrize("kind", ["flops", "compute"])
@pytest.mark.parametrize(
    ("unit", "prefix"), [("FLOPs", ""), ("GFLOPs", "G"), ("TFLOPs", "T"), ("Tflops", "T")]
)
def test_flops_plural_is_ambiguous(kind: str, unit: str, prefix: str) -> None:
    message = _error(f"3 {unit}", kind)
    assert "ambiguous" in message
    assert f"'{prefix}FLOP' for a count" in message
    assert f"'{prefix}FLOP/s' for a rate" in message


def test_rate_given_for_count_and_count_given_for_rate() -> None:
    assert "for a count write 'TFLOP'" in _error("3 TFLOPS", "flops")
    assert "for a count write 'TFLOP'" in _error("3 TFLOP/s", "flops")
    assert "for a rate write 'TFLOP/s'" in _error("3 TFLOP", "compute")


@pytest.mark.parametrize(
    ("value", "suggestion"),
    [
        ("25 gbps", "Gbps"),
        ("25 mbps", "Mbps"),
        ("25 gb/s", "GB/s"),
        ("25 mb/s", "MB/s"),
        ("25 mB/s", "MB/s"),
        ("25 gB/s", "GB/s"),
        ("25 tb/s", "TB/s"),
        ("25 GBPS", "GBps"),
    ],
)
def test_wrong_prefix_case_is_rejected(value: str, suggestion: str) -> None:
    message = _error(value, "bandwidth")
    assert "letter case" in message and "milli" in message
    assert f"'{suggestion}'" in message


@pytest.mark.parametrize(
    ("value", "kind"),
    [("16 mb", "memory"), ("16 gB", "memory"), ("3 tflop/s", "compute"), ("3 Ms", "time"), ("3 mw", "power")],
)
def test_wrong_case_other_kinds(value: str, kind: str) -> None:
    assert "letter case" in _error(value, kind)


@pytest.mark.parametrize(
    ("value", "byte_unit", "bit_unit"),
    [("16 Gb", "GB", "Gbit"), ("16 Mb", "MB", "Mbit"), ("16 Kb", "KB", "Kbit"), ("16 b", "B", "bit")],
)
def test_memory_lowercase_b_is_ambiguous(value: str, byte_unit: str, bit_unit: str) -> None:
    message = _error(value, "memory")
    assert "'b' means bit and 'B' means byte" in message
    assert f"write '{byte_unit}' for bytes or '{bit_unit}' for bits" in message


def test_memory_iec_bits_are_rejected() -> None:
    assert "write 'GiB' for bytes" in _error("16 Gib", "memory")


@pytest.mark.parametrize("value", ["200 Gb/s", "200 Mb/s", "1 b/s", "1 Kib/s", "1 Gib/s"])
def test_bandwidth_b_per_s_is_ambiguous(value: str) -> None:
    assert "'b' means bit and 'B' means byte" in _error(value, "bandwidth")


def test_unit_of_another_kind_is_named() -> None:
    assert "'GB/s' is a bandwidth unit, not a memory unit" in _error("3 GB/s", "memory")
    assert "'GB' is a memory unit, not a bandwidth unit" in _error("3 GB", "bandwidth")
    assert "'ms' is a time unit" in _error("3 ms", "power")


def test_unknown_kind_is_a_programming_error() -> None:
    for call in (
        lambda: parse_quantity("1 s", "speed"),
        lambda: format_quantity(1.0, "speed"),
        lambda: accepted_units("speed"),
    ):
        with pytest.raises(ValueError) as info:
            call()
        assert not isinstance(info.value, UnitError)
        assert "speed" in str(info.value)


def test_long_input_is_shortened_in_message() -> None:
    message = _error("1 " + "x" * 1000, "memory")
    assert len(message) < 400


# --- accepted_units -----------------------------------------------------------------------------


def test_accepted_units() -> None:
    assert set(KINDS) == {"bandwidth", "compute", "flops", "memory", "time", "power"}
    for kind in KINDS:
        units = accepted_units(kind)
        assert units and len(units) == len(set(units))
        for unit in units:
            assert isinstance(parse_quantity(f"1 {unit}", kind), float)
    assert "GB/s" in accepted_units("bandwidth") and "Gb/s" not in accepted_units("bandwidth")
    assert "Gbit" in accepted_units("memory") and "Gb" not in accepted_units("memory")
    assert "FLOPs" not in accepted_units("flops") and "GFLOPs" not in accepted_units("compute")
    accepted_units("time").clear()  # a fresh list each call
    assert accepted_units("time")


# --- formatting ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "kind", "expected"),
    [
        (9e11, "bandwidth", "900 GB/s"),
        (1.25e9, "bandwidth", "1.25 GB/s"),
        (3.35e12, "bandwidth", "3.35 TB/s"),
        (512.0, "bandwidth", "512 B/s"),
        (25e9 / 8, "bandwidth", "3.125 GB/s"),
        (16 * 2**30, "memory", "16 GiB"),
        (80e9, "memory", "74.51 GiB"),
        (1536.0, "memory", "1.5 KiB"),
        (100.0, "memory", "100 B"),
        (2.3e-3, "time", "2.3 ms"),
        (5e-9, "time", "5 ns"),
        (12e-6, "time", "12 us"),
        (42.0, "time", "42 s"),
        (15.7e12, "compute", "15.7 TFLOP/s"),
        (989.4e12, "compute", "989.4 TFLOP/s"),
        (2.5e12, "flops", "2.5 TFLOP"),
        (6e21, "flops", "6000 EFLOP"),
        (700.0, "power", "700 W"),
        (10200.0, "power", "10.2 kW"),
        (0.25, "power", "250 mW"),
        (-2.5e-3, "time", "-2.5 ms"),
    ],
)
def test_format_examples(value: float, kind: str, expected: str) -> None:
    assert format_quantity(value, kind) == expected


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        ("bandwidth", "0 B/s"),
        ("compute", "0 FLOP/s"),
        ("flops", "0 FLOP"),
        ("memory", "0 B"),
        ("time", "0 s"),
        ("power", "0 W"),
    ],
)
def test_format_zero(kind: str, expected: str) -> None:
    assert format_quantity(0.0, kind) == expected
    assert format_quantity(-0.0, kind) == expected
    assert format_quantity(0, kind) == expected


def test_format_digits() -> None:
    assert format_quantity(1234567.0, "bandwidth", digits=2) == "1.2 MB/s"
    assert format_quantity(1234567.0, "bandwidth", digits=7) == "1.234567 MB/s"
    assert format_quantity(2.0 / 3.0, "time", digits=3) == "667 ms"


def test_format_rounding_carries_into_next_unit() -> None:
    assert format_quantity(0.99996, "time") == "1 s"
    assert format_quantity(999.96e9, "bandwidth") == "1 TB/s"
    assert format_quantity(1023.99 * 2**30, "memory") == "1 TiB"


def test_format_beyond_largest_and_smallest_units() -> None:
    assert format_quantity(1e18, "bandwidth") == "1000000 TB/s"
    assert format_quantity(1e-12, "time") == "0.001 ns"
    assert format_quantity(1e-9, "bandwidth") == "1e-9 B/s"


def test_format_non_finite_and_bad_arguments() -> None:
    assert format_quantity(math.inf, "time") == "inf s"
    with pytest.raises(ValueError):
        format_quantity(1.0, "time", digits=0)
    with pytest.raises(TypeError):
        format_quantity("1 s", "time")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        format_quantity(True, "time")


# --- round trip -----------------------------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(
    value=st.floats(min_value=1e-9, max_value=1e18, allow_nan=False, allow_infinity=False),
    kind=st.sampled_from(KINDS),
    digits=st.integers(min_value=2, max_value=12),
)
def test_round_trip(value: float, kind: str, digits: int) -> None:
    text = format_quantity(value, kind, digits)
    _number, unit = text.split(" ")
    assert unit in accepted_units(kind)
    back = parse_quantity(text, kind)
    assert back == pytest.approx(value, rel=10.0 ** -(digits - 1))
    assert format_quantity(-value, kind, digits) == "-" + text


@settings(max_examples=200, deadline=None)
@given(
    value=st.floats(min_value=1e-9, max_value=1e18, allow_nan=False, allow_infinity=False),
    kind=st.sampled_from(KINDS),
)
def test_round_trip_default_digits(value: float, kind: str) -> None:
    assert parse_quantity(format_quantity(value, kind), kind) == pytest.approx(value, rel=1e-3)
