"""detect_tiles: batched inference, valid masks, georeferencing and merging across tiles."""

from __future__ import annotations

import gc
import weakref

import numpy as np
import pandas as pd
import pytest
import torch
from affine import Affine

from dwelltime.detector import DecodeConfig, Detector, TileDetections, detect_tiles
from dwelltime.detector.types import size_sigma_m
from dwelltime.schema import DETECTION_COLUMNS
from dwelltime.tiling import Tile

ACQUIRED = pd.Timestamp("2026-07-31T03:00:00Z")
SIZE = 128  # tile pixels
#: Every peak kept: an untrained network's score under the default threshold, and a test
#: comparing its detections must compare some.
EVERY_PEAK = DecodeConfig(score_threshold=0.0, max_detections=4)


def tile(
    index: int,
    x0: float,
    *,
    scene: str = "s1",
    valid: np.ndarray | None = None,
    crs: str = "EPSG:32651",
) -> Tile:
    """A 128 px tile at 0.5 m whose west edge is ``x0`` metres (north edge y = 64 m)."""
    return Tile(
        scene_id=scene,
        airport="ZKPY",
        acquired=ACQUIRED,
        index=index,
        crs=crs,
        transform=Affine(0.5, 0, x0, 0, -0.5, 64.0),
        image=np.full((3, SIZE, SIZE), index, dtype=np.uint8),
        valid=np.ones((SIZE, SIZE), bool) if valid is None else valid,
    )


def one(cx: float, cy: float, score: float, heading: float = 45.0) -> TileDetections:
    """One IL62-sized aircraft (53 × 43 m = 106 × 86 px) in tile pixels."""
    probs = np.array([[0.4, 0.4, 0.2]])
    return TileDetections(
        np.array([cx]),
        np.array([cy]),
        np.array([106.24]),
        np.array([86.4]),
        np.array([heading]),
        probs,
        np.array([score]),
    )


@pytest.fixture
def detector(tiny_model, classes, dims, monkeypatch) -> Detector:
    """A detector whose predictions are scripted per tile (the tile's image value = index)."""
    det = Detector(tiny_model, classes=classes, dimensions=dims, device="cpu")
    scripted: dict[int, TileDetections] = {}

    def predict(images: np.ndarray) -> list[TileDetections]:
        return [scripted.get(int(im[0, 0, 0]), TileDetections.empty(3)) for im in images]

    monkeypatch.setattr(det, "predict", predict)
    det.scripted = scripted
    return det


def test_aircraft_on_a_seam_is_reported_once(detector):
    # tiles at x 0..64 m and 32..96 m; aircraft centred at x = 60 m: cut in tile 0, whole in 1
    detector.scripted[0] = one(120.0, 64.0, score=0.9)
    detector.scripted[1] = one(56.0, 64.0, score=0.6)
    detector.scripted[2] = one(64.0, 64.0, score=0.8)  # another scene, same place
    tiles = [tile(0, 0.0), tile(1, 32.0), tile(2, 0.0, scene="s2")]
    calls = []
    out = detect_tiles(tiles, detector, batch_size=2, progress=calls.append)
    assert calls == [2, 1]
    assert list(out.columns[: len(DETECTION_COLUMNS)]) == list(DETECTION_COLUMNS)
    assert list(out["detection_id"]) == ["s1:1", "s2:1"]
    row = out.iloc[0]
    assert row["tile_index"] == 1 and row["score"] == pytest.approx(0.6)
    assert (row["x"], row["y"]) == pytest.approx((60.0, 32.0))
    assert row["heading_deg"] == pytest.approx(45.0)
    assert row["length_m"] == pytest.approx(53.12) and row["wingspan_m"] == pytest.approx(43.2)
    assert row["type"] == "IL62" and row["size_class"] == "large"
    assert row["geometry"].area == pytest.approx(53.12 * 43.2)
    assert out.crs.to_epsg() == 32651
    assert out["acquired"].iloc[0] == ACQUIRED


def test_aircraft_cut_by_the_outer_edge_beats_a_weaker_partial_copy(detector):
    # tiles at x 0..64 m and 32..96 m; the aircraft (x = 40 m, nose up) runs off the top of
    # the tiled area in tile 0: no tile sees more of it, so its strong copy is kept, not the
    # weak half-size copy that tile 1 holds wholly inside
    detector.scripted[0] = one(80.0, 10.0, score=0.9, heading=0.0)
    detector.scripted[1] = TileDetections(
        np.array([20.0]),
        np.array([30.0]),
        np.array([40.0]),
        np.array([30.0]),
        np.array([0.0]),
        np.array([[0.4, 0.4, 0.2]]),
        np.array([0.4]),
    )
    out = detect_tiles([tile(0, 0.0), tile(1, 32.0)], detector)
    assert len(out) == 1
    assert out["tile_index"].iloc[0] == 0 and out["score"].iloc[0] == pytest.approx(0.9)


def test_detections_on_masked_pixels_are_dropped(detector):
    valid = np.ones((SIZE, SIZE), bool)
    valid[:, 64:] = False
    detector.scripted[0] = one(100.0, 64.0, score=0.9)
    assert detect_tiles([tile(0, 0.0, valid=valid)], detector).empty


def test_an_aircraft_reaching_masked_pixels_is_marked_cut(detector):
    """Its length and span are of the part seen: ``cut`` says so, for linking."""
    small = TileDetections(
        np.array([64.0]),
        np.array([64.0]),
        np.array([40.0]),  # nose up: columns 49..79
        np.array([30.0]),
        np.array([0.0]),
        np.array([[0.4, 0.4, 0.2]]),
        np.array([0.9]),
    )
    detector.scripted[0] = small
    cut = {}
    for edge in (None, 90, 81):  # all seen, cloud from column 90, from column 81
        valid = np.ones((SIZE, SIZE), bool)
        if edge is not None:
            valid[:, edge:] = False
        out = detect_tiles([tile(0, 0.0, valid=valid)], detector)
        assert str(out["cut"].dtype) == "bool"
        cut[edge] = bool(out["cut"].iloc[0])
    assert cut == {None: False, 90: False, 81: True}


def test_a_scenes_pixels_are_not_held_until_its_last_tile(detector, monkeypatch):
    # Merging needs each tile's georeferencing and mask, not its pixels: a scene of hundreds
    # of tiles held ~1 MB of each until the last one was detected. Only the batch in hand is.
    images: list[weakref.ref] = []

    def tiles():
        for i in range(6):
            t = tile(i, 32.0 * i, valid=np.arange(SIZE * SIZE).reshape(SIZE, SIZE) % 7 > 0)
            images.append(weakref.ref(t.image))
            yield t

    held = []
    predict = detector.predict

    def counting(batch: np.ndarray) -> list[TileDetections]:
        gc.collect()
        held.append(sum(ref() is not None for ref in images))
        return predict(batch)

    monkeypatch.setattr(detector, "predict", counting)
    detector.scripted[5] = one(64.0, 64.0, score=0.9)  # on a valid pixel of the last tile
    out = detect_tiles(tiles(), detector, batch_size=2)
    assert held == [2, 2, 2]
    assert list(out["tile_index"]) == [5]


def test_coarse_source_gsd_gives_unknown_type_and_a_wider_size_sigma(detector):
    detector.scripted[0] = one(64.0, 64.0, score=0.9)
    out = detect_tiles([tile(0, 0.0)], detector, source_gsd_m=2.5)
    assert list(out["type"]) == ["unknown"] and list(out["size_class"]) == ["large"]
    fine = detect_tiles([tile(0, 0.0)], detector, source_gsd_m=0.5)
    assert list(fine["size_sigma_m"]) == [pytest.approx(size_sigma_m(0.5))]
    assert list(out["size_sigma_m"]) == [pytest.approx(size_sigma_m(2.5))]
    assert size_sigma_m(2.5) > size_sigma_m(0.5) > 0


def test_no_tiles_and_no_aircraft_give_empty_frames(detector):
    for tiles in ([], [tile(0, 0.0)]):
        out = detect_tiles(tiles, detector)
        assert out.empty
        assert set(DETECTION_COLUMNS) <= set(out.columns)


def test_predict_on_an_untrained_network_returns_one_result_per_image(tiny_model, classes, dims):
    det = Detector(
        tiny_model, classes=classes, dimensions=dims, device="cpu", decode_config=EVERY_PEAK
    )
    images = np.random.default_rng(2).integers(0, 256, (2, 3, 100, 70), dtype=np.uint8)
    out = det.predict(images)  # padded to 128 x 96 inside
    assert len(out) == 2
    for d in out:
        assert len(d) > 0
        assert d.type_probs.shape[1] == 3
        assert np.all((d.cx < 70) & (d.cy < 100))
    with pytest.raises(ValueError, match="B, 3, H, W"):
        det.predict(np.zeros((3, 64, 64), dtype=np.uint8))


def test_cpu_batches_pass_through_the_network_in_parts(tiny_model, classes, dims, monkeypatch):
    import dwelltime.detector.predict as predict

    det = Detector(
        tiny_model, classes=classes, dimensions=dims, device="cpu", decode_config=EVERY_PEAK
    )
    monkeypatch.setitem(predict.CPU_PASS_PIXELS, det.precision, 2 * 64 * 64)
    shapes = []
    det.model.register_forward_hook(lambda _m, args, _out: shapes.append(tuple(args[0].shape)))
    images = np.random.default_rng(1).integers(0, 256, (5, 3, 64, 64), dtype=np.uint8)
    out = det.predict(images)
    assert shapes == [(2, 3, 64, 64), (2, 3, 64, 64), (1, 3, 64, 64)]
    for image, got in zip(images, out, strict=True):
        (want,) = det.predict(image[None])
        assert len(got) == len(want) > 0
        np.testing.assert_allclose(got.score, want.score, rtol=1e-5)
        np.testing.assert_allclose(got.cx, want.cx)


def test_a_compiled_network_runs_every_batch_at_the_largest_size(
    tiny_model, classes, dims, monkeypatch
):
    """torch.compile is replaced by a recorder: the test is about the padding, not Inductor."""
    shapes = []

    def recording_compile(model, **kwargs):
        assert kwargs == {"dynamic": False}

        def network(x, **kw):
            shapes.append(tuple(x.shape))
            return model(x, **kw)

        return network

    monkeypatch.setattr(torch, "compile", recording_compile)
    kwargs = {"classes": classes, "dimensions": dims, "device": "cpu", "decode_config": EVERY_PEAK}
    eager = Detector(tiny_model, **kwargs)
    compiled = Detector(tiny_model, compiled=True, **kwargs)
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (4, 3, 64, 64), dtype=np.uint8)
    assert len(compiled.predict(images)) == 4
    last = compiled.predict(images[:1])  # a partial last batch runs padded to 4
    assert shapes == [(4, 3, 64, 64), (4, 3, 64, 64)]
    (want,) = eager.predict(images[:1])
    assert len(last) == 1 and len(last[0]) == len(want) > 0
    np.testing.assert_allclose(last[0].score, want.score, rtol=1e-5)
    np.testing.assert_allclose(last[0].cx, want.cx)


def test_pixel_frame_tiles_give_no_crs_and_mixed_crs_are_refused(detector):
    detector.scripted[0] = one(64.0, 64.0, score=0.9)
    out = detect_tiles([tile(0, 0.0, crs="")], detector)
    assert len(out) == 1 and out.crs is None
    with pytest.raises(ValueError, match="several CRS"):
        detect_tiles([tile(0, 0.0), tile(1, 0.0, crs="EPSG:32652")], detector)


def test_bf16_runs_the_network_under_autocast_and_decodes_in_fp32(tiny_model, classes, dims):
    dtypes = []
    images = np.random.default_rng(3).integers(0, 256, (1, 3, 64, 64), dtype=np.uint8)
    for precision in ("bf16", "fp32"):
        det = Detector(
            tiny_model, classes=classes, dimensions=dims, device="cpu", precision=precision
        )
        det.model.register_forward_hook(lambda _m, _a, out: dtypes.append(out[0].dtype))
        (out,) = det.predict(images)
        assert out.score.dtype == np.float32
    assert dtypes == [torch.bfloat16, torch.float32]


def test_cuda_on_a_machine_without_it_is_refused_with_what_to_use(monkeypatch):
    from dwelltime.detector.predict import resolve_device
    from dwelltime.errors import SettingsError

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert resolve_device("auto") == torch.device("cpu")
    with pytest.raises(SettingsError, match="torch sees no CUDA GPU here; use cpu or auto"):
        resolve_device("cuda:1")


@pytest.mark.parametrize("device", ["mps", "xpu", "meta"])
def test_a_device_this_torch_cannot_use_is_refused_with_what_to_use(device):
    from dwelltime.detector.predict import resolve_device
    from dwelltime.errors import SettingsError

    if device != "meta" and getattr(torch, device).is_available():
        pytest.skip(f"{device} is usable here")
    with pytest.raises(SettingsError, match=f"device '{device}'.*use cpu"):
        resolve_device(device)
