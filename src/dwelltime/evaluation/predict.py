"""Run a detector over a whole image of any size and GSD, detections back in its pixels.

The image goes through the detector's plain-image path
(:func:`dwelltime.detector.pixels.detect_pixels`): resampled to the detector's GSD, cut into
square tiles overlapping by ``overlap_px`` (edge tiles shifted inward; an image smaller than a
tile is zero-padded), and copies of an aircraft seen by several tiles merged by
intersection over the smaller footprint, so an aircraft in an overlap is counted once.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from pathlib import Path

import numpy as np

from dwelltime.evaluation.objects import Objects, detection_objects

#: score floor of the detector's peak picking while evaluating, so AP sees the whole PR curve
AP_SCORE_FLOOR = 0.05
#: operating threshold when the model card names none
DEFAULT_SCORE_THRESHOLD = 0.5


def shipped_threshold(weights: Path | None) -> tuple[float, str]:
    """The score threshold the model card ships, and where it came from.

    The card's ``score_threshold``, else its ``decode.score_threshold`` (the peak-picking
    floor the pipeline reports at), else :data:`DEFAULT_SCORE_THRESHOLD`.
    """
    from dwelltime.detector.weights import default_weights, read_card

    path = default_weights() if weights is None else Path(weights)
    card = read_card(path)
    if "score_threshold" in card:
        return float(card["score_threshold"]), f"model card {path.name}"
    if "score_threshold" in card.get("decode", {}):
        return float(card["decode"]["score_threshold"]), f"model card {path.name}, decode floor"
    return DEFAULT_SCORE_THRESHOLD, f"default: model card {path.name} names none"


def recorded_threshold(detections: Path) -> tuple[float, str]:
    """The score threshold recorded with saved detections, and where it came from.

    The detector's decoding threshold in the ``run.json`` beside ``detections`` (as ``run``,
    ``detect`` and ``batch`` write it), else :func:`shipped_threshold` of the weights named
    there when they are in the shipped models folder, else :data:`DEFAULT_SCORE_THRESHOLD`.
    """
    from dwelltime.detector.weights import models_dir
    from dwelltime.io import PROVENANCE_NAME, read_provenance

    folder = Path(detections).parent
    made = read_provenance(folder).get("detector")
    made = made if isinstance(made, dict) else {}
    if isinstance(made.get("score_threshold"), (int, float)):
        return float(made["score_threshold"]), f"recorded in {folder / PROVENANCE_NAME}"
    weights = models_dir() / str(made.get("weights", ""))
    if made.get("weights") and weights.is_file():
        return shipped_threshold(weights)
    return DEFAULT_SCORE_THRESHOLD, f"default: no {PROVENANCE_NAME} beside {detections} records one"


def recorded_gsd(detections: Path) -> tuple[float, str] | None:
    """The GSD (metres/pixel) given for images without georeference when ``detections`` were
    made (``dwelltime detect --gsd``, recorded as ``inputs.gsd_m`` in the ``run.json``
    beside them), and where it came from; None when none is recorded (an older run.json)."""
    from dwelltime.io import PROVENANCE_NAME, read_provenance

    folder = Path(detections).parent
    inputs = read_provenance(folder).get("inputs")
    gsd = inputs.get("gsd_m") if isinstance(inputs, dict) else None
    if isinstance(gsd, (int, float)) and not isinstance(gsd, bool) and gsd > 0:
        return float(gsd), f"recorded in {folder / PROVENANCE_NAME}"
    return None


def lower_score_floor(detector: object, floor: float = AP_SCORE_FLOOR) -> None:
    """Let the detector report peaks down to ``floor`` (it keeps a lower floor it has)."""
    cfg = detector.decode_config  # type: ignore[attr-defined]
    if cfg.score_threshold > floor:
        detector.decode_config = dataclasses.replace(cfg, score_threshold=floor)  # type: ignore[attr-defined]


def predict_image(
    detector: object,
    image: np.ndarray,
    gsd_m: float,
    *,
    tile_px: int = 512,
    overlap_px: int = 128,
    batch_size: int = 8,
    progress: Callable[[int, int], None] | None = None,
) -> Objects:
    """Detections on ``image`` (3, H, W) uint8 of ``gsd_m`` metres per pixel (NaN: taken to be
    the detector's GSD), as :class:`Objects` in the image's pixels with sizes in metres.

    The detector's own plain-image path, :func:`dwelltime.detector.pixels.detect_pixels`, as
    ``dwelltime detect --gsd`` runs it: types from its post-processor's ``assign_types``
    (CNN probabilities × size prior, with ``gsd_m`` as the source GSD).
    ``progress(done, total)`` is called after each batch of tiles.
    """
    import shapely

    from dwelltime.detector.pixels import detect_pixels, pixel_tile_count
    from dwelltime.tiling import TileSpec

    known = math.isfinite(gsd_m)
    spec = TileSpec(gsd_m=detector.gsd_m, size_px=tile_px, overlap_px=overlap_px)  # type: ignore[attr-defined]
    rgb = np.ascontiguousarray(np.asarray(image).transpose(1, 2, 0))
    total = pixel_tile_count(rgb.shape, gsd_m=gsd_m if known else spec.gsd_m, spec=spec)
    done = 0

    def step(n: int) -> None:
        nonlocal done
        done += n
        if progress is not None:
            progress(done, total)

    frame = detect_pixels(
        rgb,
        detector,  # type: ignore[arg-type]
        gsd_m=gsd_m if known else None,
        spec=spec,
        scene_id="image",
        batch_size=batch_size,
        progress=step,
    )
    corners = shapely.get_coordinates(frame.geometry.to_numpy()).reshape(-1, 5, 2)[:, :4]
    return detection_objects(frame, corners)
