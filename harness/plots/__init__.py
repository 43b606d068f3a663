"""Figures and report.md of a run, as pure functions of its tables.

    style     the look every figure shares: colours, markers, titles, legends, log axes
    cells     per-cell dot figures: time, efficiency, accuracy, memory
    sweep     across a sweep: speedup heatmaps, scaling curves
    network   whole-network totals
    text      the console table, the verdict line, markdown tables
    report    report.md of one run (the figures in order, with captions)
    compare   two runs side by side

Modules here draw and write what they are given (a :class:`harness.plots.report.Run`);
they may import numpy, pandas, matplotlib, :mod:`strategies.passes` and each other,
never the harness core above them (which loads run folders and calls them).
"""
