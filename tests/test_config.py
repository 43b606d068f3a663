"""The config: one schema (harness/config.py) for every YAML and override, refused with one line before any work."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf
from omegaconf.errors import OmegaConfBaseException

import run  # noqa: F401  (registers the schema in Hydra's ConfigStore)
import strategies
from harness import config, settings
from harness.config import RunConfig, TimingConfig
from fakes import tiny_config

ROOT = Path(__file__).resolve().parent.parent
CONF = ROOT / "conf"


def composed(*overrides) -> RunConfig:
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        return OmegaConf.to_object(compose(config_name="config", overrides=list(overrides)))


@pytest.mark.parametrize("sweep", sorted(p.stem for p in (CONF / "sweep").glob("*.yaml")))
@pytest.mark.parametrize("timing", sorted(p.stem for p in (CONF / "timing").glob("*.yaml")))
def test_every_sweep_and_timing_composes_and_validates(sweep, timing):
    cfg = composed(f"sweep={sweep}", f"timing={timing}")
    assert isinstance(cfg, RunConfig) and isinstance(cfg.timing, TimingConfig)
    run_settings = settings.settings_from_config(cfg)
    assert run_settings.shapes and run_settings.sweep_name == sweep
    default = {n for n, cls in strategies.STRATEGIES.items() if cls.role != "dispatcher"}
    assert {v.name for v in run_settings.variants} == default  # null = the registry's strategies and peers


def test_defaults_live_in_the_schema_only():
    """quick.yaml sets only its name: its values are the dataclass defaults, careful.yaml overrides some."""
    assert composed().timing == TimingConfig()
    careful = composed("timing=careful").timing
    assert careful.processes == 3 and careful.min_repeats == 15 and careful.noise_threshold == TimingConfig.noise_threshold


def test_grid_override_gives_one_shape_per_value():
    run_settings = settings.settings_from_config(composed("sweep=grid", "sweep.C=[16,32,64,128]"))
    assert [s.C for s in run_settings.shapes] == [16, 32, 64, 128]
    assert [s.name for s in run_settings.shapes] == ["C=16", "C=32", "C=64", "C=128"]
    assert all(s.pad == 1 and s.N == 8 for s in run_settings.shapes)  # pad same = K // 2, batch 8


def test_network_sweeps_count_their_layers():
    counts = {name: sum(s.count for s in settings.settings_from_config(composed(f"sweep={name}")).shapes)
              for name in ("resnet18", "resnet50", "vgg16")}
    assert counts == {"resnet18": 20, "resnet50": 53, "vgg16": 13}


@pytest.mark.parametrize("override,says", [
    ("timing.repeats=3", "Key 'repeats' not in 'TimingConfig'"),
    ("timing.min_repeats=1.5", "Value '1.5' of type 'float' could not be converted to Integer"),
    ("dtype=float16", "Invalid value 'float16', expected one of [float32, float64]"),
    ("threads=two", "threads"), ("sweep.layers=[{C:3,H:5,F:2,K:3,bogus:1}]", "Key 'bogus' not in 'LayerConfig'"),
])
def test_the_schema_refuses_unknown_keys_and_wrong_types(override, says):
    with pytest.raises(Exception) as raised:
        composed(override)
    chain, err = [], raised.value
    while err is not None:
        chain.append(err)
        err = err.__cause__
    assert any(isinstance(e, OmegaConfBaseException) and says in str(e) for e in chain), chain


@pytest.mark.parametrize("change,message", [
    ({"strategies": ["im2col", "fastest"]}, r"unknown strategy 'fastest'.*known strategies"),
    ({"sweep": {"name": "s", "layers": [{"name": "big", "C": 2, "H": 4, "F": 2, "K": 9}]}},
     r"sweep entry 'big' .* not a valid layer: kernel 9x9 .* larger than the padded input 4x4"),
    ({"sweep": {"name": "s", "layers": [{"name": "empty", "C": 0, "H": 4, "F": 2, "K": 3}]}}, r"zero dimension"),
    ({"sweep": {"name": "s", "layers": [{"name": "even", "C": 1, "H": 4, "F": 2, "K": 4, "pad": "same"}]}},
     r"pad 'same' needs a square kernel of odd size"),
    ({"threads": [0]}, r"threads must be a non-empty list of budgets from 1 to the \d+ CPUs"),
    ({"threads": [64]}, r"threads must be .* got \[64\]"),
    ({"timing": {"noise_threshold": -1.0}}, r"timing.noise_threshold must be a finite number >= 0; got -1.0"),
    ({"timing": {"min_seconds": float("nan")}}, r"timing.min_seconds must be a finite number >= 0; got nan"),
    ({"timing": {"min_repeats": 0}}, r"timing.min_repeats must be >= 1"),
    ({"oracle_max_gflop": -1.0}, r"oracle_max_gflop must be a number > 0; got -1.0"),
    ({"strategies": ["parallel[n_jobs=2,n_jobs=1]"]}, r"gives option 'n_jobs' twice"),
    ({"strategies": ["parallel[n_jobs=2]"]}, r"n_jobs=2 workers but the thread budget is 1"),
    ({"strategies": ["parallel[base=fft,n_jobs=1]", "parallel[n_jobs=1,base=fft]"]}, r"lists .* twice"),
    ({"baseline": "fft2"}, r"baseline='fft2' is not one of the run's strategies"),
    ({"passes": ["forward", "forward"]}, r"passes must be a non-empty list of distinct passes"),
    ({"figure_format": ["gif"]}, r"figure_format must be a non-empty list from"),
])
def test_what_the_schema_cannot_say_is_checked_before_any_work(change, message):
    with pytest.raises(ValueError, match=message):
        settings.settings_from_config(tiny_config(**change))


def test_null_baseline_means_im2col_when_it_runs():
    assert settings.settings_from_config(tiny_config(strategies=["naive", "im2col"])).baseline == "im2col"
    assert settings.settings_from_config(tiny_config(strategies=["naive"])).baseline is None


def test_config_round_trips_through_its_plain_form():
    cfg = tiny_config(passes=["forward", "backward_data"], dtype="float64")
    assert config.from_plain(config.to_plain(cfg)) == cfg


def cli(*args, env=None, cwd=None):
    return subprocess.run([sys.executable, str(ROOT / "run.py"), *args], capture_output=True, text=True,
                          timeout=120, cwd=cwd, env={**os.environ, **(env or {})})


@pytest.mark.parametrize("args,says", [
    (["dtype=float16"], "Invalid value 'float16'"),
    (["timing.repeats=3"], "Key 'repeats' not in 'TimingConfig'"),
    (["baseline=fft2"], "baseline='fft2' is not one of the run's strategies"),
    (["strategies=[im2col,fastest]"], "unknown strategy 'fastest'"),
])
def test_config_errors_are_one_line_and_leave_no_folder(tmp_path, args, says):
    out = cli(*args, f"results_dir={tmp_path / 'results'}", env={"HYDRA_FULL_ERROR": ""}, cwd=tmp_path)
    assert out.returncode == 2, out.stderr
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("convbench: error: ") and says in lines[0], out.stderr
    assert "Traceback" not in out.stderr
    assert not (tmp_path / "results").exists() or not any((tmp_path / "results").iterdir())


def test_the_traceback_is_there_when_asked(tmp_path):
    out = cli("baseline=fft2", f"results_dir={tmp_path / 'results'}", "-v", cwd=tmp_path)
    assert out.returncode != 0 and "Traceback" in out.stderr
