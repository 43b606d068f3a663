"""A plan from a plan file (``python -m harness.plan``) or a run folder: what ``auto[plan=...]`` is given.

Above the report (a run folder is loaded as the report loads it), so not imported by the package."""
from __future__ import annotations

import json
import warnings
from pathlib import Path

from ..measure.environment import cpu_model
from ..tables import load_tables
from .build import FORMAT, build_plan

_warned: set = set()


def load_plan(path) -> dict:
    """A plan from a file written by ``python -m harness.plan`` or from a run folder; warns once when it was
    measured on another CPU model than this machine's."""
    path = Path(path)
    if path.is_dir():
        plan = build_plan([load_tables(path)], path.name)
    elif path.is_file():
        try:
            plan = json.loads(path.read_text())
        except json.JSONDecodeError as err:
            raise ValueError(f"plan file {path} is not JSON: {err}") from None
        if not isinstance(plan, dict) or plan.get("format") != FORMAT:
            raise ValueError(f"{path} is not a convbench plan (python -m harness.plan RUN... -o {path.name})")
    else:
        raise ValueError(f"plan={str(path)!r} is neither a run folder nor a plan file")
    here, there = cpu_model(), plan["machine"].get("cpu_model")
    if there != here and (plan["name"], here) not in _warned:
        _warned.add((plan["name"], here))
        warnings.warn(f"plan {plan['name']} was measured on {there}, this machine is {here}: its choices may not "
                      f"be this machine's best", stacklevel=2)
    return plan
