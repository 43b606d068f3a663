"""Strategy variants as the user writes them: ``im2col`` or ``parallel[base=fft,n_jobs=2]``.

A variant is a registry name plus options; several variants of one strategy fit in
one run.  Option values are parsed as int when they look like one, else kept as
strings.  Everything here is checked before a sweep starts, so a typo fails at once
with the list of known names.
"""
from __future__ import annotations

import inspect
import re
from dataclasses import dataclass, field

import strategies
from strategies import ConvStrategy

_SPEC = re.compile(r"^\s*(?P<name>[A-Za-z_][\w]*)\s*(?:\[(?P<opts>[^\]]*)\])?\s*$")

#: strategies whose ``n_jobs`` option defaults to the harness's thread budget
BUDGET_OPTION = "n_jobs"


@dataclass(frozen=True)
class Variant:
    """A strategy name and the options the user gave (the spec they wrote is ``spec``)."""

    name: str
    options: dict = field(default_factory=dict)

    @property
    def spec(self) -> str:
        if not self.options:
            return self.name
        return f"{self.name}[{','.join(f'{k}={v}' for k, v in self.options.items())}]"

    def build(self, threads: int) -> ConvStrategy:
        """The strategy object for a run with ``threads`` CPUs of budget.

        A strategy that takes ``n_jobs`` (the parallel wrapper) gets the budget unless
        the user fixed it: the harness owns the thread budget.
        """
        options = dict(self.options)
        cls = strategies.STRATEGIES[self.name]
        if BUDGET_OPTION in inspect.signature(cls).parameters and BUDGET_OPTION not in options:
            options[BUDGET_OPTION] = threads
        return strategies.get_strategy(self.name, **options)


def parse_variant(spec: str) -> Variant:
    """``"parallel[base=fft,n_jobs=2]"`` -> Variant("parallel", {"base": "fft", "n_jobs": 2})."""
    match = _SPEC.match(str(spec))
    if not match:
        raise ValueError(f"strategy spec {spec!r} is not of the form name or name[key=value,...]")
    options = {}
    for item in filter(None, (s.strip() for s in (match["opts"] or "").split(","))):
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"strategy spec {spec!r}: option {item!r} is not key=value")
        value = value.strip()
        options[key.strip()] = int(value) if re.fullmatch(r"[+-]?\d+", value) else value
    name = match["name"]
    if name not in strategies.STRATEGIES:
        raise ValueError(f"unknown strategy {name!r} in strategies; known strategies: "
                         f"{sorted(strategies.STRATEGIES)}")
    return Variant(name, options)


def resolve_variants(specs) -> list[Variant]:
    """The run's variants: ``None`` means every registered strategy (read from the registry).

    Each is built once here so a bad option fails before any work.
    """
    if specs is None:
        specs = sorted(strategies.STRATEGIES)
    if isinstance(specs, str):
        specs = [specs]
    variants = [parse_variant(s) for s in specs]
    if not variants:
        raise ValueError("strategies is empty; give at least one name or null for all")
    seen = set()
    for v in variants:
        if v.spec in seen:
            raise ValueError(f"strategy {v.spec!r} is listed twice")
        seen.add(v.spec)
        v.build(threads=1)
    return variants
