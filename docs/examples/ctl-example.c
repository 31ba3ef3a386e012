/* SPDX-License-Identifier: MIT */
/*
 * How a GPU backend fills a `ioreq-lend --backing none` window with the
 * client library (ioreq-lend-control.pc): make a buffer, map it at a BAR
 * offset, let the guest use it, unmap it, free it.
 *
 *   cc ctl-example.c $(pkg-config --cflags --libs ioreq-lend-control) -o ctl-example
 *   ./ctl-example /run/ioreq-lend/dom5-0000:00:1f.0.ctl
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <control_client.h>

#define BUF_SIZE (1 << 20)

int main(int argc, char **argv)
{
    struct ctl_request req;
    struct ctl_reply rep;
    int sock, buf, rc;

    if (argc != 2) {
        fprintf(stderr, "usage: ctl-example SOCKET\n");
        return 2;
    }
    sock = ctl_connect(argv[1]);
    if (sock < 0) {
        fprintf(stderr, "ctl-example: cannot connect to %s: %s\n", argv[1], strerror(-sock));
        return 2;
    }
    /* A buffer the daemon may keep mapped: sealed against shrinking. */
    buf = memfd_create("ctl-example", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    if (buf < 0 || ftruncate(buf, BUF_SIZE) < 0 || fcntl(buf, F_ADD_SEALS, F_SEAL_SHRINK) < 0) {
        perror("ctl-example: memfd");
        return 1;
    }
    /* Map it at BAR offset 0: the daemon keeps its own reference to the fd. */
    ctl_request_init(&req, CTL_OP_MAP);
    req.bar_offset = 0;
    req.fd_offset = 0;
    req.length = BUF_SIZE;
    rc = ctl_call(sock, &req, buf, &rep);
    if (rc || rep.status) {
        fprintf(stderr, "ctl-example: map: %s\n", rc ? strerror(-rc) : rep.msg);
        return 1;
    }
    printf("%s\n", rep.msg);
    /* ... the guest reads and writes the buffer through the BAR ... */
    ctl_request_init(&req, CTL_OP_UNMAP);
    req.bar_offset = 0;
    req.length = BUF_SIZE;
    rc = ctl_call(sock, &req, -1, &rep);
    if (rc || rep.status) {
        fprintf(stderr, "ctl-example: unmap: %s\n", rc ? strerror(-rc) : rep.msg);
        return 1;
    }
    /* The guest can no longer reach it: free or reuse it now. */
    printf("%s\n", rep.msg);
    close(buf);
    close(sock);
    return 0;
}
