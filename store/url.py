"""Which workstation database: the URL given, else ``$XUNQIN_DB_URL``, else a SQLite file here.

Kept apart from :mod:`xunqin.store.db` so that a command's help can name the default without
loading SQLAlchemy (0.3 s of every ``xunqin`` command, ``xunqin match`` included).
"""

from __future__ import annotations

import os

DEFAULT_URL = "sqlite:///xunqin.db"
URL_ENV = "XUNQIN_DB_URL"


def database_url(url: str | None = None) -> str:
    """The URL given, else $XUNQIN_DB_URL (read now, not at import), else a SQLite file here."""
    return url or os.environ.get(URL_ENV) or DEFAULT_URL
