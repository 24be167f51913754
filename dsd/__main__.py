"""``python -m dsd`` runs the command line."""

from dsd.cli import main

raise SystemExit(main())
