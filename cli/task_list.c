/*
 * trhub-task-list: the workspace's tasks with status, priority, age, queue,
 * caller, reservations (worker and status) and conference, sorted by
 * priority (highest first) and then age (oldest first).
 */

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "cli.h"
#include "cli_rest.h"
#include "cli_table.h"
#include "cli_task.h"
#include "log.h"
#include "xmalloc.h"

enum task_list_opt {
	TASK_LIST_OPT_WATCH = CLI_OPT_TOOL,
};

static const struct cli_option task_list_options[] = {
	CLI_TASK_FILTER_OPTIONS,
	{ "watch", 0, "SECONDS", TASK_LIST_OPT_WATCH,
	  "redraw every SECONDS until interrupted, marking what changed" },
	{ NULL, 0, NULL, 0, NULL },
};

struct task_list_opts {
	struct cli_task_filter filter;
	int64_t watch_ms; /* 0: no --watch */
};

static int
task_list_option(struct cli *cli, void *state, int id, const char *arg)
{
	struct task_list_opts *o = state;

	if (id == TASK_LIST_OPT_WATCH) {
		if (cli_parse_seconds_ms(arg, &o->watch_ms) < 0) {
			log_err("--watch %s: expected a number of seconds, such as 2 or 0.5", arg);
			return -EINVAL;
		}
		return 0;
	}
	return cli_task_filter_option(&o->filter, id, arg) == 0 ? 0 : -EINVAL;
}

static int
task_list_check(struct cli *cli, void *state, int nargs, char **args)
{
	if (nargs > 0) {
		log_err("unexpected argument '%s'; see --help", args[0]);
		return -EINVAL;
	}
	return 0;
}

static int
task_list_cmp(const void *a, const void *b)
{
	const struct cli_task *x = a;
	const struct cli_task *y = b;

	if (x->priority != y->priority)
		return x->priority > y->priority ? -1 : 1;
	if (x->age_s != y->age_s)
		return x->age_s > y->age_s ? -1 : 1;
	return strcmp(x->sid, y->sid);
}

static enum cli_color
task_list_status_color(const char *status)
{
	if (status == NULL)
		return CLI_COLOR_NONE;
	if (strcmp(status, "pending") == 0)
		return CLI_COLOR_YELLOW;
	if (strcmp(status, "wrapping") == 0)
		return CLI_COLOR_BLUE;
	if (strcmp(status, "assigned") == 0 || strcmp(status, "reserved") == 0)
		return CLI_COLOR_GREEN;
	return CLI_COLOR_DIM;
}

static void
task_list_print_json(struct cli *cli, const struct cli_task *tasks, size_t n)
{
	struct json_gen *g = cli_json_gen(cli);
	size_t i;
	size_t j;

	json_gen_object_open(g);
	json_gen_kv_string(g, "workspaceSid", cli_workspace(cli));
	json_gen_kv_int(g, "count", (int64_t)n);
	json_gen_key(g, "tasks");
	json_gen_array_open(g);
	for (i = 0; i < n; i++) {
		const struct cli_task *t = &tasks[i];

		json_gen_object_open(g);
		json_gen_kv_string(g, "sid", t->sid);
		json_gen_kv_string(g, "status", t->status);
		json_gen_kv_int(g, "priority", t->priority);
		int64_t created = 0;

		if (t->age_s >= 0)
			json_gen_kv_int(g, "ageS", t->age_s);
		else
			json_gen_kv_null(g, "ageS");
		if (t->date_created != NULL && cli_parse_time(t->date_created, &created) == 0)
			json_gen_kv_int(g, "createdMs", created * 1000);
		else
			json_gen_kv_null(g, "createdMs");
		json_gen_kv_string(g, "queueSid", t->queue_sid);
		json_gen_kv_string(g, "queueName", t->queue_name);
		json_gen_kv_string(g, "from", t->from);
		json_gen_kv_string(g, "conferenceSid", t->conference_sid);
		json_gen_key(g, "reservations");
		json_gen_array_open(g);
		for (j = 0; j < t->nreservations; j++) {
			const struct cli_task_reservation *r = &t->reservations[j];

			json_gen_object_open(g);
			json_gen_kv_string(g, "sid", r->sid);
			json_gen_kv_string(g, "status", r->status);
			json_gen_kv_string(g, "workerSid", r->worker_sid);
			json_gen_kv_string(g, "workerName", r->worker_name);
			json_gen_object_close(g);
		}
		json_gen_array_close(g);
		json_gen_object_close(g);
	}
	json_gen_array_close(g);
	json_gen_object_close(g);
	cli_json_print(cli);
}

static void
task_list_print_table(struct cli *cli, const struct cli_task *tasks, size_t n)
{
	struct cli_table *t = cli_table_new();
	struct buf res;
	size_t i;
	size_t j;

	/* When narrow: SIDs shortened, then the conference, priority and queue left out. */
	cli_table_column(t, "TASK", CLI_ALIGN_LEFT, false);
	cli_table_sid(t);
	cli_table_column(t, "STATUS", CLI_ALIGN_LEFT, false);
	cli_table_column(t, "PRI", CLI_ALIGN_RIGHT, false);
	cli_table_priority(t, 7);
	cli_table_column(t, "AGE", CLI_ALIGN_RIGHT, false);
	cli_table_column(t, "QUEUE", CLI_ALIGN_LEFT, true);
	cli_table_priority(t, 6);
	cli_table_column(t, "CALLER", CLI_ALIGN_LEFT, true);
	cli_table_column(t, "RESERVATIONS", CLI_ALIGN_LEFT, true);
	cli_table_column(t, "CONFERENCE", CLI_ALIGN_LEFT, false);
	cli_table_sid(t);
	cli_table_priority(t, 8);
	buf_init(&res);
	for (i = 0; i < n; i++) {
		const struct cli_task *task = &tasks[i];
		char age[32];

		cli_format_age(task->age_s, age, sizeof(age));
		buf_reset(&res);
		for (j = 0; j < task->nreservations; j++) {
			const struct cli_task_reservation *r = &task->reservations[j];

			buf_printf(&res, "%s%s:%s", j > 0 ? "," : "",
				   r->worker_name != NULL  ? r->worker_name
				   : r->worker_sid != NULL ? r->worker_sid
							   : "?",
				   r->status != NULL ? r->status : "?");
		}
		cli_table_row(t);
		cli_table_cell(t, task->sid, CLI_COLOR_NONE);
		cli_table_cell(t, task->status, task_list_status_color(task->status));
		cli_table_cellf(t, CLI_COLOR_NONE, "%lld", (long long)task->priority);
		cli_table_cell(t, age, CLI_COLOR_NONE);
		cli_table_cell(t, task->queue_name != NULL ? task->queue_name : task->queue_sid,
			       CLI_COLOR_NONE);
		cli_table_cell(t, task->from, CLI_COLOR_NONE);
		cli_table_cell(t, res.len > 0 ? res.data : "-", CLI_COLOR_NONE);
		cli_table_cell(t, task->conference_sid, CLI_COLOR_NONE);
	}
	if (n == 0 || cli_table_print(t, cli, cli_out(cli)) == 0)
		cli_printf(cli, "%zu task%s\n", n, n == 1 ? "" : "s");
	buf_clear(&res);
	cli_table_free(t);
}

static int
task_list_once(struct cli *cli, void *state)
{
	const struct task_list_opts *o = state;
	struct cli_task *tasks = NULL;
	size_t n = 0;
	int r;

	r = cli_task_fetch(cli, &o->filter, &tasks, &n);
	if (r != CLI_EXIT_OK)
		return r;
	/* A missing reservation list is reported but the tasks still print. */
	r = cli_task_fetch_reservations(cli, tasks, n, CLI_DEFAULT_JOBS);
	if (n > 1)
		qsort(tasks, n, sizeof(*tasks), task_list_cmp);
	if (cli_json(cli))
		task_list_print_json(cli, tasks, n);
	else
		task_list_print_table(cli, tasks, n);
	cli_task_array_free(tasks, n);
	return r;
}

static int
task_list_run(struct cli *cli, void *state, int nargs, char **args)
{
	const struct task_list_opts *o = state;
	struct json_doc *ws = NULL;
	int r;

	r = cli_rest_workspace(cli_get_rest(cli), &ws);
	json_doc_free(ws);
	if (r != CLI_EXIT_OK)
		return r;
	if (o->watch_ms > 0)
		return cli_watch(cli, o->watch_ms, task_list_once, state);
	return task_list_once(cli, state);
}

static const struct cli_tool task_list_tool = {
	.name = "trhub-task-list",
	.usage = "[OPTION]...",
	.summary = "List tasks with their reservations, sorted by priority, then age.",
	.options = task_list_options,
	.option = task_list_option,
	.check = task_list_check,
	.run = task_list_run,
	.needs = CLI_NEEDS_WORKSPACE,
};

int
main(int argc, char **argv)
{
	struct task_list_opts opts;

	memset(&opts, 0, sizeof(opts));
	cli_task_filter_init(&opts.filter);
	return cli_main(&task_list_tool, &opts, argc, argv);
}
