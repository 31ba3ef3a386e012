/* SPDX-License-Identifier: MIT */
/*
 * ioreq-lend-ctl: map and unmap buffers in a `--backing none` window through
 * the daemon's control socket (control_proto.h), list them, read the
 * counters. A person's and a script's tool; a GPU backend calls the same
 * requests through control_client.h.
 *
 * Exit status: 0 done; 1 the daemon refused the request (its message and
 * errno on stderr); 2 anything else, with one line: a bad command line, a
 * file that cannot be opened, no daemon at the socket, a lost connection.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "backing.h"
#include "control_client.h"
#include "options.h"
#include "util.h"

#define EXIT_REFUSED 1
#define EXIT_BAD     2

static void usage(FILE *out)
{
    fputs("Usage: ioreq-lend-ctl [--socket PATH | --domid N [--bdf B] [--state-dir DIR]]\n"
          "                      COMMAND [ARG]...\n"
          "\n"
          "Fill the window of an `ioreq-lend --backing none` daemon at run time.\n"
          "\n"
          "Commands:\n"
          "  map FILE OFFSET LEN [ro]  map LEN bytes of FILE (from --file-offset) at BAR\n"
          "                            offset OFFSET; ro: guest writes there are dropped\n"
          "  map-memfd OFFSET LEN      map a new zero-filled memfd of LEN bytes\n"
          "  unmap OFFSET LEN          unmap every region inside OFFSET..OFFSET+LEN; once\n"
          "                            it returns the guest cannot reach them\n"
          "  list                      the regions, one a line: offset, length, rw|ro,\n"
          "                            file offset, device:inode\n"
          "  stats                     the control counters, as JSON\n"
          "\n"
          "Options:\n"
          "  -s, --socket PATH     the daemon's control socket (its --control)\n"
          "  --domid N             or find it: STATE_DIR/domN-SSSS:BB:DD.F.ctl\n"
          "  --bdf [SSSS:]BB:DD.F  the device's address in the guest (default 00:1f.0)\n"
          "  --state-dir DIR       the daemon's --state-dir (default " OPT_DEFAULT_STATE_DIR ")\n"
          "  --file-offset N       map: where in FILE the region starts (default 0)\n"
          "  -h, --help            print this help and exit\n"
          "\n"
          "OFFSET, LEN and N are bytes, decimal or 0x hex, with an optional K, M, G or T\n"
          "suffix; OFFSET and LEN multiples of 4K.\n"
          "\n"
          "Exit status: 0 done; 1 the daemon refused (its reason on stderr); 2 a bad\n"
          "command line, a file that cannot be opened, or no daemon at the socket.\n",
          out);
}

static int __attribute__((format(printf, 1, 2))) bad(const char *fmt, ...)
{
    va_list ap;

    fputs("ioreq-lend-ctl: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return EXIT_BAD;
}

static const char *errno_name(int e)
{
    const char *n = strerrorname_np(e);

    return n ? n : "?";
}

static int num(const char *what, const char *s, uint64_t *out)
{
    if (parse_size(s, out))
        return bad("%s: '%s' is not a number of bytes (see --help)", what, s);
    return 0;
}

/* One call; prints the refusal. 0, EXIT_REFUSED or EXIT_BAD. */
static int call(int sock, const char *cmd, const struct ctl_request *req, int fd,
                struct ctl_reply *rep)
{
    int rc = ctl_call(sock, req, fd, rep);

    if (rc)
        return bad("%s: no answer from the daemon: %s", cmd, strerror(-rc));
    if (rep->status) {
        /* The daemon's message names the request already. */
        fprintf(stderr, "ioreq-lend-ctl: %s (%s)\n", rep->msg, errno_name(rep->status));
        return EXIT_REFUSED;
    }
    return 0;
}

static int cmd_map(int sock, int argc, char **argv, uint64_t file_off, bool memfd)
{
    struct ctl_request req;
    struct ctl_reply rep;
    uint64_t off, len;
    int need = memfd ? 2 : 3, fd, rc;
    bool ro = false;

    if (argc < need || argc > need + 1 || (argc == need + 1 && strcmp(argv[need], "ro")))
        return bad(memfd ? "usage: map-memfd OFFSET LEN [ro]" : "usage: map FILE OFFSET LEN [ro]");
    ro = argc == need + 1;
    if (num("OFFSET", argv[need - 2], &off) || num("LEN", argv[need - 1], &len))
        return EXIT_BAD;
    if (memfd) {
        fd = memfd_create("ioreq-lend-ctl", MFD_CLOEXEC | MFD_ALLOW_SEALING);
        if (fd < 0 || len > INT64_MAX || ftruncate(fd, (off_t)len) < 0 ||
            fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK) < 0)
            return bad("map-memfd: cannot make a memfd of %" PRIu64 " bytes: %s", len,
                       strerror(errno));
        file_off = 0;
    } else {
        fd = open(argv[0], (ro ? O_RDONLY : O_RDWR) | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
            return bad("map: cannot open %s: %s", argv[0], strerror(errno));
    }
    ctl_request_init(&req, CTL_OP_MAP);
    req.bar_offset = off;
    req.fd_offset = file_off;
    req.length = len;
    req.flags = ro ? CTL_MAP_READONLY : 0;
    rc = call(sock, memfd ? "map-memfd" : "map", &req, fd, &rep);
    close(fd);
    if (rc == 0)
        printf("%s\n", rep.msg);
    return rc;
}

static int cmd_unmap(int sock, int argc, char **argv)
{
    struct ctl_request req;
    struct ctl_reply rep;
    int rc;

    if (argc != 2)
        return bad("usage: unmap OFFSET LEN");
    ctl_request_init(&req, CTL_OP_UNMAP);
    if (num("OFFSET", argv[0], &req.bar_offset) || num("LEN", argv[1], &req.length))
        return EXIT_BAD;
    rc = call(sock, "unmap", &req, -1, &rep);
    if (rc == 0)
        printf("%s\n", rep.msg);
    return rc;
}

static int cmd_list(int sock, int argc)
{
    struct ctl_request req;
    struct ctl_reply rep;
    uint32_t index = 0;
    int rc;

    if (argc != 0)
        return bad("usage: list");
    do {
        ctl_request_init(&req, CTL_OP_LIST);
        req.index = index;
        rc = call(sock, "list", &req, -1, &rep);
        if (rc)
            return rc;
        for (uint32_t i = 0; i < rep.count && i < CTL_LIST_MAX; i++) {
            const struct ctl_region *r = &rep.u.regions[i];

            printf("0x%" PRIx64 " 0x%" PRIx64 " %s 0x%" PRIx64 " %" PRIu64 ":%" PRIu64 "\n",
                   r->bar_offset, r->length, r->flags & CTL_MAP_READONLY ? "ro" : "rw",
                   r->fd_offset, r->dev, r->ino);
        }
        index += rep.count;
    } while (rep.count > 0 && index < rep.total);
    return 0;
}

static int cmd_stats(int sock, int argc)
{
    struct ctl_request req;
    struct ctl_reply rep;
    const struct ctl_stats *s = &rep.u.stats;
    int rc;

    if (argc != 0)
        return bad("usage: stats");
    ctl_request_init(&req, CTL_OP_STATS);
    rc = call(sock, "stats", &req, -1, &rep);
    if (rc)
        return rc;
    printf("{\"regions\":%" PRIu64 ",\"mapped_bytes\":%" PRIu64 ",\"max_regions\":%" PRIu64
           ",\"bar_size\":%" PRIu64 ",\"maps\":%" PRIu64 ",\"unmaps\":%" PRIu64
           ",\"requests_refused\":%" PRIu64 ",\"clients\":%" PRIu64 ",\"clients_refused\":%" PRIu64
           ",\"hole_reads\":%" PRIu64 ",\"hole_writes\":%" PRIu64 ",\"ro_writes\":%" PRIu64
           ",\"bus_errors\":%" PRIu64 "}\n",
           s->regions, s->mapped_bytes, s->max_regions, s->bar_size, s->maps, s->unmaps,
           s->requests_refused, s->clients, s->clients_refused, s->hole_reads, s->hole_writes,
           s->ro_writes, s->bus_errors);
    return 0;
}

enum { OPT_DOMID = 0x100, OPT_BDF, OPT_STATE_DIR, OPT_FILE_OFFSET };

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"socket", required_argument, NULL, 's'},
        {"domid", required_argument, NULL, OPT_DOMID},
        {"bdf", required_argument, NULL, OPT_BDF},
        {"state-dir", required_argument, NULL, OPT_STATE_DIR},
        {"file-offset", required_argument, NULL, OPT_FILE_OFFSET},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *sock_path = NULL, *state_dir = OPT_DEFAULT_STATE_DIR, *cmd;
    char path[128];
    uint64_t domid = 0, file_off = 0;
    unsigned int seg = 0, bus = 0, dev = 0x1f, fn = 0;
    int c, sock, rc;

    opterr = 0;
    while ((c = getopt_long(argc, argv, "+:s:h", opts, NULL)) != -1) {
        switch (c) {
        case 's':
            sock_path = optarg;
            break;
        case OPT_DOMID:
            if (parse_u64(optarg, OPT_MAX_DOMID, &domid) || domid == 0)
                return bad("--domid: '%s' is not a domain id between 1 and %u", optarg,
                           OPT_MAX_DOMID);
            break;
        case OPT_BDF: {
            uint16_t s;
            uint8_t b, d, f;

            if (backing_parse_bdf(optarg, &s, &b, &d, &f))
                return bad("--bdf: '%s' is not [SSSS:]BB:DD.F (hex)", optarg);
            seg = s, bus = b, dev = d, fn = f;
            break;
        }
        case OPT_STATE_DIR:
            state_dir = optarg;
            break;
        case OPT_FILE_OFFSET:
            if (num("--file-offset", optarg, &file_off))
                return EXIT_BAD;
            break;
        case 'h':
            usage(stdout);
            return 0;
        case ':':
            return bad("option '%s' needs a value (see --help)", argv[optind - 1]);
        default:
            return bad("unknown option '%s' (see --help)", argv[optind - 1]);
        }
    }
    if (optind >= argc)
        return bad("no command (see --help)");
    cmd = argv[optind++];
    if (!sock_path) {
        if (!domid)
            return bad("give --socket PATH, or --domid N to find the daemon's socket");
        if (ctl_default_path(path, sizeof(path), state_dir, (unsigned int)domid, seg, bus, dev, fn))
            return bad("--state-dir is too long for a socket path");
        sock_path = path;
    }
    if (strcmp(cmd, "map") && strcmp(cmd, "map-memfd") && strcmp(cmd, "unmap") &&
        strcmp(cmd, "list") && strcmp(cmd, "stats"))
        return bad("unknown command '%s' (want map, map-memfd, unmap, list or stats)", cmd);
    sock = ctl_connect(sock_path);
    if (sock < 0)
        return bad("cannot connect to %s: %s", sock_path, strerror(-sock));
    argc -= optind;
    argv += optind;
    if (strcmp(cmd, "map") == 0)
        rc = cmd_map(sock, argc, argv, file_off, false);
    else if (strcmp(cmd, "map-memfd") == 0)
        rc = cmd_map(sock, argc, argv, 0, true);
    else if (strcmp(cmd, "unmap") == 0)
        rc = cmd_unmap(sock, argc, argv);
    else if (strcmp(cmd, "list") == 0)
        rc = cmd_list(sock, argc);
    else
        rc = cmd_stats(sock, argc);
    close(sock);
    return rc;
}
