"""One study from many run folders: the shards of a sweep (or runs of it on several machines) as one run folder.

    python -m harness.merge results/multirun_<stamp>           # -> results/multirun_<stamp>/merged/
    python -m harness.merge RUN_A RUN_B --out results/study     # run folders of one sweep
    python -m harness.merge RUN_A RUN_B --out DIR --machines    # from different machines, kept apart

**One study.**  The parts must share their config but for ``shard`` (and where results go)
and what resume pins (entrants, commit, strategies' hash, package versions); no part may
still be running; each contest must be in exactly one part, and every contest of the sweep
in some part (an unfinished or missing shard is named, with the command that finishes it).

**One kind of machine.**  Timings compare only on one CPU model with one CPU count
(env.json): parts from machines that differ are refused, each machine's GEMM rate given
beside it; a GEMM-rate difference alone is reported, not refused (neighbours and noise;
the load guard flags the contests they disturbed).  With ``--machines`` each machine is a
group and its layers are named ``<machine>/<layer>``: contests are keyed by shape, so each
machine keeps its own winners, ties and speedups (the one rule never races one machine's
strategy against another's), its rooflines use its own ceilings, and every figure that
lists layers shows the machines' rows side by side, layer by layer, in the strategies'
usual colours.  (A strategy-name prefix would race machines against each other; a facet
would need the plots to learn a new column.)

**Written** (into a temporary folder, renamed at the end): results.csv and phases.csv
contest by contest through :mod:`harness.records` (whole units, read back and checked),
config.json (the shared config as shard 0 of 1, with ``merged_from``), env.json (the first
part's, named in ``env_from``, every part's machine and ceilings under ``shards``), then
summary.csv, the figures and report.md as for a single run, report.md ending with where
every part ran.
"""
from __future__ import annotations

import argparse
import os
import shutil
from pathlib import Path

import pandas as pd

from . import schema
from .plots.text import conditions, markdown_table
from .records import CONTEST_KEY, PHASES_FILE, RESULTS_FILE, append_unit, finished_contests, load_phases, \
    load_results
from .report import draw
from .tables import baseline_of
from .report_run import SUMMARY_FILE, summarize_run
from .roofline import cell_rooflines, with_roofline
from .runfolder import write_json
from .study import Part, check_contests, check_one_study, expected_contests, gemm_rates, is_merge, load_part, \
    machine_groups, run_folders
from .summary import GROUP

MERGED = "merged"


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m harness.merge", description=__doc__.split("\n\n")[0])
    parser.add_argument("runs", nargs="+", help="a multirun folder (results/multirun_<stamp>) or run folders")
    parser.add_argument("--out", help="the merged run folder (default: <multirun>/merged/)")
    parser.add_argument("--machines", action="store_true",
                        help="keep runs from different machines (CPU model or count) as separate machine groups")
    args = parser.parse_args(argv)
    try:
        print(merge(args.runs, args.out, args.machines))
    except ValueError as err:
        parser.exit(2, f"convbench: error: {err}\n")


def _as_rows(frame: pd.DataFrame, columns) -> list[dict]:
    """Rows for :func:`append_unit`, int columns as integers (a float column from a gap would write 1.0)."""
    frame = frame.copy()
    for c in columns:
        if c.dtype == "int" and c.name in frame and frame[c.name].dtype.kind == "f":
            frame[c.name] = frame[c.name].astype("Int64")
    return frame.astype(object).where(frame.notna(), None).to_dict("records")


def write_tables(folder: Path, groups: dict[str, list[Part]], expected: list[tuple]) -> int:
    """results.csv and phases.csv, contest by contest in the sweep's order (machines side by side); rows written."""
    position = {(s, p, t, proc): i for i, (s, p, t, proc) in enumerate(expected)}
    units = []
    for g, (label, parts) in enumerate(groups.items()):
        for part in parts:
            phases = part.phases.groupby(CONTEST_KEY, sort=False)
            for key, rows in part.results.groupby(CONTEST_KEY, sort=False):
                phase_rows = phases.get_group(key) if key in phases.groups else part.phases.iloc[:0]
                if label:
                    rows, phase_rows = (r.assign(shape=f"{label}/" + r["shape"]) for r in (rows, phase_rows))
                units.append(((position.get(key, len(position)), g), rows, phase_rows))
    units.sort(key=lambda u: u[0])
    for _, rows, phase_rows in units:
        append_unit(folder / PHASES_FILE, _as_rows(phase_rows, schema.PHASES), schema.PHASES)
        append_unit(folder / RESULTS_FILE, _as_rows(rows, schema.RESULTS), schema.RESULTS)
    return sum(len(rows) for _, rows, _ in units)


def _environment(groups: dict[str, list[Part]]) -> dict:
    first = next(iter(groups.values()))[0]
    shards = [{"folder": str(p.path), "shard": p.config.get("shard"), "machine": label, "host": p.env.get("host"),
               "cpu_model": p.env.get("cpu_model"), "cpu_count": p.env.get("cpu_count"),
               "cpus": sorted(set(p.results["cpus"])) if len(p.results) else [],
               "gemm_gflops": p.env.get("gemm_gflops"), "bandwidth_gb_per_s": p.env.get("bandwidth_gb_per_s"),
               "contests": len(finished_contests(p.results))} for label, ps in groups.items() for p in ps]
    env = {**first.env, "env_from": first.name, "shards": shards}
    if len(groups) > 1:
        env["cpu_model"] = " | ".join(f"{label}: {ps[0].machine[0]}" for label, ps in groups.items())
    return env


def _own_ceilings(folder: Path, groups: dict[str, list[Part]]) -> None:
    """Machine groups: each group's rooflines from its own first part's ceilings (summary.csv rewritten)."""
    summary = pd.read_csv(folder / SUMMARY_FILE, dtype=schema.pandas_dtypes(schema.SUMMARY))
    phases = load_phases(folder, load_results(folder))
    for label, parts in groups.items():
        mine = summary["shape"].str.startswith(f"{label}/")
        roofline = cell_rooflines(with_roofline(phases[phases["shape"].str.startswith(f"{label}/")], parts[0].env))
        cells = pd.MultiIndex.from_frame(summary.loc[mine, GROUP])
        summary.loc[mine, "roofline_s"] = roofline.reindex(cells).to_numpy(dtype=float) if len(roofline) else None
    summary["roofline_efficiency"] = summary["roofline_s"] / summary["median_s"]
    temporary = folder / (SUMMARY_FILE + ".tmp")
    summary.to_csv(temporary, index=False)
    os.replace(temporary, folder / SUMMARY_FILE)


def _provenance(env: dict, groups: dict, results: pd.DataFrame) -> list[str]:
    contended = results[results["contended"]].groupby(CONTEST_KEY).ngroups
    table = pd.DataFrame([{"folder": Path(s["folder"]).name, "shard": f"{s['shard']['index']} of {s['shard']['count']}",
                           **({"machine": s["machine"]} if len(groups) > 1 else {}), "host": s["host"],
                           "CPU": s["cpu_model"], "CPUs": s["cpu_count"], "cores used": " ".join(s["cpus"]),
                           "GEMM GFLOP/s": ", ".join(f"{float(v):.3g}" for v in (s["gemm_gflops"] or {}).values()),
                           "contests": s["contests"]} for s in env["shards"]])
    lines = ["## Merged study", "", f"{len(env['shards'])} run folders, {results.groupby(CONTEST_KEY).ngroups} "
             f"contests ({contended} contended); env.json and the figures' ceilings are those of {env['env_from']}.",
             "", markdown_table(table), ""]
    if len(groups) > 1:
        lines += ["Layers are named `<machine>/<layer>`: winners, ties, speedups and rooflines are decided within "
                  "each machine. The network figure adds every machine's layers into one total per strategy, the "
                  "scaling figure pools them, and the efficiency and roofline figures draw the first machine's "
                  "ceilings: read those per machine from summary.csv.", ""]
    return lines


def _out_folder(out, multirun: Path | None, folders: list[Path]) -> Path:
    if out is None:
        parents = {f.parent for f in folders}
        multirun = multirun or (next(iter(parents)) if len(parents) == 1 and (next(iter(parents)) / "multirun.yaml")
                                .exists() else None)
        if multirun is None:
            raise ValueError("these run folders are not one multirun folder's jobs: give the merged folder with --out DIR")
        out = multirun / MERGED
    out = Path(out)
    if out.exists() and any(out.iterdir()) and not is_merge(out):
        raise ValueError(f"{out} exists and is not a merged folder; refusing to overwrite it (choose another --out)")
    if out.resolve() in {f.resolve() for f in folders}:
        raise ValueError(f"--out {out} is one of the run folders being merged")
    return out


def merge(runs, out=None, machines: bool = False) -> Path:
    """Merge ``runs`` into one run folder (see the module docstring) and return it."""
    folders, multirun = run_folders(runs)
    out = _out_folder(out, multirun, folders)
    parts = [load_part(f) for f in folders]
    check_one_study(parts)
    measured = [p for p in parts if len(p.results)]   # a job refused before any work ran on no machine
    groups = machine_groups(measured, machines) if measured else {"": []}
    expected = expected_contests(parts[0].config)
    check_contests(groups, expected, parts)
    temporary = out.with_name(f".{out.name}.merging")
    shutil.rmtree(temporary, ignore_errors=True)
    temporary.mkdir(parents=True)
    rows = write_tables(temporary, groups, expected)
    results = load_results(temporary)                       # read back: schema, whole contests, each once
    if len(results) != rows or len(load_phases(temporary, results)) != sum(len(p.phases) for p in measured):
        raise ValueError(f"{temporary}: the merged tables did not read back whole; nothing was replaced")
    config = {**parts[0].config, "shard": {"index": 0, "count": 1}, "resume": None, "pinned": parts[0].pinned,
              "merged_from": [str(p.path) for p in measured]}
    env = _environment(groups)
    write_json(temporary / "config.json", config)
    write_json(temporary / "env.json", env)
    shutil.rmtree(out, ignore_errors=True)
    os.replace(temporary, out)
    summary = summarize_run(out, baseline_of(config, results))
    if len(groups) > 1:
        _own_ceilings(out, groups)
    report = draw(out, formats=tuple(config.get("figure_format") or ("png",)))
    with open(report, "a") as f:
        f.write("\n" + "\n".join(_provenance(env, groups, results)))
    machines_seen = "; ".join(f"{label or 'one machine'}: {ps[0].machine[0]}, {ps[0].machine[1]} CPUs, {gemm_rates(ps)}"
                              for label, ps in groups.items())
    print(f"merged {len(measured)} run folders, {results.groupby(CONTEST_KEY).ngroups} contests ({machines_seen}); "
          f"env.json from {env['env_from']}\n{conditions(summary)}")
    return out


if __name__ == "__main__":
    main()
