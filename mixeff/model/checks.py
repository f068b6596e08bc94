"""Argument checks shared by fitting, adapters and verbs."""

from __future__ import annotations

import numbers


def check_whole(name: str, value, least: int, *, example: int | None = None, none_ok: bool = False) -> None:
    """``value`` must be a whole number ``>= least`` (or None when ``none_ok``).

    TypeError for a wrong type (a bool, a float, a string), ValueError for a number out of range.

    Examples
    --------
    >>> check_whole("chains", 0, 1, example=4)
    Traceback (most recent call last):
    ...
    ValueError: chains=0: chains must be an int >= 1, e.g. chains=4
    """
    if value is None and none_ok:
        return
    whole = isinstance(value, numbers.Integral) and not isinstance(value, bool)
    if whole and value >= least:
        return
    hint = "" if example is None else f", e.g. {name}={example}"
    raise (ValueError if whole else TypeError)(
        f"{name}={value!r}: {name} must be an int >= {least}{hint}" + (" (or None)" if none_ok else "")
    )
