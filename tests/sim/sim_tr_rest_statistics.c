/*
 * TaskRouter v1 REST: Statistics (workspace, workers, queues, workflows) (contract and conventions
 * in sim_tr_rest.h and sim_tr_rest.c).
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

/* Statistics */

static void
sim_tr_rest_stats_ids(struct json_gen *g, struct sim_tr *tr)
{
	json_gen_kv_string(g, "account_sid", tr->sim->opt.account_sid);
	json_gen_kv_string(g, "workspace_sid", tr->ws.sid);
}

static void
sim_tr_rest_ws_statistics(struct sim_request *r)
{
	struct sim_tr *tr = sim_tr_rest_tr(r);
	struct sim_tr_stats_window w;
	struct json_gen *g = NULL;

	if (!sim_tr_rest_ws_ok(r) || sim_tr_rest_window(r, &w) < 0)
		return;
	g = json_gen_new();
	json_gen_object_open(g);
	sim_tr_rest_stats_ids(g, tr);
	sim_tr_rest_kv_url(g, tr, "url", "/Statistics");
	json_gen_key(g, "realtime");
	json_gen_object_open(g);
	sim_tr_stats_ws_realtime(tr, g);
	json_gen_object_close(g);
	json_gen_key(g, "cumulative");
	json_gen_object_open(g);
	sim_tr_stats_ws_cumulative(tr, &w, g);
	json_gen_object_close(g);
	json_gen_object_close(g);
	sim_reply_json(r, 200, g, NULL);
	json_gen_free(g);
}

static void
sim_tr_rest_ws_realtime(struct sim_request *r)
{
	struct sim_tr *tr = sim_tr_rest_tr(r);
	struct json_gen *g = NULL;

	if (!sim_tr_rest_ws_ok(r))
		return;
	g = json_gen_new();
	json_gen_object_open(g);
	sim_tr_rest_stats_ids(g, tr);
	sim_tr_rest_kv_url(g, tr, "url", "/RealTimeStatistics");
	sim_tr_stats_ws_realtime(tr, g);
	json_gen_object_close(g);
	sim_reply_json(r, 200, g, NULL);
	json_gen_free(g);
}

static void
sim_tr_rest_ws_cumulative(struct sim_request *r)
{
	struct sim_tr *tr = sim_tr_rest_tr(r);
	struct sim_tr_stats_window w;
	struct json_gen *g = NULL;

	if (!sim_tr_rest_ws_ok(r) || sim_tr_rest_window(r, &w) < 0)
		return;
	g = json_gen_new();
	json_gen_object_open(g);
	sim_tr_rest_stats_ids(g, tr);
	sim_tr_rest_kv_url(g, tr, "url", "/CumulativeStatistics");
	sim_tr_stats_ws_cumulative(tr, &w, g);
	json_gen_object_close(g);
	sim_reply_json(r, 200, g, NULL);
	json_gen_free(g);
}

/* One queue's {ids, realtime, cumulative} object (with url when with_url). */
static void
sim_tr_rest_queue_statistics_json(struct sim_tr *tr, struct sim_tr_queue *q,
				  const struct sim_tr_stats_window *w, bool with_url,
				  struct json_gen *g)
{
	json_gen_object_open(g);
	sim_tr_rest_stats_ids(g, tr);
	json_gen_kv_string(g, "task_queue_sid", q->sid);
	if (with_url)
		sim_tr_rest_kv_url(g, tr, "url", "/TaskQueues/%s/Statistics", q->sid);
	json_gen_key(g, "realtime");
	json_gen_object_open(g);
	sim_tr_stats_queue_realtime(tr, q, g);
	json_gen_object_close(g);
	json_gen_key(g, "cumulative");
	json_gen_object_open(g);
	sim_tr_stats_queue_cumulative(tr, q, w, g);
	json_gen_object_close(g);
	json_gen_object_close(g);
}

static void
sim_tr_rest_queue_statistics(struct sim_request *r)
{
	struct sim_tr *tr = sim_tr_rest_tr(r);
	struct sim_tr_stats_window w;
	struct sim_tr_queue *q = NULL;
	struct json_gen *g = NULL;

	if (!sim_tr_rest_ws_ok(r))
		return;
	q = sim_tr_rest_queue_of(r);
	if (q == NULL || sim_tr_rest_window(r, &w) < 0)
		return;
	g = json_gen_new();
	sim_tr_rest_queue_statistics_json(tr, q, &w, true, g);
	sim_reply_json(r, 200, g, NULL);
	json_gen_free(g);
}

static void
sim_tr_rest_queue_realtime(struct sim_request *r)
{
	struct sim_tr *tr = sim_tr_rest_tr(r);
	struct sim_tr_queue *q = NULL;
	struct json_gen *g = NULL;

	if (!sim_tr_rest_ws_ok(r))
		return;
	q = sim_tr_rest_queue_of(r);
	if (q == NULL)
		return;
	g = json_gen_new();
	json_gen_object_open(g);
	sim_tr_rest_stats_ids(g, tr);
	sim_tr_rest_kv_url(g, tr, "url", "/TaskQueues/%s/RealTimeStatistics", q->sid);
	sim_tr_stats_queue_realtime(tr, q, g);
	json_gen_object_close(g);
	sim_reply_json(r, 200, g, NULL);
	json_gen_free(g);
}

static void
sim_tr_rest_queue_cumulative(struct sim_request *r)
{
	struct sim_tr *tr = sim_tr_rest_tr(r);
	struct sim_tr_stats_window w;
	struct sim_tr_queue *q = NULL;
	struct json_gen *g = NULL;

	if (!sim_tr_rest_ws_ok(r))
		return;
	q = sim_tr_rest_queue_of(r);
	if (q == NULL || sim_tr_rest_window(r, &w) < 0)
		return;
	g = json_gen_new();
	json_gen_object_open(g);
	sim_tr_rest_stats_ids(g, tr);
	sim_tr_rest_kv_url(g, tr, "url", "/TaskQueues/%s/CumulativeStatistics", q->sid);
	sim_tr_stats_queue_cumulative(tr, q, &w, g);
	json_gen_object_close(g);
	sim_reply_json(r, 200, g, NULL);
	json_gen_free(g);
}

static void
sim_tr_rest_queues_statistics_list(struct sim_request *r)
{
	struct sim_tr *tr = sim_tr_rest_tr(r);
	const char *name = sim_tr_rest_query(r, "FriendlyName");
	struct sim_tr_stats_window w;
	struct sim_tr_queue *q = NULL;
	struct json_gen *g = NULL;
	struct sim_pager p;

	if (!sim_tr_rest_ws_ok(r) || sim_tr_rest_window(r, &w) < 0 ||
	    sim_pager_init(&p, r, 1000) < 0)
		return;
	g = json_gen_new();
	sim_pager_v1_open(&p, g, "task_queues_statistics");
	TAILQ_FOREACH(q, &tr->queue_list, entry) {
		if (name != NULL && strcmp(name, q->friendly_name) != 0)
			continue;
		if (sim_pager_take(&p, q->seq))
			sim_tr_rest_queue_statistics_json(tr, q, &w, false, g);
		if (sim_pager_done(&p))
			break;
	}
	sim_pager_v1_close(&p, g, "task_queues_statistics");
	sim_tr_rest_reply_list(r, g);
	json_gen_free(g);
}

/* POST TaskQueues/RealTimeStatistics with a JSON body {"QueueSids": [...]} (1..50). */
static void
sim_tr_rest_queues_bulk_realtime(struct sim_request *r)
{
	struct sim_tr *tr = sim_tr_rest_tr(r);
	struct json_doc *doc = NULL;
	const struct json_value *sids = NULL;
	struct sim_tr_queue *q = NULL;
	struct json_gen *g = NULL;
	const char *sid = NULL;
	size_t n = 0;
	size_t i;

	if (!sim_tr_rest_ws_ok(r))
		return;
	if (r->body_len > 0 && json_parse(r->body, r->body_len, NULL, &doc, NULL) == 0)
		sids = json_get(json_doc_root(doc), "QueueSids");
	else if (form_has(r->form, "QueueSids"))
		n = form_get_count(r->form, "QueueSids");
	if (sids != NULL)
		n = json_is_array(sids) ? json_array_len(sids) : 0;
	if (n < 1 || n > 50) {
		sim_reply_error(r, 400, 20001, "QueueSids must list 1 to 50 TaskQueue SIDs");
		goto out;
	}
	for (i = 0; i < n; i++) {
		sid = sids != NULL ? json_string(json_array_at(sids, i))
				   : form_get_nth(r->form, "QueueSids", i);
		if (sid == NULL || !sid_is_valid(sid, "WQ")) {
			sim_reply_error(r, 400, 20001, "Invalid TaskQueue SID in QueueSids");
			goto out;
		}
	}
	g = json_gen_new();
	json_gen_object_open(g);
	sim_tr_rest_stats_ids(g, tr);
	json_gen_key(g, "task_queue_data");
	json_gen_array_open(g);
	for (i = 0; i < n; i++) {
		sid = sids != NULL ? json_string(json_array_at(sids, i))
				   : form_get_nth(r->form, "QueueSids", i);
		q = sim_tr_queue_get(tr, sid);
		json_gen_object_open(g);
		if (q != NULL) {
			sim_tr_stats_queue_realtime(tr, q, g);
		} else {
			/* A foreign SID comes back with zeros. */
			json_gen_kv_string(g, "task_queue_sid", sid);
			json_gen_kv_int(g, "total_tasks", 0);
			json_gen_kv_int(g, "total_available_workers", 0);
			json_gen_kv_int(g, "total_eligible_workers", 0);
			json_gen_kv_int(g, "longest_task_waiting_age", 0);
		}
		json_gen_object_close(g);
	}
	json_gen_array_close(g);
	json_gen_kv_int(g, "task_queue_response_count", (int64_t)n);
	sim_tr_rest_kv_url(g, tr, "url", "/TaskQueues/RealTimeStatistics");
	json_gen_object_close(g);
	sim_reply_json(r, 200, g, NULL);
out:
	json_gen_free(g);
	json_doc_free(doc);
}

static int
sim_tr_rest_workers_selection(struct sim_request *r, struct sim_tr_stats_workers *sel)
{
	memset(sel, 0, sizeof(*sel));
	sel->friendly_name = sim_tr_rest_query(r, "FriendlyName");
	return sim_tr_rest_queue_filter(r, &sel->queue);
}

static void
sim_tr_rest_workers_statistics(struct sim_request *r)
{
	struct sim_tr *tr = sim_tr_rest_tr(r);
	struct sim_tr_stats_workers sel;
	struct sim_tr_stats_window w;
	struct json_gen *g = NULL;

	if (!sim_tr_rest_ws_ok(r) || sim_tr_rest_workers_selection(r, &sel) < 0 ||
	    sim_tr_rest_window(r, &w) < 0)
		return;
	g = json_gen_new();
	json_gen_object_open(g);
	sim_tr_rest_stats_ids(g, tr);
	sim_tr_rest_kv_url(g, tr, "url", "/Workers/Statistics");
	json_gen_key(g, "realtime");
	json_gen_object_open(g);
	sim_tr_stats_workers_realtime(tr, &sel, g);
	json_gen_object_close(g);
	json_gen_key(g, "cumulative");
	json_gen_object_open(g);
	sim_tr_stats_workers_cumulative(tr, &sel, &w, g);
	json_gen_object_close(g);
	json_gen_object_close(g);
	sim_reply_json(r, 200, g, NULL);
	json_gen_free(g);
}

static void
sim_tr_rest_workers_realtime(struct sim_request *r)
{
	struct sim_tr *tr = sim_tr_rest_tr(r);
	struct sim_tr_stats_workers sel;
	struct json_gen *g = NULL;

	if (!sim_tr_rest_ws_ok(r) || sim_tr_rest_workers_selection(r, &sel) < 0)
		return;
	g = json_gen_new();
	json_gen_object_open(g);
	sim_tr_rest_stats_ids(g, tr);
	sim_tr_rest_kv_url(g, tr, "url", "/Workers/RealTimeStatistics");
	sim_tr_stats_workers_realtime(tr, &sel, g);
	json_gen_object_close(g);
	sim_reply_json(r, 200, g, NULL);
	json_gen_free(g);
}

static void
sim_tr_rest_workers_cumulative(struct sim_request *r)
{
	struct sim_tr *tr = sim_tr_rest_tr(r);
	struct sim_tr_stats_workers sel;
	struct sim_tr_stats_window w;
	struct json_gen *g = NULL;

	if (!sim_tr_rest_ws_ok(r) || sim_tr_rest_workers_selection(r, &sel) < 0 ||
	    sim_tr_rest_window(r, &w) < 0)
		return;
	g = json_gen_new();
	json_gen_object_open(g);
	sim_tr_rest_stats_ids(g, tr);
	sim_tr_rest_kv_url(g, tr, "url", "/Workers/CumulativeStatistics");
	sim_tr_stats_workers_cumulative(tr, &sel, &w, g);
	json_gen_object_close(g);
	sim_reply_json(r, 200, g, NULL);
	json_gen_free(g);
}

static void
sim_tr_rest_worker_statistics(struct sim_request *r)
{
	struct sim_tr *tr = sim_tr_rest_tr(r);
	struct sim_tr_stats_window w;
	struct sim_tr_worker *wk = NULL;
	struct json_gen *g = NULL;

	if (!sim_tr_rest_ws_ok(r))
		return;
	wk = sim_tr_rest_worker_of(r, 1);
	if (wk == NULL || sim_tr_rest_window(r, &w) < 0)
		return;
	g = json_gen_new();
	json_gen_object_open(g);
	sim_tr_rest_stats_ids(g, tr);
	json_gen_kv_string(g, "worker_sid", wk->sid);
	sim_tr_rest_kv_url(g, tr, "url", "/Workers/%s/Statistics", wk->sid);
	json_gen_key(g, "cumulative");
	json_gen_object_open(g);
	sim_tr_stats_worker_cumulative(tr, wk, &w, g);
	json_gen_object_close(g);
	json_gen_object_close(g);
	sim_reply_json(r, 200, g, NULL);
	json_gen_free(g);
}

static void
sim_tr_rest_workflow_statistics_common(struct sim_request *r, bool realtime, bool cumulative)
{
	struct sim_tr *tr = sim_tr_rest_tr(r);
	struct sim_tr_stats_window w;
	struct sim_tr_workflow *wf = NULL;
	struct json_gen *g = NULL;

	if (!sim_tr_rest_ws_ok(r))
		return;
	wf = sim_tr_rest_workflow_of(r);
	if (wf == NULL || (cumulative && sim_tr_rest_window(r, &w) < 0))
		return;
	g = json_gen_new();
	json_gen_object_open(g);
	sim_tr_rest_stats_ids(g, tr);
	json_gen_kv_string(g, "workflow_sid", wf->sid);
	if (realtime && cumulative) {
		sim_tr_rest_kv_url(g, tr, "url", "/Workflows/%s/Statistics", wf->sid);
		json_gen_key(g, "realtime");
		json_gen_object_open(g);
		sim_tr_stats_workflow_realtime(tr, wf, g);
		json_gen_object_close(g);
		json_gen_key(g, "cumulative");
		json_gen_object_open(g);
		sim_tr_stats_workflow_cumulative(tr, wf, &w, g);
		json_gen_object_close(g);
	} else if (realtime) {
		sim_tr_rest_kv_url(g, tr, "url", "/Workflows/%s/RealTimeStatistics", wf->sid);
		sim_tr_stats_workflow_realtime(tr, wf, g);
	} else {
		sim_tr_rest_kv_url(g, tr, "url", "/Workflows/%s/CumulativeStatistics", wf->sid);
		sim_tr_stats_workflow_cumulative(tr, wf, &w, g);
	}
	json_gen_object_close(g);
	sim_reply_json(r, 200, g, NULL);
	json_gen_free(g);
}

static void
sim_tr_rest_workflow_statistics(struct sim_request *r)
{
	sim_tr_rest_workflow_statistics_common(r, true, true);
}

static void
sim_tr_rest_workflow_realtime(struct sim_request *r)
{
	sim_tr_rest_workflow_statistics_common(r, true, false);
}

static void
sim_tr_rest_workflow_cumulative(struct sim_request *r)
{
	sim_tr_rest_workflow_statistics_common(r, false, true);
}

#define WS "/v1/Workspaces/{WS}"

const struct sim_route sim_tr_rest_statistics_routes[] = {
	{ "GET", WS "/Statistics", sim_tr_rest_ws_statistics, false },
	{ "GET", WS "/RealTimeStatistics", sim_tr_rest_ws_realtime, false },
	{ "GET", WS "/CumulativeStatistics", sim_tr_rest_ws_cumulative, false },
	{ "GET", WS "/Workers/Statistics", sim_tr_rest_workers_statistics, false },
	{ "GET", WS "/Workers/RealTimeStatistics", sim_tr_rest_workers_realtime, false },
	{ "GET", WS "/Workers/CumulativeStatistics", sim_tr_rest_workers_cumulative, false },
	{ "GET", WS "/Workers/{WK}/Statistics", sim_tr_rest_worker_statistics, false },
	{ "GET", WS "/TaskQueues/Statistics", sim_tr_rest_queues_statistics_list, false },
	{ "POST", WS "/TaskQueues/RealTimeStatistics", sim_tr_rest_queues_bulk_realtime, false },
	{ "GET", WS "/TaskQueues/{WQ}/Statistics", sim_tr_rest_queue_statistics, false },
	{ "GET", WS "/TaskQueues/{WQ}/RealTimeStatistics", sim_tr_rest_queue_realtime, false },
	{ "GET", WS "/TaskQueues/{WQ}/CumulativeStatistics", sim_tr_rest_queue_cumulative, false },
	{ "GET", WS "/Workflows/{WW}/Statistics", sim_tr_rest_workflow_statistics, false },
	{ "GET", WS "/Workflows/{WW}/RealTimeStatistics", sim_tr_rest_workflow_realtime, false },
	{ "GET", WS "/Workflows/{WW}/CumulativeStatistics", sim_tr_rest_workflow_cumulative,
	  false },
};

const size_t sim_tr_rest_statistics_nroutes =
	sizeof(sim_tr_rest_statistics_routes) / sizeof(sim_tr_rest_statistics_routes[0]);
