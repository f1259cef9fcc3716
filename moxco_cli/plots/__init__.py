"""Figures, one module per command; matplotlib only, no computation.

`style(name)` gives every optimizer one colour and line style across all figures.
"""

from moxco_cli.plots.run import (
    STYLE,
    draw_contours,
    draw_loss,
    draw_minima,
    draw_paths_2d,
    goodness_figure,
    loss_figure,
    style,
    trajectory_figure,
)

__all__ = [
    "STYLE", "draw_contours", "draw_loss", "draw_minima", "draw_paths_2d", "goodness_figure",
    "loss_figure", "style", "trajectory_figure",
]
