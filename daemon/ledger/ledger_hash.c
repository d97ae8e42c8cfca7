/*
 * ledger_hash.c: scrypt password hashes as "$scrypt$ln=..,r=..,p=..$salt$hash".
 *
 * wolfCrypt does the work (wc_scrypt and its Hash DRBG); this file owns the
 * string format, its bounds, and the constant-time comparison.  The base64
 * codec is our own because the format wants the unpadded, canonical
 * spelling and wolfCrypt's decoder is lenient (it skips line breaks and
 * accepts padding), which would let one hash have many spellings.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <wolfssl/options.h>
#include <wolfssl/wolfcrypt/pwdbased.h>
#include <wolfssl/wolfcrypt/random.h>

#include "ledger_hash.h"

#define LEDGER_HASH_PREFIX "$scrypt$"

static const char ledger_b64_chars[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static void
ledger_hash_seterr(char *err, size_t errlen, const char *msg)
{

	if (err != NULL && errlen > 0)
		snprintf(err, errlen, "%s", msg);
}

int
ledger_hash_params_check(uint64_t n, uint32_t r, uint32_t p, char *err,
    size_t errlen)
{
	unsigned int ln;

	if (n < 2 || n > (UINT64_C(1) << 30) || (n & (n - 1)) != 0) {
		ledger_hash_seterr(err, errlen,
		    "scrypt N must be a power of two from 2 to 2^30");
		return -1;
	}
	if (r < 1 || p < 1 || (uint64_t)r * p >= (UINT64_C(1) << 30)) {
		ledger_hash_seterr(err, errlen,
		    "scrypt r and p must be at least 1 and r * p below 2^30");
		return -1;
	}
	for (ln = 0; (UINT64_C(1) << ln) < n; ln++)
		continue;
	/* scrypt (RFC 7914) requires N < 2^(128 r / 8). */
	if ((uint64_t)ln >= (uint64_t)r * 16) {
		ledger_hash_seterr(err, errlen,
		    "scrypt N must be below 2^(16 r)");
		return -1;
	}
	if ((uint64_t)128 * r > LEDGER_HASH_MAXMEM / n) {
		ledger_hash_seterr(err, errlen,
		    "scrypt memory 128 * r * N must not exceed 1 GiB");
		return -1;
	}
	return 0;
}

int
ledger_ct_equal(const void *a, const void *b, size_t len)
{
	const volatile uint8_t *x = a;
	const volatile uint8_t *y = b;
	volatile uint8_t d = 0;
	size_t i;

	for (i = 0; i < len; i++)
		d |= x[i] ^ y[i];
	/* Maps d == 0 to 1 and anything else to 0 without a branch. */
	return (int)(1 & (((unsigned int)d - 1) >> 8));
}

int
ledger_b64_encode(const uint8_t *in, size_t inlen, char *out, size_t outlen)
{
	size_t i, o = 0;
	uint32_t v;

	/* 4 characters per 3 bytes, 2 or 3 for a partial group, one NUL. */
	if (inlen > (SIZE_MAX - 4) / 4 * 3 ||
	    outlen < (inlen / 3) * 4 + (inlen % 3 ? inlen % 3 + 1 : 0) + 1)
		return -1;
	for (i = 0; i + 2 < inlen; i += 3) {
		v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
		out[o++] = ledger_b64_chars[v >> 18 & 63];
		out[o++] = ledger_b64_chars[v >> 12 & 63];
		out[o++] = ledger_b64_chars[v >> 6 & 63];
		out[o++] = ledger_b64_chars[v & 63];
	}
	if (inlen - i == 1) {
		v = (uint32_t)in[i] << 16;
		out[o++] = ledger_b64_chars[v >> 18 & 63];
		out[o++] = ledger_b64_chars[v >> 12 & 63];
	} else if (inlen - i == 2) {
		v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8;
		out[o++] = ledger_b64_chars[v >> 18 & 63];
		out[o++] = ledger_b64_chars[v >> 12 & 63];
		out[o++] = ledger_b64_chars[v >> 6 & 63];
	}
	out[o] = '\0';
	return (int)o;
}

static int
ledger_b64_value(char c)
{

	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

int
ledger_b64_decode(const char *in, size_t inlen, uint8_t *out, size_t outlen)
{
	size_t i, o = 0, n;
	uint32_t acc = 0;
	unsigned int bits = 0;
	int v;

	if (inlen % 4 == 1)
		return -1;
	n = inlen / 4 * 3 + (inlen % 4 ? inlen % 4 - 1 : 0);
	if (n > outlen || n > INT32_MAX)
		return -1;
	for (i = 0; i < inlen; i++) {
		if ((v = ledger_b64_value(in[i])) < 0)
			return -1;
		acc = (acc << 6 | (uint32_t)v) & 0xffffff;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[o++] = (uint8_t)(acc >> bits);
		}
	}
	/* The bits left over must be zero, or the spelling is not unique. */
	if ((acc & ((1U << bits) - 1)) != 0)
		return -1;
	return (int)o;
}

/* Parse a decimal without sign or leading zeros; advance *sp past it. */
static int
ledger_hash_number(const char **sp, uint64_t max, uint64_t *out)
{
	const char *s = *sp;
	uint64_t v = 0;

	if (*s < '0' || *s > '9' || (s[0] == '0' && s[1] >= '0' &&
	    s[1] <= '9'))
		return -1;
	for (; *s >= '0' && *s <= '9'; s++) {
		v = v * 10 + (uint64_t)(*s - '0');
		if (v > max)
			return -1;
	}
	*sp = s;
	*out = v;
	return 0;
}

int
ledger_hash_parse(const char *s, struct ledger_hash *h)
{
	const char *end;
	uint64_t ln, r, p;
	int len;

	if (strncmp(s, LEDGER_HASH_PREFIX, strlen(LEDGER_HASH_PREFIX)) != 0)
		return -1;
	s += strlen(LEDGER_HASH_PREFIX);

	if (strncmp(s, "ln=", 3) != 0)
		return -1;
	s += 3;
	if (ledger_hash_number(&s, 30, &ln))
		return -1;
	if (strncmp(s, ",r=", 3) != 0)
		return -1;
	s += 3;
	if (ledger_hash_number(&s, UINT32_MAX, &r))
		return -1;
	if (strncmp(s, ",p=", 3) != 0)
		return -1;
	s += 3;
	if (ledger_hash_number(&s, UINT32_MAX, &p))
		return -1;
	if (ledger_hash_params_check(UINT64_C(1) << ln, (uint32_t)r,
	    (uint32_t)p, NULL, 0))
		return -1;
	h->ln = (unsigned int)ln;
	h->r = (uint32_t)r;
	h->p = (uint32_t)p;

	if (*s++ != '$' || (end = strchr(s, '$')) == NULL)
		return -1;
	len = ledger_b64_decode(s, (size_t)(end - s), h->salt,
	    sizeof(h->salt));
	if (len < LEDGER_HASH_MINBYTES)
		return -1;
	h->saltlen = (size_t)len;

	s = end + 1;
	len = ledger_b64_decode(s, strlen(s), h->hash, sizeof(h->hash));
	if (len < LEDGER_HASH_MINBYTES)
		return -1;
	h->hashlen = (size_t)len;
	return 0;
}

/* Run scrypt with h's parameters and salt into out (h->hashlen bytes). */
static int
ledger_hash_scrypt(uint8_t *out, const struct ledger_hash *h,
    const char *password, size_t passlen)
{

	if (passlen > LEDGER_PASSWORD_MAX)
		return -1;
	if (wc_scrypt(out, (const byte *)password, (int)passlen, h->salt,
	    (int)h->saltlen, (int)h->ln, (int)h->r, (int)h->p,
	    (int)h->hashlen) != 0)
		return -1;
	return 0;
}

int
ledger_hash_make(char *out, size_t outlen, const char *password,
    size_t passlen, const struct secd_auth *auth)
{
	struct ledger_hash h;
	char salt64[LEDGER_HASH_MAXBYTES * 2], hash64[LEDGER_HASH_MAXBYTES * 2];
	WC_RNG rng;
	int n, rc = -1;

	if (ledger_hash_params_check(auth->scrypt_n, auth->scrypt_r,
	    auth->scrypt_p, NULL, 0))
		return -1;
	memset(&h, 0, sizeof(h));
	for (h.ln = 0; (UINT64_C(1) << h.ln) < auth->scrypt_n; h.ln++)
		continue;
	h.r = auth->scrypt_r;
	h.p = auth->scrypt_p;
	h.saltlen = LEDGER_HASH_SALT;
	h.hashlen = LEDGER_HASH_OUT;

	if (wc_InitRng(&rng) != 0)
		goto err0;
	if (wc_RNG_GenerateBlock(&rng, h.salt, (word32)h.saltlen) != 0)
		goto err1;
	if (ledger_hash_scrypt(h.hash, &h, password, passlen))
		goto err1;
	if (ledger_b64_encode(h.salt, h.saltlen, salt64, sizeof(salt64)) < 0 ||
	    ledger_b64_encode(h.hash, h.hashlen, hash64, sizeof(hash64)) < 0)
		goto err1;
	n = snprintf(out, outlen, LEDGER_HASH_PREFIX "ln=%u,r=%" PRIu32
	    ",p=%" PRIu32 "$%s$%s", h.ln, h.r, h.p, salt64, hash64);
	if (n < 0 || (size_t)n >= outlen)
		goto err1;
	rc = 0;

err1:
	wc_FreeRng(&rng);
err0:
	explicit_bzero(&h, sizeof(h));
	explicit_bzero(hash64, sizeof(hash64));
	if (rc != 0 && outlen > 0)
		explicit_bzero(out, outlen);
	return rc;
}

int
ledger_hash_verify(const char *s, const char *password, size_t passlen)
{
	struct ledger_hash h;
	uint8_t out[LEDGER_HASH_MAXBYTES];
	int rc = -1;

	if (ledger_hash_parse(s, &h))
		goto done;
	if (ledger_hash_scrypt(out, &h, password, passlen))
		goto done;
	rc = ledger_ct_equal(out, h.hash, h.hashlen);

done:
	explicit_bzero(out, sizeof(out));
	explicit_bzero(&h, sizeof(h));
	return rc;
}

int
ledger_hash_needs_rehash(const char *s, const struct secd_auth *auth)
{
	struct ledger_hash h;
	int rc;

	if (ledger_hash_parse(s, &h))
		return 1;
	rc = (UINT64_C(1) << h.ln) != auth->scrypt_n ||
	    h.r != auth->scrypt_r || h.p != auth->scrypt_p ||
	    h.saltlen != LEDGER_HASH_SALT || h.hashlen != LEDGER_HASH_OUT;
	explicit_bzero(&h, sizeof(h));
	return rc;
}
