"""Shared code of the ``prepare_<dataset>.py`` scripts: check a release archive the user has
downloaded, extract it safely under the data root, and print the dataset's statistics.

Safety: nothing is written outside the target folder.

- Tar archives are extracted with Python's own extraction filter ``data`` (PEP 706), which
  refuses absolute paths, ``..`` escapes, links that point outside the target (or to an
  absolute path), device files and fifos, and clears set-uid bits and group/other write
  permission. It stops at the first offending member, so before anything is written the
  members are also listed by hand (:func:`unsafe_members`: absolute paths, ``..``, links
  outside, device files), to refuse the whole archive with every offender named.
- Zip archives have no such filter (``zipfile`` silently rewrites ``..`` and absolute names
  instead), so they are checked by hand only: absolute paths, ``..``, symbolic links, and
  names that resolve outside the target.

Completeness: an archive is extracted completely or not at all (:func:`extract_release`). It
is extracted into a temporary folder beside the target, every file is checked against the
archive's listing (present, with its size), and only then renamed into place. An existing
release folder is checked the same way, so an extraction that an older version left half
done is extracted again rather than taken for complete. A lock on the target folder keeps two
extractions apart, and the temporary folders of a killed one are removed by the next.
"""

import argparse
import hashlib
import logging
import os
import re
import shutil
import sys
import tarfile
import tempfile
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

try:
    import osnet_lib  # noqa: F401
except ImportError:  # running from a checkout that was not pip-installed
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from osnet_lib.data import ReIDDataset, build_dataset  # noqa: E402
from osnet_lib.provenance import FolderLockedError, exclusive_lock  # noqa: E402

logger = logging.getLogger("osnet_lib.data_scripts")


class ArchiveError(Exception):
    """The archive is missing, of the wrong kind, the wrong file, or unsafe to extract."""


@dataclass(frozen=True)
class Release:
    """What is known about a dataset's public release archive.

    Attributes:
        name: the dataset's name in ``osnet_lib.data.build_dataset``.
        title: the dataset's display name.
        archive_name: the file name of the public release.
        dataset_dir: the folder under the data root that receives the extracted files.
        top_level: the folder at the top of the archive.
        md5: the md5 of the public release when known, else None (then only the top-level
            folder identifies the file).
        table2: the paper's Table 2 row (#IDs, #images, #cameras), for comparison.
    """

    name: str
    title: str
    archive_name: str
    dataset_dir: str
    top_level: str
    md5: str | None
    table2: tuple[int, int, int]


# md5 sums: those published for the original release files by the open-reid project
# (Market1501, CUHK03, VIPeR, CUHK01). Unknown for the others: the top-level folder is checked.
RELEASES = {
    r.name: r
    for r in (
        Release("market1501", "Market1501", "Market-1501-v15.09.15.zip", "market1501",
                "Market-1501-v15.09.15", "65005ab7d12ec1c44de4eeafe813e68a", (1501, 32668, 6)),
        Release("dukemtmcreid", "DukeMTMC-reID", "DukeMTMC-reID.zip", "dukemtmc-reid",
                "DukeMTMC-reID", None, (1812, 36411, 8)),
        Release("msmt17", "MSMT17 (v1)", "MSMT17_V1.tar.gz", "msmt17", "MSMT17_V1", None,
                (4101, 126411, 15)),
        Release("cuhk03", "CUHK03", "cuhk03_release.zip", "cuhk03", "cuhk03_release",
                "728939e58ad9f0ff53e521857dd8fb43", (1467, 28192, 2)),
        Release("viper", "VIPeR", "VIPeR.v1.0.zip", "viper", "VIPeR",
                "1c2d9fc1cc800332567a0da25a1ce68c", (632, 1264, 2)),
        Release("grid", "GRID", "underground_reid.zip", "grid", "underground_reid", None,
                (251, 1275, 6)),
        Release("cuhk01", "CUHK01", "CUHK01.zip", "cuhk01", "campus",
                "e6d55c0da26d80cda210a2edeb448e98", (971, 3882, 2)),
    )
}


def md5sum(path: Path, chunk: int = 1 << 20) -> str:
    """The md5 hex digest of a file, read in chunks."""
    h = hashlib.md5()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(chunk), b""):
            h.update(block)
    return h.hexdigest()


def archive_kind(path: Path) -> str:
    """``"zip"`` or ``"tar"`` from the file's content (not its name).

    Raises:
        ArchiveError: the file is missing or is neither.
    """
    if not path.exists():
        raise ArchiveError(f"archive '{path}' does not exist")
    if not path.is_file():
        raise ArchiveError(f"archive '{path}' is not a file")
    if zipfile.is_zipfile(path):
        return "zip"
    try:
        if tarfile.is_tarfile(path):
            return "tar"
    except OSError:
        pass
    raise ArchiveError(f"'{path}' is not a zip or tar archive")


def _member_names(path: Path, kind: str) -> list[str]:
    if kind == "zip":
        with zipfile.ZipFile(path) as zf:
            return zf.namelist()
    with tarfile.open(path) as tf:
        return tf.getnames()


def check_archive(path: str | os.PathLike[str], release: Release, verify_md5: bool = True) -> str:
    """Check that ``path`` is the release archive of ``release``; return its kind.

    Checks: the file exists and is a zip or tar; its md5 matches the public release's when that
    is known (and ``verify_md5``); it has the release's top-level folder.

    Raises:
        ArchiveError: with a message that says what is wrong and what was expected.
    """
    path = Path(path).expanduser()
    kind = archive_kind(path)
    if verify_md5 and release.md5 is not None:
        digest = md5sum(path)
        if digest != release.md5:
            raise ArchiveError(
                f"'{path}' has md5 {digest}, but the public {release.title} release "
                f"'{release.archive_name}' has md5 {release.md5}: this is not that file. "
                "If it is a re-packed copy of the release, rerun with --skip-checksum"
            )
    try:
        names = _member_names(path, kind)
    except (zipfile.BadZipFile, tarfile.TarError, OSError, EOFError) as exc:
        raise ArchiveError(f"cannot read the {kind} archive '{path}': {exc}") from exc
    tops = {PurePosixPath(n.replace("\\", "/")).parts[0] for n in names if n.strip("/")}
    if release.top_level not in tops:
        found = ", ".join(sorted(tops)[:5]) or "nothing"
        raise ArchiveError(
            f"'{path}' does not look like the {release.title} release '{release.archive_name}': "
            f"expected a top-level folder '{release.top_level}/', found {found}"
        )
    return kind


def _unsafe_name(name: str) -> str | None:
    norm = name.replace("\\", "/")
    if norm.startswith("/") or re.match(r"^[A-Za-z]:", norm):
        return "absolute path"
    if ".." in PurePosixPath(norm).parts:
        return "'..' path component"
    return None


def _inside(base: Path, target: Path) -> bool:
    base = base.resolve()
    target = target.resolve()
    return target == base or base in target.parents


def unsafe_members(path: Path, dest: Path) -> list[str]:
    """Describe every member of the archive that would escape ``dest`` (empty when safe)."""
    kind = archive_kind(path)
    bad = []
    if kind == "zip":
        with zipfile.ZipFile(path) as zf:
            for info in zf.infolist():
                why = _unsafe_name(info.filename)
                mode = info.external_attr >> 16
                if why is None and (mode & 0o170000) == 0o120000:
                    why = "symbolic link"
                if why is None and not _inside(dest, dest / info.filename):
                    why = "path outside the target folder"
                if why:
                    bad.append(f"{info.filename!r} ({why})")
        return bad
    with tarfile.open(path) as tf:
        for m in tf.getmembers():
            why = _unsafe_name(m.name)
            if why is None and not _inside(dest, dest / m.name):
                why = "path outside the target folder"
            if why is None and (m.isdev() or m.isfifo()):
                why = "device or fifo"
            if why is None and m.issym():
                link = m.linkname
                if os.path.isabs(link) or not _inside(dest, dest / Path(m.name).parent / link):
                    why = f"symbolic link to '{link}' outside the target folder"
            if why is None and m.islnk():
                if _unsafe_name(m.linkname) or not _inside(dest, dest / m.linkname):
                    why = f"hard link to '{m.linkname}' outside the target folder"
            if why:
                bad.append(f"{m.name!r} ({why})")
    return bad


def safe_extract(path: str | os.PathLike[str], dest: str | os.PathLike[str]) -> None:
    """Extract a zip or tar archive into ``dest`` after checking every member.

    Raises:
        ArchiveError: some member would be written outside ``dest`` (absolute path, ``..``,
            outside-pointing link, device file); nothing is extracted then.
    """
    path, dest = Path(path).expanduser(), Path(dest).expanduser()
    bad = unsafe_members(path, dest)
    if bad:
        listed = "; ".join(bad[:5]) + ("; ..." if len(bad) > 5 else "")
        raise ArchiveError(
            f"refusing to extract '{path}': {len(bad)} member(s) would escape '{dest}': {listed}"
        )
    dest.mkdir(parents=True, exist_ok=True)
    if archive_kind(path) == "zip":
        with zipfile.ZipFile(path) as zf:
            zf.extractall(dest)
        return
    if not hasattr(tarfile, "data_filter"):  # Python < 3.11.4
        raise ArchiveError("extracting tar archives safely needs Python 3.11.4 or later "
                           "(tarfile's 'data' extraction filter)")
    with tarfile.open(path) as tf:
        try:
            tf.extractall(dest, filter="data")
        except tarfile.FilterError as exc:
            raise ArchiveError(f"refusing to extract '{path}': {exc}") from exc


def archive_files(path: str | os.PathLike[str]) -> dict[str, int]:
    """The regular files an archive holds: ``{relative path: size in bytes}``."""
    path = Path(path).expanduser()
    if archive_kind(path) == "zip":
        with zipfile.ZipFile(path) as zf:
            return {i.filename.rstrip("/"): i.file_size for i in zf.infolist() if not i.is_dir()}
    with tarfile.open(path) as tf:
        return {m.name: m.size for m in tf.getmembers() if m.isfile()}


def missing_files(folder: Path, files: dict[str, int]) -> list[str]:
    """The entries of ``files`` (:func:`archive_files`) absent from ``folder`` or of another
    size there: empty when the extraction is complete."""
    bad = []
    for name, size in files.items():
        try:
            if (folder / name).stat().st_size != size:
                bad.append(name)
        except OSError:
            bad.append(name)
    return bad


def print_statistics(ds: ReIDDataset, release: Release | None = None, note: str = "") -> None:
    """Print Table 2's columns for ``ds`` (and the paper's row when ``release`` is given)."""
    print(ds.summary_table())
    if note:
        print(f"  {note}")
    if release is not None:
        ids, images, cams = release.table2
        print(f"  Table 2 of the paper: {ids:,} ids, {images:,} images, {cams} cameras")


def make_parser(release: Release, description: str) -> argparse.ArgumentParser:
    """The command-line interface shared by the scripts (``--archive``, ``--root``, ...)."""
    md5_text = (
        f"its md5 is checked against the public release ({release.md5})"
        if release.md5 else "no md5 is known for it, so its top-level folder is checked"
    )
    parser = argparse.ArgumentParser(
        description=description,
        epilog=(
            f"The archive is extracted to ROOT/{release.dataset_dir}/; {md5_text}. "
            f"Afterwards: osnet_lib.data.build_dataset('{release.name}', ROOT)."
        ),
    )
    parser.add_argument("--archive", required=True, type=Path,
                        help=f"the downloaded release archive ('{release.archive_name}')")
    parser.add_argument("--root", required=True, type=Path,
                        help="the data root that holds one folder per dataset")
    parser.add_argument("--skip-checksum", action="store_true",
                        help="do not check the md5 (for a re-packed copy of the release)")
    parser.add_argument("--overwrite", action="store_true",
                        help="extract again even if the release folder already exists")
    return parser


def extract_release(args: argparse.Namespace, release: Release) -> Path:
    """Check and extract ``args.archive`` into ``args.root/<dataset_dir>``; return that folder.

    Complete or not at all: the archive goes to a temporary folder beside the target, is
    checked against its listing (:func:`missing_files`), and its top-level entries are then
    renamed into place (the release's own folder last). An existing release folder is kept
    only when it is complete (or extracted again with ``--overwrite``).

    Raises:
        ArchiveError: a wrong or unsafe archive, or an extraction that came out incomplete.
        FolderLockedError: another extraction into the same folder is running.
    """
    archive = Path(args.archive).expanduser()
    check_archive(archive, release, verify_md5=not args.skip_checksum)
    target = Path(args.root).expanduser() / release.dataset_dir
    bad = unsafe_members(archive, target)
    if bad:  # before anything is written, with every offender named
        listed = "; ".join(bad[:5]) + ("; ..." if len(bad) > 5 else "")
        raise ArchiveError(f"refusing to extract '{archive}': {len(bad)} member(s) would "
                           f"escape '{target}': {listed}")
    files = archive_files(archive)
    with exclusive_lock(target):
        for stale in target.glob(".*.partial-*"):
            shutil.rmtree(stale, ignore_errors=True)
        release_dir = target / release.top_level
        if release_dir.exists() and not args.overwrite:
            missing = missing_files(target, files)
            if not missing:
                logger.info("%s is already extracted and complete", release_dir)
                return target
            logger.warning("%s is incomplete (%d of %d files missing or truncated, e.g. %s): "
                           "extracting again", release_dir, len(missing), len(files), missing[0])
        logger.info("extracting %s to %s", archive, target)
        partial = Path(tempfile.mkdtemp(dir=target, prefix=f".{release.top_level}.partial-"))
        try:
            safe_extract(archive, partial)
            missing = missing_files(partial, files)
            if missing:
                raise ArchiveError(f"extracting '{archive}' left {len(missing)} file(s) missing "
                                   f"or truncated, e.g. {missing[0]}: is the disk full?")
            entries = sorted(partial.iterdir(), key=lambda p: p.name == release.top_level)
            for entry in entries:  # the release's own folder last: its presence means done
                _replace(entry, target / entry.name)
        finally:
            shutil.rmtree(partial, ignore_errors=True)
    return target


def _replace(new: Path, old: Path) -> None:
    """Rename ``new`` over ``old`` (a file or folder); an existing ``old`` is moved aside
    first and removed afterwards, so ``old`` is at every moment the old or the new entry."""
    if not old.exists() and not old.is_symlink():
        new.rename(old)
        return
    aside = Path(tempfile.mkdtemp(dir=old.parent, prefix=f".{old.name}.partial-old-"))
    old.rename(aside / old.name)
    new.rename(old)
    shutil.rmtree(aside, ignore_errors=True)


def run(
    release: Release,
    description: str,
    argv: Sequence[str] | None = None,
    after: Callable[[argparse.Namespace, Path], None] | None = None,
    add_arguments: Callable[[argparse.ArgumentParser], None] | None = None,
    ten_splits: bool = False,
) -> int:
    """Entry point of a ``prepare_<dataset>.py`` script; returns the exit status.

    ``add_arguments`` adds script-specific options; ``after(args, folder)`` runs after the
    extraction (conversion, statistics). Without it the dataset is loaded with
    ``build_dataset(release.name, root)`` and its statistics printed; with ``ten_splits`` (the
    small datasets) those of split 0, since the other nine differ only in which ids train.
    """
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    parser = make_parser(release, description)
    if add_arguments is not None:
        add_arguments(parser)
    args = parser.parse_args(argv)
    try:
        folder = extract_release(args, release)
        if after is not None:
            after(args, folder)
        elif ten_splits:
            ds = build_dataset(release.name, args.root, split_id=0)
            print_statistics(ds, release, note="split 0 of 10 (split_id=0..9)")
        else:
            print_statistics(build_dataset(release.name, args.root), release)
    except (ArchiveError, OSError, ValueError, ImportError, FolderLockedError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0
