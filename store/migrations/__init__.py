"""Alembic migrations of the workstation database (run through xunqin.store.db.upgrade)."""
