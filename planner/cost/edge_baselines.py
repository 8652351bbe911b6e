"""Baselines for edge inference: the whole model on one device, or offloaded to a remote cloud.

* One device: the forward pass of every layer on that device (roofline per layer, edge_model).
* Remote cloud (the "cloud-only" strategy of Kang et al., "Neurosurgeon: Collaborative Intelligence
  Between the Cloud and Mobile Edge", ASPLOS 2017, Sec. 2): upload the model input over the WAN, run
  the model on the cloud device, download the result. Each direction is one message of the alpha-beta
  model: latency + bytes / effective bandwidth. The WAN is the outermost level's link of the cloud
  cluster (the server's connection to the user); the hop from the device to its access point is not
  charged separately (the WAN is the slower of the two).

Units: bytes, seconds.
"""

from __future__ import annotations

from dataclasses import dataclass

from planner.cost.edge_model import EdgeModel, model_time, transfer_time
from planner.spec.hardware import Cluster, Device, Link


@dataclass(frozen=True)
class CloudOffload:
    """Latency of running the model in the cloud, by phase (seconds)."""

    upload_bytes: float
    upload_s: float
    compute_s: float
    download_bytes: float
    download_s: float

    @property
    def total_s(self) -> float:
        return self.upload_s + self.compute_s + self.download_s

    def to_dict(self) -> dict[str, float]:
        return {
            "upload_bytes": self.upload_bytes,
            "upload_s": self.upload_s,
            "compute_s": self.compute_s,
            "download_bytes": self.download_bytes,
            "download_s": self.download_s,
            "total_s": self.total_s,
        }


def wan_link(cloud: Cluster) -> Link:
    """The link between the user and the cloud server: the cloud cluster's outermost level link."""
    return cloud.levels[-1].link


def cloud_device(cloud: Cluster) -> Device:
    """The device a cloud cluster computes on (its Device; catalog names are resolved on load)."""
    if not isinstance(cloud.device, Device):
        raise ValueError(f"cluster '{cloud.name}' names device '{cloud.device}' that is not resolved")
    return cloud.device


def single_device_s(model: EdgeModel, device: Device) -> float:
    """Seconds for one device to run the whole forward pass."""
    return model_time(model, device)


def cloud_offload(model: EdgeModel, cloud: Cluster, uplink: float | None = None) -> CloudOffload:
    """Upload the model input, compute on the cloud device, download the final output.

    `uplink` (bytes/s, effective) overrides the WAN's upload rate; the download uses the WAN link.
    """
    link = wan_link(cloud)
    up_rate = link.effective_bandwidth if uplink is None else uplink
    result = float(model.output_bytes[-1])
    return CloudOffload(
        upload_bytes=model.image_bytes,
        upload_s=link.latency + model.image_bytes / up_rate,
        compute_s=model_time(model, cloud_device(cloud)),
        download_bytes=result,
        download_s=float(transfer_time(result, link)),
    )


def fits(model: EdgeModel, device: Device, start: int = 0, stop: int | None = None) -> bool:
    """True when layers [start, stop) fit in the device's memory: their weights plus the largest
    input + output activation of one layer (activations of earlier layers are freed)."""
    sel = slice(start, stop)
    weights = float(model.weight_bytes[sel].sum())
    activations = float((model.input_bytes[sel] + model.output_bytes[sel]).max(initial=0.0))
    return weights + activations <= device.usable_memory
