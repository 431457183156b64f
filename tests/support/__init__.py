"""Helpers shared by the test suites: real engines (etcd, ...) started on loopback."""
