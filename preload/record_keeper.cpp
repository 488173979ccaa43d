// SPDX-License-Identifier: MIT
#include "record_keeper.hpp"

#include <sys/mman.h>
#include <sys/syscall.h>

#include <new>

#include "numakeep/mpol.hpp"
#include "raw_syscall.hpp"
#include "record_ops.hpp"
#include "reentrancy_guard.hpp"
#include "runtime.hpp"
#include "thread_rebind.hpp"

namespace numakeep::preload {

constinit thread_local bool t_holds_record_mutex __attribute__((tls_model("initial-exec"))) = false;
constinit thread_local bool t_inside_runtime __attribute__((tls_model("initial-exec"))) = false;
constinit thread_local ThreadRecord* t_thread_record __attribute__((tls_model("initial-exec"))) =
    nullptr;
constinit thread_local bool t_in_own_policy_call __attribute__((tls_model("initial-exec"))) = false;
constinit thread_local bool t_round_left_to_call __attribute__((tls_model("initial-exec"))) = false;

constinit RuntimeState g_runtime_state;

namespace {

alignas(RangeStore) unsigned char g_store_storage[sizeof(RangeStore)];
pthread_key_t g_thread_key;
bool g_thread_key_ok = false;

// The range records' write-behind log. An interposed mbind runs right after
// its system call, when the branch predictors and caches hold the kernel's
// state, not ours: the store's update there (interning the request, a tree
// descent) showed in preload.mbind_ratio of tools/bench preload. So the
// call only notes what it asked for here, and the store takes the notes in
// one warm batch whenever anything reads it (ranges()), the log fills, or
// the mems the notes were made under are about to change
// (refresh_request_mems()). A note over exactly the range of the note
// before it replaces that one: set() or punch() of the same span twice
// leaves what the second alone leaves.
struct PendingBind {
    std::uint64_t start;
    std::uint64_t end;
    bool remember;  // set() the request, else punch() the span
    Request request;
};
constexpr unsigned kPendingBinds = 16;
constinit PendingBind g_pending[kPendingBinds];
unsigned g_pending_count = 0;

constexpr std::size_t kThreadSlab = 64 * 1024;

// The first thread record lives here, in our own .bss: most programs have
// one thread with a task policy (or only libnuma's start-up probe), and a
// 64 KiB slab for it would cost them resident memory and, mapped next to
// their own anonymous memory (the kernel merges the two vmas), page tables
// shared with it that every munmap of theirs nearby then walks.
constinit ThreadRecord g_first_thread_record;
bool g_first_thread_record_used = false;

// Refills the free list: the static record once, then fresh anonymous
// mappings (lock held). Raw mmap: the program's allocator and our own mmap
// shim stay out of it.
bool refill_thread_records() {
    if (!g_first_thread_record_used) {
        g_first_thread_record_used = true;
        g_first_thread_record.next = g_runtime_state.free_threads;
        g_runtime_state.free_threads = &g_first_thread_record;
        return true;
    }
    long r =
        raw(SYS_mmap, 0, kThreadSlab, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (r < 0 && r > -4096) return false;
    auto* base = reinterpret_cast<unsigned char*>(r);
    for (std::size_t off = 0; off + sizeof(ThreadRecord) <= kThreadSlab;
         off += sizeof(ThreadRecord)) {
        auto* tr = new (base + off) ThreadRecord;
        tr->next = g_runtime_state.free_threads;
        g_runtime_state.free_threads = tr;
    }
    return true;
}

// A fresh record for thread `tid`, linked into the list (lock held).
ThreadRecord* take_record_for(pid_t tid) {
    if (!g_runtime_state.free_threads && !refill_thread_records()) return nullptr;
    ThreadRecord* tr = g_runtime_state.free_threads;
    g_runtime_state.free_threads = tr->next;
    // Reset field by field, never constructed anew: the agent may be
    // reading the atomics of a record it signalled in a round (life tells
    // it the thread is gone), and a round's late signal may still land.
    // The version only grows, so no plan of the thread before holds.
    tr->has_policy = false;
    ++tr->version;
    tr->rec = Recorded{};
    tr->round_done.store(0, std::memory_order_relaxed);
    tr->unreachable = false;
    tr->tid = tid;
    tr->next = g_runtime_state.threads;
    g_runtime_state.threads = tr;
    return tr;
}

ThreadRecord* take_thread_record() {
    ThreadRecord* tr = take_record_for(own_tid());
    if (!tr) return nullptr;
    t_thread_record = tr;
    if (g_thread_key_ok) pthread_setspecific(g_thread_key, tr);
    return tr;
}

// Records the agent made for threads that had none (`numakeep set
// --task`), until each thread claims its own in the rebind signal's
// handler. Atomics: the handlers read them while the agent may write.
struct Unclaimed {
    std::atomic<pid_t> tid{0};  // 0: a free slot
    std::atomic<ThreadRecord*> record{nullptr};
};
constexpr unsigned kUnclaimed = 1024;
constinit Unclaimed g_unclaimed[kUnclaimed];

void release_thread_record(ThreadRecord* tr) {
    for (ThreadRecord** p = &g_runtime_state.threads; *p; p = &(*p)->next)
        if (*p == tr) {
            *p = tr->next;
            break;
        }
    tr->next = g_runtime_state.free_threads;
    const bool had_policy = tr->has_policy;
    tr->has_policy = false;
    tr->life.fetch_add(1, std::memory_order_release);
    if (had_policy) note_thread_gone(*tr);
    g_runtime_state.free_threads = tr;
}

// pthread key destructor: the thread is exiting.
void on_thread_exit(void* p) {
    ReentrancyGuard guard;
    RecordLock lock;
    t_thread_record = nullptr;
    release_thread_record(static_cast<ThreadRecord*>(p));
}

}  // namespace

void records_init() {
    g_runtime_state.unflushed_store = new (g_store_storage) RangeStore;
    g_thread_key_ok = pthread_key_create(&g_thread_key, on_thread_exit) == 0;
}

void records_restart_in_child() {
    g_runtime_state.unflushed_store = new (g_store_storage) RangeStore;
    g_pending_count = 0;  // the log may be half written too
    g_runtime_state.store_empty.store(true, std::memory_order_relaxed);
    g_runtime_state.tracked_lo.store(~std::uint64_t{0}, std::memory_order_relaxed);
    g_runtime_state.tracked_hi.store(0, std::memory_order_relaxed);
}

void note_tracked(std::uint64_t start, std::uint64_t end) {
    g_runtime_state.store_empty.store(false, std::memory_order_relaxed);
    if (start < g_runtime_state.tracked_lo.load(std::memory_order_relaxed))
        g_runtime_state.tracked_lo.store(start, std::memory_order_relaxed);
    if (end > g_runtime_state.tracked_hi.load(std::memory_order_relaxed))
        g_runtime_state.tracked_hi.store(end, std::memory_order_relaxed);
}

void refresh_tracked() {
    std::uint64_t lo = ~std::uint64_t{0}, hi = 0;
    bool any = ranges().bounds(lo, hi);
    g_runtime_state.tracked_lo.store(lo, std::memory_order_relaxed);
    g_runtime_state.tracked_hi.store(hi, std::memory_order_relaxed);
    g_runtime_state.store_empty.store(!any, std::memory_order_relaxed);
}

ThreadRecord* own_thread_record(bool create) {
    if (t_thread_record || !create) return t_thread_record;
    return take_thread_record();
}

ThreadRecord* adopt_thread_record(const Recorded& rec) {
    ThreadRecord* tr = own_thread_record(true);
    if (!tr) return nullptr;
    tr->has_policy = true;
    tr->rec = rec;
    ++tr->version;
    return tr;
}

unsigned thread_policy_count() {
    unsigned n = 0;
    for (ThreadRecord* tr = g_runtime_state.threads; tr; tr = tr->next) n += tr->has_policy ? 1 : 0;
    return n;
}

ThreadRecord* thread_record_of(pid_t tid) {
    for (ThreadRecord* tr = g_runtime_state.threads; tr; tr = tr->next)
        if (tr->tid == tid) return tr;
    return nullptr;
}

ThreadRecord* foreign_thread_record(pid_t tid) {
    for (Unclaimed& u : g_unclaimed) {
        if (u.tid.load(std::memory_order_relaxed) != 0) continue;
        ThreadRecord* tr = take_record_for(tid);
        if (!tr) return nullptr;
        u.record.store(tr, std::memory_order_relaxed);
        u.tid.store(tid, std::memory_order_release);
        return tr;
    }
    return nullptr;
}

ThreadRecord* claim_foreign_thread_record() {
    const pid_t tid = own_tid();
    for (Unclaimed& u : g_unclaimed) {
        pid_t expected = tid;
        if (u.tid.load(std::memory_order_acquire) != tid) continue;
        ThreadRecord* tr = u.record.load(std::memory_order_relaxed);
        if (!u.tid.compare_exchange_strong(expected, 0, std::memory_order_acq_rel)) return nullptr;
        t_thread_record = tr;
        // The key's destructor gives the record back when the thread exits.
        // Only while the key has a slot in the thread's first block is
        // pthread_setspecific() a plain store (glibc's specific_1stblock);
        // past it, it may allocate, which a signal handler must not: the
        // record then stays until a round finds the thread gone (ESRCH).
        if (g_thread_key_ok && g_thread_key < 32) pthread_setspecific(g_thread_key, tr);
        return tr;
    }
    return nullptr;
}

bool forget_unclaimed_thread_record(ThreadRecord* tr) {
    for (Unclaimed& u : g_unclaimed) {
        pid_t tid = u.tid.load(std::memory_order_acquire);
        if (tid == 0 || u.record.load(std::memory_order_relaxed) != tr) continue;
        // Lost to the thread's handler: it claimed it a moment ago.
        if (!u.tid.compare_exchange_strong(tid, 0, std::memory_order_acq_rel)) return false;
        release_thread_record(tr);
        return true;
    }
    return false;
}

void keep_only_own_thread_record() {
    for (Unclaimed& u : g_unclaimed) u.tid.store(0, std::memory_order_relaxed);
    ThreadRecord* own = t_thread_record;
    ThreadRecord* tr = g_runtime_state.threads;
    g_runtime_state.threads = nullptr;
    while (tr) {
        ThreadRecord* next = tr->next;
        if (tr == own) {
            tr->next = g_runtime_state.threads;
            g_runtime_state.threads = tr;
            tr->tid = own_tid();
        } else {
            tr->has_policy = false;
            tr->next = g_runtime_state.free_threads;
            g_runtime_state.free_threads = tr;
        }
        tr = next;
    }
}

Nodemask current_mems() {
    Nodemask m;
    // The task's mems_allowed (do_get_mempolicy()).
    raw(SYS_get_mempolicy, 0, m.kernel_data(), Nodemask::kKernelMaxnode, 0,
        mpol::kGetMemsAllowed);
    return m;
}

namespace {
// The request being recorded, decoded in place by record_set_mempolicy()
// and copied in by flush_pending_binds() (lock held); its mems_at_request
// is request_mems() itself, kept up to date here rather than copied on
// every call.
constinit Recorded g_scratch;
bool g_request_mems_valid = false;

Recorded& scratch_with_mems() {
    if (!g_request_mems_valid) {
        g_scratch.mems_at_request = current_mems();
        g_request_mems_valid = true;
    }
    return g_scratch;
}
}  // namespace

const Nodemask& request_mems() {
    return scratch_with_mems().mems_at_request;
}

void refresh_request_mems(const Nodemask* known) {
    flush_pending_binds();  // the notes were made under the mems of before
    g_request_mems_valid = known != nullptr;
    if (known) g_scratch.mems_at_request = *known;
}

// Out of line: record_mbind() stays small (few registers to save) for
// the common case of a note that fits.
__attribute__((noinline)) void flush_pending_binds() {
    if (g_pending_count == 0) return;
    Recorded& rec = scratch_with_mems();  // valid: notes exist only under it
    RangeStore& store = *g_runtime_state.unflushed_store;
    for (unsigned i = 0; i < g_pending_count; ++i) {
        const PendingBind& p = g_pending[i];
        if (p.remember) rec.request = p.request;
        if (!apply_mbind(store, p.start, p.end - p.start, p.remember, rec))
            report_failure(Failure::RecordMemory, "no memory for a range record");
    }
    g_pending_count = 0;
}

RangeStore& ranges() {
    flush_pending_binds();
    return *g_runtime_state.unflushed_store;
}

__attribute__((hot)) bool record_mbind(std::uint64_t start, std::uint64_t len, int mode,
                                       const unsigned long* mask, unsigned long maxnode) {
    scratch_with_mems();  // the mems every note in the log was made under
    const std::uint64_t end = start + page_round_up(len);
    unsigned at = g_pending_count;
    if (at != 0 && g_pending[at - 1].start == start && g_pending[at - 1].end == end) {
        --at;  // the same span again: this note replaces the last one
    } else if (at == kPendingBinds) {
        flush_pending_binds();
        at = 0;
    }
    PendingBind& p = g_pending[at];
    p.start = start;
    p.end = end;
    // Read only now, after the call: the kernel found the mask readable.
    p.remember = request_from_call(mode, mask, maxnode, p.request);
    g_pending_count = at + 1;
    if (p.remember) note_tracked(start, end);
    return p.remember;
}

bool record_set_mempolicy(int mode, const unsigned long* mask, unsigned long maxnode) {
    Recorded& rec = scratch_with_mems();
    bool remember = request_from_call(mode, mask, maxnode, rec.request);
    if (ThreadRecord* tr = own_thread_record(remember)) {
        tr->has_policy = remember;
        tr->rec = rec;
        ++tr->version;
    } else if (remember) {
        report_failure(Failure::RecordMemory, "no memory for a thread record");
    }
    return remember;
}

pid_t own_tid() {
    return static_cast<pid_t>(raw(SYS_gettid));
}

}  // namespace numakeep::preload
