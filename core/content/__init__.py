"""Step 3 · Content: the writer and the templates that turn segments into drafts.

The writer is a character LSTM trained with Keras on the operator's own posts (``train``), run in
numpy mixed with the corpus's n-grams (``model``, ``sampling``, ``lexicon``, ``ngram``), that
writes drafts ranked by fluency (``generate``); saved models live in the workspace (``registry``).
``corpus`` reads the operator's posts, ``checks`` decides what is publishable, ``templates`` fills
Jinja2 templates from a segment's profile. TensorFlow is imported only in ``model`` and ``train``.
May import: audience, intake and the base; no later step.
"""
