#!/usr/bin/env bash
# summarize.sh LABEL — filter `go test -v` output: pass it through without the
# "=== RUN" noise, then say what was skipped (and why), and count, e.g.
#   host: 38 passed, 0 failed, 1 skipped
# (go test -v prints a test's t.Skip message just before its "--- SKIP" line.)
exec awk -v label="${1:?usage: summarize.sh LABEL}" '
	/^=== (RUN|PAUSE|CONT|NAME)/ { next }
	{ print; fflush() }
	/^ +[^ ].*\.go:[0-9]+: / { reason = $0; sub(/^ +[^ ]+\.go:[0-9]+: /, "", reason); next }
	/^--- PASS/ { pass++ }
	/^--- FAIL/ { fail++; failed = failed "\n" label ": failed " $3 }
	/^--- SKIP/ { skip++; skipped = skipped "\n" label ": skipped " $3 ": " reason }
	/^---/ { reason = "" }
	END {
		if (skipped != "") print substr(skipped, 2)
		if (failed != "") print substr(failed, 2)
		printf "%s: %d passed, %d failed, %d skipped\n", label, pass, fail, skip
	}'
