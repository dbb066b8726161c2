/*
 * TaskRouter v1 REST: Workspaces (contract and conventions in sim_tr_rest.h and
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

/* Workspace */

static void
sim_tr_rest_workspace_json(struct sim_tr *tr, struct json_gen *g)
{
	const struct sim_tr_workspace *ws = &tr->ws;

	json_gen_object_open(g);
	json_gen_kv_string(g, "account_sid", tr->sim->opt.account_sid);
	sim_tr_rest_kv_iso(g, tr, "date_created", ws->created_ms);
	sim_tr_rest_kv_iso(g, tr, "date_updated", ws->updated_ms);
	json_gen_kv_string(g, "default_activity_name", ws->default_activity->friendly_name);
	json_gen_kv_string(g, "default_activity_sid", ws->default_activity->sid);
	json_gen_kv_string(g, "event_callback_url", ws->event_callback_url);
	json_gen_kv_string(g, "events_filter", ws->events_filter);
	json_gen_kv_string(g, "friendly_name", ws->friendly_name);
	json_gen_kv_bool(g, "multi_task_enabled", ws->multi_task_enabled);
	json_gen_kv_string(g, "prioritize_queue_order", ws->prioritize_queue_order);
	json_gen_kv_string(g, "sid", ws->sid);
	json_gen_kv_string(g, "timeout_activity_name", ws->timeout_activity->friendly_name);
	json_gen_kv_string(g, "timeout_activity_sid", ws->timeout_activity->sid);
	sim_tr_rest_kv_url(g, tr, "url", "%s", "");
	json_gen_key(g, "links");
	json_gen_object_open(g);
	sim_tr_rest_kv_url(g, tr, "activities", "/Activities");
	sim_tr_rest_kv_url(g, tr, "statistics", "/Statistics");
	sim_tr_rest_kv_url(g, tr, "real_time_statistics", "/RealTimeStatistics");
	sim_tr_rest_kv_url(g, tr, "cumulative_statistics", "/CumulativeStatistics");
	sim_tr_rest_kv_url(g, tr, "task_queues", "/TaskQueues");
	sim_tr_rest_kv_url(g, tr, "tasks", "/Tasks");
	sim_tr_rest_kv_url(g, tr, "workers", "/Workers");
	sim_tr_rest_kv_url(g, tr, "workflows", "/Workflows");
	sim_tr_rest_kv_url(g, tr, "task_channels", "/TaskChannels");
	sim_tr_rest_kv_url(g, tr, "events", "/Events");
	json_gen_object_close(g);
	json_gen_object_close(g);
}

static void
sim_tr_rest_workspaces_list(struct sim_request *r)
{
	struct sim_tr *tr = sim_tr_rest_tr(r);
	const char *name = sim_tr_rest_query(r, "FriendlyName");
	struct json_gen *g = NULL;
	struct sim_pager p;

	if (sim_pager_init(&p, r, 1000) < 0)
		return;
	g = json_gen_new();
	sim_pager_v1_open(&p, g, "workspaces");
	if ((name == NULL || strcmp(name, tr->ws.friendly_name) == 0) && sim_pager_take(&p, 1))
		sim_tr_rest_workspace_json(tr, g);
	sim_pager_v1_close(&p, g, "workspaces");
	sim_tr_rest_reply_list(r, g);
	json_gen_free(g);
}

static void
sim_tr_rest_workspace_fetch(struct sim_request *r)
{
	struct json_gen *g = NULL;

	if (!sim_tr_rest_ws_ok(r))
		return;
	g = json_gen_new();
	sim_tr_rest_workspace_json(sim_tr_rest_tr(r), g);
	sim_reply_json(r, 200, g, NULL);
	json_gen_free(g);
}

static void
sim_tr_rest_workspace_update(struct sim_request *r)
{
	struct sim_tr *tr = sim_tr_rest_tr(r);
	struct sim_tr_activity *def = NULL;
	struct sim_tr_activity *tmo = NULL;
	const char *name = sim_tr_rest_param(r, "FriendlyName");
	const char *url = sim_tr_rest_param(r, "EventCallbackUrl");
	const char *filter = sim_tr_rest_param(r, "EventsFilter");
	const char *order = sim_tr_rest_param(r, "PrioritizeQueueOrder");
	struct sim_tr_event_ctx ctx = { 0 };
	struct json_gen *g = NULL;
	bool has_multi = false;
	bool multi = false;

	if (!sim_tr_rest_ws_ok(r))
		return;
	if (sim_tr_rest_activity_param(r, "DefaultActivitySid", &def) < 0 ||
	    sim_tr_rest_activity_param(r, "TimeoutActivitySid", &tmo) < 0 ||
	    sim_tr_rest_bool(r, "MultiTaskEnabled", &has_multi, &multi) < 0)
		return;
	if (order != NULL && strcmp(order, "FIFO") != 0 && strcmp(order, "LIFO") != 0) {
		sim_reply_error(r, 400, 20001, "PrioritizeQueueOrder must be FIFO or LIFO");
		return;
	}
	if (name != NULL && (name[0] == '\0' || strlen(name) > SIM_TR_REST_NAME_MAX)) {
		sim_reply_error(r, 400, 20001, "Invalid FriendlyName");
		return;
	}
	if (name != NULL) {
		free(tr->ws.friendly_name);
		tr->ws.friendly_name = xstrdup(name);
	}
	if (url != NULL) {
		free(tr->ws.event_callback_url);
		tr->ws.event_callback_url = url[0] != '\0' ? xstrdup(url) : NULL;
	}
	if (filter != NULL) {
		free(tr->ws.events_filter);
		tr->ws.events_filter = filter[0] != '\0' ? xstrdup(filter) : NULL;
	}
	if (order != NULL) {
		free(tr->ws.prioritize_queue_order);
		tr->ws.prioritize_queue_order = xstrdup(order);
	}
	if (def != NULL)
		tr->ws.default_activity = def;
	if (tmo != NULL)
		tr->ws.timeout_activity = tmo;
	if (has_multi)
		tr->ws.multi_task_enabled = multi;
	tr->ws.updated_ms = sim_tr_now(tr);
	sim_tr_json_invalidate_all(tr); /* nothing cached shows these today; stay safe */
	sim_tr_events_emit(tr, SIM_TR_EV_WORKSPACE_UPDATED, &ctx);
	g = json_gen_new();
	sim_tr_rest_workspace_json(tr, g);
	sim_reply_json(r, 200, g, NULL);
	json_gen_free(g);
}

#define WS "/v1/Workspaces/{WS}"

const struct sim_route sim_tr_rest_workspace_routes[] = {
	{ "GET", "/v1/Workspaces", sim_tr_rest_workspaces_list, false },
	{ "GET", WS, sim_tr_rest_workspace_fetch, false },
	{ "POST", WS, sim_tr_rest_workspace_update, false },
};

const size_t sim_tr_rest_workspace_nroutes =
	sizeof(sim_tr_rest_workspace_routes) / sizeof(sim_tr_rest_workspace_routes[0]);
