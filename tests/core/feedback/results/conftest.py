"""What the results tests share: a distinct post text for each number."""

from __future__ import annotations

import random

WORDS = [
    "oats",
    "chia",
    "kale",
    "tofu",
    "matcha",
    "berries",
    "almonds",
    "quinoa",
    "lentils",
    "yogurt",
    "kefir",
    "miso",
    "ginger",
    "turmeric",
    "walnuts",
    "spinach",
    "avocado",
    "salmon",
    "barley",
    "rye",
    "buckwheat",
    "sesame",
    "mango",
    "papaya",
    "cacao",
    "dates",
    "figs",
]


def post_text(i: int) -> str:
    """A post text of its own for each ``i``: the number and nine healthy foods."""
    return f"{i}: " + " ".join(random.Random(i).sample(WORDS, 9))
