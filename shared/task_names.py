"""Stable Celery task names: the only link between the receiver and the workers."""

HANDLE_EVENT = "bbrelay.handle_event"
QUEUE = "bbrelay"
FOLLOW_PIPELINE = "bbrelay.follow_pipeline"
POST_STATUS = "bbrelay.post_status"
JOB_TIMEOUT = "bbrelay.job_timeout"
START_JOB = "bbrelay.start_job"
