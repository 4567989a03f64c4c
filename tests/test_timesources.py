from pathlib import Path

import pandas as pd
import pytest

from dwelltime.timesources import (
    NoTimeError,
    TimesError,
    filename_time,
    read_times_csv,
    user_times,
)

T0 = pd.Timestamp("2023-07-31T02:35:12Z")


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("sunan_2023-07-31_02-35-12.tif", T0),  # as Windows, which forbids ':', allows it
        ("sunan_2023-07-31T02_35_12.tif", T0),
        ("sunan_2023-07-31 02.35.12.tif", T0),
        ("sunan_2023-07-31_02-35.tif", T0.floor("min")),  # hours and minutes
        ("sunan_20230731T0235.tif", T0.floor("min")),
        ("sunan_2023-07-31T11:35:12+09:00.tif", T0),  # the zone is applied
        ("sunan_20230731T113512+0900.tif", T0),
        ("sunan_20230730T213512-0500.tif", T0),
        ("sunan_20230731T023512.123Z.tif", T0),
        ("sunan_20230731T023512-1234.tif", T0),  # -12:34 is no UTC offset: not a zone
    ],
)
def test_file_name_times_in_other_spellings(name, expected):
    assert filename_time(Path(name)).acquired == expected


def test_a_date_and_a_number_is_still_a_date_alone():
    with pytest.raises(NoTimeError, match="no time of day"):
        filename_time(Path("sunan_20230731_0235.tif"))  # 0235: a time or a tile number


@pytest.mark.parametrize(
    ("name", "spelt"),
    [
        ("sunan_20230731-0235.tif", "20230731T0235"),
        ("sunan_2023-07-31_0235_v2.tif", "2023-07-31T0235"),
    ],
)
def test_four_digits_after_a_date_are_named_with_the_spelling_that_reads_them(name, spelt):
    """``20230731-0235`` was refused as a date with 'no time of day', not a word of the 0235
    the user sees in the name, nor how to write it so that it is read."""
    with pytest.raises(NoTimeError) as refused:
        filename_time(Path(name))
    assert (
        f"no time of day (0235 after it may be a time or a tile number: if it is the "
        f"time, put a T before it, {spelt});" in str(refused.value)
    )
    assert filename_time(Path(f"sunan_{spelt}.tif")).acquired == T0.floor("min")


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        ("sunan_20990731T023512.tif", "2099-07-31T02:35:12Z is in the future"),
        ("sunan_19700101T000000.tif", "1970-01-01T00:00:00Z is before 1990"),
    ],
)
def test_a_file_name_time_that_cannot_be_the_acquisition_is_refused(name, problem):
    with pytest.raises(NoTimeError, match=f"the file name's date-time {problem}.*--times"):
        filename_time(Path(name))


def test_a_user_time_in_the_future_is_refused_an_early_one_taken(tmp_path):
    csv = tmp_path / "times.csv"
    csv.write_text("path,acquired\na.tif,2023-07-31T02:35:12Z\nb.tif,2100-07-31T02:35:12Z\n")
    with pytest.raises(TimesError, match=r"times.csv: line 3: 2100-07-31T02:35:12Z is in the fu"):
        read_times_csv(csv)
    with pytest.raises(TimesError, match=r"times\['b.tif'\]: 2100-07-31T02:35:12Z is in the fu"):
        user_times({"b.tif": "2100-07-31T02:35:12Z"})
    corona = pd.Timestamp("1968-05-02T04:00Z")  # archive imagery: the user's word is taken
    assert user_times({"kh4b.tif": corona}) == {"kh4b.tif": corona}
