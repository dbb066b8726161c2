/*
 * sid: Twilio resource identifiers, two upper-case letters naming the
 * resource type ("WT" task, "WK" worker, "WR" reservation) followed by 32
 * hex digits: 34 characters in all. Validation is a pure shape check; it
 * never allocates and accepts any bytes (NULL included) without reading past
 * the first NUL.
 */

#include <assert.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "sid.h"

static bool
sid_is_upper(char c)
{
	return c >= 'A' && c <= 'Z';
}

static bool
sid_is_hex(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/**
 * sid_has_shape() - whether s looks like any SID
 * @s: NUL-terminated string (borrowed), or NULL
 *
 * Return: true for two upper-case ASCII letters followed by exactly 32 hex
 * digits of either case; false otherwise, including for NULL.
 */
bool
sid_has_shape(const char *s)
{
	if (s == NULL || !sid_is_upper(s[0]) || !sid_is_upper(s[1]))
		return false;
	for (size_t i = 2; i < SID_LEN; i++) {
		if (!sid_is_hex(s[i]))
			return false;
	}
	return s[SID_LEN] == '\0';
}

/**
 * sid_is_valid() - whether s is a SID of one resource type
 * @s: NUL-terminated string (borrowed), or NULL
 * @prefix: the two upper-case letters expected (borrowed), e.g. "WT"
 *
 * Return: true when s has the SID shape and starts with @prefix; false
 * otherwise, including when @prefix is not two upper-case letters.
 */
bool
sid_is_valid(const char *s, const char *prefix)
{
	if (prefix == NULL || !sid_is_upper(prefix[0]) || !sid_is_upper(prefix[1]) ||
	    prefix[2] != '\0')
		return false;
	return sid_has_shape(s) && s[0] == prefix[0] && s[1] == prefix[1];
}

/**
 * sid_format() - write a SID
 * @out: caller's buffer of SID_LEN + 1 bytes
 * @prefix: two upper-case letters (borrowed); anything else is a caller bug
 * @hi: first 64 bits of the hex part
 * @lo: last 64 bits of the hex part
 *
 * Writes @prefix, 32 lower-case hex digits of hi:lo and a NUL.
 */
void
sid_format(char out[SID_LEN + 1], const char *prefix, uint64_t hi, uint64_t lo)
{
	assert(prefix != NULL && sid_is_upper(prefix[0]) && sid_is_upper(prefix[1]) &&
	       prefix[2] == '\0');
	(void)snprintf(out, SID_LEN + 1, "%c%c%016" PRIx64 "%016" PRIx64, prefix[0], prefix[1], hi,
		       lo);
}
