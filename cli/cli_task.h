#pragma once

/*
 * cli_task: the task model and filters the task tools share
 * (trhub-task-list, trhub-task-fix, trhub-task-delete-all): --status
 * (repeatable), --queue NAME|WQ..., --older-than DURATION, and a fetch of
 * every matching task of the workspace, all pages.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "json.h"
#include "task_status.h"

struct cli;

enum cli_task_opt {
	CLI_TASK_OPT_STATUS = 1100,
	CLI_TASK_OPT_QUEUE,
	CLI_TASK_OPT_OLDER_THAN,
};

/* Option table entries for the filters, in a tool's struct cli_option array. */
#define CLI_TASK_FILTER_OPTIONS                                                      \
	{ "status", 0, "STATUS", CLI_TASK_OPT_STATUS,                                \
	  "only tasks in STATUS (pending, reserved, assigned, wrapping, completed, " \
	  "canceled); repeatable" },                                                 \
		{ "queue", 0, "QUEUE", CLI_TASK_OPT_QUEUE,                           \
		  "only tasks in this queue (friendly name or WQ SID)" },            \
	{                                                                            \
		"older-than", 0, "DURATION", CLI_TASK_OPT_OLDER_THAN,                \
			"only tasks older than DURATION (90s, 15m, 2h, 1d)"          \
	}

#define CLI_TASK_MAX_STATUSES TASK_STATUS_COUNT

struct cli_task_filter {
	const char *statuses[CLI_TASK_MAX_STATUSES];
	size_t nstatuses;
	const char *queue;
	int64_t older_than_s; /* -1: no --older-than */
};

struct cli_task_reservation {
	char *sid;
	char *status;
	char *worker_sid;
	char *worker_name;
};

struct cli_task {
	char *sid;
	char *status;
	int64_t priority;
	int64_t age_s;	    /* from "age", else date_created; -1 unknown */
	int64_t updated_s;  /* seconds since date_updated; -1 unknown */
	char *date_created; /* as sent */
	char *date_updated;
	char *queue_sid;
	char *queue_name;
	char *from;	      /* attributes.from */
	char *conference_sid; /* attributes.conference.sid */
	char *channel;	      /* task_channel_unique_name: "voice", "chat", ... */
	struct cli_task_reservation *reservations;
	size_t nreservations;
	bool reservations_fetched;
};

void cli_task_filter_init(struct cli_task_filter *f);
/*
 * Handles a CLI_TASK_OPT_* option. Returns 0, 1 when id is not a filter
 * option, or -EINVAL after logging a bad value.
 */
int cli_task_filter_option(struct cli_task_filter *f, int id, const char *arg);
/* True when any filter option was given. */
bool cli_task_filter_any(const struct cli_task_filter *f);
/* True when the task passes every filter. */
bool cli_task_filter_match(const struct cli_task_filter *f, const struct cli_task *t);
/* True for the six assignment statuses TaskRouter knows. */
bool cli_task_status_valid(const char *status);

/* Fills t from a task resource; clear with cli_task_clear. */
void cli_task_from_json(struct cli_task *t, const struct json_value *item);
void cli_task_clear(struct cli_task *t);

/*
 * Lists the workspace's tasks matching f (status filtered by the server too),
 * all pages. On success *tasks_out (*n_out entries) is the caller's: free
 * with cli_task_array_free. Returns an enum cli_exit value; failures have been
 * reported.
 */
int cli_task_fetch(struct cli *cli, const struct cli_task_filter *f, struct cli_task **tasks_out,
		   size_t *n_out);
void cli_task_array_free(struct cli_task *tasks, size_t n);

/*
 * Fetches the reservations of tasks (all pages each), jobs at a time, for
 * the tasks in a status that can have them (not pending). Returns an enum
 * cli_exit value: CLI_EXIT_PARTIAL when some could not be fetched (reported).
 */
int cli_task_fetch_reservations(struct cli *cli, struct cli_task *tasks, size_t n, int jobs);
