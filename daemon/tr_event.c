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

/* Optional SID field: absent or empty gives NULL; present must have the prefix. */
static bool
tr_event_sid(const struct form *f, const char *key, const char *prefix, const char **out)
{
	const char *v = form_get(f, key);

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
tr_event_int(const struct form *f, const char *key, int64_t *out, bool *has_out)
{
	const char *v = form_get(f, key);

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
tr_event_time(const struct form *f, struct tr_event *ev)
{
	const char *v = form_get(f, "TimestampMs");

	if (v != NULL && v[0] != '\0') {
		if (num_parse_i64(v, 0, INT64_MAX, &ev->ts_ms) < 0)
			return "TimestampMs is not a time in milliseconds";
		return NULL;
	}
	v = form_get(f, "Timestamp");
	if (v == NULL || v[0] == '\0')
		return "no TimestampMs or Timestamp";
	if (date_parse(v, &ev->ts_ms) < 0)
		return "Timestamp is not a date (Unix seconds or milliseconds, ISO-8601, RFC 2822)";
	return NULL;
}

/* TaskDateCreated (any date form), else Timestamp - TaskAge; -1 when neither. */
static int64_t
tr_event_created_ms(const struct form *f, int64_t ts_ms)
{
	int64_t v = 0;
	int64_t age = 0;

	if (date_parse(form_get(f, "TaskDateCreated"), &v) == 0)
		return v;
	if (num_parse_i64(form_get(f, "TaskAge"), 0, INT64_MAX / 1000, &age) == 0 &&
	    age < ts_ms / 1000)
		return ts_ms - age * 1000;
	return -1;
}

static const char *
tr_event_fill(const struct form *f, struct tr_event *ev)
{
	const char *reason = NULL;
	const char *v;

	ev->type = form_get(f, "EventType");
	if (ev->type == NULL || ev->type[0] == '\0')
		return "missing EventType";
	if (!tr_event_type_ok(ev->type))
		return "malformed EventType";
	ev->action = strchr(ev->type, '.') + 1;
	reason = tr_event_time(f, ev);
	if (reason != NULL)
		return reason;

	v = form_get(f, "Sid");
	ev->id = v != NULL && sid_has_shape(v) ? v : NULL;
	ev->resource_sid = form_get(f, "ResourceSid");

	if (!tr_event_sid(f, "TaskSid", "WT", &ev->task_sid))
		return "TaskSid is not a WT SID";
	if (!tr_event_sid(f, "ReservationSid", "WR", &ev->res_sid))
		return "ReservationSid is not a WR SID";
	if (!tr_event_sid(f, "WorkerSid", "WK", &ev->worker_sid))
		return "WorkerSid is not a WK SID";
	if (!tr_event_sid(f, "WorkerActivitySid", "WA", &ev->worker_activity_sid))
		return "WorkerActivitySid is not a WA SID";
	if (!tr_event_sid(f, "ActivitySid", "WA", &ev->activity_sid))
		return "ActivitySid is not a WA SID";
	if (!tr_event_sid(f, "TaskQueueSid", "WQ", &ev->queue_sid))
		return "TaskQueueSid is not a WQ SID";
	if (!tr_event_sid(f, "WorkflowSid", "WW", &ev->workflow_sid))
		return "WorkflowSid is not a WW SID";
	if (!tr_event_sid(f, "WorkspaceSid", "WS", &ev->workspace_sid))
		return "WorkspaceSid is not a WS SID";
	if (!tr_event_int(f, "TaskPriority", &ev->task_priority, &ev->has_priority))
		return "TaskPriority is not an integer";
	if (!tr_event_int(f, "TaskVersion", &ev->task_version, NULL))
		return "TaskVersion is not an integer";
	if (!tr_event_int(f, "ReservationVersion", &ev->res_version, NULL))
		return "ReservationVersion is not an integer";
	if (!tr_event_int(f, "WorkerVersion", &ev->worker_version, NULL))
		return "WorkerVersion is not an integer";

	v = form_get(f, "TaskAssignmentStatus");
	if (v != NULL && v[0] != '\0') {
		ev->task_status = task_status_parse(v);
		if (ev->task_status < 0)
			return "TaskAssignmentStatus is not a task status";
	}
	ev->task_created_ms = tr_event_created_ms(f, ev->ts_ms);
	ev->task_attributes = form_get(f, "TaskAttributes");
	ev->queue_name = form_get(f, "TaskQueueName");
	ev->queue_expr = form_get(f, "TaskQueueTargetExpression");
	ev->channel = form_get(f, "TaskChannelUniqueName");
	ev->worker_name = form_get(f, "WorkerName");
	ev->worker_attributes = form_get(f, "WorkerAttributes");
	ev->worker_activity_name = form_get(f, "WorkerActivityName");
	ev->activity_name = form_get(f, "ActivityName");
	ev->activity_available = form_get(f, "ActivityAvailable");
	ev->workspace_name = form_get(f, "WorkspaceName");

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
	const char *reason;
	size_t n;

	memset(ev, 0, sizeof(*ev));
	ev->task_status = -1;
	ev->task_version = -1;
	ev->res_version = -1;
	ev->worker_version = -1;
	ev->task_created_ms = -1;
	reason = tr_event_fill(form, ev);
	if (reason != NULL) {
		memset(ev, 0, sizeof(*ev));
		if (reason_out != NULL)
			*reason_out = reason;
		return -EINVAL;
	}
	n = form_count(form);
	ev->fields = xcalloc(n > 0 ? 2 * n : 1, sizeof(*ev->fields));
	for (size_t i = 0; i < n; i++) {
		ev->fields[2 * i] = form_key(form, i);
		ev->fields[2 * i + 1] = form_value(form, i);
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
