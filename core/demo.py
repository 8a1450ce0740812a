"""The bundled demo data: a health-food shop's audience on social media.

:func:`generate_demo` builds, deterministically from ``random_state``, a long table of behaviour
events (one row per interaction) and a user table, with a known structure planted in them so
every page of the pipeline has something real to find:

* **Five audience groups** (:data:`GROUPS`), in unequal sizes (24 / 20 / 22 / 18 / 16 %, exact to
  the user after rounding):

  ============================  =========  =========================================================
  group                         age        signature topics (most of a member's events)
  ============================  =========  =========================================================
  young women                   18-29      skincare & beauty, collagen, yoga, smoothies
  young men                     18-29      fitness, protein, sports nutrition
  middle-aged women             30-54      healthy eating, organic cooking, family meals,
                                           weight management
  middle-aged men               30-54      heart health, low sugar, supplements
  seniors (55 % women)          55-80      joint health, herbal tea, gardening, gut health
  ============================  =========  =========================================================

* **Interests that travel together.** A group's topics come in bundles (fitness + protein +
  meal prep; skincare + collagen; yoga + smoothies + plant-based; heart health + low sugar;
  herbal tea + gardening ...). Each user weights the bundles of their group differently (a
  Dirichlet draw), so topics of one bundle co-occur in a user's history and association rules
  between interests come out believable. On top of that every user has some background noise
  over all topics (a Beta-distributed share, mean about 14 %), and about 6 % of users carry a
  secondary interest borrowed from another group, so segments are clear but not pure.
* **Habits in time.** Young adults are active in the evening (peak around 20-22 h) and more at
  weekends; middle-aged users early in the morning (6-8 h) and at lunch (12-13 h), less at
  weekends (men) or evenly (women); seniors mid-morning (9-10 h). Activity grows by about a
  third over the period, as a young brand's would.
* **A funnel.** Actions are view > like > click > comment/share > purchase/follow, with a mix
  that differs by group and purchases more likely on product topics (collagen, protein,
  supplements ...) than on lifestyle topics (yoga, running, gardening).
* **Platforms and regions** (weibo, xiaohongshu, instagram, x; eight cities) skew by group; each
  user has a main platform that carries about three quarters of their events.

Activity per user is heavy-tailed (a gamma-Poisson draw): most users are light, a few are very
active, every user has at least five events and the mean is about forty. Within a user no two
events share a timestamp, so the frames contain no exact duplicate rows.

:func:`write_demo_csvs` writes the two frames as CSV files and, in the events file only, plants a
small, counted amount of the mess real exports have (see :func:`demo_mess_counts`): exact
duplicate rows and rows whose timestamp cannot be parsed. The frames themselves stay clean, and
``DemoData.truth`` (the planted group of each user) is never written out.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from core import clock
from core.audience.demo_groups import ACTIONS, GROUPS, PLATFORMS, REGIONS, SIGNATURE_TOPICS, TOPICS
from core.audience.segments import run_segments, save_run
from core.clock import utc_now
from core.content.registry import META_FILE, models_dir
from core.feedback.inbox import seed_demo_mentions
from core.feedback.results.metrics import SOURCE_SIMULATED
from core.feedback.results.simulate import simulated_metrics
from core.intake.ingest import ingest
from core.workspace import Workspace
from core.workspace import open_workspace as open_folder

__all__ = [
    "ACTIONS",
    "GROUPS",
    "PLATFORMS",
    "REGIONS",
    "SIGNATURE_TOPICS",
    "TOPICS",
    "DemoData",
    "demo_mess_counts",
    "generate_demo",
    "install_demo",
    "install_demo_model",
    "open_workspace",
    "seed_demo_history",
    "write_demo_csvs",
]

logger = logging.getLogger(__name__)

#: The demo audience lives in Shanghai: its timestamps are local time there, and so are the
#: hours its published history went out at.
DEMO_TIMEZONE = "Asia/Shanghai"

#: The operator's own past posts, labelled with the demo group they were written for.
DEMO_POSTS = Path(__file__).resolve().parent / "data" / "demo_posts.csv"

#: The demo's published history: weeks back, posts per segment a week, the templates each group's
#: posts followed (two starters stay untried everywhere) and the local hour they went out at.
_HISTORY_WEEKS = 3
_HISTORY_PER_WEEK = 2
_HISTORY_TEMPLATES = ("Tip", "Question", "Offer")
_HISTORY_HOURS = {"young women": 21, "young men": 22, "middle-aged women": 7, "middle-aged men": 12, "seniors": 9}

#: The trained writer (made by ``scripts/build_demo_model.py``), installed with the demo.
DEMO_MODEL_DIR = Path(__file__).resolve().parent / "data" / "demo_model"


_DUPLICATE_RATE = 0.003
_BAD_TIMESTAMP_RATE = 0.0005
_MESS_SEED = 20260930
_BAD_TIMESTAMPS: tuple[str, ...] = (
    "2026-02-30 10:00:00",
    "not a date",
    "2026-13-01 08:15:00",
    "2026-09-31 18:45:00",
    "2026-06-15 25:10:00",
    "#VALUE!",
)


@dataclass(frozen=True)
class DemoData:
    """The demo data set: events, users and the planted group of each user.

    Attributes
    ----------
    events : pandas.DataFrame
        One row per interaction, sorted by time: ``user_id`` (str), ``timestamp``
        (``datetime64[us]``, naive local time, whole seconds), ``action``, ``topic`` and
        ``platform`` (str).
    users : pandas.DataFrame
        One row per user: ``user_id`` (str, ``"u00001"`` ...), ``age`` (int),
        ``gender`` (``"female"`` / ``"male"``) and ``region`` (str).
    truth : pandas.Series
        Planted group name (one of :data:`GROUPS`) indexed by ``user_id``, aligned with
        ``users``. Kept for tests and benchmarks; never written as data.
    """

    events: pd.DataFrame
    users: pd.DataFrame
    truth: pd.Series


@dataclass(frozen=True)
class _GroupSpec:
    """How one planted group looks and behaves."""

    name: str
    share: float
    ages: tuple[int, int, int]  # low, mode, high (inclusive)
    female_share: float
    bundles: tuple[tuple[float, dict[str, float]], ...]  # (weight, topic weights)
    hour_bumps: tuple[tuple[float, float, float], ...]  # (centre hour, width, weight)
    weekday: tuple[float, ...]  # Monday .. Sunday
    actions: tuple[float, ...]  # aligned with ACTIONS
    platforms: tuple[float, ...]  # aligned with PLATFORMS
    regions: tuple[float, ...]  # aligned with REGIONS


_SPECS: tuple[_GroupSpec, ...] = (
    _GroupSpec(
        name="young women",
        share=0.24,
        ages=(18, 24, 29),
        female_share=1.0,
        bundles=(
            (0.50, {"skincare & beauty": 0.55, "collagen": 0.45}),
            (0.40, {"yoga": 0.5, "smoothies": 0.38, "plant-based": 0.12}),
            (0.10, {"superfoods": 0.5, "healthy eating": 0.3, "weight management": 0.2}),
        ),
        hour_bumps=((21.0, 1.6, 1.0), (12.5, 0.8, 0.3), (0.5, 1.0, 0.15)),
        weekday=(0.9, 0.9, 0.95, 1.0, 1.1, 1.35, 1.3),
        actions=(0.55, 0.22, 0.05, 0.06, 0.07, 0.03, 0.02),
        platforms=(0.22, 0.55, 0.17, 0.06),
        regions=(0.22, 0.12, 0.10, 0.16, 0.10, 0.14, 0.08, 0.08),
    ),
    _GroupSpec(
        name="young men",
        share=0.20,
        ages=(18, 23, 29),
        female_share=0.0,
        bundles=(
            (0.55, {"fitness": 0.45, "protein": 0.35, "meal prep": 0.20}),
            (0.35, {"sports nutrition": 0.5, "running": 0.3, "protein": 0.2}),
            (0.10, {"weight management": 0.4, "smoothies": 0.3, "supplements": 0.3}),
        ),
        hour_bumps=((22.0, 1.5, 1.0), (18.0, 1.2, 0.35), (0.5, 1.0, 0.2)),
        weekday=(0.85, 0.9, 0.9, 0.95, 1.15, 1.45, 1.3),
        actions=(0.60, 0.18, 0.05, 0.04, 0.08, 0.03, 0.02),
        platforms=(0.35, 0.15, 0.20, 0.30),
        regions=(0.18, 0.14, 0.12, 0.20, 0.10, 0.10, 0.08, 0.08),
    ),
    _GroupSpec(
        name="middle-aged women",
        share=0.22,
        ages=(30, 40, 54),
        female_share=1.0,
        bundles=(
            (
                0.50,
                {
                    "healthy eating": 0.42,
                    "organic cooking": 0.36,
                    "superfoods": 0.12,
                    "gut health": 0.10,
                },
            ),
            (0.40, {"family meals": 0.55, "weight management": 0.45}),
            (0.10, {"collagen": 0.5, "yoga": 0.5}),
        ),
        hour_bumps=((7.0, 0.8, 0.9), (12.5, 0.7, 0.75), (20.5, 1.2, 0.5)),
        weekday=(1.05, 1.05, 1.05, 1.05, 1.0, 0.9, 1.05),
        actions=(0.58, 0.16, 0.06, 0.04, 0.09, 0.05, 0.02),
        platforms=(0.35, 0.45, 0.12, 0.08),
        regions=(0.20, 0.16, 0.13, 0.11, 0.11, 0.11, 0.09, 0.09),
    ),
    _GroupSpec(
        name="middle-aged men",
        share=0.18,
        ages=(30, 42, 54),
        female_share=0.0,
        bundles=(
            (0.55, {"heart health": 0.55, "low sugar": 0.45}),
            (0.33, {"supplements": 0.55, "running": 0.25, "weight management": 0.20}),
            (0.12, {"meal prep": 0.6, "healthy eating": 0.4}),
        ),
        hour_bumps=((6.5, 0.8, 1.0), (12.5, 0.6, 0.7), (21.0, 1.0, 0.35)),
        weekday=(1.15, 1.1, 1.1, 1.1, 1.0, 0.75, 0.8),
        actions=(0.64, 0.12, 0.03, 0.03, 0.10, 0.06, 0.02),
        platforms=(0.50, 0.10, 0.15, 0.25),
        regions=(0.18, 0.20, 0.13, 0.12, 0.10, 0.09, 0.09, 0.09),
    ),
    _GroupSpec(
        name="seniors",
        share=0.16,
        ages=(55, 62, 80),
        female_share=0.55,
        bundles=(
            (0.40, {"joint health": 0.7, "supplements": 0.3}),
            (0.35, {"herbal tea": 0.5, "gardening": 0.5}),
            (0.25, {"gut health": 0.65, "heart health": 0.35}),
        ),
        hour_bumps=((9.5, 1.2, 1.0), (15.0, 1.5, 0.4), (19.0, 1.0, 0.2)),
        weekday=(1.0, 1.0, 1.0, 1.0, 1.0, 0.95, 1.0),
        actions=(0.66, 0.13, 0.07, 0.05, 0.05, 0.03, 0.01),
        platforms=(0.70, 0.15, 0.08, 0.07),
        regions=(0.14, 0.22, 0.16, 0.06, 0.15, 0.11, 0.10, 0.06),
    ),
)

# Everyone's background interest: popular topics a little more likely than niche ones.
_BACKGROUND = {
    "healthy eating": 2.0,
    "superfoods": 1.6,
    "smoothies": 1.5,
    "fitness": 1.4,
    "weight management": 1.3,
    "supplements": 1.2,
}

# Purchases follow products (powders, capsules, teas), not lifestyle topics.
_PURCHASE_LIFT = {
    "collagen": 1.8,
    "protein": 1.8,
    "sports nutrition": 1.6,
    "supplements": 1.8,
    "herbal tea": 1.6,
    "superfoods": 1.5,
    "smoothies": 1.3,
    "yoga": 0.4,
    "running": 0.4,
    "gardening": 0.3,
    "family meals": 0.6,
    "fitness": 0.6,
}

_MEAN_EXTRA_EVENTS = 35.0  # on top of the minimum of five: mean about forty events per user
_MIN_EVENTS = 5
_ACTIVITY_SHAPE = 0.8  # gamma shape < 1: most users light, a long tail of heavy ones
_BUNDLE_CONCENTRATION = 6.0
_CROSSOVER_RATE = 0.06
_PRIMARY_PLATFORM_SHARE = 0.75
_GROWTH = 0.35  # activity on the last day relative to the first, minus one


def generate_demo(
    *,
    n_users: int = 6000,
    days: int = 90,
    end: str = "2026-09-30",
    random_state: int = 7,
) -> DemoData:
    """Generate the demo events and users with five planted audience groups.

    The random draws stay in this one sequence on purpose: their order is what makes a seed give the same data.

    Parameters
    ----------
    n_users : int, default 6000
        Number of users; at least 50 so every group has members.
    days : int, default 90
        Number of calendar days covered, ending with ``end``.
    end : str, default "2026-09-30"
        Last day covered (``YYYY-MM-DD``); events run up to ``end`` 23:59:59.
    random_state : int, default 7
        Seed of the only random generator used; the same arguments give identical frames.

    Returns
    -------
    DemoData
        Events sorted by time, users sorted by ``user_id``, and the planted group of each user.
        With the defaults: 6,000 users and about 240,000 events.

    Raises
    ------
    ValueError
        If ``n_users`` or ``days`` is too small or ``end`` is not a date.
    """
    if n_users < 50:
        raise ValueError(f"n_users={n_users} must be at least 50")
    if days < 7:
        raise ValueError(f"days={days} must be at least 7")
    try:
        end_day = np.datetime64(pd.Timestamp(end).normalize().date(), "D")
    except (ValueError, TypeError) as exc:
        raise ValueError(f"end={end!r} is not a date (expected YYYY-MM-DD)") from exc

    rng = np.random.default_rng(random_state)
    n_groups = len(_SPECS)

    group_of_user = _assign_groups(n_users, rng)
    users, truth = _make_users(group_of_user, rng)

    counts = _MIN_EVENTS + rng.poisson(rng.gamma(_ACTIVITY_SHAPE, _MEAN_EXTRA_EVENTS / _ACTIVITY_SHAPE, size=n_users))
    event_user = np.repeat(np.arange(n_users), counts)
    event_group = group_of_user[event_user]
    n_events = event_user.size

    topic_probs = _user_topic_probs(group_of_user, rng)
    event_topic = _sample_rows(topic_probs.cumsum(axis=1), event_user, rng)

    action_cum = np.stack([_action_table(spec) for spec in _SPECS]).cumsum(axis=2)
    event_action = _sample_rows(action_cum[event_group, event_topic], None, rng)

    event_platform = _event_platforms(group_of_user, event_user, rng)
    timestamp = _event_times(event_user, event_group, end_day - np.timedelta64(days - 1, "D"), days, rng)
    order = np.lexsort((event_user, timestamp))
    user_ids = users["user_id"].to_numpy()
    events = pd.DataFrame(
        {
            "user_id": pd.array(user_ids[event_user[order]], dtype="str"),
            "timestamp": timestamp[order].astype("datetime64[us]"),
            "action": pd.array(np.array(ACTIONS, dtype=object)[event_action[order]], dtype="str"),
            "topic": pd.array(np.array(TOPICS, dtype=object)[event_topic[order]], dtype="str"),
            "platform": pd.array(np.array(PLATFORMS, dtype=object)[event_platform[order]], dtype="str"),
        }
    )
    logger.debug(
        "demo data: %d users in %d groups, %d events over %d days",
        n_users,
        n_groups,
        n_events,
        days,
    )
    return DemoData(events=events, users=users, truth=truth)


def _event_platforms(group_of_user: np.ndarray, event_user: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Platform of each event: mostly the user's primary platform, otherwise any of the group's."""
    event_group = group_of_user[event_user]
    platform_probs = np.array([spec.platforms for spec in _SPECS])
    primary = _sample_rows(platform_probs.cumsum(axis=1), group_of_user, rng)
    any_platform = _sample_rows(platform_probs.cumsum(axis=1), event_group, rng)
    return np.where(rng.random(event_user.size) < _PRIMARY_PLATFORM_SHARE, primary[event_user], any_platform)


def _event_times(
    event_user: np.ndarray, event_group: np.ndarray, start_day: np.datetime64, days: int, rng: np.random.Generator
) -> np.ndarray:
    """Timestamp of each event: a day (growing activity), an hour by its group's profile, unique per user."""
    day_cum = _day_table(start_day, days).cumsum(axis=1)
    event_day = _sample_rows(day_cum, event_group, rng)
    hour_cum = np.stack([_hour_profile(spec) for spec in _SPECS]).cumsum(axis=1)
    event_hour = _sample_rows(hour_cum, event_group, rng)
    second_of_day = event_hour * 3600 + rng.integers(0, 3600, size=event_user.size)
    second_of_day = _make_unique_per_user(event_user, event_day, second_of_day)
    seconds = event_day.astype(np.int64) * 86_400 + second_of_day
    return start_day.astype("datetime64[s]") + seconds.astype("timedelta64[s]")


def demo_mess_counts(demo: DemoData) -> dict[str, int]:
    """Count the messy rows :func:`write_demo_csvs` adds to the events file.

    Parameters
    ----------
    demo : DemoData
        The data that will be written.

    Returns
    -------
    dict of str to int
        ``"duplicates"``: exact copies of existing event rows, ``round(0.3 %`` of the events``)``
        (720 for 240,000 events); ``"bad_timestamps"``: extra rows copied from existing events
        but with a timestamp that cannot be parsed, ``max(1, round(0.05 %`` of the events``))``
        (120 for 240,000 events). The file holds ``len(demo.events)`` plus both counts rows.
    """
    n_events = len(demo.events)
    return {
        "duplicates": round(_DUPLICATE_RATE * n_events),
        "bad_timestamps": max(1, round(_BAD_TIMESTAMP_RATE * n_events)),
    }


def write_demo_csvs(folder: Path, demo: DemoData | None = None) -> list[Path]:
    """Write the demo data as ``demo_events.csv`` and ``demo_users.csv``.

    Both files are UTF-8 without BOM, comma-separated, with a header row; timestamps are written
    as ``YYYY-MM-DD HH:MM:SS``. The events file also carries the realistic mess counted by
    :func:`demo_mess_counts`, placed deterministically: each duplicate row sits right after the
    row it copies (as an export that pages twice over the same rows would have it), and each
    bad-timestamp row is a copy of a random event with its timestamp replaced by one of
    ``"2026-02-30 10:00:00"``, ``"not a date"``, ``"2026-13-01 08:15:00"``,
    ``"2026-09-31 18:45:00"``, ``"2026-06-15 25:10:00"`` or ``"#VALUE!"``, inserted at a random
    position. Dropping exact duplicates and rows with unparseable timestamps gives back
    ``demo.events`` exactly. The users file is clean; the planted groups are not written.

    Parameters
    ----------
    folder : pathlib.Path
        Destination folder; created if missing. Existing files of the same name are replaced.
    demo : DemoData, optional
        The data to write; by default ``generate_demo()`` with its defaults.

    Returns
    -------
    list of pathlib.Path
        ``[events_path, users_path]``.
    """
    if demo is None:
        demo = generate_demo()
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)

    events_path = folder / "demo_events.csv"
    users_path = folder / "demo_users.csv"
    _messy_events(demo).to_csv(events_path, index=False, encoding="utf-8", lineterminator="\n")
    demo.users.to_csv(users_path, index=False, encoding="utf-8", lineterminator="\n")
    logger.info("wrote demo data to %s and %s", events_path, users_path)
    return [events_path, users_path]


def _assign_groups(n_users: int, rng: np.random.Generator) -> np.ndarray:
    """Group index per user: exact shares by largest remainder, in random order."""
    shares = np.array([spec.share for spec in _SPECS])
    raw = shares / shares.sum() * n_users
    sizes = np.floor(raw).astype(np.int64)
    sizes[np.argsort(-(raw - sizes), kind="stable")[: n_users - sizes.sum()]] += 1
    return rng.permutation(np.repeat(np.arange(len(_SPECS)), sizes))


def _make_users(group_of_user: np.ndarray, rng: np.random.Generator) -> tuple[pd.DataFrame, pd.Series]:
    """The user table and the planted-group series for the given group assignment."""
    n_users = group_of_user.size
    low, mode, high = (np.array([spec.ages[i] for spec in _SPECS])[group_of_user] for i in range(3))
    age = np.floor(rng.triangular(low, mode + 0.5, high + 1.0)).astype(np.int64)
    age = np.clip(age, low, high)

    female_share = np.array([spec.female_share for spec in _SPECS])[group_of_user]
    gender = np.where(rng.random(n_users) < female_share, "female", "male")

    region_cum = np.array([spec.regions for spec in _SPECS]).cumsum(axis=1)
    region = np.array(REGIONS, dtype=object)[_sample_rows(region_cum, group_of_user, rng)]

    width = max(5, len(str(n_users)))
    user_id = np.array([f"u{i:0{width}d}" for i in range(1, n_users + 1)], dtype=object)
    users = pd.DataFrame(
        {
            "user_id": pd.array(user_id, dtype="str"),
            "age": age,
            "gender": pd.array(gender.astype(object), dtype="str"),
            "region": pd.array(region, dtype="str"),
        }
    )
    truth = pd.Series(
        pd.array(np.array(GROUPS, dtype=object)[group_of_user], dtype="str"),
        index=pd.Index(users["user_id"], name="user_id"),
        name="group",
    )
    return users, truth


def _topic_vector(weights: dict[str, float]) -> np.ndarray:
    """A normalised topic weight vector from a ``{topic: weight}`` mapping."""
    vector = np.zeros(len(TOPICS))
    for topic, weight in weights.items():
        vector[TOPICS.index(topic)] += weight
    return vector / vector.sum()


def _group_profile(spec: _GroupSpec) -> np.ndarray:
    """The group's mean topic distribution before noise."""
    return sum(weight * _topic_vector(topics) for weight, topics in spec.bundles)


def _user_topic_probs(group_of_user: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Per-user topic distribution: own bundles, a borrowed interest, background noise."""
    n_users = group_of_user.size
    n_groups = len(_SPECS)
    probs = np.zeros((n_users, len(TOPICS)))
    for g, spec in enumerate(_SPECS):
        members = np.flatnonzero(group_of_user == g)
        bundle_weights = np.array([weight for weight, _ in spec.bundles])
        bundle_topics = np.stack([_topic_vector(topics) for _, topics in spec.bundles])
        mix = rng.dirichlet(_BUNDLE_CONCENTRATION * bundle_weights, size=members.size)
        probs[members] = mix @ bundle_topics

    # A minority also follows another group's interests (a young man into skincare ...).
    profiles = np.stack([_group_profile(spec) for spec in _SPECS])
    crossover = rng.random(n_users) < _CROSSOVER_RATE
    other = (group_of_user + rng.integers(1, n_groups, size=n_users)) % n_groups
    borrowed = np.where(crossover, rng.uniform(0.15, 0.4, size=n_users), 0.0)
    probs = (1.0 - borrowed[:, None]) * probs + borrowed[:, None] * profiles[other]

    background = _topic_vector({topic: _BACKGROUND.get(topic, 1.0) for topic in TOPICS})
    noise = rng.beta(2.0, 12.0, size=n_users)
    return (1.0 - noise[:, None]) * probs + noise[:, None] * background


def _action_table(spec: _GroupSpec) -> np.ndarray:
    """Action probabilities per topic for one group (purchases lifted on product topics)."""
    table = np.tile(np.array(spec.actions, dtype=float), (len(TOPICS), 1))
    purchase = ACTIONS.index("purchase")
    lift = np.array([_PURCHASE_LIFT.get(topic, 1.0) for topic in TOPICS])
    table[:, purchase] *= lift
    return table / table.sum(axis=1, keepdims=True)


def _hour_profile(spec: _GroupSpec) -> np.ndarray:
    """Probability of each hour of the day from the group's circular Gaussian bumps."""
    hours = np.arange(24) + 0.5
    weights = np.full(24, 0.02)
    for centre, width, weight in spec.hour_bumps:
        distance = np.abs(hours - centre)
        distance = np.minimum(distance, 24.0 - distance)
        weights += weight * np.exp(-0.5 * (distance / width) ** 2)
    return weights / weights.sum()


def _day_table(start_day: np.datetime64, days: int) -> np.ndarray:
    """Probability of each day per group: weekday habit times a steady growth trend."""
    weekday = (start_day.astype(np.int64) + 3 + np.arange(days)) % 7  # 1970-01-01 was a Thursday
    growth = 1.0 + _GROWTH * np.arange(days) / (days - 1)
    table = np.array([np.asarray(spec.weekday)[weekday] * growth for spec in _SPECS])
    return table / table.sum(axis=1, keepdims=True)


def _sample_rows(cumulative: np.ndarray, rows: np.ndarray | None, rng: np.random.Generator) -> np.ndarray:
    """Draw one category per row of ``cumulative[rows]`` (cumulative probabilities)."""
    table = cumulative if rows is None else cumulative[rows]
    draws = rng.random(table.shape[0]) * table[:, -1]
    choice = (draws[:, None] >= table).sum(axis=1)
    return np.minimum(choice, table.shape[1] - 1)


def _make_unique_per_user(event_user: np.ndarray, event_day: np.ndarray, second_of_day: np.ndarray) -> np.ndarray:
    """Nudge clashing seconds so no user has two events at the same moment."""
    second_of_day = second_of_day.copy()
    n_days = int(event_day.max()) + 1
    while True:
        key = (event_user.astype(np.int64) * n_days + event_day) * 86_400 + second_of_day
        order = np.argsort(key, kind="stable")
        clash = np.zeros(key.size, dtype=bool)
        clash[order[1:]] = key[order[1:]] == key[order[:-1]]
        if not clash.any():
            return second_of_day
        second_of_day[clash] = (second_of_day[clash] + 1) % 86_400


def _messy_events(demo: DemoData) -> pd.DataFrame:
    """The events as written: timestamps as text plus planted duplicates and bad rows."""
    events = demo.events
    n_events = len(events)
    counts = demo_mess_counts(demo)
    rng = np.random.default_rng([_MESS_SEED, n_events])

    stamps = np.datetime_as_string(events["timestamp"].to_numpy().astype("datetime64[s]"))
    text = events.assign(timestamp=pd.array(np.char.replace(stamps, "T", " "), dtype="str"))

    duplicate_of = np.sort(rng.choice(n_events, size=counts["duplicates"], replace=False))
    bad_of = rng.choice(n_events, size=counts["bad_timestamps"], replace=False)
    bad_rows = text.iloc[bad_of].copy()
    bad_rows["timestamp"] = [_BAD_TIMESTAMPS[i % len(_BAD_TIMESTAMPS)] for i in range(len(bad_rows))]

    # Sort keys place each duplicate right after its original, bad rows anywhere.
    position = np.concatenate(
        [
            np.arange(n_events, dtype=float),
            duplicate_of + 0.5,
            rng.integers(0, n_events, size=len(bad_rows)) + 0.25,
        ]
    )
    combined = pd.concat([text, text.iloc[duplicate_of], bad_rows], ignore_index=True)
    return combined.iloc[np.argsort(position, kind="stable")].reset_index(drop=True)


def install_demo(
    workspace: Workspace, *, random_state: int = 7, with_history: bool | None = None, segmented: bool | None = None
) -> int:
    """Import the demo into ``workspace`` through the normal intake; return its dataset id.

    The demo goes through the same path as an upload (CSV files, detection, validation), so its
    validation report shows the planted mess being caught. The Inbox gets a few demo mentions
    (authors ``demo_…``; replies to them go to the dry run). ``with_history`` (default: true unless
    ``REACH_DEMO_HISTORY=0``) adds a few weeks of published dry-run posts (:func:`seed_demo_history`).
    ``segmented`` (default: as ``with_history``) segments the demo as the Segments page would
    (automatic k, seeded) and stores the run, so every page shows the same segments from the first
    start and the history is labelled with their names.
    """
    if with_history is None:
        with_history = os.environ.get("REACH_DEMO_HISTORY", "1") != "0"
    if segmented is None:
        segmented = with_history
    demo = generate_demo(random_state=random_state)
    folder = workspace.new_tmp_dir("demo-")
    try:
        paths = write_demo_csvs(folder, demo)
        report = ingest(workspace, paths, name="Demo · health-food shop", is_demo=True)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    names = _segment_demo(workspace, report.dataset_id, demo) if segmented else None
    # a new user has no X keys, so nobody can mention them yet: a few demo mentions fill the Inbox
    seed_demo_mentions(workspace)
    if with_history:  # Results, its heatmap and its recommendation have something to show on the first start
        seed_demo_history(workspace, names=names)
    # the writer is ready when the demo opens: no page waits on training
    install_demo_model(workspace)
    logger.info("demo installed as dataset %d", report.dataset_id)
    return report.dataset_id


def _segment_demo(workspace: Workspace, dataset_id: int, demo: DemoData) -> dict[str, str]:
    """Segment the demo dataset (automatic k, seeded) and store the run; return each group's segment name.

    A group's segment is the one most of its planted members fall in.
    """
    report = run_segments(workspace, dataset_id)
    save_run(workspace, report)
    members = report.assignments().set_index("user_id")["segment"]
    group = demo.truth.reindex(members.index)
    names = {p.id: p.name for p in report.profiles}
    return {g: names[int(members[group == g].mode().iloc[0])] for g in GROUPS if (group == g).any()}


def seed_demo_history(
    workspace: Workspace, *, now: datetime | None = None, names: Mapping[str, str] | None = None
) -> list[int]:
    """Give the demo a few weeks of published dry-run posts with simulated metrics; return their ids.

    Each demo group gets ``_HISTORY_PER_WEEK`` posts a week for ``_HISTORY_WEEKS`` weeks before
    ``now``, taken from the operator's own demo posts for that group, following one of three
    starter templates, published on the dry run at the group's usual hour in Shanghai. Metrics are
    simulated (stored with source ``simulated``, as every dry-run post's are) at a few points after
    each post went out, so Results has a time series. Posts are labelled with the name ``names``
    gives the group they were written for (the demo's segment names), else with the group itself.
    """
    now = (now or clock.now()).replace(microsecond=0)
    tz = ZoneInfo(DEMO_TIMEZONE)
    posts = pd.read_csv(DEMO_POSTS, encoding="utf-8")
    rows = []
    for g, group in enumerate(GROUPS):
        texts = posts.loc[posts["segment"] == group, "text"].tolist()
        for n in range(_HISTORY_WEEKS * _HISTORY_PER_WEEK):
            day = (now.astimezone(tz) - timedelta(days=2 + n * 7 // _HISTORY_PER_WEEK + g % 2)).date()
            local = datetime(day.year, day.month, day.day, _HISTORY_HOURS[group], 0, tzinfo=tz)
            template = _HISTORY_TEMPLATES[(n + g) % len(_HISTORY_TEMPLATES)]
            label = (names or {}).get(group, group)
            rows.append((texts[(n * 7) % len(texts)], label, template, clock.iso(local)))
    rows.sort(key=lambda row: row[3])
    ids = []
    with workspace.connect() as con:
        for number, (text, group, template, published) in enumerate(rows, start=1):
            remote_id = f"dry-demo{number:04d}"
            cursor = con.execute(
                "INSERT INTO outbox (text, channel, segment, template, state, scheduled_at, created_at, updated_at, "
                "approved_at, published_at, attempts, remote_id) VALUES (?, 'dry-run', ?, ?, 'published', ?, ?, ?, ?, "
                "?, 1, ?)",
                (text, group, template, published, published, published, published, published, remote_id),
            )
            con.execute(
                "INSERT INTO dry_run_posts (remote_id, text, created_at) VALUES (?, ?, ?)", (remote_id, text, published)
            )
            ids.append(cursor.lastrowid)
            con.executemany(
                "INSERT INTO post_metrics (post_id, remote_id, fetched_at, likes, reposts, replies, quotes, "
                "bookmarks, impressions, source) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                _simulated_points(cursor.lastrowid, remote_id, group, template, published, now),
            )
        workspace.audit("demo.history", {"posts": len(ids)}, con=con)
    return ids


def _simulated_points(
    post_id: int, remote_id: str, segment: str, template: str, published: str, now: datetime
) -> list[tuple]:
    """Simulated metrics of one demo post two hours, one day and three days after it went out, and now."""
    start = datetime.fromisoformat(published)
    moments = sorted({min(now, start + timedelta(hours=h)) for h in (2, 24, 72)} | {now})
    local_hour = start.astimezone(ZoneInfo(DEMO_TIMEZONE)).hour
    points = []
    for moment in moments:
        m = simulated_metrics(
            post_id, segment=segment, template=template, published_at=start, now=moment, local_hour=local_hour
        )
        counts = (m[name] for name in ("likes", "reposts", "replies", "quotes", "bookmarks", "impressions"))
        points.append((post_id, remote_id, clock.iso(moment), *counts, SOURCE_SIMULATED))
    return points


def install_demo_model(workspace: Workspace) -> str | None:
    """Copy the demo's trained writer into ``workspace``; return its model id (None if not shipped)."""
    meta = DEMO_MODEL_DIR / META_FILE
    if not meta.exists():
        return None
    model_id = json.loads(meta.read_text(encoding="utf-8"))["model_id"]
    target = models_dir(workspace) / model_id
    if not target.exists():
        shutil.copytree(DEMO_MODEL_DIR, target)
    return model_id


def open_workspace(
    home: Path | str | None = None, *, with_demo: bool | None = None, with_history: bool | None = None
) -> Workspace:
    """Open the workspace at ``home`` as the app and the CLI do, importing the demo on first start.

    ``with_demo`` defaults to true unless ``REACH_DEMO=0`` is set. The demo is installed once, and
    only into a workspace that has never held a dataset: deleting it later does not bring it back,
    and a workspace started without it never gets it imported over the operator's own data.
    ``with_history`` is passed to :func:`install_demo`.
    """
    ws = open_folder(home)
    if with_demo is None:
        with_demo = os.environ.get("REACH_DEMO", "1") != "0"
    if ws.get_setting("demo_installed") is None:
        # Under the workspace lock: of several processes starting at once, one imports the demo.
        with ws.lock():
            if ws.get_setting("demo_installed") is None:
                never_used = ws.get_setting("last_dataset_id") is None and not ws.datasets()
                if with_demo and never_used:
                    install_demo(ws, with_history=with_history)
                    ws.set_setting("demo_installed", utc_now())
                elif not never_used:
                    ws.set_setting("demo_installed", "skipped")
    return ws
