"""Adapters: turn a fitted model (Bambi) or plain arrays of draws into a ModelSpec."""

from .arrays import from_arrays as from_arrays
from .bambi import spec_from_bambi as spec_from_bambi
from .brms import from_brms_draws as from_brms_draws
