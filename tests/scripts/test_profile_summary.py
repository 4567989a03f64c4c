"""scripts/profile_summary.py on a hand-made speedscope profile."""

from __future__ import annotations


def _profile() -> dict:
    """Main thread: 3 samples in the scene loop (2 in predict, 1 waiting), 1 before it; a
    second thread never in the loop."""
    names = ["main", "_local_scenes", "predict", "conv", "select"]
    frames = [{"name": n, "file": f"/src/pkg/{n}.py", "line": 1} for n in names]
    return {
        "shared": {"frames": frames},
        "profiles": [
            {
                "name": "main thread",
                "unit": "seconds",
                "samples": [[0, 1, 2, 3], [0, 1, 2, 3], [0, 1, 4], [0, 4]],
                "weights": [0.01, 0.01, 0.02, 0.5],
            },
            {"name": "pin thread", "unit": "seconds", "samples": [[4]], "weights": [1.0]},
        ],
    }


def test_shares_count_only_the_samples_and_frames_inside_the_loop(script):
    lines = script("profile_summary").summarise(_profile(), "_local_scenes", top=5)
    assert lines[0] == "## main thread: 0.04 seconds in _local_scenes"
    inclusive = lines[lines.index("inclusive:") + 1 : lines.index("innermost:")]
    assert inclusive == [  # ties by name
        "   50.0%  conv (pkg/conv.py)",
        "   50.0%  predict (pkg/predict.py)",
        "   50.0%  select (pkg/select.py)",
    ]
    assert lines[lines.index("innermost:") + 1 :] == [
        "   50.0%  conv (pkg/conv.py:1)",
        "   50.0%  select (pkg/select.py:1)",
    ]
    assert not any("pin thread" in line for line in lines)


def test_reads_a_gzipped_profile(script, tmp_path, monkeypatch, capsys):
    import gzip
    import json

    path = tmp_path / "profile.json.gz"
    with gzip.open(path, "wt") as f:
        json.dump(_profile(), f)
    monkeypatch.setattr("sys.argv", ["profile_summary", str(path), "--top", "1"])
    script("profile_summary").main()
    assert capsys.readouterr().out.startswith("## main thread: 0.04 seconds in _local_scenes")
