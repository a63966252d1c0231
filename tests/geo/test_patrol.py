"""Patrol cleaning and path cells, checked with h3's own neighbour relation."""

import itertools

import h3
import numpy as np
import pandas as pd

from geo import patrol


def _walk(n=60, step_s=30, speed=1.3, lon0=113.9, lat0=35.3):
    t = pd.date_range("2026-10-01 08:00", periods=n, freq=f"{step_s}s", tz="Asia/Shanghai")
    dist = np.arange(n) * speed * step_s  # metres east
    lon = lon0 + dist / (111_320 * np.cos(np.radians(lat0)))
    return pd.DataFrame({"time": t, "lon": lon, "lat": lat0, "accuracy": 5.0})


def test_jump_and_poor_fix_are_dropped():
    df = _walk()
    df.loc[20, "lon"] += 0.01  # ~900 m teleport for one fix
    df.loc[30, "accuracy"] = 150.0
    clean, report = patrol.clean_fixes(df)
    assert report.dropped["impossible_speed"] == 1
    assert report.dropped["poor_accuracy"] == 1
    assert len(clean) == len(df) - 2
    assert df.loc[20, "time"] not in set(clean["time"])
    assert df.loc[30, "time"] not in set(clean["time"])


def test_split_at_long_silence():
    a, b = _walk(20), _walk(20)
    b["time"] = b["time"] + pd.Timedelta(hours=2)
    parts = patrol.split_tracks(pd.concat([a, b], ignore_index=True))
    assert [len(p) for p in parts] == [20, 20]


def test_path_cells_skip_no_cell_at_res10():
    # 30 s samples at 1.5 m/s are 45 m apart; the densified path must still give a
    # chain of cells in which each is the previous one's neighbour.
    cells = patrol.path_cells(_walk(120, 30, 1.5), 10)["cell"].tolist()
    hexes = [h3.int_to_str(c) for c in cells]
    assert len(hexes) > 5
    assert all(h3.are_neighbor_cells(a, b) for a, b in itertools.pairwise(hexes))


def test_visits_count_passes_per_day():
    day1 = _walk(10)
    back = day1.iloc[::-1].assign(time=day1["time"] + pd.Timedelta(minutes=10))
    passes = patrol.path_cells(pd.concat([day1, back], ignore_index=True), 10)
    visits = patrol.visits_by_worker(passes.assign(worker_code="W1"))
    # Cells walked out and back were passed twice; the turning-point cell once.
    assert visits["pass_count"].max() == 2
    assert set(visits["day"].astype(str)) == {"2026-10-01"}
