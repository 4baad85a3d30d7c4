"""``python -m nexuslims`` runs the same command line as ``nexuslims``."""

from nexuslims.cli import main

raise SystemExit(main())
