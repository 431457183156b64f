"""What ``paas up`` tells the controller-manager about HorizontalPodAutoscalers: its timers."""

from __future__ import annotations

import argparse
from pathlib import Path

from support.upcredentials import kubeconfigs_in

from paas.cli.controllermanager import add_controller_manager_parser, hpa_settings
from paas.up.components import UpComponents
from paas.up.settings import UpSettings


def controller_manager_args(settings: UpSettings) -> argparse.Namespace:
    components = UpComponents(settings, kubeconfigs_in(settings.data_dir)).all()
    argv = next(c for c in components if c.name == "controller-manager").argv()
    parser = argparse.ArgumentParser()
    add_controller_manager_parser(parser.add_subparsers())
    return parser.parse_args(argv[argv.index("controller-manager") :])


def test_up_passes_its_hpa_timers_to_the_controller_manager(tmp_path: Path) -> None:
    settings = UpSettings(
        data_dir=tmp_path,
        hpa_sync_period=1.0,
        hpa_downscale_stabilization=3.0,
        hpa_cpu_initialization_period=2.0,
    )
    hpa = hpa_settings(controller_manager_args(settings))
    assert (hpa.sync_period, hpa.downscale_stabilization) == (1.0, 3.0)
    assert hpa.calculator.cpu_initialization_period == 2.0


def test_kubernetes_defaults_by_default(tmp_path: Path) -> None:
    hpa = hpa_settings(controller_manager_args(UpSettings(data_dir=tmp_path)))
    assert (hpa.sync_period, hpa.downscale_stabilization) == (15.0, 300.0)
    assert hpa.calculator.tolerance == 0.1
    assert hpa.calculator.cpu_initialization_period == 300.0
    assert hpa.calculator.initial_readiness_delay == 30.0
