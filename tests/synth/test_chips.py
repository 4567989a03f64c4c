"""Training chips: deterministic, labels match pixels, sizes in metres match the catalog."""

from __future__ import annotations

import numpy as np
import pytest
import shapely

from dwelltime.catalog import load_catalog
from dwelltime.synth import render_chip
from dwelltime.synth.aircraft import Sun, draw_aircraft, random_paint
from dwelltime.synth.chips import MIN_IN_CHIP, SMALL_LENGTH_RANGE_M, SMALL_TYPE, compose_chip


def _label_frame_box(chip, i):
    """The mask pixels of label i as an oriented box in the label's own frame (pixels)."""
    label = chip.labels[i]
    rows, cols = np.nonzero(chip.mask == i + 1)
    h = np.radians(label.heading_deg)
    dc, dr = cols + 0.5 - label.cx_px, rows + 0.5 - label.cy_px
    across = dc * np.cos(h) + dr * np.sin(h)
    along = dc * np.sin(h) - dr * np.cos(h)
    return across, along


def _inside(label, size):
    return label.polygon_px.min() >= 0 and label.polygon_px.max() <= size


def test_same_seed_same_chip_different_seed_different_chip():
    a = render_chip(np.random.default_rng(5), size_px=128)
    b = render_chip(np.random.default_rng(5), size_px=128)
    c = render_chip(np.random.default_rng(6), size_px=128)
    assert np.array_equal(a.image, b.image) and np.array_equal(a.mask, b.mask)
    assert [lb.type for lb in a.labels] == [lb.type for lb in b.labels]
    assert not np.array_equal(a.image, c.image)


def test_chip_shapes_and_empty_chip():
    chip = render_chip(np.random.default_rng(0), size_px=96, n_aircraft=(0, 0))
    assert chip.image.shape == (96, 96, 3) and chip.image.dtype == np.uint8
    assert chip.labels == [] and not chip.mask.any()


@pytest.mark.parametrize("source_gsd", [0.3, 0.5, 1.0])
def test_every_label_matches_its_pixels(source_gsd):
    rng = np.random.default_rng(11)
    checked = 0
    for _ in range(6):
        chip = render_chip(
            rng, size_px=256, source_gsd_m=source_gsd, n_aircraft=(3, 4), cloud_probability=0
        )
        for i, label in enumerate(chip.labels):
            if not _inside(label, 256):
                continue
            across, along = _label_frame_box(chip, i)
            half_s = label.wingspan_m / 2 / chip.gsd_m
            half_l = label.length_m / 2 / chip.gsd_m
            mask_box = shapely.box(
                across.min() - 0.5, along.min() - 0.5, across.max() + 0.5, along.max() + 0.5
            )
            label_box = shapely.box(-half_s, -half_l, half_s, half_l)
            iou = mask_box.intersection(label_box).area / mask_box.union(label_box).area
            assert iou >= 0.9, (label.type, iou)
            # the label polygon is the same rectangle, in image pixels
            assert shapely.Polygon(label.polygon_px).area == pytest.approx(
                4 * half_s * half_l, rel=1e-6
            )
            checked += 1
    assert checked >= 3


@pytest.mark.parametrize("gsd", [0.3, 0.5, 1.0])
@pytest.mark.parametrize("icao", sorted(load_catalog()))
@pytest.mark.parametrize("heading", [0.0, 90.0])
def test_length_and_span_within_one_pixel(gsd, icao, heading):
    """Rendered extents (sum of the per-row / per-column maximum pixel coverage, so partly
    covered edge pixels count by their fraction) match the catalog within one pixel."""
    t = load_catalog()[icao]
    size = int(np.ceil(85 / gsd))
    rgb = np.zeros((size, size, 3), np.float32)
    ids = np.zeros((size, size), np.uint16)
    cov = np.zeros((size, size), np.float32)
    paint = random_paint(np.random.default_rng(0), t)
    draw_aircraft(
        rgb,
        ids,
        1,
        t,
        (size / 2, size / 2, heading),
        paint,
        Sun(135.0, 50.0),
        gsd,
        coverage_out=cov,
    )
    along_axis, across_axis = (1, 0) if heading == 0.0 else (0, 1)
    length_m = cov.max(axis=along_axis).sum() * gsd
    span_m = cov.max(axis=across_axis).sum() * gsd
    assert abs(length_m - t.length_m) <= gsd
    assert abs(span_m - t.wingspan_m) <= gsd


def test_heading_convention_nose_points_up_at_zero():
    t = load_catalog()["B738"]
    chip = compose_chip(
        np.random.default_rng(0),
        [(t, 30.0, 30.0, 0.0)],
        size_px=120,
        gsd_m=0.5,
        source_gsd_m=0.5,
        randomise=False,
    )
    label = chip.labels[0]
    nose_edge = label.polygon_px[:2].mean(axis=0)
    assert nose_edge[1] < label.cy_px  # nose edge above the centre (smaller row)
    rows, _ = np.nonzero(chip.mask == 1)
    assert rows.min() == pytest.approx(label.cy_px - t.length_m / 2 / 0.5, abs=1.5)


def test_clouds_hide_labels():
    rng = np.random.default_rng(2)
    hidden = []
    for _ in range(10):
        chip = render_chip(rng, size_px=192, n_aircraft=(2, 3), cloud_probability=1.0)
        hidden += [lb.hidden for lb in chip.labels]
    assert any(hidden) and not all(hidden)


def test_types_filter():
    chip = render_chip(np.random.default_rng(1), size_px=256, types=["IL62"], n_aircraft=(2, 2))
    assert {lb.type for lb in chip.labels} <= {"IL62"}


def test_small_aircraft_are_scaled_planforms_labelled_unknown():
    kw = dict(size_px=256, gsd_m=0.5, source_gsd_m=0.5, types=["IL62"], n_aircraft=(3, 3))
    chip = render_chip(np.random.default_rng(2), small_share=1.0, **kw)
    il62 = load_catalog()["IL62"]
    assert chip.labels and {lb.type for lb in chip.labels} == {SMALL_TYPE}
    for i, lb in enumerate(chip.labels):
        assert SMALL_LENGTH_RANGE_M[0] <= lb.length_m <= SMALL_LENGTH_RANGE_M[1]
        assert lb.wingspan_m / lb.length_m == pytest.approx(il62.wingspan_m / il62.length_m)
        assert (chip.mask == i + 1).any()  # drawn, at its smaller size
    # the default draws no extra random numbers: the chips are those of before
    same = render_chip(np.random.default_rng(2), **kw)
    assert np.array_equal(
        same.image, render_chip(np.random.default_rng(2), small_share=0, **kw).image
    )
    assert {lb.type for lb in same.labels} == {"IL62"}


def test_unknown_type_is_a_clear_error():
    with pytest.raises(ValueError, match="XX99"):
        render_chip(np.random.default_rng(0), size_px=64, types=["XX99"])


def test_aircraft_cut_by_the_chip_edge_are_difficult():
    """Placed centres fill the whole chip, so some aircraft hang over its edge: those with less
    than MIN_IN_CHIP of their footprint inside are difficult (neither found nor missed)."""
    rng = np.random.default_rng(5)
    labels = [lb for _ in range(6) for lb in render_chip(rng, size_px=96, n_aircraft=(3, 3)).labels]
    for lb in labels:
        inside = shapely.Polygon(lb.polygon_px).intersection(shapely.box(0, 0, 96, 96)).area
        assert lb.in_chip == pytest.approx(inside / shapely.Polygon(lb.polygon_px).area)
        assert lb.difficult == (lb.hidden or lb.in_chip < MIN_IN_CHIP)
    assert any(lb.difficult for lb in labels) and not all(lb.difficult for lb in labels)
