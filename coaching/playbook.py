"""The playbook: the coach's rules as data (seeds/playbook.yaml), loaded and checked at start-up.

A broken playbook raises PlaybookError naming the file and the entry, so the app will not start
with advice it cannot give. This module checks the file's shape; whether each rule's scan and
events are ones the coach can run is checked against the scan and handler registries at start-up
(coaching.receivers.connect).

A rule is triggered by one or more CRM events (`trigger: {event: name}` or a list of names), by
a scan (`trigger: {scan: name}`), or by a moment in the coach's own services
(`trigger: {moment: thanks_sent}`). Rules caused by what a person just did (events and moments)
are `instant`: they are pushed at once, not rationed like scan findings. A rule's `kind` is
"advice" (asks for an action) or "update" (tells what someone did; seen is done).

Texts may vary with the nudge's context: `variants` is a list of `{when: {key: value}, title:,
advice:}`; the first variant whose `when` matches the context and that gives the part wins, so a
text about chicken-rib leads is only shown for them. Every rule has a `name` and a label for each
threshold, in words, for the settings and numbers pages.
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from django.conf import settings
from django.utils import translation

LANGUAGES = ("en", "zh-hans")
AUDIENCES = ("rep", "manager", "director")
PRIORITIES = {"low": 1, "normal": 2, "high": 3}
TARGETS = frozenset(
    {
        "report_progress",
        "report_escalation",
        "report_loss_review",
        "report_general",
        "report_question",
        "report_shared",
        "lead",
        "report_detail",
        "report_decide",
        "thanks",
        "year_end_thanks",
        "handoff",
        "team_leads",
        "feed",
        "team_page",
    }
)
RESOLUTIONS = frozenset(
    {
        "report_submitted",
        "report_with_plan",
        "escalation_submitted",
        "loss_review_submitted",
        "report_shared_with_director",
        "activity_logged",
        "lead_closed",
        "lead_handed_to_rep",
        "thanks_sent",
        "year_end_note_sent",
        "report_acknowledged",
        "plan_decided",
        "dismissed",
        "report_seen",
        "seen",
        "feed_seen",
        "next_step_set",
        "first_plan_sent",
    }
)
PLACEHOLDERS = frozenset(
    {"company", "days", "rep", "count", "date", "manager", "note", "value", "until"}
)
# Moments in the coach's own services that trigger rules (coaching.thanks).
MOMENTS = frozenset({"thanks_sent", "credit_posted", "next_lead_asked"})
KINDS = ("advice", "update")
IDEAS = frozenset(f"I{n}" for n in range(1, 16))
ID_PATTERN = re.compile(r"^[a-z][a-z0-9_]{2,59}$")


class PlaybookError(Exception):
    """The playbook file is broken; the message names the file and the entry."""


@dataclass(frozen=True)
class Source:
    file: str
    locator: str
    ideas: tuple[str, ...]


@dataclass(frozen=True)
class Variant:
    """Texts used instead of the rule's own when the nudge's context matches `when`."""

    when: dict[str, Any]
    texts: dict[str, dict[str, str]]

    def matches(self, context: dict[str, Any]) -> bool:
        for key, wanted in self.when.items():
            value = context.get(key)
            if isinstance(wanted, bool):
                if bool(value) != wanted:
                    return False
            elif value != wanted:
                return False
        return True


@dataclass(frozen=True)
class Rule:
    id: str
    event: str | None
    scan: str | None
    audience: str
    priority: int
    thresholds: dict[str, int]
    title: dict[str, str]
    advice: dict[str, str]
    action_target: str
    action_label: dict[str, str]
    resolves: tuple[str, ...]
    source: Source
    events: tuple[str, ...] = ()
    moment: str | None = None
    kind: str = "advice"
    name: dict[str, str] | None = None
    threshold_labels: dict[str, dict[str, str]] | None = None
    variants: tuple[Variant, ...] = ()
    # The grouped card's title (coaching.cards), {count} = how many subjects it holds.
    card_title: dict[str, str] | None = None

    @property
    def instant(self) -> bool:
        """Caused by what a person just did (an event or a moment), not found by a scan."""
        return bool(self.events or self.moment)

    def text(self, part: str, language: str | None, context: dict[str, Any]) -> str:
        """The rule's title or advice in `language`, with its placeholders filled; a variant
        whose `when` matches the context replaces the rule's own text."""
        texts: dict[str, str] = getattr(self, part)
        for variant in self.variants:
            if part in variant.texts and variant.matches(context):
                texts = variant.texts[part]
                break
        lang = language if language in texts else "en"
        return string.Formatter().vformat(texts[lang], (), _Fill(context))

    def label(self, language: str | None) -> str:
        return self.action_label.get(language or "en", self.action_label["en"])

    def name_in(self, language: str | None) -> str:
        """The rule's name in words (for the settings and numbers pages)."""
        names = self.name or {}
        return names.get(language or "en") or names.get("en") or self.id

    @property
    def name_text(self) -> str:
        """The rule's name in the active language (for templates)."""
        return self.name_in(translation.get_language())

    def threshold_label(self, threshold: str, language: str | None) -> str:
        """A threshold's label in words, in `language`."""
        labels = (self.threshold_labels or {}).get(threshold) or {}
        return labels.get(language or "en") or labels.get("en") or threshold


class _Fill(dict[str, Any]):
    def __missing__(self, key: str) -> str:
        return "…"


def _placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def _bilingual(entry: dict[str, Any], key: str, where: str) -> dict[str, str]:
    value = entry.get(key)
    if not isinstance(value, dict):
        raise PlaybookError(f"{where}: '{key}' must give the text in {', '.join(LANGUAGES)}")
    texts: dict[str, str] = {}
    for lang in LANGUAGES:
        text = value.get(lang)
        if not isinstance(text, str) or not text.strip():
            raise PlaybookError(f"{where}: '{key}' has no {lang} text")
        texts[lang] = text.strip()
    try:
        sets = {lang: _placeholders(text) for lang, text in texts.items()}
    except ValueError as error:
        raise PlaybookError(f"{where}: '{key}' has a broken placeholder: {error}") from error
    unknown = set().union(*sets.values()) - PLACEHOLDERS
    if unknown:
        raise PlaybookError(f"{where}: '{key}' uses unknown placeholders {sorted(unknown)}")
    if len({frozenset(s) for s in sets.values()}) > 1:
        raise PlaybookError(f"{where}: '{key}' uses different placeholders per language")
    return texts


def _trigger(entry: dict[str, Any], where: str) -> tuple[tuple[str, ...], str | None, str | None]:
    """(events, scan, moment): exactly one of them given."""
    trigger = entry.get("trigger") or {}
    message = (
        f"{where}: 'trigger' must be exactly one of event: (a name or a list), scan: or moment:"
    )
    if not isinstance(trigger, dict) or len(trigger) != 1:
        raise PlaybookError(message)
    event, scan, moment = trigger.get("event"), trigger.get("scan"), trigger.get("moment")
    if isinstance(event, str):
        return (event,), None, None
    if isinstance(event, list) and event and all(isinstance(e, str) for e in event):
        return tuple(event), None, None
    if isinstance(scan, str):
        return (), scan, None
    if isinstance(moment, str):
        if moment not in MOMENTS:
            raise PlaybookError(f"{where}: 'moment' must be one of {sorted(MOMENTS)}")
        return (), None, moment
    raise PlaybookError(message)


def _thresholds(entry: dict[str, Any], where: str) -> dict[str, int]:
    thresholds = entry.get("thresholds") or {}
    if not isinstance(thresholds, dict) or not all(
        isinstance(k, str) and isinstance(v, int) and not isinstance(v, bool) and v >= 0
        for k, v in thresholds.items()
    ):
        raise PlaybookError(f"{where}: 'thresholds' must map names to whole numbers ≥ 0")
    return dict(thresholds)


def _source(entry: dict[str, Any], where: str) -> Source:
    source = entry.get("source") or {}
    if not isinstance(source, dict):
        raise PlaybookError(f"{where}: 'source' must be a mapping")
    locator = source.get("locator")
    if not isinstance(source.get("file"), str) or not source["file"].endswith(".txt"):
        raise PlaybookError(f"{where}: 'source.file' must name a transcript (.txt)")
    if not isinstance(locator, str) or not locator or len(locator) > 30:
        raise PlaybookError(f"{where}: 'source.locator' must be 1 to 30 characters")
    ideas = source.get("ideas")
    if not isinstance(ideas, list) or not ideas or set(ideas) - IDEAS:
        raise PlaybookError(f"{where}: 'source.ideas' must list idea ids I1–I15")
    return Source(file=source["file"], locator=locator, ideas=tuple(ideas))


def _threshold_labels(
    entry: dict[str, Any], thresholds: dict[str, int], where: str
) -> dict[str, dict[str, str]]:
    labels = entry.get("threshold_labels") or {}
    if not isinstance(labels, dict) or set(labels) != set(thresholds):
        raise PlaybookError(f"{where}: 'threshold_labels' must label each threshold in words")
    return {name: _bilingual(labels, name, f"{where} threshold_labels") for name in thresholds}


def _variants(entry: dict[str, Any], where: str) -> tuple[Variant, ...]:
    raw = entry.get("variants") or []
    if not isinstance(raw, list):
        raise PlaybookError(f"{where}: 'variants' must be a list")
    variants: list[Variant] = []
    for index, item in enumerate(raw):
        at = f"{where} variant #{index + 1}"
        if not isinstance(item, dict) or not isinstance(item.get("when"), dict) or not item["when"]:
            raise PlaybookError(f"{at}: needs a 'when' mapping of context keys to values")
        parts = [part for part in ("title", "advice") if part in item]
        if not parts:
            raise PlaybookError(f"{at}: gives neither a title nor an advice")
        texts = {part: _bilingual(item, part, at) for part in parts}
        variants.append(Variant(when=dict(item["when"]), texts=texts))
    return tuple(variants)


def _card_title(entry: dict[str, Any], where: str) -> dict[str, str] | None:
    card = entry.get("card")
    if card is None:
        return None
    if not isinstance(card, dict):
        raise PlaybookError(f"{where}: 'card' must be a mapping with a 'title'")
    return _bilingual(card, "title", f"{where} card")


def _rule(entry: dict[str, Any], rule_id: str, where: str) -> Rule:
    """One rule's entry checked, part by part in the file's order, and built."""
    events, scan, moment = _trigger(entry, where)
    if entry.get("audience") not in AUDIENCES:
        raise PlaybookError(f"{where}: 'audience' must be one of {', '.join(AUDIENCES)}")
    if entry.get("priority") not in PRIORITIES:
        raise PlaybookError(f"{where}: 'priority' must be one of {', '.join(PRIORITIES)}")
    thresholds = _thresholds(entry, where)
    action = entry.get("action") or {}
    if not isinstance(action, dict) or action.get("target") not in TARGETS:
        raise PlaybookError(f"{where}: 'action.target' must be one of {sorted(TARGETS)}")
    resolves = entry.get("resolves")
    if not isinstance(resolves, list) or not resolves or set(resolves) - RESOLUTIONS:
        raise PlaybookError(f"{where}: 'resolves' must list codes from {sorted(RESOLUTIONS)}")
    source = _source(entry, where)
    if entry.get("kind", "advice") not in KINDS:
        raise PlaybookError(f"{where}: 'kind' must be one of {', '.join(KINDS)}")
    return Rule(
        id=rule_id,
        event=events[0] if events else None,
        events=events,
        moment=moment,
        kind=entry.get("kind", "advice"),
        name=_bilingual(entry, "name", where),
        threshold_labels=_threshold_labels(entry, thresholds, where),
        variants=_variants(entry, where),
        card_title=_card_title(entry, where),
        scan=scan,
        audience=entry["audience"],
        priority=PRIORITIES[entry["priority"]],
        thresholds=thresholds,
        title=_bilingual(entry, "title", where),
        advice=_bilingual(entry, "advice", where),
        action_target=action["target"],
        action_label=_bilingual(action, "label", f"{where} action"),
        resolves=tuple(resolves),
        source=source,
    )


def parse(data: Any, path: str) -> dict[str, Rule]:
    """Check the playbook's data and build its rules; raise PlaybookError on the first fault."""
    if not isinstance(data, dict) or not isinstance(data.get("rules"), list):
        raise PlaybookError(f"{path}: expected a mapping with a 'rules' list")
    rules: dict[str, Rule] = {}
    for index, entry in enumerate(data["rules"]):
        where = f"{path}: rule #{index + 1}"
        if not isinstance(entry, dict):
            raise PlaybookError(f"{where}: must be a mapping")
        rule_id = entry.get("id")
        if not isinstance(rule_id, str) or not ID_PATTERN.match(rule_id):
            raise PlaybookError(f"{where}: 'id' must be snake_case text")
        where = f"{path}: rule '{rule_id}'"
        if rule_id in rules:
            raise PlaybookError(f"{where}: the id is used twice")
        rules[rule_id] = _rule(entry, rule_id, where)
    if not rules:
        raise PlaybookError(f"{path}: the playbook has no rules")
    return rules


_RULES: dict[str, Rule] = {}


def load(path: Path | None = None) -> dict[str, Rule]:
    """Load and check the playbook (once per process; again when given a path)."""
    global _RULES
    if _RULES and path is None:
        return _RULES
    file = Path(path or settings.KAOPU_PLAYBOOK)
    try:
        data = yaml.safe_load(file.read_text(encoding="utf-8"))
    except OSError as error:
        raise PlaybookError(f"{file}: cannot be read: {error}") from error
    except yaml.YAMLError as error:
        raise PlaybookError(f"{file}: is not valid YAML: {error}") from error
    rules = parse(data, str(file))
    if path is None:
        _RULES = rules
    return rules


def rules() -> dict[str, Rule]:
    return load()


def rule(rule_id: str) -> Rule:
    return load()[rule_id]
