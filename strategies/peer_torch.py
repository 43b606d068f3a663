"""The PyTorch peer: ``torch.nn.functional.conv2d`` forward, autograd backward, on our contract.

A peer is another library measured beside ours (``role = "peer"``): shown in every table
and figure, checked by the oracle like every entrant, never a winner, never in a plan.
torch is an optional dependency (``pip install -e '.[peer]'``); this module does not
import it: the strategy does, when it is built, so ``import strategies`` stays cheap
(importing torch costs ~1.3 s here) and the registry lists the peer only where torch is
installed (see :mod:`strategies`).
"""
from __future__ import annotations

import importlib
import weakref

import numpy as np

from .base import ConvStrategy
from .costs import Costs, PhaseCost, array_bytes
from .geometry import ConvProblem
from .passes import GRADIENTS
from .phases import step


def immutable(a: np.ndarray) -> bool:
    """True when nothing can write ``a``'s data: it and every array it views are read-only,
    down to an array owning its memory (a read-only view of a writable array can change)."""
    while isinstance(a, np.ndarray):
        if a.flags.writeable:
            return False
        if a.base is None:
            return True
        a = a.base
    return False  # memory owned by another object (a buffer, an mmap): it may be written


class TorchPeer(ConvStrategy):
    """PyTorch on the CPU (oneDNN underneath), as a torch user runs it: the peer our strategies meet.

    Forward is ``torch.nn.functional.conv2d(x, w, b, stride, padding)`` with autograd
    recording (a training step's forward: the cache is the graph); backward is
    ``torch.autograd.grad(out, inputs, dout, retain_graph=True)`` asking only for the
    inputs named in ``wrt``, so torch computes only those (a dx-only call runs
    ``convolution_backward`` with the dw and db outputs masked off) and backward may be
    called again on one cache.

    On torch's own tensors.  Our contract passes numpy arrays; a torch user's tensors are
    allocated by torch.  Each input is copied once into a tensor torch allocated, outside
    the named steps, and for a read-only array (the harness hands read-only inputs) the
    copy is kept and reused while that array lives (keyed on its identity, shape and
    strides), so the timed calls run on torch's tensors and do no conversion.  A writable
    array (or a read-only view of a writable one) could change between calls, so it is
    copied on every call, and that copy is timed.  A read-only array is taken at its word:
    making it writable again and changing it in place defeats the cache.  Outputs are
    returned as numpy views of torch's result tensors (``Tensor.numpy()``, no copy), in the
    input dtype (float32 or float64), with the contract's shapes.

    What runs is torch's choice (oneDNN for float32, its own im2col + MKL GEMM for float64)
    and it does not say, so the costs count the direct algorithm: 2*N*F*C*HH*WW*H'*W' flops
    per product (forward; dx and dw each in backward), each input read and each output
    written once, one phase per pass (the step ``conv2d`` forward, ``conv2d_backward``
    backward).  The workspace counts the copies of the inputs kept across calls (x, w, b;
    dout); what torch allocates inside a call is not known.  Threads: the strategy sets
    none; the harness sets torch's intra-op threads to the cell's budget.  The allocator
    regime moves torch as it moves us (its tensors come from glibc's malloc): compare in
    one regime.
    """

    name = "torch"
    family = "direct"
    role = "peer"
    #: the module this peer needs, and how to install it (the registry reports both when missing)
    requires = "torch"
    install = "pip install -e '.[peer]'"

    def __init__(self, **options):
        super().__init__(**options)
        torch = importlib.import_module(self.requires)
        self._conv2d, self._grad, self._empty = torch.nn.functional.conv2d, torch.autograd.grad, torch.empty
        self._enable_grad = torch.enable_grad
        self._dtypes = {np.dtype(np.float32): torch.float32, np.dtype(np.float64): torch.float64}
        # (argument, id(array)) -> (weakref to the array, its shape, its strides, the tensor);
        # per argument, so one array passed as both x and w still makes two leaves of the graph
        self._kept: dict[tuple[str, int], tuple] = {}

    @property
    def memory_blind_spot(self) -> str:
        return "torch allocates through its own allocator, which tracemalloc does not trace (RSS sees it)"

    def _forward(self, x, w, b, problem: ConvProblem):
        """``out = conv2d(x, w, b)`` on torch's copies of the inputs; the cache is the autograd graph."""
        inputs = tuple(self._tensor(a, arg, requires_grad=True) for a, arg in zip((x, w, b), GRADIENTS))
        with step("conv2d"), self._enable_grad():                # recorded even inside a caller's no_grad
            out = self._conv2d(*inputs, stride=problem.stride, padding=problem.pad)
        return out.detach().numpy(), (out, inputs)

    def _backward(self, dout, problem: ConvProblem, saved, wrt):
        """``autograd.grad`` of the forward's output for the inputs in ``wrt`` only."""
        out, inputs = saved
        asked = [q for q in GRADIENTS if q in wrt]
        grad_out = self._tensor(dout, "dout")
        with step("conv2d_backward"):
            grads = self._grad(out, [inputs[GRADIENTS.index(q)] for q in asked],
                               grad_outputs=grad_out, retain_graph=True)
        found = dict(zip(asked, grads))
        return tuple(found[q].numpy() if q in found else None for q in GRADIENTS)

    def _tensor(self, a: np.ndarray, arg: str, requires_grad: bool = False):
        """A tensor torch allocated holding ``a``'s values (argument ``arg`` of the call):
        kept for a read-only ``a``, fresh otherwise."""
        if not immutable(a):
            return self._copy(a, requires_grad)
        key = (arg, id(a))
        kept = self._kept.get(key)
        if kept is not None and kept[0]() is a and kept[1:3] == (a.shape, a.strides):
            return kept[3]
        # forget the copies of arrays that died (list(): one atomic snapshot), then keep this one's
        for old, (ref, *_) in list(self._kept.items()):
            if ref() is None:
                self._kept.pop(old, None)
        tensor = self._copy(a, requires_grad)
        self._kept[key] = (weakref.ref(a), a.shape, a.strides, tensor)
        return tensor

    def _copy(self, a: np.ndarray, requires_grad: bool):
        tensor = self._empty(a.shape, dtype=self._dtypes[a.dtype])  # contiguous, torch's allocator
        tensor.numpy()[...] = a
        return tensor.requires_grad_(requires_grad)

    def _costs(self, problem: ConvProblem, pass_: str, itemsize: int) -> Costs:
        N, C, H, W = problem.x_shape
        F, _, HH, WW = problem.w_shape
        P = problem.out_h * problem.out_w
        x, w, b, out = (array_bytes(*s, itemsize=itemsize) for s in (problem.x_shape, problem.w_shape,
                                                                      (F,), problem.out_shape))
        direct = 2.0 * N * F * C * HH * WW * P
        if pass_ == "forward":
            return Costs((PhaseCost("conv2d", x + w + b + out, product=direct, transform=float(N * F * P)),),
                         x + w + b)                              # the kept copies of x, w, b
        phase = PhaseCost("conv2d_backward", out)                # dout read once
        if pass_ in ("backward_data", "backward"):
            phase = phase + PhaseCost("", w + x, product=direct)          # reads w, writes dx
        if pass_ in ("backward_filter", "backward"):
            phase = phase + PhaseCost("", x + w + b, product=direct, transform=float(N * F * P))
        return Costs((phase,), out)                               # the kept copy of dout
