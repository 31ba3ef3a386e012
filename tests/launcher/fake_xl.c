/* SPDX-License-Identifier: MIT */
/*
 * A stand-in for xl behind ioreq-lend-xl-create (tests/unit/test_launcher.c).
 * Every call appends its arguments, space-separated, as one line to
 * $FAKE_XL_LOG. Then:
 *   create ...   exits $FAKE_XL_CREATE_EXIT (default 0)
 *   domid NAME   prints $FAKE_XL_DOMID
 *   list N       prints a header and domain N's line, in the state
 *                $FAKE_XL_STATE (default "--p---": paused)
 *   unpause N    writes "started\n" to $FAKE_XL_NOTIFY_FD and waits for one
 *                byte on $FAKE_XL_ACK_FD (if set), so the test can look at the
 *                simulated Xen while the "domain" is about to run
 *   anything else: exits 0
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int env_fd(const char *name)
{
    const char *v = getenv(name);
    return v && *v ? atoi(v) : -1;
}

int main(int argc, char **argv)
{
    const char *log = getenv("FAKE_XL_LOG"), *v;
    char line[4096];
    size_t used = 0;
    int fd;
    char c;

    if (!log || argc < 2)
        return 3;
    for (int i = 1; i < argc && used < sizeof(line); i++)
        used +=
            (size_t)snprintf(line + used, sizeof(line) - used, "%s%s", i > 1 ? " " : "", argv[i]);
    if (used < sizeof(line) - 1)
        line[used++] = '\n';
    fd = open(log, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0 || write(fd, line, used) != (ssize_t)used)
        return 3;
    close(fd);
    if (strcmp(argv[1], "create") == 0) {
        v = getenv("FAKE_XL_CREATE_EXIT");
        return v ? atoi(v) : 0;
    }
    if (strcmp(argv[1], "domid") == 0) {
        v = getenv("FAKE_XL_DOMID");
        printf("%s\n", v ? v : "1");
        return 0;
    }
    if (strcmp(argv[1], "list") == 0 && argc == 3) {
        v = getenv("FAKE_XL_STATE");
        printf("Name                                        ID   Mem VCPUs\tState\tTime(s)\n"
               "pvh-guest                                   %s   512     1     %s       0.1\n",
               argv[2], v ? v : "--p---");
        return 0;
    }
    if (strcmp(argv[1], "unpause") == 0) {
        int notify = env_fd("FAKE_XL_NOTIFY_FD"), ack = env_fd("FAKE_XL_ACK_FD");

        if (notify >= 0 && write(notify, "started\n", 8) != 8)
            return 3;
        if (ack >= 0 && read(ack, &c, 1) != 1)
            return 3;
    }
    return 0;
}
