"""Which files ``dwelltime detect`` reads from the paths it is given."""

from __future__ import annotations

from dwelltime.detector.images import collect


def test_folders_give_their_images_without_masks(tmp_path):
    for name in ("a.tif", "a_3B_udm2.tif", "b.JP2", "notes.txt", "sub/c.png", "sub/d.ntf"):
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_bytes(b"")
    found = collect([tmp_path, tmp_path / "notes.txt"])
    names = [p.relative_to(tmp_path).as_posix() for p in found]
    assert names == ["a.tif", "b.JP2", "sub/c.png", "sub/d.ntf", "notes.txt"]
