"""CMFL's derived uploads, lossy links and the EMD accuracy model: the cost functions against independent
computations, and the fl questions (round, select, noniid) that use them."""

from __future__ import annotations

import math

import numpy as np
import pytest

from planner.api.fl_noniid import FLNoniidOptions, fl_noniid
from planner.api.fl_round import FLRoundOptions, fl_round
from planner.api.fl_select import FLSelectOptions, fl_select
from planner.cost import federated_accuracy as fa
from planner.cost import federated_cmfl as cmfl
from planner.cost import federated_lossy as lossy
from planner.errors import SettingError


def test_sign_agreement_matches_sampled_normal_pairs() -> None:
    rng = np.random.default_rng(3)
    rho = 0.4
    g = rng.standard_normal(400_000)
    u = rho * g + math.sqrt(1 - rho**2) * rng.standard_normal(g.size)
    sampled = float(cmfl.relevance_of_updates(u[None, :], g)[0])
    assert sampled == pytest.approx(float(cmfl.sign_agreement(rho)), abs=0.003)


def test_upload_probability_is_a_step_for_large_models_and_soft_for_small() -> None:
    q = float(cmfl.sign_agreement(0.5))  # 2/3
    assert float(cmfl.upload_probability(q, 10_000_000, 0.66)) == pytest.approx(1.0)
    assert float(cmfl.upload_probability(q, 10_000_000, 0.67)) == pytest.approx(0.0, abs=1e-9)
    assert 0.1 < float(cmfl.upload_probability(q, 100, 0.7)) < 0.5


def test_relevance_of_given_updates() -> None:
    updates = [[1, -1, 1, 1], [-1, -1, -1, -1]]
    assert cmfl.relevance_of_updates(updates, [1, 1, 1, 1]).tolist() == [0.75, 0.0]
    with pytest.raises(ValueError, match="clients x parameters"):
        cmfl.relevance_of_updates(updates, [1, 1])


def test_lossy_link_factors() -> None:
    assert lossy.wire_bytes(900.0, 0.1) == pytest.approx(1000.0)
    assert lossy.packets(3001) == 3
    assert float(lossy.delivery_probability([1500, 3000], 0.1)) == pytest.approx(0.9**3)
    with pytest.raises(ValueError, match=r"\[0, 1\)"):
        lossy.goodput_factor(1.0)


def test_mixed_emd_equals_the_emd_of_the_mixed_counts() -> None:
    from planner.cost.noniid import earth_movers_distance

    own = np.array([[50, 0, 0, 0], [0, 30, 10, 0], [0, 0, 20, 40]])
    population = own.sum(axis=0) / own.sum()
    shared = 12.0
    mixed_counts = own + shared * population[None, :]
    emd = earth_movers_distance(own)
    direct = np.abs(mixed_counts / mixed_counts.sum(axis=1, keepdims=True) - population).sum(axis=1)
    assert fa.mixed_emd(emd, own.sum(axis=1), shared) == pytest.approx(direct)


def test_shared_gain_is_positive_and_zero_for_iid() -> None:
    assert fa.shared_data_gain([1.8], [5000], 2500) == pytest.approx(fa.LOSS_PER_EMD * 0.6)
    assert fa.shared_data_gain([0.0], [5000], 2500) == 0.0


def test_round_cmfl_threshold_derives_the_relevant_fraction() -> None:
    low = fl_round("mixed-edge", "resnet18", FLRoundOptions(cmfl_threshold=0.6, update_correlation=0.5))
    high = fl_round("mixed-edge", "resnet18", FLRoundOptions(cmfl_threshold=0.7, update_correlation=0.5))
    assert low.settings.relevant_fraction == pytest.approx(1.0)
    assert high.settings.relevant_fraction == pytest.approx(0.0, abs=1e-9)
    assert high.round.updates == 0.0 and high.round.cmfl_saved_upload_bytes > 0


def test_round_cmfl_from_an_updates_file(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "u.npz"
    np.savez(
        path, updates=np.array([[1.0, 1.0], [1.0, -1.0], [-1.0, -1.0], [1.0, 1.0]]), global_update=[1.0, 1.0]
    )
    result = fl_round("mixed-edge", "resnet18", FLRoundOptions(cmfl_threshold=0.5, updates=str(path)))
    assert result.settings.relevant_fraction == pytest.approx(0.75)


@pytest.mark.parametrize(
    ("options", "setting"),
    [
        (FLRoundOptions(update_correlation=0.5), "cmfl_threshold"),
        (FLRoundOptions(cmfl_threshold=0.5), "update_correlation"),
        (FLRoundOptions(cmfl_threshold=0.5, update_correlation=2.0), "update_correlation"),
        (
            FLRoundOptions(cmfl_threshold=0.5, update_correlation=0.1, relevant_fraction=0.5),
            "relevant_fraction",
        ),
        (FLRoundOptions(packet_loss=1.0), "packet_loss"),
        (FLRoundOptions(loss_recovery="fec"), "loss_recovery"),
    ],
)
def test_round_refuses_bad_cmfl_and_loss_settings(options: FLRoundOptions, setting: str) -> None:
    with pytest.raises(SettingError) as info:
        fl_round("mixed-edge", "resnet18", options)
    assert info.value.setting == setting


def test_retransmission_slows_the_round_and_adds_bytes() -> None:
    clean = fl_round("mixed-edge", "resnet18", FLRoundOptions())
    lossy_round = fl_round("mixed-edge", "resnet18", FLRoundOptions(packet_loss=0.2))
    assert lossy_round.round.round_s > clean.round.round_s
    assert lossy_round.round.bytes == pytest.approx(clean.round.bytes / 0.8)


def test_dropped_updates_lower_the_updates_received() -> None:
    clean = fl_round("mixed-edge", "resnet18", FLRoundOptions())
    dropped = fl_round("mixed-edge", "resnet18", FLRoundOptions(packet_loss=1e-5, loss_recovery="drop"))
    assert dropped.round.updates < clean.round.updates


def test_select_accuracy_utility_prefers_less_skewed_clients() -> None:
    rows = [[100, 0], [0, 100], [50, 50], [50, 50]] * 250  # skewed (EMD 1) and balanced (EMD 0) clients
    options = FLSelectOptions(
        clients_per_round=10,
        utility="accuracy",
        w_latency=0.0,
        w_bytes=0.0,
        labels=FLNoniidOptions(partition=rows),
    )
    result = fl_select("mixed-edge", "resnet18", options)
    ilp = result.selections[0]
    assert all(k % 4 >= 2 for k in result.ilp_clients)  # only balanced clients
    assert ilp.utility == pytest.approx(100.0)
    assert result.selections[2].utility < ilp.utility  # random (FedAvg) draws skewed ones too


def test_select_accuracy_needs_exactly_m() -> None:
    with pytest.raises(SettingError) as info:
        fl_select("mixed-edge", "resnet18", FLSelectOptions(utility="accuracy", max_clients=20))
    assert info.value.setting == "min_clients"


def test_noniid_reports_the_accuracy_the_shared_data_buys() -> None:
    result = fl_noniid("mixed-edge", FLNoniidOptions(sample_bytes=3072.0))
    shared = result.shared_subset
    assert shared.accuracy_gain_points == pytest.approx(
        shared.accuracy_loss_points - shared.accuracy_loss_with_shared_points
    )
    assert shared.accuracy_gain_points > 0
