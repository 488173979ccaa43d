// SPDX-License-Identifier: MIT
// nk-exec-handoff-vm: the two images of the exec-handoff case.
//
//   nk-exec-handoff-vm parent NODES PREFIX CHILD_PRELOAD
//       asks for interleave over NODES with libc's syscall() (which
//       libnumakeep.so interposes, so it records the request when it is
//       preloaded; no libnuma, whose constructor would call into the
//       runtime early), then execs itself as `child PREFIX` with
//       LD_PRELOAD=CHILD_PRELOAD.
//   nk-exec-handoff-vm parent NODES PREFIX CHILD_PRELOAD relay
//       the same, but after asking creates PREFIX.asked and waits for
//       PREFIX.exec, then execs itself as `relay PREFIX`, which at once
//       execs itself as `child PREFIX` (as `bash -c prog`, env or nice do).
//   nk-exec-handoff-vm child PREFIX
//       every 50 ms writes its own task policy, read back from the kernel
//       with a raw get_mempolicy (guest.hpp: "interleave 0-1"), to
//       PREFIX.policy, until PREFIX.exit exists.
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "guest.hpp"

using namespace numakeep;
using namespace numakeep::guest;

namespace {

int child(const std::string& prefix) {
    const std::string policy = prefix + ".policy", tmp = policy + ".tmp", stop = prefix + ".exit";
    struct stat st;
    for (int i = 0; i < 2400; ++i) {
        auto p = thread_policy();
        std::string text = (p ? to_string(*p) : std::string("?")) + "\n";
        if (FILE* f = std::fopen(tmp.c_str(), "w")) {
            std::fputs(text.c_str(), f);
            std::fclose(f);
            std::rename(tmp.c_str(), policy.c_str());
        }
        if (stat(stop.c_str(), &st) == 0) return 0;
        usleep(50000);
    }
    return 1;
}

bool exists(const std::string& path) {
    struct stat st;
    return stat(path.c_str(), &st) == 0;
}

[[noreturn]] void exec_self(char* argv0, const char* mode, const char* prefix) {
    char* child_argv[] = {argv0, const_cast<char*>(mode), const_cast<char*>(prefix), nullptr};
    execv("/proc/self/exe", child_argv);
    die("execv");
}

int parent(const char* list, const char* prefix, const char* child_preload, char* argv0,
           bool relay) {
    auto nodes = parse_nodes(list);
    if (!nodes) die("bad node list", EINVAL);
    if (::syscall(SYS_set_mempolicy, mpol::kInterleave, nodes->kernel_data(),
                  Nodemask::kKernelMaxnode) != 0)
        die("set_mempolicy");
    setenv("LD_PRELOAD", child_preload, 1);
    if (!relay) exec_self(argv0, "child", prefix);
    const std::string p(prefix);
    if (FILE* f = std::fopen((p + ".asked").c_str(), "w")) std::fclose(f);
    for (int i = 0; i < 1200 && !exists(p + ".exec"); ++i) usleep(50000);
    exec_self(argv0, "relay", prefix);
}

}  // namespace

int main(int argc, char** argv) {
    if (argc == 3 && std::strcmp(argv[1], "child") == 0) return child(argv[2]);
    if (argc == 3 && std::strcmp(argv[1], "relay") == 0) exec_self(argv[0], "child", argv[2]);
    if ((argc == 5 || (argc == 6 && std::strcmp(argv[5], "relay") == 0)) &&
        std::strcmp(argv[1], "parent") == 0)
        return parent(argv[2], argv[3], argv[4], argv[0], argc == 6);
    std::fprintf(
        stderr,
        "usage: nk-exec-handoff-vm parent NODES PREFIX CHILD_PRELOAD [relay] | relay PREFIX | "
        "child PREFIX\n");
    return 2;
}
