/*
 * model_view: the JSON views of the model (model.h "Snapshots"): the
 * /api documents, the SSE stream's payloads and the Sync items, written into a
 * json_gen from the model's records (model_internal.h). It reads the model
 * and never changes it.
 */

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "date.h"
#include "hmap.h"
#include "json.h"
#include "model.h"
#include "model_internal.h"
#include "tz.h"
#include "xmalloc.h"

static void
model_gen_iso(struct json_gen *g, const char *key, int64_t ms)
{
	char iso[DATE_ISO_LEN];

	if (ms < 0) {
		json_gen_kv_null(g, key);
		return;
	}
	date_format_iso(ms, iso);
	json_gen_kv_string(g, key, iso);
}

static void
model_gen_sid(struct json_gen *g, const char *key, const char *sid)
{
	if (sid == NULL || sid[0] == '\0')
		json_gen_kv_null(g, key);
	else
		json_gen_kv_string(g, key, sid);
}

/* Embeds stored JSON text (attributes) as a value; null when absent or invalid. */
static void
model_gen_raw(struct json_gen *g, const char *key, const char *text)
{
	json_gen_key(g, key);
	if (text == NULL || json_gen_raw(g, text, strlen(text)) != 0)
		json_gen_null(g);
}

static const char *
model_worker_name(const struct model *m, const char *worker_sid)
{
	const struct model_worker *w = hmap_get(m->workers, worker_sid);

	return w != NULL ? w->name : NULL;
}

/* The reservation that says who works the task: accepted/wrapping first, else pending. */
static const struct model_res *
model_task_main_res(const struct model_task *t)
{
	const struct model_res *best = NULL;

	for (const struct model_res *r = t->res; r != NULL; r = r->task_next) {
		if (best == NULL || model_res_rank(r->status) > model_res_rank(best->status))
			best = r;
	}
	return best;
}

/*
 * A task; only_worker (NULL: none): as that worker may see it; brief: only
 * what the dashboard shows of it (model_task_brief_json).
 */
static void
model_gen_task_as(const struct model *m, const struct model_task *t, struct json_gen *g,
		  int64_t now, const char *only_worker, bool brief)
{
	const struct model_res *main_res = model_task_main_res(t);

	/* A worker's view: nothing about other workers' reservations. */
	if (only_worker != NULL && main_res != NULL &&
	    strcmp(main_res->worker_sid, only_worker) != 0)
		main_res = NULL;
	const struct model_queue *q = hmap_get(m->queues, t->queue_sid);

	json_gen_object_open(g);
	json_gen_kv_string(g, "sid", t->sid);
	json_gen_kv_string(g, "status", task_status_name(t->status));
	json_gen_kv_int(g, "priority", t->priority);
	if (!brief)
		model_gen_sid(g, "queueSid", t->queue_sid);
	json_gen_kv_string(g, "queueName", q != NULL ? q->name : NULL);
	if (!brief) {
		void *timeout = t->workflow_sid[0] != '\0'
					? hmap_get(m->workflow_timeouts, t->workflow_sid)
					: NULL;

		model_gen_sid(g, "workflowSid", t->workflow_sid);
		if (timeout != NULL)
			json_gen_kv_int(g, "reservationTimeoutS", (int64_t)(intptr_t)timeout);
		else
			json_gen_kv_null(g, "reservationTimeoutS");
	}
	json_gen_kv_string(g, "channel", t->channel);
	if (!brief)
		model_gen_iso(g, "dateCreated", t->created_ms);
	if (t->created_ms >= 0 && now >= t->created_ms)
		json_gen_kv_int(g, "ageS", (now - t->created_ms) / 1000);
	else
		json_gen_kv_null(g, "ageS");
	if (!brief)
		model_gen_iso(g, "queueEnteredAt", t->queue_entered_ms);
	model_gen_sid(g, "conferenceSid", t->conference_sid);
	if (!brief)
		model_gen_sid(g, "workerSid", main_res != NULL ? main_res->worker_sid : NULL);
	json_gen_kv_string(g, "workerName",
			   main_res != NULL ? model_worker_name(m, main_res->worker_sid) : NULL);
	if (!brief) {
		json_gen_key(g, "reservations");
		json_gen_array_open(g);
		for (const struct model_res *r = t->res; r != NULL; r = r->task_next) {
			if (only_worker != NULL && strcmp(r->worker_sid, only_worker) != 0)
				continue;
			json_gen_object_open(g);
			json_gen_kv_string(g, "sid", r->sid);
			model_gen_sid(g, "workerSid", r->worker_sid);
			json_gen_kv_string(g, "workerName", model_worker_name(m, r->worker_sid));
			json_gen_kv_string(g, "status", model_res_status_name(r->status));
			json_gen_object_close(g);
		}
		json_gen_array_close(g);
	}
	model_gen_raw(g, "attributes", t->attributes);
	json_gen_kv_string(g, "recordingUrl", model_task_recording_url(m, t->sid));
	json_gen_object_close(g);
}

static void
model_gen_task(const struct model *m, const struct model_task *t, struct json_gen *g, int64_t now,
	       const char *only_worker)
{
	model_gen_task_as(m, t, g, now, only_worker, false);
}

void
model_tasks_json(const struct model *m, struct json_gen *g)
{
	int64_t now = model_now(m);
	void *v = NULL;
	size_t pos = 0;

	json_gen_array_open(g);
	while (hmap_next(m->tasks, &pos, NULL, &v))
		model_gen_task(m, v, g, now, NULL);
	json_gen_array_close(g);
}

void
model_task_json(const struct model *m, const char *sid, struct json_gen *g)
{
	const struct model_task *t = sid != NULL ? hmap_get(m->tasks, sid) : NULL;

	if (t == NULL)
		json_gen_null(g);
	else
		model_gen_task(m, t, g, model_now(m), NULL);
}

void
model_task_brief_json(const struct model *m, const char *sid, struct json_gen *g)
{
	const struct model_task *t = sid != NULL ? hmap_get(m->tasks, sid) : NULL;

	if (t == NULL)
		json_gen_null(g);
	else
		model_gen_task_as(m, t, g, model_now(m), NULL, true);
}

void
model_task_sync_json(const struct model *m, const char *sid, struct json_gen *g)
{
	const struct model_task *t = sid != NULL ? hmap_get(m->tasks, sid) : NULL;
	const struct model_res *main_res;
	struct json_doc *doc = NULL;
	const struct json_value *root = NULL;
	const char *worker = NULL;

	if (t == NULL) {
		json_gen_null(g);
		return;
	}
	main_res = model_task_main_res(t);
	if (main_res != NULL)
		worker = model_worker_name(m, main_res->worker_sid);
	json_gen_object_open(g);
	json_gen_kv_string(g, "TaskSid", t->sid);
	json_gen_kv_int(g, "Priority", t->priority);
	if (t->attributes != NULL &&
	    json_parse(t->attributes, strlen(t->attributes), NULL, &doc, NULL) == 0)
		root = json_doc_root(doc);
	for (size_t i = 0; json_is_object(root) && i < json_object_len(root); i++) {
		const char *k = json_object_key(root, i);

		if (strcmp(k, "TaskSid") == 0 || strcmp(k, "Priority") == 0 ||
		    strcmp(k, "WorkerName") == 0 || strcmp(k, "TaskStatus") == 0)
			continue;
		json_gen_key(g, k);
		json_gen_value(g, json_object_at(root, i));
	}
	json_doc_free(doc);
	json_gen_kv_string(g, "WorkerName", worker != NULL ? worker : "");
	json_gen_kv_string(g, "TaskStatus", task_status_name(t->status));
	json_gen_object_close(g);
}

/* A worker; brief: only what the dashboard shows of it (model_worker_brief_json). */
static void
model_gen_worker(const struct model *m, struct model_worker *w, struct json_gen *g, int64_t now,
		 int64_t today, bool brief)
{
	struct model_counters zero = { 0 };
	const struct model_counters *c = w->day.day_start_ms == today ? &w->day : &zero;
	const struct model_activity *a = hmap_get(m->activities, w->activity_sid);

	json_gen_object_open(g);
	json_gen_kv_string(g, "sid", w->sid);
	json_gen_kv_string(g, "friendlyName", w->name);
	if (!brief)
		model_gen_sid(g, "activitySid", w->activity_sid);
	json_gen_kv_string(g, "activityName", w->activity_name);
	json_gen_kv_bool(g, "available", a != NULL ? a->available : w->available);
	if (!brief)
		model_gen_iso(g, "activitySince", w->activity_since_ms);
	if (w->activity_since_ms >= 0 && now >= w->activity_since_ms)
		json_gen_kv_int(g, "timeInActivityS", (now - w->activity_since_ms) / 1000);
	else
		json_gen_kv_null(g, "timeInActivityS");
	json_gen_key(g, "reservations");
	json_gen_array_open(g);
	for (const struct model_res *r = w->res; r != NULL; r = r->wnext) {
		json_gen_object_open(g);
		if (!brief)
			json_gen_kv_string(g, "sid", r->sid);
		json_gen_kv_string(g, "taskSid", r->task->sid);
		json_gen_kv_string(g, "status", model_res_status_name(r->status));
		json_gen_object_close(g);
	}
	json_gen_array_close(g);
	json_gen_key(g, "today");
	json_gen_object_open(g);
	if (!brief) {
		json_gen_kv_int(g, "offered", c->offered);
		json_gen_kv_int(g, "accepted", c->accepted);
	}
	json_gen_kv_int(g, "rejected", c->rejected);
	json_gen_kv_int(g, "timedOut", c->timed_out);
	json_gen_kv_int(g, "handled", c->handled);
	if (c->handle_samples > 0)
		json_gen_kv_double(g, "avgHandleTimeS",
				   (double)c->handle_ms_total / c->handle_samples / 1000.0);
	else
		json_gen_kv_null(g, "avgHandleTimeS");
	json_gen_object_close(g);
	if (!brief)
		model_gen_raw(g, "attributes", w->attributes);
	json_gen_object_close(g);
}

void
model_workers_json(const struct model *m, struct json_gen *g)
{
	int64_t now = model_now(m);
	int64_t today = tz_day_start_ms(m->zone, m->day_start_minutes, now);
	void *v = NULL;
	size_t pos = 0;

	json_gen_array_open(g);
	while (hmap_next(m->workers, &pos, NULL, &v))
		model_gen_worker(m, v, g, now, today, false);
	json_gen_array_close(g);
}

/* One worker's JSON (null when unknown), in full or brief; the clock read once. */
static void
model_worker_json_as(const struct model *m, const char *sid, struct json_gen *g, bool brief)
{
	struct model_worker *w = sid != NULL ? hmap_get(m->workers, sid) : NULL;
	int64_t now;

	if (w == NULL) {
		json_gen_null(g);
		return;
	}
	now = model_now(m);
	model_gen_worker(m, w, g, now, tz_day_start_ms(m->zone, m->day_start_minutes, now), brief);
}

void
model_worker_json(const struct model *m, const char *sid, struct json_gen *g)
{
	model_worker_json_as(m, sid, g, false);
}

void
model_worker_brief_json(const struct model *m, const char *sid, struct json_gen *g)
{
	model_worker_json_as(m, sid, g, true);
}

void
model_queues_json(const struct model *m, struct json_gen *g)
{
	void *v = NULL;
	size_t pos = 0;

	json_gen_array_open(g);
	while (hmap_next(m->queues, &pos, NULL, &v)) {
		const struct model_queue *q = v;
		uint32_t total = 0;

		json_gen_object_open(g);
		json_gen_kv_string(g, "sid", q->sid);
		json_gen_kv_string(g, "friendlyName", q->name);
		json_gen_kv_string(g, "targetWorkers", q->target_workers);
		json_gen_key(g, "tasks");
		json_gen_object_open(g);
		for (int s = TASK_STATUS_PENDING; s <= TASK_STATUS_WRAPPING; s++) {
			json_gen_kv_int(g, task_status_name(s), q->tasks[s]);
			total += q->tasks[s];
		}
		json_gen_object_close(g);
		json_gen_kv_int(g, "totalTasks", total);
		json_gen_object_close(g);
	}
	json_gen_array_close(g);
}

void
model_activities_json(const struct model *m, struct json_gen *g)
{
	struct hmap *counts = hmap_new();
	size_t *n = NULL;
	void *v = NULL;
	size_t pos = 0;
	size_t i = 0;

	/* Workers per activity: one pass over the workers, not one per activity. */
	n = xcalloc(hmap_count(m->activities) + 1, sizeof(*n));
	while (hmap_next(m->activities, &pos, NULL, &v))
		(void)hmap_put(counts, ((struct model_activity *)v)->sid, &n[i++]);
	pos = 0;
	while (hmap_next(m->workers, &pos, NULL, &v)) {
		size_t *c = hmap_get(counts, ((struct model_worker *)v)->activity_sid);

		if (c != NULL)
			(*c)++;
	}
	json_gen_array_open(g);
	pos = 0;
	while (hmap_next(m->activities, &pos, NULL, &v)) {
		const struct model_activity *a = v;

		json_gen_object_open(g);
		json_gen_kv_string(g, "sid", a->sid);
		json_gen_kv_string(g, "friendlyName", a->name);
		json_gen_kv_bool(g, "available", a->available);
		json_gen_kv_int(g, "workers", (int64_t) * (size_t *)hmap_get(counts, a->sid));
		json_gen_object_close(g);
	}
	json_gen_array_close(g);
	hmap_free(counts);
	free(n);
}

void
model_workspace_json(const struct model *m, struct json_gen *g)
{
	json_gen_object_open(g);
	model_gen_sid(g, "sid", m->workspace_sid);
	json_gen_kv_string(g, "friendlyName", m->workspace_name);
	model_gen_sid(g, "defaultActivitySid", m->default_activity_sid);
	model_gen_sid(g, "timeoutActivitySid", m->timeout_activity_sid);
	json_gen_kv_bool(g, "built", m->built);
	json_gen_kv_int(g, "tasks", (int64_t)hmap_count(m->tasks));
	json_gen_kv_int(g, "workers", (int64_t)hmap_count(m->workers));
	json_gen_key(g, "activities");
	model_activities_json(m, g);
	json_gen_object_close(g);
}

/* Fields of an event that the browser stream carries (attributes stay out: size). */
static bool
model_event_field_shown(const char *key)
{
	static const char *const shown[] = {
		"EventType",
		"EventDescription",
		"ResourceType",
		"ResourceSid",
		"TimestampMs",
		"Sid",
		"TaskSid",
		"TaskAssignmentStatus",
		"TaskPriority",
		"TaskAge",
		"TaskCanceledReason",
		"TaskCompletedReason",
		"TaskQueueSid",
		"TaskQueueName",
		"WorkflowSid",
		"WorkflowName",
		"ReservationSid",
		"WorkerSid",
		"WorkerName",
		"WorkerActivitySid",
		"WorkerActivityName",
		"WorkerPreviousActivityName",
		"ActivitySid",
		"ActivityName",
	};

	for (size_t i = 0; i < sizeof(shown) / sizeof(shown[0]); i++) {
		if (strcmp(key, shown[i]) == 0)
			return true;
	}
	return false;
}

/*
 * The fields of an event in a dashboard's batch (model_event_brief_json):
 * what its ticker shows, how its store knows an event (Sid, seq), and its
 * task.
 */
static bool
model_event_field_brief(const char *key)
{
	static const char *const brief[] = {
		"EventType", "EventDescription", "TimestampMs", "Sid",
		"TaskSid",   "TaskQueueName",	 "WorkerName",
	};

	for (size_t i = 0; i < sizeof(brief) / sizeof(brief[0]); i++) {
		if (strcmp(key, brief[i]) == 0)
			return true;
	}
	return false;
}

enum model_fields { MODEL_FIELDS_ALL, MODEL_FIELDS_SHOWN, MODEL_FIELDS_BRIEF };

/* Writes the event's fields: all, the shown ones or the brief ones. First of a repeated key wins.
 */
static void
model_gen_fields(const struct model_event *e, struct json_gen *g, enum model_fields which)
{
	const char *p = e->fields;

	for (size_t i = 0; i < e->nfields; i++) {
		const char *k = p;
		const char *v = k + strlen(k) + 1;
		bool dup = false;

		p = v + strlen(v) + 1;
		if ((which == MODEL_FIELDS_SHOWN && !model_event_field_shown(k)) ||
		    (which == MODEL_FIELDS_BRIEF && !model_event_field_brief(k)))
			continue;
		for (const char *q = e->fields; q < k;) {
			const char *qv = q + strlen(q) + 1;

			if (strcmp(q, k) == 0) {
				dup = true;
				break;
			}
			q = qv + strlen(qv) + 1;
		}
		if (!dup)
			json_gen_kv_string(g, k, v);
	}
}

bool
model_event_json(const struct model *m, uint64_t seq, struct json_gen *g)
{
	const struct model_event *e = model_ring_get(m, seq);

	if (e == NULL)
		return false;
	json_gen_object_open(g);
	json_gen_kv_int(g, "seq", (int64_t)seq);
	model_gen_fields(e, g, MODEL_FIELDS_SHOWN);
	json_gen_object_close(g);
	return true;
}

bool
model_event_brief_json(const struct model *m, uint64_t seq, struct json_gen *g)
{
	const struct model_event *e = model_ring_get(m, seq);

	if (e == NULL)
		return false;
	json_gen_object_open(g);
	json_gen_kv_int(g, "seq", (int64_t)seq);
	model_gen_fields(e, g, MODEL_FIELDS_BRIEF);
	json_gen_object_close(g);
	return true;
}

bool
model_last_event_fields_json(const struct model *m, struct json_gen *g)
{
	const struct model_event *e = model_ring_get(m, m->next_seq - 1);

	if (e == NULL)
		return false;
	json_gen_object_open(g);
	model_gen_fields(e, g, MODEL_FIELDS_ALL);
	json_gen_object_close(g);
	return true;
}

void
model_task_json_for(const struct model *m, const char *sid, const char *worker_sid,
		    struct json_gen *g)
{
	const struct model_task *t = sid != NULL ? hmap_get(m->tasks, sid) : NULL;

	if (t == NULL)
		json_gen_null(g);
	else
		model_gen_task(m, t, g, model_now(m), worker_sid);
}

void
model_worker_tasks_json(const struct model *m, const char *worker_sid, struct json_gen *g)
{
	const struct model_worker *w = worker_sid != NULL ? hmap_get(m->workers, worker_sid) : NULL;
	int64_t now = model_now(m);

	json_gen_array_open(g);
	for (const struct model_res *r = w != NULL ? w->res : NULL; r != NULL; r = r->wnext) {
		bool seen = false;

		/* One entry per task, even with two reservations on it. */
		for (const struct model_res *q = w->res; q != r; q = q->wnext)
			seen = seen || q->task == r->task;
		if (!seen && r->task != NULL)
			model_gen_task(m, r->task, g, now, worker_sid);
	}
	json_gen_array_close(g);
}
