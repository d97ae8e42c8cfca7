/*
 * ledger_hash: scrypt password hashes as self-describing strings.
 *
 * A stored hash reads
 *
 *	$scrypt$ln=14,r=8,p=1$<salt>$<hash>
 *
 * where ln is log2 of scrypt's cost N, r its block size, p its parallelism,
 * and salt and hash are standard base64 without padding (the PHC string
 * format's encoding).  New hashes use a 16-byte random salt and a 32-byte
 * output.  Because every string carries its own parameters, raising the
 * auth section's N, r or p later leaves old hashes verifiable; see
 * ledger_hash_needs_rehash.
 *
 * Parsing is strict (one spelling per hash: no leading zeros, no padding,
 * no stray bits in the last base64 character) and bounded, so that a
 * damaged or hostile database row can neither crash secd nor make it
 * allocate more than LEDGER_HASH_MAXMEM bytes for one verification.
 */
#ifndef LEDGER_HASH_H
#define LEDGER_HASH_H

#include <stddef.h>
#include <stdint.h>

#include "secd/handler.h"

#define LEDGER_HASH_SALT	16	/* bytes of salt in new hashes */
#define LEDGER_HASH_OUT		32	/* bytes of scrypt output in new hashes */
#define LEDGER_HASH_MINBYTES	8	/* shortest salt or output accepted */
#define LEDGER_HASH_MAXBYTES	64	/* longest salt or output accepted */
#define LEDGER_HASH_STRMAX	192	/* room for any accepted string + NUL */
#define LEDGER_HASH_MAXMEM	(1UL << 30) /* scrypt memory, 128 * r * N */
#define LEDGER_PASSWORD_MAX	1024	/* longest password hashed, bytes */

/* A parsed hash string. */
struct ledger_hash {
	unsigned int	ln;		/* N = 2^ln */
	uint32_t	r;
	uint32_t	p;
	uint8_t		salt[LEDGER_HASH_MAXBYTES];
	size_t		saltlen;
	uint8_t		hash[LEDGER_HASH_MAXBYTES];
	size_t		hashlen;
};

/*
 * ledger_hash_params_check(n, r, p, err, errlen):
 * Return 0 if scrypt can run with cost ${n}, block size ${r} and
 * parallelism ${p} within this module's bounds (n a power of two from 2 to
 * 2^30, n < 2^(16 r), 128 r n <= LEDGER_HASH_MAXMEM, r p < 2^30), or -1
 * with a one-line reason in ${err}.
 */
int ledger_hash_params_check(uint64_t, uint32_t, uint32_t, char *, size_t);

/*
 * ledger_hash_make(out, outlen, password, passlen, auth):
 * Hash the ${passlen} bytes at ${password} with scrypt at ${auth}'s
 * parameters and a fresh random salt from wolfCrypt's RNG, and write the
 * hash string, NUL-terminated, to the ${outlen} bytes at ${out}
 * (LEDGER_HASH_STRMAX is always enough).  Return 0, or -1 if the
 * parameters are unusable, ${passlen} exceeds LEDGER_PASSWORD_MAX, the
 * output does not fit or wolfCrypt fails.  Intermediate secrets are wiped.
 */
int ledger_hash_make(char *, size_t, const char *, size_t,
    const struct secd_auth *);

/*
 * ledger_hash_parse(s, h):
 * Parse the hash string ${s} into ${h}.  Return 0, or -1 if ${s} is not a
 * well-formed, in-bounds scrypt hash string (${h} is then unspecified).
 */
int ledger_hash_parse(const char *, struct ledger_hash *);

/*
 * ledger_hash_verify(s, password, passlen):
 * Return 1 if the ${passlen} bytes at ${password} match the hash string
 * ${s}, 0 if they do not, or -1 if ${s} does not parse or scrypt fails.
 * Runs a full scrypt at ${s}'s parameters whenever ${s} parses, and
 * compares the outputs in constant time, so that timing tells nothing
 * about how close a guess was.
 */
int ledger_hash_verify(const char *, const char *, size_t);

/*
 * ledger_hash_needs_rehash(s, auth):
 * Return 1 if the hash string ${s} was made with other parameters than
 * ${auth}'s (or with another salt or output length, or does not parse), so
 * that the password should be hashed again the next time it is known;
 * return 0 if it is current.
 */
int ledger_hash_needs_rehash(const char *, const struct secd_auth *);

/*
 * ledger_b64_encode(in, inlen, out, outlen):
 * Write ${in} as unpadded standard base64, NUL-terminated, to ${out}.
 * Return the length written (without the NUL), or -1 if ${outlen} is too
 * small.
 */
int ledger_b64_encode(const uint8_t *, size_t, char *, size_t);

/*
 * ledger_b64_decode(in, inlen, out, outlen):
 * Decode the ${inlen} characters at ${in}, unpadded standard base64 in its
 * one canonical spelling, into ${out}.  Return the number of bytes, or -1
 * on any other character, an impossible length, non-zero unused bits or if
 * the result exceeds ${outlen}.
 */
int ledger_b64_decode(const char *, size_t, uint8_t *, size_t);

/*
 * ledger_ct_equal(a, b, len):
 * Return 1 if the ${len} bytes at ${a} and ${b} are equal, else 0, in time
 * that depends only on ${len}.
 */
int ledger_ct_equal(const void *, const void *, size_t);

#endif /* !LEDGER_HASH_H */
