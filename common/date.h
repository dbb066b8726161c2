#pragma once

/*
 * date: the one reader and writer of the date forms Twilio uses, shared by
 * trhubd, the CLIs and the emulator, and the process's two millisecond
 * clocks.
 *
 *   ISO-8601   "2015-07-30T20:00:00Z", ".250" fractions, "+02:00" offsets
 *              (TaskRouter v1, Sync, statistics parameters)
 *   RFC 2822   "Sun, 06 Dec 2026 03:00:00 +0000" (API 2010, voice callbacks)
 *   integers   Unix seconds or milliseconds (event callbacks' Timestamp)
 *
 * No function reads the time zone or the locale; all times are UTC.
 */

#include <stdint.h>

/* "YYYY-MM-DDTHH:MM:SSZ" plus NUL. */
#define DATE_ISO_LEN 21
/* "Sun, 06 Dec 2026 03:00:00 +0000" plus NUL. */
#define DATE_RFC2822_LEN 32
/*
 * An integer date at least this large is milliseconds, below it seconds:
 * 1e11 seconds is the year 5138, 1e11 milliseconds is March 1973.
 */
#define DATE_MS_THRESHOLD 100000000000LL

/* How much of an ISO-8601 date-time date_parse_iso requires. */
enum date_iso_mode {
	DATE_ISO_STRICT,  /* date, time and zone ("Z" or "+HH:MM") */
	DATE_ISO_LENIENT, /* also a date alone, and no zone (both UTC): REST parameters */
};

/*
 * Parses "YYYY-MM-DD[T ]HH:MM:SS[.fraction](Z|+HH:MM|-HH:MM)" (see mode).
 * Returns 0 with *ms_out (Unix milliseconds), or -EINVAL (nothing written)
 * for NULL, trailing bytes or an impossible date.
 */
int date_parse_iso(const char *s, enum date_iso_mode mode, int64_t *ms_out);
/*
 * Parses RFC 2822 "[Day, ]DD Mon YYYY HH:MM:SS (+HHMM|-HHMM|GMT|UT|Z)".
 * Returns 0 with *ms_out, or -EINVAL.
 */
int date_parse_rfc2822(const char *s, int64_t *ms_out);
/*
 * Any date Twilio sends: an integer (Unix seconds, or milliseconds from
 * DATE_MS_THRESHOLD on), ISO-8601 (strict) or RFC 2822. Returns 0 with
 * *ms_out, or -EINVAL for anything else (empty, negative, overflowing).
 */
int date_parse(const char *s, int64_t *ms_out);

/* utc_ms (floored to seconds) as "YYYY-MM-DDTHH:MM:SSZ"; years clamped to 0..9999. */
void date_format_iso(int64_t utc_ms, char out[DATE_ISO_LEN]);
/* utc_ms (floored to seconds) as "Sun, 06 Dec 2026 03:00:00 +0000". */
void date_format_rfc2822(int64_t utc_ms, char out[DATE_RFC2822_LEN]);

/* Days since 1970-01-01 of a proleptic Gregorian date (month 1..12). */
int64_t date_days_from_civil(int64_t y, int m, int d);
/* The proleptic Gregorian date of a day number (inverse of date_days_from_civil). */
void date_civil_from_days(int64_t days, int64_t *y_out, int *m_out, int *d_out);
/* Days in month m (1..12) of year y. */
int date_days_in_month(int64_t y, int m);
/* a / b rounded towards minus infinity (b > 0). */
int64_t date_floor_div(int64_t a, int64_t b);

/* Wall-clock time (CLOCK_REALTIME), Unix milliseconds. */
int64_t date_now_ms(void);
/* CLOCK_MONOTONIC in milliseconds: for intervals and deadlines, never for dates. */
int64_t date_monotonic_ms(void);
