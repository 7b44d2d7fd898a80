"""Evaluating trained models of the protocol: exact likelihoods of data sets
(:func:`batched_log_prob`, :func:`mean_nll`) and the full report (:func:`evaluate`,
:func:`format_report`)."""

from ._likelihood import batched_log_prob, mean_nll
from ._report import evaluate, format_report

__all__ = ["batched_log_prob", "evaluate", "format_report", "mean_nll"]
