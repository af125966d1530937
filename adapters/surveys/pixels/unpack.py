"""Bounded unpacking of archive answers: a zip of cutout files (TESScut), a gzipped FITS file (MAST).

Archives compress their answers; a hostile or broken answer can expand without bound (a "zip bomb")
or name files outside the folder. Both helpers count every byte written against a limit and
accept only plain ``.fits`` member names.
"""

from __future__ import annotations

import gzip
import re
import zipfile
import zlib
from pathlib import Path

from virtualobserver.domain.errors import DataError

__all__ = ["gunzip_bounded", "unzip_fits_members"]

_MEMBER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.+\-]{0,200}\.fits$")
_CHUNK = 1 << 20


def _copy_bounded(source, out, limit: int, written: int, what: str) -> int:
    while True:
        chunk = source.read(_CHUNK)
        if not chunk:
            return written
        written += len(chunk)
        if written > limit:
            raise DataError(f"{what}: unpacks to more than {limit:,} bytes; refused")
        out.write(chunk)


def unzip_fits_members(zip_path: Path, folder: Path, *, max_bytes: int, max_members: int) -> list[Path]:
    """Unpack the FITS members of a zip into ``folder``; return their paths, by name.

    Parameters
    ----------
    zip_path : pathlib.Path
        The zip answer.
    folder : pathlib.Path
        Existing folder to write the members into (a staging folder: nothing is atomic here).
    max_bytes : int
        Largest total size of the members once unpacked; also checked against the sizes the zip declares
        before a byte is unpacked.
    max_members : int
        Largest number of members.

    Returns
    -------
    list of pathlib.Path
        The unpacked files.

    Raises
    ------
    DataError
        Not a zip, a member that is not a plain ``*.fits`` name, too many members or bytes,
        a member whose CRC fails (garbled in transit) or that is cut short.
    """
    try:
        with zipfile.ZipFile(zip_path) as archive:
            members = [info for info in archive.infolist() if not info.is_dir()]
            if not members:
                raise DataError(f"{zip_path.name}: the zip holds no file")
            if len(members) > max_members:
                raise DataError(f"{zip_path.name}: {len(members)} members, more than {max_members}")
            names = [info.filename for info in members]
            bad = [name for name in names if not _MEMBER.match(name)]
            if bad or len(set(names)) != len(names):
                raise DataError(f"{zip_path.name}: member names {bad or names} are not distinct plain *.fits names")
            declared = sum(info.file_size for info in members)
            if declared > max_bytes:
                raise DataError(f"{zip_path.name}: members declare {declared:,} bytes, more than {max_bytes:,}")
            written = 0
            paths = []
            for info in sorted(members, key=lambda i: i.filename):
                target = folder / info.filename
                # zipfile stops at the declared size and checks the CRC at the end: a member that lies
                # about its size or was garbled raises here rather than unpacking without end.
                with archive.open(info) as source, open(target, "wb") as out:
                    written = _copy_bounded(source, out, max_bytes, written, f"{zip_path.name}: {info.filename}")
                if target.stat().st_size != info.file_size:
                    raise DataError(f"{zip_path.name}: {info.filename} is cut short")
                paths.append(target)
            return paths
    except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError) as exc:
        raise DataError(f"{zip_path.name}: corrupt zip ({exc})") from None


def gunzip_bounded(gz_path: Path, target: Path, *, max_bytes: int) -> Path:
    """Decompress a gzipped file into ``target`` (not atomic: the caller's temporary path), at most ``max_bytes``.

    Parameters
    ----------
    gz_path : pathlib.Path
        The ``.gz`` answer.
    target : pathlib.Path
        Where to write the decompressed bytes.
    max_bytes : int
        Largest decompressed size.

    Returns
    -------
    pathlib.Path
        ``target``.

    Raises
    ------
    DataError
        Not gzip, corrupt or cut short, or larger than ``max_bytes``.
    """
    try:
        with gzip.open(gz_path, "rb") as source, open(target, "wb") as out:
            _copy_bounded(source, out, max_bytes, 0, gz_path.name)
    except (OSError, EOFError, zlib.error) as exc:
        raise DataError(f"{gz_path.name}: corrupt gzip ({exc})") from None
    return target
