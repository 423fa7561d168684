"""Finding and reading the config file, and the small cached view of it that the reading
commands use.

Why a cache: validating config.yaml with pydantic (:mod:`aggregator.config.schema`) costs ~100 ms
per process in imports and model building, a third of what ``aggregator digest`` may take.
``digest``, ``show``, ``search``, ``read`` and ``unread`` need only a few values of it (the
database, the display time zone, the tags and their labels, the feed URLs), so after one
full validation those are kept as JSON under ``$XDG_CACHE_HOME/aggregator``, keyed by the
file's exact content, its path and the validating code; a changed file, a moved one or a
new aggregator is validated in full again. Nothing is cached that the file did not say:
environment overrides (``AGGREGATOR_DATABASE_URL``) apply at use. Where no cache directory
is writable (systemd's DynamicUser), the commands validate in full every time.

Standard library only: this module is imported where pydantic must not be.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from aggregator import __version__
from aggregator.errors import ConfigError

__all__ = [
    "DATABASE_ENV",
    "ReadingConfig",
    "default_cache_dir",
    "default_config_paths",
    "default_database_url",
    "feed_identity",
    "load_reading_config",
    "read_config_file",
]

DATABASE_ENV = "AGGREGATOR_DATABASE_URL"
_CACHE_PREFIX = "reading-config-"
# Bumped when ReadingConfig changes shape: old cache files are then simply not found.
_CACHE_FORMAT = 2
# Entries kept: one per config file in use (and its recent versions).
_CACHE_KEEP = 8


def display_language(configured: str | None, environ: Mapping[str, str] | None = None) -> str:
    """``ko`` or ``en``: ``display.language`` when set, else the locale's language
    (LC_ALL, LC_MESSAGES, LANG) when it is one of them, else ``ko`` (the news is Korean)."""
    if configured in ("ko", "en"):
        return configured
    env = os.environ if environ is None else environ
    for name in ("LC_ALL", "LC_MESSAGES", "LANG"):
        value = env.get(name, "")
        if value:
            primary = value.split(".")[0].split("_")[0].lower()
            return primary if primary in ("ko", "en") else "ko"
    return "ko"


def default_database_url(environ: Mapping[str, str] | None = None) -> str:
    """A SQLite file in the XDG data directory (``$XDG_DATA_HOME/aggregator``)."""
    env = os.environ if environ is None else environ
    base = env.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return f"sqlite:///{Path(base) / 'aggregator' / 'aggregator.db'}"


def database_url(database: str | None, environ: Mapping[str, str] | None = None) -> str:
    """The database URL: the environment wins over the file, the file over the default."""
    env = os.environ if environ is None else environ
    return env.get(DATABASE_ENV) or database or default_database_url(env)


def default_config_paths(environ: Mapping[str, str] | None = None) -> list[Path]:
    """Where a config is looked for when --config is not given, in order."""
    env = os.environ if environ is None else environ
    xdg = env.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return [Path("config.yaml"), Path(xdg) / "aggregator" / "config.yaml"]


def default_cache_dir(environ: Mapping[str, str] | None = None) -> Path:
    env = os.environ if environ is None else environ
    base = env.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "aggregator"


def feed_identity(url: str) -> str:
    """Two feed URLs that differ only in case of scheme/host, tracking parameters, a
    fragment or a trailing slash are the same feed (``/rss`` and ``/rss/`` on Hankyoreh)."""
    from aggregator.text.urls import canonicalize_url

    try:
        return canonicalize_url(url.strip()).rstrip("/")
    except ValueError:
        return url.strip()


def read_config_file(path: str | os.PathLike[str] | None) -> tuple[Path, str]:
    """The config file to use (``path``, else the first default location that exists) and
    its text. Raises ConfigError when there is none or it cannot be read."""
    if path is not None:
        chosen = Path(path)
    else:
        found = [p for p in default_config_paths() if p.is_file()]
        if not found:
            looked = ", ".join(str(p) for p in default_config_paths())
            raise ConfigError(f"no config file found (looked for {looked}); pass --config PATH")
        chosen = found[0]
    try:
        return chosen, chosen.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{chosen}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{chosen}: cannot read: {exc}") from None


class Validated(Protocol):
    """A fully validated configuration (:class:`aggregator.config.schema.Config`), as far as
    this module needs it: its reading view. A Protocol, so that this module never imports
    the schema (and pydantic with it)."""

    def reading_view(self) -> ReadingConfig: ...


@dataclass(frozen=True, slots=True)
class ReadingConfig:
    """What the reading commands need of a validated configuration."""

    source: str
    database: str | None  # as the file says; see :meth:`database_url`
    timezone: str
    log_format: str
    tag_labels: tuple[tuple[str, str], ...]  # (name, Korean label) in config order
    feed_urls: tuple[str, ...]
    # display.language as the file says (None: from the locale, see display_language).
    language: str | None = None
    tag_labels_en: tuple[tuple[str, str], ...] = ()  # (name, English label)

    @property
    def tags(self) -> list[str]:
        return [name for name, _ in self.tag_labels]

    def database_url(self, environ: Mapping[str, str] | None = None) -> str:
        return database_url(self.database, environ)

    def feed(self, url: str) -> str | None:
        """The configured URL of the feed ``url`` names (see :func:`feed_identity`)."""
        wanted = feed_identity(url)
        return next((f for f in self.feed_urls if feed_identity(f) == wanted), None)

    def to_json(self) -> dict[str, Any]:
        return {
            "format": _CACHE_FORMAT,
            "source": self.source,
            "database": self.database,
            "timezone": self.timezone,
            "log_format": self.log_format,
            "tag_labels": [list(pair) for pair in self.tag_labels],
            "feed_urls": list(self.feed_urls),
            "language": self.language,
            "tag_labels_en": [list(pair) for pair in self.tag_labels_en],
        }

    @classmethod
    def from_json(cls, data: Any) -> ReadingConfig | None:
        """None for anything that is not a cache entry of this format."""
        try:
            if data["format"] != _CACHE_FORMAT:
                return None
            return cls(
                source=str(data["source"]),
                database=None if data["database"] is None else str(data["database"]),
                timezone=str(data["timezone"]),
                log_format=str(data["log_format"]),
                tag_labels=tuple((str(n), str(label)) for n, label in data["tag_labels"]),
                feed_urls=tuple(str(u) for u in data["feed_urls"]),
                language=None if data["language"] is None else str(data["language"]),
                tag_labels_en=tuple((str(n), str(label)) for n, label in data["tag_labels_en"]),
            )
        except (KeyError, TypeError, ValueError):
            return None


# The modules whose code decides whether a file is valid and what it means: the cache key
# stamps each of them, so an edited schema (a development checkout) or a new aggregator
# validates every file again. Found by module name, not by a path next to this file, so that
# moving a module cannot silently drop it from the key (a test checks they all resolve).
_VALIDATOR_MODULES = (
    "aggregator.config.schema",
    "aggregator.config.file",
    "aggregator.text.durations",
    "aggregator.text.urls",
)


def validator_sources() -> list[Path]:
    """The source files of :data:`_VALIDATOR_MODULES`, without importing them (pydantic)."""
    from importlib.util import find_spec

    sources = []
    for name in _VALIDATOR_MODULES:
        spec = find_spec(name)
        if spec is None or spec.origin is None:
            raise RuntimeError(f"cannot find the validating module {name}")
        sources.append(Path(spec.origin))
    return sources


def _cache_key(chosen: Path, text: str, sources: list[Path] | None = None) -> str:
    stamps = []
    for source in validator_sources() if sources is None else sources:
        try:
            stamps.append(f"{source}:{source.stat().st_mtime_ns}")
        except OSError:
            stamps.append(f"{source}:?")
    material = "\0".join((__version__, *stamps, str(chosen.resolve()), text))
    return hashlib.sha256(material.encode("utf-8", "surrogatepass")).hexdigest()[:32]


def load_reading_config(
    path: str | os.PathLike[str] | None,
    validate: Callable[[Path, str], Validated],
    cache_dir: Path | None = None,
) -> ReadingConfig:
    """The reading view of the config file at ``path``: from the cache when this exact file
    was validated before, else from ``validate(chosen, text)`` (a full validation, which
    raises ConfigError for an invalid file — invalid files are never cached)."""
    chosen, text = read_config_file(path)
    directory = default_cache_dir() if cache_dir is None else cache_dir
    entry = directory / f"{_CACHE_PREFIX}{_cache_key(chosen, text)}.json"
    try:
        # Only an entry of our own: in a shared or misconfigured cache directory another
        # user could otherwise plant a view with another database.
        if entry.stat().st_uid != os.getuid():
            raise PermissionError(f"{entry} belongs to another user")
        cached = ReadingConfig.from_json(json.loads(entry.read_text(encoding="utf-8")))
    except (OSError, ValueError):
        cached = None
    if cached is not None:
        return cached
    view = validate(chosen, text).reading_view()
    _store(directory, entry, view)
    return view


def _store(directory: Path, entry: Path, view: ReadingConfig) -> None:
    """Write the entry atomically and keep only the newest few (older versions of the
    file); a cache that cannot be written is no error, only slower."""
    import tempfile

    try:
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        directory.chmod(0o700)  # mkdir leaves an existing directory's mode as it was
        with tempfile.NamedTemporaryFile(
            "w", encoding="utf-8", dir=directory, prefix=".tmp-", suffix=".json", delete=False
        ) as handle:
            json.dump(view.to_json(), handle, ensure_ascii=False)
        os.replace(handle.name, entry)
        entries = sorted(
            directory.glob(f"{_CACHE_PREFIX}*.json"), key=lambda p: p.stat().st_mtime_ns
        )
        for old in entries[:-_CACHE_KEEP]:
            old.unlink(missing_ok=True)
    except OSError:
        return
