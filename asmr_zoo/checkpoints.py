"""safetensors checkpoints: self-describing, atomically written, hash-verified, never unpickled.

Metadata keys (strings, namespaced ``asmr_zoo.*``): format_version, model, conditioner, codec,
sample_rate, vocabulary (JSON list), config (JSON), plus any ``asmr_zoo.extra.*`` the caller adds.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from asmr_zoo.errors import AsmrZooError, CheckpointError
from asmr_zoo.validation import load_json

FORMAT_VERSION = "1"
UPMIXER = "upmix-mask"  # the model name of a mono-to-stereo upmixer (asmr_zoo/upmix.py)
PAN_PRIOR = "pan-prior"  # the model name of a stereo pan prior (asmr_zoo/pan_prior.py)
# checkpoints that are not generators: what each is, the command that uses it, the one that trains it
AUXILIARY = {
    UPMIXER: ("an upmixer (mono to stereo)", "asmr-zoo upmix IN.wav -o OUT.wav --checkpoint {path}", "train-upmix"),
    PAN_PRIOR: ("a stereo pan prior", "asmr-zoo run MODEL -t TRIGGER --channels 2 (it is registered)", "train-pan"),
}
PREFIX = "asmr_zoo."
REQUIRED = ("format_version", "model", "conditioner", "codec", "sample_rate", "vocabulary", "config")
_LIST, _MAPPING = (list, "a JSON list of trigger names"), (dict, "a JSON object")
JSON_TYPES = {
    "vocabulary": _LIST,
    "config": _MAPPING,
    "extra.triggers": _LIST,
    "extra.metrics": _MAPPING,
    "extra.data": _MAPPING,
    "extra.train": _MAPPING,
}
JSON_KEYS = tuple(JSON_TYPES)  # the metadata values that hold JSON, and what each must be


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def atomic_write(path: Path, write: Any) -> None:
    """Call ``write(tmp_path)``, then rename onto ``path``: readers never see a half-written file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        write(Path(tmp))
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600 (and writers may recreate the file): share it
        os.replace(tmp, path)
    except BaseException as exc:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(exc, OSError) and exc.filename in (None, tmp):
            exc.filename, exc.filename2 = str(path), None  # name the file asked for, not the temporary one
        raise


def model_metadata(model: Any) -> dict[str, str]:
    """The ``asmr_zoo.*`` metadata that makes a checkpoint of ``model`` self-describing."""
    return {
        PREFIX + "format_version": FORMAT_VERSION,
        PREFIX + "model": model.name,
        PREFIX + "conditioner": model.conditioner.name,
        PREFIX + "codec": model.codec.name,
        PREFIX + "sample_rate": str(model.sample_rate),
        PREFIX + "vocabulary": json.dumps(list(model.conditioner.vocabulary)),
        PREFIX + "config": json.dumps(model.config_dict(), sort_keys=True),
    }


def save_checkpoint(path: Path, model: Any, extra: Mapping[str, str] | None = None) -> str:
    """Write ``model``'s weights and metadata to ``path`` atomically; return the file's sha256."""
    from safetensors.torch import save

    tensors = {k: v.detach().contiguous().clone() for k, v in model.state_dict().items()}
    metadata = model_metadata(model)
    metadata.update({f"{PREFIX}extra.{k}": str(v) for k, v in (extra or {}).items()})
    data = save(tensors, metadata=metadata)  # bytes: written by Python, so a full disk is an OSError
    atomic_write(Path(path), lambda tmp: tmp.write_bytes(data))
    return sha256_file(Path(path))


def verify_sha256(path: Path, expected: str) -> None:
    actual = sha256_file(path)
    if actual != expected.lower():
        raise CheckpointError(
            f"sha256 mismatch for {path}: expected {expected}, got {actual}; the file is corrupt or was "
            f"replaced: delete it and restore the original, or re-register it with `asmr-zoo register`"
        )


def read_metadata(path: Path) -> dict[str, str]:
    """The ``asmr_zoo.*`` metadata of a checkpoint (prefix stripped), checked for completeness."""
    from safetensors import safe_open

    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint file {path} does not exist")
    try:
        with safe_open(str(path), framework="numpy") as fh:  # the header only: no torch needed
            raw = fh.metadata() or {}
    except Exception as exc:
        raise CheckpointError(
            f"{path} is not a readable safetensors file ({exc}); it may be truncated or corrupt: "
            f"download or re-create it"
        ) from exc
    meta = {k[len(PREFIX) :]: v for k, v in raw.items() if k.startswith(PREFIX)}
    missing = [k for k in REQUIRED if k not in meta]
    if missing:
        raise CheckpointError(f"{path} is not an asmr-zoo checkpoint: metadata lacks {', '.join(missing)}")
    for key in [k for k in JSON_KEYS if k in meta]:
        try:
            value = load_json(meta[key])
        except ValueError:
            raise CheckpointError(f"{path}: metadata '{PREFIX}{key}' is not valid JSON; re-create it") from None
        if not isinstance(value, JSON_TYPES[key][0]) or (
            isinstance(value, list) and not all(isinstance(v, str) for v in value)
        ):
            raise CheckpointError(
                f"{path} has malformed asmr_zoo metadata: '{PREFIX}{key}' must be {JSON_TYPES[key][1]}, got "
                f"{meta[key][:60]!r}; re-create it"
            )
    if meta["format_version"] != FORMAT_VERSION:
        raise CheckpointError(
            f"{path} has checkpoint format version {meta['format_version']}, this asmr-zoo reads "
            f"version {FORMAT_VERSION}: upgrade asmr-zoo"
        )
    if not meta["sample_rate"].isdigit() or not 0 < int(meta["sample_rate"]) <= 1_000_000:
        raise CheckpointError(
            f"{path} has malformed asmr_zoo metadata: '{PREFIX}sample_rate' must be a positive whole number of Hz, "
            f"got {meta['sample_rate'][:60]!r}; re-create it"
        )
    return meta


def load_checkpoint(
    path: Path,
    sha256: str | None = None,
    expect: Mapping[str, str] | None = None,
    zoo: Any = None,
) -> Any:
    """Build the model a checkpoint describes and load its weights (in eval mode).

    ``sha256`` is verified before anything is parsed. ``expect`` (e.g. ``{"model": "wavernn",
    "conditioner": "concat"}``) must match the metadata, so a checkpoint is never loaded as something
    it is not.
    """
    from safetensors.torch import load_file

    from asmr_zoo.factory import build_model

    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint file {path} does not exist")
    if sha256:
        verify_sha256(path, sha256)
    meta = read_metadata(path)
    if meta["model"] in AUXILIARY:
        what, use, _ = AUXILIARY[meta["model"]]
        raise CheckpointError(f"{path} is {what}, not a generator: use `{use.format(path=path)}`")
    for key, want in (expect or {}).items():
        if str(meta.get(key)) != str(want):
            raise CheckpointError(
                f"{path} holds a {meta['model']} / {meta['conditioner']} checkpoint whose {key} is "
                f"'{meta.get(key)}', not '{want}': pick a checkpoint made for {want}"
            )
    try:
        vocabulary = json.loads(meta["vocabulary"])
        config = json.loads(meta["config"])
    except json.JSONDecodeError as exc:
        raise CheckpointError(f"{path} has malformed JSON metadata: {exc}") from exc
    kind = f"{meta['model']} / {meta['conditioner']}"
    _check_shapes(path, kind, meta, vocabulary, config, zoo)  # before the real model is allocated
    model = build_model(meta["model"], meta["conditioner"], vocabulary, config, zoo=zoo)
    try:
        tensors = load_file(str(path))
    except Exception as exc:
        raise CheckpointError(f"{path} could not be read ({exc}); it may be truncated or corrupt") from exc
    _check_values(path, model, tensors)
    try:
        result = model.load_state_dict(tensors, strict=False)
    except RuntimeError as exc:  # shape mismatches
        detail = " ".join(str(exc).split())
        raise CheckpointError(f"{path} does not fit {kind}: {detail}") from exc
    problems = [f"missing {k}" for k in result.missing_keys]
    problems += [f"unexpected {k}" for k in result.unexpected_keys]
    if problems:
        raise CheckpointError(
            f"{path} does not fit {meta['model']} / {meta['conditioner']} as configured: " + ", ".join(problems[:5])
        )
    return model.eval()


def _check_shapes(path: Path, kind: str, meta: Mapping[str, str], vocabulary: Any, config: Any, zoo: Any) -> None:
    """Compare the file's tensor shapes with the model its config describes, built without memory (torch's
    meta device), so a config that does not match its tensors, or asks for a huge model, fails before any
    weights are allocated. Models that cannot be built on the meta device are checked after loading."""
    from safetensors import safe_open

    from asmr_zoo.factory import build_model, meta_device

    try:
        with meta_device():
            skeleton = build_model(meta["model"], meta["conditioner"], vocabulary, config, zoo=zoo)
    except AsmrZooError:
        raise
    except Exception:
        return
    with safe_open(str(path), framework="pt") as fh:
        shapes = {k: tuple(fh.get_slice(k).get_shape()) for k in fh.keys()}  # noqa: SIM118 (no iterator)
    for name, tensor in skeleton.state_dict().items():
        if name in shapes and shapes[name] != tuple(tensor.shape):
            raise CheckpointError(
                f"{path} does not fit {kind} as configured: {name} is {list(shapes[name])} in the file but the "
                f"config makes it {list(tensor.shape)}; the metadata and the weights disagree, re-create the file"
            )


def _check_values(path: Path, model: Any, tensors: Mapping[str, Any]) -> None:
    """Refuse weights that would load as garbage: integer or boolean data for floating-point parameters, and
    NaN or infinite values."""
    own = model.state_dict()
    for name, tensor in tensors.items():
        if name not in own or not own[name].is_floating_point():
            continue
        if not tensor.is_floating_point():
            raise CheckpointError(
                f"{path}: tensor {name} holds {str(tensor.dtype).removeprefix('torch.')} data where the model "
                "has floating-point weights; re-create the checkpoint with `asmr-zoo train` or `save_checkpoint`"
            )
        if not bool(tensor.isfinite().all()):
            raise CheckpointError(f"{path}: tensor {name} contains NaN or infinite values; the weights are unusable")


def weights_step(meta: Mapping[str, str]) -> int | None:
    """The training step whose weights a checkpoint holds (the best held-out one with ``keep_best``), from the
    ``extra.metrics`` of its metadata (``read_metadata``); ``None`` when not recorded."""
    metrics = json.loads(meta.get("extra.metrics", "{}"))
    step = metrics.get("step") if isinstance(metrics, dict) else None
    return step if isinstance(step, int) and not isinstance(step, bool) else None


def save_auxiliary(
    path: Path, kind: str, module: Any, config: dict[str, Any], vocabulary: list[str], extra: Mapping[str, str]
) -> str:
    """Write a non-generator ``module`` of ``kind`` (``AUXILIARY``) as a self-describing checkpoint, atomically;
    returns its sha256."""
    from safetensors.torch import save

    meta = {
        "format_version": FORMAT_VERSION,
        "model": kind,
        "conditioner": "global" if vocabulary else "none",
        "codec": "none",
        "sample_rate": "16000",
        "vocabulary": json.dumps(vocabulary),
        "config": json.dumps(config, sort_keys=True),
        **{f"extra.{k}": str(v) for k, v in extra.items()},
    }
    tensors = {k: v.detach().contiguous().clone() for k, v in module.state_dict().items()}
    data = save(tensors, metadata={PREFIX + k: v for k, v in meta.items()})
    atomic_write(Path(path), lambda tmp: tmp.write_bytes(data))
    return sha256_file(Path(path))


def load_auxiliary(path: Path, kind: str, build: Any, sha256: str | None = None) -> Any:
    """The module of a checkpoint written by :func:`save_auxiliary`, built by ``build(metadata)`` (which may
    raise ValueError, TypeError, KeyError or UsageError for a config it cannot take); a file of another kind,
    one that does not fit or holds NaN weights is a one-line CheckpointError."""
    from safetensors.torch import load_file

    from asmr_zoo.errors import UsageError

    path = Path(path)
    if sha256 is not None and path.is_file():
        verify_sha256(path, sha256)
    meta = read_metadata(path)
    what, _, train = AUXILIARY[kind]
    if meta["model"] != kind:
        raise CheckpointError(
            f"{path} is a {meta['model']} checkpoint, not {what} ({kind}): pass one made by `asmr-zoo {train}`"
        )
    try:
        module = build(meta)
        module.load_state_dict(load_file(str(path)))
    except (KeyError, TypeError, ValueError, RuntimeError, UsageError) as exc:
        detail = " ".join(str(exc).split())[:200]
        raise CheckpointError(f"{path}: {what}'s weights do not fit its config ({detail}); retrain it") from None
    if not all(p.isfinite().all() for p in module.parameters()):
        raise CheckpointError(f"{path} holds NaN or infinite weights; retrain it")
    return module.eval()
