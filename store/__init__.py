"""Workstation database: models, Alembic migrations and repository functions.

``url.database_url()`` picks the URL (argument, else $XUNQIN_DB_URL, else ``sqlite:///xunqin.db``);
``db.upgrade(url)`` creates or migrates the schema; ``db.sessions(url)`` gives a session factory;
One module per thing stored holds the functions the flows and the review app call:
``records`` (source files and record versions), ``runs``, ``audit_log``, ``decisions``,
``candidates`` (the queue), ``model_versions``, ``workstation``; ``frames`` converts rows.

Importing the package loads nothing: each module is imported where it is used (``xunqin.store.url``
names the default database without loading SQLAlchemy).
"""
