"""Detection metrics over plain arrays: greedy matching, VOC all-point AP, P/R/F1, errors.

Matching follows PASCAL VOC: predictions in descending score order each take the truth object
of highest IoU; at or above the IoU threshold that is a true positive if the object is still
free, a false positive if an earlier prediction took it (a duplicate); a match to a
``difficult`` object is ignored (neither true nor false positive, and the object is never
counted as missed). Below the threshold the prediction is a false positive.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Matching:
    """Per-prediction outcome of matching one image at one IoU threshold.

    tp, ignored: (N,) bool. truth_index: (N,) matched truth row for true positives, else -1.
    """

    tp: np.ndarray
    ignored: np.ndarray
    truth_index: np.ndarray


def match(
    iou: np.ndarray,
    score: np.ndarray,
    *,
    iou_threshold: float = 0.5,
    difficult: np.ndarray | None = None,
) -> Matching:
    """Match predictions (rows of ``iou``, N × M) to truth (columns), best score first."""
    n, m = iou.shape
    difficult = np.zeros(m, bool) if difficult is None else np.asarray(difficult, bool)
    tp, ignored = np.zeros(n, bool), np.zeros(n, bool)
    truth_index = np.full(n, -1)
    taken = np.zeros(m, bool)
    for p in np.argsort(-np.asarray(score), kind="stable"):
        if m == 0:
            break
        t = int(np.argmax(iou[p]))
        if iou[p, t] < iou_threshold:
            continue
        if difficult[t]:
            ignored[p] = True
        elif not taken[t]:
            tp[p], taken[t], truth_index[p] = True, True, t
    return Matching(tp=tp, ignored=ignored, truth_index=truth_index)


@dataclass(frozen=True)
class Outcomes:
    """Pooled outcomes of many images at one IoU threshold.

    score, tp, ignored: (N,) over all predictions; n_truth: truth objects that count
    (difficult ones excluded).
    """

    score: np.ndarray
    tp: np.ndarray
    ignored: np.ndarray
    n_truth: int

    @classmethod
    def pool(cls, parts: Sequence[tuple[np.ndarray, Matching, int]]) -> Outcomes:
        """Pool ``(score, matching, n_truth)`` of several images."""
        if not parts:
            return cls(np.zeros(0), np.zeros(0, bool), np.zeros(0, bool), 0)
        return cls(
            score=np.concatenate([np.asarray(s, float) for s, _, _ in parts]),
            tp=np.concatenate([m.tp for _, m, _ in parts]),
            ignored=np.concatenate([m.ignored for _, m, _ in parts]),
            n_truth=sum(n for _, _, n in parts),
        )


def precision_recall_curve(o: Outcomes) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(score_threshold, precision, recall)`` after each prediction, best score first.

    Ignored predictions are dropped. Recall is NaN everywhere when there is no truth.
    """
    keep = ~o.ignored
    order = np.argsort(-o.score[keep], kind="stable")
    score, tp = o.score[keep][order], o.tp[keep][order]
    tp_cum = np.cumsum(tp)
    fp_cum = np.cumsum(~tp)
    precision = tp_cum / np.maximum(tp_cum + fp_cum, 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        recall = tp_cum / o.n_truth if o.n_truth else np.full(len(tp), np.nan)
    return score, precision, recall


def average_precision(o: Outcomes) -> float:
    """VOC all-point interpolated AP (area under the monotone precision envelope).

    NaN without truth objects (undefined); 0 with truth but no true positive.
    """
    if o.n_truth == 0:
        return float("nan")
    _, precision, recall = precision_recall_curve(o)
    mrec = np.concatenate([[0.0], recall, [1.0]])
    mpre = np.concatenate([[0.0], precision, [0.0]])
    mpre = np.maximum.accumulate(mpre[::-1])[::-1]
    steps = np.nonzero(mrec[1:] != mrec[:-1])[0]
    return float(np.sum((mrec[steps + 1] - mrec[steps]) * mpre[steps + 1]))


def f1_score(precision: float | np.ndarray, recall: float | np.ndarray) -> np.ndarray:
    """Harmonic mean of precision and recall; 0 where both are 0, NaN where either is NaN."""
    p, r = np.asarray(precision, float), np.asarray(recall, float)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(p + r > 0, 2 * p * r / (p + r), np.where(np.isnan(p + r), np.nan, 0.0))


def operating_point(o: Outcomes, score_threshold: float) -> dict[str, float]:
    """Precision, recall and F1 of the predictions scoring at least ``score_threshold``.

    Precision is NaN when nothing passes; recall NaN when there is no truth; F1 is 0 when
    there is truth and no true positive.
    """
    kept = (o.score >= score_threshold) & ~o.ignored
    tp, fp = int(np.sum(o.tp & kept)), int(np.sum(~o.tp & kept))
    precision = tp / (tp + fp) if tp + fp else float("nan")
    recall = tp / o.n_truth if o.n_truth else float("nan")
    return {
        "precision": precision,
        "recall": recall,
        "f1": 0.0 if tp == 0 and o.n_truth else float(f1_score(precision, recall)),
        "tp": tp,
        "fp": fp,
        "fn": o.n_truth - tp,
    }


def best_f1(o: Outcomes) -> tuple[float, float]:
    """``(best F1, score threshold that gives it)`` over the precision–recall curve.

    NaN, NaN without truth or without predictions.
    """
    score, precision, recall = precision_recall_curve(o)
    if o.n_truth == 0 or len(score) == 0:
        return float("nan"), float("nan")
    # only the last prediction of a run of equal scores is a real operating point
    last = np.r_[score[1:] != score[:-1], True]
    f1 = f1_score(precision[last], recall[last])
    i = int(np.argmax(f1))
    return float(f1[i]), float(score[last][i])


def angle_error_deg(pred: np.ndarray, truth: np.ndarray, *, period: float = 360.0) -> np.ndarray:
    """Absolute angular difference in [0, period / 2]; ``period=180`` ignores nose vs tail."""
    d = np.abs(np.asarray(pred, float) - np.asarray(truth, float)) % period
    return np.minimum(d, period - d)


def nanmedian(values: np.ndarray) -> float:
    """Median of the finite values, NaN when there are none (without a warning)."""
    v = np.asarray(values, float)
    v = v[np.isfinite(v)]
    return float(np.median(v)) if len(v) else float("nan")
