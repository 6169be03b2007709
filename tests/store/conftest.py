"""Loads the shared database fixtures (tests/store/dbfixtures.py) for this folder."""

import importlib.util
import sys
from pathlib import Path

_name = "xunqin_test_dbfixtures"
if _name not in sys.modules:
    _spec = importlib.util.spec_from_file_location(_name, Path(__file__).resolve().parents[1] / "store" / "dbfixtures.py")
    _module = importlib.util.module_from_spec(_spec)
    sys.modules[_name] = _module
    _spec.loader.exec_module(_module)
from xunqin_test_dbfixtures import db_url, pg_admin_url  # noqa: E402,F401
