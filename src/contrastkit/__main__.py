"""``python -m contrastkit`` runs the command line (see :mod:`contrastkit.cli`)."""

from .cli import main

raise SystemExit(main())
