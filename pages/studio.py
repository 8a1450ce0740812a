"""Step 3 · Studio: train the writer on your own posts, write drafts per segment, check and save them."""

from __future__ import annotations

import streamlit as st

from core.content.checks import load_banned_words
from core.content.compose import compose_for_segment
from core.content.registry import ContentError, TrainConfig, list_models
from core.content.sampling import DEFAULT_TEMPERATURE
from core.content.templates import TemplateError, list_templates, load_brand, render_template, template_context
from ui import state
from ui.outside_text import md
from ui.resources import cached_profiles, workspace
from ui.studio_views import (
    cached_model,
    checks_and_brand,
    corpus_picker,
    draft_editor,
    model_card,
    models_table,
    newest_info,
    template_drafts,
    template_editor,
    train_with_progress,
    training_estimate,
)


def _advance_seed() -> None:
    """Before a write: keep the seed it uses, and move the box on so the next write gives new drafts."""
    seed = int(state.get("studio_seed"))
    state.put("studio_seed_used", seed)
    state.put("studio_seed", (seed + 1) % 10_001)


ws = workspace()
st.title("Studio")
st.caption(
    "Step 3 of 6 · A writer that learns your voice from your own posts, drafts for each segment, "
    "and checks every draft against X's rules before you save it."
)
state.show_notice("studio_notice")

info = newest_info(ws)
lm = cached_model(ws, info) if info else None
profiles = cached_profiles(ws, with_angles=True)
brand = load_brand(ws)
banned = load_banned_words(ws)
drafts_tab, model_tab, templates_tab, settings_tab = st.tabs(["Drafts", "Model", "Templates", "Checks & brand"])

with drafts_tab:
    names = {p.id: f"{p.name} ({', '.join(p.interests[:3])})" for p in profiles}
    left, right = st.columns([2, 1])
    seg_id = left.selectbox("Segment", list(names), format_func=names.get, key="studio_segment")
    profile = next(p for p in profiles if p.id == seg_id)
    source = right.segmented_control("Write with", ["Writer", "Template"], default="Writer", key="studio_source")
    if source == "Template":
        templates = {t.name: t for t in list_templates(ws)}
        name = st.selectbox("Template", list(templates), key="studio_template_pick")
        go = st.button("Fill in", type="primary", key="studio_fill")
        if go:
            try:
                texts = [
                    render_template(templates[name].body, template_context(profile, angle_index=i, **brand))
                    for i in range(max(1, min(3, len(profile.angles))))
                ]
            except TemplateError as exc:
                st.error(md(exc))
                texts = []
            state.put(
                "studio_drafts",
                {
                    f"t{i}": {"text": t, "segment": profile.name, "template": name}
                    for i, t in enumerate(dict.fromkeys(texts))
                },
            )
            state.put("studio_draft_round", state.get("studio_draft_round") + 1)
    elif lm is None:
        st.info("No writer yet: train one on the **Model** tab (the demo posts take about a minute).")
    else:
        c1, c2, c3 = st.columns(3)
        n = c1.slider("Drafts", 1, 10, 5, key="studio_n")
        temperature = c2.slider(
            "Temperature",
            0.3,
            1.5,
            DEFAULT_TEMPERATURE,
            0.05,
            key="studio_temperature",
            help="Lower: safer, closer to your usual posts. Higher: more surprising.",
        )
        c3.number_input(
            "Seed",
            0,
            10_000,
            key="studio_seed",
            help="Moves on after each write, so writing again gives new drafts. The same seed "
            "and settings give the same drafts again.",
        )
        opening = st.text_input("Start with (optional)", key="studio_opening", placeholder="e.g. Sunday reset:")
        if st.button(
            "Write drafts", type="primary", key="studio_generate", icon=":material/edit_note:", on_click=_advance_seed
        ):
            try:
                result = compose_for_segment(
                    lm,
                    profile.name,
                    profile.interests,
                    n=n,
                    seed=state.get("studio_seed_used"),
                    temperature=temperature,
                    opening=opening,
                    link=brand["link"] or None,
                    banned_words=banned,
                    internal_names=[p.name for p in profiles],
                    # writing again gives new drafts, not the ones on the page
                    exclude=[d["text"] for d in state.get("studio_drafts").values()],
                )
            except ContentError as exc:
                st.error(md(exc))
            else:
                drafts = {
                    f"d{i}": {"text": d.text, "segment": profile.name, "seed": state.get("studio_seed_used")}
                    for i, d in enumerate(result.drafts)
                }
                if result.message:
                    st.warning(result.message)
                if not drafts:  # nothing of yours on these interests: the templates speak for this segment
                    drafts = template_drafts(ws, profile, brand, banned, n, [p.name for p in profiles])
                    st.info("Here are posts from your templates for this segment instead.")
                state.put("studio_drafts", drafts)
                state.put("studio_draft_round", state.get("studio_draft_round") + 1)
    drafts = state.get("studio_drafts")
    if drafts:
        seed = next(iter(drafts.values())).get("seed")  # none for drafts filled in from a template
        st.caption(
            ("" if seed is None else f"Written with seed {seed}. ")
            + "Edit a draft and press Ctrl+Enter (or click outside) to re-check it. Save puts it in the outbox."
        )
    for draft_id, draft in list(drafts.items()):
        draft_editor(ws, draft_id, draft, lm, banned, profile.hashtags, [p.name for p in profiles])

with model_tab:
    corpus = corpus_picker(ws)
    with st.expander("Training settings"):
        c1, c2, c3 = st.columns(3)
        # The default follows the corpus: a small one trains a smaller LSTM in more, smaller batches.
        default_units = TrainConfig().for_corpus(len(corpus) if corpus is not None else 0).units
        units = c1.select_slider("LSTM units", [16, 64, 128, 256, 384, 512], value=default_units, key="studio_units")
        epochs = c2.number_input(
            "Most epochs",
            1,
            100,
            TrainConfig.epochs,
            key="studio_epochs",
            help="Training stops earlier when the held-out posts stop improving.",
        )
        train_seed = c3.number_input("Seed", 0, 10_000, TrainConfig.seed, key="studio_train_seed")
    if corpus is not None:
        st.caption(training_estimate(len(corpus)))
    if st.button(
        "Train", type="primary", key="studio_train", disabled=corpus is None, icon=":material/model_training:"
    ):
        card = train_with_progress(ws, corpus, TrainConfig(units=units, epochs=int(epochs), seed=int(train_seed)))
        if card is not None:
            state.put("studio_model", card.model_id)
            state.notify(
                "studio_notice",
                "success",
                f"Model {card.model_id} trained: {card.val_bits_per_char:.3f} "
                f"bits/char (n-gram {card.baseline_bits_per_char:.3f}).",
            )
            st.rerun()
    models = list_models(ws)
    if models:
        ids = [m.model_id for m in models]
        if state.get("studio_model") not in ids:  # nothing chosen yet (or it was deleted): the one in use
            state.put("studio_model", info.model_id)
        st.selectbox("Model used for drafts", ids, key="studio_model")
        model_card(info)
        with st.expander(f"All models ({len(models)})"):
            st.dataframe(models_table(models), hide_index=True)

with templates_tab:
    template_editor(ws, profile, brand, banned, [p.name for p in profiles])

with settings_tab:
    checks_and_brand(ws, brand, banned)
