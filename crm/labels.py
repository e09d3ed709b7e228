"""A choice field's labels by value in the active language, built once per page, feed or export
rather than once per row: `get_FOO_display` rebuilds a dict of the field's choices on every call,
and a lazy label is translated again each time it is printed.

    stages = choice_labels(Stage.choices)   # {"proposal": "方案报价", …}
    stages.get(lead.stage, lead.stage)      # the code itself if the choices no longer have it
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any


def choice_labels(choices: Iterable[tuple[Any, Any]]) -> dict[Any, str]:
    """`{value: label}` for the choices (a TextChoices' `.choices`, or a field's `flatchoices`),
    each label translated now, into the language active at the call."""
    return {value: str(label) for value, label in choices}
