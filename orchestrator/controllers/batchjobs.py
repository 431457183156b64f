"""Reading Jobs: shared by the Job and CronJob controllers.

Pure helpers over plain API dicts (no I/O): whether a Job has finished, how,
and when. Kept apart from both controllers because sibling controllers may
not import each other.
"""

from __future__ import annotations

from datetime import datetime

from orchestrator.api.conditions import condition_of, condition_status
from orchestrator.api.objects import Obj
from orchestrator.api.timestamps import parse_time


def job_finished(job: Obj) -> str:
    """``"Complete"`` or ``"Failed"`` once the Job has finished, else ``""``."""
    for type_ in ("Complete", "Failed"):
        if condition_status(job, type_) == "True":
            return type_
    return ""


def finish_time(job: Obj) -> datetime | None:
    """When a finished Job finished: completionTime, else its condition's transition."""
    status = job.get("status") or {}
    done = parse_time(status.get("completionTime"))
    if done is not None:
        return done
    kind = job_finished(job)
    cond = condition_of(job, kind) if kind else None
    return parse_time(cond.get("lastTransitionTime")) if cond else None
