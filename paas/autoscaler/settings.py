"""The autoscaler's cluster-wide settings: Knative's ``config-autoscaler`` defaults.

A revision's annotations override the per-revision ones (``ScalingSpec``);
the rest are cluster-wide only, as in Knative. Every timer is a setting, so
tests shorten the windows rather than wait (Knative accepts windows down to
6 s; tests here go lower still).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class AutoscalerSettings:
    tick: float = 2.0  # seconds between decisions (Knative's tick)
    scrape_interval: float = 1.0  # seconds between reads of the routers' counters (1 s buckets)
    stable_window: float = 60.0  # the average that decides in normal times
    panic_window_percentage: float = 10.0  # panic window = 10% of the stable window (6 s)
    panic_threshold_percentage: float = 200.0  # load twice the capacity of the ready pods: panic
    target_concurrency: float = 100.0  # per pod, when neither containerConcurrency nor target says
    target_rps: float = 200.0  # per pod, for metric rps
    target_utilization_percentage: float = 70.0  # aim below the target, to absorb bursts
    max_scale_up_rate: float = 1000.0  # at most this many times the ready pods in one step
    max_scale_down_rate: float = 2.0  # at most halve the pods in one step
    enable_scale_to_zero: bool = True  # cluster-wide switch; False: a desired 0 becomes 1
    scale_to_zero_grace_period: float = 30.0  # how long an idle revision keeps its last pod
    initial_scale: int = 1  # replicas a new revision starts with
    min_scale: int = 0  # cluster default lower bound
    max_scale: int = 0  # cluster default upper bound (0: none)
    activation_timeout: float = 630.0  # waking longer than this (600 s deadline + 30 s): give up
    scrape_timeout: float = 2.0  # a router slower than this to answer is skipped for one scrape
    signal_retry: float = 1.0  # seconds before following a router's signals again after a break
