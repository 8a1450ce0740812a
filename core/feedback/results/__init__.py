"""Results: what published posts achieved, and which template each segment should get next.

* **Metrics** (:mod:`~core.feedback.results.metrics`): the counts Reach reads, each post's latest
  metrics with its engagement rate, the stored time series and performance by segment, template
  and local posting hour.
* **Refresh** (:mod:`~core.feedback.results.refresh`): one new point of each published post's
  time series, read from its channel; a 429 defers the next call.
* **Simulated metrics** (:mod:`~core.feedback.results.simulate`): dry-run posts get deterministic
  metrics with a hidden engagement rate per segment × template, so the loop can be tried before
  connecting X; every view says they are simulated.
* **Import** (:mod:`~core.feedback.results.engagement_import`): posts made elsewhere, from an
  engagement export.
* **Learning** (:mod:`~core.feedback.results.recommendations`): the next template per segment on
  each channel by Thompson sampling: a Beta-Binomial of engagement rate where the channel gives
  impressions, a Gamma-Poisson of engagements per post where it does not; evidence counted per post.
* **Summary** (:mod:`~core.feedback.results.summary`): everything the page and the CLI show.

This module is the public face of results: import from here.
"""

from __future__ import annotations

from core.feedback.results.engagement_import import (
    CSV_COLUMNS,
    REQUIRED_COLUMNS,
    EngagementImport,
    EngagementPreview,
    import_engagement_csv,
    imported_sources,
    inspect_engagement_csv,
)
from core.feedback.results.metrics import METRICS, ResultsError, engagement_posts, metrics_history, performance
from core.feedback.results.recommendations import (
    Recommendation,
    TemplateOdds,
    channel_recommendations,
    channel_title,
    for_channel,
    measured,
    recommend,
    recommend_by_channel,
    recommend_counts,
    recommended_template_names,
    recommended_templates,
)
from core.feedback.results.refresh import RefreshReport, metrics_not_before, refresh_metrics
from core.feedback.results.simulate import hidden_engagement_rate, simulated_metrics
from core.feedback.results.summary import Results, results, results_version

__all__ = [
    "CSV_COLUMNS",
    "METRICS",
    "REQUIRED_COLUMNS",
    "EngagementImport",
    "EngagementPreview",
    "Recommendation",
    "RefreshReport",
    "Results",
    "ResultsError",
    "TemplateOdds",
    "channel_recommendations",
    "channel_title",
    "engagement_posts",
    "for_channel",
    "hidden_engagement_rate",
    "import_engagement_csv",
    "imported_sources",
    "inspect_engagement_csv",
    "measured",
    "metrics_history",
    "metrics_not_before",
    "performance",
    "recommend",
    "recommend_by_channel",
    "recommend_counts",
    "recommended_template_names",
    "recommended_templates",
    "refresh_metrics",
    "results",
    "results_version",
    "simulated_metrics",
]
