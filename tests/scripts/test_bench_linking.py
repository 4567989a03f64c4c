"""scripts/bench_linking.py's hand-made series."""

from __future__ import annotations

from dwelltime.linking import link_stays


def test_a_series_without_churn_is_one_stay_per_stand(script):
    detections, coverage = script("bench_linking").series(9, 3, 24.0, 0.0)
    stays = link_stays(detections, coverage)
    assert len(detections) == 27 and len(stays) == 9
    assert (stays["n_seen"] == 3).all()
