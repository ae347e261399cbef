/*
 * table.c - the users, aliases and routes tables (table.h).
 *
 * Loaded by kurird, kurir-smtpd (RCPT checks, AUTH), kurir-pop3d's auth
 * side, kurir-send/kurir-local (aliases) and kurir-remote (routes), each
 * in its own uid, and by kurirctl `check`.  A load reads the whole file
 * (bounded), validates every line and builds a sorted array, so lookups
 * are a bsearch and a bad file never replaces a good table.  Line rules
 * and "file:line: reason" errors come from conf.c's shared reader.
 *
 * Passwords: users_check_password() runs crypt_r(3) even for unknown or
 * locked accounts and compares in constant time, so neither the answer's
 * timing nor its content tells which accounts exist.
 */
#include <sys/types.h>
#include <arpa/inet.h>
#include <crypt.h>
#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "addr.h"
#include "conf.h"
#include "table.h"

/* crypt(3) refuses longer ones; its time grows with the length anyway */
#define USERS_PASSWORD_MAX	(CRYPT_MAX_PASSPHRASE_SIZE - 1)

/*
 * Hashed when a table has no real hash to borrow (see users_dummy); the
 * password is not a secret, the hash only has to cost what a real one does.
 */
static const char users_fixed_dummy[] =
    "$y$j9T$3HhJzFQ62JsKlheGqk06O.$EBLM7rXRLCnZaCmCbgC.gMz324rYRgGESevz5gKCID/";

struct user_ent {
	char		*name;		/* lower case */
	char		*hash;
	unsigned long	 line;
};

struct users {
	struct user_ent	*v;
	size_t		 n;
	const char	*dummy;		/* a real hash of this table, or NULL */
};

struct alias_ent {
	char		*name;		/* canonical local part */
	char		**targets;
	size_t		 n;
	unsigned long	 line;
};

struct aliases {
	struct alias_ent *v;
	size_t		 n;
};

struct route_ent {
	struct route	 r;		/* first: routes_cmp sees a struct route */
	unsigned long	 line;
};

struct routes {
	struct route_ent *v;
	size_t		 n;
};

/* ---- shared ------------------------------------------------------------ */

/*
 * The whole of path into b.  Returns 0, also for a missing file (ENOENT:
 * b is then empty, a fresh host has no tables), or -1 with err set.
 */
static int
table_read(const char *path, struct buf *b, char *err, size_t errlen)
{
	if (path == NULL) {
		buf_init(b, 1);
		return conf_error(err, errlen, "(table)", 0, "no file name");
	}
	if (conf_read_file(path, TABLE_FILE_MAX, b) == -1) {
		if (errno == ENOENT) {
			buf_init(b, 1);
			return 0;
		}
		return conf_error(err, errlen, path, 0, "%s", errno == EFBIG ?
		    "file larger than 64 MiB" : strerror(errno));
	}
	return 0;
}

/* Make room for one more element in *v (n in use). */
static int
table_grow(void *vp, size_t n, size_t size)
{
	void **v = vp, *nv;

	if ((nv = reallocarray(*v, n + 1, size)) == NULL)
		return -1;
	*v = nv;
	return 0;
}

/* The first c in s outside a quoted string, or NULL. */
static char *
table_find_unquoted(char *s, int c)
{
	int q = 0;

	for (; *s != '\0'; s++) {
		if (q && *s == '\\' && s[1] != '\0')
			s++;
		else if (*s == '"')
			q = !q;
		else if (!q && *s == c)
			return s;
	}
	return NULL;
}

/* s without surrounding blanks (trailing ones cut in place) */
static char *
table_trim(char *s)
{
	size_t len;

	while (*s == ' ' || *s == '\t')
		s++;
	len = strlen(s);
	while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\t'))
		s[--len] = '\0';
	return s;
}

static void
table_lower(char *s)
{
	for (; *s != '\0'; s++)
		*s = (char)tolower((unsigned char)*s);
}

/* ---- users --------------------------------------------------------------- */

int
users_name_valid(const char *s)
{
	size_t i;

	if (s == NULL || s[0] == '\0' || s[0] == '.' || s[0] == '-')
		return 0;
	for (i = 0; s[i] != '\0'; i++) {
		if (i >= 64)
			return 0;
		if (!(s[i] >= 'a' && s[i] <= 'z') && !(s[i] >= '0' &&
		    s[i] <= '9') && s[i] != '.' && s[i] != '_' && s[i] != '-')
			return 0;
		if (s[i] == '.' && (s[i + 1] == '.' || s[i + 1] == '\0'))
			return 0;
	}
	return 1;
}

/* NULL if the hash is usable, else why not */
static const char *
users_hash_check(const char *h)
{
	size_t i;
	int cs;

	if (h[0] == '\0')
		return "empty password hash (use '*' to lock an account)";
	if (strlen(h) > USERS_HASH_MAX)
		return "password hash too long";
	for (i = 0; h[i] != '\0'; i++)
		if (!isgraph((unsigned char)h[i]) || h[i] == ':')
			return "password hash contains a blank, ':' or "
			    "control character";
	if (h[0] == '*' || h[0] == '!')
		return NULL;	/* locked, as in shadow(5) */
	if (h[0] != '$')
		return "not a crypt hash (want $y$, $2b$, $6$ ..., or '*' for "
		    "a locked account)";
	cs = crypt_checksalt(h);
	if (cs == CRYPT_SALT_INVALID || cs == CRYPT_SALT_METHOD_DISABLED)
		return "hash method not supported by this system's crypt(3)";
	return NULL;
}

/*
 * Constant-time equality of n bytes (libbsd 0.11 has no timingsafe_bcmp):
 * every byte is looked at, whatever differs first.
 */
static int
users_equal_ct(const char *a, const char *b, size_t n)
{
	const volatile unsigned char *x = (const volatile unsigned char *)a;
	const volatile unsigned char *y = (const volatile unsigned char *)b;
	unsigned char d = 0;
	size_t i;

	for (i = 0; i < n; i++)
		d |= x[i] ^ y[i];
	return d == 0;
}

static int
users_cmp(const void *a, const void *b)
{
	return strcasecmp(((const struct user_ent *)a)->name,
	    ((const struct user_ent *)b)->name);
}

void
users_free(struct users *u)
{
	size_t i;

	if (u == NULL)
		return;
	for (i = 0; i < u->n; i++) {
		free(u->v[i].name);
		explicit_bzero(u->v[i].hash, strlen(u->v[i].hash));
		free(u->v[i].hash);
	}
	free(u->v);
	free(u);
}

int
users_load_mem(struct users **out, const char *name, const char *data,
    size_t len, char *err, size_t errlen)
{
	struct conf_reader r;
	struct users *u;
	char line[CONF_LINE_MAX + 1], *colon, *user, *hash;
	const char *why;
	size_t i;
	int rc;

	if ((u = calloc(1, sizeof(*u))) == NULL)
		return conf_error(err, errlen, name, 0, "out of memory");
	conf_reader_init(&r, name, data, len);
	while ((rc = conf_reader_next(&r, line, sizeof(line), err,
	    errlen)) == 1) {
		if ((colon = strchr(line, ':')) == NULL) {
			conf_error(err, errlen, name, r.line,
			    "missing ':' (want name:hash)");
			goto fail;
		}
		*colon = '\0';
		user = table_trim(line);
		hash = table_trim(colon + 1);
		if (!users_name_valid(user)) {
			conf_error(err, errlen, name, r.line, "bad user name "
			    "'%.64s' (want a-z 0-9 . _ -, at most 64)", user);
			goto fail;
		}
		if ((why = users_hash_check(hash)) != NULL) {
			conf_error(err, errlen, name, r.line, "%s: %s", user,
			    why);
			goto fail;
		}
		if (table_grow(&u->v, u->n, sizeof(*u->v)) == -1)
			goto nomem;
		u->v[u->n].name = strdup(user);
		u->v[u->n].hash = strdup(hash);
		u->v[u->n].line = r.line;
		if (u->v[u->n].name == NULL || u->v[u->n].hash == NULL) {
			free(u->v[u->n].name);
			free(u->v[u->n].hash);
			goto nomem;
		}
		u->n++;
	}
	explicit_bzero(line, sizeof(line));
	if (rc == -1)
		goto fail;
	if (u->n > 0)
		qsort(u->v, u->n, sizeof(*u->v), users_cmp);
	for (i = 0; i + 1 < u->n; i++) {
		const struct user_ent *a = &u->v[i], *b = &u->v[i + 1];

		if (users_cmp(a, b) == 0) {
			conf_error(err, errlen, name, a->line > b->line ?
			    a->line : b->line, "duplicate user '%s' (first on "
			    "line %lu)", a->name, a->line < b->line ? a->line :
			    b->line);
			goto fail;
		}
	}
	/* unknown names cost what this table's real hashes cost */
	for (i = 0; i < u->n && u->dummy == NULL; i++)
		if (u->v[i].hash[0] == '$')
			u->dummy = u->v[i].hash;
	*out = u;
	return 0;
nomem:
	conf_error(err, errlen, name, r.line, "out of memory");
fail:
	explicit_bzero(line, sizeof(line));
	users_free(u);
	return -1;
}

int
users_load(struct users **out, const char *path, char *err, size_t errlen)
{
	struct buf b;
	int rc;

	if (table_read(path, &b, err, errlen) == -1)
		return -1;
	rc = users_load_mem(out, path, b.data, b.len, err, errlen);
	buf_free(&b);		/* wipes: the users file holds hashes */
	return rc;
}

size_t
users_count(const struct users *u)
{
	return u ? u->n : 0;
}

const char *
users_name_at(const struct users *u, size_t i)
{
	return u != NULL && i < u->n ? u->v[i].name : NULL;
}

const char *
users_lookup(const struct users *u, const char *name)
{
	struct user_ent key, *e;

	if (u == NULL || name == NULL || u->n == 0)
		return NULL;
	key.name = (char *)(uintptr_t)name;	/* bsearch wants a non-const */
	e = bsearch(&key, u->v, u->n, sizeof(*u->v), users_cmp);
	return e ? e->hash : NULL;
}

const char *
users_setting(const struct users *u, const char *name, int *known)
{
	const char *hash = users_lookup(u, name);

	*known = hash != NULL && hash[0] == '$';
	if (*known)
		return hash;
	return u != NULL && u->dummy != NULL ? u->dummy : users_fixed_dummy;
}

int
users_crypt_check(const char *setting, int known, const char *password)
{
	struct crypt_data *cd;
	const char *out;
	size_t len;
	int rc;

	if (password == NULL || strlen(password) > USERS_PASSWORD_MAX)
		password = "";		/* still hash: same time as a miss */
	/* ~32 KiB: too large for the stack of an event-driven process */
	if ((cd = calloc(1, sizeof(*cd))) == NULL)
		return -1;
	out = crypt_r(password, setting, cd);
	if (out == NULL || out[0] == '*')
		rc = known ? -1 : 0;	/* a real hash crypt cannot handle */
	else if (!known)
		rc = 0;
	else {
		len = strlen(setting);
		/* the length is public (same method, same format) */
		rc = strlen(out) == len && users_equal_ct(out, setting, len);
	}
	explicit_bzero(cd, sizeof(*cd));
	free(cd);
	return rc;
}

int
users_check_password(const struct users *u, const char *name,
    const char *password)
{
	const char *setting;
	int known;

	setting = users_setting(u, name, &known);
	return users_crypt_check(setting, known, password);
}

/* ---- aliases ------------------------------------------------------------- */

static int
aliases_cmp(const void *a, const void *b)
{
	return strcasecmp(((const struct alias_ent *)a)->name,
	    ((const struct alias_ent *)b)->name);
}

static void
aliases_free_ent(struct alias_ent *e)
{
	size_t i;

	for (i = 0; i < e->n; i++)
		free(e->targets[i]);
	free(e->targets);
	free(e->name);
}

void
aliases_free(struct aliases *a)
{
	size_t i;

	if (a == NULL)
		return;
	for (i = 0; i < a->n; i++)
		aliases_free_ent(&a->v[i]);
	free(a->v);
	free(a);
}

/* Parse "target, target" into e; -1 with a message in msg. */
static int
aliases_parse_targets(struct alias_ent *e, char *list, char *msg,
    size_t msglen)
{
	char text[ADDR_TEXT_MAX], *item, *next;
	struct addr ad;
	const char *why;
	size_t i;

	for (; list != NULL; list = next) {
		if ((next = table_find_unquoted(list, ',')) != NULL)
			*next++ = '\0';
		item = table_trim(list);
		if (*item == '\0')	/* "a, b," as sendmail tolerates */
			continue;
		/* sendmail's program and file targets are valid local parts
		 * to RFC 5322; say plainly that kurir does not run them */
		why = NULL;
		ad.null = 0;
		if (strncasecmp(item, ":include:", 9) == 0 ||
		    addr_parse(item, ADDR_ALLOW_NODOMAIN, &ad, &why) == -1 ||
		    ad.null || ad.local[0] == '|' || ad.local[0] == '/' ||
		    addr_format(&ad, text, sizeof(text)) == -1) {
			snprintf(msg, msglen, "bad target '%.64s': %s", item,
			    why != NULL ? why : ad.null ? "the null address" :
			    "programs, files and :include: are not supported");
			return -1;
		}
		/* one copy per target, or the target gets it twice */
		for (i = 0; i < e->n; i++)
			if (strcasecmp(e->targets[i], text) == 0)
				break;
		if (i < e->n)
			continue;
		if (table_grow(&e->targets, e->n, sizeof(*e->targets)) == -1 ||
		    (e->targets[e->n] = strdup(text)) == NULL) {
			snprintf(msg, msglen, "out of memory");
			return -1;
		}
		e->n++;
	}
	if (e->n == 0) {
		snprintf(msg, msglen, "no targets");
		return -1;
	}
	return 0;
}

int
aliases_load_mem(struct aliases **out, const char *name, const char *data,
    size_t len, char *err, size_t errlen)
{
	struct conf_reader r;
	struct aliases *a;
	struct alias_ent e;
	struct addr ad;
	char line[CONF_LINE_MAX + 1], msg[256], *colon, *lhs;
	const char *why;
	size_t i;
	int rc;

	if ((a = calloc(1, sizeof(*a))) == NULL)
		return conf_error(err, errlen, name, 0, "out of memory");
	conf_reader_init(&r, name, data, len);
	while ((rc = conf_reader_next(&r, line, sizeof(line), err,
	    errlen)) == 1) {
		if ((colon = table_find_unquoted(line, ':')) == NULL) {
			conf_error(err, errlen, name, r.line,
			    "missing ':' (want name: target, target)");
			goto fail;
		}
		*colon = '\0';
		lhs = table_trim(line);
		why = NULL;
		if (addr_parse(lhs, ADDR_ALLOW_NODOMAIN, &ad, &why) == -1 ||
		    ad.null || ad.domain[0] != '\0') {
			conf_error(err, errlen, name, r.line, "bad alias name "
			    "'%.64s': %s", lhs, why ? why :
			    "want a local part without @domain");
			goto fail;
		}
		memset(&e, 0, sizeof(e));
		e.line = r.line;
		if ((e.name = strdup(ad.local)) == NULL) {
			conf_error(err, errlen, name, r.line, "out of memory");
			goto fail;
		}
		msg[0] = '\0';
		if (aliases_parse_targets(&e, colon + 1, msg, sizeof(msg)) == -1 ||
		    table_grow(&a->v, a->n, sizeof(*a->v)) == -1) {
			conf_error(err, errlen, name, r.line, "%s: %s", e.name,
			    msg[0] != '\0' ? msg : "out of memory");
			aliases_free_ent(&e);
			goto fail;
		}
		a->v[a->n++] = e;
	}
	if (rc == -1)
		goto fail;
	if (a->n > 0)
		qsort(a->v, a->n, sizeof(*a->v), aliases_cmp);
	for (i = 0; i + 1 < a->n; i++) {
		const struct alias_ent *x = &a->v[i], *y = &a->v[i + 1];

		if (aliases_cmp(x, y) == 0) {
			if (x->line > y->line) {	/* qsort is not stable */
				const struct alias_ent *t = x;

				x = y;
				y = t;
			}
			conf_error(err, errlen, name, y->line, "duplicate alias "
			    "'%s' (first on line %lu)", y->name, x->line);
			goto fail;
		}
	}
	*out = a;
	return 0;
fail:
	aliases_free(a);
	return -1;
}

int
aliases_load(struct aliases **out, const char *path, char *err, size_t errlen)
{
	struct buf b;
	int rc;

	if (table_read(path, &b, err, errlen) == -1)
		return -1;
	rc = aliases_load_mem(out, path, b.data, b.len, err, errlen);
	buf_free(&b);		/* wipes: the users file holds hashes */
	return rc;
}

size_t
aliases_count(const struct aliases *a)
{
	return a ? a->n : 0;
}

const char * const *
aliases_lookup(const struct aliases *a, const char *name, size_t *n)
{
	struct alias_ent key, *e;

	*n = 0;
	if (a == NULL || name == NULL || a->n == 0)
		return NULL;
	key.name = (char *)(uintptr_t)name;
	if ((e = bsearch(&key, a->v, a->n, sizeof(*a->v), aliases_cmp)) == NULL)
		return NULL;
	*n = e->n;
	return (const char * const *)e->targets;
}

/* ---- routes -------------------------------------------------------------- */

static int
routes_cmp(const void *a, const void *b)
{
	return strcasecmp(((const struct route_ent *)a)->r.domain,
	    ((const struct route_ent *)b)->r.domain);
}

void
routes_free(struct routes *rt)
{
	size_t i;

	if (rt == NULL)
		return;
	for (i = 0; i < rt->n; i++) {
		free(rt->v[i].r.domain);
		free(rt->v[i].r.host);
	}
	free(rt->v);
	free(rt);
}

/* "host", "host:port", "[addr]", "[addr]:port" into ro; NULL or why not */
static const char *
routes_parse_host(char *s, struct route *ro)
{
	unsigned char a[16];
	char *host = s, *port = NULL, *end;
	const char *errstr;

	if (*s == '[') {
		if ((end = strchr(s, ']')) == NULL)
			return "missing ']'";
		*end = '\0';
		host = s + 1;
		if (end[1] == ':')
			port = end + 2;
		else if (end[1] != '\0')
			return "junk after ']'";
		if (inet_pton(AF_INET, host, a) != 1 &&
		    inet_pton(AF_INET6, host, a) != 1)
			return "bad address literal";
	} else {
		if ((port = strchr(s, ':')) != NULL) {
			if (strchr(port + 1, ':') != NULL)
				return "an IPv6 address must be in brackets";
			*port++ = '\0';
		}
		if (inet_pton(AF_INET, host, a) != 1 &&
		    !addr_domain_valid(host, 0))
			return "bad host name";
		table_lower(host);
	}
	ro->port = 25;
	if (port != NULL) {
		if (*port < '0' || *port > '9')
			return "bad port";
		ro->port = (unsigned short)strtonum(port, 1, 65535, &errstr);
		if (errstr != NULL)
			return "port not in 1..65535";
	}
	if ((ro->host = strdup(host)) == NULL)
		return "out of memory";
	return NULL;
}

/* One "domain host[:port] [tls=...]" line into ro; NULL or why not */
static const char *
routes_parse_line(char *line, struct route *ro)
{
	static const char *tls[] = { "none", "may", "require", "verify" };
	char *tok[4], *p = line, *opt;
	size_t n = 0, i;
	const char *why;
	int seen_tls = 0, t;

	while (*p != '\0') {
		p += strspn(p, " \t");
		if (*p == '\0')
			break;
		if (n == 4)
			return "too many fields";
		tok[n++] = p;
		p += strcspn(p, " \t");
		if (*p != '\0')
			*p++ = '\0';
	}
	if (n < 2)
		return "missing host (want domain host[:port] [tls=...])";
	if (strcmp(tok[0], "*") != 0 && (tok[0][0] == '[' ||
	    !addr_domain_valid(tok[0], 0)))
		return "bad domain";
	table_lower(tok[0]);
	ro->tls = ROUTE_TLS_MAY;
	for (i = 2; i < n; i++) {
		opt = tok[i];
		if (strncmp(opt, "tls=", 4) != 0)
			return "unknown option (want tls=none|may|require|verify)";
		if (seen_tls++)
			return "tls= given twice";
		for (t = 0; t < 4; t++)
			if (strcmp(opt + 4, tls[t]) == 0)
				break;
		if (t == 4)
			return "bad tls= value (want none, may, require or verify)";
		ro->tls = (enum route_tls)t;
	}
	if ((why = routes_parse_host(tok[1], ro)) != NULL)
		return why;
	if ((ro->domain = strdup(tok[0])) == NULL) {
		free(ro->host);
		ro->host = NULL;
		return "out of memory";
	}
	return NULL;
}

int
routes_load_mem(struct routes **out, const char *name, const char *data,
    size_t len, char *err, size_t errlen)
{
	struct conf_reader r;
	struct routes *rt;
	struct route ro;
	char line[CONF_LINE_MAX + 1];
	const char *why;
	size_t i;
	int rc;

	if ((rt = calloc(1, sizeof(*rt))) == NULL)
		return conf_error(err, errlen, name, 0, "out of memory");
	conf_reader_init(&r, name, data, len);
	while ((rc = conf_reader_next(&r, line, sizeof(line), err,
	    errlen)) == 1) {
		memset(&ro, 0, sizeof(ro));
		if ((why = routes_parse_line(line, &ro)) != NULL) {
			conf_error(err, errlen, name, r.line, "%s", why);
			goto fail;
		}
		if (table_grow(&rt->v, rt->n, sizeof(*rt->v)) == -1) {
			free(ro.domain);
			free(ro.host);
			conf_error(err, errlen, name, r.line, "out of memory");
			goto fail;
		}
		rt->v[rt->n].r = ro;
		rt->v[rt->n++].line = r.line;
	}
	if (rc == -1)
		goto fail;
	if (rt->n > 0)
		qsort(rt->v, rt->n, sizeof(*rt->v), routes_cmp);
	for (i = 0; i + 1 < rt->n; i++) {
		const struct route_ent *x = &rt->v[i], *y = &rt->v[i + 1];

		if (routes_cmp(x, y) == 0) {
			conf_error(err, errlen, name, x->line > y->line ?
			    x->line : y->line, "duplicate route for '%s' (first "
			    "on line %lu)", x->r.domain, x->line < y->line ?
			    x->line : y->line);
			goto fail;
		}
	}
	*out = rt;
	return 0;
fail:
	routes_free(rt);
	return -1;
}

int
routes_load(struct routes **out, const char *path, char *err, size_t errlen)
{
	struct buf b;
	int rc;

	if (table_read(path, &b, err, errlen) == -1)
		return -1;
	rc = routes_load_mem(out, path, b.data, b.len, err, errlen);
	buf_free(&b);		/* wipes: the users file holds hashes */
	return rc;
}

size_t
routes_count(const struct routes *rt)
{
	return rt ? rt->n : 0;
}

const struct route *
routes_lookup(const struct routes *rt, const char *domain)
{
	struct route_ent key, *e;

	if (rt == NULL || domain == NULL || rt->n == 0)
		return NULL;
	memset(&key, 0, sizeof(key));
	key.r.domain = (char *)(uintptr_t)domain;
	if ((e = bsearch(&key, rt->v, rt->n, sizeof(*rt->v), routes_cmp)) ||
	    (key.r.domain = (char *)(uintptr_t)"*",
	    e = bsearch(&key, rt->v, rt->n, sizeof(*rt->v), routes_cmp)))
		return &e->r;
	return NULL;
}
