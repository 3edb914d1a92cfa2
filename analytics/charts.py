"""Server-rendered SVG charts for the dashboard: our own code, no JavaScript, no CDN.

Each function returns safe inline ``<svg>`` markup with axes, tick labels and a ``<title>``
tooltip per mark; colours come from the admin's CSS variables so the charts follow its theme.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import date
from decimal import Decimal

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

FONT = 'font-family="inherit" font-size="11" fill="var(--body-quiet-color, #666)"'


def nice_ticks(maximum: float, count: int = 5) -> list[float]:
    """Round tick values from 0 to at least ``maximum`` (1, 2, 2.5 or 5 x 10^n apart)."""
    if maximum <= 0:
        return [0.0, 1.0]
    raw = maximum / count
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    ticks = [0.0]
    while ticks[-1] < maximum:
        ticks.append(round(ticks[-1] + step, 10))
    return ticks


def compact(value: float) -> str:
    """1234567 -> 1.2M, 15300 -> 15.3k, 950 -> 950."""
    number = float(value)
    for limit, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if abs(number) >= limit:
            text = f"{number / limit:.1f}".rstrip("0").rstrip(".")
            return f"{text}{suffix}"
    return f"{number:.0f}" if number == int(number) else f"{number:.2f}"


def _label(value: date, interval: str) -> str:
    if interval == "month":
        return value.strftime("%b %Y")
    return value.strftime("%d %b")


def line_chart(
    points: Sequence[tuple[date, Decimal]],
    *,
    interval: str = "day",
    width: int = 760,
    height: int = 260,
    title: str = "Revenue",
    partial: Sequence[bool] = (),
) -> SafeString:
    """A line (with a light area) of ``(day, value)`` points; y axis from 0 with round ticks,
    x axis with up to 8 date labels. Points flagged in ``partial`` (a bucket not over yet, or cut
    by the period) are drawn hollow, with ``class="partial"``, so a short bucket does not read
    as a fall."""
    left, right, top, bottom = 56, 16, 16, 36
    plot_w, plot_h = width - left - right, height - top - bottom
    values = [float(v) for _, v in points]
    ticks = nice_ticks(max(values, default=0))
    top_value = ticks[-1]

    def x(index: int) -> float:
        return left + (plot_w * index / max(len(points) - 1, 1) if len(points) > 1 else plot_w / 2)

    def y(value: float) -> float:
        return top + plot_h - plot_h * value / top_value

    parts = [
        f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="{escape(title)}" xmlns="http://www.w3.org/2000/svg">',
        f"<title>{escape(title)}</title>",
    ]
    for tick in ticks:
        ty = y(tick)
        parts.append(
            f'<line x1="{left}" x2="{width - right}" y1="{ty:.1f}" y2="{ty:.1f}" '
            'stroke="var(--hairline-color, #e8e8e8)"/>'
            f'<text x="{left - 6}" y="{ty + 4:.1f}" text-anchor="end" {FONT}>{compact(tick)}</text>'
        )
    parts.append(
        f'<line x1="{left}" x2="{left}" y1="{top}" y2="{top + plot_h}" '
        'stroke="var(--body-quiet-color, #999)"/>'
        f'<line x1="{left}" x2="{width - right}" y1="{top + plot_h}" y2="{top + plot_h}" '
        'stroke="var(--body-quiet-color, #999)"/>'
    )
    if points:
        step = max(1, math.ceil(len(points) / 8))
        for index in range(0, len(points), step):
            parts.append(
                f'<text x="{x(index):.1f}" y="{top + plot_h + 18}" text-anchor="middle" {FONT}>'
                f"{escape(_label(points[index][0], interval))}</text>"
            )
        coords = " ".join(f"{x(i):.1f},{y(v):.1f}" for i, v in enumerate(values))
        parts.append(
            f'<polygon points="{x(0):.1f},{top + plot_h} {coords} '
            f'{x(len(points) - 1):.1f},{top + plot_h}" fill="var(--primary, #79aec8)" '
            'fill-opacity="0.15"/>'
            f'<polyline points="{coords}" fill="none" stroke="var(--secondary, #417690)" '
            'stroke-width="2"/>'
        )
        radius = 3 if len(points) <= 62 else 1.5
        for index, (day, value) in enumerate(points):
            if index < len(partial) and partial[index]:
                parts.append(
                    f'<circle class="partial" cx="{x(index):.1f}" cy="{y(float(value)):.1f}" '
                    f'r="{max(radius, 3.5)}" fill="var(--body-bg, #fff)" '
                    'stroke="var(--secondary, #417690)" stroke-width="1.5">'
                    f"<title>{escape(_label(day, interval))}: {escape(value)} (partial)</title>"
                    "</circle>"
                )
                continue
            parts.append(
                f'<circle cx="{x(index):.1f}" cy="{y(float(value)):.1f}" r="{radius}" '
                f'fill="var(--secondary, #417690)"><title>{escape(_label(day, interval))}: '
                f"{escape(value)}</title></circle>"
            )
    parts.append("</svg>")
    return mark_safe("".join(parts))  # every text above is escaped


def bar_chart(
    items: Sequence[tuple[str, Decimal]],
    *,
    width: int = 460,
    title: str = "",
    bar_height: int = 20,
) -> SafeString:
    """Horizontal bars, one per ``(label, value)``, with the value at the end of each bar and
    an x axis with round ticks."""
    left, right, top, bottom = 150, 56, 8, 28
    gap = 6
    plot_w = width - left - right
    height = top + bottom + max(len(items), 1) * (bar_height + gap)
    ticks = nice_ticks(max((float(v) for _, v in items), default=0), count=4)
    top_value = ticks[-1]
    axis_y = height - bottom

    parts = [
        f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="{escape(title)}" xmlns="http://www.w3.org/2000/svg">',
        f"<title>{escape(title)}</title>",
    ]
    for tick in ticks:
        tx = left + plot_w * tick / top_value
        parts.append(
            f'<line x1="{tx:.1f}" x2="{tx:.1f}" y1="{top}" y2="{axis_y}" '
            'stroke="var(--hairline-color, #e8e8e8)"/>'
            f'<text x="{tx:.1f}" y="{axis_y + 16}" text-anchor="middle" {FONT}>'
            f"{compact(tick)}</text>"
        )
    parts.append(
        f'<line x1="{left}" x2="{left}" y1="{top}" y2="{axis_y}" '
        'stroke="var(--body-quiet-color, #999)"/>'
    )
    for index, (label, value) in enumerate(items):
        by = top + index * (bar_height + gap)
        bar_w = plot_w * float(value) / top_value
        short = label if len(label) <= 22 else label[:21] + "…"
        parts.append(
            f'<text x="{left - 6}" y="{by + bar_height * 0.7:.1f}" text-anchor="end" {FONT}>'
            f"{escape(short)}</text>"
            f'<rect x="{left}" y="{by}" width="{max(bar_w, 0):.1f}" height="{bar_height}" '
            f'fill="var(--primary, #79aec8)"><title>{escape(label)}: {escape(value)}</title>'
            "</rect>"
            f'<text x="{left + bar_w + 4:.1f}" y="{by + bar_height * 0.7:.1f}" {FONT}>'
            f"{compact(float(value))}</text>"
        )
    parts.append("</svg>")
    return mark_safe("".join(parts))  # every text above is escaped
