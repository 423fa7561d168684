"""The heavy parts of tagging, loaded once per process and passed in: the topic model
(:mod:`aggregator.ingest.tag.model`, numpy) and the morpheme analyser
(:mod:`aggregator.ingest.tag.morph`, kiwipiepy).

Importing this package is cheap: numpy and kiwipiepy are imported by :func:`open_tagger`
only, so the reading commands (digest, show, search) never pay for them.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from aggregator.config.schema import Config
    from aggregator.ingest.tag.rules import Morphemes, Tagging, TopicScorer

__all__ = ["Tagger", "open_tagger", "tagging_for", "with_learned"]


@dataclass(frozen=True)
class Tagger:
    """What tagging needs besides the config: the model (None when off) and an analyser."""

    model: TopicScorer | None = None
    morphemes: Morphemes | None = None
    # The config's tagger.model the model was loaded from (None: the shipped one).
    model_path: str | None = None


def open_tagger(
    config: Config, *, with_model: bool | None = None, previous: Tagger | None = None
) -> Tagger:
    """Load the topic model (when ``tagger.enabled``, or when ``with_model`` says so) and
    prepare the morpheme analyser (loaded on first use) when a rule has ``morph`` terms.

    With ``previous`` (a config reload), what it already loaded is kept when still wanted.

    Raises:
        TaggerError: the model files are missing, damaged or of another version.
    """
    from aggregator.ingest.tag.morph import KiwiMorphemes
    from aggregator.ingest.tag.rules import compile_rules

    model: TopicScorer | None = None
    if config.tagger.enabled if with_model is None else with_model:
        if previous is not None and previous.model and previous.model_path == config.tagger.model:
            model = previous.model
        else:
            from aggregator.ingest.tag.model import TopicModel

            model = TopicModel.load(config.tagger.model)
    morphemes: Morphemes | None = None
    if compile_rules(config.tags).needs_morphemes:
        morphemes = previous.morphemes if previous and previous.morphemes else KiwiMorphemes()
    return Tagger(model=model, morphemes=morphemes, model_path=config.tagger.model)


def tagging_for(config: Config, tagger: Tagger) -> Tagging:
    """How to tag under ``config`` with what ``tagger`` loaded: its rules compiled, the model
    when ``tagger.enabled``, its threshold and the analyser."""
    from aggregator.ingest.tag.rules import Tagging, compile_rules

    return Tagging(
        rules=compile_rules(config.tags),
        model=tagger.model if config.tagger.enabled else None,
        threshold=config.tagger.threshold,
        morphemes=tagger.morphemes,
    )


def with_learned(config: Config, tagger: Tagger, stored: tuple[str, bytes] | None) -> Tagger:
    """``tagger`` with the model ``aggregator tags learn`` stored (``(meta JSON, arrays)``),
    when there is one and ``tagger.learned`` is on; else with the shipped model alone. A
    learned model that no longer fits the shipped one is skipped with a warning."""
    import json
    import logging

    from aggregator.errors import TaggerError
    from aggregator.ingest.tag.learn import AdaptedModel
    from aggregator.ingest.tag.model import TopicModel

    model = tagger.model
    base = model.base if isinstance(model, AdaptedModel) else model
    if not isinstance(base, TopicModel):
        return tagger
    if stored is None or not config.tagger.learned:
        return replace(tagger, model=base)
    meta, blob = stored
    try:
        adapted = AdaptedModel.from_blob(base, json.loads(meta), blob)
    except (TaggerError, ValueError) as exc:
        logging.getLogger(__name__).warning("not using the learned tag model: %s", exc)
        return replace(tagger, model=base)
    return replace(tagger, model=adapted)
