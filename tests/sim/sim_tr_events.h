#pragma once

/*
 * TaskRouter events: every state change of the model appends one event to
 * an in-memory log (the Events REST resource and the cumulative statistics
 * read it) and, when the workspace has an EventCallbackUrl and the event type
 * passes its EventsFilter, queues one signed form POST to that URL.
 *
 * Callbacks leave one at a time, in the order the events happened: the next
 * POST starts only after the previous one finished, so a receiver sees them
 * in causal order. A connect failure is retried once (Twilio's default
 * webhook policy rc=1, rp=ct); any other failure or non-2xx answer is counted
 * and the event is dropped. The queue is bounded (SIM_TR_EVENTS_QUEUE_MAX);
 * events beyond it are dropped with a warning and counted.
 *
 * Log bounds: the newest SIM_TR_EVENTS_MAX events are kept; the newest
 * SIM_TR_EVENTS_DATA_MAX of them keep their full field set (event_data);
 * older ones keep only the compact fields the statistics need.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "json.h"
#include "sid.h"

struct sim_tr;
struct sim_tr_events;
struct sim_tr_task;
struct sim_tr_worker;
struct sim_tr_reservation;
struct sim_tr_queue;
struct sim_tr_workflow;
struct sim_tr_activity;

#define SIM_TR_EVENTS_MAX	 2000000
#define SIM_TR_EVENTS_DATA_MAX	 200000
#define SIM_TR_EVENTS_QUEUE_MAX	 1000000
#define SIM_TR_EVENTS_TIMEOUT_MS 15000
#define SIM_TR_EVENTS_CONNECT_MS 5000

enum sim_tr_ev {
	SIM_TR_EV_ACTIVITY_CREATED,
	SIM_TR_EV_RESERVATION_CREATED,
	SIM_TR_EV_RESERVATION_ACCEPTED,
	SIM_TR_EV_RESERVATION_REJECTED,
	SIM_TR_EV_RESERVATION_TIMEOUT,
	SIM_TR_EV_RESERVATION_CANCELED,
	SIM_TR_EV_RESERVATION_RESCINDED,
	SIM_TR_EV_RESERVATION_WRAPUP,
	SIM_TR_EV_RESERVATION_COMPLETED,
	SIM_TR_EV_TASK_CREATED,
	SIM_TR_EV_TASK_UPDATED,
	SIM_TR_EV_TASK_CANCELED,
	SIM_TR_EV_TASK_WRAPUP,
	SIM_TR_EV_TASK_COMPLETED,
	SIM_TR_EV_TASK_DELETED,
	SIM_TR_EV_TASK_SYSTEM_DELETED,
	SIM_TR_EV_TASK_QUEUE_CREATED,
	SIM_TR_EV_TASK_QUEUE_ENTERED,
	SIM_TR_EV_WORKER_CREATED,
	SIM_TR_EV_WORKER_ACTIVITY_UPDATE,
	SIM_TR_EV_WORKER_ATTRIBUTES_UPDATE,
	SIM_TR_EV_WORKER_DELETED,
	SIM_TR_EV_WORKFLOW_CREATED,
	SIM_TR_EV_WORKFLOW_UPDATED,
	SIM_TR_EV_WORKFLOW_ENTERED,
	SIM_TR_EV_WORKFLOW_TARGET_MATCHED,
	SIM_TR_EV_WORKFLOW_TIMEOUT,
	SIM_TR_EV_WORKSPACE_UPDATED,
	SIM_TR_EV_NTYPES,
};

/* The objects an event is about; unused members stay NULL. */
struct sim_tr_event_ctx {
	struct sim_tr_task *task;
	struct sim_tr_worker *worker;
	struct sim_tr_reservation *res;
	struct sim_tr_queue *queue;
	struct sim_tr_workflow *workflow;
	struct sim_tr_activity *activity;
	/* worker.activity.update */
	struct sim_tr_activity *prev_activity;
	int64_t time_in_prev_ms;
	/* workflow.target-matched */
	const char *filter_name;
};

/* One logged event. Strings are owned by the log. */
struct sim_tr_event {
	uint64_t seq;
	char sid[SID_LEN + 1];
	enum sim_tr_ev type;
	int64_t ts_ms;
	const char *resource_type; /* static string */
	char resource_sid[SID_LEN + 1];
	char task_sid[SID_LEN + 1]; /* "" when not about a task */
	char worker_sid[SID_LEN + 1];
	char queue_sid[SID_LEN + 1];
	char workflow_sid[SID_LEN + 1];
	char reservation_sid[SID_LEN + 1];
	int64_t task_age_ms;  /* ms since the task's creation at the event, or -1 */
	int64_t queue_age_ms; /* ms since the task entered its queue, or -1 */
	char *description;
	char *data; /* the callback form, url-encoded; NULL once pruned */
};

/* tr is borrowed and outlives the events object. */
struct sim_tr_events *sim_tr_events_new(struct sim_tr *tr);
/* Cancels the callback in flight (its completion never runs) and frees everything. */
void sim_tr_events_free(struct sim_tr_events *ev);
/* Empties the log and the callback queue (cancelling the one in flight); counters restart. */
void sim_tr_events_reset(struct sim_tr_events *ev);

const char *sim_tr_ev_name(enum sim_tr_ev type);

/*
 * Appends an event built from the current state of the objects in ctx and
 * queues its callback. Never blocks; the POST leaves later from the loop.
 */
void sim_tr_events_emit(struct sim_tr *tr, enum sim_tr_ev type, const struct sim_tr_event_ctx *ctx);

/* The log, oldest first: count, i-th event, first index with ts_ms >= ts. */
size_t sim_tr_events_count(const struct sim_tr_events *ev);
/* Events emitted since start or reset (keeps growing when old ones are dropped). */
uint64_t sim_tr_events_total(const struct sim_tr_events *ev);
const struct sim_tr_event *sim_tr_events_at(const struct sim_tr_events *ev, size_t i);
size_t sim_tr_events_lower_bound(const struct sim_tr_events *ev, int64_t ts_ms);
/* By EV SID, or NULL. */
const struct sim_tr_event *sim_tr_events_find(const struct sim_tr_events *ev, const char *sid);

/* Counters {queued, delivered, failed, dropped, retried, in_flight, pending}. */
void sim_tr_events_callbacks_json(const struct sim_tr_events *ev, struct json_gen *g);
