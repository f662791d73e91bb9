"""PID 1 of the sandbox container: reaps orphaned processes, nothing else.

Never imported: docker.py sends this file's source as the container's command
(``python3 -I -S -c``). Standard library only.
"""

import contextlib
import ctypes
import os
import time


def main() -> None:
    with contextlib.suppress(Exception):
        ctypes.CDLL(None).prctl(4, 0, 0, 0, 0)  # PR_SET_DUMPABLE 0: no /proc/1/mem for anyone
    while True:
        try:
            os.wait()
        except ChildProcessError:
            time.sleep(0.5)


if __name__ == "__main__":
    main()
