"""The CLI as a new user meets it: `run --id` / `--checkpoint FILE` alone, free-text triggers, "did you mean",
`triggers`, tables that never cut ids, and the user registry's register / --force / unregister, concurrent
registers under one lock, and a failed re-register that keeps the registered weights."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import soundfile as sf
from safetensors import safe_open
from safetensors.torch import save_file

from asmr_zoo.registry import read_registry_file
from tests.conftest import wait_for_cpu

CHECKPOINTS = Path(__file__).resolve().parents[1] / "checkpoints"
WHISPER = CHECKPOINTS / "wavenet-none-whispering.safetensors"


def one_line_error(result: subprocess.CompletedProcess, message: str) -> None:
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], result.stderr


def test_run_by_id_and_by_file_alone(cli, tmp_path, zoo_home) -> None:
    by_id = cli("run", "--id", "wavenet-none-whispering", "-s", "0.1", "--seed", "1", "-o", "a.wav")
    assert by_id.returncode == 0, by_id.stderr
    assert "from wavenet-none-whispering" in by_id.stderr
    by_file = cli("run", "--checkpoint", str(WHISPER), "-s", "0.1", "--seed", "1", "-o", "b.wav")
    assert by_file.returncode == 0, by_file.stderr  # model, conditioner and its one trigger come from the file
    assert (sf.read(tmp_path / "a.wav")[0] == sf.read(tmp_path / "b.wav")[0]).all()  # same weights, same seed
    one_line_error(cli("run", "wavernn", "--id", "wavenet-none-whispering", "-o", "c.wav"), "is a wavenet model")
    one_line_error(cli("run", "--id", "no-such-id", "-o", "c.wav"), "no checkpoint with id 'no-such-id'")
    one_line_error(cli("run", "-t", "whispering", "-o", "c.wav"), "name a model")
    assert not (tmp_path / "c.wav").exists()


def test_free_text_trigger_is_normalised_with_a_note(cli, tmp_path, zoo_home) -> None:
    result = cli("run", "wavernn", "-c", "concat", "-t", "glass tapping", "-s", "0.05", "-o", "g.wav")
    assert result.returncode == 0, result.stderr
    assert 'using tapping_glass for "glass tapping"' in result.stderr
    result = cli("run", "wavernn", "-c", "concat", "-t", "tapping_glas", "-s", "0.05", "-o", "x.wav")
    one_line_error(result, "(did you mean 'tapping_glass'?); available triggers: brushing_cork")
    assert not (tmp_path / "x.wav").exists()


def test_triggers_command(cli) -> None:
    doc = json.loads(cli("triggers", "--json").stdout)
    assert "tapping" in doc["techniques"] and "sponge_mic" in doc["materials"] and len(doc["common"]) == 11
    assert "knocking" in doc["synonyms"]["techniques"]["tapping"]
    assert cli("triggers", "Tapping on a wine glass").stdout.strip() == "tapping_glass"
    assert cli("triggers", "talking about my day").stdout.strip() == "unknown"


def test_piped_list_never_cuts_ids_and_says_what_run_picks(cli) -> None:
    out = cli("list", "--kind", "checkpoints", env={"COLUMNS": "80"}).stdout
    rows = {line.split("\t")[0]: line.split("\t") for line in out.splitlines()[2:]}
    assert "wavernn-none-scratching-sponge-mic" in rows
    assert rows["wavernn-concat"][2] == "11 common triggers"
    assert rows["wavernn-concat"][-1] == "no (use --id)"  # the paper's variant; run picks the band one
    assert rows["wavernn-concat-envelope"][-1] == "no (use --id)"
    assert rows["wavernn-concat-bands"][-1] == "no (use --id)"  # trained on: run picks the longer training
    assert rows["wavernn-concat-bands-long"][-1] == "no (use --id)"  # its prior trained on: run picks -ss
    assert rows["wavernn-concat-bands-ss"][-1] == "yes"
    assert max(len(line) for line in out.splitlines()) > 80  # not folded to the width, not truncated


def zoo(home: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "ASMR_ZOO_HOME": str(home), "COLUMNS": "200"}
    return subprocess.run([sys.executable, "-m", "asmr_zoo", *args], capture_output=True, text=True, env=env, cwd=cwd)


def with_metadata(src: Path, dst: Path, **changes: str) -> Path:
    with safe_open(str(src), framework="pt") as fh:
        meta = dict(fh.metadata())
        tensors = {k: fh.get_tensor(k) for k in fh.keys()}  # noqa: SIM118
    meta.update({f"asmr_zoo.{k}": v for k, v in changes.items()})
    save_file(tensors, str(dst), metadata=meta)
    return dst


def test_register_force_unregister_keep_data_safe(tmp_path) -> None:
    home = tmp_path / "home"
    assert zoo(home, "register", str(WHISPER), "--id", "mine", cwd=tmp_path).returncode == 0
    one_line_error(zoo(home, "register", str(WHISPER), "--id", "mine", cwd=tmp_path), "pass --force")
    one_line_error(zoo(home, "register", str(WHISPER), "--id", "wavenet-global", cwd=tmp_path), "shipped")
    # A re-register whose checkpoint fails validation leaves the registered one intact and runnable.
    broken = with_metadata(WHISPER, tmp_path / "broken.safetensors", sample_rate="abc")
    one_line_error(zoo(home, "register", str(broken), "--id", "mine", "--force", cwd=tmp_path), "malformed")
    run = zoo(home, "run", "--id", "mine", "-s", "0.05", "-o", "m.wav", cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    # --force with another file replaces the entry, then removes the old weights.
    (old,) = read_registry_file(home / "registry.yaml")[0]
    other = with_metadata(WHISPER, tmp_path / "other.safetensors", **{"extra.note": '"x"'})
    replaced = zoo(home, "register", str(other), "--id", "mine", "--force", cwd=tmp_path)
    assert replaced.returncode == 0 and "replaced 'mine'" in replaced.stderr
    (new,) = read_registry_file(home / "registry.yaml")[0]
    assert new.path.is_file() and not old.path.exists()
    one_line_error(zoo(home, "unregister", "wavenet-global", cwd=tmp_path), "only your own")
    gone = zoo(home, "unregister", "mine", cwd=tmp_path)
    assert gone.returncode == 0, gone.stderr
    assert read_registry_file(home / "registry.yaml")[0] == [] and not new.path.exists()
    assert [p.name for p in (home / "checkpoints").iterdir()] == []


def test_the_next_register_removes_what_a_killed_one_left(tmp_path) -> None:
    """A register killed between copying the weights and writing the registry leaves an orphan copy (and
    perhaps a temp file); the next register removes them and keeps every registered entry's weights."""
    home = tmp_path / "home"
    assert zoo(home, "register", str(WHISPER), "--id", "kept", cwd=tmp_path).returncode == 0
    (kept,) = read_registry_file(home / "registry.yaml")[0]
    orphan = home / "checkpoints" / "lost-0123456789ab.safetensors"
    orphan.write_bytes(WHISPER.read_bytes())
    temp = home / "checkpoints" / ".lost-0123456789ab.safetensors.x1y2.tmp"
    temp.write_bytes(b"half a copy")
    assert zoo(home, "register", str(WHISPER), "--id", "new", cwd=tmp_path).returncode == 0
    assert not orphan.exists() and not temp.exists()
    entries, _ = read_registry_file(home / "registry.yaml")
    assert sorted(e.id for e in entries) == ["kept", "new"] and all(e.path.is_file() for e in entries)
    assert kept.path.is_file()


def test_concurrent_registers_all_land(tmp_path) -> None:
    home = tmp_path / "home"
    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda i: zoo(home, "register", str(WHISPER), "--id", f"c{i}", cwd=tmp_path), range(8)))
    assert all(r.returncode == 0 for r in results), [r.stderr for r in results]
    entries, _ = read_registry_file(home / "registry.yaml")
    assert sorted(e.id for e in entries) == [f"c{i}" for i in range(8)]
    assert len(list((home / "checkpoints").glob("*.safetensors"))) == 8


@pytest.mark.parametrize("change", [{"vocabulary": "[not json"}, {"config": "{"}])
def test_broken_json_metadata_is_a_one_line_error(cli, tmp_path, zoo_home, change) -> None:
    broken = with_metadata(WHISPER, tmp_path / "b.safetensors", **change)
    one_line_error(cli("run", "--checkpoint", str(broken), "-o", "x.wav"), "is not valid JSON")
    one_line_error(cli("register", str(broken)), "is not valid JSON")


def test_sampler_options_from_the_cli(cli, tmp_path, zoo_home) -> None:
    base = ("run", "wavernn", "-c", "concat", "-t", "tapping_glass", "--sampler", "folded", "-s", "0.5")
    ok = cli(*base, "--sampler-option", "fold_length=2000", "--sampler-option", "overlap=200", "-o", "f.wav")
    assert ok.returncode == 0, ok.stderr
    assert len(sf.read(tmp_path / "f.wav")[0]) == 8000
    one_line_error(cli(*base, "--sampler-option", "fold=2000", "-o", "x.wav"), "its options: fold_length, overlap")
    one_line_error(cli(*base, "--sampler-option", "fold_length=abc", "-o", "x.wav"), "bad option for sampler")
    one_line_error(cli(*base, "--sampler-option", "temperature=2", "-o", "x.wav"), "use the --temperature option")
    one_line_error(cli(*base, "--sampler-option", "novalue", "-o", "x.wav"), "must look like key=value")
    assert not (tmp_path / "x.wav").exists()


def test_a_sampler_with_its_own_pick_warns_that_the_fast_loop_is_off() -> None:
    import torch

    from asmr_zoo.factory import build_model
    from asmr_zoo.sampling import AncestralSampler, pick_with_policy

    class Custom(AncestralSampler):
        name = "custom"

        def pick(self, logits: torch.Tensor, head: int) -> torch.Tensor:
            return pick_with_policy(logits, self.policy)

    model = build_model("wavernn", "none", [], {"hidden": 16}).eval()
    with pytest.warns(RuntimeWarning, match="fast generation loop is off"):
        Custom(seed=0).generate(model, 10, None)


def test_threads_option_gives_the_same_audio_and_rejects_bad_counts(cli, tmp_path, zoo_home) -> None:
    for threads in ("1", "2"):
        result = cli("run", "--id", "wavernn-gate-bias", "-t", "tapping_glass", "-s", "0.2", "--seed", "3",
                     "--batch", "2", "--threads", threads, "-o", f"t{threads}.wav")  # fmt: skip
        assert result.returncode == 0, result.stderr
    for clip in ("-1.wav", "-2.wav"):
        assert (sf.read(tmp_path / f"t1{clip}")[0] == sf.read(tmp_path / f"t2{clip}")[0]).all()
    for bad in ("0", "-3", "100000"):
        one_line_error(cli("run", "wavernn", "-t", "tapping_glass", "--threads", bad, "-o", "x.wav"), "--threads")
        one_line_error(cli("eval", str(WHISPER), "--data", str(tmp_path), "--threads", bad), "--threads")
    assert not (tmp_path / "x.wav").exists()


def test_channels_2_is_a_stereo_checkpoint_or_a_spatialize_path(cli, tmp_path, zoo_home) -> None:
    """(A mono checkpoint asked for 2 channels is a one-line error naming --spatialize: tests/test_pan_prior.py.)"""
    one_line_error(cli("run", "wavernn", "-t", "tapping_glass", "--channels", "3", "-o", "s.wav"), "1 or 2")
    one_line_error(
        cli("run", "wavernn", "-t", "tapping_glass", "--channels", "1", "--spatialize", "left", "-o", "s.wav"),
        "--spatialize writes 2 channels",
    )
    assert not (tmp_path / "s.wav").exists()
    result = cli("run", "wavernn", "-t", "tapping_glass", "--channels", "2", "--spatialize", "left", "-s", "0.2",
                 "-o", "s.wav")  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert sf.info(tmp_path / "s.wav").channels == 2
    one_line_error(  # the per-trigger models are mono only
        cli("run", "wavernn", "-t", "tapping_glass", "--channels", "2", "-s", "0.2", "-o", "p.wav"), "--spatialize"
    )
    result = cli("run", "wavernn", "-c", "concat", "-t", "tapping_glass", "--channels", "2", "-s", "0.2", "-o", "p.wav")
    assert result.returncode == 0, result.stderr
    assert sf.info(tmp_path / "p.wav").channels == 2


def test_ctrl_c_during_run_is_one_line_and_writes_nothing(tmp_path, zoo_home) -> None:
    import signal

    env = {**os.environ, "ASMR_ZOO_HOME": str(zoo_home), "NO_COLOR": "1"}
    work = tmp_path / "work"
    work.mkdir()
    proc = subprocess.Popen(
        [sys.executable, "-m", "asmr_zoo", "run", "wavenet", "-t", "whispering", "-s", "600", "-o", "long.wav"],
        cwd=work, env=env, stderr=subprocess.PIPE, text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),  # as in a terminal, even when this
    )  # fmt: skip  # test runs in a background job, whose SIGINT the shell ignores (and children inherit)
    wait_for_cpu(proc, 6.0)  # imports and the C build done, generating (10 minutes of audio take far longer)
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130
    assert "Traceback" not in stderr and "interrupted (Ctrl-C)" in stderr.strip().splitlines()[-1]
    assert list(work.iterdir()) == []
