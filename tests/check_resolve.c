/*
 * check_resolve.c - unit tests for kurir-auth's alias expansion
 * (auth/resolve.c): chains, remote targets, loops, unknown targets,
 * case, duplicates, bounds.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "../auth/resolve.c"

static struct users *u;
static struct aliases *al;
static struct conf c;

static void
setup(void)
{
	static const char users[] =
	    "alice:$6$x$y\nbob:$6$x$y\ncarol:$6$x$y\nsales:$6$x$y\n";
	static const char aliases[] =
	    "postmaster: alice\n"
	    "team: alice, bob, Carol@Example.Test\n"
	    "sales: bob\n"
	    "all: team, sales, alice\n"
	    "out: far@remote.test, alice\n"
	    "ghost: nobody, alice\n"
	    "loop1: loop2\n"
	    "loop2: loop1\n"
	    "self: self\n"
	    "deep0: deep1\ndeep1: deep2\ndeep2: deep3\ndeep3: deep4\n"
	    "deep4: deep5\ndeep5: deep6\ndeep6: deep7\ndeep7: deep8\n"
	    "deep8: deep9\ndeep9: deep10\ndeep10: deep11\ndeep11: alice\n";
	static const char conf[] = "hostname = mail.example.test\n"
	    "local_domains = example.test localhost\n";
	char err[512];

	ck_assert_int_eq(users_load_mem(&u, "users", users, strlen(users),
	    err, sizeof(err)), 0);
	ck_assert_msg(aliases_load_mem(&al, "aliases", aliases,
	    strlen(aliases), err, sizeof(err)) == 0, "%s", err);
	ck_assert_msg(conf_load_mem(&c, "conf", "/tmp", conf, strlen(conf),
	    err, sizeof(err)) == 0, "%s", err);
}

static void
teardown(void)
{
	users_free(u);
	aliases_free(al);
	conf_free(&c);
}

static const char *
run(const char *name, enum resolve_result want, const char **why)
{
	static struct buf b;
	const char *w = NULL;

	buf_free(&b);
	buf_init(&b, 65536);
	ck_assert_int_eq(resolve_local(u, al, &c, name, &b, &w), want);
	if (why)
		*why = w;
	return buf_cstr(&b);
}

START_TEST(test_plain_user)
{
	ck_assert_str_eq(run("alice", RESOLVE_OK, NULL), "user alice\n");
	ck_assert_str_eq(run("ALICE", RESOLVE_OK, NULL), "user alice\n");
	run("nobody", RESOLVE_NOUSER, NULL);
}
END_TEST

START_TEST(test_alias_wins_over_user)
{
	ck_assert_str_eq(run("sales", RESOLVE_OK, NULL), "user bob\n");
	ck_assert_str_eq(run("postmaster", RESOLVE_OK, NULL), "user alice\n");
}
END_TEST

START_TEST(test_chains_and_duplicates)
{
	ck_assert_str_eq(run("team", RESOLVE_OK, NULL),
	    "user alice\nuser bob\nuser carol\n");
	/* alice and bob reached three ways each: delivered once */
	ck_assert_str_eq(run("all", RESOLVE_OK, NULL),
	    "user alice\nuser bob\nuser carol\n");
}
END_TEST

START_TEST(test_remote_and_unknown_targets)
{
	ck_assert_str_eq(run("out", RESOLVE_OK, NULL),
	    "remote far@remote.test\nuser alice\n");
	ck_assert_str_eq(run("ghost", RESOLVE_OK, NULL),
	    "fail nobody\nuser alice\n");
}
END_TEST

START_TEST(test_loops)
{
	const char *why;

	run("loop1", RESOLVE_ERROR, &why);
	ck_assert_str_eq(why, "5.4.6 alias loop");
	run("self", RESOLVE_ERROR, &why);
	ck_assert_str_eq(why, "5.4.6 alias loop");
	run("deep0", RESOLVE_ERROR, &why);
	ck_assert_ptr_nonnull(strstr(why, "5.4.6"));
	/* ten links are fine */
	ck_assert_str_eq(run("deep2", RESOLVE_OK, NULL), "user alice\n");
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("resolve");
	TCase *tc = tcase_create("core");
	SRunner *sr;
	int failed;

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_plain_user);
	tcase_add_test(tc, test_alias_wins_over_user);
	tcase_add_test(tc, test_chains_and_duplicates);
	tcase_add_test(tc, test_remote_and_unknown_targets);
	tcase_add_test(tc, test_loops);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
