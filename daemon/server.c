/*
 * server: evhttp front of trhubd (server.h has the pipeline order).
 *
 * What must stay true:
 * - One general callback (server_request_cb) sees every request and applies
 *   the checks in the documented order; handlers never re-check. The one
 *   exception is the webhook fast path (server_conn_fast_*): a plain
 *   HTTP/1.1 keep-alive webhook is answered by the connection filter, which
 *   runs the same steps for a Twilio route in the same order.
 * - server_routes[] below is the one list of routes. Handlers are thin
 *   adapters to the module that owns the route (events, api), so the table
 *   reads like DESIGN.md's HTTP surface table.
 * - Webhooks are answered (204) before they are applied, and nothing on
 *   that path logs above debug level: it runs 20,000 times a second.
 * - The front door (doc/design.md "The front door"). evhttp 2.1 parses
 *   leniently and has no hook at accept, so every connection's socket is
 *   wrapped in a filter bufferevent (evhttp_set_bevcb), and the filter
 *   (struct server_conn) is the one owner of a connection's budget:
 *   * it exists from accept (the bevcb) to the bufferevent's destruction
 *     (the filter's free_context), and counts against max_connections all
 *     that time; at accept, over the general share, the oldest idle
 *     keep-alive connection is evicted, else the connection takes a place
 *     in the webhook reserve, where its first request must be a Twilio
 *     route (else 503), else it is refused;
 *   * it reads each request's line and header block itself and hands it to
 *     evhttp only once it passed the RFC 9112 checks (400/431/501/505 and
 *     close otherwise), so evhttp never sees a smuggling pair; then exactly
 *     Content-Length body bytes; then nothing until the answer is complete
 *     (evhttp's on_complete), holding at most a small bound of pipelined
 *     input (a stream connection: SERVER_STREAM_INPUT_MAX) before closing;
 *   * one timer per connection: the header deadline from accept (or from a
 *     keep-alive request's first byte), the body deadline from the end of
 *     the headers, the keep-alive idle timeout, the lingering close.
 *   A refusal is written by the filter straight to the socket, then the
 *   write side is shut and input is discarded for SERVER_LINGER_MS so the
 *   peer reads the answer instead of a reset; closing always goes through
 *   evhttp (an EOF event on the filter), never under evhttp's feet.
 * - Accept errors for lack of descriptors (EMFILE, ENFILE, ENOBUFS,
 *   ENOMEM) disable the listener instead of letting it spin on a readable
 *   listening socket (OpenBSD httpd); a periodic timer re-enables the
 *   listeners every SERVER_ACCEPT_PAUSE_MS. (evhttp gives the listener's
 *   error callback the struct evhttp as its argument, so the callback
 *   cannot reach per-listener state; the timer needs none.)
 */

#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <stdint.h>
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
#include <event2/listener.h>
#include <event2/util.h>

#include "api.h"
#include "auth.h"
#include "cidr.h"
#include "events.h"
#include "form.h"
#include "forwarded.h"
#include "hmap.h"
#include "http_server.h"
#include "json.h"
#include "log.h"
#include "loopback.h"
#include "metrics.h"
#include "queue.h"
#include "request_head.h"
#include "server.h"
#include "sid.h"
#include "static.h"
#include "tls.h"
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
/* Descriptors kept free of connections: listeners, Twilio requests, files. */
#define SERVER_FD_HEADROOM 64
/* Header deadline of a connection in the webhook reserve (Twilio sends at once). */
#define SERVER_RESERVE_HEADER_MS 2000
/* How long a refused connection's input is read and discarded before closing. */
#define SERVER_LINGER_MS 1000
/* Bytes a stream connection may send after its request before it is closed. */
#define SERVER_STREAM_INPUT_MAX 1024

enum server_role {
	SERVER_ROLE_ANYONE,	/* no identity needed */
	SERVER_ROLE_TWILIO,	/* X-Twilio-Signature (events_verify) */
	SERVER_ROLE_LOCAL,	/* local ops: server_request_client's is_local, or metrics_allow */
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

/* Where a connection is in its request cycle (what its filter lets through). */
enum server_conn_state {
	SERVER_CONN_HEAD,    /* reading a request line and headers (or idle before one) */
	SERVER_CONN_BODY,    /* passing body_left more bytes */
	SERVER_CONN_WAIT,    /* request handed over; nothing passes until it is answered */
	SERVER_CONN_STREAM,  /* kept by the stream: nothing passes, ever */
	SERVER_CONN_CLOSING, /* refused: input discarded until the linger timer */
	/* The webhook fast path (server_conn_fast_*): evhttp never sees these. */
	SERVER_CONN_FAST_BODY, /* reading a webhook's body, which the filter answers */
	SERVER_CONN_FAST_OWED, /* answered; the socket has not taken all of it yet */
};

enum server_conn_pool {
	SERVER_POOL_GENERAL,
	SERVER_POOL_RESERVE, /* webhook reserve: Twilio routes only */
};

/*
 * One accepted connection: its filter's context. Owned by the filter
 * bufferevent (freed by its free_context, server_conn_free_cb); counted in
 * the server while `counted`.
 */
struct server_conn {
	struct server *s;	  /* NULL once the server is freed */
	struct bufferevent *bev;  /* the filter: evhttp's bufferevent */
	struct bufferevent *sock; /* the socket under it */
	struct event *timer;	  /* the one deadline (see server_conn_arm) */
	struct event *flush;	  /* moves evhttp's output through the filter */
	struct event *wev;	  /* socket writable, while output waits (made on first use) */
	struct event_base *base;
	int write_timeout_s;   /* a stalled write closes after this */
	struct evbuffer *head; /* the header block being checked */
	enum server_conn_state state;
	enum server_conn_pool pool;
	bool counted;
	bool refused; /* over every share at accept: 503 from the timer */
	bool idle;    /* in s->idle: keep-alive, no byte of a next request yet */
	bool nodelay;
	bool redirect;	   /* on the redirect listener: every request gets its 308 */
	bool flushing;	   /* inside our flush: the output filter may write */
	unsigned requests; /* answered so far */
	/*
	 * TLS: sock is an OpenSSL bufferevent (tls.c); tls_owed: output went
	 * to it and "written" is owed once it drained, which tls_drained (a
	 * callback on its output, server_conn_tls_drained_cb) watches.
	 */
	bool tls;
	bool tls_owed;
	struct evbuffer_cb_entry *tls_drained;
	size_t head_bytes;
	size_t body_left;
	struct request_head rh; /* the request head being checked */
	/*
	 * The webhook fast path: a copy of the head with its fields cut out
	 * (NUL-terminated in place), the body while it arrives in pieces, and
	 * the answer's rest while the socket does not take it. Made on first
	 * use, kept for the connection's next requests.
	 */
	char *fast_head;
	size_t fast_head_size;
	const char *fast_target;
	const char *fast_signature;
	const char *fast_content_type;
	enum events_kind fast_kind;
	struct evbuffer *fast_body;
	struct evbuffer *fast_out;
	TAILQ_ENTRY(server_conn) link; /* s->conns */
	TAILQ_ENTRY(server_conn) idle_link;
	TAILQ_ENTRY(server_conn) all_link; /* s->all, until the record is freed */
	char key[32];			   /* "%p" of bev, for server_registry */
};

TAILQ_HEAD(server_conns, server_conn);

struct server {
	struct event_base *base;
	struct evhttp *http;
	struct events *events;
	struct api *api;
	struct metrics *metrics;
	const struct web_static *web; /* pages, or NULL (page routes answer 503) */
	struct auth *auth;	      /* NULL: session routes answer 401 */
	struct worker_api *wapi;
	struct form *metrics_allow; /* addresses besides loopback for ops routes, or NULL */
	int max_connections;
	int reserved; /* of max_connections, for Twilio routes */
	size_t header_max_bytes;
	size_t body_max_bytes;
	int timeout_s;
	int header_timeout_s;
	int body_timeout_s;
	struct cidr_list *trusted; /* trusted_proxies */
	bool stopping;
	char *listen_host;
	uint16_t listen_port;
	int *listen_fds; /* passed by systemd, not yet handed to evhttp */
	size_t n_listen_fds;
	struct server_listener *listeners;
	size_t n_listeners;
	struct event *resume;	   /* periodic: re-enables listeners paused by EMFILE */
	struct server_conns conns; /* every counted connection, oldest first */
	struct server_conns idle;  /* idle keep-alive connections, longest idle first */
	struct server_conns all;   /* every record alive, counted or not */
	size_t n_conns;		   /* counted */
	size_t n_reserve;	   /* counted and in the reserve */
	char address[INET6_ADDRSTRLEN + 8];
	/*
	 * HTTPS (borrowed tls.c context), or NULL; and the optional plain
	 * listener that redirects to redirect_origin ("https://host[:port]").
	 */
	struct tls *tls;
	struct evhttp *redirect_http;
	char *redirect_origin;
	char *redirect_host;
	uint16_t redirect_port;
	struct evhttp_bound_socket *redirect_bound;
	char redirect_address[INET6_ADDRSTRLEN + 8];
};

/*
 * Every live connection record by "%p" of its filter: the way back from an
 * evhttp request to its record (evhttp 2.1 keeps no user pointer on a
 * connection). Process-wide, as pointers are; entries leave with their
 * connection.
 */
static struct hmap *server_registry;

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

static void
server_json_gen_sent(const void *data, size_t len, void *arg)
{
	json_gen_free(arg);
}

void
server_reply_json_gen(struct evhttp_request *req, int status, struct json_gen *g)
{
	struct evbuffer *out = evhttp_request_get_output_buffer(req);
	size_t len = 0;
	const char *text = json_gen_text(g, &len);

	server_common_headers(req, "application/json");
	/*
	 * By reference: evhttp and the connection filter move the chain on
	 * (evbuffer_add_buffer), so the text is never copied, and the callback
	 * frees it as the last byte leaves, or with the connection.
	 */
	if (evbuffer_add_reference(out, text, len, server_json_gen_sent, g) < 0) {
		log_warning("http: cannot queue a %zu-byte response", len);
		json_gen_free(g);
	}
	evhttp_send_reply(req, status, http_server_reason(status), NULL);
}

/* The error body every refusal carries, wherever it is written (caller frees). */
static char *
server_error_body(const char *error, const char *detail, size_t *len_out)
{
	struct json_gen *g = json_gen_new();
	char *text = NULL;

	json_gen_object_open(g);
	json_gen_kv_string(g, "error", error);
	json_gen_kv_string(g, "detail", detail);
	json_gen_object_close(g);
	text = json_gen_steal(g, len_out);
	json_gen_free(g);
	return text;
}

void
server_reply_error(struct evhttp_request *req, int status, const char *error, const char *detail)
{
	size_t len = 0;
	char *text = server_error_body(error, detail, &len);

	server_reply_json(req, status, text, len);
	free(text);
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

/* --- who is the client ------------------------------------------------------ */

static struct server_conn *server_conn_lookup(struct evhttp_request *req);

/* True for a header a proxy adds: Forwarded, X-Forwarded-*, X-Real-IP. */
static bool
server_is_proxy_header(const char *name)
{
	return strcasecmp(name, "Forwarded") == 0 || strncasecmp(name, "X-Forwarded-", 12) == 0 ||
	       strcasecmp(name, "X-Real-IP") == 0;
}

void
server_request_client(const struct server *s, struct evhttp_request *req, struct server_client *out)
{
	struct evhttp_connection *evcon = evhttp_request_get_connection(req);
	const struct evkeyvalq *h = evhttp_request_get_input_headers(req);
	const struct evkeyval *kv;
	char *peer = NULL;
	ev_uint16_t port = 0;
	bool has_forwarded = false;
	bool has_xff = false;
	bool proxy_headers = false;
	bool peer_trusted = false;
	const char *xfp = NULL;
	struct server_conn *conn = NULL;

	memset(out, 0, sizeof(*out));
	conn = server_conn_lookup(req);
	if (conn != NULL && conn->tls)
		memcpy(out->proto, "https", 6);
	else
		memcpy(out->proto, "http", 5);
	if (evcon != NULL)
		evhttp_connection_get_peer(evcon, &peer, &port);
	TAILQ_FOREACH(kv, h, next) {
		if (!server_is_proxy_header(kv->key))
			continue;
		proxy_headers = true;
		has_forwarded = has_forwarded || strcasecmp(kv->key, "Forwarded") == 0;
		has_xff = has_xff || strcasecmp(kv->key, "X-Forwarded-For") == 0;
		if (strcasecmp(kv->key, "X-Forwarded-Proto") == 0)
			xfp = kv->value; /* the last line: the nearest proxy's */
	}
	peer_trusted = peer != NULL && cidr_list_match(s->trusted, peer);
	out->via_proxy = proxy_headers || peer_trusted;
	out->is_local = !out->via_proxy && loopback_is_host(peer);
	if (!peer_trusted) {
		if (peer != NULL && strlen(peer) < sizeof(out->address))
			memcpy(out->address, peer, strlen(peer) + 1);
		return;
	}
	{
		struct forwarded fw;
		struct forwarded xf;
		const char *a = NULL;

		forwarded_init(&fw, s->trusted);
		forwarded_init(&xf, s->trusted);
		TAILQ_FOREACH(kv, h, next) {
			if (strcasecmp(kv->key, "Forwarded") == 0)
				forwarded_add_rfc7239(&fw, kv->value);
			else if (strcasecmp(kv->key, "X-Forwarded-For") == 0)
				forwarded_add_xff(&xf, kv->value);
		}
		if (has_forwarded && has_xff) {
			/* Two chains: believed only when they agree. */
			a = strcmp(forwarded_client(&fw), forwarded_client(&xf)) == 0
				    ? forwarded_client(&fw)
				    : "";
		} else if (has_forwarded) {
			a = forwarded_client(&fw);
		} else if (has_xff) {
			a = forwarded_client(&xf);
		} else {
			a = peer; /* a trusted peer that forwarded nobody: itself */
		}
		if (strlen(a) < sizeof(out->address))
			memcpy(out->address, a, strlen(a) + 1);
		if (forwarded_proto(&fw)[0] != '\0')
			memcpy(out->proto, forwarded_proto(&fw), strlen(forwarded_proto(&fw)) + 1);
		else if (xfp != NULL && strcasecmp(xfp, "https") == 0)
			memcpy(out->proto, "https", 6);
	}
}

/* --- connections: the front door ------------------------------------------- */

static void server_conn_timer_cb(evutil_socket_t fd, short what, void *arg);

/* Takes c out of the counts (eviction, close); idempotent. */
static void
server_conn_uncount(struct server_conn *c)
{
	struct server *s = c->s;

	if (s == NULL || !c->counted)
		return;
	c->counted = false;
	TAILQ_REMOVE(&s->conns, c, link);
	if (c->idle) {
		TAILQ_REMOVE(&s->idle, c, idle_link);
		c->idle = false;
	}
	s->n_conns--;
	if (c->pool == SERVER_POOL_RESERVE)
		s->n_reserve--;
}

static void
server_conn_set_idle(struct server_conn *c, bool idle)
{
	struct server *s = c->s;

	if (s == NULL || !c->counted || c->idle == idle)
		return;
	c->idle = idle;
	if (idle)
		TAILQ_INSERT_TAIL(&s->idle, c, idle_link);
	else
		TAILQ_REMOVE(&s->idle, c, idle_link);
}

/* Arms the connection's one timer for ms from now (0: disarm). */
static void
server_conn_arm(struct server_conn *c, long ms)
{
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };

	if (c->timer == NULL)
		return;
	if (ms <= 0)
		(void)event_del(c->timer);
	else
		(void)event_add(c->timer, &tv); /* cannot fail for a timer */
}

/*
 * Closes c through evhttp: an EOF event on the filter, delivered from the
 * loop, makes evhttp free the connection (and tell the stream, if it kept
 * it). Safe from any callback; c is uncounted at once.
 */
static void
server_conn_abort(struct server_conn *c)
{
	server_conn_uncount(c);
	c->state = SERVER_CONN_CLOSING;
	/*
	 * From our own timer, not a deferred bufferevent callback: libevent 2.1
	 * finalised a filter twice when a deferred event was pending on it as
	 * evhttp freed the connection (ASan, the stream junk test).
	 */
	server_conn_arm(c, 1);
}

/*
 * Refuses the connection: answers status (0: nothing) with the usual JSON
 * error body and Connection: close, written straight to the socket when
 * nothing else is queued, shuts the write side and discards input until
 * the linger timer closes it.
 */
static void
server_conn_refuse(struct server_conn *c, int status, const char *error, const char *detail)
{
	evutil_socket_t fd = bufferevent_getfd(c->sock);
	char *body = NULL;
	size_t len = 0;
	char *msg = NULL;
	int n;

	if (c->state == SERVER_CONN_CLOSING)
		return;
	log_debug("http: connection refused with %d: %s", status, detail);
	server_conn_uncount(c);
	c->state = SERVER_CONN_CLOSING;
	if (fd >= 0 && status != 0 && evbuffer_get_length(bufferevent_get_output(c->sock)) == 0 &&
	    evbuffer_get_length(bufferevent_get_output(c->bev)) == 0 &&
	    (c->fast_out == NULL || evbuffer_get_length(c->fast_out) == 0)) {
		body = server_error_body(error, detail, &len);
		msg = xasprintf("HTTP/1.1 %d %s\r\nContent-Type: application/json\r\n"
				"Content-Length: %zu\r\nConnection: close\r\n"
				"Cache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\n%s"
				"\r\n%s",
				status, http_server_reason(status), len,
				status == 503 ? "Retry-After: 1\r\n" : "", body);
		n = (int)strlen(msg);
		/*
		 * Best effort: a peer that does not read gets the close alone.
		 * Over TLS the answer goes through the OpenSSL bufferevent (after
		 * the handshake, if the peer finishes it within the linger).
		 */
		if (c->tls)
			(void)bufferevent_write(c->sock, msg, (size_t)n);
		else
			(void)send(fd, msg, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT);
		free(msg);
		free(body);
	}
	/* Over TLS a shut write side would cut the encrypted answer short. */
	if (fd >= 0 && !c->tls)
		(void)shutdown(fd, SHUT_WR);
	(void)evbuffer_drain(bufferevent_get_input(c->sock),
			     evbuffer_get_length(bufferevent_get_input(c->sock)));
	server_conn_arm(c, SERVER_LINGER_MS);
}

/* Resets the per-request checks for the next request line. */
static void
server_conn_next_request(struct server_conn *c)
{
	c->state = SERVER_CONN_HEAD;
	c->head_bytes = 0;
	c->body_left = 0;
	request_head_reset(&c->rh);
	(void)evbuffer_drain(c->head, evbuffer_get_length(c->head));
}

static const struct server_route *server_route_find(enum evhttp_cmd_type method, const char *path,
						    size_t len, bool *path_known, char *allow,
						    size_t allow_size);

/* The most body bytes route takes (step 4). */
static size_t
server_route_body_limit(const struct server *s, const struct server_route *route)
{
	return route->body_max_bytes == SERVER_BODY_CONFIGURED ? s->body_max_bytes
							       : route->body_max_bytes;
}

/* The Twilio route a checked head asks for (the webhook reserve, the fast path), or NULL. */
static const struct server_route *
server_head_twilio_route(const struct request_head *rh)
{
	const struct server_route *r = NULL;
	bool known = false;
	char allow[128];

	if (strcmp(rh->method, "POST") != 0 || rh->path[0] != '/')
		return NULL;
	r = server_route_find(EVHTTP_REQ_POST, rh->path, strlen(rh->path), &known, allow,
			      sizeof(allow));
	return r != NULL && r->role == SERVER_ROLE_TWILIO ? r : NULL;
}

static void
server_conn_refuse_status(struct server_conn *c, int status, const char *why)
{
	server_conn_refuse(c, status,
			   status == 503   ? "unavailable"
			   : status == 408 ? "timeout"
			   : status == 431 ? "headers_too_large"
			   : status == 501 ? "not_implemented"
					   : "bad_request",
			   why);
}

/*
 * --- the webhook fast path ---------------------------------------------------
 *
 * A signed webhook is most of what trhubd serves (Twilio may post a thousand
 * a second), and evhttp's share of one was most of its cost: a second parse
 * of the head the filter had just checked, a request object with header
 * lists, the reply's headers and formatting, and a flush event per answer.
 * So the filter answers a webhook itself when evhttp has nothing to add:
 * plain HTTP/1.1, no Expect, Connection absent or keep-alive, a body within
 * the configured cap, the server not stopping. It runs the pipeline's steps
 * for a Twilio route in the same order with the same functions (the route
 * from the same table, the body limit, events_verify, then the route's
 * handler's work: the 204, events_accept, the latency metric) and writes the
 * same answer evhttp would, byte for byte but for the Date's second. Every
 * other request, TLS included, goes to evhttp as before; a webhook whose
 * server starts stopping while its body arrives is handed to evhttp whole.
 */

static void server_conn_writable_cb(evutil_socket_t fd, short what, void *arg);
static void server_conn_nodelay(struct server_conn *c);
static const char *server_verdict_error(int verdict);
static double server_elapsed_s(const struct timespec *start);

/* A header value without the blanks around it (evhttp trims the same). */
static char *
server_fast_trim(char *v)
{
	char *end = v + strlen(v);

	while (*v == ' ' || *v == '\t')
		v++;
	while (end > v && (end[-1] == ' ' || end[-1] == '\t'))
		end--;
	*end = '\0';
	return v;
}

/*
 * At the end of a checked head for route: true when the filter answers it
 * (the head's fields are then cut out into c->fast_*), false for evhttp.
 */
static bool
server_conn_fast_begin(struct server_conn *c, const struct server_route *route)
{
	struct server *s = c->s;
	size_t len = evbuffer_get_length(c->head);
	char *p = NULL;
	char *eol = NULL;
	char *sp = NULL;

	if (c->tls || c->redirect || s->stopping || s->events == NULL || !c->rh.http11 ||
	    c->rh.content_length > server_route_body_limit(s, route))
		return false;
	if (c->fast_head_size < len + 1) {
		free(c->fast_head);
		c->fast_head_size = len + 1 < 1024 ? 1024 : len + 1;
		c->fast_head = xmalloc(c->fast_head_size);
	}
	if (evbuffer_copyout(c->head, c->fast_head, len) != (ev_ssize_t)len)
		return false;
	c->fast_head[len] = '\0';
	c->fast_kind = route->kind;
	c->fast_signature = NULL;
	c->fast_content_type = NULL;
	/* The request line, checked by request_head: method SP target SP version. */
	p = c->fast_head;
	eol = strstr(p, "\r\n");
	sp = eol == NULL ? NULL : memchr(p, ' ', (size_t)(eol - p));
	if (sp == NULL)
		return false;
	*eol = '\0';
	c->fast_target = sp + 1;
	sp = strchr(sp + 1, ' ');
	if (sp == NULL)
		return false;
	*sp = '\0';
	/* Header lines, up to the empty one; the first of a repeated name counts, as in evhttp. */
	for (p = eol + 2; (eol = strstr(p, "\r\n")) != NULL && eol != p; p = eol + 2) {
		char *colon = memchr(p, ':', (size_t)(eol - p));
		char *value = NULL;
		size_t name_len = 0;

		*eol = '\0';
		if (colon == NULL)
			return false;
		name_len = (size_t)(colon - p);
		value = server_fast_trim(colon + 1);
		if (name_len == 18 && strncasecmp(p, "X-Twilio-Signature", 18) == 0) {
			if (c->fast_signature == NULL)
				c->fast_signature = value;
		} else if (name_len == 12 && strncasecmp(p, "Content-Type", 12) == 0) {
			if (c->fast_content_type == NULL)
				c->fast_content_type = value;
		} else if (name_len == 10 && strncasecmp(p, "Connection", 10) == 0) {
			if (strcasecmp(value, "keep-alive") != 0)
				return false; /* close, upgrade, a list: evhttp decides */
		} else if (name_len == 6 && strncasecmp(p, "Expect", 6) == 0) {
			return false; /* 100-continue: evhttp answers it */
		}
	}
	return true;
}

/* The answer is all in the kernel: the connection is idle, ready for its next request. */
static void
server_conn_answered(struct server_conn *c)
{
	server_conn_next_request(c);
	server_conn_set_idle(c, true);
	if (c->s != NULL)
		server_conn_arm(c, (long)c->s->timeout_s * 1000);
}

/* server_conn_answered from outside the input filter: a pipelined request may be waiting. */
static void
server_conn_answered_resume(struct server_conn *c)
{
	server_conn_answered(c);
	if (evbuffer_get_length(bufferevent_get_input(c->sock)) > 0)
		bufferevent_trigger(c->sock, EV_READ,
				    BEV_TRIG_IGNORE_WATERMARKS | BEV_TRIG_DEFER_CALLBACKS);
}

/*
 * Writes buf to the socket until it is empty or the socket is full. Returns
 * 0 when buf is empty (the write event off), 1 when bytes wait (the write
 * event armed, its timeout counted from the last progress), -1 on a write
 * error (the write event off).
 */
static int
server_conn_send(struct server_conn *c, evutil_socket_t fd, struct evbuffer *buf)
{
	struct timeval tv = { c->write_timeout_s, 0 };
	bool progress = false;
	int n = 0;

	while (evbuffer_get_length(buf) > 0) {
		n = evbuffer_write(buf, fd);
		if (n > 0) {
			progress = true;
			continue;
		}
		if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
			if (c->wev != NULL)
				(void)event_del(c->wev);
			return -1;
		}
		break;
	}
	if (evbuffer_get_length(buf) == 0) {
		if (c->wev != NULL)
			(void)event_del(c->wev);
		return 0;
	}
	if (c->wev == NULL) {
		c->wev = event_new(c->base, fd, EV_WRITE, server_conn_writable_cb, c);
		if (c->wev == NULL)
			fatalx("http: cannot create a write event");
	}
	if (progress || !event_pending(c->wev, EV_WRITE, NULL))
		(void)event_add(c->wev, c->write_timeout_s > 0 ? &tv : NULL);
	return 1;
}

/* The socket is writable again (or the write timed out) with a fast answer owed. */
static void
server_conn_fast_flush(struct server_conn *c, short what)
{
	int r = 0;

	if (what & EV_TIMEOUT) {
		log_debug("http: a client took no byte for %d s, closing", c->write_timeout_s);
		server_conn_abort(c);
		return;
	}
	r = server_conn_send(c, bufferevent_getfd(c->sock), c->fast_out);
	if (r < 0)
		server_conn_abort(c);
	else if (r == 0)
		server_conn_answered_resume(c);
}

/* Writes what the socket takes now; the rest waits in fast_out for it to be writable. */
static void
server_conn_fast_write(struct server_conn *c, const char *head, size_t head_len, const char *body,
		       size_t body_len)
{
	/* sendmsg does not write through iov_base; the casts only drop const. */
	struct iovec iov[2] = { { (void *)(uintptr_t)head, head_len },
				{ (void *)(uintptr_t)body, body_len } };
	struct msghdr msg = { .msg_iov = iov, .msg_iovlen = body_len > 0 ? 2 : 1 };
	ssize_t n = -1;
	size_t sent = 0;

	do {
		n = sendmsg(bufferevent_getfd(c->sock), &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
	} while (n < 0 && errno == EINTR);
	if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
		server_conn_abort(c);
		return;
	}
	sent = n < 0 ? 0 : (size_t)n;
	if (sent == head_len + body_len) {
		server_conn_answered(c); /* the input filter goes on with what follows */
		return;
	}
	/* A peer that does not read: the rest waits, bounded by the write timeout. */
	if (c->fast_out == NULL && (c->fast_out = evbuffer_new()) == NULL)
		fatalx("http: cannot create a connection's buffers");
	if (sent < head_len)
		(void)evbuffer_add(c->fast_out, head + sent, head_len - sent);
	(void)evbuffer_add(c->fast_out, body + (sent > head_len ? sent - head_len : 0),
			   body_len - (sent > head_len ? sent - head_len : 0));
	c->state = SERVER_CONN_FAST_OWED;
	server_conn_fast_flush(c, EV_WRITE);
}

/*
 * The answer evhttp's evhttp_send_reply would write for server_reply_text
 * (the same headers in the same order; a 204 has no Content-Length). The
 * 204, nearly every answer, is built once a second.
 */
static void
server_conn_fast_reply(struct server_conn *c, int status, const char *body, size_t body_len)
{
	static char date[64];
	static time_t date_of = -1;
	static char no_content[256];
	static int no_content_len;
	static const char fmt[] = "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\n"
				  "Cache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\n"
				  "Date: %s\r\n%s\r\n";
	struct timeval now;
	struct tm tm;
	char head[512];
	char length[48];
	int n = 0;

	(void)event_base_gettimeofday_cached(c->base, &now);
	if (now.tv_sec != date_of || no_content_len <= 0) {
		if (gmtime_r(&now.tv_sec, &tm) == NULL)
			fatalx("http: the clock is out of range");
		(void)strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S GMT", &tm);
		date_of = now.tv_sec;
		no_content_len = snprintf(no_content, sizeof(no_content), fmt, 204,
					  http_server_reason(204), date, "");
		if (no_content_len < 0 || (size_t)no_content_len >= sizeof(no_content))
			fatalx("http: a fast answer's head does not fit");
	}
	if (status == 204) {
		server_conn_fast_write(c, no_content, (size_t)no_content_len, NULL, 0);
		return;
	}
	(void)snprintf(length, sizeof(length), "Content-Length: %zu\r\n", body_len);
	n = snprintf(head, sizeof(head), fmt, status, http_server_reason(status), date, length);
	if (n < 0 || (size_t)n >= sizeof(head))
		fatalx("http: a fast answer's head does not fit");
	server_conn_fast_write(c, head, (size_t)n, body, body_len);
}

/* The whole webhook is here (body: body_len bytes): steps 5 and 6 of the pipeline. */
static void
server_conn_fast_answer(struct server_conn *c, const char *body, size_t body_len)
{
	struct server *s = c->s;
	struct events_webhook *webhook = NULL;
	struct events_request rq = {
		.kind = c->fast_kind,
		.target = c->fast_target,
		.signature = c->fast_signature,
		.content_type = c->fast_content_type,
		.body = body_len == 0 ? "" : body,
		.body_len = body_len,
	};
	struct timespec start;
	const char *reason = NULL;
	int verdict = 0;

	(void)clock_gettime(CLOCK_MONOTONIC, &start); /* cannot fail for this clock */
	server_conn_nodelay(c);
	verdict = events_verify(s->events, &rq, &webhook, &reason);
	if (verdict != EVENTS_OK) {
		size_t len = 0;
		char *text = server_error_body(server_verdict_error(verdict), reason, &len);

		server_conn_fast_reply(c, verdict, text, len);
		free(text);
		return;
	}
	/* server_route_webhook's work: 204 at once, then the event applied. */
	server_conn_fast_reply(c, 204, NULL, 0);
	events_accept(s->events, webhook);
	if (s->metrics != NULL)
		metrics_webhook_latency(s->metrics, server_elapsed_s(&start));
	events_webhook_free(webhook);
}

/*
 * FAST_BODY state: collects the body, then answers. Returns BEV_OK only
 * when the request went to evhttp after all (the server began stopping).
 */
static enum bufferevent_filter_result
server_conn_fast_body(struct server_conn *c, struct evbuffer *src, struct evbuffer *dst)
{
	size_t n = evbuffer_get_length(src);
	size_t len = c->rh.content_length;
	struct evbuffer *from = src;
	const char *body = NULL;

	if (c->fast_body != NULL && evbuffer_get_length(c->fast_body) > 0)
		from = c->fast_body;
	if (c->body_left > 0 && (from == c->fast_body || n < c->body_left)) {
		/* In pieces: gather them (the usual case has the whole body in src). */
		if (c->fast_body == NULL && (c->fast_body = evbuffer_new()) == NULL)
			fatalx("http: cannot create a connection's buffers");
		n = n < c->body_left ? n : c->body_left;
		(void)evbuffer_remove_buffer(src, c->fast_body, n);
		c->body_left -= n;
		if (c->body_left > 0)
			return BEV_NEED_MORE;
		from = c->fast_body;
	}
	c->body_left = 0;
	if (c->s->stopping) {
		/* evhttp answers 503 and closes, as for any request now. */
		(void)evbuffer_add_buffer(dst, c->head);
		(void)evbuffer_remove_buffer(from, dst, len);
		c->state = SERVER_CONN_WAIT;
		server_conn_arm(c, 0);
		return BEV_OK;
	}
	if (len > 0 && (body = (const char *)evbuffer_pullup(from, (ev_ssize_t)len)) == NULL) {
		server_conn_refuse_status(c, 503, "cannot read the request body");
		return BEV_NEED_MORE;
	}
	server_conn_fast_answer(c, body, len);
	(void)evbuffer_drain(from, len);
	return BEV_NEED_MORE;
}

/* HEAD state: checks whole lines; hands the block to evhttp when it is complete. */
static enum bufferevent_filter_result
server_conn_scan_head(struct server_conn *c, struct evbuffer *src, struct evbuffer *dst)
{
	struct server *s = c->s;
	const struct server_route *twilio = NULL;
	const char *why = NULL;
	char *line = NULL;
	size_t len = 0;
	int status = 0;

	if (evbuffer_get_length(src) > 0 && c->idle) {
		/* The first byte of a keep-alive request: its header deadline starts. */
		server_conn_set_idle(c, false);
		server_conn_arm(c, (long)s->header_timeout_s * 1000);
	}
	while ((line = evbuffer_readln(src, &len, EVBUFFER_EOL_CRLF)) != NULL) {
		c->head_bytes += len + 2;
		if (c->head_bytes > s->header_max_bytes) {
			free(line);
			server_conn_refuse_status(c, 431, "request headers too large");
			return BEV_NEED_MORE;
		}
		status = request_head_line(&c->rh, line, len, &why);
		twilio = status == 1 ? server_head_twilio_route(&c->rh) : NULL;
		if (status == 1 && c->pool == SERVER_POOL_RESERVE && twilio == NULL) {
			status = 503;
			why = "too many connections";
		}
		if (status == 1) {
			free(line);
			(void)evbuffer_add(c->head, "\r\n", 2);
			c->requests++;
			c->body_left = c->rh.content_length;
			if (twilio != NULL && server_conn_fast_begin(c, twilio)) {
				c->state = SERVER_CONN_FAST_BODY;
				server_conn_arm(c, c->body_left > 0 ? (long)s->body_timeout_s * 1000
								    : 0);
				return BEV_NEED_MORE;
			}
			(void)evbuffer_add_buffer(dst, c->head);
			if (c->body_left > 0) {
				c->state = SERVER_CONN_BODY;
				server_conn_arm(c, (long)s->body_timeout_s * 1000);
			} else {
				c->state = SERVER_CONN_WAIT;
				server_conn_arm(c, 0);
			}
			return BEV_OK;
		}
		if (status != 0) {
			free(line);
			break;
		}
		if (c->rh.line_seen) {
			(void)evbuffer_add(c->head, line, len);
			(void)evbuffer_add(c->head, "\r\n", 2);
		}
		free(line);
	}
	if (status != 0) {
		server_conn_refuse_status(c, status, why);
		return BEV_NEED_MORE;
	}
	if (c->head_bytes + evbuffer_get_length(src) > s->header_max_bytes)
		server_conn_refuse_status(c, 431, "request headers too large");
	return BEV_NEED_MORE;
}

/* The input filter: what evhttp may read of this connection (see the top). */
static enum bufferevent_filter_result
server_conn_input_cb(struct evbuffer *src, struct evbuffer *dst, ev_ssize_t dst_limit,
		     enum bufferevent_flush_mode mode, void *ctx)
{
	struct server_conn *c = ctx;
	enum bufferevent_filter_result r = BEV_NEED_MORE;
	size_t n = 0;

	if (c->s == NULL) { /* the server is gone: pass bytes as they are */
		(void)evbuffer_add_buffer(dst, src);
		return BEV_OK;
	}
	switch (c->state) {
	case SERVER_CONN_HEAD:
	case SERVER_CONN_FAST_BODY:
		/* Webhooks the filter answers itself may follow each other in one read. */
		for (;;) {
			if (c->state == SERVER_CONN_HEAD) {
				r = server_conn_scan_head(c, src, dst);
				if (c->state != SERVER_CONN_FAST_BODY)
					return r;
			}
			r = server_conn_fast_body(c, src, dst);
			if (r != BEV_NEED_MORE || c->state != SERVER_CONN_HEAD ||
			    evbuffer_get_length(src) == 0)
				return r;
		}
	case SERVER_CONN_BODY:
		n = evbuffer_get_length(src);
		if (n > c->body_left)
			n = c->body_left;
		if (n == 0)
			return BEV_NEED_MORE;
		(void)evbuffer_remove_buffer(src, dst, n);
		c->body_left -= n;
		if (c->body_left == 0) {
			c->state = SERVER_CONN_WAIT;
			server_conn_arm(c, 0);
		}
		return BEV_OK;
	case SERVER_CONN_WAIT:
	case SERVER_CONN_FAST_OWED:
		/* Pipelined requests wait here, bounded like one more header block. */
		if (evbuffer_get_length(src) > c->s->header_max_bytes + c->s->body_max_bytes)
			server_conn_refuse(c, 0, NULL, "too much pipelined input");
		return BEV_NEED_MORE;
	case SERVER_CONN_STREAM:
		if (evbuffer_get_length(src) > SERVER_STREAM_INPUT_MAX) {
			log_debug("http: stream client sent %zu bytes after its request, closing",
				  evbuffer_get_length(src));
			server_conn_abort(c);
		}
		return BEV_NEED_MORE;
	case SERVER_CONN_CLOSING:
		(void)evbuffer_drain(src, evbuffer_get_length(src));
		return BEV_NEED_MORE;
	}
	return BEV_NEED_MORE;
}

/* The OpenSSL bufferevent's output changed: once drained, "written" is due. */
static void
server_conn_tls_drained_cb(struct evbuffer *buf, const struct evbuffer_cb_info *info, void *arg)
{
	struct server_conn *c = arg;

	if (info->n_deleted > 0 && c->tls_owed && c->s != NULL && c->flush != NULL &&
	    evbuffer_get_length(buf) == 0)
		event_active(c->flush, EV_TIMEOUT, 0);
}

/* The socket took bytes, or a stalled write ran out of time. */
static void
server_conn_writable_cb(evutil_socket_t fd, short what, void *arg)
{
	struct server_conn *c = arg;

	if (c->state == SERVER_CONN_FAST_OWED) {
		server_conn_fast_flush(c, what);
		return;
	}
	if (what & EV_TIMEOUT) {
		log_debug("http: a client took no byte for %d s, closing", c->write_timeout_s);
		bufferevent_trigger_event(c->bev, BEV_EVENT_TIMEOUT | BEV_EVENT_WRITING, 0);
		return;
	}
	c->flushing = true;
	(void)bufferevent_flush(c->bev, EV_WRITE, BEV_NORMAL);
	c->flushing = false;
}

/*
 * The output filter over TLS: the same promise as below (evhttp hears
 * "written" only once the kernel has every byte), kept through the
 * OpenSSL bufferevent, which empties its output buffer only as SSL_write
 * hands records to the socket. Bytes move (shared stream messages stay
 * shared) into it once per loop turn; "written" (BEV_OK) is owed until it
 * has drained, which server_conn_tls_drained_cb sees and answers with a
 * flush (BEV_FLUSH) that calls this filter again. (The filter's own write
 * callback on the layer below is not enough: libevent 2.1's filter does
 * not call the filter in normal mode while its own output is empty, so
 * the keep-alive test hung on its second request.) A stalled write is
 * closed by that bufferevent's write timeout (server_conn_tls_timeout).
 */
static enum bufferevent_filter_result
server_conn_output_tls(struct server_conn *c, struct evbuffer *src, struct evbuffer *dst)
{
	if (evbuffer_get_length(src) > 0) {
		if (!c->flushing)
			return BEV_NEED_MORE;
		(void)evbuffer_add_buffer(dst, src);
		c->tls_owed = true;
		return BEV_NEED_MORE;
	}
	if (c->tls_owed && evbuffer_get_length(dst) == 0) {
		c->tls_owed = false;
		return BEV_OK;
	}
	return BEV_NEED_MORE;
}

/*
 * The output filter writes straight to the socket and reports success only
 * once everything is in the kernel: evhttp frees a Connection: close
 * connection as soon as its output is "done", which must not drop what a
 * slow peer has not taken yet. What the socket does not take stays in the
 * filter's output (shared stream messages stay shared references) until
 * it is writable again; no progress for write_timeout_s closes it.
 */
static enum bufferevent_filter_result
server_conn_output_cb(struct evbuffer *src, struct evbuffer *dst, ev_ssize_t dst_limit,
		      enum bufferevent_flush_mode mode, void *ctx)
{
	struct server_conn *c = ctx;
	evutil_socket_t fd = bufferevent_getfd(c->sock);
	int r = 0;

	if (c->tls)
		return server_conn_output_tls(c, src, dst);
	if (evbuffer_get_length(src) == 0)
		return BEV_NEED_MORE;
	/*
	 * Writes happen in our flush, once per loop turn, not on every append:
	 * a broadcast to many clients then costs one writev per client, not
	 * one per message (the flush event is already scheduled by the append).
	 */
	if (!c->flushing && fd >= 0)
		return BEV_NEED_MORE;
	if (fd < 0) {
		(void)evbuffer_add_buffer(dst, src);
		return BEV_OK;
	}
	r = server_conn_send(c, fd, src);
	if (r < 0) {
		(void)evbuffer_drain(src, evbuffer_get_length(src));
		server_conn_abort(c);
		return BEV_ERROR;
	}
	if (r == 0)
		return BEV_OK;
	return BEV_NEED_MORE;
}

static void
server_conn_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct server_conn *c = arg;

	switch (c->state) {
	case SERVER_CONN_HEAD:
		if (c->head_bytes == 0 &&
		    evbuffer_get_length(bufferevent_get_input(c->sock)) == 0) {
			server_conn_abort(c); /* idle: nothing to answer */
			return;
		}
		server_conn_refuse_status(c, 408, "request headers not received in time");
		return;
	case SERVER_CONN_BODY:
	case SERVER_CONN_FAST_BODY:
		server_conn_refuse_status(c, 408, "request body not received in time");
		return;
	case SERVER_CONN_CLOSING:
		if (c->refused) {
			c->refused = false;
			c->state = SERVER_CONN_HEAD;
			server_conn_refuse_status(c, 503, "too many connections");
			return;
		}
		bufferevent_trigger_event(c->bev, BEV_EVENT_EOF | BEV_EVENT_READING, 0);
		return;
	case SERVER_CONN_WAIT:
	case SERVER_CONN_FAST_OWED:
	case SERVER_CONN_STREAM:
		return;
	}
}

/*
 * libevent 2.1's filter moves output only when its write side is enabled
 * at the moment bytes are added, and evhttp adds a reply before it enables
 * writing; so every addition schedules a flush for when evhttp is done.
 */
static void
server_conn_flush_cb(evutil_socket_t fd, short what, void *arg)
{
	struct server_conn *c = arg;

	c->flushing = true;
	/*
	 * A "written" owed over TLS is due with the filter's output empty,
	 * where libevent's normal mode does not call the filter at all.
	 */
	(void)bufferevent_flush(c->bev, EV_WRITE, c->tls_owed ? BEV_FLUSH : BEV_NORMAL);
	c->flushing = false;
}

static void
server_conn_outbuf_cb(struct evbuffer *buf, const struct evbuffer_cb_info *info, void *arg)
{
	struct server_conn *c = arg;

	if (info->n_added > 0 && c->flush != NULL)
		event_active(c->flush, EV_TIMEOUT, 0);
}

/* The filter's free_context: the connection's bufferevent is gone. */
static void
server_conn_free_cb(void *ctx)
{
	struct server_conn *c = ctx;

	/* The OpenSSL bufferevent is freed right after this; it must not call back. */
	if (c->tls_drained != NULL)
		(void)evbuffer_remove_cb_entry(bufferevent_get_output(c->sock), c->tls_drained);
	server_conn_uncount(c);
	if (c->s != NULL)
		TAILQ_REMOVE(&c->s->all, c, all_link);
	(void)hmap_remove(server_registry, c->key);
	if (c->timer != NULL)
		event_free(c->timer);
	if (c->wev != NULL)
		event_free(c->wev);
	if (c->flush != NULL)
		event_free(c->flush);
	evbuffer_free(c->head);
	if (c->fast_body != NULL)
		evbuffer_free(c->fast_body);
	if (c->fast_out != NULL)
		evbuffer_free(c->fast_out);
	free(c->fast_head);
	free(c);
}

/* Picks a connection to make room for a new one in pool; false when none may go. */
static bool
server_conn_evict(struct server *s, enum server_conn_pool pool)
{
	struct server_conn *c;

	TAILQ_FOREACH(c, &s->idle, idle_link) {
		if (c->pool == pool) {
			log_debug("http: evicting an idle keep-alive connection");
			server_conn_abort(c);
			return true;
		}
	}
	if (pool != SERVER_POOL_RESERVE)
		return false;
	/* The reserve's oldest connection still waiting for its headers had its chance. */
	TAILQ_FOREACH(c, &s->conns, link) {
		if (c->pool == SERVER_POOL_RESERVE && c->state == SERVER_CONN_HEAD) {
			server_conn_abort(c);
			return true;
		}
	}
	return false;
}

/* Over TLS, a stalled write is the OpenSSL bufferevent's write timeout. */
static void
server_conn_tls_timeout(struct server_conn *c)
{
	struct timeval tv = { c->write_timeout_s, 0 };

	(void)bufferevent_set_timeouts(c->sock, NULL, c->write_timeout_s > 0 ? &tv : NULL);
}

/*
 * Every accept, through evhttp's bevcb: wraps the (not yet set) socket,
 * through TLS when tls is set, in the filter and gives the connection its
 * place, or marks it for refusal. The TLS handshake happens under the
 * filter, so it counts against the header deadline armed here.
 */
static struct bufferevent *
server_conn_new(struct server *s, struct event_base *base, struct tls *tls, bool redirect)
{
	struct server_conn *c = xcalloc(1, sizeof(*c));
	size_t general = (size_t)(s->max_connections - s->reserved);
	long header_ms = (long)s->header_timeout_s * 1000;
	bool refuse = false;

	c->s = s;
	TAILQ_INSERT_TAIL(&s->all, c, all_link);
	c->base = base;
	c->write_timeout_s = s->timeout_s;
	c->head = evbuffer_new();
	c->tls = tls != NULL;
	c->redirect = redirect;
	c->sock = c->tls ? tls_bufferevent_new(tls, base)
			 : bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE);
	if (c->head == NULL || c->sock == NULL)
		fatalx("http: cannot create a connection's buffers");
	c->bev = bufferevent_filter_new(c->sock, server_conn_input_cb, server_conn_output_cb,
					BEV_OPT_CLOSE_ON_FREE, server_conn_free_cb, c);
	if (c->bev == NULL)
		fatalx("http: cannot create a connection filter");
	c->timer = event_new(base, -1, 0, server_conn_timer_cb, c);
	c->flush = event_new(base, -1, 0, server_conn_flush_cb, c);
	if (c->timer == NULL || c->flush == NULL ||
	    evbuffer_add_cb(bufferevent_get_output(c->bev), server_conn_outbuf_cb, c) == NULL)
		fatalx("http: cannot create a connection's events");
	(void)snprintf(c->key, sizeof(c->key), "%p", (void *)c->bev);
	if (server_registry == NULL)
		server_registry = hmap_new();
	(void)hmap_put(server_registry, c->key, c); /* a new pointer: replaces nothing */
	if (c->tls) {
		server_conn_tls_timeout(c);
		c->tls_drained = evbuffer_add_cb(bufferevent_get_output(c->sock),
						 server_conn_tls_drained_cb, c);
		if (c->tls_drained == NULL)
			fatalx("http: cannot watch a TLS connection's output");
	}

	if (s->stopping) {
		refuse = true;
	} else if (s->n_conns - s->n_reserve >= general &&
		   !server_conn_evict(s, SERVER_POOL_GENERAL)) {
		if (s->n_reserve < (size_t)s->reserved ||
		    server_conn_evict(s, SERVER_POOL_RESERVE)) {
			c->pool = SERVER_POOL_RESERVE;
			if (header_ms > SERVER_RESERVE_HEADER_MS)
				header_ms = SERVER_RESERVE_HEADER_MS;
		} else {
			refuse = true;
		}
	}
	if (refuse) {
		/* Answered 503 by the timer, once evhttp has set the socket. */
		c->refused = true;
		c->state = SERVER_CONN_CLOSING;
		server_conn_arm(c, 1);
		return c->bev;
	}
	c->counted = true;
	TAILQ_INSERT_TAIL(&s->conns, c, link);
	s->n_conns++;
	if (c->pool == SERVER_POOL_RESERVE)
		s->n_reserve++;
	server_conn_arm(c, header_ms);
	return c->bev;
}

/* The main listeners' bevcb. */
static struct bufferevent *
server_conn_new_cb(struct event_base *base, void *arg)
{
	struct server *s = arg;

	return server_conn_new(s, base, s->tls, false);
}

/* The redirect listener's bevcb: plain HTTP, the same front door. */
static struct bufferevent *
server_redirect_conn_new_cb(struct event_base *base, void *arg)
{
	return server_conn_new(arg, base, NULL, true);
}

/* The record of req's connection, or NULL (not through a server_conn filter). */
static struct server_conn *
server_conn_lookup(struct evhttp_request *req)
{
	struct evhttp_connection *evcon = evhttp_request_get_connection(req);
	struct bufferevent *bev = evcon == NULL ? NULL : evhttp_connection_get_bufferevent(evcon);
	char key[32];

	if (bev == NULL || server_registry == NULL)
		return NULL;
	(void)snprintf(key, sizeof(key), "%p", (void *)bev);
	return hmap_get(server_registry, key);
}

/* The counted record of req's connection, or NULL (evicted, refused, closing). */
static struct server_conn *
server_conn_of(const struct server *s, struct evhttp_request *req)
{
	struct server_conn *c = server_conn_lookup(req);

	return c != NULL && c->s == s && c->counted ? c : NULL;
}

/*
 * evhttp finished answering a request on c: a keep-alive connection becomes
 * idle and its pending input (a pipelined request) is checked next.
 */
static void
server_request_complete_cb(struct evhttp_request *req, void *arg)
{
	struct server_conn *c = arg;

	if (c->s == NULL || c->state != SERVER_CONN_WAIT)
		return;
	server_conn_answered_resume(c);
}

/*
 * Small answers (a 204 per webhook) must not wait for the ACK of the
 * previous one on a keep-alive connection: Nagle plus delayed ACKs would add
 * 40 ms. Best effort: a failure only costs latency.
 */
static void
server_conn_nodelay(struct server_conn *c)
{
	evutil_socket_t fd = bufferevent_getfd(c->sock);
	int one = 1;

	if (c->nodelay || fd < 0)
		return;
	c->nodelay = true;
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

size_t
server_request_unsent(struct evhttp_request *req)
{
	struct evhttp_connection *evcon = evhttp_request_get_connection(req);
	struct bufferevent *bev = evcon == NULL ? NULL : evhttp_connection_get_bufferevent(evcon);
	struct bufferevent *under = NULL;
	size_t n = 0;

	if (bev == NULL)
		return 0;
	n = evbuffer_get_length(bufferevent_get_output(bev));
	under = bufferevent_get_underlying(bev);
	if (under != NULL)
		n += evbuffer_get_length(bufferevent_get_output(under));
	return n;
}

int
server_request_socket(struct evhttp_request *req)
{
	struct server_conn *c = server_conn_lookup(req);

	if (c == NULL || c->tls)
		return -1;
	return bufferevent_getfd(c->sock);
}

void
server_request_set_write_timeout(struct evhttp_request *req, int timeout_s)
{
	struct evhttp_connection *evcon = evhttp_request_get_connection(req);
	struct bufferevent *bev = evcon == NULL ? NULL : evhttp_connection_get_bufferevent(evcon);
	struct server_conn *c = server_conn_lookup(req);
	struct timeval wt = { timeout_s, 0 };

	if (c != NULL) {
		c->write_timeout_s = timeout_s;
		if (c->tls)
			server_conn_tls_timeout(c);
		return;
	}
	/* A connection without the filter (tests of the stream alone): its own timeouts. */
	if (bev != NULL)
		(void)bufferevent_set_timeouts(bev, NULL, timeout_s > 0 ? &wt : NULL);
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

/* True when the client address is one of metrics_allow (ops routes). */
static bool
server_client_is_allowed(const struct server *s, const struct server_client *client)
{
	if (s->metrics_allow == NULL || client->address[0] == '\0')
		return false;
	for (size_t i = 0; i < form_count(s->metrics_allow); i++) {
		if (strcmp(form_value(s->metrics_allow, i), client->address) == 0)
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
	struct server_conn *conn = NULL;
	struct server_client client;
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	const char *path = uri == NULL ? NULL : evhttp_uri_get_path(uri);
	enum evhttp_cmd_type method = evhttp_request_get_command(req);
	bool path_known = false;
	char allow[128];
	size_t body_len = 0;
	size_t limit = 0;

	(void)clock_gettime(CLOCK_MONOTONIC, &call.start); /* cannot fail for this clock */
	conn = server_conn_of(s, req);
	if (conn != NULL) {
		evhttp_request_set_on_complete_cb(req, server_request_complete_cb, conn);
		server_conn_nodelay(conn);
	}
	if (s->stopping) {
		server_reply_and_close(req, 503, "unavailable", "shutting down");
		return;
	}
	if (conn == NULL) {
		/* Evicted or refused meanwhile: it is closing already. */
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
	limit = server_route_body_limit(s, call.route);
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
		server_request_client(s, req, &client);
		if (!client.is_local && !server_client_is_allowed(s, &client)) {
			char detail[160];

			/* The address is what the pipeline believed: operators check proxies with
			 * it. */
			(void)snprintf(detail, sizeof(detail),
				       "this route is only served to local clients (client %s%s)",
				       client.address[0] != '\0' ? client.address : "unknown",
				       client.via_proxy ? ", through a proxy" : "");
			server_reply_error(req, 403, "forbidden", detail);
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

/*
 * Every request on the redirect listener (tls_redirect_listen): 308 to the
 * same path and query under public_url's https origin. It went through the
 * same front door as any other request.
 */
static void
server_redirect_cb(struct evhttp_request *req, void *arg)
{
	struct server *s = arg;
	struct server_conn *conn = server_conn_of(s, req);
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	const char *path = uri == NULL ? NULL : evhttp_uri_get_path(uri);
	const char *query = uri == NULL ? NULL : evhttp_uri_get_query(uri);
	char *location = NULL;

	if (conn != NULL) {
		evhttp_request_set_on_complete_cb(req, server_request_complete_cb, conn);
		server_conn_nodelay(conn);
	}
	if (s->stopping || conn == NULL) {
		server_reply_and_close(req, 503, "unavailable",
				       s->stopping ? "shutting down" : "too many connections");
		return;
	}
	if (path == NULL || path[0] != '/') {
		server_reply_error(req, 400, "bad_request", "request target is not a path");
		return;
	}
	location = xasprintf("%s%s%s%s", s->redirect_origin, path, query != NULL ? "?" : "",
			     query != NULL ? query : "");
	evhttp_add_header(evhttp_request_get_output_headers(req), "Location", location);
	server_reply_error(req, 308, "moved", location);
	free(location);
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
	struct server_conn *c = server_conn_of(s, call->req);
	struct evkeyvalq *h = NULL;
	const char *wk = NULL;

	if (evhttp_request_get_command(call->req) == EVHTTP_REQ_HEAD) {
		/* The headers a GET would get, and no stream to hang on. */
		h = evhttp_request_get_output_headers(call->req);
		evhttp_add_header(h, "Content-Type", "text/event-stream; charset=utf-8");
		evhttp_add_header(h, "Cache-Control", "no-cache");
		evhttp_add_header(h, "X-Content-Type-Options", "nosniff");
		evhttp_send_reply(call->req, 200, "OK", NULL);
		return;
	}
	/* A worker sees only itself; one not (yet) in the model matches nothing. */
	if (call->session->role == AUTH_ROLE_WORKER) {
		wk = auth_worker_sid(s->auth, call->session);
		if (wk == NULL)
			wk = "-";
	}
	if (c != NULL)
		c->state = SERVER_CONN_STREAM; /* it may send nothing more */
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

static void
server_route_login(struct server *s, struct server_call *call)
{
	struct server_client client;

	if (s->auth == NULL) {
		server_reply_error(call->req, 503, "unavailable", "logins are not configured");
		return;
	}
	server_request_client(s, call->req, &client);
	/* The answer may wait for the hasher; auth watches the connection meanwhile. */
	auth_login(s->auth, call->req, client.address[0] != '\0' ? client.address : "?");
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
	worker_api_set_activity(s->wapi, call->req, call->session, NULL);
}

static void
server_route_worker_activity(struct server *s, struct server_call *call)
{
	char wk[SID_LEN + 1];

	if (!server_path_sid(call, 2, "WK", wk))
		return;
	worker_api_set_activity(s->wapi, call->req, call->session, wk);
}

static void
server_route_reservation(struct server *s, struct server_call *call)
{
	char wr[SID_LEN + 1];

	if (!server_path_sid(call, 2, "WR", wr))
		return;
	worker_api_reservation(s->wapi, call->req, call->session, wr, server_path_last(call));
}

static void
server_route_conference_end(struct server *s, struct server_call *call)
{
	char cf[SID_LEN + 1];

	if (!server_path_sid(call, 2, "CF", cf))
		return;
	worker_api_conference_end(s->wapi, call->req, call->session, cf);
}

static void
server_route_task_complete(struct server *s, struct server_call *call)
{
	char wt[SID_LEN + 1];

	if (!server_path_sid(call, 2, "WT", wt))
		return;
	worker_api_task_update(s->wapi, call->req, call->session, wt, "complete");
}

static void
server_route_task_cancel(struct server *s, struct server_call *call)
{
	char wt[SID_LEN + 1];

	if (!server_path_sid(call, 2, "WT", wt))
		return;
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
	struct rlimit nofile;
	size_t evhttp_body_max = 0;
	char *cause = NULL;

	s->base = base;
	s->events = events;
	s->api = api;
	s->metrics = metrics;
	s->max_connections = options->max_connections > 0 ? options->max_connections : 1024;
	if (getrlimit(RLIMIT_NOFILE, &nofile) == 0 && nofile.rlim_cur != RLIM_INFINITY &&
	    (rlim_t)s->max_connections + SERVER_FD_HEADROOM > nofile.rlim_cur) {
		int fit = nofile.rlim_cur > SERVER_FD_HEADROOM + 1
				  ? (int)(nofile.rlim_cur - SERVER_FD_HEADROOM)
				  : 1;

		log_warning("http: max_connections %d does not fit the descriptor limit %llu; "
			    "using %d (raise LimitNOFILE=)",
			    s->max_connections, (unsigned long long)nofile.rlim_cur, fit);
		s->max_connections = fit;
	}
	s->reserved = options->webhook_reserved > 0 ? options->webhook_reserved : 0;
	if (s->reserved > s->max_connections / 2)
		s->reserved = s->max_connections / 2;
	s->header_max_bytes = options->header_max_bytes > 0 ? options->header_max_bytes : 16384;
	s->body_max_bytes = options->body_max_bytes > 0 ? options->body_max_bytes
							: EVENTS_DEFAULT_BODY_MAX_BYTES;
	s->timeout_s = options->timeout_s > 0 ? options->timeout_s : 30;
	s->header_timeout_s = options->header_timeout_s > 0 ? options->header_timeout_s : 10;
	s->body_timeout_s = options->body_timeout_s > 0 ? options->body_timeout_s : 20;
	if (cidr_list_parse(options->trusted_proxies, &s->trusted, &cause) < 0)
		fatalx("http: trusted_proxies: %s", cause); /* config_load checked it */
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
	TAILQ_INIT(&s->conns);
	TAILQ_INIT(&s->idle);
	TAILQ_INIT(&s->all);
	s->listen_host = xstrdup(options->listen_host == NULL ? "127.0.0.1" : options->listen_host);
	s->listen_port = options->listen_port;
	if (options->n_listen_fds > 0) {
		s->listen_fds = xmemdup(options->listen_fds,
					options->n_listen_fds * sizeof(*options->listen_fds));
		s->n_listen_fds = options->n_listen_fds;
	}
	s->http = evhttp_new(base);
	if (s->http == NULL)
		fatalx("http: cannot create the HTTP server");
	evhttp_set_allowed_methods(s->http, SERVER_ALLOWED_METHODS);
	evhttp_set_default_content_type(s->http, NULL);
	evhttp_set_max_headers_size(s->http, (ev_ssize_t)s->header_max_bytes);
	evhttp_set_bevcb(s->http, server_conn_new_cb, s);
	/*
	 * evhttp refuses bodies over twice our cap with its own 413 before
	 * reading them; between the two, the pipeline answers a JSON 413.
	 */
	evhttp_body_max = s->body_max_bytes * 2;
	evhttp_set_max_body_size(s->http, (ev_ssize_t)evhttp_body_max);
	/* No evhttp timeout: each connection's filter keeps its deadlines. */
	evhttp_set_gencb(s->http, server_request_cb, s);
	s->tls = options->tls;
	if (options->redirect_origin != NULL) {
		s->redirect_origin = xstrdup(options->redirect_origin);
		s->redirect_host = xstrdup(options->redirect_host != NULL ? options->redirect_host
									  : "127.0.0.1");
		s->redirect_port = options->redirect_port;
		s->redirect_http = evhttp_new(base);
		if (s->redirect_http == NULL)
			fatalx("http: cannot create the redirect server");
		evhttp_set_allowed_methods(s->redirect_http, SERVER_ALLOWED_METHODS);
		evhttp_set_default_content_type(s->redirect_http, NULL);
		evhttp_set_max_headers_size(s->redirect_http, (ev_ssize_t)s->header_max_bytes);
		evhttp_set_max_body_size(s->redirect_http, (ev_ssize_t)evhttp_body_max);
		evhttp_set_bevcb(s->redirect_http, server_redirect_conn_new_cb, s);
		evhttp_set_gencb(s->redirect_http, server_redirect_cb, s);
	}
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
	if (s->redirect_bound != NULL &&
	    evconnlistener_enable(evhttp_bound_socket_get_listener(s->redirect_bound)) < 0)
		log_warning("http: cannot resume accepting");
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

/* Records "host:port" of fd in address (server_address's, when still empty). */
static void
server_note_address_in(char *address, size_t size, int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	char host[INET6_ADDRSTRLEN];

	if (address[0] != '\0' || getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
		return;
	if (ss.ss_family == AF_INET) {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)&ss;

		if (inet_ntop(AF_INET, &sin->sin_addr, host, sizeof(host)) != NULL)
			snprintf(address, size, "%s:%u", host, (unsigned)ntohs(sin->sin_port));
	} else if (ss.ss_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)&ss;

		if (inet_ntop(AF_INET6, &sin6->sin6_addr, host, sizeof(host)) != NULL)
			snprintf(address, size, "[%s]:%u", host, (unsigned)ntohs(sin6->sin6_port));
	}
}

static void
server_note_address(struct server *s, int fd)
{
	server_note_address_in(s->address, sizeof(s->address), fd);
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
	if (s->redirect_http != NULL) {
		errno = 0;
		s->redirect_bound = evhttp_bind_socket_with_handle(
			s->redirect_http, s->redirect_host, s->redirect_port);
		if (s->redirect_bound == NULL) {
			int err = errno != 0 ? errno : EADDRNOTAVAIL;

			*cause_out = xasprintf("tls_redirect_listen: cannot bind %s:%u: %s",
					       s->redirect_host, (unsigned)s->redirect_port,
					       strerror(err));
			return -err;
		}
		evconnlistener_set_error_cb(evhttp_bound_socket_get_listener(s->redirect_bound),
					    server_accept_error_cb);
		server_note_address_in(s->redirect_address, sizeof(s->redirect_address),
				       evhttp_bound_socket_get_fd(s->redirect_bound));
	}
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

const char *
server_redirect_address(const struct server *s)
{
	return s->redirect_address;
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
	if (s->redirect_bound != NULL)
		evhttp_del_accept_socket(s->redirect_http, s->redirect_bound);
	s->redirect_bound = NULL;
}

void
server_free(struct server *s)
{
	struct server_conn *c;

	if (s == NULL)
		return;
	if (s->resume != NULL)
		event_free(s->resume);
	/* Frees every connection; their filters go later, from the loop or its base. */
	if (s->http != NULL)
		evhttp_free(s->http);
	if (s->redirect_http != NULL)
		evhttp_free(s->redirect_http);
	/*
	 * Records outlive this (their bufferevents are finalised later, from
	 * the loop or the base's free): they must not reach for s, and their
	 * events must not fire.
	 */
	while ((c = TAILQ_FIRST(&s->all)) != NULL) {
		server_conn_uncount(c);
		TAILQ_REMOVE(&s->all, c, all_link);
		c->s = NULL;
		(void)event_del(c->timer);
		(void)event_del(c->flush);
		if (c->wev != NULL)
			(void)event_del(c->wev);
	}
	for (size_t i = 0; i < s->n_listen_fds; i++)
		(void)close(s->listen_fds[i]); /* never handed over: still ours */
	free(s->listen_fds);
	free(s->listeners);
	cidr_list_free(s->trusted);
	form_free(s->metrics_allow);
	free(s->listen_host);
	free(s->redirect_origin);
	free(s->redirect_host);
	free(s);
}
