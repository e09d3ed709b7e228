"""No input breaks a page: every URL pattern, as each role, with malformed query values and form
fields (non-numeric ids, NUL bytes, overlong text, bad dates, unknown choices, ids beyond bigint),
as a whole page and as an htmx swap, answers 4xx or a page with the form's errors — never a 5xx.

The URLs come from the resolver, so a view added later is walked without touching this file. A
keyword in a URL takes a real id from `KWARG_OBJECTS` (or, for `pk`, from `PK_OBJECTS` by the
route's name): a URL whose keyword the tables don't know fails with a message saying what to add.
The field names come from the page itself (every `name=` of its forms) plus `PARAMS`, the query
names views read, so a new form field is tried too.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.http import HttpResponseBase
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

from api.services import token_create
from coaching import services as coach
from coaching.rules import NudgeSpec
from crm import imports, services
from crm.models import User
from crm.services import companies
from crm.web import parse_int
from tests.conftest import Company
from tests.factories import report_sent

BIGINT_PAST = str(2**63)  # one past the largest id a bigint column holds

# Malformed values, each tried in every query value and form field at once.
BAD_VALUES = [
    "\x00",
    "1e5",
    "²",
    "abc' OR 1=1 --",
    "9" * 25,
    "-1",
    "2026-02-30",
    "x" * 5000,
]

# Query names views read from request.GET (a page's own form fields are found in its HTML).
PARAMS = [
    "lead",
    "team",
    "rep",
    "days",
    "sort",
    "show",
    "page",
    "q",
    "kind",
    "share",
    "timeline",
    "action",
    "add",
    "period",
    "until",
    "from_lead",
    "next",
    "stage",
    "owner",
    "view",
]

# The objects `sides` gives a real id of, on each side.
OBJECTS = {
    *("lead", "report", "draft", "nudge", "team", "rep", "rule", "import_job", "token"),
    *("company", "contact", "lead_contact", "api_path"),
}
# What a keyword in a URL names, where it is not `<object>_id` (`pk` is in PK_OBJECTS: its
# object depends on the route).
KWARG_OBJECTS = {
    "rep_id": "rep",
    "path": "api_path",
    "link_pk": "lead_contact",
}
# `pk` by the route's name: the longest prefix wins.
PK_OBJECTS = {
    "lead-": "lead",
    "lead-import": "import_job",
    "report-": "report",
    "report-edit": "draft",
    "coach-nudge-": "nudge",
    "api-token": "token",
    "company-": "company",
    "contact-": "contact",
}

# Django's admin is Django's own code (and its own tests); it is left out of the walk, and so
# are the API's schema and docs pages, which read no input and take 0.2 s each to build.
SKIP_NAMESPACES = {"admin"}
SKIP_NAMES = {"api:openapi-json", "api:openapi-view"}


@dataclass(frozen=True)
class Route:
    name: str
    route: str  # the pattern as written, e.g. "leads/<int:pk>/"
    kwargs: tuple[str, ...]

    def url(self, values: dict[str, str]) -> str:
        text = re.sub(r"<(?:\w+:)?(\w+)>", lambda m: values[m.group(1)], self.route)
        text = re.sub(r"\(\?P<(\w+)>[^)]*\)", lambda m: values[m.group(1)], text)
        return "/" + text.lstrip("^").rstrip("$")


def _routes(patterns: list, prefix: str = "", ns: str = "") -> Iterator[Route]:
    for p in patterns:
        if isinstance(p, URLResolver):
            if p.namespace in SKIP_NAMESPACES:
                continue
            inner = f"{ns}{p.namespace}:" if p.namespace else ns
            yield from _routes(p.url_patterns, prefix + str(p.pattern), inner)
        elif isinstance(p, URLPattern):
            names = tuple(getattr(p.pattern, "converters", {})) or tuple(p.pattern.regex.groupindex)
            yield Route(ns + (p.name or str(p.pattern)), prefix + str(p.pattern), names)


def all_routes() -> list[Route]:
    routes = _routes(get_resolver().url_patterns)
    unique = {r.route: r for r in routes if r.name not in SKIP_NAMES}
    return list(unique.values())


def object_of(route: Route, kwarg: str) -> str:
    if kwarg == "pk":
        prefixes = [p for p in PK_OBJECTS if route.name.startswith(p)]
        if prefixes:
            return PK_OBJECTS[max(prefixes, key=len)]
    elif kwarg in KWARG_OBJECTS:
        return KWARG_OBJECTS[kwarg]
    elif kwarg.removesuffix("_id") in OBJECTS:
        return kwarg.removesuffix("_id")
    pytest.fail(
        f"URL {route.name!r} ({route.route}) takes {kwarg!r}, which tests/security/test_no_5xx.py "
        f"does not know: add what it names to "
        f"{'PK_OBJECTS (by route name)' if kwarg == 'pk' else 'KWARG_OBJECTS'} "
        "and a real id of it to `sides` (and OBJECTS)."
    )


Sides = dict[str, dict[str, str]]


@pytest.fixture
def sides(company: Company) -> Sides:
    """Real ids of team A's objects (the signed-in users' own) and of team B's (others')."""
    found: dict[str, dict[str, str]] = {}
    a = company
    for side, rep, manager, lead, team, rule in (
        ("own", a.rep_a1, a.manager_a, a.lead_a1, a.team_a, "low_contact"),
        ("others", a.rep_b1, a.manager_b, a.lead_b1, a.team_b, "stalled_lead"),
    ):
        report = report_sent(rep, lead=lead, kind="progress", status_now="fine", next_step="call")
        draft = services.report_save_draft(author=rep, data={"status_now": "draft"}, lead=lead)
        (nudge,) = coach.create_nudges([NudgeSpec(rule, rep.pk, lead_id=lead.pk, context={})])
        job = imports.import_upload(
            actor=manager,
            upload=SimpleUploadedFile("a.csv", b"company\nAcme\n", content_type="text/csv"),
        )
        token, _secret = token_create(user=rep, name="walk")
        link = companies.lead_contact_create(actor=rep, lead=lead, data={"name": "王经理"})
        found[side] = {
            "lead": str(lead.pk),
            "report": str(report.pk),
            "draft": str(draft.pk),
            "nudge": str(nudge.pk),
            "team": str(team.pk),
            "rep": str(rep.pk),
            "rule": rule,
            "import_job": str(job.pk),
            "token": str(token.pk),
            "api_path": "nothing/here",
            "company": str(link.contact.company_id),
            "contact": str(link.contact_id),
            "lead_contact": str(link.pk),
        }
    assert set(found["own"]) == OBJECTS
    return found


def _fields_and_posts(response: HttpResponseBase, url: str) -> tuple[set[str], bool]:
    """The names of the page's form fields, and whether the URL takes a POST: it refuses a GET
    (405) or the page has a form that posts to it. Other pages are not posted to (they read
    the same query values either way), which keeps the walk fast."""
    if response.status_code == 405:
        return set(), True
    if response.streaming or "text/html" not in response.headers.get("Content-Type", ""):
        return set(), False
    html = response.content.decode(errors="replace")  # type: ignore[attr-defined]
    names = set(re.findall(r'\sname="([^"]+)"', html)) - {"csrfmiddlewaretoken"}
    forms = re.findall(r"<form\b[^>]*>", html)
    posted = [f for f in forms if re.search(r'method="post"', f, re.IGNORECASE)]
    targets = {(re.findall(r'\saction="([^"?]*)', f) or [""])[0] for f in posted}
    return names, bool(targets & {"", url})


def _failure(
    client: Client, method: str, url: str, data: dict[str, str], htmx: bool = False
) -> str:
    """What went wrong, or "" when the answer is not a 5xx."""
    headers = {"HX-Request": "true"} if htmx else {}
    send = client.get if method == "GET" else client.post
    response = send(url, data, headers=headers)
    if response.streaming:
        b"".join(response.streaming_content)  # type: ignore[attr-defined]
    if response.status_code < 500:
        return ""
    exc = response.exc_info[1] if response.exc_info else None  # type: ignore[attr-defined]
    return f"{response.status_code} {type(exc).__name__}: {str(exc)[:120]}"


def _walk(
    client: Client, who: str, user: User | None, routes: list[Route], sides: Sides
) -> list[str]:
    """Every route as one person: each bad value in every field, GET and POST, on their own
    side's objects; one round on the other side's objects and with ids past bigint."""
    problems = []

    def check(method: str, url: str, data: dict[str, str], htmx: bool = False) -> None:
        if failure := _failure(client, method, url, data, htmx):
            shown = next(iter(data.values()), "")[:12]
            swap = " (htmx)" if htmx else ""
            problems.append(f"{who} {method} {url}{swap} ({shown!r}…): {failure}")
        if user is not None and "_auth_user_id" not in client.session:
            client.force_login(user)  # the walk posted to logout; carry on signed in

    for route in routes:
        kinds = {kwarg: object_of(route, kwarg) for kwarg in route.kwargs}
        own = route.url({k: sides["own"][kind] for k, kind in kinds.items()})
        fields, posts = _fields_and_posts(client.get(own), own)
        names = sorted(set(PARAMS) | fields)
        for n, value in enumerate(BAD_VALUES if user is not None else BAD_VALUES[:2]):
            data = dict.fromkeys(names, value)
            # Every other round as an htmx request: those views answer with a page's region.
            check("GET", own, data, htmx=n % 2 == 1)
            if posts or user is None:
                check("POST", own, data, htmx=n % 2 == 0)
        if kinds:
            others = route.url({k: sides["others"][kind] for k, kind in kinds.items()})
            past = route.url(dict.fromkeys(kinds, BIGINT_PAST))
            for url in (others, past):
                check("GET", url, dict.fromkeys(names, "abc"))
                check("POST", url, dict.fromkeys(names, "\x00"))
    return problems


@pytest.mark.parametrize("role", ["rep_a1", "manager_a", "director", "admin", "anonymous"])
def test_no_url_answers_5xx_to_malformed_input(company: Company, sides: Sides, role: str) -> None:
    routes = all_routes()
    assert len(routes) > 50  # the walk found the app's URLs, not an empty resolver
    client = Client(raise_request_exception=False)
    user = company.people.get(role)
    if user is not None:
        client.force_login(user)
    problems = _walk(client, role, user, routes, sides)
    assert problems == [], "\n".join(problems)


def test_a_url_with_an_unknown_keyword_fails_clearly() -> None:
    route = Route("invoice-lines", "invoices/<int:invoice_id>/", ("invoice_id",))
    with pytest.raises(pytest.fail.Exception, match="KWARG_OBJECTS"):
        object_of(route, "invoice_id")
    with pytest.raises(pytest.fail.Exception, match="PK_OBJECTS"):
        object_of(Route("invoice-detail", "invoices/<int:pk>/", ("pk",)), "pk")


@pytest.mark.parametrize(
    ("method", "url", "data"),
    [
        ("GET", "/reports/new/", {"lead": "abc"}),
        ("GET", "/reports/new/", {"lead": "\x00"}),
        ("GET", "/reports/new/", {"lead": BIGINT_PAST}),
        ("POST", "/reports/new/", {"lead": "' OR 1=1 --", "status_now": "x"}),
        ("GET", "/coach/thanks/", {"lead": "1e5"}),
        ("GET", "/coach/team/", {"team": "²"}),
    ],
)
def test_an_id_that_names_nothing_is_a_404(
    company: Company, client_for, method: str, url: str, data: dict[str, str]
) -> None:
    client = client_for(company.rep_a1 if "team" not in data else company.admin)
    response = client.get(url, data) if method == "GET" else client.post(url, data)
    assert response.status_code == 404
    assert not company.rep_a1.reports.exists()  # nothing was saved


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        *[("42", 42), (" 7 ", 7), ("0", None), ("-1", None), ("1e5", None), ("²", None)],
        *[("\x00", None), ("1\x00", None), (BIGINT_PAST, None), (str(2**63 - 1), 2**63 - 1)],
        *[(None, None), ("", None), ("٣", None)],
    ],
)
def test_parse_int_takes_plain_ids_only(raw: str | None, expected: int | None) -> None:
    assert parse_int(raw) == expected
