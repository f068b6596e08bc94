"""The one generator of contrast pairs: reference, sequential, pairwise (and their reverses), minmax, all.

Comparisons of factor levels (``variables={"z": "pairwise"}``), hypothesis
shortcuts (``hypothesis="pairwise"``) and hypothesis formulas (``"~ pairwise"``)
all take their pairs from :func:`index_pairs`.
"""

from __future__ import annotations

MAX_PAIRWISE = 300
"""marginaleffects refuses pairwise comparisons beyond 300 (``marginaleffects_safe``); reference and
sequential ones (n − 1 of them) are not limited."""

BASES = ("reference", "sequential", "pairwise", "minmax", "all")


def index_pairs(n: int, how: str) -> list[tuple[int, int]]:
    """``(i, j)`` pairs of positions ``0..n-1``: item ``i`` compared with item ``j`` (``x[i] - x[j]``).

    ``reference``: every item with the first; ``sequential``: every item with the one before;
    ``pairwise``: every later item with every earlier one, column by column (R's lower triangle);
    ``minmax``: the last with the first; ``all``: every ordered pair of distinct items.  A ``rev``
    prefix swaps each pair.

    Examples
    --------
    >>> index_pairs(3, "pairwise"), index_pairs(3, "revsequential")
    ([(1, 0), (2, 0), (2, 1)], [(0, 1), (1, 2)])
    """
    base = how[3:] if how.startswith("rev") else how
    if base == "reference":
        pairs = [(i, 0) for i in range(1, n)]
    elif base == "sequential":
        pairs = [(i, i - 1) for i in range(1, n)]
    elif base == "pairwise":
        pairs = [(i, j) for j in range(n) for i in range(j + 1, n)]
    elif base == "minmax":
        pairs = [(n - 1, 0)] if n > 1 else []
    elif base == "all":
        pairs = [(j, i) for i in range(n) for j in range(n) if i != j]
    else:
        raise ValueError(f"unknown contrast {how!r}; one of {list(BASES)} or their 'rev' forms")
    if how.startswith("rev"):
        pairs = [(j, i) for i, j in pairs]
    return pairs


def check_pairwise_size(n: int, how: str, what: str) -> None:
    """Refuse ``pairwise`` (and ``revpairwise``) comparisons of ``n`` items beyond :data:`MAX_PAIRWISE`.

    Examples
    --------
    >>> check_pairwise_size(25, "pairwise", "hypothesis")
    >>> check_pairwise_size(400, "sequential", "hypothesis")
    """
    count = n * (n - 1) // 2
    if how.endswith("pairwise") and count > MAX_PAIRWISE:
        raise ValueError(
            f"{what}: {how!r} on {n} rows gives {count} comparisons, more than {MAX_PAIRWISE} (marginaleffects' "
            "limit for pairwise comparisons); reduce the rows first (by=, a smaller newdata), compare within "
            "groups ('~ pairwise | g'), or use 'reference' or 'sequential'"
        )
