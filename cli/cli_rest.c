/*
 * cli_rest: REST calls for the trhub-* tools (see cli_rest.h).
 *
 * Retries: every call, single or batched, goes through twilio_retry_next
 * (429, 5xx, connect failures and timeouts; full-jitter backoff, Retry-After
 * honoured, bounded attempts). A single call sleeps between attempts; a
 * batched call is re-queued with a start delay, so other calls keep their
 * slots while it waits.
 *
 * Errors: a call that ends without a 2xx is described once, by
 * cli_rest_cause, in words an operator can act on at 3 a.m.: which variable
 * to check, which URL did not answer. Credentials are never part of a
 * message (only the account and API key SIDs, which are not secret).
 */

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "buf.h"
#include "cli.h"
#include "cli_progress.h"
#include "cli_rest.h"
#include "config.h"
#include "hmap.h"
#include "http_sync.h"
#include "log.h"
#include "rng.h"
#include "xmalloc.h"

/* TaskRouter and API 2010 both allow up to 1000 records per page. */
#define CLI_REST_PAGE_SIZE "1000"
/*
 * Most pages one list may take (a million records at PageSize=1000): a server
 * that pages forever is refused rather than followed, as trhubd's rebuild does.
 */
#define CLI_REST_MAX_PAGES 1000u

struct cli_rest {
	struct cli *cli;
	struct twilio *tw;
	struct http_sync *sync;
	struct twilio_retry_policy policy;
	struct rng rng;
	bool base_overridden; /* TRHUB_TWILIO_BASE_URL or twilio_base_url was set */
	bool api_key;	      /* authenticating with an API key pair */
	unsigned retried;
};

void
cli_rest_reply_init(struct cli_rest_reply *r)
{
	http_response_init(&r->http);
	twilio_error_init(&r->error);
	r->attempts = 0;
}

void
cli_rest_reply_clear(struct cli_rest_reply *r)
{
	http_response_clear(&r->http);
	twilio_error_clear(&r->error);
	r->attempts = 0;
}

bool
cli_rest_reply_ok(const struct cli_rest_reply *r)
{
	return twilio_response_ok(&r->http);
}

int
cli_rest_new(struct cli *cli, struct cli_rest **rest_out)
{
	const struct config *cfg = cli_config(cli);
	struct twilio_client_config tc;
	struct cli_rest *rest = xcalloc(1, sizeof(*rest));
	char *cause = NULL;
	int r;

	twilio_client_config_from(&tc, cfg);
	r = twilio_new(&tc, &rest->tw, &cause);
	if (r < 0) {
		log_err("configuration: %s", cause != NULL ? cause : "invalid Twilio settings");
		free(cause);
		free(rest);
		return CLI_EXIT_CONFIG;
	}
	rest->cli = cli;
	rest->sync = http_sync_new();
	twilio_retry_policy_init(&rest->policy);
	rng_seed_random(&rest->rng);
	rest->base_overridden = cfg->twilio_base_url != NULL && cfg->twilio_base_url[0] != '\0';
	rest->api_key = cfg->api_key != NULL && cfg->api_key[0] != '\0';
	*rest_out = rest;
	return 0;
}

void
cli_rest_free(struct cli_rest *rest)
{
	if (rest == NULL)
		return;
	http_sync_free(rest->sync);
	twilio_free(rest->tw);
	free(rest);
}

const struct twilio *
cli_rest_twilio(const struct cli_rest *rest)
{
	return rest->tw;
}

unsigned
cli_rest_retried(const struct cli_rest *rest)
{
	return rest != NULL ? rest->retried : 0;
}

static void
cli_rest_spec(struct cli_rest *rest, struct http_request_spec *spec, enum http_method method,
	      const char *url, const char *form_body, const char *if_match)
{
	twilio_request_spec_init(rest->tw, spec, method, url);
	if (form_body != NULL) {
		spec->body = form_body;
		spec->body_len = strlen(form_body);
		spec->content_type = "application/x-www-form-urlencoded";
	}
	spec->if_match = if_match;
}

static void
cli_rest_sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/* What to say about a retry at info level (-v). */
static void
cli_rest_log_retry(const struct http_response *resp, const char *url, unsigned attempt,
		   long delay_ms)
{
	if (resp->outcome == HTTP_DONE)
		log_info("HTTP %ld from %s, retrying in %ld ms (attempt %u)", resp->status, url,
			 delay_ms, attempt + 1);
	else
		log_info("%s for %s, retrying in %ld ms (attempt %u)",
			 http_outcome_name(resp->outcome), url, delay_ms, attempt + 1);
}

int
cli_rest_call(struct cli_rest *rest, enum http_method method, const char *url,
	      const char *form_body, const char *if_match, struct cli_rest_reply *reply)
{
	struct http_request_spec spec;
	long delay_ms = 0;
	int r;

	for (;;) {
		cli_rest_spec(rest, &spec, method, url, form_body, if_match);
		http_response_clear(&reply->http);
		r = http_sync_perform(rest->sync, &spec, &reply->http);
		reply->attempts++;
		if (!twilio_retry_next(&rest->policy, &reply->http, reply->attempts, &rest->rng,
				       &delay_ms))
			break;
		if (reply->attempts == 1)
			rest->retried++;
		cli_rest_log_retry(&reply->http, url, reply->attempts, delay_ms);
		cli_rest_sleep_ms(delay_ms);
	}
	if (!twilio_response_ok(&reply->http))
		(void)twilio_error_parse(&reply->http, &reply->error); /* fallbacks suffice */
	return r;
}

/* The credential variables to check after a 401, for the method in use. */
static const char *
cli_rest_credential_hint(const struct cli_rest *rest)
{
	if (rest->api_key)
		return "check the account SID (TRHUB_ACCOUNT_SID or TWILIO_ACCOUNT_SID) and "
		       "the API key pair (TRHUB_API_KEY/TWILIO_API_KEY and "
		       "TRHUB_API_SECRET/TWILIO_API_SECRET)";
	return "check TRHUB_ACCOUNT_SID (or TWILIO_ACCOUNT_SID, ACCOUNT_SID) and TRHUB_AUTH_TOKEN "
	       "(or TWILIO_AUTH_TOKEN, AUTH_TOKEN), or set an API key pair "
	       "(TRHUB_API_KEY, TRHUB_API_SECRET)";
}

char *
cli_rest_cause(struct cli_rest *rest, const struct cli_rest_reply *reply)
{
	const struct http_response *h = &reply->http;
	const char *base = twilio_base(rest->tw, TWILIO_HOST_TASKROUTER);
	const char *msg = reply->error.message != NULL ? reply->error.message : "";
	char tries[48] = "";

	if (reply->attempts > 1)
		(void)snprintf(tries, sizeof(tries), " after %u tries", reply->attempts);
	switch (h->outcome) {
	case HTTP_DONE:
		break;
	case HTTP_CONNECT_FAILED:
		if (rest->base_overridden)
			return xasprintf("cannot reach %s%s (%s): is TRHUB_TWILIO_BASE_URL right?",
					 base, tries, h->error);
		return xasprintf("cannot reach %s%s (%s): check the network and proxy settings",
				 base, tries, h->error);
	case HTTP_TIMEOUT:
		return xasprintf("no answer from %s in time%s (%s)", base, tries, h->error);
	case HTTP_TLS_FAILED:
		return xasprintf("TLS failure talking to %s (%s)", base, h->error);
	case HTTP_TOO_LARGE:
		return xasprintf("response from %s exceeds twilio_response_max_bytes", base);
	case HTTP_CANCELLED:
	case HTTP_FAILED:
		return xasprintf("request to %s failed%s (%s)", base, tries, h->error);
	}
	switch (h->status) {
	case 401:
		return xasprintf("authentication failed for account %s (HTTP 401, Twilio error "
				 "%ld): %s",
				 twilio_account_sid(rest->tw), reply->error.code,
				 cli_rest_credential_hint(rest));
	case 403:
		return xasprintf("permission denied (HTTP 403, Twilio error %ld: %s): the "
				 "credentials are valid but may not do this",
				 reply->error.code, msg);
	case 429:
		return xasprintf("rate limited by Twilio (HTTP 429, Twilio error %ld)%s: try again "
				 "later",
				 reply->error.code, tries);
	default:
		break;
	}
	if (h->status >= 500)
		return xasprintf("Twilio server error (HTTP %ld)%s: %s", h->status, tries, msg);
	return xasprintf("HTTP %ld, Twilio error %ld: %s", h->status, reply->error.code, msg);
}

int
cli_rest_report(struct cli_rest *rest, const char *what, const struct cli_rest_reply *reply)
{
	char *cause = cli_rest_cause(rest, reply);

	log_err("%s: %s", what, cause);
	free(cause);
	if (reply->http.outcome == HTTP_DONE &&
	    (reply->http.status == 401 || reply->http.status == 403))
		return CLI_EXIT_CONFIG;
	return CLI_EXIT_API;
}

int
cli_rest_workspace(struct cli_rest *rest, struct json_doc **doc_out)
{
	const char *ws = cli_workspace(rest->cli);
	struct cli_rest_reply reply;
	char *url = twilio_url_workspace(rest->tw, ws);
	char *cause = NULL;
	int result = CLI_EXIT_OK;

	cli_rest_reply_init(&reply);
	(void)cli_rest_call(rest, HTTP_GET, url, NULL, NULL, &reply); /* reply says it all */
	if (reply.http.outcome == HTTP_DONE && reply.http.status == 404) {
		log_err("unknown workspace %s in account %s: check --workspace or "
			"TRHUB_WORKSPACE_SID (TWILIO_WORKSPACE_SID, WORKSPACE_SID)",
			ws, twilio_account_sid(rest->tw));
		result = CLI_EXIT_CONFIG;
		goto out;
	}
	if (!cli_rest_reply_ok(&reply)) {
		result = cli_rest_report(rest, "fetch the workspace", &reply);
		goto out;
	}
	if (json_parse(reply.http.body, reply.http.body_len, NULL, doc_out, &cause) < 0) {
		log_err("fetch the workspace: the response is not JSON: %s",
			cause != NULL ? cause : "parse error");
		result = CLI_EXIT_API;
	}
out:
	free(cause);
	free(url);
	cli_rest_reply_clear(&reply);
	return result;
}

/* url + query, with the largest page size unless query sets one (allocated). */
static char *
cli_rest_first_page_url(const char *url, const struct form *query)
{
	struct form *q = form_new();
	char *first;
	size_t i;

	for (i = 0; query != NULL && i < form_count(query); i++)
		form_add(q, form_key(query, i), form_value(query, i));
	if (!form_has(q, "PageSize"))
		form_add(q, "PageSize", CLI_REST_PAGE_SIZE);
	first = twilio_url_with_query(url, q);
	form_free(q);
	return first;
}

/*
 * The pages one list has followed: a next page URL seen before (a server
 * answering with its own URL, or a cycle) or one past CLI_REST_MAX_PAGES
 * ends the list with an error instead of another request.
 */
struct cli_rest_pager {
	struct hmap *seen; /* URL -> (void *)1 */
	unsigned pages;
};

static void
cli_rest_pager_init(struct cli_rest_pager *pg, const char *first)
{
	pg->seen = hmap_new();
	pg->pages = 1;
	(void)hmap_put(pg->seen, first, (void *)1);
}

static void
cli_rest_pager_clear(struct cli_rest_pager *pg)
{
	hmap_free(pg->seen);
	pg->seen = NULL;
}

/* Admits next as the following page; returns 0, or CLI_EXIT_API after logging. */
static int
cli_rest_pager_next(struct cli_rest_pager *pg, const char *what, const char *next)
{
	if (hmap_get(pg->seen, next) != NULL) {
		log_err("%s: the server sent a next page it had already sent (page %u); "
			"stopping rather than looping",
			what, pg->pages + 1);
		return CLI_EXIT_API;
	}
	if (++pg->pages > CLI_REST_MAX_PAGES) {
		log_err("%s: more than %u pages; stopping (narrow the list with filters)", what,
			CLI_REST_MAX_PAGES);
		return CLI_EXIT_API;
	}
	(void)hmap_put(pg->seen, next, (void *)1);
	return 0;
}

/*
 * Parses one page, hands its records to item_cb and returns the next URL
 * (allocated) in *next_out, NULL on the last page. Returns an enum cli_exit
 * value; failures are reported.
 */
static int
cli_rest_page(struct cli_rest *rest, const char *what, const struct cli_rest_reply *reply,
	      const char *key, cli_rest_item_cb *item_cb, void *arg, char **next_out)
{
	struct twilio_page *page = NULL;
	char *cause = NULL;
	size_t i;

	*next_out = NULL;
	if (!cli_rest_reply_ok(reply))
		return cli_rest_report(rest, what, reply);
	if (twilio_page_parse(rest->tw, key, reply->http.body, reply->http.body_len, &page,
			      &cause) < 0) {
		log_err("%s: unusable page from %s: %s", what,
			twilio_base(rest->tw, TWILIO_HOST_TASKROUTER),
			cause != NULL ? cause : "parse error");
		free(cause);
		return CLI_EXIT_API;
	}
	for (i = 0; i < twilio_page_count(page); i++)
		item_cb(twilio_page_record(page, i), arg);
	if (twilio_page_next_url(page) != NULL)
		*next_out = xstrdup(twilio_page_next_url(page));
	twilio_page_free(page);
	return CLI_EXIT_OK;
}

int
cli_rest_list(struct cli_rest *rest, const char *what, const char *url, const struct form *query,
	      const char *key, cli_rest_item_cb *item_cb, void *arg)
{
	struct cli_rest_reply reply;
	struct cli_rest_pager pager;
	char *next = NULL;
	int result = CLI_EXIT_OK;

	cli_rest_reply_init(&reply);
	next = cli_rest_first_page_url(url, query);
	cli_rest_pager_init(&pager, next);
	while (next != NULL && result == CLI_EXIT_OK) {
		char *url_now = next;

		cli_rest_reply_clear(&reply);
		(void)cli_rest_call(rest, HTTP_GET, url_now, NULL, NULL,
				    &reply); /* reply says why */
		result = cli_rest_page(rest, what, &reply, key, item_cb, arg, &next);
		free(url_now);
		if (result == CLI_EXIT_OK && next != NULL)
			result = cli_rest_pager_next(&pager, what, next);
	}
	free(next);
	cli_rest_pager_clear(&pager);
	cli_rest_reply_clear(&reply);
	return result;
}

/* ---- checking a name against a list ---- */

struct cli_rest_names {
	const char *value;
	bool found;
	struct buf names;
};

static void
cli_rest_names_item(const struct json_value *item, void *arg)
{
	struct cli_rest_names *st = arg;
	const char *name = NULL;
	const char *sid = NULL;

	(void)json_get_string(item, "friendly_name", &name);
	(void)json_get_string(item, "sid", &sid);
	if ((name != NULL && strcasecmp(name, st->value) == 0) ||
	    (sid != NULL && strcmp(sid, st->value) == 0))
		st->found = true;
	if (name != NULL)
		buf_printf(&st->names, "%s%s", st->names.len > 0 ? ", " : "", name);
}

int
cli_rest_check_name(struct cli_rest *rest, const char *option, const char *noun, const char *nouns,
		    const char *url, const char *key, const char *value)
{
	struct cli_rest_names st;
	char *what = xasprintf("list %s", nouns);
	int r;

	memset(&st, 0, sizeof(st));
	st.value = value;
	buf_init(&st.names);
	r = cli_rest_list(rest, what, url, NULL, key, cli_rest_names_item, &st);
	if (r == CLI_EXIT_OK && !st.found) {
		log_err("%s %s: no such %s; the %s are: %s", option, value, noun, nouns,
			st.names.len > 0 ? st.names.data : "(none)");
		r = CLI_EXIT_USAGE;
	}
	buf_clear(&st.names);
	free(what);
	return r;
}

/* ---- batches ---- */

struct cli_rest_batch {
	struct cli_rest *rest;
	struct http_batch *batch;
	struct cli_progress *progress;
	const volatile sig_atomic_t *stop; /* or NULL */
	size_t done;
};

/* One call of a batch, alive from cli_rest_batch_add until its done_cb has run. */
struct cli_rest_batch_call {
	struct cli_rest_batch *b;
	enum http_method method;
	char *url;
	char *body;
	char *if_match;
	unsigned attempts;
	cli_rest_batch_done_cb *done_cb;
	void *arg;
};

static void cli_rest_batch_done(struct http_batch *hb, const struct http_response *resp, void *arg);

static void
cli_rest_batch_submit(struct cli_rest_batch_call *call, long delay_ms)
{
	struct http_request_spec spec;

	cli_rest_spec(call->b->rest, &spec, call->method, call->url, call->body, call->if_match);
	/* Only fails for NULL arguments, which cannot happen here. */
	(void)http_batch_add(call->b->batch, &spec, delay_ms, cli_rest_batch_done, call);
}

static void
cli_rest_batch_call_free(struct cli_rest_batch_call *call)
{
	free(call->url);
	free(call->body);
	free(call->if_match);
	free(call);
}

/* Copies what the transport lends us into a reply the caller's callback can read. */
static void
cli_rest_reply_copy(struct cli_rest_reply *reply, const struct http_response *resp)
{
	reply->http.outcome = resp->outcome;
	reply->http.status = resp->status;
	free(reply->http.body);
	reply->http.body = xmemdup(resp->body != NULL ? resp->body : "", resp->body_len + 1);
	reply->http.body_len = resp->body_len;
	reply->http.etag = resp->etag != NULL ? xstrdup(resp->etag) : NULL;
	reply->http.content_type = resp->content_type != NULL ? xstrdup(resp->content_type) : NULL;
	reply->http.retry_after_s = resp->retry_after_s;
	reply->http.total_time_s = resp->total_time_s;
	memcpy(reply->http.error, resp->error, sizeof(reply->http.error));
}

static void
cli_rest_batch_done(struct http_batch *hb, const struct http_response *resp, void *arg)
{
	struct cli_rest_batch_call *call = arg;
	struct cli_rest_batch *b = call->b;
	struct cli_rest_reply reply;
	long delay_ms = 0;

	call->attempts++;
	if ((b->stop == NULL || *b->stop == 0) &&
	    twilio_retry_next(&b->rest->policy, resp, call->attempts, &b->rest->rng, &delay_ms)) {
		if (call->attempts == 1)
			b->rest->retried++;
		cli_rest_log_retry(resp, call->url, call->attempts, delay_ms);
		cli_rest_batch_submit(call, delay_ms);
		return;
	}
	cli_rest_reply_init(&reply);
	cli_rest_reply_copy(&reply, resp);
	reply.attempts = call->attempts;
	if (!twilio_response_ok(resp))
		(void)twilio_error_parse(resp, &reply.error); /* fallbacks suffice */
	call->done_cb(&reply, call->arg);
	cli_rest_reply_clear(&reply);
	b->done++;
	cli_progress_update(b->progress, b->done);
	cli_rest_batch_call_free(call);
}

struct cli_rest_batch *
cli_rest_batch_new(struct cli_rest *rest, int jobs)
{
	struct cli_rest_batch *b = xcalloc(1, sizeof(*b));

	b->rest = rest;
	b->batch = http_batch_new(rest->sync, jobs);
	return b;
}

void
cli_rest_batch_add(struct cli_rest_batch *b, enum http_method method, const char *url,
		   const char *form_body, const char *if_match, cli_rest_batch_done_cb *done_cb,
		   void *arg)
{
	struct cli_rest_batch_call *call = xcalloc(1, sizeof(*call));

	call->b = b;
	call->method = method;
	call->url = xstrdup(url);
	call->body = form_body != NULL ? xstrdup(form_body) : NULL;
	call->if_match = if_match != NULL ? xstrdup(if_match) : NULL;
	call->done_cb = done_cb;
	call->arg = arg;
	cli_rest_batch_submit(call, 0);
}

/* A paged list inside a batch; lives until its done_cb has run. */
struct cli_rest_batch_list {
	struct cli_rest_batch *b;
	char *what;
	char *key;
	cli_rest_item_cb *item_cb;
	cli_rest_list_done_cb *done_cb;
	void *arg;
	struct cli_rest_pager pager;
};

static void
cli_rest_batch_list_page(const struct cli_rest_reply *reply, void *arg)
{
	struct cli_rest_batch_list *l = arg;
	char *next = NULL;
	int r;

	r = cli_rest_page(l->b->rest, l->what, reply, l->key, l->item_cb, l->arg, &next);
	if (r == CLI_EXIT_OK && next != NULL)
		r = cli_rest_pager_next(&l->pager, l->what, next);
	if (r == CLI_EXIT_OK && next != NULL) {
		cli_rest_batch_add(l->b, HTTP_GET, next, NULL, NULL, cli_rest_batch_list_page, l);
		free(next);
		return;
	}
	free(next);
	l->done_cb(r, l->arg);
	cli_rest_pager_clear(&l->pager);
	free(l->what);
	free(l->key);
	free(l);
}

void
cli_rest_batch_list(struct cli_rest_batch *b, const char *what, const char *url,
		    const struct form *query, const char *key, cli_rest_item_cb *item_cb,
		    cli_rest_list_done_cb *done_cb, void *arg)
{
	struct cli_rest_batch_list *l = xcalloc(1, sizeof(*l));
	char *first = cli_rest_first_page_url(url, query);

	l->b = b;
	l->what = xstrdup(what);
	l->key = xstrdup(key);
	l->item_cb = item_cb;
	l->done_cb = done_cb;
	l->arg = arg;
	cli_rest_pager_init(&l->pager, first);
	cli_rest_batch_add(b, HTTP_GET, first, NULL, NULL, cli_rest_batch_list_page, l);
	free(first);
}

void
cli_rest_batch_set_stop(struct cli_rest_batch *b, const volatile sig_atomic_t *stop)
{
	b->stop = stop;
}

int
cli_rest_batch_run(struct cli_rest_batch *b, struct cli_progress *progress)
{
	int r;

	b->progress = progress;
	r = http_batch_run(b->batch);
	b->progress = NULL;
	return r;
}

void
cli_rest_batch_free(struct cli_rest_batch *b)
{
	if (b == NULL)
		return;
	/* http_batch_run completed every call, so nothing is left to free with it. */
	http_batch_free(b->batch);
	free(b);
}
