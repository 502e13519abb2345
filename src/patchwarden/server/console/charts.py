"""Server-rendered SVG charts (no chart library, no script: the page policy allows none
inline)."""

from __future__ import annotations

from collections.abc import Sequence

from markupsafe import Markup, escape

WIDTH, HEIGHT = 720, 180
PAD_LEFT, PAD_BOTTOM, PAD_TOP = 48, 24, 12


def trend_svg(points: Sequence[tuple[str, int]]) -> Markup:
    """A line chart of (day, open records), with its axis labels and a text alternative."""
    if not points:
        return Markup("")
    top = max(max(n for _, n in points), 1)
    plot_w = WIDTH - PAD_LEFT - 8
    plot_h = HEIGHT - PAD_BOTTOM - PAD_TOP
    step = plot_w / max(len(points) - 1, 1)

    def xy(i: int, n: int) -> tuple[float, float]:
        return PAD_LEFT + i * step, PAD_TOP + plot_h - n / top * plot_h

    line = " ".join(f"{x:.1f},{y:.1f}" for x, y in (xy(i, n) for i, (_, n) in enumerate(points)))
    first_day, last_day = points[0][0], points[-1][0]
    last = points[-1][1]
    summary = f"Open records from {first_day} to {last_day}: now {last}, at most {top}."
    parts = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-label="{escape(summary)}" xmlns="http://www.w3.org/2000/svg">',
        f"<title>{escape(summary)}</title>",
        f'<line x1="{PAD_LEFT}" y1="{PAD_TOP + plot_h}" x2="{WIDTH - 8}" '
        f'y2="{PAD_TOP + plot_h}" stroke="#9aa5b1"/>',
        f'<line x1="{PAD_LEFT}" y1="{PAD_TOP}" x2="{PAD_LEFT}" y2="{PAD_TOP + plot_h}" '
        'stroke="#9aa5b1"/>',
        f'<text x="{PAD_LEFT - 6}" y="{PAD_TOP + 4}" text-anchor="end" font-size="11" '
        f'fill="#52606d">{top}</text>',
        f'<text x="{PAD_LEFT - 6}" y="{PAD_TOP + plot_h}" text-anchor="end" font-size="11" '
        'fill="#52606d">0</text>',
        f'<text x="{PAD_LEFT}" y="{HEIGHT - 6}" font-size="11" fill="#52606d">'
        f"{escape(first_day)}</text>",
        f'<text x="{WIDTH - 8}" y="{HEIGHT - 6}" text-anchor="end" font-size="11" '
        f'fill="#52606d">{escape(last_day)}</text>',
        f'<polyline points="{line}" fill="none" stroke="#1f6feb" stroke-width="2"/>',
    ]
    x, y = xy(len(points) - 1, last)
    parts.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="#1f6feb"/>')
    parts.append("</svg>")
    return Markup("".join(parts))
