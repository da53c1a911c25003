"""A check of the analysis' figures that the figure tests share: readable as a person reads them."""

from __future__ import annotations


def assert_readable(stem, fig):
    """No empty panel; every tick labelled, numeric labels distinct, log axes with two or more, none overlapping."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    renderer = canvas.get_renderer()
    for ax in fig.axes:
        if not ax.axison:
            continue
        assert ax.has_data(), f"{stem}: the panel {ax.get_title()!r} is empty"
        for axis in (ax.xaxis, ax.yaxis):
            where = f"{stem}, panel {ax.get_title()!r}, {axis.axis_name} axis"
            labels = _tick_labels(axis, renderer)
            texts = [t.get_text() for t in labels]
            if not texts and _twin(fig, ax, axis):
                continue  # the shared axis of a twin shows its labels on the other axes
            assert texts and all(texts), f"{where}: a tick without a label ({texts})"
            numbers = [_number(t) for t in texts]
            if all(n is not None for n in numbers):
                assert len(set(texts)) == len(texts), f"{where}: repeated tick labels {texts}"
            if axis.get_scale() == "log":
                assert len(texts) >= 2, f"{where}: a log axis with {texts}"
            boxes = sorted((t.get_window_extent(renderer) for t in labels), key=lambda b: (b.x0, b.y0))
            for a, b in zip(boxes, boxes[1:]):
                assert not a.overlaps(b), f"{where}: tick labels overlap in {texts}"


def _tick_labels(axis, renderer):
    low, high = sorted(axis.get_view_interval())
    ticks = [t for t in axis.get_major_ticks() if low - 1e-12 * abs(low) <= t.get_loc() <= high + 1e-12 * abs(high)]
    return [t.label1 for t in ticks if t.label1.get_visible()] + [t.label2 for t in ticks if t.label2.get_visible()]


def _twin(fig, ax, axis):
    shared = ax.get_shared_x_axes() if axis is ax.xaxis else ax.get_shared_y_axes()
    return any(shared.joined(ax, other) for other in fig.axes if other is not ax)


def _number(text):
    try:
        return float(text.replace("−", "-"))
    except ValueError:
        return None
