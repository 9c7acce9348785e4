"""Experiment specs, the content-addressed results store, and the runner."""

from effconv.experiments.analyses import AnalysisContext, register_analysis
from effconv.experiments.report import StoredRuns, analysis, resolve, results_table, seed_summary
from effconv.experiments.runner import choose_profile, lookup, run_all, run_experiment
from effconv.experiments.spec import CODE_VERSION, ExperimentSpec
from effconv.experiments.store import ResultStore, read_result

__all__ = ["AnalysisContext", "CODE_VERSION", "ExperimentSpec", "ResultStore", "StoredRuns", "analysis", "choose_profile", "lookup",
           "read_result", "register_analysis", "resolve", "results_table", "run_all", "run_experiment", "seed_summary"]
