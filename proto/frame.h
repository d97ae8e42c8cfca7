/*
 * frame.h: the line framer of protocol v1.
 *
 * A connection's plaintext arrives in chunks of any size; the framer cuts it
 * into lines.  A line ends at LF; a CR right before the LF is part of the
 * terminator.  Lines are handed out without the terminator.  Empty lines
 * (nothing between two terminators) are skipped: they are never handed out.
 *
 * The framer holds at most max + 2 bytes (FRAME_SLACK): a line of max bytes
 * plus its CR LF.  A line longer than max is reported as FRAME_TOO_LARGE as
 * soon as max + 1 bytes of it are buffered that cannot be a line of at most
 * max bytes, without waiting for its LF; the framer then stays in that error
 * state, since the byte stream can no longer be cut into lines reliably.
 *
 * The buffer starts empty and grows on demand, so an idle connection costs
 * only sizeof(struct frame) after frame_trim().  Consumed bytes are wiped
 * (requests carry passwords) before they are reused or released.
 *
 * Typical use, for each chunk of len bytes at p:
 *
 *	while (len > 0) {
 *		n = frame_push(&f, p, len);
 *		p += n;
 *		len -= n;
 *		while ((rc = frame_next(&f, &line, &linelen)) == FRAME_LINE)
 *			handle(line, linelen);
 *		if (rc == FRAME_TOO_LARGE)
 *			reply too_large, then close;
 *	}
 */
#ifndef SECD_PROTO_FRAME_H
#define SECD_PROTO_FRAME_H

#include <stddef.h>

/* Bytes the framer may hold beyond max: the CR LF of a max-byte line. */
#define FRAME_SLACK	2

/* Largest max accepted by frame_init(). */
#define FRAME_MAX_LIMIT	((size_t)64 << 20)

enum frame_status {
	FRAME_LINE,		/* a line is handed out */
	FRAME_NEED_MORE,	/* no complete line buffered */
	FRAME_TOO_LARGE		/* a line exceeds max: broken */
};

/* Members are private to frame.c; they are visible only for embedding. */
struct frame {
	char	*buf;
	size_t	 cap;		/* allocated size of buf */
	size_t	 start;		/* first unconsumed byte */
	size_t	 scan;		/* [start, scan) holds no LF */
	size_t	 end;		/* one past the last buffered byte */
	size_t	 wiped;		/* consumed bytes below: wiped */
	size_t	 max;		/* longest line, no terminator */
	int	 broken;	/* a line exceeded max */
};

/*
 * frame_init(f, max): set up f to cut lines of at most max bytes (not
 * counting CR LF).  Allocates nothing.  Return 0, or -1 with errno EINVAL if
 * max is 0 or above FRAME_MAX_LIMIT.
 */
int frame_init(struct frame *, size_t);

/*
 * frame_push(f, data, len): copy up to len bytes of data into f and return
 * how many were taken.  Fewer than len are taken only when f is full (a
 * complete line, or an oversize one, is waiting for frame_next()) or broken
 * (then 0).  After frame_next() has returned FRAME_NEED_MORE, a push of up
 * to max + FRAME_SLACK - frame_buffered(f) bytes is always taken whole, so
 * a caller that reads at most that much never has to keep leftovers.
 * Takes fewer (possibly 0, errno ENOMEM) only if the buffer could not grow;
 * nothing is lost and the call may be repeated.  Invalidates the line last
 * handed out.
 */
size_t frame_push(struct frame *, const void *, size_t);

/*
 * frame_next(f, &line, &len): hand out the next complete line.  Returns
 * FRAME_LINE with line pointing at len bytes inside f, followed by a NUL
 * (the line itself may contain NUL bytes; use len).  The line is valid until
 * the next frame_push(), frame_next(), frame_trim() or frame_free(), which
 * wipe it.  Returns FRAME_NEED_MORE if no complete line is buffered, and
 * FRAME_TOO_LARGE, now and on every later call, once a line exceeds max.
 * line and len are set only for FRAME_LINE.
 */
enum frame_status frame_next(struct frame *, const char **, size_t *);

/*
 * frame_buffered(f): bytes held that are not yet handed out (always at most
 * max + FRAME_SLACK).
 */
size_t frame_buffered(const struct frame *);

/*
 * frame_trim(f): if nothing is buffered, wipe and free the buffer, so an
 * idle connection holds no line memory.  The next frame_push() allocates
 * again.  Invalidates the line last handed out.
 */
void frame_trim(struct frame *);

/*
 * frame_free(f): wipe and free the buffer.  f may be initialized again.
 * Safe on NULL and after a previous frame_free().
 */
void frame_free(struct frame *);

#endif /* !SECD_PROTO_FRAME_H */
