"""Watching the builder: doctor (preflight checks), alerts, metrics and the support bundle."""
