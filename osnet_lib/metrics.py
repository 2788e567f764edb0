"""Re-identification evaluation: distances, CMC rank-k, mAP and mINP (Sec. 4.1).

The paper matches a query to the gallery by the cosine distance between 512-D feature vectors
and reports cumulative matching characteristics (CMC) rank-k accuracy and mean average precision
(mAP) (Sec. 4.1, "Datasets and Settings" and "Implementation Details"). This module is the one
home of those metrics; it adds mINP (Ye et al., "Deep Learning for Person Re-identification: A
Survey and Outlook", TPAMI 2021), the CUHK03 single-gallery-shot protocol and the mean and spread
over the 10 random splits used for VIPeR, GRID and CUHK01.

The standard protocol, for each query ``i``:

- gallery samples with the query's identity AND the query's camera are removed (they are easy
  matches from the same view);
- gallery *junk* samples (identity ``junk_pid``, ``-1`` by default, as Market1501 names them) are
  always ignored, for every query;
- *distractors* (identity ``0`` in Market1501, or any identity absent from the query set) stay in
  the ranking as negatives;
- a query with no valid match left in the gallery is skipped and counted: see
  :attr:`ReIDResult.num_valid_queries`.

Ties: gallery samples are ordered by distance and, at equal distance, by gallery index (the order
a stable sort gives). Every metric is computed under this one deterministic order.

The implementation never sorts a row of the distance matrix. Queries are processed in chunks;
for each query only its matches are sorted, each negative is placed among them by binary search,
and the number of negatives before each match gives that match's rank: CMC, AP and INP need
nothing else. Only negatives no farther than the query's farthest match can precede a match;
when those are few (as with a trained model) only they are searched, otherwise every entry of
the chunk is. Given features instead of a distance matrix, each chunk computes its own
distances, so the full matrix never exists.
"""

import json
import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, overload

import numpy as np
import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

__all__ = [
    "METRICS",
    "PROTOCOLS",
    "PerQuery",
    "ReIDResult",
    "SplitAverage",
    "average_over_splits",
    "compute_distance",
    "evaluate",
    "top_matches",
]

logger = logging.getLogger(__name__)

#: Distance metrics understood by :func:`compute_distance` and :func:`evaluate`.
METRICS: tuple[str, ...] = ("cosine", "euclidean")
#: Evaluation protocols understood by :func:`evaluate`.
PROTOCOLS: tuple[str, ...] = ("standard", "cuhk03")

# Elements of one query chunk's distance block (rows x gallery size). About 4M keeps the
# temporaries of a chunk (distances, masks, int64 buckets) near 100 MB...
_CHUNK_ELEMENTS = 1 << 22
# ...but never fewer rows than this: matrix products with few rows run at half the speed.
_MIN_CHUNK_ROWS = 256
# When the entries no farther than their query's farthest match are at most this fraction of a
# chunk, only they are placed among the matches; otherwise all entries of the chunk are.
_SPARSE_FRACTION = 0.25

ArrayOrTensor = np.ndarray | torch.Tensor


# --------------------------------------------------------------------------------------------
# Input checking
# --------------------------------------------------------------------------------------------


def _as_tensor(x: Any, name: str) -> torch.Tensor:
    """Wrap a numpy array or tensor as a tensor without copying where possible."""
    if isinstance(x, torch.Tensor):
        return x
    if isinstance(x, np.ndarray):
        return torch.from_numpy(np.ascontiguousarray(x))
    raise TypeError(f"{name} must be a numpy array or a torch tensor, got {type(x).__name__}")


def _is_int(x: object) -> bool:
    return isinstance(x, (int, np.integer)) and not isinstance(x, bool)


def _check_metric(metric: str) -> None:
    if metric not in METRICS:
        raise ValueError(f"unknown metric {metric!r}; valid metrics are {list(METRICS)}")


def _float_matrix(x: Any, name: str) -> torch.Tensor:
    """A 2-D floating tensor (float64 kept, everything else float32), finite, on its device."""
    t = _as_tensor(x, name).detach()
    if t.ndim != 2:
        raise ValueError(f"{name} must be 2-D (samples x dims), got shape {tuple(t.shape)}")
    if t.dtype == torch.bool or t.is_complex():
        raise TypeError(f"{name} must hold real numbers, got dtype {t.dtype}")
    if t.dtype != torch.float64:
        t = t.to(torch.float32)
    if not bool(torch.isfinite(t).all()):
        raise ValueError(f"{name} contains NaN or infinite values")
    return t


def _prepare_features(qf: Any, gf: Any, metric: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Check a pair of feature matrices and, for the cosine metric, L2-normalise them."""
    _check_metric(metric)
    q = _float_matrix(qf, "qf")
    g = _float_matrix(gf, "gf")
    if q.shape[1] != g.shape[1]:
        raise ValueError(
            f"qf and gf must have the same feature dimension, got {q.shape[1]} and {g.shape[1]}"
        )
    if q.device != g.device:
        raise ValueError(f"qf and gf must be on the same device, got {q.device} and {g.device}")
    if q.dtype != g.dtype:
        q, g = q.to(torch.float64), g.to(torch.float64)
    if metric == "cosine":
        q = F.normalize(q, p=2.0, dim=1)
        g = F.normalize(g, p=2.0, dim=1)
    return q, g


def _pairwise(q: torch.Tensor, g: torch.Tensor, metric: str) -> torch.Tensor:
    """Distances between prepared features (normalised for cosine), shape (len(q), len(g))."""
    if metric == "cosine":
        return torch.addmm(q.new_ones(()), q, g.T, alpha=-1.0)  # 1 - q g^T in one pass
    sq = (q * q).sum(1, keepdim=True) + (g * g).sum(1)[None, :] - 2.0 * (q @ g.T)
    return sq.clamp_min_(0.0).sqrt_()


def _labels(x: Any, name: str, n: int | None = None) -> np.ndarray:
    """A 1-D int64 array of identity or camera labels."""
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu().numpy()
    a = np.asarray(x)
    if a.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {a.shape}")
    if a.size and a.dtype.kind not in "iu":
        raise TypeError(f"{name} must hold integers, got dtype {a.dtype}")
    if n is not None and a.shape[0] != n:
        raise ValueError(f"{name} has {a.shape[0]} entries but {n} were expected")
    return a.astype(np.int64, copy=False)


# --------------------------------------------------------------------------------------------
# Distances
# --------------------------------------------------------------------------------------------


@overload
def compute_distance(qf: torch.Tensor, gf: torch.Tensor, metric: str = ...) -> torch.Tensor: ...
@overload
def compute_distance(qf: np.ndarray, gf: np.ndarray, metric: str = ...) -> np.ndarray: ...
def compute_distance(qf: ArrayOrTensor, gf: ArrayOrTensor, metric: str = "cosine") -> ArrayOrTensor:
    """Distance matrix between query and gallery features (Sec. 4.1: "cosine distance").

    Args:
        qf: query features, shape (num_query, dim).
        gf: gallery features, shape (num_gallery, dim).
        metric: ``"cosine"``: ``1 - cos(q, g)`` on L2-normalised features, in [0, 2]; a zero
            vector has cosine similarity 0 with everything (distance 1). ``"euclidean"``: the
            plain (not squared) L2 distance ``||q - g||``. Both give the same ranking as their
            monotone variants (cosine similarity, squared L2), hence the same CMC/mAP/mINP.

    Returns:
        (num_query, num_gallery) distances: a tensor on the inputs' device when both inputs are
        tensors, otherwise a numpy array. float64 if either input is float64, else float32.

    Raises:
        ValueError: unknown ``metric``, inputs not 2-D, different feature dimensions, or
            non-finite values.
        TypeError: inputs that are not arrays/tensors of real numbers.
    """
    q, g = _prepare_features(qf, gf, metric)
    d = _pairwise(q, g, metric)
    if isinstance(qf, torch.Tensor) and isinstance(gf, torch.Tensor):
        return d
    return d.cpu().numpy()


# --------------------------------------------------------------------------------------------
# Results
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReIDResult:
    """Outcome of one evaluation; every metric is a fraction in [0, 1].

    Attributes:
        cmc: CMC curve, ``cmc[k - 1]`` is the fraction of valid queries whose first correct
            match is among the top ``k`` valid gallery samples (rank-k accuracy), k = 1..max_rank.
        mAP: mean over valid queries of the average precision.
        mINP: mean over valid queries of ``num_positives / rank_of_the_last_positive``.
        num_valid_queries: queries with at least one valid match (the others are skipped).
        num_queries: all queries given.
        protocol: ``"standard"`` or ``"cuhk03"``.
        per_query: the valid queries one by one (:class:`PerQuery`): what a paired bootstrap
            over queries resamples (:mod:`osnet_lib.experiments.claims`). Not part of
            :meth:`as_dict`.
    """

    cmc: np.ndarray
    mAP: float
    mINP: float
    num_valid_queries: int
    num_queries: int
    protocol: str = "standard"
    per_query: "PerQuery | None" = field(default=None, repr=False, compare=False)

    @property
    def rank1(self) -> float:
        """Rank-1 accuracy, ``cmc[0]``."""
        return float(self.cmc[0])

    @property
    def max_rank(self) -> int:
        """Length of the CMC curve."""
        return int(len(self.cmc))

    @property
    def num_skipped_queries(self) -> int:
        """Queries without any valid match in the gallery."""
        return self.num_queries - self.num_valid_queries

    def rank(self, k: int) -> float:
        """Rank-k accuracy, ``cmc[k - 1]``, for 1 <= k <= max_rank."""
        if not 1 <= k <= self.max_rank:
            raise ValueError(f"rank k={k} is outside 1..{self.max_rank} (the CMC's max_rank)")
        return float(self.cmc[k - 1])

    def as_dict(self) -> dict[str, Any]:
        """Plain-Python form for JSON: metrics as fractions, ``cmc`` as a list."""
        out: dict[str, Any] = {"protocol": self.protocol}
        for k in (1, 5, 10, 20):
            if k <= self.max_rank:
                out[f"rank{k}"] = self.rank(k)
        out.update(
            mAP=float(self.mAP),
            mINP=float(self.mINP),
            num_valid_queries=int(self.num_valid_queries),
            num_queries=int(self.num_queries),
            cmc=[float(v) for v in self.cmc],
        )
        return out

    def to_json(self, **kwargs: Any) -> str:
        """JSON text of :meth:`as_dict`; keyword arguments go to :func:`json.dumps`."""
        return json.dumps(self.as_dict(), **kwargs)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "ReIDResult":
        """Inverse of :meth:`as_dict` (the derived ``rankK`` keys are ignored)."""
        missing = {"cmc", "mAP", "mINP", "num_valid_queries", "num_queries"} - set(d)
        if missing:
            raise ValueError(f"result dict lacks the keys {sorted(missing)}")
        return cls(
            cmc=np.asarray(d["cmc"], dtype=np.float64),
            mAP=float(d["mAP"]),
            mINP=float(d["mINP"]),
            num_valid_queries=int(d["num_valid_queries"]),
            num_queries=int(d["num_queries"]),
            protocol=str(d.get("protocol", "standard")),
        )

    def __str__(self) -> str:
        parts = [f"R{k} {100 * self.rank(k):.1f}" for k in (1, 5, 10) if k <= self.max_rank]
        parts += [f"mAP {100 * self.mAP:.1f}", f"mINP {100 * self.mINP:.1f}"]
        return " ".join(parts) + f" (%, {self.num_valid_queries}/{self.num_queries} queries)"


@dataclass(frozen=True)
class PerQuery:
    """Each valid query's outcome under the standard ranking (distance, then gallery index).

    Attributes:
        index: ``(V,)`` int, the position of each valid query in the query list.
        first_match: ``(V,)`` int, the 0-based rank of the query's first valid match among the
            valid gallery samples: rank-k counts ``first_match < k`` (the standard protocol's
            CMC is exactly ``mean(first_match < k)``).
        ap: ``(V,)`` float, the query's average precision (``mAP = mean(ap)``).
    """

    index: np.ndarray
    first_match: np.ndarray
    ap: np.ndarray

    def rank(self, k: int = 1) -> np.ndarray:
        """``(V,)`` bool: the query's first match is within the top ``k``."""
        return self.first_match < k

    def as_dict(self, decimals: int = 5) -> dict[str, list]:
        """Plain lists for JSON (AP rounded to ``decimals``)."""
        return {"index": self.index.tolist(), "first_match": self.first_match.tolist(),
                "ap": np.round(self.ap, decimals).tolist()}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "PerQuery":
        """Inverse of :meth:`as_dict`; ValueError if the keys or lengths do not match."""
        missing = {"index", "first_match", "ap"} - set(d)
        if missing:
            raise ValueError(f"per-query record lacks the keys {sorted(missing)}")
        out = cls(np.asarray(d["index"], dtype=np.int64),
                  np.asarray(d["first_match"], dtype=np.int64),
                  np.asarray(d["ap"], dtype=np.float64))
        if not len(out.index) == len(out.first_match) == len(out.ap):
            raise ValueError("per-query record: index, first_match and ap differ in length")
        return out


# --------------------------------------------------------------------------------------------
# Core: ranks of the positives of each query in a chunk
# --------------------------------------------------------------------------------------------


def _positive_ranks(
    d: torch.Tensor,
    q_ids: torch.Tensor,
    g_ids: torch.Tensor,
    pos_rows: torch.Tensor,
    pos_cols: torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor]:
    """0-based ranks of each row's valid matches among its valid gallery samples.

    ``d`` (B, G) distances of a chunk of queries (junk already removed from the gallery);
    ``q_ids`` (B,) and ``g_ids`` (G,) identities; ``pos_rows``/``pos_cols`` the valid matches
    (same identity, other camera) in row-major order, columns ascending. Negatives are the
    samples of other identities; same-identity same-camera samples count for nothing. Order:
    distance, then gallery index.

    Returns ``ranks`` (B, P), ascending per row, with ``P`` the largest number of matches of a
    row (entries past a row's own count are meaningless) and ``npos`` (B,).
    """
    b_rows = d.shape[0]
    npos = torch.bincount(pos_rows, minlength=b_rows)
    pmax = int(npos.max()) if pos_rows.numel() else 0
    if pmax == 0:
        return torch.zeros(b_rows, 0, dtype=torch.long), npos
    pos_dist = d[pos_rows, pos_cols]
    farthest = torch.full((b_rows,), -math.inf, dtype=d.dtype)
    farthest.scatter_reduce_(0, pos_rows, pos_dist, reduce="amax")
    # Only samples no farther than a row's farthest match can precede one of its matches.
    near = (d <= farthest.unsqueeze(1)).numpy()
    if d.dtype == torch.float32 and np.count_nonzero(near) <= _SPARSE_FRACTION * d.numel():
        hist = _buckets_near(d, near, q_ids, g_ids, pos_rows, pos_cols, pos_dist, npos)
    else:
        hist = _buckets_all(d, q_ids, g_ids, pos_rows, pos_cols, pos_dist, npos)
    # hist[i, k]: negatives of row i preceded by exactly k matches, i.e. between matches k-1, k.
    negatives_before = hist[:, :pmax].cumsum(1)
    return negatives_before + torch.arange(pmax).unsqueeze(0), npos


def _ordered_key(x: np.ndarray) -> np.ndarray:
    """Monotone map of finite float32 values to int64 in [0, 2**32): ``a < b`` iff keys are."""
    bits = (x + np.float32(0.0)).view(np.int32).astype(np.int64)  # + 0 turns -0.0 into +0.0
    return np.where(bits >= 0, bits + (1 << 31), -1 - bits)


def _buckets_near(
    d: torch.Tensor,
    near: np.ndarray,
    q_ids: torch.Tensor,
    g_ids: torch.Tensor,
    pos_rows: torch.Tensor,
    pos_cols: torch.Tensor,
    pos_dist: torch.Tensor,
    npos: torch.Tensor,
) -> torch.Tensor:
    """Per-row histogram of matches-before counts, from the few negatives near the query.

    Every (row, distance) pair becomes one exact int64 key, so one 1-D binary search places
    each near negative among all matches of the chunk. Plain numpy: the arrays are small.
    """
    (b_rows, g_cols), pmax = d.shape, int(npos.max())
    flat = np.flatnonzero(near)
    rows, cols = np.divmod(flat, g_cols)
    is_neg = g_ids.numpy()[cols] != q_ids.numpy()[rows]
    flat, rows, cols = flat[is_neg], rows[is_neg], cols[is_neg]
    neg_key = (rows << 32) + _ordered_key(d.numpy().reshape(-1)[flat])
    p_rows, p_cols = pos_rows.numpy(), pos_cols.numpy()
    pos_key = (p_rows << 32) + _ordered_key(pos_dist.numpy())
    # Matches arrive with ascending columns: a stable sort gives (row, distance, index) order.
    order = np.argsort(pos_key, kind="stable")
    pos_key, p_cols = pos_key[order], p_cols[order]
    before = np.searchsorted(pos_key, neg_key)  # matches of earlier rows, or closer
    tied = np.flatnonzero(pos_key[np.minimum(before, pos_key.size - 1)] == neg_key)
    if tied.size:
        # Equal distance: matches with a smaller gallery index come first.
        lo = before[tied]
        hi = np.searchsorted(pos_key, neg_key[tied], side="right")
        run = lo[:, None] + np.arange(int((hi - lo).max()))[None, :]
        earlier = (run < hi[:, None]) & (
            p_cols[np.minimum(run, pos_key.size - 1)] < cols[tied, None]
        )
        before[tied] += earlier.sum(1)
    n_pos = npos.numpy()
    first_match = np.cumsum(n_pos) - n_pos
    bucket = rows * (pmax + 1) + (before - first_match[rows])
    hist = np.bincount(bucket, minlength=b_rows * (pmax + 1)).reshape(b_rows, pmax + 1)
    return torch.from_numpy(hist)


def _buckets_all(
    d: torch.Tensor,
    q_ids: torch.Tensor,
    g_ids: torch.Tensor,
    pos_rows: torch.Tensor,
    pos_cols: torch.Tensor,
    pos_dist: torch.Tensor,
    npos: torch.Tensor,
) -> torch.Tensor:
    """Per-row histogram of matches-before counts, by a batched binary search of every entry."""
    b_rows, g_cols = d.shape
    pmax = int(npos.max())
    slot = torch.arange(pos_rows.numel()) - (torch.cumsum(npos, 0) - npos)[pos_rows]
    # One extra +inf column, so that a search result is always a valid column to gather.
    pos_d = d.new_full((b_rows, pmax + 1), math.inf)
    pos_d[pos_rows, slot] = pos_dist
    pos_i = torch.full((b_rows, pmax + 1), g_cols, dtype=torch.long)
    pos_i[pos_rows, slot] = pos_cols
    # Matches arrive with ascending columns, so a stable sort gives (distance, index) order.
    pos_d, order = torch.sort(pos_d, dim=1, stable=True)
    pos_i = pos_i.gather(1, order)
    bucket = torch.searchsorted(pos_d, d)  # matches with a strictly smaller distance
    tied = pos_d.gather(1, bucket) == d
    if bool(tied.any()):
        tr, tc = tied.nonzero(as_tuple=True)
        earlier = (pos_d[tr] == d[tr, tc].unsqueeze(1)) & (pos_i[tr] < tc.unsqueeze(1))
        bucket[tr, tc] += earlier.sum(1)
    # Same-identity samples are no negatives: put them in the last bucket, which nobody reads.
    bucket.masked_fill_(g_ids.unsqueeze(0) == q_ids.unsqueeze(1), pmax)
    bucket += (torch.arange(b_rows) * (pmax + 1)).unsqueeze(1)
    hist = torch.bincount(bucket.view(-1), minlength=b_rows * (pmax + 1))
    return hist.view(b_rows, pmax + 1)


def _ap_inp_first(ranks: torch.Tensor, npos: torch.Tensor) -> tuple[np.ndarray, ...]:
    """Average precision, INP and first-match rank of the rows with at least one positive."""
    valid = npos > 0
    ranks, npos = ranks[valid].double(), npos[valid]
    k = torch.arange(ranks.shape[1], dtype=torch.float64).unsqueeze(0)
    inside = k < npos.unsqueeze(1)
    precision = torch.where(inside, (k + 1.0) / (ranks + 1.0), torch.zeros_like(ranks))
    ap = precision.sum(1) / npos
    last = ranks.gather(1, (npos - 1).unsqueeze(1)).squeeze(1)
    inp = npos / (last + 1.0)
    first = ranks[:, 0] if ranks.shape[1] else ranks.new_zeros(0)
    return ap.numpy(), inp.numpy(), first.long().numpy(), valid.numpy()


def _splitmix64(x: np.ndarray) -> np.ndarray:
    """SplitMix64 finaliser: a counter-based hash giving reproducible uniform 64-bit keys."""
    with np.errstate(over="ignore"):
        z = x + np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return z ^ (z >> np.uint64(31))


def _cuhk03_cmc(
    d: np.ndarray,
    q_index: np.ndarray,
    q_seg: np.ndarray,
    match_rows: np.ndarray,
    match_cols: np.ndarray,
    by_id: np.ndarray,
    seg_start: np.ndarray,
    seg_count: np.ndarray,
    max_rank: int,
    num_repeats: int,
    seed: int,
) -> np.ndarray:
    """Single-gallery-shot CMC, averaged over ``num_repeats`` draws, for a chunk of queries.

    ``d`` (B, G) distances; ``by_id`` sorts the gallery by identity, identity ``s`` occupying
    ``seg_start[s]`` onwards for ``seg_count[s]`` samples; ``q_seg`` (B,) is the identity of
    each query; ``match_rows``/``match_cols`` its valid matches (row-major, every row has one).
    For every (repeat, query, identity) one member is drawn uniformly: any sample of another
    identity, one of the valid matches for the query's own. The draw comes from a counter-based
    hash of (seed, repeat, query, identity), so it does not depend on how queries are chunked.
    Returns (B, max_rank) hit fractions.
    """
    b_rows, n_seg = d.shape[0], seg_start.size
    rows = np.arange(b_rows)
    n_match = np.bincount(match_rows, minlength=b_rows)
    first_match = np.cumsum(n_match) - n_match
    with np.errstate(over="ignore"):
        counter = q_index.astype(np.uint64)[:, None] * np.uint64(n_seg) + np.arange(
            n_seg, dtype=np.uint64
        )[None, :]
    ks = np.arange(max_rank)[None, :]
    hits = np.zeros((b_rows, max_rank), dtype=np.float64)
    for r in range(num_repeats):
        stream = ((((seed & 0xFFFFFFFF) << 32) | r) * 0xD1B54A32D192ED03) % (1 << 64)
        draw = _splitmix64(counter ^ np.uint64(stream))
        col = by_id[seg_start[None, :] + (draw % seg_count.astype(np.uint64)).astype(np.int64)]
        own = match_cols[first_match + (draw[rows, q_seg] % n_match.astype(np.uint64)).astype(
            np.int64)]
        sampled = np.take_along_axis(d, col, axis=1)
        own_d = d[rows, own][:, None]
        before = (sampled < own_d) | ((sampled == own_d) & (col < own[:, None]))
        before[rows, q_seg] = False
        hits += before.sum(1)[:, None] <= ks
    return hits / num_repeats


# --------------------------------------------------------------------------------------------
# evaluate
# --------------------------------------------------------------------------------------------


def evaluate(
    dist_or_features: ArrayOrTensor | tuple[ArrayOrTensor, ArrayOrTensor],
    q_pids: Any,
    g_pids: Any,
    q_camids: Any,
    g_camids: Any,
    max_rank: int = 50,
    *,
    metric: str = "cosine",
    protocol: str = "standard",
    junk_pid: int | None = -1,
    num_repeats: int = 10,
    seed: int = 0,
    chunk_size: int | None = None,
    progress: bool = False,
) -> ReIDResult:
    """CMC rank-k, mAP and mINP of a re-ID ranking (Sec. 4.1, "Datasets and Settings").

    For each query, gallery samples with the same identity and the same camera are removed and
    junk samples (identity ``junk_pid``) are ignored; distractors stay as negatives; queries
    with no valid match are skipped (see the module docstring). Ranking order is distance, then
    gallery index.

    Per valid query with ``P`` valid matches at 0-based ranks ``r_1 < ... < r_P``:
    ``AP = (1/P) sum_m m / (r_m + 1)``, ``INP = P / (r_P + 1)`` (Ye et al. 2021) and the query
    counts as a hit at rank k when ``r_1 < k``.

    Args:
        dist_or_features: a (num_query, num_gallery) distance matrix (numpy or torch), or a pair
            ``(qf, gf)`` of feature matrices; with features, distances are computed chunk by
            chunk with ``metric`` and the full matrix is never built (use this for big galleries).
        q_pids, g_pids, q_camids, g_camids: 1-D integer identity and camera labels.
        max_rank: length of the CMC curve (>= 1). It may exceed the gallery size: a query whose
            first match is within the gallery counts as a hit at every rank beyond it.
        metric: ``"cosine"`` or ``"euclidean"``, used with features (see :func:`compute_distance`).
        protocol: ``"standard"`` (Market1501, Duke, MSMT17, CUHK03 767/700) or ``"cuhk03"``, the
            classic single-gallery-shot protocol: for each query and each gallery identity one
            valid sample is drawn at random, the CMC is computed on those samples, and the draw
            is repeated ``num_repeats`` times and averaged. mAP and mINP use all valid samples
            in both protocols, as the classic protocol does.
        junk_pid: identity label of gallery junk; ``None`` ignores nothing.
        num_repeats: draws per query for ``protocol="cuhk03"``.
        seed: seed of those draws. The draw for (seed, repeat, query, gallery sample) comes from
            a counter-based hash, so results do not depend on ``chunk_size``.
        chunk_size: queries per chunk; by default about 4M distances, and at least 256
            queries, per chunk.
        progress: show a tqdm bar over the chunks.

    Returns:
        A :class:`ReIDResult`.

    Raises:
        ValueError: bad shapes or lengths, ``max_rank < 1``, unknown ``metric``/``protocol``,
            non-finite distances, bad ``num_repeats``/``chunk_size``, or no query with a valid
            match in the gallery.
        TypeError: inputs of the wrong type.
    """
    if not _is_int(max_rank) or max_rank < 1:
        raise ValueError(f"max_rank must be an integer >= 1, got {max_rank!r}")
    if protocol not in PROTOCOLS:
        raise ValueError(f"unknown protocol {protocol!r}; valid protocols are {list(PROTOCOLS)}")
    if protocol == "cuhk03" and (not _is_int(num_repeats) or num_repeats < 1):
        raise ValueError(f"num_repeats must be an integer >= 1, got {num_repeats!r}")
    if not _is_int(seed):
        raise ValueError(f"seed must be an integer, got {seed!r}")
    if chunk_size is not None and (not _is_int(chunk_size) or chunk_size < 1):
        raise ValueError(f"chunk_size must be a positive integer or None, got {chunk_size!r}")
    max_rank, num_repeats, seed = int(max_rank), int(num_repeats), int(seed)
    _check_metric(metric)

    if isinstance(dist_or_features, (tuple, list)):
        if len(dist_or_features) != 2:
            raise ValueError(
                f"features must be given as a pair (qf, gf), got {len(dist_or_features)} items"
            )
        # Features stay on their device (a GPU computes the distances); ranking runs on CPU.
        qf, gf = _prepare_features(dist_or_features[0], dist_or_features[1], metric)
        num_q, num_g = qf.shape[0], gf.shape[0]
        distmat = None
    else:
        distmat = _as_tensor(dist_or_features, "distmat")
        if distmat.ndim != 2:
            raise ValueError(
                f"distmat must be 2-D (num_query x num_gallery), got shape {tuple(distmat.shape)}"
            )
        if distmat.dtype == torch.bool or distmat.is_complex():
            raise TypeError(f"distmat must hold real numbers, got dtype {distmat.dtype}")
        distmat = distmat.detach().cpu()
        if distmat.dtype not in (torch.float32, torch.float64):
            distmat = distmat.to(torch.float64)  # exact for integers and half precision
        if not bool(torch.isfinite(distmat).all()):
            raise ValueError("distmat contains NaN or infinite values")
        num_q, num_g = distmat.shape

    qp = _labels(q_pids, "q_pids", num_q)
    gp = _labels(g_pids, "g_pids", num_g)
    qc = _labels(q_camids, "q_camids", num_q)
    gc = _labels(g_camids, "g_camids", num_g)
    if num_q == 0 or num_g == 0:
        raise ValueError(f"need at least one query and one gallery sample, got {num_q} x {num_g}")

    # Junk is ignored for every query: drop it from the gallery once (order is kept, so the
    # index tie rule is unchanged).
    g_keep = np.ones(num_g, dtype=bool) if junk_pid is None else gp != junk_pid
    kept = None if g_keep.all() else torch.from_numpy(np.flatnonzero(g_keep))
    gp, gc = gp[g_keep], gc[g_keep]
    if kept is not None and distmat is None:
        gf = gf[kept.to(gf.device)]
    num_kept = int(gp.size)
    if num_kept == 0:
        raise ValueError(f"every gallery sample has the junk identity {junk_pid}: nothing to rank")

    # Gallery grouped by identity (stable, so indices ascend within an identity).
    by_id = np.argsort(gp, kind="stable")
    sorted_ids = gp[by_id]
    seg_start = np.flatnonzero(np.r_[True, sorted_ids[1:] != sorted_ids[:-1]])
    seg_ids = sorted_ids[seg_start]
    seg_count = np.diff(np.r_[seg_start, num_kept])
    gp_t = torch.from_numpy(gp)

    rows_per_chunk = chunk_size or max(_MIN_CHUNK_ROWS, _CHUNK_ELEMENTS // num_kept)
    aps, inps, firsts, valids = [], [], [], []
    cmc_sum = np.zeros(max_rank, dtype=np.float64)
    for s in tqdm(range(0, num_q, rows_per_chunk), desc="evaluate", unit="chunk",
                  disable=not progress):
        e = min(s + rows_per_chunk, num_q)
        if distmat is None:
            d = _pairwise(qf[s:e], gf, metric).cpu()
        else:
            d = distmat[s:e] if kept is None else distmat[s:e].index_select(1, kept)
        d = d.contiguous()
        qp_c, qc_c = qp[s:e], qc[s:e]
        # Valid matches: the gallery samples of the query's identity from another camera.
        seg = np.minimum(np.searchsorted(seg_ids, qp_c), len(seg_ids) - 1)
        n_same = np.where(seg_ids[seg] == qp_c, seg_count[seg], 0)
        same_rows = np.repeat(np.arange(e - s), n_same)
        offset = np.arange(same_rows.size) - np.repeat(np.cumsum(n_same) - n_same, n_same)
        same_cols = by_id[seg_start[seg[same_rows]] + offset]
        match = gc[same_cols] != qc_c[same_rows]
        ranks, npos = _positive_ranks(
            d,
            torch.from_numpy(qp_c),
            gp_t,
            torch.from_numpy(same_rows[match]),
            torch.from_numpy(same_cols[match]),
        )
        ap, inp, first, valid = _ap_inp_first(ranks, npos)
        aps.append(ap)
        inps.append(inp)
        firsts.append(first)
        valids.append(np.flatnonzero(valid) + s)
        if protocol == "cuhk03" and valid.any():
            rows = np.flatnonzero(valid)
            renumber = np.cumsum(valid) - 1  # chunk row -> row among the valid ones
            m_rows, m_cols = same_rows[match], same_cols[match]
            cmc_sum += _cuhk03_cmc(
                d.numpy()[rows], np.arange(s, e)[rows], seg[rows], renumber[m_rows], m_cols,
                by_id, seg_start, seg_count, max_rank, num_repeats, seed,
            ).sum(0)
        logger.debug("evaluated queries %d..%d of %d", s, e, num_q)

    ap_all = np.concatenate(aps)
    num_valid = int(ap_all.size)
    if num_valid == 0:
        raise ValueError(
            f"no query has a valid match in the gallery ({num_q} queries): check that query and "
            "gallery pids/camids are the right arrays"
        )
    first_all = np.concatenate(firsts)
    if protocol == "standard":
        counts = np.bincount(np.minimum(first_all, max_rank), minlength=max_rank + 1)
        cmc = np.cumsum(counts[:max_rank]) / num_valid
    else:
        cmc = cmc_sum / num_valid
    if num_valid < num_q:
        logger.info("%d of %d queries have no valid gallery match and were skipped",
                    num_q - num_valid, num_q)
    return ReIDResult(
        cmc=cmc.astype(np.float64),
        mAP=float(ap_all.mean()),
        mINP=float(np.concatenate(inps).mean()),
        num_valid_queries=num_valid,
        num_queries=num_q,
        protocol=protocol,
        per_query=PerQuery(np.concatenate(valids).astype(np.int64), first_all.astype(np.int64),
                           ap_all.astype(np.float64)),
    )


# --------------------------------------------------------------------------------------------
# 10-split averaging (VIPeR, GRID, CUHK01)
# --------------------------------------------------------------------------------------------



def top_matches(
    qf: ArrayOrTensor,
    gf: ArrayOrTensor,
    q_pids: Any,
    g_pids: Any,
    q_camids: Any,
    g_camids: Any,
    k: int = 1,
    *,
    metric: str = "cosine",
    junk_pid: int | None = -1,
    chunk_size: int = 1024,
) -> np.ndarray:
    """Indices of the ``k`` nearest gallery samples of each query under the standard protocol
    (same identity and camera removed, junk ignored; ties by gallery index), as ranked by
    :func:`evaluate`: ``(num_query, k)``, -1 where fewer than k samples remain."""
    if not _is_int(k) or k < 1:
        raise ValueError(f"k must be an integer >= 1, got {k!r}")
    if not _is_int(chunk_size) or chunk_size < 1:
        raise ValueError(f"chunk_size must be a positive integer, got {chunk_size!r}")
    _check_metric(metric)
    q, g = _prepare_features(qf, gf, metric)
    qp, qc = _labels(q_pids, "q_pids", len(q)), _labels(q_camids, "q_camids", len(q))
    gp, gc = _labels(g_pids, "g_pids", len(g)), _labels(g_camids, "g_camids", len(g))
    junk = np.zeros(len(g), dtype=bool) if junk_pid is None else gp == junk_pid
    out = np.full((len(q), min(k, len(g))), -1, dtype=np.int64)
    for s in range(0, len(q), chunk_size):
        d = _pairwise(q[s:s + chunk_size], g, metric).double()
        drop = ((qp[s:s + chunk_size, None] == gp) & (qc[s:s + chunk_size, None] == gc)) | junk
        d[torch.from_numpy(drop)] = math.inf
        order = torch.sort(d, dim=1, stable=True)
        idx = order.indices[:, :out.shape[1]].numpy()
        idx[np.isinf(order.values[:, :out.shape[1]].numpy())] = -1
        out[s:s + chunk_size] = idx
    return out


@dataclass(frozen=True)
class SplitAverage:
    """Mean and sample standard deviation (ddof=1) of each metric over random splits.

    With a single split the standard deviation is undefined and held as NaN (``None`` in
    :meth:`as_dict`).
    """

    cmc_mean: np.ndarray
    cmc_std: np.ndarray
    mean: dict[str, float] = field(default_factory=dict)
    std: dict[str, float] = field(default_factory=dict)
    num_splits: int = 0

    def as_dict(self) -> dict[str, Any]:
        """Plain-Python form for JSON (NaN written as ``None``)."""

        def clean(v: float) -> float | None:
            return None if math.isnan(v) else float(v)

        return {
            "num_splits": self.num_splits,
            "mean": {k: clean(v) for k, v in self.mean.items()},
            "std": {k: clean(v) for k, v in self.std.items()},
            "cmc_mean": [clean(v) for v in self.cmc_mean],
            "cmc_std": [clean(v) for v in self.cmc_std],
        }

    def to_json(self, **kwargs: Any) -> str:
        """JSON text of :meth:`as_dict`."""
        return json.dumps(self.as_dict(), **kwargs)

    def __str__(self) -> str:
        parts = []
        for key, label in (("rank1", "R1"), ("rank5", "R5"), ("rank10", "R10"),
                           ("mAP", "mAP"), ("mINP", "mINP")):
            if key in self.mean:
                m, s = 100 * self.mean[key], 100 * self.std[key]
                parts.append(f"{label} {m:.1f}" + ("" if math.isnan(s) else f"±{s:.1f}"))
        return " ".join(parts) + f" (%, {self.num_splits} splits)"


def average_over_splits(results: Sequence[ReIDResult]) -> SplitAverage:
    """Average results over random train/test splits (Sec. 4.1: "averaged over 10 random splits").

    Args:
        results: one :class:`ReIDResult` per split, all with the same ``max_rank``.

    Returns:
        A :class:`SplitAverage` with the mean and sample standard deviation of rank-1/5/10/20
        (those within max_rank), mAP, mINP and the whole CMC curve.
    """
    results = list(results)
    if not results:
        raise ValueError("results is empty: need at least one ReIDResult to average")
    for i, r in enumerate(results):
        if not isinstance(r, ReIDResult):
            raise TypeError(f"results[{i}] is a {type(r).__name__}, not a ReIDResult")
    lengths = {r.max_rank for r in results}
    if len(lengths) != 1:
        raise ValueError(f"results have CMC curves of different lengths {sorted(lengths)}")
    n = len(results)
    cmc = np.stack([r.cmc for r in results])

    def std(a: np.ndarray) -> Any:
        return np.std(a, axis=0, ddof=1) if n > 1 else np.full(a.shape[1:], np.nan)

    metrics: dict[str, np.ndarray] = {}
    for k in (1, 5, 10, 20):
        if k <= results[0].max_rank:
            metrics[f"rank{k}"] = cmc[:, k - 1]
    metrics["mAP"] = np.array([r.mAP for r in results])
    metrics["mINP"] = np.array([r.mINP for r in results])
    return SplitAverage(
        cmc_mean=cmc.mean(0),
        cmc_std=std(cmc),
        mean={k: float(v.mean()) for k, v in metrics.items()},
        std={k: float(std(v)) for k, v in metrics.items()},
        num_splits=n,
    )
