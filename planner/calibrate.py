"""Measure the machine this runs on: dense matmul rate, memory copy bandwidth, loopback TCP.

Pure measurement functions returning SI numbers (FLOP/s, bytes/s, seconds, bytes); they know nothing
about YAML or the terminal. Each takes an optional `tick` callback, called once per finished
repetition, so a caller can show progress. What the machine says about itself (CPUs, memory, caches,
its CPU model) is read by planner.host.

Methods (each figure is a *sustained* rate on this machine, not a datasheet peak):

* Matmul: ``C = A @ B`` on square n x n matrices with numpy (its BLAS, with all the threads the BLAS
  uses), counted as 2·n³ FLOP (n³ multiply-adds; the usual GEMM count, e.g. LINPACK/HPL and the seed's
  "one MAC is 2 FLOP"), the best of `reps` repetitions. Best-of, not median, because the figure stands
  in for a peak: interference (other processes, a noisy VM) only ever slows a run down.
* Copy bandwidth: STREAM "Copy" (McCalpin, STREAM benchmark, ``c[i] = a[i]``) done as ``numpy.copyto``
  split over one thread per usable CPU (numpy releases the GIL for plain copies, like STREAM's OpenMP
  loop), counted as STREAM counts it: bytes read + bytes written = 2 x array bytes (write-allocate
  traffic is not counted). Each array is at least 4x the last-level cache (STREAM's sizing rule), one
  untimed warm-up copy faults the pages in, and the best of `reps` timed copies is reported (STREAM
  also reports the best time).
* Loopback TCP: a child Python process (subprocess, standard library only) connects to a socket on
  127.0.0.1 with TCP_NODELAY. Latency = half the median round trip of 1-byte messages (one-way alpha of
  the alpha-beta model, as osu_latency reports half a round trip; median rather than mean because a
  VM's scheduler hiccups skew the mean). Bandwidth = bytes streamed one way / time until the child
  acknowledges the last byte, best of `reps` (one direction, as a Link's bandwidth is per direction).
"""

from __future__ import annotations

import socket
import struct
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from statistics import median
from typing import Literal

from planner.host import cpu_model, last_level_cache_bytes, meminfo, physical_memory, usable_cpus

Tick = Callable[[], None] | None

MATMUL_DTYPES = ("fp32", "fp64")
_NUMPY_DTYPES: dict[str, Literal["float32", "float64"]] = {"fp32": "float32", "fp64": "float64"}


@dataclass(frozen=True)
class Settings:
    """Sizes and repetition counts of one calibration run."""

    matmul_n: int
    matmul_reps: int
    matmul_max_s: float
    copy_bytes: int
    copy_reps: int
    copy_threads: int
    pings: int
    stream_bytes: int
    stream_reps: int
    socket_timeout_s: float = 20.0

    @classmethod
    def full(cls) -> Settings:
        """The default run: n = 4096 matmuls x3, STREAM-sized copies x5, 2000 pings, 256 MiB x3 streams."""
        return cls(
            matmul_n=4096,
            matmul_reps=3,
            matmul_max_s=30.0,
            copy_bytes=stream_array_bytes(),
            copy_reps=5,
            copy_threads=usable_cpus(),
            pings=2000,
            stream_bytes=256 * 2**20,
            stream_reps=3,
        )

    @classmethod
    def quick(cls) -> Settings:
        """Small sizes for tests and a first look (the figures are then cache-bound and noisy)."""
        return cls(
            matmul_n=256,
            matmul_reps=2,
            matmul_max_s=5.0,
            copy_bytes=8 * 2**20,
            copy_reps=3,
            copy_threads=usable_cpus(),
            pings=200,
            stream_bytes=8 * 2**20,
            stream_reps=2,
        )


@dataclass(frozen=True)
class Loopback:
    """Loopback TCP between two local processes: one-way bandwidth (bytes/s) and latency (s)."""

    bandwidth: float
    latency: float


@dataclass(frozen=True)
class Calibration:
    """Everything one run measured or read, in SI units, with the settings used and the date."""

    matmul: dict[str, float]  # dtype -> FLOP/s
    copy_bandwidth: float  # bytes/s (read + written)
    loopback: Loopback
    memory: float  # bytes of physical memory
    cpu: str
    cpus: int
    date: str  # YYYY-MM-DD, local time
    settings: Settings


def stream_array_bytes() -> int:
    """Bytes per array for the copy test: 4x the last-level cache (STREAM's rule), at least 256 MiB,
    and at most 1/8 of available memory (two arrays then take a quarter)."""
    want = max(256 * 2**20, 4 * (last_level_cache_bytes() or 0))
    available = meminfo("MemAvailable") or physical_memory() / 2
    return int(min(want, max(available / 8, 16 * 2**20)))


def measure_matmul(n: int, dtype: str, reps: int, max_seconds: float = 60.0, tick: Tick = None) -> float:
    """Best FLOP/s of `reps` n x n matmuls in `dtype` (fp32|fp64), 2·n³ FLOP each.

    Stops early (after at least one repetition) once `max_seconds` have passed; calls `tick` once per
    planned repetition either way.
    """
    import numpy as np

    if dtype not in _NUMPY_DTYPES:
        raise ValueError(f"dtype must be one of {', '.join(_NUMPY_DTYPES)}, got {dtype!r}")
    if n < 1 or reps < 1:
        raise ValueError(f"n and reps must be >= 1, got n={n}, reps={reps}")
    rng = np.random.default_rng(0)
    a = rng.standard_normal((n, n), dtype=_NUMPY_DTYPES[dtype])
    b = rng.standard_normal((n, n), dtype=_NUMPY_DTYPES[dtype])
    c = np.empty_like(a)
    flop = 2.0 * n**3
    best = 0.0
    start = time.perf_counter()
    for done in range(reps):
        t0 = time.perf_counter()
        np.matmul(a, b, out=c)
        best = max(best, flop / _elapsed(t0))
        if tick:
            tick()
        if time.perf_counter() - start > max_seconds:
            for _ in range(reps - done - 1):
                if tick:
                    tick()
            break
    return best


def measure_copy(nbytes: int, reps: int, threads: int = 1, tick: Tick = None) -> float:
    """Best STREAM-copy bandwidth in bytes/s (2 x array bytes per copy: read + written), over `reps`
    timed copies of a float64 array of about `nbytes`, split over `threads` threads."""
    import numpy as np

    if nbytes < 8 or reps < 1 or threads < 1:
        raise ValueError(f"nbytes >= 8, reps >= 1, threads >= 1 expected, got {nbytes}, {reps}, {threads}")
    count = nbytes // 8
    src = np.ones(count)
    dst = np.zeros(count)
    bounds = [(i * count // threads, (i + 1) * count // threads) for i in range(threads)]

    def copy_part(bound: tuple[int, int]) -> None:
        np.copyto(dst[bound[0] : bound[1]], src[bound[0] : bound[1]])

    from concurrent.futures import ThreadPoolExecutor

    moved = 2.0 * count * 8
    best = 0.0
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(copy_part, bounds))  # warm-up: faults dst's pages in
        for _ in range(reps):
            t0 = time.perf_counter()
            list(pool.map(copy_part, bounds))
            best = max(best, moved / _elapsed(t0))
            if tick:
                tick()
    return best


# The child: connects back, then answers each length-prefixed message with one byte once it has read it
# all; a zero length ends it. Standard library only, run with `python -I -c`.
_CHILD = """
import socket, struct, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=float(sys.argv[2]))
s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
buf = memoryview(bytearray(1 << 22))
def read(n, keep):
    off, left = 0, n
    while left:
        got = s.recv_into(buf[off : off + min(left, len(buf) - off)])
        if not got:
            sys.exit(1)
        left -= got
        off = off + got if keep else 0
    return bytes(buf[:n]) if keep else b""
try:
    while True:
        (n,) = struct.unpack("<Q", read(8, True))
        if n == 0:
            break
        read(n, False)
        s.sendall(b"\\x01")
finally:
    s.close()
"""


def measure_loopback(
    pings: int, stream_bytes: int, reps: int, timeout: float = 20.0, tick: Tick = None
) -> Loopback:
    """Loopback TCP between this process and a child on 127.0.0.1: latency = half the median round trip
    of `pings` 1-byte messages; bandwidth = best of `reps` one-way streams of `stream_bytes`.

    Every socket operation has `timeout` seconds; the child is waited for (then killed) and every socket
    closed on the way out, also on error. Calls `tick` after the pings and after each stream.
    """
    if pings < 1 or reps < 1 or stream_bytes < 1:
        raise ValueError(f"pings, reps, stream_bytes must be >= 1, got {pings}, {reps}, {stream_bytes}")
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    child: subprocess.Popen[bytes] | None = None
    conn: socket.socket | None = None
    try:
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        port = server.getsockname()[1]
        child = subprocess.Popen(
            [sys.executable, "-I", "-c", _CHILD, str(port), str(timeout)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        conn = _accept(server, child, timeout)
        conn.settimeout(timeout)
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        latency = _ping(conn, pings)
        if tick:
            tick()
        bandwidth = 0.0
        for _ in range(reps):
            bandwidth = max(bandwidth, _stream(conn, stream_bytes))
            if tick:
                tick()
        conn.sendall(struct.pack("<Q", 0))
        return Loopback(bandwidth=bandwidth, latency=latency)
    finally:
        if conn is not None:
            conn.close()
        server.close()
        if child is not None:
            try:
                child.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()


def _accept(server: socket.socket, child: subprocess.Popen[bytes], timeout: float) -> socket.socket:
    """The child's connection; fails fast if the child exits first, and after `timeout` seconds."""
    server.settimeout(0.05)
    deadline = time.monotonic() + timeout
    while True:
        try:
            return server.accept()[0]
        except TimeoutError:
            if child.poll() is not None:
                raise RuntimeError(f"the loopback child exited with code {child.returncode}") from None
            if time.monotonic() > deadline:
                raise RuntimeError(f"the loopback child did not connect within {timeout:g} s") from None


def _ack(conn: socket.socket) -> None:
    if conn.recv(1) != b"\x01":
        raise RuntimeError("the loopback child closed the connection early")


def _ping(conn: socket.socket, pings: int) -> float:
    """Half the median round trip of 1-byte messages (after a few untimed warm-up rounds)."""
    message = struct.pack("<Q", 1) + b"\x00"
    for _ in range(min(20, pings)):
        conn.sendall(message)
        _ack(conn)
    rounds = []
    for _ in range(pings):
        t0 = time.perf_counter()
        conn.sendall(message)
        _ack(conn)
        rounds.append(_elapsed(t0))
    return median(rounds) / 2


def _stream(conn: socket.socket, nbytes: int) -> float:
    """Bytes/s of one one-way stream of `nbytes`, timed until the child acknowledges the last byte."""
    chunk = memoryview(bytes(min(nbytes, 4 * 2**20)))
    t0 = time.perf_counter()
    conn.sendall(struct.pack("<Q", nbytes))
    left = nbytes
    while left:
        part = chunk[: min(left, len(chunk))]
        conn.sendall(part)
        left -= len(part)
    _ack(conn)
    return nbytes / _elapsed(t0)


def _elapsed(t0: float) -> float:
    """Seconds since t0, never zero (a clock tick finer than the timer would divide by zero)."""
    return max(time.perf_counter() - t0, 1e-9)


def calibrate(settings: Settings, tick: Callable[[str], None] | None = None) -> Calibration:
    """Run every measurement with `settings`; `tick(step)` after each repetition, step in
    matmul-fp32, matmul-fp64, copy, loopback."""

    def step(name: str) -> Tick:
        return (lambda: tick(name)) if tick else None

    matmul = {
        dtype: measure_matmul(
            settings.matmul_n, dtype, settings.matmul_reps, settings.matmul_max_s, step(f"matmul-{dtype}")
        )
        for dtype in MATMUL_DTYPES
    }
    copy = measure_copy(settings.copy_bytes, settings.copy_reps, settings.copy_threads, step("copy"))
    loop = measure_loopback(
        settings.pings,
        settings.stream_bytes,
        settings.stream_reps,
        settings.socket_timeout_s,
        step("loopback"),
    )
    return Calibration(
        matmul=matmul,
        copy_bandwidth=copy,
        loopback=loop,
        memory=physical_memory(),
        cpu=cpu_model(),
        cpus=usable_cpus(),
        date=time.strftime("%Y-%m-%d"),
        settings=settings,
    )


def steps(settings: Settings) -> dict[str, int]:
    """How many times `calibrate` ticks each step (for progress bars)."""
    return {
        "matmul-fp32": settings.matmul_reps,
        "matmul-fp64": settings.matmul_reps,
        "copy": settings.copy_reps,
        "loopback": 1 + settings.stream_reps,
    }
