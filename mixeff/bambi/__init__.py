"""Everything that touches Bambi, PyMC or PyTensor: fitting, priors, correlated random effects, the adapter.

The rest of mixeff never imports these libraries: a fit from brms draws or plain arrays needs
neither (install them with ``pip install 'mixeff[bambi]'``).  Modules here import them inside
the functions that use them, and :func:`require` names the extra when they are missing.
"""

from __future__ import annotations

import importlib

INSTALL_HINT = "pip install 'mixeff[bambi]'"


def require(what: str):
    """Import and return ``bambi`` (after PyMC), or raise an ImportError naming the extra to install.

    ``what`` names the feature that needs them, for the message.
    """
    try:
        importlib.import_module("pymc")
        return importlib.import_module("bambi")
    except ImportError as err:
        raise ImportError(
            f"{what} fits models with Bambi and PyMC, which are not installed ({err}); install them with "
            f"{INSTALL_HINT}, or bring draws from brms (mixeff.from_brms_draws) or arrays (mixeff.from_arrays)"
        ) from err
