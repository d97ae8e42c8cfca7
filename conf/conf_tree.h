/*
 * conf_tree: YAML text -> a small, bounded tree of nodes with positions.
 * Private to conf/; the rest of secd sees only conf.h.
 */
#ifndef CONF_TREE_H
#define CONF_TREE_H

#include <stdbool.h>
#include <stddef.h>

#include "conf.h"

enum conf_node_kind {
	CONF_NODE_SCALAR,
	CONF_NODE_MAP,
	CONF_NODE_SEQ
};

/*
 * One node.  A mapping keeps its keys and values alternately in ${kid}
 * (key 0, value 0, key 1, ...), in file order, duplicates included; a
 * sequence keeps its items.  A scalar's text is NUL-terminated and never
 * contains a NUL itself.  ${null} is set for plain scalars that YAML reads
 * as null: nothing at all, "~", "null", "Null" and "NULL".  The position
 * of a null that is nothing at all is that of its key, which is where a
 * human looks for it.
 */
struct conf_node {
	enum conf_node_kind	 kind;
	bool			 null;
	unsigned int		 line;		/* 1-based */
	unsigned int		 column;	/* 1-based, in characters */
	char			*str;
	size_t			 len;
	struct conf_node	**kid;
	size_t			 nkid;
	size_t			 cap;
	struct conf_node	*next;		/* chain of all nodes of a tree */
};

struct conf_tree {
	struct conf_node	*root;		/* NULL: no document at all */
	struct conf_node	*all;
	size_t			 nnodes;
};

/*
 * conf_tree_load(name, buf, len, diag, t):
 * Parse the ${len} bytes at ${buf} as a single YAML document into ${t}.
 * Return 0, or -1 after adding one message, prefixed with ${name}, to
 * ${diag} (which may be NULL): a syntax error, invalid UTF-8, a second
 * document, an alias, a tag, a scalar longer than CONF_MAX_SCALAR or
 * holding a NUL, more than CONF_MAX_NODES nodes, or nesting deeper than
 * CONF_MAX_DEPTH.  On either return conf_tree_free(t) releases ${t}.
 */
int conf_tree_load(const char *, const void *, size_t, struct conf_diag *,
    struct conf_tree *);

/*
 * conf_tree_free(t):
 * Free every node of ${t} and make it empty.
 */
void conf_tree_free(struct conf_tree *);

/*
 * conf_tree_quote(buf, size, s, len):
 * Write the ${len} bytes at ${s} to ${buf} (${size} bytes, at least 8) as
 * printable text: control characters, quotes and backslashes escaped, and
 * cut with "..." if longer than about 60 bytes.  Return ${buf}.
 */
char *conf_tree_quote(char *, size_t, const char *, size_t);

/*
 * conf_tree_describe(n, buf, size):
 * Describe ${n} for a "found ..." clause: "a mapping", "a sequence",
 * "nothing", "an empty string" or the quoted text ('abc').  Return ${buf}.
 */
char *conf_tree_describe(const struct conf_node *, char *, size_t);

#endif /* !CONF_TREE_H */
