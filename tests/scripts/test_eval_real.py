"""scripts/eval_real.py: its help says what it runs by default."""

from __future__ import annotations

import pytest


def test_help_gives_each_setting_its_default(script):
    text = " ".join(script("eval_real").build_parser().format_help().split())
    for shown in ("(default: 512)", "(default: 128)", "(default: auto)", "S03", "(default: 0.5)"):
        assert shown in text


def airbus_folder(root):
    """A one-image airbus_dev-like folder (labels only: nothing here reads the image)."""
    (root / "images").mkdir(parents=True)
    (root / "sites.csv").write_text("image,site_id\na.jpg,S03\n")
    (root / "annotations.csv").write_text(
        'id,image_id,geometry,class\n1,a.jpg,"[(1, 1), (9, 1), (9, 9), (1, 9), (1, 1)]",Airplane\n'
    )
    return root


def test_tables_already_in_out_are_refused_before_any_detection(script, tmp_path, monkeypatch):
    module = script("eval_real")
    data = airbus_folder(tmp_path / "airbus")
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "evaluation.json").write_text("{}")

    def no_detector(args):
        raise AssertionError("the detector ran before the output was checked")

    monkeypatch.setattr(module, "detector_and_threshold", no_detector)
    with pytest.raises(SystemExit) as refused:
        module.main(["--data", str(data), "--out", str(tmp_path / "out")])
    assert str(refused.value) == (
        f"{tmp_path / 'out' / 'evaluation.json'} already exists; pass --overwrite to replace it"
    )


def test_a_missing_data_folder_or_unknown_site_is_one_line(script, tmp_path):
    module = script("eval_real")
    with pytest.raises(SystemExit) as missing:
        module.main(["--data", str(tmp_path / "nowhere")])
    assert "annotations.csv: not found; --data takes the airbus_dev folder" in str(missing.value)
    data = airbus_folder(tmp_path / "airbus")
    with pytest.raises(SystemExit) as unknown:  # S03 alone was scored without a word
        module.main(["--data", str(data), "--sites", "S03", "S99"])
    assert str(unknown.value) == f"--sites S99: no image in {data / 'sites.csv'}; its sites are S03"


@pytest.mark.parametrize("limit", ["0", "-1"])
def test_a_limit_under_one_is_a_usage_error_not_fewer_images(script, tmp_path, capsys, limit):
    module = script("eval_real")
    data = airbus_folder(tmp_path / "airbus")
    with pytest.raises(SystemExit) as refused:  # -1 was every image but the last
        module.main(["--data", str(data), "--limit", limit])
    assert refused.value.code == 2
    assert capsys.readouterr().err.splitlines()[-1].endswith(f"--limit {limit}: give at least 1")


@pytest.mark.parametrize("metres", ["0.3", "0"])
def test_coarsen_to_a_gsd_not_coarser_than_the_images_is_a_usage_error(
    script, tmp_path, capsys, metres
):
    module = script("eval_real")
    data = airbus_folder(tmp_path / "airbus")
    with pytest.raises(SystemExit) as refused:  # 0.3 made 0.5 m images finer, 0 divided by 0
        module.main(["--data", str(data), "--coarsen-to", metres, "--limit", "1"])
    assert refused.value.code == 2
    assert capsys.readouterr().err.splitlines()[-1].endswith("give a GSD coarser than --gsd 0.5")


def test_images_missing_from_the_folder_are_named_and_the_others_scored(script, tmp_path, caplog):
    module = script("eval_real")
    data = airbus_folder(tmp_path / "airbus")
    with open(data / "sites.csv", "a") as f:
        f.write("b.jpg,S03\nc.jpg,S13\n")
    with pytest.raises(SystemExit) as none:  # a copy of the training sites only
        module.site_images(data, ["S03", "S13"])
    assert "none of the 3 images of sites S03, S13 is there" in str(none.value)
    (data / "images" / "b.jpg").write_bytes(b"")
    assert module.site_images(data, ["S03", "S13"]) == ["b.jpg"]
    assert "2 of the 3 images of sites S03, S13 are not in" in caplog.text
    assert caplog.text.rstrip().endswith("not scored: a.jpg, c.jpg")
