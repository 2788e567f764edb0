"""Image records and the train/query/gallery split container.

Every loader of :mod:`osnet_lib.data` returns a :class:`ReIDDataset`: three lists of
:class:`ImageRecord` following the re-ID evaluation protocol of Sec. 4.1 (a training set whose
identities are disjoint from the test identities, and a test set divided into query and gallery
images). Training identities are relabelled to ``0..N-1`` so that they index the identity
classifier directly; query and gallery keep the dataset's own identity numbers.

:func:`combine_datasets` implements the multi-source training set of Appendix A ("a single large
classification layer for classifying all identities combined from different datasets").
"""

import dataclasses
import logging
import os
from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import NamedTuple

__all__ = ["ImageRecord", "ProtocolError", "ReIDDataset", "combine_datasets", "relabel"]

logger = logging.getLogger("osnet_lib.data")


class ProtocolError(ValueError):
    """A dataset's query and gallery cannot make a valid re-ID evaluation (Sec. 4.1)."""


class ImageRecord(NamedTuple):
    """One image of a re-ID dataset.

    Attributes:
        path: the image file.
        pid: person identity. In a training set it is the class index ``0..N-1``; in query and
            gallery it is the dataset's own identity number.
        camid: camera index, counted from 0.
        dsetid: index of the source dataset (0 unless made by :func:`combine_datasets`).
    """

    path: str
    pid: int
    camid: int
    dsetid: int = 0


def relabel(records: Iterable[ImageRecord]) -> list[ImageRecord]:
    """Map the identities of ``records`` to ``0..N-1`` in increasing order of the original id.

    The order of the records is kept. Used for every training set, so that the pid is the index
    of the identity classifier's output (Sec. 4.1, "each person identity is regarded as a unique
    class").
    """
    records = list(records)
    mapping = {pid: label for label, pid in enumerate(sorted({r.pid for r in records}))}
    return [r._replace(pid=mapping[r.pid]) for r in records]


def _count(records: Sequence[ImageRecord], ignore_pids: frozenset[int]) -> dict[str, int]:
    return {
        "ids": len({r.pid for r in records if r.pid not in ignore_pids}),
        "images": len(records),
        "cameras": len({(r.dsetid, r.camid) for r in records}),
    }


@dataclasses.dataclass(frozen=True)
class ReIDDataset:
    """A re-ID dataset split into train, query and gallery (the protocol of Sec. 4.1).

    Attributes:
        name: the dataset's name, e.g. ``"market1501"``.
        train: training images; their pids must be exactly ``0..num_train_pids-1``.
        query: query images (original identity numbers).
        gallery: gallery images (original identity numbers); may include distractors.
        distractor_pids: identities in the gallery that belong to no query person
            (Market1501's "0000" background boxes, GRID's 775 unpaired people). They are kept as
            gallery images that never match, and are not counted as identities by
            :meth:`summary`.
        train_includes_test: True when the test identities were also added to the training set
            (MSMT17's ``combineall`` protocol of Sec. 4.2), so that :meth:`summary` does not
            count them twice.

    Raises:
        ValueError: if the training pids are not ``0..N-1``.
    """

    name: str
    train: list[ImageRecord]
    query: list[ImageRecord]
    gallery: list[ImageRecord]
    distractor_pids: frozenset[int] = frozenset()
    train_includes_test: bool = False

    def __post_init__(self) -> None:
        train_pids = {r.pid for r in self.train}
        if train_pids != set(range(len(train_pids))):
            bad = sorted(train_pids - set(range(len(train_pids))))[:5]
            raise ValueError(
                f"dataset '{self.name}': training pids must be relabelled to 0..N-1 "
                f"(found {len(train_pids)} identities, out-of-range pids such as {bad}); "
                "use osnet_lib.data.relabel"
            )

    @property
    def num_train_pids(self) -> int:
        """Number of training identities: the output size of the identity classifier."""
        return len({r.pid for r in self.train})

    @property
    def num_train_cams(self) -> int:
        """Number of distinct (dataset, camera) pairs in the training set."""
        return len({(r.dsetid, r.camid) for r in self.train})

    @property
    def num_datasets(self) -> int:
        """Number of source datasets in the training set (Appendix A)."""
        return len({r.dsetid for r in self.train}) if self.train else 0

    def protocol_problems(self) -> tuple[list[str], list[str]]:
        """Check query and gallery against the evaluation protocol of Sec. 4.1.

        Returns ``(errors, warnings)``, each a list of sentences that name the rule broken and
        an example. Errors (the evaluation would be meaningless):

        - an empty query or gallery;
        - a query whose identity is a distractor or junk (``distractor_pids``, or a negative
          pid): it has no true match by definition;
        - the same image file as a query and in the gallery under other labels (another
          camera or identity), so that it could match itself; with the same labels it is
          discarded by the same-camera rule below (CUHK03's classic protocol uses the same
          test images as query and gallery);
        - no query with a valid match: a gallery image of the same identity from *another*
          camera (same-identity images of the query's own camera are discarded).

        Warnings: some (not all) queries have no valid match; they are skipped by the metrics.
        """
        where = f"dataset '{self.name}'"
        errors: list[str] = []
        warnings: list[str] = []
        for subset in ("query", "gallery"):
            if not getattr(self, subset):
                errors.append(f"{where}: the {subset} is empty (a re-ID evaluation needs query "
                              "and gallery images)")
        bad = [r for r in self.query if r.pid < 0 or r.pid in self.distractor_pids]
        if bad:
            errors.append(f"{where}: {len(bad)} query image(s) have a distractor or junk "
                          f"identity, which no gallery image can match, e.g. '{bad[0].path}' "
                          f"(pid {bad[0].pid}); remove them from the query")
        gallery_labels: dict[str, set[tuple[int, int, int]]] = defaultdict(set)
        for r in self.gallery:
            gallery_labels[os.path.normcase(os.path.abspath(r.path))].add(
                (r.dsetid, r.pid, r.camid))
        both = [r.path for r in self.query
                if gallery_labels.get(os.path.normcase(os.path.abspath(r.path)), set())
                - {(r.dsetid, r.pid, r.camid)}]
        if both:
            errors.append(f"{where}: {len(both)} image file(s) are both a query and a gallery "
                          f"image under another camera or identity, e.g. '{both[0]}'; each "
                          "would match itself")
        if errors or not self.query:
            return errors, warnings
        cams: dict[tuple[int, int], set[int]] = defaultdict(set)
        for r in self.gallery:
            cams[(r.dsetid, r.pid)].add(r.camid)
        unmatched = [r for r in self.query if not cams.get((r.dsetid, r.pid), set()) - {r.camid}]
        if len(unmatched) == len(self.query):
            errors.append(
                f"{where}: no query has a valid match, i.e. a gallery image of the same "
                "identity from another camera (same-camera matches are discarded, Sec. 4.1); "
                f"e.g. '{unmatched[0].path}' (pid {unmatched[0].pid}, camera {unmatched[0].camid})"
            )
        elif unmatched:
            warnings.append(
                f"{where}: {len(unmatched)} of {len(self.query)} queries have no gallery image "
                "of their identity from another camera and are skipped by the metrics, e.g. "
                f"'{unmatched[0].path}'")
        return errors, warnings

    def check_protocol(self) -> "ReIDDataset":
        """Raise a :class:`ProtocolError` naming every broken rule of
        :meth:`protocol_problems`, and log its warnings; returns the dataset."""
        errors, warnings = self.protocol_problems()
        for w in warnings:
            logger.warning("%s", w)
        if errors:
            raise ProtocolError("; ".join(errors))
        return self

    def summary(self) -> dict[str, dict[str, int]]:
        """Table 2-style statistics: ``#ids``, ``#images``, ``#cameras`` per subset and in total.

        Returns:
            ``{"train": {...}, "query": {...}, "gallery": {...}, "total": {...}}``, each with
            keys ``"ids"``, ``"images"`` and ``"cameras"``. Distractor identities are not
            counted as identities (their images are). The total counts an image once even when
            query and gallery share it, and counts test identities once.
        """
        d = self.distractor_pids
        test = list(self.query) + list(self.gallery)
        # Test pids are the dataset's own numbers and the same in query and gallery; training
        # pids were relabelled, so the two are disjoint unless the test set was merged into
        # training (then the training identities already include the test ones).
        test_ids = {(r.dsetid, r.pid) for r in test if r.pid not in d}
        total_ids = self.num_train_pids + (0 if self.train_includes_test else len(test_ids))
        all_records = list(self.train) + test
        return {
            "train": _count(self.train, frozenset()),
            "query": _count(self.query, d),
            "gallery": _count(self.gallery, d),
            "total": {
                "ids": total_ids,
                "images": len({r.path for r in all_records}),
                "cameras": len({(r.dsetid, r.camid) for r in all_records}),
            },
        }

    def summary_table(self) -> str:
        """The statistics of :meth:`summary` as a small fixed-width text table."""
        stats = self.summary()
        lines = [
            f"{self.name}",
            f"  {'subset':<8} {'# ids':>7} {'# images':>9} {'# cameras':>10}",
        ]
        for subset, row in stats.items():
            lines.append(
                f"  {subset:<8} {row['ids']:>7} {row['images']:>9} {row['cameras']:>10}"
            )
        if self.distractor_pids:
            n = sum(r.pid in self.distractor_pids for r in self.gallery)
            lines.append(f"  ({n} gallery images are distractors, not counted as ids)")
        return "\n".join(lines)


def _shift(r: ImageRecord, pid: int, cam: int, dset: int) -> ImageRecord:
    return ImageRecord(r.path, r.pid + pid, r.camid + cam, r.dsetid + dset)


def combine_datasets(datasets: Sequence[ReIDDataset], name: str | None = None) -> ReIDDataset:
    """Merge several datasets into one multi-source training set (Appendix A).

    Identities and cameras of the k-th dataset are shifted by the numbers of identities and
    cameras of the datasets before it, so no two datasets share a pid or a camid, and
    ``dsetid`` is set to the dataset's position in ``datasets`` (shifted likewise when an
    input was itself combined). The training pids of the result are ``0..N-1`` with ``N`` the
    sum of the inputs' ``num_train_pids``: one classifier over the union of identities. Query
    and gallery are merged the same way (their pids are shifted past the largest test pid of
    the datasets before), so the result also evaluates like any other dataset.

    Raises:
        ValueError: if ``datasets`` is empty.
        TypeError: if an element is not a :class:`ReIDDataset`.
    """
    datasets = list(datasets)
    if not datasets:
        raise ValueError("combine_datasets needs at least one dataset, got an empty sequence")
    for i, ds in enumerate(datasets):
        if not isinstance(ds, ReIDDataset):
            raise TypeError(
                f"combine_datasets: element {i} is a {type(ds).__name__}, not a ReIDDataset"
            )

    train: list[ImageRecord] = []
    query: list[ImageRecord] = []
    gallery: list[ImageRecord] = []
    distractors: set[int] = set()
    pid_off = test_pid_off = cam_off = dset_off = 0
    for ds in datasets:
        everything = list(ds.train) + list(ds.query) + list(ds.gallery)
        n_cams = max((r.camid for r in everything), default=-1) + 1
        n_dsets = max((r.dsetid for r in everything), default=-1) + 1
        test = list(ds.query) + list(ds.gallery)
        min_test_pid = min((r.pid for r in test), default=0)
        # shift so that the smallest test pid (possibly a negative junk id) lands on the offset
        shift = test_pid_off - min(min_test_pid, 0)

        train += [_shift(r, pid_off, cam_off, dset_off) for r in ds.train]
        query += [_shift(r, shift, cam_off, dset_off) for r in ds.query]
        gallery += [_shift(r, shift, cam_off, dset_off) for r in ds.gallery]
        distractors |= {p + shift for p in ds.distractor_pids}

        pid_off += ds.num_train_pids
        test_pid_off = max((r.pid + shift for r in test), default=test_pid_off - 1) + 1
        cam_off += n_cams
        dset_off += n_dsets

    return ReIDDataset(
        name=name or "+".join(ds.name for ds in datasets),
        train=train,
        query=query,
        gallery=gallery,
        distractor_pids=frozenset(distractors),
        train_includes_test=any(ds.train_includes_test for ds in datasets),
    )
