"""Writing files so that nothing planted beside them can redirect the write (SPEC §3.2).

Every file glm creates or appends to is written through here:
- `Temporary` (and `write_atomically`, `Replacement` on it): the data goes to a new
  file of random name in the target's folder (`tempfile.mkstemp`: `O_EXCL |
  O_NOFOLLOW`, so never an existing file or a symlink), its mode set on the
  descriptor, then renamed over the target. A symlink
  at the target is replaced, never written through; a reader sees the old file or
  the new one, whole.
- `private_folder`: for writers that open files by name themselves (SQLite and its
  `-wal`/`-shm`, readline): a fresh folder of random name and mode 0700 beside the
  target, so no one else can plant anything where they write.
- `append`: all or nothing. A failed write (a full disk, a file size limit) cuts the
  file back to its old length, so no torn line is ever left behind.
"""

from __future__ import annotations

import contextlib
import errno
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from glm_cli.core.errors import GlmError, OutputError, UsageError

PRIVATE = 0o600
_REFUSED = frozenset(
    {
        errno.EACCES,
        errno.EPERM,
        errno.EROFS,
        errno.ENOSPC,
        errno.EDQUOT,
        errno.EFBIG,
        errno.EIO,
    }
)


def refused(error: OSError) -> bool:
    """The file system refused the write (no room, a size limit, read-only, no
    permission): exit 1 (SPEC §3.1); anything else means the path is wrong (exit 2)."""
    return error.errno in _REFUSED


def write_all(fd: int, data: bytes) -> None:
    """One `write` normally does it all; a short write is finished off (or raises)."""
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def append(fd: int, data: bytes) -> None:
    """Add `data` at the end of the file (opened `O_APPEND`, under the caller's lock)
    whole, or not at all: on any failure the file is cut back to its old length."""
    size = os.fstat(fd).st_size
    try:
        write_all(fd, data)
    except BaseException:
        with contextlib.suppress(OSError):
            os.ftruncate(fd, size)
        raise


def new_file(path: Path, mode: int = PRIVATE) -> None:
    """An empty file that did not exist before (never a symlink), of exactly `mode`."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    fd = os.open(path, flags, mode)
    try:
        os.fchmod(fd, mode)  # the umask does not decide
    finally:
        os.close(fd)


class Temporary:
    """A new file of random name beside `path` (`tempfile.mkstemp`: `O_EXCL |
    O_NOFOLLOW`), of exactly `mode`, written through `file`; `commit` makes it reach
    the disk and renames it over `path`, `discard` removes it. What was at `path`
    stays as it was until the rename, and a reader sees the old file or the new one,
    whole."""

    __slots__ = ("file", "path", "temporary")

    def __init__(self, path: Path, mode: int, prefix: str | None = None) -> None:
        import tempfile  # not at start-up: it imports shutil, random and the compressors

        self.path = path
        fd, name = tempfile.mkstemp(
            dir=path.parent, prefix=prefix or f".{path.name}.", suffix=".tmp"
        )
        self.temporary = Path(name)
        try:
            os.fchmod(fd, mode)  # the umask does not decide
            self.file = os.fdopen(fd, "wb")
        except BaseException:
            os.close(fd)
            self.temporary.unlink(missing_ok=True)
            raise

    def commit(self) -> None:
        """Everything written reaches the disk, then replaces `path` in one rename."""
        try:
            self.file.flush()
            os.fsync(self.file.fileno())
            self.file.close()
            os.replace(self.temporary, self.path)
        except BaseException:
            self.discard()
            raise

    def discard(self) -> None:
        with contextlib.suppress(OSError, ValueError):
            self.file.close()
        with contextlib.suppress(OSError):
            self.temporary.unlink()


def write_atomically(path: Path, data: bytes, mode: int = PRIVATE) -> None:
    """Replace `path` with a file holding `data`, of exactly `mode`, in one rename."""
    temporary = Temporary(path, mode)
    try:
        temporary.file.write(data)
    except BaseException:
        temporary.discard()
        raise
    temporary.commit()


@contextmanager
def private_folder(path: Path) -> Iterator[Path]:
    """A new folder (mode 0700) beside `path`, removed with its contents on the way out."""
    import shutil
    import tempfile

    folder = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp"))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def open_error(where: str, path: Path, error: OSError) -> GlmError:
    """A file glm keeps (`where` names its flag) that cannot be opened: a path that is no
    place for it is exit 2; one glm may not write (read-only) is exit 1."""
    if error.errno == errno.ELOOP:
        return UsageError(f"{where}: is a symbolic link (give the file it points to)")
    if error.errno == errno.EISDIR:
        return UsageError(f"{where}: is a directory")
    if refused(error):
        return OutputError(f"cannot write to {path}: {error.strerror}")
    return UsageError(f"{where}: {error.strerror or error}")


def write_error(path: Path, error: OSError) -> GlmError:
    """A write to a file glm keeps that failed: refused by the system is exit 1."""
    if refused(error) or error.errno is None:
        return OutputError(f"cannot write to {path}: {error.strerror or error}")
    return UsageError(f"cannot write to {path}: {error.strerror or error}")


STALE_MARK = ".glm-"
"""In a temporary's name, before the writer's process id: `.NAME.glm-PID-XXXX.tmp`."""


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # someone else's process: alive
        return True
    return True


def clean_stale(path: Path) -> None:
    """Remove the temporaries a killed run (SIGKILL, a power cut) left beside `path`:
    ours, named for `path`, and whose writer's process is gone."""
    prefix = f".{path.name}{STALE_MARK}"
    try:
        names = os.listdir(path.parent)
    except OSError:
        return
    for name in names:
        if not (name.startswith(prefix) and name.endswith(".tmp")):
            continue
        pid = name[len(prefix) :].split("-", 1)[0]
        if not pid.isdigit() or int(pid) == os.getpid() or _alive(int(pid)):
            continue
        stale = path.parent / name
        with contextlib.suppress(OSError):
            if stale.lstat().st_uid == os.geteuid():
                stale.unlink()


class Replacement(Temporary):
    """A new version of `path` (SPEC §8 `--output`): written to a temporary beside it,
    renamed over it by `commit` only; `discard` (a failure, a signal) removes the
    temporary, so `path` stays byte-identical. A new file's mode follows the umask, as
    any file a command writes for its user; a file replaced keeps its mode. The
    temporary's name carries this process's id, for `clean_stale`."""

    __slots__ = ()

    def __init__(self, path: Path) -> None:
        clean_stale(path)
        try:
            mode = os.stat(path).st_mode & 0o7777
        except OSError:
            mode = 0o666 & ~_umask()
        super().__init__(path, mode, prefix=f".{path.name}{STALE_MARK}{os.getpid()}-")


class Passthrough:
    """`--output` onto what is not a regular file (a device such as /dev/stdout or
    /dev/null, a FIFO, a symbolic link to one): written to as `> FILE` would, since
    there is no file to replace; the rename would have put a regular file in its
    place. `commit` and `discard` close it."""

    __slots__ = ("file", "path")

    def __init__(self, path: Path) -> None:
        self.path = path
        self.file = open(path, "wb")  # noqa: SIM115  # closed by commit or discard

    def commit(self) -> None:
        self.file.close()

    def discard(self) -> None:
        with contextlib.suppress(OSError, ValueError):
            self.file.close()


def is_special(path: Path) -> bool:
    """Whether `path` exists and, its symbolic links followed, is neither a regular
    file nor a folder (a device, a FIFO, a socket)."""
    import stat

    try:
        mode = os.stat(path).st_mode
    except OSError:
        return False
    return not (stat.S_ISREG(mode) or stat.S_ISDIR(mode))
