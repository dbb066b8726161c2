/*
 * twilio: the Twilio REST model (URLs, auth, errors, paging, retry policy),
 * without I/O. See twilio.h for the contract.
 *
 * Invariants:
 * - The three bases never end in '/'; every URL we build is base + "/" +
 *   path with each id percent-encoded as one segment.
 * - A next-page URL is only returned when it starts with one of our bases
 *   followed by '/', and contains no whitespace, control bytes or
 *   backslashes: a list response can never redirect our credentials to
 *   another host.
 * - The password copy is wiped (xfree_secret) when the client is freed.
 */

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "buf.h"
#include "config.h"
#include "loopback.h"
#include "twilio.h"
#include "xmalloc.h"

#define TWILIO_NEXT_URL_MAX   8192
#define TWILIO_PAGE_MAX_DEPTH 64

struct twilio {
	char *account_sid;
	char *username;
	char *password; /* secret: auth token or API key secret */
	char *base[TWILIO_HOST_COUNT];
	bool plain_http;
	long timeout_ms;
	long connect_timeout_ms;
	size_t max_response_bytes;
};

struct twilio_page {
	struct json_doc *doc;
	const struct json_value *records;
	char *key;
	char *next_url;
};

static bool
twilio_is_empty(const char *s)
{
	return s == NULL || *s == '\0';
}

/* True when s has bytes that never belong in a URL we send (space, controls, '\'). */
static bool
twilio_url_has_bad_bytes(const char *s)
{
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;

		if (c <= 0x20 || c == 0x7f || c == '\\')
			return true;
	}
	return false;
}

static int
twilio_check_base(const char *base, bool *plain_out, char **cause)
{
	size_t host_off;

	if (strncasecmp(base, "https://", 8) == 0) {
		host_off = 8;
		*plain_out = false;
	} else if (strncasecmp(base, "http://", 7) == 0) {
		host_off = 7;
		if (!http_url_is_loopback(base)) {
			*cause = xstrdup("twilio_base_url: " LOOPBACK_HTTP_REFUSED);
			return -EINVAL;
		}
		*plain_out = true;
	} else {
		*cause = xstrdup("twilio_base_url: scheme must be https (or http on loopback)");
		return -EINVAL;
	}
	if (base[host_off] == '\0' || base[host_off] == '/' || twilio_url_has_bad_bytes(base) ||
	    strpbrk(base, "?#@") != NULL) {
		*cause = xstrdup("twilio_base_url: not a plain scheme://host[:port][/path] URL");
		return -EINVAL;
	}
	return 0;
}

static const char *const twilio_default_bases[TWILIO_HOST_COUNT] = {
	[TWILIO_HOST_TASKROUTER] = TWILIO_TASKROUTER_BASE,
	[TWILIO_HOST_SYNC] = TWILIO_SYNC_BASE,
	[TWILIO_HOST_API] = TWILIO_API_BASE,
};

void
twilio_client_config_from(struct twilio_client_config *cfg, const struct config *config)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->account_sid = config->account_sid;
	cfg->auth_token = config->auth_token;
	cfg->api_key = config->api_key;
	cfg->api_secret = config->api_secret;
	cfg->base_url = config->twilio_base_url;
	cfg->host_base_url[TWILIO_HOST_TASKROUTER] = config->taskrouter_base_url;
	cfg->host_base_url[TWILIO_HOST_SYNC] = config->sync_base_url;
	cfg->host_base_url[TWILIO_HOST_API] = config->api_base_url;
	cfg->timeout_ms = config->twilio_timeout_ms;
	cfg->connect_timeout_ms = config->twilio_connect_timeout_ms;
	cfg->max_response_bytes = (size_t)config->twilio_response_max_bytes;
}

int
twilio_new(const struct twilio_client_config *cfg, struct twilio **twilio_out, char **cause_out)
{
	struct twilio *tw = NULL;
	char *cause = NULL;
	char *bases[TWILIO_HOST_COUNT] = { NULL };
	bool plain = false;
	bool have_key;
	int r = -EINVAL;

	if (twilio_is_empty(cfg->account_sid)) {
		cause = xstrdup("missing account SID");
		goto out;
	}
	have_key = !twilio_is_empty(cfg->api_key);
	if (have_key != !twilio_is_empty(cfg->api_secret)) {
		cause = xstrdup("an API key needs its secret, and a secret its key");
		goto out;
	}
	if (!have_key && twilio_is_empty(cfg->auth_token)) {
		cause = xstrdup("missing auth token (or API key and secret)");
		goto out;
	}
	for (int h = 0; h < TWILIO_HOST_COUNT; h++) {
		const char *want = !twilio_is_empty(cfg->host_base_url[h]) ? cfg->host_base_url[h]
									   : cfg->base_url;
		bool host_plain = false;
		size_t len;

		if (twilio_is_empty(want)) {
			bases[h] = xstrdup(twilio_default_bases[h]);
			continue;
		}
		bases[h] = xstrdup(want);
		len = strlen(bases[h]);
		while (len > 0 && bases[h][len - 1] == '/')
			bases[h][--len] = '\0';
		r = twilio_check_base(bases[h], &host_plain, &cause);
		if (r < 0)
			goto out;
		plain = plain || host_plain;
	}

	tw = xcalloc(1, sizeof(*tw));
	tw->account_sid = xstrdup(cfg->account_sid);
	tw->username = xstrdup(have_key ? cfg->api_key : cfg->account_sid);
	tw->password = xstrdup(have_key ? cfg->api_secret : cfg->auth_token);
	for (int h = 0; h < TWILIO_HOST_COUNT; h++) {
		tw->base[h] = bases[h];
		bases[h] = NULL;
	}
	tw->plain_http = plain;
	tw->timeout_ms = cfg->timeout_ms;
	tw->connect_timeout_ms = cfg->connect_timeout_ms;
	tw->max_response_bytes = cfg->max_response_bytes;
	*twilio_out = tw;
	r = 0;
out:
	for (int h = 0; h < TWILIO_HOST_COUNT; h++)
		free(bases[h]);
	if (cause_out != NULL)
		*cause_out = cause;
	else
		free(cause);
	return r;
}

int
twilio_reconfigure(struct twilio *tw, const struct twilio_client_config *cfg, char **cause_out)
{
	struct twilio *next = NULL;
	char *swap;
	int r;

	r = twilio_new(cfg, &next, cause_out);
	if (r < 0)
		return r;
	swap = tw->username;
	tw->username = next->username;
	next->username = swap;
	swap = tw->password;
	tw->password = next->password;
	next->password = swap;
	twilio_free(next); /* wipes the old secret */
	return 0;
}

void
twilio_free(struct twilio *tw)
{
	if (tw == NULL)
		return;
	free(tw->account_sid);
	free(tw->username);
	xfree_secret(tw->password);
	for (int i = 0; i < TWILIO_HOST_COUNT; i++)
		free(tw->base[i]);
	free(tw);
}

const char *
twilio_base(const struct twilio *tw, enum twilio_host host)
{
	return tw->base[host];
}

const char *
twilio_account_sid(const struct twilio *tw)
{
	return tw->account_sid;
}

bool
twilio_allows_plain_http(const struct twilio *tw)
{
	return tw->plain_http;
}

void
twilio_request_spec_init(const struct twilio *tw, struct http_request_spec *spec,
			 enum http_method method, const char *url)
{
	memset(spec, 0, sizeof(*spec));
	spec->method = method;
	spec->url = url;
	spec->username = tw->username;
	spec->password = tw->password;
	spec->timeout_ms = tw->timeout_ms;
	spec->connect_timeout_ms = tw->connect_timeout_ms;
	spec->max_response_bytes = tw->max_response_bytes;
	spec->allow_plain_http = tw->plain_http;
}

/*
 * base(host) + pattern, where each '%' in pattern is replaced by the next
 * id argument, percent-encoded. NULL when an id is NULL or empty.
 */
static char *
twilio_url_build(const struct twilio *tw, enum twilio_host host, const char *pattern, ...)
{
	struct buf b;
	va_list ap;
	char *url;

	buf_init(&b);
	buf_puts(&b, tw->base[host]);
	va_start(ap, pattern);
	for (const char *p = pattern; *p != '\0'; p++) {
		const char *id;

		if (*p != '%') {
			buf_putc(&b, *p);
			continue;
		}
		id = va_arg(ap, const char *);
		if (twilio_is_empty(id)) {
			va_end(ap);
			buf_clear(&b);
			return NULL;
		}
		form_encode_path_component(&b, id);
	}
	va_end(ap);
	url = buf_steal(&b, NULL);
	buf_clear(&b); /* buf_steal leaves an initialised, empty buffer */
	return url;
}

#define TR TWILIO_HOST_TASKROUTER

char *
twilio_url_workspace(const struct twilio *tw, const char *ws)
{
	return twilio_url_build(tw, TR, "/v1/Workspaces/%", ws);
}

char *
twilio_url_activities(const struct twilio *tw, const char *ws)
{
	return twilio_url_build(tw, TR, "/v1/Workspaces/%/Activities", ws);
}

char *
twilio_url_workers(const struct twilio *tw, const char *ws)
{
	return twilio_url_build(tw, TR, "/v1/Workspaces/%/Workers", ws);
}

char *
twilio_url_worker(const struct twilio *tw, const char *ws, const char *wk)
{
	return twilio_url_build(tw, TR, "/v1/Workspaces/%/Workers/%", ws, wk);
}

char *
twilio_url_tasks(const struct twilio *tw, const char *ws)
{
	return twilio_url_build(tw, TR, "/v1/Workspaces/%/Tasks", ws);
}

char *
twilio_url_task(const struct twilio *tw, const char *ws, const char *wt)
{
	return twilio_url_build(tw, TR, "/v1/Workspaces/%/Tasks/%", ws, wt);
}

char *
twilio_url_task_reservations(const struct twilio *tw, const char *ws, const char *wt)
{
	return twilio_url_build(tw, TR, "/v1/Workspaces/%/Tasks/%/Reservations", ws, wt);
}

char *
twilio_url_task_reservation(const struct twilio *tw, const char *ws, const char *wt, const char *wr)
{
	return twilio_url_build(tw, TR, "/v1/Workspaces/%/Tasks/%/Reservations/%", ws, wt, wr);
}

char *
twilio_url_worker_reservations(const struct twilio *tw, const char *ws, const char *wk)
{
	return twilio_url_build(tw, TR, "/v1/Workspaces/%/Workers/%/Reservations", ws, wk);
}

char *
twilio_url_worker_reservation(const struct twilio *tw, const char *ws, const char *wk,
			      const char *wr)
{
	return twilio_url_build(tw, TR, "/v1/Workspaces/%/Workers/%/Reservations/%", ws, wk, wr);
}

char *
twilio_url_task_queues(const struct twilio *tw, const char *ws)
{
	return twilio_url_build(tw, TR, "/v1/Workspaces/%/TaskQueues", ws);
}

char *
twilio_url_task_queue(const struct twilio *tw, const char *ws, const char *wq)
{
	return twilio_url_build(tw, TR, "/v1/Workspaces/%/TaskQueues/%", ws, wq);
}

char *
twilio_url_workflows(const struct twilio *tw, const char *ws)
{
	return twilio_url_build(tw, TR, "/v1/Workspaces/%/Workflows", ws);
}

char *
twilio_url_events(const struct twilio *tw, const char *ws)
{
	return twilio_url_build(tw, TR, "/v1/Workspaces/%/Events", ws);
}

char *
twilio_url_workspace_statistics(const struct twilio *tw, const char *ws)
{
	return twilio_url_build(tw, TR, "/v1/Workspaces/%/Statistics", ws);
}

char *
twilio_url_workspace_realtime_statistics(const struct twilio *tw, const char *ws)
{
	return twilio_url_build(tw, TR, "/v1/Workspaces/%/RealTimeStatistics", ws);
}

char *
twilio_url_workspace_cumulative_statistics(const struct twilio *tw, const char *ws)
{
	return twilio_url_build(tw, TR, "/v1/Workspaces/%/CumulativeStatistics", ws);
}

char *
twilio_url_task_queue_statistics(const struct twilio *tw, const char *ws, const char *wq)
{
	return twilio_url_build(tw, TR, "/v1/Workspaces/%/TaskQueues/%/Statistics", ws, wq);
}

char *
twilio_url_task_queue_realtime_statistics(const struct twilio *tw, const char *ws, const char *wq)
{
	return twilio_url_build(tw, TR, "/v1/Workspaces/%/TaskQueues/%/RealTimeStatistics", ws, wq);
}

char *
twilio_url_task_queues_statistics(const struct twilio *tw, const char *ws)
{
	return twilio_url_build(tw, TR, "/v1/Workspaces/%/TaskQueues/Statistics", ws);
}

char *
twilio_url_task_queues_realtime_statistics(const struct twilio *tw, const char *ws)
{
	return twilio_url_build(tw, TR, "/v1/Workspaces/%/TaskQueues/RealTimeStatistics", ws);
}

char *
twilio_url_workers_statistics(const struct twilio *tw, const char *ws)
{
	return twilio_url_build(tw, TR, "/v1/Workspaces/%/Workers/Statistics", ws);
}

#undef TR

char *
twilio_url_sync_service(const struct twilio *tw, const char *is)
{
	return twilio_url_build(tw, TWILIO_HOST_SYNC, "/v1/Services/%", is);
}

char *
twilio_url_sync_documents(const struct twilio *tw, const char *is)
{
	return twilio_url_build(tw, TWILIO_HOST_SYNC, "/v1/Services/%/Documents", is);
}

char *
twilio_url_sync_document(const struct twilio *tw, const char *is, const char *doc)
{
	return twilio_url_build(tw, TWILIO_HOST_SYNC, "/v1/Services/%/Documents/%", is, doc);
}

char *
twilio_url_sync_maps(const struct twilio *tw, const char *is)
{
	return twilio_url_build(tw, TWILIO_HOST_SYNC, "/v1/Services/%/Maps", is);
}

char *
twilio_url_sync_map(const struct twilio *tw, const char *is, const char *map)
{
	return twilio_url_build(tw, TWILIO_HOST_SYNC, "/v1/Services/%/Maps/%", is, map);
}

char *
twilio_url_sync_map_items(const struct twilio *tw, const char *is, const char *map)
{
	return twilio_url_build(tw, TWILIO_HOST_SYNC, "/v1/Services/%/Maps/%/Items", is, map);
}

char *
twilio_url_sync_map_item(const struct twilio *tw, const char *is, const char *map, const char *key)
{
	return twilio_url_build(tw, TWILIO_HOST_SYNC, "/v1/Services/%/Maps/%/Items/%", is, map,
				key);
}

char *
twilio_url_conferences(const struct twilio *tw)
{
	return twilio_url_build(tw, TWILIO_HOST_API, "/2010-04-01/Accounts/%/Conferences.json",
				tw->account_sid);
}

char *
twilio_url_conference(const struct twilio *tw, const char *cf)
{
	return twilio_url_build(tw, TWILIO_HOST_API, "/2010-04-01/Accounts/%/Conferences/%.json",
				tw->account_sid, cf);
}

char *
twilio_url_conference_participants(const struct twilio *tw, const char *cf)
{
	return twilio_url_build(tw, TWILIO_HOST_API,
				"/2010-04-01/Accounts/%/Conferences/%/Participants.json",
				tw->account_sid, cf);
}

char *
twilio_url_with_query(const char *url, const struct form *query)
{
	char *encoded;
	char *r;

	if (query == NULL || form_count(query) == 0)
		return xstrdup(url);
	encoded = form_encode(query);
	r = xasprintf("%s%c%s", url, strchr(url, '?') != NULL ? '&' : '?', encoded);
	free(encoded);
	return r;
}

void
twilio_error_init(struct twilio_error *err)
{
	memset(err, 0, sizeof(*err));
}

void
twilio_error_clear(struct twilio_error *err)
{
	if (err == NULL)
		return;
	free(err->message);
	free(err->more_info);
	twilio_error_init(err);
}

int
twilio_error_parse(const struct http_response *resp, struct twilio_error *err)
{
	struct json_doc *doc = NULL;
	const struct json_value *root;
	const char *s = NULL;
	int64_t code = 0;
	int r;

	twilio_error_clear(err);
	if (resp->outcome != HTTP_DONE) {
		err->message = xasprintf("no response: %s%s%s", http_outcome_name(resp->outcome),
					 resp->error[0] != '\0' ? ": " : "", resp->error);
		return -EIO;
	}
	err->status = resp->status;
	err->code = resp->status;

	r = -EBADMSG;
	if (resp->body != NULL && resp->body_len > 0 &&
	    json_parse(resp->body, resp->body_len, NULL, &doc, NULL) == 0 &&
	    json_is_object(json_doc_root(doc))) {
		root = json_doc_root(doc);
		if (json_get_int64(root, "code", &code) == 0 && code > 0 && code <= INT32_MAX)
			err->code = (long)code;
		if (json_get_string(root, "message", &s) == 0)
			err->message = xstrdup(s);
		if (json_get_string(root, "more_info", &s) == 0)
			err->more_info = xstrdup(s);
		r = 0;
	}
	if (err->message == NULL)
		err->message = xasprintf("HTTP %ld", resp->status);
	json_doc_free(doc);
	return r;
}

bool
twilio_response_ok(const struct http_response *resp)
{
	return resp->outcome == HTTP_DONE && resp->status >= 200 && resp->status <= 299;
}

/* True when url begins with one of tw's bases followed by '/'. */
static bool
twilio_url_on_base(const struct twilio *tw, const char *url)
{
	for (int i = 0; i < TWILIO_HOST_COUNT; i++) {
		size_t n = strlen(tw->base[i]);

		if (strncmp(url, tw->base[i], n) == 0 && url[n] == '/')
			return true;
	}
	return false;
}

static int twilio_page_fail(int r, char **cause_out, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int
twilio_page_fail(int r, char **cause_out, const char *fmt, ...)
{
	va_list ap;

	if (cause_out != NULL) {
		va_start(ap, fmt);
		*cause_out = xvasprintf(fmt, ap);
		va_end(ap);
	}
	return r;
}

/*
 * Validates and resolves the next-page link: v is meta.next_page_url (v1,
 * absolute) or next_page_uri (2010, relative to the API base).
 */
static int
twilio_page_next(const struct twilio *tw, const struct json_value *v, bool relative,
		 char **next_out, char **cause_out)
{
	const char *s;

	*next_out = NULL;
	if (v == NULL || json_type(v) == JSON_NULL)
		return 0;
	s = json_string(v);
	if (s == NULL)
		return twilio_page_fail(-EINVAL, cause_out, "next page link is not a string");
	if (*s == '\0')
		return 0; /* some fixtures use "" for "no next page" */
	if (strlen(s) > TWILIO_NEXT_URL_MAX || twilio_url_has_bad_bytes(s))
		return twilio_page_fail(-EPERM, cause_out,
					"next page link is too long or has bad bytes");
	if (relative) {
		if (s[0] != '/' || s[1] == '/')
			return twilio_page_fail(-EPERM, cause_out,
						"next_page_uri is not a path on the API host");
		*next_out = xasprintf("%s%s", tw->base[TWILIO_HOST_API], s);
		return 0;
	}
	if (!twilio_url_on_base(tw, s))
		return twilio_page_fail(-EPERM, cause_out,
					"next_page_url leaves the configured Twilio base");
	*next_out = xstrdup(s);
	return 0;
}

int
twilio_page_parse(const struct twilio *tw, const char *key, const char *body, size_t len,
		  struct twilio_page **page_out, char **cause_out)
{
	struct json_limits limits = { HTTP_DEFAULT_MAX_RESPONSE_BYTES, TWILIO_PAGE_MAX_DEPTH };
	struct twilio_page *page = NULL;
	struct json_doc *doc = NULL;
	const struct json_value *root;
	const struct json_value *meta;
	const struct json_value *records;
	const char *k = key;
	char *next = NULL;
	char *cause = NULL;
	int r;

	if (tw->max_response_bytes > limits.max_bytes)
		limits.max_bytes = tw->max_response_bytes;
	r = json_parse(body, len, &limits, &doc, &cause);
	if (r < 0) {
		r = twilio_page_fail(r, cause_out, "page is not JSON: %s",
				     cause != NULL ? cause : "parse error");
		goto out;
	}
	root = json_doc_root(doc);
	if (!json_is_object(root)) {
		r = twilio_page_fail(-EINVAL, cause_out, "page is not a JSON object");
		goto out;
	}
	meta = json_get(root, "meta");
	if (json_is_object(meta)) {
		const char *mk = NULL;

		if (json_get_string(meta, "key", &mk) == 0 && *mk != '\0')
			k = mk;
	} else {
		meta = NULL;
	}
	if (twilio_is_empty(k)) {
		r = twilio_page_fail(-EINVAL, cause_out, "page has no records key");
		goto out;
	}
	records = json_get(root, k);
	if (!json_is_array(records)) {
		r = twilio_page_fail(-EINVAL, cause_out,
				     "page records \"%s\" missing or not a list", k);
		goto out;
	}
	if (meta != NULL)
		r = twilio_page_next(tw, json_get(meta, "next_page_url"), false, &next, cause_out);
	else
		r = twilio_page_next(tw, json_get(root, "next_page_uri"), true, &next, cause_out);
	if (r < 0)
		goto out;

	page = xcalloc(1, sizeof(*page));
	page->doc = doc;
	page->records = records;
	page->key = xstrdup(k);
	page->next_url = next;
	doc = NULL;
	next = NULL;
	*page_out = page;
	r = 0;
out:
	free(cause);
	free(next);
	json_doc_free(doc);
	return r;
}

void
twilio_page_free(struct twilio_page *page)
{
	if (page == NULL)
		return;
	json_doc_free(page->doc);
	free(page->key);
	free(page->next_url);
	free(page);
}

size_t
twilio_page_count(const struct twilio_page *page)
{
	return json_array_len(page->records);
}

const struct json_value *
twilio_page_record(const struct twilio_page *page, size_t i)
{
	return json_array_at(page->records, i);
}

const char *
twilio_page_key(const struct twilio_page *page)
{
	return page->key;
}

const char *
twilio_page_next_url(const struct twilio_page *page)
{
	return page->next_url;
}

void
twilio_retry_policy_init(struct twilio_retry_policy *p)
{
	p->max_attempts = TWILIO_RETRY_DEFAULT_ATTEMPTS;
	p->base_ms = TWILIO_RETRY_DEFAULT_BASE_MS;
	p->max_ms = TWILIO_RETRY_DEFAULT_MAX_MS;
}

/* p with zero fields replaced by defaults. */
static struct twilio_retry_policy
twilio_retry_effective(const struct twilio_retry_policy *p)
{
	struct twilio_retry_policy e;

	twilio_retry_policy_init(&e);
	if (p != NULL) {
		if (p->max_attempts > 0)
			e.max_attempts = p->max_attempts;
		if (p->base_ms > 0)
			e.base_ms = p->base_ms;
		if (p->max_ms > 0)
			e.max_ms = p->max_ms;
	}
	if (e.max_ms > TWILIO_RETRY_HARD_CAP_MS)
		e.max_ms = TWILIO_RETRY_HARD_CAP_MS;
	return e;
}

bool
twilio_retry_is_retryable(const struct http_response *resp)
{
	switch (resp->outcome) {
	case HTTP_TIMEOUT:
	case HTTP_CONNECT_FAILED:
		return true;
	case HTTP_DONE:
		switch (resp->status) {
		case 429:
		case 500:
		case 502:
		case 503:
		case 504:
			return true;
		default:
			return false;
		}
	case HTTP_TLS_FAILED:
	case HTTP_TOO_LARGE:
	case HTTP_CANCELLED:
	case HTTP_FAILED:
		return false;
	}
	return false;
}

long
twilio_retry_backoff_ms(const struct twilio_retry_policy *p, unsigned attempts_made,
			struct rng *rng)
{
	struct twilio_retry_policy e = twilio_retry_effective(p);
	long cap = e.base_ms;

	for (unsigned i = 1; i < attempts_made && cap < e.max_ms; i++)
		cap *= 2; /* cannot overflow: cap < max_ms <= 60000 before doubling */
	if (cap > e.max_ms)
		cap = e.max_ms;
	return (long)rng_range(rng, 0, cap);
}

bool
twilio_retry_next(const struct twilio_retry_policy *p, const struct http_response *resp,
		  unsigned attempts_made, struct rng *rng, long *delay_ms_out)
{
	struct twilio_retry_policy e = twilio_retry_effective(p);
	long delay;

	*delay_ms_out = 0;
	if (attempts_made == 0)
		attempts_made = 1;
	if (attempts_made >= e.max_attempts || !twilio_retry_is_retryable(resp))
		return false;
	delay = twilio_retry_backoff_ms(&e, attempts_made, rng);
	if (resp->retry_after_s >= 0) {
		long ra_ms = resp->retry_after_s > TWILIO_RETRY_HARD_CAP_MS / 1000
				     ? TWILIO_RETRY_HARD_CAP_MS
				     : resp->retry_after_s * 1000;

		if (ra_ms > delay)
			delay = ra_ms;
	}
	if (delay > TWILIO_RETRY_HARD_CAP_MS)
		delay = TWILIO_RETRY_HARD_CAP_MS;
	*delay_ms_out = delay;
	return true;
}
