/*
 * check_audit.c: the hash-chained audit log (daemon/audit.c) and
 * "secd audit verify" (daemon/auditcmd.c).
 *
 * Each test works in a fresh directory.  Tampering is done the way an
 * attacker would: by rewriting lines of the file.  Forged records are
 * hashed here, from the definition in audit.h and docs/security.md, with
 * wolfCrypt directly, so the tests also pin that definition down.
 */
#include <sys/file.h>
#include <sys/stat.h>

#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <wolfssl/options.h>
#include <wolfssl/wolfcrypt/sha256.h>

#include "audit.h"
#include "auditcmd.h"

#define T_MAX_LINES	16
#define T_ZEROS \
	"0000000000000000000000000000000000000000000000000000000000000000"

static char t_dir[64];
static char t_path[128];

static void
t_setup(void)
{

	snprintf(t_dir, sizeof(t_dir), "/tmp/check_audit.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(t_dir));
	snprintf(t_path, sizeof(t_path), "%s/audit.log", t_dir);
}

static void
t_teardown(void)
{
	DIR *d;
	struct dirent *e;
	char p[512];

	if ((d = opendir(t_dir)) == NULL)
		return;
	while ((e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		snprintf(p, sizeof(p), "%s/%s", t_dir, e->d_name);
		unlink(p);
	}
	closedir(d);
	rmdir(t_dir);
}

/* The lines of a file (without newlines); freed with t_lines_free. */
struct t_lines {
	size_t	 n;
	char	*l[T_MAX_LINES];
};

static void
t_lines_read(const char *path, struct t_lines *tl)
{
	FILE *f;
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;

	memset(tl, 0, sizeof(*tl));
	ck_assert_ptr_nonnull(f = fopen(path, "r"));
	while ((n = getline(&line, &cap, f)) > 0) {
		ck_assert_uint_lt(tl->n, T_MAX_LINES);
		ck_assert_int_eq(line[n - 1], '\n');
		line[n - 1] = '\0';
		tl->l[tl->n++] = strdup(line);
	}
	free(line);
	fclose(f);
}

static void
t_lines_write(const char *path, const struct t_lines *tl)
{
	FILE *f;
	size_t i;

	ck_assert_ptr_nonnull(f = fopen(path, "w"));
	for (i = 0; i < tl->n; i++)
		if (tl->l[i] != NULL)
			fprintf(f, "%s\n", tl->l[i]);
	ck_assert_int_eq(fclose(f), 0);
}

static void
t_lines_free(struct t_lines *tl)
{
	size_t i;

	for (i = 0; i < T_MAX_LINES; i++)
		free(tl->l[i]);
	memset(tl, 0, sizeof(*tl));
}

static size_t
t_count_lines(const char *path)
{
	FILE *f;
	size_t n = 0;
	int c;

	if ((f = fopen(path, "r")) == NULL)
		return (0);
	while ((c = fgetc(f)) != EOF)
		n += c == '\n';
	fclose(f);
	return (n);
}

/* Wait (up to 30 s) until the file has n lines. */
static void
t_wait_lines(const char *path, size_t n)
{
	int i;

	for (i = 0; i < 3000 && t_count_lines(path) < n; i++)
		usleep(10000);
	ck_assert_uint_eq(t_count_lines(path), n);
}

/* A string member of a line (a static copy), "" for null. */
static const char *
t_field(const char *line, const char *key)
{
	static char v[2048];
	json_t *o, *j;

	ck_assert_ptr_nonnull(o = json_loads(line, 0, NULL));
	j = json_object_get(o, key);
	snprintf(v, sizeof(v), "%s", json_is_string(j) ?
	    json_string_value(j) : "");
	json_decref(o);
	return (v);
}

static json_int_t
t_int(const char *line, const char *key)
{
	json_t *o;
	json_int_t v;

	ck_assert_ptr_nonnull(o = json_loads(line, 0, NULL));
	ck_assert(json_is_integer(json_object_get(o, key)));
	v = json_integer_value(json_object_get(o, key));
	json_decref(o);
	return (v);
}

/* hex(SHA-256(prev || canon)): the definition of audit.h, written anew. */
static void
t_sha256_hex(const char *prev, const char *canon, size_t len, char out[65])
{
	wc_Sha256 sha;
	unsigned char d[WC_SHA256_DIGEST_SIZE];
	size_t i;

	ck_assert_int_eq(wc_InitSha256(&sha), 0);
	ck_assert_int_eq(wc_Sha256Update(&sha, (const byte *)prev, 64), 0);
	ck_assert_int_eq(wc_Sha256Update(&sha, (const byte *)canon,
	    (word32)len), 0);
	ck_assert_int_eq(wc_Sha256Final(&sha, d), 0);
	wc_Sha256Free(&sha);
	for (i = 0; i < sizeof(d); i++)
		snprintf(out + 2 * i, 3, "%02x", d[i]);
}

/*
 * A forged record: seq and prev as given, hashed correctly, as someone
 * who knows the format (it is public) would make it.
 */
static char *
t_forge(long long seq, const char *prev, const char *account)
{
	char canon[512], hash[65], *line;

	snprintf(canon, sizeof(canon), "{\"seq\":%lld,\"time\":"
	    "\"2026-11-24T05:16:48.123Z\",\"event\":\"login\",\"account\":"
	    "\"%s\",\"peer\":null,\"cert_sha256\":null,\"request_id\":null,"
	    "\"outcome\":\"ok\",\"prev\":\"%s\"}", seq, account, prev);
	t_sha256_hex(prev, canon, strlen(canon), hash);
	ck_assert_int_ge(asprintf(&line, "%.*s,\"hash\":\"%s\"}",
	    (int)strlen(canon) - 1, canon, hash), 0);
	return (line);
}

static void
t_rec(struct audit_rec *r, const char *event, const char *account,
    const char *outcome)
{

	memset(r, 0, sizeof(*r));
	r->event = event;
	r->account = account;
	r->peer = "127.0.0.1:50000";
	r->request_id = "1";
	r->outcome = outcome;
}

/* n records through a daemon-style writer: login, failed login, ... */
static void
t_make_log(const char *path, int n)
{
	static const char *const names[] = { "alice", "bob", "carol",
		"dave", "erin", "frank" };
	struct audit *a;
	struct audit_rec r;
	char err[512] = "";
	int i;

	ck_assert_msg((a = audit_open(path, err, sizeof(err))) != NULL, "%s",
	    err);
	for (i = 0; i < n; i++) {
		t_rec(&r, i % 2 == 0 ? "login" : "transfer", names[i % 6],
		    i % 3 == 1 ? "auth_failed" : "ok");
		if (i % 2 == 1) {
			r.to = "zoe";
			r.has_amount = 1;
			r.amount = 100 + i;
		}
		ck_assert_int_eq(audit_append(a, &r), 0);
	}
	audit_close(a);
}

/* Verify, expecting failure with an error containing want. */
static void
t_verify_fails(const char *path, const char *want)
{
	char err[1024] = "";
	FILE *out;
	char *buf = NULL;
	size_t len = 0;

	ck_assert_ptr_nonnull(out = open_memstream(&buf, &len));
	ck_assert_int_eq(audit_verify(path, out, err, sizeof(err)), -1);
	fclose(out);
	ck_assert_uint_eq(len, 0);		/* nothing printed as ok */
	free(buf);
	ck_assert_msg(strstr(err, want) != NULL, "error \"%s\" lacks \"%s\"",
	    err, want);
	ck_assert_msg(strncmp(err, path, strlen(path)) == 0, "%s", err);
}

/* Verify, expecting success; returns what was printed (free it). */
static char *
t_verify_ok(const char *path)
{
	char err[1024] = "";
	FILE *out;
	char *buf = NULL;
	size_t len = 0;
	int rc;

	ck_assert_ptr_nonnull(out = open_memstream(&buf, &len));
	rc = audit_verify(path, out, err, sizeof(err));
	fclose(out);
	ck_assert_msg(rc == 0, "verify: %s", err);
	return (buf);
}

START_TEST(test_audit_appends_verify_ok_and_print_the_head)
{
	struct t_lines tl;
	struct stat st;
	char want[512], *out;

	t_make_log(t_path, 5);
	ck_assert_int_eq(stat(t_path, &st), 0);
	ck_assert_uint_eq(st.st_mode & 0777, 0600);
	t_lines_read(t_path, &tl);
	ck_assert_uint_eq(tl.n, 5);
	out = t_verify_ok(t_path);
	snprintf(want, sizeof(want), "%s: 5 records, ok, head 5 %s\n", t_path,
	    t_field(tl.l[4], "hash"));
	ck_assert_str_eq(out, want);
	free(out);
	t_lines_free(&tl);
}
END_TEST

START_TEST(test_audit_record_has_documented_keys_order_and_hash)
{
	static const char *const keys[] = { "seq", "time", "event", "account",
		"peer", "cert_sha256", "request_id", "outcome", "to", "amount",
		"prev", "hash" };
	struct t_lines tl;
	json_t *o, *v;
	const char *k;
	char hash[65], prev[65];
	size_t i, j, len;
	void *it;

	t_make_log(t_path, 2);
	t_lines_read(t_path, &tl);
	snprintf(prev, sizeof(prev), "%s", T_ZEROS);
	for (i = 0; i < tl.n; i++) {
		ck_assert_ptr_nonnull(o = json_loads(tl.l[i], 0, NULL));
		j = 0;
		for (it = json_object_iter(o); it != NULL;
		    it = json_object_iter_next(o, it)) {
			k = json_object_iter_key(it);
			/* line 1 is a login: no "to", no "amount" */
			while (i == 0 && j < 12 && (strcmp(keys[j], "to") == 0 ||
			    strcmp(keys[j], "amount") == 0))
				j++;
			ck_assert_uint_lt(j, 12);
			ck_assert_str_eq(k, keys[j]);
			j++;
		}
		ck_assert_uint_eq(j, 12);
		ck_assert_int_eq(json_integer_value(json_object_get(o, "seq")),
		    (json_int_t)i + 1);
		ck_assert_str_eq(json_string_value(json_object_get(o, "prev")),
		    prev);
		v = json_object_get(o, "time");
		ck_assert_uint_eq(strlen(json_string_value(v)), 24);
		ck_assert_int_eq(json_string_value(v)[23], 'Z');
		json_decref(o);
		/* hash = SHA-256(prev hex || line without ,"hash":"..."}) + "}" */
		len = strlen(tl.l[i]);
		ck_assert_uint_gt(len, 75);
		tl.l[i][len - 75] = '}';
		t_sha256_hex(prev, tl.l[i], len - 74, hash);
		tl.l[i][len - 75] = ',';
		ck_assert_str_eq(hash, t_field(tl.l[i], "hash"));
		snprintf(prev, sizeof(prev), "%s", hash);
	}
	ck_assert_str_eq(t_field(tl.l[1], "to"), "zoe");
	ck_assert_int_eq(t_int(tl.l[1], "amount"), 101);
	ck_assert_str_eq(t_field(tl.l[1], "outcome"), "auth_failed");
	ck_assert_str_eq(t_field(tl.l[0], "peer"), "127.0.0.1:50000");
	t_lines_free(&tl);
}
END_TEST

START_TEST(test_audit_verify_detects_an_edited_record)
{
	struct t_lines tl;
	char *p;

	t_make_log(t_path, 5);
	t_lines_read(t_path, &tl);
	ck_assert_ptr_nonnull(p = strstr(tl.l[2], "\"carol\""));
	memcpy(p, "\"mally\"", 7);
	t_lines_write(t_path, &tl);
	t_verify_fails(t_path, "line 3: hash does not match its contents "
	    "(record edited)");
	t_lines_free(&tl);
}
END_TEST

START_TEST(test_audit_verify_detects_an_edited_amount_even_with_seq_kept)
{
	struct t_lines tl;
	char *p;

	t_make_log(t_path, 4);
	t_lines_read(t_path, &tl);
	ck_assert_ptr_nonnull(p = strstr(tl.l[3], "\"amount\":103"));
	p[10] = '9';
	t_lines_write(t_path, &tl);
	t_verify_fails(t_path, "line 4: hash does not match");
	t_lines_free(&tl);
}
END_TEST

START_TEST(test_audit_verify_detects_a_deleted_middle_record)
{
	struct t_lines tl;

	t_make_log(t_path, 5);
	t_lines_read(t_path, &tl);
	free(tl.l[2]);
	tl.l[2] = NULL;
	t_lines_write(t_path, &tl);
	t_verify_fails(t_path, "line 3: seq 4 follows 2 (record deleted?)");
	t_lines_free(&tl);
}
END_TEST

START_TEST(test_audit_verify_detects_a_deleted_first_record)
{
	struct t_lines tl;

	t_make_log(t_path, 3);
	t_lines_read(t_path, &tl);
	free(tl.l[0]);
	tl.l[0] = NULL;
	t_lines_write(t_path, &tl);
	t_verify_fails(t_path, "line 1: seq 2, but the first record has "
	    "seq 1");
	t_lines_free(&tl);
}
END_TEST

START_TEST(test_audit_verify_detects_swapped_records)
{
	struct t_lines tl;
	char *tmp;

	t_make_log(t_path, 5);
	t_lines_read(t_path, &tl);
	tmp = tl.l[1];
	tl.l[1] = tl.l[2];
	tl.l[2] = tmp;
	t_lines_write(t_path, &tl);
	t_verify_fails(t_path, "line 2: seq 3 follows 1");
	t_lines_free(&tl);
}
END_TEST

START_TEST(test_audit_verify_detects_a_forged_record_with_a_wrong_prev)
{
	struct t_lines tl;
	size_t i;

	t_make_log(t_path, 4);
	t_lines_read(t_path, &tl);
	/* Replace record 3 by a self-consistent forgery chained to
	   nothing in particular. */
	free(tl.l[2]);
	tl.l[2] = t_forge(3, T_ZEROS, "mallory");
	t_lines_write(t_path, &tl);
	t_verify_fails(t_path, "line 3: prev does not match line 2's hash");
	/* The forgery itself is well formed: only the chain gives it away. */
	for (i = 3; i < T_MAX_LINES; i++) {
		free(tl.l[i]);
		tl.l[i] = NULL;
	}
	free(tl.l[2]);
	tl.l[2] = t_forge(3, t_field(tl.l[1], "hash"), "mallory");
	t_lines_write(t_path, &tl);
	free(t_verify_ok(t_path));
	t_lines_free(&tl);
}
END_TEST

START_TEST(test_audit_verify_detects_an_inserted_record)
{
	struct t_lines tl;
	size_t i;

	t_make_log(t_path, 4);
	t_lines_read(t_path, &tl);
	/* A forged record 3 chained correctly to record 2, inserted
	   before the real record 3. */
	for (i = tl.n; i > 2; i--)
		tl.l[i] = tl.l[i - 1];
	tl.l[2] = t_forge(3, t_field(tl.l[1], "hash"), "mallory");
	tl.n++;
	t_lines_write(t_path, &tl);
	t_verify_fails(t_path, "line 4: seq 3 follows 3 (records reordered "
	    "or duplicated?)");
	t_lines_free(&tl);
}
END_TEST

START_TEST(test_audit_truncated_last_line_is_refused_everywhere)
{
	struct audit_rec r;
	struct t_lines tl;
	struct stat st;
	char err[1024] = "", want[64];
	size_t i, start = 0;
	off_t cut;

	t_make_log(t_path, 5);
	/* where line 5 starts */
	t_lines_read(t_path, &tl);
	for (i = 0; i < 4; i++)
		start += strlen(tl.l[i]) + 1;
	t_lines_free(&tl);
	ck_assert_int_eq(stat(t_path, &st), 0);
	cut = st.st_size - 10;
	ck_assert_int_eq(truncate(t_path, cut), 0);
	t_verify_fails(t_path, "line 5: incomplete");

	/* The daemon does not chain to half a record ... */
	ck_assert_ptr_null(audit_open(t_path, err, sizeof(err)));
	ck_assert_msg(strstr(err, "incomplete") != NULL, "%s", err);
	/* ... and says where the bad line starts, for "truncate -s". */
	snprintf(want, sizeof(want), "truncate -s %zu ", start);
	ck_assert_msg(strstr(err, want) != NULL, "%s", err);
	/* Neither does the admin CLI; the file is left as it was. */
	t_rec(&r, "admin", "alice", "ok");
	err[0] = '\0';
	ck_assert_int_eq(audit_append_now(t_path, &r, err, sizeof(err)), -1);
	ck_assert_msg(strstr(err, "incomplete") != NULL, "%s", err);
	ck_assert_int_eq(stat(t_path, &st), 0);
	ck_assert_int_eq(st.st_size, cut);
}
END_TEST

START_TEST(test_audit_open_refuses_an_edited_last_record)
{
	struct t_lines tl;
	char err[1024] = "", *p;

	t_make_log(t_path, 3);
	t_lines_read(t_path, &tl);
	ck_assert_ptr_nonnull(p = strstr(tl.l[2], "\"carol\""));
	p[1] = 'k';
	t_lines_write(t_path, &tl);
	ck_assert_ptr_null(audit_open(t_path, err, sizeof(err)));
	ck_assert_msg(strstr(err, "is not a valid record: hash does not "
	    "match") != NULL, "%s", err);
	t_lines_free(&tl);
}
END_TEST

START_TEST(test_audit_verify_refuses_garbage_and_overlong_lines)
{
	FILE *f;
	int i;

	ck_assert_ptr_nonnull(f = fopen(t_path, "w"));
	for (i = 0; i < AUDIT_LINE_MAX + 10; i++)
		fputc('x', f);
	fputc('\n', f);
	fclose(f);
	t_verify_fails(t_path, "line 1: longer than 32768 bytes");
	/* Nothing is chained to it either. */
	{
		char err[512] = "";

		ck_assert_ptr_null(audit_open(t_path, err, sizeof(err)));
		ck_assert_msg(strstr(err, "longer than 32768 bytes") != NULL,
		    "%s", err);
	}
}
END_TEST

START_TEST(test_audit_verify_refuses_a_non_record_line)
{
	struct t_lines tl;

	t_make_log(t_path, 2);
	t_lines_read(t_path, &tl);
	tl.l[tl.n++] = strdup("{\"seq\":3}");
	t_lines_write(t_path, &tl);
	t_verify_fails(t_path, "line 3: \"event\" or \"time\" is missing");
	/* A forged, self-consistent last record with a huge seq. */
	free(tl.l[2]);
	tl.l[2] = t_forge(9223372036854775807LL, t_field(tl.l[1], "hash"),
	    "mallory");
	t_lines_write(t_path, &tl);
	t_verify_fails(t_path, "line 3: \"seq\" is missing or not an "
	    "integer from 1 to 2^62");
	{
		char err[512] = "";

		ck_assert_ptr_null(audit_open(t_path, err, sizeof(err)));
		ck_assert_msg(strstr(err, "not a valid record") != NULL, "%s",
		    err);
	}
	free(tl.l[2]);
	tl.l[2] = strdup("not json");
	t_lines_write(t_path, &tl);
	t_verify_fails(t_path, "line 3: not JSON");
	free(tl.l[2]);
	tl.l[2] = strdup("");
	t_lines_write(t_path, &tl);
	t_verify_fails(t_path, "line 3: empty line");
	t_lines_free(&tl);
}
END_TEST

START_TEST(test_audit_verify_empty_and_missing_files)
{
	char err[512] = "", *out, want[256];
	FILE *f;

	ck_assert_ptr_nonnull(f = fopen(t_path, "w"));
	fclose(f);
	out = t_verify_ok(t_path);
	snprintf(want, sizeof(want), "%s: 0 records, ok, head 0 %s\n",
	    t_path, T_ZEROS);
	ck_assert_str_eq(out, want);
	free(out);
	unlink(t_path);
	ck_assert_int_eq(audit_verify(t_path, stdout, err, sizeof(err)), -2);
	ck_assert_msg(strstr(err, "No such file") != NULL, "%s", err);
}
END_TEST

START_TEST(test_audit_second_writer_between_batches_keeps_one_chain)
{
	struct audit *a;
	struct audit_rec r;
	struct t_lines tl;
	char err[512] = "";
	int i;

	ck_assert_ptr_nonnull(a = audit_open(t_path, err, sizeof(err)));
	for (i = 0; i < 3; i++) {
		t_rec(&r, "login", "alice", "ok");
		ck_assert_int_eq(audit_append(a, &r), 0);
	}
	t_wait_lines(t_path, 3);
	/* "secd account passwd bob", run by root while secd serves. */
	memset(&r, 0, sizeof(r));
	r.event = "admin";
	r.account = "bob";
	r.peer = "local:uid=0";
	r.outcome = "ok";
	r.detail = "account passwd";
	ck_assert_msg(audit_append_now(t_path, &r, err, sizeof(err)) == 0,
	    "%s", err);
	for (i = 0; i < 2; i++) {
		t_rec(&r, "login", "carol", "ok");
		ck_assert_int_eq(audit_append(a, &r), 0);
	}
	audit_close(a);
	free(t_verify_ok(t_path));
	t_lines_read(t_path, &tl);
	ck_assert_uint_eq(tl.n, 6);
	ck_assert_str_eq(t_field(tl.l[3], "event"), "admin");
	ck_assert_str_eq(t_field(tl.l[3], "peer"), "local:uid=0");
	ck_assert_str_eq(t_field(tl.l[3], "detail"), "account passwd");
	ck_assert_int_eq(t_int(tl.l[3], "seq"), 4);
	ck_assert_str_eq(t_field(tl.l[3], "prev"), t_field(tl.l[2], "hash"));
	ck_assert_int_eq(t_int(tl.l[4], "seq"), 5);
	ck_assert_str_eq(t_field(tl.l[4], "prev"), t_field(tl.l[3], "hash"));
	ck_assert_str_eq(t_field(tl.l[4], "account"), "carol");
	t_lines_free(&tl);
}
END_TEST

struct t_writer {
	struct audit	*a;
	int		 n;
	int		 failed;
};

static void *
t_writer_main(void *arg)
{
	struct t_writer *w = arg;
	struct audit_rec r;
	int i;

	for (i = 0; i < w->n; i++) {
		t_rec(&r, "login", "alice", "ok");
		if (audit_append(w->a, &r) != 0)
			w->failed++;
		if (i % 50 == 0)
			usleep(100);
	}
	return (NULL);
}

START_TEST(test_audit_concurrent_writers_keep_one_chain)
{
	struct audit *a;
	struct audit_rec r;
	struct t_writer w;
	pthread_t th;
	char err[512] = "", *out, want[256];
	int i;

	ck_assert_ptr_nonnull(a = audit_open(t_path, err, sizeof(err)));
	memset(&w, 0, sizeof(w));
	w.a = a;
	w.n = 2000;
	ck_assert_int_eq(pthread_create(&th, NULL, t_writer_main, &w), 0);
	for (i = 0; i < 100; i++) {
		t_rec(&r, "admin", "bob", "ok");
		r.peer = "local:uid=0";
		ck_assert_msg(audit_append_now(t_path, &r, err,
		    sizeof(err)) == 0, "%s", err);
	}
	pthread_join(th, NULL);
	ck_assert_int_eq(w.failed, 0);
	audit_close(a);
	ck_assert_uint_eq(audit_dropped(NULL), 0);
	out = t_verify_ok(t_path);
	snprintf(want, sizeof(want), "%s: 2100 records, ok, head 2100 ",
	    t_path);
	ck_assert_msg(strncmp(out, want, strlen(want)) == 0, "%s", out);
	free(out);
}
END_TEST

START_TEST(test_audit_reopen_continues_the_chain)
{
	struct t_lines tl;

	t_make_log(t_path, 2);
	t_make_log(t_path, 1);
	free(t_verify_ok(t_path));
	t_lines_read(t_path, &tl);
	ck_assert_uint_eq(tl.n, 3);
	ck_assert_int_eq(t_int(tl.l[2], "seq"), 3);
	ck_assert_str_eq(t_field(tl.l[2], "prev"), t_field(tl.l[1], "hash"));
	t_lines_free(&tl);
}
END_TEST

START_TEST(test_audit_queue_overflow_writes_an_honest_gap_record)
{
	struct audit *a;
	struct audit_rec r;
	char err[512] = "", *out, *p, want[128];
	int fd, i, failed = 0, n = 2 * AUDIT_QUEUE_MAX + 10;
	FILE *f;
	char *line = NULL;
	size_t cap = 0, lines = 0, gaps = 0;
	ssize_t len;
	json_int_t gap_dropped = 0;

	ck_assert_ptr_nonnull(a = audit_open(t_path, err, sizeof(err)));
	/* Stall the writer: it waits for this lock before writing.  At most
	   one batch is taken from the queue meanwhile, so of 2 * MAX + 10
	   records at least 10 cannot be queued. */
	ck_assert_int_ge(fd = open(t_path, O_RDONLY), 0);
	ck_assert_int_eq(flock(fd, LOCK_EX), 0);
	for (i = 0; i < n; i++) {
		t_rec(&r, "login", "alice", "ok");
		if (audit_append(a, &r) != 0)
			failed++;
	}
	ck_assert_int_ge(failed, 10);
	ck_assert_uint_eq(audit_dropped(a), (uint64_t)failed);
	ck_assert_int_eq(flock(fd, LOCK_UN), 0);
	close(fd);
	audit_close(a);

	out = t_verify_ok(t_path);
	snprintf(want, sizeof(want), "audit_gap: %d records were dropped here",
	    failed);
	ck_assert_msg(strstr(out, want) != NULL, "%s", out);
	free(out);
	ck_assert_ptr_nonnull(f = fopen(t_path, "r"));
	while ((len = getline(&line, &cap, f)) > 0) {
		lines++;
		if ((p = strstr(line, "\"event\":\"audit_gap\"")) != NULL) {
			gaps++;
			gap_dropped = t_int(line, "dropped");
		}
	}
	free(line);
	fclose(f);
	ck_assert_uint_eq(gaps, 1);
	ck_assert_int_eq(gap_dropped, failed);
	/* every record is either in the file or counted in the gap */
	ck_assert_uint_eq(lines, (size_t)(n - failed) + 1);
}
END_TEST

START_TEST(test_audit_hostile_strings_stay_one_escaped_line)
{
	struct audit_rec r;
	struct t_lines tl;
	char err[512] = "", detail[3000];
	const char *d;
	size_t i;

	t_rec(&r, "login", "a\"b\nc\x01\xff", "auth_failed");
	r.request_id = "{\"id\":1}\n{\"seq\":99}";
	/* 1500 two-byte characters: cut at a character boundary */
	for (i = 0; i + 2 < sizeof(detail); i += 2)
		memcpy(detail + i, "\xc3\xa9", 2);
	detail[i] = '\0';
	r.detail = detail;
	ck_assert_msg(audit_append_now(t_path, &r, err, sizeof(err)) == 0,
	    "%s", err);
	ck_assert_uint_eq(t_count_lines(t_path), 1);
	free(t_verify_ok(t_path));
	t_lines_read(t_path, &tl);
	ck_assert_str_eq(t_field(tl.l[0], "account"), "a\"b\nc\x01?");
	ck_assert_str_eq(t_field(tl.l[0], "request_id"),
	    "{\"id\":1}\n{\"seq\":99}");
	d = t_field(tl.l[0], "detail");
	ck_assert_uint_le(strlen(d), AUDIT_DETAIL_MAX);
	ck_assert_uint_ge(strlen(d), AUDIT_DETAIL_MAX - 4);
	ck_assert_str_eq(d + strlen(d) - 3, "...");
	ck_assert_int_eq(t_int(tl.l[0], "seq"), 1);
	t_lines_free(&tl);
}
END_TEST

START_TEST(test_audit_null_log_is_a_no_op)
{
	struct audit_rec r;

	t_rec(&r, "login", "alice", "ok");
	ck_assert_int_eq(audit_append(NULL, &r), 0);
	ck_assert_uint_eq(audit_dropped(NULL), 0);
	audit_close(NULL);
}
END_TEST

START_TEST(test_audit_open_refuses_a_directory)
{
	char err[512] = "";

	ck_assert_ptr_null(audit_open(t_dir, err, sizeof(err)));
	ck_assert_msg(strstr(err, t_dir) != NULL, "%s", err);
}
END_TEST

/* Run "secd audit ARGS..." in-process, its output thrown away. */
static int
t_auditcmd(int argc, const char *const *args)
{
	char *argv[8];
	int i, rc, saved_out, saved_err, devnull;

	ck_assert_int_lt(argc, 8);
	for (i = 0; i < argc; i++)
		argv[i] = strdup(args[i]);
	argv[argc] = NULL;
	fflush(stdout);
	fflush(stderr);
	saved_out = dup(1);
	saved_err = dup(2);
	devnull = open("/dev/null", O_WRONLY);
	dup2(devnull, 1);
	dup2(devnull, 2);
	rc = auditcmd_main(argc, argv);
	fflush(stdout);
	fflush(stderr);
	dup2(saved_out, 1);
	dup2(saved_err, 2);
	close(saved_out);
	close(saved_err);
	close(devnull);
	for (i = 0; i < argc; i++)
		free(argv[i]);
	return (rc);
}

START_TEST(test_auditcmd_exit_status)
{
	struct t_lines tl;
	char missing[160];
	const char *ok[] = { "audit", "verify", t_path };
	const char *two[] = { "audit", "verify", t_path, missing };
	const char *help[] = { "audit", "--help" };
	const char *vhelp[] = { "audit", "verify", "--help" };
	const char *none[] = { "audit", "verify" };
	const char *bad[] = { "audit", "frobnicate", t_path };
	const char *nocmd[] = { "audit" };

	snprintf(missing, sizeof(missing), "%s/missing.log", t_dir);
	t_make_log(t_path, 3);
	ck_assert_int_eq(t_auditcmd(3, ok), 0);
	ck_assert_int_eq(t_auditcmd(2, help), 0);
	ck_assert_int_eq(t_auditcmd(3, vhelp), 0);
	ck_assert_int_eq(t_auditcmd(2, none), 2);
	ck_assert_int_eq(t_auditcmd(3, bad), 2);
	ck_assert_int_eq(t_auditcmd(1, nocmd), 2);
	ck_assert_int_eq(t_auditcmd(4, two), 2);
	t_lines_read(t_path, &tl);
	free(tl.l[1]);
	tl.l[1] = NULL;
	t_lines_write(t_path, &tl);
	t_lines_free(&tl);
	ck_assert_int_eq(t_auditcmd(3, ok), 1);
	ck_assert_int_eq(t_auditcmd(4, two), 2);	/* I/O error wins */
}
END_TEST

static Suite *
audit_suite(void)
{
	Suite *s = suite_create("audit");
	TCase *tc = tcase_create("audit");

	tcase_add_checked_fixture(tc, t_setup, t_teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_audit_appends_verify_ok_and_print_the_head);
	tcase_add_test(tc, test_audit_record_has_documented_keys_order_and_hash);
	tcase_add_test(tc, test_audit_verify_detects_an_edited_record);
	tcase_add_test(tc,
	    test_audit_verify_detects_an_edited_amount_even_with_seq_kept);
	tcase_add_test(tc, test_audit_verify_detects_a_deleted_middle_record);
	tcase_add_test(tc, test_audit_verify_detects_a_deleted_first_record);
	tcase_add_test(tc, test_audit_verify_detects_swapped_records);
	tcase_add_test(tc,
	    test_audit_verify_detects_a_forged_record_with_a_wrong_prev);
	tcase_add_test(tc, test_audit_verify_detects_an_inserted_record);
	tcase_add_test(tc, test_audit_truncated_last_line_is_refused_everywhere);
	tcase_add_test(tc, test_audit_open_refuses_an_edited_last_record);
	tcase_add_test(tc, test_audit_verify_refuses_garbage_and_overlong_lines);
	tcase_add_test(tc, test_audit_verify_refuses_a_non_record_line);
	tcase_add_test(tc, test_audit_verify_empty_and_missing_files);
	tcase_add_test(tc,
	    test_audit_second_writer_between_batches_keeps_one_chain);
	tcase_add_test(tc, test_audit_concurrent_writers_keep_one_chain);
	tcase_add_test(tc, test_audit_reopen_continues_the_chain);
	tcase_add_test(tc,
	    test_audit_queue_overflow_writes_an_honest_gap_record);
	tcase_add_test(tc, test_audit_hostile_strings_stay_one_escaped_line);
	tcase_add_test(tc, test_audit_null_log_is_a_no_op);
	tcase_add_test(tc, test_audit_open_refuses_a_directory);
	tcase_add_test(tc, test_auditcmd_exit_status);
	suite_add_tcase(s, tc);
	return (s);
}

int
main(void)
{
	SRunner *sr = srunner_create(audit_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return (failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE);
}
