"""engine.options: one call's validated options, frozen, with brms's and marginaleffects' defaults."""

import dataclasses

import pytest

from mixeff.engine.options import SAMPLE_NEW_LEVELS, TYPES, PassOptions


def test_defaults_are_brms_and_marginaleffects_defaults():
    o = PassOptions()
    assert o.type == "response" and o.dpar is None
    assert o.allow_new_levels is False and o.sample_new_levels == "uncertainty"  # brms's default
    assert o.include == {} and o.dpar_include == {}
    assert o.seed is None and o.chunk_rows is None and o.progress is None and o.n_jobs is None


def test_the_vocabularies():
    assert TYPES == ("response", "link", "prediction", "log_lik")  # log_lik: mixeff.log_lik only
    assert set(SAMPLE_NEW_LEVELS) == {"uncertainty", "gaussian", "old_levels", "integrate"}


def test_options_are_frozen_and_replaced_not_edited():
    o = PassOptions(include={"g": [0]}, seed=3)
    with pytest.raises(dataclasses.FrozenInstanceError):
        o.seed = 4
    p = dataclasses.replace(o, type="link")
    assert (p.type, p.seed, p.include) == ("link", 3, {"g": [0]}) and o.type == "response"
    assert PassOptions().include is not PassOptions().include  # no shared mutable default
