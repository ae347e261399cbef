/*
 * log.c - syslog or stderr logging, one line per event (see log.h).
 */
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
	if (!to_stderr)
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
	if (log_stderr) {
		now = time(NULL);
		localtime_r(&now, &tm);
		strftime(stamp, sizeof(stamp), "%b %e %H:%M:%S", &tm);
		fprintf(stderr, "%s %s %s[%ld]: %s\n", stamp, log_host,
		    log_prog, (long)getpid(), msg);
	} else
		syslog(pri, "%s", msg);
	errno = saved;
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
