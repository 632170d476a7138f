"""proctitle: the name `ps -o args`, `top` and `systemctl status` show for this worker (`usher worker 3`,
from USHER_PROCTITLE, which the master sets), with the standard library only. The command line `ps`
reads is the process's own argv memory, between /proc/self/stat's arg_start and arg_end: the title is
written over it through /proc/self/mem (padded with NULs, cut to the original length), and the short
name (`comm`) by writing /proc/self/comm (what prctl(PR_SET_NAME) does, without ctypes: importing it
costs every Python process ~0.35 MiB). Must not: fail the worker: a title is cosmetic, so any error
leaves the old one.
"""
import os


def set_title(title):
    if not title:
        return
    try:
        with open('/proc/self/stat', 'rb') as f:
            stat = f.read()
        # Fields after the command name (which may hold spaces) start after the last ')'.
        fields = stat[stat.rindex(b')') + 2:].split()
        # arg_start and arg_end are fields 48 and 49 of /proc/PID/stat (1-based; field 3 is fields[0]).
        start, end = int(fields[45]), int(fields[46])
        room = end - start
        if room <= 1:
            return
        data = title.encode('utf-8', 'replace')[:room - 1]
        with open('/proc/self/mem', 'r+b', buffering=0) as mem:
            mem.seek(start)
            mem.write(data + b'\0' * (room - len(data)))
    except (OSError, ValueError, IndexError):
        pass
    try:
        # The main thread's name (the kernel keeps 15 bytes); /proc/self is the thread-group leader.
        with open('/proc/self/comm', 'wb', buffering=0) as comm:
            comm.write(title.encode('utf-8', 'replace')[:15])
    except OSError:
        pass


def from_environment():
    set_title(os.environ.get('USHER_PROCTITLE', ''))
