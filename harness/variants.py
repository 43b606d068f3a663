"""Strategy variants as the user writes them, ``im2col`` or ``parallel[base=fft,n_jobs=2]``, and who races whom.

A variant is a registry name plus options.  Its label is the strategy's own canonical
label (``parallel[n_jobs=2,base=fft]`` and ``parallel[base=fft,n_jobs=2]`` are one variant),
so a variant listed twice under two spellings is caught.  Option values are parsed as int
when they look like one, else kept as strings.  Everything here is checked before a sweep
starts.

Who races: ``strategies: null`` means every registered strategy and peer (never a
dispatcher such as ``auto``, which is measured for its regret when named).  In each contest
an entrant that would run another entrant's code (``equivalent_to``: parallel with one
chunk runs its base) is not raced beside it: left out when it came from the default list,
recorded ``unsupported`` with the reason when the user named it.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

import strategies
from strategies import ConvStrategy

_SPEC = re.compile(r"^\s*(?P<name>[A-Za-z_][\w]*)\s*(?:\[(?P<opts>[^\]]*)\])?\s*$")


@dataclass(frozen=True)
class Variant:
    """A strategy name, the options the user gave, its canonical label and role."""

    name: str
    options: dict = field(default_factory=dict, hash=False, compare=False)
    label: str = ""
    role: str = "strategy"
    explicit: bool = True       # named by the user (not from strategies: null)
    #: the class, kept by reference: a child process imports it from its module, registered or not
    cls: type | None = field(default=None, hash=False, compare=False, repr=False)

    @property
    def budget_option(self) -> str | None:
        return self.cls.budget_option

    def build(self, threads: int) -> ConvStrategy:
        """The strategy object for a cell with ``threads`` CPUs of budget (the budget option filled in)."""
        options = dict(self.options)
        if self.budget_option and self.budget_option not in options:
            options[self.budget_option] = threads
        return self.cls(**options)


def parse_variant(spec: str, explicit: bool = True, loaders=None) -> Variant:
    """``"parallel[base=fft,n_jobs=2]"`` -> its Variant (canonical label, role); errors name the spec.
    ``loaders``: option name -> a function turning its text into what the strategy takes (the harness's
    :data:`harness.settings.OPTION_LOADERS`: auto's plan path -> the plan mapping)."""
    match = _SPEC.match(str(spec))
    if not match:
        raise ValueError(f"strategy spec {spec!r} is not of the form name or name[key=value,...]")
    options = {}
    for item in filter(None, (s.strip() for s in (match["opts"] or "").split(","))):
        key, sep, value = item.partition("=")
        key, value = key.strip(), value.strip()
        if not sep or not key:
            raise ValueError(f"strategy spec {spec!r}: option {item!r} is not key=value")
        if key in options:
            raise ValueError(f"strategy spec {spec!r} gives option {key!r} twice")
        options[key] = int(value) if re.fullmatch(r"[+-]?\d+", value) else value
    for key, load in (loaders or {}).items():
        if isinstance(options.get(key), str):
            options[key] = load(options[key])
    if isinstance(options.get("max_error"), str):   # auto's accuracy budget: a max relative error
        try:
            options["max_error"] = float(options["max_error"])
        except ValueError:
            raise ValueError(f"strategy spec {spec!r}: max_error={options['max_error']!r} is not a number") from None
    name = match["name"]
    if name not in strategies.STRATEGIES:
        raise ValueError(f"unknown strategy {name!r} in strategies; known strategies: "
                         f"{sorted(strategies.STRATEGIES)}")
    built = strategies.get_strategy(name, **options)   # a bad option fails here, before any work
    return Variant(name, options, built.label, built.role, explicit, type(built))


def default_specs() -> list[str]:
    """``strategies: null``: every registered strategy and peer, in registry order (no dispatcher)."""
    return [name for name, cls in strategies.STRATEGIES.items() if cls.role != "dispatcher"]


def resolve_variants(specs, threads: list[int], loaders=None) -> list[Variant]:
    """The run's variants, each checked against every thread budget of the run (``loaders``: :func:`parse_variant`)."""
    explicit = specs is not None
    specs = default_specs() if specs is None else [specs] if isinstance(specs, str) else list(specs)
    if not specs:
        raise ValueError("strategies is empty; give at least one name or null for all")
    variants, seen = [], {}
    for spec in specs:
        v = parse_variant(spec, explicit, loaders)
        if v.label in seen:
            raise ValueError(f"strategies lists {v.label} twice (as {seen[v.label]!r} and {spec!r})")
        seen[v.label] = spec
        option = v.budget_option
        if option and option in v.options:
            over = [t for t in threads if v.options[option] > t]
            if over:
                raise ValueError(f"{v.label} asks for {option}={v.options[option]} workers but the thread "
                                 f"budget is {over[0]} (threads={list(threads)}); drop {option} (it follows "
                                 f"the budget) or raise threads")
        variants.append(v)
    return variants


def racers(variants: list[Variant], built: dict[str, ConvStrategy], shape) -> dict[str, str]:
    """Entrants of a contest not raced, with why: label -> reason ("" : left out silently)."""
    labels = set(built)
    out = {}
    for v in variants:
        if v.role == "dispatcher" or v.label not in built:
            continue
        same = built[v.label].equivalent_to(shape.x_shape, shape.w_shape, shape.conv_param)
        if same is not None and same in labels and same != v.label:
            out[v.label] = (f"runs the same code as {same} here (one chunk at this thread budget): "
                            f"not raced beside it") if v.explicit else ""
    return out
