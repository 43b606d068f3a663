"""A run: from a validated config to a run folder, the sweep loop, resume and stability.

``run.py`` (the only Hydra code) composes the config and calls :func:`main`.  A run folder::

    config.json    the config, with what resume pins: the entrants, the code and package versions
    env.json       machine, versions, BLAS, the ceilings measured in the run
    results.csv    one row per sample, appended contest by contest (harness.records)
    phases.csv     each cell's named steps: analytic costs and measured times
    summary.csv    one row per cell, with winners, ties, speedups, roofline (written at the end)
    report.md      and the figures (harness.plots)

Nothing is written before the config is valid; a config error leaves no folder behind.
"""
from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path

import pandas as pd

import strategies

from . import config as schema_config
from .compare import compare_summaries, format_report
from .config import RunConfig
from .errors import command
from .measure.environment import code_version
from .runfolder import RunLock, read_json, write_json
from .settings import RunSettings, settings_from_config
from .sweep import run_sweep

log = logging.getLogger(__name__)
PINNED = "pinned"


def main(config: RunConfig, run_dir, overrides: list[str] = (), job: str = "") -> Path:
    """Start a run in ``run_dir``, or finish the one named by ``config.resume``."""
    if config.resume:
        return resume(config, list(overrides))
    run_dir = Path(run_dir)
    try:
        settings = settings_from_config(config)
        if (run_dir / "results.csv").exists():
            raise ValueError(f"{run_dir} already holds results; refusing to overwrite them "
                             f"(finish that run with: {command('run.py', f'resume={run_dir}')})")
    except ValueError:
        _remove_if_fresh(run_dir)
        raise
    if config.stability:
        return run_stability(config, run_dir)
    if config.strategies is None:
        for peer, install in strategies.MISSING_PEERS.items():
            log.warning("peer %s not installed: %s (the run goes on without it)", peer, install)
    with RunLock(run_dir):
        write_json(run_dir / "config.json", {**schema_config.to_plain(config), "resume": None,
                                             PINNED: pins(settings)})
        run_sweep(settings, run_dir, job=job)
    return run_dir


def _remove_if_fresh(run_dir: Path) -> None:
    """Remove a folder Hydra made for this run before it was refused: nothing of convbench's is in it."""
    if run_dir.is_dir() and {p.name for p in run_dir.iterdir()} <= {".hydra", "run.log", "run.py.log"}:
        shutil.rmtree(run_dir, ignore_errors=True)
        parent = run_dir.parent
        if parent.name.startswith("multirun_") and {p.name for p in parent.iterdir()} <= {"multirun.yaml"}:
            shutil.rmtree(parent, ignore_errors=True)


def pins(settings: RunSettings) -> dict:
    """What a resume must find unchanged: the entrants and the code and packages that measure them."""
    return {"entrants": [v.label for v in settings.variants], **code_version()}


def _differences(saved: dict, now: dict) -> list[str]:
    out = []
    for key in ("entrants", "git_commit", "strategies_hash"):
        if saved.get(key) != now.get(key):
            out.append(f"{key}: {saved.get(key)} then, {now.get(key)} now")
    versions = {k for k in {**saved.get("versions", {}), **now.get("versions", {})}
                if saved.get("versions", {}).get(k) != now.get("versions", {}).get(k)}
    out += [f"{k}: {saved.get('versions', {}).get(k)} then, {now.get('versions', {}).get(k)} now" for k in sorted(versions)]
    return out


def resume(config: RunConfig, overrides: list[str]) -> Path:
    """Finish the run in ``config.resume`` with its saved config, refusing if what it measures changed."""
    run_dir = Path(config.resume)
    others = [o for o in overrides if o.split("=", 1)[0].lstrip("+~") not in ("resume", "resume_force")]
    if others:
        raise ValueError(f"resume={run_dir} continues that run with its saved config; other overrides would "
                         f"change what it measures: {others}")
    if not (run_dir / "config.json").exists() and (run_dir / "multirun.yaml").exists():
        return resume_multirun(run_dir, config.resume_force)
    saved = read_json(run_dir / "config.json", "the config of a convbench run (is this a run folder?)")
    if "merged_from" in saved:
        raise ValueError(f"resume={run_dir} is a merged study, made from other run folders: resume those "
                         f"({', '.join(map(str, saved['merged_from']))}), then merge again")
    pinned = saved.pop(PINNED, {})
    stored = schema_config.from_plain({**saved, "resume": None})
    if stored.stability:
        return run_stability(stored, run_dir, resume_force=config.resume_force)
    settings = settings_from_config(stored)
    changed = _differences(pinned, pins(settings))
    if changed and not config.resume_force:
        raise ValueError(f"resume={run_dir}: what the run measures has changed since it started ("
                         + "; ".join(changed) + "); finishing it would mix two codes in one table. Start a new "
                         "run, or add resume_force=true to finish it anyway")
    if changed:
        log.warning("resuming %s although %s (resume_force=true)", run_dir, "; ".join(changed))
    log.info("resuming %s", run_dir)
    with RunLock(run_dir):
        run_sweep(settings, run_dir, resuming=True)
    return run_dir


def resume_multirun(folder: Path, resume_force: bool) -> Path:
    """Resume every job of a Hydra multirun folder that has not finished (each keeps its own config)."""
    jobs = sorted(p.parent for p in folder.glob("*/config.json"))
    if not jobs:
        raise ValueError(f"resume={folder}: a multirun folder, but none of its jobs has a config.json to resume")
    for job in jobs:
        if (job / "summary.csv").exists():
            log.info("%s finished already", job)
            continue
        log.info("resuming job %s of %s", job.name, folder)
        main(RunConfig(resume=str(job), resume_force=resume_force), None,
             overrides=[f"resume={job}"] + (["resume_force=true"] if resume_force else []))
    return folder


def run_stability(config: RunConfig, run_dir: Path, resume_force: bool = False) -> Path:
    """Run (or finish) the sweep twice, ``first/`` then ``second/``, and write how far the rankings agree."""
    run_dir.mkdir(parents=True, exist_ok=True)
    if not (run_dir / "config.json").exists():
        write_json(run_dir / "config.json", {**schema_config.to_plain(config), "resume": None})
    halves = []
    for part in ("first", "second"):
        half = run_dir / part
        if (half / "config.json").exists():
            halves.append(resume(schema_config.replace(config, resume=str(half), resume_force=resume_force), []))
        else:
            halves.append(main(schema_config.replace(config, stability=False), half))
    report = compare_summaries(*(pd.read_csv(path / "summary.csv") for path in halves))
    write_json(run_dir / "stability.json", report)
    print(f"\nstability of {config.sweep.name} over two runs:\n{format_report(report)}")
    return run_dir


def job_id(hydra_job_num=None) -> str:
    """Where a job came from: the scheduler's job id (SLURM), else Hydra's job number in a multirun, else ""."""
    if os.environ.get("SLURM_JOB_ID"):
        task = os.environ.get("SLURM_ARRAY_TASK_ID")
        return os.environ["SLURM_JOB_ID"] + (f"_{task}" if task else "")
    return "" if hydra_job_num is None else f"hydra-{hydra_job_num}"
