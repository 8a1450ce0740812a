"""The demo audience's five groups and their topics (the seed case: a health-food shop).

:mod:`core.demo` plants these groups in its data; the audience step falls back on them for
segment profiles before any segmentation has run.
"""

from __future__ import annotations

__all__ = ["ACTIONS", "GROUPS", "PLATFORMS", "REGIONS", "SIGNATURE_TOPICS", "TOPICS"]

GROUPS: tuple[str, ...] = (
    "young women",
    "young men",
    "middle-aged women",
    "middle-aged men",
    "seniors",
)

TOPICS: tuple[str, ...] = (
    "skincare & beauty",
    "collagen",
    "yoga",
    "smoothies",
    "plant-based",
    "fitness",
    "protein",
    "sports nutrition",
    "meal prep",
    "running",
    "healthy eating",
    "organic cooking",
    "family meals",
    "weight management",
    "superfoods",
    "heart health",
    "low sugar",
    "supplements",
    "joint health",
    "herbal tea",
    "gut health",
    "gardening",
)

ACTIONS: tuple[str, ...] = ("view", "like", "comment", "share", "click", "purchase", "follow")

PLATFORMS: tuple[str, ...] = ("weibo", "xiaohongshu", "instagram", "x")

REGIONS: tuple[str, ...] = (
    "Shanghai",
    "Beijing",
    "Guangzhou",
    "Shenzhen",
    "Chengdu",
    "Hangzhou",
    "Hong Kong",
    "Singapore",
)

#: Each group's planted signature topics: together they carry most of the group's events and
#: they are the group's most frequent topics, in no particular order.
SIGNATURE_TOPICS: dict[str, tuple[str, ...]] = {
    "young women": ("skincare & beauty", "collagen", "yoga", "smoothies"),
    "young men": ("fitness", "protein", "sports nutrition"),
    "middle-aged women": ("healthy eating", "organic cooking", "family meals", "weight management"),
    "middle-aged men": ("heart health", "low sugar", "supplements"),
    "seniors": ("joint health", "herbal tea", "gardening", "gut health"),
}
