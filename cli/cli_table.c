/*
 * cli_table: aligned human tables. Widths count UTF-8 code points (not
 * bytes), so names with accents line up; wide (CJK) characters are counted
 * as one column, which only costs alignment, never correctness.
 *
 * On a terminal the shrinkable columns give up width, widest first, until a
 * line fits; a shrunk cell ends in '~'. Off a terminal nothing is cut, so
 * pipes and files always get complete values.
 */

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "cli_table.h"
#include "xmalloc.h"

/* Columns never shrink below this many code points. */
#define CLI_TABLE_MIN_WIDTH 6
#define CLI_TABLE_GAP	    2

struct cli_table_col {
	char *header;
	enum cli_align align;
	bool shrink;
	size_t width;
};

struct cli_table_cellv {
	char *text;
	enum cli_color color;
};

struct cli_table {
	struct cli_table_col *cols;
	size_t ncols;
	struct cli_table_cellv *cells; /* nrows * ncols, row-major */
	size_t nrows;
	size_t cur; /* cells filled in the current row */
};

/* Code points in s. */
static size_t
cli_table_width(const char *s)
{
	size_t n = 0;

	for (; *s != '\0'; s++) {
		if (((unsigned char)*s & 0xc0) != 0x80)
			n++;
	}
	return n;
}

/* Byte length of the first max code points of s. */
static size_t
cli_table_prefix_bytes(const char *s, size_t max)
{
	size_t n = 0;
	size_t i;

	for (i = 0; s[i] != '\0'; i++) {
		if (((unsigned char)s[i] & 0xc0) != 0x80) {
			if (n == max)
				break;
			n++;
		}
	}
	return i;
}

/* A copy of s with control characters replaced, so names cannot move the cursor. */
static char *
cli_table_sanitize(const char *s)
{
	char *copy = xstrdup(s != NULL ? s : "-");
	char *p;

	for (p = copy; *p != '\0'; p++) {
		unsigned char c = (unsigned char)*p;

		if (c < 0x20 || c == 0x7f)
			*p = '?';
	}
	return copy;
}

struct cli_table *
cli_table_new(void)
{
	return xcalloc(1, sizeof(struct cli_table));
}

void
cli_table_free(struct cli_table *t)
{
	size_t i;

	if (t == NULL)
		return;
	for (i = 0; i < t->nrows * t->ncols; i++)
		free(t->cells[i].text);
	for (i = 0; i < t->ncols; i++)
		free(t->cols[i].header);
	free(t->cells);
	free(t->cols);
	free(t);
}

void
cli_table_column(struct cli_table *t, const char *header, enum cli_align align, bool shrink)
{
	struct cli_table_col *c;

	t->cols = xreallocarray(t->cols, t->ncols + 1, sizeof(*t->cols));
	c = &t->cols[t->ncols++];
	c->header = xstrdup(header);
	c->align = align;
	c->shrink = shrink;
	c->width = cli_table_width(header);
}

void
cli_table_row(struct cli_table *t)
{
	size_t i;

	t->cells = xreallocarray(t->cells, (t->nrows + 1) * t->ncols, sizeof(*t->cells));
	for (i = 0; i < t->ncols; i++) {
		t->cells[t->nrows * t->ncols + i].text = NULL;
		t->cells[t->nrows * t->ncols + i].color = CLI_COLOR_NONE;
	}
	t->nrows++;
	t->cur = 0;
}

void
cli_table_cell(struct cli_table *t, const char *text, enum cli_color color)
{
	struct cli_table_cellv *cell;
	size_t w;

	if (t->nrows == 0 || t->cur >= t->ncols)
		return;
	cell = &t->cells[(t->nrows - 1) * t->ncols + t->cur];
	cell->text = cli_table_sanitize(text);
	cell->color = color;
	w = cli_table_width(cell->text);
	if (w > t->cols[t->cur].width)
		t->cols[t->cur].width = w;
	t->cur++;
}

void
cli_table_cellf(struct cli_table *t, enum cli_color color, const char *fmt, ...)
{
	va_list ap;
	char *s;

	va_start(ap, fmt);
	s = xvasprintf(fmt, ap);
	va_end(ap);
	cli_table_cell(t, s, color);
	free(s);
}

size_t
cli_table_rows(const struct cli_table *t)
{
	return t->nrows;
}

/* Shrinks shrinkable columns, widest first, until the total fits width. */
static void
cli_table_fit(struct cli_table *t, size_t width)
{
	size_t total = 0;
	size_t i;

	for (i = 0; i < t->ncols; i++)
		total += t->cols[i].width + (i > 0 ? CLI_TABLE_GAP : 0);
	while (total > width) {
		struct cli_table_col *widest = NULL;

		for (i = 0; i < t->ncols; i++) {
			struct cli_table_col *c = &t->cols[i];

			if (c->shrink && c->width > CLI_TABLE_MIN_WIDTH &&
			    (widest == NULL || c->width > widest->width))
				widest = c;
		}
		if (widest == NULL)
			return;
		widest->width--;
		total--;
	}
}

static void
cli_table_put(FILE *out, const struct cli *cli, const char *text, enum cli_color color,
	      const struct cli_table_col *col, bool last)
{
	size_t w = cli_table_width(text);
	size_t pad;
	bool cut = w > col->width;

	if (cut)
		w = col->width;
	pad = col->width - w;
	if (col->align == CLI_ALIGN_RIGHT)
		(void)fprintf(out, "%*s", (int)pad, "");
	(void)fputs(cli_color_start(cli, color), out);
	if (cut) {
		(void)fwrite(text, 1, cli_table_prefix_bytes(text, w - 1), out);
		(void)fputc('~', out);
	} else {
		(void)fputs(text, out);
	}
	(void)fputs(color != CLI_COLOR_NONE ? cli_color_end(cli) : "", out);
	if (col->align == CLI_ALIGN_LEFT && !last)
		(void)fprintf(out, "%*s", (int)pad, "");
}

void
cli_table_print(struct cli_table *t, const struct cli *cli, FILE *out)
{
	int term = cli_term_width(cli);
	size_t r;
	size_t i;

	if (term > 0)
		cli_table_fit(t, (size_t)term);
	for (i = 0; i < t->ncols; i++) {
		if (i > 0)
			(void)fprintf(out, "%*s", CLI_TABLE_GAP, "");
		cli_table_put(out, cli, t->cols[i].header, CLI_COLOR_BOLD, &t->cols[i],
			      i + 1 == t->ncols);
	}
	(void)fputc('\n', out);
	for (r = 0; r < t->nrows; r++) {
		for (i = 0; i < t->ncols; i++) {
			const struct cli_table_cellv *cell = &t->cells[r * t->ncols + i];

			if (i > 0)
				(void)fprintf(out, "%*s", CLI_TABLE_GAP, "");
			cli_table_put(out, cli, cell->text != NULL ? cell->text : "-", cell->color,
				      &t->cols[i], i + 1 == t->ncols);
		}
		(void)fputc('\n', out);
	}
}
