import numpy as np
import pytest

from dwelltime.evaluation.predict import lower_score_floor, predict_image


def test_each_aircraft_once_across_overlaps(marker_detector):
    image = np.zeros((3, 300, 300), np.uint8)
    image[0, 50, 50] = 255
    image[0, 120, 140] = 255  # inside the overlap of four tiles
    image[0, 290, 10] = 255
    det = marker_detector()
    calls = []
    objects = predict_image(
        det,
        image,
        0.5,
        tile_px=128,
        overlap_px=32,
        batch_size=4,
        progress=lambda done, total: calls.append((done, total)),
    )
    centres = sorted(map(tuple, objects.polygons.mean(axis=1).round(1)))
    assert centres == [(10.5, 290.5), (50.5, 50.5), (140.5, 120.5)]
    assert list(objects.types) == ["IL62"] * 3
    assert np.allclose(objects.length_m, 10) and np.allclose(objects.span_m, 8)
    assert calls[-1] == (9, 9) and all(shape[0] <= 4 for shape in det.batches)


def test_resampled_to_model_gsd_and_back(marker_detector):
    image = np.zeros((3, 200, 200), np.uint8)
    image[0, 98:104, 58:64] = 255  # one 0.5 m pixel fully inside after resampling
    objects = predict_image(marker_detector(), image, 0.25, tile_px=64, overlap_px=16)
    assert len(objects) == 1
    assert np.allclose(objects.polygons.mean(axis=1), [[61, 101]])
    # 20 model pixels of 0.5 m are 10 m, and 40 pixels of the 0.25 m image
    assert objects.length_m[0] == pytest.approx(10)
    assert np.ptp(objects.polygons[0, :, 0]) == pytest.approx(40)


def test_small_image_padded_and_nothing_found(marker_detector):
    objects = predict_image(marker_detector(), np.zeros((3, 30, 40), np.uint8), np.nan)
    assert len(objects) == 0


def test_nothing_kept_from_the_padding(marker_detector):
    class PaddingDetector(marker_detector):
        def predict(self, images):
            images = images.copy()
            images[:, 0, 50, 50] = 255  # outside the 30 × 40 image
            return super().predict(images)

    objects = predict_image(PaddingDetector(), np.zeros((3, 30, 40), np.uint8), 0.5)
    assert len(objects) == 0


def test_lower_score_floor(marker_detector):
    det = marker_detector()
    lower_score_floor(det, 0.05)
    assert det.decode_config.score_threshold == 0.05
    lower_score_floor(det, 0.2)
    assert det.decode_config.score_threshold == 0.05


def test_with_the_real_untrained_detector():
    from dwelltime.detector import Detector, build_detector, default_classes

    classes = default_classes()
    detector = Detector(build_detector(num_classes=len(classes)), classes=classes, device="cpu")
    lower_score_floor(detector, 0.0)  # report every peak, so that there is something to read
    image = np.random.default_rng(0).integers(0, 256, (3, 100, 90), dtype=np.uint8)
    objects = predict_image(detector, image, 1.0, tile_px=64, overlap_px=16)
    assert len(objects) > 0 and set(objects.types) <= set(classes)
    assert np.all(objects.length_m > 0) and np.all((objects.score >= 0) & (objects.score <= 1))
