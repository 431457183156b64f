"""Knative-compatible serving kinds (serving.knative.dev/v1) and their controller."""
