#pragma once

/*
 * cli_rest: the CLIs' REST client on top of http_sync and twilio.h. Every
 * call is retried on 429, 503 and connection failures with full-jitter
 * backoff that honours Retry-After (twilio.h's retry policy); lists follow
 * next-page links to the end; a batch runs independent calls in parallel
 * (--jobs) through http_batch. Failures become one error line naming the
 * cause and the fix, and an enum cli_exit value.
 */

#include <signal.h>
#include <stdbool.h>

#include "form.h"
#include "http.h"
#include "json.h"
#include "twilio.h"

struct cli;
struct cli_progress;
struct cli_rest;

/* A finished call: the transport response plus Twilio's error (for non-2xx). */
struct cli_rest_reply {
	struct http_response http;
	struct twilio_error error; /* filled when the call did not end in a 2xx */
	unsigned attempts;	   /* requests sent for this call */
};

void cli_rest_reply_init(struct cli_rest_reply *r);
void cli_rest_reply_clear(struct cli_rest_reply *r);
/* True when a 2xx response arrived. */
bool cli_rest_reply_ok(const struct cli_rest_reply *r);

/*
 * A client for cli's configuration (credentials, base URL, timeouts). On
 * success the caller owns *rest_out. On failure the cause has been logged and
 * CLI_EXIT_CONFIG is returned.
 */
int cli_rest_new(struct cli *cli, struct cli_rest **rest_out);
void cli_rest_free(struct cli_rest *rest);

/* The twilio.h client, for its URL builders (borrowed). */
const struct twilio *cli_rest_twilio(const struct cli_rest *rest);
/* Calls that needed more than one attempt so far. */
unsigned cli_rest_retried(const struct cli_rest *rest);

/*
 * Fetches the workspace in effect. It is the first call of every workspace
 * tool: it proves the credentials and the workspace SID before any work, so
 * a 404 here reads "unknown workspace WS...". On success *doc_out is the
 * caller's; otherwise the error was reported and the exit code is returned.
 */
int cli_rest_workspace(struct cli_rest *rest, struct json_doc **doc_out);

/*
 * One call, retried as described above. form_body (urlencoded) and if_match
 * may be NULL. reply must be initialised; it is always filled and the caller
 * clears it. Returns 0 when a response arrived (whatever its status), or a
 * negative errno when the transport gave up (reply->http says why).
 */
int cli_rest_call(struct cli_rest *rest, enum http_method method, const char *url,
		  const char *form_body, const char *if_match, struct cli_rest_reply *reply);

/*
 * Logs one error line for a failed call: what was being done ("list
 * tasks"), the cause and the fix (401 -> the credential variables to check,
 * connect failure -> the base URL, 404 on the workspace -> unknown
 * workspace, 429/503 -> gave up after N tries). Returns the exit code it maps
 * to (CLI_EXIT_CONFIG or CLI_EXIT_API).
 */
int cli_rest_report(struct cli_rest *rest, const char *what, const struct cli_rest_reply *reply);
/* The one-line cause for a failed call (allocated), without "what". */
char *cli_rest_cause(struct cli_rest *rest, const struct cli_rest_reply *reply);

/*
 * Lists every item of a paged resource, following the next page links to
 * the end (v1 "meta.next_page_url", 2010 "next_page_uri"). query (may be
 * NULL) is added to the first URL, with PageSize=1000 unless it has one. key
 * is the array field ("tasks"). item_cb runs once per item in order; the item is valid
 * only during the call. Returns 0, or reports the failure and returns an
 * enum cli_exit value (items already passed to item_cb stay passed).
 */
typedef void cli_rest_item_cb(const struct json_value *item, void *arg);
int cli_rest_list(struct cli_rest *rest, const char *what, const char *url,
		  const struct form *query, const char *key, cli_rest_item_cb *item_cb, void *arg);

/*
 * Checks that value names one item of the list at url: its friendly_name (any
 * case) or its SID. Returns CLI_EXIT_OK; CLI_EXIT_USAGE after logging
 * "OPTION VALUE: no such NOUN; the NOUNS are: a, b, c"; or the list's failure
 * (reported). For --activity and --queue, so a typo is an error, not an empty
 * result.
 */
int cli_rest_check_name(struct cli_rest *rest, const char *option, const char *noun,
			const char *nouns, const char *url, const char *key, const char *value);

/*
 * A batch of independent calls, run up to --jobs at a time, each retried
 * like cli_rest_call (a retry waits in the batch without holding a slot).
 * done_cb runs exactly once per call with the final reply, borrowed for the
 * call, from inside cli_rest_batch_run.
 */
struct cli_rest_batch;
typedef void cli_rest_batch_done_cb(const struct cli_rest_reply *reply, void *arg);

struct cli_rest_batch *cli_rest_batch_new(struct cli_rest *rest, int jobs);
/* url, form_body and if_match are copied. */
void cli_rest_batch_add(struct cli_rest_batch *b, enum http_method method, const char *url,
			const char *form_body, const char *if_match,
			cli_rest_batch_done_cb *done_cb, void *arg);
/*
 * Adds a paged list to the batch: the first page is fetched with query (may
 * be NULL; PageSize=1000 unless given) and each next page is added to the
 * batch as the previous one arrives. item_cb runs once per record, in page
 * order; done_cb runs exactly once at the end with an enum cli_exit value
 * (failures reported with what).
 */
typedef void cli_rest_list_done_cb(int result, void *arg);
void cli_rest_batch_list(struct cli_rest_batch *b, const char *what, const char *url,
			 const struct form *query, const char *key, cli_rest_item_cb *item_cb,
			 cli_rest_list_done_cb *done_cb, void *arg);
/*
 * Makes the batch stop retrying once *stop is non-zero (a flag a signal
 * handler sets): a call that fails after that ends with its failure instead
 * of waiting for another attempt. stop is borrowed and must outlive the batch.
 */
void cli_rest_batch_set_stop(struct cli_rest_batch *b, const volatile sig_atomic_t *stop);
/*
 * Runs until every call has completed. progress (may be NULL) advances by
 * one per completed call. Returns 0, or -EIO when the transport failed (each
 * callback still ran once).
 */
int cli_rest_batch_run(struct cli_rest_batch *b, struct cli_progress *progress);
/* Frees the batch; every call added must have run (cli_rest_batch_run). NULL-safe. */
void cli_rest_batch_free(struct cli_rest_batch *b);
