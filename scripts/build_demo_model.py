"""Train the demo's writer and store it in core/data/demo_model, where the demo installs it from.

The demo workspace comes with this model, so drafts can be written on first start without
training (about 90 s on a 2-core machine). Run it again after a change to the demo posts or to
the writer's model format:

    .venv/bin/python scripts/build_demo_model.py
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.content.corpus import demo_corpus_path, read_corpus
from core.content.registry import models_dir
from core.content.train import train_model
from core.demo import DEMO_MODEL_DIR
from core.workspace import open_workspace


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        ws = open_workspace(Path(tmp) / "workspace")
        lm = train_model(
            read_corpus(demo_corpus_path()), ws, progress=lambda share, what: print(f"{share:4.0%} {what}")
        )
        shutil.rmtree(DEMO_MODEL_DIR, ignore_errors=True)
        shutil.copytree(models_dir(ws) / lm.model_id, DEMO_MODEL_DIR)
    print(f"{lm.model_id}: {lm.info.val_bits_per_char:.3f} bits/char (n-gram {lm.info.baseline_bits_per_char:.3f})")


if __name__ == "__main__":
    main()
