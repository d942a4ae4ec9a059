# An exec into a container, as a runtime without runc's protection does it:
# enter the container's namespaces, get ready inside (a runtime takes a few
# milliseconds: this one takes a second, to be seen), then execve the
# program. Run by `runtime`, a copy of python3: that copy is the binary the
# container can reach.
import ctypes, os, sys, time

pid, argv = sys.argv[1], sys.argv[2:]
libc = ctypes.CDLL(None, use_errno=True)
for ns in ("ipc", "uts", "net", "pid", "mnt"):
    fd = os.open(f"/proc/{pid}/ns/{ns}", os.O_RDONLY)
    if libc.setns(fd, 0) != 0:
        sys.exit(f"setns {ns}: {os.strerror(ctypes.get_errno())}")
    os.close(fd)
child = os.fork()  # a new pid namespace is the children's
if child == 0:
    time.sleep(1)
    os.execvp(argv[0], argv)
_, status = os.waitpid(child, 0)
sys.exit(os.waitstatus_to_exitcode(status))
