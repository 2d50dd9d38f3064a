"""Charts as inline SVG rendered on the server: no script, no CDN, readable offline. Each has
a <title> and a <desc>, and the page puts the same figures in a table beside it (the text
alternative)."""

from __future__ import annotations

import itertools
import math
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from html import escape

from markupsafe import Markup

_SERIES = 6  # CSS classes series-0 … series-5


@dataclass(frozen=True)
class Target:
    """A reference line (目標値): ``value`` in the chart's unit."""

    value: float
    label: str


_ids = itertools.count(1)
#: The charts' font size in SVG units (svg.chart in dashboard.css).
FONT_SIZE = 11


def text_width(text: str, size: float = FONT_SIZE) -> float:
    """A generous estimate of the width ``text`` takes (there is no font on the server): a
    full-width character (漢字, かな, ％) one em, any other 0.62 em (Noto Sans CJK's digits and
    Latin letters are narrower). The charts leave this much room, so that a value, a target
    or an axis label is never cut off at the edge of its <svg>."""
    wide = sum(unicodedata.east_asian_width(ch) in "WF" for ch in text)
    return size * (wide + 0.62 * (len(text) - wide))


def _inside(x: float, text: str, width: float, margin: float = 2) -> float:
    """The x of a label centred on ``x``, moved in just enough to stay within 0 … width."""
    half = text_width(text) / 2
    return max(half + margin, min(x, width - half - margin))


Format = Callable[[float], str]


def formatter(values: Iterable[float | None], *, percent: bool) -> Format:
    """The label format of a chart, chosen by the range of the values it shows: shares as
    percentages with one decimal; whole numbers (counts, yen) without decimals; other values
    with enough decimals to tell them apart. Ratios near 1 (地域差指数 0.98, 1.02) must not read
    "1" alike, so a value below 10 keeps at least two decimals."""
    if percent:
        return lambda value: f"{value * 100:.1f}%"
    known = [v for v in values if v is not None and math.isfinite(v)]
    if all(float(v).is_integer() for v in known):
        return lambda value: f"{value:,.0f}"
    largest = max(abs(v) for v in known)
    least = 2 if largest < 10 else 1 if largest < 100 else 0
    span = max(known) - min(known)
    # Values close together need decimals down to the span's leading digit (at most four).
    needed = math.ceil(-math.log10(span)) if span > 0 else 0
    decimals = min(4, max(least, needed))
    return lambda value: f"{value:,.{decimals}f}"


def _open(width: int, height: int, title: str, desc: str) -> tuple[str, list[str]]:
    n = next(_ids)
    head = (
        f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" '
        f'aria-labelledby="chart-t{n} chart-d{n}" preserveAspectRatio="xMinYMin meet">'
        f'<title id="chart-t{n}">{escape(title)}</title><desc id="chart-d{n}">{escape(desc)}</desc>'
    )
    return head, []


def bar_chart(
    title: str,
    desc: str,
    labels: Sequence[str],
    values: Sequence[float | None],
    *,
    targets: Sequence[Target] = (),
    percent: bool = True,
    highlight: str | None = None,
    unit: str = "",
) -> Markup:
    """Horizontal bars, one per label (17 municipalities read well this way), with the
    targets as vertical lines. ``unit`` follows every value (「円」: a bar of yen reads as the
    table beside it, 「68,388円」)."""
    plain = formatter([*values, *(t.value for t in targets)], percent=percent)

    def fmt(value: float) -> str:
        return f"{plain(value)}{unit}"

    known = [v for v in values if v is not None]
    # Room at the right for the value at the end of the longest bar, above the bars for one
    # line of target labels each.
    right = math.ceil(max([70.0, *(text_width(fmt(v)) + 10 for v in known)]))
    row, left, top = 22, 110, 28 + 12 * max(0, len(targets) - 1)
    width = 640
    height = top + row * len(labels) + 24
    top_value = max([*known, *(t.value for t in targets), 1e-9])
    if percent:
        top_value = min(1.0, top_value * 1.05) if top_value <= 1 else top_value
    scale = (width - left - right) / (top_value or 1)
    head, parts = _open(width, height, title, desc)
    for i, (label, value) in enumerate(zip(labels, values, strict=True)):
        y = top + i * row
        mark = " highlight" if label == highlight else ""
        parts.append(
            f'<text class="axis-label{mark}" x="{left - 6}" y="{y + 15}" '
            f'text-anchor="end">{escape(label)}</text>'
        )
        if value is None:
            parts.append(f'<text class="value" x="{left + 4}" y="{y + 15}">データなし</text>')
            continue
        w = max(0.0, value * scale)
        parts.append(
            f'<rect class="bar{mark}" x="{left}" y="{y + 3}" width="{w:.1f}" height="{row - 6}">'
            f"<title>{escape(label)}: {fmt(value)}</title></rect>"
        )
        parts.append(f'<text class="value" x="{left + w + 4:.1f}" y="{y + 15}">{fmt(value)}</text>')
    for k, target in enumerate(targets):
        x = left + target.value * scale
        parts.append(
            f'<line class="target target-{k}" x1="{x:.1f}" x2="{x:.1f}" y1="{top - 6}" '
            f'y2="{height - 20}"><title>{escape(target.label)}</title></line>'
            f'<text class="target-label target-{k}" x="{_inside(x, target.label, width):.1f}" '
            f'y="{top - 10 - 12 * k}" text-anchor="middle">{escape(target.label)}</text>'
        )
    return Markup(head + "".join(parts) + "</svg>")


def line_chart(
    title: str,
    desc: str,
    x_labels: Sequence[str],
    series: dict[str, Sequence[float | None]],
    *,
    targets: Sequence[Target] = (),
    percent: bool = True,
) -> Markup:
    """Lines over time (years or days), a legend beneath, targets as dashed lines."""
    known = [v for vs in series.values() for v in vs if v is not None]
    top_value = max([*known, *(t.value for t in targets), 0.0]) * 1.1
    if top_value <= 0:
        top_value = 1.0 if percent else 10.0
    if percent:
        top_value = min(1.0, top_value)
    fmt = formatter([*known, *(t.value for t in targets)], percent=percent)
    # Room at the left for the widest value of the axis (yen in the billions).
    left = math.ceil(max([56.0, *(text_width(fmt(top_value * k / 4)) + 8 for k in range(5))]))
    width, height, right, top, bottom = 640, 300, 44, 30, 60
    plot_w, plot_h = width - left - right, height - top - bottom
    head, parts = _open(width, height, title, desc)
    for k in range(5):
        value = top_value * k / 4
        y = top + plot_h - plot_h * k / 4
        parts.append(
            f'<line class="grid" x1="{left}" x2="{width - right}" y1="{y:.1f}" y2="{y:.1f}"/>'
            f'<text class="axis-label" x="{left - 4}" y="{y + 4:.1f}" text-anchor="end">'
            f"{fmt(value)}</text>"
        )
    step = plot_w / max(1, len(x_labels) - 1)
    every = max(1, len(x_labels) // 8)
    for i, label in enumerate(x_labels):
        last = i == len(x_labels) - 1
        if (i % every == 0 and (last or len(x_labels) - 1 - i >= every / 2)) or last:
            x = left + i * step if len(x_labels) > 1 else left + plot_w / 2
            parts.append(
                f'<text class="axis-label" x="{_inside(x, label, width):.1f}" '
                f'y="{top + plot_h + 16}" text-anchor="middle">{escape(label)}</text>'
            )
    for k, target in enumerate(targets):
        y = top + plot_h - plot_h * target.value / top_value
        parts.append(
            f'<line class="target target-{k}" x1="{left}" x2="{width - right}" y1="{y:.1f}" '
            f'y2="{y:.1f}"><title>{escape(target.label)}</title></line>'
            f'<text class="target-label target-{k}" x="{width - right}" y="{y - 4:.1f}" '
            f'text-anchor="end">{escape(target.label)}</text>'
        )
    for s, (name, values) in enumerate(series.items()):
        points: list[tuple[float, float, float, str]] = []
        for i, known_value in enumerate(values):
            if known_value is None:
                continue
            value = known_value
            x = left + i * step if len(x_labels) > 1 else left + plot_w / 2
            y = top + plot_h - plot_h * value / top_value
            points.append((x, y, value, x_labels[i]))
        css = f"series-{s % _SERIES}"
        if len(points) > 1:
            path = " ".join(f"{x:.1f},{y:.1f}" for x, y, _, _ in points)
            parts.append(f'<polyline class="line {css}" points="{path}"/>')
        for x, y, value, label in points:
            parts.append(
                f'<circle class="dot {css}" cx="{x:.1f}" cy="{y:.1f}" r="3.5">'
                f"<title>{escape(name)} {escape(label)}: {fmt(value)}</title></circle>"
            )
        lx = left + (s % 4) * 150
        ly = height - 22 + (s // 4) * 14
        parts.append(
            f'<rect class="legend {css}" x="{lx}" y="{ly - 9}" width="12" height="10"/>'
            f'<text class="legend-label" x="{lx + 16}" y="{ly}">{escape(name)}</text>'
        )
    return Markup(head + "".join(parts) + "</svg>")
