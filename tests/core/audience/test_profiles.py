"""Segment profiles: the public audience phrase beside the internal name, and the operator's own."""

from __future__ import annotations

import pytest

from core.audience.profiles import audience_phrase, save_public_phrase, segment_profiles
from core.workspace import Workspace


def test_the_generated_phrase_speaks_of_interests_not_of_the_segment() -> None:
    assert audience_phrase(["yoga", "smoothies", "collagen"]) == "people into yoga and smoothies"
    assert audience_phrase(["瑜伽", "护肤"]) == "喜欢瑜伽和护肤的朋友"
    assert audience_phrase([]) == "everyone"


def test_the_operators_phrase_wins_and_empty_restores_the_generated_one(workspace: Workspace) -> None:
    # without a segmentation the demo's five groups stand in (ids 1 to 5)
    first = segment_profiles(workspace)[0]
    assert first.audience == audience_phrase(first.interests) and first.name not in first.audience
    save_public_phrase(workspace, workspace.active_dataset_id(), first.id, "  glow   getters ")
    assert segment_profiles(workspace)[0].audience == "glow getters"
    save_public_phrase(workspace, workspace.active_dataset_id(), first.id, "")
    assert segment_profiles(workspace)[0].audience == audience_phrase(first.interests)
    with pytest.raises(ValueError, match="at most 80 fit in a post"):
        save_public_phrase(workspace, workspace.active_dataset_id(), first.id, "x" * 81)
