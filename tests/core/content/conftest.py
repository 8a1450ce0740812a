"""Fixtures shared by the content tests: a tiny corpus, and a tiny model trained on it once."""

from __future__ import annotations

import pytest

from core.content.corpus import Corpus
from core.content.registry import TrainConfig
from core.content.train import train_model
from core.demo import open_workspace

FRUITS = ["mango", "kiwi", "berry", "apple", "peach", "lemon", "grape", "melon"]
TINY = TrainConfig(units=16, embedding=8, epochs=3, batch_size=8, learning_rate=1e-2, seed=3)


def tiny_corpus() -> Corpus:
    texts, segments, topics = [], [], []
    for i in range(48):
        fruit = FRUITS[i % len(FRUITS)]
        if i % 2:
            texts.append(f"Try our {fruit} smoothie with oats today, post {i}! #smoothies")
            segments.append("young women")
            topics.append("smoothies")
        else:
            texts.append(f"Lift, then eat {fruit} and protein, day {i}. #fitness")
            segments.append("young men")
            topics.append("protein")
    return Corpus(texts, segments, topics, name="tiny")


# Package scope: the model trains once for all the content test modules that use it (as it did
# when they were one module).
@pytest.fixture(scope="package")
def trained(tmp_path_factory):
    ws = open_workspace(tmp_path_factory.mktemp("content") / "ws", with_demo=False)
    messages = []
    lm = train_model(tiny_corpus(), ws, config=TINY, progress=lambda f, m: messages.append((f, m)))
    return ws, lm, messages
