#pragma once

/*
 * task_status: a TaskRouter task's assignmentStatus, the one name table
 * shared by trhubd, the CLIs and the emulator (twilio-api.md section 3).
 */

#include <stdbool.h>

enum task_status {
	TASK_STATUS_PENDING,
	TASK_STATUS_RESERVED,
	TASK_STATUS_ASSIGNED,
	TASK_STATUS_WRAPPING,
	TASK_STATUS_COMPLETED,
	TASK_STATUS_CANCELED,
	TASK_STATUS_COUNT,
};

/* The wire name ("pending", ...); "?" for a value out of range. */
const char *task_status_name(enum task_status status);
/* The status named s (exact, lower case), or -1 for NULL or an unknown name. */
int task_status_parse(const char *s);
/* True for pending, reserved, assigned and wrapping (a task still in the workspace's queues). */
bool task_status_is_open(enum task_status status);
