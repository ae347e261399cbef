/*
 * log.c - syslog or stderr logging, one line per event (see log.h).
 */
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

static const char *log_prog = "kurir";
static int log_stderr = 1;
static int log_pipe;		/* lines to kurird over stderr (KURIR_LOG) */
static int log_relay_fd = -1;	/* kurird: datagrams to /dev/log */
#define LOG_RELAY_WAIT_MS	50	/* the most one line may wait for it */
static int log_verbose;
static char log_host[64];

void
log_init(const char *prog, int to_stderr)
{
	char *dot;

	log_prog = prog;
	log_stderr = to_stderr;
	if (gethostname(log_host, sizeof(log_host)) == -1)
		strlcpy(log_host, "localhost", sizeof(log_host));
	log_host[sizeof(log_host) - 1] = '\0';
	if ((dot = strchr(log_host, '.')) != NULL)
		*dot = '\0';
	tzset();
	log_pipe = getenv("KURIR_LOG") != NULL &&
	    strcmp(getenv("KURIR_LOG"), "pipe") == 0;
	if (!to_stderr && !log_pipe)
		openlog(prog, LOG_PID | LOG_NDELAY, LOG_MAIL);
}

void
log_set_verbose(int v)
{
	log_verbose = v;
}

void
log_vlog(int pri, int with_errno, const char *fmt, va_list ap)
{
	char msg[2048], stamp[32];
	int saved = errno;
	size_t n;
	struct tm tm;
	time_t now;

	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (with_errno) {
		n = strlen(msg);
		snprintf(msg + n, sizeof(msg) - n, ": %s", strerror(saved));
	}
	/* never let a logged peer string break the one-line rule */
	for (n = 0; msg[n] != '\0'; n++)
		if ((unsigned char)msg[n] < 0x20 || msg[n] == 0x7f)
			msg[n] = '?';
	if (log_pipe) {
		/* one write, shorter than PIPE_BUF: lines never interleave */
		n = strlen(msg);
		if (n > sizeof(msg) - 5)
			n = sizeof(msg) - 5;
		memmove(msg + 3, msg, n);
		msg[0] = '<';
		msg[1] = (char)('0' + (pri & 7));
		msg[2] = '>';
		msg[n + 3] = '\n';
		(void)!write(STDERR_FILENO, msg, n + 4);
	} else if (log_stderr) {
		now = time(NULL);
		localtime_r(&now, &tm);
		strftime(stamp, sizeof(stamp), "%b %e %H:%M:%S", &tm);
		fprintf(stderr, "%s %s %s[%ld]: %s\n", stamp, log_host,
		    log_prog, (long)getpid(), msg);
	} else
		syslog(pri, "%s", msg);
	errno = saved;
}

/* kurird's own socket to the syslog daemon, for its children's lines */
static int
log_relay_socket(void)
{
	struct timeval wait = { 0, LOG_RELAY_WAIT_MS * 1000 };
	struct sockaddr_un sun;
	const char *path;

	if (log_relay_fd >= 0)
		return 0;
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	/* KURIR_SYSLOG_SOCKET: another daemon's socket (the tests' own) */
	path = getenv("KURIR_SYSLOG_SOCKET");
	if (path == NULL || *path == '\0')
		path = _PATH_LOG;
	if (strlcpy(sun.sun_path, path, sizeof(sun.sun_path)) >=
	    sizeof(sun.sun_path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if ((log_relay_fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) == -1)
		return -1;
	if (setsockopt(log_relay_fd, SOL_SOCKET, SO_SNDTIMEO, &wait,
	    sizeof(wait)) == -1 ||
	    connect(log_relay_fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		close(log_relay_fd);
		log_relay_fd = -1;
		return -1;
	}
	return 0;
}

/*
 * One datagram to the syslog daemon.  A slow daemon may hold us up to
 * LOG_RELAY_WAIT_MS once; then for a second lines that do not fit are
 * dropped and counted, so neither a hung daemon nor a child that floods
 * can freeze kurird.  0, or -1 when the line was dropped.
 */
static time_t log_relay_congested;	/* drop without waiting until then */
static unsigned long log_relay_dropped;

static int
log_relay_send(const char *msg, size_t len)
{
	time_t now = time(NULL);
	int flags = now < log_relay_congested ? MSG_DONTWAIT : 0;

	if (log_relay_socket() == -1)
		return -1;		/* no syslog daemon: as syslog(3) */
	if (send(log_relay_fd, msg, len, flags) >= 0)
		return 0;
	if (errno == EAGAIN || errno == EWOULDBLOCK) {
		log_relay_congested = now + 1;
		log_relay_dropped++;
		return -1;
	}
	close(log_relay_fd);		/* the daemon restarted: reconnect */
	log_relay_fd = -1;
	if (log_relay_socket() == -1 ||
	    send(log_relay_fd, msg, len, MSG_DONTWAIT) == -1) {
		log_relay_dropped++;
		return -1;
	}
	return 0;
}

void
log_relay(int pri, const char *prog, long pid, const char *text)
{
	char msg[2048 + 128], stamp[32];
	struct tm tm;
	time_t now;
	size_t i, start;
	int n;

	now = time(NULL);
	localtime_r(&now, &tm);
	strftime(stamp, sizeof(stamp), "%b %e %H:%M:%S", &tm);
	if (!log_stderr && log_relay_dropped > 0 && now >= log_relay_congested) {
		n = snprintf(msg, sizeof(msg), "<%d>%s %s[%ld]: %lu log lines "
		    "dropped: the syslog daemon was too slow", LOG_MAIL |
		    LOG_WARNING, stamp, log_prog, (long)getpid(),
		    log_relay_dropped);
		if (n > 0 && (size_t)n < sizeof(msg) &&
		    log_relay_send(msg, (size_t)n) == 0)
			log_relay_dropped = 0;
	}
	if (log_stderr)
		n = snprintf(msg, sizeof(msg), "%s %s %s[%ld]: ", stamp,
		    log_host, prog, pid);
	else	/* RFC 3164, as syslog(3) sends it, facility mail */
		n = snprintf(msg, sizeof(msg), "<%d>%s %s[%ld]: ",
		    LOG_MAIL | (pri & 7), stamp, prog, pid);
	if (n < 0 || (size_t)n >= sizeof(msg))
		return;
	start = (size_t)n;
	strlcpy(msg + start, text, sizeof(msg) - start);
	for (i = start; msg[i] != '\0'; i++)
		if ((unsigned char)msg[i] < 0x20 || msg[i] == 0x7f)
			msg[i] = '?';
	if (log_stderr)
		fprintf(stderr, "%s\n", msg);
	else
		(void)log_relay_send(msg, strlen(msg));
}

#define LOGFN(name, pri, err)					\
void								\
name(const char *fmt, ...)					\
{								\
	va_list ap;						\
	va_start(ap, fmt);					\
	log_vlog(pri, err, fmt, ap);				\
	va_end(ap);						\
}
LOGFN(log_info, LOG_INFO, 0)
LOGFN(log_warn, LOG_WARNING, 1)
LOGFN(log_warnx, LOG_WARNING, 0)

void
log_debug(const char *fmt, ...)
{
	va_list ap;

	if (!log_verbose)
		return;
	va_start(ap, fmt);
	log_vlog(LOG_DEBUG, 0, fmt, ap);
	va_end(ap);
}

void
fatal(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vlog(LOG_CRIT, 1, fmt, ap);
	va_end(ap);
	exit(EX_OSERR);
}

void
fatalx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vlog(LOG_CRIT, 0, fmt, ap);
	va_end(ap);
	exit(EX_SOFTWARE);
}
