#ifndef SECD_TLS_H
#define SECD_TLS_H

/*
 * tls: a sans-I/O TLS 1.3 channel on wolfSSL, for both roles.
 *
 * The caller owns the socket.  Bytes read from it go in with tls_chan_feed
 * (or tls_chan_input_reserve/commit), bytes to write come out with
 * tls_chan_take_output.  No call here blocks, sleeps or touches a file
 * descriptor, except the tls_ctx_new_* and tls_fingerprint_file calls, which
 * read the certificate and key files they are given.
 *
 * Contexts (struct tls_ctx) are built once, then shared read-only by any
 * number of threads; they are reference counted, and every channel holds a
 * reference, so a server can swap in a new context on reload while
 * established channels finish on the old one.  A channel (struct tls_chan)
 * belongs to one thread at a time.
 *
 * After every call on a channel, the caller writes out whatever
 * tls_chan_output_len says is pending: handshake flights, alerts and session
 * tickets appear there as a side effect of feeding, reading and handshaking,
 * and also when a call fails (so the peer gets the alert).
 */

#include <sys/types.h>

#include <stddef.h>
#include <stdint.h>

/* Results of tls_chan_handshake and tls_chan_read. */
#define TLS_OK		0	/* handshake complete */
#define TLS_ERROR	(-1)	/* failed for good; see tls_chan_error */
#define TLS_WANT_READ	(-2)	/* feed more ciphertext, then call again */
#define TLS_CLOSED	(-3)	/* peer sent close_notify, or EOF was fed */

/* The one application protocol secd speaks (ALPN). */
#define TLS_ALPN	"secd/1"

/*
 * The input buffer holds at most two full TLS records (2^14 bytes of
 * plaintext plus 256 of expansion, plus the 5-byte header, each).  Once it
 * is full the caller stops reading the socket until the channel has drained
 * some (tls_chan_input_room).
 */
#define TLS_CHAN_INPUT_MAX	(2 * (16384 + 256 + 5))

/* A SHA-256 fingerprint as lowercase hex, with its NUL. */
#define TLS_SHA256_HEX_LEN	65

/* Defaults when a config string is NULL. */
#define TLS_DEFAULT_CIPHERS	"TLS_CHACHA20_POLY1305_SHA256:" \
	"TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384"
#define TLS_DEFAULT_CIPHERS_12	"ECDHE-ECDSA-CHACHA20-POLY1305:" \
	"ECDHE-RSA-CHACHA20-POLY1305:ECDHE-ECDSA-AES128-GCM-SHA256:" \
	"ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:" \
	"ECDHE-RSA-AES256-GCM-SHA384"
#define TLS_DEFAULT_GROUPS	"x25519:p256"
#define TLS_DEFAULT_TICKET_LIFETIME	7200	/* seconds */

enum tls_client_auth {
	TLS_CLIENT_AUTH_NONE = 0,	/* never ask for a client certificate */
	TLS_CLIENT_AUTH_OPTIONAL,	/* ask; verify one if sent */
	TLS_CLIENT_AUTH_REQUIRED	/* ask; fail the handshake without one */
};

/*
 * Lists in the configs below are strings of names separated by ':' or ','
 * (spaces around names are ignored), in order of preference.
 *   ciphers: IANA names (TLS_CHACHA20_POLY1305_SHA256, TLS_AES_128_GCM_SHA256,
 *     TLS_AES_256_GCM_SHA384, and with min_version 12 the
 *     TLS_ECDHE_{ECDSA,RSA}_WITH_{CHACHA20_POLY1305_SHA256,AES_128_GCM_SHA256,
 *     AES_256_GCM_SHA384} suites) or the wolfSSL/OpenSSL spellings
 *     (TLS13-CHACHA20-POLY1305-SHA256, ECDHE-ECDSA-CHACHA20-POLY1305, ...).
 *     Only these AEAD suites are accepted; anything else is an error.
 *   groups: x25519, p256, p384, p521 (secp256r1 and prime256v1 also work).
 * NULL means the TLS_DEFAULT_* list.  min_version is 13 (or 0, the same) or
 * 12 to also allow TLS 1.2.
 */
struct tls_server_config {
	const char *cert_file;		/* PEM: certificate, then its chain */
	const char *key_file;		/* PEM: Ed25519, ECDSA or RSA key */
	const char *client_ca_file;	/* PEM CAs for client certs, or NULL */
	enum tls_client_auth client_auth; /* not NONE needs client_ca_file */
	int min_version;
	const char *ciphers;
	const char *groups;
	int tickets;			/* issue TLS 1.3 session tickets */
	uint32_t ticket_lifetime_s;	/* 0: TLS_DEFAULT_TICKET_LIFETIME */
	const char *ticket_key_file;	/* or NULL: a random key (below) */
};

/*
 * A ticket key file holds 1 to TLS_TICKET_KEYS_MAX secrets, one per line,
 * each 64 hex digits (32 bytes, e.g. from "openssl rand -hex 32"); blank
 * lines and lines starting with '#' are skipped.  The first key seals new
 * tickets; every key opens them.  Several servers, restarts and reloads
 * that read the same file resume each other's sessions.  Rotate by adding
 * a new first line, and drop the last one once tickets it sealed have
 * expired (ticket_lifetime).  Each key's name and cipher key are derived
 * from the secret with SHA-256, so the name on a ticket reveals nothing.
 */
#define TLS_TICKET_KEYS_MAX	8

/*
 * About tickets: without a ticket key file each server context seals them
 * with its own random key, so a reload (new context) sends clients with
 * old tickets through a full handshake.  A resumed session never carries the client certificate
 * (even with client_auth REQUIRED wolfSSL resumes without one), so when
 * client certificates carry identity, turn tickets off.
 */

/*
 * The trace callback sees each step of the conversation as it happens (see
 * DESIGN section 1).  step is one of the TLS_TRACE_* strings; detail is a
 * one-line human description with the real values.  Both are valid only
 * during the call.  Called on the thread driving the channel.
 */
#define TLS_TRACE_OFFER		"offer"		/* ClientHello contents */
#define TLS_TRACE_CERT		"certificate"	/* one per chain certificate */
#define TLS_TRACE_NAME		"name"		/* host name / IP check */
#define TLS_TRACE_PIN		"pin"		/* SPKI pin check */
#define TLS_TRACE_PROOF		"proof"		/* CertificateVerify */
#define TLS_TRACE_CLIENT_CERT	"client-certificate"
#define TLS_TRACE_NEGOTIATED	"negotiated"	/* version, suite, group... */
#define TLS_TRACE_ERROR		"error"		/* why the handshake failed */

struct tls_client_config {
	const char *ca_file;		/* PEM CAs; required */
	const char *cert_file;		/* client certificate chain, or NULL */
	const char *key_file;		/* its key; with cert_file only */
	/*
	 * NULL-terminated list of SHA-256 pins, or NULL.  A pin is
	 * "sha256:" and 64 hex digits (colons between bytes allowed) of the
	 * server certificate's SubjectPublicKeyInfo or of the whole DER
	 * certificate.  Checked in addition to the chain and the name: the
	 * handshake fails unless one pin matches.
	 */
	const char *const *pins;
	int min_version;
	const char *ciphers;
	const char *groups;		/* the first one gets a key share */
	const char *alpn;		/* NULL: TLS_ALPN; "": offer none */
	void (*trace)(void *arg, const char *step, const char *detail);
	void *trace_arg;
};

/*
 * tls_global_init(): initialise wolfSSL once per process.  Thread-safe and
 * idempotent (pthread_once); tls_ctx_new_* call it too.  Returns 0 / -1.
 */
int tls_global_init(void);

/*
 * tls_global_cleanup(): release wolfSSL's global state.  Call once, from the
 * main thread, at exit, after every context and channel is freed.
 */
void tls_global_cleanup(void);

/*
 * tls_thread_cleanup(): free this thread's wolfCrypt ECC caches
 * (wc_ecc_fp_free).  Call on each worker thread before it exits.
 */
void tls_thread_cleanup(void);

/*
 * tls_ctx_new_server(cfg, err, errlen): build a server context: the
 * certificate chain and key (key type detected; a key that does not match
 * the certificate is an error), TLS 1.3 only unless cfg->min_version is 12,
 * the server's order of cipher suites and groups, ALPN secd/1 (a client that
 * offers ALPN without secd/1 is refused; one that offers none is served), no
 * compression, session tickets as configured, client certificates as
 * configured.  cfg and its strings are only read during the call.  Returns a
 * context holding one reference, or NULL with a message naming the file and
 * the problem in err.
 */
struct tls_ctx *tls_ctx_new_server(const struct tls_server_config *cfg,
    char *err, size_t errlen);

/*
 * tls_ctx_new_client(cfg, err, errlen): build a client context.  The server
 * certificate is always verified against cfg->ca_file, its name against the
 * name given to tls_chan_new, and against cfg->pins if any.  cfg and its
 * strings are only read during the call (trace_arg is kept as is).  Returns
 * a context holding one reference, or NULL with a message in err.
 */
struct tls_ctx *tls_ctx_new_client(const struct tls_client_config *cfg,
    char *err, size_t errlen);

/*
 * tls_ctx_ref(ctx): take another reference to ctx (for another thread or
 * holder).  Returns ctx.
 */
struct tls_ctx *tls_ctx_ref(struct tls_ctx *ctx);

/*
 * tls_ctx_free(ctx): drop one reference; the last one frees the context.
 * Channels hold their own references, so a context may be "freed" by its
 * creator while channels still use it.  NULL does nothing.
 */
void tls_ctx_free(struct tls_ctx *ctx);

/*
 * tls_chan_new(ctx, server_name): a new channel in ctx's role, holding a
 * reference to ctx.  For a client, server_name is required: a DNS name
 * (sent as SNI and matched against the certificate) or an IPv4/IPv6
 * literal (matched against the certificate's IP addresses; no SNI).
 * server_name is copied.  For a server it must be NULL.  Returns NULL if
 * memory is short or server_name is missing or malformed.
 */
struct tls_chan *tls_chan_new(struct tls_ctx *ctx, const char *server_name);

/*
 * tls_chan_free(c): free the channel, its buffers (wiped) and its context
 * reference.  Output not yet taken is discarded.  NULL does nothing.
 */
void tls_chan_free(struct tls_chan *c);

/*
 * tls_chan_feed(c, buf, len): copy len bytes of ciphertext received from
 * the peer into the input buffer.  Returns 0, or -1 (nothing copied) if len
 * exceeds tls_chan_input_room(c) or memory is short.
 */
int tls_chan_feed(struct tls_chan *c, const void *buf, size_t len);

/*
 * tls_chan_input_room(c): how many bytes tls_chan_feed accepts now.  When 0,
 * stop reading the socket and call tls_chan_handshake or tls_chan_read,
 * which drain the buffer.
 */
size_t tls_chan_input_room(const struct tls_chan *c);

/*
 * tls_chan_input_reserve(c, buf, len) / tls_chan_input_commit(c, n): the
 * zero-copy form of tls_chan_feed for a reader that lets the socket write
 * into the channel (libuv's alloc_cb and read_cb).  reserve points *buf at
 * *len == tls_chan_input_room(c) free bytes owned by the channel and returns
 * 0, or returns -1 with *buf NULL and *len 0 if there is no room or memory.
 * The next call on c must be commit, with the n <= *len bytes that arrived
 * (0 if none: an idle channel then gives the buffer back).
 */
int tls_chan_input_reserve(struct tls_chan *c, void **buf, size_t *len);
void tls_chan_input_commit(struct tls_chan *c, size_t n);

/*
 * tls_chan_feed_eof(c): the peer closed its end.  Pending input is still
 * processed; after it the channel reports TLS_CLOSED (or, during the
 * handshake, TLS_ERROR "peer closed during handshake").
 */
void tls_chan_feed_eof(struct tls_chan *c);

/*
 * tls_chan_output_len(c): bytes of ciphertext waiting to be written.
 */
size_t tls_chan_output_len(const struct tls_chan *c);

/*
 * tls_chan_take_output(c, buf, len): move the pending output to the caller:
 * *buf is a malloc'd buffer of *len bytes that the caller owns and frees
 * with free() once written; the channel starts a new buffer.  With nothing
 * pending, *buf is NULL and *len 0.  Returns 0, always.
 *
 * Why ownership moves rather than peek/consume: a libuv writer must keep the
 * bytes alive until its write callback, while the channel goes on producing
 * output (the next reply, a ticket) meanwhile.  Handing the buffer over lets
 * each uv_write own its bytes with no copy and no coupling between the
 * channel's buffer and writes in flight; the write callback frees it.  It
 * also means an idle channel holds no output memory at all.
 */
int tls_chan_take_output(struct tls_chan *c, void **buf, size_t *len);

/*
 * tls_chan_handshake(c): advance the handshake with the input fed so far.
 * Returns TLS_OK once complete (and on every later call), TLS_WANT_READ
 * when it needs more input, or TLS_ERROR with tls_chan_error(c) set.  Any
 * output produced (our flight, an alert on failure) is queued.  On TLS_OK,
 * input may already hold application data: call tls_chan_read.
 * A client's TLS_OK means the server is verified; with TLS 1.3, a server may
 * still reject the client (certificate required) and the client learns it
 * from its first tls_chan_read.
 */
int tls_chan_handshake(struct tls_chan *c);

/*
 * tls_chan_read(c, buf, len): decrypt up to len (> 0) bytes of application
 * data into buf, over as many records as are buffered.  Returns the count
 * (> 0), TLS_WANT_READ (nothing more until fed), TLS_CLOSED, or TLS_ERROR.
 * Call it until it returns TLS_WANT_READ: a full buf may leave more data
 * inside.  Session tickets and other post-handshake messages are handled
 * inside.  TLS_ERROR before the handshake completed.
 */
ssize_t tls_chan_read(struct tls_chan *c, void *buf, size_t len);

/*
 * tls_chan_write(c, buf, len): encrypt all len bytes into the output queue,
 * as many records as it takes.  Returns 0, or -1 (TLS_ERROR) if the
 * handshake is not complete, close_notify was sent, or the channel failed.
 */
int tls_chan_write(struct tls_chan *c, const void *buf, size_t len);

/*
 * tls_chan_close_notify(c): queue a close_notify alert.  Later writes fail.
 * Returns 0, or -1 if the channel had failed.
 */
int tls_chan_close_notify(struct tls_chan *c);

/*
 * tls_chan_error(c): why the channel failed, one short line meant for a
 * log ("certificate verify failed: unable to get issuer certificate",
 * "no shared cipher", "peer closed during handshake", "alpn mismatch"...),
 * or "" if it has not.  Valid until the next call on c.
 */
const char *tls_chan_error(const struct tls_chan *c);

/* tls_chan_handshake_done(c): 1 once tls_chan_handshake returned TLS_OK. */
int tls_chan_handshake_done(const struct tls_chan *c);

/*
 * What was negotiated, and who the peer is.  The peer certificate is the
 * client's on a server, the server's on a client.  peer_verified is 1 only
 * when the peer presented a certificate in this handshake and it verified;
 * a resumed session never counts as certificate-authenticated, because
 * wolfSSL can resume one without the client certificate (peer_note then
 * says "resumed, no peer certificate").  Strings are NUL-terminated, empty
 * when unknown; names are printable ASCII (other bytes escaped as \xHH).
 */
struct tls_info {
	char version[16];	/* "TLSv1.3" */
	char suite[64];		/* IANA: "TLS_CHACHA20_POLY1305_SHA256" */
	char group[16];		/* "x25519", "p256", ... */
	char alpn[32];		/* "secd/1", or "" if none was agreed */
	int resumed;		/* 1 if the session was resumed from a ticket */
	int peer_verified;
	char peer_note[48];	/* "verified", "no peer certificate", ... */
	char peer_subject[256];	/* "O=secd development, CN=AAA" */
	char peer_issuer[256];
	char peer_serial[41];	/* hex of the serial's bytes */
	char peer_sha256[TLS_SHA256_HEX_LEN];	/* of the DER certificate */
	char peer_spki_sha256[TLS_SHA256_HEX_LEN];	/* the pin value */
};

/*
 * tls_chan_info(c, info): fill the caller's *info (nothing is kept in the
 * channel, so idle channels stay small).  Returns 0, or -1 if the handshake
 * has not completed.
 */
int tls_chan_info(struct tls_chan *c, struct tls_info *info);

/*
 * tls_chan_get_session(c, buf, len): the client's resumable session,
 * serialized into a malloc'd *buf of *len bytes that the caller owns.  It
 * holds the resumption secret: wipe it before freeing.  Available once the
 * server's session ticket has been read (tls_chan_read after the handshake).
 * Returns 0, or -1 if there is no ticket yet or memory is short.
 */
int tls_chan_get_session(struct tls_chan *c, unsigned char **buf,
    size_t *len);

/*
 * tls_chan_set_session(c, buf, len): offer a session saved by
 * tls_chan_get_session (with a context of the same CA, name and pins) for
 * resumption; call before the first tls_chan_handshake.  If the server
 * declines it, a full handshake follows.  buf is only read during the call.
 * Returns 0, or -1 if buf does not parse or wolfSSL will not use it (e.g.
 * expired); the channel is unchanged then, and does a full handshake.
 */
int tls_chan_set_session(struct tls_chan *c, const unsigned char *buf,
    size_t len);

/*
 * tls_fingerprint_file(pem_path, spki_hex, cert_hex, err, errlen): the pins
 * of the first PEM object in pem_path.  For a certificate: SHA-256 of its
 * SubjectPublicKeyInfo into spki_hex and of its DER into cert_hex.  For a
 * public or private key (Ed25519, ECDSA, RSA): the SPKI hash; cert_hex is
 * set to "".  Both buffers are TLS_SHA256_HEX_LEN; cert_hex may be NULL.
 * Returns 0, or -1 with a message in err.
 */
int tls_fingerprint_file(const char *pem_path, char *spki_hex, char *cert_hex,
    char *err, size_t errlen);

#endif /* !SECD_TLS_H */
