// SPDX-License-Identifier: MIT
// Across exec: the new image starts with the signal mask the program had
// when it called exec, nothing of ours added. The exec shims (exec_handoff_calls)
// once blocked the rebind signal for the exec and the new image inherited
// it blocked (a successful exec never returns to restore it): its task
// policy could never be re-issued again, every later round timed out, and
// the rebind signal stayed pending in the exec'd program for good. Seen in
// the guest as nk-hold-vm children of a forking bash keeping stale task
// policies (SigBlk and SigPnd 8000000000000000 in /proc/PID/status).
// And where the program itself blocks the signal, a round times out on the
// thread and leaves the signal pending: the exec must not carry it into
// the new image (pending signals survive exec; its default action there
// terminates), and the program's own mask still goes through as it is.
#include <numaif.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>

#include "harness.hpp"

using namespace numakeep;
using namespace numakeep::testing;

namespace {

// A field of the calling thread's /proc status (SigBlk, SigPnd), as the
// kernel prints it.
std::string status_field(const char* name) {
    std::ifstream status("/proc/thread-self/status");
    std::string line;
    const std::string key = std::string(name) + ":";
    while (std::getline(status, line))
        if (line.rfind(key, 0) == 0) return line.substr(line.find_first_not_of(" \t", key.size()));
    return "?";
}
std::string sig_blocked() {
    return status_field("SigBlk");
}

// Forks, runs `before_exec` in the child, execs this program with
// --report-mask through `how` and returns what the new image printed: its
// blocked mask at main(), and with `pending` its pending signals after it.
template <typename F>
std::string mask_after_exec(const char* how, F before_exec) {
    int fds[2];
    if (pipe(fds) != 0) return "pipe failed";
    pid_t child = fork();
    if (child == 0) {
        before_exec();
        dup2(fds[1], STDOUT_FILENO);
        close(fds[0]);
        close(fds[1]);
        char self[] = "/proc/self/exe";
        char flag[] = "--report-mask";
        char* argv[] = {self, flag, nullptr};
        if (std::strcmp(how, "execv") == 0) execv(self, argv);
        if (std::strcmp(how, "execvp") == 0) execvp(self, argv);
        if (std::strcmp(how, "execve") == 0) execve(self, argv, environ);
        if (std::strcmp(how, "execl") == 0) execl(self, self, flag, static_cast<char*>(nullptr));
        _exit(127);
    }
    close(fds[1]);
    std::string out;
    char buf[128];
    ssize_t n;
    while ((n = read(fds[0], buf, sizeof buf)) > 0) out.append(buf, static_cast<std::size_t>(n));
    close(fds[0]);
    int status = 0;
    waitpid(child, &status, 0);
    while (!out.empty() && out.back() == '\n') out.pop_back();
    return out;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc == 2 && std::strcmp(argv[1], "--report-mask") == 0) {
        std::printf("%s pending %s\n", sig_blocked().c_str(), status_field("SigPnd").c_str());
        return 0;
    }
    Harness h(argc, argv);
    unsigned long node0 = 1;
    h.check(set_mempolicy(MPOL_INTERLEAVE, &node0, 2) == 0, "set_mempolicy interleave 0");
    if (h.preloaded()) {
        // One round installs the rebind signal's handler: from then on the
        // exec shims guard every exec.
        std::vector<PolicyEntry> ranges, threads;
        h.records(ranges, threads);
        proto::RebindDone done{};
        h.check(h.daemon().rebind(3, mems_allowed(), done) && done.generation == 3,
                "a rebind round ran (generation 3 applied)");
    }
    const std::string before = sig_blocked();
    // The program blocks every real-time signal (the rebind signal among
    // them); in the child a round times out and leaves it pending. First,
    // while the child's agent is the only one to connect to us.
    sigset_t rt;
    sigemptyset(&rt);
    for (int s = SIGRTMIN; s <= SIGRTMAX; ++s) sigaddset(&rt, s);
    sigprocmask(SIG_BLOCK, &rt, nullptr);
    const std::string blocked = sig_blocked() + " pending 0000000000000000";
    std::string after = mask_after_exec("execv", [&] {
        if (!h.preloaded()) return;
        std::vector<PolicyEntry> ranges, threads;
        h.forget_connection();
        h.records(ranges, threads);  // the child's own agent
        proto::RebindDone done{};
        h.daemon().rebind(4, mems_allowed(), done);  // its thread round times out
    });
    h.check(after == blocked,
            "the program blocks the rebind signal: the new image's mask is %s, want %s "
            "(its own mask, and no rebind signal pending)",
            after.c_str(), blocked.c_str());
    sigprocmask(SIG_UNBLOCK, &rt, nullptr);

    const std::string want = before + " pending 0000000000000000";
    for (const char* how : {"execv", "execvp", "execve", "execl"}) {
        std::string got = mask_after_exec(how, [] {});
        h.check(got == want, "%s: the new image's blocked mask is %s, want %s", how, got.c_str(),
                want.c_str());
    }
    h.check(sig_blocked() == before, "the caller's own mask is unchanged");

    return h.finish();
}
