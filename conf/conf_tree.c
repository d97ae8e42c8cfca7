/*
 * conf_tree.c: turn the libyaml event stream into a tree the schema walker
 * can look at twice (duplicate keys, cross-field rules) with the position
 * of every node kept for messages.
 *
 * libyaml's own document API would do the loading, but it expands nothing
 * and bounds nothing: the limits that make a hostile file harmless live
 * here, checked as each event arrives so that parsing stops at the first
 * one crossed.  Aliases are refused rather than counted: secd.yaml has no
 * use for them, and a parser that never follows one cannot be made to
 * expand a billion of them.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#include "conf.h"
#include "conf_tree.h"

/* Longest piece of user text repeated in a message, in bytes. */
#define CONF_QUOTE_MAX	60

struct conf_build {
	const char		*name;
	const unsigned char	*buf;
	size_t			 len;
	struct conf_diag	*diag;
	struct conf_tree	*t;
	struct conf_node	*stack[CONF_MAX_DEPTH];
	size_t			 depth;
	unsigned int		 ndocs;
};

char *
conf_tree_quote(char *buf, size_t size, const char *s, size_t len)
{
	size_t i, o, cut;
	unsigned char ch;
	int n;

	/* Cut long text on a UTF-8 character boundary. */
	cut = len;
	if (cut > CONF_QUOTE_MAX) {
		cut = CONF_QUOTE_MAX;
		while (cut > 0 && ((unsigned char)s[cut] & 0xc0) == 0x80)
			cut--;
	}

	/* Keep room for "..." and the terminating NUL. */
	for (i = o = 0; i < cut && o + 4 + 4 < size; i++) {
		ch = (unsigned char)s[i];
		if (ch == '\n')
			n = snprintf(buf + o, size - o, "\\n");
		else if (ch == '\t')
			n = snprintf(buf + o, size - o, "\\t");
		else if (ch == '\r')
			n = snprintf(buf + o, size - o, "\\r");
		else if (ch == '\'' || ch == '\\')
			n = snprintf(buf + o, size - o, "\\%c", ch);
		else if (ch < 0x20 || ch == 0x7f)
			n = snprintf(buf + o, size - o, "\\x%02x", ch);
		else {
			buf[o] = (char)ch;
			n = 1;
		}
		if (n < 0 || (size_t)n >= size - o - 4)
			break;
		o += (size_t)n;
	}
	if (i < len)
		o += (size_t)snprintf(buf + o, size - o, "...");
	buf[o] = '\0';
	return (buf);
}

char *
conf_tree_describe(const struct conf_node *n, char *buf, size_t size)
{
	char q[CONF_QUOTE_MAX * 4 + 8];

	if (n->kind == CONF_NODE_MAP)
		snprintf(buf, size, "a mapping");
	else if (n->kind == CONF_NODE_SEQ)
		snprintf(buf, size, "a sequence");
	else if (n->null)
		snprintf(buf, size, "nothing");
	else if (n->len == 0)
		snprintf(buf, size, "an empty string");
	else
		snprintf(buf, size, "'%s'",
		    conf_tree_quote(q, sizeof(q), n->str, n->len));
	return (buf);
}

/*
 * Write the key path of the node about to be added, from the open
 * collections on the stack, to ${buf}: "handler.options.x", "listen[3]".
 * Each open collection but the innermost holds the next one as its last
 * child; the innermost is about to get a new child.
 */
static void
conf_build_path(const struct conf_build *b, char *buf, size_t size)
{
	char q[CONF_QUOTE_MAX * 4 + 8];
	const struct conf_node *p, *k;
	size_t i, o, next;
	int n;

	buf[0] = '\0';
	for (i = o = 0; i < b->depth && o < size; i++) {
		p = b->stack[i];
		/* Number of children before the one the path goes through. */
		next = i + 1 < b->depth ? p->nkid - 1 : p->nkid;
		if (p->kind == CONF_NODE_SEQ) {
			n = snprintf(buf + o, size - o, "[%zu]", next);
		} else if (next % 2 == 1) {
			k = p->kid[next - 1];
			if (k->kind != CONF_NODE_SCALAR)
				break;
			n = snprintf(buf + o, size - o, "%s%s",
			    o > 0 ? "." : "",
			    conf_tree_quote(q, sizeof(q), k->str, k->len));
		} else {
			break;		/* inside a key: no path */
		}
		if (n < 0)
			break;
		o += (size_t)n;
	}
	if (o >= size)
		buf[size - 1] = '\0';
}

/* Report a structural error at ${mark}, naming the key path if known. */
static void
conf_build_err(struct conf_build *b, const yaml_mark_t *mark,
    const char *what)
{
	char path[512];

	conf_build_path(b, path, sizeof(path));
	conf_diag_add(b->diag, "%s:%zu:%zu: %s%s%s", b->name, mark->line + 1,
	    mark->column + 1, path, path[0] != '\0' ? ": " : "", what);
}

/*
 * Convert libyaml's byte offset ${off} to a 1-based line and column
 * (columns count UTF-8 characters, as libyaml's marks do).
 */
static void
conf_build_offset_pos(const struct conf_build *b, size_t off,
    size_t *line, size_t *col)
{
	size_t i;

	*line = *col = 1;
	for (i = 0; i < off && i < b->len; i++) {
		if (b->buf[i] == '\n' || (b->buf[i] == '\r' &&
		    (i + 1 >= b->len || b->buf[i + 1] != '\n'))) {
			(*line)++;
			*col = 1;
		} else if ((b->buf[i] & 0xc0) != 0x80) {
			(*col)++;
		}
	}
}

/* Return the byte at 0-based ${line}, ${col} (characters), or -1. */
static int
conf_build_char_at(const struct conf_build *b, size_t line, size_t col)
{
	size_t i, l, c;

	for (i = l = c = 0; i < b->len; i++) {
		if (l == line && c == col)
			return (b->buf[i]);
		if (b->buf[i] == '\n') {
			l++;
			c = 0;
		} else if ((b->buf[i] & 0xc0) != 0x80) {
			c++;
		}
	}
	return (-1);
}

/*
 * Return true if 0-based line ${line} holds something like [::1]:7443,
 * which YAML reads as a list unless it is quoted.
 */
static bool
conf_build_line_has_ipv6(const struct conf_build *b, size_t line)
{
	const unsigned char *p = b->buf, *end = b->buf + b->len, *nl;
	const char *open, *close;
	char text[256];
	size_t l, n;

	for (l = 0; l < line && p < end; l++) {
		if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL)
			return (false);
		p = nl + 1;
	}
	if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL)
		nl = end;
	n = (size_t)(nl - p) < sizeof(text) - 1 ? (size_t)(nl - p) :
	    sizeof(text) - 1;
	memcpy(text, p, n);
	text[n] = '\0';
	return ((open = strchr(text, '[')) != NULL &&
	    (close = strstr(open, "]:")) != NULL &&
	    memchr(open, ':', (size_t)(close - open)) != NULL);
}

/* Report the error libyaml stopped at. */
static void
conf_build_yaml_err(struct conf_build *b, const yaml_parser_t *p)
{
	size_t line, col;
	const char *hint = "";

	switch (p->error) {
	case YAML_MEMORY_ERROR:
		conf_diag_add(b->diag, "%s: out of memory", b->name);
		break;
	case YAML_READER_ERROR:
		conf_build_offset_pos(b, p->problem_offset, &line, &col);
		if (p->problem_value != -1)
			conf_diag_add(b->diag,
			    "%s:%zu:%zu: invalid input: %s (code 0x%x)",
			    b->name, line, col, p->problem,
			    (unsigned int)p->problem_value);
		else
			conf_diag_add(b->diag, "%s:%zu:%zu: invalid input: %s",
			    b->name, line, col, p->problem);
		break;
	case YAML_SCANNER_ERROR:
	case YAML_PARSER_ERROR:
		if (conf_build_char_at(b, p->problem_mark.line,
		    p->problem_mark.column) == '\t' &&
		    strstr(p->problem, "tab") == NULL)
			hint = "; indent with spaces, not tabs";
		else if (conf_build_line_has_ipv6(b, p->problem_mark.line))
			hint = "; quote IPv6 addresses, as in \"[::1]:7443\"";
		if (p->context != NULL)
			conf_diag_add(b->diag,
			    "%s:%zu:%zu: syntax error: %s (%s at %zu:%zu)%s",
			    b->name, p->problem_mark.line + 1,
			    p->problem_mark.column + 1, p->problem,
			    p->context, p->context_mark.line + 1,
			    p->context_mark.column + 1, hint);
		else
			conf_diag_add(b->diag, "%s:%zu:%zu: syntax error: %s%s",
			    b->name, p->problem_mark.line + 1,
			    p->problem_mark.column + 1, p->problem, hint);
		break;
	default:
		conf_diag_add(b->diag, "%s: cannot parse (libyaml error %d)",
		    b->name, (int)p->error);
		break;
	}
}

/* Create a node at ${mark} and hang it in the tree; NULL on error. */
static struct conf_node *
conf_build_node(struct conf_build *b, enum conf_node_kind kind,
    const yaml_mark_t *mark)
{
	struct conf_node *n, *p, **kid;
	size_t cap;

	if (b->t->nnodes >= CONF_MAX_NODES) {
		conf_build_err(b, mark, "too many nodes: the limit is "
		    "10000 scalars, mappings and sequences");
		goto err0;
	}
	if ((n = calloc(1, sizeof(*n))) == NULL)
		goto nomem;
	n->kind = kind;
	n->line = (unsigned int)mark->line + 1;
	n->column = (unsigned int)mark->column + 1;
	n->next = b->t->all;
	b->t->all = n;
	b->t->nnodes++;

	if (b->depth == 0) {
		b->t->root = n;
		return (n);
	}
	p = b->stack[b->depth - 1];
	if (p->nkid == p->cap) {
		cap = p->cap == 0 ? 8 : p->cap * 2;
		if ((kid = reallocarray(p->kid, cap, sizeof(*kid))) == NULL)
			goto nomem;
		p->kid = kid;
		p->cap = cap;
	}
	p->kid[p->nkid++] = n;
	return (n);

nomem:
	conf_diag_add(b->diag, "%s: out of memory", b->name);
err0:
	return (NULL);
}

static int
conf_build_scalar(struct conf_build *b, const yaml_event_t *ev)
{
	struct conf_node *n, *p, *k;
	const char *s = (const char *)ev->data.scalar.value;
	size_t len = ev->data.scalar.length;

	if (ev->data.scalar.tag != NULL) {
		conf_build_err(b, &ev->start_mark, "tags such as '!!str' are "
		    "not supported; quote the value instead");
		return (-1);
	}
	if (len > CONF_MAX_SCALAR) {
		conf_build_err(b, &ev->start_mark, "value longer than the "
		    "limit of 4096 bytes");
		return (-1);
	}
	if (memchr(s, '\0', len) != NULL) {
		conf_build_err(b, &ev->start_mark, "value contains a NUL "
		    "character");
		return (-1);
	}
	if ((n = conf_build_node(b, CONF_NODE_SCALAR, &ev->start_mark)) ==
	    NULL)
		return (-1);
	if ((n->str = malloc(len + 1)) == NULL) {
		conf_diag_add(b->diag, "%s: out of memory", b->name);
		return (-1);
	}
	memcpy(n->str, s, len);
	n->str[len] = '\0';
	n->len = len;
	if (ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
	    (len == 0 || strcmp(n->str, "~") == 0 ||
	    strcmp(n->str, "null") == 0 || strcmp(n->str, "Null") == 0 ||
	    strcmp(n->str, "NULL") == 0))
		n->null = true;

	/* "key:" with nothing after it: point at the key. */
	if (n->null && len == 0 && b->depth > 0) {
		p = b->stack[b->depth - 1];
		if (p->kind == CONF_NODE_MAP && p->nkid % 2 == 0) {
			k = p->kid[p->nkid - 2];
			n->line = k->line;
			n->column = k->column;
		}
	}
	return (0);
}

static int
conf_build_open(struct conf_build *b, enum conf_node_kind kind,
    const yaml_event_t *ev, const yaml_char_t *tag)
{
	struct conf_node *n;

	if (tag != NULL) {
		conf_build_err(b, &ev->start_mark, "tags such as '!!map' are "
		    "not supported");
		return (-1);
	}
	if (b->depth == CONF_MAX_DEPTH) {
		conf_build_err(b, &ev->start_mark, "nested deeper than the "
		    "limit of 32 levels");
		return (-1);
	}
	if ((n = conf_build_node(b, kind, &ev->start_mark)) == NULL)
		return (-1);
	b->stack[b->depth++] = n;
	return (0);
}

/* Handle one event; return 1 at the end of the stream, 0, or -1. */
static int
conf_build_event(struct conf_build *b, const yaml_event_t *ev)
{
	char what[128];

	switch (ev->type) {
	case YAML_STREAM_START_EVENT:
	case YAML_DOCUMENT_END_EVENT:
		return (0);
	case YAML_STREAM_END_EVENT:
		return (1);
	case YAML_DOCUMENT_START_EVENT:
		if (b->ndocs++ == 0)
			return (0);
		conf_diag_add(b->diag, "%s:%zu:%zu: expected a single YAML "
		    "document, found a second one", b->name,
		    ev->start_mark.line + 1, ev->start_mark.column + 1);
		return (-1);
	case YAML_ALIAS_EVENT:
		snprintf(what, sizeof(what), "aliases are not supported "
		    "(found '*%.40s'); write the value out in full",
		    (const char *)ev->data.alias.anchor);
		conf_build_err(b, &ev->start_mark, what);
		return (-1);
	case YAML_SCALAR_EVENT:
		return (conf_build_scalar(b, ev));
	case YAML_SEQUENCE_START_EVENT:
		return (conf_build_open(b, CONF_NODE_SEQ, ev,
		    ev->data.sequence_start.tag));
	case YAML_MAPPING_START_EVENT:
		return (conf_build_open(b, CONF_NODE_MAP, ev,
		    ev->data.mapping_start.tag));
	case YAML_SEQUENCE_END_EVENT:
	case YAML_MAPPING_END_EVENT:
		/* libyaml pairs every end with a start. */
		if (b->depth > 0)
			b->depth--;
		return (0);
	case YAML_NO_EVENT:
	default:
		conf_diag_add(b->diag, "%s: cannot parse (unexpected event "
		    "%d)", b->name, (int)ev->type);
		return (-1);
	}
}

int
conf_tree_load(const char *name, const void *buf, size_t len,
    struct conf_diag *diag, struct conf_tree *t)
{
	struct conf_build b;
	yaml_parser_t p;
	yaml_event_t ev;
	int rc;

	memset(t, 0, sizeof(*t));
	memset(&b, 0, sizeof(b));
	b.name = name;
	b.buf = buf;
	b.len = len;
	b.diag = diag;
	b.t = t;

	if (!yaml_parser_initialize(&p)) {
		conf_diag_add(diag, "%s: out of memory", name);
		goto err0;
	}
	yaml_parser_set_input_string(&p, buf, len);
	yaml_parser_set_encoding(&p, YAML_UTF8_ENCODING);

	do {
		if (!yaml_parser_parse(&p, &ev)) {
			conf_build_yaml_err(&b, &p);
			goto err1;
		}
		rc = conf_build_event(&b, &ev);
		yaml_event_delete(&ev);
		if (rc == -1)
			goto err1;
	} while (rc == 0);

	yaml_parser_delete(&p);
	return (0);

err1:
	yaml_parser_delete(&p);
err0:
	return (-1);
}

void
conf_tree_free(struct conf_tree *t)
{
	struct conf_node *n, *next;

	for (n = t->all; n != NULL; n = next) {
		next = n->next;
		free(n->str);
		free(n->kid);
		free(n);
	}
	memset(t, 0, sizeof(*t));
}
