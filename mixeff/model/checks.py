"""Argument checks shared by fitting, adapters and verbs."""

from __future__ import annotations

import numbers


def check_whole(
    name: str, value, least: int, *, example: int | None = None, none_ok: bool = False, meaning: str = ""
) -> None:
    """``value`` must be a whole number ``>= least`` (or None when ``none_ok``).

    TypeError for a wrong type (a bool, a float, a string), ValueError for a number out of range.
    ``meaning`` says what the number counts, for the message (``"x values"``).

    Examples
    --------
    >>> check_whole("chains", 0, 1, example=4)
    Traceback (most recent call last):
    ...
    ValueError: chains=0: chains must be an int >= 1, e.g. chains=4
    >>> check_whole("n_points", 2.5, 2, example=50, meaning="x values along the axis")
    Traceback (most recent call last):
    ...
    TypeError: n_points=2.5: n_points must be an int >= 2 (x values along the axis), e.g. n_points=50
    """
    if value is None and none_ok:
        return
    whole = isinstance(value, numbers.Integral) and not isinstance(value, bool)
    if whole and value >= least:
        return
    hint = "" if example is None else f", e.g. {name}={example}"
    what = f" ({meaning})" if meaning else ""
    raise (ValueError if whole else TypeError)(
        f"{name}={value!r}: {name} must be an int >= {least}{what}{hint}" + (" (or None)" if none_ok else "")
    )
