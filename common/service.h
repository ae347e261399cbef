/*
 * service.h - the start-up every service run by kurird shares:
 * "NAME [-d] [-f CONF] -c FD", logging, the config, and the sandbox.
 */
#ifndef KURIR_SERVICE_H
#define KURIR_SERVICE_H

#include "conf.h"
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
/* Enter the sandbox; started as root, a failure is fatal. */
void	service_sandbox(const struct service *, enum sandbox_profile);

#endif
