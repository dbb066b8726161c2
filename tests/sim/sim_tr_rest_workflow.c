/*
 * TaskRouter v1 REST: Workflows (contract and conventions in sim_tr_rest.h and
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

/* Workflows */

static void
sim_tr_rest_workflow_json(struct sim_tr *tr, const struct sim_tr_workflow *wf, struct json_gen *g)
{
	json_gen_object_open(g);
	json_gen_kv_string(g, "account_sid", tr->sim->opt.account_sid);
	json_gen_kv_string(g, "assignment_callback_url", wf->assignment_callback_url);
	json_gen_kv_string(g, "configuration", wf->configuration);
	sim_tr_rest_kv_iso(g, tr, "date_created", wf->created_ms);
	sim_tr_rest_kv_iso(g, tr, "date_updated", wf->updated_ms);
	json_gen_kv_string(g, "document_content_type", "application/json");
	json_gen_kv_string(g, "fallback_assignment_callback_url",
			   wf->fallback_assignment_callback_url);
	json_gen_kv_string(g, "friendly_name", wf->friendly_name);
	json_gen_kv_string(g, "sid", wf->sid);
	json_gen_kv_int(g, "task_reservation_timeout", wf->task_reservation_timeout_s);
	json_gen_kv_string(g, "workspace_sid", tr->ws.sid);
	sim_tr_rest_kv_url(g, tr, "url", "/Workflows/%s", wf->sid);
	json_gen_key(g, "links");
	json_gen_object_open(g);
	sim_tr_rest_kv_url(g, tr, "statistics", "/Workflows/%s/Statistics", wf->sid);
	sim_tr_rest_kv_url(g, tr, "real_time_statistics", "/Workflows/%s/RealTimeStatistics",
			   wf->sid);
	sim_tr_rest_kv_url(g, tr, "cumulative_statistics", "/Workflows/%s/CumulativeStatistics",
			   wf->sid);
	sim_tr_rest_kv_url(g, tr, "workspace", "%s", "");
	json_gen_object_close(g);
	json_gen_object_close(g);
}

static void
sim_tr_rest_workflows_list(struct sim_request *r)
{
	struct sim_tr *tr = sim_tr_rest_tr(r);
	const char *name = sim_tr_rest_query(r, "FriendlyName");
	struct sim_tr_workflow *wf = NULL;
	struct json_gen *g = NULL;
	struct sim_pager p;

	if (!sim_tr_rest_ws_ok(r) || sim_pager_init(&p, r, 1000) < 0)
		return;
	g = json_gen_new();
	sim_pager_v1_open(&p, g, "workflows");
	TAILQ_FOREACH(wf, &tr->workflow_list, entry) {
		if (name != NULL && strcmp(name, wf->friendly_name) != 0)
			continue;
		if (sim_pager_take(&p, wf->seq))
			sim_tr_rest_workflow_json(tr, wf, g);
		if (sim_pager_done(&p))
			break;
	}
	sim_pager_v1_close(&p, g, "workflows");
	sim_tr_rest_reply_list(r, g);
	json_gen_free(g);
}

/*
 * Applies the workflow parameters; a new workflow (create) is made here once
 * everything validated. Replies on error and returns -EINVAL.
 */
static int
sim_tr_rest_workflow_params(struct sim_request *r, struct sim_tr_workflow **wfp, bool create)
{
	struct sim_tr *tr = sim_tr_rest_tr(r);
	const char *name = sim_tr_rest_param(r, "FriendlyName");
	const char *config = sim_tr_rest_param(r, "Configuration");
	const char *timeout = sim_tr_rest_param(r, "TaskReservationTimeout");
	const char *acb = sim_tr_rest_param(r, "AssignmentCallbackUrl");
	const char *facb = sim_tr_rest_param(r, "FallbackAssignmentCallbackUrl");
	struct sim_tr_workflow probe;
	struct sim_tr_workflow *wf = *wfp;
	int64_t timeout_s = 120;
	char *cause = NULL;

	if (create && (name == NULL || name[0] == '\0')) {
		sim_reply_error(r, 400, 20001,
				"Missing required parameter FriendlyName in the post "
				"body");
		return -EINVAL;
	}
	if (create && (config == NULL || config[0] == '\0')) {
		sim_reply_error(r, 400, 20001,
				"Missing required parameter Configuration in the "
				"post body");
		return -EINVAL;
	}
	if (name != NULL && (name[0] == '\0' || strlen(name) > SIM_TR_REST_NAME_MAX)) {
		sim_reply_error(r, 400, 20001, "Invalid FriendlyName");
		return -EINVAL;
	}
	if (timeout != NULL &&
	    sim_param_int(r, "TaskReservationTimeout", timeout, 1, 86400, &timeout_s) < 0)
		return -EINVAL;
	if (config != NULL) {
		memset(&probe, 0, sizeof(probe));
		if (sim_tr_workflow_configure(tr, &probe, config, &cause) < 0) {
			sim_reply_error(r, 400, 20001, "Invalid Configuration: %s", cause);
			free(cause);
			return -EINVAL;
		}
		sim_tr_workflow_free_filters(&probe);
		free(probe.configuration);
	}
	if (wf == NULL) {
		wf = sim_tr_workflow_add(tr, name);
		*wfp = wf;
	}
	if (name != NULL) {
		free(wf->friendly_name);
		wf->friendly_name = xstrdup(name);
	}
	if (config != NULL && sim_tr_workflow_configure(tr, wf, config, &cause) < 0) {
		sim_reply_error(r, 400, 20001, "Invalid Configuration: %s", cause);
		free(cause);
		return -EINVAL; /* validated above: not reached */
	}
	if (timeout != NULL || create)
		wf->task_reservation_timeout_s = timeout_s;
	if (acb != NULL) {
		free(wf->assignment_callback_url);
		wf->assignment_callback_url = acb[0] != '\0' ? xstrdup(acb) : NULL;
	}
	if (facb != NULL) {
		free(wf->fallback_assignment_callback_url);
		wf->fallback_assignment_callback_url = facb[0] != '\0' ? xstrdup(facb) : NULL;
	}
	wf->updated_ms = sim_tr_now(tr);
	sim_tr_json_invalidate_all(tr); /* tasks show their workflow's name */
	return 0;
}

static void
sim_tr_rest_workflow_create(struct sim_request *r)
{
	struct sim_tr *tr = sim_tr_rest_tr(r);
	struct sim_tr_workflow *wf = NULL;
	struct sim_tr_event_ctx ctx = { 0 };
	struct json_gen *g = NULL;

	if (!sim_tr_rest_ws_ok(r) || sim_tr_rest_workflow_params(r, &wf, true) < 0)
		return;
	ctx.workflow = wf;
	sim_tr_events_emit(tr, SIM_TR_EV_WORKFLOW_CREATED, &ctx);
	g = json_gen_new();
	sim_tr_rest_workflow_json(tr, wf, g);
	sim_reply_json(r, 201, g, NULL);
	json_gen_free(g);
}

struct sim_tr_workflow *
sim_tr_rest_workflow_of(struct sim_request *r)
{
	struct sim_tr_workflow *wf = sim_tr_workflow_get(sim_tr_rest_tr(r), r->params[1]);

	if (wf == NULL)
		sim_tr_rest_not_found(r);
	return wf;
}

static void
sim_tr_rest_workflow_fetch(struct sim_request *r)
{
	struct sim_tr_workflow *wf = NULL;
	struct json_gen *g = NULL;

	if (!sim_tr_rest_ws_ok(r))
		return;
	wf = sim_tr_rest_workflow_of(r);
	if (wf == NULL)
		return;
	g = json_gen_new();
	sim_tr_rest_workflow_json(sim_tr_rest_tr(r), wf, g);
	sim_reply_json(r, 200, g, NULL);
	json_gen_free(g);
}

static void
sim_tr_rest_workflow_update(struct sim_request *r)
{
	struct sim_tr *tr = sim_tr_rest_tr(r);
	struct sim_tr_workflow *wf = NULL;
	struct sim_tr_event_ctx ctx = { 0 };
	struct json_gen *g = NULL;

	if (!sim_tr_rest_ws_ok(r))
		return;
	wf = sim_tr_rest_workflow_of(r);
	if (wf == NULL || sim_tr_rest_workflow_params(r, &wf, false) < 0)
		return;
	ctx.workflow = wf;
	sim_tr_events_emit(tr, SIM_TR_EV_WORKFLOW_UPDATED, &ctx);
	g = json_gen_new();
	sim_tr_rest_workflow_json(tr, wf, g);
	sim_reply_json(r, 200, g, NULL);
	json_gen_free(g);
}

#define WS "/v1/Workspaces/{WS}"

const struct sim_route sim_tr_rest_workflow_routes[] = {
	{ "GET", WS "/Workflows", sim_tr_rest_workflows_list, false },
	{ "POST", WS "/Workflows", sim_tr_rest_workflow_create, false },
	{ "GET", WS "/Workflows/{WW}", sim_tr_rest_workflow_fetch, false },
	{ "POST", WS "/Workflows/{WW}", sim_tr_rest_workflow_update, false },
};

const size_t sim_tr_rest_workflow_nroutes =
	sizeof(sim_tr_rest_workflow_routes) / sizeof(sim_tr_rest_workflow_routes[0]);
