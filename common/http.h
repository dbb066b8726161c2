#pragma once

/*
 * What an outgoing HTTP request is and what came back, shared by the two
 * transports (http_sync for CLIs, http_async for the daemon and emulator) so
 * both send byte-identical requests and report results the same way.
 *
 * The curl easy handle is built in one place, http.c (struct http_transfer);
 * only http.c, http_sync.c and http_async.c include <curl/curl.h>.
 */

#include <stdbool.h>
#include <stddef.h>

enum http_method {
	HTTP_GET,
	HTTP_POST,
	HTTP_DELETE,
};

/* Transport outcome; HTTP_DONE means a response arrived, whatever its status. */
enum http_outcome {
	HTTP_DONE = 0,
	HTTP_TIMEOUT,
	HTTP_CONNECT_FAILED,
	HTTP_TLS_FAILED,
	HTTP_TOO_LARGE,
	HTTP_CANCELLED,
	HTTP_FAILED, /* anything else (send/recv error, bad URL) */
};

#define HTTP_DEFAULT_TIMEOUT_MS		15000
#define HTTP_DEFAULT_CONNECT_TIMEOUT_MS 5000
#define HTTP_DEFAULT_MAX_RESPONSE_BYTES (8u * 1024 * 1024)

/*
 * A request description. Everything is borrowed for the duration of the call
 * that takes it (the transport copies what it keeps). Zero/NULL fields take
 * defaults: no auth, no body, default timeouts and size cap.
 */
struct http_request_spec {
	enum http_method method;
	const char *url;
	const char *username; /* HTTP Basic; both or neither */
	const char *password;
	const char *content_type; /* default for a body: application/x-www-form-urlencoded */
	const void *body;
	size_t body_len;
	const char *if_match;	    /* If-Match header value, or NULL */
	const char *const *headers; /* extra "Name: value" lines, NULL-terminated, or NULL */
	long timeout_ms;
	long connect_timeout_ms;
	size_t max_response_bytes;
	bool allow_plain_http; /* http:// allowed (set for loopback emulator URLs) */
};

struct http_response {
	enum http_outcome outcome;
	long status; /* HTTP status, 0 if none */
	char *body;  /* NUL-terminated, never NULL after the transport filled it */
	size_t body_len;
	char *etag;	    /* ETag header or NULL */
	char *content_type; /* or NULL */
	long retry_after_s; /* Retry-After in seconds, -1 when absent */
	double total_time_s;
	char error[256]; /* transport error text ("" when none); never contains secrets */
};

void http_response_init(struct http_response *r);
/* Frees the response's strings; the struct may be reused after http_response_init. */
void http_response_clear(struct http_response *r);
const char *http_method_name(enum http_method m);
const char *http_outcome_name(enum http_outcome o);
/* True when url's scheme is http and its host is a loopback address or localhost. */
bool http_url_is_loopback(const char *url);

/*
 * Process-wide libcurl setup (curl_global_init / curl_global_cleanup), for
 * main() of every binary and for test programs, which must not include curl
 * headers themselves. Call http_global_init once before creating any
 * http_sync or http_async object, while the process is still
 * single-threaded; returns 0 or -EIO. http_global_cleanup runs once at exit,
 * after every transport is freed.
 */
int http_global_init(void);
void http_global_cleanup(void);

/* Internal to the transports (http_sync.c, http_async.c). */
struct http_transfer;

/*
 * Builds an easy handle for spec. share is a CURLSH * or NULL. Returns NULL
 * with an allocated *cause_out for a spec it refuses (plain http to a
 * non-loopback host without allow_plain_http, missing URL).
 */
struct http_transfer *http_transfer_new(const struct http_request_spec *spec, void *share,
					char **cause_out);
/* The CURL * easy handle (owned by the transfer). */
void *http_transfer_easy(struct http_transfer *t);
/* Sets CURLOPT_PRIVATE to priv. */
void http_transfer_set_private(struct http_transfer *t, void *priv);
/*
 * Moves the result into resp (which must be initialised): outcome from the
 * CURLcode (an int here), status, headers kept, body. The transfer keeps
 * nothing of it afterwards.
 */
void http_transfer_finish(struct http_transfer *t, int curl_code, struct http_response *resp);
void http_transfer_free(struct http_transfer *t);
