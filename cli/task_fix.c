/*
 * trhub-task-fix: moves tasks stuck in wrapping to completed.
 *
 * Safety rules (the old script completed every wrapping task regardless of
 * age):
 * - only tasks whose assignment_status is "wrapping" are touched; named
 *   tasks in any other state are reported and left alone;
 * - --all-wrapping needs --older-than, and the age that counts is the time
 *   since the task last changed (date_updated), that is how long it has been
 *   wrapping: an agent may be writing notes on a call that ended a minute
 *   ago, however old the task is;
 * - a named task is updated with If-Match on the ETag it was read with, so
 *   a task that moved on between the read and the write is not touched.
 *
 * A 412 on the update is then read again before it is reported: the task
 * may have been completed meanwhile by another run of this tool, or by our
 * own earlier attempt whose answer was lost (a timeout or 5xx is retried,
 * and the retry carries the ETag from before that attempt).
 */

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cli_rest.h"
#include "cli_table.h"
#include "cli_task.h"
#include "form.h"
#include "log.h"
#include "sid.h"
#include "xmalloc.h"

#define TASK_FIX_REASON "stuck in wrapping, completed by trhub-task-fix"

enum task_fix_opt {
	TASK_FIX_OPT_ALL_WRAPPING = CLI_OPT_TOOL,
	TASK_FIX_OPT_DRY_RUN,
};

static const struct cli_option task_fix_options[] = {
	{ "all-wrapping", 0, NULL, TASK_FIX_OPT_ALL_WRAPPING,
	  "every wrapping task of the workspace (needs --older-than)" },
	{ "older-than", 0, "DURATION", CLI_TASK_OPT_OLDER_THAN,
	  "only tasks wrapping for longer than DURATION (90s, 15m, 2h, 1d)" },
	{ "dry-run", 'n', NULL, TASK_FIX_OPT_DRY_RUN, "show what would change, change nothing" },
	{ NULL, 0, NULL, 0, NULL },
};

struct task_fix_opts {
	bool all_wrapping;
	bool dry_run;
	struct cli_task_filter filter; /* only older_than_s is used */
};

enum task_fix_action {
	TASK_FIX_COMPLETED,
	TASK_FIX_WOULD_COMPLETE,
	TASK_FIX_SKIPPED,
	TASK_FIX_FAILED,
};

/* One task the tool looked at, and what became of it. */
struct task_fix_item {
	char *sid;
	char *status; /* as read, or NULL when it could not be read */
	char *etag;
	int64_t wrapping_s;
	bool named;
	enum task_fix_action action;
	char *reason;
	bool recheck; /* the update met a 412; read the task again */
};

struct task_fix_run {
	struct cli *cli;
	const struct task_fix_opts *opts;
	struct task_fix_item *items;
	size_t n;
};

static int
task_fix_option(struct cli *cli, void *state, int id, const char *arg)
{
	struct task_fix_opts *o = state;

	switch (id) {
	case TASK_FIX_OPT_ALL_WRAPPING:
		o->all_wrapping = true;
		return 0;
	case TASK_FIX_OPT_DRY_RUN:
		o->dry_run = true;
		return 0;
	default:
		return cli_task_filter_option(&o->filter, id, arg) == 0 ? 0 : -EINVAL;
	}
}

static int
task_fix_check(struct cli *cli, void *state, int nargs, char **args)
{
	const struct task_fix_opts *o = state;
	int i;

	if (o->all_wrapping && nargs > 0) {
		log_err("give task SIDs or --all-wrapping, not both");
		return -EINVAL;
	}
	if (o->all_wrapping && o->filter.older_than_s < 0) {
		log_err("--all-wrapping needs --older-than DURATION: a wrapping agent may be "
			"writing notes (try --older-than 30m)");
		return -EINVAL;
	}
	if (!o->all_wrapping && nargs == 0) {
		log_err("name the tasks to fix (WT...) or use --all-wrapping --older-than "
			"DURATION; see --help");
		return -EINVAL;
	}
	for (i = 0; i < nargs; i++) {
		if (!sid_is_valid(args[i], "WT")) {
			log_err("'%s' is not a task SID (WT followed by 32 hex digits)", args[i]);
			return -EINVAL;
		}
	}
	return 0;
}

static struct task_fix_item *
task_fix_add(struct task_fix_run *run, const char *sid, bool named)
{
	struct task_fix_item *it;

	run->items = xreallocarray(run->items, run->n + 1, sizeof(*run->items));
	it = &run->items[run->n++];
	memset(it, 0, sizeof(*it));
	it->sid = xstrdup(sid);
	it->named = named;
	it->wrapping_s = -1;
	it->action = TASK_FIX_SKIPPED;
	return it;
}

static void
task_fix_set(struct task_fix_item *it, enum task_fix_action action, char *reason)
{
	it->action = action;
	free(it->reason);
	it->reason = reason;
}

/* Decides from the task's state whether it is a candidate; sets the outcome when not. */
static bool
task_fix_is_candidate(const struct task_fix_run *run, struct task_fix_item *it)
{
	int64_t min_s = run->opts->filter.older_than_s;
	char have[32];
	char want[32];

	if (it->status == NULL)
		return false;
	if (strcmp(it->status, "wrapping") != 0) {
		task_fix_set(it, TASK_FIX_SKIPPED,
			     strcmp(it->status, "completed") == 0
				     ? xstrdup("already completed")
				     : xasprintf("%s, not wrapping: left alone", it->status));
		return false;
	}
	if (min_s >= 0 && (it->wrapping_s < 0 || it->wrapping_s < min_s)) {
		cli_format_age(it->wrapping_s, have, sizeof(have));
		cli_format_age(min_s, want, sizeof(want));
		task_fix_set(
			it, TASK_FIX_SKIPPED,
			xasprintf("wrapping for %s, not longer than %s: left alone", have, want));
		return false;
	}
	return true;
}

static void
task_fix_read_done(const struct cli_rest_reply *reply, void *arg)
{
	struct task_fix_item *it = arg;
	struct json_doc *doc = NULL;
	struct cli_task t;

	if (reply->http.outcome == HTTP_DONE && reply->http.status == 404) {
		task_fix_set(it, TASK_FIX_FAILED, xstrdup("no such task in this workspace"));
		return;
	}
	if (!cli_rest_reply_ok(reply) ||
	    json_parse(reply->http.body, reply->http.body_len, NULL, &doc, NULL) < 0) {
		/* The run's cli_rest is not reachable here; the cause is short enough. */
		task_fix_set(it, TASK_FIX_FAILED,
			     reply->error.message != NULL
				     ? xasprintf("cannot read the task: %s", reply->error.message)
				     : xstrdup("cannot read the task: unusable response"));
		json_doc_free(doc);
		return;
	}
	cli_task_from_json(&t, json_doc_root(doc));
	it->status = t.status != NULL ? xstrdup(t.status) : NULL;
	it->wrapping_s = t.updated_s;
	it->etag = reply->http.etag != NULL ? xstrdup(reply->http.etag) : NULL;
	cli_task_clear(&t);
	json_doc_free(doc);
}

/* Reads the named tasks (in parallel). */
static void
task_fix_read_named(struct task_fix_run *run, int nargs, char **args)
{
	struct cli_rest *rest = cli_get_rest(run->cli);
	struct cli_rest_batch *b;
	size_t i;
	int a;

	for (a = 0; a < nargs; a++) {
		for (i = 0; i < run->n; i++) {
			if (strcmp(run->items[i].sid, args[a]) == 0)
				break;
		}
		if (i == run->n) /* the same SID twice is one task */
			(void)task_fix_add(run, args[a], true);
	}
	b = cli_rest_batch_new(rest, CLI_DEFAULT_JOBS);
	for (i = 0; i < run->n; i++) {
		char *url = twilio_url_task(cli_rest_twilio(rest), cli_workspace(run->cli),
					    run->items[i].sid);

		/* items is not reallocated from here on, so the pointer stays valid. */
		cli_rest_batch_add(b, HTTP_GET, url, NULL, NULL, task_fix_read_done,
				   &run->items[i]);
		free(url);
	}
	(void)cli_rest_batch_run(b, NULL); /* every callback ran and recorded its outcome */
	cli_rest_batch_free(b);
}

/* Lists every wrapping task; returns an enum cli_exit value. */
static int
task_fix_read_wrapping(struct task_fix_run *run)
{
	struct cli_task_filter f;
	struct cli_task *tasks = NULL;
	size_t n = 0;
	size_t i;
	int r;

	cli_task_filter_init(&f);
	f.statuses[f.nstatuses++] = "wrapping";
	r = cli_task_fetch(run->cli, &f, &tasks, &n);
	for (i = 0; i < n; i++) {
		struct task_fix_item *it = task_fix_add(run, tasks[i].sid, false);

		it->status = xstrdup(tasks[i].status);
		it->wrapping_s = tasks[i].updated_s;
	}
	cli_task_array_free(tasks, n);
	return r;
}

static void
task_fix_write_done(const struct cli_rest_reply *reply, void *arg)
{
	struct task_fix_item *it = arg;

	if (cli_rest_reply_ok(reply)) {
		task_fix_set(it, TASK_FIX_COMPLETED, NULL);
		return;
	}
	if (reply->http.outcome == HTTP_DONE && reply->http.status == 412) {
		task_fix_set(it, TASK_FIX_SKIPPED,
			     xstrdup("changed since it was read: left alone"));
		it->recheck = true;
		return;
	}
	task_fix_set(
		it, TASK_FIX_FAILED,
		xasprintf("cannot complete: %s", reply->error.message != NULL
							 ? reply->error.message
							 : http_outcome_name(reply->http.outcome)));
}

static void
task_fix_recheck_done(const struct cli_rest_reply *reply, void *arg)
{
	struct task_fix_item *it = arg;
	struct json_doc *doc = NULL;
	const char *status = NULL;
	const char *reason = NULL;

	if (!cli_rest_reply_ok(reply) ||
	    json_parse(reply->http.body, reply->http.body_len, NULL, &doc, NULL) < 0 ||
	    json_get_string(json_doc_root(doc), "assignment_status", &status) < 0) {
		json_doc_free(doc);
		return; /* keep "changed since it was read" */
	}
	(void)json_get_string(json_doc_root(doc), "reason", &reason); /* may be absent */
	if (strcmp(status, "completed") == 0 && reason != NULL &&
	    strcmp(reason, TASK_FIX_REASON) == 0)
		task_fix_set(it, TASK_FIX_COMPLETED, NULL);
	else
		task_fix_set(it, TASK_FIX_SKIPPED,
			     xasprintf("changed since it was read (now %s): left alone", status));
	json_doc_free(doc);
}

/* Reads again the tasks whose update met a 412, to report what they are now. */
static void
task_fix_recheck(struct task_fix_run *run)
{
	struct cli_rest *rest = cli_get_rest(run->cli);
	struct cli_rest_batch *b = cli_rest_batch_new(rest, CLI_DEFAULT_JOBS);
	size_t i;

	for (i = 0; i < run->n; i++) {
		char *url;

		if (!run->items[i].recheck)
			continue;
		url = twilio_url_task(cli_rest_twilio(rest), cli_workspace(run->cli),
				      run->items[i].sid);
		cli_rest_batch_add(b, HTTP_GET, url, NULL, NULL, task_fix_recheck_done,
				   &run->items[i]);
		free(url);
	}
	(void)cli_rest_batch_run(b, NULL); /* every callback ran and recorded its outcome */
	cli_rest_batch_free(b);
}

static void
task_fix_complete(struct task_fix_run *run)
{
	struct cli_rest *rest = cli_get_rest(run->cli);
	struct cli_rest_batch *b = cli_rest_batch_new(rest, CLI_DEFAULT_JOBS);
	struct form *body = form_new();
	char *encoded;
	size_t i;

	form_add(body, "AssignmentStatus", "completed");
	form_add(body, "Reason", TASK_FIX_REASON);
	encoded = form_encode(body);
	for (i = 0; i < run->n; i++) {
		struct task_fix_item *it = &run->items[i];
		char *url;

		if (it->action != TASK_FIX_WOULD_COMPLETE)
			continue;
		url = twilio_url_task(cli_rest_twilio(rest), cli_workspace(run->cli), it->sid);
		cli_rest_batch_add(b, HTTP_POST, url, encoded, it->etag, task_fix_write_done, it);
		free(url);
	}
	(void)cli_rest_batch_run(b, NULL); /* every callback ran and recorded its outcome */
	cli_rest_batch_free(b);
	free(encoded);
	form_free(body);
	task_fix_recheck(run);
}

static const char *
task_fix_action_name(enum task_fix_action a)
{
	switch (a) {
	case TASK_FIX_COMPLETED:
		return "completed";
	case TASK_FIX_WOULD_COMPLETE:
		return "would_complete";
	case TASK_FIX_SKIPPED:
		return "skipped";
	case TASK_FIX_FAILED:
		return "failed";
	}
	return "?";
}

static void
task_fix_print(struct task_fix_run *run, const size_t counts[4])
{
	struct cli *cli = run->cli;
	char *sid = NULL;
	char *reason = NULL;
	size_t i;

	if (cli_json(cli)) {
		struct json_gen *g = cli_json_gen(cli);

		json_gen_object_open(g);
		json_gen_kv_string(g, "workspaceSid", cli_workspace(cli));
		json_gen_kv_bool(g, "dryRun", run->opts->dry_run);
		json_gen_key(g, "tasks");
		json_gen_array_open(g);
		for (i = 0; i < run->n; i++) {
			const struct task_fix_item *it = &run->items[i];

			json_gen_object_open(g);
			json_gen_kv_string(g, "sid", it->sid);
			json_gen_kv_string(g, "status", it->status);
			if (it->wrapping_s >= 0 && it->status != NULL &&
			    strcmp(it->status, "wrapping") == 0)
				json_gen_kv_int(g, "wrappingS", it->wrapping_s);
			else
				json_gen_kv_null(g, "wrappingS");
			json_gen_kv_string(g, "action", task_fix_action_name(it->action));
			json_gen_kv_string(g, "reason", it->reason);
			json_gen_object_close(g);
		}
		json_gen_array_close(g);
		json_gen_key(g, "summary");
		json_gen_object_open(g);
		json_gen_kv_int(g, "completed", (int64_t)counts[TASK_FIX_COMPLETED]);
		json_gen_kv_int(g, "wouldComplete", (int64_t)counts[TASK_FIX_WOULD_COMPLETE]);
		json_gen_kv_int(g, "skipped", (int64_t)counts[TASK_FIX_SKIPPED]);
		json_gen_kv_int(g, "failed", (int64_t)counts[TASK_FIX_FAILED]);
		json_gen_object_close(g);
		json_gen_object_close(g);
		cli_json_print(cli);
		return;
	}
	for (i = 0; i < run->n; i++) {
		const struct task_fix_item *it = &run->items[i];
		enum cli_color c = it->action == TASK_FIX_FAILED      ? CLI_COLOR_RED
				   : it->action == TASK_FIX_COMPLETED ? CLI_COLOR_GREEN
								      : CLI_COLOR_NONE;

		/* Unnamed young tasks are only counted, unless -v asks for them. */
		if (!it->named && it->action == TASK_FIX_SKIPPED && !cli_verbose(cli))
			continue;
		sid = cli_sanitize(it->sid);
		reason = it->reason != NULL ? cli_sanitize(it->reason) : NULL;
		cli_printf(cli, "%s  %s%s%s%s%s\n", sid, cli_color_start(cli, c),
			   it->action == TASK_FIX_WOULD_COMPLETE ? "would complete"
								 : task_fix_action_name(it->action),
			   cli_color_end(cli), reason != NULL ? ": " : "",
			   reason != NULL ? reason : "");
		free(sid);
		free(reason);
	}
	if (run->opts->dry_run)
		cli_printf(cli, "dry run: %zu would be completed, %zu left alone, %zu failed\n",
			   counts[TASK_FIX_WOULD_COMPLETE], counts[TASK_FIX_SKIPPED],
			   counts[TASK_FIX_FAILED]);
	else
		cli_printf(cli, "%zu completed, %zu left alone, %zu failed\n",
			   counts[TASK_FIX_COMPLETED], counts[TASK_FIX_SKIPPED],
			   counts[TASK_FIX_FAILED]);
}

static int
task_fix_run(struct cli *cli, void *state, int nargs, char **args)
{
	const struct task_fix_opts *o = state;
	struct task_fix_run run;
	struct json_doc *ws = NULL;
	size_t counts[4] = { 0, 0, 0, 0 };
	bool named_left = false;
	size_t i;
	int r;

	memset(&run, 0, sizeof(run));
	run.cli = cli;
	run.opts = o;
	r = cli_rest_workspace(cli_get_rest(cli), &ws);
	json_doc_free(ws);
	if (r != CLI_EXIT_OK)
		return r;
	if (o->all_wrapping) {
		r = task_fix_read_wrapping(&run);
		if (r != CLI_EXIT_OK)
			goto out;
	} else {
		task_fix_read_named(&run, nargs, args);
	}
	for (i = 0; i < run.n; i++) {
		if (run.items[i].action != TASK_FIX_FAILED &&
		    task_fix_is_candidate(&run, &run.items[i]))
			task_fix_set(&run.items[i], TASK_FIX_WOULD_COMPLETE, NULL);
	}
	if (!o->dry_run)
		task_fix_complete(&run);
	for (i = 0; i < run.n; i++) {
		const struct task_fix_item *it = &run.items[i];

		counts[it->action]++;
		if (it->action == TASK_FIX_FAILED)
			log_err("%s: %s", it->sid, it->reason != NULL ? it->reason : "failed");
		/* A named task that is neither completed now nor before is worth exit 1. */
		if (it->named && it->action == TASK_FIX_SKIPPED &&
		    (it->status == NULL || strcmp(it->status, "completed") != 0))
			named_left = true;
	}
	task_fix_print(&run, counts);
	r = counts[TASK_FIX_FAILED] > 0 || named_left ? CLI_EXIT_PARTIAL : CLI_EXIT_OK;
out:
	for (i = 0; i < run.n; i++) {
		free(run.items[i].sid);
		free(run.items[i].status);
		free(run.items[i].etag);
		free(run.items[i].reason);
	}
	free(run.items);
	return r;
}

static const struct cli_tool task_fix_tool = {
	.name = "trhub-task-fix",
	.usage = "[OPTION]... WT...\n   or: trhub-task-fix [OPTION]... --all-wrapping --older-than "
		 "DURATION",
	.summary = "Move tasks stuck in wrapping to completed; other tasks are left alone.",
	.options = task_fix_options,
	.option = task_fix_option,
	.check = task_fix_check,
	.run = task_fix_run,
	.needs = CLI_NEEDS_WORKSPACE,
};

int
main(int argc, char **argv)
{
	struct task_fix_opts opts;

	memset(&opts, 0, sizeof(opts));
	cli_task_filter_init(&opts.filter);
	return cli_main(&task_fix_tool, &opts, argc, argv);
}
