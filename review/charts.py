"""Charts drawn on the server as inline SVG: no chart library, no CDN, no script.

Each bar segment is a link (to the filtered queue) with a `<title>` that says its number, so a
chart reads at a glance and every number in it leads to the violations behind it. Colours come
from fixed palettes so a rule or a coverage state has the same colour on every chart.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from html import escape

from markupsafe import Markup

RULE_COLOURS = ("#1d5fd1", "#d9480f", "#2b8a3e", "#862e9c", "#e67700", "#0b7285", "#5c940d", "#c2255c")
STATE_COLOURS = {
    "enforcing": "#2b8a3e", "starting": "#74c0fc", "stream_down": "#c92a2a", "signal_unreadable": "#e67700",
    "fps_below_floor": "#f59f00", "evidence_paused": "#862e9c", "unwatched": "#ced4da",
}  # fmt: skip


@dataclass(frozen=True, slots=True)
class Segment:
    key: str
    value: float
    href: str | None = None
    label: str = ""


@dataclass(frozen=True, slots=True)
class Column:
    label: str
    segments: tuple[Segment, ...]

    @property
    def total(self) -> float:
        return sum(s.value for s in self.segments)


def colour_map(keys: list[str]) -> dict[str, str]:
    """A stable colour per key (sorted, so the same rules get the same colours everywhere)."""
    return {k: RULE_COLOURS[i % len(RULE_COLOURS)] for i, k in enumerate(sorted(set(keys)))}


def stacked_columns(
    columns: list[Column], colours: dict[str, str], *, width: int = 640, height: int = 160, label_every: int = 1
) -> Markup:
    """Vertical stacked bars, one per column, with the largest total marked on the axis."""
    top = max((c.total for c in columns), default=0) or 1
    pad_left, pad_bottom, pad_top = 28, 18, 6
    plot_h = height - pad_bottom - pad_top
    step = (width - pad_left) / max(1, len(columns))
    bar_w = max(2.0, step * 0.72)
    parts = [
        f'<svg class="chart" viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img">',
        f'<line x1="{pad_left}" y1="{pad_top + plot_h}" x2="{width}" y2="{pad_top + plot_h}" stroke="#adb5bd"/>',
        f'<text x="{pad_left - 4}" y="{pad_top + 8}" text-anchor="end" class="axis">{_num(top)}</text>',
        f'<text x="{pad_left - 4}" y="{pad_top + plot_h}" text-anchor="end" class="axis">0</text>',
    ]
    for i, col in enumerate(columns):
        x = pad_left + i * step + (step - bar_w) / 2
        y = pad_top + plot_h
        for seg in col.segments:
            h = plot_h * seg.value / top
            y -= h
            title = f"{col.label}: {seg.label or seg.key} {_num(seg.value)}"
            rect = (f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar_w:.1f}" height="{h:.1f}" '
                    f'fill="{colours.get(seg.key, "#868e96")}"><title>{escape(title)}</title></rect>')  # fmt: skip
            parts.append(_link(seg.href, rect))
        if i % label_every == 0:
            parts.append(f'<text x="{x + bar_w / 2:.1f}" y="{height - 4}" text-anchor="middle" class="axis">'
                         f"{escape(col.label)}</text>")  # fmt: skip
    parts.append("</svg>")
    return Markup("".join(parts))


def share_bar(segments: list[Segment], colours: dict[str, str], *, width: int = 640, height: int = 22) -> Markup:
    """One horizontal bar split into shares of its total (e.g. a camera's week by coverage state)."""
    total = sum(s.value for s in segments) or 1
    parts = [f'<svg class="chart share" viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img">']
    x = 0.0
    for seg in segments:
        w = width * seg.value / total
        if w <= 0:
            continue
        title = f"{seg.label or seg.key}: {100 * seg.value / total:.1f}%"
        rect = (f'<rect x="{x:.1f}" y="0" width="{w:.1f}" height="{height}" fill="{colours.get(seg.key, "#868e96")}">'
                f"<title>{escape(title)}</title></rect>")  # fmt: skip
        parts.append(_link(seg.href, rect))
        x += w
    parts.append("</svg>")
    return Markup("".join(parts))


def timeline(
    start: datetime, end: datetime, spans: Sequence[tuple[datetime, datetime, str]], colours: dict[str, str],
    *, width: int = 640, height: int = 22, background: str = "unwatched",
) -> Markup:
    """A strip from `start` to `end`, each span drawn where it falls in time; gaps in `background`."""
    total = (end - start).total_seconds() or 1
    parts = [f'<svg class="chart share" viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img">',
             f'<rect x="0" y="0" width="{width}" height="{height}" fill="{colours.get(background, "#eee")}">'
             f"<title>{escape(background.replace('_', ' '))}</title></rect>"]  # fmt: skip
    for begin, finish, state in spans:
        x = width * (begin - start).total_seconds() / total
        w = max(1.0, width * (finish - begin).total_seconds() / total)
        title = f"{state.replace('_', ' ')}: {begin.astimezone():%a %H:%M} – {finish.astimezone():%a %H:%M}"
        fill = colours.get(state, "#868e96")
        parts.append(f'<rect x="{x:.1f}" y="0" width="{w:.1f}" height="{height}" fill="{fill}">'
                     f"<title>{escape(title)}</title></rect>")  # fmt: skip
    midnight = start.astimezone().replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=1)
    while midnight < end:  # a tick at each midnight
        x = width * (midnight - start).total_seconds() / total
        midnight += timedelta(days=1)
        parts.append(f'<line x1="{x:.1f}" y1="0" x2="{x:.1f}" y2="{height}" stroke="#fff" stroke-width="1"/>')
    parts.append("</svg>")
    return Markup("".join(parts))


def _link(href: str | None, inner: str) -> str:
    return f'<a href="{escape(href)}">{inner}</a>' if href else inner


def _num(value: float) -> str:
    return f"{value:.0f}" if float(value).is_integer() else f"{value:.1f}"
