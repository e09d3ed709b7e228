"""Every message the code can show has its Simplified Chinese translation."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import polib
import pytest
from django.utils import translation

ROOT = Path(__file__).resolve().parent.parent
CATALOGUE = ROOT / "locale" / "zh_Hans" / "LC_MESSAGES" / "django.po"
SOURCES = ["config", "crm", "coaching", "api", "templates", "seeds", "manage.py"]


def _missing(po: polib.POFile) -> list[str]:
    return [e.msgid for e in po.untranslated_entries()] + [e.msgid for e in po.fuzzy_entries()]


def test_committed_catalogue_is_complete() -> None:
    po = polib.pofile(str(CATALOGUE))
    assert len(po) > 100
    assert _missing(po) == []


def test_every_message_in_the_code_is_in_the_catalogue(tmp_path: Path) -> None:
    """Extract the messages afresh from a copy of the code: a new string without its
    translation, or one whose English changed, fails here."""
    if shutil.which("xgettext") is None:
        if os.environ.get("CI"):
            pytest.fail("GNU gettext (xgettext) is missing; .ci/run installs it")
        pytest.skip("GNU gettext (xgettext) is not installed")
    for name in SOURCES:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, tmp_path / name, ignore=shutil.ignore_patterns("__pycache__"))
        elif source.exists():
            shutil.copy(source, tmp_path / name)
    shutil.copytree(ROOT / "locale", tmp_path / "locale")
    env = os.environ | {"PYTHONPATH": str(tmp_path), "DJANGO_SETTINGS_MODULE": "config.settings"}
    env.pop("DATABASE_URL", None)
    subprocess.run(
        [sys.executable, "manage.py", "makemessages", "-l", "zh_Hans", "--no-obsolete"],
        cwd=tmp_path,
        env=env,
        check=True,
        capture_output=True,
    )
    fresh = polib.pofile(str(tmp_path / "locale" / "zh_Hans" / "LC_MESSAGES" / "django.po"))
    assert _missing(fresh) == []


def test_pages_speak_chinese() -> None:
    with translation.override("zh-hans"):
        assert translation.gettext("My day") != "My day"
        assert translation.gettext("Leads") != "Leads"
