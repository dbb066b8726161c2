/*
 * task_status: the names of a task's assignmentStatus (task_status.h).
 */

#include <stdbool.h>
#include <string.h>

#include "task_status.h"

static const char *const task_status_names[TASK_STATUS_COUNT] = {
	"pending", "reserved", "assigned", "wrapping", "completed", "canceled",
};

const char *
task_status_name(enum task_status status)
{
	if ((int)status < 0 || status >= TASK_STATUS_COUNT)
		return "?";
	return task_status_names[status];
}

int
task_status_parse(const char *s)
{
	if (s == NULL)
		return -1;
	for (int i = 0; i < TASK_STATUS_COUNT; i++) {
		if (strcmp(s, task_status_names[i]) == 0)
			return i;
	}
	return -1;
}

bool
task_status_is_open(enum task_status status)
{
	return status == TASK_STATUS_PENDING || status == TASK_STATUS_RESERVED ||
	       status == TASK_STATUS_ASSIGNED || status == TASK_STATUS_WRAPPING;
}
