"""MoDNN's MSCC for sparse fc layers: co-clusters recovered, balance to shares, the 1-D closed form."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import scipy.sparse as sp

from planner.api.edge_modnn import EdgeMoDNNOptions, edge_modnn
from planner.cost.modnn_mscc import TOLERANCE, as_pattern, mscc, one_d, proportional_counts, random_pattern
from planner.errors import SettingError, SpecError

BLOCKS = ((300, 500), (200, 300), (250, 400), (250, 300))  # (outputs, inputs) of each diagonal block


def _permuted_blocks(seed: int = 1) -> tuple[sp.csr_matrix, np.ndarray, np.ndarray]:
    """A block-diagonal pattern (density 0.2 inside each block) with rows and columns shuffled, and the
    block of each shuffled row and column."""
    rng = np.random.default_rng(seed)
    blocks = [sp.random(r, c, density=0.2, random_state=rng, data_rvs=np.ones) for r, c in BLOCKS]
    matrix = sp.block_diag(blocks).tocsr()
    row_block = np.repeat(np.arange(len(BLOCKS)), [r for r, _ in BLOCKS])
    col_block = np.repeat(np.arange(len(BLOCKS)), [c for _, c in BLOCKS])
    rows, cols = rng.permutation(matrix.shape[0]), rng.permutation(matrix.shape[1])
    return as_pattern(matrix[rows][:, cols]), row_block[rows], col_block[cols]


def test_mscc_recovers_permuted_blocks_with_no_traffic() -> None:
    pattern, row_block, col_block = _permuted_blocks()
    work = np.bincount(row_block, weights=pattern.getnnz(axis=1))
    result = mscc(pattern, work / work.sum())
    assert result.received == (0, 0, 0, 0)
    for block in range(len(BLOCKS)):  # every block lands whole on one device, its rows with its columns
        devices = set(result.row_owner[row_block == block]) | set(result.col_owner[col_block == block])
        assert len(devices) == 1
    assert result.imbalance < 1e-9


def test_mscc_packs_more_blocks_than_devices_whole() -> None:
    pattern, row_block, _ = _permuted_blocks()
    work = np.bincount(row_block, weights=pattern.getnnz(axis=1))
    pairs = work[0] + work[3], work[1] + work[2]  # 2 devices sized to hold 2 blocks each
    result = mscc(pattern, np.array(pairs) / work.sum())
    assert result.received == (0, 0)


def test_mscc_balances_and_beats_the_1d_split() -> None:
    pattern, _, _ = _permuted_blocks()
    shares = np.full(4, 0.25)  # blocks of unequal work: rows must move to balance
    split, bands = mscc(pattern, shares), one_d(pattern, shares)
    assert split.imbalance <= TOLERANCE
    assert sum(split.received) < 0.5 * sum(bands.received)


@pytest.mark.parametrize("shares", [(0.5, 0.3, 0.2), (0.1, 0.2, 0.3, 0.4)])
def test_balance_within_tolerance_on_random_sparsity(shares: tuple[float, ...]) -> None:
    pattern = random_pattern(600, 900, 0.05, seed=3)
    result = mscc(pattern, np.array(shares))
    assert result.imbalance <= TOLERANCE
    assert sorted(set(result.row_owner)) == list(range(len(shares)))


@pytest.mark.parametrize("shares", [(0.5, 0.5), (0.6, 0.25, 0.15)])
def test_1d_split_of_a_dense_layer_is_the_closed_form(shares: tuple[float, ...]) -> None:
    outputs, inputs = 70, 110
    result = one_d(as_pattern(np.ones((outputs, inputs))), np.array(shares))
    assert list(result.work) == list(proportional_counts(outputs, np.array(shares)) * inputs)
    assert sum(result.received) == (len(shares) - 1) * inputs  # the whole input to every other worker
    assert result.needed == (inputs,) * len(shares)


def test_proportional_counts_sum_exactly() -> None:
    counts = proportional_counts(1001, np.array([0.5, 0.3, 0.2]))
    assert counts.sum() == 1001
    assert list(counts) == [501, 300, 200]  # 500.5 rounds up: the largest remainder


def _alexnet_fc3_blocks(tmp_path: Path, suffix: str) -> Path:
    """alexnet's fc3 (1000 x 4096) pruned to 4 diagonal blocks, rows and columns shuffled."""
    rng = np.random.default_rng(7)
    dense = sp.block_diag([sp.random(250, 1024, density=0.1, random_state=rng) for _ in range(4)]).toarray()
    dense = dense[rng.permutation(1000)][:, rng.permutation(4096)]
    path = tmp_path / f"fc{suffix}"
    if suffix == ".npy":
        np.save(path, dense)
    else:
        np.savez(path, fc3=dense)
    return path


@pytest.mark.parametrize("suffix", [".npy", ".npz"])
def test_weights_file_drives_fc_delivery(tmp_path: Path, suffix: str) -> None:
    path = str(_alexnet_fc3_blocks(tmp_path, suffix))
    dense = edge_modnn("alexnet", EdgeMoDNNOptions(workers=(4,))).to_dict()["results"][0]
    bands = edge_modnn("alexnet", EdgeMoDNNOptions(workers=(4,), fc_weights=path)).to_dict()["results"][0]
    split = edge_modnn(
        "alexnet", EdgeMoDNNOptions(workers=(4,), fc_weights=path, fc_partition="mscc")
    ).to_dict()["results"][0]
    (layer,) = split["fc_layers"]
    assert (layer["layer"], layer["weights"]) == ("fc3", "file")
    assert layer["mscc"]["received_bytes"] == 0.0
    whole = 3 * 4096 * 4  # the whole input (fp32) to each of the 3 other workers
    assert layer["1d"]["received_bytes"] == pytest.approx(whole, rel=0.01)  # shuffled: bands read ~all
    assert bands["delivered_bytes"] == pytest.approx(dense["delivered_bytes"], rel=1e-3)
    assert split["delivered_bytes"] == pytest.approx(dense["delivered_bytes"] - whole)
    assert split["delivery_s"] < dense["delivery_s"]


def test_random_density_reports_both_splits() -> None:
    result = edge_modnn("alexnet", EdgeMoDNNOptions(workers=(2,), fc_density=0.04)).to_dict()
    layers = result["results"][0]["fc_layers"]
    assert [f["layer"] for f in layers] == ["fc1", "fc2", "fc3"]
    assert all(f["weights"].startswith("random, density 0.04") for f in layers)
    assert result["fc_partition"] == "1d"


def test_bad_settings() -> None:
    with pytest.raises(SettingError, match="fc_density"):
        edge_modnn("alexnet", EdgeMoDNNOptions(fc_density=1.5))
    with pytest.raises(SettingError, match="fc_partition"):
        edge_modnn("alexnet", EdgeMoDNNOptions(fc_partition="mscc"))


def test_weights_file_of_no_fc_shape(tmp_path: Path) -> None:
    path = tmp_path / "w.npy"
    np.save(path, np.ones((3, 5)))
    with pytest.raises(SpecError, match=r"w\.npy.*matches no fc layer.*fc3 1000x4096"):
        edge_modnn("alexnet", EdgeMoDNNOptions(fc_weights=str(path)))


def test_cli_names_the_options_and_the_file(run_cli: Any, tmp_path: Path) -> None:
    missing = run_cli("edge", "modnn", "alexnet", "--fc-partition", "mscc")
    assert missing.exit_code == 2 and "--fc-density" in missing.stderr and "Traceback" not in missing.stderr
    bad = tmp_path / "w.txt"
    bad.write_text("x")
    wrong = run_cli("edge", "modnn", "alexnet", "--fc-weights", str(bad))
    assert wrong.exit_code == 2 and "w.txt" in wrong.stderr
    path = str(_alexnet_fc3_blocks(tmp_path, ".npz"))
    out = run_cli("edge", "modnn", "alexnet", "--workers", "4", "--fc-weights", path, "--format", "json")
    assert json.loads(out.stdout)["results"][0]["fc_layers"][0]["traffic_cut"] == 1.0
