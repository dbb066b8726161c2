/*
 * Unit tests for daemon/model.c: every event family updates the right
 * resource, duplicates and older events are stale, out-of-order delivery
 * converges, terminal states stick, rebuild mark/sweep, per-agent day
 * counters across the day boundary (injected clock), the event ring, and
 * malformed events leaving the model untouched.
 */

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "form.h"
#include "json.h"
#include "model.h"
#include "rebuild.h"
#include "tr_event.h"

#define WS1 "WS00000000000000000000000000000001"
#define WT1 "WT00000000000000000000000000000001"
#define WT2 "WT00000000000000000000000000000002"
#define WR1 "WR00000000000000000000000000000001"
#define WR2 "WR00000000000000000000000000000002"
#define WK1 "WK00000000000000000000000000000001"
#define WK2 "WK00000000000000000000000000000002"
#define WQ1 "WQ00000000000000000000000000000001"
#define WQ2 "WQ00000000000000000000000000000002"
#define WA1 "WA00000000000000000000000000000001"
#define WA2 "WA00000000000000000000000000000002"
#define WW1 "WW00000000000000000000000000000001"
#define CF1 "CF00000000000000000000000000000001"

/* 2024-05-10T12:00:00Z */
#define T0     1715342400000LL
#define DAY_MS (24LL * 3600 * 1000)

struct fixture {
	struct model *m;
	int64_t now;
	int changes[MODEL_CHANGE_EVENT + 1];
	char last_gone[40];
};

static int64_t
fake_now(void *arg)
{
	return ((struct fixture *)arg)->now;
}

static void
listener(const struct model_change *c, void *arg)
{
	struct fixture *fx = arg;

	fx->changes[c->kind]++;
	if (c->kind == MODEL_CHANGE_TASK_GONE && c->sid != NULL)
		(void)snprintf(fx->last_gone, sizeof(fx->last_gone), "%s", c->sid);
}

static int
setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));
	struct model_options o = {
		.event_ring_size = 8,
		.now_ms = fake_now,
		.day_start_minutes = 0,
		.timezone = NULL,
	};

	o.clock_arg = fx;
	fx->now = T0;
	fx->m = model_new(&o);
	model_set_listener(fx->m, listener, fx);
	*state = fx;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *fx = *state;

	model_free(fx->m);
	free(fx);
	return 0;
}

/* REST records through the rebuild's reader, as rebuild.c upserts them. */
static int
upsert_workspace(struct model *m, const struct json_value *rec)
{
	struct model_rest_workspace r;

	rebuild_read_workspace(rec, &r);
	return model_upsert_workspace(m, &r);
}

static int
upsert_activity(struct model *m, const struct json_value *rec)
{
	struct model_rest_activity r;

	rebuild_read_activity(rec, &r);
	return model_upsert_activity(m, &r);
}

static int
upsert_queue(struct model *m, const struct json_value *rec)
{
	struct model_rest_queue r;

	rebuild_read_queue(rec, &r);
	return model_upsert_queue(m, &r);
}

static int
upsert_worker(struct model *m, const struct json_value *rec)
{
	struct model_rest_worker r;

	rebuild_read_worker(rec, &r);
	return model_upsert_worker(m, &r);
}

static int
upsert_task(struct model *m, const struct json_value *rec)
{
	struct model_rest_task r;

	rebuild_read_task(rec, &r);
	return model_upsert_task(m, &r);
}

static int
upsert_reservation(struct model *m, const struct json_value *rec)
{
	struct model_rest_reservation r;

	rebuild_read_reservation(rec, &r);
	return model_upsert_reservation(m, &r);
}

/*
 * Applies an event given as key, value, ... pairs (a NULL value leaves the
 * field out; a NULL key ends the list). A macro over an array, not a
 * variadic function, so no NULL travels through "...".
 */
#define apply(fx, ...)                                           \
	apply_fields((fx), (const char *const[]){ __VA_ARGS__ }, \
		     sizeof((const char *const[]){ __VA_ARGS__ }) / sizeof(const char *))

static int
apply_fields(struct fixture *fx, const char *const *kv, size_t n)
{
	struct form *f = form_new();
	struct tr_event ev;
	const char *reason = NULL;
	int r;

	for (size_t i = 0; i + 1 < n && kv[i] != NULL; i += 2) {
		if (kv[i + 1] != NULL)
			form_add(f, kv[i], kv[i + 1]);
	}
	/* The ingest's parse first: what it refuses never reaches the model. */
	r = tr_event_parse(f, &ev, &reason);
	if (r < 0) {
		assert_non_null(reason);
	} else {
		r = model_apply_event(fx->m, &ev);
		tr_event_clear(&ev);
	}
	form_free(f);
	return r;
}

/* Parses a snapshot written by fn and returns the doc (caller frees). */
static struct json_doc *
snapshot(void (*fn)(const struct model *, struct json_gen *), const struct model *m)
{
	struct json_gen *g = json_gen_new();
	struct json_doc *doc = NULL;
	const char *text;
	size_t len = 0;

	fn(m, g);
	text = json_gen_text(g, &len);
	assert_int_equal(json_parse(text, len, NULL, &doc, NULL), 0);
	json_gen_free(g);
	return doc;
}

static struct json_doc *
task_doc(const struct model *m, const char *sid)
{
	struct json_gen *g = json_gen_new();
	struct json_doc *doc = NULL;
	const char *text;
	size_t len = 0;

	model_task_json(m, sid, g);
	text = json_gen_text(g, &len);
	assert_int_equal(json_parse(text, len, NULL, &doc, NULL), 0);
	json_gen_free(g);
	return doc;
}

static struct json_doc *
worker_doc(const struct model *m, const char *sid)
{
	struct json_gen *g = json_gen_new();
	struct json_doc *doc = NULL;
	const char *text;
	size_t len = 0;

	model_worker_json(m, sid, g);
	text = json_gen_text(g, &len);
	assert_int_equal(json_parse(text, len, NULL, &doc, NULL), 0);
	json_gen_free(g);
	return doc;
}

static int64_t
today(const struct model *m, const char *worker, const char *key)
{
	struct json_doc *doc = worker_doc(m, worker);
	int64_t n = -1;

	assert_int_equal(json_get_int64(json_get(json_doc_root(doc), "today"), key, &n), 0);
	json_doc_free(doc);
	return n;
}

static char *
ts(int64_t ms)
{
	static char buf[8][24];
	static int i;

	i = (i + 1) % 8;
	(void)snprintf(buf[i], sizeof(buf[i]), "%lld", (long long)ms);
	return buf[i];
}

static void
create_task(struct fixture *fx, const char *sid, int64_t at)
{
	assert_int_equal(apply(fx, "EventType", "task.created", "TaskSid", sid, "TimestampMs",
			       ts(at), "TaskAssignmentStatus", "pending", "TaskQueueSid", WQ1,
			       "TaskQueueName", "Support", "TaskPriority", "5", "TaskAttributes",
			       "{\"type\":\"call\"}", "WorkspaceSid", WS1, NULL),
			 MODEL_APPLIED);
}

static int
res_event(struct fixture *fx, const char *type, const char *res, const char *task,
	  const char *worker, const char *task_status, int64_t at)
{
	return apply(fx, "EventType", type, "ReservationSid", res, "TaskSid", task, "WorkerSid",
		     worker, "WorkerName", worker == NULL ? NULL : "alice", "TaskAssignmentStatus",
		     task_status, "TimestampMs", ts(at), NULL);
}

static void
test_model_task_created_adds_open_task(void **state)
{
	struct fixture *fx = *state;
	struct json_doc *doc;
	const struct json_value *t;
	int64_t prio = 0;

	create_task(fx, WT1, T0);
	assert_int_equal(model_task_count(fx->m), 1);
	assert_string_equal(model_task_status(fx->m, WT1), "pending");
	assert_string_equal(model_queue_name(fx->m, WQ1), "Support");
	assert_string_equal(model_workspace_sid(fx->m), WS1);
	assert_int_equal(fx->changes[MODEL_CHANGE_TASK], 1);
	assert_int_equal(fx->changes[MODEL_CHANGE_EVENT], 1);
	doc = task_doc(fx->m, WT1);
	t = json_doc_root(doc);
	assert_string_equal(json_string(json_get(t, "status")), "pending");
	assert_string_equal(json_string(json_get(t, "queueName")), "Support");
	assert_int_equal(json_get_int64(t, "priority", &prio), 0);
	assert_int_equal(prio, 5);
	assert_string_equal(json_string(json_path(t, "attributes", "type")), "call");
	json_doc_free(doc);
}

static void
test_model_reservation_lifecycle_moves_task_and_worker(void **state)
{
	struct fixture *fx = *state;
	struct json_doc *doc;

	create_task(fx, WT1, T0);
	assert_int_equal(res_event(fx, "reservation.created", WR1, WT1, WK1, "reserved", T0 + 10),
			 MODEL_APPLIED);
	assert_string_equal(model_task_status(fx->m, WT1), "reserved");
	assert_true(model_worker_has_reservation(fx->m, WK1, WR1));
	assert_false(model_worker_has_reservation(fx->m, WK2, WR1));
	assert_true(model_worker_on_task(fx->m, WK1, WT1));
	assert_string_equal(model_reservation_task_sid(fx->m, WR1), WT1);
	assert_string_equal(model_worker_sid_by_name(fx->m, "alice"), WK1);

	assert_int_equal(res_event(fx, "reservation.accepted", WR1, WT1, WK1, "assigned", T0 + 20),
			 MODEL_APPLIED);
	assert_string_equal(model_task_status(fx->m, WT1), "assigned");
	doc = task_doc(fx->m, WT1);
	assert_string_equal(json_string(json_get(json_doc_root(doc), "workerName")), "alice");
	json_doc_free(doc);

	assert_int_equal(apply(fx, "EventType", "task.wrapup", "TaskSid", WT1, "TimestampMs",
			       ts(T0 + 30), NULL),
			 MODEL_APPLIED);
	assert_string_equal(model_task_status(fx->m, WT1), "wrapping");
	assert_int_equal(apply(fx, "EventType", "task.completed", "TaskSid", WT1,
			       "TaskAssignmentStatus", "completed", "TimestampMs", ts(T0 + 40),
			       NULL),
			 MODEL_APPLIED);
	assert_null(model_task_status(fx->m, WT1));
	assert_int_equal(model_task_count(fx->m), 0);
	assert_int_equal(model_reservation_count(fx->m), 0);
	assert_string_equal(fx->last_gone, WT1);
	assert_int_equal(today(fx->m, WK1, "offered"), 1);
	assert_int_equal(today(fx->m, WK1, "accepted"), 1);
	assert_int_equal(today(fx->m, WK1, "handled"), 1);
}

static void
test_model_reservation_rejected_and_timeout_are_counted(void **state)
{
	struct fixture *fx = *state;

	create_task(fx, WT1, T0);
	res_event(fx, "reservation.created", WR1, WT1, WK1, "reserved", T0 + 1);
	assert_int_equal(res_event(fx, "reservation.rejected", WR1, WT1, WK1, "pending", T0 + 2),
			 MODEL_APPLIED);
	assert_string_equal(model_task_status(fx->m, WT1), "pending");
	assert_int_equal(model_reservation_count(fx->m), 0);
	res_event(fx, "reservation.created", WR2, WT1, WK1, "reserved", T0 + 3);
	res_event(fx, "reservation.timeout", WR2, WT1, WK1, "pending", T0 + 4);
	assert_int_equal(today(fx->m, WK1, "offered"), 2);
	assert_int_equal(today(fx->m, WK1, "rejected"), 1);
	assert_int_equal(today(fx->m, WK1, "timedOut"), 1);
	assert_int_equal(today(fx->m, WK1, "accepted"), 0);
}

static void
test_model_worker_activity_and_attributes(void **state)
{
	struct fixture *fx = *state;
	struct json_doc *doc;
	const struct json_value *w;
	int64_t secs = 0;

	assert_int_equal(apply(fx, "EventType", "activity.created", "ActivitySid", WA1,
			       "ActivityName", "On Break", "ActivityAvailable", "false",
			       "TimestampMs", ts(T0), NULL),
			 MODEL_APPLIED);
	assert_int_equal(apply(fx, "EventType", "worker.activity.update", "WorkerSid", WK1,
			       "WorkerName", "bob", "WorkerActivitySid", WA1, "WorkerActivityName",
			       "On Break", "WorkerAttributes", "{\"skills\":[\"en\"]}",
			       "TimestampMs", ts(T0 + 1000), NULL),
			 MODEL_APPLIED);
	fx->now = T0 + 61000;
	doc = worker_doc(fx->m, WK1);
	w = json_doc_root(doc);
	assert_string_equal(json_string(json_get(w, "activityName")), "On Break");
	assert_false(json_bool(json_get(w, "available")));
	assert_int_equal(json_get_int64(w, "timeInActivityS", &secs), 0);
	assert_int_equal(secs, 60);
	assert_string_equal(json_string(json_array_at(json_path(w, "attributes", "skills"), 0)),
			    "en");
	json_doc_free(doc);

	assert_int_equal(apply(fx, "EventType", "worker.deleted", "WorkerSid", WK1, "TimestampMs",
			       ts(T0 + 2000), NULL),
			 MODEL_APPLIED);
	assert_int_equal(model_worker_count(fx->m), 0);
	assert_null(model_worker_sid_by_name(fx->m, "bob"));
	/* A late update cannot bring a deleted worker back. */
	assert_int_equal(apply(fx, "EventType", "worker.attributes.update", "WorkerSid", WK1,
			       "TimestampMs", ts(T0 + 3000), NULL),
			 MODEL_STALE_EVENT);
	assert_int_equal(model_worker_count(fx->m), 0);
}

static void
test_model_activity_queue_workspace_events(void **state)
{
	struct fixture *fx = *state;
	struct json_doc *doc;
	size_t pos = 0;
	const char *sid = NULL;
	const char *name = NULL;

	apply(fx, "EventType", "activity.created", "ActivitySid", WA1, "ActivityName", "Available",
	      "ActivityAvailable", "true", "TimestampMs", ts(T0), NULL);
	apply(fx, "EventType", "activity.updated", "ActivitySid", WA1, "ActivityName", "Ready",
	      "TimestampMs", ts(T0 + 1), NULL);
	assert_true(model_activity_next(fx->m, &pos, &sid, &name));
	assert_string_equal(sid, WA1);
	assert_string_equal(name, "Ready");
	assert_int_equal(apply(fx, "EventType", "activity.deleted", "ActivitySid", WA1,
			       "TimestampMs", ts(T0 + 2), NULL),
			 MODEL_APPLIED);
	pos = 0;
	assert_false(model_activity_next(fx->m, &pos, &sid, &name));

	apply(fx, "EventType", "task-queue.created", "TaskQueueSid", WQ2, "TaskQueueName", "Sales",
	      "TaskQueueTargetExpression", "skills HAS \"sales\"", "TimestampMs", ts(T0), NULL);
	assert_string_equal(model_queue_name(fx->m, WQ2), "Sales");
	create_task(fx, WT1, T0 + 5);
	assert_int_equal(apply(fx, "EventType", "task-queue.moved", "TaskQueueSid", WQ2,
			       "TaskQueueName", "Sales", "TaskSid", WT1, "TimestampMs", ts(T0 + 6),
			       NULL),
			 MODEL_APPLIED);
	doc = task_doc(fx->m, WT1);
	assert_string_equal(json_string(json_get(json_doc_root(doc), "queueSid")), WQ2);
	json_doc_free(doc);
	doc = snapshot(model_queues_json, fx->m);
	for (size_t i = 0; i < json_array_len(json_doc_root(doc)); i++) {
		const struct json_value *q = json_array_at(json_doc_root(doc), i);
		int64_t pending = -1;

		assert_int_equal(json_get_int64(json_get(q, "tasks"), "pending", &pending), 0);
		assert_int_equal(pending,
				 strcmp(json_string(json_get(q, "sid")), WQ2) == 0 ? 1 : 0);
	}
	json_doc_free(doc);
	apply(fx, "EventType", "task-queue.deleted", "TaskQueueSid", WQ2, "TimestampMs", ts(T0 + 7),
	      NULL);
	assert_null(model_queue_name(fx->m, WQ2));

	assert_int_equal(apply(fx, "EventType", "workspace.updated", "WorkspaceSid", WS1,
			       "WorkspaceName", "Contact Center", "TimestampMs", ts(T0), NULL),
			 MODEL_APPLIED);
	doc = snapshot(model_workspace_json, fx->m);
	assert_string_equal(json_string(json_get(json_doc_root(doc), "friendlyName")),
			    "Contact Center");
	json_doc_free(doc);
}

static void
test_model_untracked_types_are_ignored_but_recorded(void **state)
{
	struct fixture *fx = *state;
	uint64_t oldest = 0;
	uint64_t newest = 0;

	assert_int_equal(
		apply(fx, "EventType", "task-channel.created", "TimestampMs", ts(T0), NULL),
		MODEL_IGNORED);
	assert_int_equal(apply(fx, "EventType", "workflow.updated", "WorkflowSid", WW1,
			       "TimestampMs", ts(T0), NULL),
			 MODEL_IGNORED);
	model_event_range(fx->m, &oldest, &newest);
	assert_int_equal(newest, 2);
	/* workflow events with a task update the task. */
	assert_int_equal(apply(fx, "EventType", "workflow.entered", "WorkflowSid", WW1, "TaskSid",
			       WT1, "TimestampMs", ts(T0 + 1), NULL),
			 MODEL_APPLIED);
	assert_string_equal(model_task_status(fx->m, WT1), "pending");
}

static void
test_model_duplicate_is_stale(void **state)
{
	struct fixture *fx = *state;
	uint64_t oldest = 0;
	uint64_t newest = 0;

	assert_int_equal(apply(fx, "EventType", "task.created", "TaskSid", WT1, "Sid",
			       "EV00000000000000000000000000000001", "TimestampMs", ts(T0), NULL),
			 MODEL_APPLIED);
	assert_int_equal(apply(fx, "EventType", "task.created", "TaskSid", WT1, "Sid",
			       "EV00000000000000000000000000000001", "TimestampMs", ts(T0), NULL),
			 MODEL_STALE_EVENT);
	/* Without a Sid: type, resource and timestamp identify it. */
	assert_int_equal(apply(fx, "EventType", "task.updated", "TaskSid", WT1, "ResourceSid", WT1,
			       "TimestampMs", ts(T0 + 5), NULL),
			 MODEL_APPLIED);
	assert_int_equal(apply(fx, "EventType", "task.updated", "TaskSid", WT1, "ResourceSid", WT1,
			       "TimestampMs", ts(T0 + 5), NULL),
			 MODEL_STALE_EVENT);
	model_event_range(fx->m, &oldest, &newest);
	assert_int_equal(newest, 2);
	assert_int_equal(fx->changes[MODEL_CHANGE_EVENT], 2);
}

/*
 * The tombstones (16,384) and the seen event ids (8,192) are bounded FIFOs:
 * past their size the oldest entries go, every newer one still counts, and
 * keys longer than a SID (an event without a Sid) come and go the same way.
 */
static void
test_model_tombstones_and_seen_ids_are_bounded_fifos(void **state)
{
	struct fixture *fx = *state;
	const int n = 16384 + 300;
	char sid[40];
	char evsid[40];

	for (int i = 0; i < n; i++) {
		(void)snprintf(sid, sizeof(sid), "WT%032d", i + 1000);
		(void)snprintf(evsid, sizeof(evsid), "EV%032d", i + 1000);
		assert_int_equal(apply(fx, "EventType", "task.created", "TaskSid", sid, "Sid",
				       evsid, "TaskAssignmentStatus", "pending", "TimestampMs",
				       ts(T0 + i), NULL),
				 MODEL_APPLIED);
		/* every other cancel without a Sid: its dedupe key is long */
		assert_int_equal(apply(fx, "EventType", "task.canceled", "TaskSid", sid, "Sid",
				       i % 2 == 0 ? NULL : (evsid[1] = 'X', evsid),
				       "TaskAssignmentStatus", "canceled", "TimestampMs",
				       ts(T0 + i + 1), NULL),
				 MODEL_APPLIED);
	}
	/* The newest 16,384 canceled tasks are tombstoned, the older ones forgotten. */
	for (int i = 0; i < n; i++) {
		int want = i < n - 16384 ? MODEL_APPLIED : MODEL_STALE_EVENT;

		(void)snprintf(sid, sizeof(sid), "WT%032d", i + 1000);
		if (i % 97 != 0 && i != n - 16384 && i != n - 16385 && i != n - 1)
			continue;
		assert_int_equal(apply(fx, "EventType", "task.updated", "TaskSid", sid,
				       "TaskAssignmentStatus", "pending", "TimestampMs",
				       ts(T0 + 10 * (int64_t)n + i), NULL),
				 want);
	}
	/*
	 * Of the 2n ids, the newest 8,192 are remembered: a task never seen before
	 * is refused under the id of a recent cancel and accepted under the id of
	 * an early create (both of tasks now tombstoned or forgotten, so only the
	 * id decides).
	 */
	(void)snprintf(evsid, sizeof(evsid), "EX%032d", n - 1 + 1000);
	assert_int_equal(apply(fx, "EventType", "task.created", "TaskSid", WT1, "Sid", evsid,
			       "TaskAssignmentStatus", "pending", "TimestampMs", ts(T0 + 20 * n),
			       NULL),
			 MODEL_STALE_EVENT);
	assert_null(model_task_status(fx->m, WT1));
	(void)snprintf(evsid, sizeof(evsid), "EV%032d", 1000);
	assert_int_equal(apply(fx, "EventType", "task.created", "TaskSid", WT1, "Sid", evsid,
			       "TaskAssignmentStatus", "pending", "TimestampMs", ts(T0 + 20 * n),
			       NULL),
			 MODEL_APPLIED);
	assert_string_equal(model_task_status(fx->m, WT1), "pending");
}

static void
test_model_older_event_is_stale_and_changes_nothing(void **state)
{
	struct fixture *fx = *state;

	create_task(fx, WT1, T0);
	assert_int_equal(apply(fx, "EventType", "task.updated", "TaskSid", WT1, "TaskPriority", "9",
			       "TimestampMs", ts(T0 + 100), NULL),
			 MODEL_APPLIED);
	assert_int_equal(apply(fx, "EventType", "task.updated", "TaskSid", WT1, "TaskPriority", "1",
			       "TimestampMs", ts(T0 + 50), NULL),
			 MODEL_STALE_EVENT);
	{
		struct json_doc *doc = task_doc(fx->m, WT1);
		int64_t prio = 0;

		assert_int_equal(json_get_int64(json_doc_root(doc), "priority", &prio), 0);
		assert_int_equal(prio, 9);
		json_doc_free(doc);
	}
}

static void
test_model_versions_beat_timestamps(void **state)
{
	struct fixture *fx = *state;

	assert_int_equal(apply(fx, "EventType", "task.updated", "TaskSid", WT1, "TaskVersion", "3",
			       "TaskAssignmentStatus", "reserved", "TimestampMs", ts(T0), NULL),
			 MODEL_APPLIED);
	/* Later timestamp but older version: stale. */
	assert_int_equal(apply(fx, "EventType", "task.updated", "TaskSid", WT1, "TaskVersion", "2",
			       "TaskAssignmentStatus", "pending", "TimestampMs", ts(T0 + 10), NULL),
			 MODEL_STALE_EVENT);
	/* Earlier timestamp, newer version: applied. */
	assert_int_equal(apply(fx, "EventType", "task.updated", "TaskSid", WT1, "TaskVersion", "4",
			       "TaskAssignmentStatus", "assigned", "TimestampMs", ts(T0 - 10),
			       NULL),
			 MODEL_APPLIED);
	assert_string_equal(model_task_status(fx->m, WT1), "assigned");
}

static void
test_model_accepted_before_created_converges(void **state)
{
	struct fixture *fx = *state;

	create_task(fx, WT1, T0);
	assert_int_equal(res_event(fx, "reservation.accepted", WR1, WT1, WK1, "assigned", T0 + 20),
			 MODEL_APPLIED);
	assert_int_equal(res_event(fx, "reservation.created", WR1, WT1, WK1, "reserved", T0 + 10),
			 MODEL_STALE_EVENT);
	assert_string_equal(model_task_status(fx->m, WT1), "assigned");
	assert_true(model_worker_has_reservation(fx->m, WK1, WR1));
	assert_int_equal(today(fx->m, WK1, "offered"), 1);
	assert_int_equal(today(fx->m, WK1, "accepted"), 1);
	/* Same millisecond, different event: the reservation still never moves back. */
	assert_int_equal(res_event(fx, "reservation.created", WR1, WT1, WK1, NULL, T0 + 20),
			 MODEL_APPLIED);
	{
		struct json_doc *doc = task_doc(fx->m, WT1);
		const struct json_value *r =
			json_array_at(json_get(json_doc_root(doc), "reservations"), 0);

		assert_string_equal(json_string(json_get(r, "status")), "accepted");
		json_doc_free(doc);
	}
	assert_int_equal(today(fx->m, WK1, "offered"), 1);
}

static void
test_model_reservation_before_its_task(void **state)
{
	struct fixture *fx = *state;

	/* task.created arrives after the reservation that needed it. */
	assert_int_equal(res_event(fx, "reservation.created", WR1, WT1, WK1, "reserved", T0 + 10),
			 MODEL_APPLIED);
	assert_int_equal(apply(fx, "EventType", "task.created", "TaskSid", WT1,
			       "TaskAssignmentStatus", "pending", "TimestampMs", ts(T0), NULL),
			 MODEL_STALE_EVENT);
	assert_string_equal(model_task_status(fx->m, WT1), "reserved");
}

static void
test_model_completed_task_sticks(void **state)
{
	struct fixture *fx = *state;

	create_task(fx, WT1, T0);
	assert_int_equal(apply(fx, "EventType", "task.completed", "TaskSid", WT1, "TimestampMs",
			       ts(T0 + 100), NULL),
			 MODEL_APPLIED);
	assert_int_equal(apply(fx, "EventType", "task.updated", "TaskSid", WT1,
			       "TaskAssignmentStatus", "assigned", "TimestampMs", ts(T0 + 50),
			       NULL),
			 MODEL_STALE_EVENT);
	/* Even a newer-looking one. */
	assert_int_equal(apply(fx, "EventType", "task.updated", "TaskSid", WT1, "TimestampMs",
			       ts(T0 + 500), NULL),
			 MODEL_STALE_EVENT);
	assert_int_equal(res_event(fx, "reservation.created", WR1, WT1, WK1, "reserved", T0 + 600),
			 MODEL_APPLIED); /* the worker part still applies */
	assert_int_equal(model_task_count(fx->m), 0);
	assert_int_equal(model_reservation_count(fx->m), 0);
	/* A REST snapshot taken before completion cannot resurrect it either. */
	{
		struct json_doc *doc = NULL;
		const char *t = "{\"sid\":\"" WT1 "\",\"assignment_status\":\"pending\"}";

		assert_int_equal(json_parse(t, strlen(t), NULL, &doc, NULL), 0);
		model_rebuild_begin(fx->m);
		assert_int_equal(upsert_task(fx->m, json_doc_root(doc)), 0);
		model_rebuild_end(fx->m);
		json_doc_free(doc);
	}
	assert_int_equal(model_task_count(fx->m), 0);
}

static void
test_model_canceled_task_rejects_late_reservation(void **state)
{
	struct fixture *fx = *state;

	create_task(fx, WT1, T0);
	apply(fx, "EventType", "task.canceled", "TaskSid", WT1, "TaskCanceledReason", "hangup",
	      "TimestampMs", ts(T0 + 5), NULL);
	assert_int_equal(apply(fx, "EventType", "reservation.created", "ReservationSid", WR1,
			       "TaskSid", WT1, "TimestampMs", ts(T0 + 6), NULL),
			 MODEL_STALE_EVENT);
	assert_int_equal(model_reservation_count(fx->m), 0);
}

static struct json_doc *
parse(const char *text)
{
	struct json_doc *doc = NULL;

	assert_int_equal(json_parse(text, strlen(text), NULL, &doc, NULL), 0);
	return doc;
}

static void
rebuild_task(struct model *m, const char *sid, const char *status)
{
	const char *cf = strcmp(sid, WT1) == 0 ? CF1 : "CF00000000000000000000000000000009";

	char text[512];
	struct json_doc *doc;

	(void)snprintf(text, sizeof(text),
		       "{\"sid\":\"%s\",\"assignment_status\":\"%s\",\"priority\":\"3\","
		       "\"attributes\":\"{\\\"conference\\\":{\\\"sid\\\":\\\"%s\\\"}}\","
		       "\"task_queue_sid\":\"" WQ1 "\",\"task_queue_friendly_name\":\"Support\","
		       "\"date_created\":\"2024-05-10T11:59:00Z\","
		       "\"date_updated\":\"2024-05-10T11:59:30Z\"}",
		       sid, status, cf);
	doc = parse(text);
	assert_int_equal(upsert_task(m, json_doc_root(doc)), 0);
	json_doc_free(doc);
}

static void
test_model_rebuild_marks_and_sweeps(void **state)
{
	struct fixture *fx = *state;
	struct json_doc *doc;

	assert_false(model_is_built(fx->m));
	model_rebuild_begin(fx->m);
	rebuild_task(fx->m, WT1, "assigned");
	rebuild_task(fx->m, WT2, "pending");
	doc = parse("{\"sid\":\"" WR1 "\",\"task_sid\":\"" WT1 "\",\"worker_sid\":\"" WK1 "\","
		    "\"worker_name\":\"alice\",\"reservation_status\":\"accepted\","
		    "\"date_created\":\"2024-05-10T11:59:10Z\","
		    "\"date_updated\":\"2024-05-10T11:59:20Z\"}");
	assert_int_equal(upsert_reservation(fx->m, json_doc_root(doc)), 0);
	json_doc_free(doc);
	doc = parse("{\"sid\":\"" WK1 "\",\"friendly_name\":\"alice\",\"activity_sid\":\"" WA1
		    "\",\"activity_name\":\"Busy\",\"available\":false,\"attributes\":\"{}\","
		    "\"date_status_changed\":\"2024-05-10T11:00:00Z\"}");
	assert_int_equal(upsert_worker(fx->m, json_doc_root(doc)), 0);
	json_doc_free(doc);
	model_rebuild_end(fx->m);
	assert_true(model_is_built(fx->m));
	assert_int_equal(model_task_count(fx->m), 2);
	assert_string_equal(model_conference_task_sid(fx->m, CF1), WT1);
	assert_string_equal(model_task_conference_sid(fx->m, WT1), CF1);
	assert_true(model_worker_has_reservation(fx->m, WK1, WR1));

	/* Reconcile: WT2 finished while events were missed; an event touched WT1 meanwhile. */
	model_rebuild_begin(fx->m);
	assert_int_equal(apply(fx, "EventType", "task.wrapup", "TaskSid", WT1,
			       "TaskAssignmentStatus", "wrapping", "TimestampMs", ts(T0), NULL),
			 MODEL_APPLIED);
	rebuild_task(fx->m, WT1, "assigned"); /* older snapshot: the event wins */
	doc = parse("{\"sid\":\"" WR1 "\",\"task_sid\":\"" WT1 "\",\"worker_sid\":\"" WK1 "\","
		    "\"reservation_status\":\"accepted\"}");
	assert_int_equal(upsert_reservation(fx->m, json_doc_root(doc)), 0);
	json_doc_free(doc);
	doc = parse("{\"sid\":\"" WK1 "\",\"friendly_name\":\"alice\"}");
	assert_int_equal(upsert_worker(fx->m, json_doc_root(doc)), 0);
	json_doc_free(doc);
	fx->changes[MODEL_CHANGE_TASK_GONE] = 0;
	model_rebuild_end(fx->m);
	assert_int_equal(model_task_count(fx->m), 1);
	assert_string_equal(model_task_status(fx->m, WT1), "wrapping");
	assert_null(model_task_status(fx->m, WT2));
	assert_int_equal(fx->changes[MODEL_CHANGE_TASK_GONE], 1);
	assert_string_equal(fx->last_gone, WT2);
	assert_true(model_worker_has_reservation(fx->m, WK1, WR1));
}

static void
test_model_rebuild_abort_sweeps_nothing(void **state)
{
	struct fixture *fx = *state;

	create_task(fx, WT1, T0);
	model_rebuild_begin(fx->m);
	rebuild_task(fx->m, WT2, "pending");
	model_rebuild_abort(fx->m);
	assert_int_equal(model_task_count(fx->m), 2);
	assert_false(model_is_built(fx->m));
}

static void
test_model_rejects_malformed_upserts(void **state)
{
	struct fixture *fx = *state;
	struct json_doc *doc = parse("{\"sid\":\"nope\",\"assignment_status\":\"pending\"}");

	assert_int_equal(upsert_task(fx->m, json_doc_root(doc)), -EINVAL);
	json_doc_free(doc);
	doc = parse("{\"sid\":\"" WT1 "\",\"assignment_status\":\"sleeping\"}");
	assert_int_equal(upsert_task(fx->m, json_doc_root(doc)), -EINVAL);
	json_doc_free(doc);
	doc = parse("[1,2]");
	assert_int_equal(upsert_worker(fx->m, json_doc_root(doc)), -EINVAL);
	assert_int_equal(upsert_activity(fx->m, json_doc_root(doc)), -EINVAL);
	assert_int_equal(upsert_queue(fx->m, json_doc_root(doc)), -EINVAL);
	assert_int_equal(upsert_workspace(fx->m, json_doc_root(doc)), -EINVAL);
	assert_int_equal(upsert_reservation(fx->m, json_doc_root(doc)), -EINVAL);
	json_doc_free(doc);
	assert_int_equal(model_task_count(fx->m), 0);
}

static void
test_model_day_counters_and_handle_time(void **state)
{
	struct fixture *fx = *state;
	struct json_doc *doc;
	double aht = 0;

	create_task(fx, WT1, T0);
	res_event(fx, "reservation.created", WR1, WT1, WK1, "reserved", T0 + 1000);
	res_event(fx, "reservation.accepted", WR1, WT1, WK1, "assigned", T0 + 2000);
	res_event(fx, "reservation.completed", WR1, WT1, WK1, "wrapping", T0 + 92000);
	/* The task completing afterwards does not count the reservation again. */
	apply(fx, "EventType", "task.completed", "TaskSid", WT1, "TimestampMs", ts(T0 + 95000),
	      NULL);
	fx->now = T0 + 100000;
	assert_int_equal(today(fx->m, WK1, "handled"), 1);
	doc = worker_doc(fx->m, WK1);
	assert_int_equal(
		json_get_double(json_get(json_doc_root(doc), "today"), "avgHandleTimeS", &aht), 0);
	assert_true(aht > 89.99 && aht < 90.01);
	json_doc_free(doc);
}

static void
test_model_day_boundary_resets_counters(void **state)
{
	struct fixture *fx = *state;
	/* Midnight UTC after T0. */
	int64_t midnight = T0 + 12 * 3600 * 1000LL;

	create_task(fx, WT1, T0);
	create_task(fx, WT2, T0);
	res_event(fx, "reservation.created", WR1, WT1, WK1, "reserved", midnight - 1000);
	assert_int_equal(today(fx->m, WK1, "offered"), 1);
	/* The clock crosses midnight: yesterday's counts are not today's. */
	fx->now = midnight + 1000;
	assert_int_equal(today(fx->m, WK1, "offered"), 0);
	res_event(fx, "reservation.created", WR2, WT2, WK1, "reserved", midnight + 500);
	assert_int_equal(today(fx->m, WK1, "offered"), 1);
	/* A late event from yesterday does not touch today's counts. */
	res_event(fx, "reservation.rejected", WR1, WT1, WK1, "pending", midnight - 500);
	assert_int_equal(today(fx->m, WK1, "rejected"), 0);
	assert_int_equal(today(fx->m, WK1, "offered"), 1);
	(void)DAY_MS;
}

static void
test_model_ring_is_bounded_with_monotonic_seq(void **state)
{
	struct fixture *fx = *state;
	struct json_gen *g = json_gen_new();
	uint64_t oldest = 0;
	uint64_t newest = 0;
	const char *text;

	model_event_range(fx->m, &oldest, &newest);
	assert_int_equal(oldest, 0);
	assert_int_equal(newest, 0);
	assert_false(model_last_event_fields_json(fx->m, g));
	for (int i = 0; i < 20; i++)
		create_task(fx, WT1, T0 + i); /* later ones are updates of the same task */
	model_event_range(fx->m, &oldest, &newest);
	assert_int_equal(newest, 20);
	assert_int_equal(oldest, 13); /* ring of 8 */
	assert_false(model_event_json(fx->m, 12, g));
	assert_false(model_event_json(fx->m, 21, g));
	assert_true(model_event_json(fx->m, 13, g));
	text = json_gen_text(g, NULL);
	assert_non_null(strstr(text, "\"seq\":13"));
	assert_non_null(strstr(text, "\"EventType\":\"task.created\""));
	assert_null(strstr(text, "TaskAttributes")); /* the stream summary leaves them out */
	json_gen_reset(g);
	assert_true(model_last_event_fields_json(fx->m, g));
	text = json_gen_text(g, NULL);
	assert_non_null(strstr(text, "\"TimestampMs\":\"1715342400019\""));
	assert_non_null(strstr(text, "\"TaskAttributes\":\"{\\\"type\\\":\\\"call\\\"}\""));
	json_gen_free(g);
}

static void
test_model_malformed_events_change_nothing(void **state)
{
	struct fixture *fx = *state;
	uint64_t oldest = 0;
	uint64_t newest = 0;

	assert_int_equal(apply(fx, "TaskSid", WT1, "TimestampMs", ts(T0), NULL), -EINVAL);
	assert_int_equal(
		apply(fx, "EventType", "Task Created", "TaskSid", WT1, "TimestampMs", ts(T0), NULL),
		-EINVAL);
	assert_int_equal(apply(fx, "EventType", "task.created", "TaskSid", "WT123", "TimestampMs",
			       ts(T0), NULL),
			 -EINVAL);
	assert_int_equal(
		apply(fx, "EventType", "task.created", "TaskSid", WT1, "TimestampMs", "soon", NULL),
		-EINVAL);
	assert_int_equal(apply(fx, "EventType", "task.created", "TaskSid", WT1, NULL), -EINVAL);
	assert_int_equal(apply(fx, "EventType", "task.created", "TaskSid", WT1, "TimestampMs",
			       ts(T0), "TaskAssignmentStatus", "sleeping", NULL),
			 -EINVAL);
	assert_int_equal(apply(fx, "EventType", "task.updated", "TimestampMs", ts(T0), NULL),
			 -EINVAL);
	assert_int_equal(apply(fx, "EventType", "reservation.created", "TaskSid", WT1,
			       "TimestampMs", ts(T0), NULL),
			 -EINVAL);
	assert_int_equal(apply(fx, "EventType", "reservation.created", "ReservationSid", WR1,
			       "TaskSid", WT1, "WorkerSid", WQ1, "TimestampMs", ts(T0), NULL),
			 -EINVAL);
	assert_int_equal(apply(fx, "EventType", "task.updated", "TaskSid", WT1, "TaskPriority",
			       "high", "TimestampMs", ts(T0), NULL),
			 -EINVAL);
	assert_int_equal(model_task_count(fx->m), 0);
	assert_int_equal(model_worker_count(fx->m), 0);
	model_event_range(fx->m, &oldest, &newest);
	assert_int_equal(newest, 0);
	assert_int_equal(fx->changes[MODEL_CHANGE_EVENT], 0);
	assert_int_equal(fx->changes[MODEL_CHANGE_TASK], 0);
}

static void
test_model_timestamp_seconds_fallback(void **state)
{
	struct fixture *fx = *state;

	assert_int_equal(apply(fx, "EventType", "task.created", "TaskSid", WT1, "Timestamp",
			       "1715342400", NULL),
			 MODEL_APPLIED);
	assert_int_equal(apply(fx, "EventType", "task.updated", "TaskSid", WT1, "TimestampMs",
			       ts(T0 - 1), NULL),
			 MODEL_STALE_EVENT);
}

static void
test_model_conference_from_attributes(void **state)
{
	struct fixture *fx = *state;

	create_task(fx, WT1, T0);
	assert_null(model_task_conference_sid(fx->m, WT1));
	apply(fx, "EventType", "task.updated", "TaskSid", WT1, "TaskAttributes",
	      "{\"conference\":{\"sid\":\"" CF1 "\",\"participants\":{}}}", "TimestampMs",
	      ts(T0 + 1), NULL);
	assert_string_equal(model_task_conference_sid(fx->m, WT1), CF1);
	assert_string_equal(model_conference_task_sid(fx->m, CF1), WT1);
	apply(fx, "EventType", "task.completed", "TaskSid", WT1, "TimestampMs", ts(T0 + 2), NULL);
	assert_null(model_conference_task_sid(fx->m, CF1));
}

static void
test_model_sync_item_has_seed_shape(void **state)
{
	struct fixture *fx = *state;
	struct json_gen *g = json_gen_new();
	struct json_doc *doc = NULL;
	const struct json_value *v;
	const char *text;
	size_t len = 0;

	create_task(fx, WT1, T0);
	res_event(fx, "reservation.accepted", WR1, WT1, WK1, "assigned", T0 + 1);
	model_task_sync_json(fx->m, WT1, g);
	text = json_gen_text(g, &len);
	assert_int_equal(json_parse(text, len, NULL, &doc, NULL), 0);
	v = json_doc_root(doc);
	assert_string_equal(json_string(json_get(v, "TaskSid")), WT1);
	assert_string_equal(json_string(json_get(v, "type")), "call");
	assert_string_equal(json_string(json_get(v, "WorkerName")), "alice");
	assert_string_equal(json_string(json_get(v, "TaskStatus")), "assigned");
	json_doc_free(doc);
	json_gen_free(g);
}

static void
test_model_many_tasks_and_snapshot(void **state)
{
	struct fixture *fx = *state;
	struct json_doc *doc;
	char sid[40];

	for (int i = 0; i < 5000; i++) {
		(void)snprintf(sid, sizeof(sid), "WT%032x", i + 1);
		create_task(fx, sid, T0 + i);
	}
	assert_int_equal(model_task_count(fx->m), 5000);
	doc = snapshot(model_tasks_json, fx->m);
	assert_int_equal(json_array_len(json_doc_root(doc)), 5000);
	json_doc_free(doc);
}

static void
test_model_recording_url_on_the_task_and_bounded(void **state)
{
	struct fixture *fx = *state;
	struct model_options o = { .recordings_max = 2 };
	struct model *small = model_new(&o);
	struct json_doc *doc;
	const struct json_value *t;
	int task_changes;

	create_task(fx, WT1, T0);
	doc = task_doc(fx->m, WT1);
	t = json_doc_root(doc);
	assert_non_null(json_get(t, "recordingUrl"));
	assert_int_equal(json_type(json_get(t, "recordingUrl")), JSON_NULL);
	json_doc_free(doc);

	task_changes = fx->changes[MODEL_CHANGE_TASK];
	assert_int_equal(model_set_recording(fx->m, WT1, "https://example.com/RE1"), MODEL_APPLIED);
	assert_int_equal(fx->changes[MODEL_CHANGE_TASK],
			 task_changes + 1); /* the stream hears it */
	doc = task_doc(fx->m, WT1);
	t = json_doc_root(doc);
	assert_string_equal(json_string(json_get(t, "recordingUrl")), "https://example.com/RE1");
	json_doc_free(doc);
	assert_int_equal(model_set_recording(fx->m, WT1, "https://example.com/RE1"),
			 MODEL_STALE_EVENT);
	/* A task not (or no longer) open keeps its URL without a change report. */
	assert_int_equal(model_set_recording(fx->m, WT2, "https://example.com/RE2"), MODEL_APPLIED);
	assert_int_equal(fx->changes[MODEL_CHANGE_TASK], task_changes + 1);
	assert_string_equal(model_task_recording_url(fx->m, WT2), "https://example.com/RE2");

	/* Bounded: the oldest task's URL goes first; an update does not grow the set. */
	assert_int_equal(model_set_recording(small, "WT1", "u1"), MODEL_APPLIED);
	assert_int_equal(model_set_recording(small, "WT2", "u2"), MODEL_APPLIED);
	assert_int_equal(model_set_recording(small, "WT1", "u1b"), MODEL_APPLIED);
	assert_string_equal(model_task_recording_url(small, "WT1"), "u1b");
	assert_int_equal(model_set_recording(small, "WT3", "u3"), MODEL_APPLIED);
	assert_null(model_task_recording_url(small, "WT1"));
	assert_string_equal(model_task_recording_url(small, "WT2"), "u2");
	assert_string_equal(model_task_recording_url(small, "WT3"), "u3");
	model_free(small);
}

/* A worker's view of a task with two workers' reservations names only its own. */
static void
test_model_task_view_for_one_worker(void **state)
{
	struct fixture *fx = *state;
	struct json_gen *g = json_gen_new();
	const char *workers[4];
	size_t len = 0;
	const char *text = NULL;

	create_task(fx, WT1, T0);
	res_event(fx, "reservation.created", WR1, WT1, WK1, "reserved", T0 + 1);
	res_event(fx, "reservation.created", WR2, WT1, WK2, "reserved", T0 + 2);
	assert_int_equal(model_task_workers(fx->m, WT1, workers, 4), 2);
	assert_string_equal(model_reservation_worker_sid(fx->m, WR2), WK2);
	model_task_json(fx->m, WT1, g);
	text = json_gen_text(g, &len);
	assert_non_null(strstr(text, WK1));
	assert_non_null(strstr(text, WK2));
	json_gen_reset(g);
	model_task_json_for(fx->m, WT1, WK1, g);
	text = json_gen_text(g, &len);
	assert_non_null(strstr(text, WR1));
	assert_null(strstr(text, WR2));
	assert_null(strstr(text, WK2));
	json_gen_reset(g);
	model_worker_tasks_json(fx->m, WK2, g);
	text = json_gen_text(g, &len);
	assert_non_null(strstr(text, WR2));
	assert_null(strstr(text, WK1));
	/* The task assigned to WK1: WK2's view shows no assignee. */
	res_event(fx, "reservation.accepted", WR1, WT1, WK1, "assigned", T0 + 3);
	json_gen_reset(g);
	model_task_json_for(fx->m, WT1, WK2, g);
	text = json_gen_text(g, &len);
	assert_null(strstr(text, WK1));
	json_gen_free(g);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
		T(test_model_task_created_adds_open_task),
		T(test_model_reservation_lifecycle_moves_task_and_worker),
		T(test_model_reservation_rejected_and_timeout_are_counted),
		T(test_model_worker_activity_and_attributes),
		T(test_model_activity_queue_workspace_events),
		T(test_model_untracked_types_are_ignored_but_recorded),
		T(test_model_duplicate_is_stale),
		T(test_model_tombstones_and_seen_ids_are_bounded_fifos),
		T(test_model_older_event_is_stale_and_changes_nothing),
		T(test_model_versions_beat_timestamps),
		T(test_model_accepted_before_created_converges),
		T(test_model_reservation_before_its_task),
		T(test_model_completed_task_sticks),
		T(test_model_canceled_task_rejects_late_reservation),
		T(test_model_rebuild_marks_and_sweeps),
		T(test_model_rebuild_abort_sweeps_nothing),
		T(test_model_rejects_malformed_upserts),
		T(test_model_day_counters_and_handle_time),
		T(test_model_day_boundary_resets_counters),
		T(test_model_ring_is_bounded_with_monotonic_seq),
		T(test_model_malformed_events_change_nothing),
		T(test_model_timestamp_seconds_fallback),
		T(test_model_conference_from_attributes),
		T(test_model_sync_item_has_seed_shape),
		T(test_model_many_tasks_and_snapshot),
		T(test_model_recording_url_on_the_task_and_bounded),
		T(test_model_task_view_for_one_worker),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
