// SPDX-License-Identifier: MIT
// nk-cli-vm: helpers for the CLI's guest cases (tests/vm/cli/*.sh).
//
//   nk-cli-vm sleeper        mbind()s a 1 MiB range to interleave over the
//                            nodes allowed now (through <numaif.h>, which
//                            libnumakeep.so interposes), touches it, prints
//                            "ready" and waits to be killed
//   nk-cli-vm time-ms CMD... runs CMD with its stdout on ours, then prints
//                            "wall_ms=X" on stderr; exits as CMD does
#include <numaif.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>

#include "numakeep/nodelist.hpp"

namespace {

int sleeper() {
    std::ifstream status("/proc/self/status");
    std::string line, list;
    while (std::getline(status, line))
        if (line.rfind("Mems_allowed_list:", 0) == 0) list = line.substr(line.find_last_of("\t ") + 1);
    numakeep::ParseResult mems = numakeep::parse_kernel_nodelist(list);
    if (!mems) {
        std::fprintf(stderr, "nk-cli-vm: cannot read Mems_allowed_list\n");
        return 1;
    }
    const std::size_t len = 1 << 20;
    void* p = mmap(nullptr, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) {
        std::perror("nk-cli-vm: mmap");
        return 1;
    }
    if (mbind(p, len, MPOL_INTERLEAVE, mems.nodes.kernel_data(),
              numakeep::Nodemask::kKernelMaxnode, 0) != 0) {
        std::perror("nk-cli-vm: mbind");
        return 1;
    }
    std::memset(p, 1, len);
    std::printf("ready %d\n", static_cast<int>(getpid()));
    std::fflush(stdout);
    for (;;) pause();
}

int time_ms(char** argv) {
    auto start = std::chrono::steady_clock::now();
    pid_t pid = fork();
    if (pid == 0) {
        execvp(argv[0], argv);
        std::perror("nk-cli-vm: exec");
        _exit(127);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
                    .count();
    std::fprintf(stderr, "wall_ms=%.1f\n", ms);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

}  // namespace

int main(int argc, char** argv) {
    if (argc >= 2 && std::strcmp(argv[1], "sleeper") == 0) return sleeper();
    if (argc >= 3 && std::strcmp(argv[1], "time-ms") == 0) return time_ms(argv + 2);
    std::fprintf(stderr, "usage: nk-cli-vm sleeper | time-ms CMD [ARG...]\n");
    return 2;
}
