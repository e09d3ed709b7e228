"""The calendar feed: `/calendar/<token>.ics`, read by calendar apps with no sign-in.

The token is the credential (crm.calendar.feed_user): a bad, old or switched-off link answers
404 like any unknown address. The view never reads or writes the session, sets no cookie, and
answers a calendar app's conditional GET with 304 when nothing changed. The profile page turns
the feed on, resets its link and turns it off (`profile_calendar_action`).
"""

from __future__ import annotations

import hashlib

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseNotFound
from django.utils.translation import gettext as _
from django.views.decorators.http import require_safe

from crm.calendar import calendar_link_off, calendar_link_reset, feed_ics, feed_user
from crm.models import User

# Calendar apps fetch on their own schedule; a proxy must not keep someone's diary (private),
# and a browser or app may reuse it for a quarter of an hour.
CACHE_CONTROL = "private, max-age=900"


@require_safe  # GET, and HEAD for the apps that check a link before subscribing
def calendar_feed(request: HttpRequest, token: str) -> HttpResponse:
    user = feed_user(token)
    if user is None:
        return HttpResponseNotFound("Not found\n", content_type="text/plain; charset=utf-8")
    body = feed_ics(user=user)
    etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
    if etag in request.headers.get("If-None-Match", ""):
        response = HttpResponse(status=304)
    else:
        response = HttpResponse(body, content_type="text/calendar; charset=utf-8")
        response["Content-Disposition"] = 'inline; filename="kaopu.ics"'
    response["ETag"] = etag
    response["Cache-Control"] = CACHE_CONTROL
    response["Content-Language"] = user.language
    response["X-Robots-Tag"] = "noindex, nofollow"
    response["Referrer-Policy"] = "no-referrer"
    return response


def profile_calendar_action(request: HttpRequest, user: User) -> bool:
    """The profile page's calendar buttons (POST `calendar=on|reset|off`): True when the
    request was one of them and is done."""
    action = request.POST.get("calendar")
    if action in ("on", "reset"):
        calendar_link_reset(user=user)
        if action == "reset":
            messages.success(request, _("New calendar link made. The old link no longer works."))
        else:
            messages.success(
                request, _("Your calendar link is ready. Add it to your calendar app.")
            )
        return True
    if action == "off":
        calendar_link_off(user=user)
        messages.success(request, _("Calendar feed turned off. Its link no longer works."))
        return True
    return False
