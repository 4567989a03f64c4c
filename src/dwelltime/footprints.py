"""Oriented aircraft footprints as arrays: length × span rectangles from centre and heading,
the inverse, and enclosing axis-aligned boxes (of the rectangle, or of the aircraft's cross).

Corners go nose-left, nose-right, tail-right, tail-left (clockwise on screen for pixel
coordinates, where rows grow downwards), so the edge from corner 0 to corner 1 is the nose side:
the DOTA convention that the first point starts the object's head. Units are those of the
caller (pixels or metres); headings are degrees clockwise from up (image up or grid north).
``y_down=True`` is a pixel frame (column, row), ``False`` a map frame (x east, y north).
"""

from __future__ import annotations

import numpy as np


def frame_axes(heading_deg: np.ndarray, *, y_down: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Unit vectors (..., 2) of the nose direction and of the right (starboard) wing of
    aircraft heading ``heading_deg`` (degrees clockwise from up) in the frame."""
    h = np.radians(np.asarray(heading_deg, dtype=float))
    sin, cos = np.sin(h), np.cos(h)
    nose = np.stack([sin, -cos if y_down else cos], axis=-1)
    right = np.stack([cos, sin if y_down else -sin], axis=-1)
    return nose, right


def direction_heading(direction: np.ndarray, *, y_down: bool = True) -> np.ndarray:
    """Heading (degrees clockwise from up, in [0, 360)) of direction vectors (..., 2); the
    inverse of the nose vector of :func:`frame_axes`."""
    d = np.asarray(direction, dtype=float)
    up = -d[..., 1] if y_down else d[..., 1]
    return np.degrees(np.arctan2(d[..., 0], up)) % 360.0


def footprint_corners(
    cx: np.ndarray,
    cy: np.ndarray,
    length: np.ndarray,
    span: np.ndarray,
    heading_deg: np.ndarray,
    *,
    y_down: bool = True,
) -> np.ndarray:
    """Corners (N, 4, 2) of rectangles ``length`` along the heading and ``span`` across it,
    centred on (``cx``, ``cy``), nose-left first."""
    fwd, right = frame_axes(np.asarray(heading_deg, dtype=float).reshape(-1), y_down=y_down)
    centre = np.stack([np.asarray(cx, float), np.asarray(cy, float)], axis=-1).reshape(-1, 2)
    half_l = np.asarray(length, float).reshape(-1, 1) / 2
    half_s = np.asarray(span, float).reshape(-1, 1) / 2
    return np.stack(
        [
            centre + fwd * half_l - right * half_s,
            centre + fwd * half_l + right * half_s,
            centre - fwd * half_l + right * half_s,
            centre - fwd * half_l - right * half_s,
        ],
        axis=1,
    )


def corner_attributes(
    corners: np.ndarray, *, y_down: bool = True
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Inverse of :func:`footprint_corners`: ``(cx, cy, length, span, heading_deg)``.

    Length is the mean of the side edges (1→2, 3→0), span the mean of the front and rear edges;
    the heading points from the centre to the middle of the front edge (0→1), in [0, 360).
    """
    c = np.asarray(corners, dtype=float).reshape(-1, 4, 2)
    centre = c.mean(axis=1)
    side = (
        np.linalg.norm(c[:, 2] - c[:, 1], axis=1) + np.linalg.norm(c[:, 0] - c[:, 3], axis=1)
    ) / 2
    front = (
        np.linalg.norm(c[:, 1] - c[:, 0], axis=1) + np.linalg.norm(c[:, 3] - c[:, 2], axis=1)
    ) / 2
    heading = direction_heading((c[:, 0] + c[:, 1]) / 2 - centre, y_down=y_down)
    return centre[:, 0], centre[:, 1], side, front, heading


def box_corners(xyxy: np.ndarray) -> np.ndarray:
    """Corners (N, 4, 2) of axis-aligned boxes (N, 4) given as x0, y0, x1, y1: (x0, y0),
    (x1, y0), (x1, y1), (x0, y1)."""
    b = np.asarray(xyxy, dtype=float).reshape(-1, 4)
    lo, hi = b[:, :2], b[:, 2:]
    return np.stack(
        [lo, np.stack([hi[:, 0], lo[:, 1]], -1), hi, np.stack([lo[:, 0], hi[:, 1]], -1)], axis=1
    )


def axis_aligned(corners: np.ndarray) -> np.ndarray:
    """The axis-aligned box (N, 4, 2) that encloses each polygon, same corner count."""
    c = np.asarray(corners, dtype=float).reshape(-1, 4, 2)
    return box_corners(np.concatenate([c.min(axis=1), c.max(axis=1)], axis=1))


def clip_boxes(boxes: np.ndarray, width: float, height: float) -> np.ndarray:
    """Axis-aligned boxes (N, 4, 2) cut to the image frame ``[0, width] × [0, height]`` pixels,
    as a label drawn on the image is: an aircraft cut by the edge is boxed up to the edge."""
    b = np.asarray(boxes, dtype=float).reshape(-1, 4, 2)
    return np.stack([b[..., 0].clip(0, width), b[..., 1].clip(0, height)], axis=-1)


def cross_boxes(corners: np.ndarray) -> np.ndarray:
    """The axis-aligned box (N, 4, 2) enclosing each footprint's fuselage and wing, the two
    lines through its centre that join the mid-points of opposite sides: the box a tight
    annotation draws around a real aircraft (a rotated length × span rectangle's own box is
    up to twice as wide at 45°). For an axis-aligned rectangle it is the rectangle."""
    c = np.asarray(corners, dtype=float).reshape(-1, 4, 2)
    mids = (c + np.roll(c, -1, axis=1)) / 2  # mid-points of the four sides
    return axis_aligned(mids)
