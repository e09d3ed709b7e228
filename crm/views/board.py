"""The pipeline board's moves: a card dragged to another column (static/js/kaopu.js posts
here with htmx) or a loss's reason sent from the card. The pipeline (crm.pipeline, through
crm.services.lead_change_stage) judges each move; a refused one is answered in place, on the
card, with the reason and the moves allowed from its stage; a loss without its reason asks for
it there. An accepted move answers with the whole board (counts and totals change).

Without JavaScript the card's link opens the lead's page with its stage form (the keyboard
way too); the reason form here posts and comes back to the board.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from crm import selectors
from crm.permissions import lead_get_for
from crm.pipeline import Stage, next_stages
from crm.views.board_cards import board_cards
from crm.views.leads import apply_stage_form
from crm.web import HtmxHttpRequest, current_user


@login_required
@require_POST
def lead_board_move(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    user = current_user(request)
    lead = lead_get_for(user, pk)
    form, moved = apply_stage_form(request, user, lead)
    if moved:
        if not request.htmx:
            return redirect("lead-board")
        today = timezone.localdate()
        context = {
            "columns": board_cards(selectors.pipeline_board(user=user), today),
            "today": today,
        }
        response = render(request, "crm/board.html#board", context)
        response["HX-Retarget"] = "#board"
        response["HX-Reswap"] = "outerHTML"
        return response
    errors = [str(e) for field in ("to_stage", "reason") for e in form.errors.get(field, [])]
    wanted = form.data.get("to_stage", "")
    context = {
        "lead": lead,
        "errors": errors,
        "asks_reason": wanted == Stage.LOST and "to_stage" not in form.errors,
        "allowed": [label for _value, label in next_stages(lead.stage)],
    }
    if not request.htmx:
        for problem in errors:
            messages.error(request, problem)
        return redirect("lead-board")
    return render(request, "crm/board.html#move", context, status=422)
