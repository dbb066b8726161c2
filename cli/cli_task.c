/*
 * cli_task: tasks as the task tools see them, and the filters they share.
 *
 * Status filters go to TaskRouter as repeated AssignmentStatus parameters,
 * so only matching tasks cross the network, and are checked again here so a
 * server that ignores the parameter cannot widen what a tool acts on. Queue
 * and age filters are applied here (the queue may be given by name or SID).
 */

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cli.h"
#include "cli_rest.h"
#include "cli_task.h"
#include "form.h"
#include "log.h"
#include "task_status.h"
#include "xmalloc.h"

void
cli_task_filter_init(struct cli_task_filter *f)
{
	memset(f, 0, sizeof(*f));
	f->older_than_s = -1;
}

bool
cli_task_status_valid(const char *status)
{
	return task_status_parse(status) >= 0;
}

int
cli_task_filter_option(struct cli_task_filter *f, int id, const char *arg)
{
	size_t i;

	switch (id) {
	case CLI_TASK_OPT_STATUS:
		if (!cli_task_status_valid(arg)) {
			log_err("--status %s: expected pending, reserved, assigned, wrapping, "
				"completed or canceled",
				arg);
			return -EINVAL;
		}
		for (i = 0; i < f->nstatuses; i++) {
			if (strcmp(f->statuses[i], arg) == 0)
				return 0;
		}
		f->statuses[f->nstatuses++] = arg;
		return 0;
	case CLI_TASK_OPT_QUEUE:
		if (*arg == '\0') {
			log_err("--queue needs a queue name or WQ SID");
			return -EINVAL;
		}
		f->queue = arg;
		return 0;
	case CLI_TASK_OPT_OLDER_THAN:
		if (cli_parse_duration(arg, &f->older_than_s) < 0) {
			log_err("--older-than %s: expected a duration such as 90s, 15m, 2h or 1d",
				arg);
			return -EINVAL;
		}
		return 0;
	default:
		return 1;
	}
}

bool
cli_task_filter_any(const struct cli_task_filter *f)
{
	return f->nstatuses > 0 || f->queue != NULL || f->older_than_s >= 0;
}

bool
cli_task_filter_match(const struct cli_task_filter *f, const struct cli_task *t)
{
	size_t i;

	if (f->nstatuses > 0) {
		for (i = 0; i < f->nstatuses; i++) {
			if (t->status != NULL && strcmp(t->status, f->statuses[i]) == 0)
				break;
		}
		if (i == f->nstatuses)
			return false;
	}
	if (f->queue != NULL) {
		bool sid = t->queue_sid != NULL && strcmp(t->queue_sid, f->queue) == 0;
		bool name = t->queue_name != NULL && strcasecmp(t->queue_name, f->queue) == 0;

		if (!sid && !name)
			return false;
	}
	/* A task of unknown age is never "older than": filters must not widen. */
	if (f->older_than_s >= 0 && (t->age_s < 0 || t->age_s < f->older_than_s))
		return false;
	return true;
}

/*
 * Seconds since date_updated on the server's clock: "age" is the server's
 * now minus date_created, so now - date_updated is age - (date_updated -
 * date_created). That holds whatever the skew between this host's clock and
 * Twilio's (or the emulator's virtual clock). Falls back to the local clock.
 */
static int64_t
cli_task_since_update(const struct json_value *item, int64_t age)
{
	const char *created = NULL;
	const char *updated = NULL;
	int64_t c;
	int64_t u;
	int64_t d;

	if (age < 0 || json_get_string(item, "date_created", &created) < 0 ||
	    json_get_string(item, "date_updated", &updated) < 0 ||
	    cli_parse_time(created, &c) < 0 || cli_parse_time(updated, &u) < 0)
		return cli_seconds_since(item, "date_updated");
	d = age - (u - c);
	return d < 0 ? 0 : d;
}

void
cli_task_from_json(struct cli_task *t, const struct json_value *item)
{
	struct json_doc *attrs = cli_attributes(item);
	const struct json_value *root = attrs != NULL ? json_doc_root(attrs) : NULL;
	const char *s = NULL;
	int64_t age = -1;

	memset(t, 0, sizeof(*t));
	t->sid = cli_json_strdup(item, "sid");
	t->status = cli_json_strdup(item, "assignment_status");
	if (json_get_int64(item, "priority", &t->priority) < 0)
		t->priority = 0;
	if (json_get_int64(item, "age", &age) < 0 || age < 0)
		age = cli_seconds_since(item, "date_created");
	t->age_s = age;
	t->updated_s = cli_task_since_update(item, age);
	t->date_created = cli_json_strdup(item, "date_created");
	t->date_updated = cli_json_strdup(item, "date_updated");
	t->queue_sid = cli_json_strdup(item, "task_queue_sid");
	t->queue_name = cli_json_strdup(item, "task_queue_friendly_name");
	t->channel = cli_json_strdup(item, "task_channel_unique_name");
	if (root != NULL) {
		t->from = cli_json_strdup(root, "from");
		s = json_string(json_path(root, "conference", "sid"));
		if (s == NULL)
			s = json_string(json_get(root, "conference_sid"));
		t->conference_sid = s != NULL ? xstrdup(s) : NULL;
	}
	json_doc_free(attrs);
}

void
cli_task_clear(struct cli_task *t)
{
	size_t i;

	for (i = 0; i < t->nreservations; i++) {
		free(t->reservations[i].sid);
		free(t->reservations[i].status);
		free(t->reservations[i].worker_sid);
		free(t->reservations[i].worker_name);
	}
	free(t->reservations);
	free(t->sid);
	free(t->status);
	free(t->date_created);
	free(t->date_updated);
	free(t->queue_sid);
	free(t->queue_name);
	free(t->from);
	free(t->conference_sid);
	free(t->channel);
	memset(t, 0, sizeof(*t));
}

void
cli_task_array_free(struct cli_task *tasks, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		cli_task_clear(&tasks[i]);
	free(tasks);
}

struct cli_task_fetch_state {
	const struct cli_task_filter *f;
	struct cli_task *v;
	size_t n;
	size_t cap;
};

static void
cli_task_fetch_item(const struct json_value *item, void *arg)
{
	struct cli_task_fetch_state *st = arg;
	struct cli_task t;

	cli_task_from_json(&t, item);
	if (t.sid == NULL || !cli_task_filter_match(st->f, &t)) {
		cli_task_clear(&t);
		return;
	}
	if (st->n == st->cap) {
		st->cap = st->cap == 0 ? 64 : st->cap * 2;
		st->v = xreallocarray(st->v, st->cap, sizeof(*st->v));
	}
	st->v[st->n++] = t;
}

int
cli_task_fetch(struct cli *cli, const struct cli_task_filter *f, struct cli_task **tasks_out,
	       size_t *n_out)
{
	struct cli_rest *rest = cli_get_rest(cli);
	struct cli_task_fetch_state st;
	struct form *q = form_new();
	char *url = twilio_url_tasks(cli_rest_twilio(rest), cli_workspace(cli));
	size_t i;
	int r;

	memset(&st, 0, sizeof(st));
	st.f = f;
	if (f->queue != NULL) {
		char *qurl = twilio_url_task_queues(cli_rest_twilio(rest), cli_workspace(cli));

		r = cli_rest_check_name(rest, "--queue", "queue", "queues", qurl, "task_queues",
					f->queue);
		free(qurl);
		if (r != CLI_EXIT_OK)
			goto out;
	}
	for (i = 0; i < f->nstatuses; i++)
		form_add(q, "AssignmentStatus", f->statuses[i]);
	r = cli_rest_list(rest, "list tasks", url, q, "tasks", cli_task_fetch_item, &st);
out:
	if (r != CLI_EXIT_OK) {
		cli_task_array_free(st.v, st.n);
		st.v = NULL;
		st.n = 0;
	}
	*tasks_out = st.v;
	*n_out = st.n;
	form_free(q);
	free(url);
	return r;
}

/* ---- reservations ---- */

struct cli_task_res_state {
	struct cli_task *t;
	int *result;
};

static void
cli_task_res_item(const struct json_value *item, void *arg)
{
	struct cli_task_res_state *st = arg;
	struct cli_task *t = st->t;
	struct cli_task_reservation *r;

	t->reservations =
		xreallocarray(t->reservations, t->nreservations + 1, sizeof(*t->reservations));
	r = &t->reservations[t->nreservations++];
	r->sid = cli_json_strdup(item, "sid");
	r->status = cli_json_strdup(item, "reservation_status");
	r->worker_sid = cli_json_strdup(item, "worker_sid");
	r->worker_name = cli_json_strdup(item, "worker_name");
}

static void
cli_task_res_done(int result, void *arg)
{
	struct cli_task_res_state *st = arg;

	if (result == CLI_EXIT_OK)
		st->t->reservations_fetched = true;
	else if (*st->result == CLI_EXIT_OK)
		*st->result = CLI_EXIT_PARTIAL;
	free(st);
}

int
cli_task_fetch_reservations(struct cli *cli, struct cli_task *tasks, size_t n, int jobs)
{
	struct cli_rest *rest = cli_get_rest(cli);
	struct cli_rest_batch *b = cli_rest_batch_new(rest, jobs);
	int result = CLI_EXIT_OK;
	size_t i;

	for (i = 0; i < n; i++) {
		struct cli_task_res_state *st;
		char *url;
		char *what;

		if (tasks[i].status == NULL || strcmp(tasks[i].status, "pending") == 0)
			continue;
		st = xcalloc(1, sizeof(*st));
		st->t = &tasks[i];
		st->result = &result;
		url = twilio_url_task_reservations(cli_rest_twilio(rest), cli_workspace(cli),
						   tasks[i].sid);
		what = xasprintf("list reservations of %s", tasks[i].sid);
		cli_rest_batch_list(b, what, url, NULL, "reservations", cli_task_res_item,
				    cli_task_res_done, st);
		free(what);
		free(url);
	}
	if (cli_rest_batch_run(b, NULL) < 0 && result == CLI_EXIT_OK)
		result = CLI_EXIT_PARTIAL;
	cli_rest_batch_free(b);
	return result;
}
