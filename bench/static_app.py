"""Starlette's StaticFiles on one folder: the peer the built-in edge is
measured against (``uvicorn bench.static_app:app``, folder in STATIC_ROOT)."""

from __future__ import annotations

import os

from starlette.staticfiles import StaticFiles

app = StaticFiles(directory=os.environ.get("STATIC_ROOT", "."), html=True)
