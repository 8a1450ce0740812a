"""Step 2 · Audience: who the followers are and which interests travel together.

Per-user features from the events (``features``), KMeans segments with profiles and names
(``segments``), association rules between interests with mlxtend (``rules``), and the segment
profiles later steps use (``profiles``). A new segment statistic or rule measure goes here; the
charts of the Segments and Interests pages live in ``ui/audience_views.py``. May import: intake
and the base; no later step.
"""
