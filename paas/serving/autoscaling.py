"""The ``autoscaling.knative.dev/*`` annotations: their checks, in Knative's words, and values.

``validate_annotations`` is Knative's ``autoscaling.ValidateAnnotations``
(``pkg/apis/autoscaling/annotation_validation.go``) over the stock
``config-autoscaler``: each key is read under its name or its camelCase
alias (``minScale``), numbers parse as Go parses them (a whole number for
the scales, a float for targets and percentages, a Go duration for the
windows) and a refused value is reported with the key the user wrote.

``scale_bounds`` reads the values the platform acts on: the initial scale
a Revision's Deployment is created with, and the bounds the autoscaler
keeps to.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from orchestrator.api.timestamps import parse_duration
from paas.serving.fielderrors import Errors, FieldError, invalid_value, out_of_bounds

PREFIX = "autoscaling.knative.dev"
KPA = "kpa.autoscaling.knative.dev"
HPA = "hpa.autoscaling.knative.dev"
INT32_MAX = 2**31 - 1


def _key(name: str, *aliases: str) -> tuple[str, ...]:
    return (f"{PREFIX}/{name}", *(f"{PREFIX}/{a}" for a in aliases))


CLASS = _key("class")
MIN_SCALE = _key("min-scale", "minScale")
MAX_SCALE = _key("max-scale", "maxScale")
INITIAL_SCALE = _key("initial-scale", "initialScale")
ACTIVATION_SCALE = _key("activation-scale")
METRIC = _key("metric")
METRIC_ALGORITHM = _key("metric-aggregation-algorithm", "metricAggregationAlgorithm")
TARGET = _key("target")
TARGET_UTILIZATION = _key("target-utilization-percentage", "targetUtilizationPercentage")
TARGET_BURST_CAPACITY = _key("target-burst-capacity", "targetBurstCapacity")
WINDOW = _key("window")
PANIC_WINDOW = _key("panic-window-percentage", "panicWindowPercentage")
PANIC_THRESHOLD = _key("panic-threshold-percentage", "panicThresholdPercentage")
SCALE_DOWN_DELAY = _key("scale-down-delay", "scaleDownDelay")
RETENTION = _key("scale-to-zero-pod-retention-period", "scaleToZeroPodRetentionPeriod")

WINDOW_MIN, WINDOW_MAX = 6.0, 3600.0  # seconds; printed as Go prints them: 6s, 1h0m0s


@dataclass(frozen=True)
class AutoscalerDefaults:
    """The cluster-wide ``config-autoscaler`` values the checks depend on (Knative's stock)."""

    pod_autoscaler_class: str = KPA
    allow_zero_initial_scale: bool = False  # Knative's default: a new Revision starts a pod
    max_scale_limit: int = 0  # 0 = no cluster-wide ceiling on max-scale
    initial_scale: int = 1


def get(annotations: Mapping[str, str], keys: tuple[str, ...]) -> tuple[str, str] | None:
    """(the key used, its value) for the first of ``keys`` present (kmap.KeyPriority)."""
    for key in keys:
        if key in annotations:
            return key, annotations[key]
    return None


_INT = re.compile(r"[+-]?[0-9]+")
_FLOAT = re.compile(r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?|[+-]?(?i:inf|infinity)")


def parse_int(text: str) -> int:
    """Go's ``strconv.ParseInt(text, 10, 64)``: ValueError unless a plain decimal integer."""
    if not _INT.fullmatch(text):
        raise ValueError(text)
    return int(text)


def parse_float(text: str) -> float:
    """Go's ``strconv.ParseFloat(text, 64)`` for decimal forms."""
    if not _FLOAT.fullmatch(text):
        raise ValueError(text)
    return float(text)


def _int_ge0(annotations: Mapping[str, str], keys: tuple[str, ...]) -> tuple[int, Errors]:
    found = get(annotations, keys)
    if found is None:
        return 0, []
    key, value = found
    try:
        number = parse_int(value)
    except ValueError:
        return 0, [invalid_value(value, key)]
    if number < 0 or number > INT32_MAX:
        return 0, [out_of_bounds(value, 0, INT32_MAX, key)]
    return number, []


def _validate_class(a: Mapping[str, str]) -> Errors:
    found = get(a, CLASS)
    if found and found[1].endswith(".knative.dev") and found[1] not in (KPA, HPA):
        return [invalid_value(found[1], found[0])]
    return []


def _validate_min_max(a: Mapping[str, str], d: AutoscalerDefaults) -> Errors:
    low, errs = _int_ge0(a, MIN_SCALE)
    high, more = _int_ge0(a, MAX_SCALE)
    errs += more
    if high != 0 and high < low:
        message = f"max-scale={high} is less than min-scale={low}"
        errs.append(FieldError(message, (MAX_SCALE[0], MIN_SCALE[0])))
    found = get(a, MAX_SCALE)
    if found and d.max_scale_limit:
        if high > d.max_scale_limit:
            errs.append(out_of_bounds(high, 1, d.max_scale_limit, found[0]))
        if high == 0:
            message = f"max-scale=0 (unlimited), must be less than {d.max_scale_limit}"
            errs.append(FieldError(message, (found[0],)))
    found = get(a, ACTIVATION_SCALE)
    if found:
        key, value = found
        try:
            activation = parse_int(value)
        except ValueError:
            return [*errs, invalid_value(value, key)]
        if low > activation:
            message = f"min-scale={low} is greater than activation-scale={activation}"
            errs.append(FieldError(message, (key,)))
        elif high != 0 and high < activation:
            message = f"max-scale={high} is less than activation-scale={activation}"
            errs.append(FieldError(message, (key,)))
        elif activation < 2:
            errs.append(FieldError(f"activation-scale={activation} must be greater than 1", (key,)))
    return errs


def _validate_floats(a: Mapping[str, str]) -> Errors:
    errs: Errors = []
    bounded = ((PANIC_WINDOW, 1, 100), (PANIC_THRESHOLD, 110, 1000), (TARGET_UTILIZATION, 1, 100))
    for keys, low, high in bounded[:2]:
        errs += _bounded_float(a, keys, low, high)
    found = get(a, TARGET)
    if found:
        key, value = found
        try:
            if parse_float(value) < 0.01:
                errs.append(FieldError(f"target {value} should be at least 0.01", (key,)))
        except ValueError:
            errs.append(invalid_value(value, key))
    errs += _bounded_float(a, *bounded[2])
    found = get(a, TARGET_BURST_CAPACITY)
    if found:
        key, value = found
        try:
            number = parse_float(value)
        except ValueError:
            number = -2.0
        if number < 0 and number != -1:
            errs.append(invalid_value(value, key))
    return errs


def _bounded_float(a: Mapping[str, str], keys: tuple[str, ...], low: int, high: int) -> Errors:
    found = get(a, keys)
    if found is None:
        return []
    key, value = found
    try:
        number = parse_float(value)
    except ValueError:
        return [invalid_value(value, key)]
    return [out_of_bounds(value, low, high, key)] if not low <= number <= high else []


def _validate_durations(a: Mapping[str, str]) -> Errors:
    errs: Errors = []
    found = get(a, WINDOW)
    if found:
        key = WINDOW[0]  # Knative reports the canonical key here
        try:
            seconds = parse_duration(found[1])
        except ValueError:
            errs.append(invalid_value(found[1], key))
        else:
            if not WINDOW_MIN <= seconds <= WINDOW_MAX:
                errs.append(out_of_bounds(found[1], "6s", "1h0m0s", key))
            elif seconds != int(seconds):
                errs.append(FieldError("must be specified with at most second precision", (key,)))
    found = get(a, RETENTION)
    if found:
        try:
            seconds = parse_duration(found[1])
        except ValueError:
            errs.append(invalid_value(found[1], found[0]))
        else:
            if not 0 <= seconds <= WINDOW_MAX:
                errs.append(out_of_bounds(found[1], "0s", "1h0m0s", found[0]))
    found = get(a, SCALE_DOWN_DELAY)
    if found:
        try:
            seconds = parse_duration(found[1])
        except ValueError:
            errs.append(invalid_value(found[1], found[0]))
        else:
            if not 0 <= seconds <= WINDOW_MAX:
                errs.append(out_of_bounds(found[1], "0s", "1h0m0s", found[0]))
            elif seconds != round(seconds):
                message = "must be specified with at most second precision"
                errs.append(FieldError(message, (found[0],)))
    return errs


def _validate_metric(a: Mapping[str, str], d: AutoscalerDefaults) -> Errors:
    found = get(a, METRIC)
    if found is None:
        return []
    metric = found[1]
    klass = (get(a, CLASS) or ("", d.pod_autoscaler_class))[1]
    if klass == KPA and metric not in ("concurrency", "rps"):
        return [invalid_value(metric, METRIC[0])]
    if klass == HPA and metric == "":
        return [invalid_value(metric, METRIC[0])]
    return []


def _validate_algorithm(a: Mapping[str, str]) -> Errors:
    if (get(a, CLASS) or ("", ""))[1] != KPA:
        return []
    found = get(a, METRIC_ALGORITHM)
    if (
        found
        and found[1]
        and found[1] not in ("linear", "weighted-exponential", "weightedExponential")
    ):
        return [invalid_value(found[1], found[0])]
    return []


def _validate_initial_scale(a: Mapping[str, str], d: AutoscalerDefaults) -> Errors:
    found = get(a, INITIAL_SCALE)
    if found is None:
        return []
    key, value = found
    try:
        number = parse_int(value)
    except ValueError:
        return [invalid_value(value, key)]
    if number < 0:
        return [invalid_value(value, f"{key} must be greater than 0")]
    if number == 0 and not d.allow_zero_initial_scale:
        return [invalid_value(value, f"{key}=0 not allowed by cluster")]
    return []


def validate_annotations(
    annotations: Mapping[str, str], defaults: AutoscalerDefaults | None = None
) -> Errors:
    """Knative's checks of the autoscaling annotations; paths are the keys themselves."""
    d = defaults or AutoscalerDefaults()
    return [
        *_validate_class(annotations),
        *_validate_min_max(annotations, d),
        *_validate_floats(annotations),
        *_validate_durations(annotations),
        *_validate_metric(annotations, d),
        *_validate_algorithm(annotations),
        *_validate_initial_scale(annotations, d),
    ]


@dataclass(frozen=True)
class ScaleBounds:
    min_scale: int = 0
    max_scale: int = 0  # 0 = unlimited
    initial_scale: int = 1


def scale_bounds(
    annotations: Mapping[str, str], defaults: AutoscalerDefaults | None = None
) -> ScaleBounds:
    """The scales a (validated) Revision asks for; unreadable values fall back to defaults."""
    d = defaults or AutoscalerDefaults()

    def number(keys: tuple[str, ...], default: int) -> int:
        found = get(annotations, keys)
        try:
            return max(0, parse_int(found[1])) if found else default
        except ValueError:
            return default

    return ScaleBounds(
        min_scale=number(MIN_SCALE, 0),
        max_scale=number(MAX_SCALE, 0),
        initial_scale=number(INITIAL_SCALE, d.initial_scale),
    )
