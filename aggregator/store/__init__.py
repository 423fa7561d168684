"""Storage: SQLAlchemy tables, Alembic migrations, the DB-API reading path, the records.

Where the boundary runs (one idiom per purpose):

* **SQLAlchemy** (:mod:`.sql` ``SqlStore`` and its query mixins ``*_sql.py``, :mod:`.engine`,
  :mod:`.tables`, the Alembic migrations) is every write, and every read of the daemon, the
  exports and the maintenance commands. Only these modules import SQLAlchemy.
* **DB-API** (:mod:`.dbapi`, :mod:`.reading_sql`) is the reading commands' path: ``digest``,
  ``show``, ``search``, ``read``/``unread`` open SQLite with :mod:`sqlite3` (PostgreSQL with
  psycopg) and run plain SQL text, so that they start without importing SQLAlchemy (~150 ms).
  ``SqlStore`` runs the same SQL texts on its own connections (``ReadingQueries``), so the two
  paths cannot drift apart.
* **Records** (:mod:`.records`, standard library only) are everything in or out of either
  path; :mod:`.protocol` is the :class:`Store` Protocol the pipeline and the daemon use.

What both paths must agree on lives once, in :mod:`.dbapi` (which imports nothing heavy):
SQLite PRAGMAs (``busy_timeout``, WAL, ``synchronous``), how datetimes are stored (UTC text of
one format) and read back, the schema head the code expects, how a SQLite URL names its file,
and how a driver error is shortened into a :class:`~aggregator.errors.StoreError`.

This file imports nothing, so the reading commands can import ``aggregator.store.dbapi``
without SQLAlchemy coming with it. Import each name from its module.
"""
