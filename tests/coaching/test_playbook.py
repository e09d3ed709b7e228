"""The playbook: the real one loads, cites its sources faithfully and speaks both languages;
a broken one stops the app with a message naming the file and the rule."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml
from django.conf import settings

from coaching import playbook, receivers
from tests.coaching.helpers import CJK

SEEDS = Path(settings.BASE_DIR).parent / "shared" / "seeds"
REAL = Path(settings.KAOPU_PLAYBOOK)
ALL_IDEAS = {f"I{n}" for n in range(1, 16)}


@pytest.fixture(scope="module")
def real_data() -> dict[str, Any]:
    return yaml.safe_load(REAL.read_text(encoding="utf-8"))


def test_the_real_playbook_loads() -> None:
    rules = playbook.load(REAL)
    assert len(rules) == 29  # + big_deal_no_decision_maker (issue 19)
    assert rules == playbook.rules()
    assert all(r.events or r.scan or r.moment for r in rules.values())


def test_every_locator_is_a_short_exact_quote_of_its_transcript() -> None:
    if not SEEDS.is_dir():
        pytest.skip(f"the transcripts are not here ({SEEDS}); cannot check the locators")
    transcripts: dict[str, str] = {}
    for rule in playbook.load(REAL).values():
        source = rule.source
        path = SEEDS / source.file
        assert path.is_file(), f"{rule.id}: no transcript {source.file}"
        text = transcripts.setdefault(source.file, path.read_text(encoding="utf-8"))
        assert len(source.locator) <= 30, f"{rule.id}: locator longer than 30 characters"
        assert source.locator in text, f"{rule.id}: {source.locator!r} is not in {source.file}"


def test_all_fifteen_ideas_are_served() -> None:
    served = {idea for rule in playbook.load(REAL).values() for idea in rule.source.ideas}
    assert served == ALL_IDEAS


def test_every_rule_speaks_english_and_simplified_chinese() -> None:
    for rule in playbook.load(REAL).values():
        for part in (rule.title, rule.advice, rule.action_label):
            assert set(part) == {"en", "zh-hans"}, rule.id
            assert part["en"].strip() and part["zh-hans"].strip(), rule.id
            assert CJK.search(part["zh-hans"]), f"{rule.id}: the Chinese text is not Chinese"
            assert not CJK.search(part["en"]), f"{rule.id}: the English text has Chinese in it"


# --- Broken playbooks --------------------------------------------------------------------------


def _rule(data: dict[str, Any], rule_id: str) -> dict[str, Any]:
    return next(r for r in data["rules"] if r["id"] == rule_id)


def _drop_zh_advice(data: dict[str, Any]) -> str:
    del _rule(data, "loss_review")["advice"]["zh-hans"]
    return "loss_review"


def _two_triggers(data: dict[str, Any]) -> str:
    _rule(data, "deadline_near")["trigger"] = {"scan": "deadline_near", "event": "lead_won"}
    return "deadline_near"


def _no_trigger(data: dict[str, Any]) -> str:
    _rule(data, "low_contact")["trigger"] = {"every": "day"}
    return "low_contact"


def _unknown_target(data: dict[str, Any]) -> str:
    _rule(data, "bounce_back")["action"]["target"] = "phone_the_customer"
    return "bounce_back"


def _long_locator(data: dict[str, Any]) -> str:
    _rule(data, "stalled_lead")["source"]["locator"] = "鸡" * 31
    return "stalled_lead"


def _duplicate_id(data: dict[str, Any]) -> str:
    data["rules"].append(copy.deepcopy(_rule(data, "report_due")))
    return "report_due"


def _unknown_placeholder(data: dict[str, Any]) -> str:
    _rule(data, "reliable_rep")["title"]["en"] = "{rep} is {mood}"
    return "reliable_rep"


def _unknown_idea(data: dict[str, Any]) -> str:
    _rule(data, "uneven_distribution")["source"]["ideas"] = ["I15", "I16"]
    return "uneven_distribution"


BREAKAGES = [
    _drop_zh_advice,
    _two_triggers,
    _no_trigger,
    _unknown_target,
    _long_locator,
    _duplicate_id,
    _unknown_placeholder,
    _unknown_idea,
]


@pytest.mark.parametrize("breakage", BREAKAGES, ids=lambda f: f.__name__.strip("_"))
def test_a_broken_rule_is_named_with_its_file(
    tmp_path: Path, real_data: dict[str, Any], breakage: Any
) -> None:
    data = copy.deepcopy(real_data)
    rule_id = breakage(data)
    path = tmp_path / "playbook.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    with pytest.raises(playbook.PlaybookError) as error:
        playbook.load(path)
    message = str(error.value)
    assert str(path) in message
    assert f"'{rule_id}'" in message


def test_invalid_yaml_is_named_with_its_file_and_line(tmp_path: Path) -> None:
    text = REAL.read_text(encoding="utf-8")
    broken = text.replace("  - id: year_end_thanks\n", "  - id: year_end_thanks: [\n")
    assert broken != text
    path = tmp_path / "playbook.yaml"
    path.write_text(broken, encoding="utf-8")
    line = broken.splitlines().index("  - id: year_end_thanks: [") + 1
    with pytest.raises(playbook.PlaybookError) as error:
        playbook.load(path)
    message = str(error.value)
    assert str(path) in message
    assert "not valid YAML" in message
    assert f"line {line}" in message
    assert "year_end_thanks" in message  # the offending line is quoted


def _start_up_with(path: Path, monkeypatch: pytest.MonkeyPatch, settings: Any) -> None:
    """What CoachingConfig.ready() does at start-up, with `path` as the playbook."""
    settings.KAOPU_PLAYBOOK = path
    monkeypatch.setattr(playbook, "_RULES", {})  # restored after the test
    playbook.load()
    receivers.connect()


def test_a_rule_listening_to_an_unknown_event_stops_the_start_up(
    tmp_path: Path, real_data: dict[str, Any], monkeypatch: pytest.MonkeyPatch, settings: Any
) -> None:
    data = copy.deepcopy(real_data)
    _rule(data, "lead_won_thanks")["trigger"] = {"event": "lead_wonn"}
    path = tmp_path / "playbook.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    with pytest.raises(playbook.PlaybookError) as error:
        _start_up_with(path, monkeypatch, settings)
    assert str(path) in str(error.value)
    assert "'lead_won_thanks'" in str(error.value)


def test_a_rule_naming_an_unknown_scan_stops_the_start_up(
    tmp_path: Path, real_data: dict[str, Any], monkeypatch: pytest.MonkeyPatch, settings: Any
) -> None:
    data = copy.deepcopy(real_data)
    _rule(data, "stalled_lead")["trigger"] = {"scan": "stalld"}
    path = tmp_path / "playbook.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    with pytest.raises(playbook.PlaybookError) as error:
        _start_up_with(path, monkeypatch, settings)
    assert str(path) in str(error.value)
    assert "'stalled_lead'" in str(error.value)
