"""The sweep spec: a YAML file validated into a frozen :class:`SweepSpec`.

Every way a spec can be wrong ends in one :class:`~searchsvc.errors.SpecError` whose one-line message
names the field, what was expected, what arrived and how to fix it. See ``experiments/quickstart.yaml``.
"""

from __future__ import annotations

import math
import os
import re
from pathlib import Path
from collections.abc import Iterator
from typing import Annotated, Any, Literal

from pydantic import (BaseModel, ByteSize, ConfigDict, Field, ValidationError, field_serializer, field_validator,
                      model_validator)

from experiments import settings
from experiments.checks import check_metric, check_params
from experiments.settings import METRICS, DatasetSettings, NpzFile, TrainingSettings
from searchsvc.sweep import space
from searchsvc.errors import SpecError
from searchsvc.sweep.sampling import TrialConfig, grid_size, trial_config
from searchsvc.sweep.space import Param, as_param_mapping, check_space

class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Objective(_Model):
    """What "better" means. ``metric`` defaults by task (accuracy / mse); ``mode`` follows the metric."""

    metric: str | None = None
    mode: Literal["max", "min"] | None = None

    @field_validator("metric")
    @classmethod
    def _known(cls, v: str | None) -> str | None:
        if v is not None and v not in METRICS:
            raise ValueError(f"expected one of {', '.join(METRICS)}, got {v!r}")
        return v


class Resources(_Model):
    """Per trial. ``gpus: auto`` is 0 without a GPU; with GPUs, the share of one that the trial's memory needs
    (:mod:`searchsvc.run.packing`), or a quarter of one where the GPUs' memory is not known."""

    cpus: float = Field(1.0, gt=0, le=1024)
    gpus: float | Literal["auto"] = "auto"
    gpu_memory: ByteSize | None = Field(None, description="each GPU's memory, e.g. 80GiB, for gpus: auto to pack "
                                        "trials by their memory (default: asked of a GPU worker)")
    memory_limit: ByteSize | None = Field(None, description="refuse a sweep whose trials' estimated training "
                                          "memory exceeds this, e.g. 2GiB (validate --show prints the estimates)")

    @field_validator("gpus", mode="before")
    @classmethod
    def _non_negative(cls, v: float | str) -> float | str:
        return _auto_or_at_least(v, 0, "a number")


class SweepSpec(_Model):
    name: str
    description: str = ""
    seed: int = Field(0, ge=0, lt=2**63)
    trials: int = Field(ge=1, le=10_000_000)
    strategy: Literal["random", "sobol", "grid"] = "random"
    grid_points: int = Field(3, ge=2, le=1000, description="grid strategy: points per real-valued dimension")
    dataset: DatasetSettings
    training: TrainingSettings = TrainingSettings()
    objective: Objective = Objective()
    resources: Resources = Resources()
    max_concurrent: int | Literal["auto"] = "auto"
    max_retries: int = Field(2, ge=0, le=100, description="re-runs of a trial that raised (status error)")
    bundle: int | Literal["auto"] = Field("auto", description="trials per Ray Tune trial; auto: large bundles "
                                          "first, single trials at the end (see searchsvc.run.bundles); one trial each "
                                          "under early_terminate")
    early_terminate: Annotated[Any, Field(description="stop hopeless trials early: {type: asha, min_epochs: 2, "
                                          "eta: 3} or {type: median, min_epochs: 3}; off by default")] = None
    space: dict[str, Param]

    @field_validator("early_terminate", mode="before")
    @classmethod
    def _rule(cls, v: Any) -> Any:
        """An early-termination rule (analysis.stopping), its mistakes named as ``early_terminate.<field>``."""
        if v is None:
            return None
        from analysis.errors import RuleError
        from analysis.stopping import parse_rule

        try:
            return parse_rule(v)
        except RuleError as e:
            raise ValueError(str(e)) from None

    @field_serializer("early_terminate")
    def _rule_block(self, rule: Any) -> dict[str, object] | None:
        from analysis.stopping import as_mapping

        return None if rule is None else as_mapping(rule)

    @field_validator("space", mode="before")
    @classmethod
    def _shorthand(cls, raw: Any) -> Any:
        return {k: as_param_mapping(v) for k, v in raw.items()} if isinstance(raw, dict) else raw

    @field_validator("name")
    @classmethod
    def _slug(cls, v: str) -> str:
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}", v):
            raise ValueError(f"expected 1-64 letters, digits, '_', '.' or '-' (starting with a letter or digit), got {v!r}")
        return v

    @field_validator("max_concurrent", "bundle", mode="before")
    @classmethod
    def _positive(cls, v: int | str) -> int | str:
        return _auto_or_at_least(v, 1, "an integer")

    @model_validator(mode="after")
    def _consistent(self) -> SweepSpec:
        check_space(self.space)
        if self.early_terminate is not None:
            from analysis.errors import RuleError

            try:
                self.early_terminate.check(self.training.max_epochs)
            except RuleError as e:
                raise ValueError(str(e)) from None
            if self.strategy == "grid":
                raise ValueError("early_terminate: a grid search runs each point of its grid to compare it, so it "
                                 "stops none early; remove early_terminate, or use strategy random")
        for problem in (check_params(self.dataset, self.space), check_metric(self.dataset, self.metric)):
            if problem:
                raise ValueError(problem)
        if self.strategy == "grid" and self.trials != (size := grid_size(self.space, self.grid_points)):
            axes = " × ".join(f"{name} {len(p.grid(self.grid_points))}" for name, p in self.space.items())
            raise ValueError(f"trials: a grid search runs every point of its grid (its first points alone vary the "
                             f"last parameters only), and this grid has {size} ({axes}); got trials={self.trials}; "
                             f"set trials: {size}, or change the grid (grid_points, or the values in space)")
        direction, task = METRICS[self.metric]
        if task is not None and task != self.dataset.task:
            raise ValueError(
                f"objective.metric: {self.metric} needs a {task} data set, but {self.dataset.name} is "
                f"{self.dataset.task}; use {_default_metric(self.dataset.task)}"
            )
        if self.objective.mode not in (None, direction):
            raise ValueError(
                f"objective.mode: {self.metric} is best when {direction}imised, got mode {self.objective.mode}; "
                f"set mode: {direction} or remove it"
            )
        return self

    @property
    def metric(self) -> str:
        return self.objective.metric or _default_metric(self.dataset.task)

    def config(self, k: int) -> TrialConfig:
        """Trial ``k``'s hyperparameters: a pure function of (seed, k, space)."""
        return trial_config(self.space, self.strategy, self.seed, k, self.grid_points)

    def configs(self, start: int = 0, stop: int | None = None) -> Iterator[TrialConfig]:
        """Trials ``start .. stop-1``'s hyperparameters, one at a time (none is built before it is asked for)."""
        for k in range(start, self.trials if stop is None else stop):
            yield self.config(k)

    def grown(self, more: int) -> SweepSpec:
        """The spec of this sweep with ``more`` trials added (``extend --add``)."""
        if self.strategy == "grid":
            raise SpecError(f"--add: a grid search runs each point of its grid once, and this one's {self.trials} "
                            "points have run; extend a random (or sobol) sweep, or submit a new grid")
        try:
            return SweepSpec.model_validate({**self.model_dump(mode="json"), "trials": self.trials + more})
        except ValidationError as e:
            raise SpecError(f"--add: {self.trials} + {more} trials is more than a sweep may have "
                            f"({_one_line(e).removeprefix('trials: ')}); add fewer") from None

    @property
    def mode(self) -> Literal["max", "min"]:
        return METRICS[self.metric][0]


def _auto_or_at_least(value: object, low: float, kind: str) -> object:
    """Before pydantic parses the field: a word other than auto, or a number below ``low``, is refused
    with both choices named; anything else is left to pydantic."""
    if isinstance(value, str) and value != "auto":
        raise ValueError(f"expected {kind} >= {low} or auto, got {value!r}")
    if isinstance(value, (int, float)) and value < low:
        raise ValueError(f"expected {kind} >= {low} or auto, got {value}")
    return value


def _default_metric(task: str) -> str:
    return "accuracy" if task == "classification" else "mse"


def new_sweep_id(name: str) -> str:
    """A new sweep's id: its spec's name, when it was made, and four random hex digits."""
    import secrets
    import time

    return f"{name}-{time.strftime('%Y%m%d-%H%M%S')}-{secrets.token_hex(2)}"


def load_spec(path: str | os.PathLike[str]) -> SweepSpec:
    """Read and validate a YAML spec. A relative ``dataset.path`` is taken relative to the spec file."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SpecError(f"spec: file not found: {path}; check the path") from None
    except (OSError, UnicodeDecodeError) as e:
        raise SpecError(f"spec: cannot read {path}: {e}") from e
    return parse_spec(text, base_dir=path.parent, source=str(path))


def parse_spec(text: str, *, base_dir: Path = Path("."), source: str = "spec") -> SweepSpec:
    """Validate a spec's YAML text. A relative ``dataset.path`` is taken relative to ``base_dir`` (the spec
    file's folder), and recorded as an absolute path."""
    document = _load_yaml(text, source)
    _check_finite(document, "")
    dataset = document.get("dataset")
    if isinstance(dataset, dict) and isinstance(dataset.get("path"), str):
        document["dataset"] = {**dataset, "path": os.path.abspath(base_dir / os.path.expanduser(dataset["path"]))}
    try:
        return SweepSpec.model_validate(document)
    except ValidationError as e:
        raise SpecError(_one_line(e)) from None


def _check_finite(value: object, where: str) -> None:
    """NaN and ±infinity pass every range check, so no number in a spec may be one."""
    if isinstance(value, float) and not math.isfinite(value):
        raise SpecError(f"{where or 'spec'}: expected a finite number, got {value}; write a number (NaN and infinity "
                        "are not values a hyperparameter, a bound or a setting can take)")
    if isinstance(value, dict):
        for key, item in value.items():
            _check_finite(item, f"{where}.{key}" if where else str(key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            _check_finite(item, f"{where}[{i}]")


def _load_yaml(text: str, source: str) -> dict[str, Any]:
    import yaml

    class UniqueKeyLoader(yaml.SafeLoader):
        pass

    def mapping(loader: yaml.SafeLoader, node: yaml.MappingNode) -> dict[Any, Any]:
        keys = [loader.construct_object(k) for k, _ in node.value]
        duplicates = sorted({str(k) for k in keys if keys.count(k) > 1})
        if duplicates:
            raise SpecError(f"{source}: key {duplicates[0]!r} appears twice (line {node.start_mark.line + 1}); keep one")
        return loader.construct_mapping(node)

    UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, mapping)
    try:
        document = yaml.load(text, Loader=UniqueKeyLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(e, "problem", None) or str(e).splitlines()[0]
        raise SpecError(f"{source}: not valid YAML{where}: {problem}") from None
    if document is None:
        raise SpecError(f"{source}: is empty; expected a mapping with at least name, trials, dataset and space")
    if not isinstance(document, dict):
        raise SpecError(
            f"{source}: expected a mapping at the top level (name: ..., trials: ...), got {type(document).__name__}"
        )
    return {str(k): v for k, v in document.items()}


def _one_line(error: ValidationError) -> str:
    """The first pydantic error as 'field.path: what was wrong (got X); fix'."""
    first = error.errors(include_url=False)[0]
    loc = [str(part) for part in first["loc"] if not _is_union_tag(part)]
    field = ".".join(loc) or "spec"
    kind, msg, got = first["type"], first["msg"], first.get("input")
    if kind == "missing":
        return f"{field}: is required but missing; add it (see experiments/quickstart.yaml)"
    if kind == "extra_forbidden":
        allowed = _allowed_keys(first["loc"][:-1])
        hint = f"; allowed keys here: {', '.join(allowed)}" if allowed else "; remove it or fix its spelling"
        return f"{field}: unknown key{hint}"
    if kind in ("union_tag_invalid", "union_tag_not_found"):
        ctx = first.get("ctx", {})
        key = ctx.get("discriminator", "type").strip("'")
        expected = ctx.get("expected_tags") or ", ".join(k for k, m in _VARIANTS.items() if key in m.model_fields)
        got = repr(ctx["tag"]) if "tag" in ctx else "nothing"
        return f"{field}.{key}: expected one of {expected}, got {got}; set {key}"
    if kind == "value_error":
        text = msg.removeprefix("Value error, ")
        return f"{field}: {text}" if loc and not text.startswith(f"{field}.") else text  # or it names its own field
    return f"{field}: {msg[0].lower()}{msg[1:]} (got {got!r})"


def _is_union_tag(part: object) -> bool:
    """pydantic puts the chosen variant's tag into the location; leave it out of the field path."""
    return isinstance(part, str) and part in _VARIANTS


def _allowed_keys(loc: tuple[Any, ...]) -> list[str]:
    """The field names of the model at ``loc`` (following union tags), or [] when unknown."""
    model: Any = SweepSpec
    for part in loc:
        if part in _VARIANTS:
            model = _VARIANTS[part]
        elif isinstance(model, type) and issubclass(model, BaseModel) and part in model.model_fields:
            model = model.model_fields[part].annotation
        elif not (isinstance(model, type) and issubclass(model, BaseModel)):
            continue  # a dict key (a hyperparameter name) inside space
        else:
            return []
    if isinstance(model, type) and issubclass(model, BaseModel):
        return [name for name, f in model.model_fields.items() if not f.exclude]
    return []


#: tag of each variant of the spec's tagged unions → its model
_VARIANTS: dict[str, type[BaseModel]] = {
    "mnist1d": settings.MNIST1D,
    "adding": settings.Adding,
    "npz": settings.NpzFile,
    "series": settings.Series,
    "choice": space.Choice,
    "uniform": space.Uniform,
    "log_uniform": space.LogUniform,
    "int": space.Int,
    "log_int": space.LogInt,
    "fixed": space.Fixed,
}

__all__ = ["NpzFile", "Objective", "Resources", "SweepSpec", "load_spec", "parse_spec"]
