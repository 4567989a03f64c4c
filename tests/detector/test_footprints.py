"""Footprint corners and enclosing boxes."""

from __future__ import annotations

import numpy as np
import torch

from dwelltime.detector.geometry import cross_half_extents, enclosing_boxes
from dwelltime.footprints import footprint_corners


def test_corners_follow_the_synthetic_label_convention():
    # heading 90°: nose points to +column; nose-left corner is then up (smaller row)
    corners = footprint_corners(np.array([100.0]), np.array([50.0]), [40.0], [30.0], [90.0])[0]
    np.testing.assert_allclose(corners[0], [120.0, 35.0], atol=1e-9)  # nose-left
    np.testing.assert_allclose(corners[1], [120.0, 65.0], atol=1e-9)  # nose-right
    np.testing.assert_allclose(corners[2], [80.0, 65.0], atol=1e-9)  # tail-right
    np.testing.assert_allclose(corners[3], [80.0, 35.0], atol=1e-9)  # tail-left


def test_synth_label_polygon_matches_corners():
    from dwelltime.synth import render_chip

    chip = render_chip(np.random.default_rng(4), size_px=256, source_gsd_m=0.5, n_aircraft=(1, 1))
    lab = chip.labels[0]
    corners = footprint_corners(
        np.array([lab.cx_px]),
        np.array([lab.cy_px]),
        [lab.length_m / chip.gsd_m],
        [lab.wingspan_m / chip.gsd_m],
        [lab.heading_deg],
    )[0]
    np.testing.assert_allclose(corners, lab.polygon_px, atol=1e-6)


def test_enclosing_box_of_a_rotated_rectangle():
    t = lambda *v: torch.tensor(v, dtype=torch.float64)  # noqa: E731
    s, c = np.sin(np.deg2rad(30)), np.cos(np.deg2rad(30))
    box = enclosing_boxes(t(0.0), t(0.0), t(40.0), t(20.0), t(s), t(c))[0]
    corners = footprint_corners(np.array([0.0]), np.array([0.0]), [40.0], [20.0], [30.0])[0]
    np.testing.assert_allclose(box.numpy(), [*corners.min(0), *corners.max(0)], atol=1e-9)


def test_cross_extents_are_the_longer_arm_along_each_axis():
    t = lambda *v: torch.tensor(v, dtype=torch.float64)  # noqa: E731
    hw, hh = cross_half_extents(t(60.0, 60.0), t(40.0, 40.0), t(0.0, 1.0), t(1.0, 0.0))
    np.testing.assert_allclose(hw.numpy(), [20.0, 30.0])  # heading 0: wing across; 90: fuselage
    np.testing.assert_allclose(hh.numpy(), [30.0, 20.0])


def test_heading_from_the_axis_and_the_nose_direction():
    from dwelltime.detector.geometry import heading_from_axis

    h = torch.deg2rad(torch.tensor([10.0, 170.0, 250.0, 359.0]))
    rough_sin, rough_cos = 0.3 * h.sin(), 0.3 * h.cos()  # only the sign matters
    out = heading_from_axis((2 * h).sin(), (2 * h).cos(), rough_sin, rough_cos)
    np.testing.assert_allclose(out.numpy(), [10.0, 170.0, 250.0, 359.0], atol=1e-3)
