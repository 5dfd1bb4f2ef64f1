"""Small line charts as inline SVG text, for pages that hold hundreds of them (the report's drill-down).

A matplotlib figure per chart would cost a tenth of a second and tens of kilobytes each; a hand-written SVG of a
few polylines costs microseconds and well under a kilobyte, scales without blur and needs no font files.
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from dataclasses import dataclass

WIDTH, HEIGHT = 210, 104
LEFT, RIGHT, TOP, BOTTOM = 30, 6, 14, 14  # margins of the plot area: tick labels left and below, title above


@dataclass(frozen=True)
class Line:
    """One series: x and y values (NaN leaves a gap), its colour, an SVG dash pattern ('' solid) and a label shown
    when the pointer rests on it."""

    xs: Sequence[float]
    ys: Sequence[float]
    colour: str
    dash: str = ""
    label: str = ""


def _tick(value: float) -> str:
    """A tick label: three significant digits, no exponent for the usual ranges."""
    return f"{value:.3g}"


def _range(lines: Sequence[Line], fixed: tuple[float, float] | None) -> tuple[float, float]:
    """The y range: ``fixed`` when given, else the finite values' span (a flat series gets a span around it)."""
    if fixed is not None:
        return fixed
    values = [v for line in lines for v in line.ys if math.isfinite(v)]
    if not values:
        return 0.0, 1.0
    low, high = min(values), max(values)
    if high - low < 1e-9:
        pad = abs(high) * 0.1 or 0.05
        return low - pad, high + pad
    return low, high


def _runs(line: Line) -> list[list[tuple[float, float]]]:
    """The line's points split at missing (non-finite) values, each run in x order."""
    runs: list[list[tuple[float, float]]] = [[]]
    for x, y in sorted(zip(line.xs, line.ys, strict=True), key=lambda p: p[0]):
        if math.isfinite(x) and math.isfinite(y):
            runs[-1].append((x, y))
        elif runs[-1]:
            runs.append([])
    return [run for run in runs if run]


def line_chart(lines: Sequence[Line], title: str, x_max: float, y_range: tuple[float, float] | None = None,
               refs: Sequence[float] = ()) -> str:
    """An ``<svg>`` element: ``lines`` over x in [0, ``x_max``] (training steps), y over ``y_range`` (default: the
    data's span), dashed grey reference lines at the ``refs`` values, ``title`` above, the ends of both axes
    labelled."""
    low, high = _range(lines, y_range)
    span_x = x_max if x_max > 0 else 1.0
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def xy(x: float, y: float) -> tuple[float, float]:
        return LEFT + plot_w * x / span_x, TOP + plot_h * (1 - (y - low) / (high - low))

    def point(x: float, y: float) -> str:
        return "{:.1f},{:.1f}".format(*xy(x, y))

    parts = [f'<rect x="{LEFT}" y="{TOP}" width="{plot_w}" height="{plot_h}" fill="#fafafa" stroke="#bbb"/>',
             f'<text x="{LEFT}" y="10" font-size="10">{html.escape(title)}</text>',
             f'<text x="{LEFT - 3}" y="{TOP + 8}" text-anchor="end">{_tick(high)}</text>',
             f'<text x="{LEFT - 3}" y="{TOP + plot_h}" text-anchor="end">{_tick(low)}</text>',
             f'<text x="{LEFT}" y="{HEIGHT - 3}">0</text>',
             f'<text x="{WIDTH - RIGHT}" y="{HEIGHT - 3}" text-anchor="end">{x_max:,.0f} steps</text>']
    for ref in refs:
        if low < ref < high:
            parts.append(f'<polyline points="{point(0, ref)} {point(span_x, ref)}" stroke="#999" '
                         'stroke-dasharray="2 2" fill="none"/>')
    for line in lines:
        tip = f"<title>{html.escape(line.label)}</title>" if line.label else ""
        dash = f' stroke-dasharray="{line.dash}"' if line.dash else ""
        for run in _runs(line):
            if len(run) == 1:
                cx, cy = xy(*run[0])
                parts.append(f'<circle cx="{cx:.1f}" cy="{cy:.1f}" r="2" fill="{line.colour}">{tip}</circle>')
            else:
                points = " ".join(point(x, y) for x, y in run)
                parts.append(f'<polyline points="{points}" stroke="{line.colour}" stroke-width="1.4"{dash} '
                             f'fill="none">{tip}</polyline>')
    return (f'<svg class="chart" width="{WIDTH}" height="{HEIGHT}" viewBox="0 0 {WIDTH} {HEIGHT}" '
            f'font-size="9" font-family="sans-serif" role="img" aria-label="{html.escape(title)}">'
            + "".join(parts) + "</svg>")
