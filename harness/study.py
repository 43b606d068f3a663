"""The parts of one study: run folders checked to be one sweep, on one kind of machine, each contest once.

Used by :mod:`harness.merge` (see its docstring for the rules): the checks refuse, with one
clear message each, parts of different configs or code, a part still being written, a
contest in two parts, a contest in none, and machines that differ (unless kept apart).
"""
from __future__ import annotations

import fcntl
import os
import re
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from . import config as schema_config
from .errors import command
from .records import finished_contests, load_phases, load_results
from .report_run import SUMMARY_FILE
from .runfolder import LOCK, read_json
from .sweeps import expand_sweep

#: config keys that may differ between the parts of one study
PER_PART = ("shard", "resume", "resume_force", "results_dir")
PINNED = ("entrants", "git_commit", "strategies_hash", "versions")


@dataclass
class Part:
    """One run folder of the study, loaded."""

    path: Path
    config: dict
    pinned: dict
    env: dict
    results: pd.DataFrame
    phases: pd.DataFrame

    @property
    def machine(self) -> tuple[str, int]:
        return str(self.env.get("cpu_model") or "unknown CPU"), int(self.env.get("cpu_count") or 0)

    @property
    def name(self) -> str:
        shard = self.config.get("shard") or {}
        return f"{self.path} (shard {shard.get('index', 0)} of {shard.get('count', 1)})"


def is_merge(folder: Path) -> bool:
    return (folder / "config.json").exists() and "merged_from" in read_json(folder / "config.json", "a config")


def run_folders(runs) -> tuple[list[Path], Path | None]:
    """The run folders named (a multirun folder stands for its jobs) and the multirun folder, if one."""
    folders, multirun = [], None
    for run in map(Path, runs):
        if (run / "config.json").exists():
            if is_merge(run):
                raise ValueError(f"{run} is a merged folder; merge the run folders it came from instead")
            folders.append(run)
        elif (run / "multirun.yaml").exists() or any(run.glob("*/config.json")):
            jobs = [p.parent for p in sorted(run.glob("*/config.json")) if not is_merge(p.parent)]
            if not jobs:
                raise ValueError(f"{run}: a multirun folder, but none of its jobs started (no */config.json)")
            folders += jobs
            multirun = multirun or run
        else:
            raise ValueError(f"{run} is neither a run folder (config.json) nor a multirun folder (multirun.yaml)")
    return list(dict.fromkeys(folders)), multirun


def _still_running(folder: Path) -> bool:
    """Whether a writer holds the folder's lock (checked without touching the file)."""
    if not (folder / LOCK).exists():
        return False
    fd = os.open(folder / LOCK, os.O_RDONLY | os.O_CLOEXEC)
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        return False
    except BlockingIOError:
        return True
    finally:
        os.close(fd)


def load_part(folder: Path) -> Part:
    if _still_running(folder):
        raise ValueError(f"{folder} is still being written by its job; merge once it has finished")
    config = read_json(folder / "config.json", "the config of a convbench run")
    pinned = config.pop("pinned", {})
    results = load_results(folder)
    if not results.empty and not (folder / "env.json").exists():
        raise ValueError(f"{folder} has results but no env.json: which machine measured them is unknown")
    env = read_json(folder / "env.json", "the run's machine") if (folder / "env.json").exists() else {}
    return Part(folder, config, pinned, env, results, load_phases(folder, results))


def check_one_study(parts: list[Part]) -> None:
    """Same config but for :data:`PER_PART`, same pinned code and packages (see the module docstring)."""
    first = parts[0]
    for part in parts[1:]:
        keys = sorted({k for k in {**first.config, **part.config} if k not in PER_PART
                       and first.config.get(k) != part.config.get(k)})
        keys += [k for k in PINNED if first.pinned.get(k) != part.pinned.get(k)]
        if keys:
            raise ValueError(f"{part.name} is not the same study as {first.name}: {', '.join(keys)} differ; "
                             f"merge only the shards of one sweep, run with one config and one code")


def gemm_rates(parts: list[Part]) -> str:
    rates = {}
    for part in parts:
        for threads, rate in (part.env.get("gemm_gflops") or {}).items():
            rates.setdefault(int(threads), []).append(float(rate))
    return "; ".join(f"GEMM at {t} thread{'s' if t > 1 else ''} " + ", ".join(f"{r:.3g}" for r in rs) + " GFLOP/s"
                     + (f" (spread {max(rs) / min(rs) - 1:.0%})" if len(rs) > 1 and min(rs) > 0 else "")
                     for t, rs in sorted(rates.items())) or "GEMM rate not recorded"


def machine_groups(parts: list[Part], machines: bool) -> dict[str, list[Part]]:
    """label -> parts measured on that kind of machine; one group labelled "" unless they differ."""
    groups: dict[tuple, list[Part]] = {}
    for part in parts:
        groups.setdefault(part.machine, []).append(part)
    if len(groups) == 1:
        return {"": parts}
    described = "; ".join(f"{model}, {cpus} CPUs ({', '.join(p.name for p in ps)}: {gemm_rates(ps)})"
                          for (model, cpus), ps in groups.items())
    if not machines:
        raise ValueError(f"these runs were measured on machines that differ in CPU model or count, whose timings do "
                         f"not compare: {described}. Merge each machine's runs apart, or pass --machines to keep "
                         f"them as separate machine groups side by side")
    labelled = {}
    for (model, cpus), ps in groups.items():
        label = machine_label(model, cpus)
        labelled[label if label not in labelled else f"{label}-{len(labelled) + 1}"] = ps
    return labelled


def machine_label(cpu_model: str, cpus: int) -> str:
    """"AMD EPYC 7B13 64-Core Processor", 128 -> "AMD-EPYC-7B13-128cpu": a machine group's layer prefix."""
    short = re.sub(r"\((R|TM)\)|\bCPU\b|\bProcessor\b|\d+-Core|@.*$", " ", cpu_model).split()
    return f"{'-'.join(short) or 'CPU'}-{cpus}cpu"


def expected_contests(config: dict) -> list[tuple]:
    """Every contest key of the sweep, in the order a single run measures them."""
    run = schema_config.from_plain({k: v for k, v in config.items() if k != "resume"})
    passes = [getattr(p, "value", p) for p in run.passes]
    return [(shape.name, p, t, process) for process in range(run.timing.processes)
            for shape in expand_sweep(run.sweep) for t in run.threads for p in passes]


def check_contests(groups: dict[str, list[Part]], expected: list[tuple], parts: list[Part]) -> None:
    """Each contest once per machine group, and every contest of the sweep in some part (of ``parts``)."""
    found = set()
    for group in groups.values():
        owner: dict[tuple, Part] = {}
        for part in group:
            for key in finished_contests(part.results):
                if key in owner:
                    raise ValueError(f"contest {' '.join(map(str, key))} (shape, pass, threads, process) is in both "
                                     f"{owner[key].name} and {part.name}: a study holds each contest once (the "
                                     f"same shard run twice?); merge one of them")
                owner[key] = part
        found |= set(owner)
    missing = [k for k in expected if k not in found]
    if missing:
        unfinished = [p.name for p in parts if not (p.path / SUMMARY_FILE).exists()]
        count = (parts[0].config.get("shard") or {}).get("count", 1)
        absent = sorted(set(range(count)) - {(p.config.get("shard") or {}).get("index", 0) for p in parts})
        raise ValueError(f"{len(missing)} contest(s) of the sweep are in none of the runs (e.g. "
                         f"{' '.join(map(str, missing[0]))}); unfinished: {unfinished or 'none'}; shards absent: "
                         f"{absent or 'none'}. Finish them (e.g. {command('run.py', 'resume=<multirun folder>')}) "
                         f"and merge again")
