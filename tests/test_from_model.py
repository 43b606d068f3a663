"""harness.sweeps.from_model: a torch model's conv layers as a sweep (models written with torch.nn alone)."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

torch = pytest.importorskip("torch", reason="torch not installed: pip install -e '.[peer]'")
from torch import nn  # noqa: E402

from harness.sweeps import expand_sweep  # noqa: E402
from harness.sweeps.from_model import conv_layers, main, parse_input, sweep_yaml  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


class BasicBlock(nn.Module):
    """ResNet's two-3x3 block (He et al. 2016), as torchvision writes it."""

    def __init__(self, c_in, c_out, stride=1):
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.downsample = None
        if stride != 1 or c_in != c_out:
            self.downsample = nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride, bias=False), nn.BatchNorm2d(c_out))

    def forward(self, x):
        y = self.bn2(self.conv2(torch.relu(self.bn1(self.conv1(x)))))
        return torch.relu(y + (x if self.downsample is None else self.downsample(x)))


class ResNet18(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        widths = [(64, 64, 1), (64, 128, 2), (128, 256, 2), (256, 512, 2)]
        for i, (c_in, c_out, stride) in enumerate(widths, start=1):
            setattr(self, f"layer{i}", nn.Sequential(BasicBlock(c_in, c_out, stride), BasicBlock(c_out, c_out)))
        self.fc = nn.Linear(512, 1000)

    def forward(self, x):
        x = self.maxpool(torch.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(nn.functional.adaptive_avg_pool2d(x, 1), 1))


class Mixed(nn.Module):
    """In scope: a stem, a rectangular kernel on a non-square input, one conv called twice,
    'same' and 'valid' padding.  Out of scope: depthwise, dilated, asymmetric padding."""

    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(3, 8, 3, padding=1)
        self.rect = nn.Conv2d(8, 8, (1, 3), padding=(0, 0))
        self.depthwise = nn.Conv2d(8, 8, 3, padding=1, groups=8)
        self.dilated = nn.Conv2d(8, 8, 3, padding=2, dilation=2)
        self.shared = nn.Conv2d(8, 8, 3, padding="same")
        self.lopsided = nn.Conv2d(8, 4, 3, padding=(1, 0))
        self.valid = nn.Conv2d(4, 4, 3, padding="valid")

    def forward(self, x):
        x = self.rect(self.stem(x))
        x = self.shared(self.shared(self.dilated(self.depthwise(x))))
        return self.valid(self.lopsided(x))


def sweep_of(model, input_chw=(3, 224, 224), batch=8, name="m"):
    text, summary = sweep_yaml(name, batch, conv_layers(model, input_chw), "test")
    return text, summary, yaml.safe_load(text)


def shapes_and_counts(sweep):
    """The layers of a sweep as (problem, count), names dropped, sorted."""
    return sorted((s.x_shape, s.w_shape, s.stride, s.pad, s.count) for s in expand_sweep(sweep))


def test_a_torch_nn_resnet18_reproduces_the_shipped_sweep():
    shipped = yaml.safe_load((ROOT / "conf/sweep/resnet18.yaml").read_text())
    text, summary, sweep = sweep_of(ResNet18(), batch=shipped["batch"], name="resnet18")
    assert shapes_and_counts(sweep) == shapes_and_counts(shipped)
    assert summary == "resnet18: 20 conv layers, 11 distinct shapes in the sweep, 0 left out (0 layers)"
    assert sum(layer["count"] for layer in sweep["layers"]) == 20


def test_layers_come_in_network_order_named_by_first_module_path_with_counts():
    text, summary, sweep = sweep_of(Mixed(), input_chw=(3, 10, 12))
    got = [(layer["name"], layer["count"]) for layer in sweep["layers"]]
    assert got == [("stem", 1), ("rect", 1), ("shared", 2), ("valid", 1)]
    stem, rect, shared, valid = sweep["layers"]
    assert stem == {"name": "stem", "C": 3, "H": 10, "W": 12, "F": 8, "K": 3, "pad": 1, "count": 1}
    assert rect == {"name": "rect", "C": 8, "H": 10, "W": 12, "F": 8, "HH": 1, "WW": 3, "count": 1}
    assert shared["pad"] == 1 and "pad" not in valid           # 'same' on 3x3 = 1, 'valid' = 0
    assert valid["W"] == 8                                     # the lopsided padding's output, 10 -> 8 wide


def test_out_of_scope_layers_are_listed_with_their_reason_and_left_out():
    text, summary, sweep = sweep_of(Mixed(), input_chw=(3, 10, 12))
    left = [line for line in text.splitlines() if line.startswith("# left out:")]
    assert len(left) == 3
    assert left[0].startswith("# left out: depthwise (") and left[0].endswith("groups=8 (grouped or depthwise)")
    assert left[1].startswith("# left out: dilated (") and left[1].endswith("dilation=(2, 2)")
    assert left[2].startswith("# left out: lopsided (")
    assert left[2].endswith("padding (1, 0) differs between height and width")
    assert {"depthwise", "dilated", "lopsided"}.isdisjoint(layer["name"] for layer in sweep["layers"])
    assert summary == "m: 8 conv layers, 4 distinct shapes in the sweep, 3 left out (3 layers)"


def test_a_module_called_on_two_sizes_names_two_shapes():
    class TwoScales(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(3, 3, 3, padding=1)

        def forward(self, x):
            return self.conv(nn.functional.avg_pool2d(self.conv(x), 2))

    _, _, sweep = sweep_of(TwoScales(), input_chw=(3, 8, 8))
    assert [(layer["name"], layer["H"]) for layer in sweep["layers"]] == [("conv", 8), ("conv#2", 4)]


def test_the_cli_writes_yaml_that_expand_sweep_accepts(tmp_path):
    model = tmp_path / "tiny_models.py"
    model.write_text("import torch.nn as nn\n"
                     "def net(weights='must be None'):\n"
                     "    assert weights is None\n"
                     "    return nn.Sequential(nn.Conv2d(3, 16, 3, stride=2, padding=1), nn.ReLU(),\n"
                     "                         nn.Conv2d(16, 16, 3, padding=1, groups=16))\n")
    out = tmp_path / "tiny.yaml"
    run = subprocess.run([sys.executable, "-m", "harness.sweeps.from_model", "tiny_models:net", "--batch", "4",
                          "--input", "3x32x32", "--out", str(out)],
                         cwd=ROOT, env={"PYTHONPATH": f"{tmp_path}:{ROOT}", "PATH": "/usr/bin:/bin"},
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert run.stderr.strip() == (f"tiny: 2 conv layers, 1 distinct shapes in the sweep, 1 left out (1 layers); "
                                  f"written to {out}")
    [shape] = expand_sweep(yaml.safe_load(out.read_text()))
    assert (shape.name, shape.x_shape, shape.w_shape, shape.stride, shape.pad) == \
        ("0", (4, 3, 32, 32), (16, 3, 3, 3), 2, 1)


@pytest.mark.parametrize("argv,named", [
    (["nosuchmodule_xyz:net", "--batch", "8"], "MODEL 'nosuchmodule_xyz:net': cannot import"),
    (["torch.nn", "--batch", "8"], "MODEL 'torch.nn' must be module:callable"),
    (["torch.nn:NoSuchLayer", "--batch", "8"], "has no attribute 'NoSuchLayer'"),
    (["torch:float32", "--batch", "8"], "not a callable"),
    (["torch:zeros", "--batch", "8"], "MODEL 'torch:zeros': zeros(**{}) raised TypeError"),
    (["builtins:dict", "--batch", "8"], "returned a dict, not a torch.nn.Module"),
    (["torch.nn:Identity", "--batch", "0"], "--batch '0' must be an integer >= 1"),
    (["torch.nn:Identity", "--batch", "8", "--input", "3x224"], "--input '3x224' must be CxHxW"),
    (["torch.nn:Identity"], "the following arguments are required: --batch"),
    (["torch.nn:Identity", "--batch", "8"], "MODEL 'torch.nn:Identity' ran no nn.Conv2d"),
])
def test_errors_are_one_line_naming_the_argument(argv, named, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("from_model: error: ") and named in err, err


def test_a_forward_that_fails_on_the_input_names_input():
    with pytest.raises(ValueError, match=r"^--input 3x8x8: the model's forward on a zero input of shape "
                                         r"\(1, 3, 8, 8\) raised RuntimeError: "):
        conv_layers(nn.Conv2d(1, 2, 3), (3, 8, 8))


def test_an_existing_out_is_not_overwritten_without_force(tmp_path, capsys):
    out = tmp_path / "keep.yaml"
    out.write_text("mine\n")
    assert main(["torch.nn:Identity", "--batch", "8", "--out", str(out)]) == 2
    assert "exists; pass --force" in capsys.readouterr().err and out.read_text() == "mine\n"


@pytest.mark.parametrize("name", ["features.0", "a: b", "null", "#x", "[1]"])
def test_names_yaml_would_misread_are_quoted(name):
    text, _, sweep = sweep_of(nn.Conv2d(3, 4, 3), input_chw=(3, 8, 8), name=name)
    assert sweep["name"] == name


def test_parse_input():
    assert parse_input("3x224x224") == (3, 224, 224)
    for bad in ("3x0x4", "ax2x2", "3x2x2x2", ""):
        with pytest.raises(ValueError, match="--input"):
            parse_input(bad)
