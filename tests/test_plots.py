"""Night and comparison figures render from records, empty input included."""

from __future__ import annotations

import dataclasses
import io
import math

import pytest

from steer.envs.night_figures import NIGHT_FIGURES, night_figures
from steer.plots import compare_figure

try:
    from test_tracking import make_records
except ImportError:  # tests imported as a package
    from tests.test_tracking import make_records

EXPECTED = {"sky", "timeline", "cumulative_reward", "conditions"}


def _png_bytes(fig) -> int:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", bbox_inches="tight")
    return len(buf.getvalue())


def _n_artists(fig) -> int:
    return sum(len(ax.collections) + len(ax.lines) for ax in fig.axes)


def test_night_figures_from_records() -> None:
    figs = night_figures(make_records(), title="feature-seed7")
    assert EXPECTED <= set(figs) and set(figs) == set(NIGHT_FIGURES)
    for name, fig in figs.items():
        assert fig.axes, name
        assert _n_artists(fig) > 0, name
        assert _png_bytes(fig) > 5_000, name
    sky = figs["sky"].axes[0]
    assert sky.name == "polar"
    labels = [c.get_label() for c in sky.collections]
    assert "executed" in labels and "rejected" in labels
    timeline = figs["timeline"].axes[0]
    assert "[h]" in timeline.get_xlabel()
    assert [ax.get_ylabel() for ax in figs["conditions"].axes[:3]] == [
        "seeing FWHM [arcsec]", "transparency (1 = clear)", "airmass"]


@pytest.mark.parametrize("case", ["empty", "only_rejected"])
def test_night_figures_without_visits(case: str) -> None:
    records = [] if case == "empty" else [
        dataclasses.replace(r, status="rejected", measurement=None, reward=0.0,
                            proposal={"action": r.proposal["action"], "score": 0.1})
        for r in make_records(n_steps=4)]
    figs = night_figures(records)
    assert EXPECTED <= set(figs)
    for name, fig in figs.items():
        assert fig.axes, name
        texts = [t.get_text() for ax in fig.axes for t in ax.texts]
        if case == "empty" or name not in ("cumulative_reward", "decision_time"):
            assert any(texts), (name, texts)
        assert _png_bytes(fig) > 1_000, name


def test_compare_figure() -> None:
    per_policy = {
        "feature": {"science_score": [10.0, 12.0, 11.0, 13.0], "n_visits": [80, 82, 79, 85]},
        "bo": {"science_score": [14.0, 15.5, 13.0, math.nan], "n_visits": [70, 72, 71, 69]},
        "random": {"science_score": [5.0], "n_visits": []},
    }
    fig = compare_figure(per_policy, ["science_score", "n_visits"])
    visible = [ax for ax in fig.axes if ax.get_visible() and ax.axison]
    assert len(visible) == 2
    assert [ax.get_title() for ax in visible] == ["science_score", "n_visits"]
    assert [t.get_text() for t in visible[0].get_xticklabels()] == ["feature", "bo", "random"]
    assert _png_bytes(fig) > 5_000
    assert compare_figure({}, []).axes
