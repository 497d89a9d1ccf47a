"""``python -m contrastkit`` runs the command line (see :mod:`contrastkit.cli`)."""

from .cli import main

if __name__ == "__main__":
    raise SystemExit(main())
