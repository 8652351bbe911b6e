"""CNN architectures (spec: cnn) and the profiles derived from them (planner.cost.layers).

Reference figures are torchvision's published ones (torchvision.models docs, "num_params" and "GFLOPS",
the latter being multiply-accumulates at 224x224): tests may hard-code them, the cost model may not.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from planner.cost.layers import (
    activation_bytes,
    derive_layers,
    derive_profile,
    mac_count,
    parameter_count,
)
from planner.errors import SpecError
from planner.spec.architecture import CNNArchitecture, CNNLayer, Conv, Flatten, Linear, ReLU
from planner.spec.catalog import find, load_file
from planner.spec.cnn_shapes import conv_output_size, pool_output_size

# name: (parameters, published GMACs at 224x224)
TORCHVISION = {
    "alexnet": (61_100_840, 0.71),
    "vgg16": (138_357_544, 15.47),
    "vgg19": (143_667_240, 19.63),
    "resnet18": (11_689_512, 1.81),
    "resnet34": (21_797_672, 3.66),
    "resnet50": (25_557_032, 4.09),
    "resnet101": (44_549_160, 7.80),
    "resnet152": (60_192_808, 11.51),
    "resnext50_32x4d": (25_028_904, 4.23),
    "wide_resnet50_2": (68_883_240, 11.40),
}


def by_name(arch: CNNArchitecture) -> dict:
    return {layer.name: layer for layer in derive_layers(arch)}


@pytest.mark.parametrize("name", sorted(TORCHVISION))
def test_parameters_match_torchvision_exactly(name: str) -> None:
    arch = find("models", name)
    assert isinstance(arch, CNNArchitecture)
    assert parameter_count(arch) == TORCHVISION[name][0]
    assert sum(layer.parameters for layer in derive_profile(arch).layers) == TORCHVISION[name][0]


@pytest.mark.parametrize("name", sorted(TORCHVISION))
def test_macs_within_two_percent_of_published(name: str) -> None:
    macs = mac_count(find("models", name))
    assert macs == pytest.approx(TORCHVISION[name][1] * 1e9, rel=0.02)


def test_layer_shapes() -> None:
    vgg = by_name(find("models", "vgg16"))
    assert vgg["conv1_1"].output_shape == (64, 224, 224)
    assert vgg["conv5_3"].output_shape == (512, 14, 14)
    assert vgg["pool5"].output_shape == (512, 7, 7)
    assert vgg["fc6"].input_shape == (25088,)
    resnet = by_name(find("models", "resnet50"))
    assert resnet["conv1"].output_shape == (64, 112, 112)
    assert resnet["maxpool"].output_shape == (64, 56, 56)
    assert resnet["layer2.0.conv2"].output_shape == (128, 28, 28)  # v1.5: the stride is on the 3x3
    assert resnet["layer2.0.conv1"].output_shape == (128, 56, 56)
    assert resnet["layer4.2.relu3"].output_shape == (2048, 7, 7)
    alexnet = by_name(find("models", "alexnet"))
    assert alexnet["conv1"].output_shape == (64, 55, 55)
    assert alexnet["maxpool3"].output_shape == (256, 6, 6)


def test_layer_costs_by_hand() -> None:
    conv = by_name(find("models", "vgg16"))["conv1_2"]  # 64 -> 64, 3x3, 224x224, bias
    assert conv.macs == 64 * 224 * 224 * 64 * 9
    assert conv.parameters == 64 * 64 * 9 + 64
    assert conv.forward_flops == 2 * conv.macs + 64 * 224 * 224
    fc = by_name(find("models", "alexnet"))["fc3"]
    assert (fc.macs, fc.parameters) == (4096 * 1000, 4096 * 1000 + 1000)
    assert conv_output_size(224, 11, 4, 2) == 55
    assert pool_output_size(55, 3, 2) == 27
    assert pool_output_size(6, 3, 2, ceil_mode=True) == 3
    assert pool_output_size(5, 2, 2, padding=1, ceil_mode=True) == 3


def test_activation_bytes_scale_with_batch_and_dtype() -> None:
    arch = find("models", "resnet50")
    one, many = derive_profile(arch), derive_profile(arch, batch_size=128)
    assert (one.per, one.batch_size, many.per, many.batch_size) == ("minibatch", 1, "minibatch", 128)
    for a, b in zip(one.layers, many.layers, strict=True):
        assert b.output_bytes == 128 * a.output_bytes
        assert b.forward_flops == 128 * a.forward_flops
        assert b.parameters == a.parameters
    assert one.layers[0].output_bytes == 64 * 112 * 112 * 4  # fp32
    assert activation_bytes((64, 112, 112), "bf16", 128) == 128 * 64 * 112 * 112 * 2
    with pytest.raises(ValueError, match="batch_size"):
        derive_profile(arch, batch_size=0)


def test_backward_is_twice_forward_for_conv_and_linear() -> None:
    profile = derive_profile(find("models", "vgg16"), batch_size=4)
    for layer in profile.layers:
        assert layer.forward_flops is not None and layer.backward_flops is not None
        if layer.op.startswith(("Conv2d", "Linear")):
            assert layer.backward_flops == 2 * layer.forward_flops
        else:
            assert layer.backward_flops == layer.forward_flops
    total = sum(layer.forward_flops for layer in profile.layers)
    assert total == pytest.approx(4 * 2 * 15.47e9, rel=0.02)  # 1 MAC = 2 FLOP; elementwise is small


def test_resnet_is_a_dag() -> None:
    profile = derive_profile(find("models", "resnet50"))
    index = {layer.name: i for i, layer in enumerate(profile.layers)}
    names = [layer.name for layer in profile.layers]
    # first block of a stage: the shortcut is a downsample conv fed by the stage input
    add = index["layer2.0.add"]
    assert [names[i] for i in profile.predecessors(add)] == ["layer2.0.bn3", "layer2.0.downsample.1"]
    assert [names[i] for i in profile.predecessors(index["layer2.0.downsample.0"])] == ["layer1.2.relu3"]
    assert [names[i] for i in profile.predecessors(index["layer2.0.conv1"])] == ["layer1.2.relu3"]
    # other blocks: identity shortcut from the previous block's output
    add = index["layer2.1.add"]
    assert [names[i] for i in profile.predecessors(add)] == ["layer2.1.bn3", "layer2.0.relu3"]
    assert profile.predecessors(index["layer2.1.bn1"]) == [index["layer2.1.conv1"]]
    assert len(set(names)) == len(names)


def test_basic_blocks_and_repeat_in_python() -> None:
    def arch(*layers: object, shape: tuple[int, ...] = (3, 32, 32)) -> CNNArchitecture:
        return CNNArchitecture(
            spec="cnn", name="tiny", input_shape=shape, layers=tuple(CNNLayer.of(layer) for layer in layers)
        )  # type: ignore[arg-type]

    net = arch(Conv(out=8, kernel=3, padding=1), ReLU(), Flatten(), Linear(out=10))
    assert [layer.name for layer in derive_layers(net)] == ["conv1", "relu1", "flatten1", "fc1"]
    assert parameter_count(net) == 8 * 3 * 9 + 8 + 8 * 32 * 32 * 10 + 10
    with pytest.raises(ValueError, match="flat input"):
        arch(Conv(out=8, kernel=3), Linear(out=10))
    with pytest.raises(ValueError, match="groups 2"):
        arch(Conv(out=8, kernel=3, groups=2))


def write(tmp_path: Path, body: str, name: str = "net.yaml") -> Path:
    path = tmp_path / name
    path.write_text("spec: cnn\nname: tiny\ninput_shape: [3, 32, 32]\n" + body, encoding="utf-8")
    return path


def test_repeat_and_blocks_from_yaml(tmp_path: Path) -> None:
    arch = load_file(
        write(
            tmp_path,
            """layers:
  - repeat: {times: 2, layers: [{conv: {out: 16, kernel: 3, padding: 1}}, {relu: {}}]}
  - repeat: {name: stage, times: 2, layers: [{conv: {out: 16, kernel: 1}}, {bn: {}}]}
  - basic: {planes: 32, blocks: 2, stride: 2}
  - bottleneck: {planes: 8}
""",
        )
    )
    names = [layer.name for layer in derive_layers(arch)]
    assert names[:8] == [
        "conv1",
        "relu1",
        "conv2",
        "relu2",
        "stage.0.conv1",
        "stage.0.bn1",
        "stage.1.conv1",
        "stage.1.bn1",
    ]
    assert "basic1.0.downsample.0" in names and "basic1.1.downsample.0" not in names
    assert "bottleneck1.0.downsample.0" not in names  # 32 channels in, 8·4 out, stride 1: identity
    assert by_name(arch)["bottleneck1.0.add"].output_shape == (32, 16, 16)


BAD_FILES = {
    "unknown layer type": (
        "layers:\n  - conv: {out: 8, kernel: 3}\n  - softmax: {}\n",
        6,
        "softmax",
        "accepts: adaptive_avgpool",
    ),
    "negative kernel": (
        "layers:\n  - relu: {}\n  - conv: {out: 8, kernel: -3}\n",
        6,
        "layers[1].conv.kernel",
        ">= 1",
    ),
    "missing out": ("layers:\n  - conv:\n      kernel: 3\n", 5, "layers[0].conv.out", "missing required"),
    "bare string": (
        "layers:\n  - conv: {out: 8, kernel: 3}\n  - relu\n",
        6,
        "layers[1]",
        "expected a mapping",
    ),
    "kernel larger than input": (
        "layers:\n  - conv: {out: 8, kernel: 3, stride: 4}\n  - conv: {name: big, out: 8, kernel: 11}\n",
        6,
        "layers[1].conv",
        "layer 'big'",
    ),
    "no layer type": ("layers:\n  - relu:\n", 5, "layers[0]", "relu: {}"),
    "two layer types": ("layers:\n  - {relu: {}, bn: {}}\n", 5, "layers[0]", "exactly one"),
    "fc before flatten": ("layers:\n  - fc: {out: 10}\n", 5, "layers[0].fc", "flatten"),
    "duplicate name": ("layers:\n  - relu: {name: a}\n  - relu: {name: a}\n", 6, "layers[1].relu", "twice"),
    "error inside repeat": (
        "layers:\n  - repeat:\n      times: 3\n      layers:\n        - maxpool: {kernel: 4}\n",
        8,
        "layers[0].repeat.layers[0].maxpool",
        "layer 'maxpool3'",
    ),
    "input shape": ("layers:\n  - relu: {}\n", 3, "input_shape", "channels, height, width"),
}


@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_malformed_files_give_located_errors(tmp_path: Path, case: str) -> None:
    body, line, field, words = BAD_FILES[case]
    path = write(tmp_path, body, name="bad_net.yaml")
    if case == "input shape":
        path.write_text(path.read_text().replace("[3, 32, 32]", "[3, 0, 32]"))
    with pytest.raises(SpecError) as caught:
        load_file(path)
    message = str(caught.value)
    assert "bad_net.yaml" in message
    assert f":{line}:" in message, message
    assert field in message, message
    assert words in message, message
    assert re.search(r":\d+:", message)
