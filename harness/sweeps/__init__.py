"""Sweep definitions -> a validated list of layer shapes.

A sweep (one YAML file in ``conf/sweep/``) is either a list of ``layers`` or a
``grid`` of axes expanded as a cartesian product::

    name: resnet18          # layers form            name: grid       # grid form
    batch: 8                                          batch: 8
    layers:                                           C: [16, 32, 64]  # axes are lists
      - {name: conv1, C: 3, H: 224, F: 64,            H: [28]
         K: 7, stride: 2, pad: 3, count: 1}           F: [64]
                                                      K: [3]
                                                      stride: [1]
                                                      pad: [same]      # "same" = K // 2

Layer keys: ``C, H, F`` required; ``W`` (default H), ``K`` or ``HH``/``WW``, ``stride``
(1), ``pad`` (0 or "same": K // 2, odd kernels only), ``N`` (the sweep's ``batch``),
``count`` (how often the layer occurs in the network, 1) and ``name``; the schema is
:class:`harness.config.SweepConfig`.  Every entry is checked with the strategies' own
validation before any work starts; a bad one is an error naming it.
``python -m harness.sweeps.from_model`` writes a layers sweep from a PyTorch model.
"""
from __future__ import annotations

import dataclasses
import itertools
from dataclasses import asdict, dataclass
from typing import Any, Mapping

from strategies.geometry import ConvProblem

GRID_AXES = ("N", "C", "H", "W", "F", "K", "stride", "pad")
LAYER_KEYS = {"name", "N", "C", "H", "W", "F", "K", "HH", "WW", "stride", "pad", "count"}


@dataclass(frozen=True)
class Shape(ConvProblem):
    """One layer of a sweep: a convolution problem, its name and its multiplicity in the network."""

    name: str = ""
    count: int = 1

    def columns(self) -> dict[str, Any]:
        """The shape's columns in a results row (``shape`` is the name)."""
        d = asdict(self)
        d["shape"] = d.pop("name")
        return d


def _plain(value):
    """A sweep or layer as a dict without its unset (None) keys; dataclasses and mappings alike."""
    if dataclasses.is_dataclass(value):
        value = {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
    return {k: v for k, v in dict(value).items() if v is not None}


def expand_sweep(sweep) -> list[Shape]:
    """All shapes of a sweep (a :class:`~harness.config.SweepConfig` or a mapping), validated, names unique."""
    sweep = _plain(sweep)
    name = sweep.get("name", "sweep")
    batch = sweep.get("batch", 1)
    if "layers" in sweep:
        extra = sorted(set(sweep) & set(GRID_AXES) - {"N"})
        if extra:
            raise ValueError(f"sweep {name!r} has both layers and grid axes {extra}; use one form")
        entries = [_plain(e) for e in sweep["layers"]]
    else:
        missing = [a for a in ("C", "H", "F", "K") if a not in sweep]
        if missing:
            raise ValueError(f"sweep {name!r} has no 'layers' list and grid axes {missing} are missing")
        entries = _grid_entries(sweep)
    if not entries:
        raise ValueError(f"sweep {name!r} has no layers")
    shapes = [_shape(entry, batch, index) for index, entry in enumerate(entries)]
    names = [s.name for s in shapes]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ValueError(f"sweep {name!r} has duplicate layer names {dupes}")
    return shapes


def _grid_entries(sweep: Mapping[str, Any]) -> list[dict]:
    axes = {a: _as_list(sweep[a]) for a in GRID_AXES if a in sweep and sweep[a] is not None}
    axes.setdefault("N", [sweep.get("batch", 1)])
    varying = [a for a, values in axes.items() if len(values) > 1]
    entries = []
    for values in itertools.product(*axes.values()):
        entry = dict(zip(axes, values))
        label = " ".join(f"{a}={entry[a]}" for a in varying) or "grid"
        entries.append({**entry, "name": label})
    return entries


def _as_list(value) -> list:
    return list(value) if isinstance(value, (list, tuple)) else [value]


def _shape(entry: dict, batch, index: int) -> Shape:
    label = entry.get("name", f"layer {index}")
    try:
        unknown = sorted(set(entry) - LAYER_KEYS)
        if unknown:
            raise ValueError(f"unknown keys {unknown}; expected some of {sorted(LAYER_KEYS)}")
        for key in ("C", "H", "F"):
            if key not in entry:
                raise ValueError(f"missing {key!r}")
        if "K" in entry:
            HH = WW = entry["K"]
        elif "HH" in entry:
            HH, WW = entry["HH"], entry.get("WW", entry["HH"])
        else:
            raise ValueError("missing the kernel size: give K or HH (and WW)")
        pad = entry.get("pad", 0)
        if pad == "same":
            if HH != WW or HH % 2 == 0:
                raise ValueError(f"pad 'same' needs a square kernel of odd size (the output then has the "
                                 f"input's size), got {HH}x{WW}")
            pad = HH // 2
        N, C, H, F = (_int(entry.get(k, batch if k == "N" else None), k) for k in ("N", "C", "H", "F"))
        W = _int(entry.get("W", H), "W")
        # the strategies' own validation: zero dims, kernel larger than the padded input, ...
        problem = ConvProblem.from_shapes((N, C, H, W), (F, C, _int(HH, "HH"), _int(WW, "WW")),
                                          {"stride": _int(entry.get("stride", 1), "stride"), "pad": _int(pad, "pad")})
        count = _int(entry.get("count", 1), "count")
        if count < 1:
            raise ValueError(f"count must be >= 1, got {count}")
        shape = Shape(**asdict(problem), name=str(label), count=count)
    except ValueError as err:
        raise ValueError(f"sweep entry {label!r} ({dict(entry)}) is not a valid layer: {err}") from None
    return shape


def _int(value, key: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{key} must be an integer, got {value!r}")
    return value
