#!/usr/bin/env bash
# summarize.sh LABEL — filter `go test -v` output: pass it through without the
# "=== RUN" noise, then say what was skipped (and why), and count, e.g.
#   host: 38 passed, 0 failed, 1 skipped
exec awk -v label="${1:?usage: summarize.sh LABEL}" '
	/^=== (RUN|PAUSE|CONT|NAME)/ { next }
	{ print; fflush() }
	/^--- PASS/ { pass++ }
	/^--- FAIL/ { fail++; failed = failed "\n" label ": failed " $3 }
	/^--- SKIP/ { skip++; name = $3; want_reason = 1; next }
	want_reason { sub(/^ +/, ""); skipped = skipped "\n" label ": skipped " name ": " $0; want_reason = 0 }
	END {
		if (skipped != "") print substr(skipped, 2)
		if (failed != "") print substr(failed, 2)
		printf "%s: %d passed, %d failed, %d skipped\n", label, pass, fail, skip
	}'
