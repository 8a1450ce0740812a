"""Saved writer models: the model card, training settings, and the folder of each model."""

from __future__ import annotations

import json
import logging
import shutil
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from core.workspace import Workspace

log = logging.getLogger(__name__)

META_FILE = "meta.json"
#: Below this many posts training uses a smaller LSTM and small batches (:meth:`TrainConfig.for_corpus`).
SMALL_CORPUS = 2_000


class ContentError(ValueError):
    """A content problem the operator can act on: unknown model, too few posts, bad settings."""


class TrainingCancelledError(ContentError):
    """Training stopped because the operator cancelled it; nothing was saved."""


@dataclass(frozen=True)
class TrainConfig:
    """Training settings; the defaults are the Studio page's and the CLI's.

    ``max_seconds`` bounds the wall time: training stops after the batch that passes it and keeps
    the best weights seen so far. ``None`` scales it with the corpus (:meth:`time_budget`): about a
    minute for the demo's few hundred posts, 200 s for 4,000 or more. The learning rate decays by
    ``lr_decay`` every epoch.

    ``units``, ``batch_size`` and ``learning_rate`` left at ``None`` follow the corpus
    (:meth:`for_corpus`): a small corpus gets a smaller LSTM and small batches, so its minute
    holds many more updates (on the demo's 335 posts, 128 units in batches of 8 reach 3.4
    bits/char alone where 256 units in batches of 64 reach 4.0).
    """

    units: int | None = None
    layers: int = 1
    embedding: int = 48
    seq_len: int = 160
    batch_size: int | None = None
    epochs: int = 30
    patience: int = 2
    learning_rate: float | None = None
    lr_decay: float = 0.9
    val_fraction: float = 0.1
    control_dropout: float = 0.15
    max_seconds: float | None = None
    seed: int = 0

    def __post_init__(self) -> None:
        for name in ("units", "layers", "embedding", "seq_len", "batch_size", "epochs"):
            if getattr(self, name) is not None and getattr(self, name) < 1:
                raise ContentError(f"{name}={getattr(self, name)} must be at least 1")
        if self.layers > 3:
            raise ContentError(f"layers={self.layers} must be at most 3")
        if self.learning_rate is not None and not 0 < self.learning_rate < 1:
            raise ContentError(f"learning_rate={self.learning_rate} must be between 0 and 1")
        if not 0.0 < self.lr_decay <= 1.0:
            raise ContentError(f"lr_decay={self.lr_decay} must be in (0, 1]")
        if self.max_seconds is not None and self.max_seconds <= 0:
            raise ContentError(f"max_seconds={self.max_seconds} must be positive")
        if not 0.0 <= self.control_dropout < 1.0:
            raise ContentError(f"control_dropout={self.control_dropout} must be in [0, 1)")

    def for_corpus(self, n_posts: int) -> TrainConfig:
        """These settings with ``units``, ``batch_size`` and ``learning_rate`` chosen for ``n_posts``
        where they were left at ``None``: 128 units, batches of 8 and 1e-2 below
        :data:`SMALL_CORPUS` posts; 256 units, batches of 64 and 6e-3 from there."""
        small = n_posts < SMALL_CORPUS
        return replace(
            self,
            units=self.units or (128 if small else 256),
            batch_size=self.batch_size or (8 if small else 64),
            learning_rate=self.learning_rate or (1e-2 if small else 6e-3),
        )

    def time_budget(self, n_posts: int) -> float:
        """Training seconds for a corpus of ``n_posts``: ``max_seconds``, or 45 s + 50 ms a post, at most 200 s
        (so that, with the n-grams fitted and tuned after it, 10,000 posts train in under five minutes)."""
        if self.max_seconds is not None:
            return self.max_seconds
        return min(200.0, 45.0 + 0.05 * n_posts)


@dataclass(frozen=True)
class ModelInfo:
    """The model card of a saved model (``meta.json``)."""

    model_id: str
    created_at: str
    corpus: str
    n_posts: int
    n_train: int
    n_val: int
    val_bits_per_char: float
    baseline_bits_per_char: float
    baseline_order: int
    baseline_by_order: dict[str, float]
    seconds: float
    epochs_run: int
    stopped: str
    history: list[dict]
    config: dict
    segments: list[str]
    topics: list[str]
    urls: list[str]
    mentions: list[str]
    segment_topics: dict[str, list[str]] = field(default_factory=dict)
    pass_rate: float | None = None
    near_copy_rate: float | None = None
    samples: list[str] = field(default_factory=list)
    #: Held-out bits/char of the LSTM alone (``val_bits_per_char`` is the mixture's).
    lstm_bits_per_char: float | None = None
    #: The LSTM's weight in its mixture with the n-gram (1: the LSTM alone), tuned on validation posts.
    mix_weight: float = 1.0
    #: Order of the Kneser-Ney n-gram in the mixture (0: none).
    mix_order: int = 0
    #: Weights in the mixture of the n-grams of the post's own segment and own topic (fitted on
    #: the training posts with that label); the whole corpus's n-gram has ``1 - mix_weight -
    #: segment_weight - topic_weight``.
    segment_weight: float = 0.0
    topic_weight: float = 0.0

    def as_json(self) -> dict:
        return asdict(self)

    @property
    def summary(self) -> str:
        """One line for Home and lists: "<id> · 1.92 bits/char (n-gram 2.10)"."""
        return (
            f"{self.model_id} · {self.val_bits_per_char:.2f} bits/char "
            f"(n-gram {self.baseline_bits_per_char:.2f}) · {self.n_posts:,} posts"
        )


# ---------------------------------------------------------------------------------------------
# Registry
# ---------------------------------------------------------------------------------------------


def models_dir(ws: Workspace) -> Path:
    """Folder of the saved models."""
    return ws.home / "models"


def list_models(ws: Workspace) -> list[ModelInfo]:
    """Saved models, newest first (reads only the small ``meta.json`` files)."""
    out = []
    folder = models_dir(ws)
    if not folder.exists():
        return []
    for meta in folder.glob(f"*/{META_FILE}"):
        try:
            out.append(ModelInfo(**json.loads(meta.read_text(encoding="utf-8"))))
        except (OSError, ValueError, TypeError) as exc:
            log.warning("skipping unreadable model card %s: %s", meta, exc)
    return sorted(out, key=lambda m: (m.created_at, m.model_id), reverse=True)


def newest_model_id(ws: Workspace) -> str | None:
    """Id of the newest saved model, if any."""
    models = list_models(ws)
    return models[0].model_id if models else None


def model_path(ws: Workspace, model_id: str | None) -> Path:
    if model_id is None:
        model_id = newest_model_id(ws)
        if model_id is None:
            raise ContentError("no model yet: train one in the Studio or with `python -m core train --corpus PATH`")
    path = models_dir(ws) / str(model_id)
    if "/" in str(model_id) or ".." in str(model_id) or not (path / META_FILE).exists():
        known = ", ".join(m.model_id for m in list_models(ws)) or "none"
        raise ContentError(f"model {model_id!r} does not exist (models: {known})")
    return path


def delete_model(ws: Workspace, model_id: str) -> None:
    """Remove a saved model."""
    path = model_path(ws, model_id)
    shutil.rmtree(path)
