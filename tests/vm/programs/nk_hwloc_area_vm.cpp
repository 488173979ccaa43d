// SPDX-License-Identifier: MIT
// nk-hwloc-area-vm ADDRFILE: hwloc's area binding, for the programs-hwloc
// and programs-transparency cases (tests/vm/programs).
//
// hwloc binds an area with a raw syscall(__NR_mbind, ...) of its own, not
// through libnuma. The host has Debian's libhwloc15 but not libhwloc-dev,
// so this program opens libhwloc.so.15 with dlopen and declares the five
// functions it calls from hwloc's documented API (hwloc.h, 2.x ABI):
//   hwloc_topology_init, hwloc_topology_load, hwloc_bitmap_alloc,
//   hwloc_bitmap_set, hwloc_set_area_membind.
// It maps two 4 MiB areas, binds one INTERLEAVE over nodes 0-3 and one BIND
// over nodes 1-2 (by nodeset), touches them, writes "NAME ADDRESS" lines to
// ADDRFILE, prints "ready", echoes stdin lines until EOF, then prints
// "done". Its stdout is the same with or without numakeep.
#include <dlfcn.h>
#include <sys/mman.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

namespace {

// hwloc.h: enum hwloc_membind_policy_t and hwloc_membind_flags_t.
constexpr int kMembindBind = 2;            // HWLOC_MEMBIND_BIND
constexpr int kMembindInterleave = 3;      // HWLOC_MEMBIND_INTERLEAVE
constexpr int kMembindByNodeset = 1 << 5;  // HWLOC_MEMBIND_BYNODESET

using Topology = void*;
using Bitmap = void*;
using TopologyInit = int (*)(Topology*);
using TopologyLoad = int (*)(Topology);
using BitmapAlloc = Bitmap (*)();
using BitmapSet = int (*)(Bitmap, unsigned);
using SetAreaMembind = int (*)(Topology, const void*, std::size_t, Bitmap, int, int);

constexpr std::size_t kLen = 4 << 20;

template <typename F>
F symbol(void* lib, const char* name) {
    void* p = dlsym(lib, name);
    if (!p) {
        std::printf("dlsym %s: %s\n", name, dlerror());
        return nullptr;
    }
    return reinterpret_cast<F>(p);
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: nk-hwloc-area-vm ADDRFILE\n");
        return 2;
    }
    void* lib = dlopen("libhwloc.so.15", RTLD_NOW);
    if (!lib) {
        std::printf("dlopen libhwloc.so.15: %s\n", dlerror());
        return 77;
    }
    auto init = symbol<TopologyInit>(lib, "hwloc_topology_init");
    auto load = symbol<TopologyLoad>(lib, "hwloc_topology_load");
    auto bitmap_alloc = symbol<BitmapAlloc>(lib, "hwloc_bitmap_alloc");
    auto bitmap_set = symbol<BitmapSet>(lib, "hwloc_bitmap_set");
    auto set_area = symbol<SetAreaMembind>(lib, "hwloc_set_area_membind");
    if (!init || !load || !bitmap_alloc || !bitmap_set || !set_area) return 1;

    Topology topo = nullptr;
    if (init(&topo) != 0 || load(topo) != 0) {
        std::printf("hwloc topology: %s\n", std::strerror(errno));
        return 1;
    }
    Bitmap all = bitmap_alloc();
    Bitmap middle = bitmap_alloc();
    for (unsigned n = 0; n < 4; ++n) bitmap_set(all, n);
    bitmap_set(middle, 1);
    bitmap_set(middle, 2);

    struct Area {
        const char* name;
        Bitmap set;
        int policy;
        void* addr;
    } areas[] = {{"interleave-0-3", all, kMembindInterleave, nullptr},
                 {"bind-1-2", middle, kMembindBind, nullptr}};
    for (Area& a : areas) {
        a.addr = mmap(nullptr, kLen, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (a.addr == MAP_FAILED) {
            std::printf("mmap: %s\n", std::strerror(errno));
            return 1;
        }
        errno = 0;
        int rc = set_area(topo, a.addr, kLen, a.set, a.policy, kMembindByNodeset);
        std::printf("hwloc_set_area_membind %s: %d %s\n", a.name, rc,
                    rc == 0 ? "" : std::strerror(errno));
        std::memset(a.addr, 0x5a, kLen);
    }

    std::FILE* f = std::fopen(argv[1], "w");
    if (!f) {
        std::perror("nk-hwloc-area-vm: ADDRFILE");
        return 1;
    }
    for (const Area& a : areas)
        std::fprintf(f, "%s %lx\n", a.name, reinterpret_cast<unsigned long>(a.addr));
    std::fclose(f);
    std::printf("ready\n");
    std::fflush(stdout);

    char line[256];
    while (std::fgets(line, sizeof line, stdin)) {
        std::printf("%s", line);
        std::fflush(stdout);
    }
    for (const Area& a : areas) munmap(a.addr, kLen);
    std::printf("done\n");
    return 0;
}
