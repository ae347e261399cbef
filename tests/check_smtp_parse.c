/*
 * check_smtp_parse.c - unit tests for smtpd/smtp_parse.c, the parser of
 * one SMTP command line in kurir-smtpd (smtpd user).
 *
 * The Makefile links tests with the common library only, so the parser
 * is compiled in here.  One table drives most cases: a line, the session
 * flags, and either the exact reply or every field a success must set
 * (fields a row does not name must stay zero).
 */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../smtpd/smtp_parse.c"

#define U8	SMTP_PARSE_UTF8
#define B7	SMTP_BODY_7BIT
#define B8	SMTP_BODY_8BITMIME
#define UMAX	UINT64_MAX

#define E_SENDER	"501 5.1.7 Bad sender address syntax"
#define E_RCPT		"501 5.1.3 Bad recipient address syntax"
#define E_MAIL		"501 5.5.4 Syntax: MAIL FROM:<address>"
#define E_RCPTSYN	"501 5.5.4 Syntax: RCPT TO:<address>"
#define E_PARAM		"501 5.5.4 Syntax error in parameters"
#define E_DUP		"501 5.5.4 Duplicate parameter"
#define E_SIZE		"501 5.5.4 Bad SIZE= value"
#define E_BODY		"555 5.5.4 Unsupported BODY= value"
#define E_EHLO		"501 5.5.4 Syntax: EHLO hostname"
#define E_HELO		"501 5.5.4 Syntax: HELO hostname"
#define E_BDAT		"501 5.5.4 Syntax: BDAT chunk-size [LAST]"
#define E_AUTH		"501 5.5.4 Syntax: AUTH mechanism [initial-response]"
#define E_B64		"501 5.5.2 Cannot decode AUTH initial response"
#define E_UNKNOWN	"500 5.5.2 Command not recognized"

#define FROM	"MAIL FROM:<a@b.example>"

struct row {
	const char	*line;
	size_t		 len;		/* 0: strlen(line) */
	int		 flags;
	enum smtp_verb	 verb;
	const char	*reply;		/* NULL: success expected */
	const char	*helo;
	const char	*addr;		/* formatted; "<>" for the null path */
	int		 has_size;
	uint64_t	 size;
	enum smtp_body	 body;
	int		 smtputf8;
	uint64_t	 chunk;
	int		 last;
	const char	*mech;
	const char	*initial;
	const char	*arg;		/* checked when set */
};

static const struct row rows[] = {
	/* HELO / EHLO */
	{ "HELO mail.example.org", .verb = SMTP_HELO, .helo = "mail.example.org" },
	{ "helo x", .verb = SMTP_HELO, .helo = "x" },
	{ "EhLo client.example.com", .verb = SMTP_EHLO, .helo = "client.example.com" },
	{ "EHLO [192.0.2.1]", .verb = SMTP_EHLO, .helo = "[192.0.2.1]" },
	{ "EHLO [IPv6:2001:db8::1]", .verb = SMTP_EHLO, .helo = "[IPv6:2001:db8::1]" },
	{ "EHLO    spaced.example", .verb = SMTP_EHLO, .helo = "spaced.example" },
	{ "EHLO host.example  ", .verb = SMTP_EHLO, .helo = "host.example" },
	{ "EHLO WIN-PC_01", .verb = SMTP_EHLO, .helo = "WIN-PC_01" },
	{ "EHLO b\xc3\xbc" "cher.example", .verb = SMTP_EHLO,
	    .helo = "b\xc3\xbc" "cher.example" },
	{ "EHLO", .verb = SMTP_EHLO, .reply = E_EHLO },
	{ "HELO", .verb = SMTP_HELO, .reply = E_HELO },
	{ "EHLO   ", .verb = SMTP_EHLO, .reply = E_EHLO },
	{ "EHLO two words", .verb = SMTP_EHLO, .reply = E_EHLO },
	{ "EHLO host\x01", .verb = SMTP_EHLO, .reply = E_EHLO },
	{ "EHLO host\tname", .verb = SMTP_EHLO, .reply = E_EHLO },
	{ "EHLO host\x7f", .verb = SMTP_EHLO, .reply = E_EHLO },
	{ "EHLO \xff\xfe", .verb = SMTP_EHLO, .reply = E_EHLO },
	{ "EHLO a\0b", 8, .verb = SMTP_EHLO, .reply = E_EHLO },

	/* MAIL: forms of the path */
	{ "MAIL FROM:<alice@example.org>", .verb = SMTP_MAIL, .addr = "alice@example.org" },
	{ "mail from:<alice@example.org>", .verb = SMTP_MAIL, .addr = "alice@example.org" },
	{ "Mail From: <alice@Example.ORG>", .verb = SMTP_MAIL, .addr = "alice@example.org" },
	{ "MAIL FROM:   <alice@example.org>", .verb = SMTP_MAIL, .addr = "alice@example.org" },
	{ "MAIL  FROM:<alice@example.org>", .verb = SMTP_MAIL, .addr = "alice@example.org" },
	{ "MAIL FROM:<alice@example.org>   ", .verb = SMTP_MAIL, .addr = "alice@example.org" },
	{ "MAIL FROM:<>", .verb = SMTP_MAIL, .addr = "<>" },
	{ "MAIL FROM: <>", .verb = SMTP_MAIL, .addr = "<>" },
	{ "MAIL FROM:<@relay.example,@r2.example:bob@example.net>", .verb = SMTP_MAIL,
	    .addr = "bob@example.net" },
	{ "MAIL FROM:<\"dave\"@example.org>", .verb = SMTP_MAIL, .addr = "dave@example.org" },
	{ "MAIL FROM:<\"a b\"@example.org>", .verb = SMTP_MAIL, .addr = "\"a b\"@example.org" },
	{ "MAIL FROM:<\"a> b\"@example.org> SIZE=10", .verb = SMTP_MAIL,
	    .addr = "\"a> b\"@example.org", .has_size = 1, .size = 10 },
	{ "MAIL FROM:<\"a\\\"> b\"@example.org>", .verb = SMTP_MAIL,
	    .addr = "\"a\\\"> b\"@example.org" },
	{ "MAIL FROM:<a@[192.0.2.7]>", .verb = SMTP_MAIL, .addr = "a@[192.0.2.7]" },
	{ "MAIL FROM:alice@example.org", .verb = SMTP_MAIL, .reply = E_SENDER },
	{ "MAIL FROM:<alice@example.org", .verb = SMTP_MAIL, .reply = E_SENDER },
	{ "MAIL FROM:<alice@example.org>junk", .verb = SMTP_MAIL, .reply = E_SENDER },
	{ "MAIL FROM:<a b@example.org>", .verb = SMTP_MAIL, .reply = E_SENDER },
	{ "MAIL FROM:<alice>", .verb = SMTP_MAIL, .reply = E_SENDER },
	{ "MAIL FROM:<postmaster>", .verb = SMTP_MAIL, .reply = E_SENDER },
	{ "MAIL FROM:<\"unbalanced@example.org>", .verb = SMTP_MAIL, .reply = E_SENDER },
	{ "MAIL FROM:<a@b.example>\x01", .verb = SMTP_MAIL, .reply = E_SENDER },
	{ "MAIL FROM:", .verb = SMTP_MAIL, .reply = E_MAIL },
	{ "MAIL FROM:   ", .verb = SMTP_MAIL, .reply = E_MAIL },
	{ "MAIL", .verb = SMTP_MAIL, .reply = E_MAIL },
	{ "MAIL TO:<a@b.example>", .verb = SMTP_MAIL, .reply = E_MAIL },
	{ "MAIL FROM <a@b.example>", .verb = SMTP_MAIL, .reply = E_MAIL },
	{ "MAIL FRO:<a@b.example>", .verb = SMTP_MAIL, .reply = E_MAIL },

	/* MAIL SIZE= */
	{ FROM " SIZE=0", .verb = SMTP_MAIL, .addr = "a@b.example", .has_size = 1 },
	{ FROM " SIZE=12345", .verb = SMTP_MAIL, .addr = "a@b.example", .has_size = 1,
	    .size = 12345 },
	{ FROM " size=18446744073709551615", .verb = SMTP_MAIL, .addr = "a@b.example",
	    .has_size = 1, .size = UMAX },
	{ FROM " SIZE=00000000000000000001", .verb = SMTP_MAIL, .addr = "a@b.example",
	    .has_size = 1, .size = 1 },
	{ FROM " SIZE=000000000000000000001", .verb = SMTP_MAIL, .reply = E_SIZE },
	{ FROM " SIZE=18446744073709551616", .verb = SMTP_MAIL, .reply = E_SIZE },
	{ FROM " SIZE=99999999999999999999", .verb = SMTP_MAIL, .reply = E_SIZE },
	{ FROM " SIZE=12k", .verb = SMTP_MAIL, .reply = E_SIZE },
	{ FROM " SIZE=-1", .verb = SMTP_MAIL, .reply = E_SIZE },
	{ FROM " SIZE=+1", .verb = SMTP_MAIL, .reply = E_SIZE },
	{ FROM " SIZE", .verb = SMTP_MAIL, .reply = E_SIZE },
	{ FROM " SIZE=", .verb = SMTP_MAIL, .reply = E_PARAM },
	{ FROM " SIZE=1 size=2", .verb = SMTP_MAIL, .reply = E_DUP },

	/* MAIL BODY= */
	{ FROM " BODY=7BIT", .verb = SMTP_MAIL, .addr = "a@b.example", .body = B7 },
	{ FROM " body=8bitmime", .verb = SMTP_MAIL, .addr = "a@b.example", .body = B8 },
	{ FROM " BODY=BINARYMIME", .verb = SMTP_MAIL, .reply = E_BODY },
	{ FROM " BODY=8BIT", .verb = SMTP_MAIL, .reply = E_BODY },
	{ FROM " BODY", .verb = SMTP_MAIL, .reply = "501 5.5.4 BODY= needs a value" },
	{ FROM " BODY=7BIT BODY=8BITMIME", .verb = SMTP_MAIL, .reply = E_DUP },

	/* MAIL SMTPUTF8 */
	{ "MAIL FROM:<j\xc3\xb6rg@b\xc3\xbc" "cher.example> SMTPUTF8", .verb = SMTP_MAIL,
	    .addr = "j\xc3\xb6rg@b\xc3\xbc" "cher.example", .smtputf8 = 1 },
	{ "MAIL FROM:<j\xc3\xb6rg@b\xc3\xbc" "cher.example>", .verb = SMTP_MAIL,
	    .reply = E_SENDER },
	{ "MAIL FROM:<j\xc3\xb6rg@example.org>", .flags = U8, .verb = SMTP_MAIL,
	    .reply = E_SENDER },	/* only this line's SMTPUTF8 counts */
	{ "MAIL FROM:<j\xc3\xb6rg@example.org> SMTPUTF8 BODY=8BITMIME SIZE=100",
	    .verb = SMTP_MAIL, .addr = "j\xc3\xb6rg@example.org", .smtputf8 = 1,
	    .body = B8, .has_size = 1, .size = 100 },
	{ "MAIL FROM:<j\xc3rg@example.org> SMTPUTF8", .verb = SMTP_MAIL,
	    .reply = E_SENDER },	/* broken UTF-8 */
	{ FROM " smtputf8", .verb = SMTP_MAIL, .addr = "a@b.example", .smtputf8 = 1 },
	{ FROM " SMTPUTF8=yes", .verb = SMTP_MAIL,
	    .reply = "501 5.5.4 SMTPUTF8 takes no value" },
	{ FROM " SMTPUTF8 SMTPUTF8", .verb = SMTP_MAIL, .reply = E_DUP },

	/* MAIL AUTH= (RFC 4954 5) */
	{ FROM " AUTH=<>", .verb = SMTP_MAIL, .addr = "a@b.example" },
	{ FROM " AUTH=alice+40example.org", .verb = SMTP_MAIL, .addr = "a@b.example" },
	{ FROM " AUTH=a+4", .verb = SMTP_MAIL, .reply = "501 5.5.4 Bad AUTH= value" },
	{ FROM " AUTH=a+ZZ", .verb = SMTP_MAIL, .reply = "501 5.5.4 Bad AUTH= value" },
	{ FROM " AUTH", .verb = SMTP_MAIL, .reply = "501 5.5.4 Bad AUTH= value" },
	{ FROM " AUTH=<> AUTH=<>", .verb = SMTP_MAIL, .reply = E_DUP },

	/* unknown and malformed parameters; header injection attempts */
	{ FROM " RET=HDRS", .verb = SMTP_MAIL,
	    .reply = "555 5.5.4 Unsupported option: RET" },
	{ FROM " ENVID=QQ314159", .verb = SMTP_MAIL,
	    .reply = "555 5.5.4 Unsupported option: ENVID" },
	{ FROM " x-foo", .verb = SMTP_MAIL,
	    .reply = "555 5.5.4 Unsupported option: x-foo" },
	{ FROM " X=Subject:hi", .verb = SMTP_MAIL,
	    .reply = "555 5.5.4 Unsupported option: X" },
	{ FROM " FOO=1 SIZE=\x01", .verb = SMTP_MAIL, .reply = E_PARAM },
	{ FROM " X=\x1b[2Jfoo", .verb = SMTP_MAIL, .reply = E_PARAM },
	{ FROM " X=a\tb", .verb = SMTP_MAIL, .reply = E_PARAM },
	{ FROM " X=\r\nSubject: hi", .verb = SMTP_MAIL, .reply = E_PARAM },
	{ FROM " X=a\nSubject:hi", .verb = SMTP_MAIL, .reply = E_PARAM },
	{ FROM " SIZE=1\x7f", .verb = SMTP_MAIL, .reply = E_PARAM },
	{ FROM " SIZE=1=2", .verb = SMTP_MAIL, .reply = E_PARAM },
	{ FROM " SIZE=10\xc3\xa9", .verb = SMTP_MAIL, .reply = E_PARAM },
	{ FROM " =1", .verb = SMTP_MAIL, .reply = E_PARAM },
	{ FROM " -X=1", .verb = SMTP_MAIL, .reply = E_PARAM },
	{ FROM " X_Y=1", .verb = SMTP_MAIL, .reply = E_PARAM },
	{ FROM " SIZE=1\0x", sizeof(FROM " SIZE=1\0x") - 1, .verb = SMTP_MAIL,
	    .reply = E_PARAM },
	{ FROM "   SIZE=10    BODY=8BITMIME  ", .verb = SMTP_MAIL, .addr = "a@b.example",
	    .has_size = 1, .size = 10, .body = B8 },

	/* RCPT */
	{ "RCPT TO:<bob@example.org>", .verb = SMTP_RCPT, .addr = "bob@example.org" },
	{ "rcpt to:<bob@example.org>", .verb = SMTP_RCPT, .addr = "bob@example.org" },
	{ "RCPT TO: <bob@example.org>", .verb = SMTP_RCPT, .addr = "bob@example.org" },
	{ "RCPT TO:<\"bob\"@example.org>", .verb = SMTP_RCPT, .addr = "bob@example.org" },
	{ "RCPT TO:<@a.example:bob@example.org>", .verb = SMTP_RCPT,
	    .addr = "bob@example.org" },
	{ "RCPT TO:<bob@[192.0.2.1]>", .verb = SMTP_RCPT, .addr = "bob@[192.0.2.1]" },
	{ "RCPT TO:<postmaster>", .verb = SMTP_RCPT, .addr = "postmaster" },
	{ "RCPT TO:<Postmaster>", .verb = SMTP_RCPT, .addr = "postmaster" },
	{ "RCPT TO:<POSTMASTER>", .verb = SMTP_RCPT, .addr = "postmaster" },
	{ "RCPT TO:<postmaster@x.example>", .verb = SMTP_RCPT,
	    .addr = "postmaster@x.example" },
	{ "RCPT TO:<bob>", .verb = SMTP_RCPT, .reply = E_RCPT },
	{ "RCPT TO:<>", .verb = SMTP_RCPT, .reply = E_RCPT },
	{ "RCPT TO:bob@example.org", .verb = SMTP_RCPT, .reply = E_RCPT },
	{ "RCPT TO:<bob@example.org>x", .verb = SMTP_RCPT, .reply = E_RCPT },
	{ "RCPT TO:<bob@127.0.0.1>", .verb = SMTP_RCPT, .reply = E_RCPT },
	{ "RCPT FROM:<bob@example.org>", .verb = SMTP_RCPT, .reply = E_RCPTSYN },
	{ "RCPT", .verb = SMTP_RCPT, .reply = E_RCPTSYN },
	{ "RCPT TO:", .verb = SMTP_RCPT, .reply = E_RCPTSYN },
	{ "RCPT TO:<bob@example.org> NOTIFY=NEVER", .verb = SMTP_RCPT,
	    .reply = "555 5.5.4 Unsupported option: NOTIFY" },
	{ "RCPT TO:<bob@example.org> ORCPT=rfc822;bob@example.org", .verb = SMTP_RCPT,
	    .reply = "555 5.5.4 Unsupported option: ORCPT" },
	{ "RCPT TO:<bob@example.org> SIZE=10", .verb = SMTP_RCPT,
	    .reply = "555 5.5.4 Unsupported option: SIZE" },
	{ "RCPT TO:<bob@example.org> NOTIFY=\x01", .verb = SMTP_RCPT, .reply = E_PARAM },
	{ "RCPT TO:<j\xc3\xb6rg@b\xc3\xbc" "cher.example>", .verb = SMTP_RCPT,
	    .reply = E_RCPT },
	{ "RCPT TO:<j\xc3\xb6rg@b\xc3\xbc" "cher.example>", .flags = U8, .verb = SMTP_RCPT,
	    .addr = "j\xc3\xb6rg@b\xc3\xbc" "cher.example" },
	{ "RCPT TO:<bob@example.org> SMTPUTF8", .flags = U8, .verb = SMTP_RCPT,
	    .reply = "555 5.5.4 Unsupported option: SMTPUTF8" },

	/* BDAT */
	{ "BDAT 0 LAST", .verb = SMTP_BDAT, .last = 1 },
	{ "BDAT 1000", .verb = SMTP_BDAT, .chunk = 1000 },
	{ "bdat 86 last", .verb = SMTP_BDAT, .chunk = 86, .last = 1 },
	{ "BDAT  512   LAST  ", .verb = SMTP_BDAT, .chunk = 512, .last = 1 },
	{ "BDAT 18446744073709551615", .verb = SMTP_BDAT, .chunk = UMAX },
	{ "BDAT", .verb = SMTP_BDAT, .reply = E_BDAT },
	{ "BDAT LAST", .verb = SMTP_BDAT, .reply = E_BDAT },
	{ "BDAT 18446744073709551616", .verb = SMTP_BDAT, .reply = E_BDAT },
	{ "BDAT 123456789012345678901", .verb = SMTP_BDAT, .reply = E_BDAT },
	{ "BDAT 10 LAST X", .verb = SMTP_BDAT, .reply = E_BDAT },
	{ "BDAT 10 FIRST", .verb = SMTP_BDAT, .reply = E_BDAT },
	{ "BDAT -1", .verb = SMTP_BDAT, .reply = E_BDAT },
	{ "BDAT 1x", .verb = SMTP_BDAT, .reply = E_BDAT },

	/* AUTH */
	{ "AUTH PLAIN", .verb = SMTP_AUTH, .mech = "PLAIN" },
	{ "auth plain AGFsaWNlAHNlY3JldA==", .verb = SMTP_AUTH, .mech = "PLAIN",
	    .initial = "AGFsaWNlAHNlY3JldA==" },
	{ "Auth Login", .verb = SMTP_AUTH, .mech = "LOGIN" },
	{ "AUTH PLAIN =", .verb = SMTP_AUTH, .mech = "PLAIN", .initial = "=" },
	{ "AUTH SCRAM-SHA-256", .verb = SMTP_AUTH, .mech = "SCRAM-SHA-256" },
	{ "AUTH x_mech-1", .verb = SMTP_AUTH, .mech = "X_MECH-1" },
	{ "AUTH ABCDEFGHIJKLMNOPQRST", .verb = SMTP_AUTH, .mech = "ABCDEFGHIJKLMNOPQRST" },
	{ "AUTH PLAIN QQ==", .verb = SMTP_AUTH, .mech = "PLAIN", .initial = "QQ==" },
	{ "AUTH", .verb = SMTP_AUTH, .reply = E_AUTH },
	{ "AUTH ABCDEFGHIJKLMNOPQRSTU", .verb = SMTP_AUTH, .reply = E_AUTH },
	{ "AUTH PL@IN", .verb = SMTP_AUTH, .reply = E_AUTH },
	{ "AUTH PLAIN dGVzdA== extra", .verb = SMTP_AUTH, .reply = E_AUTH },
	{ "AUTH PLAIN abc", .verb = SMTP_AUTH, .reply = E_B64 },
	{ "AUTH PLAIN AGFsaWNl*", .verb = SMTP_AUTH, .reply = E_B64 },
	{ "AUTH PLAIN QR==", .verb = SMTP_AUTH, .reply = E_B64 },
	{ "AUTH PLAIN ==", .verb = SMTP_AUTH, .reply = E_B64 },

	/* commands that take no argument */
	{ "DATA", .verb = SMTP_DATA },
	{ "data", .verb = SMTP_DATA },
	{ "DATA ", .verb = SMTP_DATA },
	{ "DATA x", .verb = SMTP_DATA, .reply = "501 5.5.4 Syntax: DATA" },
	{ "RSET", .verb = SMTP_RSET },
	{ "rSeT now", .verb = SMTP_RSET, .reply = "501 5.5.4 Syntax: RSET" },
	{ "QUIT", .verb = SMTP_QUIT },
	{ "Quit", .verb = SMTP_QUIT },
	{ "QUIT now", .verb = SMTP_QUIT, .reply = "501 5.5.4 Syntax: QUIT" },
	{ "STARTTLS", .verb = SMTP_STARTTLS },
	{ "starttls x", .verb = SMTP_STARTTLS, .reply = "501 5.5.4 Syntax: STARTTLS" },

	/* commands that take anything */
	{ "NOOP", .verb = SMTP_NOOP, .arg = "" },
	{ "noop anything at all \x01", .verb = SMTP_NOOP, .arg = "anything at all \x01" },
	{ "HELP", .verb = SMTP_HELP },
	{ "help  MAIL ", .verb = SMTP_HELP, .arg = "MAIL" },
	{ "VRFY postmaster", .verb = SMTP_VRFY, .arg = "postmaster" },
	{ "vrfy", .verb = SMTP_VRFY, .reply = "501 5.5.4 Syntax: VRFY address" },
	{ "EXPN staff", .verb = SMTP_EXPN, .arg = "staff" },
	{ "EXPN", .verb = SMTP_EXPN, .reply = "501 5.5.4 Syntax: EXPN mailing-list" },

	/* not commands */
	{ "FOO", .reply = E_UNKNOWN },
	{ "", .reply = E_UNKNOWN },
	{ " MAIL FROM:<a@b.example>", .reply = E_UNKNOWN },
	{ "MAILFROM:<a@b.example>", .reply = E_UNKNOWN },
	{ "MAIL\tFROM:<a@b.example>", .reply = E_UNKNOWN },
	{ "HELOx", .reply = E_UNKNOWN },
	{ "STARTTLSX", .reply = E_UNKNOWN },
	{ "DAT", .reply = E_UNKNOWN },
	{ "\xc3\x89HLO x", .reply = E_UNKNOWN },
	{ "GET / HTTP/1.1", .reply = E_UNKNOWN },
	{ "QUIT\0", 5, .reply = E_UNKNOWN },
};
#define NROWS	(sizeof(rows) / sizeof(rows[0]))

/* A reply line: 3 digits, a space, printable ASCII, no CR/LF. */
static void
check_reply_form(const char *r)
{
	size_t i;

	ck_assert_ptr_nonnull(r);
	ck_assert(r[0] == '4' || r[0] == '5');
	ck_assert(r[1] >= '0' && r[1] <= '9' && r[2] >= '0' && r[2] <= '9');
	ck_assert(r[3] == ' ');
	for (i = 0; r[i] != '\0'; i++)
		ck_assert(r[i] >= 0x20 && r[i] < 0x7f);
	ck_assert_uint_lt(i, 120);
}

START_TEST(test_table)
{
	const struct row *t = &rows[_i];
	size_t len = t->len != 0 ? t->len : strlen(t->line);
	struct smtp_cmd c;
	const char *reply = (const char *)1;
	char text[ADDR_TEXT_MAX];
	int rc;

	rc = smtp_parse(t->line, len, t->flags, &c, &reply);
	ck_assert_msg(c.verb == t->verb, "row %d \"%s\": verb %s", _i, t->line,
	    smtp_verb_name(c.verb));
	if (t->reply != NULL) {
		ck_assert_msg(rc == -1, "row %d \"%s\": accepted", _i, t->line);
		ck_assert_msg(reply != NULL && strcmp(reply, t->reply) == 0,
		    "row %d \"%s\": reply \"%s\"", _i, t->line,
		    reply ? reply : "(null)");
		check_reply_form(reply);
		/* nothing half-parsed is left behind */
		ck_assert_str_eq(c.helo, "");
		ck_assert_str_eq(c.addr.local, "");
		ck_assert(!c.has_size && !c.smtputf8 && !c.has_initial);
		return;
	}
	ck_assert_msg(rc == 0, "row %d \"%s\": refused: %s", _i, t->line,
	    reply ? reply : "(null)");
	ck_assert_ptr_null(reply);
	ck_assert_str_eq(c.helo, t->helo != NULL ? t->helo : "");
	if (t->verb == SMTP_MAIL || t->verb == SMTP_RCPT) {
		ck_assert_ptr_nonnull(t->addr);
		if (strcmp(t->addr, "<>") == 0)
			ck_assert(c.addr.null);
		else {
			ck_assert(!c.addr.null);
			ck_assert_int_eq(addr_format(&c.addr, text, sizeof(text)), 0);
			ck_assert_str_eq(text, t->addr);
		}
	}
	ck_assert_int_eq(c.has_size, t->has_size);
	ck_assert(c.size == t->size);
	ck_assert_int_eq(c.body, t->body);
	ck_assert_int_eq(c.smtputf8, t->smtputf8);
	ck_assert(c.chunk == t->chunk);
	ck_assert_int_eq(c.last, t->last);
	ck_assert_str_eq(c.mech, t->mech != NULL ? t->mech : "");
	ck_assert_int_eq(c.has_initial, t->initial != NULL);
	if (t->initial != NULL) {
		ck_assert_uint_eq(c.initial_len, strlen(t->initial));
		ck_assert(memcmp(c.initial, t->initial, c.initial_len) == 0);
	}
	if (t->arg != NULL) {
		ck_assert_uint_eq(c.arglen, strlen(t->arg));
		ck_assert(memcmp(c.arg, t->arg, c.arglen) == 0);
	}
	/* arg always lies inside the line */
	ck_assert(c.arg >= t->line && c.arg + c.arglen <= t->line + len);
}
END_TEST

/* HELO arguments at and over 255 bytes. */
START_TEST(test_helo_length)
{
	char line[300];
	struct smtp_cmd c;
	const char *reply;

	memcpy(line, "EHLO ", 5);
	memset(line + 5, 'h', 256);
	ck_assert_int_eq(smtp_parse(line, 5 + 255, 0, &c, &reply), 0);
	ck_assert_uint_eq(strlen(c.helo), 255);
	ck_assert_int_eq(smtp_parse(line, 5 + 256, 0, &c, &reply), -1);
	ck_assert_str_eq(reply, E_EHLO);
}
END_TEST

/* A long unknown keyword is named, truncated, in a bounded reply. */
START_TEST(test_long_keyword)
{
	char line[512];
	struct smtp_cmd c;
	const char *reply;
	int n;

	n = snprintf(line, sizeof(line), "%s X%0400d", FROM, 0);
	ck_assert_int_lt(n, (int)sizeof(line));
	ck_assert_int_eq(smtp_parse(line, (size_t)n, 0, &c, &reply), -1);
	check_reply_form(reply);
	ck_assert_ptr_eq(reply, c.reply_buf);
	ck_assert(strncmp(reply, "555 5.5.4 Unsupported option: X000", 34) == 0);
	ck_assert_uint_lt(strlen(reply), sizeof(c.reply_buf));
}
END_TEST

/* "MAIL FROM:<64 x 'l'@domain of dlen bytes> SIZE=1" into line. */
static size_t
long_path(char *line, size_t cap, size_t dlen)
{
	char local[65], dom[256];
	size_t i;
	int n;

	memset(local, 'l', 64);
	local[64] = '\0';
	/* labels of 63 letters, the last one shorter, ".org" at the end */
	for (i = 0; i < dlen - 4; i++)
		dom[i] = (i % 64 == 63) ? '.' : 'd';
	memcpy(dom + dlen - 4, ".org", 5);
	n = snprintf(line, cap, "MAIL FROM:<%s@%s> SIZE=1", local, dom);
	ck_assert(n > 0 && (size_t)n < cap);
	return (size_t)n;
}

/* Paths at the RFC 5321 limits: local part 64, path 256 with brackets. */
START_TEST(test_path_limits)
{
	char line[600];
	struct smtp_cmd c;
	const char *reply;
	size_t n;

	n = (size_t)snprintf(line, sizeof(line), "RCPT TO:<%064d@example.org>", 0);
	ck_assert_int_eq(smtp_parse(line, n, 0, &c, &reply), 0);
	n = (size_t)snprintf(line, sizeof(line), "RCPT TO:<%065d@example.org>", 0);
	ck_assert_int_eq(smtp_parse(line, n, 0, &c, &reply), -1);
	ck_assert_str_eq(reply, E_RCPT);
	/* "<" + 64 + "@" + 189 + ">" = 256: the longest path */
	n = long_path(line, sizeof(line), 189);
	ck_assert_int_eq(smtp_parse(line, n, 0, &c, &reply), 0);
	ck_assert_uint_eq(strlen(c.addr.domain), 189);
	ck_assert(c.has_size && c.size == 1);
	n = long_path(line, sizeof(line), 190);
	ck_assert_int_eq(smtp_parse(line, n, 0, &c, &reply), -1);
	ck_assert_str_eq(reply, E_SENDER);
}
END_TEST

START_TEST(test_verb_names)
{
	ck_assert_str_eq(smtp_verb_name(SMTP_HELO), "HELO");
	ck_assert_str_eq(smtp_verb_name(SMTP_EHLO), "EHLO");
	ck_assert_str_eq(smtp_verb_name(SMTP_MAIL), "MAIL");
	ck_assert_str_eq(smtp_verb_name(SMTP_RCPT), "RCPT");
	ck_assert_str_eq(smtp_verb_name(SMTP_DATA), "DATA");
	ck_assert_str_eq(smtp_verb_name(SMTP_BDAT), "BDAT");
	ck_assert_str_eq(smtp_verb_name(SMTP_RSET), "RSET");
	ck_assert_str_eq(smtp_verb_name(SMTP_NOOP), "NOOP");
	ck_assert_str_eq(smtp_verb_name(SMTP_QUIT), "QUIT");
	ck_assert_str_eq(smtp_verb_name(SMTP_HELP), "HELP");
	ck_assert_str_eq(smtp_verb_name(SMTP_VRFY), "VRFY");
	ck_assert_str_eq(smtp_verb_name(SMTP_EXPN), "EXPN");
	ck_assert_str_eq(smtp_verb_name(SMTP_STARTTLS), "STARTTLS");
	ck_assert_str_eq(smtp_verb_name(SMTP_AUTH), "AUTH");
	ck_assert_str_eq(smtp_verb_name(SMTP_UNKNOWN), "UNKNOWN");
	ck_assert_str_eq(smtp_verb_name((enum smtp_verb)99), "UNKNOWN");
}
END_TEST

/* The parser reads exactly len bytes: a line cut from a larger buffer. */
START_TEST(test_length_bound)
{
	const char buf[] = "RCPT TO:<bob@example.org>XXXX";
	struct smtp_cmd c;
	const char *reply;

	ck_assert_int_eq(smtp_parse(buf, sizeof(buf) - 5, 0, &c, &reply), 0);
	ck_assert_str_eq(c.addr.local, "bob");
	ck_assert_int_eq(smtp_parse(buf, 4, 0, &c, &reply), -1);
	ck_assert_str_eq(reply, E_RCPTSYN);
	ck_assert_int_eq(smtp_parse(buf, 0, 0, &c, &reply), -1);
	ck_assert_str_eq(reply, E_UNKNOWN);
}
END_TEST

static Suite *
smtp_parse_suite(void)
{
	Suite *s = suite_create("smtp_parse");
	TCase *tc = tcase_create("core");

	tcase_add_loop_test(tc, test_table, 0, (int)NROWS);
	tcase_add_test(tc, test_helo_length);
	tcase_add_test(tc, test_long_keyword);
	tcase_add_test(tc, test_path_limits);
	tcase_add_test(tc, test_verb_names);
	tcase_add_test(tc, test_length_bound);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(smtp_parse_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
