/*
 * TaskRouter v1 REST handlers (contract in sim_tr_rest.h).
 *
 * Conventions kept by every handler:
 * - the {WS} capture must be the workspace SID, else 404 / 20404;
 * - parameters are validated before anything changes, so a 400 or 412 never
 *   leaves a half-applied update;
 * - exactly one reply; the request is gone after it, so handlers keep `tr`
 *   in a local and run routing after replying;
 * - attributes are returned as JSON strings, URLs are absolute on
 *   sim->base_url, dates ISO-8601 UTC; Task, Worker and Reservation replies
 *   carry their version as ETag, and If-Match is compared with it.
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

#define SIM_TR_REST_MAX_PRIORITY 2147483647LL
#define SIM_TR_REST_MAX_TTL_S	 1209600
#define SIM_TR_REST_NAME_MAX	 64
#define SIM_TR_REST_MAX_MINUTES	 43200
/* A list generator whose page was larger than this is not kept for the next page. */
#define SIM_TR_REST_LIST_KEEP_BYTES (1024 * 1024)

static struct sim_tr *
sim_tr_rest_tr(struct sim_request *r)
{
	return r->sim->tr;
}

/* Checks the {WS} capture (always the first); replies 404 when it is not ours. */
static bool
sim_tr_rest_ws_ok(struct sim_request *r)
{
	struct sim_tr *tr = sim_tr_rest_tr(r);

	if (r->nparams > 0 && strcmp(r->params[0], tr->ws.sid) == 0)
		return true;
	sim_reply_error(r, 404, 20404, "The requested resource %s was not found", r->path);
	return false;
}

static void
sim_tr_rest_not_found(struct sim_request *r)
{
	sim_reply_error(r, 404, 20404, "The requested resource %s was not found", r->path);
}

/*
 * ISO dates are second-granular and the dates of one object are mostly the
 * same second, so the last one formatted is remembered (strftime per field
 * was a visible share of the profile).
 */
static void
sim_tr_rest_kv_iso(struct json_gen *g, struct sim_tr *tr, const char *key, int64_t ms)
{
	int64_t s = ms / 1000;

	if (ms < 0 || s != tr->iso_memo_s) {
		sim_format_iso(ms, tr->iso_memo);
		tr->iso_memo_s = ms < 0 ? -1 : s;
	}
	json_gen_kv_string(g, key, tr->iso_memo);
}

/* key: base_url + "/v1/Workspaces/WS" + formatted suffix. */
static void __attribute__((format(printf, 4, 5)))
sim_tr_rest_kv_url(struct json_gen *g, struct sim_tr *tr, const char *key, const char *fmt, ...)
{
	char url[512];
	size_t n;
	int m;
	struct buf b;
	va_list ap;

	if (tr->url_prefix == NULL)
		tr->url_prefix = xasprintf("%s/v1/Workspaces/%s", tr->sim->base_url, tr->ws.sid);
	n = strlen(tr->url_prefix);
	if (n < sizeof(url)) {
		memcpy(url, tr->url_prefix, n);
		va_start(ap, fmt);
		m = vsnprintf(url + n, sizeof(url) - n, fmt, ap);
		va_end(ap);
		if (m >= 0 && (size_t)m < sizeof(url) - n) {
			json_gen_kv_string(g, key, url);
			return;
		}
	}
	buf_init(&b);
	buf_puts(&b, tr->url_prefix);
	va_start(ap, fmt);
	buf_vprintf(&b, fmt, ap);
	va_end(ap);
	json_gen_kv_string(g, key, b.data);
	buf_clear(&b);
}

static void
sim_tr_rest_etag(int64_t version, char out[24])
{
	snprintf(out, 24, "%" PRId64, version);
}

/* The generator serializations are built in; reused, so it is empty between uses. */
static struct json_gen *
sim_tr_rest_scratch(struct sim_tr *tr)
{
	if (tr->json_scratch == NULL)
		tr->json_scratch = json_gen_new();
	return tr->json_scratch;
}

/*
 * The generator of the Workers and Tasks list pages, kept between requests
 * so its ~100 KB buffer is not grown from scratch (and page-faulted in) for
 * every page. Released by sim_tr_rest_list_gen_done.
 */
static struct json_gen *
sim_tr_rest_list_gen(struct sim_tr *tr)
{
	if (tr->json_list == NULL)
		tr->json_list = json_gen_new();
	return tr->json_list;
}

/* Empties the list generator; a very large one is freed rather than kept. */
static void
sim_tr_rest_list_gen_done(struct sim_tr *tr)
{
	size_t len = 0;

	(void)json_gen_text(tr->json_list, &len);
	if (len > SIM_TR_REST_LIST_KEEP_BYTES) {
		json_gen_free(tr->json_list);
		tr->json_list = NULL;
	} else {
		json_gen_reset(tr->json_list);
	}
}

static bool
sim_tr_rest_cache_valid(const struct sim_tr *tr, const struct sim_tr_json_cache *c)
{
	return c->text != NULL && c->epoch == tr->json_epoch;
}

#ifdef SIM_TR_REST_CACHE_CHECK
/*
 * Debug builds (meson's debug option): every text served from a cache is
 * compared with a fresh serialization, held in fresh (reset afterwards), so
 * a change that missed its invalidation fails the first test that reads the
 * object back instead of serving stale JSON.
 */
static void
sim_tr_rest_cache_check(struct json_gen *fresh, const char *what, const char *sid,
			const char *cached, size_t len)
{
	size_t flen = 0;
	const char *ftext = json_gen_text(fresh, &flen);

	if (flen != len || memcmp(ftext, cached, len) != 0)
		fatalx("stale JSON cache for %s %s: cached %.*s, fresh %.*s", what, sid, (int)len,
		       cached, (int)flen, ftext);
	json_gen_reset(fresh);
}
#endif

/*
 * Lists carry an ETag too (twilio-api.md 3.3 documents it for Workers): the
 * number of events so far, which changes whenever the model does.
 */
static void
sim_tr_rest_reply_list(struct sim_request *r, struct json_gen *g)
{
	struct sim_tr *tr = sim_tr_rest_tr(r);
	char etag[24];

	sim_tr_rest_etag((int64_t)sim_tr_events_total(tr->events), etag);
	sim_reply_json(r, 200, g, etag);
}

/* If-Match against version (quotes and a W/ prefix tolerated); replies 412 on mismatch. */
static bool
sim_tr_rest_if_match(struct sim_request *r, int64_t version)
{
	char want[24];

	if (sim_http_if_match_ok(r, (uint64_t)version))
		return true;
	sim_tr_rest_etag(version, want);
	sim_reply_error(r, 412, 20412, "Precondition Failed: If-Match does not match version %s",
			want);
	return false;
}

static const char *
sim_tr_rest_param(struct sim_request *r, const char *name)
{
	const char *v = form_get(r->form, name);

	return v != NULL ? v : form_get(r->query, name);
}

static const char *
sim_tr_rest_query(struct sim_request *r, const char *name)
{
	const char *v = form_get(r->query, name);

	return v != NULL && v[0] != '\0' ? v : NULL;
}

static bool
sim_tr_rest_truthy(const char *v)
{
	return v != NULL &&
	       (strcasecmp(v, "true") == 0 || strcmp(v, "1") == 0 || strcasecmp(v, "yes") == 0);
}

/* Optional boolean form parameter: replies 400 on a bad value. */
static int
sim_tr_rest_bool(struct sim_request *r, const char *name, bool *present, bool *out)
{
	const char *v = sim_tr_rest_param(r, name);

	*present = v != NULL;
	if (v == NULL)
		return 0;
	return sim_param_bool(r, v, out);
}

static int
sim_tr_rest_attributes(struct sim_request *r, const char *v)
{
	char *cause = NULL;

	if (sim_tr_state_parse_attributes(v, NULL, &cause) == 0)
		return 0;
	sim_reply_error(r, 400, 20001, "Invalid Attributes: %s", cause);
	free(cause);
	return -EINVAL;
}

static int
sim_tr_rest_activity_param(struct sim_request *r, const char *name, struct sim_tr_activity **out)
{
	const char *v = sim_tr_rest_param(r, name);

	*out = NULL;
	if (v == NULL || v[0] == '\0')
		return 0;
	*out = sim_tr_activity_get(sim_tr_rest_tr(r), v);
	if (*out == NULL) {
		sim_reply_error(r, 400, 20001, "%s %s is not an Activity of this Workspace", name,
				v);
		return -EINVAL;
	}
	return 0;
}

static void
sim_tr_rest_reply_cause(struct sim_request *r, char *cause)
{
	sim_reply_error(r, 400, 20001, "%s", cause != NULL ? cause : "Invalid request");
	free(cause);
}

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

/* Workers */

void
sim_tr_rest_worker_json(struct sim_tr *tr, const struct sim_tr_worker *w, struct json_gen *g)
{
	json_gen_object_open(g);
	json_gen_kv_string(g, "account_sid", tr->sim->opt.account_sid);
	json_gen_kv_string(g, "activity_name", w->activity->friendly_name);
	json_gen_kv_string(g, "activity_sid", w->activity->sid);
	json_gen_kv_string(g, "attributes", w->attributes);
	json_gen_kv_bool(g, "available", w->activity->available);
	sim_tr_rest_kv_iso(g, tr, "date_created", w->created_ms);
	sim_tr_rest_kv_iso(g, tr, "date_status_changed", w->status_changed_ms);
	sim_tr_rest_kv_iso(g, tr, "date_updated", w->updated_ms);
	json_gen_kv_string(g, "friendly_name", w->friendly_name);
	json_gen_kv_string(g, "sid", w->sid);
	json_gen_kv_string(g, "workspace_sid", tr->ws.sid);
	sim_tr_rest_kv_url(g, tr, "url", "/Workers/%s", w->sid);
	json_gen_key(g, "links");
	json_gen_object_open(g);
	sim_tr_rest_kv_url(g, tr, "activity", "/Activities/%s", w->activity->sid);
	sim_tr_rest_kv_url(g, tr, "workspace", "%s", "");
	sim_tr_rest_kv_url(g, tr, "channels", "/Workers/%s/Channels", w->sid);
	sim_tr_rest_kv_url(g, tr, "reservations", "/Workers/%s/Reservations", w->sid);
	sim_tr_rest_kv_url(g, tr, "statistics", "/Workers/%s/Statistics", w->sid);
	sim_tr_rest_kv_url(g, tr, "real_time_statistics", "/Workers/RealTimeStatistics");
	sim_tr_rest_kv_url(g, tr, "cumulative_statistics", "/Workers/CumulativeStatistics");
	sim_tr_rest_kv_url(g, tr, "worker_statistics", "/Workers/%s/Statistics", w->sid);
	sim_tr_rest_kv_url(g, tr, "worker_channels", "/Workers/%s/Channels", w->sid);
	json_gen_object_close(g);
	json_gen_object_close(g);
}

/* Writes w from its cache, built first when missing. */
static void
sim_tr_rest_worker_emit(struct sim_tr *tr, struct sim_tr_worker *w, struct json_gen *g)
{
	struct json_gen *s = sim_tr_rest_scratch(tr);

	if (!sim_tr_rest_cache_valid(tr, &w->json)) {
		sim_tr_json_cache_clear(&w->json);
		sim_tr_rest_worker_json(tr, w, s);
		w->json.text = json_gen_steal(s, &w->json.len);
		w->json.epoch = tr->json_epoch;
	}
#ifdef SIM_TR_REST_CACHE_CHECK
	sim_tr_rest_worker_json(tr, w, s);
	sim_tr_rest_cache_check(s, "worker", w->sid, w->json.text, w->json.len);
#endif
	json_gen_verbatim(g, w->json.text, w->json.len);
}

static void
sim_tr_rest_reply_worker(struct sim_request *r, int status, struct sim_tr_worker *w)
{
	struct json_gen *g = json_gen_new();
	char etag[24];

	sim_tr_rest_etag(w->version, etag);
	sim_tr_rest_worker_emit(sim_tr_rest_tr(r), w, g);
	sim_reply_json(r, status, g, etag);
	json_gen_free(g);
}

/* A queue named by TaskQueueSid or TaskQueueName; replies 400/404 when unknown. */
static int
sim_tr_rest_queue_filter(struct sim_request *r, struct sim_tr_queue **out)
{
	struct sim_tr *tr = sim_tr_rest_tr(r);
	const char *qsid = sim_tr_rest_query(r, "TaskQueueSid");
	const char *qname = sim_tr_rest_query(r, "TaskQueueName");

	*out = NULL;
	if (qsid != NULL) {
		*out = sim_tr_queue_get(tr, qsid);
		if (*out == NULL) {
			sim_reply_error(r, 404, 20404, "TaskQueue %s not found", qsid);
			return -ENOENT;
		}
	} else if (qname != NULL) {
		*out = sim_tr_queue_by_name(tr, qname);
		if (*out == NULL) {
			sim_reply_error(r, 404, 20404, "TaskQueue '%s' not found", qname);
			return -ENOENT;
		}
	}
	return 0;
}

/* An optional expression parameter; replies 400 when it does not parse. */
static int
sim_tr_rest_expr_param(struct sim_request *r, const char *name, struct sim_tr_expr **out)
{
	const char *v = sim_tr_rest_query(r, name);
	char *cause = NULL;

	*out = NULL;
	if (v == NULL)
		return 0;
	if (sim_tr_expr_parse(v, out, &cause) == 0)
		return 0;
	sim_reply_error(r, 400, 20001, "Invalid %s: %s", name, cause);
	free(cause);
	return -EINVAL;
}

/* The Workers list filters (twilio-api.md 3.3); NULL members do not filter. */
struct sim_tr_rest_worker_filter {
	const char *activity_sid;
	const char *activity_name;
	const char *available;
	const char *friendly_name;
	struct sim_tr_queue *queue;
	struct sim_tr_expr *expr;
};

static bool
sim_tr_rest_worker_matches(const struct sim_tr_rest_worker_filter *f, struct sim_tr_worker *w)
{
	if (f->activity_sid != NULL && strcmp(f->activity_sid, w->activity->sid) != 0)
		return false;
	if (f->activity_name != NULL && strcmp(f->activity_name, w->activity->friendly_name) != 0)
		return false;
	if (f->available != NULL && sim_tr_rest_truthy(f->available) != w->activity->available)
		return false;
	if (f->friendly_name != NULL && strcmp(f->friendly_name, w->friendly_name) != 0)
		return false;
	if (f->queue != NULL && !sim_tr_queue_accepts(f->queue, w))
		return false;
	if (f->expr != NULL &&
	    !sim_tr_expr_eval(f->expr, json_doc_root(w->attr_doc), sim_tr_worker_field, w))
		return false;
	return true;
}

/*
 * Where to start offering workers to the pager. Without a PageToken, at the
 * first one (Page=N skips by count). With one, at the cursor found by binary
 * search, backed up over the page_size + 1 matching workers before it: the
 * pager needs exactly those to link the previous page, so the page costs the
 * same at worker 20 and at worker 20,000.
 */
static struct sim_tr_worker *
sim_tr_rest_workers_start(struct sim_tr *tr, const struct sim_pager *p,
			  const struct sim_tr_rest_worker_filter *f)
{
	struct sim_tr_worker *start = NULL;
	struct sim_tr_worker *w = NULL;
	int need = p->page_size + 1;

	if (!p->have_after)
		return TAILQ_FIRST(&tr->worker_list);
	start = sim_tr_seq_index_after(&tr->worker_index, p->after);
	w = start != NULL ? TAILQ_PREV(start, sim_tr_worker_list, entry)
			  : TAILQ_LAST(&tr->worker_list, sim_tr_worker_list);
	while (w != NULL && need > 0) {
		if (sim_tr_rest_worker_matches(f, w))
			need--;
		start = w;
		w = TAILQ_PREV(w, sim_tr_worker_list, entry);
	}
	return start;
}

static void
sim_tr_rest_workers_list(struct sim_request *r)
{
	struct sim_tr *tr = sim_tr_rest_tr(r);
	struct sim_tr_rest_worker_filter f = {
		.activity_sid = sim_tr_rest_query(r, "ActivitySid"),
		.activity_name = sim_tr_rest_query(r, "ActivityName"),
		.available = sim_tr_rest_query(r, "Available"),
		.friendly_name = sim_tr_rest_query(r, "FriendlyName"),
	};
	struct sim_tr_worker *w = NULL;
	struct json_gen *g = NULL;
	struct sim_pager p;

	if (!sim_tr_rest_ws_ok(r) || sim_tr_rest_queue_filter(r, &f.queue) < 0 ||
	    sim_tr_rest_expr_param(r, "TargetWorkersExpression", &f.expr) < 0)
		return;
	if (sim_pager_init(&p, r, 1000) < 0) {
		sim_tr_expr_free(f.expr);
		return;
	}
	g = sim_tr_rest_list_gen(tr);
	sim_pager_v1_open(&p, g, "workers");
	for (w = sim_tr_rest_workers_start(tr, &p, &f); w != NULL; w = TAILQ_NEXT(w, entry)) {
		if (!sim_tr_rest_worker_matches(&f, w))
			continue;
		if (sim_pager_take(&p, w->seq))
			sim_tr_rest_worker_emit(tr, w, g);
		if (sim_pager_done(&p))
			break;
	}
	sim_pager_v1_close(&p, g, "workers");
	sim_tr_rest_reply_list(r, g);
	sim_tr_rest_list_gen_done(tr);
	sim_tr_expr_free(f.expr);
}

static void
sim_tr_rest_worker_create(struct sim_request *r)
{
	struct sim_tr *tr = sim_tr_rest_tr(r);
	const char *name = sim_tr_rest_param(r, "FriendlyName");
	const char *attrs = sim_tr_rest_param(r, "Attributes");
	struct sim_tr_activity *a = NULL;
	struct sim_tr_worker *w = NULL;

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
	if (sim_tr_worker_by_name(tr, name) != NULL) {
		sim_reply_error(r, 409, 20001, "A Worker named '%s' already exists", name);
		return;
	}
	if (attrs == NULL || attrs[0] == '\0')
		attrs = "{}";
	if (sim_tr_rest_attributes(r, attrs) < 0 ||
	    sim_tr_rest_activity_param(r, "ActivitySid", &a) < 0)
		return;
	w = sim_tr_routing_worker_create(tr, name, attrs, a != NULL ? a : tr->ws.default_activity);
	sim_tr_rest_reply_worker(r, 201, w);
	sim_tr_routing_run(tr);
}

static struct sim_tr_worker *
sim_tr_rest_worker_of(struct sim_request *r, size_t i)
{
	struct sim_tr_worker *w = sim_tr_worker_get(sim_tr_rest_tr(r), r->params[i]);

	if (w == NULL)
		sim_tr_rest_not_found(r);
	return w;
}

static void
sim_tr_rest_worker_fetch(struct sim_request *r)
{
	struct sim_tr_worker *w = NULL;

	if (!sim_tr_rest_ws_ok(r))
		return;
	w = sim_tr_rest_worker_of(r, 1);
	if (w != NULL)
		sim_tr_rest_reply_worker(r, 200, w);
}

/*
 * WorkerChannels: every worker has one per task channel, with the capacity
 * and availability the worker channel update sets (default 1 and true) and
 * its figures from the worker's live state. Its SID is WC + the worker's 32
 * hex digits with the last byte advanced by the channel's index (the default
 * channel's is the worker's own digits), so it is stable and unique without
 * extra state.
 */
static void
sim_tr_rest_worker_channel_sid(const struct sim_tr_worker *w, enum sim_tr_channel ch,
			       char out[SID_LEN + 1])
{
	unsigned last = 0;

	out[0] = 'W';
	out[1] = 'C';
	memcpy(out + 2, w->sid + 2, SID_LEN - 2);
	out[SID_LEN] = '\0';
	if (ch == SIM_TR_CH_DEFAULT || sscanf(out + SID_LEN - 2, "%2x", &last) != 1)
		return;
	(void)snprintf(out + SID_LEN - 2, 3, "%02x", (last + (unsigned)ch) & 0xffu);
}

static void
sim_tr_rest_worker_channel_fields(struct sim_tr *tr, const struct sim_tr_worker *w,
				  enum sim_tr_channel ch, struct json_gen *g)
{
	const struct sim_tr_wchannel *c = &w->channels[ch];
	char wc[SID_LEN + 1];
	int64_t assigned = 0;
	int64_t left = 0;
	struct sim_tr_reservation *res = NULL;

	/* assigned_tasks: accepted or wrapping ones; capacity left counts pending ones too */
	TAILQ_FOREACH(res, &w->reservations, worker_entry) {
		if (res->holding && res->task->channel == ch && res->status != SIM_TR_RES_PENDING)
			assigned++;
	}
	if (w->activity != NULL && w->activity->available && c->available && c->capacity > 0)
		left = c->capacity - c->busy > 0 ? c->capacity - c->busy : 0;
	sim_tr_rest_worker_channel_sid(w, ch, wc);
	json_gen_object_open(g);
	json_gen_kv_string(g, "account_sid", tr->sim->opt.account_sid);
	json_gen_kv_int(g, "assigned_tasks", assigned);
	json_gen_kv_bool(g, "available", c->available);
	json_gen_kv_int(g, "available_capacity_percentage",
			c->capacity > 0 ? left * 100 / c->capacity : 0);
	json_gen_kv_int(g, "configured_capacity", c->capacity);
	sim_tr_rest_kv_iso(g, tr, "date_created", w->created_ms);
	sim_tr_rest_kv_iso(g, tr, "date_updated", c->updated_ms);
	json_gen_kv_string(g, "sid", wc);
	json_gen_kv_string(g, "task_channel_sid", tr->ws.channel_sids[ch]);
	json_gen_kv_string(g, "task_channel_unique_name", sim_tr_channel_name(ch));
	json_gen_kv_string(g, "worker_sid", w->sid);
	json_gen_kv_string(g, "workspace_sid", tr->ws.sid);
	sim_tr_rest_kv_url(g, tr, "url", "/Workers/%s/Channels/%s", w->sid, wc);
	json_gen_key(g, "links");
	json_gen_object_open(g);
	sim_tr_rest_kv_url(g, tr, "task_channel", "/TaskChannels/%s", tr->ws.channel_sids[ch]);
	sim_tr_rest_kv_url(g, tr, "worker", "/Workers/%s", w->sid);
	sim_tr_rest_kv_url(g, tr, "workspace", "%s", "");
	json_gen_object_close(g);
	json_gen_object_close(g);
}

static void
sim_tr_rest_worker_channels_list(struct sim_request *r)
{
	struct sim_tr *tr = sim_tr_rest_tr(r);
	struct sim_tr_worker *w = NULL;
	struct json_gen *g = NULL;
	struct sim_pager p;
	int i;

	if (!sim_tr_rest_ws_ok(r))
		return;
	w = sim_tr_rest_worker_of(r, 1);
	if (w == NULL || sim_pager_init(&p, r, 1000) < 0)
		return;
	g = json_gen_new();
	sim_pager_v1_open(&p, g, "channels");
	for (i = 0; i < SIM_TR_NCHANNELS; i++) {
		if (sim_pager_take(&p, (uint64_t)i + 1))
			sim_tr_rest_worker_channel_fields(tr, w, (enum sim_tr_channel)i, g);
		if (sim_pager_done(&p))
			break;
	}
	sim_pager_v1_close(&p, g, "channels");
	sim_tr_rest_reply_list(r, g);
	json_gen_free(g);
}

/* The channel {WC} names: a WC SID, or the task channel's unique name or TC SID, as Twilio allows.
 */
static int
sim_tr_rest_worker_channel_of(struct sim_request *r, const struct sim_tr_worker *w,
			      enum sim_tr_channel *out)
{
	struct sim_tr *tr = sim_tr_rest_tr(r);
	char wc[SID_LEN + 1];
	int i;

	for (i = 0; i < SIM_TR_NCHANNELS; i++) {
		sim_tr_rest_worker_channel_sid(w, (enum sim_tr_channel)i, wc);
		if (strcmp(r->params[2], wc) == 0) {
			*out = (enum sim_tr_channel)i;
			return 0;
		}
	}
	if (sim_tr_channel_find(tr, r->params[2], out) == 0)
		return 0;
	sim_tr_rest_not_found(r);
	return -ENOENT;
}

static void
sim_tr_rest_worker_channel_fetch(struct sim_request *r)
{
	struct sim_tr *tr = sim_tr_rest_tr(r);
	struct sim_tr_worker *w = NULL;
	struct json_gen *g = NULL;
	enum sim_tr_channel ch;

	if (!sim_tr_rest_ws_ok(r))
		return;
	w = sim_tr_rest_worker_of(r, 1);
	if (w == NULL || sim_tr_rest_worker_channel_of(r, w, &ch) < 0)
		return;
	g = json_gen_new();
	sim_tr_rest_worker_channel_fields(tr, w, ch, g);
	sim_reply_json(r, 200, g, NULL);
	json_gen_free(g);
}

/*
 * POST .../Workers/{WK}/Channels/{WC}: Capacity (0..50) and Available. A
 * lower capacity or Available=false keeps the reservations already held
 * and only stops new ones, as Twilio does; routing runs after the change.
 */
static void
sim_tr_rest_worker_channel_update(struct sim_request *r)
{
	struct sim_tr *tr = sim_tr_rest_tr(r);
	const char *cap = sim_tr_rest_param(r, "Capacity");
	struct sim_tr_worker *w = NULL;
	struct json_gen *g = NULL;
	enum sim_tr_channel ch;
	bool has_avail = false;
	bool avail = true;
	int64_t capacity = 0;

	if (!sim_tr_rest_ws_ok(r))
		return;
	w = sim_tr_rest_worker_of(r, 1);
	if (w == NULL || sim_tr_rest_worker_channel_of(r, w, &ch) < 0)
		return;
	capacity = w->channels[ch].capacity;
	avail = w->channels[ch].available;
	if (cap != NULL &&
	    sim_param_int(r, "Capacity", cap, 0, SIM_TR_CHANNEL_CAPACITY_MAX, &capacity) < 0)
		return;
	if (sim_tr_rest_bool(r, "Available", &has_avail, &avail) < 0)
		return;
	sim_tr_worker_set_channel(tr, w, ch, capacity, avail);
	g = json_gen_new();
	sim_tr_rest_worker_channel_fields(tr, w, ch, g);
	sim_reply_json(r, 200, g, NULL);
	json_gen_free(g);
	sim_tr_routing_run(tr);
}

static void
sim_tr_rest_worker_update(struct sim_request *r)
{
	struct sim_tr *tr = sim_tr_rest_tr(r);
	const char *name = sim_tr_rest_param(r, "FriendlyName");
	const char *attrs = sim_tr_rest_param(r, "Attributes");
	struct sim_tr_activity *a = NULL;
	struct sim_tr_worker *w = NULL;
	struct sim_tr_worker *other = NULL;
	bool has_reject = false;
	bool reject = false;

	if (!sim_tr_rest_ws_ok(r))
		return;
	w = sim_tr_rest_worker_of(r, 1);
	if (w == NULL || !sim_tr_rest_if_match(r, w->version))
		return;
	if (sim_tr_rest_activity_param(r, "ActivitySid", &a) < 0 ||
	    sim_tr_rest_bool(r, "RejectPendingReservations", &has_reject, &reject) < 0)
		return;
	if (attrs != NULL && sim_tr_rest_attributes(r, attrs) < 0)
		return;
	if (name != NULL) {
		other = sim_tr_worker_by_name(tr, name);
		if (name[0] == '\0' || strlen(name) > SIM_TR_REST_NAME_MAX) {
			sim_reply_error(r, 400, 20001, "Invalid FriendlyName");
			return;
		}
		if (other != NULL && other != w) {
			sim_reply_error(r, 409, 20001, "A Worker named '%s' already exists", name);
			return;
		}
	}
	if (reject && (a == NULL || a->available)) {
		sim_reply_error(r, 400, 20001,
				"RejectPendingReservations is only valid with an "
				"unavailable ActivitySid");
		return;
	}
	if (name != NULL && strcmp(name, w->friendly_name) != 0) {
		sim_tr_worker_rename(tr, w, name);
		sim_tr_worker_touch(w, sim_tr_now(tr));
	}
	if (attrs != NULL)
		sim_tr_routing_worker_set_attributes(tr, w, attrs);
	if (a != NULL)
		sim_tr_routing_worker_set_activity(tr, w, a, reject);
	sim_tr_rest_reply_worker(r, 200, w);
	sim_tr_routing_run(tr);
}

static void
sim_tr_rest_worker_delete(struct sim_request *r)
{
	struct sim_tr *tr = sim_tr_rest_tr(r);
	struct sim_tr_worker *w = NULL;

	if (!sim_tr_rest_ws_ok(r))
		return;
	w = sim_tr_rest_worker_of(r, 1);
	if (w == NULL || !sim_tr_rest_if_match(r, w->version))
		return;
	sim_tr_routing_worker_delete(tr, w);
	sim_reply_no_content(r);
	sim_tr_routing_run(tr);
}

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

static struct sim_tr_queue *
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

static struct sim_tr_workflow *
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

/* TaskChannels: Twilio's five, as every workspace has them (default, voice, sms, chat, video). */

static void
sim_tr_rest_channel_fields(struct sim_tr *tr, enum sim_tr_channel ch, struct json_gen *g)
{
	json_gen_object_open(g);
	json_gen_kv_string(g, "account_sid", tr->sim->opt.account_sid);
	sim_tr_rest_kv_iso(g, tr, "date_created", tr->ws.created_ms);
	sim_tr_rest_kv_iso(g, tr, "date_updated", tr->ws.created_ms);
	json_gen_kv_string(g, "friendly_name", sim_tr_channel_friendly_name(ch));
	json_gen_kv_string(g, "sid", tr->ws.channel_sids[ch]);
	json_gen_kv_string(g, "unique_name", sim_tr_channel_name(ch));
	json_gen_kv_string(g, "workspace_sid", tr->ws.sid);
	json_gen_kv_bool(g, "channel_optimized_routing", false);
	sim_tr_rest_kv_url(g, tr, "url", "/TaskChannels/%s", tr->ws.channel_sids[ch]);
	json_gen_key(g, "links");
	json_gen_object_open(g);
	sim_tr_rest_kv_url(g, tr, "workspace", "%s", "");
	json_gen_object_close(g);
	json_gen_object_close(g);
}

static void
sim_tr_rest_channels_list(struct sim_request *r)
{
	struct sim_tr *tr = sim_tr_rest_tr(r);
	struct json_gen *g = NULL;
	struct sim_pager p;
	int i;

	if (!sim_tr_rest_ws_ok(r) || sim_pager_init(&p, r, 1000) < 0)
		return;
	g = json_gen_new();
	sim_pager_v1_open(&p, g, "channels");
	for (i = 0; i < SIM_TR_NCHANNELS; i++) {
		if (sim_pager_take(&p, (uint64_t)i + 1))
			sim_tr_rest_channel_fields(tr, (enum sim_tr_channel)i, g);
		if (sim_pager_done(&p))
			break;
	}
	sim_pager_v1_close(&p, g, "channels");
	sim_tr_rest_reply_list(r, g);
	json_gen_free(g);
}

static void
sim_tr_rest_channel_fetch(struct sim_request *r)
{
	struct sim_tr *tr = sim_tr_rest_tr(r);
	struct json_gen *g = NULL;
	enum sim_tr_channel ch;

	if (!sim_tr_rest_ws_ok(r))
		return;
	if (sim_tr_channel_find(tr, r->params[1], &ch) < 0) {
		sim_tr_rest_not_found(r);
		return;
	}
	g = json_gen_new();
	sim_tr_rest_channel_fields(tr, ch, g);
	sim_reply_json(r, 200, g, NULL);
	json_gen_free(g);
}

/* Tasks */

static int64_t
sim_tr_rest_task_age_s(struct sim_tr *tr, const struct sim_tr_task *t)
{
	return (sim_tr_now(tr) - t->created_ms) / 1000;
}

/*
 * The task object. "age" changes with the clock alone, so the cached form
 * (with_age false) leaves it out and records in *split_out where it goes:
 * right after account_sid, before the comma that opens the next member.
 */
static void
sim_tr_rest_task_fields(struct sim_tr *tr, const struct sim_tr_task *t, struct json_gen *g,
			bool with_age, size_t *split_out)
{
	json_gen_object_open(g);
	json_gen_kv_string(g, "account_sid", tr->sim->opt.account_sid);
	if (split_out != NULL)
		(void)json_gen_text(g, split_out);
	if (with_age)
		json_gen_kv_int(g, "age", sim_tr_rest_task_age_s(tr, t));
	json_gen_kv_string(g, "assignment_status", sim_tr_task_status_name(t->status));
	json_gen_kv_string(g, "attributes", t->attributes);
	json_gen_kv_string(g, "addons", "{}");
	sim_tr_rest_kv_iso(g, tr, "date_created", t->created_ms);
	sim_tr_rest_kv_iso(g, tr, "date_updated", t->updated_ms);
	if (t->queue_entered_ms != 0)
		sim_tr_rest_kv_iso(g, tr, "task_queue_entered_date", t->queue_entered_ms);
	else
		json_gen_kv_null(g, "task_queue_entered_date");
	json_gen_kv_int(g, "priority", t->priority);
	json_gen_kv_string(g, "reason", t->reason);
	json_gen_kv_string(g, "sid", t->sid);
	json_gen_kv_string(g, "task_queue_sid", t->queue != NULL ? t->queue->sid : NULL);
	json_gen_kv_string(g, "task_queue_friendly_name",
			   t->queue != NULL ? t->queue->friendly_name : NULL);
	json_gen_kv_string(g, "task_channel_sid", tr->ws.channel_sids[t->channel]);
	json_gen_kv_string(g, "task_channel_unique_name", sim_tr_channel_name(t->channel));
	json_gen_kv_int(g, "timeout", t->timeout_s);
	json_gen_kv_string(g, "workflow_sid", t->workflow != NULL ? t->workflow->sid : NULL);
	json_gen_kv_string(g, "workflow_friendly_name",
			   t->workflow != NULL ? t->workflow->friendly_name : NULL);
	json_gen_kv_string(g, "workspace_sid", tr->ws.sid);
	sim_tr_rest_kv_url(g, tr, "url", "/Tasks/%s", t->sid);
	json_gen_key(g, "links");
	json_gen_object_open(g);
	if (t->queue != NULL)
		sim_tr_rest_kv_url(g, tr, "task_queue", "/TaskQueues/%s", t->queue->sid);
	if (t->workflow != NULL)
		sim_tr_rest_kv_url(g, tr, "workflow", "/Workflows/%s", t->workflow->sid);
	sim_tr_rest_kv_url(g, tr, "workspace", "%s", "");
	sim_tr_rest_kv_url(g, tr, "reservations", "/Tasks/%s/Reservations", t->sid);
	json_gen_object_close(g);
	sim_tr_rest_kv_iso(g, tr, "virtual_start_time", t->created_ms);
	json_gen_kv_bool(g, "ignore_capacity", false);
	json_gen_kv_null(g, "routing_target");
	json_gen_object_close(g);
}

void
sim_tr_rest_task_json(struct sim_tr *tr, const struct sim_tr_task *t, struct json_gen *g)
{
	sim_tr_rest_task_fields(tr, t, g, true, NULL);
}

/* Writes t from its cache (built first when missing), with "age" spliced in. */
static void
sim_tr_rest_task_emit(struct sim_tr *tr, struct sim_tr_task *t, struct json_gen *g)
{
	struct json_gen *s = sim_tr_rest_scratch(tr);
	struct buf *c = &tr->json_compose;
	char age[32];
	int n;

	if (!sim_tr_rest_cache_valid(tr, &t->json)) {
		sim_tr_json_cache_clear(&t->json);
		sim_tr_rest_task_fields(tr, t, s, false, &t->json.split);
		t->json.text = json_gen_steal(s, &t->json.len);
		t->json.epoch = tr->json_epoch;
	}
	n = snprintf(age, sizeof(age), ",\"age\":%" PRId64, sim_tr_rest_task_age_s(tr, t));
	assert(n > 0 && (size_t)n < sizeof(age));
	buf_reset(c);
	buf_append(c, t->json.text, t->json.split);
	buf_append(c, age, (size_t)n);
	buf_append(c, t->json.text + t->json.split, t->json.len - t->json.split);
#ifdef SIM_TR_REST_CACHE_CHECK
	sim_tr_rest_task_json(tr, t, s);
	sim_tr_rest_cache_check(s, "task", t->sid, c->data, c->len);
#endif
	json_gen_verbatim(g, c->data, c->len);
}

static void
sim_tr_rest_reply_task(struct sim_request *r, int status, struct sim_tr_task *t)
{
	struct json_gen *g = json_gen_new();
	char etag[24];

	sim_tr_rest_etag(t->version, etag);
	sim_tr_rest_task_emit(sim_tr_rest_tr(r), t, g);
	sim_reply_json(r, status, g, etag);
	json_gen_free(g);
}

/* Ordering=Attribute:Order[,...]: the cursor that increases along the order. */
struct sim_tr_rest_order {
	bool by_priority;
	bool priority_desc;
	bool created_desc;
	bool priority_first;
	bool sorted; /* anything but the default DateCreated:asc */
};

static int
sim_tr_rest_parse_ordering(struct sim_request *r, struct sim_tr_rest_order *o)
{
	const char *v = sim_tr_rest_query(r, "Ordering");
	char *copy = NULL;
	char *p = NULL;
	char *item = NULL;
	char *colon = NULL;
	bool seen_date = false;
	bool desc;

	memset(o, 0, sizeof(*o));
	if (v == NULL)
		return 0;
	copy = xstrdup(v);
	p = copy;
	while ((item = strsep(&p, ",")) != NULL) {
		while (*item == ' ')
			item++;
		if (*item == '\0')
			continue;
		colon = strchr(item, ':');
		desc = false;
		if (colon != NULL) {
			*colon = '\0';
			if (strcasecmp(colon + 1, "desc") == 0)
				desc = true;
			else if (strcasecmp(colon + 1, "asc") != 0)
				goto bad;
		}
		if (strcmp(item, "Priority") == 0) {
			o->by_priority = true;
			o->priority_desc = desc;
			if (!seen_date)
				o->priority_first = true;
		} else if (strcmp(item, "DateCreated") == 0 ||
			   strcmp(item, "VirtualStartTime") == 0) {
			if (seen_date)
				goto bad;
			seen_date = true;
			o->created_desc = desc;
		} else {
			goto bad;
		}
	}
	free(copy);
	o->sorted = o->by_priority || o->created_desc;
	return 0;
bad:
	free(copy);
	sim_reply_error(r, 400, 20001, "Invalid Ordering '%s'", v);
	return -EINVAL;
}

static uint64_t
sim_tr_rest_task_cursor(const struct sim_tr_rest_order *o, const struct sim_tr_task *t)
{
	uint64_t seq = t->seq & UINT32_MAX;
	uint64_t prio = (uint64_t)t->priority;

	if (o->created_desc)
		seq = (uint64_t)UINT32_MAX - seq;
	/* With DateCreated first the (unique) creation order decides alone. */
	if (!o->by_priority || !o->priority_first)
		return seq;
	if (o->priority_desc)
		prio = (uint64_t)SIM_TR_REST_MAX_PRIORITY - prio;
	return (prio << 32) | seq;
}

struct sim_tr_rest_sorted {
	uint64_t cursor;
	struct sim_tr_task *task;
};

static int
sim_tr_rest_sorted_cmp(const void *a, const void *b)
{
	const struct sim_tr_rest_sorted *x = a;
	const struct sim_tr_rest_sorted *y = b;

	return x->cursor < y->cursor ? -1 : x->cursor > y->cursor ? 1 : 0;
}

struct sim_tr_rest_task_filter {
	bool status[SIM_TR_TASK_NSTATUS];
	bool any_status;
	struct sim_tr_queue *queue;
	struct sim_tr_workflow *workflow;
	bool has_priority;
	int64_t priority;
	struct sim_tr_expr *expr;
};

/* AssignmentStatus (repeated or comma-separated), queue, workflow, Priority,
 * EvaluateTaskAttributes. */
static int
sim_tr_rest_task_filter(struct sim_request *r, struct sim_tr_rest_task_filter *f)
{
	struct sim_tr *tr = sim_tr_rest_tr(r);
	const char *wsid = sim_tr_rest_query(r, "WorkflowSid");
	const char *wname = sim_tr_rest_query(r, "WorkflowName");
	const char *prio = sim_tr_rest_query(r, "Priority");
	struct sim_tr_workflow *wf = NULL;
	enum sim_tr_task_status s;
	size_t n = form_get_count(r->query, "AssignmentStatus");
	size_t i;
	char *copy = NULL;
	char *p = NULL;
	char *item = NULL;

	memset(f, 0, sizeof(*f));
	for (i = 0; i < n; i++) {
		copy = xstrdup(form_get_nth(r->query, "AssignmentStatus", i));
		p = copy;
		while ((item = strsep(&p, ",")) != NULL) {
			if (*item == '\0')
				continue;
			if (sim_tr_task_status_parse(item, &s) < 0) {
				sim_reply_error(r, 400, 20001, "Invalid AssignmentStatus '%s'",
						item);
				free(copy);
				return -EINVAL;
			}
			f->status[s] = true;
			f->any_status = true;
		}
		free(copy);
	}
	if (sim_tr_rest_queue_filter(r, &f->queue) < 0)
		return -EINVAL;
	if (wsid != NULL) {
		f->workflow = sim_tr_workflow_get(tr, wsid);
		if (f->workflow == NULL) {
			sim_reply_error(r, 404, 20404, "Workflow %s not found", wsid);
			return -ENOENT;
		}
	} else if (wname != NULL) {
		TAILQ_FOREACH(wf, &tr->workflow_list, entry) {
			if (strcmp(wf->friendly_name, wname) == 0)
				break;
		}
		if (wf == NULL) {
			sim_reply_error(r, 404, 20404, "Workflow '%s' not found", wname);
			return -ENOENT;
		}
		f->workflow = wf;
	}
	if (prio != NULL) {
		if (sim_param_int(r, "Priority", prio, 0, SIM_TR_REST_MAX_PRIORITY, &f->priority) <
		    0)
			return -EINVAL;
		f->has_priority = true;
	}
	return sim_tr_rest_expr_param(r, "EvaluateTaskAttributes", &f->expr);
}

static bool
sim_tr_rest_task_matches(const struct sim_tr_rest_task_filter *f, const struct sim_tr_task *t)
{
	if (f->any_status && !f->status[t->status])
		return false;
	if (f->queue != NULL && t->queue != f->queue)
		return false;
	if (f->workflow != NULL && t->workflow != f->workflow)
		return false;
	if (f->has_priority && t->priority != f->priority)
		return false;
	if (f->expr != NULL && !sim_tr_expr_eval(f->expr, json_doc_root(t->attr_doc), NULL, NULL))
		return false;
	return true;
}

/* As sim_tr_rest_workers_start, for the Tasks list in creation order. */
static struct sim_tr_task *
sim_tr_rest_tasks_start(struct sim_tr *tr, const struct sim_pager *p,
			const struct sim_tr_rest_task_filter *f)
{
	struct sim_tr_task *start = NULL;
	struct sim_tr_task *t = NULL;
	int need = p->page_size + 1;

	if (!p->have_after)
		return TAILQ_FIRST(&tr->task_list);
	start = sim_tr_seq_index_after(&tr->task_index, p->after);
	t = start != NULL ? TAILQ_PREV(start, sim_tr_task_list, entry)
			  : TAILQ_LAST(&tr->task_list, sim_tr_task_list);
	while (t != NULL && need > 0) {
		if (sim_tr_rest_task_matches(f, t))
			need--;
		start = t;
		t = TAILQ_PREV(t, sim_tr_task_list, entry);
	}
	return start;
}

static void
sim_tr_rest_tasks_list(struct sim_request *r)
{
	struct sim_tr *tr = sim_tr_rest_tr(r);
	struct sim_tr_rest_task_filter f;
	struct sim_tr_rest_order o;
	struct sim_tr_rest_sorted *v = NULL;
	struct sim_tr_task *t = NULL;
	struct sim_tr_task *it = NULL;
	struct json_gen *g = NULL;
	struct sim_pager p;
	size_t n = 0;
	size_t i;

	if (!sim_tr_rest_ws_ok(r) || sim_tr_rest_parse_ordering(r, &o) < 0 ||
	    sim_tr_rest_task_filter(r, &f) < 0)
		return;
	if (sim_pager_init(&p, r, 1000) < 0) {
		sim_tr_expr_free(f.expr);
		return;
	}
	g = sim_tr_rest_list_gen(tr);
	sim_pager_v1_open(&p, g, "tasks");
	if (!o.sorted) {
		for (it = sim_tr_rest_tasks_start(tr, &p, &f); it != NULL;
		     it = TAILQ_NEXT(it, entry)) {
			if (!sim_tr_rest_task_matches(&f, it))
				continue;
			if (sim_pager_take(&p, it->seq))
				sim_tr_rest_task_emit(tr, it, g);
			if (sim_pager_done(&p))
				break;
		}
	} else {
		v = xreallocarray(NULL, hmap_count(tr->tasks) + 1, sizeof(*v));
		TAILQ_FOREACH(it, &tr->task_list, entry) {
			if (!sim_tr_rest_task_matches(&f, it))
				continue;
			v[n].cursor = sim_tr_rest_task_cursor(&o, it);
			v[n].task = it;
			n++;
		}
		qsort(v, n, sizeof(*v), sim_tr_rest_sorted_cmp);
		for (i = 0; i < n; i++) {
			t = v[i].task;
			if (sim_pager_take(&p, v[i].cursor))
				sim_tr_rest_task_emit(tr, t, g);
			if (sim_pager_done(&p))
				break;
		}
		free(v);
	}
	sim_pager_v1_close(&p, g, "tasks");
	sim_tr_rest_reply_list(r, g);
	sim_tr_rest_list_gen_done(tr);
	sim_tr_expr_free(f.expr);
}

static void
sim_tr_rest_task_create(struct sim_request *r)
{
	struct sim_tr *tr = sim_tr_rest_tr(r);
	const char *attrs = sim_tr_rest_param(r, "Attributes");
	const char *wsid = sim_tr_rest_param(r, "WorkflowSid");
	const char *qsid = sim_tr_rest_param(r, "TaskQueueSid");
	const char *prio = sim_tr_rest_param(r, "Priority");
	const char *ttl = sim_tr_rest_param(r, "Timeout");
	const char *channel = sim_tr_rest_param(r, "TaskChannel");
	struct sim_tr_task_spec spec = { 0 };
	struct sim_tr_task *t = NULL;

	if (!sim_tr_rest_ws_ok(r))
		return;
	if (attrs == NULL || attrs[0] == '\0')
		attrs = "{}";
	if (sim_tr_rest_attributes(r, attrs) < 0)
		return;
	spec.attributes = attrs;
	spec.timeout_s = 86400;
	if (prio != NULL &&
	    sim_param_int(r, "Priority", prio, 0, SIM_TR_REST_MAX_PRIORITY, &spec.priority) < 0)
		return;
	if (ttl != NULL &&
	    sim_param_int(r, "Timeout", ttl, 1, SIM_TR_REST_MAX_TTL_S, &spec.timeout_s) < 0)
		return;
	if (channel != NULL && channel[0] != '\0' &&
	    sim_tr_channel_find(tr, channel, &spec.channel) < 0) {
		sim_reply_error(r, 400, 20001, "TaskChannel %s not found", channel);
		return;
	}
	if (qsid != NULL && qsid[0] != '\0') {
		spec.queue = sim_tr_queue_get(tr, qsid);
		if (spec.queue == NULL) {
			sim_reply_error(r, 400, 20001, "TaskQueueSid %s not found", qsid);
			return;
		}
	}
	if (wsid != NULL && wsid[0] != '\0') {
		spec.workflow = sim_tr_workflow_get(tr, wsid);
		if (spec.workflow == NULL) {
			sim_reply_error(r, 400, 20001, "WorkflowSid %s not found", wsid);
			return;
		}
	} else if (spec.queue == NULL) {
		if (TAILQ_FIRST(&tr->workflow_list) == NULL ||
		    TAILQ_NEXT(TAILQ_FIRST(&tr->workflow_list), entry) != NULL) {
			sim_reply_error(r, 400, 20001,
					"Missing required parameter WorkflowSid: "
					"the Workspace does not have exactly one "
					"Workflow");
			return;
		}
		spec.workflow = TAILQ_FIRST(&tr->workflow_list);
	}
	t = sim_tr_routing_task_create(tr, &spec);
	sim_tr_rest_reply_task(r, 201, t);
	sim_tr_routing_run(tr);
}

static struct sim_tr_task *
sim_tr_rest_task_of(struct sim_request *r)
{
	struct sim_tr_task *t = sim_tr_task_get(sim_tr_rest_tr(r), r->params[1]);

	if (t == NULL)
		sim_tr_rest_not_found(r);
	return t;
}

static void
sim_tr_rest_task_fetch(struct sim_request *r)
{
	struct sim_tr_task *t = NULL;

	if (!sim_tr_rest_ws_ok(r))
		return;
	t = sim_tr_rest_task_of(r);
	if (t != NULL)
		sim_tr_rest_reply_task(r, 200, t);
}

static void
sim_tr_rest_task_update(struct sim_request *r)
{
	struct sim_tr *tr = sim_tr_rest_tr(r);
	const char *status = sim_tr_rest_param(r, "AssignmentStatus");
	const char *reason = sim_tr_rest_param(r, "Reason");
	const char *attrs = sim_tr_rest_param(r, "Attributes");
	const char *prio = sim_tr_rest_param(r, "Priority");
	enum sim_tr_task_status to = SIM_TR_TASK_PENDING;
	struct sim_tr_task *t = NULL;
	int64_t priority = 0;
	char *cause = NULL;
	int rc = 0;

	if (!sim_tr_rest_ws_ok(r))
		return;
	t = sim_tr_rest_task_of(r);
	if (t == NULL || !sim_tr_rest_if_match(r, t->version))
		return;
	if (attrs != NULL && sim_tr_rest_attributes(r, attrs) < 0)
		return;
	if (prio != NULL &&
	    sim_param_int(r, "Priority", prio, 0, SIM_TR_REST_MAX_PRIORITY, &priority) < 0)
		return;
	if (status != NULL) {
		if (sim_tr_task_status_parse(status, &to) < 0 ||
		    (to != SIM_TR_TASK_CANCELED && to != SIM_TR_TASK_COMPLETED &&
		     to != SIM_TR_TASK_WRAPPING)) {
			sim_reply_error(r, 400, 20001,
					"AssignmentStatus must be canceled, wrapping or completed");
			return;
		}
		/* Check the transition before changing anything. */
		if ((to == SIM_TR_TASK_CANCELED && t->status != SIM_TR_TASK_PENDING &&
		     t->status != SIM_TR_TASK_RESERVED) ||
		    (to == SIM_TR_TASK_WRAPPING && t->status != SIM_TR_TASK_ASSIGNED) ||
		    (to == SIM_TR_TASK_COMPLETED && t->status != SIM_TR_TASK_ASSIGNED &&
		     t->status != SIM_TR_TASK_WRAPPING)) {
			if (to == SIM_TR_TASK_CANCELED)
				rc = sim_tr_routing_task_cancel(tr, t, reason, &cause);
			else if (to == SIM_TR_TASK_WRAPPING)
				rc = sim_tr_routing_task_wrapup(tr, t, reason, &cause);
			else
				rc = sim_tr_routing_task_complete(tr, t, reason, &cause);
			(void)rc; /* always refused here: the status does not allow it */
			sim_tr_rest_reply_cause(r, cause);
			return;
		}
	}
	if (attrs != NULL || prio != NULL)
		sim_tr_routing_task_update(tr, t, attrs, prio != NULL ? &priority : NULL);
	if (status != NULL) {
		if (to == SIM_TR_TASK_CANCELED)
			rc = sim_tr_routing_task_cancel(tr, t, reason, NULL);
		else if (to == SIM_TR_TASK_WRAPPING)
			rc = sim_tr_routing_task_wrapup(tr, t, reason, NULL);
		else
			rc = sim_tr_routing_task_complete(tr, t, reason, NULL);
		(void)rc; /* checked above */
	} else if (reason != NULL && reason[0] != '\0') {
		sim_tr_task_set_reason(t, reason);
	}
	sim_tr_rest_reply_task(r, 200, t);
	sim_tr_routing_run(tr);
}

static void
sim_tr_rest_task_delete(struct sim_request *r)
{
	struct sim_tr *tr = sim_tr_rest_tr(r);
	struct sim_tr_task *t = NULL;

	if (!sim_tr_rest_ws_ok(r))
		return;
	t = sim_tr_rest_task_of(r);
	if (t == NULL || !sim_tr_rest_if_match(r, t->version))
		return;
	sim_tr_routing_task_delete(tr, t);
	sim_reply_no_content(r);
	sim_tr_routing_run(tr);
}

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

/* Events */

/* "TaskQueueSid" -> "task_queue_sid". */
static char *
sim_tr_rest_snake(const char *s)
{
	struct buf b;
	size_t i;
	unsigned char c;
	unsigned char prev;
	unsigned char next;

	buf_init(&b);
	for (i = 0; s[i] != '\0'; i++) {
		c = (unsigned char)s[i];
		prev = i > 0 ? (unsigned char)s[i - 1] : 0;
		next = (unsigned char)s[i + 1];
		if (i > 0 && isupper(c) &&
		    (islower(prev) || isdigit(prev) || (isupper(prev) && islower(next))))
			buf_putc(&b, '_');
		buf_putc(&b, (char)tolower(c));
	}
	return buf_steal(&b, NULL);
}

static bool
sim_tr_rest_is_base_field(const char *k)
{
	static const char *const base[] = {
		"EventType",	"AccountSid",  "WorkspaceSid", "WorkspaceName", "EventDescription",
		"ResourceType", "ResourceSid", "Timestamp",    "TimestampMs",	"Sid",
	};
	size_t i;

	for (i = 0; i < sizeof(base) / sizeof(base[0]); i++) {
		if (strcmp(k, base[i]) == 0)
			return true;
	}
	return false;
}

static void
sim_tr_rest_kv_resource_url(struct json_gen *g, struct sim_tr *tr, const struct sim_tr_event *e)
{
	const char *rt = e->resource_type;

	if (strcmp(rt, "Reservation") == 0)
		sim_tr_rest_kv_url(g, tr, "resource_url", "/Tasks/%s/Reservations/%s", e->task_sid,
				   e->resource_sid);
	else if (strcmp(rt, "Task") == 0)
		sim_tr_rest_kv_url(g, tr, "resource_url", "/Tasks/%s", e->resource_sid);
	else if (strcmp(rt, "Worker") == 0)
		sim_tr_rest_kv_url(g, tr, "resource_url", "/Workers/%s", e->resource_sid);
	else if (strcmp(rt, "TaskQueue") == 0)
		sim_tr_rest_kv_url(g, tr, "resource_url", "/TaskQueues/%s", e->resource_sid);
	else if (strcmp(rt, "Workflow") == 0)
		sim_tr_rest_kv_url(g, tr, "resource_url", "/Workflows/%s", e->resource_sid);
	else if (strcmp(rt, "Activity") == 0)
		sim_tr_rest_kv_url(g, tr, "resource_url", "/Activities/%s", e->resource_sid);
	else
		sim_tr_rest_kv_url(g, tr, "resource_url", "%s", "");
}

static void
sim_tr_rest_event_json(struct sim_tr *tr, const struct sim_tr_event *e, struct json_gen *g)
{
	struct form *f = NULL;
	char *key = NULL;
	size_t i;

	json_gen_object_open(g);
	json_gen_kv_string(g, "account_sid", tr->sim->opt.account_sid);
	json_gen_kv_string(g, "actor_sid", tr->ws.sid);
	json_gen_kv_string(g, "actor_type", "workspace");
	sim_tr_rest_kv_url(g, tr, "actor_url", "%s", "");
	json_gen_kv_string(g, "description", e->description);
	json_gen_key(g, "event_data");
	json_gen_object_open(g);
	if (e->data != NULL && form_parse(e->data, strlen(e->data), NULL, &f, NULL) == 0) {
		for (i = 0; i < form_count(f); i++) {
			if (sim_tr_rest_is_base_field(form_key(f, i)))
				continue;
			key = sim_tr_rest_snake(form_key(f, i));
			json_gen_kv_string(g, key, form_value(f, i));
			free(key);
		}
		form_free(f);
	}
	json_gen_object_close(g);
	sim_tr_rest_kv_iso(g, tr, "event_date", e->ts_ms);
	json_gen_kv_int(g, "event_date_ms", e->ts_ms);
	json_gen_kv_string(g, "event_type", sim_tr_ev_name(e->type));
	json_gen_kv_string(g, "resource_sid", e->resource_sid);
	json_gen_kv_string(g, "resource_type", e->resource_type);
	sim_tr_rest_kv_resource_url(g, tr, e);
	json_gen_kv_string(g, "sid", e->sid);
	json_gen_kv_string(g, "source", "twilio");
	json_gen_kv_string(g, "source_ip_address", "127.0.0.1");
	json_gen_kv_string(g, "workspace_sid", tr->ws.sid);
	sim_tr_rest_kv_url(g, tr, "url", "/Events/%s", e->sid);
	json_gen_object_close(g);
}

/*
 * The statistics/events window: [StartDate or EndDate-Minutes, EndDate or
 * now]; Minutes defaults to 15 when StartDate is absent. SplitByWaitTime is
 * a comma-separated list of seconds. Replies 400 and returns -EINVAL on bad
 * input.
 */
static int
sim_tr_rest_window(struct sim_request *r, struct sim_tr_stats_window *w)
{
	struct sim_tr *tr = sim_tr_rest_tr(r);
	const char *minutes = sim_tr_rest_query(r, "Minutes");
	const char *start = sim_tr_rest_query(r, "StartDate");
	const char *end = sim_tr_rest_query(r, "EndDate");
	const char *split = sim_tr_rest_query(r, "SplitByWaitTime");
	int64_t m = 15;
	char *copy = NULL;
	char *p = NULL;
	char *item = NULL;
	int64_t v;

	memset(w, 0, sizeof(*w));
	w->end_ms = sim_tr_now(tr);
	if (minutes != NULL &&
	    sim_param_int(r, "Minutes", minutes, 1, SIM_TR_REST_MAX_MINUTES, &m) < 0)
		return -EINVAL;
	if (end != NULL && sim_param_date(r, "EndDate", end, &w->end_ms) < 0)
		return -EINVAL;
	if (start != NULL) {
		if (sim_param_date(r, "StartDate", start, &w->start_ms) < 0)
			return -EINVAL;
	} else {
		w->start_ms = w->end_ms - m * 60000;
	}
	if (w->start_ms > w->end_ms) {
		sim_reply_error(r, 400, 20001, "StartDate must be before EndDate");
		return -EINVAL;
	}
	if (split == NULL)
		return 0;
	w->split_requested = true;
	copy = xstrdup(split);
	p = copy;
	while ((item = strsep(&p, ",")) != NULL) {
		while (*item == ' ')
			item++;
		if (*item == '\0')
			continue;
		if (w->nsplits == SIM_TR_STATS_MAX_SPLITS) {
			sim_reply_error(r, 400, 20001, "SplitByWaitTime takes at most %d values",
					SIM_TR_STATS_MAX_SPLITS);
			free(copy);
			return -EINVAL;
		}
		if (sim_param_int(r, "SplitByWaitTime", item, 0, 86400 * 30, &v) < 0) {
			free(copy);
			return -EINVAL;
		}
		w->splits[w->nsplits++] = v;
	}
	free(copy);
	return 0;
}

static void
sim_tr_rest_events_list(struct sim_request *r)
{
	struct sim_tr *tr = sim_tr_rest_tr(r);
	const struct sim_tr_events *ev = tr->events;
	const char *type = sim_tr_rest_query(r, "EventType");
	const char *task = sim_tr_rest_query(r, "TaskSid");
	const char *worker = sim_tr_rest_query(r, "WorkerSid");
	const char *res = sim_tr_rest_query(r, "ReservationSid");
	const char *queue = sim_tr_rest_query(r, "TaskQueueSid");
	const char *wf = sim_tr_rest_query(r, "WorkflowSid");
	const char *sid = sim_tr_rest_query(r, "Sid");
	const struct sim_tr_event *e = NULL;
	struct sim_tr_stats_window w;
	struct json_gen *g = NULL;
	struct sim_pager p;
	size_t n = sim_tr_events_count(ev);
	size_t i;

	if (!sim_tr_rest_ws_ok(r) || sim_tr_rest_window(r, &w) < 0 ||
	    sim_pager_init(&p, r, 1000) < 0)
		return;
	g = json_gen_new();
	sim_pager_v1_open(&p, g, "events");
	for (i = sim_tr_events_lower_bound(ev, w.start_ms); i < n; i++) {
		e = sim_tr_events_at(ev, i);
		if (e->ts_ms > w.end_ms)
			break;
		if (e->data == NULL)
			continue;
		if ((type != NULL && strcmp(type, sim_tr_ev_name(e->type)) != 0) ||
		    (task != NULL && strcmp(task, e->task_sid) != 0) ||
		    (worker != NULL && strcmp(worker, e->worker_sid) != 0) ||
		    (res != NULL && strcmp(res, e->reservation_sid) != 0) ||
		    (queue != NULL && strcmp(queue, e->queue_sid) != 0) ||
		    (wf != NULL && strcmp(wf, e->workflow_sid) != 0) ||
		    (sid != NULL && strcmp(sid, e->sid) != 0))
			continue;
		if (sim_pager_take(&p, e->seq))
			sim_tr_rest_event_json(tr, e, g);
		if (sim_pager_done(&p))
			break;
	}
	sim_pager_v1_close(&p, g, "events");
	sim_tr_rest_reply_list(r, g);
	json_gen_free(g);
}

static void
sim_tr_rest_event_fetch(struct sim_request *r)
{
	struct sim_tr *tr = sim_tr_rest_tr(r);
	const struct sim_tr_event *e = NULL;
	struct json_gen *g = NULL;

	if (!sim_tr_rest_ws_ok(r))
		return;
	e = sim_tr_events_find(tr->events, r->params[1]);
	if (e == NULL || e->data == NULL) {
		sim_tr_rest_not_found(r);
		return;
	}
	g = json_gen_new();
	sim_tr_rest_event_json(tr, e, g);
	sim_reply_json(r, 200, g, NULL);
	json_gen_free(g);
}

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

const struct sim_route sim_tr_rest_routes[] = {
	{ "GET", "/v1/Workspaces", sim_tr_rest_workspaces_list, false },
	{ "GET", WS, sim_tr_rest_workspace_fetch, false },
	{ "POST", WS, sim_tr_rest_workspace_update, false },
	{ "GET", WS "/Statistics", sim_tr_rest_ws_statistics, false },
	{ "GET", WS "/RealTimeStatistics", sim_tr_rest_ws_realtime, false },
	{ "GET", WS "/CumulativeStatistics", sim_tr_rest_ws_cumulative, false },
	{ "GET", WS "/Activities", sim_tr_rest_activities_list, false },
	{ "POST", WS "/Activities", sim_tr_rest_activity_create, false },
	{ "GET", WS "/Activities/{WA}", sim_tr_rest_activity_fetch, false },
	{ "GET", WS "/Workers", sim_tr_rest_workers_list, false },
	{ "POST", WS "/Workers", sim_tr_rest_worker_create, false },
	{ "GET", WS "/Workers/Statistics", sim_tr_rest_workers_statistics, false },
	{ "GET", WS "/Workers/RealTimeStatistics", sim_tr_rest_workers_realtime, false },
	{ "GET", WS "/Workers/CumulativeStatistics", sim_tr_rest_workers_cumulative, false },
	{ "GET", WS "/Workers/{WK}", sim_tr_rest_worker_fetch, false },
	{ "POST", WS "/Workers/{WK}", sim_tr_rest_worker_update, false },
	{ "DELETE", WS "/Workers/{WK}", sim_tr_rest_worker_delete, false },
	{ "GET", WS "/Workers/{WK}/Statistics", sim_tr_rest_worker_statistics, false },
	{ "GET", WS "/Workers/{WK}/Channels", sim_tr_rest_worker_channels_list, false },
	{ "GET", WS "/Workers/{WK}/Channels/{WC}", sim_tr_rest_worker_channel_fetch, false },
	{ "POST", WS "/Workers/{WK}/Channels/{WC}", sim_tr_rest_worker_channel_update, false },
	{ "GET", WS "/Workers/{WK}/Reservations", sim_tr_rest_worker_reservations_list, false },
	{ "GET", WS "/Workers/{WK}/Reservations/{WR}", sim_tr_rest_worker_reservation_fetch,
	  false },
	{ "POST", WS "/Workers/{WK}/Reservations/{WR}", sim_tr_rest_worker_reservation_update,
	  false },
	{ "GET", WS "/TaskQueues", sim_tr_rest_queues_list, false },
	{ "POST", WS "/TaskQueues", sim_tr_rest_queue_create, false },
	{ "GET", WS "/TaskQueues/Statistics", sim_tr_rest_queues_statistics_list, false },
	{ "POST", WS "/TaskQueues/RealTimeStatistics", sim_tr_rest_queues_bulk_realtime, false },
	{ "GET", WS "/TaskQueues/{WQ}", sim_tr_rest_queue_fetch, false },
	{ "POST", WS "/TaskQueues/{WQ}", sim_tr_rest_queue_update, false },
	{ "GET", WS "/TaskQueues/{WQ}/Statistics", sim_tr_rest_queue_statistics, false },
	{ "GET", WS "/TaskQueues/{WQ}/RealTimeStatistics", sim_tr_rest_queue_realtime, false },
	{ "GET", WS "/TaskQueues/{WQ}/CumulativeStatistics", sim_tr_rest_queue_cumulative, false },
	{ "GET", WS "/Workflows", sim_tr_rest_workflows_list, false },
	{ "POST", WS "/Workflows", sim_tr_rest_workflow_create, false },
	{ "GET", WS "/Workflows/{WW}", sim_tr_rest_workflow_fetch, false },
	{ "POST", WS "/Workflows/{WW}", sim_tr_rest_workflow_update, false },
	{ "GET", WS "/Workflows/{WW}/Statistics", sim_tr_rest_workflow_statistics, false },
	{ "GET", WS "/Workflows/{WW}/RealTimeStatistics", sim_tr_rest_workflow_realtime, false },
	{ "GET", WS "/Workflows/{WW}/CumulativeStatistics", sim_tr_rest_workflow_cumulative,
	  false },
	{ "GET", WS "/TaskChannels", sim_tr_rest_channels_list, false },
	{ "GET", WS "/TaskChannels/{TC}", sim_tr_rest_channel_fetch, false },
	{ "GET", WS "/Tasks", sim_tr_rest_tasks_list, false },
	{ "POST", WS "/Tasks", sim_tr_rest_task_create, false },
	{ "GET", WS "/Tasks/{WT}", sim_tr_rest_task_fetch, false },
	{ "POST", WS "/Tasks/{WT}", sim_tr_rest_task_update, false },
	{ "DELETE", WS "/Tasks/{WT}", sim_tr_rest_task_delete, false },
	{ "GET", WS "/Tasks/{WT}/Reservations", sim_tr_rest_task_reservations_list, false },
	{ "GET", WS "/Tasks/{WT}/Reservations/{WR}", sim_tr_rest_task_reservation_fetch, false },
	{ "POST", WS "/Tasks/{WT}/Reservations/{WR}", sim_tr_rest_task_reservation_update, false },
	{ "GET", WS "/Events", sim_tr_rest_events_list, false },
	{ "GET", WS "/Events/{EV}", sim_tr_rest_event_fetch, false },
};

const size_t sim_tr_rest_nroutes = sizeof(sim_tr_rest_routes) / sizeof(sim_tr_rest_routes[0]);
