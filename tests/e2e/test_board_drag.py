"""The board in a real browser: a card dragged to Won moves there (the counts follow, the
page is not reloaded); a card dragged where the pipeline forbids stays, with the reason on
the card; dragged to Lost, the card asks why and the answer moves it."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from crm.models import Lead
from crm.pipeline import Stage
from tests.conftest import Company
from tests.e2e.helpers import Browsing, assert_not_reloaded, mark, set_language

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def drag(page: Page, card: str, stage: str) -> None:
    """Drag `card` onto the column of `stage` with the mouse, in small steps (one jump does
    not always start an HTML5 drag in Chromium)."""
    column = page.locator(f".column[data-stage='{stage}']")
    assert page.evaluate(
        "(c) => c.getBoundingClientRect().right"
        " <= c.closest('.board').getBoundingClientRect().right",
        column.element_handle(),
    ), "the column is out of the board's sight at 1280 px"
    page.locator(card).hover()
    page.mouse.down()
    box = column.bounding_box()
    assert box is not None
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2, steps=12)
    page.mouse.up()


def test_drag_cards_between_stages(company: Company, browsing: Browsing) -> None:
    c = company
    set_language("zh-hans", c.rep_a1)
    page = browsing.log_in(c.rep_a1)
    page.goto("/leads/board/")
    mark(page)
    card = f"#card-{c.lead_a1.pk}"
    # New → Proposal skips two stages: refused in place, with the moves allowed from here.
    drag(page, card, "proposal")
    refusal = page.locator(f"{card} .move-refused")
    expect(refusal).to_contain_text("从这个阶段可以转到")
    expect(page.locator(f".column[data-stage='new'] {card}")).to_be_visible()
    assert Lead.objects.get(pk=c.lead_a1.pk).stage == Stage.NEW
    # New → Won is one step.
    drag(page, card, "won")
    expect(page.locator(f".column[data-stage='won'] {card}")).to_be_visible()
    expect(page.locator(".column[data-stage='won'] h2 .count")).to_have_text("1")
    assert Lead.objects.get(pk=c.lead_a1.pk).stage == Stage.WON
    assert_not_reloaded(page)


def test_a_loss_dragged_asks_why_on_the_card(company: Company, browsing: Browsing) -> None:
    c = company
    page = browsing.log_in(c.rep_a1)
    page.goto("/leads/board/")
    card = f"#card-{c.lead_a1.pk}"
    drag(page, card, "lost")
    reason = page.locator(f"{card} input[name='reason']")
    expect(reason).to_be_visible()
    assert Lead.objects.get(pk=c.lead_a1.pk).stage == Stage.NEW
    reason.fill("Chose a local supplier")
    page.locator(f"{card} button[type=submit]").click()
    expect(page.locator(f".column[data-stage='lost'] {card}")).to_be_visible()
    lead = Lead.objects.get(pk=c.lead_a1.pk)
    assert (lead.stage, lead.lost_reason) == (Stage.LOST, "Chose a local supplier")


def test_a_touch_screen_is_not_told_to_drag(company: Company, browsing: Browsing) -> None:
    """HTML5 drag does nothing on a phone: there the board says to open the lead instead."""
    c = company
    desk = browsing.log_in(c.rep_a1)
    desk.goto("/leads/board/")
    expect(desk.locator(".board-help .pointer-fine")).to_be_visible()
    expect(desk.locator(".board-help .pointer-coarse")).to_be_hidden()

    context = browsing.browser.new_context(
        base_url=browsing.base_url,
        viewport={"width": 390, "height": 844},
        has_touch=True,
        is_mobile=True,
        storage_state=desk.context.storage_state(),
    )
    browsing.contexts.append(context)
    phone = context.new_page()
    phone.goto("/leads/board/")
    assert phone.evaluate("matchMedia('(pointer: coarse)').matches")
    expect(phone.locator(".board-help .pointer-fine")).to_be_hidden()
    expect(phone.locator(".board-help .pointer-coarse")).to_have_text(
        "Open a lead to change its stage."
    )
