"""The fast block transforms equal the textbook ones (einsum on one tile), and each backward step is
the exact transpose of its forward step (<A x, y> == <x, A^T y>)."""
from __future__ import annotations

import numpy as np
import pytest

from strategies import winograd_reference as ref
from strategies.winograd_matrices import minimal_filtering
from strategies.winograd_transforms import (column_grid, filter_transform, input_transform, output_transform,
                                            scatter_tiles)
from strategies.winograd_transposes import (column_grid_adjoint, dout_tiles, dout_transform, input_transform_adjoint,
                                            kernel_output_transform)

RNG = np.random.default_rng(0)
# (m, r_h, r_w): square and rectangular pairs, identity axes (the stride-2 phases' F(m,1))
PAIRS = [(2, 3, 3), (4, 3, 3), (6, 3, 3), (4, 5, 5), (2, 5, 5), (4, 2, 1), (2, 1, 2), (6, 1, 1), (4, 3, 5)]


def mats(m, r):
    """(A^T, G, B^T) in float64, None for an identity axis (as the engine passes them)."""
    alg = minimal_filtering(m, r)
    return (None, None, None) if alg.identity else alg.arrays(np.float64)


def full(m, r):
    return minimal_filtering(m, r).arrays(np.float64)


def padded(x, off_h, off_w, rows, cols):
    """x with off zero rows/columns before it, cut or zero-extended to rows x cols."""
    out = np.zeros(x.shape[:2] + (rows, cols))
    h, w = min(rows - off_h, x.shape[2]), min(cols - off_w, x.shape[3])
    out[:, :, off_h:off_h + h, off_w:off_w + w] = x[:, :, :h, :w]
    return out


@pytest.mark.parametrize("m,r_h,r_w", PAIRS)
@pytest.mark.parametrize("ib", [1, 2])
def test_input_transform_is_the_textbook_one_tile_by_tile(m, r_h, r_w, ib):
    ah, aw = m + r_h - 1, m + r_w - 1
    N, C, th, tw = 2, 3, 3, 2
    x = RNG.standard_normal((N, C, 7, 9))
    rows, off = m * th + ah - m, (1, 2)
    grid = column_grid(x, *off, rows, aw, m, tw)
    xp = padded(x, *off, rows, m * tw + aw - m)
    np.testing.assert_array_equal(grid, xp.transpose(2, 3, 1, 0)[:, [m * j + b for b in range(aw) for j in range(tw)]]
                                  .reshape(rows, aw, tw, C, N).transpose(0, 1, 3, 2, 4))
    BT_h, BT_w = mats(m, r_h)[2], mats(m, r_w)[2]
    tiles = ref.tiles_of(xp, m, ah, aw, th, tw)                                 # (N, C, th, tw, ah, aw)
    V_ref = np.einsum("ki,ncxyij,lj->klcxyn", full(m, r_h)[2], tiles, full(m, r_w)[2])
    for i0 in range(0, th, ib):
        n = min(ib, th - i0)
        V = np.empty((ah * aw, C, n * tw * N))
        zbuf, dbuf = np.empty(grid.size), np.empty(ah * aw * C * ib * tw * N)
        input_transform(grid, BT_h, BT_w, m, i0, n, V, zbuf, dbuf)
        np.testing.assert_allclose(V.reshape(ah, aw, C, n, tw, N), V_ref[:, :, :, i0:i0 + n], rtol=1e-12, atol=1e-12)
        # one tile, the paper's line: V = B^T d B
        d = xp[1, 2, m * i0:m * i0 + ah, m:m + aw]
        np.testing.assert_allclose(V.reshape(ah, aw, C, n, tw, N)[:, :, 2, 0, 1, 1],
                                   ref.tile_input_transform(d, full(m, r_h)[2], full(m, r_w)[2]), atol=1e-12)


@pytest.mark.parametrize("m,r_h,r_w", PAIRS)
def test_filter_and_output_transforms_are_the_textbook_ones(m, r_h, r_w):
    (AT_h, G_h, _), (AT_w, G_w, _) = mats(m, r_h), mats(m, r_w)
    ah, aw = m + r_h - 1, m + r_w - 1
    g = RNG.standard_normal((4, 3, r_h, r_w))
    U = np.broadcast_to(filter_transform(g, G_h, G_w), (ah, aw, 4, 3))
    for f, c in [(0, 0), (3, 2)]:
        np.testing.assert_allclose(U[:, :, f, c], ref.tile_filter_transform(g[f, c], full(m, r_h)[1], full(m, r_w)[1]),
                                   atol=1e-12)
    M = RNG.standard_normal((ah * aw, 4, 10))
    Y = np.empty((m, m, 4, 10))
    output_transform(M, AT_h, AT_w, m, Y, np.empty(m * aw * 40))
    np.testing.assert_allclose(Y[:, :, 1, 7], ref.tile_output_transform(M.reshape(ah, aw, 4, 10)[:, :, 1, 7],
                                                                         full(m, r_h)[0], full(m, r_w)[0]), atol=1e-12)


@pytest.mark.parametrize("m,r_h,r_w", PAIRS)
def test_the_dual_transforms_are_the_textbook_ones(m, r_h, r_w):
    """dout's m x m tiles through A (the dual's G), and the kernel-sized G^T M G (the dual's A^T)."""
    (AT_h, _, _), (AT_w, _, _) = mats(m, r_h), mats(m, r_w)
    ah, aw = m + r_h - 1, m + r_w - 1
    N, F, oh, ow, tw = 2, 3, 5, 7, -(-7 // m)
    dout = RNG.standard_normal((N, F, oh, ow))
    tiles = dout_tiles(dout, m, 0, -(-oh // m), tw, np.empty(m * m * F * -(-oh // m) * tw * N))
    h = padded(dout, 0, 0, m * -(-oh // m), m * tw)
    np.testing.assert_array_equal(tiles[1, 0, 2, 0, tw - 1], h[:, 2, 1, m * (tw - 1)])
    H = dout_transform(tiles, None if AT_h is None else AT_h.T, None if AT_w is None else AT_w.T, m,
                       np.empty((ah * aw, F, tiles[0, 0].size // F)), np.empty(m * aw * tiles[0, 0].size))
    t = h[1, 2, 0:m, m * (tw - 1):m * tw]                               # the last tile of row 0, image 1, channel 2
    np.testing.assert_allclose(H.reshape(ah, aw, F, -1, tw, N)[:, :, 2, 0, tw - 1, 1],
                               ref.tile_dout_transform(t, full(m, r_h)[0], full(m, r_w)[0]), atol=1e-12)
    Msum = RNG.standard_normal((ah * aw, F, 4))
    dw = kernel_output_transform(Msum, full(m, r_h)[1], full(m, r_w)[1])
    np.testing.assert_allclose(dw[2, 3], ref.tile_kernel_output_transform(Msum.reshape(ah, aw, F, 4)[:, :, 2, 3],
                                                                          full(m, r_h)[1], full(m, r_w)[1]), atol=1e-12)


@pytest.mark.parametrize("oh,ow", [(8, 8), (7, 5), (1, 3)])
def test_scatter_places_every_tile_and_crops_the_overhang(oh, ow):
    m, N, F = 4, 2, 3
    th, tw = -(-oh // m), -(-ow // m)
    Y = RNG.standard_normal((m, m, F, th, tw, N))
    big = np.full((N, F, 2 * oh, ow), np.nan)
    out = big[:, :, ::2]                                                 # a strided view, as a dx phase
    for i0 in range(th):
        scatter_tiles(Y[:, :, :, i0:i0 + 1].copy(), out, m, i0, 1, tw)
    expected = Y.transpose(5, 2, 3, 0, 4, 1).reshape(N, F, th * m, tw * m)[:, :, :oh, :ow]
    np.testing.assert_allclose(out, expected, atol=1e-12)
    assert np.isnan(big[:, :, 1::2]).all()                               # rows outside the view untouched


def dot(a, b) -> float:
    return float(np.vdot(a, b))


@pytest.mark.parametrize("m,r_h,r_w", PAIRS)
@pytest.mark.parametrize("ib", [1, 2])
def test_the_backward_steps_are_the_transposes_of_the_forward_steps(m, r_h, r_w, ib):
    """<A x, y> == <x, A^T y> for the column grid, the input transform (over all blocks) and the scatter:
    dx, computed as the transpose, is exactly the gradient of the forward's own arithmetic."""
    ah, aw = m + r_h - 1, m + r_w - 1
    N, C, th, tw = 2, 3, 3, 2
    rows, off = m * th + ah - m, (1, 2)
    x = RNG.standard_normal((N, C, 7, 6))
    G = RNG.standard_normal((rows, aw, C, tw, N))
    dx = np.empty_like(x)
    column_grid_adjoint(G, dx, *off, m)
    assert dot(column_grid(x, *off, rows, aw, m, tw), G) == pytest.approx(dot(x, dx), rel=1e-12)

    grid = RNG.standard_normal((rows, aw, C, tw, N))
    (_, _, BT_h), (_, _, BT_w) = mats(m, r_h), mats(m, r_w)
    dgrid = np.zeros_like(grid)
    size = ah * aw * C * ib * tw * N
    lhs = 0.0
    for i0 in range(0, th, ib):
        n = min(ib, th - i0)
        V = np.empty((ah * aw, C, n * tw * N))
        input_transform(grid, BT_h, BT_w, m, i0, n, V, np.empty(grid.size), np.empty(size))
        dV = RNG.standard_normal(V.shape)
        lhs += dot(V, dV)
        input_transform_adjoint(dV, None if BT_h is None else BT_h.T, None if BT_w is None else BT_w.T, m, i0, n,
                                dgrid, np.empty(grid.size), np.empty(size), np.empty(grid.size))
    assert lhs == pytest.approx(dot(grid, dgrid), rel=1e-12)

    oh, ow = m * th - 1, m * tw - 2
    Y = RNG.standard_normal((m, m, C, th, tw, N))
    out = np.empty((N, C, oh, ow))
    for i0 in range(th):
        scatter_tiles(Y[:, :, :, i0:i0 + 1].copy(), out, m, i0, 1, tw)
    D = RNG.standard_normal(out.shape)
    T = dout_tiles(D, m, 0, th, tw, np.empty(Y.size))
    assert dot(out, D) == pytest.approx(dot(Y, T), rel=1e-12)


@pytest.mark.parametrize("m,r", [(2, 3), (4, 3), (6, 3), (4, 5)])
def test_the_whole_textbook_layer_is_a_correlation(m, r):
    """winograd_reference.correlate (einsum for every transform) against a direct sum: the reference is right."""
    x = RNG.standard_normal((2, 3, 9, 8))
    g = RNG.standard_normal((4, 3, r, r))
    oh, ow = 9 - r + 1, 8 - r + 1
    th, tw = -(-oh // m), -(-ow // m)
    xp = padded(x, 0, 0, m * th + r - 1, m * tw + r - 1)
    direct = np.einsum("nchwij,fcij->nfhw", np.lib.stride_tricks.sliding_window_view(x, (r, r), axis=(2, 3)), g)
    np.testing.assert_allclose(ref.correlate(xp, g, m, full(m, r), full(m, r), oh, ow), direct, rtol=1e-10, atol=1e-10)
