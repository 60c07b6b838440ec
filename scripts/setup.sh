#!/usr/bin/env bash
# Installs what the build and tests need, if missing. Idempotent.
set -eu
need=()
command -v gcc >/dev/null || need+=(gcc)
command -v make >/dev/null || need+=(make)
command -v python3 >/dev/null || need+=(python3)
command -v nm >/dev/null || need+=(binutils)
command -v qemu-x86_64 >/dev/null || need+=(qemu-user)   # the CPU matrix of make test
command -v qemu-system-x86_64 >/dev/null || need+=(qemu-system-x86)   # make ring0: the kernel under QEMU
command -v pkg-config >/dev/null || need+=(pkg-config)    # the embedding test: the installed fpuctx.pc
command -v groff >/dev/null || need+=(groff-base)         # ... and its man pages
command -v man >/dev/null || need+=(man-db)
command -v spin >/dev/null || need+=(spin)               # make model: the Promela model
if [ ${#need[@]} -gt 0 ]; then
	if [ "$(id -u)" -ne 0 ]; then echo "setup: please install: ${need[*]}" >&2; exit 1; fi
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}"
fi

# Fuzzing (fuzz/run.sh): clang, and libFuzzer's runtime (libclang_rt.fuzzer-x86_64.a),
# which Debian ships apart from clang: libclang-rt-N-dev for clang N (14 on Debian 12).
fuzz_rt() { [ -f "$(clang -print-resource-dir 2>/dev/null)/lib/linux/libclang_rt.fuzzer-x86_64.a" ]; }
if ! command -v clang >/dev/null || ! fuzz_rt; then
	if [ "$(id -u)" -ne 0 ]; then echo "setup: please install: clang libclang-rt-14-dev" >&2; exit 1; fi
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	command -v clang >/dev/null || apt-get install -y -qq clang
	fuzz_rt || apt-get install -y -qq "libclang-rt-$(clang -dumpversion | cut -d. -f1)-dev"
fi
