/*
 * TaskRouter v1 REST: the helpers every resource file shares, and the
 * registration of their routes (contract in sim_tr_rest.h). One file per
 * resource, as tmux keeps one cmd-*.c per command: sim_tr_rest_workspace.c,
 * _activity, _worker, _queue, _workflow, _channel, _task, _reservation,
 * _event and _statistics.
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

struct sim_tr *
sim_tr_rest_tr(struct sim_request *r)
{
	return r->sim->tr;
}

/* Checks the {WS} capture (always the first); replies 404 when it is not ours. */
bool
sim_tr_rest_ws_ok(struct sim_request *r)
{
	struct sim_tr *tr = sim_tr_rest_tr(r);

	if (r->nparams > 0 && strcmp(r->params[0], tr->ws.sid) == 0)
		return true;
	sim_reply_error(r, 404, 20404, "The requested resource %s was not found", r->path);
	return false;
}

void
sim_tr_rest_not_found(struct sim_request *r)
{
	sim_reply_error(r, 404, 20404, "The requested resource %s was not found", r->path);
}

/*
 * ISO dates are second-granular and the dates of one object are mostly the
 * same second, so the last one formatted is remembered (strftime per field
 * was a visible share of the profile).
 */
void
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
void __attribute__((format(printf, 4, 5)))
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

void
sim_tr_rest_etag(int64_t version, char out[24])
{
	snprintf(out, 24, "%" PRId64, version);
}

/* The generator serializations are built in; reused, so it is empty between uses. */
struct json_gen *
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
struct json_gen *
sim_tr_rest_list_gen(struct sim_tr *tr)
{
	if (tr->json_list == NULL)
		tr->json_list = json_gen_new();
	return tr->json_list;
}

/* Empties the list generator; a very large one is freed rather than kept. */
void
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

bool
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
void
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
void
sim_tr_rest_reply_list(struct sim_request *r, struct json_gen *g)
{
	struct sim_tr *tr = sim_tr_rest_tr(r);
	char etag[24];

	sim_tr_rest_etag((int64_t)sim_tr_events_total(tr->events), etag);
	sim_reply_json(r, 200, g, etag);
}

/* If-Match against version (quotes and a W/ prefix tolerated); replies 412 on mismatch. */
bool
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

const char *
sim_tr_rest_param(struct sim_request *r, const char *name)
{
	const char *v = form_get(r->form, name);

	return v != NULL ? v : form_get(r->query, name);
}

const char *
sim_tr_rest_query(struct sim_request *r, const char *name)
{
	const char *v = form_get(r->query, name);

	return v != NULL && v[0] != '\0' ? v : NULL;
}

bool
sim_tr_rest_truthy(const char *v)
{
	return v != NULL &&
	       (strcasecmp(v, "true") == 0 || strcmp(v, "1") == 0 || strcasecmp(v, "yes") == 0);
}

/* Optional boolean form parameter: replies 400 on a bad value. */
int
sim_tr_rest_bool(struct sim_request *r, const char *name, bool *present, bool *out)
{
	const char *v = sim_tr_rest_param(r, name);

	*present = v != NULL;
	if (v == NULL)
		return 0;
	return sim_param_bool(r, v, out);
}

int
sim_tr_rest_attributes(struct sim_request *r, const char *v)
{
	char *cause = NULL;

	if (sim_tr_state_parse_attributes(v, NULL, &cause) == 0)
		return 0;
	sim_reply_error(r, 400, 20001, "Invalid Attributes: %s", cause);
	free(cause);
	return -EINVAL;
}

int
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

void
sim_tr_rest_reply_cause(struct sim_request *r, char *cause)
{
	sim_reply_error(r, 400, 20001, "%s", cause != NULL ? cause : "Invalid request");
	free(cause);
}

void
sim_tr_rest_register(struct sim_http *h)
{
	sim_http_register(h, sim_tr_rest_workspace_routes, sim_tr_rest_workspace_nroutes);
	sim_http_register(h, sim_tr_rest_activity_routes, sim_tr_rest_activity_nroutes);
	sim_http_register(h, sim_tr_rest_worker_routes, sim_tr_rest_worker_nroutes);
	sim_http_register(h, sim_tr_rest_queue_routes, sim_tr_rest_queue_nroutes);
	sim_http_register(h, sim_tr_rest_workflow_routes, sim_tr_rest_workflow_nroutes);
	sim_http_register(h, sim_tr_rest_channel_routes, sim_tr_rest_channel_nroutes);
	sim_http_register(h, sim_tr_rest_task_routes, sim_tr_rest_task_nroutes);
	sim_http_register(h, sim_tr_rest_reservation_routes, sim_tr_rest_reservation_nroutes);
	sim_http_register(h, sim_tr_rest_event_routes, sim_tr_rest_event_nroutes);
	sim_http_register(h, sim_tr_rest_statistics_routes, sim_tr_rest_statistics_nroutes);
}
