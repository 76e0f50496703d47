"""Charts drawn on the server as inline SVG: no script, no CDN, readable without JavaScript (each
bar has a text title, and the page has the numbers as a table too)."""

from dataclasses import dataclass

from core.text import counted

WIDTH, HEIGHT = 720, 200
LEFT, RIGHT, TOP, BOTTOM = 40, 8, 8, 22  # room for the axis labels
SERIES = (("delivered", "Delivered"), ("failed", "Failed"), ("pending", "In progress"))


@dataclass(frozen=True)
class Segment:
    series: str
    y: float
    height: float


@dataclass(frozen=True)
class Bar:
    x: float
    width: float
    title: str
    segments: list[Segment]
    label: str  # under the bar (every seventh day and the last), else ""
    label_x: float
    anchor: str  # text-anchor: centred under its bar, the last one ending at the plot's edge


@dataclass(frozen=True)
class Tick:
    y: float
    label: str


def _nice_max(value: int) -> int:
    """The smallest 1, 2 or 5 times a power of ten at least `value` (at least 1): the top of the axis."""
    step = 1
    while True:
        for factor in (1, 2, 5):
            if step * factor >= value:
                return step * factor
        step *= 10


def stacked_day_bars(days) -> dict:
    """Bars of `days` (objects with .day, .total and one attribute per SERIES), stacked from the
    bottom in SERIES order, with the y axis's ticks."""
    top = _nice_max(max((day.total for day in days), default=0))
    plot_width, plot_height = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    slot = plot_width / max(len(days), 1)
    bars = []
    for index, day in enumerate(days):
        base = TOP + plot_height
        segments = []
        for series, _ in SERIES:
            height = plot_height * getattr(day, series) / top
            if height > 0:
                base -= height
                segments.append(Segment(series=series, y=round(base, 2), height=round(height, 2)))
        parts = ", ".join(f"{getattr(day, series)} {name.lower()}" for series, name in SERIES)
        last = index == len(days) - 1
        bars.append(
            Bar(
                x=round(LEFT + index * slot + slot * 0.15, 2),
                width=round(slot * 0.7, 2),
                title=f"{day.day:%Y-%m-%d}: {counted(day.total, 'message')} ({parts})",
                segments=segments,
                label=f"{day.day:%b %-d}" if last or (len(days) - 1 - index) % 7 == 0 else "",
                label_x=round(LEFT + (index + 1) * slot if last else LEFT + (index + 0.5) * slot, 2),
                anchor="end" if last else "middle",
            )
        )
    values = (0, top // 2, top) if top % 2 == 0 else (0, top)  # whole numbers of messages only
    ticks = [Tick(y=round(TOP + plot_height * (1 - value / top), 2), label=str(value)) for value in values]
    return {
        "width": WIDTH,
        "height": HEIGHT,
        "left": LEFT,
        "right": WIDTH - RIGHT,
        "baseline": TOP + plot_height,
        "label_y": HEIGHT - 6,
        "bars": bars,
        "ticks": ticks,
        "series": SERIES,
    }
