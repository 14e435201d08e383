from __future__ import annotations

import pytest

from runofshow.domain.trends import (
    Trend,
    consecutive_breaches,
    projected_crossing,
    rising,
    seconds_to_cross,
    theil_sen,
)


def test_theil_sen_recovers_a_line():
    ts = [0, 60, 120, 180, 240]
    ys = [10 + 0.5 * t for t in ts]
    tr = theil_sen(ts, ys)
    assert tr is not None
    assert tr.slope == pytest.approx(0.5)
    assert tr.level == pytest.approx(130)
    assert tr.at(300) == pytest.approx(160)


def test_theil_sen_ignores_one_wild_point():
    ts = [0, 60, 120, 180, 240, 300]
    ys = [10, 11, 12, 500, 14, 15]
    tr = theil_sen(ts, ys)
    assert tr is not None
    assert tr.slope == pytest.approx(1 / 60, rel=0.05)


def test_theil_sen_needs_three_points_and_equal_lengths():
    assert theil_sen([0, 60], [1, 2]) is None
    with pytest.raises(ValueError):
        theil_sen([0, 60, 120], [1, 2])


def test_seconds_to_cross():
    tr = Trend(slope=1.0, level=70, t_last=0, points=5)
    assert seconds_to_cross(tr, 80, 900) == pytest.approx(10)
    assert seconds_to_cross(tr, 80, 5) is None  # later than the horizon
    assert seconds_to_cross(Trend(slope=-1, level=70, t_last=0, points=5), 80, 900) is None
    assert seconds_to_cross(Trend(slope=0.1, level=85, t_last=0, points=5), 80, 900) == 0.0


def test_projected_crossing_of_a_creeping_series():
    ts = [0, 60, 120, 180, 240]
    assert projected_crossing(ts, [50, 55, 60, 65, 70], 80, 15 * 60) == pytest.approx(120)
    assert projected_crossing(ts, [50, 50, 51, 50, 50], 80, 15 * 60) is None
    assert projected_crossing(ts[:2], [50, 70], 80, 900) is None


def test_consecutive_breaches_and_rising():
    assert consecutive_breaches([1, 5, 6, 7], 4) == 3
    assert consecutive_breaches([5, None, 6, 7], 4) == 2
    assert consecutive_breaches([5, 6, 1], 4) == 0
    assert rising([1, 2, 3])
    assert not rising([1, 3, 2])
    assert not rising([1, 2])
