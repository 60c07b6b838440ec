#!/usr/bin/env bash
# Boots a ring0 kernel image once under QEMU (TCG) and turns QEMU's exit
# status into a verdict. The serial console goes to stdout.
#
#   ring0/boot.sh IMAGE [KERNEL COMMAND LINE...]    e.g. policy=linux cpus=2 interrupts=10000
#
# cpus=N on the command line is also QEMU's -smp N (default 1).
#
# The kernel writes 0 (pass) or 1 (fail) to the isa-debug-exit port, and QEMU
# exits with (value << 1) | 1. Exits 0 for pass, 1 for fail, 2 when there is
# no verdict: a reset (triple fault), a timeout (RING0_TIMEOUT seconds,
# default 120) or QEMU failing to start.
#
# The guest clock follows the instruction count (-icount shift=1: 2 ns per
# instruction), so the timer interrupts land at the same instructions on
# every run, whatever the load of the host: a run is reproducible, counts
# included. RING0_ICOUNT=off uses the host clock instead (timing varies).
set -u
image=${1:?usage: ring0/boot.sh IMAGE [COMMAND LINE...]}
shift
smp=1
for a in "$@"; do
	case $a in cpus=[1-9]) smp=${a#cpus=} ;; esac
done
clock=(-icount "shift=${RING0_ICOUNT:-1}")
[ "${RING0_ICOUNT:-}" = off ] && clock=()
timeout "${RING0_TIMEOUT:-120}" qemu-system-x86_64 -cpu max -smp "$smp" -m 128M \
	-display none -no-reboot -serial stdio -monitor none "${clock[@]}" \
	-device isa-debug-exit,iobase=0xf4,iosize=0x04 \
	-kernel "$image" -append "$*" </dev/null
st=$?
case $st in
1) exit 0 ;;
3) exit 1 ;;
0) echo "ring0/boot.sh: the machine reset (a triple fault?) before the kernel gave a verdict" >&2 ;;
124) echo "ring0/boot.sh: no verdict within ${RING0_TIMEOUT:-120} s" >&2 ;;
*) echo "ring0/boot.sh: qemu-system-x86_64 exited $st" >&2 ;;
esac
exit 2
