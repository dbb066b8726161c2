#pragma once

/*
 * Twilio SIDs: two upper-case letters and 32 hex digits (34 characters).
 * Generated SIDs use lower-case hex, like Twilio's.
 */

#include <stdbool.h>
#include <stdint.h>

#define SID_LEN 34

/* True if s is a SID with this two-letter prefix (hex of either case). */
bool sid_is_valid(const char *s, const char *prefix);
/* True if s has the shape of any SID ("looks like a SID", Sync's rule). */
bool sid_has_shape(const char *s);
/* Writes prefix + 32 lower-case hex digits of hi:lo and a NUL into out. */
void sid_format(char out[SID_LEN + 1], const char *prefix, uint64_t hi, uint64_t lo);
