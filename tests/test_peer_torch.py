"""The torch peer beyond the registry-wide tests: what it asks torch for, on whose tensors, and its absence.

The oracle, dtype, shape, finite-difference, wrt and step checks run on the peer through
the registry (tests/test_strategies.py, tests/test_contract.py).  Where torch is not
installed only the absence tests here run (the README's test command installs it).
"""
from __future__ import annotations

import importlib.util
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from conftest import make_inputs
from strategies import STRATEGIES, get_strategy
from strategies.passes import PASS_WRT, PASSES
from strategies.peer_torch import TorchPeer, immutable

ROOT = Path(__file__).resolve().parents[1]
needs_torch = pytest.mark.skipif(importlib.util.find_spec("torch") is None,
                                 reason="torch not installed: pip install -e '.[peer]'")
CP = {"stride": 1, "pad": 1}


def read_only(*arrays):
    for a in arrays:
        a.setflags(write=False)
    return arrays


def run_python(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)


# --- where torch is not installed (simulated in a child: sys.modules["torch"] = None) -----------
WITHOUT_TORCH = """
    import sys
    sys.modules["torch"] = None          # `import torch` raises, find_spec("torch") is None
    import strategies
"""


def test_without_torch_the_registry_lacks_the_peer_and_says_how_to_install_it():
    child = run_python(WITHOUT_TORCH + """
    assert "torch" not in strategies.STRATEGIES, sorted(strategies.STRATEGIES)
    assert strategies.MISSING_PEERS == {"torch": "pip install -e '.[peer]'"}, strategies.MISSING_PEERS
    try:
        strategies.get_strategy("torch")
    except ValueError as err:
        print(err)
    """)
    assert child.returncode == 0, child.stderr
    assert child.stdout.strip() == "peer 'torch' is not installed: pip install -e '.[peer]'"


def test_without_torch_the_sweep_generator_says_how_to_install_it():
    child = run_python(WITHOUT_TORCH + """
    from harness.sweeps.from_model import main
    raise SystemExit(main(["torchvision.models:resnet34", "--batch", "8"]))
    """)
    assert child.returncode == 2
    assert child.stderr == "from_model: error: torch is not installed: pip install -e '.[peer]'\n"


def test_the_install_hint_names_an_extra_that_pins_torch():
    """The hint's extra exists and pins one version (an open range pulls a multi-GB CUDA build)."""
    tomllib = pytest.importorskip("tomllib")          # Python >= 3.11
    extra = TorchPeer.install.split("[")[1].split("]")[0]
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    assert [r for r in extras[extra] if r.startswith("torch")] == ["torch==2.13.0"]


@needs_torch
def test_with_torch_installed_the_peer_is_registered_and_importing_strategies_does_not_import_torch():
    assert STRATEGIES["torch"].role == "peer"
    child = run_python("""
    import sys, strategies
    assert "torch" in strategies.STRATEGIES and not strategies.MISSING_PEERS
    print("torch" in sys.modules)
    """)
    assert child.returncode == 0, child.stderr
    assert child.stdout.strip() == "False"


# --- what it asks torch for ---------------------------------------------------------------------
@needs_torch
@pytest.mark.parametrize("pass_", [p for p in PASSES if PASS_WRT[p]])
def test_backward_asks_torch_only_for_the_gradients_in_wrt(pass_):
    """torch's convolution_backward runs with the output mask of the pass: dx-only does no dw work."""
    from torch.utils._python_dispatch import TorchDispatchMode

    masks = []

    class ConvolutionBackwardMasks(TorchDispatchMode):
        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            if func.__name__.startswith("convolution_backward"):
                masks.append(list(args[-1]))
            return func(*args, **(kwargs or {}))

    peer = get_strategy("torch")
    x, w, b = make_inputs((2, 3, 8, 8), (4, 3, 3, 3), np.float32)
    out, cache = peer.forward(x, w, b, CP)
    with ConvolutionBackwardMasks():
        peer.backward(np.ones_like(out), cache, wrt=PASS_WRT[pass_])
    assert masks == [[q in PASS_WRT[pass_] for q in ("x", "w", "b")]]


@needs_torch
def test_backward_can_be_called_again_on_one_cache():
    peer = get_strategy("torch")
    x, w, b = make_inputs((2, 3, 8, 8), (4, 3, 3, 3), np.float64)
    out, cache = peer.forward(x, w, b, CP)
    dout = np.random.default_rng(1).standard_normal(out.shape)
    first = peer.backward(dout, cache)
    again = peer.backward(2 * dout, cache)
    for g1, g2 in zip(first, again):
        np.testing.assert_allclose(g2, 2 * g1, rtol=1e-13)


@needs_torch
def test_the_strategy_sets_no_threads():
    import torch

    before = torch.get_num_threads()
    peer = get_strategy("torch")
    x, w, b = make_inputs((2, 3, 8, 8), (4, 3, 3, 3), np.float32)
    out, cache = peer.forward(x, w, b, CP)
    peer.backward(np.ones_like(out), cache)
    assert torch.get_num_threads() == before


# --- on whose tensors ---------------------------------------------------------------------------
@needs_torch
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_outputs_are_views_of_torchs_results_in_the_input_dtype(dtype):
    peer = get_strategy("torch")
    x, w, b = make_inputs((2, 3, 8, 8), (4, 3, 3, 3), dtype)
    out, cache = peer.forward(x, w, b, CP)
    grads = peer.backward(np.ones_like(out), cache)
    for a, like in zip((out, *grads), (np.empty((2, 4, 8, 8)), x, w, b)):
        assert a.dtype == np.dtype(dtype) and a.shape == like.shape
        assert not a.flags.owndata, "copied instead of viewing torch's tensor"


@needs_torch
def test_read_only_inputs_are_copied_into_torchs_memory_once():
    peer = get_strategy("torch")
    x, w, b = read_only(*make_inputs((2, 3, 8, 8), (4, 3, 3, 3), np.float32))
    _, first = peer.forward(x, w, b, CP)
    _, second = peer.forward(x, w, b, CP)
    tensors = first.saved[1]
    assert all(t1 is t2 for t1, t2 in zip(tensors, second.saved[1])), "converted again"
    assert tensors[0].data_ptr() != x.ctypes.data, "x's memory, not a tensor torch allocated"
    dout, = read_only(np.ones(first.problem.out_shape, np.float32))
    peer.backward(dout, first)
    kept = len(peer._kept)
    peer.backward(dout, second)
    assert len(peer._kept) == kept == 4       # x, w, b, dout: one copy each


@needs_torch
@pytest.mark.parametrize("writable", [False, True])
def test_one_array_passed_as_both_x_and_w_gets_each_its_own_gradient(writable):
    """Two arguments, two leaves of torch's graph: autograd would otherwise return dx + dw for both."""
    x, _, b = make_inputs((3, 2, 3, 3), (3, 2, 3, 3), np.float64)
    if not writable:
        read_only(x, b)
    dout = np.random.default_rng(2).standard_normal((3, 3, 3, 3))
    peer, im2col = get_strategy("torch"), get_strategy("im2col")
    got = peer.backward(dout, peer.forward(x, x, b, CP)[1])
    want = im2col.backward(dout, im2col.forward(x, x, b, CP)[1])
    for g, ref in zip(got, want):
        np.testing.assert_allclose(g, ref, rtol=1e-12, atol=1e-12)


@needs_torch
def test_forward_inside_a_callers_no_grad_still_records_for_backward():
    import torch

    peer = get_strategy("torch")
    x, w, b = make_inputs((1, 2, 5, 5), (2, 2, 3, 3), np.float32)
    with torch.no_grad():
        out, cache = peer.forward(x, w, b, CP)
    assert all(g is not None for g in peer.backward(np.ones_like(out), cache))


@needs_torch
def test_writable_inputs_are_copied_on_every_call_so_a_change_between_calls_is_seen():
    peer = get_strategy("torch")
    x, w, b = make_inputs((1, 2, 6, 6), (3, 2, 3, 3), np.float64)
    out1 = peer.forward(x, w, b, CP)[0].copy()
    x *= 2                                          # between calls, not between forward and backward
    out2 = peer.forward(x, w, b, CP)[0]
    np.testing.assert_allclose(out2 - b[:, None, None], 2 * (out1 - b[:, None, None]), rtol=1e-12)


@needs_torch
def test_a_read_only_view_of_a_writable_array_is_not_trusted():
    peer = get_strategy("torch")
    x, w_owner, b = make_inputs((1, 2, 6, 6), (3, 2, 3, 3), np.float64)
    w = w_owner.view()
    w.setflags(write=False)
    assert not immutable(w) and immutable(read_only(w_owner.copy())[0])
    out1 = peer.forward(x, w, b, CP)[0].copy()
    w_owner *= -1                                   # the owner is writable: w's values change
    out2 = peer.forward(x, w, b, CP)[0]
    np.testing.assert_allclose(out2 - b[:, None, None], -(out1 - b[:, None, None]), rtol=1e-12)


@needs_torch
def test_the_copies_of_dead_arrays_are_forgotten():
    peer = get_strategy("torch")
    w, b = read_only(*make_inputs((1, 2, 6, 6), (3, 2, 3, 3), np.float32)[1:])
    for seed in range(5):                           # a fresh read-only x each call, dropped after
        x, = read_only(make_inputs((1, 2, 6, 6), (3, 2, 3, 3), np.float32, seed)[0])
        peer.forward(x, w, b, CP)
        del x
    assert len(peer._kept) == 3                     # w, b and the last x (pruned at the next insertion)


# --- costs ----------------------------------------------------------------------------------------
@needs_torch
@pytest.mark.parametrize("pass_", PASSES)
def test_costs_count_the_direct_algorithm_in_one_phase(pass_):
    x_shape, w_shape, cp = (2, 3, 9, 9), (4, 3, 3, 3), {"stride": 2, "pad": 1}
    direct = 2 * 2 * 4 * 3 * 3 * 3 * 5 * 5
    products = {"forward": 1, "backward_data": 1, "backward_filter": 1, "backward": 2}[pass_]
    costs = get_strategy("torch").costs(x_shape, w_shape, cp, pass_)
    assert len(costs.phases) == 1
    assert costs.multiplies == products * direct
    im2col = get_strategy("im2col").costs(x_shape, w_shape, cp, pass_)
    assert costs.multiplies == im2col.multiplies


@needs_torch
def test_help_explains_the_peer():
    text = get_strategy("torch").__class__.__doc__
    for phrase in ("peer", "read-only", "copied on every call", "direct algorithm", "harness sets torch's"):
        assert phrase in text, phrase
