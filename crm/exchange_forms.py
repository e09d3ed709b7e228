"""Forms for getting leads in: the upload and the column mapping."""

from __future__ import annotations

from typing import Any, cast

from django import forms
from django.utils.translation import gettext_lazy as _

from crm.imports import IMPORTABLE_FIELDS, field_label, values
from crm.imports.questions import questions
from crm.models import Currency, DuplicatePolicy, ImportJob, ImportMode, Source, Team, User


class ImportUploadForm(forms.Form):
    file = forms.FileField(
        label=_("CSV or XLSX file"),
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,.txt,.xlsx"}),
    )
    team = forms.ModelChoiceField(label=_("Team"), queryset=Team.objects.none(), required=False)

    def __init__(self, *args: Any, user: User, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Only an admin picks the team; a manager's leads go to the pool of the team they manage.
        if user.is_admin_role:
            cast(forms.ModelChoiceField, self.fields["team"]).queryset = Team.objects.all()
            self.fields["team"].required = True
        else:
            del self.fields["team"]


class ImportMappingForm(forms.Form):
    """One menu per column of the file (which lead field it holds, or none), and the choices for
    errors, duplicates and rows without a source."""

    mode = forms.ChoiceField(
        label=_("Rows with errors"),
        choices=ImportMode.choices,
        initial=ImportMode.VALID_ROWS,
        widget=forms.RadioSelect,
    )
    on_duplicate = forms.ChoiceField(
        label=_("Rows that match a lead of the team (same phone, email or company)"),
        choices=DuplicatePolicy.choices,
        initial=DuplicatePolicy.SKIP,
        widget=forms.RadioSelect,
    )
    default_source = forms.ChoiceField(
        label=_("Source for rows without one"), choices=Source.choices, initial=Source.MARKETING
    )

    def __init__(self, *args: Any, job: ImportJob, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        choices = [("", _("— not imported —"))] + [
            (name, field_label(name)) for name in IMPORTABLE_FIELDS
        ]
        self.columns: list[tuple[str, str]] = []
        for index, name in enumerate(job.header):
            key = f"col_{index}"
            self.fields[key] = forms.ChoiceField(
                label=name, choices=choices, required=False, initial=job.mapping.get(str(index))
            )
            self.columns.append((key, name))
        if job.default_source:
            self.fields["default_source"].initial = job.default_source
        self.questions = questions(job, self._chosen_mapping(job))
        self._add_questions()

    def _chosen_mapping(self, job: ImportJob) -> dict[str, str]:
        """The mapping the questions are about: as posted, else as suggested."""
        if not self.is_bound:
            return dict(job.mapping)
        chosen = {}
        for index in range(len(job.header)):
            name = self.data.get(f"col_{index}")
            if isinstance(name, str) and name in IMPORTABLE_FIELDS:
                chosen[str(index)] = name
        return chosen

    def _add_questions(self) -> None:
        asked = self.questions
        if asked.number_column is not None:
            self.fields["numbers"] = forms.ChoiceField(
                label=_("How are the amounts written? (for example %(values)s)")
                % {"values": " · ".join(asked.number_examples)},
                choices=[
                    (values.POINT, _("1,200.50: a point before the decimals")),
                    (values.COMMA, _("1.200,50: a comma before the decimals")),
                ],
                widget=forms.RadioSelect,
            )
        if asked.ask_date_order:
            self.fields["date_order"] = forms.ChoiceField(
                label=_("Which comes first in the dates? (for example %(values)s)")
                % {"values": " · ".join(asked.date_examples[:3])},
                choices=[
                    (values.DMY, _("The day: 05/03/2026 is 5 March")),
                    (values.MDY, _("The month: 05/03/2026 is May 3")),
                ],
                widget=forms.RadioSelect,
            )
        self.value_keys: list[tuple[str, str, str]] = []
        for picklist in asked.picklists:
            if picklist.name == "source":
                other = _("Other: the default source, the original kept in the notes")
                options = list(Source.choices)
            else:
                other = _("Unknown: the row is reported")
                options = list(Currency.choices)
            for number, (text, proposed) in enumerate(picklist.values):
                key = f"value_{picklist.column}_{number}"
                self.fields[key] = forms.ChoiceField(
                    label=text, choices=[("", other), *options], required=False, initial=proposed
                )
                self.value_keys.append((key, picklist.name, text))

    def question_fields(self) -> list[forms.BoundField]:
        return [self[key] for key in ("numbers", "date_order") if key in self.fields]

    def picklist_fields(self) -> list[tuple[str, list[forms.BoundField]]]:
        groups: dict[str, list[forms.BoundField]] = {}
        for key, name, _text in self.value_keys:
            groups.setdefault(str(field_label(name)), []).append(self[key])
        return list(groups.items())

    def answers(self) -> dict[str, Any]:
        data = self.cleaned_data
        chosen: dict[str, dict[str, str]] = {}
        for key, name, text in self.value_keys:
            if key in self.data:  # a value the form did not send keeps its proposed match
                chosen.setdefault(name, {})[text] = data.get(key) or ""
        numbers = {}
        if self.questions.number_column is not None:
            numbers[self.questions.number_column] = data.get("numbers")
        return {"numbers": numbers, "date_order": data.get("date_order"), "values": chosen}

    def column_fields(self) -> list[forms.BoundField]:
        return [self[key] for key, _name in self.columns]

    def mapping(self) -> dict[str, str]:
        return {
            key.removeprefix("col_"): self.cleaned_data.get(key) or "" for key, _n in self.columns
        }
