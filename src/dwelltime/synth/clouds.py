"""Clouds and their shadows as opacity fields."""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from dwelltime.synth.background import noise_field


def cloud_opacity(
    rng: np.random.Generator, shape: tuple[int, int], gsd_m: float, cover: float
) -> np.ndarray:
    """Cloud opacity (H, W) float32 in [0, 1] covering about ``cover`` of the view."""
    field = noise_field(rng, shape, gsd_m, scale=rng.uniform(1.5, 4.0))
    threshold = np.quantile(field, 1 - cover) if cover > 0 else np.inf
    soft = np.clip((field - threshold) / 0.15, 0, 1)
    return (soft * rng.uniform(0.85, 1.0)).astype(np.float32)


def apply_clouds(rgb: np.ndarray, opacity: np.ndarray, shadow_px: np.ndarray) -> np.ndarray:
    """Darken the ground under the shifted cloud (its shadow), then paint the cloud in white."""
    shade = ndimage.shift(opacity, (shadow_px[1], shadow_px[0]), order=0, mode="constant")
    out = rgb * (1 - 0.45 * shade[..., None])
    colour = np.array([0.97, 0.97, 0.98], np.float32)
    return out * (1 - opacity[..., None]) + colour * opacity[..., None]
