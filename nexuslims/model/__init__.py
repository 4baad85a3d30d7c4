"""Data that crosses stages: instruments, sessions, reservations, datasets, the record's namespace.

Plain dataclasses and constants, defined once here, below every stage, so that the stages
can hand each other data without importing each other.
"""
