"""aggregator: follows Korean news feeds, stores clean full text, tags and digests it.

Data flow, one package per stage: config → ingest (schedule → fetch → parse → extract → tag →
stories) → store → read (digest, search) / export; service (the daemon) and cli on top.
"""

from __future__ import annotations

import logging

__version__ = "0.1.0"

logging.getLogger(__name__).addHandler(logging.NullHandler())
