"""Metric tables of a detector on labelled images: overall, by GSD and by aircraft type.

Detection metrics (AP50, AP75, precision/recall/F1 at the score threshold, best F1) use
oriented IoU, or with ``axis_aligned=True`` the IoU of the axis-aligned boxes that enclose each
footprint's fuselage-and-wing cross (:func:`dwelltime.footprints.cross_boxes`: how box labels
such as the Airbus ones are drawn around an aircraft, and the box the detector's training
loss fits; a box label is its own cross box), cut to the image frame where the image's size is
known, as a label of an aircraft at the edge is drawn.
Attribute metrics (type top-1 accuracy, length/span/heading errors) use the true positives at
IoU 0.5 among predictions scoring at least the threshold; type accuracy counts only truth
of a known type.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from dwelltime.evaluation.geometry import iou_matrix
from dwelltime.evaluation.metrics import (
    Matching,
    Outcomes,
    angle_error_deg,
    average_precision,
    best_f1,
    match,
    nanmedian,
    operating_point,
)
from dwelltime.evaluation.objects import EvalImage, Objects, make_objects
from dwelltime.footprints import clip_boxes, cross_boxes

#: upper edges (metres) of the GSD bins of the breakdown
GSD_BIN_EDGES: tuple[float, ...] = (0.4, 0.6, 1.0, 2.0)


@dataclass(frozen=True)
class Evaluation:
    """All tables of one evaluation.

    overall: metric name -> value (see :func:`detection_metrics`, :func:`attribute_metrics`).
    by_gsd: one row per GSD bin with the same metrics. by_type: one row per truth type with
    n_truth, recall, type accuracy and attribute errors. misses: the truth objects no
    prediction found at IoU 0.5 and the threshold (:data:`MISS_COLUMNS`), to look at;
    false_positives: the predictions kept at the threshold that found none
    (:data:`FALSE_POSITIVE_COLUMNS`).
    """

    overall: dict[str, float]
    by_gsd: pd.DataFrame
    by_type: pd.DataFrame
    score_threshold: float
    threshold_source: str
    axis_aligned: bool
    misses: pd.DataFrame  # MISS_COLUMNS, one row per missed truth object
    false_positives: pd.DataFrame  # FALSE_POSITIVE_COLUMNS, one row per false positive


#: Columns of :attr:`Evaluation.misses` (see :func:`pair_table`): where each missed truth object
#: is, how large, and how close the nearest prediction came (an IoU under 0.5: a box of the
#: wrong size or one over several aircraft; 0.5 and more: found under the score threshold, or
#: that box went to another aircraft).
MISS_COLUMNS: tuple[str, ...] = (
    "image_id",
    "truth_index",
    "gsd_bin",
    "type",
    "col_px",
    "row_px",
    "truth_length_m",
    "box_long_side_m",
    "best_iou",
    "best_iou_score",
)


#: Columns of :attr:`Evaluation.false_positives` (see :func:`false_positive_table`): each
#: prediction scoring at least the threshold that is not a true positive at IoU 0.5, where it
#: is (image pixels), and its best IoU with any truth object (0.5 and more: a duplicate of an
#: aircraft another prediction found).
FALSE_POSITIVE_COLUMNS: tuple[str, ...] = (
    "image_id",
    "pred_index",
    "gsd_bin",
    "type",
    "score",
    "col_px",
    "row_px",
    "length_m",
    "best_iou",
)


def gsd_bin(gsd_m: float) -> str:
    """Label of the GSD bin holding ``gsd_m`` metres, e.g. ``"0.4–0.6 m"``; NaN → ``"unknown"``."""
    if not math.isfinite(gsd_m):
        return "unknown"
    lower = 0.0
    for upper in GSD_BIN_EDGES:
        if gsd_m < upper:
            return f"{lower:g}–{upper:g} m" if lower else f"<{upper:g} m"
        lower = upper
    return f"≥{lower:g} m"


def _ious(images: Sequence[EvalImage], axis_aligned: bool) -> list[np.ndarray]:
    """IoU matrix (predictions × truth) of each image."""
    out = []
    for im in images:
        pred, truth = im.predictions.polygons, im.truth.polygons
        if axis_aligned:
            pred, truth = cross_boxes(pred), cross_boxes(truth)
            if im.size_px is not None:
                pred, truth = clip_boxes(pred, *im.size_px), clip_boxes(truth, *im.size_px)
        out.append(iou_matrix(pred, truth))
    return out


def _matchings(
    images: Sequence[EvalImage], ious: Sequence[np.ndarray], iou_threshold: float
) -> list[Matching]:
    return [
        match(iou, im.predictions.score, iou_threshold=iou_threshold, difficult=im.truth.difficult)
        for im, iou in zip(images, ious, strict=True)
    ]


def _pool(images: Sequence[EvalImage], matchings: Sequence[Matching]) -> Outcomes:
    return Outcomes.pool(
        [
            (im.predictions.score, m, int(np.sum(~im.truth.difficult)))
            for im, m in zip(images, matchings, strict=True)
        ]
    )


def pair_table(
    images: Sequence[EvalImage],
    matchings: Sequence[Matching],
    ious: Sequence[np.ndarray],
    score_threshold: float,
) -> pd.DataFrame:
    """One row per countable truth object: whether a kept prediction found it, and errors.

    Columns: image_id, truth_index (row of the image's truth), gsd_bin, type, found,
    pred_type, length_err_m, span_err_m, heading_err_deg (mod 360), heading_err_mod180_deg
    (errors NaN where not found or unknown); col_px, row_px (the truth's centre in image
    pixels), truth_length_m, box_long_side_m (the longest side of the box around the truth's
    polygon, metres: a box label's size; NaN without a GSD), best_iou (with any prediction,
    whatever its score; ``ious``: predictions × truth per image) and best_iou_score (that
    prediction's score, NaN where no prediction overlaps the object).
    """
    rows = []
    for im, m, iou in zip(images, matchings, ious, strict=True):
        t, p = im.truth, im.predictions
        n = len(t)
        pred_of = np.full(n, -1)
        hits = m.tp & (p.score >= score_threshold)
        pred_of[m.truth_index[hits]] = np.nonzero(hits)[0]
        found = pred_of >= 0
        # the prediction that found each truth object (rows of unfound ones are masked out)
        pred = p.subset(np.where(found, pred_of, 0)) if len(p) else _unknown(n)
        best = iou.argmax(axis=0) if len(p) else np.zeros(n, dtype=int)
        best_iou = iou[best, np.arange(n)] if len(p) else np.zeros(n)
        best_score = np.where(best_iou > 0, p.score[best] if len(p) else np.nan, np.nan)
        centre = t.polygons.mean(axis=1) if n else np.zeros((0, 2))
        extent = np.ptp(t.polygons, axis=1).max(axis=1) * im.gsd_m if n else np.zeros(0)
        frame = pd.DataFrame(
            {
                "image_id": im.image_id,
                "truth_index": np.arange(n),
                "gsd_bin": gsd_bin(im.gsd_m),
                "type": t.types,
                "found": found,
                "pred_type": np.where(found, pred.types, None),
                "length_err_m": np.where(found, np.abs(pred.length_m - t.length_m), np.nan),
                "span_err_m": np.where(found, np.abs(pred.span_m - t.span_m), np.nan),
                "heading_err_deg": np.where(
                    found, angle_error_deg(pred.heading_deg, t.heading_deg), np.nan
                ),
                "heading_err_mod180_deg": np.where(
                    found, angle_error_deg(pred.heading_deg, t.heading_deg, period=180), np.nan
                ),
                "col_px": centre[:, 0],
                "row_px": centre[:, 1],
                "truth_length_m": t.length_m,
                "box_long_side_m": extent,
                "best_iou": best_iou,
                "best_iou_score": best_score,
            }
        )
        rows.append(frame[~t.difficult])
    return pd.concat(rows, ignore_index=True) if rows else pd.DataFrame()


def false_positive_table(
    images: Sequence[EvalImage],
    matchings: Sequence[Matching],
    ious: Sequence[np.ndarray],
    score_threshold: float,
) -> pd.DataFrame:
    """The false positives at ``score_threshold`` (:data:`FALSE_POSITIVE_COLUMNS`):
    predictions scoring at least it that are neither true positives nor matched to a
    ``difficult`` object; ``ious``: predictions × truth per image. ``pred_index`` is the
    row of the image's predictions, ``length_m`` the predicted length (metres)."""
    frames = []
    for im, m, iou in zip(images, matchings, ious, strict=True):
        p = im.predictions
        rows = np.flatnonzero(~m.tp & ~m.ignored & (p.score >= score_threshold))
        if len(rows) == 0:
            continue
        centre = p.polygons[rows].mean(axis=1)
        frames.append(
            pd.DataFrame(
                {
                    "image_id": im.image_id,
                    "pred_index": rows,
                    "gsd_bin": gsd_bin(im.gsd_m),
                    "type": p.types[rows],
                    "score": p.score[rows],
                    "col_px": centre[:, 0],
                    "row_px": centre[:, 1],
                    "length_m": p.length_m[rows],
                    "best_iou": iou[rows].max(axis=1) if iou.shape[1] else np.zeros(len(rows)),
                }
            )
        )
    if not frames:
        return pd.DataFrame(columns=list(FALSE_POSITIVE_COLUMNS))
    return pd.concat(frames, ignore_index=True)


def _unknown(n: int) -> Objects:
    """``n`` objects of which nothing is known."""
    return make_objects(np.full((n, 4, 2), np.nan))


def attribute_metrics(pairs: pd.DataFrame) -> dict[str, float]:
    """Type top-1 accuracy and median errors over the found objects of ``pairs``."""
    found = pairs[pairs["found"]] if len(pairs) else pairs
    typed = found[found["type"] != "unknown"] if len(found) else found
    return {
        "n_matched": len(found),
        "n_typed": len(typed),
        "type_accuracy": float(np.mean(typed["pred_type"] == typed["type"]))
        if len(typed)
        else float("nan"),
        **{
            f"median_{c}": nanmedian(found[c]) if len(found) else float("nan")
            for c in ("length_err_m", "span_err_m", "heading_err_deg", "heading_err_mod180_deg")
        },
    }


def detection_metrics(
    images: Sequence[EvalImage], score_threshold: float, *, axis_aligned: bool = False
) -> tuple[dict[str, float], pd.DataFrame]:
    """AP50, AP75, P/R/F1 at the threshold, best F1 and attribute metrics; plus the pair table."""
    row, pairs, _ = _detection_tables(images, score_threshold, axis_aligned)
    return row, pairs


def _detection_tables(
    images: Sequence[EvalImage], score_threshold: float, axis_aligned: bool
) -> tuple[dict[str, float], pd.DataFrame, pd.DataFrame]:
    """:func:`detection_metrics` and the :func:`false_positive_table` of the same matching."""
    ious = _ious(images, axis_aligned)  # once, for both IoU thresholds
    m50 = _matchings(images, ious, 0.5)
    o50, o75 = _pool(images, m50), _pool(images, _matchings(images, ious, 0.75))
    f1_best, f1_thr = best_f1(o50)
    pairs = pair_table(images, m50, ious, score_threshold)
    row = {
        "n_images": len(images),
        "n_truth": o50.n_truth,
        "n_pred": len(o50.score),
        "ap50": average_precision(o50),
        "ap75": average_precision(o75),
        **operating_point(o50, score_threshold),
        "best_f1": f1_best,
        "best_f1_threshold": f1_thr,
        **attribute_metrics(pairs),
    }
    return row, pairs, false_positive_table(images, m50, ious, score_threshold)


def evaluate_images(
    images: Sequence[EvalImage],
    *,
    score_threshold: float,
    threshold_source: str = "given",
    axis_aligned: bool = False,
) -> Evaluation:
    """Score predictions against truth over ``images``, with GSD and type breakdowns."""
    overall, pairs, false_positives = _detection_tables(images, score_threshold, axis_aligned)
    lowest: dict[str, float] = {}
    for im in images:  # bins in order of GSD, "unknown" last
        b = gsd_bin(im.gsd_m)
        lowest[b] = min(lowest.get(b, math.inf), im.gsd_m if math.isfinite(im.gsd_m) else math.inf)
    bins = sorted(lowest, key=lowest.__getitem__)
    by_gsd = pd.DataFrame(
        [
            {
                "gsd_bin": b,
                **detection_metrics(
                    [im for im in images if gsd_bin(im.gsd_m) == b],
                    score_threshold,
                    axis_aligned=axis_aligned,
                )[0],
            }
            for b in bins
        ]
    )
    by_type = pd.DataFrame(
        [
            {
                "type": t,
                "n_truth": len(g),
                "recall": float(g["found"].mean()),
                **attribute_metrics(g),
            }
            for t, g in (pairs.groupby("type", sort=True) if len(pairs) else [])
        ]
    )
    misses = (
        pairs.loc[~pairs["found"], list(MISS_COLUMNS)]
        if len(pairs)
        else pd.DataFrame(columns=list(MISS_COLUMNS))
    )
    return Evaluation(
        overall,
        by_gsd,
        by_type,
        score_threshold,
        threshold_source,
        axis_aligned,
        misses.reset_index(drop=True),
        false_positives,
    )


OVERALL_LABELS: dict[str, str] = {
    "n_images": "images",
    "n_truth": "truth objects",
    "n_pred": "predictions, any score (for AP)",
    "ap50": "AP50",
    "ap75": "AP75",
    "precision": "precision",
    "recall": "recall",
    "f1": "F1",
    "best_f1": "best F1",
    "best_f1_threshold": "best F1 at score",
    "type_accuracy": "type top-1 accuracy",
    "median_length_err_m": "median length error (m)",
    "median_span_err_m": "median span error (m)",
    "median_heading_err_deg": "median heading error (deg, mod 360)",
    "median_heading_err_mod180_deg": "median heading error (deg, mod 180)",
}


#: columns of the breakdown tables shown in the terminal, and their short headers
TABLE_HEADERS: dict[str, str] = {
    "gsd_bin": "GSD",
    "type": "type",
    "n_images": "images",
    "n_truth": "truth",
    "n_pred": "pred",
    "ap50": "AP50",
    "ap75": "AP75",
    "precision": "P",
    "recall": "R",
    "best_f1": "best F1",
    "type_accuracy": "type acc",
    "median_length_err_m": "length err m",
    "median_span_err_m": "span err m",
    "median_heading_err_deg": "heading err°",
    "median_heading_err_mod180_deg": "mod 180°",
}


def format_evaluation(ev: Evaluation) -> str:
    """A plain-text report: overall figures, then the GSD and type tables."""
    iou = "axis-aligned box IoU" if ev.axis_aligned else "oriented IoU"
    lines = [
        f"Detection with {iou}; score threshold {ev.score_threshold:g} ({ev.threshold_source})",
    ]
    for key, label in OVERALL_LABELS.items():
        value = ev.overall[key]
        lines.append(
            f"  {label:<38} {value:.3f}" if isinstance(value, float) else f"  {label:<38} {value}"
        )
    op = ev.overall
    lines.append(f"  {'TP / FP / FN at threshold':<38} {op['tp']} / {op['fp']} / {op['fn']}")
    for title, table in (("By GSD", ev.by_gsd), ("By type", ev.by_type)):
        shown = table[[c for c in TABLE_HEADERS if c in table]].rename(columns=TABLE_HEADERS)
        text = shown.to_string(index=False, float_format="{:.3f}".format) if len(table) else ""
        lines += ["", title, text or "  (none)"]
    return "\n".join(lines)


def evaluation_paths(out_dir: Path) -> list[Path]:
    """The files :func:`write_evaluation` writes to ``out_dir``, in its order, so that a
    command can refuse them before the evaluation rather than after it."""
    names = (
        "evaluation.json",
        "overall.csv",
        "by_gsd.csv",
        "by_type.csv",
        "misses.csv",
        "false_positives.csv",
    )
    return [Path(out_dir) / n for n in names]


def write_evaluation(ev: Evaluation, out_dir: Path, *, overwrite: bool = False) -> list[Path]:
    """Write ``evaluation.json`` (the tables), ``overall.csv``, ``by_gsd.csv``, ``by_type.csv``,
    ``misses.csv`` (:data:`MISS_COLUMNS`) and ``false_positives.csv``
    (:data:`FALSE_POSITIVE_COLUMNS`)."""
    out_dir = Path(out_dir)
    paths = evaluation_paths(out_dir)
    from dwelltime.io import ensure_writable, write_csv  # geopandas only when writing

    ensure_writable(paths, overwrite=overwrite)
    out_dir.mkdir(parents=True, exist_ok=True)
    doc = {
        "score_threshold": ev.score_threshold,
        "threshold_source": ev.threshold_source,
        "iou": "axis_aligned" if ev.axis_aligned else "oriented",
        "overall": ev.overall,
        "by_gsd": ev.by_gsd.to_dict(orient="records"),
        "by_type": ev.by_type.to_dict(orient="records"),
    }
    paths[0].write_text(json.dumps(_jsonable(doc), indent=2, allow_nan=False) + "\n")
    tables = (pd.DataFrame([ev.overall]), ev.by_gsd, ev.by_type, ev.misses, ev.false_positives)
    for table, path in zip(tables, paths[1:], strict=True):
        write_csv(table, path)
    return paths


def _jsonable(value: object) -> object:
    """NaN → null and numpy scalars → Python, recursively."""
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
