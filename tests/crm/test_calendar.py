"""The personal calendar feed (issue 17): what each person's calendar shows, the secret link
and its reset, and a file that Outlook, Google, Apple and DingTalk read (RFC 5545, checked with
two independent parsers)."""

from __future__ import annotations

import datetime as dt
import logging
import re
from typing import Any

import icalendar
import pytest
from django.test import Client
from django.utils import timezone
from ical.calendar_stream import IcsCalendarStream

from crm import services
from crm.calendar import calendar_link_reset, feed_token
from crm.calendar_logging import redact
from crm.models import Lead, ReportKind, User
from tests.conftest import Company
from tests.factories import lead_new, make_user, report_sent

LONG_STEP = "和宏达物流集团的采购总监见面，确认最终报价、交付时间表和付款方式，然后约法务审合同"


def in_days(days: int) -> dt.date:
    return timezone.localdate() + dt.timedelta(days=days)


def dated(lead: Lead, **fields: Any) -> None:
    Lead.objects.filter(pk=lead.pk).update(**fields)


@pytest.fixture
def dates(company: Company) -> Company:
    """Each lead with dates: rep_a1's Alpha Robotics, rep_a2's 华润科技, rep_b1's Bravo."""
    dated(
        company.lead_a1,
        next_step="Visit the plant",
        next_step_due=in_days(2),
        tender_date=in_days(10),
        expected_close=in_days(40),
    )
    dated(
        company.lead_a2,
        next_step=LONG_STEP,
        next_step_due=in_days(1),
        tender_date=in_days(5),
        expected_close=in_days(60),
    )
    dated(
        company.lead_b1,
        next_step="Send the quote",
        next_step_due=in_days(3),
        tender_date=in_days(4),
    )
    return company


def feed_url(user: User) -> str:
    if not user.calendar_token:
        calendar_link_reset(user=user)
    return f"/calendar/{feed_token(user)}.ics"


def fetch(user: User) -> bytes:
    response = Client().get(feed_url(user))
    assert response.status_code == 200
    return response.content


def events(body: bytes) -> list[icalendar.Event]:
    return list(icalendar.Calendar.from_ical(body).walk("VEVENT"))


def summaries(body: bytes) -> list[str]:
    return sorted(str(event["SUMMARY"]) for event in events(body))


def decide_due(company: Company, **data: Any) -> Any:
    payload = {
        "kind": ReportKind.ESCALATION,
        "status_now": "Unreachable for three weeks.",
        "what_i_did": "Called.",
        "next_step": "Wait at their purchasing office on Monday",
        "next_step_due": in_days(3),
        "backup_plan": "Phone the deputy.",
        "ask": "Come with me to their director",
        "ask_due": in_days(6),
    } | data
    return report_sent(company.rep_a1, company.lead_a1, **payload)


# --- What each person sees ------------------------------------------------------------------


def test_a_rep_gets_their_own_dates_and_never_another_reps(dates: Company) -> None:
    body = fetch(dates.rep_a1)
    assert summaries(body) == [
        "Expected close · Alpha Robotics",
        "Next step · Alpha Robotics: Visit the plant",
        "Report due · Alpha Robotics",
        "Tender · Alpha Robotics",
    ]
    assert b"Bravo" not in body
    assert "华润".encode() not in body
    by_summary = {str(e["SUMMARY"]): e for e in events(body)}
    assert by_summary["Tender · Alpha Robotics"].decoded("DTSTART") == in_days(10)
    # Handed down today with a tender in 10 days: the first report is due in 3 days.
    assert by_summary["Report due · Alpha Robotics"].decoded("DTSTART") == in_days(3)


def test_a_report_is_due_weekly_and_an_overdue_one_shows_today(dates: Company) -> None:
    dated(dates.lead_a1, tender_date=None)  # the close in 40 days is not near
    by_summary = {str(e["SUMMARY"]): e for e in events(fetch(dates.rep_a1))}
    assert by_summary["Report due · Alpha Robotics"].decoded("DTSTART") == in_days(7)

    ago = timezone.now() - dt.timedelta(days=60)
    dated(dates.lead_a1, handed_at=ago, created_at=ago, tender_date=None)
    late = [e for e in events(fetch(dates.rep_a1)) if "Report" in str(e["SUMMARY"])]
    assert len(late) == 1
    due = (ago + dt.timedelta(days=7)).astimezone(dates.rep_a1.zone).date().isoformat()
    assert str(late[0]["SUMMARY"]) == f"Report overdue · Alpha Robotics (due {due})"
    assert late[0].decoded("DTSTART") == timezone.localdate()


def test_a_manager_gets_the_teams_deadlines_and_decisions_not_every_reps_next_step(
    dates: Company,
) -> None:
    report = decide_due(dates)
    body = fetch(dates.manager_a)
    assert summaries(body) == [
        "Decide rep_a1's plan · Alpha Robotics",
        "Expected close · Alpha Robotics · rep_a1",
        "Expected close · 华润科技有限公司 · rep_a2",
        "Reports due: rep_a1 (1)",
        "Reports due: rep_a2 (1)",
        "Tender · Alpha Robotics · rep_a1",
        "Tender · 华润科技有限公司 · rep_a2",
    ]
    assert b"Bravo" not in body  # the other team's
    decision = next(e for e in events(body) if "Decide" in str(e["SUMMARY"]))
    assert decision.decoded("DTSTART") == in_days(6)  # the plan's "needed by"
    assert str(decision["URL"]).endswith(f"/reports/{report.pk}/")

    services.report_decide(actor=dates.manager_a, report=report, decision="park", until=in_days(20))
    assert not any("Decide" in s for s in summaries(fetch(dates.manager_a)))


def test_a_director_gets_their_teams_tenders_and_another_director_nothing(
    dates: Company,
) -> None:
    assert summaries(fetch(dates.director)) == [
        "Tender · Alpha Robotics · rep_a1",
        "Tender · Bravo Medical · rep_b1",
        "Tender · 华润科技有限公司 · rep_a2",
    ]
    assert summaries(fetch(dates.other_director)) == []


def test_closed_leads_and_dates_outside_the_window_are_left_out(dates: Company) -> None:
    dated(dates.lead_a1, tender_date=in_days(181), expected_close=in_days(-31))
    assert summaries(fetch(dates.rep_a1)) == [
        "Next step · Alpha Robotics: Visit the plant",
        "Report due · Alpha Robotics",
    ]
    dated(dates.lead_a1, stage="won")
    assert summaries(fetch(dates.rep_a1)) == []


# --- The secret link ------------------------------------------------------------------------


def test_the_profile_turns_the_feed_on_shows_the_link_and_resets_it(
    company: Company, client_for: Any
) -> None:
    rep = company.rep_a1
    client = client_for(rep)
    page = client.get("/profile/").content.decode()
    assert "Get my calendar link" in page
    assert "/calendar/" not in page

    response = client.post("/profile/", {"calendar": "on"})
    assert response.status_code == 302
    rep.refresh_from_db()
    old = f"/calendar/{feed_token(rep)}.ics"
    page = client.get("/profile/").content.decode()
    assert f'value="http://127.0.0.1:8000{old}"' in page  # KAOPU_SITE_URL's link to paste
    assert f'href="webcal://127.0.0.1:8000{old}"' in page  # opens Apple Calendar and Outlook
    assert Client().get(old).status_code == 200

    client.post("/profile/", {"calendar": "reset"})
    rep.refresh_from_db()
    new = f"/calendar/{feed_token(rep)}.ics"
    assert new != old
    assert Client().get(old).status_code == 404
    assert Client().get(new).status_code == 200
    assert "The old link no longer works." in client.get("/profile/").content.decode()

    client.post("/profile/", {"calendar": "off"})
    assert Client().get(new).status_code == 404


def test_the_feed_needs_no_sign_in_and_opens_no_session(company: Company) -> None:
    response = Client().get(feed_url(company.rep_a1))
    assert response.status_code == 200
    assert response["Content-Type"] == "text/calendar; charset=utf-8"
    assert "private" in response["Cache-Control"]
    assert not response.cookies
    assert Client().head(feed_url(company.rep_a1)).status_code == 200
    assert Client().post(feed_url(company.rep_a1)).status_code == 405


def test_the_profile_offers_the_calendar_in_chinese(company: Company, client_for: Any) -> None:
    client = client_for(company.rep_a1, "zh-hans")
    assert "生成我的日历链接" in client.get("/profile/").content.decode()
    client.post("/profile/", {"calendar": "on"})
    page = client.get("/profile/").content.decode()
    assert "日历链接已生成" in page
    assert "怎么添加" in page
    assert "换个新链接" in page


@pytest.mark.parametrize(
    "token",
    ["nonsense", "999999-x", "-", "1-", "١-abc", "12345678901234567890-abc", "%00-a"],
)
def test_a_bad_token_is_404(company: Company, token: str) -> None:
    feed_url(company.rep_a1)
    assert Client().get(f"/calendar/{token}.ics").status_code == 404


def test_one_persons_secret_never_opens_anothers_feed(company: Company) -> None:
    feed_url(company.rep_a1)
    feed_url(company.rep_a2)
    secret = company.rep_a1.calendar_token
    assert Client().get(f"/calendar/{company.rep_a2.pk}-{secret}.ics").status_code == 404
    assert Client().get(f"/calendar/{company.rep_a1.pk}-{secret}x.ics").status_code == 404
    company.rep_a1.is_active = False
    company.rep_a1.save(update_fields=["is_active"])
    assert Client().get(f"/calendar/{company.rep_a1.pk}-{secret}.ics").status_code == 404


def test_the_token_never_reaches_the_logs(
    company: Company, caplog: pytest.LogCaptureFixture
) -> None:
    old = feed_url(company.rep_a1)
    secret = company.rep_a1.calendar_token
    assert secret
    calendar_link_reset(user=company.rep_a1)
    with caplog.at_level(logging.INFO):
        assert Client().get(old).status_code == 404
    assert "Not Found: /calendar/….ics" in caplog.text
    assert secret not in caplog.text
    # gunicorn's access line goes through the same redaction (gunicorn.conf.py).
    line = f'127.0.0.1 - - "GET {old} HTTP/1.1" 200 512 "-" "Google-Calendar-Importer"'
    assert secret not in redact(line)
    assert '"GET /calendar/….ics HTTP/1.1"' in redact(line)


def test_gunicorn_access_log_hides_the_token(company: Company) -> None:
    import runpy
    from types import SimpleNamespace

    from gunicorn.config import Config

    path = feed_url(company.rep_a1)
    logger_class = runpy.run_path("gunicorn.conf.py")["logger_class"]
    logger = logger_class(Config())
    environ = {
        "REQUEST_METHOD": "GET",
        "RAW_URI": path,
        "PATH_INFO": path,
        "SERVER_PROTOCOL": "HTTP/1.1",
    }
    response = SimpleNamespace(status="200 OK", sent=10, headers=[])
    atoms = logger.atoms(response, SimpleNamespace(headers=[]), environ, dt.timedelta(0))
    assert atoms["r"] == "GET /calendar/….ics HTTP/1.1"
    assert company.rep_a1.calendar_token not in repr(atoms)


# --- The file -------------------------------------------------------------------------------


def test_the_file_keeps_rfc_5545_and_parses_with_two_libraries(dates: Company) -> None:
    decide_due(dates)
    body = fetch(dates.rep_a2) + b""
    manager_body = fetch(dates.manager_a)
    for raw in (body, manager_body):
        assert raw.startswith(b"BEGIN:VCALENDAR\r\n")
        assert raw.endswith(b"END:VCALENDAR\r\n")
        assert b"\n" not in raw.replace(b"\r\n", b"")  # CRLF only, never a bare LF
        assert all(len(line) <= 75 for line in raw.split(b"\r\n"))  # folded at 75 octets
        text = raw.decode("utf-8")  # folding never splits a character
        assert "\r\nVERSION:2.0\r\n" in text
        assert re.search(r"\r\nPRODID:[^\r]+\r\n", text)
        assert "\r\nREFRESH-INTERVAL;VALUE=DURATION:PT1H\r\n" in text
        assert "\r\nX-PUBLISHED-TTL:PT1H\r\n" in text
        vevents = events(raw)
        assert vevents
        uids = [str(e["UID"]) for e in vevents]
        assert len(set(uids)) == len(uids)
        for event in vevents:
            assert event["DTSTAMP"].dt.tzinfo is not None  # UTC
            assert isinstance(event.decoded("DTSTART"), dt.date)
            assert not isinstance(event.decoded("DTSTART"), dt.datetime)  # all-day
            assert event.decoded("DTEND") == event.decoded("DTSTART") + dt.timedelta(days=1)
            assert str(event["URL"]).startswith("http://127.0.0.1:8000/")
            assert str(event["URL"]) in str(event["DESCRIPTION"])
        # The second, independent (and strict) parser reads the same events.
        strict = IcsCalendarStream.calendar_from_ics(raw.decode())
        assert sorted(e.uid for e in strict.events) == sorted(uids)
        assert sorted(e.summary for e in strict.events) == summaries(raw)

    # The long Chinese next step was folded and comes back whole.
    assert f"Next step · 华润科技有限公司: {LONG_STEP}" in summaries(body)
    assert b"\r\n " in body


def test_the_feed_speaks_the_persons_language(dates: Company) -> None:
    rep = dates.rep_a2
    rep.language = "zh-hans"
    rep.save(update_fields=["language"])
    response = Client(headers={"accept-language": "en"}).get(feed_url(rep))
    body = response.content
    assert response["Content-Language"] == "zh-hans"
    calendar = icalendar.Calendar.from_ical(body)
    assert str(calendar["X-WR-CALNAME"]) == "靠谱 · rep_a2"
    assert summaries(body) == sorted(
        [
            f"下一步 · 华润科技有限公司：{LONG_STEP}",
            "招标 · 华润科技有限公司",
            "预计成交 · 华润科技有限公司",
            "该交汇报 · 华润科技有限公司",
        ]
    )
    rep.language = "en"
    rep.save(update_fields=["language"])
    assert "Tender · 华润科技有限公司" in summaries(fetch(rep))


def test_uids_stay_put_so_apps_update_instead_of_copying(dates: Company) -> None:
    first = {str(e["UID"]): e for e in events(fetch(dates.rep_a1))}
    dated(dates.lead_a1, tender_date=in_days(12))
    second = {str(e["UID"]): e for e in events(fetch(dates.rep_a1))}
    assert first.keys() == second.keys()
    tender = next(uid for uid in second if "-tender-" in uid)
    assert second[tender].decoded("DTSTART") == in_days(12)
    assert first[tender].decoded("DTSTART") == in_days(10)


def test_an_unchanged_feed_answers_304(dates: Company) -> None:
    url = feed_url(dates.rep_a1)
    first = Client().get(url)
    assert Client().get(url).content == first.content
    again = Client(headers={"if-none-match": first["ETag"]}).get(url)
    assert again.status_code == 304
    assert again.content == b""
    dated(dates.lead_a1, next_step_due=in_days(5), updated_at=timezone.now())
    assert Client(headers={"if-none-match": first["ETag"]}).get(url).status_code == 200


def test_the_feed_holds_at_most_the_cap_nearest_first(
    company: Company, settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("crm.calendar.MAX_EVENTS", 3)
    for days in (30, 1, 20, 2, 3):
        lead = lead_new(company.manager_a, f"Tender in {days}", to=company.rep_a1)
        dated(lead, tender_date=in_days(days))
    dated(company.lead_a1, stage="lost", lost_reason="Price")
    body = fetch(company.rep_a1)
    kept = sorted(e.decoded("DTSTART") for e in events(body))
    assert kept == [in_days(1), in_days(2), in_days(3)]  # of 6: tenders at 1..30, reports at 7


# --- Queries --------------------------------------------------------------------------------


def test_the_feed_takes_a_fixed_number_of_queries(
    dates: Company, django_assert_max_num_queries: Any
) -> None:
    decide_due(dates)
    url = feed_url(dates.manager_a)
    with django_assert_max_num_queries(3):
        small = Client().get(url)
    for i in range(30):
        lead = lead_new(dates.manager_a, f"Extra {i}", to=dates.rep_a2)
        dated(lead, tender_date=in_days(i + 1), expected_close=in_days(i + 30))
    other = make_user(username="rep_a3")
    services.rep_join_team(user=other, team=dates.team_a)
    lead_new(dates.manager_a, "Extra for a3", to=other)
    with django_assert_max_num_queries(3):
        big = Client().get(url)
    assert len(events(big.content)) > len(events(small.content)) + 60


def test_a_managers_own_lead_comes_once_with_their_next_step(dates: Company) -> None:
    dated(
        dates.lead_a_pool, owner=dates.manager_a, next_step="Call the CFO", next_step_due=in_days(1)
    )
    dated(dates.lead_a_pool, tender_date=in_days(8))
    pool = [s for s in summaries(fetch(dates.manager_a)) if "Pool Foods" in s]
    assert pool == ["Next step · Pool Foods: Call the CFO", "Tender · Pool Foods"]


def test_commas_semicolons_and_backslashes_in_names_come_back_whole(dates: Company) -> None:
    name = "Alpha, Beta; Gamma\\Delta 有限公司"
    dated(dates.lead_a1, company=name)
    body = fetch(dates.rep_a1)
    assert f"Tender · {name}" in summaries(body)
    strict = IcsCalendarStream.calendar_from_ics(body.decode())
    assert f"Tender · {name}" in [e.summary for e in strict.events]


def test_a_reps_reports_due_make_one_event_a_day(company: Company) -> None:
    for name in ("Bolt Trading", "Crane Foods"):
        lead_new(company.manager_a, name, to=company.rep_a1)
    ago = timezone.now() - dt.timedelta(days=20)
    late = lead_new(company.manager_a, "Dune Mining", to=company.rep_a1)
    dated(late, handed_at=ago, created_at=ago)
    body = fetch(company.rep_a1)
    due = [e for e in events(body) if "Report" in str(e["SUMMARY"])]
    by_day = {e.decoded("DTSTART"): str(e["SUMMARY"]) for e in due}
    assert by_day == {
        in_days(7): "Reports due · Alpha Robotics and 2 more",
        timezone.localdate(): "Report overdue · Dune Mining (due "
        + (ago + dt.timedelta(days=7)).astimezone(company.rep_a1.zone).date().isoformat()
        + ")",
    }
    week = next(e for e in due if e.decoded("DTSTART") == in_days(7))
    assert str(week["DESCRIPTION"]).startswith("Alpha Robotics\nBolt Trading\nCrane Foods\n")
    assert str(week["URL"]).endswith("/reports/new/")


def test_a_lead_the_manager_owns_in_another_team_stays_out_as_on_its_page(
    dates: Company, client_for: Any
) -> None:
    """A manager who still owns a lead that moved to another team cannot open it in the app
    (404), so their calendar does not show it either."""
    team_b = dates.lead_b1.team
    dated(
        dates.lead_a_pool,
        owner=dates.manager_a,
        team=team_b,
        next_step="Call the CFO",
        next_step_due=in_days(1),
        tender_date=in_days(8),
    )
    page = client_for(dates.manager_a).get(dates.lead_a_pool.get_absolute_url())
    assert page.status_code == 404
    assert not [s for s in summaries(fetch(dates.manager_a)) if "Pool Foods" in s]
