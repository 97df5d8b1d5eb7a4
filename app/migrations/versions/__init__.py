"""Alembic revision scripts, applied in order by app.migrate."""
