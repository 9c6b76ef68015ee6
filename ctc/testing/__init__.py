"""Helpers for tests and benchmarks that run real process groups on the CPU."""
