"""What ``paas up`` tells its autoscaler: the windows and the scale-to-zero switch it was given."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest
from support.upcredentials import kubeconfigs_in

from paas.cli.autoscaler import add_autoscaler_parser
from paas.up.components import UpComponents
from paas.up.settings import UpSettings


def autoscaler_args(settings: UpSettings) -> argparse.Namespace:
    argv = UpComponents(settings, kubeconfigs_in(settings.data_dir))._autoscaler_argv()
    parser = argparse.ArgumentParser()
    add_autoscaler_parser(parser.add_subparsers())
    return parser.parse_args(argv[argv.index("autoscaler") :])


@pytest.mark.parametrize("scale_to_zero", [True, False])
def test_up_passes_its_windows_and_the_scale_to_zero_switch(
    tmp_path: Path, scale_to_zero: bool
) -> None:
    settings = UpSettings(
        data_dir=tmp_path,
        autoscale_window=4.0,
        scale_to_zero_grace=1.0,
        scale_to_zero=scale_to_zero,
    )
    args = autoscaler_args(settings)
    assert (args.stable_window, args.scale_to_zero_grace_period) == (4.0, 1.0)
    assert args.enable_scale_to_zero is scale_to_zero
    assert args.tick == 0.4  # a tenth of a short window; Knative's 2 s for its 60 s


def test_knatives_defaults_by_default(tmp_path: Path) -> None:
    args = autoscaler_args(UpSettings(data_dir=tmp_path))
    assert (args.stable_window, args.scale_to_zero_grace_period, args.tick) == (60.0, 30.0, 2.0)
    assert args.enable_scale_to_zero is True
