"""Apron backgrounds: concrete slabs and joints, stains, stand markings, grass, asphalt,
buildings, vehicles and jet bridges. All sizes in metres, converted with the canvas GSD.
"""

from __future__ import annotations

import itertools
from functools import cache

import numpy as np
import shapely
from scipy import ndimage

from dwelltime.synth.raster import blend, coverage

_BANK_PX = 1024
_BANK_GSD_M = 0.5
VEHICLE_COLOURS = np.array(
    [[0.9, 0.9, 0.9], [0.85, 0.7, 0.1], [0.7, 0.15, 0.1], [0.25, 0.25, 0.25], [0.2, 0.35, 0.6]]
)


@cache
def noise_bank() -> np.ndarray:
    """Fixed multi-octave value-noise fields (4, 1024, 1024) float32 in ~[-1, 1], 0.5 m/px."""
    rng = np.random.default_rng(20230731)
    bank = np.zeros((4, _BANK_PX, _BANK_PX), np.float32)
    for k in range(4):
        for cells, weight in ((8, 1.0), (32, 0.5), (128, 0.25), (512, 0.12)):
            coarse = rng.standard_normal((cells, cells)).astype(np.float32)
            fine = ndimage.zoom(coarse, _BANK_PX / cells, order=1, mode="grid-wrap", grid_mode=True)
            bank[k] += weight * fine
        bank[k] /= np.abs(bank[k]).max()
    return bank


def noise_field(
    rng: np.random.Generator, shape: tuple[int, int], gsd_m: float, scale: float = 1.0
) -> np.ndarray:
    """A (H, W) crop of the noise bank with features sized in metres (``scale`` stretches them)."""
    bank = noise_bank()[rng.integers(4)]
    step = gsd_m / (_BANK_GSD_M * scale)
    r = (rng.integers(_BANK_PX) + np.arange(shape[0]) * step).astype(np.int64) % _BANK_PX
    c = (rng.integers(_BANK_PX) + np.arange(shape[1]) * step).astype(np.int64) % _BANK_PX
    return bank[np.ix_(r, c)]


def _line(p0: np.ndarray, p1: np.ndarray, width_px: float) -> np.ndarray:
    d = p1 - p0
    n = np.array([-d[1], d[0]]) / (np.hypot(*d) + 1e-9) * width_px / 2
    return np.array([p0 + n, p1 + n, p1 - n, p0 - n])


def _rotated_rect(cx: float, cy: float, w: float, h: float, angle: float) -> np.ndarray:
    c, s = np.cos(angle), np.sin(angle)
    corners = np.array([(-w, -h), (w, -h), (w, h), (-w, h)]) / 2
    return corners @ np.array([[c, s], [-s, c]]) + np.array([cx, cy])


def concrete(rng: np.random.Generator, shape: tuple[int, int], gsd_m: float) -> np.ndarray:
    """Apron concrete (H, W, 3) float32: slab grid with joints, per-slab tone, stains."""
    h, w = shape
    tint = (np.array([1.0, 1.0, 1.0]) + rng.uniform(-0.025, 0.025, 3)).astype(np.float32)
    base = rng.uniform(0.45, 0.72)
    slab = np.float32(rng.uniform(5.0, 7.5) / gsd_m)
    angle = rng.choice([0.0, rng.uniform(0, np.pi)])
    rows = np.arange(h, dtype=np.float32)[:, None] / slab
    cols = np.arange(w, dtype=np.float32)[None, :] / slab
    c, s = np.float32(np.cos(angle)), np.float32(np.sin(angle))
    u = cols * c + rows * s
    v = rows * c - cols * s
    iu, iv = np.floor(u), np.floor(v)
    table = rng.uniform(-0.5, 0.5, (64, 64)).astype(np.float32)
    tone = base * (1 + 0.05 * table[iu.astype(np.int32) % 64, iv.astype(np.int32) % 64])
    # distance to the nearest joint, in slab units; joints ~0.25 m wide
    edge = np.minimum(np.minimum(u - iu, 1 - (u - iu)), np.minimum(v - iv, 1 - (v - iv)))
    joint_w = np.float32(max(0.25 / gsd_m, 0.35) / slab)
    # joints fade out where slabs are only a few pixels wide (they would alias)
    contrast = 0.15 * np.clip((slab - 3) / 6, 0, 1)
    tone = tone * (1 - contrast * np.clip(1 - edge / joint_w, 0, 1))
    stains = noise_field(rng, shape, gsd_m, scale=rng.uniform(0.5, 3.0))
    tone = tone * (1 - rng.uniform(0.05, 0.25) * np.clip(stains, 0, 1))
    tone = tone * (1 + 0.04 * noise_field(rng, shape, gsd_m, scale=0.1))
    return tone[..., None] * tint


def grass(rng: np.random.Generator, shape: tuple[int, int], gsd_m: float) -> np.ndarray:
    """Grass (H, W, 3): green to dry brown, patchy, with mowing stripes now and then."""
    green = np.array([0.32, 0.42, 0.22]) * rng.uniform(0.8, 1.2)
    dry = np.array([0.5, 0.47, 0.33]) * rng.uniform(0.8, 1.1)
    mix = np.clip(
        0.5 + 0.6 * noise_field(rng, shape, gsd_m, scale=2.0) + rng.uniform(-0.4, 0.4), 0, 1
    )
    tex = 1 + 0.12 * noise_field(rng, shape, gsd_m, scale=0.15)
    out = (green * (1 - mix[..., None]) + dry * mix[..., None]) * tex[..., None]
    return out.astype(np.float32)


def _paint_polys(
    rgb: np.ndarray, polys: list[np.ndarray], colour: np.ndarray, opacity: float = 1.0
) -> None:
    cov = coverage(polys, rgb.shape[:2], supersample=2)
    if cov is not None:
        blend(rgb, cov[0] * opacity, cov[1], colour.astype(np.float32))


def markings(rng: np.random.Generator, rgb: np.ndarray, gsd_m: float) -> None:
    """Yellow taxi/stand lead-in lines (some with tyre marks), white lines, lead-in arcs."""
    h, w = rgb.shape[:2]
    yellow = np.array([0.85, 0.7, 0.15]) * rng.uniform(0.7, 1.05)
    width = max(0.2 / gsd_m, 0.3)
    for _ in range(rng.integers(0, 5)):
        p0 = rng.uniform(0, 1, 2) * (w, h)
        ang = rng.uniform(0, 2 * np.pi)
        p1 = p0 + np.array([np.cos(ang), np.sin(ang)]) * max(h, w) * rng.uniform(0.3, 1.2)
        colour = yellow if rng.random() < 0.75 else np.array([0.9, 0.9, 0.88])
        if rng.random() < 0.5:  # rubber and oil smeared along the line by taxiing aircraft
            tyre = _line(p0, p1, rng.uniform(2.5, 6.0) / gsd_m)
            _paint_polys(rgb, [tyre], np.array([0.2, 0.2, 0.2]), rng.uniform(0.08, 0.25))
        _paint_polys(rgb, [_line(p0, p1, width)], colour, rng.uniform(0.5, 0.95))
    for _ in range(rng.integers(0, 3)):  # stand lead-in arcs
        centre = rng.uniform(0, 1, 2) * (w, h)
        radius = rng.uniform(15, 40) / gsd_m
        t = np.linspace(rng.uniform(0, 2 * np.pi), 0, 12) + rng.uniform(0.8, 1.6)
        pts = centre + radius * np.stack([np.cos(t), np.sin(t)], 1)
        _paint_polys(rgb, [_line(a, b, width) for a, b in itertools.pairwise(pts)], yellow, 0.8)


def distractors(
    rng: np.random.Generator,
    rgb: np.ndarray,
    gsd_m: float,
    shadow_dir: np.ndarray,
    keep_out: shapely.Geometry | None = None,
) -> None:
    """Buildings, vehicles, jet bridges (``shadow_dir``: pixel offset of a 1 m high point);
    none is drawn where it would touch ``keep_out`` (pixels, e.g. the aircraft footprints)."""
    h, w = rgb.shape[:2]

    def _box_with_shadow(poly: np.ndarray, colour: np.ndarray, shadow: np.ndarray) -> None:
        if keep_out is not None and shapely.Polygon(poly).intersects(keep_out):
            return
        _paint_polys(rgb, [poly + shadow], np.zeros(3), 0.45)
        _paint_polys(rgb, [poly], colour)

    hectares = h * w * gsd_m**2 / 10_000
    for _ in range(rng.poisson(0.08 * hectares)):  # buildings / hangars
        bw, bh = rng.uniform(20, 120, 2) / gsd_m
        poly = _rotated_rect(
            rng.uniform(0, w), rng.uniform(0, h), bw, bh, rng.choice([0.0, rng.uniform(0, np.pi)])
        )
        roof = np.full(3, rng.uniform(0.45, 0.95)) + rng.uniform(-0.05, 0.05, 3)
        _box_with_shadow(poly, roof, shadow_dir * rng.uniform(5, 15))
    for _ in range(rng.poisson(0.15 * hectares)):  # jet bridges: long thin boxes with a rotunda
        length, width = rng.uniform(15, 40) / gsd_m, rng.uniform(2.5, 3.5) / gsd_m
        ang = rng.uniform(0, np.pi)
        cx, cy = rng.uniform(0, w), rng.uniform(0, h)
        poly = _rotated_rect(cx, cy, length, width, ang)
        colour = np.full(3, rng.uniform(0.55, 0.85))
        _box_with_shadow(poly, colour, shadow_dir * 5)
        end = np.array([cx, cy]) + np.array([np.cos(ang), np.sin(ang)]) * length / 2
        _box_with_shadow(
            _rotated_rect(*end, width * 1.6, width * 1.6, ang), colour * 0.9, shadow_dir * 5
        )
    for _ in range(rng.poisson(0.9 * hectares)):  # tugs, buses, fuel trucks, cars
        length = rng.choice([2.5, 4.5, 8.0, 12.0]) * rng.uniform(0.8, 1.2)
        poly = _rotated_rect(
            rng.uniform(0, w), rng.uniform(0, h), length / gsd_m, 2.4 / gsd_m, rng.uniform(0, np.pi)
        )
        colour = VEHICLE_COLOURS[rng.integers(len(VEHICLE_COLOURS))]
        _box_with_shadow(poly, colour * rng.uniform(0.8, 1.1), shadow_dir * 2.5)


def apron_background(
    rng: np.random.Generator,
    shape: tuple[int, int],
    gsd_m: float,
    shadow_dir: np.ndarray,
    *,
    clutter: bool = True,
    keep_out: shapely.Geometry | None = None,
) -> np.ndarray:
    """A random apron scene without aircraft, (H, W, 3) float32 in [0, 1]; ``clutter=False``:
    concrete and markings only (no grass edge, buildings, bridges or vehicles); ``keep_out``:
    pixel area where no distractor may stand (see :func:`distractors`)."""
    rgb = concrete(rng, shape, gsd_m)
    h, w = shape
    # grass or asphalt taking part of the view behind a straight edge
    if clutter and rng.random() < 0.5:
        ang = rng.uniform(0, 2 * np.pi)
        rows, cols = np.mgrid[0:h, 0:w].astype(np.float32)
        d = (
            (cols - w / 2) * np.cos(ang)
            + (rows - h / 2) * np.sin(ang)
            - rng.uniform(0.1, 0.5) * max(h, w)
        )
        inside = np.clip(d, 0, 1)[..., None]
        other = (
            grass(rng, shape, gsd_m) if rng.random() < 0.7 else concrete(rng, shape, gsd_m) * 0.65
        )
        rgb = rgb * (1 - inside) + other * inside
    markings(rng, rgb, gsd_m)
    if clutter:
        distractors(rng, rgb, gsd_m, shadow_dir, keep_out)
    return rgb
