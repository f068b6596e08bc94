"""The verbs users call.

Thin layers that validate, build arms and rules, run one engine pass and return a
:class:`~mixeff.results.Result`.
"""
