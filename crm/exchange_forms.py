"""Forms for getting leads in: the upload and the column mapping."""

from __future__ import annotations

from typing import Any, cast

from django import forms
from django.utils.translation import gettext_lazy as _

from crm.imports import IMPORTABLE_FIELDS, field_label
from crm.models import DuplicatePolicy, ImportJob, ImportMode, Source, Team, User


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
        initial=ImportMode.ALL_OR_NOTHING,
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

    def column_fields(self) -> list[forms.BoundField]:
        return [self[key] for key, _name in self.columns]

    def mapping(self) -> dict[str, str]:
        return {
            key.removeprefix("col_"): self.cleaned_data.get(key) or "" for key, _n in self.columns
        }
