"""The App controller's pure part: desired objects and one pass's plan, as tables."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from builder.kinds import APP_LABEL, BRANCH_LABEL, DEPLOYED, RELEASE_ANNOTATION
from paas.apps import desired
from paas.apps.plan import Actual, choose_target, plan_app
from paas.apps.settings import AppControllerSettings
from paas.apps.views import AppView, BuildView
from paas.serving.defaults import default_service
from paas.serving.validation import validate_service

S = AppControllerSettings(domain="localhost", http_port=8080, progress_deadline=30)
SLUG_A = "slug:sha256:" + "a" * 64
SLUG_B = "slug:sha256:" + "b" * 64


def app_obj(name: str = "shop", namespace: str = "default", **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "paas.dev/v1",
        "kind": "App",
        "metadata": {"name": name, "namespace": namespace, "uid": "app-uid", "generation": 1},
        "spec": {"mainBranch": "main", **spec},
    }


def build_obj(
    name: str,
    branch: str = "main",
    *,
    phase: str = "Succeeded",
    result: str = SLUG_A,
    created: str = "2026-01-01T00:00:01Z",
    release: str = "",
    deployed: tuple[str, str] | None = None,
) -> dict[str, Any]:
    status: dict[str, Any] = {"phase": phase}
    if phase == "Succeeded":
        status["result"] = result
    if deployed:
        status["conditions"] = [{"type": DEPLOYED, "status": deployed[0], "reason": deployed[1]}]
    return {
        "metadata": {
            "name": name,
            "uid": f"uid-{name}",
            "creationTimestamp": created,
            "annotations": {RELEASE_ANNOTATION: release} if release else {},
        },
        "spec": {"app": "shop", "branch": branch, "commit": name[-1] * 40},
        "status": status,
    }


APP = AppView.of(app_obj())


def views(*builds: dict[str, Any]) -> list[BuildView]:
    return [BuildView.of(b) for b in builds]


def target_of(build: dict[str, Any], config: str = "") -> desired.Target:
    view = BuildView.of(build)
    return desired.Target(APP, view.branch, view, config)


def revision(
    ksvc: dict[str, Any], number: int, build: dict[str, Any], ready: dict[str, Any]
) -> dict[str, Any]:
    """A Revision the serving controller made of ``ksvc``'s template, with its Ready."""
    name = f"{ksvc['metadata']['name']}-{number:05d}"
    template = ksvc["spec"]["template"]
    return {
        "metadata": {
            "name": name,
            "labels": {
                **template["metadata"]["labels"],
                "serving.knative.dev/service": ksvc["metadata"]["name"],
            },
            "annotations": {
                **template["metadata"]["annotations"],
                desired.BUILD_ANNOTATION: BuildView.of(build).name,
            },
        },
        "spec": {"timeoutSeconds": 300, **copy.deepcopy(template["spec"])},
        "status": {"conditions": [{"type": "Ready", **ready}]},
    }


READY = {"status": "True"}
STARTING = {"status": "Unknown", "reason": "Deploying"}


def ksvc_of(
    build: dict[str, Any],
    *,
    created: int = 1,
    latest_ready: int | None = 1,
    traffic_to: int | None = None,
    config: str = "",
) -> dict[str, Any]:
    """The branch's Knative Service as the serving controller reports on it."""
    obj = desired.knative_service(target_of(build, config), S)
    name = obj["metadata"]["name"]
    obj["metadata"]["generation"] = created
    status: dict[str, Any] = {
        "observedGeneration": created,
        "latestCreatedRevisionName": f"{name}-{created:05d}",
        "conditions": [{"type": "Ready", "status": "True" if latest_ready else "Unknown"}],
    }
    routed = traffic_to if traffic_to is not None else latest_ready
    if latest_ready:
        status["latestReadyRevisionName"] = f"{name}-{latest_ready:05d}"
    if routed:
        status["traffic"] = [
            {"revisionName": f"{name}-{routed:05d}", "latestRevision": True, "percent": 100}
        ]
    obj["status"] = status
    return obj


def route_of(
    build: dict[str, Any], ksvc: dict[str, Any], accepted: bool | None = None
) -> dict[str, Any]:
    refs = desired.backends(ksvc["status"]["traffic"])
    route = desired.app_route(target_of(build), S, refs, 300)
    if accepted is not None:
        condition = {"type": "Accepted", "status": "True" if accepted else "False"}
        route["status"] = {
            "parents": [{"parentRef": dict(desired.GATEWAY_REF), "conditions": [condition]}]
        }
    return route


def served(
    build: dict[str, Any], *, config: str = "", secrets: dict[str, Any] | None = None
) -> Actual:
    """A branch live on ``build``: Service, its ready Revision 1, the HTTPRoute to it."""
    ksvc = ksvc_of(build, config=config)
    rev = revision(ksvc, 1, build, READY)
    return Actual(
        kservices={ksvc["metadata"]["name"]: ksvc},
        revisions={rev["metadata"]["name"]: rev},
        httproutes={desired.route_name("shop", BuildView.of(build).branch): route_of(build, ksvc)},
        secrets=secrets or {},
    )


def kinds(objs: list[dict[str, Any]]) -> list[str]:
    return [f"{o['kind']}/{o['metadata']['name']}" for o in objs]


def conditions(plan: Any) -> dict[str, tuple[str, str]]:
    return {name: (c["status"], c["reason"]) for name, c in plan.conditions}


def merge(*actuals: Actual, **fields: Any) -> Actual:
    out: dict[str, Any] = {}
    for a in actuals:
        for key in ("kservices", "revisions", "httproutes", "deployments", "services"):
            out.setdefault(key, {}).update(getattr(a, key))
        for key in ("ingresses", "jobs", "secrets", "revision_deployments"):
            out.setdefault(key, {}).update(getattr(a, key))
    return Actual(**{**out, **fields})


# -- names and shapes ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("namespace", "branch", "name", "host"),
    [
        ("default", "main", "shop-main", "shop.localhost"),
        ("default", "feature-x", "shop-feature-x", "feature-x--shop.localhost"),
        ("team", "main", "shop-main", "shop.team.localhost"),
        ("team", "Fix/Login", "shop-fix-login-", "fix-login-"),
    ],
)
def test_branch_objects_are_named_and_hosted_as_design_names_says(
    namespace: str, branch: str, name: str, host: str
) -> None:
    app = AppView.of(app_obj(namespace=namespace))
    target = desired.Target(app, branch, BuildView.of(build_obj("b1", branch)))
    ksvc = desired.knative_service(target, S)
    route = desired.app_route(target, S, [])
    assert target.name.startswith(name)
    assert ksvc["metadata"]["name"] == target.name
    assert route["metadata"]["name"] == target.name + "-app"
    assert route["spec"]["hostnames"][0].startswith(host)
    for obj in (ksvc, route):
        assert obj["metadata"]["namespace"] == namespace
        assert obj["metadata"]["labels"] == {APP_LABEL: "shop", BRANCH_LABEL: target.slug}
        [owner] = obj["metadata"]["ownerReferences"]
        assert (owner["kind"], owner["uid"], owner["controller"]) == ("App", "app-uid", True)
    # the labels reach the revisions and their pods
    assert ksvc["spec"]["template"]["metadata"]["labels"] == ksvc["metadata"]["labels"]


def test_the_knative_service_runs_the_builds_slug_with_env_config_and_a_probe() -> None:
    app = AppView.of(app_obj(env=[{"name": "GREETING", "value": "hi"}]))
    target = desired.Target(app, "main", BuildView.of(build_obj("b1")), config_hash="abc")
    ksvc = desired.knative_service(target, S)
    assert (ksvc["apiVersion"], ksvc["kind"]) == ("serving.knative.dev/v1", "Service")
    template = ksvc["spec"]["template"]
    [c] = template["spec"]["containers"]
    assert c["image"] == SLUG_A
    env = {e["name"]: e["value"] for e in c["env"]}
    assert "PORT" not in env  # Knative sets it from the container port
    assert c["ports"] == [{"containerPort": S.container_port}]
    assert env["GREETING"] == "hi"
    assert env["PAAS_URL"] == "http://shop.localhost:8080/"
    assert [e["secretRef"]["name"] for e in c["envFrom"]] == ["shop-config", "shop-main-config"]
    assert c["readinessProbe"]["tcpSocket"]["port"] == S.container_port
    assert template["metadata"]["annotations"] == {
        desired.BUILD_ANNOTATION: "b1",
        desired.COMMIT_ANNOTATION: "1" * 40,
        desired.CONFIG_ANNOTATION: "abc",
        "autoscaling.knative.dev/min-scale": "1",
        "serving.knative.dev/progress-deadline": "30s",
    }


@pytest.mark.parametrize(
    ("spec", "branch", "min_scale"),
    [
        ({}, "main", "1"),
        ({}, "feature-x", "0"),
        ({"main": {"minScale": 3}}, "main", "3"),
        ({"previews": {"minScale": 1}}, "feature-x", "1"),
        ({"main": {"minScale": 0}}, "main", "0"),
    ],
    ids=["main", "preview", "main-set", "previews-set", "main-to-zero"],
)
def test_previews_scale_to_zero_and_main_keeps_one_unless_the_app_says(
    spec: dict[str, Any], branch: str, min_scale: str
) -> None:
    app = AppView.of(app_obj(**spec))
    target = desired.Target(app, branch, BuildView.of(build_obj("b1", branch)))
    annotations = desired.knative_service(target, S)["spec"]["template"]["metadata"]["annotations"]
    assert annotations["autoscaling.knative.dev/min-scale"] == min_scale


def test_the_knative_service_passes_knatives_validation_even_with_reserved_app_env() -> None:
    app = AppView.of(app_obj(env=[{"name": "PORT", "value": "1"}, {"name": "K_SERVICE"}]))
    for result in (SLUG_A, "registry.localhost:5000/default/shop@sha256:" + "c" * 64):
        target = desired.Target(app, "feature-x", BuildView.of(build_obj("b1", result=result)))
        ksvc = desired.knative_service(target, S)
        ksvc["metadata"]["uid"] = "u"
        assert validate_service(default_service(ksvc, None, "admin"), None) == []


def test_the_branch_route_carries_the_services_traffic_as_weighted_backends() -> None:
    traffic = [
        {"revisionName": "shop-main-00002", "percent": 90},
        {"revisionName": "shop-main-00001", "percent": 10},
        {"revisionName": "shop-main-00001", "percent": 0, "tag": "old"},
    ]
    route = desired.app_route(target_of(build_obj("b1")), S, desired.backends(traffic), 300)
    assert (route["apiVersion"], route["kind"]) == ("gateway.networking.k8s.io/v1", "HTTPRoute")
    spec = route["spec"]
    assert spec["parentRefs"] == [
        {
            "group": "gateway.networking.k8s.io",
            "kind": "Gateway",
            "namespace": "paas-system",
            "name": "paas",
        }
    ]
    assert spec["hostnames"] == ["shop.localhost"]
    [rule] = spec["rules"]
    assert rule["matches"] == [{"path": {"type": "PathPrefix", "value": "/"}}]
    assert rule["backendRefs"] == [
        {"group": "", "kind": "Service", "name": "shop-main-00002", "port": 80, "weight": 90},
        {"group": "", "kind": "Service", "name": "shop-main-00001", "port": 80, "weight": 10},
    ]
    assert rule["timeouts"] == {"request": "300s"}


@pytest.mark.parametrize(
    ("image", "policy"),
    [
        (SLUG_A, None),
        ("paas/web:0123456789ab", "IfNotPresent"),
        ("paas/web:latest", "IfNotPresent"),
    ],
)
def test_a_dockerfile_image_is_run_from_the_node_and_never_pulled(
    image: str, policy: str | None
) -> None:
    target = target_of(build_obj("b1", result=image, release="./migrate"))
    [web] = desired.knative_service(target, S)["spec"]["template"]["spec"]["containers"]
    [release] = desired.release_job(target, S)["spec"]["template"]["spec"]["containers"]
    assert web.get("imagePullPolicy") == policy
    assert release.get("imagePullPolicy") == policy


def test_release_pods_carry_no_branch_label_and_get_port() -> None:
    target = target_of(build_obj("b1", release="./migrate"))
    job = desired.release_job(target, S)
    pod_labels = job["spec"]["template"]["metadata"]["labels"]
    assert BRANCH_LABEL not in pod_labels
    [c] = job["spec"]["template"]["spec"]["containers"]
    assert c["args"] == ["./migrate"]
    assert {"name": "PORT", "value": str(S.container_port)} in c["env"]
    assert job["spec"]["backoffLimit"] == 0
    assert len(job["metadata"]["name"]) <= 63


def test_config_hash_changes_with_the_secrets_data_only() -> None:
    one = {"data": {"A": "MQ=="}}
    assert desired.config_hash([None, None]) == ""
    assert desired.config_hash([one, None]) == desired.config_hash([dict(one), None])
    assert desired.config_hash([one, None]) != desired.config_hash([{"data": {"A": "Mg=="}}])


# -- choosing the build -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("builds", "chosen"),
    [
        ([], None),
        ([build_obj("b1", phase="Running")], None),
        ([build_obj("b1", phase="Failed")], None),
        ([build_obj("b1"), build_obj("b2", created="2026-01-01T00:00:02Z")], "b2"),
        (
            [build_obj("b1"), build_obj("b2", created="2026-01-01T00:00:02Z", phase="Running")],
            "b1",
        ),
        (
            [
                build_obj("b1", deployed=("True", "Available")),
                build_obj("b2", created="2026-01-01T00:00:02Z", deployed=("False", "StartFailed")),
            ],
            "b1",
        ),
    ],
    ids=["none", "running", "failed", "newest", "newest-succeeded", "skips-failed-deploy"],
)
def test_the_target_is_the_newest_succeeded_build_whose_deploy_did_not_fail(
    builds: list[dict[str, Any]], chosen: str | None
) -> None:
    target = choose_target(views(*builds))
    assert (target.name if target else None) == chosen


# -- one pass: rolling out ------------------------------------------------------------------


def test_a_first_build_without_release_creates_the_knative_service() -> None:
    plan = plan_app(APP, views(build_obj("b1")), Actual(), S)
    assert kinds(plan.apply) == ["Service/shop-main"]
    assert plan.apply[0]["apiVersion"] == "serving.knative.dev/v1"
    assert conditions(plan) == {"b1": ("Unknown", "RollingOut")}
    assert not plan.settled
    assert plan.status["branchCount"] == 0


def test_a_ready_revision_gets_the_branch_host_and_the_build_is_deployed() -> None:
    build = build_obj("b1")
    ksvc = ksvc_of(build)
    rev = revision(ksvc, 1, build, READY)
    plan = plan_app(
        APP,
        views(build),
        Actual(kservices={"shop-main": ksvc}, revisions={rev["metadata"]["name"]: rev}),
        S,
    )
    assert kinds(plan.apply) == ["HTTPRoute/shop-main-app"]
    [route] = plan.apply
    assert [r["name"] for r in route["spec"]["rules"][0]["backendRefs"]] == ["shop-main-00001"]
    assert conditions(plan) == {"b1": ("True", "Available")}  # written before it is judged
    [entry] = plan.status["branches"]
    assert (entry["build"], entry["phase"]) == ("b1", "Live")


def test_a_live_branch_needs_no_write() -> None:
    build = build_obj("b1", deployed=("True", "Available"))
    plan = plan_app(APP, views(build), served(build), S)
    assert plan.apply == [] and plan.conditions == [] and plan.settled


def test_a_new_build_rolls_the_template_and_waits_for_its_revision() -> None:
    old = build_obj("b1", deployed=("True", "Available"))
    new = build_obj("b2", created="2026-01-01T00:00:02Z", result=SLUG_B)
    plan = plan_app(APP, views(old, new), served(old), S)
    [ksvc] = plan.apply
    assert ksvc["spec"]["template"]["spec"]["containers"][0]["image"] == SLUG_B
    assert conditions(plan) == {"b2": ("Unknown", "RollingOut")}
    [entry] = plan.status["branches"]
    assert (entry["build"], entry["phase"]) == ("b1", "Deploying")  # b1 serves meanwhile


def rolling(old: dict[str, Any], new: dict[str, Any], ready: dict[str, Any], **kw: Any) -> Actual:
    """The branch with ``new``'s template as revision 2 (``ready``), ``old``'s as revision 1."""
    ksvc = ksvc_of(new, created=2, **kw)
    first = revision(ksvc_of(old), 1, old, READY)
    second = revision(ksvc, 2, new, ready)
    live = served(old)
    return merge(
        live,
        kservices={"shop-main": ksvc},
        revisions={r["metadata"]["name"]: r for r in (first, second)},
    )


@pytest.mark.parametrize(
    ("ready", "latest_ready", "traffic_to", "expected", "message"),
    [
        (STARTING, 1, 1, ("Unknown", "RollingOut"), "the old one serves meanwhile"),
        (READY, 2, 1, ("Unknown", "RollingOut"), "routing the branch's host"),
        (READY, 2, 2, ("True", "Available"), "revision shop-main-00002 serves"),
        (
            {
                "status": "False",
                "reason": "ExitCode3",
                "message": "Container failed with: boom",
            },
            1,
            1,
            ("False", "StartFailed"),
            "the new version keeps crashing (exit code 3): Container failed with: boom",
        ),
        (
            {"status": "False", "reason": "ContainerMissing", "message": 'Unable to fetch "x"'},
            1,
            1,
            ("False", "StartFailed"),
            "the new version cannot get its image",
        ),
        (
            {
                "status": "False",
                "reason": "ProgressDeadlineExceeded",
                "message": "Initial scale was never achieved",
            },
            1,
            1,
            ("False", "ProgressDeadlineExceeded"),
            "did not become ready within 30s",
        ),
    ],
    ids=["starting", "traffic-not-moved", "live", "crash", "no-image", "deadline"],
)
def test_a_new_build_is_judged_from_its_revision_and_the_services_traffic(
    ready: dict[str, Any],
    latest_ready: int,
    traffic_to: int,
    expected: tuple[str, str],
    message: str,
) -> None:
    old = build_obj("b1", deployed=("True", "Available"))
    new = build_obj("b2", created="2026-01-01T00:00:02Z", result=SLUG_B)
    actual = rolling(old, new, ready, latest_ready=latest_ready, traffic_to=traffic_to)
    plan = plan_app(APP, views(old, new), actual, S)
    [(name, condition)] = plan.conditions
    assert name == "b2"
    assert (condition["status"], condition["reason"]) == expected
    assert message in condition["message"]
    assert all(o["kind"] != "Service" for o in plan.apply)  # the template is not touched


def test_a_crash_without_a_termination_message_says_the_exit_code_alone() -> None:
    old = build_obj("b1", deployed=("True", "Available"))
    new = build_obj("b2", created="2026-01-01T00:00:02Z", result=SLUG_B)
    crashed = {"status": "False", "reason": "ExitCode3", "message": "Container failed with: "}
    plan = plan_app(APP, views(old, new), rolling(old, new, crashed), S)
    [(_, condition)] = plan.conditions
    assert condition["message"] == "the new version keeps crashing (exit code 3)"


def test_a_failed_deploy_puts_the_template_back_to_the_live_build() -> None:
    old = build_obj("b1", deployed=("True", "Available"))
    new = build_obj(
        "b2", created="2026-01-01T00:00:02Z", result=SLUG_B, deployed=("False", "StartFailed")
    )
    failed = {"status": "False", "reason": "ExitCode1", "message": "x"}
    plan = plan_app(APP, views(old, new), rolling(old, new, failed), S)
    [ksvc] = plan.apply
    assert ksvc["spec"]["template"]["spec"]["containers"][0]["image"] == SLUG_A
    assert plan.conditions == []  # b1 still serves: it stays Deployed
    [entry] = plan.status["branches"]
    assert entry["build"] == "b1" and "b2" in entry["lastFailure"]


def test_new_config_vars_that_do_not_start_keep_the_live_build_and_say_why() -> None:
    build = build_obj("b1", deployed=("True", "Available"))
    secret = {"metadata": {"name": "shop-config"}, "data": {"A": "MQ=="}}
    config = desired.config_hash([secret])
    ksvc = ksvc_of(build, created=2, config=config)
    crashed = {"status": "False", "reason": "ExitCode1", "message": "Container failed with: A"}
    revs = [revision(ksvc_of(build), 1, build, READY), revision(ksvc, 2, build, crashed)]
    actual = merge(
        served(build),
        kservices={"shop-main": ksvc},
        revisions={r["metadata"]["name"]: r for r in revs},
        secrets={"shop-config": secret},
    )
    plan = plan_app(APP, views(build), actual, S)
    assert plan.apply == [] and plan.conditions == []
    [entry] = plan.status["branches"]
    assert entry["phase"] == "Failed" and entry["build"] == "b1"
    assert entry["lastFailure"].startswith("the new config vars do not start")


def test_a_config_change_rolls_a_new_revision() -> None:
    build = build_obj("b1", deployed=("True", "Available"))
    secret = {"metadata": {"name": "shop-config"}, "data": {"A": "MQ=="}}
    plan = plan_app(APP, views(build), merge(served(build), secrets={"shop-config": secret}), S)
    [ksvc] = plan.apply
    annotations = ksvc["spec"]["template"]["metadata"]["annotations"]
    assert annotations[desired.CONFIG_ANNOTATION] == desired.config_hash([secret])
    assert plan.conditions == []  # the live build is not judged again


def test_a_changed_min_scale_on_the_app_rolls_the_branch() -> None:
    build = build_obj("b1", deployed=("True", "Available"))
    app = AppView.of(app_obj(main={"minScale": 2}))
    [ksvc] = plan_app(app, views(build), served(build), S).apply
    annotations = ksvc["spec"]["template"]["metadata"]["annotations"]
    assert annotations["autoscaling.knative.dev/min-scale"] == "2"


def test_without_httproutes_served_the_deploy_waits_for_the_router() -> None:
    build = build_obj("b1")
    ksvc = ksvc_of(build)
    rev = revision(ksvc, 1, build, READY)
    actual = Actual(
        kservices={"shop-main": ksvc}, revisions={rev["metadata"]["name"]: rev}, routes_served=False
    )
    plan = plan_app(APP, views(build), actual, S)
    assert plan.apply == []
    [(_, condition)] = plan.conditions
    assert condition["status"] == "Unknown" and "router" in condition["message"]


def test_older_builds_never_judged_are_superseded() -> None:
    b1 = build_obj("b1")
    b2 = build_obj("b2", created="2026-01-01T00:00:02Z", result=SLUG_B)
    plan = plan_app(APP, views(b1, b2), Actual(), S)
    assert conditions(plan) == {"b2": ("Unknown", "RollingOut"), "b1": ("False", "Superseded")}


# -- one pass: the release phase ------------------------------------------------------------


def release_job(build: dict[str, Any], config: str = "", outcome: str = "") -> dict[str, Any]:
    """The release Job of ``build`` (with config hash ``config``), finished as ``outcome``."""
    job = desired.release_job(target_of(build, config), S)
    if outcome:
        job["status"] = {"conditions": [{"type": outcome, "status": "True"}]}
    return job


@pytest.mark.parametrize(
    ("job_conditions", "applied", "condition"),
    [
        (None, ["Job/RELEASE"], ("Unknown", "Releasing")),
        ([], [], ("Unknown", "Releasing")),
        (
            [{"type": "Failed", "status": "True", "message": "exit 1"}],
            [],
            ("False", "ReleaseFailed"),
        ),
        (
            [{"type": "Complete", "status": "True"}],
            ["Service/shop-main"],
            ("Unknown", "RollingOut"),
        ),
    ],
    ids=["creates-job", "waits", "failed", "complete-rolls"],
)
def test_a_release_runs_before_the_new_version_and_its_failure_fails_the_deploy(
    job_conditions: list[dict[str, Any]] | None, applied: list[str], condition: tuple[str, str]
) -> None:
    build = build_obj("b2", release="python3 migrate.py", result=SLUG_B)
    job = release_job(build)
    jobs = {}
    if job_conditions is not None:
        jobs[job["metadata"]["name"]] = {**job, "status": {"conditions": job_conditions}}
    plan = plan_app(APP, views(build), Actual(jobs=jobs), S)
    assert kinds(plan.apply) == [a.replace("RELEASE", job["metadata"]["name"]) for a in applied]
    assert conditions(plan)["b2"] == condition


def test_a_config_change_runs_the_release_again_before_a_new_revision() -> None:
    build = build_obj("b1", release="migrate", deployed=("True", "Available"))
    secret = {"metadata": {"name": "shop-config"}, "data": {"A": "MQ=="}}
    actual = merge(served(build), secrets={"shop-config": secret})
    job = release_job(build, desired.config_hash([secret]))
    first = plan_app(APP, views(build), actual, S)
    assert kinds(first.apply) == [f"Job/{job['metadata']['name']}"]
    assert job["metadata"]["name"] != release_job(build)["metadata"]["name"]
    assert first.conditions == []  # the build is not judged again: it did not change
    assert first.status["conditions"][0]["reason"] == "Deploying"
    complete = job | {"status": {"conditions": [{"type": "Complete", "status": "True"}]}}
    done = plan_app(APP, views(build), merge(actual, jobs={job["metadata"]["name"]: complete}), S)
    assert kinds(done.apply) == ["Service/shop-main"]


def test_a_release_failing_on_new_config_keeps_the_build_live_and_says_why() -> None:
    build = build_obj("b1", release="migrate", deployed=("True", "Available"))
    secret = {"metadata": {"name": "shop-config"}, "data": {"A": "MQ=="}}
    failed = release_job(build, desired.config_hash([secret]), "Failed")
    actual = merge(
        served(build), secrets={"shop-config": secret}, jobs={failed["metadata"]["name"]: failed}
    )
    plan = plan_app(APP, views(build), actual, S)
    assert plan.apply == [] and plan.conditions == [] and plan.settled
    [entry] = plan.status["branches"]
    assert entry["build"] == "b1"
    assert "failed with the new config vars" in entry["lastFailure"]
    assert f"kubectl logs job/{failed['metadata']['name']}" in entry["lastFailure"]


def test_finished_release_jobs_nothing_points_at_are_deleted() -> None:
    b1 = build_obj("b1", release="migrate", deployed=("True", "Available"))
    b2 = build_obj("b2", created="2026-01-01T00:00:02Z", release="migrate", result=SLUG_B)
    b3 = build_obj(
        "b3", created="2026-01-01T00:00:03Z", release="migrate", deployed=("False", "ReleaseFailed")
    )
    old = release_job(b1, outcome="Complete")
    running_old = release_job(b1, "c0ffee")  # still running: never cut off
    current = release_job(b2)
    newest_failed = release_job(b3, outcome="Failed")
    jobs = {j["metadata"]["name"]: j for j in (old, running_old, current, newest_failed)}
    plan = plan_app(APP, views(b1, b2, b3), merge(served(b1), jobs=jobs), S)
    assert plan.deletions == [("Job", old["metadata"]["name"])]


def test_a_live_build_is_not_released_again() -> None:
    build = build_obj("b1", release="migrate", deployed=("True", "Available"))
    plan = plan_app(APP, views(build), served(build), S)
    assert plan.apply == [] and plan.conditions == [] and plan.settled


def test_a_failed_release_keeps_the_old_version_running() -> None:
    old = build_obj("b1", deployed=("True", "Available"))
    new = build_obj(
        "b2", created="2026-01-01T00:00:02Z", release="migrate", deployed=("False", "ReleaseFailed")
    )
    plan = plan_app(APP, views(old, new), served(old), S)
    assert plan.apply == []
    [entry] = plan.status["branches"]
    assert entry["build"] == "b1" and entry["phase"] == "Live"
    assert "b2" in entry["lastFailure"]
    assert plan.status["conditions"][0]["status"] == "False"


# -- one pass: branches that go, App status -------------------------------------------------


def first_version(build: dict[str, Any], ready: int = 1) -> Actual:
    """A branch as the builder's first version deployed it: Deployment, Service, Ingress."""
    view = BuildView.of(build)
    target = desired.Target(APP, view.branch, view)
    meta = {"name": target.name, "labels": target.labels}
    annotations = {desired.BUILD_ANNOTATION: view.name, desired.COMMIT_ANNOTATION: view.commit}
    deployment = {
        "kind": "Deployment",
        "metadata": meta,
        "spec": {"template": {"metadata": {"annotations": annotations}}},
        "status": {"readyReplicas": ready},
    }
    return Actual(
        deployments={target.name: deployment},
        services={target.name: {"kind": "Service", "metadata": meta}},
        ingresses={target.name: {"kind": "Ingress", "metadata": meta}},
    )


def test_objects_of_a_deleted_branch_are_deleted() -> None:
    gone = build_obj("b1", "feature-x", deployed=("True", "Available"))
    plan = plan_app(APP, views(build_obj("b2")), merge(served(gone), first_version(gone)), S)
    assert sorted(plan.delete) == [
        ("Deployment", "shop-feature-x"),
        ("HTTPRoute", "shop-feature-x-app"),
        ("Ingress", "shop-feature-x"),
        ("KService", "shop-feature-x"),
        ("Service", "shop-feature-x"),
    ]


def test_release_jobs_of_a_deleted_branch_are_deleted() -> None:
    gone = build_obj("b1", "feature-x", release="migrate")
    job = release_job(gone, outcome="Complete")
    plan = plan_app(APP, views(build_obj("b2")), Actual(jobs={job["metadata"]["name"]: job}), S)
    assert plan.deletions == [("Job", job["metadata"]["name"])]


def test_app_status_lists_branches_main_first_with_urls_and_instances() -> None:
    main = build_obj("m1", deployed=("True", "Available"))
    feature = build_obj("f1", "feature-x", deployed=("True", "Available"))
    deployments = {  # the serving controller's, by revision: the preview scaled to zero
        "shop-main-00001": {"status": {"readyReplicas": 1}},
        "shop-feature-x-00001": {"status": {"readyReplicas": 0}},
    }
    actual = merge(served(main), served(feature), revision_deployments=deployments)
    plan = plan_app(APP, views(feature, main), actual, S)
    assert plan.apply == []
    status = plan.status
    assert status["url"] == "http://shop.localhost:8080/"
    assert status["branchCount"] == 2
    assert [
        (e["name"], e["url"], e["build"], e["phase"], e["instances"]) for e in status["branches"]
    ] == [
        ("main", "http://shop.localhost:8080/", "m1", "Live", 1),
        ("feature-x", "http://feature-x--shop.localhost:8080/", "f1", "Live", 0),
    ]
    assert status["conditions"][0]["status"] == "True"


# -- moving a branch of the builder's first version -------------------------------------------


def test_a_first_version_branch_gets_its_knative_service_without_a_new_release() -> None:
    build = build_obj("b1", release="migrate", deployed=("True", "Available"))
    plan = plan_app(APP, views(build), first_version(build), S)
    assert kinds(plan.apply) == ["Service/shop-main"]  # no release Job: it runs that build
    assert plan.conditions == [] and plan.deletions == []
    assert plan.awaits_router
    [entry] = plan.status["branches"]
    assert (entry["build"], entry["instances"]) == ("b1", 1)


@pytest.mark.parametrize(
    ("ksvc_ready", "route", "retired"),
    [
        (False, None, False),
        (True, None, False),  # the route is written in this pass: not accepted yet
        (True, False, False),
        (True, True, True),
    ],
    ids=["service-not-ready", "route-missing", "route-not-accepted", "accepted"],
)
def test_first_version_objects_serve_until_the_router_accepts_the_branch_route(
    ksvc_ready: bool, route: bool | None, retired: bool
) -> None:
    build = build_obj("b1", deployed=("True", "Available"))
    live = served(build)
    ksvc = live.kservices["shop-main"]
    if not ksvc_ready:
        ksvc = ksvc_of(build, latest_ready=None)
    routes = {}
    if route is not None:
        routes = {"shop-main-app": route_of(build, live.kservices["shop-main"], accepted=route)}
    actual = merge(live, first_version(build), kservices={"shop-main": ksvc}, httproutes=routes)
    plan = plan_app(APP, views(build), actual, S)
    assert plan.conditions == []  # the build serves throughout
    if retired:
        assert plan.deletions == [
            ("Ingress", "shop-main"),
            ("Service", "shop-main"),
            ("Deployment", "shop-main"),
        ]
        assert not plan.awaits_router
    else:
        assert plan.deletions == []
        assert plan.awaits_router
