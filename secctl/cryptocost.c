/*
 * cryptocost.c: secctl crypto-cost, the raw cost of the public-key
 * operations a TLS 1.3 server does, measured with the wolfCrypt that secd
 * links, and the handshake rate those costs allow.
 *
 * A full TLS 1.3 handshake (no resumption, no client certificate) costs the
 * server one ephemeral key generation and one shared secret in the
 * negotiated group (the client's key share times the server's fresh key),
 * and one signature with the certificate's key (CertificateVerify).  The
 * rest, SHA-256 over a transcript of a few KiB and a key schedule of about
 * twenty HMAC-SHA-256 calls, is measured and printed too: it is small next
 * to the three operations above, so it is left out of the bound.  Hence
 *
 *	handshakes per server CPU-second <= 1 / (keygen + shared + sign)
 *
 * which scripts/bench compares secd's measured handshake rate with.
 *
 * Each operation runs alone on this thread for --time milliseconds of the
 * thread's own CPU time (CLOCK_THREAD_CPUTIME_ID), after one untimed call
 * that fills wolfCrypt's fixed-point cache (FP_ECC) as a long-lived server
 * would have it.  CPU time, not wall time, so that other processes on the
 * machine change the figures little.
 */
#include <wolfssl/options.h>
#include <wolfssl/wolfcrypt/curve25519.h>
#include <wolfssl/wolfcrypt/ecc.h>
#include <wolfssl/wolfcrypt/ed25519.h>
#include <wolfssl/wolfcrypt/error-crypt.h>
#include <wolfssl/wolfcrypt/hmac.h>
#include <wolfssl/wolfcrypt/random.h>
#include <wolfssl/wolfcrypt/rsa.h>
#include <wolfssl/wolfcrypt/sha256.h>
#include <wolfssl/version.h>

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cryptocost.h"

#define CC_DEFAULT_MS	300
#define CC_MSG_LEN	130	/* TLS 1.3 CertificateVerify content, SHA-256 */
#define CC_TRANSCRIPT	2048	/* bytes of handshake transcript hashed */
#define CC_HMACS	25	/* HMAC-SHA-256 calls of a TLS 1.3 key schedule */
/*
 * Clients' key shares cycled through: more than wolfCrypt's fixed-point
 * cache holds (FP_ENTRIES, 15), so that the shared secret never runs from
 * a precomputed table for the peer's point, as it never does on a real
 * server where each client share is new.
 */
#define CC_PEERS	64

/* Keys made once; each timed call uses them as a server would. */
struct cc {
	WC_RNG rng;
	ed25519_key ed;		/* certificate key, Ed25519 */
	ecc_key ecsig;		/* certificate key, ECDSA P-256 */
	RsaKey rsa;		/* certificate key, RSA-2048 (PSS in TLS 1.3) */
	ecc_key ecpriv;		/* server's P-256 key share */
	ecc_key ecpeer[CC_PEERS];	/* clients' P-256 key shares */
	curve25519_key xpriv;	/* server's X25519 key share */
	curve25519_key xpeer[CC_PEERS];	/* clients' X25519 key shares */
	unsigned next_peer;
	unsigned char msg[CC_MSG_LEN];
	unsigned char hash[WC_SHA256_DIGEST_SIZE];
	unsigned char transcript[CC_TRANSCRIPT];
};

enum cc_op {
	CC_ED25519_SIGN,
	CC_P256_SIGN,
	CC_RSA2048_SIGN,
	CC_X25519_KEYGEN,
	CC_X25519_SHARED,
	CC_P256_KEYGEN,
	CC_P256_SHARED,
	CC_SHA256_2K,
	CC_HMAC,
	CC_NOPS
};

static const struct {
	const char *key;	/* JSON name */
	const char *label;	/* for people */
} cc_names[CC_NOPS] = {
	{ "ed25519_sign", "Ed25519 sign (130 bytes)" },
	{ "p256_sign", "ECDSA P-256 sign (SHA-256 digest)" },
	{ "rsa2048_sign", "RSA-2048 PSS sign (SHA-256)" },
	{ "x25519_keygen", "X25519 key generation" },
	{ "x25519_shared", "X25519 shared secret" },
	{ "p256_keygen", "P-256 ECDH key generation" },
	{ "p256_shared", "P-256 ECDH shared secret" },
	{ "sha256_2kib", "SHA-256 of 2 KiB" },
	{ "hmac_sha256", "HMAC-SHA-256 of 64 bytes" },
};

/* cc_run(c, op): one operation; 0 or a wolfCrypt error code. */
static int
cc_run(struct cc *c, enum cc_op op)
{
	unsigned char out[512];
	word32 len = sizeof(out);
	curve25519_key xk;
	ecc_key ek;
	Hmac hmac;
	unsigned peer;
	int rc;

	switch (op) {
	case CC_ED25519_SIGN:
		return wc_ed25519_sign_msg(c->msg, sizeof(c->msg), out, &len,
		    &c->ed);
	case CC_P256_SIGN:
		return wc_ecc_sign_hash(c->hash, sizeof(c->hash), out, &len,
		    &c->rng, &c->ecsig);
	case CC_RSA2048_SIGN:
		rc = wc_RsaPSS_Sign(c->hash, sizeof(c->hash), out, len,
		    WC_HASH_TYPE_SHA256, WC_MGF1SHA256, &c->rsa, &c->rng);
		return rc < 0 ? rc : 0;
	case CC_X25519_KEYGEN:
		if ((rc = wc_curve25519_init(&xk)) != 0)
			return rc;
		rc = wc_curve25519_make_key(&c->rng, CURVE25519_KEYSIZE, &xk);
		wc_curve25519_free(&xk);
		return rc;
	case CC_X25519_SHARED:
		peer = c->next_peer++ % CC_PEERS;
		return wc_curve25519_shared_secret_ex(&c->xpriv,
		    &c->xpeer[peer], out, &len, EC25519_LITTLE_ENDIAN);
	case CC_P256_KEYGEN:
		if ((rc = wc_ecc_init(&ek)) != 0)
			return rc;
		rc = wc_ecc_make_key_ex(&c->rng, 32, &ek, ECC_SECP256R1);
		wc_ecc_free(&ek);
		return rc;
	case CC_P256_SHARED:
		peer = c->next_peer++ % CC_PEERS;
		return wc_ecc_shared_secret(&c->ecpriv, &c->ecpeer[peer], out,
		    &len);
	case CC_SHA256_2K:
		return wc_Sha256Hash(c->transcript, sizeof(c->transcript), out);
	case CC_HMAC:
		if ((rc = wc_HmacInit(&hmac, NULL, INVALID_DEVID)) != 0)
			return rc;
		if ((rc = wc_HmacSetKey(&hmac, WC_SHA256, c->hash,
		    sizeof(c->hash))) == 0 &&
		    (rc = wc_HmacUpdate(&hmac, c->msg, 64)) == 0)
			rc = wc_HmacFinal(&hmac, out);
		wc_HmacFree(&hmac);
		return rc;
	case CC_NOPS:
		break;
	}
	return BAD_FUNC_ARG;
}

static double
cc_cpu_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/*
 * cc_time(c, op, ms, us): run op for ms milliseconds of this thread's CPU
 * time (at least 20 calls) after one untimed call; its mean cost in
 * microseconds to *us.  Returns 0, or -1 with a message.
 */
static int
cc_time(struct cc *c, enum cc_op op, long ms, double *us)
{
	double start, now;
	long n;
	int rc;

	if ((rc = cc_run(c, op)) != 0)
		goto err;
	start = cc_cpu_seconds();
	n = 0;
	do {
		if ((rc = cc_run(c, op)) != 0)
			goto err;
		n++;
		now = cc_cpu_seconds();
	} while (n < 20 || (now - start) * 1000.0 < (double)ms);
	*us = (now - start) * 1e6 / (double)n;
	return 0;
err:
	fprintf(stderr, "secctl crypto-cost: %s: wolfCrypt error %d (%s)\n",
	    cc_names[op].label, rc, wc_GetErrorString(rc));
	return -1;
}

/*
 * cc_peer_x25519(c, k): make a client's X25519 share into *k (initialised
 * here) holding only the public key, as the server receives it.
 */
static int
cc_peer_x25519(struct cc *c, curve25519_key *k)
{
	unsigned char buf[CURVE25519_KEYSIZE];
	word32 len = sizeof(buf);
	curve25519_key full;
	int rc;

	if ((rc = wc_curve25519_init(&full)) != 0)
		return rc;
	if ((rc = wc_curve25519_make_key(&c->rng, CURVE25519_KEYSIZE,
	    &full)) == 0)
		rc = wc_curve25519_export_public_ex(&full, buf, &len,
		    EC25519_LITTLE_ENDIAN);
	wc_curve25519_free(&full);
	if (rc == 0 && (rc = wc_curve25519_init(k)) == 0)
		rc = wc_curve25519_import_public_ex(buf, len, k,
		    EC25519_LITTLE_ENDIAN);
	return rc;
}

/* cc_setup(c): the RNG and the long-lived keys; -1 with a message. */
static int
cc_setup(struct cc *c, double *rsa_keygen_ms)
{
	double t0;
	const char *what;
	int rc, i;

	what = "RNG";
	if ((rc = wc_InitRng(&c->rng)) != 0)
		goto err;
	what = "test data";
	if ((rc = wc_RNG_GenerateBlock(&c->rng, c->msg, sizeof(c->msg))) != 0 ||
	    (rc = wc_RNG_GenerateBlock(&c->rng, c->transcript,
	    sizeof(c->transcript))) != 0 ||
	    (rc = wc_Sha256Hash(c->msg, sizeof(c->msg), c->hash)) != 0)
		goto err;
	what = "Ed25519 key";
	if ((rc = wc_ed25519_init(&c->ed)) != 0 ||
	    (rc = wc_ed25519_make_key(&c->rng, ED25519_KEY_SIZE, &c->ed)) != 0)
		goto err;
	what = "P-256 keys";
	if ((rc = wc_ecc_init(&c->ecsig)) != 0 ||
	    (rc = wc_ecc_init(&c->ecpriv)) != 0 ||
	    (rc = wc_ecc_make_key_ex(&c->rng, 32, &c->ecsig,
	    ECC_SECP256R1)) != 0 ||
	    (rc = wc_ecc_make_key_ex(&c->rng, 32, &c->ecpriv,
	    ECC_SECP256R1)) != 0 ||
	    (rc = wc_ecc_set_rng(&c->ecpriv, &c->rng)) != 0)
		goto err;
	for (i = 0; i < CC_PEERS; i++)
		if ((rc = wc_ecc_init(&c->ecpeer[i])) != 0 ||
		    (rc = wc_ecc_make_key_ex(&c->rng, 32, &c->ecpeer[i],
		    ECC_SECP256R1)) != 0)
			goto err;
	what = "X25519 keys";
	if ((rc = wc_curve25519_init(&c->xpriv)) != 0 ||
	    (rc = wc_curve25519_make_key(&c->rng, CURVE25519_KEYSIZE,
	    &c->xpriv)) != 0)
		goto err;
	for (i = 0; i < CC_PEERS; i++)
		if ((rc = cc_peer_x25519(c, &c->xpeer[i])) != 0)
			goto err;
	what = "RSA-2048 key";
	t0 = cc_cpu_seconds();
	if ((rc = wc_InitRsaKey(&c->rsa, NULL)) != 0 ||
	    (rc = wc_MakeRsaKey(&c->rsa, 2048, WC_RSA_EXPONENT, &c->rng)) != 0 ||
	    (rc = wc_RsaSetRNG(&c->rsa, &c->rng)) != 0)
		goto err;
	*rsa_keygen_ms = (cc_cpu_seconds() - t0) * 1000.0;
	return 0;
err:
	fprintf(stderr, "secctl crypto-cost: making the %s: wolfCrypt error "
	    "%d (%s)\n", what, rc, wc_GetErrorString(rc));
	return -1;
}

/*
 * cc_teardown(c): free what cc_setup made.  c was zeroed before setup, and
 * wolfCrypt's free functions accept a zeroed key, so this is safe after a
 * setup that failed half way.
 */
static void
cc_teardown(struct cc *c)
{
	int i;

	wc_ed25519_free(&c->ed);
	wc_ecc_free(&c->ecsig);
	wc_ecc_free(&c->ecpriv);
	wc_curve25519_free(&c->xpriv);
	for (i = 0; i < CC_PEERS; i++) {
		wc_ecc_free(&c->ecpeer[i]);
		wc_curve25519_free(&c->xpeer[i]);
	}
	wc_FreeRsaKey(&c->rsa);
	wc_FreeRng(&c->rng);
	wc_ecc_fp_free();
	wipe(c, sizeof(*c));	/* throwaway keys, but keys all the same */
}

/* The bound for each certificate type and key-exchange group. */
static const struct {
	const char *cert, *group;
	enum cc_op sign, keygen, shared;
} cc_bounds[] = {
	{ "ed25519", "x25519", CC_ED25519_SIGN, CC_X25519_KEYGEN,
	    CC_X25519_SHARED },
	{ "ed25519", "p256", CC_ED25519_SIGN, CC_P256_KEYGEN, CC_P256_SHARED },
	{ "p256", "x25519", CC_P256_SIGN, CC_X25519_KEYGEN, CC_X25519_SHARED },
	{ "p256", "p256", CC_P256_SIGN, CC_P256_KEYGEN, CC_P256_SHARED },
	{ "rsa2048", "x25519", CC_RSA2048_SIGN, CC_X25519_KEYGEN,
	    CC_X25519_SHARED },
	{ "rsa2048", "p256", CC_RSA2048_SIGN, CC_P256_KEYGEN, CC_P256_SHARED },
};
#define CC_NBOUNDS (sizeof(cc_bounds) / sizeof(cc_bounds[0]))

static void
cc_print_json(const double *us, double rsa_keygen_ms, long ms)
{
	size_t i;
	double t;

	printf("{\"wolfssl\":\"%s\",\"ms_per_op\":%ld,\"clock\":\"thread_cpu\","
	    "\"ops\":{", LIBWOLFSSL_VERSION_STRING, ms);
	for (i = 0; i < CC_NOPS; i++)
		printf("%s\"%s\":{\"us\":%.2f,\"per_second\":%.0f}",
		    i > 0 ? "," : "", cc_names[i].key, us[i], 1e6 / us[i]);
	printf("},\"rsa2048_keygen_ms\":%.0f,\"handshake_bound\":[",
	    rsa_keygen_ms);
	for (i = 0; i < CC_NBOUNDS; i++) {
		t = us[cc_bounds[i].sign] + us[cc_bounds[i].keygen] +
		    us[cc_bounds[i].shared];
		printf("%s{\"cert\":\"%s\",\"group\":\"%s\",\"us\":%.2f,"
		    "\"per_cpu_second\":%.0f}", i > 0 ? "," : "",
		    cc_bounds[i].cert, cc_bounds[i].group, t, 1e6 / t);
	}
	printf("],\"key_schedule_us\":%.2f}\n",
	    us[CC_SHA256_2K] + CC_HMACS * us[CC_HMAC]);
}

static void
cc_print_text(const double *us, double rsa_keygen_ms, long ms)
{
	size_t i;
	double t, ks;

	printf("wolfCrypt %s, one thread, %ld ms of its CPU time per "
	    "operation\n\n", LIBWOLFSSL_VERSION_STRING, ms);
	printf("%-40s %10s %10s\n", "operation", "us/op", "ops/s");
	for (i = 0; i < CC_NOPS; i++)
		printf("%-40s %10.1f %10.0f\n", cc_names[i].label, us[i],
		    1e6 / us[i]);
	printf("(RSA-2048 key generation, once: %.0f ms)\n\n", rsa_keygen_ms);

	printf("Full TLS 1.3 handshake, server side: one key generation and "
	    "one shared\nsecret in the group, one signature with the "
	    "certificate key:\n\n");
	printf("%-10s %-8s %14s %22s\n", "cert", "group", "us/handshake",
	    "bound, per CPU-second");
	for (i = 0; i < CC_NBOUNDS; i++) {
		t = us[cc_bounds[i].sign] + us[cc_bounds[i].keygen] +
		    us[cc_bounds[i].shared];
		printf("%-10s %-8s %14.1f %22.0f\n", cc_bounds[i].cert,
		    cc_bounds[i].group, t, 1e6 / t);
	}
	ks = us[CC_SHA256_2K] + CC_HMACS * us[CC_HMAC];
	printf("\nNot in the bound: the transcript hash and key schedule "
	    "(SHA-256 of 2 KiB\nand about %d HMAC-SHA-256 calls) add about "
	    "%.1f us a handshake;\nwith them, ed25519/x25519 allows %.0f "
	    "handshakes per CPU-second.\n", CC_HMACS, ks,
	    1e6 / (us[CC_ED25519_SIGN] + us[CC_X25519_KEYGEN] +
	    us[CC_X25519_SHARED] + ks));
}

int
cryptocost_main(const struct opts *o, int argc, char **argv)
{
	static const struct option lo[] = {
		{ "time", required_argument, NULL, 't' },
		{ NULL, 0, NULL, 0 }
	};
	struct cc *c;
	double us[CC_NOPS], rsa_keygen_ms = 0;
	long ms = CC_DEFAULT_MS;
	char *end;
	int ch, rc = EX_LOCAL;
	size_t i;

	optind = 0;	/* glibc: 0 restarts getopt from scratch */
	while ((ch = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (ch) {
		case 't':
			errno = 0;
			ms = strtol(optarg, &end, 10);
			if (errno != 0 || *end != '\0' || ms < 10 ||
			    ms > 60000) {
				fprintf(stderr, "secctl crypto-cost: --time is "
				    "10 to 60000 milliseconds\n");
				return EX_USAGE;
			}
			break;
		default:
			goto usage;
		}
	}
	if (optind != argc)
		goto usage;
	/* Keys are large (RsaKey, ecc_key): on the heap, not the stack. */
	if ((c = calloc(1, sizeof(*c))) == NULL) {
		fprintf(stderr, "secctl crypto-cost: out of memory\n");
		return EX_LOCAL;
	}
	if (cc_setup(c, &rsa_keygen_ms) != 0)
		goto out;
	for (i = 0; i < CC_NOPS; i++)
		if (cc_time(c, (enum cc_op)i, ms, &us[i]) != 0)
			goto out;
	if (o->json)
		cc_print_json(us, rsa_keygen_ms, ms);
	else
		cc_print_text(us, rsa_keygen_ms, ms);
	rc = EX_OK;
out:
	cc_teardown(c);
	free(c);
	return rc;
usage:
	fprintf(stderr, "usage: secctl crypto-cost [--time MS]\n");
	return EX_USAGE;
}
