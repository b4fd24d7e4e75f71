"""Deterministic, seeded generator of labelled sample documents for training and evaluation."""
