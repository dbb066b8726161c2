#pragma once

/*
 * model: trhubd's live picture of the workspace, built from Twilio at start
 * (rebuild.c) and kept current by event callbacks (parsed once by the
 * event ingest, events.c, into struct tr_event). It owns tasks, their
 * reservations, workers, activities, queues, conferences seen in task
 * attributes, per-agent counters for the current day, recording URLs and a
 * bounded ring of recent events. (The statistics document is stats.c's.)
 *
 * Ordering: callbacks can arrive duplicated and out of order. Each resource
 * remembers the TimestampMs and version (TaskVersion, WorkerVersion,
 * ReservationVersion) of the last event applied to it; an event that is not
 * newer is a duplicate or stale and changes nothing (MODEL_STALE_EVENT). A
 * terminal task state (completed, canceled, deleted) is never undone by an
 * older event.
 *
 * Listeners: every applied change is reported once, synchronously, to the
 * registered listener (daemon.c wires it to stream, stats and syncpub). The
 * listener must not call model_apply re-entrantly.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct model;
struct tr_event;
struct json_gen;

enum model_outcome {
	MODEL_APPLIED = 0,
	MODEL_STALE_EVENT = 1, /* duplicate or older than what is known: nothing changed */
	MODEL_IGNORED = 2,     /* event type trhub does not track */
};

enum model_change_kind {
	MODEL_CHANGE_TASK,	/* task added or changed; sid = WT */
	MODEL_CHANGE_TASK_GONE, /* task finished or deleted: removed from the open set */
	MODEL_CHANGE_WORKER,	/* sid = WK */
	MODEL_CHANGE_WORKER_GONE,
	MODEL_CHANGE_RESERVATION, /* sid = WR */
	MODEL_CHANGE_QUEUE,	  /* sid = WQ */
	MODEL_CHANGE_ACTIVITY,	  /* sid = WA */
	MODEL_CHANGE_WORKSPACE,
	MODEL_CHANGE_EVENT, /* an event was added to the ring; seq = its id */
};

struct model_change {
	enum model_change_kind kind;
	const char *sid; /* borrowed for the call */
	uint64_t seq;	 /* MODEL_CHANGE_EVENT: ring sequence number */
};

typedef void model_listener_cb(const struct model_change *change, void *arg);

struct model_options {
	size_t event_ring_size;		    /* recent events kept (default 1024) */
	int64_t (*now_ms)(void *clock_arg); /* wall clock, injectable for tests; NULL = real */
	void *clock_arg;
	int day_start_minutes; /* local minutes after midnight when "today" starts */
	const char *timezone;  /* for the day boundary; NULL = UTC */
	/*
	 * Zone files directory (daemon.c passes $TZDIR via config_env); NULL =
	 * /usr/share/zoneinfo. A zone that cannot be loaded falls back to UTC
	 * with a warning (config validated it already).
	 */
	const char *zoneinfo_dir;
	size_t recordings_max; /* recording URLs kept, oldest task evicted (default 4096) */
};

struct model *model_new(const struct model_options *options);
void model_free(struct model *m);
void model_set_listener(struct model *m, model_listener_cb *cb, void *arg);

/*
 * Applies one TaskRouter event callback, parsed and validated by the event
 * ingest (tr_event.h); event is borrowed for the call. Returns
 * MODEL_APPLIED, MODEL_STALE_EVENT or MODEL_IGNORED.
 */
int model_apply_event(struct model *m, const struct tr_event *event);

/*
 * REST records for the rebuild, as rebuild.c reads them from Twilio's list
 * JSON (rebuild_read_*): strings are borrowed for the upsert call and NULL
 * when absent; times are Unix ms, -1 when absent; a bool that may be
 * absent is an int, -1 when absent.
 */
struct model_rest_workspace {
	const char *sid;
	const char *friendly_name;
	const char *default_activity_sid;
	const char *timeout_activity_sid;
};

struct model_rest_activity {
	const char *sid;
	const char *friendly_name;
	int available;
};

struct model_rest_queue {
	const char *sid;
	const char *friendly_name;
	const char *target_workers;
};

/* A workflow (GET Workflows): its task_reservation_timeout, 0 when absent. */
struct model_rest_workflow {
	const char *sid;
	int64_t task_reservation_timeout;
};

struct model_rest_worker {
	const char *sid;
	const char *friendly_name;
	const char *attributes;
	const char *activity_sid;
	const char *activity_name;
	int64_t updated_ms;
	int64_t status_changed_ms;
	int available;
};

struct model_rest_task {
	const char *sid;
	const char *assignment_status;
	const char *queue_sid;
	const char *queue_name;
	const char *workflow_sid;
	const char *channel;
	const char *attributes;
	int64_t created_ms;
	int64_t updated_ms;
	int64_t queue_entered_ms;
	bool has_priority;
	int64_t priority;
};

struct model_rest_reservation {
	const char *sid;
	const char *task_sid;
	const char *worker_sid;
	const char *worker_name;
	const char *status; /* reservation_status */
	int64_t created_ms;
	int64_t updated_ms;
};

/*
 * Rebuild from the REST API: begin marks every resource unseen; each upsert
 * (one REST record) marks it seen; end removes what was not seen (reported
 * as *_GONE) and reports changes. Used at start and by periodic
 * reconciliation; an upsert never overrides state newer than the REST
 * snapshot (events applied since the fetch began win). An upsert returns 0,
 * or -EINVAL for a record without a valid SID or status (nothing changes).
 */
void model_rebuild_begin(struct model *m);
int model_upsert_workspace(struct model *m, const struct model_rest_workspace *workspace);
int model_upsert_activity(struct model *m, const struct model_rest_activity *activity);
int model_upsert_queue(struct model *m, const struct model_rest_queue *queue);
/* Its task_reservation_timeout becomes the "reservationTimeoutS" of its tasks (the agent page's
 * countdown). */
int model_upsert_workflow(struct model *m, const struct model_rest_workflow *workflow);
int model_upsert_worker(struct model *m, const struct model_rest_worker *worker);
int model_upsert_task(struct model *m, const struct model_rest_task *task);
int model_upsert_reservation(struct model *m, const struct model_rest_reservation *reservation);
void model_rebuild_end(struct model *m);
/* Ends a rebuild that failed part-way: nothing is swept, upserts so far stay. */
void model_rebuild_abort(struct model *m);
bool model_is_built(const struct model *m);

/*
 * A recording callback: url (RecordingUrl) is the task's recording, shown
 * as recordingUrl in the task views. Kept by TaskSid whether or not the
 * task is open (recordings often arrive after the task completed), at most
 * recordings_max of them. An open task is reported as MODEL_CHANGE_TASK.
 * Returns MODEL_APPLIED, or MODEL_STALE_EVENT for the URL already stored.
 */
int model_set_recording(struct model *m, const char *task_sid, const char *url);
/* The recording URL of a task (owned by the model, valid until the next change), or NULL. */
const char *model_task_recording_url(const struct model *m, const char *task_sid);

/* Counts */
size_t model_task_count(const struct model *m);
size_t model_worker_count(const struct model *m);
size_t model_reservation_count(const struct model *m);

/*
 * Lookups for route checks (O(1) hash lookups). Returned strings are owned by
 * the model and valid until the next model_apply_event / upsert / rebuild
 * call; NULL means absent.
 */
const char *model_workspace_sid(const struct model *m);
/* The worker with this friendly_name (users file names), or NULL. */
const char *model_worker_sid_by_name(const struct model *m, const char *friendly_name);
/* "pending", "reserved", "assigned" or "wrapping" for an open task, else NULL. */
const char *model_task_status(const struct model *m, const char *task_sid);
/*
 * Iterates the tasks (pos 0 to start): SID, status name and the time of the
 * last change applied to it (ms since the epoch, TaskRouter's clock). The
 * model must not change during the walk.
 */
bool model_task_next(const struct model *m, size_t *pos, const char **sid_out,
		     const char **status_out, int64_t *changed_ms_out);
/* The task's conference (attributes.conference.sid), or NULL. */
const char *model_task_conference_sid(const struct model *m, const char *task_sid);
/* The open task whose attributes name this conference, or NULL. */
const char *model_conference_task_sid(const struct model *m, const char *conference_sid);
/* The task of an open reservation, or NULL. */
const char *model_reservation_task_sid(const struct model *m, const char *reservation_sid);
/* True when the open reservation belongs to this worker. */
bool model_worker_has_reservation(const struct model *m, const char *worker_sid,
				  const char *reservation_sid);
/*
 * A worker's availability, activity SID and one pending reservation (or
 * NULL); strings owned by the model. -ENOENT for an unknown worker.
 */
int model_worker_state(const struct model *m, const char *worker_sid, bool *available_out,
		       const char **activity_sid_out, const char **pending_res_out);
/* False for an unknown activity; else its availability in *available_out. */
bool model_activity_is_available(const struct model *m, const char *activity_sid,
				 bool *available_out);
/* True when the worker holds an open (pending, accepted, wrapping) reservation on the task. */
bool model_worker_on_task(const struct model *m, const char *worker_sid, const char *task_sid);
/* The queue's friendly name, or NULL when the queue is unknown. */
const char *model_queue_name(const struct model *m, const char *queue_sid);
/*
 * Iterates activities (order unspecified): start with *pos = 0; false at the
 * end. Strings are owned by the model. The model must not change meanwhile.
 */
bool model_activity_next(const struct model *m, size_t *pos, const char **sid_out,
			 const char **name_out);

/*
 * Snapshots for /api/... and SSE (JSON written into g; field names documented in trhubd(8)).
 * Objects are listed in no particular order. Keys:
 *  task: sid, status, priority, queueSid, queueName, workflowSid, channel,
 *        dateCreated, ageS, queueEnteredAt, conferenceSid, workerSid,
 *        workerName, reservations [{sid, workerSid, workerName, status}],
 *        attributes (the task attributes as an object, or null),
 *        recordingUrl (from the recording callback, or null)
 *  worker: sid, friendlyName, activitySid, activityName, available,
 *        activitySince, timeInActivityS, reservations [{sid, taskSid,
 *        status}], today {offered, accepted, rejected, timedOut, handled,
 *        avgHandleTimeS}, attributes
 *  queue: sid, friendlyName, targetWorkers, tasks {pending, reserved,
 *        assigned, wrapping}, totalTasks
 *  activity: sid, friendlyName, available, workers
 *  workspace: sid, friendlyName, defaultActivitySid, timeoutActivitySid,
 *        built, tasks, workers, activities [activity...]
 *  event: seq plus the event's summary form fields (EventType, TaskSid, ...;
 *        attributes left out) as strings
 * Dates are ISO-8601 UTC; the "today" counters belong to the operational
 * day (day_start in timezone) and read zero once a new day has begun.
 */
void model_tasks_json(const struct model *m, struct json_gen *g);
/* The open tasks on which this worker holds an open reservation (an array), as it may see them. */
void model_worker_tasks_json(const struct model *m, const char *worker_sid, struct json_gen *g);
/* A field of ring event seq ("WorkerSid"), or NULL (owned by the model, valid until it changes). */
const char *model_event_field(const struct model *m, uint64_t seq, const char *key);
void model_task_json(const struct model *m, const char *sid, struct json_gen *g);
/*
 * The same task with only what the dashboard shows of it (sid, status,
 * priority, queueName, channel, ageS, conferenceSid, workerName, attributes,
 * recordingUrl): its item in a batch (stream.h).
 */
void model_task_brief_json(const struct model *m, const char *sid, struct json_gen *g);
/*
 * The seed dashboard's SyncTaskRouterTasks item for a task: TaskSid,
 * Priority, the task attributes' top-level keys, WorkerName ("" when none)
 * and TaskStatus. JSON null when the task is not open.
 */
void model_task_sync_json(const struct model *m, const char *sid, struct json_gen *g);
void model_workers_json(const struct model *m, struct json_gen *g);
void model_worker_json(const struct model *m, const char *sid, struct json_gen *g);
/*
 * The same worker with only what the dashboard shows of it (no activitySid,
 * activitySince, attributes, reservation sids, offered and accepted
 * counts): its item in a batch (stream.h).
 */
void model_worker_brief_json(const struct model *m, const char *sid, struct json_gen *g);
/*
 * model_task_json as one worker may see it: only its own reservations, and
 * workerSid/workerName null unless the task is assigned to it.
 */
void model_task_json_for(const struct model *m, const char *sid, const char *worker_sid,
			 struct json_gen *g);
/* The distinct workers holding open reservations on the task (at most max, into out). */
size_t model_task_workers(const struct model *m, const char *task_sid, const char **out,
			  size_t max);
/* The worker of an open reservation, or NULL. */
const char *model_reservation_worker_sid(const struct model *m, const char *reservation_sid);
/* True when the model knows this worker. */
bool model_worker_json_exists(const struct model *m, const char *sid);
void model_queues_json(const struct model *m, struct json_gen *g);
void model_activities_json(const struct model *m, struct json_gen *g);
void model_workspace_json(const struct model *m, struct json_gen *g);
/* The event with this ring sequence number as JSON, or false when it left the ring. */
bool model_event_json(const struct model *m, uint64_t seq, struct json_gen *g);
/*
 * The same event with only what the dashboard shows of it (seq, Sid,
 * EventType, EventDescription, TimestampMs, TaskSid, TaskQueueName,
 * WorkerName): its item in a batch (stream.h). False when it left the ring.
 */
bool model_event_brief_json(const struct model *m, uint64_t seq, struct json_gen *g);
/* Oldest and newest sequence numbers in the ring (0, 0 when empty). */
void model_event_range(const struct model *m, uint64_t *oldest_out, uint64_t *newest_out);
/* The latest event's form fields as a JSON object (SyncTaskRouterEvents), false when none. */
bool model_last_event_fields_json(const struct model *m, struct json_gen *g);
