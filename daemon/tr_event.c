/*
 * tr_event: the TaskRouter event callback's fields (tr_event.h), read from
 * the webhook form once (twilio-api.md section 6 lists them).
 */

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "date.h"
#include "form.h"
#include "num.h"
#include "sid.h"
#include "task_status.h"
#include "tr_event.h"
#include "xmalloc.h"

/* The fields the typed event reads: one slot each, filled in one pass over the form. */
enum tr_event_field {
	TR_F_EVENT_TYPE,
	TR_F_TIMESTAMP_MS,
	TR_F_TIMESTAMP,
	TR_F_SID,
	TR_F_RESOURCE_SID,
	TR_F_TASK_SID,
	TR_F_RESERVATION_SID,
	TR_F_WORKER_SID,
	TR_F_WORKER_ACTIVITY_SID,
	TR_F_ACTIVITY_SID,
	TR_F_TASK_QUEUE_SID,
	TR_F_WORKFLOW_SID,
	TR_F_WORKSPACE_SID,
	TR_F_TASK_PRIORITY,
	TR_F_TASK_VERSION,
	TR_F_RESERVATION_VERSION,
	TR_F_WORKER_VERSION,
	TR_F_TASK_ASSIGNMENT_STATUS,
	TR_F_TASK_DATE_CREATED,
	TR_F_TASK_AGE,
	TR_F_TASK_ATTRIBUTES,
	TR_F_TASK_QUEUE_NAME,
	TR_F_TASK_QUEUE_TARGET_EXPRESSION,
	TR_F_TASK_CHANNEL_UNIQUE_NAME,
	TR_F_WORKER_NAME,
	TR_F_WORKER_ATTRIBUTES,
	TR_F_WORKER_ACTIVITY_NAME,
	TR_F_ACTIVITY_NAME,
	TR_F_ACTIVITY_AVAILABLE,
	TR_F_WORKSPACE_NAME,
	TR_F_COUNT,
};

/* Only a name of the same length can match: compare those. */
#define TR_EVENT_IS(name, id)                                 \
	do {                                                  \
		if (memcmp(key, name, sizeof(name) - 1) == 0) \
			return id;                            \
	} while (0)

/*
 * The slot of a form key, or -1 for a key the event does not read: a switch
 * on the length, then at most five fixed-size compares (a webhook has about
 * 30 keys; looking each of the 30 names up with a linear scan cost 900 strcmp
 * calls per event).
 */
static int
tr_event_field_of(const char *key, size_t len)
{
	switch (len) {
	case 3:
		TR_EVENT_IS("Sid", TR_F_SID);
		break;
	case 7:
		TR_EVENT_IS("TaskSid", TR_F_TASK_SID);
		TR_EVENT_IS("TaskAge", TR_F_TASK_AGE);
		break;
	case 9:
		TR_EVENT_IS("EventType", TR_F_EVENT_TYPE);
		TR_EVENT_IS("Timestamp", TR_F_TIMESTAMP);
		TR_EVENT_IS("WorkerSid", TR_F_WORKER_SID);
		break;
	case 10:
		TR_EVENT_IS("WorkerName", TR_F_WORKER_NAME);
		break;
	case 11:
		TR_EVENT_IS("TimestampMs", TR_F_TIMESTAMP_MS);
		TR_EVENT_IS("ResourceSid", TR_F_RESOURCE_SID);
		TR_EVENT_IS("ActivitySid", TR_F_ACTIVITY_SID);
		TR_EVENT_IS("WorkflowSid", TR_F_WORKFLOW_SID);
		TR_EVENT_IS("TaskVersion", TR_F_TASK_VERSION);
		break;
	case 12:
		TR_EVENT_IS("TaskQueueSid", TR_F_TASK_QUEUE_SID);
		TR_EVENT_IS("WorkspaceSid", TR_F_WORKSPACE_SID);
		TR_EVENT_IS("TaskPriority", TR_F_TASK_PRIORITY);
		TR_EVENT_IS("ActivityName", TR_F_ACTIVITY_NAME);
		break;
	case 13:
		TR_EVENT_IS("WorkerVersion", TR_F_WORKER_VERSION);
		TR_EVENT_IS("TaskQueueName", TR_F_TASK_QUEUE_NAME);
		TR_EVENT_IS("WorkspaceName", TR_F_WORKSPACE_NAME);
		break;
	case 14:
		TR_EVENT_IS("ReservationSid", TR_F_RESERVATION_SID);
		TR_EVENT_IS("TaskAttributes", TR_F_TASK_ATTRIBUTES);
		break;
	case 15:
		TR_EVENT_IS("TaskDateCreated", TR_F_TASK_DATE_CREATED);
		break;
	case 16:
		TR_EVENT_IS("WorkerAttributes", TR_F_WORKER_ATTRIBUTES);
		break;
	case 17:
		TR_EVENT_IS("WorkerActivitySid", TR_F_WORKER_ACTIVITY_SID);
		TR_EVENT_IS("ActivityAvailable", TR_F_ACTIVITY_AVAILABLE);
		break;
	case 18:
		TR_EVENT_IS("ReservationVersion", TR_F_RESERVATION_VERSION);
		TR_EVENT_IS("WorkerActivityName", TR_F_WORKER_ACTIVITY_NAME);
		break;
	case 20:
		TR_EVENT_IS("TaskAssignmentStatus", TR_F_TASK_ASSIGNMENT_STATUS);
		break;
	case 21:
		TR_EVENT_IS("TaskChannelUniqueName", TR_F_TASK_CHANNEL_UNIQUE_NAME);
		break;
	case 25:
		TR_EVENT_IS("TaskQueueTargetExpression", TR_F_TASK_QUEUE_TARGET_EXPRESSION);
		break;
	default:
		break;
	}
	return -1;
}

#undef TR_EVENT_IS

/* Optional SID field: absent or empty gives NULL; present must have the prefix. */
static bool
tr_event_sid(const char *v, const char *prefix, const char **out)
{
	*out = NULL;
	if (v == NULL || v[0] == '\0')
		return true;
	if (!sid_is_valid(v, prefix))
		return false;
	*out = v;
	return true;
}

/* Optional integer field: absent or empty leaves *out; present must be an integer. */
static bool
tr_event_int(const char *v, int64_t *out, bool *has_out)
{
	if (has_out != NULL)
		*has_out = false;
	if (v == NULL || v[0] == '\0')
		return true;
	if (num_parse_i64(v, INT64_MIN, INT64_MAX, out) < 0)
		return false;
	if (has_out != NULL)
		*has_out = true;
	return true;
}

static bool
tr_event_type_ok(const char *t)
{
	size_t n = 0;

	for (const char *p = t; *p != '\0'; p++, n++) {
		if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '.' ||
		      *p == '-' || *p == '_'))
			return false;
	}
	return n > 0 && n <= 64 && strchr(t, '.') != NULL;
}

static bool
tr_event_is(const char *type, const char *prefix)
{
	return strncmp(type, prefix, strlen(prefix)) == 0;
}

/* The event's own time: TimestampMs (integer ms), else Timestamp (any date.h form). */
static const char *
tr_event_time(const char *const *fv, struct tr_event *ev)
{
	const char *v = fv[TR_F_TIMESTAMP_MS];

	if (v != NULL && v[0] != '\0') {
		if (num_parse_i64(v, 0, INT64_MAX, &ev->ts_ms) < 0)
			return "TimestampMs is not a time in milliseconds";
		return NULL;
	}
	v = fv[TR_F_TIMESTAMP];
	if (v == NULL || v[0] == '\0')
		return "no TimestampMs or Timestamp";
	if (date_parse(v, &ev->ts_ms) < 0)
		return "Timestamp is not a date (Unix seconds or milliseconds, ISO-8601, RFC 2822)";
	return NULL;
}

/* TaskDateCreated (any date form), else Timestamp - TaskAge; -1 when neither. */
static int64_t
tr_event_created_ms(const char *const *fv, int64_t ts_ms)
{
	int64_t v = 0;
	int64_t age = 0;

	if (date_parse(fv[TR_F_TASK_DATE_CREATED], &v) == 0)
		return v;
	if (num_parse_i64(fv[TR_F_TASK_AGE], 0, INT64_MAX / 1000, &age) == 0 && age < ts_ms / 1000)
		return ts_ms - age * 1000;
	return -1;
}

static const char *
tr_event_fill(const char *const *fv, struct tr_event *ev)
{
	const char *reason = NULL;
	const char *v;

	ev->type = fv[TR_F_EVENT_TYPE];
	if (ev->type == NULL || ev->type[0] == '\0')
		return "missing EventType";
	if (!tr_event_type_ok(ev->type))
		return "malformed EventType";
	ev->action = strchr(ev->type, '.') + 1;
	reason = tr_event_time(fv, ev);
	if (reason != NULL)
		return reason;

	v = fv[TR_F_SID];
	ev->id = v != NULL && sid_has_shape(v) ? v : NULL;
	ev->resource_sid = fv[TR_F_RESOURCE_SID];

	if (!tr_event_sid(fv[TR_F_TASK_SID], "WT", &ev->task_sid))
		return "TaskSid is not a WT SID";
	if (!tr_event_sid(fv[TR_F_RESERVATION_SID], "WR", &ev->res_sid))
		return "ReservationSid is not a WR SID";
	if (!tr_event_sid(fv[TR_F_WORKER_SID], "WK", &ev->worker_sid))
		return "WorkerSid is not a WK SID";
	if (!tr_event_sid(fv[TR_F_WORKER_ACTIVITY_SID], "WA", &ev->worker_activity_sid))
		return "WorkerActivitySid is not a WA SID";
	if (!tr_event_sid(fv[TR_F_ACTIVITY_SID], "WA", &ev->activity_sid))
		return "ActivitySid is not a WA SID";
	if (!tr_event_sid(fv[TR_F_TASK_QUEUE_SID], "WQ", &ev->queue_sid))
		return "TaskQueueSid is not a WQ SID";
	if (!tr_event_sid(fv[TR_F_WORKFLOW_SID], "WW", &ev->workflow_sid))
		return "WorkflowSid is not a WW SID";
	if (!tr_event_sid(fv[TR_F_WORKSPACE_SID], "WS", &ev->workspace_sid))
		return "WorkspaceSid is not a WS SID";
	if (!tr_event_int(fv[TR_F_TASK_PRIORITY], &ev->task_priority, &ev->has_priority))
		return "TaskPriority is not an integer";
	if (!tr_event_int(fv[TR_F_TASK_VERSION], &ev->task_version, NULL))
		return "TaskVersion is not an integer";
	if (!tr_event_int(fv[TR_F_RESERVATION_VERSION], &ev->res_version, NULL))
		return "ReservationVersion is not an integer";
	if (!tr_event_int(fv[TR_F_WORKER_VERSION], &ev->worker_version, NULL))
		return "WorkerVersion is not an integer";

	v = fv[TR_F_TASK_ASSIGNMENT_STATUS];
	if (v != NULL && v[0] != '\0') {
		ev->task_status = task_status_parse(v);
		if (ev->task_status < 0)
			return "TaskAssignmentStatus is not a task status";
	}
	ev->task_created_ms = tr_event_created_ms(fv, ev->ts_ms);
	ev->task_attributes = fv[TR_F_TASK_ATTRIBUTES];
	ev->queue_name = fv[TR_F_TASK_QUEUE_NAME];
	ev->queue_expr = fv[TR_F_TASK_QUEUE_TARGET_EXPRESSION];
	ev->channel = fv[TR_F_TASK_CHANNEL_UNIQUE_NAME];
	ev->worker_name = fv[TR_F_WORKER_NAME];
	ev->worker_attributes = fv[TR_F_WORKER_ATTRIBUTES];
	ev->worker_activity_name = fv[TR_F_WORKER_ACTIVITY_NAME];
	ev->activity_name = fv[TR_F_ACTIVITY_NAME];
	ev->activity_available = fv[TR_F_ACTIVITY_AVAILABLE];
	ev->workspace_name = fv[TR_F_WORKSPACE_NAME];

	/* What each resource's events cannot do without. */
	if (tr_event_is(ev->type, "task.") && ev->task_sid == NULL)
		return "a task event without TaskSid";
	if (tr_event_is(ev->type, "reservation.") && (ev->res_sid == NULL || ev->task_sid == NULL))
		return "a reservation event without ReservationSid and TaskSid";
	if (tr_event_is(ev->type, "worker.") && ev->worker_sid == NULL)
		return "a worker event without WorkerSid";
	if (tr_event_is(ev->type, "activity.") && ev->activity_sid == NULL)
		return "an activity event without ActivitySid";
	if (tr_event_is(ev->type, "task-queue.") && ev->queue_sid == NULL)
		return "a task-queue event without TaskQueueSid";
	return NULL;
}

int
tr_event_parse(const struct form *form, struct tr_event *ev, const char **reason_out)
{
	const char *fv[TR_F_COUNT] = { NULL };
	const char *reason;
	size_t n = form_count(form);

	memset(ev, 0, sizeof(*ev));
	ev->task_status = -1;
	ev->task_version = -1;
	ev->res_version = -1;
	ev->worker_version = -1;
	ev->task_created_ms = -1;
	ev->fields = xcalloc(n > 0 ? 2 * n : 1, sizeof(*ev->fields));
	/* One pass: each key's slot (the first occurrence wins, as form_get's would). */
	for (size_t i = 0; i < n; i++) {
		const char *key = form_key(form, i);
		int id = tr_event_field_of(key, strlen(key));

		if (id >= 0 && fv[id] == NULL)
			fv[id] = form_value(form, i);
		ev->fields[2 * i] = key;
		ev->fields[2 * i + 1] = form_value(form, i);
	}
	reason = tr_event_fill(fv, ev);
	if (reason != NULL) {
		free(ev->fields);
		memset(ev, 0, sizeof(*ev));
		if (reason_out != NULL)
			*reason_out = reason;
		return -EINVAL;
	}
	ev->nfields = n;
	return 0;
}

void
tr_event_clear(struct tr_event *ev)
{
	if (ev == NULL)
		return;
	free(ev->fields);
	ev->fields = NULL;
	ev->nfields = 0;
}
