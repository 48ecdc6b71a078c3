"""OTLP/HTTP export: events as log records and commits as traces, encoded by hand (protobuf or JSON), sent
with a durable cursor so each reaches the collector once."""
