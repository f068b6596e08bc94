"""Example data sets: reference data from ``data/`` and the synthetic CES-like survey.

* Reference data copied into the repository's ``data/`` folder
  (:func:`load_magnusson`, :func:`load_sleepstudy`).
* A **SYNTHETIC** ordinal data set in the design of Randall's (1989) wine-tasting
  experiment (R's ``ordinal::wine``), simulated from a cumulative-logit model with
  judge intercepts whose true parameters are :data:`WINE_TRUTH` (:func:`load_wine`).
* A **SYNTHETIC** stand-in for the Cooperative Election Study (CES) survey of the
  marginaleffects book's MRP chapter, with a known truth: written by
  ``mixeff.datasets.ces`` (:func:`make_ces_like`, :func:`write_ces_like`) and
  read back by :func:`load_ces_like`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .ces import (  # noqa: F401  (re-exported)
    AGE_LEVELS,
    DEFAULT_SEED,
    EDUCATION_LEVELS,
    FILES,
    GENDER_LEVELS,
    SAMPLING_TILT,
    STATE_SIZES,
    TRUE_FIXED_EFFECTS,
    TRUE_RE_COR,
    TRUE_RE_SD,
    make_ces_like,
    write_ces_like,
)


def _data_dir() -> Path:
    return Path(__file__).resolve().parents[2] / "data"


# pandas < 3 needs the "round_trip" float parser for floats written with repr()
# to come back bit-exact; pandas >= 3 parses them exactly by default and
# deprecates the argument.
_FLOAT_KW = {"float_precision": "round_trip"} if int(pd.__version__.split(".")[0]) < 3 else {}


def _read_csv(path: Path, **kwargs: Any) -> pd.DataFrame:
    # no NA parsing: no field is ever missing in these files
    options: dict[str, Any] = {"keep_default_na": False, "na_values": [], **_FLOAT_KW, **kwargs}
    return pd.read_csv(path, **options)


def load_ces_like(directory: str | Path | None = None) -> dict[str, pd.DataFrame]:
    """Read the synthetic CES-like CSV files written by :func:`write_ces_like`.

    ``directory`` defaults to the repository's ``data/`` folder.  Returns the
    same dict of data frames as :func:`make_ces_like`, with ``age`` and
    ``education`` restored as ordered categoricals and ``state``/``gender`` as
    strings.

    Examples
    --------
    >>> d = load_ces_like()
    >>> d["survey"].shape, d["demographics"].shape, d["truth"].shape
    ((3000, 6), (6912, 6), (48, 5))
    >>> list(d["survey"]["age"].cat.categories)
    ['18-29', '30-39', '40-49', '50-59', '60-69', '70+']
    """
    directory = _data_dir() if directory is None else Path(directory)
    str_cols = {"state": str, "gender": str}
    int_cols = {"defund": np.int64, "military": np.int64, "n_survey": np.int64}
    out: dict[str, pd.DataFrame] = {}
    for key, name in FILES.items():
        df = _read_csv(directory / name, dtype={**str_cols, "age": str, "education": str})
        for col, dtype in int_cols.items():
            if col in df:
                df[col] = df[col].astype(dtype)
        if "age" in df:
            df["age"] = pd.Categorical(df["age"], categories=list(AGE_LEVELS), ordered=True)
        if "education" in df:
            df["education"] = pd.Categorical(df["education"], categories=list(EDUCATION_LEVELS), ordered=True)
        for col in ("age", "education"):
            if col in df and df[col].isna().any():
                raise ValueError(f"{name}: unknown {col} level(s) in file")
        out[key] = df
    return out


def load_magnusson() -> pd.DataFrame:
    """Kristoffer Magnusson's simulated gambling-losses data (lognormal outcome).

    Reads ``data/magnusson_lognormal.csv``: 600 rows, ``cluster`` (returned as
    a string column, so that it is treated as a grouping factor; 20 clusters,
    "1"-"10" control, "11"-"20" treated), ``TX`` (int 0/1) and ``y`` (> 0).

    Examples
    --------
    >>> df = load_magnusson()
    >>> df.shape, df["cluster"].nunique()
    ((600, 3), 20)
    """
    df = _read_csv(_data_dir() / "magnusson_lognormal.csv", dtype={"cluster": str})
    df["TX"] = df["TX"].astype(np.int64)
    return df


def load_sleepstudy() -> pd.DataFrame:
    """lme4's ``sleepstudy`` data (reaction times under sleep deprivation).

    Reads ``data/sleepstudy.csv``: 180 rows, ``Reaction`` (ms), ``Days`` (0-9)
    and ``Subject`` (returned as a string column; 18 subjects).

    Examples
    --------
    >>> df = load_sleepstudy()
    >>> df.shape, df["Subject"].nunique()
    ((180, 3), 18)
    """
    df = _read_csv(_data_dir() / "sleepstudy.csv", dtype={"Subject": str})
    df["Days"] = df["Days"].astype(np.int64)
    return df


WINE_TRUTH = {
    "seed": 1989,
    "thresholds": (-1.3, 1.3, 3.5, 5.0),
    "temp[warm]": 2.5,
    "contact[yes]": 1.5,
    "sd(judge)": 1.1,
}
"""The model that generated ``data/wine_synthetic.csv`` (see ``data/README.md``):
``logit P(rating <= k) = thresholds[k] - (2.5 [temp = warm] + 1.5 [contact = yes] + u_judge)``,
``u_judge ~ N(0, 1.1^2)``, numpy's ``default_rng(seed)``.  The parametrisation of brms's and
Bambi's ``cumulative`` family."""

WINE_RATINGS = (1, 2, 3, 4, 5)
"""The categories of ``load_wine()["rating"]``, in order (1 = least bitter)."""


def load_wine() -> pd.DataFrame:
    """A SYNTHETIC wine-tasting data set: ordinal bitterness ratings by 9 judges.

    The design of Randall's (1989) experiment, R's ``ordinal::wine``: each of 9
    judges rates the bitterness of 8 bottles on a 1-5 scale, two bottles for each
    ``temp`` (cold/warm) x ``contact`` (no/yes, skin contact while pressing)
    condition, 72 rows.  The ratings are simulated (not Randall's) from the
    cumulative-logit model with judge random intercepts in :data:`WINE_TRUTH`;
    ``data/README.md`` has the code that wrote ``data/wine_synthetic.csv``.

    Returns ``rating`` as an ordered Categorical with the integer categories
    1 < 2 < 3 < 4 < 5 (what Bambi's ``cumulative`` family expects; mixeff's results
    name them "1".."5" in their ``group`` column), ``temp`` and ``contact`` as
    strings (reference levels "cold" and "no" come first alphabetically),
    ``judge`` as a string ("1".."9", a grouping factor) and ``bottle`` (int 1-8).

    Examples
    --------
    >>> df = load_wine()
    >>> df.shape, df["judge"].nunique()
    ((72, 5), 9)
    >>> df["rating"].cat.categories.tolist(), df["rating"].cat.ordered
    ([1, 2, 3, 4, 5], True)
    >>> df.groupby("temp")["rating"].apply(lambda r: float((r >= 4).mean())).round(3).to_dict()
    {'cold': 0.083, 'warm': 0.389}
    """
    df = _read_csv(_data_dir() / "wine_synthetic.csv", dtype={"temp": str, "contact": str, "judge": str})
    df["bottle"] = df["bottle"].astype(np.int64)
    rating = df["rating"].astype(np.int64)
    if not rating.isin(WINE_RATINGS).all():
        raise ValueError("wine_synthetic.csv: ratings must be whole numbers 1-5")
    df["rating"] = pd.Categorical(rating, categories=list(WINE_RATINGS), ordered=True)
    return df
