"""Write training chips and DOTA label lines."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from dwelltime.synth.chips import Chip


def dota_line(polygon_px: np.ndarray, type_: str, difficult: bool) -> str:
    """``x1 y1 x2 y2 x3 y3 x4 y4 class difficult`` (pixels; corner 1 starts the nose edge)."""
    coords = " ".join(f"{v:.2f}" for v in np.asarray(polygon_px).reshape(-1))
    return f"{coords} {type_} {int(difficult)}"


def write_chip(chip: Chip, out: Path, name: str, fmt: str = "png") -> tuple[Path, Path]:
    """``out/images/<name>.<fmt>`` and ``out/labels/<name>.txt`` (DOTA, ``gsd:`` header,
    difficult = hidden by cloud or mostly outside the chip,
    :attr:`~dwelltime.synth.chips.AircraftLabel.difficult`). Returns both paths."""
    images, labels = out / "images", out / "labels"
    images.mkdir(parents=True, exist_ok=True)
    labels.mkdir(parents=True, exist_ok=True)
    image = images / f"{name}.{fmt}"
    Image.fromarray(chip.image).save(image)
    lines = [f"gsd:{chip.gsd_m:g}"] + [
        dota_line(lb.polygon_px, lb.type, lb.difficult) for lb in chip.labels
    ]
    label = labels / f"{name}.txt"
    label.write_text("\n".join(lines) + "\n")
    return image, label
