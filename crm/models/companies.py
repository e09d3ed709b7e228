"""The people around a deal: companies (accounts), their contacts, and the role each contact
plays in a lead (decision maker, user department, procurement, …).

A company is one real-world organisation, shared by every lead at it; visibility never comes
from the company itself but from the leads (crm.permissions): a person sees a company through a
lead they may see, and a contact only through a lead the contact takes part in, so a rep never
sees another rep's contacts through a shared company.

`company_name_key` is the one place that says when two company names are the same company
(legal suffixes, full/half-width brackets, a branch in brackets, English suffixes). It is a pure
function: the migration that built companies from the leads uses it too.
"""

from __future__ import annotations

import re
import unicodedata

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

# Longest first: "集团股份有限公司" must go before "有限公司" leaves "集团股份".
CN_SUFFIXES = (
    "集团股份有限公司",
    "集团有限责任公司",
    "集团有限公司",
    "股份有限公司",
    "有限责任公司",
    "股份公司",
    "有限公司",
    "总公司",
    "分公司",
    "集团",
    "公司",
)
EN_SUFFIXES = (
    "co ltd",
    "co limited",
    "company limited",
    "limited",
    "ltd",
    "incorporated",
    "inc",
    "corporation",
    "corp",
    "company",
    "co",
    "gmbh",
    "ag",
    "llc",
    "plc",
    "sa",
    "bv",
    "group",
)
_BRACKETS = re.compile(r"\([^()]*\)|\[[^\[\]]*\]|【[^【】]*】")
_NOT_WORD = re.compile(r"[^\w]+")
_EN_TAIL = re.compile(
    r"(?:\s|^)(?:" + "|".join(s.replace(" ", r"\s+") for s in EN_SUFFIXES) + r")$"
)


def company_name_key(name: str) -> str:
    """The matching key of a company name: two names with the same key are the same company.

    NFKC folds full-width brackets and letters to half-width; a bracketed part (a branch or a
    region, "(Hangzhou)", "（杭州）") is dropped; then the legal suffixes (有限公司, 股份有限公司,
    集团, Ltd, Inc, GmbH, …) are peeled off the end, and case, spaces and punctuation no longer
    count. A name that is nothing but a suffix keeps its folded self, never an empty key."""
    folded = unicodedata.normalize("NFKC", name).casefold().strip()
    core = _BRACKETS.sub(" ", folded)
    core = core.replace("&", " and ").replace(".", " ").replace(",", " ")
    core = " ".join(core.split())
    changed = True
    while changed and core:
        changed = False
        for suffix in CN_SUFFIXES:
            if core.endswith(suffix) and len(core) > len(suffix):
                core = core[: -len(suffix)].rstrip()
                changed = True
        tail = _EN_TAIL.search(core)
        if tail and tail.start() > 0:
            core = core[: tail.start()].rstrip()
            changed = True
    key = _NOT_WORD.sub("", core)
    return key or _NOT_WORD.sub("", folded) or folded


class ContactRole(models.TextChoices):
    DECISION_MAKER = "decision_maker", _("Decision maker")
    USER_DEPARTMENT = "user_department", _("User department")
    PROCUREMENT = "procurement", _("Procurement")
    TECHNICAL = "technical", _("Technical")
    FINANCE = "finance", _("Finance")
    INFLUENCER = "influencer", _("Influencer")
    OTHER = "other", _("Other")


class Company(models.Model):
    name = models.CharField(_("company name"), max_length=200)
    # company_name_key(name), kept by the services: duplicates are found on it with an index.
    name_key = models.CharField(_("matching key"), max_length=200, db_index=True, editable=False)
    uscc = models.CharField(
        _("unified social credit code"),
        max_length=18,
        blank=True,
        help_text=_("统一社会信用代码, 18 characters, when known."),
    )
    industry = models.CharField(_("industry"), max_length=100, blank=True)
    city = models.CharField(_("city"), max_length=100, blank=True)
    address = models.CharField(_("address"), max_length=300, blank=True)
    website = models.URLField(_("website"), max_length=300, blank=True)
    notes = models.TextField(_("notes"), blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("created by"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    updated_at = models.DateTimeField(_("updated at"), default=timezone.now)

    class Meta:
        ordering = ["name", "id"]
        verbose_name = _("company")
        verbose_name_plural = _("companies")
        constraints = [
            models.UniqueConstraint(
                fields=["uscc"], condition=~Q(uscc=""), name="company_uscc_unique"
            )
        ]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("company-detail", args=[self.pk])


class Contact(models.Model):
    company = models.ForeignKey(
        Company, verbose_name=_("company"), on_delete=models.PROTECT, related_name="contacts"
    )
    name = models.CharField(_("name"), max_length=100)
    title = models.CharField(_("title"), max_length=100, blank=True)
    department = models.CharField(_("department"), max_length=100, blank=True)
    mobile = models.CharField(_("mobile"), max_length=40, blank=True)
    phone = models.CharField(_("phone"), max_length=40, blank=True)
    email = models.EmailField(_("email"), blank=True)
    wechat = models.CharField(_("WeChat ID"), max_length=60, blank=True)
    notes = models.TextField(_("notes"), blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("created by"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    updated_at = models.DateTimeField(_("updated at"), default=timezone.now)

    class Meta:
        ordering = ["name", "id"]
        verbose_name = _("contact")
        verbose_name_plural = _("contacts")
        indexes = [models.Index(fields=["company", "name"], name="contact_company_name")]

    def __str__(self) -> str:
        return f"{self.name} · {self.title}" if self.title else self.name

    def get_absolute_url(self) -> str:
        return reverse("contact-edit", args=[self.pk])


class LeadContact(models.Model):
    """A contact taking part in a lead, with the role they play in that deal."""

    lead = models.ForeignKey(
        "crm.Lead", verbose_name=_("lead"), on_delete=models.CASCADE, related_name="lead_contacts"
    )
    contact = models.ForeignKey(
        Contact, verbose_name=_("contact"), on_delete=models.CASCADE, related_name="lead_roles"
    )
    role = models.CharField(
        _("role in this deal"),
        max_length=20,
        choices=ContactRole.choices,
        default=ContactRole.OTHER,
    )
    created_at = models.DateTimeField(_("added at"), default=timezone.now)

    class Meta:
        ordering = ["id"]
        verbose_name = _("contact on a lead")
        verbose_name_plural = _("contacts on leads")
        constraints = [
            models.UniqueConstraint(fields=["lead", "contact"], name="leadcontact_unique")
        ]
        indexes = [models.Index(fields=["contact", "lead"], name="leadcontact_contact_lead")]

    def __str__(self) -> str:
        return f"{self.contact} · {self.get_role_display()}"
