"""Correlated group-level terms, brms's ``(1 + x | g)``, in a Bambi model's PyMC graph.

Bambi gives every group-level term its own independent normal (bambi #702).  brms
correlates the terms written inside one ``( ... | g)``: for level j of g,
``r_j = diag(sd) L z_j`` with ``z_j ~ N(0, I)``, ``L`` the Cholesky factor of the
terms' correlation matrix (LKJ prior) and ``sd`` their standard deviations -- the
non-centred form of brms's Stan code.  :func:`build_correlated` builds a Bambi model
that way.  Everything else in the PyMC model (fixed terms and their centring,
uncorrelated group terms, the likelihood) is Bambi's own, and the draws keep Bambi's
names (``1|Subject``, ``Days|Subject``, ``1|Subject_sigma``...), plus one
``<block>_cor`` per block: the correlations of each pair of its terms, along a
``<block>__cor_dim`` dim whose coordinates name the pairs as brms does
(``Intercept__Days``; a full matrix would hold a constant diagonal, whose R-hat is 0/0).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from ..model.formula import formula_bars, parse_formula

COR_DIM = "__cor_dim"
"""Suffix of the dim of a block's correlations (one per pair of terms)."""
PAIR = "__"
"""Joins the two term labels of a correlation's coordinate, as brms's ``cor_g__Intercept__Days``."""


@dataclass(frozen=True)
class CorrelatedBlock:
    """The terms of one ``( ... | factor)`` whose effects are correlated (Bambi term names)."""

    factor: str
    terms: tuple[str, ...]
    eta: float = 1.0
    """The LKJ prior's shape: 1 is uniform over correlation matrices (brms's default)."""

    @property
    def name(self) -> str:
        """``"1+Days|Subject"``: the prefix of the block's variables in the PyMC model."""
        return "+".join(t.split("|", 1)[0] for t in self.terms) + "|" + self.factor


def term_labels(expr: str, levels=None) -> list[str]:
    """The engine's labels of one group-level term's columns: ``Intercept``, ``Days``, ``f[b]``...

    Examples
    --------
    >>> term_labels("1"), term_labels("Days"), term_labels("f", ["b", "c"])
    (['Intercept'], ['Days'], ['f[b]', 'f[c]'])
    """
    if expr == "1":
        return ["Intercept"]
    return [expr] if levels is None else [f"{expr}[{lev}]" for lev in levels]


def _width(term) -> int:
    """How many columns a Bambi group-level term has (a factor slope has one per non-reference level)."""
    return 1 if term.predictor.ndim == 1 else int(term.predictor.shape[1])


def correlated_blocks(formula: str, group_terms: dict, eta: float = 1.0) -> tuple[CorrelatedBlock, ...]:
    """The correlated blocks of a formula: each ``|`` bar's terms per grouping factor, when they are 2+ columns.

    ``group_terms`` are the Bambi model's group-level terms by name.  ``||`` bars and
    single-column bars (``(1 | g)``) have no correlation to estimate.  A term written in
    two bars is refused, as brms refuses duplicated group-level effects.
    """
    owner: dict[str, str] = {}
    blocks = []
    for lhs, bar, factor in formula_bars(formula):
        text = f"({lhs} {bar} {factor})"
        by_factor: dict[str, list[str]] = {}
        for term in parse_formula(f"~ ({lhs} | {factor})", "formula").group_terms:
            name = f"{term.expr}|{term.factor}"
            if name not in group_terms:
                raise ValueError(
                    f"formula: the group-level term {name!r} of {text} is not a term of the model "
                    f"built from it ({list(group_terms)}); write the bar as e.g. (1 + x | g)"
                )
            if name in owner:
                raise ValueError(
                    f"formula: the group-level term ({term.expr} | {term.factor}) is written in both "
                    f"{owner[name]} and {text}; brms does not allow duplicated group-level effects. "
                    "Write each term in one bar"
                )
            owner[name] = text
            by_factor.setdefault(term.factor, []).append(name)
        if bar == "|":
            blocks += [
                CorrelatedBlock(f, tuple(names), float(eta))
                for f, names in by_factor.items()
                if sum(_width(group_terms[n]) for n in names) >= 2
            ]
    return tuple(blocks)


def build_correlated(model, blocks: tuple[CorrelatedBlock, ...]) -> None:
    """Build ``model`` (a ``bambi.Model``) with each block's terms correlated, as ``model.build()`` would."""
    backend = _backend_class()(blocks)
    backend.build(model)
    model.backend, model.built = backend, True


def model_blocks(model) -> tuple[CorrelatedBlock, ...]:
    """The correlated blocks a built Bambi model was built with (none for ``model.build()``)."""
    return tuple(getattr(getattr(model, "backend", None), "correlated_blocks", ()))


@functools.cache
def _backend_class():
    """A ``PyMCModel`` whose mean component correlates the blocks' terms (Bambi imported on first use)."""
    import pymc as pm
    from bambi.backend.model_components import ConstantComponent, DistributionalComponent, ResponseComponent
    from bambi.backend.pymc import PyMCModel
    from bambi.backend.terms import GroupSpecificTerm
    from bambi.backend.utils import noncentered_default_for

    class CorrelatedComponent(DistributionalComponent):
        def __init__(self, component, blocks):
            super().__init__(component)
            self.blocks = blocks

        def build_group_specific_terms(self, pymc_backend, bmb_model):
            terms = self.component.group_specific_terms
            if not terms:
                return
            blocked = {name for block in self.blocks for name in block.terms}
            noncentered = noncentered_default_for(bmb_model, self.component.name)
            coefs = {}
            for name, term in terms.items():
                if name not in blocked:
                    built = GroupSpecificTerm(term, noncentered)
                    _add_coords(pymc_backend.model, built.coords)
                    coefs[name] = built.build(bmb_model)
            for block in self.blocks:
                coefs.update(_build_block(block, [terms[n] for n in block.terms], pymc_backend.model))
            contribution = 0
            for name, term in terms.items():
                part = coefs[name][term.group_index] * term.predictor
                contribution += part.sum(axis=1) if term.predictor.ndim > 1 else part
            self.output += contribution

    def _build_block(block, terms, pymc_model):
        """The block's coefficients by term name: ``diag(sd) L z`` per level, split into its terms."""
        import pytensor.tensor as pt
        from bambi import Prior

        sds, labels, parts, start = [], [], [], 0
        for term in terms:
            built = GroupSpecificTerm(term, True)
            _add_coords(pymc_model, built.coords)
            dims = list(built.coords)
            expr_dims = [d for d in dims if not d.endswith("__factor_dim")]
            prior, sd_prior = term.prior, term.prior.args.get("sigma")
            centred = not np.any(np.asarray(prior.args.get("mu", 0)) != 0)
            if prior.name != "Normal" or not isinstance(sd_prior, Prior) or not centred:
                others = [t.name for t in terms if t is not term]
                raise ValueError(
                    f"priors: the group-level term {term.name!r} is correlated with {others} (written in one "
                    f"'|' bar), so its prior must be normal(0, sd) with a prior on sd, got {prior}. Give the sd "
                    f"a prior as a string, e.g. priors={{{term.name!r}: 'student_t(3, 0, 2.5)'}} or "
                    "{'sd': ...}, or write '||' to keep the terms independent"
                )
            alias = (term.hyperprior_alias or {}).get("sigma", "sigma")
            sd = built.build_distribution(sd_prior, label=f"{built.name}_{alias}", dims=expr_dims or None)
            width = _width(term)
            sds.append(pt.reshape(sd, (width,)))
            labels += term_labels(term.name.split("|", 1)[0], built.coords[expr_dims[0]] if expr_dims else None)
            parts.append((built, dims, start, width, bool(expr_dims)))
            start += width
        factor_dim, cor_dim = parts[0][1][0], block.name + COR_DIM
        upper = np.triu_indices(start, 1)
        pymc_model.add_coords({cor_dim: [labels[i] + PAIR + labels[j] for i, j in zip(*upper)]})
        chol = pm.LKJCorr(f"{block.name}_L", n=start, eta=block.eta)
        z = pm.Normal(f"{block.name}_offset", mu=0, sigma=1, shape=(len(pymc_model.coords[factor_dim]), start))
        # products as broadcast sums, not dot: k is small, and without a linked BLAS they sample faster
        # (sleepstudy: 14 s instead of 17-19 s)
        effects = (z[:, None, :] * chol[None]).sum(axis=-1) * pt.concatenate(sds)  # row j: diag(sd) L z_j
        pm.Deterministic(f"{block.name}_cor", (chol[:, None, :] * chol[None]).sum(axis=-1)[upper], dims=cor_dim)
        return {
            built.term.name: pm.Deterministic(built.name, effects[:, s : s + w] if vector else effects[:, s], dims=dims)
            for built, dims, s, w, vector in parts
        }

    class CorrelatedBackend(PyMCModel):
        """Bambi's PyMC backend with :class:`CorrelatedComponent` for the mean; the rest is ``PyMCModel.build``."""

        def __init__(self, blocks):
            super().__init__()
            self.correlated_blocks = tuple(blocks)

        def build(self, spec):
            self.model = pm.Model()
            self.components = {}
            _add_coords(self.model, spec.response_term.coords)
            parent = spec.family.likelihood.parent
            with self.model:
                for name, component in spec.marginal_parameters.items():
                    self.components[name] = ConstantComponent(component)
                    self.components[name].build(self, spec)
                for name, component in spec.conditional_parameters.items():
                    self.components[name] = (
                        CorrelatedComponent(component, self.correlated_blocks)
                        if name == parent
                        else DistributionalComponent(component)
                    )
                    self.components[name].build(self, spec)
                self.response_component = ResponseComponent(spec.response_term)
                self.response_component.build(self, spec)
                self.build_potentials(spec)
            self.spec = spec

    return CorrelatedBackend


def _add_coords(pymc_model, coords: dict) -> None:
    pymc_model.add_coords({name: values for name, values in coords.items() if name not in pymc_model.coords})


def read_correlations(draws, groups: dict, flatten) -> None:
    """Fill ``GroupFactor.cor`` from the ``<block>_cor`` variables of a draws Dataset.

    Terms of a factor outside any block (another bar, or ``||``) have correlation 0 with the rest.
    ``flatten(da, *dims)`` gives ``(S, ...)`` draws.
    """
    for var, da in draws.data_vars.items():
        dims = [d for d in da.dims if d not in ("chain", "draw")]
        if len(dims) != 1 or not (dims[0].endswith(COR_DIM) and str(var) == dims[0][: -len(COR_DIM)] + "_cor"):
            continue
        group = groups[str(var)[: -len("_cor")].rsplit("|", 1)[1]]
        pairs = {a + PAIR + b: (i, j) for i, a in enumerate(group.terms) for j, b in enumerate(group.terms)}
        rows, cols = np.array([pairs[str(label)] for label in da[dims[0]].values]).T
        values = flatten(da, dims[0])
        if group.cor is None:
            s, k = values.shape[0], len(group.terms)
            group.cor = np.broadcast_to(np.eye(k), (s, k, k)).copy()
        group.cor[:, rows, cols] = group.cor[:, cols, rows] = values
