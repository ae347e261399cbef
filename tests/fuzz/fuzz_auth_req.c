/*
 * fuzz_auth_req.c - libFuzzer target for kurir-auth's request handling
 * (auth/req.c through auth/link.c's link_process), the part of kurir-auth
 * (auth user) that reads what kurir-smtpd and kurir-pop3d send it.
 *
 * The parsing is not apart from the I/O, so this drives the real code
 * in-process the way tests/check_auth.c does: an event base (never
 * dispatched), the users and aliases tables loaded from memory once, one
 * real crypt worker (auth/pool.c, forked once, no sandbox) whose answers
 * are waited for and fed in by hand, and one client link on a socketpair
 * whose other end we read.  Each input is put into the link's input
 * buffer and link_process runs on it.  The rate and failure limits are
 * set out of the way (each input starts with a full bucket), so that
 * every well-formed check reaches crypt.
 *
 * Input: a mode byte, then the payload.  Mode bits 0-1: 0 AP_AUTH, 1
 * AP_RCPT, 2 the payload as raw bytes off the socket, 3 a frame of the
 * type in the next byte; bits 2 and 3 clear: as if the users table, the
 * aliases table had not loaded.  Users: alice, bob (good $6$ hashes),
 * carol (a hash crypt(3) cannot use), dave (locked); alias: info.
 * Aborts (besides ASan, UBSan and LeakSanitizer) when:
 *  - AP_AUTH: a request outside the grammar (three fields; user 1..64,
 *    password 1..511 bytes; client-ip 0..63 bytes from 0x21..0x7e) is
 *    not answered at once with AP_FAIL "malformed", or one inside it
 *    is; a good password is not answered AP_OK with the lower-case
 *    name; a bad one is answered before its delay instead of waiting;
 *  - AP_RCPT: a malformed one does not close the link; a good one gets
 *    another answer than users, aliases, postmaster and the load state
 *    say;
 *  - AP_CANCEL: one with a payload does not close the link, or an empty
 *    one does or is answered;
 *  - another type does not close the link; raw bytes get an answer of a
 *    type that does not exist;
 *  - any answer carries another id than its request;
 *  - a processed request, or a password, is left in the input buffer
 *    (only an incomplete frame may stay).
 * Seeds: tests/fuzz/corpus/auth_req/.
 */
#include <sys/socket.h>
#include <crypt.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../auth/ctl.c"
#include "../../auth/delay.c"
#include "../../auth/link.c"
#include "../../auth/pool.c"
#include "../../auth/req.c"
#include "../../auth/resolve.c"

#define REQ_ID		0x0a0b0c0d

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static const struct {
	const char	*name, *pw;
} users[] = { { "alice", "secret" }, { "bob", "hunter2" } };

static struct event_base *base;
static int ctlp[2] = { -1, -1 };
static struct alink *link_;
static int peer = -1;			/* our end of the link */
static struct buf rin;

static void
setup_once(void)
{
	struct crypt_data *cd;
	struct users *u;
	struct aliases *a;
	char text[1024], err[512];
	const char *h;
	size_t i, n = 0;

	if (base != NULL)
		return;
	memset(&A, 0, sizeof(A));
	log_init("fuzz_auth_req", 0);	/* syslog: quiet on stderr */
	if ((base = event_base_new()) == NULL ||
	    socketpair(AF_UNIX, SOCK_STREAM, 0, ctlp) == -1 ||
	    auth_setup(base, ctlp[0]) == -1 ||
	    pool_start(1, NULL) == -1 || pool_watch(base) == -1 ||
	    (cd = calloc(1, sizeof(*cd))) == NULL)
		abort();
	/* the cheapest $6$: the fuzzer calls crypt for every good AP_AUTH */
	for (i = 0; i < sizeof(users) / sizeof(users[0]); i++) {
		if ((h = crypt_r(users[i].pw, "$6$rounds=1000$fuzzauth$",
		    cd)) == NULL || h[0] != '$')
			abort();
		n += (size_t)snprintf(text + n, sizeof(text) - n, "%s:%s\n",
		    users[i].name, h);
	}
	free(cd);
	/* a hash crypt(3) cannot use, and a locked account: both only fail */
	n += (size_t)snprintf(text + n, sizeof(text) - n,
	    "carol:$6$rounds=abc$x$\ndave:*\n");
	if (users_load_mem(&u, "users", text, n, err, sizeof(err)) == -1 ||
	    aliases_load_mem(&a, "aliases", "info: alice\n", 12, err,
	    sizeof(err)) == -1)
		abort();
	A.users = u;
	A.aliases = a;
	A.delays.limit = UINT_MAX;
	A.delays.window_ms = 1;
	A.delays.v6prefix = 64;
	A.link_rate = 1000;
	buf_init(&rin, FRAME_HDR + FRAME_MAX);
}

/* Run the queued checks through the worker, as the event loop would. */
static void
pool_settle(void)
{
	struct worker *w = &A.workers[0];
	struct pollfd pfd;

	while (w->job != NULL) {
		pfd.fd = w->fd;
		pfd.events = POLLIN;
		if (poll(&pfd, 1, 10000) != 1)
			abort();	/* the worker hangs or died */
		pool_read_cb(w->fd, EV_READ, w);
	}
	if (!TAILQ_EMPTY(&A.jobs))
		abort();	/* an idle worker, and checks waiting */
}

static void
link_open(void)
{
	int cl[2];

	if (link_ != NULL)
		return;
	if (peer != -1)
		close(peer);
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, cl) == -1 ||
	    (link_ = link_new(cl[0], 0)) == NULL ||
	    fcntl(cl[1], F_SETFL, O_NONBLOCK) == -1)
		abort();
	peer = cl[1];
}

/* Take the next answer off our end: 1, 0 none yet, -1 EOF (link closed). */
static int
answer(struct frame *f)
{
	ssize_t n;
	int r;

	for (;;) {
		if ((r = frame_peek(&rin, f)) == 1)
			return 1;
		if (r == -1)
			abort();
		if (buf_reserve(&rin, 4096) == -1)
			abort();
		n = read(peer, rin.data + rin.len, 4096);
		if (n == 0)
			return rin.len == 0 ? -1 : (abort(), -1);
		if (n == -1)
			return 0;
		rin.len += (size_t)n;
	}
}

static void
expect(uint16_t type, const char *text)
{
	struct frame f;

	if (answer(&f) != 1 || f.type != type || f.id != REQ_ID ||
	    f.len != strlen(text) || memcmp(f.data, text, f.len) != 0)
		abort();
	frame_consume(&rin, &f);
}

static void
expect_none(void)
{
	struct frame f;

	if (answer(&f) != 0)
		abort();
}

static void
expect_closed(void)
{
	struct frame f;

	if (answer(&f) != -1)
		abort();
	close(peer);
	peer = -1;
	buf_reset(&rin);
}

static int
all_zero(const char *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (p[i] != '\0')
			return 0;
	return 1;
}

static void
lower(char *dst, const char *src, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		dst[i] = (src[i] >= 'A' && src[i] <= 'Z') ? src[i] + 32 : src[i];
	dst[n] = '\0';
}

/* AP_AUTH: the grammar of authproto.h, written out again */
static void
auth_req(const char *p, size_t n)
{
	const char *z1, *z2, *ip;
	char name[AUTH_USER_MAX + 1];
	size_t ul, pl, il, i;
	int ok = 0;

	z1 = memchr(p, '\0', n);
	z2 = z1 ? memchr(z1 + 1, '\0', n - (size_t)(z1 + 1 - p)) : NULL;
	if (n <= AUTH_REQ_MAX && z2 != NULL) {
		ul = (size_t)(z1 - p);
		pl = (size_t)(z2 - z1 - 1);
		ip = z2 + 1;
		il = n - (size_t)(ip - p);
		ok = ul >= 1 && ul <= AUTH_USER_MAX && pl >= 1 &&
		    pl <= AUTH_PASS_MAX && il <= AUTH_IP_MAX;
		for (i = 0; ok && i < il; i++)
			if ((unsigned char)ip[i] <= 0x20 ||
			    (unsigned char)ip[i] >= 0x7f)
				ok = 0;
	}
	if (!ok) {
		expect(AP_FAIL, "malformed");
		if (link_->npending != 0)
			abort();
		return;
	}
	lower(name, p, ul);
	for (i = 0; i < sizeof(users) / sizeof(users[0]); i++)
		if (strcmp(name, users[i].name) == 0 &&
		    strcmp(z1 + 1, users[i].pw) == 0) {
			expect(AP_OK, users[i].name);
			if (link_->npending != 0)
				abort();
			return;
		}
	/* a failure waits for its delay: nothing yet, one timer set */
	expect_none();
	if (link_->npending != 1)
		abort();
}

/* AP_RCPT: what the tables say */
static void
rcpt_req(const char *p, size_t n, int loaded)
{
	char name[ADDR_LOCAL_MAX + 1];

	if (n == 0 || n > ADDR_LOCAL_MAX || memchr(p, '\0', n) != NULL) {
		expect_closed();
		return;
	}
	lower(name, p, n);
	if (strcmp(name, "alice") == 0 || strcmp(name, "bob") == 0 ||
	    strcmp(name, "carol") == 0 || strcmp(name, "dave") == 0)
		expect(AP_OK, "user");
	else if (strcmp(name, "info") == 0)
		expect(AP_OK, "alias");
	else if (strcmp(name, "postmaster") == 0)
		expect(AP_OK, "postmaster");
	else if (!loaded)
		expect(AP_FAIL, "tables not loaded");
	else
		expect(AP_NOUSER, "");
	expect_none();
}

/* raw bytes: whatever comes back is a well-formed answer */
static void
raw_answers(void)
{
	struct frame f;
	int r;

	while ((r = answer(&f)) == 1) {
		if (f.type != AP_OK && f.type != AP_FAIL && f.type != AP_NOUSER)
			abort();
		frame_consume(&rin, &f);
	}
	if (r == -1) {
		close(peer);
		peer = -1;
		buf_reset(&rin);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data + 1;
	size_t n, before;
	uint16_t type;
	int mode, loaded, closed;

	if (size < 1)
		return 0;
	setup_once();
	link_open();
	mode = data[0] & 3;
	A.users_loaded = (data[0] & 4) != 0;
	A.aliases_loaded = (data[0] & 8) != 0;
	loaded = A.users_loaded && A.aliases_loaded;
	n = size - 1;
	if (mode == 3) {
		if (n < 1)
			return 0;
		type = (uint16_t)(unsigned char)p[0];
		p++;
		n--;
	} else
		type = mode == 0 ? AP_AUTH : AP_RCPT;
	if (mode == 2) {
		/* at most what link_read_cb lets in at once */
		if (n > AUTH_IN_MAX - (FRAME_HDR + FRAME_MAX))
			n = AUTH_IN_MAX - (FRAME_HDR + FRAME_MAX);
		if (buf_add(&link_->in, p, n) == -1)
			abort();
	} else if (frame_pack(&link_->in, type, REQ_ID, p, n) == -1)
		return 0;		/* over FRAME_MAX: never a frame */
	before = link_->in.len;
	link_->rate_tat = 0;
	closed = link_process(link_) == -1;
	pool_settle();
	if (closed)
		link_ = NULL;
	else if (link_->in.len > before ||
	    !all_zero(link_->in.data + link_->in.len, before - link_->in.len))
		abort();		/* what was taken in is wiped */
	switch (mode) {
	case 0:
		if (closed || link_->in.len != 0)
			abort();
		auth_req(p, n);
		break;
	case 1:
		if (closed != (n == 0 || n > ADDR_LOCAL_MAX ||
		    memchr(p, '\0', n) != NULL))
			abort();
		rcpt_req(p, n, loaded);
		break;
	case 2:
		raw_answers();
		break;
	default:
		if (type == AP_AUTH || type == AP_RCPT || type == AP_RESOLVE) {
			raw_answers();
			break;
		}
		if (type == AP_CANCEL) {
			if (closed != (n != 0))
				abort();
			if (closed)
				expect_closed();
			else
				expect_none();
			break;
		}
		if (!closed)
			abort();
		expect_closed();
		break;
	}
	if (link_ != NULL) {
		req_cancel(link_);
		/* a partial frame left over: start the next input clean */
		explicit_bzero(link_->in.data, link_->in.len);
		buf_reset(&link_->in);
	}
	return 0;
}
