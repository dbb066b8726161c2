/*
 * num: the one strict integer parser. strtoll alone takes leading blanks,
 * a '+' sign and stops at the first non-digit; every caller used to add its
 * own checks around it, each a little differently.
 */

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>

#include "num.h"

int
num_parse_i64(const char *s, int64_t min, int64_t max, int64_t *out)
{
	const char *p = s;
	char *end = NULL;
	long long v;

	if (s == NULL)
		return -EINVAL;
	if (*p == '-')
		p++;
	if (!isdigit((unsigned char)*p))
		return -EINVAL;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (*end != '\0')
		return -EINVAL;
	if (errno == ERANGE || v < min || v > max)
		return -ERANGE;
	*out = v;
	return 0;
}
