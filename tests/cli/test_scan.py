import pandas as pd
import pytest
from click.testing import CliRunner

from dwelltime.cli import main
from dwelltime.tables import MISSING


@pytest.fixture
def folder(tmp_path, write_raster):
    images = tmp_path / "images"
    write_raster(images / "sunan_20230731T023512.tif", gsd=0.3, count=4, dtype="uint16")
    write_raster(images / "sunan_20230802T020000.tif", gsd=3.0)
    return images


def _scan(*args):
    return CliRunner().invoke(main, ["-q", "scan", *map(str, args)])


def test_scan_prints_a_table(folder):
    result = _scan(folder)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].split() == [
        "scene_id",
        "acquired",
        "(UTC)",
        "time_source",
        "crs",
        "gsd_m",
        "size",
        "bands",
        "dtype",
        "cloud",
        "mask",
    ]
    assert lines[2].split() == [
        "sunan_20230731T023512",
        "2023-07-31",
        "02:35:12",
        "filename",
        "EPSG:32651",
        "0.30",
        "64x64",
        "4",
        "uint16",
        MISSING,  # no cloud mask: cloud there would read as ground seen
    ]
    assert "2 scenes, 0 files skipped" in result.stdout


def test_the_table_names_each_scene_s_cloud_mask(folder, write_raster):
    write_raster(folder / "sunan_20230802T020000_udm2.tif", gsd=3.0, count=8)
    lines = _scan(folder).stdout.splitlines()
    assert lines[2].split()[-1] == MISSING
    assert lines[3].split()[-1] == "sunan_20230802T020000_udm2.tif"


def test_a_crs_without_epsg_code_is_named_not_spelled_out_in_wkt(tmp_path, write_raster):
    tmerc = "+proj=tmerc +lon_0=125 +x_0=500000 +ellps=WGS84 +units=m"
    write_raster(tmp_path / "local_20230731T023512.tif", crs=tmerc, origin=(558000, 4343000))
    result = _scan(tmp_path)
    assert result.exit_code == 0, result.output
    row = result.stdout.splitlines()[2]
    assert "Transverse Mercator, no EPSG code" in row and len(row) < 140


def test_bad_file_is_one_line_and_strict_fails(folder):
    (folder / "broken.tif").write_text("not an image")
    result = _scan(folder)
    assert result.exit_code == 0
    (line,) = result.stderr.splitlines()
    assert line.startswith("skipped ") and "broken.tif" in line and "not a readable" in line
    assert _scan(folder, "--strict").exit_code == 1


def test_strict_fails_on_a_picture_without_georeference(folder):
    from PIL import Image

    Image.new("RGB", (16, 16)).save(folder / "quicklook.jpg")
    result = _scan(folder)
    assert result.exit_code == 0 and "1 picture without georeference" in result.stdout
    strict = _scan(folder, "--strict")
    assert strict.exit_code == 1 and "1 file could not be used" in strict.output


def test_no_scene_exits_1(tmp_path):
    result = _scan(tmp_path)
    assert result.exit_code == 1
    assert "no usable scene" in result.stderr


def test_the_summary_counts_files_not_the_empty_folder_and_says_1_file(folder, tmp_path):
    """An empty folder is said once (no image under it), not counted as "1 files skipped";
    one unusable file is "1 file", not "1 files"."""
    empty = tmp_path / "empty"
    empty.mkdir()
    assert _scan(empty).stdout.splitlines() == [f"0 scenes in {empty}"]
    (folder / "broken.tif").write_text("not an image")
    assert _scan(folder).stdout.splitlines()[-1] == f"2 scenes, 1 file skipped in {folder}"


def test_a_file_for_the_folder_is_one_line_not_a_traceback(tmp_path):
    notes = tmp_path / "notes.txt"
    notes.write_text("not imagery")
    result = _scan(notes)
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit)
    (line,) = result.stderr.splitlines()
    assert line.startswith("Error: ") and "notes.txt" in line and "neither a folder" in line


def test_times_csv_wins(folder, tmp_path):
    times = tmp_path / "times.csv"
    times.write_text("stem,acquired\nsunan_20230802T020000,2023-08-02T03:00:00Z\n")
    result = _scan(folder, "--times", times)
    assert result.exit_code == 0
    row = next(line for line in result.stdout.splitlines() if "20230802" in line)
    assert "2023-08-02 03:00:00" in row and " user " in row


def test_bad_times_csv_is_a_usage_error(folder, tmp_path):
    times = tmp_path / "times.csv"
    times.write_text("stem,acquired\nx,not a time\n")
    result = _scan(folder, "--times", times)
    assert result.exit_code == 2
    assert "--times" in result.stderr and "times.csv: line 2" in result.stderr


def test_out_writes_scenes_and_refuses_to_overwrite(folder, tmp_path):
    out = tmp_path / "out"
    assert _scan(folder, "--out", out).exit_code == 0
    frame = pd.read_csv(out / "scenes.csv")
    assert frame["scene_id"].tolist() == ["sunan_20230731T023512", "sunan_20230802T020000"]
    assert (out / "dwelltime.gpkg").exists()
    again = _scan(folder, "--out", out)
    assert again.exit_code == 1 and "--overwrite" in again.stderr
    assert _scan(folder, "--out", out, "--overwrite").exit_code == 0


def test_help_names_every_time_source_in_order_of_trust_and_dimap_products():
    from dwelltime.timesources import TIME_SOURCES

    said = {
        "user": "--times,",
        "stac": "a STAC item",
        "planet_json": "Planet metadata (JSON",
        "planet_xml": "then XML)",
        "maxar_imd": "a Maxar .IMD",
        "dimap": "Airbus DIMAP (IMAGING_DATE",
        "gdal_tag": "the ACQUISITIONDATETIME",
        "filename": "a date and time in the file name",
    }
    text = " ".join(CliRunner().invoke(main, ["scan", "--help"]).output.split())
    assert list(said) == list(TIME_SOURCES)
    places = [text.find(said[source]) for source in TIME_SOURCES]
    assert -1 not in places and places == sorted(places), places
    assert "Airbus DIM_*.XML products" in text


def test_the_table_fits_a_narrow_terminal_and_says_what_it_left_out(folder, monkeypatch):
    monkeypatch.setattr("dwelltime.cli.scan.terminal_width", lambda: 60)
    lines = _scan(folder).stdout.splitlines()
    assert max(map(len, lines[:-1])) <= 60  # the table and its note; then the count
    assert lines[0].split()[:3] == ["scene_id", "acquired", "(UTC)"]
    assert lines[2].split()[:3] == ["sunan_20230731T023512", "2023-07-31", "02:35:12"]
    note = " ".join(lines[4:-1])
    assert note.startswith("(narrowed to 60 columns: no dtype, no bands") and "pipe" in note
    monkeypatch.setattr("dwelltime.cli.scan.terminal_width", lambda: None)  # a file or pipe
    assert "narrowed" not in _scan(folder).stdout
