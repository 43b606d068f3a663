"""find: every strategy on one layer, ranked per pass by the harness's own contest and tie rule."""
from __future__ import annotations

import numpy as np
import pytest

from harness.find import COLUMNS, find, main


def test_one_small_layer_ranked_per_pass():
    table = find((2, 3, 8, 8), (4, 3, 3, 3), {"stride": 1, "pad": 1}, passes=("forward", "backward_data"),
                 strategies=["im2col", "fft", "winograd"])
    assert list(table.columns) == COLUMNS
    assert list(dict.fromkeys(table["pass"])) == ["forward", "backward_data"]
    for _, g in table.groupby("pass"):
        ok = g[g["status"] == "ok"]
        assert list(ok["median_ms"]) == sorted(ok["median_ms"])            # fastest first
        assert ok.iloc[0]["winner"] and ok.iloc[0]["rank"] == 1
        assert (ok["error_ratio"] < 1).all() and ok["max_error"].gt(0).all()
        assert ok["speedup"].notna().all() and ok["deterministic"].notna().all()


def test_the_naive_loops_stay_a_prediction_on_a_bigger_layer_and_decliners_say_why():
    table = find((2, 16, 16, 16), (16, 16, 1, 1), {"stride": 1, "pad": 0}, passes=("forward",),
                 strategies=["naive", "im2col", "winograd"]).set_index("strategy")
    assert table.loc["naive", "status"] == "hopeless" and np.isnan(table.loc["naive", "median_ms"])
    assert table.loc["winograd", "status"] == "unsupported" and table.loc["winograd", "reason"]


def test_the_command_prints_the_table(capsys):
    main(["N=1", "C=2", "H=6", "F=2", "K=3", "pad=1", "passes=forward", "strategies=im2col,fft"])
    out = capsys.readouterr().out
    assert "forward:" in out and "im2col" in out and "fft" in out and "wall" in out


def test_bad_arguments_are_named():
    with pytest.raises(SystemExit, match="missing the kernel size"):
        main(["N=1", "C=2", "H=6", "F=2"])
    with pytest.raises(SystemExit, match="unknown arguments"):
        main(["N=1", "C=2", "H=6", "F=2", "K=3", "colour=red"])
    with pytest.raises(ValueError, match="passes must be some of"):
        find((1, 2, 6, 6), (2, 2, 3, 3), {"stride": 1, "pad": 1}, passes=("sideways",))
