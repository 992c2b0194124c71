"""A/B comparison of two runs over the same replay: statistics with bootstrap intervals, report.json and report.html.

The statistics are pure over run outputs and aggregated counts (compare, render,
runs, stats never import flows): command.py runs the two evaluations of
`storywire ab` and hands their folders to them, and spark/ab_report.py feeds the
same statistics from Parquet exports.
"""

from abtest.compare import AbCounts, VariantCounts, build_report, counts_from_runs
from abtest.render import summary, write_report
from abtest.runs import RunView

__all__ = ["AbCounts", "RunView", "VariantCounts", "build_report", "counts_from_runs", "summary", "write_report"]
