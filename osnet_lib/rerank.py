"""Post-processing of a re-ID ranking: k-reciprocal re-ranking and average query expansion.

Neither is used for the paper's own numbers (Sec. 4.1 ranks by the plain cosine distance); they
are the two standard add-ons a reader meets in re-ID papers, kept here so that a chapter can
show what they change. Both take features and return something :func:`osnet_lib.metrics.evaluate`
accepts.

- :func:`k_reciprocal_rerank`: Zhong, Zheng, Cao and Li, "Re-ranking Person Re-identification
  with k-reciprocal Encoding", CVPR 2017 (defaults k1=20, k2=6, lambda=0.3 as there).
- :func:`average_query_expansion`: average query expansion (Chum et al., ICCV 2007) and its
  similarity-weighted form, alpha-QE (Radenovic, Tolias and Chum, TPAMI 2019).
"""

import logging
from typing import overload

import numpy as np
import scipy.sparse as sp
import torch
import torch.nn.functional as F

from osnet_lib.metrics import ArrayOrTensor, _pairwise, _prepare_features

__all__ = ["average_query_expansion", "k_reciprocal_rerank"]

logger = logging.getLogger(__name__)

# Elements of one block of distances computed at a time.
_BLOCK_ELEMENTS = 1 << 22


def _check_int(value: object, name: str, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
        raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")
    return int(value)


def _check_float(value: object, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ValueError(f"{name} must be a number, got {value!r}")
    return float(value)


def _nearest(x: torch.Tensor, k: int, metric: str) -> np.ndarray:
    """Indices of the k nearest samples of x to each sample of x (itself included), nearest
    first, equal distances in index order. Shape (len(x), k)."""
    n = x.shape[0]
    rows = max(256, _BLOCK_ELEMENTS // n)  # products with few rows run slowly
    out = np.empty((n, k), dtype=np.int64)
    for s in range(0, n, rows):
        out[s : s + rows] = _smallest(_pairwise(x[s : s + rows], x, metric), k)[1].numpy()
    return out


def _smallest(d: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The k smallest entries of each row and their columns, ordered by (value, column)."""
    vals, idx = torch.topk(d, k, dim=1, largest=False, sorted=True)
    # topk leaves equal values in no set order: re-sort by (value, column).
    by_index = torch.argsort(idx, dim=1)
    vals, idx = vals.gather(1, by_index), idx.gather(1, by_index)
    order = torch.sort(vals, dim=1, stable=True).indices
    return vals.gather(1, order), idx.gather(1, order)


def _reciprocal(knn: np.ndarray, k: int) -> sp.csr_matrix:
    """R(p, k): the samples g among the first k entries of p's list whose list holds p too."""
    n = knn.shape[0]
    rows = np.repeat(np.arange(n), k)
    forward = sp.csr_matrix((np.ones(n * k, dtype=np.int8), (rows, knn[:, :k].ravel())),
                            shape=(n, n))
    return forward.multiply(forward.T).tocsr().astype(bool)


def k_reciprocal_rerank(
    qf: ArrayOrTensor,
    gf: ArrayOrTensor,
    k1: int = 20,
    k2: int = 6,
    lambda_value: float = 0.3,
    metric: str = "cosine",
) -> np.ndarray:
    """Re-ranked query-gallery distances by k-reciprocal encoding (Zhong et al., CVPR 2017).

    With P = queries and gallery together, d the distance of ``metric`` and N(p, k) the k+1
    nearest samples of p in P (p itself first):

    1. R(p, k1) = {g in N(p, k1) : p in N(g, k1)}, the k-reciprocal nearest neighbours;
    2. R*(p, k1) = R(p, k1) joined with every R(q, k1/2), q in R(p, k1), that shares at least
       2/3 of itself with R(p, k1) (k1/2 rounded half to even);
    3. V_p[g] = exp(-d(p, g)) on R*(p, k1), 0 elsewhere, divided by its sum;
    4. local query expansion: V_p becomes the mean of V_n over the k2 nearest samples n of p,
       p itself included (nothing changes for k2 = 1);
    5. Jaccard distance d_J(p, g) = 1 - sum_i min(V_p[i], V_g[i]) / sum_i max(V_p[i], V_g[i]);
    6. final distance d*(p, g) = (1 - lambda) d_J(p, g) + lambda d(p, g).

    Neighbour lists are ordered by distance, then index. The row normalisation of step 3 and
    the "p itself first" convention follow the authors' public implementation.

    Distances are used as ``metric`` gives them (cosine distance in [0, 2] by default); no
    further rescaling is applied. The (|P| x |P|) distance matrix is never built: neighbours
    are found block by block, the encodings V are sparse. Cost: one |P| x |P| x dim product,
    and a dense (num_query x num_gallery) float32 result.

    Args:
        qf: query features (num_query, dim); gf: gallery features (num_gallery, dim).
        k1, k2: neighbourhood sizes, 1 <= k1 < |P| and 1 <= k2 <= k1 + 1.
        lambda_value: weight of the original distance, in [0, 1].
        metric: ``"cosine"`` or ``"euclidean"``.

    Returns:
        (num_query, num_gallery) float32 numpy array of re-ranked distances; pass it to
        :func:`osnet_lib.metrics.evaluate`.
    """
    q, g = _prepare_features(qf, gf, metric)
    q, g = q.cpu(), g.cpu()
    k1 = _check_int(k1, "k1", 1)
    k2 = _check_int(k2, "k2", 1)
    n_q, n_g = q.shape[0], g.shape[0]
    n = n_q + n_g
    if k1 >= n:
        raise ValueError(f"k1={k1} must be smaller than the number of samples {n}")
    if k2 > k1 + 1:
        raise ValueError(f"k2={k2} must be at most k1 + 1 = {k1 + 1}")
    lam = _check_float(lambda_value, "lambda_value")
    if not 0.0 <= lam <= 1.0:
        raise ValueError(f"lambda_value must be in [0, 1], got {lambda_value!r}")
    if n_q == 0 or n_g == 0:
        raise ValueError(f"need at least one query and one gallery sample, got {n_q} x {n_g}")

    x = torch.cat([q, g])
    knn = _nearest(x, k1 + 1, metric)
    half = int(np.around(k1 / 2.0))
    recip = _reciprocal(knn, k1 + 1)
    recip_half = _reciprocal(knn, half + 1)

    # Accept R(q, k1/2) for q in R(p, k1) when |R(p, k1) & R(q, k1/2)| >= 2/3 |R(q, k1/2)|.
    shared = recip.multiply(recip.astype(np.int32) @ recip_half.T.astype(np.int32)).tocoo()
    half_size = np.asarray(recip_half.sum(axis=1)).ravel()
    accept = 3 * shared.data >= 2 * half_size[shared.col]
    accepted = sp.csr_matrix(
        (np.ones(int(accept.sum()), dtype=np.int32), (shared.row[accept], shared.col[accept])),
        shape=(n, n),
    )
    expanded = ((recip.astype(np.int32) + accepted @ recip_half.astype(np.int32)) > 0).tocoo()

    # Gaussian-kernel encodings, rows summing to one.
    p_idx, g_idx = expanded.row, expanded.col
    if metric == "cosine":
        pair_d = 1.0 - (x[p_idx] * x[g_idx]).sum(1)
    else:
        pair_d = (x[p_idx] - x[g_idx]).norm(dim=1)
    weight = torch.exp(-pair_d.double()).numpy()
    v = sp.csr_matrix((weight, (p_idx, g_idx)), shape=(n, n))
    row_sum = np.asarray(v.sum(axis=1)).ravel()
    v = sp.diags(np.divide(1.0, row_sum, out=np.zeros(n), where=row_sum > 0)) @ v
    if k2 > 1:
        mean_over = sp.csr_matrix(
            (np.full(n * k2, 1.0 / k2), (np.repeat(np.arange(n), k2), knn[:, :k2].ravel())),
            shape=(n, n),
        )
        v = (mean_over @ v).tocsr()
    v_q = v[:n_q].tocsr()
    v_g = v[n_q:].tocsc()
    sum_q = np.asarray(v_q.sum(axis=1)).ravel()
    sum_g = np.asarray(v_g.sum(axis=1)).ravel()

    out = np.empty((n_q, n_g), dtype=np.float32)
    rows = max(1, _BLOCK_ELEMENTS // max(n_g, 1))
    for s in range(0, n_q, rows):
        e = min(s + rows, n_q)
        block = v_q[s:e].tocoo()
        # Join on the shared coordinate i: every (query entry, gallery entry) pair with the same i.
        start, stop = v_g.indptr[block.col], v_g.indptr[block.col + 1]
        count = stop - start
        pos = np.repeat(start - np.cumsum(count) + count, count) + np.arange(count.sum())
        pair_row = np.repeat(block.row, count)
        both = np.minimum(np.repeat(block.data, count), v_g.data[pos])
        min_sum = np.bincount(pair_row * n_g + v_g.indices[pos], weights=both,
                              minlength=(e - s) * n_g).reshape(e - s, n_g)
        max_sum = sum_q[s:e, None] + sum_g[None, :] - min_sum
        # An all-zero encoding (possible only with many exact duplicates) shares nothing.
        jaccard = 1.0 - np.divide(min_sum, max_sum, out=np.zeros_like(min_sum),
                                  where=max_sum > 0)
        original = _pairwise(q[s:e], g, metric).double().numpy()
        out[s:e] = (1.0 - lam) * jaccard + lam * original
        logger.debug("re-ranked queries %d..%d of %d", s, e, n_q)
    return out


@overload
def average_query_expansion(
    qf: torch.Tensor, gf: torch.Tensor, top_k: int = ..., alpha: float = ...
) -> torch.Tensor: ...
@overload
def average_query_expansion(
    qf: np.ndarray, gf: np.ndarray, top_k: int = ..., alpha: float = ...
) -> np.ndarray: ...
def average_query_expansion(
    qf: ArrayOrTensor, gf: ArrayOrTensor, top_k: int = 5, alpha: float = 0.0
) -> ArrayOrTensor:
    """Expanded query features: alpha-weighted average query expansion (cosine retrieval).

    With L2-normalised features, ``s_i`` the cosine similarity of query ``q`` to its i-th most
    similar gallery feature ``g_i`` (ties in gallery index order):
    ``q' = normalise(q + sum_{i=1..top_k} max(s_i, 0)^alpha g_i)``.
    ``alpha = 0`` is plain average query expansion (the mean of the query and its ``top_k``
    nearest gallery features, Chum et al. 2007); ``alpha > 0`` is alpha-QE (Radenovic et al.
    2019), which trusts closer neighbours more. ``top_k = 0`` returns the normalised query.

    Evaluate the result with the cosine metric, e.g. ``evaluate((q_new, gf), ...)``.

    Args:
        qf: query features (num_query, dim); gf: gallery features (num_gallery, dim).
        top_k: number of gallery neighbours averaged in, 0 <= top_k <= num_gallery.
        alpha: similarity exponent, >= 0.

    Returns:
        (num_query, dim) unit-norm features: a tensor if both inputs are tensors, otherwise a
        numpy array.
    """
    q, g = _prepare_features(qf, gf, "cosine")
    top_k = _check_int(top_k, "top_k", 0)
    if top_k > g.shape[0]:
        raise ValueError(f"top_k={top_k} exceeds the gallery size {g.shape[0]}")
    if not _check_float(alpha, "alpha") >= 0.0:
        raise ValueError(f"alpha must be a number >= 0, got {alpha!r}")
    expanded = q.clone()
    if top_k > 0:
        rows = max(1, _BLOCK_ELEMENTS // g.shape[0])
        for s in range(0, q.shape[0], rows):
            neg_sim, idx = _smallest(-(q[s : s + rows] @ g.T), top_k)
            # Negative similarities get weight 0 (1 when alpha = 0: the plain average).
            w = (-neg_sim).clamp_min(0.0) ** float(alpha)
            expanded[s : s + rows] += (w.unsqueeze(2) * g[idx]).sum(1)
    expanded = F.normalize(expanded, p=2.0, dim=1)
    if isinstance(qf, torch.Tensor) and isinstance(gf, torch.Tensor):
        return expanded
    return expanded.cpu().numpy()
