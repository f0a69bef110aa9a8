"""ffmpeg, found on PATH or through imageio-ffmpeg, always called with an argument list (never a shell)."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import soundfile as sf

from asmr_zoo.errors import DataError


def find_ffmpeg() -> str:
    """The ffmpeg executable: ``ffmpeg`` on PATH, else the one bundled with imageio-ffmpeg."""
    found = shutil.which("ffmpeg")
    if found:
        return found
    try:
        import imageio_ffmpeg
    except ImportError:
        imageio_ffmpeg = None
    if imageio_ffmpeg is not None:
        return imageio_ffmpeg.get_ffmpeg_exe()
    raise DataError("ffmpeg was not found: install it (e.g. `apt install ffmpeg`) or `pip install imageio-ffmpeg`")


def extract_audio(media: Path, wav: Path) -> sf.SoundFile:
    """Decode the first audio stream of ``media`` into a float WAV at its own rate and channel count.

    Returns the WAV opened for reading (the caller closes it); raises DataError naming the problem.
    """
    media, wav = Path(media).resolve(), Path(wav).resolve()
    args = [
        find_ffmpeg(), "-nostdin", "-hide_banner", "-loglevel", "error", "-y",
        "-i", str(media), "-map", "0:a:0", "-vn", "-sn", "-dn",
        "-c:a", "pcm_f32le", "-rf64", "auto", "-f", "wav", str(wav),
    ]  # fmt: skip
    result = subprocess.run(args, capture_output=True, text=True, errors="replace", check=False)
    if result.returncode != 0:
        lines = [line.strip() for line in result.stderr.splitlines() if line.strip()]
        detail = lines[-1] if lines else f"exit status {result.returncode}"
        if any("matches no streams" in line for line in lines):
            raise DataError(f"{media.name} has no audio stream")
        raise DataError(f"ffmpeg could not decode {media.name}: it is not an audio or video file ({detail})")
    try:
        handle = sf.SoundFile(str(wav))
    except Exception as exc:
        raise DataError(f"the audio decoded from {media.name} is unreadable ({exc})") from exc
    if handle.frames == 0:
        handle.close()
        raise DataError(f"{media.name} decodes to no audio samples")
    return handle


@contextmanager
def fetched_audio(workdir: Path | None, fetch: Callable[[Path], Path]) -> Iterator[sf.SoundFile]:
    """``fetch(tmp)`` media into a temporary folder (under ``workdir``), extract its audio, yield the open WAV.

    Everything fetched or decoded is deleted on exit."""
    if workdir is not None:
        workdir.mkdir(parents=True, exist_ok=True)
    with (
        tempfile.TemporaryDirectory(prefix="asmr-zoo-", dir=workdir) as tmp,
        extract_audio(fetch(Path(tmp)), Path(tmp) / "audio.wav") as wav,
    ):
        yield wav
