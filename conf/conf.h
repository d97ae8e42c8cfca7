/*
 * conf: secd.yaml -> struct conf.
 *
 * The loader parses one YAML document with libyaml into a bounded tree,
 * checks it against a fixed schema and fills one struct conf that starts
 * out holding every default.  It never stops at the first problem: every
 * error it finds (up to CONF_DIAG_MAX) goes to a struct conf_diag, each
 * written for a human as
 *
 *	secd.yaml:12:5: tls.certificate: expected a file path, found a mapping
 *
 * that is: the file name as given, the 1-based line and column of the
 * offending node, the dotted key path (list items as listen[1], counted
 * from 0), what was expected and what was found.  A struct conf is only
 * ever handed out whole and valid; it is immutable afterwards, so a reload
 * loads a new one and swaps it in.
 *
 * Hostile input is bounded: the file (CONF_MAX_FILE_BYTES), each scalar
 * (CONF_MAX_SCALAR), the number of nodes (CONF_MAX_NODES) and the nesting
 * depth (CONF_MAX_DEPTH).  YAML aliases are rejected outright, so an alias
 * bomb ("billion laughs") ends at its first '*'.
 *
 * This module is pure: no libuv, no daemon headers, no global state.
 */
#ifndef CONF_H
#define CONF_H

#include <sys/types.h>
#include <sys/socket.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Limits on what the loader accepts; see docs/configuration.md. */
#define CONF_DIAG_MAX		20		/* messages kept, then "too many errors" */
#define CONF_MAX_FILE_BYTES	(1024 * 1024)	/* 1 MiB */
#define CONF_MAX_SCALAR		4096		/* bytes in one scalar */
#define CONF_MAX_NODES		10000		/* scalars, mappings and sequences */
#define CONF_MAX_DEPTH		32		/* nested mappings and sequences */
#define CONF_MAX_LISTEN		16		/* entries in listen */
#define CONF_MAX_OPTIONS	64		/* entries in handler.options */
#define CONF_MAX_OPTION_NAME	64		/* bytes in one option name */

/*
 * Collected error messages.  Each message is one line without a trailing
 * newline.  At most CONF_DIAG_MAX messages are kept; the next one is
 * replaced by a last message "too many errors" and later ones are dropped.
 */
struct conf_diag {
	char	*msg[CONF_DIAG_MAX + 1];
	size_t	 count;
	bool	 full;		/* "too many errors" was added */
};

/*
 * conf_diag_init(d):
 * Make ${d} empty.  Must be called before any other use of ${d}.
 */
void conf_diag_init(struct conf_diag *);

/*
 * conf_diag_clear(d):
 * Free every message in ${d} and make it empty again; ${d} stays usable.
 */
void conf_diag_clear(struct conf_diag *);

/*
 * conf_diag_count(d):
 * Return the number of messages in ${d}, counting a final "too many errors".
 */
size_t conf_diag_count(const struct conf_diag *);

/*
 * conf_diag_get(d, i):
 * Return message ${i} (0 <= i < conf_diag_count(d)), or NULL past the end.
 * The string belongs to ${d} and lives until conf_diag_clear(d).
 */
const char *conf_diag_get(const struct conf_diag *, size_t);

/*
 * conf_diag_print(d, f):
 * Write every message in ${d} to ${f}, one per line.
 */
void conf_diag_print(const struct conf_diag *, FILE *);

/*
 * conf_diag_add(d, fmt, ...):
 * Append a message formatted like printf to ${d}.  ${d} may be NULL, in
 * which case nothing happens.  If memory runs out the message is stored as
 * "out of memory".
 */
void conf_diag_add(struct conf_diag *, const char *, ...)
    __attribute__((__format__(__printf__, 2, 3)));

/* How a value fits one schema type; the value is the index in the list. */
enum conf_client_auth {
	CONF_CLIENT_AUTH_NONE,
	CONF_CLIENT_AUTH_OPTIONAL,
	CONF_CLIENT_AUTH_REQUIRED
};

enum conf_tls_version {
	CONF_TLS_1_2,
	CONF_TLS_1_3
};

/* TLS 1.3 cipher suites, named as in RFC 8446. */
enum conf_cipher {
	CONF_CIPHER_CHACHA20_POLY1305_SHA256,
	CONF_CIPHER_AES_128_GCM_SHA256,
	CONF_CIPHER_AES_256_GCM_SHA384,
	CONF_CIPHER_COUNT
};

/* Key-exchange groups. */
enum conf_group {
	CONF_GROUP_X25519,
	CONF_GROUP_P256,
	CONF_GROUP_P384,
	CONF_GROUP_P521,
	CONF_GROUP_COUNT
};

enum conf_auth_methods {
	CONF_AUTH_PASSWORD,
	CONF_AUTH_CERTIFICATE,
	CONF_AUTH_BOTH
};

enum conf_handler_kind {
	CONF_HANDLER_LEDGER,		/* builtin: ledger */
	CONF_HANDLER_MODULE		/* module: PATH */
};

enum conf_log_level {
	CONF_LOG_DEBUG,
	CONF_LOG_INFO,
	CONF_LOG_NOTICE,
	CONF_LOG_WARNING,
	CONF_LOG_ERROR
};

enum conf_log_format {
	CONF_LOG_TEXT,
	CONF_LOG_JSON
};

/* A listening address, ready for socket(2) and bind(2). */
struct conf_addr {
	int			 family;	/* AF_INET or AF_INET6 */
	char			 host[INET6_ADDRSTRLEN]; /* "::1", no brackets */
	char			 text[INET6_ADDRSTRLEN + 8]; /* "[::1]:7443" */
	uint16_t		 port;		/* host byte order */
	struct sockaddr_storage	 sa;		/* port in network order */
	socklen_t		 salen;
};

/*
 * One entry of handler.options.  ${value} is the scalar's text whatever it
 * looks like ("5", "true", "secd.db"); ${line} and ${column} are those of
 * the value, so a handler can point at it (see conf_diag_key).
 */
struct conf_option {
	char		*key;
	char		*value;
	unsigned int	 line;
	unsigned int	 column;
};

/* A position in the file; private to conf.c. */
struct conf_mark;

/*
 * The whole configuration.  Durations are milliseconds, sizes are bytes,
 * paths are NULL when unset and otherwise resolved (relative ones against
 * the directory of the configuration file).  Every string is owned by the
 * struct conf and freed by conf_free.
 */
struct conf {
	char			*name;		/* file name as given */

	struct conf_addr	 listen[CONF_MAX_LISTEN];
	size_t			 nlisten;	/* 1 .. CONF_MAX_LISTEN */
	uint32_t		 workers;	/* 0 = auto: one per core */
	uint64_t		 shutdown_timeout_ms;

	struct conf_tls {
		char		*certificate;	/* PEM chain, or NULL */
		char		*key;		/* PEM key, NULL iff certificate is */
		char		*client_ca;	/* or NULL */
		enum conf_client_auth client_auth;
		enum conf_tls_version min_version;
		enum conf_cipher ciphers[CONF_CIPHER_COUNT]; /* preference order */
		size_t		 nciphers;
		enum conf_group	 groups[CONF_GROUP_COUNT]; /* preference order */
		size_t		 ngroups;
		bool		 tickets;
		char		*ticket_key_file; /* or NULL */
		uint64_t	 ticket_lifetime_ms;
	} tls;

	struct conf_limits {
		uint32_t	 max_connections;
		uint32_t	 max_connections_per_ip;
		uint64_t	 handshake_timeout_ms;
		uint64_t	 login_timeout_ms;
		uint64_t	 idle_timeout_ms;
		uint64_t	 max_message_bytes;
		uint32_t	 max_pipeline;
		uint64_t	 write_buffer_bytes;
		uint32_t	 handshake_rate_per_ip;	/* new connections/s */
		uint32_t	 handshake_burst_per_ip;
	} limits;

	struct conf_auth {
		uint32_t	 scrypt_n;
		uint32_t	 scrypt_r;
		uint32_t	 scrypt_p;
		uint32_t	 max_failures;
		uint32_t	 max_failures_per_ip;
		uint64_t	 failure_window_ms;
		uint64_t	 lockout_ms;
		enum conf_auth_methods methods;
	} auth;

	struct conf_handler {
		enum conf_handler_kind kind;
		char		*module;	/* NULL unless kind is MODULE */
		struct conf_option *options;	/* in file order */
		size_t		 noptions;	/* 0 .. CONF_MAX_OPTIONS */
	} handler;

	struct conf_log {
		enum conf_log_level level;
		enum conf_log_format format;
	} log;

	struct conf_metrics {
		bool		 enabled;	/* metrics.listen was given */
		struct conf_addr listen;
	} metrics;

	struct conf_audit {
		char		*file;		/* or NULL: no audit log */
	} audit;

	char			*user;		/* or NULL: keep the current user */
	char			*group;		/* or NULL */

	/* Private: where each key set from the file was. */
	struct conf_mark	*marks;
	size_t			 nmarks;
	size_t			 marks_cap;
};

/*
 * conf_new_defaults():
 * Return a new struct conf holding every default, named "(defaults)", or
 * NULL if memory runs out.  The caller frees it with conf_free.
 */
struct conf *conf_new_defaults(void);

/*
 * conf_load_file(path, diag):
 * Read and check the configuration file ${path}.  Return a new struct conf
 * (the caller frees it with conf_free), or NULL after adding at least one
 * message to ${diag} (which may be NULL to discard them).  Relative paths
 * in the file are resolved against the directory of ${path}, made absolute
 * with the current directory if ${path} is relative.  Does not check that
 * the files named in it exist; see conf_check_files.
 */
struct conf *conf_load_file(const char *, struct conf_diag *);

/*
 * conf_load_buffer(name, buf, len, diag):
 * As conf_load_file, for the ${len} bytes at ${buf} (which need not be
 * NUL-terminated), using ${name} in messages.  Relative paths in the text
 * are resolved against the directory part of ${name} if it has one and are
 * otherwise kept relative.  Never reads the file system.
 */
struct conf *conf_load_buffer(const char *, const void *, size_t,
    struct conf_diag *);

/*
 * conf_check_files(c, diag):
 * Check that every path in ${c} (tls.certificate, tls.key, tls.client_ca,
 * tls.ticket_key_file, handler.module) names a regular file that this
 * process can open for reading.  Return 0 if so, or -1 after adding one
 * message per bad path to ${diag}, placed at the key in the file.
 */
int conf_check_files(const struct conf *, struct conf_diag *);

/*
 * conf_free(c):
 * Free ${c} and everything it owns.  Does nothing if ${c} is NULL.
 */
void conf_free(struct conf *);

/*
 * conf_handler_option(c, key):
 * Return the handler option named ${key}, or NULL if there is none.  The
 * result is borrowed from ${c}.  To iterate, walk c->handler.options[0 ..
 * c->handler.noptions - 1].
 */
const struct conf_option *conf_handler_option(const struct conf *,
    const char *);

/*
 * conf_key_pos(c, key, line, column):
 * If the dotted key path ${key} ("tls.certificate", "listen[1]",
 * "handler.options.database") was set in the file ${c} was loaded from,
 * store its value's 1-based position in ${line} and ${column} and return 0;
 * otherwise (a default) return -1.
 */
int conf_key_pos(const struct conf *, const char *, unsigned int *,
    unsigned int *);

/*
 * conf_diag_key(d, c, key, fmt, ...):
 * Add a message about the key ${key} of ${c} to ${d}, in the loader's
 * format: "FILE:LINE:COL: KEY: " followed by the printf-formatted text, or
 * "FILE: KEY: ..." when the key was not set in the file.  Lets the daemon
 * and handlers report later problems (a PEM that does not parse, a bad
 * option value) at the right place.
 */
void conf_diag_key(struct conf_diag *, const struct conf *, const char *,
    const char *, ...) __attribute__((__format__(__printf__, 4, 5)));

/*
 * conf_schema_key(i, buf, len):
 * Write the dotted path of schema key ${i} ("listen", "tls",
 * "tls.certificate", ...), in documentation order, to the ${len} bytes at
 * ${buf} and return 0; return -1 when ${i} is past the last key.
 */
int conf_schema_key(size_t, char *, size_t);

/*
 * conf_cipher_name(s), conf_group_name(g):
 * Return the name of a cipher suite or group as written in secd.yaml
 * ("TLS_CHACHA20_POLY1305_SHA256", "x25519"), or "?" if out of range.
 */
const char *conf_cipher_name(enum conf_cipher);
const char *conf_group_name(enum conf_group);

#endif /* !CONF_H */
