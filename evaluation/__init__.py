"""Scoring storywire: `storywire eval` (one labelled archive through the real flow, harness.py), the dev-set suite
beside the baselines (suite.py) and the summary a replay prints from its outputs (summary.py).

A tool around the service: it imports flows/ to run the flow; flows/ never imports it.
"""
