#pragma once

/*
 * server: trhubd's HTTP front on libevent's evhttp. It owns the listening
 * sockets (passed by systemd, or bound from the configured address), the
 * limits (header and body size, timeouts, a connection cap, pausing accept
 * on EMFILE), the route table and the request pipeline:
 *
 *   0. framing     every accepted connection is counted and read through
 *                  a filter (server.c) that checks each request's line and
 *                  header block strictly (RFC 9112) before evhttp parses
 *                  it, enforces the header and body deadlines, keeps the
 *                  webhook reserve, and bounds what a connection may send
 *                  while its request is answered (400/408/431/501/503/505 and
 *                  close, written by the filter itself)
 *   1. method      evhttp_set_allowed_methods (others: evhttp's 501/405)
 *   2. size        evhttp's header and body caps (413 from evhttp)
 *   3. route       404 JSON for an unknown path; 405 JSON with Allow for a
 *                  known path and another method
 *   4. size        the route's own body limit (413 JSON)
 *   5. identity    signature (Twilio routes: events_verify, 400/403/413),
 *                  a local client (ops routes, server_request_client, or
 *                  one in metrics_allow: 403), or the session cookie (401
 *                  JSON "login required" without one)
 *   5b. role       the session's role against the route's (403 JSON)
 *   5c. Origin     every POST but Twilio's and /login needs an Origin (or
 *                  Referer) of this site (403 JSON): CSRF
 *   6. handler
 *
 * A signed webhook on plain HTTP/1.1 keep-alive (no Expect, Connection absent
 * or keep-alive) is answered by the filter itself with steps 3 to 6 for its
 * Twilio route, in this order and with the same functions; it never reaches
 * evhttp (server.c, "the webhook fast path").
 *
 * The route table in server.c is the HTTP surface table of DESIGN.md (the
 * rows this module serves today). Every error body is the DESIGN.md shape
 * {"error": "...", "detail": "..."} written by server_reply_error.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <event2/event.h>
#include <event2/http.h>

struct server;
struct events;
struct api;
struct metrics;
struct auth;
struct worker_api;
struct json_gen;

struct server_options {
	const char *listen_host; /* bind fallback: host (no brackets); borrowed for the call */
	uint16_t listen_port;	 /* bind fallback port (0: any, tests) */
	/*
	 * Every accepted connection counts from accept to close, streams
	 * included; clamped to the descriptor limit less a headroom.
	 */
	int max_connections;
	int webhook_reserved;	     /* of max_connections, only for Twilio routes (<= half) */
	size_t header_max_bytes;     /* request line + headers */
	size_t body_max_bytes;	     /* request body (webhooks); larger is 413 */
	int timeout_s;		     /* keep-alive idle timeout; also a stalled write's */
	int header_timeout_s;	     /* headers complete within this from accept (or first byte) */
	int body_timeout_s;	     /* body complete within this from the end of the headers */
	const char *trusted_proxies; /* cidr.h list, or NULL; borrowed for the call */
	/* Comma-separated addresses allowed on ops routes besides loopback, or NULL. */
	const char *metrics_allow;
	const int *listen_fds; /* sockets from systemd (sd_listen_sockets), or NULL */
	size_t n_listen_fds;   /* ownership of the fds passes to the server on success */
	/*
	 * HTTPS on every listener above (tls.h; borrowed, must outlive the
	 * server), or NULL: plain HTTP. The handshake runs under each
	 * connection's front-door filter and counts against its header deadline.
	 */
	struct tls *tls;
	/*
	 * A second, plain listener answering every request with 308 to the
	 * same path under redirect_origin ("https://host[:port]"), through the
	 * same front door and connection cap; NULL: none. Bound at
	 * redirect_host:redirect_port (borrowed for the call).
	 */
	const char *redirect_origin;
	const char *redirect_host;
	uint16_t redirect_port;
};

/*
 * Who sent a request (server_request_client). A request that came through a
 * proxy (it carries any Forwarded or X-Forwarded-* header, or the peer is a
 * trusted proxy) is never local. address is the peer, or, when the peer is
 * a trusted proxy, the right-most entry of the whole forwarded chain (every
 * Forwarded line, else every X-Forwarded-For line) that is not itself a
 * trusted proxy.
 */
struct server_client {
	char address[64]; /* "" when unknown (malformed or conflicting chains) */
	bool is_local;	  /* a loopback peer and no proxy involved */
	bool via_proxy;
	char proto[8]; /* "https" or "http": a trusted proxy's Forwarded proto, else "http" */
};

/* Called once when a taken-over connection (the stream's) closes. */
typedef void server_close_cb(void *arg);

/*
 * Creates the server; nothing listens yet. events, api and metrics are
 * borrowed and must outlive the server; base too. The caller owns the result.
 */
struct server *server_new(struct event_base *base, const struct server_options *options,
			  struct events *events, struct api *api, struct metrics *metrics);

struct web_static;
/* The pages to serve (borrowed; must outlive the server), or NULL: page routes answer 503. */
void server_set_web(struct server *s, const struct web_static *web);

/*
 * Starts accepting: on the passed fds when there are any (they become the
 * server's), else by binding listen_host:listen_port. Returns 0, or a
 * negative errno with an allocated message in *cause_out ("cannot bind
 * 127.0.0.1:8080: Address already in use").
 */
int server_listen(struct server *s, char **cause_out);

/* A printable address the server listens on ("127.0.0.1:8080"), or "" (owned by s). */
const char *server_address(const struct server *s);
/* The redirect listener's address, or "" when there is none (owned by s). */
const char *server_redirect_address(const struct server *s);

/*
 * Stops accepting new connections and answers further requests on open
 * keep-alive connections with 503 and Connection: close (shutdown).
 */
void server_stop_accepting(struct server *s);

/*
 * Fills *out for req (see struct server_client). s and req are borrowed;
 * it may be called from any handler, any number of times.
 */
void server_request_client(const struct server *s, struct evhttp_request *req,
			   struct server_client *out);

/*
 * For the stream module, which keeps a request's connection open: the bytes
 * queued on req's connection that the peer has not taken yet, and the
 * write-stall timeout of the connection (a peer that takes no byte for
 * timeout_s is closed; 0: none). They work on any evhttp connection.
 */
/* Bytes queued on req's connection that the peer has not taken yet. */
size_t server_request_unsent(struct evhttp_request *req);
/* Sets the write-stall timeout of req's connection (0: none). */
void server_request_set_write_timeout(struct evhttp_request *req, int timeout_s);
/*
 * The socket of req's connection when the stream may write to it itself: a
 * plain (not TLS) connection through the front door's filter; else -1. The
 * caller writes only while server_request_unsent is 0 (so bytes stay in
 * order) and queues what the socket does not take on the connection's
 * output as usual; the descriptor stays the connection's.
 */
int server_request_socket(struct evhttp_request *req);

/*
 * Session routes use auth, the token and agent routes wapi (both borrowed;
 * they must outlive the server, or be unset with NULLs first). Without auth
 * session routes answer 401; wapi must be set whenever auth is.
 */
void server_set_auth(struct server *s, struct auth *auth, struct worker_api *wapi);

/*
 * Prints the route table, one "METHOD /path role" line per route (role:
 * anyone, twilio, local, session, viewer, supervisor, worker, agent), for
 * trhubd --list-routes and the authorization matrix test.
 */
void server_print_routes(FILE *out);

/* Closes every connection and listener and frees. NULL-safe. */
void server_free(struct server *s);
/*
 * Applies a reloaded http_body_max_bytes: the cap of every route whose
 * limit is "the configured one" (evhttp's own cap follows at twice it).
 */
void server_reconfigure(struct server *s, size_t body_max_bytes);

/*
 * Replies. Each sends the response for req exactly once, with
 * Cache-Control: no-store and X-Content-Type-Options: nosniff.
 * server_reply_error writes {"error": error, "detail": detail} (detail may
 * be NULL); error is a short machine word ("not_found"), detail a human
 * sentence that must not contain secrets.
 */
void server_reply_error(struct evhttp_request *req, int status, const char *error,
			const char *detail);
void server_reply_json(struct evhttp_request *req, int status, const char *json, size_t len);
/* Sends g's text without copying it and frees g once it has been sent (takes g). */
void server_reply_json_gen(struct evhttp_request *req, int status, struct json_gen *g);
void server_reply_text(struct evhttp_request *req, int status, const char *content_type,
		       const char *body, size_t len);
