"""Interest rules: which topics (or basket items) go together, and how to say it in a post.

* :func:`transactions_from_behaviour` — one transaction per user: the topics the user engaged
  with (at least ``min_events`` times; 2 for event data so a single stray view is not an
  interest, 1 for baskets and profile tables), or a basket's items.
* :func:`estimate_itemsets` — the explosion guard, run before mining from item frequencies alone.
* :func:`mine_rules` — frequent itemsets by mlxtend ``fpgrowth`` or ``apriori`` (what the
  Interests page offers), or counted on per-transaction bitsets (``bitsets``, the command line's
  default: the same itemsets, found in a fraction of the time on a million users), then mlxtend's
  ``association_rules``.
* :func:`angles` — top rules as plain-language post angles with hashtag suggestions.
* :func:`run_rules` — all of it on a workspace dataset, optionally inside one segment.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from mlxtend.frequent_patterns import apriori, association_rules, fpgrowth
from scipy import sparse

from core.audience.features import Behaviour, load_behaviour
from core.audience.segments import last_run, resolve_engine, run_segments, segment_names, spark_engine

if TYPE_CHECKING:
    from core.workspace import Workspace

__all__ = [
    "RULE_COLUMNS",
    "Angle",
    "ItemsetEstimate",
    "RuleExplosionError",
    "RuleReport",
    "RulesError",
    "Transactions",
    "angles",
    "estimate_itemsets",
    "hashtag",
    "hashtag_suggestions",
    "mine_rules",
    "rules_as_json",
    "rules_table",
    "run_rules",
    "transactions_from_behaviour",
    "transactions_from_sets",
]

log = logging.getLogger(__name__)

RULE_COLUMNS = [
    "antecedents",
    "consequents",
    "support",
    "confidence",
    "lift",
    "leverage",
    "conviction",
    "antecedent support",
    "consequent support",
]
ALGORITHMS = ("fpgrowth", "apriori", "bitsets", "spark")
#: Mining is refused when more frequent itemsets than this are expected: mlxtend keeps every
#: itemset as a Python frozenset and association_rules splits each one in up to 2^len ways.
MAX_ITEMSETS = 100_000
#: ... and when association_rules would have to try more antecedent/consequent splits than this.
MAX_RULE_CANDIDATES = 1_000_000
_MAX_PAIR_ITEMS = 3_000
_DENSE_CELLS = 50_000_000


class RulesError(ValueError):
    """Rule-mining input the operator must change."""


class RuleExplosionError(RulesError):
    """Mining would produce too many itemsets; the message suggests safer settings."""


@dataclass(frozen=True)
class Transactions:
    """A boolean transaction × item matrix (sparse) with its item names."""

    matrix: sparse.csr_matrix
    items: list[str]

    @property
    def n(self) -> int:
        """Number of transactions."""
        return self.matrix.shape[0]

    def subset(self, mask: np.ndarray) -> Transactions:
        """Only the transactions where ``mask`` is true."""
        return Transactions(self.matrix[np.flatnonzero(mask)], self.items)

    def item_support(self) -> np.ndarray:
        """Share of transactions containing each item."""
        return np.asarray(self.matrix.sum(axis=0)).ravel() / max(self.n, 1)


def transactions_from_sets(baskets: Iterable[Iterable[str]]) -> Transactions:
    """Transactions from plain item sets (duplicates within a basket count once)."""
    baskets = [sorted({str(i) for i in b}) for b in baskets]
    items = sorted({i for b in baskets for i in b})
    index = {item: j for j, item in enumerate(items)}
    rows = np.repeat(np.arange(len(baskets)), [len(b) for b in baskets])
    cols = np.array([index[i] for b in baskets for i in b], dtype=np.int64)
    matrix = sparse.csr_matrix((np.ones(len(cols), dtype=bool), (rows, cols)), shape=(len(baskets), len(items)))
    return Transactions(matrix, items)


def transactions_from_behaviour(behaviour: Behaviour, *, min_events: int | None = None) -> Transactions:
    """One transaction per user: topics with at least ``min_events`` events (2 for events data, else 1)."""
    if min_events is None:
        min_events = 2 if behaviour.kind == "events" else 1
    if min_events < 1:
        raise RulesError(f"min_events={min_events} must be at least 1")
    counts = behaviour.topic_counts
    matrix = (counts >= min_events).astype(bool) if min_events > 1 else (counts > 0).astype(bool)
    return Transactions(sparse.csr_matrix(matrix), list(behaviour.topics))


# -- explosion guard ------------------------------------------------------------------------------
@dataclass(frozen=True)
class ItemsetEstimate:
    """How much work mining is expected to be, estimated before mining.

    ``estimate`` counts itemsets whose estimated support clears ``min_support``. Singles and pairs
    are exact (item and pair frequencies, one sparse product); a larger set's support is
    estimated by chaining conditionals — ``supp(S + j) ≈ supp(S) × max over i in S of P(j | i)`` —
    which follows correlated interests where independence would not (the max, because people with
    several interests of a bundle tend to have the rest too; on the demo and on groceries this
    lands within a factor of 1.6 of the true count). ``core_bound``
    is a hard lower bound: the items shared by the ``min_support`` share of transactions with the
    most frequent items (every subset of them is frequent). ``rule_candidates`` adds up the
    ``2^len − 2`` ways association_rules splits each itemset. ``capped`` means counting stopped at
    the limit.
    """

    estimate: int
    rule_candidates: int
    core_bound: int
    frequent_items: int
    capped: bool


def _n_subsets(size: int, max_len: int | None, cap: int) -> int:
    """Non-empty subsets of a ``size``-set with at most ``max_len`` items, capped."""
    top = size if max_len is None else min(size, max_len)
    total = 0
    for length in range(1, top + 1):
        total += math.comb(size, length)
        if total > cap:
            return cap + 1
    return total


_combine = np.maximum


def _count_chained(
    support: np.ndarray, pair: np.ndarray, min_support: float, max_len: int | None, cap: int, rule_cap: int
) -> tuple[int, int]:
    """(itemsets, rule candidates) with chained-conditional support >= ``min_support``, capped."""
    m = len(support)
    limit = m if max_len is None else max_len
    cond = pair / support[:, None]  # cond[i, j] = P(j | i)
    itemsets, rules = m, 0
    # stack of (items in the set, estimated support, min over members of P(j | member) for every j)
    stack = [([i], support[i], cond[i]) for i in range(m)]
    while stack:
        items, est, bound = stack.pop()
        if len(items) >= limit:
            continue
        last = items[-1]
        candidates = np.flatnonzero(est * bound[last + 1 :] >= min_support) + last + 1
        for j in candidates.tolist():
            new_est = pair[last, j] if len(items) == 1 else est * bound[j]
            itemsets += 1
            rules += 2 ** (len(items) + 1) - 2
            if itemsets > cap or rules > rule_cap:
                return itemsets, rules
            stack.append(([*items, j], new_est, _combine(bound, cond[j])))
    return itemsets, rules


def estimate_itemsets(
    transactions: Transactions,
    *,
    min_support: float,
    max_len: int | None = None,
    cap: int = MAX_ITEMSETS,
    rule_cap: int = MAX_RULE_CANDIDATES,
) -> ItemsetEstimate:
    """Estimate the number of frequent itemsets before mining (see :class:`ItemsetEstimate`)."""
    supports = transactions.item_support()
    frequent = np.flatnonzero(supports >= min_support)
    sub = transactions.matrix[:, frequent].astype(np.float32)
    if len(frequent) <= _MAX_PAIR_ITEMS:
        pair = np.asarray((sub.T @ sub).todense(), dtype=np.float64) / max(transactions.n, 1)
    else:  # too many items for a pair table: fall back to independence
        pair = np.outer(supports[frequent], supports[frequent])
        np.fill_diagonal(pair, supports[frequent])
    itemsets, rules = (
        _count_chained(supports[frequent], pair, min_support, max_len, cap, rule_cap) if len(frequent) else (0, 0)
    )
    core = 0
    needed = max(1, math.ceil(min_support * transactions.n))
    if len(frequent) and needed <= transactions.n:
        lengths = np.asarray(sub.sum(axis=1)).ravel()
        longest = np.argsort(-lengths, kind="stable")[:needed]
        shared = int((np.asarray(sub[longest].sum(axis=0)).ravel() == needed).sum())
        core = _n_subsets(shared, max_len, cap)
    estimate = max(itemsets, core)
    return ItemsetEstimate(
        estimate=estimate,
        rule_candidates=rules,
        core_bound=core,
        frequent_items=len(frequent),
        capped=estimate > cap or rules > rule_cap,
    )


def _suggestion(transactions: Transactions, min_support: float, max_len: int | None, cap: int) -> str:
    """'raise min_support to 0.08 or set max_len to 2' — the nearest settings under the cap."""
    hints = []
    support = min_support
    for _ in range(12):
        support = min(1.0, support * 2 if support >= 0.01 else support * 3)
        if not estimate_itemsets(transactions, min_support=support, max_len=max_len, cap=cap).capped:
            hints.append(f"raise min_support to {support:.3g}")
            break
        if support >= 1.0:
            break
    for length in (3, 2):
        if max_len is not None and length >= max_len:
            continue
        if not estimate_itemsets(transactions, min_support=min_support, max_len=length, cap=cap).capped:
            hints.append(f"set max_len to {length}")
            break
    return " or ".join(hints) if hints else "raise min_support and set max_len to 2"


# -- mining -------------------------------------------------------------------------------------
def mine_rules(
    transactions: Transactions,
    *,
    min_support: float = 0.05,
    min_confidence: float = 0.3,
    max_len: int | None = 3,
    algorithm: str = "bitsets",
    max_itemsets: int = MAX_ITEMSETS,
) -> tuple[pd.DataFrame, int]:
    """Frequent itemsets and association rules.

    Parameters
    ----------
    transactions : Transactions
    min_support : float, default 0.05
        Share of transactions an itemset must appear in.
    min_confidence : float, default 0.3
        Minimum ``P(consequents | antecedents)``.
    max_len : int or None, default 3
        Longest itemset mined (None: no limit).
    algorithm : {"fpgrowth", "apriori", "bitsets", "spark"}
        mlxtend's miners, the same itemsets counted on bitsets (see :func:`_bitset_itemsets`), or
        Spark MLlib's FP-growth (``core.audience.spark``).
    max_itemsets : int, default 100,000
        Refuse (``RuleExplosionError``) when more itemsets than this are expected.

    Returns
    -------
    (rules, n_itemsets)
        ``rules`` has :data:`RULE_COLUMNS` (antecedents and consequents as sorted tuples of str),
        sorted by lift, then confidence, then support; ``n_itemsets`` is the number of frequent
        itemsets found.
    """
    if not 0.0 < min_support <= 1.0:
        raise RulesError(f"min_support={min_support} must be in (0, 1]")
    if not 0.0 <= min_confidence <= 1.0:
        raise RulesError(f"min_confidence={min_confidence} must be in [0, 1]")
    if max_len is not None and max_len < 2:
        raise RulesError(f"max_len={max_len} must be at least 2 (a rule needs two items)")
    if algorithm not in ALGORITHMS:
        raise RulesError(f"algorithm={algorithm!r} must be one of {', '.join(ALGORITHMS)}")
    if transactions.n == 0:
        raise RulesError("there are no transactions to mine (no user has an interest at this threshold)")

    _refuse_explosion(transactions, min_support=min_support, max_len=max_len, max_itemsets=max_itemsets)

    itemsets = _frequent_itemsets(transactions, min_support=min_support, max_len=max_len, algorithm=algorithm)
    n_itemsets = len(itemsets)
    if n_itemsets == 0 or (itemsets["itemsets"].map(len) > 1).sum() == 0:
        return _empty_rules(), n_itemsets
    rules = association_rules(
        itemsets,
        num_itemsets=transactions.n,
        metric="confidence",
        min_threshold=min_confidence,
        return_metrics=_RULE_METRICS,
    )
    if rules.empty:
        return _empty_rules(), n_itemsets
    return _tidy(rules), n_itemsets


def _refuse_explosion(
    transactions: Transactions, *, min_support: float, max_len: int | None, max_itemsets: int
) -> None:
    """Raise :class:`RuleExplosionError`, with settings that would work, when mining would find too many itemsets."""
    estimate = estimate_itemsets(transactions, min_support=min_support, max_len=max_len, cap=max_itemsets)
    if estimate.capped:
        hint = _suggestion(transactions, min_support, max_len, max_itemsets)
        if estimate.estimate > max_itemsets:
            about = f"more than {max_itemsets:,} itemsets"
        else:
            about = f"about {estimate.estimate:,} itemsets with more than {MAX_RULE_CANDIDATES:,} rule candidates"
        raise RuleExplosionError(
            f"min_support={min_support:g} with max_len={max_len} would find {about} among "
            f"{estimate.frequent_items:,} frequent items in {transactions.n:,} transactions; {hint}"
        )


_RULE_METRICS = [
    "antecedent support",
    "consequent support",
    "support",
    "confidence",
    "lift",
    "leverage",
    "conviction",
]


def _frequent_itemsets(
    transactions: Transactions, *, min_support: float, max_len: int | None, algorithm: str
) -> pd.DataFrame:
    """mlxtend's frequent itemsets (``support``, ``itemsets``) of the items frequent on their own."""
    supports = transactions.item_support()
    keep = np.flatnonzero(supports >= min_support)  # an infrequent item is in no frequent itemset
    if len(keep) == 0:
        return pd.DataFrame({"support": pd.Series(dtype="float64"), "itemsets": pd.Series(dtype="object")})
    names = [transactions.items[j] for j in keep]
    if algorithm == "bitsets":
        return _bitset_itemsets(transactions.matrix[:, keep], names, min_support=min_support, max_len=max_len)
    if algorithm == "spark":
        spark = spark_engine()
        return spark.spark_itemsets(
            spark.spark_session(), transactions.matrix[:, keep], names, min_support=min_support, max_len=max_len
        )
    onehot = _onehot(transactions.matrix[:, keep], names)
    miner = fpgrowth if algorithm == "fpgrowth" else apriori
    return miner(onehot, min_support=min_support, use_colnames=True, max_len=max_len)


def _item_bitsets(matrix: sparse.spmatrix) -> np.ndarray:
    """Each item's transactions as a bitset: an (items × words) uint64 array, bit t of item j set
    when transaction t has item j."""
    n_rows, n_items = matrix.shape
    words = (n_rows + 63) // 64
    columns = sparse.csc_matrix(matrix)
    bits = np.zeros((n_items, words * 8), dtype=np.uint8)
    has = np.zeros(words * 64, dtype=bool)
    for j in range(n_items):
        rows = columns.indices[columns.indptr[j] : columns.indptr[j + 1]]
        has[rows] = True
        bits[j] = np.packbits(has, bitorder="little")
        has[rows] = False
    return bits.view(np.uint64)


def _bitset_itemsets(
    matrix: sparse.spmatrix, names: list[str], *, min_support: float, max_len: int | None
) -> pd.DataFrame:
    """The frequent itemsets mlxtend's ``fpgrowth`` finds (same sets, same supports), counted on bitsets.

    Depth first over items in column order: a set's transactions are the AND of its items'
    bitsets, and one vectorised AND + popcount counts every one-item extension of a set at once.
    An itemset is kept when ``count / n >= min_support``, the test mlxtend applies.
    """
    n = matrix.shape[0]
    bits = _item_bitsets(matrix)
    limit = len(names) if max_len is None else max_len
    supports: list[float] = []
    itemsets: list[frozenset] = []
    # (items of the set, its transactions' bitset); singles first, as they are all frequent here
    stack: list[tuple[tuple[int, ...], np.ndarray]] = []
    counts = np.bitwise_count(bits).sum(axis=1, dtype=np.int64)
    for j in range(len(names)):
        if counts[j] / n >= min_support:
            supports.append(counts[j] / n)
            itemsets.append(frozenset([names[j]]))
            stack.append(((j,), bits[j]))
    stack.reverse()
    while stack:
        items, members = stack.pop()
        if len(items) >= limit or items[-1] + 1 >= len(names):
            continue
        later = bits[items[-1] + 1 :] & members
        counts = np.bitwise_count(later).sum(axis=1, dtype=np.int64)
        found = []
        for offset in np.flatnonzero(counts / n >= min_support).tolist():
            j = items[-1] + 1 + offset
            supports.append(counts[offset] / n)
            itemsets.append(frozenset(names[i] for i in (*items, j)))
            found.append(((*items, j), later[offset]))
        stack.extend(reversed(found))
    return pd.DataFrame({"support": np.asarray(supports, dtype=np.float64), "itemsets": itemsets})


def _onehot(sub: sparse.csr_matrix, names: list[str]) -> pd.DataFrame:
    """The transactions × frequent items matrix as mlxtend wants it (sparse when large)."""
    if sub.shape[0] * sub.shape[1] <= _DENSE_CELLS:
        return pd.DataFrame(sub.toarray(), columns=names)
    return pd.DataFrame.sparse.from_spmatrix(sub.tocsc(), columns=names)


def _tidy(rules: pd.DataFrame) -> pd.DataFrame:
    """mlxtend's rules as :data:`RULE_COLUMNS`: items as sorted tuples, sorted by lift, confidence, support, text."""
    rules = rules.assign(
        antecedents=rules["antecedents"].map(lambda s: tuple(sorted(s))),
        consequents=rules["consequents"].map(lambda s: tuple(sorted(s))),
    )
    rules["conviction"] = np.where(rules["confidence"] >= 1.0 - 1e-12, np.inf, rules["conviction"])
    rules = rules[RULE_COLUMNS].astype({c: "float64" for c in RULE_COLUMNS[2:]})
    text = rules["antecedents"].map(" + ".join) + " → " + rules["consequents"].map(" + ".join)
    # Rounded sort keys: 0.6 / 0.8 and 0.75 must tie, not be split by the last bit of a float.
    keys = {f"_{c}": rules[c].round(9) for c in ("lift", "confidence", "support")}
    rules = rules.assign(_text=text, **keys).sort_values(
        ["_lift", "_confidence", "_support", "_text"], ascending=[False, False, False, True], kind="stable"
    )
    return rules[RULE_COLUMNS].reset_index(drop=True)


def _empty_rules() -> pd.DataFrame:
    frame = pd.DataFrame(
        {c: pd.Series(dtype="object" if c in ("antecedents", "consequents") else "float64") for c in RULE_COLUMNS}
    )
    return frame


def rules_as_json(rules: pd.DataFrame) -> list[dict]:
    """Rules as JSON objects (an infinite conviction becomes null: JSON has no infinity)."""
    out = []
    for row in rules.itertuples(index=False):
        conviction = float(row.conviction)
        out.append(
            {
                "antecedents": list(row.antecedents),
                "consequents": list(row.consequents),
                "support": round(float(row.support), 6),
                "confidence": round(float(row.confidence), 6),
                "lift": round(float(row.lift), 6),
                "leverage": round(float(row.leverage), 6),
                "conviction": None if not math.isfinite(conviction) else round(conviction, 6),
            }
        )
    return out


def rules_table(rules: pd.DataFrame) -> pd.DataFrame:
    """Rules with antecedents/consequents joined as text (for tables and CSV export)."""
    return rules.assign(
        antecedents=rules["antecedents"].map(" + ".join), consequents=rules["consequents"].map(" + ".join)
    )


# -- angles and hashtags --------------------------------------------------------------------------
@dataclass(frozen=True)
class Angle:
    """A rule said in plain language, with hashtags for a post."""

    text: str
    hashtags: list[str]
    antecedents: tuple[str, ...]
    consequents: tuple[str, ...]
    lift: float
    confidence: float
    support: float
    #: The same angle for customers: no figures, no analysis ("Love yoga? Smoothies might be for you too.").
    public: str = ""


def hashtag(topic: str) -> str:
    """``"meal prep"`` → ``"#MealPrep"``; ``"skincare & beauty"`` → ``"#SkincareBeauty"``; ``"健身"`` → ``"#健身"``."""
    words = [w for w in re.split(r"[^\w]+", str(topic)) if w]
    return "#" + "".join(w[:1].upper() + w[1:] for w in words)


def _join(items: Sequence[str]) -> str:
    items = list(items)
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def angles(
    rules: pd.DataFrame, *, kind: str = "events", n: int = 8, min_lift: float = 1.2, max_per_item: int = 2
) -> list[Angle]:
    """The strongest readable rules as post angles.

    Only rules with one consequent, at most two antecedents and ``lift >= min_lift``. Pairs
    (one antecedent) come before triples, each by lift; a pair seen both ways (A → B, B → A) is
    said once, and an item appears in at most ``max_per_item`` angles, so the list covers several
    interest groups instead of eight variations on the strongest one.
    """
    if rules.empty:
        return []
    readable = rules[
        (rules["consequents"].map(len) == 1) & (rules["antecedents"].map(len) <= 2) & (rules["lift"] >= min_lift)
    ]
    readable = readable.assign(_len=readable["antecedents"].map(len)).sort_values(
        ["_len", "lift", "confidence"], ascending=[True, False, False], kind="stable"
    )
    seen: set[frozenset] = set()
    used: dict[str, int] = {}
    out = []
    for row in readable.itertuples(index=False):
        items = (*row.antecedents, *row.consequents)
        key = frozenset(items)
        if key in seen or any(used.get(i, 0) >= max_per_item for i in items):
            continue
        seen.add(key)
        for item in items:
            used[item] = used.get(item, 0) + 1
        a, c = _join(row.antecedents), _join(row.consequents)
        if kind == "baskets":
            text = f"Shoppers who buy {a} also buy {c} — {row.lift:.1f}× more often than average"
        else:
            text = f"People into {a} also follow {c} — {row.lift:.1f}× more than average"
        text += f" ({row.confidence:.0%} of them)."
        public = (
            f"Buying {a}? {c[:1].upper() + c[1:]} goes well with it."
            if kind == "baskets"
            else f"Love {a}? {c[:1].upper() + c[1:]} might be for you too."
        )
        tags = list(dict.fromkeys(hashtag(t) for t in items))
        out.append(
            Angle(
                text=text,
                public=public,
                hashtags=tags,
                antecedents=row.antecedents,
                consequents=row.consequents,
                lift=float(row.lift),
                confidence=float(row.confidence),
                support=float(row.support),
            )
        )
        if len(out) >= n:
            break
    return out


def hashtag_suggestions(rules: pd.DataFrame, *, n: int = 10) -> list[str]:
    """Hashtags of the items that appear in the strongest rules, most lift first."""
    weight: dict[str, float] = {}
    for row in rules.head(200).itertuples(index=False):
        for item in (*row.antecedents, *row.consequents):
            weight[item] = weight.get(item, 0.0) + float(row.lift) * float(row.support)
    ranked = sorted(weight, key=lambda i: (-weight[i], i))
    return list(dict.fromkeys(hashtag(i) for i in ranked))[:n]


# -- on a workspace dataset -----------------------------------------------------------------------
@dataclass(frozen=True)
class RuleReport:
    """Rules of one dataset (or one segment of it) with the settings used."""

    dataset_id: int
    kind: str
    n_transactions: int
    n_itemsets: int
    rules: pd.DataFrame
    segment: int | None
    segment_name: str | None
    min_support: float
    min_confidence: float
    max_len: int | None
    algorithm: str

    def as_json(self) -> dict:
        """``{"n_transactions", "rules": [...]}`` as printed by ``python -m core rules --json``."""
        return {"n_transactions": self.n_transactions, "rules": rules_as_json(self.rules)}


def run_rules(
    ws: Workspace,
    dataset_id: int | None = None,
    *,
    min_support: float = 0.05,
    min_confidence: float = 0.3,
    max_len: int | None = 3,
    segment: int | None = None,
    algorithm: str = "bitsets",
    k: int | None = None,
    behaviour: Behaviour | None = None,
    labels: np.ndarray | None = None,
    engine: str | None = None,
) -> RuleReport:
    """Rules on a workspace dataset; with ``segment``, only among that segment's users.

    The segment ids are those of the dataset's latest segmentation (its k), or of an automatic
    one when the dataset was never segmented; ``k`` or ``labels`` (aligned with the behaviour's
    users) override that. ``engine="spark"`` (or the workspace setting ``audience.engine``)
    condenses the events and mines FP-growth on Spark; the rules are the same.
    """
    info = ws.dataset(dataset_id)
    if resolve_engine(ws, engine) == "spark":
        spark = spark_engine()
        algorithm = "spark"
        if behaviour is None:
            behaviour = spark.spark_behaviour(spark.spark_session(), ws, info.id)
    if behaviour is None:
        behaviour = load_behaviour(ws, info.id)
    transactions = transactions_from_behaviour(behaviour)
    segment_name = None
    if segment is not None:
        if labels is None:
            if k is None:
                run = last_run(ws, info.id)
                k = run["k"] if run else None
            report = run_segments(ws, info.id, k=k, behaviour=behaviour, engine=engine)
            labels, k = report.segmentation.labels, report.k
            names = {p.id: p.name for p in report.profiles}
        else:
            k = int(labels.max()) + 1
            names = segment_names(ws, info.id, k)
        if not 0 <= segment < k:
            raise RulesError(f"segment={segment} does not exist: the segments are 0 to {k - 1}")
        transactions = transactions.subset(labels == segment)
        segment_name = names.get(segment, f"segment {segment}")
    rules, n_itemsets = mine_rules(
        transactions, min_support=min_support, min_confidence=min_confidence, max_len=max_len, algorithm=algorithm
    )
    return RuleReport(
        dataset_id=info.id,
        kind=behaviour.kind if info.kind != "baskets" else "baskets",
        n_transactions=transactions.n,
        n_itemsets=n_itemsets,
        rules=rules,
        segment=segment,
        segment_name=segment_name,
        min_support=min_support,
        min_confidence=min_confidence,
        max_len=max_len,
        algorithm=algorithm,
    )
