"""mixeff.fit: samplers, argument checks, and the fit object."""

import numpy as np
import pytest

import mixeff


def test_nutpie_sampler_gives_the_same_model(magnusson_fit):
    d = mixeff.datasets.load_magnusson()
    f = mixeff.fit(
        "y ~ 1 + TX + (1 | cluster)",
        d,
        family="lognormal",
        draws=300,
        tune=300,
        chains=2,
        seed=3,
        sampler="nutpie",
        progress=False,
    )
    assert f.idata["posterior"].sizes["chain"] == 2 and f.spec().n_samples == 600
    ours = mixeff.avg_comparisons(f, "TX", type="link", re_formula="NA").draws[0]
    ref = mixeff.avg_comparisons(magnusson_fit, "TX", type="link", re_formula="NA").draws[0]
    # two samplers, one posterior: medians of b_TX agree within a few Monte-Carlo errors
    se = np.std(ref) / np.sqrt(100)  # conservative: ESS >= 100 in these short chains
    assert abs(np.median(ours) - np.median(ref)) < 5 * se
    np.testing.assert_allclose(ours, f.spec().beta[:, f.spec().beta_names.index("TX")])


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"sampler": "stan"}, "sampler='stan' must be 'pymc' or 'nutpie'"),
        ({"family": "vonmises"}, "family=.vonmises. is not supported: its mean is an angle"),
        ({"family": "bernoulli", "link": "log"}, "link='log' is not available for family 'bernoulli'"),
        ({"sample_prior": "maybe"}, "sample_prior='maybe' is not one of"),
    ],
)
def test_fit_rejects_bad_arguments_before_sampling(kwargs, match):
    d = mixeff.datasets.load_magnusson()
    with pytest.raises(ValueError, match=match):
        mixeff.fit("y ~ 1 + TX + (1 | cluster)", d, **{"family": "lognormal", **kwargs})


def test_fit_object_and_repr(magnusson_fit):
    assert magnusson_fit.available_draws == ["posterior"]
    assert magnusson_fit.spec() is magnusson_fit.spec("posterior")  # built once
    assert "y ~ 1 + TX + (1 | cluster)" in repr(magnusson_fit)
    with pytest.raises(ValueError, match="draws='chains' must be 'posterior' or 'prior'"):
        magnusson_fit.spec("chains")
