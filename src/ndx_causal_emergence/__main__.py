"""``python -m ndx_causal_emergence`` runs the command line."""

from .cli.main import main

main()
