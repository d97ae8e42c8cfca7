/*
 * msg.h: the message model of protocol v1 (docs/protocol.md).
 *
 * Plain C structs for the greeting, the requests and the replies, the names
 * and numbers of ops and error codes, the limits of every field, and the
 * validators that the codec and the later layers (dispatch, ledger, secctl)
 * share, so that one rule for "what is an account name" exists once.
 *
 * Bounded strings live in fixed-size buffers inside the structs, always
 * NUL-terminated (the protocol forbids NUL in strings, so strlen() is exact);
 * decoding a built-in request therefore allocates nothing beyond what jansson
 * needs.  The only heap members are an extension op's JSON object and a
 * history reply's entries; msg_request_clear() and msg_reply_clear() release
 * them.  The password of a login request is a secret: msg_request_clear()
 * wipes it, and every holder of a decoded request must call it.
 *
 * This header is pure: no libuv, no sockets, no daemon types.
 */
#ifndef SECD_PROTO_MSG_H
#define SECD_PROTO_MSG_H

#include <stddef.h>
#include <stdint.h>

struct json_t;	/* jansson's json_t; only pointers are held here. */

/* The protocol version announced in the greeting. */
#define MSG_PROTOCOL_VERSION		1

/*
 * Longest request line a server accepts, counted without the line
 * terminator: the default, and the range a configuration may choose.  The
 * minimum is large enough that every valid built-in request fits even with
 * every password byte escaped as \u00XX.
 */
#define MSG_MAX_MESSAGE_DEFAULT		65536
#define MSG_MAX_MESSAGE_MIN		8192
#define MSG_MAX_MESSAGE_MAX		1048576

/*
 * Longest line a server ever sends (a full history page with long memos can
 * exceed the request limit).  Clients frame replies with this limit; the
 * reply encoder refuses to produce anything longer.
 */
#define MSG_REPLY_MAX_BYTES	1048576

/* Objects and arrays nest at most this deep; the line's object is level 1. */
#define MSG_MAX_DEPTH		8

/* Every integer anywhere in a message: |n| <= 2^53 - 1. */
#define MSG_INT_MAX		INT64_C(9007199254740991)

#define MSG_ID_STR_MAX		64	/* string id: 1..64 bytes */
#define MSG_OP_NAME_MAX		32	/* 1..32 of [a-z0-9_] */
#define MSG_ACCOUNT_MAX		64	/* 1..64 of [A-Za-z0-9._@-] */
#define MSG_PASSWORD_MAX	1024	/* 1..1024 bytes of UTF-8 */
#define MSG_IDEM_KEY_MAX	64	/* 1..64 of [A-Za-z0-9._:-] */
#define MSG_MEMO_MAX		256	/* 0..256 bytes, no controls */
#define MSG_CURRENCY_LEN	3	/* exactly 3 of [A-Z] */
#define MSG_HISTORY_LIMIT_DEFAULT 20
#define MSG_HISTORY_LIMIT_MAX	100
#define MSG_ERROR_MESSAGE_MAX	256	/* error.message, bytes */
#define MSG_SERVER_NAME_MAX	32	/* hello.server */
#define MSG_HELLO_OPS_MAX	64	/* ops in a greeting */
#define MSG_TIME_LEN		20	/* 2026-11-24T03:06:39Z */
/* Latest time in a history entry: 9999-12-31T23:59:59Z. */
#define MSG_TIME_MAX		INT64_C(253402300799)

/*
 * Ops.  MSG_OP_NONE marks a zeroed struct and, for codec_decode_reply(), "the
 * request is not known" (only an error reply can then be decoded).
 * MSG_OP_EXT is any syntactically valid op name that is not built in; its
 * name is in the request and its arguments are kept as a JSON object for a
 * handler module.
 */
enum msg_op {
	MSG_OP_NONE = 0,
	MSG_OP_PING,
	MSG_OP_LOGIN,
	MSG_OP_LOGOUT,
	MSG_OP_BALANCE,
	MSG_OP_TRANSFER,
	MSG_OP_HISTORY,
	MSG_OP_EXT
};

/*
 * Error codes.  The numbers are internal; the names are the stable wire
 * form.  To add a code: add it before MSG_ERR_COUNT and add its name to the
 * table in msg.c (a test checks that every code has a name).
 */
enum msg_err {
	MSG_ERR_NONE = 0,
	MSG_ERR_BAD_REQUEST,
	MSG_ERR_TOO_LARGE,
	MSG_ERR_UNKNOWN_OP,
	MSG_ERR_AUTH_REQUIRED,
	MSG_ERR_AUTH_FAILED,
	MSG_ERR_LOCKED,
	MSG_ERR_RATE_LIMITED,
	MSG_ERR_NO_SUCH_ACCOUNT,
	MSG_ERR_INSUFFICIENT_FUNDS,
	MSG_ERR_CONFLICT,
	MSG_ERR_UNAVAILABLE,
	MSG_ERR_INTERNAL,
	MSG_ERR_INVALID_AMOUNT,
	MSG_ERR_SAME_ACCOUNT,
	MSG_ERR_CURRENCY_MISMATCH,
	MSG_ERR_COUNT
};

/* A request id: absent, an integer with |num| <= MSG_INT_MAX, or a string. */
enum msg_id_kind {
	MSG_ID_NONE = 0,
	MSG_ID_INT,
	MSG_ID_STR
};

struct msg_id {
	enum msg_id_kind	 kind;
	int64_t			 num;	/* MSG_ID_INT */
	char			 str[MSG_ID_STR_MAX + 1]; /* MSG_ID_STR */
};

struct msg_login {
	char	 account[MSG_ACCOUNT_MAX + 1];
	char	 password[MSG_PASSWORD_MAX + 1];	/* secret */
	size_t	 password_len;		/* 0: no password (certificate login) */
};

struct msg_transfer {
	char	 to[MSG_ACCOUNT_MAX + 1];
	int64_t	 amount;	/* minor units; sign: the ledger's */
	char	 idempotency_key[MSG_IDEM_KEY_MAX + 1];
	char	 memo[MSG_MEMO_MAX + 1];	/* "" when absent */
};

struct msg_history {
	unsigned int	 limit;	/* 0: absent, use the default */
	int64_t		 before;	/* 0: absent, from the newest */
};

/*
 * A decoded (or to-be-encoded) request.  op_name always holds the op's wire
 * name.  For MSG_OP_EXT, args is a JSON object holding every member of the
 * request except "id" and "op" (never NULL after a successful decode), and
 * the request owns one reference to it.
 */
struct msg_request {
	struct msg_id		 id;
	enum msg_op		 op;
	char			 op_name[MSG_OP_NAME_MAX + 1];
	union {
		struct msg_login	 login;
		struct msg_transfer	 transfer;
		struct msg_history	 history;
	} u;
	struct json_t		*args;
};

/* The error object of a reply; code == MSG_ERR_NONE means "ok": true. */
struct msg_error {
	enum msg_err	 code;
	char		 message[MSG_ERROR_MESSAGE_MAX + 1];
	int64_t		 retry_after;	/* seconds; 0: absent */
};

struct msg_history_entry {
	int64_t		 transfer_id;		/* 1..MSG_INT_MAX */
	int64_t		 time;		/* Unix seconds, UTC */
	char		 counterparty[MSG_ACCOUNT_MAX + 1];
	int64_t		 amount;	/* < 0: money out */
	int64_t		 balance;		/* after this entry */
	char		 memo[MSG_MEMO_MAX + 1];	/* "" when none */
};

/*
 * A reply.  op says which request it answers and so which member of u is
 * meaningful; it is not on the wire.  When error.code != MSG_ERR_NONE the
 * reply is an error reply and u is ignored.  For a history reply, entries
 * is an array of nentries elements from malloc (msg_reply_history_alloc())
 * owned by the reply.  For MSG_OP_EXT, fields is NULL or a JSON object
 * whose members follow "ok" on the wire, and the reply owns one reference.
 */
struct msg_reply {
	struct msg_id		 id;
	enum msg_op		 op;
	struct msg_error	 error;
	union {
		struct {
			char	 account[MSG_ACCOUNT_MAX + 1];
		} login;
		struct {
			char	 account[MSG_ACCOUNT_MAX + 1];
			int64_t	 balance;
			char	 currency[MSG_CURRENCY_LEN + 1];
		} balance;
		struct {
			int64_t	 transfer_id;
			int64_t	 balance;
			char	 currency[MSG_CURRENCY_LEN + 1];
		} transfer;
		struct {
			char	 currency[MSG_CURRENCY_LEN + 1];
			struct msg_history_entry *entries;
			size_t	 nentries;
			int64_t	 next_before;	/* 0: no more */
		} history;
	} u;
	struct json_t		*fields;
};

/* The greeting a server sends once, right after the TLS handshake. */
struct msg_hello {
	char		 server[MSG_SERVER_NAME_MAX + 1];
	int64_t		 version;
	size_t		 nops;
	char		 ops[MSG_HELLO_OPS_MAX][MSG_OP_NAME_MAX + 1];
	int64_t		 max_message_bytes;
};

/*
 * msg_op_name(op): the wire name of a built-in op ("ping", ...), or NULL for
 * MSG_OP_NONE, MSG_OP_EXT and out-of-range values.
 */
const char *msg_op_name(enum msg_op);

/*
 * msg_op_from_name(name, len): the built-in op called name, MSG_OP_EXT if
 * name is a valid op name that is not built in, or MSG_OP_NONE if name is
 * not a valid op name.
 */
enum msg_op msg_op_from_name(const char *, size_t);

/*
 * msg_err_name(code): the stable wire name of code ("bad_request", ...), or
 * NULL for MSG_ERR_NONE and out-of-range values.
 */
const char *msg_err_name(enum msg_err);

/*
 * msg_err_from_name(name, len, &code): set code to the error called name
 * and return 0, or return -1 if no error code has that name.
 */
int msg_err_from_name(const char *, size_t, enum msg_err *);

/*
 * Validators: each returns 1 if the len bytes at s are a valid value of
 * that kind (see the limits above and docs/protocol.md), else 0.  s need not
 * be NUL-terminated; an embedded NUL is always invalid.
 *
 * msg_utf8_valid: well-formed UTF-8 (no overlong forms, no surrogates, no
 *	code point above U+10FFFF); NUL bytes are accepted here.
 * msg_op_name_valid: 1..32 bytes of [a-z0-9_].
 * msg_account_valid: 1..64 bytes of [A-Za-z0-9._@-].
 * msg_password_valid: 1..1024 bytes of UTF-8 without NUL.
 * msg_idem_key_valid: 1..64 bytes of [A-Za-z0-9._:-].
 * msg_memo_valid: 0..256 bytes of UTF-8 without control characters
 *	(U+0000..U+001F, U+007F..U+009F).
 * msg_currency_valid: exactly 3 bytes of [A-Z].
 * msg_id_str_valid: 1..64 bytes of printable ASCII (0x20..0x7e).
 * msg_server_name_valid: 1..32 bytes of [A-Za-z0-9._-].
 * msg_error_message_valid: 0..256 bytes of UTF-8 without control chars.
 */
int msg_utf8_valid(const char *, size_t);
int msg_op_name_valid(const char *, size_t);
int msg_account_valid(const char *, size_t);
int msg_password_valid(const char *, size_t);
int msg_idem_key_valid(const char *, size_t);
int msg_memo_valid(const char *, size_t);
int msg_currency_valid(const char *, size_t);
int msg_id_str_valid(const char *, size_t);
int msg_server_name_valid(const char *, size_t);
int msg_error_message_valid(const char *, size_t);

/*
 * msg_utf8_prefix(s, len): the length of the longest prefix of s that is
 * well-formed UTF-8 (len if all of it is): where the first bad byte is.
 */
size_t msg_utf8_prefix(const char *, size_t);

/* msg_int_valid(n): 1 if |n| <= MSG_INT_MAX. */
int msg_int_valid(int64_t);

/* msg_id_valid(id): 1 if id is a well-formed id of its kind. */
int msg_id_valid(const struct msg_id *);

/* msg_id_equal(a, b): 1 if a and b are the same id (both absent counts). */
int msg_id_equal(const struct msg_id *, const struct msg_id *);

/*
 * msg_id_set_int(id, n), msg_id_set_str(id, s): make id an integer or a
 * string id.  Return 0, or -1 (id unchanged) if n or s is not a valid id.
 */
int msg_id_set_int(struct msg_id *, int64_t);
int msg_id_set_str(struct msg_id *, const char *);

/*
 * msg_time_format(t, buf): write t (Unix seconds, 0..MSG_TIME_MAX) as
 * "YYYY-MM-DDTHH:MM:SSZ" plus a NUL into buf, which holds MSG_TIME_LEN + 1
 * bytes.  Return 0, or -1 if t is out of range.
 */
int msg_time_format(int64_t, char *);

/*
 * msg_time_parse(s, len, &t): parse exactly that format (UTC, seconds, no
 * leap second, year 1970..9999) into Unix seconds.  Return 0 or -1.
 */
int msg_time_parse(const char *, size_t, int64_t *);

/*
 * msg_request_init(req): zero req (no id, MSG_OP_NONE, no args).
 * msg_request_clear(req): drop the reference to args, wipe the whole
 * struct (the password included) and leave it as msg_request_init() does.
 * Safe on an initialized or cleared request, and on NULL.
 */
void msg_request_init(struct msg_request *);
void msg_request_clear(struct msg_request *);

/*
 * msg_request_set_op(req, name): set op and op_name from a wire name.
 * Return 0, or -1 if name is not a valid op name.  Does not touch args.
 */
int msg_request_set_op(struct msg_request *, const char *);

/*
 * msg_reply_init(rep, id, op): zero rep, then copy *id (NULL: no id) and
 * set op: an "ok" reply with no fields.
 * msg_reply_clear(rep): free entries, drop the reference to fields, zero
 * rep.  Safe on an initialized or cleared reply, and on NULL.
 */
void msg_reply_init(struct msg_reply *, const struct msg_id *, enum msg_op);
void msg_reply_clear(struct msg_reply *);

/*
 * msg_reply_set_error(rep, code, fmt, ...): make rep an error reply with
 * code and a printf-formatted message (truncated to MSG_ERROR_MESSAGE_MAX
 * bytes; the encoder later replaces control characters and invalid UTF-8).
 * Frees what rep held for a success reply; keeps id and op.
 */
void msg_reply_set_error(struct msg_reply *, enum msg_err, const char *, ...)
    __attribute__((format(printf, 3, 4)));

/*
 * msg_reply_history_alloc(rep, n): give rep, whose op is MSG_OP_HISTORY, an
 * array of n zeroed entries (n <= MSG_HISTORY_LIMIT_MAX), replacing any it
 * had.  Return 0, or -1
 * with errno set (EINVAL, ENOMEM) and rep unchanged.
 */
int msg_reply_history_alloc(struct msg_reply *, size_t);

/*
 * msg_hello_init(h, max_message_bytes): fill h with this implementation's
 * greeting: server "secd", MSG_PROTOCOL_VERSION, the six built-in ops, and
 * the given limit.  msg_hello_add_op(h, name) appends an op a handler
 * supports; return 0, or -1 if name is invalid, already listed, or the list
 * is full.
 */
void msg_hello_init(struct msg_hello *, int64_t);
int msg_hello_add_op(struct msg_hello *, const char *);

#endif /* !SECD_PROTO_MSG_H */
