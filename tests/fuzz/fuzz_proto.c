/*
 * fuzz_proto.c: libFuzzer target for the framer and the codec.
 *
 * The input is a byte stream as a peer would send it.  It is cut into lines
 * twice: once pushed in pseudo-random chunk sizes derived from the input,
 * once pushed whole; both must give the same lines and the same verdict on
 * oversize lines, and the framer must stay within its memory bound.
 *
 * Every line is then decoded as a request, as a reply to each op, and as a
 * greeting.  Whatever decodes must encode, the encoding must decode, and
 * encoding that again must give identical bytes (the canonical-form
 * property of docs/protocol.md section 4).  Whatever fails to decode must
 * yield an error reply that itself round-trips.  Any violation abort()s.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "frame.h"
#include "msg.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#define FUZZ_CHECK(cond) do {						\
	if (!(cond)) {							\
		fprintf(stderr, "%s:%d: property violated: %s\n",	\
		    __FILE__, __LINE__, #cond);				\
		abort();						\
	}								\
} while (0)

/* Same bytes in two buffers. */
static int
fuzz_same(const struct codec_buf *a, const struct codec_buf *b)
{

	return (a->len == b->len && memcmp(a->data, b->data, a->len) == 0);
}

/*
 * An encoder may refuse a decoded message only for its size (a real number
 * in an extension object can print longer than it was written).
 */
static void
fuzz_encode_failed(void)
{

	FUZZ_CHECK(errno == EMSGSIZE);
}

static void
fuzz_reply_round_trip(const char *line, size_t len, enum msg_op op)
{
	struct msg_reply a, b;
	struct codec_error err;
	struct codec_buf e1, e2;

	if (codec_decode_reply(line, len, op, &a, &err) != 0) {
		FUZZ_CHECK(a.fields == NULL);
		FUZZ_CHECK(msg_error_message_valid(err.message,
		    strlen(err.message)));
		return;
	}
	FUZZ_CHECK(a.op == op);
	codec_buf_init(&e1);
	codec_buf_init(&e2);
	if (codec_encode_reply(&e1, &a) != 0) {
		fuzz_encode_failed();
		goto out;
	}
	FUZZ_CHECK(e1.len > 0 && e1.data[e1.len - 1] == '\n');
	FUZZ_CHECK(memchr(e1.data, '\n', e1.len - 1) == NULL);
	FUZZ_CHECK(codec_decode_reply(e1.data, e1.len - 1, op, &b, &err) == 0);
	FUZZ_CHECK(msg_id_equal(&a.id, &b.id));
	FUZZ_CHECK(a.error.code == b.error.code);
	FUZZ_CHECK(codec_encode_reply(&e2, &b) == 0);
	FUZZ_CHECK(fuzz_same(&e1, &e2));
	msg_reply_clear(&b);
out:
	msg_reply_clear(&a);
	codec_buf_free(&e1);
	codec_buf_free(&e2);
}

/* A failed request decode must give an error reply that round-trips. */
static void
fuzz_error_reply(const struct codec_error *err)
{
	struct codec_buf e;

	FUZZ_CHECK(err->code == MSG_ERR_BAD_REQUEST ||
	    err->code == MSG_ERR_INTERNAL);
	FUZZ_CHECK(msg_error_message_valid(err->message,
	    strlen(err->message)));
	FUZZ_CHECK(err->message[0] != '\0');
	FUZZ_CHECK(msg_id_valid(&err->id));
	codec_buf_init(&e);
	FUZZ_CHECK(codec_encode_error(&e, &err->id, err->code,
	    err->message) == 0);
	fuzz_reply_round_trip(e.data, e.len - 1, MSG_OP_NONE);
	codec_buf_free(&e);
}

/*
 * A trailing space changes nothing in JSON but keeps a line off the
 * codec's fast path: both decodings must agree.
 */
static void
fuzz_request_vs_full_parser(const char *line, size_t len,
    const struct codec_buf *e1)
{
	struct msg_request c;
	struct codec_error err;
	struct codec_buf e3;
	char *spaced;

	FUZZ_CHECK((spaced = malloc(len + 1)) != NULL);
	memcpy(spaced, line, len);
	spaced[len] = ' ';
	FUZZ_CHECK(codec_decode_request(spaced, len + 1, &c, &err) == 0);
	codec_buf_init(&e3);
	FUZZ_CHECK(codec_encode_request(&e3, &c) == 0);
	FUZZ_CHECK(fuzz_same(e1, &e3));
	codec_buf_free(&e3);
	msg_request_clear(&c);
	free(spaced);
}

static void
fuzz_request_round_trip(const char *line, size_t len)
{
	struct msg_request a, b;
	struct codec_error err;
	struct codec_buf e1, e2;

	if (codec_decode_request(line, len, &a, &err) != 0) {
		FUZZ_CHECK(a.op == MSG_OP_NONE && a.args == NULL);
		fuzz_error_reply(&err);
		return;
	}
	FUZZ_CHECK(a.op != MSG_OP_NONE);
	FUZZ_CHECK((a.op == MSG_OP_EXT) == (a.args != NULL));
	codec_buf_init(&e1);
	codec_buf_init(&e2);
	if (codec_encode_request(&e1, &a) != 0) {
		fuzz_encode_failed();
		goto out;
	}
	FUZZ_CHECK(e1.len > 0 && e1.data[e1.len - 1] == '\n');
	FUZZ_CHECK(codec_decode_request(e1.data, e1.len - 1, &b, &err) == 0);
	FUZZ_CHECK(a.op == b.op && strcmp(a.op_name, b.op_name) == 0);
	FUZZ_CHECK(msg_id_equal(&a.id, &b.id));
	FUZZ_CHECK(codec_encode_request(&e2, &b) == 0);
	FUZZ_CHECK(fuzz_same(&e1, &e2));
	msg_request_clear(&b);
	fuzz_request_vs_full_parser(line, len, &e1);
out:
	msg_request_clear(&a);
	codec_buf_free(&e1);
	codec_buf_free(&e2);
}

static void
fuzz_hello_round_trip(const char *line, size_t len)
{
	struct msg_hello a, b;
	struct codec_error err;
	struct codec_buf e1, e2;

	if (codec_decode_hello(line, len, &a, &err) != 0)
		return;
	codec_buf_init(&e1);
	codec_buf_init(&e2);
	FUZZ_CHECK(codec_encode_hello(&e1, &a) == 0);
	FUZZ_CHECK(codec_decode_hello(e1.data, e1.len - 1, &b, &err) == 0);
	FUZZ_CHECK(codec_encode_hello(&e2, &b) == 0);
	FUZZ_CHECK(fuzz_same(&e1, &e2));
	codec_buf_free(&e1);
	codec_buf_free(&e2);
}

static void
fuzz_line(const char *line, size_t len)
{
	struct msg_id id;
	struct codec_error err;
	enum msg_op op;

	fuzz_request_round_trip(line, len);
	for (op = MSG_OP_NONE; op <= MSG_OP_EXT; op++)
		fuzz_reply_round_trip(line, len, op);
	fuzz_hello_round_trip(line, len);
	if (codec_decode_reply_id(line, len, &id, &err) == 0)
		FUZZ_CHECK(msg_id_valid(&id));
}

/* Lines as cut by the reference run (input pushed whole). */
struct fuzz_lines {
	char	*data;		/* lines back to back */
	size_t	*len;
	size_t	 n;
	size_t	 used;
	int	 too_large;
};

static void
fuzz_check_line(const struct frame *f, const char *line, size_t len)
{

	FUZZ_CHECK(len > 0 && len <= f->max);
	FUZZ_CHECK(line[len] == '\0');
	FUZZ_CHECK(memchr(line, '\n', len) == NULL);
}

/* Reference run: push everything at once (the framer takes what fits). */
static void
fuzz_frame_whole(const uint8_t *data, size_t size, size_t max,
    struct fuzz_lines *ref)
{
	struct frame f;
	enum frame_status st;
	const char *line;
	size_t off = 0, len;

	FUZZ_CHECK(frame_init(&f, max) == 0);
	for (;;) {
		off += frame_push(&f, data + off, size - off);
		FUZZ_CHECK(frame_buffered(&f) <= max + FRAME_SLACK);
		while ((st = frame_next(&f, &line, &len)) == FRAME_LINE) {
			fuzz_check_line(&f, line, len);
			memcpy(ref->data + ref->used, line, len);
			ref->used += len;
			ref->len[ref->n++] = len;
		}
		if (st == FRAME_TOO_LARGE) {
			ref->too_large = 1;
			break;
		}
		if (off == size)
			break;
	}
	frame_free(&f);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int inited;
	struct fuzz_lines ref;
	struct frame f;
	enum frame_status st = FRAME_NEED_MORE;
	const char *line;
	size_t off = 0, want, took, len, max, i = 0, at = 0;
	uint64_t h = 1469598103934665603u;

	if (!inited) {
		codec_init();
		inited = 1;
	}

	/* Parameters from a hash of the input, so they are reproducible. */
	for (len = 0; len < size; len++)
		h = (h ^ data[len]) * 1099511628211u;
	max = (h & 3) == 0 ? 16 + (size_t)(h >> 8) % 256 :
	    MSG_MAX_MESSAGE_DEFAULT;

	memset(&ref, 0, sizeof(ref));
	ref.data = malloc(size + 1);
	ref.len = malloc((size / 2 + 1) * sizeof(*ref.len));
	FUZZ_CHECK(ref.data != NULL && ref.len != NULL);
	fuzz_frame_whole(data, size, max, &ref);

	/* The run under test: chunks of 1..64 bytes, mostly small. */
	FUZZ_CHECK(frame_init(&f, max) == 0);
	while (off < size) {
		h ^= h << 13;
		h ^= h >> 7;
		h ^= h << 17;
		want = (h & 1) ? 1 : 1 + (size_t)(h >> 1) % 64;
		if (want > size - off)
			want = size - off;
		took = frame_push(&f, data + off, want);
		FUZZ_CHECK(took > 0);
		FUZZ_CHECK(frame_buffered(&f) <= max + FRAME_SLACK);
		off += took;
		while ((st = frame_next(&f, &line, &len)) == FRAME_LINE) {
			fuzz_check_line(&f, line, len);
			FUZZ_CHECK(i < ref.n && ref.len[i] == len &&
			    memcmp(ref.data + at, line, len) == 0);
			at += len;
			i++;
			fuzz_line(line, len);
		}
		if (st == FRAME_TOO_LARGE)
			break;
	}
	FUZZ_CHECK(i == ref.n);
	FUZZ_CHECK((st == FRAME_TOO_LARGE) == ref.too_large);
	if (st == FRAME_TOO_LARGE) {
		/* Broken for good. */
		FUZZ_CHECK(frame_push(&f, "\n", 1) == 0);
		FUZZ_CHECK(frame_next(&f, &line, &len) == FRAME_TOO_LARGE);
	}
	frame_trim(&f);
	frame_free(&f);
	free(ref.data);
	free(ref.len);
	return (0);
}
