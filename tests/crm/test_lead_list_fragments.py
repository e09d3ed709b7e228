"""The layout's nav and the lead list's filter bar are rendered once per process and reused
(crm/templatetags/kaopu_fragments.py): nobody may see another person's nav, owners, language or
filters, nor a value from before a change. Each test has people of different roles and languages
open pages in turn in one process, then compares with what they see themselves."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING

from django.template import engines
from django.test import Client
from django.urls import reverse
from django.utils import translation
from django.utils.html import escape
from django.utils.translation import gettext as _

if TYPE_CHECKING:
    from crm.models import User
    from tests.conftest import Company

# Per request, not per page: the CSRF token (masked anew each time) and the CSP nonce.
SECRETS = re.compile(r'(csrfmiddlewaretoken" value="|"X-CSRFToken": "|nonce=")[^"]*"')


def fresh_process() -> None:
    """Forget every stored fragment, as a newly started process has none: the cached template
    loader parses the templates again, and each new node starts with an empty store."""
    for loader in engines["django"].engine.template_loaders:  # type: ignore[attr-defined]
        if hasattr(loader, "reset"):
            loader.reset()


def page(client: Client, url: str, query: dict[str, str] | None = None) -> str:
    response = client.get(url, query or {})
    assert response.status_code == 200
    return SECRETS.sub(r'\1…"', response.content.decode())


def nav(html: str) -> str:
    return html[html.index('<nav id="main-nav"') : html.index("</nav>")]


def filter_bar(html: str) -> str:
    start = html.index('class="filters"')
    return html[start : html.index("</form>", start)]


def owner_options(html: str) -> list[str]:
    bar = filter_bar(html)
    select = bar[bar.index('name="owner"') : bar.index("</select>", bar.index('name="owner"'))]
    return re.findall(r'<option value="(\d+)"', select)


def in_chinese(text: str) -> str:
    with translation.override("zh-hans"):
        return _(text)


def test_people_of_other_roles_and_languages_each_see_their_own_nav_and_filter_bar(
    company: Company, client_for: Callable[..., Client]
) -> None:
    # Two managers alike but for the admin site (is_staff), so only that tells their navs apart.
    company.manager_b.is_staff = True
    company.manager_b.save(update_fields=["is_staff"])
    people: list[tuple[User, str]] = [
        (company.manager_a, "en"),
        (company.rep_a1, "zh-hans"),
        (company.director, "en"),
        (company.manager_b, "en"),
        (company.rep_b1, "en"),
        (company.admin, "en"),
    ]
    clients = [client_for(user, language) for user, language in people]
    lists = reverse("lead-list")
    # Everyone in turn, twice over: the second round reads what the others stored.
    seen = [[page(client, lists) for client in clients] for _round in range(2)][1]
    fresh = []
    for client in clients:
        fresh_process()
        fresh.append(page(client, lists))
    for (user, _language), warm, alone in zip(people, seen, fresh, strict=True):
        assert warm == alone, f"{user.username} sees another person's page parts"

    manager_a, rep_a1, director, manager_b, rep_b1, admin = seen
    assert "Hand out leads" in nav(manager_a) and "Report inbox" in nav(manager_a)
    assert "My manager" not in nav(manager_a)
    assert in_chinese("My manager") in nav(rep_a1) and '<html lang="zh-hans"' in rep_a1
    assert in_chinese("Hand out leads") not in nav(rep_a1)
    assert in_chinese("Owner") in filter_bar(rep_a1) and "Owner" not in filter_bar(rep_a1)
    assert "Hand out leads" not in nav(director) and "Report inbox" in nav(director)
    assert "Admin site" not in nav(manager_a) and "Admin site" in nav(manager_b)
    assert "Audit trail" in nav(admin) and "Audit trail" not in nav(manager_b)
    # Each person picks among the reps whose leads they see, and no one else's.
    assert set(owner_options(manager_a)) == {str(company.rep_a1.pk), str(company.rep_a2.pk)}
    assert owner_options(manager_b) == [str(company.rep_b1.pk)]
    assert owner_options(rep_a1) == [str(company.rep_a1.pk)]
    assert owner_options(rep_b1) == [str(company.rep_b1.pk)]
    assert set(owner_options(director)) == {
        str(company.rep_a1.pk),
        str(company.rep_a2.pk),
        str(company.rep_b1.pk),
    }


def test_a_language_switch_shows_the_other_language_at_once(
    company: Company, client_for: Callable[..., Client]
) -> None:
    rep = client_for(company.rep_a1, "en")
    before = page(rep, reverse("lead-list"))
    assert "My manager" in nav(before) and "Any stage" in filter_bar(before)

    response = rep.post(reverse("profile"), {"language": "zh-hans", "time_zone": "Asia/Shanghai"})
    assert response.status_code == 302

    after = page(rep, reverse("lead-list"))
    assert in_chinese("My manager") in nav(after) and "My manager" not in nav(after)
    assert in_chinese("Any stage") in filter_bar(after) and "Any stage" not in filter_bar(after)
    assert in_chinese("Skip to content") in after and "Skip to content" not in after
    # Someone still in English, in the same process, keeps English.
    other = page(client_for(company.rep_a2, "en"), reverse("lead-list"))
    assert "My manager" in nav(other) and "Any stage" in filter_bar(other)


def test_a_bound_filter_shows_its_values_and_the_next_page_forgets_them(
    company: Company, client_for: Callable[..., Client]
) -> None:
    manager = client_for(company.manager_a)
    lists = reverse("lead-list")
    rep_a1 = str(company.rep_a1.pk)
    asked = {"q": "Alpha", "stage": "won", "owner": rep_a1, "sort": "-value"}

    bound = filter_bar(page(manager, lists, asked))
    assert 'name="q" value="Alpha"' in bound
    assert '<option value="won" selected>' in bound
    assert f'<option value="{rep_a1}" selected>' in bound
    assert '<option value="-value" selected>' in bound

    plain = filter_bar(page(manager, lists))
    assert "Alpha" not in plain
    assert re.findall(r'<option value="([^"]*)" selected>', plain) == [""] * 5
    other = filter_bar(page(manager, lists, {"q": "Bravo", "stage": "lost"}))
    assert 'value="Bravo"' in other and '<option value="lost" selected>' in other
    assert "Alpha" not in other and '<option value="won" selected>' not in other

    # The same query from a manager who may not pick rep_a1: their own owners, the value refused.
    elsewhere = filter_bar(page(client_for(company.manager_b), lists, asked))
    assert f'<option value="{rep_a1}"' not in elsewhere
    assert str(company.rep_b1.pk) in owner_options(page(client_for(company.manager_b), lists))
    assert 'name="owner" aria-invalid="true"' in elsewhere


def test_the_nav_marks_the_page_one_is_on(
    company: Company, client_for: Callable[..., Client]
) -> None:
    manager = client_for(company.manager_a)
    for name, label in (
        ("lead-list", "Leads"),
        ("my-day", "My day"),
        ("lead-board", "Pipeline"),
        ("company-list", "Companies"),
        ("lead-list", "Leads"),
    ):
        marked = re.findall(r'aria-current="page">([^<]*)</a>', nav(page(manager, reverse(name))))
        assert marked == [label], name


def test_the_owner_filter_names_each_rep_as_everywhere_else(
    company: Company, client_for: Callable[..., Client]
) -> None:
    """The owner options carry each rep's name as the rest of the app writes it (User.__str__):
    a display name first, else first and last name, else the user name, escaped."""
    rep_a1, rep_a2 = company.rep_a1, company.rep_a2
    rep_a1.display_name, rep_a1.first_name, rep_a1.last_name = "", "Ada", "<Lovelace>"
    rep_a1.save(update_fields=["display_name", "first_name", "last_name"])
    rep_a2.display_name, rep_a2.first_name, rep_a2.last_name = "", "", ""
    rep_a2.save(update_fields=["display_name", "first_name", "last_name"])
    company.rep_b1.display_name = "老王 & Co"
    company.rep_b1.save(update_fields=["display_name"])
    bar = filter_bar(page(client_for(company.director, "en"), reverse("lead-list")))
    for rep in (rep_a1, rep_a2, company.rep_b1):
        rep.refresh_from_db()
        assert f'<option value="{rep.pk}">{escape(str(rep))}</option>' in bar, str(rep)
    assert "Ada &lt;Lovelace&gt;" in bar and f">{rep_a2.username}</option>" in bar
    assert "老王 &amp; Co" in bar
