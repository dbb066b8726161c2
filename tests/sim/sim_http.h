#pragma once

/*
 * The emulator's HTTP front: one evhttp listener, a table of routes with
 * {PARAM} path patterns, HTTP Basic auth (AccountSid:AuthToken or
 * ApiKey:ApiSecret; 401 with Twilio error 20003 otherwise), fault injection
 * per path pattern, per-route request counters, and the reply and paging
 * helpers every resource module uses so that error bodies and envelopes have
 * one shape.
 *
 * Processing order for each request: counters -> faults (drop, status,
 * latency) -> route lookup (404 20404 / 405) -> auth -> body parse
 * (form, 64 KiB; JSON allowed where the route says so) -> handler.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <event2/http.h>

#include "form.h"
#include "json.h"

struct sim;
struct sim_http;

#define SIM_HTTP_MAX_PARAMS 6
/* The largest max_page_size any list accepts (TaskRouter and 2010). */
#define SIM_PAGER_MAX_PAGE_SIZE 1000

struct sim_request {
	struct sim *sim;
	struct evhttp_request *req;
	const char *method; /* "GET", "POST", "DELETE" */
	const char *path;   /* decoded path, no query */
	const char *route;  /* matched pattern, e.g. "/v1/Workspaces/{WS}/Tasks/{WT}" */
	struct form *query; /* parsed query string; never NULL */
	struct form *form;  /* parsed form body; never NULL (empty for GET/JSON) */
	const char *body;   /* raw body, NUL-terminated ("" when none) */
	size_t body_len;
	const char *content_type;		 /* or NULL */
	const char *if_match;			 /* If-Match header or NULL */
	const char *params[SIM_HTTP_MAX_PARAMS]; /* {PARAM} captures, in pattern order */
	size_t nparams;
};

typedef void sim_http_handler_cb(struct sim_request *r);

struct sim_route {
	const char *method;  /* "GET", "POST" or "DELETE" */
	const char *pattern; /* "/v1/Workspaces/{WS}/Workers/{WK}"; a {X} matches one segment */
	sim_http_handler_cb *handler;
	bool no_auth; /* /sim/... control routes */
};

struct sim_http *sim_http_new(struct sim *sim);
void sim_http_free(struct sim_http *h);
/*
 * Binds addr ("127.0.0.1:0") or adopts an inherited listening fd (fd >= 0),
 * and returns the port in *port_out. Returns 0 or a negative errno.
 */
int sim_http_listen(struct sim_http *h, const char *addr, int fd, int *port_out);
/* routes must be static (borrowed for the server's life). */
void sim_http_register(struct sim_http *h, const struct sim_route *routes, size_t n);
/*
 * Calls cb once per registered control route (no_auth), in registration
 * order, with its method and pattern (borrowed for the call).
 */
typedef void sim_http_route_cb(const char *method, const char *pattern, void *arg);
void sim_http_control_routes(struct sim_http *h, sim_http_route_cb *cb, void *arg);

/* Counters: "GET /v1/Workspaces/{WS}/Workers" -> requests seen, and by status. */
void sim_http_counters_json(struct sim_http *h, struct json_gen *g);
void sim_http_counters_reset(struct sim_http *h);
/*
 * Faults (POST /sim/faults): see sim_control.c for the wire form. A fault
 * matches method (or any) and an fnmatch(3) pattern on the path; it answers
 * status with a Twilio error body and optional Retry-After, or drops the
 * connection, and/or adds latency; for count requests (0 = no limit), for
 * duration_ms (0 = no limit), to percent of matching requests (100 default).
 */
struct sim_fault {
	char *method;  /* or NULL for any */
	char *pattern; /* fnmatch on the path */
	int status;    /* 0: no status fault (latency only) */
	int code;      /* Twilio error code in the body */
	char *message;
	int retry_after_s; /* -1: none */
	int latency_ms;
	bool drop;
	int count;
	int64_t duration_ms;
	int percent;
};
/* Takes ownership of f's strings; returns the fault id. */
int sim_http_fault_add(struct sim_http *h, struct sim_fault *f);
void sim_http_faults_clear(struct sim_http *h);
void sim_http_faults_json(struct sim_http *h, struct json_gen *g);

/*
 * True when the request's If-Match allows writing an object at this version
 * (decimal, as the ETag header shows it): no header, "*", or the version
 * itself, optionally quoted and with a W/ prefix. Replies nothing.
 */
bool sim_http_if_match_ok(const struct sim_request *r, uint64_t version);

/* Replies. Exactly one reply per request. */
/* 200/201 with the generator's text as application/json; etag may be NULL. */
void sim_reply_json(struct sim_request *r, int status, struct json_gen *g, const char *etag);
void sim_reply_no_content(struct sim_request *r);
/* Twilio error body {code, message, more_info, status}. */
void sim_reply_error(struct sim_request *r, int status, int code, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/*
 * Paging. A list handler calls sim_pager_init (which replies 400 and returns
 * -EINVAL for a bad PageSize/PageToken), opens the envelope, walks its
 * filtered items in the list order offering each with a cursor that strictly
 * increases along that order, emits the ones sim_pager_take accepts, and
 * closes the envelope. PageToken encodes the last cursor, so items removed
 * between pages never shift the next page.
 */
struct sim_pager {
	struct sim_request *r;
	int page_size;
	int page;
	bool have_after;
	uint64_t after; /* cursor of the last item of the previous page */
	int taken;
	bool more;
	uint64_t last;	/* cursor of the last item taken */
	uint64_t first; /* cursor of the first item taken */
	/* Internal to sim_http.c: Page without PageToken skips page * page_size items. */
	int64_t skip;
	/* Internal: the cursors of the last items offered before the page, to link the previous
	 * one. */
	uint64_t before[SIM_PAGER_MAX_PAGE_SIZE + 1];
	uint64_t nbefore;
	bool descending; /* cursors decrease along the list (newest first) */
};

int sim_pager_init(struct sim_pager *p, struct sim_request *r, int max_page_size);
/*
 * For a list in newest-first order: the cursors offered strictly decrease
 * (the objects' seq), so tokens stay small positive numbers, as Twilio's do.
 * Call right after sim_pager_init.
 */
void sim_pager_descending(struct sim_pager *p);
/* True: emit this item now. False: skip it (before the page, or page is full). */
bool sim_pager_take(struct sim_pager *p, uint64_t cursor);
/* True once the page is full and a further item was offered (stop iterating). */
bool sim_pager_done(const struct sim_pager *p);
/* v1: writes {"<key>": [ ... caller's items ... ], "meta": {...}} */
void sim_pager_v1_open(struct sim_pager *p, struct json_gen *g, const char *key);
void sim_pager_v1_close(struct sim_pager *p, struct json_gen *g, const char *key);
/* 2010: {"<key>": [...], "uri", "first_page_uri", "next_page_uri", ... } (relative URIs) */
void sim_pager_2010_open(struct sim_pager *p, struct json_gen *g, const char *key);
void sim_pager_2010_close(struct sim_pager *p, struct json_gen *g, const char *key);

/* Common parameter helpers; each replies 400 (Twilio code 20001) and returns -EINVAL on bad input.
 */
int sim_param_bool(struct sim_request *r, const char *value, bool *out);
int sim_param_int(struct sim_request *r, const char *name, const char *value, int64_t min,
		  int64_t max, int64_t *out);
/* ISO-8601 "YYYY-MM-DDTHH:MM:SSZ" (also with fractional seconds or +00:00) to ms. */
int sim_param_date(struct sim_request *r, const char *name, const char *value, int64_t *ms_out);

/* ISO-8601 UTC "2015-07-30T20:00:00Z" into out (21 bytes). */
void sim_format_iso(int64_t ms, char out[32]);
/* RFC 2822 "Fri, 18 Feb 2011 19:26:50 +0000" into out. */
void sim_format_rfc2822(int64_t ms, char out[40]);
