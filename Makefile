# armvm: one Makefile. `make` builds build/armvm, a static arm64 binary
# (cross-compiled with CROSS_COMPILE=aarch64-linux-gnu- on x86_64).
#   make check   unit tests only        make test   every test, unit and lab
#   make demo    boot the default guest in the lab
#   make test-long  the long lab sweeps (snapshot at every SVE length)
#   make format  clang-format (make format-check: is it applied? part of make test)
#   make install / uninstall (PREFIX, DESTDIR)   make deb   the Debian package
#   make V=1     verbose

ARCH := $(shell uname -m)
ifeq ($(ARCH),x86_64)
CROSS_COMPILE ?= aarch64-linux-gnu-
RUN_ARM ?= qemu-aarch64-static
else ifeq ($(ARCH),aarch64)
CROSS_COMPILE ?=
RUN_ARM ?= env
else
$(error armvm builds on x86_64 (cross) or aarch64 hosts, not $(ARCH))
endif

CC := $(CROSS_COMPILE)gcc
VERSION := $(shell git describe --always --dirty 2>/dev/null || echo unknown)
B := build
Q := $(if $(V),,@)
# The files that print the version rebuild when it changes (a stamp
# rewritten only then), or `armvm version` would name an old commit.
VERSION_STAMP := $(B)/version.stamp
$(shell mkdir -p $(B) && { [ "$$(cat $(VERSION_STAMP) 2>/dev/null)" = "$(VERSION)" ] || echo "$(VERSION)" > $(VERSION_STAMP); })

WARNINGS := -Wall -Wextra -Werror -Wshadow -Wpointer-arith -Wformat=2 \
	-Wmissing-prototypes -Wstrict-prototypes -Wundef -Wvla \
	-Wno-unused-parameter -Wimplicit-fallthrough
CFLAGS ?= -O2 -g
CFLAGS += -std=gnu11 $(WARNINGS) -D_GNU_SOURCE -Iinclude \
	-DARMVM_VERSION='"$(VERSION)"' -MMD -MP
LDFLAGS += -static
LIBS := -lfdt -luring -laio -lz -ljansson -lpthread

# Modules that need no KVM: unit-tested, and (later) built for fuzzing.
CORE_SRCS := vmm/util.c vmm/cli.c vmm/cli_table.c vmm/cli_doc.c vmm/bus.c vmm/guest_mem.c vmm/state.c vmm/crc32c.c vmm/snapfile.c vmm/vfio.c vmm/kvm_stats.c \
	vmm/device.c vmm/evloop.c vmm/console.c \
	devices/uart8250.c devices/pl031.c devices/virtqueue.c devices/virtio.c devices/virtio_rng.c devices/virtio_iommu.c devices/virtio_blk.c devices/virtio_blk_req.c devices/blk_io.c devices/virtio_console.c devices/virtio_net.c devices/vhost.c \
	arch/arm64/image.c arch/arm64/devtree.c arch/arm64/sve.c
KVM_SRCS := vmm/vm.c vmm/minivm.c vmm/irq.c vmm/iothread.c vmm/jail.c \
	devices/virtio_transport.c devices/virtio_mmio.c devices/virtio_pci.c devices/vfio_pci.c vmm/pci.c arch/arm64/vcpu.c arch/arm64/vcpu_state.c \
	arch/arm64/gic.c arch/arm64/gic_state.c arch/arm64/guest_code.S vmm/snapshot.c
MAIN_SRCS := vmm/main.c vmm/info.c vmm/selftest.c vmm/selftest_a32.c vmm/control.c
CORE_OBJS := $(CORE_SRCS:%.c=$(B)/obj/%.o)
KVM_OBJS := $(patsubst %.S,$(B)/obj/%.o,$(KVM_SRCS:%.c=$(B)/obj/%.o))
MAIN_OBJS := $(MAIN_SRCS:%.c=$(B)/obj/%.o)

UNIT_TESTS := $(patsubst tests/unit/%.c,$(B)/tests/unit/%,$(wildcard tests/unit/test_*.c))
KVM_TESTS := $(patsubst tests/kvm/%.c,$(B)/tests/kvm/%,$(filter-out tests/kvm/hostile_pci.c,$(wildcard tests/kvm/*.c)))
# Tests of the project's scripts (TAP shell scripts, run on the build host).
SCRIPT_TESTS := tests/unit/setup.t tests/unit/suite-guard.t tests/unit/cli-control.t tests/unit/doc.t
GUEST_PROGS := $(patsubst tests/guest/%.c,$(B)/guest/%,$(wildcard tests/guest/*.c))

.PHONY: all check test test-long demo lab-assets setup format format-check clean install uninstall
all: $(B)/armvm $(B)/armvm.1 $(B)/armvm.bash

# The man page and the bash completion, from the option table, by a tool
# built for this machine (armvm itself may be for another architecture).
BUILD_CC ?= $(or $(CC_FOR_BUILD),cc)
DOC_SRCS := vmm/cli_gen.c vmm/cli_table.c vmm/cli_doc.c
SOURCE_DATE_EPOCH ?= $(shell git log -1 --format=%ct 2>/dev/null || date +%s)
$(B)/host/cli_gen: $(DOC_SRCS) include/cli.h
	@mkdir -p $(dir $@)
	@echo "  HOSTCC  $@"
	$(Q)$(BUILD_CC) -O2 -std=gnu11 -Wall -Wextra -Werror -D_GNU_SOURCE -Iinclude -o $@ $(DOC_SRCS)
$(B)/armvm.1: $(B)/host/cli_gen $(VERSION_STAMP)
	@echo "  GEN     $@"
	$(Q)SOURCE_DATE_EPOCH=$(SOURCE_DATE_EPOCH) $< man "$(VERSION)" >$@.tmp && mv $@.tmp $@
$(B)/armvm.bash: $(B)/host/cli_gen
	@echo "  GEN     $@"
	$(Q)$< bash >$@.tmp && mv $@.tmp $@

$(B)/armvm: $(CORE_OBJS) $(KVM_OBJS) $(MAIN_OBJS)
	@echo "  LD      $@"
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LIBS)

$(B)/obj/vmm/main.o $(B)/obj/vmm/snapshot.o: $(VERSION_STAMP)

# The seccomp report's table of call names, from the target's own
# <asm/unistd.h> (every __NR_ name the compiler's headers define).
$(B)/gen/syscall_names.h:
	@mkdir -p $(dir $@)
	@echo "  GEN     $@"
	$(Q)echo '#include <asm/unistd.h>' | $(CC) -dM -E -x c - | \
		sed -n 's/^#define __NR_\([a-z0-9_]*\) .*/\1/p' | \
		grep -vx 'syscalls\|arch_specific_syscall' | sort -u | \
		sed 's/.*/#ifdef __NR_&\n[__NR_&] = "&",\n#endif/' >$@.tmp && mv $@.tmp $@
$(B)/obj/vmm/jail.o: $(B)/gen/syscall_names.h
$(B)/obj/vmm/jail.o: CFLAGS += -I$(B)/gen

$(B)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	$(Q)$(CC) $(CFLAGS) -c -o $@ $<

$(B)/obj/%.o: %.S
	@mkdir -p $(dir $@)
	@echo "  AS      $<"
	$(Q)$(CC) -Iinclude -c -o $@ $<

# vCPU-level tests: small guest payloads driven through vmm/ and arch/.
$(B)/tests/kvm/%: tests/kvm/%.c tests/unit/tap.h $(CORE_OBJS) $(KVM_OBJS)
	@mkdir -p $(dir $@)
	@echo "  KVMTEST $@"
	$(Q)$(CC) $(CFLAGS) -Itests/unit $(LDFLAGS) -o $@ $< $(CORE_OBJS) $(KVM_OBJS) $(LIBS)

$(B)/tests/unit/%: tests/unit/%.c tests/unit/tap.h $(CORE_OBJS)
	@mkdir -p $(dir $@)
	@echo "  TEST    $@"
	$(Q)$(CC) $(CFLAGS) -Itests/unit $(LDFLAGS) -o $@ $< $(CORE_OBJS) $(LIBS)
# The seccomp programs, run by the test's own BPF interpreter (no KVM).
$(B)/tests/unit/test_jail: tests/unit/test_jail.c tests/unit/tap.h $(CORE_OBJS) $(B)/obj/vmm/jail.o
	@mkdir -p $(dir $@)
	@echo "  TEST    $@"
	$(Q)$(CC) $(CFLAGS) -Itests/unit $(LDFLAGS) -o $@ $< $(CORE_OBJS) $(B)/obj/vmm/jail.o $(LIBS)

# Guest-side programs: static arm64, no armvm code.
$(B)/guest/%: tests/guest/%.c
	@mkdir -p $(dir $@)
	@echo "  GUEST   $@"
	$(Q)$(CC) -O2 -static -Wall -Wextra -Werror -o $@ $<

setup:
	$(Q)scripts/setup.sh

check: $(UNIT_TESTS) all
	ARMVM=$(B)/armvm prove -e tests/run-test $(UNIT_TESTS) $(SCRIPT_TESTS)

# The default guest, in build/lab: Debian's arm64 kernel and an initramfs
# of busybox and the guest-side programs (make demo boots it; make install
# installs it).
.PHONY: guest
guest: $(GUEST_PROGS)
	$(Q)tests/lab/assets.sh

lab-assets: $(B)/armvm $(GUEST_PROGS) $(B)/guest/flat.bin $(B)/guest/hostile.bin $(B)/guest/hostile-net.bin $(B)/guest/hostile-pci.bin $(KVM_TESTS)
	$(Q)tests/lab/assets.sh

# Everything: unit tests, then the lab suite in one emulated host boot.
test: setup
	$(Q)$(MAKE) --no-print-directory format-check
	$(Q)$(MAKE) --no-print-directory all $(UNIT_TESTS) $(ASAN_UNIT_TESTS) lab-assets
	ARMVM=$(B)/armvm prove -e tests/run-test $(UNIT_TESTS) $(ASAN_UNIT_TESTS) $(SCRIPT_TESTS) tests/fuzz/fuzz.t tests/lab/suite.t

# Long sweeps (not in make test): snapshot and restore of SVE guests at
# every vector length the lab host offers, with 1 and 2 vCPUs.
test-long: setup
	$(Q)$(MAKE) --no-print-directory all lab-assets
	tests/lab/lab run -- 'SNAP_LONG=1 sh /lab/suite.sh snapshot-only'

demo: setup
	$(Q)$(MAKE) --no-print-directory all lab-assets
	tests/lab/lab run -- 'armvm run -c 2 -m 512 -p "quiet"'

# make install [PREFIX=/usr/local] [DESTDIR=]: armvm, armvm(1), the bash
# completion and the default guest (share/armvm: the lab's kernel and
# initramfs, fetched and built by lab-assets), so that `armvm run` with no
# arguments boots on an installed arm64 host. `make uninstall` undoes it.
PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
MANDIR ?= $(PREFIX)/share/man
DATADIR ?= $(PREFIX)/share/armvm
COMPLETIONDIR ?= $(PREFIX)/share/bash-completion/completions
# GUEST_DIR: where the default guest is taken from (make deb passes its own).
GUEST_DIR ?= $(B)/lab
$(B)/lab/Image $(B)/lab/guest.cpio.gz: guest
install: all $(GUEST_DIR)/Image $(GUEST_DIR)/guest.cpio.gz
	install -D -m 755 $(B)/armvm $(DESTDIR)$(BINDIR)/armvm
	install -D -m 644 $(B)/armvm.1 $(DESTDIR)$(MANDIR)/man1/armvm.1
	install -D -m 644 $(B)/armvm.bash $(DESTDIR)$(COMPLETIONDIR)/armvm
	install -D -m 644 $(GUEST_DIR)/Image $(DESTDIR)$(DATADIR)/Image
	install -D -m 644 $(GUEST_DIR)/guest.cpio.gz $(DESTDIR)$(DATADIR)/guest.cpio.gz
uninstall:
	rm -f $(DESTDIR)$(BINDIR)/armvm $(DESTDIR)$(MANDIR)/man1/armvm.1 \
		$(DESTDIR)$(COMPLETIONDIR)/armvm $(DESTDIR)$(DATADIR)/Image \
		$(DESTDIR)$(DATADIR)/guest.cpio.gz
	-rmdir $(DESTDIR)$(DATADIR) 2>/dev/null

# The Debian package, built from a copy of this tree in build/deb (so the
# build here is untouched) with this tree's default guest, then checked
# with lintian: build/deb/armvm_VERSION_arm64.deb. Cross from x86_64.
DEB_HOST := $(if $(filter x86_64,$(ARCH)),-aarm64,)
.PHONY: deb
deb: guest
	$(Q)rm -rf $(B)/deb && mkdir -p $(B)/deb/src
	$(Q)tar -c --exclude=./build --exclude=./.git -f - . | tar -x -C $(B)/deb/src
	cd $(B)/deb/src && ARMVM_GUEST_DIR_BUILD=$(CURDIR)/$(B)/lab \
		dpkg-buildpackage -b -us -uc $(DEB_HOST) >../build.log 2>&1 || \
		{ tail -n 30 ../build.log; exit 1; }
	lintian --fail-on error $(B)/deb/armvm_*_arm64.deb
	@ls $(B)/deb/armvm_*_arm64.deb

# The committed .clang-format, applied to every C file (Debian 12's
# clang-format 14: other versions format differently).
CLANG_FORMAT ?= $(or $(shell command -v clang-format-14 2>/dev/null),clang-format)
FORMAT_FILES = $(or $(shell git ls-files '*.c' '*.h' 2>/dev/null),\
	$(shell find arch bench devices include tests vmm -name '*.[ch]'))
format:
	$(CLANG_FORMAT) -i $(FORMAT_FILES)
format-check:
	@$(CLANG_FORMAT) --dry-run --Werror $(FORMAT_FILES) || \
		{ echo "format-check: run make format (clang-format, .clang-format)" >&2; exit 1; }
	@echo "format-check: $(words $(FORMAT_FILES)) files as .clang-format says"

clean:
	rm -rf $(B)/obj $(B)/tests $(B)/guest $(B)/host $(B)/armvm $(B)/armvm.1 $(B)/armvm.bash

# Header dependencies of every object set (sanitized ones too: a struct
# that grew must rebuild them, or the tests run stale layouts).
-include $(shell find $(B)/obj $(B)/san $(B)/asan -name '*.d' 2>/dev/null)

# A bare-metal payload for the flat-binary loading test.
$(B)/guest/flat.bin: tests/guest/flat.S
	@mkdir -p $(dir $@)
	@echo "  AS      $@"
	$(Q)$(CC) -nostdlib -static -Wl,-Ttext=0x80080000 -o $(B)/guest/flat.elf $<
	$(Q)$(CROSS_COMPILE)objcopy -O binary -j .text $(B)/guest/flat.elf $@

$(B)/bench/sve-bench: bench/sve-bench.c $(CORE_OBJS) $(KVM_OBJS)
	@mkdir -p $(dir $@)
	@echo "  BENCH   $@"
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(CORE_OBJS) $(KVM_OBJS) $(LIBS)

$(B)/bench/%: bench/%.c bench/bench.h
	@mkdir -p $(dir $@)
	@echo "  BENCH   $@"
	$(Q)$(CC) -O2 -static -Wall -Wextra -Werror -D_GNU_SOURCE -o $@ $<

# Fuzzing (libFuzzer + AddressSanitizer) on the build host, natively: the
# virtqueue walk and the virtio-blk request parser build without KVM.
FUZZ_CC ?= clang
FUZZ_SECONDS ?= 60
# The code without KVM (CORE_SRCS), built natively with the sanitizers:
# the libraries are the build host's (libfdt by its soname: its -dev
# package cannot be installed for two architectures at once).
HOST_ARCH_LIBDIR := /usr/lib/$(shell $(FUZZ_CC) -print-multiarch 2>/dev/null || echo $(ARCH)-linux-gnu)
HOST_LIBS := $(HOST_ARCH_LIBDIR)/libfdt.so.1 $(HOST_ARCH_LIBDIR)/liburing.so.2 \
	$(HOST_ARCH_LIBDIR)/libaio.so.1 -lz -lpthread
SAN_FLAGS := -g -O1 -fno-omit-frame-pointer -fno-sanitize-recover=all \
	-std=gnu11 -D_GNU_SOURCE -Iinclude -Wno-unused-command-line-argument
# One set of sanitized objects serves the fuzzers and the unit tests.
SAN_OBJS := $(CORE_SRCS:%.c=$(B)/san/%.o)
$(B)/san/%.o: %.c
	@mkdir -p $(dir $@)
	@echo "  SANCC   $<"
	$(Q)$(FUZZ_CC) $(SAN_FLAGS) -fsanitize=address,undefined,fuzzer-no-link -MMD -MP -c -o $@ $<
.SECONDARY: $(SAN_OBJS)
FUZZ_TARGETS := $(patsubst tests/fuzz/%.c,$(B)/fuzz/%,$(wildcard tests/fuzz/fuzz_*.c))
$(B)/fuzz/%: tests/fuzz/%.c $(SAN_OBJS)
	@mkdir -p $(dir $@)
	@echo "  FUZZ    $@"
	$(Q)$(FUZZ_CC) $(SAN_FLAGS) -fsanitize=fuzzer,address,undefined \
		-o $@ $< $(SAN_OBJS) $(HOST_LIBS)
$(B)/fuzz/fuzz_vcpu_state: tests/fuzz/fuzz_vcpu_state.c $(SAN_OBJS) arch/arm64/vcpu_state.c tests/fuzz/kvm_stubs.c $(wildcard include/*.h)
	@mkdir -p $(dir $@)
	@echo "  FUZZ    $@"
	$(Q)$(FUZZ_CC) $(SAN_FLAGS) -fsanitize=fuzzer,address,undefined \
		-o $@ $< arch/arm64/vcpu_state.c tests/fuzz/kvm_stubs.c $(SAN_OBJS) $(HOST_LIBS)
# The PCI and virtio transport register files, over stubbed KVM calls.
FUZZ_PCI_SRCS := vmm/pci.c devices/virtio_pci.c devices/virtio_mmio.c \
	devices/virtio_transport.c vmm/iothread.c tests/fuzz/kvm_stubs.c
$(B)/fuzz/fuzz_pci: tests/fuzz/fuzz_pci.c $(SAN_OBJS) $(FUZZ_PCI_SRCS) $(wildcard include/*.h)
	@mkdir -p $(dir $@)
	@echo "  FUZZ    $@"
	$(Q)$(FUZZ_CC) $(SAN_FLAGS) -fsanitize=fuzzer,address,undefined \
		-o $@ $< $(FUZZ_PCI_SRCS) $(SAN_OBJS) $(HOST_LIBS)

# The unit tests again, natively on the build host with ASan and UBSan
# where the code is portable (test_sve checks arm64 KVM UAPI values,
# test_jail arm64's seccomp programs):
# `make check-asan`, part of `make test`.
ASAN_UNIT_TESTS := $(patsubst tests/unit/%.c,$(B)/asan/%,$(filter-out tests/unit/test_sve.c tests/unit/test_jail.c,$(wildcard tests/unit/test_*.c)))
$(B)/asan/%: tests/unit/%.c tests/unit/tap.h $(SAN_OBJS)
	@mkdir -p $(dir $@)
	@echo "  ASAN    $@"
	$(Q)$(FUZZ_CC) $(SAN_FLAGS) -fsanitize=address,undefined -Itests/unit \
		-o $@ $< $(SAN_OBJS) $(HOST_LIBS)
.PHONY: check-asan
check-asan: $(ASAN_UNIT_TESTS)
	prove -e tests/run-test $(ASAN_UNIT_TESTS)

.PHONY: fuzz fuzz-short
fuzz: $(FUZZ_TARGETS)
	$(Q)for f in $(FUZZ_TARGETS); do n=$$(basename $$f); mkdir -p $(B)/fuzz/corpus-$$n; \
		d=; [ -f tests/fuzz/$$n.dict ] && d=-dict=tests/fuzz/$$n.dict; \
		$$f -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 $$d $(B)/fuzz/corpus-$$n || exit 1; done
fuzz-short:
	$(Q)$(MAKE) --no-print-directory fuzz FUZZ_SECONDS=15

# The hostile guest: a flat-binary payload that abuses a virtio device
# (virtio-rng; -net: virtio-net on vhost).
$(B)/guest/hostile.bin: HOSTILE_FLAGS :=
$(B)/guest/hostile-net.bin: HOSTILE_FLAGS := -DHOSTILE_NET
$(B)/guest/hostile.bin $(B)/guest/hostile-net.bin: tests/kvm/hostile.S
	@mkdir -p $(dir $@)
	@echo "  AS      $@"
	$(Q)$(CC) -nostdlib -static -Wl,-Ttext=0x80080000 $(HOSTILE_FLAGS) -o $(@:.bin=.elf) $<
	$(Q)$(CROSS_COMPILE)objcopy -O binary -j .text $(@:.bin=.elf) $@

# The hostile guest on PCI and virtio-blk, in C, bare metal (MMU off:
# every access aligned, no library).
$(B)/guest/hostile-pci.bin: tests/kvm/hostile_pci.c tests/kvm/payload.ld
	@mkdir -p $(dir $@)
	@echo "  CC      $@"
	$(Q)$(CC) -O2 -ffreestanding -nostdlib -static -mstrict-align -mgeneral-regs-only \
		-fno-builtin -fno-stack-protector -Wall -Wextra -Werror \
		-Wl,--build-id=none -Wl,--no-warn-rwx-segments \
		-T tests/kvm/payload.ld -o $(@:.bin=.elf) $<
	$(Q)$(CROSS_COMPILE)objcopy -O binary $(@:.bin=.elf) $@
