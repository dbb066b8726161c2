/*
 * sim_http: the emulator's HTTP front on one evhttp listener.
 *
 * Every request goes through sim_http_request_cb, which splits the path once,
 * finds the route (literal segments beat {X} captures; a capture may carry a
 * literal suffix such as "{CF}.json"), and then applies, in this order:
 * counters, faults (drop, status, latency), 404/405, Basic auth, body parse,
 * handler. Paths under /sim/ (the control API) are neither counted nor
 * faulted, so a test can always clear the faults it injected.
 *
 * Invariants:
 * - exactly one reply per request: the reply helpers count the status, send
 *   and free the call; nothing touches the call after a reply;
 * - a delayed call (latency or drop) sits on h->delayed with its timer armed
 *   until the timer fires; sim_http_free cancels those timers first;
 * - a drop never frees the connection from inside evhttp's request callback:
 *   it goes through the (zero-delay) timer, then evhttp_connection_free closes
 *   the socket without a response.
 */

#include <sys/socket.h>

#include <errno.h>
#include <fnmatch.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/util.h>

#include "buf.h"
#include "hmap.h"
#include "http_server.h"
#include "log.h"
#include "num.h"
#include "queue.h"
#include "sim.h"
#include "sim_clock.h"
#include "sim_http.h"
#include "xmalloc.h"

#define SIM_HTTP_MAX_SEGS	  HTTP_SERVER_MAX_SEGS
#define SIM_HTTP_MAX_HEADERS	  (16 * 1024)
#define SIM_HTTP_MAX_BODY	  (1024 * 1024)
#define SIM_HTTP_TIMEOUT_S	  60
#define SIM_HTTP_FORM_MAX_BYTES	  (64 * 1024)
#define SIM_HTTP_STATUS_DROPPED	  0
#define SIM_HTTP_CONTROL_PREFIX	  "/sim/"
#define SIM_HTTP_MORE_INFO_PREFIX "https://www.twilio.com/docs/errors/"

/* Bodies and query strings: 64 KiB in all, values up to that too (Sync checks 16 KiB itself). */
static const struct form_limits sim_http_form_limits = {
	.max_bytes = SIM_HTTP_FORM_MAX_BYTES,
	.max_pairs = 512,
	.max_key_bytes = 256,
	.max_value_bytes = SIM_HTTP_FORM_MAX_BYTES,
};

struct sim_http_status_count {
	int status;
	uint64_t n;
};

struct sim_http_counter {
	uint64_t total;
	struct sim_http_status_count *by;
	size_t nby;
};

struct sim_http_entry {
	const struct sim_route *route;
	struct sim_http_counter *counter;
};

struct sim_http_fault_entry {
	struct sim_fault f;
	int id;
	uint64_t hits;
	int64_t created_ms;
	TAILQ_ENTRY(sim_http_fault_entry) link;
};

struct sim_http_call {
	struct sim_request r; /* first: handlers get &call->r */
	struct sim_http *h;
	const struct sim_http_entry *entry; /* NULL when no route matched */
	int miss_status;		    /* 404 or 405 when entry is NULL */
	struct sim_http_counter *counter;   /* NULL: not counted (control API) */
	char *rawpath;			    /* as received, for paging URLs */
	char *path;			    /* decoded */
	char *segbuf;			    /* decoded segments, NUL-separated */
	char *segs[SIM_HTTP_MAX_SEGS];
	size_t nsegs;
	char *body;
	struct event *timer;
	bool drop;
	int fault_status;
	int fault_code;
	char *fault_message;
	int fault_retry_after_s;
	TAILQ_ENTRY(sim_http_call) link;
};

TAILQ_HEAD(sim_http_fault_list, sim_http_fault_entry);
TAILQ_HEAD(sim_http_call_list, sim_http_call);

struct sim_http {
	struct sim *sim;
	struct evhttp *http;
	struct evhttp_bound_socket *bound;
	struct sim_http_entry *entries;
	size_t nentries;
	size_t capentries;
	struct hmap *counters; /* "METHOD pattern" -> struct sim_http_counter */
	struct sim_http_fault_list faults;
	int next_fault_id;
	struct sim_http_call_list delayed;
};

static void sim_http_call_continue(struct sim_http_call *call);

/* Counters */

static struct sim_http_counter *
sim_http_counter_get(struct sim_http *h, const char *key)
{
	struct sim_http_counter *c = hmap_get(h->counters, key);

	if (c == NULL) {
		c = xcalloc(1, sizeof(*c));
		hmap_put(h->counters, key, c);
	}
	return c;
}

static void
sim_http_counter_add(struct sim_http_counter *c, int status)
{
	size_t i;

	if (c == NULL)
		return;
	c->total++;
	for (i = 0; i < c->nby; i++) {
		if (c->by[i].status == status) {
			c->by[i].n++;
			return;
		}
	}
	c->by = xreallocarray(c->by, c->nby + 1, sizeof(*c->by));
	c->by[c->nby].status = status;
	c->by[c->nby].n = 1;
	c->nby++;
}

void
sim_http_counters_json(struct sim_http *h, struct json_gen *g)
{
	size_t pos = 0;
	const char *key;
	void *value;

	json_gen_object_open(g);
	while (hmap_next(h->counters, &pos, &key, &value)) {
		struct sim_http_counter *c = value;
		char status[16];
		size_t i;

		if (c->total == 0)
			continue;
		json_gen_key(g, key);
		json_gen_object_open(g);
		json_gen_kv_int(g, "total", (int64_t)c->total);
		json_gen_key(g, "by_status");
		json_gen_object_open(g);
		for (i = 0; i < c->nby; i++) {
			if (c->by[i].n == 0)
				continue;
			if (c->by[i].status == SIM_HTTP_STATUS_DROPPED)
				snprintf(status, sizeof(status), "dropped");
			else
				snprintf(status, sizeof(status), "%d", c->by[i].status);
			json_gen_kv_int(g, status, (int64_t)c->by[i].n);
		}
		json_gen_object_close(g);
		json_gen_object_close(g);
	}
	json_gen_object_close(g);
}

/* Zeroes every counter; the objects stay, since route entries point at them. */
void
sim_http_counters_reset(struct sim_http *h)
{
	size_t pos = 0;
	const char *key;
	void *value;

	while (hmap_next(h->counters, &pos, &key, &value)) {
		struct sim_http_counter *c = value;

		c->total = 0;
		free_and_null(c->by);
		c->nby = 0;
	}
}

/* Faults */

static void
sim_http_fault_entry_free(struct sim_http_fault_entry *fe)
{
	if (fe == NULL)
		return;
	free(fe->f.method);
	free(fe->f.pattern);
	free(fe->f.message);
	free(fe);
}

int
sim_http_fault_add(struct sim_http *h, struct sim_fault *f)
{
	struct sim_http_fault_entry *fe = xcalloc(1, sizeof(*fe));

	fe->f = *f;
	memset(f, 0, sizeof(*f));
	if (fe->f.pattern == NULL)
		fe->f.pattern = xstrdup("*");
	if (fe->f.percent <= 0 || fe->f.percent > 100)
		fe->f.percent = 100;
	fe->id = ++h->next_fault_id;
	fe->created_ms = sim_clock_now_ms(h->sim->clock);
	TAILQ_INSERT_TAIL(&h->faults, fe, link);
	log_info("fault %d added: %s %s status %d code %d latency %d ms%s", fe->id,
		 fe->f.method != NULL ? fe->f.method : "*", fe->f.pattern, fe->f.status, fe->f.code,
		 fe->f.latency_ms, fe->f.drop ? " drop" : "");
	return fe->id;
}

void
sim_http_faults_clear(struct sim_http *h)
{
	struct sim_http_fault_entry *fe;

	while ((fe = TAILQ_FIRST(&h->faults)) != NULL) {
		TAILQ_REMOVE(&h->faults, fe, link);
		sim_http_fault_entry_free(fe);
	}
}

static bool
sim_http_fault_is_active(struct sim_http *h, const struct sim_http_fault_entry *fe, int64_t now)
{
	if (fe->f.count > 0 && fe->hits >= (uint64_t)fe->f.count)
		return false;
	if (fe->f.duration_ms > 0 && now - fe->created_ms >= fe->f.duration_ms)
		return false;
	return true;
}

void
sim_http_faults_json(struct sim_http *h, struct json_gen *g)
{
	struct sim_http_fault_entry *fe;
	int64_t now = sim_clock_now_ms(h->sim->clock);

	json_gen_array_open(g);
	TAILQ_FOREACH(fe, &h->faults, link) {
		json_gen_object_open(g);
		json_gen_kv_int(g, "id", fe->id);
		json_gen_kv_string(g, "method", fe->f.method);
		json_gen_kv_string(g, "path", fe->f.pattern);
		json_gen_kv_int(g, "status", fe->f.status);
		json_gen_kv_int(g, "code", fe->f.code);
		json_gen_kv_string(g, "message", fe->f.message);
		if (fe->f.retry_after_s >= 0)
			json_gen_kv_int(g, "retry_after", fe->f.retry_after_s);
		else
			json_gen_kv_null(g, "retry_after");
		json_gen_kv_int(g, "latency_ms", fe->f.latency_ms);
		json_gen_kv_bool(g, "drop", fe->f.drop);
		json_gen_kv_int(g, "count", fe->f.count);
		json_gen_kv_int(g, "duration_ms", fe->f.duration_ms);
		json_gen_kv_int(g, "percent", fe->f.percent);
		json_gen_kv_int(g, "hits", (int64_t)fe->hits);
		json_gen_kv_bool(g, "active", sim_http_fault_is_active(h, fe, now));
		json_gen_object_close(g);
	}
	json_gen_array_close(g);
}

static bool
sim_http_fault_matches(const struct sim_http_fault_entry *fe, const struct sim_http_call *call)
{
	if (fe->f.method != NULL && strcasecmp(fe->f.method, call->r.method) != 0)
		return false;
	if (fnmatch(fe->f.pattern, call->path, 0) == 0)
		return true;
	if (call->entry != NULL && fnmatch(fe->f.pattern, call->entry->route->pattern, 0) == 0)
		return true;
	return false;
}

/*
 * Applies every active fault that matches and wins its percent roll: the
 * largest latency, and the first drop or status. Returns the total latency.
 */
static int
sim_http_faults_apply(struct sim_http *h, struct sim_http_call *call)
{
	struct sim_http_fault_entry *fe;
	int64_t now;
	int latency_ms = 0;

	if (TAILQ_EMPTY(&h->faults))
		return 0;
	now = sim_clock_now_ms(h->sim->clock);
	TAILQ_FOREACH(fe, &h->faults, link) {
		bool wants_status = fe->f.drop || fe->f.status > 0;

		if (!sim_http_fault_is_active(h, fe, now) || !sim_http_fault_matches(fe, call))
			continue;
		if (wants_status && fe->f.latency_ms <= 0 && (call->drop || call->fault_status > 0))
			continue;
		if (fe->f.percent < 100 && (int)rng_below(&h->sim->rng, 100) >= fe->f.percent)
			continue;
		fe->hits++;
		if (fe->f.latency_ms > latency_ms)
			latency_ms = fe->f.latency_ms;
		if (call->drop || call->fault_status > 0)
			continue;
		if (fe->f.drop) {
			call->drop = true;
		} else if (fe->f.status > 0) {
			call->fault_status = fe->f.status;
			call->fault_code = fe->f.code;
			call->fault_message =
				xstrdup(fe->f.message != NULL ? fe->f.message : "Injected fault");
			call->fault_retry_after_s = fe->f.retry_after_s;
		}
	}
	return latency_ms;
}

/* Routes */

void
sim_http_register(struct sim_http *h, const struct sim_route *routes, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		const struct sim_route *rt = &routes[i];
		struct sim_http_entry *e;
		char *key;

		if (h->nentries == h->capentries) {
			h->capentries = h->capentries > 0 ? h->capentries * 2 : 64;
			h->entries = xreallocarray(h->entries, h->capentries, sizeof(*h->entries));
		}
		e = &h->entries[h->nentries];
		memset(e, 0, sizeof(*e));
		e->route = rt;
		if (rt->pattern[0] != '/')
			fatalx("route %s: pattern must start with /", rt->pattern);
		key = xasprintf("%s %s", rt->method, rt->pattern);
		e->counter = sim_http_counter_get(h, key);
		free(key);
		h->nentries++;
	}
}

/* The decoded segments of call as the matcher's path. */
static void
sim_http_split_path(const struct sim_http_call *call, struct http_server_path *path)
{
	path->n = call->nsegs;
	for (size_t i = 0; i < call->nsegs; i++) {
		path->seg[i] = call->segs[i];
		path->len[i] = strlen(call->segs[i]);
	}
}

/* Finds the most specific route for the path; sets miss_status when none fits the method. */
static void
sim_http_route_find(struct sim_http *h, struct sim_http_call *call)
{
	const struct sim_http_entry *best = NULL;
	struct http_server_path path;
	uint32_t best_score = 0;
	bool path_known = false;
	size_t i;

	sim_http_split_path(call, &path);
	for (i = 0; i < h->nentries; i++) {
		const struct sim_http_entry *e = &h->entries[i];
		uint32_t score = 0;

		if (!http_server_route_match(e->route->pattern, &path, NULL, 0, NULL, &score))
			continue;
		path_known = true;
		if (strcmp(e->route->method, call->r.method) != 0)
			continue;
		if (best == NULL || score > best_score) {
			best = e;
			best_score = score;
		}
	}
	call->entry = best;
	if (best == NULL)
		call->miss_status = path_known ? 405 : 404;
}

/* Fills the captures of the chosen route, cutting off capture suffixes in place. */
static void
sim_http_route_capture(struct sim_http_call *call)
{
	struct http_server_capture caps[SIM_HTTP_MAX_PARAMS];
	struct http_server_path path;
	size_t ncaps = 0;

	sim_http_split_path(call, &path);
	(void)http_server_route_match(call->entry->route->pattern, &path, caps, SIM_HTTP_MAX_PARAMS,
				      &ncaps, NULL);
	for (size_t i = 0; i < ncaps; i++) {
		call->segs[caps[i].seg][caps[i].len] = '\0';
		call->r.params[call->r.nparams++] = call->segs[caps[i].seg];
	}
	call->r.route = call->entry->route->pattern;
}

/* Splits the raw path into decoded segments and decodes the whole path. */
static bool
sim_http_split(struct sim_http_call *call)
{
	const char *p = call->rawpath;
	size_t len = strlen(p);
	char *out;

	if (p[0] != '/')
		return false;
	call->path = xmalloc(len + 1);
	if (form_decode_path_component(p, len, call->path) < 0)
		return false;
	call->segbuf = xmalloc(len + 1);
	out = call->segbuf;
	while (*p == '/') {
		const char *end;

		p++;
		end = strchr(p, '/');
		if (end == NULL)
			end = p + strlen(p);
		if (call->nsegs == SIM_HTTP_MAX_SEGS)
			return false;
		if (form_decode_path_component(p, (size_t)(end - p), out) < 0)
			return false;
		call->segs[call->nsegs++] = out;
		out += strlen(out) + 1;
		p = end;
	}
	return true;
}

bool
sim_http_if_match_ok(const struct sim_request *r, uint64_t version)
{
	char want[24];
	const char *v = r->if_match;
	size_t len;

	if (v == NULL || strcmp(v, "*") == 0)
		return true;
	if (strncmp(v, "W/", 2) == 0)
		v += 2;
	len = strlen(v);
	if (len >= 2 && v[0] == '"' && v[len - 1] == '"') {
		v++;
		len -= 2;
	}
	snprintf(want, sizeof(want), "%" PRIu64, version);
	return strlen(want) == len && strncmp(want, v, len) == 0;
}

/* Replies */

static void
sim_http_call_free(struct sim_http_call *call)
{
	if (call == NULL)
		return;
	if (call->timer != NULL)
		event_free(call->timer);
	form_free(call->r.query);
	form_free(call->r.form);
	free(call->rawpath);
	free(call->path);
	free(call->segbuf);
	free(call->body);
	free(call->fault_message);
	free(call);
}

static struct sim_http_call *
sim_http_call_of(struct sim_request *r)
{
	return (struct sim_http_call *)r;
}

static void
sim_http_send(struct sim_request *r, int status, const char *body, size_t len, const char *etag,
	      int retry_after_s)
{
	struct sim_http_call *call = sim_http_call_of(r);
	struct evkeyvalq *out = evhttp_request_get_output_headers(r->req);
	struct evbuffer *buf = NULL;

	if (body != NULL) {
		evhttp_add_header(out, "Content-Type", "application/json");
		buf = evbuffer_new();
		evbuffer_add(buf, body, len);
	}
	if (etag != NULL)
		evhttp_add_header(out, "ETag", etag);
	if (retry_after_s >= 0) {
		char value[24];

		snprintf(value, sizeof(value), "%d", retry_after_s);
		evhttp_add_header(out, "Retry-After", value);
	}
	sim_http_counter_add(call->counter, status);
	log_trace(LOG_TRACE_HTTP, "%s %s -> %d", r->method, call->path, status);
	evhttp_send_reply(r->req, status, http_server_reason(status), buf);
	if (buf != NULL)
		evbuffer_free(buf);
	sim_http_call_free(call);
}

void
sim_reply_json(struct sim_request *r, int status, struct json_gen *g, const char *etag)
{
	size_t len = 0;
	const char *text = json_gen_text(g, &len);

	sim_http_send(r, status, text != NULL ? text : "", len, etag, -1);
}

void
sim_reply_no_content(struct sim_request *r)
{
	sim_http_send(r, 204, NULL, 0, NULL, -1);
}

static void
sim_http_reply_error_text(struct sim_request *r, int status, int code, const char *message,
			  int retry_after_s)
{
	struct json_gen *g = json_gen_new();
	size_t len = 0;
	const char *text;

	json_gen_object_open(g);
	json_gen_kv_int(g, "code", code);
	json_gen_kv_string(g, "message", message);
	if (code > 0) {
		char *more = xasprintf(SIM_HTTP_MORE_INFO_PREFIX "%d", code);

		json_gen_kv_string(g, "more_info", more);
		free(more);
	} else {
		json_gen_kv_null(g, "more_info");
	}
	json_gen_kv_int(g, "status", status);
	json_gen_object_close(g);
	text = json_gen_text(g, &len);
	sim_http_send(r, status, text, len, NULL, retry_after_s);
	json_gen_free(g);
}

void
sim_reply_error(struct sim_request *r, int status, int code, const char *fmt, ...)
{
	va_list ap;
	char *message;

	va_start(ap, fmt);
	message = xvasprintf(fmt, ap);
	va_end(ap);
	sim_http_reply_error_text(r, status, code, message, -1);
	free(message);
}

/* Drops the connection without a response: the client sees the socket close. */
static void
sim_http_call_drop(struct sim_http_call *call)
{
	struct evhttp_connection *conn = evhttp_request_get_connection(call->r.req);

	sim_http_counter_add(call->counter, SIM_HTTP_STATUS_DROPPED);
	log_trace(LOG_TRACE_HTTP, "%s %s -> dropped", call->r.method, call->path);
	if (conn != NULL)
		evhttp_connection_free(conn);
	else
		evhttp_send_reply(call->r.req, 500, "Dropped", NULL); /* detached: frees it */
	sim_http_call_free(call);
}

/* Auth */

static int
sim_http_b64_value(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

/* Decodes standard base64 (padding optional) into an allocated string, or NULL. */
static char *
sim_http_b64_decode(const char *in)
{
	size_t len = strlen(in);
	char *out = xmalloc(len + 1);
	size_t o = 0;
	uint32_t acc = 0;
	int bits = 0;
	size_t i;

	for (i = 0; i < len; i++) {
		int v;

		if (in[i] == '=')
			break;
		v = sim_http_b64_value(in[i]);
		if (v < 0) {
			free(out);
			return NULL;
		}
		acc = (acc << 6) | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[o++] = (char)((acc >> bits) & 0xff);
		}
	}
	out[o] = '\0';
	if (strlen(out) != o) {
		free(out);
		return NULL;
	}
	return out;
}

static bool
sim_http_pair_equals(const char *user, const char *pass, const char *want_user,
		     const char *want_pass)
{
	return want_user != NULL && want_pass != NULL && strcmp(user, want_user) == 0 &&
	       strcmp(pass, want_pass) == 0;
}

static bool
sim_http_authorized(struct sim_http *h, struct sim_request *r)
{
	const char *value =
		evhttp_find_header(evhttp_request_get_input_headers(r->req), "Authorization");
	const struct sim_options *opt = &h->sim->opt;
	char *decoded = NULL;
	char *colon;
	bool ok = false;

	if (value == NULL || strncasecmp(value, "Basic ", 6) != 0)
		return false;
	value += 6;
	while (*value == ' ')
		value++;
	decoded = sim_http_b64_decode(value);
	if (decoded == NULL)
		return false;
	colon = strchr(decoded, ':');
	if (colon != NULL) {
		*colon = '\0';
		ok = sim_http_pair_equals(decoded, colon + 1, opt->account_sid, opt->auth_token) ||
		     sim_http_pair_equals(decoded, colon + 1, opt->api_key, opt->api_secret);
	}
	xfree_secret(decoded);
	return ok;
}

/* Request processing */

static bool
sim_http_is_form(const char *content_type)
{
	size_t n = strlen("application/x-www-form-urlencoded");

	return content_type == NULL ||
	       (strncasecmp(content_type, "application/x-www-form-urlencoded", n) == 0 &&
		(content_type[n] == '\0' || content_type[n] == ';'));
}

static void
sim_http_call_continue(struct sim_http_call *call)
{
	struct sim_http *h = call->h;
	struct sim_request *r = &call->r;
	struct evbuffer *in;
	size_t len;
	char *cause = NULL;
	int rc;

	if (call->drop) {
		sim_http_call_drop(call);
		return;
	}
	if (call->fault_status > 0) {
		sim_http_reply_error_text(r, call->fault_status, call->fault_code,
					  call->fault_message, call->fault_retry_after_s);
		return;
	}
	if (call->entry == NULL) {
		if (call->miss_status == 405)
			sim_reply_error(r, 405, 20004, "Method not allowed");
		else
			sim_reply_error(r, 404, 20404, "The requested resource %s was not found",
					call->path);
		return;
	}
	if (!call->entry->route->no_auth && !sim_http_authorized(h, r)) {
		evhttp_add_header(evhttp_request_get_output_headers(r->req), "WWW-Authenticate",
				  "Basic realm=\"Twilio API\"");
		sim_reply_error(r, 401, 20003, "Authentication Error - invalid username");
		return;
	}
	sim_http_route_capture(call);

	in = evhttp_request_get_input_buffer(r->req);
	len = evbuffer_get_length(in);
	call->body = xmalloc(len + 1);
	if (len > 0)
		evbuffer_copyout(in, call->body, len);
	call->body[len] = '\0';
	r->body = call->body;
	r->body_len = len;
	r->content_type =
		evhttp_find_header(evhttp_request_get_input_headers(r->req), "Content-Type");
	if (len > 0 && sim_http_is_form(r->content_type)) {
		form_free(r->form);
		r->form = NULL;
		rc = form_parse(call->body, len, &sim_http_form_limits, &r->form, &cause);
		if (rc < 0) {
			r->form = form_new();
			if (rc == -E2BIG)
				sim_reply_error(r, 413, 20001, "Request entity too large");
			else
				sim_reply_error(r, 400, 20001, "Invalid request body: %s",
						cause != NULL ? cause : "malformed");
			free(cause);
			return;
		}
	}
	call->entry->route->handler(r);
}

static void
sim_http_delay_cb(evutil_socket_t fd, short what, void *arg)
{
	struct sim_http_call *call = arg;

	TAILQ_REMOVE(&call->h->delayed, call, link);
	event_free(call->timer);
	call->timer = NULL;
	sim_http_call_continue(call);
}

/*
 * Turns Nagle off on the request's socket: a response larger than one
 * segment would otherwise wait for the client's delayed ACK (40 ms per
 * keep-alive request). Cheap enough to repeat on every request.
 */
static void
sim_http_nodelay(struct evhttp_request *req)
{
	struct evhttp_connection *conn = evhttp_request_get_connection(req);
	struct bufferevent *bev = conn != NULL ? evhttp_connection_get_bufferevent(conn) : NULL;
	evutil_socket_t fd = bev != NULL ? bufferevent_getfd(bev) : -1;
	int one = 1;

	if (fd >= 0)
		(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

static void
sim_http_request_cb(struct evhttp_request *req, void *arg)
{
	struct sim_http *h = arg;
	struct sim_http_call *call = xcalloc(1, sizeof(*call));
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	const char *rawpath = uri != NULL ? evhttp_uri_get_path(uri) : NULL;
	const char *query = uri != NULL ? evhttp_uri_get_query(uri) : NULL;
	bool control;
	bool path_ok;
	int latency_ms = 0;
	char *cause = NULL;

	sim_http_nodelay(req);
	call->h = h;
	call->r.sim = h->sim;
	call->r.req = req;
	call->r.method = http_server_method_name(evhttp_request_get_command(req));
	call->r.form = form_new();
	call->r.body = "";
	call->r.if_match = evhttp_find_header(evhttp_request_get_input_headers(req), "If-Match");
	call->rawpath = xstrdup(rawpath != NULL && rawpath[0] != '\0' ? rawpath : "/");
	call->fault_retry_after_s = -1;
	path_ok = sim_http_split(call);
	if (!path_ok && call->path == NULL)
		call->path = xstrdup(call->rawpath);
	call->r.path = call->path;
	call->r.route = "";

	if (path_ok)
		sim_http_route_find(h, call);
	else
		call->miss_status = 404;
	control =
		strncmp(call->path, SIM_HTTP_CONTROL_PREFIX, strlen(SIM_HTTP_CONTROL_PREFIX)) == 0;
	if (!control) {
		if (call->entry != NULL) {
			call->counter = call->entry->counter;
		} else {
			char *key = xasprintf("%s (no route)", call->r.method);

			call->counter = sim_http_counter_get(h, key);
			free(key);
		}
		latency_ms = sim_http_faults_apply(h, call);
	}

	if (form_parse(query != NULL ? query : "", query != NULL ? strlen(query) : 0,
		       &sim_http_form_limits, &call->r.query, &cause) < 0) {
		call->r.query = form_new();
		if (!call->drop && call->fault_status == 0 && latency_ms == 0) {
			sim_reply_error(&call->r, 400, 20001, "Invalid query string: %s",
					cause != NULL ? cause : "malformed");
			free(cause);
			return;
		}
	}
	free(cause);

	if (latency_ms > 0 || call->drop) {
		struct timeval tv = { latency_ms / 1000, (latency_ms % 1000) * 1000 };

		call->timer = evtimer_new(h->sim->base, sim_http_delay_cb, call);
		TAILQ_INSERT_TAIL(&h->delayed, call, link);
		evtimer_add(call->timer, &tv);
		return;
	}
	sim_http_call_continue(call);
}

/* Lifecycle */

struct sim_http *
sim_http_new(struct sim *sim)
{
	struct sim_http *h = xcalloc(1, sizeof(*h));

	h->sim = sim;
	h->http = evhttp_new(sim->base);
	if (h->http == NULL)
		fatalx("evhttp_new failed");
	h->counters = hmap_new();
	TAILQ_INIT(&h->faults);
	TAILQ_INIT(&h->delayed);
	evhttp_set_max_headers_size(h->http, SIM_HTTP_MAX_HEADERS);
	evhttp_set_max_body_size(h->http, SIM_HTTP_MAX_BODY);
	evhttp_set_timeout(h->http, SIM_HTTP_TIMEOUT_S);
	evhttp_set_default_content_type(h->http, "application/json");
	evhttp_set_allowed_methods(h->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_DELETE |
						    EVHTTP_REQ_PUT | EVHTTP_REQ_PATCH |
						    EVHTTP_REQ_HEAD | EVHTTP_REQ_OPTIONS);
	evhttp_set_gencb(h->http, sim_http_request_cb, h);
	return h;
}

void
sim_http_free(struct sim_http *h)
{
	struct sim_http_call *call;
	size_t pos = 0;
	const char *key;
	void *value;

	if (h == NULL)
		return;
	/* Delayed calls first: their requests die with the connections in evhttp_free. */
	while ((call = TAILQ_FIRST(&h->delayed)) != NULL) {
		TAILQ_REMOVE(&h->delayed, call, link);
		sim_http_call_free(call);
	}
	if (h->http != NULL)
		evhttp_free(h->http);
	sim_http_faults_clear(h);
	while (hmap_next(h->counters, &pos, &key, &value)) {
		struct sim_http_counter *c = value;

		free(c->by);
		free(c);
	}
	hmap_free(h->counters);
	free(h->entries);
	free(h);
}

/* Splits "host:port" or "[v6]:port". */
static int
sim_http_parse_addr(const char *addr, char **host_out, int *port_out)
{
	const char *colon;
	char *host;
	char *end;
	long port;

	if (addr[0] == '[') {
		const char *close = strchr(addr, ']');

		if (close == NULL || close[1] != ':')
			return -EINVAL;
		host = xstrndup(addr + 1, (size_t)(close - addr - 1));
		colon = close + 1;
	} else {
		colon = strrchr(addr, ':');
		if (colon == NULL)
			return -EINVAL;
		host = xstrndup(addr, (size_t)(colon - addr));
	}
	errno = 0;
	port = strtol(colon + 1, &end, 10);
	if (errno != 0 || *end != '\0' || end == colon + 1 || port < 0 || port > 65535) {
		free(host);
		return -EINVAL;
	}
	*host_out = host;
	*port_out = (int)port;
	return 0;
}

int
sim_http_listen(struct sim_http *h, const char *addr, int fd, int *port_out)
{
	struct sockaddr_storage ss;
	socklen_t sslen = sizeof(ss);
	char *host = NULL;
	int port = 0;
	int r;

	if (fd >= 0) {
		if (evutil_make_socket_nonblocking(fd) < 0)
			return -EIO;
		h->bound = evhttp_accept_socket_with_handle(h->http, fd);
		if (h->bound == NULL)
			return -EIO;
	} else {
		r = sim_http_parse_addr(addr, &host, &port);
		if (r < 0)
			return r;
		h->bound = evhttp_bind_socket_with_handle(h->http, host, (ev_uint16_t)port);
		free(host);
		if (h->bound == NULL)
			return -EADDRNOTAVAIL;
	}
	fd = evhttp_bound_socket_get_fd(h->bound);
	if (getsockname(fd, (struct sockaddr *)&ss, &sslen) < 0)
		return -errno;
	if (ss.ss_family == AF_INET)
		port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
	else if (ss.ss_family == AF_INET6)
		port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	else
		return -EAFNOSUPPORT;
	*port_out = port;
	return 0;
}

/* Paging */

int
sim_pager_init(struct sim_pager *p, struct sim_request *r, int max_page_size)
{
	const char *size = form_get(r->query, "PageSize");
	const char *page = form_get(r->query, "Page");
	const char *token = form_get(r->query, "PageToken");
	int64_t v;

	memset(p, 0, sizeof(*p));
	p->r = r;
	p->page_size = 50;
	if (max_page_size > SIM_PAGER_MAX_PAGE_SIZE)
		max_page_size = SIM_PAGER_MAX_PAGE_SIZE;
	if (p->page_size > max_page_size)
		p->page_size = max_page_size;
	if (size != NULL) {
		if (sim_param_int(r, "PageSize", size, 1, max_page_size, &v) < 0)
			return -EINVAL;
		p->page_size = (int)v;
	}
	if (page != NULL) {
		if (sim_param_int(r, "Page", page, 0, INT32_MAX, &v) < 0)
			return -EINVAL;
		p->page = (int)v;
	}
	if (token != NULL) {
		char *end;
		unsigned long long c;

		errno = 0;
		c = strtoull(token + (strncmp(token, "PA", 2) == 0 ? 2 : 0), &end, 10);
		if (strncmp(token, "PA", 2) != 0 || token[2] < '0' || token[2] > '9' ||
		    errno != 0 || *end != '\0') {
			sim_reply_error(r, 400, 20001, "Invalid PageToken");
			return -EINVAL;
		}
		p->have_after = true;
		p->after = c;
	} else {
		p->skip = (int64_t)p->page * p->page_size;
	}
	return 0;
}

bool
sim_pager_take(struct sim_pager *p, uint64_t cursor)
{
	if (p->taken >= p->page_size) {
		p->more = true;
		return false;
	}
	if ((p->have_after && cursor <= p->after) || p->skip > 0) {
		if (p->skip > 0)
			p->skip--;
		p->before[p->nbefore % (SIM_PAGER_MAX_PAGE_SIZE + 1)] = cursor;
		p->nbefore++;
		return false;
	}
	if (p->taken == 0)
		p->first = cursor;
	p->last = cursor;
	p->taken++;
	return true;
}

bool
sim_pager_done(const struct sim_pager *p)
{
	return p->more;
}

enum sim_pager_link {
	SIM_PAGER_FIRST,
	SIM_PAGER_CURRENT,
	SIM_PAGER_NEXT,
	SIM_PAGER_PREVIOUS,
};

/* Appends path?filters&PageSize=&Page=[&PageToken=] for one link of the envelope. */
static void
sim_pager_link(const struct sim_pager *p, struct buf *b, enum sim_pager_link which)
{
	struct sim_http_call *call = sim_http_call_of(p->r);
	const struct form *q = p->r->query;
	const char *token = form_get(q, "PageToken");
	int page = p->page;
	size_t i;

	buf_puts(b, call->rawpath);
	buf_putc(b, '?');
	for (i = 0; i < form_count(q); i++) {
		const char *k = form_key(q, i);

		if (strcmp(k, "PageSize") == 0 || strcmp(k, "Page") == 0 ||
		    strcmp(k, "PageToken") == 0)
			continue;
		form_encode_component(b, k);
		buf_putc(b, '=');
		form_encode_component(b, form_value(q, i));
		buf_putc(b, '&');
	}
	switch (which) {
	case SIM_PAGER_FIRST:
		page = 0;
		token = NULL;
		break;
	case SIM_PAGER_CURRENT:
		break;
	case SIM_PAGER_NEXT:
		page = p->page + 1;
		token = NULL;
		break;
	case SIM_PAGER_PREVIOUS:
		page = p->page > 0 ? p->page - 1 : 0;
		token = NULL;
		break;
	}
	buf_printf(b, "PageSize=%d&Page=%d", p->page_size, page);
	if (which == SIM_PAGER_CURRENT && token != NULL) {
		buf_puts(b, "&PageToken=");
		form_encode_component(b, token);
	} else if (which == SIM_PAGER_NEXT) {
		buf_printf(b, "&PageToken=PA%" PRIu64, p->last);
	} else if (which == SIM_PAGER_PREVIOUS && p->nbefore > (uint64_t)p->page_size) {
		/* The previous page starts after the (page_size + 1)-th item before this one. */
		uint64_t at = p->nbefore - (uint64_t)p->page_size - 1;

		buf_printf(b, "&PageToken=PA%" PRIu64,
			   p->before[at % (SIM_PAGER_MAX_PAGE_SIZE + 1)]);
	}
}

static bool
sim_pager_has_next(const struct sim_pager *p)
{
	return p->more && p->taken > 0;
}

static bool
sim_pager_has_previous(const struct sim_pager *p)
{
	return p->nbefore > 0;
}

static void
sim_pager_kv_link(const struct sim_pager *p, struct json_gen *g, const char *key,
		  enum sim_pager_link which, bool absolute)
{
	struct buf b;

	if ((which == SIM_PAGER_NEXT && !sim_pager_has_next(p)) ||
	    (which == SIM_PAGER_PREVIOUS && !sim_pager_has_previous(p))) {
		json_gen_kv_null(g, key);
		return;
	}
	buf_init(&b);
	if (absolute)
		buf_puts(&b, p->r->sim->base_url);
	sim_pager_link(p, &b, which);
	json_gen_kv_string(g, key, b.data);
	buf_clear(&b);
}

void
sim_pager_v1_open(struct sim_pager *p, struct json_gen *g, const char *key)
{
	json_gen_object_open(g);
	json_gen_key(g, key);
	json_gen_array_open(g);
}

void
sim_pager_v1_close(struct sim_pager *p, struct json_gen *g, const char *key)
{
	json_gen_array_close(g);
	json_gen_key(g, "meta");
	json_gen_object_open(g);
	json_gen_kv_int(g, "page", p->page);
	json_gen_kv_int(g, "page_size", p->page_size);
	sim_pager_kv_link(p, g, "first_page_url", SIM_PAGER_FIRST, true);
	sim_pager_kv_link(p, g, "previous_page_url", SIM_PAGER_PREVIOUS, true);
	sim_pager_kv_link(p, g, "url", SIM_PAGER_CURRENT, true);
	sim_pager_kv_link(p, g, "next_page_url", SIM_PAGER_NEXT, true);
	json_gen_kv_string(g, "key", key);
	json_gen_object_close(g);
	json_gen_object_close(g);
}

void
sim_pager_2010_open(struct sim_pager *p, struct json_gen *g, const char *key)
{
	sim_pager_v1_open(p, g, key);
}

void
sim_pager_2010_close(struct sim_pager *p, struct json_gen *g, const char *key)
{
	int64_t start = (int64_t)p->page * p->page_size;

	json_gen_array_close(g);
	sim_pager_kv_link(p, g, "uri", SIM_PAGER_CURRENT, false);
	sim_pager_kv_link(p, g, "first_page_uri", SIM_PAGER_FIRST, false);
	sim_pager_kv_link(p, g, "next_page_uri", SIM_PAGER_NEXT, false);
	sim_pager_kv_link(p, g, "previous_page_uri", SIM_PAGER_PREVIOUS, false);
	json_gen_kv_int(g, "page", p->page);
	json_gen_kv_int(g, "page_size", p->page_size);
	json_gen_kv_int(g, "start", start);
	json_gen_kv_int(g, "end", p->taken > 0 ? start + p->taken - 1 : start);
	json_gen_object_close(g);
}

/* Parameters */

int
sim_param_bool(struct sim_request *r, const char *value, bool *out)
{
	if (value != NULL && strcasecmp(value, "true") == 0) {
		*out = true;
		return 0;
	}
	if (value != NULL && strcasecmp(value, "false") == 0) {
		*out = false;
		return 0;
	}
	sim_reply_error(r, 400, 20001, "Invalid boolean value '%s'", value != NULL ? value : "");
	return -EINVAL;
}

int
sim_param_int(struct sim_request *r, const char *name, const char *value, int64_t min, int64_t max,
	      int64_t *out)
{
	int64_t v = 0;

	if (num_parse_i64(value, min, max, &v) < 0) {
		sim_reply_error(r, 400, 20001,
				"%s must be an integer between %" PRId64 " and %" PRId64, name, min,
				max);
		return -EINVAL;
	}
	*out = v;
	return 0;
}

/* Days since 1970-01-01 for a proleptic Gregorian date (no timegm, no TZ). */
static int64_t
sim_http_days_from_civil(int64_t y, unsigned m, unsigned d)
{
	int64_t era;
	unsigned yoe;
	unsigned doy;
	unsigned doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = (unsigned)(y - era * 400);
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

int
sim_param_date(struct sim_request *r, const char *name, const char *value, int64_t *ms_out)
{
	int y;
	int mo;
	int d;
	int hh = 0;
	int mm = 0;
	int ss = 0;
	int n = 0;
	int64_t ms = 0;
	int64_t tz_s = 0;
	const char *p;

	if (value == NULL || sscanf(value, "%4d-%2d-%2d%n", &y, &mo, &d, &n) != 3 || n != 10)
		goto bad;
	p = value + n;
	if (*p == 'T' || *p == ' ') {
		n = 0;
		if (sscanf(p + 1, "%2d:%2d:%2d%n", &hh, &mm, &ss, &n) != 3 || n != 8)
			goto bad;
		p += 1 + n;
		if (*p == '.') {
			int64_t scale = 100;

			p++;
			if (*p < '0' || *p > '9')
				goto bad;
			while (*p >= '0' && *p <= '9') {
				ms += (*p - '0') * scale;
				scale /= 10;
				p++;
			}
		}
		if (*p == 'Z') {
			p++;
		} else if (*p == '+' || *p == '-') {
			int th;
			int tm;

			n = 0;
			if (sscanf(p + 1, "%2d:%2d%n", &th, &tm, &n) != 2 || n != 5)
				goto bad;
			tz_s = (int64_t)(th * 3600 + tm * 60) * (*p == '+' ? 1 : -1);
			p += 1 + n;
		}
	}
	if (*p != '\0' || mo < 1 || mo > 12 || d < 1 || d > 31 || hh > 23 || mm > 59 || ss > 60)
		goto bad;
	*ms_out = ((sim_http_days_from_civil(y, (unsigned)mo, (unsigned)d) * 86400 + hh * 3600 +
		    mm * 60 + ss - tz_s) *
		   1000) +
		  ms;
	return 0;
bad:
	sim_reply_error(r, 400, 20001, "%s must be an ISO-8601 date-time", name);
	return -EINVAL;
}

void
sim_format_iso(int64_t ms, char out[32])
{
	time_t t = (time_t)(ms >= 0 ? ms / 1000 : (ms - 999) / 1000);
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

void
sim_format_rfc2822(int64_t ms, char out[40])
{
	static const char *const days[] = { "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat" };
	static const char *const months[] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
					      "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
	time_t t = (time_t)(ms >= 0 ? ms / 1000 : (ms - 999) / 1000);
	struct tm tm;

	gmtime_r(&t, &tm);
	snprintf(out, 40, "%s, %02d %s %04d %02d:%02d:%02d +0000", days[tm.tm_wday], tm.tm_mday,
		 months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}
