"""What ``paas up --stats-interval`` tells its node: how often the pods' CPU and memory are read."""

from __future__ import annotations

import argparse
from pathlib import Path

from support.upcredentials import kubeconfigs_in

from paas.cli.node import add_node_parser
from paas.cli.up import add_up_parser
from paas.up.components import UpComponents
from paas.up.settings import UpSettings


def node_args(settings: UpSettings) -> argparse.Namespace:
    argv = UpComponents(settings, kubeconfigs_in(settings.data_dir)).node_argv()
    parser = argparse.ArgumentParser()
    add_node_parser(parser.add_subparsers())
    return parser.parse_args(argv[argv.index("node") :])


def test_up_passes_its_stats_interval_to_the_node(tmp_path: Path) -> None:
    assert node_args(UpSettings(data_dir=tmp_path, stats_interval=1.0)).stats_interval == 1.0


def test_cadvisors_ten_seconds_by_default(tmp_path: Path) -> None:
    assert node_args(UpSettings(data_dir=tmp_path)).stats_interval == 10.0
    parser = argparse.ArgumentParser()
    add_up_parser(parser.add_subparsers())
    assert parser.parse_args(["up", "--stats-interval", "2.5"]).stats_interval == 2.5
