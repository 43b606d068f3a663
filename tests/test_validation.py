"""Bad input raises ValueError naming the problem; the registry refuses unknown names."""
from __future__ import annotations

import numpy as np
import pytest

from strategies import STRATEGIES, get_strategy
from strategies.geometry import ConvProblem, output_size

GOOD = dict(x=(2, 3, 6, 6), w=(4, 3, 3, 3), b=(4,))
CP = {"stride": 1, "pad": 1}


def arrays(x=GOOD["x"], w=GOOD["w"], b=GOOD["b"], dtype=np.float32):
    return np.zeros(x, dtype), np.zeros(w, dtype), np.zeros(b, dtype)


BAD_FORWARD = [
    ("x not 4-D", lambda: (np.zeros((3, 6, 6), np.float32), *arrays()[1:], CP), r"x must be 4-D"),
    ("w not 4-D", lambda: (arrays()[0], np.zeros((4, 3, 3), np.float32), arrays()[2], CP), r"w must be 4-D"),
    ("b wrong shape", lambda: (*arrays()[:2], np.zeros((3,), np.float32), CP), r"b must have shape \(F,\) = \(4,\)"),
    ("b 2-D", lambda: (*arrays()[:2], np.zeros((4, 1), np.float32), CP), r"b must have shape"),
    ("channel mismatch", lambda: (*arrays(w=(4, 2, 3, 3)), CP), r"x has 3 channels .* w expects 2"),
    ("stride 0", lambda: (*arrays(), {"stride": 0, "pad": 1}), r"stride'\] must be an int >= 1; got 0"),
    ("stride float", lambda: (*arrays(), {"stride": 1.0, "pad": 1}), r"stride'\] must be an int"),
    ("pad negative", lambda: (*arrays(), {"stride": 1, "pad": -1}), r"pad'\] must be an int >= 0; got -1"),
    ("pad bool", lambda: (*arrays(), {"stride": 1, "pad": True}), r"pad'\] must be an int >= 0; got True"),
    ("kernel too large", lambda: (*arrays(w=(4, 3, 9, 3)), CP), r"kernel 9x3 .* larger than the padded input 8x8"),
    ("zero dimension", lambda: (*arrays(x=(0, 3, 6, 6)), CP), r"zero dimension"),
    ("missing key", lambda: (*arrays(), {"stride": 1}), r"conv_param is missing \['pad'\]"),
    ("unknown key", lambda: (*arrays(), {"stride": 1, "pad": 0, "dilation": 2}), r"unsupported keys \['dilation'\]"),
    ("not a dict", lambda: (*arrays(), (1, 1)), r"conv_param must be a dict"),
    ("float16", lambda: (*arrays(dtype=np.float16), CP), r"dtype float16; expected float32 or float64"),
    ("int", lambda: (*arrays(dtype=np.int64), CP), r"expected float32 or float64"),
    ("mixed dtypes", lambda: (arrays()[0].astype(np.float64), *arrays()[1:], CP), r"share one dtype"),
    ("list input", lambda: ([[1.0]], *arrays()[1:], CP), r"x must be a numpy.ndarray"),
]


@pytest.mark.parametrize("name", sorted(STRATEGIES))
@pytest.mark.parametrize("case,make,message", BAD_FORWARD, ids=[c[0] for c in BAD_FORWARD])
def test_bad_forward_input_is_named(name, case, make, message):
    with pytest.raises(ValueError, match=message):
        get_strategy(name).forward(*make())


@pytest.mark.parametrize("name", sorted(STRATEGIES))
def test_bad_dout_is_named(name):
    strategy = get_strategy(name)
    x, w, b = arrays()
    x[...] = 1.0
    if strategy.skip_reason(x.shape, w.shape, CP):
        pytest.skip("declined")
    out, cache = strategy.forward(x, w, b, CP)
    with pytest.raises(ValueError, match=r"dout must have the forward output's shape \(2, 4, 6, 6\)"):
        strategy.backward(np.zeros((2, 4, 5, 6), np.float32), cache)
    with pytest.raises(ValueError, match=r"dout must have the forward input's dtype float32"):
        strategy.backward(np.zeros(out.shape, np.float64), cache)
    with pytest.raises(ValueError, match=r"cache must be the ConvCache"):
        strategy.backward(np.zeros(out.shape, np.float32), (x, w))


def test_unknown_strategy_lists_known_ones():
    with pytest.raises(ValueError, match=r"unknown strategy 'fastest'; known strategies: \[.*'im2col'.*\]"):
        get_strategy("fastest")


def test_skip_reason_validates_its_shapes_too():
    with pytest.raises(ValueError, match="channels"):
        get_strategy("im2col").skip_reason((1, 3, 5, 5), (2, 4, 3, 3), CP)


def test_output_size_is_floor_division():
    assert output_size(7, 3, 2, 0) == 3      # (7 - 3) / 2 = 2 -> 3 outputs
    assert output_size(8, 3, 2, 0) == 3      # (8 - 3) / 2 = 2.5 floors to 2 -> 3, one leftover row
    assert output_size(224, 7, 2, 3) == 112  # ResNet stem
    p = ConvProblem.from_shapes((1, 3, 9, 10), (2, 3, 3, 3), {"stride": 3, "pad": 1})
    assert p.out_shape == (1, 2, 3, 4)
