# ioreq-lend: a device model lending host memory to Xen guests through a PCI BAR.
#
#   make            build/ioreq-lend (real Xen), build/ioreq-lend-sim (same objects
#                   on the simulated Xen), build/xensim (the simulator and harness)
#   make check      every test: unit, simulator rules, scenarios, lspci, sanitizers, valgrind
#   make demo       the harness demo on the simulated Xen
#   make bench      benchmarks -> bench/results/latest.json and plots
#   make fuzz       libFuzzer targets (FUZZ_SECONDS each)
#   make e2e-xen    a real Xen 4.17 under QEMU, serving a real Linux guest
#   make install    PREFIX=/usr/local DESTDIR=
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
XEN_PKGS   := xendevicemodel xenevtchn xenforeignmemory xentoolcore xentoollog
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

PROGRAMS := $(BUILD)/ioreq-lend $(BUILD)/ioreq-lend-sim $(BUILD)/xensim

.PHONY: all check check-build demo bench fuzz e2e-xen install clean format deps

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
	$(Q)$(CC) $(OPT) $(SANLDFLAGS) -o $@ $^ $(XEN_LIBS) $(PCI_LIBS) $(EV_LIBS) $(SYS_LIBS)

# Simulated Xen: the same daemon objects, the simulator's Xen libraries.
$(BUILD)/ioreq-lend-sim: $(OBJ)/ioreq-lend/main.o $(BUILD)/libdaemon.a $(BUILD)/libsimclient.a
	@[ "$(V)" != 0 ] || echo "  LD      $@"
	$(Q)$(CC) $(OPT) $(SANLDFLAGS) -o $@ $^ $(PCI_LIBS) $(EV_LIBS) $(SYS_LIBS)

$(BUILD)/xensim: $(XENSIM_MAIN) $(BUILD)/libxensim.a $(BUILD)/libdaemon.a
	@[ "$(V)" != 0 ] || echo "  LD      $@"
	$(Q)$(CC) $(OPT) $(SANLDFLAGS) -o $@ $^ $(SYS_LIBS)

$(BUILD)/tests/%: tests/unit/%.c $(BUILD)/libdaemon.a $(BUILD)/libsimclient.a $(BUILD)/libxensim.a | $(DEPS_STAMP)
	$(Q)mkdir -p $(@D)
	@[ "$(V)" != 0 ] || echo "  TEST    $@"
	$(Q)$(CC) $(CPPFLAGS) -Itests $(XEN_CFLAGS) $(ALL_CFLAGS) -o $@ $< \
		$(BUILD)/libdaemon.a $(BUILD)/libxensim.a $(BUILD)/libsimclient.a \
		$(SANLDFLAGS) $(CMOCKA_LIBS) $(PCI_LIBS) $(EV_LIBS) $(SYS_LIBS)

check-build: $(PROGRAMS) $(UNIT_BINS)

# Everything a reviewer would run; tests/run-tests.sh prints "N passed, N failed".
check: $(DEPS_STAMP)
	$(Q)scripts/ensure-deps.sh check
	$(Q)tests/run-tests.sh

demo: $(PROGRAMS)
	$(Q)$(BUILD)/xensim --progress tests/scenarios/demo.scn

# A real Xen 4.17 under QEMU (TCG): images cached under tests/e2e-xen/cache.
e2e-xen: $(BUILD)/ioreq-lend
	$(Q)scripts/ensure-deps.sh e2e
	$(Q)tests/e2e-xen/run.sh

format:
	clang-format -i ioreq-lend/*.[ch] tests/sim/*/*.[ch] tests/sim/*.h tests/unit/*.c

clean:
	rm -rf build

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
