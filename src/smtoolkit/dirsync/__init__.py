"""Folders mirrored to a local directory or an S3 prefix while a job runs: checkpoints (the platform's
CheckpointConfig, played by local jobs) and intermediate output (the `sagemaker_s3_output` convention)."""
