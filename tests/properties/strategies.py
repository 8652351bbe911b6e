"""Small random instances shared by the property modules: layer chains, branchy profiles, clusters."""

from __future__ import annotations

from hypothesis import settings
from hypothesis import strategies as st

from planner.spec.hardware import Cluster, Device, Level, Link
from planner.spec.profile import Layer, ModelProfile

GB = 1e9
# every property module: a fixed sample (derandomised, no example database), fast enough for the suite
PROPERTY = settings(max_examples=25, deadline=None, derandomize=True, database=None)

DEVICE = Device(
    spec="device",
    name="prop-gpu",
    kind="gpu",
    peak_compute={"fp32": 15e12, "fp16": 60e12, "bf16": 60e12},
    memory=32 * 2**30,
    memory_bandwidth=900e9,
    compute_efficiency=0.7,
    memory_efficiency=0.8,
)


@st.composite
def clusters(
    draw: st.DrawFn, max_per_server: int = 3, max_servers: int = 3, device: Device = DEVICE
) -> Cluster:
    """A two-level cluster: fast links inside a server, slower between servers; random latencies."""
    inner = Link(
        bandwidth=draw(st.floats(5 * GB, 100 * GB)),
        latency=draw(st.floats(0, 2e-5)),
        efficiency=draw(st.floats(0.5, 1.0)),
        name="in",
    )
    outer = Link(
        bandwidth=draw(st.floats(0.1 * GB, 5 * GB)),
        latency=draw(st.floats(0, 1e-4)),
        efficiency=draw(st.floats(0.5, 1.0)),
        name="out",
    )
    return Cluster(
        spec="cluster",
        name="prop",
        device=device,
        levels=(
            Level("gpu", draw(st.integers(1, max_per_server)), inner),
            Level("server", draw(st.integers(1, max_servers)), outer),
        ),
    )


@st.composite
def layer_figures(draw: st.DrawFn, min_layers: int = 1, max_layers: int = 7) -> tuple[list[float], ...]:
    """(forward s, backward s, parameter bytes, activation bytes) per layer, in PipeDream's ranges; some
    forward times and parameters are zero (ties)."""
    n = draw(st.integers(min_layers, max_layers))
    forward = draw(st.lists(st.one_of(st.just(0.0), st.floats(1e-4, 0.02)), min_size=n, max_size=n))
    ratio = draw(st.lists(st.floats(0.5, 2.5), min_size=n, max_size=n))
    params = draw(st.lists(st.one_of(st.just(0.0), st.floats(1e5, 3e8)), min_size=n, max_size=n))
    acts = draw(st.lists(st.floats(1e4, 5e7), min_size=n, max_size=n))
    return forward, [f * r for f, r in zip(forward, ratio, strict=True)], params, acts


@st.composite
def profiles(draw: st.DrawFn, max_layers: int = 7, branchy: bool = True) -> ModelProfile:
    """A per-minibatch profile with measured times: a chain, or a small DAG with skip connections."""
    forward, backward, params, acts = draw(layer_figures(max_layers=max_layers))
    layers = []
    for i, (f, b, p, a) in enumerate(zip(forward, backward, params, acts, strict=True)):
        inputs: tuple[str, ...] = (f"l{i - 1}",) if i else ()
        if branchy and i >= 2 and draw(st.booleans()):
            inputs = (*inputs, f"l{draw(st.integers(0, i - 2))}")
        layers.append(
            Layer(
                name=f"l{i}",
                forward_time=f,
                backward_time=b,
                parameter_bytes=p,
                output_bytes=a,
                inputs=inputs,
            )
        )
    return ModelProfile(spec="profile", name="prop", per="minibatch", batch_size=32, layers=tuple(layers))


def scaled_link(link: Link, time: float) -> Link:
    """The link seen with time units `time` times longer: latency × time, bandwidth ÷ time."""
    return Link(
        bandwidth=link.bandwidth / time,
        latency=link.latency * time,
        efficiency=link.efficiency,
        shared=link.shared,
        name=link.name,
    )


def scaled_cluster(cluster: Cluster, time: float) -> Cluster:
    levels = tuple(Level(lv.name, lv.count, scaled_link(lv.link, time)) for lv in cluster.levels)
    return Cluster(spec="cluster", name=cluster.name, device=cluster.device, levels=levels)
