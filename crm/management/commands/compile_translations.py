"""Compile locale/*/LC_MESSAGES/*.po into .mo with polib, so no system gettext is needed."""

from pathlib import Path
from typing import Any

import polib
from django.conf import settings
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Compile the translation catalogues (.po → .mo) without GNU gettext."

    def handle(self, *args: Any, **options: Any) -> None:
        for locale_dir in settings.LOCALE_PATHS:
            for po_path in sorted(Path(locale_dir).glob("*/LC_MESSAGES/*.po")):
                catalogue = polib.pofile(str(po_path))
                catalogue.save_as_mofile(str(po_path.with_suffix(".mo")))
                self.stdout.write(
                    f"{po_path}: {catalogue.percent_translated()}% translated, compiled"
                )
