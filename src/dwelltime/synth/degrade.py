"""Sensor and delivery effects: optics blur, resampling, noise, haze, colour, JPEG."""

from __future__ import annotations

import io
from functools import cache

import numpy as np
from PIL import Image, ImageEnhance, ImageFilter

#: Optics blur (σ, coarse pixels) that real imagery made coarse for evaluation and mining gets:
#: a soft satellite's (:func:`coarsen`).
COARSE_SENSOR_BLUR_PX = 0.6

#: Range of the Gaussian optics blur (σ, pixels of the source grid) drawn for training imagery.
OPTICS_BLUR_PX = (0.3, 1.1)


def to_uint8(rgb: np.ndarray) -> np.ndarray:
    """Float [0, 1] → uint8."""
    return (np.clip(rgb, 0, 1) * 255 + 0.5).astype(np.uint8)


def sharpen(rgb8: np.ndarray, amount: float) -> np.ndarray:
    """Unsharp masking like a provider's pan-sharpening/MTF compensation (``amount`` percent)."""
    img = Image.fromarray(rgb8).filter(ImageFilter.UnsharpMask(radius=1.5, percent=int(amount)))
    return np.asarray(img)


def blur_and_resample(rgb8: np.ndarray, size: tuple[int, int], blur_px: float) -> np.ndarray:
    """Gaussian optics blur (``blur_px`` source pixels) and resampling to ``size`` (W, H).

    The blur runs on the smaller of the two grids (its radius scaled to that grid): blurring
    then shrinking and shrinking then blurring agree closely, and the small grid is cheaper.
    """
    img = Image.fromarray(rgb8)
    scale = size[0] / img.size[0]
    down = scale < 1
    if down:
        img = img.resize(size, Image.Resampling.LANCZOS)
    radius = blur_px * (scale if down else 1.0)
    if radius > 0.05:
        img = img.filter(ImageFilter.GaussianBlur(radius))
    if img.size != size:
        img = img.resize(size, Image.Resampling.BICUBIC)
    return np.asarray(img)


def coarsen(rgb8: np.ndarray, gsd_m: float, coarse_gsd_m: float, blur_px: float) -> np.ndarray:
    """An (H, W, 3) uint8 image of ``gsd_m`` metres/pixel as a coarser sensor would have taken
    it: resampled to ``coarse_gsd_m`` with a Gaussian optics blur of ``blur_px`` coarse pixels
    (real imagery made into labelled coarse imagery, e.g. Pléiades 0.5 m into 3 m)."""
    factor = gsd_m / coarse_gsd_m
    size = (max(1, round(rgb8.shape[1] * factor)), max(1, round(rgb8.shape[0] * factor)))
    return blur_and_resample(rgb8, size, blur_px / factor)


def jpeg(rgb8: np.ndarray, quality: int) -> np.ndarray:
    """Round-trip through JPEG at ``quality`` (compression artefacts)."""
    buf = io.BytesIO()
    Image.fromarray(rgb8).save(buf, format="JPEG", quality=int(quality))
    buf.seek(0)
    return np.asarray(Image.open(buf).convert("RGB"))


@cache
def _noise_tile() -> np.ndarray:
    """A fixed (1024, 1024, 3) standard-normal field; chips take random crops of it."""
    return np.random.default_rng(7).standard_normal((1024, 1024, 3), dtype=np.float32)


def radiometry(rng: np.random.Generator, rgb8: np.ndarray) -> np.ndarray:
    """Random saturation, colour balance, gamma, brightness, haze and sensor noise on uint8
    RGB (H, W, 3).

    Saturation and the pointwise part (one 256-entry lookup table per band) run in PIL; noise
    is a random crop of a fixed normal field (tiled for images over 1024²).
    """
    img = ImageEnhance.Color(Image.fromarray(rgb8)).enhance(rng.uniform(0.6, 1.15))
    levels = np.arange(256) / 255
    gain = rng.uniform(0.94, 1.06, 3) * rng.uniform(0.75, 1.2)
    gamma = rng.uniform(0.8, 1.25)
    haze = rng.uniform(0, 0.3) if rng.random() < 0.5 else 0.0
    hazy = (0.78, 0.8, 0.85)
    lut = np.concatenate(
        [(np.clip(levels * gain[k], 0, 1) ** gamma * (1 - haze) + haze * hazy[k]) for k in range(3)]
    )
    out = np.asarray(img.point((lut * 255 + 0.5).astype(np.uint8).tolist()), dtype=np.float32)
    h, w = rgb8.shape[:2]
    tile = _noise_tile()
    reps = (-(-h // tile.shape[0]), -(-w // tile.shape[1]), 1)
    if reps != (1, 1, 1):
        tile = np.tile(tile, reps)
    r0 = rng.integers(tile.shape[0] - h + 1)
    c0 = rng.integers(tile.shape[1] - w + 1)
    out += tile[r0 : r0 + h, c0 : c0 + w] * np.float32(rng.uniform(0.5, 6.5))
    return np.clip(out + 0.5, 0, 255).astype(np.uint8)
