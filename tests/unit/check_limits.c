/*
 * check_limits.c: the bounded key table (daemon/keytab.c), the login
 * throttle (daemon/throttle.c) and the per-address connection and
 * handshake-rate limits (daemon/iplimit.c).
 *
 * The throttle takes the time as an argument, so its tests walk a clock of
 * their own instead of sleeping.  The token bucket reads the monotonic
 * clock itself; its one refill test waits a few hundred milliseconds.
 */
#include <arpa/inet.h>
#include <netinet/in.h>

#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "iplimit.h"
#include "keytab.h"
#include "throttle.h"

static struct sockaddr_storage
addr(const char *text)
{
	struct sockaddr_storage ss;
	struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;

	memset(&ss, 0, sizeof(ss));
	if (inet_pton(AF_INET, text, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons(40000);
	} else {
		ck_assert_int_eq(inet_pton(AF_INET6, text, &sin6->sin6_addr), 1);
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(40000);
	}
	return ss;
}

#define SA(ss) ((const struct sockaddr *)&(ss))

START_TEST(test_keytab_drops_the_least_recently_used)
{
	struct keytab *t = keytab_new(3, sizeof(int));
	int *v, ev;

	ck_assert_ptr_nonnull(t);
	*(int *)keytab_insert(t, "a", 1, &ev) = 1;
	ck_assert_int_eq(ev, 0);
	*(int *)keytab_insert(t, "b", 1, &ev) = 2;
	*(int *)keytab_insert(t, "c", 1, &ev) = 3;
	ck_assert_uint_eq(keytab_count(t), 3);
	/* Touching a makes b the oldest. */
	ck_assert_int_eq(*(int *)keytab_find(t, "a", 1), 1);
	v = keytab_insert(t, "d", 1, &ev);
	ck_assert_int_eq(ev, 1);
	ck_assert_int_eq(*v, 0);		/* new records are zeroed */
	ck_assert_ptr_null(keytab_find(t, "b", 1));
	ck_assert_ptr_nonnull(keytab_find(t, "a", 1));
	ck_assert_ptr_nonnull(keytab_find(t, "c", 1));
	ck_assert_uint_eq(keytab_count(t), 3);
	/* Inserting an existing key returns its record, evicting nothing. */
	ck_assert_int_eq(*(int *)keytab_insert(t, "c", 1, &ev), 3);
	ck_assert_int_eq(ev, 0);
	keytab_delete(t, "c", 1);
	ck_assert_ptr_null(keytab_find(t, "c", 1));
	ck_assert_uint_eq(keytab_count(t), 2);
	keytab_delete(t, "zz", 2);		/* absent: nothing */
	keytab_free(t);
	keytab_free(NULL);
}
END_TEST

START_TEST(test_keytab_refuses_long_keys_and_holds_many)
{
	struct keytab *t = keytab_new(1000, 8);
	char key[KEYTAB_KEY_MAX + 2];
	int ev, i;

	memset(key, 'k', sizeof(key));
	ck_assert_ptr_null(keytab_insert(t, key, KEYTAB_KEY_MAX + 1, &ev));
	ck_assert_ptr_nonnull(keytab_insert(t, key, KEYTAB_KEY_MAX, &ev));
	for (i = 0; i < 5000; i++) {
		snprintf(key, sizeof(key), "name%d", i);
		ck_assert_ptr_nonnull(keytab_insert(t, key, strlen(key), &ev));
	}
	ck_assert_uint_eq(keytab_count(t), 1000);
	/* The last 1000 are there, the earlier ones are not. */
	ck_assert_ptr_nonnull(keytab_find(t, "name4999", 8));
	ck_assert_ptr_nonnull(keytab_find(t, "name4000", 8));
	ck_assert_ptr_null(keytab_find(t, "name3999", 8));
	keytab_free(t);
}
END_TEST

static const struct throttle_limits lim = {
	.max_failures = 10,
	.max_failures_per_ip = 100,
	.window_ms = 60000,
	.lockout_ms = 30000,
};

/* Fail name from sa n times, one login at a time, at time now. */
static void
fail_n(struct throttle *t, const char *name, const struct sockaddr *sa,
    int n, uint64_t now)
{
	int64_t retry, nl, al;
	int i;

	for (i = 0; i < n; i++) {
		ck_assert_int_eq(throttle_begin(t, name, sa, now, &retry),
		    THROTTLE_OK);
		throttle_end(t, name, sa, THROTTLE_FAILURE, now, &nl, &al);
	}
}

START_TEST(test_throttle_locks_after_max_failures_even_the_right_password)
{
	struct throttle *t = throttle_new(&lim);
	struct sockaddr_storage a = addr("192.0.2.1");
	int64_t retry, nl, al;
	uint64_t now = 1000000;
	int i;

	for (i = 0; i < 9; i++) {
		ck_assert_int_eq(throttle_begin(t, "AAA", SA(a), now, &retry),
		    THROTTLE_OK);
		throttle_end(t, "AAA", SA(a), THROTTLE_FAILURE, now, &nl, &al);
		ck_assert_int_eq(nl, 0);
	}
	ck_assert_int_eq(throttle_begin(t, "AAA", SA(a), now, &retry),
	    THROTTLE_OK);
	throttle_end(t, "AAA", SA(a), THROTTLE_FAILURE, now, &nl, &al);
	ck_assert_int_eq(nl, 30);		/* the tenth locks */
	ck_assert_int_eq(al, 0);
	/* Locked: refused before any password is looked at. */
	ck_assert_int_eq(throttle_begin(t, "AAA", SA(a), now + 1, &retry),
	    THROTTLE_LOCKED);
	ck_assert_int_eq(retry, 30);
	ck_assert_int_eq(throttle_begin(t, "AAA", SA(a), now + 29001, &retry),
	    THROTTLE_LOCKED);
	ck_assert_int_eq(retry, 1);
	/* Another name from the same address is not locked. */
	ck_assert_int_eq(throttle_begin(t, "BBB", SA(a), now, &retry),
	    THROTTLE_OK);
	throttle_end(t, "BBB", SA(a), THROTTLE_SUCCESS, now, &nl, &al);
	/* The lockout ends on time. */
	ck_assert_int_eq(throttle_begin(t, "AAA", SA(a), now + 30000, &retry),
	    THROTTLE_OK);
	throttle_end(t, "AAA", SA(a), THROTTLE_SUCCESS, now + 30000, &nl,
	    &al);
	throttle_free(t);
}
END_TEST

START_TEST(test_throttle_repeated_lockouts_double)
{
	struct throttle *t = throttle_new(&lim);
	struct sockaddr_storage a = addr("192.0.2.1");
	int64_t retry;
	uint64_t now = 1000000;
	int64_t want = 30;
	int round;

	for (round = 0; round < 9; round++) {
		fail_n(t, "AAA", SA(a), 10, now);
		ck_assert_int_eq(throttle_begin(t, "AAA", SA(a), now, &retry),
		    THROTTLE_LOCKED);
		ck_assert_int_eq(retry, want);
		now += (uint64_t)retry * 1000;
		/* Doubling stops at 64 times the configured lockout. */
		if (want < 30 * 64)
			want *= 2;
	}
	/* A quiet window after the lockout forgets the run of lockouts. */
	now += lim.window_ms;
	fail_n(t, "AAA", SA(a), 10, now);
	ck_assert_int_eq(throttle_begin(t, "AAA", SA(a), now, &retry),
	    THROTTLE_LOCKED);
	ck_assert_int_eq(retry, 30);
	throttle_free(t);
}
END_TEST

START_TEST(test_throttle_success_clears_the_name_not_the_address)
{
	struct throttle_limits l = lim;
	struct throttle *t;
	struct sockaddr_storage a = addr("192.0.2.1");
	int64_t retry, nl, al;
	uint64_t now = 1000000;

	l.max_failures_per_ip = 15;
	t = throttle_new(&l);
	fail_n(t, "AAA", SA(a), 9, now);
	ck_assert_int_eq(throttle_begin(t, "AAA", SA(a), now, &retry),
	    THROTTLE_OK);
	throttle_end(t, "AAA", SA(a), THROTTLE_SUCCESS, now, &nl, &al);
	/* Nine more failures do not lock the name: success reset it... */
	fail_n(t, "AAA", SA(a), 5, now);
	/* ...but the address has now failed 14 times; the 15th locks it. */
	fail_n(t, "AAA", SA(a), 1, now);
	ck_assert_int_eq(throttle_begin(t, "CCC", SA(a), now, &retry),
	    THROTTLE_RATE);
	ck_assert_int_eq(retry, 30);
	throttle_free(t);
}
END_TEST

START_TEST(test_throttle_address_limit_covers_an_ipv6_64)
{
	struct throttle_limits l = lim;
	struct throttle *t;
	struct sockaddr_storage a = addr("2001:db8:1:2::1");
	struct sockaddr_storage b = addr("2001:db8:1:2:ffff::9");
	struct sockaddr_storage c = addr("2001:db8:1:3::1");
	struct sockaddr_storage v4 = addr("198.51.100.7");
	struct sockaddr_storage v4m = addr("::ffff:198.51.100.7");
	int64_t retry, nl, al;
	uint64_t now = 5000;
	char name[16];
	int i;

	l.max_failures_per_ip = 5;
	t = throttle_new(&l);
	for (i = 0; i < 5; i++) {
		snprintf(name, sizeof(name), "U%d", i);
		fail_n(t, name, i % 2 ? SA(a) : SA(b), 1, now);
	}
	ck_assert_int_eq(throttle_begin(t, "Z", SA(a), now, &retry),
	    THROTTLE_RATE);
	ck_assert_int_eq(throttle_begin(t, "Z", SA(b), now, &retry),
	    THROTTLE_RATE);
	/* Another /64 is another address. */
	ck_assert_int_eq(throttle_begin(t, "Z", SA(c), now, &retry),
	    THROTTLE_OK);
	throttle_end(t, "Z", SA(c), THROTTLE_NEUTRAL, now, &nl, &al);
	/* An IPv4-mapped address is the IPv4 address. */
	for (i = 0; i < 5; i++) {
		snprintf(name, sizeof(name), "V%d", i);
		fail_n(t, name, SA(v4m), 1, now);
	}
	ck_assert_int_eq(throttle_begin(t, "Z", SA(v4), now, &retry),
	    THROTTLE_RATE);
	throttle_free(t);
}
END_TEST

START_TEST(test_throttle_counts_logins_in_flight)
{
	struct throttle_limits l = lim;
	struct throttle *t;
	struct sockaddr_storage a = addr("192.0.2.1");
	struct sockaddr_storage b = addr("192.0.2.2");
	int64_t retry, nl, al;
	uint64_t now = 5000;
	int i;

	l.max_failures = 3;
	t = throttle_new(&l);
	fail_n(t, "AAA", SA(a), 1, now);
	/* One failure plus two in flight reach the limit of three... */
	for (i = 0; i < 2; i++)
		ck_assert_int_eq(throttle_begin(t, "AAA", SA(b), now, &retry),
		    THROTTLE_OK);
	ck_assert_int_eq(throttle_begin(t, "AAA", SA(b), now, &retry),
	    THROTTLE_RATE);
	ck_assert_int_eq(retry, 1);
	/* ...until one of them ends without failing. */
	throttle_end(t, "AAA", SA(b), THROTTLE_NEUTRAL, now, &nl, &al);
	ck_assert_int_eq(throttle_begin(t, "AAA", SA(b), now, &retry),
	    THROTTLE_OK);
	throttle_end(t, "AAA", SA(b), THROTTLE_FAILURE, now, &nl, &al);
	throttle_end(t, "AAA", SA(b), THROTTLE_FAILURE, now, &nl, &al);
	ck_assert_int_eq(nl, 30);
	throttle_free(t);
}
END_TEST

START_TEST(test_throttle_forgets_failures_after_the_window)
{
	struct throttle *t = throttle_new(&lim);
	struct sockaddr_storage a = addr("192.0.2.1");
	int64_t retry;
	uint64_t now = 1000000;

	fail_n(t, "AAA", SA(a), 9, now);
	now += lim.window_ms;
	fail_n(t, "AAA", SA(a), 9, now);
	ck_assert_int_eq(throttle_begin(t, "AAA", SA(a), now, &retry),
	    THROTTLE_OK);
	throttle_free(t);
}
END_TEST

START_TEST(test_iplimit_token_bucket_meters_new_connections)
{
	struct iplimit *t = iplimit_new(100, 100, 10, 3);
	struct sockaddr_storage a = addr("192.0.2.1");
	struct sockaddr_storage a2 = addr("192.0.2.1");
	struct sockaddr_storage b = addr("192.0.2.2");
	struct sockaddr_storage v6 = addr("2001:db8::1");
	struct sockaddr_storage v6b = addr("2001:db8::2");
	struct timespec ts = { 0, 350 * 1000000 };
	int i;

	((struct sockaddr_in *)&a2)->sin_port = htons(1);
	for (i = 0; i < 3; i++) {
		ck_assert_int_eq(iplimit_acquire(t, SA(a)), IPLIMIT_OK);
		iplimit_release(t, SA(a));
	}
	/* The port plays no part; the bucket is empty. */
	ck_assert_int_eq(iplimit_acquire(t, SA(a2)), IPLIMIT_RATE);
	ck_assert_uint_eq(iplimit_total(t), 0);	/* a refusal counts nothing */
	ck_assert_int_eq(iplimit_acquire(t, SA(b)), IPLIMIT_OK);
	/* One IPv6 /64 shares a bucket. */
	for (i = 0; i < 3; i++)
		ck_assert_int_eq(iplimit_acquire(t, i % 2 ? SA(v6) : SA(v6b)),
		    IPLIMIT_OK);
	ck_assert_int_eq(iplimit_acquire(t, SA(v6)), IPLIMIT_RATE);
	/* At 10 a second, 350 ms refill three tokens. */
	nanosleep(&ts, NULL);
	for (i = 0; i < 3; i++) {
		ck_assert_int_eq(iplimit_acquire(t, SA(a)), IPLIMIT_OK);
		iplimit_release(t, SA(a));
	}
	ck_assert_int_eq(iplimit_acquire(t, SA(a)), IPLIMIT_RATE);
	iplimit_free(t);
}
END_TEST

START_TEST(test_iplimit_per_address_and_total_caps)
{
	struct iplimit *t = iplimit_new(3, 2, 1000, 1000);
	struct sockaddr_storage a = addr("192.0.2.1");
	struct sockaddr_storage b = addr("192.0.2.2");
	struct sockaddr_storage c = addr("192.0.2.3");

	ck_assert_int_eq(iplimit_acquire(t, SA(a)), IPLIMIT_OK);
	ck_assert_int_eq(iplimit_acquire(t, SA(a)), IPLIMIT_OK);
	ck_assert_int_eq(iplimit_acquire(t, SA(a)), IPLIMIT_PER_IP);
	ck_assert_int_eq(iplimit_acquire(t, SA(b)), IPLIMIT_OK);
	ck_assert_int_eq(iplimit_acquire(t, SA(c)), IPLIMIT_TOTAL);
	iplimit_release(t, SA(a));
	ck_assert_int_eq(iplimit_acquire(t, SA(c)), IPLIMIT_OK);
	ck_assert_uint_eq(iplimit_total(t), 3);
	iplimit_free(t);
}
END_TEST

static Suite *
limits_suite(void)
{
	Suite *s = suite_create("limits");
	TCase *tc = tcase_create("limits");

	tcase_add_test(tc, test_keytab_drops_the_least_recently_used);
	tcase_add_test(tc, test_keytab_refuses_long_keys_and_holds_many);
	tcase_add_test(tc,
	    test_throttle_locks_after_max_failures_even_the_right_password);
	tcase_add_test(tc, test_throttle_repeated_lockouts_double);
	tcase_add_test(tc, test_throttle_success_clears_the_name_not_the_address);
	tcase_add_test(tc, test_throttle_address_limit_covers_an_ipv6_64);
	tcase_add_test(tc, test_throttle_counts_logins_in_flight);
	tcase_add_test(tc, test_throttle_forgets_failures_after_the_window);
	tcase_add_test(tc, test_iplimit_token_bucket_meters_new_connections);
	tcase_add_test(tc, test_iplimit_per_address_and_total_caps);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(limits_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
