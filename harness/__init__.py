"""convbench's harness: measures strategies against the oracle and turns the measurements into answers.

The core, flat here:

    config, settings     the config schema (Hydra structured configs) and its validation
    experiment, sweep    a run: fresh, resumed or twice (stability); the sweep loop
    contest, cell        one contest (every entrant of one shape, pass, thread budget) and its cells
    checks, oracle       the contract checked on every result, and the float64 judge
    predict, load_guard  the cell-time predictor; re-measuring contests the machine disturbed
    isolation, watchdog  where contests run (here or in children), time limits and signals
    inputs, variants     a shape's read-only inputs; strategy specs and who races whom
    records, runfolder   results.csv and phases.csv, whole or absent; lock, JSON files, markers
    schema, summary      the one schema of every table; summary, winners and ties
    roofline, shards     roofline seconds from costs and ceilings; sweeps split into shards
    compare, report      two runs compared; the command for run folders (python -m harness.report)

Rooms below it: ``measure/`` (timing, memory, allocator, ceilings, environment, load,
cpus), ``plots/`` (figures and report.md), ``sweeps/`` (sweep files, layers from a model).
They never import the core.  Only ``run.py`` knows Hydra.
"""
