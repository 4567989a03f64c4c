"""Oriented footprints as tensors, for decoding and losses: headings from the doubled angle and
boxes enclosing length × span rectangles (corner arrays: :mod:`dwelltime.footprints`).

Pixel frames have rows growing downwards; a heading is clockwise from image up, so the nose
direction of heading h is (sin h, -cos h) in (column, row).
"""

from __future__ import annotations

import torch


def axis_direction(sin2: torch.Tensor, cos2: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(sin, cos) of the fuselage axis angle in [-90°, 90°) from the (unnormalised) sin and
    cos of twice the heading; the nose may point either way along it."""
    half = torch.atan2(sin2, cos2) / 2
    return torch.sin(half), torch.cos(half)


def heading_from_axis(
    sin2: torch.Tensor, cos2: torch.Tensor, sin: torch.Tensor, cos: torch.Tensor
) -> torch.Tensor:
    """Heading (degrees, [0, 360)): the fuselage axis from the doubled angle, turned towards
    the nose direction (sin, cos)."""
    axis_sin, axis_cos = axis_direction(sin2, cos2)
    flip = (axis_sin * sin + axis_cos * cos) < 0
    heading = torch.rad2deg(torch.atan2(axis_sin, axis_cos)) + 180.0 * flip
    return heading % 360.0


def cross_half_extents(
    length: torch.Tensor, span: torch.Tensor, sin: torch.Tensor, cos: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Half width and height of the axis-aligned box enclosing an aircraft seen as a cross
    (fuselage of ``length`` along the heading, wing of ``span`` across it), as a tight real
    box annotation draws it. Works on tensors so that a box loss can train length, span and
    heading."""
    s, c = sin.abs(), cos.abs()
    half_w = torch.maximum(length * s, span * c) / 2
    half_h = torch.maximum(length * c, span * s) / 2
    return half_w, half_h


def enclosing_boxes(
    cx: torch.Tensor,
    cy: torch.Tensor,
    length: torch.Tensor,
    span: torch.Tensor,
    sin: torch.Tensor,
    cos: torch.Tensor,
) -> torch.Tensor:
    """(N, 4) x0, y0, x1, y1 of the boxes enclosing the length × span rectangles."""
    s, c = sin.abs(), cos.abs()
    half_w = (length * s + span * c) / 2
    half_h = (length * c + span * s) / 2
    return torch.stack([cx - half_w, cy - half_h, cx + half_w, cy + half_h], dim=-1)
