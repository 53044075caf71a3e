"""What the server sets up before it forks keeps a worker's memory from growing with its logins."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

#: Two logins at a time, three times: argon2 takes 19 MiB for each and gives it back.
LOGINS = """
import sys, threading
from argon2 import PasswordHasher
if sys.argv[1] == "tuned":
    from agora.core.server import prepare
    from agora import create_app
    prepare(create_app())
def rss_mb():
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmRSS")) // 1024
hasher = PasswordHasher(time_cost=1, memory_cost=19456, parallelism=1)
before = rss_mb()
for _ in range(3):
    threads = [threading.Thread(target=hasher.hash, args=("une phrase secrète",)) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
print(rss_mb() - before)
"""


def kept_after_logins(mode: str, env: dict) -> int:
    done = subprocess.run([sys.executable, "-c", LOGINS, mode], capture_output=True, text=True, env=env, check=True)
    return int(done.stdout.split()[-1])


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc and tunes glibc's allocator")
def test_a_worker_gives_back_the_memory_its_logins_used(tmp_path):
    env = {key: value for key, value in os.environ.items() if not key.startswith("AGORA_")}
    env.update(AGORA_INSTANCE=str(tmp_path), AGORA_SECRET_KEY="test")
    # As glibc is by default, the 19 MiB blocks end up kept in the process after the first one...
    assert kept_after_logins("plain", env) >= 19
    # ...and as the server sets it before it forks, each goes back to the system when freed.
    assert kept_after_logins("tuned", env) <= 4
