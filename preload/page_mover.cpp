// SPDX-License-Identifier: MIT
#include "page_mover.hpp"

#include <fcntl.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <new>
#include <vector>

#include "maps_line.hpp"
#include "numakeep/mpol.hpp"
#include "numakeep/placement.hpp"
#include "raw_syscall.hpp"
#include "record_keeper.hpp"
#include "runtime.hpp"

namespace numakeep::preload {
namespace {

using placement::Intent;

// One window is a PMD's worth of pages: a THP is never cut in two. A chunk
// is a few windows, moved by one move_pages() call: each call with nodes
// costs the kernel a fixed price (do_pages_move() starts with
// lru_cache_disable(), an expedited RCU grace period and a drain on every
// CPU), so calls per window would make that price, not the copying, the
// respread's speed (the figure vm.placement_move_vs_migratepages). Still
// bounded: the kernel holds mmap_lock for reading across one call only.
constexpr std::uint64_t kWindow = std::uint64_t{1} << (placement::kPageShift + placement::kThpOrder);
constexpr std::size_t kWindowPages = kWindow / placement::kPageSize;
constexpr std::uint64_t kChunkWindows = 8;
constexpr std::uint64_t kChunk = kWindow * kChunkWindows;
constexpr std::size_t kChunkPages = kWindowPages * kChunkWindows;
constexpr long kSleepSliceNs = 20'000'000;     // a newer Rebind is noticed within this

constinit PlacementSettings g_settings{};

std::uint64_t now_ns() {
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<std::uint64_t>(ts.tv_sec) * 1000000000ULL +
           static_cast<std::uint64_t>(ts.tv_nsec);
}

// What to place: a part of one vma under one intent. A range record's part
// remembers the record, so that a change of the record under the respread
// (munmap, a new mbind) stops the part; a task part is placed only while no
// record covers it.
struct Part {
    std::uint64_t start, end;
    std::uint64_t vm_start, vm_pgoff;
    bool thp_possible;
    bool from_range;
    Recorded rec;
    Intent intent;
};

struct RangeWork {
    std::uint64_t start, end;
    Recorded rec;
    Intent intent;
};

// The main thread's task policy, when it interleaves: the heap and the
// anonymous mappings fault under it (get_vma_policy() falls back to the
// task's policy for a vma without one). Threads with policies of their
// own fault their own pages too, but which pages are whose is not known.
bool task_intent(const Nodemask& mems, Semantics sem, Intent& out) {
    const pid_t pid = static_cast<pid_t>(raw(SYS_getpid));
    for (ThreadRecord* tr = state().threads; tr; tr = tr->next) {
        if (tr->tid != pid || !tr->has_policy) continue;
        const Mode m = tr->rec.request.mode;
        if (m != Mode::Interleave && m != Mode::WeightedInterleave) return false;
        return placement::intent_of(tr->rec, mems, sem, out);
    }
    return false;
}

// The vmas, from /proc/self/smaps rather than maps: `huge[i]` says whether
// vma i holds any transparent huge page (AnonHugePages above 0). A window
// whose pages all sit on one node is taken for a THP only there: judged by
// its order-9 index, a window of base pages whose huge unit happens to be
// where it lies would be left whole (the vm case placement-weighted, after
// a shrink to one node).
std::vector<MapsEntry> read_own_maps(std::vector<char>& text, std::vector<bool>& huge) {
    std::vector<MapsEntry> out;
    int fd = open("/proc/self/smaps", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return out;
    char buf[16384];
    for (;;) {
        ssize_t n = read(fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        text.insert(text.end(), buf, buf + n);
    }
    close(fd);
    parse_smaps(std::string_view(text.data(), text.size()), out, huge);
    return out;
}

placement::IndexWidth kernel_index_width() {
    utsname u{};
    if (uname(&u) != 0) return placement::IndexWidth::Bits64;
    return placement::index_width_for_release(u.release);
}

// The weighted interleave table (6.9+): one value per node, 0 when unset.
std::uint8_t g_weights[kMaxNodes];
void read_weights(const Nodemask& nodes) {
    std::memset(g_weights, 0, sizeof g_weights);
    for (int n = nodes.first(); n >= 0; n = nodes.next(static_cast<unsigned>(n) + 1)) {
        char path[96];
        std::snprintf(path, sizeof path, "/sys/kernel/mm/mempolicy/weighted_interleave/node%d", n);
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0) continue;
        char v[8] = {};
        if (read(fd, v, sizeof v - 1) > 0) g_weights[n] = static_cast<std::uint8_t>(std::atoi(v));
        close(fd);
    }
}

long move_pages(std::size_t count, void** pages, const int* nodes, int* status) {
    return raw(SYS_move_pages, 0, count, pages, nodes, status, nodes ? mpol::kMfMove : 0U);
}

bool gone(int status) {
    return status == -EFAULT || status == -ENOENT;
}

class Mover {
  public:
    Mover(bool (*stop)(), std::uint32_t rate_mib) : stop_(stop), rate_mib_(rate_mib) {
        t0_ = now_ns();
    }
    RespreadResult& result() { return res_; }

    // False when the respread must end (a newer change, the mems refused).
    bool place(const Part& p) {
        for (std::uint64_t a = p.start; a < p.end;) {
            const std::uint64_t chunk_end = (a & ~(kWindow - 1)) + kChunk;
            const std::uint64_t e = chunk_end < p.end ? chunk_end : p.end;
            if (stop_()) return cancel();
            if (!still_there(p, a)) {
                res_.pages_gone += (p.end - a) / placement::kPageSize;
                return true;
            }
            if (!place_chunk(p, a, e)) return cancel();
            if (!pace()) return cancel();
            a = e;
        }
        return true;
    }

  private:
    bool cancel() {
        res_.cancelled = true;
        return false;
    }

    // The record the part came from still covers a (never clobber: pages
    // of a mapping that replaced it are not ours to judge).
    static bool still_there(const Part& p, std::uint64_t a) {
        RecordLock lock;
        const Recorded* now = ranges().lookup(a);
        return p.from_range ? now && *now == p.rec : now == nullptr;
    }

    bool place_chunk(const Part& p, std::uint64_t s, std::uint64_t e) {
        const std::size_t n = static_cast<std::size_t>((e - s) / placement::kPageSize);
        for (std::size_t i = 0; i < n; ++i) pages_[i] = reinterpret_cast<void*>(s + i * placement::kPageSize);
        if (move_pages(n, pages_, nullptr, where_) < 0) {
            res_.pages_gone += n;
            return true;
        }
        std::size_t k = 0;
        for (std::size_t w = 0; w < n;) {
            const std::uint64_t ws = s + w * placement::kPageSize;
            const std::uint64_t we_full = (ws & ~(kWindow - 1)) + kWindow;
            const std::size_t wn = static_cast<std::size_t>(
                ((we_full < e ? we_full : e) - ws) / placement::kPageSize);
            if (!place_window(p, w, wn, k)) return false;
            w += wn;
        }
        if (k == 0) return true;
        group_by_target(k);
        long r = move_pages(k, move_list_, target_, status_);
        // EACCES: a target the cpuset no longer allows (the mems changed
        // again); ENODEV: a node gone. The newer change's respread follows.
        if (r == -EACCES || r == -ENODEV || r == -EINVAL) return false;
        // Count from what the kernel holds now. All moved (0): `status`
        // holds each page's node or error. Otherwise a failing page stopped
        // the kernel's loop (do_pages_move() leaves the rest of `status`
        // unset and returns how many it did not move): ask again.
        if (r != 0 && move_pages(k, move_list_, nullptr, status_) < 0) {
            res_.pages_gone += k;
            return true;
        }
        for (std::size_t i = 0; i < k; ++i) {
            if (status_[i] == target_[i]) {
                ++res_.pages_moved;
                moved_bytes_ += placement::kPageSize;
            } else if (gone(status_[i])) {
                ++res_.pages_gone;
            } else {
                ++res_.pages_skipped;
            }
        }
        return true;
    }

    // The window of wn pages at index w of the chunk (where_ holds where
    // they are): a THP moves at once, base pages are added to the chunk's
    // move list (k entries so far). False when the respread must end.
    bool place_window(const Part& p, std::size_t w, std::size_t wn, std::size_t& k) {
        void** pages = pages_ + w;
        int* where = where_ + w;
        const auto s = reinterpret_cast<std::uint64_t>(pages[0]);
        bool first_moved = false;
        // A whole window on one node may be one THP: move it by its first
        // page, as a huge page (add_page_for_migration() isolates the head),
        // to the node its order-9 index gives; if only that page moved, it
        // was base pages after all: place them one by one.
        if (p.thp_possible && wn == kWindowPages && uniform(where, wn)) {
            const int t = placement::target_node_at(p.intent, p.vm_pgoff, p.vm_start, s,
                                                    placement::kThpOrder, where[0]);
            if (t < 0) {
                res_.pages_placed += wn;
                return true;
            }
            int target = t, status = 0;
            long r = move_pages(1, pages, &target, &status);
            if (r < 0 && (r == -EACCES || r == -ENODEV || r == -EINVAL)) return false;
            if (move_pages(wn, pages, nullptr, where) < 0) {
                res_.pages_gone += wn;
                return true;
            }
            if (uniform(where, wn) && where[0] == t) {
                res_.pages_moved += wn;
                moved_bytes_ += wn * placement::kPageSize;
                return true;
            }
            // Base pages: the first one moved alone (counted below).
            first_moved = where[0] == t;
        }
        // Page by page, at order 0.
        for (std::size_t i = 0; i < wn; ++i) {
            if (where[i] < 0) {
                if (where[i] == -EFAULT) ++res_.pages_gone;
                continue;  // -ENOENT: never touched, nothing to place
            }
            const std::uint64_t addr = s + i * placement::kPageSize;
            const int t = placement::target_node_at(p.intent, p.vm_pgoff, p.vm_start, addr, 0,
                                                    where[i]);
            if (t < 0) {
                if (i == 0 && first_moved) {
                    ++res_.pages_moved;
                    moved_bytes_ += placement::kPageSize;
                } else {
                    ++res_.pages_placed;
                }
                continue;
            }
            move_list_[k] = pages[i];
            target_[k] = t;
            ++k;
        }
        return true;
    }

    // Orders the k pages to move by target node, keeping address order
    // within each node: do_pages_move() migrates a run of consecutive
    // entries with one target as one batch and flushes at every change of
    // node, so interleave's alternating targets would otherwise migrate
    // page by page (a TLB flush each; the figure
    // vm.placement_move_vs_migratepages).
    void group_by_target(std::size_t k) {
        std::size_t out = 0;
        for (std::size_t i = 0; i < k; ++i) taken_[i] = false;
        for (std::size_t i = 0; i < k; ++i) {
            if (taken_[i]) continue;
            const int node = target_[i];
            for (std::size_t j = i; j < k; ++j) {
                if (taken_[j] || target_[j] != node) continue;
                taken_[j] = true;
                sorted_list_[out] = move_list_[j];
                sorted_target_[out] = node;
                ++out;
            }
        }
        for (std::size_t i = 0; i < k; ++i) {
            move_list_[i] = sorted_list_[i];
            target_[i] = sorted_target_[i];
        }
    }

    static bool uniform(const int* where, std::size_t n) {
        if (where[0] < 0) return false;
        for (std::size_t i = 1; i < n; ++i)
            if (where[i] != where[0]) return false;
        return true;
    }

    // Sleeps as long as the rate asks, in slices, looking for a newer change.
    bool pace() {
        if (rate_mib_ == 0) return true;
        const std::uint64_t due =
            t0_ + moved_bytes_ * 1000000000ULL / (std::uint64_t{rate_mib_} << 20);
        for (;;) {
            const std::uint64_t now = now_ns();
            if (now >= due) return true;
            if (stop_()) return false;
            std::uint64_t left = due - now;
            timespec ts{0, static_cast<long>(left < static_cast<std::uint64_t>(kSleepSliceNs)
                                                 ? left
                                                 : static_cast<std::uint64_t>(kSleepSliceNs))};
            nanosleep(&ts, nullptr);
        }
    }

    bool (*stop_)();
    std::uint32_t rate_mib_;
    std::uint64_t t0_ = 0;
    std::uint64_t moved_bytes_ = 0;
    RespreadResult res_;
    void* pages_[kChunkPages];
    void* move_list_[kChunkPages];
    int where_[kChunkPages];
    int target_[kChunkPages];
    int status_[kChunkPages];
    void* sorted_list_[kChunkPages];
    int sorted_target_[kChunkPages];
    bool taken_[kChunkPages];
};

// The parts of one recorded range, vma by vma (mbind split the vmas at the
// range's ends; ranges with one record may span several).
void add_range_parts(const RangeWork& w, const std::vector<MapsEntry>& maps,
                     const std::vector<bool>& huge, std::vector<Part>& parts) {
    for (std::size_t i = 0; i < maps.size(); ++i) {
        const MapsEntry& m = maps[i];
        if (m.end <= w.start || m.start >= w.end) continue;
        // Shared memory interleaves by its object's offset (shmem's own
        // get_policy), and moving pages other processes map is not ours.
        if (m.shared) continue;
        Part p{};
        p.start = m.start > w.start ? m.start : w.start;
        p.end = m.end < w.end ? m.end : w.end;
        p.vm_start = m.start;
        p.vm_pgoff = m.inode == 0 ? placement::anonymous_pgoff(m.start)
                                  : m.offset >> placement::kPageShift;
        p.thp_possible = huge[i] && m.inode == 0 && m.end - m.start >= kWindow;
        p.from_range = true;
        p.rec = w.rec;
        p.intent = w.intent;
        parts.push_back(p);
    }
}

// The private anonymous vmas that carry no policy of their own: the task
// policy places their pages (get_mempolicy(MPOL_F_ADDR) reads MPOL_DEFAULT
// for a vma without one: do_get_mempolicy() falls back to default_policy).
void add_task_parts(const Intent& in, const std::vector<MapsEntry>& maps,
                    const std::vector<bool>& huge, std::vector<Part>& parts) {
    for (std::size_t i = 0; i < maps.size(); ++i) {
        const MapsEntry& m = maps[i];
        if (!m.private_anonymous() || !m.writable) continue;
        int mode = -1;
        Nodemask nodes;
        if (raw(SYS_get_mempolicy, &mode, nodes.kernel_data(), Nodemask::kKernelMaxnode, m.start,
                mpol::kGetAddr) < 0 ||
            mode != 0)
            continue;
        Part p{};
        p.start = m.start;
        p.end = m.end;
        p.vm_start = m.start;
        p.vm_pgoff = placement::anonymous_pgoff(m.start);
        p.thp_possible = huge[i] && m.end - m.start >= kWindow;
        p.from_range = false;
        p.intent = in;
        parts.push_back(p);
    }
}

}  // namespace

void read_placement_environment() {
    if (const char* v = std::getenv("NUMAKEEP_PLACEMENT"); v && *v) {
        if (std::strcmp(v, "0") == 0 || std::strcmp(v, "1") == 0) {
            g_settings.enabled = v[0] == '1';
            g_settings.enabled_from_env = true;
        }
    }
    if (const char* v = std::getenv("NUMAKEEP_PLACEMENT_RATE_MIB"); v && *v) {
        char* end = nullptr;
        unsigned long r = std::strtoul(v, &end, 10);
        if (end && *end == '\0' && r <= 0xffffffffUL) {
            g_settings.rate_mib = static_cast<std::uint32_t>(r);
            g_settings.rate_from_env = true;
        }
    }
}

const PlacementSettings& placement_settings() {
    return g_settings;
}

RespreadResult respread(const Nodemask& mems, bool daemon_enabled, std::uint32_t daemon_rate_mib,
                        bool (*stop)()) {
    const PlacementSettings& cfg = g_settings;
    const bool enabled = cfg.enabled_from_env ? cfg.enabled : daemon_enabled;
    const std::uint32_t rate =
        cfg.rate_from_env ? cfg.rate_mib : daemon_rate_mib ? daemon_rate_mib : cfg.rate_mib;
    if (!enabled || mems.empty()) return RespreadResult{};
    const std::uint64_t t0 = now_ns();
    const placement::IndexWidth width = kernel_index_width();

    // The work, copied under the lock: the program's threads wait for
    // nothing longer than this copy.
    std::vector<RangeWork> work;
    Intent task{};
    bool has_task = false;
    {
        RecordLock lock;
        const Semantics sem = config().semantics;
        ranges().for_each([&](const RangeStore::Range& r) {
            Intent in;
            if (!placement::intent_of(*r.rec, mems, sem, in)) return;
            in.width = width;
            work.push_back(RangeWork{r.start, r.end, *r.rec, in});
        });
        has_task = task_intent(mems, sem, task);
        task.width = width;
    }
    if (work.empty() && !has_task) return RespreadResult{};

    std::vector<char> text;
    std::vector<bool> huge;
    const std::vector<MapsEntry> maps = read_own_maps(text, huge);
    std::vector<Part> parts;
    for (const RangeWork& w : work) add_range_parts(w, maps, huge, parts);
    if (has_task) add_task_parts(task, maps, huge, parts);

    bool weighted = false;
    for (Part& p : parts) {
        if (p.intent.mode != Mode::WeightedInterleave) continue;
        weighted = true;
        p.intent.weights = g_weights;
    }
    if (weighted) read_weights(mems);

    // Big: the batch arrays. On the heap, not the agent's stack.
    void* mem = std::malloc(sizeof(Mover));
    if (!mem) return RespreadResult{};
    auto* mover = new (mem) Mover(stop, rate);
    for (const Part& p : parts)
        if (!mover->place(p)) break;
    RespreadResult res = mover->result();
    mover->~Mover();
    std::free(mem);
    res.ran = true;
    res.duration_ns = now_ns() - t0;
    return res;
}

}  // namespace numakeep::preload
