"""config.yaml → a validated, immutable :class:`Config`.

Every default and every validation rule lives here. Validation is pydantic's (clear error
paths, strict types); this module only turns its errors into our ``key.path: problem`` lines
(``feeds[3].url: not an http(s) URL``) and raises one :class:`ConfigError` listing them all.
Nothing here touches the network or the database.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from aggregator.errors import ConfigError

if TYPE_CHECKING:
    from aggregator.stories import StoryMatch

__all__ = [
    "Config",
    "DisplayConfig",
    "ExtractConfig",
    "FeedConfig",
    "FetchConfig",
    "LoggingConfig",
    "RetentionConfig",
    "ScheduleConfig",
    "StoriesConfig",
    "TagConfig",
    "default_config_paths",
    "default_database_url",
    "load_config",
    "parse_config",
]

DATABASE_ENV = "AGGREGATOR_DATABASE_URL"
_TAG_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]*$")


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


def _http_url(value: str) -> str:
    from aggregator.urls import is_http_url

    value = value.strip()
    if not is_http_url(value):
        raise ValueError("not an http(s) URL")
    if len(value) > 2048:
        raise ValueError("longer than 2048 characters")
    return value


class FetchConfig(_Frozen):
    """How we talk HTTP (feeds and article pages alike)."""

    allow_private_networks: bool = False
    connect_timeout: Annotated[float, Field(gt=0, le=120)] = 10.0
    read_timeout: Annotated[float, Field(gt=0, le=300)] = 20.0
    timeout: Annotated[float, Field(gt=0, le=600)] = 60.0
    max_body_mb: Annotated[float, Field(gt=0, le=200)] = 15.0
    max_redirects: Annotated[int, Field(ge=0, le=20)] = 5
    per_host_limit: Annotated[int, Field(ge=1, le=32)] = 2
    concurrency: Annotated[int, Field(ge=1, le=128)] = 8
    user_agent: str | None = None
    allowed_hosts: tuple[str, ...] = ()


class ExtractConfig(_Frozen):
    """Full-text extraction of article pages."""

    workers: Annotated[int, Field(ge=0, le=64)] = 0
    timeout: Annotated[float, Field(gt=0, le=600)] = 20.0
    max_tasks_per_worker: Annotated[int, Field(ge=1)] = 200


def _duration(value: object) -> timedelta:
    from aggregator.schedule import parse_duration

    if isinstance(value, timedelta):
        return value
    if not isinstance(value, str | int | float) or isinstance(value, bool):
        raise ValueError("a duration such as 30s, 5m, 6h or 1d")
    return parse_duration(value)


Duration = Annotated[timedelta, BeforeValidator(_duration)]


class ScheduleConfig(_Frozen):
    """When feeds are polled by ``aggregator run``."""

    min_interval: Duration = timedelta(minutes=5)
    max_interval: Duration = timedelta(hours=6)
    error_cap: Duration = timedelta(hours=24)
    tick: Duration = timedelta(seconds=15)
    lease: Duration = timedelta(minutes=10)
    shutdown_grace: Duration = timedelta(seconds=20)
    jitter: Annotated[float, Field(ge=0, le=0.5)] = 0.1

    @model_validator(mode="after")
    def _ordered(self) -> ScheduleConfig:
        if self.min_interval > self.max_interval:
            raise ValueError("min_interval must not exceed max_interval")
        if self.error_cap < self.min_interval:
            raise ValueError("error_cap must be at least min_interval")
        return self


class RetentionConfig(_Frozen):
    """How long articles are kept. 0 keeps them forever; starred articles always stay."""

    keep_days: Annotated[int, Field(ge=0)] = 180


class StoriesConfig(_Frozen):
    """Story clusters: articles about one event from several outlets (aggregator.stories).
    False merges are worse than misses, so the defaults are strict; after changing them run
    ``aggregator stories rebuild``."""

    enabled: bool = True
    window_hours: Annotated[float, Field(gt=0, le=24 * 30)] = 48
    # Estimated Jaccard of the texts' character shingles (with a similar headline).
    threshold: Annotated[float, Field(gt=0, le=1)] = 0.5
    # Headline similarity required unless the texts are near-identical.
    title_threshold: Annotated[float, Field(ge=0, le=1)] = 0.3
    # Texts at least this similar are one story whatever their headlines.
    text_only_threshold: Annotated[float, Field(gt=0, le=1)] = 0.8
    # A trimmed copy: this share of the shorter text is in the longer one.
    containment_threshold: Annotated[float, Field(gt=0, le=1)] = 0.85
    # Articles with less text than this (title-only entries) stay stories of their own.
    min_text_chars: Annotated[int, Field(ge=1)] = 60

    def match(self) -> StoryMatch:
        from aggregator.stories import StoryMatch

        return StoryMatch(
            window=timedelta(hours=self.window_hours),
            threshold=self.threshold,
            title_threshold=self.title_threshold,
            text_only_threshold=self.text_only_threshold,
            containment_threshold=self.containment_threshold,
            min_text_chars=self.min_text_chars,
        )


class LoggingConfig(_Frozen):
    level: Literal["debug", "info", "warning", "error"] = "info"
    format: Literal["text", "json"] = "text"


class DisplayConfig(_Frozen):
    """How times are shown to people (stored times are always UTC)."""

    timezone: str = "Asia/Seoul"

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"unknown time zone {value!r} (use an IANA name such as Asia/Seoul)"
            ) from None
        return value


class TagLabels(_Frozen):
    ko: str | None = None
    en: str | None = None


class TagConfig(_Frozen):
    """A tag: its labels, keyword rules and the feed ``<category>`` values that mean it."""

    labels: TagLabels = TagLabels()
    keywords: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    aliases: tuple[str, ...] = ()
    # Retention for articles with this tag (the longest applicable period wins).
    keep_days: Annotated[int, Field(ge=0)] | None = None

    @field_validator("keywords", "exclude", "aliases")
    @classmethod
    def _no_blank(cls, values: tuple[str, ...]) -> tuple[str, ...]:
        if any(not v.strip() for v in values):
            raise ValueError("must not contain empty strings")
        return tuple(v.strip() for v in values)


class FeedConfig(_Frozen):
    url: str
    title: str | None = None
    tags: tuple[str, ...] = ()
    full_text: bool = True
    language: str | None = None
    enabled: bool = True
    # Retention for this feed's articles (the longest applicable period wins).
    keep_days: Annotated[int, Field(ge=0)] | None = None

    @field_validator("url")
    @classmethod
    def _check_url(cls, value: str) -> str:
        return _http_url(value)


class Config(_Frozen):
    database: str | None = None
    fetch: FetchConfig = FetchConfig()
    extract: ExtractConfig = ExtractConfig()
    display: DisplayConfig = DisplayConfig()
    schedule: ScheduleConfig = ScheduleConfig()
    retention: RetentionConfig = RetentionConfig()
    stories: StoriesConfig = StoriesConfig()
    logging: LoggingConfig = LoggingConfig()
    tags: dict[str, TagConfig] = Field(default_factory=dict)
    feeds: tuple[FeedConfig, ...] = ()
    # Where the file was read from; set by load_config, never by the file itself.
    source: str | None = Field(default=None, exclude=True)

    @field_validator("tags")
    @classmethod
    def _tag_names(cls, tags: dict[str, TagConfig]) -> dict[str, TagConfig]:
        for name in tags:
            if not _TAG_NAME.match(name) or len(name) > 64:
                raise ValueError(
                    f"tag name {name!r} must be lower-case letters, digits, '-' or '_' (at most 64)"
                )
        return tags

    @field_validator("database")
    @classmethod
    def _database_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        from sqlalchemy.engine import make_url
        from sqlalchemy.exc import ArgumentError

        try:
            make_url(value)
        except ArgumentError as exc:
            raise ValueError(f"not a SQLAlchemy database URL: {exc}") from None
        return value

    def database_url(self, environ: Mapping[str, str] | None = None) -> str:
        """The database URL: the environment wins over the file, the file over the default."""
        env = os.environ if environ is None else environ
        return env.get(DATABASE_ENV) or self.database or default_database_url(env)

    def feed(self, url: str) -> FeedConfig | None:
        wanted = _feed_identity(url)
        return next((f for f in self.feeds if _feed_identity(f.url) == wanted), None)


def default_database_url(environ: Mapping[str, str] | None = None) -> str:
    """A SQLite file in the XDG data directory (``$XDG_DATA_HOME/aggregator``)."""
    env = os.environ if environ is None else environ
    base = env.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return f"sqlite:///{Path(base) / 'aggregator' / 'aggregator.db'}"


def default_config_paths(environ: Mapping[str, str] | None = None) -> list[Path]:
    """Where a config is looked for when --config is not given, in order."""
    env = os.environ if environ is None else environ
    xdg = env.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return [Path("config.yaml"), Path(xdg) / "aggregator" / "config.yaml"]


def _feed_identity(url: str) -> str:
    """Two feed URLs that differ only in case of scheme/host, tracking parameters, a
    fragment or a trailing slash are the same feed (``/rss`` and ``/rss/`` on Hankyoreh)."""
    from aggregator.urls import canonicalize_url

    try:
        return canonicalize_url(url.strip()).rstrip("/")
    except ValueError:
        return url.strip()


def _cross_checks(data: Mapping[str, Any]) -> list[str]:
    """Checks across keys, run on the raw document so that they are reported together
    with every field error rather than only once those are fixed."""
    problems: list[str] = []
    tags = data.get("tags")
    tag_names = set(tags) if isinstance(tags, Mapping) else set()
    feeds = data.get("feeds")
    if not isinstance(feeds, list):
        return problems
    seen: dict[str, int] = {}
    for index, feed in enumerate(feeds):
        if not isinstance(feed, Mapping):
            continue
        url = feed.get("url")
        if isinstance(url, str) and url.strip():
            key = _feed_identity(url)
            if key in seen:
                problems.append(f"feeds[{index}].url: duplicate of feeds[{seen[key]}].url")
            seen.setdefault(key, index)
        feed_tags = feed.get("tags")
        if isinstance(feed_tags, list):
            for tag_index, tag in enumerate(feed_tags):
                if isinstance(tag, str) and tag not in tag_names:
                    problems.append(
                        f"feeds[{index}].tags[{tag_index}]: unknown tag {tag!r} "
                        "(define it under tags)"
                    )
    return problems


def _format_location(loc: Sequence[int | str]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out or "(top level)"


_PYDANTIC_PREFIXES = ("Value error, ", "Assertion failed, ")


def _problems(error: ValidationError) -> list[str]:
    problems: list[str] = []
    for item in error.errors():
        loc = [p for p in item["loc"] if not (isinstance(p, str) and p.startswith("function-"))]
        message = str(item["msg"])
        for prefix in _PYDANTIC_PREFIXES:
            message = message.removeprefix(prefix)
        if item["type"] == "extra_forbidden":
            message = "unknown key"
        elif item["type"] == "missing":
            message = "required key is missing"
        problems.append(f"{_format_location(loc)}: {message}")
    return problems


def parse_config(data: Any, source: str | None = None) -> Config:
    """Validate an already-loaded YAML document."""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"(top level): expected a mapping of keys, got {type(data).__name__}")
    problems: list[str] = []
    config: Config | None = None
    try:
        config = Config.model_validate(data)
    except ValidationError as exc:
        problems.extend(_problems(exc))
    problems.extend(_cross_checks(data))
    if problems or config is None:
        raise ConfigError(problems)
    return config.model_copy(update={"source": source})


def load_config(path: str | os.PathLike[str] | None = None) -> Config:
    """Read and validate the config file (``path``, else the default locations)."""
    if path is not None:
        candidates = [Path(path)]
    else:
        candidates = [p for p in default_config_paths() if p.is_file()]
        if not candidates:
            looked = ", ".join(str(p) for p in default_config_paths())
            raise ConfigError(f"no config file found (looked for {looked}); pass --config PATH")
    chosen = candidates[0]
    try:
        text = chosen.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{chosen}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{chosen}: cannot read: {exc}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(f"{chosen}: not valid YAML{where}: {problem}") from None
    return parse_config(data, source=str(chosen))
