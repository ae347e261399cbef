/*
 * fuzz_pop3_cmd.c - libFuzzer target for pop3d/cmd.c, the POP3 command
 * line parser of kurir-pop3d (pre-auth: pop3 user; session: mail user).
 *
 * The input is one command line without its CRLF, as the session would
 * pass it, copied to a buffer of exactly its size so that any access to
 * line[len] is caught.  Beyond ASan/UBSan it aborts when an invariant
 * breaks: an argument outside the line or not NUL-terminated inside it;
 * a USER / APOP name that could name a path ('/', "..", a leading dot)
 * or carry a control byte; a number out of range or an nnums / argument
 * set that the command does not take; a keyword that is not the input's
 * first word; a PASS that is not the rest of the line verbatim; a
 * success on a line over 253 bytes or with a NUL; a failure without a
 * short printable error or with anything left in the request.  Every
 * parsed command also goes through pop3_allowed() and pop3_cmd_name().
 * Seeds: tests/fuzz/corpus/pop3_cmd/.
 *
 * The fuzz build compiles only the common sources, so the parser comes
 * in here.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../pop3d/cmd.c"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static int
inside(const char *s, const char *buf, size_t len)
{
	return s != NULL && s >= buf && s < buf + len &&
	    memchr(s, '\0', (size_t)(buf + len - s)) != NULL;
}

static int
name_safe(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > POP3_USER_MAX || s[0] == '.' ||
	    strchr(s, '/') != NULL || strstr(s, "..") != NULL)
		return 0;
	for (; *s != '\0'; s++)
		if ((unsigned char)*s <= 0x20 || (unsigned char)*s >= 0x7f)
			return 0;
	return 1;
}

static void
check_ok(const struct pop3_req *r, const char *buf, const uint8_t *data,
    size_t len)
{
	const char *name, *s;
	size_t kw, i;
	int st;

	if (len + 2 > POP3_LINE_MAX || memchr(data, '\0', len) != NULL)
		abort();
	/* the keyword is the input's first word, any case */
	name = pop3_cmd_name(r->cmd);
	kw = strlen(name);
	if (strcmp(name, "?") == 0 || len < kw ||
	    (len > kw && data[kw] != ' '))
		abort();
	for (i = 0; i < kw; i++)
		if (TO_UPPER((char)data[i]) != name[i])
			abort();
	for (st = P3_AUTHORIZATION; st <= P3_TRANSACTION; st++)
		if (pop3_allowed((enum pop3_state)st, r->cmd) != 0 &&
		    pop3_allowed((enum pop3_state)st, r->cmd) != 1)
			abort();
	if (!pop3_allowed(P3_AUTHORIZATION, r->cmd) &&
	    !pop3_allowed(P3_TRANSACTION, r->cmd))
		abort();

	if (r->nnums < 0 || r->nnums > 2)
		abort();
	if ((r->nnums < 1 && r->num[0] != 0) || (r->nnums < 2 && r->num[1] != 0))
		abort();
	if (r->nnums >= 1 && (r->num[0] < 1 || r->num[0] > POP3_NUM_MAX))
		abort();
	if (r->nnums == 2 && r->num[1] > POP3_NUM_MAX)
		abort();
	if (r->arg != NULL && !inside(r->arg, buf, len))
		abort();
	if (r->arg2 != NULL && !inside(r->arg2, buf, len))
		abort();
	if (r->arg != NULL && r->arg2 != NULL &&
	    r->arg + strlen(r->arg) >= r->arg2)
		abort();

	switch (r->cmd) {
	case P3_USER:
		if (r->nnums != 0 || r->arg == NULL || r->arg2 != NULL ||
		    !name_safe(r->arg))
			abort();
		break;
	case P3_PASS:
		/* verbatim: every byte after "PASS " */
		if (r->nnums != 0 || r->arg == NULL || r->arg2 != NULL ||
		    len <= 5 || strlen(r->arg) != len - 5 ||
		    memcmp(r->arg, data + 5, len - 5) != 0)
			abort();
		break;
	case P3_APOP:
		if (r->nnums != 0 || r->arg == NULL || r->arg2 == NULL ||
		    !name_safe(r->arg) || strlen(r->arg2) != POP3_DIGEST_LEN ||
		    strspn(r->arg2, "0123456789abcdef") != POP3_DIGEST_LEN)
			abort();
		break;
	case P3_AUTH:
		if (r->nnums != 0 || r->arg == NULL)
			abort();
		if (strlen(r->arg) < 1 || strlen(r->arg) > POP3_MECH_MAX ||
		    strspn(r->arg, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_") !=
		    strlen(r->arg))
			abort();
		if (r->arg2 != NULL && strcmp(r->arg2, "=") != 0 &&
		    !base64_valid(r->arg2, strlen(r->arg2)))
			abort();
		break;
	case P3_LIST:
	case P3_UIDL:
		if (r->nnums > 1 || r->arg != NULL || r->arg2 != NULL)
			abort();
		break;
	case P3_RETR:
	case P3_DELE:
		if (r->nnums != 1 || r->arg != NULL || r->arg2 != NULL)
			abort();
		break;
	case P3_TOP:
		if (r->nnums != 2 || r->arg != NULL || r->arg2 != NULL)
			abort();
		break;
	case P3_STLS:
	case P3_CAPA:
	case P3_QUIT:
	case P3_STAT:
	case P3_NOOP:
	case P3_RSET:
		if (r->nnums != 0 || r->arg != NULL || r->arg2 != NULL)
			abort();
		/* nothing but trailing spaces after the keyword */
		for (s = (const char *)data + kw; s < (const char *)data + len; s++)
			if (*s != ' ')
				abort();
		break;
	default:
		abort();
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pop3_req r, zero;
	const char *err = NULL;
	char *buf;
	size_t i;

	if (size > 4096)
		return 0;
	/* exactly size bytes: line[len] must never be touched */
	if ((buf = malloc(size ? size : 1)) == NULL)
		return 0;
	memcpy(buf, data, size);
	if (pop3_parse(buf, size, &r, &err) == 0)
		check_ok(&r, buf, data, size);
	else {
		memset(&zero, 0, sizeof(zero));
		if (memcmp(&r, &zero, sizeof(r)) != 0 || err == NULL ||
		    err[0] == '\0')
			abort();
		for (i = 0; err[i] != '\0'; i++)
			if (i >= 40 || err[i] < 0x20 || err[i] > 0x7e)
				abort();
	}
	free(buf);
	return 0;
}
