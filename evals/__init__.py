"""Accuracy of the reviewer on labelled corpora: `reviewer eval CORPUS` (see `evals.harness`)."""
