"""Benchmark of the Inbox's intent classifier (dev only; never run by the tests).

(a) The shipped set ``core/data/inbox_intents.csv``: accuracy and macro-F1 on the deterministic
    25 % held-out split the tests use (stratified by intent and language), per language, and the
    mean of a 5-fold cross-validation.
(b) Real customer-to-brand tweets, ``../shared/data/airline_tweets/Tweets.csv`` (Twitter US
    Airline Sentiment, CC BY-NC-SA: used here to measure, never shipped or used in tests). Its
    labels are sentiment, mapped to our intents:

    ===========================  ===============
    airline label                our intent
    ===========================  ===============
    negative (any reason)        complaint
    positive                     praise
    neutral with "?"             question
    neutral without "?"          other
    ===========================  ===============

    There is no purchase-intent label, so a purchase-intent prediction always counts as wrong.
    Reported: the shipped model on every airline tweet, and the same pipeline trained on a 75 %
    airline split and scored on the other 25 % (what the features can do with in-domain data).

    .venv/bin/python bench/inbox.py
    .venv/bin/python bench/inbox.py --airline PATH/Tweets.csv
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import accuracy_score, confusion_matrix, f1_score
from sklearn.model_selection import StratifiedKFold

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.feedback.inbox import INTENTS, classify, held_out_split, load_training_data, train_intent_model

AIRLINE = Path(__file__).resolve().parents[2] / "shared" / "data" / "airline_tweets" / "Tweets.csv"


def _scores(truth, predicted) -> dict:
    return {
        "n": len(truth),
        "accuracy": round(accuracy_score(truth, predicted), 3),
        "macro_f1": round(f1_score(truth, predicted, average="macro", zero_division=0), 3),
    }


def _confusion(truth, predicted, labels) -> str:
    matrix = confusion_matrix(truth, predicted, labels=list(INTENTS))
    rows = [f"{'true / predicted':<18}" + "".join(f"{i[:10]:>11}" for i in INTENTS)]
    for label, row in zip(INTENTS, matrix, strict=True):
        if label in labels:
            rows.append(f"{label:<18}" + "".join(f"{v:>11}" for v in row))
    return "\n".join(rows)


def shipped() -> dict:
    data = load_training_data()
    train, test = held_out_split(data, test_size=0.25, random_state=0)
    started = time.perf_counter()
    model = train_intent_model(train["text"], train["intent"])
    seconds = time.perf_counter() - started
    predicted = np.array([g.intent for g in classify(test["text"], model=model)])
    out = {
        "messages": len(data),
        "by_language": data["lang"].value_counts().to_dict(),
        "train": len(train),
        "train_seconds": round(seconds, 2),
        "held_out": _scores(test["intent"], predicted),
    }
    for lang in ("en", "zh"):
        mask = (test["lang"] == lang).to_numpy()
        out[f"held_out_{lang}"] = _scores(test["intent"][mask], predicted[mask])
    folds = []
    for train_idx, test_idx in StratifiedKFold(5, shuffle=True, random_state=0).split(
        data, data["intent"] + data["lang"]
    ):
        fold = train_intent_model(data["text"].iloc[train_idx], data["intent"].iloc[train_idx])
        guess = [g.intent for g in classify(data["text"].iloc[test_idx], model=fold)]
        folds.append(accuracy_score(data["intent"].iloc[test_idx], guess))
    out["cv5_accuracy"] = round(float(np.mean(folds)), 3)
    print(
        f"shipped set: {len(data)} messages {out['by_language']}; held-out {out['held_out']}; "
        f"en {out['held_out_en']}; zh {out['held_out_zh']}; 5-fold accuracy {out['cv5_accuracy']}"
    )
    print(_confusion(test["intent"], predicted, set(INTENTS)))
    return out


def airline_intent(row: pd.Series) -> str:
    """Our intent for one airline tweet, by the mapping in the module docstring."""
    if row["airline_sentiment"] == "negative":
        return "complaint"
    if row["airline_sentiment"] == "positive":
        return "praise"
    return "question" if "?" in row["text"] else "other"


def airline(path: Path) -> dict:
    frame = pd.read_csv(path, usecols=["airline_sentiment", "text"], dtype=str).dropna()
    frame["intent"] = frame.apply(airline_intent, axis=1)
    out = {"tweets": len(frame), "mapped": frame["intent"].value_counts().to_dict()}
    started = time.perf_counter()
    predicted = [g.intent for g in classify(frame["text"])]
    out["shipped_model"] = {**_scores(frame["intent"], predicted), "seconds": round(time.perf_counter() - started, 2)}
    print(f"airline tweets: {len(frame)} mapped {out['mapped']}")
    print(f"  shipped model on all of them: {out['shipped_model']}")
    print(_confusion(frame["intent"], predicted, set(frame["intent"])))
    data = frame.assign(lang="en")
    train, test = held_out_split(data, test_size=0.25, random_state=0)
    started = time.perf_counter()
    model = train_intent_model(train["text"], train["intent"])
    seconds = time.perf_counter() - started
    guess = [g.intent for g in classify(test["text"], model=model)]
    out["airline_trained"] = {**_scores(test["intent"], guess), "train": len(train), "train_seconds": round(seconds, 1)}
    majority = test["intent"].value_counts().idxmax()
    out["airline_majority_baseline"] = _scores(test["intent"], [majority] * len(test))
    print(
        f"  trained on airline 75 %, scored on 25 %: {out['airline_trained']} "
        f"(majority class '{majority}': {out['airline_majority_baseline']})"
    )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--airline", type=Path, default=AIRLINE, help="Tweets.csv of the airline set")
    args = parser.parse_args()
    results = {"shipped": shipped()}
    if args.airline.exists():
        results["airline"] = airline(args.airline)
    else:
        print(f"airline tweets not found at {args.airline}: skipped")
    print(json.dumps(results))


if __name__ == "__main__":
    main()
