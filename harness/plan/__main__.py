"""``python -m harness.plan RUN... -o plan.json``: a plan file auto can use (``auto[plan=plan.json]``)."""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from ..tables import load_tables
from .build import build_plan
from .words import headline


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m harness.plan", description="a plan file auto can use, from run folders")
    parser.add_argument("runs", nargs="+", help="run folders (results/<run>), later ones override earlier ones")
    parser.add_argument("-o", "--out", required=True, help="the plan file to write (JSON)")
    parser.add_argument("--name", help="the plan's name in auto's label (default: the file's stem)")
    args = parser.parse_args(argv)
    try:
        runs = [load_tables(r) for r in args.runs]
        plan = build_plan(runs, args.name or Path(args.out).stem)
    except ValueError as err:
        parser.exit(2, f"convbench: error: {err}\n")
    Path(args.out).write_text(json.dumps(plan, indent=1))
    for run in runs:
        print(headline(run))
    print(f"{len(plan['cells'])} cells from {len(runs)} run(s), measured on {plan['machine']['cpu_model']}: "
          f"{args.out} (use: strategies='[\"auto[plan={args.out}]\"]')")


if __name__ == "__main__":
    main()
