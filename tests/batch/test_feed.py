"""Reader workers hand over a scene's tiles intact: pixels, georeferencing and valid masks."""

from __future__ import annotations

import dataclasses
import multiprocessing
import time
import weakref
from pathlib import Path

import numpy as np
import pytest
import torch

from dwelltime.airports import load_aprons, lookup_airport
from dwelltime.batch import feed
from dwelltime.batch.feed import read_payload
from dwelltime.scenes import scan
from dwelltime.tiling import TileSpec, iter_tiles

SPEC = TileSpec(gsd_m=0.5, size_px=512)


@pytest.fixture(scope="module")
def demo_scenes(demo_dir: Path):
    site = lookup_airport("ZKPY")
    aprons = load_aprons(site, demo_dir / "aprons.geojson")
    return site, aprons, scan(demo_dir / "imagery").scenes


@pytest.mark.parametrize(
    ("workers", "slot_tiles"),
    [(0, None), (2, 64), (2, 1)],  # read here; through the tile ring; too large for its slots
)
def test_payloads_match_the_tiles_read_directly(demo_scenes, workers, slot_tiles, monkeypatch):
    """In order across workers and across the airports of a job (here one airport's scenes
    as two jobs), with more scenes than ring slots."""
    site, aprons, scenes = demo_scenes
    if slot_tiles:
        monkeypatch.setattr(feed, "RING_SLOT_PIXELS", slot_tiles * SPEC.size_px**2)
    jobs = [(scenes[:3], site, aprons), (scenes[3:], site, aprons)]
    partial = full = 0
    seen, slots = [], set()
    with feed.JobFeed(jobs, SPEC, workers=workers, cuda=False) as job_feed:
        assert (job_feed.ring is None) == (workers == 0)
        assert len(scenes) > 2 * workers + 2  # slots are reused
        for scene, payload in zip(scenes, job_feed.next_scenes(len(scenes)), strict=True):
            seen.append(payload.scene.scene_id)
            slots.add(payload.slot)
            expected = list(iter_tiles(scene, site, aprons, SPEC))
            tiles = payload.full_tiles()
            assert payload.error is None and len(tiles) == len(expected) > 0
            for i, (got, want) in enumerate(zip(tiles, expected, strict=True)):
                assert torch.equal(payload.images[i], torch.from_numpy(want.image))
                np.testing.assert_array_equal(got.valid, want.valid)
                assert got.transform == want.transform and got.index == want.index
            partial += int(payload.partial.sum())
            full += int((~payload.partial).sum())
    assert seen == [s.scene_id for s in scenes]
    assert partial and full  # both kinds of tile were handed over
    assert (None in slots) == (slot_tiles != 64)  # in the ring when the tiles fit its slots


@pytest.mark.parametrize("slot_tiles", [None, 64, 1])  # no ring; in a slot; too large for one
def test_tiles_are_copied_into_the_payload_as_they_are_read(demo_scenes, slot_tiles, monkeypatch):
    """A scene's tiles were all read into a list, then copied: held twice. Now, when a tile
    is read, the one before is already copied and let go."""
    site, aprons, scenes = demo_scenes
    ring = None
    if slot_tiles:
        monkeypatch.setattr(feed, "RING_SLOT_PIXELS", slot_tiles * SPEC.size_px**2)
        ring = feed.TileRing(1, SPEC.size_px)
    read, held = [], []

    def spy(*args):
        for tile in iter_tiles(*args):
            held.append(sum(ref() is not None for ref in read))
            read.append(weakref.ref(tile.image))
            yield tile

    monkeypatch.setattr(feed, "iter_tiles", spy)
    payload = read_payload(scenes[0], site, aprons, SPEC, ring)
    assert payload.error is None and len(payload.tiles) == len(read) > 1
    assert max(held) <= 1  # the tile in hand, none more
    assert (payload.slot is None) == (slot_tiles != 64)
    expected = list(iter_tiles(scenes[0], site, aprons, SPEC))
    images = ring.attach(payload).images if ring else payload.images
    assert torch.equal(images, torch.from_numpy(np.stack([t.image for t in expected])))


def test_a_scene_that_cannot_be_read_becomes_an_error_payload(demo_scenes, tmp_path):
    site, aprons, scenes = demo_scenes
    broken = tmp_path / scenes[0].path.name
    broken.write_bytes(b"not a tiff")
    scene = dataclasses.replace(scenes[0], path=broken)
    payload = read_payload(scene, site, aprons, SPEC)
    assert payload.error and broken.name in payload.error
    assert payload.tiles == [] and payload.images.shape[0] == 0 and payload.full_tiles() == []


def test_without_room_for_the_ring_scenes_travel_in_buffers_of_their_own(
    demo_scenes, monkeypatch, caplog
):
    def no_room(self, slots, tile_px):
        raise RuntimeError("unable to allocate shared memory(shm): No space left on device")

    monkeypatch.setattr(feed.TileRing, "__init__", no_room)
    site, aprons, scenes = demo_scenes
    with feed.JobFeed([(scenes[:2], site, aprons)], SPEC, workers=1, cuda=False) as job_feed:
        payloads = [(p.slot, p.images.shape[0], len(p.tiles)) for p in job_feed.next_scenes(2)]
    assert job_feed.ring is None and "no tile ring of 4 slots" in caplog.text
    assert [slot for slot, _, _ in payloads] == [None, None]
    assert all(n_images == n_tiles > 0 for _, n_images, n_tiles in payloads)


def test_more_workers_than_cpus_or_scenes_start_no_more_readers(demo_scenes, monkeypatch, caplog):
    """`workers: 64` on a 2-CPU machine: 2 readers (a warning says so), and a ring for 2
    (not 130 slots of shared memory); never more readers than scenes to read."""

    def no_room(self, slots, tile_px):
        raise RuntimeError("no shared memory here")

    monkeypatch.setattr(feed.TileRing, "__init__", no_room)
    monkeypatch.setattr(feed.os, "sched_getaffinity", lambda pid: {0, 1})
    site, aprons, scenes = demo_scenes
    with feed.JobFeed([(scenes[:3], site, aprons)], SPEC, workers=64, cuda=False) as job_feed:
        assert len(list(job_feed.next_scenes(3))) == 3
    assert "workers: 64 reader processes asked for, on 2 CPUs: at most 2 started" in caplog.text
    assert "no tile ring of 6 slots" in caplog.text  # READ_AHEAD × 2 readers + 2
    assert feed.reader_count(64, 1) == 1 and feed.reader_count(0, 5) == 0


def test_a_feed_cut_short_stops_its_readers(demo_scenes):
    site, aprons, scenes = demo_scenes
    before = set(multiprocessing.active_children())
    with (
        pytest.raises(RuntimeError, match="cut short"),
        feed.JobFeed([(scenes, site, aprons)], SPEC, workers=2, cuda=False) as job_feed,
    ):
        next(job_feed.next_scenes(len(scenes)))
        assert len(set(multiprocessing.active_children()) - before) == 2
        raise RuntimeError("cut short")
    deadline = time.monotonic() + 30
    while set(multiprocessing.active_children()) - before and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not set(multiprocessing.active_children()) - before


def test_readers_read_with_gdal_cache_capped(monkeypatch):
    """A reader reads its scenes with GDAL's block cache at READ_CACHE_BYTES, not 5 % of the
    RAM in every reader process."""
    from rasterio.env import getenv

    from dwelltime.regrid import READ_CACHE_BYTES

    caches = []
    monkeypatch.setattr(
        feed, "read_payload", lambda *args: caches.append(getenv().get("GDAL_CACHEMAX"))
    )
    list(feed.SceneTiles([(["a", "b"], None, None)], SPEC))
    assert caches == [READ_CACHE_BYTES] * 2
