"""Every record that goes into the store or comes out of it, one module per path through it.

Frozen dataclasses of the standard library only, so that any layer may use them without
importing SQLAlchemy and the store's callers never see an ORM row. Split by who uses them, not
kept in one module, because the reading commands must not pay for defining the other records
(a frozen dataclass costs ~0.5 ms to create; the reading path needs five of the 24).
"""
