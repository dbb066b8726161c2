/*
 * trhub-task-delete-all: deletes the tasks matching --status, --queue and
 * --older-than, or every task with an explicit --all.
 *
 * Safety rules (the old script deleted every task with no filter and no
 * question):
 * - no filter means nothing is deleted unless --all is given;
 * - before deleting, the count and the workspace's friendly name are shown
 *   and the operator must type that name on the terminal (/dev/tty), unless
 *   --yes; without a terminal and without --yes nothing is deleted;
 * - --dry-run lists what would be deleted and asks nothing.
 *
 * Deletes run --jobs at a time through http_batch (the curl multi
 * interface); 429 and 5xx answers are retried with backoff per request, and
 * a 404 counts as "already gone" (someone else deleted it, or TaskRouter
 * removed it), not as a failure.
 *
 * Interrupting (SIGINT, SIGTERM) is how an operator stops a delete that was
 * a mistake, so it must stop deleting and say what happened: deletes are fed
 * to the batch a few at a time, and once interrupted no new one starts and
 * none is retried; the ones in flight finish, and the summary counts the
 * tasks never attempted (exit 1). A second interrupt ends the tool at once.
 */

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "cli.h"
#include "cli_progress.h"
#include "cli_rest.h"
#include "cli_table.h"
#include "cli_task.h"
#include "log.h"
#include "xmalloc.h"

/* Individual failures logged before the rest are only counted. */
#define TASK_DELETE_ALL_LOG_FAILURES 10
#define TASK_DELETE_ALL_MAX_JOBS     64
/* Deletes queued per job: enough to keep every slot busy, few enough to stop quickly. */
#define TASK_DELETE_ALL_QUEUE_PER_JOB 2

enum task_delete_all_opt {
	TASK_DELETE_ALL_OPT_ALL = CLI_OPT_TOOL,
	TASK_DELETE_ALL_OPT_YES,
	TASK_DELETE_ALL_OPT_DRY_RUN,
	TASK_DELETE_ALL_OPT_JOBS,
};

static const struct cli_option task_delete_all_options[] = {
	CLI_TASK_FILTER_OPTIONS,
	{ "all", 0, NULL, TASK_DELETE_ALL_OPT_ALL, "delete every task (needed when no filter)" },
	{ "yes", 'y', NULL, TASK_DELETE_ALL_OPT_YES, "do not ask for the workspace name" },
	{ "dry-run", 'n', NULL, TASK_DELETE_ALL_OPT_DRY_RUN, "list what would be deleted" },
	{ "jobs", 'j', "N", TASK_DELETE_ALL_OPT_JOBS, "parallel deletes (default 8, max 64)" },
	{ NULL, 0, NULL, 0, NULL },
};

struct task_delete_all_opts {
	struct cli_task_filter filter;
	bool all;
	bool yes;
	bool dry_run;
	int jobs;
};

struct task_delete_all_failure {
	char *sid;
	char *cause;
};

struct task_delete_all_run {
	struct cli *cli;
	struct cli_rest_batch *batch;
	const struct cli_task *tasks; /* borrowed; outlives the batch */
	size_t ntasks;
	size_t next; /* tasks[next] is the next one to queue */
	size_t deleted;
	size_t gone;
	struct task_delete_all_failure *failures;
	size_t nfailures;
	bool interrupted;
};

struct task_delete_all_call {
	struct task_delete_all_run *run;
	const char *sid; /* borrowed from the task array, which outlives the batch */
};

/* Interrupts seen while deleting (set by the signal handler). */
static volatile sig_atomic_t task_delete_all_interrupts;

static void
task_delete_all_on_signal(int signo)
{
	/* The second interrupt means now; exit without the summary (async-signal-safe). */
	if (task_delete_all_interrupts++ > 0)
		_exit(CLI_EXIT_PARTIAL);
}

static void task_delete_all_feed(struct task_delete_all_run *run);

static int
task_delete_all_option(struct cli *cli, void *state, int id, const char *arg)
{
	struct task_delete_all_opts *o = state;
	long jobs;

	switch (id) {
	case TASK_DELETE_ALL_OPT_ALL:
		o->all = true;
		return 0;
	case TASK_DELETE_ALL_OPT_YES:
		o->yes = true;
		return 0;
	case TASK_DELETE_ALL_OPT_DRY_RUN:
		o->dry_run = true;
		return 0;
	case TASK_DELETE_ALL_OPT_JOBS:
		if (cli_parse_int(arg, 1, TASK_DELETE_ALL_MAX_JOBS, &jobs) < 0) {
			log_err("--jobs %s: expected a number from 1 to %d", arg,
				TASK_DELETE_ALL_MAX_JOBS);
			return -EINVAL;
		}
		o->jobs = (int)jobs;
		return 0;
	default:
		return cli_task_filter_option(&o->filter, id, arg) == 0 ? 0 : -EINVAL;
	}
}

static int
task_delete_all_check(struct cli *cli, void *state, int nargs, char **args)
{
	const struct task_delete_all_opts *o = state;

	if (nargs > 0) {
		log_err("unexpected argument '%s'; filters are --status, --queue and "
			"--older-than",
			args[0]);
		return -EINVAL;
	}
	if (!o->all && !cli_task_filter_any(&o->filter)) {
		log_err("refusing to delete every task without --all; add --status, --queue or "
			"--older-than to choose tasks, or --all to mean all of them");
		return -EINVAL;
	}
	return 0;
}

static void
task_delete_all_done(const struct cli_rest_reply *reply, void *arg)
{
	struct task_delete_all_call *call = arg;
	struct task_delete_all_run *run = call->run;
	struct task_delete_all_failure *f;

	if (cli_rest_reply_ok(reply)) {
		run->deleted++;
	} else if (reply->http.outcome == HTTP_DONE && reply->http.status == 404) {
		run->gone++;
	} else {
		run->failures =
			xreallocarray(run->failures, run->nfailures + 1, sizeof(*run->failures));
		f = &run->failures[run->nfailures++];
		f->sid = xstrdup(call->sid);
		f->cause = cli_rest_cause(cli_get_rest(run->cli), reply);
		if (run->nfailures <= TASK_DELETE_ALL_LOG_FAILURES)
			log_err("delete %s: %s", f->sid, f->cause);
	}
	free(call);
	task_delete_all_feed(run);
}

/* Queues the next delete, unless interrupted or none is left. */
static void
task_delete_all_feed(struct task_delete_all_run *run)
{
	struct cli_rest *rest = cli_get_rest(run->cli);
	struct task_delete_all_call *call;
	char *url;

	if (task_delete_all_interrupts > 0 || run->next >= run->ntasks)
		return;
	call = xcalloc(1, sizeof(*call));
	call->run = run;
	call->sid = run->tasks[run->next++].sid;
	url = twilio_url_task(cli_rest_twilio(rest), cli_workspace(run->cli), call->sid);
	cli_rest_batch_add(run->batch, HTTP_DELETE, url, NULL, NULL, task_delete_all_done, call);
	free(url);
}

/* Describes the filters for the confirmation ("wrapping tasks older than 2h"). */
static char *
task_delete_all_describe(const struct task_delete_all_opts *o)
{
	struct buf s;
	char age[32];
	size_t i;

	buf_init(&s);
	for (i = 0; i < o->filter.nstatuses; i++)
		buf_printf(&s, "%s%s ", i > 0 ? "or " : "", o->filter.statuses[i]);
	buf_puts(&s, "task(s)");
	if (o->filter.queue != NULL)
		buf_printf(&s, " in queue %s", o->filter.queue);
	if (o->filter.older_than_s >= 0) {
		cli_format_age(o->filter.older_than_s, age, sizeof(age));
		buf_printf(&s, " older than %s", age);
	}
	return buf_steal(&s, NULL);
}

/* Asks for the workspace name; returns 0 to go on or an exit code. */
static int
task_delete_all_confirm(const struct task_delete_all_opts *o, const char *ws_sid,
			const char *ws_name, size_t n)
{
	char *what = task_delete_all_describe(o);
	char *prompt;
	char *shown = cli_sanitize(ws_name);
	enum cli_confirm c;

	prompt = xasprintf("About to delete %zu %s from workspace \"%s\" (%s).\n"
			   "Type the workspace name to confirm: ",
			   n, what, shown, ws_sid);
	c = cli_confirm(prompt, ws_name);
	free(shown);
	free(prompt);
	free(what);
	switch (c) {
	case CLI_CONFIRM_YES:
		return 0;
	case CLI_CONFIRM_NO:
		log_err("the name typed is not \"%s\"; nothing was deleted", ws_name);
		return CLI_EXIT_USAGE;
	case CLI_CONFIRM_NO_TTY:
		log_err("no terminal to confirm on; nothing was deleted (use --yes to delete "
			"without asking, --dry-run to see what would go)");
		return CLI_EXIT_USAGE;
	}
	return CLI_EXIT_USAGE;
}

static void
task_delete_all_print_dry(struct cli *cli, const char *ws_name, const struct cli_task *tasks,
			  size_t n)
{
	struct json_gen *g;
	struct cli_table *t;
	char *name = NULL;
	size_t i;

	if (cli_json(cli)) {
		g = cli_json_gen(cli);
		json_gen_object_open(g);
		json_gen_kv_string(g, "workspaceSid", cli_workspace(cli));
		json_gen_kv_string(g, "workspaceName", ws_name);
		json_gen_kv_bool(g, "dryRun", true);
		json_gen_kv_int(g, "matched", (int64_t)n);
		json_gen_key(g, "tasks");
		json_gen_array_open(g);
		for (i = 0; i < n; i++)
			json_gen_string(g, tasks[i].sid);
		json_gen_array_close(g);
		json_gen_object_close(g);
		cli_json_print(cli);
		return;
	}
	t = cli_table_new();
	cli_table_column(t, "TASK", CLI_ALIGN_LEFT, false);
	cli_table_sid(t);
	cli_table_column(t, "STATUS", CLI_ALIGN_LEFT, false);
	cli_table_column(t, "AGE", CLI_ALIGN_RIGHT, false);
	cli_table_column(t, "QUEUE", CLI_ALIGN_LEFT, true);
	for (i = 0; i < n; i++) {
		char age[32];

		cli_format_age(tasks[i].age_s, age, sizeof(age));
		cli_table_row(t);
		cli_table_cell(t, tasks[i].sid, CLI_COLOR_NONE);
		cli_table_cell(t, tasks[i].status, CLI_COLOR_NONE);
		cli_table_cell(t, age, CLI_COLOR_NONE);
		cli_table_cell(t, tasks[i].queue_name, CLI_COLOR_NONE);
	}
	if (n > 0)
		(void)cli_table_print(t, cli, cli_out(cli));
	name = cli_sanitize(ws_name);
	cli_printf(cli, "dry run: %zu task%s would be deleted from workspace \"%s\"\n", n,
		   n == 1 ? "" : "s", name);
	free(name);
	cli_table_free(t);
}

static void
task_delete_all_print(struct cli *cli, const char *ws_name, size_t matched,
		      const struct task_delete_all_run *run)
{
	struct json_gen *g;
	size_t i;

	if (!cli_json(cli)) {
		if (run->nfailures > TASK_DELETE_ALL_LOG_FAILURES)
			log_err("%zu more deletes failed",
				run->nfailures - TASK_DELETE_ALL_LOG_FAILURES);
		cli_printf(cli, "%zu matched: %zu deleted, %zu already gone, %zu failed", matched,
			   run->deleted, run->gone, run->nfailures);
		if (run->interrupted)
			cli_printf(cli, ", %zu not attempted (interrupted)", matched - run->next);
		cli_printf(cli, "\n");
		return;
	}
	g = cli_json_gen(cli);
	json_gen_object_open(g);
	json_gen_kv_string(g, "workspaceSid", cli_workspace(cli));
	json_gen_kv_string(g, "workspaceName", ws_name);
	json_gen_kv_bool(g, "dryRun", false);
	json_gen_kv_int(g, "matched", (int64_t)matched);
	json_gen_kv_int(g, "deleted", (int64_t)run->deleted);
	json_gen_kv_int(g, "alreadyGone", (int64_t)run->gone);
	json_gen_kv_int(g, "failed", (int64_t)run->nfailures);
	json_gen_kv_bool(g, "interrupted", run->interrupted);
	json_gen_kv_int(g, "notAttempted", (int64_t)(matched - run->next));
	json_gen_key(g, "failures");
	json_gen_array_open(g);
	for (i = 0; i < run->nfailures; i++) {
		json_gen_object_open(g);
		json_gen_kv_string(g, "sid", run->failures[i].sid);
		json_gen_kv_string(g, "error", run->failures[i].cause);
		json_gen_object_close(g);
	}
	json_gen_array_close(g);
	json_gen_object_close(g);
	cli_json_print(cli);
}

static void
task_delete_all_delete(struct cli *cli, const struct task_delete_all_opts *o,
		       const struct cli_task *tasks, size_t n, struct task_delete_all_run *run)
{
	struct cli_progress *progress;
	struct sigaction sa;
	struct sigaction old_int;
	struct sigaction old_term;
	size_t i;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = task_delete_all_on_signal;
	(void)sigemptyset(&sa.sa_mask);
	task_delete_all_interrupts = 0;
	if (sigaction(SIGINT, &sa, &old_int) != 0 || sigaction(SIGTERM, &sa, &old_term) != 0)
		log_warning_errno(-errno, "cannot catch SIGINT; interrupting ends the tool "
					  "without a summary");
	run->batch = cli_rest_batch_new(cli_get_rest(cli), o->jobs);
	cli_rest_batch_set_stop(run->batch, &task_delete_all_interrupts);
	run->tasks = tasks;
	run->ntasks = n;
	for (i = 0; i < (size_t)o->jobs * TASK_DELETE_ALL_QUEUE_PER_JOB; i++)
		task_delete_all_feed(run);
	progress = cli_progress_new(cli, "deleting", n);
	if (cli_rest_batch_run(run->batch, progress) < 0)
		log_err("the HTTP transport failed; the summary counts what was reported");
	cli_progress_free(progress);
	cli_rest_batch_free(run->batch);
	run->batch = NULL;
	run->interrupted = task_delete_all_interrupts > 0;
	(void)sigaction(SIGINT, &old_int, NULL); /* restoring the defaults cannot fail */
	(void)sigaction(SIGTERM, &old_term, NULL);
	if (run->interrupted)
		log_err("interrupted: %zu task%s not attempted", n - run->next,
			n - run->next == 1 ? "" : "s");
}

static int
task_delete_all_run(struct cli *cli, void *state, int nargs, char **args)
{
	const struct task_delete_all_opts *o = state;
	struct task_delete_all_run run;
	struct json_doc *ws = NULL;
	struct cli_task *tasks = NULL;
	const char *ws_name = NULL;
	size_t n = 0;
	size_t i;
	int r;

	memset(&run, 0, sizeof(run));
	run.cli = cli;
	r = cli_rest_workspace(cli_get_rest(cli), &ws);
	if (r != CLI_EXIT_OK)
		goto out;
	if (json_get_string(json_doc_root(ws), "friendly_name", &ws_name) < 0 || *ws_name == '\0') {
		log_err("the workspace %s has no friendly name to confirm with",
			cli_workspace(cli));
		r = CLI_EXIT_API;
		goto out;
	}
	r = cli_task_fetch(cli, &o->filter, &tasks, &n);
	if (r != CLI_EXIT_OK)
		goto out;
	if (o->dry_run) {
		task_delete_all_print_dry(cli, ws_name, tasks, n);
		goto out;
	}
	if (n > 0 && !o->yes) {
		r = task_delete_all_confirm(o, cli_workspace(cli), ws_name, n);
		if (r != 0)
			goto out;
	}
	task_delete_all_delete(cli, o, tasks, n, &run);
	task_delete_all_print(cli, ws_name, n, &run);
	r = run.nfailures > 0 || run.interrupted ? CLI_EXIT_PARTIAL : CLI_EXIT_OK;
out:
	for (i = 0; i < run.nfailures; i++) {
		free(run.failures[i].sid);
		free(run.failures[i].cause);
	}
	free(run.failures);
	cli_task_array_free(tasks, n);
	json_doc_free(ws);
	return r;
}

static const struct cli_tool task_delete_all_tool = {
	.name = "trhub-task-delete-all",
	.usage = "[OPTION]... (--status S | --queue Q | --older-than D | --all)",
	.summary = "Delete the tasks matching the filters, after typing the workspace name.",
	.options = task_delete_all_options,
	.option = task_delete_all_option,
	.check = task_delete_all_check,
	.run = task_delete_all_run,
	.needs = CLI_NEEDS_WORKSPACE,
};

int
main(int argc, char **argv)
{
	struct task_delete_all_opts opts;

	memset(&opts, 0, sizeof(opts));
	cli_task_filter_init(&opts.filter);
	opts.jobs = CLI_DEFAULT_JOBS;
	return cli_main(&task_delete_all_tool, &opts, argc, argv);
}
