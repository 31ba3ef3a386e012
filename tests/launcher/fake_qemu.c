/* SPDX-License-Identifier: MIT */
/*
 * A stand-in for QEMU behind ioreq-lend-qemu (tests/unit/test_launcher.c).
 * It records what it was given and tells the test it runs:
 *
 *   $FAKE_QEMU_DIR/argv   every argv[i], each followed by a NUL
 *   $FAKE_QEMU_DIR/fds    one line per open fd: "FD INODE KIND CLOEXEC"
 *                         (KIND fifo, sock, chr, reg, dir, other)
 *   $FAKE_QEMU_NOTIFY_FD  if set: writes "started\n" there once recorded
 *   $FAKE_QEMU_ACK_FD     if set: then waits for one byte there (the test has
 *                         looked at the simulated Xen meanwhile)
 * Exits 0, or 3 if it could not record.
 */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *kind(mode_t m)
{
    if (S_ISFIFO(m))
        return "fifo";
    if (S_ISSOCK(m))
        return "sock";
    if (S_ISCHR(m))
        return "chr";
    if (S_ISREG(m))
        return "reg";
    if (S_ISDIR(m))
        return "dir";
    return "other";
}

static int record_fds(const char *path)
{
    DIR *d = opendir("/proc/self/fd");
    FILE *out;
    struct dirent *e;

    if (!d)
        return -1;
    /* Listed before the output file exists, so neither fd of ours shows up. */
    char lines[8192];
    size_t used = 0;
    while ((e = readdir(d)) != NULL) {
        struct stat st;
        int fd, flags;

        if (e->d_name[0] == '.')
            continue;
        fd = atoi(e->d_name);
        if (fd == dirfd(d) || fstat(fd, &st) < 0)
            continue;
        flags = fcntl(fd, F_GETFD);
        used += (size_t)snprintf(lines + used, sizeof(lines) - used, "%d %llu %s %d\n", fd,
                                 (unsigned long long)st.st_ino, kind(st.st_mode),
                                 flags >= 0 && (flags & FD_CLOEXEC) ? 1 : 0);
        if (used >= sizeof(lines))
            break;
    }
    closedir(d);
    out = fopen(path, "w");
    if (!out)
        return -1;
    fwrite(lines, 1, used < sizeof(lines) ? used : sizeof(lines), out);
    return fclose(out);
}

static int env_fd(const char *name)
{
    const char *v = getenv(name);
    return v && *v ? atoi(v) : -1;
}

int main(int argc, char **argv)
{
    const char *dir = getenv("FAKE_QEMU_DIR");
    char path[4096];
    FILE *f;
    int notify = env_fd("FAKE_QEMU_NOTIFY_FD"), ack = env_fd("FAKE_QEMU_ACK_FD");
    char c;

    if (!dir)
        return 3;
    snprintf(path, sizeof(path), "%s/fds", dir);
    if (record_fds(path))
        return 3;
    snprintf(path, sizeof(path), "%s/argv", dir);
    f = fopen(path, "w");
    if (!f)
        return 3;
    for (int i = 0; i < argc; i++)
        fwrite(argv[i], 1, strlen(argv[i]) + 1, f);
    if (fclose(f))
        return 3;
    if (notify >= 0 && write(notify, "started\n", 8) != 8)
        return 3;
    if (ack >= 0 && read(ack, &c, 1) != 1)
        return 3;
    return 0;
}
