"""The XML Experiment record's namespace: what every stage that reads or writes a record shares."""

NAMESPACE = "https://data.nist.gov/od/dm/nexus/experiment/v1.0"
"""The namespace of the Nexus Experiment schema that records are written in."""
