/*
 * trhub-conference-list: the account's conferences (API 2010) with SID,
 * friendly name, status, creation time and who is in each (participants by
 * label, with hold and mute), --watch to redraw, and --end to
 * end the matching in-progress conferences (Status=completed) after a
 * confirmation on the terminal or --yes.
 *
 * Conferences belong to the account, not to a workspace, so this tool does
 * not need a workspace SID.
 */

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "buf.h"
#include "cli.h"
#include "cli_rest.h"
#include "cli_table.h"
#include "date.h"
#include "form.h"
#include "log.h"
#include "xmalloc.h"

enum conference_list_opt {
	CONFERENCE_LIST_OPT_STATUS = CLI_OPT_TOOL,
	CONFERENCE_LIST_OPT_NAME,
	CONFERENCE_LIST_OPT_END,
	CONFERENCE_LIST_OPT_YES,
	CONFERENCE_LIST_OPT_WATCH,
};

static const struct cli_option conference_list_options[] = {
	{ "status", 0, "STATUS", CONFERENCE_LIST_OPT_STATUS,
	  "init, in-progress (default), completed or all" },
	{ "name", 0, "GLOB", CONFERENCE_LIST_OPT_NAME, "only conferences whose name matches GLOB" },
	{ "end", 0, "SID|NAME", CONFERENCE_LIST_OPT_END,
	  "end the in-progress conferences with this SID or friendly name" },
	{ "yes", 'y', NULL, CONFERENCE_LIST_OPT_YES, "end without asking" },
	{ "watch", 0, "SECONDS", CONFERENCE_LIST_OPT_WATCH,
	  "redraw every SECONDS until interrupted, marking what changed" },
	{ NULL, 0, NULL, 0, NULL },
};

struct conference_list_opts {
	const char *status; /* NULL: all */
	const char *name;
	const char *end;
	bool yes;
	int64_t watch_ms; /* 0: no --watch */
};

struct conference_list_participant {
	char *call_sid;
	char *label;
	char *status;
	bool hold;
	bool muted;
};

struct conference_list_conf {
	char *sid;
	char *name;
	char *status;
	char *date_created;   /* as sent (RFC 2822) */
	int64_t created;      /* Unix seconds, -1 unknown */
	int64_t participants; /* -1: not counted (the conference has ended) */
	struct conference_list_participant *parts;
	size_t nparts;
	bool end_ok;
	char *end_error;
};

struct conference_list_set {
	const struct conference_list_opts *opts;
	struct conference_list_conf *v;
	size_t n;
};

static int
conference_list_option(struct cli *cli, void *state, int id, const char *arg)
{
	struct conference_list_opts *o = state;

	switch (id) {
	case CONFERENCE_LIST_OPT_STATUS:
		if (strcmp(arg, "all") == 0) {
			o->status = NULL;
			return 0;
		}
		if (strcmp(arg, "init") != 0 && strcmp(arg, "in-progress") != 0 &&
		    strcmp(arg, "completed") != 0) {
			log_err("--status %s: expected init, in-progress, completed or all", arg);
			return -EINVAL;
		}
		o->status = arg;
		return 0;
	case CONFERENCE_LIST_OPT_NAME:
		o->name = arg;
		return 0;
	case CONFERENCE_LIST_OPT_END:
		if (*arg == '\0') {
			log_err("--end needs a conference SID or friendly name");
			return -EINVAL;
		}
		o->end = arg;
		return 0;
	case CONFERENCE_LIST_OPT_YES:
		o->yes = true;
		return 0;
	case CONFERENCE_LIST_OPT_WATCH:
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
conference_list_check(struct cli *cli, void *state, int nargs, char **args)
{
	const struct conference_list_opts *o = state;

	if (nargs > 0) {
		log_err("unexpected argument '%s'; see --help", args[0]);
		return -EINVAL;
	}
	if (o->watch_ms > 0 && o->end != NULL) {
		log_err("--watch and --end do not go together");
		return -EINVAL;
	}
	return 0;
}

static void
conference_list_item(const struct json_value *item, void *arg)
{
	struct conference_list_set *set = arg;
	const struct conference_list_opts *o = set->opts;
	struct conference_list_conf c;
	const char *name = NULL;
	const char *sid = NULL;

	(void)json_get_string(item, "friendly_name", &name);
	(void)json_get_string(item, "sid", &sid);
	if (sid == NULL || !cli_glob_match(o->name, name != NULL ? name : ""))
		return;
	if (o->end != NULL && strcmp(o->end, sid) != 0 &&
	    (name == NULL || strcmp(o->end, name) != 0))
		return;
	memset(&c, 0, sizeof(c));
	c.sid = xstrdup(sid);
	c.name = name != NULL ? xstrdup(name) : NULL;
	c.status = cli_json_strdup(item, "status");
	c.date_created = cli_json_strdup(item, "date_created");
	if (c.date_created == NULL || cli_parse_time(c.date_created, &c.created) < 0)
		c.created = -1;
	c.participants = -1;
	set->v = xreallocarray(set->v, set->n + 1, sizeof(*set->v));
	set->v[set->n++] = c;
}

static void
conference_list_set_clear(struct conference_list_set *set)
{
	size_t i;

	for (i = 0; i < set->n; i++) {
		size_t j;

		for (j = 0; j < set->v[i].nparts; j++) {
			free(set->v[i].parts[j].call_sid);
			free(set->v[i].parts[j].label);
			free(set->v[i].parts[j].status);
		}
		free(set->v[i].parts);
		free(set->v[i].sid);
		free(set->v[i].name);
		free(set->v[i].status);
		free(set->v[i].date_created);
		free(set->v[i].end_error);
	}
	free(set->v);
}

static void
conference_list_participant(const struct json_value *item, void *arg)
{
	struct conference_list_conf *c = arg;
	struct conference_list_participant *p;

	c->participants++;
	c->parts = xreallocarray(c->parts, c->nparts + 1, sizeof(*c->parts));
	p = &c->parts[c->nparts++];
	memset(p, 0, sizeof(*p));
	p->call_sid = cli_json_strdup(item, "call_sid");
	p->label = cli_json_strdup(item, "label");
	p->status = cli_json_strdup(item, "status");
	(void)json_get_bool(item, "hold", &p->hold);
	(void)json_get_bool(item, "muted", &p->muted);
}

/* "customer, worker (hold)": who is in the conference, by label (else call SID). */
static void
conference_list_who(const struct conference_list_conf *c, struct buf *out)
{
	size_t i;

	buf_reset(out);
	for (i = 0; i < c->nparts; i++) {
		const struct conference_list_participant *p = &c->parts[i];

		buf_printf(out, "%s%s", i > 0 ? ", " : "",
			   p->label != NULL	 ? p->label
			   : p->call_sid != NULL ? p->call_sid
						 : "?");
		if (p->hold || p->muted)
			buf_printf(out, " (%s%s%s)", p->hold ? "hold" : "",
				   p->hold && p->muted ? ", " : "", p->muted ? "muted" : "");
	}
}

static void
conference_list_participants_done(int result, void *arg)
{
	struct conference_list_conf *c = arg;

	if (result != CLI_EXIT_OK)
		c->participants = -1;
}

/* Counts the participants of every conference that has not ended, in parallel. */
static void
conference_list_count(struct cli *cli, struct conference_list_set *set)
{
	struct cli_rest *rest = cli_get_rest(cli);
	struct cli_rest_batch *b = cli_rest_batch_new(rest, CLI_DEFAULT_JOBS);
	size_t i;

	for (i = 0; i < set->n; i++) {
		struct conference_list_conf *c = &set->v[i];
		char *url;
		char *what;

		if (c->status != NULL && strcmp(c->status, "completed") == 0)
			continue;
		c->participants = 0;
		url = twilio_url_conference_participants(cli_rest_twilio(rest), c->sid);
		what = xasprintf("list participants of %s", c->sid);
		cli_rest_batch_list(b, what, url, NULL, "participants", conference_list_participant,
				    conference_list_participants_done, c);
		free(what);
		free(url);
	}
	(void)cli_rest_batch_run(b, NULL); /* every callback ran; failures were reported */
	cli_rest_batch_free(b);
}

static void
conference_list_iso(int64_t t, char *out, size_t size)
{
	char iso[DATE_ISO_LEN];

	if (t < 0) {
		(void)snprintf(out, size, "-");
		return;
	}
	date_format_iso(t * 1000, iso);
	(void)snprintf(out, size, "%s", iso);
}

static void
conference_list_print(struct cli *cli, const struct conference_list_set *set, bool ending)
{
	struct cli_table *t;
	struct json_gen *g;
	struct buf who;
	char created[32];
	size_t i;
	size_t j;

	if (cli_json(cli)) {
		g = cli_json_gen(cli);
		json_gen_object_open(g);
		json_gen_kv_string(g, "accountSid", cli_account(cli));
		json_gen_kv_int(g, "count", (int64_t)set->n);
		json_gen_key(g, "conferences");
		json_gen_array_open(g);
		for (i = 0; i < set->n; i++) {
			const struct conference_list_conf *c = &set->v[i];

			json_gen_object_open(g);
			json_gen_kv_string(g, "sid", c->sid);
			json_gen_kv_string(g, "friendlyName", c->name);
			json_gen_kv_string(g, "status", c->status);
			if (c->created >= 0)
				json_gen_kv_int(g, "createdMs", c->created * 1000);
			else
				json_gen_kv_null(g, "createdMs");
			if (c->participants >= 0)
				json_gen_kv_int(g, "participantCount", c->participants);
			else
				json_gen_kv_null(g, "participantCount");
			json_gen_key(g, "participants");
			if (c->participants < 0) {
				json_gen_null(g);
			} else {
				json_gen_array_open(g);
				for (j = 0; j < c->nparts; j++) {
					json_gen_object_open(g);
					json_gen_kv_string(g, "callSid", c->parts[j].call_sid);
					json_gen_kv_string(g, "label", c->parts[j].label);
					json_gen_kv_string(g, "status", c->parts[j].status);
					json_gen_kv_bool(g, "hold", c->parts[j].hold);
					json_gen_kv_bool(g, "muted", c->parts[j].muted);
					json_gen_object_close(g);
				}
				json_gen_array_close(g);
			}
			if (ending) {
				json_gen_kv_bool(g, "ended", c->end_ok);
				json_gen_kv_string(g, "error", c->end_error);
			}
			json_gen_object_close(g);
		}
		json_gen_array_close(g);
		json_gen_object_close(g);
		cli_json_print(cli);
		return;
	}
	t = cli_table_new();
	buf_init(&who);
	cli_table_column(t, "CONFERENCE", CLI_ALIGN_LEFT, false);
	cli_table_sid(t);
	cli_table_column(t, "NAME", CLI_ALIGN_LEFT, true);
	cli_table_column(t, "STATUS", CLI_ALIGN_LEFT, false);
	cli_table_column(t, "CREATED", CLI_ALIGN_LEFT, false);
	cli_table_priority(t, 5);
	cli_table_column(t, "N", CLI_ALIGN_RIGHT, false);
	cli_table_priority(t, 4);
	cli_table_column(t, "WHO", CLI_ALIGN_LEFT, true);
	if (ending)
		cli_table_column(t, "RESULT", CLI_ALIGN_LEFT, true);
	for (i = 0; i < set->n; i++) {
		const struct conference_list_conf *c = &set->v[i];

		conference_list_iso(c->created, created, sizeof(created));
		cli_table_row(t);
		cli_table_cell(t, c->sid, CLI_COLOR_NONE);
		cli_table_cell(t, c->name, CLI_COLOR_NONE);
		cli_table_cell(t, c->status,
			       c->status != NULL && strcmp(c->status, "in-progress") == 0
				       ? CLI_COLOR_GREEN
				       : CLI_COLOR_NONE);
		cli_table_cell(t, created, CLI_COLOR_NONE);
		if (c->participants >= 0)
			cli_table_cellf(t, CLI_COLOR_NONE, "%lld", (long long)c->participants);
		else
			cli_table_cell(t, "-", CLI_COLOR_NONE);
		conference_list_who(c, &who);
		cli_table_cell(t, who.len > 0 ? who.data : "-", CLI_COLOR_NONE);
		if (ending)
			cli_table_cell(t, c->end_ok ? "ended" : c->end_error,
				       c->end_ok ? CLI_COLOR_GREEN : CLI_COLOR_RED);
	}
	if (set->n == 0 || cli_table_print(t, cli, cli_out(cli)) == 0)
		cli_printf(cli, "%zu conference%s\n", set->n, set->n == 1 ? "" : "s");
	buf_clear(&who);
	cli_table_free(t);
}

static void
conference_list_end_done(const struct cli_rest_reply *reply, void *arg)
{
	struct conference_list_conf *c = arg;

	if (cli_rest_reply_ok(reply)) {
		c->end_ok = true;
		return;
	}
	c->end_error = xasprintf("not ended: %s", reply->error.message != NULL
							  ? reply->error.message
							  : http_outcome_name(reply->http.outcome));
	log_err("end %s: %s", c->sid, c->end_error);
}

/* Ends every conference in set; returns an enum cli_exit value. */
static int
conference_list_end(struct cli *cli, const struct conference_list_opts *o,
		    struct conference_list_set *set)
{
	struct cli_rest *rest = cli_get_rest(cli);
	struct cli_rest_batch *b;
	struct form *body;
	char *encoded;
	char *prompt;
	size_t failed = 0;
	size_t i;

	if (set->n == 0) {
		log_err("no in-progress conference has the SID or name '%s'; nothing ended",
			o->end);
		return CLI_EXIT_PARTIAL;
	}
	if (!o->yes) {
		for (i = 0; i < set->n; i++) {
			char *sid = cli_sanitize(set->v[i].sid);
			char *name = cli_sanitize(set->v[i].name);

			(void)fprintf(stderr, "  %s  %s  %lld participant(s)\n", sid, name,
				      (long long)(set->v[i].participants > 0
							  ? set->v[i].participants
							  : 0));
			free(sid);
			free(name);
		}
		prompt = xasprintf("End %zu conference%s for everyone in it? [y/N] ", set->n,
				   set->n == 1 ? "" : "s");
		switch (cli_confirm(prompt, NULL)) {
		case CLI_CONFIRM_YES:
			break;
		case CLI_CONFIRM_NO:
			free(prompt);
			log_err("not confirmed; nothing ended");
			return CLI_EXIT_USAGE;
		case CLI_CONFIRM_NO_TTY:
			free(prompt);
			log_err("no terminal to confirm on; nothing ended (use --yes to end "
				"without "
				"asking)");
			return CLI_EXIT_USAGE;
		}
		free(prompt);
	}
	body = form_new();
	form_add(body, "Status", "completed");
	encoded = form_encode(body);
	b = cli_rest_batch_new(rest, CLI_DEFAULT_JOBS);
	for (i = 0; i < set->n; i++) {
		char *url = twilio_url_conference(cli_rest_twilio(rest), set->v[i].sid);

		cli_rest_batch_add(b, HTTP_POST, url, encoded, NULL, conference_list_end_done,
				   &set->v[i]);
		free(url);
	}
	(void)cli_rest_batch_run(b, NULL); /* every callback ran and recorded its outcome */
	cli_rest_batch_free(b);
	free(encoded);
	form_free(body);
	conference_list_print(cli, set, true);
	for (i = 0; i < set->n; i++) {
		if (!set->v[i].end_ok)
			failed++;
	}
	return failed > 0 ? CLI_EXIT_PARTIAL : CLI_EXIT_OK;
}

static int
conference_list_once(struct cli *cli, void *state)
{
	const struct conference_list_opts *o = state;
	struct cli_rest *rest = cli_get_rest(cli);
	struct conference_list_set set;
	struct form *q = form_new();
	char *url = twilio_url_conferences(cli_rest_twilio(rest));
	const char *status = o->end != NULL ? "in-progress" : o->status;
	int r;

	memset(&set, 0, sizeof(set));
	set.opts = o;
	if (status != NULL)
		form_add(q, "Status", status);
	r = cli_rest_list(rest, "list conferences", url, q, "conferences", conference_list_item,
			  &set);
	if (r != CLI_EXIT_OK)
		goto out;
	conference_list_count(cli, &set);
	if (o->end != NULL)
		r = conference_list_end(cli, o, &set);
	else
		conference_list_print(cli, &set, false);
out:
	conference_list_set_clear(&set);
	form_free(q);
	free(url);
	return r;
}

static int
conference_list_run(struct cli *cli, void *state, int nargs, char **args)
{
	const struct conference_list_opts *o = state;

	if (o->watch_ms > 0)
		return cli_watch(cli, o->watch_ms, conference_list_once, state);
	return conference_list_once(cli, state);
}

static const struct cli_tool conference_list_tool = {
	.name = "trhub-conference-list",
	.usage = "[OPTION]...",
	.summary = "List conferences and who is in them; --end ends them.",
	.options = conference_list_options,
	.option = conference_list_option,
	.check = conference_list_check,
	.run = conference_list_run,
	.needs = 0,
};

int
main(int argc, char **argv)
{
	struct conference_list_opts opts;

	memset(&opts, 0, sizeof(opts));
	opts.status = "in-progress";
	return cli_main(&conference_list_tool, &opts, argc, argv);
}
