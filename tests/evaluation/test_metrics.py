import numpy as np
import pytest

from dwelltime.evaluation.metrics import (
    Outcomes,
    angle_error_deg,
    average_precision,
    best_f1,
    match,
    nanmedian,
    operating_point,
)


def outcomes(iou, score, difficult=None, thr=0.5):
    iou = np.asarray(iou, float)
    m = match(iou, np.asarray(score, float), iou_threshold=thr, difficult=difficult)
    n_truth = iou.shape[1] - (0 if difficult is None else int(np.sum(difficult)))
    return m, Outcomes.pool([(np.asarray(score, float), m, n_truth)])


def test_perfect_predictions_give_ap_one_and_f1_one():
    m, o = outcomes(np.eye(3), [0.9, 0.8, 0.7])
    assert m.tp.all() and list(m.truth_index) == [0, 1, 2]
    assert average_precision(o) == pytest.approx(1.0)
    assert best_f1(o) == (pytest.approx(1.0), pytest.approx(0.7))
    assert operating_point(o, 0.5)["precision"] == 1.0


def test_one_false_positive_at_top_score():
    # FP ranked first, then two TPs: precision envelope 2/3 over the whole recall range
    iou = [[0, 0], [1, 0], [0, 1]]
    _, o = outcomes(iou, [0.99, 0.8, 0.7])
    assert average_precision(o) == pytest.approx(2 / 3)
    op = operating_point(o, 0.75)
    assert (op["tp"], op["fp"], op["fn"]) == (1, 1, 1)
    assert op["precision"] == pytest.approx(0.5) and op["recall"] == pytest.approx(0.5)


def test_false_positive_below_the_true_ones_leaves_ap_at_one():
    _, o = outcomes([[1, 0], [0, 1], [0, 0]], [0.9, 0.8, 0.1])
    assert average_precision(o) == pytest.approx(1.0)
    assert operating_point(o, 0.5)["precision"] == 1.0
    assert operating_point(o, 0.0)["precision"] == pytest.approx(2 / 3)


def test_duplicates_count_as_false_positives():
    m, o = outcomes([[0.9], [0.95]], [0.9, 0.8])
    assert list(m.tp) == [True, False]  # the higher score wins, not the higher IoU
    assert operating_point(o, 0.0)["fp"] == 1
    assert average_precision(o) == pytest.approx(1.0)


def test_iou_threshold_decides():
    m, _ = outcomes([[0.6]], [0.9], thr=0.75)
    assert not m.tp[0]
    m, _ = outcomes([[0.75]], [0.9], thr=0.75)
    assert m.tp[0]


def test_difficult_truth_is_ignored_both_ways():
    m, o = outcomes([[1, 0], [0, 1]], [0.9, 0.8], difficult=[False, True])
    assert list(m.tp) == [True, False] and list(m.ignored) == [False, True]
    assert o.n_truth == 1
    assert average_precision(o) == pytest.approx(1.0)
    assert operating_point(o, 0.0)["fp"] == 0


def test_empty_predictions():
    _, o = outcomes(np.zeros((0, 2)), [])
    assert average_precision(o) == 0.0
    op = operating_point(o, 0.5)
    assert np.isnan(op["precision"]) and op["recall"] == 0 and op["fn"] == 2
    assert op["f1"] == 0
    assert np.isnan(best_f1(o)[0])


def test_empty_truth():
    m, o = outcomes(np.zeros((2, 0)), [0.9, 0.3])
    assert not m.tp.any()
    assert np.isnan(average_precision(o))
    op = operating_point(o, 0.5)
    assert op["precision"] == 0 and np.isnan(op["recall"]) and op["fp"] == 1


def test_nothing_at_all_pools_to_nan():
    o = Outcomes.pool([])
    assert np.isnan(average_precision(o)) and np.isnan(best_f1(o)[0])


def test_pooling_images_ranks_scores_globally():
    s1, s2 = np.array([0.9]), np.array([0.95])
    m1 = match(np.array([[1.0]]), s1)
    m2 = match(np.array([[0.0]]), s2)  # a FP in another image outranks the TP
    o = Outcomes.pool([(s1, m1, 1), (s2, m2, 0)])
    assert average_precision(o) == pytest.approx(0.5)


def test_best_f1_picks_the_threshold():
    # TP 0.9, FP 0.8, TP 0.7, FP 0.6; 3 truth
    _, o = outcomes([[1, 0, 0], [0, 0, 0], [0, 1, 0], [0, 0, 0]], [0.9, 0.8, 0.7, 0.6])
    f1, thr = best_f1(o)
    assert thr == pytest.approx(0.7) and f1 == pytest.approx(2 * (2 / 3) * (2 / 3) / (4 / 3))


def test_angle_errors():
    assert np.allclose(angle_error_deg([350, 10, 90], [10, 350, 270]), [20, 20, 180])
    assert np.allclose(angle_error_deg([90, 0], [270, 170], period=180), [0, 10])


def test_nanmedian_of_nothing():
    assert np.isnan(nanmedian(np.array([np.nan])))
    assert nanmedian(np.array([1.0, np.nan, 3.0])) == 2.0
