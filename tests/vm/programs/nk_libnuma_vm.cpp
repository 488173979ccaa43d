// SPDX-License-Identifier: MIT
// nk-libnuma-vm ADDRFILE: a program written against libnuma alone, for the
// programs-libnuma and programs-transparency cases (tests/vm/programs).
//
// It makes three ranges through libnuma's allocation API (which reaches
// mbind through libnuma's PLT, so libnumakeep.so sees it):
//   interleaved  numa_alloc_interleaved(8 MiB)       interleave, all nodes
//   onnode       numa_alloc_onnode(4 MiB, 2)         bind, node 2
//   tonode       mmap 4 MiB + numa_tonode_memory(3)  bind, node 3
// touches every page, writes "NAME ADDRESS" lines to ADDRFILE (addresses
// differ from run to run, so they stay off stdout), prints "ready", and
// then reads stdin until EOF: one line in, the same line echoed. At EOF it
// frees the ranges and prints "done". Its stdout is the same on every run
// and with or without numakeep: the cases diff it.
#include <numa.h>
#include <sys/mman.h>

#include <cstdio>
#include <cstring>

namespace {

constexpr std::size_t kMiB = 1 << 20;

void touch(void* p, std::size_t len) {
    std::memset(p, 0x5a, len);
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: nk-libnuma-vm ADDRFILE\n");
        return 2;
    }
    if (numa_available() < 0) {
        std::printf("numa_available: no NUMA\n");
        return 1;
    }
    std::printf("numa_max_node: %d\n", numa_max_node());

    void* interleaved = numa_alloc_interleaved(8 * kMiB);
    std::printf("numa_alloc_interleaved 8 MiB: %s\n", interleaved ? "ok" : "failed");
    void* onnode = numa_alloc_onnode(4 * kMiB, 2);
    std::printf("numa_alloc_onnode 4 MiB node 2: %s\n", onnode ? "ok" : "failed");
    void* tonode =
        mmap(nullptr, 4 * kMiB, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (tonode == MAP_FAILED) tonode = nullptr;
    std::printf("mmap 4 MiB: %s\n", tonode ? "ok" : "failed");
    if (!interleaved || !onnode || !tonode) return 1;
    // numa_tonode_memory returns nothing; libnuma reports a failing mbind
    // through numa_error (stderr), which the cases compare too.
    numa_tonode_memory(tonode, 4 * kMiB, 3);
    std::printf("numa_tonode_memory node 3: called\n");
    touch(interleaved, 8 * kMiB);
    touch(onnode, 4 * kMiB);
    touch(tonode, 4 * kMiB);

    std::FILE* f = std::fopen(argv[1], "w");
    if (!f) {
        std::perror("nk-libnuma-vm: ADDRFILE");
        return 1;
    }
    std::fprintf(f, "interleaved %lx\nonnode %lx\ntonode %lx\n",
                 reinterpret_cast<unsigned long>(interleaved),
                 reinterpret_cast<unsigned long>(onnode), reinterpret_cast<unsigned long>(tonode));
    std::fclose(f);
    std::printf("ready\n");
    std::fflush(stdout);

    char line[256];
    while (std::fgets(line, sizeof line, stdin)) {
        std::printf("%s", line);
        std::fflush(stdout);
    }
    numa_free(interleaved, 8 * kMiB);
    numa_free(onnode, 4 * kMiB);
    munmap(tonode, 4 * kMiB);
    std::printf("done\n");
    return 0;
}
