"""Package-wide options: defaults that a call's own arguments override.

``progress``: ``None`` (the default) shows a progress bar only when a call is large
(see :data:`mixeff.engine.passes.PROGRESS_MIN_CELLS`) and stderr is a terminal;
``True`` always shows one (throttled to a few lines when stderr is not a terminal);
``False`` never does.  A verb's ``progress=`` argument, when given, wins.

This module imports nothing else of mixeff, so every layer may read it.

Examples
--------
>>> from mixeff.config import get_options, set_options
>>> before = set_options(progress=False)
>>> get_options()["progress"]
False
>>> _ = set_options(**before)
>>> get_options()["progress"] is None
True
"""

from __future__ import annotations

DEFAULTS: dict = {"progress": None}
"""Every option and its default."""

_options: dict = dict(DEFAULTS)


def get_options() -> dict:
    """The current options (a copy: change them with :func:`set_options`)."""
    return dict(_options)


def set_options(**options) -> dict:
    """Set package-wide options; returns their previous values, so that
    ``set_options(**previous)`` restores them.

    ``progress`` : None, True or False -- see the module notes.
    """
    unknown = sorted(set(options) - set(DEFAULTS))
    if unknown:
        raise ValueError(f"unknown option(s) {unknown}; the options are {sorted(DEFAULTS)}")
    if "progress" in options and options["progress"] not in (None, True, False):
        raise ValueError(f"progress={options['progress']!r} must be None (automatic), True or False")
    previous = {k: _options[k] for k in options}
    _options.update(options)
    return previous
