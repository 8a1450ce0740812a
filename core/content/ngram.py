"""A smoothed character n-gram model: the baseline the LSTM must beat.

Interpolated Kneser-Ney (raw counts at the highest order, continuation counts below, one
discount per order estimated from counts of counts), over the same symbols as the LSTM: the
characters of :class:`core.content.corpus.Vocabulary`, the unknown-character symbol and the end of post.
Every post starts from a context of padding, so a post's probability never depends on the post
before it.

Counts live in sorted numpy arrays of 64-bit n-gram hashes, not Python dicts: a million
characters at order 9 fit in a few hundred MB and a full evaluation is vectorised. One fit at
order 9 evaluates every order from 1 to 9 (:meth:`CharNgram.bits`).

Posts can carry a **label** (a segment or topic id): every count is then kept per label, exactly
as if one model were fitted on each label's posts (the discounts are shared), in the same arrays:
the label is mixed into every hash. Label 0 is "no label" and hashes as an unlabelled model does.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

__all__ = ["CharNgram"]

log = logging.getLogger(__name__)

_MULT = np.uint64(0x9E3779B97F4A7C15)


def _window_hashes(tokens: np.ndarray, max_order: int, salt: np.ndarray | int = 0) -> list[np.ndarray]:
    """``hashes[n - 1][t]``: hash of the ``n`` tokens ending at ``t`` (for ``t >= max_order - 1``),
    salted with the label hash of position ``t``."""
    toks = tokens.astype(np.uint64) + np.uint64(1)
    out = []
    h = np.zeros(tokens.size, dtype=np.uint64)
    with np.errstate(over="ignore"):
        for n in range(1, max_order + 1):
            shifted = np.zeros_like(toks)
            shifted[n - 1 :] = toks[: toks.size - (n - 1)]
            h = h * _MULT + shifted
            # A final mix so grams that differ in one early position spread over the whole range.
            out.append(_mix(h) ^ salt)
    return out


def _label_hashes(labels) -> np.ndarray:
    """The salt of each label: 0 for label 0 (no label), a mixed 64-bit value otherwise."""
    labels = np.asarray(labels, dtype=np.uint64)
    with np.errstate(over="ignore"):
        return np.where(labels == 0, np.uint64(0), _mix(labels * _MULT + np.uint64(0x632BE59BD9B4E019)))


@dataclass
class _Table:
    grams: np.ndarray  # sorted unique gram hashes
    counts: np.ndarray  # count (raw or continuation) per gram
    contexts: np.ndarray  # sorted unique context hashes
    context_totals: np.ndarray
    context_types: np.ndarray
    discount: float


@dataclass
class _Flat:
    """Every level's table for one order as one sorted array each (keys tagged with their level in
    the top bits): a sampler's step then searches the contexts once and the grams once."""

    grams: np.ndarray
    counts: np.ndarray
    contexts: np.ndarray
    context_totals: np.ndarray
    context_types: np.ndarray
    discounts: np.ndarray  # per level 1..order


_LEVEL_SHIFT = np.uint64(59)
_HASH_BITS = np.uint64((1 << 59) - 1)


def _tagged(hashes: np.ndarray, level) -> np.ndarray:
    """Hashes of n-grams of ``level`` symbols, their top bits replaced by the level."""
    return (hashes & _HASH_BITS) | (np.asarray(level, dtype=np.uint64) << _LEVEL_SHIFT)


def _search(keys: np.ndarray, queries: np.ndarray) -> np.ndarray:
    """``np.searchsorted(keys, queries)`` clipped to the last key, with the queries searched in
    sorted order: numpy narrows each search from the previous one, 2-3x faster on a sampler's
    thousands of random hashes."""
    flat = queries.ravel()
    order = np.argsort(flat)
    pos = np.empty(flat.size, dtype=np.intp)
    pos[order] = np.searchsorted(keys, flat[order])
    return np.minimum(pos, keys.size - 1).reshape(queries.shape)


def _lookup(keys: np.ndarray, values: np.ndarray, queries: np.ndarray) -> np.ndarray:
    """``values`` at ``queries`` in the sorted ``keys`` (0 where absent)."""
    if keys.size == 0:
        return np.zeros(queries.size, dtype=np.float64)
    pos = np.searchsorted(keys, queries)
    pos = np.minimum(pos, keys.size - 1)
    return np.where(keys[pos] == queries, values[pos], 0).astype(np.float64)


def _find(keys: np.ndarray, queries: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Position of each query in the sorted, non-empty ``keys`` and whether it is there."""
    pos = np.minimum(np.searchsorted(keys, queries), keys.size - 1)
    return pos, keys[pos] == queries


def _table(grams: np.ndarray, contexts: np.ndarray, counts: np.ndarray) -> _Table:
    """A table from unique grams, their context hashes and counts."""
    order = np.argsort(grams, kind="stable")
    grams, contexts, counts = grams[order], contexts[order], counts[order]
    ctx_sorted = np.argsort(contexts, kind="stable")
    uniq_ctx, inverse = np.unique(contexts[ctx_sorted], return_inverse=True)
    totals = np.bincount(inverse, weights=counts[ctx_sorted], minlength=uniq_ctx.size)
    types = np.bincount(inverse, minlength=uniq_ctx.size).astype(np.float64)
    n1 = float(np.sum(counts == 1))
    n2 = float(np.sum(counts == 2))
    discount = n1 / (n1 + 2 * n2) if n1 + n2 > 0 else 0.5
    discount = min(max(discount, 0.05), 0.95)
    return _Table(grams, counts.astype(np.float64), uniq_ctx, totals, types, discount)


class CharNgram:
    """Interpolated Kneser-Ney over integer symbol sequences.

    Parameters
    ----------
    max_order : int, default 9
        Longest n-gram counted; :meth:`bits` can evaluate any order up to it.
    n_symbols : int
        How many symbols can follow a context (characters, unknown, end of post); the base
        distribution is uniform over them.
    """

    def __init__(self, *, n_symbols: int, max_order: int = 9) -> None:
        if max_order < 1:
            raise ValueError(f"max_order={max_order} must be at least 1")
        if n_symbols < 2:
            raise ValueError(f"n_symbols={n_symbols} must be at least 2")
        self.max_order = max_order
        self.n_symbols = n_symbols
        self.raw: list[_Table] = []
        self.continuation: list[_Table] = []
        self._flat: dict[int, _Flat] = {}

    @staticmethod
    def _stream(sequences: list[np.ndarray], pad: int, labels=None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """All posts, each behind ``pad`` padding symbols, a mask of the target positions and the
        label salt of every position (a post's padding carries its label)."""
        lengths = np.array([len(s) for s in sequences], dtype=np.int64)
        total = int(lengths.sum() + pad * len(sequences))
        tokens = np.zeros(total, dtype=np.int64)
        target = np.zeros(total, dtype=bool)
        pos = 0
        for seq in sequences:
            pos += pad
            tokens[pos : pos + len(seq)] = seq
            target[pos : pos + len(seq)] = True
            pos += len(seq)
        if labels is None:
            salt = np.zeros(total, dtype=np.uint64)
        else:
            if len(labels) != len(sequences):
                raise ValueError(f"{len(labels)} labels for {len(sequences)} sequences")
            salt = np.repeat(_label_hashes(labels), lengths + pad)
        return tokens, target, salt

    def fit(self, sequences: list[np.ndarray], *, labels=None) -> CharNgram:
        """Count every n-gram of the training posts (each a sequence of ids ending with end-of-post),
        per label when ``labels`` (one non-negative int per post) are given."""
        pad = self.max_order  # one more than needed, so every gram has a left extension
        tokens, target, salt = self._stream([np.asarray(s) for s in sequences], pad, labels)
        hashes = _window_hashes(tokens, self.max_order + 1, salt)
        idx = np.flatnonzero(target)
        self.raw, self.continuation, self._flat = [], [], {}
        for n in range(1, self.max_order + 1):
            grams = hashes[n - 1][idx]
            contexts = hashes[n - 2][idx - 1] if n > 1 else salt[idx]
            uniq, first, counts = np.unique(grams, return_index=True, return_counts=True)
            self.raw.append(_table(uniq, contexts[first], counts))
            # Continuation count: how many distinct symbols precede this n-gram.
            longer = hashes[n][idx]
            _, first_long = np.unique(longer, return_index=True)
            cont_grams = grams[first_long]
            cuniq, cfirst, ccounts = np.unique(cont_grams, return_index=True, return_counts=True)
            self.continuation.append(_table(cuniq, contexts[first_long][cfirst], ccounts))
        log.info("n-gram counted %d target symbols up to order %d", idx.size, self.max_order)
        return self

    def _probs(
        self, grams: list[np.ndarray], contexts: list[np.ndarray], order: int, empty_context: np.ndarray
    ) -> np.ndarray:
        """Interpolated Kneser-Ney probability of each gram; ``grams[n - 1]`` / ``contexts[n - 2]``
        hold the hashes of the last ``n`` symbols / of the ``n - 1`` symbols before the last, and
        ``empty_context`` the hash of no symbol (the label's salt)."""
        p = np.full(grams[0].shape, 1.0 / self.n_symbols)
        for n in range(1, order + 1):
            table = self.raw[n - 1] if n == order else self.continuation[n - 1]
            context = contexts[n - 2] if n > 1 else empty_context
            # One search of the contexts serves both their totals and their type counts.
            if table.contexts.size == 0:
                break
            pos, found = _find(table.contexts, context.ravel())
            if not found.any():
                break  # a context never seen has no longer context that was seen either
            total = np.where(found, table.context_totals[pos], 0.0).reshape(context.shape)
            types = np.where(found, table.context_types[pos], 0.0).reshape(context.shape)
            seen = np.broadcast_to(total > 0, p.shape)
            count = np.zeros(p.shape)
            count[seen] = _lookup(table.grams, table.counts, grams[n - 1][seen])
            safe = np.where(total > 0, total, 1.0)
            mixed = (np.maximum(count - table.discount, 0.0) + table.discount * types * p) / safe
            p = np.where(seen, mixed, p)
        return p

    def _check_order(self, order: int | None) -> int:
        order = order or self.max_order
        if not 1 <= order <= self.max_order or not self.raw:
            raise ValueError(f"order={order} must be between 1 and max_order={self.max_order} of a fitted model")
        return order

    def bits(self, sequences: list[np.ndarray], *, order: int | None = None, labels=None) -> np.ndarray:
        """``-log2 p`` of every symbol of every sequence, concatenated in order.

        Parameters
        ----------
        sequences
            Posts as id sequences ending with the end-of-post id.
        order
            The n-gram order to use (default: ``max_order``).
        labels
            One label per post, for a model fitted with labels (default: all 0).
        """
        order = self._check_order(order)
        tokens, target, salt = self._stream([np.asarray(s) for s in sequences], self.max_order, labels)
        hashes = _window_hashes(tokens, self.max_order, salt)
        idx = np.flatnonzero(target)
        grams = [h[idx] for h in hashes]
        contexts = [h[idx - 1] for h in hashes]
        return -np.log2(self._probs(grams, contexts, order, salt[idx]))

    def next_probs(
        self,
        contexts: np.ndarray,
        candidates: np.ndarray,
        *,
        order: int | None = None,
        labels=None,
        where: np.ndarray | None = None,
    ) -> np.ndarray:
        """Probability of each candidate symbol after each context (a sampler's step).

        Parameters
        ----------
        contexts
            ``(batch, width)`` symbols written so far in each post, oldest first, left-padded
            with 0 (the padding every post starts from); only the last ``order - 1`` are read.
        candidates
            ``(batch, k)`` symbols whose probability is wanted.
        order
            The n-gram order to use (default: ``max_order``).
        labels
            ``(batch,)`` label of each row, for a model fitted with labels (default: all 0).
        where
            ``(batch, k)`` which candidates are wanted (default: all); the others are not looked up
            and get a value that means nothing (a sampler passes the symbols it has not ruled out).

        Returns
        -------
        numpy.ndarray
            ``(batch, k)`` probabilities, equal to ``2 ** -bits`` of the same symbols in a post.
        """
        order = self._check_order(order)
        contexts = np.asarray(contexts, dtype=np.int64)
        candidates = np.asarray(candidates, dtype=np.int64)
        width = max(order - 1, 1)
        tail = np.zeros((contexts.shape[0], width), dtype=np.int64)
        keep = min(width, contexts.shape[1])
        if keep:
            tail[:, width - keep :] = contexts[:, contexts.shape[1] - keep :]
        salt = (np.zeros(contexts.shape[0], dtype=np.uint64) if labels is None else _label_hashes(labels))[:, None]
        flat = self._flat_tables(order)
        levels = np.arange(1, order + 1, dtype=np.uint64)
        # Level n's context: the n - 1 symbols before the candidate (level 1: none, the label's salt).
        contexts = np.stack([salt[:, 0]] + [h ^ salt[:, 0] for h in _suffix_hashes(tail, width)[: order - 1]])
        contexts = _tagged(contexts, levels[:, None])
        pos = _search(flat.contexts, contexts)
        found = flat.contexts[pos] == contexts
        totals = np.where(found, flat.context_totals[pos], 0.0)
        types = np.where(found, flat.context_types[pos], 0.0)
        # Only the wanted (row, candidate) pairs are computed, as one flat batch.
        wanted = np.ones(candidates.shape, dtype=bool) if where is None else np.asarray(where, dtype=bool)
        rows, cols = np.nonzero(wanted)
        pair_symbols = candidates[rows, cols][:, None]
        # Only grams whose context was seen can have been seen (and only they are read below).
        seen = found[:, rows]
        grams = _tagged(
            np.stack([(h ^ salt[rows])[:, 0] for h in _extend_hashes(tail[rows], pair_symbols, order)])[seen],
            np.broadcast_to(levels[:, None], seen.shape)[seen],
        )
        gpos = _search(flat.grams, grams)
        counts = np.zeros(seen.shape)
        counts[seen] = np.where(flat.grams[gpos] == grams, flat.counts[gpos], 0.0)
        # The same recursion as :meth:`_probs`, level by level on arrays already looked up.
        p = np.full(rows.size, 1.0 / self.n_symbols)
        for n in range(order):
            total = totals[n][rows]
            if not (total > 0).any():
                break
            discount = flat.discounts[n]
            mixed = (np.maximum(counts[n] - discount, 0.0) + discount * types[n][rows] * p) / np.where(
                total > 0, total, 1.0
            )
            p = np.where(total > 0, mixed, p)
        out = np.full(candidates.shape, 1.0 / self.n_symbols)
        out[rows, cols] = p
        return out

    def _flat_tables(self, order: int) -> _Flat:
        """The tables :meth:`_probs` reads at ``order``, merged for :meth:`next_probs` (built once)."""
        if order not in self._flat:
            tables = [self.raw[n - 1] if n == order else self.continuation[n - 1] for n in range(1, order + 1)]

            def merged(key: str, values: tuple[str, ...]) -> list[np.ndarray]:
                parts = []
                for n, table in enumerate(tables, start=1):
                    keys = _tagged(getattr(table, key), n)
                    order_ = np.argsort(keys, kind="stable")
                    parts.append([keys[order_]] + [getattr(table, v)[order_] for v in values])
                return [np.concatenate(column) if column else np.zeros(0) for column in zip(*parts, strict=True)]

            grams, counts = merged("grams", ("counts",))
            contexts, totals, types = merged("contexts", ("context_totals", "context_types"))
            if grams.size == 0 or contexts.size == 0:  # never happens once fitted; keep searches safe
                grams, counts = np.zeros(1, np.uint64), np.zeros(1)
                contexts, totals, types = np.zeros(1, np.uint64), np.zeros(1), np.zeros(1)
            self._flat[order] = _Flat(grams, counts, contexts, totals, types, np.array([t.discount for t in tables]))
        return self._flat[order]


def _mix(h: np.ndarray) -> np.ndarray:
    mixed = h ^ (h >> np.uint64(29))
    mixed = mixed * np.uint64(0xBF58476D1CE4E5B9)
    return mixed ^ (mixed >> np.uint64(32))


def _suffix_hashes(rows: np.ndarray, max_n: int) -> list[np.ndarray]:
    """``hashes[n - 1][b]``: hash of the last ``n`` symbols of row ``b``, as :func:`_window_hashes`."""
    toks = rows.astype(np.uint64) + np.uint64(1)
    h = np.zeros(rows.shape[0], dtype=np.uint64)
    out = []
    with np.errstate(over="ignore"):
        for n in range(1, max_n + 1):
            h = h * _MULT + toks[:, -n]
            out.append(_mix(h))
    return out


def _extend_hashes(tail: np.ndarray, candidates: np.ndarray, max_n: int) -> list[np.ndarray]:
    """``hashes[n - 1][b, j]``: hash of the last ``n - 1`` symbols of ``tail[b]`` then ``candidates[b, j]``."""
    toks = tail.astype(np.uint64) + np.uint64(1)
    h = candidates.astype(np.uint64) + np.uint64(1)
    out = []
    with np.errstate(over="ignore"):
        out.append(_mix(h))
        for n in range(2, max_n + 1):
            h = h * _MULT + toks[:, -(n - 1), None]
            out.append(_mix(h))
    return out
