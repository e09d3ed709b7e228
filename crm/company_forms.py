"""Forms for companies and contacts: the company and contact fields, the list filters, putting
a contact on a lead (someone already at the company, or a new person), and merging two
companies. They parse input only; crm.services.companies checks and writes."""

from __future__ import annotations

from typing import Any, cast

from django import forms
from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _

from crm.models import Company, Contact, ContactRole


class CompanyForm(forms.ModelForm):
    website = forms.CharField(label=_("website"), max_length=300, required=False)

    class Meta:
        model = Company
        fields = ["name", "uscc", "industry", "city", "address", "website", "notes"]
        widgets = {"notes": forms.Textarea(attrs={"rows": 3})}

    def clean_website(self) -> str:
        """A bare "example.cn" means its https address (the service checks it)."""
        website = str(self.cleaned_data.get("website") or "").strip()
        if website and "://" not in website:
            website = f"https://{website}"
        return website

    def validate_unique(self) -> None:
        """The service says when a code is taken, in words a person can act on."""


class ContactForm(forms.ModelForm):
    class Meta:
        model = Contact
        fields = ["name", "title", "department", "mobile", "phone", "email", "wechat", "notes"]
        widgets = {"notes": forms.Textarea(attrs={"rows": 3})}


class CompanyFilterForm(forms.Form):
    q = forms.CharField(label=_("Search"), max_length=100, required=False)
    city = forms.CharField(label=_("City"), max_length=100, required=False)
    industry = forms.CharField(label=_("Industry"), max_length=100, required=False)


class ContactFilterForm(forms.Form):
    q = forms.CharField(label=_("Search"), max_length=100, required=False)
    role = forms.ChoiceField(
        label=_("Role in a deal"),
        choices=[("", _("Any role")), *ContactRole.choices],
        required=False,
    )
    company = forms.CharField(required=False, max_length=20, widget=forms.HiddenInput)


class LeadContactForm(forms.Form):
    """Someone already at the lead's company, or a new person (name, title, mobile)."""

    contact = forms.ModelChoiceField(
        label=_("Someone at the company"),
        queryset=Contact.objects.none(),
        required=False,
        empty_label=_("— a new person —"),
    )
    name = forms.CharField(label=_("New person's name"), max_length=100, required=False)
    title = forms.CharField(label=_("Title"), max_length=100, required=False)
    mobile = forms.CharField(label=_("Mobile"), max_length=40, required=False)
    role = forms.ChoiceField(label=_("Role in this deal"), choices=ContactRole.choices)

    def __init__(self, *args: Any, contacts: QuerySet[Contact], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.ModelChoiceField, self.fields["contact"]).queryset = contacts
        if not contacts.exists():
            del self.fields["contact"]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if not data.get("contact") and not (data.get("name") or "").strip():
            self.add_error("name", _("Pick someone at the company or give a new person's name."))
        return data


class CompanyMergeForm(forms.Form):
    merge = forms.ModelChoiceField(
        label=_("Merge this company into the one on this page"), queryset=Company.objects.none()
    )

    def __init__(self, *args: Any, companies: QuerySet[Company], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.ModelChoiceField, self.fields["merge"]).queryset = companies
