/*
 * check_pop3_txn.c - unit tests for the TRANSACTION and UPDATE states of
 * kurir-pop3d (pop3d/txn.c, with pop3d/maildrop.c and pop3d/cmd.c).
 *
 * Each test makes a temporary Maildir, forks a child that runs
 * txn_serve() on one end of a socketpair and exits with its result, and
 * plays the client on the other end.  The expected wire bytes are
 * written out by hand for the small messages and computed by a separate
 * converter for the large one.  Covers: the login answer, STAT LIST UIDL
 * CAPA NOOP, RETR byte-exact (dot lines, no final newline, CRLF in the
 * file, empty body, empty file, 1 MB), TOP 0/2/all, DELE + QUIT, DELE +
 * drop, RETR -> cur/ with :2,S and TOP not, RSET, pipelining, bad and
 * deleted numbers, long lines, NUL, the error limit, wrong-state
 * commands, the lock held elsewhere, a vanished message, open and update
 * failures, the idle timeout (reading and writing), a half-closed client,
 * and the session's log line.
 * Writes under /tmp; runs as any user.
 */
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <check.h>
#include <ftw.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../pop3d/txn.c"
#include "../pop3d/maildrop.c"
#include "../pop3d/cmd.c"

#define IDLE		20		/* seconds; a hung child dies by itself */
#define MANY_ERRORS	100
#define WAIT_MS		10000		/* longest wait for a reply */

static char topdir[64], maildir[128], logpath[128];
static int root_fd = -1, cfd = -1;
static pid_t kid = -1;
static char rbuf[4 << 20];		/* replies read, not yet taken */
static size_t rlen;

/* ---- the messages ------------------------------------------------------- */

#define N1	"1700000001.M1.host"
#define N2	"1700000002.M2.host"
#define N3	"1700000003.M3.host"
#define N4	"1700000004.M4.host"
#define N5	"1700000005.M5.host"
#define N6	"1700000006.M6.host"

#define M1	"From: a@b\nSubject: one\n\nline1\n.dot line\n..two dots\nlast\n"
#define M1_HEAD	"From: a@b\r\nSubject: one\r\n\r\n"
#define M1_TOP2	M1_HEAD "line1\r\n..dot line\r\n"
#define M1_WIRE	M1_TOP2 "...two dots\r\nlast\r\n"
#define M2	"Subject: nofinal\n\nbody without newline"
#define M2_WIRE	"Subject: nofinal\r\n\r\nbody without newline\r\n"
/* CRLF line ends, and a bare CR that must not go out as one (it ends a
 * line: the dot after it is then stuffed, so no client can take
 * "line1<CR>.<CRLF>" for the end of the message) */
#define M3	"Subject: crlf\r\n\r\nbody1\r\n.body2\r\nline1\r.\r\n" \
		"MAIL FROM:<x@y>\r\n"
#define M3_HEAD	"Subject: crlf\r\n\r\n"
#define M3_WIRE	M3_HEAD "body1\r\n..body2\r\nline1\r\n..\r\n" \
		"MAIL FROM:<x@y>\r\n"
#define M4	"Subject: empty body\n\n"
#define M4_WIRE	"Subject: empty body\r\n\r\n"
#define M5	""
#define M5_NAME	"cur/" N5 ":2,S"

static const struct {
	const char	*path;
	const char	*data;
	const char	*wire;
	const char	*uid;
} msgs[] = {
	{ "new/" N1, M1, M1_WIRE, N1 },
	{ "new/" N2, M2, M2_WIRE, N2 },
	{ "new/" N3, M3, M3_WIRE, N3 },
	{ "new/" N4, M4, M4_WIRE, N4 },
	{ M5_NAME, M5, "", N5 },
};
#define NMSGS	(sizeof(msgs) / sizeof(msgs[0]))

/* ---- harness ------------------------------------------------------------ */

static int
rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	if (flag == FTW_DP)
		return rmdir(path);
	return unlink(path);
}

static void
setup(void)
{
	log_init("check_pop3_txn", 1);
	strlcpy(topdir, "/tmp/check_pop3_txn.XXXXXX", sizeof(topdir));
	ck_assert_ptr_nonnull(mkdtemp(topdir));
	snprintf(maildir, sizeof(maildir), "%s/Maildir", topdir);
	snprintf(logpath, sizeof(logpath), "%s/log", topdir);
	ck_assert_int_eq(mkdir(maildir, 0700), 0);
	ck_assert_int_ne(root_fd = open(maildir, O_RDONLY | O_DIRECTORY), -1);
	rlen = 0;
	cfd = -1;
	kid = -1;
}

static void
teardown(void)
{
	if (cfd != -1)
		close(cfd);
	close(root_fd);
	nftw(topdir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static void
put_file(const char *rel, const char *data, size_t len)
{
	int fd;

	ck_assert_int_ne(fd = openat(root_fd, rel,
	    O_WRONLY | O_CREAT | O_EXCL, 0600), -1);
	ck_assert_int_eq(write(fd, data, len), (ssize_t)len);
	close(fd);
}

/* tmp/ new/ cur/ and the five small messages */
static void
fill(void)
{
	size_t i;

	ck_assert_int_eq(mkdirat(root_fd, "tmp", 0700), 0);
	ck_assert_int_eq(mkdirat(root_fd, "new", 0700), 0);
	ck_assert_int_eq(mkdirat(root_fd, "cur", 0700), 0);
	for (i = 0; i < NMSGS; i++)
		put_file(msgs[i].path, msgs[i].data, strlen(msgs[i].data));
}

static int
exists(const char *rel)
{
	struct stat st;

	return fstatat(root_fd, rel, &st, AT_SYMLINK_NOFOLLOW) == 0;
}

/* Octets as sent: every LF counted as CRLF, a CRLF added to a last line. */
static unsigned long long
wire_size(const char *s, size_t n)
{
	unsigned long long sz = 0;
	size_t i = 0, len;

	/* line by line, each up to LF, CR LF or a CR alone, gets CRLF */
	while (i < n) {
		for (len = 0; i + len < n && s[i + len] != '\r' &&
		    s[i + len] != '\n'; len++)
			;
		sz += len + 2;
		i += len;
		if (i < n)
			i += s[i] == '\r' && i + 1 < n && s[i + 1] == '\n' ? 2 : 1;
	}
	return sz;
}

static int small_socket;	/* next start(): tiny socket buffers */
static const char *start_pre;	/* next start(): bytes the client sent ahead */
static int start_watch;		/* next start(): the watched descriptor */
static int start_watch_peer = -1;	/* its other end: the parent's */

/* Fork the session; the child exits with txn_serve's result. */
static void
start(long long idle, unsigned max_errors)
{
	struct txn_limits lim = { .idle_timeout = idle,
	    .max_errors = max_errors, .watch_fd = start_watch, .pre = start_pre,
	    .prelen = start_pre != NULL ? strlen(start_pre) : 0 };
	int sv[2], logfd, small = 4096;

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	if (small_socket) {
		ck_assert_int_eq(setsockopt(sv[1], SOL_SOCKET, SO_SNDBUF,
		    &small, sizeof(small)), 0);
		ck_assert_int_eq(setsockopt(sv[0], SOL_SOCKET, SO_RCVBUF,
		    &small, sizeof(small)), 0);
		small_socket = 0;
	}
	ck_assert_int_ne(kid = fork(), -1);
	if (kid == 0) {
		close(sv[0]);
		if (start_watch_peer >= 0)
			close(start_watch_peer);
		logfd = open(logpath, O_WRONLY | O_CREAT | O_APPEND, 0600);
		if (logfd == -1 || dup2(logfd, STDERR_FILENO) == -1)
			_exit(99);
		_exit((int)txn_serve(sv[1], root_fd, "tester", &lim));
	}
	close(sv[1]);
	cfd = sv[0];
	rlen = 0;
	start_pre = NULL;
	start_watch = 0;
	start_watch_peer = -1;
}

/* Wait for the child: its txn_serve result. */
static int
finish(void)
{
	int st;

	ck_assert_int_eq(waitpid(kid, &st, 0), kid);
	ck_assert_msg(WIFEXITED(st), "session died: %d", st);
	if (cfd != -1)
		close(cfd);
	cfd = -1;
	return WEXITSTATUS(st);
}

/* Is s in the child's log? */
static int
logged(const char *s)
{
	static char text[65536];
	ssize_t n;
	int fd;

	if ((fd = open(logpath, O_RDONLY)) == -1)
		return 0;
	n = read(fd, text, sizeof(text) - 1);
	close(fd);
	ck_assert_int_ge(n, 0);
	text[n] = '\0';
	return strstr(text, s) != NULL;
}

static void
cl_write(const void *p, size_t n)
{
	ck_assert_int_eq(send(cfd, p, n, MSG_NOSIGNAL), (ssize_t)n);
}

static void
cl_send(const char *s)
{
	cl_write(s, strlen(s));
}

/* Read more replies: bytes read, 0 at EOF; fails after WAIT_MS. */
static size_t
cl_fill(void)
{
	struct pollfd pfd = { .fd = cfd, .events = POLLIN };
	ssize_t r;

	ck_assert_msg(rlen < sizeof(rbuf), "reply too long");
	ck_assert_msg(poll(&pfd, 1, WAIT_MS) == 1, "no reply in time");
	r = read(cfd, rbuf + rlen, sizeof(rbuf) - rlen);
	ck_assert_int_ge(r, 0);
	rlen += (size_t)r;
	return (size_t)r;
}

static void
cl_take(size_t n)
{
	memmove(rbuf, rbuf + n, rlen - n);
	rlen -= n;
}

/* The next reply line, without its CRLF. */
static const char *
cl_line(void)
{
	static char line[1024];
	char *crlf;
	size_t n;

	while ((crlf = memmem(rbuf, rlen, "\r\n", 2)) == NULL)
		ck_assert_msg(cl_fill() > 0, "EOF before a reply line");
	n = (size_t)(crlf - rbuf);
	ck_assert_uint_lt(n, sizeof(line));
	memcpy(line, rbuf, n);
	line[n] = '\0';
	cl_take(n + 2);
	return line;
}

#define EXPECT(s)	ck_assert_str_eq(cl_line(), (s))

/*
 * The body of a multi-line reply as it came (still dot-stuffed), up to
 * the "." line, which is taken too.  Malloc'd; *len its length.
 */
static char *
cl_body(size_t *len)
{
	char *end, *body;
	size_t n;

	for (;;) {
		if (rlen >= 3 && memcmp(rbuf, ".\r\n", 3) == 0) {
			n = 0;
			break;
		}
		if ((end = memmem(rbuf, rlen, "\r\n.\r\n", 5)) != NULL) {
			n = (size_t)(end - rbuf) + 2;
			break;
		}
		ck_assert_msg(cl_fill() > 0, "EOF in a multi-line reply");
	}
	ck_assert_ptr_nonnull(body = malloc(n + 1));
	memcpy(body, rbuf, n);
	body[n] = '\0';
	cl_take(n + 3);
	*len = n;
	return body;
}

/* A multi-line body must be exactly want. */
static void
expect_body(const char *want, size_t wantlen)
{
	size_t len;
	char *body = cl_body(&len);

	ck_assert_uint_eq(len, wantlen);
	ck_assert_msg(memcmp(body, want, len) == 0, "body differs");
	free(body);
}

/* Octets of a dot-stuffed body with the stuffing taken out. */
static size_t
unstuffed_len(const char *b, size_t n)
{
	size_t i, len = n;

	for (i = 0; i < n; i++)
		if (b[i] == '.' && (i == 0 || b[i - 1] == '\n'))
			len--;
	return len;
}

/* The server must close: EOF with nothing more. */
static void
expect_eof(void)
{
	ck_assert_uint_eq(rlen, 0);
	ck_assert_uint_eq(cl_fill(), 0);
	ck_assert_uint_eq(rlen, 0);
}

static char greeting[128];

/* Octets of the five small messages as sent. */
static unsigned long long
total_octets(void)
{
	unsigned long long octets = 0;
	size_t i;

	for (i = 0; i < NMSGS; i++)
		octets += wire_size(msgs[i].data, strlen(msgs[i].data));
	return octets;
}

/* The login answer for the five small messages, read and checked. */
static void
expect_greeting(void)
{
	snprintf(greeting, sizeof(greeting),
	    "+OK maildrop has %zu messages (%llu octets)", NMSGS,
	    total_octets());
	EXPECT(greeting);
}

/* ---- tests -------------------------------------------------------------- */

START_TEST(test_listings)
{
	char want[256];
	unsigned long long sz;
	size_t i;

	fill();
	start(IDLE, MANY_ERRORS);
	expect_greeting();
	cl_send("STAT\r\n");
	snprintf(want, sizeof(want), "+OK %zu %llu", NMSGS, total_octets());
	EXPECT(want);
	cl_send("LIST\r\n");
	EXPECT("+OK scan listing follows");
	for (i = 0; i < NMSGS; i++) {
		sz = wire_size(msgs[i].data, strlen(msgs[i].data));
		snprintf(want, sizeof(want), "%zu %llu", i + 1, sz);
		EXPECT(want);
	}
	EXPECT(".");
	cl_send("LIST 3\r\n");
	snprintf(want, sizeof(want), "+OK 3 %llu",
	    wire_size(M3, strlen(M3)));
	EXPECT(want);
	cl_send("uidl\r\n");			/* any case */
	EXPECT("+OK unique-id listing follows");
	for (i = 0; i < NMSGS; i++) {
		snprintf(want, sizeof(want), "%zu %s", i + 1, msgs[i].uid);
		EXPECT(want);
	}
	EXPECT(".");
	cl_send("UIDL 5\r\n");
	EXPECT("+OK 5 " N5);
	cl_send("CAPA\r\n");
	EXPECT("+OK Capability list follows");
	EXPECT("TOP");
	EXPECT("UIDL");
	EXPECT("RESP-CODES");
	EXPECT("AUTH-RESP-CODE");
	EXPECT("PIPELINING");
	EXPECT("USER");
	EXPECT("SASL PLAIN");
	EXPECT("IMPLEMENTATION kurir");
	EXPECT(".");
	cl_send("NOOP\r\n");
	EXPECT("+OK");
	cl_send("QUIT\r\n");
	EXPECT("+OK kurir POP3 server signing off (5 messages left)");
	expect_eof();
	ck_assert_int_eq(finish(), TXN_QUIT);
	for (i = 0; i < NMSGS; i++)
		ck_assert(exists(msgs[i].path));
	ck_assert(logged("user=tester retr=0 top=0 dele=0 deleted=0 size=0 "
	    "end=quit"));
}
END_TEST

START_TEST(test_retr_exact)
{
	char want[64], path[128];
	unsigned long long sz, total = 0;
	size_t i, len;
	char *body;

	fill();
	start(IDLE, MANY_ERRORS);
	expect_greeting();
	for (i = 0; i < NMSGS; i++) {
		snprintf(want, sizeof(want), "RETR %zu\r\n", i + 1);
		cl_send(want);
		sz = wire_size(msgs[i].data, strlen(msgs[i].data));
		total += sz;
		snprintf(want, sizeof(want), "+OK %llu octets", sz);
		EXPECT(want);
		body = cl_body(&len);
		ck_assert_uint_eq(len, strlen(msgs[i].wire));
		ck_assert_msg(memcmp(body, msgs[i].wire, len) == 0,
		    "message %zu differs", i + 1);
		/* RFC 1939: the size listed is the size sent, unstuffed */
		ck_assert_uint_eq(unstuffed_len(body, len), sz);
		free(body);
	}
	cl_send("QUIT\r\n");
	EXPECT("+OK kurir POP3 server signing off (5 messages left)");
	ck_assert_int_eq(finish(), TXN_QUIT);
	/* seen: moved to cur/ with S; the cur/ one already had it */
	for (i = 0; i < 4; i++) {
		ck_assert(!exists(msgs[i].path));
		snprintf(path, sizeof(path), "cur/%s:2,S", msgs[i].uid);
		ck_assert_msg(exists(path), "%s", path);
	}
	ck_assert(exists(M5_NAME));
	snprintf(want, sizeof(want), "retr=5 top=0 dele=0 deleted=0 size=%llu",
	    total);
	ck_assert(logged(want));
	/* sizes as listed; never message contents in the log */
	ck_assert(!logged("sent as"));
	ck_assert(!logged("line1") && !logged("nofinal"));
}
END_TEST

START_TEST(test_top)
{
	fill();
	start(IDLE, MANY_ERRORS);
	expect_greeting();
	cl_send("TOP 1 0\r\n");
	EXPECT("+OK top of message follows");
	expect_body(M1_HEAD, strlen(M1_HEAD));
	cl_send("TOP 1 2\r\n");
	EXPECT("+OK top of message follows");
	expect_body(M1_TOP2, strlen(M1_TOP2));
	cl_send("TOP 1 2147483647\r\n");
	EXPECT("+OK top of message follows");
	expect_body(M1_WIRE, strlen(M1_WIRE));
	cl_send("TOP 2 0\r\n");
	EXPECT("+OK top of message follows");
	expect_body("Subject: nofinal\r\n\r\n", 20);
	cl_send("TOP 2 1\r\n");		/* the last line has no LF */
	EXPECT("+OK top of message follows");
	expect_body(M2_WIRE, strlen(M2_WIRE));
	cl_send("TOP 3 0\r\n");		/* CRLF file: "\r" is the blank line */
	EXPECT("+OK top of message follows");
	expect_body(M3_HEAD, strlen(M3_HEAD));
	cl_send("TOP 3 1\r\n");
	EXPECT("+OK top of message follows");
	expect_body(M3_HEAD "body1\r\n", strlen(M3_HEAD) + 7);
	cl_send("TOP 4 5\r\n");
	EXPECT("+OK top of message follows");
	expect_body(M4_WIRE, strlen(M4_WIRE));
	cl_send("TOP 5 0\r\n");
	EXPECT("+OK top of message follows");
	expect_body("", 0);
	cl_send("QUIT\r\n");
	EXPECT("+OK kurir POP3 server signing off (5 messages left)");
	ck_assert_int_eq(finish(), TXN_QUIT);
	/* TOP does not mark seen */
	ck_assert(exists("new/" N1) && exists("new/" N2));
	ck_assert(!exists("cur/" N1 ":2,S"));
	ck_assert(logged("retr=0 top=9 "));
}
END_TEST

START_TEST(test_dele_quit)
{
	char want[128];
	unsigned long long rest;

	fill();
	start(IDLE, MANY_ERRORS);
	expect_greeting();
	cl_send("DELE 1\r\n");
	EXPECT("+OK message 1 deleted");
	cl_send("DELE 1\r\n");
	EXPECT("-ERR message 1 already deleted");
	rest = wire_size(M2, strlen(M2)) + wire_size(M3, strlen(M3)) +
	    wire_size(M4, strlen(M4));
	cl_send("STAT\r\n");
	snprintf(want, sizeof(want), "+OK 4 %llu", rest);
	EXPECT(want);
	cl_send("LIST\r\n");
	EXPECT("+OK scan listing follows");
	ck_assert(strncmp(cl_line(), "2 ", 2) == 0);
	ck_assert(strncmp(cl_line(), "3 ", 2) == 0);
	ck_assert(strncmp(cl_line(), "4 ", 2) == 0);
	EXPECT("5 0");
	EXPECT(".");
	cl_send("UIDL\r\n");
	EXPECT("+OK unique-id listing follows");
	EXPECT("2 " N2);
	EXPECT("3 " N3);
	EXPECT("4 " N4);
	EXPECT("5 " N5);
	EXPECT(".");
	cl_send("QUIT\r\n");
	EXPECT("+OK kurir POP3 server signing off (4 messages left)");
	ck_assert_int_eq(finish(), TXN_QUIT);
	ck_assert(!exists("new/" N1));
	ck_assert(exists("new/" N2));
	ck_assert(logged("dele=1 deleted=1 "));
}
END_TEST

START_TEST(test_dele_drop)
{
	fill();
	start(IDLE, MANY_ERRORS);
	expect_greeting();
	cl_send("DELE 1\r\nRETR 2\r\n");
	EXPECT("+OK message 1 deleted");
	EXPECT("+OK 42 octets");
	expect_body(M2_WIRE, strlen(M2_WIRE));
	close(cfd);
	cfd = -1;
	ck_assert_int_eq(finish(), TXN_DROPPED);
	/* nothing changed on disk: not deleted, not marked seen */
	ck_assert(exists("new/" N1));
	ck_assert(exists("new/" N2));
	ck_assert(logged("dele=1 deleted=0 size=42 end=dropped"));
}
END_TEST

START_TEST(test_rset)
{
	fill();
	start(IDLE, MANY_ERRORS);
	expect_greeting();
	cl_send("DELE 1\r\n");
	EXPECT("+OK message 1 deleted");
	cl_send("DELE 5\r\n");
	EXPECT("+OK message 5 deleted");
	cl_send("RSET\r\n");
	EXPECT(greeting);
	cl_send("LIST 1\r\n");
	ck_assert(strncmp(cl_line(), "+OK 1 ", 6) == 0);
	cl_send("QUIT\r\n");
	EXPECT("+OK kurir POP3 server signing off (5 messages left)");
	ck_assert_int_eq(finish(), TXN_QUIT);
	ck_assert(exists("new/" N1));
	ck_assert(exists(M5_NAME));
}
END_TEST

/* Wire form of any file: CRLF line ends, dot-stuffed; malloc'd. */
static char *
to_wire(const char *s, size_t n, size_t *outlen)
{
	char *o;
	size_t i, k = 0;
	int bol = 1;

	ck_assert_ptr_nonnull(o = malloc(2 * n + 2));
	for (i = 0; i < n; i++) {
		if (bol && s[i] == '.')
			o[k++] = '.';
		if (s[i] == '\n')
			o[k++] = '\r';
		o[k++] = s[i];
		bol = s[i] == '\n';
	}
	if (!bol) {
		o[k++] = '\r';
		o[k++] = '\n';
	}
	*outlen = k;
	return o;
}

START_TEST(test_pipelining)
{
	char want[64], cmds[4096], *big, *wire, *body;
	size_t i, bigsz = 1024 * 1024 + 7, wirelen, len, off;
	unsigned long long sz;
	int k;

	fill();
	/* 1 MB with dot lines, ending without LF: past the high mark */
	ck_assert_ptr_nonnull(big = malloc(bigsz));
	for (i = 0; i < bigsz; i++)
		big[i] = i % 70 == 69 ? '\n' : (i % 700 == 0 ? '.' : 'x');
	put_file("new/" N6, big, bigsz);
	wire = to_wire(big, bigsz, &wirelen);
	sz = wire_size(big, bigsz);

	start(IDLE, MANY_ERRORS);
	ck_assert(strncmp(cl_line(), "+OK maildrop has 6 messages", 27) == 0);
	/* everything in one write, before reading any reply */
	off = strlcpy(cmds, "STAT\r\nLIST 2\r\nRETR 1\r\n", sizeof(cmds));
	for (k = 0; k < 12; k++)
		off += strlcpy(cmds + off, "RETR 6\r\nUIDL 6\r\n",
		    sizeof(cmds) - off);
	off += strlcpy(cmds + off, "DELE 2\r\nNOOP\r\nQUIT\r\n",
	    sizeof(cmds) - off);
	ck_assert_uint_lt(off, sizeof(cmds));
	cl_write(cmds, off);

	ck_assert(strncmp(cl_line(), "+OK 6 ", 6) == 0);
	EXPECT("+OK 2 42");
	snprintf(want, sizeof(want), "+OK %llu octets",
	    wire_size(M1, strlen(M1)));
	EXPECT(want);
	expect_body(M1_WIRE, strlen(M1_WIRE));
	for (k = 0; k < 12; k++) {
		snprintf(want, sizeof(want), "+OK %llu octets", sz);
		EXPECT(want);
		body = cl_body(&len);
		ck_assert_uint_eq(len, wirelen);
		ck_assert_msg(memcmp(body, wire, len) == 0, "RETR 6 differs");
		ck_assert_uint_eq(unstuffed_len(body, len), sz);
		free(body);
		EXPECT("+OK 6 " N6);
	}
	EXPECT("+OK message 2 deleted");
	EXPECT("+OK");
	EXPECT("+OK kurir POP3 server signing off (5 messages left)");
	expect_eof();
	ck_assert_int_eq(finish(), TXN_QUIT);
	ck_assert(!exists("new/" N2));
	ck_assert(exists("cur/" N6 ":2,S"));
	ck_assert(!logged("sent as"));
	free(big);
	free(wire);
}
END_TEST

START_TEST(test_many_small_pipelined)
{
	static char cmds[6 * 5000 + 8];
	size_t off = 0;
	int k;

	fill();
	start(IDLE, MANY_ERRORS);
	expect_greeting();
	for (k = 0; k < 5000; k++)
		off += strlcpy(cmds + off, k % 2 ? "NOOP\r\n" : "STAT\r\n",
		    sizeof(cmds) - off);
	cl_write(cmds, off);
	for (k = 0; k < 5000; k++) {
		if (k % 2)
			EXPECT("+OK");
		else
			ck_assert(strncmp(cl_line(), "+OK 5 ", 6) == 0);
	}
	cl_send("QUIT\r\n");
	EXPECT("+OK kurir POP3 server signing off (5 messages left)");
	ck_assert_int_eq(finish(), TXN_QUIT);
}
END_TEST

/*
 * A client that keeps writing commands while a long reply is stuck: the
 * server reads them meanwhile (up to its input buffer), so the client's
 * writes finish before it reads anything.
 */
START_TEST(test_read_while_writing)
{
	static char cmds[6 * 5000];
	struct pollfd pfd;
	char *big, *body;
	size_t bigsz = 1024 * 1024, off = 0, len;
	ssize_t w;
	int k, small = 4096;

	fill();
	ck_assert_ptr_nonnull(big = malloc(bigsz));
	memset(big, 'z', bigsz);
	put_file("new/" N6, big, bigsz);
	free(big);
	start(IDLE, MANY_ERRORS);
	ck_assert(strncmp(cl_line(), "+OK maildrop has 6", 18) == 0);
	/* a small send buffer: nothing much waits in the socket for us */
	ck_assert_int_eq(setsockopt(cfd, SOL_SOCKET, SO_SNDBUF, &small,
	    sizeof(small)), 0);
	cl_send("RETR 6\r\n");
	for (k = 0; k < 5000; k++)
		memcpy(cmds + 6 * k, "NOOP\r\n", 6);
	while (off < sizeof(cmds)) {
		pfd.fd = cfd;
		pfd.events = POLLOUT;
		ck_assert_msg(poll(&pfd, 1, 3000) == 1,
		    "stuck after %zu bytes", off);
		w = send(cfd, cmds + off, sizeof(cmds) - off,
		    MSG_NOSIGNAL | MSG_DONTWAIT);
		if (w == -1 && errno == EAGAIN)
			continue;
		ck_assert_int_gt(w, 0);
		off += (size_t)w;
	}
	EXPECT("+OK 1048578 octets");	/* one line, no LF: + CRLF */
	body = cl_body(&len);
	ck_assert_uint_eq(len, bigsz + 2);
	ck_assert(body[0] == 'z' && memcmp(body + bigsz, "\r\n", 2) == 0);
	free(body);
	for (k = 0; k < 5000; k++)
		EXPECT("+OK");
	cl_send("QUIT\r\n");
	EXPECT("+OK kurir POP3 server signing off (6 messages left)");
	ck_assert_int_eq(finish(), TXN_QUIT);
}
END_TEST

/*
 * Regression: every command the client pipelined arrived while a long
 * reply was being written (and was read then); nothing more comes.  They
 * must be answered without waiting for further input.
 */
START_TEST(test_pipelined_during_flush)
{
	char *big, *body;
	size_t bigsz = 200 * 1024, len;

	fill();
	/* under the high mark: written by the flush after the last line */
	ck_assert_ptr_nonnull(big = malloc(bigsz));
	memset(big, 'z', bigsz);
	put_file("new/" N6, big, bigsz);
	free(big);
	small_socket = 1;
	start(IDLE, MANY_ERRORS);
	ck_assert(strncmp(cl_line(), "+OK maildrop has 6", 18) == 0);
	cl_send("RETR 6\r\n");
	/* the reply is now stuck in a full socket: these come meanwhile */
	usleep(200 * 1000);
	cl_send("NOOP\r\nSTAT\r\nNOOP\r\n");
	usleep(200 * 1000);
	EXPECT("+OK 204802 octets");
	body = cl_body(&len);
	ck_assert_uint_eq(len, bigsz + 2);
	free(body);
	/* answered with no further input from us */
	EXPECT("+OK");
	ck_assert(strncmp(cl_line(), "+OK 6 ", 6) == 0);
	EXPECT("+OK");
	cl_send("QUIT\r\n");
	EXPECT("+OK kurir POP3 server signing off (6 messages left)");
	ck_assert_int_eq(finish(), TXN_QUIT);
}
END_TEST

/* A handed-over session: the commands the client sent ahead come first,
 * and the pre-auth process going away ends it with nothing changed. */
START_TEST(test_handed_over)
{
	int w[2];

	fill();
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, w), 0);
	start_pre = "DELE 1\r\nSTAT\r\n";
	start_watch = w[1];
	start_watch_peer = w[0];
	start(IDLE, MANY_ERRORS);
	close(w[1]);
	expect_greeting();
	EXPECT("+OK message 1 deleted");
	ck_assert(strncmp(cl_line(), "+OK 4 ", 6) == 0);
	close(w[0]);		/* the pre-auth process is gone */
	ck_assert_int_eq(finish(), TXN_DROPPED);
	ck_assert(logged("end=dropped"));	/* at once, not by the clock */
	ck_assert(exists("new/" N1));
}
END_TEST

START_TEST(test_bad_numbers)
{
	fill();
	start(IDLE, MANY_ERRORS);
	expect_greeting();
	cl_send("RETR 0\r\n");
	EXPECT("-ERR bad message number");
	cl_send("RETR 6\r\n");
	EXPECT("-ERR no such message");
	cl_send("LIST 2147483647\r\n");
	EXPECT("-ERR no such message");
	cl_send("UIDL 99\r\n");
	EXPECT("-ERR no such message");
	cl_send("TOP 7 0\r\n");
	EXPECT("-ERR no such message");
	cl_send("DELE 6\r\n");
	EXPECT("-ERR no such message");
	cl_send("RETR 99999999999999999999999\r\n");
	EXPECT("-ERR bad message number");
	cl_send("LIST -1\r\n");
	EXPECT("-ERR bad message number");
	cl_send("TOP 1\r\n");
	EXPECT("-ERR missing argument");
	cl_send("RETR 1 2\r\n");
	EXPECT("-ERR too many arguments");
	cl_send("DELE 2\r\n");
	EXPECT("+OK message 2 deleted");
	cl_send("RETR 2\r\n");
	EXPECT("-ERR no such message");
	cl_send("TOP 2 0\r\n");
	EXPECT("-ERR no such message");
	cl_send("LIST 2\r\n");
	EXPECT("-ERR no such message");
	cl_send("UIDL 2\r\n");
	EXPECT("-ERR no such message");
	cl_send("\r\n");
	EXPECT("-ERR unknown command");
	cl_send("NOOP\n");			/* a bare LF ends a line too */
	EXPECT("+OK");
	cl_send("QUIT\r\n");
	EXPECT("+OK kurir POP3 server signing off (4 messages left)");
	ck_assert_int_eq(finish(), TXN_QUIT);
	ck_assert(!exists("new/" N2));
	ck_assert(exists("new/" N1));
}
END_TEST

START_TEST(test_long_lines)
{
	char line[512];

	fill();
	start(IDLE, MANY_ERRORS);
	expect_greeting();
	/* 300 octets and a command behind it, in one write */
	memset(line, 'x', sizeof(line));
	memcpy(line, "NOOP ", 5);
	memcpy(line + 298, "\r\nSTAT\r\n", 8);
	cl_write(line, 306);
	EXPECT("-ERR line too long");
	ck_assert(strncmp(cl_line(), "+OK 5 ", 6) == 0);
	/* the same in pieces: one -ERR, the tail skipped as it comes */
	memset(line, 'A', sizeof(line));
	cl_write(line, 200);
	usleep(100000);
	cl_write(line, 200);
	usleep(100000);
	cl_send("AAAA\r\nNOOP\r\n");
	EXPECT("-ERR line too long");
	EXPECT("+OK");
	/* 255 octets with CRLF is allowed; 256 is not */
	memset(line, ' ', sizeof(line));
	memcpy(line, "NOOP", 4);
	memcpy(line + 253, "\r\n", 2);
	cl_write(line, 255);
	EXPECT("+OK");
	memcpy(line + 253, " \r\n", 3);
	cl_write(line, 256);
	EXPECT("-ERR line too long");
	cl_send("NOOP\r\n");
	EXPECT("+OK");
	cl_send("QUIT\r\n");
	EXPECT("+OK kurir POP3 server signing off (5 messages left)");
	ck_assert_int_eq(finish(), TXN_QUIT);
}
END_TEST

START_TEST(test_nul)
{
	fill();
	start(IDLE, MANY_ERRORS);
	expect_greeting();
	cl_write("NO\0OP\r\nSTAT\0\r\nNOOP\r\n", 20);
	EXPECT("-ERR NUL in command");
	EXPECT("-ERR NUL in command");
	EXPECT("+OK");
	cl_send("QUIT\r\n");
	EXPECT("+OK kurir POP3 server signing off (5 messages left)");
	ck_assert_int_eq(finish(), TXN_QUIT);
}
END_TEST

/* RFC 1939's ordinary -ERR answers after login never end the session */
START_TEST(test_bad_arguments_go_on)
{
	int i;

	fill();
	start(IDLE, 3);
	expect_greeting();
	cl_send("DELE 1\r\n");
	EXPECT("+OK message 1 deleted");
	for (i = 0; i < 4; i++) {
		cl_send("LIST 0\r\nRETR 99\r\nTOP 1 abc\r\nDELE 1\r\n"
		    "UIDL 1\r\nRETR\r\nTOP 2\r\nLIST 1 2\r\n");
		EXPECT("-ERR bad message number");
		EXPECT("-ERR no such message");
		EXPECT("-ERR bad line count");
		EXPECT("-ERR message 1 already deleted");
		EXPECT("-ERR no such message");
		EXPECT("-ERR missing argument");
		EXPECT("-ERR missing argument");
		EXPECT("-ERR too many arguments");
	}
	cl_send("QUIT\r\n");
	EXPECT("+OK kurir POP3 server signing off (4 messages left)");
	ck_assert_int_eq(finish(), TXN_QUIT);
	ck_assert(!exists("new/" N1));
}
END_TEST

/* lines that are no command after login: max_errors of them in a row */
START_TEST(test_max_errors)
{
	fill();
	start(IDLE, 3);
	expect_greeting();
	cl_send("DELE 1\r\nFOO\r\nUSER bob\r\nRETR 99\r\nNOOP\r\n"
	    "FOO\r\nBAR\r\nPASS x\r\nQUIT\r\n");
	EXPECT("+OK message 1 deleted");
	EXPECT("-ERR unknown command");
	EXPECT("-ERR Command not valid in this state");
	EXPECT("-ERR no such message");		/* a command: the run ends */
	EXPECT("+OK");
	EXPECT("-ERR unknown command");
	EXPECT("-ERR unknown command");
	EXPECT("-ERR Command not valid in this state");
	EXPECT("-ERR Too many errors, closing");
	expect_eof();
	ck_assert_int_eq(finish(), TXN_ERRORS);
	ck_assert(exists("new/" N1));		/* nothing committed */
	ck_assert(logged("end=errors"));
}
END_TEST

START_TEST(test_long_line_counts)
{
	char line[300];

	fill();
	start(IDLE, 2);
	expect_greeting();
	memset(line, 'x', sizeof(line));
	memcpy(line + sizeof(line) - 2, "\r\n", 2);
	cl_write(line, sizeof(line));
	EXPECT("-ERR line too long");
	cl_write(line, sizeof(line));
	EXPECT("-ERR line too long");
	EXPECT("-ERR Too many errors, closing");
	expect_eof();
	ck_assert_int_eq(finish(), TXN_ERRORS);
}
END_TEST

START_TEST(test_wrong_state)
{
	fill();
	start(IDLE, MANY_ERRORS);
	expect_greeting();
	cl_send("USER bob\r\n");
	EXPECT("-ERR Command not valid in this state");
	cl_send("PASS sekrit word\r\n");
	EXPECT("-ERR Command not valid in this state");
	cl_send("STLS\r\n");
	EXPECT("-ERR Command not valid in this state");
	cl_send("APOP bob 0123456789abcdef0123456789abcdef\r\n");
	EXPECT("-ERR Command not valid in this state");
	cl_send("AUTH PLAIN\r\n");
	EXPECT("-ERR Command not valid in this state");
	cl_send("STAT\r\n");
	ck_assert(strncmp(cl_line(), "+OK 5 ", 6) == 0);
	cl_send("QUIT\r\n");
	EXPECT("+OK kurir POP3 server signing off (5 messages left)");
	ck_assert_int_eq(finish(), TXN_QUIT);
	ck_assert(!logged("sekrit"));
}
END_TEST

START_TEST(test_in_use)
{
	int lfd;

	fill();
	/* another session: a different open file description holds it */
	ck_assert_int_ne(lfd = openat(root_fd, MAILDROP_LOCK,
	    O_RDWR | O_CREAT, 0600), -1);
	ck_assert_int_eq(flock(lfd, LOCK_EX | LOCK_NB), 0);
	start(IDLE, MANY_ERRORS);
	EXPECT("-ERR [IN-USE] Maildrop is locked by another session");
	expect_eof();
	ck_assert_int_eq(finish(), TXN_IN_USE);
	ck_assert(logged("end=in-use"));
	close(lfd);
	/* released: the next session gets in */
	start(IDLE, MANY_ERRORS);
	expect_greeting();
	cl_send("QUIT\r\n");
	EXPECT("+OK kurir POP3 server signing off (5 messages left)");
	ck_assert_int_eq(finish(), TXN_QUIT);
}
END_TEST

START_TEST(test_empty_maildrop)
{
	/* a new user: no tmp/ new/ cur/ yet */
	start(IDLE, MANY_ERRORS);
	EXPECT("+OK maildrop has 0 messages (0 octets)");
	cl_send("STAT\r\nLIST\r\nUIDL\r\nRETR 1\r\nQUIT\r\n");
	EXPECT("+OK 0 0");
	EXPECT("+OK scan listing follows");
	EXPECT(".");
	EXPECT("+OK unique-id listing follows");
	EXPECT(".");
	EXPECT("-ERR no such message");
	EXPECT("+OK kurir POP3 server signing off (0 messages left)");
	ck_assert_int_eq(finish(), TXN_QUIT);
	ck_assert(exists("new") && exists("cur") && exists("tmp"));
}
END_TEST

START_TEST(test_vanished)
{
	fill();
	start(IDLE, 2);
	expect_greeting();
	ck_assert_int_eq(unlinkat(root_fd, "new/" N2, 0), 0);
	/* not the client's fault: does not count towards max_errors */
	cl_send("RETR 2\r\nTOP 2 0\r\nRETR 2\r\n");
	EXPECT("-ERR [SYS/TEMP] message 2 vanished");
	EXPECT("-ERR [SYS/TEMP] message 2 vanished");
	EXPECT("-ERR [SYS/TEMP] message 2 vanished");
	cl_send("DELE 2\r\nRETR 1\r\n");
	EXPECT("+OK message 2 deleted");
	ck_assert(strncmp(cl_line(), "+OK ", 4) == 0);
	expect_body(M1_WIRE, strlen(M1_WIRE));
	cl_send("QUIT\r\n");
	EXPECT("+OK kurir POP3 server signing off (4 messages left)");
	ck_assert_int_eq(finish(), TXN_QUIT);
	ck_assert(exists("cur/" N1 ":2,S"));
}
END_TEST

START_TEST(test_open_failed)
{
	ck_assert_int_eq(mkdirat(root_fd, "tmp", 0700), 0);
	ck_assert_int_eq(mkdirat(root_fd, "cur", 0700), 0);
	put_file("new", "not a directory\n", 16);
	start(IDLE, MANY_ERRORS);
	EXPECT("-ERR [SYS/TEMP] Cannot open the maildrop");
	expect_eof();
	ck_assert_int_eq(finish(), TXN_OPEN_FAILED);
	ck_assert(logged("end=open-failed"));
}
END_TEST

START_TEST(test_update_failed)
{
	fill();
	start(IDLE, MANY_ERRORS);
	expect_greeting();
	cl_send("DELE 1\r\nDELE 2\r\n");
	EXPECT("+OK message 1 deleted");
	EXPECT("+OK message 2 deleted");
	/* a directory under the name: unlink fails (EISDIR), even as root */
	ck_assert_int_eq(unlinkat(root_fd, "new/" N1, 0), 0);
	ck_assert_int_eq(mkdirat(root_fd, "new/" N1, 0700), 0);
	cl_send("QUIT\r\n");
	EXPECT("-ERR [SYS/TEMP] Some deleted messages not removed");
	expect_eof();
	ck_assert_int_eq(finish(), TXN_UPDATE_FAILED);
	ck_assert(!exists("new/" N2));
	ck_assert(logged("end=update-failed"));
}
END_TEST

START_TEST(test_idle_timeout)
{
	struct timespec t0, t1;
	long ms;

	fill();
	start(1, MANY_ERRORS);
	expect_greeting();
	cl_send("NOOP\r\n");
	EXPECT("+OK");
	/* half a command does not restart the clock */
	cl_send("NOO");
	ck_assert_int_eq(clock_gettime(CLOCK_MONOTONIC, &t0), 0);
	expect_eof();				/* no reply at all */
	ck_assert_int_eq(clock_gettime(CLOCK_MONOTONIC, &t1), 0);
	ms = (t1.tv_sec - t0.tv_sec) * 1000 +
	    (t1.tv_nsec - t0.tv_nsec) / 1000000;
	ck_assert_int_ge(ms, 700);
	ck_assert_int_lt(ms, 5000);
	ck_assert_int_eq(finish(), TXN_DROPPED);
	ck_assert(exists("new/" N1));
	ck_assert(logged("end=timeout"));
}
END_TEST

START_TEST(test_write_timeout)
{
	char *big;
	size_t bigsz = 1024 * 1024;

	fill();
	ck_assert_ptr_nonnull(big = malloc(bigsz));
	memset(big, 'y', bigsz);
	put_file("new/" N6, big, bigsz);
	free(big);
	start(1, MANY_ERRORS);
	ck_assert(strncmp(cl_line(), "+OK maildrop has 6", 18) == 0);
	/* megabytes of replies that are never read, then a DELE and QUIT */
	cl_send("RETR 6\r\nRETR 6\r\nRETR 6\r\nRETR 6\r\nDELE 1\r\nQUIT\r\n");
	ck_assert_int_eq(finish(), TXN_DROPPED);
	ck_assert(exists("new/" N1));
	ck_assert(exists("new/" N6));
	ck_assert(logged("end=timeout"));
}
END_TEST

START_TEST(test_half_close)
{
	fill();
	start(IDLE, MANY_ERRORS);
	expect_greeting();
	/* a client that sends its last commands and shuts its side */
	cl_send("DELE 1\r\nQUIT\r\n");
	ck_assert_int_eq(shutdown(cfd, SHUT_WR), 0);
	EXPECT("+OK message 1 deleted");
	EXPECT("+OK kurir POP3 server signing off (4 messages left)");
	expect_eof();
	ck_assert_int_eq(finish(), TXN_QUIT);
	ck_assert(!exists("new/" N1));
}
END_TEST

START_TEST(test_eof_midline)
{
	fill();
	start(IDLE, MANY_ERRORS);
	expect_greeting();
	cl_send("DELE 1\r\nQUI");
	EXPECT("+OK message 1 deleted");
	ck_assert_int_eq(shutdown(cfd, SHUT_WR), 0);
	expect_eof();
	ck_assert_int_eq(finish(), TXN_DROPPED);
	ck_assert(exists("new/" N1));
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("pop3_txn");
	TCase *tc = tcase_create("core");
	SRunner *sr;
	int nf;

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_listings);
	tcase_add_test(tc, test_retr_exact);
	tcase_add_test(tc, test_top);
	tcase_add_test(tc, test_dele_quit);
	tcase_add_test(tc, test_dele_drop);
	tcase_add_test(tc, test_rset);
	tcase_add_test(tc, test_pipelining);
	tcase_add_test(tc, test_many_small_pipelined);
	tcase_add_test(tc, test_read_while_writing);
	tcase_add_test(tc, test_pipelined_during_flush);
	tcase_add_test(tc, test_handed_over);
	tcase_add_test(tc, test_bad_numbers);
	tcase_add_test(tc, test_long_lines);
	tcase_add_test(tc, test_nul);
	tcase_add_test(tc, test_max_errors);
	tcase_add_test(tc, test_bad_arguments_go_on);
	tcase_add_test(tc, test_long_line_counts);
	tcase_add_test(tc, test_wrong_state);
	tcase_add_test(tc, test_in_use);
	tcase_add_test(tc, test_empty_maildrop);
	tcase_add_test(tc, test_vanished);
	tcase_add_test(tc, test_open_failed);
	tcase_add_test(tc, test_update_failed);
	tcase_add_test(tc, test_idle_timeout);
	tcase_add_test(tc, test_write_timeout);
	tcase_add_test(tc, test_half_close);
	tcase_add_test(tc, test_eof_midline);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	nf = srunner_ntests_failed(sr);
	srunner_free(sr);
	return nf == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
