"""Adapters: turn brms draws or plain arrays of draws into a ModelSpec (Bambi's: :mod:`mixeff.bambi.adapter`)."""

from .arrays import from_arrays as from_arrays
from .brms import from_brms_draws as from_brms_draws
