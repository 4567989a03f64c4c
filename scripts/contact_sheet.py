"""Write docs/contact_sheet.png: one synthetic chip per catalog type at 0.5 m, then a few at 1 m
and 3 m source GSD, each labelled with its ICAO designator.

Usage: python scripts/contact_sheet.py [--out docs/contact_sheet.png] [--seed 0]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from dwelltime.catalog import load_catalog
from dwelltime.synth.chips import compose_chip

CHIP_PX = 180
SHOWCASE = ("IL62", "T204", "IL76", "A148", "T154", "B738")


def chip(rng: np.random.Generator, icao: str, source_gsd_m: float) -> np.ndarray:
    """One aircraft, nose up-right, in the middle of a CHIP_PX chip at 0.5 m."""
    t = load_catalog()[icao]
    extent = CHIP_PX * 0.5
    image = compose_chip(
        rng, [(t, extent / 2, extent / 2, 30.0)], size_px=CHIP_PX, gsd_m=0.5,
        source_gsd_m=source_gsd_m, randomise=False, clutter=False,
    ).image  # fmt: skip
    img = Image.fromarray(image)
    draw = ImageDraw.Draw(img)
    text = icao if source_gsd_m == 0.5 else f"{icao} {source_gsd_m:g} m"
    draw.rectangle([0, 0, 8 + 7 * len(text), 14], fill=(0, 0, 0))
    draw.text((3, 1), text, fill=(255, 255, 0))
    return np.asarray(img)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path("docs/contact_sheet.png"))
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    names = list(SHOWCASE) + [n for n in sorted(load_catalog()) if n not in SHOWCASE]
    tiles = [chip(rng, n, 0.5) for n in names]
    tiles += [chip(rng, n, g) for g in (1.0, 3.0) for n in SHOWCASE]
    cols = 8
    rows = -(-len(tiles) // cols)
    sheet = np.zeros((rows * CHIP_PX, cols * CHIP_PX, 3), np.uint8)
    for i, tile in enumerate(tiles):
        r, c = divmod(i, cols)
        sheet[r * CHIP_PX : (r + 1) * CHIP_PX, c * CHIP_PX : (c + 1) * CHIP_PX] = tile
    args.out.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(sheet).save(args.out)
    print(f"wrote {args.out} ({len(tiles)} chips)")


if __name__ == "__main__":
    main()
