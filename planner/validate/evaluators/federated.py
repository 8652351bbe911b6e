"""Evaluators of the federated-learning models: round time and updates (lossy links too), local steps,
HeteroFL widths, CMFL relevance and who uploads, non-IID EMD, shared-data bytes and the accuracy they buy,
and client selection on FedMARL's objective against its baselines.

`fl_fleet_round_time` / `fl_fleet_updates` build a fleet of identical clients (optionally one class of
slower ones) from hand-chosen figures, so that the whole pipeline (links, roofline step, order statistics,
deadline) is checked against a value computed by hand.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from planner.validate.evaluators import Context, evaluator

_FLEET_SETUP = (
    "clients",
    "compute_flops_per_s",
    "memory_bandwidth_bytes_per_s",
    "link_bytes_per_s",
    "latency_s",
    "samples",
    "epochs",
    "batch",
    "flops_per_sample",
    "parameters",
)
_FLEET_OPTIONAL = ("selected", "stragglers", "straggler_compute_flops_per_s", "deadline_s", "packet_loss")


def _number(setup: Mapping[str, Any], key: str) -> float:
    value = setup[key]
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"setup '{key}' must be a number, got {value!r}")
    return float(value)


def _whole(setup: Mapping[str, Any], key: str) -> int:
    value = setup[key]
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"setup '{key}' must be a whole number >= 0, got {value!r}")
    return value


def _fleet_round(setup: Mapping[str, Any]) -> Any:
    """The expected round of a hand-built fleet (`selected` of it, default all): `clients` identical clients,
    `stragglers` of them with a measured speed of `straggler_compute_flops_per_s`; a one-layer model (1/3
    of the FLOP forward, 2/3 backward) of `parameters` fp32 parameters; no server; `packet_loss` p on
    every link, retransmitted (links carry 1 − p of their bandwidth)."""
    from planner.cost import federated as fl
    from planner.cost.compute import layer_arrays
    from planner.cost.federated_clients import Workload, class_step_times, client_times
    from planner.spec.fleet import ClientClass, Fleet, members
    from planner.spec.hardware import Device, Link
    from planner.spec.profile import Layer, ModelProfile

    flops = _number(setup, "flops_per_sample")
    parameters = _whole(setup, "parameters")
    device = Device(
        spec="device",
        name="hand-device",
        kind="cpu",
        peak_compute={"fp32": _number(setup, "compute_flops_per_s")},
        memory=1e12,
        memory_bandwidth=_number(setup, "memory_bandwidth_bytes_per_s"),
        compute_efficiency=1.0,  # the case's rates are the sustained ones its hand calculation uses
        memory_efficiency=1.0,
    )
    link = Link(bandwidth=_number(setup, "link_bytes_per_s"), latency=_number(setup, "latency_s"))
    stragglers = _whole(setup, "stragglers") if "stragglers" in setup else 0
    total = _whole(setup, "clients")
    if not 0 <= stragglers < total:
        raise ValueError("stragglers must be fewer than the clients")

    def group(name: str, count: int, compute: float | None) -> ClientClass:
        return ClientClass(name, count, device, link, link, _whole(setup, "samples"), compute=compute)

    classes = [group("regular", total - stragglers, None)]
    if stragglers:
        classes.append(group("straggler", stragglers, _number(setup, "straggler_compute_flops_per_s")))
    fleet = Fleet(spec="fleet", name="hand-fleet", classes=tuple(classes))
    layer = Layer(name="all", forward_flops=flops / 3, backward_flops=2 * flops / 3, parameters=parameters)
    arrays = layer_arrays(ModelProfile(spec="profile", name="hand-model", per="sample", layers=(layer,)))
    size = parameters * 4.0
    work = Workload(_number(setup, "epochs"), _whole(setup, "batch"), size, size)
    goodput = 1.0 - _number(setup, "packet_loss") if "packet_loss" in setup else 1.0  # retransmitted
    times = client_times(fleet, members(fleet), class_step_times(fleet, arrays, work), work, goodput=goodput)
    deadline = _number(setup, "deadline_s") if "deadline_s" in setup else None
    selected = _whole(setup, "selected") if "selected" in setup else total
    return fl.expected_round(times.total_s, selected, deadline=deadline)


@evaluator("fl_fleet_round_time", setup=_FLEET_SETUP, optional=_FLEET_OPTIONAL)
def fl_fleet_round_time(setup: Mapping[str, Any], ctx: Context) -> float:
    """Expected seconds until the slowest selected client reports (aggregation excluded)."""
    return float(_fleet_round(setup).time_s)


@evaluator("fl_fleet_updates", setup=_FLEET_SETUP, optional=_FLEET_OPTIONAL)
def fl_fleet_updates(setup: Mapping[str, Any], ctx: Context) -> float:
    """Expected updates the server receives in the round."""
    return float(_fleet_round(setup).updates)


def _times_round(setup: Mapping[str, Any]) -> Any:
    from planner.cost.federated import expected_round

    times = setup["times_s"]
    if not isinstance(times, list) or not times:
        raise ValueError("setup 'times_s' must be a non-empty list of client times in seconds")
    target = _whole(setup, "target") if "target" in setup else None
    availability = _number(setup, "availability") if "availability" in setup else 1.0
    deadline = _number(setup, "deadline_s") if "deadline_s" in setup else None
    return expected_round(
        [float(t) for t in times], _whole(setup, "selected"), target, availability, deadline
    )


@evaluator("fl_round_time", setup=("times_s", "selected"), optional=("target", "availability", "deadline_s"))
def fl_round_time(setup: Mapping[str, Any], ctx: Context) -> float:
    """Expected round end (s) for given client times: random selection, over-selection, dropout, deadline."""
    return float(_times_round(setup).time_s)


@evaluator(
    "fl_round_updates", setup=("times_s", "selected"), optional=("target", "availability", "deadline_s")
)
def fl_round_updates(setup: Mapping[str, Any], ctx: Context) -> float:
    """Expected updates received for given client times."""
    return float(_times_round(setup).updates)


@evaluator("fl_local_steps", setup=("epochs", "samples", "batch"))
def fl_local_steps(setup: Mapping[str, Any], ctx: Context) -> float:
    """FedAvg's local updates per round, u = E·n/B."""
    from planner.cost.federated_clients import local_steps

    return float(local_steps(_number(setup, "epochs"), _number(setup, "samples"), _whole(setup, "batch")))


@evaluator("heterofl_parameter_fraction", setup=("ratio", "level"))
def heterofl_parameter_fraction(setup: Mapping[str, Any], ctx: Context) -> float:
    """HeteroFL's parameter fraction of level p, r^(2(p−1))."""
    from planner.cost.heterofl import parameter_fraction

    return float(parameter_fraction(_number(setup, "ratio"), _whole(setup, "level")))


@evaluator("heterofl_model_fraction", setup=("model", "ratio", "level"))
def heterofl_model_fraction(setup: Mapping[str, Any], ctx: Context) -> float:
    """Parameters of a CNN's actual level-p sub-network (hidden channels × r^(p−1)) over the full model's."""
    from planner.cost.heterofl import model_levels
    from planner.spec.architecture import CNNArchitecture
    from planner.spec.catalog import find

    model = find("models", setup["model"])
    if not isinstance(model, CNNArchitecture):
        raise ValueError(
            f"heterofl_model_fraction needs a CNN architecture, and '{model.name}' is a {model.spec}"
        )
    levels = model_levels(model, _number(setup, "ratio"), _whole(setup, "level"))
    return levels[-1].parameters / levels[0].parameters


@evaluator("cmfl_relevance", setup=("update", "global_update"))
def cmfl_relevance(setup: Mapping[str, Any], ctx: Context) -> float:
    """CMFL's relevance: the fraction of parameters whose update has the global update's sign."""
    from planner.cost.federated import cmfl_relevance as relevance

    return relevance(setup["update"], setup["global_update"])


@evaluator("noniid_emd", setup=("clients", "samples", "classes", "classes_per_client"))
def noniid_emd(setup: Mapping[str, Any], ctx: Context) -> float:
    """Mean EMD from the population of a generated k-class non-IID partition (equal samples per client)."""
    from planner.cost.noniid import earth_movers_distance, k_class_partition

    table = k_class_partition(
        [_whole(setup, "samples")] * _whole(setup, "clients"),
        _whole(setup, "classes"),
        _whole(setup, "classes_per_client"),
    )
    return float(earth_movers_distance(table).mean())


@evaluator(
    "noniid_shared_bytes_per_client",
    setup=("total_samples", "clients", "fraction", "sample_bytes"),
    optional=("portion",),
)
def noniid_shared_bytes_per_client(setup: Mapping[str, Any], ctx: Context) -> float:
    """Bytes of Zhao et al.'s globally shared data each client receives, α·β·N·bytes per sample."""
    from planner.cost.noniid import shared_subset

    portion = _number(setup, "portion") if "portion" in setup else 1.0
    subset = shared_subset(
        _number(setup, "total_samples"),
        _whole(setup, "clients"),
        _number(setup, "fraction"),
        _number(setup, "sample_bytes"),
        portion,
    )
    return subset.bytes_per_client


@evaluator("cmfl_sign_agreement", setup=("correlation",))
def cmfl_sign_agreement(setup: Mapping[str, Any], ctx: Context) -> float:
    """Probability that a parameter's local and global updates share a sign, 1/2 + arcsin(rho)/pi."""
    from planner.cost.federated_cmfl import sign_agreement

    return float(sign_agreement(_number(setup, "correlation")))


@evaluator("cmfl_upload_probability", setup=("correlation", "threshold", "parameters"))
def cmfl_upload_probability(setup: Mapping[str, Any], ctx: Context) -> float:
    """Probability that a client's CMFL relevance reaches the threshold (sign-agreement model)."""
    from planner.cost.federated_cmfl import sign_agreement, upload_probability

    agreement = sign_agreement(_number(setup, "correlation"))
    return float(upload_probability(agreement, _whole(setup, "parameters"), _number(setup, "threshold")))


@evaluator(
    "noniid_shared_accuracy_gain",
    setup=("clients", "samples", "classes", "classes_per_client", "fraction"),
    optional=("portion",),
)
def noniid_shared_accuracy_gain(setup: Mapping[str, Any], ctx: Context) -> float:
    """Points of accuracy Zhao et al.'s shared data buys in the EMD-linear model, on a generated k-class
    partition of equal clients with a `fraction` (beta) shared set, `portion` (alpha) of it to each."""
    from planner.cost.federated_accuracy import shared_data_gain
    from planner.cost.noniid import earth_movers_distance, k_class_partition

    samples = [_whole(setup, "samples")] * _whole(setup, "clients")
    table = k_class_partition(samples, _whole(setup, "classes"), _whole(setup, "classes_per_client"))
    portion = _number(setup, "portion") if "portion" in setup else 1.0
    shared = portion * _number(setup, "fraction") * float(sum(samples))
    return shared_data_gain(earth_movers_distance(table), table.sum(axis=1), shared)


@evaluator(
    "fl_selection_objective",
    setup=("times_s", "emd", "clients", "w_latency", "method"),
    optional=("iid_accuracy",),
)
def fl_selection_objective(setup: Mapping[str, Any], ctx: Context) -> float:
    """FedMARL's objective Acc − w2·latency (no bytes term) of a selection of exactly `clients`: `method`
    ilp (the optimum), fastest, or random (FedAvg's uniform selection, in expectation); Acc from the
    clients' label EMD (planner.cost.federated_accuracy), w1 = 1 per point."""
    import numpy as np

    from planner.cost.federated_accuracy import selection_utility
    from planner.optimize import client_selection as cs

    times, emd = np.asarray(setup["times_s"], dtype=float), np.asarray(setup["emd"], dtype=float)
    m = _whole(setup, "clients")
    accuracy = _number(setup, "iid_accuracy") if "iid_accuracy" in setup else 100.0
    utility = selection_utility(emd, m, accuracy)
    problem = cs.SelectionProblem(
        times, utility, np.zeros(len(times)), 1.0, _number(setup, "w_latency"), 0.0, m, m
    )
    method = setup["method"]
    if method == "ilp":
        return cs.solve_ilp(problem).objective
    if method == "fastest":
        return cs.fastest(problem, m).objective
    if method == "random":
        return cs.random_expected(problem, m).objective
    raise ValueError(f"setup 'method' must be ilp, fastest or random, got {method!r}")
