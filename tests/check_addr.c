/*
 * check_addr.c - unit tests for common/addr.c (RFC 5321 paths and mailboxes).
 *
 * Table-driven: every row names the parser (path, bare mailbox or domain),
 * the input with an explicit length where it holds a NUL, the flags, and
 * the expected result -- the canonical local part and domain when valid,
 * the reason text when not.  Inputs come from RFC 5321/5322 examples and
 * the classic edge cases (CVE-2020-7247 included).  Runs as any user.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"

#define N	ADDR_ALLOW_NULL
#define ND	ADDR_ALLOW_NODOMAIN
#define PM	ADDR_ALLOW_POSTMASTER
#define U	ADDR_ALLOW_UTF8

/* Long strings built at compile time. */
#define A10	"aaaaaaaaaa"
#define A63	A10 A10 A10 A10 A10 A10 "aaa"
#define A64	A63 "a"
#define A65	A64 "a"
#define B10	"bbbbbbbbbb"
#define L63	B10 B10 B10 B10 B10 B10 "bbb"	/* a 63-octet label */
#define L64	L63 "b"
#define C10	"cccccccccc"
#define C61	C10 C10 C10 C10 C10 C10 "c"
#define D189	L63 "." L63 "." C61		/* "<" A64 "@" D189 ">" = 256 */
#define D190	L63 "." L63 "." C61 "c"		/* same path: 257 */
#define D255	L63 "." L63 "." L63 "." L63
#define D256	L63 "." L63 "." L63 "." L63 "b"

enum mode { PATH, BARE, DOMAIN };

struct row {
	enum mode	 mode;
	const char	*in;
	size_t		 len;		/* 0: strlen(in) */
	int		 flags;
	int		 ok;		/* 1 valid, 0 invalid */
	const char	*local;		/* valid: canonical local, NULL = null path */
	const char	*domain;	/* valid: canonical domain */
	const char	*why;		/* invalid: expected reason */
};

#define OK(m, in, fl, l, d)	{ m, in, 0, fl, 1, l, d, NULL }
#define BAD(m, in, fl, w)	{ m, in, 0, fl, 0, NULL, NULL, w }
#define BADN(m, in, fl, w)	{ m, in, sizeof(in) - 1, fl, 0, NULL, NULL, w }

static const struct row rows[] = {
	/* plain mailboxes, case handling */
	OK(PATH, "<user@example.com>", 0, "user", "example.com"),
	OK(PATH, "<User@Example.COM>", 0, "User", "example.com"),
	OK(BARE, "user@example.com", 0, "user", "example.com"),
	OK(BARE, "<user@example.com>", 0, "user", "example.com"),
	OK(PATH, "<a.b.c@example.com>", 0, "a.b.c", "example.com"),
	OK(PATH, "<a@b>", 0, "a", "b"),
	OK(PATH, "<a@3com.com>", 0, "a", "3com.com"),
	OK(PATH, "<!#$%&'*+-/=?^_`{|}~@example.com>", 0,
	    "!#$%&'*+-/=?^_`{|}~", "example.com"),
	/* shell metacharacters are atext: delivery uses execv, not sh */
	OK(PATH, "<`id`$x@example.com>", 0, "`id`$x", "example.com"),
	OK(PATH, "<a@x-y.example>", 0, "a", "x-y.example"),
	OK(PATH, "<a@xn--bcher-kva.example>", 0, "a", "xn--bcher-kva.example"),
	OK(PATH, "<user@example.com>", N | ND | PM | U, "user", "example.com"),

	/* quoted local parts and canonicalisation */
	OK(PATH, "<\"dave\"@example.com>", 0, "dave", "example.com"),
	OK(PATH, "<\"\\d\\a\\v\\e\"@x.org>", 0, "dave", "x.org"),
	OK(PATH, "<\"a.b\"@example.com>", 0, "a.b", "example.com"),
	OK(PATH, "<\"user%host\"@gw.example>", 0, "user%host", "gw.example"),
	OK(PATH, "<\"john doe\"@example.com>", 0, "\"john doe\"", "example.com"),
	OK(PATH, "<\"a\\\"b\"@example.com>", 0, "\"a\\\"b\"", "example.com"),
	OK(PATH, "<\"a\\\\b\"@example.com>", 0, "\"a\\\\b\"", "example.com"),
	OK(PATH, "<\"a\\ b\"@example.com>", 0, "\"a b\"", "example.com"),
	OK(PATH, "<\"a@b\"@example.com>", 0, "\"a@b\"", "example.com"),
	OK(PATH, "<\"a>b\"@example.com>", 0, "\"a>b\"", "example.com"),
	OK(PATH, "<\"a..b\"@example.com>", 0, "\"a..b\"", "example.com"),
	OK(PATH, "<\".a\"@example.com>", 0, "\".a\"", "example.com"),
	OK(PATH, "<\"Joe.\\\\Blow\"@example.com>", 0, "\"Joe.\\\\Blow\"",
	    "example.com"),

	/* source routes: parsed, then dropped */
	OK(PATH, "<@a.b,@c.d:user@e.f>", 0, "user", "e.f"),
	OK(PATH, "<@relay.example:Joe@Example.org>", 0, "Joe", "example.org"),

	/* address literals */
	OK(PATH, "<user@[192.0.2.1]>", 0, "user", "[192.0.2.1]"),
	OK(PATH, "<user@[IPv6:2001:DB8::1]>", 0, "user", "[IPv6:2001:db8::1]"),
	OK(PATH, "<user@[ipv6:2001:db8:0:0:0:0:0:1]>", 0, "user",
	    "[IPv6:2001:db8::1]"),
	OK(PATH, "<user@[IPv6:::ffff:192.0.2.1]>", 0, "user",
	    "[IPv6:::ffff:192.0.2.1]"),

	/* null path, postmaster, bare local part */
	OK(PATH, "<>", N, NULL, NULL),
	OK(BARE, "", N, NULL, NULL),
	OK(BARE, "<>", N, NULL, NULL),
	OK(PATH, "<postmaster>", PM, "postmaster", ""),
	OK(PATH, "<Postmaster>", PM, "postmaster", ""),
	OK(PATH, "<POSTMASTER>", PM, "postmaster", ""),
	OK(BARE, "Postmaster", PM, "postmaster", ""),
	OK(PATH, "<Postmaster@Example.com>", PM, "Postmaster", "example.com"),
	OK(BARE, "alice", ND, "alice", ""),
	OK(BARE, "Alice", ND, "Alice", ""),

	/* limits, exactly at the edge */
	OK(PATH, "<" A64 "@example.com>", 0, A64, "example.com"),
	OK(PATH, "<\"" A64 "\"@example.com>", 0, A64, "example.com"),
	OK(PATH, "<a@" L63 ".com>", 0, "a", L63 ".com"),
	OK(PATH, "<" A64 "@" D189 ">", 0, A64, D189),
	OK(DOMAIN, D255, 0, NULL, NULL),

	/* SMTPUTF8 */
	OK(PATH, "<j\xc3\xb6rg@example.com>", U, "j\xc3\xb6rg", "example.com"),
	OK(PATH, "<a@B\xc3\xbc" "cher.Example>", U, "a", "b\xc3\xbc" "cher.example"),
	OK(PATH, "<\"j\xc3\xb6rg doe\"@example.com>", U, "\"j\xc3\xb6rg doe\"",
	    "example.com"),
	OK(PATH, "<\"\xe2\x82\xac\"@example.com>", U, "\xe2\x82\xac", "example.com"),
	OK(PATH, "<\xf0\x9f\x93\xa7@example.com>", U, "\xf0\x9f\x93\xa7",
	    "example.com"),

	/* brackets and framing */
	BAD(PATH, "", 0, "missing '<'"),
	BAD(PATH, "user@example.com", 0, "missing '<'"),
	BAD(PATH, " <user@example.com>", 0, "missing '<'"),
	BAD(PATH, "<user@example.com", 0, "missing '>'"),
	BAD(BARE, "<user@example.com", 0, "missing '>'"),
	BAD(PATH, "<", N, "missing '>'"),
	BAD(PATH, "<user@example.com> ", 0, "junk after '>'"),
	BAD(PATH, "<user@example.com>x", 0, "junk after '>'"),
	BAD(PATH, "<user@example.com> SIZE=100", 0, "junk after '>'"),
	BAD(PATH, "<a@b>>", 0, "bad character in domain"),
	BAD(PATH, "<<a@b>>", 0, "bad character in local part"),
	BAD(PATH, "<a@example.com,b@example.com>", 0, "bad character in domain"),

	/* null, postmaster, missing domain */
	BAD(PATH, "<>", 0, "null path not allowed"),
	BAD(PATH, "<>", ND | PM | U, "null path not allowed"),
	BAD(BARE, "", 0, "empty address"),
	BAD(PATH, "<postmaster>", 0, "missing domain"),
	BAD(PATH, "<postmistress>", PM, "missing domain"),
	BAD(PATH, "<postmaster.x>", PM, "missing domain"),
	BAD(BARE, "alice", 0, "missing domain"),
	BAD(BARE, "alice", PM, "missing domain"),
	BAD(PATH, "<user@>", 0, "empty domain"),
	BAD(PATH, "<@example.com>", 0, "bad source route"),
	BAD(BARE, "@example.com", 0, "empty local part"),

	/* local part syntax */
	BAD(PATH, "<.user@example.com>", 0, "leading dot in local part"),
	BAD(PATH, "<user.@example.com>", 0, "trailing dot in local part"),
	BAD(PATH, "<us..er@example.com>", 0, "consecutive dots in local part"),
	BAD(PATH, "<us er@example.com>", 0, "space in address"),
	BAD(PATH, "<a<b@c.com>", 0, "bad character in local part"),
	BAD(PATH, "<a(comment)@c.com>", 0, "bad character in local part"),
	/* CVE-2020-7247 exploit shape */
	BAD(PATH, "<;sleep 66;>", 0, "bad character in local part"),
	BAD(PATH, "<;sleep 66;>", ND | PM | N | U, "bad character in local part"),
	BAD(PATH, "<\"unterminated@example.com>", 0, "unbalanced quotes"),
	BAD(PATH, "<\"a\\\"@example.com>", 0, "unbalanced quotes"),
	BAD(PATH, "<\"a\\>", 0, "unbalanced quotes"),
	BAD(PATH, "<\"a\"b@example.com>", 0, "junk after quoted local part"),
	BAD(PATH, "<\"\"@example.com>", 0, "empty local part"),
	BAD(PATH, "<\"a\x01\"@x.com>", 0, "control character in address"),
	BAD(PATH, "<\"\\\x01\"@x.com>", 0, "control character in address"),
	BAD(PATH, "<\"a\\\x7f\"@x.com>", 0, "bad quoted pair"),

	/* domain syntax */
	BAD(PATH, "<user@example.com.>", 0, "trailing dot in domain"),
	BAD(PATH, "<user@.example.com>", 0, "empty label in domain"),
	BAD(PATH, "<user@example..com>", 0, "empty label in domain"),
	BAD(PATH, "<user@-example.com>", 0, "hyphen at start of label"),
	BAD(PATH, "<user@example-.com>", 0, "hyphen at end of label"),
	BAD(PATH, "<user@exa_mple.com>", 0, "bad character in domain"),
	BAD(PATH, "<a@b@c.com>", 0, "bad character in domain"),
	BAD(PATH, "<user@127.0.0.1>", 0, "numeric top-level domain"),
	BAD(PATH, "<a@" L64 ".com>", 0, "domain label too long"),
	BAD(DOMAIN, D256, 0, NULL),

	/* source routes */
	BAD(PATH, "<@a.b,c.d:user@e.f>", 0, "bad source route"),
	BAD(PATH, "<@a.b,@c.d:>", 0, "empty local part"),
	BAD(PATH, "<@a..b:user@e.f>", 0, "empty label in domain"),
	BAD(PATH, "<@[192.0.2.1]:user@e.f>", 0, "address literal not allowed here"),
	BAD(PATH, "<@a.b:postmaster>", PM, "source route without domain"),

	/* address literals */
	BAD(PATH, "<user@[300.1.1.1]>", 0, "bad IPv4 address literal"),
	BAD(PATH, "<user@[1.2.3]>", 0, "bad IPv4 address literal"),
	BAD(PATH, "<user@[]>", 0, "bad address literal"),
	BAD(PATH, "<user@[192.0.2.1>", 0, "bad address literal"),
	BAD(PATH, "<user@[IPv6:zzz]>", 0, "bad IPv6 address literal"),
	BAD(PATH, "<user@[IPv6:1.2.3.4]>", 0, "bad IPv6 address literal"),
	BAD(PATH, "<user@[IPv6:1::2::3]>", 0, "bad IPv6 address literal"),
	BAD(PATH, "<user@[x-tag:content]>", 0, "unsupported address literal"),

	/* limits, one past the edge */
	BAD(PATH, "<" A65 "@example.com>", 0, "local part too long"),
	/* 64 octets of content, but the canonical form needs quotes: 66 */
	BAD(PATH, "<\"" A63 " \"@example.com>", 0, "local part too long"),
	BAD(PATH, "<" A64 "@" D190 ">", 0, "path too long"),
	BAD(BARE, A64 "@" D255, 0, "address too long"),

	/* NUL and control characters (explicit lengths) */
	BADN(PATH, "<us\0er@example.com>", 0, "NUL in address"),
	BADN(PATH, "<user@example.com>\0", 0, "NUL in address"),
	BADN(PATH, "<\"a\0b\"@example.com>", 0, "NUL in address"),
	BAD(PATH, "<user@exa\x01mple.com>", 0, "control character in address"),
	BAD(PATH, "<us\ter@example.com>", 0, "control character in address"),
	BAD(PATH, "<user@example.com\r\n>", 0, "control character in address"),
	BAD(PATH, "<user\x7f@example.com>", 0, "control character in address"),

	/* 8-bit without the flag, and malformed UTF-8 with it */
	BAD(PATH, "<j\xc3\xb6rg@example.com>", 0, "8-bit character without SMTPUTF8"),
	BAD(PATH, "<a@b\xc3\xbc" "cher.example>", 0,
	    "8-bit character without SMTPUTF8"),
	BAD(PATH, "<\"j\xc3\xb6rg\"@example.com>", 0,
	    "8-bit character without SMTPUTF8"),
	BAD(PATH, "<j\xc3\x28rg@example.com>", U, "invalid UTF-8"),
	BAD(PATH, "<j\xc0\xafrg@example.com>", U, "invalid UTF-8"),
	BAD(PATH, "<j\xe0\x80\xafrg@example.com>", U, "invalid UTF-8"),
	BAD(PATH, "<a@b\xed\xa0\x80.example>", U, "invalid UTF-8"),
	BAD(PATH, "<j\xf4\x90\x80\x80@example.com>", U, "invalid UTF-8"),
	BAD(PATH, "<j\xc3@example.com>", U, "invalid UTF-8"),
	BAD(PATH, "<\"\\\xc3\xb6\"@example.com>", U, "bad quoted pair"),
};

static int
run_row(const struct row *r, struct addr *a, const char **why)
{
	size_t len = r->len ? r->len : strlen(r->in);

	*why = NULL;
	switch (r->mode) {
	case PATH:
		return addr_parse_path(r->in, len, r->flags, a, why);
	case BARE:
		return addr_parse(r->in, r->flags, a, why);
	default:
		return addr_domain_valid(r->in, r->flags & U) ? 0 : -1;
	}
}

START_TEST(test_table)
{
	const struct row *r = &rows[_i];
	const char *why;
	struct addr a;
	int rc;

	memset(&a, 0x55, sizeof a);
	rc = run_row(r, &a, &why);
	if (!r->ok) {
		ck_assert_msg(rc == -1, "row %d \"%s\": accepted", _i, r->in);
		if (r->mode != DOMAIN) {
			ck_assert_msg(why != NULL, "row %d: no reason", _i);
			if (r->why != NULL)
				ck_assert_msg(strcmp(why, r->why) == 0,
				    "row %d \"%s\": reason \"%s\", want \"%s\"",
				    _i, r->in, why, r->why);
		}
		return;
	}
	ck_assert_msg(rc == 0, "row %d \"%s\": rejected: %s", _i, r->in,
	    why ? why : "?");
	if (r->mode == DOMAIN)
		return;
	if (r->local == NULL) {
		ck_assert_int_eq(a.null, 1);
		return;
	}
	ck_assert_int_eq(a.null, 0);
	ck_assert_str_eq(a.local, r->local);
	ck_assert_str_eq(a.domain, r->domain);
}
END_TEST

/* Every valid row: format, re-parse (bare and as a path), same address. */
START_TEST(test_roundtrip)
{
	const struct row *r = &rows[_i];
	char text[ADDR_TEXT_MAX], path[ADDR_TEXT_MAX + 2];
	struct addr a, b;
	const char *why;

	if (!r->ok || r->mode == DOMAIN)
		return;
	ck_assert_int_eq(run_row(r, &a, &why), 0);
	ck_assert_int_eq(addr_format(&a, text, sizeof text), 0);
	ck_assert_msg(addr_parse(text, r->flags, &b, &why) == 0,
	    "row %d: \"%s\" does not re-parse: %s", _i, text, why);
	ck_assert(addr_equal(&a, &b));
	ck_assert_str_eq(a.local, b.local);
	ck_assert_str_eq(a.domain, b.domain);
	snprintf(path, sizeof path, "<%s>", text);
	ck_assert_int_eq(addr_parse_path(path, strlen(path), r->flags, &b, &why), 0);
	ck_assert(addr_equal(&a, &b));
}
END_TEST

START_TEST(test_format)
{
	struct addr a;
	char out[ADDR_TEXT_MAX];

	ck_assert_int_eq(addr_parse("\"john doe\"@EXAMPLE.com", 0, &a, NULL), 0);
	ck_assert_int_eq(addr_format(&a, out, sizeof out), 0);
	ck_assert_str_eq(out, "\"john doe\"@example.com");
	ck_assert_int_eq(addr_parse("\"dave\"@x.org", 0, &a, NULL), 0);
	ck_assert_int_eq(addr_format(&a, out, sizeof out), 0);
	ck_assert_str_eq(out, "dave@x.org");
	ck_assert_int_eq(addr_format(&a, out, 11), 0);
	ck_assert_int_eq(addr_format(&a, out, 10), -1);	/* truncated */
	ck_assert_int_eq(addr_format(&a, out, 0), -1);
	ck_assert_int_eq(addr_parse("<>", N, &a, NULL), 0);
	ck_assert_int_eq(addr_format(&a, out, sizeof out), 0);
	ck_assert_str_eq(out, "");
	ck_assert_int_eq(addr_parse("<PostMaster>", PM, &a, NULL), 0);
	ck_assert_int_eq(addr_format(&a, out, sizeof out), 0);
	ck_assert_str_eq(out, "postmaster");
	ck_assert_int_eq(addr_parse("u@[IPv6:2001:db8:0::1]", 0, &a, NULL), 0);
	ck_assert_int_eq(addr_format(&a, out, sizeof out), 0);
	ck_assert_str_eq(out, "u@[IPv6:2001:db8::1]");
}
END_TEST

START_TEST(test_failure_leaves_result)
{
	struct addr a;
	const char *why = NULL;

	ck_assert_int_eq(addr_parse("keep@example.com", 0, &a, NULL), 0);
	ck_assert_int_eq(addr_parse("bad..dots@example.com", 0, &a, &why), -1);
	ck_assert_str_eq(why, "consecutive dots in local part");
	ck_assert_str_eq(a.local, "keep");
	ck_assert_str_eq(a.domain, "example.com");
}
END_TEST

struct pct_row {
	const char	*in;
	int		 flags;
	int		 rc;
	const char	*local;		/* after the call */
	const char	*domain;
};

static const struct pct_row pct_rows[] = {
	{ "user%host.example@gw.example", 0, 1, "user", "host.example" },
	{ "user%HOST.Example@gw", 0, 1, "user", "host.example" },
	{ "user@gw.example", 0, 0, "user", "gw.example" },
	{ "a%b%c.example@gw", 0, 1, "a%b", "c.example" },
	{ "\"a b%host.example\"@gw", 0, 1, "\"a b\"", "host.example" },
	{ "\"a@b%c\"@gw", 0, 1, "\"a@b\"", "c" },
	{ "\"user%[192.0.2.1]\"@gw", 0, 1, "user", "[192.0.2.1]" },
	{ "j\xc3\xb6rg%b\xc3\xbc" "cher.example@gw", U, 1, "j\xc3\xb6rg",
	    "b\xc3\xbc" "cher.example" },
	/* results that would be invalid: -1 and the address unchanged */
	{ "user%@gw.example", 0, -1, "user%", "gw.example" },
	{ "%host@gw.example", 0, -1, "%host", "gw.example" },
	{ "\"user%host..example\"@gw", 0, -1, "\"user%host..example\"", "gw" },
	{ "\"user%host.\"@gw", 0, -1, "\"user%host.\"", "gw" },
	{ "user%127.0.0.1@gw", 0, -1, "user%127.0.0.1", "gw" },
	{ "a.%b.example@gw", 0, 1, "\"a.\"", "b.example" },
	{ "\"a\\\\%b\"@gw", 0, 1, "\"a\\\\\"", "b" },
	{ "\"x%y@z\"@gw", 0, -1, "\"x%y@z\"", "gw" },
	{ "\"x%a b\"@gw", 0, -1, "\"x%a b\"", "gw" },
	{ "\"x%a\\\"b\"@gw", 0, -1, "\"x%a\\\"b\"", "gw" },
	/* no gateway: nothing to rewrite */
	{ "alice%host", ND, 0, "alice%host", "" },
};

START_TEST(test_percent_hack)
{
	const struct pct_row *r = &pct_rows[_i];
	struct addr a;
	const char *why;

	ck_assert_msg(addr_parse(r->in, r->flags, &a, &why) == 0,
	    "\"%s\": %s", r->in, why);
	ck_assert_int_eq(addr_percent_hack(&a), r->rc);
	ck_assert_str_eq(a.local, r->local);
	ck_assert_str_eq(a.domain, r->domain);
}
END_TEST

START_TEST(test_percent_null)
{
	struct addr a;

	ck_assert_int_eq(addr_parse("<>", N, &a, NULL), 0);
	ck_assert_int_eq(addr_percent_hack(&a), 0);
	ck_assert_int_eq(a.null, 1);
}
END_TEST

START_TEST(test_equal)
{
	struct addr a, b;

	ck_assert_int_eq(addr_parse("Dave@EXAMPLE.com", 0, &a, NULL), 0);
	ck_assert_int_eq(addr_parse("dave@example.com", 0, &b, NULL), 0);
	ck_assert(addr_equal(&a, &b));
	ck_assert_int_eq(addr_parse("\"DAVE\"@Example.Com", 0, &b, NULL), 0);
	ck_assert(addr_equal(&a, &b));
	ck_assert_int_eq(addr_parse("\"John Doe\"@x.org", 0, &a, NULL), 0);
	ck_assert_int_eq(addr_parse("\"john\\ doe\"@X.ORG", 0, &b, NULL), 0);
	ck_assert(addr_equal(&a, &b));
	ck_assert_int_eq(addr_parse("dave@example.com", 0, &a, NULL), 0);
	ck_assert_int_eq(addr_parse("dave@example.org", 0, &b, NULL), 0);
	ck_assert(!addr_equal(&a, &b));
	ck_assert_int_eq(addr_parse("davey@example.com", 0, &b, NULL), 0);
	ck_assert(!addr_equal(&a, &b));
	ck_assert_int_eq(addr_parse("<>", N, &b, NULL), 0);
	ck_assert(!addr_equal(&a, &b));
	ck_assert(!addr_equal(&b, &a));
	ck_assert_int_eq(addr_parse("", N, &a, NULL), 0);
	ck_assert(addr_equal(&a, &b));
	/* UTF-8 is not folded: only ASCII case is */
	ck_assert_int_eq(addr_parse("\xc3\x96@x.org", U, &a, NULL), 0);
	ck_assert_int_eq(addr_parse("\xc3\xb6@x.org", U, &b, NULL), 0);
	ck_assert(!addr_equal(&a, &b));
}
END_TEST

START_TEST(test_needs_quotes)
{
	ck_assert_int_eq(addr_local_needs_quotes("dave"), 0);
	ck_assert_int_eq(addr_local_needs_quotes("a.b"), 0);
	ck_assert_int_eq(addr_local_needs_quotes("user+tag"), 0);
	ck_assert_int_eq(addr_local_needs_quotes("john doe"), 1);
	ck_assert_int_eq(addr_local_needs_quotes(""), 1);
	ck_assert_int_eq(addr_local_needs_quotes(".a"), 1);
	ck_assert_int_eq(addr_local_needs_quotes("a."), 1);
	ck_assert_int_eq(addr_local_needs_quotes("a..b"), 1);
	ck_assert_int_eq(addr_local_needs_quotes("a\"b"), 1);
	ck_assert_int_eq(addr_local_needs_quotes("a@b"), 1);
}
END_TEST

START_TEST(test_domain_valid)
{
	ck_assert_int_eq(addr_domain_valid("example.com", 0), 1);
	ck_assert_int_eq(addr_domain_valid("localhost", 0), 1);
	ck_assert_int_eq(addr_domain_valid("[192.0.2.1]", 0), 1);
	ck_assert_int_eq(addr_domain_valid("[IPv6:::1]", 0), 1);
	ck_assert_int_eq(addr_domain_valid("b\xc3\xbc" "cher.example", 0), 0);
	ck_assert_int_eq(addr_domain_valid("b\xc3\xbc" "cher.example", 1), 1);
	ck_assert_int_eq(addr_domain_valid("b\xff.example", 1), 0);
	ck_assert_int_eq(addr_domain_valid("", 0), 0);
	ck_assert_int_eq(addr_domain_valid("a..b", 0), 0);
	ck_assert_int_eq(addr_domain_valid("example.com.", 0), 0);
	ck_assert_int_eq(addr_domain_valid("exa mple.com", 0), 0);
	ck_assert_int_eq(addr_domain_valid("[300.0.0.1]", 0), 0);
	ck_assert_int_eq(addr_domain_valid(L63 ".com", 0), 1);
	ck_assert_int_eq(addr_domain_valid(L64 ".com", 0), 0);
	ck_assert_int_eq(addr_domain_valid(D255, 0), 1);
	ck_assert_int_eq(addr_domain_valid(D256, 0), 0);
}
END_TEST

static Suite *
addr_suite(void)
{
	Suite *s = suite_create("addr");
	TCase *tc;

	tc = tcase_create("table");
	tcase_add_loop_test(tc, test_table, 0, (int)(sizeof rows / sizeof rows[0]));
	tcase_add_loop_test(tc, test_roundtrip, 0,
	    (int)(sizeof rows / sizeof rows[0]));
	tcase_add_test(tc, test_failure_leaves_result);
	suite_add_tcase(s, tc);

	tc = tcase_create("format");
	tcase_add_test(tc, test_format);
	tcase_add_test(tc, test_needs_quotes);
	suite_add_tcase(s, tc);

	tc = tcase_create("percent");
	tcase_add_loop_test(tc, test_percent_hack, 0,
	    (int)(sizeof pct_rows / sizeof pct_rows[0]));
	tcase_add_test(tc, test_percent_null);
	suite_add_tcase(s, tc);

	tc = tcase_create("compare");
	tcase_add_test(tc, test_equal);
	tcase_add_test(tc, test_domain_valid);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(addr_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
