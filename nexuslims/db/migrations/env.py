"""Alembic environment for the nexuslims session database.

Run only through :mod:`nexuslims.db.migrate`, which hands over an open connection
(``config.attributes["connection"]``) already inside the one transaction the whole
upgrade runs in. Our revisions are recorded in ``nexuslims_alembic_version``, not
``alembic_version``, so a NexusLIMS 2.x database keeps its own version table untouched.
"""

from __future__ import annotations

from alembic import context

from nexuslims.db.migrate import VERSION_TABLE

config = context.config
connection = config.attributes.get("connection")
if context.is_offline_mode() or connection is None:
    raise RuntimeError("nexuslims migrations run through `nexuslims db init` / "
                       "`nexuslims db upgrade`, not the alembic command line")

context.configure(
    connection=connection,
    version_table=VERSION_TABLE,
    transactional_ddl=True,
    render_as_batch=True,
)
with context.begin_transaction():
    context.run_migrations()
