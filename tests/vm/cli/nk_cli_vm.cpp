// SPDX-License-Identifier: MIT
// nk-cli-vm: helpers for the CLI's guest cases (tests/vm/cli/*.sh).
//
//   nk-cli-vm sleeper        mbind()s a 1 MiB range to interleave over the
//                            nodes allowed now (through <numaif.h>, which
//                            libnumakeep.so interposes), touches it, prints
//                            "ready" and waits to be killed
//   nk-cli-vm holder MIB     the same over MIB MiB of base pages; then on
//                            each SIGUSR1 prints "placed P to_move M
//                            absent A": its pages against interleave over
//                            the mems of now, page offset modulo the nodes
//                            (a model of its own, to check `show` against)
//   nk-cli-vm time-ms CMD... runs CMD with its stdout on ours, then prints
//                            "wall_ms=X" on stderr; exits as CMD does
#include <numaif.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "numakeep/nodelist.hpp"

namespace {

numakeep::ParseResult mems_now() {
    std::ifstream status("/proc/self/status");
    std::string line, list;
    while (std::getline(status, line))
        if (line.rfind("Mems_allowed_list:", 0) == 0) list = line.substr(line.find_last_of("\t ") + 1);
    return numakeep::parse_kernel_nodelist(list);
}

// Prints how many of the pages of [p, p + len) sit on node
// nth(page index % nodes) of the mems of now.
void print_counts(char* p, std::size_t len) {
    numakeep::ParseResult mems = mems_now();
    const std::size_t n = len / 4096;
    std::vector<void*> pages(n);
    std::vector<int> where(n, -1);
    for (std::size_t i = 0; i < n; ++i) pages[i] = p + i * 4096;
    if (syscall(SYS_move_pages, 0, n, pages.data(), nullptr, where.data(), 0) != 0 || !mems) {
        std::printf("count failed\n");
        std::fflush(stdout);
        return;
    }
    unsigned long placed = 0, to_move = 0, absent = 0;
    const unsigned count = mems.nodes.count();
    for (std::size_t i = 0; i < n; ++i) {
        const auto a = reinterpret_cast<std::uintptr_t>(pages[i]);
        if (where[i] < 0)
            ++absent;
        else if (mems.nodes.nth(static_cast<unsigned>((a >> 12) % count)) == where[i])
            ++placed;
        else
            ++to_move;
    }
    std::printf("placed %lu to_move %lu absent %lu\n", placed, to_move, absent);
    std::fflush(stdout);
}

int sleeper(std::size_t len = 1 << 20, bool count_on_signal = false) {
    numakeep::ParseResult mems = mems_now();
    if (!mems) {
        std::fprintf(stderr, "nk-cli-vm: cannot read Mems_allowed_list\n");
        return 1;
    }
    sigset_t usr1;
    sigemptyset(&usr1);
    sigaddset(&usr1, SIGUSR1);
    if (count_on_signal) sigprocmask(SIG_BLOCK, &usr1, nullptr);
    void* p = mmap(nullptr, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) {
        std::perror("nk-cli-vm: mmap");
        return 1;
    }
    if (count_on_signal) madvise(p, len, MADV_NOHUGEPAGE);  // base pages, one index each
    if (mbind(p, len, MPOL_INTERLEAVE, mems.nodes.kernel_data(),
              numakeep::Nodemask::kKernelMaxnode, 0) != 0) {
        std::perror("nk-cli-vm: mbind");
        return 1;
    }
    std::memset(p, 1, len);
    std::printf("ready %d\n", static_cast<int>(getpid()));
    std::fflush(stdout);
    for (;;) {
        if (!count_on_signal) {
            pause();
            continue;
        }
        int sig = 0;
        if (sigwait(&usr1, &sig) == 0) print_counts(static_cast<char*>(p), len);
    }
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
    if (argc >= 3 && std::strcmp(argv[1], "holder") == 0)
        return sleeper(std::strtoul(argv[2], nullptr, 10) << 20, true);
    if (argc >= 3 && std::strcmp(argv[1], "time-ms") == 0) return time_ms(argv + 2);
    std::fprintf(stderr, "usage: nk-cli-vm sleeper | holder MIB | time-ms CMD [ARG...]\n");
    return 2;
}
