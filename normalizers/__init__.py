"""normalizers"""

from __future__ import annotations

import sys


def clear_value_caches() -> int:
    """Empty the normalizers' (and the ingest's) caches of values met (the bounded ``lru_cache``\\ s: names, places,
    dates ... parsed so far), not those of reference data (unbounded ``functools.cache``: the
    division table, pinyin readings). After a batch of files they hold what the next batch
    rarely meets again: at size M 250 MB that the match after the ingest needs for itself.
    Returns the number of caches emptied."""
    emptied = set()
    for name, module in list(sys.modules.items()):
        if not name.startswith((__name__ + ".", "xunqin.ingest.")) or module is None:
            continue
        for value in vars(module).values():
            info = getattr(value, "cache_info", None)
            if info is None or not callable(getattr(value, "cache_clear", None)) or id(value) in emptied:
                continue
            if info().maxsize is not None:
                value.cache_clear()
                emptied.add(id(value))
    return len(emptied)
