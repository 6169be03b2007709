"""Workstation database: models, Alembic migrations and repository functions.

``database_url()`` picks the URL (argument, else $XUNQIN_DB_URL, else ``sqlite:///xunqin.db``);
``upgrade(url)`` creates or migrates the schema; ``sessions(url)`` gives a session factory;
``xunqin.store.repo`` holds the functions the flows and the review app call.
"""

from .db import DEFAULT_URL, URL_ENV, current_revision, database_url, engine, sessions, upgrade
from .models import CONFIRMED, DECISIONS, EXCLUDED

__all__ = ["CONFIRMED", "DECISIONS", "DEFAULT_URL", "EXCLUDED", "URL_ENV", "current_revision", "database_url", "engine", "sessions", "upgrade"]
