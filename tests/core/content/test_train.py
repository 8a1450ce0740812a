"""Training: a tiny LSTM trains and its loss falls, cancelling saves nothing, the mixture weight is tuned."""

from __future__ import annotations

import math
from itertools import pairwise

import numpy as np
import pytest

from core.content.registry import TrainingCancelledError, list_models, newest_model_id
from core.content.train import train_model, tune_mixture
from core.demo import open_workspace
from tests.core.content.conftest import TINY, tiny_corpus


def test_a_tiny_model_trains_and_its_validation_loss_falls(trained) -> None:
    ws, lm, messages = trained
    history = [h["val_bits"] for h in lm.info.history]
    assert len(history) == 3 and history[-1] < history[0]
    assert lm.info.lstm_bits_per_char == pytest.approx(min(history))
    # The reported model is the validated mixture: never worse than the LSTM alone or the n-gram.
    assert lm.info.val_bits_per_char <= lm.info.lstm_bits_per_char + 1e-9
    assert lm.info.val_bits_per_char <= lm.info.baseline_bits_per_char + 1e-9
    assert 0.0 <= lm.info.mix_weight < 1.0 and lm.info.mix_order in range(3, 10) and lm.mixes
    assert messages[0] == (0.0, "Preparing the corpus…") and messages[-1][0] == 1.0
    assert all(b >= a for (a, _), (b, _) in pairwise(messages))
    assert newest_model_id(ws) == lm.model_id
    assert [m.model_id for m in list_models(ws)] == [lm.model_id]
    assert set(lm.info.baseline_by_order) == {str(k) for k in range(3, 10)}
    assert lm.info.segment_topics == {"young men": ["protein"], "young women": ["smoothies"]}


def test_cancelling_saves_nothing(tmp_path) -> None:
    ws = open_workspace(tmp_path / "ws", with_demo=False)
    with pytest.raises(TrainingCancelledError):
        train_model(tiny_corpus(), ws, config=TINY, should_stop=lambda: True)
    assert list_models(ws) == []
    assert not any((ws.home / "tmp").iterdir())


def test_the_mixture_weight_is_the_one_that_fits_validation_best() -> None:
    # Half the validation symbols favour the LSTM, half the n-gram of order 5: the best weight is
    # where the two pull equally, and an order that only hurts is not chosen.
    lstm = np.array([0.8, 0.8, 0.1, 0.1])
    ngram = {3: np.full(4, 0.01), 5: np.array([0.1, 0.1, 0.8, 0.8])}
    weight, order, total = tune_mixture(lstm, ngram)
    assert (weight, order) == (0.5, 5)
    assert total == pytest.approx(-4 * math.log2(0.45))
    # Validation symbols the n-gram never helps with leave the LSTM alone.
    assert tune_mixture(np.full(3, 0.5), {4: np.full(3, 0.1)})[:2] == (1.0, 0)
