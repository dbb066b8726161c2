/*
 * server: evhttp front of trhubd (server.h has the pipeline order).
 *
 * What must stay true:
 * - One general callback (server_request_cb) sees every request and applies
 *   the checks in the documented order; handlers never re-check.
 * - server_routes[] below is the one list of routes. Handlers are thin
 *   adapters to the module that owns the route (events, api), so the table
 *   reads like DESIGN.md's HTTP surface table.
 * - Webhooks are answered (204) before they are applied, and nothing on
 *   that path logs above debug level: it runs 20,000 times a second.
 * - Connection cap: libevent 2.1 has no hook at accept time, so a
 *   connection is counted when its first request arrives (a close callback
 *   uncounts it); a connection over the cap gets 503 and is closed. Idle
 *   connections that never send a request are bounded by the timeout. SSE
 *   connections leave this count when the stream module takes them over
 *   (it caps its clients itself).
 * - Accept errors for lack of descriptors (EMFILE, ENFILE, ENOBUFS,
 *   ENOMEM) disable the listener instead of letting it spin on a readable
 *   listening socket (OpenBSD httpd); a periodic timer re-enables the
 *   listeners every SERVER_ACCEPT_PAUSE_MS. (evhttp gives the listener's
 *   error callback the struct evhttp as its argument, so the callback
 *   cannot reach per-listener state; the timer needs none.)
 */

#include <sys/socket.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/listener.h>
#include <event2/util.h>

#include "api.h"
#include "auth.h"
#include "events.h"
#include "form.h"
#include "hmap.h"
#include "http_server.h"
#include "json.h"
#include "log.h"
#include "loopback.h"
#include "metrics.h"
#include "server.h"
#include "sid.h"
#include "static.h"
#include "worker_api.h"
#include "xmalloc.h"

#define SERVER_ACCEPT_PAUSE_MS 1000
/* Route body limit meaning "the configured body_max_bytes". */
#define SERVER_BODY_CONFIGURED SIZE_MAX
/* A login form or JSON body: a name, a password, nothing more. */
#define SERVER_BODY_LOGIN 4096
/* An agent or supervisor action: an activity, a reason. */
#define SERVER_BODY_ACTION 4096
#define SERVER_ALLOWED_METHODS                                                                     \
	(EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_HEAD | EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE | \
	 EVHTTP_REQ_OPTIONS | EVHTTP_REQ_PATCH)

enum server_role {
	SERVER_ROLE_ANYONE,	/* no identity needed */
	SERVER_ROLE_TWILIO,	/* X-Twilio-Signature (events_verify) */
	SERVER_ROLE_LOCAL,	/* local ops: loopback clients */
	SERVER_ROLE_SESSION,	/* any session: supervisor, worker or wallboard */
	SERVER_ROLE_VIEWER,	/* supervisor or wallboard (read-only data) */
	SERVER_ROLE_SUPERVISOR, /* supervisor */
	SERVER_ROLE_WORKER,	/* worker (acts on itself only) */
	SERVER_ROLE_AGENT,	/* worker on that task, or supervisor (worker_api checks) */
};

/* What the pipeline learned about one request, handed to the handler. */
struct server_call {
	struct evhttp_request *req;
	const struct server_route *route;
	struct events_webhook *webhook;	    /* Twilio routes: the verified webhook (owned) */
	const struct auth_session *session; /* session routes: the caller (auth's) */
	struct timespec start;
};

typedef void server_handler_cb(struct server *s, struct server_call *call);

struct server_route {
	enum evhttp_cmd_type method;
	const char *path; /* exact; a "{name}" segment matches one non-empty segment */
	enum server_role role;
	size_t body_max_bytes; /* 0: no body; SERVER_BODY_CONFIGURED: the configured cap */
	server_handler_cb *handler;
	enum events_kind kind; /* SERVER_ROLE_TWILIO: which webhook the route takes */
};

struct server_listener {
	struct evhttp_bound_socket *bound; /* owned by the evhttp */
};

struct server {
	struct event_base *base;
	struct evhttp *http;
	struct events *events;
	struct api *api;
	struct metrics *metrics;
	const struct web_static *web; /* pages, or NULL (page routes answer 503) */
	struct auth *auth;	      /* NULL: session routes answer 401 */
	struct worker_api *wapi;
	int max_connections;
	size_t body_max_bytes;
	bool trust_proxy;
	struct form *metrics_allow; /* addresses besides loopback for ops routes, or NULL */
	bool stopping;
	char *listen_host;
	uint16_t listen_port;
	int *listen_fds; /* passed by systemd, not yet handed to evhttp */
	size_t n_listen_fds;
	struct server_listener *listeners;
	size_t n_listeners;
	struct event *resume;	  /* periodic: re-enables listeners paused by EMFILE */
	struct hmap *connections; /* "%p" of struct evhttp_connection -> the connection */
	char address[INET6_ADDRSTRLEN + 8];
};

static void server_route_webhook(struct server *s, struct server_call *call);
static void server_route_stats(struct server *s, struct server_call *call);
static void server_route_tasks(struct server *s, struct server_call *call);
static void server_route_workers(struct server *s, struct server_call *call);
static void server_route_queues(struct server *s, struct server_call *call);
static void server_route_stream(struct server *s, struct server_call *call);
static void server_route_healthz(struct server *s, struct server_call *call);
static void server_route_readyz(struct server *s, struct server_call *call);
static void server_route_metrics(struct server *s, struct server_call *call);
static void server_route_page(struct server *s, struct server_call *call);
static void server_route_login(struct server *s, struct server_call *call);
static void server_route_logout(struct server *s, struct server_call *call);
static void server_route_me(struct server *s, struct server_call *call);
static void server_route_sync_token(struct server *s, struct server_call *call);
static void server_route_worker_token(struct server *s, struct server_call *call);
static void server_route_workspace(struct server *s, struct server_call *call);
static void server_route_own_activity(struct server *s, struct server_call *call);
static void server_route_reservation(struct server *s, struct server_call *call);
static void server_route_conference_end(struct server *s, struct server_call *call);
static void server_route_task_complete(struct server *s, struct server_call *call);
static void server_route_task_cancel(struct server *s, struct server_call *call);
static void server_route_worker_activity(struct server *s, struct server_call *call);

/* The HTTP surface (DESIGN.md): the rows this daemon serves today. */
static const struct server_route server_routes[] = {
	{ EVHTTP_REQ_POST, "/taskrouter_event", SERVER_ROLE_TWILIO, SERVER_BODY_CONFIGURED,
	  server_route_webhook, EVENTS_TASKROUTER },
	{ EVHTTP_REQ_POST, "/taskrouter_recording_callback", SERVER_ROLE_TWILIO,
	  SERVER_BODY_CONFIGURED, server_route_webhook, EVENTS_RECORDING },
	{ EVHTTP_REQ_POST, "/login", SERVER_ROLE_ANYONE, SERVER_BODY_LOGIN, server_route_login,
	  EVENTS_NONE },
	{ EVHTTP_REQ_POST, "/logout", SERVER_ROLE_ANYONE, SERVER_BODY_ACTION, server_route_logout,
	  EVENTS_NONE },
	{ EVHTTP_REQ_GET, "/api/me", SERVER_ROLE_ANYONE, 0, server_route_me, EVENTS_NONE },
	{ EVHTTP_REQ_GET, "/token", SERVER_ROLE_SUPERVISOR, 0, server_route_sync_token,
	  EVENTS_NONE },
	{ EVHTTP_REQ_GET, "/api/worker/token", SERVER_ROLE_WORKER, 0, server_route_worker_token,
	  EVENTS_NONE },
	{ EVHTTP_REQ_GET, "/api/workspace", SERVER_ROLE_SESSION, 0, server_route_workspace,
	  EVENTS_NONE },
	{ EVHTTP_REQ_POST, "/api/worker/activity", SERVER_ROLE_WORKER, SERVER_BODY_ACTION,
	  server_route_own_activity, EVENTS_NONE },
	{ EVHTTP_REQ_POST, "/api/reservations/{WR}/accept", SERVER_ROLE_WORKER, SERVER_BODY_ACTION,
	  server_route_reservation, EVENTS_NONE },
	{ EVHTTP_REQ_POST, "/api/reservations/{WR}/reject", SERVER_ROLE_WORKER, SERVER_BODY_ACTION,
	  server_route_reservation, EVENTS_NONE },
	{ EVHTTP_REQ_POST, "/api/reservations/{WR}/complete", SERVER_ROLE_WORKER,
	  SERVER_BODY_ACTION, server_route_reservation, EVENTS_NONE },
	{ EVHTTP_REQ_POST, "/api/conferences/{CF}/end", SERVER_ROLE_AGENT, SERVER_BODY_ACTION,
	  server_route_conference_end, EVENTS_NONE },
	{ EVHTTP_REQ_POST, "/api/tasks/{WT}/complete", SERVER_ROLE_AGENT, SERVER_BODY_ACTION,
	  server_route_task_complete, EVENTS_NONE },
	{ EVHTTP_REQ_POST, "/api/tasks/{WT}/cancel", SERVER_ROLE_SUPERVISOR, SERVER_BODY_ACTION,
	  server_route_task_cancel, EVENTS_NONE },
	{ EVHTTP_REQ_POST, "/api/workers/{WK}/activity", SERVER_ROLE_SUPERVISOR, SERVER_BODY_ACTION,
	  server_route_worker_activity, EVENTS_NONE },
	{ EVHTTP_REQ_GET, "/api/stats", SERVER_ROLE_VIEWER, 0, server_route_stats, EVENTS_NONE },
	{ EVHTTP_REQ_GET, "/api/tasks", SERVER_ROLE_VIEWER, 0, server_route_tasks, EVENTS_NONE },
	{ EVHTTP_REQ_GET, "/api/workers", SERVER_ROLE_VIEWER, 0, server_route_workers,
	  EVENTS_NONE },
	{ EVHTTP_REQ_GET, "/api/queues", SERVER_ROLE_VIEWER, 0, server_route_queues, EVENTS_NONE },
	{ EVHTTP_REQ_GET, "/api/stream", SERVER_ROLE_SESSION, 0, server_route_stream, EVENTS_NONE },
	{ EVHTTP_REQ_GET, "/healthz", SERVER_ROLE_LOCAL, 0, server_route_healthz, EVENTS_NONE },
	{ EVHTTP_REQ_GET, "/readyz", SERVER_ROLE_LOCAL, 0, server_route_readyz, EVENTS_NONE },
	{ EVHTTP_REQ_GET, "/metrics", SERVER_ROLE_LOCAL, 0, server_route_metrics, EVENTS_NONE },
	/* Pages and their files (static.c); the pages ask for a login themselves. */
	{ EVHTTP_REQ_GET, "/", SERVER_ROLE_ANYONE, 0, server_route_page, EVENTS_NONE },
	{ EVHTTP_REQ_GET, "/dashboard", SERVER_ROLE_ANYONE, 0, server_route_page, EVENTS_NONE },
	{ EVHTTP_REQ_GET, "/worker", SERVER_ROLE_ANYONE, 0, server_route_page, EVENTS_NONE },
	{ EVHTTP_REQ_GET, "/login", SERVER_ROLE_ANYONE, 0, server_route_page, EVENTS_NONE },
	{ EVHTTP_REQ_GET, "/favicon.svg", SERVER_ROLE_ANYONE, 0, server_route_page, EVENTS_NONE },
	{ EVHTTP_REQ_GET, "/assets/{name}", SERVER_ROLE_ANYONE, 0, server_route_page, EVENTS_NONE },
	{ EVHTTP_REQ_GET, "/custom/{name}", SERVER_ROLE_ANYONE, 0, server_route_page, EVENTS_NONE },
};

#define SERVER_N_ROUTES (sizeof(server_routes) / sizeof(server_routes[0]))

static void
server_common_headers(struct evhttp_request *req, const char *content_type)
{
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);

	if (content_type != NULL)
		evhttp_add_header(h, "Content-Type", content_type);
	evhttp_add_header(h, "Cache-Control", "no-store");
	evhttp_add_header(h, "X-Content-Type-Options", "nosniff");
}

void
server_reply_text(struct evhttp_request *req, int status, const char *content_type,
		  const char *body, size_t len)
{
	struct evbuffer *out = evhttp_request_get_output_buffer(req);

	server_common_headers(req, content_type);
	if (len > 0 && evbuffer_add(out, body, len) < 0)
		log_warning("http: cannot queue a %zu-byte response", len);
	evhttp_send_reply(req, status, http_server_reason(status), NULL);
}

void
server_reply_json(struct evhttp_request *req, int status, const char *json, size_t len)
{
	server_reply_text(req, status, "application/json", json, len);
}

void
server_reply_error(struct evhttp_request *req, int status, const char *error, const char *detail)
{
	struct json_gen *g = json_gen_new();
	const char *text = NULL;
	size_t len = 0;

	json_gen_object_open(g);
	json_gen_kv_string(g, "error", error);
	json_gen_kv_string(g, "detail", detail);
	json_gen_object_close(g);
	text = json_gen_text(g, &len);
	server_reply_json(req, status, text, len);
	json_gen_free(g);
}

/*
 * Finds the route for (method, path). NULL with *path_known set when the
 * path exists for other methods (their names go into allow, ", "-joined).
 */
static const struct server_route *
server_route_find(enum evhttp_cmd_type method, const char *path, size_t len, bool *path_known,
		  char *allow, size_t allow_size)
{
	struct http_server_path split;
	size_t used = 0;

	*path_known = false;
	allow[0] = '\0';
	if (http_server_path_split(path, len, &split) < 0)
		return NULL;
	for (size_t i = 0; i < SERVER_N_ROUTES; i++) {
		const struct server_route *r = &server_routes[i];
		int n = 0;

		if (!http_server_route_match(r->path, &split, NULL, 0, NULL, NULL))
			continue;
		if (r->method == method ||
		    (method == EVHTTP_REQ_HEAD && r->method == EVHTTP_REQ_GET))
			return r;
		*path_known = true;
		n = snprintf(allow + used, allow_size - used, "%s%s%s", used > 0 ? ", " : "",
			     http_server_method_name(r->method),
			     r->method == EVHTTP_REQ_GET ? ", HEAD" : "");
		if (n > 0 && (size_t)n < allow_size - used)
			used += (size_t)n;
	}
	return NULL;
}

/*
 * True when the client is on this host: the peer address, or with
 * trust_proxy the last X-Forwarded-For entry (the one our proxy added).
 */
static bool
server_client_is_local(const struct server *s, struct evhttp_request *req)
{
	struct evhttp_connection *evcon = evhttp_request_get_connection(req);
	char *peer = NULL;
	ev_uint16_t port = 0;
	const char *xff = NULL;

	if (evcon == NULL)
		return false;
	evhttp_connection_get_peer(evcon, &peer, &port);
	if (!loopback_is_host(peer))
		return false;
	if (!s->trust_proxy)
		return true;
	xff = evhttp_find_header(evhttp_request_get_input_headers(req), "X-Forwarded-For");
	if (xff == NULL)
		return true;
	{
		const char *last = strrchr(xff, ',');
		char addr[INET6_ADDRSTRLEN];
		size_t n = 0;

		last = last == NULL ? xff : last + 1;
		while (*last == ' ' || *last == '\t')
			last++;
		while (last[n] != '\0' && last[n] != ' ' && last[n] != '\t' && n + 1 < sizeof(addr))
			n++;
		memcpy(addr, last, n);
		addr[n] = '\0';
		return loopback_is_host(addr);
	}
}

static void
server_connection_key(const struct evhttp_connection *evcon, char *key, size_t size)
{
	snprintf(key, size, "%p", (const void *)evcon);
}

static void
server_connection_close_cb(struct evhttp_connection *evcon, void *arg)
{
	struct server *s = arg;
	char key[32];

	server_connection_key(evcon, key, sizeof(key));
	(void)hmap_remove(s->connections, key); /* absent when already untracked */
}

/*
 * Small answers (a 204 per webhook) must not wait for the ACK of the
 * previous one on a keep-alive connection: Nagle plus delayed ACKs would add
 * 40 ms. Best effort: a failure only costs latency.
 */
static void
server_connection_nodelay(struct evhttp_connection *evcon)
{
	struct bufferevent *bev = evhttp_connection_get_bufferevent(evcon);
	evutil_socket_t fd = bev == NULL ? -1 : bufferevent_getfd(bev);
	int one = 1;

	if (fd >= 0)
		(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

/*
 * Counts the request's connection on its first request. Returns false when
 * the connection would exceed the cap (the caller answers 503 and closes).
 */
static bool
server_connection_admit(struct server *s, struct evhttp_request *req)
{
	struct evhttp_connection *evcon = evhttp_request_get_connection(req);
	char key[32];

	if (evcon == NULL)
		return true;
	server_connection_key(evcon, key, sizeof(key));
	if (hmap_get(s->connections, key) != NULL)
		return true;
	if (hmap_count(s->connections) >= (size_t)s->max_connections)
		return false;
	(void)hmap_put(s->connections, key, evcon); /* key was absent */
	evhttp_connection_set_closecb(evcon, server_connection_close_cb, s);
	server_connection_nodelay(evcon);
	return true;
}

/* Stops counting a connection another module takes over (SSE). */
static void
server_connection_release(struct server *s, struct evhttp_request *req)
{
	struct evhttp_connection *evcon = evhttp_request_get_connection(req);
	char key[32];

	if (evcon == NULL)
		return;
	server_connection_key(evcon, key, sizeof(key));
	(void)hmap_remove(s->connections, key);
	evhttp_connection_set_closecb(evcon, NULL, NULL);
}

static void
server_reply_and_close(struct evhttp_request *req, int status, const char *error,
		       const char *detail)
{
	evhttp_add_header(evhttp_request_get_output_headers(req), "Connection", "close");
	server_reply_error(req, status, error, detail);
}

static const char *
server_verdict_error(int verdict)
{
	switch (verdict) {
	case EVENTS_TOO_LARGE:
		return "payload_too_large";
	case EVENTS_FORBIDDEN:
		return "forbidden";
	default:
		return "bad_request";
	}
}

/* Step 5 for Twilio routes: fills call->webhook or answers the refusal. */
static bool
server_check_signature(struct server *s, struct server_call *call, enum events_kind kind)
{
	struct evhttp_request *req = call->req;
	struct evkeyvalq *in = evhttp_request_get_input_headers(req);
	struct evbuffer *body = evhttp_request_get_input_buffer(req);
	struct events_request rq;
	const char *reason = NULL;
	size_t len = evbuffer_get_length(body);
	int verdict;

	rq.kind = kind;
	rq.target = evhttp_request_get_uri(req);
	rq.signature = evhttp_find_header(in, "X-Twilio-Signature");
	rq.content_type = evhttp_find_header(in, "Content-Type");
	rq.body = len == 0 ? "" : (const char *)evbuffer_pullup(body, -1);
	rq.body_len = len;
	if (rq.body == NULL) {
		server_reply_error(req, 500, "internal", "cannot read the request body");
		return false;
	}
	verdict = events_verify(s->events, &rq, &call->webhook, &reason);
	if (verdict == EVENTS_OK)
		return true;
	server_reply_error(req, verdict, server_verdict_error(verdict), reason);
	return false;
}

static void server_client_address(const struct server *s, struct evhttp_request *req, char *out,
				  size_t size);

/* True when the client address is one of metrics_allow (ops routes). */
static bool
server_client_is_allowed(const struct server *s, struct evhttp_request *req)
{
	char client[INET6_ADDRSTRLEN + 8];

	if (s->metrics_allow == NULL)
		return false;
	server_client_address(s, req, client, sizeof(client));
	for (size_t i = 0; i < form_count(s->metrics_allow); i++) {
		if (strcmp(form_value(s->metrics_allow, i), client) == 0)
			return true;
	}
	return false;
}

/* Step 5b: may a session of this role use a route that needs route_role? */
static bool
server_role_allows(enum server_role route_role, enum auth_role role)
{
	switch (route_role) {
	case SERVER_ROLE_ANYONE:
	case SERVER_ROLE_SESSION:
		return true;
	case SERVER_ROLE_TWILIO:
	case SERVER_ROLE_LOCAL:
		return false;
	case SERVER_ROLE_VIEWER:
		return role == AUTH_ROLE_SUPERVISOR || role == AUTH_ROLE_WALLBOARD;
	case SERVER_ROLE_SUPERVISOR:
		return role == AUTH_ROLE_SUPERVISOR;
	case SERVER_ROLE_WORKER:
		return role == AUTH_ROLE_WORKER;
	case SERVER_ROLE_AGENT:
		return role == AUTH_ROLE_WORKER || role == AUTH_ROLE_SUPERVISOR;
	}
	return false;
}

static void
server_request_cb(struct evhttp_request *req, void *arg)
{
	struct server *s = arg;
	struct server_call call = { .req = req };
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	const char *path = uri == NULL ? NULL : evhttp_uri_get_path(uri);
	enum evhttp_cmd_type method = evhttp_request_get_command(req);
	bool path_known = false;
	char allow[128];
	size_t body_len = 0;
	size_t limit = 0;

	(void)clock_gettime(CLOCK_MONOTONIC, &call.start); /* cannot fail for this clock */
	if (s->stopping) {
		server_reply_and_close(req, 503, "unavailable", "shutting down");
		return;
	}
	if (!server_connection_admit(s, req)) {
		server_reply_and_close(req, 503, "unavailable", "too many connections");
		return;
	}
	/* 1, 2: method and size were enforced by evhttp before this callback. */
	if (path == NULL || path[0] != '/') {
		server_reply_error(req, 400, "bad_request", "request target is not a path");
		return;
	}
	/* 3: route */
	call.route =
		server_route_find(method, path, strlen(path), &path_known, allow, sizeof(allow));
	if (call.route == NULL) {
		if (!path_known) {
			server_reply_error(req, 404, "not_found", "no such route");
			return;
		}
		evhttp_add_header(evhttp_request_get_output_headers(req), "Allow", allow);
		server_reply_error(req, 405, "method_not_allowed", "method not allowed here");
		return;
	}
	/* 4: the route's body limit */
	body_len = evbuffer_get_length(evhttp_request_get_input_buffer(req));
	limit = call.route->body_max_bytes == SERVER_BODY_CONFIGURED ? s->body_max_bytes
								     : call.route->body_max_bytes;
	if (body_len > limit) {
		if (call.route->role == SERVER_ROLE_TWILIO && s->metrics != NULL)
			metrics_webhook_rejected(s->metrics, 413);
		server_reply_error(req, 413, "payload_too_large", "request body too large");
		return;
	}
	/* 5: identity */
	switch (call.route->role) {
	case SERVER_ROLE_ANYONE:
		break;
	case SERVER_ROLE_TWILIO:
		if (!server_check_signature(s, &call, call.route->kind))
			return;
		break;
	case SERVER_ROLE_LOCAL:
		if (!server_client_is_local(s, req) && !server_client_is_allowed(s, req)) {
			server_reply_error(req, 403, "forbidden",
					   "this route is only served to local clients");
			return;
		}
		break;
	case SERVER_ROLE_SESSION:
	case SERVER_ROLE_VIEWER:
	case SERVER_ROLE_SUPERVISOR:
	case SERVER_ROLE_WORKER:
	case SERVER_ROLE_AGENT:
		call.session = s->auth == NULL ? NULL : auth_session_of(s->auth, req);
		if (call.session == NULL) {
			server_reply_error(req, 401, "login required", NULL);
			return;
		}
		/* 5b: role */
		if (!server_role_allows(call.route->role, call.session->role)) {
			server_reply_error(req, 403, "forbidden",
					   "your role may not use this route");
			return;
		}
		break;
	}
	/* 5c: state-changing browser requests come from our own pages (CSRF) */
	if (method == EVHTTP_REQ_POST && call.route->role != SERVER_ROLE_TWILIO &&
	    call.route->handler != server_route_login &&
	    (s->auth == NULL || !auth_origin_ok(s->auth, req))) {
		server_reply_error(req, 403, "forbidden",
				   "Origin (or Referer) missing or not this site");
		return;
	}
	/* 6: handler */
	call.route->handler(s, &call);
	events_webhook_free(call.webhook);
}

static double
server_elapsed_s(const struct timespec *start)
{
	struct timespec now;

	(void)clock_gettime(CLOCK_MONOTONIC, &now); /* cannot fail for this clock */
	return (double)(now.tv_sec - start->tv_sec) + (double)(now.tv_nsec - start->tv_nsec) / 1e9;
}

/* Twilio's contract: 204 No Content with Content-Type application/json, at once. */
static void
server_route_webhook(struct server *s, struct server_call *call)
{
	server_reply_text(call->req, 204, "application/json", NULL, 0);
	events_accept(s->events, call->webhook);
	if (s->metrics != NULL)
		metrics_webhook_latency(s->metrics, server_elapsed_s(&call->start));
}

static void
server_route_stats(struct server *s, struct server_call *call)
{
	api_stats(s->api, call->req);
}

static void
server_route_tasks(struct server *s, struct server_call *call)
{
	api_tasks(s->api, call->req);
}

static void
server_route_workers(struct server *s, struct server_call *call)
{
	api_workers(s->api, call->req);
}

static void
server_route_queues(struct server *s, struct server_call *call)
{
	api_queues(s->api, call->req);
}

static void
server_route_stream(struct server *s, struct server_call *call)
{
	const char *wk = NULL;

	/* A worker sees only itself; one not (yet) in the model matches nothing. */
	if (call->session->role == AUTH_ROLE_WORKER) {
		wk = auth_worker_sid(s->auth, call->session);
		if (wk == NULL)
			wk = "-";
	}
	server_connection_release(s, call->req);
	api_stream(s->api, call->req, wk);
	if (call->session->role == AUTH_ROLE_WORKER && s->wapi != NULL)
		worker_api_worker_seen(s->wapi, wk);
}

static void
server_route_healthz(struct server *s, struct server_call *call)
{
	api_healthz(s->api, call->req);
}

static void
server_route_readyz(struct server *s, struct server_call *call)
{
	api_readyz(s->api, call->req);
}

static void
server_route_metrics(struct server *s, struct server_call *call)
{
	api_metrics(s->api, call->req);
}

static void
server_route_page(struct server *s, struct server_call *call)
{
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(call->req);

	web_static_serve(s->web, call->req, evhttp_uri_get_path(uri));
}

void
server_set_web(struct server *s, const struct web_static *web)
{
	s->web = web;
}

/*
 * The caller's address: the peer, or with trust_proxy the last
 * X-Forwarded-For entry (the one our proxy added). Writes "?" if unknown.
 */
static void
server_client_address(const struct server *s, struct evhttp_request *req, char *out, size_t size)
{
	struct evhttp_connection *evcon = evhttp_request_get_connection(req);
	char *peer = NULL;
	ev_uint16_t port = 0;
	const char *xff = NULL;

	snprintf(out, size, "?");
	if (evcon == NULL)
		return;
	evhttp_connection_get_peer(evcon, &peer, &port);
	if (peer != NULL)
		snprintf(out, size, "%s", peer);
	if (!s->trust_proxy || !loopback_is_host(peer))
		return;
	xff = evhttp_find_header(evhttp_request_get_input_headers(req), "X-Forwarded-For");
	if (xff != NULL) {
		const char *last = strrchr(xff, ',');
		size_t n = 0;

		last = last == NULL ? xff : last + 1;
		while (*last == ' ' || *last == '\t')
			last++;
		while (last[n] != '\0' && last[n] != ' ' && last[n] != '\t' && n + 1 < size)
			n++;
		if (n > 0) {
			memcpy(out, last, n);
			out[n] = '\0';
		}
	}
}

static void
server_route_login(struct server *s, struct server_call *call)
{
	char client[INET6_ADDRSTRLEN + 8];

	if (s->auth == NULL) {
		server_reply_error(call->req, 503, "unavailable", "logins are not configured");
		return;
	}
	server_client_address(s, call->req, client, sizeof(client));
	/* The answer may wait for the hasher; auth watches the connection meanwhile. */
	server_connection_release(s, call->req);
	auth_login(s->auth, call->req, client);
}

static void
server_route_logout(struct server *s, struct server_call *call)
{
	auth_logout(s->auth, call->req); /* the pipeline's Origin check needs s->auth */
}

static void
server_route_me(struct server *s, struct server_call *call)
{
	if (s->auth == NULL) {
		server_reply_error(call->req, 401, "login required", NULL);
		return;
	}
	auth_me(s->auth, call->req);
}

void
server_set_auth(struct server *s, struct auth *auth, struct worker_api *wapi)
{
	s->auth = auth;
	s->wapi = wapi;
}

/*
 * Copies path segment n (0-based, "/api/tasks/WT.../complete": 2 is the
 * SID) into out when it is a SID with prefix; else answers 404 and returns
 * false.
 */
static bool
server_path_sid(struct server_call *call, int n, const char *prefix, char out[SID_LEN + 1])
{
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(call->req);
	const char *p = uri == NULL ? NULL : evhttp_uri_get_path(uri);
	size_t len = 0;

	for (int i = 0; p != NULL && i <= n; i++) {
		if (*p != '/') {
			p = NULL;
			break;
		}
		p++;
		len = strcspn(p, "/");
		if (i < n)
			p += len;
	}
	if (p == NULL || len != SID_LEN) {
		server_reply_error(call->req, 404, "not found", "no such resource");
		return false;
	}
	memcpy(out, p, SID_LEN);
	out[SID_LEN] = '\0';
	if (!sid_is_valid(out, prefix)) {
		server_reply_error(call->req, 404, "not found", "no such resource");
		return false;
	}
	return true;
}

/* The last path segment ("accept"), owned by the request. */
static const char *
server_path_last(struct server_call *call)
{
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(call->req);
	const char *p = uri == NULL ? NULL : evhttp_uri_get_path(uri);
	const char *slash = p == NULL ? NULL : strrchr(p, '/');

	return slash == NULL ? "" : slash + 1;
}

static void
server_route_sync_token(struct server *s, struct server_call *call)
{
	worker_api_sync_token(s->wapi, call->req, call->session);
}

static void
server_route_worker_token(struct server *s, struct server_call *call)
{
	worker_api_worker_token(s->wapi, call->req, call->session);
}

static void
server_route_workspace(struct server *s, struct server_call *call)
{
	worker_api_workspace(s->wapi, call->req, call->session);
}

/* The action handlers may answer after Twilio did: the worker_api watches the connection. */
static void
server_route_own_activity(struct server *s, struct server_call *call)
{
	server_connection_release(s, call->req);
	worker_api_set_activity(s->wapi, call->req, call->session, NULL);
}

static void
server_route_worker_activity(struct server *s, struct server_call *call)
{
	char wk[SID_LEN + 1];

	if (!server_path_sid(call, 2, "WK", wk))
		return;
	server_connection_release(s, call->req);
	worker_api_set_activity(s->wapi, call->req, call->session, wk);
}

static void
server_route_reservation(struct server *s, struct server_call *call)
{
	char wr[SID_LEN + 1];

	if (!server_path_sid(call, 2, "WR", wr))
		return;
	server_connection_release(s, call->req);
	worker_api_reservation(s->wapi, call->req, call->session, wr, server_path_last(call));
}

static void
server_route_conference_end(struct server *s, struct server_call *call)
{
	char cf[SID_LEN + 1];

	if (!server_path_sid(call, 2, "CF", cf))
		return;
	server_connection_release(s, call->req);
	worker_api_conference_end(s->wapi, call->req, call->session, cf);
}

static void
server_route_task_complete(struct server *s, struct server_call *call)
{
	char wt[SID_LEN + 1];

	if (!server_path_sid(call, 2, "WT", wt))
		return;
	server_connection_release(s, call->req);
	worker_api_task_update(s->wapi, call->req, call->session, wt, "complete");
}

static void
server_route_task_cancel(struct server *s, struct server_call *call)
{
	char wt[SID_LEN + 1];

	if (!server_path_sid(call, 2, "WT", wt))
		return;
	server_connection_release(s, call->req);
	worker_api_task_update(s->wapi, call->req, call->session, wt, "cancel");
}

static const char *
server_role_name(enum server_role r)
{
	switch (r) {
	case SERVER_ROLE_ANYONE:
		return "anyone";
	case SERVER_ROLE_TWILIO:
		return "twilio";
	case SERVER_ROLE_LOCAL:
		return "local";
	case SERVER_ROLE_SESSION:
		return "session";
	case SERVER_ROLE_VIEWER:
		return "viewer";
	case SERVER_ROLE_SUPERVISOR:
		return "supervisor";
	case SERVER_ROLE_WORKER:
		return "worker";
	case SERVER_ROLE_AGENT:
		return "agent";
	}
	return "?";
}

void
server_print_routes(FILE *out)
{
	for (size_t i = 0; i < SERVER_N_ROUTES; i++)
		fprintf(out, "%s %s %s\n", http_server_method_name(server_routes[i].method),
			server_routes[i].path, server_role_name(server_routes[i].role));
}

struct server *
server_new(struct event_base *base, const struct server_options *options, struct events *events,
	   struct api *api, struct metrics *metrics)
{
	struct server *s = xcalloc(1, sizeof(*s));
	size_t evhttp_body_max = 0;

	s->base = base;
	s->events = events;
	s->api = api;
	s->metrics = metrics;
	s->max_connections = options->max_connections > 0 ? options->max_connections : 1024;
	s->body_max_bytes = options->body_max_bytes > 0 ? options->body_max_bytes
							: EVENTS_DEFAULT_BODY_MAX_BYTES;
	s->trust_proxy = options->trust_proxy;
	if (options->metrics_allow != NULL) {
		const char *p = options->metrics_allow;

		s->metrics_allow = form_new();
		while (*p != '\0') {
			size_t n = strcspn(p, ", \t");

			if (n > 0) {
				char *addr = xstrndup(p, n);

				form_add(s->metrics_allow, "a", addr);
				free(addr);
			}
			p += n;
			p += strspn(p, ", \t");
		}
	}
	s->listen_host = xstrdup(options->listen_host == NULL ? "127.0.0.1" : options->listen_host);
	s->listen_port = options->listen_port;
	if (options->n_listen_fds > 0) {
		s->listen_fds = xmemdup(options->listen_fds,
					options->n_listen_fds * sizeof(*options->listen_fds));
		s->n_listen_fds = options->n_listen_fds;
	}
	s->connections = hmap_new();
	s->http = evhttp_new(base);
	if (s->http == NULL)
		fatalx("http: cannot create the HTTP server");
	evhttp_set_allowed_methods(s->http, SERVER_ALLOWED_METHODS);
	evhttp_set_default_content_type(s->http, NULL);
	if (options->header_max_bytes > 0)
		evhttp_set_max_headers_size(s->http, (ev_ssize_t)options->header_max_bytes);
	/*
	 * evhttp refuses bodies over twice our cap with its own 413 before
	 * reading them; between the two, the pipeline answers a JSON 413.
	 */
	evhttp_body_max = s->body_max_bytes * 2;
	evhttp_set_max_body_size(s->http, (ev_ssize_t)evhttp_body_max);
	evhttp_set_timeout(s->http, options->timeout_s > 0 ? options->timeout_s : 30);
	evhttp_set_gencb(s->http, server_request_cb, s);
	return s;
}

void
server_reconfigure(struct server *s, size_t body_max_bytes)
{
	s->body_max_bytes = body_max_bytes > 0 ? body_max_bytes : EVENTS_DEFAULT_BODY_MAX_BYTES;
	evhttp_set_max_body_size(s->http, (ev_ssize_t)(s->body_max_bytes * 2));
}

static void
server_resume_cb(evutil_socket_t fd, short what, void *arg)
{
	struct server *s = arg;

	if (s->stopping)
		return;
	for (size_t i = 0; i < s->n_listeners; i++) {
		/* Enabling an enabled listener is a no-op; a paused one accepts again. */
		if (evconnlistener_enable(evhttp_bound_socket_get_listener(s->listeners[i].bound)) <
		    0)
			log_warning("http: cannot resume accepting");
	}
}

static void
server_accept_error_cb(struct evconnlistener *lev, void *arg)
{
	int err = EVUTIL_SOCKET_ERROR();

	if (err == EMFILE || err == ENFILE || err == ENOBUFS || err == ENOMEM) {
		log_warning("http: accept failed (%s), pausing up to %d ms",
			    evutil_socket_error_to_string(err), SERVER_ACCEPT_PAUSE_MS);
		(void)evconnlistener_disable(lev); /* cannot fail for a live listener */
		return;
	}
	log_debug("http: accept failed: %s", evutil_socket_error_to_string(err));
}

static void
server_add_listener(struct server *s, struct evhttp_bound_socket *bound)
{
	s->listeners = xreallocarray(s->listeners, s->n_listeners + 1, sizeof(*s->listeners));
	s->listeners[s->n_listeners++].bound = bound;
}

/* Records "host:port" of fd for server_address. */
static void
server_note_address(struct server *s, int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	char host[INET6_ADDRSTRLEN];

	if (s->address[0] != '\0' || getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
		return;
	if (ss.ss_family == AF_INET) {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)&ss;

		if (inet_ntop(AF_INET, &sin->sin_addr, host, sizeof(host)) != NULL)
			snprintf(s->address, sizeof(s->address), "%s:%u", host,
				 (unsigned)ntohs(sin->sin_port));
	} else if (ss.ss_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)&ss;

		if (inet_ntop(AF_INET6, &sin6->sin6_addr, host, sizeof(host)) != NULL)
			snprintf(s->address, sizeof(s->address), "[%s]:%u", host,
				 (unsigned)ntohs(sin6->sin6_port));
	}
}

int
server_listen(struct server *s, char **cause_out)
{
	struct evhttp_bound_socket *bound = NULL;
	struct timeval resume_tv = { SERVER_ACCEPT_PAUSE_MS / 1000,
				     (SERVER_ACCEPT_PAUSE_MS % 1000) * 1000 };

	for (size_t i = 0; i < s->n_listen_fds; i++) {
		int fd = s->listen_fds[i];

		bound = evhttp_accept_socket_with_handle(s->http, fd);
		if (bound == NULL) {
			log_warning("http: cannot accept on passed fd %d, closing it", fd);
			(void)close(fd); /* unusable; nothing else to do with it */
			continue;
		}
		server_add_listener(s, bound);
		server_note_address(s, fd);
	}
	free_and_null(s->listen_fds);
	if (s->n_listen_fds > 0 && s->n_listeners == 0) {
		s->n_listen_fds = 0;
		*cause_out = xstrdup("none of the sockets passed by systemd is usable");
		return -EBADF;
	}
	if (s->n_listeners == 0) {
		errno = 0;
		bound = evhttp_bind_socket_with_handle(s->http, s->listen_host, s->listen_port);
		if (bound == NULL) {
			int err = errno != 0 ? errno : EADDRNOTAVAIL;

			*cause_out = xasprintf("cannot bind %s:%u: %s", s->listen_host,
					       (unsigned)s->listen_port, strerror(err));
			return -err;
		}
		server_add_listener(s, bound);
		server_note_address(s, evhttp_bound_socket_get_fd(bound));
	}
	s->n_listen_fds = 0;
	for (size_t i = 0; i < s->n_listeners; i++)
		evconnlistener_set_error_cb(evhttp_bound_socket_get_listener(s->listeners[i].bound),
					    server_accept_error_cb);
	s->resume = event_new(s->base, -1, EV_PERSIST, server_resume_cb, s);
	if (s->resume == NULL || event_add(s->resume, &resume_tv) < 0) {
		*cause_out = xstrdup("cannot arm the accept timer");
		return -ENOMEM;
	}
	return 0;
}

const char *
server_address(const struct server *s)
{
	return s->address;
}

void
server_stop_accepting(struct server *s)
{
	if (s == NULL || s->stopping)
		return;
	s->stopping = true;
	if (s->resume != NULL)
		event_del(s->resume);
	for (size_t i = 0; i < s->n_listeners; i++)
		evhttp_del_accept_socket(s->http, s->listeners[i].bound);
	s->n_listeners = 0;
}

void
server_free(struct server *s)
{
	if (s == NULL)
		return;
	if (s->resume != NULL)
		event_free(s->resume);
	/* Frees every connection; their close callbacks still find s->connections. */
	if (s->http != NULL)
		evhttp_free(s->http);
	for (size_t i = 0; i < s->n_listen_fds; i++)
		(void)close(s->listen_fds[i]); /* never handed over: still ours */
	free(s->listen_fds);
	free(s->listeners);
	hmap_free(s->connections);
	form_free(s->metrics_allow);
	free(s->listen_host);
	free(s);
}
