"""How a webhook's refusal or failure reaches the client, in Kubernetes' words.

Two kinds of trouble, kept apart because the failure policy treats them
differently (``apiserver/pkg/util/webhook/error.go``, ``webhook/errors``):

- ``CallFailure``: the webhook could not be asked or answered nonsense
  (connect, TLS, timeout, non-2xx, an invalid AdmissionReview, an
  unsupported patch type). Under ``failurePolicy: Fail`` it becomes a 500
  ``Internal error occurred: failed calling webhook "<name>": <reason>``
  (``call_failed``); under ``Ignore`` the request goes on without it.
- a **denial** (``allowed: false``): always final, with the webhook's own
  Status: its code when it is at least 400 (else 400), its reason and
  details, and the message ``admission webhook "<name>" denied the request:
  <message>`` (``denied``). Its code is the webhook's choice, so the error
  class (``AdmissionDenied``) carries the code and reason per instance
  rather than per class as the rest of the API's error tree does.

The rest are the API server's own verdicts, whatever the policy: a dry run
through a webhook with side effects (400), a patch for a DELETE (500), a
patch that does not apply (500).
"""

from __future__ import annotations

from typing import Any

from orchestrator.api import errors


class CallFailure(Exception):
    """The webhook could not be called or gave an invalid answer; ``reason`` says how."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class AdmissionDenied(errors.APIError):
    """A webhook's ``allowed: false``, rendered with the code and reason the webhook chose."""

    def __init__(
        self, message: str, *, code: int, reason: str, details: dict[str, Any] | None = None
    ) -> None:
        super().__init__(message, details=details)
        self.code = code  # type: ignore[misc]  # per instance: the webhook decides
        self.reason = reason  # type: ignore[misc]

    def to_status(self) -> dict[str, Any]:
        status = super().to_status()
        if not self.reason:
            del status["reason"]  # Kubernetes leaves an empty reason out
        return status


def denied(webhook: str, result: dict[str, Any] | None) -> AdmissionDenied:
    """The error for a webhook's denial, from the ``status`` of its response (may be None)."""
    result = result if isinstance(result, dict) else {}
    prefix = f'admission webhook "{webhook}" denied the request'
    message, reason = str(result.get("message") or ""), str(result.get("reason") or "")
    if message:
        text = f"{prefix}: {message}"
    elif reason:
        text = f"{prefix}: {reason}"
    else:
        text = f"{prefix} without explanation"
    code = result.get("code")
    code = code if isinstance(code, int) and code >= 400 else 400
    details = result.get("details") if isinstance(result.get("details"), dict) else None
    return AdmissionDenied(text, code=code, reason=reason, details=details)


def internal_error(message: str) -> errors.InternalError:
    """Kubernetes' ``NewInternalError``: the prefixed message, and the error as its cause."""
    return errors.InternalError(
        f"Internal error occurred: {message}", details={"causes": [{"message": message}]}
    )


def call_failed(webhook: str, failure: CallFailure) -> errors.InternalError:
    """A call failure under ``failurePolicy: Fail``."""
    return internal_error(f'failed calling webhook "{webhook}": {failure.reason}')


def dry_run_unsupported(webhook: str) -> errors.BadRequest:
    return errors.BadRequest(f'admission webhook "{webhook}" does not support dry run')


def patch_not_allowed(webhook: str) -> errors.InternalError:
    """A mutating webhook sent a patch for a request without an object (DELETE)."""
    return internal_error(
        f'admission webhook "{webhook}" attempted to modify the object, '
        "which is not supported for this operation"
    )
