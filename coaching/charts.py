"""Charts as SVG drawn on the server: no JavaScript, no CDN, no inline styles (the CSP forbids
them). Shapes carry CSS classes (static/css/charts.css) and presentation attributes as a
fallback; every label goes through format_html, so a name like `<Tom & "Jerry">` is escaped.

Each chart is an accessible image (role="img" with <title> and <desc>) and keeps its data as
rows, which the template renders as a visually hidden table for screen readers.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from coaching.cockpit import FUNNEL_STAGES, Figures, StageRow
from crm.pipeline import Stage

WIDTH = 480
ROW = 30
BAR = 20
TOP = 8
VALUE_WIDTH = 120
FONT_PX = 12
LABEL_MAX = 160
FRESH_DAYS = 7
LATE_DAYS = 14

# Fallback fills (the classes in charts.css say the same; CSS wins where it loads).
FILLS = {
    "bar": "#0f766e",
    "bar-won": "#15803d",
    "bar-ok": "#15803d",
    "bar-warn": "#d97706",
    "bar-late": "#b91c1c",
    "bar-none": "#cbd2d9",
    "bar-rib": "#d97706",
}


@dataclass(frozen=True)
class Bar:
    label: str
    value: float | None  # None: nothing to draw (no report yet, no lead handed out)
    text: str  # the value as a reader says it: "12 days", "40%", "no report yet"
    css: str = "bar"


@dataclass(frozen=True)
class Chart:
    chart_id: str
    title: str
    description: str
    label_header: str
    value_header: str
    bars: list[Bar]
    svg: SafeString


def _text_width(text: str) -> float:
    """Roughly how wide `text` is drawn at FONT_PX: CJK characters are about twice as wide."""
    return sum(
        FONT_PX if unicodedata.east_asian_width(ch) in "WF" else FONT_PX * 0.6 for ch in text
    )


def _fit(text: str, width: float) -> str:
    """`text` shortened with an ellipsis to fit `width` (the full text stays in a <title>)."""
    if _text_width(text) <= width:
        return text
    while text and _text_width(text + "…") > width:
        text = text[:-1]
    return text + "…"


def _svg(
    chart_id: str,
    title: str,
    description: str,
    bars: Sequence[Bar],
    *,
    centered: bool,
    scale: float | None,
) -> SafeString:
    label_width = min(LABEL_MAX, max((_text_width(b.label) for b in bars), default=60) + 16)
    area = WIDTH - label_width - VALUE_WIDTH
    top = scale or max((b.value or 0 for b in bars), default=0) or 1
    height = TOP * 2 + ROW * max(len(bars), 1)
    rows = []
    for i, bar in enumerate(bars):
        y = TOP + i * ROW
        width = area * (bar.value or 0) / top
        if bar.value and width < 2:
            width = 2.0  # a small value stays visible
        x = label_width + ((area - width) / 2 if centered else 0)
        value_x = label_width + area + 8 if centered else x + width + 6
        rows.append(
            format_html(
                '<g class="chart-row"><title>{}: {}</title>'
                '<text class="chart-label" x="{}" y="{}" text-anchor="end">{}</text>'
                '<rect class="{}" x="{}" y="{}" width="{}" height="{}" rx="3" fill="{}"/>'
                '<text class="chart-value" x="{}" y="{}">{}</text></g>',
                bar.label,
                bar.text,
                f"{label_width - 8:.0f}",
                f"{y + BAR / 2 + FONT_PX / 3:.1f}",
                _fit(bar.label, label_width - 12),
                bar.css,
                f"{x:.1f}",
                y,
                f"{width:.1f}",
                BAR,
                FILLS.get(bar.css, FILLS["bar"]),
                f"{value_x:.1f}",
                f"{y + BAR / 2 + FONT_PX / 3:.1f}",
                bar.text,
            )
        )
    if not bars:
        rows.append(
            format_html(
                '<text class="chart-empty" x="{}" y="{}">{}</text>',
                8,
                TOP + BAR,
                _("Nothing to show yet."),
            )
        )
    return format_html(
        '<svg xmlns="http://www.w3.org/2000/svg" class="chart-svg" role="img" '
        'aria-labelledby="{}-title {}-desc" viewBox="0 0 {} {}" width="{}" height="{}" '
        'font-size="{}"><title id="{}-title">{}</title><desc id="{}-desc">{}</desc>{}</svg>',
        chart_id,
        chart_id,
        WIDTH,
        height,
        WIDTH,
        height,
        FONT_PX,
        chart_id,
        title,
        chart_id,
        description,
        format_html_join("", "{}", ((row,) for row in rows)),
    )


def _chart(
    chart_id: str,
    title: str,
    description: str,
    headers: tuple[str, str],
    bars: list[Bar],
    *,
    centered: bool = False,
    scale: float | None = None,
) -> Chart:
    return Chart(
        chart_id=chart_id,
        title=title,
        description=description,
        label_header=headers[0],
        value_header=headers[1],
        bars=bars,
        svg=_svg(chart_id, title, description, bars, centered=centered, scale=scale),
    )


def funnel(stages: Sequence[StageRow], *, chart_id: str = "chart-funnel") -> Chart:
    """The open stages in order, then the wins: how many leads stand in each."""
    by_stage = {row.stage: row for row in stages}
    bars = []
    for stage in FUNNEL_STAGES:
        row = by_stage.get(stage) or StageRow(stage, str(Stage(stage).label))
        text = ngettext("%(count)d lead", "%(count)d leads", row.count) % {"count": row.count}
        bars.append(Bar(row.label, row.count, text, "bar-won" if stage == Stage.WON else "bar"))
    return _chart(
        chart_id,
        _("Pipeline funnel"),
        _("How many leads stand in each open stage, and how many were won."),
        (_("Stage"), _("Leads")),
        bars,
        centered=True,
    )


def freshness(
    rows: Sequence[Figures], *, chart_id: str = "chart-freshness", per_team: bool = False
) -> Chart:
    """Days since each rep's (or team's) last report; the longer, the redder."""
    bars = []
    for row in rows:
        days = row.days_since_report
        if days is None:
            bars.append(Bar(row.name, None, _("no report yet"), "bar-none"))
            continue
        css = "bar-ok" if days <= FRESH_DAYS else "bar-warn" if days <= LATE_DAYS else "bar-late"
        text = ngettext("%(count)d day", "%(count)d days", days) % {"count": days}
        bars.append(Bar(row.name, days, text, css))
    return _chart(
        chart_id,
        _("Report freshness"),
        _(
            "Days since the last report: green within %(fresh)d days, amber within %(late)d, "
            "red beyond."
        )
        % {"fresh": FRESH_DAYS, "late": LATE_DAYS},
        (_("Team") if per_team else _("Rep"), _("Days since the last report")),
        bars,
    )


def rib_share(
    rows: Sequence[Figures], *, days: int, chart_id: str = "chart-ribs", per_team: bool = False
) -> Chart:
    """Of the leads handed down in the period, the share that were chicken-rib (鸡肋) leads."""
    bars = []
    for row in rows:
        share = row.handed_out_rib_share
        if share is None:
            bars.append(Bar(row.name, None, _("no leads handed down"), "bar-none"))
            continue
        text = _("%(share)d%% (%(ribs)d of %(total)d)") % {
            "share": share,
            "ribs": row.handed_out_rib,
            "total": row.handed_out,
        }
        bars.append(Bar(row.name, share, text, "bar-rib"))
    return _chart(
        chart_id,
        _("Quality of the leads handed down"),
        _(
            "Share of chicken-rib (鸡肋) leads among the leads handed down "
            "in the last %(days)d days."
        )
        % {"days": days},
        (_("Team") if per_team else _("Rep"), _("Chicken-rib share")),
        bars,
        scale=100,
    )
