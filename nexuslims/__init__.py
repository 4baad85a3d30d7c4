"""nexuslims: build Experiment records from microscope sessions and their files."""

__version__ = "0.1.0"
