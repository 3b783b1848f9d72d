"""The ticket-answer threshold: computed from negatives' best scores, clipped, and explained."""

from __future__ import annotations

import numpy as np

from retrieval.calibration import CEILING, FLOOR, MARGIN, UNCALIBRATED, best_scores, calibrate
from retrieval.index import TicketIndex


def test_the_bar_sits_just_above_almost_every_negative():
    negatives = np.linspace(0.1, 0.5, 101, dtype=np.float32)
    result = calibrate(negatives, np.array([0.9], np.float32))
    assert abs(result["min_score"] - (0.48 + MARGIN)) < 1e-3
    assert result["negatives"] == 101 and result["leave_one_out_q50"] == 0.9


def test_the_bar_stays_between_floor_and_ceiling():
    assert calibrate(np.zeros(10, np.float32), np.zeros(0, np.float32))["min_score"] == FLOOR
    assert calibrate(np.ones(10, np.float32), np.zeros(0, np.float32))["min_score"] == CEILING


def test_without_negatives_the_bar_is_the_uncalibrated_one():
    assert calibrate(np.zeros(0, np.float32), np.zeros(0, np.float32))["min_score"] == UNCALIBRATED


def test_leave_one_out_skips_each_tickets_own_vector():
    vectors = np.eye(3, dtype=np.float32)
    vectors[1] = [0.6, 0.8, 0]
    index = TicketIndex.build([10, 11, 12], vectors)
    assert np.allclose(best_scores(index, vectors, exclude_self=True), [0.6, 0.6, 0.0], atol=1e-6)
    assert np.allclose(best_scores(index, vectors), [1, 1, 1], atol=1e-6)
