"""The playbook: the coach's rules as data (seeds/playbook.yaml), loaded and checked at start-up.

A broken playbook raises PlaybookError naming the file and the entry, so the app will not start
with advice it cannot give. This module checks the file's shape; whether each rule's scan and
event is one the coach can run is checked against the scan and handler registries at start-up
(coaching.receivers.connect).
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from django.conf import settings

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
    }
)
PLACEHOLDERS = frozenset({"company", "days", "rep", "count", "date"})
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

    def text(self, part: str, language: str | None, context: dict[str, Any]) -> str:
        """The rule's title or advice in `language`, with its placeholders filled."""
        texts: dict[str, str] = getattr(self, part)
        lang = language if language in texts else "en"
        return string.Formatter().vformat(texts[lang], (), _Fill(context))

    def label(self, language: str | None) -> str:
        return self.action_label.get(language or "en", self.action_label["en"])


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


def _trigger(entry: dict[str, Any], where: str) -> dict[str, str]:
    trigger = entry.get("trigger") or {}
    if (
        not isinstance(trigger, dict)
        or len(trigger) != 1
        or not (isinstance(trigger.get("event"), str) or isinstance(trigger.get("scan"), str))
    ):
        raise PlaybookError(f"{where}: 'trigger' must be exactly one of event: or scan:")
    return trigger


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


def _rule(entry: dict[str, Any], rule_id: str, where: str) -> Rule:
    """One rule's entry checked, part by part in the file's order, and built."""
    trigger = _trigger(entry, where)
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
    return Rule(
        id=rule_id,
        event=trigger.get("event"),
        scan=trigger.get("scan"),
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
