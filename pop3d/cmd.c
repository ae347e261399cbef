/*
 * cmd.c - one POP3 command line in, a validated struct pop3_req or a
 * short error text out (API in cmd.h).
 *
 * Used by kurir-pop3d (pre-auth: pop3 user, chrooted, sandboxed;
 * session: mail user, chrooted to the Maildir); pure, so the unit tests
 * and the fuzzer run it as is.  Grammar: RFC 1939 section 3 ("a keyword
 * possibly followed by one or more arguments ... separated by a single
 * SPACE"), RFC 2449 (CAPA, 255-octet lines), RFC 2595 (STLS), RFC 5034
 * (AUTH mechanism [initial-response]).
 *
 * Leniency is limited to what carries no meaning: keyword case, runs of
 * spaces between arguments, trailing spaces.  Everything that travels on
 * is strict: numbers are digits with a bounded value (no strtoul sign,
 * blank or wrap), names can never form a path ('/', "..", a leading dot)
 * or a log-injecting byte, and error texts are constants, so nothing a
 * client sends is ever echoed back.
 */
#include <string.h>

#include "base64.h"
#include "cmd.h"

#define IS_DIGIT(c)	((c) >= '0' && (c) <= '9')
#define IS_ALNUM(c)	(IS_DIGIT(c) || ((c) >= 'a' && (c) <= 'z') || \
			((c) >= 'A' && (c) <= 'Z'))
/* ASCII only: a locale's toupper() could fold a non-ASCII byte */
#define TO_UPPER(c)	(((c) >= 'a' && (c) <= 'z') ? (c) - ('a' - 'A') : (c))

#define ST_AUTHZ	0x1	/* allowed in AUTHORIZATION */
#define ST_TRANS	0x2	/* allowed in TRANSACTION */
#define CMD_ARGS_MAX	2	/* the most any command takes */

/* objects, not literals: pop3_err_is_bad_command tells them by address */
static const char E_UNKNOWN[] = "unknown command";
static const char E_LONG[] = "line too long";
static const char E_NUL[] = "NUL in command";
#define E_SYNTAX	"bad syntax"
#define E_MISSING	"missing argument"
#define E_EXTRA		"too many arguments"
#define E_NUM		"bad message number"
#define E_LINES		"bad line count"
#define E_USER		"bad user name"
#define E_MECH		"bad mechanism name"
#define E_RESP		"bad initial response"
#define E_DIGEST	"bad digest"

/* indexed by enum pop3_cmd */
static const struct cmd_def {
	const char	*name;
	int		 minargs;
	int		 maxargs;
	unsigned int	 states;
} cmd_defs[] = {
	[P3_USER] = { "USER", 1, 1, ST_AUTHZ },
	[P3_PASS] = { "PASS", 1, 1, ST_AUTHZ },	/* the rest of the line */
	[P3_APOP] = { "APOP", 2, 2, ST_AUTHZ },
	[P3_AUTH] = { "AUTH", 1, 2, ST_AUTHZ },
	[P3_STLS] = { "STLS", 0, 0, ST_AUTHZ },
	[P3_CAPA] = { "CAPA", 0, 0, ST_AUTHZ | ST_TRANS },
	[P3_QUIT] = { "QUIT", 0, 0, ST_AUTHZ | ST_TRANS },
	[P3_STAT] = { "STAT", 0, 0, ST_TRANS },
	[P3_LIST] = { "LIST", 0, 1, ST_TRANS },
	[P3_RETR] = { "RETR", 1, 1, ST_TRANS },
	[P3_DELE] = { "DELE", 1, 1, ST_TRANS },
	[P3_NOOP] = { "NOOP", 0, 0, ST_TRANS },
	[P3_RSET] = { "RSET", 0, 0, ST_TRANS },
	[P3_TOP]  = { "TOP",  2, 2, ST_TRANS },
	[P3_UIDL] = { "UIDL", 0, 1, ST_TRANS },
};
#define NCMDS	(sizeof(cmd_defs) / sizeof(cmd_defs[0]))

/* The command whose name is line[0..n), any case; -1 if none. */
static int
cmd_lookup(const char *line, size_t n)
{
	size_t c, i;

	for (c = 0; c < NCMDS; c++) {
		if (strlen(cmd_defs[c].name) != n)
			continue;
		for (i = 0; i < n; i++)
			if (TO_UPPER(line[i]) != cmd_defs[c].name[i])
				break;
		if (i == n)
			return (int)c;
	}
	return -1;
}

/*
 * Make line[s..e) a C string without touching line[e], which may lie past
 * the caller's buffer: move it one byte left, onto the space before it
 * (s >= 1 and line[s - 1] == ' ' always hold here), and put the NUL
 * where its last byte was.
 */
static char *
cmd_take(char *line, size_t s, size_t e)
{
	memmove(line + s - 1, line + s, e - s);
	line[e - 1] = '\0';
	return line + s - 1;
}

/*
 * Split line[start..len) at runs of spaces into tok[].  Returns the
 * number of arguments, CMD_ARGS_MAX + 1 for "more than any command
 * takes" (the rest is left alone), or -1 for a space right after the
 * keyword's separator.  Trailing spaces are dropped: they carry nothing
 * and some clients send them.
 */
static int
cmd_split(char *line, size_t start, size_t len, char **tok)
{
	size_t s, e;
	int n = 0;

	while (len > start && line[len - 1] == ' ')
		len--;
	if (start < len && line[start] == ' ')
		return -1;
	for (s = start; s < len; s = e) {
		/* stops before len: line[len - 1] is not a space */
		while (line[s] == ' ')
			s++;
		for (e = s; e < len && line[e] != ' '; e++)
			;
		if (n == CMD_ARGS_MAX)
			return CMD_ARGS_MAX + 1;
		tok[n++] = cmd_take(line, s, e);
	}
	return n;
}

/*
 * Plain decimal digits, leading zeros allowed, value min..POP3_NUM_MAX.
 * Checked before each step, so no length of input can wrap it.
 */
static int
cmd_number(const char *s, unsigned long min, unsigned long *out)
{
	unsigned long v = 0, d;

	if (*s == '\0')
		return -1;
	for (; *s != '\0'; s++) {
		if (!IS_DIGIT(*s))
			return -1;
		d = (unsigned long)(*s - '0');
		if (v > (POP3_NUM_MAX - d) / 10)
			return -1;
		v = v * 10 + d;
	}
	if (v < min)
		return -1;
	*out = v;
	return 0;
}

/*
 * A USER / APOP name: 1..POP3_USER_MAX printable ASCII bytes, no '/',
 * no "..", no leading '.', so it can never name a path outside the
 * mail directory nor put a control byte into a log line.  The password
 * checker applies the users file's own rules afterwards.
 */
static int
cmd_user_ok(const char *s)
{
	size_t i;

	if (s[0] == '\0' || s[0] == '.')
		return 0;
	for (i = 0; s[i] != '\0'; i++) {
		if (i >= POP3_USER_MAX)
			return 0;
		if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f ||
		    s[i] == '/')
			return 0;
		if (s[i] == '.' && s[i + 1] == '.')
			return 0;
	}
	return 1;
}

/* RFC 4422 3.1 mechanism name, upper-cased in place for the caller */
static int
cmd_mech_ok(char *s)
{
	size_t i;

	for (i = 0; s[i] != '\0'; i++) {
		if (i >= POP3_MECH_MAX || !(IS_ALNUM(s[i]) || s[i] == '-' ||
		    s[i] == '_'))
			return 0;
		s[i] = TO_UPPER(s[i]);
	}
	return i > 0;
}

/* APOP digest: MD5 as RFC 1939 section 7 writes it, lower-case hex */
static int
cmd_digest_ok(const char *s)
{
	size_t i;

	for (i = 0; s[i] != '\0'; i++)
		if (i >= POP3_DIGEST_LEN || !(IS_DIGIT(s[i]) ||
		    (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return i == POP3_DIGEST_LEN;
}

/* The arguments of every command but PASS, checked per command. */
static const char *
cmd_args(struct pop3_req *req, char **tok, int n)
{
	switch (req->cmd) {
	case P3_USER:
		if (!cmd_user_ok(tok[0]))
			return E_USER;
		req->arg = tok[0];
		break;
	case P3_APOP:
		if (!cmd_user_ok(tok[0]))
			return E_USER;
		if (!cmd_digest_ok(tok[1]))
			return E_DIGEST;
		req->arg = tok[0];
		req->arg2 = tok[1];
		break;
	case P3_AUTH:
		if (!cmd_mech_ok(tok[0]))
			return E_MECH;
		req->arg = tok[0];
		if (n == 2) {
			/* "=" is RFC 5034's empty initial response */
			if (strcmp(tok[1], "=") != 0 &&
			    !base64_valid(tok[1], strlen(tok[1])))
				return E_RESP;
			req->arg2 = tok[1];
		}
		break;
	case P3_LIST:
	case P3_UIDL:
	case P3_RETR:
	case P3_DELE:
		if (n == 1) {
			if (cmd_number(tok[0], 1, &req->num[0]) == -1)
				return E_NUM;
			req->nnums = 1;
		}
		break;
	case P3_TOP:
		if (cmd_number(tok[0], 1, &req->num[0]) == -1)
			return E_NUM;
		if (cmd_number(tok[1], 0, &req->num[1]) == -1)
			return E_LINES;
		req->nnums = 2;
		break;
	default:	/* no arguments: the count was checked already */
		break;
	}
	return NULL;
}

int
pop3_parse(char *line, size_t len, struct pop3_req *req, const char **err)
{
	char *tok[CMD_ARGS_MAX];
	size_t kw;
	int c, n;

	memset(req, 0, sizeof(*req));
	if (len + 2 > POP3_LINE_MAX || len > POP3_LINE_MAX) {
		*err = E_LONG;
		goto bad;
	}
	if (memchr(line, '\0', len) != NULL) {
		*err = E_NUL;
		goto bad;
	}
	for (kw = 0; kw < len && line[kw] != ' '; kw++)
		;
	if ((c = cmd_lookup(line, kw)) == -1) {
		*err = E_UNKNOWN;
		goto bad;
	}
	req->cmd = (enum pop3_cmd)c;

	if (req->cmd == P3_PASS) {
		/* RFC 1939 7: the password may contain spaces; take it as is */
		if (kw + 1 >= len) {
			*err = E_MISSING;
			goto bad;
		}
		req->arg = cmd_take(line, kw + 1, len);
		return 0;
	}

	n = kw < len ? cmd_split(line, kw + 1, len, tok) : 0;
	if (n == -1) {
		*err = E_SYNTAX;
		goto bad;
	}
	if (n < cmd_defs[c].minargs) {
		*err = E_MISSING;
		goto bad;
	}
	if (n > cmd_defs[c].maxargs) {
		*err = E_EXTRA;
		goto bad;
	}
	if ((*err = cmd_args(req, tok, n)) != NULL)
		goto bad;
	return 0;

bad:
	/* no half-filled request, no pointer into a rejected line */
	memset(req, 0, sizeof(*req));
	return -1;
}

int
pop3_err_is_bad_command(const char *err)
{
	return err == E_UNKNOWN || err == E_LONG || err == E_NUL;
}

int
pop3_allowed(enum pop3_state st, enum pop3_cmd cmd)
{
	unsigned int bit;

	if ((unsigned int)cmd >= NCMDS)
		return 0;
	switch (st) {
	case P3_AUTHORIZATION:
		bit = ST_AUTHZ;
		break;
	case P3_TRANSACTION:
		bit = ST_TRANS;
		break;
	default:
		return 0;
	}
	return (cmd_defs[cmd].states & bit) != 0;
}

const char *
pop3_cmd_name(enum pop3_cmd cmd)
{
	if ((unsigned int)cmd >= NCMDS)
		return "?";
	return cmd_defs[cmd].name;
}
