"""Pieces of the Studio page: cached model loading, the model card, training, draft editors."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd
import streamlit as st

from core.audience.profiles import SegmentProfile
from core.content.checks import check_draft, save_banned_words
from core.content.corpus import Corpus, CorpusError, corpus_columns, demo_corpus_path, read_corpus
from core.content.model import LanguageModel, load_model
from core.content.registry import ContentError, ModelInfo, TrainConfig, TrainingCancelledError, list_models
from core.content.sampling import DEFAULT_FOCUS
from core.content.templates import (
    TemplateError,
    delete_template,
    list_templates,
    render_template,
    save_brand,
    save_template,
    template_context,
)
from core.content.train import train_model
from core.delivery.channels import registry
from core.delivery.outbox import OutboxError, PublishSettings, add_post, char_limit, length_problem
from core.workspace import Workspace
from ui import state
from ui.data_views import stage_upload
from ui.outside_text import md, md_block
from ui.publish_views import channel_lengths
from ui.resources import workspace_at


@st.cache_resource(show_spinner="Loading the writer…", max_entries=4)
def _load(home: str, model_id: str, created_at: str) -> LanguageModel:
    # created_at only keys the entry: a model retrained under the same id is loaded again
    return load_model(workspace_at(home), model_id)


def cached_model(ws: Workspace, info: ModelInfo) -> LanguageModel:
    """A model loaded once per process (keyed by workspace, id and creation time)."""
    return _load(str(ws.home), info.model_id, info.created_at)


def corpus_picker(ws: Workspace) -> Corpus | None:
    """Demo posts or an upload with a chosen text column; the corpus, or None (message shown)."""
    source = st.radio(
        "Posts to learn from", ["Demo posts", "Upload my posts"], horizontal=True, key="studio_corpus_source"
    )
    if source == "Demo posts":
        path, name, text_column = demo_corpus_path(), "demo posts", None
    else:
        upload = st.file_uploader(
            "Your past posts: a CSV (any encoding) or a text file with one post per line",
            type=["csv", "tsv", "txt"],
            key="studio_corpus_upload",
        )
        if upload is None:
            return None
        path, name = stage_upload(ws, upload, "corpus"), upload.name
        try:
            columns = corpus_columns(path)
        except CorpusError as exc:
            st.error(md(exc))
            return None
        text_column = st.selectbox("Text column", columns, key="studio_text_column") if columns else None
    keep_all = st.toggle(
        "Keep retweets, quotes and link-only posts",
        key="studio_keep_all",
        help="They are someone else's words or no words at all, so by default the writer does not learn your voice "
        "from them.",
    )
    try:
        corpus = read_corpus(path, text_column=text_column, name=name, keep_all=keep_all)
    except CorpusError as exc:
        st.error(md(exc))
        return None
    s = corpus.summary()
    labels = ", ".join(f"{k}: {v}" for k, v in s["columns"].items()) or "one post per line"
    st.caption(
        f"**{s['posts']:,} posts** of {s['rows_read']:,} records · columns {labels} · "
        f"{len(s['segments'])} segment and {len(s['topics'])} topic labels"
    )
    if corpus.left_out:
        left_out_report(corpus)
    return corpus


def left_out_report(corpus: Corpus) -> None:
    """What was not taken into the voice, by reason, with examples (shown as text, never Markdown)."""
    total = sum(corpus.left_out.values())
    with st.expander(f"{total:,} records left out of the voice", icon=":material/filter_alt:"):
        st.dataframe(
            pd.DataFrame(
                {
                    "Reason": list(corpus.left_out),
                    "Records": list(corpus.left_out.values()),
                    "Example": [(corpus.left_out_examples.get(r) or [""])[0] for r in corpus.left_out],
                }
            ),
            hide_index=True,
            width="stretch",
        )


def train_with_progress(ws: Workspace, corpus: Corpus, config: TrainConfig) -> ModelInfo | None:
    """Train with a progress bar and a cancel button; the new model card, or None when cancelled."""
    cancel = st.empty()
    cancel.button("Cancel training", key="studio_cancel", icon=":material/stop_circle:")
    bar = st.progress(0.0, text="Starting…")
    try:
        lm = train_model(corpus, ws, config=config, progress=lambda f, m: bar.progress(min(max(f, 0.0), 1.0), text=m))
    except TrainingCancelledError as exc:
        st.warning(md(exc))
        return None
    except ContentError as exc:
        st.error(md(exc))
        return None
    finally:
        cancel.empty()
        bar.empty()
    return lm.info


#: Measured by blind grading on the demo posts (bench/README.md, "Writer"; the last three rounds,
#: 81-85 %): the share of drafts that readers who did not know which posts were drafts found ready
#: to post or needing one small edit.
BLIND_CHECK_READY_OR_ONE_EDIT = 0.83


def training_estimate(n_posts: int) -> str:
    """What training will take, said before it starts."""
    seconds = TrainConfig().time_budget(n_posts) + 10 + 0.01 * n_posts  # the LSTM's budget, then the n-grams
    minutes = max(1, round(seconds / 60))
    return (
        f"Training on {n_posts:,} posts takes about {minutes} minute{'s' if minutes != 1 else ''} on this machine; "
        "you can keep using Reach in another tab, and cancel at any time."
    )


def model_card(info: ModelInfo) -> None:
    """In plain words first (posts learnt from, drafts that pass); the technical figures behind an expander."""
    passing = (
        "" if info.pass_rate is None else f" {info.pass_rate:.0%} of 20 drafts written right after passed every check."
    )
    st.success(
        f"Learned your voice from {info.n_posts:,} posts in {info.seconds / 60:.0f} min.{passing} In blind checks "
        f"on the demo posts, readers found {BLIND_CHECK_READY_OR_ONE_EDIT:.0%} of the writer's drafts ready to post "
        "or needing one small edit.",
        icon=":material/school:",
    )
    if info.samples:
        st.markdown("**Sample drafts**", help="Written as the Drafts tab writes them.")
        for text in info.samples:
            st.text(text)
    with st.expander("Technical figures"):
        _technical_card(info)


def _technical_card(info: ModelInfo) -> None:
    """Quality next to the baseline, how the drafts fare and the learning curve."""
    m1, m2, m3, m4 = st.columns(4)
    delta = info.val_bits_per_char - info.baseline_bits_per_char
    m1.metric(
        "Held-out bits per character",
        f"{info.val_bits_per_char:.3f}",
        delta=f"{delta:+.3f} vs n-gram",
        delta_color="inverse",
        help="Mean −log₂ p of every character of every held-out post, plus one end-of-post symbol. Lower is better.",
    )
    m2.metric(
        f"Best n-gram (order {info.baseline_order})",
        f"{info.baseline_bits_per_char:.3f}",
        help="Kneser-Ney character n-gram of orders 3–9 on the same split; the best order is shown.",
    )
    m3.metric(
        "Drafts passing checks",
        "—" if info.pass_rate is None else f"{info.pass_rate:.0%}",
        help="Of 20 drafts written right after training, before any resampling.",
    )
    m4.metric(
        "Near-copies",
        "—" if info.near_copy_rate is None else f"{info.near_copy_rate:.0%}",
        help="Drafts sharing 40 or more characters with a post of the corpus.",
    )
    st.caption(
        f"Model **{info.model_id}** · corpus {info.corpus} · {info.n_train:,} training and {info.n_val:,} "
        f"held-out posts · {info.epochs_run} epochs ({info.stopped}) in {info.seconds:.0f} s · "
        f"{info.config.get('units')} LSTM units"
    )
    if info.mix_order and info.lstm_bits_per_char is not None:
        st.caption(
            f"The writer mixes the LSTM ({info.lstm_bits_per_char:.3f} bits/char alone) with the order-"
            f"{info.mix_order} n-gram, LSTM weight {info.mix_weight:.2f}, chosen on the held-out posts."
        )
    if info.mix_order and (info.segments or info.topics):
        st.caption(
            f"Scoring takes part of the n-gram side from the post's own segment's posts (weight "
            f"{info.segment_weight:.2f}) and own topic's (weight {info.topic_weight:.2f}), as the held-out "
            f"posts chose; drafts for a segment lean on them for {DEFAULT_FOCUS:.0%} of it, so they sound "
            "like that segment's posts."
        )
    if info.history:
        curve = pd.DataFrame(info.history).set_index("epoch")[["train_bits", "val_bits"]]
        curve.columns = ["training (bits/symbol)", "held-out (bits/char)"]
        st.line_chart(curve, height=200, x_label="epoch", y_label="bits")


def models_table(models: list[ModelInfo]) -> pd.DataFrame:
    """One row per saved model for the model list."""
    return pd.DataFrame(
        [
            {
                "model": m.model_id,
                "corpus": m.corpus,
                "posts": m.n_posts,
                "bits/char": round(m.val_bits_per_char, 3),
                "n-gram": round(m.baseline_bits_per_char, 3),
                "seconds": m.seconds,
            }
            for m in models
        ]
    )


def newest_info(ws: Workspace) -> ModelInfo | None:
    """The model card chosen on the Model tab, or the newest one."""
    models = list_models(ws)
    chosen = state.get("studio_model")
    for m in models:
        if m.model_id == chosen:
            return m
    return models[0] if models else None


def channel_check(ws: Workspace, text: str, banned: list[str], **checks) -> tuple[str, list[str]]:
    """(``"123/500"`` by the count of the channel a saved draft goes to, why ``text`` fails): the draft
    checks, with the length by that channel's own rule and limit (X's weighted 280, Mastodon's 500, …)."""
    channel = registry.default_channel()
    settings = PublishSettings.load(ws)
    check = check_draft(text, banned_words=banned, max_weighted_length=None, **checks)
    too_long = length_problem(ws, text, channel, settings)
    used = registry.channel(channel).weighted_length(text)
    return f"{used}/{char_limit(ws, channel, settings)}", [*check.reasons, *([too_long] if too_long else [])]


def draft_editor(
    ws: Workspace,
    draft_id: str,
    draft: dict,
    lm: LanguageModel | None,
    banned: list[str],
    hashtags: list[str],
    internal_names: Sequence[str] = (),
) -> None:
    """One editable draft with its live weighted-length counter, checks, hashtags and save button
    (``internal_names``: the segments' internal names, which public copy must not show)."""
    key = f"studio_draft_{state.get('studio_draft_round')}_{draft_id}"
    with st.container(border=True):
        text = st.text_area("Draft", value=draft["text"], key=key, height=100, label_visibility="collapsed")
        draft["text"] = text
        count, reasons = channel_check(
            ws, text, banned, near_copy=lm.near_copy_index if lm is not None else None, internal_names=internal_names
        )
        passes = not reasons
        left, middle, right = st.columns([3, 2, 1], vertical_alignment="center")
        if passes:
            left.markdown(f":green[:material/check_circle: **{count}**] · passes the checks")
        else:
            left.markdown(f":red[:material/error: **{count}**] · " + "; ".join(map(md, reasons)))
        saved_to = registry.default_channel()
        others = [c.name for c in registry.connected_channels() if c.name != saved_to]
        # the count above is the channel a saved draft goes to; each other connected one counts its own way
        left.caption(
            "  \n".join(channel_lengths(ws, text, [saved_to, *others], PublishSettings.load(ws), labelled=True))
        )
        missing = [h for h in hashtags if h.casefold() not in text.casefold()]
        if missing and middle.button(
            f"Add {' '.join(missing[:2])}",
            key=f"{key}_tags",
            help="Hashtags suggested by the interest rules for this segment",
        ):
            draft["text"] = (text.rstrip() + " " + " ".join(missing[:2])).strip()
            state.pop(key)
            st.rerun()
        if right.button(
            "Save",
            key=f"{key}_save",
            icon=":material/outbox:",
            disabled=not passes,
            help="Save into the outbox as a draft" if passes else "Fix the problems first",
        ):
            try:
                post_id = add_post(
                    ws, text.strip(), segment=draft.get("segment") or None, template=draft.get("template") or None
                ).id
            except OutboxError as exc:
                state.notify("studio_notice", "error", str(exc))
            else:
                state.notify("studio_notice", "success", f"Saved as draft #{post_id} in the outbox (Publish page).")
                drafts = dict(state.get("studio_drafts"))
                drafts.pop(draft_id, None)
                state.put("studio_drafts", drafts)
            st.rerun()


def template_drafts(
    ws: Workspace, profile: SegmentProfile, brand: dict, banned: list[str], n: int, internal_names: Sequence[str] = ()
) -> dict:
    """Up to ``n`` drafts from the templates for ``profile``, those that pass the checks first."""
    out = {}
    for template in list_templates(ws):
        try:
            text = render_template(template.body, template_context(profile, **brand))
        except TemplateError:
            continue
        if not channel_check(ws, text, banned, internal_names=internal_names)[1]:
            out[f"t{len(out)}"] = {"text": text, "segment": profile.name, "template": template.name}
        if len(out) >= n:
            break
    return out


def template_editor(
    ws: Workspace, profile: SegmentProfile, brand: dict, banned: list[str], internal_names: Sequence[str] = ()
) -> None:
    """The Templates tab: edit a Jinja2 template with a live preview for ``profile``, save or delete it."""
    templates = {t.name: t for t in list_templates(ws)}
    left, right = st.columns([1, 1])
    name = left.selectbox("Template", list(templates), key="studio_template_edit")
    body = left.text_area(
        "Jinja2 text",
        value=templates[name].body,
        height=150,
        key=f"studio_body_{name}",
        help="Variables: segment, interests, top_interest, product, offer, link, hashtags, angle, angles",
    )
    save_as = left.text_input("Save as", value=name, key=f"studio_save_as_{name}")
    b1, b2 = left.columns(2)
    try:
        preview = render_template(body, template_context(profile, **brand))
        right.markdown(f"**Preview for {md(profile.name)}**")
        right.markdown("> " + md_block(preview).replace("\n", "\n> "))
        count, reasons = channel_check(ws, preview, banned, internal_names=internal_names)
        right.caption(f"{count} · " + ("; ".join(map(md, reasons)) if reasons else "passes the checks"))
    except TemplateError as exc:
        right.error(md(exc))
    if b1.button("Save template", key="studio_template_save"):
        try:
            save_template(ws, save_as, body)
            state.notify("studio_notice", "success", f"Template “{md(save_as.strip())}” saved.")
            st.rerun()
        except TemplateError as exc:
            st.error(md(exc))
    if not templates[name].builtin and b2.button("Delete", key="studio_template_delete"):
        delete_template(ws, name)
        st.rerun()


def checks_and_brand(ws: Workspace, brand: dict, banned: list[str]) -> None:
    """The Checks & brand tab: the banned words and the brand's product, offer and link."""
    words = st.text_area(
        "Banned words and phrases (one per line)", value="\n".join(banned), height=180, key="studio_banned"
    )
    p1, p2, p3 = st.columns(3)
    product = p1.text_input("Product", value=brand["product"], key="studio_product")
    offer = p2.text_input("Offer", value=brand["offer"], key="studio_offer")
    link = p3.text_input("Link", value=brand["link"], key="studio_link")
    if st.button("Save checks and brand", key="studio_settings_save"):
        try:
            save_brand(ws, product=product, offer=offer, link=link)
        except TemplateError as exc:
            st.error(md(exc))
        else:
            saved = save_banned_words(ws, words.splitlines())
            state.notify("studio_notice", "success", f"Saved {len(saved)} banned words and the brand details.")
            st.rerun()
