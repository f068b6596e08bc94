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

import numbers
import os
from typing import Any, TypedDict, Unpack


class Options(TypedDict, total=False):
    """The options :func:`set_options` takes (each optional) and :func:`get_options` returns."""

    progress: bool | None
    memory_limit: float | None
    n_jobs: int | None
    compiled: bool


DEFAULTS: dict[str, Any] = {"progress": None, "memory_limit": None, "n_jobs": None, "compiled": True}
"""Every option and its default."""

_options: dict[str, Any] = dict(DEFAULTS)


def get_options() -> dict[str, Any]:
    """The current options (a copy: change them with :func:`set_options`)."""
    return dict(_options)


def set_options(**options: Unpack[Options]) -> dict[str, Any]:
    """Set package-wide options and return their previous values.

    ``set_options(**previous)`` restores them.

    ``progress`` : None, True or False -- see the module notes.
    ``memory_limit`` : bytes a result's draws may take, or None for 80% of the memory
    available when the call starts (see ``mixeff.config.memory_limit``).
    ``n_jobs`` : threads the engine runs row chunks on when a call does not say (None or -1:
    every core this process may use; 1: the calling thread only).  Results do not depend on it.
    ``compiled`` : True (the default) runs the numba kernels of ``mixeff.engine.kernels`` where they
    apply; False runs numpy only.  The numbers are the same either way, bit for bit.
    """
    unknown = sorted(set(options) - set(DEFAULTS))
    if unknown:
        raise ValueError(f"unknown option(s) {unknown}; the options are {sorted(DEFAULTS)}")
    if "progress" in options and options["progress"] not in (None, True, False):
        raise ValueError(f"progress={options['progress']!r} must be None (automatic), True or False")
    limit = options.get("memory_limit")
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, (int, float)) or limit <= 0):
        raise ValueError(f"memory_limit={limit!r} must be a positive number of bytes, or None (automatic)")
    if "n_jobs" in options:
        check_jobs(options["n_jobs"], "n_jobs")
    if "compiled" in options and not isinstance(options["compiled"], bool):
        raise ValueError(
            f"compiled={options['compiled']!r} must be True (numba kernels where they apply) or False (numpy only)"
        )
    previous = {k: _options[k] for k in options}
    _options.update(options)
    return previous


def check_jobs(n_jobs: Any, name: str) -> None:
    """``n_jobs`` must be None, -1 (every core) or a positive whole number of threads."""
    whole = isinstance(n_jobs, numbers.Integral) and not isinstance(n_jobs, bool)
    if n_jobs is None or (whole and n_jobs == -1):
        return
    if not whole or n_jobs < 1:
        raise ValueError(f"{name}={n_jobs!r} must be a positive whole number of threads, or None / -1 for every core")


def available_memory() -> float:
    """Bytes of memory available now (Linux ``MemAvailable``; physical pages elsewhere; inf if unknown)."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return float(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return float(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError, AttributeError):
        return float("inf")


def memory_limit() -> float:
    """Bytes a call's output may take: the ``memory_limit`` option, else 80% of :func:`available_memory`."""
    limit = _options["memory_limit"]
    return float(limit) if limit is not None else 0.8 * available_memory()
