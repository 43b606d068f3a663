"""A sweep split into disjoint shards: each contest in exactly one, the same one whatever the YAML's order.

**The key.**  A contest is identified by what it measures: the layer's geometry (input and
filter shapes, stride, pad), the pass and the thread budget, hashed (:func:`stable_key`).
Not by its position in the sweep, nor by its name (an unnamed layer is named by its
position), so reordering or renaming the YAML's layers moves no contest.  Two layers of
identical geometry share a key and so a shard.

**The deal.**  Keys are ordered by their predicted cost (largest first), ties broken by the
key itself, and dealt greedily to the least-loaded shard (longest-processing-time first,
LPT), among the shards with room: each shard takes ``contests // count`` contests, and the
first ``contests % count`` shards to fill up one more.  The assignment depends only on the
set of contests, never on the order the sweep lists them, and every job of a multirun
computes the same one from its own copy of the config: nothing measured enters it.

**The cost.**  A contest's predicted cost is the direct algorithm's flops of its pass (at
least one) times its entrants: what dominates a contest when its calls are long.  Under
exploratory timing a contest's fixed work (its predictions, the oracle, the minimum
sampling time of every cell) dominates instead (resnet18's contests took 3 to 50 s with
flops 0.1 to 3.8 GFLOP, unrelated), and that grows with the number of contests, not their
flops: the room per shard balances that part, LPT the flops.  Both are needed: a flops-only
deal gives one shard the few large layers and another every small one (12 and 21 contests
on resnet18's three passes with 2 shards; 1 and 26 on plan_grid with 4); a count-only deal
ignores a 40x spread in flops.  On the sweeps in ``conf/sweep/`` the heaviest shard's
predicted cost stays within 25% of the lower bound ``max(total / count, largest contest)``,
or of the optimum where that bound cannot be reached (``tests/test_scaleout.py``).  The
cost shapes only the balance, never which contests run.
"""
from __future__ import annotations

import hashlib

from strategies.passes import PASS_QUANTITIES

from . import oracle


def stable_key(contest) -> str:
    """A hash of what the contest measures: geometry, pass, thread budget (see the module docstring)."""
    s = contest.shape
    geometry = f"{s.N},{s.C},{s.H},{s.W},{s.F},{s.HH},{s.WW},{s.stride},{s.pad}"
    return hashlib.sha1(f"{geometry}|{contest.pass_}|{contest.threads}".encode()).hexdigest()


def predicted_cost(contest, entrants: int) -> float:
    """Relative cost of a contest: direct flops of its pass (at least 1) times its entrants."""
    return float(max(oracle.flops(contest.shape, PASS_QUANTITIES[contest.pass_]), 1) * entrants)


def assign(contests: list, count: int, entrants: int) -> dict[str, int]:
    """stable key -> shard index: capped LPT by predicted cost (see the module docstring)."""
    if count < 1:
        raise ValueError(f"count must be >= 1 shard; got {count}")
    groups: dict[str, list] = {}
    for contest in contests:
        groups.setdefault(stable_key(contest), []).append(contest)
    cost = {key: sum(predicted_cost(c, entrants) for c in group) for key, group in groups.items()}
    least, extra = divmod(len(contests), count)      # every shard gets `least` contests, `extra` of them one more
    loads, sizes, out = [0.0] * count, [0] * count, {}
    for key in sorted(groups, key=lambda k: (-cost[k], k)):
        room = [least + 1 if sizes[i] > least or sum(s > least for s in sizes) < extra else least
                for i in range(count)]
        open_ = [i for i in range(count) if sizes[i] + len(groups[key]) <= room[i]] or list(range(count))
        shard = min(open_, key=lambda i: (loads[i], sizes[i], i))
        loads[shard] += cost[key]
        sizes[shard] += len(groups[key])
        out[key] = shard
    return out


def shard_loads(contests: list, count: int, entrants: int) -> list[float]:
    """Each shard's predicted cost under :func:`assign` (what the balance is judged by)."""
    shards, loads = assign(contests, count, entrants), [0.0] * count
    for contest in contests:
        loads[shards[stable_key(contest)]] += predicted_cost(contest, entrants)
    return loads


def shard_jobs(contests: list, settings) -> list:
    """This run's shard (``shard.index`` of ``shard.count``) of ``contests``, in their order."""
    index, count = settings.shard
    if count == 1:
        return contests
    shards = assign(contests, count, len(settings.variants))
    return [c for c in contests if shards[stable_key(c)] == index]
