"""Encryption at rest: Kubernetes' EncryptionConfiguration over any store.

``config`` reads and checks the YAML, ``providers`` turns bytes into the
stored forms (``k8s:enc:aesgcm:v1:<key>:`` ...) and back, ``store`` wraps a
``Store`` so that the registry, the watch hub and compaction never see
ciphertext and the store never sees plaintext of a configured resource, and
``rewrite`` re-encrypts what an earlier configuration wrote.
"""
