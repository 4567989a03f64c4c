"""Frame axes and headings of oriented footprints (corners: tests/evaluation/test_geometry.py,
tests/detector/test_footprints.py)."""

from __future__ import annotations

import numpy as np
import pytest

from dwelltime.footprints import direction_heading, footprint_corners, frame_axes


def test_axes_of_heading_zero_and_ninety_in_pixel_and_map_frames():
    nose, right = frame_axes(np.array([0.0, 90.0]))
    np.testing.assert_allclose(nose, [[0, -1], [1, 0]], atol=1e-12)  # up = smaller row
    np.testing.assert_allclose(right, [[1, 0], [0, 1]], atol=1e-12)
    nose, right = frame_axes(np.array([0.0, 90.0]), y_down=False)
    np.testing.assert_allclose(nose, [[0, 1], [1, 0]], atol=1e-12)  # up = north
    np.testing.assert_allclose(right, [[1, 0], [0, -1]], atol=1e-12)


@pytest.mark.parametrize("y_down", [True, False])
def test_direction_heading_inverts_the_nose_axis(y_down):
    headings = np.array([0.0, 30.0, 135.0, 270.0, 359.0])
    nose, _ = frame_axes(headings, y_down=y_down)
    np.testing.assert_allclose(direction_heading(3.0 * nose, y_down=y_down), headings)
    assert direction_heading(np.zeros((0, 2))).shape == (0,)


def test_scalar_centre_gives_one_footprint():
    corners = footprint_corners(5.0, 7.0, 4.0, 2.0, 0.0, y_down=False)
    assert corners.shape == (1, 4, 2)
    np.testing.assert_allclose(corners[0], [[4, 9], [6, 9], [6, 5], [4, 5]])
