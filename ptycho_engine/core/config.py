"""Typed, validated settings for data, model, training and inference.

The dataclasses are frozen; a changed setting is a new config
(:func:`with_overrides`). Each field carries metadata (help text, unit,
allowed range or choices) from which the CLI's ``--set`` keys, the validation
messages and the app's config form are all generated, so a new field needs no
GUI code. Defaults follow the PtychoPINN reference (TF dataclasses) except
where the help text says otherwise.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import sys
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import tomli_w

from .atomic import write_bytes_atomic
from .errors import ConfigError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib


def setting(
    default: Any,
    help: str,
    *,
    unit: str = "",
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    choices: tuple[Any, ...] | None = None,
    power_of_two: bool = False,
) -> Any:
    """A dataclass field with the metadata the validator, CLI and GUI form read."""
    return field(
        default=default,
        metadata={
            "help": help,
            "unit": unit,
            "low": low,
            "high": high,
            "low_open": low_open,
            "choices": choices,
            "power_of_two": power_of_two,
        },
    )


@dataclass(frozen=True)
class DataConfig:
    """How the scan is sampled into groups and scaled."""

    N: int = setting(64, "Diffraction pattern (and object patch) size in pixels.",
                     unit="px", choices=(32, 64, 128, 256))
    gridsize: int = setting(3, "Groups are gridsize x gridsize neighbouring patterns that share "
                            "one object (the overlap constraint); 1 trains each pattern alone. "
                            "3 (nine patterns) gives the physics refinement the most to work "
                            "with.", low=1, high=4)
    neighbor_count: int = setting(8, "A group is a scan point plus gridsize^2 - 1 others drawn "
                                  "from its K nearest neighbours; K must be at least "
                                  "gridsize^2 - 1.", low=1, high=64)
    n_groups: int = setting(0, "Number of groups drawn for training; 0 makes one group per "
                            "scan position.", low=0, high=10_000_000)
    nphotons: float = setting(0.0, "Expected photons per diffraction pattern, which sets the "
                              "Poisson statistics; 0 takes the scan's measured value (1e9 when "
                              "the scan does not know it).", unit="photons", low=0.0, high=1e15)


@dataclass(frozen=True)
class ModelConfig:
    """The network and the physics it is wired to."""

    n_filters_scale: int = setting(1, "Multiplies the number of convolution filters of every "
                                   "layer (network width).", low=1, high=8)
    object_big: bool = setting(True, "Predict one patch per group member and merge them into a "
                               "shared object canvas (needed for the overlap constraint).")
    probe_big: bool = setting(True, "Predict a low-resolution border around the central N/2 "
                              "region, for probes with extended tails.")
    pad_object: bool = setting(True, "Keep the high-resolution object in the central N/2 x N/2 "
                               "region of each patch (oversampling).")
    probe_mask: bool = setting(False, "Multiply the exit wave by a disc of radius N/4.")
    amp_activation: str = setting("sigmoid", "Output activation of the object amplitude.",
                                  choices=("sigmoid", "swish", "softplus", "relu"))
    phase_activation: str = setting(
        "linear", "Output activation of the object phase: 'linear' leaves it unbounded "
        "(e^(i phase) wraps it); PtychoPINN's 'pi_tanh' bounds it to (-pi, pi), where the "
        "phase's free global offset can drift into tanh's flat ends and stop the phase "
        "from learning.", choices=("linear", "pi_tanh"))
    refine_steps: int = setting(
        8, "Physics refinement steps inside the model: each group's object is moved this "
        "many times towards agreement with the group's own measured patterns (known probe) "
        "before the loss; the network is trained through them. 0 is plain PtychoPINN.",
        low=0, high=200)
    refine_momentum: float = setting(0.8, "Momentum of the physics refinement steps.",
                                     low=0.0, high=0.95)
    probe_scale: float = setting(4.0, "The probe is normalised to a mean modulus of 1/probe_scale "
                                 "inside the N/4 disc.", low=0.0, high=1000.0, low_open=True)
    intensity_scale_trainable: bool = setting(True, "Let training adjust the global intensity "
                                              "scale.")
    probe_trainable: bool = setting(False, "Refine the probe during training.")


@dataclass(frozen=True)
class TrainingConfig:
    """How the network is optimised."""

    batch_size: int = setting(16, "Groups per optimisation step.", low=1, high=4096,
                              power_of_two=True)
    epochs: int = setting(10_000, "Passes over the training groups. With a time limit "
                          "(training.time_limit_min > 0) only an upper cap: the time limit ends "
                          "the run, so the cap is large enough for a small scan not to reach "
                          "it within the budget.", low=1, high=1_000_000)
    time_limit_min: float = setting(
        10.0, "Wall-clock budget of the run: training ends cleanly (keeping the best model) "
        "when it is spent, and the learning-rate decay and the ETA follow it; 0 sets no time "
        "limit, so training.epochs ends the run. The CLI's --time-limit overrides it.",
        unit="min", low=0.0, high=1_000_000.0)
    learning_rate: float = setting(2e-3, "Adam learning rate.", low=0.0, high=1.0, low_open=True)
    nll_weight: float = setting(1.0, "Weight of the Poisson negative log-likelihood.",
                                low=0.0, high=1.0)
    mae_weight: float = setting(0.0, "Weight of the amplitude mean absolute error.",
                                low=0.0, high=1.0)
    val_fraction: float = setting(0.05, "Fraction of the groups held out for validation.",
                                  low=0.0, high=0.5)
    lr_patience: int = setting(2, "Epochs without validation improvement before the learning "
                               "rate is halved.", low=1, high=1000)
    min_learning_rate: float = setting(1e-4, "The learning rate is never reduced below this.",
                                       low=0.0, high=1.0)
    lr_decay_fraction: float = setting(
        0.3, "Final fraction of the training budget (the epochs, or the time limit when that "
        "runs out first) in which the learning rate falls along a cosine to "
        "min_learning_rate, so the run ends annealed; 0 keeps it until the end (halved only "
        "on plateaus).",
        low=0.0, high=0.9)
    early_stop_patience: int = setting(0, "Stop after this many epochs without improvement of "
                                       "the validation loss; 0 never stops early.",
                                       low=0, high=100_000)
    preview_every: int = setting(1, "Epochs between reconstruction previews.", low=1,
                                 high=100_000)
    seed: int = setting(42, "Seed of grouping, splitting and weight initialisation.",
                        low=0, high=2**31 - 1)
    device: str = setting("auto", "Where to train: auto picks the GPU when there is one.",
                          choices=("auto", "cpu", "gpu"))
    precision: str = setting("auto", "Arithmetic precision; auto uses bf16 mixed precision on "
                             "GPUs that support it (FFTs stay float32) and 32 on CPU.",
                             choices=("auto", "32", "bf16-mixed", "16-mixed"))
    compile: str = setting("auto", "Compile the network with torch.compile for speed; auto "
                           "compiles on CUDA GPUs and falls back to eager mode (with a log line) "
                           "when compilation fails.", choices=("auto", "on", "off"))
    logger: str = setting("none", "Extra metric logger besides the CSV history.",
                          choices=("none", "tensorboard", "mlflow"))


INFERENCE_GROUPS = ("all", "covering")  # inference.groups; also the CLI's --groups choices


@dataclass(frozen=True)
class InferenceConfig:
    """How patches are predicted and stitched."""

    batch_size: int = setting(0, "Groups per inference batch; 0 picks 1024 on a GPU and 128 on "
                              "a CPU (where larger batches only cost memory).", low=0,
                              high=65536)
    stitch_crop: int = setting(20, "Only the central stitch_crop x stitch_crop pixels of each "
                               "patch enter the stitched object.", unit="px", low=2, high=256)
    refine_steps: int = setting(
        100, "Physics refinement steps per group when reconstructing; more than training "
        "used sharpens the detail at a few FFTs per pattern and step; -1 takes "
        "model.refine_steps.", low=-1, high=1000)
    align_phase: bool = setting(
        True, "Align each group's constant phase offset (which the diffraction data cannot "
        "see) to its neighbours' before stitching, so overlapping groups add up instead of "
        "cancelling part of the phase contrast.")
    scan_refine_steps: int = setting(
        100, "Physics refinement steps over the whole stitched object with every position's "
        "pattern, after stitching: couples each position with all its neighbours, as an "
        "iterative solver does, from the network's object; 0 returns the stitch as it is. "
        "A few FFTs per pattern and step.", low=0, high=10000)
    groups: str = setting(
        "covering", "Which groups are run: 'covering' runs only the fewest groups that cover "
        "every position and stitches their members' views; 'all' runs one group per scan "
        "position, so each position is the average of the groups that contain it (without "
        "refinement each member's own predicted patch), for a little more averaging at about "
        "4x the time at gridsize 3.", choices=INFERENCE_GROUPS)


@dataclass(frozen=True)
class PtychoConfig:
    """All settings of one run."""

    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    training: TrainingConfig = field(default_factory=TrainingConfig)
    inference: InferenceConfig = field(default_factory=InferenceConfig)


SECTIONS: dict[str, type] = {
    "data": DataConfig,
    "model": ModelConfig,
    "training": TrainingConfig,
    "inference": InferenceConfig,
}


@dataclass(frozen=True)
class FieldInfo:
    """What a form or a help page needs to know about one setting."""

    key: str
    section: str
    name: str
    type: type
    default: Any
    help: str
    unit: str
    low: float | None
    high: float | None
    low_open: bool
    choices: tuple[Any, ...] | None
    power_of_two: bool

    def describe_range(self) -> str:
        """The allowed values in words, e.g. 'an integer in [1, 4]'."""
        if self.choices is not None:
            return "one of " + ", ".join(repr(c) for c in self.choices)
        if self.type is bool:
            return "true or false"
        kind = "an integer" if self.type is int else "a number"
        lo = "(" if self.low_open else "["
        text = f"{kind} in {lo}{_fmt(self.low)}, {_fmt(self.high)}]"
        if self.power_of_two:
            text += " that is a power of 2"
        return text


def _fmt(value: float | None) -> str:
    if value is None:
        return "inf"
    return f"{value:g}"


def field_infos() -> list[FieldInfo]:
    """Every setting in section order, with its metadata."""
    infos = []
    for section, cls in SECTIONS.items():
        for f in fields(cls):
            meta = f.metadata
            infos.append(
                FieldInfo(
                    key=f"{section}.{f.name}",
                    section=section,
                    name=f.name,
                    type=type(f.default),
                    default=f.default,
                    help=meta["help"],
                    unit=meta["unit"],
                    low=meta["low"],
                    high=meta["high"],
                    low_open=meta["low_open"],
                    choices=meta["choices"],
                    power_of_two=meta["power_of_two"],
                )
            )
    return infos


def field_info(key: str) -> FieldInfo:
    """Metadata of one dotted key; unknown keys raise ConfigError with a suggestion."""
    infos = {info.key: info for info in field_infos()}
    if key not in infos:
        raise ConfigError([(key, _unknown_key_message(key, list(infos)))])
    return infos[key]


def _unknown_key_message(key: str, known: list[str]) -> str:
    close = difflib.get_close_matches(key, known, n=1, cutoff=0.5)
    if not close:
        # also match on the bare field name, e.g. "epochs" -> "training.epochs"
        by_name = {k.split(".", 1)[1]: k for k in known}
        bare = difflib.get_close_matches(key.split(".")[-1], list(by_name), n=1, cutoff=0.6)
        close = [by_name[bare[0]]] if bare else []
    hint = f"; did you mean '{close[0]}'?" if close else ""
    return f"unknown setting{hint}"


def _coerce(info: FieldInfo, value: Any) -> tuple[Any, str | None]:
    """Convert a TOML/CLI value to the field's type, or say why it cannot be."""
    target = info.type
    if target is bool:
        if isinstance(value, bool):
            return value, None
        if isinstance(value, str) and value.lower() in ("true", "false", "1", "0", "yes", "no"):
            return value.lower() in ("true", "1", "yes"), None
        return value, f"expected true or false, got {value!r}"
    if target is int:
        if isinstance(value, bool):
            return value, f"expected an integer, got {value!r}"
        if isinstance(value, int):
            return value, None
        if isinstance(value, float) and value.is_integer():
            return int(value), None
        if isinstance(value, str):
            try:
                return int(value), None
            except ValueError:
                pass
        return value, f"expected an integer, got {value!r}"
    if target is float:
        if isinstance(value, bool):
            return value, f"expected a number, got {value!r}"
        if isinstance(value, (int, float)):
            return float(value), None
        if isinstance(value, str):
            try:
                return float(value), None
            except ValueError:
                pass
        return value, f"expected a number, got {value!r}"
    if target is str:
        if isinstance(value, str):
            return value, None
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return str(value), None
        return value, f"expected text, got {value!r}"
    return value, None


def _check_range(info: FieldInfo, value: Any) -> str | None:
    allowed = info.describe_range()
    if info.choices is not None:
        return None if value in info.choices else f"{value!r} is not allowed; use {allowed}"
    if info.type is bool:
        return None
    if isinstance(value, float) and not math.isfinite(value):
        return f"{value!r} is not allowed; use {allowed}"
    too_low = info.low is not None and (value <= info.low if info.low_open else value < info.low)
    too_high = info.high is not None and value > info.high
    if too_low or too_high:
        return f"{value!r} is out of range; use {allowed}"
    if info.power_of_two and (value < 1 or value & (value - 1)):
        return f"{value!r} is not a power of 2; use {allowed}"
    return None


def validate(config: PtychoConfig) -> list[tuple[str, str]]:
    """Every problem of a config as (dotted key, message); empty when valid."""
    problems: list[tuple[str, str]] = []
    for info in field_infos():
        value = getattr(getattr(config, info.section), info.name)
        message = _check_range(info, value)
        if message:
            problems.append((info.key, message))
    if problems:
        return problems
    data, inference = config.data, config.inference
    others = data.gridsize**2 - 1
    if data.gridsize > 1 and data.neighbor_count < others:
        problems.append(("data.neighbor_count",
                         f"{data.neighbor_count} neighbours cannot fill groups of "
                         f"gridsize^2 = {others + 1}; use at least {others}"))
    if inference.stitch_crop > data.N:
        problems.append(("inference.stitch_crop",
                         f"{inference.stitch_crop} px is larger than the patch size "
                         f"data.N = {data.N}; use at most {data.N}"))
    if config.training.nll_weight == 0 and config.training.mae_weight == 0:
        problems.append(("training.nll_weight",
                         "both loss weights are 0, so nothing would be learned; "
                         "set training.nll_weight or training.mae_weight above 0"))
    return problems


def check(config: PtychoConfig, *, source: str | Path | None = None) -> PtychoConfig:
    """Return the config if valid, else raise one ConfigError listing every problem."""
    problems = validate(config)
    if problems:
        raise ConfigError(problems, source=source)
    return config


def to_dict(config: PtychoConfig) -> dict[str, dict[str, Any]]:
    """Plain nested dict (one table per section), as written to TOML and bundles."""
    return {name: dataclasses.asdict(getattr(config, name)) for name in SECTIONS}


def from_dict(values: dict[str, Any], *, source: str | Path | None = None) -> PtychoConfig:
    """Build and validate a config from a nested dict; missing keys keep their defaults."""
    flat: dict[str, Any] = {}
    problems: list[tuple[str, str]] = []
    for section, table in values.items():
        if section not in SECTIONS:
            problems.append((section, _unknown_key_message(section, list(SECTIONS))
                             .replace("setting", "section")))
            continue
        if not isinstance(table, dict):
            problems.append((section, f"expected a table of settings, got {table!r}"))
            continue
        for name, value in table.items():
            flat[f"{section}.{name}"] = value
    if problems:
        raise ConfigError(problems, source=source)
    return with_overrides(PtychoConfig(), flat, source=source)


LEGACY_DEFAULTS: dict[str, Any] = {
    "model.phase_activation": "pi_tanh",
    "model.refine_steps": 0,
    "inference.refine_steps": 0,
    "inference.align_phase": False,
    "training.time_limit_min": 0.0,
}
"""Settings whose default changed, and the value a config stored before they existed
meant: a checkpoint, bundle or run folder written by an older version rebuilds the
model it trained (no physics refinement, PtychoPINN's phase activation) and resumes
without a time limit it never had."""


def stored_config(values: dict[str, Any], *, source: str | Path | None = None) -> PtychoConfig:
    """A config as stored by some version of this engine (a complete dump): keys it
    lacks take their ``LEGACY_DEFAULTS`` value, not today's default."""
    merged = {section: dict(table) if isinstance(table, dict) else table
              for section, table in values.items()}
    for key, value in LEGACY_DEFAULTS.items():
        section, name = key.split(".")
        table = merged.setdefault(section, {})
        if isinstance(table, dict):
            table.setdefault(name, value)
    return from_dict(merged, source=source)


def with_overrides(config: PtychoConfig, overrides: dict[str, Any], *,
                   source: str | Path | None = None) -> PtychoConfig:
    """A copy of ``config`` with dotted keys replaced; raises ConfigError listing all problems."""
    known = {info.key: info for info in field_infos()}
    problems: list[tuple[str, str]] = []
    changes: dict[str, dict[str, Any]] = {name: {} for name in SECTIONS}
    for key, raw in overrides.items():
        info = known.get(key)
        if info is None:
            problems.append((key, _unknown_key_message(key, list(known))))
            continue
        value, message = _coerce(info, raw)
        if message:
            problems.append((key, message))
            continue
        changes[info.section][info.name] = value
    sections = {
        name: dataclasses.replace(getattr(config, name), **changed)
        for name, changed in changes.items()
    }
    result = PtychoConfig(**sections)
    problems += validate(result)
    if problems:
        raise ConfigError(problems, source=source)
    return result


def parse_assignment(text: str) -> tuple[str, str]:
    """Split a CLI ``section.key=value`` into key and raw value text."""
    if "=" not in text:
        raise ConfigError([(text, "expected section.key=value, e.g. training.epochs=10")])
    key, value = text.split("=", 1)
    return key.strip(), value.strip()


def load_config(path: str | Path, *, stored: bool = False) -> PtychoConfig:
    """Read and validate a TOML config file; ``stored`` reads one this engine wrote (a run
    folder's config.toml) with ``LEGACY_DEFAULTS`` for keys an older version lacked."""
    path = Path(path)
    try:
        with path.open("rb") as handle:
            values = tomllib.load(handle)
    except FileNotFoundError:
        raise ConfigError([("file", "not found; check the path")], source=path) from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise ConfigError([("file", f"not valid TOML ({error})")], source=path) from None
    except OSError as error:
        raise ConfigError([("file", f"cannot be read ({error.strerror})")], source=path) from None
    return stored_config(values, source=path) if stored else from_dict(values, source=path)


def config_to_toml(config: PtychoConfig) -> str:
    """The config as TOML text, one table per section, with each field's help as a comment."""
    lines = ["# Ptycho Studio configuration", ""]
    for section, table in to_dict(config).items():
        lines.append(f"[{section}]")
        for name, value in table.items():
            info = field_info(f"{section}.{name}")
            unit = f" [{info.unit}]" if info.unit else ""
            lines.append(f"# {info.help}{unit}")
            lines.append(tomli_w.dumps({name: value}).strip())
        lines.append("")
    return "\n".join(lines)


def save_config(config: PtychoConfig, path: str | Path) -> None:
    """Write the config as TOML, atomically."""
    write_bytes_atomic(Path(path), config_to_toml(config).encode("utf-8"))


__all__ = [
    "DataConfig", "ModelConfig", "TrainingConfig", "InferenceConfig", "PtychoConfig",
    "FieldInfo", "field_infos", "field_info", "validate", "check", "to_dict", "from_dict",
    "with_overrides", "stored_config", "LEGACY_DEFAULTS", "parse_assignment", "load_config",
    "save_config", "config_to_toml",
]
