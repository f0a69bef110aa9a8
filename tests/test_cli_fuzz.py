"""Property-based fuzzing of the CLI: random and boundary option values, each case a real ``python -m asmr_zoo``
subprocess in a fresh folder.

Every case must end in one of two ways: exit 0 with exactly the expected output, or a non-zero exit whose stderr
ends in exactly one ``error: ...`` line; never a traceback, and never a stray file (``*.tmp``, a half-written
``.wav`` or ``.safetensors``, a ``.work`` folder, an output folder left by a failed run). Valid values are kept
small (at most 0.2 s of audio, batches of 2, 2 training steps of a tiny model), so the file runs in about three
minutes on one core. ``derandomize=True`` makes the cases the same on every run; a failing case's message is
the command line and its stderr, so it can be rerun by hand.
"""

from __future__ import annotations

import shlex
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path

import pytest
from hypothesis import HealthCheck, Phase, event, example, given, settings
from hypothesis import strategies as st

from tests.conftest import cli_runner

MEMORY_LIMIT = 6 << 30  # per command: a case that balloons fails here instead of taking the machine down
TIMEOUT = 180
TRIGGERS = ["whispering", "tapping_glass", "brushing_mic", "scratching_mic", "tapping_wood"]


def fuzz_settings(examples: int) -> settings:
    """Reproducible (derandomized) and bounded: no shrinking, whose reruns of 3-second subprocesses would take
    minutes; the failing case is shown as it was drawn."""
    return settings(
        max_examples=examples,
        deadline=None,
        derandomize=True,
        database=None,
        phases=(Phase.explicit, Phase.generate),
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    )


def zoo(cwd: Path, home: Path, args: Sequence[str]) -> subprocess.CompletedProcess:
    env = {"ASMR_ZOO_HOME": str(home), "OMP_NUM_THREADS": "1"}
    try:
        return cli_runner(cwd, env, MEMORY_LIMIT)(*args, timeout=TIMEOUT)
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"$ asmr-zoo {_quoted(args)}\nran past {TIMEOUT} s\nstderr:\n{exc.stderr}")


def _quoted(args: Sequence[str]) -> str:
    return shlex.join(args)


def check(result: subprocess.CompletedProcess, cwd: Path, outputs: Sequence[str] = ()) -> None:
    """The outcome rules (see the module's docstring); ``outputs``: what a successful run leaves in ``cwd``, all
    of it required."""
    shown = f"$ asmr-zoo {_quoted(result.args[3:])}\nexit {result.returncode}\nstderr:\n{result.stderr}"
    event(f"exit {result.returncode}")  # --hypothesis-show-statistics: how many cases succeeded
    assert "Traceback" not in result.stderr, shown
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    # click rejecting a value that does not parse as the option's type (an int option given "1e9", a float "abc")
    # prints its own usage block and exits 2 before any asmr-zoo code runs: accepted, and only that one
    click_type_error = (
        result.returncode == 2
        and bool(lines)
        and lines[0].startswith("Usage:")
        and "Invalid value for '-" in result.stderr
    )
    if result.returncode != 0 and not click_type_error:
        errors = [line for line in lines if line.startswith("error:")]
        assert len(errors) == 1 and lines[-1] == errors[0], shown
    left = sorted(p.relative_to(cwd).as_posix() for p in cwd.rglob("*"))
    expected = set(outputs) if result.returncode == 0 else set()
    stray = [p for p in left if p.split("/")[0] not in expected]
    stray += [p for p in left if p.endswith(".tmp") or ".work" in p.split("/") or p.endswith(".lock")]
    assert not stray, f"{shown}\nleft behind: {stray}"
    missing = [p for p in expected if p not in left]
    assert not missing, f"{shown}\nexit 0 without writing: {missing}"


class Case:
    """Draws one command line: at most two of its options (``names``) get boundary values (0, -1, nan, inf, huge,
    text, empty ...), the others valid, cheap ones or none, so a failing case points at what it varied."""

    def __init__(self, draw: st.DrawFn, names: Sequence[str]) -> None:
        self.draw = draw
        self.bad = draw(st.sets(st.sampled_from(list(names)), max_size=2))

    def value(self, name: str, boundary: Sequence[object], valid: st.SearchStrategy) -> str:
        return str(self.draw(st.sampled_from(list(boundary)) if name in self.bad else valid))

    def required(self, name: str, boundary: Sequence[object], valid: st.SearchStrategy) -> str:
        return f"{name}={self.value(name, boundary, valid)}"

    def option(self, name: str, boundary: Sequence[object], valid: st.SearchStrategy) -> list[str]:
        """``[]`` (left out) or ``[f"{name}=VALUE"]`` (the ``=`` form: a value may start with '-'); a boundary
        value is always given."""
        if name not in self.bad and not self.draw(st.booleans()):
            return []
        return [f"{name}={self.value(name, boundary, valid)}"]


FREE_TEXT = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=30)
BAD_WEIGHTS = ["0", "-1", "nan", "inf", "1e308", "1e-320", "abc", ""]


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An empty ASMR_ZOO_HOME: the shipped registry only."""
    return tmp_path_factory.mktemp("home")


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory, home: Path) -> Path:
    """The tiny data set every training case reads (made once)."""
    root = tmp_path_factory.mktemp("data")
    args = ["data", "synth", "--out", "D", "--triggers", "whispering,tapping_glass", "--minutes", "0.1"]
    made = zoo(root, home, args)
    assert made.returncode == 0, made.stderr
    return root / "D"


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory, home: Path, dataset: Path) -> Path:
    """A tiny conditioned WaveNet trained for one step on ``dataset`` (for the eval cases)."""
    root = tmp_path_factory.mktemp("ckpt")
    args = ["train", "wavenet", "-c", "global", "--data", str(dataset), "--preset", "tiny", "--out", "m.safetensors"]
    made = zoo(root, home, [*args, "train.steps=1", "train.batch_size=1", "model.window=400"])
    assert made.returncode == 0, made.stderr
    return root / "m.safetensors"


def in_fresh_folder(home: Path, args: list[str], outputs: Sequence[str] = ()) -> None:
    with tempfile.TemporaryDirectory(prefix="fuzz-") as folder:
        cwd = Path(folder)
        check(zoo(cwd, home, args), cwd, outputs)


# -- run --------------------------------------------------------------------------------------------------


MODELS = {"wavenet": ["wavenet"], "global": ["wavenet", "-c", "global"], "concat": ["wavernn", "-c", "concat"]}
BAD_SAMPLER_OPTIONS = [
    *(f"fold_length={v}" for v in ["0", "-1", "2.5", "1e9", "abc", "", "true", "[1, 2]", "nan", "[" * 3000]),
    *(f"overlap={v}" for v in ["-1", "8000", "0.5", "abc"]),
    "fold=100",
    "temperature=2",
    "novalue",
]


@st.composite
def run_args(draw: st.DrawFn) -> tuple[list[str], list[str]]:
    """A ``run`` command line and the files a success writes."""
    names = ["model", "--trigger", "--seconds", "--batch", "--temperature", "--top-k", "--top-p", "--seed"]
    case = Case(draw, [*names, "--sampler", "--sampler-option", "--spatialize", "--period", "--channels", "--guidance"])
    kind = draw(st.sampled_from(list(MODELS)))
    model = draw(st.sampled_from([["nope"], ["wavernn", "-c", "global"]])) if "model" in case.bad else MODELS[kind]
    if "--trigger" in case.bad and draw(st.booleans()):  # free text: mapped to a trigger, or refused
        triggers = [draw(FREE_TEXT)]
    elif "--trigger" in case.bad:  # a blend with unknown names or weights that are no weights
        names = draw(st.lists(st.sampled_from([*TRIGGERS, "", "tapping_lava", "=1"]), min_size=1, max_size=3))
        triggers = [f"{n}={draw(st.sampled_from(BAD_WEIGHTS))}" for n in names]
    elif kind == "wavenet" or draw(st.booleans()):
        triggers = [draw(st.sampled_from([*TRIGGERS, "glass tapping", "Tapping on a wine glass"]))]
    else:  # a blend of triggers the conditioned model serves
        blend = draw(st.lists(st.sampled_from(TRIGGERS), min_size=1, max_size=3, unique=True))
        triggers = [f"{n}={draw(st.floats(0.01, 10))}" for n in blend]
    sampler = case.option("--sampler", ["nope", "", "ANCESTRAL"], st.sampled_from(["ancestral", "greedy", "folded"]))
    if "--sampler-option" in case.bad:
        sampler_options = [f"--sampler-option={draw(st.sampled_from(BAD_SAMPLER_OPTIONS))}"]
    elif sampler == ["--sampler=folded"] and draw(st.booleans()):
        fold = draw(st.integers(200, 8000))
        sampler_options = [f"--sampler-option=fold_length={fold}", f"--sampler-option=overlap={fold // 10}"]
    else:
        sampler_options = []
    spatial = case.option(
        "--spatialize", ["up", "", "Left"], st.sampled_from(["left", "center", "ear-to-ear", "circle"])
    )
    period = case.option("--period", ["0", "-1", "nan", "inf", "1e-310", "0.01", "3601"], st.floats(0.05, 8))
    channels = case.option("--channels", ["0", "3", "-1", "abc"], st.just(2 if spatial else 1))
    batch = case.value("--batch", ["0", "-1", "1025", "1e9", "abc", str(2**64)], st.integers(1, 2))
    # the band prior's trigger guidance: any scale in [0, 20] for a conditioned band model, only 0 without one
    guidance = case.option(
        "--guidance", ["-1", "nan", "inf", "20.5", "abc"], st.floats(0, 0 if kind == "wavenet" else 8)
    )
    args = [
        "run",
        *model,
        *(f"--trigger={t}" for t in triggers),
        case.required("--seconds", ["0", "-1", "nan", "inf", "1e-9", "3601", "1e308", "abc"], st.floats(0.01, 0.2)),
        f"--batch={batch}",
        *case.option("--temperature", ["-1", "nan", "inf", "1e-30", "1e30", "abc"], st.floats(0, 2)),
        *case.option("--top-k", ["-1", str(2**63), "1e9", "abc", ""], st.integers(0, 300)),
        *case.option("--top-p", ["0", "-0.1", "1.5", "nan", "1e-300"], st.floats(0.05, 1)),
        *case.option("--seed", ["-1", str(2**64 - 1), str(2**64), str(10**30), "abc"], st.integers(0, 99)),
        *sampler,
        *sampler_options,
        *spatial,
        *(period if spatial or "--period" in case.bad else []),
        *channels,
        *guidance,
        "-o",
        "out.wav",
    ]
    count = int(batch) if batch in ("1", "2") else 1
    return args, ["out.wav"] if count == 1 else [f"out-{i + 1}.wav" for i in range(count)]


RUN = ["run", "wavenet", "-s", "0.05", "-o", "out.wav"]  # the explicit cases: bugs these tests found


@fuzz_settings(10)
@example(case=([*RUN, "-t", "whispering", "--seed", str(2**64)], []))
@example(case=([*RUN, "-t", "whispering", "--sampler", "folded", "--sampler-option", "fold_length=2.5"], []))
@example(case=([*RUN, "-c", "global", "-t", "whispering=1e308", "-t", "tapping_glass=1e308"], ["out.wav"]))
@example(case=([*RUN, "-t", "whispering", "--spatialize", "circle", "--period", "1e-310"], []))
@given(case=run_args())
def test_run(home: Path, case: tuple[list[str], list[str]]) -> None:
    args, outputs = case
    in_fresh_folder(home, args, outputs)


# -- data synth -------------------------------------------------------------------------------------------


@st.composite
def synth_args(draw: st.DrawFn) -> list[str]:
    case = Case(draw, ["--triggers", "--minutes", "--clip-seconds", "--seed", "--sample-rate", "--channels"])
    valid_triggers = st.lists(st.sampled_from(TRIGGERS[:2]), min_size=1, max_size=2).map(",".join)
    return [
        "data",
        "synth",
        "--out",
        "D",
        case.required("--triggers", ["nope", "whispering,nope", "Whispering", "../x"], valid_triggers),
        case.required("--minutes", ["0", "-1", "nan", "inf", "1e-9", "0.01", "601", "abc"], st.floats(0.05, 0.1)),
        *case.option("--clip-seconds", ["0", "-1", "nan", "1e-9", "0.5", "3601", ""], st.floats(1, 3)),
        *case.option("--seed", ["-1", str(2**64), str(10**30), "abc"], st.integers(0, 99)),
        *case.option("--sample-rate", ["0", "-1", "999", "192001", "1e9", "abc"], st.integers(8000, 16000)),
        *case.option("--channels", ["0", "3", "-1"], st.integers(1, 2)),
    ]


SYNTH = ["data", "synth", "--out", "D", "--triggers", "whispering"]


@fuzz_settings(12)
@example(args=[*SYNTH, "--minutes", "1e-9"])
@example(args=[*SYNTH, "--minutes", "0.01", "--clip-seconds", "1e-9"])
@example(args=[*SYNTH, "--minutes", "0.1", "--seed", "-1"])
@example(args=[*SYNTH, "--minutes", "0.1", "--sample-rate", "0"])
@given(args=synth_args())
def test_data_synth(home: Path, args: list[str]) -> None:
    in_fresh_folder(home, args, ["D"])


# -- train ------------------------------------------------------------------------------------------------

BAD = ["0", "-1", "nan", "inf", "1e9", "abc", "", "1e308", str(10**12)]  # the boundary values, and more
OVERRIDES = {  # key: its valid, cheap values
    "train.batch_size": st.integers(1, 2),
    "train.steps": st.integers(1, 2),
    "train.lr": st.floats(1e-4, 0.1),
    "train.eval_every": st.integers(1, 3),
    "train.checkpoint_every": st.integers(1, 3),
    "train.eval_windows": st.integers(1, 4),
    "train.threads": st.just(1),
    "model.window": st.integers(64, 400),
    "model.residual_channels": st.integers(2, 8),
}


@st.composite
def train_args(draw: st.DrawFn) -> list[str]:
    """Small valid settings, then up to two keys given boundary values and others valid ones (the last wins)."""
    case = Case(draw, list(OVERRIDES))
    keys = [*case.bad, *draw(st.lists(st.sampled_from(list(OVERRIDES)), max_size=2))]
    # 10**12 steps would be valid, and train for ever
    overrides = [
        f"{k}={case.value(k, BAD[:-1] if k == 'train.steps' else BAD, OVERRIDES[k])}" for k in dict.fromkeys(keys)
    ]
    preset = draw(st.sampled_from(["tiny", "demo"]))
    model = draw(st.sampled_from([["wavenet"], ["wavenet", "-c", "global"], ["wavernn", "-c", "gate-bias"]]))
    base = ["train.steps=2", "train.batch_size=1", "model.window=300", "train.eval_windows=2"]
    return ["train", *model, "--preset", preset, "--out", "m.safetensors", *base, *overrides]


TRAIN = ["train", "wavenet", "--preset", "tiny", "--out", "m.safetensors", "train.steps=1", "model.window=300"]


@fuzz_settings(8)
@example(args=[*TRAIN, "model.residual_channels=0"])
@example(args=[*TRAIN, "train.lr=1e9"])
@example(args=[*TRAIN, f"model.residual_channels={10**7}"])
@given(args=train_args())
def test_train(home: Path, dataset: Path, args: list[str]) -> None:
    in_fresh_folder(home, [*args, "--data", str(dataset)], ["m.safetensors", "m.safetensors.resume"])


# -- eval, info, triggers, list ---------------------------------------------------------------------------


@st.composite
def eval_args(draw: st.DrawFn) -> list[str]:
    case = Case(draw, ["--clips", "--seconds", "--seed"])
    return [
        case.required("--clips", ["-1", "1025", str(10**6), "1e9", "abc"], st.integers(0, 1)),
        case.required("--seconds", ["0", "-1", "nan", "inf", "1e-9", "3601", "abc"], st.floats(0.01, 0.2)),
        *case.option("--seed", ["-1", str(2**64), "abc"], st.integers(0, 9)),
    ]


@fuzz_settings(6)
@example(args=["--clips", "1", "--seconds", "1e-9"])
@example(args=["--clips", "600", "--seconds", "0.01"])
@given(args=eval_args())
def test_eval(home: Path, dataset: Path, checkpoint: Path, args: list[str]) -> None:
    in_fresh_folder(home, ["eval", str(checkpoint), "--data", str(dataset), *args])


@fuzz_settings(8)
@given(
    name=st.one_of(st.sampled_from(["wavenet-global", "", "*", "../registry", "WAVENET-GLOBAL"]), FREE_TEXT),
    flags=st.lists(st.sampled_from(["--json", "--card"]), unique=True),
)
def test_info(home: Path, name: str, flags: list[str]) -> None:
    in_fresh_folder(home, ["info", *flags, "--", name])


@fuzz_settings(8)
@given(text=st.one_of(st.none(), FREE_TEXT, st.just("tapping " * 2000)), as_json=st.booleans())
def test_triggers(home: Path, text: str | None, as_json: bool) -> None:
    in_fresh_folder(home, ["triggers", *(["--json"] if as_json else []), *([] if text is None else ["--", text])])


@fuzz_settings(8)
@given(
    pattern=st.one_of(st.none(), st.sampled_from(["wave*", "[", "[!", "**", "?"]), FREE_TEXT),
    kind=st.sampled_from([[], *(["--kind", k] for k in ["models", "checkpoints", "samplers", "nope", ""])]),
    as_json=st.booleans(),
)
def test_list(home: Path, pattern: str | None, kind: list[str], as_json: bool) -> None:
    args = ["list", *kind, *(["--json"] if as_json else []), *([] if pattern is None else ["--", pattern])]
    in_fresh_folder(home, args)


# -- spatialize, data folder / manifest / merge / stats, register / unregister, plugins, report ------------

RATE = 16000


def write_noise(path: Path, seconds: float = 2.0, channels: int = 1, seed: int = 0) -> Path:
    """A loud noise burst train (what a recording of a trigger might be), written as a WAV."""
    import numpy as np
    import soundfile as sf

    rng = np.random.default_rng(seed)
    frames = round(seconds * RATE)
    audio = 0.3 * rng.standard_normal((frames, channels)) * (np.arange(frames) % 4000 < 2000)[:, None]
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, audio.astype("float32"), RATE)
    return path


@pytest.fixture(scope="module")
def recordings(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``whispering/`` and ``tapping_glass/`` folders of short recordings, and ``mono.wav`` for spatialize."""
    root = tmp_path_factory.mktemp("recordings")
    for number, trigger in enumerate(TRIGGERS[:2]):
        write_noise(root / "folders" / trigger / "take.wav", 2.5, seed=number)
    write_noise(root / "audio" / "vid00000001.wav", 6.0, channels=2)
    write_noise(root / "mono.wav", 0.5)
    return root


@fuzz_settings(12)
@example(args=["--path", "circle", "--period", "1e-310"])
@example(args=["--path", "ear-to-ear", "--period", "nan"])
@given(
    args=st.builds(
        lambda path, period: ["--path", path, *period],
        st.one_of(st.sampled_from(["left", "right", "center", "ear-to-ear", "circle"]), FREE_TEXT),
        st.one_of(
            st.just([]),
            st.sampled_from(["0", "-1", "nan", "inf", "1e-310", "0.01", "3601", "abc"]).map(
                lambda p: [f"--period={p}"]
            ),
            st.floats(0.05, 8).map(lambda p: [f"--period={p}"]),
        ),
    )
)
def test_spatialize(home: Path, recordings: Path, args: list[str]) -> None:
    in_fresh_folder(home, ["spatialize", str(recordings / "mono.wav"), *args, "-o", "out.wav"], ["out.wav"])


@fuzz_settings(6)
@example(args=["--id", "wavenet-global"], stereo_input=False)
@given(
    args=st.one_of(
        st.just([]),
        st.sampled_from(["upmix-mask", "pan-prior", "nope", ""]).map(lambda i: ["--id", i]),
        FREE_TEXT.map(lambda i: ["--id", i]),
        st.sampled_from(["0", "-1", "10000", "abc"]).map(lambda t: [f"--threads={t}"]),
    ),
    stereo_input=st.booleans(),
)
def test_upmix(home: Path, recordings: Path, args: list[str], stereo_input: bool) -> None:
    source = recordings / ("audio/vid00000001.wav" if stereo_input else "mono.wav")
    in_fresh_folder(home, ["upmix", str(source), *args, "-o", "out.wav"], ["out.wav"])


STEREO_TRAINING = {  # option: (boundary values, valid values)
    "--steps": (["0", "-1", "abc", "1e3"], st.integers(1, 2)),
    "--batch": (["0", "-1", str(10**6), "abc"], st.integers(1, 3)),
    "--crop-seconds": (["0", "-1", "nan", "inf", "1e308", "abc"], st.floats(0.2, 1)),
    "--lr": (["0", "-1", "nan", "1", "abc"], st.floats(1e-4, 1e-2)),
    "--hidden": (["0", "7", str(10**6), "abc"], st.integers(8, 16)),
    "--seed": (["-1", str(2**64), "abc"], st.integers(0, 9)),
}


@st.composite
def stereo_training_args(draw: st.DrawFn) -> list[str]:
    case = Case(draw, list(STEREO_TRAINING))
    command = draw(st.sampled_from(["train-upmix", "train-pan"]))
    options = [arg for name, (bad, valid) in STEREO_TRAINING.items() for arg in case.option(name, bad, valid)]
    steps = [] if any(o.startswith("--steps") for o in options) else ["--steps", "1"]
    return [command, "--out", "m.safetensors", *steps, *options]


@fuzz_settings(8)
@example(args=["train-upmix", "--out", "m.safetensors", "--steps", "1", "--batch", "1000"])
@given(args=stereo_training_args())
def test_train_stereo(home: Path, dataset: Path, args: list[str]) -> None:
    in_fresh_folder(home, [*args, "--data", str(dataset)], ["m.safetensors"])


IMPORT_OPTIONS = {  # option: (boundary values, valid values)
    "--sample-rate": (["0", "-1", "999", "192001", "1e9", "abc"], st.sampled_from([8000, 16000])),
    "--min-seconds": (["-1", "nan", "inf", "1e308", "abc"], st.floats(0, 1)),
    "--channels": (["0", "3", "-1"], st.integers(1, 2)),
    "--format": (["mp3", "", "WAV"], st.sampled_from(["wav", "flac"])),
    "--shard": (["0/2", "3/2", "1/0", "a/b", "-1/2", ""], st.sampled_from(["1/1", "1/2", "2/2"])),
}


@st.composite
def import_options(draw: st.DrawFn) -> list[str]:
    case = Case(draw, list(IMPORT_OPTIONS))
    return [arg for name, (bad, valid) in IMPORT_OPTIONS.items() for arg in case.option(name, bad, valid)]


@fuzz_settings(10)
@example(options=["--min-seconds=1e308"])
@given(options=import_options())
def test_data_folder(home: Path, recordings: Path, options: list[str]) -> None:
    in_fresh_folder(home, ["data", "folder", str(recordings / "folders"), "--out", "D", *options], ["D"])


MANIFEST_ROWS = [  # (start, end, label) of video vid00000001, 6 s long
    *(("0", "2.5", t) for t in ["whispering", "glass tapping", "", "nope", "Tapping", "  "]),
    *(("1", "3.5", "tapping_glass"), ("-1", "2", "whispering"), ("3", "1", "whispering")),
    *((s, e, "whispering") for s, e in [("nan", "2"), ("0", "inf"), ("0", "1e308"), ("5", "99")]),
    *(("abc", "2", "whispering"), ("0:00", "0:02.5", "whispering"), ("00:00:00", "00:00:03", "whispering")),
]


@fuzz_settings(12)
@example(rows=[("0", "2.5", "whispering"), ("0", "2.5", "whispering")], options=[])
@given(
    rows=st.lists(st.sampled_from(MANIFEST_ROWS), min_size=0, max_size=3),
    options=st.one_of(import_options(), st.sampled_from([["--trigger=whispering"], ["--trigger=nope"]])),
)
def test_data_manifest(home: Path, recordings: Path, rows: list[tuple[str, str, str]], options: list[str]) -> None:
    with tempfile.TemporaryDirectory(prefix="fuzz-") as folder:
        cwd = Path(folder)
        csv = Path(tempfile.mkdtemp(prefix="fuzz-csv-")) / "rows.csv"  # outside cwd: not an output
        csv.write_text("".join(f"vid00000001,{s},{e},{label}\n" for s, e, label in rows), encoding="utf-8")
        args = ["data", "manifest", str(csv), "--audio-dir", str(recordings / "audio"), "--out", "D", *options]
        check(zoo(cwd, home, args), cwd, ["D"])


@fuzz_settings(8)
@given(
    roots=st.lists(st.sampled_from(["dataset", "dataset", "missing", "empty", "file"]), min_size=1, max_size=3),
    force=st.booleans(),
    as_json=st.booleans(),
)
def test_data_merge_and_stats(home: Path, dataset: Path, roots: list[str], force: bool, as_json: bool) -> None:
    with tempfile.TemporaryDirectory(prefix="fuzz-") as folder:
        cwd = Path(folder)
        inputs = Path(tempfile.mkdtemp(prefix="fuzz-roots-"))  # outside cwd: not an output
        (inputs / "empty").mkdir()
        (inputs / "file").write_text("not a data set\n")
        paths = {"dataset": str(dataset), "missing": str(inputs / "missing")}
        merge = ["data", "merge", *(paths.get(r, str(inputs / r)) for r in roots), "--out", "M"]
        merged = zoo(cwd, home, [*merge, *(["--force"] if force else [])])
        check(merged, cwd, ["M"])
        stats = zoo(cwd, home, ["data", "stats", "M" if merged.returncode == 0 else str(inputs / roots[0])])
        check(stats, cwd, ["M"] if merged.returncode == 0 else [])
        if as_json and merged.returncode == 0:
            check(zoo(cwd, home, ["data", "stats", "M", "--json", "--spatial"]), cwd, ["M"])


@fuzz_settings(5)
@example(entry_id="wavenet-global", triggers=[], flags=[])
@given(
    entry_id=st.one_of(st.sampled_from(["mine", "", "../x", "a/b", "MINE", "x" * 300]), FREE_TEXT),
    triggers=st.lists(st.sampled_from([*TRIGGERS, "nope", ""]), max_size=2),
    flags=st.lists(st.sampled_from(["--default", "--no-default", "--force"]), unique=True),
)
def test_register_unregister(
    tmp_path_factory: pytest.TempPathFactory, checkpoint: Path, entry_id: str, triggers: list[str], flags: list[str]
) -> None:
    own_home = tmp_path_factory.mktemp("own-home")  # each case its own user registry
    with tempfile.TemporaryDirectory(prefix="fuzz-") as folder:
        cwd = Path(folder)
        args = ["register", str(checkpoint), f"--id={entry_id}", *(f"--trigger={t}" for t in triggers), *flags]
        registered = zoo(cwd, own_home, args)
        check(registered, cwd)
        for _ in range(2):  # the second unregister finds nothing: an error, and nothing else removed
            check(zoo(cwd, own_home, ["unregister", "--", entry_id]), cwd)
        left = sorted(p.name for p in own_home.rglob("*") if p.is_file() and p.name != ".registry.yaml.lock")
        assert left in ([], ["registry.yaml"]), f"after unregister, {own_home} holds {left}"  # no weights copy


@fuzz_settings(4)
@given(as_json=st.booleans())
def test_plugins(home: Path, as_json: bool) -> None:
    in_fresh_folder(home, ["plugins", *(["--json"] if as_json else [])])


@fuzz_settings(4)
@example(args=["--seconds=nan"])
@given(
    args=st.builds(
        lambda seconds, seed, trigger: [seconds, *seed, *trigger],
        st.one_of(st.sampled_from(["0", "-1", "nan", "inf", "3601", "abc"]), st.floats(0.05, 0.1)).map(
            lambda s: f"--seconds={s}"
        ),
        st.one_of(st.just([]), st.sampled_from(["-1", str(2**64), "abc", "3"]).map(lambda s: [f"--seed={s}"])),
        st.one_of(st.just([]), st.sampled_from(["whispering", "nope", ""]).map(lambda t: [f"--trigger={t}"])),
    )
)
def test_report(home: Path, args: list[str]) -> None:
    in_fresh_folder(home, ["report", "--out", "site", "--id", "wavenet-global", "--threads", "1", *args], ["site"])
