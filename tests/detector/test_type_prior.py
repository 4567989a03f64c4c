"""Type from CNN probabilities and the size prior."""

from __future__ import annotations

import numpy as np
import pytest

from dwelltime.detector.types import assign_types, size_class, size_sigma_m

CLASSES = ["IL62", "T204", "unknown"]
DIMS = {"IL62": (53.12, 43.2), "T204": (46.14, 41.8)}
FLAT = np.array([[1 / 3, 1 / 3, 1 / 3]])


@pytest.mark.parametrize(
    ("length", "span", "expected"), [(53.0, 43.0, "IL62"), (46.0, 42.0, "T204")]
)
def test_size_separates_il62_from_tu204(length, span, expected):
    types, probs = assign_types(FLAT, np.array([length]), np.array([span]), CLASSES, DIMS)
    assert types[0] == expected and probs[0] > 0.8


def test_a_size_that_fits_no_type_is_unknown():
    types, _ = assign_types(FLAT, np.array([20.0]), np.array([18.0]), CLASSES, DIMS)
    assert types[0] == "unknown"


def test_cnn_evidence_counts_when_sizes_are_ambiguous():
    cnn = np.array([[0.1, 0.85, 0.05]])
    types, _ = assign_types(cnn, np.array([49.5]), np.array([42.5]), CLASSES, DIMS)
    assert types[0] == "T204"


def test_coarse_source_imagery_is_not_typed():
    types, probs = assign_types(
        FLAT, np.array([53.0]), np.array([43.0]), CLASSES, DIMS, source_gsd_m=2.0
    )
    assert types[0] == "unknown" and 0.0 <= probs[0] <= 1.0


def test_no_detections_no_types():
    types, probs = assign_types(np.zeros((0, 3)), np.zeros(0), np.zeros(0), CLASSES, DIMS)
    assert len(types) == 0 and len(probs) == 0


def test_sigma_grows_with_gsd_and_size_classes():
    assert size_sigma_m(None) == size_sigma_m(0.5) == pytest.approx(2.69, abs=0.01)
    assert size_sigma_m(0.3) < size_sigma_m(1.0) < size_sigma_m(3.0) == pytest.approx(6.5, abs=0.01)
    assert list(size_class(np.array([20.0, 45.0, 70.0]), np.array([25.0, 30.0, 60.0]))) == [
        "small",
        "medium",
        "large",
    ]
