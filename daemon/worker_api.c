/*
 * worker_api: tokens, agent actions, supervisor actions, wrap-up
 * auto-completion and presence (worker_api.h).
 *
 * What must stay true:
 * - The worker an agent acts on is the session's (auth_worker_sid), and a
 *   reservation, task or conference is touched only when the model says the
 *   worker holds it; otherwise 404, the same answer as for one that does
 *   not exist, so a worker cannot probe another's SIDs.
 * - Every Twilio call goes through http_async and is answered from its
 *   completion. A call whose client went away (the connection's close
 *   callback) still completes and is logged, but replies to nobody. Calls
 *   in flight are cancelled by worker_api_free (no callback runs).
 * - Nothing secret is logged: SIDs, user names and Twilio's messages only.
 */

#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "auth.h"
#include "form.h"
#include "hmap.h"
#include "http_async.h"
#include "json.h"
#include "log.h"
#include "model.h"
#include "queue.h"
#include "server.h"
#include "sid.h"
#include "stream.h"
#include "token.h"
#include "twilio.h"
#include "worker_api.h"
#include "xmalloc.h"

#define WORKER_API_REASON_MAX 512

enum worker_api_kind {
	WORKER_API_CALL_ACTION,	  /* answers an HTTP request */
	WORKER_API_CALL_WRAPUP,	  /* auto_complete_wrapping */
	WORKER_API_CALL_AWAY_RES, /* presence: reject the pending reservation */
	WORKER_API_CALL_AWAY_ACT, /* presence: set the away activity */
};

struct worker_api_call {
	TAILQ_ENTRY(worker_api_call) entry;
	struct worker_api *wa;
	enum worker_api_kind kind;
	struct evhttp_request *req; /* NULL: no client (background, or it left) */
	struct http_async_request *hreq;
	char *actor;  /* who: session identity, or "trhubd" */
	char *action; /* "worker.activity", "reservation.accept", ... */
	char *target; /* the SID acted on */
	char *reason; /* or NULL */
	char *worker_sid;
	bool audit; /* a supervisor action: audit line + stream event */
	struct form *body;
};

TAILQ_HEAD(worker_api_calls, worker_api_call);

struct worker_api_timer {
	struct worker_api *wa;
	struct event *ev;
	char sid[SID_LEN + 1];
};

struct worker_api_presence {
	int64_t gone_since_ms; /* 0: a page is connected */
	bool acting;	       /* an away action is in flight */
	bool rejected;	       /* the pending reservation was rejected already */
};

struct worker_api_away {
	char *activity;
	int64_t at_ms;
	int gone_s;
};

#define WORKER_API_N_STRINGS 9

/* The copied option strings (o's const pointers point into these). */
struct worker_api_strings {
	char *s[WORKER_API_N_STRINGS];
	size_t n;
};

struct worker_api {
	struct event_base *base;
	struct http_async *http;
	struct twilio *tw;
	struct model *model;
	struct auth *auth;
	struct stream *stream;
	struct worker_api_options o;	   /* strings point into strings */
	struct worker_api_strings strings; /* owned copies */
	struct worker_api_calls calls;
	struct hmap *wrapups;  /* WT -> struct worker_api_timer */
	struct hmap *presence; /* WK -> struct worker_api_presence */
	struct hmap *away;     /* WK -> struct worker_api_away (set away, not yet told) */
	struct event *tick;
	struct json_gen *gen;
};

static int64_t
worker_api_mono_ms(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts); /* cannot fail for this clock */
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t
worker_api_wall_ms(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_REALTIME, &ts); /* cannot fail for this clock */
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static char *
worker_api_dup(const char *s)
{
	return s != NULL ? xstrdup(s) : NULL;
}

static const char *
worker_api_keep(struct worker_api_strings *k, const char *s)
{
	if (s == NULL)
		return NULL;
	assert(k->n < WORKER_API_N_STRINGS);
	k->s[k->n] = xstrdup(s);
	return k->s[k->n++];
}

/* Frees (wiping: two of them are secrets) and empties. */
static void
worker_api_strings_clear(struct worker_api_strings *k)
{
	for (size_t i = 0; i < k->n; i++)
		xfree_secret(k->s[i]);
	k->n = 0;
}

static void
worker_api_options_copy(struct worker_api_options *dst, struct worker_api_strings *k,
			const struct worker_api_options *src)
{
	*dst = *src;
	dst->account_sid = worker_api_keep(k, src->account_sid);
	dst->auth_token = worker_api_keep(k, src->auth_token);
	dst->api_key = worker_api_keep(k, src->api_key);
	dst->api_secret = worker_api_keep(k, src->api_secret);
	dst->workspace_sid = worker_api_keep(k, src->workspace_sid);
	dst->sync_service_sid = worker_api_keep(k, src->sync_service_sid);
	dst->agent_away_activity = worker_api_keep(k, src->agent_away_activity);
	dst->conference_from = worker_api_keep(k, src->conference_from);
	dst->conference_post_work_activity = worker_api_keep(k, src->conference_post_work_activity);
	if (dst->token_ttl_s <= 0)
		dst->token_ttl_s = 3600;
	if (dst->token_ttl_s > TOKEN_ACCESS_TTL_MAX_S)
		dst->token_ttl_s = TOKEN_ACCESS_TTL_MAX_S;
	if (dst->presence_tick_ms <= 0)
		dst->presence_tick_ms = 1000;
}

/* --- request bodies ------------------------------------------------------------ */

/*
 * The request body as a form: a JSON object's string (and number/bool)
 * members, or a form body. NULL when the body is neither (the caller
 * answers 400). An empty body is an empty form.
 */
static struct form *
worker_api_body(struct evhttp_request *req)
{
	struct evkeyvalq *in = evhttp_request_get_input_headers(req);
	const char *ctype = evhttp_find_header(in, "Content-Type");
	struct evbuffer *b = evhttp_request_get_input_buffer(req);
	size_t len = evbuffer_get_length(b);
	const char *text = len == 0 ? "" : (const char *)evbuffer_pullup(b, -1);
	struct form *f = NULL;
	struct json_doc *doc = NULL;
	const struct json_value *root = NULL;

	if (text == NULL)
		return NULL;
	if (len == 0)
		return form_new();
	if (ctype != NULL && strncasecmp(ctype, "application/json", 16) == 0) {
		if (json_parse(text, len, NULL, &doc, NULL) < 0)
			return NULL;
		root = json_doc_root(doc);
		if (!json_is_object(root)) {
			json_doc_free(doc);
			return NULL;
		}
		f = form_new();
		for (size_t i = 0; i < json_object_len(root); i++) {
			const struct json_value *v = json_object_at(root, i);
			const char *k = json_object_key(root, i);
			int64_t n = 0;

			if (json_type(v) == JSON_STRING)
				form_add(f, k, json_string(v));
			else if (json_type(v) == JSON_BOOL)
				form_add(f, k, json_bool(v) ? "true" : "false");
			else if (json_int64(v, &n) == 0)
				form_add_int(f, k, (long long)n);
		}
		json_doc_free(doc);
		return f;
	}
	if (form_parse(text, len, NULL, &f, NULL) < 0)
		return NULL;
	return f;
}

/* --- replies ----------------------------------------------------------------------- */

static void
worker_api_reply_gen(struct worker_api *wa, struct evhttp_request *req, int status)
{
	size_t len = 0;
	const char *text = json_gen_text(wa->gen, &len);

	server_reply_json(req, status, text, len);
}

/* 409 with Twilio's reason, 502/503 when Twilio could not answer. */
static void
worker_api_reply_twilio_error(struct worker_api *wa, struct evhttp_request *req,
			      const struct http_response *resp, const struct twilio_error *err)
{
	if (resp->outcome == HTTP_DONE && resp->status == 429) {
		char v[24];

		snprintf(v, sizeof(v), "%ld", resp->retry_after_s > 0 ? resp->retry_after_s : 1);
		evhttp_add_header(evhttp_request_get_output_headers(req), "Retry-After", v);
		server_reply_error(req, 503, "busy", "Twilio is rate limiting; try again");
		return;
	}
	if (resp->outcome == HTTP_DONE && resp->status >= 400 && resp->status < 500) {
		json_gen_reset(wa->gen);
		json_gen_object_open(wa->gen);
		json_gen_kv_string(wa->gen, "error", "refused");
		json_gen_kv_string(wa->gen, "detail", err->message);
		json_gen_kv_int(wa->gen, "twilioCode", err->code);
		json_gen_kv_int(wa->gen, "twilioStatus", resp->status);
		json_gen_object_close(wa->gen);
		worker_api_reply_gen(wa, req, 409);
		return;
	}
	server_reply_error(req, 502, "twilio unavailable",
			   "Twilio did not complete the request; try again");
}

/* --- calls ----------------------------------------------------------------------- */

static void
worker_api_call_free(struct worker_api_call *c)
{
	if (c == NULL)
		return;
	free(c->actor);
	free(c->action);
	free(c->target);
	free(c->reason);
	free(c->worker_sid);
	form_free(c->body);
	free(c);
}

static void
worker_api_call_closed_cb(struct evhttp_connection *evcon, void *arg)
{
	struct worker_api_call *c = arg;

	c->req = NULL; /* evhttp frees the request; the result is only logged */
}

/* Detaches the call from its client connection (before replying or freeing). */
static void
worker_api_call_release(struct worker_api_call *c)
{
	if (c->req != NULL)
		evhttp_connection_set_closecb(evhttp_request_get_connection(c->req), NULL, NULL);
}

static void worker_api_done_cb(const struct http_response *resp, void *arg);

/*
 * Starts a Twilio POST for c with body c->body. On failure to start, answers
 * 502 (when c has a client) and frees c. Takes c.
 */
static void
worker_api_call_start(struct worker_api *wa, struct worker_api_call *c, char *url)
{
	struct http_request_spec spec;
	char *body = NULL;
	char *cause = NULL;

	if (url == NULL) {
		log_err("worker api: cannot build the URL for %s %s", c->action, c->target);
		goto refused;
	}
	body = form_encode(c->body);
	twilio_request_spec_init(wa->tw, &spec, HTTP_POST, url);
	spec.body = body;
	spec.body_len = strlen(body);
	c->hreq = http_async_start(wa->http, &spec, worker_api_done_cb, c, &cause);
	free(body);
	free(url);
	if (c->hreq == NULL) {
		log_err("worker api: %s %s not sent: %s", c->action, c->target,
			cause != NULL ? cause : "?");
		free(cause);
		goto refused_freed;
	}
	TAILQ_INSERT_TAIL(&wa->calls, c, entry);
	if (c->req != NULL)
		evhttp_connection_set_closecb(evhttp_request_get_connection(c->req),
					      worker_api_call_closed_cb, c);
	return;
refused:
	free(url);
refused_freed:
	if (c->req != NULL)
		server_reply_error(c->req, 502, "twilio unavailable", "cannot reach Twilio");
	worker_api_call_free(c);
}

static struct worker_api_call *
worker_api_call_new(struct worker_api *wa, enum worker_api_kind kind, struct evhttp_request *req,
		    const char *actor, const char *action, const char *target)
{
	struct worker_api_call *c = xcalloc(1, sizeof(*c));

	c->wa = wa;
	c->kind = kind;
	c->req = req;
	c->actor = xstrdup(actor);
	c->action = xstrdup(action);
	c->target = xstrdup(target);
	c->body = form_new();
	return c;
}

/* One audit line and one "audit" stream event for a supervisor's action. */
static void
worker_api_audit(struct worker_api *wa, const struct worker_api_call *c, const char *result)
{
	char *actor = log_escape(c->actor);
	char *reason = c->reason != NULL ? log_escape(c->reason) : NULL;
	char *res = log_escape(result);
	size_t len = 0;
	const char *text = NULL;

	log_notice("audit: %s %s %s%s%s: %s", actor, c->action, c->target,
		   reason != NULL ? " reason=" : "", reason != NULL ? reason : "", res);
	json_gen_reset(wa->gen);
	json_gen_object_open(wa->gen);
	json_gen_kv_string(wa->gen, "actor", c->actor);
	json_gen_kv_string(wa->gen, "action", c->action);
	json_gen_kv_string(wa->gen, "target", c->target);
	if (c->reason != NULL)
		json_gen_kv_string(wa->gen, "reason", c->reason);
	else
		json_gen_kv_null(wa->gen, "reason");
	json_gen_kv_string(wa->gen, "result", result);
	json_gen_kv_int(wa->gen, "atMs", worker_api_wall_ms());
	json_gen_object_close(wa->gen);
	text = json_gen_text(wa->gen, &len);
	/* Supervisors' and wallboards' streams; never a worker's (stream_broadcast). */
	stream_broadcast(wa->stream, "audit", 0, text, len);
	free(actor);
	free(reason);
	free(res);
}

static void worker_api_presence_step(struct worker_api *wa, const char *worker_sid);

static void
worker_api_done_cb(const struct http_response *resp, void *arg)
{
	struct worker_api_call *c = arg;
	struct worker_api *wa = c->wa;
	struct twilio_error err;
	bool ok = twilio_response_ok(resp);
	struct json_doc *doc = NULL;

	TAILQ_REMOVE(&wa->calls, c, entry);
	worker_api_call_release(c);
	twilio_error_init(&err);
	if (!ok)
		(void)twilio_error_parse(resp, &err); /* fills fallbacks either way */
	if (c->audit)
		worker_api_audit(wa, c, ok ? "ok" : err.message);
	switch (c->kind) {
	case WORKER_API_CALL_ACTION:
		if (ok)
			log_info("%s by %s on %s: ok", c->action, c->actor, c->target);
		else
			log_info("%s by %s on %s refused by Twilio: HTTP %ld, %s", c->action,
				 c->actor, c->target, resp->status, err.message);
		if (c->req == NULL)
			break;
		if (!ok) {
			worker_api_reply_twilio_error(wa, c->req, resp, &err);
			break;
		}
		json_gen_reset(wa->gen);
		json_gen_object_open(wa->gen);
		json_gen_kv_string(wa->gen, "action", c->action);
		json_gen_kv_string(wa->gen, "sid", c->target);
		json_gen_key(wa->gen, "result");
		if (resp->body_len == 0 ||
		    json_parse(resp->body, resp->body_len, NULL, &doc, NULL) < 0)
			json_gen_null(wa->gen);
		else
			json_gen_value(wa->gen, json_doc_root(doc));
		json_gen_object_close(wa->gen);
		worker_api_reply_gen(wa, c->req, 200);
		break;
	case WORKER_API_CALL_WRAPUP:
		if (ok)
			log_info("task %s completed after wrap-up (auto_complete_wrapping)",
				 c->target);
		else
			log_warning("task %s: auto-completion refused by Twilio: HTTP %ld, %s",
				    c->target, resp->status, err.message);
		break;
	case WORKER_API_CALL_AWAY_RES:
	case WORKER_API_CALL_AWAY_ACT:
		if (!ok)
			log_warning("presence: %s for worker %s refused by Twilio: HTTP %ld, %s",
				    c->action, c->worker_sid, resp->status, err.message);
		if (c->kind == WORKER_API_CALL_AWAY_RES) {
			/* Rejected (or already gone): now the activity. */
			worker_api_presence_step(wa, c->worker_sid);
		} else {
			struct worker_api_presence *p = hmap_get(wa->presence, c->worker_sid);

			if (ok) {
				struct worker_api_away *a = xcalloc(1, sizeof(*a));

				a->activity = xstrdup(c->reason != NULL ? c->reason : "?");
				a->at_ms = worker_api_wall_ms();
				a->gone_s = wa->o.agent_away_after_s;
				log_notice("presence: worker %s had no agent page for %d s; "
					   "activity set to %s",
					   c->worker_sid, wa->o.agent_away_after_s, a->activity);
				struct worker_api_away *old = hmap_put(wa->away, c->worker_sid, a);

				if (old != NULL) {
					free(old->activity);
					free(old);
				}
			}
			if (p != NULL) {
				(void)hmap_remove(wa->presence, c->worker_sid);
				free(p);
			}
		}
		break;
	}
	json_doc_free(doc);
	twilio_error_clear(&err);
	worker_api_call_free(c);
}

/* --- lookups ----------------------------------------------------------------------- */

/*
 * The activity named by value (a WA SID or a friendly name, case-insensitive)
 * in the model, or NULL. *name_out gets its friendly name.
 */
static const char *
worker_api_find_activity(const struct worker_api *wa, const char *value, const char **name_out)
{
	size_t pos = 0;
	const char *sid = NULL;
	const char *name = NULL;

	if (value == NULL)
		return NULL;
	while (model_activity_next(wa->model, &pos, &sid, &name)) {
		if (strcmp(value, sid) == 0 || (name != NULL && strcasecmp(value, name) == 0)) {
			*name_out = name;
			return sid;
		}
	}
	return NULL;
}

/* 400 naming the valid activities. */
static void
worker_api_reply_bad_activity(struct worker_api *wa, struct evhttp_request *req, const char *value)
{
	struct form *names = form_new();
	size_t pos = 0;
	const char *sid = NULL;
	const char *name = NULL;
	char *detail = NULL;
	size_t len = 0;
	char *list = NULL;

	while (model_activity_next(wa->model, &pos, &sid, &name))
		form_add(names, "a", name != NULL ? name : sid);
	for (size_t i = 0; i < form_count(names); i++)
		len += strlen(form_value(names, i)) + 2;
	list = xcalloc(len + 1, 1);
	for (size_t i = 0; i < form_count(names); i++) {
		if (i > 0)
			strncat(list, ", ", len + 1 - strlen(list) - 1);
		strncat(list, form_value(names, i), len + 1 - strlen(list) - 1);
	}
	if (value == NULL)
		detail = xasprintf("name an activity: %s", list);
	else
		detail = xasprintf("unknown activity; valid: %s", list);
	json_gen_reset(wa->gen);
	json_gen_object_open(wa->gen);
	json_gen_kv_string(wa->gen, "error", "unknown activity");
	json_gen_kv_string(wa->gen, "detail", detail);
	json_gen_key(wa->gen, "validActivities");
	json_gen_array_open(wa->gen);
	for (size_t i = 0; i < form_count(names); i++)
		json_gen_string(wa->gen, form_value(names, i));
	json_gen_array_close(wa->gen);
	json_gen_object_close(wa->gen);
	worker_api_reply_gen(wa, req, 400);
	free(detail);
	free(list);
	form_free(names);
}

/* The session's worker SID, or answers 409 and returns NULL. */
static const char *
worker_api_self(struct worker_api *wa, struct evhttp_request *req, const struct auth_session *s)
{
	const char *wk = auth_worker_sid(wa->auth, s);

	if (wk == NULL)
		server_reply_error(req, 409, "no worker",
				   "no TaskRouter worker has your user name (yet)");
	return wk;
}

/* --- tokens ---------------------------------------------------------------------- */

void
worker_api_sync_token(struct worker_api *wa, struct evhttp_request *req,
		      const struct auth_session *s)
{
	struct token_access_options t = { 0 };
	char *jwt = NULL;
	char *cause = NULL;

	t.account_sid = wa->o.account_sid;
	t.api_key = wa->o.api_key;
	t.api_secret = wa->o.api_secret;
	t.identity = s->identity;
	t.sync_service_sid = wa->o.sync_service_sid;
	t.now_s = worker_api_wall_ms() / 1000;
	t.ttl_s = wa->o.token_ttl_s;
	if (token_access(&t, &jwt, &cause) < 0) {
		log_err("cannot issue a Sync token: %s", cause);
		free(cause);
		server_reply_error(req, 503, "unavailable", "tokens are not configured");
		return;
	}
	json_gen_reset(wa->gen);
	json_gen_object_open(wa->gen);
	json_gen_kv_string(wa->gen, "identity", s->identity);
	json_gen_kv_string(wa->gen, "token", jwt);
	json_gen_object_close(wa->gen);
	worker_api_reply_gen(wa, req, 200);
	xfree_secret(jwt);
	json_gen_reset(wa->gen);
}

void
worker_api_worker_token(struct worker_api *wa, struct evhttp_request *req,
			const struct auth_session *s)
{
	const char *wk = worker_api_self(wa, req, s);
	struct token_access_options t = { 0 };
	struct token_capability_options c = { 0 };
	char *access = NULL;
	char *capability = NULL;
	char *cause = NULL;
	int64_t now = worker_api_wall_ms() / 1000;

	if (wk == NULL)
		return;
	t.account_sid = wa->o.account_sid;
	t.api_key = wa->o.api_key;
	t.api_secret = wa->o.api_secret;
	t.identity = s->identity;
	t.workspace_sid = wa->o.workspace_sid;
	t.worker_sid = wk;
	t.role = "worker";
	t.now_s = now;
	t.ttl_s = wa->o.token_ttl_s;
	c.account_sid = wa->o.account_sid;
	c.auth_token = wa->o.auth_token;
	c.workspace_sid = wa->o.workspace_sid;
	c.worker_sid = wk;
	c.now_s = now;
	c.ttl_s = wa->o.token_ttl_s;
	if (token_access(&t, &access, &cause) < 0 ||
	    token_worker_capability(&c, &capability, &cause) < 0) {
		log_err("cannot issue worker tokens: %s", cause);
		free(cause);
		xfree_secret(access);
		server_reply_error(req, 503, "unavailable", "tokens are not configured");
		return;
	}
	json_gen_reset(wa->gen);
	json_gen_object_open(wa->gen);
	json_gen_kv_string(wa->gen, "identity", s->identity);
	json_gen_kv_string(wa->gen, "workerSid", wk);
	json_gen_kv_string(wa->gen, "workspaceSid", wa->o.workspace_sid);
	json_gen_kv_string(wa->gen, "capabilityToken", capability);
	json_gen_kv_int(wa->gen, "capabilityTokenExpiresAtMs", (now + c.ttl_s) * 1000);
	json_gen_kv_string(wa->gen, "accessToken", access);
	json_gen_kv_int(wa->gen, "accessTokenExpiresAtMs", (now + t.ttl_s) * 1000);
	json_gen_object_close(wa->gen);
	worker_api_reply_gen(wa, req, 200);
	xfree_secret(access);
	xfree_secret(capability);
	json_gen_reset(wa->gen);
}

void
worker_api_workspace(struct worker_api *wa, struct evhttp_request *req,
		     const struct auth_session *s)
{
	json_gen_reset(wa->gen);
	model_workspace_json(wa->model, wa->gen);
	worker_api_reply_gen(wa, req, 200);
}

/* --- agent and supervisor actions -------------------------------------------------- */

void
worker_api_set_activity(struct worker_api *wa, struct evhttp_request *req,
			const struct auth_session *s, const char *worker_sid)
{
	struct form *body = worker_api_body(req);
	const char *value = NULL;
	const char *name = NULL;
	const char *act = NULL;
	const char *wk = worker_sid;
	struct worker_api_call *c = NULL;

	if (body == NULL) {
		server_reply_error(req, 400, "bad request", "send JSON or a form");
		return;
	}
	if (wk == NULL && (wk = worker_api_self(wa, req, s)) == NULL)
		goto out;
	if (worker_sid != NULL && !model_worker_json_exists(wa->model, worker_sid)) {
		server_reply_error(req, 404, "not found", "no such worker");
		goto out;
	}
	value = form_get(body, "activity");
	if (value == NULL)
		value = form_get(body, "activitySid");
	if (value == NULL)
		value = form_get(body, "activityName");
	act = worker_api_find_activity(wa, value, &name);
	if (act == NULL) {
		worker_api_reply_bad_activity(wa, req, value);
		goto out;
	}
	c = worker_api_call_new(wa, WORKER_API_CALL_ACTION, req, s->identity, "worker.activity",
				wk);
	c->audit = worker_sid != NULL;
	c->reason = worker_api_dup(form_get(body, "reason"));
	form_add(c->body, "ActivitySid", act);
	worker_api_call_start(wa, c, twilio_url_worker(wa->tw, wa->o.workspace_sid, wk));
out:
	form_free(body);
}

void
worker_api_reservation(struct worker_api *wa, struct evhttp_request *req,
		       const struct auth_session *s, const char *reservation_sid,
		       const char *action)
{
	struct form *body = worker_api_body(req);
	const char *wk = NULL;
	struct worker_api_call *c = NULL;
	char what[48];

	if (body == NULL) {
		server_reply_error(req, 400, "bad request", "send JSON or a form");
		return;
	}
	if ((wk = worker_api_self(wa, req, s)) == NULL)
		goto out;
	if (!model_worker_has_reservation(wa->model, wk, reservation_sid)) {
		server_reply_error(req, 404, "not found", "no such reservation of yours");
		goto out;
	}
	snprintf(what, sizeof(what), "reservation.%s", action);
	c = worker_api_call_new(wa, WORKER_API_CALL_ACTION, req, s->identity, what,
				reservation_sid);
	if (strcmp(action, "accept") == 0) {
		const char *instruction = form_get(body, "instruction");

		if (instruction != NULL && strcmp(instruction, "accept") == 0) {
			form_add(c->body, "ReservationStatus", "accepted");
		} else if (instruction == NULL || strcmp(instruction, "conference") == 0) {
			const char *pw = NULL;
			const char *pw_name = NULL;

			form_add(c->body, "Instruction", "conference");
			if (wa->o.conference_from != NULL)
				form_add(c->body, "From", wa->o.conference_from);
			if (wa->o.conference_timeout_s > 0)
				form_add_int(c->body, "Timeout", wa->o.conference_timeout_s);
			form_add(c->body, "EndConferenceOnExit",
				 wa->o.conference_end_on_exit ? "true" : "false");
			pw = worker_api_find_activity(wa, wa->o.conference_post_work_activity,
						      &pw_name);
			if (pw != NULL)
				form_add(c->body, "PostWorkActivitySid", pw);
		} else {
			server_reply_error(req, 400, "bad request",
					   "instruction is conference (default) or accept");
			worker_api_call_free(c);
			goto out;
		}
	} else if (strcmp(action, "reject") == 0) {
		const char *value = form_get(body, "activity");
		const char *name = NULL;

		form_add(c->body, "ReservationStatus", "rejected");
		if (value != NULL) {
			const char *act = worker_api_find_activity(wa, value, &name);

			if (act == NULL) {
				worker_api_call_free(c);
				worker_api_reply_bad_activity(wa, req, value);
				goto out;
			}
			form_add(c->body, "WorkerActivitySid", act);
		}
	} else {
		form_add(c->body, "ReservationStatus", "completed");
	}
	worker_api_call_start(
		wa, c,
		twilio_url_worker_reservation(wa->tw, wa->o.workspace_sid, wk, reservation_sid));
out:
	form_free(body);
}

/* May the session act on the task? Supervisors: any open task; workers: theirs. */
static bool
worker_api_may_touch_task(struct worker_api *wa, const struct auth_session *s, const char *task_sid)
{
	if (task_sid == NULL || model_task_status(wa->model, task_sid) == NULL)
		return false;
	if (s->role == AUTH_ROLE_SUPERVISOR)
		return true;
	return model_worker_on_task(wa->model, auth_worker_sid(wa->auth, s), task_sid);
}

void
worker_api_conference_end(struct worker_api *wa, struct evhttp_request *req,
			  const struct auth_session *s, const char *conference_sid)
{
	struct form *body = worker_api_body(req);
	const char *task = model_conference_task_sid(wa->model, conference_sid);
	struct worker_api_call *c = NULL;

	if (body == NULL) {
		server_reply_error(req, 400, "bad request", "send JSON or a form");
		return;
	}
	/* A supervisor may end any conference; a worker one of its own tasks. */
	if (s->role != AUTH_ROLE_SUPERVISOR && !worker_api_may_touch_task(wa, s, task)) {
		server_reply_error(req, 404, "not found", "no such conference on your tasks");
		goto out;
	}
	c = worker_api_call_new(wa, WORKER_API_CALL_ACTION, req, s->identity, "conference.end",
				conference_sid);
	c->audit = s->role == AUTH_ROLE_SUPERVISOR;
	c->reason = worker_api_dup(form_get(body, "reason"));
	form_add(c->body, "Status", "completed");
	worker_api_call_start(wa, c, twilio_url_conference(wa->tw, conference_sid));
out:
	form_free(body);
}

void
worker_api_task_update(struct worker_api *wa, struct evhttp_request *req,
		       const struct auth_session *s, const char *task_sid, const char *action)
{
	struct form *body = worker_api_body(req);
	const char *reason = NULL;
	const char *status = NULL;
	struct worker_api_call *c = NULL;
	char what[32];
	char *default_reason = NULL;

	if (body == NULL) {
		server_reply_error(req, 400, "bad request", "send JSON or a form");
		return;
	}
	if (!worker_api_may_touch_task(wa, s, task_sid)) {
		server_reply_error(req, 404, "not found",
				   s->role == AUTH_ROLE_SUPERVISOR ? "no such open task"
								   : "no such task of yours");
		goto out;
	}
	reason = form_get(body, "reason");
	if (reason != NULL && (reason[0] == '\0' || strlen(reason) > WORKER_API_REASON_MAX)) {
		server_reply_error(req, 400, "bad request", "reason must be 1 to 512 characters");
		goto out;
	}
	status = model_task_status(wa->model, task_sid);
	if (strcmp(action, "cancel") == 0) {
		if (reason == NULL) {
			server_reply_error(req, 400, "bad request", "canceling needs a reason");
			goto out;
		}
	} else if (strcmp(status, "wrapping") != 0 && strcmp(status, "assigned") != 0) {
		char *detail = xasprintf("the task is %s; only an assigned or wrapping task "
					 "can be completed",
					 status);

		server_reply_error(req, 409, "refused", detail);
		free(detail);
		goto out;
	}
	if (reason == NULL)
		reason = default_reason = xasprintf("completed by %s", s->identity);
	snprintf(what, sizeof(what), "task.%s", action);
	c = worker_api_call_new(wa, WORKER_API_CALL_ACTION, req, s->identity, what, task_sid);
	c->audit = s->role == AUTH_ROLE_SUPERVISOR;
	c->reason = xstrdup(reason);
	form_add(c->body, "AssignmentStatus",
		 strcmp(action, "cancel") == 0 ? "canceled" : "completed");
	form_add(c->body, "Reason", reason);
	worker_api_call_start(wa, c, twilio_url_task(wa->tw, wa->o.workspace_sid, task_sid));
out:
	free(default_reason);
	form_free(body);
}

/* --- auto_complete_wrapping --------------------------------------------------------- */

static void
worker_api_timer_free(struct worker_api_timer *t)
{
	if (t == NULL)
		return;
	if (t->ev != NULL)
		event_free(t->ev);
	free(t);
}

static void
worker_api_wrapup_cb(evutil_socket_t fd, short what, void *arg)
{
	struct worker_api_timer *t = arg;
	struct worker_api *wa = t->wa;
	const char *status = model_task_status(wa->model, t->sid);
	struct worker_api_call *c = NULL;

	(void)hmap_remove(wa->wrapups, t->sid);
	if (status != NULL && strcmp(status, "wrapping") == 0) {
		c = worker_api_call_new(wa, WORKER_API_CALL_WRAPUP, NULL, "trhubd", "task.complete",
					t->sid);
		form_add(c->body, "AssignmentStatus", "completed");
		form_add(c->body, "Reason", "wrap-up ended (auto_complete_wrapping)");
		worker_api_call_start(wa, c, twilio_url_task(wa->tw, wa->o.workspace_sid, t->sid));
	}
	worker_api_timer_free(t);
}

/*
 * Completes task_sid after delay_ms unless it is scheduled already or not
 * wrapping. Return: true when this call scheduled it.
 */
static bool
worker_api_wrapup_schedule(struct worker_api *wa, const char *task_sid, int64_t delay_ms)
{
	const char *status = model_task_status(wa->model, task_sid);
	struct worker_api_timer *t = NULL;
	struct timeval tv = { 0, 0 };

	if (status == NULL || strcmp(status, "wrapping") != 0 ||
	    hmap_get(wa->wrapups, task_sid) != NULL || strlen(task_sid) != SID_LEN)
		return false;
	t = xcalloc(1, sizeof(*t));
	t->wa = wa;
	memcpy(t->sid, task_sid, SID_LEN + 1);
	t->ev = evtimer_new(wa->base, worker_api_wrapup_cb, t);
	tv.tv_sec = (time_t)(delay_ms / 1000);
	tv.tv_usec = (suseconds_t)(delay_ms % 1000 * 1000);
	if (t->ev == NULL || evtimer_add(t->ev, &tv) < 0) {
		log_warning("task %s: cannot schedule its auto-completion", task_sid);
		worker_api_timer_free(t);
		return false;
	}
	(void)hmap_put(wa->wrapups, t->sid, t); /* absent: checked above */
	return true;
}

void
worker_api_task_changed(struct worker_api *wa, const char *task_sid)
{
	if (wa == NULL || !wa->o.auto_complete_wrapping || task_sid == NULL)
		return;
	(void)worker_api_wrapup_schedule(wa, task_sid,
					 (int64_t)wa->o.wrapping_complete_after_s * 1000);
}

void
worker_api_wrapups_resume(struct worker_api *wa)
{
	int64_t after_ms, now_ms;
	size_t pos = 0, n = 0;
	const char *sid = NULL;
	const char *status = NULL;
	int64_t changed_ms = 0;

	if (wa == NULL || !wa->o.auto_complete_wrapping)
		return;
	after_ms = (int64_t)wa->o.wrapping_complete_after_s * 1000;
	now_ms = worker_api_wall_ms();
	while (model_task_next(wa->model, &pos, &sid, &status, &changed_ms)) {
		int64_t left = after_ms - (now_ms - changed_ms);

		if (strcmp(status, "wrapping") != 0)
			continue;
		/* A clock ahead of ours (changed_ms in the future) waits the whole time. */
		if (left < 0)
			left = 0;
		else if (left > after_ms)
			left = after_ms;
		if (worker_api_wrapup_schedule(wa, sid, left))
			n++;
	}
	if (n > 0)
		log_info("%zu task(s) already wrapping: auto-completion scheduled", n);
}

/* Cancels every scheduled auto-completion; returns how many there were. */
static size_t
worker_api_wrapups_clear(struct worker_api *wa)
{
	size_t pos = 0, n = 0;
	const char *key = NULL;
	void *v = NULL;

	while (hmap_next(wa->wrapups, &pos, &key, &v)) {
		(void)hmap_remove(wa->wrapups, key);
		worker_api_timer_free(v);
		n++;
	}
	return n;
}

void
worker_api_wrapups_drop(struct worker_api *wa)
{
	size_t n = wa != NULL ? worker_api_wrapups_clear(wa) : 0;

	if (n > 0)
		log_info("%zu scheduled auto-completion(s) dropped: another instance holds the "
			 "lease",
			 n);
}

/* --- presence ---------------------------------------------------------------------- */

void
worker_api_worker_seen(struct worker_api *wa, const char *worker_sid)
{
	struct worker_api_presence *p = NULL;
	struct worker_api_away *a = NULL;

	if (wa == NULL || worker_sid == NULL || strlen(worker_sid) != SID_LEN)
		return;
	p = hmap_get(wa->presence, worker_sid);
	if (p == NULL) {
		p = xcalloc(1, sizeof(*p));
		(void)hmap_put(wa->presence, worker_sid, p); /* absent */
	}
	p->gone_since_ms = 0;
	a = hmap_remove(wa->away, worker_sid);
	if (a != NULL) {
		/* Tell the page that came back what happened while it was gone. */
		char sid[SID_LEN + 1];
		size_t len = 0;
		const char *text = NULL;

		memcpy(sid, worker_sid, SID_LEN + 1);
		json_gen_reset(wa->gen);
		json_gen_object_open(wa->gen);
		json_gen_kv_string(wa->gen, "workerSid", sid);
		json_gen_kv_string(wa->gen, "state", "away");
		json_gen_kv_string(wa->gen, "activityName", a->activity);
		json_gen_kv_int(wa->gen, "setAtMs", a->at_ms);
		json_gen_kv_int(wa->gen, "afterS", a->gone_s);
		json_gen_object_close(wa->gen);
		text = json_gen_text(wa->gen, &len);
		stream_broadcast_worker(wa->stream, "presence", 0, text, len, sid);
		free(a->activity);
		free(a);
	}
}

static void
worker_api_presence_drop(struct worker_api *wa, const char *worker_sid)
{
	free(hmap_remove(wa->presence, worker_sid));
}

/*
 * The next away action for a worker whose pages are gone: reject its pending
 * reservation (once), then set the away activity; or stop when it is not
 * available (any more).
 */
static void
worker_api_presence_step(struct worker_api *wa, const char *worker_sid)
{
	struct worker_api_presence *p = hmap_get(wa->presence, worker_sid);
	struct worker_api_call *c = NULL;
	bool available = false;
	const char *activity = NULL;
	const char *pending = NULL;
	const char *away = NULL;
	const char *away_name = NULL;
	bool away_available = false;

	if (p == NULL)
		return;
	p->acting = false;
	if (model_worker_state(wa->model, worker_sid, &available, &activity, &pending) < 0 ||
	    !available) {
		worker_api_presence_drop(wa, worker_sid);
		return;
	}
	away = worker_api_find_activity(wa, wa->o.agent_away_activity, &away_name);
	if (away == NULL || strcmp(away, activity) == 0) {
		if (away == NULL)
			log_warning("presence: agent_away_activity '%s' is not an activity of the "
				    "workspace; worker %s left as it is",
				    wa->o.agent_away_activity, worker_sid);
		worker_api_presence_drop(wa, worker_sid);
		return;
	}
	if (pending != NULL && !p->rejected) {
		p->rejected = true;
		c = worker_api_call_new(wa, WORKER_API_CALL_AWAY_RES, NULL, "trhubd",
					"reservation.reject", pending);
		c->worker_sid = xstrdup(worker_sid);
		form_add(c->body, "ReservationStatus", "rejected");
		log_notice("presence: worker %s has no agent page; rejecting its pending "
			   "reservation %s",
			   worker_sid, pending);
	} else {
		c = worker_api_call_new(wa, WORKER_API_CALL_AWAY_ACT, NULL, "trhubd",
					"worker.activity", worker_sid);
		c->worker_sid = xstrdup(worker_sid);
		c->reason = xstrdup(away_name != NULL ? away_name : away);
		form_add(c->body, "ActivitySid", away);
		if (model_activity_is_available(wa->model, away, &away_available) &&
		    !away_available)
			form_add(c->body, "RejectPendingReservations", "true");
	}
	p->acting = true;
	if (c->kind == WORKER_API_CALL_AWAY_RES)
		worker_api_call_start(wa, c,
				      twilio_url_worker_reservation(wa->tw, wa->o.workspace_sid,
								    worker_sid, c->target));
	else
		worker_api_call_start(wa, c,
				      twilio_url_worker(wa->tw, wa->o.workspace_sid, worker_sid));
}

static void
worker_api_tick_cb(evutil_socket_t fd, short what, void *arg)
{
	struct worker_api *wa = arg;
	int64_t now = worker_api_mono_ms();
	size_t pos = 0;
	const char *wk = NULL;
	void *v = NULL;
	struct form *due = form_new();

	if (wa->o.agent_away_after_s <= 0)
		goto out;
	while (hmap_next(wa->presence, &pos, &wk, &v)) {
		struct worker_api_presence *p = v;

		if (p->acting)
			continue;
		if (stream_worker_clients(wa->stream, wk) > 0) {
			p->gone_since_ms = 0;
			p->rejected = false;
			continue;
		}
		if (p->gone_since_ms == 0) {
			p->gone_since_ms = now;
			continue;
		}
		if (now - p->gone_since_ms >= (int64_t)wa->o.agent_away_after_s * 1000)
			form_add(due, "wk", wk);
	}
	/* Acting may drop entries: not while iterating the map. */
	for (size_t i = 0; i < form_count(due); i++)
		worker_api_presence_step(wa, form_value(due, i));
out:
	form_free(due);
}

struct worker_api *
worker_api_new(struct event_base *base, struct http_async *http, struct twilio *twilio,
	       struct model *model, struct auth *auth, struct stream *stream,
	       const struct worker_api_options *options)
{
	struct worker_api *wa = xcalloc(1, sizeof(*wa));
	struct timeval tv;

	wa->base = base;
	wa->http = http;
	wa->tw = twilio;
	wa->model = model;
	wa->auth = auth;
	wa->stream = stream;
	worker_api_options_copy(&wa->o, &wa->strings, options);
	TAILQ_INIT(&wa->calls);
	wa->wrapups = hmap_new();
	wa->presence = hmap_new();
	wa->away = hmap_new();
	wa->gen = json_gen_new();
	wa->tick = event_new(base, -1, EV_PERSIST, worker_api_tick_cb, wa);
	tv.tv_sec = wa->o.presence_tick_ms / 1000;
	tv.tv_usec = (wa->o.presence_tick_ms % 1000) * 1000;
	if (wa->tick == NULL || event_add(wa->tick, &tv) < 0)
		fatalx("worker api: cannot start the presence timer");
	return wa;
}

void
worker_api_reconfigure(struct worker_api *wa, const struct worker_api_options *options)
{
	int tick = wa->o.presence_tick_ms;

	worker_api_strings_clear(&wa->strings);
	worker_api_options_copy(&wa->o, &wa->strings, options);
	wa->o.presence_tick_ms = tick; /* the timer keeps its period */
}

void
worker_api_free(struct worker_api *wa)
{
	struct worker_api_call *c = NULL;
	size_t pos = 0;
	const char *key = NULL;
	void *v = NULL;

	if (wa == NULL)
		return;
	if (wa->tick != NULL)
		event_free(wa->tick);
	while ((c = TAILQ_FIRST(&wa->calls)) != NULL) {
		TAILQ_REMOVE(&wa->calls, c, entry);
		http_async_cancel(c->hreq);
		worker_api_call_release(c);
		worker_api_call_free(c);
	}
	(void)worker_api_wrapups_clear(wa);
	hmap_free(wa->wrapups);
	pos = 0;
	while (hmap_next(wa->presence, &pos, &key, &v)) {
		(void)hmap_remove(wa->presence, key);
		free(v);
	}
	hmap_free(wa->presence);
	pos = 0;
	while (hmap_next(wa->away, &pos, &key, &v)) {
		struct worker_api_away *a = v;

		(void)hmap_remove(wa->away, key);
		free(a->activity);
		free(a);
	}
	hmap_free(wa->away);
	json_gen_free(wa->gen);
	worker_api_strings_clear(&wa->strings);
	free(wa);
}
