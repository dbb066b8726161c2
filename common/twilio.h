#pragma once

/*
 * The Twilio REST model shared by the CLIs and the daemon: where things live
 * (URL builders for TaskRouter v1, Sync v1 and API 2010), how to authenticate
 * (request spec defaults), what an error looks like (twilio_error), how lists
 * are paged (twilio_page) and when to retry (twilio_retry_*). It never does
 * I/O itself: requests go through http_sync (CLIs) or http_async (daemon),
 * both of which report a struct http_response that everything here reads.
 *
 * Facts followed: shared/twilio-api.md sections 1 (hosts, auth, error body)
 * and 2 (paging envelopes), shared/twilio-operations.md section 1 (429 is
 * always safe to retry; Retry-After is honoured when present).
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "form.h"
#include "http.h"
#include "json.h"
#include "rng.h"

enum twilio_host {
	TWILIO_HOST_TASKROUTER, /* https://taskrouter.twilio.com */
	TWILIO_HOST_SYNC,	/* https://sync.twilio.com */
	TWILIO_HOST_API,	/* https://api.twilio.com (2010 API, Conferences) */
	TWILIO_HOST_COUNT,
};

#define TWILIO_TASKROUTER_BASE "https://taskrouter.twilio.com"
#define TWILIO_SYNC_BASE       "https://sync.twilio.com"
#define TWILIO_API_BASE	       "https://api.twilio.com"

/*
 * Credentials and endpoints. Every string is borrowed by twilio_new, which
 * copies what it keeps (secrets are wiped when the client is freed).
 */
struct twilio_client_config {
	const char *account_sid; /* AC..., required (2010 paths, Basic auth user) */
	const char *auth_token;	 /* required unless api_key and api_secret are set */
	const char *api_key;	 /* SK..., optional; with api_secret Basic auth is SK:secret */
	const char *api_secret;
	/*
	 * twilio_base_url: NULL or "" for the real hosts, else one base that
	 * replaces all three (e.g. "http://127.0.0.1:8123" for trhub-sim). It
	 * must be https, or http on a loopback host (then plain http is
	 * allowed for every request). A trailing '/' is ignored.
	 */
	const char *base_url;
	/*
	 * Per-host bases (indexed by enum twilio_host): NULL or "" falls back
	 * to base_url, then to the real host. Same rules as base_url.
	 */
	const char *host_base_url[TWILIO_HOST_COUNT];
	long timeout_ms;	   /* 0: HTTP_DEFAULT_TIMEOUT_MS */
	long connect_timeout_ms;   /* 0: HTTP_DEFAULT_CONNECT_TIMEOUT_MS */
	size_t max_response_bytes; /* 0: HTTP_DEFAULT_MAX_RESPONSE_BYTES */
};

struct twilio;
struct config;

/*
 * Fills cfg from trhub's configuration: credentials, the three resolved
 * base URLs (taskrouter_base_url, sync_base_url, api_base_url; config has
 * already applied twilio_base_url to those left at their defaults) and the
 * timeouts. Pointers borrow from config.
 */
void twilio_client_config_from(struct twilio_client_config *cfg, const struct config *config);

/*
 * Validates and copies cfg. On success the caller owns *twilio_out
 * (twilio_free). Returns -EINVAL with an allocated message in *cause_out
 * (when cause_out is not NULL) for a missing account SID, missing
 * credentials, an API key without a secret (or the reverse), or a base URL
 * that is not https and not http on a loopback host.
 */
int twilio_new(const struct twilio_client_config *cfg, struct twilio **twilio_out,
	       char **cause_out);
/*
 * Replaces the REST credentials of tw (auth_token, or api_key and
 * api_secret) with those of cfg, validated as twilio_new does; the account
 * SID, base URLs and limits keep their values. Requests already started
 * keep the credentials they were built with. Returns 0, or -EINVAL with a
 * message in *cause_out (when not NULL) and tw unchanged.
 */
int twilio_reconfigure(struct twilio *tw, const struct twilio_client_config *cfg, char **cause_out);

/* Wipes the secrets and frees. NULL-safe. */
void twilio_free(struct twilio *tw);

/* The base URL used for host (no trailing '/'), owned by tw. */
const char *twilio_base(const struct twilio *tw, enum twilio_host host);
const char *twilio_account_sid(const struct twilio *tw);
/* True when requests may use plain http (the base URL is a loopback http URL). */
bool twilio_allows_plain_http(const struct twilio *tw);

/*
 * Fills spec for method and url with tw's Basic credentials (SK:secret when
 * an API key is configured, else AC:token), timeouts, size cap and plain-http
 * permission; the other fields are zeroed. spec borrows url and tw's strings:
 * it is valid while both live. The caller adds body, content type, If-Match.
 */
void twilio_request_spec_init(const struct twilio *tw, struct http_request_spec *spec,
			      enum http_method method, const char *url);

/*
 * URL builders. Each returns an allocated absolute URL the caller frees, or
 * NULL when a required id is NULL or empty (never a shorter URL that would
 * name a different resource). Ids are percent-encoded as one path segment
 * each (form_encode_path_component), so "a/b" cannot escape its segment.
 */
/* TaskRouter: {base}/v1/Workspaces/{ws}... */
char *twilio_url_workspace(const struct twilio *tw, const char *ws);
char *twilio_url_activities(const struct twilio *tw, const char *ws);
char *twilio_url_workers(const struct twilio *tw, const char *ws);
char *twilio_url_worker(const struct twilio *tw, const char *ws, const char *wk);
char *twilio_url_tasks(const struct twilio *tw, const char *ws);
char *twilio_url_task(const struct twilio *tw, const char *ws, const char *wt);
char *twilio_url_task_reservations(const struct twilio *tw, const char *ws, const char *wt);
char *twilio_url_task_reservation(const struct twilio *tw, const char *ws, const char *wt,
				  const char *wr);
char *twilio_url_worker_reservations(const struct twilio *tw, const char *ws, const char *wk);
char *twilio_url_worker_reservation(const struct twilio *tw, const char *ws, const char *wk,
				    const char *wr);
char *twilio_url_task_queues(const struct twilio *tw, const char *ws);
char *twilio_url_task_queue(const struct twilio *tw, const char *ws, const char *wq);
char *twilio_url_workflows(const struct twilio *tw, const char *ws);
char *twilio_url_events(const struct twilio *tw, const char *ws);
/* .../Statistics, .../RealTimeStatistics, .../CumulativeStatistics */
char *twilio_url_workspace_statistics(const struct twilio *tw, const char *ws);
char *twilio_url_workspace_realtime_statistics(const struct twilio *tw, const char *ws);
char *twilio_url_workspace_cumulative_statistics(const struct twilio *tw, const char *ws);
/* .../TaskQueues/{wq}/Statistics and .../TaskQueues/{wq}/RealTimeStatistics */
char *twilio_url_task_queue_statistics(const struct twilio *tw, const char *ws, const char *wq);
char *twilio_url_task_queue_realtime_statistics(const struct twilio *tw, const char *ws,
						const char *wq);
/* .../TaskQueues/Statistics (list, key task_queues_statistics) */
char *twilio_url_task_queues_statistics(const struct twilio *tw, const char *ws);
/* .../TaskQueues/RealTimeStatistics (bulk POST with a JSON body) */
char *twilio_url_task_queues_realtime_statistics(const struct twilio *tw, const char *ws);
/* .../Workers/Statistics */
char *twilio_url_workers_statistics(const struct twilio *tw, const char *ws);
/* Sync: {base}/v1/Services/{is}... */
char *twilio_url_sync_service(const struct twilio *tw, const char *is);
char *twilio_url_sync_documents(const struct twilio *tw, const char *is);
char *twilio_url_sync_document(const struct twilio *tw, const char *is, const char *doc);
char *twilio_url_sync_maps(const struct twilio *tw, const char *is);
char *twilio_url_sync_map(const struct twilio *tw, const char *is, const char *map);
char *twilio_url_sync_map_items(const struct twilio *tw, const char *is, const char *map);
char *twilio_url_sync_map_item(const struct twilio *tw, const char *is, const char *map,
			       const char *key);
/* API 2010: {base}/2010-04-01/Accounts/{AC}/Conferences[...].json */
char *twilio_url_conferences(const struct twilio *tw);
char *twilio_url_conference(const struct twilio *tw, const char *cf);
char *twilio_url_conference_participants(const struct twilio *tw, const char *cf);

/*
 * Returns an allocated copy of url with query appended as "?k=v&k2=v2" (or
 * "&..." when url already has a query), form-urlencoded in insertion order.
 * query may be NULL or empty: a plain copy. Both arguments are borrowed.
 */
char *twilio_url_with_query(const char *url, const struct form *query);

/*
 * A Twilio error, from a response that is not a 2xx. Strings are owned by
 * the struct (twilio_error_clear).
 */
struct twilio_error {
	long code;	 /* Twilio error code (20429, 54103...), else the HTTP status, else 0 */
	long status;	 /* HTTP status (0 when no response arrived) */
	char *message;	 /* never NULL after twilio_error_parse */
	char *more_info; /* or NULL */
};

void twilio_error_init(struct twilio_error *err);
void twilio_error_clear(struct twilio_error *err);

/*
 * Fills err (which must be initialised; previous contents are freed) from
 * resp, which is only read. A body {"code", "message", "more_info",
 * "status"} is used as Twilio sends it; a missing code falls back to the
 * HTTP status (as twilio-python does); a missing message becomes
 * "HTTP <status>". A transport failure gives code 0, status 0 and a message
 * naming the outcome. Returns 0 when the body was a JSON object, -EBADMSG
 * when it was not (empty, HTML from a proxy, garbage: err still holds the
 * fallbacks), -EIO when no response arrived.
 */
int twilio_error_parse(const struct http_response *resp, struct twilio_error *err);

/* True for outcome HTTP_DONE with a 2xx status. */
bool twilio_response_ok(const struct http_response *resp);

/*
 * One page of a list response. v1 envelope (TaskRouter, Sync): records at
 * payload[meta.key], next page at meta.next_page_url (absolute). 2010
 * envelope: records at payload[key], next page at next_page_uri, relative to
 * the API base and joined with the configured base.
 *
 * Next-page URLs are followed verbatim but must stay on the configured base
 * of tw (any of its three hosts): an absolute URL elsewhere, a
 * protocol-relative "//host" URI, or one with control characters or spaces
 * is refused, so a hostile or broken server cannot make us send our
 * credentials to another host.
 */
struct twilio_page;

/*
 * Parses a page body of len bytes (not necessarily NUL-terminated; only read
 * during the call). key is the records key: optional for v1 (meta.key wins,
 * key is the fallback when meta has none), required for 2010 bodies (no
 * meta). tw is borrowed for the call. On success the caller owns *page_out
 * (twilio_page_free). Returns -EINVAL (not JSON, not an object, records
 * missing or not an array, next URL of the wrong type), -E2BIG (body too
 * large) or -EPERM (next URL leaves the configured base), with an allocated
 * message in *cause_out when cause_out is not NULL.
 */
int twilio_page_parse(const struct twilio *tw, const char *key, const char *body, size_t len,
		      struct twilio_page **page_out, char **cause_out);
void twilio_page_free(struct twilio_page *page);
size_t twilio_page_count(const struct twilio_page *page);
/* The i-th record (i < count), owned by page; NULL when out of range. */
const struct json_value *twilio_page_record(const struct twilio_page *page, size_t i);
/* The records key used, owned by page. */
const char *twilio_page_key(const struct twilio_page *page);
/* Absolute URL of the next page (owned by page), or NULL on the last page. */
const char *twilio_page_next_url(const struct twilio_page *page);

/*
 * Retry policy for both transports. A zero field takes its default. Attempts
 * count every try including the first, so max_attempts 5 means one try and
 * up to four retries.
 */
struct twilio_retry_policy {
	unsigned max_attempts; /* 0: TWILIO_RETRY_DEFAULT_ATTEMPTS */
	long base_ms;	       /* 0: TWILIO_RETRY_DEFAULT_BASE_MS */
	long max_ms;	       /* 0: TWILIO_RETRY_DEFAULT_MAX_MS; cap of the backoff */
};

#define TWILIO_RETRY_DEFAULT_ATTEMPTS 5u
#define TWILIO_RETRY_DEFAULT_BASE_MS  200L
#define TWILIO_RETRY_DEFAULT_MAX_MS   10000L
/* No delay is longer than this, whatever Retry-After says. */
#define TWILIO_RETRY_HARD_CAP_MS 60000L

/* Fills the defaults. */
void twilio_retry_policy_init(struct twilio_retry_policy *p);

/*
 * True when resp is worth retrying: HTTP 429, 500, 502, 503 or 504, a
 * connect failure or a timeout. Other 4xx (400, 401, 403, 404, 409, 412...),
 * TLS failures, oversized responses and cancellations are final.
 */
bool twilio_retry_is_retryable(const struct http_response *resp);

/*
 * Full-jitter exponential backoff: uniform in [0, min(max_ms, base_ms *
 * 2^(attempts_made - 1))]. attempts_made >= 1. rng is advanced.
 */
long twilio_retry_backoff_ms(const struct twilio_retry_policy *p, unsigned attempts_made,
			     struct rng *rng);

/*
 * Decides whether to try again after attempts_made tries (>= 1), the last of
 * which ended with resp. Returns true with *delay_ms_out set when another
 * attempt should be made after that delay: the backoff, or Retry-After when
 * present and longer, never more than TWILIO_RETRY_HARD_CAP_MS. Returns false
 * (with *delay_ms_out 0) when resp is final or attempts are used up. p may
 * be NULL for the defaults.
 */
bool twilio_retry_next(const struct twilio_retry_policy *p, const struct http_response *resp,
		       unsigned attempts_made, struct rng *rng, long *delay_ms_out);
