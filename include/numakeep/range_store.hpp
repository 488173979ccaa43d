// SPDX-License-Identifier: MIT
// RangeStore: what the program asked for, range by range, page-granular.
//
// A range record is [start, end) -> an interned Recorded (the request and
// the mems it was made under), kept the way the kernel keeps vma policies:
// set() overwrites and splits whatever it overlaps (mbind splitting vmas in
// mbind_range()), punch() forgets (munmap), move() follows mremap. Adjacent
// ranges with the same record are always merged (vma_merge()), so the
// store's contents are a function of the page -> record map alone.
//
// Memory (see slab_pool.hpp for why it matters in the preload):
//  - What allocates: reserve(); set(), punch() and move() when no reserve()
//    covers them (they first reserve their own worst case, and fail with
//    false, changing nothing, when the heap says no); set() of a request
//    not yet in the store when the request table is full. lookup(),
//    for_each(), plan_rebind(), size() never allocate; nothing throws.
//  - reserve(n) makes the next n record insertions allocation-free, and
//    makes room for n new requests. n counts insertions to come, not a
//    total (unlike std::vector::reserve): reserve(kSetCost) before a set(),
//    reserve(move_cost(...)) before a move(). Insertions per call: set() 2,
//    punch() 1, move() 3 + the number of records in the part that moves.
//    reserve(n) keeps up to n * (height + 3) nodes free (a few KiB for the
//    small n of one call); a huge n is bounded by the nodes a tree of
//    size() + n ranges can have, i.e. it grows the store as much as n
//    ranges would.
//  - Heap per range: B+tree leaves at least half full, 20 bytes per entry:
//    core.records.bytes_per_range of tools/bench core; a request costs a
//    few hundred bytes once, however many ranges share it.
//
// Cost, measured by tools/bench core (thread CPU time, 1,000,000 ranges):
// a set() of a new range next to the last one is core.records.insert_ns,
// against a bare mbind(2) core.insert_vs_mbind; anywhere at random it is
// core.records.insert_random_ns, one or two cache misses of a cold tree.
// Not thread-safe: the caller serialises (the preload's record lock).
//
// Addresses are page aligned (kPageSize): a start that is not is refused
// (false) as the kernel refuses it (EINVAL); lengths and ends are rounded
// up to a page as the kernel rounds them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "numakeep/issue_plan.hpp"
#include "numakeep/policy.hpp"
#include "numakeep/range_btree.hpp"
#include "numakeep/request_table.hpp"
#include "numakeep/slab_pool.hpp"

namespace numakeep {

class RangeStore {
    using Tree = detail::RangeBTree;
    using Id = RequestTable::Id;

  public:
    static constexpr std::uint64_t kPageSize = 4096;
    // Insertions (see reserve()) a set() and a punch() may need at most.
    static constexpr std::size_t kSetCost = 2;
    static constexpr std::size_t kPunchCost = 1;

    struct Range {
        std::uint64_t start;  // page aligned
        std::uint64_t end;    // exclusive, page aligned
        const Recorded* rec;  // valid until the next mutation
    };

    explicit RangeStore(HeapHooks hooks = HeapHooks::malloc_free())
        : tree_(hooks), requests_(hooks) {}
    RangeStore(const RangeStore&) = delete;
    RangeStore& operator=(const RangeStore&) = delete;
    ~RangeStore() {
        tree_.clear();
        tree_.release_memory();
    }

    // Records `rec` over [start, end): overwrites and splits whatever it
    // overlaps, as the kernel splits vmas. False, with nothing changed, when
    // memory could not be had or start is not page aligned.
    bool set(std::uint64_t start, std::uint64_t end, const Recorded& rec) {
        if (!page_span(start, end)) return false;
        if (start == end) return true;
        if (!ensure(kSetCost)) return false;
        Id id = requests_.acquire(rec);
        if (id == RequestTable::kNoId) return false;
        // The common cases in one descent: a fresh range (nothing to
        // clear), or a new policy over exactly one recorded range.
        Tree::Path p;
        tree_.seek(start, p);
        Tree::At x = Tree::before(p);
        if (!x || x.end() <= start) {
            Tree::At y = Tree::at(p);
            if (!y || y.start() >= end) {
                place_at(p, x, y, start, end, id);
                return true;
            }
        } else if (x.start() == start && x.end() == end) {
            Tree::At l = Tree::prev(x), r = Tree::next(x);
            if (!(l && l.end() == start && l.id() == id) &&
                !(r && r.start() == end && r.id() == id)) {
                requests_.release(x.id());
                x.id() = id;
                return true;
            }
        }
        clear_span(start, end);
        place(start, end, id);
        return true;
    }

    // Forgets [start, end) (munmap, a record found stale). False, with
    // nothing changed, when start is not page aligned or the split of a
    // range around the hole needed memory that could not be had.
    bool punch(std::uint64_t start, std::uint64_t end) {
        if (!page_span(start, end)) return false;
        if (start == end) return true;
        if (!ensure(kPunchCost)) return false;
        // The common case in one descent: exactly one range, starting at
        // start and ending within the hole.
        Tree::Path p;
        tree_.seek(start, p);
        if (p.pos > 0 && p.leaf->start[p.pos - 1] == start && p.leaf->end[p.pos - 1] <= end) {
            Tree::At r = Tree::next(Tree::At{p.leaf, p.pos - 1});
            if (!r || r.start() >= end) {
                Id id = p.leaf->id[p.pos - 1];
                --p.pos;
                tree_.erase(p);
                requests_.release(id);
                return true;
            }
        }
        clear_span(start, end);
        return true;
    }

    // mremap(old_start, old_len, new_len, flags, new_start) succeeded; the
    // records follow what the kernel did with the vma and its policy
    // (mm/mremap.c):
    //  - in place (new_start == old_start): a shrink unmaps the tail; a
    //    growth (vma_expand) extends the vma, so the new pages carry the
    //    policy of the old range's last page;
    //  - a move (MREMAP_MAYMOVE, MREMAP_FIXED): whatever was mapped at the
    //    destination is unmapped first (FIXED), the pages move with their
    //    policy (copy_vma() duplicates it), pages past old_len carry the
    //    policy of the old range's last page, and the old range is
    //    unmapped, unless `keep_old` (MREMAP_DONTUNMAP: the old vma stays,
    //    empty but with its policy);
    //  - old_len == 0 (a second mapping of shared pages): the new range
    //    carries the policy of the page at old_start; the old one stays.
    // False, with nothing changed, when memory could not be had or for
    // arguments the kernel refuses with EINVAL (unaligned starts, new_len
    // 0, overlapping ranges, keep_old in place or with a length change).
    bool move(std::uint64_t old_start, std::uint64_t old_len, std::uint64_t new_start,
              std::uint64_t new_len, bool keep_old = false) {
        std::uint64_t old_end = old_start, new_end = new_start;
        if (!page_len(old_start, old_len, old_end) || !page_len(new_start, new_len, new_end))
            return false;
        old_len = old_end - old_start;
        new_len = new_end - new_start;
        if (new_len == 0) return false;
        if (new_start == old_start) {
            if (keep_old || old_len == 0) return false;
            if (new_len <= old_len) return punch(new_end, old_end);
            return grow_in_place(old_end, new_end);
        }
        if (old_start < new_end && new_start < old_end) return false;
        if (keep_old && old_len != new_len) return false;
        std::uint64_t kept = old_len < new_len ? old_len : new_len;
        if (!ensure(records_in(old_start, old_start + kept) + 3)) return false;
        Id grown = RequestTable::kNoId;
        if (new_len > old_len) {
            grown = id_at(old_len ? old_end - kPageSize : old_start);
            if (grown != RequestTable::kNoId) requests_.acquire(grown);
        }
        clear_span(new_start, new_end);
        copy_span(old_start, old_start + kept, new_start);
        if (grown != RequestTable::kNoId) place(new_start + old_len, new_end, grown);
        if (!keep_old && old_len) clear_span(old_start, old_end);
        return true;
    }

    // Insertions (see reserve()) move() may need for these arguments.
    std::size_t move_cost(std::uint64_t old_start, std::uint64_t old_len,
                          std::uint64_t new_len) const {
        std::uint64_t kept = old_len < new_len ? old_len : new_len;
        if (old_start > ~std::uint64_t{0} - kept) return kSetCost + 1;
        return records_in(old_start, old_start + kept) + 3;
    }

    // The record covering addr, or nullptr.
    const Recorded* lookup(std::uint64_t addr) const {
        Range r;
        return lookup(addr, r) ? r.rec : nullptr;
    }
    // The range covering addr, with its bounds.
    bool lookup(std::uint64_t addr, Range& out) const {
        Tree::Path p;
        tree_.descend(addr, p);
        Tree::At x = Tree::before(p);
        if (!x || x.end() <= addr) return false;
        out = Range{x.start(), x.end(), &requests_.get(x.id())};
        return true;
    }

    // Calls f(Range) for every range in address order.
    template <typename F>
    void for_each(F&& f) const {
        for (Tree::At a = tree_.first(); a; a = Tree::next(a))
            f(Range{a.start(), a.end(), &requests_.get(a.id())});
    }

    // Calls f(Range) for every range that intersects [start, end), in
    // address order, unclipped.
    template <typename F>
    void for_each_in(std::uint64_t start, std::uint64_t end, F&& f) const {
        Tree::Path p;
        tree_.descend(start, p);
        Tree::At a = Tree::before(p);
        if (!a || a.end() <= start) a = Tree::at(p);
        for (; a && a.start() < end; a = Tree::next(a))
            f(Range{a.start(), a.end(), &requests_.get(a.id())});
    }

    // The first range that intersects [start, end), unclipped; false when
    // there is none. For loops that change the store as they go.
    bool first_in(std::uint64_t start, std::uint64_t end, Range& out) const {
        Tree::Path p;
        tree_.descend(start, p);
        Tree::At a = Tree::before(p);
        if (!a || a.end() <= start) a = Tree::at(p);
        if (!a || a.start() >= end) return false;
        out = Range{a.start(), a.end(), &requests_.get(a.id())};
        return true;
    }

    // The start of the first range and the end of the last one; false when
    // the store is empty. Two descents, whatever the size.
    bool bounds(std::uint64_t& lo, std::uint64_t& hi) const {
        Tree::At a = tree_.first();
        if (!a) return false;
        Tree::Path p;
        tree_.descend(~std::uint64_t{0}, p);
        Tree::At z = Tree::before(p);
        lo = a.start();
        hi = z.end();
        return true;
    }

    std::size_t size() const { return tree_.size(); }
    bool empty() const { return tree_.size() == 0; }
    // Distinct requests recorded.
    std::size_t requests() const { return requests_.live(); }

    // Ensures the next `insertions` record insertions (see the top of the
    // file for what each call costs) and `insertions` new requests
    // allocate nothing. False when the heap said no.
    bool reserve(std::size_t insertions) {
        if (!tree_.reserve_nodes(tree_.nodes_needed(insertions))) return false;
        if (!requests_.reserve(insertions)) return false;
        if (insertions > budget_) budget_ = insertions;
        return true;
    }

    // A rebind, planned: calls emit(start, end, const IssuePlan& plan)
    // once per mbind to issue, in address order, adjacent ranges whose
    // records give the same plan_issue() under m1 coalesced into one call.
    // Ranges with nothing to issue (MPOL_DEFAULT, MPOL_LOCAL, flags of their
    // own, `kernel` semantics) are skipped. Allocates nothing.
    template <typename F>
    void plan_rebind(const Nodemask& m1, IssueSettings set, F&& emit) const {
        plan_rebind_with([&](const Recorded& rec) { return plan_issue(rec, m1, set); },
                         [&](std::uint64_t start, std::uint64_t end, const IssuePlan& plan) {
                             if (plan.needed) emit(start, end, plan);
                         });
    }
    // The same with any rule: rule(const Recorded&) -> what to issue (a
    // Request, an IssuePlan: any value with ==), called once per run of
    // ranges sharing a record; emit gets it as a const reference.
    template <typename Rule, typename F>
    void plan_rebind_with(Rule&& rule, F&& emit) const {
        using Plan = std::remove_cvref_t<std::invoke_result_t<Rule&, const Recorded&>>;
        Id last = RequestTable::kNoId;
        Plan out{}, run{};
        std::uint64_t run_start = 0, run_end = 0;
        bool open = false;
        for (Tree::At a = tree_.first(); a; a = Tree::next(a)) {
            const Recorded& rec = requests_.get(a.id());
            if (rec.request.mode == Mode::Default || rec.request.mode == Mode::Local) continue;
            if (a.id() != last) {
                out = rule(rec);
                last = a.id();
            }
            if (open && run_end == a.start() && run == out) {
                run_end = a.end();
                continue;
            }
            if (open) emit(run_start, run_end, static_cast<const Plan&>(run));
            run_start = a.start();
            run_end = a.end();
            run = out;
            open = true;
        }
        if (open) emit(run_start, run_end, static_cast<const Plan&>(run));
    }

    // Forgets everything; keeps the memory, so what reserve() paid for
    // still holds.
    void clear() {
        tree_.clear();
        requests_.reset();
    }

    // Heap bytes the store holds (nodes, free ones included, and requests).
    std::size_t heap_bytes() const { return tree_.heap_bytes() + requests_.heap_bytes(); }
    // The part of it in use (free nodes left out).
    std::size_t heap_bytes_in_use() const {
        return tree_.nodes_used() * Tree::kNodeBytes + requests_.heap_bytes();
    }

    // Checks the invariants (tree shape, ranges disjoint and merged,
    // reference counts); for tests. The first violation, or nullptr.
    const char* check() const {
        if (const char* e = tree_.check()) return e;
        std::uint64_t prev_end = 0;
        Id prev_id = RequestTable::kNoId;
        for (Tree::At a = tree_.first(); a; a = Tree::next(a)) {
            if (a.start() >= a.end()) return "empty range";
            if (a.start() % kPageSize || a.end() % kPageSize) return "unaligned range";
            if (a.start() < prev_end) return "overlapping ranges";
            if (a.start() == prev_end && a.id() == prev_id) return "unmerged neighbours";
            if (requests_.refs(a.id()) == 0) return "range of a freed request";
            prev_end = a.end();
            prev_id = a.id();
        }
        if (requests_.total_refs() != tree_.size()) return "reference count mismatch";
        return nullptr;
    }

  private:
    // Validates a [start, end) span and rounds end up to a page.
    static bool page_span(std::uint64_t start, std::uint64_t& end) {
        if (start % kPageSize || end < start) return false;
        if (end > ~std::uint64_t{0} - (kPageSize - 1)) return false;
        end = (end + kPageSize - 1) & ~(kPageSize - 1);
        return true;
    }
    static bool page_len(std::uint64_t start, std::uint64_t len, std::uint64_t& end) {
        end = start + len;
        return end >= start && page_span(start, end);
    }

    // Makes sure `insertions` tree insertions will find their nodes.
    bool ensure(std::size_t insertions) {
        if (insertions <= budget_) {
            budget_ -= insertions;
            return true;
        }
        budget_ = 0;
        return tree_.reserve_nodes(tree_.nodes_needed(insertions));
    }

    Id id_at(std::uint64_t addr) const {
        Tree::Path p;
        tree_.descend(addr, p);
        Tree::At x = Tree::before(p);
        return x && x.end() > addr ? x.id() : RequestTable::kNoId;
    }

    // Ranges that intersect [start, end).
    std::size_t records_in(std::uint64_t start, std::uint64_t end) const {
        Tree::Path p;
        tree_.descend(start, p);
        std::size_t n = 0;
        Tree::At x = Tree::before(p);
        if (x && x.end() > start) ++n;
        for (Tree::At a = Tree::at(p); a && a.start() < end; a = Tree::next(a)) ++n;
        return n;
    }

    // Removes every record of [start, end), trimming or splitting ranges
    // that stick out. At most one insertion (a split).
    void clear_span(std::uint64_t start, std::uint64_t end) {
        Tree::Path p;
        tree_.seek(start, p);
        Tree::At x = Tree::before(p);
        if (x && x.start() < start && x.end() > start) {
            if (x.end() > end) {  // [start, end) is inside x: split it
                std::uint64_t tail_end = x.end();
                Id id = x.id();
                x.end() = start;
                requests_.acquire(id);
                tree_.seek(end, p);
                tree_.insert(p, end, tail_end, id);
                return;
            }
            x.end() = start;
        }
        for (;;) {
            tree_.seek(start, p, false);
            Tree::At y = Tree::at(p);
            if (!y || y.start() >= end) return;
            if (y.leaf != p.leaf) tree_.find_exact(y.start(), p);
            if (y.end() > end) {  // the last one sticks out: keep its tail
                tree_.restart(p, end);
                return;
            }
            Id id = y.id();
            tree_.erase(p);
            requests_.release(id);
        }
    }

    // Records id over the empty [start, end), merging with neighbours of
    // the same id; takes over one reference to id. At most one insertion.
    void place(std::uint64_t start, std::uint64_t end, Id id) {
        Tree::Path p;
        tree_.seek(start, p);
        place_at(p, Tree::before(p), Tree::at(p), start, end, id);
    }
    // The same from a descent to start; l and r: the entries around it.
    void place_at(Tree::Path& p, Tree::At l, Tree::At r, std::uint64_t start, std::uint64_t end,
                  Id id) {
        bool join_l = l && l.end() == start && l.id() == id;
        bool join_r = r && r.start() == end && r.id() == id;
        if (!join_l && !join_r) {
            tree_.insert(p, start, end, id);
            return;
        }
        requests_.release(id);  // a neighbour already holds one
        if (join_l && !join_r) {
            l.end() = end;
            return;
        }
        if (r.leaf != p.leaf) tree_.find_exact(end, p);
        if (!join_l) {
            tree_.restart(p, start);
            return;
        }
        l.end() = r.end();  // before the erase moves entries around
        tree_.erase(p);
        requests_.release(id);
    }

    // Copies the records of [from, from_end) to `to` (disjoint, cleared).
    void copy_span(std::uint64_t from, std::uint64_t from_end, std::uint64_t to) {
        for (std::uint64_t at = from; at < from_end;) {
            Tree::Path p;
            tree_.descend(at, p);
            Tree::At x = Tree::before(p);
            if (!x || x.end() <= at) {
                x = Tree::at(p);
                if (!x || x.start() >= from_end) return;
            }
            std::uint64_t s = x.start() > at ? x.start() : at;
            std::uint64_t e = x.end() < from_end ? x.end() : from_end;
            Id id = x.id();
            requests_.acquire(id);
            place(to + (s - from), to + (e - from), id);
            at = e;
        }
    }

    bool grow_in_place(std::uint64_t old_end, std::uint64_t new_end) {
        if (!ensure(2)) return false;
        Id id = id_at(old_end - kPageSize);
        clear_span(old_end, new_end);  // stale records of what was unmapped there
        if (id != RequestTable::kNoId) {
            requests_.acquire(id);
            place(old_end, new_end, id);
        }
        return true;
    }

    Tree tree_;
    RequestTable requests_;
    std::size_t budget_ = 0;  // insertions a reserve() already paid for
};

}  // namespace numakeep
