"""Branch slugs, object names and hosts, as DESIGN.md "Names" decides them."""

from __future__ import annotations

import pytest

from builder import names


@pytest.mark.parametrize(
    ("branch", "slug"),
    [
        ("main", "main"),
        ("feature-x", "feature-x"),
        ("v2", "v2-" + names.branch_hash("v2")),  # two characters: qa--app is refused by IDNA
        ("Feature/X", "feature-x-" + names.branch_hash("Feature/X")),
        ("feature/x", "feature-x-" + names.branch_hash("feature/x")),
        ("--odd__", "odd-" + names.branch_hash("--odd__")),
        ("___", "branch-" + names.branch_hash("___")),
        ("Feature/Ünïcode__x", "feature-unicode-x-" + names.branch_hash("Feature/Ünïcode__x")),
        ("straße", "strae-" + names.branch_hash("straße")),  # no decomposition: dropped
        ("релиз", "branch-" + names.branch_hash("релиз")),
    ],
)
def test_branch_slugs(branch: str, slug: str) -> None:
    assert names.branch_slug("shop", branch) == slug


def test_branches_that_map_to_one_slug_are_told_apart() -> None:
    slugs = {names.branch_slug("shop", b) for b in ("feature-x", "Feature/X", "feature/x")}
    assert len(slugs) == 3


def test_a_long_branch_is_cut_so_the_longest_derived_name_fits_a_label() -> None:
    branch = "a-very-long-feature-branch-name-that-goes-on-and-on-for-a-while"
    name = names.object_name("shop", branch)
    assert len(name + names.LONGEST_SUFFIX) <= 63
    assert name.endswith("-" + names.branch_hash(branch))
    assert name == names.object_name("shop", branch)  # stable
    label = names.url_label("shop", branch)
    assert len(label) <= 63 and label[2:4] != "--"


def test_hosts_for_main_preview_and_other_namespaces() -> None:
    kw = {"main_branch": "main", "domain": "localhost"}
    assert names.host("shop", "main", namespace="default", **kw) == "shop.localhost"
    assert names.host("shop", "feature-x", namespace="default", **kw) == (
        "feature-x--shop.localhost"
    )
    assert names.host("shop", "main", namespace="team", **kw) == "shop.team.localhost"
    assert names.url("shop", "main", namespace="default", http_port=8080, **kw) == (
        "http://shop.localhost:8080/"
    )
    assert names.url("shop", "main", namespace="default", http_port=80, **kw) == (
        "http://shop.localhost/"
    )


@pytest.mark.parametrize("bad", ["", "Shop", "1shop", "shop-", "a_b", "x" * 31, "a.b"])
def test_invalid_app_names_are_refused_with_the_rule(bad: str) -> None:
    with pytest.raises(names.InvalidName, match="lowercase letters"):
        names.check_app_name(bad)


def test_build_names_carry_the_short_commit() -> None:
    assert names.build_name("shop", "main", "0123456789" * 4) == "shop-main-0123456"
