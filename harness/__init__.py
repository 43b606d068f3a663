"""Orchestration for convbench: the oracle, timing, sweeps, records and plots."""
