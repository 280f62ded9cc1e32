"""The parser's dictionary of division and place names, built once per process from the database.

Parsing must not query the database per part, so every name it can recognise is held in memory. It is
rebuilt when this process records a name, and at most `MAX_AGE_S` after another process did.
"""

from __future__ import annotations

import time

MAX_AGE_S = 60.0


def invalidate(app) -> None:
    app.state.gazetteer = None
