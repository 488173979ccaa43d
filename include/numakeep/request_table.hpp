// SPDX-License-Identifier: MIT
// RequestTable: the distinct requests a process made, interned and
// reference counted, so a range record carries a 32-bit id instead of the
// whole Recorded (a request plus the mems it was made under: two 1024-bit
// nodemasks). A program that binds a million ranges to the same nodes keeps
// one copy of the request. A request whose last range goes stays interned
// (idle) until its slot is needed for a new one, so a program alternating
// between a few requests re-interns nothing.
//
// Allocation: only reserve() and an acquire(Recorded) of a request not yet
// in the table when no slot is free. Slots never move: a Recorded reference
// stays valid while its id is referenced.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <new>

#include "numakeep/policy.hpp"
#include "numakeep/slab_pool.hpp"

namespace numakeep {

class RequestTable {
  public:
    using Id = std::uint32_t;
    static constexpr Id kNoId = ~Id{0};

    explicit RequestTable(HeapHooks hooks) : hooks_(hooks) {}
    RequestTable(const RequestTable&) = delete;
    RequestTable& operator=(const RequestTable&) = delete;
    ~RequestTable() { clear(); }

    // The id of `rec` with one more reference; kNoId when `rec` is new and
    // no memory could be had (nothing changed then).
    Id acquire(const Recorded& rec) {
        // Programs repeat themselves, and often alternate between a few
        // requests (a buffer bound one way, then the other): the last few
        // ids are compared before anything is hashed.
        for (Id id : recent_)
            if (id != kNoId && same(slot(id).rec, rec)) {
                revive(id);
                return id;
            }
        std::uint32_t h = hash(rec);
        Id id = find(rec, h);
        if (id == kNoId) {
            if (!reserve(1)) return kNoId;
            id = take_slot();
            Slot& s = slot(id);
            new (&s.rec) Recorded(rec);  // chunks come raw from the heap hook
            s.refs = 0;
            s.hash = h;
            s.idle_next = kNoId;
            s.listed = false;
            index_insert(id, h);
        }
        revive(id);
        recent_[recent_next_++ % kRecent] = id;
        return id;
    }
    // One more reference to a live id.
    void acquire(Id id) {
        ++slot(id).refs;
        ++total_refs_;
    }
    // One reference fewer. A request whose last reference goes stays
    // interned, idle, until its slot is needed for a new one (oldest idle
    // first): a request dropped and made again soon after is found as is.
    void release(Id id) {
        Slot& s = slot(id);
        --total_refs_;
        if (--s.refs != 0) return;
        --live_;
        if (s.listed) return;  // still queued from an earlier idle spell
        s.listed = true;
        s.idle_next = kNoId;
        if (idle_tail_ != kNoId)
            slot(idle_tail_).idle_next = id;
        else
            idle_head_ = id;
        idle_tail_ = id;
    }
    const Recorded& get(Id id) const { return slot(id).rec; }
    std::uint32_t refs(Id id) const { return slot(id).refs; }

    // Ensures `extra` requests not yet seen can be acquired without
    // allocating. False when the heap said no.
    bool reserve(std::size_t extra) {
        while (capacity() < live_ + extra)
            if (!add_chunk()) return false;
        return true;
    }

    std::size_t live() const { return live_; }
    // References held, all ids together (each range record holds one).
    std::size_t total_refs() const { return total_refs_; }
    std::size_t capacity() const { return chunks_ * kSlotsPerChunk; }
    std::size_t heap_bytes() const {
        return chunks_ * sizeof(Chunk) + dir_cap_ * sizeof(Chunk*) + index_cap_ * sizeof(Id);
    }

    // Forgets every request, keeping the memory (and what reserve() paid for).
    void reset() {
        if (index_) std::memset(index_, 0, index_cap_ * sizeof(Id));
        live_ = total_refs_ = 0;
        fresh_ = 0;
        forget_queues();
    }
    // Forgets every request and gives the memory back.
    void clear() {
        for (std::size_t i = 0; i < chunks_; ++i) hooks_.put(dir_[i], sizeof(Chunk));
        hooks_.put(dir_, dir_cap_ * sizeof(Chunk*));
        hooks_.put(index_, index_cap_ * sizeof(Id));
        dir_ = nullptr;
        index_ = nullptr;
        chunks_ = dir_cap_ = index_cap_ = live_ = total_refs_ = 0;
        fresh_ = 0;
        forget_queues();
    }

  private:
    static constexpr std::size_t kSlotsPerChunk = 32;
    static constexpr std::size_t kRecent = 4;
    // A slot handed out once is interned from then on: live (refs > 0) or
    // idle (refs == 0, in the index, queued for reuse).
    struct Slot {
        Recorded rec;
        std::uint32_t refs;
        std::uint32_t hash;
        Id idle_next;  // the idle queue (lazy: a revived slot stays queued)
        bool listed;   // queued on the idle queue
    };
    struct Chunk {
        Slot slots[kSlotsPerChunk];
    };

    Slot& slot(Id id) { return dir_[id / kSlotsPerChunk]->slots[id % kSlotsPerChunk]; }
    const Slot& slot(Id id) const { return dir_[id / kSlotsPerChunk]->slots[id % kSlotsPerChunk]; }

    // a == b, sixteen bytes at a time without early exits (the members'
    // operator== would be two memcmp calls): most of the cost of a repeated
    // request.
    static bool same(const Recorded& a, const Recorded& b) {
        if (a.request.mode != b.request.mode || a.request.flags != b.request.flags ||
            a.request.home_node != b.request.home_node || a.origin != b.origin)
            return false;
        using V = std::uint64_t __attribute__((vector_size(16)));
        const auto* an = a.request.nodes.words().data();
        const auto* bn = b.request.nodes.words().data();
        const auto* am = a.mems_at_request.words().data();
        const auto* bm = b.mems_at_request.words().data();
        V diff = {0, 0};
#pragma GCC unroll 8
        for (std::size_t i = 0; i < kWords; i += 2) {
            V x, y, u, v;
            std::memcpy(&x, an + i, sizeof x);
            std::memcpy(&y, bn + i, sizeof y);
            std::memcpy(&u, am + i, sizeof u);
            std::memcpy(&v, bm + i, sizeof v);
            diff |= (x ^ y) | (u ^ v);
        }
        return (diff[0] | diff[1]) == 0;
    }

    void revive(Id id) {
        if (slot(id).refs++ == 0) ++live_;
        ++total_refs_;
    }

    // A slot for a new request: one never handed out, else the oldest idle
    // one (forgotten now). reserve(1) made sure one of the two exists:
    // capacity() > live_.
    Id take_slot() {
        if (fresh_ < capacity()) return fresh_++;
        for (;;) {
            Id id = idle_head_;
            Slot& s = slot(id);
            idle_head_ = s.idle_next;
            if (idle_head_ == kNoId) idle_tail_ = kNoId;
            s.listed = false;
            if (s.refs != 0) continue;  // revived since it was queued
            index_erase(id, s.hash);
            for (Id& r : recent_)
                if (r == id) r = kNoId;
            return id;
        }
    }

    void forget_queues() {
        idle_head_ = idle_tail_ = kNoId;
        for (Id& r : recent_) r = kNoId;
    }

    // Hashes the fields, not the bytes (Request has padding), in four
    // independent lanes: a chain of 34 dependent multiplies would cost more
    // than the rest of an insertion.
    static std::uint32_t hash(const Recorded& r) {
        constexpr std::uint64_t k = 0x9E3779B97F4A7C15ULL;
        std::uint64_t lane[4] = {
            static_cast<std::uint64_t>(r.request.mode) | std::uint64_t{r.request.flags} << 16 |
                static_cast<std::uint64_t>(static_cast<std::uint32_t>(r.request.home_node)) << 32,
            1 + std::uint64_t{r.origin}, 2, 3};
        const auto& u = r.request.nodes.words();
        const auto& m = r.mems_at_request.words();
        for (std::size_t i = 0; i < u.size(); i += 2) {
            lane[0] = (lane[0] ^ u[i]) * k;
            lane[1] = (lane[1] ^ u[i + 1]) * k;
            lane[2] = (lane[2] ^ m[i]) * k;
            lane[3] = (lane[3] ^ m[i + 1]) * k;
        }
        std::uint64_t h = lane[0] ^ (lane[1] >> 17) ^ (lane[2] << 7) ^ (lane[3] >> 31);
        h = (h ^ (h >> 29)) * k;
        return static_cast<std::uint32_t>(h ^ (h >> 32));
    }

    // Open addressing with linear probing over ids + 1 (0: empty). The
    // index has at least twice as many cells as there are slots.
    Id find(const Recorded& rec, std::uint32_t h) {
        if (!index_cap_) return kNoId;
        std::size_t mask = index_cap_ - 1;
        for (std::size_t i = h & mask;; i = (i + 1) & mask) {
            Id cell = index_[i];
            if (cell == 0) return kNoId;
            Slot& s = slot(cell - 1);
            if (s.hash == h && s.rec == rec) return cell - 1;
        }
    }
    void index_insert(Id id, std::uint32_t h) {
        std::size_t mask = index_cap_ - 1;
        std::size_t i = h & mask;
        while (index_[i] != 0) i = (i + 1) & mask;
        index_[i] = id + 1;
    }
    // Backward-shift deletion (no tombstones: probes stay short forever).
    void index_erase(Id id, std::uint32_t h) {
        std::size_t mask = index_cap_ - 1;
        std::size_t i = h & mask;
        while (index_[i] != id + 1) i = (i + 1) & mask;
        for (std::size_t j = (i + 1) & mask; index_[j] != 0; j = (j + 1) & mask) {
            std::size_t home = slot(index_[j] - 1).hash & mask;
            // Move j back to i unless its home lies cyclically in (i, j].
            bool stays = i <= j ? (i < home && home <= j) : (i < home || home <= j);
            if (!stays) {
                index_[i] = index_[j];
                i = j;
            }
        }
        index_[i] = 0;
    }

    // One more chunk of slots; grows the directory and the index first so
    // that a failure leaves everything as it was.
    bool add_chunk() {
        if (!hooks_.allocate) return false;
        if (chunks_ == dir_cap_) {
            std::size_t cap = dir_cap_ ? dir_cap_ * 2 : 8;
            auto** d = static_cast<Chunk**>(hooks_.get(cap * sizeof(Chunk*)));
            if (!d) return false;
            if (chunks_) std::memcpy(d, dir_, chunks_ * sizeof(Chunk*));
            hooks_.put(dir_, dir_cap_ * sizeof(Chunk*));
            dir_ = d;
            dir_cap_ = cap;
        }
        std::size_t want = 2 * (chunks_ + 1) * kSlotsPerChunk;
        if (index_cap_ < want && !rehash(want * 2)) return false;
        auto* c = static_cast<Chunk*>(hooks_.get(sizeof(Chunk)));
        if (!c) return false;
        dir_[chunks_++] = c;
        return true;
    }
    bool rehash(std::size_t cap) {
        auto* idx = static_cast<Id*>(hooks_.get(cap * sizeof(Id)));
        if (!idx) return false;
        std::memset(idx, 0, cap * sizeof(Id));
        Id* old = index_;
        std::size_t old_cap = index_cap_;
        index_ = idx;
        index_cap_ = cap;
        for (std::size_t i = 0; i < old_cap; ++i)
            if (old[i]) index_insert(old[i] - 1, slot(old[i] - 1).hash);
        hooks_.put(old, old_cap * sizeof(Id));
        return true;
    }

    HeapHooks hooks_;
    Chunk** dir_ = nullptr;
    std::size_t dir_cap_ = 0;
    std::size_t chunks_ = 0;
    Id* index_ = nullptr;
    std::size_t index_cap_ = 0;
    std::size_t live_ = 0;
    std::size_t total_refs_ = 0;
    Id fresh_ = 0;  // slots below this were handed out once
    Id idle_head_ = kNoId, idle_tail_ = kNoId;
    Id recent_[kRecent] = {kNoId, kNoId, kNoId, kNoId};  // the last ids interned
    unsigned recent_next_ = 0;
};

}  // namespace numakeep
