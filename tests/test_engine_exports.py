"""Exports loaded by the engines themselves: DeepSpeed's own config class accepts the exported config at
the planned world size (a stub model-parallel unit stands in for the process group; no 16-process run).

Skipped where DeepSpeed is not installed. (torch's split spec is applied by pipeline() in test_engine.py.)
"""

from __future__ import annotations

import socket

import pytest

pytest.importorskip("torch", reason="needs the extra planner[torch] (pip install '.[torch]')")
deepspeed = pytest.importorskip("deepspeed", reason="DeepSpeed is not installed")


class StubMPU:
    """The part of a model-parallel unit DeepSpeedConfig reads: the data-parallel world size."""

    def __init__(self, data_parallel: int) -> None:
        self.data_parallel = data_parallel

    def get_data_parallel_world_size(self) -> int:
        return self.data_parallel

    def get_data_parallel_rank(self) -> int:
        return 0

    def get_model_parallel_world_size(self) -> int:
        return 1

    def get_model_parallel_rank(self) -> int:
        return 0


@pytest.fixture
def one_process_group(monkeypatch: pytest.MonkeyPatch):
    """deepspeed.comm on a one-process gloo group: DeepSpeedConfig asks it for the rank before it reads
    the model-parallel unit's world size (without a group it falls back to a world of 1)."""
    import deepspeed.comm as dist

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    for name, value in {
        "MASTER_ADDR": "127.0.0.1",
        "MASTER_PORT": str(port),
        "RANK": "0",
        "LOCAL_RANK": "0",
        "WORLD_SIZE": "1",
    }.items():
        monkeypatch.setenv(name, value)
    deepspeed.init_distributed(dist_backend="gloo", auto_mpi_discovery=False)
    yield
    dist.destroy_process_group()


def test_deepspeed_accepts_the_exported_dp_config(one_process_group: None) -> None:
    from deepspeed.runtime.config import DeepSpeedConfig

    from planner.api.export import DPExportOptions, export_dp

    exported = export_dp("resnet18", "pipedream-cluster-a", "deepspeed", DPExportOptions()).to_dict()
    config, world = exported["config"], exported["data_parallel_size"]
    checked = DeepSpeedConfig(dict(config), mpu=StubMPU(world))
    assert checked.world_size == world == 16
    assert checked.train_batch_size == config["train_batch_size"]
    wrong = dict(config, train_batch_size=config["train_batch_size"] + 1)
    with pytest.raises(AssertionError, match="train_batch_size"):
        DeepSpeedConfig(wrong, mpu=StubMPU(world))
