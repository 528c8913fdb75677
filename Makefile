# SPDX-License-Identifier: GPL-2.0
# modsym: the user's entry point (`make help`). Kbuild builds the module itself (see Kbuild).

PROFILE ?= default
export MODSYM_CACHE

# Without KDIR, build against modsym's cached test kernel for ARCH (built on first use).
# With KDIR, ARCH and LLVM follow that kernel's configuration, as the kernel was built;
# an ARCH= or LLVM= given on the command line (or in the environment) wins.
ifeq ($(origin KDIR),undefined)
ARCH ?= x86_64
LLVM ?= -19
KDIR = $(shell scripts/kernel --dir $(ARCH) $(PROFILE))
ENSURE_KERNEL = scripts/kernel $(ARCH) $(PROFILE) >/dev/null
else
ENSURE_KERNEL = true
KCONFIG := $(firstword $(wildcard $(KDIR)/include/config/auto.conf $(KDIR)/.config))
ifeq ($(KCONFIG),)
$(error KDIR=$(KDIR) has no .config: give a configured kernel build directory)
endif
kconfig = $(shell sed -n 's/^$(1)=//p' $(KCONFIG))
ifeq ($(origin ARCH),undefined)
ARCH := $(if $(call kconfig,CONFIG_ARM64),arm64,$(if $(call kconfig,CONFIG_X86_64),x86_64))
ARCH := $(or $(ARCH),$(error KDIR=$(KDIR) is neither an x86_64 nor an arm64 kernel))
endif
# A clang-built kernel: the versioned LLVM of its clang if installed (LLVM=-19), else LLVM=1.
ifeq ($(origin LLVM),undefined)
ifeq ($(call kconfig,CONFIG_CC_IS_CLANG),y)
CLANG_MAJOR := $(shell expr 0$(call kconfig,CONFIG_CLANG_VERSION) / 10000)
LLVM := $(if $(shell command -v clang-$(CLANG_MAJOR)),-$(CLANG_MAJOR),1)
endif
endif
endif
# Out-of-tree output directory, one per target kernel, so both arches can be built side by side.
MO ?= $(CURDIR)/build/$(ARCH)-$(PROFILE)
KBUILD = $(MAKE) -C $(KDIR) ARCH=$(ARCH) LLVM=$(LLVM)

.PHONY: all modules testmods klp ftrace-mods payload run check bench clean help

all: modules

modules:
	@$(ENSURE_KERNEL)
	@mkdir -p $(MO)
	$(KBUILD) M=$(CURDIR) MO=$(MO) modules
	@echo "built $(MO)/modsym.ko"

testmods:
	@$(ENSURE_KERNEL)
	@mkdir -p $(MO)/testmods
	$(KBUILD) M=$(CURDIR)/scripts/selftests/modules MO=$(MO)/testmods modules

# A directory of tools/testing/selftests in KDIR's source (O= builds link it as KDIR/source).
kselftests = $(firstword $(wildcard $(KDIR)/source/tools/testing/selftests/$(1) $(KDIR)/tools/testing/selftests/$(1)))

# Everything a guest needs, in one directory laid out like a kselftest install: the modules
# (ours, the tests', the kernel's), kselftest/ (the kernel's KTAP helpers and runner),
# modsym/ (our selftests), livepatch/ (the kernel's, see klp) and ftrace/ (the kernel's
# ftracetest and its cases, for ftrace.sh).
KERNEL_TEST_MODULES = lib/crc/crc16.ko fs/mbcache.ko fs/jbd2/jbd2.ko fs/ext4/ext4.ko \
	samples/livepatch/livepatch-sample.ko samples/rust/rust_minimal.ko
payload: modules testmods klp ftrace-mods
	@[ -n "$(call kselftests,kselftest)" ] || { echo "no tools/testing/selftests/kselftest under $(KDIR)"; exit 1; }
	@rm -rf $(MO)/payload && mkdir -p $(MO)/payload/kselftest
	@cp $(MO)/modsym.ko $(MO)/testmods/*.ko $(wildcard $(addprefix $(KDIR)/,$(KERNEL_TEST_MODULES))) $(MO)/payload/
	@cp $(addprefix $(call kselftests,kselftest)/,ktap_helpers.sh runner.sh prefix.pl) $(MO)/payload/kselftest/
	@cp -r scripts/selftests $(MO)/payload/modsym
	@rm -rf $(MO)/payload/modsym/modules
	@$(GUEST_CC_$(ARCH)) -static -O2 -Wall -o $(MO)/payload/modsym/klp-shims/insmod scripts/selftests/klp-shims/insmod.c
	@for t in readtimes writes; do \
		$(GUEST_CC_$(ARCH)) -static -O2 -Wall -o $(MO)/payload/modsym/tools/$$t scripts/selftests/tools/$$t.c || exit 1; done
	@if [ -d $(MO)/klp/livepatch ]; then cp -r $(MO)/klp/livepatch $(MO)/payload/; fi
	@src=$(call kselftests,ftrace); if [ -n "$$src" ]; then mkdir -p $(MO)/payload/ftrace && \
		cp -r $$src/ftracetest $$src/test.d $(wildcard $(MO)/ftrace-mods/*.ko) $(MO)/payload/ftrace/; fi

# The kernel's own livepatch selftests (tools/testing/selftests/livepatch of KDIR's source):
# scripts, their test modules and the static test program, laid out as they expect. Nothing
# without CONFIG_LIVEPATCH (livepatch.sh then skips).
GUEST_CC_x86_64 = gcc
GUEST_CC_arm64 = aarch64-linux-gnu-gcc
klp:
	@$(ENSURE_KERNEL)
	@src=$(call kselftests,livepatch); \
	rm -rf $(MO)/klp/livepatch && mkdir -p $(MO)/klp; \
	[ -n "$$src" ] || { echo "no tools/testing/selftests/livepatch under $(KDIR): livepatch.sh will skip"; exit 0; }; \
	grep -qx CONFIG_LIVEPATCH=y $(KDIR)/include/config/auto.conf || exit 0; \
	mkdir -p $(MO)/klp/livepatch/test_modules && \
	$(KBUILD) -s M=$$src/test_modules MO=$(MO)/klp/modules modules && \
	cp $(MO)/klp/modules/*.ko $(MO)/klp/livepatch/test_modules/ && \
	cp $$src/functions.sh $$src/test-*.sh $$src/settings $(MO)/klp/livepatch/ && \
	$(GUEST_CC_$(ARCH)) -static -O2 -o $(MO)/klp/livepatch/test_klp-call_getpid $$src/test_klp-call_getpid.c

# The sample module the kernel's ftrace selftests load on module cases (`modprobe
# trace-printk`: CONFIG_SAMPLE_TRACE_PRINTK, which the test kernels do not build), built
# out of tree from KDIR's source. Nothing without ftrace.
ftrace-mods:
	@$(ENSURE_KERNEL)
	@src=$(firstword $(wildcard $(KDIR)/source/samples/trace_printk $(KDIR)/samples/trace_printk)); \
	rm -rf $(MO)/ftrace-mods; \
	[ -n "$$src" ] && grep -qx CONFIG_FUNCTION_TRACER=y $(KDIR)/include/config/auto.conf || exit 0; \
	mkdir -p $(MO)/ftrace-mods && cp $$src/trace-printk.c $(MO)/ftrace-mods/ && \
	echo 'obj-m += trace-printk.o' >$(MO)/ftrace-mods/Kbuild && \
	$(KBUILD) -s M=$(MO)/ftrace-mods MO=$(MO)/ftrace-mods modules

run: payload
	qemu/run --arch $(ARCH) --profile $(PROFILE) --kernel $(KDIR) --interactive \
		--add $(MO)/payload -- sh payload/modsym/demo.sh

# TARGETS and SUITES narrow make check down for a quick loop (see help).
check:
	TARGETS="$(TARGETS)" SUITES="$(SUITES)" scripts/check

bench:
	$(if $(filter undefined,$(origin KDIR)),,KDIR=$(KDIR)) scripts/bench $(ARCH)

clean:
	rm -rf build target

help:
	@echo 'modsym make targets:'
	@echo '  make [KDIR=<kernel build dir>] [ARCH=x86_64|arm64] [LLVM=1|-19]'
	@echo '                  build modsym.ko (default KDIR: modsym'"'"'s cached test kernel for ARCH;'
	@echo '                  with KDIR, ARCH and LLVM default to what that kernel was built with)'
	@echo '  make run [ARCH=arm64]'
	@echo '                  boot a QEMU guest with modsym loaded and show it at work'
	@echo '  make check      every test: host tests, then guest selftests on x86_64, arm64, an'
	@echo '                  x86_64 debug kernel and a lean x86_64 kernel, in parallel'
	@echo '  make check TARGETS=x86_64 SUITES=modsym.sh'
	@echo '                  a quick loop: only these guest kernels (x86_64, x86_64-debug, arm64, x86_64-lean;'
	@echo '                  MODSYM_TARGETS works too) and, with SUITES, only these selftests of'
	@echo '                  scripts/selftests, without the host tests and the harness self-test'
	@echo '  make payload    build/<arch>-<profile>/payload: modules and selftests for any machine'
	@echo '  make bench [ARCH=arm64] [KDIR=<kernel build dir>]'
	@echo '                  boot a guest and print the performance report (markdown; also'
	@echo '                  build/bench/<arch>/results.md and lookup.svg)'
	@echo '  make clean      remove build outputs (the toolchain cache stays in $$MODSYM_CACHE)'
	@echo 'First use installs the toolchain and builds the four test kernels (over an hour on 2 cores).'
