"""predict_scenes: scenes' tiles in batches, the next batch launched before this one is
collected, results and errors per scene in order."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dwelltime.detector import Detector, load_detector, predict_scenes

SIZE = 64  # tile pixels


@pytest.fixture
def detector(tiny_refiner_model, classes, dims) -> Detector:
    """The tiny untrained network with a refiner that verifies, so collect both decodes and
    refines (the score threshold low enough that random weights find something)."""
    from dwelltime.detector.decode import DecodeConfig

    config = DecodeConfig(score_threshold=0.05, verify_weight=0.5, candidate_threshold=0.01)
    return Detector(
        tiny_refiner_model, classes=classes, dimensions=dims, device="cpu", decode_config=config
    )


def tiles(seed: int, n: int) -> torch.Tensor:
    """``n`` random (3, 64, 64) uint8 tiles."""
    rng = np.random.default_rng(seed)
    return torch.from_numpy(rng.integers(0, 256, (n, 3, SIZE, SIZE), dtype=np.uint8))


def test_each_scene_gets_the_predictions_of_its_own_tiles_in_order(detector, same_detections):
    scenes = [("a", tiles(1, 5)), ("unreadable", "SceneError: no CRS"), ("b", tiles(2, 0))]
    scenes.append(("c", tiles(3, 2)))
    got = list(predict_scenes(scenes, detector, batch_size=2))
    assert [key for key, _ in got] == ["a", "unreadable", "b", "c"]
    assert got[1][1] == "SceneError: no CRS" and got[2][1] == []
    found = 0
    for (_, predictions), (_, images) in zip(got[::3], scenes[::3], strict=True):
        same_detections(
            predictions,
            [d for i in range(len(images)) for d in detector.predict(images[i : i + 1])],
        )
        found += sum(map(len, predictions))
    assert found  # the comparison saw detections, not only empty tiles


def test_the_next_batch_is_launched_before_this_one_is_collected(detector, monkeypatch):
    calls = []
    launch, collect = detector.launch, detector.collect

    def recording_launch(images):
        calls.append(f"launch {int(images[0, 0, 0, 0])}")
        return launch(images)

    def recording_collect(passes):
        calls.append("collect")
        return collect(passes)

    monkeypatch.setattr(detector, "launch", recording_launch)
    monkeypatch.setattr(detector, "collect", recording_collect)
    numbered = torch.arange(5, dtype=torch.uint8)[:, None, None, None].expand(5, 3, SIZE, SIZE)
    scenes = [("a", numbered[:3]), ("b", numbered[3:])]
    got = [key for key, _ in predict_scenes(scenes, detector, batch_size=2)]
    assert got == ["a", "b"]
    assert calls == ["launch 0", "launch 2", "collect", "launch 3", "collect", "collect"]


def test_an_error_in_one_scene_fails_that_scene_only(detector, monkeypatch):
    collect = detector.collect
    seen = []

    def failing_on_the_second_batch(passes):
        seen.append(len(passes))
        if len(seen) == 2:
            raise RuntimeError("CUDA error: an illegal memory access")
        return collect(passes)

    monkeypatch.setattr(detector, "collect", failing_on_the_second_batch)
    scenes = [("a", tiles(1, 2)), ("b", tiles(2, 3)), ("c", tiles(3, 1))]
    got = dict(predict_scenes(scenes, detector, batch_size=2))
    assert got["b"] == "RuntimeError: CUDA error: an illegal memory access"
    assert len(got["a"]) == 2 and len(got["c"]) == 1
    with pytest.raises(ValueError, match="B, 3, H, W"):
        detector.launch(np.zeros((3, SIZE, SIZE), np.uint8))
    (bad,) = predict_scenes([("bad", torch.zeros((2, 1, SIZE, SIZE), dtype=torch.uint8))], detector)
    assert bad[1].startswith("ValueError: images must be (B, 3, H, W)")


def test_a_scene_s_tiles_may_be_reused_once_the_next_is_asked_for(detector, same_detections):
    """As the batch job's tile ring does: the reader overwrites a slot once it is given back."""
    sources = [tiles(1, 3), tiles(2, 3)]
    slot = torch.empty_like(sources[0])

    def reusing():
        for key, images in enumerate(sources):
            slot.copy_(images)
            yield key, slot

    got = dict(predict_scenes(reusing(), detector, batch_size=3))
    for key, images in enumerate(sources):
        same_detections(got[key], detector.predict(images))


@pytest.mark.needs_cuda
def test_on_cuda_the_overlapped_scenes_match_one_batch_at_a_time(same_detections):
    """The shipped weights on rendered chips, passed as the batch job's tile ring does: every
    scene in one pinned buffer, overwritten when the next is asked for. Copying, decoding and
    refining on streams of their own while the next batch's network runs changes nothing."""
    from dwelltime.synth import render_chip

    detector = load_detector(device="cuda")
    rng = np.random.default_rng(7)
    chips = [render_chip(rng, size_px=512, source_gsd_m=0.5, n_aircraft=(4, 4)) for _ in range(12)]
    images = torch.from_numpy(np.stack([c.image.transpose(2, 0, 1) for c in chips]))
    scenes = [images[i : i + 3] for i in range(0, 12, 3)]
    slot = torch.empty_like(scenes[0]).pin_memory()

    def through_one_slot():
        for key, scene_tiles in enumerate(scenes):
            slot.copy_(scene_tiles)
            yield key, slot

    got = dict(predict_scenes(through_one_slot(), detector, batch_size=2))
    found = 0
    for key, scene_tiles in enumerate(scenes):
        want = [d for i in range(0, 3, 2) for d in detector.predict(scene_tiles[i : i + 2])]
        same_detections(got[key], want)
        found += sum(map(len, want))
    assert found >= 20
