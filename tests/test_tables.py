import math

import pandas as pd

from dwelltime.tables import format_table, format_value


def test_format_value():
    assert format_value(pd.Timestamp("2023-07-31T11:35:12+09:00")) == "2023-07-31 02:35:12"
    assert format_value(pd.NaT) == "-"
    assert format_value(math.nan) == "-"
    assert format_value(None) == "-"
    assert format_value("") == "-"
    assert format_value(0.333) == "0.33"
    assert format_value(7) == "7"


def test_format_table_aligns_and_renames():
    frame = pd.DataFrame({"name": ["a", "long name"], "gsd_m": [0.3, 12.0], "n": [1, 100]})
    text = format_table(frame, ["name", "gsd_m"], headers={"gsd_m": "GSD (m)"})
    assert text.splitlines() == [
        "name       GSD (m)",
        "---------  -------",
        "a             0.30",
        "long name    12.00",
    ]


def test_format_table_custom_formatter_and_empty_frame():
    frame = pd.DataFrame({"n": [5]})
    assert format_table(frame, ["n"], formatters={"n": lambda v: f"#{v}"}).splitlines()[2] == "#5"
    assert format_table(frame.iloc[:0], ["n"]).splitlines() == ["n", "-"]


def test_format_table_aligns_wide_characters_of_korean_file_names():
    """A Hangul syllable takes two terminal columns: the next column starts under its header."""
    frame = pd.DataFrame({"scene_id": ["순안_0731", "sunan_0801"], "bands": [3, 4]})
    lines = format_table(frame, ["scene_id", "bands"]).splitlines()
    assert lines[0] == "scene_id    bands"
    assert lines[2] == "순안_0731       3"
    assert lines[3] == "sunan_0801      4"
