"""Folders of images in and out.

Reading policy (:func:`read_image_folder`)
-------------------------------------------
* **Files**: the regular files directly inside the folder, in sorted order of their names;
  hidden files (a leading dot, such as ``.DS_Store``), subfolders, and the
  ``contact_sheet.png`` and ``labels.csv`` of a folder mixsynth wrote are ignored. Any format
  Pillow opens (PNG, JPEG, GIF, BMP, TIFF, WebP …); of a multi-frame file, the first frame.
* **Mode**: every image is converted with Pillow's ``convert`` to one mode, ``"L"`` (8-bit
  grayscale, the default) or ``"RGB"``; an alpha channel is dropped.
* **Size**: every image gets one size: ``image_size=(width, height)`` when given, otherwise
  the most common size among the images (a tie goes to the size of the first such file in
  sorted order). Images of another size are resized to it with the Lanczos filter, without
  keeping the aspect ratio, and a warning says how many were.
* **Bad files**: a file Pillow cannot open and decode completely — not an image, corrupt,
  truncated, or a decompression bomb (more pixels than ``PIL.Image.MAX_IMAGE_PIXELS``) — is an
  error listing every such file, or, with ``skip_bad=True``, is skipped with a warning that lists
  them. A folder without a single image is a :class:`FileNotFoundError`.

The table has one row per image and one column per pixel, ``p0, p1, …`` in row-major order
with the channels last (``(height, width)`` or ``(height, width, 3)`` is its ``image_shape``),
all of dtype ``uint8``.

Writing (:class:`ImageFolderWriter`)
------------------------------------
One PNG per row, ``000000.png``, ``000001.png`` … (more digits when there are a million rows or
more), plus ``contact_sheet.png``, a grid of the first 100 images. The folder is written under a
temporary name beside the target and renamed into place when complete: an interruption leaves
no partial folder. An exception, Ctrl-C or SIGTERM removes the temporary folder on the way out;
SIGKILL (or a power cut) cannot be handled, so the temporary folder's name carries the writer's
process id, ``.<name>.<pid>.<random>.tmp``, and every writer first removes, in its target's
folder, those whose process no longer runs and that hold nothing but an image output's files.
"""

from __future__ import annotations

import contextlib
import math
import os
import re
import shutil
import tempfile
import uuid
import warnings
from collections import Counter
from pathlib import Path
from types import TracebackType
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from mixsynth._testhooks import pause_point
from mixsynth.io.atomic import OutputError, OutputExistsError
from mixsynth.io.table import Table

__all__ = ["CONTACT_SHEET", "IMAGE_MODES", "ImageFolderWriter", "read_image_folder"]

#: Modes images are converted to.
IMAGE_MODES = ("L", "RGB")
#: The grid of the first images that an image folder output holds.
CONTACT_SHEET = "contact_sheet.png"
#: The file of labels an image folder output of a class-conditional model holds.
LABELS_FILE = "labels.csv"
#: Images on the contact sheet, at most.
CONTACT_SHEET_MAX = 100
#: Bad files named in a message, at most.
_MAX_LISTED = 10
_OUTPUT_NAME = re.compile(r"^\d{6,}\.png$")
#: A writer's temporary folder: ``.<target name>.<pid>.<mkdtemp's random part>.tmp``.
_TEMP_NAME = re.compile(r"^\..+\.(\d+)\.[a-z0-9_]{8}\.tmp$")


def _list_files(folder: Path) -> list[Path]:
    return sorted((p for p in folder.iterdir()
                   if p.is_file() and not p.name.startswith(".")
                   and p.name not in (CONTACT_SHEET, LABELS_FILE)),
                  key=lambda p: p.name)


def _why(exc: BaseException) -> str:
    """Why a file is not a readable image, in a few words."""
    from PIL import Image, UnidentifiedImageError

    if isinstance(exc, UnidentifiedImageError):
        return "not an image"
    if isinstance(exc, Image.DecompressionBombError | Image.DecompressionBombWarning):
        return "decompression bomb"
    text = " ".join(str(exc).split())
    if "truncated" in text:
        return "truncated"
    return f"corrupt: {text}" if text else f"corrupt: {type(exc).__name__}"


@contextlib.contextmanager
def _strict_pillow() -> Any:
    """Pillow's decompression-bomb *warning* treated as the error it guards against."""
    from PIL import Image

    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        yield


def _bad_files_text(bad: dict[Path, str]) -> str:
    items = [f"{p.name} ({why})" for p, why in bad.items()]
    if len(items) > _MAX_LISTED:
        items = [*items[:_MAX_LISTED], f"and {len(items) - _MAX_LISTED} more"]
    return ", ".join(items)


def read_image_folder(
    path: str | os.PathLike[str],
    *,
    mode: str = "L",
    image_size: tuple[int, int] | None = None,
    skip_bad: bool = False,
) -> Table:
    """Read a folder of images as one row of pixels per image (policy: module docstring).

    Parameters
    ----------
    path : path-like
        The folder.
    mode : {"L", "RGB"}, default="L"
        Grayscale or colour.
    image_size : (int, int), optional
        ``(width, height)`` every image is resized to; the most common size when not given.
    skip_bad : bool, default=False
        Skip unreadable files with a warning instead of failing.

    Returns
    -------
    Table
        ``values`` of shape (n_images, height * width [* 3]) in [0, 255], ``image_shape``.

    Raises
    ------
    FileNotFoundError
        If the folder does not exist or holds no image.
    ValueError
        If some files are not readable images and ``skip_bad`` is false, or for a bad ``mode``.
    """
    from PIL import Image

    if mode not in IMAGE_MODES:
        raise ValueError(f"mode must be one of {IMAGE_MODES}, got {mode!r}.")
    if image_size is not None and (len(image_size) != 2 or min(image_size) < 1):
        raise ValueError(f"image_size must be (width, height) >= 1, got {image_size!r}.")
    folder = Path(path)
    files = _list_files(folder)
    bad: dict[Path, str] = {}
    sizes: dict[Path, tuple[int, int]] = {}
    for p in files:  # headers only: formats and sizes
        try:
            with _strict_pillow(), Image.open(p) as im:
                sizes[p] = im.size
        except Exception as exc:  # any failure to open is a bad file, reported below
            bad[p] = _why(exc)
    target = image_size or (Counter(sizes.values()).most_common(1)[0][0] if sizes else (1, 1))
    width, height = int(target[0]), int(target[1])
    channels = 3 if mode == "RGB" else 1
    pixels = np.empty((len(sizes), height * width * channels), dtype=np.uint8)
    good: list[Path] = []
    resized = 0
    for p in sizes:
        try:
            with _strict_pillow(), Image.open(p) as im:
                im.load()
                img = im.convert(mode)
            if img.size != (width, height):
                img = img.resize((width, height), Image.Resampling.LANCZOS)
                resized += image_size is None
        except Exception as exc:  # truncated data shows only when decoding
            bad[p] = _why(exc)
            continue
        pixels[len(good)] = np.asarray(img, dtype=np.uint8).reshape(-1)
        good.append(p)
    if bad:
        bad = {p: bad[p] for p in files if p in bad}  # in file order
        text = _bad_files_text(bad)
        if not skip_bad:
            raise ValueError(
                f"{len(bad)} of {len(files)} files in {folder} are not readable images: {text}. "
                "Remove them, or pass --skip-bad to skip them."
            )
        warnings.warn(f"skipped {len(bad)} of {len(files)} files in {folder} that are not "
                      f"readable images: {text}.", UserWarning, stacklevel=2)
    if not good:
        raise FileNotFoundError(f"no images in {folder}")
    if resized:
        warnings.warn(
            f"resized {resized} of {len(good)} images in {folder} to {width}x{height}, the most "
            "common size (Lanczos filter); pass --image-size WxH to choose the size.",
            UserWarning, stacklevel=2,
        )
    shape: tuple[int, ...] = (height, width, 3) if channels == 3 else (height, width)
    d = pixels.shape[1]
    return Table(
        values=pixels[: len(good)].astype(np.float64),
        columns=tuple(f"p{j}" for j in range(d)),
        dtypes=("uint8",) * d,
        image_shape=shape,
        source=str(folder),
    )


def to_images(values: ArrayLike, image_shape: tuple[int, ...]) -> NDArray[np.uint8]:
    """Rows of pixels as an array of images ``(n, height, width[, 3])`` of ``uint8``."""
    X = np.asarray(values, dtype=np.float64)
    if X.ndim != 2 or X.shape[1] != math.prod(image_shape):
        raise ValueError(f"rows of {X.shape[1] if X.ndim == 2 else '?'} values do not make "
                         f"images of shape {tuple(image_shape)}.")
    return np.clip(np.rint(X), 0, 255).astype(np.uint8).reshape(len(X), *image_shape)


def contact_sheet(images: NDArray[np.uint8], *, gap: int = 2) -> Any:
    """A grid of images as one PIL image (small images are enlarged, nearest neighbour),
    laid out by :func:`mixsynth.plotting.tile_images`, the one image-grid layout."""
    from PIL import Image

    from mixsynth.plotting import tile_images  # matplotlib: only when a sheet is drawn

    n = len(images)
    h, w = images.shape[1:3]
    zoom = max(1, 64 // max(h, w))
    cols = max(1, math.ceil(math.sqrt(n)))
    rows = max(1, math.ceil(n / cols))
    mode = "RGB" if images.ndim == 4 else "L"
    canvas = tile_images(images, shape=(rows, cols), image_shape=images.shape[1:], zoom=zoom,
                         gap=gap, background=128)
    return Image.fromarray(canvas.astype(np.uint8), mode=mode)


def _is_image_output(folder: Path) -> bool:
    """Whether ``folder`` holds only what an image folder output holds (or nothing)."""
    return all(
        p.is_file() and (_OUTPUT_NAME.match(p.name) or p.name in (CONTACT_SHEET, LABELS_FILE))
        for p in folder.iterdir()
    )


class ImageFolderWriter:
    """Write rows of pixels as a folder of PNG files, all or nothing.

    Use as a context manager: the folder takes its name only when the block ends normally;
    on an exception the temporary folder is removed.

    Parameters
    ----------
    path : path-like
        The folder to create. Its parent must exist.
    image_shape : tuple of int
        ``(height, width)`` or ``(height, width, 3)``.
    overwrite : bool, default=False
        Replace an existing folder — only one that holds nothing but a previous output's files
        (numbered PNGs, the contact sheet, ``labels.csv``), so that ``--force`` never deletes
        anything else.
    n_rows : int, optional
        The number of rows to come, to choose how many digits the file names have.
    """

    def __init__(self, path: str | os.PathLike[str], image_shape: tuple[int, ...], *,
                 overwrite: bool = False, n_rows: int | None = None) -> None:
        self.path = Path(path)
        self.image_shape = tuple(int(s) for s in image_shape)
        if len(self.image_shape) not in (2, 3) or (
                len(self.image_shape) == 3 and self.image_shape[2] != 3):
            raise ValueError(f"image_shape must be (height, width) or (height, width, 3), "
                             f"got {image_shape!r}.")
        self.overwrite = overwrite
        self.digits = max(6, len(str(max(0, (n_rows or 0) - 1))))
        self._check_target()
        parent = self.path.parent
        _sweep_abandoned(parent)
        try:
            self.tmp = Path(tempfile.mkdtemp(dir=parent,
                                             prefix=f".{self.path.name}.{os.getpid()}.",
                                             suffix=".tmp"))
        except OSError as exc:
            raise OutputError(f"cannot write {self.path}: {exc.strerror or exc}",
                              path=self.path, errno_=exc.errno) from exc
        self.n_written = 0
        self._sheet: list[NDArray[np.uint8]] = []
        self._labels: list[Any] = []

    def _check_target(self) -> None:
        if self.path.exists() or self.path.is_symlink():
            if not self.overwrite:
                raise OutputExistsError(self.path)
            if not self.path.is_dir() or self.path.is_symlink():
                raise OutputError(f"cannot write the image folder {self.path}: a file has "
                                  "that name", path=self.path)
            if not _is_image_output(self.path):
                raise OutputError(
                    f"{self.path} holds files other than generated images; not replacing it "
                    "even with --force: choose another folder", path=self.path)

    def write(self, values: ArrayLike, labels: ArrayLike | None = None) -> None:
        """Write rows of pixels (any real values; rounded and clipped to [0, 255])."""
        from PIL import Image

        images = to_images(values, self.image_shape)
        mode = "RGB" if len(self.image_shape) == 3 else "L"
        for arr in images:
            name = f"{self.n_written:0{self.digits}d}.png"
            try:
                Image.fromarray(arr, mode=mode).save(self.tmp / name, format="PNG")
            except OSError as exc:
                raise OutputError(f"cannot write {self.path}: {exc.strerror or exc}",
                                  path=self.path, errno_=exc.errno) from exc
            self.n_written += 1
        pause_point("images-write")  # part of the folder written: where the tests signal
        room = CONTACT_SHEET_MAX - sum(len(s) for s in self._sheet)
        if room > 0 and len(images):
            self._sheet.append(images[:room])
        if labels is not None:
            self._labels.extend(np.asarray(labels).tolist())

    def _finish(self) -> None:
        if self._sheet:
            contact_sheet(np.concatenate(self._sheet)).save(self.tmp / CONTACT_SHEET)
        if self._labels:
            import csv

            with open(self.tmp / LABELS_FILE, "w", newline="", encoding="utf-8") as f:
                out = csv.writer(f, lineterminator="\n")
                out.writerow(["file", "label"])
                for i, y in enumerate(self._labels):
                    out.writerow([f"{i:0{self.digits}d}.png", y])
        os.chmod(self.tmp, 0o777 & ~_umask())
        self._check_target()  # again: it may have appeared meanwhile
        if not self.path.exists():
            os.rename(self.tmp, self.path)
            return
        old = self.path.parent / f".{self.path.name}.{uuid.uuid4().hex}.old"
        os.rename(self.path, old)
        try:
            os.rename(self.tmp, self.path)
        except OSError:
            os.rename(old, self.path)
            raise
        shutil.rmtree(old, ignore_errors=True)

    def __enter__(self) -> ImageFolderWriter:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        try:
            if kind is None:
                try:
                    self._finish()
                except OutputError:
                    raise
                except OSError as err:
                    raise OutputError(f"cannot write {self.path}: {err.strerror or err}",
                                      path=self.path, errno_=err.errno) from err
        finally:
            if self.tmp.exists():
                shutil.rmtree(self.tmp, ignore_errors=True)


def _process_is_gone(pid: int) -> bool:
    """Whether no process ``pid`` runs (one of another user, or a reused pid, counts as running:
    its folder is then left alone, which is the safe mistake)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except OSError:  # EPERM: it exists
        return False
    return False


def _sweep_abandoned(folder: Path) -> None:
    """Remove the temporary folders that killed writers left in ``folder``: named as a writer
    names them, of a process that no longer runs, and holding only an image output's files
    (so that nothing else is ever deleted). Best effort: a failure leaves the folder as is."""
    with contextlib.suppress(OSError):
        for entry in folder.iterdir():
            match = _TEMP_NAME.match(entry.name)
            if (match is None or entry.is_symlink() or not entry.is_dir()
                    or not _process_is_gone(int(match[1]))):
                continue
            with contextlib.suppress(OSError):
                if _is_image_output(entry):
                    shutil.rmtree(entry)


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask
