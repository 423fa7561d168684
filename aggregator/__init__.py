"""aggregator: follows Korean news feeds, stores clean full text, tags and digests it.

Data flow: config → schedule → fetch → parse → extract → categorize → store → digest/export.
"""

from __future__ import annotations

import logging

__version__ = "0.1.0"

logging.getLogger(__name__).addHandler(logging.NullHandler())
