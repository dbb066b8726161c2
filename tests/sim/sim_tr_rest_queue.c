/*
 * TaskRouter v1 REST: TaskQueues (contract and conventions in sim_tr_rest.h and
 * sim_tr_rest.c).
 */

#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "buf.h"
#include "form.h"
#include "hmap.h"
#include "json.h"
#include "log.h"
#include "sid.h"
#include "sim.h"
#include "sim_http.h"
#include "sim_tr_events.h"
#include "sim_tr_expr.h"
#include "sim_tr_rest.h"
#include "sim_tr_routing.h"
#include "sim_tr_state.h"
#include "sim_tr_stats.h"
#include "xmalloc.h"

/* TaskQueues */

static void
sim_tr_rest_kv_activity(struct json_gen *g, const char *sid_key, const char *name_key,
			const struct sim_tr_activity *a)
{
	json_gen_kv_string(g, sid_key, a != NULL ? a->sid : NULL);
	json_gen_kv_string(g, name_key, a != NULL ? a->friendly_name : NULL);
}

static void
sim_tr_rest_queue_json(struct sim_tr *tr, const struct sim_tr_queue *q, struct json_gen *g)
{
	json_gen_object_open(g);
	json_gen_kv_string(g, "account_sid", tr->sim->opt.account_sid);
	sim_tr_rest_kv_activity(g, "assignment_activity_sid", "assignment_activity_name",
				q->assignment_activity);
	sim_tr_rest_kv_activity(g, "reservation_activity_sid", "reservation_activity_name",
				q->reservation_activity);
	sim_tr_rest_kv_iso(g, tr, "date_created", q->created_ms);
	sim_tr_rest_kv_iso(g, tr, "date_updated", q->updated_ms);
	json_gen_kv_string(g, "friendly_name", q->friendly_name);
	json_gen_kv_int(g, "max_reserved_workers", q->max_reserved_workers);
	json_gen_kv_string(g, "sid", q->sid);
	json_gen_kv_string(g, "target_workers", q->target_workers);
	json_gen_kv_string(g, "task_order", q->task_order);
	sim_tr_rest_kv_url(g, tr, "url", "/TaskQueues/%s", q->sid);
	json_gen_kv_string(g, "workspace_sid", tr->ws.sid);
	json_gen_key(g, "links");
	json_gen_object_open(g);
	if (q->assignment_activity != NULL)
		sim_tr_rest_kv_url(g, tr, "assignment_activity", "/Activities/%s",
				   q->assignment_activity->sid);
	if (q->reservation_activity != NULL)
		sim_tr_rest_kv_url(g, tr, "reservation_activity", "/Activities/%s",
				   q->reservation_activity->sid);
	sim_tr_rest_kv_url(g, tr, "workspace", "%s", "");
	sim_tr_rest_kv_url(g, tr, "statistics", "/TaskQueues/%s/Statistics", q->sid);
	sim_tr_rest_kv_url(g, tr, "real_time_statistics", "/TaskQueues/%s/RealTimeStatistics",
			   q->sid);
	sim_tr_rest_kv_url(g, tr, "cumulative_statistics", "/TaskQueues/%s/CumulativeStatistics",
			   q->sid);
	sim_tr_rest_kv_url(g, tr, "list_statistics", "/TaskQueues/Statistics");
	json_gen_object_close(g);
	json_gen_object_close(g);
}

static void
sim_tr_rest_queues_list(struct sim_request *r)
{
	struct sim_tr *tr = sim_tr_rest_tr(r);
	const char *name = sim_tr_rest_query(r, "FriendlyName");
	const char *wsid = sim_tr_rest_query(r, "WorkerSid");
	const char *eval = sim_tr_rest_query(r, "EvaluateWorkerAttributes");
	struct json_doc *doc = NULL;
	struct sim_tr_worker *w = NULL;
	struct sim_tr_queue *q = NULL;
	struct json_gen *g = NULL;
	struct sim_pager p;
	char *cause = NULL;

	if (!sim_tr_rest_ws_ok(r))
		return;
	if (wsid != NULL) {
		w = sim_tr_worker_get(tr, wsid);
		if (w == NULL) {
			sim_reply_error(r, 404, 20404, "Worker %s not found", wsid);
			return;
		}
	}
	if (eval != NULL && sim_tr_state_parse_attributes(eval, &doc, &cause) < 0) {
		sim_reply_error(r, 400, 20001, "Invalid EvaluateWorkerAttributes: %s", cause);
		free(cause);
		return;
	}
	if (sim_pager_init(&p, r, 1000) < 0) {
		json_doc_free(doc);
		return;
	}
	g = json_gen_new();
	sim_pager_v1_open(&p, g, "task_queues");
	TAILQ_FOREACH(q, &tr->queue_list, entry) {
		if (name != NULL && strcmp(name, q->friendly_name) != 0)
			continue;
		if (w != NULL && !sim_tr_queue_accepts(q, w))
			continue;
		if (doc != NULL && !sim_tr_expr_eval(q->expr, json_doc_root(doc), NULL, NULL))
			continue;
		if (sim_pager_take(&p, q->seq))
			sim_tr_rest_queue_json(tr, q, g);
		if (sim_pager_done(&p))
			break;
	}
	sim_pager_v1_close(&p, g, "task_queues");
	sim_tr_rest_reply_list(r, g);
	json_gen_free(g);
	json_doc_free(doc);
}

/* Validates and applies the queue parameters shared by create and update. */
static int
sim_tr_rest_queue_params(struct sim_request *r, struct sim_tr_queue *q, bool create)
{
	struct sim_tr *tr = sim_tr_rest_tr(r);
	const char *name = sim_tr_rest_param(r, "FriendlyName");
	const char *target = sim_tr_rest_param(r, "TargetWorkers");
	const char *order = sim_tr_rest_param(r, "TaskOrder");
	const char *mrw = sim_tr_rest_param(r, "MaxReservedWorkers");
	struct sim_tr_activity *assign = NULL;
	struct sim_tr_activity *reserve = NULL;
	struct sim_tr_queue *other = NULL;
	struct sim_tr_expr *expr = NULL;
	int64_t max_reserved = 1;
	char *cause = NULL;

	if (create && (name == NULL || name[0] == '\0')) {
		sim_reply_error(r, 400, 20001,
				"Missing required parameter FriendlyName in the post "
				"body");
		return -EINVAL;
	}
	if (name != NULL && (name[0] == '\0' || strlen(name) > SIM_TR_REST_NAME_MAX)) {
		sim_reply_error(r, 400, 20001, "Invalid FriendlyName");
		return -EINVAL;
	}
	other = name != NULL ? sim_tr_queue_by_name(tr, name) : NULL;
	if (other != NULL && other != q) {
		sim_reply_error(r, 400, 20001, "A TaskQueue named '%s' already exists", name);
		return -EINVAL;
	}
	if (order != NULL && strcmp(order, "FIFO") != 0 && strcmp(order, "LIFO") != 0) {
		sim_reply_error(r, 400, 20001, "TaskOrder must be FIFO or LIFO");
		return -EINVAL;
	}
	if (mrw != NULL && sim_param_int(r, "MaxReservedWorkers", mrw, 1, 50, &max_reserved) < 0)
		return -EINVAL;
	if (sim_tr_rest_activity_param(r, "AssignmentActivitySid", &assign) < 0 ||
	    sim_tr_rest_activity_param(r, "ReservationActivitySid", &reserve) < 0)
		return -EINVAL;
	if (create && (target == NULL || target[0] == '\0'))
		target = "1==1";
	if (target != NULL && sim_tr_expr_parse(target, &expr, &cause) < 0) {
		sim_reply_error(r, 400, 20001, "Invalid TargetWorkers expression: %s", cause);
		free(cause);
		return -EINVAL;
	}
	if (q == NULL) {
		sim_tr_expr_free(expr);
		return 0; /* validated only; the caller creates and calls again */
	}
	if (name != NULL) {
		free(q->friendly_name);
		q->friendly_name = xstrdup(name);
	}
	if (expr != NULL) {
		sim_tr_expr_free(q->expr);
		q->expr = expr;
		free(q->target_workers);
		q->target_workers = xstrdup(target);
	}
	if (order != NULL) {
		free(q->task_order);
		q->task_order = xstrdup(order);
	}
	if (mrw != NULL)
		q->max_reserved_workers = max_reserved;
	if (assign != NULL)
		q->assignment_activity = assign;
	if (reserve != NULL)
		q->reservation_activity = reserve;
	q->updated_ms = sim_tr_now(tr);
	sim_tr_json_invalidate_all(tr); /* tasks show their queue's name */
	return 0;
}

static void
sim_tr_rest_queue_create(struct sim_request *r)
{
	struct sim_tr *tr = sim_tr_rest_tr(r);
	const char *target = sim_tr_rest_param(r, "TargetWorkers");
	struct sim_tr_expr *expr = NULL;
	struct sim_tr_queue *q = NULL;
	struct sim_tr_event_ctx ctx = { 0 };
	struct json_gen *g = NULL;

	if (!sim_tr_rest_ws_ok(r) || sim_tr_rest_queue_params(r, NULL, true) < 0)
		return;
	if (target == NULL || target[0] == '\0')
		target = "1==1";
	if (sim_tr_expr_parse(target, &expr, NULL) < 0) {
		sim_reply_error(r, 400, 20001, "Invalid TargetWorkers expression");
		return; /* validated above: not reached */
	}
	q = sim_tr_queue_add(tr, sim_tr_rest_param(r, "FriendlyName"), target, expr);
	(void)sim_tr_rest_queue_params(r, q, true);
	ctx.queue = q;
	sim_tr_events_emit(tr, SIM_TR_EV_TASK_QUEUE_CREATED, &ctx);
	g = json_gen_new();
	sim_tr_rest_queue_json(tr, q, g);
	sim_reply_json(r, 201, g, NULL);
	json_gen_free(g);
}

struct sim_tr_queue *
sim_tr_rest_queue_of(struct sim_request *r)
{
	struct sim_tr_queue *q = sim_tr_queue_get(sim_tr_rest_tr(r), r->params[1]);

	if (q == NULL)
		sim_tr_rest_not_found(r);
	return q;
}

static void
sim_tr_rest_queue_fetch(struct sim_request *r)
{
	struct sim_tr_queue *q = NULL;
	struct json_gen *g = NULL;

	if (!sim_tr_rest_ws_ok(r))
		return;
	q = sim_tr_rest_queue_of(r);
	if (q == NULL)
		return;
	g = json_gen_new();
	sim_tr_rest_queue_json(sim_tr_rest_tr(r), q, g);
	sim_reply_json(r, 200, g, NULL);
	json_gen_free(g);
}

static void
sim_tr_rest_queue_update(struct sim_request *r)
{
	struct sim_tr *tr = sim_tr_rest_tr(r);
	struct sim_tr_queue *q = NULL;
	struct json_gen *g = NULL;

	if (!sim_tr_rest_ws_ok(r))
		return;
	q = sim_tr_rest_queue_of(r);
	if (q == NULL || sim_tr_rest_queue_params(r, NULL, false) < 0)
		return;
	(void)sim_tr_rest_queue_params(r, q, false);
	g = json_gen_new();
	sim_tr_rest_queue_json(tr, q, g);
	sim_reply_json(r, 200, g, NULL);
	json_gen_free(g);
	sim_tr_routing_run(tr);
}

#define WS "/v1/Workspaces/{WS}"

const struct sim_route sim_tr_rest_queue_routes[] = {
	{ "GET", WS "/TaskQueues", sim_tr_rest_queues_list, false },
	{ "POST", WS "/TaskQueues", sim_tr_rest_queue_create, false },
	{ "GET", WS "/TaskQueues/{WQ}", sim_tr_rest_queue_fetch, false },
	{ "POST", WS "/TaskQueues/{WQ}", sim_tr_rest_queue_update, false },
};

const size_t sim_tr_rest_queue_nroutes =
	sizeof(sim_tr_rest_queue_routes) / sizeof(sim_tr_rest_queue_routes[0]);
