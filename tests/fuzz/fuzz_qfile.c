/*
 * fuzz_qfile.c - libFuzzer target for common/qfile.c: the queue entry
 * envelope parser (qenv_parse) and the per-recipient state log reader
 * (qstate_apply), both run by kurir-send and kurirctl (queue user) on
 * files a crash may have torn.
 *
 * 1. qenv_parse on an exact-size copy of the input.  On success it aborts
 *    unless: the id is valid; 1 <= nrcpts <= QFILE_MAX_RCPTS; every rcpt
 *    is non-empty and free of control bytes, and so are sender and
 *    client; body_off <= len and follows "end\n".  The envelope is then
 *    written again with qenv_format (which must succeed unless a field is
 *    over its 1024-byte limit) and parsed back: same fields, body_off at
 *    the end of the text.  On failure a reason must be given.
 * 2. qstate_apply with the input as the state log of a fixed three-
 *    recipient entry, in a temporary directory made once per process
 *    (the file is rewritten for each input).  Aborts unless it returns 0
 *    and every recipient's fields are in range.  Then one line is added
 *    with qstate_append (values from the input) and applied again to a
 *    fresh entry: that recipient must read back exactly what was written
 *    (the newest line wins, a torn last line does not swallow it).
 * Seeds: tests/fuzz/corpus/qfile/ (tests/golden/queue-entry.txt and
 * variants, state logs).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "qfile.h"

#define FIELD_MAX	1024		/* qenv_format's limit per field */
#define STATE_ID	"000644a1b2c3d4e5"
#define STATE_LINE_MAX	1200		/* qstate_append's line buffer */

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static char tmpdir[64];
static int dirfd_ = -1;

static void
cleanup(void)
{
	unlinkat(dirfd_, STATE_ID, 0);
	rmdir(tmpdir);
}

static void
setup_once(void)
{
	if (dirfd_ != -1)
		return;
	strlcpy(tmpdir, "/tmp/fuzz_qfile.XXXXXX", sizeof(tmpdir));
	if (mkdtemp(tmpdir) == NULL ||
	    (dirfd_ = open(tmpdir, O_RDONLY | O_DIRECTORY)) == -1)
		abort();
	atexit(cleanup);
}

static int
ctl_free(const char *s, size_t max)
{
	size_t i;

	for (i = 0; s[i] != '\0'; i++)
		if (i >= max || (unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return 0;
	return 1;
}

static void
same_env(const struct qenv *a, const struct qenv *b)
{
	size_t i;

	if (strcmp(a->id, b->id) != 0 || a->arrival != b->arrival ||
	    a->uid != b->uid || a->size != b->size ||
	    strcmp(a->sender, b->sender) != 0 || a->nrcpts != b->nrcpts ||
	    (a->client == NULL) != (b->client == NULL) ||
	    (a->client != NULL && strcmp(a->client, b->client) != 0))
		abort();
	for (i = 0; i < a->nrcpts; i++)
		if (strcmp(a->rcpts[i].addr, b->rcpts[i].addr) != 0 ||
		    b->rcpts[i].state != QS_PENDING ||
		    b->rcpts[i].last_error != NULL)
			abort();
}

static void
fuzz_env(const uint8_t *data, size_t size)
{
	struct qenv e, e2;
	struct buf b;
	const char *why = NULL;
	char *p;
	size_t i, off;
	int fits;

	if ((p = malloc(size == 0 ? 1 : size)) == NULL)
		return;
	memcpy(p, data, size);
	if (qenv_parse(p, size, &e, &why) == -1) {
		if (why == NULL)
			abort();
		qenv_free(&e);
		free(p);
		return;
	}
	if (why != NULL || !qid_valid(e.id) || e.nrcpts < 1 ||
	    e.nrcpts > QFILE_MAX_RCPTS || e.sender == NULL ||
	    e.body_off > size || e.body_off < 4 ||
	    memcmp(p + e.body_off - 4, "end\n", 4) != 0 ||
	    e.arrival < 0 || e.uid < -1 || e.uid > UINT32_MAX ||
	    e.size > INT64_MAX)
		abort();
	fits = ctl_free(e.sender, FIELD_MAX) &&
	    (e.client == NULL || ctl_free(e.client, FIELD_MAX));
	if (!ctl_free(e.sender, SIZE_MAX) ||
	    (e.client && !ctl_free(e.client, SIZE_MAX)))
		abort();
	for (i = 0; i < e.nrcpts; i++) {
		if (e.rcpts[i].addr == NULL || e.rcpts[i].addr[0] == '\0' ||
		    !ctl_free(e.rcpts[i].addr, SIZE_MAX) ||
		    e.rcpts[i].state != QS_PENDING ||
		    e.rcpts[i].last_error != NULL)
			abort();
		if (!ctl_free(e.rcpts[i].addr, FIELD_MAX))
			fits = 0;
	}
	/* written again and read back: the very same envelope */
	buf_init(&b, 0);
	if (qenv_format(&b, &e, &off) == -1) {
		if (fits || errno != EINVAL)
			abort();
	} else {
		if (!fits || off + QFILE_SIZE_DIGITS > b.len ||
		    qenv_parse(b.data, b.len, &e2, &why) == -1 ||
		    e2.body_off != b.len)
			abort();
		same_env(&e, &e2);
		qenv_free(&e2);
	}
	buf_free(&b);
	qenv_free(&e);
	free(p);
}

static void
write_state(const uint8_t *data, size_t size)
{
	int fd;

	fd = openat(dirfd_, STATE_ID, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd == -1 || write(fd, data, size) != (ssize_t)size)
		abort();
	close(fd);
}

static const char *const addrs[] = { "a@x.test", "b@x.test", "c@x.test" };

static void
env_three(struct qenv *e)
{
	size_t i;

	memset(e, 0, sizeof(*e));
	strlcpy(e->id, STATE_ID, sizeof(e->id));
	e->uid = -1;
	e->nrcpts = 3;
	if ((e->rcpts = calloc(3, sizeof(*e->rcpts))) == NULL)
		abort();
	for (i = 0; i < 3; i++)
		if ((e->rcpts[i].addr = strdup(addrs[i])) == NULL)
			abort();
}

static uint64_t
mix(const uint8_t *data, size_t size)
{
	uint64_t h = 1469598103934665603ULL;
	size_t i;

	for (i = 0; i < size; i++)
		h = (h ^ data[i]) * 1099511628211ULL;
	return h;
}

static void
fuzz_state(const uint8_t *data, size_t size)
{
	static const enum qstate st[] = { QS_PENDING, QS_DEFERRED,
	    QS_DELIVERED, QS_FAILED };
	char err[STATE_LINE_MAX], want[STATE_LINE_MAX], line[64];
	struct qenv e;
	uint64_t h = mix(data, size);
	size_t i, k, elen, room;
	unsigned att;
	long long next;
	const struct qrcpt *r;

	write_state(data, size);
	env_three(&e);
	if (qstate_apply(dirfd_, &e) != 0)
		abort();
	for (i = 0; i < e.nrcpts; i++) {
		r = &e.rcpts[i];
		if ((r->state != QS_PENDING && r->state != QS_DEFERRED &&
		    r->state != QS_DELIVERED && r->state != QS_FAILED) ||
		    r->next_try < 0 || strcmp(r->addr, addrs[i]) != 0)
			abort();
		if (r->last_error != NULL &&
		    (strchr(r->last_error, '\n') != NULL ||
		    strlen(r->last_error) >= size))
			abort();
	}
	qenv_free(&e);

	/* one more line, whatever the log held before: it must win */
	k = h % 3;
	att = (unsigned)(h >> 8);
	next = (long long)((h >> 16) & 0xffffffffffULL);
	elen = (size_t)(h >> 40) % (sizeof(err) - 1);
	if (elen > size)
		elen = size;
	memcpy(err, data, elen);
	err[elen] = '\0';
	if (qstate_append(dirfd_, STATE_ID, k, st[(h >> 4) % 4], att, next,
	    err, 0) != 0)
		abort();
	/* what qstate_append keeps: controls blanked, cut to fit its line */
	room = STATE_LINE_MAX - 2 - (size_t)snprintf(line, sizeof(line),
	    "%zu %s %u %lld ", k, qstate_name(st[(h >> 4) % 4]), att, next);
	for (i = 0; err[i] != '\0' && i < room; i++)
		want[i] = ((unsigned char)err[i] < 0x20 || err[i] == 0x7f) ?
		    ' ' : err[i];
	want[i] = '\0';
	env_three(&e);
	if (qstate_apply(dirfd_, &e) != 0)
		abort();
	r = &e.rcpts[k];
	if (r->state != st[(h >> 4) % 4] || r->attempts != att ||
	    r->next_try != next)
		abort();
	if (want[0] == '\0' ? r->last_error != NULL :
	    r->last_error == NULL || strcmp(r->last_error, want) != 0)
		abort();
	qenv_free(&e);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	setup_once();
	fuzz_env(data, size);
	fuzz_state(data, size);
	return 0;
}
