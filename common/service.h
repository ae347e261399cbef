/*
 * service.h - the start-up every service run by kurird shares:
 * "NAME [-d] [-f CONF] -c FD", logging, the config, and the sandbox.
 */
#ifndef KURIR_SERVICE_H
#define KURIR_SERVICE_H

#include "conf.h"
#include "frame.h"
#include "sandbox.h"

struct service {
	const char	*name;
	const char	*conf_path;
	int		 debug;		/* -d: log to stderr */
	int		 ctl_fd;	/* -c FD: kurird's control channel */
	int		 was_root;	/* started as root: separation in force */
};

/* Parse the options (usage and exit on error), start logging, load the
 * config into c (fatal on error), check the control channel is open. */
void	service_init(struct service *, const char *name, int argc,
	    char *argv[], struct conf *c);
/* Re-read the config from a descriptor kurird sent (CTL_CONFIG) into c;
 * 0, or -1 (logged) and c unchanged. */
int	service_conf_reload(int fd, const char *path, struct conf *c);
/*
 * kurird's control channel: read one frame and hand it to fn.  Returns
 * fn's value, or -1 when kurird is gone (EOF or a bad frame).
 */
int	service_ctl_read(int fd, int (*fn)(const struct frame *));
/* Before the event loop: frames to fn until it returns CTL_GO; fatal if
 * the channel closes first. */
void	service_ctl_until_go(int fd, int (*fn)(const struct frame *));
/* Enter the sandbox; started as root, a failure is fatal. */
void	service_sandbox(const struct service *, enum sandbox_profile);

#endif
