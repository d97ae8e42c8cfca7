/*
 * audit.c: the hash-chained audit log (the format and the hash are defined
 * in audit.h).
 *
 * Three parts.  The record layer turns an event into one line (jansson,
 * compact, fixed key order) chained to the previous hash, and checks a
 * line read back.  The file layer appends lines under flock(LOCK_EX): it
 * knows the file size it left behind, and when the size is different
 * (another writer appended, or someone truncated the file) it re-reads the
 * last line before chaining to it; one write and one fdatasync per batch.
 * The queue feeds the file layer from event-loop threads: audit_append()
 * copies the record into a heap block and links it under a mutex, the
 * writer thread takes the whole list at once, so loops never wait for the
 * disk and the disk sees one fdatasync per batch, not per record.
 *
 * Losing records is allowed (a full queue, a failing disk) but never
 * silent: each loss is counted and logged, and the count goes into the
 * file as an "audit_gap" record as soon as a write succeeds again.  With
 * "detach everything" batching, drops always happen after every record of
 * the batch being built was queued, so the gap record goes after them.
 */
#include <sys/file.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <wolfssl/options.h>
#include <wolfssl/wolfcrypt/sha256.h>

#include "audit.h"
#include "log.h"

#define AUDIT_HEX_LEN		64
/* ,"hash":"<64 hex>"} : the end of every line, without its newline. */
#define AUDIT_HASH_PREFIX	",\"hash\":\""
#define AUDIT_SUFFIX_LEN	(sizeof(AUDIT_HASH_PREFIX) - 1 + AUDIT_HEX_LEN + 2)
/* Batches are written in pieces of about this size (one fdatasync). */
#define AUDIT_WRITE_CHUNK	(1024 * 1024)
/* After a failed write the writer waits this long before trying again. */
#define AUDIT_RETRY_SECONDS	1
/* audit_verify lists this many audit_gap records, then counts the rest. */
#define AUDIT_VERIFY_GAPS_MAX	100
/* No file gets near it; a larger seq is refused as not a record. */
#define AUDIT_SEQ_MAX		((int64_t)1 << 62)

static const char audit_zero_hash[AUDIT_HEX_LEN + 1] =
    "0000000000000000000000000000000000000000000000000000000000000000";

/* The string members of a record, in the order they are written. */
enum audit_field {
	AUDIT_F_EVENT,
	AUDIT_F_ACCOUNT,
	AUDIT_F_PEER,
	AUDIT_F_CERT,
	AUDIT_F_REQUEST_ID,
	AUDIT_F_OUTCOME,
	AUDIT_F_TO,
	AUDIT_F_DETAIL,
	AUDIT_F_COUNT
};

/*
 * A queued record: the strings live in data[], each NUL-terminated,
 * f[i] pointing into it (or NULL).  size is what the queue's byte bound
 * counts.
 */
struct audit_qrec {
	struct audit_qrec *next;
	const char	*f[AUDIT_F_COUNT];
	char		 time[32];
	int		 has_amount;
	int64_t		 amount;
	uint64_t	 dropped;	/* audit_gap only */
	size_t		 size;
	char		 data[];
};

/*
 * The file as one writer sees it.  size is the file size this writer
 * left (or -1: unknown), seq and hash the last record's at that size.
 */
struct audit_file {
	int		 fd;
	const char	*path;
	off_t		 size;
	int64_t		 seq;
	char		 hash[AUDIT_HEX_LEN + 1];
};

struct audit {
	struct audit_file file;
	char		*path;
	pthread_t	 thread;
	pthread_mutex_t	 mtx;
	pthread_cond_t	 cond;
	/* Under mtx: */
	struct audit_qrec *head, *tail;
	size_t		 count;
	size_t		 bytes;
	uint64_t	 dropped;	/* not yet reported by an audit_gap */
	char		 drop_time[32];	/* when the first of them was dropped */
	uint64_t	 dropped_total;
	int		 closing;
};

/* A line read back: what the checks need. */
struct audit_line {
	int64_t		 seq;
	char		 prev[AUDIT_HEX_LEN + 1];
	char		 hash[AUDIT_HEX_LEN + 1];
	int		 is_gap;
	int64_t		 dropped;
};

/* audit_line_check's verdicts. */
enum audit_verdict {
	AUDIT_V_OK = 0,
	AUDIT_V_MALFORMED,	/* not a record at all */
	AUDIT_V_EDITED		/* a record whose hash does not match it */
};

static void
audit_seterr(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
audit_seterr(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/* ---------------------------------------------------------------------- */
/* Records                                                                */

static void
audit_hex(const unsigned char *b, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < n; i++) {
		out[2 * i] = digits[b[i] >> 4];
		out[2 * i + 1] = digits[b[i] & 0xf];
	}
	out[2 * n] = '\0';
}

/* hash = hex(SHA-256(prev's 64 hex digits || canonical bytes)). */
static int
audit_hash(const char *prev, const char *canon, size_t len,
    char out[AUDIT_HEX_LEN + 1])
{
	wc_Sha256 sha;
	unsigned char digest[WC_SHA256_DIGEST_SIZE];
	int rc = -1;

	if (wc_InitSha256(&sha) != 0)
		return (-1);
	if (wc_Sha256Update(&sha, (const byte *)prev, AUDIT_HEX_LEN) != 0 ||
	    wc_Sha256Update(&sha, (const byte *)canon, (word32)len) != 0 ||
	    wc_Sha256Final(&sha, digest) != 0)
		goto out;
	audit_hex(digest, sizeof(digest), out);
	rc = 0;
out:
	wc_Sha256Free(&sha);
	return (rc);
}

static int
audit_is_hex64(const char *s)
{
	size_t i;

	for (i = 0; i < AUDIT_HEX_LEN; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return (0);
	return (s[AUDIT_HEX_LEN] == '\0');
}

/* "2026-11-24T05:16:48.123Z", now, in UTC. */
static void
audit_now(char out[32])
{
	struct timespec ts;
	struct tm tm;
	char base[24];

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	if (strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm) == 0)
		base[0] = '\0';
	snprintf(out, 32, "%.19s.%03uZ", base,
	    (unsigned)(ts.tv_nsec / 1000000L) % 1000u);
}

/*
 * The length of the valid UTF-8 sequence at s (1 to 4), or 0 if the byte
 * at s does not start one.  Overlong forms, surrogates and code points
 * above U+10FFFF are not valid (jansson refuses them too).
 */
static size_t
audit_utf8_len(const unsigned char *s)
{
	unsigned char c = s[0];
	size_t n, i;
	unsigned char lo = 0x80, hi = 0xbf;

	if (c < 0x80)
		return (1);
	if (c >= 0xc2 && c <= 0xdf)
		n = 2;
	else if (c >= 0xe0 && c <= 0xef) {
		n = 3;
		if (c == 0xe0)
			lo = 0xa0;
		else if (c == 0xed)
			hi = 0x9f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		n = 4;
		if (c == 0xf0)
			lo = 0x90;
		else if (c == 0xf4)
			hi = 0x8f;
	} else
		return (0);
	if (s[1] < lo || s[1] > hi)
		return (0);
	for (i = 2; i < n; i++)
		if (s[i] < 0x80 || s[i] > 0xbf)
			return (0);
	return (n);
}

/* The bytes audit_copy_str needs for src (with its NUL). */
static size_t
audit_str_size(const char *src, size_t max)
{

	return (strnlen(src, max + 1) > max ? max + 1 : strlen(src) + 1);
}

/*
 * Copy src to dst (audit_str_size(src, max) bytes), each byte that is not
 * part of valid UTF-8 replaced by '?'; a string longer than max bytes is
 * cut at a character boundary and ends in "...", max bytes in all.
 */
static void
audit_copy_str(char *dst, const char *src, size_t max)
{
	const unsigned char *s = (const unsigned char *)src;
	size_t limit, out = 0, i = 0, n;
	int cut = strnlen(src, max + 1) > max;

	limit = cut ? max - 3 : max;
	while (s[i] != '\0') {
		n = audit_utf8_len(s + i);
		if (out + (n == 0 ? 1 : n) > limit)
			break;
		if (n == 0) {
			dst[out++] = '?';
			i++;
		} else {
			memcpy(dst + out, s + i, n);
			out += n;
			i += n;
		}
	}
	if (cut) {
		memcpy(dst + out, "...", 3);
		out += 3;
	}
	dst[out] = '\0';
}

/* A heap copy of r, stamped now; NULL if out of memory. */
static struct audit_qrec *
audit_qrec_new(const struct audit_rec *r)
{
	const char *src[AUDIT_F_COUNT];
	size_t max[AUDIT_F_COUNT], need = 0, i;
	struct audit_qrec *q;
	char *p;

	src[AUDIT_F_EVENT] = r->event != NULL ? r->event : "unknown";
	src[AUDIT_F_ACCOUNT] = r->account;
	src[AUDIT_F_PEER] = r->peer;
	src[AUDIT_F_CERT] = r->cert_sha256;
	src[AUDIT_F_REQUEST_ID] = r->request_id;
	src[AUDIT_F_OUTCOME] = r->outcome;
	src[AUDIT_F_TO] = r->to;
	src[AUDIT_F_DETAIL] = r->detail;
	for (i = 0; i < AUDIT_F_COUNT; i++) {
		max[i] = i == AUDIT_F_DETAIL ? AUDIT_DETAIL_MAX : AUDIT_FIELD_MAX;
		if (src[i] != NULL)
			need += audit_str_size(src[i], max[i]);
	}
	if ((q = calloc(1, sizeof(*q) + need)) == NULL)
		return (NULL);
	q->size = sizeof(*q) + need;
	p = q->data;
	for (i = 0; i < AUDIT_F_COUNT; i++) {
		if (src[i] == NULL)
			continue;
		audit_copy_str(p, src[i], max[i]);
		q->f[i] = p;
		p += strlen(p) + 1;
	}
	q->has_amount = r->has_amount;
	q->amount = r->amount;
	audit_now(q->time);
	return (q);
}

/* An audit_gap record for n records lost, the first at time t. */
static struct audit_qrec *
audit_qrec_gap(uint64_t n, const char *t)
{
	struct audit_rec r;
	struct audit_qrec *q;

	memset(&r, 0, sizeof(r));
	r.event = "audit_gap";
	r.detail = "records lost: audit queue full or write failed";
	if ((q = audit_qrec_new(&r)) == NULL)
		return (NULL);
	q->dropped = n;
	snprintf(q->time, sizeof(q->time), "%s", t);
	return (q);
}

static int
audit_set_str(json_t *o, const char *key, const char *v)
{
	json_t *j;

	j = v != NULL ? json_string(v) : json_null();
	return (json_object_set_new(o, key, j));
}

/*
 * The line of q as record seq chained to prev, with its newline, in a
 * malloc'd string (*lenp bytes); its hash in hash.  NULL if out of memory.
 */
static char *
audit_format(const struct audit_qrec *q, int64_t seq, const char *prev,
    char hash[AUDIT_HEX_LEN + 1], size_t *lenp)
{
	json_t *o;
	char *canon = NULL, *line = NULL;
	size_t clen, len;
	int bad = 0;

	if ((o = json_object()) == NULL)
		return (NULL);
	bad |= json_object_set_new(o, "seq", json_integer(seq));
	bad |= audit_set_str(o, "time", q->time);
	bad |= audit_set_str(o, "event", q->f[AUDIT_F_EVENT]);
	bad |= audit_set_str(o, "account", q->f[AUDIT_F_ACCOUNT]);
	bad |= audit_set_str(o, "peer", q->f[AUDIT_F_PEER]);
	bad |= audit_set_str(o, "cert_sha256", q->f[AUDIT_F_CERT]);
	bad |= audit_set_str(o, "request_id", q->f[AUDIT_F_REQUEST_ID]);
	bad |= audit_set_str(o, "outcome", q->f[AUDIT_F_OUTCOME]);
	if (q->f[AUDIT_F_TO] != NULL)
		bad |= audit_set_str(o, "to", q->f[AUDIT_F_TO]);
	if (q->has_amount)
		bad |= json_object_set_new(o, "amount", json_integer(q->amount));
	if (q->dropped > 0)
		bad |= json_object_set_new(o, "dropped",
		    json_integer((json_int_t)q->dropped));
	if (q->f[AUDIT_F_DETAIL] != NULL)
		bad |= audit_set_str(o, "detail", q->f[AUDIT_F_DETAIL]);
	bad |= audit_set_str(o, "prev", prev);
	/* jansson keeps insertion order, so the key order is the one above. */
	if (bad || (canon = json_dumps(o, JSON_COMPACT)) == NULL)
		goto out;
	clen = strlen(canon);
	if (audit_hash(prev, canon, clen, hash) != 0)
		goto out;
	/* canon without its '}', then ,"hash":"H"} and the newline. */
	len = clen - 1 + AUDIT_SUFFIX_LEN + 1;
	if ((line = malloc(len + 1)) == NULL)
		goto out;
	snprintf(line, len + 1, "%.*s%s%s\"}\n", (int)(clen - 1), canon,
	    AUDIT_HASH_PREFIX, hash);
	*lenp = len;
out:
	free(canon);
	json_decref(o);
	return (line);
}

/*
 * Check one line (without its newline): a JSON object with the members
 * of a record, "hash" last, and a hash that matches the line.  Fills l;
 * on failure says why in why (no line number: the caller knows it).
 */
static enum audit_verdict
audit_line_check(const char *buf, size_t len, struct audit_line *l,
    char *why, size_t whylen)
{
	json_t *o = NULL, *seq, *prev, *hash, *event, *dropped;
	json_error_t jerr;
	enum audit_verdict v = AUDIT_V_MALFORMED;
	char canon_hash[AUDIT_HEX_LEN + 1];
	const char *hs;

	memset(l, 0, sizeof(*l));
	if (len == 0) {
		audit_seterr(why, whylen, "empty line");
		return (AUDIT_V_MALFORMED);
	}
	if ((o = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &jerr)) == NULL) {
		audit_seterr(why, whylen, "not JSON: %s (column %d)",
		    jerr.text, jerr.column);
		return (AUDIT_V_MALFORMED);
	}
	if (!json_is_object(o)) {
		audit_seterr(why, whylen, "not a JSON object");
		goto out;
	}
	seq = json_object_get(o, "seq");
	prev = json_object_get(o, "prev");
	hash = json_object_get(o, "hash");
	event = json_object_get(o, "event");
	/* The bound keeps seq + 1 from overflowing on a forged last line. */
	if (!json_is_integer(seq) || json_integer_value(seq) < 1 ||
	    json_integer_value(seq) > AUDIT_SEQ_MAX) {
		audit_seterr(why, whylen, "\"seq\" is missing or not an "
		    "integer from 1 to 2^62");
		goto out;
	}
	if (!json_is_string(event) || !json_is_string(json_object_get(o,
	    "time"))) {
		audit_seterr(why, whylen, "\"event\" or \"time\" is missing");
		goto out;
	}
	if (!json_is_string(prev) || !audit_is_hex64(json_string_value(prev))) {
		audit_seterr(why, whylen, "\"prev\" is missing or not 64 "
		    "lowercase hex digits");
		goto out;
	}
	if (!json_is_string(hash) || !audit_is_hex64(json_string_value(hash))) {
		audit_seterr(why, whylen, "\"hash\" is missing or not 64 "
		    "lowercase hex digits");
		goto out;
	}
	hs = json_string_value(hash);
	/* Duplicates are refused above, so the last member is this hash. */
	if (len <= AUDIT_SUFFIX_LEN ||
	    memcmp(buf + len - AUDIT_SUFFIX_LEN, AUDIT_HASH_PREFIX,
	    sizeof(AUDIT_HASH_PREFIX) - 1) != 0 ||
	    memcmp(buf + len - AUDIT_SUFFIX_LEN + sizeof(AUDIT_HASH_PREFIX) - 1,
	    hs, AUDIT_HEX_LEN) != 0 ||
	    memcmp(buf + len - 2, "\"}", 2) != 0) {
		audit_seterr(why, whylen, "\"hash\" is not the last member "
		    "as ,\"hash\":\"HEX\"}");
		goto out;
	}
	l->seq = json_integer_value(seq);
	memcpy(l->prev, json_string_value(prev), AUDIT_HEX_LEN + 1);
	memcpy(l->hash, hs, AUDIT_HEX_LEN + 1);
	if (strcmp(json_string_value(event), "audit_gap") == 0) {
		l->is_gap = 1;
		dropped = json_object_get(o, "dropped");
		l->dropped = json_is_integer(dropped) ?
		    json_integer_value(dropped) : 0;
	}
	/*
	 * The canonical bytes are the line up to the hash member, closed
	 * with '}': hash them in two pieces rather than copy the line.
	 */
	{
		wc_Sha256 sha;
		unsigned char digest[WC_SHA256_DIGEST_SIZE];
		int bad;

		if (wc_InitSha256(&sha) != 0) {
			audit_seterr(why, whylen, "SHA-256 failed");
			goto out;
		}
		bad = wc_Sha256Update(&sha, (const byte *)l->prev,
		    AUDIT_HEX_LEN) != 0 ||
		    wc_Sha256Update(&sha, (const byte *)buf,
		    (word32)(len - AUDIT_SUFFIX_LEN)) != 0 ||
		    wc_Sha256Update(&sha, (const byte *)"}", 1) != 0 ||
		    wc_Sha256Final(&sha, digest) != 0;
		wc_Sha256Free(&sha);
		if (bad) {
			audit_seterr(why, whylen, "SHA-256 failed");
			goto out;
		}
		audit_hex(digest, sizeof(digest), canon_hash);
	}
	if (strcmp(canon_hash, l->hash) != 0) {
		audit_seterr(why, whylen, "hash does not match its contents "
		    "(record edited)");
		v = AUDIT_V_EDITED;
		goto out;
	}
	v = AUDIT_V_OK;
out:
	json_decref(o);
	return (v);
}

/* ---------------------------------------------------------------------- */
/* The file                                                               */

static int
audit_file_open(struct audit_file *af, const char *path, char *err,
    size_t errlen)
{
	struct stat st;

	memset(af, 0, sizeof(*af));
	af->path = path;
	af->size = -1;
	af->fd = open(path, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC |
	    O_NONBLOCK, 0600);
	if (af->fd == -1) {
		audit_seterr(err, errlen, "audit log %s: %s", path,
		    strerror(errno));
		return (-1);
	}
	if (fstat(af->fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		audit_seterr(err, errlen, "audit log %s: not a regular file",
		    path);
		close(af->fd);
		af->fd = -1;
		return (-1);
	}
	return (0);
}

static int
audit_file_lock(struct audit_file *af, int op, char *err, size_t errlen)
{

	while (flock(af->fd, op) != 0) {
		if (errno == EINTR)
			continue;
		audit_seterr(err, errlen, "audit log %s: flock: %s", af->path,
		    strerror(errno));
		return (-1);
	}
	return (0);
}

/*
 * With the lock held: if the file is not the size this writer left, read
 * its last line and take seq and hash from it.  A file that ends in
 * anything but a valid record is refused: appending to it would chain to
 * nothing.
 */
static int
audit_file_sync(struct audit_file *af, char *err, size_t errlen)
{
	struct stat st;
	char *buf, why[256];
	off_t off;
	size_t n, start;
	ssize_t got;
	struct audit_line l;
	int rc = -1;

	if (fstat(af->fd, &st) != 0) {
		audit_seterr(err, errlen, "audit log %s: fstat: %s", af->path,
		    strerror(errno));
		return (-1);
	}
	if (st.st_size == af->size)
		return (0);
	if (st.st_size == 0) {
		af->size = 0;
		af->seq = 0;
		memcpy(af->hash, audit_zero_hash, sizeof(af->hash));
		return (0);
	}
	/* The last line with its newline, and one byte to find its start. */
	n = st.st_size > AUDIT_LINE_MAX + 2 ? AUDIT_LINE_MAX + 2 :
	    (size_t)st.st_size;
	off = st.st_size - (off_t)n;
	if ((buf = malloc(n)) == NULL) {
		audit_seterr(err, errlen, "audit log %s: out of memory",
		    af->path);
		return (-1);
	}
	for (size_t have = 0; have < n; have += (size_t)got) {
		got = pread(af->fd, buf + have, n - have, off + (off_t)have);
		if (got <= 0) {
			if (got < 0 && errno == EINTR) {
				got = 0;
				continue;
			}
			audit_seterr(err, errlen, "audit log %s: read: %s",
			    af->path, got < 0 ? strerror(errno) :
			    "file shrank while locked");
			goto out;
		}
	}
	if (buf[n - 1] != '\n') {
		start = n - 1;
		while (start > 0 && buf[start - 1] != '\n')
			start--;
		audit_seterr(err, errlen, "audit log %s: the last line (from "
		    "byte offset %lld) is incomplete: the file does not end "
		    "with a newline (a partial write?); check it with "
		    "\"secd audit verify %s\" and, if only that line is bad, "
		    "remove it with \"truncate -s %lld %s\"", af->path,
		    (long long)(off + (off_t)start), af->path,
		    (long long)(off + (off_t)start), af->path);
		goto out;
	}
	start = n - 1;
	while (start > 0 && buf[start - 1] != '\n')
		start--;
	if (start == 0 && off > 0) {
		audit_seterr(err, errlen, "audit log %s: the last line is "
		    "longer than %d bytes: not a record", af->path,
		    AUDIT_LINE_MAX);
		goto out;
	}
	if (audit_line_check(buf + start, n - 1 - start, &l, why,
	    sizeof(why)) != AUDIT_V_OK) {
		audit_seterr(err, errlen, "audit log %s: the last line (from "
		    "byte offset %lld) is not a valid record: %s; check the "
		    "file with \"secd audit verify %s\"", af->path,
		    (long long)(off + (off_t)start), why, af->path);
		goto out;
	}
	af->size = st.st_size;
	af->seq = l.seq;
	memcpy(af->hash, l.hash, sizeof(af->hash));
	rc = 0;
out:
	free(buf);
	return (rc);
}

static int
audit_write_all(int fd, const char *p, size_t n)
{
	ssize_t w;

	while (n > 0) {
		if ((w = write(fd, p, n)) < 0) {
			if (errno == EINTR)
				continue;
			return (-1);
		}
		p += w;
		n -= (size_t)w;
	}
	return (0);
}

/*
 * Append the records of the list q (NULL-terminated by next) as one
 * batch: lock, sync, format and write them in pieces, fdatasync, unlock.
 * On a write error the file is cut back to where the batch began, so it
 * never keeps half a record.  Returns 0, or -1 with err set and nothing
 * of the batch in the file.
 */
static int
audit_file_append(struct audit_file *af, const struct audit_qrec *q,
    char *err, size_t errlen)
{
	char *buf = NULL, *line, *nbuf, hash[AUDIT_HEX_LEN + 1];
	char next[AUDIT_HEX_LEN + 1];
	size_t len = 0, cap = 0, llen, total = 0;
	off_t start;
	int64_t seq;
	int rc = -1;

	if (audit_file_lock(af, LOCK_EX, err, errlen) != 0)
		return (-1);
	if (audit_file_sync(af, err, errlen) != 0) {
		/* The file changed under us into something unreadable. */
		af->size = -1;
		goto unlock;
	}
	start = af->size;
	seq = af->seq;
	memcpy(hash, af->hash, sizeof(hash));
	for (; q != NULL; q = q->next) {
		if ((line = audit_format(q, seq + 1, hash, next, &llen)) == NULL) {
			audit_seterr(err, errlen, "audit log %s: out of memory",
			    af->path);
			goto fail;
		}
		if (len + llen > cap) {
			cap = len + llen > AUDIT_WRITE_CHUNK ? len + llen :
			    AUDIT_WRITE_CHUNK;
			if ((nbuf = realloc(buf, cap)) == NULL) {
				free(line);
				audit_seterr(err, errlen, "audit log %s: out "
				    "of memory", af->path);
				goto fail;
			}
			buf = nbuf;
		}
		memcpy(buf + len, line, llen);
		len += llen;
		free(line);
		seq++;
		memcpy(hash, next, sizeof(hash));
		if (len >= AUDIT_WRITE_CHUNK || q->next == NULL) {
			if (audit_write_all(af->fd, buf, len) != 0) {
				audit_seterr(err, errlen, "audit log %s: "
				    "write: %s", af->path, strerror(errno));
				goto fail;
			}
			af->size = -1;	/* until the batch is complete */
			total += len;
			len = 0;
		}
	}
	if (fdatasync(af->fd) != 0) {
		/* The data may or may not be on disk: nothing to undo. */
		log_errx("audit log %s: fdatasync: %s", af->path,
		    strerror(errno));
	}
	/* Other writers wait for the lock: the file is exactly ours. */
	af->size = start + (off_t)total;
	af->seq = seq;
	memcpy(af->hash, hash, sizeof(af->hash));
	rc = 0;
	goto unlock;
fail:
	if (ftruncate(af->fd, start) != 0)
		log_errx("audit log %s: cannot remove a partly written batch "
		    "(truncate to %lld): %s", af->path, (long long)start,
		    strerror(errno));
	af->size = -1;
unlock:
	free(buf);
	flock(af->fd, LOCK_UN);
	return (rc);
}

/* With the lock taken: sync, and report the head; -1 if unreadable. */
static int
audit_file_head(struct audit_file *af, char *err, size_t errlen)
{
	int rc;

	if (audit_file_lock(af, LOCK_EX, err, errlen) != 0)
		return (-1);
	af->size = -1;
	rc = audit_file_sync(af, err, errlen);
	flock(af->fd, LOCK_UN);
	return (rc);
}

/* ---------------------------------------------------------------------- */
/* The queue and its writer thread                                        */

/*
 * With mtx held: n more records are lost, the earliest at time when;
 * n_new of them were not counted before (the others come back from a
 * failed write).  Returns 1 if these are the first losses not yet
 * reported by an audit_gap.  The caller logs.
 */
static int
audit_lost(struct audit *a, uint64_t n, uint64_t n_new, const char *when)
{
	int first = a->dropped == 0;

	/* The timestamps have one fixed format, so strcmp orders them. */
	if (first || strcmp(when, a->drop_time) < 0)
		snprintf(a->drop_time, sizeof(a->drop_time), "%s", when);
	a->dropped += n;
	a->dropped_total += n_new;
	return (first);
}

static void
audit_free_list(struct audit_qrec *q)
{
	struct audit_qrec *next;

	for (; q != NULL; q = next) {
		next = q->next;
		free(q);
	}
}

static void *
audit_writer(void *arg)
{
	struct audit *a = arg;
	struct audit_qrec *batch, *gap, *last, *q;
	uint64_t dropped, n;
	char drop_time[32], err[512];
	struct timespec until;
	int closing;

	pthread_mutex_lock(&a->mtx);
	for (;;) {
		while (a->head == NULL && a->dropped == 0 && !a->closing)
			pthread_cond_wait(&a->cond, &a->mtx);
		if (a->head == NULL && a->dropped == 0)
			break;		/* closing, and nothing left */
		batch = a->head;
		last = a->tail;
		a->head = a->tail = NULL;
		a->count = 0;
		a->bytes = 0;
		dropped = a->dropped;
		memcpy(drop_time, a->drop_time, sizeof(drop_time));
		a->dropped = 0;
		closing = a->closing;
		pthread_mutex_unlock(&a->mtx);

		/*
		 * Everything dropped so far was dropped after every record
		 * of this batch was queued: the gap record goes last.
		 */
		gap = NULL;
		if (dropped > 0) {
			if ((gap = audit_qrec_gap(dropped, drop_time)) == NULL) {
				/* Report them with the next batch. */
				pthread_mutex_lock(&a->mtx);
				audit_lost(a, dropped, 0, drop_time);
				pthread_mutex_unlock(&a->mtx);
				dropped = 0;
			} else if (last != NULL)
				last->next = gap;
			else
				batch = gap;
		}
		n = 0;
		for (q = batch; q != NULL; q = q->next)
			n++;
		snprintf(err, sizeof(err), "audit log %s: out of memory",
		    a->path);
		if (batch != NULL && audit_file_append(&a->file, batch, err,
		    sizeof(err)) == 0) {
			if (dropped > 0)
				log_warnx("audit log %s: %" PRIu64 " records "
				    "were lost; recorded as audit_gap seq %"
				    PRId64, a->path, dropped, a->file.seq);
			audit_free_list(batch);
			pthread_mutex_lock(&a->mtx);
			continue;
		}
		/*
		 * Nothing of the batch is in the file: all of it is lost,
		 * the dropped records it was to report included.
		 */
		n -= gap != NULL ? 1 : 0;
		pthread_mutex_lock(&a->mtx);
		if (batch != NULL)
			audit_lost(a, n + dropped, n,
			    gap != batch ? batch->time : drop_time);
		pthread_mutex_unlock(&a->mtx);
		audit_free_list(batch);
		pthread_mutex_lock(&a->mtx);
		if (closing || a->closing) {
			/* Do not hold up shutdown: give the rest up too. */
			a->dropped_total += a->count;
			log_errx("%s; %" PRIu64 " audit records lost at "
			    "shutdown", err, a->dropped + a->count);
			a->dropped = 0;
			a->count = 0;
			a->bytes = 0;
			audit_free_list(a->head);
			a->head = a->tail = NULL;
			break;
		}
		log_errx("%s; %" PRIu64 " audit records lost so far, retrying "
		    "in %ds", err, a->dropped, AUDIT_RETRY_SECONDS);
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += AUDIT_RETRY_SECONDS;
		while (!a->closing &&
		    pthread_cond_timedwait(&a->cond, &a->mtx, &until) == 0)
			;
	}
	pthread_mutex_unlock(&a->mtx);
	return (NULL);
}

struct audit *
audit_open(const char *path, char *err, size_t errlen)
{
	struct audit *a;
	sigset_t all, old;
	struct stat st;
	int rc;

	if ((a = calloc(1, sizeof(*a))) == NULL ||
	    (a->path = strdup(path)) == NULL) {
		audit_seterr(err, errlen, "audit log %s: out of memory", path);
		free(a);
		return (NULL);
	}
	if (audit_file_open(&a->file, a->path, err, errlen) != 0)
		goto err0;
	if (audit_file_head(&a->file, err, errlen) != 0)
		goto err1;
	if (fstat(a->file.fd, &st) == 0 && (st.st_mode & 077) != 0)
		log_warnx("audit log %s: mode %03o: readable by others than "
		    "its owner (chmod 600)", a->path,
		    (unsigned)(st.st_mode & 0777));
	pthread_mutex_init(&a->mtx, NULL);
	pthread_cond_init(&a->cond, NULL);
	/* The writer takes no signals: they belong to the main loop. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	rc = pthread_create(&a->thread, NULL, audit_writer, a);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc != 0) {
		audit_seterr(err, errlen, "audit log %s: cannot start its "
		    "writer thread: %s", a->path, strerror(rc));
		pthread_cond_destroy(&a->cond);
		pthread_mutex_destroy(&a->mtx);
		goto err1;
	}
	log_notice("audit log %s: opened, head seq %" PRId64 " hash %s",
	    a->path, a->file.seq, a->file.hash);
	return (a);
err1:
	close(a->file.fd);
err0:
	free(a->path);
	free(a);
	return (NULL);
}

int
audit_append(struct audit *a, const struct audit_rec *r)
{
	static struct log_rl rl;
	struct audit_qrec *q;
	char now[32];
	const char *why;
	int first;

	if (a == NULL)
		return (0);
	q = audit_qrec_new(r);
	pthread_mutex_lock(&a->mtx);
	if (q != NULL && !a->closing && a->count < AUDIT_QUEUE_MAX &&
	    a->bytes + q->size <= AUDIT_QUEUE_BYTES) {
		if (a->tail != NULL)
			a->tail->next = q;
		else
			a->head = q;
		a->tail = q;
		a->count++;
		a->bytes += q->size;
		pthread_cond_signal(&a->cond);
		pthread_mutex_unlock(&a->mtx);
		return (0);
	}
	if (q != NULL) {
		memcpy(now, q->time, sizeof(now));
		why = a->closing ? "closed" : "queue full";
	} else {
		audit_now(now);
		why = "out of memory";
	}
	first = audit_lost(a, 1, 1, now);
	pthread_mutex_unlock(&a->mtx);
	free(q);
	log_ratelimited(&rl, LOG_L_WARNING, "audit log %s: %s: %s record "
	    "dropped%s", a->path, why, r->event != NULL ? r->event : "unknown",
	    first ? " (an audit_gap record will count the losses)" : "");
	return (-1);
}

uint64_t
audit_dropped(struct audit *a)
{
	uint64_t n;

	if (a == NULL)
		return (0);
	pthread_mutex_lock(&a->mtx);
	n = a->dropped_total;
	pthread_mutex_unlock(&a->mtx);
	return (n);
}

void
audit_close(struct audit *a)
{
	char err[512];

	if (a == NULL)
		return;
	pthread_mutex_lock(&a->mtx);
	a->closing = 1;
	pthread_cond_signal(&a->cond);
	pthread_mutex_unlock(&a->mtx);
	pthread_join(a->thread, NULL);
	/* Another writer may have appended after us: report the real head. */
	if (audit_file_head(&a->file, err, sizeof(err)) == 0)
		log_notice("audit log %s: closed, head seq %" PRId64
		    " hash %s (%" PRIu64 " records lost since open)", a->path,
		    a->file.seq, a->file.hash, a->dropped_total);
	else
		log_errx("%s", err);
	close(a->file.fd);
	pthread_cond_destroy(&a->cond);
	pthread_mutex_destroy(&a->mtx);
	free(a->path);
	free(a);
}

int
audit_append_now(const char *path, const struct audit_rec *r, char *err,
    size_t errlen)
{
	struct audit_file af;
	struct audit_qrec *q;
	int rc;

	if ((q = audit_qrec_new(r)) == NULL) {
		audit_seterr(err, errlen, "audit log %s: out of memory", path);
		return (-1);
	}
	rc = audit_file_open(&af, path, err, errlen);
	if (rc == 0) {
		rc = audit_file_append(&af, q, err, errlen);
		close(af.fd);
	}
	free(q);
	return (rc);
}

/* ---------------------------------------------------------------------- */
/* Verification                                                           */

/*
 * Check the line numbered lineno (len bytes, no newline) against the one
 * before it (prev_seq 0: there is none).  0, or -1 with err set.
 */
static int
audit_verify_line(const char *path, size_t lineno, const char *buf,
    size_t len, int64_t prev_seq, const char *prev_hash,
    struct audit_line *l, char *err, size_t errlen)
{
	char why[256];

	if (audit_line_check(buf, len, l, why, sizeof(why)) != AUDIT_V_OK) {
		audit_seterr(err, errlen, "%s: line %zu: %s", path, lineno, why);
		return (-1);
	}
	if (prev_seq == 0) {
		if (l->seq != 1) {
			audit_seterr(err, errlen, "%s: line %zu: seq %" PRId64
			    ", but the first record has seq 1 (records "
			    "deleted from the start?)", path, lineno, l->seq);
			return (-1);
		}
		if (strcmp(l->prev, audit_zero_hash) != 0) {
			audit_seterr(err, errlen, "%s: line %zu: prev of the "
			    "first record is not 64 zeros", path, lineno);
			return (-1);
		}
		return (0);
	}
	if (l->seq > prev_seq + 1) {
		audit_seterr(err, errlen, "%s: line %zu: seq %" PRId64
		    " follows %" PRId64 " (record deleted?)", path, lineno,
		    l->seq, prev_seq);
		return (-1);
	}
	if (l->seq != prev_seq + 1) {
		audit_seterr(err, errlen, "%s: line %zu: seq %" PRId64
		    " follows %" PRId64 " (records reordered or duplicated?)",
		    path, lineno, l->seq, prev_seq);
		return (-1);
	}
	if (strcmp(l->prev, prev_hash) != 0) {
		audit_seterr(err, errlen, "%s: line %zu: prev does not match "
		    "line %zu's hash (records reordered, replaced or "
		    "deleted)", path, lineno, lineno - 1);
		return (-1);
	}
	return (0);
}

int
audit_verify(const char *path, FILE *out, char *err, size_t errlen)
{
	FILE *f, *gaps;
	char *line, *gapbuf = NULL, chunk[65536], head[AUDIT_HEX_LEN + 1];
	size_t len = 0, lineno = 0, n, i, ngaps = 0, gaplen = 0;
	int64_t seq = 0;
	struct audit_line l;
	int rc = -2, toolong = 0;

	memcpy(head, audit_zero_hash, sizeof(head));
	if ((f = fopen(path, "rb")) == NULL) {
		audit_seterr(err, errlen, "%s: %s", path, strerror(errno));
		return (-2);
	}
	if ((line = malloc(AUDIT_LINE_MAX + 1)) == NULL ||
	    (gaps = open_memstream(&gapbuf, &gaplen)) == NULL) {
		audit_seterr(err, errlen, "%s: out of memory", path);
		free(line);
		fclose(f);
		return (-2);
	}
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
		for (i = 0; i < n; i++) {
			if (chunk[i] != '\n') {
				if (len == AUDIT_LINE_MAX) {
					toolong = 1;
					goto bad_length;
				}
				line[len++] = chunk[i];
				continue;
			}
			lineno++;
			if (audit_verify_line(path, lineno, line, len, seq,
			    head, &l, err, errlen) != 0) {
				rc = -1;
				goto out;
			}
			seq = l.seq;
			memcpy(head, l.hash, sizeof(head));
			len = 0;
			if (l.is_gap) {
				if (ngaps < AUDIT_VERIFY_GAPS_MAX)
					fprintf(gaps, "%s: line %zu: audit_gap: "
					    "%" PRId64 " records were dropped "
					    "here\n", path, lineno, l.dropped);
				ngaps++;
			}
		}
	}
	if (ferror(f)) {
		audit_seterr(err, errlen, "%s: read: %s", path, strerror(errno));
		goto out;
	}
bad_length:
	if (toolong) {
		audit_seterr(err, errlen, "%s: line %zu: longer than %d bytes "
		    "(not a record)", path, lineno + 1, AUDIT_LINE_MAX);
		rc = -1;
		goto out;
	}
	if (len > 0) {
		audit_seterr(err, errlen, "%s: line %zu: incomplete: the file "
		    "does not end with a newline (a partial write, or the end "
		    "of the file cut off)", path, lineno + 1);
		rc = -1;
		goto out;
	}
	if (ngaps > AUDIT_VERIFY_GAPS_MAX)
		fprintf(gaps, "%s: %zu more audit_gap records\n", path,
		    ngaps - AUDIT_VERIFY_GAPS_MAX);
	fflush(gaps);
	fprintf(out, "%s: %zu records, ok, head %" PRId64 " %s\n", path,
	    lineno, seq, head);
	if (gaplen > 0)
		fwrite(gapbuf, 1, gaplen, out);
	rc = 0;
out:
	fclose(gaps);
	free(gapbuf);
	free(line);
	fclose(f);
	return (rc);
}
