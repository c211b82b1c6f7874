"""The migrations create exactly the schema of the models, on SQLite and PostgreSQL."""

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

import issuance.models  # noqa: F401
from certledger.db import Base
from certledger.db.migrate import current_revision, head_revision


def test_migrated_schema_matches_the_models(platform):
    engine = platform.engine
    assert current_revision(engine) == head_revision()
    with engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(ctx, Base.metadata)
    assert diff == [], f"models and migrations differ; run alembic revision --autogenerate: {diff}"


def test_upgrade_is_idempotent(platform):
    from certledger.db.migrate import upgrade

    upgrade(platform.engine)
    assert current_revision(platform.engine) == head_revision()
