"""Lossy client links in a federated round: a packet error rate p on a client's link, recovered by
retransmission or ending in a lost update.

* retransmit (selective-repeat ARQ: Bertsekas & Gallager, "Data Networks", 2nd ed., 1992, Sec. 2.4):
  every packet is sent until it arrives, a geometric number of tries with mean 1 / (1 − p); with the
  link kept busy (pipelined ARQ, timeouts overlapped with later packets) a message of S bytes takes
  latency + S / (bandwidth · (1 − p)) and puts S / (1 − p) bytes on the wire.
* drop (no recovery, e.g. a datagram transport): a message arrives only if all of its ⌈S / MTU⌉ packets
  do, with probability (1 − p)^⌈S/MTU⌉ (packet errors independent). A client whose model download or
  update upload is lost contributes no update; the server is taken to learn of the loss when the
  transfer fails (as of a dropout, planner.cost.federated.expected_round), not at a deadline.
Units: bytes, seconds, probabilities.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

MTU_BYTES = 1500.0  # Ethernet's maximum payload per packet (RFC 894): the unit a loss applies to
RECOVERIES = ("retransmit", "drop")


def check_loss(loss: float) -> float:
    if not 0 <= loss < 1:
        raise ValueError(f"the packet error rate must be in [0, 1), got {loss}")
    return loss


def goodput_factor(loss: float) -> float:
    """Fraction of a link's bandwidth that carries new data under selective-repeat ARQ: 1 − p."""
    return 1.0 - check_loss(loss)


def wire_bytes(size: float, loss: float) -> float:
    """Bytes sent for a message of `size` bytes under retransmission: size / (1 − p)."""
    return size / goodput_factor(loss)


def packets(size: float, packet_bytes: float = MTU_BYTES) -> int:
    """Packets a message of `size` bytes is cut into: ⌈size / packet_bytes⌉ (at least 1)."""
    if packet_bytes <= 0:
        raise ValueError(f"the packet size must be > 0 bytes, got {packet_bytes}")
    return max(1, math.ceil(size / packet_bytes - 1e-9))


def delivery_probability(
    sizes: npt.ArrayLike, loss: float, packet_bytes: float = MTU_BYTES
) -> npt.NDArray[np.float64]:
    """Probability that every message of `sizes` (bytes) arrives without recovery: Π (1 − p)^⌈S/MTU⌉."""
    keep = goodput_factor(loss)
    count = sum(packets(float(s), packet_bytes) for s in np.atleast_1d(np.asarray(sizes, dtype=float)))
    return np.asarray(keep**count, dtype=float)
