# SPDX-License-Identifier: MIT
# A private numakeepd for the Python host tests: its socket, config and log
# in a temporary directory of the test's, cgroup_root an empty directory
# beside them, so no cgroup is ever written.
import os
import socket
import subprocess
import time


class PrivateDaemon:
    def __init__(self, numakeepd, tmp, conf="", log_level="info"):
        """Starts NUMAKEEPD in the foreground on TMP/run/numakeepd.sock,
        configured with cgroup_root = TMP/cgroup and the lines in `conf`,
        logging at `log_level`;
        returns once the socket exists (fails the test if it never does)."""
        self.tmp = tmp
        self.sock = os.path.join(tmp, "run", "numakeepd.sock")
        self.log_path = os.path.join(tmp, "numakeepd.log")
        os.makedirs(os.path.join(tmp, "cgroup"), exist_ok=True)
        conf_path = os.path.join(tmp, "numakeepd.conf")
        with open(conf_path, "w") as f:
            f.write(f"cgroup_root = {tmp}/cgroup\n" + conf)
        self.log_file = open(self.log_path, "w")
        self.proc = subprocess.Popen([numakeepd, "--config", conf_path, "--socket", self.sock,
                                      "--foreground", "--log-level", log_level],
                                     stdout=self.log_file, stderr=self.log_file)
        for _ in range(500):
            if os.path.exists(self.sock):
                break
            time.sleep(0.01)
        if not os.path.exists(self.sock):
            raise SystemExit("FAIL  the daemon did not create its socket\n" + self.log())

    def log(self):
        with open(self.log_path) as f:
            return f.read()

    def connect(self):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(self.sock)
        return s

    def fds(self):
        """What the daemon's descriptors point at, sorted."""
        return sorted(os.readlink(f"/proc/{self.proc.pid}/fd/{n}")
                      for n in os.listdir(f"/proc/{self.proc.pid}/fd"))

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=10)
        self.log_file.close()
