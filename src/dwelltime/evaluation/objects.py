"""The arrays evaluation works on: the objects of one image, truth or predicted.

Both sides of a comparison use the same frame: polygon corners in image pixels (col, row),
sizes in metres, headings in degrees clockwise from image up (grid north for north-up images).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from dwelltime.footprints import corner_attributes

#: class names that say "an aircraft" without saying which (DOTA, Airbus, PASCAL VOC's
#: "aeroplane"): their type counts as unknown
GENERIC_CLASSES = frozenset(
    {"plane", "airplane", "aeroplane", "aircraft", "truncated_airplane", "unknown"}
)


@dataclass(frozen=True)
class Objects:
    """N oriented objects of one image.

    polygons: (N, 4, 2) corners in image pixels, front-left first (see :mod:`dwelltime.footprints`).
    types: (N,) ICAO designator or ``"unknown"``. length_m, span_m: (N,) metres, NaN unknown.
    heading_deg: (N,) clockwise from image up, NaN unknown. score: (N,) in [0, 1] (1 for truth).
    difficult: (N,) truth that neither counts as missed nor makes a match a true positive.
    """

    polygons: np.ndarray
    types: np.ndarray
    length_m: np.ndarray
    span_m: np.ndarray
    heading_deg: np.ndarray
    score: np.ndarray
    difficult: np.ndarray

    def __post_init__(self) -> None:
        n = len(self.polygons)
        for name in ("types", "length_m", "span_m", "heading_deg", "score", "difficult"):
            if len(getattr(self, name)) != n:
                raise ValueError(f"Objects.{name} has {len(getattr(self, name))} rows, not {n}")

    def __len__(self) -> int:
        return len(self.polygons)

    @classmethod
    def empty(cls) -> Objects:
        """No objects."""
        return make_objects(np.zeros((0, 4, 2)))

    def subset(self, keep: np.ndarray) -> Objects:
        """The objects selected by a boolean mask or index array."""
        return Objects(**{k: np.asarray(v)[keep] for k, v in vars(self).items()})


def make_objects(
    polygons: np.ndarray,
    *,
    types: Sequence[str] | None = None,
    length_m: Sequence[float] | None = None,
    span_m: Sequence[float] | None = None,
    heading_deg: Sequence[float] | None = None,
    score: Sequence[float] | None = None,
    difficult: Sequence[bool] | None = None,
    gsd_m: float | None = None,
) -> Objects:
    """Objects from corners (N, 4, 2) pixels; what is not given is unknown (NaN, "unknown").

    With ``gsd_m`` (metres per pixel), missing length, span and heading are read off the
    polygons (:func:`~dwelltime.footprints.corner_attributes`).
    """
    polys = np.asarray(polygons, dtype=float).reshape(-1, 4, 2)
    n = len(polys)

    def column(values: Sequence[float] | None, fallback: np.ndarray) -> np.ndarray:
        return fallback if values is None else np.asarray(values, dtype=float).reshape(n)

    nan = np.full(n, np.nan)
    derived_len, derived_span, derived_head = nan, nan, nan
    if gsd_m is not None and n:
        _, _, length_px, span_px, derived_head = corner_attributes(polys)
        derived_len, derived_span = length_px * gsd_m, span_px * gsd_m
    names = np.array(
        ["unknown" if t.lower() in GENERIC_CLASSES else t for t in (types or ["unknown"] * n)],
        dtype=object,
    )
    return Objects(
        polygons=polys,
        types=names.reshape(n),
        length_m=column(length_m, derived_len),
        span_m=column(span_m, derived_span),
        heading_deg=column(heading_deg, derived_head),
        score=column(score, np.ones(n)),
        difficult=np.zeros(n, bool) if difficult is None else np.asarray(difficult, bool),
    )


def detection_objects(rows: object, corners: np.ndarray) -> Objects:
    """Objects of detection rows (DETECTION_COLUMNS: ``type``, ``length_m``, ``wingspan_m``,
    ``heading_deg``, ``score``) whose footprints have ``corners`` (N, 4, 2) in image pixels."""
    return make_objects(
        corners,
        types=[str(t) for t in rows["type"]],  # type: ignore[index]
        length_m=rows["length_m"].to_numpy(float),  # type: ignore[index]
        span_m=rows["wingspan_m"].to_numpy(float),  # type: ignore[index]
        heading_deg=rows["heading_deg"].to_numpy(float),  # type: ignore[index]
        score=rows["score"].to_numpy(float),  # type: ignore[index]
    )


@dataclass(frozen=True)
class EvalImage:
    """One labelled image and the detector's objects on it, in the same pixel frame.

    gsd_m: metres per pixel of the image (NaN if unknown), used for the GSD breakdown.
    size_px: (width, height) of the image in pixels, if known: axis-aligned comparisons cut
    every box to it (:func:`dwelltime.footprints.clip_boxes`).
    """

    image_id: str
    gsd_m: float
    truth: Objects
    predictions: Objects = field(default_factory=Objects.empty)
    size_px: tuple[int, int] | None = None
