import os
import subprocess
import tempfile

from llmbench_observe import observe

APP = os.path.abspath("app")
FILE = os.path.join(tempfile.mkdtemp(), "list.txt")


def run(*args, fresh=False):
    if fresh and os.path.exists(FILE):
        os.remove(FILE)
    p = subprocess.run([APP, "--file", FILE, *args], capture_output=True, text=True, timeout=10)
    return p.returncode, p.stdout, p.stderr


observe("add_and_list/add 1", lambda: run("add", "buy", "milk", fresh=True)[1])
observe("add_and_list/add 2", lambda: run("add", "walk")[1])
observe("add_and_list/list", lambda: run("list")[1])

run("add", "a", fresh=True)
run("add", "b")
observe("done/exit", lambda: run("done", "2")[0])
observe("done/list", lambda: run("list")[1])

run("add", "a", fresh=True)
run("add", "b")
run("add", "c")
run("done", "1")
observe("count", lambda: run("count")[1])

run("add", "a", fresh=True)
for bad in ("0", "2"):
    observe(f"bad_numbers/done {bad} exit", lambda bad=bad: run("done", bad)[0])
    observe(f"bad_numbers/done {bad} stderr", lambda bad=bad: run("done", bad)[2])
observe("bad_numbers/done x exit", lambda: run("done", "x")[0])

run("add", "old text", fresh=True)
run("add", "keep")
run("done", "1")
observe("edit/edit", lambda: run("edit", "1", "new", "text")[:2])
observe("edit/list", lambda: run("list")[1])

run("add", "a", fresh=True)
observe("edit_errors/no item 3", lambda: run("edit", "3", "x")[0])
observe("edit_errors/no text", lambda: run("edit", "1")[0])
observe("edit_errors/list", lambda: run("list")[1])

observe("usage/no arguments", lambda: run()[0])
observe("usage/unknown command", lambda: run("frobnicate")[0])
