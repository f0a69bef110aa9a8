"""The stereo front door, through real subprocesses: `spatialize`, `run --spatialize`, `data ... --channels 2`
and the spatial section of `data stats --spatial`, on stereo fixtures the tests make themselves: the procedural
corpus in stereo, and mono noise rendered through the spatialiser at known positions."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from rich.console import Console

from asmr_zoo.dataset import ManifestRow
from asmr_zoo.errors import DataError
from asmr_zoo.spatial import analyse, describe, pool
from asmr_zoo.spatialize import spatialize
from asmr_zoo_sources.cli import _spatial_table
from asmr_zoo_sources.processing import training_channels
from asmr_zoo_sources.stats import summarise
from asmr_zoo_sources.synthetic import SyntheticSource

RATE = 22050


def one_line_error(result: subprocess.CompletedProcess, message: str) -> None:
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], result.stderr


def write_noise(path: Path, seconds: float = 1.0, channels: int = 1, seed: int = 0) -> Path:
    audio = 0.1 * np.random.default_rng(seed).standard_normal((round(seconds * RATE), channels))
    sf.write(str(path), audio.astype(np.float32), RATE)
    return path


def test_spatialize_writes_two_channels_at_the_input_rate(cli, tmp_path: Path) -> None:
    source = write_noise(tmp_path / "in.wav")
    result = cli("spatialize", str(source), "--path", "right", "-o", "out.wav")
    assert result.returncode == 0, result.stderr
    audio, rate = sf.read(str(tmp_path / "out.wav"), always_2d=True)
    assert audio.shape == (RATE, 2) and rate == RATE
    clip = analyse(audio.T, rate).clip
    assert clip.itd_us > 600 and clip.ild_db["high"] > 10  # measured from the file: the sound is on the right
    moving = cli("spatialize", str(source), "--path", "ear-to-ear", "--period", "0.5", "-o", "sweep.flac")
    assert moving.returncode == 0, moving.stderr
    assert sf.info(str(tmp_path / "sweep.flac")).channels == 2


def test_stereo_input_is_downmixed_with_a_note(cli, tmp_path: Path) -> None:
    source = write_noise(tmp_path / "stereo.wav", channels=2)
    result = cli("spatialize", str(source), "--path", "left", "-o", "out.wav")
    assert result.returncode == 0, result.stderr
    assert "note: " in result.stderr and "has 2 channels; spatialising their mono downmix" in result.stderr
    assert analyse(sf.read(str(tmp_path / "out.wav"), always_2d=True)[0].T, RATE).clip.itd_us < -600


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["IN", "--path", "centre"], "unknown spatial path 'centre' (did you mean 'center'?); choose one of: left,"),
        (["IN", "--path", "circle", "--period", "0"], "--period must be a number of seconds in (0, 3600]"),
        (["IN", "--path", "circle", "--period", "-2"], "--period must be a number of seconds in (0, 3600]"),
        (["notes.txt", "--path", "left"], "notes.txt is not a readable audio file"),
        (["missing.wav", "--path", "left"], "missing.wav does not exist"),
        (["IN", "--path", "left", "-o", "no/such/dir/out.wav"], "output directory no/such/dir does not exist"),
        (["IN", "--path", "left", "-o", "out.mp3"], "must end in .wav or .flac"),
    ],
)
def test_bad_input_is_one_line_and_writes_nothing(cli, tmp_path: Path, args: list[str], message: str) -> None:
    write_noise(tmp_path / "in.wav")
    (tmp_path / "notes.txt").write_text("not audio")
    args = [str(tmp_path / "in.wav") if a == "IN" else a for a in args]
    if "-o" not in args:
        args += ["-o", "out.wav"]
    one_line_error(cli("spatialize", *args), message)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.wav", "notes.txt"]  # no output, no temp file


def test_run_spatialize_writes_binaural_generated_audio(cli, tmp_path: Path, zoo_home) -> None:
    base = ("run", "--id", "wavenet-none-whispering", "-s", "0.3", "--seed", "1")
    result = cli(*base, "--spatialize", "left", "-o", "w.wav")
    assert result.returncode == 0, result.stderr
    audio, rate = sf.read(str(tmp_path / "w.wav"), always_2d=True)
    assert audio.shape[1] == 2 and rate == 16000 and len(audio) == round(0.3 * rate)
    assert analyse(audio.T, rate).clip.ild_db["high"] < -10
    one_line_error(cli(*base, "--spatialize", "ear2ear", "-o", "x.wav"), "(did you mean 'ear-to-ear'?)")
    one_line_error(cli(*base, "--period", "2", "-o", "x.wav"), "--period needs --spatialize PATH")
    assert not (tmp_path / "x.wav").exists()


def test_synth_channels_2_gives_stereo_training_copies_and_stats(cli, tmp_path: Path) -> None:
    out = tmp_path / "stereo"
    triggers = "massaging_bi_mic,whispering"
    args = ["data", "synth", "--triggers", triggers, "--minutes", "0.3", "--clip-seconds", "2", "--seed", "0"]
    result = cli(*args, "--channels", "2", "--out", str(out))
    assert result.returncode == 0, result.stderr
    rows = [json.loads(line) for line in (out / "manifest.jsonl").read_text().splitlines()]
    assert {(r["channels"], r["sample_rate"], r["master_channels"]) for r in rows} == {(2, 16000, 2)}
    assert all(sf.info(str(out / r["path"])).channels == 2 for r in rows)
    summary = json.loads(cli("data", "stats", str(out), "--json", "--spatial").stdout)
    massaging, whispering = (summary["triggers"][t]["spatial"] for t in ("massaging_bi_mic", "whispering"))
    assert massaging["read"] == "training copies" and massaging["clips"] == 9 and massaging["sample_rates"] == [16000]
    assert massaging["dual_mono_share"] == 0.0 and massaging["coherence"]["mean"] > 0.95  # amplitude panning
    assert massaging["ild_db"]["std"] > whispering["ild_db"]["std"] + 3  # it swaps ears outright, others glide
    one_line_error(cli(*args, "--channels", "3", "--out", str(tmp_path / "three")), "--channels must be 1")
    assert not (tmp_path / "three").exists()


def test_a_rerun_with_other_channels_is_refused(cli, tmp_path: Path) -> None:
    out = tmp_path / "mono"
    args = ["data", "synth", "--triggers", "whispering", "--minutes", "0.1", "--clip-seconds", "2", "--out", str(out)]
    assert cli(*args).returncode == 0  # the default: mono training copies
    manifest = (out / "manifest.jsonl").read_text()
    one_line_error(
        cli(*args, "--channels", "2"),
        f"{out} holds 1-channel training copies, which a rerun keeps as they are; rerun with --channels 1, "
        "or build the 2-channel set into another --out",
    )
    assert (out / "manifest.jsonl").read_text() == manifest
    again = cli(*args, "--channels", "1")
    assert again.returncode == 0 and "0 processed, 3 already done" in again.stdout, again.stderr


@pytest.fixture
def placed_recordings(tmp_path: Path) -> Path:
    """Folders of stereo recordings with known images: synthetic massaging (moving between the ears), noise
    rendered centred and on the left by the spatialiser, and mono forced to two channels."""
    root = tmp_path / "recordings"
    rng = np.random.default_rng(5)
    clips = {
        "massaging_bi_mic": [
            SyntheticSource(minutes=0.1, seed=k).render("massaging_bi_mic", k, "v").audio for k in (0, 1)
        ],
        "whispering": [spatialize(0.1 * rng.standard_normal(2 * RATE), RATE, "center")[0] for _ in range(2)],
        "tapping_wood": [spatialize(0.1 * rng.standard_normal(2 * RATE), RATE, "left")[0] for _ in range(2)],
        "brushing_mic": [np.repeat(0.1 * rng.standard_normal((1, 2 * RATE)), 2, axis=0) for _ in range(2)],
    }
    for trigger, audios in clips.items():
        (root / trigger).mkdir(parents=True)
        for k, audio in enumerate(audios):
            sf.write(str(root / trigger / f"take{k}.wav"), audio.T.astype(np.float32), RATE)
    return root


def test_stats_reports_the_images_of_placed_recordings(cli, tmp_path: Path, placed_recordings: Path) -> None:
    out = tmp_path / "placed"
    result = cli("data", "folder", str(placed_recordings), "--out", str(out), "--channels", "2")
    assert result.returncode == 0, result.stderr
    stats = cli("data", "stats", str(out), "--json", "--spatial")
    assert stats.returncode == 0, stats.stderr
    spatial = {t: e["spatial"] for t, e in json.loads(stats.stdout)["triggers"].items()}
    centred, left = spatial["whispering"], spatial["tapping_wood"]
    assert abs(centred["itd_us"]["median"]) < 2 and abs(centred["ild_db"]["mean"]) < 0.5
    assert left["itd_us"]["median"] < -600 and left["ild_high_db"]["median"] < -10
    assert spatial["massaging_bi_mic"]["ild_db"]["std"] > centred["ild_db"]["std"] + 5
    assert spatial["brushing_mic"]["dual_mono_share"] == 1.0 and centred["dual_mono_share"] == 1.0
    assert spatial["massaging_bi_mic"]["dual_mono_share"] == 0.0 == left["dual_mono_share"]
    table = cli("data", "stats", str(out), "--spatial", env={"COLUMNS": "200"})
    assert "stereo" in table.stdout and "dual mono" in table.stdout and "100%" in table.stdout
    plain = cli("data", "stats", str(out), "--json")  # the spatial section is opt-in: no file is read
    assert all("spatial" not in e for e in json.loads(plain.stdout)["triggers"].values())
    assert "dual mono" not in cli("data", "stats", str(out)).stdout
    three = cli("data", "folder", str(placed_recordings), "--out", str(tmp_path / "three"), "--channels", "3")
    one_line_error(three, "--channels must be 1 (mono training copies) or 2 (stereo), not 3")
    assert not (tmp_path / "three").exists()


def test_stereo_training_copies_duplicate_mono_and_refuse_more_channels() -> None:
    mono = np.arange(6, dtype=np.float32).reshape(1, 6)
    assert np.array_equal(training_channels(mono, 2), np.concatenate([mono, mono]))
    stereo = np.stack([mono[0], -mono[0]])
    assert np.array_equal(training_channels(stereo, 2), stereo) and training_channels(stereo, 1).shape == (1, 6)
    with pytest.raises(DataError, match="the source has 3 channels; stereo training copies need a mono or stereo"):
        training_channels(np.zeros((3, 6), dtype=np.float32), 2)


def test_spatial_stats_read_only_counted_rows(tmp_path: Path) -> None:
    """Unknown and dropped rows are neither counted nor read (their files here would not even load)."""
    rng = np.random.default_rng(6)
    (tmp_path / "whispering").mkdir()
    sf.write(str(tmp_path / "whispering" / "a.wav"), 0.1 * rng.standard_normal((RATE, 2)), RATE)
    rows = [
        ManifestRow("a", "whispering", "w", 0.0, 1.0, "folder", "whispering/a.wav", RATE, 2),
        ManifestRow("b", "unknown", "intro", 0.0, 1.0, "folder", "unknown/missing.wav", RATE, 2),
        ManifestRow("c", "whispering", "w", 0.0, None, "folder", "whispering/missing.wav", RATE, 2),
    ]
    (tmp_path / "manifest.jsonl").write_text("".join(r.to_json() + "\n" for r in rows))
    seen: list[tuple[int, int]] = []
    summary = summarise(tmp_path, spatial=True, progress=lambda done, total: seen.append((done, total)))
    assert set(summary["triggers"]) == {"whispering"} and summary["unlabelled"] == 2 and seen == [(1, 1)]
    spatial = summary["triggers"]["whispering"]["spatial"]
    assert spatial["clips"] == 1 and spatial["read"] == "training copies" and spatial["frames"] > 40


def test_the_stereo_table_leaves_out_a_band_no_clip_measured() -> None:
    x = 0.1 * np.random.default_rng(7).standard_normal(4000)
    sections = {"whispering": describe(pool([analyse(np.stack([x, 0.5 * x]), 4000)]))}  # Nyquist: 2 kHz
    console = Console(record=True, width=200)
    console.print(_spatial_table(sections))
    text = console.export_text()
    assert "ILD dB" in text and "-6.0 ± 0.0" in text and "ILD >2 kHz" not in text
