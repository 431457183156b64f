"""The ``autoscaling`` group's HorizontalPodAutoscaler, in its two served versions.

``autoscaling/v2`` is the storage and preferred version; ``autoscaling/v1``
(what older ``kubectl autoscale`` writes) is a view of the same stored
objects, converted both ways as Kubernetes converts them (``conversion``).
Each step of a write has its own small module: ``schema`` (known fields, for
strict field validation and JSON types), ``defaults``, ``validation`` (in
Kubernetes' words), ``columns`` (``kubectl get hpa``) and ``strategy``,
which ties them into the API server's ``KindStrategy`` for either version.
"""
