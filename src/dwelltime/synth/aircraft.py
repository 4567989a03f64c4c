"""Draw one aircraft (paint, cylinder shading, cast shadow) into an RGB canvas."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import numpy as np

from dwelltime.catalog import AircraftType
from dwelltime.footprints import frame_axes
from dwelltime.synth.planform import DETAIL_KINDS, Part, planform
from dwelltime.synth.raster import blend, coverage

_WHITES = np.array([[0.93, 0.93, 0.92], [0.88, 0.89, 0.9], [0.8, 0.81, 0.82], [0.95, 0.94, 0.9]])
_LIVERY = np.array(
    [
        [0.7, 0.12, 0.12], [0.1, 0.2, 0.55], [0.1, 0.45, 0.3], [0.85, 0.6, 0.1],
        [0.2, 0.22, 0.25], [0.55, 0.1, 0.35], [0.15, 0.5, 0.7], [0.6, 0.6, 0.62],
    ]
)  # fmt: skip
_MILITARY = np.array([[0.42, 0.45, 0.4], [0.5, 0.52, 0.55], [0.35, 0.38, 0.33]])


@dataclass(frozen=True)
class Sun:
    """Sun position: azimuth degrees clockwise from north, elevation degrees above horizon."""

    azimuth_deg: float
    elevation_deg: float

    def shadow_px(self, height_m: float, gsd_m: float) -> np.ndarray:
        """(col, row) pixel offset of the shadow of a point ``height_m`` above ground."""
        az = np.radians(self.azimuth_deg)
        d = height_m / np.tan(np.radians(self.elevation_deg)) / gsd_m
        return np.array([-np.sin(az) * d, np.cos(az) * d])


def random_paint(rng: np.random.Generator, t: AircraftType) -> dict[str, np.ndarray]:
    """Colours (RGB in [0, 1]) per planform part kind: white/grey bodies, liveries, cheat lines."""
    military = "military" in t.role or ("military transport" in t.role and rng.random() < 0.6)
    if military:
        body = _MILITARY[rng.integers(len(_MILITARY))] * rng.uniform(0.85, 1.15)
    elif rng.random() < 0.1:
        body = _LIVERY[rng.integers(len(_LIVERY))] * rng.uniform(0.8, 1.1)
    else:
        body = _WHITES[rng.integers(len(_WHITES))] * rng.uniform(0.92, 1.04)
    livery = _LIVERY[rng.integers(len(_LIVERY))]
    wing = np.clip(body * rng.uniform(0.72, 0.92) + rng.uniform(-0.03, 0.03), 0, 1)
    if rng.random() < 0.3:
        wing = np.full(3, rng.uniform(0.55, 0.75))
    if military or rng.random() < 0.5:
        engine = body * rng.uniform(0.8, 0.95)
    else:  # bare metal / grey nacelles
        engine = np.full(3, rng.uniform(0.5, 0.8))
    cheat = livery if rng.random() < 0.6 else body
    return {
        "fuselage": np.clip(body, 0, 1),
        "wing": wing,
        "tailplane": wing * rng.uniform(0.95, 1.05),
        "engine": np.clip(engine, 0, 1),
        "fin": livery if rng.random() < 0.7 else np.clip(body, 0, 1),
        "cheat": cheat,
        "prop": np.full(3, 0.12),
        "intake": np.clip(body * 0.6, 0, 1),
        "window": np.full(3, rng.uniform(0.08, 0.2)),
        "inlet": np.full(3, rng.uniform(0.15, 0.35)),
        "flap": np.clip(wing * rng.uniform(0.8, 0.9), 0, 1),
    }


def to_pixels(
    xy_m: np.ndarray, cx: float, cy: float, heading_deg: float, gsd_m: float
) -> np.ndarray:
    """Aircraft-frame metres (x starboard, y forward) → image (col, row) pixels.

    ``heading_deg`` is the nose direction clockwise from image up.
    """
    nose, right = frame_axes(heading_deg)
    return np.array([cx, cy]) + (xy_m[:, :1] * right + xy_m[:, 1:] * nose) / gsd_m


@cache
def _stacked_parts(t: AircraftType) -> tuple[np.ndarray, np.ndarray]:
    """All planform parts of ``t`` in one (N, 2) metre array, and where to split it per part."""
    parts = planform(t).parts
    return np.concatenate([p.xy for p in parts]), np.cumsum([len(p.xy) for p in parts])[:-1]


def _parts_px(t: AircraftType, place: tuple[float, float, float], gsd_m: float) -> list[np.ndarray]:
    """Each planform part's polygon in pixels (one frame transform for the whole aircraft)."""
    xy, splits = _stacked_parts(t)
    return np.split(to_pixels(xy, *place, gsd_m), splits)


def _shadow_polygons(
    t: AircraftType, place: tuple[float, float, float], sun: Sun, gsd_m: float
) -> list[np.ndarray]:
    plan = planform(t)
    polys = []
    for part, base in zip(plan.parts, _parts_px(t, place, gsd_m), strict=True):
        if part.kind in DETAIL_KINDS:
            continue
        for frac in (1.0, 0.5):
            polys.append(base + sun.shadow_px(part.height_m * frac, gsd_m))
    fin = plan.fin
    base = to_pixels(np.array([(0.0, fin.y_base[0]), (0.0, fin.y_base[1])]), *place, gsd_m)
    top = to_pixels(np.array([(0.0, fin.y_top[1]), (0.0, fin.y_top[0])]), *place, gsd_m)
    quad = np.concatenate(
        [base + sun.shadow_px(fin.h_base, gsd_m), top + sun.shadow_px(fin.h_top, gsd_m)]
    )
    polys.append(quad)
    return polys


def draw_shadow(
    rgb: np.ndarray,
    t: AircraftType,
    place: tuple[float, float, float],
    sun: Sun,
    gsd_m: float,
    strength: float,
) -> None:
    """Darken the ground under the aircraft's cast shadow (``strength`` in [0, 1])."""
    cov = coverage(_shadow_polygons(t, place, sun, gsd_m), rgb.shape[:2], supersample=2)
    if cov is None:
        return
    alpha, window = cov
    shade = 1.0 - strength * alpha[..., None] * np.array([1.0, 0.98, 0.94], dtype=np.float32)
    rgb[window] *= shade


def _cylinder_shade(
    window: tuple[slice, slice],
    place: tuple[float, float, float],
    sun: Sun,
    gsd_m: float,
    radius_m: float,
) -> np.ndarray:
    """Lambert shading plus a soft specular stripe (h, w, 1) of a horizontal cylinder along
    the heading."""
    cx, cy, heading = place
    rows = np.arange(window[0].start, window[0].stop, dtype=np.float32) + 0.5 - cy
    cols = np.arange(window[1].start, window[1].stop, dtype=np.float32) + 0.5 - cx
    h = np.radians(heading)
    lateral = (cols[None, :] * np.cos(h) + rows[:, None] * np.sin(h)) * gsd_m / radius_m
    lateral = np.clip(lateral, -0.98, 0.98)
    up = np.sqrt(1 - lateral**2)
    el, az = np.radians(sun.elevation_deg), np.radians(sun.azimuth_deg)
    sun_lat = np.sin(az - h) * np.cos(el)
    lambert = np.clip(lateral * sun_lat + up * np.sin(el), 0, 1)
    return (0.62 + 0.34 * lambert + 0.12 * lambert**12)[..., None].astype(np.float32)


def draw_aircraft(
    rgb: np.ndarray,
    ids: np.ndarray,
    instance: int,
    t: AircraftType,
    place: tuple[float, float, float],
    paint: dict[str, np.ndarray],
    sun: Sun,
    gsd_m: float,
    lean_px_per_m: np.ndarray | None = None,
    coverage_out: np.ndarray | None = None,
) -> None:
    """Paint ``t`` at ``place`` = (col, row, heading°) onto ``rgb`` (H, W, 3) float32 in [0, 1].

    ``ids`` (H, W) receives ``instance`` where the aircraft covers more than half a pixel.
    ``lean_px_per_m``: (col, row) image shift per metre of height (off-nadir view).
    ``coverage_out`` (H, W) float, if given, receives the max fractional pixel coverage.
    """
    shape = rgb.shape[:2]
    for part, poly in zip(planform(t).parts, _parts_px(t, place, gsd_m), strict=True):
        if lean_px_per_m is not None:
            poly = poly + lean_px_per_m * part.height_m
        cov = coverage([poly], shape, supersample=4)
        if cov is None:
            continue
        alpha, window = cov
        colour: np.ndarray = paint[part.kind].astype(np.float32)
        if part.kind in ("fuselage", "cheat"):
            colour = colour * _cylinder_shade(window, place, sun, gsd_m, t.fuselage_width_m / 2)
        elif part.kind in ("wing", "tailplane", "engine"):
            colour = colour * np.float32(0.8 + 0.2 * np.sin(np.radians(sun.elevation_deg)))
        blend(rgb, alpha * part.opacity, window, colour)
        if part.opacity == 1.0:
            ids[window][alpha > 0.5] = instance
            if coverage_out is not None:
                np.maximum(coverage_out[window], alpha, out=coverage_out[window])


__all__ = [
    "Part",
    "Sun",
    "draw_aircraft",
    "draw_shadow",
    "random_paint",
    "to_pixels",
]
