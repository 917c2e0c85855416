"""The request models of local jobs (CreateTrainingJob, CreateProcessingJob, CreateTransformJob) and reading them
from spec files."""
