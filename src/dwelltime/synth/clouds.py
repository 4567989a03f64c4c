"""Clouds and their shadows as opacity fields."""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from dwelltime.synth.background import noise_field

#: Cloud-base height (metres) used for cloud shadows.
CLOUD_HEIGHT_M = 900.0


def cloud_opacity(
    rng: np.random.Generator,
    shape: tuple[int, int],
    gsd_m: float,
    cover: float,
    boost: np.ndarray | None = None,
) -> np.ndarray:
    """Cloud opacity (H, W) float32 in [0, 1] covering about ``cover`` of the view.

    ``boost`` (H, W), added to the cloud field before thresholding, forces clouds where it is
    large (about 1 guarantees cloud).
    """
    coarse = (max(shape[0] // 8, 4), max(shape[1] // 8, 4))
    field = noise_field(rng, coarse, gsd_m * 8, scale=rng.uniform(2.0, 5.0))
    field = ndimage.gaussian_filter(field, 1.5)
    field = ndimage.zoom(field, (shape[0] / coarse[0], shape[1] / coarse[1]), order=1)
    field = np.pad(
        field,
        ((0, max(shape[0] - field.shape[0], 0)), (0, max(shape[1] - field.shape[1], 0))),
        mode="edge",
    )
    field = field[: shape[0], : shape[1]]
    field = field / (np.abs(field).max() + 1e-6)
    threshold = np.quantile(field, 1 - cover) if cover > 0 else 1.0
    if boost is not None:
        field = field + boost
    detail = 1 + 0.15 * noise_field(rng, shape, gsd_m, scale=0.6)
    soft = np.clip((field - threshold) / 0.12 * detail, 0, 1)
    return (soft * rng.uniform(0.85, 1.0)).astype(np.float32)


def apply_clouds(rgb: np.ndarray, opacity: np.ndarray, shadow_px: np.ndarray) -> np.ndarray:
    """Darken the ground under the shifted cloud (its shadow), then paint the cloud in white."""
    shade = ndimage.shift(opacity, (shadow_px[1], shadow_px[0]), order=0, mode="constant")
    out = rgb * (1 - 0.45 * shade[..., None])
    colour = np.array([0.97, 0.97, 0.98], np.float32)
    return out * (1 - opacity[..., None]) + colour * opacity[..., None]
