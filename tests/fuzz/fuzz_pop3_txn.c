/*
 * fuzz_pop3_txn.c - libFuzzer target for pop3d/txn.c (with maildrop.c
 * and cmd.c), the TRANSACTION and UPDATE states of the kurir-pop3d
 * session process (mail user, chrooted into one Maildir).
 *
 * The input is the byte stream a client sends after login.  A small
 * Maildir is laid out once per process in a temporary directory (under
 * /dev/shm when there is one: UPDATE fsyncs): four messages in new/ (one
 * with lines starting with '.', one without a final newline, one with
 * CRLF line ends, one empty, and bare CRs) and two in cur/ (flags "F" and "S"; one
 * without a blank line).  Each run writes the input (at most IN_CAP
 * octets) into one end of a socketpair, shuts that side down (EOF) and
 * calls txn_serve() on the other end in-process, idle timeout 5 s and
 * a limit of MAX_ERRS bad commands in a row (reached only by many short
 * lines that are no command after login).
 * The replies stay far below the socket buffer (SO_SNDBUF raised too),
 * so txn_serve never waits on them; they are read back with
 * MSG_DONTWAIT once it has returned.
 *
 * Aborts unless the reply stream is byte for byte what a model of the
 * session predicts: the login answer, then one reply per complete
 * command line (LF-terminated, or a line run past POP3_LINE_MAX: one
 * "-ERR line too long"), up to QUIT or the error limit: the -ERR text
 * cmd.c gives, STAT / LIST / UIDL from the deleted marks, RETR and TOP
 * bodies converted (CRLF, dot-stuffed) by a separate line-based
 * converter, DELE / RSET / CAPA / NOOP / QUIT; unless txn_serve returns
 * the end the model expects; unless the Maildir afterwards holds exactly
 * tmp/ (empty), new/, cur/ and the lock file, with the messages where
 * the model puts them (after QUIT: deleted ones gone, retrieved ones in
 * cur/ with S added; otherwise unchanged).  After a QUIT that changed
 * something, new/ and cur/ are laid out again.
 * Seeds: tests/fuzz/corpus/pop3_txn/.
 *
 * The fuzz build compiles only the common sources, so the session code
 * comes in here.
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../pop3d/txn.c"
#include "../../pop3d/maildrop.c"
#include "../../pop3d/cmd.c"

#define IN_CAP		2048		/* input octets used at most */
#define MAX_ERRS	1000		/* the session's error limit */
#define OUT_CAP		(512 * 1024)	/* replies expected / read at most */
#define SNDBUF		(1024 * 1024)

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/* In delivery order: the session numbers them 1..NMSGS. */
static const struct fz_msg {
	const char	*path;		/* as laid out */
	const char	*seen;		/* after RETR + QUIT */
	const char	*uid;
	const char	*data;
} msgs[] = {
	{ "new/1700000001.M1.fz", "cur/1700000001.M1.fz:2,S",
	    "1700000001.M1.fz",
	    "From: a@b\nSubject: one\n\n.dot\n..two\nplain\n.\nlast\n" },
	{ "new/1700000002.M2.fz", "cur/1700000002.M2.fz:2,S",
	    "1700000002.M2.fz", "Subject: two\n\nbody\nno final newline" },
	{ "new/1700000003.M3.fz", "cur/1700000003.M3.fz:2,S",
	    "1700000003.M3.fz",
	    "Subject: three\r\n\r\nbody1\r\n.body2\r\n\r\nend\r\n"
	    "bare\r.\r\rQUIT\r" },
	{ "new/1700000004.M4.fz", "cur/1700000004.M4.fz:2,S",
	    "1700000004.M4.fz", "" },
	{ "cur/1700000005.M5.fz:2,F", "cur/1700000005.M5.fz:2,FS",
	    "1700000005.M5.fz", "Subject: five\n\n.\n" },
	{ "cur/1700000006.M6.fz:2,S", "cur/1700000006.M6.fz:2,S",
	    "1700000006.M6.fz", "X-Only: header\n.no blank line\n" },
};
#define NMSGS	(sizeof(msgs) / sizeof(msgs[0]))

static char topdir[64];
static int root_fd = -1;
static char expbuf[OUT_CAP], outbuf[OUT_CAP];
static size_t explen;

/* ---- the Maildir -------------------------------------------------------- */

static int
rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	if (flag == FTW_DP)
		return rmdir(path);
	return unlink(path);
}

static void
cleanup(void)
{
	nftw(topdir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* Empty sub/ (new/ or cur/). */
static void
clear_dir(const char *sub)
{
	struct dirent *e;
	DIR *dir;
	int fd;

	if ((fd = openat(root_fd, sub, O_RDONLY | O_DIRECTORY)) == -1 ||
	    (dir = fdopendir(fd)) == NULL)
		abort();
	while ((e = readdir(dir)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		if (unlinkat(fd, e->d_name, 0) == -1)
			abort();
	}
	closedir(dir);
}

/* new/ and cur/ as at the start. */
static void
lay_out(void)
{
	size_t i, len;
	int fd;

	clear_dir("new");
	clear_dir("cur");
	for (i = 0; i < NMSGS; i++) {
		len = strlen(msgs[i].data);
		if ((fd = openat(root_fd, msgs[i].path,
		    O_WRONLY | O_CREAT | O_EXCL, 0600)) == -1 ||
		    write(fd, msgs[i].data, len) != (ssize_t)len)
			abort();
		close(fd);
	}
}

static void
setup_once(void)
{
	struct stat st;
	const char *base = "/tmp";

	if (root_fd != -1)
		return;
	log_init("fuzz_pop3_txn", 0);	/* syslog: quiet on stderr */
	if (stat("/dev/shm", &st) == 0 && S_ISDIR(st.st_mode) &&
	    access("/dev/shm", W_OK) == 0)
		base = "/dev/shm";
	snprintf(topdir, sizeof(topdir), "%s/fuzz_pop3_txn.XXXXXX", base);
	if (mkdtemp(topdir) == NULL ||
	    (root_fd = open(topdir, O_RDONLY | O_DIRECTORY)) == -1)
		abort();
	atexit(cleanup);
	if (mkdirat(root_fd, "tmp", 0700) == -1 ||
	    mkdirat(root_fd, "new", 0700) == -1 ||
	    mkdirat(root_fd, "cur", 0700) == -1)
		abort();
	lay_out();
}

/* Is name (sub/name) one of the expected paths, not yet seen?  Marks it. */
static void
expect_file(const char *sub, const char *name, const char **want,
    int *found, size_t nwant)
{
	char path[300];
	size_t i;

	snprintf(path, sizeof(path), "%s/%s", sub, name);
	for (i = 0; i < nwant; i++)
		if (want[i] != NULL && !found[i] && strcmp(want[i], path) == 0) {
			found[i] = 1;
			return;
		}
	abort();		/* a file the model does not have */
}

/* The Maildir holds exactly want[] in new/ and cur/, nothing else. */
static void
check_disk(const char **want)
{
	static const char *const top[] = { "tmp", "new", "cur", MAILDROP_LOCK };
	int found[NMSGS] = { 0 }, seen_top[4] = { 0 };
	struct dirent *e;
	DIR *dir;
	size_t i;
	int fd;

	if ((fd = dup(root_fd)) == -1 || (dir = fdopendir(fd)) == NULL)
		abort();
	rewinddir(dir);
	while ((e = readdir(dir)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		for (i = 0; i < 4; i++)
			if (strcmp(e->d_name, top[i]) == 0)
				break;
		if (i == 4 || seen_top[i]++)
			abort();	/* a stray file in the Maildir */
	}
	closedir(dir);
	for (i = 0; i < 3; i++)
		if (!seen_top[i])
			abort();
	for (i = 0; i < 3; i++) {
		if ((fd = openat(root_fd, top[i], O_RDONLY | O_DIRECTORY)) == -1 ||
		    (dir = fdopendir(fd)) == NULL)
			abort();
		while ((e = readdir(dir)) != NULL) {
			if (strcmp(e->d_name, ".") == 0 ||
			    strcmp(e->d_name, "..") == 0)
				continue;
			if (i == 0)
				abort();	/* something left in tmp/ */
			expect_file(top[i], e->d_name, want, found, NMSGS);
		}
		closedir(dir);
	}
	for (i = 0; i < NMSGS; i++)
		if (want[i] != NULL && !found[i])
			abort();	/* a message lost */
}

/* ---- the model ---------------------------------------------------------- */

static void
exp_add(const char *p, size_t n)
{
	if (n > sizeof(expbuf) - explen)
		abort();		/* IN_CAP too large for OUT_CAP */
	memcpy(expbuf + explen, p, n);
	explen += n;
}

static void exp_line(const char *, ...) __attribute__((format(printf, 1, 2)));

static void
exp_line(const char *fmt, ...)
{
	char line[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(line) - 2)
		abort();
	memcpy(line + n, "\r\n", 2);
	exp_add(line, (size_t)n + 2);
}

/* Octets as listed: every LF as CRLF, a CRLF added to a last line. */
/* Length of the line at d (up to LF, CR LF or a CR alone), and in *next
 * where the line after it starts. */
static size_t
line_at(const char *d, size_t n, size_t *next)
{
	size_t l = 0;

	while (l < n && d[l] != '\n' && d[l] != '\r')
		l++;
	*next = l;
	if (l < n)
		*next += d[l] == '\r' && l + 1 < n && d[l + 1] == '\n' ? 2 : 1;
	return l;
}

static unsigned long long
msg_size(size_t i)
{
	const char *d = msgs[i].data;
	size_t n = strlen(d), pos = 0, next;
	unsigned long long sz = 0;

	while (pos < n) {
		sz += line_at(d + pos, n - pos, &next) + 2;
		pos += next;
	}
	return sz;
}

/*
 * A message on the wire, line by line: each line (ended by LF, CR LF or
 * a CR alone; a last line without an end too) gets CRLF, a leading '.'
 * one more, so no bare CR goes out; TOP stops after the header (up to an
 * empty line) and `lines' more.  Then ".".
 */
static void
exp_body(size_t i, int top, unsigned long lines)
{
	const char *d = msgs[i].data;
	size_t n = strlen(d), pos = 0, l, next;
	int in_body = 0;

	while (pos < n) {
		if (top && in_body && lines == 0)
			break;
		l = line_at(d + pos, n - pos, &next);
		if (l > 0 && d[pos] == '.')
			exp_add(".", 1);
		exp_add(d + pos, l);
		exp_add("\r\n", 2);
		if (in_body) {
			if (top)
				lines--;
		} else if (l == 0)
			in_body = 1;
		pos += next;
	}
	exp_add(".\r\n", 3);
}

struct model {
	int		 deleted[NMSGS];
	int		 seen[NMSGS];
	unsigned	 bad_run;	/* bad commands in a row */
};

static void
m_stat(const struct model *m, size_t *count, unsigned long long *octets)
{
	size_t i;

	*count = 0;
	*octets = 0;
	for (i = 0; i < NMSGS; i++)
		if (!m->deleted[i]) {
			(*count)++;
			*octets += msg_size(i);
		}
}

/* an ordinary -ERR (no such message, a bad number): not counted */
static void
m_err(struct model *m, const char *text)
{
	exp_line("-ERR %s", text);
}

/* a line that is no command of this state: counted while in a row */
static void
m_bad(struct model *m, const char *text)
{
	m->bad_run++;
	exp_line("-ERR %s", text);
}

/* Message num (1-based) if there and not deleted: its index, else -1. */
static long
m_msg(const struct model *m, unsigned long num)
{
	if (num == 0 || num > NMSGS || m->deleted[num - 1])
		return -1;
	return (long)num - 1;
}

/* One command line: 1 if it was a QUIT (the session ends). */
static int
m_command(struct model *m, const char *line, size_t len)
{
	static const char *const capa[] = {
		"+OK Capability list follows", "TOP", "UIDL", "RESP-CODES",
		"AUTH-RESP-CODE", "PIPELINING", "USER", "SASL PLAIN",
		"IMPLEMENTATION kurir", ".",
	};
	struct pop3_req req;
	const char *err;
	unsigned long long octets;
	size_t i, count;
	char *copy;
	long k;
	int r;

	/* an exact-size copy: the parser writes into it */
	if ((copy = malloc(len ? len : 1)) == NULL)
		abort();
	memcpy(copy, line, len);
	r = pop3_parse(copy, len, &req, &err);
	free(copy);
	if (r == -1) {
		if (pop3_err_is_bad_command(err))
			m_bad(m, err);
		else
			m_err(m, err);
		return 0;
	}
	if (!pop3_allowed(P3_TRANSACTION, req.cmd)) {
		m_bad(m, "Command not valid in this state");
		return 0;
	}
	m->bad_run = 0;
	switch (req.cmd) {
	case P3_STAT:
		m_stat(m, &count, &octets);
		exp_line("+OK %zu %llu", count, octets);
		return 0;
	case P3_LIST:
	case P3_UIDL:
		if (req.nnums == 1) {
			if ((k = m_msg(m, req.num[0])) == -1)
				m_err(m, "no such message");
			else if (req.cmd == P3_UIDL)
				exp_line("+OK %lu %s", req.num[0], msgs[k].uid);
			else
				exp_line("+OK %lu %llu", req.num[0],
				    msg_size((size_t)k));
			return 0;
		}
		exp_line("+OK %s listing follows",
		    req.cmd == P3_UIDL ? "unique-id" : "scan");
		for (i = 0; i < NMSGS; i++) {
			if (m->deleted[i])
				continue;
			if (req.cmd == P3_UIDL)
				exp_line("%zu %s", i + 1, msgs[i].uid);
			else
				exp_line("%zu %llu", i + 1, msg_size(i));
		}
		exp_line(".");
		return 0;
	case P3_RETR:
	case P3_TOP:
		if ((k = m_msg(m, req.num[0])) == -1) {
			m_err(m, "no such message");
			return 0;
		}
		if (req.cmd == P3_TOP)
			exp_line("+OK top of message follows");
		else {
			exp_line("+OK %llu octets", msg_size((size_t)k));
			m->seen[k] = 1;
		}
		exp_body((size_t)k, req.cmd == P3_TOP, req.num[1]);
		return 0;
	case P3_DELE:
		if (req.num[0] == 0 || req.num[0] > NMSGS)
			m_err(m, "no such message");
		else if (m->deleted[req.num[0] - 1]) {
			exp_line("-ERR message %lu already deleted", req.num[0]);
		} else {
			m->deleted[req.num[0] - 1] = 1;
			exp_line("+OK message %lu deleted", req.num[0]);
		}
		return 0;
	case P3_NOOP:
		exp_line("+OK");
		return 0;
	case P3_RSET:
		memset(m->deleted, 0, sizeof(m->deleted));
		m_stat(m, &count, &octets);
		exp_line("+OK maildrop has %zu messages (%llu octets)", count,
		    octets);
		return 0;
	case P3_CAPA:
		for (i = 0; i < sizeof(capa) / sizeof(capa[0]); i++)
			exp_line("%s", capa[i]);
		return 0;
	case P3_QUIT:
		m_stat(m, &count, &octets);
		exp_line("+OK kurir POP3 server signing off (%zu messages "
		    "left)", count);
		return 1;
	default:
		abort();	/* pop3_allowed let through no other */
	}
}

/*
 * The whole session as txn.c should run it on input that is all there
 * before it starts: the expected replies in expbuf, the end returned.
 */
static enum txn_end
m_session(struct model *m, const char *in, size_t n)
{
	const char *lf;
	size_t pos = 0, rest, scan, len;
	unsigned long long octets;
	size_t count;
	int discard = 0, quit;

	memset(m, 0, sizeof(*m));
	explen = 0;
	m_stat(m, &count, &octets);
	exp_line("+OK maildrop has %zu messages (%llu octets)", count, octets);
	for (;;) {
		if (discard) {
			if ((lf = memchr(in + pos, '\n', n - pos)) == NULL)
				return TXN_DROPPED;
			pos = (size_t)(lf - in) + 1;
			discard = 0;
		}
		rest = n - pos;
		scan = rest < POP3_LINE_MAX ? rest : POP3_LINE_MAX;
		quit = 0;
		if ((lf = memchr(in + pos, '\n', scan)) == NULL) {
			if (rest < POP3_LINE_MAX)
				return TXN_DROPPED;	/* EOF mid-line */
			discard = 1;
			m_bad(m, "line too long");
		} else {
			len = (size_t)(lf - (in + pos));
			if (len > 0 && in[pos + len - 1] == '\r')
				len--;
			quit = m_command(m, in + pos, len);
			pos = (size_t)(lf - in) + 1;
		}
		if (quit)
			return TXN_QUIT;
		if (m->bad_run >= MAX_ERRS) {
			exp_line("-ERR Too many errors, closing");
			return TXN_ERRORS;
		}
	}
}

/* ---- the run ------------------------------------------------------------ */

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct txn_limits lim = { .idle_timeout = 5,
	    .max_errors = MAX_ERRS };
	const char *want[NMSGS];
	struct model m;
	enum txn_end end, mend;
	size_t got = 0, i;
	ssize_t r;
	int sv[2], sb = SNDBUF, changed = 0;

	if (size > IN_CAP)
		return 0;
	setup_once();
	mend = m_session(&m, (const char *)data, size);

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == -1)
		abort();
	/* best effort: the replies fit the default buffer anyway */
	(void)setsockopt(sv[1], SOL_SOCKET, SO_SNDBUF, &sb, sizeof(sb));
	if (size > 0 && send(sv[0], data, size, MSG_NOSIGNAL) != (ssize_t)size)
		abort();
	if (shutdown(sv[0], SHUT_WR) == -1)
		abort();
	end = txn_serve(sv[1], root_fd, "fuzz", &lim);
	for (;;) {
		r = recv(sv[0], outbuf + got, sizeof(outbuf) - got,
		    MSG_DONTWAIT);
		if (r > 0) {
			got += (size_t)r;
			if (got == sizeof(outbuf))
				abort();	/* far more than expected */
			continue;
		}
		if (r == -1 && errno == EINTR)
			continue;
		if (r == 0 || errno == EAGAIN || errno == EWOULDBLOCK)
			break;
		abort();
	}
	close(sv[0]);
	close(sv[1]);

	if (end != mend)
		abort();
	if (got != explen || memcmp(outbuf, expbuf, got) != 0)
		abort();

	for (i = 0; i < NMSGS; i++) {
		want[i] = msgs[i].path;
		if (end != TXN_QUIT)
			continue;	/* nothing changes on disk */
		if (m.deleted[i])
			want[i] = NULL;
		else if (m.seen[i])
			want[i] = msgs[i].seen;
		if (want[i] != msgs[i].path)
			changed = 1;
	}
	check_disk(want);
	if (changed)
		lay_out();
	return 0;
}
