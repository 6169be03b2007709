"""Workstation database: models, Alembic migrations and repository functions.

``database_url()`` picks the URL (argument, else $XUNQIN_DB_URL, else ``sqlite:///xunqin.db``);
``upgrade(url)`` creates or migrates the schema; ``sessions(url)`` gives a session factory;
One module per thing stored holds the functions the flows and the review app call:
``records`` (source files and record versions), ``runs``, ``audit_log``, ``decisions``,
``candidates`` (the queue), ``model_versions``, ``workstation``; ``frames`` converts rows.
"""

from .db import DEFAULT_URL, URL_ENV, current_revision, database_url, engine, sessions, upgrade
from .models import CONFIRMED, DECISIONS, EXCLUDED

__all__ = ["CONFIRMED", "DECISIONS", "DEFAULT_URL", "EXCLUDED", "URL_ENV", "current_revision", "database_url", "engine", "sessions", "upgrade"]
