/*
 * cli_progress: one line on stderr redrawn in place ("\r"), only on a
 * terminal and never with -q, so logs and pipes never see it. Redraws are
 * throttled to every 100 ms on the monotonic clock; the final state is
 * drawn once more before the line is cleared.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli_progress.h"
#include "date.h"
#include "xmalloc.h"

#define CLI_PROGRESS_INTERVAL_MS 100
#define CLI_PROGRESS_BAR_WIDTH	 30

struct cli_progress {
	char *label;
	size_t total;
	size_t done;
	int64_t last_draw_ms;
	bool drawn;
};

static int64_t
cli_progress_now_ms(void)
{
	return date_monotonic_ms();
}

static void
cli_progress_draw(struct cli_progress *p)
{
	char bar[CLI_PROGRESS_BAR_WIDTH + 1];
	char line[160];
	size_t filled = p->total > 0 ? p->done * CLI_PROGRESS_BAR_WIDTH / p->total : 0;
	size_t pct = p->total > 0 ? p->done * 100 / p->total : 100;
	int n;

	if (filled > CLI_PROGRESS_BAR_WIDTH)
		filled = CLI_PROGRESS_BAR_WIDTH;
	memset(bar, '#', filled);
	memset(bar + filled, '.', CLI_PROGRESS_BAR_WIDTH - filled);
	bar[CLI_PROGRESS_BAR_WIDTH] = '\0';
	n = snprintf(line, sizeof(line), "\r%s [%s] %zu/%zu %3zu%%\033[K", p->label, bar, p->done,
		     p->total, pct);
	/* A progress line that cannot be written is not worth failing the run for. */
	if (n > 0)
		(void)!write(STDERR_FILENO, line,
			     (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1);
	p->drawn = true;
	p->last_draw_ms = cli_progress_now_ms();
}

struct cli_progress *
cli_progress_new(const struct cli *cli, const char *label, size_t total)
{
	struct cli_progress *p;

	if (cli_quiet(cli) || isatty(STDERR_FILENO) != 1)
		return NULL;
	p = xcalloc(1, sizeof(*p));
	p->label = xstrdup(label);
	p->total = total;
	cli_progress_draw(p);
	return p;
}

void
cli_progress_update(struct cli_progress *p, size_t done)
{
	if (p == NULL)
		return;
	p->done = done;
	if (done >= p->total || cli_progress_now_ms() - p->last_draw_ms >= CLI_PROGRESS_INTERVAL_MS)
		cli_progress_draw(p);
}

void
cli_progress_free(struct cli_progress *p)
{
	static const char clear[] = "\r\033[K";

	if (p == NULL)
		return;
	if (p->drawn) /* as above: best effort */
		(void)!write(STDERR_FILENO, clear, sizeof(clear) - 1);
	free(p->label);
	free(p);
}
