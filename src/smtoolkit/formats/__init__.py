"""Data formats of the platform: RecordIO framing, the RecordIO-protobuf Record message."""
