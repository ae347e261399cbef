/*
 * main.c - kurir-sendmail: the sendmail-compatible local injection command.
 *
 *   kurir-sendmail [-C CONF] [-t] [-i] [-oi] [-f SENDER] [-F NAME] [--] [RCPT...]
 *
 * Runs as the invoking user, never set-uid: it reads the message on
 * stdin, prepares it (inject.c) and hands it to kurir-queue over the
 * queue socket (qclient.c), which learns our uid from the socket.  Exit
 * status (sysexits.h): 0 only once the message is durably queued;
 * EX_TEMPFAIL (75) when it could not be queued now; EX_USAGE, EX_DATAERR,
 * EX_NOUSER, EX_CONFIG, EX_IOERR for permanent problems, each with one
 * "kurir-sendmail: reason" line on stderr.  Quiet on success.
 *
 * Called as "mailq" (or with -bp) it runs "kurirctl -f CONF queue" from
 * the same directory; -q runs "kurirctl -f CONF flush".  The options real
 * callers pass (cron: -FCronDaemon -i -B8BITMIME -oem; PHP mail(): -t -i;
 * mailx: -i --; git send-email: -i -f ADDR --) are accepted, and those
 * that mean nothing here are ignored, as other sendmails do.
 */
#include <sys/types.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include "addr.h"
#include "conf.h"
#include "inject.h"
#include "log.h"
#include "qclient.h"

#define SM_PROG		"kurir-sendmail"

enum sm_mode { SM_DELIVER, SM_MAILQ, SM_FLUSH, SM_NOOP };

struct sm_args {
	enum sm_mode	 mode;
	const char	*conf;		/* -C */
	const char	*sender;	/* -f / -r, NULL if not given */
	const char	*fullname;	/* -F */
	int		 extract;	/* -t */
	int		 no_dot;	/* -i, -oi */
};

static void	sm_die(int, const char *, ...)
		    __attribute__((format(printf, 2, 3), noreturn));

static void
sm_die(int code, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	size_t i;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	/* one line, whatever the text carries */
	for (i = 0; msg[i] != '\0'; i++)
		if ((unsigned char)msg[i] < 32 || msg[i] == 127)
			msg[i] = '?';
	fprintf(stderr, "%s: %s\n", SM_PROG, msg);
	exit(code);
}

static void __attribute__((noreturn))
sm_usage(void)
{
	fprintf(stderr, "usage: %s [-C conf] [-t] [-i] [-oi] [-f sender] "
	    "[-F name] [--] [recipient ...]\n", SM_PROG);
	exit(EX_USAGE);
}

/* Run kurirctl from our own directory: mailq, -bp and -q. */
static void __attribute__((noreturn))
sm_exec_ctl(const char *confpath, const char *cmd)
{
	char self[PATH_MAX], ctl[PATH_MAX];
	ssize_t n;
	char *slash;

	if ((n = readlink("/proc/self/exe", self, sizeof(self) - 1)) == -1)
		sm_die(EX_UNAVAILABLE, "cannot find kurirctl: /proc/self/exe: %s",
		    strerror(errno));
	self[n] = '\0';
	if ((slash = strrchr(self, '/')) == NULL)
		sm_die(EX_UNAVAILABLE, "cannot find kurirctl next to %s", self);
	*slash = '\0';
	if ((size_t)snprintf(ctl, sizeof(ctl), "%s/kurirctl", self) >=
	    sizeof(ctl))
		sm_die(EX_UNAVAILABLE, "cannot find kurirctl: path too long");
	fflush(NULL);
	execl(ctl, "kurirctl", "-f", confpath, cmd, (char *)NULL);
	sm_die(EX_UNAVAILABLE, "cannot run %s: %s", ctl, strerror(errno));
}

static void
sm_mode_b(struct sm_args *a, const char *m)
{
	if (strcmp(m, "m") == 0)
		a->mode = SM_DELIVER;
	else if (strcmp(m, "p") == 0)
		a->mode = SM_MAILQ;
	else if (strcmp(m, "i") == 0)
		a->mode = SM_NOOP;	/* newaliases: tables are read live */
	else if (strcmp(m, "s") == 0)
		sm_die(EX_USAGE, "-bs (SMTP on standard input) is not supported; "
		    "use SMTP on the submission port");
	else
		sm_die(EX_USAGE, "-b%s is not supported", m);
}

static void
sm_parse_args(struct sm_args *a, int argc, char *argv[])
{
	/* every option sendmail, Postfix and Exim document that callers
	 * use; those taking values take them attached or separate */
	static const char opts[] = ":A:B:b:C:d:e:F:f:Gh:IiL:mN:nO:o:p:q::R:r:tUV:vX:";
	int ch;

	opterr = 0;
	while ((ch = getopt(argc, argv, opts)) != -1) {
		switch (ch) {
		case 'b':
			sm_mode_b(a, optarg);
			break;
		case 'C':
			a->conf = optarg;
			break;
		case 'F':
			a->fullname = optarg;
			break;
		case 'f':
		case 'r':	/* the old name of -f */
			a->sender = optarg;
			break;
		case 'I':
			a->mode = SM_NOOP;
			break;
		case 'i':
			a->no_dot = 1;
			break;
		case 'o':
			/* -oi is -i; -oem, -odb, -oQ... mean nothing here */
			if (strcmp(optarg, "i") == 0)
				a->no_dot = 1;
			break;
		case 'q':
			/* -q runs the queue now; -q15m (a daemon) is ignored */
			if (optarg == NULL)
				a->mode = SM_FLUSH;
			break;
		case 't':
			a->extract = 1;
			break;
		case 'v':
			log_set_verbose(1);
			break;
		case 'A': case 'B': case 'd': case 'e': case 'G': case 'h':
		case 'L': case 'm': case 'N': case 'n': case 'O': case 'p':
		case 'R': case 'U': case 'V': case 'X':
			break;	/* accepted and ignored, as other sendmails do */
		case ':':
			sm_die(EX_USAGE, "option -%c needs a value", optopt);
		default:
			if (optopt != 0)
				sm_die(EX_USAGE, "unknown option -%c (try -i, -t, "
				    "-f, -F, -C)", optopt);
			sm_usage();
		}
	}
}

/* The invoking user's login name, for the sender and From. */
static const char *
sm_login(char *buf, size_t len)
{
	struct passwd *pw;

	errno = 0;
	if ((pw = getpwuid(getuid())) != NULL && pw->pw_name[0] != '\0') {
		if (strlcpy(buf, pw->pw_name, len) < len)
			return buf;
	}
	/* no passwd entry (containers): the uid still names the user */
	snprintf(buf, len, "uid%lu", (unsigned long)getuid());
	return buf;
}

static int
sm_exit_code(int errnum)
{
	switch (errnum) {
	case EINVAL:
		return EX_NOUSER;
	case EMSGSIZE:
	case E2BIG:
		return EX_DATAERR;
	case ENOMEM:
		return EX_TEMPFAIL;
	default:
		return EX_IOERR;
	}
}

int
main(int argc, char *argv[])
{
	struct sm_args a;
	struct inject_opts o;
	struct inject ij;
	struct conf conf;
	char err[1024], login[256], sender[ADDR_TEXT_MAX];
	char luser[ADDR_TEXT_MAX], id[QCLIENT_ID_MAX];
	const char *base, *confpath;
	enum qclient_result r;
	int i;

	log_init(SM_PROG, 1);
	/* a queue that goes away mid-submission must give an error, not
	 * kill us silently */
	signal(SIGPIPE, SIG_IGN);
	memset(&a, 0, sizeof(a));
	base = strrchr(argv[0], '/') ? strrchr(argv[0], '/') + 1 : argv[0];
	if (strcmp(base, "mailq") == 0)
		a.mode = SM_MAILQ;
	sm_parse_args(&a, argc, argv);
	argc -= optind;
	argv += optind;
	confpath = conf_path(a.conf);

	switch (a.mode) {
	case SM_MAILQ:
		sm_exec_ctl(confpath, "queue");
	case SM_FLUSH:
		sm_exec_ctl(confpath, "flush");
	case SM_NOOP:
		return 0;
	case SM_DELIVER:
		break;
	}
	/* fail before reading stdin, as sendmail does */
	if (argc == 0 && !a.extract)
		sm_die(EX_USAGE, "no recipients given (name them, or use -t)");
	if (conf_load(&conf, confpath, err, sizeof(err)) == -1)
		sm_die(EX_CONFIG, "%s", err);

	memset(&o, 0, sizeof(o));
	o.dot_ends = !a.no_dot;
	o.extract = a.extract;
	o.max_size = (size_t)conf.message_size_limit;
	o.hostname = conf.hostname;
	o.fullname = a.fullname;
	if (inject_sender(sm_login(login, sizeof(login)), o.hostname, luser,
	    sizeof(luser), err, sizeof(err)) == -1)
		sm_die(EX_NOUSER, "cannot use the login name as sender: %s", err);
	if (a.sender == NULL)
		strlcpy(sender, luser, sizeof(sender));
	else if (inject_sender(a.sender, o.hostname, sender, sizeof(sender),
	    err, sizeof(err)) == -1)
		sm_die(EX_DATAERR, "%s", err);
	/* an added From: names the envelope sender, as sendmail and
	 * Postfix do; for the null sender, the user who sent it */
	o.from_addr = sender[0] != '\0' ? sender : luser;

	inject_init(&ij);
	for (i = 0; i < argc; i++)
		if (inject_add_rcpts(&ij, argv[i], &o) == -1)
			sm_die(sm_exit_code(errno), "%s", ij.err);
	if (inject_read(&ij, STDIN_FILENO, &o) == -1)
		sm_die(sm_exit_code(errno), "%s", ij.err);
	if (inject_prepare(&ij, &o) == -1)
		sm_die(sm_exit_code(errno), "%s", ij.err);
	if (ij.nrcpts == 0)
		sm_die(EX_USAGE, "no recipients (none given, none found by -t)");

	r = qclient_submit(&conf, sender, (const char * const *)ij.rcpts,
	    ij.nrcpts, ij.msg.data, ij.msg.len, id, err, sizeof(err));
	switch (r) {
	case QCLIENT_OK:
		log_debug("queued as %s", id);
		break;
	case QCLIENT_TEMPFAIL:
		sm_die(EX_TEMPFAIL, "message not queued, try again later: %s",
		    err);
	case QCLIENT_PERMFAIL:
	default:
		sm_die(EX_DATAERR, "message refused: %s", err);
	}
	inject_free(&ij);
	conf_free(&conf);
	return 0;
}
