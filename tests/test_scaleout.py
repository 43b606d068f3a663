"""Past one machine: shards, one job per core set, launchers, and one study merged from many runs.

The multirun tests start ``run.py -m hydra/launcher=local`` (hydra-submitit-launcher, the
``cluster`` extra): two shard jobs side by side, each pinned to its own core.
"""
from __future__ import annotations

import itertools
import json
import os
import random
import shutil
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pytest
import yaml

from fakes import FAST_TIMING, TINY_SWEEP, tiny_config
from harness import experiment, merge, shards, study
from harness.cell import Contest
from harness.measure.cpus import available_cpus
from harness.records import finished_contests, load_results
from harness.summary import CONTEST, GROUP
from harness.sweeps import expand_sweep

ROOT = Path(__file__).resolve().parents[1]
SWEEPS = sorted((ROOT / "conf" / "sweep").glob("*.yaml"))
PASS_LISTS = (["forward", "backward"], ["forward", "backward_data", "backward_filter"])
ENTRANTS = 5


def contests_of(sweep: dict, passes=PASS_LISTS[0], threads=(1,)) -> list[Contest]:
    return [Contest(shape, p, t) for shape in expand_sweep(sweep) for t in threads for p in passes]


def shard_of(contests, count) -> list[list[tuple]]:
    """Each shard's contests (by name), as harness.sweep asks for them."""
    return [[c.key for c in shards.shard_jobs(contests, SimpleNamespace(shard=(i, count), variants=[0] * ENTRANTS))]
            for i in range(count)]


# --- shards ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", SWEEPS, ids=lambda p: p.stem)
def test_shards_are_disjoint_and_cover_the_sweep(path):
    contests = contests_of(yaml.safe_load(path.read_text()), threads=(1, 2))
    for count in (1, 2, 3, 4, 7, 16):
        parts = shard_of(contests, count)
        every = [key for part in parts for key in part]
        assert len(every) == len(set(every)) == len(contests), count      # each contest in exactly one shard
        assert set(every) == {c.key for c in contests}


@pytest.mark.parametrize("path", SWEEPS, ids=lambda p: p.stem)
def test_shards_do_not_move_when_the_yaml_is_reordered(path):
    sweep = yaml.safe_load(path.read_text())
    before = {count: [set(k[:3] for k in part) for part in shard_of(contests_of(sweep), count)] for count in (2, 5)}
    rng = random.Random(0)
    for _ in range(5):
        shuffled = dict(reversed(list(sweep.items())))                    # keys in another order too
        if "layers" in sweep:
            shuffled["layers"] = rng.sample(sweep["layers"], len(sweep["layers"]))
        else:
            shuffled = {k: (rng.sample(v, len(v)) if isinstance(v, list) else v) for k, v in shuffled.items()}
        passes = rng.sample(PASS_LISTS[0], 2)
        for count, parts in before.items():
            assert [set(k[:3] for k in part) for part in shard_of(contests_of(shuffled, passes), count)] == parts


def optimum(costs: list[float], count: int) -> float:
    """The best possible heaviest shard, by exhaustive search (small sweeps only)."""
    costs, best = sorted(costs, reverse=True), [sum(costs)]

    def place(i, loads):
        if max(loads) >= best[0]:
            return
        if i == len(costs):
            best[0] = max(loads)
            return
        for j in sorted(set(range(count)), key=lambda j: loads[j]):
            if loads[j] in loads[:j]:
                continue                                                   # an equal load: the same subtree
            loads[j] += costs[i]
            place(i + 1, loads)
            loads[j] -= costs[i]
    place(0, [0.0] * count)
    return best[0]


@pytest.mark.parametrize("passes", PASS_LISTS, ids=len)
@pytest.mark.parametrize("path", SWEEPS, ids=lambda p: p.stem)
def test_shards_are_balanced_within_a_quarter_of_the_predicted_cost(path, passes):
    """Heaviest shard <= 1.25 x the lower bound max(total / count, largest contest), or x the optimum on a
    small sweep where the bound cannot be reached; contest counts within one (the fixed work per contest)."""
    contests = contests_of(yaml.safe_load(path.read_text()), passes)
    costs = [shards.predicted_cost(c, ENTRANTS) for c in contests]
    for count in (2, 4, 8) + ((16,) if path.stem == "resnet50" else ()):     # resnet50 x 16: the study
        loads = shards.shard_loads(contests, count, ENTRANTS)
        best = max(sum(costs) / count, max(costs))
        if max(loads) > 1.25 * best and len(contests) <= 14:
            best = optimum(costs, count)
        assert max(loads) <= 1.25 * best, (count, max(loads) / best)
        sizes = [len(part) for part in shard_of(contests, count)]
        assert max(sizes) - min(sizes) <= 1, (count, sizes)


# --- launchers and core sets -----------------------------------------------------------------------------


def conf_dir(tmp: Path) -> Path:
    """A config folder with the tiny sweep and the fast timing (added to the search path with --config-dir)."""
    (tmp / "sweep").mkdir(parents=True)
    (tmp / "timing").mkdir()
    (tmp / "sweep" / "tiny.yaml").write_text(yaml.safe_dump(TINY_SWEEP))
    (tmp / "timing" / "fast.yaml").write_text(yaml.safe_dump({"name": "fast", **FAST_TIMING}))
    return tmp


def run_py(*args, affinity=None, timeout=180) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    return subprocess.run([sys.executable, str(ROOT / "run.py"), *args], capture_output=True, text=True, cwd=ROOT,
                          env=env, timeout=timeout,
                          preexec_fn=(lambda: os.sched_setaffinity(0, affinity)) if affinity else None)


TINY = ["sweep=tiny", "timing=fast", "strategies=[naive,im2col]"]


@pytest.fixture(scope="module")
def studies(tmp_path_factory):
    """The tiny sweep as 2 submitit_local shards (one core each) and in one process."""
    if len(available_cpus()) < 2:
        pytest.skip(f"two shards side by side need 2 free cores; this process may use {available_cpus()}")
    tmp = tmp_path_factory.mktemp("scaleout")
    out = run_py("-m", f"--config-dir={conf_dir(tmp / 'conf')}", "hydra/launcher=local", "pin_cpus=true", *TINY,
                 "shard.index=range(0,2)", "shard.count=2", f"results_dir={tmp / 'results'}")
    assert out.returncode == 0, out.stderr[-3000:]
    multirun, = (tmp / "results").glob("multirun_*")
    single = experiment.main(tiny_config(), tmp / "single")
    return SimpleNamespace(multirun=multirun, single=single, tmp=tmp)


def test_shards_run_side_by_side_on_disjoint_cores(studies):
    jobs = sorted(studies.multirun.glob("*/results.csv"))
    assert len(jobs) == 2
    tables = [load_results(job.parent) for job in jobs]
    cores = [set(t["cpus"]) for t in tables]
    assert all(len(c) == 1 for c in cores) and cores[0] != cores[1]         # one pinned core each, not the same
    assert {t["job"].iloc[0] for t in tables} == {"hydra-0", "hydra-1"}
    assert not finished_contests(tables[0]) & finished_contests(tables[1])
    assert all(len(finished_contests(t)) for t in tables)                    # the work was split, not given to one


def test_merged_shards_have_the_cells_and_winners_of_one_process(studies):
    merged = merge.merge([studies.multirun])
    assert merged == studies.multirun / "merged"
    one, many = (pd.read_csv(path / "summary.csv") for path in (studies.single, merged))
    assert not many.duplicated(GROUP).any()
    assert sorted(map(tuple, many[GROUP].to_numpy())) == sorted(map(tuple, one[GROUP].to_numpy()))
    assert finished_contests(load_results(merged)) == finished_contests(load_results(studies.single))
    untied = [key for key, g in one.groupby(CONTEST) if not g["tied"].any()
              and not many.set_index(CONTEST).loc[key, "tied"].any()]
    assert untied                                                            # naive vs im2col: never a tie
    for key in untied:
        winner = lambda s: s.set_index(CONTEST).loc[key].query("winner")["strategy"].tolist()  # noqa: E731
        assert winner(one) == winner(many), key
    assert (merged / "report.md").read_text().count("## Merged study") == 1
    env = json.loads((merged / "env.json").read_text())
    assert len(env["shards"]) == 2 and "shard 0 of 2" in env["env_from"]
    assert all(s["gemm_gflops"] and s["host"] and s["cpu_model"] for s in env["shards"])
    assert merge.merge([studies.multirun]) == merged                         # merging again replaces it


def test_merge_names_a_missing_shard(studies, tmp_path):
    shard0 = next(studies.multirun.glob("0_*"))
    with pytest.raises(ValueError, match=r"contest\(s\) of the sweep are in none .*shards absent: \[1\]"):
        merge.merge([shard0], tmp_path / "merged")


@pytest.mark.parametrize("pinned", [True, False], ids=["pinned", "every-core"])
def test_a_second_job_on_the_same_core_refuses_before_any_work(tmp_path, pinned):
    core = available_cpus()[0]
    holder = subprocess.Popen([sys.executable, "-c", "from harness.measure.cpus import pinned_cores\n"
                               "with pinned_cores(1, 'first job'):\n    print('holding', flush=True)\n    input()"],
                              cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                              preexec_fn=lambda: os.sched_setaffinity(0, {core}))
    try:
        assert holder.stdout.readline().strip() == "holding"
        out = run_py(f"--config-dir={conf_dir(tmp_path / 'conf')}", *TINY, f"pin_cpus={str(pinned).lower()}",
                     f"results_dir={tmp_path / 'results'}", affinity={core} if pinned else None)
    finally:
        holder.communicate("\n", timeout=30)
    assert out.returncode == 2, out.stderr
    assert "convbench: error:" in out.stderr and f"cpu {core}: convbench pid {holder.pid}" in out.stderr
    run, = (tmp_path / "results").iterdir()
    assert not (run / "results.csv").exists() and not (run / "env.json").exists()   # nothing measured


def test_unpinned_jobs_started_together_never_measure_side_by_side(tmp_path):
    """submitit_local (like Hydra's joblib launcher) starts every job at once: without pin_cpus each job locks
    every core, so at most one measures and the others refuse before any work; merge then names them."""
    run_py("-m", f"--config-dir={conf_dir(tmp_path / 'conf')}", "hydra/launcher=local", *TINY, "pin_cpus=false",
           "shard.index=range(0,2)", "shard.count=2", f"results_dir={tmp_path / 'results'}")
    multirun, = (tmp_path / "results").glob("multirun_*")
    jobs = sorted(p.parent for p in multirun.glob("*/config.json"))
    measured = [job for job in jobs if (job / "results.csv").exists()]
    assert len(jobs) == 2 and len(measured) <= 1
    for job in set(jobs) - set(measured):
        assert not (job / "env.json").exists()
    with pytest.raises(ValueError, match=r"unfinished: \[.*shard [01] of 2"):
        merge.merge([multirun])


def test_the_slurm_config_asks_for_whole_exclusive_nodes_or_a_fixed_core_set(tmp_path, monkeypatch):
    """The sbatch script submitit would submit (a stand-in srun on PATH: submitit only checks it exists)."""
    import submitit
    from hydra import compose, initialize_config_dir
    from hydra_plugins.hydra_submitit_launcher.config import BaseQueueConf
    from omegaconf import OmegaConf
    import run  # noqa: F401  (registers the schema)

    (tmp_path / "srun").write_text("#!/bin/sh\nexit 1\n")
    (tmp_path / "srun").chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")

    def sbatch(*overrides) -> str:
        with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
            launcher = compose("config", overrides=["hydra/launcher=slurm", *overrides],
                               return_hydra_config=True).hydra.launcher
        params = OmegaConf.to_container(launcher, resolve=False)
        base = set(OmegaConf.structured(BaseQueueConf).keys())
        executor = submitit.AutoExecutor(folder=tmp_path / "submitit", cluster="slurm")
        executor.update_parameters(**{k if k in base else f"slurm_{k}": v for k, v in params.items()
                                      if k not in ("submitit_folder", "max_num_timeout", "_target_", "name")})
        return executor._executor._make_submission_file_text("python job.py", "uid")

    whole = sbatch()
    assert "#SBATCH --exclusive" in whole and "--cpus-per-task" not in whole and "#SBATCH --nodes=1" in whole
    cores = sbatch("hydra.launcher.cpus_per_task=4", "~hydra.launcher.additional_parameters.exclusive")
    assert "#SBATCH --cpus-per-task=4" in cores and "--exclusive" not in cores


# --- merging runs from different machines ----------------------------------------------------------------


def fake_machine(run: Path, dest: Path, cpu_model: str) -> Path:
    shutil.copytree(run, dest, ignore=shutil.ignore_patterns(".lock"))
    env = json.loads((dest / "env.json").read_text())
    env["cpu_model"] = cpu_model
    for ceiling in ("gemm_gflops", "bandwidth_gb_per_s"):                # a machine 3x as fast at everything
        env[ceiling] = {k: float(v) * 3 for k, v in env[ceiling].items()}
    (dest / "env.json").write_text(json.dumps(env))
    return dest


def test_merge_refuses_two_cpu_models_and_keeps_them_as_machine_groups(studies, tmp_path):
    other = fake_machine(studies.single, tmp_path / "other", "Fake CPU 9000 64-Core Processor")
    with pytest.raises(ValueError, match=r"differ in CPU model or count.*Fake CPU 9000.*GEMM at 1 thread.*--machines"):
        merge.merge([studies.single, other], tmp_path / "refused")
    assert not (tmp_path / "refused").exists()
    merged = merge.merge([studies.single, other], tmp_path / "both", machines=True)
    summary = pd.read_csv(merged / "summary.csv")
    machine, layer = summary["shape"].str.split("/", n=1, expand=True).T.to_numpy()
    real = study.load_part(studies.single).machine
    assert set(machine) == {study.machine_label(*real), f"Fake-9000-{real[1]}cpu"}
    one = pd.read_csv(studies.single / "summary.csv")
    for name in set(machine):                                                # each machine: the whole sweep, its
        mine = summary[machine == name].assign(shape=layer[machine == name])  # own winners and speedups
        assert sorted(map(tuple, mine[GROUP].to_numpy())) == sorted(map(tuple, one[GROUP].to_numpy()))
        assert (mine.groupby(CONTEST)["winner"].sum() == 1).all()
    roofline = summary.assign(shape=layer, machine=machine).pivot_table("roofline_s", GROUP, "machine")
    assert roofline.notna().all().all() and len(roofline)                   # each machine's rooflines: its own ceilings
    assert roofline[f"Fake-9000-{real[1]}cpu"].to_numpy() == pytest.approx(roofline[study.machine_label(*real)] / 3)
    order = list(dict.fromkeys(summary["shape"]))                            # side by side, layer by layer
    assert [o.split("/", 1)[1] for o in order] == list(itertools.chain.from_iterable(
        [name] * 2 for name in dict.fromkeys(one["shape"])))
    assert "Layers are named `<machine>/<layer>`" in (merged / "report.md").read_text()


def test_merge_refuses_a_contest_twice_and_another_study(studies, tmp_path):
    twin = shutil.copytree(studies.single, tmp_path / "twin", ignore=shutil.ignore_patterns(".lock"))
    with pytest.raises(ValueError, match=r"contest \w+ \w+ 1 0 .* is in both .* a study holds each contest once"):
        merge.merge([studies.single, twin], tmp_path / "merged")
    config = json.loads((twin / "config.json").read_text())
    (twin / "config.json").write_text(json.dumps({**config, "dtype": "float64"}))
    with pytest.raises(ValueError, match=r"is not the same study as .*: dtype differ"):
        merge.merge([studies.single, twin], tmp_path / "merged")
