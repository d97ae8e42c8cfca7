/*
 * check_conf.c: the secd.yaml loader.  Every error path is driven here and
 * its message checked word for word, because the messages are the user
 * interface of a configuration file: "FILE:LINE:COL: KEY: expected ...,
 * found ...".  The shipped example and the documentation are checked too,
 * so that neither can drift from the schema.
 */
#include <sys/stat.h>

#include <check.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "conf.h"

static struct conf_diag diag;

static void
setup(void)
{

	conf_diag_init(&diag);
}

static void
teardown(void)
{

	conf_diag_clear(&diag);
}

/* All messages, one per line, for failure output. */
static const char *
all_msgs(void)
{
	static char buf[8192];
	size_t i, o = 0;

	buf[0] = '\0';
	for (i = 0; i < conf_diag_count(&diag) && o < sizeof(buf); i++)
		o += (size_t)snprintf(buf + o, sizeof(buf) - o, "\n  %s",
		    conf_diag_get(&diag, i));
	return (buf);
}

static struct conf *
load_len(const char *text, size_t len)
{

	conf_diag_clear(&diag);
	return (conf_load_buffer("secd.yaml", text, len, &diag));
}

static struct conf *
load(const char *text)
{

	return (load_len(text, strlen(text)));
}

/* ${text} must load; return the result. */
static struct conf *
load_ok(const char *text)
{
	struct conf *c;

	c = load(text);
	ck_assert_msg(c != NULL, "load failed:%s", all_msgs());
	ck_assert_uint_eq(conf_diag_count(&diag), 0);
	return (c);
}

/* ${text} must fail with exactly the messages ${msgs} (NULL-terminated). */
static void
fails_with_v(const char *text, size_t len, const char *const *msgs)
{
	struct conf *c;
	size_t i;

	c = load_len(text, len);
	ck_assert_msg(c == NULL, "loaded although it should fail:\n%s",
	    text);
	for (i = 0; msgs[i] != NULL; i++) {
		ck_assert_msg(i < conf_diag_count(&diag),
		    "missing message '%s'; got:%s", msgs[i], all_msgs());
		ck_assert_msg(strcmp(conf_diag_get(&diag, i), msgs[i]) == 0,
		    "message %zu:\n  want %s\n  got  %s\nall:%s", i, msgs[i],
		    conf_diag_get(&diag, i), all_msgs());
	}
	ck_assert_msg(conf_diag_count(&diag) == i,
	    "want %zu messages, got:%s", i, all_msgs());
}

#define fails_with(text, ...)						\
	fails_with_v((text), strlen(text),				\
	    (const char *const[]){ __VA_ARGS__, NULL })

/* ${text} must fail with one message starting with ${prefix}, holding ${word}. */
static void
fails_like(const char *text, size_t len, const char *prefix,
    const char *word)
{
	struct conf *c;
	const char *m;

	c = load_len(text, len);
	ck_assert_msg(c == NULL, "loaded although it should fail");
	ck_assert_msg(conf_diag_count(&diag) == 1, "want 1 message, got:%s",
	    all_msgs());
	m = conf_diag_get(&diag, 0);
	ck_assert_msg(strncmp(m, prefix, strlen(prefix)) == 0,
	    "want prefix '%s', got '%s'", prefix, m);
	ck_assert_msg(strstr(m, word) != NULL, "want '%s' in '%s'", word, m);
}

/* Return a new file holding ${path}'s contents. */
static char *
slurp(const char *path)
{
	FILE *f;
	char *buf;
	long n;

	ck_assert_msg((f = fopen(path, "rb")) != NULL, "%s: %s", path,
	    strerror(errno));
	ck_assert_int_eq(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	ck_assert_int_ge(n, 0);
	rewind(f);
	ck_assert_ptr_nonnull(buf = malloc((size_t)n + 1));
	ck_assert_uint_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
	buf[n] = '\0';
	fclose(f);
	return (buf);
}

static const char *
srcdir(void)
{
	const char *s = getenv("SECD_SRCDIR");

	ck_assert_msg(s != NULL, "SECD_SRCDIR is not set");
	return (s);
}

static void
write_file(const char *path, const char *text)
{
	FILE *f;

	ck_assert_msg((f = fopen(path, "w")) != NULL, "%s: %s", path,
	    strerror(errno));
	fputs(text, f);
	ck_assert_int_eq(fclose(f), 0);
}

/* Defaults and round trips. */

static void
assert_defaults(const struct conf *c)
{
	const struct sockaddr_in *sin;

	ck_assert_uint_eq(c->nlisten, 1);
	ck_assert_int_eq(c->listen[0].family, AF_INET);
	ck_assert_str_eq(c->listen[0].host, "127.0.0.1");
	ck_assert_str_eq(c->listen[0].text, "127.0.0.1:7443");
	ck_assert_uint_eq(c->listen[0].port, 7443);
	sin = (const struct sockaddr_in *)&c->listen[0].sa;
	ck_assert_int_eq(sin->sin_family, AF_INET);
	ck_assert_uint_eq(ntohs(sin->sin_port), 7443);
	ck_assert_uint_eq(ntohl(sin->sin_addr.s_addr), 0x7f000001);
	ck_assert_uint_eq(c->listen[0].salen, sizeof(*sin));
	ck_assert_uint_eq(c->workers, 0);
	ck_assert_uint_eq(c->shutdown_timeout_ms, 30000);

	ck_assert_ptr_null(c->tls.certificate);
	ck_assert_ptr_null(c->tls.key);
	ck_assert_ptr_null(c->tls.client_ca);
	ck_assert_int_eq(c->tls.client_auth, CONF_CLIENT_AUTH_NONE);
	ck_assert_int_eq(c->tls.min_version, CONF_TLS_1_3);
	ck_assert_uint_eq(c->tls.nciphers, 3);
	ck_assert_int_eq(c->tls.ciphers[0],
	    CONF_CIPHER_CHACHA20_POLY1305_SHA256);
	ck_assert_int_eq(c->tls.ciphers[1], CONF_CIPHER_AES_128_GCM_SHA256);
	ck_assert_int_eq(c->tls.ciphers[2], CONF_CIPHER_AES_256_GCM_SHA384);
	ck_assert_uint_eq(c->tls.ngroups, 2);
	ck_assert_int_eq(c->tls.groups[0], CONF_GROUP_X25519);
	ck_assert_int_eq(c->tls.groups[1], CONF_GROUP_P256);
	ck_assert(c->tls.tickets);
	ck_assert_ptr_null(c->tls.ticket_key_file);
	ck_assert_uint_eq(c->tls.ticket_lifetime_ms, 2 * 3600 * 1000);

	ck_assert_uint_eq(c->limits.max_connections, 10000);
	ck_assert_uint_eq(c->limits.max_connections_per_ip, 256);
	ck_assert_uint_eq(c->limits.handshake_timeout_ms, 10000);
	ck_assert_uint_eq(c->limits.login_timeout_ms, 30000);
	ck_assert_uint_eq(c->limits.idle_timeout_ms, 300000);
	ck_assert_uint_eq(c->limits.max_message_bytes, 65536);
	ck_assert_uint_eq(c->limits.max_pipeline, 16);
	ck_assert_uint_eq(c->limits.write_buffer_bytes, 262144);

	ck_assert_uint_eq(c->auth.scrypt_n, 16384);
	ck_assert_uint_eq(c->auth.scrypt_r, 8);
	ck_assert_uint_eq(c->auth.scrypt_p, 1);
	ck_assert_uint_eq(c->auth.max_failures, 10);
	ck_assert_uint_eq(c->auth.failure_window_ms, 15 * 60 * 1000);
	ck_assert_uint_eq(c->auth.lockout_ms, 15 * 60 * 1000);
	ck_assert_int_eq(c->auth.methods, CONF_AUTH_PASSWORD);

	ck_assert_int_eq(c->handler.kind, CONF_HANDLER_LEDGER);
	ck_assert_ptr_null(c->handler.module);
	ck_assert_uint_eq(c->handler.noptions, 0);

	ck_assert_int_eq(c->log.level, CONF_LOG_INFO);
	ck_assert_int_eq(c->log.format, CONF_LOG_TEXT);
	ck_assert(!c->metrics.enabled);
	ck_assert_ptr_null(c->user);
	ck_assert_ptr_null(c->group);
}

START_TEST(test_conf_new_defaults_has_every_default)
{
	struct conf *c;

	ck_assert_ptr_nonnull(c = conf_new_defaults());
	assert_defaults(c);
	ck_assert_str_eq(c->name, "(defaults)");
	conf_free(c);
	conf_free(NULL);
}
END_TEST

START_TEST(test_conf_empty_input_gives_defaults)
{
	static const char *const texts[] = {
		"", "\n", "# nothing but a comment\n", "---\n", "--- ~\n",
		"~\n", "---\n...\n", "{}\n", "tls:\nlimits: ~\nlog: {}\n",
		"handler: {options: ~}\n", "handler:\n  options: {}\n",
	};
	struct conf *c;
	size_t i;

	for (i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
		c = load_ok(texts[i]);
		assert_defaults(c);
		ck_assert_str_eq(c->name, "secd.yaml");
		conf_free(c);
	}
}
END_TEST

static const char full_yaml[] =
    "listen:\n"
    "  - 0.0.0.0:8443\n"
    "  - \"[::]:8443\"\n"
    "  - \"[2001:db8::1]:9000\"\n"
    "workers: 4\n"
    "shutdown_timeout: 1m30s\n"
    "tls:\n"
    "  certificate: tls/server.pem\n"
    "  key: /abs/server.key\n"
    "  client_ca: ./ca.pem\n"
    "  client_auth: required\n"
    "  min_version: \"1.2\"\n"
    "  ciphers: [TLS_AES_256_GCM_SHA384, TLS_CHACHA20_POLY1305_SHA256]\n"
    "  groups: [p521, p384, p256, x25519]\n"
    "  tickets: false\n"
    "  ticket_key_file: ticket.key\n"
    "  ticket_lifetime: 7d\n"
    "limits:\n"
    "  max_connections: 1000000\n"
    "  max_connections_per_ip: 1000000\n"
    "  handshake_timeout: 100ms\n"
    "  login_timeout: 1h\n"
    "  idle_timeout: 24h\n"
    "  max_message_bytes: 1MiB\n"
    "  max_pipeline: 1024\n"
    "  write_buffer: 1MB\n"
    "auth:\n"
    "  scrypt_n: 1048576\n"
    "  scrypt_r: 32\n"
    "  scrypt_p: 16\n"
    "  max_failures: 1000\n"
    "  failure_window: 1s\n"
    "  lockout: 2h\n"
    "  methods: both\n"
    "handler:\n"
    "  module: mods/x.so\n"
    "  options:\n"
    "    database: /var/lib/secd/x.db\n"
    "    threads: 8\n"
    "    sync: true\n"
    "    quoted: \"a b: c\"\n"
    "log:\n"
    "  level: debug\n"
    "  format: json\n"
    "metrics:\n"
    "  listen: \"[::1]:9100\"\n"
    "user: _secd\n"
    "group: secd-1\n";

START_TEST(test_conf_full_file_round_trips)
{
	struct conf *c;
	const struct sockaddr_in6 *sin6;
	const struct conf_option *o;
	unsigned int line, col;

	conf_diag_clear(&diag);
	c = conf_load_buffer("/etc/secd/secd.yaml", full_yaml,
	    strlen(full_yaml), &diag);
	ck_assert_msg(c != NULL, "load failed:%s", all_msgs());
	ck_assert_str_eq(c->name, "/etc/secd/secd.yaml");

	ck_assert_uint_eq(c->nlisten, 3);
	ck_assert_str_eq(c->listen[0].text, "0.0.0.0:8443");
	ck_assert_int_eq(c->listen[1].family, AF_INET6);
	ck_assert_str_eq(c->listen[1].host, "::");
	ck_assert_str_eq(c->listen[1].text, "[::]:8443");
	ck_assert_str_eq(c->listen[2].text, "[2001:db8::1]:9000");
	ck_assert_uint_eq(c->listen[2].port, 9000);
	sin6 = (const struct sockaddr_in6 *)&c->listen[2].sa;
	ck_assert_int_eq(sin6->sin6_family, AF_INET6);
	ck_assert_uint_eq(ntohs(sin6->sin6_port), 9000);
	ck_assert_uint_eq(sin6->sin6_addr.s6_addr[0], 0x20);
	ck_assert_uint_eq(sin6->sin6_addr.s6_addr[15], 0x01);
	ck_assert_uint_eq(c->listen[2].salen, sizeof(*sin6));
	ck_assert_uint_eq(c->workers, 4);
	ck_assert_uint_eq(c->shutdown_timeout_ms, 90000);

	ck_assert_str_eq(c->tls.certificate, "/etc/secd/tls/server.pem");
	ck_assert_str_eq(c->tls.key, "/abs/server.key");
	ck_assert_str_eq(c->tls.client_ca, "/etc/secd/ca.pem");
	ck_assert_int_eq(c->tls.client_auth, CONF_CLIENT_AUTH_REQUIRED);
	ck_assert_int_eq(c->tls.min_version, CONF_TLS_1_2);
	ck_assert_uint_eq(c->tls.nciphers, 2);
	ck_assert_int_eq(c->tls.ciphers[0], CONF_CIPHER_AES_256_GCM_SHA384);
	ck_assert_int_eq(c->tls.ciphers[1],
	    CONF_CIPHER_CHACHA20_POLY1305_SHA256);
	ck_assert_uint_eq(c->tls.ngroups, 4);
	ck_assert_int_eq(c->tls.groups[0], CONF_GROUP_P521);
	ck_assert_int_eq(c->tls.groups[1], CONF_GROUP_P384);
	ck_assert_int_eq(c->tls.groups[2], CONF_GROUP_P256);
	ck_assert_int_eq(c->tls.groups[3], CONF_GROUP_X25519);
	ck_assert(!c->tls.tickets);
	ck_assert_str_eq(c->tls.ticket_key_file, "/etc/secd/ticket.key");
	ck_assert_uint_eq(c->tls.ticket_lifetime_ms, 7ULL * 86400 * 1000);

	ck_assert_uint_eq(c->limits.max_connections, 1000000);
	ck_assert_uint_eq(c->limits.max_connections_per_ip, 1000000);
	ck_assert_uint_eq(c->limits.handshake_timeout_ms, 100);
	ck_assert_uint_eq(c->limits.login_timeout_ms, 3600000);
	ck_assert_uint_eq(c->limits.idle_timeout_ms, 86400000);
	ck_assert_uint_eq(c->limits.max_message_bytes, 1024 * 1024);
	ck_assert_uint_eq(c->limits.max_pipeline, 1024);
	ck_assert_uint_eq(c->limits.write_buffer_bytes, 1000000);

	ck_assert_uint_eq(c->auth.scrypt_n, 1048576);
	ck_assert_uint_eq(c->auth.scrypt_r, 32);
	ck_assert_uint_eq(c->auth.scrypt_p, 16);
	ck_assert_uint_eq(c->auth.max_failures, 1000);
	ck_assert_uint_eq(c->auth.failure_window_ms, 1000);
	ck_assert_uint_eq(c->auth.lockout_ms, 7200000);
	ck_assert_int_eq(c->auth.methods, CONF_AUTH_BOTH);

	ck_assert_int_eq(c->handler.kind, CONF_HANDLER_MODULE);
	ck_assert_str_eq(c->handler.module, "/etc/secd/mods/x.so");
	ck_assert_uint_eq(c->handler.noptions, 4);
	ck_assert_str_eq(c->handler.options[0].key, "database");
	ck_assert_str_eq(c->handler.options[0].value, "/var/lib/secd/x.db");
	ck_assert_str_eq(c->handler.options[1].key, "threads");
	ck_assert_str_eq(c->handler.options[1].value, "8");
	ck_assert_str_eq(c->handler.options[2].value, "true");
	ck_assert_str_eq(c->handler.options[3].value, "a b: c");
	ck_assert_ptr_nonnull(o = conf_handler_option(c, "sync"));
	ck_assert_str_eq(o->value, "true");
	ck_assert_uint_eq(o->line, 40);
	ck_assert_uint_eq(o->column, 11);
	ck_assert_ptr_null(conf_handler_option(c, "nope"));

	ck_assert_int_eq(c->log.level, CONF_LOG_DEBUG);
	ck_assert_int_eq(c->log.format, CONF_LOG_JSON);
	ck_assert(c->metrics.enabled);
	ck_assert_str_eq(c->metrics.listen.text, "[::1]:9100");
	ck_assert_str_eq(c->user, "_secd");
	ck_assert_str_eq(c->group, "secd-1");

	/* Positions of keys set in the file; defaults have none. */
	ck_assert_int_eq(conf_key_pos(c, "tls.certificate", &line, &col), 0);
	ck_assert_uint_eq(line, 8);
	ck_assert_uint_eq(col, 16);
	ck_assert_int_eq(conf_key_pos(c, "listen[1]", &line, &col), 0);
	ck_assert_uint_eq(line, 3);
	ck_assert_uint_eq(col, 5);
	ck_assert_int_eq(conf_key_pos(c, "handler.options.database", &line,
	    &col), 0);
	ck_assert_uint_eq(line, 38);
	ck_assert_uint_eq(col, 15);
	ck_assert_int_eq(conf_key_pos(c, "tls", &line, &col), 0);
	ck_assert_uint_eq(line, 8);
	ck_assert_int_eq(conf_key_pos(c, "tls.nope", &line, &col), -1);
	conf_free(c);

	/* Every value above is also the edge of its range. */
	c = load_ok("limits: {max_connections: 1, max_connections_per_ip: 1,"
	    " handshake_timeout: 5m, login_timeout: 1s, idle_timeout: 1s,"
	    " max_message_bytes: 8KiB, max_pipeline: 1, write_buffer: 4KiB}\n"
	    "auth: {scrypt_n: 1024, scrypt_r: 1, scrypt_p: 1, max_failures: 1,"
	    " failure_window: 24h, lockout: 1s}\n"
	    "workers: 256\nshutdown_timeout: 0s\n"
	    "tls: {ticket_lifetime: 1m}\n");
	ck_assert_uint_eq(c->limits.max_connections, 1);
	ck_assert_uint_eq(c->limits.handshake_timeout_ms, 300000);
	ck_assert_uint_eq(c->limits.max_message_bytes, 8192);
	ck_assert_uint_eq(c->limits.write_buffer_bytes, 4096);
	ck_assert_uint_eq(c->auth.scrypt_n, 1024);
	ck_assert_uint_eq(c->auth.failure_window_ms, 86400000);
	ck_assert_uint_eq(c->workers, 256);
	ck_assert_uint_eq(c->shutdown_timeout_ms, 0);
	ck_assert_uint_eq(c->tls.ticket_lifetime_ms, 60000);
	conf_free(c);
}
END_TEST

START_TEST(test_conf_accepts_value_spellings)
{
	struct conf *c;

	c = load_ok("tls: {ticket_lifetime: 1h1m1s1ms, tickets: \"true\","
	    " min_version: 1.3}\n"
	    "limits: {max_message_bytes: \"9000\", write_buffer: 5MB,"
	    " idle_timeout: '90s'}\n"
	    "handler: {builtin: ledger, options: {a: x}}\n");
	ck_assert_uint_eq(c->tls.ticket_lifetime_ms, 3661001);
	ck_assert_uint_eq(c->limits.max_message_bytes, 9000);
	ck_assert_uint_eq(c->limits.write_buffer_bytes, 5000000);
	ck_assert_uint_eq(c->limits.idle_timeout_ms, 90000);
	ck_assert_int_eq(c->handler.kind, CONF_HANDLER_LEDGER);
	ck_assert_str_eq(conf_handler_option(c, "a")->value, "x");
	ck_assert(c->tls.tickets);
	conf_free(c);
}
END_TEST

/* Paths. */

START_TEST(test_conf_resolves_relative_paths_in_buffers)
{
	const char *text;
	struct conf *c;

	text = "tls: {certificate: c.pem, key: ././k.pem}\n";
	conf_diag_clear(&diag);
	c = conf_load_buffer("/secd.yaml", text, strlen(text), &diag);
	ck_assert_msg(c != NULL, "%s", all_msgs());
	ck_assert_str_eq(c->tls.certificate, "/c.pem");
	ck_assert_str_eq(c->tls.key, "/k.pem");
	conf_free(c);

	/* No directory in the name: paths stay relative. */
	c = load_ok("tls: {certificate: c.pem, key: /k.pem}\n");
	ck_assert_str_eq(c->tls.certificate, "c.pem");
	ck_assert_str_eq(c->tls.key, "/k.pem");
	conf_free(c);

	text = "handler: {module: m.so}\n";
	conf_diag_clear(&diag);
	c = conf_load_buffer("conf/secd.yaml", text, strlen(text), &diag);
	ck_assert_msg(c != NULL, "%s", all_msgs());
	ck_assert_str_eq(c->handler.module, "conf/m.so");
	conf_free(c);
}
END_TEST

START_TEST(test_conf_resolves_relative_paths_against_the_file)
{
	char dir[] = "/tmp/check_conf.XXXXXX", path[PATH_MAX];
	char cwd[PATH_MAX], want[PATH_MAX * 2], *base;
	struct conf *c;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/secd.yaml", dir);
	write_file(path, "tls:\n  certificate: certs/a.pem\n"
	    "  key: ./b.key\n");

	/* Absolute file name. */
	ck_assert_ptr_nonnull(c = conf_load_file(path, &diag));
	snprintf(want, sizeof(want), "%s/certs/a.pem", dir);
	ck_assert_str_eq(c->tls.certificate, want);
	snprintf(want, sizeof(want), "%s/b.key", dir);
	ck_assert_str_eq(c->tls.key, want);
	conf_free(c);

	/* Relative file name: made absolute with the current directory. */
	ck_assert_ptr_nonnull(getcwd(cwd, sizeof(cwd)));
	ck_assert_int_eq(chdir("/tmp"), 0);
	base = dir + strlen("/tmp/");
	snprintf(path, sizeof(path), "%s/secd.yaml", base);
	c = conf_load_file(path, &diag);
	ck_assert_msg(c != NULL, "%s", all_msgs());
	ck_assert_str_eq(c->name, path);
	snprintf(want, sizeof(want), "/tmp/%s/certs/a.pem", base);
	ck_assert_str_eq(c->tls.certificate, want);
	conf_free(c);

	/* A bare file name: relative to the current directory. */
	ck_assert_int_eq(chdir(dir), 0);
	ck_assert_ptr_nonnull(c = conf_load_file("secd.yaml", &diag));
	snprintf(want, sizeof(want), "%s/certs/a.pem", dir);
	ck_assert_str_eq(c->tls.certificate, want);
	conf_free(c);

	ck_assert_int_eq(chdir(cwd), 0);
	snprintf(path, sizeof(path), "%s/secd.yaml", dir);
	unlink(path);
	rmdir(dir);
}
END_TEST

START_TEST(test_conf_rejects_missing_file)
{
	struct conf *c;

	c = conf_load_file("/nonexistent/secd.yaml", &diag);
	ck_assert_ptr_null(c);
	ck_assert_uint_eq(conf_diag_count(&diag), 1);
	ck_assert_str_eq(conf_diag_get(&diag, 0),
	    "/nonexistent/secd.yaml: cannot open: No such file or directory");

	conf_diag_clear(&diag);
	ck_assert_ptr_null(conf_load_file("/tmp", &diag));
	ck_assert_str_eq(conf_diag_get(&diag, 0),
	    "/tmp: cannot read: Is a directory");

	/* A NULL diag is allowed: the load still fails. */
	ck_assert_ptr_null(conf_load_file("/nonexistent/secd.yaml", NULL));
}
END_TEST

START_TEST(test_conf_check_files_reports_missing_certificate)
{
	char dir[] = "/tmp/check_conf.XXXXXX", path[256], text[2048];
	struct conf *c;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/key.pem", dir);
	write_file(path, "key\n");
	snprintf(text, sizeof(text),
	    "tls:\n"
	    "  certificate: missing.pem\n"
	    "  key: key.pem\n"
	    "  ticket_key_file: %s\n"
	    "handler:\n"
	    "  module: /nonexistent/m.so\n", dir);
	snprintf(path, sizeof(path), "%s/secd.yaml", dir);
	write_file(path, text);

	c = conf_load_file(path, &diag);
	ck_assert_msg(c != NULL, "%s", all_msgs());
	ck_assert_int_eq(conf_check_files(c, &diag), -1);
	ck_assert_uint_eq(conf_diag_count(&diag), 3);
	snprintf(text, sizeof(text), "%s:2:16: tls.certificate: cannot open "
	    "%s/missing.pem: No such file or directory", path, dir);
	ck_assert_str_eq(conf_diag_get(&diag, 0), text);
	snprintf(text, sizeof(text), "%s:4:20: tls.ticket_key_file: %s is "
	    "not a regular file", path, dir);
	ck_assert_str_eq(conf_diag_get(&diag, 1), text);
	snprintf(text, sizeof(text), "%s:6:11: handler.module: cannot open "
	    "/nonexistent/m.so: No such file or directory", path);
	ck_assert_str_eq(conf_diag_get(&diag, 2), text);
	conf_free(c);

	/* With both files present, the check passes. */
	snprintf(text, sizeof(text), "%s/missing.pem", dir);
	write_file(text, "cert\n");
	write_file(path, "tls: {certificate: missing.pem, key: key.pem}\n");
	conf_diag_clear(&diag);
	ck_assert_ptr_nonnull(c = conf_load_file(path, &diag));
	ck_assert_int_eq(conf_check_files(c, &diag), 0);
	ck_assert_uint_eq(conf_diag_count(&diag), 0);
	conf_free(c);

	/* The audit log is written, not read: it may not exist yet, but
	   its directory must. */
	write_file(path, "audit: {file: audit.log}\n");
	conf_diag_clear(&diag);
	ck_assert_ptr_nonnull(c = conf_load_file(path, &diag));
	ck_assert_int_eq(conf_check_files(c, &diag), 0);
	conf_free(c);
	write_file(path, "audit: {file: nodir/audit.log}\n");
	ck_assert_ptr_nonnull(c = conf_load_file(path, &diag));
	ck_assert_int_eq(conf_check_files(c, &diag), -1);
	snprintf(text, sizeof(text), "%s:1:15: audit.file: cannot create "
	    "%s/nodir/audit.log: its directory %s/nodir does not exist",
	    path, dir, dir);
	ck_assert_str_eq(conf_diag_get(&diag, 0), text);
	conf_free(c);
	conf_diag_clear(&diag);
	snprintf(text, sizeof(text), "%s/missing.pem", dir);

	/* Defaults name no files at all. */
	ck_assert_ptr_nonnull(c = conf_new_defaults());
	ck_assert_int_eq(conf_check_files(c, &diag), 0);
	conf_free(c);

	unlink(text);
	unlink(path);
	snprintf(path, sizeof(path), "%s/key.pem", dir);
	unlink(path);
	rmdir(dir);
}
END_TEST

/* Syntax. */

START_TEST(test_conf_rejects_unclosed_quote)
{

	fails_with("tls:\n  certificate: \"a.pem\n",
	    "secd.yaml:3:1: syntax error: found unexpected end of stream "
	    "(while scanning a quoted scalar at 2:16)");
}
END_TEST

START_TEST(test_conf_rejects_bad_indentation)
{

	fails_with("tls:\n  certificate: a.pem\n key: b.pem\n",
	    "secd.yaml:3:2: syntax error: did not find expected key "
	    "(while parsing a block mapping at 1:1)");
}
END_TEST

START_TEST(test_conf_rejects_tab_indentation)
{
	const char *text = "tls:\n\tcertificate: a.pem\n";

	fails_like(text, strlen(text), "secd.yaml:2:1: syntax error: ",
	    "tab");
	fails_with("log:\n  level: info\n\tformat: json\n",
	    "secd.yaml:3:1: syntax error: found a tab character that "
	    "violates indentation (while scanning a plain scalar at 2:10)");
}
END_TEST

START_TEST(test_conf_rejects_syntax_error_without_context)
{

	fails_with("log: level: info\n", "secd.yaml:1:11: syntax error: "
	    "mapping values are not allowed in this context");
	/* A lone CR ends a line too, for positions of bad bytes. */
	fails_with("workers: 2\ruser: \xfe\n", "secd.yaml:2:7: invalid input: "
	    "invalid leading UTF-8 octet (code 0xfe)");
}
END_TEST

START_TEST(test_conf_rejects_overlong_values)
{
	char *text, name[512], want[1024];
	struct conf *c;
	size_t o;

	/* A path longer than PATH_MAX once resolved. */
	ck_assert_ptr_nonnull(text = malloc(8192));
	memset(name, 'd', 300);
	name[0] = '/';
	snprintf(name + 300, sizeof(name) - 300, "/secd.yaml");
	o = (size_t)snprintf(text, 64, "tls: {certificate: ");
	memset(text + o, 'p', 4000);
	snprintf(text + o + 4000, 64, ", key: k}\n");
	conf_diag_clear(&diag);
	c = conf_load_buffer(name, text, strlen(text), &diag);
	ck_assert_ptr_null(c);
	ck_assert_uint_eq(conf_diag_count(&diag), 1);
	snprintf(want, sizeof(want), "%s:1:20: tls.certificate: expected a "
	    "file path, found '%.60s...' (path too long)", name, text + o);
	ck_assert_str_eq(conf_diag_get(&diag, 0), want);
	free(text);

	fails_with("handler: {options: {aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaa: 1}}\n", "secd.yaml:1:21: "
	    "handler.options: expected an option name of 1 to 64 letters, "
	    "digits, '_' or '-', found 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	    "aaaaaaaaaaaaaaaaaaaaaaa...'");
	fails_with("listen: [\"[0000:0000:0000:0000:0000:0000:0000:0000:0000]:1"
	    "\"]\n", "secd.yaml:1:10: listen[0]: expected an IP address and "
	    "port such as 127.0.0.1:7443 or [::1]:7443, found '[0000:0000:"
	    "0000:0000:0000:0000:0000:0000:0000]:1' (not an IPv6 address)");
	fails_with("listen: [a-very-long-host-name.in.some.domain.example.com:1]"
	    "\n", "secd.yaml:1:10: listen[0]: expected an IP address and "
	    "port such as 127.0.0.1:7443 or [::1]:7443, found "
	    "'a-very-long-host-name.in.some.domain.example.com:1' (host names "
	    "are not allowed, only IP addresses)");
	fails_with("limits: {write_buffer: [1]}\n", "secd.yaml:1:24: "
	    "limits.write_buffer: expected a size, found a sequence");
}
END_TEST

START_TEST(test_conf_rejects_multiple_documents)
{

	fails_with("workers: 2\n---\nworkers: 3\n",
	    "secd.yaml:2:1: expected a single YAML document, found a "
	    "second one");
}
END_TEST

START_TEST(test_conf_rejects_top_level_scalar)
{

	fails_with("hello\n", "secd.yaml:1:1: expected a mapping, found "
	    "'hello'");
	fails_with("- a\n", "secd.yaml:1:1: expected a mapping, found a "
	    "sequence");
}
END_TEST

START_TEST(test_conf_rejects_non_scalar_key)
{

	fails_with("? [a, b]\n: 1\n", "secd.yaml:1:3: expected a key name, "
	    "found a sequence");
	fails_with("tls: {\"\": x}\n", "secd.yaml:1:7: tls: expected a key "
	    "name, found an empty string");
}
END_TEST

START_TEST(test_conf_rejects_tags)
{

	fails_with("workers: !!int 4\n", "secd.yaml:1:10: workers: tags "
	    "such as '!!str' are not supported; quote the value instead");
	fails_with("tls: !!map {}\n", "secd.yaml:1:6: tls: tags such as "
	    "'!!map' are not supported");
}
END_TEST

/* Types. */

START_TEST(test_conf_rejects_mapping_for_path)
{

	fails_with("tls:\n  certificate:\n    file: a.pem\n",
	    "secd.yaml:3:5: tls.certificate: expected a file path, found a "
	    "mapping");
	fails_with("tls:\n  key: [a]\n", "secd.yaml:2:8: tls.key: expected "
	    "a file path, found a sequence");
	fails_with("tls:\n  key: \"\"\n", "secd.yaml:2:8: tls.key: expected "
	    "a file path, found an empty string");
}
END_TEST

START_TEST(test_conf_rejects_sequence_for_section)
{

	fails_with("limits:\n  - max_connections: 5\n",
	    "secd.yaml:2:3: limits: expected a mapping, found a sequence");
	fails_with("log: debug\n", "secd.yaml:1:6: log: expected a mapping, "
	    "found 'debug'");
}
END_TEST

START_TEST(test_conf_rejects_string_for_integer)
{

	fails_with("limits:\n  max_pipeline: lots\n",
	    "secd.yaml:2:17: limits.max_pipeline: expected an integer "
	    "between 1 and 1024, found 'lots'");
	fails_with("limits:\n  max_pipeline: 0x10\n",
	    "secd.yaml:2:17: limits.max_pipeline: expected an integer "
	    "between 1 and 1024, found '0x10'");
	fails_with("limits:\n  max_pipeline: {a: 1}\n",
	    "secd.yaml:2:17: limits.max_pipeline: expected an integer, "
	    "found a mapping");
	fails_with("auth: {scrypt_r: +8}\n", "secd.yaml:1:18: auth.scrypt_r: "
	    "expected an integer between 1 and 32, found '+8'");
}
END_TEST

START_TEST(test_conf_rejects_null_for_scalar)
{

	fails_with("shutdown_timeout:\n",
	    "secd.yaml:1:1: shutdown_timeout: expected a duration, found "
	    "nothing");
	fails_with("limits:\n  idle_timeout: ~\n",
	    "secd.yaml:2:17: limits.idle_timeout: expected a duration, found "
	    "nothing");
	fails_with("listen:\n", "secd.yaml:1:1: listen: expected a sequence "
	    "of addresses, found nothing");
	fails_with("tls:\n  tickets: null\n", "secd.yaml:2:12: tls.tickets: "
	    "expected true or false, found nothing");
	fails_with("user:\n", "secd.yaml:1:1: user: expected an account "
	    "name, found nothing");
	fails_with("metrics:\n  listen:\n", "secd.yaml:2:3: metrics.listen: "
	    "expected an IP address and port, found nothing");
}
END_TEST

START_TEST(test_conf_rejects_bad_booleans)
{

	fails_with("tls: {tickets: yes}\n", "secd.yaml:1:16: tls.tickets: "
	    "expected true or false, found 'yes'");
	fails_with("tls: {tickets: 1}\n", "secd.yaml:1:16: tls.tickets: "
	    "expected true or false, found '1'");
	fails_with("tls: {tickets: True}\n", "secd.yaml:1:16: tls.tickets: "
	    "expected true or false, found 'True'");
}
END_TEST

/* Keys. */

START_TEST(test_conf_rejects_unknown_key)
{

	fails_with("limits:\n  handshake_timout: 5s\n",
	    "secd.yaml:2:3: limits.handshake_timout: unknown key, did you "
	    "mean 'handshake_timeout'?");
	fails_with("tsl: {}\n", "secd.yaml:1:1: tsl: unknown key, did you "
	    "mean 'tls'?");
	fails_with("tls: {cert: a.pem}\n", "secd.yaml:1:7: tls.cert: unknown "
	    "key, did you mean 'certificate'?");
	fails_with("limits:\n  idel_timeout: 5s\n", "secd.yaml:2:3: "
	    "limits.idel_timeout: unknown key, did you mean 'idle_timeout'?");
}
END_TEST

START_TEST(test_conf_rejects_unknown_key_without_suggestion)
{

	fails_with("log:\n  colour: true\n", "secd.yaml:2:3: log.colour: "
	    "unknown key; expected one of level, format");
	fails_with("frobnicate: 1\n", "secd.yaml:1:1: frobnicate: unknown "
	    "key; expected one of listen, workers, shutdown_timeout, tls, "
	    "limits, auth, handler, log, metrics, audit, user, group");
}
END_TEST

START_TEST(test_conf_rejects_key_in_wrong_section)
{

	fails_with("handshake_timeout: 5s\n", "secd.yaml:1:1: "
	    "handshake_timeout: unknown key at the top level, did you mean "
	    "'limits.handshake_timeout'?");
	fails_with("auth:\n  ciphers: []\n", "secd.yaml:2:3: auth.ciphers: "
	    "unknown key in auth, did you mean 'tls.ciphers'?");
}
END_TEST

START_TEST(test_conf_rejects_duplicate_key)
{

	fails_with("workers: 2\nlog: {}\nworkers: 3\n",
	    "secd.yaml:3:1: workers: duplicate key, first given at line 1, "
	    "column 1");
	fails_with("tls:\n  key: a\n  certificate: b\n  key: c\n",
	    "secd.yaml:4:3: tls.key: duplicate key, first given at line 2, "
	    "column 3");
	fails_with("handler:\n  options: {a: 1, b: 2, a: 3}\n",
	    "secd.yaml:2:25: handler.options.a: duplicate key, first given "
	    "at line 2, column 13");
}
END_TEST

START_TEST(test_conf_reports_several_errors)
{

	fails_with("workers: many\nlog: {level: loud}\nuser: Root\n",
	    "secd.yaml:1:10: workers: expected auto or an integer between 1 "
	    "and 256, found 'many'",
	    "secd.yaml:2:14: log.level: expected one of debug, info, notice, "
	    "warning, error, found 'loud'",
	    "secd.yaml:3:7: user: expected an account name of 1 to 32 "
	    "lower-case letters, digits, '_' or '-', not starting with a "
	    "digit or '-', found 'Root'");
}
END_TEST

START_TEST(test_conf_stops_after_too_many_errors)
{
	char text[4096];
	size_t i, o = 0;

	for (i = 0; i < 50; i++)
		o += (size_t)snprintf(text + o, sizeof(text) - o,
		    "bogus%zu: 1\n", i);
	ck_assert_ptr_null(load(text));
	ck_assert_uint_eq(conf_diag_count(&diag), CONF_DIAG_MAX + 1);
	ck_assert_str_eq(conf_diag_get(&diag, 0), "secd.yaml:1:1: bogus0: "
	    "unknown key; expected one of listen, workers, shutdown_timeout, "
	    "tls, limits, auth, handler, log, metrics, audit, user, group");
	ck_assert_str_eq(conf_diag_get(&diag, CONF_DIAG_MAX - 1),
	    "secd.yaml:20:1: bogus19: unknown key; expected one of listen, "
	    "workers, shutdown_timeout, tls, limits, auth, handler, log, "
	    "metrics, audit, user, group");
	ck_assert_str_eq(conf_diag_get(&diag, CONF_DIAG_MAX),
	    "too many errors");
	ck_assert_ptr_null(conf_diag_get(&diag, CONF_DIAG_MAX + 1));
}
END_TEST

/* Ranges. */

START_TEST(test_conf_rejects_out_of_range_integers)
{

	fails_with("limits: {max_connections: 0}\n", "secd.yaml:1:27: "
	    "limits.max_connections: expected an integer between 1 and "
	    "1000000, found '0'");
	fails_with("limits: {max_connections: 1000001}\n", "secd.yaml:1:27: "
	    "limits.max_connections: expected an integer between 1 and "
	    "1000000, found '1000001'");
	fails_with("limits: {max_pipeline: 99999999999999999999999}\n",
	    "secd.yaml:1:24: limits.max_pipeline: expected an integer "
	    "between 1 and 1024, found '99999999999999999999999'");
	fails_with("workers: 0\n", "secd.yaml:1:10: workers: expected auto "
	    "or an integer between 1 and 256, found '0'");
	fails_with("workers: 257\n", "secd.yaml:1:10: workers: expected auto "
	    "or an integer between 1 and 256, found '257'");
	fails_with("workers: -1\n", "secd.yaml:1:10: workers: expected auto "
	    "or an integer between 1 and 256, found '-1'");
	fails_with("auth: {scrypt_p: 17}\n", "secd.yaml:1:18: auth.scrypt_p: "
	    "expected an integer between 1 and 16, found '17'");
	fails_with("auth: {max_failures: 1001}\n", "secd.yaml:1:22: "
	    "auth.max_failures: expected an integer between 1 and 1000, "
	    "found '1001'");
}
END_TEST

START_TEST(test_conf_rejects_scrypt_n_not_power_of_two)
{

	fails_with("auth: {scrypt_n: 1000}\n", "secd.yaml:1:18: "
	    "auth.scrypt_n: expected a power of two between 1024 and "
	    "1048576, found '1000'");
	fails_with("auth: {scrypt_n: 3072}\n", "secd.yaml:1:18: "
	    "auth.scrypt_n: expected a power of two between 1024 and "
	    "1048576, found '3072'");
	fails_with("auth: {scrypt_n: 2097152}\n", "secd.yaml:1:18: "
	    "auth.scrypt_n: expected a power of two between 1024 and "
	    "1048576, found '2097152'");
	fails_with("auth: {scrypt_n: 512}\n", "secd.yaml:1:18: "
	    "auth.scrypt_n: expected a power of two between 1024 and "
	    "1048576, found '512'");
}
END_TEST

START_TEST(test_conf_rejects_bad_durations)
{
	static const char pre[] = "secd.yaml:1:19: shutdown_timeout: "
	    "expected a duration between 0s and 10m, found ";
	static const struct {
		const char	*value;
		const char	*found;
	} cases[] = {
		{ "10", "'10' (a unit is required: ms, s, m, h or d)" },
		{ "10x", "'10x' (unknown unit; use ms, s, m, h or d)" },
		{ "10S", "'10S' (unknown unit; use ms, s, m, h or d)" },
		{ "-1s", "'-1s' (negative values are not allowed)" },
		{ "1.5s", "'1.5s' (fractions are not allowed; use a smaller "
		    "unit)" },
		{ "99999999999999999999s", "'99999999999999999999s' (too "
		    "large)" },
		{ "18446744073709551615d", "'18446744073709551615d' (too "
		    "large)" },
		{ "10 s", "'10 s' (no spaces are allowed)" },
		{ "30m1h", "'30m1h' (units must go from largest to smallest, "
		    "each once, as in 1h30m)" },
		{ "1s1s", "'1s1s' (units must go from largest to smallest, "
		    "each once, as in 1h30m)" },
		{ "s", "'s'" },
		{ "11m", "'11m'" },
		{ "1h", "'1h'" },
		{ "\"\"", "an empty string" },
	};
	char text[128], want[256];
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(text, sizeof(text), "shutdown_timeout: %s\n",
		    cases[i].value);
		snprintf(want, sizeof(want), "%s%s", pre, cases[i].found);
		fails_with(text, want);
	}
	fails_with("limits: {handshake_timeout: 99ms}\n", "secd.yaml:1:29: "
	    "limits.handshake_timeout: expected a duration between 100ms and "
	    "5m, found '99ms'");
	fails_with("tls: {ticket_lifetime: 8d}\n", "secd.yaml:1:24: "
	    "tls.ticket_lifetime: expected a duration between 1m and 7d, "
	    "found '8d'");
	fails_with("auth: {lockout: 0s}\n", "secd.yaml:1:17: auth.lockout: "
	    "expected a duration between 1s and 1d, found '0s'");
}
END_TEST

START_TEST(test_conf_rejects_bad_sizes)
{

	fails_with("limits: {max_message_bytes: 1.5MiB}\n", "secd.yaml:1:29: "
	    "limits.max_message_bytes: expected a size between 8KiB and "
	    "1MiB, found '1.5MiB' (fractions are not allowed; use a smaller "
	    "unit)");
	fails_with("limits: {max_message_bytes: 64kb}\n", "secd.yaml:1:29: "
	    "limits.max_message_bytes: expected a size between 8KiB and "
	    "1MiB, found '64kb' (unknown unit; use B, KiB, MiB, GiB, KB, MB "
	    "or GB)");
	fails_with("limits: {max_message_bytes: -1KiB}\n", "secd.yaml:1:29: "
	    "limits.max_message_bytes: expected a size between 8KiB and "
	    "1MiB, found '-1KiB' (negative values are not allowed)");
	fails_with("limits: {max_message_bytes: 99999999999999999999}\n",
	    "secd.yaml:1:29: limits.max_message_bytes: expected a size "
	    "between 8KiB and 1MiB, found '99999999999999999999' (too "
	    "large)");
	fails_with("limits: {max_message_bytes: 17179869184GiB}\n",
	    "secd.yaml:1:29: limits.max_message_bytes: expected a size "
	    "between 8KiB and 1MiB, found '17179869184GiB' (too large)");
	fails_with("limits: {max_message_bytes: 1023}\n", "secd.yaml:1:29: "
	    "limits.max_message_bytes: expected a size between 8KiB and "
	    "1MiB, found '1023'");
	fails_with("limits: {write_buffer: 65MiB}\n", "secd.yaml:1:24: "
	    "limits.write_buffer: expected a size between 4KiB and 64MiB, "
	    "found '65MiB'");
	fails_with("limits: {write_buffer: 64 KiB}\n", "secd.yaml:1:24: "
	    "limits.write_buffer: expected a size between 4KiB and 64MiB, "
	    "found '64 KiB' (no spaces are allowed)");
}
END_TEST

/* Addresses. */

START_TEST(test_conf_rejects_bad_addresses)
{
	static const char pre[] = "secd.yaml:1:10: listen[0]: expected an "
	    "IP address and port such as 127.0.0.1:7443 or [::1]:7443, found ";
	static const struct {
		const char	*value;
		const char	*found;
	} cases[] = {
		{ "127.0.0.1", "'127.0.0.1' (missing port)" },
		{ "127.0.0.1:", "'127.0.0.1:' (missing port)" },
		{ "127.0.0.1:0", "'127.0.0.1:0' (the port must be a number "
		    "from 1 to 65535)" },
		{ "127.0.0.1:70000", "'127.0.0.1:70000' (the port must be a "
		    "number from 1 to 65535)" },
		{ "127.0.0.1:https", "'127.0.0.1:https' (the port must be a "
		    "number from 1 to 65535)" },
		{ "localhost:7443", "'localhost:7443' (host names are not "
		    "allowed, only IP addresses)" },
		{ "256.1.1.1:7443", "'256.1.1.1:7443' (not an IPv4 address)" },
		{ "127.1:7443", "'127.1:7443' (not an IPv4 address)" },
		{ "::1:7443", "'::1:7443' (write IPv6 addresses in brackets, "
		    "as in [::1]:7443)" },
		{ "[::1]", "'[::1]' (missing port)" },
		{ "[::1", "'[::1' (missing ']')" },
		{ "[::g]:1", "'[::g]:1' (not an IPv6 address)" },
		{ "[127.0.0.1]:1", "'[127.0.0.1]:1' (not an IPv6 address)" },
		{ "[fe80::1%eth0]:1", "'[fe80::1%eth0]:1' (zone indexes are "
		    "not supported)" },
		{ ":7443", "':7443' (missing address; use 0.0.0.0 or [::] for "
		    "every address)" },
	};
	char text[128], want[512];
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(text, sizeof(text), "listen: [\"%s\"]\n",
		    cases[i].value);
		snprintf(want, sizeof(want), "%s%s", pre, cases[i].found);
		fails_with(text, want);
	}
	fails_with("listen: 127.0.0.1:7443\n", "secd.yaml:1:9: listen: "
	    "expected a sequence of addresses, found '127.0.0.1:7443'");
	fails_with("listen: []\n", "secd.yaml:1:9: listen: expected 1 to 16 "
	    "addresses, found 0");
	fails_with("listen:\n  - [2001:db8::1]:7443\n", "secd.yaml:2:18: "
	    "syntax error: did not find expected '-' indicator (while parsing "
	    "a block collection at 2:3); quote IPv6 addresses, as in "
	    "\"[::1]:7443\"");
	fails_with("listen: [[\"::1\"]]\n", "secd.yaml:1:10: listen[0]: "
	    "expected an IP address and port, found a sequence (quote IPv6 "
	    "addresses, as in \"[::1]:7443\")");
	fails_with("listen: [::1]:7443\n", "secd.yaml:1:10: syntax error: did "
	    "not find expected node content (while parsing a flow node at "
	    "1:10); quote IPv6 addresses, as in \"[::1]:7443\"");
	fails_with("metrics: {listen: [1]}\n", "secd.yaml:1:19: "
	    "metrics.listen: expected an IP address and port, found a "
	    "sequence (quote IPv6 addresses, as in \"[::1]:7443\")");
	fails_with("metrics: {listen: \"localhost:9100\"}\n", "secd.yaml:1:19: "
	    "metrics.listen: expected an IP address and port such as "
	    "127.0.0.1:7443 or [::1]:7443, found 'localhost:9100' (host "
	    "names are not allowed, only IP addresses)");
}
END_TEST

START_TEST(test_conf_rejects_too_many_addresses)
{
	char text[1024];
	size_t i, o;

	o = (size_t)snprintf(text, sizeof(text), "listen:\n");
	for (i = 1; i <= 17; i++)
		o += (size_t)snprintf(text + o, sizeof(text) - o,
		    "  - 127.0.0.1:%zu\n", i);
	fails_with(text, "secd.yaml:2:3: listen: expected 1 to 16 addresses, "
	    "found 17");
}
END_TEST

START_TEST(test_conf_rejects_duplicate_addresses)
{

	fails_with("listen: [\"[::1]:80\", 127.0.0.1:80, \"[0:0::1]:80\"]\n",
	    "secd.yaml:1:36: listen[2]: duplicate address [::1]:80, already "
	    "given as listen[0]");
}
END_TEST

/* Enumerations. */

START_TEST(test_conf_rejects_bad_enums)
{

	fails_with("tls: {client_auth: maybe}\n", "secd.yaml:1:20: "
	    "tls.client_auth: expected one of none, optional, required, "
	    "found 'maybe'");
	fails_with("tls: {min_version: 1.1}\n", "secd.yaml:1:20: "
	    "tls.min_version: expected one of 1.2, 1.3, found '1.1'");
	fails_with("log: {format: xml}\n", "secd.yaml:1:15: log.format: "
	    "expected one of text, json, found 'xml'");
	fails_with("auth: {methods: [password]}\n", "secd.yaml:1:17: "
	    "auth.methods: expected one of password, certificate, both, "
	    "found a sequence");
	fails_with("handler: {builtin: sqlite}\n", "secd.yaml:1:20: "
	    "handler.builtin: expected one of ledger, found 'sqlite'");
}
END_TEST

START_TEST(test_conf_rejects_bad_cipher_and_group_lists)
{

	fails_with("tls:\n  ciphers: [TLS_AES_128_GCM_SHA256, "
	    "ECDHE-RSA-AES128-GCM-SHA256]\n",
	    "secd.yaml:2:37: tls.ciphers[1]: expected one of "
	    "TLS_CHACHA20_POLY1305_SHA256, TLS_AES_128_GCM_SHA256, "
	    "TLS_AES_256_GCM_SHA384, found 'ECDHE-RSA-AES128-GCM-SHA256'");
	fails_with("tls:\n  groups: [x25519, x25519]\n",
	    "secd.yaml:2:20: tls.groups[1]: duplicate entry 'x25519', already "
	    "given as tls.groups[0]");
	fails_with("tls:\n  groups: []\n", "secd.yaml:2:11: tls.groups: "
	    "expected 1 to 4 groups, found 0");
	fails_with("tls:\n  groups: x25519\n", "secd.yaml:2:11: tls.groups: "
	    "expected a sequence of groups, found 'x25519'");
	fails_with("tls:\n  groups: [secp256r1]\n", "secd.yaml:2:12: "
	    "tls.groups[0]: expected one of x25519, p256, p384, p521, found "
	    "'secp256r1'");
	ck_assert_str_eq(conf_cipher_name(CONF_CIPHER_AES_256_GCM_SHA384),
	    "TLS_AES_256_GCM_SHA384");
	ck_assert_str_eq(conf_group_name(CONF_GROUP_P384), "p384");
	ck_assert_str_eq(conf_group_name(CONF_GROUP_COUNT), "?");
}
END_TEST

START_TEST(test_conf_rejects_bad_account_names)
{
	struct conf *c;

	c = load_ok("user: abcdefghijklmnopqrstuvwxyz01234_\ngroup: _x-1\n");
	ck_assert_str_eq(c->user, "abcdefghijklmnopqrstuvwxyz01234_");
	ck_assert_str_eq(c->group, "_x-1");
	conf_free(c);
	fails_with("user: abcdefghijklmnopqrstuvwxyz012345_\n", "secd.yaml:1:7: "
	    "user: expected an account name of 1 to 32 lower-case letters, "
	    "digits, '_' or '-', not starting with a digit or '-', found "
	    "'abcdefghijklmnopqrstuvwxyz012345_'");
	fails_with("group: -x\n", "secd.yaml:1:8: group: expected an account "
	    "name of 1 to 32 lower-case letters, digits, '_' or '-', not "
	    "starting with a digit or '-', found '-x'");
	fails_with("user: \"ro ot\"\n", "secd.yaml:1:7: user: expected an "
	    "account name of 1 to 32 lower-case letters, digits, '_' or '-', "
	    "not starting with a digit or '-', found 'ro ot'");
}
END_TEST

/* Rules between keys. */

START_TEST(test_conf_rejects_certificate_without_key)
{

	fails_with("tls:\n  certificate: a.pem\n", "secd.yaml:2:16: "
	    "tls.certificate: needs tls.key as well (set both, or neither to "
	    "use development certificates)");
	fails_with("tls:\n  key: a.key\n", "secd.yaml:2:8: tls.key: needs "
	    "tls.certificate as well (set both, or neither to use "
	    "development certificates)");
}
END_TEST

START_TEST(test_conf_rejects_client_auth_without_client_ca)
{
	struct conf *c;

	fails_with("tls:\n  client_auth: optional\n", "secd.yaml:2:16: "
	    "tls.client_auth: 'optional' needs tls.client_ca, the CA file "
	    "that client certificates are checked against");
	c = load_ok("tls: {client_auth: optional, client_ca: ca.pem}\n");
	ck_assert_int_eq(c->tls.client_auth, CONF_CLIENT_AUTH_OPTIONAL);
	conf_free(c);
}
END_TEST

START_TEST(test_conf_rejects_certificate_login_without_client_auth)
{

	fails_with("auth:\n  methods: certificate\n", "secd.yaml:2:12: "
	    "auth.methods: 'certificate' needs tls.client_auth set to "
	    "optional or required");
}
END_TEST

START_TEST(test_conf_rejects_per_ip_limit_above_total)
{
	struct conf *c;

	/* The default per-IP limit yields to a lower total... */
	c = load_ok("limits:\n  max_connections: 100\n");
	ck_assert_uint_eq(c->limits.max_connections_per_ip, 100);
	conf_free(c);
	/* ...but one that is set does not. */
	fails_with("limits:\n  max_connections: 100\n"
	    "  max_connections_per_ip: 101\n", "secd.yaml:3:27: "
	    "limits.max_connections_per_ip: limits.max_connections_per_ip "
	    "(101) must not exceed limits.max_connections (100)");
	fails_with("limits:\n  max_connections_per_ip: 10001\n",
	    "secd.yaml:2:27: limits.max_connections_per_ip: "
	    "limits.max_connections_per_ip (10001) must not exceed "
	    "limits.max_connections (10000)");
}
END_TEST

START_TEST(test_conf_rejects_builtin_and_module_together)
{

	fails_with("handler:\n  builtin: ledger\n  module: x.so\n",
	    "secd.yaml:2:3: handler: expected exactly one of builtin or "
	    "module, found both");
}
END_TEST

START_TEST(test_conf_rejects_metrics_on_a_listen_address)
{

	fails_with("listen: [\"[::]:7443\", 0.0.0.0:7443]\n"
	    "metrics: {listen: 0.0.0.0:7443}\n", "secd.yaml:2:19: "
	    "metrics.listen: 0.0.0.0:7443 is also listen[1]; metrics need an "
	    "address of their own");
}
END_TEST

/* Handler options. */

START_TEST(test_conf_keeps_handler_options_with_positions)
{
	struct conf *c;
	struct conf_diag d2;
	const struct conf_option *o;

	c = load_ok("handler:\n"
	    "  options:\n"
	    "    database: secd.db\n"
	    "    Pool-Size: 010\n");
	ck_assert_uint_eq(c->handler.noptions, 2);
	ck_assert_ptr_nonnull(o = conf_handler_option(c, "Pool-Size"));
	ck_assert_str_eq(o->value, "010");
	ck_assert_ptr_nonnull(o = conf_handler_option(c, "database"));
	ck_assert_str_eq(o->value, "secd.db");
	ck_assert_uint_eq(o->line, 3);
	ck_assert_uint_eq(o->column, 15);

	/* A handler reports a bad option in the loader's format. */
	conf_diag_init(&d2);
	conf_diag_key(&d2, c, "handler.options.database", "cannot open: %s",
	    "Permission denied");
	conf_diag_key(&d2, c, "tls.certificate", "not %s", "set");
	ck_assert_uint_eq(conf_diag_count(&d2), 2);
	ck_assert_str_eq(conf_diag_get(&d2, 0), "secd.yaml:3:15: "
	    "handler.options.database: cannot open: Permission denied");
	ck_assert_str_eq(conf_diag_get(&d2, 1), "secd.yaml: tls.certificate: "
	    "not set");
	conf_diag_clear(&d2);
	conf_free(c);
}
END_TEST

START_TEST(test_conf_rejects_bad_handler_options)
{
	char text[4096];
	size_t i, o;

	fails_with("handler: {options: [a]}\n", "secd.yaml:1:20: "
	    "handler.options: expected a mapping of option names to values, "
	    "found a sequence");
	fails_with("handler: {options: {a.b: 1}}\n", "secd.yaml:1:21: "
	    "handler.options: expected an option name of 1 to 64 letters, "
	    "digits, '_' or '-', found 'a.b'");
	fails_with("handler: {options: {a: {b: 1}}}\n", "secd.yaml:1:24: "
	    "handler.options.a: expected a value (text, a number or a "
	    "boolean), found a mapping");
	fails_with("handler:\n  options:\n    a:\n", "secd.yaml:3:5: "
	    "handler.options.a: expected a value (text, a number or a "
	    "boolean), found nothing");

	o = (size_t)snprintf(text, sizeof(text), "handler:\n  options:\n");
	for (i = 0; i < 65; i++)
		o += (size_t)snprintf(text + o, sizeof(text) - o,
		    "    o%zu: %zu\n", i, i);
	fails_with(text, "secd.yaml:3:5: handler.options: expected at most 64 "
	    "options, found 65");
}
END_TEST

/* Hostile input. */

START_TEST(test_conf_rejects_alias_bomb_fast)
{
	static const char bomb[] =
	    "a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\","
	    "\"lol\",\"lol\"]\n"
	    "b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\n"
	    "c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\n"
	    "d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\n"
	    "e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]\n"
	    "f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]\n"
	    "g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]\n"
	    "h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]\n"
	    "i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]\n"
	    "handler: {options: {x: *i}}\n";
	struct timespec t0, t1;
	double secs;

	ck_assert_int_eq(clock_gettime(CLOCK_MONOTONIC, &t0), 0);
	fails_with(bomb, "secd.yaml:2:8: b[0]: aliases are not supported "
	    "(found '*a'); write the value out in full");
	ck_assert_int_eq(clock_gettime(CLOCK_MONOTONIC, &t1), 0);
	secs = (double)(t1.tv_sec - t0.tv_sec) +
	    (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	ck_assert_msg(secs < 0.5, "took %.3f s", secs);

	/* An alias of a valid value is refused just the same. */
	fails_with("limits:\n  login_timeout: &t 10s\n  idle_timeout: *t\n",
	    "secd.yaml:3:17: limits.idle_timeout: aliases are not supported "
	    "(found '*t'); write the value out in full");
}
END_TEST

START_TEST(test_conf_rejects_deep_nesting)
{
	char *text, want[256];
	size_t i, o, n = 10000;

	ck_assert_ptr_nonnull(text = malloc(n * 2 + 2));
	memset(text, '[', n);
	memset(text + n, ']', n);
	text[2 * n] = '\n';
	text[2 * n + 1] = '\0';
	o = (size_t)snprintf(want, sizeof(want), "secd.yaml:1:33: ");
	for (i = 0; i < CONF_MAX_DEPTH; i++)
		o += (size_t)snprintf(want + o, sizeof(want) - o, "[0]");
	snprintf(want + o, sizeof(want) - o, ": nested deeper than the limit "
	    "of 32 levels");
	fails_with(text, want);

	/* Unbalanced, and as mappings: the same limit, no crash. */
	memset(text, '{', n);
	text[n] = '\0';
	fails_like(text, n, "secd.yaml:1:33: ", "nested deeper than the "
	    "limit of 32 levels");
	free(text);

	/* 32 levels are fine for the parser (the schema says no). */
	fails_with("handler: {options: {a: [[[[[[[[[[[[[[[[[[[[[[[[[[[[["
	    "]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}}\n", "secd.yaml:1:24: "
	    "handler.options.a: expected a value (text, a number or a "
	    "boolean), found a sequence");
}
END_TEST

START_TEST(test_conf_rejects_too_many_nodes)
{
	char *text;
	size_t i, o = 0, cap = 64 * 1024;

	ck_assert_ptr_nonnull(text = malloc(cap));
	o += (size_t)snprintf(text + o, cap - o, "listen: [");
	for (i = 0; i < 10000; i++)
		o += (size_t)snprintf(text + o, cap - o, "1,");
	snprintf(text + o, cap - o, "1]\n");
	fails_with(text, "secd.yaml:1:20004: listen[9997]: too many nodes: "
	    "the limit is 10000 scalars, mappings and sequences");
	free(text);
}
END_TEST

START_TEST(test_conf_rejects_nul_byte)
{
	static const char text[] = "workers: 4\0\nlog: {}\n";
	static const char esc[] = "user: \"ab\\0c\"\n";

	fails_with_v(text, sizeof(text) - 1, (const char *const[]){
	    "secd.yaml:1:11: invalid input: control characters are not "
	    "allowed (code 0x0)", NULL });
	fails_with(esc, "secd.yaml:1:7: user: value contains a NUL "
	    "character");
}
END_TEST

START_TEST(test_conf_rejects_invalid_utf8)
{

	fails_with("log:\n  level: \"inf\xc3\x28\"\n", "secd.yaml:2:15: "
	    "invalid input: invalid trailing UTF-8 octet (code 0x28)");
	fails_with("user: \xff\n", "secd.yaml:1:7: invalid input: invalid "
	    "leading UTF-8 octet (code 0xff)");
	/* Valid UTF-8 gets through to the schema, quoted back intact. */
	fails_with("log: {level: \"d\xc3\xa9\x62ug\"}\n", "secd.yaml:1:14: "
	    "log.level: expected one of debug, info, notice, warning, error, "
	    "found 'd\xc3\xa9\x62ug'");
}
END_TEST

START_TEST(test_conf_rejects_very_long_scalar)
{
	char *text;
	size_t n = CONF_MAX_SCALAR + 1, o;
	struct conf *c;

	ck_assert_ptr_nonnull(text = malloc(n + 64));
	o = (size_t)snprintf(text, 64, "handler: {options: {v: ");
	memset(text + o, 'x', n);
	snprintf(text + o + n, 64, "}}\n");
	fails_with(text, "secd.yaml:1:24: handler.options.v: value longer "
	    "than the limit of 4096 bytes");

	/* Exactly at the limit is fine, and kept whole. */
	snprintf(text + o + n - 1, 64, "}}\n");
	c = load_ok(text);
	ck_assert_uint_eq(strlen(conf_handler_option(c, "v")->value),
	    CONF_MAX_SCALAR);
	conf_free(c);

	/* A long bad value is cut short in the message. */
	memset(text, 'y', 200);
	memcpy(text, "user: ", 6);
	text[200] = '\0';
	fails_with(text, "secd.yaml:1:7: user: expected an account name of 1 "
	    "to 32 lower-case letters, digits, '_' or '-', not starting with "
	    "a digit or '-', found 'yyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyy"
	    "yyyyyyyyyyyyyyyyyyyy...'");
	free(text);
}
END_TEST

START_TEST(test_conf_quotes_control_characters_in_messages)
{

	fails_with("\"a\\nb\": 1\n", "secd.yaml:1:1: a\\nb: unknown key; "
	    "expected one of listen, workers, shutdown_timeout, tls, limits, "
	    "auth, handler, log, metrics, audit, user, group");
	fails_with("user: \"x'\\t\\x01\\r\"\n", "secd.yaml:1:7: user: expected "
	    "an account name of 1 to 32 lower-case letters, digits, '_' or "
	    "'-', not starting with a digit or '-', found 'x\\'\\t\\x01\\r'");
	/* Cut on a character boundary: 59 bytes, then a 2-byte 'é'. */
	fails_with("log: {level: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	    "aaaaaaaa\xc3\xa9zz}\n", "secd.yaml:1:14: log.level: expected "
	    "one of debug, info, notice, warning, error, found 'aaaaaaaaaaaaaa"
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa...'");
}
END_TEST

START_TEST(test_conf_rejects_oversized_file)
{
	char *text;
	size_t n = CONF_MAX_FILE_BYTES + 1;

	ck_assert_ptr_nonnull(text = malloc(n));
	memset(text, '#', n);
	text[n - 1] = '\n';
	ck_assert_ptr_null(load_len(text, n));
	ck_assert_uint_eq(conf_diag_count(&diag), 1);
	ck_assert_str_eq(conf_diag_get(&diag, 0),
	    "secd.yaml: larger than the limit of 1 MiB");
	/* One byte less is only a (long) comment. */
	text[n - 2] = '\n';
	conf_free(load_len(text, n - 1));
	ck_assert_msg(conf_diag_count(&diag) == 0, "%s", all_msgs());
	free(text);
}
END_TEST

/* The diag itself. */

START_TEST(test_conf_diag_collects_and_clears)
{
	struct conf_diag d;
	char buf[256];
	FILE *f;
	size_t i;

	conf_diag_init(&d);
	ck_assert_uint_eq(conf_diag_count(&d), 0);
	ck_assert_ptr_null(conf_diag_get(&d, 0));
	conf_diag_add(&d, "one %d", 1);
	conf_diag_add(&d, "two");
	conf_diag_add(NULL, "ignored");
	ck_assert_uint_eq(conf_diag_count(&d), 2);
	ck_assert_str_eq(conf_diag_get(&d, 1), "two");

	ck_assert_ptr_nonnull(f = tmpfile());
	conf_diag_print(&d, f);
	rewind(f);
	ck_assert_uint_eq(fread(buf, 1, sizeof(buf), f), 10);
	ck_assert(memcmp(buf, "one 1\ntwo\n", 10) == 0);
	fclose(f);

	for (i = 0; i < 30; i++)
		conf_diag_add(&d, "m%zu", i);
	ck_assert_uint_eq(conf_diag_count(&d), CONF_DIAG_MAX + 1);
	ck_assert_str_eq(conf_diag_get(&d, CONF_DIAG_MAX), "too many errors");
	conf_diag_clear(&d);
	ck_assert_uint_eq(conf_diag_count(&d), 0);
	conf_diag_add(&d, "again");
	ck_assert_str_eq(conf_diag_get(&d, 0), "again");
	conf_diag_clear(&d);
}
END_TEST

/* The shipped example and the documentation. */

START_TEST(test_conf_shipped_example_is_valid)
{
	char path[PATH_MAX], key[128], want[160], *text;
	const char *leaf;
	struct conf *c;
	size_t i;

	snprintf(path, sizeof(path), "%s/conf/secd.yaml", srcdir());
	c = conf_load_file(path, &diag);
	ck_assert_msg(c != NULL, "%s does not load:%s", path, all_msgs());
	ck_assert_uint_eq(conf_diag_count(&diag), 0);
	/*
	 * It spells out the defaults, so it loads as them, but for the three
	 * settings that have none and that a working /etc/secd.yaml needs.
	 */
	ck_assert_str_eq(c->tls.certificate, "/etc/secd/tls/server.pem");
	ck_assert_str_eq(c->tls.key, "/etc/secd/tls/server.key");
	ck_assert_uint_eq(c->handler.noptions, 1);
	ck_assert_str_eq(c->handler.options[0].key, "database");
	ck_assert_str_eq(c->handler.options[0].value, "/var/lib/secd/ledger.db");
	free(c->tls.certificate);
	free(c->tls.key);
	c->tls.certificate = c->tls.key = NULL;
	c->handler.noptions = 0;	/* conf_free frees by the array */
	assert_defaults(c);
	c->handler.noptions = 1;
	conf_free(c);

	/* Every key appears in it, set or commented out. */
	text = slurp(path);
	for (i = 0; conf_schema_key(i, key, sizeof(key)) == 0; i++) {
		leaf = strrchr(key, '.') != NULL ? strrchr(key, '.') + 1 : key;
		snprintf(want, sizeof(want), " %s:", leaf);
		ck_assert_msg(strstr(text, want) != NULL ||
		    (want[0] = '\n', strstr(text, want) != NULL),
		    "%s does not show key %s", path, key);
	}
	free(text);
}
END_TEST

START_TEST(test_conf_docs_mention_every_key)
{
	char path[PATH_MAX], key[128], want[160], *text;
	size_t i;

	snprintf(path, sizeof(path), "%s/docs/configuration.md", srcdir());
	text = slurp(path);
	for (i = 0; conf_schema_key(i, key, sizeof(key)) == 0; i++) {
		snprintf(want, sizeof(want), "`%s`", key);
		ck_assert_msg(strstr(text, want) != NULL,
		    "%s does not document %s", path, want);
	}
	ck_assert_uint_eq(i, 47);
	/* The format of messages is documented too. */
	ck_assert_ptr_nonnull(strstr(text, "secd.yaml:12:5: tls.certificate: "
	    "expected a file path, found a mapping"));
	free(text);
}
END_TEST

START_TEST(test_conf_schema_keys_are_listed_in_order)
{
	char key[128];
	size_t n;

	ck_assert_int_eq(conf_schema_key(0, key, sizeof(key)), 0);
	ck_assert_str_eq(key, "listen");
	ck_assert_int_eq(conf_schema_key(3, key, sizeof(key)), 0);
	ck_assert_str_eq(key, "tls");
	ck_assert_int_eq(conf_schema_key(4, key, sizeof(key)), 0);
	ck_assert_str_eq(key, "tls.certificate");
	for (n = 0; conf_schema_key(n, key, sizeof(key)) == 0; n++)
		;
	ck_assert_str_eq(key, "group");
	ck_assert_uint_eq(n, 47);
}
END_TEST

Suite *conf_suite(void);

Suite *
conf_suite(void)
{
	Suite *s;
	TCase *tc;

	s = suite_create("conf");
	tc = tcase_create("conf");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_conf_new_defaults_has_every_default);
	tcase_add_test(tc, test_conf_empty_input_gives_defaults);
	tcase_add_test(tc, test_conf_full_file_round_trips);
	tcase_add_test(tc, test_conf_accepts_value_spellings);
	tcase_add_test(tc, test_conf_resolves_relative_paths_in_buffers);
	tcase_add_test(tc, test_conf_resolves_relative_paths_against_the_file);
	tcase_add_test(tc, test_conf_rejects_missing_file);
	tcase_add_test(tc, test_conf_check_files_reports_missing_certificate);
	tcase_add_test(tc, test_conf_rejects_unclosed_quote);
	tcase_add_test(tc, test_conf_rejects_bad_indentation);
	tcase_add_test(tc, test_conf_rejects_tab_indentation);
	tcase_add_test(tc, test_conf_rejects_syntax_error_without_context);
	tcase_add_test(tc, test_conf_rejects_overlong_values);
	tcase_add_test(tc, test_conf_rejects_multiple_documents);
	tcase_add_test(tc, test_conf_rejects_top_level_scalar);
	tcase_add_test(tc, test_conf_rejects_non_scalar_key);
	tcase_add_test(tc, test_conf_rejects_tags);
	tcase_add_test(tc, test_conf_rejects_mapping_for_path);
	tcase_add_test(tc, test_conf_rejects_sequence_for_section);
	tcase_add_test(tc, test_conf_rejects_string_for_integer);
	tcase_add_test(tc, test_conf_rejects_null_for_scalar);
	tcase_add_test(tc, test_conf_rejects_bad_booleans);
	tcase_add_test(tc, test_conf_rejects_unknown_key);
	tcase_add_test(tc, test_conf_rejects_unknown_key_without_suggestion);
	tcase_add_test(tc, test_conf_rejects_key_in_wrong_section);
	tcase_add_test(tc, test_conf_rejects_duplicate_key);
	tcase_add_test(tc, test_conf_reports_several_errors);
	tcase_add_test(tc, test_conf_stops_after_too_many_errors);
	tcase_add_test(tc, test_conf_rejects_out_of_range_integers);
	tcase_add_test(tc, test_conf_rejects_scrypt_n_not_power_of_two);
	tcase_add_test(tc, test_conf_rejects_bad_durations);
	tcase_add_test(tc, test_conf_rejects_bad_sizes);
	tcase_add_test(tc, test_conf_rejects_bad_addresses);
	tcase_add_test(tc, test_conf_rejects_too_many_addresses);
	tcase_add_test(tc, test_conf_rejects_duplicate_addresses);
	tcase_add_test(tc, test_conf_rejects_bad_enums);
	tcase_add_test(tc, test_conf_rejects_bad_cipher_and_group_lists);
	tcase_add_test(tc, test_conf_rejects_bad_account_names);
	tcase_add_test(tc, test_conf_rejects_certificate_without_key);
	tcase_add_test(tc, test_conf_rejects_client_auth_without_client_ca);
	tcase_add_test(tc,
	    test_conf_rejects_certificate_login_without_client_auth);
	tcase_add_test(tc, test_conf_rejects_per_ip_limit_above_total);
	tcase_add_test(tc, test_conf_rejects_builtin_and_module_together);
	tcase_add_test(tc, test_conf_rejects_metrics_on_a_listen_address);
	tcase_add_test(tc, test_conf_keeps_handler_options_with_positions);
	tcase_add_test(tc, test_conf_rejects_bad_handler_options);
	tcase_add_test(tc, test_conf_rejects_alias_bomb_fast);
	tcase_add_test(tc, test_conf_rejects_deep_nesting);
	tcase_add_test(tc, test_conf_rejects_too_many_nodes);
	tcase_add_test(tc, test_conf_rejects_nul_byte);
	tcase_add_test(tc, test_conf_rejects_invalid_utf8);
	tcase_add_test(tc, test_conf_rejects_very_long_scalar);
	tcase_add_test(tc, test_conf_quotes_control_characters_in_messages);
	tcase_add_test(tc, test_conf_rejects_oversized_file);
	tcase_add_test(tc, test_conf_diag_collects_and_clears);
	tcase_add_test(tc, test_conf_shipped_example_is_valid);
	tcase_add_test(tc, test_conf_docs_mention_every_key);
	tcase_add_test(tc, test_conf_schema_keys_are_listed_in_order);
	suite_add_tcase(s, tc);
	return (s);
}

int
main(void)
{
	SRunner *sr;
	int failed;

	sr = srunner_create(conf_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return (failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE);
}
