"""``aggregator import opml``: which subscriptions of an OPML file to add, and adding them to
config.yaml without disturbing anything else in it.

Which feeds (:func:`plan_import`, pure):

- an outline without an http(s) ``xmlUrl`` is skipped, with the reason;
- a feed already in the config is skipped, also when its URL differs only in what
  canonicalization removes (case of the host, tracking parameters, a trailing slash...);
- a feed listed twice in the file (Feedly and Inoreader list a feed once per folder) is added
  once, with the tags of all its folders;
- **tags**: each enclosing folder's title and each part of the outline's ``category``
  attribute (``/politics,/economy/증권``) becomes a tag when it equals, ignoring case, a
  configured tag's name, one of its labels (``정치``, ``Politics``) or one of its aliases. A
  name that matches no configured tag is reported and ignored: tags are never created by an
  import (a tag needs labels and rules; that is a decision for the config's author).
  ``--tag T`` adds ``T`` to every imported feed.

Where (:func:`apply_import`): the new entries are inserted as text right after the last entry
of ``feeds:`` (or a ``feeds:`` section is appended), in the style of the entries already there
(one-line flow mappings, as config.yaml ships, or block mappings), so every other byte of the
file — comments, order, quoting, line breaks — stays as it was. A full YAML round trip
(ruamel.yaml) was tried first: it keeps comments, but re-flows the multi-line keyword lists of
the shipped config. The positions come from PyYAML's composer (already a dependency). The
result is validated as a whole config before it replaces the file (atomically).
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import yaml

from aggregator.config.schema import Config, load_yaml, parse_config
from aggregator.errors import ConfigError, ExportError
from aggregator.export.opml import OpmlDocument, OpmlFeed
from aggregator.text.urls import canonicalize_url, is_http_url

__all__ = ["ImportPlan", "PlannedFeed", "SkippedFeed", "apply_import", "plan_import"]

_LANGUAGE = re.compile(r"^[A-Za-z]{2,8}(?:-[A-Za-z0-9]{1,8})*$")
_MAX_URL = 2048


@dataclass(frozen=True, slots=True)
class PlannedFeed:
    url: str
    title: str | None = None
    tags: tuple[str, ...] = ()
    language: str | None = None


@dataclass(frozen=True, slots=True)
class SkippedFeed:
    what: str
    reason: str


@dataclass(frozen=True, slots=True)
class ImportPlan:
    added: tuple[PlannedFeed, ...] = ()
    skipped: tuple[SkippedFeed, ...] = ()
    # Folder titles and categories that matched no configured tag.
    unmatched: tuple[str, ...] = field(default=())


def _key(value: str) -> str:
    return " ".join(value.split()).casefold()


def _identity(url: str) -> str:
    # The identity config.py uses for duplicate feeds (canonical URL, no trailing slash).
    return canonicalize_url(url.strip()).rstrip("/")


def _tag_index(config: Config) -> dict[str, str]:
    index: dict[str, str] = {}
    # Names first, then labels, then aliases: a tag's own name is never taken by another's alias.
    for name in config.tags:
        index.setdefault(_key(name), name)
    for name, tag in config.tags.items():
        for label in (tag.labels.ko, tag.labels.en):
            if label:
                index.setdefault(_key(label), name)
    for name, tag in config.tags.items():
        for alias in tag.aliases:
            index.setdefault(_key(alias), name)
    return index


def _candidates(feed: OpmlFeed) -> list[str]:
    """Folder titles and categories, each whole and, for a slash path ("/경제/증권"), each
    of its parts."""
    names: list[str] = []
    for value in (*feed.folders, *feed.categories):
        whole = value.strip().strip("/").strip()
        if whole:
            names.append(whole)
        if "/" in whole:
            names.extend(part for part in (p.strip() for p in whole.split("/")) if part)
    return list(dict.fromkeys(names))


def plan_import(
    document: OpmlDocument, config: Config, *, extra_tags: Sequence[str] = ()
) -> ImportPlan:
    """What importing ``document`` into ``config`` adds and skips (see the module docstring).
    ``extra_tags`` must be configured tags (the CLI checks)."""
    index = _tag_index(config)
    order = {name: i for i, name in enumerate(config.tags)}

    def rank(tag: str) -> int:
        return order.get(tag, len(order))

    added: dict[str, PlannedFeed] = {}
    skipped = [SkippedFeed(s.what, s.reason) for s in document.skipped]
    unmatched: dict[str, None] = {}
    for feed in document.feeds:
        url = feed.url.strip()
        if not is_http_url(url):
            skipped.append(SkippedFeed(url, "not an http(s) URL"))
            continue
        if len(url) > _MAX_URL:
            skipped.append(SkippedFeed(url[:80] + "…", f"URL longer than {_MAX_URL} characters"))
            continue
        existing = config.feed(url)
        if existing is not None:
            same = "" if existing.url == url else f" as {existing.url}"
            skipped.append(SkippedFeed(url, f"already in the config{same}"))
            continue
        tags: dict[str, None] = {}
        for name in _candidates(feed):
            tag = index.get(_key(name))
            if tag is not None:
                tags[tag] = None
            elif "/" not in name:  # a path's parts are reported, not the path
                unmatched[name] = None
        for tag in extra_tags:
            tags[tag] = None
        ordered = tuple(sorted(tags, key=rank))
        identity = _identity(url)
        if identity in added:
            first = added[identity]
            merged = sorted(dict.fromkeys((*first.tags, *ordered)), key=rank)
            added[identity] = replace(first, tags=tuple(merged))
            reason = "listed again in the file"
            if first.url != url:
                reason += f" (same feed as {first.url})"
            skipped.append(SkippedFeed(url, reason + ": added once, with the tags of both"))
            continue
        language = feed.language if feed.language and _LANGUAGE.match(feed.language) else None
        added[identity] = PlannedFeed(url=url, title=feed.title, tags=ordered, language=language)
    return ImportPlan(
        added=tuple(added.values()), skipped=tuple(skipped), unmatched=tuple(unmatched)
    )


# -- writing config.yaml --------------------------------------------------------------------


def _q(value: str) -> str:
    # A JSON string is a valid YAML double-quoted scalar: no value can turn into a number,
    # a boolean, a null or YAML syntax.
    return json.dumps(value, ensure_ascii=False)


def _fields(feed: PlannedFeed) -> list[tuple[str, str]]:
    fields = [("url", _q(feed.url))]
    if feed.title:
        fields.append(("title", _q(feed.title)))
    if feed.tags:
        fields.append(("tags", "[" + ", ".join(_q(t) for t in feed.tags) + "]"))
    if feed.language:
        fields.append(("language", _q(feed.language)))
    return fields


def _flow(feed: PlannedFeed) -> str:
    return "{" + ", ".join(f"{k}: {v}" for k, v in _fields(feed)) + "}"


def _entries(feeds: Sequence[PlannedFeed], indent: int, flow: bool, note: str) -> str:
    pad = " " * indent
    lines = [f"{pad}# {note}"]
    for feed in feeds:
        if flow:
            lines.append(f"{pad}- {_flow(feed)}")
        else:
            first, *rest = _fields(feed)
            lines.append(f"{pad}- {first[0]}: {first[1]}")
            lines.extend(f"{pad}  {k}: {v}" for k, v in rest)
    return "\n".join(lines) + "\n"


def _end(node: yaml.Node) -> yaml.Mark:
    """Where a node's own text ends. A block collection's end mark lies past the comments
    that follow it; its last value's does not."""
    if isinstance(node, yaml.MappingNode) and not node.flow_style and node.value:
        return _end(node.value[-1][1])
    if isinstance(node, yaml.SequenceNode) and not node.flow_style and node.value:
        return _end(node.value[-1])
    return node.end_mark


def insert_feeds(text: str, feeds: Sequence[PlannedFeed], note: str) -> str:
    """``text`` (a config file) with ``feeds`` added at the end of its ``feeds:`` list."""
    try:
        root = yaml.compose(text)
    except yaml.YAMLError as exc:
        raise ExportError(f"the config file is not valid YAML: {exc}") from None
    if root is not None and not isinstance(root, yaml.MappingNode):
        raise ExportError("the config file is not a mapping of keys")
    value: yaml.Node | None = None
    for key_node, value_node in root.value if root is not None else []:
        if isinstance(key_node, yaml.ScalarNode) and key_node.value == "feeds":
            value = value_node
    if value is None:
        tail = "" if not text or text.endswith("\n") else "\n"
        return f"{text}{tail}\nfeeds:\n{_entries(feeds, 2, True, note)}"
    if isinstance(value, yaml.SequenceNode) and not value.flow_style and value.value:
        last = value.value[-1]
        lines = text.splitlines(keepends=True)
        start_line = lines[last.start_mark.line]
        stripped = start_line.lstrip()
        dash = len(start_line) - len(stripped) if stripped.startswith("-") else 0
        flow = isinstance(last, yaml.MappingNode) and bool(last.flow_style)
        end = _end(last)
        at = end.line if end.column == 0 else end.line + 1
        if at > len(lines):
            at = len(lines)
        if at == len(lines) and lines and not lines[-1].endswith("\n"):
            lines[-1] += "\n"
        lines.insert(at, _entries(feeds, dash, flow, note))
        return "".join(lines)
    if isinstance(value, yaml.SequenceNode) and value.flow_style and value.value:
        # feeds: [{...}, {...}]: add inside the brackets.
        close = value.end_mark.index - 1
        added = "".join(", " + _flow(f) for f in feeds)
        return text[:close] + added + text[close:]
    # feeds: [] or an empty value: a block list in its place.
    block = "\n" + _entries(feeds, 2, True, note).rstrip("\n")
    return text[: value.start_mark.index].rstrip(" ") + block + text[value.end_mark.index :]


def apply_import(path: Path, plan: ImportPlan, *, note: str) -> None:
    """Add ``plan.added`` to the config file at ``path``, atomically, or raise ExportError
    (and leave the file as it was) when the result would not be a valid config."""
    if not plan.added:
        return
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ExportError(f"{path}: cannot read: {exc}") from None
    updated = insert_feeds(text, plan.added, note)
    try:
        config = parse_config(load_yaml(updated), source=str(path))
    except (yaml.YAMLError, ConfigError) as exc:
        raise ExportError(
            f"{path}: adding the feeds would make the config invalid ({exc}); "
            "the file is unchanged: add them by hand"
        ) from None
    missing = [f.url for f in plan.added if config.feed(f.url) is None]
    if missing:
        raise ExportError(f"{path}: could not place the new feeds in its feeds list; unchanged")
    _write_atomic(path, updated)


def _write_atomic(path: Path, text: str) -> None:
    directory = path.resolve().parent
    try:
        mode = path.stat().st_mode & 0o7777
    except OSError:
        mode = 0o644
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path.resolve())
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise ExportError(f"{path}: cannot write: {exc}") from None
