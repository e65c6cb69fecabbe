"""Doctests of every module of the package (``pytest --doctest-modules src``).

``cli.main`` registers the ``cmd_*`` commands when it is imported, and each ``cmd_*`` module
imports ``cli.main``: importing a ``cmd_*`` module first is circular. The doctest collector
imports the modules in file order, so ``cli.main`` is imported here first.
"""

import ndx_causal_emergence.cli.main  # noqa: F401
