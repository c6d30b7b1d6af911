"""Evaluation of a trained run: metrics, rollouts, controllability, the report."""
