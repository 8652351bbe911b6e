"""Unit round trips through the whole loader, not only planner.units (tests/test_units.py checks
parse(format(x)) there): a quantity formatted with format_quantity in whatever unit it picks, written into
a device or cluster YAML and loaded (YAML, schema, units) comes back as the same SI value, to the digits
written."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from planner.spec.catalog import build_spec
from planner.spec.yamlio import parse_yaml
from planner.units import format_quantity

from .strategies import PROPERTY

DIGITS = 12
REL = 10.0 ** -(DIGITS - 1)


def q(value: float, kind: str) -> str:
    return format_quantity(value, kind, DIGITS)


@PROPERTY
@given(
    peak=st.floats(1e6, 1e18),
    memory=st.floats(1e3, 1e15),
    bandwidth=st.floats(1e3, 1e15),
    power=st.floats(1e-2, 1e5),
    link=st.floats(1e3, 1e15),
    latency=st.floats(1e-9, 10.0),
)
def test_quantities_written_into_specs_load_as_written(peak, memory, bandwidth, power, link, latency) -> None:  # type: ignore[no-untyped-def]
    device = (
        f"{{spec: device, name: d, kind: gpu, peak_compute: {{fp32: {q(peak, 'compute')}}}, "
        f"memory: {q(memory, 'memory')}, memory_bandwidth: {q(bandwidth, 'bandwidth')}, "
        f"power: {q(power, 'power')}}}"
    )
    cluster = (
        f"spec: cluster\nname: c\ndevice: {device}\nlevels:\n  - name: gpu\n    count: 2\n"
        f"    link: {{bandwidth: {q(link, 'bandwidth')}, latency: {q(latency, 'time')}}}\n"
    )
    loaded = build_spec(parse_yaml(cluster, "c.yaml"), ("cluster",))
    assert loaded.device.peak("fp32") == pytest.approx(peak, rel=REL)
    assert loaded.device.memory == pytest.approx(memory, rel=REL)
    assert loaded.device.memory_bandwidth == pytest.approx(bandwidth, rel=REL)
    assert loaded.device.power == pytest.approx(power, rel=REL)
    assert loaded.levels[0].link.bandwidth == pytest.approx(link, rel=REL)
    assert loaded.levels[0].link.latency == pytest.approx(latency, rel=REL)
