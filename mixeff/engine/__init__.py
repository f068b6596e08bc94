"""The engine: numpy kernels that map draws through the model, in row chunks.

``options`` (what one verb call asks) → ``random_effects`` (which effect every
level has in every draw) → ``design`` (X, Z, level codes per frame) →
``predictor`` (η, inverse link, family mean, exact increments) → ``passes`` (the
one row-chunk loop over counterfactual arms) → ``reduce`` (per row, or streamed
within-draw group means).
"""
