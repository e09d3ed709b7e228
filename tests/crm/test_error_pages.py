"""Pages when things go wrong: 403, 404 and 500 in the house style and the user's language,
each with a way back; the 500 page renders without touching the database."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied
from django.test import Client, RequestFactory
from django.utils import translation
from django.views import defaults

from tests.conftest import Company

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("lang", "heading", "back"),
    [("en", "Page not found", "Back to My day"), ("zh-hans", "页面不存在", "回到我的今天")],
)
def test_a_missing_page_speaks_the_users_language_with_a_way_back(
    company: Company, client_for, lang: str, heading: str, back: str
) -> None:
    response = client_for(company.rep_a1, lang).get("/leads/999999999/")
    assert response.status_code == 404
    html = response.content.decode()
    assert f'<html lang="{lang}">' in html
    assert heading in html and back in html
    assert 'href="/"' in html  # My day
    assert 'class="topbar"' in html and "Not Found" not in html


def test_a_missing_page_for_a_visitor_offers_the_sign_in(client: Client) -> None:
    response = client.get("/no/such/page/?lang=zh-hans")
    assert response.status_code == 404
    html = response.content.decode()
    assert "页面不存在" in html and 'href="/login/"' in html


def test_forbidden_is_explained_in_chinese(company: Company) -> None:
    request = RequestFactory().get("/")
    request.user = company.rep_a1
    with translation.override("zh-hans"):
        response = defaults.permission_denied(request, PermissionDenied())
    html = response.content.decode()
    assert response.status_code == 403
    assert "没有权限" in html and "回到我的今天" in html


def test_an_expired_form_is_not_djangos_english_page(company: Company) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(company.rep_a1)
    response = client.post(f"/leads/{company.lead_a1.pk}/activities/", {"kind": "call"})
    assert response.status_code == 403
    html = response.content.decode()
    assert "The form had expired" in html and "CSRF verification failed" not in html


@pytest.mark.parametrize(
    ("lang", "heading"), [("en", "Something went wrong"), ("zh-hans", "系统出错了")]
)
def test_the_500_page_needs_no_database(lang: str, heading: str, django_assert_num_queries) -> None:
    request = RequestFactory().get("/leads/")
    with translation.override(lang), django_assert_num_queries(0):
        response = defaults.server_error(request)
    html = response.content.decode()
    assert response.status_code == 500
    assert f'<html lang="{lang}">' in html and heading in html
    assert 'href="/"' in html and "kaopu.css" in html
