"""Sensor and delivery effects: optics blur, resampling, noise, haze, colour, JPEG."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image, ImageFilter


def to_uint8(rgb: np.ndarray) -> np.ndarray:
    """Float [0, 1] → uint8."""
    return (np.clip(rgb, 0, 1) * 255 + 0.5).astype(np.uint8)


def blur_and_resample(rgb8: np.ndarray, size: tuple[int, int], blur_px: float) -> np.ndarray:
    """Gaussian optics blur (``blur_px`` source pixels) then resample to ``size`` (W, H)."""
    img = Image.fromarray(rgb8)
    if blur_px > 0.05:
        img = img.filter(ImageFilter.GaussianBlur(blur_px))
    if img.size != size:
        down = img.size[0] > size[0]
        img = img.resize(size, Image.Resampling.LANCZOS if down else Image.Resampling.BICUBIC)
    return np.asarray(img)


def jpeg(rgb8: np.ndarray, quality: int) -> np.ndarray:
    """Round-trip through JPEG at ``quality`` (compression artefacts)."""
    buf = io.BytesIO()
    Image.fromarray(rgb8).save(buf, format="JPEG", quality=int(quality))
    buf.seek(0)
    return np.asarray(Image.open(buf).convert("RGB"))


def radiometry(rng: np.random.Generator, rgb: np.ndarray) -> np.ndarray:
    """Random colour balance, gamma, brightness, haze and sensor noise on float [0, 1] RGB."""
    out = rgb * rng.uniform(0.94, 1.06, 3).astype(np.float32) * np.float32(rng.uniform(0.75, 1.2))
    out = np.clip(out, 0, 1) ** np.float32(rng.uniform(0.8, 1.25))
    haze = rng.uniform(0, 0.3) if rng.random() < 0.5 else 0.0
    if haze:
        out = out * np.float32(1 - haze) + np.float32(haze) * np.array(
            [0.78, 0.8, 0.85], np.float32
        )
    sigma = rng.uniform(0.002, 0.025)
    out = out + rng.standard_normal(out.shape, dtype=np.float32) * np.float32(sigma)
    return out
