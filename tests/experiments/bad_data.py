"""Data files for the tests of bad input: a good series table and its broken variants, and multi-label
arrays, ``.npz`` files and series tables, good and broken (tests of experiments and of the CLI use them)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from experiments.settings import Series

N = 40

GOOD = pd.DataFrame({"id": ["a"] * 30 + ["b"] * 30, "t": list(range(30)) * 2, "x": np.sin(np.arange(60.0)),
                     "y": np.cos(np.arange(60.0)), "label": np.arange(60) % 2})


def bad_series(tmp_path, case):
    """The file and settings of one bad case."""
    settings = dict(target="y", features=("x",), id="id", time="t", window=3)
    frame = GOOD.copy()
    name = "bad.csv"
    if case == "missing_file":
        return tmp_path / "nowhere.csv", settings
    if case == "unknown_suffix":
        name = "bad.txt"
    elif case == "not_utf8":
        path = tmp_path / name
        path.write_bytes(b"x,y\n\xff\xfe,1\n")
        return path, settings
    elif case == "empty_file":
        (tmp_path / name).write_text("")
        return tmp_path / name, settings
    elif case == "no_rows":
        frame = frame.iloc[:0]
    elif case == "missing_feature":
        settings["features"] = ("x", "z")
    elif case == "missing_target":
        settings["target"] = "Y"
    elif case == "text_feature":
        frame["x"] = frame["x"].astype(str)
        frame.loc[7, "x"] = "n/a!"
    elif case == "text_target":
        frame["y"] = "high"
    elif case == "missing_value":
        frame.loc[12, "y"] = np.nan
    elif case == "too_few_rows":
        frame = frame[(frame["id"] == "a") | (frame["t"] < 12)]
    elif case == "horizon_past_the_end":
        settings["horizon"] = 5
    elif case == "constant_feature":
        frame["x"] = 3.0
    elif case == "constant_target":
        frame["y"] = -1.0
    elif case == "one_class":
        frame["label"] = np.where(frame["t"] < 24, 0, 1)  # training parts: t < 22
        settings.update(target="label", task="classification")
    elif case == "fractional_labels":
        frame["label"] = frame["label"] + 0.5
        settings.update(target="label", task="classification")
    elif case == "negative_labels":
        frame["label"] = frame["label"] - 1
        settings.update(target="label", task="classification")
    elif case == "repeated_time":
        frame.loc[3, "t"] = 2
    elif case == "missing_id":
        frame["id"] = frame["id"].astype(object)
        frame.loc[5, "id"] = None
    path = tmp_path / name
    frame.to_csv(path, index=False)
    return path, settings



def arrays(seed=0):
    rng = np.random.default_rng(seed)
    y = (rng.random((N, 3)) < 0.4).astype(np.int64)
    y[:, 0] = np.arange(N) % 2  # each label varies in any split's training part
    y[:, 1] = np.arange(N) % 3 == 0
    y[:, 2] = np.arange(N) % 4 == 1
    x = rng.normal(size=(N, 6, 2))
    static = np.stack([np.arange(N) * 10.0, rng.normal(size=N) * 3 + 5], axis=1)
    return {"X": x, "y": y, "static": static}


def npz(tmp_path, name="ml.npz", **arrays):
    path = tmp_path / name
    np.savez(path, **{k: v for k, v in arrays.items() if v is not None})
    return path


def bad_npz(tmp_path, case):
    a = arrays()
    nan_static = a["static"].copy()
    nan_static[7, 1] = np.nan
    constant = a["y"].copy()
    constant[:, 2] = 0
    changed = {
        "labels_not_01": {"y": np.where(a["y"] == 1, 2, 0)},
        "labels_fraction": {"y": a["y"] * 0.5},
        "static_count": {"static": a["static"][:-3]},
        "static_nan": {"static": nan_static},
        "static_1d": {"static": a["static"][:, 0]},
        "static_text": {"static": a["static"].astype(str)},
        "static_constant": {"static": np.ones((N, 2))},
        "constant_label": {"y": constant},
        "one_column": {"y": a["y"][:, :1]},
    }[case]
    return npz(tmp_path, f"{case}.npz", **{**a, **changed})


def table(tmp_path, **change):
    """Three shops of 60 days: two 0/1 label columns, a feature, a static size per shop."""
    rows = []
    for shop, size in (("a", 1.0), ("b", 4.0), ("c", 9.0)):
        for day in range(60):
            rows.append({"shop": shop, "day": day, "sales": np.sin(day / 3) * size, "size": size,
                         "promo": int(day % 4 == 0), "holiday": int(day % 7 == 3)})
    frame = pd.DataFrame(rows)
    for column, (row, value) in change.items():
        frame.loc[row, column] = value
    path = tmp_path / "shops.csv"
    frame.to_csv(path, index=False)
    return Series(path=path, target=("promo", "holiday"), features=("sales",), static=("size",), id="shop",
                  time="day", task="classification", window=5, horizon=0)
