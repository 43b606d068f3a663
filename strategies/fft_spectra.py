"""The transforms of the FFT strategy: batched 2-D real FFTs of tiles, and the frequency-major layout.

Tiles are transformed where they lie, ``(N, B, th, tw, rows, cols)`` (images, channels,
tile grid, then the tile itself), along the last two axes, pocketfft's fastest case.  The
contraction over channels wants the other order, *frequency-major* ``(Lh, Lr, th, tw, N, B)``
(``Lr = Lw // 2 + 1``): per frequency an (M x B) matrix, M = th*tw*N rows, so that the sum over
channels is one batched matrix product over the Lh*Lr frequencies.  :func:`to_frequency_major`
and :func:`from_frequency_major` are that transpose, the one layout change of the algorithm,
done one image (one frequency row) at a time so that each copy's reads stay within the L1
cache's reach (a numpy transpose of the whole array at once runs 3-8x slower).

Each 2-D transform is its two 1-D passes: the real one along columns on the rows that hold
data, then the complex one along rows, zero-extending to Lh.  The textbook equivalent of
:func:`spectrum` is ``numpy.fft.rfft2(a, s=(Lh, Lw))`` moved to frequency-major order (the
tests check it), of :func:`inverse` ``numpy.fft.irfft2(z, s=(Lh, Lw))[..., :rows, :]``.
Conjugates cost no pass over a spectrum: ``conj`` is taken on the column spectrum, and the
inverse of a conjugated spectrum is a forward FFT (``norm="forward"``) followed by
``scipy.fft.hfft`` (``hfft(x, n) == irfft(conj(x), n) * n``).  A kernel (HHq of Lh rows) does
its complex pass as one DFT GEMM over those few rows, cheaper than an FFT of Lh mostly-zero
rows; dw's inverse, which needs only HHq rows, likewise.
"""
from __future__ import annotations

import numpy as np
import scipy.fft

from .fft_costs import padded_row
from .fft_plan import FFTPlan


def spectrum(a: np.ndarray, plan: FFTPlan, conj: bool = False) -> np.ndarray:
    """Real tiles (N, B, th, tw, h, w) (h <= Lh, w <= Lw, zero-extended) -> their Lh x Lw spectra,
    or the conjugates, frequency-major (Lh, Lr, th, tw, N, B)."""
    col = scipy.fft.rfft(a, n=plan.Lw, axis=-1)                             # (..., h, Lr)
    if conj:
        np.conjugate(col, out=col)
        spec = scipy.fft.ifft(col, n=plan.Lh, axis=-2, norm="forward", overwrite_x=True)
    else:
        spec = scipy.fft.fft(col, n=plan.Lh, axis=-2, overwrite_x=True)
    del col
    return to_frequency_major(spec)


def inverse(z: np.ndarray, plan: FFTPlan, rows: int, conj: bool = False) -> np.ndarray:
    """Spectra in tile order (N, B, th, tw, Lh, Lr) (:func:`from_frequency_major`) -> the first ``rows``
    rows of their real inverses, (N, B, th, tw, rows, Lw); with ``conj`` the inverses of conj(z).
    ``z`` is overwritten."""
    if conj:   # ifft(conj(S)) = conj(fft(S)) / Lh, and irfft(conj(g)) = hfft(g) / Lw
        kept = scipy.fft.fft(z, axis=-2, norm="forward", overwrite_x=True)[..., :rows, :]
        return scipy.fft.hfft(kept, n=plan.Lw, axis=-1, norm="forward")
    kept = scipy.fft.ifft(z, axis=-2, overwrite_x=True)[..., :rows, :]
    return scipy.fft.irfft(kept, n=plan.Lw, axis=-1)


def product_buffer(K: int, M: int, B: int, dtype) -> np.ndarray:
    """An empty (K, M, B) array for a frequency-major product, its rows padded to a stride that is not
    a power of two: :func:`from_frequency_major` reads it with a stride of M*B elements, and a
    power-of-two stride (B, M are often powers of two) maps every read to the same cache sets
    (measured: 2-3x slower transposes).  BLAS writes into it through its leading dimension."""
    return np.empty((K, M, padded_row(B)), dtype)[:, :, :B]


def to_frequency_major(spec: np.ndarray) -> np.ndarray:
    """(N, B, th, tw, Lh, Lr) -> (Lh, Lr, th, tw, N, B), one image at a time."""
    N, B, th, tw, Lh, Lr = spec.shape
    out = np.empty((Lh, Lr, th, tw, N, B), spec.dtype)
    for n in range(N):
        np.copyto(out[:, :, :, :, n], spec[n].transpose(3, 4, 1, 2, 0))
    return out


def from_frequency_major(spec: np.ndarray) -> np.ndarray:
    """(Lh, Lr, th, tw, N, B) -> (N, B, th, tw, Lh, Lr), one frequency row at a time."""
    Lh, Lr, th, tw, N, B = spec.shape
    out = np.empty((N, B, th, tw, Lh, Lr), spec.dtype)
    for k in range(Lh):
        np.copyto(out[:, :, :, :, k], spec[k].transpose(3, 4, 1, 2, 0))
    return out


def kernel_spectrum(wt: np.ndarray, plan: FFTPlan) -> np.ndarray:
    """Kernel phases (HHq, WWq, Cp, F) -> conj of their Lh x Lw spectrum, (Lh, Lr, Cp, F): correlation
    is the product with the conjugate.  The complex pass is the HHq-term DFT as one GEMM."""
    h = wt.shape[0]
    col = scipy.fft.rfft(wt, n=plan.Lw, axis=1)                             # (h, Lr, Cp, F)
    np.conjugate(col, out=col)
    dft = dft_matrix(plan.Lh, h, +1, col.dtype)                             # (Lh, h): conj of the forward DFT
    return np.matmul(dft, col.reshape(h, -1)).reshape(plan.Lh, *col.shape[1:])


def kernel_inverse(spec: np.ndarray, plan: FFTPlan) -> np.ndarray:
    """(Lh, Lr, ...) spectrum -> the HHq x WWq top-left taps of its real inverse, (HHq, WWq, ...):
    the complex pass computes only those HHq rows, as one GEMM with the inverse DFT matrix."""
    idft = dft_matrix(plan.Lh, plan.krows, +1, spec.dtype).T / plan.Lh    # (HHq, Lh)
    kept = np.matmul(idft, spec.reshape(plan.Lh, -1)).reshape(plan.krows, *spec.shape[1:])
    return scipy.fft.irfft(kept, n=plan.Lw, axis=1, overwrite_x=True)[:, :plan.kcols]


def dft_matrix(n: int, h: int, sign: int, dtype) -> np.ndarray:
    """(n, h) matrix exp(sign * 2*pi*i * k*j / n), computed in float64 and rounded once."""
    kj = np.outer(np.arange(n), np.arange(h)) % n
    return np.exp(sign * 2j * np.pi / n * kj).astype(dtype)
