"""Alembic environment and revision scripts for the tables in app.models."""
