/*
 * codec.h: protocol v1 messages to and from JSON lines.
 *
 * Decoding takes one line as cut by the framer (no terminator), checks it
 * completely against docs/protocol.md and fills a msg.h struct; every
 * rejection carries an error code, a message naming the field, what was
 * expected and what was found, and the request id when it could be
 * recovered, ready for codec_encode_error().
 *
 * Encoding is canonical: members in a fixed order (docs/protocol.md), no
 * spaces, strings escaped exactly one way, integers in plain decimal, a
 * single "\n" at the end.  Decoding a canonical line and encoding the result
 * gives back the same bytes; the tests and the fuzzer hold the codec to
 * that.  Encoders append to a struct codec_buf, so several replies can be
 * gathered into one TLS write; on failure nothing is appended.
 *
 * Encoders refuse structs that could not have been decoded (invalid field
 * values) with errno EINVAL, lines over MSG_REPLY_MAX_BYTES with EMSGSIZE,
 * and report ENOMEM.  Error messages are the one exception: they are
 * sanitized rather than refused, so that an error can always be sent.
 */
#ifndef SECD_PROTO_CODEC_H
#define SECD_PROTO_CODEC_H

#include <stddef.h>

#include "msg.h"

/* A growing output buffer.  data is not NUL-terminated. */
struct codec_buf {
	char	*data;
	size_t	 len;
	size_t	 cap;
};

/*
 * Why a line was rejected.  code is MSG_ERR_BAD_REQUEST for every problem
 * with the line itself, MSG_ERR_INTERNAL when memory ran out.  id is the
 * request's id if it could be recovered (see docs/protocol.md), else
 * MSG_ID_NONE.  message is NUL-terminated and already valid for the wire.
 */
struct codec_error {
	enum msg_err	 code;
	struct msg_id	 id;
	char		 message[MSG_ERROR_MESSAGE_MAX + 1];
};

/*
 * codec_init(): make jansson wipe every block it frees (over the block's
 * malloc_usable_size()), so copies of a password made while parsing a login
 * line do not stay in freed memory.  jansson's allocator is process-wide;
 * blocks remain plain malloc() blocks, so calling this at any time is safe
 * and free() on what json_dumps() returns stays correct.  Call it once in
 * main() before starting threads.  Optional: without it the codec works,
 * only less tidily.  Returns 0.
 */
int codec_init(void);

/*
 * codec_buf_init(b): an empty buffer; allocates nothing.
 * codec_buf_reset(b): wipe the contents and set len to 0, keeping memory.
 * codec_buf_free(b): wipe and free; b is then empty and may be reused.
 * Safe on NULL.
 */
void codec_buf_init(struct codec_buf *);
void codec_buf_reset(struct codec_buf *);
void codec_buf_free(struct codec_buf *);

/*
 * codec_decode_request(line, len, req, err): decode one request line.  On
 * success return 0 with req filled; the caller owns req and must call
 * msg_request_clear() on it.  On failure return -1 with err filled and req
 * left as msg_request_init() leaves it (nothing to free).  req's previous
 * contents are not freed: pass an initialized or cleared request.
 */
int codec_decode_request(const char *, size_t, struct msg_request *,
    struct codec_error *);

/*
 * codec_encode_request(b, req): append req as a canonical line.  For
 * MSG_OP_EXT, op_name and args (NULL: no arguments) are used and args must
 * not contain "id" or "op".  Return 0, or -1 with errno set.
 */
int codec_encode_request(struct codec_buf *, const struct msg_request *);

/*
 * codec_decode_reply_id(line, len, id, err): parse a reply line only far
 * enough to read its id, so a client can tell which request (and so which
 * op) it answers.  Return 0 (id set; MSG_ID_NONE for "id": null) or -1
 * with err filled.
 */
int codec_decode_reply_id(const char *, size_t, struct msg_id *,
    struct codec_error *);

/*
 * codec_decode_reply(line, len, op, rep, err): decode a reply to a request
 * for op (MSG_OP_NONE: the request is not known, and only an error reply is
 * accepted).  On success return 0 with rep filled, rep->op set to op; the
 * caller must msg_reply_clear() it.  On failure return -1 with err filled
 * and rep zeroed.  rep's previous contents are not freed.
 */
int codec_decode_reply(const char *, size_t, enum msg_op, struct msg_reply *,
    struct codec_error *);

/*
 * codec_encode_reply(b, rep): append rep as a canonical line: an error
 * reply if rep->error.code is not MSG_ERR_NONE, else the success reply for
 * rep->op.  For MSG_OP_EXT, fields (NULL: none) must not contain "id",
 * "ok" or "error".  Return 0, or -1 with errno set.
 */
int codec_encode_reply(struct codec_buf *, const struct msg_reply *);

/*
 * codec_encode_error(b, id, code, message): append an error reply.  id may
 * be NULL (encoded as null); code must not be MSG_ERR_NONE; message is
 * NUL-terminated and is truncated to MSG_ERROR_MESSAGE_MAX bytes with
 * control characters and invalid UTF-8 replaced by '?'.  Return 0, or -1
 * with errno set (ENOMEM, or EINVAL for a bad code or id).
 */
int codec_encode_error(struct codec_buf *, const struct msg_id *,
    enum msg_err, const char *);

/*
 * codec_encode_hello(b, h): append the greeting.  Return 0, or -1 with
 * errno set (EINVAL if a field is invalid, see codec_decode_hello()).
 */
int codec_encode_hello(struct codec_buf *, const struct msg_hello *);

/*
 * codec_decode_hello(line, len, h, err): decode a greeting.  Members this
 * version does not know are ignored (a later server may announce more);
 * the version is reported, not checked: the caller decides what it speaks.
 * Return 0 with h filled, or -1 with err filled.
 */
int codec_decode_hello(const char *, size_t, struct msg_hello *,
    struct codec_error *);

#endif /* !SECD_PROTO_CODEC_H */
