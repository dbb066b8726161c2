/*
 * TaskRouter v1 REST: Activities (contract and conventions in sim_tr_rest.h and
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

/* Activities */

static void
sim_tr_rest_activity_json(struct sim_tr *tr, const struct sim_tr_activity *a, struct json_gen *g)
{
	json_gen_object_open(g);
	json_gen_kv_string(g, "account_sid", tr->sim->opt.account_sid);
	json_gen_kv_bool(g, "available", a->available);
	sim_tr_rest_kv_iso(g, tr, "date_created", a->created_ms);
	sim_tr_rest_kv_iso(g, tr, "date_updated", a->updated_ms);
	json_gen_kv_string(g, "friendly_name", a->friendly_name);
	json_gen_kv_string(g, "sid", a->sid);
	json_gen_kv_string(g, "workspace_sid", tr->ws.sid);
	sim_tr_rest_kv_url(g, tr, "url", "/Activities/%s", a->sid);
	json_gen_key(g, "links");
	json_gen_object_open(g);
	sim_tr_rest_kv_url(g, tr, "workspace", "%s", "");
	json_gen_object_close(g);
	json_gen_object_close(g);
}

static void
sim_tr_rest_activities_list(struct sim_request *r)
{
	struct sim_tr *tr = sim_tr_rest_tr(r);
	const char *name = sim_tr_rest_query(r, "FriendlyName");
	const char *avail = sim_tr_rest_query(r, "Available");
	struct sim_tr_activity *a = NULL;
	struct json_gen *g = NULL;
	struct sim_pager p;

	if (!sim_tr_rest_ws_ok(r) || sim_pager_init(&p, r, 1000) < 0)
		return;
	g = json_gen_new();
	sim_pager_v1_open(&p, g, "activities");
	TAILQ_FOREACH(a, &tr->activity_list, entry) {
		if (name != NULL && strcmp(name, a->friendly_name) != 0)
			continue;
		if (avail != NULL && sim_tr_rest_truthy(avail) != a->available)
			continue;
		if (sim_pager_take(&p, a->seq))
			sim_tr_rest_activity_json(tr, a, g);
		if (sim_pager_done(&p))
			break;
	}
	sim_pager_v1_close(&p, g, "activities");
	sim_tr_rest_reply_list(r, g);
	json_gen_free(g);
}

static void
sim_tr_rest_activity_create(struct sim_request *r)
{
	struct sim_tr *tr = sim_tr_rest_tr(r);
	const char *name = sim_tr_rest_param(r, "FriendlyName");
	struct sim_tr_activity *a = NULL;
	struct sim_tr_event_ctx ctx = { 0 };
	struct json_gen *g = NULL;
	bool has_avail = false;
	bool avail = false;

	if (!sim_tr_rest_ws_ok(r))
		return;
	if (name == NULL || name[0] == '\0') {
		sim_reply_error(r, 400, 20001,
				"Missing required parameter FriendlyName in the post "
				"body");
		return;
	}
	if (strlen(name) > SIM_TR_REST_NAME_MAX) {
		sim_reply_error(r, 400, 20001, "FriendlyName is longer than %d characters",
				SIM_TR_REST_NAME_MAX);
		return;
	}
	if (sim_tr_activity_by_name(tr, name) != NULL) {
		sim_reply_error(r, 400, 20001, "An Activity named '%s' already exists", name);
		return;
	}
	if (sim_tr_rest_bool(r, "Available", &has_avail, &avail) < 0)
		return;
	a = sim_tr_activity_add(tr, name, avail);
	ctx.activity = a;
	sim_tr_events_emit(tr, SIM_TR_EV_ACTIVITY_CREATED, &ctx);
	g = json_gen_new();
	sim_tr_rest_activity_json(tr, a, g);
	sim_reply_json(r, 201, g, NULL);
	json_gen_free(g);
}

static void
sim_tr_rest_activity_fetch(struct sim_request *r)
{
	struct sim_tr *tr = sim_tr_rest_tr(r);
	struct sim_tr_activity *a = NULL;
	struct json_gen *g = NULL;

	if (!sim_tr_rest_ws_ok(r))
		return;
	a = sim_tr_activity_get(tr, r->params[1]);
	if (a == NULL) {
		sim_tr_rest_not_found(r);
		return;
	}
	g = json_gen_new();
	sim_tr_rest_activity_json(tr, a, g);
	sim_reply_json(r, 200, g, NULL);
	json_gen_free(g);
}

#define WS "/v1/Workspaces/{WS}"

const struct sim_route sim_tr_rest_activity_routes[] = {
	{ "GET", WS "/Activities", sim_tr_rest_activities_list, false },
	{ "POST", WS "/Activities", sim_tr_rest_activity_create, false },
	{ "GET", WS "/Activities/{WA}", sim_tr_rest_activity_fetch, false },
};

const size_t sim_tr_rest_activity_nroutes =
	sizeof(sim_tr_rest_activity_routes) / sizeof(sim_tr_rest_activity_routes[0]);
