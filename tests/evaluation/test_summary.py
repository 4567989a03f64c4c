import codecs
import json

import numpy as np
import pandas as pd
import pytest

from dwelltime.errors import OutputExistsError
from dwelltime.evaluation.objects import EvalImage, Objects, make_objects
from dwelltime.evaluation.summary import (
    FALSE_POSITIVE_COLUMNS,
    MISS_COLUMNS,
    evaluate_images,
    format_evaluation,
    gsd_bin,
    write_evaluation,
)
from dwelltime.footprints import footprint_corners


def objects(rows, gsd, **kw):
    """rows: (cx, cy, length_m, span_m, heading, type)."""
    cx, cy, length, span, heading, types = (np.array(c) for c in zip(*rows, strict=True))
    corners = footprint_corners(
        cx, cy, length.astype(float) / gsd, span.astype(float) / gsd, heading
    )
    return make_objects(corners, types=list(types), gsd_m=gsd, **kw)


TRUTH = [(100, 100, 53.0, 43.0, 30.0, "IL62"), (300, 200, 46.0, 42.0, 200.0, "T204")]


def test_perfect_predictions():
    truth = objects(TRUTH, 0.5)
    ev = evaluate_images([EvalImage("a", 0.5, truth, truth)], score_threshold=0.5)
    o = ev.overall
    assert o["ap50"] == pytest.approx(1) and o["ap75"] == pytest.approx(1)
    assert o["precision"] == 1 and o["recall"] == 1 and o["best_f1"] == pytest.approx(1)
    assert o["type_accuracy"] == 1 and o["n_typed"] == 2
    assert o["median_length_err_m"] == pytest.approx(0, abs=1e-9)
    assert o["median_heading_err_deg"] == pytest.approx(0, abs=1e-6)
    assert list(ev.by_type["type"]) == ["IL62", "T204"]
    assert list(ev.by_gsd["gsd_bin"]) == ["0.4–0.6 m"]


def test_errors_wrong_type_and_reversed_heading():
    truth = objects(TRUTH, 0.5)
    # same footprints but nose and tail swapped, 2 m longer, types wrong for one
    pred = objects(
        [(100, 100, 55.0, 43.0, 210.0, "IL62"), (300, 200, 48.0, 42.0, 20.0, "IL62")],
        0.5,
        score=[0.9, 0.8],
    )
    ev = evaluate_images([EvalImage("a", 0.5, truth, pred)], score_threshold=0.5)
    o = ev.overall
    assert o["ap50"] == pytest.approx(1)
    assert o["type_accuracy"] == pytest.approx(0.5)
    assert o["median_length_err_m"] == pytest.approx(2)
    assert o["median_span_err_m"] == pytest.approx(0, abs=1e-9)
    assert o["median_heading_err_deg"] == pytest.approx(180)
    assert o["median_heading_err_mod180_deg"] == pytest.approx(0, abs=1e-6)
    t204 = ev.by_type.set_index("type").loc["T204"]
    assert t204["type_accuracy"] == 0 and t204["recall"] == 1


def test_threshold_limits_attribute_pairs_and_recall():
    truth = objects(TRUTH, 0.5)
    pred = objects(TRUTH, 0.5, score=[0.9, 0.2])
    ev = evaluate_images([EvalImage("a", 0.5, truth, pred)], score_threshold=0.5)
    assert ev.overall["recall"] == pytest.approx(0.5) and ev.overall["n_matched"] == 1
    assert ev.overall["ap50"] == pytest.approx(1)


def test_misses_say_how_close_the_nearest_prediction_came():
    truth = objects(TRUTH, 0.5)
    # the IL62 found; the T204 boxed 2x too long (IoU about 0.5 / 1.5) and, elsewhere, under
    # the threshold; a third truth object nothing comes near
    pred = objects([TRUTH[0], (300, 200, 92.0, 42.0, 200.0, "T204")], 0.5, score=[0.9, 0.7])
    lone = objects([*TRUTH, (900, 900, 30.0, 28.0, 0.0, "unknown")], 0.5)
    ev = evaluate_images([EvalImage("a", 0.5, lone, pred)], score_threshold=0.5)
    misses = ev.misses.set_index("truth_index")
    assert list(ev.misses.columns) == list(MISS_COLUMNS)
    assert list(misses.index) == [1, 2] and set(misses["image_id"]) == {"a"}
    assert 0.2 < misses.loc[1, "best_iou"] < 0.5 and misses.loc[1, "best_iou_score"] == 0.7
    assert misses.loc[1, ["col_px", "row_px"]].tolist() == pytest.approx([300, 200])
    assert misses.loc[2, "best_iou"] == 0 and misses.loc[2, "truth_length_m"] == 30.0
    assert misses.loc[2, "box_long_side_m"] == pytest.approx(30.0)  # heading 0: length north
    low = objects(TRUTH, 0.5, score=[0.9, 0.2])  # found at IoU 1, under the threshold
    under = evaluate_images([EvalImage("a", 0.5, truth, low)], score_threshold=0.5).misses
    assert under["best_iou"].tolist() == pytest.approx([1.0])
    assert under["best_iou_score"].tolist() == pytest.approx([0.2])
    nothing = evaluate_images([EvalImage("a", 0.5, truth)], score_threshold=0.5).misses
    assert len(nothing) == 2 and (nothing["best_iou"] == 0).all()
    assert nothing["best_iou_score"].isna().all()


def test_a_miss_no_prediction_overlaps_has_no_best_iou_score():
    """An aircraft no prediction touches has no nearest prediction's score to show (not the
    score of an unrelated prediction elsewhere in the image)."""
    truth = objects(TRUTH, 0.5)
    pred = objects([TRUTH[0]], 0.5, score=[0.95])
    misses = evaluate_images([EvalImage("a", 0.5, truth, pred)], score_threshold=0.5).misses
    assert misses["truth_index"].tolist() == [1] and misses["best_iou"].tolist() == [0]
    assert misses["best_iou_score"].isna().all()


def test_false_positives_name_their_image_and_place():
    """Predictions at the threshold that found nothing: a duplicate (IoU 1 with an aircraft
    found already), one where there is none; not one under the threshold or on a true one."""
    truth = objects(TRUTH[:1], 0.5)
    pred = objects(
        [TRUTH[0], TRUTH[0], (500, 400, 30.0, 28.0, 0.0, "B738"), (700, 700, 30.0, 28.0, 0, "x")],
        0.5,
        score=[0.9, 0.8, 0.7, 0.2],
    )
    empty = objects([(50, 60, 30.0, 28.0, 0.0, "A320")], 0.5, score=[0.6])
    images = [EvalImage("a", 0.5, truth, pred), EvalImage("b", 0.5, Objects.empty(), empty)]
    fps = evaluate_images(images, score_threshold=0.5).false_positives
    assert list(fps.columns) == list(FALSE_POSITIVE_COLUMNS)
    assert fps[["image_id", "pred_index", "type"]].values.tolist() == [
        ["a", 1, "IL62"],
        ["a", 2, "B738"],
        ["b", 0, "A320"],
    ]
    assert fps["best_iou"].tolist() == pytest.approx([1, 0, 0])
    assert fps.loc[1, ["col_px", "row_px", "length_m"]].tolist() == pytest.approx([500, 400, 30])
    assert evaluate_images(images[:1], score_threshold=0.95).false_positives.empty


def test_breakdown_by_gsd_and_missing_image_predictions():
    truth = objects(TRUTH, 0.5)
    coarse = objects(TRUTH[:1], 2.5)
    ev = evaluate_images(
        [
            EvalImage("a", 0.5, truth, truth),
            EvalImage("b", 2.5, coarse),
            EvalImage("c", np.nan, Objects.empty()),
        ],
        score_threshold=0.5,
    )
    by = ev.by_gsd.set_index("gsd_bin")
    assert list(by.index) == ["0.4–0.6 m", "≥2 m", "unknown"]
    assert by.loc["≥2 m", "recall"] == 0 and by.loc["≥2 m", "ap50"] == 0
    assert np.isnan(by.loc["unknown", "ap50"])
    assert ev.overall["recall"] == pytest.approx(2 / 3)


def test_axis_aligned_mode_compares_enclosing_boxes():
    # truth: the box a labeller draws around a 45° aircraft (fuselage and wing: 80 px long at
    # 0.5 m, so ±40/√2 px both ways); the oriented prediction of that aircraft matches it, and
    # its rectangle's own enclosing box (±40√2 px) would not (IoU 0.25)
    pred = objects([(100, 100, 40.0, 40.0, 45.0, "IL62")], 0.5)
    h = 40 / 2**0.5
    box = np.array(
        [[[100 - h, 100 - h], [100 + h, 100 - h], [100 + h, 100 + h], [100 - h, 100 + h]]]
    )
    truth = make_objects(box, types=["Airplane"])
    images = [EvalImage("a", 0.5, truth, pred)]
    assert evaluate_images(images, score_threshold=0.5).overall["ap75"] == 0  # oriented IoU 0.5
    ev = evaluate_images(images, score_threshold=0.5, axis_aligned=True)
    assert ev.overall["ap50"] == pytest.approx(1) and ev.overall["ap75"] == pytest.approx(1)
    assert np.isnan(ev.overall["type_accuracy"])  # "Airplane" says no type
    assert list(ev.by_type["type"]) == ["unknown"]


def test_axis_aligned_boxes_are_cut_to_the_image_frame():
    # an aircraft at the top edge: the label is its box cut at row 0; the prediction sees the
    # whole aircraft, 70 px of it above the image; cut to the frame as the label is, it matches
    pred = objects([(200, -10, 60.0, 60.0, 0.0, "IL62")], 0.5)  # 120 × 120 px, rows -70..50
    label = np.array([[[140.0, 0.0], [260, 0], [260, 50], [140, 50]]])
    truth = make_objects(label, types=["Airplane"])
    uncut = evaluate_images(
        [EvalImage("a", 0.5, truth, pred)], score_threshold=0.5, axis_aligned=True
    )
    assert uncut.overall["ap50"] == 0  # IoU 50/120
    cut = evaluate_images(
        [EvalImage("a", 0.5, truth, pred, size_px=(512, 512))],
        score_threshold=0.5,
        axis_aligned=True,
    )
    assert cut.overall["ap75"] == pytest.approx(1)


def test_no_images_at_all():
    ev = evaluate_images([], score_threshold=0.5)
    assert np.isnan(ev.overall["ap50"]) and len(ev.by_gsd) == 0 and len(ev.by_type) == 0
    assert "(none)" in format_evaluation(ev)


def test_gsd_bins():
    assert [gsd_bin(g) for g in (0.3, 0.5, 0.8, 1.5, 3.0)] == [
        "<0.4 m",
        "0.4–0.6 m",
        "0.6–1 m",
        "1–2 m",
        "≥2 m",
    ]


def test_report_and_files(tmp_path):
    truth = objects(TRUTH, 0.5)
    ev = evaluate_images(
        [EvalImage("a", 0.5, truth, truth)],
        score_threshold=0.5,
        threshold_source="default 0.5: the model card names none",
    )
    text = format_evaluation(ev)
    assert "AP50" in text and "default 0.5" in text and "By type" in text
    paths = write_evaluation(ev, tmp_path)
    doc = json.loads(paths[0].read_text())
    assert doc["overall"]["ap50"] == 1 and doc["by_type"][0]["type"] == "IL62"
    assert {p.name for p in tmp_path.iterdir()} == {
        "evaluation.json",
        "overall.csv",
        "by_gsd.csv",
        "by_type.csv",
        "misses.csv",
        "false_positives.csv",
    }
    assert all(p.read_bytes().startswith(codecs.BOM_UTF8) for p in paths[1:])  # as io's CSVs
    assert pd.read_csv(paths[4]).empty  # nothing missed, the columns still there
    assert list(pd.read_csv(paths[4]).columns) == list(MISS_COLUMNS)
    assert list(pd.read_csv(paths[5]).columns) == list(FALSE_POSITIVE_COLUMNS)
    with pytest.raises(OutputExistsError, match="pass overwrite=True"):
        write_evaluation(ev, tmp_path)
    write_evaluation(ev, tmp_path, overwrite=True)


def test_the_report_says_predictions_below_the_threshold_are_counted():
    """Two hits at 0.9 and 0.2 at threshold 0.5: 2 predictions (for AP), 1 TP at threshold."""
    truth = objects(TRUTH, 0.5)
    pred = objects(TRUTH, 0.5, score=[0.9, 0.2])
    text = format_evaluation(
        evaluate_images([EvalImage("a", 0.5, truth, pred)], score_threshold=0.5)
    )
    lines = [" ".join(line.split()) for line in text.splitlines()]
    assert "predictions, any score (for AP) 2" in lines
    assert "TP / FP / FN at threshold 1 / 0 / 1" in lines
