"""The polyphase split shared by fft and winograd: phases that hold data, and nothing more."""
from __future__ import annotations

import numpy as np
import pytest

from strategies import get_strategy
from strategies.geometry import ConvProblem
from strategies.polyphase import Polyphase, merge, split


@pytest.mark.parametrize("s,h,w,k", [(1, 5, 7, 3), (2, 5, 7, 3), (3, 7, 9, 3), (2, 8, 8, 1), (4, 9, 9, 2)])
def test_split_places_each_phase_and_merge_puts_it_back(s, h, w, k):
    a = np.random.default_rng(0).standard_normal((2, 3, h, w))
    grid = Polyphase.for_problem(ConvProblem.from_shapes((2, 3, h, w), (1, 3, k, k), {"stride": s, "pad": 0}))
    assert (grid.phases_h, grid.phases_w) == (min(s, k), min(s, k))
    phases = split(a, grid, grid.rows, grid.cols)
    assert phases.shape == (2, 3 * grid.count, grid.rows, grid.cols)
    r, t = grid.phases_h - 1, grid.phases_w - 1                       # the last phase of channel 1
    expected = a[:, 1, r::s, t::s][:, :grid.rows, :grid.cols]
    channel = grid.count + r * grid.phases_w + t
    np.testing.assert_array_equal(phases[:, channel, :expected.shape[1], :expected.shape[2]], expected)
    back = merge(phases, grid, h, w)
    # every position some window reads comes back; the others (no phase holds them) are 0
    read = np.zeros((h, w), bool)
    for i in range(grid.phases_h):
        for j in range(grid.phases_w):
            read[i::s, j::s][:grid.rows, :grid.cols] = True
    np.testing.assert_array_equal(back[:, :, read], a[:, :, read])
    assert not back[:, :, ~read].any()


def test_trivial_split_is_the_array_itself():
    a = np.ones((1, 2, 5, 5))
    grid = Polyphase.for_problem(ConvProblem.from_shapes((1, 2, 5, 5), (1, 2, 3, 3), {"stride": 1, "pad": 0}))
    assert grid.trivial and split(a, grid, 5, 5) is a and merge(a, grid, 5, 5) is a


def test_a_huge_stride_makes_only_the_phases_that_hold_data():
    """Stride 10**6 on a 6x6 input: 9 phases of one pixel each, not 10**12 (43.7 TiB)."""
    problem = ConvProblem.from_shapes((1, 2, 6, 6), (3, 2, 3, 3), {"stride": 10 ** 6, "pad": 0})
    grid = Polyphase.for_problem(problem)
    assert (grid.count, grid.rows, grid.cols) == (9, 1, 1)
    rng = np.random.default_rng(0)
    x, w, b = rng.standard_normal((1, 2, 6, 6)), rng.standard_normal((3, 2, 3, 3)), rng.standard_normal(3)
    out, cache = get_strategy("fft").forward(x, w, b, problem.conv_param)
    expected = np.einsum("ncij,fcij->nf", x[:, :, :3, :3], w) + b
    np.testing.assert_allclose(out[:, :, 0, 0], expected, rtol=1e-10)
    dx, dw, db = get_strategy("fft").backward(np.ones_like(out), cache)
    np.testing.assert_allclose(dw, np.broadcast_to(x[:, :, :3, :3].sum(0), w.shape), rtol=1e-10)
    assert not dx[:, :, 3:].any() and not dx[:, :, :, 3:].any()
