# ioreq-lend: a device model lending host memory to Xen guests through a PCI BAR.
#
#   make            build/ioreq-lend (real Xen), build/ioreq-lend-sim (same objects
#                   on the simulated Xen), build/xensim (the simulator and harness)
#   make check      every test: unit, simulator rules, scenarios, lspci, sanitizers, valgrind
#   make demo       the harness demo on the simulated Xen
#   make bench      benchmarks -> bench/results/latest.json and plots
#   make fuzz       libFuzzer targets (FUZZ_SECONDS each)
#   make e2e-xen    a real Xen 4.17 under QEMU, serving a real Linux guest
#   make e2e-xen-lend  the same on the hypervisor with upstream/xen/patches
#   make install    PREFIX=/usr/local DESTDIR=
#   make deb        Debian packages in build/deb/ (dpkg-buildpackage, debian/)
#
# Missing Debian packages are installed first when run as root.

BUILD    ?= build
CC       ?= cc
SAN      ?=
V        ?= 0

ifeq ($(V),0)
Q := @
endif

VERSION := 0.1.0

CSTD     := -std=c11 -D_GNU_SOURCE
WARN     := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
            -Wformat=2 -Wno-format-nonliteral
OPT      ?= -O2 -g
ifeq ($(SAN),1)
OPT      := -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined
SANLDFLAGS := -fsanitize=address,undefined
endif
CFLAGS   ?=
CPPFLAGS += -Iioreq-lend -D__XEN_TOOLS__ -DIOREQ_LEND_VERSION='"$(VERSION)"'
ALL_CFLAGS = $(CSTD) $(WARN) $(OPT) $(CFLAGS) -MMD -MP

# pkg-config runs when a recipe needs it, after the dependency check below.
XEN_PKGS   := xendevicemodel xenevtchn xenforeignmemory xentoolcore xentoollog xenstore
XEN_CFLAGS  = $(shell pkg-config --cflags $(XEN_PKGS) libpci)
XEN_LIBS    = $(shell pkg-config --libs $(XEN_PKGS))
PCI_LIBS    = $(shell pkg-config --libs libpci)
CMOCKA_LIBS = $(shell pkg-config --libs cmocka)
EV_LIBS     = -lev
SYS_LIBS    = -lpthread -lm

DEPS_STAMP := $(BUILD)/.deps-build
OBJ        := $(BUILD)/obj

# The daemon, less main.c (the entry point) and xenlend.c (the real lending
# ABI, replaced by the simulator's in ioreq-lend-sim).
DAEMON_SRCS := $(filter-out ioreq-lend/main.c ioreq-lend/xenlend.c,$(wildcard ioreq-lend/*.c))
DAEMON_OBJS := $(patsubst %.c,$(OBJ)/%.o,$(DAEMON_SRCS))
# The simulator's implementation of the Xen libraries, linked into the daemon.
SIMCLIENT_SRCS := $(wildcard tests/sim/client/*.c)
SIMCLIENT_OBJS := $(patsubst %.c,$(OBJ)/%.o,$(SIMCLIENT_SRCS))
# The simulated hypervisor, guest and scenario harness.
XENSIM_SRCS := $(wildcard tests/sim/hv/*.c tests/sim/harness/*.c)
XENSIM_OBJS := $(patsubst %.c,$(OBJ)/%.o,$(XENSIM_SRCS))
XENSIM_MAIN := $(OBJ)/tests/sim/harness/xensim.o

UNIT_SRCS  := $(wildcard tests/unit/test_*.c)
UNIT_BINS  := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(UNIT_SRCS))

PROGRAMS := $(BUILD)/ioreq-lend $(BUILD)/ioreq-lend-sim $(BUILD)/xensim $(BUILD)/ioreq-lend-ctl \
            $(BUILD)/ioreq-lend-top

.PHONY: all check check-build demo bench fuzz e2e-xen e2e-xen-lend e2e-deb install clean format deps

all: $(PROGRAMS)

deps: $(DEPS_STAMP)

$(DEPS_STAMP): scripts/ensure-deps.sh
	$(Q)mkdir -p $(@D)
	$(Q)scripts/ensure-deps.sh build
	$(Q)touch $@

$(OBJ)/%.o: %.c | $(DEPS_STAMP)
	$(Q)mkdir -p $(@D)
	@[ "$(V)" != 0 ] || echo "  CC      $<"
	$(Q)$(CC) $(CPPFLAGS) $(XEN_CFLAGS) $(ALL_CFLAGS) -c $< -o $@

$(BUILD)/libdaemon.a: $(DAEMON_OBJS)
	$(Q)rm -f $@ && ar rcs $@ $^

$(BUILD)/libsimclient.a: $(SIMCLIENT_OBJS)
	$(Q)rm -f $@ && ar rcs $@ $^

$(BUILD)/libxensim.a: $(filter-out $(XENSIM_MAIN),$(XENSIM_OBJS))
	$(Q)rm -f $@ && ar rcs $@ $^

# Real Xen: the daemon with the real libraries and the real lending ABI.
$(BUILD)/ioreq-lend: $(OBJ)/ioreq-lend/main.o $(OBJ)/ioreq-lend/xenlend.o $(BUILD)/libdaemon.a
	@[ "$(V)" != 0 ] || echo "  LD      $@"
	$(Q)$(CC) $(OPT) $(SANLDFLAGS) $(LDFLAGS) -o $@ $^ $(XEN_LIBS) $(PCI_LIBS) $(EV_LIBS) $(SYS_LIBS)

# Simulated Xen: the same daemon objects, the simulator's Xen libraries.
# The simulator's libraries use the daemon's util.o too: the archives are one group.
$(BUILD)/ioreq-lend-sim: $(OBJ)/ioreq-lend/main.o $(BUILD)/libdaemon.a $(BUILD)/libsimclient.a
	@[ "$(V)" != 0 ] || echo "  LD      $@"
	$(Q)$(CC) $(OPT) $(SANLDFLAGS) $(LDFLAGS) -o $@ $< -Wl,--start-group $(filter %.a,$^) -Wl,--end-group \
		$(PCI_LIBS) $(EV_LIBS) $(SYS_LIBS)

# The control socket's client (--backing none): only control_client.o and util.o of the archive.
$(BUILD)/ioreq-lend-ctl: $(OBJ)/ioreq-lend/ctl/ioreq-lend-ctl.o $(BUILD)/libdaemon.a
	@[ "$(V)" != 0 ] || echo "  LD      $@"
	$(Q)$(CC) $(OPT) $(SANLDFLAGS) $(LDFLAGS) -o $@ $^ $(PCI_LIBS) $(SYS_LIBS)

# The live view of every daemon's stats file (tests/top/check.sh).
$(BUILD)/ioreq-lend-top: $(OBJ)/ioreq-lend/top/ioreq-lend-top.o $(OBJ)/ioreq-lend/latency.o
	@[ "$(V)" != 0 ] || echo "  LD      $@"
	$(Q)$(CC) $(OPT) $(SANLDFLAGS) $(LDFLAGS) -o $@ $^ -lm

# The control socket's client library (control_client.h): control_client.o with the fd
# passing of util.o, linked into one object whose only global symbols are ctl_*, so a
# backend linking it meets none of the daemon's helper names.
CTL_LIB_SYMBOLS := ctl_default_path ctl_connect ctl_request_init ctl_call
$(BUILD)/libioreq-lend-control.a: $(OBJ)/ioreq-lend/control_client.o $(OBJ)/ioreq-lend/util.o
	@[ "$(V)" != 0 ] || echo "  AR      $@"
	$(Q)$(LD) -r -o $(OBJ)/ioreq-lend-control.o $^
	$(Q)objcopy $(addprefix --keep-global-symbol=,$(CTL_LIB_SYMBOLS)) $(OBJ)/ioreq-lend-control.o
	$(Q)rm -f $@ && ar rcs $@ $(OBJ)/ioreq-lend-control.o

# The library's example, built against it so that it cannot rot.
$(BUILD)/tests/ctl-example: docs/examples/ctl-example.c $(BUILD)/libioreq-lend-control.a | $(DEPS_STAMP)
	$(Q)mkdir -p $(@D)
	@[ "$(V)" != 0 ] || echo "  CC      $@"
	$(Q)$(CC) -Iioreq-lend $(CSTD) $(WARN) $(OPT) $(SANLDFLAGS) -o $@ $< $(BUILD)/libioreq-lend-control.a

$(BUILD)/xensim: $(XENSIM_MAIN) $(BUILD)/libxensim.a $(BUILD)/libdaemon.a
	@[ "$(V)" != 0 ] || echo "  LD      $@"
	$(Q)$(CC) $(OPT) $(SANLDFLAGS) $(LDFLAGS) -o $@ $^ $(SYS_LIBS)

$(BUILD)/tests/%: tests/unit/%.c $(BUILD)/libdaemon.a $(BUILD)/libsimclient.a $(BUILD)/libxensim.a | $(DEPS_STAMP)
	$(Q)mkdir -p $(@D)
	@[ "$(V)" != 0 ] || echo "  TEST    $@"
	$(Q)$(CC) $(CPPFLAGS) -Itests $(XEN_CFLAGS) $(ALL_CFLAGS) -o $@ $< \
		-Wl,--start-group $(BUILD)/libdaemon.a $(BUILD)/libxensim.a $(BUILD)/libsimclient.a \
		-Wl,--end-group $(SANLDFLAGS) $(CMOCKA_LIBS) $(PCI_LIBS) $(EV_LIBS) $(SYS_LIBS)

check-build: $(PROGRAMS) $(UNIT_BINS) $(BUILD)/tests/ctl-example

# Everything a reviewer would run; tests/run-tests.sh prints "N passed, N failed".
check: $(DEPS_STAMP)
	$(Q)scripts/ensure-deps.sh check deb
	$(Q)tests/run-tests.sh

demo: $(PROGRAMS)
	$(Q)$(BUILD)/xensim --progress tests/scenarios/demo.scn

# A real Xen 4.17 under QEMU (TCG): images cached under tests/e2e-xen/cache. Two
# boots: Debian's hypervisor (every case; --mode auto emulates there), then the one
# with the lending series (upstream/xen/, built from Debian's source as image layer
# xenlend) with the lending privcmd (upstream/linux/), where --mode auto lends. The
# second run's JSON line carries the `lend` object.
E2E_LEND_CASES = lend-ioctl,lend-mm,lend-copy,xen-lend,pvh
# Each boot's bound (run.sh --timeout): on a loaded 2-core machine the first boot's
# cases took 530 s and the second's 400 s, too close to run.sh's default of 590 s.
E2E_TIMEOUT ?= 900
# dom0 installs the Debian package (run.sh --deb), built here without its test step.
E2E_DEB_DIR = $(BUILD)/deb-e2e
E2E_RUN = tests/e2e-xen/run.sh --deb $(E2E_DEB_DIR) --timeout $(E2E_TIMEOUT)
e2e-deb:
	$(Q)DEB_BUILD_OPTIONS=nocheck $(MAKE) --no-print-directory deb DEB_DIR=$(E2E_DEB_DIR) >/dev/null
e2e-xen: $(BUILD)/ioreq-lend $(BUILD)/ioreq-lend-qemu $(BUILD)/ioreq-lend-xl-create \
		$(BUILD)/ioreq-lend-sim $(BUILD)/xensim e2e-deb
	$(Q)scripts/ensure-deps.sh e2e
	$(Q)rc=0; $(E2E_RUN) || rc=$$?; \
	$(E2E_RUN) --xen lend --case $(E2E_LEND_CASES) || rc=$$?; exit $$rc

# Only the second boot: the lending cases on the patched hypervisor.
e2e-xen-lend: $(BUILD)/ioreq-lend $(BUILD)/ioreq-lend-qemu $(BUILD)/ioreq-lend-xl-create \
		$(BUILD)/ioreq-lend-sim $(BUILD)/xensim e2e-deb
	$(Q)scripts/ensure-deps.sh e2e
	$(Q)$(E2E_RUN) --xen lend --case $(E2E_LEND_CASES)

# The lending privcmd's notifier and event queue under real MM events, on its fake-xen
# test build (tests/e2e-xen/cases/lend-events.sh): one dom0 boot, about a minute.
e2e-xen-lend-events:
	$(Q)scripts/ensure-deps.sh e2e
	$(Q)tests/e2e-xen/run.sh --privcmd fake --case lend-events

format:
	clang-format -i ioreq-lend/*.[ch] tests/sim/*/*.[ch] tests/sim/*.h tests/unit/*.c

clean:
	rm -rf build

# ---------------------------------------------------------------------------
# xl integration: the launchers, the systemd unit, the man page, make install.
#
#   build/ioreq-lend-qemu       device_model_override for HVM guests (QEMU)
#   build/ioreq-lend-xl-create  xl create with lent BARs, for PVH guests
#   make man                    render docs/ioreq-lend.8 (warnings are errors)
#   make install                PREFIX, DESTDIR, LIBEXECDIR, SBINDIR, BINDIR (of
#                               ioreq-lend-ctl), MANDIR, DOCDIR, SYSTEMDUNITDIR
#   make deb                    build/deb/*.deb (debian/, dpkg-buildpackage)
# ---------------------------------------------------------------------------
PREFIX         ?= /usr/local
LIBEXECDIR     ?= $(PREFIX)/libexec/ioreq-lend
SBINDIR        ?= $(PREFIX)/sbin
BINDIR         ?= $(SBINDIR)
MANDIR         ?= $(PREFIX)/share/man
DOCDIR         ?= $(PREFIX)/share/doc/ioreq-lend
SYSTEMDUNITDIR ?= $(PREFIX)/lib/systemd/system
INCLUDEDIR     ?= $(PREFIX)/include
LIBDIR         ?= $(PREFIX)/lib
INSTALL        ?= install

LAUNCHER_SRC      := ioreq-lend/launcher
LAUNCHER_LIB_OBJS := $(OBJ)/$(LAUNCHER_SRC)/lend_spawn.o $(OBJ)/$(LAUNCHER_SRC)/launcher_common.o
LAUNCHER_PROGRAMS := $(BUILD)/ioreq-lend-qemu $(BUILD)/ioreq-lend-xl-create
LAUNCHER_FAKES    := $(BUILD)/tests/fake-qemu $(BUILD)/tests/fake-xl
XLUTIL_LIBS        = $(shell pkg-config --libs xlutil)

.PHONY: man deb

# The Debian packages, built by dpkg-buildpackage in a copy of the tree under
# $(DEB_DIR)/src: the .deb, .buildinfo and .changes land in $(DEB_DIR), nothing
# in the source tree. DEB_BUILD_OPTIONS (nocheck, parallel=N) pass through.
DEB_DIR ?= $(BUILD)/deb
deb:
	$(Q)scripts/ensure-deps.sh build deb
	$(Q)rm -rf $(DEB_DIR) && mkdir -p $(DEB_DIR)/src
	$(Q)tar -cf - --exclude=./$(BUILD) --exclude=./build --exclude=./.git \
		--exclude=./tests/e2e-xen/cache --exclude=./bench/results . | tar -C $(DEB_DIR)/src -xf -
	$(Q)cd $(DEB_DIR)/src && dpkg-buildpackage -us -uc -b >../build.log 2>&1 || \
		{ tail -40 ../build.log; echo "dpkg-buildpackage failed: $(DEB_DIR)/build.log" >&2; exit 1; }
	$(Q)rm -rf $(DEB_DIR)/src
	@ls $(DEB_DIR)/*.deb

all: $(LAUNCHER_PROGRAMS)
check-build: $(LAUNCHER_PROGRAMS) $(LAUNCHER_FAKES)

# The spec parser joins libdaemon.a (whose recipe archives every prerequisite),
# so unit tests and fuzz targets link it like any daemon object.
$(BUILD)/libdaemon.a: $(OBJ)/$(LAUNCHER_SRC)/lend_spec.o

$(BUILD)/liblauncher.a: $(LAUNCHER_LIB_OBJS)
	$(Q)rm -f $@ && ar rcs $@ $^

$(BUILD)/ioreq-lend-qemu: $(OBJ)/$(LAUNCHER_SRC)/ioreq-lend-qemu.o $(BUILD)/liblauncher.a \
		$(BUILD)/libdaemon.a
	@[ "$(V)" != 0 ] || echo "  LD      $@"
	$(Q)$(CC) $(OPT) $(SANLDFLAGS) $(LDFLAGS) -o $@ $^ $(PCI_LIBS) $(SYS_LIBS)

$(BUILD)/ioreq-lend-xl-create: $(OBJ)/$(LAUNCHER_SRC)/ioreq-lend-xl-create.o \
		$(BUILD)/liblauncher.a $(BUILD)/libdaemon.a
	@[ "$(V)" != 0 ] || echo "  LD      $@"
	$(Q)$(CC) $(OPT) $(SANLDFLAGS) $(LDFLAGS) -o $@ $^ $(XLUTIL_LIBS) $(PCI_LIBS) $(SYS_LIBS)

# Stand-ins for QEMU and xl that record what they were given (tests/launcher/).
$(BUILD)/tests/fake-%: tests/launcher/fake_%.c | $(DEPS_STAMP)
	$(Q)mkdir -p $(@D)
	@[ "$(V)" != 0 ] || echo "  CC      $@"
	$(Q)$(CC) $(CPPFLAGS) $(ALL_CFLAGS) $(SANLDFLAGS) -o $@ $<

# The launchers against the simulated Xen; it also reads the examples with libxlutil.
$(BUILD)/tests/test_launcher: tests/unit/test_launcher.c $(BUILD)/libdaemon.a \
		$(BUILD)/libsimclient.a $(BUILD)/libxensim.a $(BUILD)/liblauncher.a \
		$(LAUNCHER_PROGRAMS) $(LAUNCHER_FAKES) $(BUILD)/ioreq-lend-sim | $(DEPS_STAMP)
	$(Q)mkdir -p $(@D)
	@[ "$(V)" != 0 ] || echo "  TEST    $@"
	$(Q)$(CC) $(CPPFLAGS) -Itests $(XEN_CFLAGS) $(ALL_CFLAGS) \
		-DIOREQ_LEND_TEST_PREFIX='"$(PREFIX)"' -o $@ $< \
		-Wl,--start-group $(BUILD)/liblauncher.a $(BUILD)/libdaemon.a $(BUILD)/libxensim.a \
		$(BUILD)/libsimclient.a -Wl,--end-group \
		$(SANLDFLAGS) $(XLUTIL_LIBS) $(CMOCKA_LIBS) $(PCI_LIBS) $(EV_LIBS) $(SYS_LIBS)

man: $(BUILD)/ioreq-lend.8.txt

$(BUILD)/ioreq-lend.8.txt: docs/ioreq-lend.8
	$(Q)mkdir -p $(@D)
	$(Q)groff -man -Tutf8 -ww -z docs/ioreq-lend.8 2>$@.warn; \
		if [ -s $@.warn ]; then cat $@.warn; rm -f $@.warn; exit 1; fi; rm -f $@.warn
	$(Q)MANWIDTH=80 MAN_KEEP_FORMATTING=0 man -l docs/ioreq-lend.8 2>/dev/null | col -b >$@
	@echo "  MAN     $@"

install: $(BUILD)/ioreq-lend $(BUILD)/ioreq-lend-ctl $(BUILD)/ioreq-lend-top \
		$(BUILD)/libioreq-lend-control.a \
		$(LAUNCHER_PROGRAMS)
	$(INSTALL) -d $(DESTDIR)$(LIBEXECDIR) $(DESTDIR)$(SBINDIR) $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man8 \
		$(DESTDIR)$(DOCDIR)/examples $(DESTDIR)$(SYSTEMDUNITDIR) \
		$(DESTDIR)$(INCLUDEDIR)/ioreq-lend $(DESTDIR)$(LIBDIR)/pkgconfig
	$(INSTALL) -m 0644 ioreq-lend/control_proto.h ioreq-lend/control_client.h \
		$(DESTDIR)$(INCLUDEDIR)/ioreq-lend/
	$(INSTALL) -m 0644 $(BUILD)/libioreq-lend-control.a $(DESTDIR)$(LIBDIR)/
	printf 'prefix=%s\nincludedir=%s\nlibdir=%s\n\nName: ioreq-lend-control\nDescription: %s\nVersion: %s\nCflags: -I$${includedir}/ioreq-lend\nLibs: -L$${libdir} -lioreq-lend-control\n' \
		'$(PREFIX)' '$(INCLUDEDIR)' '$(LIBDIR)' \
		'the control socket of ioreq-lend --backing none (map and unmap buffers)' \
		'$(VERSION)' >$(DESTDIR)$(LIBDIR)/pkgconfig/ioreq-lend-control.pc
	$(INSTALL) -m 0644 docs/examples/ctl-example.c $(DESTDIR)$(DOCDIR)/examples/
	$(INSTALL) -m 0755 $(BUILD)/ioreq-lend $(BUILD)/ioreq-lend-qemu \
		$(BUILD)/ioreq-lend-xl-create $(DESTDIR)$(LIBEXECDIR)/
	ln -sfr $(DESTDIR)$(LIBEXECDIR)/ioreq-lend $(DESTDIR)$(SBINDIR)/ioreq-lend
	ln -sfr $(DESTDIR)$(LIBEXECDIR)/ioreq-lend-xl-create $(DESTDIR)$(SBINDIR)/ioreq-lend-xl-create
	$(INSTALL) -m 0755 $(BUILD)/ioreq-lend-ctl $(BUILD)/ioreq-lend-top $(DESTDIR)$(BINDIR)/
	sed -e 's|/usr/local/|$(PREFIX)/|g' docs/ioreq-lend.8 >$(DESTDIR)$(MANDIR)/man8/ioreq-lend.8
	chmod 0644 $(DESTDIR)$(MANDIR)/man8/ioreq-lend.8
	printf '.so man8/ioreq-lend.8\n' >$(DESTDIR)$(MANDIR)/man8/ioreq-lend-qemu.8
	printf '.so man8/ioreq-lend.8\n' >$(DESTDIR)$(MANDIR)/man8/ioreq-lend-xl-create.8
	printf '.so man8/ioreq-lend.8\n' >$(DESTDIR)$(MANDIR)/man8/ioreq-lend-ctl.8
	printf '.so man8/ioreq-lend.8\n' >$(DESTDIR)$(MANDIR)/man8/ioreq-lend-top.8
	sed -e 's|@SBINDIR@|$(SBINDIR)|g' -e 's|@LIBEXECDIR@|$(LIBEXECDIR)|g' \
		$(LAUNCHER_SRC)/ioreq-lend@.service.in >$(DESTDIR)$(SYSTEMDUNITDIR)/ioreq-lend@.service
	chmod 0644 $(DESTDIR)$(SYSTEMDUNITDIR)/ioreq-lend@.service
	sed -e 's|/usr/local/libexec/ioreq-lend/|$(LIBEXECDIR)/|g' xl-cfg-examples/README.md \
		>$(DESTDIR)$(DOCDIR)/examples/README.md
	$(INSTALL) -d $(DESTDIR)$(DOCDIR)/examples/libvirt
	for f in xl-cfg-examples/*.cfg xl-cfg-examples/libvirt/*; do \
		sed -e 's|/usr/local/libexec/ioreq-lend/|$(LIBEXECDIR)/|g' $$f \
			>$(DESTDIR)$(DOCDIR)/examples/$${f#xl-cfg-examples/} || exit 1; \
	done
	chmod 0644 $(DESTDIR)$(DOCDIR)/examples/*.* $(DESTDIR)$(DOCDIR)/examples/libvirt/*


# ---------------------------------------------------------------------------
# Fuzzing (libFuzzer, clang, ASan+UBSan). Targets and seeds in tests/fuzz/,
# everything built and found goes to $(FUZZ_BUILD) (see tests/fuzz/README.md).
#
#   make fuzz          build, then run each target FUZZ_SECONDS (default 60)
#   make fuzz-smoke    each target 30 s (CI)
#   make fuzz-build    build only
#   make fuzz-coverage line coverage of ioreq-lend/ over the corpora (llvm-cov)
#
# Seeds are read from tests/fuzz/corpus/<target>/; new inputs stay in
# $(FUZZ_BUILD)/corpus/<target>/, crashes in $(FUZZ_BUILD)/artifacts/.
FUZZ_BUILD    ?= build/fuzz
FUZZ_CC       ?= clang
FUZZ_SECONDS  ?= 60
FUZZ_TARGETS  := fuzz_dispatch fuzz_config fuzz_options fuzz_backing_spec fuzz_control \
                 $(if $(wildcard ioreq-lend/launcher/lend_spec.h),fuzz_lend_spec)
FUZZ_SAN      := -fsanitize=address,undefined -fno-sanitize-recover=undefined
FUZZ_CFLAGS    = $(CSTD) $(WARN) -O1 -g -fno-omit-frame-pointer $(FUZZ_SAN) -MMD -MP
FUZZ_OBJ      := $(FUZZ_BUILD)/obj
FUZZ_STAMP    := $(FUZZ_BUILD)/.deps-fuzz
FUZZ_LIBS      = $(PCI_LIBS) $(EV_LIBS) $(SYS_LIBS)
FUZZ_BINS     := $(addprefix $(FUZZ_BUILD)/,$(FUZZ_TARGETS))
FUZZ_DAEMON_OBJS := $(patsubst %.c,$(FUZZ_OBJ)/%.o,$(DAEMON_SRCS))

.PHONY: fuzz fuzz-smoke fuzz-build fuzz-coverage

$(FUZZ_STAMP): scripts/ensure-deps.sh
	$(Q)mkdir -p $(@D)
	$(Q)scripts/ensure-deps.sh build fuzz
	$(Q)touch $@

# The code under test carries libFuzzer's coverage instrumentation; the
# harnesses and the mock Xen do not, so cov: counts ioreq-lend/ only.
$(FUZZ_OBJ)/ioreq-lend/%.o: ioreq-lend/%.c | $(FUZZ_STAMP)
	$(Q)mkdir -p $(@D)
	@[ "$(V)" != 0 ] || echo "  FUZZCC  $<"
	$(Q)$(FUZZ_CC) $(CPPFLAGS) $(XEN_CFLAGS) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -c $< -o $@

$(FUZZ_OBJ)/tests/fuzz/%.o: tests/fuzz/%.c | $(FUZZ_STAMP)
	$(Q)mkdir -p $(@D)
	@[ "$(V)" != 0 ] || echo "  FUZZCC  $<"
	$(Q)$(FUZZ_CC) $(CPPFLAGS) -Itests/fuzz $(XEN_CFLAGS) $(FUZZ_CFLAGS) -c $< -o $@

$(FUZZ_BUILD)/libdaemon.a: $(FUZZ_DAEMON_OBJS)
	$(Q)rm -f $@ && ar rcs $@ $^

# Harness objects reached through the pattern rule below: keep them.
.SECONDARY: $(patsubst %,$(FUZZ_OBJ)/tests/fuzz/%.o,$(FUZZ_TARGETS) mock_xen)

$(FUZZ_BUILD)/fuzz_dispatch: $(FUZZ_OBJ)/tests/fuzz/fuzz_dispatch.o \
                             $(FUZZ_OBJ)/tests/fuzz/mock_xen.o $(FUZZ_BUILD)/libdaemon.a
	@[ "$(V)" != 0 ] || echo "  FUZZLD  $@"
	$(Q)$(FUZZ_CC) -fsanitize=fuzzer $(FUZZ_SAN) -o $@ $^ $(FUZZ_LIBS)

# The launcher's spec parser (ioreq-lend/launcher/), when it is there.
$(FUZZ_BUILD)/fuzz_lend_spec: $(FUZZ_OBJ)/tests/fuzz/fuzz_lend_spec.o \
                              $(FUZZ_OBJ)/ioreq-lend/launcher/lend_spec.o $(FUZZ_BUILD)/libdaemon.a
	@[ "$(V)" != 0 ] || echo "  FUZZLD  $@"
	$(Q)$(FUZZ_CC) -fsanitize=fuzzer $(FUZZ_SAN) -o $@ $^ $(FUZZ_LIBS)

$(FUZZ_BUILD)/fuzz_%: $(FUZZ_OBJ)/tests/fuzz/fuzz_%.o $(FUZZ_BUILD)/libdaemon.a
	@[ "$(V)" != 0 ] || echo "  FUZZLD  $@"
	$(Q)$(FUZZ_CC) -fsanitize=fuzzer $(FUZZ_SAN) -o $@ $^ $(FUZZ_LIBS)

fuzz-build: $(FUZZ_BINS)

fuzz: fuzz-build
	$(Q)FUZZ_BUILD=$(FUZZ_BUILD) tests/fuzz/run.sh $(FUZZ_SECONDS) $(FUZZ_TARGETS)

fuzz-smoke: fuzz-build
	$(Q)FUZZ_BUILD=$(FUZZ_BUILD) tests/fuzz/run.sh 30 $(FUZZ_TARGETS)

fuzz-coverage: fuzz-build
	$(Q)FUZZ_BUILD=$(FUZZ_BUILD) FUZZ_CC=$(FUZZ_CC) tests/fuzz/coverage.sh $(FUZZ_TARGETS)

# ---------------------------------------------------------------------------
# Benchmarks (bench/README.md): the simulated Xen against a userfaultfd anchor.
#
#   make bench        every benchmark, 5 repetitions (under 10 minutes on 2 cores):
#                     bench/results/latest.json, PNG plots, a table on stdout
#   make bench-smoke  one repetition at short sizes, the same JSON keys (CI, < 2 min):
#                     bench/results/smoke/latest.json
# ---------------------------------------------------------------------------
BENCH_PROGS := $(BUILD)/bench/uffd_anchor $(BUILD)/bench/belady $(BUILD)/bench/page_in

.PHONY: bench-smoke bench-build

$(BUILD)/bench/uffd_anchor: bench/uffd_anchor.c | $(DEPS_STAMP)
	$(Q)mkdir -p $(@D)
	@[ "$(V)" != 0 ] || echo "  CC      $@"
	$(Q)$(CC) $(ALL_CFLAGS) -o $@ $< -lpthread

# The host's page-in bandwidth for the cold scan's pages, without the guest.
$(BUILD)/bench/page_in: bench/page_in.c | $(DEPS_STAMP)
	$(Q)mkdir -p $(@D)
	@[ "$(V)" != 0 ] || echo "  CC      $@"
	$(Q)$(CC) $(ALL_CFLAGS) -o $@ $<

# Replays tests/sim/harness/trace.h offline: the guest's trace, page for page.
# The daemon's own policy code (evict.c, bitmap.c) is linked in, not modelled.
$(BUILD)/bench/belady: bench/belady.c ioreq-lend/evict.c ioreq-lend/bitmap.c ioreq-lend/evict.h ioreq-lend/bitmap.h | $(DEPS_STAMP)
	$(Q)mkdir -p $(@D)
	@[ "$(V)" != 0 ] || echo "  CC      $@"
	$(Q)$(CC) -Itests/sim/harness -Iioreq-lend $(ALL_CFLAGS) -o $@ bench/belady.c ioreq-lend/evict.c ioreq-lend/bitmap.c -lm

bench-build: $(BUILD)/xensim $(BUILD)/ioreq-lend-sim $(BENCH_PROGS)

bench: bench-build
	$(Q)scripts/ensure-deps.sh bench
	$(Q)BUILD=$(BUILD) python3 bench/run.py --profile full

bench-smoke: bench-build
	$(Q)scripts/ensure-deps.sh bench
	$(Q)BUILD=$(BUILD) python3 bench/run.py --profile smoke --out bench/results/smoke

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
