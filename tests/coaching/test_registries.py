"""The coach's registries: the events it answers and the scans it runs are the functions
registered for them, and the start-up check refuses a playbook rule that names anything else."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml
from django.conf import settings

from coaching import handlers, playbook, receivers, scans, services
from crm import events

REAL = Path(settings.KAOPU_PLAYBOOK)


@pytest.fixture(scope="module")
def real_data() -> dict[str, Any]:
    return yaml.safe_load(REAL.read_text(encoding="utf-8"))


def _start_up_with(
    data: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, settings: Any
) -> Path:
    """What CoachingConfig.ready() does at start-up, with `data` as the playbook."""
    path = tmp_path / "playbook.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    settings.KAOPU_PLAYBOOK = path
    monkeypatch.setattr(playbook, "_RULES", {})  # restored after the test
    playbook.load()
    receivers.connect()
    return path


def _rule(data: dict[str, Any], rule_id: str) -> dict[str, Any]:
    return next(r for r in data["rules"] if r["id"] == rule_id)


def test_the_handled_events_are_the_registered_handlers() -> None:
    assert set(services.HANDLED_EVENTS) == set(handlers.HANDLERS)
    assert set(handlers.HANDLERS) <= set(events.NAMES.values())
    # Every event a playbook rule listens to, and every scan it names, has its function.
    for rule in playbook.rules().values():
        assert rule.event is None or rule.event in handlers.HANDLERS, rule.id
        assert rule.scan is None or rule.scan in scans.SCANS, rule.id


def test_every_registered_scan_is_used_by_the_playbook() -> None:
    used = {rule.scan for rule in playbook.rules().values() if rule.scan}
    assert used == set(scans.SCANS)


def test_a_rule_on_an_event_no_handler_answers_stops_the_start_up(
    tmp_path: Path, real_data: dict[str, Any], monkeypatch: pytest.MonkeyPatch, settings: Any
) -> None:
    data = copy.deepcopy(real_data)
    # The CRM sends lead_created, but the coach has no handler for it.
    assert "lead_created" in events.NAMES.values()
    assert "lead_created" not in handlers.HANDLERS
    _rule(data, "lead_won_thanks")["trigger"] = {"event": "lead_created"}
    with pytest.raises(playbook.PlaybookError) as error:
        _start_up_with(data, tmp_path, monkeypatch, settings)
    assert str(tmp_path / "playbook.yaml") in str(error.value)
    assert "'lead_won_thanks'" in str(error.value)
    assert "'lead_created'" in str(error.value)


def test_the_real_playbook_passes_the_start_up_check(
    tmp_path: Path, real_data: dict[str, Any], monkeypatch: pytest.MonkeyPatch, settings: Any
) -> None:
    _start_up_with(copy.deepcopy(real_data), tmp_path, monkeypatch, settings)


def test_a_handler_or_scan_registered_twice_is_refused() -> None:
    with pytest.raises(ValueError, match="lead_won"):
        handlers.handles("lead_won")(lambda event: [])
    with pytest.raises(ValueError, match="stalled"):
        scans.scan("stalled")(lambda found: [])
