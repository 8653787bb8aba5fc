"""Where the service keeps its state: SQLAlchemy tables, queries and Alembic migrations."""
