/*
 * check_auth.c - unit tests for kurir-auth (auth/): the whole program but
 * main(), driven in-process.  An event base runs the real code; a
 * socketpair stands in for kurird's control channel (tables go over it as
 * descriptors of temporary files), others for client links.  Covers good
 * and bad passwords (a failure is answered only after >= 1 s, more for a
 * repeat, without blocking anybody else), unknown users, malformed
 * requests, passwords wiped from the input buffer, AP_RCPT answers,
 * protocol violations closing only the offending link, flow control,
 * table reloads that fail or succeed, the link limit, EOF on the control
 * channel, the per-client delay table with a synthetic clock, the crypt
 * worker pool (real forked workers): AP_CANCEL, a full queue, the
 * per-network failure limit (IPv6 by prefix) and the per-link rate
 * whatever client-ip a link names.
 * Writes temporary files under /tmp; runs as any user.
 */
#include <sys/socket.h>
#include <arpa/inet.h>
#include <check.h>
#include <crypt.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include "../auth/ctl.c"
#include "../auth/delay.c"
#include "../auth/link.c"
#include "../auth/pool.c"
#include "../auth/req.c"
#include "../auth/resolve.c"

static struct event_base *base;
static int ctlp[2];		/* [0] kurir-auth's end, [1] ours (kurird) */
static struct buf rin;		/* replies read by get_reply */

/* ---- harness ------------------------------------------------------------ */

static void
pump(int ms)
{
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };

	event_base_loopexit(base, &tv);
	event_base_dispatch(base);
}

static void
setup(void)
{
	memset(&A, 0, sizeof(A));
	log_init("check_auth", 1);
	ck_assert_ptr_nonnull(base = event_base_new());
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, ctlp), 0);
	ck_assert_int_eq(auth_setup(base, ctlp[0]), 0);
	/* the defaults of kurir.conf(5), as auth_apply_conf sets them */
	A.delays.limit = 20;
	A.delays.window_ms = 15 * 60 * 1000;
	A.delays.v6prefix = 64;
	A.link_rate = 20;
	/* real crypt workers, forked from this test's process */
	ck_assert_int_eq(pool_start(2, NULL), 0);
	ck_assert_int_eq(pool_watch(base), 0);
	buf_init(&rin, FRAME_HDR + FRAME_MAX);
}

static void
teardown(void)
{
	auth_teardown();
	close(ctlp[0]);
	if (ctlp[1] >= 0)
		close(ctlp[1]);
	event_base_free(base);
	buf_free(&rin);
}

static const char *
hash(const char *pw)
{
	static struct crypt_data cd;
	const char *h = crypt_r(pw, "$6$rounds=1000$kurirtst$", &cd);

	ck_assert_ptr_nonnull(h);
	ck_assert(h[0] == '$');
	return h;
}

/* Send text as a table file over the control channel (fd + path). */
static void
send_table_fd(uint16_t type, int fd, const char *path)
{
	ck_assert_int_eq(frame_write_fd(ctlp[1], type, 0, path, strlen(path),
	    fd), 0);
	close(fd);
	pump(30);
}

static void
send_table(uint16_t type, const char *text)
{
	char path[] = "/tmp/check_auth.XXXXXX";
	int fd = mkstemp(path);

	ck_assert_int_ne(fd, -1);
	ck_assert_int_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	ck_assert_int_eq(lseek(fd, 0, SEEK_SET), 0);
	unlink(path);
	send_table_fd(type, fd, path);
}

static void
load_default_tables(void)
{
	char users[1024];

	snprintf(users, sizeof(users), "# test users\nalice:%s\n",
	    hash("secret"));
	snprintf(users + strlen(users), sizeof(users) - strlen(users),
	    "bob:%s\n", hash("hunter2"));
	send_table(AP_CTL_USERS, users);
	send_table(AP_CTL_ALIASES, "info: alice\n\"odd name\": bob\n");
	ck_assert(A.users_loaded && A.aliases_loaded);
}

/* A new client link handed over the control channel; our end.  kind
 * "pop3" makes it kurir-pop3d's link. */
static int
new_client_kind(const char *kind)
{
	int cl[2];

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, cl), 0);
	ck_assert_int_eq(frame_write_fd(ctlp[1], AP_CTL_LINK, 0, kind,
	    strlen(kind), cl[0]), 0);
	close(cl[0]);
	pump(20);
	return cl[1];
}

static int
new_client(void)
{
	return new_client_kind("");
}

static void
send_req(int c, uint16_t type, uint32_t id, const void *data, size_t len)
{
	ck_assert_int_eq(frame_write(c, type, id, data, len), 0);
}

static void
send_auth_type(int c, uint16_t type, uint32_t id, const char *user,
    const char *pw, const char *ip)
{
	char req[1024];
	size_t n = 0;

	memcpy(req, user, strlen(user) + 1);
	n += strlen(user) + 1;
	memcpy(req + n, pw, strlen(pw) + 1);
	n += strlen(pw) + 1;
	memcpy(req + n, ip, strlen(ip));
	n += strlen(ip);
	send_req(c, type, id, req, n);
}

static void
send_auth(int c, uint32_t id, const char *user, const char *pw,
    const char *ip)
{
	send_auth_type(c, AP_AUTH, id, user, pw, ip);
}

/*
 * Run the loop until a frame arrives on c: 1 (reply in *f, text in txt),
 * 0 on EOF, -2 after timeout ms.  *ms gets the time it took.
 */
static int
get_reply(int c, struct frame *f, char *txt, size_t txtlen, int timeout,
    long long *ms)
{
	struct pollfd p = { c, POLLIN, 0 };
	long long t0 = delay_now_ms();
	int r;

	for (;;) {
		if (poll(&p, 1, 0) == 1) {
			r = frame_read(c, &rin, f);
			if (ms != NULL)
				*ms = delay_now_ms() - t0;
			if (r == 1 && txt != NULL) {
				ck_assert_uint_lt(f->len, txtlen);
				memcpy(txt, f->data, f->len);
				txt[f->len] = '\0';
			}
			return r == 1 ? 1 : 0;
		}
		if (delay_now_ms() - t0 > timeout)
			return -2;
		pump(5);
	}
}

/* The next reply must be type/text with this id. */
static long long
expect(int c, uint16_t type, uint32_t id, const char *text, int timeout)
{
	struct frame f;
	char txt[256];
	long long ms;

	ck_assert_int_eq(get_reply(c, &f, txt, sizeof(txt), timeout, &ms), 1);
	ck_assert_uint_eq(f.type, type);
	ck_assert_uint_eq(f.id, id);
	ck_assert_str_eq(txt, text);
	return ms;
}

static void
expect_eof(int c)
{
	struct frame f;

	ck_assert_int_eq(get_reply(c, &f, NULL, 0, 2000, NULL), 0);
}

static void
rcpt(int c, const char *local, uint16_t type, const char *text)
{
	send_req(c, AP_RCPT, 7, local, strlen(local));
	ck_assert_int_lt(expect(c, type, 7, text, 1000), 500);
}

/* ---- AP_AUTH ------------------------------------------------------------- */

START_TEST(test_auth_ok)
{
	int c;

	load_default_tables();
	c = new_client();
	send_auth(c, 1, "Alice", "secret", "192.0.2.1");
	ck_assert_int_lt(expect(c, AP_OK, 1, "alice", 2000), 900);
	send_auth(c, 2, "bob", "hunter2", "");
	ck_assert_int_lt(expect(c, AP_OK, 2, "bob", 2000), 900);
	close(c);
}
END_TEST

/*
 * AP_LOGIN: only on kurir-pop3d's link; a success asks kurird for the
 * session first (AP_CTL_SPAWN "user\0ip" on the control channel, the
 * same id), a failure asks for nothing.
 */
START_TEST(test_login)
{
	struct buf in;
	struct frame f;
	struct pollfd pfd;
	int c, p;

	load_default_tables();
	p = new_client_kind("pop3");
	send_auth_type(p, AP_LOGIN, 7, "Alice", "secret", "192.0.2.1");
	ck_assert_int_lt(expect(p, AP_OK, 7, "alice", 2000), 900);
	buf_init(&in, FRAME_HDR + FRAME_MAX);
	ck_assert_int_eq(frame_read(ctlp[1], &in, &f), 1);
	ck_assert_uint_eq(f.type, AP_CTL_SPAWN);
	ck_assert_uint_eq(f.id, 7);
	ck_assert_uint_eq(f.len, 6 + 9);
	ck_assert_mem_eq(f.data, "alice\0" "192.0.2.1", 6 + 9);
	/* a wrong password: AP_FAIL after the delay, no spawn */
	send_auth_type(p, AP_LOGIN, 8, "alice", "wrong", "192.0.2.1");
	expect(p, AP_FAIL, 8, "authentication failed", 5000);
	pfd.fd = ctlp[1];
	pfd.events = POLLIN;
	ck_assert_int_eq(poll(&pfd, 1, 0), 0);
	/* any other link asking for a login is cut off, nothing spawned */
	c = new_client();
	send_auth_type(c, AP_LOGIN, 9, "alice", "secret", "192.0.2.1");
	pump(50);
	ck_assert_int_eq(read(c, &f, 1), 0);
	ck_assert_int_eq(poll(&pfd, 1, 0), 0);
	buf_free(&in);
	close(c);
	close(p);
}
END_TEST

START_TEST(test_auth_fail_delay)
{
	long long ms;
	int c;

	load_default_tables();
	c = new_client();
	send_auth(c, 1, "alice", "wrong", "192.0.2.1");
	ms = expect(c, AP_FAIL, 1, "authentication failed", 5000);
	ck_assert_int_ge(ms, AUTH_FAIL_DELAY_MS - 20);
	ck_assert_int_lt(ms, 1900);
	/* an unknown user: the same answer after the same delay */
	send_auth(c, 2, "mallory", "secret", "198.51.100.7");
	ms = expect(c, AP_FAIL, 2, "authentication failed", 5000);
	ck_assert_int_ge(ms, AUTH_FAIL_DELAY_MS - 20);
	ck_assert_int_lt(ms, 1900);
	/* a repeat from the first client waits a second longer */
	send_auth(c, 3, "alice", "wrong again", "192.0.2.1");
	ms = expect(c, AP_FAIL, 3, "authentication failed", 5000);
	ck_assert_int_ge(ms, 2 * AUTH_FAIL_DELAY_MS - 20);
	ck_assert_int_lt(ms, 2900);
	close(c);
}
END_TEST

START_TEST(test_fail_blocks_nobody)
{
	long long t0 = delay_now_ms();
	int c1, c2;

	load_default_tables();
	c1 = new_client();
	c2 = new_client();
	send_auth(c1, 1, "alice", "wrong", "192.0.2.9");
	send_req(c1, AP_RCPT, 2, "alice", 5);
	send_auth(c2, 3, "alice", "secret", "192.0.2.10");
	/* the later requests are answered first, at once */
	ck_assert_int_lt(expect(c1, AP_OK, 2, "user", 1000), 500);
	ck_assert_int_lt(expect(c2, AP_OK, 3, "alice", 1000), 500);
	expect(c1, AP_FAIL, 1, "authentication failed", 3000);
	ck_assert_int_ge(delay_now_ms() - t0, AUTH_FAIL_DELAY_MS - 20);
	close(c1);
	close(c2);
}
END_TEST

START_TEST(test_malformed)
{
	static const struct { const char *data; size_t len; } bad[] = {
		{ "", 0 },
		{ "alice", 5 },
		{ "alice\0secret", 12 },		/* two fields */
		{ "\0secret\0ip", 10 },			/* empty user */
		{ "alice\0\0ip", 9 },			/* empty password */
		{ "alice\0secret\0ip\0", 16 },		/* four fields */
		{ "alice\0secret\0" "192.0.2.1 x", 24 },	/* blank in ip */
		{ "alice\0secret\0\x01", 14 },		/* control in ip */
	};
	char big[2048];
	size_t i;
	int c;

	load_default_tables();
	c = new_client();
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		send_req(c, AP_AUTH, (uint32_t)i, bad[i].data, bad[i].len);
		ck_assert_int_lt(expect(c, AP_FAIL, (uint32_t)i, "malformed",
		    1000), 500);
	}
	/* user 65 bytes, password 512, ip 64, whole frame too long */
	memset(big, 'a', sizeof(big));
	big[AUTH_USER_MAX + 1] = '\0';
	big[AUTH_USER_MAX + 1 + 1 + 6] = '\0';
	send_req(c, AP_AUTH, 100, big, AUTH_USER_MAX + 1 + 1 + 6 + 1 + 3);
	expect(c, AP_FAIL, 100, "malformed", 1000);
	memset(big, 'a', sizeof(big));
	big[5] = '\0';
	big[5 + 1 + AUTH_PASS_MAX + 1] = '\0';
	send_req(c, AP_AUTH, 101, big, 5 + 1 + AUTH_PASS_MAX + 1 + 1 + 3);
	expect(c, AP_FAIL, 101, "malformed", 1000);
	memset(big, '1', sizeof(big));
	memcpy(big, "alice\0secret\0", 13);
	send_req(c, AP_AUTH, 102, big, 13 + AUTH_IP_MAX + 1);
	expect(c, AP_FAIL, 102, "malformed", 1000);
	send_req(c, AP_AUTH, 103, big, sizeof(big));
	expect(c, AP_FAIL, 103, "malformed", 1000);
	/* the longest valid fields are fine, and the link is still open */
	memset(big, '1', sizeof(big));
	memcpy(big, "alice\0", 6);
	big[6 + AUTH_PASS_MAX] = '\0';
	send_req(c, AP_AUTH, 104, big, 6 + AUTH_PASS_MAX + 1 + AUTH_IP_MAX);
	expect(c, AP_FAIL, 104, "authentication failed", 5000);
	rcpt(c, "alice", AP_OK, "user");
	close(c);
}
END_TEST

START_TEST(test_password_wiped)
{
	static const char pw[] = "Zq9-wipe-me-7";
	struct alink *l;
	struct buf b;
	char req[128];
	const char *hit;
	size_t n, m;
	int c;

	load_default_tables();
	c = new_client();
	/* several frames in one write, the last one cut short */
	n = (size_t)snprintf(req, sizeof(req), "bob%c%s%c192.0.2.3", 0, pw, 0);
	buf_init(&b, 0);
	frame_pack(&b, AP_RCPT, 1, "alice", 5);
	frame_pack(&b, AP_AUTH, 2, req, n);
	frame_pack(&b, AP_RCPT, 3, "bob", 3);
	frame_pack(&b, AP_AUTH, 4, req, n);
	m = b.len - 4;
	ck_assert_int_eq(write(c, b.data, m), (ssize_t)m);
	pump(50);
	/* only the unchecked partial frame holds it, at the front */
	ck_assert_ptr_nonnull(l = LIST_FIRST(&A.links));
	ck_assert_uint_eq(l->in.len, FRAME_HDR + n - 4);
	hit = memmem(l->in.data, l->in.cap, pw, sizeof(pw) - 1);
	ck_assert_ptr_nonnull(hit);
	ck_assert_ptr_null(memmem(hit + 1, l->in.cap -
	    (size_t)(hit + 1 - l->in.data), pw, sizeof(pw) - 1));
	ck_assert_int_eq(write(c, b.data + m, b.len - m), (ssize_t)(b.len - m));
	buf_free(&b);
	expect(c, AP_OK, 1, "user", 1000);
	expect(c, AP_OK, 3, "user", 1000);
	expect(c, AP_FAIL, 2, "authentication failed", 3000);
	expect(c, AP_FAIL, 4, "authentication failed", 5000);
	ck_assert_ptr_nonnull(l = LIST_FIRST(&A.links));
	ck_assert_uint_eq(l->in.len, 0);
	ck_assert_ptr_null(memmem(l->in.data, l->in.cap, pw, sizeof(pw) - 1));
	explicit_bzero(req, sizeof(req));
	close(c);
}
END_TEST

/* ---- AP_RCPT ------------------------------------------------------------- */

START_TEST(test_rcpt)
{
	int c;

	load_default_tables();
	c = new_client();
	rcpt(c, "alice", AP_OK, "user");
	rcpt(c, "ALICE", AP_OK, "user");
	rcpt(c, "info", AP_OK, "alias");
	rcpt(c, "InFo", AP_OK, "alias");
	rcpt(c, "\"odd name\"", AP_OK, "alias");
	rcpt(c, "\"Odd Name\"", AP_OK, "alias");
	rcpt(c, "postmaster", AP_OK, "postmaster");
	rcpt(c, "PostMaster", AP_OK, "postmaster");
	rcpt(c, "nobody", AP_NOUSER, "");
	rcpt(c, "\"x y\"", AP_NOUSER, "");
	rcpt(c, "alice.x", AP_NOUSER, "");
	close(c);
}
END_TEST

START_TEST(test_rcpt_before_tables)
{
	int c = new_client();

	rcpt(c, "alice", AP_FAIL, "tables not loaded");
	rcpt(c, "postmaster", AP_OK, "postmaster");
	send_table(AP_CTL_USERS, "alice:*\n");
	rcpt(c, "alice", AP_OK, "user");
	rcpt(c, "nobody", AP_FAIL, "tables not loaded");
	send_table(AP_CTL_ALIASES, "");
	rcpt(c, "nobody", AP_NOUSER, "");
	close(c);
}
END_TEST

/* ---- protocol violations ------------------------------------------------- */

START_TEST(test_bad_frames)
{
	static const char hdr_rsv[FRAME_HDR] = { 0, 0, 0, 1, 0, AP_RCPT, 0, 1 };
	char long_local[ADDR_LOCAL_MAX + 1];
	int c, good;

	load_default_tables();
	good = new_client();

	c = new_client();
	send_req(c, 99, 1, "x", 1);
	expect_eof(c);
	close(c);

	c = new_client();
	send_req(c, AP_OK, 1, "alice", 5);	/* an answer type from a client */
	expect_eof(c);
	close(c);

	c = new_client();
	send_req(c, AP_RCPT, 1, "", 0);
	expect_eof(c);
	close(c);

	c = new_client();
	memset(long_local, 'a', sizeof(long_local));
	send_req(c, AP_RCPT, 1, long_local, sizeof(long_local));
	expect_eof(c);
	close(c);

	c = new_client();
	send_req(c, AP_RCPT, 1, "ali\0ce", 6);
	expect_eof(c);
	close(c);

	c = new_client();
	ck_assert_int_eq(write(c, hdr_rsv, sizeof(hdr_rsv)), FRAME_HDR);
	expect_eof(c);
	close(c);

	/* the process and the other link carry on */
	ck_assert_uint_eq(A.nlinks, 1);
	rcpt(good, "alice", AP_OK, "user");
	close(good);
}
END_TEST

START_TEST(test_flow_control)
{
	struct frame f;
	struct buf b;
	char req[64];
	size_t n;
	uint32_t id;
	int c, i;

	load_default_tables();
	A.pending_max = 2;
	c = new_client();
	buf_init(&b, 0);
	n = (size_t)snprintf(req, sizeof(req), "alice%cbad%c192.0.2.21", 0, 0);
	frame_pack(&b, AP_AUTH, 1, req, n);
	n = (size_t)snprintf(req, sizeof(req), "alice%cbad%c192.0.2.22", 0, 0);
	frame_pack(&b, AP_AUTH, 2, req, n);
	ck_assert_int_eq(write(c, b.data, b.len), (ssize_t)b.len);
	buf_free(&b);
	/* the workers check both; then two answers are held back */
	for (i = 0; i < 200 && A.links.lh_first->npending < 2; i++)
		pump(5);
	ck_assert_uint_eq(A.links.lh_first->npending, 2);
	send_req(c, AP_RCPT, 3, "alice", 5);
	/* the link is not read meanwhile: the third request waits its turn */
	ck_assert_int_eq(get_reply(c, &f, NULL, 0, 300, NULL), -2);
	/* then all three are answered: the two failures when they fall
	 * due, the lookup once the link is read again (under a sanitizer
	 * on a loaded machine the order of these is not ours to assert) */
	for (i = 0, id = 0; i < 3; i++) {
		ck_assert_int_eq(get_reply(c, &f, NULL, 0, 5000, NULL), 1);
		if (f.id == 3)
			ck_assert_uint_eq(f.type, AP_OK);
		else
			ck_assert_uint_eq(f.type, AP_FAIL);
		id += f.id;
	}
	ck_assert_uint_eq(id, 6);
	close(c);
}
END_TEST

START_TEST(test_link_limit)
{
	int c[AUTH_LINK_MAX], extra, i;

	load_default_tables();
	for (i = 0; i < AUTH_LINK_MAX; i++)
		c[i] = new_client();
	ck_assert_uint_eq(A.nlinks, AUTH_LINK_MAX);
	extra = new_client();
	expect_eof(extra);
	close(extra);
	close(c[0]);
	pump(30);
	ck_assert_uint_eq(A.nlinks, AUTH_LINK_MAX - 1);
	extra = new_client();
	rcpt(extra, "bob", AP_OK, "user");
	close(extra);
	for (i = 1; i < AUTH_LINK_MAX; i++)
		close(c[i]);
}
END_TEST

/* ---- control channel ----------------------------------------------------- */

START_TEST(test_reload)
{
	char users[512];
	int c, p[2];

	load_default_tables();
	c = new_client();
	/* a bad users file: the old table stays */
	send_table(AP_CTL_USERS, "carol:$6$x$y\nbroken line\n");
	rcpt(c, "alice", AP_OK, "user");
	rcpt(c, "carol", AP_NOUSER, "");
	/* a bad aliases file: likewise */
	send_table(AP_CTL_ALIASES, "sales alice\n");
	rcpt(c, "info", AP_OK, "alias");
	rcpt(c, "sales", AP_NOUSER, "");
	/* not a file at all (a pipe would block): refused */
	ck_assert_int_eq(pipe(p), 0);
	send_table_fd(AP_CTL_USERS, p[0], "/some/fifo");
	close(p[1]);
	rcpt(c, "alice", AP_OK, "user");
	/* without a descriptor: ignored */
	ck_assert_int_eq(frame_write(ctlp[1], AP_CTL_USERS, 0, "/x", 2), 0);
	pump(30);
	rcpt(c, "alice", AP_OK, "user");
	/* a good file replaces the table */
	snprintf(users, sizeof(users), "carol:%s\n", hash("pw3"));
	send_table(AP_CTL_USERS, users);
	rcpt(c, "carol", AP_OK, "user");
	rcpt(c, "alice", AP_NOUSER, "");
	send_auth(c, 9, "CAROL", "pw3", "::1");
	expect(c, AP_OK, 9, "carol", 2000);
	send_table(AP_CTL_ALIASES, "sales: carol\n");
	rcpt(c, "sales", AP_OK, "alias");
	rcpt(c, "info", AP_NOUSER, "");
	/* an empty file (kurird sends /dev/null for a missing one) */
	send_table_fd(AP_CTL_USERS, open("/dev/null", O_RDONLY), "/etc/none");
	ck_assert_uint_eq(users_count(A.users), 0);
	rcpt(c, "carol", AP_NOUSER, "");
	close(c);
}
END_TEST

START_TEST(test_ctl_eof)
{
	int c;

	load_default_tables();
	c = new_client();
	send_auth(c, 1, "alice", "wrong", "192.0.2.1");	/* pending */
	pump(20);
	close(ctlp[1]);
	ctlp[1] = -1;
	A.exit_code = -1;
	event_base_dispatch(base);	/* ends by itself */
	ck_assert_int_eq(A.exit_code, 0);
	close(c);
}
END_TEST

START_TEST(test_ctl_garbage)
{
	static const char junk[FRAME_HDR] = { 0x7f, 0x7f, 0x7f, 0x7f };

	ck_assert_int_eq(write(ctlp[1], junk, sizeof(junk)), FRAME_HDR);
	event_base_dispatch(base);
	ck_assert_int_eq(A.exit_code, EX_PROTOCOL);
}
END_TEST

/* ---- delay table ---------------------------------------------------------- */

START_TEST(test_delay_key)
{
	char k[DELAY_KEY_MAX];

	delay_key("192.0.2.1", 64, k, sizeof(k));
	ck_assert_str_eq(k, "192.0.2.1");
	delay_key("::ffff:192.0.2.1", 64, k, sizeof(k));
	ck_assert_str_eq(k, "192.0.2.1");
	delay_key("2001:db8::1", 64, k, sizeof(k));
	ck_assert_str_eq(k, "2001:db8::/64");
	delay_key("2001:DB8:0:0:ffff::2", 64, k, sizeof(k));
	ck_assert_str_eq(k, "2001:db8::/64");
	delay_key("2001:db8:0:1::1", 64, k, sizeof(k));
	ck_assert_str_eq(k, "2001:db8:0:1::/64");
	delay_key("", 64, k, sizeof(k));
	ck_assert_str_eq(k, "raw:");
}
END_TEST

START_TEST(test_delay_fail)
{
	static struct delay_table t;
	char ip[32];
	unsigned i;
	long long now = 1000000;

	memset(&t, 0, sizeof(t));
	for (i = 0; i < 9; i++)
		ck_assert_uint_eq(delay_fail(&t, "192.0.2.1", now + i),
		    AUTH_FAIL_DELAY_MS + 1000 * i);
	for (i = 0; i < 20; i++)
		ck_assert_uint_eq(delay_fail(&t, "192.0.2.1", now + 100),
		    DELAY_CAP_MS);
	/* another client starts afresh; IPv6 neighbours share a /64 */
	ck_assert_uint_eq(delay_fail(&t, "192.0.2.2", now), 1000);
	ck_assert_uint_eq(delay_fail(&t, "2001:db8::1", now), 1000);
	ck_assert_uint_eq(delay_fail(&t, "2001:db8::2", now), 2000);
	ck_assert_uint_eq(delay_fail(&t, "::ffff:192.0.2.2", now), 2000);
	/* still remembered just before 15 minutes, forgotten after */
	now += 100;
	ck_assert_uint_eq(delay_fail(&t, "192.0.2.1",
	    now + DELAY_EXPIRE_MS - 1), DELAY_CAP_MS);
	now += DELAY_EXPIRE_MS - 1;
	ck_assert_uint_eq(delay_fail(&t, "192.0.2.1", now + DELAY_EXPIRE_MS),
	    1000);

	/* a full table reuses the slot idle longest */
	memset(&t, 0, sizeof(t));
	for (i = 0; i < DELAY_SLOTS; i++) {
		snprintf(ip, sizeof(ip), "10.0.%u.%u", i / 256, i % 256);
		ck_assert_uint_eq(delay_fail(&t, ip, 1000 + i), 1000);
	}
	ck_assert_uint_eq(delay_fail(&t, "10.0.0.1", 9000), 2000);
	ck_assert_uint_eq(delay_fail(&t, "10.99.0.1", 9001), 1000);
	/* 10.0.0.0 was idle longest: it went, 10.0.0.1 stayed */
	ck_assert_uint_eq(delay_fail(&t, "10.0.0.1", 9002), 3000);
	ck_assert_uint_eq(delay_fail(&t, "10.0.0.0", 9003), 1000);
}
END_TEST


/* ---- limits and the pool ---------------------------------------------------- */

START_TEST(test_rate_take)
{
	long long tat = 0, now = 5000000;
	unsigned i, n;

	/* a burst of rate, then one per 1000/rate ms */
	for (n = 0; rate_take(&tat, now, 20); n++)
		ck_assert_uint_lt(n, 100);
	ck_assert_uint_eq(n, 20);
	ck_assert_int_eq(rate_take(&tat, now + 49, 20), 0);
	ck_assert_int_eq(rate_take(&tat, now + 50, 20), 1);
	ck_assert_int_eq(rate_take(&tat, now + 50, 20), 0);
	/* a quiet second refills the bucket, never more */
	for (n = 0, i = 0; i < 100; i++)
		n += (unsigned)rate_take(&tat, now + 60000, 20);
	ck_assert_uint_eq(n, 20);
	/* 1000 a second: 1 ms each; rate 0 takes nothing */
	tat = 0;
	for (n = 0; rate_take(&tat, now, 1000); n++)
		ck_assert_uint_lt(n, 5000);
	ck_assert_uint_eq(n, 1000);
	ck_assert_int_eq(rate_take(&tat, now, 0), 0);
}
END_TEST

START_TEST(test_delay_blocked)
{
	static struct delay_table t;
	long long now = 1000000;
	unsigned i;

	memset(&t, 0, sizeof(t));
	t.limit = 3;
	t.window_ms = 60000;
	t.v6prefix = 64;
	/* three failures from addresses of one /64 block the /64 ... */
	ck_assert_int_eq(delay_blocked(&t, "2001:db8:1:2::1", now), 0);
	for (i = 0; i < 3; i++) {
		ck_assert_int_eq(delay_blocked(&t, "2001:db8:1:2::9", now), 0);
		delay_fail(&t, i == 1 ? "2001:db8:1:2:ffff::1" :
		    "2001:db8:1:2::1", now + i);
	}
	ck_assert_int_eq(delay_blocked(&t, "2001:db8:1:2:abcd::7", now + 10),
	    1);
	/* ... not its neighbour, nor an IPv4 client */
	ck_assert_int_eq(delay_blocked(&t, "2001:db8:1:3::1", now + 10), 0);
	ck_assert_int_eq(delay_blocked(&t, "192.0.2.1", now + 10), 0);
	/* until the window from the first failure ends */
	ck_assert_int_eq(delay_blocked(&t, "2001:db8:1:2::1",
	    now + 59999), 1);
	ck_assert_int_eq(delay_blocked(&t, "2001:db8:1:2::1",
	    now + 60000), 0);
	/* a /48 prefix counts wider */
	t.v6prefix = 48;
	for (i = 0; i < 3; i++)
		delay_fail(&t, i == 0 ? "2001:db8:5:1::1" : "2001:db8:5:2::1",
		    now);
	ck_assert_int_eq(delay_blocked(&t, "2001:db8:5:ffff::1", now + 1), 1);
	/* IPv4 by address */
	for (i = 0; i < 3; i++)
		delay_fail(&t, "198.51.100.7", now);
	ck_assert_int_eq(delay_blocked(&t, "::ffff:198.51.100.7", now + 1), 1);
	ck_assert_int_eq(delay_blocked(&t, "198.51.100.8", now + 1), 0);
}
END_TEST

/* the network limit in the running program: refused at once, no crypt */
START_TEST(test_network_refused)
{
	int c, i;

	load_default_tables();
	A.delays.limit = 2;
	c = new_client();
	for (i = 0; i < 2; i++) {
		send_auth(c, 1 + (uint32_t)i, "alice", "wrong", "192.0.2.50");
		expect(c, AP_FAIL, 1 + (uint32_t)i, "authentication failed",
		    5000);
	}
	send_auth(c, 3, "alice", "secret", "192.0.2.50");
	ck_assert_int_lt(expect(c, AP_FAIL, 3, "4.7.0 too many failures",
	    1000), 100);
	ck_assert_uint_eq(A.n_checked, 2);
	send_auth(c, 4, "alice", "secret", "192.0.2.51");
	expect(c, AP_OK, 4, "alice", 2000);
	close(c);
}
END_TEST

/* the per-link rate whatever the client-ip says */
START_TEST(test_link_rate)
{
	struct frame f;
	char ip[32], txt[256];
	unsigned busy = 0, i;
	int c;

	load_default_tables();
	A.link_rate = 4;
	c = new_client();
	for (i = 0; i < 12; i++) {
		snprintf(ip, sizeof(ip), "10.%u.0.1", i);
		send_auth(c, 100 + i, "alice", "secret", ip);
	}
	for (i = 0; i < 12; i++) {
		ck_assert_int_eq(get_reply(c, &f, txt, sizeof(txt), 3000, NULL),
		    1);
		if (f.type == AP_FAIL && strcmp(txt, "4.3.2 busy") == 0)
			busy++;
		else
			ck_assert_uint_eq(f.type, AP_OK);
	}
	ck_assert_uint_eq(busy, 8);
	ck_assert_uint_eq(A.n_checked, 4);
	/* another link has its own bucket; RCPT needs none */
	rcpt(c, "alice", AP_OK, "user");
	close(c);
}
END_TEST

/* AP_CANCEL: queued checks dropped before crypt, the running one muted */
START_TEST(test_cancel)
{
	char ip[32];
	uint32_t i;
	int c;

	load_default_tables();
	c = new_client();
	for (i = 0; i < 10; i++) {
		snprintf(ip, sizeof(ip), "10.9.%u.1", i);
		send_auth(c, 10 + i, "alice", "secret", ip);
	}
	for (i = 0; i < 10; i++)
		send_req(c, AP_CANCEL, 10 + i, NULL, 0);
	pump(300);
	/* two workers had one each; the other eight never reached crypt */
	ck_assert_uint_ge(A.n_dropped, 8);
	ck_assert_uint_le(A.n_checked, 2);
	ck_assert_uint_eq(A.n_dropped + A.n_discarded, 10);
	ck_assert_uint_eq(A.njobs, 0);
	/* nothing is answered, and the link lives on */
	rcpt(c, "alice", AP_OK, "user");
	/* a cancel with a payload breaks the protocol */
	send_req(c, AP_CANCEL, 1, "x", 1);
	expect_eof(c);
	close(c);
}
END_TEST

/* a full queue: busy at once, never a stalled link */
START_TEST(test_queue_full)
{
	struct frame f;
	char ip[32], txt[256];
	unsigned busy = 0, ok = 0, i;
	int c;

	load_default_tables();
	A.queue_max = 3;
	A.link_rate = 1000;
	c = new_client();
	for (i = 0; i < 10; i++) {
		snprintf(ip, sizeof(ip), "10.8.%u.1", i);
		send_auth(c, 10 + i, "alice", "secret", ip);
	}
	send_req(c, AP_RCPT, 99, "alice", 5);
	for (i = 0; i < 11; i++) {
		ck_assert_int_eq(get_reply(c, &f, txt, sizeof(txt), 3000, NULL),
		    1);
		if (f.id == 99)
			ck_assert_uint_eq(f.type, AP_OK);
		else if (f.type == AP_OK)
			ok++;
		else {
			ck_assert_str_eq(txt, "4.3.2 busy");
			busy++;
		}
	}
	/* two running, three queued, the rest refused */
	ck_assert_uint_eq(ok, 5);
	ck_assert_uint_eq(busy, 5);
	close(c);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("auth");
	TCase *tc = tcase_create("core");
	SRunner *sr;
	int failed;

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_auth_ok);
	tcase_add_test(tc, test_login);
	tcase_add_test(tc, test_auth_fail_delay);
	tcase_add_test(tc, test_fail_blocks_nobody);
	tcase_add_test(tc, test_malformed);
	tcase_add_test(tc, test_password_wiped);
	tcase_add_test(tc, test_rcpt);
	tcase_add_test(tc, test_rcpt_before_tables);
	tcase_add_test(tc, test_bad_frames);
	tcase_add_test(tc, test_flow_control);
	tcase_add_test(tc, test_link_limit);
	tcase_add_test(tc, test_reload);
	tcase_add_test(tc, test_ctl_eof);
	tcase_add_test(tc, test_ctl_garbage);
	tcase_add_test(tc, test_delay_key);
	tcase_add_test(tc, test_delay_fail);
	tcase_add_test(tc, test_rate_take);
	tcase_add_test(tc, test_delay_blocked);
	tcase_add_test(tc, test_network_refused);
	tcase_add_test(tc, test_link_rate);
	tcase_add_test(tc, test_cancel);
	tcase_add_test(tc, test_queue_full);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
