#pragma once

/*
 * tr_event: one TaskRouter event callback as typed, validated fields. The
 * event ingest (events.c) parses every webhook form into it exactly once,
 * before Twilio gets its answer, so an event the model could not apply is
 * refused with 400 instead of being acknowledged and dropped; the model
 * (model_apply_event) reads only these fields and never the form.
 *
 * Strings are borrowed from the parsed form and live as long as it does;
 * SIDs have been checked for their prefix and shape, numbers parsed, dates
 * (Timestamp in any form date.h reads) turned into Unix milliseconds.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct form;

struct tr_event {
	const char *type;   /* EventType, "resource.action" */
	const char *action; /* after the first '.', e.g. "activity.update" */
	const char *id;	    /* Sid (EV...) when it has a SID's shape, else NULL */
	const char *resource_sid;
	int64_t ts_ms; /* TimestampMs, else Timestamp, Unix ms */

	const char *task_sid;
	int task_status; /* enum task_status, -1: absent */
	const char *task_attributes;
	bool has_priority;
	int64_t task_priority;
	int64_t task_version;	 /* -1: absent */
	int64_t task_created_ms; /* TaskDateCreated, else Timestamp - TaskAge; -1: absent */
	const char *queue_sid;
	const char *queue_name;
	const char *queue_expr;
	const char *workflow_sid;
	const char *channel;

	const char *res_sid;
	int64_t res_version; /* -1: absent */

	const char *worker_sid;
	const char *worker_name;
	const char *worker_attributes;
	const char *worker_activity_sid;
	const char *worker_activity_name;
	int64_t worker_version; /* -1: absent */

	const char *activity_sid;
	const char *activity_name;
	const char *activity_available;

	const char *workspace_sid;
	const char *workspace_name;

	/*
	 * Every parameter as received, for the recent-events ring and the Sync
	 * events document: fields[2 * i] is a name, fields[2 * i + 1] its value.
	 * Owned by the event (tr_event_clear), the strings by the form.
	 */
	const char **fields;
	size_t nfields;
};

/**
 * tr_event_parse() - the one parse of a TaskRouter event callback
 * @form: the verified parameters; must outlive ev (ev borrows its strings).
 * @ev: filled on success; tr_event_clear releases it. Cleared on failure.
 * @reason_out: on failure, a static text naming the bad or missing field
 *	(holds no input, so it may be logged and sent as the 400 detail).
 *
 * Returns 0 or -EINVAL.
 */
int tr_event_parse(const struct form *form, struct tr_event *ev, const char **reason_out);

/* Frees what tr_event_parse allocated (not the form). NULL-safe, idempotent. */
void tr_event_clear(struct tr_event *ev);
