// SPDX-License-Identifier: MIT
// The records: every range the program mbind()-ed and every thread's task
// policy, with the mems in force when each request was made. One lock
// guards them all: an application call holds it across the real call and
// the record update, the agent holds it across a whole rebind, so the two
// never interleave and the application's latest request always wins.
//
// Thread records live in pages of our own (raw mmap), never in malloc's
// heap: the rebind signal handler reads them, and fork's child keeps them.
#pragma once

#include <pthread.h>
#include <sys/types.h>

#include <atomic>
#include <cstdint>

#include "numakeep/issue_plan.hpp"
#include "numakeep/policy.hpp"
#include "numakeep/range_store.hpp"
#include "record_mutex.hpp"

namespace numakeep::preload {

// One thread that holds (or held) a task policy of its own.
struct ThreadRecord {
    pid_t tid = 0;
    bool has_policy = false;    // false: MPOL_DEFAULT/LOCAL, nothing to keep
    std::uint64_t version = 0;  // bumped by every set_mempolicy of the thread
    Recorded rec;

    // Mailbox from the agent to this thread's signal handler (seqlock: odd
    // while the agent writes). The handler carries out `target` only when
    // target_version still equals `version`: a request the thread made
    // after the agent planned always wins.
    std::atomic<std::uint32_t> mailbox_seq{0};
    IssuePlan target;
    std::uint64_t target_version = 0;
    std::uint32_t round_requested = 0;
    std::atomic<std::uint32_t> round_done{0};  // the handler's answer
    // Bumped when the thread exits and its record goes back to the free
    // list: a round, which works on a copy of the list without the lock,
    // knows by it that the thread it signalled is gone.
    std::atomic<std::uint32_t> life{0};
    // Its kernel mask blocks the rebind signal (an inline rt_sigprocmask the
    // shims never saw): left out of rounds until it unblocks.
    bool unreachable = false;

    // Written by the handler: what the kernel held right after it ran.
    std::atomic<std::uint32_t> report_seq{0};
    int kernel_mode = 0;
    int kernel_errno = 0;  // of get_mempolicy; 0 when kernel_nodes is valid
    int apply_errno = 0;   // of the last re-issue
    std::uint64_t reported_version = 0;  // version + 1 when the report above was read
    Nodemask kernel_nodes;

    ThreadRecord* next = nullptr;
};

struct RuntimeState {
    RecordMutex lock;
    // Set before the lock is first taken and never cleared: until then
    // there is nothing to keep and fork's handlers touch nothing (each page
    // they write costs every fork a copy-on-write fault).
    std::atomic<bool> active{false};
    // Placement-new'd by init, never destroyed. Read and written through
    // ranges() only: recent mbind calls may still be in a log of notes.
    RangeStore* unflushed_store = nullptr;
    ThreadRecord* threads = nullptr;
    ThreadRecord* free_threads = nullptr;
    // What the agent last applied: the daemon's generation and mems.
    std::uint64_t generation_applied = 0;
    Nodemask mems_applied;
    bool mems_applied_known = false;
    // Cheap unlocked hints for the hot paths (munmap/mmap of untracked
    // memory): the store is empty, or no record lies in [lo, hi).
    std::atomic<bool> store_empty{true};
    std::atomic<std::uint64_t> tracked_lo{~std::uint64_t{0}};
    std::atomic<std::uint64_t> tracked_hi{0};
};

// Constant-initialized: usable by calls that arrive before any constructor.
extern constinit RuntimeState g_runtime_state;
inline RuntimeState& state() {
    return g_runtime_state;
}

// Builds the store; called once by the runtime's initializer.
void records_init();

// RAII holder of the one lock.
class RecordLock {
  public:
    RecordLock() {
        if (!state().active.load(std::memory_order_relaxed))
            state().active.store(true, std::memory_order_seq_cst);
        state().lock.lock();
    }
    ~RecordLock() { state().lock.unlock(); }
    RecordLock(const RecordLock&) = delete;
    RecordLock& operator=(const RecordLock&) = delete;
};

// Widens the unlocked hints after a range was recorded (lock held).
void note_tracked(std::uint64_t start, std::uint64_t end);
// Refreshes the hints after records were forgotten (lock held): the bounds
// of the first and last record, two tree descents whatever the store holds.
void refresh_tracked();
// True when [start, start+len) may overlap a record (no lock; a hint). The
// hot paths (munmap/mmap/mremap of memory never bound) pay these two or
// three relaxed loads and nothing else. Reading them racily is fine: a
// call racing with an mbind of the same pages in another thread has no
// defined order in the program either; either outcome is one the program
// could have had (the kernel takes mmap_lock for each in turn).
inline bool may_be_tracked(std::uint64_t start, std::uint64_t len) {
    const RuntimeState& st = state();
    if (st.store_empty.load(std::memory_order_relaxed)) return false;
    return start < st.tracked_hi.load(std::memory_order_relaxed) &&
           start + len > st.tracked_lo.load(std::memory_order_relaxed);
}

// The range records, with every mbind noted so far in them (lock held).
RangeStore& ranges();
// Applies the notes record_mbind() left to the store (lock held).
void flush_pending_binds();

// Notes a successful mbind(start, len, mode, mask, maxnode) (lock held):
// the request is decoded in place into the write-behind log (see
// record_keeper.cpp), which ranges() applies to the store. True when it is
// a request to keep (the agent is then needed).
bool record_mbind(std::uint64_t start, std::uint64_t len, int mode, const unsigned long* mask,
                  unsigned long maxnode);
// Records a successful set_mempolicy of the calling thread (lock held);
// true when it is a request to keep.
bool record_set_mempolicy(int mode, const unsigned long* mask, unsigned long maxnode);

// The calling thread's record, created on first need (lock held); nullptr
// when no memory could be had.
ThreadRecord* own_thread_record(bool create);
// Registers the calling thread with a copy of its creator's record (lock
// held): pthread_create's trampoline.
ThreadRecord* adopt_thread_record(const Recorded& rec);
// Counts threads with a task policy (lock held).
unsigned thread_policy_count();

// The calling thread's record pointer (initial-exec TLS): the rebind signal
// handler reads it.
extern constinit thread_local ThreadRecord* t_thread_record
    __attribute__((tls_model("initial-exec")));

// The record of thread `tid`, or nullptr (lock held).
ThreadRecord* thread_record_of(pid_t tid);
// A record the agent makes for thread `tid` of this process, which has none
// (lock held): `numakeep set --task` reaches threads that never set a
// policy. The thread claims it in the rebind signal's handler
// (claim_foreign_thread_record()); nullptr when no memory or slot is left.
ThreadRecord* foreign_thread_record(pid_t tid);
// The calling thread's record made by foreign_thread_record(), now its own
// (t_thread_record); nullptr when there is none. Async-signal-safe.
ThreadRecord* claim_foreign_thread_record();
// Gives back a record foreign_thread_record() made while its thread has
// not claimed it (lock held); false when it has (the record is its own).
bool forget_unclaimed_thread_record(ThreadRecord* tr);
// Set on a thread while it is inside its own set_mempolicy (from the
// system call to its record): a rebind signal that lands in between (the
// kernel delivers it on the call's return) must not re-issue the plan the
// agent made for the request this call replaces.
extern constinit thread_local bool t_in_own_policy_call __attribute__((tls_model("initial-exec")));
// Set by the handler that found the thread inside its own set_mempolicy:
// if that call fails, the shim carries out the round's plan itself.
extern constinit thread_local bool t_round_left_to_call __attribute__((tls_model("initial-exec")));

// Forgets every thread record but the calling thread's (fork's child).
void keep_only_own_thread_record();

// fork's child when the fork raced with the first use of the lock: the
// store may be half-updated, start a fresh one (the old one's memory is
// left alone).
void records_restart_in_child();

// Mems_allowed of the calling task now (get_mempolicy MPOL_F_MEMS_ALLOWED).
Nodemask current_mems();

// M0 of a new request (record lock held). The mems change only when the
// cpuset does, and the daemon tells the agent each time (Rebind): the value
// is read once, then kept per generation: refreshed by every Rebind and on
// every (re)connection. A call made between a cpuset write and its Rebind
// records the mems the runtime knew; the Rebind then maps it from those,
// as if the call had come just before the write. Saves a system call on
// every mbind.
const Nodemask& request_mems();
// Forgets the kept value (lock held): the next request reads the kernel's.
void refresh_request_mems(const Nodemask* known = nullptr);

// The calling thread's id (gettid without libc).
pid_t own_tid();

}  // namespace numakeep::preload
