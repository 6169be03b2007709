"""Output files written whole or not at all.

Each file is written to a temporary file in its own folder (same file system, so the move is
one rename) and moved onto its final name with ``os.replace`` once every file of the set is
written and synced. On any failure the temporary files are removed and no final file is
touched: a full disk leaves neither a truncated candidates.csv nor a stations.parquet without
its reports. A temporary file is private to its owner (mode 600), and so is the file it
becomes: outputs hold personal data.

A failure is an :class:`OutputError` naming the final file, with the reason in Chinese for the
people who run the command: ``out/candidates.csv: 磁盘空间不足 (No space left on device)``.
"""

from __future__ import annotations

import contextlib
import errno
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

# errno -> what it means for whoever runs the command
_WHY = {
    errno.ENOSPC: "磁盘空间不足",
    errno.EDQUOT: "磁盘配额已用完",
    errno.EFBIG: "文件太大",
    errno.EACCES: "没有写入权限",
    errno.EPERM: "没有写入权限",
    errno.EROFS: "文件系统只读",
    errno.ENOENT: "文件夹不存在",
    errno.ENOTDIR: "路径中有一段不是文件夹",
    errno.EISDIR: "这是一个文件夹，不是文件",
    errno.EIO: "磁盘读写出错",
}


class OutputError(Exception):
    """An output file could not be written; ``path`` is the final name asked for."""

    def __init__(self, path: Path, error: OSError) -> None:
        self.path = path
        self.errno = error.errno
        # pyarrow's strerror carries its own wording ("Error writing bytes ... Detail: ..."):
        # the system's text for the errno is the same everywhere.
        self.strerror = os.strerror(error.errno) if error.errno else (error.strerror or type(error).__name__)
        super().__init__(f"{path}: {_WHY.get(error.errno or 0, '无法写入')} ({self.strerror})")


class OutputSet:
    """Files that appear together: :meth:`file` gives the temporary path to write each one to;
    leaving the ``with`` block without an error moves them all into place."""

    def __init__(self) -> None:
        self._staged: list[tuple[Path, Path]] = []  # (temporary, final)
        self._made_dirs: list[Path] = []

    def __enter__(self) -> OutputSet:
        return self

    @contextlib.contextmanager
    def file(self, final: str | Path) -> Iterator[Path]:
        """A temporary path for ``final``; an OSError inside the block names ``final``."""
        final = Path(final)
        try:
            self._make_dir(final.parent)
            fd, name = tempfile.mkstemp(prefix=f".{final.name}.", suffix=".tmp", dir=final.parent)
            os.close(fd)
        except OSError as exc:
            raise OutputError(final, exc) from None
        temp = Path(name)
        self._staged.append((temp, final))
        try:
            yield temp
            _sync(temp)
        except OSError as exc:
            raise OutputError(final, exc) from None

    def _make_dir(self, folder: Path) -> None:
        missing = [p for p in (folder, *folder.parents) if not p.exists()]
        folder.mkdir(parents=True, exist_ok=True)
        self._made_dirs.extend(missing)  # deepest first: removed in this order if left empty

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: object) -> None:
        if kind is None:
            try:
                for temp, final in self._staged:
                    try:
                        os.replace(temp, final)
                    except OSError as error:
                        raise OutputError(final, error) from None
                for folder in {final.parent for _, final in self._staged}:
                    _sync_dir(folder)
                return
            finally:
                self._remove_leftovers()
        self._remove_leftovers()

    def _remove_leftovers(self) -> None:
        for temp, _ in self._staged:
            with contextlib.suppress(FileNotFoundError):
                temp.unlink()
        for folder in self._made_dirs:  # folders this set made and left empty
            with contextlib.suppress(OSError):
                folder.rmdir()
        self._made_dirs = []


@contextlib.contextmanager
def staged(final: str | Path) -> Iterator[Path]:
    """One output file: write to the temporary path given; it becomes ``final`` on success."""
    with OutputSet() as outputs, outputs.file(final) as temp:
        yield temp


def _sync(path: Path) -> None:
    """Data on disk before the rename (a full disk may only show here)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _sync_dir(folder: Path) -> None:
    with contextlib.suppress(OSError):  # not every file system lets a folder be synced
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
