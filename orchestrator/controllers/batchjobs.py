"""Reading Jobs and controller references: shared by the Job and CronJob controllers.

Pure helpers over plain API dicts (no I/O): whether a Job has finished and
how, the owner reference a controller stamps on what it creates, and which
controller owns an object. Kept apart from both controllers because sibling
controllers may not import each other.
"""

from __future__ import annotations

from datetime import datetime

from orchestrator.api.objects import Obj
from orchestrator.api.timestamps import parse_time


def condition(obj: Obj, type_: str) -> Obj | None:
    for cond in (obj.get("status") or {}).get("conditions") or []:
        if cond.get("type") == type_:
            return cond
    return None


def job_finished(job: Obj) -> str:
    """``"Complete"`` or ``"Failed"`` once the Job has finished, else ``""``."""
    for type_ in ("Complete", "Failed"):
        cond = condition(job, type_)
        if cond is not None and cond.get("status") == "True":
            return type_
    return ""


def finish_time(job: Obj) -> datetime | None:
    """When a finished Job finished: completionTime, else its condition's transition."""
    status = job.get("status") or {}
    done = parse_time(status.get("completionTime"))
    if done is not None:
        return done
    kind = job_finished(job)
    cond = condition(job, kind) if kind else None
    return parse_time(cond.get("lastTransitionTime")) if cond else None
