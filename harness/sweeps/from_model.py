"""A sweep from a model: the conv layers one forward pass of a torch model runs, as sweep YAML.

    python -m harness.sweeps.from_model torchvision.models:resnet34 --batch 8
    python -m harness.sweeps.from_model mypackage.nets:MyNet --batch 16 --input 1x128x96 \\
        --out conf/sweep/mynet.yaml

``MODEL`` is ``module:callable`` returning a ``torch.nn.Module`` (called with
``weights=None`` when it takes ``weights``, as torchvision's builders do: no download).
The model runs one forward pass, in eval mode and without gradients, on a zero input of
shape ``(1, *--input)`` with a forward hook on every ``nn.Conv2d``; each call of one is
an occurrence.  The YAML (the format of ``conf/sweep/resnet18.yaml``, written to stdout
or ``--out``) has one entry per distinct shape, in network order, named by the module
path of its first occurrence, with its multiplicity ``count``.  Layers outside the
strategies' scope are listed in ``#`` lines with the reason and left out: groups > 1,
dilation > 1, a stride or padding that differs between height and width, padding modes
other than zeros (unless the padding is 0), ``padding="same"`` on an even kernel (it pads
one side more).  ``padding="valid"`` is 0 and ``"same"`` on odd kernels is (k-1)/2: both
are kept.  Rectangular kernels and inputs are kept (``HH``/``WW``, ``W``).  Convolutions
called as ``torch.nn.functional.conv2d`` outside an ``nn.Conv2d`` are not seen.  A summary
line goes to stderr; a bad argument is one line naming it (exit status 2).

Needs torch (``pip install -e '.[peer]'``), never torchvision (this module imports
whatever ``MODEL`` names, nothing more).
"""
from __future__ import annotations

import argparse
import importlib
import importlib.util
import inspect
import json
import shlex
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import yaml

from . import expand_sweep

INSTALL = "pip install -e '.[peer]'"


@dataclass(frozen=True)
class ConvLayer:
    """One call of an ``nn.Conv2d``: its sweep keys in YAML order, or why it is out of scope."""

    path: str                            # module path in the model ("" is the model itself)
    keys: tuple[tuple[str, object], ...]  # in scope: C, H, [W], F, K | HH, WW, [stride], [pad]
    reason: str = ""                     # "" when in scope

    def text(self) -> str:
        return ", ".join(f"{k}: {v}" for k, v in self.keys)


def first_line(err: BaseException) -> str:
    text = str(err).strip()
    return f"{type(err).__name__}: {text.splitlines()[0] if text else ''}"


def load_model(spec: str):
    """The ``torch.nn.Module`` that ``module:callable`` builds."""
    import torch

    module_name, sep, attr = spec.partition(":")
    if not (sep and module_name and attr):
        raise ValueError(f"MODEL {spec!r} must be module:callable, e.g. torchvision.models:resnet34")
    try:
        obj = importlib.import_module(module_name)
    except Exception as err:  # a module that fails to import, whatever it raises, is the user's MODEL
        raise ValueError(f"MODEL {spec!r}: cannot import {module_name!r}: {first_line(err)}") from None
    for part in attr.split("."):
        if not hasattr(obj, part):
            raise ValueError(f"MODEL {spec!r}: {module_name!r} has no attribute {attr!r}")
        obj = getattr(obj, part)
    if not callable(obj):
        raise ValueError(f"MODEL {spec!r}: {attr!r} is a {type(obj).__name__}, not a callable")
    kwargs = {"weights": None} if "weights" in _parameters(obj) else {}
    try:
        model = obj(**kwargs)
    except Exception as err:
        raise ValueError(f"MODEL {spec!r}: {attr}(**{kwargs}) raised {first_line(err)}") from None
    if not isinstance(model, torch.nn.Module):
        raise ValueError(f"MODEL {spec!r} returned a {type(model).__name__}, not a torch.nn.Module")
    return model


def _parameters(obj) -> set[str]:
    try:
        return set(inspect.signature(obj).parameters)
    except (TypeError, ValueError):  # no signature to read (a builtin): call it without arguments
        return set()


def parse_input(text: str) -> tuple[int, int, int]:
    """``"3x224x224"`` -> (C, H, W)."""
    parts = str(text).lower().split("x")
    if len(parts) != 3 or not all(p.strip().isdigit() and int(p) >= 1 for p in parts):
        raise ValueError(f"--input {text!r} must be CxHxW with integers >= 1, e.g. 3x224x224")
    return tuple(int(p) for p in parts)  # type: ignore[return-value]


def describe(path: str, conv, x_shape) -> ConvLayer:
    """The sweep keys of one ``nn.Conv2d`` call on an input of ``x_shape`` (..., C, H, W)."""
    C, H, W = (int(d) for d in x_shape[-3:])
    (HH, WW), (sh, sw), padding = conv.kernel_size, conv.stride, conv.padding
    reasons = []
    if conv.groups != 1:
        reasons.append(f"groups={conv.groups} (grouped or depthwise)")
    if tuple(conv.dilation) != (1, 1):
        reasons.append(f"dilation={tuple(conv.dilation)}")
    if sh != sw:
        reasons.append(f"stride {conv.stride} differs between height and width")
    if padding == "valid":
        padding = (0, 0)
    elif padding == "same":
        if HH % 2 == 0 or WW % 2 == 0:
            reasons.append(f"padding='same' on the even kernel {HH}x{WW} pads one side more")
        padding = ((HH - 1) // 2, (WW - 1) // 2)
    ph, pw = padding
    if ph != pw:
        shown = conv.padding if isinstance(conv.padding, tuple) else f"{conv.padding!r} = {(ph, pw)}"
        reasons.append(f"padding {shown} differs between height and width")
    if conv.padding_mode != "zeros" and (ph or pw):
        reasons.append(f"padding_mode={conv.padding_mode!r} (only zero padding)")
    if reasons:
        raw = (("C", C), ("H", H), ("W", W), ("F", conv.out_channels), ("kernel", f"{HH}x{WW}"),
               ("stride", conv.stride), ("padding", conv.padding), ("dilation", conv.dilation),
               ("groups", conv.groups), ("padding_mode", conv.padding_mode))
        return ConvLayer(path, raw, "; ".join(reasons))
    keys = [("C", C), ("H", H)] + ([("W", W)] if W != H else []) + [("F", conv.out_channels)]
    keys += [("K", HH)] if HH == WW else [("HH", HH), ("WW", WW)]
    keys += ([("stride", sh)] if sh != 1 else []) + ([("pad", ph)] if ph else [])
    return ConvLayer(path, tuple(keys))


def conv_layers(model, input_chw: tuple[int, int, int]) -> list[ConvLayer]:
    """Every ``nn.Conv2d`` call of one forward pass of a zero input (1, C, H, W), in order."""
    import torch

    paths = {module: path for path, module in model.named_modules()}  # shared modules: first path
    calls: list[ConvLayer] = []
    hooks = [m.register_forward_hook(lambda m, args, out: calls.append(describe(paths[m], m, args[0].shape)))
             for m in paths if isinstance(m, torch.nn.Conv2d)]
    dtype = next(model.parameters(), torch.zeros(())).dtype   # the model's own precision
    try:
        model.eval()
        with torch.no_grad():
            model(torch.zeros((1, *input_chw), dtype=dtype))
    except Exception as err:  # the model's own forward: its error, named with our argument
        shape = "x".join(map(str, input_chw))
        raise ValueError(f"--input {shape}: the model's forward on a zero input of shape "
                         f"{(1, *input_chw)} raised {first_line(err)}") from None
    finally:
        for hook in hooks:
            hook.remove()
    return calls


def sweep_yaml(name: str, batch: int, calls: list[ConvLayer], command: str) -> tuple[str, str]:
    """The sweep file's text (validated by :func:`expand_sweep`) and the summary line."""
    counts = Counter((c.keys, c.reason) for c in calls)
    firsts = {}
    for c in calls:
        firsts.setdefault((c.keys, c.reason), c)
    kept = [(c, counts[k]) for k, c in firsts.items() if not c.reason]
    left = [(c, counts[k]) for k, c in firsts.items() if c.reason]
    used: Counter = Counter()
    rows = []
    for c, count in kept:  # a module called on two sizes names two shapes: path, path#2
        used[c.path] += 1
        label = (c.path or "model") + (f"#{used[c.path]}" if used[c.path] > 1 else "")
        rows.append((f"name: {_scalar(label)},", ", ".join(f"{k}: {v}" for k, v in c.keys) + f", count: {count}"))
    summary = (f"{name}: {len(calls)} conv layers, {len(kept)} distinct shapes in the sweep, "
               f"{len(left)} left out ({sum(n for _, n in left)} layers)")
    width = max((len(r[0]) for r in rows), default=0)
    lines = [f"# {name}: conv layers of one forward pass; count = occurrences in the network.",
             f"# made by: {command}", f"# {summary}"]
    lines += [f"# left out: {c.path or 'model'} ({c.text()}) x{n}: {c.reason}" for c, n in left]
    lines += [f"name: {_scalar(name)}", f"batch: {batch}", "layers:"]
    lines += [f"  - {{{label.ljust(width)} {keys}}}" for label, keys in rows]
    if not kept:
        raise ValueError(f"MODEL has no conv layer in the strategies' scope ({summary})")
    text = "\n".join(lines) + "\n"
    expand_sweep(yaml.safe_load(text))  # what we write, the harness reads
    return text, summary


def _scalar(text: str) -> str:
    """``text`` as a YAML scalar: plain where YAML reads it back unchanged, else quoted."""
    try:
        plain = yaml.safe_load(f"{{k: {text}}}") == {"k": text}
    except yaml.YAMLError:  # e.g. a name with ": " or an unbalanced bracket
        plain = False
    return text if plain else json.dumps(text)


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line naming the argument (usage: --help)
        raise ValueError(message)


def main(argv=None) -> int:
    parser = _Parser(prog="python -m harness.sweeps.from_model", description=__doc__.split("\n\n")[0])
    parser.add_argument("model", metavar="MODEL", help="module:callable returning a torch.nn.Module")
    parser.add_argument("--batch", required=True, help="the sweep's batch size N")
    parser.add_argument("--input", default="3x224x224", help="one input's CxHxW (default 3x224x224)")
    parser.add_argument("--out", help="write the sweep here (default: stdout)")
    parser.add_argument("--name", help="the sweep's name (default: --out's stem, else the callable's name)")
    parser.add_argument("--force", action="store_true", help="overwrite --out if it exists")
    argv = sys.argv[1:] if argv is None else list(argv)
    try:
        args = parser.parse_args(argv)
        if not args.batch.isdigit() or int(args.batch) < 1:
            raise ValueError(f"--batch {args.batch!r} must be an integer >= 1")
        input_chw = parse_input(args.input)
        out = Path(args.out) if args.out else None
        if out is not None and out.exists() and not args.force:
            raise ValueError(f"--out {out} exists; pass --force to overwrite it")
        if out is not None and not out.parent.is_dir():
            raise ValueError(f"--out {out}: folder {out.parent} does not exist")
        name = args.name or (out.stem if out else args.model.rpartition(":")[2].rpartition(".")[2])
        if not name.strip():
            raise ValueError(f"--name {args.name!r} must not be empty")
        if importlib.util.find_spec("torch") is None:
            raise ValueError(f"torch is not installed: {INSTALL}")
        calls = conv_layers(load_model(args.model), input_chw)
        if not calls:
            raise ValueError(f"MODEL {args.model!r} ran no nn.Conv2d on a {args.input} input")
        command = f"{parser.prog} {shlex.join(argv)}"
        text, summary = sweep_yaml(name, int(args.batch), calls, command)
    except ValueError as err:
        print(f"from_model: error: {err}", file=sys.stderr)
        return 2
    if out is None:
        sys.stdout.write(text)
    else:
        out.write_text(text)
    print(f"{summary}; written to {out or 'stdout'}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
