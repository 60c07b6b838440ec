# shellcheck shell=bash
# The verdict on an injected bug, for scripts/demo.sh and scripts/test.sh
# (sourced). A bug counts as caught only when the same command, with the
# same scenario, seeds and options, passes clean first: a run that fails
# anyway proves nothing about the bug.

# caught OUT BUG CMD...: runs CMD (output in OUT.clean), then CMD --inject-bug
# BUG (stdout in OUT, stderr in OUT.err). Prints the verdict; succeeds only
# when it is "caught": the clean run exits 0 and the buggy one exits 1.
caught() {
	local out=$1 bug=$2 clean st
	shift 2
	"$@" >"$out.clean" 2>&1
	clean=$?
	"$@" --inject-bug "$bug" >"$out" 2>"$out.err"
	st=$?
	if [ "$clean" -ne 0 ]; then
		echo "baseline fails: not a proof"
		return 1
	fi
	case $st in
	1) echo caught ;;
	0) echo MISSED; return 1 ;;
	*) echo "error (exit $st)"; return 1 ;;
	esac
}
