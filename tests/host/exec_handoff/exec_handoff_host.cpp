// SPDX-License-Identifier: MIT
// nk-exec-handoff-host: the programs of exec_handoff_test.py, run under
// libnumakeep.so with a private numakeepd.
//
//   nk-exec-handoff-host exec NODES FILE   set_mempolicy(MPOL_INTERLEAVE,
//       NODES) through libnuma's wrapper (the runtime records it), then
//       exec itself as `wait FILE`.
//   nk-exec-handoff-host relay NODES FILE  the same, but exec itself as
//       `again FILE`, which at once execs itself as `wait FILE` (as
//       `bash -c prog` does): two execs before any image took a handoff.
//   nk-exec-handoff-host fail NODES FILE   the same, but first an exec that
//       fails (ENOENT), checking the result and errno the program sees,
//       then `wait FILE`.
//   nk-exec-handoff-host wait FILE         prints "ready PID" and lives
//       until FILE exists.
//   nk-exec-handoff-host bench N POLICY     with interleave 0 as its task
//       policy when POLICY is 1, times N execs of a missing file (what the
//       exec handoff adds to an exec; tests/bench/exec.sh) and prints the
//       median in microseconds.
#include <numaif.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

namespace {

int wait_for(const char* file) {
    std::printf("ready %d\n", static_cast<int>(getpid()));
    std::fflush(stdout);
    struct stat st;
    for (int i = 0; i < 3000 && stat(file, &st) != 0; ++i) usleep(10000);
    return 0;
}

bool set_interleave(const char* list) {
    unsigned long mask = 0;
    for (const char* p = list; *p; ++p)
        if (*p >= '0' && *p <= '9') mask |= 1UL << (*p - '0');  // "0,1": one digit a node
    if (set_mempolicy(MPOL_INTERLEAVE, &mask, 64) != 0) {
        std::printf("set_mempolicy: %s\n", std::strerror(errno));
        return false;
    }
    return true;
}

int bench(int n, bool policy) {
    if (policy && !set_interleave("0")) return 1;
    usleep(300000);  // the agent registers meanwhile
    std::vector<double> t;
    char* args[] = {const_cast<char*>("x"), nullptr};
    for (int i = 0; i < n; ++i) {
        auto t0 = std::chrono::steady_clock::now();
        execv("/nonexistent/nk-exec-handoff", args);
        t.push_back(std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0)
                        .count());
    }
    std::sort(t.begin(), t.end());
    std::printf("%.2f\n", t[t.size() / 2]);
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc == 3 && std::strcmp(argv[1], "wait") == 0) return wait_for(argv[2]);
    if (argc == 4 && std::strcmp(argv[1], "bench") == 0)
        return bench(std::max(1, std::atoi(argv[2])), argv[3][0] == '1');
    char* wait_argv[] = {argv[0], const_cast<char*>("wait"), argv[argc - 1], nullptr};
    if (argc == 3 && std::strcmp(argv[1], "again") == 0) {
        execv("/proc/self/exe", wait_argv);
        return 1;
    }
    if (argc != 4 || (std::strcmp(argv[1], "exec") != 0 && std::strcmp(argv[1], "fail") != 0 &&
                      std::strcmp(argv[1], "relay") != 0)) {
        std::fprintf(stderr,
                     "usage: nk-exec-handoff-host exec|relay|fail NODES FILE | wait FILE\n");
        return 2;
    }
    if (!set_interleave(argv[2])) return 1;
    if (std::strcmp(argv[1], "relay") == 0) wait_argv[1] = const_cast<char*>("again");
    if (std::strcmp(argv[1], "fail") == 0) {
        errno = 0;
        int r = execv("/nonexistent/nk-exec-handoff", wait_argv);
        int err = errno;
        std::printf("failed exec: %d %s\n", r, std::strerror(err));
        if (r != -1 || err != ENOENT) return 1;
        return wait_for(argv[3]);
    }
    execv("/proc/self/exe", wait_argv);
    std::printf("exec: %s\n", std::strerror(errno));
    return 1;
}
