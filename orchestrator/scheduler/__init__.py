"""The scheduler: ``scheduler.Scheduler`` (the loop), ``cache`` (nodes and what is placed
on them, assumed pods included), ``placement`` (one decision), ``filters`` and ``scoring``
(pure functions), ``podinfo``/``nodeinfo``/``resources`` (what they read)."""
