/*
 * qfile.c - queue ids, entry envelopes and the per-recipient state log.
 *
 * Used by kurir-queue (writes entries), kurir-send (reads them, appends
 * results) and kurirctl (lists them).  The format is text records so an
 * admin can read an entry with less(1); see doc/queue-format.md.
 */
#include <sys/stat.h>
#include <sys/time.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "frame.h"
#include "qfile.h"

void
qid_new(char id[QID_LEN + 1])
{
	static uint64_t last;
	struct timeval tv;
	uint64_t now;

	gettimeofday(&tv, NULL);
	now = (uint64_t)tv.tv_sec * 1000000 + (uint64_t)tv.tv_usec;
	/* strictly increasing within the process, even within one microsecond */
	if (now <= last)
		now = last + 1;
	last = now;
	snprintf(id, QID_LEN + 1, "%016" PRIx64, now);
}

int
qid_valid(const char *s)
{
	size_t i;

	for (i = 0; i < QID_LEN; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return s[QID_LEN] == '\0';
}

int
qtext_valid(const char *s, size_t max)
{
	size_t n;

	for (n = 0; s[n] != '\0'; n++) {
		if (n >= max)
			return 0;
		/* UTF-8 bytes pass (SMTPUTF8 addresses); controls never */
		if ((unsigned char)s[n] < 0x20 || s[n] == 0x7f)
			return 0;
	}
	return 1;
}

const char *
qstate_name(enum qstate s)
{
	switch (s) {
	case QS_DEFERRED:	return "deferred";
	case QS_DELIVERED:	return "delivered";
	case QS_FAILED:		return "failed";
	default:		return "pending";
	}
}

static int
qstate_from_name(const char *s, size_t n, enum qstate *out)
{
	static const enum qstate all[] = { QS_PENDING, QS_DEFERRED,
	    QS_DELIVERED, QS_FAILED };
	size_t i;

	for (i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
		const char *name = qstate_name(all[i]);
		if (strlen(name) == n && memcmp(name, s, n) == 0) {
			*out = all[i];
			return 0;
		}
	}
	return -1;
}

int
qenv_format(struct buf *b, const struct qenv *e, size_t *size_off)
{
	size_t i;

	if (!qid_valid(e->id) || !qtext_valid(e->sender, QFILE_FIELD_MAX) ||
	    !qtext_valid(e->client ? e->client : "", QFILE_FIELD_MAX) ||
	    e->nrcpts == 0 || e->nrcpts > QFILE_MAX_RCPTS) {
		errno = EINVAL;
		return -1;
	}
	if (buf_printf(b, "%s\nid %s\narrival %lld\n", QFILE_MAGIC, e->id,
	    e->arrival) == -1)
		return -1;
	if (e->uid >= 0 && buf_printf(b, "uid %lld\n", e->uid) == -1)
		return -1;
	if (e->client && buf_printf(b, "client %s\n", e->client) == -1)
		return -1;
	if (buf_printf(b, "sender %s\n", e->sender) == -1)
		return -1;
	for (i = 0; i < e->nrcpts; i++) {
		if (!qtext_valid(e->rcpts[i].addr, QFILE_FIELD_MAX) ||
		    e->rcpts[i].addr[0] == '\0') {
			errno = EINVAL;
			return -1;
		}
		if (buf_printf(b, "rcpt %s\n", e->rcpts[i].addr) == -1)
			return -1;
	}
	if (size_off)
		*size_off = b->len + 5;
	return buf_printf(b, "size %0*" PRIu64 "\nend\n", QFILE_SIZE_DIGITS,
	    e->size);
}

static int
parse_ll(const char *s, size_t n, long long min, long long max, long long *out)
{
	char tmp[32];
	const char *err;

	if (n == 0 || n >= sizeof(tmp))
		return -1;
	memcpy(tmp, s, n);
	tmp[n] = '\0';
	*out = strtonum(tmp, min, max, &err);
	return err ? -1 : 0;
}

static char *
dup_field(const char *s, size_t n)
{
	char *p;

	if ((p = malloc(n + 1)) == NULL)
		return NULL;
	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

int
qenv_parse(const char *p, size_t len, struct qenv *e, const char **why)
{
	const char *line, *nl, *val;
	size_t off = 0, n, vlen, klen, cap = 0, i;
	long long v;
	int seen_id = 0, seen_arrival = 0, seen_size = 0, seen_sender = 0;
	struct qrcpt *nr;

	memset(e, 0, sizeof(*e));
	e->uid = -1;
	*why = "truncated envelope";
	for (n = 0;; n++) {
		if (off >= len || off > QFILE_HDR_MAX)
			return -1;
		line = p + off;
		if ((nl = memchr(line, '\n', len - off)) == NULL)
			return -1;
		vlen = (size_t)(nl - line);
		off += vlen + 1;
		for (i = 0; i < vlen; i++)
			if ((unsigned char)line[i] < 0x20 || line[i] == 0x7f) {
				*why = "control character in envelope";
				return -1;
			}
		if (n == 0) {
			if (vlen != strlen(QFILE_MAGIC) ||
			    memcmp(line, QFILE_MAGIC, vlen) != 0) {
				*why = "not a kurir queue file";
				return -1;
			}
			continue;
		}
		if (vlen == 3 && memcmp(line, "end", 3) == 0)
			break;
		if ((val = memchr(line, ' ', vlen)) == NULL) {
			*why = "bad envelope record";
			return -1;
		}
		klen = (size_t)(val - line);
		val++;
		vlen -= klen + 1;
		/* the same bound qenv_format enforces: what parses can be written */
		if (vlen > QFILE_FIELD_MAX) {
			*why = "envelope field too long";
			return -1;
		}
#define KEY(k) (klen == sizeof(k) - 1 && memcmp(line, k, klen) == 0)
		if (KEY("id")) {
			if (vlen != QID_LEN || seen_id++)
				goto bad;
			memcpy(e->id, val, QID_LEN);
			e->id[QID_LEN] = '\0';
			if (!qid_valid(e->id))
				goto bad;
		} else if (KEY("arrival")) {
			if (seen_arrival++ ||
			    parse_ll(val, vlen, 0, LLONG_MAX, &e->arrival) == -1)
				goto bad;
		} else if (KEY("uid")) {
			if (e->uid != -1 ||
			    parse_ll(val, vlen, 0, UINT32_MAX, &e->uid) == -1)
				goto bad;
		} else if (KEY("client")) {
			if (e->client || (e->client = dup_field(val, vlen)) == NULL)
				goto bad;
		} else if (KEY("sender")) {
			if (seen_sender++ ||
			    (e->sender = dup_field(val, vlen)) == NULL)
				goto bad;
		} else if (KEY("rcpt")) {
			if (vlen == 0 || e->nrcpts >= QFILE_MAX_RCPTS)
				goto bad;
			if (e->nrcpts == cap) {
				cap = cap ? cap * 2 : 8;
				nr = reallocarray(e->rcpts, cap, sizeof(*nr));
				if (nr == NULL)
					goto bad;
				e->rcpts = nr;
			}
			memset(&e->rcpts[e->nrcpts], 0, sizeof(*nr));
			if ((e->rcpts[e->nrcpts].addr = dup_field(val, vlen)) == NULL)
				goto bad;
			e->nrcpts++;
		} else if (KEY("size")) {
			if (seen_size++ ||
			    parse_ll(val, vlen, 0, LLONG_MAX, &v) == -1)
				goto bad;
			e->size = (uint64_t)v;
		} else {
			*why = "unknown envelope record";
			return -1;
		}
#undef KEY
	}
	if (!seen_id || !seen_arrival || !seen_size || !seen_sender ||
	    e->nrcpts == 0) {
		*why = "envelope lacks a required record";
		return -1;
	}
	e->body_off = off;
	*why = NULL;
	return 0;
bad:
	*why = "bad envelope record";
	return -1;
}

int
qenv_open(int dirfd, const char *id, struct qenv *e, const char **why)
{
	struct stat st;
	struct buf b;
	ssize_t n;
	int fd, r = -1;

	memset(e, 0, sizeof(*e));
	if (!qid_valid(id)) {
		*why = "bad queue id";
		return -1;
	}
	if ((fd = openat(dirfd, id, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) == -1) {
		*why = strerror(errno);
		return -1;
	}
	buf_init(&b, QFILE_HDR_MAX + 1);
	/* read until the envelope parses or we hit the bound */
	for (;;) {
		if (buf_reserve(&b, 16384) == -1) {
			*why = "envelope too large";
			goto out;
		}
		n = read(fd, b.data + b.len, 16384);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			*why = strerror(errno);
			goto out;
		}
		b.len += (size_t)n;
		qenv_free(e);
		if (qenv_parse(b.data, b.len, e, why) == 0)
			break;
		if (n == 0 || strcmp(*why, "truncated envelope") != 0)
			goto out;
	}
	if (strcmp(e->id, id) != 0) {
		*why = "id in file does not match its name";
		goto out;
	}
	if (fstat(fd, &st) == -1 || (uint64_t)st.st_size < e->body_off ||
	    (uint64_t)st.st_size - e->body_off != e->size) {
		*why = "message size does not match envelope";
		goto out;
	}
	if (lseek(fd, (off_t)e->body_off, SEEK_SET) == -1) {
		*why = strerror(errno);
		goto out;
	}
	r = fd;
out:
	buf_free(&b);
	if (r == -1) {
		close(fd);
		qenv_free(e);
	}
	return r;
}

static void qrcpt_done_free(struct qrcpt *);

void
qenv_free(struct qenv *e)
{
	size_t i;

	for (i = 0; i < e->nrcpts; i++) {
		free(e->rcpts[i].addr);
		free(e->rcpts[i].last_error);
		qrcpt_done_free(&e->rcpts[i]);
	}
	free(e->rcpts);
	free(e->client);
	free(e->sender);
	memset(e, 0, sizeof(*e));
	e->uid = -1;
}

/*
 * State log line: "<rcpt-index> <state> <attempts> <next_try> <error>\n".
 * The newest line for a recipient wins.  A torn last line (no newline,
 * from a crash mid-append) is ignored.
 */
static void
qrcpt_done_free(struct qrcpt *r)
{
	size_t i;

	for (i = 0; i < r->ndone; i++)
		free(r->done[i]);
	free(r->done);
	r->done = NULL;
	r->ndone = 0;
}

int
qrcpt_done(const struct qrcpt *r, const char *key)
{
	size_t i;

	for (i = 0; i < r->ndone; i++)
		if (strcmp(r->done[i], key) == 0)
			return 1;
	return 0;
}

/* xtext (RFC 3461): "+XX" for '+', '=', and bytes outside 0x21-0x7e */
static int
xtext_encode(struct buf *b, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	unsigned char c;

	for (; *s != '\0'; s++) {
		c = (unsigned char)*s;
		if (c < 0x21 || c > 0x7e || c == '+' || c == '=') {
			if (buf_addch(b, '+') == -1 ||
			    buf_addch(b, hex[c >> 4]) == -1 ||
			    buf_addch(b, hex[c & 15]) == -1)
				return -1;
		} else if (buf_addch(b, (char)c) == -1)
			return -1;
	}
	return 0;
}

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* decode n bytes of xtext; NULL if malformed or it decodes to a NUL */
static char *
xtext_decode(const char *s, size_t n)
{
	char *out, *o;
	size_t i;
	int hi, lo;

	if (n == 0 || (out = malloc(n + 1)) == NULL)
		return NULL;
	for (i = 0, o = out; i < n; i++) {
		if (s[i] != '+') {
			*o++ = s[i];
			continue;
		}
		if (i + 2 >= n || (hi = hexval(s[i + 1])) == -1 ||
		    (lo = hexval(s[i + 2])) == -1 || (hi | lo) == 0)
			goto bad;
		*o++ = (char)(hi << 4 | lo);
		i += 2;
	}
	*o = '\0';
	return out;
bad:
	free(out);
	return NULL;
}

/* a finished target of rcpt r, remembered once */
static void
qrcpt_done_add(struct qrcpt *r, const char *key, size_t n)
{
	char *k, **nv;

	if ((k = xtext_decode(key, n)) == NULL)
		return;
	if (qrcpt_done(r, k) || r->ndone >= QFILE_MAX_TARGETS ||
	    (nv = reallocarray(r->done, r->ndone + 1, sizeof(*nv))) == NULL) {
		free(k);
		return;
	}
	r->done = nv;
	r->done[r->ndone++] = k;
}

/*
 * State log line: "<rcpt-index> <state> <attempts> <next_try> <error>\n",
 * or "<rcpt-index>/<target-key> ..." for one target of an alias
 * expansion, or "w delayed 0 0 ..." once a delay warning went out.  The newest line for a recipient wins.  A torn last line
 * (no newline, from a crash mid-append) is ignored.
 */
static void
qstate_line(struct qenv *e, const char *s, size_t n)
{
	const char *f[4], *p = s, *end = s + n, *sp, *slash;
	size_t flen[4], ilen;
	long long idx, att, next;
	enum qstate st;
	int i;

	for (i = 0; i < 4; i++) {
		if ((sp = memchr(p, ' ', (size_t)(end - p))) == NULL)
			return;
		f[i] = p;
		flen[i] = (size_t)(sp - p);
		p = sp + 1;
	}
	if (flen[0] == 1 && f[0][0] == 'w') {
		e->warned = 1;		/* "w delayed 0 0 ...": warned once */
		return;
	}
	slash = memchr(f[0], '/', flen[0]);
	ilen = slash ? (size_t)(slash - f[0]) : flen[0];
	if (parse_ll(f[0], ilen, 0, QFILE_MAX_RCPTS - 1, &idx) == -1 ||
	    (size_t)idx >= e->nrcpts ||
	    qstate_from_name(f[1], flen[1], &st) == -1 ||
	    parse_ll(f[2], flen[2], 0, UINT32_MAX, &att) == -1 ||
	    parse_ll(f[3], flen[3], 0, LLONG_MAX, &next) == -1)
		return;
	if (slash != NULL) {
		/* a target line: only "finished" matters to a retry */
		if (st == QS_DELIVERED || st == QS_FAILED)
			qrcpt_done_add(&e->rcpts[idx], slash + 1,
			    flen[0] - ilen - 1);
		return;
	}
	e->rcpts[idx].state = st;
	e->rcpts[idx].attempts = (unsigned)att;
	e->rcpts[idx].next_try = next;
	free(e->rcpts[idx].last_error);
	e->rcpts[idx].last_error = end > p ? dup_field(p, (size_t)(end - p)) : NULL;
	/* a hand-edited or damaged log must not put controls on a terminal */
	if (e->rcpts[idx].last_error != NULL) {
		char *c;
		for (c = e->rcpts[idx].last_error; *c != '\0'; c++)
			if ((unsigned char)*c < 0x20 || *c == 0x7f)
				*c = ' ';
	}
}

int
qstate_apply(int dirfd, struct qenv *e)
{
	struct buf b;
	char chunk[8192];
	ssize_t n;
	long nl;
	int fd;

	if ((fd = openat(dirfd, e->id, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) == -1)
		return errno == ENOENT ? 0 : -1;
	/* a line is bounded by the error text limit; read all, line by line */
	buf_init(&b, 0);
	for (;;) {
		n = read(fd, chunk, sizeof(chunk));
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		if (buf_add(&b, chunk, (size_t)n) == -1)
			break;
		while ((nl = buf_find_lf(&b)) >= 0) {
			qstate_line(e, b.data, (size_t)nl);
			buf_drain(&b, (size_t)nl + 1);
		}
	}
	buf_free(&b);
	close(fd);
	return n == -1 ? -1 : 0;
}

int
qstate_format(struct buf *b, size_t rcpt, const char *key, enum qstate st,
    unsigned attempts, long long next_try, const char *error)
{
	const char *err = error ? error : "";
	size_t i;

	if (buf_printf(b, "%zu", rcpt) == -1 ||
	    (key != NULL && (buf_addch(b, '/') == -1 ||
	    xtext_encode(b, key) == -1)) ||
	    buf_printf(b, " %s %u %lld ", qstate_name(st), attempts,
	    next_try) == -1)
		return -1;
	/* error text: bounded, one line, no control characters */
	for (i = 0; err[i] != '\0' && i < QSTATE_ERROR_MAX; i++)
		if (buf_addch(b, ((unsigned char)err[i] < 0x20 ||
		    err[i] == 0x7f) ? ' ' : err[i]) == -1)
			return -1;
	return buf_addch(b, '\n');
}

int
qstate_format_warned(struct buf *b)
{
	return buf_addstr(b, "w delayed 0 0 delay warning sent\n");
}

int
qstate_write(int dirfd, const char *id, const struct buf *b, int do_fsync)
{
	char lastc;
	struct stat sb;
	int fd, r = -1;

	if (!qid_valid(id)) {
		errno = EINVAL;
		return -1;
	}
	fd = openat(dirfd, id, O_RDWR | O_APPEND | O_CREAT | O_NOFOLLOW |
	    O_CLOEXEC, 0600);
	if (fd == -1)
		return -1;
	/* a torn line left by a crash must not swallow this one */
	if (fstat(fd, &sb) == 0 && sb.st_size > 0 &&
	    pread(fd, &lastc, 1, sb.st_size - 1) == 1 && lastc != '\n' &&
	    write(fd, "\n", 1) != 1)
		goto out;
	if (b->len > 0 && write_all(fd, b->data, b->len) == -1)
		goto out;
	if (do_fsync && fdatasync(fd) == -1)
		goto out;
	r = 0;
out:
	close(fd);
	return r;
}

int
qstate_append(int dirfd, const char *id, size_t rcpt, enum qstate st,
    unsigned attempts, long long next_try, const char *error, int do_fsync)
{
	struct buf b;
	int r;

	buf_init(&b, 0);
	r = qstate_format(&b, rcpt, NULL, st, attempts, next_try, error) == 0 ?
	    qstate_write(dirfd, id, &b, do_fsync) : -1;
	buf_free(&b);
	return r;
}
