/*
 * check_self.c - unit tests for remote/self.c: which destinations are
 * this host's own SMTP listeners, and greetings with our own name.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "../remote/self.c"

static struct sockaddr_storage
addr(const char *hostport)
{
	struct sockaddr_storage ss;
	socklen_t len;
	const char *why;

	ck_assert_int_eq(net_parse_hostport(hostport, &ss, &len, &why), 0);
	return ss;
}

static int
is_me(const struct self *me, const char *hostport)
{
	struct sockaddr_storage ss = addr(hostport);

	return self_is_me(me, (const struct sockaddr *)&ss);
}

static void
listen_on(struct self *me, const char *hostport)
{
	struct sockaddr_storage ss = addr(hostport);

	self_norm((const struct sockaddr *)&ss, &me->listen[me->nlisten++]);
}

START_TEST(test_specific)
{
	struct self me;

	memset(&me, 0, sizeof(me));
	listen_on(&me, "127.0.0.1:25");
	listen_on(&me, "[::1]:2525");
	ck_assert_int_eq(is_me(&me, "127.0.0.1:25"), 1);
	ck_assert_int_eq(is_me(&me, "127.0.0.1:26"), 0);
	ck_assert_int_eq(is_me(&me, "127.0.0.2:25"), 0);	/* another host */
	ck_assert_int_eq(is_me(&me, "[::1]:2525"), 1);
	ck_assert_int_eq(is_me(&me, "[::1]:25"), 0);
	ck_assert_int_eq(is_me(&me, "[::ffff:127.0.0.1]:25"), 1);	/* mapped */
	ck_assert_int_eq(is_me(&me, "192.0.2.1:25"), 0);
}
END_TEST

START_TEST(test_wildcard)
{
	struct self me;
	struct sockaddr_storage ss = addr("192.0.2.7:1");

	memset(&me, 0, sizeof(me));
	listen_on(&me, "0.0.0.0:25");
	self_add_local(&me, (const struct sockaddr *)&ss);
	ck_assert_int_eq(is_me(&me, "192.0.2.7:25"), 1);	/* an interface */
	ck_assert_int_eq(is_me(&me, "127.0.0.9:25"), 1);	/* loopback */
	ck_assert_int_eq(is_me(&me, "192.0.2.8:25"), 0);	/* not ours */
	ck_assert_int_eq(is_me(&me, "192.0.2.7:587"), 0);	/* other port */
	ck_assert_int_eq(is_me(&me, "[::1]:25"), 0);	/* [::] not listening */
	listen_on(&me, "[::]:25");
	ck_assert_int_eq(is_me(&me, "[::1]:25"), 1);
	ck_assert_int_eq(is_me(&me, "[2001:db8::1]:25"), 0);
	/* the real interfaces: loopback at least, and no failure */
	ck_assert_int_eq(self_read_interfaces(&me), 0);
}
END_TEST

START_TEST(test_name)
{
	const char *h = "mail.example.test";

	ck_assert_int_eq(self_is_my_name("mail.example.test ESMTP\n", 23, h), 1);
	ck_assert_int_eq(self_is_my_name("MAIL.Example.TEST\n", 18, h), 1);
	ck_assert_int_eq(self_is_my_name("mail.example.test", 17, h), 1);
	ck_assert_int_eq(self_is_my_name("mail.example.testx hi", 21, h), 0);
	ck_assert_int_eq(self_is_my_name("mail.example.tes hi", 19, h), 0);
	ck_assert_int_eq(self_is_my_name("other mail.example.test", 23, h), 0);
	ck_assert_int_eq(self_is_my_name("", 0, h), 0);
	ck_assert_int_eq(self_is_my_name("x", 1, ""), 0);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("self");
	TCase *tc = tcase_create("core");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, test_specific);
	tcase_add_test(tc, test_wildcard);
	tcase_add_test(tc, test_name);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
