/*
 * cli_table: aligned human tables. Widths count UTF-8 code points (not
 * bytes), so names with accents line up; wide (CJK) characters are counted
 * as one column, which only costs alignment, never correctness.
 *
 * When a line does not fit the width (cli_term_width: $COLUMNS, else the
 * terminal; off a terminal without $COLUMNS there is no limit, so pipes and
 * files get complete values), the table gives way in this order:
 *   1. SID columns are shortened to the shortest prefix that is still unique
 *      in the column (at least CLI_TABLE_SID_MIN characters), as git does;
 *   2. columns with a drop priority are left out, highest priority first;
 *   3. shrinkable columns give up width, widest first; a cut cell ends in '~'.
 * -o wide skips all three. --columns picks columns by header, in its order,
 * and those are never dropped.
 */

#include <ctype.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "buf.h"
#include "cli_table.h"
#include "log.h"
#include "xmalloc.h"

/* Columns never shrink below this many code points. */
#define CLI_TABLE_MIN_WIDTH 6
#define CLI_TABLE_GAP	    2
/* Shortened SIDs keep at least this many characters (prefix + 6 hex digits). */
#define CLI_TABLE_SID_MIN 8

struct cli_table_col {
	char *header;
	enum cli_align align;
	bool shrink;
	bool sid;
	int drop; /* 0: never dropped; higher: dropped first */
	size_t width;
	size_t sid_len; /* shortened SIDs: this many characters; 0 = whole */
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
	memset(c, 0, sizeof(*c));
	c->header = xstrdup(header);
	c->align = align;
	c->shrink = shrink;
	c->width = cli_table_width(header);
}

void
cli_table_priority(struct cli_table *t, int drop)
{
	if (t->ncols > 0)
		t->cols[t->ncols - 1].drop = drop;
}

void
cli_table_sid(struct cli_table *t)
{
	if (t->ncols > 0)
		t->cols[t->ncols - 1].sid = true;
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
	cell->text = cli_sanitize(text);
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

static int
cli_table_strcmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The shortest length at which every SID of column c is unique (at least CLI_TABLE_SID_MIN). */
static size_t
cli_table_sid_len(const struct cli_table *t, size_t c)
{
	const char **v = xcalloc(t->nrows + 1, sizeof(*v));
	size_t n = 0;
	size_t len = CLI_TABLE_SID_MIN;
	size_t r;

	for (r = 0; r < t->nrows; r++) {
		const char *text = t->cells[r * t->ncols + c].text;

		if (text != NULL && strcmp(text, "-") != 0)
			v[n++] = text;
	}
	qsort(v, n, sizeof(*v), cli_table_strcmp);
	for (r = 1; r < n; r++) {
		size_t common = 0;

		while (v[r - 1][common] != '\0' && v[r - 1][common] == v[r][common])
			common++;
		if (common + 1 > len)
			len = common + 1;
	}
	free(v);
	return len;
}

/* True when a --columns word names header: case-insensitive, '-' and '_' match a space. */
static bool
cli_table_header_is(const char *header, const char *word, size_t len)
{
	size_t i;

	if (strlen(header) != len)
		return false;
	for (i = 0; i < len; i++) {
		char w = word[i] == '-' || word[i] == '_' ? ' ' : word[i];

		if (tolower((unsigned char)header[i]) != tolower((unsigned char)w))
			return false;
	}
	return true;
}

/*
 * The columns to print, in order, into order[] (t->ncols entries at most);
 * returns how many, or -1 after logging an unknown --columns name.
 */
static int
cli_table_select(const struct cli_table *t, const char *list, size_t *order, bool *picked)
{
	const char *p = list;
	size_t n = 0;
	size_t i;

	if (list == NULL) {
		for (i = 0; i < t->ncols; i++)
			order[i] = i;
		*picked = false;
		return (int)t->ncols;
	}
	*picked = true;
	while (*p != '\0') {
		size_t len = strcspn(p, ",");
		bool found = false;

		for (i = 0; len > 0 && i < t->ncols; i++) {
			if (cli_table_header_is(t->cols[i].header, p, len)) {
				if (n < t->ncols)
					order[n++] = i;
				found = true;
				break;
			}
		}
		if (!found && len > 0) {
			struct buf names;
			char *word = xstrndup(p, len);

			buf_init(&names);
			for (i = 0; i < t->ncols; i++) {
				size_t j;

				buf_puts(&names, i > 0 ? ", " : "");
				for (j = 0; t->cols[i].header[j] != '\0'; j++)
					buf_putc(&names,
						 t->cols[i].header[j] == ' '
							 ? '-'
							 : (char)tolower((unsigned char)t->cols[i]
										 .header[j]));
			}
			log_err("--columns: no column '%s'; the columns are %s", word, names.data);
			buf_clear(&names);
			free(word);
			return -1;
		}
		p += len;
		if (*p == ',')
			p++;
	}
	return (int)n;
}

static size_t
cli_table_total(const struct cli_table *t, const size_t *order, size_t n)
{
	size_t total = 0;
	size_t i;

	for (i = 0; i < n; i++)
		total += t->cols[order[i]].width + (i > 0 ? CLI_TABLE_GAP : 0);
	return total;
}

/* Fits the selected columns into width as the top of the file says; returns the count left. */
static size_t
cli_table_fit(struct cli_table *t, size_t *order, size_t n, size_t width, bool picked)
{
	size_t i;

	if (cli_table_total(t, order, n) <= width)
		return n;
	for (i = 0; i < n; i++) {
		struct cli_table_col *c = &t->cols[order[i]];
		size_t len;

		if (!c->sid)
			continue;
		len = cli_table_sid_len(t, order[i]);
		if (len < c->width) {
			c->sid_len = len;
			c->width =
				len > cli_table_width(c->header) ? len : cli_table_width(c->header);
		}
	}
	while (!picked && cli_table_total(t, order, n) > width) {
		size_t drop = n;

		for (i = 0; i < n; i++) {
			if (t->cols[order[i]].drop > 0 &&
			    (drop == n || t->cols[order[i]].drop > t->cols[order[drop]].drop))
				drop = i;
		}
		if (drop == n)
			break;
		memmove(&order[drop], &order[drop + 1], (n - drop - 1) * sizeof(*order));
		n--;
	}
	while (cli_table_total(t, order, n) > width) {
		struct cli_table_col *widest = NULL;

		for (i = 0; i < n; i++) {
			struct cli_table_col *c = &t->cols[order[i]];

			if (c->shrink && c->width > CLI_TABLE_MIN_WIDTH &&
			    (widest == NULL || c->width > widest->width))
				widest = c;
		}
		if (widest == NULL)
			break;
		widest->width--;
	}
	return n;
}

static void
cli_table_put_cell(FILE *out, const struct cli *cli, const char *text, enum cli_color color,
		   const struct cli_table_col *col, bool last)
{
	char *cut = NULL;

	if (col->sid_len > 0 && strlen(text) > col->sid_len && strcmp(text, "-") != 0)
		text = cut = xstrndup(text, col->sid_len);
	cli_table_put(out, cli, text, color, col, last);
	free(cut);
}

int
cli_table_print(struct cli_table *t, struct cli *cli, FILE *out)
{
	int term = cli_wide(cli) ? 0 : cli_term_width(cli);
	size_t *order = xcalloc(t->ncols + 1, sizeof(*order));
	bool picked = false;
	int sel = cli_table_select(t, cli_columns(cli), order, &picked);
	size_t n;
	size_t r;
	size_t i;

	if (sel < 0) {
		free(order);
		cli_fail(cli, CLI_EXIT_USAGE);
		return -1;
	}
	n = (size_t)sel;
	if (cli_quiet(cli) || n == 0) {
		free(order);
		return 0;
	}
	if (term > 0)
		n = cli_table_fit(t, order, n, (size_t)term, picked);
	for (i = 0; i < n; i++) {
		if (i > 0)
			(void)fprintf(out, "%*s", CLI_TABLE_GAP, "");
		cli_table_put(out, cli, t->cols[order[i]].header, CLI_COLOR_BOLD,
			      &t->cols[order[i]], i + 1 == n);
	}
	(void)fputc('\n', out);
	for (r = 0; r < t->nrows; r++) {
		for (i = 0; i < n; i++) {
			const struct cli_table_cellv *cell = &t->cells[r * t->ncols + order[i]];

			if (i > 0)
				(void)fprintf(out, "%*s", CLI_TABLE_GAP, "");
			cli_table_put_cell(out, cli, cell->text != NULL ? cell->text : "-",
					   cell->color, &t->cols[order[i]], i + 1 == n);
		}
		(void)fputc('\n', out);
	}
	free(order);
	return 0;
}
