/*
 * resolve.c - alias expansion (resolve.h).  Runs inside kurir-auth (auth
 * user, chrooted, sandboxed) on local parts that kurir-send asks about.
 *
 * Chains are followed depth first; a name met again on the current chain
 * is a loop, and so is a chain deeper than RESOLVE_DEPTH_MAX.  A target
 * reached twice by different chains is delivered once.
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "addr.h"
#include "resolve.h"

struct resolve_state {
	const struct users	*users;
	const struct aliases	*aliases;
	const struct conf	*conf;
	struct buf		*out;
	const char		*chain[RESOLVE_DEPTH_MAX + 1];
	size_t			 depth;
	size_t			 ntargets;
	const char		*why;
};

/* "kind value\n" unless that exact line is already there */
static int
emit(struct resolve_state *st, const char *kind, const char *value)
{
	char line[ADDR_TEXT_MAX + 16];
	size_t n;
	const char *p;

	n = (size_t)snprintf(line, sizeof(line), "%s %s\n", kind, value);
	if (n >= sizeof(line))
		return -1;
	for (p = buf_cstr(st->out); (p = strstr(p, line)) != NULL; p++)
		if (p == st->out->data || p[-1] == '\n')
			return 0;
	if (++st->ntargets > RESOLVE_TARGETS_MAX || buf_addstr(st->out, line)) {
		st->why = "5.3.0 alias expands to too many targets";
		return -1;
	}
	return 0;
}

static void
resolve_lower(char *dst, const char *src, size_t size)
{
	size_t i;

	for (i = 0; src[i] != '\0' && i + 1 < size; i++)
		dst[i] = (char)tolower((unsigned char)src[i]);
	dst[i] = '\0';
}

/* 1 expanded, 0 no such name, -1 error (st->why) */
static int
expand(struct resolve_state *st, const char *name)
{
	char lname[ADDR_LOCAL_MAX + 1], text[ADDR_TEXT_MAX];
	const char * const *targets;
	const char *why;
	struct addr a;
	size_t n, i, d;
	int r;

	resolve_lower(lname, name, sizeof(lname));
	for (d = 0; d < st->depth; d++)
		if (strcmp(st->chain[d], lname) == 0) {
			st->why = "5.4.6 alias loop";
			return -1;
		}
	if ((targets = aliases_lookup(st->aliases, lname, &n)) == NULL) {
		if (users_lookup(st->users, lname) == NULL)
			return 0;
		return emit(st, "user", lname) == -1 ? -1 : 1;
	}
	if (st->depth >= RESOLVE_DEPTH_MAX) {
		st->why = "5.4.6 alias chain too long (loop?)";
		return -1;
	}
	st->chain[st->depth++] = lname;
	for (i = 0; i < n; i++) {
		if (addr_parse(targets[i], ADDR_ALLOW_NODOMAIN | ADDR_ALLOW_UTF8,
		    &a, &why) == -1) {
			r = emit(st, "fail", targets[i]);
		} else if (a.domain[0] == '\0' || (st->conf != NULL &&
		    conf_is_local_domain(st->conf, a.domain))) {
			if ((r = expand(st, a.local)) == 0)
				r = emit(st, "fail", targets[i]);
		} else if (addr_format(&a, text, sizeof(text)) == -1)
			r = emit(st, "fail", targets[i]);
		else
			r = emit(st, "remote", text);
		if (r == -1) {
			st->depth--;
			return -1;
		}
	}
	st->depth--;
	return 1;
}

enum resolve_result
resolve_local(const struct users *u, const struct aliases *al,
    const struct conf *c, const char *name, struct buf *out, const char **why)
{
	struct resolve_state st;
	int r;

	memset(&st, 0, sizeof(st));
	st.users = u;
	st.aliases = al;
	st.conf = c;
	st.out = out;
	st.why = "4.3.0 out of memory";
	if ((r = expand(&st, name)) == 1)
		return RESOLVE_OK;
	*why = st.why;
	return r == 0 ? RESOLVE_NOUSER : RESOLVE_ERROR;
}
