"""Neurosurgeon split points and the one-device / cloud baselines."""

from __future__ import annotations

import numpy as np
import pytest

from planner.cost.edge_baselines import cloud_offload, fits, single_device_s, wan_link
from planner.cost.edge_model import from_architecture, from_profile, model_time
from planner.cost.neurosurgeon import Power, split_sweep
from planner.spec.catalog import find


@pytest.fixture(scope="module")
def setup():
    model = from_architecture(find("models", "alexnet"))
    pi = find("hardware", "raspberry-pi-3b-plus")
    cloud = find("hardware", "cloud-v100")
    return model, pi, cloud


def test_cloud_offload_phases(setup) -> None:
    model, _, cloud = setup
    link = wan_link(cloud)
    offload = cloud_offload(model, cloud)
    assert offload.upload_s == pytest.approx(link.latency + model.image_bytes / link.effective_bandwidth)
    assert offload.download_bytes == 1000 * 4
    assert offload.total_s == pytest.approx(offload.upload_s + offload.compute_s + offload.download_s)
    faster = cloud_offload(model, cloud, uplink=10 * link.effective_bandwidth)
    assert faster.upload_s < offload.upload_s


def test_the_sweep_ends_are_cloud_only_and_mobile_only(setup) -> None:
    model, pi, cloud = setup
    link = wan_link(cloud)
    sweep = split_sweep(model, pi, cloud.device, link, [link.effective_bandwidth])
    assert sweep.latency_s[0, -1] == pytest.approx(single_device_s(model, pi))
    assert sweep.latency_s[0, 0] == pytest.approx(cloud_offload(model, cloud).total_s)
    assert sweep.crossing_bytes[0] == model.image_bytes and sweep.crossing_bytes[-1] == 0.0
    assert len(sweep.splits) == model.size + 1


def test_bandwidth_moves_the_split(setup) -> None:
    model, pi, cloud = setup
    link = wan_link(cloud)
    sweep = split_sweep(model, pi, cloud.device, link, [1e3, 1e11])
    best = sweep.best()
    assert best[0] == model.size  # a dial-up uplink: stay on the device
    assert best[1] == 0  # an enormous uplink: send the input, the cloud is faster
    # the chosen split is never worse than either end
    for i in range(2):
        assert sweep.latency_s[i, best[i]] <= min(sweep.latency_s[i, 0], sweep.latency_s[i, -1])


def test_energy_counts_compute_transmit_and_idle(setup) -> None:
    model, pi, cloud = setup
    link = wan_link(cloud)
    rate = link.effective_bandwidth
    sweep = split_sweep(model, pi, cloud.device, link, [rate], Power(compute=2.0, transmit=1.0, idle=0.5))
    assert sweep.energy_j is not None
    assert sweep.energy_j[0, -1] == pytest.approx(2.0 * model_time(model, pi))
    upload = model.image_bytes / rate
    wait = sweep.latency_s[0, 0] - upload
    assert sweep.energy_j[0, 0] == pytest.approx(1.0 * upload + 0.5 * wait)
    with pytest.raises(ValueError, match="power"):
        split_sweep(model, pi, cloud.device, link, [rate]).best("energy")
    with pytest.raises(ValueError, match=">= 0"):
        Power(-1.0, 1.0)


def test_any_profile_works(shared_dir) -> None:
    profile = find("models", str(shared_dir / "profiles/pipedream/alexnet.graph.txt"))
    origin = find("hardware", "titan-x-pascal")
    model = from_profile(profile, measured_on=origin, samples=256)  # README: alexnet's minibatch is 256
    cloud = find("hardware", "cloud-v100")
    sweep = split_sweep(
        model, find("hardware", "raspberry-pi-3b-plus"), cloud.device, wan_link(cloud), [1e6, 1e8]
    )
    assert np.all(np.isfinite(sweep.latency_s))
    with pytest.raises(ValueError, match="measured"):
        from_profile(profile, samples=256)
    with pytest.raises(ValueError, match="unstated"):
        from_profile(profile, measured_on=origin)


def test_fits_in_memory(setup) -> None:
    model, pi, _ = setup
    assert fits(model, pi)
    big = from_architecture(find("models", "vgg16"))
    tiny = find("hardware", "raspberry-pi-3b")
    assert fits(big, pi) == (big.weight_bytes.sum() + (big.input_bytes + big.output_bytes).max() <= pi.memory)
    assert isinstance(fits(big, tiny), bool)
