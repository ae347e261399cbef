/*
 * sandbox.c - seccomp allow-lists for the confined programs (sandbox.h).
 *
 * Linux only; the one file that knows about seccomp.  Entered by
 * kurir-smtpd, kurir-auth, kurir-remote and both halves of kurir-pop3d
 * after they have dropped root, chrooted and set up their descriptors
 * and event loop.  It never logs: it returns -1 with errno, the caller
 * logs and decides.
 *
 * Policy, in three tiers, one table row per system call:
 *   allow   what the job needs (the tables below, by profile);
 *   EACCES  everything else: a call nobody foresaw fails like a refused
 *           permission, so the daemon logs it and goes on rather than
 *           dying in the middle of other people's sessions;
 *   kill    calls that only an attacker makes (exec, ptrace, module and
 *           mount calls, uid/gid changes, namespaces, bpf, io_uring,
 *           fork/clone...): the whole process dies with SIGSYS, which the
 *           kernel logs and kurird notices.  Our programs are
 *           single-threaded event loops, so clone is killed too; clone3
 *           alone returns ENOSYS so a libc that tries it first falls
 *           back to clone (and is killed there).  Other architectures than
 *           the native one are killed (no int 0x80 detour on x86_64).
 * Argument filters: mmap/mprotect never with PROT_EXEC (no new code),
 * fcntl only the flag and dup commands (plus locks for the Maildir side),
 * ioctl only FIONREAD (libevent), tgkill only to this process (abort()),
 * socket only AF_INET and AF_INET6 (kurir-remote), sendto only without
 * an address (send(), syslog, c-ares on its connected UDP socket), and
 * outside POP3_USER the stat calls only in their fstat form
 * (AT_EMPTY_PATH; the kernel still honours a path given with that flag,
 * but inside an empty chroot that reveals nothing).
 * No AF_UNIX sockets and no addressed sendto, because a chroot does not
 * hide the abstract UNIX namespace: those would reach other daemons'
 * sockets on the host.  (sendmsg cannot be filtered on its address; it
 * stays for descriptor passing on the links kurird gave us.)
 * A name that does not exist on this architecture (open on aarch64,
 * mmap2 on x86_64) is skipped, so the tables hold both spellings.
 *
 * Profiles:
 *   SMTPD, POP3_PRE  common + socket I/O + accept
 *   AUTH             common + socket I/O (crypt needs nothing more)
 *   REMOTE           common + socket I/O + socket/connect/bind
 *   POP3_USER        common + socket I/O on its client fd + file calls
 *                    (the chroot, not seccomp, confines them to the
 *                    user's Maildir)
 */
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <unistd.h>

#include <seccomp.h>

#include "sandbox.h"

#define P_SMTPD		(1u << SANDBOX_SMTPD)
#define P_AUTH		(1u << SANDBOX_AUTH)
#define P_REMOTE	(1u << SANDBOX_REMOTE)
#define P_POP3_PRE	(1u << SANDBOX_POP3_PRE)
#define P_POP3_USER	(1u << SANDBOX_POP3_USER)
#define P_SEND		(1u << SANDBOX_SEND)
#define P_ALL		(P_SMTPD | P_AUTH | P_REMOTE | P_POP3_PRE | P_POP3_USER | \
			    P_SEND)
#define P_FILES		(P_POP3_USER | P_SEND)	/* inside their chroot */
#define P_NOFILES	(P_ALL & ~P_FILES)
#define P_ACCEPT	(P_SMTPD | P_POP3_PRE)
#define NPROFILES	6

/*
 * AddressSanitizer builds (make asan) run the very same filter; nothing
 * is loosened.  ASan needs no extra call while the program runs, and its
 * reports only write to stderr.  Two things are done early instead,
 * before the filter goes in, and only in that build:
 *  - LeakSanitizer's exit-time check clones a tracer thread that ptraces
 *    the process (both killed here), so the leak check runs once now and
 *    then not again at exit (__lsan_do_leak_check);
 *  - the in-process symbolizer must open the binaries to name the frames
 *    of a report, so it is warmed up now (__sanitizer_symbolize_pc), and
 *    the memory map is cached (__sanitizer_sandbox_on_notify).
 * Without those, reports still come out, as module+offset.
 */
#if defined(__SANITIZE_ADDRESS__)
#define SANDBOX_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SANDBOX_ASAN 1
#endif
#endif
#ifdef SANDBOX_ASAN
void	__lsan_do_leak_check(void);
void	__sanitizer_sandbox_on_notify(void *);
void	__sanitizer_symbolize_pc(void *, const char *, char *, size_t);
#endif

struct sc_allow {
	const char	*name;
	unsigned	 profiles;
};

/* Unconditional allows. */
static const struct sc_allow allow_tab[] = {
	/* descriptors the process already has */
	{ "read", P_ALL }, { "write", P_ALL }, { "readv", P_ALL },
	{ "writev", P_ALL }, { "close", P_ALL }, { "lseek", P_ALL },
	{ "_llseek", P_ALL }, { "fstat", P_ALL }, { "fstat64", P_ALL },
	{ "dup", P_ALL }, { "dup2", P_ALL }, { "dup3", P_ALL },
	{ "pipe2", P_ALL }, { "eventfd2", P_ALL },
	{ "pread64", P_FILES | P_REMOTE }, { "pwrite64", P_FILES },
	/* memory (mmap and mprotect are in cond_tab) */
	{ "brk", P_ALL }, { "munmap", P_ALL }, { "mremap", P_ALL },
	{ "madvise", P_ALL }, { "futex", P_ALL }, { "futex_time64", P_ALL },
	/* time */
	{ "clock_gettime", P_ALL }, { "clock_gettime64", P_ALL },
	{ "clock_getres", P_ALL }, { "clock_nanosleep", P_ALL },
	{ "clock_nanosleep_time64", P_ALL }, { "nanosleep", P_ALL },
	{ "gettimeofday", P_ALL }, { "time", P_ALL },
	/* identity and system facts, read only */
	{ "getpid", P_ALL }, { "gettid", P_ALL }, { "getuid", P_ALL },
	{ "geteuid", P_ALL }, { "getgid", P_ALL }, { "getegid", P_ALL },
	{ "getrandom", P_ALL }, { "uname", P_ALL }, { "sysinfo", P_ALL },
	/* signals and leaving */
	{ "rt_sigreturn", P_ALL }, { "rt_sigprocmask", P_ALL },
	{ "rt_sigaction", P_ALL }, { "sigaltstack", P_ALL },
	{ "restart_syscall", P_ALL }, { "sched_yield", P_ALL },
	{ "exit", P_ALL }, { "exit_group", P_ALL },
	/* event loop (libevent: epoll, a pipe for signals, timerfd when
	 * EVENT_PRECISE_TIMER is set) */
	{ "epoll_create1", P_ALL }, { "epoll_ctl", P_ALL },
	{ "epoll_wait", P_ALL }, { "epoll_pwait", P_ALL },
	{ "epoll_pwait2", P_ALL }, { "poll", P_ALL }, { "ppoll", P_ALL },
	{ "ppoll_time64", P_ALL }, { "select", P_ALL },
	{ "pselect6", P_ALL }, { "pselect6_time64", P_ALL },
	{ "timerfd_create", P_ALL }, { "timerfd_settime", P_ALL },
	{ "timerfd_gettime", P_ALL },
	/* I/O on sockets the process already holds (syslog too) */
	{ "recvfrom", P_ALL }, { "recvmsg", P_ALL }, { "recv", P_ALL },
	{ "sendmsg", P_ALL }, { "send", P_ALL },
	{ "shutdown", P_ALL }, { "getsockopt", P_ALL },
	{ "setsockopt", P_ALL }, { "getpeername", P_ALL },
	{ "getsockname", P_ALL },
	/* new connections: listeners (socket is in cond_tab) */
	{ "accept", P_ACCEPT }, { "accept4", P_ACCEPT },
	{ "connect", P_REMOTE }, { "bind", P_REMOTE },
	/* files: the Maildir, confined by the chroot */
	{ "open", P_FILES }, { "openat", P_FILES },
	{ "rename", P_FILES }, { "renameat", P_FILES },
	{ "renameat2", P_FILES }, { "unlink", P_FILES },
	{ "unlinkat", P_FILES }, { "link", P_FILES },
	{ "linkat", P_FILES }, { "mkdir", P_FILES },
	{ "mkdirat", P_FILES }, { "getdents64", P_FILES },
	{ "stat", P_FILES }, { "lstat", P_FILES },
	{ "newfstatat", P_FILES }, { "fstatat64", P_FILES },
	{ "statx", P_FILES }, { "access", P_FILES },
	{ "faccessat", P_FILES }, { "faccessat2", P_FILES },
	{ "fsync", P_FILES }, { "fdatasync", P_FILES }, { "syncfs", P_FILES },
	{ "flock", P_FILES }, { "ftruncate", P_FILES },
	{ "ftruncate64", P_FILES }, { "utimensat", P_FILES },
};

/*
 * Allowed only when (argument & mask) == value.  Several rows for one
 * call are alternatives.  ARG_SELF: value is our own pid.
 */
struct sc_cond {
	const char	*name;
	unsigned	 profiles;
	unsigned	 arg;
	uint64_t	 mask;
	uint64_t	 value;
};
#define INT_EQ		0xffffffffu	/* compare an int argument */
#define ARG_SELF	UINT64_MAX

static const struct sc_cond cond_tab[] = {
	{ "mmap", P_ALL, 2, PROT_EXEC, 0 },
	{ "mmap2", P_ALL, 2, PROT_EXEC, 0 },
	{ "mprotect", P_ALL, 2, PROT_EXEC, 0 },
	{ "tgkill", P_ALL, 0, INT_EQ, ARG_SELF },
	{ "ioctl", P_ALL, 1, INT_EQ, FIONREAD },
#define FCNTL(cmd, p)	{ "fcntl", p, 1, INT_EQ, cmd }, \
			{ "fcntl64", p, 1, INT_EQ, cmd }
	FCNTL(F_GETFL, P_ALL), FCNTL(F_SETFL, P_ALL),
	FCNTL(F_GETFD, P_ALL), FCNTL(F_SETFD, P_ALL),
	FCNTL(F_DUPFD_CLOEXEC, P_ALL),
	FCNTL(F_GETLK, P_FILES), FCNTL(F_SETLK, P_FILES),
	FCNTL(F_SETLKW, P_FILES), FCNTL(F_OFD_GETLK, P_FILES),
	FCNTL(F_OFD_SETLK, P_FILES), FCNTL(F_OFD_SETLKW, P_FILES),
#undef FCNTL
	{ "newfstatat", P_NOFILES, 3, AT_EMPTY_PATH, AT_EMPTY_PATH },
	{ "fstatat64", P_NOFILES, 3, AT_EMPTY_PATH, AT_EMPTY_PATH },
	{ "statx", P_NOFILES, 2, AT_EMPTY_PATH, AT_EMPTY_PATH },
	{ "socket", P_REMOTE, 0, INT_EQ, AF_INET },
	{ "socket", P_REMOTE, 0, INT_EQ, AF_INET6 },
	{ "sendto", P_ALL, 4, UINT64_MAX, 0 },	/* send(): no address */
};

/* Killed in every profile: nothing legitimate calls them after start-up. */
static const char *const kill_tab[] = {
	"execve", "execveat", "fork", "vfork", "clone",
	"ptrace", "process_vm_readv", "process_vm_writev",
	"kexec_load", "kexec_file_load",
	"init_module", "finit_module", "delete_module",
	"mount", "umount", "umount2", "pivot_root", "chroot", "mount_setattr",
	"fsopen", "fsconfig", "fsmount", "fspick", "move_mount", "open_tree",
	"open_by_handle_at",
	"setuid", "setgid", "setreuid", "setregid", "setresuid", "setresgid",
	"setgroups", "setfsuid", "setfsgid", "setuid32", "setgid32",
	"setreuid32", "setregid32", "setresuid32", "setresgid32",
	"setgroups32", "setfsuid32", "setfsgid32", "capset",
	"bpf", "perf_event_open", "userfaultfd",
	"keyctl", "add_key", "request_key",
	"personality", "unshare", "setns",
	"io_uring_setup", "io_uring_enter", "io_uring_register",
	"reboot", "swapon", "swapoff", "iopl", "ioperm",
};

static int
rule_add(scmp_filter_ctx ctx, uint32_t action, const char *name,
    unsigned n, const struct scmp_arg_cmp *cmp)
{
	int nr, rc;

	/* unknown here, or a multiplexed pseudo-call: nothing to filter */
	if ((nr = seccomp_syscall_resolve_name(name)) < 0)
		return 0;
	if ((rc = seccomp_rule_add_array(ctx, action, nr, n, cmp)) < 0)
		return rc;
	return 0;
}

static int
filter_build(scmp_filter_ctx ctx, unsigned bit, uint32_t kill)
{
	struct scmp_arg_cmp cmp;
	const struct sc_cond *c;
	uint64_t value;
	size_t i;
	int rc;

	for (i = 0; i < sizeof(allow_tab) / sizeof(allow_tab[0]); i++)
		if ((allow_tab[i].profiles & bit) &&
		    (rc = rule_add(ctx, SCMP_ACT_ALLOW, allow_tab[i].name,
		    0, NULL)) < 0)
			return rc;
	for (i = 0; i < sizeof(cond_tab) / sizeof(cond_tab[0]); i++) {
		c = &cond_tab[i];
		if (!(c->profiles & bit))
			continue;
		value = c->value == ARG_SELF ? (uint64_t)getpid() : c->value;
		cmp = (struct scmp_arg_cmp){ c->arg, SCMP_CMP_MASKED_EQ,
		    c->mask, value };
		if ((rc = rule_add(ctx, SCMP_ACT_ALLOW, c->name, 1, &cmp)) < 0)
			return rc;
	}
	for (i = 0; i < sizeof(kill_tab) / sizeof(kill_tab[0]); i++)
		if ((rc = rule_add(ctx, kill, kill_tab[i], 0, NULL)) < 0)
			return rc;
	/* glibc tries clone3 first and falls back on ENOSYS */
	return rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), "clone3", 0, NULL);
}

int
sandbox_enter(enum sandbox_profile p)
{
	scmp_filter_ctx ctx;
	uint32_t kill;
	int rc;

	if ((unsigned)p >= NPROFILES) {
		errno = EINVAL;
		return -1;
	}
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == -1)
		return -1;
	/* SECCOMP_RET_KILL_PROCESS needs Linux 4.14 (API level 3) */
	kill = seccomp_api_get() >= 3 ? SCMP_ACT_KILL_PROCESS : SCMP_ACT_KILL;
	if ((ctx = seccomp_init(SCMP_ACT_ERRNO(EACCES))) == NULL) {
		errno = ENOMEM;
		return -1;
	}
	/* the kernel's own errno if loading fails, not just ECANCELED */
	(void)seccomp_attr_set(ctx, SCMP_FLTATR_API_SYSRAWRC, 1);
	rc = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, kill);
	if (rc == 0)
		rc = filter_build(ctx, 1u << p, kill);
#ifdef SANDBOX_ASAN
	if (rc == 0) {
		char sym[256];

		__lsan_do_leak_check();
		__sanitizer_symbolize_pc(__builtin_return_address(0),
		    "%p %F %L", sym, sizeof(sym));
		__sanitizer_sandbox_on_notify(NULL);
	}
#endif
	if (rc == 0)
		rc = seccomp_load(ctx);
	seccomp_release(ctx);
	if (rc < 0) {
		errno = -rc;
		return -1;
	}
	return 0;
}

const char *
sandbox_name(enum sandbox_profile p)
{
	static const char *const names[NPROFILES] = {
		"smtpd", "auth", "remote", "pop3-pre", "pop3-user", "send",
	};

	if ((unsigned)p >= NPROFILES)
		return "unknown";
	return names[p];
}
