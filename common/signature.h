#pragma once

/*
 * X-Twilio-Signature (twilio-api.md section 7): Base64(HMAC-SHA1(auth token,
 * URL + sorted parameter names and values)). Repeated names contribute their
 * distinct values in sorted order (twilio-python, twilio-node). Signatures
 * are computed in code point order (twilio-python); verification accepts
 * UTF-16 code unit order (twilio-node) too. Comparison is constant-time
 * (CRYPTO_memcmp). Keeps a keyed HMAC template in static state: not for
 * concurrent use from several threads.
 */

#include <stddef.h>

#include "form.h"

/* Base64 of a 20-byte digest: 28 characters. */
#define SIGNATURE_LEN 28

enum signature_outcome {
	SIGNATURE_MATCH = 0,
	SIGNATURE_MISMATCH = 1,
};

/*
 * Computes the signature of url (exact string Twilio requested, no fragment)
 * and params (may be NULL for none) into out (NUL-terminated).
 * Returns 0, or -EINVAL for an empty token or URL.
 */
int signature_compute(const char *auth_token, const char *url, const struct form *params,
		      char out[SIGNATURE_LEN + 1]);

/*
 * Verifies header against url and params, trying the URL as given, with the
 * port removed, and with the scheme's default port added (:443 / :80), each
 * with the parameters sorted by code point and, when different, by UTF-16
 * code unit.
 * A NULL or empty header is a mismatch. A '#fragment' in url is ignored.
 * Returns SIGNATURE_MATCH, SIGNATURE_MISMATCH, or -EINVAL for a URL that
 * cannot be parsed.
 */
int signature_verify(const char *auth_token, const char *url, const struct form *params,
		     const char *header);

/*
 * JSON-body variant: url carries bodySHA256=<hex>; the URL alone is signed
 * and the SHA-256 of body must equal the parameter. Same returns as
 * signature_verify (a missing bodySHA256 parameter is a mismatch).
 */
int signature_verify_body(const char *auth_token, const char *url, const void *body,
			  size_t body_len, const char *header);

/* Lower-case hex SHA-256 of data into out (65 bytes with the NUL). */
void signature_sha256_hex(const void *data, size_t len, char out[65]);
