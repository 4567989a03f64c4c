import numpy as np
import pytest

from dwelltime.evaluation.geometry import iou_matrix
from dwelltime.footprints import axis_aligned, corner_attributes, footprint_corners


def rect(cx, cy, length, span, heading, y_down=True):
    return footprint_corners(
        np.array([cx]),
        np.array([cy]),
        np.array([length]),
        np.array([span]),
        np.array([heading]),
        y_down=y_down,
    )


def test_heading_zero_points_up_in_pixels_and_north_in_maps():
    c = rect(10, 10, 4, 2, 0)[0]
    assert np.allclose(c, [[9, 8], [11, 8], [11, 12], [9, 12]])  # nose edge at the top row
    m = rect(10, 10, 4, 2, 0, y_down=False)[0]
    assert np.allclose(m[:2, 1], 12)  # nose edge to the north


def test_heading_90_points_right():
    c = rect(0, 0, 4, 2, 90)[0]
    assert np.allclose((c[0] + c[1]) / 2, [2, 0])


@pytest.mark.parametrize("y_down", [True, False])
@pytest.mark.parametrize("heading", [0.0, 30.0, 135.0, 270.0, 359.0])
def test_corner_attributes_round_trip(heading, y_down):
    cx, cy, length, span, head = corner_attributes(
        rect(5, -3, 53.1, 43.2, heading, y_down), y_down=y_down
    )
    assert np.allclose([cx[0], cy[0], length[0], span[0]], [5, -3, 53.1, 43.2])
    assert np.isclose((head[0] - heading + 180) % 360 - 180, 0)


def test_iou_of_rotated_rectangles_matches_known_areas():
    square = rect(0, 0, 2, 2, 0)
    # the same square turned 45°: intersection is a regular octagon of area 8(√2 − 1)
    diamond = rect(0, 0, 2, 2, 45)
    inter = 8 * (np.sqrt(2) - 1)
    assert np.isclose(iou_matrix(square, diamond)[0, 0], inter / (8 - inter))
    # half overlap of two 2×2 squares: 2 / 6
    shifted = rect(1, 0, 2, 2, 0)
    assert np.isclose(iou_matrix(square, shifted)[0, 0], 2 / 6)
    # heading 180 covers the same rectangle
    assert np.isclose(iou_matrix(rect(3, 4, 5, 2, 20), rect(3, 4, 5, 2, 200))[0, 0], 1)


def test_iou_matrix_shapes_and_disjoint_and_degenerate():
    a = np.concatenate([rect(0, 0, 2, 2, 0), rect(100, 100, 2, 2, 10)])
    b = np.concatenate([rect(0, 0, 2, 2, 0), rect(50, 50, 2, 2, 0), rect(0, 0, 0, 0, 0)])
    iou = iou_matrix(a, b)
    assert iou.shape == (2, 3)
    assert np.allclose(iou, [[1, 0, 0], [0, 0, 0]])
    assert iou_matrix(a, np.zeros((0, 4, 2))).shape == (2, 0)
    assert iou_matrix(np.zeros((0, 4, 2)), b).shape == (0, 3)


def test_axis_aligned_encloses_rotated_rectangle():
    box = axis_aligned(rect(0, 0, 2, 2, 45))[0]
    r = np.sqrt(2)
    assert np.allclose(box, [[-r, -r], [r, -r], [r, r], [-r, r]])


def test_cross_box_encloses_fuselage_and_wing_only():
    from dwelltime.footprints import cross_boxes

    # 40 long, 20 wide, at 45°: fuselage ±20/√2 on both axes, wing ±10/√2
    box = cross_boxes(rect(0, 0, 40, 20, 45))[0]
    h = 20 / np.sqrt(2)
    assert np.allclose(box, [[-h, -h], [h, -h], [h, h], [-h, h]])
    upright = rect(5, 5, 40, 20, 0)  # an axis-aligned rectangle is its own cross box
    assert np.allclose(cross_boxes(upright)[0], axis_aligned(upright)[0])


def test_clip_boxes_cuts_to_the_image_frame():
    from dwelltime.footprints import box_corners, clip_boxes

    boxes = box_corners(np.array([[-10.0, 5, 30, 25], [90, 90, 120, 95], [10, 10, 20, 20]]))
    clipped = clip_boxes(boxes, 100, 80)
    assert np.allclose(
        axis_aligned(clipped)[:, [0, 2]].reshape(3, 4),
        [[0, 5, 30, 25], [90, 80, 100, 80], [10, 10, 20, 20]],
    )
