/*
 * check_net.c - unit tests for common/net.c: listen addresses, CIDR
 * networks and matching (IPv4-mapped clients included), address text and
 * the loopback test.  Pure functions; runs as any user, no network.
 */
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "net.h"

static struct sockaddr_storage
sa_make(const char *text)
{
	struct sockaddr_storage ss;

	memset(&ss, 0, sizeof(ss));
	if (strchr(text, ':') != NULL) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;

		s6->sin6_family = AF_INET6;
		ck_assert_int_eq(inet_pton(AF_INET6, text, &s6->sin6_addr), 1);
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;

		s4->sin_family = AF_INET;
		ck_assert_int_eq(inet_pton(AF_INET, text, &s4->sin_addr), 1);
	}
	return ss;
}

START_TEST(test_hostport_good)
{
	static const struct {
		const char *in, *addr;
		int family, port;
	} t[] = {
		{ "127.0.0.1:2525", "127.0.0.1", AF_INET, 2525 },
		{ "*:25", "0.0.0.0", AF_INET, 25 },
		{ "0.0.0.0:1", "0.0.0.0", AF_INET, 1 },
		{ "[::1]:2525", "::1", AF_INET6, 2525 },
		{ "[::]:25", "::", AF_INET6, 25 },
		{ "[2001:db8::7]:65535", "2001:db8::7", AF_INET6, 65535 },
		{ "[192.0.2.1]:587", "192.0.2.1", AF_INET, 587 },
	};
	struct sockaddr_storage ss;
	socklen_t len;
	const char *why;
	char text[64];
	size_t i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		ck_assert_msg(net_parse_hostport(t[i].in, &ss, &len, &why) == 0,
		    "%s: %s", t[i].in, why);
		ck_assert_int_eq(ss.ss_family, t[i].family);
		ck_assert_int_eq(net_addr_text((struct sockaddr *)&ss, text,
		    sizeof(text)), 0);
		ck_assert_str_eq(text, t[i].addr);
		if (t[i].family == AF_INET) {
			ck_assert_uint_eq(len, sizeof(struct sockaddr_in));
			ck_assert_int_eq(ntohs(((struct sockaddr_in *)&ss)->
			    sin_port), t[i].port);
		} else {
			ck_assert_uint_eq(len, sizeof(struct sockaddr_in6));
			ck_assert_int_eq(ntohs(((struct sockaddr_in6 *)&ss)->
			    sin6_port), t[i].port);
		}
	}
}
END_TEST

START_TEST(test_hostport_bad)
{
	static const char *bad[] = {
		"", "127.0.0.1", "127.0.0.1:", "127.0.0.1:0", "127.0.0.1:65536",
		"127.0.0.1:99999999999999999999", "127.0.0.1:+25",
		"127.0.0.1: 25", "127.0.0.1:25x", "localhost:25",
		"mail.example.test:25", "::1:25", "[::1]", "[::1]25", "[::1:25",
		"[]:25", "[*]:25", "256.0.0.1:25", ":25", "1.2.3:25",
		"[fe80::1%lo]:25", "[127.0.0.1]x:25",
	};
	struct sockaddr_storage ss;
	socklen_t len;
	const char *why;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		why = NULL;
		ck_assert_msg(net_parse_hostport(bad[i], &ss, &len, &why) == -1,
		    "accepted '%s'", bad[i]);
		ck_assert_ptr_nonnull(why);
	}
	ck_assert_int_eq(net_parse_hostport(NULL, &ss, &len, &why), -1);
}
END_TEST

START_TEST(test_cidr_parse)
{
	struct cidr c;
	const char *why;
	static const char *bad[] = {
		"", "/8", "10.0.0.0/", "10.0.0.0/33", "::/129", "10.0.0.0/-1",
		"10.0.0.0/+8", "10.0.0.0/8x", "10.1.2.3/8", "::1/64",
		"example.test", "10.0.0.0/8/8", "[10.0.0.0/8", "300.0.0.0/8",
	};
	size_t i;

	ck_assert_int_eq(net_parse_cidr("127.0.0.0/8", &c, &why), 0);
	ck_assert_int_eq(c.family, AF_INET);
	ck_assert_int_eq(c.prefix, 8);
	ck_assert_int_eq(c.addr[0], 127);
	ck_assert_int_eq(net_parse_cidr("192.0.2.7", &c, &why), 0);
	ck_assert_int_eq(c.prefix, 32);
	ck_assert_int_eq(net_parse_cidr("::1", &c, &why), 0);
	ck_assert_int_eq(c.family, AF_INET6);
	ck_assert_int_eq(c.prefix, 128);
	ck_assert_int_eq(net_parse_cidr("[::1]/128", &c, &why), 0);
	ck_assert_int_eq(net_parse_cidr("2001:db8::/32", &c, &why), 0);
	ck_assert_int_eq(c.prefix, 32);
	ck_assert_int_eq(net_parse_cidr("0.0.0.0/0", &c, &why), 0);
	ck_assert_int_eq(net_parse_cidr("10.128.0.0/9", &c, &why), 0);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		why = NULL;
		ck_assert_msg(net_parse_cidr(bad[i], &c, &why) == -1,
		    "accepted '%s'", bad[i]);
		ck_assert_ptr_nonnull(why);
	}
}
END_TEST

START_TEST(test_cidr_match)
{
	struct cidr nets[4];
	const char *why;
	struct sockaddr_storage ss;
	struct sockaddr_un { sa_family_t f; char p[108]; } un;
	static const struct {
		const char *addr;
		int match;
	} t[] = {
		{ "127.0.0.1", 1 }, { "127.255.255.254", 1 },
		{ "128.0.0.1", 0 }, { "10.128.0.1", 1 }, { "10.127.255.255", 0 },
		{ "::1", 1 }, { "::2", 0 }, { "::ffff:127.0.0.5", 1 },
		{ "::ffff:10.200.0.1", 1 }, { "::ffff:11.0.0.1", 0 },
		{ "2001:db8:1::5", 1 }, { "2001:db9::5", 0 },
		{ "192.0.2.1", 0 },
	};
	size_t i;

	ck_assert_int_eq(net_parse_cidr("127.0.0.0/8", &nets[0], &why), 0);
	ck_assert_int_eq(net_parse_cidr("::1", &nets[1], &why), 0);
	ck_assert_int_eq(net_parse_cidr("10.128.0.0/9", &nets[2], &why), 0);
	ck_assert_int_eq(net_parse_cidr("2001:db8::/32", &nets[3], &why), 0);
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		ss = sa_make(t[i].addr);
		ck_assert_msg(net_cidr_match(nets, 4, (struct sockaddr *)&ss) ==
		    t[i].match, "%s", t[i].addr);
	}
	/* nothing matches an empty list, a UNIX socket or NULL */
	ss = sa_make("127.0.0.1");
	ck_assert_int_eq(net_cidr_match(nets, 0, (struct sockaddr *)&ss), 0);
	memset(&un, 0, sizeof(un));
	un.f = AF_UNIX;
	ck_assert_int_eq(net_cidr_match(nets, 4, (struct sockaddr *)&un), 0);
	ck_assert_int_eq(net_cidr_match(nets, 4, NULL), 0);
	/* /0 is everything of its family */
	ck_assert_int_eq(net_parse_cidr("0.0.0.0/0", &nets[0], &why), 0);
	ss = sa_make("203.0.113.9");
	ck_assert_int_eq(net_cidr_match(nets, 1, (struct sockaddr *)&ss), 1);
	ss = sa_make("2001:db8::1");
	ck_assert_int_eq(net_cidr_match(nets, 1, (struct sockaddr *)&ss), 0);
}
END_TEST

START_TEST(test_addr_text)
{
	struct sockaddr_storage ss;
	char text[64], small[4];

	ss = sa_make("::ffff:192.0.2.1");
	ck_assert_int_eq(net_addr_text((struct sockaddr *)&ss, text,
	    sizeof(text)), 0);
	ck_assert_str_eq(text, "192.0.2.1");	/* one spelling per client */
	ss = sa_make("2001:db8::1");
	ck_assert_int_eq(net_addr_text((struct sockaddr *)&ss, text,
	    sizeof(text)), 0);
	ck_assert_str_eq(text, "2001:db8::1");
	ck_assert_int_eq(net_addr_text((struct sockaddr *)&ss, small,
	    sizeof(small)), -1);
	ck_assert_int_eq(net_addr_text(NULL, text, sizeof(text)), -1);
	memset(&ss, 0, sizeof(ss));
	ss.ss_family = AF_UNIX;
	ck_assert_int_eq(net_addr_text((struct sockaddr *)&ss, text,
	    sizeof(text)), -1);
}
END_TEST

/* the network per-client limits count by */
static const char *
client_net(const char *addr, unsigned prefix)
{
	static char text[64];
	struct sockaddr_storage ss = sa_make(addr);

	if (net_client_net((struct sockaddr *)&ss, prefix, text,
	    sizeof(text)) == -1)
		return NULL;
	return text;
}

START_TEST(test_client_net)
{
	struct sockaddr_storage ss;
	char small[8];

	ck_assert_str_eq(client_net("192.0.2.1", 64), "192.0.2.1");
	ck_assert_str_eq(client_net("::ffff:192.0.2.1", 64), "192.0.2.1");
	/* two addresses of one /64 are one client */
	ck_assert_str_eq(client_net("2001:db8:1:2:aaaa:bbbb:cccc:dddd", 64),
	    "2001:db8:1:2::/64");
	ck_assert_str_eq(client_net("2001:db8:1:2::1", 64),
	    "2001:db8:1:2::/64");
	ck_assert_str_ne(client_net("2001:db8:1:3::1", 64),
	    "2001:db8:1:2::/64");
	/* prefixes that do not fall on a byte or a group */
	ck_assert_str_eq(client_net("2001:db8:1:2ff::1", 57),
	    "2001:db8:1:280::/57");
	ck_assert_str_eq(client_net("ffff::1", 1), "8000::/1");
	ck_assert_str_eq(client_net("2001:db8::1", 128), "2001:db8::1");
	ck_assert_str_eq(client_net("::1", 64), "::/64");
	ck_assert_ptr_null(client_net("2001:db8::1", 0));
	ck_assert_ptr_null(client_net("2001:db8::1", 129));
	ss = sa_make("2001:db8::1");
	ck_assert_int_eq(net_client_net((struct sockaddr *)&ss, 64, small,
	    sizeof(small)), -1);
	ck_assert_int_eq(net_client_net(NULL, 64, small, sizeof(small)), -1);
}
END_TEST

/* the same from text, as kurir-auth has it */
START_TEST(test_client_net_text)
{
	char out[64];

	ck_assert_int_eq(net_client_net_text("192.0.2.1", 64, out,
	    sizeof(out)), 0);
	ck_assert_str_eq(out, "192.0.2.1");
	ck_assert_int_eq(net_client_net_text("::ffff:192.0.2.1", 64, out,
	    sizeof(out)), 0);
	ck_assert_str_eq(out, "192.0.2.1");
	ck_assert_int_eq(net_client_net_text("2001:db8:1:2:aaaa::1", 64, out,
	    sizeof(out)), 0);
	ck_assert_str_eq(out, "2001:db8:1:2::/64");
	ck_assert_int_eq(net_client_net_text("2001:db8:1:2ff::1", 56, out,
	    sizeof(out)), 0);
	ck_assert_str_eq(out, "2001:db8:1:200::/56");
	ck_assert_int_eq(net_client_net_text("", 64, out, sizeof(out)), -1);
	ck_assert_int_eq(net_client_net_text("mail.example", 64, out,
	    sizeof(out)), -1);
	ck_assert_int_eq(net_client_net_text("192.0.2.1/24", 64, out,
	    sizeof(out)), -1);
	ck_assert_int_eq(net_client_net_text(NULL, 64, out, sizeof(out)), -1);
	ck_assert_int_eq(net_client_net_text("2001:db8::1", 0, out,
	    sizeof(out)), -1);
	ck_assert_int_eq(net_client_net_text("2001:db8::1", 64, out, 8), -1);
}
END_TEST

START_TEST(test_loopback)
{
	static const struct {
		const char *addr;
		int lo;
	} t[] = {
		{ "127.0.0.1", 1 }, { "127.1.2.3", 1 }, { "126.255.255.255", 0 },
		{ "128.0.0.1", 0 }, { "::1", 1 }, { "::", 0 },
		{ "::ffff:127.0.0.1", 1 }, { "::ffff:192.0.2.1", 0 },
		{ "::127.0.0.1", 0 }, { "192.0.2.1", 0 },
	};
	struct sockaddr_storage ss;
	size_t i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		ss = sa_make(t[i].addr);
		ck_assert_msg(net_is_loopback((struct sockaddr *)&ss) ==
		    t[i].lo, "%s", t[i].addr);
	}
	ck_assert_int_eq(net_is_loopback(NULL), 0);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("net");
	TCase *tc = tcase_create("core");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, test_hostport_good);
	tcase_add_test(tc, test_hostport_bad);
	tcase_add_test(tc, test_cidr_parse);
	tcase_add_test(tc, test_cidr_match);
	tcase_add_test(tc, test_addr_text);
	tcase_add_test(tc, test_loopback);
	tcase_add_test(tc, test_client_net);
	tcase_add_test(tc, test_client_net_text);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
