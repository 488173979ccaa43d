// SPDX-License-Identifier: MIT
// Transparency: every interposed call returns what the kernel returns, with
// the same errno. Each case is made through the interposed entry point and
// again as an inline system call nothing can interpose, and the two must
// agree. Also built for the guest (tests/vm/runtime), where two nodes make
// the EIO case of MPOL_MF_STRICT possible.
#include <numaif.h>
#include <sys/mman.h>
#include <sys/shm.h>
#include <sys/syscall.h>

#include "harness.hpp"

using namespace numakeep;
using namespace numakeep::testing;

namespace {

struct Outcome {
    long ret;
    int err;
};

Outcome via_libc(long r) {
    return {r, r == -1 ? errno : 0};
}
Outcome via_kernel(long r) {
    return {r < 0 ? -1 : r, r < 0 ? static_cast<int>(-r) : 0};
}

template <typename... A>
Outcome kernel(long nr, A... a) {
    return via_kernel(preload::raw(nr, a...));
}

void same(Harness& h, const char* what, Outcome got, Outcome want) {
    h.check(got.ret == want.ret && got.err == want.err, "%s: %ld errno %d (kernel: %ld errno %d)",
            what, got.ret, got.err, want.ret, want.err);
}

}  // namespace

int main(int argc, char** argv) {
    Harness h(argc, argv);
    constexpr std::size_t P = 4096;
    unsigned long node0 = 1;
    char* a = map_pages(4);
    auto* bad = reinterpret_cast<unsigned long*>(8);

    errno = 0;
    same(h, "mbind bad mode (EINVAL)", via_libc(mbind(a, P, 99, &node0, 2, 0)),
         kernel(SYS_mbind, a, P, 99, &node0, 2, 0));
    same(h, "mbind unaligned start (EINVAL)", via_libc(mbind(a + 1, P, MPOL_BIND, &node0, 2, 0)),
         kernel(SYS_mbind, a + 1, P, MPOL_BIND, &node0, 2, 0));
    same(h, "mbind bad mask pointer (EFAULT)", via_libc(mbind(a, P, MPOL_BIND, bad, 64, 0)),
         kernel(SYS_mbind, a, P, MPOL_BIND, bad, 64, 0));
    same(h, "mbind empty bind mask (EINVAL)", via_libc(mbind(a, P, MPOL_BIND, nullptr, 0, 0)),
         kernel(SYS_mbind, a, P, MPOL_BIND, 0, 0, 0));
    munmap(a + 3 * P, P);
    same(h, "mbind over an unmapped page (EFAULT/ENOMEM)",
         via_libc(mbind(a + 2 * P, 2 * P, MPOL_BIND, &node0, 2, 0)),
         kernel(SYS_mbind, a + 2 * P, 2 * P, MPOL_BIND, &node0, 2, 0));
    same(h, "syscall(SYS_mbind) bad flags (EINVAL)",
         via_libc(syscall(SYS_mbind, a, P, MPOL_BIND, &node0, 2UL, 0x100U)),
         kernel(SYS_mbind, a, P, MPOL_BIND, &node0, 2, 0x100));
    same(h, "set_mempolicy bad mode (EINVAL)", via_libc(set_mempolicy(42, &node0, 2)),
         kernel(SYS_set_mempolicy, 42, &node0, 2));
    same(h, "set_mempolicy bad mask pointer (EFAULT)", via_libc(set_mempolicy(MPOL_BIND, bad, 64)),
         kernel(SYS_set_mempolicy, MPOL_BIND, bad, 64));
    int mode;
    same(h, "get_mempolicy bad flags (EINVAL)", via_libc(get_mempolicy(&mode, nullptr, 0, a, 0x80)),
         kernel(SYS_get_mempolicy, &mode, 0, 0, a, 0x80));
    same(h, "set_mempolicy_home_node bad flags (EINVAL)",
         via_libc(syscall(SYS_set_mempolicy_home_node, a, P, 0UL, 1UL)),
         kernel(SYS_set_mempolicy_home_node, a, P, 0, 1));
    same(h, "set_mempolicy_home_node bad node (EINVAL)",
         via_libc(syscall(SYS_set_mempolicy_home_node, a, P, 5000UL, 0UL)),
         kernel(SYS_set_mempolicy_home_node, a, P, 5000, 0));
    same(h, "munmap unaligned (EINVAL)", via_libc(munmap(a + 1, P)), kernel(SYS_munmap, a + 1, P));
    same(h, "shmdt not attached (EINVAL)", via_libc(shmdt(a)), kernel(SYS_shmdt, a));
    errno = 0;
    void* r = mremap(a, P, 2 * P, 0x40);
    same(h, "mremap bad flags (EINVAL)", {r == MAP_FAILED ? -1 : 0, r == MAP_FAILED ? errno : 0},
         kernel(SYS_mremap, a, P, 2 * P, 0x40, 0));

    // EIO: MPOL_MF_STRICT over a page already on a node outside the mask.
    Nodemask mems = mems_allowed();
    if (mems.count() >= 2) {
        unsigned long first = 1UL << mems.first();
        unsigned long second = 1UL << mems.next(static_cast<unsigned>(mems.first()) + 1);
        char* s = map_pages(1);
        mbind(s, P, MPOL_BIND, &first, 64, 0);
        s[0] = 1;  // fault it in on the first node
        same(h, "mbind MPOL_MF_STRICT with a misplaced page (EIO)",
             via_libc(mbind(s, P, MPOL_BIND, &second, 64, MPOL_MF_STRICT)),
             kernel(SYS_mbind, s, P, MPOL_BIND, &second, 64, MPOL_MF_STRICT));
    } else {
        std::printf("note: one node only; the EIO case runs in the guest\n");
    }
    if (h.preloaded() && mems.count() < 2) {
        // Nothing succeeded, so nothing was recorded and no agent started.
        h.check(!FakeDaemon::wait(h.daemon().listen_fd(), 500),
                "failed calls recorded nothing: no agent connected");
    } else if (h.preloaded()) {
        std::vector<PolicyEntry> ranges, threads;
        if (h.records(ranges, threads)) {
            bool only_strict = true;
            for (auto& e : ranges) only_strict &= e.end - e.start == P;
            h.check(threads.empty() && only_strict,
                    "failed calls recorded nothing but the STRICT range, whose policy the kernel "
                    "installed before its EIO (%zu ranges, %zu threads)",
                    ranges.size(), threads.size());
        }
    }
    return h.finish();
}
