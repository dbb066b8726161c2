#pragma once

#include <stddef.h>

#include "cli.h"

/*
 * cli_progress: a progress bar on stderr, drawn only when stderr is a
 * terminal and -q was not given (it stays with --json, which owns stdout).
 * Redraws at most every 100 ms; cli_progress_free clears the line.
 */
struct cli_progress;
struct cli_progress *cli_progress_new(const struct cli *cli, const char *label, size_t total);
void cli_progress_update(struct cli_progress *p, size_t done);
void cli_progress_free(struct cli_progress *p);
