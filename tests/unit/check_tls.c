/*
 * check_tls.c: the sans-I/O TLS channel and the development certificates.
 *
 * main() makes four certificate sets with certgen in a temporary directory
 * (Ed25519, P-256 and RSA, plus a second Ed25519 set with its own CA, the
 * "wrong CA"), then every test builds contexts and pumps bytes between a
 * server and a client channel in memory.  The directory is removed at exit.
 */

#include <wolfssl/options.h>
#include <wolfssl/ssl.h>
#include <wolfssl/wolfcrypt/asn_public.h>
#include <wolfssl/wolfcrypt/sha256.h>

#include <sys/stat.h>
#include <sys/wait.h>

#include <check.h>
#include <errno.h>
#include <ftw.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "certgen.h"
#include "tls.h"

static char tmpdir[256];
static int have_openssl;

/* ---- fixtures ---- */

/* dir/set/file, in one of a few rotating static buffers. */
static const char *
path(const char *set, const char *file)
{
	static char bufs[8][512];
	static int i;
	char *b = bufs[i++ % 8];

	snprintf(b, sizeof(bufs[0]), "%s/%s/%s", tmpdir, set, file);
	return (b);
}

static struct tls_ctx *
server_ctx_cfg(const struct tls_server_config *cfg)
{
	struct tls_ctx *ctx;
	char err[256] = "";

	ctx = tls_ctx_new_server(cfg, err, sizeof(err));
	ck_assert_msg(ctx != NULL, "server context: %s", err);
	return (ctx);
}

static struct tls_ctx *
server_ctx(const char *set, enum tls_client_auth auth, int tickets)
{
	struct tls_server_config cfg;

	memset(&cfg, 0, sizeof(cfg));
	cfg.cert_file = path(set, "server.pem");
	cfg.key_file = path(set, "server.key");
	cfg.client_ca_file = auth != TLS_CLIENT_AUTH_NONE ?
	    path(set, "ca.pem") : NULL;
	cfg.client_auth = auth;
	cfg.tickets = tickets;
	return (server_ctx_cfg(&cfg));
}

static void
client_cfg_init(struct tls_client_config *cfg, const char *ca_set)
{

	memset(cfg, 0, sizeof(*cfg));
	cfg->ca_file = path(ca_set, "ca.pem");
}

static struct tls_ctx *
client_ctx_cfg(const struct tls_client_config *cfg)
{
	struct tls_ctx *ctx;
	char err[256] = "";

	ctx = tls_ctx_new_client(cfg, err, sizeof(err));
	ck_assert_msg(ctx != NULL, "client context: %s", err);
	return (ctx);
}

static struct tls_ctx *
client_ctx(const char *ca_set)
{
	struct tls_client_config cfg;

	client_cfg_init(&cfg, ca_set);
	return (client_ctx_cfg(&cfg));
}

/* One side of a connection, and everything it has received. */
struct end {
	struct tls_chan *ch;
	int hs;			/* last tls_chan_handshake result */
	unsigned char *rx;	/* plaintext received */
	size_t rxlen, rxcap;
	int closed;		/* tls_chan_read said TLS_CLOSED */
	int rerr;		/* tls_chan_read said TLS_ERROR */
};

static void
end_init(struct end *e, struct tls_ctx *ctx, const char *name)
{

	memset(e, 0, sizeof(*e));
	e->hs = TLS_WANT_READ;
	e->ch = tls_chan_new(ctx, name);
	ck_assert_ptr_nonnull(e->ch);
}

static void
end_free(struct end *e)
{

	tls_chan_free(e->ch);
	free(e->rx);
	memset(e, 0, sizeof(*e));
}

/* Advance the handshake, then read all the plaintext there is. */
static void
drive(struct end *e)
{
	unsigned char buf[1000];
	ssize_t n;

	if (!tls_chan_handshake_done(e->ch)) {
		e->hs = tls_chan_handshake(e->ch);
		if (e->hs != TLS_OK)
			return;
	}
	for (;;) {
		n = tls_chan_read(e->ch, buf, sizeof(buf));
		if (n > 0) {
			if (e->rxlen + (size_t)n > e->rxcap) {
				e->rxcap = (e->rxlen + (size_t)n) * 2;
				e->rx = realloc(e->rx, e->rxcap);
				ck_assert_ptr_nonnull(e->rx);
			}
			memcpy(e->rx + e->rxlen, buf, (size_t)n);
			e->rxlen += (size_t)n;
			continue;
		}
		if (n == TLS_CLOSED)
			e->closed = 1;
		else if (n == TLS_ERROR)
			e->rerr = 1;
		else
			ck_assert_int_eq(n, TLS_WANT_READ);
		return;
	}
}

/*
 * Move everything from has queued into to, step bytes at a time (through
 * the zero-copy reserve/commit path if zc), driving to after each piece.
 * Returns the number of bytes moved.
 */
static size_t
deliver_ex(struct end *from, struct end *to, size_t step, int zc)
{
	unsigned char *buf;
	void *out, *dst;
	size_t len, off, n, room;

	ck_assert_int_eq(tls_chan_take_output(from->ch, &out, &len), 0);
	ck_assert_int_eq(tls_chan_output_len(from->ch), 0);
	buf = out;
	for (off = 0; off < len; off += n) {
		n = len - off < step ? len - off : step;
		room = tls_chan_input_room(to->ch);
		ck_assert_msg(room > 0, "receiver is stuck with a full buffer");
		if (n > room)
			n = room;
		if (zc) {
			ck_assert_int_eq(tls_chan_input_reserve(to->ch, &dst,
			    &room), 0);
			ck_assert_uint_ge(room, n);
			memcpy(dst, buf + off, n);
			tls_chan_input_commit(to->ch, n);
		} else {
			ck_assert_int_eq(tls_chan_feed(to->ch, buf + off, n),
			    0);
		}
		drive(to);
	}
	free(out);
	return (len);
}

static size_t
deliver(struct end *from, struct end *to)
{

	return (deliver_ex(from, to, 65536, 0));
}

/* Run both sides until neither has anything more to say. */
static void
pump_ex(struct end *s, struct end *c, size_t step, int zc)
{
	int i;

	for (i = 0; i < 100; i++) {
		drive(c);
		drive(s);
		if (deliver_ex(c, s, step, zc) + deliver_ex(s, c, step, zc) ==
		    0)
			return;
	}
	ck_abort_msg("handshake did not settle");
}

static void
pump(struct end *s, struct end *c)
{

	pump_ex(s, c, 65536, 0);
}

/* A server and client pair over sctx/cctx that must connect. */
static void
connect_ok(struct end *s, struct end *c, struct tls_ctx *sctx,
    struct tls_ctx *cctx, const char *name)
{

	end_init(s, sctx, NULL);
	end_init(c, cctx, name);
	pump(s, c);
	ck_assert_msg(c->hs == TLS_OK, "client: %s", tls_chan_error(c->ch));
	ck_assert_msg(s->hs == TLS_OK, "server: %s", tls_chan_error(s->ch));
}

/* A pair that must fail; returns with both ends set up for inspection. */
static void
connect_fail(struct end *s, struct end *c, struct tls_ctx *sctx,
    struct tls_ctx *cctx, const char *name)
{

	end_init(s, sctx, NULL);
	end_init(c, cctx, name);
	pump(s, c);
	ck_assert_msg(c->hs == TLS_ERROR || s->hs == TLS_ERROR || c->rerr ||
	    s->rerr, "handshake should have failed");
	if (getenv("CHECK_TLS_VERBOSE") != NULL)
		fprintf(stderr, "client: %d/%d \"%s\"; server: %d/%d \"%s\"\n",
		    c->hs, c->rerr, tls_chan_error(c->ch), s->hs, s->rerr,
		    tls_chan_error(s->ch));
}

static void
assert_contains(const char *hay, const char *needle)
{

	ck_assert_msg(strstr(hay, needle) != NULL, "\"%s\" lacks \"%s\"",
	    hay, needle);
}

/* SHA-256 of the DER inside a PEM certificate, computed independently. */
static void
pem_cert_sha256(const char *file, char hex[TLS_SHA256_HEX_LEN])
{
	unsigned char pem[8192], der[8192], md[WC_SHA256_DIGEST_SIZE];
	FILE *f;
	size_t n;
	int derlen, i;

	ck_assert_ptr_nonnull(f = fopen(file, "r"));
	n = fread(pem, 1, sizeof(pem), f);
	fclose(f);
	derlen = wc_CertPemToDer(pem, (int)n, der, sizeof(der), CERT_TYPE);
	ck_assert_int_gt(derlen, 0);
	ck_assert_int_eq(wc_Sha256Hash(der, (word32)derlen, md), 0);
	for (i = 0; i < WC_SHA256_DIGEST_SIZE; i++)
		snprintf(&hex[2 * i], 3, "%02x", md[i]);
}

static int run(const char *, ...) __attribute__((format(printf, 1, 2)));

/* Run a shell command; its exit status, or -1. */
static int
run(const char *fmt, ...)
{
	char cmd[2048];
	va_list ap;
	int rc;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	rc = system(cmd);
	return (WIFEXITED(rc) ? WEXITSTATUS(rc) : -1);
}

/* ---- handshakes ---- */

static void
handshake_with(const char *set, const char *key_type)
{
	struct tls_ctx *sctx, *cctx;
	struct tls_info si, ci;
	struct end s, c;

	sctx = server_ctx(set, TLS_CLIENT_AUTH_NONE, 0);
	cctx = client_ctx(set);
	connect_ok(&s, &c, sctx, cctx, "localhost");
	ck_assert_int_eq(tls_chan_info(c.ch, &ci), 0);
	ck_assert_int_eq(tls_chan_info(s.ch, &si), 0);
	ck_assert_str_eq(ci.version, "TLSv1.3");
	ck_assert_str_eq(si.version, "TLSv1.3");
	ck_assert_int_eq(ci.peer_verified, 1);
	ck_assert_str_eq(ci.peer_subject, "O=secd development, CN=localhost");
	ck_assert_str_eq(ci.peer_issuer,
	    "O=secd development, CN=secd development CA");
	ck_assert_int_eq(si.peer_verified, 0);
	ck_assert_str_eq(si.peer_note, "no peer certificate");
	(void)key_type;
	end_free(&s);
	end_free(&c);
	tls_ctx_free(sctx);
	tls_ctx_free(cctx);
}

START_TEST(test_tls_handshake_ed25519)
{

	handshake_with("ed25519", "ed25519");
}
END_TEST

START_TEST(test_tls_handshake_p256)
{

	handshake_with("p256", "ecdsa-p256");
}
END_TEST

START_TEST(test_tls_handshake_rsa)
{

	handshake_with("rsa", "rsa");
}
END_TEST

START_TEST(test_tls_negotiates_tls13_chacha_x25519_alpn)
{
	struct tls_ctx *sctx, *cctx;
	struct tls_client_config cfg;
	struct tls_info ci, si;
	struct end s, c;

	/* The client prefers AES; the server's order (ChaCha20 first) wins. */
	sctx = server_ctx("ed25519", TLS_CLIENT_AUTH_NONE, 0);
	client_cfg_init(&cfg, "ed25519");
	cfg.ciphers = "TLS_AES_128_GCM_SHA256:TLS_CHACHA20_POLY1305_SHA256";
	cctx = client_ctx_cfg(&cfg);
	connect_ok(&s, &c, sctx, cctx, "localhost");
	ck_assert_int_eq(tls_chan_info(c.ch, &ci), 0);
	ck_assert_int_eq(tls_chan_info(s.ch, &si), 0);
	ck_assert_str_eq(ci.version, "TLSv1.3");
	ck_assert_str_eq(ci.suite, "TLS_CHACHA20_POLY1305_SHA256");
	ck_assert_str_eq(si.suite, "TLS_CHACHA20_POLY1305_SHA256");
	ck_assert_str_eq(ci.group, "x25519");
	ck_assert_str_eq(si.group, "x25519");
	ck_assert_str_eq(ci.alpn, TLS_ALPN);
	ck_assert_str_eq(si.alpn, TLS_ALPN);
	ck_assert_int_eq(ci.resumed, 0);
	end_free(&s);
	end_free(&c);
	tls_ctx_free(cctx);

	/* A client that only offers AES gets AES: a real negotiation. */
	client_cfg_init(&cfg, "ed25519");
	cfg.ciphers = "TLS13-AES128-GCM-SHA256";
	cfg.groups = "p256";
	cctx = client_ctx_cfg(&cfg);
	connect_ok(&s, &c, sctx, cctx, "localhost");
	ck_assert_int_eq(tls_chan_info(c.ch, &ci), 0);
	ck_assert_str_eq(ci.suite, "TLS_AES_128_GCM_SHA256");
	ck_assert_str_eq(ci.group, "p256");
	end_free(&s);
	end_free(&c);
	tls_ctx_free(cctx);
	tls_ctx_free(sctx);
}
END_TEST

START_TEST(test_tls_handshake_byte_at_a_time)
{
	struct tls_ctx *sctx, *cctx;
	struct end s, c;

	sctx = server_ctx("p256", TLS_CLIENT_AUTH_REQUIRED, 1);
	cctx = client_ctx("p256");
	end_init(&s, sctx, NULL);
	end_init(&c, cctx, "localhost");
	pump_ex(&s, &c, 1, 0);
	ck_assert_int_eq(s.hs, TLS_ERROR);
	ck_assert_int_eq(c.rerr, 1);
	end_free(&s);
	end_free(&c);
	tls_ctx_free(cctx);

	{
		struct tls_client_config cfg;

		client_cfg_init(&cfg, "p256");
		cfg.cert_file = path("p256", "client.pem");
		cfg.key_file = path("p256", "client.key");
		cctx = client_ctx_cfg(&cfg);
	}
	end_init(&s, sctx, NULL);
	end_init(&c, cctx, "localhost");
	pump_ex(&s, &c, 1, 1);
	ck_assert_msg(c.hs == TLS_OK, "client: %s", tls_chan_error(c.ch));
	ck_assert_msg(s.hs == TLS_OK, "server: %s", tls_chan_error(s.ch));
	ck_assert_int_eq(tls_chan_write(c.ch, "ping\n", 5), 0);
	deliver_ex(&c, &s, 1, 1);
	ck_assert_uint_eq(s.rxlen, 5);
	ck_assert_mem_eq(s.rx, "ping\n", 5);
	end_free(&s);
	end_free(&c);
	tls_ctx_free(cctx);
	tls_ctx_free(sctx);
}
END_TEST

/* ---- TLS 1.2, against a plain wolfSSL client with memory I/O ---- */

struct raw_peer {
	WOLFSSL_CTX *ctx;
	WOLFSSL *ssl;
	unsigned char in[65536];
	size_t inoff, inlen;
	unsigned char out[65536];
	size_t outlen;
};

static int
raw_recv(WOLFSSL *ssl, char *buf, int sz, void *arg)
{
	struct raw_peer *r = arg;
	size_t n = r->inlen - r->inoff;

	(void)ssl;
	if (n == 0)
		return (WOLFSSL_CBIO_ERR_WANT_READ);
	if (n > (size_t)sz)
		n = (size_t)sz;
	memcpy(buf, r->in + r->inoff, n);
	r->inoff += n;
	return ((int)n);
}

static int
raw_send(WOLFSSL *ssl, char *buf, int sz, void *arg)
{
	struct raw_peer *r = arg;

	(void)ssl;
	ck_assert_uint_le(r->outlen + (size_t)sz, sizeof(r->out));
	memcpy(r->out + r->outlen, buf, (size_t)sz);
	r->outlen += (size_t)sz;
	return (sz);
}

/*
 * A TLS 1.2-only wolfSSL client (verifying with ca_set's CA) against a
 * server channel.  Returns the client's wolfSSL_connect result.
 */
static int
raw_tls12_connect(struct end *s, struct tls_ctx *sctx, const char *ca_set)
{
	struct raw_peer *r;
	void *out;
	size_t len;
	int i, rc = WOLFSSL_FATAL_ERROR;

	ck_assert_ptr_nonnull(r = calloc(1, sizeof(*r)));
	ck_assert_ptr_nonnull(r->ctx = wolfSSL_CTX_new(
	    wolfTLSv1_2_client_method()));
	ck_assert_int_eq(wolfSSL_CTX_load_verify_locations(r->ctx,
	    path(ca_set, "ca.pem"), NULL), WOLFSSL_SUCCESS);
	wolfSSL_CTX_set_verify(r->ctx, WOLFSSL_VERIFY_PEER, NULL);
	wolfSSL_CTX_SetIORecv(r->ctx, raw_recv);
	wolfSSL_CTX_SetIOSend(r->ctx, raw_send);
	ck_assert_ptr_nonnull(r->ssl = wolfSSL_new(r->ctx));
	wolfSSL_SetIOReadCtx(r->ssl, r);
	wolfSSL_SetIOWriteCtx(r->ssl, r);

	end_init(s, sctx, NULL);
	for (i = 0; i < 20; i++) {
		rc = wolfSSL_connect(r->ssl);
		if (r->outlen > 0) {
			ck_assert_int_eq(tls_chan_feed(s->ch, r->out,
			    r->outlen), 0);
			r->outlen = 0;
		}
		drive(s);
		tls_chan_take_output(s->ch, &out, &len);
		ck_assert_uint_le(len, sizeof(r->in));
		if (len > 0)
			memcpy(r->in, out, len);
		r->inoff = 0;
		r->inlen = len;
		free(out);
		if (len == 0 && (rc == WOLFSSL_SUCCESS || s->hs != TLS_WANT_READ))
			break;
	}
	if (rc == WOLFSSL_SUCCESS) {
		ck_assert_int_eq(wolfSSL_write(r->ssl, "tls12", 5), 5);
		ck_assert_int_eq(tls_chan_feed(s->ch, r->out, r->outlen), 0);
		r->outlen = 0;
		drive(s);
		ck_assert_uint_eq(s->rxlen, 5);
	}
	wolfSSL_free(r->ssl);
	wolfSSL_CTX_free(r->ctx);
	free(r);
	return (rc);
}

START_TEST(test_tls_tls12_only_when_allowed)
{
	struct tls_server_config cfg;
	struct tls_ctx *sctx;
	struct tls_info si;
	struct end s;

	/* Default: TLS 1.3 only; a TLS 1.2 client is turned away. */
	sctx = server_ctx("p256", TLS_CLIENT_AUTH_NONE, 0);
	ck_assert_int_ne(raw_tls12_connect(&s, sctx, "p256"),
	    WOLFSSL_SUCCESS);
	ck_assert_int_eq(s.hs, TLS_ERROR);
	assert_contains(tls_chan_error(s.ch), "protocol version");
	end_free(&s);
	tls_ctx_free(sctx);

	/* min_version 12: served, with an ECDHE AEAD suite, ChaCha20 first. */
	memset(&cfg, 0, sizeof(cfg));
	cfg.cert_file = path("p256", "server.pem");
	cfg.key_file = path("p256", "server.key");
	cfg.min_version = 12;
	sctx = server_ctx_cfg(&cfg);
	ck_assert_int_eq(raw_tls12_connect(&s, sctx, "p256"),
	    WOLFSSL_SUCCESS);
	ck_assert_int_eq(s.hs, TLS_OK);
	ck_assert_int_eq(tls_chan_info(s.ch, &si), 0);
	ck_assert_str_eq(si.version, "TLSv1.2");
	ck_assert_str_eq(si.suite,
	    "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256");
	/* TLS 1.2 ECDHE: wolfSSL takes the client's curve order here. */
	ck_assert_msg(strcmp(si.group, "x25519") == 0 ||
	    strcmp(si.group, "p256") == 0, "group %s", si.group);
	end_free(&s);
	tls_ctx_free(sctx);
}
END_TEST

/* ---- threads ---- */

struct worker {
	struct tls_ctx *sctx, *cctx;
	int ok;
};

static void *
worker_main(void *arg)
{
	struct worker *w = arg;
	struct end s, c;
	int i;

	for (i = 0; i < 20; i++) {
		end_init(&s, w->sctx, NULL);
		end_init(&c, w->cctx, "localhost");
		pump(&s, &c);
		if (s.hs == TLS_OK && c.hs == TLS_OK &&
		    tls_chan_write(c.ch, "x", 1) == 0) {
			deliver(&c, &s);
			if (s.rxlen == 1)
				w->ok++;
		}
		end_free(&s);
		end_free(&c);
	}
	tls_thread_cleanup();
	return (NULL);
}

START_TEST(test_tls_ctx_shared_by_threads)
{
	struct worker w[4];
	pthread_t t[4];
	struct tls_ctx *sctx, *cctx;
	int i;

	/* P-256 so that the ECC fixed-point cache that tls_thread_cleanup
	 * frees is in play (a leak shows under the sanitizers). */
	sctx = server_ctx("p256", TLS_CLIENT_AUTH_NONE, 1);
	cctx = client_ctx("p256");
	for (i = 0; i < 4; i++) {
		w[i].sctx = sctx;
		w[i].cctx = cctx;
		w[i].ok = 0;
		ck_assert_int_eq(pthread_create(&t[i], NULL, worker_main,
		    &w[i]), 0);
	}
	for (i = 0; i < 4; i++) {
		ck_assert_int_eq(pthread_join(t[i], NULL), 0);
		ck_assert_int_eq(w[i].ok, 20);
	}
	tls_ctx_free(sctx);
	tls_ctx_free(cctx);
}
END_TEST

/* ---- application data ---- */

START_TEST(test_tls_data_both_ways_large_and_small)
{
	struct tls_ctx *sctx, *cctx;
	struct end s, c;
	unsigned char *big;
	size_t i, bigsz = 100000;

	sctx = server_ctx("ed25519", TLS_CLIENT_AUTH_NONE, 1);
	cctx = client_ctx("ed25519");
	connect_ok(&s, &c, sctx, cctx, "localhost");

	ck_assert_ptr_nonnull(big = malloc(bigsz));
	for (i = 0; i < bigsz; i++)
		big[i] = (unsigned char)(i * 7 + i / 251);

	/* > 16 KiB: several records, more than the input buffer holds. */
	ck_assert_int_eq(tls_chan_write(c.ch, big, bigsz), 0);
	ck_assert_uint_gt(tls_chan_output_len(c.ch), bigsz);
	deliver_ex(&c, &s, 4096, 0);
	ck_assert_uint_eq(s.rxlen, bigsz);
	ck_assert_mem_eq(s.rx, big, bigsz);

	ck_assert_int_eq(tls_chan_write(s.ch, big, bigsz), 0);
	deliver_ex(&s, &c, 20000, 1);
	ck_assert_uint_eq(c.rxlen, bigsz);
	ck_assert_mem_eq(c.rx, big, bigsz);

	/* Many small writes, delivered at once. */
	s.rxlen = 0;
	for (i = 0; i < 1000; i++)
		ck_assert_int_eq(tls_chan_write(c.ch, &big[i * 10], 10), 0);
	deliver(&c, &s);
	ck_assert_uint_eq(s.rxlen, 10000);
	ck_assert_mem_eq(s.rx, big, 10000);

	/* Everything was drained: no buffered input or output remains. */
	ck_assert_uint_eq(tls_chan_input_room(s.ch), TLS_CHAN_INPUT_MAX);
	ck_assert_uint_eq(tls_chan_input_room(c.ch), TLS_CHAN_INPUT_MAX);
	ck_assert_uint_eq(tls_chan_output_len(s.ch), 0);
	ck_assert_uint_eq(tls_chan_output_len(c.ch), 0);

	free(big);
	end_free(&s);
	end_free(&c);
	tls_ctx_free(sctx);
	tls_ctx_free(cctx);
}
END_TEST

START_TEST(test_tls_read_returns_what_fits_and_keeps_the_rest)
{
	struct tls_ctx *sctx, *cctx;
	struct end s, c;
	void *out;
	size_t len;
	char buf[3];

	sctx = server_ctx("ed25519", TLS_CLIENT_AUTH_NONE, 0);
	cctx = client_ctx("ed25519");
	connect_ok(&s, &c, sctx, cctx, "localhost");
	ck_assert_int_eq(tls_chan_write(c.ch, "abcdefgh", 8), 0);
	tls_chan_take_output(c.ch, &out, &len);
	ck_assert_int_eq(tls_chan_feed(s.ch, out, len), 0);
	free(out);
	ck_assert_int_eq(tls_chan_read(s.ch, buf, 3), 3);
	ck_assert_mem_eq(buf, "abc", 3);
	ck_assert_int_eq(tls_chan_read(s.ch, buf, 3), 3);
	ck_assert_mem_eq(buf, "def", 3);
	ck_assert_int_eq(tls_chan_read(s.ch, buf, 3), 2);
	ck_assert_mem_eq(buf, "gh", 2);
	ck_assert_int_eq(tls_chan_read(s.ch, buf, 3), TLS_WANT_READ);
	end_free(&s);
	end_free(&c);
	tls_ctx_free(sctx);
	tls_ctx_free(cctx);
}
END_TEST

START_TEST(test_tls_close_notify_is_closed)
{
	struct tls_ctx *sctx, *cctx;
	struct end s, c;

	sctx = server_ctx("ed25519", TLS_CLIENT_AUTH_NONE, 0);
	cctx = client_ctx("ed25519");
	connect_ok(&s, &c, sctx, cctx, "localhost");
	ck_assert_int_eq(tls_chan_write(c.ch, "bye", 3), 0);
	ck_assert_int_eq(tls_chan_close_notify(c.ch), 0);
	ck_assert_uint_gt(tls_chan_output_len(c.ch), 0);
	ck_assert_int_eq(tls_chan_write(c.ch, "more", 4), TLS_ERROR);
	deliver(&c, &s);
	ck_assert_uint_eq(s.rxlen, 3);
	ck_assert_int_eq(s.closed, 1);
	ck_assert_int_eq(s.rerr, 0);
	ck_assert_str_eq(tls_chan_error(s.ch), "");
	end_free(&s);
	end_free(&c);

	/* EOF without close_notify ends the stream too. */
	connect_ok(&s, &c, sctx, cctx, "localhost");
	tls_chan_feed_eof(s.ch);
	drive(&s);
	ck_assert_int_eq(s.closed, 1);
	end_free(&s);
	end_free(&c);
	tls_ctx_free(sctx);
	tls_ctx_free(cctx);
}
END_TEST

START_TEST(test_tls_eof_during_handshake)
{
	struct tls_ctx *sctx, *cctx;
	struct end s, c;

	sctx = server_ctx("ed25519", TLS_CLIENT_AUTH_NONE, 0);
	cctx = client_ctx("ed25519");
	end_init(&s, sctx, NULL);
	end_init(&c, cctx, "localhost");
	drive(&c);
	deliver(&c, &s);
	ck_assert_int_eq(s.hs, TLS_WANT_READ);
	deliver(&s, &c);
	ck_assert_int_eq(c.hs, TLS_OK);
	tls_chan_feed_eof(s.ch);
	ck_assert_int_eq(tls_chan_handshake(s.ch), TLS_ERROR);
	ck_assert_str_eq(tls_chan_error(s.ch), "peer closed during handshake");
	end_free(&s);
	end_free(&c);
	tls_ctx_free(sctx);
	tls_ctx_free(cctx);
}
END_TEST

/* ---- verification of the server ---- */

START_TEST(test_tls_client_rejects_other_ca)
{
	struct tls_ctx *sctx, *cctx;
	struct end s, c;

	sctx = server_ctx("ed25519", TLS_CLIENT_AUTH_NONE, 0);
	cctx = client_ctx("other");
	connect_fail(&s, &c, sctx, cctx, "localhost");
	ck_assert_int_eq(c.hs, TLS_ERROR);
	assert_contains(tls_chan_error(c.ch), "certificate verify failed");
	assert_contains(tls_chan_error(c.ch), "unable to get issuer");
	ck_assert_int_eq(s.hs, TLS_ERROR);
	assert_contains(tls_chan_error(s.ch), "peer sent alert");
	end_free(&s);
	end_free(&c);
	tls_ctx_free(sctx);
	tls_ctx_free(cctx);
}
END_TEST

START_TEST(test_tls_client_rejects_wrong_name)
{
	struct tls_ctx *sctx, *cctx;
	struct end s, c;

	sctx = server_ctx("p256", TLS_CLIENT_AUTH_NONE, 0);
	cctx = client_ctx("p256");
	connect_fail(&s, &c, sctx, cctx, "example.com");
	ck_assert_int_eq(c.hs, TLS_ERROR);
	assert_contains(tls_chan_error(c.ch), "name mismatch");
	assert_contains(tls_chan_error(c.ch), "example.com");
	end_free(&s);
	end_free(&c);
	tls_ctx_free(sctx);
	tls_ctx_free(cctx);
}
END_TEST

START_TEST(test_tls_client_checks_ip_names)
{
	struct tls_ctx *sctx, *cctx;
	struct end s, c;

	sctx = server_ctx("ed25519", TLS_CLIENT_AUTH_NONE, 0);
	cctx = client_ctx("ed25519");
	connect_ok(&s, &c, sctx, cctx, "127.0.0.1");
	end_free(&s);
	end_free(&c);
	connect_ok(&s, &c, sctx, cctx, "::1");
	end_free(&s);
	end_free(&c);
	connect_ok(&s, &c, sctx, cctx, "0:0:0:0:0:0:0:1");
	end_free(&s);
	end_free(&c);

	connect_fail(&s, &c, sctx, cctx, "127.0.0.2");
	ck_assert_int_eq(c.hs, TLS_ERROR);
	ck_assert_str_eq(tls_chan_error(c.ch), "certificate verify failed: "
	    "IP address 127.0.0.2 not in certificate");
	end_free(&s);
	end_free(&c);
	connect_fail(&s, &c, sctx, cctx, "::2");
	ck_assert_int_eq(c.hs, TLS_ERROR);
	assert_contains(tls_chan_error(c.ch), "IP address ::2");
	end_free(&s);
	end_free(&c);
	tls_ctx_free(sctx);
	tls_ctx_free(cctx);
}
END_TEST

START_TEST(test_tls_pins)
{
	struct tls_ctx *sctx, *cctx;
	struct tls_client_config cfg;
	struct tls_info ci;
	struct end s, c;
	char spki[TLS_SHA256_HEX_LEN], cert[TLS_SHA256_HEX_LEN];
	char other[TLS_SHA256_HEX_LEN], pin[80], want[160], err[256];
	const char *pins[3];

	ck_assert_int_eq(tls_fingerprint_file(path("rsa", "server.pem"), spki,
	    cert, err, sizeof(err)), 0);
	ck_assert_int_eq(tls_fingerprint_file(path("other", "server.pem"),
	    other, NULL, err, sizeof(err)), 0);
	sctx = server_ctx("rsa", TLS_CLIENT_AUTH_NONE, 0);

	/* The SPKI pin matches; so does one among several. */
	snprintf(pin, sizeof(pin), "sha256:%s", spki);
	pins[0] = pin;
	pins[1] = NULL;
	client_cfg_init(&cfg, "rsa");
	cfg.pins = pins;
	cctx = client_ctx_cfg(&cfg);
	connect_ok(&s, &c, sctx, cctx, "localhost");
	ck_assert_int_eq(tls_chan_info(c.ch, &ci), 0);
	ck_assert_str_eq(ci.peer_spki_sha256, spki);
	end_free(&s);
	end_free(&c);
	tls_ctx_free(cctx);

	/* A whole-certificate pin, written with colons, matches too. */
	{
		char colons[TLS_SHA256_HEX_LEN * 3 / 2 + 8], *p = colons;
		int i;

		p += sprintf(p, "SHA256:");
		for (i = 0; i < 64; i += 2)
			p += sprintf(p, "%s%c%c", i ? ":" : "", cert[i],
			    cert[i + 1]);
		pins[0] = other;
		pins[1] = colons;
		pins[2] = NULL;
		cctx = client_ctx_cfg(&cfg);
	}
	connect_ok(&s, &c, sctx, cctx, "localhost");
	end_free(&s);
	end_free(&c);
	tls_ctx_free(cctx);

	/* A mismatch fails the client before it finishes, naming the key. */
	snprintf(pin, sizeof(pin), "sha256:%s", other);
	pins[0] = pin;
	pins[1] = NULL;
	cctx = client_ctx_cfg(&cfg);
	connect_fail(&s, &c, sctx, cctx, "localhost");
	ck_assert_int_eq(c.hs, TLS_ERROR);
	snprintf(want, sizeof(want), "server key pin mismatch: got sha256:%s",
	    spki);
	ck_assert_str_eq(tls_chan_error(c.ch), want);
	ck_assert_int_eq(s.hs, TLS_ERROR);
	ck_assert_int_eq(tls_chan_write(c.ch, "x", 1), TLS_ERROR);
	end_free(&s);
	end_free(&c);
	tls_ctx_free(cctx);

	/* The pin is checked in addition to the chain, never instead. */
	snprintf(pin, sizeof(pin), "sha256:%s", spki);
	pins[0] = pin;
	client_cfg_init(&cfg, "other");
	cfg.pins = pins;
	cctx = client_ctx_cfg(&cfg);
	connect_fail(&s, &c, sctx, cctx, "localhost");
	assert_contains(tls_chan_error(c.ch), "certificate verify failed");
	end_free(&s);
	end_free(&c);
	tls_ctx_free(cctx);

	/* A malformed pin is a configuration error. */
	pins[0] = "sha256:abcd";
	ck_assert_ptr_null(tls_ctx_new_client(&cfg, err, sizeof(err)));
	assert_contains(err, "bad pin");
	tls_ctx_free(sctx);
}
END_TEST

/* ---- verification of the client ---- */

START_TEST(test_tls_client_auth_required)
{
	struct tls_ctx *sctx, *cctx;
	struct tls_client_config cfg;
	struct tls_info si;
	struct end s, c;
	char sha[TLS_SHA256_HEX_LEN], spki[TLS_SHA256_HEX_LEN];
	char keyspki[TLS_SHA256_HEX_LEN], err[256];

	sctx = server_ctx("ed25519", TLS_CLIENT_AUTH_REQUIRED, 0);

	/* Without a certificate: the server refuses, the client hears. */
	cctx = client_ctx("ed25519");
	connect_fail(&s, &c, sctx, cctx, "localhost");
	ck_assert_int_eq(s.hs, TLS_ERROR);
	assert_contains(tls_chan_error(s.ch), "did not send a certificate");
	ck_assert_int_eq(c.rerr, 1);
	assert_contains(tls_chan_error(c.ch), "peer sent alert");
	end_free(&s);
	end_free(&c);
	tls_ctx_free(cctx);

	/* With one: the server sees who it is. */
	client_cfg_init(&cfg, "ed25519");
	cfg.cert_file = path("ed25519", "client.pem");
	cfg.key_file = path("ed25519", "client.key");
	cctx = client_ctx_cfg(&cfg);
	connect_ok(&s, &c, sctx, cctx, "localhost");
	ck_assert_int_eq(tls_chan_info(s.ch, &si), 0);
	ck_assert_int_eq(si.peer_verified, 1);
	ck_assert_str_eq(si.peer_note, "verified");
	ck_assert_str_eq(si.peer_subject, "O=secd development, CN=AAA");
	ck_assert_str_eq(si.peer_issuer,
	    "O=secd development, CN=secd development CA");
	ck_assert_uint_eq(strlen(si.peer_serial), 32);
	pem_cert_sha256(path("ed25519", "client.pem"), sha);
	ck_assert_str_eq(si.peer_sha256, sha);
	ck_assert_int_eq(tls_fingerprint_file(path("ed25519", "client.pem"),
	    spki, NULL, err, sizeof(err)), 0);
	ck_assert_str_eq(si.peer_spki_sha256, spki);
	ck_assert_int_eq(tls_fingerprint_file(path("ed25519", "client.key"),
	    keyspki, NULL, err, sizeof(err)), 0);
	ck_assert_str_eq(keyspki, spki);
	end_free(&s);
	end_free(&c);
	tls_ctx_free(cctx);

	/* A client certificate from another CA is refused. */
	client_cfg_init(&cfg, "ed25519");
	cfg.cert_file = path("other", "client.pem");
	cfg.key_file = path("other", "client.key");
	cctx = client_ctx_cfg(&cfg);
	connect_fail(&s, &c, sctx, cctx, "localhost");
	ck_assert_int_eq(s.hs, TLS_ERROR);
	assert_contains(tls_chan_error(s.ch), "client certificate verify "
	    "failed");
	end_free(&s);
	end_free(&c);
	tls_ctx_free(cctx);
	tls_ctx_free(sctx);
}
END_TEST

START_TEST(test_tls_client_auth_optional)
{
	struct tls_ctx *sctx, *cctx;
	struct tls_client_config cfg;
	struct tls_info si;
	struct end s, c;

	sctx = server_ctx("rsa", TLS_CLIENT_AUTH_OPTIONAL, 0);
	cctx = client_ctx("rsa");
	connect_ok(&s, &c, sctx, cctx, "localhost");
	ck_assert_int_eq(tls_chan_info(s.ch, &si), 0);
	ck_assert_int_eq(si.peer_verified, 0);
	ck_assert_str_eq(si.peer_note, "no peer certificate");
	ck_assert_str_eq(si.peer_subject, "");
	ck_assert_str_eq(si.peer_sha256, "");
	end_free(&s);
	end_free(&c);
	tls_ctx_free(cctx);

	client_cfg_init(&cfg, "rsa");
	cfg.cert_file = path("rsa", "client.pem");
	cfg.key_file = path("rsa", "client.key");
	cctx = client_ctx_cfg(&cfg);
	connect_ok(&s, &c, sctx, cctx, "localhost");
	ck_assert_int_eq(tls_chan_info(s.ch, &si), 0);
	ck_assert_int_eq(si.peer_verified, 1);
	assert_contains(si.peer_subject, "CN=AAA");
	end_free(&s);
	end_free(&c);
	tls_ctx_free(cctx);
	tls_ctx_free(sctx);
}
END_TEST

/* ---- negotiation failures ---- */

START_TEST(test_tls_no_shared_cipher)
{
	struct tls_server_config scfg;
	struct tls_client_config cfg;
	struct tls_ctx *sctx, *cctx;
	struct end s, c;

	memset(&scfg, 0, sizeof(scfg));
	scfg.cert_file = path("ed25519", "server.pem");
	scfg.key_file = path("ed25519", "server.key");
	scfg.ciphers = "TLS_AES_256_GCM_SHA384";
	sctx = server_ctx_cfg(&scfg);
	client_cfg_init(&cfg, "ed25519");
	cfg.ciphers = "TLS_CHACHA20_POLY1305_SHA256";
	cctx = client_ctx_cfg(&cfg);
	connect_fail(&s, &c, sctx, cctx, "localhost");
	ck_assert_int_eq(s.hs, TLS_ERROR);
	ck_assert_str_eq(tls_chan_error(s.ch), "no shared cipher");
	ck_assert_int_eq(c.hs, TLS_ERROR);
	assert_contains(tls_chan_error(c.ch), "peer sent alert");
	end_free(&s);
	end_free(&c);
	tls_ctx_free(sctx);
	tls_ctx_free(cctx);
}
END_TEST

START_TEST(test_tls_no_shared_group)
{
	struct tls_ctx *sctx, *cctx;
	struct tls_client_config cfg;
	struct tls_info ci;
	struct end s, c;

	sctx = server_ctx("ed25519", TLS_CLIENT_AUTH_NONE, 0);

	/* A first key share the server lacks: HelloRetryRequest, x25519. */
	client_cfg_init(&cfg, "ed25519");
	cfg.groups = "p384:x25519";
	cctx = client_ctx_cfg(&cfg);
	connect_ok(&s, &c, sctx, cctx, "localhost");
	ck_assert_int_eq(tls_chan_info(c.ch, &ci), 0);
	ck_assert_str_eq(ci.group, "x25519");
	end_free(&s);
	end_free(&c);
	tls_ctx_free(cctx);

	/*
	 * Nothing in common: refused on the ClientHello (tls_hello_check),
	 * not with a HelloRetryRequest for a group the client never listed,
	 * and the client hears why (a handshake_failure alert).
	 */
	cfg.groups = "p384";
	cctx = client_ctx_cfg(&cfg);
	connect_fail(&s, &c, sctx, cctx, "localhost");
	ck_assert_int_eq(s.hs, TLS_ERROR);
	assert_contains(tls_chan_error(s.ch), "no shared key exchange group "
	    "(client offers 0x0018)");
	ck_assert_int_eq(c.hs, TLS_ERROR);
	assert_contains(tls_chan_error(c.ch), "alert handshake_failure");
	end_free(&s);
	end_free(&c);
	tls_ctx_free(cctx);
	tls_ctx_free(sctx);
}
END_TEST

START_TEST(test_tls_alpn)
{
	struct tls_ctx *sctx, *cctx;
	struct tls_client_config cfg;
	struct tls_info si;
	struct end s, c;

	sctx = server_ctx("ed25519", TLS_CLIENT_AUTH_NONE, 0);

	/* No ALPN from the client (openssl s_client without -alpn): served. */
	client_cfg_init(&cfg, "ed25519");
	cfg.alpn = "";
	cctx = client_ctx_cfg(&cfg);
	connect_ok(&s, &c, sctx, cctx, "localhost");
	ck_assert_int_eq(tls_chan_info(s.ch, &si), 0);
	ck_assert_str_eq(si.alpn, "");
	end_free(&s);
	end_free(&c);
	tls_ctx_free(cctx);

	/* ALPN without secd/1: refused. */
	cfg.alpn = "http/1.1";
	cctx = client_ctx_cfg(&cfg);
	connect_fail(&s, &c, sctx, cctx, "localhost");
	ck_assert_int_eq(s.hs, TLS_ERROR);
	assert_contains(tls_chan_error(s.ch), "alpn mismatch");
	end_free(&s);
	end_free(&c);
	tls_ctx_free(cctx);
	tls_ctx_free(sctx);
}
END_TEST

/* ---- hostile and careless input ---- */

START_TEST(test_tls_garbage_is_an_error)
{
	static const char http[] = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
	struct tls_ctx *sctx;
	struct end s;
	unsigned char junk[3000];
	size_t i;
	int round;

	sctx = server_ctx("ed25519", TLS_CLIENT_AUTH_NONE, 0);
	for (round = 0; round < 4; round++) {
		end_init(&s, sctx, NULL);
		if (round == 0) {
			ck_assert_int_eq(tls_chan_feed(s.ch, http,
			    sizeof(http) - 1), 0);
		} else {
			srand((unsigned)round);
			for (i = 0; i < sizeof(junk); i++)
				junk[i] = (unsigned char)rand();
			/* Rounds 2, 3: a plausible record header first. */
			if (round >= 2) {
				junk[0] = 0x16;
				junk[1] = 0x03;
				junk[2] = 0x01;
				junk[3] = 0x01;
				junk[4] = 0x00;
				junk[5] = round == 2 ? 0x01 : 0x02;
			}
			ck_assert_int_eq(tls_chan_feed(s.ch, junk,
			    sizeof(junk)), 0);
		}
		ck_assert_int_eq(tls_chan_handshake(s.ch), TLS_ERROR);
		ck_assert_str_ne(tls_chan_error(s.ch), "");
		/* Failed for good, and says so again. */
		ck_assert_int_eq(tls_chan_handshake(s.ch), TLS_ERROR);
		ck_assert_int_eq(tls_chan_write(s.ch, "x", 1), TLS_ERROR);
		end_free(&s);
	}
	tls_ctx_free(sctx);
}
END_TEST

START_TEST(test_tls_input_overfeed_refused)
{
	struct tls_ctx *sctx;
	struct tls_chan *ch;
	unsigned char *buf;
	void *p;
	size_t len;

	sctx = server_ctx("ed25519", TLS_CLIENT_AUTH_NONE, 0);
	ck_assert_ptr_nonnull(ch = tls_chan_new(sctx, NULL));
	ck_assert_ptr_nonnull(buf = calloc(1, TLS_CHAN_INPUT_MAX + 1));
	ck_assert_uint_eq(tls_chan_input_room(ch), TLS_CHAN_INPUT_MAX);
	ck_assert_int_eq(tls_chan_feed(ch, buf, TLS_CHAN_INPUT_MAX + 1), -1);
	ck_assert_int_eq(tls_chan_feed(ch, buf, 100), 0);
	ck_assert_uint_eq(tls_chan_input_room(ch), TLS_CHAN_INPUT_MAX - 100);
	ck_assert_int_eq(tls_chan_feed(ch, buf, TLS_CHAN_INPUT_MAX - 100), 0);
	ck_assert_uint_eq(tls_chan_input_room(ch), 0);
	ck_assert_int_eq(tls_chan_feed(ch, buf, 1), -1);
	ck_assert_int_eq(tls_chan_input_reserve(ch, &p, &len), -1);
	ck_assert_ptr_null(p);
	ck_assert_uint_eq(len, 0);
	free(buf);
	tls_chan_free(ch);
	tls_ctx_free(sctx);
}
END_TEST

START_TEST(test_tls_misuse_is_refused)
{
	struct tls_ctx *sctx, *cctx;
	struct tls_chan *ch;
	struct tls_info info;
	char buf[10];

	sctx = server_ctx("ed25519", TLS_CLIENT_AUTH_NONE, 0);
	cctx = client_ctx("ed25519");
	ck_assert_ptr_null(tls_chan_new(cctx, NULL));
	ck_assert_ptr_null(tls_chan_new(cctx, ""));
	ck_assert_ptr_null(tls_chan_new(sctx, "localhost"));
	ck_assert_ptr_nonnull(ch = tls_chan_new(sctx, NULL));
	ck_assert_int_eq(tls_chan_info(ch, &info), -1);
	ck_assert_int_eq(tls_chan_write(ch, "x", 1), TLS_ERROR);
	tls_chan_free(ch);
	ck_assert_ptr_nonnull(ch = tls_chan_new(cctx, "localhost"));
	ck_assert_int_eq(tls_chan_read(ch, buf, sizeof(buf)), TLS_ERROR);
	tls_chan_free(ch);
	tls_chan_free(NULL);
	tls_ctx_free(NULL);
	tls_ctx_free(sctx);
	tls_ctx_free(cctx);
}
END_TEST

/* ---- contexts ---- */

START_TEST(test_tls_ctx_config_errors)
{
	struct tls_server_config cfg;
	struct tls_client_config ccfg;
	char err[512];

	memset(&cfg, 0, sizeof(cfg));
	cfg.cert_file = "/nonexistent/server.pem";
	cfg.key_file = path("ed25519", "server.key");
	ck_assert_ptr_null(tls_ctx_new_server(&cfg, err, sizeof(err)));
	ck_assert_str_eq(err, "cannot read certificate chain "
	    "/nonexistent/server.pem: No such file or directory");

	cfg.cert_file = path("ed25519", "server.pem");
	cfg.key_file = path("ed25519", "client.key");
	ck_assert_ptr_null(tls_ctx_new_server(&cfg, err, sizeof(err)));
	assert_contains(err, "does not match certificate");
	assert_contains(err, "client.key");

	cfg.key_file = path("p256", "server.key");
	ck_assert_ptr_null(tls_ctx_new_server(&cfg, err, sizeof(err)));
	assert_contains(err, "key is ecdsa-p256, certificate has ed25519");

	cfg.key_file = path("ed25519", "server.pem");
	ck_assert_ptr_null(tls_ctx_new_server(&cfg, err, sizeof(err)));
	assert_contains(err, "no private key found");

	cfg.key_file = path("ed25519", "server.key");
	cfg.ciphers = "TLS_CHACHA20_POLY1305_SHA256:RC4-SHA";
	ck_assert_ptr_null(tls_ctx_new_server(&cfg, err, sizeof(err)));
	assert_contains(err, "\"RC4-SHA\"");

	cfg.ciphers = "ECDHE-ECDSA-CHACHA20-POLY1305";
	ck_assert_ptr_null(tls_ctx_new_server(&cfg, err, sizeof(err)));
	assert_contains(err, "TLS 1.2 only");

	cfg.ciphers = NULL;
	cfg.groups = "x25519, ffdhe2048";
	ck_assert_ptr_null(tls_ctx_new_server(&cfg, err, sizeof(err)));
	assert_contains(err, "unknown group \"ffdhe2048\"");

	cfg.groups = NULL;
	cfg.min_version = 11;
	ck_assert_ptr_null(tls_ctx_new_server(&cfg, err, sizeof(err)));
	assert_contains(err, "min_version");

	cfg.min_version = 0;
	cfg.client_auth = TLS_CLIENT_AUTH_REQUIRED;
	ck_assert_ptr_null(tls_ctx_new_server(&cfg, err, sizeof(err)));
	assert_contains(err, "no client CA file");

	cfg.tickets = 1;
	cfg.client_auth = TLS_CLIENT_AUTH_NONE;
	cfg.ticket_lifetime_s = 700000;
	ck_assert_ptr_null(tls_ctx_new_server(&cfg, err, sizeof(err)));
	assert_contains(err, "ticket lifetime");

	/* TLS 1.2 allowed: its suites are accepted. */
	cfg.ticket_lifetime_s = 0;
	cfg.min_version = 12;
	cfg.ciphers = "TLS_CHACHA20_POLY1305_SHA256:"
	    "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256";
	tls_ctx_free(server_ctx_cfg(&cfg));

	memset(&ccfg, 0, sizeof(ccfg));
	ck_assert_ptr_null(tls_ctx_new_client(&ccfg, err, sizeof(err)));
	assert_contains(err, "CA file is required");
	client_cfg_init(&ccfg, "ed25519");
	ccfg.cert_file = path("ed25519", "client.pem");
	ck_assert_ptr_null(tls_ctx_new_client(&ccfg, err, sizeof(err)));
	assert_contains(err, "both");
}
END_TEST

START_TEST(test_tls_ctx_outlives_its_creator)
{
	struct tls_ctx *sctx, *cctx;
	struct end s, c;

	/* Reload: the daemon drops its reference; live channels go on. */
	sctx = server_ctx("ed25519", TLS_CLIENT_AUTH_NONE, 0);
	cctx = client_ctx("ed25519");
	end_init(&s, sctx, NULL);
	end_init(&c, cctx, "localhost");
	tls_ctx_free(sctx);
	ck_assert_ptr_eq(tls_ctx_ref(cctx), cctx);
	tls_ctx_free(cctx);
	tls_ctx_free(cctx);
	pump(&s, &c);
	ck_assert_int_eq(s.hs, TLS_OK);
	ck_assert_int_eq(c.hs, TLS_OK);
	ck_assert_int_eq(tls_chan_write(s.ch, "hello", 5), 0);
	deliver(&s, &c);
	ck_assert_uint_eq(c.rxlen, 5);
	end_free(&s);
	end_free(&c);
}
END_TEST

/* ---- trace ---- */

struct trace_log {
	char text[16384];
	int certs, offers, names, pins, negotiated, errors;
};

static void
trace_cb(void *arg, const char *step, const char *detail)
{
	struct trace_log *t = arg;
	size_t n = strlen(t->text);

	snprintf(t->text + n, sizeof(t->text) - n, "%s: %s\n", step, detail);
	if (strcmp(step, TLS_TRACE_CERT) == 0)
		t->certs++;
	else if (strcmp(step, TLS_TRACE_OFFER) == 0)
		t->offers++;
	else if (strcmp(step, TLS_TRACE_NAME) == 0)
		t->names++;
	else if (strcmp(step, TLS_TRACE_PIN) == 0)
		t->pins++;
	else if (strcmp(step, TLS_TRACE_NEGOTIATED) == 0)
		t->negotiated++;
	else if (strcmp(step, TLS_TRACE_ERROR) == 0)
		t->errors++;
}

START_TEST(test_tls_trace_reports_the_conversation)
{
	struct tls_ctx *sctx, *cctx;
	struct tls_client_config cfg;
	struct tls_info ci;
	struct trace_log *t;
	struct end s, c;
	char spki[TLS_SHA256_HEX_LEN], cert[TLS_SHA256_HEX_LEN], err[256];
	char want[512], pin[80];
	const char *pins[2] = { pin, NULL };

	ck_assert_ptr_nonnull(t = calloc(1, sizeof(*t)));
	ck_assert_int_eq(tls_fingerprint_file(path("p256", "server.pem"), spki,
	    cert, err, sizeof(err)), 0);
	snprintf(pin, sizeof(pin), "sha256:%s", spki);
	sctx = server_ctx("p256", TLS_CLIENT_AUTH_NONE, 0);
	client_cfg_init(&cfg, "p256");
	cfg.trace = trace_cb;
	cfg.trace_arg = t;
	cfg.pins = pins;
	cctx = client_ctx_cfg(&cfg);
	connect_ok(&s, &c, sctx, cctx, "localhost");
	ck_assert_int_eq(tls_chan_info(c.ch, &ci), 0);

	ck_assert_int_eq(t->offers, 1);
	assert_contains(t->text, "offer: versions TLSv1.3; suites "
	    "TLS_CHACHA20_POLY1305_SHA256,TLS_AES_128_GCM_SHA256,"
	    "TLS_AES_256_GCM_SHA384; groups x25519,p256 (key share x25519); "
	    "alpn secd/1; sni localhost");
	ck_assert_int_eq(t->certs, 1);
	snprintf(want, sizeof(want), "certificate: depth 0: subject "
	    "O=secd development, CN=localhost; issuer O=secd development, "
	    "CN=secd development CA; serial %s; key ecdsa-p256; sha256 %s; "
	    "spki sha256 %s; verified", ci.peer_serial, cert, spki);
	assert_contains(t->text, want);
	assert_contains(t->text, "name: localhost: matches the certificate");
	snprintf(want, sizeof(want), "pin: sha256:%s matches pin 1", spki);
	assert_contains(t->text, want);
	assert_contains(t->text, "proof: server signed the handshake "
	    "transcript (with our random) with its ecdsa-p256 key");
	assert_contains(t->text, "negotiated: version TLSv1.3; suite "
	    "TLS_CHACHA20_POLY1305_SHA256; key exchange x25519");
	assert_contains(t->text, "alpn secd/1; full handshake");
	ck_assert_int_eq(t->errors, 0);
	end_free(&s);
	end_free(&c);
	tls_ctx_free(cctx);

	/* A failure is traced too, with the verify result of the cert. */
	memset(t, 0, sizeof(*t));
	client_cfg_init(&cfg, "other");
	cfg.trace = trace_cb;
	cfg.trace_arg = t;
	cctx = client_ctx_cfg(&cfg);
	connect_fail(&s, &c, sctx, cctx, "localhost");
	assert_contains(t->text, "verify failed: unable to get issuer");
	ck_assert_int_eq(t->errors, 1);
	ck_assert_int_eq(t->negotiated, 0);
	end_free(&s);
	end_free(&c);
	tls_ctx_free(cctx);
	tls_ctx_free(sctx);
	free(t);
}
END_TEST

/* ---- resumption ---- */

/* Connect, read the server's ticket, and return the saved session. */
static void
first_session(struct tls_ctx *sctx, struct tls_ctx *cctx, unsigned char **sess,
    size_t *len)
{
	struct end s, c;

	connect_ok(&s, &c, sctx, cctx, "localhost");
	ck_assert_int_eq(tls_chan_write(s.ch, "hi", 2), 0);
	deliver(&s, &c);
	ck_assert_uint_eq(c.rxlen, 2);
	ck_assert_int_eq(tls_chan_get_session(c.ch, sess, len), 0);
	ck_assert_uint_gt(*len, 0);
	end_free(&s);
	end_free(&c);
}

START_TEST(test_tls_resumption_has_no_client_certificate)
{
	struct tls_ctx *sctx, *cctx;
	struct tls_client_config cfg;
	struct tls_info si, ci;
	struct end s, c;
	unsigned char *sess;
	size_t len;
	int i;

	sctx = server_ctx("ed25519", TLS_CLIENT_AUTH_REQUIRED, 1);
	client_cfg_init(&cfg, "ed25519");
	cfg.cert_file = path("ed25519", "client.pem");
	cfg.key_file = path("ed25519", "client.key");
	cctx = client_ctx_cfg(&cfg);
	first_session(sctx, cctx, &sess, &len);

	/* Twice: the second resumption must not break (wolfSSL #10796). */
	for (i = 0; i < 2; i++) {
		end_init(&s, sctx, NULL);
		end_init(&c, cctx, "localhost");
		ck_assert_int_eq(tls_chan_set_session(c.ch, sess, len), 0);
		pump(&s, &c);
		ck_assert_msg(c.hs == TLS_OK, "client: %s",
		    tls_chan_error(c.ch));
		ck_assert_msg(s.hs == TLS_OK, "server: %s",
		    tls_chan_error(s.ch));
		ck_assert_int_eq(tls_chan_info(s.ch, &si), 0);
		ck_assert_int_eq(tls_chan_info(c.ch, &ci), 0);
		ck_assert_int_eq(si.resumed, 1);
		ck_assert_int_eq(ci.resumed, 1);
		ck_assert_int_eq(si.peer_verified, 0);
		ck_assert_str_eq(si.peer_note, "resumed, no peer certificate");
		ck_assert_str_eq(si.peer_subject, "");
		ck_assert_str_eq(si.peer_spki_sha256, "");
		end_free(&s);
		end_free(&c);
	}
	explicit_bzero(sess, len);
	free(sess);
	tls_ctx_free(sctx);
	tls_ctx_free(cctx);
}
END_TEST

START_TEST(test_tls_resumption_long_lifetime_and_reload)
{
	struct tls_server_config scfg;
	struct tls_ctx *sctx, *sctx2, *cctx;
	struct tls_info si;
	struct end s, c;
	unsigned char *sess;
	size_t len;
	int i;

	memset(&scfg, 0, sizeof(scfg));
	scfg.cert_file = path("p256", "server.pem");
	scfg.key_file = path("p256", "server.key");
	scfg.tickets = 1;
	scfg.ticket_lifetime_s = 86400;
	sctx = server_ctx_cfg(&scfg);
	cctx = client_ctx("p256");

	/* wolfSSL's default ticket key breaks here past 3600 s; ours not. */
	for (i = 0; i < 3; i++) {
		first_session(sctx, cctx, &sess, &len);
		end_init(&s, sctx, NULL);
		end_init(&c, cctx, "localhost");
		ck_assert_int_eq(tls_chan_set_session(c.ch, sess, len), 0);
		pump(&s, &c);
		ck_assert_int_eq(s.hs, TLS_OK);
		ck_assert_int_eq(tls_chan_info(s.ch, &si), 0);
		ck_assert_int_eq(si.resumed, 1);
		end_free(&s);
		end_free(&c);
		if (i < 2)
			free(sess);
	}

	/* A new context (reload) has a new ticket key: full handshake. */
	sctx2 = server_ctx_cfg(&scfg);
	end_init(&s, sctx2, NULL);
	end_init(&c, cctx, "localhost");
	ck_assert_int_eq(tls_chan_set_session(c.ch, sess, len), 0);
	pump(&s, &c);
	ck_assert_int_eq(s.hs, TLS_OK);
	ck_assert_int_eq(c.hs, TLS_OK);
	ck_assert_int_eq(tls_chan_info(s.ch, &si), 0);
	ck_assert_int_eq(si.resumed, 0);
	end_free(&s);
	end_free(&c);
	free(sess);

	/* Garbage is not a session. */
	end_init(&c, cctx, "localhost");
	ck_assert_int_eq(tls_chan_set_session(c.ch,
	    (const unsigned char *)"garbage", 7), -1);
	end_free(&c);

	tls_ctx_free(sctx2);
	tls_ctx_free(sctx);
	tls_ctx_free(cctx);
}
END_TEST

/* Write text to a ticket key file in the test directory; its path. */
static const char *
ticket_file(const char *name, const char *text)
{
	static char bufs[8][512];	/* path()'s own buffers are reused */
	static int i;
	char *p = bufs[i++ % 8];
	FILE *f;

	snprintf(p, sizeof(bufs[0]), "%s", path("ed25519", name));
	f = fopen(p, "w");

	ck_assert_ptr_nonnull(f);
	ck_assert_int_ge(fputs(text, f), 0);
	ck_assert_int_eq(fclose(f), 0);
	return p;
}

/* Does a session from a server with key file a resume on one with b? */
static int
resumes_across(const char *a, const char *b)
{
	struct tls_server_config scfg;
	struct tls_ctx *s1, *s2, *cctx;
	struct tls_info si;
	struct end s, c;
	unsigned char *sess;
	size_t len;
	int resumed;

	memset(&scfg, 0, sizeof(scfg));
	scfg.cert_file = path("ed25519", "server.pem");
	scfg.key_file = path("ed25519", "server.key");
	scfg.tickets = 1;
	scfg.ticket_key_file = a;
	s1 = server_ctx_cfg(&scfg);
	scfg.ticket_key_file = b;
	s2 = server_ctx_cfg(&scfg);
	cctx = client_ctx("ed25519");
	first_session(s1, cctx, &sess, &len);
	end_init(&s, s2, NULL);
	end_init(&c, cctx, "localhost");
	ck_assert_int_eq(tls_chan_set_session(c.ch, sess, len), 0);
	pump(&s, &c);
	ck_assert_int_eq(s.hs, TLS_OK);
	ck_assert_int_eq(c.hs, TLS_OK);
	ck_assert_int_eq(tls_chan_info(s.ch, &si), 0);
	resumed = si.resumed;
	end_free(&s);
	end_free(&c);
	free(sess);
	tls_ctx_free(s1);
	tls_ctx_free(s2);
	tls_ctx_free(cctx);
	return resumed;
}

#define TK1 "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
#define TK2 "F0F1F2F3F4F5F6F7F8F9FAFBFCFDFEFF000102030405060708090A0B0C0D0E0F"

START_TEST(test_tls_ticket_key_file_resumes_across_contexts_and_rotation)
{
	const char *one = ticket_file("tk-one", "# current\n" TK1 "\n");
	const char *rotated = ticket_file("tk-rot", TK2 "\n\n" TK1 "  \r\n");
	const char *other = ticket_file("tk-other", TK2 "\n");

	/* Two contexts (a reload, another instance) sharing the file. */
	ck_assert_int_eq(resumes_across(one, one), 1);
	/* After rotation (a new first key), old tickets still open... */
	ck_assert_int_eq(resumes_across(one, rotated), 1);
	/* ...and new ones are sealed with the new key. */
	ck_assert_int_eq(resumes_across(rotated, other), 1);
	/* Once the old key is gone, its tickets fall back to a full
	   handshake (no error). */
	ck_assert_int_eq(resumes_across(one, other), 0);
	/* Without a file each context has its own key. */
	ck_assert_int_eq(resumes_across(NULL, NULL), 0);
}
END_TEST

START_TEST(test_tls_ticket_key_file_errors_name_file_and_line)
{
	static const struct {
		const char *text;
		const char *words;
	} cases[] = {
		{ "\n# only a comment\n", "no key in the file" },
		{ TK1 "\nabc\n", ":2: a key is 64 hex digits" },
		{ "# x\n" TK1 "g\n", ":2: a key is 64 hex digits" },
		{ "0z" TK1 "\n", "" },
		{ "00" TK1, "" },
		{ TK1 "\n" TK1 "\n" TK1 "\n" TK1 "\n" TK1 "\n" TK1 "\n"
		    TK1 "\n" TK1 "\n" TK1 "\n", ":9: more than 8 keys" },
	};
	struct tls_server_config scfg;
	char err[256], cert[512], key[512];
	size_t i;

	/* Copies: path() reuses its buffers. */
	snprintf(cert, sizeof(cert), "%s", path("ed25519", "server.pem"));
	snprintf(key, sizeof(key), "%s", path("ed25519", "server.key"));
	memset(&scfg, 0, sizeof(scfg));
	scfg.cert_file = cert;
	scfg.key_file = key;
	scfg.tickets = 1;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		scfg.ticket_key_file = ticket_file("tk-bad", cases[i].text);
		err[0] = '\0';
		ck_assert_ptr_null(tls_ctx_new_server(&scfg, err, sizeof(err)));
		ck_assert_msg(strstr(err, "tk-bad") != NULL &&
		    strstr(err, cases[i].words) != NULL, "case %zu: %s", i,
		    err);
	}
	/* A bad digit is located. */
	scfg.ticket_key_file = ticket_file("tk-bad", "0z" TK1 "\n");
	ck_assert_ptr_null(tls_ctx_new_server(&scfg, err, sizeof(err)));
	assert_contains(err, ":1: a key is 64 hex digits");
	scfg.ticket_key_file = ticket_file("tk-bad",
	    "0z" "0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n");
	ck_assert_ptr_null(tls_ctx_new_server(&scfg, err, sizeof(err)));
	assert_contains(err, ":1: not a hex digit at column 2");
	scfg.ticket_key_file = path("ed25519", "no-such-file");
	ck_assert_ptr_null(tls_ctx_new_server(&scfg, err, sizeof(err)));
	assert_contains(err, "cannot read ticket key");
}
END_TEST

START_TEST(test_tls_no_tickets_no_resumption)
{
	struct tls_ctx *sctx, *cctx;
	struct end s, c;
	unsigned char *sess;
	size_t len;

	sctx = server_ctx("ed25519", TLS_CLIENT_AUTH_NONE, 0);
	cctx = client_ctx("ed25519");
	connect_ok(&s, &c, sctx, cctx, "localhost");
	ck_assert_int_eq(tls_chan_write(s.ch, "hi", 2), 0);
	deliver(&s, &c);
	ck_assert_int_eq(tls_chan_get_session(c.ch, &sess, &len), -1);
	ck_assert_ptr_null(sess);
	end_free(&s);
	end_free(&c);
	tls_ctx_free(sctx);
	tls_ctx_free(cctx);
}
END_TEST

/* ---- fingerprints and certificates ---- */

START_TEST(test_tls_fingerprint_file_agrees_with_handshake)
{
	static const char *sets[] = { "ed25519", "p256", "rsa" };
	struct tls_ctx *sctx, *cctx;
	struct tls_info ci;
	struct end s, c;
	char spki[TLS_SHA256_HEX_LEN], cert[TLS_SHA256_HEX_LEN];
	char keyspki[TLS_SHA256_HEX_LEN], sha[TLS_SHA256_HEX_LEN], err[256];
	size_t i;

	for (i = 0; i < sizeof(sets) / sizeof(sets[0]); i++) {
		ck_assert_int_eq(tls_fingerprint_file(path(sets[i],
		    "server.pem"), spki, cert, err, sizeof(err)), 0);
		ck_assert_uint_eq(strlen(spki), 64);
		ck_assert_int_eq(tls_fingerprint_file(path(sets[i],
		    "server.key"), keyspki, NULL, err, sizeof(err)), 0);
		ck_assert_str_eq(keyspki, spki);
		pem_cert_sha256(path(sets[i], "server.pem"), sha);
		ck_assert_str_eq(cert, sha);

		sctx = server_ctx(sets[i], TLS_CLIENT_AUTH_NONE, 0);
		cctx = client_ctx(sets[i]);
		connect_ok(&s, &c, sctx, cctx, "localhost");
		ck_assert_int_eq(tls_chan_info(c.ch, &ci), 0);
		ck_assert_str_eq(ci.peer_spki_sha256, spki);
		ck_assert_str_eq(ci.peer_sha256, cert);
		end_free(&s);
		end_free(&c);
		tls_ctx_free(sctx);
		tls_ctx_free(cctx);

		/* And OpenSSL computes the same SPKI hash. */
		if (have_openssl) {
			char out[600], got[TLS_SHA256_HEX_LEN] = "";
			FILE *f;

			snprintf(out, sizeof(out), "%s/spki.txt", tmpdir);
			ck_assert_int_eq(run("openssl x509 -in %s -pubkey "
			    "-noout | openssl pkey -pubin -outform DER | "
			    "openssl dgst -sha256 -r | cut -c1-64 > %s",
			    path(sets[i], "server.pem"), out), 0);
			ck_assert_ptr_nonnull(f = fopen(out, "r"));
			ck_assert_int_eq(fscanf(f, "%64s", got), 1);
			fclose(f);
			ck_assert_str_eq(got, spki);
		}
	}

	ck_assert_int_eq(tls_fingerprint_file("/nonexistent.pem", spki, NULL,
	    err, sizeof(err)), -1);
	assert_contains(err, "/nonexistent.pem");
	{
		char junk[600];
		FILE *f;

		snprintf(junk, sizeof(junk), "%s/junk.txt", tmpdir);
		ck_assert_ptr_nonnull(f = fopen(junk, "w"));
		fputs("not a certificate\n", f);
		fclose(f);
		ck_assert_int_eq(tls_fingerprint_file(junk, spki, NULL, err,
		    sizeof(err)), -1);
		assert_contains(err, "no PEM data found");
	}
}
END_TEST

START_TEST(test_tls_openssl_generated_keys_load)
{
	struct tls_server_config cfg;
	struct tls_client_config ccfg;
	struct tls_ctx *sctx, *cctx;
	struct end s, c;
	char cert[600], key[600];
	static const char *algs[] = {
	    "-newkey ed25519",
	    "-newkey ec -pkeyopt ec_paramgen_curve:P-256",
	    "-newkey rsa:2048" };
	size_t i;

	if (!have_openssl)
		return;
	snprintf(cert, sizeof(cert), "%s/ossl.pem", tmpdir);
	snprintf(key, sizeof(key), "%s/ossl.key", tmpdir);
	for (i = 0; i < sizeof(algs) / sizeof(algs[0]); i++) {
		ck_assert_int_eq(run("openssl req -x509 %s -nodes -days 2 "
		    "-subj /CN=localhost -addext subjectAltName=DNS:localhost "
		    "-keyout %s -out %s 2>/dev/null", algs[i], key, cert), 0);
		memset(&cfg, 0, sizeof(cfg));
		cfg.cert_file = cert;
		cfg.key_file = key;
		sctx = server_ctx_cfg(&cfg);
		memset(&ccfg, 0, sizeof(ccfg));
		ccfg.ca_file = cert;
		cctx = client_ctx_cfg(&ccfg);
		connect_ok(&s, &c, sctx, cctx, "localhost");
		end_free(&s);
		end_free(&c);
		tls_ctx_free(sctx);
		tls_ctx_free(cctx);
	}
}
END_TEST

START_TEST(test_certgen_files_and_modes)
{
	static const char *files[] = { "ca.pem", "ca.key", "server.pem",
	    "server.key", "client.pem", "client.key" };
	struct stat st;
	enum certgen_key_type t;
	size_t i;

	for (i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		ck_assert_int_eq(stat(path("ed25519", files[i]), &st), 0);
		ck_assert_int_eq(st.st_mode & 0777,
		    strstr(files[i], ".key") != NULL ? 0600 : 0644);
	}
	ck_assert_int_eq(certgen_key_type_parse("p256", &t), 0);
	ck_assert_int_eq(t, CERTGEN_P256);
	ck_assert_int_eq(certgen_key_type_parse("dsa", &t), -1);
	ck_assert_str_eq(certgen_key_type_name(CERTGEN_RSA), "rsa");
	{
		char err[256];

		ck_assert_int_eq(certgen_make_dev("/nonexistent/dir",
		    CERTGEN_ED25519, 0, err, sizeof(err)), -1);
		assert_contains(err, "/nonexistent/dir/.ca.pem.tmp");
	}
}
END_TEST

START_TEST(test_certgen_output_verifies_with_openssl)
{
	static const char *sets[] = { "ed25519", "p256", "rsa" };
	size_t i;

	if (!have_openssl)
		return;
	for (i = 0; i < sizeof(sets) / sizeof(sets[0]); i++) {
		ck_assert_int_eq(run("openssl verify -CAfile %s %s %s "
		    ">/dev/null", path(sets[i], "ca.pem"),
		    path(sets[i], "server.pem"), path(sets[i], "client.pem")),
		    0);
		ck_assert_int_eq(run("openssl x509 -in %s -noout -text | "
		    "grep -q 'DNS:localhost, IP Address:127.0.0.1, "
		    "IP Address:0:0:0:0:0:0:0:1'", path(sets[i],
		    "server.pem")), 0);
		ck_assert_int_eq(run("openssl x509 -in %s -noout -text | "
		    "grep -q 'TLS Web Server Authentication'",
		    path(sets[i], "server.pem")), 0);
		ck_assert_int_eq(run("openssl x509 -in %s -noout -text | "
		    "grep -q 'TLS Web Client Authentication'",
		    path(sets[i], "client.pem")), 0);
		ck_assert_int_eq(run("openssl x509 -in %s -noout -text | "
		    "grep -q 'CA:TRUE'", path(sets[i], "ca.pem")), 0);
		ck_assert_int_eq(run("openssl x509 -in %s -noout -subject | "
		    "grep -q 'CN *= *AAA'", path(sets[i], "client.pem")), 0);
		ck_assert_int_eq(run("openssl pkey -in %s -noout",
		    path(sets[i], "server.key")), 0);
		ck_assert_int_eq(run("openssl pkey -in %s -noout",
		    path(sets[i], "ca.key")), 0);
		/* The not-before date is in the past: verify at "now - 1h". */
		ck_assert_int_eq(run("openssl verify -attime $(($(date +%%s) - "
		    "3600)) -CAfile %s %s >/dev/null", path(sets[i], "ca.pem"),
		    path(sets[i], "server.pem")), 0);
	}
	/* GnuTLS reads them too, where it is installed. */
	if (run("certtool --version >/dev/null 2>&1") == 0) {
		for (i = 0; i < sizeof(sets) / sizeof(sets[0]); i++) {
			ck_assert_int_eq(run("certtool -i --infile %s | "
			    "grep -q 'IPAddress: ::1'",
			    path(sets[i], "server.pem")), 0);
			ck_assert_int_eq(run("certtool -k --infile %s "
			    ">/dev/null", path(sets[i], "client.key")), 0);
			ck_assert_int_eq(run("certtool --verify --load-ca-"
			    "certificate %s --infile %s >/dev/null 2>&1",
			    path(sets[i], "ca.pem"),
			    path(sets[i], "server.pem")), 0);
		}
	}
	/* Another CA does not vouch for this server. */
	ck_assert_int_ne(run("openssl verify -CAfile %s %s >/dev/null 2>&1",
	    path("other", "ca.pem"), path("ed25519", "server.pem")), 0);
}
END_TEST

/* ---- suite ---- */

Suite *tls_suite(void);

Suite *
tls_suite(void)
{
	Suite *s;
	TCase *tc;

	s = suite_create("tls");

	tc = tcase_create("handshake");
	tcase_add_test(tc, test_tls_handshake_ed25519);
	tcase_add_test(tc, test_tls_handshake_p256);
	tcase_add_test(tc, test_tls_handshake_rsa);
	tcase_add_test(tc, test_tls_negotiates_tls13_chacha_x25519_alpn);
	tcase_add_test(tc, test_tls_handshake_byte_at_a_time);
	tcase_add_test(tc, test_tls_no_shared_cipher);
	tcase_add_test(tc, test_tls_no_shared_group);
	tcase_add_test(tc, test_tls_alpn);
	tcase_add_test(tc, test_tls_eof_during_handshake);
	tcase_add_test(tc, test_tls_tls12_only_when_allowed);
	tcase_add_test(tc, test_tls_ctx_shared_by_threads);
	suite_add_tcase(s, tc);

	tc = tcase_create("data");
	tcase_add_test(tc, test_tls_data_both_ways_large_and_small);
	tcase_add_test(tc, test_tls_read_returns_what_fits_and_keeps_the_rest);
	tcase_add_test(tc, test_tls_close_notify_is_closed);
	suite_add_tcase(s, tc);

	tc = tcase_create("verify");
	tcase_add_test(tc, test_tls_client_rejects_other_ca);
	tcase_add_test(tc, test_tls_client_rejects_wrong_name);
	tcase_add_test(tc, test_tls_client_checks_ip_names);
	tcase_add_test(tc, test_tls_pins);
	tcase_add_test(tc, test_tls_client_auth_required);
	tcase_add_test(tc, test_tls_client_auth_optional);
	tcase_add_test(tc, test_tls_trace_reports_the_conversation);
	suite_add_tcase(s, tc);

	tc = tcase_create("robustness");
	tcase_add_test(tc, test_tls_garbage_is_an_error);
	tcase_add_test(tc, test_tls_input_overfeed_refused);
	tcase_add_test(tc, test_tls_misuse_is_refused);
	tcase_add_test(tc, test_tls_ctx_config_errors);
	tcase_add_test(tc, test_tls_ctx_outlives_its_creator);
	suite_add_tcase(s, tc);

	tc = tcase_create("resumption");
	tcase_add_test(tc, test_tls_resumption_has_no_client_certificate);
	tcase_add_test(tc, test_tls_resumption_long_lifetime_and_reload);
	tcase_add_test(tc, test_tls_no_tickets_no_resumption);
	tcase_add_test(tc,
	    test_tls_ticket_key_file_resumes_across_contexts_and_rotation);
	tcase_add_test(tc, test_tls_ticket_key_file_errors_name_file_and_line);
	suite_add_tcase(s, tc);

	tc = tcase_create("certificates");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_tls_fingerprint_file_agrees_with_handshake);
	tcase_add_test(tc, test_tls_openssl_generated_keys_load);
	tcase_add_test(tc, test_certgen_files_and_modes);
	tcase_add_test(tc, test_certgen_output_verifies_with_openssl);
	suite_add_tcase(s, tc);

	return (s);
}

static int
rm_entry(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{

	(void)st;
	(void)flag;
	(void)ftw;
	return (remove(p));
}

static void
make_set(const char *set, enum certgen_key_type type)
{
	char dir[512], err[256];

	snprintf(dir, sizeof(dir), "%s/%s", tmpdir, set);
	if (mkdir(dir, 0700) == -1) {
		fprintf(stderr, "mkdir %s: %s\n", dir, strerror(errno));
		exit(1);
	}
	if (certgen_make_dev(dir, type, 30, err, sizeof(err))) {
		fprintf(stderr, "certgen %s: %s\n", set, err);
		exit(1);
	}
}

int
main(void)
{
	SRunner *sr;
	const char *t;
	int failed;

	t = getenv("TMPDIR");
	snprintf(tmpdir, sizeof(tmpdir), "%s/check_tls.XXXXXX",
	    t != NULL && t[0] != '\0' ? t : "/tmp");
	if (mkdtemp(tmpdir) == NULL) {
		perror("mkdtemp");
		return (1);
	}
	make_set("ed25519", CERTGEN_ED25519);
	make_set("p256", CERTGEN_P256);
	make_set("rsa", CERTGEN_RSA);
	make_set("other", CERTGEN_ED25519);
	have_openssl = system("openssl version >/dev/null 2>&1") == 0;
	if (!have_openssl)
		fprintf(stderr, "openssl not found: skipping its checks\n");

	sr = srunner_create(tls_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);

	nftw(tmpdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	tls_global_cleanup();
	return (failed == 0 ? 0 : 1);
}
