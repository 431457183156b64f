"""The App controller's pure part: desired objects and one pass's plan, as tables."""

from __future__ import annotations

from typing import Any

import pytest

from builder.kinds import APP_LABEL, BRANCH_LABEL, DEPLOYED, RELEASE_ANNOTATION
from paas.apps import desired
from paas.apps.plan import Actual, choose_target, plan_app, rollout_state, start_failure
from paas.apps.settings import AppControllerSettings
from paas.apps.views import AppView, BuildView

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


def running(build: dict[str, Any], *, status: dict[str, Any] | None = None) -> dict[str, Any]:
    """The Deployment the controller would have made for ``build``, as the server keeps it."""
    view = BuildView.of(build)
    obj = desired.deployment(desired.Target(APP, view.branch, view), S)
    obj["metadata"]["generation"] = 2
    obj["status"] = status or {
        "observedGeneration": 2,
        "replicas": 1,
        "updatedReplicas": 1,
        "availableReplicas": 1,
    }
    return obj


def served(build: dict[str, Any]) -> Actual:
    view = BuildView.of(build)
    target = desired.Target(APP, view.branch, view)
    return Actual(
        deployments={target.name: running(build)},
        services={target.name: desired.service(target, S)},
        ingresses={target.name: desired.ingress(target, S)},
    )


def kinds(objs: list[dict[str, Any]]) -> list[str]:
    return [f"{o['kind']}/{o['metadata']['name']}" for o in objs]


def conditions(plan: Any) -> dict[str, tuple[str, str]]:
    return {name: (c["status"], c["reason"]) for name, c in plan.conditions}


# -- names and shapes ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("namespace", "branch", "name", "host"),
    [
        ("default", "main", "shop-main", "shop.localhost"),
        ("default", "feature-x", "shop-feature-x", "feature-x--shop.localhost"),
        ("team", "main", "shop-main", "shop.team.localhost"),
        ("team", "Fix/Login", "shop-fix-login-" + "", "fix-login-"),
    ],
)
def test_branch_objects_are_named_and_hosted_as_design_names_says(
    namespace: str, branch: str, name: str, host: str
) -> None:
    app = AppView.of(app_obj(namespace=namespace))
    target = desired.Target(app, branch, BuildView.of(build_obj("b1", branch)))
    ingress = desired.ingress(target, S)
    rule_host = ingress["spec"]["rules"][0]["host"]
    assert target.name.startswith(name)
    assert rule_host.startswith(host)
    for obj in (desired.deployment(target, S), desired.service(target, S), ingress):
        assert obj["metadata"]["name"] == target.name
        assert obj["metadata"]["namespace"] == namespace
        assert obj["metadata"]["labels"] == {APP_LABEL: "shop", BRANCH_LABEL: target.slug}
        [owner] = obj["metadata"]["ownerReferences"]
        assert (owner["kind"], owner["uid"], owner["controller"]) == ("App", "app-uid", True)


def test_the_deployment_runs_the_builds_slug_with_port_env_config_and_a_safe_rollout() -> None:
    app = AppView.of(app_obj(env=[{"name": "GREETING", "value": "hi"}]))
    target = desired.Target(app, "main", BuildView.of(build_obj("b1")), config_hash="abc")
    d = desired.deployment(target, S)
    spec = d["spec"]
    [c] = spec["template"]["spec"]["containers"]
    assert c["image"] == SLUG_A
    assert spec["replicas"] == 1
    assert spec["strategy"]["rollingUpdate"] == {"maxUnavailable": 0, "maxSurge": 1}
    assert spec["progressDeadlineSeconds"] == 30
    env = {e["name"]: e["value"] for e in c["env"]}
    assert env["PORT"] == str(S.container_port)
    assert env["GREETING"] == "hi"
    assert env["PAAS_URL"] == "http://shop.localhost:8080/"
    assert [e["secretRef"]["name"] for e in c["envFrom"]] == ["shop-config", "shop-main-config"]
    assert c["readinessProbe"]["tcpSocket"]["port"] == S.container_port
    assert spec["template"]["metadata"]["annotations"][desired.CONFIG_ANNOTATION] == "abc"
    svc = desired.service(target, S)
    assert svc["spec"]["type"] == "ClusterIP"
    assert svc["spec"]["ports"][0]["targetPort"] == S.container_port
    ing = desired.ingress(target, S)
    assert ing["spec"]["ingressClassName"] == "paas"


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
    build = build_obj("b1", result=image, release="./migrate")
    target = desired.Target(APP, "main", BuildView.of(build))
    [web] = desired.deployment(target, S)["spec"]["template"]["spec"]["containers"]
    [release] = desired.release_job(target, S)["spec"]["template"]["spec"]["containers"]
    assert web.get("imagePullPolicy") == policy
    assert release.get("imagePullPolicy") == policy


def test_release_pods_are_not_selected_by_the_branchs_service() -> None:
    target = desired.Target(APP, "main", BuildView.of(build_obj("b1", release="./migrate")))
    job = desired.release_job(target, S)
    pod_labels = job["spec"]["template"]["metadata"]["labels"]
    selector = desired.service(target, S)["spec"]["selector"]
    assert not all(pod_labels.get(k) == v for k, v in selector.items())
    assert job["spec"]["template"]["spec"]["containers"][0]["args"] == ["./migrate"]
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


# -- one pass -----------------------------------------------------------------------------


def test_a_first_build_without_release_creates_deployment_service_and_ingress() -> None:
    plan = plan_app(APP, views(build_obj("b1")), Actual(), S)
    assert kinds(plan.apply) == ["Deployment/shop-main", "Service/shop-main", "Ingress/shop-main"]
    assert conditions(plan) == {"b1": ("Unknown", "RollingOut")}
    assert not plan.settled
    assert plan.status["branchCount"] == 0


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
            ["Deployment/shop-main", "Service/shop-main", "Ingress/shop-main"],
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


def release_job(build: dict[str, Any], config: str = "", outcome: str = "") -> dict[str, Any]:
    """The release Job of ``build`` (with config hash ``config``), finished as ``outcome``."""
    view = BuildView.of(build)
    job = desired.release_job(desired.Target(APP, view.branch, view, config), S)
    if outcome:
        job["status"] = {"conditions": [{"type": outcome, "status": "True"}]}
    return job


def with_config(actual: Actual, data: dict[str, str], **jobs: dict[str, Any]) -> Actual:
    secret = {"metadata": {"name": "shop-config"}, "data": data}
    return Actual(
        deployments=actual.deployments,
        services=actual.services,
        ingresses=actual.ingresses,
        secrets={"shop-config": secret},
        jobs={j["metadata"]["name"]: j for j in jobs.values()},
    )


def test_a_config_change_runs_the_release_again_before_the_pods_roll() -> None:
    build = build_obj("b1", release="migrate", deployed=("True", "Available"))
    actual = with_config(served(build), {"A": "MQ=="})
    config = desired.config_hash([actual.secrets["shop-config"]])
    job = release_job(build, config)
    first = plan_app(APP, views(build), actual, S)
    assert kinds(first.apply) == [f"Job/{job['metadata']['name']}"]
    assert job["metadata"]["name"] != release_job(build)["metadata"]["name"]
    assert first.conditions == []  # the build is not judged again: it did not change
    assert first.status["conditions"][0]["reason"] == "Deploying"
    done = plan_app(
        APP,
        views(build),
        with_config(
            actual,
            {"A": "MQ=="},
            j=job | {"status": {"conditions": [{"type": "Complete", "status": "True"}]}},
        ),
        S,
    )
    assert kinds(done.apply) == ["Deployment/shop-main"]


def test_a_release_failing_on_new_config_keeps_the_build_live_and_says_why() -> None:
    build = build_obj("b1", release="migrate", deployed=("True", "Available"))
    actual = with_config(served(build), {"A": "MQ=="})
    config = desired.config_hash([actual.secrets["shop-config"]])
    failed = release_job(build, config, "Failed")
    plan = plan_app(APP, views(build), with_config(actual, {"A": "MQ=="}, j=failed), S)
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
    actual = served(b1)
    actual = Actual(
        deployments=actual.deployments,
        services=actual.services,
        ingresses=actual.ingresses,
        jobs={j["metadata"]["name"]: j for j in (old, running_old, current, newest_failed)},
    )
    plan = plan_app(APP, views(b1, b2, b3), actual, S)
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


def test_a_new_build_rolls_the_deployment_to_its_slug() -> None:
    old = build_obj("b1", deployed=("True", "Available"))
    new = build_obj("b2", created="2026-01-01T00:00:02Z", result=SLUG_B)
    plan = plan_app(APP, views(old, new), served(old), S)
    [deployment] = plan.apply
    assert deployment["spec"]["template"]["spec"]["containers"][0]["image"] == SLUG_B
    assert conditions(plan) == {"b2": ("Unknown", "RollingOut")}


def test_a_failed_deploy_rolls_the_deployment_back_to_the_live_build() -> None:
    old = build_obj("b1", deployed=("True", "Available"))
    new = build_obj(
        "b2", created="2026-01-01T00:00:02Z", result=SLUG_B, deployed=("False", "StartFailed")
    )
    actual = served(old)
    actual = Actual(  # the Deployment still has the failed build's template
        deployments={"shop-main": running(new)},
        services=actual.services,
        ingresses=actual.ingresses,
    )
    plan = plan_app(APP, views(old, new), actual, S)
    [deployment] = plan.apply
    assert deployment["spec"]["template"]["spec"]["containers"][0]["image"] == SLUG_A


def test_older_builds_never_judged_are_superseded() -> None:
    b1 = build_obj("b1")
    b2 = build_obj("b2", created="2026-01-01T00:00:02Z", result=SLUG_B)
    plan = plan_app(APP, views(b1, b2), Actual(), S)
    assert conditions(plan) == {"b2": ("Unknown", "RollingOut"), "b1": ("False", "Superseded")}


def test_a_config_change_rolls_the_pods() -> None:
    build = build_obj("b1", deployed=("True", "Available"))
    actual = served(build)
    secret = {"metadata": {"name": "shop-config"}, "data": {"A": "MQ=="}}
    changed = Actual(
        deployments=actual.deployments,
        services=actual.services,
        ingresses=actual.ingresses,
        secrets={"shop-config": secret},
    )
    plan = plan_app(APP, views(build), changed, S)
    assert kinds(plan.apply) == ["Deployment/shop-main"]


def test_objects_of_a_deleted_branch_are_deleted() -> None:
    gone = build_obj("b1", "feature-x")
    actual = served(gone)
    plan = plan_app(APP, views(build_obj("b2")), actual, S)
    assert sorted(plan.delete) == [
        ("Deployment", "shop-feature-x"),
        ("Ingress", "shop-feature-x"),
        ("Service", "shop-feature-x"),
    ]


def test_release_jobs_of_a_deleted_branch_are_deleted() -> None:
    gone = build_obj("b1", "feature-x", release="migrate")
    job = release_job(gone, outcome="Complete")
    plan = plan_app(APP, views(build_obj("b2")), Actual(jobs={job["metadata"]["name"]: job}), S)
    assert plan.deletions == [("Job", job["metadata"]["name"])]


def test_app_status_lists_live_branches_main_first_with_urls() -> None:
    main = build_obj("m1", deployed=("True", "Available"))
    feature = build_obj("f1", "feature-x", deployed=("True", "Available"))
    a, b = served(main), served(feature)
    actual = Actual(
        deployments={**a.deployments, **b.deployments},
        services={**a.services, **b.services},
        ingresses={**a.ingresses, **b.ingresses},
    )
    plan = plan_app(APP, views(feature, main), actual, S)
    assert plan.apply == []
    status = plan.status
    assert status["url"] == "http://shop.localhost:8080/"
    assert status["branchCount"] == 2
    assert [(e["name"], e["url"], e["build"], e["phase"]) for e in status["branches"]] == [
        ("main", "http://shop.localhost:8080/", "m1", "Live"),
        ("feature-x", "http://feature-x--shop.localhost:8080/", "f1", "Live"),
    ]
    assert status["conditions"][0]["status"] == "True"


# -- judging a rollout --------------------------------------------------------------------


def _status(**fields: Any) -> dict[str, Any]:
    return {"observedGeneration": 2, "replicas": 1, "updatedReplicas": 1, **fields}


def _pod(build: str, **container: Any) -> dict[str, Any]:
    return {
        "metadata": {"annotations": {desired.BUILD_ANNOTATION: build}},
        "status": {"containerStatuses": [container]},
    }


@pytest.mark.parametrize(
    ("status", "pods", "expected"),
    [
        ({"observedGeneration": 1}, [], ("Unknown", "RollingOut")),
        (_status(availableReplicas=1), [], ("True", "Available")),
        (_status(availableReplicas=0), [], ("Unknown", "RollingOut")),
        (_status(replicas=2, availableReplicas=2), [], ("Unknown", "RollingOut")),
        (
            _status(
                availableReplicas=0,
                conditions=[
                    {"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded"}
                ],
            ),
            [],
            ("False", "ProgressDeadlineExceeded"),
        ),
        (
            _status(availableReplicas=0),
            [_pod("b1", restartCount=1, state={"waiting": {"reason": "CrashLoopBackOff"}})],
            ("False", "StartFailed"),
        ),
        (
            _status(availableReplicas=0),
            [_pod("b1", restartCount=2, lastState={"terminated": {"exitCode": 3}})],
            ("False", "StartFailed"),
        ),
        (
            _status(availableReplicas=1),
            [_pod("b0", restartCount=5)],  # an old build's pod: not this rollout's problem
            ("True", "Available"),
        ),
    ],
    ids=[
        "not-observed",
        "complete",
        "not-ready",
        "old-pod-left",
        "deadline",
        "crashloop",
        "restarts",
        "old-pods-ignored",
    ],
)
def test_a_rollout_is_judged_from_the_deployment_and_its_new_pods(
    status: dict[str, Any], pods: list[dict[str, Any]], expected: tuple[str, str]
) -> None:
    deployment = {"metadata": {"generation": 2}, "spec": {"replicas": 1}, "status": status}
    got = rollout_state(deployment, pods, "b1", restarts=2)
    assert got[:2] == expected


def test_a_crash_says_the_exit_code() -> None:
    pod = _pod("b1", restartCount=2, lastState={"terminated": {"exitCode": 3}})
    assert "exit code 3" in start_failure([pod], "b1", 2)
