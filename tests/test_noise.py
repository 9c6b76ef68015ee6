"""The known noise is filtered by its exact text; another warning or log line still appears,
and a warning once."""

from __future__ import annotations

import logging
import warnings

import pytest

from ctc.noise import NOISE_LOG_LINES, NOISE_WARNINGS, silence_known_noise


def test_known_warnings_go_and_another_still_appears_once() -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.resetwarnings()
        warnings.simplefilter("default")
        silence_known_noise()
        for _ in range(3):
            for text in NOISE_WARNINGS:
                warnings.warn(text + "\nmore detail", UserWarning, stacklevel=1)
            warnings.warn("a warning about the user's program", UserWarning, stacklevel=1)
    assert [str(w.message) for w in caught] == ["a warning about the user's program"]


def test_known_log_lines_go_and_others_stay(caplog: pytest.LogCaptureFixture) -> None:
    silence_known_noise()
    silence_known_noise()  # idempotent
    with caplog.at_level(logging.WARNING):
        for line in NOISE_LOG_LINES:
            logging.getLogger().warning(line)
        logging.getLogger().warning("initial_load_path is missing")
    assert [r.getMessage() for r in caplog.records] == ["initial_load_path is missing"]
