"""Training samples: synthetic chips (full oriented labels + type) and real box-labelled crops.

Each sample is ``(image, targets)``: a (3, S, S) uint8 tensor at the model GSD and the dense
targets of :func:`dwelltime.detector.targets.encode_targets`. Both sources are infinite
iterable datasets seeded per worker, so a run is reproducible from one seed.
"""

from __future__ import annotations

import argparse
import ast
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from PIL import Image
from torch.utils.data import IterableDataset, get_worker_info

from dwelltime.detector.targets import ImageLabels, encode_targets
from dwelltime.detector.types import MAX_TYPING_GSD_M, UNKNOWN

#: Where the Airbus aircraft sample lies on the development machines (the scripts' default).
AIRBUS_DEV_DIR = Path("/work/shared/data/real/airbus_dev")
#: Airbus sample sites held out for validation.
AIRBUS_VALIDATION_SITES: tuple[str, ...] = ("S03", "S13", "S21")

#: Source GSD range (metres, drawn log-uniformly) that ``BoxCrops(coarse_share=…)`` makes real
#: crops look as if taken at: labelled real aircraft as coarse sensors (PlanetScope 3 m) see them.
COARSE_GSD_RANGE_M = (1.0, 3.0)
#: How many times wider a window ``BoxCrops(zoom_out_share=…)`` shrinks into a crop (drawn
#: log-uniformly): real aircraft of 30-50 m then look 12-36 m long, business-jet sizes that
#: the training sites hardly hold.
ZOOM_OUT_RANGE = (1.4, 2.5)

Sample = tuple[torch.Tensor, dict[str, torch.Tensor]]


def _worker_rng(seed: int) -> np.random.Generator:
    info = get_worker_info()
    return np.random.default_rng([seed, 0 if info is None else info.id])


def synthetic_labels(chip, classes: Sequence[str]) -> ImageLabels:
    """Oriented labels of a rendered :class:`dwelltime.synth.Chip` (hidden aircraft ignored;
    type ``unknown`` when the chip's source GSD is too coarse to type)."""
    seen = [lab for lab in chip.labels if not lab.hidden]
    hidden = [lab.polygon_px for lab in chip.labels if lab.hidden]
    ignore = np.array([[*p.min(0), *p.max(0)] for p in hidden]).reshape(-1, 4)
    return ImageLabels.oriented(
        cx=np.array([lab.cx_px for lab in seen]),
        cy=np.array([lab.cy_px for lab in seen]),
        length_px=np.array([lab.length_m / chip.gsd_m for lab in seen]),
        span_px=np.array([lab.wingspan_m / chip.gsd_m for lab in seen]),
        heading_deg=np.array([lab.heading_deg for lab in seen]),
        type_index=type_indices(chip, seen, classes),
        ignore_xyxy=ignore,
    )


def type_indices(chip, labels: Sequence, classes: Sequence[str]) -> np.ndarray:
    """Index in ``classes`` of the type of each of ``labels`` (aircraft of the rendered
    ``chip``): ``unknown`` for a type not in ``classes``, and for all when the chip's source
    GSD is too coarse to type."""
    lookup = {c: i for i, c in enumerate(classes)}
    unknown = lookup[UNKNOWN]
    coarse = chip.source_gsd_m > MAX_TYPING_GSD_M
    return np.array([unknown if coarse else lookup.get(lab.type, unknown) for lab in labels])


class SyntheticChips(IterableDataset):
    """Endless rendered chips of ``size_px`` pixels at ``gsd_m`` (metres/pixel); ``small_share``
    of the aircraft are smaller than any catalog type (:func:`dwelltime.synth.render_chip`)."""

    def __init__(
        self,
        classes: Sequence[str],
        *,
        seed: int,
        size_px: int = 384,
        stride: int = 4,
        gsd_m: float = 0.5,
        small_share: float = 0.0,
    ) -> None:
        self.classes, self.seed, self.size_px = list(classes), seed, size_px
        self.stride, self.gsd_m, self.small_share = stride, gsd_m, small_share

    def sample(self, rng: np.random.Generator) -> Sample:
        """One chip and its targets."""
        from dwelltime.synth import render_chip

        chip = render_chip(
            rng, size_px=self.size_px, gsd_m=self.gsd_m, small_share=self.small_share
        )
        labels = synthetic_labels(chip, self.classes)
        targets = encode_targets(labels, size_px=(self.size_px,) * 2, stride=self.stride)
        return torch.from_numpy(np.array(chip.image)).permute(2, 0, 1).contiguous(), targets

    def __iter__(self) -> Iterator[Sample]:
        rng = _worker_rng(self.seed)
        while True:
            yield self.sample(rng)


@dataclass(frozen=True)
class BoxImage:
    """One real image with its axis-aligned aircraft boxes (x0, y0, x1, y1 pixels)."""

    path: Path
    site: str
    boxes: np.ndarray  # (N, 4) whole aircraft
    truncated: np.ndarray  # (M, 4) aircraft cut by the image edge: not supervised


def airbus_images(root: Path, *, validation: bool) -> list[BoxImage]:
    """The Airbus images of the validation sites (:data:`AIRBUS_VALIDATION_SITES`), or of the
    training sites (all the others)."""
    return [i for i in read_airbus(root) if (i.site in AIRBUS_VALIDATION_SITES) == validation]


def add_airbus_options(parser: argparse.ArgumentParser) -> None:
    """The training scripts' ``--synthetic-only`` and ``--airbus DIR`` options."""
    parser.add_argument("--synthetic-only", action="store_true", help="no real (CC BY-NC-SA) data")
    parser.add_argument(
        "--airbus",
        type=Path,
        default=AIRBUS_DEV_DIR,
        help="Airbus aircraft sample folder (annotations.csv, sites.csv, images/)",
    )


def check_airbus_option(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """A usage error (:meth:`argparse.ArgumentParser.error`) for an ``--airbus`` folder
    without the sample's ``annotations.csv``, unless ``--synthetic-only``: said before any
    training or evaluation, not as a traceback once the model is built."""
    if not args.synthetic_only and not (args.airbus / "annotations.csv").is_file():
        parser.error(
            f"--airbus {args.airbus}: no annotations.csv there; give the folder of the Airbus "
            "aircraft sample, or --synthetic-only to train without it"
        )


def add_small_share_option(parser: argparse.ArgumentParser) -> None:
    """The training scripts' ``--small-share`` option (:class:`SyntheticChips`)."""
    parser.add_argument(
        "--small-share",
        type=float,
        default=0.0,
        help="share of synthetic aircraft drawn smaller than any catalog type (type unknown)",
    )


def small_share_note(share: float) -> str:
    """How a model card's data line says that ``share`` of the synthetic aircraft were small
    (``""`` when none were)."""
    from dwelltime.synth.chips import SMALL_LENGTH_RANGE_M

    lo, hi = SMALL_LENGTH_RANGE_M
    return f", {share:.0%} of aircraft scaled to {lo:g}-{hi:g} m" if share else ""


def read_airbus(root: Path) -> list[BoxImage]:
    """The Airbus aircraft sample (``annotations.csv``, ``sites.csv``, ``images/``)."""
    ann = pd.read_csv(root / "annotations.csv")
    sites = pd.read_csv(root / "sites.csv").set_index("image")["site_id"].to_dict()
    out = []
    for name, rows in ann.groupby("image_id"):
        xy = [np.array(ast.literal_eval(g), dtype=float) for g in rows["geometry"]]
        boxes = np.array([[*p.min(0), *p.max(0)] for p in xy]).reshape(-1, 4)
        cut = rows["class"].str.startswith("Truncated").to_numpy()
        out.append(BoxImage(root / "images" / name, sites.get(name, ""), boxes[~cut], boxes[cut]))
    return out


def crop_boxes(
    boxes: np.ndarray, x0: int, y0: int, size: int, *, min_inside: float = 0.6
) -> tuple[np.ndarray, np.ndarray]:
    """Boxes shifted into a crop at (x0, y0) of ``size`` px: (kept, ignored). A box with less
    than ``min_inside`` of its area in the crop becomes an ignore region."""
    shifted = boxes - np.array([x0, y0, x0, y0], dtype=float)
    clipped = shifted.clip(0, size)
    area = np.prod(shifted[:, 2:] - shifted[:, :2], axis=1)
    inside = np.prod((clipped[:, 2:] - clipped[:, :2]).clip(0), axis=1)
    frac = inside / np.maximum(area, 1e-9)
    return shifted[frac >= min_inside], clipped[(frac > 0) & (frac < min_inside)]


def flip_rotate(image: np.ndarray, boxes: list[np.ndarray], k: int, flip: bool):
    """Rotate an (H, W, 3) square image by k × 90° counter-clockwise (then mirror left-right
    if ``flip``) together with its xyxy boxes."""
    size = image.shape[1]
    out = []
    for b in boxes:
        b = b.copy()
        for _ in range(k % 4):  # (x, y) -> (y, size - x)
            b = np.stack([b[:, 1], size - b[:, 2], b[:, 3], size - b[:, 0]], axis=1)
        if flip:
            b = np.stack([size - b[:, 2], b[:, 1], size - b[:, 0], b[:, 3]], axis=1)
        out.append(b)
    image = np.rot90(image, k)
    if flip:
        image = image[:, ::-1]
    return np.ascontiguousarray(image), out


def coarser_look(rng: np.random.Generator, rgb8: np.ndarray, gsd_m: float) -> np.ndarray:
    """An (H, W, 3) uint8 image of ``gsd_m`` metres/pixel as a sensor of a random coarser GSD
    (:data:`COARSE_GSD_RANGE_M`, random optics blur) would have taken it, resampled back to
    ``gsd_m`` as inference resamples coarse imagery: same size, same labels."""
    from dwelltime.synth.degrade import OPTICS_BLUR_PX, blur_and_resample, coarsen

    lo, hi = np.log(COARSE_GSD_RANGE_M)
    coarse = coarsen(rgb8, gsd_m, float(np.exp(rng.uniform(lo, hi))), rng.uniform(*OPTICS_BLUR_PX))
    return np.array(blur_and_resample(coarse, (rgb8.shape[1], rgb8.shape[0]), 0.0))  # writable


class BoxCrops(IterableDataset):
    """Endless random crops of real box-labelled images at the model GSD ``gsd_m`` (flipped and
    rotated by 90°; ``coarse_share`` of them made to look coarser: :func:`coarser_look`;
    ``zoom_out_share`` of them cut from a window :data:`ZOOM_OUT_RANGE` times wider and shrunk
    to the crop, so their aircraft look smaller)."""

    p_on_aircraft = 0.8

    def __init__(
        self,
        images: Sequence[BoxImage],
        *,
        seed: int,
        size_px: int = 384,
        stride: int = 4,
        gsd_m: float = 0.5,
        coarse_share: float = 0.0,
        zoom_out_share: float = 0.0,
    ) -> None:
        self.images, self.seed, self.size_px, self.stride = list(images), seed, size_px, stride
        self.gsd_m, self.coarse_share, self.zoom_out_share = gsd_m, coarse_share, zoom_out_share
        self._pixels: dict[Path, np.ndarray] = {}

    def _load(self, path: Path) -> np.ndarray:
        if path not in self._pixels:
            self._pixels[path] = np.asarray(Image.open(path).convert("RGB"))
        return self._pixels[path]

    def _corner(
        self, rng: np.random.Generator, item: BoxImage, shape: tuple[int, ...], s: int
    ) -> tuple[int, int]:
        """Top-left of an ``s``-pixel window: around a random aircraft 80 % of the time, else
        anywhere."""
        if len(item.boxes) and rng.random() < self.p_on_aircraft:
            box = item.boxes[int(rng.integers(len(item.boxes)))]
            cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
            x0, y0 = cx - rng.uniform(0.1, 0.9) * s, cy - rng.uniform(0.1, 0.9) * s
        else:
            x0, y0 = rng.uniform(0, shape[1] - s), rng.uniform(0, shape[0] - s)
        return int(np.clip(x0, 0, shape[1] - s)), int(np.clip(y0, 0, shape[0] - s))

    def sample(self, rng: np.random.Generator) -> Sample:
        """One random crop and its targets."""
        item = self.images[int(rng.integers(len(self.images)))]
        pixels, s = self._load(item.path), self.size_px
        window = s
        if self.zoom_out_share and rng.random() < self.zoom_out_share:  # no draw when 0
            lo, hi = np.log(ZOOM_OUT_RANGE)
            window = min(int(s * np.exp(rng.uniform(lo, hi))), *pixels.shape[:2])
        x0, y0 = self._corner(rng, item, pixels.shape[:2], window)
        keep, cut = crop_boxes(item.boxes, x0, y0, window)
        _, cut_edge = crop_boxes(item.truncated, x0, y0, window, min_inside=2.0)
        crop = pixels[y0 : y0 + window, x0 : x0 + window]
        if window != s:
            crop = np.array(Image.fromarray(crop).resize((s, s), Image.Resampling.BOX))
            keep, cut, cut_edge = (b * (s / window) for b in (keep, cut, cut_edge))
        crop, (keep, ignore) = flip_rotate(
            crop,
            [keep, np.concatenate([cut, cut_edge])],
            int(rng.integers(4)),
            bool(rng.integers(2)),
        )
        if self.coarse_share and rng.random() < self.coarse_share:  # no draw when 0
            crop = coarser_look(rng, crop, self.gsd_m)
        labels = ImageLabels.boxes(keep, ignore_xyxy=ignore)
        targets = encode_targets(labels, size_px=(s, s), stride=self.stride)
        return torch.from_numpy(crop).permute(2, 0, 1).contiguous(), targets

    def __iter__(self) -> Iterator[Sample]:
        rng = _worker_rng(self.seed + 1)
        while True:
            yield self.sample(rng)


class Mixed(IterableDataset):
    """Samples from ``synthetic`` or, with probability ``p_real``, from ``real``."""

    def __init__(
        self, synthetic: SyntheticChips, real: BoxCrops | None, *, p_real: float, seed: int
    ) -> None:
        self.synthetic, self.real, self.p_real, self.seed = synthetic, real, p_real, seed

    def __iter__(self) -> Iterator[Sample]:
        rng = _worker_rng(self.seed + 2)
        syn_rng, real_rng = _worker_rng(self.seed), _worker_rng(self.seed + 1)
        while True:
            if self.real is not None and rng.random() < self.p_real:
                yield self.real.sample(real_rng)
            else:
                yield self.synthetic.sample(syn_rng)
