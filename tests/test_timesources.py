from pathlib import Path

import pandas as pd
import pytest

from dwelltime.timesources import NoTimeError, filename_time

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
