"""Where the sharded match runs and in what shards: ``--dask``/``--workers``/``--shard-size``/
``--shard-dir`` and their environment variables. Kept apart from :mod:`xunqin.flows.dask_runner`
so that a match in one process never imports Prefect or Dask (1.5 s of a 10 s match at S)."""

from __future__ import annotations

import os

ADDRESS_ENV = "XUNQIN_DASK_ADDRESS"
SHARD_SIZE_ENV = "XUNQIN_SHARD_SIZE"
SHARD_DIR_ENV = "XUNQIN_SHARD_DIR"
DEFAULT_SHARD_SIZE = 250_000
DEFAULT_WORKERS = 2


def address(given: str | None = None) -> str | None:
    """The scheduler's address: given, else ``$XUNQIN_DASK_ADDRESS``, else None (a local cluster)."""
    return given or os.environ.get(ADDRESS_ENV) or None


def shard_size(given: int | None = None) -> int:
    """Reports per shard: given, else ``$XUNQIN_SHARD_SIZE``, else 250,000."""
    if given:
        return given
    raw = os.environ.get(SHARD_SIZE_ENV, "")
    if raw:
        try:
            value = int(raw)
        except ValueError:
            raise ValueError(f"{SHARD_SIZE_ENV} must be a whole number, not {raw!r}") from None
        if value < 1:
            raise ValueError(f"{SHARD_SIZE_ENV} must be at least 1")
        return value
    return DEFAULT_SHARD_SIZE


def shard_parent(given: str | None = None) -> str | None:
    """The folder the shard folder is made in: given, else ``$XUNQIN_SHARD_DIR``, else None (temporary)."""
    return given or os.environ.get(SHARD_DIR_ENV) or None
