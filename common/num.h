#pragma once

/*
 * Numbers from text that came from outside (config values, form fields,
 * webhook parameters, command-line arguments), parsed one strict way.
 */

#include <stdint.h>

/*
 * Parses s as a whole decimal integer: an optional '-', then one or more
 * digits, nothing else (no blanks, no '+', no other base). s is borrowed.
 * Returns 0 with *out set; -EINVAL when s is NULL, empty or not of that
 * shape; -ERANGE when the value is outside [min, max] or int64_t. *out is
 * written only on success.
 */
int num_parse_i64(const char *s, int64_t min, int64_t max, int64_t *out);
