"""Exact duplicate rows, found across the blocks of a file by 64-bit row hashes.

Hashing works on Arrow's buffers with numpy (no Python string per value), and the set of hashes
seen is one sorted numpy array, so 10M rows cost 80 MB rather than a Python set of 10M objects.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

__all__ = ["Dedup"]


_COMBINE = np.uint64(0x9E3779B97F4A7C15)  # odd, so multiplying by it loses no bit
_BYTE_MASKS = np.array([(1 << (8 * k)) - 1 for k in range(9)], dtype=np.uint64)  # the first k bytes of a word


def _mix(z: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser, in place: a bijection of uint64 that spreads every bit over all."""
    z ^= z >> np.uint64(30)
    z *= np.uint64(0xBF58476D1CE4E5B9)
    z ^= z >> np.uint64(27)
    z *= np.uint64(0x94D049BB133111EB)
    z ^= z >> np.uint64(31)
    return z


def _hash_strings(values: pa.Array) -> np.ndarray:
    """A 64-bit hash of every string: its length, then its bytes 8 at a time, each mixed in.

    Works on the Arrow buffers with numpy (no Python string per value); a step per 8 bytes of
    the longest value, over the values that long.
    """
    if not len(values):
        return np.empty(0, dtype=np.uint64)
    width = np.int64 if pa.types.is_large_string(values.type) else np.int32
    _, offsets_buffer, data_buffer = values.buffers()
    offsets = np.frombuffer(offsets_buffer, dtype=width)[values.offset : values.offset + len(values) + 1].astype(
        np.int64
    )
    data = np.frombuffer(data_buffer, dtype=np.uint8) if data_buffer is not None else np.empty(0, np.uint8)
    data = np.concatenate([data[offsets[0] : offsets[-1]], np.zeros(8, np.uint8)])
    # words[i] is the little-endian word of the 8 bytes from byte i on (a view, not a copy).
    words = np.ndarray(shape=(len(data) - 7,), dtype="<u8", buffer=data, strides=(1,))
    starts, lengths = offsets[:-1] - offsets[0], np.diff(offsets)
    hashes = _mix(lengths.astype(np.uint64) + np.uint64(0x9E3779B97F4A7C15))
    longest = int(lengths.max(initial=0))
    if longest and lengths.min() == longest:  # every value as long (timestamps, codes): strided views, no gathers
        for k in range(0, longest, 8):
            word = words[k::longest][: len(values)]
            if longest - k < 8:
                word = word & _BYTE_MASKS[longest - k]
            hashes = _mix(hashes ^ word)
    else:
        for k in range(0, longest, 8):
            rows = slice(None) if k == 0 else np.flatnonzero(lengths > k)
            word = words[starts[rows] + k] & _BYTE_MASKS[np.minimum(lengths[rows] - k, 8)]
            hashes[rows] = _mix(hashes[rows] ^ word)
    if values.null_count:
        hashes[values.is_null().to_numpy(zero_copy_only=False)] = 0
    return hashes


class Dedup:
    """Remembers 64-bit row hashes across blocks; a hash seen before is an exact duplicate.

    Each block's new hashes are kept as one sorted run (8 bytes a row, not a Python set of 10M
    objects). A flag per 2**26 slices of the hash range (64 MB) tells the rows whose hash may have
    been seen; only those are looked up in the runs, so a block costs about the same however
    many came before, and nothing is merged. Two different rows share a 64-bit hash with odds of
    about n²/2⁶⁵, under one in a million for 10M rows.
    """

    _SLICE_BITS = 26

    def __init__(self) -> None:
        self.runs: list[np.ndarray] = []
        self.flags: np.ndarray | None = None  # allocated on the first block (zero pages cost nothing until written)

    @staticmethod
    def hashes(table: pa.Table, encoded: dict[str, pa.DictionaryArray] | None = None) -> np.ndarray:
        """The hash of every row, from its columns' hashes in order (pure, so it can run ahead
        on the reading thread; numpy releases the GIL).

        A column given in ``encoded`` (its dictionary encoding) is hashed once per distinct value.
        """
        encoded = encoded or {}
        # The columns' hashes, each already well mixed, are combined as a polynomial (an odd
        # multiplier keeps every column's difference) and mixed once at the end.
        hashes = np.full(table.num_rows, table.num_columns, dtype=np.uint64)
        for name, column in zip(table.column_names, table.columns, strict=True):
            hashes *= _COMBINE
            if name in encoded:
                indices = encoded[name].indices.to_numpy(zero_copy_only=False)
                hashes += _hash_strings(encoded[name].dictionary)[indices]
            else:
                hashes += _hash_strings(column.combine_chunks())
        return _mix(hashes)

    def first_seen(self, hashes: np.ndarray) -> np.ndarray:
        """Boolean mask of rows (given by their :meth:`hashes`) not seen before, also within this block."""
        # numpy's default sort is about twice as fast as its stable one; equal hashes may then come
        # in any order, so each run of them is marked new at its smallest row (the first row).
        order = np.argsort(hashes)
        sorted_hashes = hashes[order]
        run_start = np.ones(len(hashes), dtype=bool)
        run_start[1:] = sorted_hashes[1:] != sorted_hashes[:-1]
        new_sorted = run_start.copy()
        if self.flags is None:
            self.flags = np.zeros(1 << self._SLICE_BITS, dtype=bool)
        slices = sorted_hashes >> np.uint64(64 - self._SLICE_BITS)
        maybe = np.flatnonzero(self.flags[slices] & run_start)
        if len(maybe) and self.runs:
            candidates = sorted_hashes[maybe]
            seen = np.zeros(len(maybe), dtype=bool)
            for run in self.runs:
                pos = np.minimum(np.searchsorted(run, candidates), len(run) - 1)
                seen |= run[pos] == candidates
            new_sorted[maybe[seen]] = False
        first_in_block = np.zeros(len(hashes), dtype=bool)
        if run_start.all():
            first_in_block[order] = new_sorted
        else:
            starts = np.flatnonzero(run_start)
            first_in_block[np.minimum.reduceat(order, starts)[new_sorted[starts]]] = True
        added = sorted_hashes[new_sorted]
        if len(added):
            self.runs.append(added)
            self.flags[slices[new_sorted]] = True
        return first_in_block
