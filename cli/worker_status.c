/*
 * trhub-worker-status: every worker of the workspace with its activity,
 * availability, time in the current activity, what it is doing (the task it
 * holds, its status, the caller and the time in that status) and skills, a
 * summary of workers per activity, and --watch to redraw until interrupted.
 *
 * What a worker is doing comes from the open tasks (reserved, assigned,
 * wrapping) and their reservations: a worker holds the task of its pending,
 * accepted or wrapping reservation.
 *
 * Skills are read from the worker attributes: "skills" (the seeds' shape)
 * or "routing.skills" (Flex's), an array of strings.
 *
 * Time in activity is measured on Twilio's clock, not this host's: a host
 * whose clock is a few minutes off (or the emulator's virtual clock) would
 * otherwise show every recent change as 0s and every old one as too short.
 * Twilio's "now" is the end_time of the workspace's cumulative statistics,
 * read once per run; when that fails, the host clock is used.
 */

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "cli.h"
#include "cli_rest.h"
#include "cli_table.h"
#include "cli_task.h"
#include "form.h"
#include "log.h"
#include "xmalloc.h"

enum worker_status_opt {
	WORKER_STATUS_OPT_ACTIVITY = CLI_OPT_TOOL,
	WORKER_STATUS_OPT_AVAILABLE,
	WORKER_STATUS_OPT_NAME,
	WORKER_STATUS_OPT_WATCH,
};

static const struct cli_option worker_status_options[] = {
	{ "activity", 0, "NAME", WORKER_STATUS_OPT_ACTIVITY,
	  "only workers in this activity (case-insensitive)" },
	{ "available", 0, NULL, WORKER_STATUS_OPT_AVAILABLE, "only available workers" },
	{ "name", 0, "GLOB", WORKER_STATUS_OPT_NAME, "only workers whose name matches GLOB" },
	{ "watch", 0, "SECONDS", WORKER_STATUS_OPT_WATCH,
	  "redraw every SECONDS until interrupted" },
	{ NULL, 0, NULL, 0, NULL },
};

struct worker_status_opts {
	const char *activity;
	bool available;
	const char *name;
	int64_t watch_ms; /* 0: no --watch */
};

/* One task a worker holds: the task (borrowed from the list) and its reservation's status. */
struct worker_status_held {
	const struct cli_task *task;
	const char *res_status;
};

struct worker_status_worker {
	char *sid;
	char *name;
	char *activity;
	char *activity_sid;
	bool available;
	char *since; /* date_status_changed as sent */
	int64_t seconds;
	char **skills;
	size_t nskills;
	/* The tasks it holds (a call, or chats side by side). */
	struct worker_status_held *held;
	size_t nheld;
};

/* Differences between the clocks up to this are noise (whole seconds, round trip). */
#define WORKER_STATUS_SKEW_NOISE_S 2

struct worker_status_list {
	const struct worker_status_opts *opts;
	int64_t now_s; /* Twilio's clock, Unix seconds */
	struct worker_status_worker *v;
	size_t n;
	size_t total;		/* before filters */
	struct cli_task *tasks; /* open tasks, for what each worker is doing */
	size_t ntasks;
};

/* What a watch redraw needs. */
struct worker_status_run {
	const struct worker_status_opts *opts;
	int64_t skew_s;
};

static int
worker_status_option(struct cli *cli, void *state, int id, const char *arg)
{
	struct worker_status_opts *o = state;

	switch (id) {
	case WORKER_STATUS_OPT_ACTIVITY:
		o->activity = arg;
		return 0;
	case WORKER_STATUS_OPT_AVAILABLE:
		o->available = true;
		return 0;
	case WORKER_STATUS_OPT_NAME:
		o->name = arg;
		return 0;
	case WORKER_STATUS_OPT_WATCH:
		if (cli_parse_seconds_ms(arg, &o->watch_ms) < 0) {
			log_err("--watch %s: expected a number of seconds, such as 2 or 0.5", arg);
			return -EINVAL;
		}
		return 0;
	default:
		return -EINVAL;
	}
}

static int
worker_status_check(struct cli *cli, void *state, int nargs, char **args)
{
	if (nargs > 0) {
		log_err("unexpected argument '%s'; see --help", args[0]);
		return -EINVAL;
	}
	return 0;
}

/* Copies the skills array of the attributes (seeds' "skills" or Flex's "routing.skills"). */
static void
worker_status_skills(const struct json_value *item, struct worker_status_worker *w)
{
	struct json_doc *doc = cli_attributes(item);
	const struct json_value *skills;
	size_t i;

	if (doc == NULL)
		return;
	skills = json_get(json_doc_root(doc), "skills");
	if (!json_is_array(skills))
		skills = json_path(json_doc_root(doc), "routing", "skills");
	if (json_is_array(skills)) {
		w->skills = xcalloc(json_array_len(skills) + 1, sizeof(*w->skills));
		for (i = 0; i < json_array_len(skills); i++) {
			const char *s = json_string(json_array_at(skills, i));

			if (s != NULL)
				w->skills[w->nskills++] = xstrdup(s);
		}
	}
	json_doc_free(doc);
}

/* True when the worker's activity_sid is sid (--activity WA...). */
static bool
worker_status_has_activity_sid(const struct json_value *item, const char *sid)
{
	const char *s = NULL;

	return json_get_string(item, "activity_sid", &s) == 0 && strcmp(s, sid) == 0;
}

static void
worker_status_item(const struct json_value *item, void *arg)
{
	struct worker_status_list *l = arg;
	const struct worker_status_opts *o = l->opts;
	struct worker_status_worker w;
	const char *name = NULL;
	const char *activity = NULL;
	bool available = false;
	int64_t since = 0;

	l->total++;
	(void)json_get_string(item, "friendly_name", &name);
	(void)json_get_string(item, "activity_name", &activity);
	(void)json_get_bool(item, "available", &available);
	if (o->activity != NULL && (activity == NULL || strcasecmp(activity, o->activity) != 0) &&
	    !worker_status_has_activity_sid(item, o->activity))
		return;
	if (o->available && !available)
		return;
	if (!cli_glob_match(o->name, name != NULL ? name : ""))
		return;
	memset(&w, 0, sizeof(w));
	w.sid = cli_json_strdup(item, "sid");
	w.name = cli_json_strdup(item, "friendly_name");
	w.activity = cli_json_strdup(item, "activity_name");
	w.activity_sid = cli_json_strdup(item, "activity_sid");
	w.available = available;
	w.since = cli_json_strdup(item, "date_status_changed");
	w.seconds = -1;
	if (w.since != NULL && cli_parse_time(w.since, &since) == 0)
		w.seconds = l->now_s > since ? l->now_s - since : 0;
	worker_status_skills(item, &w);
	l->v = xreallocarray(l->v, l->n + 1, sizeof(*l->v));
	l->v[l->n++] = w;
}

static void
worker_status_list_clear(struct worker_status_list *l)
{
	size_t i;
	size_t j;

	for (i = 0; i < l->n; i++) {
		struct worker_status_worker *w = &l->v[i];

		free(w->sid);
		free(w->name);
		free(w->activity);
		free(w->activity_sid);
		free(w->since);
		for (j = 0; j < w->nskills; j++)
			free(w->skills[j]);
		free(w->skills);
		free(w->held);
	}
	free(l->v);
	l->v = NULL;
	l->n = 0;
	l->total = 0;
	cli_task_array_free(l->tasks, l->ntasks);
	l->tasks = NULL;
	l->ntasks = 0;
}

/* Points every worker at the task it holds (pending, accepted or wrapping reservation). */
static void
worker_status_link_tasks(struct worker_status_list *l)
{
	size_t i;
	size_t j;
	size_t k;

	for (i = 0; i < l->ntasks; i++) {
		const struct cli_task *t = &l->tasks[i];

		for (j = 0; j < t->nreservations; j++) {
			const struct cli_task_reservation *r = &t->reservations[j];

			if (r->worker_sid == NULL || r->status == NULL ||
			    (strcmp(r->status, "pending") != 0 &&
			     strcmp(r->status, "accepted") != 0 &&
			     strcmp(r->status, "wrapping") != 0))
				continue;
			for (k = 0; k < l->n; k++) {
				struct worker_status_worker *w = &l->v[k];

				if (w->sid == NULL || strcmp(w->sid, r->worker_sid) != 0)
					continue;
				w->held = xreallocarray(w->held, w->nheld + 1, sizeof(*w->held));
				w->held[w->nheld].task = t;
				w->held[w->nheld].res_status = r->status;
				w->nheld++;
			}
		}
	}
}

/* The held task that has been longest in its status, or NULL. */
static const struct worker_status_held *
worker_status_first(const struct worker_status_worker *w)
{
	const struct worker_status_held *best = NULL;
	size_t i;

	for (i = 0; i < w->nheld; i++) {
		if (best == NULL || w->held[i].task->updated_s > best->task->updated_s)
			best = &w->held[i];
	}
	return best;
}

/*
 * "ringing", "on task", "wrap-up" (the reservation's status in an agent's
 * words), or "N tasks" for several side by side, into out.
 */
static void
worker_status_doing(const struct worker_status_worker *w, char *out, size_t size)
{
	const struct worker_status_held *h = worker_status_first(w);

	if (h == NULL)
		(void)snprintf(out, size, "-");
	else if (w->nheld > 1)
		(void)snprintf(out, size, "%zu tasks", w->nheld);
	else if (strcmp(h->res_status, "pending") == 0)
		(void)snprintf(out, size, "ringing");
	else if (strcmp(h->res_status, "wrapping") == 0)
		(void)snprintf(out, size, "wrap-up");
	else
		(void)snprintf(out, size, "on task");
}

static int
worker_status_cmp(const void *a, const void *b)
{
	const struct worker_status_worker *x = a;
	const struct worker_status_worker *y = b;

	return strcasecmp(x->name != NULL ? x->name : "", y->name != NULL ? y->name : "");
}

/* Workers per activity, in order of first appearance after sorting by activity name. */
struct worker_status_count {
	const char *activity;
	size_t n;
};

static size_t
worker_status_counts(const struct worker_status_list *l, struct worker_status_count **out)
{
	struct worker_status_count *c = NULL;
	size_t nc = 0;
	size_t i;
	size_t j;

	for (i = 0; i < l->n; i++) {
		const char *a = l->v[i].activity != NULL ? l->v[i].activity : "-";

		for (j = 0; j < nc; j++) {
			if (strcmp(c[j].activity, a) == 0)
				break;
		}
		if (j == nc) {
			c = xreallocarray(c, nc + 1, sizeof(*c));
			c[nc].activity = a;
			c[nc].n = 0;
			nc++;
		}
		c[j].n++;
	}
	*out = c;
	return nc;
}

static void
worker_status_print_json(struct cli *cli, const struct worker_status_list *l)
{
	struct json_gen *g = cli_json_gen(cli);
	struct worker_status_count *counts = NULL;
	size_t nc = worker_status_counts(l, &counts);
	size_t i;
	size_t j;

	json_gen_object_open(g);
	json_gen_kv_string(g, "workspaceSid", cli_workspace(cli));
	json_gen_key(g, "workers");
	json_gen_array_open(g);
	for (i = 0; i < l->n; i++) {
		const struct worker_status_worker *w = &l->v[i];
		int64_t since = 0;

		json_gen_object_open(g);
		json_gen_kv_string(g, "sid", w->sid);
		json_gen_kv_string(g, "name", w->name);
		json_gen_kv_string(g, "activity", w->activity);
		json_gen_kv_string(g, "activitySid", w->activity_sid);
		json_gen_kv_bool(g, "available", w->available);
		if (w->since != NULL && cli_parse_time(w->since, &since) == 0)
			json_gen_kv_int(g, "activitySinceMs", since * 1000);
		else
			json_gen_kv_null(g, "activitySinceMs");
		if (w->seconds >= 0)
			json_gen_kv_int(g, "timeInActivityS", w->seconds);
		else
			json_gen_kv_null(g, "timeInActivityS");
		json_gen_key(g, "skills");
		json_gen_array_open(g);
		for (j = 0; j < w->nskills; j++)
			json_gen_string(g, w->skills[j]);
		json_gen_array_close(g);
		json_gen_key(g, "tasks");
		json_gen_array_open(g);
		for (j = 0; j < w->nheld; j++) {
			const struct worker_status_held *h = &w->held[j];

			json_gen_object_open(g);
			json_gen_kv_string(g, "sid", h->task->sid);
			json_gen_kv_string(g, "status", h->task->status);
			json_gen_kv_string(g, "channel", h->task->channel);
			json_gen_kv_string(g, "reservationStatus", h->res_status);
			json_gen_kv_string(g, "caller", h->task->from);
			if (h->task->updated_s >= 0)
				json_gen_kv_int(g, "timeInStatusS", h->task->updated_s);
			else
				json_gen_kv_null(g, "timeInStatusS");
			json_gen_object_close(g);
		}
		json_gen_array_close(g);
		json_gen_object_close(g);
	}
	json_gen_array_close(g);
	json_gen_key(g, "summary");
	json_gen_object_open(g);
	json_gen_kv_int(g, "total", (int64_t)l->n);
	json_gen_key(g, "byActivity");
	json_gen_object_open(g);
	for (i = 0; i < nc; i++)
		json_gen_kv_int(g, counts[i].activity, (int64_t)counts[i].n);
	json_gen_object_close(g);
	json_gen_object_close(g);
	json_gen_object_close(g);
	cli_json_print(cli);
	free(counts);
}

static void
worker_status_print_table(struct cli *cli, const struct worker_status_list *l)
{
	struct cli_table *t = cli_table_new();
	struct worker_status_count *counts = NULL;
	size_t nc = worker_status_counts(l, &counts);
	struct buf line;
	size_t i;
	size_t j;

	/* Left out first when narrow: SID, then skills, availability, caller, task. */
	cli_table_column(t, "WORKER", CLI_ALIGN_LEFT, true);
	cli_table_column(t, "SID", CLI_ALIGN_LEFT, false);
	cli_table_sid(t);
	cli_table_priority(t, 9);
	cli_table_column(t, "ACTIVITY", CLI_ALIGN_LEFT, true);
	cli_table_column(t, "AVAIL", CLI_ALIGN_LEFT, false);
	cli_table_priority(t, 7);
	cli_table_column(t, "IN ACTIVITY", CLI_ALIGN_RIGHT, false);
	cli_table_column(t, "DOING", CLI_ALIGN_LEFT, false);
	cli_table_column(t, "FOR", CLI_ALIGN_RIGHT, false);
	cli_table_column(t, "CALLER", CLI_ALIGN_LEFT, true);
	cli_table_priority(t, 6);
	cli_table_column(t, "TASK", CLI_ALIGN_LEFT, false);
	cli_table_sid(t);
	cli_table_priority(t, 5);
	cli_table_column(t, "SKILLS", CLI_ALIGN_LEFT, true);
	cli_table_priority(t, 8);
	buf_init(&line);
	for (i = 0; i < l->n; i++) {
		const struct worker_status_worker *w = &l->v[i];
		const struct worker_status_held *h = worker_status_first(w);
		char age[32];
		char on[32];
		char doing[32];

		cli_format_age(w->seconds, age, sizeof(age));
		cli_format_age(h != NULL ? h->task->updated_s : -1, on, sizeof(on));
		worker_status_doing(w, doing, sizeof(doing));
		buf_reset(&line);
		for (j = 0; j < w->nskills; j++)
			buf_printf(&line, "%s%s", j > 0 ? "," : "", w->skills[j]);
		cli_table_row(t);
		cli_table_cell(t, w->name, CLI_COLOR_NONE);
		cli_table_cell(t, w->sid, CLI_COLOR_DIM);
		cli_table_cell(t, w->activity, w->available ? CLI_COLOR_GREEN : CLI_COLOR_NONE);
		cli_table_cell(t, w->available ? "yes" : "no",
			       w->available ? CLI_COLOR_GREEN : CLI_COLOR_NONE);
		cli_table_cell(t, age, CLI_COLOR_NONE);
		cli_table_cell(t, doing, h != NULL ? CLI_COLOR_YELLOW : CLI_COLOR_NONE);
		cli_table_cell(t, on, CLI_COLOR_NONE);
		cli_table_cell(t, h != NULL ? h->task->from : NULL, CLI_COLOR_NONE);
		cli_table_cell(t, h != NULL ? h->task->sid : NULL, CLI_COLOR_DIM);
		cli_table_cell(t, line.len > 0 ? line.data : "-", CLI_COLOR_NONE);
	}
	if (l->n > 0 && cli_table_print(t, cli, cli_out(cli)) < 0)
		goto out; /* an unknown --columns name, reported */
	buf_reset(&line);
	buf_printf(&line, "%zu worker%s", l->n, l->n == 1 ? "" : "s");
	if (l->n != l->total)
		buf_printf(&line, " (of %zu)", l->total);
	for (i = 0; i < nc; i++) {
		char *name = cli_sanitize(counts[i].activity);

		buf_printf(&line, "%s %s %zu", i == 0 ? ":" : ",", name, counts[i].n);
		free(name);
	}
	cli_printf(cli, "%s\n", line.data);
out:
	buf_clear(&line);
	free(counts);
	cli_table_free(t);
}

/* One fetch and print; returns an enum cli_exit value. */
static int
worker_status_once(struct cli *cli, void *arg)
{
	const struct worker_status_run *run = arg;
	struct cli_rest *rest = cli_get_rest(cli);
	struct worker_status_list l;
	struct cli_task_filter open;
	char *url = twilio_url_workers(cli_rest_twilio(rest), cli_workspace(cli));
	int r;

	memset(&l, 0, sizeof(l));
	l.opts = run->opts;
	l.now_s = cli_now() + run->skew_s;
	r = cli_rest_list(rest, "list workers", url, NULL, "workers", worker_status_item, &l);
	if (r == CLI_EXIT_OK) {
		/* What each worker is doing: the open tasks and their reservations. */
		cli_task_filter_init(&open);
		open.statuses[open.nstatuses++] = "reserved";
		open.statuses[open.nstatuses++] = "assigned";
		open.statuses[open.nstatuses++] = "wrapping";
		r = cli_task_fetch(cli, &open, &l.tasks, &l.ntasks);
		if (r == CLI_EXIT_OK)
			r = cli_task_fetch_reservations(cli, l.tasks, l.ntasks, CLI_DEFAULT_JOBS);
		/* Without the tasks the workers still print, and the exit status says so. */
		if (r != CLI_EXIT_OK)
			r = CLI_EXIT_PARTIAL;
		worker_status_link_tasks(&l);
		if (l.n > 1)
			qsort(l.v, l.n, sizeof(*l.v), worker_status_cmp);
		if (cli_json(cli))
			worker_status_print_json(cli, &l);
		else
			worker_status_print_table(cli, &l);
	}
	worker_status_list_clear(&l);
	free(url);
	return r;
}

/*
 * Twilio's clock minus this host's, in seconds (see the top of the file);
 * 0 when they agree within the noise or Twilio's time cannot be read.
 */
static int64_t
worker_status_skew(struct cli *cli)
{
	struct cli_rest *rest = cli_get_rest(cli);
	struct cli_rest_reply reply;
	struct form *q = form_new();
	char *base = twilio_url_workspace_cumulative_statistics(cli_rest_twilio(rest),
								cli_workspace(cli));
	char *url = NULL;
	struct json_doc *doc = NULL;
	const char *end = NULL;
	int64_t server = 0;
	int64_t skew = 0;

	form_add(q, "Minutes", "1");
	url = twilio_url_with_query(base, q);
	cli_rest_reply_init(&reply);
	(void)cli_rest_call(rest, HTTP_GET, url, NULL, NULL, &reply); /* the reply says it all */
	if (!cli_rest_reply_ok(&reply) ||
	    json_parse(reply.http.body, reply.http.body_len, NULL, &doc, NULL) < 0 ||
	    json_get_string(json_doc_root(doc), "end_time", &end) < 0 ||
	    cli_parse_time(end, &server) < 0) {
		log_info("cannot read Twilio's clock; times in activity use this host's clock");
		goto out;
	}
	skew = server - cli_now();
	if (skew >= -WORKER_STATUS_SKEW_NOISE_S && skew <= WORKER_STATUS_SKEW_NOISE_S)
		skew = 0;
	else
		log_info("Twilio's clock is %lld s ahead of this host's; times use Twilio's",
			 (long long)skew);
out:
	json_doc_free(doc);
	cli_rest_reply_clear(&reply);
	free(url);
	free(base);
	form_free(q);
	return skew;
}

static int
worker_status_run(struct cli *cli, void *state, int nargs, char **args)
{
	const struct worker_status_opts *o = state;
	struct cli_rest *rest = cli_get_rest(cli);
	struct worker_status_run run;
	struct json_doc *ws = NULL;
	int r;

	r = cli_rest_workspace(rest, &ws);
	json_doc_free(ws);
	if (r != CLI_EXIT_OK)
		return r;
	if (o->activity != NULL) {
		char *url = twilio_url_activities(cli_rest_twilio(rest), cli_workspace(cli));

		r = cli_rest_check_name(rest, "--activity", "activity", "activities", url,
					"activities", o->activity);
		free(url);
		if (r != CLI_EXIT_OK)
			return r;
	}
	run.opts = o;
	run.skew_s = worker_status_skew(cli);
	if (o->watch_ms > 0)
		return cli_watch(cli, o->watch_ms, worker_status_once, &run);
	return worker_status_once(cli, &run);
}

static const struct cli_tool worker_status_tool = {
	.name = "trhub-worker-status",
	.usage = "[OPTION]...",
	.summary = "Show every worker's activity, availability, time in activity, the task it is "
		   "on (status, caller, time) and skills.",
	.options = worker_status_options,
	.option = worker_status_option,
	.check = worker_status_check,
	.run = worker_status_run,
	.needs = CLI_NEEDS_WORKSPACE,
};

int
main(int argc, char **argv)
{
	struct worker_status_opts opts;

	memset(&opts, 0, sizeof(opts));
	return cli_main(&worker_status_tool, &opts, argc, argv);
}
