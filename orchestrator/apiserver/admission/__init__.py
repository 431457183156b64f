"""Admission webhooks (``admissionregistration.k8s.io/v1``), the Kubernetes way.

    configuration  defaults and validation of Mutating/ValidatingWebhookConfiguration
    attributes     what one request is, as admission sees it
    matching       whether a webhook applies: rules, scope, selectors (pure)
    review         the AdmissionReview v1 request, the checks on the response, the patch
    caller         HTTPS to the webhook: endpoints, TLS trust, pooled clients, Go-worded errors
    failures       denials and failures as the client sees them
    dispatcher     WebhookDispatcher: mutating webhooks in series, validating ones at once

The API server owns the order of a write (§10.4 of the spec): built-in
defaulting, ``WebhookDispatcher.mutate``, validation,
``WebhookDispatcher.validate``, store.
"""
