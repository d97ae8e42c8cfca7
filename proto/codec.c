/*
 * codec.c: protocol v1 messages to and from JSON lines, on jansson.
 *
 * Decoding runs in a fixed order, so that the first problem found is the one
 * reported and the id is recovered whenever it can be:
 *
 *   1. the raw bytes: no NUL, well-formed UTF-8;
 *   2. jansson parses the line (duplicate keys rejected) into one value,
 *      which must be an object;
 *   3. "id", so that every later error can echo it;
 *   4. the whole tree: nesting depth and the range of every integer;
 *   5. the fields of the message, in the order the protocol lists them,
 *      after unknown members have been refused.
 *
 * jansson turns any number with a fraction or an exponent into a real, and
 * an integer beyond 64 bits into a parse error; integers from 2^53 to 2^63-1
 * parse fine and are refused in step 4.  So "1.0", "1e3" and "1E2" are
 * reals (refused wherever an integer is wanted), "-0" is the integer 0,
 * 9007199254740992 is out of range, 2^63 fails to parse with a
 * "number too large" message.
 *
 * Encoding does not build jansson trees: it writes the canonical form
 * directly, member by member, escaping strings the way jansson does (so
 * that the JSON objects of extension ops, which jansson dumps, are escaped
 * the same way).  Every value is checked with the validators of msg.c
 * before it is written, so an encoded line always decodes.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <malloc.h>

#include <jansson.h>

#include "codec.h"
#include "msg.h"

/* Decoding flags: one JSON value per line, no duplicate keys, no \u0000. */
#define CODEC_JSON_FLAGS	(JSON_REJECT_DUPLICATES | JSON_DECODE_ANY)

/* Flags for dumping the JSON objects of extension ops: canonical. */
#define CODEC_DUMP_FLAGS	(JSON_COMPACT | JSON_SORT_KEYS)

/* Longest member name quoted in an error message. */
#define CODEC_KEY_QUOTE_MAX	32

/* ---------------------------------------------------------------------- */
/* jansson memory that is wiped when freed                                */

/*
 * jansson allocates with plain malloc(); only freeing changes: the block is
 * wiped over its usable size first.  Blocks stay ordinary malloc blocks, so
 * free() of something json_dumps() returned, or json_decref() of a value
 * made before codec_init(), remain correct.
 */
static void
codec_wipe_free(void *p)
{

	if (p == NULL)
		return;
	explicit_bzero(p, malloc_usable_size(p));
	free(p);
}

int
codec_init(void)
{
	static int done;

	if (!done) {
		json_set_alloc_funcs(malloc, codec_wipe_free);
		done = 1;
	}
	return (0);
}

/* ---------------------------------------------------------------------- */
/* Output buffer                                                          */

void
codec_buf_init(struct codec_buf *b)
{

	memset(b, 0, sizeof(*b));
}

void
codec_buf_reset(struct codec_buf *b)
{

	if (b == NULL)
		return;
	if (b->data != NULL)
		explicit_bzero(b->data, b->len);
	b->len = 0;
}

void
codec_buf_free(struct codec_buf *b)
{

	if (b == NULL)
		return;
	if (b->data != NULL) {
		explicit_bzero(b->data, b->cap);
		free(b->data);
	}
	memset(b, 0, sizeof(*b));
}

/*
 * One encoding in progress.  Errors are sticky: after the first, every put
 * does nothing, and codec_out_end() rolls the buffer back to mark.  limit
 * bounds the line (without its "\n") so that a huge extension object fails
 * early instead of growing the buffer without bound.
 */
struct codec_out {
	struct codec_buf	*b;
	size_t			 mark;
	size_t			 limit;
	int			 err;
};

static void
codec_out_begin(struct codec_out *o, struct codec_buf *b, size_t limit)
{

	o->b = b;
	o->mark = b->len;
	o->limit = limit;
	o->err = 0;
}

static void
codec_out_fail(struct codec_out *o, int e)
{

	if (o->err == 0)
		o->err = e;
}

/* Make room for n more bytes; grows by doubling, wiping the old block. */
static int
codec_buf_reserve(struct codec_buf *b, size_t n)
{
	size_t ncap;
	char *nd;

	if (b->cap - b->len >= n)
		return (0);
	if (n > SIZE_MAX / 4 - b->len) {
		errno = ENOMEM;
		return (-1);
	}
	ncap = b->cap > 0 ? b->cap : 256;
	while (ncap - b->len < n)
		ncap *= 2;
	if ((nd = malloc(ncap)) == NULL)
		return (-1);
	if (b->data != NULL) {
		memcpy(nd, b->data, b->len);
		explicit_bzero(b->data, b->cap);
		free(b->data);
	}
	b->data = nd;
	b->cap = ncap;
	return (0);
}

static void
codec_put(struct codec_out *o, const void *p, size_t n)
{

	if (o->err)
		return;
	/* +1: the line's "\n" is not counted against the limit. */
	if (o->b->len - o->mark + n > o->limit + 1) {
		codec_out_fail(o, EMSGSIZE);
		return;
	}
	if (codec_buf_reserve(o->b, n) == -1) {
		codec_out_fail(o, ENOMEM);
		return;
	}
	memcpy(o->b->data + o->b->len, p, n);
	o->b->len += n;
}

static void
codec_puts(struct codec_out *o, const char *s)
{

	codec_put(o, s, strlen(s));
}

static void
codec_put_int(struct codec_out *o, int64_t v)
{
	char tmp[24], *p = tmp + sizeof(tmp);
	uint64_t u;

	u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
	do {
		*--p = (char)('0' + u % 10);
		u /= 10;
	} while (u != 0);
	if (v < 0)
		*--p = '-';
	codec_put(o, p, (size_t)(tmp + sizeof(tmp) - p));
}

/*
 * A JSON string, escaped as jansson escapes: \" \\ \b \f \n \r \t, other
 * bytes below 0x20 as \u00XX with upper-case hex, everything else (DEL,
 * '/', non-ASCII UTF-8) as is.  The caller has checked the bytes are UTF-8.
 */
static void
codec_put_str(struct codec_out *o, const char *s, size_t len)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t i, run = 0;
	char esc[6];
	unsigned char c;

	codec_put(o, "\"", 1);
	for (i = 0; i < len; i++) {
		c = (unsigned char)s[i];
		if (c >= 0x20 && c != '"' && c != '\\')
			continue;
		codec_put(o, s + run, i - run);
		run = i + 1;
		esc[0] = '\\';
		switch (c) {
		case '"':	esc[1] = '"'; break;
		case '\\':	esc[1] = '\\'; break;
		case '\b':	esc[1] = 'b'; break;
		case '\f':	esc[1] = 'f'; break;
		case '\n':	esc[1] = 'n'; break;
		case '\r':	esc[1] = 'r'; break;
		case '\t':	esc[1] = 't'; break;
		default:
			memcpy(esc, "\\u00", 4);
			esc[4] = hex[c >> 4];
			esc[5] = hex[c & 0xf];
			codec_put(o, esc, 6);
			continue;
		}
		codec_put(o, esc, 2);
	}
	codec_put(o, s + run, len - run);
	codec_put(o, "\"", 1);
}

static void
codec_put_cstr(struct codec_out *o, const char *s)
{

	codec_put_str(o, s, strlen(s));
}

/* ,"key": */
static void
codec_put_key(struct codec_out *o, const char *key)
{

	codec_put(o, ",\"", 2);
	codec_puts(o, key);
	codec_put(o, "\":", 2);
}

static void
codec_put_id(struct codec_out *o, const struct msg_id *id)
{

	if (id == NULL || id->kind == MSG_ID_NONE)
		codec_puts(o, "null");
	else if (!msg_id_valid(id))
		codec_out_fail(o, EINVAL);
	else if (id->kind == MSG_ID_INT)
		codec_put_int(o, id->num);
	else
		codec_put_cstr(o, id->str);
}

static int
codec_dump_cb(const char *p, size_t n, void *arg)
{
	struct codec_out *o = arg;

	codec_put(o, p, n);
	return (o->err ? -1 : 0);
}

/*
 * The members of obj, spliced into the object being written: ,"a":1,"b":2
 * (nothing for an empty object).  jansson writes "{...}"; the brace is
 * turned into the comma and the closing brace dropped.
 */
static void
codec_put_members(struct codec_out *o, const json_t *obj)
{
	size_t at;

	if (o->err)
		return;
	at = o->b->len;
	if (json_dump_callback(obj, codec_dump_cb, o, CODEC_DUMP_FLAGS) != 0) {
		codec_out_fail(o, ENOMEM);
		return;
	}
	if (o->err)
		return;
	if (o->b->len - at == 2) {
		o->b->len = at;
		return;
	}
	o->b->data[at] = ',';
	o->b->len--;
}

/* Finish a line: "\n", or roll back and report the first error. */
static int
codec_out_end(struct codec_out *o)
{

	codec_put(o, "\n", 1);
	if (o->err == 0)
		return (0);
	explicit_bzero(o->b->data + o->mark, o->b->len - o->mark);
	o->b->len = o->mark;
	errno = o->err;
	return (-1);
}

/* ---------------------------------------------------------------------- */
/* Error messages                                                         */

/*
 * Copy src into dst (MSG_ERROR_MESSAGE_MAX + 1 bytes), making it a valid
 * error message: control characters and bytes that are not UTF-8 become
 * '?', and it is cut at a character boundary to fit.
 */
static void
codec_sanitize(char *dst, const char *src)
{
	const unsigned char *s = (const unsigned char *)src;
	size_t i = 0, o = 0, n;
	unsigned char c;
	int bad;

	while ((c = s[i]) != '\0') {
		/* The length the lead byte announces; 0 if it is no lead. */
		if (c < 0x80)
			n = 1;
		else if (c >= 0xc2 && c <= 0xdf)
			n = 2;
		else if (c >= 0xe0 && c <= 0xef)
			n = 3;
		else if (c >= 0xf0 && c <= 0xf4)
			n = 4;
		else
			n = 0;
		bad = n == 0 || strnlen(src + i, n) < n ||
		    msg_utf8_prefix(src + i, n) != n;
		if (bad)
			n = 1;
		else if (c < 0x20 || c == 0x7f ||
		    (c == 0xc2 && s[i + 1] <= 0x9f))
			bad = 1;	/* C0, DEL, C1 */
		if (o + (bad ? 1 : n) > MSG_ERROR_MESSAGE_MAX)
			break;
		if (bad)
			dst[o++] = '?';
		else {
			memcpy(dst + o, s + i, n);
			o += n;
		}
		i += n;
	}
	dst[o] = '\0';
}

static void
codec_seterr(struct codec_error *err, enum msg_err code, const char *fmt,
    ...) __attribute__((format(printf, 3, 4)));

static void
codec_seterr(struct codec_error *err, enum msg_err code, const char *fmt, ...)
{
	char tmp[MSG_ERROR_MESSAGE_MAX + 1];
	va_list ap;

	err->code = code;
	va_start(ap, fmt);
	vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	codec_sanitize(err->message, tmp);
}

static void
codec_err_init(struct codec_error *err)
{

	memset(err, 0, sizeof(*err));
}

/*
 * A member name as it may be quoted in a message: printable ASCII kept,
 * anything else '?', cut at CODEC_KEY_QUOTE_MAX bytes with "...".
 */
static void
codec_quote_key(char *dst, size_t dstsize, const char *key)
{
	size_t i;

	for (i = 0; key[i] != '\0' && i < CODEC_KEY_QUOTE_MAX &&
	    i + 4 < dstsize; i++)
		dst[i] = (key[i] > 0x20 && key[i] < 0x7f) ? key[i] : '?';
	if (key[i] != '\0' && i + 4 <= dstsize) {
		memcpy(dst + i, "...", 3);
		i += 3;
	}
	dst[i] = '\0';
}

static const char *
codec_type_desc(const json_t *v)
{

	switch (json_typeof(v)) {
	case JSON_OBJECT:	return ("an object");
	case JSON_ARRAY:	return ("an array");
	case JSON_STRING:	return ("a string");
	case JSON_INTEGER:	return ("an integer");
	case JSON_REAL:		return ("a real number");
	case JSON_TRUE:
	case JSON_FALSE:	return ("a boolean");
	case JSON_NULL:		return ("null");
	}
	return ("an unknown value");
}

/* ---------------------------------------------------------------------- */
/* Parsing a line                                                         */

static size_t
codec_skip_ws(const char *s, size_t len, size_t i)
{

	while (i < len && (s[i] == ' ' || s[i] == '\t' || s[i] == '\r' ||
	    s[i] == '\n'))
		i++;
	return (i);
}

/*
 * Recover the id of a line that is not valid JSON: only when the line
 * starts with {"id": followed by an integer or by a string without escapes,
 * then a ',' or '}'.  Anything more clever would guess.
 */
static void
codec_recover_raw_id(const char *s, size_t len, struct msg_id *id)
{
	size_t i, j;
	int64_t v;
	int neg = 0;

	memset(id, 0, sizeof(*id));
	i = codec_skip_ws(s, len, 0);
	if (i >= len || s[i] != '{')
		return;
	i = codec_skip_ws(s, len, i + 1);
	if (len - i < 4 || memcmp(s + i, "\"id\"", 4) != 0)
		return;
	i = codec_skip_ws(s, len, i + 4);
	if (i >= len || s[i] != ':')
		return;
	i = codec_skip_ws(s, len, i + 1);
	if (i >= len)
		return;
	if (s[i] == '"') {
		for (j = i + 1; j < len && s[j] != '"' && s[j] != '\\'; j++)
			;
		if (j >= len || s[j] != '"' ||
		    !msg_id_str_valid(s + i + 1, j - i - 1))
			return;
		memcpy(id->str, s + i + 1, j - i - 1);
		id->str[j - i - 1] = '\0';
		id->kind = MSG_ID_STR;
		j++;
	} else {
		j = i;
		if (s[j] == '-') {
			neg = 1;
			j++;
		}
		/* JSON integer: 0, or a non-zero digit then digits. */
		if (j >= len || s[j] < '0' || s[j] > '9' ||
		    (s[j] == '0' && j + 1 < len && s[j + 1] >= '0' &&
		    s[j + 1] <= '9'))
			return;
		for (v = 0; j < len && s[j] >= '0' && s[j] <= '9'; j++) {
			v = v * 10 + (s[j] - '0');
			if (v > MSG_INT_MAX)
				return;
		}
		id->num = neg ? -v : v;
		id->kind = MSG_ID_INT;
	}
	j = codec_skip_ws(s, len, j);
	if (j >= len || (s[j] != ',' && s[j] != '}'))
		memset(id, 0, sizeof(*id));
}

/* Turn jansson's complaint into ours (jansson's own text may quote bytes). */
static void
codec_json_error(const json_error_t *je, struct codec_error *err)
{
	int at = je->position;

	switch (json_error_code(je)) {
	case json_error_out_of_memory:
		codec_seterr(err, MSG_ERR_INTERNAL, "out of memory");
		break;
	case json_error_stack_overflow:
		codec_seterr(err, MSG_ERR_BAD_REQUEST,
		    "nesting deeper than %d levels", MSG_MAX_DEPTH);
		break;
	case json_error_premature_end_of_input:
		codec_seterr(err, MSG_ERR_BAD_REQUEST,
		    "invalid JSON: the line ends inside a value");
		break;
	case json_error_end_of_input_expected:
		codec_seterr(err, MSG_ERR_BAD_REQUEST,
		    "invalid JSON: more data after the value, near byte %d",
		    at);
		break;
	case json_error_duplicate_key:
		codec_seterr(err, MSG_ERR_BAD_REQUEST,
		    "duplicate key near byte %d", at);
		break;
	case json_error_numeric_overflow:
		codec_seterr(err, MSG_ERR_BAD_REQUEST,
		    "number too large near byte %d (integers are limited to "
		    "%" PRId64 " in magnitude)", at, MSG_INT_MAX);
		break;
	case json_error_null_character:
	case json_error_null_byte_in_key:
		codec_seterr(err, MSG_ERR_BAD_REQUEST,
		    "\\u0000 is not allowed in strings, near byte %d", at);
		break;
	case json_error_invalid_utf8:
		codec_seterr(err, MSG_ERR_BAD_REQUEST,
		    "invalid UTF-8 near byte %d", at);
		break;
	default:
		codec_seterr(err, MSG_ERR_BAD_REQUEST,
		    "invalid JSON near byte %d", at);
		break;
	}
}

/*
 * Steps 1 and 2: check the raw bytes and parse them into an object.  what
 * names the message in errors ("request").  On failure, err->id holds the
 * id recovered from the raw bytes, if any.
 */
static json_t *
codec_parse(const char *line, size_t len, const char *what,
    struct codec_error *err)
{
	json_error_t je;
	const char *nul;
	json_t *root;
	size_t good;

	codec_err_init(err);
	if ((nul = memchr(line, '\0', len)) != NULL) {
		codec_seterr(err, MSG_ERR_BAD_REQUEST, "NUL byte at byte %zu",
		    (size_t)(nul - line) + 1);
		goto err0;
	}
	if ((good = msg_utf8_prefix(line, len)) != len) {
		codec_seterr(err, MSG_ERR_BAD_REQUEST,
		    "invalid UTF-8 at byte %zu", good + 1);
		goto err0;
	}
	if (codec_skip_ws(line, len, 0) == len) {
		codec_seterr(err, MSG_ERR_BAD_REQUEST,
		    "invalid JSON: the line holds only white space");
		goto err0;
	}
	if ((root = json_loadb(line, len, CODEC_JSON_FLAGS, &je)) == NULL) {
		codec_json_error(&je, err);
		goto err0;
	}
	if (!json_is_object(root)) {
		codec_seterr(err, MSG_ERR_BAD_REQUEST,
		    "%s must be a JSON object, found %s", what,
		    codec_type_desc(root));
		json_decref(root);
		goto err0;
	}
	return (root);

err0:
	codec_recover_raw_id(line, len, &err->id);
	return (NULL);
}

/*
 * Where the walk is: one step per level, a member name or an array index.
 * Formatted (amount, a.b[3]) only when an error needs it.
 */
struct codec_path {
	const char	*key[MSG_MAX_DEPTH + 1];	/* NULL: index */
	size_t		 index[MSG_MAX_DEPTH + 1];
	int		 n;
};

static void
codec_path_format(const struct codec_path *p, char *buf, size_t size)
{
	char q[CODEC_KEY_QUOTE_MAX + 4];
	size_t len = 0;
	int i, n;

	buf[0] = '\0';
	for (i = 0; i < p->n && len < size; i++) {
		if (p->key[i] != NULL) {
			codec_quote_key(q, sizeof(q), p->key[i]);
			n = snprintf(buf + len, size - len, "%s%s",
			    i > 0 ? "." : "", q);
		} else
			n = snprintf(buf + len, size - len, "[%zu]",
			    p->index[i]);
		if (n < 0)
			break;
		len += (size_t)n;
	}
	if (len == 0)
		snprintf(buf, size, "value");
}

/*
 * The length of a member name of an object: jansson 2.14 lets a program
 * build names with embedded NULs (json_object_setn), which the protocol
 * forbids; strlen() would not see them.
 */
static size_t
codec_key_len(const char *key)
{

#if JANSSON_VERSION_HEX >= 0x020e00
	return (json_object_iter_key_len(json_object_key_to_iter(key)));
#else
	return (strlen(key));
#endif
}

static int
codec_str_ok(const char *s, size_t len)
{

	return (memchr(s, '\0', len) == NULL && msg_utf8_valid(s, len));
}

/*
 * Step 4: every container at most MSG_MAX_DEPTH deep (v is at depth), every
 * integer within MSG_INT_MAX.  With strings set, also every string and key
 * UTF-8 without NUL: decoded trees are so already, trees handed to an
 * encoder need not be.  Recursion stops at MSG_MAX_DEPTH + 1 levels.
 */
static int
codec_walk(json_t *v, int depth, struct codec_path *path, int strings,
    struct codec_error *err)
{
	char where[128];
	const char *key;
	json_t *child;
	size_t i;
	int64_t n;

	switch (json_typeof(v)) {
	case JSON_OBJECT:
	case JSON_ARRAY:
		if (depth > MSG_MAX_DEPTH) {
			codec_path_format(path, where, sizeof(where));
			codec_seterr(err, MSG_ERR_BAD_REQUEST,
			    "%s: nesting deeper than %d levels", where,
			    MSG_MAX_DEPTH);
			return (-1);
		}
		path->n++;
		if (json_is_array(v)) {
			path->key[path->n - 1] = NULL;
			json_array_foreach(v, i, child) {
				path->index[path->n - 1] = i;
				if (codec_walk(child, depth + 1, path, strings,
				    err) == -1)
					return (-1);
			}
		} else {
			json_object_foreach(v, key, child) {
				path->key[path->n - 1] = key;
				if (strings &&
				    !codec_str_ok(key, codec_key_len(key))) {
					codec_seterr(err, MSG_ERR_BAD_REQUEST,
					    "member name is not UTF-8");
					return (-1);
				}
				if (codec_walk(child, depth + 1, path, strings,
				    err) == -1)
					return (-1);
			}
		}
		path->n--;
		return (0);
	case JSON_INTEGER:
		n = (int64_t)json_integer_value(v);
		if (!msg_int_valid(n)) {
			codec_path_format(path, where, sizeof(where));
			codec_seterr(err, MSG_ERR_BAD_REQUEST,
			    "%s: integer out of range (magnitude at most %"
			    PRId64 ")", where, MSG_INT_MAX);
			return (-1);
		}
		return (0);
	case JSON_STRING:
		if (strings && !codec_str_ok(json_string_value(v),
		    json_string_length(v))) {
			codec_path_format(path, where, sizeof(where));
			codec_seterr(err, MSG_ERR_BAD_REQUEST,
			    "%s: string is not UTF-8 without NUL", where);
			return (-1);
		}
		return (0);
	default:
		return (0);
	}
}

static int
codec_walk_root(json_t *root, int strings, struct codec_error *err)
{
	struct codec_path path;

	path.n = 0;
	return (codec_walk(root, 1, &path, strings, err));
}

/* ---------------------------------------------------------------------- */
/* Fields                                                                 */

/*
 * Field getters.  obj is the object holding the field, prefix what goes
 * before its name in messages ("" at the top, "error." or "entries[3]."
 * further down), name the member.  Each returns 0 or -1 with err set.
 */

static int
codec_get(json_t *obj, const char *prefix, const char *name, int required,
    json_t **v, struct codec_error *err)
{

	*v = json_object_get(obj, name);
	if (*v == NULL && required) {
		codec_seterr(err, MSG_ERR_BAD_REQUEST,
		    "%s%s: required field is missing", prefix, name);
		return (-1);
	}
	return (0);
}

static int
codec_get_str(json_t *obj, const char *prefix, const char *name,
    int required, const char **s, size_t *len, struct codec_error *err)
{
	json_t *v;

	*s = NULL;
	*len = 0;
	if (codec_get(obj, prefix, name, required, &v, err) == -1)
		return (-1);
	if (v == NULL)
		return (0);
	if (!json_is_string(v)) {
		codec_seterr(err, MSG_ERR_BAD_REQUEST,
		    "%s%s: must be a string, found %s", prefix, name,
		    codec_type_desc(v));
		return (-1);
	}
	*s = json_string_value(v);
	*len = json_string_length(v);
	return (0);
}

/*
 * An integer field in [min, max]; expected says what it must be, for the
 * wrong-type message.  *present says whether it was there (if not required).
 */
static int
codec_get_int(json_t *obj, const char *prefix, const char *name,
    int required, const char *expected, int64_t min, int64_t max,
    int64_t *n, int *present, struct codec_error *err)
{
	json_t *v;

	*n = 0;
	if (present != NULL)
		*present = 0;
	if (codec_get(obj, prefix, name, required, &v, err) == -1)
		return (-1);
	if (v == NULL)
		return (0);
	if (!json_is_integer(v)) {
		codec_seterr(err, MSG_ERR_BAD_REQUEST,
		    "%s%s: must be %s, found %s", prefix, name, expected,
		    codec_type_desc(v));
		return (-1);
	}
	*n = (int64_t)json_integer_value(v);
	if (*n < min || *n > max) {
		if (max == MSG_INT_MAX && min == 1)
			codec_seterr(err, MSG_ERR_BAD_REQUEST,
			    "%s%s: must be a positive integer, found %" PRId64,
			    prefix, name, *n);
		else
			codec_seterr(err, MSG_ERR_BAD_REQUEST,
			    "%s%s: must be between %" PRId64 " and %" PRId64
			    ", found %" PRId64, prefix, name, min, max, *n);
		return (-1);
	}
	if (present != NULL)
		*present = 1;
	return (0);
}

static int
codec_get_money(json_t *obj, const char *prefix, const char *name,
    int64_t *n, struct codec_error *err)
{

	return (codec_get_int(obj, prefix, name, 1,
	    "an integer count of minor units", -MSG_INT_MAX, MSG_INT_MAX, n,
	    NULL, err));
}

static int
codec_get_positive(json_t *obj, const char *prefix, const char *name,
    int required, int64_t *n, struct codec_error *err)
{

	return (codec_get_int(obj, prefix, name, required, "an integer", 1,
	    MSG_INT_MAX, n, NULL, err));
}

static int
codec_get_account(json_t *obj, const char *prefix, const char *name,
    char *dst, struct codec_error *err)
{
	const char *s;
	size_t len;

	if (codec_get_str(obj, prefix, name, 1, &s, &len, err) == -1)
		return (-1);
	if (!msg_account_valid(s, len)) {
		codec_seterr(err, MSG_ERR_BAD_REQUEST,
		    "%s%s: must be 1 to %d characters of A-Z a-z 0-9 . _ @ -",
		    prefix, name, MSG_ACCOUNT_MAX);
		return (-1);
	}
	memcpy(dst, s, len + 1);
	return (0);
}

static int
codec_get_currency(json_t *obj, const char *prefix, const char *name,
    char *dst, struct codec_error *err)
{
	const char *s;
	size_t len;

	if (codec_get_str(obj, prefix, name, 1, &s, &len, err) == -1)
		return (-1);
	if (!msg_currency_valid(s, len)) {
		codec_seterr(err, MSG_ERR_BAD_REQUEST,
		    "%s%s: must be %d letters A-Z", prefix, name,
		    MSG_CURRENCY_LEN);
		return (-1);
	}
	memcpy(dst, s, len + 1);
	return (0);
}

/* Optional; absent and "" both give "". */
static int
codec_get_memo(json_t *obj, const char *prefix, const char *name, char *dst,
    struct codec_error *err)
{
	const char *s;
	size_t len;

	dst[0] = '\0';
	if (codec_get_str(obj, prefix, name, 0, &s, &len, err) == -1)
		return (-1);
	if (s == NULL)
		return (0);
	if (len > MSG_MEMO_MAX) {
		codec_seterr(err, MSG_ERR_BAD_REQUEST,
		    "%s%s: must be at most %d bytes, found %zu", prefix, name,
		    MSG_MEMO_MAX, len);
		return (-1);
	}
	if (!msg_memo_valid(s, len)) {
		codec_seterr(err, MSG_ERR_BAD_REQUEST,
		    "%s%s: must not contain control characters", prefix, name);
		return (-1);
	}
	memcpy(dst, s, len + 1);
	return (0);
}

/*
 * Refuse any member of obj not in allowed (NULL-terminated), naming it.
 * The message ends with where1, where2 and where3 ("for op ", "login", ""
 * or "in a ", "balance", " reply"), joined only when it is needed.
 */
static int
codec_check_members(json_t *obj, const char *const *allowed,
    const char *prefix, const char *where1, const char *where2,
    const char *where3, struct codec_error *err)
{
	char q[CODEC_KEY_QUOTE_MAX + 4];
	const char *key;
	json_t *v;
	size_t i;

	json_object_foreach(obj, key, v) {
		for (i = 0; allowed[i] != NULL; i++)
			if (strcmp(allowed[i], key) == 0)
				break;
		if (allowed[i] == NULL) {
			codec_quote_key(q, sizeof(q), key);
			codec_seterr(err, MSG_ERR_BAD_REQUEST,
			    "%s%s: unknown field %s%s%s", prefix, q, where1,
			    where2, where3);
			return (-1);
		}
	}
	return (0);
}

/*
 * An id value: null (if allow_null), an integer within MSG_INT_MAX, or a
 * string of 1..64 printable ASCII characters.
 */
static int
codec_decode_id(json_t *v, int allow_null, struct msg_id *id,
    struct codec_error *err)
{
	const char *s;
	size_t len;
	int64_t n;

	memset(id, 0, sizeof(*id));
	if (json_is_null(v) && allow_null)
		return (0);
	if (json_is_integer(v)) {
		n = (int64_t)json_integer_value(v);
		if (!msg_int_valid(n)) {
			codec_seterr(err, MSG_ERR_BAD_REQUEST,
			    "id: integer out of range (magnitude at most %"
			    PRId64 ")", MSG_INT_MAX);
			return (-1);
		}
		id->kind = MSG_ID_INT;
		id->num = n;
		return (0);
	}
	if (json_is_string(v)) {
		s = json_string_value(v);
		len = json_string_length(v);
		if (!msg_id_str_valid(s, len)) {
			codec_seterr(err, MSG_ERR_BAD_REQUEST,
			    "id: must be 1 to %d printable ASCII characters",
			    MSG_ID_STR_MAX);
			return (-1);
		}
		memcpy(id->str, s, len + 1);
		id->kind = MSG_ID_STR;
		return (0);
	}
	codec_seterr(err, MSG_ERR_BAD_REQUEST,
	    "id: must be an integer or a string, found %s",
	    codec_type_desc(v));
	return (-1);
}

/* ---------------------------------------------------------------------- */
/* Requests                                                               */

static const char *const codec_req_plain[] = { "id", "op", NULL };
static const char *const codec_req_login[] = {
	"id", "op", "account", "password", NULL
};
static const char *const codec_req_transfer[] = {
	"id", "op", "to", "amount", "idempotency_key", "memo", NULL
};
static const char *const codec_req_history[] = {
	"id", "op", "limit", "before", NULL
};

static int
codec_req_fields(json_t *root, struct msg_request *req,
    struct codec_error *err)
{
	const char *const *allowed;
	const char *s;
	size_t len;
	int64_t n;
	int present;

	switch (req->op) {
	case MSG_OP_LOGIN:
		allowed = codec_req_login;
		break;
	case MSG_OP_TRANSFER:
		allowed = codec_req_transfer;
		break;
	case MSG_OP_HISTORY:
		allowed = codec_req_history;
		break;
	default:
		allowed = codec_req_plain;
		break;
	}
	if (codec_check_members(root, allowed, "", "for op ", req->op_name, "",
	    err) == -1)
		return (-1);

	switch (req->op) {
	case MSG_OP_LOGIN:
		if (codec_get_account(root, "", "account",
		    req->u.login.account, err) == -1)
			return (-1);
		/* Absent for a certificate login (auth.methods). */
		if (codec_get_str(root, "", "password", 0, &s, &len,
		    err) == -1)
			return (-1);
		if (s == NULL)
			break;
		if (len < 1 || len > MSG_PASSWORD_MAX) {
			codec_seterr(err, MSG_ERR_BAD_REQUEST,
			    "password: must be 1 to %d bytes, found %zu",
			    MSG_PASSWORD_MAX, len);
			return (-1);
		}
		memcpy(req->u.login.password, s, len + 1);
		req->u.login.password_len = len;
		break;
	case MSG_OP_TRANSFER:
		if (codec_get_account(root, "", "to", req->u.transfer.to,
		    err) == -1)
			return (-1);
		if (codec_get_money(root, "", "amount",
		    &req->u.transfer.amount, err) == -1)
			return (-1);
		if (codec_get_str(root, "", "idempotency_key", 1, &s, &len,
		    err) == -1)
			return (-1);
		if (!msg_idem_key_valid(s, len)) {
			codec_seterr(err, MSG_ERR_BAD_REQUEST,
			    "idempotency_key: must be 1 to %d characters of "
			    "A-Z a-z 0-9 . _ : -", MSG_IDEM_KEY_MAX);
			return (-1);
		}
		memcpy(req->u.transfer.idempotency_key, s, len + 1);
		if (codec_get_memo(root, "", "memo", req->u.transfer.memo,
		    err) == -1)
			return (-1);
		break;
	case MSG_OP_HISTORY:
		if (codec_get_int(root, "", "limit", 0, "an integer", 1,
		    MSG_HISTORY_LIMIT_MAX, &n, &present, err) == -1)
			return (-1);
		req->u.history.limit = present ? (unsigned int)n : 0;
		if (codec_get_positive(root, "", "before", 0,
		    &req->u.history.before, err) == -1)
			return (-1);
		break;
	default:
		break;
	}
	return (0);
}

/*
 * The fast path.  Most traffic is requests of the exact canonical form
 * {"id":N,"op":"balance"} (ping, logout, balance, history without fields;
 * the id absent, an integer or a plain string).  Those are recognised here
 * without jansson, for a fraction of the cost.  Anything else, including
 * every line with an error, returns -1 and goes the full way, which would
 * give the same result for the lines accepted here; the fuzzer checks that
 * by decoding each accepted line again with a trailing space.
 */
static int
codec_decode_fast(const char *line, size_t len, struct msg_request *req)
{
	const char *p = line, *end = line + len, *q;
	int64_t v = 0;
	size_t n;
	int neg;

	if (len < 12 || *p++ != '{')
		return (-1);
	if (end - p > 6 && memcmp(p, "\"id\":", 5) == 0) {
		p += 5;
		if (*p == '"') {
			for (q = ++p; q < end && *q != '"' && *q != '\\' &&
			    *q >= 0x20 && *q <= 0x7e; q++)
				;
			n = (size_t)(q - p);
			if (q == end || *q != '"' || n < 1 ||
			    n > MSG_ID_STR_MAX)
				return (-1);
			memcpy(req->id.str, p, n);
			req->id.str[n] = '\0';
			req->id.kind = MSG_ID_STR;
			p = q + 1;
		} else {
			if ((neg = *p == '-'))
				p++;
			/* JSON: no leading zeros. */
			if (p == end || *p < '0' || *p > '9' || (*p == '0' &&
			    p + 1 < end && p[1] >= '0' && p[1] <= '9'))
				return (-1);
			for (; p < end && *p >= '0' && *p <= '9'; p++)
				if ((v = v * 10 + (*p - '0')) > MSG_INT_MAX)
					return (-1);
			req->id.num = neg ? -v : v;
			req->id.kind = MSG_ID_INT;
		}
		if (p == end || *p++ != ',')
			return (-1);
	}
	if (end - p < 9 || memcmp(p, "\"op\":\"", 6) != 0)
		return (-1);
	p += 6;
	for (q = p; q < end && ((*q >= 'a' && *q <= 'z') ||
	    (*q >= '0' && *q <= '9') || *q == '_'); q++)
		;
	n = (size_t)(q - p);
	if (end - q != 2 || q[0] != '"' || q[1] != '}')
		return (-1);
	switch (req->op = msg_op_from_name(p, n)) {
	case MSG_OP_PING:
	case MSG_OP_LOGOUT:
	case MSG_OP_BALANCE:
	case MSG_OP_HISTORY:
		memcpy(req->op_name, p, n);
		req->op_name[n] = '\0';
		return (0);
	default:
		return (-1);
	}
}

int
codec_decode_request(const char *line, size_t len, struct msg_request *req,
    struct codec_error *err)
{
	json_t *root, *v;
	const char *name;
	size_t namelen;

	msg_request_init(req);
	if (codec_decode_fast(line, len, req) == 0)
		return (0);
	msg_request_init(req);
	if ((root = codec_parse(line, len, "request", err)) == NULL)
		return (-1);

	if ((v = json_object_get(root, "id")) != NULL &&
	    codec_decode_id(v, 0, &req->id, err) == -1)
		goto err1;
	err->id = req->id;

	if (codec_walk_root(root, 0, err) == -1)
		goto err1;

	if (codec_get_str(root, "", "op", 1, &name, &namelen, err) == -1)
		goto err1;
	if ((req->op = msg_op_from_name(name, namelen)) == MSG_OP_NONE) {
		codec_seterr(err, MSG_ERR_BAD_REQUEST,
		    "op: not a valid op name (1 to %d characters of a-z 0-9 _)",
		    MSG_OP_NAME_MAX);
		goto err1;
	}
	memcpy(req->op_name, name, namelen + 1);

	if (req->op == MSG_OP_EXT) {
		/* The rest of the object is the handler's arguments. */
		json_object_del(root, "id");
		json_object_del(root, "op");
		req->args = root;
		return (0);
	}
	if (codec_req_fields(root, req, err) == -1)
		goto err1;
	json_decref(root);
	return (0);

err1:
	json_decref(root);
	msg_request_clear(req);
	return (-1);
}

/* A JSON object handed to an encoder: object, valid, without reserved keys. */
static int
codec_ext_ok(json_t *obj, const char *const *reserved)
{
	struct codec_error scratch;
	size_t i;

	if (obj == NULL)
		return (1);
	if (!json_is_object(obj))
		return (0);
	for (i = 0; reserved[i] != NULL; i++)
		if (json_object_get(obj, reserved[i]) != NULL)
			return (0);
	return (codec_walk_root(obj, 1, &scratch) == 0);
}

int
codec_encode_request(struct codec_buf *b, const struct msg_request *req)
{
	static const char *const reserved[] = { "id", "op", NULL };
	const struct msg_login *l = &req->u.login;
	const struct msg_transfer *t = &req->u.transfer;
	const struct msg_history *h = &req->u.history;
	struct codec_out o;
	const char *name;

	codec_out_begin(&o, b, MSG_MAX_MESSAGE_MAX);
	if (req->op == MSG_OP_EXT)
		name = req->op_name;
	else
		name = msg_op_name(req->op);
	if (name == NULL || msg_op_from_name(name, strnlen(name,
	    MSG_OP_NAME_MAX + 1)) != req->op)
		codec_out_fail(&o, EINVAL);

	codec_put(&o, "{", 1);
	if (req->id.kind != MSG_ID_NONE) {
		codec_puts(&o, "\"id\":");
		codec_put_id(&o, &req->id);
		codec_put(&o, ",", 1);
	}
	codec_puts(&o, "\"op\":");
	if (o.err == 0)
		codec_put_cstr(&o, name);

	switch (req->op) {
	case MSG_OP_PING:
	case MSG_OP_LOGOUT:
	case MSG_OP_BALANCE:
		break;
	case MSG_OP_LOGIN:
		if (!msg_account_valid(l->account, strnlen(l->account,
		    sizeof(l->account))) ||
		    l->password_len > MSG_PASSWORD_MAX ||
		    (l->password_len > 0 &&
		    !msg_password_valid(l->password, l->password_len))) {
			codec_out_fail(&o, EINVAL);
			break;
		}
		codec_put_key(&o, "account");
		codec_put_cstr(&o, l->account);
		if (l->password_len > 0) {
			codec_put_key(&o, "password");
			codec_put_str(&o, l->password, l->password_len);
		}
		break;
	case MSG_OP_TRANSFER:
		if (!msg_account_valid(t->to, strnlen(t->to, sizeof(t->to))) ||
		    !msg_int_valid(t->amount) ||
		    !msg_idem_key_valid(t->idempotency_key,
		    strnlen(t->idempotency_key, sizeof(t->idempotency_key))) ||
		    !msg_memo_valid(t->memo, strnlen(t->memo,
		    sizeof(t->memo)))) {
			codec_out_fail(&o, EINVAL);
			break;
		}
		codec_put_key(&o, "to");
		codec_put_cstr(&o, t->to);
		codec_put_key(&o, "amount");
		codec_put_int(&o, t->amount);
		codec_put_key(&o, "idempotency_key");
		codec_put_cstr(&o, t->idempotency_key);
		if (t->memo[0] != '\0') {
			codec_put_key(&o, "memo");
			codec_put_cstr(&o, t->memo);
		}
		break;
	case MSG_OP_HISTORY:
		if (h->limit > MSG_HISTORY_LIMIT_MAX || h->before < 0 ||
		    h->before > MSG_INT_MAX) {
			codec_out_fail(&o, EINVAL);
			break;
		}
		if (h->limit != 0) {
			codec_put_key(&o, "limit");
			codec_put_int(&o, h->limit);
		}
		if (h->before != 0) {
			codec_put_key(&o, "before");
			codec_put_int(&o, h->before);
		}
		break;
	case MSG_OP_EXT:
		if (!codec_ext_ok(req->args, reserved)) {
			codec_out_fail(&o, EINVAL);
			break;
		}
		if (req->args != NULL)
			codec_put_members(&o, req->args);
		break;
	default:
		codec_out_fail(&o, EINVAL);
		break;
	}
	codec_put(&o, "}", 1);
	return (codec_out_end(&o));
}

/* ---------------------------------------------------------------------- */
/* Replies                                                                */

static const char *const codec_rep_plain[] = { "id", "ok", NULL };
static const char *const codec_rep_login[] = { "id", "ok", "account", NULL };
static const char *const codec_rep_balance[] = {
	"id", "ok", "account", "balance", "currency", NULL
};
static const char *const codec_rep_transfer[] = {
	"id", "ok", "transfer_id", "balance", "currency", NULL
};
static const char *const codec_rep_history[] = {
	"id", "ok", "currency", "entries", "next_before", NULL
};
static const char *const codec_rep_error[] = { "id", "ok", "error", NULL };
static const char *const codec_error_members[] = {
	"code", "message", "retry_after", NULL
};
static const char *const codec_entry_members[] = {
	"transfer_id", "time", "counterparty", "amount", "balance", "memo", NULL
};

static int
codec_rep_error_fields(json_t *root, struct msg_reply *rep,
    struct codec_error *err)
{
	const char *s;
	size_t len;
	json_t *eo;

	if (codec_check_members(root, codec_rep_error, "",
	    "in an error reply", "", "", err) == -1)
		return (-1);
	if (codec_get(root, "", "error", 1, &eo, err) == -1)
		return (-1);
	if (!json_is_object(eo)) {
		codec_seterr(err, MSG_ERR_BAD_REQUEST,
		    "error: must be an object, found %s", codec_type_desc(eo));
		return (-1);
	}
	if (codec_check_members(eo, codec_error_members, "error.",
	    "in the error object", "", "", err) == -1)
		return (-1);
	if (codec_get_str(eo, "error.", "code", 1, &s, &len, err) == -1)
		return (-1);
	if (msg_err_from_name(s, len, &rep->error.code) == -1) {
		codec_seterr(err, MSG_ERR_BAD_REQUEST,
		    "error.code: not an error code of protocol v1");
		return (-1);
	}
	if (codec_get_str(eo, "error.", "message", 1, &s, &len, err) == -1)
		return (-1);
	if (!msg_error_message_valid(s, len)) {
		codec_seterr(err, MSG_ERR_BAD_REQUEST,
		    "error.message: must be at most %d bytes without control "
		    "characters", MSG_ERROR_MESSAGE_MAX);
		return (-1);
	}
	memcpy(rep->error.message, s, len + 1);
	return (codec_get_positive(eo, "error.", "retry_after", 0,
	    &rep->error.retry_after, err));
}

static int
codec_entry_fields(json_t *eo, size_t i, struct msg_history_entry *e,
    struct codec_error *err)
{
	char prefix[32];
	const char *s;
	size_t len;

	snprintf(prefix, sizeof(prefix), "entries[%zu].", i);
	if (!json_is_object(eo)) {
		codec_seterr(err, MSG_ERR_BAD_REQUEST,
		    "entries[%zu]: must be an object, found %s", i,
		    codec_type_desc(eo));
		return (-1);
	}
	if (codec_check_members(eo, codec_entry_members, prefix,
	    "in a history entry", "", "", err) == -1)
		return (-1);
	if (codec_get_positive(eo, prefix, "transfer_id", 1, &e->transfer_id,
	    err) == -1)
		return (-1);
	if (codec_get_str(eo, prefix, "time", 1, &s, &len, err) == -1)
		return (-1);
	if (msg_time_parse(s, len, &e->time) == -1) {
		codec_seterr(err, MSG_ERR_BAD_REQUEST,
		    "%stime: must be a UTC time like 2026-11-24T03:06:39Z",
		    prefix);
		return (-1);
	}
	if (codec_get_account(eo, prefix, "counterparty", e->counterparty,
	    err) == -1)
		return (-1);
	if (codec_get_money(eo, prefix, "amount", &e->amount, err) == -1)
		return (-1);
	if (codec_get_money(eo, prefix, "balance", &e->balance, err) == -1)
		return (-1);
	return (codec_get_memo(eo, prefix, "memo", e->memo, err));
}

static int
codec_rep_history_fields(json_t *root, struct msg_reply *rep,
    struct codec_error *err)
{
	json_t *entries, *v;
	size_t i, n;

	if (codec_get_currency(root, "", "currency",
	    rep->u.history.currency, err) == -1)
		return (-1);
	if (codec_get(root, "", "entries", 1, &entries, err) == -1)
		return (-1);
	if (!json_is_array(entries)) {
		codec_seterr(err, MSG_ERR_BAD_REQUEST,
		    "entries: must be an array, found %s",
		    codec_type_desc(entries));
		return (-1);
	}
	if ((n = json_array_size(entries)) > MSG_HISTORY_LIMIT_MAX) {
		codec_seterr(err, MSG_ERR_BAD_REQUEST,
		    "entries: at most %d entries, found %zu",
		    MSG_HISTORY_LIMIT_MAX, n);
		return (-1);
	}
	if (msg_reply_history_alloc(rep, n) == -1) {
		codec_seterr(err, MSG_ERR_INTERNAL, "out of memory");
		return (-1);
	}
	json_array_foreach(entries, i, v) {
		if (codec_entry_fields(v, i, &rep->u.history.entries[i],
		    err) == -1)
			return (-1);
	}
	/* next_before: absent or null when there is nothing older. */
	if ((v = json_object_get(root, "next_before")) != NULL &&
	    json_is_null(v))
		return (0);
	return (codec_get_positive(root, "", "next_before", 0,
	    &rep->u.history.next_before, err));
}

static int
codec_rep_fields(json_t *root, struct msg_reply *rep, struct codec_error *err)
{
	const char *const *allowed;

	switch (rep->op) {
	case MSG_OP_NONE:
		codec_seterr(err, MSG_ERR_BAD_REQUEST,
		    "a success reply to an unknown request cannot be decoded");
		return (-1);
	case MSG_OP_EXT:
		if (json_object_get(root, "error") != NULL) {
			codec_seterr(err, MSG_ERR_BAD_REQUEST,
			    "error: not allowed in a success reply");
			return (-1);
		}
		return (0);
	case MSG_OP_LOGIN:
		allowed = codec_rep_login;
		break;
	case MSG_OP_BALANCE:
		allowed = codec_rep_balance;
		break;
	case MSG_OP_TRANSFER:
		allowed = codec_rep_transfer;
		break;
	case MSG_OP_HISTORY:
		allowed = codec_rep_history;
		break;
	default:
		allowed = codec_rep_plain;
		break;
	}
	if (codec_check_members(root, allowed, "", "in a ",
	    msg_op_name(rep->op), " reply", err) == -1)
		return (-1);

	switch (rep->op) {
	case MSG_OP_LOGIN:
		return (codec_get_account(root, "", "account",
		    rep->u.login.account, err));
	case MSG_OP_BALANCE:
		if (codec_get_account(root, "", "account",
		    rep->u.balance.account, err) == -1 ||
		    codec_get_money(root, "", "balance",
		    &rep->u.balance.balance, err) == -1)
			return (-1);
		return (codec_get_currency(root, "", "currency",
		    rep->u.balance.currency, err));
	case MSG_OP_TRANSFER:
		if (codec_get_positive(root, "", "transfer_id", 1,
		    &rep->u.transfer.transfer_id, err) == -1 ||
		    codec_get_money(root, "", "balance",
		    &rep->u.transfer.balance, err) == -1)
			return (-1);
		return (codec_get_currency(root, "", "currency",
		    rep->u.transfer.currency, err));
	case MSG_OP_HISTORY:
		return (codec_rep_history_fields(root, rep, err));
	default:
		return (0);
	}
}

/* Parse a reply and its id; the common start of both reply decoders. */
static json_t *
codec_reply_start(const char *line, size_t len, struct msg_id *id,
    struct codec_error *err)
{
	json_t *root, *v;

	if ((root = codec_parse(line, len, "reply", err)) == NULL)
		return (NULL);
	if (codec_get(root, "", "id", 1, &v, err) == -1 ||
	    codec_decode_id(v, 1, id, err) == -1) {
		json_decref(root);
		return (NULL);
	}
	err->id = *id;
	return (root);
}

int
codec_decode_reply_id(const char *line, size_t len, struct msg_id *id,
    struct codec_error *err)
{
	json_t *root;

	if ((root = codec_reply_start(line, len, id, err)) == NULL)
		return (-1);
	json_decref(root);
	return (0);
}

int
codec_decode_reply(const char *line, size_t len, enum msg_op op,
    struct msg_reply *rep, struct codec_error *err)
{
	json_t *root, *ok;

	msg_reply_init(rep, NULL, op);
	if ((unsigned int)op > MSG_OP_EXT) {
		codec_err_init(err);
		codec_seterr(err, MSG_ERR_INTERNAL, "no such op: %d", (int)op);
		goto err0;
	}
	if ((root = codec_reply_start(line, len, &rep->id, err)) == NULL)
		goto err0;
	if (codec_walk_root(root, 0, err) == -1)
		goto err1;
	if (codec_get(root, "", "ok", 1, &ok, err) == -1)
		goto err1;
	if (!json_is_boolean(ok)) {
		codec_seterr(err, MSG_ERR_BAD_REQUEST,
		    "ok: must be a boolean, found %s", codec_type_desc(ok));
		goto err1;
	}
	if (json_is_false(ok)) {
		if (codec_rep_error_fields(root, rep, err) == -1)
			goto err1;
	} else {
		if (codec_rep_fields(root, rep, err) == -1)
			goto err1;
		if (op == MSG_OP_EXT) {
			json_object_del(root, "id");
			json_object_del(root, "ok");
			rep->fields = root;
			return (0);
		}
	}
	json_decref(root);
	return (0);

err1:
	json_decref(root);
err0:
	msg_reply_clear(rep);
	return (-1);
}

/* "ok":false,"error":{...}; message sanitized, never refused. */
static void
codec_put_error_body(struct codec_out *o, enum msg_err code,
    const char *message, int64_t retry_after)
{
	char clean[MSG_ERROR_MESSAGE_MAX + 1];
	const char *name;

	if ((name = msg_err_name(code)) == NULL || retry_after < 0 ||
	    retry_after > MSG_INT_MAX) {
		codec_out_fail(o, EINVAL);
		return;
	}
	codec_sanitize(clean, message != NULL ? message : "");
	codec_puts(o, ",\"ok\":false,\"error\":{\"code\":");
	codec_put_cstr(o, name);
	codec_put_key(o, "message");
	codec_put_cstr(o, clean);
	if (retry_after > 0) {
		codec_put_key(o, "retry_after");
		codec_put_int(o, retry_after);
	}
	codec_put(o, "}", 1);
}

static int
codec_entry_ok(const struct msg_history_entry *e)
{

	return (e->transfer_id >= 1 && e->transfer_id <= MSG_INT_MAX &&
	    e->time >= 0 && e->time <= MSG_TIME_MAX &&
	    msg_account_valid(e->counterparty, strnlen(e->counterparty,
	    sizeof(e->counterparty))) &&
	    msg_int_valid(e->amount) && msg_int_valid(e->balance) &&
	    msg_memo_valid(e->memo, strnlen(e->memo, sizeof(e->memo))));
}

static void
codec_put_entry(struct codec_out *o, const struct msg_history_entry *e)
{
	char t[MSG_TIME_LEN + 1];

	if (!codec_entry_ok(e) || msg_time_format(e->time, t) == -1) {
		codec_out_fail(o, EINVAL);
		return;
	}
	codec_puts(o, "{\"transfer_id\":");
	codec_put_int(o, e->transfer_id);
	codec_put_key(o, "time");
	codec_put_cstr(o, t);
	codec_put_key(o, "counterparty");
	codec_put_cstr(o, e->counterparty);
	codec_put_key(o, "amount");
	codec_put_int(o, e->amount);
	codec_put_key(o, "balance");
	codec_put_int(o, e->balance);
	if (e->memo[0] != '\0') {
		codec_put_key(o, "memo");
		codec_put_cstr(o, e->memo);
	}
	codec_put(o, "}", 1);
}

#define CODEC_FIELD_OK(f, valid)	((valid)((f), strnlen((f), sizeof(f))))

static void
codec_put_success(struct codec_out *o, const struct msg_reply *rep)
{
	static const char *const reserved[] = { "id", "ok", "error", NULL };
	size_t i;

	codec_puts(o, ",\"ok\":true");
	switch (rep->op) {
	case MSG_OP_PING:
	case MSG_OP_LOGOUT:
		break;
	case MSG_OP_LOGIN:
		if (!CODEC_FIELD_OK(rep->u.login.account, msg_account_valid)) {
			codec_out_fail(o, EINVAL);
			break;
		}
		codec_put_key(o, "account");
		codec_put_cstr(o, rep->u.login.account);
		break;
	case MSG_OP_BALANCE:
		if (!CODEC_FIELD_OK(rep->u.balance.account,
		    msg_account_valid) ||
		    !msg_int_valid(rep->u.balance.balance) ||
		    !CODEC_FIELD_OK(rep->u.balance.currency,
		    msg_currency_valid)) {
			codec_out_fail(o, EINVAL);
			break;
		}
		codec_put_key(o, "account");
		codec_put_cstr(o, rep->u.balance.account);
		codec_put_key(o, "balance");
		codec_put_int(o, rep->u.balance.balance);
		codec_put_key(o, "currency");
		codec_put_cstr(o, rep->u.balance.currency);
		break;
	case MSG_OP_TRANSFER:
		if (rep->u.transfer.transfer_id < 1 ||
		    rep->u.transfer.transfer_id > MSG_INT_MAX ||
		    !msg_int_valid(rep->u.transfer.balance) ||
		    !CODEC_FIELD_OK(rep->u.transfer.currency,
		    msg_currency_valid)) {
			codec_out_fail(o, EINVAL);
			break;
		}
		codec_put_key(o, "transfer_id");
		codec_put_int(o, rep->u.transfer.transfer_id);
		codec_put_key(o, "balance");
		codec_put_int(o, rep->u.transfer.balance);
		codec_put_key(o, "currency");
		codec_put_cstr(o, rep->u.transfer.currency);
		break;
	case MSG_OP_HISTORY:
		if (!CODEC_FIELD_OK(rep->u.history.currency,
		    msg_currency_valid) ||
		    rep->u.history.nentries > MSG_HISTORY_LIMIT_MAX ||
		    (rep->u.history.nentries > 0 &&
		    rep->u.history.entries == NULL) ||
		    rep->u.history.next_before < 0 ||
		    rep->u.history.next_before > MSG_INT_MAX) {
			codec_out_fail(o, EINVAL);
			break;
		}
		codec_put_key(o, "currency");
		codec_put_cstr(o, rep->u.history.currency);
		codec_put_key(o, "entries");
		codec_put(o, "[", 1);
		for (i = 0; i < rep->u.history.nentries; i++) {
			if (i > 0)
				codec_put(o, ",", 1);
			codec_put_entry(o, &rep->u.history.entries[i]);
		}
		codec_put(o, "]", 1);
		if (rep->u.history.next_before != 0) {
			codec_put_key(o, "next_before");
			codec_put_int(o, rep->u.history.next_before);
		}
		break;
	case MSG_OP_EXT:
		if (!codec_ext_ok(rep->fields, reserved)) {
			codec_out_fail(o, EINVAL);
			break;
		}
		if (rep->fields != NULL)
			codec_put_members(o, rep->fields);
		break;
	default:
		codec_out_fail(o, EINVAL);
		break;
	}
}

int
codec_encode_reply(struct codec_buf *b, const struct msg_reply *rep)
{
	struct codec_out o;

	codec_out_begin(&o, b, MSG_REPLY_MAX_BYTES);
	codec_puts(&o, "{\"id\":");
	codec_put_id(&o, &rep->id);
	if (rep->error.code != MSG_ERR_NONE)
		codec_put_error_body(&o, rep->error.code, rep->error.message,
		    rep->error.retry_after);
	else
		codec_put_success(&o, rep);
	codec_put(&o, "}", 1);
	return (codec_out_end(&o));
}

int
codec_encode_error(struct codec_buf *b, const struct msg_id *id,
    enum msg_err code, const char *message)
{
	struct codec_out o;

	codec_out_begin(&o, b, MSG_REPLY_MAX_BYTES);
	codec_puts(&o, "{\"id\":");
	codec_put_id(&o, id);
	codec_put_error_body(&o, code, message, 0);
	codec_put(&o, "}", 1);
	return (codec_out_end(&o));
}

/* ---------------------------------------------------------------------- */
/* Greeting                                                               */

static int
codec_hello_ok(const struct msg_hello *h)
{
	size_t i, j;

	if (!CODEC_FIELD_OK(h->server, msg_server_name_valid) ||
	    h->version < 1 || h->version > MSG_INT_MAX ||
	    h->nops > MSG_HELLO_OPS_MAX ||
	    h->max_message_bytes < MSG_MAX_MESSAGE_MIN ||
	    h->max_message_bytes > MSG_MAX_MESSAGE_MAX)
		return (0);
	for (i = 0; i < h->nops; i++) {
		if (!CODEC_FIELD_OK(h->ops[i], msg_op_name_valid))
			return (0);
		for (j = 0; j < i; j++)
			if (strcmp(h->ops[i], h->ops[j]) == 0)
				return (0);
	}
	return (1);
}

int
codec_encode_hello(struct codec_buf *b, const struct msg_hello *h)
{
	struct codec_out o;
	size_t i;

	codec_out_begin(&o, b, MSG_REPLY_MAX_BYTES);
	if (!codec_hello_ok(h))
		codec_out_fail(&o, EINVAL);
	codec_puts(&o, "{\"type\":\"hello\",\"server\":");
	codec_put_cstr(&o, h->server);
	codec_put_key(&o, "version");
	codec_put_int(&o, h->version);
	codec_put_key(&o, "ops");
	codec_put(&o, "[", 1);
	for (i = 0; i < h->nops && i < MSG_HELLO_OPS_MAX; i++) {
		if (i > 0)
			codec_put(&o, ",", 1);
		codec_put_cstr(&o, h->ops[i]);
	}
	codec_put(&o, "]", 1);
	codec_put_key(&o, "max_message_bytes");
	codec_put_int(&o, h->max_message_bytes);
	codec_put(&o, "}", 1);
	return (codec_out_end(&o));
}

static int
codec_hello_fields(json_t *root, struct msg_hello *h, struct codec_error *err)
{
	const char *s;
	size_t len, i, j;
	json_t *ops, *v;

	if (codec_get_str(root, "", "type", 1, &s, &len, err) == -1)
		return (-1);
	if (len != 5 || memcmp(s, "hello", 5) != 0) {
		codec_seterr(err, MSG_ERR_BAD_REQUEST,
		    "type: must be \"hello\"");
		return (-1);
	}
	if (codec_get_str(root, "", "server", 1, &s, &len, err) == -1)
		return (-1);
	if (!msg_server_name_valid(s, len)) {
		codec_seterr(err, MSG_ERR_BAD_REQUEST,
		    "server: must be 1 to %d characters of A-Z a-z 0-9 . _ -",
		    MSG_SERVER_NAME_MAX);
		return (-1);
	}
	memcpy(h->server, s, len + 1);
	if (codec_get_positive(root, "", "version", 1, &h->version,
	    err) == -1)
		return (-1);
	if (codec_get(root, "", "ops", 1, &ops, err) == -1)
		return (-1);
	if (!json_is_array(ops)) {
		codec_seterr(err, MSG_ERR_BAD_REQUEST,
		    "ops: must be an array, found %s", codec_type_desc(ops));
		return (-1);
	}
	if (json_array_size(ops) > MSG_HELLO_OPS_MAX) {
		codec_seterr(err, MSG_ERR_BAD_REQUEST,
		    "ops: at most %d ops, found %zu", MSG_HELLO_OPS_MAX,
		    json_array_size(ops));
		return (-1);
	}
	json_array_foreach(ops, i, v) {
		if (!json_is_string(v) || !msg_op_name_valid(
		    json_string_value(v), json_string_length(v))) {
			codec_seterr(err, MSG_ERR_BAD_REQUEST,
			    "ops[%zu]: must be an op name", i);
			return (-1);
		}
		for (j = 0; j < i; j++) {
			if (strcmp(h->ops[j], json_string_value(v)) == 0) {
				codec_seterr(err, MSG_ERR_BAD_REQUEST,
				    "ops[%zu]: listed twice", i);
				return (-1);
			}
		}
		memcpy(h->ops[i], json_string_value(v),
		    json_string_length(v) + 1);
		h->nops = i + 1;
	}
	return (codec_get_int(root, "", "max_message_bytes", 1, "an integer",
	    MSG_MAX_MESSAGE_MIN, MSG_MAX_MESSAGE_MAX, &h->max_message_bytes,
	    NULL, err));
}

int
codec_decode_hello(const char *line, size_t len, struct msg_hello *h,
    struct codec_error *err)
{
	json_t *root;
	int rc;

	memset(h, 0, sizeof(*h));
	if ((root = codec_parse(line, len, "greeting", err)) == NULL)
		return (-1);
	if ((rc = codec_walk_root(root, 0, err)) == 0)
		rc = codec_hello_fields(root, h, err);
	json_decref(root);
	if (rc == -1)
		memset(h, 0, sizeof(*h));
	return (rc);
}
