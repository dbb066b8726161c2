#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "cli.h"

/*
 * cli_table: an aligned table for human output. Columns are declared first; cells are copied.
 * Printing pads every column to its widest cell and, on a terminal, shrinks the columns marked
 * shrinkable (ellipsis "~") so that lines fit the width. Colour applies to a whole cell and is not
 * counted in widths. Control characters in cells (untrusted names) are printed as '?'.
 */
struct cli_table;

enum cli_align {
	CLI_ALIGN_LEFT,
	CLI_ALIGN_RIGHT,
};

struct cli_table *cli_table_new(void);
void cli_table_free(struct cli_table *t);
void cli_table_column(struct cli_table *t, const char *header, enum cli_align align, bool shrink);
/* Starts a new row; cells are added left to right. */
void cli_table_row(struct cli_table *t);
/* NULL prints as "-". */
void cli_table_cell(struct cli_table *t, const char *text, enum cli_color color);
void cli_table_cellf(struct cli_table *t, enum cli_color color, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
size_t cli_table_rows(const struct cli_table *t);
void cli_table_print(struct cli_table *t, const struct cli *cli, FILE *out);
