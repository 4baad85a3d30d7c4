"""Alembic environment shipped inside the package (run by :mod:`nexuslims.db.migrate`)."""
