"""Reading input files (planner.spec.yamlio.read_text, which every loader uses): only regular files, a byte
budget whatever st_size says, a UTF-8 byte-order mark dropped; one rule for digits (ASCII only, see
planner.units); profiles that mix per-layer times and FLOP refused at load."""

from __future__ import annotations

import functools
import json
import os
import socket
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from planner.cost.edge_tiles import parse_grid, window
from planner.errors import SpecError
from planner.optimize.pipedream_levels import parse_levels
from planner.spec import yamlio
from planner.spec.catalog import load_file
from planner.spec.hf_config import load_hf_config
from planner.spec.pipedream_graph import parse_graph
from planner.spec.profile import Layer, ModelProfile
from planner.spec.schema import FieldValueError
from planner.units import UnitError, parse_number, parse_quantity

BOM = b"\xef\xbb\xbf"
DEVICE = "spec: device\nname: d\nkind: gpu\npeak_compute: {fp32: 10 TFLOPS}\nmemory: 16 GiB\n"
DEVICE += "memory_bandwidth: 500 GB/s\n"
GRAPH = (
    "node1 -- Input0 -- forward_compute_time=0.0, backward_compute_time=0.0, activation_size=4.0, "
    "parameter_size=0.0\n"
    "node2 -- Linear -- forward_compute_time=1.5, backward_compute_time=3.0, activation_size=4.0, "
    "parameter_size=8.0\n"
    "\tnode1 -- node2\n"
)
HF_CONFIG = {
    "model_type": "llama",
    "hidden_size": 512,
    "num_hidden_layers": 4,
    "num_attention_heads": 8,
    "intermediate_size": 1376,
    "vocab_size": 32000,
    "max_position_embeddings": 2048,
}
OTHER_DIGITS = ["\u0664", "\uff14"]  # Arabic-Indic four, full-width four: int() and float() take both


def error_of(load: Callable[[], object]) -> str:
    """The SpecError `load` raises, run in a thread so that a reader that ever opened a FIFO (opening
    one blocks until a writer comes) fails the test instead of hanging it."""
    errors: list[BaseException] = []

    def attempt() -> None:
        try:
            load()
        except BaseException as exc:  # handed to the test thread
            errors.append(exc)

    thread = threading.Thread(target=attempt, daemon=True)
    thread.start()
    thread.join(5)
    assert not thread.is_alive(), "the reader blocked"
    assert errors and isinstance(errors[0], SpecError), errors
    return str(errors[0])


def refusal(path: Path) -> str:
    return error_of(lambda: yamlio.read_text(path, path.name))


# --------------------------------------------------------------------------- what is not a regular file


@pytest.mark.parametrize("device", ["/dev/zero", "/dev/urandom", "/dev/null"])
def test_a_character_device_is_refused_before_it_is_read(device: str) -> None:
    if not Path(device).exists():
        pytest.skip(f"{device} is absent here")
    assert refusal(Path(device)).endswith("expected a regular file, got a character device")


def test_a_fifo_is_refused_without_being_opened(tmp_path: Path) -> None:
    fifo = tmp_path / "c.yaml"
    os.mkfifo(fifo)
    assert refusal(fifo) == "c.yaml: expected a regular file, got a FIFO (named pipe)"


def test_a_socket_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    with socket.socket(socket.AF_UNIX) as server:
        server.bind(str(path))
        assert refusal(path).endswith("got a socket")


def test_a_symlink_is_judged_by_what_it_points_to(tmp_path: Path) -> None:
    (tmp_path / "zero.yaml").symlink_to("/dev/zero")
    assert refusal(tmp_path / "zero.yaml").endswith("got a character device")
    (tmp_path / "d.yaml").write_text(DEVICE)
    (tmp_path / "link.yaml").symlink_to(tmp_path / "d.yaml")
    assert yamlio.read_text(tmp_path / "link.yaml") == DEVICE


def test_a_directory_and_a_missing_file_are_named(tmp_path: Path) -> None:
    assert refusal(tmp_path).endswith("got a directory")
    assert refusal(tmp_path / "absent.yaml") == "absent.yaml: file not found"


def test_every_loader_reads_through_the_same_refusal(tmp_path: Path) -> None:
    for name in ("m.graph.txt", "config.json", "p.yaml"):
        os.mkfifo(tmp_path / name)
    for load in (load_file, load_hf_config):
        for name in ("m.graph.txt", "config.json", "p.yaml"):
            assert "got a FIFO" in error_of(functools.partial(load, tmp_path / name))


# --------------------------------------------------------------------------------------- the byte budget


def test_the_budget_counts_bytes_read_not_the_size_the_file_system_reports(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    status = Path("/proc/self/status")
    if not status.is_file() or status.stat().st_size != 0:
        pytest.skip("needs a /proc file whose st_size is 0")
    assert "Name:" in yamlio.read_text(status)  # read although st_size says 0 bytes
    monkeypatch.setattr(yamlio, "MAX_BYTES", 16)
    assert "expected a file under" in refusal(status)
    (tmp_path / "fits.yaml").write_bytes(b"a" * 16)
    (tmp_path / "over.yaml").write_bytes(b"a" * 17)
    assert yamlio.read_text(tmp_path / "fits.yaml") == "a" * 16
    assert "expected a file under" in refusal(tmp_path / "over.yaml")


# ----------------------------------------------------------------------------------------- the encoding


def test_a_utf8_byte_order_mark_is_dropped_from_yaml_graph_and_json(tmp_path: Path) -> None:
    (tmp_path / "d.yaml").write_bytes(BOM + DEVICE.encode())
    assert yamlio.read_text(tmp_path / "d.yaml") == DEVICE
    assert load_file(tmp_path / "d.yaml").name == "d"
    (tmp_path / "m.graph.txt").write_bytes(BOM + GRAPH.encode())
    profile = load_file(tmp_path / "m.graph.txt")
    assert [layer.name for layer in profile.layers] == ["node1", "node2"]  # was: 'node1' is not defined
    for indent in (2, "\t"):  # YAML reads the first; tab indentation goes through json.loads
        (tmp_path / "config.json").write_bytes(BOM + json.dumps(HF_CONFIG, indent=indent).encode())
        assert load_hf_config(tmp_path / "config.json").hidden_size == 512


def test_utf16_is_named_and_bad_utf8_located(tmp_path: Path) -> None:
    (tmp_path / "u.yaml").write_bytes("spec: device\n".encode("utf-16"))
    assert "got UTF-16" in refusal(tmp_path / "u.yaml")
    (tmp_path / "b.yaml").write_bytes(BOM + b"spec: \xff\n")
    assert "expected UTF-8 text (invalid start byte at byte 9)" in refusal(tmp_path / "b.yaml")


# ----------------------------------------------------------------------------------- ASCII digits only


@pytest.mark.parametrize("digit", OTHER_DIGITS)
def test_quantities_and_plain_numbers_take_ascii_digits_only(digit: str) -> None:
    assert int(digit) == 4  # what Python alone would accept
    with pytest.raises(UnitError, match="expected a number followed by a unit"):
        parse_quantity(f"{digit} GB", "memory")
    with pytest.raises(ValueError, match="ASCII digits"):
        parse_number(f"0.{digit}")
    assert parse_quantity("4 GB", "memory") == 4e9


@pytest.mark.parametrize("text", ["nan", "inf", "1_000", "", "0x10", "4 GB"])
def test_parse_number_refuses_what_float_would_take_and_units(text: str) -> None:
    with pytest.raises(ValueError):
        parse_number(text)
    assert parse_number(" 4 ") == 4.0


@pytest.mark.parametrize("digit", OTHER_DIGITS)
def test_levels_tiles_and_conv_windows_take_ascii_digits_only(digit: str) -> None:
    with pytest.raises(SpecError, match="expected count:bandwidth"):
        parse_levels(f"{digit}:10GB/s")
    assert parse_levels("4:10GB/s") == [(4, 10e9)]
    with pytest.raises(ValueError, match="expected ROWSxCOLS"):
        parse_grid(f"{digit}x4")
    assert parse_grid("4x4") == (4, 4)
    assert window(f"Conv2d(3, 64, kernel_size={digit})") is None
    assert window("Conv2d(3, 64, kernel_size=3)") == (3, 1, 1)


@pytest.mark.parametrize("digit", OTHER_DIGITS)
def test_graph_txt_takes_ascii_digits_only(digit: str) -> None:
    with pytest.raises(SpecError, match=r"m.graph.txt:2: field 'node2.forward_compute_time'"):
        parse_graph(
            GRAPH.replace("forward_compute_time=1.5", f"forward_compute_time={digit}"), "m.graph.txt", "m"
        )
    staged = GRAPH.replace("parameter_size=8.0\n", f"parameter_size=8.0 -- stage_id={digit}\n")
    with pytest.raises(SpecError, match=r"node2.stage_id"):
        parse_graph(staged, "m.graph.txt", "m")


@pytest.mark.parametrize("digit", OTHER_DIGITS)
def test_yaml_numbers_take_ascii_digits_only(digit: str, tmp_path: Path) -> None:
    path = tmp_path / "d.yaml"
    path.write_text(DEVICE + "compute_efficiency: 5e-1\n", encoding="utf-8")
    assert load_file(path).compute_efficiency == 0.5  # YAML 1.1 leaves 5e-1 a string; the loader reads it
    path.write_text(DEVICE + f"compute_efficiency: {digit}e-1\n", encoding="utf-8")
    with pytest.raises(SpecError, match=r"d.yaml:7: field 'compute_efficiency': expected a number"):
        load_file(path)
    path.write_text(DEVICE.replace("16 GiB", f"{digit} GiB"), encoding="utf-8")
    with pytest.raises(SpecError, match=r"d.yaml:5: field 'memory'"):
        load_file(path)


# ---------------------------------------------------------------------------- one kind of work a profile


def profile(*layers: Layer) -> ModelProfile:
    return ModelProfile(spec="profile", name="p", per="minibatch", batch_size=8, layers=layers)


def test_a_profile_mixing_times_and_flop_is_refused_naming_both_layers() -> None:
    with pytest.raises(FieldValueError) as caught:
        profile(
            Layer(name="conv", forward_time=1e-3, backward_time=2e-3),
            Layer(name="relu", forward_time=1e-4, forward_flops=1e6),
            Layer(name="fc", forward_flops=2e9, backward_flops=4e9),
        )
    assert caught.value.field == ("layers", 2, "forward_time")
    assert "layer 'fc' gives forward_flops but no forward_time" in str(caught.value)
    assert "layers[0] 'conv' gives forward_time but no forward_flops" in str(caught.value)


def test_a_backward_figure_only_in_the_kind_not_costed_is_refused() -> None:
    with pytest.raises(FieldValueError) as caught:
        profile(
            Layer(name="a", forward_time=1e-3, backward_time=2e-3),
            Layer(name="b", forward_time=1e-3, backward_flops=1e9),
        )
    assert caught.value.field == ("layers", 1, "backward_flops")
    with pytest.raises(FieldValueError) as caught:
        profile(Layer(name="a", forward_flops=1e9, backward_time=2e-3))
    assert caught.value.field == ("layers", 0, "backward_time")


def test_one_kind_throughout_loads_and_inputs_are_exempt() -> None:
    source = Layer(name="in", is_input=True, forward_time=0.5)  # PipeDream's Input carries data loading
    assert len(profile(source, Layer(name="fc", forward_flops=2e9, backward_flops=4e9)).layers) == 2
    both = Layer(name="b", forward_time=1e-3, forward_flops=1e9, backward_time=2e-3, backward_flops=2e9)
    assert len(profile(Layer(name="a", forward_time=1e-3), both).layers) == 2
    assert len(profile(Layer(name="a", forward_flops=1e9), both).layers) == 2


def test_a_mixed_profile_file_names_the_file_line_and_layer(tmp_path: Path) -> None:
    path = tmp_path / "mixed.yaml"
    path.write_text(
        "spec: profile\nname: mixed\nper: minibatch\nbatch_size: 8\nlayers:\n"
        "  - {name: conv1, forward_time: 1 ms, backward_time: 2 ms}\n"
        "  - {name: fc, forward_flops: 2 GFLOP, backward_flops: 4 GFLOP}\n"
    )
    with pytest.raises(SpecError, match=r"mixed.yaml:7: field 'layers\[1\].forward_time': layer 'fc' gives"):
        load_file(path)
