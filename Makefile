# fpuctx build. Layers: core (freestanding library) -> sim/kernel (freestanding
# simulated kernel, on sim/oracle, sim/hw and sim/user) -> sim/machine (hosted)
# -> tool (the fpuctx command).
#
#   make            build bin/fpuctx (and prove the kernel side needs no libc)
#   make demo       run the main job: every seed scenario, saves/restores per policy
#   make test       build and run every test (also the ASan/UBSan build), as TAP
#   make test T=unit,traces   only those sections (an unknown one lists them all)
#   make mutate     every mutant of mutants/ must be killed by scenarios or stress (~6 min)
#   make bench      cycle benchmarks (not a test): build/bench/bench.{txt,json,svg}
#   make difftest N=100000   more signal frames against the host kernel
#   make fuzz SECONDS=600    a long libFuzzer run of both targets
#   make ring0      a ring-0 kernel on the installed library, booted under QEMU per policy
#   make install PREFIX=/usr/local DESTDIR=   libfpuctx.a, headers, fpuctx.pc, fpuctx, man pages
#   make uninstall (same PREFIX/DESTDIR)      removes exactly those files

CC       ?= gcc
BUILD    ?= build
SAN      ?=
OPT      ?= -O2
WARN     := -Wall -Wextra -Werror
COMMON   := -std=c11 $(OPT) -g $(WARN) -Iinclude -MMD -MP
# Kernel-side code: what a real kernel would accept. No red zone: an
# interrupt taken in ring 0 pushes its frame on the stack the code runs on.
FREESTANDING := -ffreestanding -fno-builtin -mgeneral-regs-only -mno-red-zone \
            -fno-tree-loop-distribute-patterns -fno-stack-protector
# Everything but libfpuctx.a is the testing build: the injectable bugs and
# pretended CPU behaviours of include/fpuctx/testing.h are compiled in.
BASE     := $(COMMON) -DFPUCTX_TESTING
KFLAGS   := $(BASE) $(FREESTANDING)
# The production library (make install): the same core, without them.
LIBFLAGS := $(COMMON) $(FREESTANDING)
HFLAGS   := $(BASE) $(SAN)
# Under sanitizers the kernel side gets UBSan only (ASan cannot follow its stack switches).
ifneq ($(SAN),)
KFLAGS   += -fsanitize=undefined -fno-sanitize-recover=all
endif

CORE_SRC   := core/xstate.c core/x87.c core/backend.c core/policy.c core/fpu.c core/signal.c core/extable.c core/regset.c core/guest.c \
              core/testing.c
LIB_SRC    := $(filter-out core/testing.c,$(CORE_SRC))
KERNEL_SRC := sim/kernel/boot.c sim/kernel/sched.c sim/kernel/irq.c sim/kernel/prog.c sim/kernel/port.c sim/kernel/signal.c \
              sim/kernel/check.c sim/kernel/vm.c sim/oracle/pattern.c sim/hw/hw.c
KERNEL_ASM := sim/hw/switch.S sim/hw/uaccess.S
USER_SRC   := sim/user/user_simd.c
HOST_SRC   := sim/machine/machine.c sim/machine/fault.c tool/options.c tool/parse.c tool/report.c tool/stress.c tool/trace_out.c tool/bench.c
TOOL_MAIN  := tool/main.c

CORE_OBJ   := $(CORE_SRC:%.c=$(BUILD)/%.o)
KERNEL_COBJ:= $(KERNEL_SRC:%.c=$(BUILD)/%.o)
KERNEL_OBJ := $(KERNEL_COBJ) $(KERNEL_ASM:%.S=$(BUILD)/%.o)
USER_OBJ   := $(USER_SRC:%.c=$(BUILD)/%.o)
HOST_OBJ   := $(HOST_SRC:%.c=$(BUILD)/%.o)
SIM_OBJ    := $(CORE_OBJ) $(KERNEL_OBJ) $(USER_OBJ) $(HOST_OBJ)
LIB_OBJ    := $(LIB_SRC:%.c=$(BUILD)/lib/%.o)
LIBFPUCTX  := $(BUILD)/lib/libfpuctx.a

FPUCTX     := $(BUILD)/bin/fpuctx
comma      := ,
TESTS      := $(BUILD)/tests/test_xstate $(BUILD)/tests/test_core $(BUILD)/tests/test_guest $(BUILD)/tests/test_parse $(BUILD)/tests/difftest

.PHONY: all demo test test-asan bench clean nolibc setup difftest fuzz install uninstall mutate model model-large model-full ring0
all: $(FPUCTX) $(LIBFPUCTX) $(BUILD)/nolibc.ok

$(CORE_OBJ) $(KERNEL_COBJ): $(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(KFLAGS) -c $< -o $@
$(LIB_OBJ): $(BUILD)/lib/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(LIBFLAGS) -c $< -o $@
$(LIBFPUCTX): $(LIB_OBJ)
	rm -f $@
	$(AR) rcs $@ $^
$(BUILD)/sim/hw/%.o: sim/hw/%.S
	@mkdir -p $(dir $@)
	$(CC) -c $< -o $@
# User code of simulated tasks: freestanding, but allowed to use SIMD.
$(USER_OBJ): $(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(BASE) -ffreestanding -fno-builtin -fno-tree-loop-distribute-patterns -fno-stack-protector -c $< -o $@
$(HOST_OBJ) $(BUILD)/tool/main.o: $(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(HFLAGS) -c $< -o $@

$(FPUCTX): $(SIM_OBJ) $(BUILD)/tool/main.o
	@mkdir -p $(dir $@)
	$(CC) $(HFLAGS) -o $@ $(filter %.o,$^)

# The kernel side must link with nothing outside itself: no libc, and no
# memcpy/memset the compiler slipped in. (Not under sanitizers: their
# runtime is outside by design.)
$(BUILD)/nolibc.ok: $(CORE_OBJ) $(KERNEL_OBJ) $(USER_OBJ) $(LIB_OBJ)
	@if [ -z "$(SAN)" ]; then \
	   scripts/nolibc-check.sh core $(CORE_OBJ) && \
	   scripts/nolibc-check.sh production-core $(LIB_OBJ) && \
	   scripts/nolibc-check.sh kernel $(CORE_OBJ) $(KERNEL_OBJ) $(USER_OBJ); \
	 fi
	@touch $@
nolibc: $(BUILD)/nolibc.ok

$(BUILD)/tests/test_xstate: tests/test_xstate.c $(CORE_OBJ) $(BUILD)/sim/oracle/pattern.o
	@mkdir -p $(dir $@)
	$(CC) $(HFLAGS) -o $@ $(filter %.c %.o,$^)
$(BUILD)/tests/difftest: tests/difftest.c $(CORE_OBJ) $(BUILD)/sim/oracle/pattern.o $(BUILD)/sim/machine/fault.o
	@mkdir -p $(dir $@)
	$(CC) $(HFLAGS) -o $@ $(filter %.c %.o,$^)
$(BUILD)/tests/test_core: tests/test_core.c $(CORE_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(HFLAGS) -o $@ $(filter %.c %.o,$^)
$(BUILD)/tests/test_guest: tests/test_guest.c $(CORE_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(HFLAGS) -o $@ $(filter %.c %.o,$^)
$(BUILD)/tests/test_parse: tests/test_parse.c $(BUILD)/tool/parse.o
	@mkdir -p $(dir $@)
	$(CC) $(HFLAGS) -o $@ $(filter %.c %.o,$^)

# Installation: the production library, the public headers (not testing.h),
# pkg-config data, the command and the man pages.
PREFIX  ?= /usr/local
VERSION := $(shell sed -n 's/^\#define FPUCTX_VERSION_STRING "\(.*\)"/\1/p' include/fpuctx/version.h)
PUBLIC_HEADERS := $(filter-out include/fpuctx/testing.h,$(wildcard include/fpuctx/*.h))
INST_LIB := $(DESTDIR)$(PREFIX)/lib
INST_INC := $(DESTDIR)$(PREFIX)/include/fpuctx
INST_PC  := $(DESTDIR)$(PREFIX)/lib/pkgconfig
INST_BIN := $(DESTDIR)$(PREFIX)/bin
INST_MAN := $(DESTDIR)$(PREFIX)/share/man

# fpuctx.pc: written at install time, for the PREFIX of that install.
PC_LINES = printf '%s\n' \
	  '\# libfpuctx is freestanding: compile the kernel side that calls it with' \
	  '\# -ffreestanding -mgeneral-regs-only (libfpuctx(3)).' \
	  'prefix=$(PREFIX)' 'libdir=$${prefix}/lib' 'includedir=$${prefix}/include' '' \
	  'Name: fpuctx' \
	  'Description: x86-64 FPU/XSAVE context switching for kernels' \
	  'Version: $(VERSION)' \
	  'Cflags: -I$${includedir}' \
	  'Libs: -L$${libdir} -lfpuctx'

install: $(LIBFPUCTX) $(FPUCTX)
	install -d $(INST_LIB) $(INST_INC) $(INST_PC) $(INST_BIN) $(INST_MAN)/man1 $(INST_MAN)/man3
	install -m 644 $(LIBFPUCTX) $(INST_LIB)/libfpuctx.a
	install -m 644 $(PUBLIC_HEADERS) $(INST_INC)/
	$(PC_LINES) >$(INST_PC)/fpuctx.pc && chmod 644 $(INST_PC)/fpuctx.pc
	install -m 755 $(FPUCTX) $(INST_BIN)/fpuctx
	install -m 644 man/fpuctx.1 $(INST_MAN)/man1/fpuctx.1
	install -m 644 man/libfpuctx.3 $(INST_MAN)/man3/libfpuctx.3

# Only the files install wrote; directories stay (they may be shared), but
# include/fpuctx is ours once empty.
uninstall:
	rm -f $(INST_LIB)/libfpuctx.a $(INST_PC)/fpuctx.pc $(INST_BIN)/fpuctx \
	      $(INST_MAN)/man1/fpuctx.1 $(INST_MAN)/man3/libfpuctx.3 \
	      $(addprefix $(INST_INC)/,$(notdir $(PUBLIC_HEADERS)))
	rmdir $(INST_INC) 2>/dev/null || true

# Installs missing build/test dependencies (idempotent).
setup:
	@scripts/setup.sh

demo: setup
	@$(MAKE) --no-print-directory all
	@scripts/demo.sh $(FPUCTX)

test: setup
	@$(MAKE) --no-print-directory all $(TESTS)
	@scripts/test.sh $(BUILD) '$(T)'

# Every mutant of mutants/ killed by the scenarios and CI's stress seeds
# (not by the unit tests); M=NAME,... runs only those.
mutate:
	@scripts/mutate.sh $(subst $(comma), ,$(M))

test-asan:
	@$(MAKE) --no-print-directory BUILD=build-asan SAN="-fsanitize=address,undefined -fno-sanitize-recover=all" OPT=-O1 all build-asan/tests/test_core build-asan/tests/test_guest build-asan/tests/test_parse build-asan/tests/test_xstate build-asan/tests/difftest

# Prints the figures and writes them to build/bench/: bench.json, bench.txt,
# and bench.svg (drawn from the JSON). BENCH_ARGS=--quick for a rough run.
bench: all
	@$(FPUCTX) bench --output $(BUILD)/bench $(BENCH_ARGS)
	@scripts/bench-plot.py $(BUILD)/bench/bench.json $(BUILD)/bench/bench.svg
	@echo "bench: wrote $(BUILD)/bench/bench.json, bench.txt, bench.svg"

# The host kernel as the oracle for signal frames: make difftest N=100000 SEED=7
N    ?= 10000
SEED ?= 1
difftest: $(BUILD)/tests/difftest
	@$(BUILD)/tests/difftest $(N) $(SEED)

# The Promela model of the ownership protocol, checked with SPIN (model/run.sh):
# the clean model under every policy, and every mutant, as a table.
model: setup
	@model/run.sh && model/replay.sh

# The clean model with fork/exec/exit, signals, the vCPU, each apart (long),
# and with all of them at once (longer).
model-large: setup
	@model/run.sh large
model-full: setup
	@model/run.sh full

# Fuzzing with clang/libFuzzer (fuzz/README.md): make fuzz SECONDS=600
SECONDS ?= 60
fuzz: setup
	@fuzz/run.sh $(SECONDS)

# A ring-0 kernel booted under QEMU (ring0/README.md). It is built against
# the INSTALLED library, through pkg-config, as an outside kernel would be:
# make install into a scratch root, then its fpuctx.pc. A second image links
# the testing build of the core (build/core), for the injected-bug run.
RING0      := $(BUILD)/ring0
RING0_ROOT := $(abspath $(RING0))/sysroot
RING0_PC    = PKG_CONFIG_SYSROOT_DIR=$(RING0_ROOT) PKG_CONFIG_LIBDIR=$(RING0_ROOT)/usr/lib/pkgconfig pkg-config
RING0_CFLAGS := -std=c11 -O2 -g $(WARN) -MMD -MP -ffreestanding -fno-builtin -mgeneral-regs-only \
            -mno-red-zone -fno-stack-protector -fno-pic -fno-pie -fno-tree-loop-distribute-patterns
RING0_LDFLAGS := -nostdlib -static -no-pie -Wl,-T,ring0/linker.ld -Wl,-z,max-page-size=0x1000 -Wl,--build-id=none -Wl,--no-warn-rwx-segments
RING0_C    := ring0/kernel.c ring0/cpu.c ring0/console.c ring0/paging.c ring0/signal.c ring0/fork.c
RING0_ASM  := ring0/boot.S ring0/entry.S ring0/user.S ring0/kfpu.S
RING0_AOBJ := $(RING0_ASM:ring0/%.S=$(RING0)/%.o)
RING0_POBJ := $(RING0_C:ring0/%.c=$(RING0)/installed/%.o)
RING0_TOBJ := $(RING0_C:ring0/%.c=$(RING0)/testing/%.o)
RING0_POLICIES ?= eager rfc2015 linux deferred

$(RING0)/sysroot.stamp: $(LIBFPUCTX) $(FPUCTX) $(PUBLIC_HEADERS)
	@rm -rf $(RING0_ROOT)
	@$(MAKE) --no-print-directory install DESTDIR=$(RING0_ROOT) PREFIX=/usr >/dev/null
	@touch $@
$(RING0_AOBJ): $(RING0)/%.o: ring0/%.S
	@mkdir -p $(dir $@)
	$(CC) -c $< -o $@
$(RING0_POBJ): $(RING0)/installed/%.o: ring0/%.c $(RING0)/sysroot.stamp
	@mkdir -p $(dir $@)
	$(CC) $(RING0_CFLAGS) $$($(RING0_PC) --cflags fpuctx) -c $< -o $@
$(RING0_TOBJ): $(RING0)/testing/%.o: ring0/%.c
	@mkdir -p $(dir $@)
	$(CC) $(RING0_CFLAGS) -DFPUCTX_TESTING -Iinclude -c $< -o $@
$(RING0)/libfpuctx-testing.a: $(CORE_OBJ)
	rm -f $@
	$(AR) rcs $@ $^
# QEMU's multiboot loader takes 32-bit ELF only: the 64-bit link is converted.
$(RING0)/kernel.elf: $(RING0_AOBJ) $(RING0_POBJ) ring0/linker.ld $(RING0)/sysroot.stamp
	$(CC) $(RING0_LDFLAGS) -o $@.64 $(RING0_AOBJ) $(RING0_POBJ) $$($(RING0_PC) --libs --static fpuctx)
	objcopy -O elf32-i386 $@.64 $@
$(RING0)/kernel-testing.elf: $(RING0_AOBJ) $(RING0_TOBJ) ring0/linker.ld $(RING0)/libfpuctx-testing.a
	$(CC) $(RING0_LDFLAGS) -o $@.64 $(RING0_AOBJ) $(RING0_TOBJ) $(RING0)/libfpuctx-testing.a
	objcopy -O elf32-i386 $@.64 $@

ring0: setup $(RING0)/kernel.elf $(RING0)/kernel-testing.elf
	@ring0/boot-all.sh $(RING0) $(RING0_POLICIES)

clean:
	rm -rf build build-asan build-fuzz

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
