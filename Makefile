# tactus-run — build, test, install.  See README.md.
#
#   make deps      install the Debian packages (as root; idempotent)
#   make           build build/tactus-run
#   make check     build and run every test lane; ends with "N passed, N failed"
#   make asan      the same suite against an ASan+UBSan build (build-asan/)
#   make install   PREFIX=/usr/local DESTDIR= (programs, man page, completions)
#   make docs      regenerate docs/cli.md from the option table
#   make demo      run an example procedure in the real sandbox

PREFIX ?= /usr/local
DESTDIR ?=
BUILD ?= build
CC ?= gcc

PKGS := luajit libseccomp libcap-ng libnl-3.0 libnl-route-3.0 libcjson libcurl yaml-0.1
# Build dependencies, then what the test lanes use (qemu and busybox for the
# real-kernel lane, clang for the fuzzers, python3 for the fake model server).
DEB_PACKAGES := build-essential pkg-config libluajit-5.1-dev luajit libseccomp-dev \
	libcap-ng-dev libnl-3-dev libnl-route-3-dev libcjson-dev libcurl4-openssl-dev \
	libyaml-dev libssl-dev \
	iproute2 util-linux procps python3 clang llvm qemu-system-x86 busybox-static tmux zsh \
	debhelper lintian

PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
# libcurl is compiled against but not linked: the broker loads it on the
# first model call (broker/curl_lazy.c), which keeps ~30 libraries out of
# every start.  libcrypto (OpenSSL's headers, libssl-dev) likewise: loaded
# on the first hash (common/crypto.c).
LINKED_PKGS := $(filter-out libcurl,$(PKGS))
PKG_LIBS := $(shell pkg-config --libs $(LINKED_PKGS) 2>/dev/null)
# tactus-run itself links the libraries Debian ships as (position-independent)
# static archives into the binary: every start then maps and relocates
# fewer objects (`tactus-run version`: 1.35 ms median with all of them
# shared, 0.95 ms so, on a 2-vCPU VM; docs/performance.md).  PIE, RELRO and -z now are kept.  The price: a fix to one of them
# needs a rebuild.  STATIC_DEPS=0 links them all dynamically; a library
# whose archive is missing is linked dynamically anyway.
STATIC_DEPS ?= 1
STATIC_CANDIDATES := luajit-5.1 seccomp cap-ng nl-route-3 nl-3 yaml
have_archive = $(shell f=$$($(CC) -print-file-name=lib$(1).a); [ "$$f" != "lib$(1).a" ] && [ -f "$$f" ] && echo $(1))
ifeq ($(STATIC_DEPS),1)
STATIC_LIBS := $(foreach l,$(STATIC_CANDIDATES),$(call have_archive,$(l)))
endif
BSTATIC := -Wl,-Bstatic
BDYNAMIC := -Wl,-Bdynamic
TR_LIBS := $(if $(STATIC_LIBS),$(BSTATIC) $(addprefix -l,$(STATIC_LIBS)) $(BDYNAMIC)) \
	$(filter-out $(addprefix -l,$(STATIC_LIBS)),$(PKG_LIBS)) $(if $(STATIC_LIBS),-lm -ldl)

WARN := -Wall -Wextra -Werror -Wshadow -Wformat=2 -Wno-unused-parameter -Wno-format-truncation
HARDEN := -D_FORTIFY_SOURCE=2 -fstack-protector-strong -fPIE
OPT ?= -O2 -g
CFLAGS_ALL := -std=gnu11 $(OPT) $(WARN) $(HARDEN) -I. $(PKG_CFLAGS) $(SAN) $(CFLAGS)
LDFLAGS_ALL := -pie -Wl,-z,relro,-z,now -Wl,--build-id $(SAN) $(LDFLAGS)

COMMON_SRC := $(wildcard common/*.c)
SANDBOX_SRC := $(wildcard sandbox/*.c)
VM_SRC := $(wildcard vm/*.c)
BROKER_SRC := $(wildcard broker/*.c)
POLICY_SRC := $(wildcard policy/*.c)
SHIM_SRC := $(wildcard shim/*.c)
CLI_SRC := $(wildcard cli/*.c)
ASM_SRC := $(wildcard sandbox/*.S broker/*.S)

# The VM's built-in Lua (vm/lua/*.lua) is compiled to LuaJIT bytecode at
# build time and embedded: loading bytecode takes ~0.1 ms where parsing the
# source took ~2 ms on every run.  This is our own code; user code is
# only ever loaded as source text.
LUA_SRC := $(wildcard vm/lua/*.lua)
LUA_BC := $(LUA_SRC:vm/lua/%.lua=$(BUILD)/vm/lua/%.bc)

LIB_SRC := $(COMMON_SRC) $(SANDBOX_SRC) $(VM_SRC) $(BROKER_SRC) $(POLICY_SRC) $(SHIM_SRC)
LIB_OBJ := $(LIB_SRC:%.c=$(BUILD)/%.o) $(ASM_SRC:%.S=$(BUILD)/%.o) $(BUILD)/vm/lua_bc.o \
	$(BUILD)/sandbox/seccomp_bpf.o
CLI_OBJ := $(CLI_SRC:%.c=$(BUILD)/%.o)

# Embedded text (.incbin) lives next to the .S files.
EMBEDDED := $(wildcard policy/seccomp/*.policy data/*.json)

UNIT_SRC := $(wildcard tests/unit/*.c)
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/unit/%)
PROBE_BIN := $(BUILD)/tests/tr-probe

# The OCI runtime's extra lanes: tests/oci (runc for comparisons; Go builds the
# runtime-tools validation programs of tests/oci/conformance.sh), the VM
# lane's containerd/podman guest (tests/vm/oci.sh), bench/oci.sh.  Only
# installed, never started on the host: containerd and podman run only
# inside the VM.
OCI_DEB_PACKAGES := containerd podman conmon runc hyperfine busybox-static python3 python3-yaml \
	mmdebstrap golang-go

.PHONY: all deps deps-oci check asan install uninstall demo clean format fuzz bench test-bins docs

# The man page, the completions and docs/cli.md come from the option table
# (cli/options.def) through tools/clidoc.c.
VERSION := $(shell sed -n 's/^\#define TR_VERSION "\(.*\)"/\1/p' cli/main.c)
CLIDOC_OUT := $(BUILD)/doc/tactus-run.1 $(BUILD)/completions/tactus-run.bash \
	$(BUILD)/completions/_tactus-run

all: $(BUILD)/tactus-run $(BUILD)/tactus-run-client $(CLIDOC_OUT)

# Recreated, not updated: a member whose source was removed must not linger.
$(BUILD)/libtactus.a: $(LIB_OBJ)
	@mkdir -p $(@D)
	rm -f $@
	$(AR) rcs $@ $^

$(BUILD)/tactus-run: $(CLI_OBJ) $(BUILD)/libtactus.a
	$(CC) $(LDFLAGS_ALL) -o $@ $(CLI_OBJ) $(BUILD)/libtactus.a $(TR_LIBS)
	ln -sf tactus-run $(BUILD)/tactus-runc

# The warm pool's client: libc and the framing only, linked statically, so
# it starts in a fraction of tactus-run's time (see cli/cmd_serve.c).
# (The sanitizer runtimes cannot be linked statically: dynamic there.)
# Its options come from the one table (cli/options.def, through
# cli/options_table.c: plain data and libc).
CLIENT_SRC := cli/client/client.c cli/options_table.c common/frame.c common/error.c \
	common/fdpass.c common/userdir.c common/suggest.c
CLIENT_LINK := $(if $(SAN),-pie,-static-pie)
$(BUILD)/tactus-run-client: $(CLIENT_SRC) cli/options.def cli/options.h
	@mkdir -p $(@D)
	$(CC) -std=gnu11 $(OPT) $(WARN) $(HARDEN) -I. $(SAN) $(CLIENT_LINK) $(filter-out -pie,$(LDFLAGS_ALL)) -o $@ $(CLIENT_SRC)

$(BUILD)/tools/clidoc: tools/clidoc.c cli/options_table.c cli/options.def cli/options.h
	@mkdir -p $(@D)
	$(CC) -std=gnu11 $(OPT) $(WARN) -I. -o $@ tools/clidoc.c cli/options_table.c

$(BUILD)/doc/tactus-run.1: $(BUILD)/tools/clidoc
	@mkdir -p $(@D)
	$(BUILD)/tools/clidoc man $(VERSION) >$@.tmp && mv $@.tmp $@

$(BUILD)/completions/tactus-run.bash: $(BUILD)/tools/clidoc
	@mkdir -p $(@D)
	$(BUILD)/tools/clidoc bash >$@.tmp && mv $@.tmp $@

$(BUILD)/completions/_tactus-run: $(BUILD)/tools/clidoc
	@mkdir -p $(@D)
	$(BUILD)/tools/clidoc zsh >$@.tmp && mv $@.tmp $@

# docs/cli.md is committed; tests/integration/cli.sh fails when it differs
# from what the table generates.
docs: $(BUILD)/tools/clidoc
	$(BUILD)/tools/clidoc md >docs/cli.md

$(BUILD)/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_ALL) -MMD -MP -c -o $@ $<

$(BUILD)/%.o: %.S $(EMBEDDED)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_ALL) -c -o $@ $<

# Chunk names are "=tactus/NAME": user-code lookups (T.where) look for "@"
# chunks, and error messages name the module, not a build path.
$(BUILD)/vm/lua/%.bc: vm/lua/%.lua Makefile
	@mkdir -p $(@D)
	luajit -e 'local f = assert(loadstring(io.read("*a"), "=tactus/$*")); io.write(string.dump(f))' <$< >$@

# One symbol pair per module (tr_lua_<name> .. tr_lua_<name>_end) and an
# index of them all, {name, start, end} rows ending in a zero row
# (vm/builtin.c): a new vm/lua/*.lua file needs no other edit.
$(BUILD)/vm/lua_bc.S: $(LUA_BC) Makefile
	@mkdir -p $(@D)
	@{ echo '  .section .rodata'; \
	  for f in $(LUA_BC); do n=$$(basename $$f .bc); \
	    echo "  .balign 8"; echo "tr_lua_$$n:"; echo "  .incbin \"$$f\""; \
	    echo "tr_lua_$${n}_end:"; echo '  .byte 0'; \
	    echo "tr_lua_name_$$n:"; echo "  .asciz \"$$n\""; \
	  done; \
	  echo '  .section .data.rel.ro'; echo '  .global tr_lua_index'; echo '  .balign 8'; \
	  echo 'tr_lua_index:'; \
	  for f in $(LUA_BC); do n=$$(basename $$f .bc); \
	    echo "  .quad tr_lua_name_$$n, tr_lua_$$n, tr_lua_$${n}_end"; \
	  done; echo '  .quad 0, 0, 0'; \
	  echo '  .section .note.GNU-stack, "", @progbits'; } > $@

$(BUILD)/vm/lua_bc.o: $(BUILD)/vm/lua_bc.S
	$(CC) -c -o $@ $<

# The seccomp programs are compiled at build time and embedded (see
# sandbox/seccomp.c): tools/bpfgen compiles each policy/seccomp/*.policy
# with libseccomp; one symbol pair per program, tr_bpf_<name>[_end].
BPF_NAMES := vm vm-jit native native-nounix supervise-create supervise-connect supervise-all
$(BUILD)/tools/bpfgen: tools/bpfgen.c $(BUILD)/sandbox/seccomp_compile.o $(BUILD)/sandbox/profiles.o \
		$(BUILD)/common/error.o
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_ALL) $(LDFLAGS_ALL) -o $@ $^ $(shell pkg-config --libs libseccomp)

$(BUILD)/seccomp/.stamp: $(BUILD)/tools/bpfgen
	@mkdir -p $(@D)
	$(BUILD)/tools/bpfgen $(@D) && touch $@

$(BUILD)/sandbox/seccomp_bpf.S: $(BUILD)/seccomp/.stamp Makefile
	@mkdir -p $(@D)
	@{ echo '  .section .rodata'; \
	  for n in $(BPF_NAMES); do s=$$(echo $$n | tr - _); \
	    echo "  .global tr_bpf_$$s"; echo "  .global tr_bpf_$${s}_end"; echo '  .balign 8'; \
	    echo "tr_bpf_$$s:"; echo "  .incbin \"$(BUILD)/seccomp/$$n.bpf\""; echo "tr_bpf_$${s}_end:"; \
	  done; echo '  .section .note.GNU-stack, "", @progbits'; } > $@

$(BUILD)/sandbox/seccomp_bpf.o: $(BUILD)/sandbox/seccomp_bpf.S
	$(CC) -c -o $@ $<

$(BUILD)/tests/unit/%: tests/unit/%.c $(BUILD)/libtactus.a
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_ALL) $(LDFLAGS_ALL) -o $@ $< $(BUILD)/libtactus.a $(PKG_LIBS)

# It includes the option table's C itself (the CLI is not in libtactus.a).
$(BUILD)/tests/unit/test_cli_options: cli/options_table.c cli/options.def cli/options.h

# The containment probe is a plain program: no project code, so a bug in the
# project cannot make it pass.
$(PROBE_BIN): tests/probe/probe.c
	@mkdir -p $(@D)
	$(CC) -std=gnu11 -O1 -g -Wall -Wextra -Werror -o $@ $<

# The egress tests' resolver (LD_PRELOAD): names from a file, answers that
# change between lookups (DNS rebinding).  No project code either.
FAKE_RESOLVER := $(BUILD)/tests/fake_resolver.so
$(FAKE_RESOLVER): tests/lib/fake_resolver.c
	@mkdir -p $(@D)
	$(CC) -std=gnu11 -O1 -g -Wall -Wextra -Werror -fPIC -shared -o $@ $< -ldl

test-bins: $(BUILD)/tactus-run $(BUILD)/tactus-run-client $(CLIDOC_OUT) $(UNIT_BIN) $(PROBE_BIN) $(FAKE_RESOLVER)

# libFuzzer runs once per CI, in the sanitized pass (make asan), this long
# per target; the plain pass replays every corpus (tests/fuzz/run.sh).
FUZZ_SECONDS ?= 60

check: test-bins
	BUILD=$(BUILD) FUZZ_SECONDS=$(FUZZ_SECONDS) tests/run

# Longer fuzzing: make fuzz FUZZ_SECONDS=600
fuzz:
	BUILD=$(BUILD) FUZZ_SECONDS=$(FUZZ_SECONDS) tests/fuzz/run.sh

# The suite against an ASan+UBSan build.  TR_SANITIZED tells the lanes that
# address-space limits cannot apply (ASan reserves terabytes of shadow).
asan:
	$(MAKE) BUILD=build-asan SAN="-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer" OPT="-O1 -g" test-bins
	TR_SANITIZED=1 BUILD=build-asan FUZZ_SECONDS=$(FUZZ_SECONDS) ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 tests/run

deps:
	@if [ "$$(id -u)" != 0 ]; then echo "make deps: run as root (apt-get)"; exit 1; fi
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $(DEB_PACKAGES) \
	  || { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $(DEB_PACKAGES); }

# containerd and podman are only installed, never started on the host (the
# OCI lane runs them inside the qemu VM): a policy-rc.d that refuses every
# service start stays in place while the packages install.
deps-oci:
	@if [ "$$(id -u)" != 0 ]; then echo "make deps-oci: run as root (apt-get)"; exit 1; fi
	@if [ ! -e /usr/sbin/policy-rc.d ]; then printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d; chmod 755 /usr/sbin/policy-rc.d; touch .policy-rc.d.ours; fi
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $(OCI_DEB_PACKAGES) \
	  || { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $(OCI_DEB_PACKAGES); }; \
	  r=$$?; if [ -e .policy-rc.d.ours ]; then rm -f /usr/sbin/policy-rc.d .policy-rc.d.ours; fi; exit $$r

install: $(BUILD)/tactus-run $(BUILD)/tactus-run-client $(CLIDOC_OUT)
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/man/man1 \
	  $(DESTDIR)$(PREFIX)/share/bash-completion/completions \
	  $(DESTDIR)$(PREFIX)/share/zsh/site-functions
	install -m 0755 $(BUILD)/tactus-run $(DESTDIR)$(PREFIX)/bin/tactus-run
	install -m 0755 $(BUILD)/tactus-run-client $(DESTDIR)$(PREFIX)/bin/tactus-run-client
	ln -sf tactus-run $(DESTDIR)$(PREFIX)/bin/tactus-runc
	install -m 0644 $(BUILD)/doc/tactus-run.1 $(DESTDIR)$(PREFIX)/share/man/man1/tactus-run.1
	ln -sf tactus-run.1 $(DESTDIR)$(PREFIX)/share/man/man1/tactus-run-client.1
	install -m 0644 $(BUILD)/completions/tactus-run.bash \
	  $(DESTDIR)$(PREFIX)/share/bash-completion/completions/tactus-run
	ln -sf tactus-run $(DESTDIR)$(PREFIX)/share/bash-completion/completions/tactus-run-client
	install -m 0644 $(BUILD)/completions/_tactus-run \
	  $(DESTDIR)$(PREFIX)/share/zsh/site-functions/_tactus-run

# The main job: what this host supports, then a real procedure in the cage.
demo: $(BUILD)/tactus-run
	$(BUILD)/tactus-run sandbox status
	$(BUILD)/tactus-run run examples/hello.tac --param name=tactus

uninstall:
	rm -f $(DESTDIR)$(PREFIX)/bin/tactus-run $(DESTDIR)$(PREFIX)/bin/tactus-runc \
	  $(DESTDIR)$(PREFIX)/bin/tactus-run-client \
	  $(DESTDIR)$(PREFIX)/share/man/man1/tactus-run.1 \
	  $(DESTDIR)$(PREFIX)/share/man/man1/tactus-run-client.1 \
	  $(DESTDIR)$(PREFIX)/share/bash-completion/completions/tactus-run \
	  $(DESTDIR)$(PREFIX)/share/bash-completion/completions/tactus-run-client \
	  $(DESTDIR)$(PREFIX)/share/zsh/site-functions/_tactus-run

# Benchmarks against the peers (never part of check).
bench: $(BUILD)/tactus-run $(BUILD)/tactus-run-client $(BUILD)/libtactus.a
	BUILD=$(BUILD) bench/run.sh

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf build build-asan

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
