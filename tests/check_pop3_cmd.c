/*
 * check_pop3_cmd.c - unit tests for pop3d/cmd.c, the POP3 command line
 * parser of kurir-pop3d (pre-auth: pop3 user; session: mail user).
 *
 * The Makefile links tests with the common library only, so the parser
 * is compiled in here.  One table drives most cases: a line and either
 * the exact error text or every field a success must set (fields a row
 * does not name must stay zero / NULL).  Each line is parsed in a heap
 * buffer of exactly its length, so a read or write of line[len] would be
 * an out-of-bounds access (visible under `make asan`) and is checked
 * with a guard byte here as well.  Also: the 253/254-byte limit, the
 * state table for every state and command, the names, and that no error
 * text ever carries client bytes.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../pop3d/cmd.c"

#define NMAX	POP3_NUM_MAX
#define DIG	"0123456789abcdef0123456789abcdef"	/* 32 lower-case hex */

struct row {
	const char	*line;
	size_t		 len;		/* 0: strlen(line) */
	enum pop3_cmd	 cmd;
	const char	*err;		/* NULL: success expected */
	int		 nnums;
	unsigned long	 n0, n1;
	const char	*arg;
	const char	*arg2;
};

static const struct row rows[] = {
	/* keyword: any case, nothing else */
	{ "USER bob", .cmd = P3_USER, .arg = "bob" },
	{ "user bob", .cmd = P3_USER, .arg = "bob" },
	{ "uSeR bob", .cmd = P3_USER, .arg = "bob" },
	{ "USERS bob", .err = E_UNKNOWN },
	{ "USE bob", .err = E_UNKNOWN },
	{ "XUSR", .err = E_UNKNOWN },
	{ "", .err = E_UNKNOWN },
	{ " USER bob", .err = E_UNKNOWN },
	{ "USER\tbob", .err = E_UNKNOWN },
	{ "STAT\t", .err = E_UNKNOWN },
	{ "ST\xc3\x84T", .err = E_UNKNOWN },
	{ "\xd5SER bob", .err = E_UNKNOWN },	/* 'u' | 0x80 must not fold */
	{ "HELO", .err = E_UNKNOWN },
	{ "EHLO x", .err = E_UNKNOWN },
	{ "STARTTLS", .err = E_UNKNOWN },
	{ "STAT\r", .err = E_UNKNOWN },

	/* NUL anywhere */
	{ "US\0R bob", 8, .err = E_NUL },
	{ "USER b\0b", 8, .err = E_NUL },
	{ "PASS se\0cret", 12, .err = E_NUL },
	{ "STAT\0", 5, .err = E_NUL },
	{ "\0", 1, .err = E_NUL },

	/* no arguments */
	{ "STAT", .cmd = P3_STAT },
	{ "stat", .cmd = P3_STAT },
	{ "NOOP", .cmd = P3_NOOP },
	{ "RSET", .cmd = P3_RSET },
	{ "QUIT", .cmd = P3_QUIT },
	{ "quit", .cmd = P3_QUIT },
	{ "CAPA", .cmd = P3_CAPA },
	{ "STLS", .cmd = P3_STLS },
	{ "stls", .cmd = P3_STLS },
	{ "STAT ", .cmd = P3_STAT },
	{ "QUIT   ", .cmd = P3_QUIT },
	{ "STAT 1", .err = E_EXTRA },
	{ "NOOP x", .err = E_EXTRA },
	{ "RSET 1", .err = E_EXTRA },
	{ "QUIT now", .err = E_EXTRA },
	{ "CAPA x", .err = E_EXTRA },
	{ "STLS x", .err = E_EXTRA },
	{ "STAT 1 2 3", .err = E_EXTRA },

	/* LIST / UIDL: 0 or 1 number */
	{ "LIST", .cmd = P3_LIST },
	{ "LIST ", .cmd = P3_LIST },
	{ "LIST 1", .cmd = P3_LIST, .nnums = 1, .n0 = 1 },
	{ "list 42", .cmd = P3_LIST, .nnums = 1, .n0 = 42 },
	{ "LIST 007", .cmd = P3_LIST, .nnums = 1, .n0 = 7 },
	{ "LIST 1  ", .cmd = P3_LIST, .nnums = 1, .n0 = 1 },
	{ "LIST 2147483647", .cmd = P3_LIST, .nnums = 1, .n0 = NMAX },
	{ "LIST 0002147483647", .cmd = P3_LIST, .nnums = 1, .n0 = NMAX },
	{ "LIST 00000000000000000000000000000001", .cmd = P3_LIST, .nnums = 1, .n0 = 1 },
	{ "LIST 0", .err = E_NUM },
	{ "LIST 000", .err = E_NUM },
	{ "LIST 2147483648", .err = E_NUM },
	{ "LIST 4294967296", .err = E_NUM },
	{ "LIST 4294967297", .err = E_NUM },
	{ "LIST 18446744073709551617", .err = E_NUM },
	{ "LIST 99999999999999999999", .err = E_NUM },
	{ "LIST 99999999999999999999999999999999999999999", .err = E_NUM },
	{ "LIST -1", .err = E_NUM },
	{ "LIST +1", .err = E_NUM },
	{ "LIST 1a", .err = E_NUM },
	{ "LIST a1", .err = E_NUM },
	{ "LIST 0x10", .err = E_NUM },
	{ "LIST 1.0", .err = E_NUM },
	{ "LIST 1\t", .err = E_NUM },
	{ "LIST \t1", .err = E_NUM },
	{ "LIST  1", .err = E_SYNTAX },
	{ "LIST 1 2", .err = E_EXTRA },
	{ "UIDL", .cmd = P3_UIDL },
	{ "UIDL 3", .cmd = P3_UIDL, .nnums = 1, .n0 = 3 },
	{ "uidl 2147483647", .cmd = P3_UIDL, .nnums = 1, .n0 = NMAX },
	{ "UIDL 0", .err = E_NUM },
	{ "UIDL x", .err = E_NUM },
	{ "UIDL 1 1", .err = E_EXTRA },

	/* RETR / DELE: exactly 1 number */
	{ "RETR 1", .cmd = P3_RETR, .nnums = 1, .n0 = 1 },
	{ "retr 007", .cmd = P3_RETR, .nnums = 1, .n0 = 7 },
	{ "RETR 2147483647", .cmd = P3_RETR, .nnums = 1, .n0 = NMAX },
	{ "RETR", .err = E_MISSING },
	{ "RETR ", .err = E_MISSING },
	{ "RETR    ", .err = E_MISSING },
	{ "RETR 0", .err = E_NUM },
	{ "RETR 2147483648", .err = E_NUM },
	{ "RETR -1", .err = E_NUM },
	{ "RETR +1", .err = E_NUM },
	{ "RETR 1a", .err = E_NUM },
	{ "RETR  1", .err = E_SYNTAX },
	{ "RETR 1 2", .err = E_EXTRA },
	{ "DELE 5", .cmd = P3_DELE, .nnums = 1, .n0 = 5 },
	{ "dElE 12", .cmd = P3_DELE, .nnums = 1, .n0 = 12 },
	{ "DELE", .err = E_MISSING },
	{ "DELE 0", .err = E_NUM },
	{ "DELE 99999999999999999999", .err = E_NUM },
	{ "DELE 1 1", .err = E_EXTRA },

	/* TOP: message number and line count (0 allowed) */
	{ "TOP 1 0", .cmd = P3_TOP, .nnums = 2, .n0 = 1, .n1 = 0 },
	{ "top 1 10", .cmd = P3_TOP, .nnums = 2, .n0 = 1, .n1 = 10 },
	{ "TOP 007 007", .cmd = P3_TOP, .nnums = 2, .n0 = 7, .n1 = 7 },
	{ "TOP 3   5", .cmd = P3_TOP, .nnums = 2, .n0 = 3, .n1 = 5 },
	{ "TOP 3 5 ", .cmd = P3_TOP, .nnums = 2, .n0 = 3, .n1 = 5 },
	{ "TOP 2147483647 2147483647", .cmd = P3_TOP, .nnums = 2, .n0 = NMAX,
	    .n1 = NMAX },
	{ "TOP 1 000", .cmd = P3_TOP, .nnums = 2, .n0 = 1, .n1 = 0 },
	{ "TOP", .err = E_MISSING },
	{ "TOP 1", .err = E_MISSING },
	{ "TOP 1 ", .err = E_MISSING },
	{ "TOP 1 2 3", .err = E_EXTRA },
	{ "TOP 0 1", .err = E_NUM },
	{ "TOP x 1", .err = E_NUM },
	{ "TOP 2147483648 1", .err = E_NUM },
	{ "TOP 1 2147483648", .err = E_LINES },
	{ "TOP 1 99999999999999999999", .err = E_LINES },
	{ "TOP 1 -1", .err = E_LINES },
	{ "TOP 1 +1", .err = E_LINES },
	{ "TOP 1 1a", .err = E_LINES },
	{ "TOP 1\t2", .err = E_MISSING },
	{ "TOP  1 2", .err = E_SYNTAX },
	{ "TOPS 1 2", .err = E_UNKNOWN },

	/* USER */
	{ "USER alice", .cmd = P3_USER, .arg = "alice" },
	{ "USER Alice.Smith_1-x", .cmd = P3_USER, .arg = "Alice.Smith_1-x" },
	{ "USER a@example.org", .cmd = P3_USER, .arg = "a@example.org" },
	{ "USER a.b", .cmd = P3_USER, .arg = "a.b" },
	{ "USER a.", .cmd = P3_USER, .arg = "a." },
	{ "USER bob ", .cmd = P3_USER, .arg = "bob" },
	{ "USER", .err = E_MISSING },
	{ "USER ", .err = E_MISSING },
	{ "USER bob smith", .err = E_EXTRA },
	{ "USER  bob", .err = E_SYNTAX },
	{ "USER ../x", .err = E_USER },
	{ "USER a/b", .err = E_USER },
	{ "USER /etc", .err = E_USER },
	{ "USER .hidden", .err = E_USER },
	{ "USER .", .err = E_USER },
	{ "USER ..", .err = E_USER },
	{ "USER a..b", .err = E_USER },
	{ "USER a\tb", .err = E_USER },
	{ "USER a\rb", .err = E_USER },
	{ "USER a\nb", .err = E_USER },
	{ "USER \x1b[31m", .err = E_USER },
	{ "USER a\x7f", .err = E_USER },
	{ "USER b\xc3\xbc" "b", .err = E_USER },
	{ "USER bob\t", .err = E_USER },
	{ "USER 0123456789012345678901234567890123456789012345678901234567890123",
	    .cmd = P3_USER,
	    .arg = "0123456789012345678901234567890123456789012345678901234567890123" },
	{ "USER 01234567890123456789012345678901234567890123456789012345678901234",
	    .err = E_USER },

	/* PASS: the rest of the line, verbatim */
	{ "PASS secret", .cmd = P3_PASS, .arg = "secret" },
	{ "pass secret", .cmd = P3_PASS, .arg = "secret" },
	{ "PASS my secret pass", .cmd = P3_PASS, .arg = "my secret pass" },
	{ "PASS  lead", .cmd = P3_PASS, .arg = " lead" },
	{ "PASS trail  ", .cmd = P3_PASS, .arg = "trail  " },
	{ "PASS  ", .cmd = P3_PASS, .arg = " " },
	{ "PASS a\tb/../\x7f\xff", .cmd = P3_PASS, .arg = "a\tb/../\x7f\xff" },
	{ "PASS x", .cmd = P3_PASS, .arg = "x" },
	{ "PASS", .err = E_MISSING },
	{ "PASS ", .err = E_MISSING },
	{ "PASSsecret", .err = E_UNKNOWN },
	{ "PASS\tsecret", .err = E_UNKNOWN },

	/* AUTH (RFC 5034) */
	{ "AUTH PLAIN", .cmd = P3_AUTH, .arg = "PLAIN" },
	{ "auth plain", .cmd = P3_AUTH, .arg = "PLAIN" },
	{ "AUTH SCRAM-SHA-256", .cmd = P3_AUTH, .arg = "SCRAM-SHA-256" },
	{ "AUTH X_Y-z9", .cmd = P3_AUTH, .arg = "X_Y-Z9" },
	{ "AUTH ABCDEFGHIJKLMNOPQRST", .cmd = P3_AUTH, .arg = "ABCDEFGHIJKLMNOPQRST" },
	{ "AUTH PLAIN =", .cmd = P3_AUTH, .arg = "PLAIN", .arg2 = "=" },
	{ "AUTH PLAIN AGJvYgBzZWNyZXQ=", .cmd = P3_AUTH, .arg = "PLAIN",
	    .arg2 = "AGJvYgBzZWNyZXQ=" },
	{ "AUTH PLAIN AGJvYgBzZWNyZXQ=  ", .cmd = P3_AUTH, .arg = "PLAIN",
	    .arg2 = "AGJvYgBzZWNyZXQ=" },
	{ "AUTH PLAIN   dGVzdA==", .cmd = P3_AUTH, .arg = "PLAIN", .arg2 = "dGVzdA==" },
	{ "AUTH", .err = E_MISSING },
	{ "AUTH ", .err = E_MISSING },
	{ "AUTH  PLAIN", .err = E_SYNTAX },
	{ "AUTH ABCDEFGHIJKLMNOPQRSTU", .err = E_MECH },
	{ "AUTH PL@IN", .err = E_MECH },
	{ "AUTH PLAIN\t=", .err = E_MECH },
	{ "AUTH PL\xc3\x84IN", .err = E_MECH },
	{ "AUTH PLAIN AGJvYgBzZWNyZXQ", .err = E_RESP },
	{ "AUTH PLAIN ==", .err = E_RESP },
	{ "AUTH PLAIN dGVz dA==", .err = E_EXTRA },
	{ "AUTH PLAIN dGVzdA=\x01", .err = E_RESP },
	{ "AUTH PLAIN *", .err = E_RESP },
	{ "AUTH PLAIN = x", .err = E_EXTRA },

	/* APOP name digest */
	{ "APOP mrose " DIG, .cmd = P3_APOP, .arg = "mrose", .arg2 = DIG },
	{ "apop mrose c4c9334bac560ecc979e58001b3e22fb", .cmd = P3_APOP,
	    .arg = "mrose", .arg2 = "c4c9334bac560ecc979e58001b3e22fb" },
	{ "APOP mrose   " DIG "  ", .cmd = P3_APOP, .arg = "mrose", .arg2 = DIG },
	{ "APOP", .err = E_MISSING },
	{ "APOP mrose", .err = E_MISSING },
	{ "APOP mrose " DIG " x", .err = E_EXTRA },
	{ "APOP ../x " DIG, .err = E_USER },
	{ "APOP .x " DIG, .err = E_USER },
	{ "APOP mrose C4C9334BAC560ECC979E58001B3E22FB", .err = E_DIGEST },
	{ "APOP mrose c4c9334bac560ecc979e58001b3e22f", .err = E_DIGEST },
	{ "APOP mrose c4c9334bac560ecc979e58001b3e22fbb", .err = E_DIGEST },
	{ "APOP mrose c4c9334bac560ecc979e58001b3e22fg", .err = E_DIGEST },
};
#define NROWS	(sizeof(rows) / sizeof(rows[0]))

static const char *const errs[] = {
	E_UNKNOWN, E_LONG, E_NUL, E_SYNTAX, E_MISSING, E_EXTRA, E_NUM,
	E_LINES, E_USER, E_MECH, E_RESP, E_DIGEST,
};

/* An error text: one of the constants, short and printable. */
static void
check_err_form(const char *err)
{
	size_t i;
	int known = 0;

	ck_assert_ptr_nonnull(err);
	ck_assert(err[0] != '\0' && strlen(err) <= 40);
	for (i = 0; err[i] != '\0'; i++)
		ck_assert(err[i] >= 0x20 && err[i] <= 0x7e);
	for (i = 0; i < sizeof(errs) / sizeof(errs[0]); i++)
		if (strcmp(err, errs[i]) == 0)
			known = 1;
	ck_assert_msg(known, "unexpected error text \"%s\"", err);
}

/* arg inside buf[0..len) and NUL-terminated there */
static void
check_inside(const char *s, const char *buf, size_t len)
{
	ck_assert(s >= buf && s < buf + len);
	ck_assert_ptr_nonnull(memchr(s, '\0', (size_t)(buf + len - s)));
}

/*
 * Parse line[0..len) from a buffer of exactly len bytes plus one guard
 * byte that the parser must leave alone (the guard stands where a
 * caller's CR would be; under ASan, a second run without it catches
 * reads as well).
 */
static int
parse_exact(const char *line, size_t len, struct pop3_req *req,
    const char **err, char **bufp)
{
	char *buf;
	int rc, rc2;
	struct pop3_req req2;
	const char *err2 = NULL;

	ck_assert_ptr_nonnull(buf = malloc(len + 1));
	memcpy(buf, line, len);
	buf[len] = '#';
	rc = pop3_parse(buf, len, req, err);
	ck_assert_msg(buf[len] == '#', "parser wrote line[len]");
	/* the same again in a buffer without the guard */
	if (len > 0) {
		char *exact;

		ck_assert_ptr_nonnull(exact = malloc(len));
		memcpy(exact, line, len);
		rc2 = pop3_parse(exact, len, &req2, &err2);
		ck_assert_int_eq(rc, rc2);
		free(exact);
	}
	*bufp = buf;
	return rc;
}

START_TEST(test_table)
{
	const struct row *t = &rows[_i];
	size_t len = t->len != 0 ? t->len : strlen(t->line);
	struct pop3_req req;
	const char *err = NULL;
	char *buf;
	int rc;

	rc = parse_exact(t->line, len, &req, &err, &buf);
	if (t->err != NULL) {
		ck_assert_msg(rc == -1, "row %d \"%s\": accepted", _i, t->line);
		ck_assert_msg(err != NULL && strcmp(err, t->err) == 0,
		    "row %d \"%s\": err \"%s\", want \"%s\"", _i, t->line,
		    err ? err : "(null)", t->err);
		check_err_form(err);
		/* nothing half-parsed is left behind */
		ck_assert(req.cmd == 0 && req.nnums == 0 && req.num[0] == 0 &&
		    req.num[1] == 0 && req.arg == NULL && req.arg2 == NULL);
		free(buf);
		return;
	}
	ck_assert_msg(rc == 0, "row %d \"%s\": refused: %s", _i, t->line,
	    err ? err : "(null)");
	ck_assert_msg(req.cmd == t->cmd, "row %d \"%s\": cmd %s", _i, t->line,
	    pop3_cmd_name(req.cmd));
	ck_assert_int_eq(req.nnums, t->nnums);
	ck_assert_uint_eq(req.num[0], t->n0);
	ck_assert_uint_eq(req.num[1], t->n1);
	if (t->arg == NULL)
		ck_assert_ptr_null(req.arg);
	else {
		ck_assert_ptr_nonnull(req.arg);
		check_inside(req.arg, buf, len);
		ck_assert_str_eq(req.arg, t->arg);
	}
	if (t->arg2 == NULL)
		ck_assert_ptr_null(req.arg2);
	else {
		ck_assert_ptr_nonnull(req.arg2);
		check_inside(req.arg2, buf, len);
		ck_assert_str_eq(req.arg2, t->arg2);
	}
	free(buf);
}
END_TEST

/* 253 bytes + CRLF = 255 is the longest line; 254 is one too many. */
START_TEST(test_line_limit)
{
	char line[POP3_LINE_MAX + 16], *buf;
	struct pop3_req req;
	const char *err = NULL;
	size_t len;

	/* PASS: 5 + 248 = 253 */
	memcpy(line, "PASS ", 5);
	memset(line + 5, 'x', sizeof(line) - 5);
	len = POP3_LINE_MAX - 2;
	ck_assert_uint_eq(len, 253);
	ck_assert_int_eq(parse_exact(line, len, &req, &err, &buf), 0);
	ck_assert_int_eq(req.cmd, P3_PASS);
	ck_assert_uint_eq(strlen(req.arg), 248);
	free(buf);
	ck_assert_int_eq(parse_exact(line, len + 1, &req, &err, &buf), -1);
	ck_assert_str_eq(err, E_LONG);
	free(buf);
	ck_assert_int_eq(parse_exact(line, sizeof(line), &req, &err, &buf), -1);
	ck_assert_str_eq(err, E_LONG);
	free(buf);

	/* LIST with a 248-digit number, mostly leading zeros */
	memcpy(line, "LIST ", 5);
	memset(line + 5, '0', sizeof(line) - 5);
	line[len - 1] = '9';
	ck_assert_int_eq(parse_exact(line, len, &req, &err, &buf), 0);
	ck_assert_uint_eq(req.num[0], 9);
	free(buf);
	ck_assert_int_eq(parse_exact(line, len + 1, &req, &err, &buf), -1);
	ck_assert_str_eq(err, E_LONG);
	free(buf);

	/* a huge length is refused before a byte is read */
	ck_assert_int_eq(pop3_parse(line, (size_t)-1, &req, &err), -1);
	ck_assert_str_eq(err, E_LONG);
	ck_assert_int_eq(pop3_parse(line, (size_t)-2, &req, &err), -1);
	ck_assert_str_eq(err, E_LONG);
	/* and so is a NUL at 254, whichever check comes first */
	line[200] = '\0';
	ck_assert_int_eq(pop3_parse(line, 254, &req, &err), -1);
	ck_assert_str_eq(err, E_LONG);
}
END_TEST

/* Every state x command, against RFC 1939's lists. */
START_TEST(test_allowed)
{
	static const int authz[] = {
		[P3_USER] = 1, [P3_PASS] = 1, [P3_APOP] = 1, [P3_AUTH] = 1,
		[P3_STLS] = 1, [P3_CAPA] = 1, [P3_QUIT] = 1, [P3_STAT] = 0,
		[P3_LIST] = 0, [P3_RETR] = 0, [P3_DELE] = 0, [P3_NOOP] = 0,
		[P3_RSET] = 0, [P3_TOP] = 0, [P3_UIDL] = 0,
	};
	static const int trans[] = {
		[P3_USER] = 0, [P3_PASS] = 0, [P3_APOP] = 0, [P3_AUTH] = 0,
		[P3_STLS] = 0, [P3_CAPA] = 1, [P3_QUIT] = 1, [P3_STAT] = 1,
		[P3_LIST] = 1, [P3_RETR] = 1, [P3_DELE] = 1, [P3_NOOP] = 1,
		[P3_RSET] = 1, [P3_TOP] = 1, [P3_UIDL] = 1,
	};
	int c;

	ck_assert_uint_eq(sizeof(authz) / sizeof(authz[0]), NCMDS);
	for (c = P3_USER; c <= P3_UIDL; c++) {
		ck_assert_msg(pop3_allowed(P3_AUTHORIZATION, (enum pop3_cmd)c) ==
		    authz[c], "AUTHORIZATION %s", pop3_cmd_name((enum pop3_cmd)c));
		ck_assert_msg(pop3_allowed(P3_TRANSACTION, (enum pop3_cmd)c) ==
		    trans[c], "TRANSACTION %s", pop3_cmd_name((enum pop3_cmd)c));
		ck_assert_int_eq(pop3_allowed((enum pop3_state)2,
		    (enum pop3_cmd)c), 0);
		ck_assert_int_eq(pop3_allowed((enum pop3_state)-1,
		    (enum pop3_cmd)c), 0);
	}
	ck_assert_int_eq(pop3_allowed(P3_AUTHORIZATION, (enum pop3_cmd)(P3_UIDL + 1)), 0);
	ck_assert_int_eq(pop3_allowed(P3_TRANSACTION, (enum pop3_cmd)-1), 0);
}
END_TEST

/* Names for logs; each parses back to its own command. */
START_TEST(test_names)
{
	static const char *const names[] = {
		"USER", "PASS", "APOP", "AUTH", "STLS", "CAPA", "QUIT",
		"STAT", "LIST", "RETR", "DELE", "NOOP", "RSET", "TOP", "UIDL",
	};
	struct pop3_req req;
	const char *err;
	char line[16];
	int c;

	for (c = P3_USER; c <= P3_UIDL; c++) {
		ck_assert_str_eq(pop3_cmd_name((enum pop3_cmd)c), names[c]);
		strlcpy(line, names[c], sizeof(line));
		if (pop3_parse(line, strlen(line), &req, &err) == 0)
			ck_assert_int_eq(req.cmd, c);
		else	/* the ones that need an argument */
			ck_assert_str_eq(err, E_MISSING);
	}
	ck_assert_str_eq(pop3_cmd_name((enum pop3_cmd)(P3_UIDL + 1)), "?");
	ck_assert_str_eq(pop3_cmd_name((enum pop3_cmd)-1), "?");
}
END_TEST

/*
 * No error text carries client bytes: a marker put in every position of
 * every command never shows up in the text.
 */
START_TEST(test_err_no_echo)
{
	static const char *const tmpl[] = {
		"@", "USER @", "USER a @", "USER ../@", "PASS", "APOP @ x",
		"APOP x @", "AUTH @", "AUTH PLAIN @", "AUTH PLAIN @==",
		"LIST @", "RETR @", "DELE @ 1", "TOP @ 1", "TOP 1 @",
		"TOP 1 2 @", "UIDL @", "STAT @", "QUIT @", "@ USER",
		"USER @\x01", "LIST  @",
	};
	static const char *const marks[] = {
		"Zq%nX", "ZQMARKZQ", "9999999999999999999999Zq", "/../Zq",
		"\x1b]0;Zq\x07", "Zq\r\nX-Injected: 1",
	};
	struct pop3_req req;
	const char *err;
	char line[POP3_LINE_MAX];
	const char *at;
	size_t t, m, n;

	for (t = 0; t < sizeof(tmpl) / sizeof(tmpl[0]); t++)
		for (m = 0; m < sizeof(marks) / sizeof(marks[0]); m++) {
			/* the marker goes where the template has '@' */
			line[0] = '\0';
			if ((at = strchr(tmpl[t], '@')) == NULL)
				strlcpy(line, tmpl[t], sizeof(line));
			else {
				n = (size_t)(at - tmpl[t]);
				memcpy(line, tmpl[t], n);
				line[n] = '\0';
				strlcat(line, marks[m], sizeof(line));
				strlcat(line, at + 1, sizeof(line));
			}
			n = strlen(line);
			err = NULL;
			if (pop3_parse(line, n, &req, &err) == 0)
				continue;
			check_err_form(err);
			ck_assert(strstr(err, "Zq") == NULL &&
			    strstr(err, "ZQ") == NULL &&
			    strstr(err, "zq") == NULL);
		}
}
END_TEST

/* Two arguments never overlap, and each keeps its own bytes. */
/* which parse errors are about the command word rather than arguments */
static int
parse_bad_command(const char *text)
{
	char line[POP3_LINE_MAX + 8];
	struct pop3_req req;
	const char *err = NULL;
	size_t len = strlen(text);

	ck_assert_int_lt(len, sizeof(line));
	memcpy(line, text, len);
	ck_assert_int_eq(pop3_parse(line, len, &req, &err), -1);
	ck_assert_ptr_nonnull(err);
	return pop3_err_is_bad_command(err);
}

START_TEST(test_bad_command)
{
	char longline[POP3_LINE_MAX + 1];

	ck_assert_int_eq(parse_bad_command("XYZZY"), 1);
	ck_assert_int_eq(parse_bad_command("LAST"), 1);
	ck_assert_int_eq(parse_bad_command(""), 1);
	ck_assert_int_eq(parse_bad_command("LIST 0"), 0);
	ck_assert_int_eq(parse_bad_command("RETR"), 0);
	ck_assert_int_eq(parse_bad_command("TOP 1 abc"), 0);
	ck_assert_int_eq(parse_bad_command("DELE 1 2"), 0);
	ck_assert_int_eq(parse_bad_command("RETR 99999999999999"), 0);
	ck_assert_int_eq(parse_bad_command("USER a/b"), 0);
	memset(longline, 'A', sizeof(longline) - 1);
	longline[sizeof(longline) - 1] = '\0';
	ck_assert_int_eq(parse_bad_command(longline), 1);
	ck_assert_int_eq(pop3_err_is_bad_command("unknown command"), 0);
	ck_assert_int_eq(pop3_err_is_bad_command(NULL), 0);
}
END_TEST

START_TEST(test_args_in_place)
{
	char line[] = "APOP a    0123456789abcdef0123456789abcdef";
	struct pop3_req req;
	const char *err;

	ck_assert_int_eq(pop3_parse(line, strlen(line), &req, &err), 0);
	ck_assert_ptr_eq(req.arg, line + 4);
	ck_assert_str_eq(req.arg, "a");
	ck_assert(req.arg2 > req.arg + strlen(req.arg));
	ck_assert_str_eq(req.arg2, DIG);
	ck_assert(req.arg2 + strlen(req.arg2) < line + strlen(DIG) + 10);
}
END_TEST

static Suite *
pop3_cmd_suite(void)
{
	Suite *s = suite_create("pop3_cmd");
	TCase *tc = tcase_create("core");

	tcase_add_loop_test(tc, test_table, 0, (int)NROWS);
	tcase_add_test(tc, test_line_limit);
	tcase_add_test(tc, test_allowed);
	tcase_add_test(tc, test_names);
	tcase_add_test(tc, test_err_no_echo);
	tcase_add_test(tc, test_args_in_place);
	tcase_add_test(tc, test_bad_command);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(pop3_cmd_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
