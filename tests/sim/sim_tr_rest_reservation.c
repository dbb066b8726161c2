/*
 * TaskRouter v1 REST: Reservations (of a task and of a worker) (contract and conventions in
 * sim_tr_rest.h and sim_tr_rest.c).
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

/* Reservations */

static void
sim_tr_rest_reservation_json(struct sim_tr *tr, const struct sim_tr_reservation *res,
			     bool via_worker, struct json_gen *g)
{
	json_gen_object_open(g);
	json_gen_kv_string(g, "account_sid", tr->sim->opt.account_sid);
	sim_tr_rest_kv_iso(g, tr, "date_created", res->created_ms);
	sim_tr_rest_kv_iso(g, tr, "date_updated", res->updated_ms);
	json_gen_kv_string(g, "reservation_status", sim_tr_res_status_name(res->status));
	json_gen_kv_string(g, "sid", res->sid);
	json_gen_kv_string(g, "task_sid", res->task->sid);
	json_gen_kv_string(g, "worker_name", res->worker_name);
	json_gen_kv_string(g, "worker_sid", res->worker_sid);
	json_gen_kv_string(g, "workspace_sid", tr->ws.sid);
	if (via_worker)
		sim_tr_rest_kv_url(g, tr, "url", "/Workers/%s/Reservations/%s", res->worker_sid,
				   res->sid);
	else
		sim_tr_rest_kv_url(g, tr, "url", "/Tasks/%s/Reservations/%s", res->task->sid,
				   res->sid);
	json_gen_key(g, "links");
	json_gen_object_open(g);
	sim_tr_rest_kv_url(g, tr, "task", "/Tasks/%s", res->task->sid);
	sim_tr_rest_kv_url(g, tr, "worker", "/Workers/%s", res->worker_sid);
	sim_tr_rest_kv_url(g, tr, "workspace", "%s", "");
	json_gen_object_close(g);
	json_gen_object_close(g);
}

static void
sim_tr_rest_reply_reservation(struct sim_request *r, int status,
			      const struct sim_tr_reservation *res, bool via_worker)
{
	struct json_gen *g = json_gen_new();
	char etag[24];

	sim_tr_rest_etag(res->version, etag);
	sim_tr_rest_reservation_json(sim_tr_rest_tr(r), res, via_worker, g);
	sim_reply_json(r, status, g, etag);
	json_gen_free(g);
}

static int
sim_tr_rest_res_status_filter(struct sim_request *r, bool *any, enum sim_tr_res_status *s)
{
	const char *v = sim_tr_rest_query(r, "ReservationStatus");

	*any = v == NULL;
	if (v == NULL)
		return 0;
	if (sim_tr_res_status_parse(v, s) < 0) {
		sim_reply_error(r, 400, 20001, "Invalid ReservationStatus '%s'", v);
		return -EINVAL;
	}
	return 0;
}

static void
sim_tr_rest_task_reservations_list(struct sim_request *r)
{
	struct sim_tr *tr = sim_tr_rest_tr(r);
	const char *wsid = sim_tr_rest_query(r, "WorkerSid");
	struct sim_tr_reservation *res = NULL;
	struct sim_tr_task *t = NULL;
	enum sim_tr_res_status s = SIM_TR_RES_PENDING;
	struct json_gen *g = NULL;
	struct sim_pager p;
	bool any = true;

	if (!sim_tr_rest_ws_ok(r))
		return;
	t = sim_tr_rest_task_of(r);
	if (t == NULL || sim_tr_rest_res_status_filter(r, &any, &s) < 0 ||
	    sim_pager_init(&p, r, 1000) < 0)
		return;
	g = json_gen_new();
	sim_pager_v1_open(&p, g, "reservations");
	TAILQ_FOREACH(res, &t->reservations, task_entry) {
		if (!any && res->status != s)
			continue;
		if (wsid != NULL && strcmp(wsid, res->worker_sid) != 0)
			continue;
		if (sim_pager_take(&p, res->seq))
			sim_tr_rest_reservation_json(tr, res, false, g);
		if (sim_pager_done(&p))
			break;
	}
	sim_pager_v1_close(&p, g, "reservations");
	sim_tr_rest_reply_list(r, g);
	json_gen_free(g);
}

static void
sim_tr_rest_worker_reservations_list(struct sim_request *r)
{
	struct sim_tr *tr = sim_tr_rest_tr(r);
	struct sim_tr_reservation *res = NULL;
	struct sim_tr_worker *w = NULL;
	enum sim_tr_res_status s = SIM_TR_RES_PENDING;
	struct json_gen *g = NULL;
	struct sim_pager p;
	bool any = true;

	if (!sim_tr_rest_ws_ok(r))
		return;
	w = sim_tr_rest_worker_of(r, 1);
	if (w == NULL || sim_tr_rest_res_status_filter(r, &any, &s) < 0 ||
	    sim_pager_init(&p, r, 1000) < 0)
		return;
	g = json_gen_new();
	sim_pager_v1_open(&p, g, "reservations");
	TAILQ_FOREACH(res, &w->reservations, worker_entry) {
		if (!any && res->status != s)
			continue;
		if (sim_pager_take(&p, res->seq))
			sim_tr_rest_reservation_json(tr, res, true, g);
		if (sim_pager_done(&p))
			break;
	}
	sim_pager_v1_close(&p, g, "reservations");
	sim_tr_rest_reply_list(r, g);
	json_gen_free(g);
}

/* The reservation of a task or worker path; replies 404 when it does not belong there. */
static struct sim_tr_reservation *
sim_tr_rest_reservation_of(struct sim_request *r, bool via_worker)
{
	struct sim_tr *tr = sim_tr_rest_tr(r);
	struct sim_tr_reservation *res = sim_tr_reservation_get(tr, r->params[2]);

	if (res != NULL && via_worker && strcmp(res->worker_sid, r->params[1]) != 0)
		res = NULL;
	if (res != NULL && !via_worker && strcmp(res->task->sid, r->params[1]) != 0)
		res = NULL;
	if (res == NULL)
		sim_tr_rest_not_found(r);
	return res;
}

static void
sim_tr_rest_reservation_fetch_common(struct sim_request *r, bool via_worker)
{
	struct sim_tr_reservation *res = NULL;

	if (!sim_tr_rest_ws_ok(r))
		return;
	res = sim_tr_rest_reservation_of(r, via_worker);
	if (res != NULL)
		sim_tr_rest_reply_reservation(r, 200, res, via_worker);
}

static void
sim_tr_rest_task_reservation_fetch(struct sim_request *r)
{
	sim_tr_rest_reservation_fetch_common(r, false);
}

static void
sim_tr_rest_worker_reservation_fetch(struct sim_request *r)
{
	sim_tr_rest_reservation_fetch_common(r, true);
}

/*
 * Reservation update: an Instruction (conference, dequeue, call, redirect)
 * accepts; otherwise ReservationStatus accepted/rejected/wrapping/completed.
 */
static void
sim_tr_rest_reservation_update_common(struct sim_request *r, bool via_worker)
{
	struct sim_tr *tr = sim_tr_rest_tr(r);
	const char *instr = sim_tr_rest_param(r, "Instruction");
	const char *status = sim_tr_rest_param(r, "ReservationStatus");
	const char *timeout = sim_tr_rest_param(r, "Timeout");
	struct sim_tr_reservation *res = NULL;
	struct sim_tr_activity *post = NULL;
	struct sim_tr_activity *dpost = NULL;
	struct sim_tr_activity *wact = NULL;
	struct sim_tr_accept acc = { 0 };
	enum sim_tr_res_status to = SIM_TR_RES_PENDING;
	bool has_eoe = false;
	bool eoe = false;
	int64_t ring_s = 0;
	char *cause = NULL;
	int rc = 0;

	if (!sim_tr_rest_ws_ok(r))
		return;
	res = sim_tr_rest_reservation_of(r, via_worker);
	if (res == NULL || !sim_tr_rest_if_match(r, res->version))
		return;
	if (sim_tr_rest_activity_param(r, "PostWorkActivitySid", &post) < 0 ||
	    sim_tr_rest_activity_param(r, "DequeuePostWorkActivitySid", &dpost) < 0 ||
	    sim_tr_rest_activity_param(r, "WorkerActivitySid", &wact) < 0 ||
	    sim_tr_rest_bool(r, "EndConferenceOnExit", &has_eoe, &eoe) < 0)
		return;
	if (timeout != NULL && sim_param_int(r, "Timeout", timeout, 1, 999, &ring_s) < 0)
		return;
	if (instr != NULL) {
		if (strcmp(instr, "conference") != 0 && strcmp(instr, "dequeue") != 0 &&
		    strcmp(instr, "call") != 0 && strcmp(instr, "redirect") != 0) {
			sim_reply_error(r, 400, 20001, "Invalid Instruction '%s'", instr);
			return;
		}
		acc.conference = strcmp(instr, "conference") == 0;
		acc.end_conference_on_exit = eoe;
		acc.post_work_activity = acc.conference ? post : dpost;
		acc.to = sim_tr_rest_param(r, "To");
		acc.from = sim_tr_rest_param(r, "From");
		rc = sim_tr_routing_reservation_accept(tr, res, &acc, &cause);
	} else if (status != NULL) {
		if (sim_tr_res_status_parse(status, &to) < 0) {
			sim_reply_error(r, 400, 20001, "Invalid ReservationStatus '%s'", status);
			return;
		}
		switch (to) {
		case SIM_TR_RES_ACCEPTED:
			acc.post_work_activity = post;
			rc = sim_tr_routing_reservation_accept(tr, res, &acc, &cause);
			break;
		case SIM_TR_RES_REJECTED:
			rc = sim_tr_routing_reservation_reject(tr, res, wact, &cause);
			break;
		case SIM_TR_RES_WRAPPING:
			rc = sim_tr_routing_reservation_wrapup(tr, res, &cause);
			break;
		case SIM_TR_RES_COMPLETED:
			rc = sim_tr_routing_reservation_complete(tr, res, &cause);
			break;
		default:
			sim_reply_error(r, 400, 20001,
					"ReservationStatus %s cannot be set through the API",
					status);
			return;
		}
	}
	if (rc < 0) {
		sim_tr_rest_reply_cause(r, cause);
		return;
	}
	sim_tr_rest_reply_reservation(r, 200, res, via_worker);
	sim_tr_routing_run(tr);
}

static void
sim_tr_rest_task_reservation_update(struct sim_request *r)
{
	sim_tr_rest_reservation_update_common(r, false);
}

static void
sim_tr_rest_worker_reservation_update(struct sim_request *r)
{
	sim_tr_rest_reservation_update_common(r, true);
}

#define WS "/v1/Workspaces/{WS}"

const struct sim_route sim_tr_rest_reservation_routes[] = {
	{ "GET", WS "/Workers/{WK}/Reservations", sim_tr_rest_worker_reservations_list, false },
	{ "GET", WS "/Workers/{WK}/Reservations/{WR}", sim_tr_rest_worker_reservation_fetch,
	  false },
	{ "POST", WS "/Workers/{WK}/Reservations/{WR}", sim_tr_rest_worker_reservation_update,
	  false },
	{ "GET", WS "/Tasks/{WT}/Reservations", sim_tr_rest_task_reservations_list, false },
	{ "GET", WS "/Tasks/{WT}/Reservations/{WR}", sim_tr_rest_task_reservation_fetch, false },
	{ "POST", WS "/Tasks/{WT}/Reservations/{WR}", sim_tr_rest_task_reservation_update, false },
};

const size_t sim_tr_rest_reservation_nroutes =
	sizeof(sim_tr_rest_reservation_routes) / sizeof(sim_tr_rest_reservation_routes[0]);
