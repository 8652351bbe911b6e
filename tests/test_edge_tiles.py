"""Spatial tiles of a CNN (FDSP, halo exchange, channel partition) and the edge model's layer figures."""

from __future__ import annotations

import numpy as np
import pytest

from planner.cost import edge_tiles
from planner.cost.edge_model import from_architecture, layer_times, model_time, transfer_time
from planner.spec.catalog import find
from planner.spec.hardware import Link


@pytest.fixture(scope="module")
def vgg():
    return from_architecture(find("models", "vgg16"))


@pytest.fixture(scope="module")
def pi():
    return find("hardware", "raspberry-pi-3b-plus")


def test_split_sizes_are_near_equal_and_complete() -> None:
    assert edge_tiles.split_sizes(7, 4) == (2, 2, 2, 1)
    assert edge_tiles.split_sizes(224, 8) == (28,) * 8
    with pytest.raises(ValueError, match="bands"):
        edge_tiles.split_sizes(3, 4)


def test_grid_classes_cover_the_map() -> None:
    grid = edge_tiles.TileGrid(7, 7, 4, 4)
    classes = grid.classes()
    assert sum(classes.values()) == 16
    assert sum(grid.share(tile) * n for tile, n in classes.items()) == pytest.approx(1.0)
    assert next(iter(classes)) == (2, 2)  # largest first


def test_parse_grid() -> None:
    assert edge_tiles.parse_grid("4x3") == (4, 3)
    for bad in ("4", "0x2", "axb", "4x-1"):
        with pytest.raises(ValueError, match="ROWSxCOLS"):
            edge_tiles.parse_grid(bad)


def test_tiles_split_the_work_and_bytes(vgg, pi) -> None:
    cut = vgg.index("pool5")
    whole = edge_tiles.tile_compute_time(vgg, cut, 1.0, pi)
    quarter = edge_tiles.tile_compute_time(vgg, cut, 0.25, pi)
    # compute-bound layers split exactly; weight reads repeat per tile, so four quarters cost a bit more
    assert whole <= 4 * quarter <= 1.1 * whole
    assert edge_tiles.tile_input_bytes(vgg, 0.25) == pytest.approx(vgg.image_bytes / 4)
    assert edge_tiles.tile_output_bytes(vgg, cut, 0.25, 0.25) == pytest.approx(512 * 7 * 7 * 4 / 16)
    with pytest.raises(ValueError, match="compression"):
        edge_tiles.tile_output_bytes(vgg, cut, 0.25, 0.0)


def test_window_and_halo_width() -> None:
    assert edge_tiles.window("Conv2d(3, 64, kernel_size=3, padding=1)") == (3, 1, 1)
    assert edge_tiles.window("MaxPool2d(kernel_size=2, stride=2, padding=0)") == (2, 2, 1)
    assert edge_tiles.window("ReLU()") is None
    assert edge_tiles.halo_width(3, 1) == 1
    assert edge_tiles.halo_width(2, 2) == 0
    assert edge_tiles.halo_width(7, 2) == 3
    assert edge_tiles.halo_width(3, 1, dilation=2) == 2


def test_halo_bytes_by_hand(vgg) -> None:
    cut = vgg.index("pool5")
    assert not edge_tiles.halo_bytes(vgg, cut, 1, 1).any()
    halo = edge_tiles.halo_bytes(vgg, cut, 2, 1)
    # conv1_2: 64 x 224 x 224 fp32 input, one horizontal boundary, one row each way
    assert halo[vgg.index("conv1_2")] == pytest.approx(2 * 1 * 64 * 4 * 224)
    assert halo[vgg.index("pool1")] == 0.0  # a 2x2 window with stride 2 needs no halo


def test_channel_partition_exchanges_partial_sums(vgg) -> None:
    cut = vgg.index("pool1")
    exchange = edge_tiles.channel_partition_bytes(vgg, cut, 4)
    assert exchange[vgg.index("conv1_1")] == pytest.approx(3 * 64 * 224 * 224 * 4)
    assert exchange[vgg.index("relu1_1")] == 0.0


def test_fdsp_moves_least(vgg, pi) -> None:
    cut = vgg.index("pool5")
    costs = {c.scheme: c for c in edge_tiles.compare_schemes(vgg, cut, pi, 8, 6.25e6, 2e-3, True)}
    assert costs["fdsp"].bytes_on_medium < costs["halo"].bytes_on_medium < costs["channel"].bytes_on_medium
    single = edge_tiles.compare_schemes(vgg, cut, pi, 1, 6.25e6, 2e-3, True)
    assert all(c.comm_s == 0 for c in single)


def test_cut_candidates_are_clean_cuts() -> None:
    resnet = from_architecture(find("models", "resnet18"))
    for i in edge_tiles.cut_candidates(resnet):
        assert resnet.single_cut(i)
        assert resnet.is_spatial(i)
    # inside a residual block the shortcut is still live: not a candidate
    assert resnet.index("layer1.0.conv1") not in edge_tiles.cut_candidates(resnet)


def test_crossing_bytes_chain_and_dag(vgg) -> None:
    assert vgg.crossing_bytes(0) == vgg.image_bytes
    assert vgg.crossing_bytes(vgg.size) == 0.0
    k = vgg.index("pool1") + 1
    assert vgg.crossing_bytes(k) == vgg.output_bytes[k - 1]
    resnet = from_architecture(find("models", "resnet18"))
    inside = resnet.index("layer1.0.conv2")
    # the block input (shortcut) and conv1's output both cross
    assert resnet.crossing_bytes(inside) > resnet.output_bytes[inside - 1]


def test_layer_times_scale_with_share_when_compute_bound(vgg, pi) -> None:
    conv = vgg.index("conv2_2")
    whole = layer_times(vgg, pi)[conv]
    half = layer_times(vgg, pi, 0.5)[conv]
    assert half == pytest.approx(whole / 2)
    assert model_time(vgg, pi) == pytest.approx(float(layer_times(vgg, pi).sum()))


def test_transfer_time_is_alpha_beta() -> None:
    link = Link(bandwidth=1e6, latency=0.01, efficiency=0.5)
    assert float(transfer_time(5e5, link)) == pytest.approx(0.01 + 1.0)
    assert float(transfer_time(0.0, link, messages=0)) == 0.0
    assert np.allclose(transfer_time(np.array([0.0, 5e5]), link), [0.01, 1.01])
