/*
 * check_table.c - unit tests for common/table.c: the users, aliases and
 * routes tables.  Good files, every bad-line error (each message must
 * start "file:line: "), case-insensitive lookups, missing files, password
 * checks against real $6$ and $y$ hashes made here with crypt_r(3), and
 * the shipped conf/ example files.  Writes temporary files under /tmp;
 * runs as any user.
 */
#include <check.h>
#include <crypt.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf.h"
#include "table.h"

enum kind { USERS, ALIASES, ROUTES };

static char tmp_path[64];

static const char *
write_tmp(const char *data, size_t len)
{
	int fd;

	snprintf(tmp_path, sizeof(tmp_path), "/tmp/check_table.XXXXXX");
	fd = mkstemp(tmp_path);
	ck_assert_int_ne(fd, -1);
	ck_assert_int_eq(write(fd, data, len), (ssize_t)len);
	ck_assert_int_eq(close(fd), 0);
	return tmp_path;
}

/* Load text as a file of the given kind; the table is freed again. */
static int
load_kind(enum kind k, const char *text, size_t len, char *err,
    size_t errlen)
{
	const char *p = write_tmp(text, len);
	struct users *u = NULL;
	struct aliases *a = NULL;
	struct routes *r = NULL;
	int rc;

	if (k == USERS)
		rc = users_load(&u, p, err, errlen);
	else if (k == ALIASES)
		rc = aliases_load(&a, p, err, errlen);
	else
		rc = routes_load(&r, p, err, errlen);
	if (rc == -1)
		ck_assert(u == NULL && a == NULL && r == NULL);
	users_free(u);
	aliases_free(a);
	routes_free(r);
	unlink(p);
	return rc;
}

/* A crypt hash of pw with a fresh salt of the given method. */
static char *
make_hash(const char *prefix, const char *pw)
{
	char salt[CRYPT_GENSALT_OUTPUT_SIZE], *h;
	struct crypt_data *cd;

	ck_assert_ptr_nonnull(crypt_gensalt_rn(prefix, 0, NULL, 0, salt,
	    sizeof(salt)));
	ck_assert_ptr_nonnull(cd = calloc(1, sizeof(*cd)));
	ck_assert_ptr_nonnull(h = crypt_r(pw, salt, cd));
	ck_assert_int_eq(h[0], '$');
	h = strdup(h);
	free(cd);
	return h;
}

/* ---- users ----------------------------------------------------------- */

START_TEST(test_users_name_valid)
{
	static const char *good[] = { "alice", "a", "bob.smith", "b_o-b",
	    "0day", "x1234567890123456789012345678901234567890123456789012345678901" };
	static const char *bad[] = { "", ".alice", "-alice", "Alice", "a b",
	    "a..b", "alice.", "a/b", "a:b", "a@b", "\xc3\xa9",
	    "x12345678901234567890123456789012345678901234567890123456789012345" };
	size_t i;

	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		ck_assert_msg(users_name_valid(good[i]), "%s", good[i]);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(!users_name_valid(bad[i]), "%s", bad[i]);
	ck_assert(!users_name_valid(NULL));
}
END_TEST

START_TEST(test_users_good)
{
	struct users *u = NULL;
	char *h6, *hy, text[1024], err[512];
	const char *p;

	h6 = make_hash("$6$", "secret six");
	hy = make_hash("$y$", "secret y");
	snprintf(text, sizeof(text),
	    "# users\n\n  carol:%s  \r\nalice:%s\nlocked:*\ngone:!%s\n",
	    h6, hy, h6);
	p = write_tmp(text, strlen(text));
	ck_assert_msg(users_load(&u, p, err, sizeof(err)) == 0, "%s", err);
	unlink(p);
	ck_assert_uint_eq(users_count(u), 4);
	ck_assert_str_eq(users_name_at(u, 0), "alice");	/* sorted */
	ck_assert_str_eq(users_name_at(u, 3), "locked");
	ck_assert_ptr_null(users_name_at(u, 4));
	ck_assert_str_eq(users_lookup(u, "carol"), h6);
	ck_assert_str_eq(users_lookup(u, "CAROL"), h6);
	ck_assert_str_eq(users_lookup(u, "Alice"), hy);
	ck_assert_ptr_null(users_lookup(u, "dave"));
	ck_assert_ptr_null(users_lookup(u, NULL));

	ck_assert_int_eq(users_check_password(u, "carol", "secret six"), 1);
	ck_assert_int_eq(users_check_password(u, "Carol", "secret six"), 1);
	ck_assert_int_eq(users_check_password(u, "carol", "secret Six"), 0);
	ck_assert_int_eq(users_check_password(u, "carol", "secret si"), 0);
	ck_assert_int_eq(users_check_password(u, "carol", ""), 0);
	ck_assert_int_eq(users_check_password(u, "carol", NULL), 0);
	ck_assert_int_eq(users_check_password(u, "alice", "secret y"), 1);
	ck_assert_int_eq(users_check_password(u, "alice", "secret six"), 0);
	/* unknown and locked accounts: no, even with the right password */
	ck_assert_int_eq(users_check_password(u, "dave", "secret six"), 0);
	ck_assert_int_eq(users_check_password(u, NULL, "secret six"), 0);
	ck_assert_int_eq(users_check_password(u, "locked", ""), 0);
	ck_assert_int_eq(users_check_password(u, "gone", "secret six"), 0);
	users_free(u);
	/* no table at all: still a clean no */
	ck_assert_int_eq(users_check_password(NULL, "carol", "x"), 0);
	ck_assert_ptr_null(users_lookup(NULL, "carol"));
	ck_assert_uint_eq(users_count(NULL), 0);
	free(h6);
	free(hy);
}
END_TEST

START_TEST(test_users_long_password)
{
	struct users *u = NULL;
	char *h, text[512], err[512], *pw;

	/* an absurdly long password is refused without hashing it all */
	ck_assert_ptr_nonnull(pw = malloc(CRYPT_MAX_PASSPHRASE_SIZE + 1));
	memset(pw, 'a', CRYPT_MAX_PASSPHRASE_SIZE - 1);
	pw[CRYPT_MAX_PASSPHRASE_SIZE - 1] = '\0';
	h = make_hash("$6$", pw);
	snprintf(text, sizeof(text), "alice:%s\n", h);
	ck_assert_int_eq(users_load_mem(&u, "mem", text, strlen(text), err,
	    sizeof(err)), 0);
	ck_assert_int_eq(users_check_password(u, "alice", pw), 1);
	/* one byte more is more than crypt(3) takes: no, not an error */
	pw[CRYPT_MAX_PASSPHRASE_SIZE - 1] = 'a';
	pw[CRYPT_MAX_PASSPHRASE_SIZE] = '\0';
	ck_assert_int_eq(users_check_password(u, "alice", pw), 0);
	users_free(u);
	free(h);
	free(pw);
}
END_TEST

START_TEST(test_missing_files)
{
	struct users *u = NULL;
	struct aliases *a = NULL;
	struct routes *r = NULL;
	char err[512];
	size_t n = 7;

	ck_assert_int_eq(users_load(&u, "/nonexistent/users", err,
	    sizeof(err)), 0);
	ck_assert_int_eq(aliases_load(&a, "/nonexistent/aliases", err,
	    sizeof(err)), 0);
	ck_assert_int_eq(routes_load(&r, "/nonexistent/routes", err,
	    sizeof(err)), 0);
	ck_assert_uint_eq(users_count(u), 0);
	ck_assert_uint_eq(aliases_count(a), 0);
	ck_assert_uint_eq(routes_count(r), 0);
	ck_assert_ptr_null(users_lookup(u, "a"));
	ck_assert_int_eq(users_check_password(u, "a", "b"), 0);
	ck_assert_ptr_null(aliases_lookup(a, "a", &n));
	ck_assert_uint_eq(n, 0);
	ck_assert_ptr_null(routes_lookup(r, "a.test"));
	users_free(u);
	aliases_free(a);
	routes_free(r);

	/* other open errors are errors, and *out is untouched */
	u = (struct users *)(void *)&n;
	ck_assert_int_eq(users_load(&u, "/tmp", err, sizeof(err)), -1);
	ck_assert_ptr_eq(u, (void *)&n);
	ck_assert_str_eq(err, "/tmp: Is a directory");
	ck_assert_int_eq(aliases_load(&a, NULL, err, sizeof(err)), -1);
}
END_TEST

/* ---- bad lines of every table ----------------------------------------- */

#define LONG64	"0123456789012345678901234567890123456789012345678901234567890123"

static const struct {
	enum kind	 kind;
	const char	*text;
	size_t		 len;		/* 0: strlen */
	unsigned long	 line;
	const char	*want;
} bad[] = {
	{ USERS, "alice\n", 0, 1, "missing ':' (want name:hash)" },
	{ USERS, "# x\nAlice:*\n", 0, 2, "bad user name 'Alice'" },
	{ USERS, ".alice:*\n", 0, 1, "bad user name" },
	{ USERS, "a..b:*\n", 0, 1, "bad user name" },
	{ USERS, ":*\n", 0, 1, "bad user name" },
	{ USERS, "x" LONG64 ":*\n", 0, 1, "bad user name" },
	{ USERS, "alice:\n", 0, 1, "alice: empty password hash" },
	{ USERS, "alice:plaintext\n", 0, 1, "alice: not a crypt hash" },
	{ USERS, "alice:$6$salt$a b\n", 0, 1, "contains a blank" },
	{ USERS, "alice:$6$salt$ab:1000:1000\n", 0, 1, "contains a blank, ':'" },
	{ USERS, "alice:$zz$abc\n", 0, 1, "not supported" },
	{ USERS, "alice:*\nbob:*\n\nalice:*\n", 0, 4,
	  "duplicate user 'alice' (first on line 1)" },
	{ USERS, "a:*\nb:\0*\n", 9, 2, "NUL byte in line" },
	{ ALIASES, "postmaster alice\n", 0, 1, "missing ':'" },
	{ ALIASES, "\na@b.test: x\n", 0, 2, "bad alias name 'a@b.test'" },
	{ ALIASES, ": x\n", 0, 1, "bad alias name" },
	{ ALIASES, "a b: x\n", 0, 1, "bad alias name" },
	{ ALIASES, "a:\n", 0, 1, "a: no targets" },
	{ ALIASES, "a: , ,\n", 0, 1, "a: no targets" },
	{ ALIASES, "a: b c\n", 0, 1, "a: bad target 'b c'" },
	{ ALIASES, "a: |/bin/sh\n", 0, 1,
	  "bad target '|/bin/sh': programs, files and :include: are not" },
	{ ALIASES, "a: b, /var/mail/x\n", 0, 1, "bad target '/var/mail/x'" },
	{ ALIASES, "a: :include:/etc/list\n", 0, 1, "not supported" },
	{ ALIASES, "a: \"|x\"\n", 0, 1, "not supported" },
	{ ALIASES, "a: <>\n", 0, 1, "bad target" },
	{ ALIASES, "a: b@-x.test\n", 0, 1, "bad target" },
	{ ALIASES, "a: x\nb: y\nA: z\n", 0, 3,
	  "duplicate alias 'A' (first on line 1)" },
	{ ROUTES, "example.net\n", 0, 1, "missing host" },
	{ ROUTES, "bad_domain mx.test\n", 0, 1, "bad domain" },
	{ ROUTES, "[192.0.2.1] mx.test\n", 0, 1, "bad domain" },
	{ ROUTES, "a.test mx.test:0\n", 0, 1, "port not in 1..65535" },
	{ ROUTES, "a.test mx.test:65536\n", 0, 1, "port not in 1..65535" },
	{ ROUTES, "a.test mx.test:x\n", 0, 1, "bad port" },
	{ ROUTES, "a.test mx.test:\n", 0, 1, "bad port" },
	{ ROUTES, "a.test [::1\n", 0, 1, "missing ']'" },
	{ ROUTES, "a.test [1.2.3]\n", 0, 1, "bad address literal" },
	{ ROUTES, "a.test [::1]x\n", 0, 1, "junk after ']'" },
	{ ROUTES, "a.test ::1:25\n", 0, 1, "must be in brackets" },
	{ ROUTES, "a.test bad_host\n", 0, 1, "bad host name" },
	{ ROUTES, "a.test mx.test tls=maybe\n", 0, 1, "bad tls= value" },
	{ ROUTES, "a.test mx.test tls=none tls=may\n", 0, 1, "tls= given twice" },
	{ ROUTES, "a.test mx.test foo=bar\n", 0, 1, "unknown option" },
	{ ROUTES, "a.test mx.test tls=may x y\n", 0, 1, "too many fields" },
	{ ROUTES, "a.test x.test\n# c\nA.TEST y.test\n", 0, 3,
	  "duplicate route for 'a.test' (first on line 1)" },
	{ ROUTES, "* x.test\n* y.test\n", 0, 2, "duplicate route for '*'" },
};

START_TEST(test_bad_lines)
{
	char err[512], prefix[128];
	size_t len = bad[_i].len ? bad[_i].len : strlen(bad[_i].text);

	memset(err, 0, sizeof(err));
	ck_assert_msg(load_kind(bad[_i].kind, bad[_i].text, len, err,
	    sizeof(err)) == -1, "accepted: %s", bad[_i].text);
	snprintf(prefix, sizeof(prefix), "%s:%lu: ", tmp_path, bad[_i].line);
	ck_assert_msg(strncmp(err, prefix, strlen(prefix)) == 0,
	    "want '%s' got '%s'", prefix, err);
	ck_assert_msg(strstr(err, bad[_i].want) != NULL, "want '%s' in '%s'",
	    bad[_i].want, err);
}
END_TEST

START_TEST(test_long_line)
{
	char *text, err[512];
	enum kind k;
	size_t n = CONF_LINE_MAX + 8;	/* line 2: 4099 bytes */

	ck_assert_ptr_nonnull(text = malloc(n + 8));
	for (k = USERS; k <= ROUTES; k++) {
		memset(text, 'a', n);
		memcpy(text, "# ok\n", 5);
		text[n] = '\n';
		ck_assert_int_eq(load_kind(k, text, n + 1, err, sizeof(err)), -1);
		ck_assert_msg(strstr(err, ":2: line longer than 4096") != NULL,
		    "%s", err);
	}
	free(text);
}
END_TEST

/* ---- aliases ----------------------------------------------------------- */

START_TEST(test_aliases_good)
{
	static const char text[] =
	    "# aliases\n"
	    "postmaster: alice\n"
	    "Abuse : alice, bob@Example.NET\r\n"
	    "list: a, \"x y\"@example.test, c,\n"
	    "dup: a, A, a@example.test, a\n"
	    "\"dave\": dave@elsewhere.test\n"
	    "\"odd:name\": x\n";
	struct aliases *a = NULL;
	const char * const *t;
	char err[512];
	size_t n;

	ck_assert_msg(aliases_load_mem(&a, "mem", text, sizeof(text) - 1, err,
	    sizeof(err)) == 0, "%s", err);
	ck_assert_uint_eq(aliases_count(a), 6);
	ck_assert_ptr_nonnull(t = aliases_lookup(a, "POSTMASTER", &n));
	ck_assert_uint_eq(n, 1);
	ck_assert_str_eq(t[0], "alice");
	ck_assert_ptr_nonnull(t = aliases_lookup(a, "abuse", &n));
	ck_assert_uint_eq(n, 2);
	ck_assert_str_eq(t[1], "bob@example.net");
	ck_assert_ptr_nonnull(t = aliases_lookup(a, "list", &n));
	ck_assert_uint_eq(n, 3);
	ck_assert_str_eq(t[1], "\"x y\"@example.test");
	ck_assert_str_eq(t[2], "c");
	ck_assert_ptr_nonnull(t = aliases_lookup(a, "dup", &n));
	ck_assert_uint_eq(n, 2);	/* a, a@example.test */
	ck_assert_ptr_nonnull(t = aliases_lookup(a, "dave", &n));
	ck_assert_str_eq(t[0], "dave@elsewhere.test");
	ck_assert_ptr_nonnull(aliases_lookup(a, "\"odd:name\"", &n));
	ck_assert_ptr_null(aliases_lookup(a, "alice", &n));
	ck_assert_uint_eq(n, 0);
	ck_assert_ptr_null(aliases_lookup(a, NULL, &n));
	aliases_free(a);
	ck_assert_ptr_null(aliases_lookup(NULL, "x", &n));
}
END_TEST

/* ---- routes ------------------------------------------------------------ */

START_TEST(test_routes_good)
{
	static const char text[] =
	    "example.net mx.Example.net\n"
	    "*  [192.0.2.1]:2525 tls=none\n"
	    "EXAMPLE.org\t[::1]:26  tls=require\n"
	    "example.com 192.0.2.9:587 tls=verify\n"
	    "example.info relay.example.info:25 tls=may\n";
	struct routes *r = NULL;
	const struct route *ro;
	char err[512];

	ck_assert_msg(routes_load_mem(&r, "mem", text, sizeof(text) - 1, err,
	    sizeof(err)) == 0, "%s", err);
	ck_assert_uint_eq(routes_count(r), 5);
	ck_assert_ptr_nonnull(ro = routes_lookup(r, "Example.NET"));
	ck_assert_str_eq(ro->domain, "example.net");
	ck_assert_str_eq(ro->host, "mx.example.net");
	ck_assert_uint_eq(ro->port, 25);
	ck_assert_int_eq(ro->tls, ROUTE_TLS_MAY);
	ck_assert_ptr_nonnull(ro = routes_lookup(r, "example.org"));
	ck_assert_str_eq(ro->host, "::1");
	ck_assert_uint_eq(ro->port, 26);
	ck_assert_int_eq(ro->tls, ROUTE_TLS_REQUIRE);
	ck_assert_ptr_nonnull(ro = routes_lookup(r, "example.com"));
	ck_assert_str_eq(ro->host, "192.0.2.9");
	ck_assert_uint_eq(ro->port, 587);
	ck_assert_int_eq(ro->tls, ROUTE_TLS_VERIFY);
	/* no exact match: the smarthost; a subdomain is not the domain */
	ck_assert_ptr_nonnull(ro = routes_lookup(r, "sub.example.net"));
	ck_assert_str_eq(ro->domain, "*");
	ck_assert_str_eq(ro->host, "192.0.2.1");
	ck_assert_uint_eq(ro->port, 2525);
	ck_assert_int_eq(ro->tls, ROUTE_TLS_NONE);
	routes_free(r);

	/* without a smarthost an unknown domain has no route (use MX) */
	ck_assert_int_eq(routes_load_mem(&r, "mem", text, 27, err,
	    sizeof(err)), 0);
	ck_assert_ptr_nonnull(routes_lookup(r, "example.net"));
	ck_assert_ptr_null(routes_lookup(r, "other.test"));
	ck_assert_ptr_null(routes_lookup(r, NULL));
	routes_free(r);
	ck_assert_ptr_null(routes_lookup(NULL, "x.test"));
}
END_TEST

/* ---- the shipped examples ---------------------------------------------- */

/* Load path as is, then with "#word" lines switched on. */
static void
check_example(enum kind k, const char *path)
{
	struct buf b;
	char err[512], *un, *q;
	size_t i;

	if (conf_read_file(path, TABLE_FILE_MAX, &b) == -1) {
		fprintf(stderr, "check_table: %s not found, skipped\n", path);
		return;
	}
	ck_assert_msg(load_kind(k, b.data, b.len, err, sizeof(err)) == 0,
	    "%s: %s", path, err);
	ck_assert_ptr_nonnull(un = malloc(b.len + 1));
	for (i = 0, q = un; i < b.len; i++) {
		if (b.data[i] == '#' && (i == 0 || b.data[i - 1] == '\n') &&
		    i + 1 < b.len && (isalnum((unsigned char)b.data[i + 1]) ||
		    b.data[i + 1] == '*'))
			continue;
		*q++ = b.data[i];
	}
	ck_assert_msg(load_kind(k, un, (size_t)(q - un), err, sizeof(err)) == 0,
	    "%s uncommented: %s", path, err);
	free(un);
	buf_free(&b);
}

START_TEST(test_examples)
{
	check_example(USERS, "conf/users.example");
	check_example(ALIASES, "conf/aliases.example");
	check_example(ROUTES, "conf/routes.example");
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("table");
	TCase *tc = tcase_create("core");
	SRunner *sr;
	int failed;

	tcase_set_timeout(tc, 60);	/* yescrypt is slow on purpose */
	tcase_add_test(tc, test_users_name_valid);
	tcase_add_test(tc, test_users_good);
	tcase_add_test(tc, test_users_long_password);
	tcase_add_test(tc, test_missing_files);
	tcase_add_loop_test(tc, test_bad_lines, 0, sizeof(bad) / sizeof(bad[0]));
	tcase_add_test(tc, test_long_line);
	tcase_add_test(tc, test_aliases_good);
	tcase_add_test(tc, test_routes_good);
	tcase_add_test(tc, test_examples);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
