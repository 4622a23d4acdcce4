"""Stable Celery task names: the only link between the receiver and the workers."""

HANDLE_EVENT = "bbrelay.handle_event"
QUEUE = "bbrelay"  # events and jobs: build statuses and pipeline triggers go first
BACKGROUND_QUEUE = "bbrelay.background"  # team sync: never ahead of a status
QUEUES = (QUEUE, BACKGROUND_QUEUE)
FOLLOW_PIPELINE = "bbrelay.follow_pipeline"
POST_STATUS = "bbrelay.post_status"
JOB_TIMEOUT = "bbrelay.job_timeout"
START_JOB = "bbrelay.start_job"
SYNC_TEAMS = "bbrelay.sync_teams"
SYNC_WORKSPACE = "bbrelay.sync_workspace"
DELIVER_TEAM_DIFFS = "bbrelay.deliver_team_diffs"
RECONCILE = "bbrelay.reconcile"
INVENTORY = "bbrelay.inventory"
DELIVER_INVENTORY = "bbrelay.deliver_inventory"

# Celery's `task_routes`: a task not named here goes to QUEUE (`task_default_queue`).
BACKGROUND_TASKS = (
    SYNC_TEAMS,
    SYNC_WORKSPACE,
    DELIVER_TEAM_DIFFS,
    RECONCILE,
    INVENTORY,
    DELIVER_INVENTORY,
)
ROUTES = {name: {"queue": BACKGROUND_QUEUE} for name in BACKGROUND_TASKS}
