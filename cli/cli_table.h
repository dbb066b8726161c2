#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "cli.h"

/*
 * cli_table: an aligned table for human output. Columns are declared first; cells are copied.
 * Printing pads every column to its widest cell and, when a line would not fit the width
 * (cli_term_width), first shortens SID columns to unique prefixes, then leaves out columns by
 * drop priority, then shrinks the columns marked shrinkable (ending a cut cell in "~").
 * -o wide prints everything whole; --columns picks and orders columns by header. Colour applies
 * to a whole cell and is not counted in widths. Cells go through cli_sanitize (untrusted names
 * cannot move the cursor).
 */
struct cli_table;

enum cli_align {
	CLI_ALIGN_LEFT,
	CLI_ALIGN_RIGHT,
};

struct cli_table *cli_table_new(void);
void cli_table_free(struct cli_table *t);
void cli_table_column(struct cli_table *t, const char *header, enum cli_align align, bool shrink);
/* The last column added may be left out when the table does not fit; higher drop goes first. */
void cli_table_priority(struct cli_table *t, int drop);
/* The last column added holds SIDs, shortened to unique prefixes when the table does not fit. */
void cli_table_sid(struct cli_table *t);
/* Starts a new row; cells are added left to right. */
void cli_table_row(struct cli_table *t);
/* NULL prints as "-". */
void cli_table_cell(struct cli_table *t, const char *text, enum cli_color color);
void cli_table_cellf(struct cli_table *t, enum cli_color color, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
size_t cli_table_rows(const struct cli_table *t);
/*
 * Prints the table (nothing with -q). Returns 0, or -1 after logging an unknown --columns
 * name (the tool's exit status becomes CLI_EXIT_USAGE through cli_fail).
 */
int cli_table_print(struct cli_table *t, struct cli *cli, FILE *out);
