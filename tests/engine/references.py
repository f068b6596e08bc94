"""Independent references shared by the engine's tests."""

import numpy as np
from scipy import integrate


def quad_reference(f, eta, sd, epsrel=1e-13):
    """∫ f(η + u) φ_sd(u) du by scipy's adaptive quad, split where the integrand's mass sits (f(η) at sd 0)."""
    if sd == 0:
        return float(f(np.array(eta)))
    pdf = lambda u: np.exp(-0.5 * (u / sd) ** 2) / (sd * np.sqrt(2 * np.pi))  # noqa: E731
    centre = float(np.clip(-eta, -(sd**2), sd**2))
    cuts = sorted({-60 * sd - 60, min(0.0, centre) - 8 * sd, 0.0, centre, max(0.0, centre) + 8 * sd, 60 * sd + 60})
    return sum(
        integrate.quad(lambda u: f(eta + u) * pdf(u), a, b, epsabs=0, epsrel=epsrel, limit=1000)[0]
        for a, b in zip(cuts[:-1], cuts[1:])
    )
