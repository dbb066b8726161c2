#pragma once

/*
 * tz: UTC offsets of an IANA time zone and the start of the operational day
 * ("day_start = HH:MM" in "timezone"), computed from the zone's TZif file
 * (RFC 8536) with its POSIX TZ footer for times after the last transition.
 *
 * Why not localtime_r: glibc only converts through the process-wide TZ
 * variable, and a daemon must not setenv(TZ) at runtime (not thread-safe,
 * changes every other module's idea of local time, and a reload could switch
 * zones under them). Reading the zone file once into an immutable object
 * gives the same answers without global state; each user (model, stats)
 * loads its own.
 *
 * Dates themselves (ISO-8601, RFC 2822) are common/date.h's.
 */

#include <stddef.h>
#include <stdint.h>

struct tz_zone;

#define TZ_DEFAULT_DIR "/usr/share/zoneinfo"

/*
 * Loads zone name (e.g. "Europe/Berlin") from dir (NULL or "":
 * TZ_DEFAULT_DIR). name NULL, "" or "UTC" gives UTC without reading a file.
 * Names with "..", a leading '/' or characters outside [A-Za-z0-9/_+-] are
 * refused. On success the caller owns *zone_out (tz_zone_free). Returns
 * -EINVAL (bad name or malformed file) or a negative errno from reading,
 * with an allocated message in *cause_out when cause_out is not NULL.
 */
int tz_zone_load(const char *dir, const char *name, struct tz_zone **zone_out, char **cause_out);
/* Parses len bytes of TZif data (read only during the call). Errors as tz_zone_load. */
int tz_zone_parse(const unsigned char *data, size_t len, struct tz_zone **zone_out,
		  char **cause_out);
/* A zone that is always UTC. Caller owns it. */
struct tz_zone *tz_zone_utc(void);
/* NULL-safe. */
void tz_zone_free(struct tz_zone *z);

/* Local time minus UTC, in seconds, at the UTC instant utc_s. */
int32_t tz_offset_s(const struct tz_zone *z, int64_t utc_s);

/*
 * The UTC instant (ms) at which the operational day containing utc_ms began:
 * the latest local time day_start_minutes after a local midnight that is not
 * after utc_ms. On a DST change the local wall-clock time is converted with
 * the offset in force at that moment (a start inside a gap moves forward).
 */
int64_t tz_day_start_ms(const struct tz_zone *z, int day_start_minutes, int64_t utc_ms);
