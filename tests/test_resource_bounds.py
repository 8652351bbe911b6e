"""Resource bounds: huge models and clusters are refused at once with the limit named (or planned), never a
traceback, a hang or an exhausted memory. Timings and peak memory: bench/bench_resource_bounds.py."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from planner.errors import InfeasibleError
from planner.optimize import limits

FIVE = """\
spec: profile
name: five
per: minibatch
batch_size: 32
layers:
  - {name: conv1, forward_time: 4 ms, backward_time: 8 ms, parameters: 10000, output_bytes: 8 MiB}
  - {name: conv2, forward_time: 6 ms, backward_time: 12 ms, parameters: 40000, output_bytes: 4 MiB}
  - {name: conv3, forward_time: 6 ms, backward_time: 12 ms, parameters: 90000, output_bytes: 2 MiB}
  - {name: fc1, forward_time: 1 ms, backward_time: 2 ms, parameters: 20000000, output_bytes: 16 KiB}
  - {name: fc2, forward_time: 0.5 ms, backward_time: 1 ms, parameters: 4000000, output_bytes: 4 KiB}
"""
DEVICES = 100_000


def _graph(path: Path, layers: int) -> str:
    """A PipeDream graph.txt chain of `layers` nodes (a graph.txt has no YAML node limit)."""
    lines = [
        "node0 -- Input0 -- forward_compute_time=0.000, backward_compute_time=0.000, "
        "activation_size=4096.0, parameter_size=0.0"
    ]
    lines += [
        f"node{i} -- Linear -- forward_compute_time=1.000, backward_compute_time=2.000, "
        f"activation_size=4096.0, parameter_size={4 * (i % 100)}.0"
        for i in range(1, layers)
    ]
    lines += [f"\tnode{i - 1} -- node{i}" for i in range(1, layers)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return str(path)


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    folder = tmp_path_factory.mktemp("bounds")
    (folder / "five.yaml").write_text(FIVE, encoding="utf-8")
    (folder / "big.yaml").write_text(
        "spec: cluster\nname: big\ndevice: v100-sxm2-16gb\nlevels:\n"
        "  - {name: gpu, count: 8, link: {bandwidth: 150 GB/s}}\n"
        f"  - {{name: server, count: {DEVICES // 8}, link: {{bandwidth: 25 Gbps, latency: 10 us}}}}\n",
        encoding="utf-8",
    )
    return {
        "five": str(folder / "five.yaml"),
        "cluster": str(folder / "big.yaml"),
        "long": _graph(folder / "long.graph.txt", limits.MAX_CHAIN_LAYERS + 1),
        "linear": _graph(folder / "linear.graph.txt", 20_000),
        "branchy": str(Path(__file__).parent / "data" / "branchy" / "stem_4x8x3.graph.txt"),
    }


def _refused(result: Any, *fragments: str) -> str:
    assert result.exit_code == 1, (result.exit_code, result.stderr)
    message = result.stderr.strip()
    assert message.startswith("error: ") and "\n" not in message, message
    assert "Traceback" not in result.stderr + result.stdout
    for fragment in fragments:
        assert fragment in message, (fragment, message)
    return message


@pytest.mark.parametrize("cost_model", ["native", "pipedream"])
def test_a_profile_longer_than_the_chain_limit_is_refused(run_cli: Any, files: dict, cost_model: str) -> None:
    result = run_cli(
        "pipeline", "partition", files["long"], "--cluster", "pipedream-cluster-a", "--cost-model", cost_model
    )
    _refused(
        result, f"{limits.MAX_CHAIN_LAYERS + 1:,} layers", f"limit {limits.MAX_CHAIN_LAYERS:,}", "planner dp"
    )


def test_a_graph_with_too_many_antichain_states_is_refused_by_pipedream_and_linearised_natively(
    run_cli: Any, files: dict
) -> None:
    # 101 layers, 4 blocks of 8 branches of 3: about 4 x 4^8 states (estimate 1 + 4 (5 x 4^7 - 1)), which
    # took 13 GB before the states
    # were bounded; PipeDream's search refuses before searching past the budget, the native one cuts the
    # wide blocks along the layer order (one state per layer)
    args = ("pipeline", "partition", files["branchy"], "--cluster", "pipedream-cluster-a")
    _refused(run_cli(*args, "--cost-model", "pipedream"), "about 3.28e+05 antichain states", "planner dp")
    native = run_cli(*args, "--format", "json")
    assert native.exit_code == 0, native.stderr
    assert json.loads(native.stdout)["num_states"] == 101


def test_the_native_search_on_100000_devices_is_refused(run_cli: Any, files: dict) -> None:
    result = run_cli("pipeline", "partition", files["five"], "--cluster", files["cluster"])
    _refused(
        result, "100,000 devices", "candidate stages", f"limit {limits.MAX_NATIVE_WORK:.0e}", "planner dp"
    )


def test_pipedreams_search_on_100000_devices_is_refused(run_cli: Any, files: dict) -> None:
    result = run_cli(
        "pipeline", "partition", files["five"], "--cluster", files["cluster"], "--cost-model", "pipedream"
    )
    _refused(result, "PipeDream's search", "12,500", "limit", "planner dp")


def test_plan_on_100000_devices_ranks_what_it_can_and_names_the_refused_pipeline(
    run_cli: Any, files: dict
) -> None:
    result = run_cli("plan", files["five"], "--cluster", files["cluster"], "--format", "json")
    assert result.exit_code == 0, result.stderr
    payload = json.loads(result.stdout)
    assert payload["winner"].startswith("DP")
    assert any(s["devices"] == DEVICES for s in payload["strategies"])
    (pipeline,) = [reason for reason in payload["not_evaluated"] if reason.startswith("pipeline:")]
    assert "limit" in pipeline and "100,000 devices" in pipeline


def test_data_parallelism_and_collectives_take_100000_devices(run_cli: Any, files: dict) -> None:
    dp = run_cli("dp", files["five"], "--cluster", files["cluster"], "--format", "json")
    assert dp.exit_code == 0, dp.stderr
    comm = run_cli("comm", "--size", "100MB", "--cluster", files["cluster"], "--format", "json")
    assert comm.exit_code == 0, comm.stderr


def test_a_long_dag_profile_is_read_in_linear_time(run_cli: Any, files: dict) -> None:
    # every layer names its input: one predecessor lookup per layer must not rebuild the name index
    result = run_cli("dp", files["linear"], "--cluster", "pipedream-cluster-a", "--batch", "32", "-f", "json")
    assert result.exit_code == 0, result.stderr
    shown = run_cli("models", "show", files["linear"], "--format", "json")
    assert shown.exit_code == 0, shown.stderr
    assert len(json.loads(shown.stdout)["layers"]) == 20_000


def test_limits_accept_pipedreams_published_settings() -> None:
    # the largest shipped profile (gnmt_large, 1,495 states) on 4 x 4 and 2 x 8 GPUs
    limits.check_chain_layers(1_495)
    limits.check_native(1_495, 1_495 * 1_496 // 2, 16, straight=False, per_total=False)
    limits.check_pipedream(1_495, [(4, 1e10), (4, 1e9)], straight=False)
    limits.check_pipedream(1_495, [(8, 1e10), (2, 1e9)], straight=False)


@pytest.mark.parametrize(
    ("devices", "straight", "per_total", "steps"),
    [(4, False, False, 10), (4, True, False, 4), (4, False, True, 20), (4, True, True, 10)],
)
def test_native_steps_count_the_dynamic_programs_loops(
    devices: int, straight: bool, per_total: bool, steps: int
) -> None:
    # loops of NativePlanner.solve: d = 1..N, r = 1..d (or 1), and once per total with per_total
    totals = range(1, devices + 1) if per_total else [devices]
    expected = sum(1 if straight else d for total in totals for d in range(1, total + 1))
    assert limits.native_steps(devices, straight, per_total) == expected == steps


def test_limit_messages_name_the_size_and_the_limit() -> None:
    with pytest.raises(InfeasibleError, match=r"1,000 states on 1,024 devices .*\(limit 2e\+09"):
        limits.check_native(1_000, 500_500, 1_024, straight=False, per_total=False)
    with pytest.raises(InfeasibleError, match=r"table of .* entries"):
        limits.check_native(4_000, 4_000, 20_000, straight=True, per_total=False)
    with pytest.raises(InfeasibleError, match="below the top level"):
        limits.check_pipedream(4_000, [(4, 1e10), (1, 1e9)], straight=False)


def test_yaml_node_limit_is_enforced_while_composing(monkeypatch: pytest.MonkeyPatch) -> None:
    # refused by the composer (bounded memory), before the builder that also expands aliases
    from planner.errors import SpecError
    from planner.spec import yamlio

    monkeypatch.setattr(yamlio, "MAX_NODES", 100)
    with pytest.raises(SpecError, match="expected at most 100 values") as refused:
        yamlio.parse_yaml("x: [" + "1, " * 1_000 + "1]\n", "flat.yaml")
    assert "aliases" not in str(refused.value)
    yamlio.parse_yaml("x: [" + "1, " * 50 + "1]\n", "flat.yaml")
