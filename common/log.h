/*
 * log.h - one line per event, syslog-style.
 *
 * To syslog (facility mail) by default; to stderr with the same
 * "Mon DD HH:MM:SS host prog[pid]: text" shape when a program runs in the
 * foreground (-d).  A process that kurird started (KURIR_LOG=pipe in its
 * environment) writes "<level>text\n" lines to its stderr, a pipe that
 * kurird reads and logs under the child's name and pid (log_relay): it
 * opens no syslog socket of its own.  Lines about a message start with its queue id
 * ("0006449f1c2a3b40: from=<...>") so that an admin can grep one message's
 * life.  Library code logs and returns -1; only main() calls fatal().
 */
#ifndef KURIR_LOG_H
#define KURIR_LOG_H

#include <stdarg.h>

void	log_init(const char *prog, int to_stderr);
void	log_set_verbose(int);
void	log_info(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_debug(const char *, ...) __attribute__((format(printf, 1, 2)));
/* log_warn appends ": strerror(errno)"; log_warnx does not */
void	log_warn(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_warnx(const char *, ...) __attribute__((format(printf, 1, 2)));
/* fatal exits with EX_OSERR / fatalx with EX_SOFTWARE, after logging */
void	fatal(const char *, ...) __attribute__((format(printf, 1, 2), noreturn));
void	fatalx(const char *, ...) __attribute__((format(printf, 1, 2), noreturn));
void	log_vlog(int pri, int with_errno, const char *, va_list)
	    __attribute__((format(printf, 3, 0)));
/*
 * kurird: log a line that child prog[pid] sent (level pri, 0..7), to
 * stderr or syslog as kurird's own go, with the child's name and pid;
 * control bytes in text become '?'.
 */
void	log_relay(int pri, const char *prog, long pid, const char *text);

#endif
