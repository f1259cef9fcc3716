"""`trajectory.gif`: every optimizer moving together over the landscape, with commit markers."""

from __future__ import annotations

import io

import matplotlib.pyplot as plt
import numpy as np
from PIL import Image

from moxco_cli.plots.run import _view_box, draw_contours, draw_minima, style

MAX_FRAMES = 120


def frame_steps(steps: int, max_frames: int = MAX_FRAMES) -> np.ndarray:
    """Steps shown, subsampled to at most `max_frames` (first and last always included)."""
    return np.unique(np.linspace(0, steps, min(steps + 1, max_frames)).round().astype(int))


def animation_bytes(land, runs: dict, title: str, fps: int = 12, dpi: int = 80) -> bytes:
    """A GIF of `runs` ({name: recorded Trajectory from one start}) as bytes.

    Frames are blitted by hand (static figure drawn once, moving artists drawn per frame) and
    written with Pillow: matplotlib's `Animation.save` redraws every tick label and the legend
    for every frame, which made an 800-step GIF ~10x slower.
    """
    first = next(iter(runs.values()))
    steps = first.records.x.shape[0] - 1
    shown = frame_steps(steps)
    one_d = land.dim == 1
    fig, ax = plt.subplots(figsize=(6.4, 5.2), layout="constrained", dpi=dpi)
    box = _view_box(land, runs)
    if one_d:
        xs = np.linspace(box[0, 0], box[0, 1], 2000)[:, None]
        ax.plot(xs[:, 0], land.f(xs), color="0.3", lw=1.3)
        ax.set(xlabel="x", ylabel="f(x)")
    else:
        draw_contours(ax, land, box, resolution=160)
        ax.set(xlim=box[0], ylim=box[1], xlabel=r"$x_0$", ylabel=r"$x_1$")
    draw_minima(ax, land, one_d=one_d)

    def point(tr, t):
        x = tr.records.x[t, 0, :]
        return (x[0], tr.records.loss[t, 0]) if one_d else (x[0], x[1])

    artists = {}
    for name in runs:
        st = style(name, runs)
        trail, = ax.plot([], [], color=st["color"], ls=st["ls"], lw=1.5, label=st["label"])
        head, = ax.plot([], [], marker="o", ms=8, color=st["color"], mec="black", ls="none")
        commit, = ax.plot([], [], marker="o", ms=13, mfc="none", mec=st["color"], mew=2.4,
                          ls="none")
        artists[name] = (trail, head, commit)
    ax.plot(*point(first, 0), marker="o", ms=9, color="black", ls="none", label="start")
    counter = ax.text(0.98, 0.02, "", transform=ax.transAxes, ha="right", fontsize=10,
                      bbox=dict(fc="white", ec="0.5", alpha=0.9))
    events = ax.text(0.02, 0.98, "", transform=ax.transAxes, va="top", fontsize=8.5,
                     bbox=dict(fc="white", ec="0.5", alpha=0.9))
    ax.legend(loc="lower left", fontsize=8, framealpha=0.9)
    ax.set_title(title, fontsize=10)

    def update(k):
        """Move every artist to frame k (step shown[k])."""
        t = shown[k]
        lines = []
        for name, tr in runs.items():
            trail, head, commit = artists[name]
            path = (np.column_stack([tr.records.x[: t + 1, 0, 0], tr.records.loss[: t + 1, 0]])
                    if one_d else tr.records.x[: t + 1, 0, :])
            trail.set_data(path[:, 0], path[:, 1])
            head.set_data(*[[v] for v in point(tr, t)])
            c = tr.commit_step[0]
            commit.set_data([], [])
            if 0 <= c <= t:
                commit.set_data(*[[v] for v in point(tr, c)])
                lines.append(f"{style(name, runs)['label']} committed at t={c}")
            d = tr.diverged_step[0]
            if 0 <= d <= t:
                lines.append(f"{style(name, runs)['label']} diverged at t={d}")
        counter.set_text(f"step {t} / {steps}")
        events.set_text("\n".join(lines) if lines else "exploring")

    dynamic = [a for trio in artists.values() for a in trio] + [counter, events]
    for artist in dynamic:
        artist.set_animated(True)  # left out of full draws: drawn per frame on the background
    update(len(shown) - 1)  # lay out once with the longest texts, then freeze the layout
    canvas = fig.canvas
    canvas.draw()
    fig.set_layout_engine("none")
    background = canvas.copy_from_bbox(fig.bbox)
    frames = []
    try:
        for k in range(len(shown)):
            update(k)
            canvas.restore_region(background)
            for artist in dynamic:
                ax.draw_artist(artist)
            width, height = canvas.get_width_height()
            rgba = Image.frombuffer("RGBA", (width, height), bytes(canvas.buffer_rgba()))
            frames.append(rgba.convert("RGB"))
    finally:
        plt.close(fig)
    # One palette for all frames (from the last, which shows every artist): unchanged pixels
    # then stay byte-identical between frames and the GIF stores little more than the changes.
    palette = frames[-1].quantize(colors=255, method=Image.Quantize.MEDIANCUT)
    frames = [f.quantize(palette=palette, dither=Image.Dither.NONE) for f in frames]
    buf = io.BytesIO()
    frames[0].save(buf, format="GIF", save_all=True, append_images=frames[1:],
                   duration=round(1000 / fps), loop=0, optimize=False)
    return buf.getvalue()
