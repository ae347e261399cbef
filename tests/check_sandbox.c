/*
 * check_sandbox.c - unit tests for common/sandbox.c.
 *
 * Every test runs in check's forked child (CK_FORK is forced on), but the
 * sandbox is entered only in a grandchild forked from there, which
 * reports through its exit status: check's own bookkeeping in the child
 * (it measures each test's duration with a timer clock, timer_create,
 * which every profile denies) must never run confined, or the result
 * would depend on the machine.  Calls that must kill the process run in
 * such a grandchild too (no core file) and its wait status is checked;
 * the TLS test's unconfined child plays the client.  Runs as any user;
 * as root the AF_PACKET and setuid checks prove the filter, not missing
 * privilege.
 */
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <check.h>
#include <crypt.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <tls.h>

#include "sandbox.h"

#define NPROFILES	6

/*
 * In a grandchild: report on stderr and exit 1.  check's asserts are for
 * the child that waits: they must not run confined.
 */
#define GC_FAIL(fmt, ...) do {						\
	fprintf(stderr, "%s:%d: " fmt " (errno %d)\n", __FILE__,	\
	    __LINE__, __VA_ARGS__, errno);				\
	_exit(1);							\
} while (0)
#define GC_CHECK(e) do {						\
	if (!(e))							\
		GC_FAIL("failed: %s", #e);				\
} while (0)
#define GC_CMP(a, op, b) do {						\
	long long a_ = (long long)(a), b_ = (long long)(b);		\
	if (!(a_ op b_))						\
		GC_FAIL("failed: %s %s %s (%lld, %lld)", #a, #op, #b,	\
		    a_, b_);						\
} while (0)
#define GC_EQ(a, b)	GC_CMP(a, ==, b)
#define GC_NE(a, b)	GC_CMP(a, !=, b)
#define GC_GE(a, b)	GC_CMP(a, >=, b)
#define GC_GT(a, b)	GC_CMP(a, >, b)
#define GC_NONNULL(x)	GC_CHECK((x) != NULL)

/* in a grandchild that entered profile p: a call failed with errno err */
#define DENIED(call, err) do {						\
	long rc_;							\
	errno = 0;							\
	rc_ = (long)(call);						\
	if (rc_ != -1 || errno != (err))				\
		GC_FAIL("%s: %s: expected errno %d, got %d (rc %ld)",	\
		    sandbox_name(p), #call, (err), errno, rc_);		\
} while (0)

/* Fork; the grandchild runs fn(arg), which enters a sandbox itself.
 * Returns its wait status (exit 0 when fn returned). */
static int
run_grandchild(void (*fn)(void *), void *arg)
{
	struct rlimit no_core = { 0, 0 };
	pid_t pid;
	int status;

	ck_assert_int_ne(pid = fork(), -1);
	if (pid == 0) {
		setrlimit(RLIMIT_CORE, &no_core);
		fn(arg);
		_exit(0);
	}
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	return status;
}

/* In a grandchild: enter p or exit 100. */
static void
gc_enter(enum sandbox_profile p)
{
	if (sandbox_enter(p) == -1) {
		fprintf(stderr, "sandbox_enter(%s): %s\n", sandbox_name(p),
		    strerror(errno));
		_exit(100);
	}
}

struct sandboxed_call {
	enum sandbox_profile	 p;
	void			(*fn)(void *);
	void			*arg;
};

static void
enter_and_call(void *arg)
{
	struct sandboxed_call *c = arg;

	gc_enter(c->p);
	c->fn(c->arg);
}

/* The grandchild enters p and runs fn.  Returns its wait status. */
static int
run_sandboxed(enum sandbox_profile p, void (*fn)(void *), void *arg)
{
	struct sandboxed_call c = { p, fn, arg };

	return run_grandchild(enter_and_call, &c);
}

static void
ck_exited_ok(int status, const char *what)
{
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	    "%s: %s %d", what, WIFSIGNALED(status) ? "signal" : "exit",
	    WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
}

/* --- ordinary work ------------------------------------------------- */

static int ticks;

static void
on_timer(evutil_socket_t fd, short what, void *arg)
{
	ticks++;
}

static void
on_readable(evutil_socket_t fd, short what, void *arg)
{
	char c;

	if (read(fd, &c, 1) == 1)
		ticks++;
}

static void
on_signal(evutil_socket_t sig, short what, void *arg)
{
	ticks++;
	event_base_loopbreak(arg);
}

/* a timer, a readable pipe and a signal through one event_base */
static void
check_event_loop(struct event_base *base)
{
	struct timeval tv = { 0, 10000 };
	struct event *t, *r, *s;
	int fds[2];

	ticks = 0;
	GC_EQ(pipe2(fds, O_NONBLOCK | O_CLOEXEC), 0);
	GC_NONNULL(t = evtimer_new(base, on_timer, NULL));
	GC_NONNULL(r = event_new(base, fds[0], EV_READ, on_readable,
	    NULL));
	GC_EQ(evtimer_add(t, &tv), 0);
	GC_EQ(event_add(r, NULL), 0);
	GC_EQ(write(fds[1], "x", 1), 1);
	/* 1: it ran until no event was left */
	GC_EQ(event_base_dispatch(base), 1);
	GC_EQ(ticks, 2);

	GC_NONNULL(s = evsignal_new(base, SIGUSR1, on_signal, base));
	GC_EQ(event_add(s, NULL), 0);
	GC_EQ(raise(SIGUSR1), 0);	/* tgkill to ourselves */
	GC_EQ(event_base_dispatch(base), 0);
	GC_EQ(ticks, 3);
	event_free(s);
	event_free(r);
	event_free(t);
	close(fds[0]);
	close(fds[1]);
}

/* ordinary work of every service, done confined: in a grandchild */
static void
work_body(void *arg)
{
	enum sandbox_profile p = *(enum sandbox_profile *)arg;
	struct event_base *before, *after;
	struct timespec ts;
	struct timeval tv;
	struct stat st;
	char *small[512], *big, buf[64];
	size_t i, bigsz = (size_t)64 << 20;
	int fds[2], n, fl;

	GC_NONNULL(before = event_base_new());
	gc_enter(p);

	for (i = 0; i < 512; i++) {
		GC_NONNULL(small[i] = malloc(8 + i * 7));
		memset(small[i], (int)i, 8 + i * 7);
	}
	GC_NONNULL(big = malloc(bigsz));	/* mmap */
	memset(big, 1, bigsz);
	GC_NONNULL(big = realloc(big, 2 * bigsz));	/* mremap */
	big[2 * bigsz - 1] = 2;
	free(big);
	for (i = 0; i < 512; i++)
		free(small[i]);

	GC_EQ(pipe2(fds, O_CLOEXEC), 0);
	GC_EQ(write(fds[1], "hello", 5), 5);
	GC_EQ(ioctl(fds[0], FIONREAD, &n), 0);
	GC_EQ(n, 5);
	GC_EQ(read(fds[0], buf, sizeof(buf)), 5);
	GC_NE(fl = fcntl(fds[0], F_GETFL), -1);
	GC_EQ(fcntl(fds[0], F_SETFL, fl | O_NONBLOCK), 0);
	GC_EQ(fcntl(fds[0], F_SETFD, FD_CLOEXEC), 0);
	GC_EQ(fcntl(fds[0], F_GETFD), FD_CLOEXEC);
	GC_GE(n = fcntl(fds[0], F_DUPFD_CLOEXEC, 0), 0);
	GC_EQ(close(n), 0);
	GC_EQ(fstat(fds[0], &st), 0);
	GC_CHECK(S_ISFIFO(st.st_mode));
	GC_EQ(fstatat(fds[0], "", &st, AT_EMPTY_PATH), 0);
	GC_EQ(read(fds[0], buf, 1), -1);
	GC_EQ(errno, EAGAIN);

	GC_EQ(clock_gettime(CLOCK_MONOTONIC, &ts), 0);
	GC_EQ(clock_gettime(CLOCK_REALTIME, &ts), 0);
	GC_EQ(gettimeofday(&tv, NULL), 0);
	GC_CHECK(time(NULL) > 0);
	GC_EQ(getrandom(buf, sizeof(buf), 0), (int)sizeof(buf));
	GC_GT(getpid(), 0);
	ts.tv_sec = 0;
	ts.tv_nsec = 1000;
	GC_EQ(nanosleep(&ts, NULL), 0);

	check_event_loop(before);
	GC_NONNULL(after = event_base_new());
	check_event_loop(after);
	event_base_free(after);
	event_base_free(before);
	close(fds[0]);
	close(fds[1]);
}

START_TEST(test_work)
{
	enum sandbox_profile p = (enum sandbox_profile)_i;

	ck_exited_ok(run_grandchild(work_body, &p), sandbox_name(p));
}
END_TEST

/* --- denied calls fail with EACCES --------------------------------- */

/* in a grandchild: what each profile must refuse, with EACCES where
 * the filter answers rather than kills */
static void
denied_body(void *arg)
{
	enum sandbox_profile p = *(enum sandbox_profile *)arg;
	struct sockaddr_un sun;
	struct sockaddr_in sin;
	struct stat st;
	socklen_t len = sizeof(sin);
	pid_t parent = getppid();
	char *page;
	int lsock, usock, dsock, fd, one = 1, rc, sp[2], pair[2];
	long pagesz = sysconf(_SC_PAGESIZE);

	/* a listener and an unconnected socket made before entering */
	GC_GE(lsock = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK,
	    0), 0);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	GC_EQ(bind(lsock, (struct sockaddr *)&sin, sizeof(sin)), 0);
	GC_EQ(listen(lsock, 5), 0);
	GC_EQ(getsockname(lsock, (struct sockaddr *)&sin, &len), 0);
	GC_GE(usock = socket(AF_UNIX, SOCK_STREAM, 0), 0);
	GC_GE(dsock = socket(AF_UNIX, SOCK_DGRAM, 0), 0);
	GC_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, sp), 0);
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	strcpy(sun.sun_path, "/nonexistent/kurir-sandbox.sock");
	page = mmap(NULL, (size_t)pagesz, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	GC_CHECK(page != MAP_FAILED);

	gc_enter(p);

	/* files */
	if (p == SANDBOX_POP3_USER || p == SANDBOX_SEND) {
		GC_GE(fd = open("/etc/passwd", O_RDONLY), 0);
		close(fd);
		GC_EQ(stat("/etc/passwd", &st), 0);
	} else {
		DENIED(open("/etc/passwd", O_RDONLY), EACCES);
		DENIED(openat(AT_FDCWD, "/etc/passwd", O_RDONLY), EACCES);
		DENIED(stat("/etc/passwd", &st), EACCES);
		DENIED(fstatat(AT_FDCWD, "/etc/passwd", &st, 0), EACCES);
		DENIED(unlink("/nonexistent"), EACCES);
		DENIED(mkdir("/tmp/kurir-sandbox-denied", 0700), EACCES);
		/* kurir-remote reads the queue entry it is handed */
		if (p != SANDBOX_REMOTE)
			DENIED(pread(usock, &one, 1, 0), EACCES);
		DENIED(fcntl(usock, F_SETLK, NULL), EACCES);
	}
	DENIED(rmdir("/nonexistent"), EACCES);
	DENIED(chmod("/nonexistent", 0), EACCES);

	/* sockets */
	if (p == SANDBOX_REMOTE) {
		GC_GE(fd = socket(AF_INET, SOCK_STREAM, 0), 0);
		GC_EQ(connect(fd, (struct sockaddr *)&sin,
		    sizeof(sin)), 0);
		close(fd);
		GC_GE(fd = socket(AF_INET6, SOCK_DGRAM, 0), 0);
		close(fd);
		/* as c-ares does: connected UDP, send() without address */
		GC_GE(fd = socket(AF_INET, SOCK_DGRAM, 0), 0);
		GC_EQ(connect(fd, (struct sockaddr *)&sin,
		    sizeof(sin)), 0);
		GC_EQ(send(fd, "q", 1, 0), 1);
		close(fd);
		DENIED(connect(usock, (struct sockaddr *)&sun, sizeof(sun)),
		    ENOENT);
	} else {
		DENIED(socket(AF_INET, SOCK_STREAM, 0), EACCES);
		DENIED(socket(AF_INET6, SOCK_DGRAM, 0), EACCES);
		DENIED(connect(usock, (struct sockaddr *)&sun, sizeof(sun)),
		    EACCES);
		DENIED(bind(usock, (struct sockaddr *)&sun, sizeof(sun)),
		    EACCES);
	}
	/* the abstract UNIX namespace ignores chroot: no way in */
	DENIED(socket(AF_UNIX, SOCK_STREAM, 0), EACCES);
	DENIED(socket(AF_UNIX, SOCK_DGRAM, 0), EACCES);
	DENIED(sendto(dsock, "x", 1, 0, (struct sockaddr *)&sun,
	    sizeof(sun)), EACCES);
	GC_EQ(send(sp[0], "x", 1, 0), 1);
	GC_EQ(recv(sp[1], &one, 1, 0), 1);
	GC_EQ(sendto(sp[0], "x", 1, 0, NULL, 0), 1);
	DENIED(socket(AF_PACKET, SOCK_RAW, 0), EACCES);
	DENIED(socket(AF_NETLINK, SOCK_RAW, 0), EACCES);
	DENIED(socketpair(AF_UNIX, SOCK_STREAM, 0, pair), EACCES);
	DENIED(listen(usock, 1), EACCES);
	if (p == SANDBOX_SMTPD || p == SANDBOX_POP3_PRE)
		DENIED(accept4(lsock, NULL, NULL, SOCK_CLOEXEC), EAGAIN);
	else
		DENIED(accept4(lsock, NULL, NULL, SOCK_CLOEXEC), EACCES);
	GC_EQ(setsockopt(lsock, SOL_SOCKET, SO_KEEPALIVE, &one,
	    sizeof(one)), 0);

	/* memory: no new executable pages */
	GC_CHECK(mmap(NULL, (size_t)pagesz, PROT_READ | PROT_EXEC,
	    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0) == MAP_FAILED);
	GC_EQ(errno, EACCES);
	DENIED(mprotect(page, (size_t)pagesz, PROT_READ | PROT_EXEC), EACCES);
	GC_EQ(mprotect(page, (size_t)pagesz, PROT_READ), 0);

	/* argument filters and the rest */
	DENIED(ioctl(usock, FIONBIO, &one), EACCES);
	DENIED(ioctl(0, TIOCSTI, "x"), EACCES);
	DENIED(fcntl(usock, F_SETOWN, 1), EACCES);
	DENIED(kill(parent, 0), EACCES);
	DENIED(syscall(SYS_tgkill, parent, parent, 0), EACCES);
	DENIED(syscall(SYS_clone3, NULL, 0), ENOSYS);
	DENIED(prctl(PR_SET_DUMPABLE, 1), EACCES);
	DENIED(syscall(SYS_getppid), EACCES);
	DENIED(chdir("/"), EACCES);
	DENIED(syscall(SYS_memfd_create, "x", 0), EACCES);
	rc = syscall(SYS_getpid);
	GC_EQ(rc, getpid());
}

START_TEST(test_denied)
{
	enum sandbox_profile p = (enum sandbox_profile)_i;

	ck_exited_ok(run_grandchild(denied_body, &p), sandbox_name(p));
}
END_TEST

/* --- calls that kill ----------------------------------------------- */

static void
do_execve(void *arg)
{
	char *argv[] = { "true", NULL }, *envp[] = { NULL };

	execve("/bin/true", argv, envp);
}
static void do_setuid(void *arg) { syscall(SYS_setuid, 0); }
static void do_setresgid(void *arg) { syscall(SYS_setresgid, 0, 0, 0); }
static void do_setgroups(void *arg) { syscall(SYS_setgroups, 0, NULL); }
static void do_ptrace(void *arg) { ptrace(PTRACE_TRACEME, 0, NULL, NULL); }
static void do_fork(void *arg) { fork(); }
static void do_unshare(void *arg) { unshare(CLONE_NEWUSER); }
static void do_chroot(void *arg) { chroot("/"); }
static void do_bpf(void *arg) { syscall(SYS_bpf, 0, NULL, 0); }
static void do_uring(void *arg) { syscall(SYS_io_uring_setup, 1, NULL); }
static void do_pvm(void *arg) { syscall(SYS_process_vm_readv, 1, NULL,
    0, NULL, 0, 0); }
#if defined(__x86_64__)
/* the x32 ABI must not be a way around the x86_64 filter */
static void do_x32(void *arg) { syscall(0x40000000 | SYS_getpid); }
#endif

static const struct {
	const char *name;
	void (*fn)(void *);
} killers[] = {
	{ "execve", do_execve }, { "setuid", do_setuid },
	{ "setresgid", do_setresgid }, { "setgroups", do_setgroups },
	{ "ptrace", do_ptrace }, { "fork", do_fork },
	{ "unshare", do_unshare }, { "chroot", do_chroot },
	{ "bpf", do_bpf }, { "io_uring_setup", do_uring },
	{ "process_vm_readv", do_pvm },
#if defined(__x86_64__)
	{ "x32 getpid", do_x32 },
#endif
};
#define NKILLERS	(int)(sizeof(killers) / sizeof(killers[0]))

START_TEST(test_killed)
{
	enum sandbox_profile p = (enum sandbox_profile)(_i / NKILLERS);
	int k = _i % NKILLERS, status;

	status = run_sandboxed(p, killers[k].fn, NULL);
	ck_assert_msg(WIFSIGNALED(status) && WTERMSIG(status) == SIGSYS,
	    "%s: %s: not killed by SIGSYS (status %#x)", sandbox_name(p),
	    killers[k].name, status);
}
END_TEST

/* --- TLS inside SMTPD ---------------------------------------------- */

/* Test-only key pair (P-256, self-signed, CN=sandbox.test). */
static const char tls_cert[] =
    "-----BEGIN CERTIFICATE-----\n"
    "MIIBhTCCASugAwIBAgIUbhEpzneSYUj5IWpyL1bSuFj0WskwCgYIKoZIzj0EAwIw\n"
    "FzEVMBMGA1UEAwwMc2FuZGJveC50ZXN0MCAXDTI2MTEyNzE5Mjk0OFoYDzIxMjYx\n"
    "MTAzMTkyOTQ4WjAXMRUwEwYDVQQDDAxzYW5kYm94LnRlc3QwWTATBgcqhkjOPQIB\n"
    "BggqhkjOPQMBBwNCAASwG71qW4V3ZwYi1tl06tWPpLvQvxLjcLAqur5E4TuPBjkC\n"
    "vtsJTh+dxNa4f3qJp8rCBEsExZRPLZng/z9La4zZo1MwUTAdBgNVHQ4EFgQUcVbp\n"
    "phiEfj5RQm909EDvvI089wswHwYDVR0jBBgwFoAUcVbpphiEfj5RQm909EDvvI08\n"
    "9wswDwYDVR0TAQH/BAUwAwEB/zAKBggqhkjOPQQDAgNIADBFAiBCHk7zWNxh7xSC\n"
    "a6Yy+n45GmFD7qSCGBGcbwXeiMu5JAIhAOHTDc4HFPt51FasdEPyl8R0GKIWeoUX\n"
    "I4Ni3GTCCxqL\n"
    "-----END CERTIFICATE-----\n";
static const char tls_key[] =
    "-----BEGIN PRIVATE KEY-----\n"
    "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgtKLEr+z3nS6EPdX/\n"
    "KZzfs1aaUD7HUzT4fHFqJbfyzLehRANCAASwG71qW4V3ZwYi1tl06tWPpLvQvxLj\n"
    "cLAqur5E4TuPBjkCvtsJTh+dxNa4f3qJp8rCBEsExZRPLZng/z9La4zZ\n"
    "-----END PRIVATE KEY-----\n";

/* the server, as kurir-smtpd builds it on a reload: context and all
 * made inside the sandbox */
static void
tls_serve(void *arg)
{
	struct tls_config *cfg;
	struct tls *srv, *cctx;
	char buf[16];
	ssize_t n;
	int fd = *(int *)arg;

	GC_CHECK((cfg = tls_config_new()) != NULL);
	GC_CHECK(tls_config_set_keypair_mem(cfg, (const uint8_t *)tls_cert,
	    sizeof(tls_cert) - 1, (const uint8_t *)tls_key,
	    sizeof(tls_key) - 1) == 0);
	GC_CHECK((srv = tls_server()) != NULL);
	GC_CHECK(tls_configure(srv, cfg) == 0);
	GC_CHECK(tls_accept_socket(srv, &cctx, fd) == 0);
	GC_CHECK(tls_handshake(cctx) == 0);
	while ((n = tls_read(cctx, buf, sizeof(buf))) == TLS_WANT_POLLIN ||
	    n == TLS_WANT_POLLOUT)
		;
	GC_CHECK(n == 5);
	GC_CHECK(memcmp(buf, "hello", 5) == 0);
	GC_CHECK(tls_write(cctx, "world", 5) == 5);
	tls_close(cctx);
	tls_free(cctx);
	tls_free(srv);
	tls_config_free(cfg);
}

START_TEST(test_smtpd_tls)
{
	struct tls_config *cfg;
	struct tls *cli;
	char buf[16];
	ssize_t n;
	int sv[2];
	pid_t pid;
	int status;

	signal(SIGPIPE, SIG_IGN);	/* as the programs do: a close_notify
					 * may meet a closed peer */
	ck_assert_int_eq(tls_init(), 0);	/* kurir-smtpd does, before */
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	ck_assert_int_ne(pid = fork(), -1);
	if (pid == 0) {
		close(sv[0]);
		if (sandbox_enter(SANDBOX_SMTPD) == -1)
			_exit(100);
		tls_serve(&sv[1]);
		_exit(0);
	}
	close(sv[1]);
	ck_assert_ptr_nonnull(cfg = tls_config_new());
	tls_config_insecure_noverifycert(cfg);
	tls_config_insecure_noverifyname(cfg);
	ck_assert_ptr_nonnull(cli = tls_client());
	ck_assert_int_eq(tls_configure(cli, cfg), 0);
	ck_assert_int_eq(tls_connect_socket(cli, sv[0], "sandbox.test"), 0);
	ck_assert_msg(tls_handshake(cli) == 0, "%s", tls_error(cli));
	ck_assert_int_eq(tls_write(cli, "hello", 5), 5);
	while ((n = tls_read(cli, buf, sizeof(buf))) == TLS_WANT_POLLIN ||
	    n == TLS_WANT_POLLOUT)
		;
	ck_assert_msg(n == 5, "tls_read: %zd %s", n, tls_error(cli));
	ck_assert_int_eq(memcmp(buf, "world", 5), 0);
	tls_close(cli);
	tls_free(cli);
	tls_config_free(cfg);
	close(sv[0]);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_exited_ok(status, "TLS server");
}
END_TEST

/* --- crypt inside AUTH --------------------------------------------- */

/* in a grandchild: salts made unconfined, then hashing inside AUTH */
static void
auth_crypt_body(void *arg)
{
	static const char *const prefixes[] = { "$y$", "$2b$", "$6$" };
	char setting[3][CRYPT_GENSALT_OUTPUT_SIZE], hash[256];
	const char *h, *s;
	size_t i;
	enum sandbox_profile p = SANDBOX_AUTH;

	for (i = 0; i < 3; i++) {
		GC_NONNULL(s = crypt_gensalt(prefixes[i], 0, NULL, 0));
		GC_CHECK(strlcpy(setting[i], s, sizeof(setting[i])) <
		    sizeof(setting[i]));
	}
	gc_enter(p);
	for (i = 0; i < 3; i++) {
		GC_NONNULL(h = crypt("secret", setting[i]));
		GC_CHECK(h[0] == '$');
		GC_CHECK(strlcpy(hash, h, sizeof(hash)) < sizeof(hash));
		GC_CHECK(strcmp(crypt("secret", hash), hash) == 0);
		GC_CHECK(strcmp(crypt("wrong", hash), hash) != 0);
	}
	/* a fresh salt draws on getrandom */
	GC_NONNULL(s = crypt_gensalt("$2b$", 0, NULL, 0));
	GC_EQ(strncmp(s, "$2b$", 4), 0);
	DENIED(open("/etc/shadow", O_RDONLY), EACCES);
}

START_TEST(test_auth_crypt)
{
	ck_exited_ok(run_grandchild(auth_crypt_body, NULL), "auth crypt");
}
END_TEST

/* --- Maildir work inside POP3_USER --------------------------------- */

static void
maildir_work(void *arg)
{
	struct dirent *de;
	struct flock fl;
	struct stat st;
	DIR *d;
	char buf[8];
	int fd, n = 0;

	GC_CHECK(mkdir("tmp", 0700) == 0 && mkdir("new", 0700) == 0 &&
	    mkdir("cur", 0700) == 0);
	GC_CHECK((fd = open("tmp/1.x", O_WRONLY | O_CREAT | O_EXCL, 0600))
	    >= 0);
	GC_CHECK(write(fd, "line\n", 5) == 5);
	GC_CHECK(fsync(fd) == 0 && fdatasync(fd) == 0);
	GC_CHECK(close(fd) == 0);
	GC_CHECK(link("tmp/1.x", "new/1.x") == 0);
	GC_CHECK(unlink("tmp/1.x") == 0);
	GC_CHECK(rename("new/1.x", "cur/1.x:2,S") == 0);
	GC_CHECK(stat("cur/1.x:2,S", &st) == 0 && st.st_size == 5);
	GC_CHECK(access("cur/1.x:2,S", R_OK) == 0);
	GC_CHECK((fd = open("cur/1.x:2,S", O_RDWR)) >= 0);
	GC_CHECK(pread(fd, buf, 4, 0) == 4 && memcmp(buf, "line", 4) == 0);
	GC_CHECK(pwrite(fd, "LINE", 4, 0) == 4);
	GC_CHECK(ftruncate(fd, 4) == 0);
	GC_CHECK(flock(fd, LOCK_EX | LOCK_NB) == 0);
	memset(&fl, 0, sizeof(fl));
	fl.l_type = F_WRLCK;
	fl.l_whence = SEEK_SET;
	GC_CHECK(fcntl(fd, F_SETLK, &fl) == 0);
	fl.l_type = F_UNLCK;
	GC_CHECK(fcntl(fd, F_SETLK, &fl) == 0);
	fl.l_type = F_WRLCK;
	GC_CHECK(fcntl(fd, F_OFD_SETLK, &fl) == 0);
	GC_CHECK(close(fd) == 0);
	GC_CHECK((d = opendir("cur")) != NULL);
	while ((de = readdir(d)) != NULL)
		n++;
	GC_CHECK(closedir(d) == 0 && n == 3);
	/* still no network, no way out of the mailbox */
	errno = 0;
	GC_CHECK(socket(AF_INET, SOCK_STREAM, 0) == -1 && errno == EACCES);
	GC_CHECK(socket(AF_UNIX, SOCK_STREAM, 0) == -1 && errno == EACCES);
	GC_CHECK(chdir("/") == -1 && errno == EACCES);
	GC_CHECK(symlink("/", "root") == -1 && errno == EACCES);
	GC_CHECK(chmod("cur", 0777) == -1 && errno == EACCES);
}

/* the profiles with file access: a Maildir's work (kurir-local, pop3)
 * and the queue's (kurir-send) are the same calls */
START_TEST(test_file_profiles)
{
	char dir[] = "/tmp/kurir-sandbox-XXXXXX", cwd[4096];
	int status;

	ck_assert_ptr_nonnull(getcwd(cwd, sizeof(cwd)));
	ck_assert_ptr_nonnull(mkdtemp(dir));
	ck_assert_int_eq(chdir(dir), 0);
	status = run_sandboxed((enum sandbox_profile)_i, maildir_work, NULL);
	unlink("tmp/1.x");
	unlink("new/1.x");
	unlink("cur/1.x:2,S");
	rmdir("tmp");
	rmdir("new");
	rmdir("cur");
	ck_assert_int_eq(chdir(cwd), 0);
	ck_assert_int_eq(rmdir(dir), 0);
	ck_exited_ok(status, "file work");
}
END_TEST

/* --- the API ------------------------------------------------------- */

START_TEST(test_names)
{
	ck_assert_str_eq(sandbox_name(SANDBOX_SMTPD), "smtpd");
	ck_assert_str_eq(sandbox_name(SANDBOX_AUTH), "auth");
	ck_assert_str_eq(sandbox_name(SANDBOX_REMOTE), "remote");
	ck_assert_str_eq(sandbox_name(SANDBOX_POP3_PRE), "pop3-pre");
	ck_assert_str_eq(sandbox_name(SANDBOX_POP3_USER), "pop3-user");
	ck_assert_str_eq(sandbox_name(SANDBOX_SEND), "send");
	ck_assert_str_eq(sandbox_name((enum sandbox_profile)99), "unknown");
	errno = 0;
	ck_assert_int_eq(sandbox_enter((enum sandbox_profile)99), -1);
	ck_assert_int_eq(errno, EINVAL);
	/* and that failure left the process unconfined */
	ck_assert_int_eq(getppid() > 0, 1);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("sandbox");
	TCase *tc = tcase_create("core");
	SRunner *sr;
	int failed;

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_names);
	tcase_add_loop_test(tc, test_work, 0, NPROFILES);
	tcase_add_loop_test(tc, test_denied, 0, NPROFILES);
	tcase_add_loop_test(tc, test_killed, 0, NPROFILES * NKILLERS);
	tcase_add_test(tc, test_smtpd_tls);
	tcase_add_test(tc, test_auth_crypt);
	tcase_add_loop_test(tc, test_file_profiles, SANDBOX_POP3_USER,
	    SANDBOX_SEND + 1);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_set_fork_status(sr, CK_FORK);	/* the sandbox needs it */
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
