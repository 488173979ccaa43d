// SPDX-License-Identifier: MIT
// Task policies are per thread and only a thread can set its own
// (set_mempolicy(2) acts on current). To re-issue them the agent writes
// each thread's new request into its record's mailbox and signals it, the
// way glibc's setxid broadcast makes every thread call setuid: the handler
// issues the thread's own set_mempolicy, reads back what the kernel holds,
// and acknowledges. The handler is async-signal-safe: raw system calls, no
// allocation, no lock.
#pragma once

#include <vector>

#include "numakeep/issue_plan.hpp"
#include "numakeep/policy.hpp"
#include "record_keeper.hpp"

namespace numakeep::preload {

struct ThreadRoundResult {
    unsigned signalled = 0;
    unsigned answered = 0;
    unsigned rebound = 0;  // answered and re-issued without error
    unsigned gone = 0;     // exited without our knowing: records dropped
    unsigned unreachable = 0;  // block the rebind signal: not signalled, not waited for
    unsigned kept = 0;         // the kernel keeps their plan (kernel assistance): not signalled
    unsigned silent = 0;       // signalled, reachable, and not answered in time
    unsigned errors = 0;
    int first_errno = 0;
};

// One thread of a round, as the round found it (record lock held): the
// round's sending and waiting then run without the lock, on this copy.
struct RoundMember {
    ThreadRecord* record = nullptr;  // never freed: records are recycled, not unmapped
    pid_t tid = 0;
    std::uint32_t life = 0;       // the record's life when taken: another means the thread is gone
    bool check_blocked = false;   // was unreachable: asked again before it is signalled
    bool signalled = false;
    bool unreachable = false;
    bool gone = false;
    int send_errno = 0;
};

// A round under way.
struct ThreadRound {
    std::uint32_t round = 0;  // 0: nobody to signal
    bool apply = false;
    ThreadRoundResult result;
    std::vector<RoundMember> members;
};

// Prepares one round over every thread with a task policy (record lock
// held): with `apply`, each thread re-issues the request planned for it
// (written with plan_thread(); a thread without a plan only reports); a
// thread whose plan the kernel already keeps is left out. Signals nobody.
ThreadRound prepare_thread_round(bool apply);

// Signals the round's threads (record lock NOT held: the program's calls
// never wait on a round). Returns at once: the caller can do other work
// while the threads answer (the handlers take no lock and touch only their
// own task policy).
void send_thread_round(ThreadRound& round);

// Collects a sent round's answers (record lock NOT held on entry; taken
// at the end, for an instant, to note what the round found), waiting up to
// timeout_ms from now. A thread whose kernel mask blocks the signal is
// marked unreachable and not waited for; its mailbox still carries the
// latest plan.
ThreadRoundResult finish_thread_round(ThreadRound& round, int timeout_ms);

// All three (record lock NOT held).
ThreadRoundResult run_thread_round(bool apply, int timeout_ms);

// A thread with a task policy is exiting (record lock held): a round that
// waits on it stops waiting.
void note_thread_gone(ThreadRecord& tr);

// Writes a thread's mailbox (record lock held): the plan it is to carry
// out at its next round (`needed` false: none).
void plan_thread(ThreadRecord& tr, const IssuePlan& target);

// Issues a planned task policy for the calling thread with the raw
// set_mempolicy system call (it acts on current: only a thread can set its
// own). Async-signal-safe, errno untouched; returns 0 or -errno. A task
// policy has no home node (set_mempolicy_home_node() takes a range).
long issue_task_policy(const IssuePlan& plan);

// What a thread's handler last reported (record lock held): read with
// relaxed atomic loads, since a handler that answers after its round timed
// out may be writing them right now. `answered`: it answered some round.
struct ThreadReport {
    bool answered = false;
    int kernel_mode = 0;
    int kernel_errno = 0;
    Nodemask kernel_nodes;
};
ThreadReport read_thread_report(const ThreadRecord& tr);

// Reads what the kernel holds for the calling thread into its report (lock
// held), after it issued its policy itself: a round then knows, without a
// signal, that the kernel keeps an assisted thread's policy.
void report_own_policy();

// The signal rounds use, or 0 before the first round installed it.
int rebind_signal();

}  // namespace numakeep::preload
