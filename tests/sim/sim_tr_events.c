/*
 * TaskRouter event log and event callbacks (sim_tr_events.h).
 *
 * Each event captures the documented callback fields (twilio-api.md section
 * 6) from the state of its objects at the moment it happens, so the Events
 * resource, the callbacks and the statistics all describe the same history.
 *
 * Delivery keeps at most one request in flight: the completion callback of
 * one POST starts the next, which is what makes the receiver see the events
 * in the order they were emitted. The delivery in flight belongs to this
 * object; reset and free cancel it with http_async_cancel, which guarantees
 * the completion callback will not run afterwards.
 */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "form.h"
#include "hmap.h"
#include "http.h"
#include "http_async.h"
#include "log.h"
#include "queue.h"
#include "signature.h"
#include "sim.h"
#include "sim_tr_events.h"
#include "sim_tr_state.h"
#include "xmalloc.h"

struct sim_tr_delivery {
	TAILQ_ENTRY(sim_tr_delivery) entry;
	char *url;
	char *body;
	char sig[SIGNATURE_LEN + 1];
	char ev_sid[SID_LEN + 1];
	int attempts;
};

TAILQ_HEAD(sim_tr_delivery_list, sim_tr_delivery);

struct sim_tr_events {
	struct sim_tr *tr;
	struct sim_tr_event **v; /* live log entries are v[start .. end) */
	size_t start;
	size_t end;
	size_t cap;
	size_t dstart; /* first index in v whose event still has data */
	struct hmap *by_sid;
	int64_t last_ts;
	uint64_t seq;
	struct sim_tr_delivery_list queue;
	size_t pending;
	struct sim_tr_delivery *in_flight;
	struct http_async_request *req;
	uint64_t n_queued;
	uint64_t n_delivered;
	uint64_t n_failed;
	uint64_t n_dropped;
	uint64_t n_retried;
	uint64_t n_filtered;
};

static const struct {
	const char *name;
	const char *resource_type;
} sim_tr_ev_table[SIM_TR_EV_NTYPES] = {
	[SIM_TR_EV_ACTIVITY_CREATED] = { "activity.created", "Activity" },
	[SIM_TR_EV_RESERVATION_CREATED] = { "reservation.created", "Reservation" },
	[SIM_TR_EV_RESERVATION_ACCEPTED] = { "reservation.accepted", "Reservation" },
	[SIM_TR_EV_RESERVATION_REJECTED] = { "reservation.rejected", "Reservation" },
	[SIM_TR_EV_RESERVATION_TIMEOUT] = { "reservation.timeout", "Reservation" },
	[SIM_TR_EV_RESERVATION_CANCELED] = { "reservation.canceled", "Reservation" },
	[SIM_TR_EV_RESERVATION_RESCINDED] = { "reservation.rescinded", "Reservation" },
	[SIM_TR_EV_RESERVATION_WRAPUP] = { "reservation.wrapup", "Reservation" },
	[SIM_TR_EV_RESERVATION_COMPLETED] = { "reservation.completed", "Reservation" },
	[SIM_TR_EV_TASK_CREATED] = { "task.created", "Task" },
	[SIM_TR_EV_TASK_UPDATED] = { "task.updated", "Task" },
	[SIM_TR_EV_TASK_CANCELED] = { "task.canceled", "Task" },
	[SIM_TR_EV_TASK_WRAPUP] = { "task.wrapup", "Task" },
	[SIM_TR_EV_TASK_COMPLETED] = { "task.completed", "Task" },
	[SIM_TR_EV_TASK_DELETED] = { "task.deleted", "Task" },
	[SIM_TR_EV_TASK_SYSTEM_DELETED] = { "task.system-deleted", "Task" },
	[SIM_TR_EV_TASK_QUEUE_CREATED] = { "task-queue.created", "TaskQueue" },
	[SIM_TR_EV_TASK_QUEUE_ENTERED] = { "task-queue.entered", "Task" },
	[SIM_TR_EV_WORKER_CREATED] = { "worker.created", "Worker" },
	[SIM_TR_EV_WORKER_ACTIVITY_UPDATE] = { "worker.activity.update", "Worker" },
	[SIM_TR_EV_WORKER_ATTRIBUTES_UPDATE] = { "worker.attributes.update", "Worker" },
	[SIM_TR_EV_WORKER_DELETED] = { "worker.deleted", "Worker" },
	[SIM_TR_EV_WORKFLOW_CREATED] = { "workflow.created", "Workflow" },
	[SIM_TR_EV_WORKFLOW_UPDATED] = { "workflow.updated", "Workflow" },
	[SIM_TR_EV_WORKFLOW_ENTERED] = { "workflow.entered", "Task" },
	[SIM_TR_EV_WORKFLOW_TARGET_MATCHED] = { "workflow.target-matched", "Task" },
	[SIM_TR_EV_WORKFLOW_TIMEOUT] = { "workflow.timeout", "Task" },
	[SIM_TR_EV_WORKSPACE_UPDATED] = { "workspace.updated", "Workspace" },
};

static void sim_tr_events_send_next(struct sim_tr_events *ev);

const char *
sim_tr_ev_name(enum sim_tr_ev type)
{
	return type < SIM_TR_EV_NTYPES ? sim_tr_ev_table[type].name : "unknown";
}

struct sim_tr_events *
sim_tr_events_new(struct sim_tr *tr)
{
	struct sim_tr_events *ev = xcalloc(1, sizeof(*ev));

	ev->tr = tr;
	ev->by_sid = hmap_new();
	TAILQ_INIT(&ev->queue);
	return ev;
}

static void
sim_tr_event_free(struct sim_tr_event *e)
{
	if (e == NULL)
		return;
	free(e->description);
	free(e->data);
	free(e);
}

static void
sim_tr_delivery_free(struct sim_tr_delivery *d)
{
	if (d == NULL)
		return;
	free(d->url);
	free(d->body);
	free(d);
}

static void
sim_tr_events_clear(struct sim_tr_events *ev)
{
	struct sim_tr_delivery *d = NULL;
	size_t i;

	if (ev->req != NULL) {
		http_async_cancel(ev->req);
		ev->req = NULL;
	}
	sim_tr_delivery_free(ev->in_flight);
	ev->in_flight = NULL;
	while ((d = TAILQ_FIRST(&ev->queue)) != NULL) {
		TAILQ_REMOVE(&ev->queue, d, entry);
		sim_tr_delivery_free(d);
	}
	ev->pending = 0;
	for (i = ev->start; i < ev->end; i++) {
		hmap_remove(ev->by_sid, ev->v[i]->sid);
		sim_tr_event_free(ev->v[i]);
	}
	free(ev->v);
	ev->v = NULL;
	ev->start = ev->end = ev->cap = ev->dstart = 0;
}

void
sim_tr_events_free(struct sim_tr_events *ev)
{
	if (ev == NULL)
		return;
	sim_tr_events_clear(ev);
	hmap_free(ev->by_sid);
	free(ev);
}

void
sim_tr_events_reset(struct sim_tr_events *ev)
{
	sim_tr_events_clear(ev);
	ev->last_ts = 0;
	ev->seq = 0;
	ev->n_queued = ev->n_delivered = ev->n_failed = ev->n_dropped = 0;
	ev->n_retried = ev->n_filtered = 0;
}

size_t
sim_tr_events_count(const struct sim_tr_events *ev)
{
	return ev->end - ev->start;
}

uint64_t
sim_tr_events_total(const struct sim_tr_events *ev)
{
	return ev->seq;
}

const struct sim_tr_event *
sim_tr_events_at(const struct sim_tr_events *ev, size_t i)
{
	return i < ev->end - ev->start ? ev->v[ev->start + i] : NULL;
}

size_t
sim_tr_events_lower_bound(const struct sim_tr_events *ev, int64_t ts_ms)
{
	size_t lo = 0;
	size_t hi = ev->end - ev->start;
	size_t mid;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (ev->v[ev->start + mid]->ts_ms < ts_ms)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

const struct sim_tr_event *
sim_tr_events_find(const struct sim_tr_events *ev, const char *sid)
{
	return sid != NULL ? hmap_get(ev->by_sid, sid) : NULL;
}

/* Appends e, dropping the oldest event beyond SIM_TR_EVENTS_MAX and old data beyond the data cap.
 */
static void
sim_tr_events_append(struct sim_tr_events *ev, struct sim_tr_event *e)
{
	size_t live;

	if (ev->end - ev->start >= SIM_TR_EVENTS_MAX) {
		hmap_remove(ev->by_sid, ev->v[ev->start]->sid);
		sim_tr_event_free(ev->v[ev->start]);
		ev->start++;
		if (ev->dstart < ev->start)
			ev->dstart = ev->start;
	}
	if (ev->end == ev->cap) {
		live = ev->end - ev->start;
		if (ev->start > 0 && ev->start >= ev->cap / 2) {
			memmove(ev->v, ev->v + ev->start, live * sizeof(*ev->v));
			ev->dstart -= ev->start;
			ev->start = 0;
			ev->end = live;
		} else {
			ev->cap = ev->cap != 0 ? ev->cap * 2 : 1024;
			ev->v = xreallocarray(ev->v, ev->cap, sizeof(*ev->v));
		}
	}
	ev->v[ev->end++] = e;
	hmap_put(ev->by_sid, e->sid, e);
	while (ev->end - ev->dstart > SIM_TR_EVENTS_DATA_MAX) {
		free_and_null(ev->v[ev->dstart]->data);
		ev->dstart++;
	}
}

static void
sim_tr_events_add_int(struct form *f, const char *key, int64_t v)
{
	form_add_int(f, key, (long long)v);
}

static void
sim_tr_events_queue_fields(struct form *f, const struct sim_tr_queue *q)
{
	form_add(f, "TaskQueueSid", q->sid);
	form_add(f, "TaskQueueName", q->friendly_name);
	form_add(f, "TaskQueueTargetExpression", q->target_workers);
}

static void
sim_tr_events_workflow_fields(struct form *f, const struct sim_tr_workflow *wf)
{
	form_add(f, "WorkflowSid", wf->sid);
	form_add(f, "WorkflowName", wf->friendly_name);
}

static void
sim_tr_events_task_fields(struct form *f, struct sim_tr *tr, const struct sim_tr_task *t,
			  int64_t now)
{
	form_add(f, "TaskSid", t->sid);
	form_add(f, "TaskAttributes", t->attributes);
	sim_tr_events_add_int(f, "TaskAge", (now - t->created_ms) / 1000);
	sim_tr_events_add_int(f, "TaskPriority", t->priority);
	form_add(f, "TaskAssignmentStatus", sim_tr_task_status_name(t->status));
	if (t->status == SIM_TR_TASK_CANCELED)
		form_add(f, "TaskCanceledReason", t->reason != NULL ? t->reason : "");
	if (t->status == SIM_TR_TASK_COMPLETED)
		form_add(f, "TaskCompletedReason", t->reason != NULL ? t->reason : "");
	sim_tr_events_add_int(f, "TaskDateCreated", t->created_ms / 1000);
	if (t->queue_entered_ms != 0)
		sim_tr_events_add_int(f, "TaskQueueEnteredDate", t->queue_entered_ms / 1000);
	sim_tr_events_add_int(f, "TaskVirtualStartTime", t->created_ms / 1000);
	sim_tr_events_add_int(f, "TaskVersion", t->version);
	sim_tr_events_add_int(f, "TaskTimeout", t->timeout_s);
	form_add(f, "TaskIgnoreCapacity", "false");
	form_add(f, "TaskChannelSid", tr->ws.channel_sids[t->channel]);
	form_add(f, "TaskChannelUniqueName", sim_tr_channel_name(t->channel));
	if (t->queue != NULL)
		sim_tr_events_queue_fields(f, t->queue);
	if (t->workflow != NULL)
		sim_tr_events_workflow_fields(f, t->workflow);
}

static void
sim_tr_events_worker_fields(struct form *f, const struct sim_tr_worker *w)
{
	form_add(f, "WorkerSid", w->sid);
	form_add(f, "WorkerName", w->friendly_name);
	form_add(f, "WorkerAttributes", w->attributes);
	form_add(f, "WorkerActivitySid", w->activity->sid);
	form_add(f, "WorkerActivityName", w->activity->friendly_name);
	sim_tr_events_add_int(f, "WorkerVersion", w->version);
}

static bool
sim_tr_events_passes_filter(const char *filter, const char *type)
{
	const char *p = filter;
	const char *end = NULL;
	size_t tlen = strlen(type);
	size_t len;

	if (filter == NULL || filter[0] == '\0')
		return true;
	while (*p != '\0') {
		while (*p == ' ' || *p == ',')
			p++;
		end = p;
		while (*end != '\0' && *end != ',')
			end++;
		len = (size_t)(end - p);
		while (len > 0 && p[len - 1] == ' ')
			len--;
		if (len == tlen && strncmp(p, type, len) == 0)
			return true;
		p = end;
	}
	return false;
}

/* The callback URL without a #fragment (connection overrides are not signed or sent). */
static char *
sim_tr_events_url(const char *configured)
{
	const char *hash = strchr(configured, '#');

	return hash != NULL ? xstrndup(configured, (size_t)(hash - configured))
			    : xstrdup(configured);
}

static char *
sim_tr_events_describe(enum sim_tr_ev type, const struct sim_tr_event_ctx *ctx,
		       const struct sim_tr_event *e)
{
	switch (type) {
	case SIM_TR_EV_ACTIVITY_CREATED:
		return xasprintf("Activity '%s' created", ctx->activity->friendly_name);
	case SIM_TR_EV_RESERVATION_CREATED:
		return xasprintf("Reservation %s created for Worker %s", e->reservation_sid,
				 e->worker_sid);
	case SIM_TR_EV_RESERVATION_ACCEPTED:
		return xasprintf("Reservation %s accepted by Worker %s", e->reservation_sid,
				 e->worker_sid);
	case SIM_TR_EV_RESERVATION_REJECTED:
		return xasprintf("Reservation %s rejected by Worker %s", e->reservation_sid,
				 e->worker_sid);
	case SIM_TR_EV_RESERVATION_TIMEOUT:
		return xasprintf("Reservation %s timed out", e->reservation_sid);
	case SIM_TR_EV_RESERVATION_CANCELED:
		return xasprintf("Reservation %s canceled", e->reservation_sid);
	case SIM_TR_EV_RESERVATION_RESCINDED:
		return xasprintf("Reservation %s rescinded", e->reservation_sid);
	case SIM_TR_EV_RESERVATION_WRAPUP:
		return xasprintf("Reservation %s wrapping", e->reservation_sid);
	case SIM_TR_EV_RESERVATION_COMPLETED:
		return xasprintf("Reservation %s completed", e->reservation_sid);
	case SIM_TR_EV_TASK_CREATED:
		return xasprintf("Task %s created", e->task_sid);
	case SIM_TR_EV_TASK_UPDATED:
		return xasprintf("Task %s updated", e->task_sid);
	case SIM_TR_EV_TASK_CANCELED:
		return xasprintf("Task %s canceled", e->task_sid);
	case SIM_TR_EV_TASK_WRAPUP:
		return xasprintf("Task %s wrapping up", e->task_sid);
	case SIM_TR_EV_TASK_COMPLETED:
		return xasprintf("Task %s completed", e->task_sid);
	case SIM_TR_EV_TASK_DELETED:
		return xasprintf("Task %s deleted", e->task_sid);
	case SIM_TR_EV_TASK_SYSTEM_DELETED:
		return xasprintf("Task %s deleted by the system", e->task_sid);
	case SIM_TR_EV_TASK_QUEUE_CREATED:
		return xasprintf("TaskQueue %s created", e->queue_sid);
	case SIM_TR_EV_TASK_QUEUE_ENTERED:
		return xasprintf("Task %s entered TaskQueue %s", e->task_sid, e->queue_sid);
	case SIM_TR_EV_WORKER_CREATED:
		return xasprintf("Worker %s created", e->worker_sid);
	case SIM_TR_EV_WORKER_ACTIVITY_UPDATE:
		return xasprintf("Worker %s updated to %s Activity", e->worker_sid,
				 ctx->worker->activity->friendly_name);
	case SIM_TR_EV_WORKER_ATTRIBUTES_UPDATE:
		return xasprintf("Worker %s attributes updated", e->worker_sid);
	case SIM_TR_EV_WORKER_DELETED:
		return xasprintf("Worker %s deleted", e->worker_sid);
	case SIM_TR_EV_WORKFLOW_CREATED:
		return xasprintf("Workflow %s created", e->workflow_sid);
	case SIM_TR_EV_WORKFLOW_UPDATED:
		return xasprintf("Workflow %s updated", e->workflow_sid);
	case SIM_TR_EV_WORKFLOW_ENTERED:
		return xasprintf("Task %s entered Workflow %s", e->task_sid, e->workflow_sid);
	case SIM_TR_EV_WORKFLOW_TARGET_MATCHED:
		return xasprintf("Task %s matched a Workflow target", e->task_sid);
	case SIM_TR_EV_WORKFLOW_TIMEOUT:
		return xasprintf("Task %s timed out of Workflow %s", e->task_sid, e->workflow_sid);
	case SIM_TR_EV_WORKSPACE_UPDATED:
		return xstrdup("Workspace updated");
	default:
		return xstrdup("");
	}
}

static void
sim_tr_events_copy_sid(char dst[SID_LEN + 1], const char *src)
{
	snprintf(dst, SID_LEN + 1, "%s", src != NULL ? src : "");
}

/* Fills the compact fields of e from ctx (what the statistics read). */
static void
sim_tr_events_compact(struct sim_tr_event *e, const struct sim_tr_event_ctx *ctx, int64_t now)
{
	const struct sim_tr_task *t = ctx->task;
	const struct sim_tr_queue *q = ctx->queue;
	const struct sim_tr_workflow *wf = ctx->workflow;

	e->task_age_ms = -1;
	e->queue_age_ms = -1;
	if (ctx->res != NULL) {
		sim_tr_events_copy_sid(e->reservation_sid, ctx->res->sid);
		sim_tr_events_copy_sid(e->worker_sid, ctx->res->worker_sid);
		if (t == NULL)
			t = ctx->res->task;
	}
	if (ctx->worker != NULL)
		sim_tr_events_copy_sid(e->worker_sid, ctx->worker->sid);
	if (t != NULL) {
		sim_tr_events_copy_sid(e->task_sid, t->sid);
		e->task_age_ms = now - t->created_ms;
		if (t->queue_entered_ms != 0)
			e->queue_age_ms = now - t->queue_entered_ms;
		if (q == NULL)
			q = t->queue;
		if (wf == NULL)
			wf = t->workflow;
	}
	if (q != NULL)
		sim_tr_events_copy_sid(e->queue_sid, q->sid);
	if (wf != NULL)
		sim_tr_events_copy_sid(e->workflow_sid, wf->sid);
}

static const char *
sim_tr_events_resource_sid(const struct sim_tr_event *e, struct sim_tr *tr,
			   const struct sim_tr_event_ctx *ctx)
{
	const char *rt = e->resource_type;

	if (strcmp(rt, "Reservation") == 0)
		return e->reservation_sid;
	if (strcmp(rt, "Task") == 0)
		return e->task_sid;
	if (strcmp(rt, "Worker") == 0)
		return e->worker_sid;
	if (strcmp(rt, "TaskQueue") == 0)
		return e->queue_sid;
	if (strcmp(rt, "Workflow") == 0)
		return e->workflow_sid;
	if (strcmp(rt, "Activity") == 0 && ctx->activity != NULL)
		return ctx->activity->sid;
	return tr->ws.sid;
}

static struct form *
sim_tr_events_form(struct sim_tr *tr, enum sim_tr_ev type, const struct sim_tr_event_ctx *ctx,
		   const struct sim_tr_event *e)
{
	struct form *f = form_new();
	const struct sim_tr_task *t = ctx->task;
	const struct sim_tr_worker *w = ctx->worker;

	if (ctx->res != NULL) {
		if (t == NULL)
			t = ctx->res->task;
		if (w == NULL)
			w = ctx->res->worker;
	}
	form_add(f, "EventType", sim_tr_ev_name(type));
	form_add(f, "AccountSid", tr->sim->opt.account_sid);
	form_add(f, "WorkspaceSid", tr->ws.sid);
	form_add(f, "WorkspaceName", tr->ws.friendly_name);
	form_add(f, "EventDescription", e->description);
	form_add(f, "ResourceType", e->resource_type);
	form_add(f, "ResourceSid", e->resource_sid);
	sim_tr_events_add_int(f, "Timestamp", e->ts_ms / 1000);
	sim_tr_events_add_int(f, "TimestampMs", e->ts_ms);
	form_add(f, "Sid", e->sid);
	if (t != NULL) {
		sim_tr_events_task_fields(f, tr, t, e->ts_ms);
	} else {
		if (ctx->queue != NULL)
			sim_tr_events_queue_fields(f, ctx->queue);
		if (ctx->workflow != NULL)
			sim_tr_events_workflow_fields(f, ctx->workflow);
	}
	if (ctx->filter_name != NULL)
		form_add(f, "WorkflowFilterName", ctx->filter_name);
	if (w != NULL) {
		sim_tr_events_worker_fields(f, w);
	} else if (ctx->res != NULL) {
		form_add(f, "WorkerSid", ctx->res->worker_sid);
		form_add(f, "WorkerName", ctx->res->worker_name);
	}
	if (ctx->prev_activity != NULL) {
		sim_tr_events_add_int(f, "WorkerTimeInPreviousActivity",
				      ctx->time_in_prev_ms / 1000);
		sim_tr_events_add_int(f, "WorkerTimeInPreviousActivityMs", ctx->time_in_prev_ms);
		form_add(f, "WorkerPreviousActivitySid", ctx->prev_activity->sid);
		form_add(f, "WorkerPreviousActivityName", ctx->prev_activity->friendly_name);
	}
	if (ctx->res != NULL) {
		form_add(f, "ReservationSid", ctx->res->sid);
		sim_tr_events_add_int(f, "ReservationVersion", ctx->res->version);
	}
	if (ctx->activity != NULL) {
		form_add(f, "ActivitySid", ctx->activity->sid);
		form_add(f, "ActivityName", ctx->activity->friendly_name);
		form_add(f, "ActivityAvailable", ctx->activity->available ? "true" : "false");
	}
	return f;
}

static void
sim_tr_events_enqueue(struct sim_tr_events *ev, struct sim_tr *tr, const struct form *f,
		      const struct sim_tr_event *e)
{
	/* The body is the form the event already holds encoded: copy, do not encode again. */
	struct sim_tr_delivery *d = NULL;
	char *url = NULL;
	int r;

	if (ev->pending >= SIM_TR_EVENTS_QUEUE_MAX) {
		if (ev->n_dropped++ % 10000 == 0)
			log_warning("callback queue full (%d): dropping event %s (%llu dropped)",
				    SIM_TR_EVENTS_QUEUE_MAX, e->sid,
				    (unsigned long long)ev->n_dropped);
		return;
	}
	url = sim_tr_events_url(tr->ws.event_callback_url);
	d = xcalloc(1, sizeof(*d));
	r = signature_compute(tr->sim->opt.auth_token, url, f, d->sig);
	if (r < 0) {
		log_warning_errno(r, "cannot sign callback for event %s", e->sid);
		ev->n_failed++;
		free(url);
		free(d);
		return;
	}
	d->url = url;
	d->body = xstrdup(e->data);
	memcpy(d->ev_sid, e->sid, sizeof(d->ev_sid));
	TAILQ_INSERT_TAIL(&ev->queue, d, entry);
	ev->pending++;
	ev->n_queued++;
	sim_tr_events_send_next(ev);
}

void
sim_tr_events_emit(struct sim_tr *tr, enum sim_tr_ev type, const struct sim_tr_event_ctx *ctx)
{
	struct sim_tr_events *ev = tr->events;
	struct sim_tr_event *e = xcalloc(1, sizeof(*e));
	struct form *f = NULL;
	int64_t now = sim_tr_now(tr);

	if (now < ev->last_ts)
		now = ev->last_ts;
	ev->last_ts = now;
	e->seq = ++ev->seq;
	sim_new_sid(tr->sim, e->sid, "EV");
	e->type = type;
	e->ts_ms = now;
	e->resource_type = sim_tr_ev_table[type].resource_type;
	sim_tr_events_compact(e, ctx, now);
	sim_tr_events_copy_sid(e->resource_sid, sim_tr_events_resource_sid(e, tr, ctx));
	e->description = sim_tr_events_describe(type, ctx, e);
	f = sim_tr_events_form(tr, type, ctx, e);
	e->data = form_encode(f);
	log_trace(LOG_TRACE_SIM, "event %s %s %s", e->sid, sim_tr_ev_name(type), e->resource_sid);
	if (tr->ws.event_callback_url != NULL && tr->ws.event_callback_url[0] != '\0') {
		if (sim_tr_events_passes_filter(tr->ws.events_filter, sim_tr_ev_name(type)))
			sim_tr_events_enqueue(ev, tr, f, e);
		else
			ev->n_filtered++;
	}
	form_free(f);
	sim_tr_events_append(ev, e);
}

static void
sim_tr_events_done_cb(const struct http_response *resp, void *arg)
{
	struct sim_tr_events *ev = arg;
	struct sim_tr_delivery *d = ev->in_flight;

	ev->in_flight = NULL;
	ev->req = NULL;
	if (resp->outcome == HTTP_CONNECT_FAILED && d->attempts < 2) {
		/* Twilio's default webhook policy: one retry, on connect failure only. */
		ev->n_retried++;
		TAILQ_INSERT_HEAD(&ev->queue, d, entry);
		ev->pending++;
		sim_tr_events_send_next(ev);
		return;
	}
	if (resp->outcome == HTTP_DONE && resp->status >= 200 && resp->status < 300) {
		ev->n_delivered++;
	} else {
		if (ev->n_failed++ % 1000 == 0)
			log_warning("event callback for %s failed: %s, HTTP %ld (%llu failed)",
				    d->ev_sid, http_outcome_name(resp->outcome), resp->status,
				    (unsigned long long)ev->n_failed);
	}
	sim_tr_delivery_free(d);
	sim_tr_events_send_next(ev);
}

static void
sim_tr_events_send_next(struct sim_tr_events *ev)
{
	struct sim_tr_delivery *d = NULL;
	struct http_request_spec spec;
	char sig_header[SIGNATURE_LEN + 32];
	char token_header[SID_LEN + 48];
	const char *headers[4];
	size_t nh;
	char *cause = NULL;

	while (ev->in_flight == NULL && (d = TAILQ_FIRST(&ev->queue)) != NULL) {
		TAILQ_REMOVE(&ev->queue, d, entry);
		ev->pending--;
		d->attempts++;
		nh = 0;
		snprintf(sig_header, sizeof(sig_header), "X-Twilio-Signature: %s", d->sig);
		headers[nh++] = sig_header;
		headers[nh++] = "User-Agent: TwilioProxy/1.1";
		if (d->attempts > 1) {
			snprintf(token_header, sizeof(token_header),
				 "I-Twilio-Idempotency-Token: %s", d->ev_sid);
			headers[nh++] = token_header;
		}
		headers[nh] = NULL;
		memset(&spec, 0, sizeof(spec));
		spec.method = HTTP_POST;
		spec.url = d->url;
		spec.content_type = "application/x-www-form-urlencoded";
		spec.body = d->body;
		spec.body_len = strlen(d->body);
		spec.headers = headers;
		spec.timeout_ms = SIM_TR_EVENTS_TIMEOUT_MS;
		spec.connect_timeout_ms = SIM_TR_EVENTS_CONNECT_MS;
		spec.max_response_bytes = 64 * 1024;
		spec.allow_plain_http = http_url_is_loopback(d->url);
		ev->in_flight = d;
		ev->req = ev->tr->sim->client != NULL
				  ? http_async_start(ev->tr->sim->client, &spec,
						     sim_tr_events_done_cb, ev, &cause)
				  : NULL;
		if (ev->req == NULL) {
			if (ev->n_failed++ % 1000 == 0)
				log_warning("event callback for %s not sent: %s", d->ev_sid,
					    cause != NULL ? cause : "no HTTP client");
			free_and_null(cause);
			ev->in_flight = NULL;
			sim_tr_delivery_free(d);
		}
	}
}

void
sim_tr_events_callbacks_json(const struct sim_tr_events *ev, struct json_gen *g)
{
	json_gen_object_open(g);
	json_gen_kv_int(g, "queued", (int64_t)ev->n_queued);
	json_gen_kv_int(g, "delivered", (int64_t)ev->n_delivered);
	json_gen_kv_int(g, "failed", (int64_t)ev->n_failed);
	json_gen_kv_int(g, "dropped", (int64_t)ev->n_dropped);
	json_gen_kv_int(g, "retried", (int64_t)ev->n_retried);
	json_gen_kv_int(g, "filtered", (int64_t)ev->n_filtered);
	json_gen_kv_int(g, "in_flight", ev->in_flight != NULL ? 1 : 0);
	json_gen_kv_int(g, "pending", (int64_t)ev->pending);
	json_gen_kv_int(g, "logged", (int64_t)(ev->end - ev->start));
	json_gen_object_close(g);
}
