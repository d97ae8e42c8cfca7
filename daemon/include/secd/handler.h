/*
 * secd/handler.h: the handler-module ABI, version 1.
 *
 * A handler answers the requests that secd has decrypted, decoded and let
 * through its authentication gate.  secd ships one handler built in (the
 * ledger) and loads others with dlopen.  A module exports one symbol,
 *
 *	const struct secd_handler secd_handler = { SECD_HANDLER_ABI, ... };
 *
 * and includes nothing of secd but this header.  Everything the module may
 * call on the host side reaches it through the struct secd_host it is given
 * in open(), so a module needs no symbols from the secd executable.
 *
 * Threads and lifetimes, the whole contract:
 *   - open() and close() run once each, on secd's main thread.
 *   - submit() runs on worker threads, several at once, and must not block:
 *     no disk, no database, no password hashing, no network waits on the
 *     calling thread.  Hand such work to threads of the module's own.
 *   - Every call is answered exactly once, through host->reply(),
 *     host->reply_login() or host->reply_error(), from any thread,
 *     including the submitting thread before submit() returns (a quick
 *     refusal: bad arguments, queue full; or an answer the module has in
 *     memory, which then costs no thread switch at all).  The call
 *     and everything it points to (args, peer, strings) stay valid until that
 *     answer and must not be touched after it: the answer releases them.
 *   - close() is called once no connection is left and no new call will
 *     be submitted.  Calls may still be held then (a forced shutdown does
 *     not wait for slow work): close() answers every call it still holds
 *     (e.g. with "unavailable"), or finishes them, before it returns; then
 *     it joins the module's threads and frees its state.
 *
 * Secrets: the "password" argument of login points into memory that secd
 * wipes when the call is answered.  A module that copies it wipes its copy.
 */
#ifndef SECD_HANDLER_H
#define SECD_HANDLER_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Bumped on any incompatible change to the structures below. */
#define SECD_HANDLER_ABI 1

/* A value: request arguments and reply fields both use it. */
enum secd_vtype {
	SECD_V_NULL = 0,
	SECD_V_BOOL,
	SECD_V_INT,		/* int64_t; money must stay within +-(2^53-1) */
	SECD_V_STR,		/* NUL-terminated UTF-8 */
	SECD_V_OBJECT,		/* u.list: items with keys */
	SECD_V_ARRAY		/* u.list: items whose keys are ignored */
};

struct secd_value {
	const char *key;	/* field name; NULL inside arrays */
	enum secd_vtype type;
	union {
		int b;
		int64_t i;
		const char *s;
		struct {
			const struct secd_value *items;
			size_t n;
		} list;
	} u;
};

/* Convenience constructors for reply fields. */
#define SECD_STR(k, v) { .key = (k), .type = SECD_V_STR, .u.s = (v) }
#define SECD_INT(k, v) { .key = (k), .type = SECD_V_INT, .u.i = (v) }
#define SECD_BOOL(k, v) { .key = (k), .type = SECD_V_BOOL, .u.b = (v) }
#define SECD_NULLV(k) { .key = (k), .type = SECD_V_NULL }

/* Log priorities, as syslog's. */
enum secd_log_level {
	SECD_LOG_ERR = 3,
	SECD_LOG_WARNING = 4,
	SECD_LOG_NOTICE = 5,
	SECD_LOG_INFO = 6,
	SECD_LOG_DEBUG = 7
};

/* Who is asking.  All strings are NULL when not known. */
struct secd_peer {
	const char *address;		/* "192.0.2.1:50000", "[::1]:50000" */
	const char *cert_sha256;	/* hex SHA-256 of the client certificate
					   (DER), only when it was verified in
					   this very handshake (not resumed) */
	const char *cert_subject;	/* its subject, one-line form */
};

/* One request.  Read-only for the module. */
struct secd_call {
	const char *op;			/* "login", "balance", or a module op */
	const struct secd_value *args;	/* the request's fields but id and op */
	size_t nargs;
	const char *account;		/* the session's account, or NULL */
	const struct secd_peer *peer;
	const char *request_id;		/* the client's id as text, for logs;
					   "null" when the request had none */
};

/* How a login proves who it is: secd.yaml's auth.methods. */
enum secd_auth_methods {
	SECD_AUTH_PASSWORD = 0,		/* password only; certificates ignored */
	SECD_AUTH_CERTIFICATE = 1,	/* a verified client certificate bound
					   to the account; no password */
	SECD_AUTH_BOTH = 2		/* a bound certificate and the password */
};

/*
 * Password-hash parameters and policy from secd.yaml's auth section.
 * Fields are only ever appended (a module built against an older header
 * reads a prefix of this struct), so adding one does not change the ABI.
 *
 * methods: the host has already checked the shape of a login against it
 * before submitting: with PASSWORD and BOTH the "password" argument is
 * present; with CERTIFICATE it is absent; with CERTIFICATE and BOTH
 * peer->cert_sha256 is set (a certificate verified in this very
 * handshake).  The handler checks what only it knows: that the password
 * is right and that the certificate is bound to the account.
 */
struct secd_auth {
	uint64_t scrypt_n;
	uint32_t scrypt_r;
	uint32_t scrypt_p;
	uint32_t methods;		/* enum secd_auth_methods */
};

/* One handler option from secd.yaml's handler.options. */
struct secd_option {
	const char *key;
	const char *value;		/* scalars are passed as text */
	const char *where;		/* "secd.yaml:40:5", for messages */
};

/* What the host offers a module.  Valid from open() until close() returns. */
struct secd_host {
	uint32_t abi;			/* SECD_HANDLER_ABI of the host */
	const struct secd_auth *auth;

	/* log(host, level, fmt, ...): one line to secd's log.  Thread-safe. */
	void (*log)(const struct secd_host *host, enum secd_log_level level,
	    const char *fmt, ...)
#if defined(__GNUC__)
	    __attribute__((format(printf, 3, 4)))
#endif
	    ;

	/*
	 * reply(call, fields, n): answer call with {"id":..,"ok":true,
	 * fields...}, in the order given.  The fields are copied before
	 * reply returns.
	 */
	void (*reply)(struct secd_call *call, const struct secd_value *fields,
	    size_t n);

	/*
	 * reply_login(call, account): answer a successful login.  The
	 * session becomes authenticated as account and the client sees
	 * {"id":..,"ok":true,"account":ACCOUNT}.
	 */
	void (*reply_login)(struct secd_call *call, const char *account);

	/*
	 * reply_error(call, code, message, retry_after): answer with an error.
	 * code is one of protocol.md's error codes ("auth_failed", ...);
	 * retry_after is seconds, or -1 for none.  message must never contain
	 * a secret.
	 */
	void (*reply_error)(struct secd_call *call, const char *code,
	    const char *message, int64_t retry_after);

	/*
	 * The directory of the configuration file, against which a module
	 * resolves relative paths in its options (the ledger's database),
	 * or NULL to leave them relative to the current directory.
	 */
	const char *base_dir;
};

struct secd_handler {
	uint32_t abi;			/* SECD_HANDLER_ABI: first, always */
	const char *name;
	/* The ops this handler serves, NULL-terminated.  ping and logout
	   are the host's and are never submitted. */
	const char *const *ops;

	/*
	 * open(host, options, noptions, &state, err, errlen): validate the
	 * options and start.  On failure return -1 with a one-line reason in
	 * err (naming the option's "where" if an option is at fault).
	 */
	int (*open)(const struct secd_host *host,
	    const struct secd_option *options, size_t noptions, void **state,
	    char *err, size_t errlen);
	void (*close)(void *state);
	void (*submit)(void *state, struct secd_call *call);
};

/* The symbol a module exports. */
#define SECD_HANDLER_SYMBOL "secd_handler"

/* Argument lookup helpers, for modules' convenience. */
static inline const struct secd_value *
secd_arg(const struct secd_call *call, const char *key)
{
	size_t i;

	for (i = 0; i < call->nargs; i++)
		if (call->args[i].key != NULL &&
		    strcmp(call->args[i].key, key) == 0)
			return &call->args[i];
	return NULL;
}

static inline const char *
secd_arg_str(const struct secd_call *call, const char *key)
{
	const struct secd_value *v = secd_arg(call, key);

	return (v != NULL && v->type == SECD_V_STR) ? v->u.s : NULL;
}

/* secd_arg_int(call, key, &out): 0 and *out set if key is an integer. */
static inline int
secd_arg_int(const struct secd_call *call, const char *key, int64_t *out)
{
	const struct secd_value *v = secd_arg(call, key);

	if (v == NULL || v->type != SECD_V_INT)
		return -1;
	*out = v->u.i;
	return 0;
}

#ifdef __cplusplus
}
#endif
#endif /* !SECD_HANDLER_H */
