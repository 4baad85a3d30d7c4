"""Record stage: build a session's XML Experiment record, validate it, index it for the web."""
