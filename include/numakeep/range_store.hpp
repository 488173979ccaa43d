// SPDX-License-Identifier: MIT
// RangeStore: what the program asked for, range by range, page-granular.
//
// DRAFT: a naive std::map implementation that fixes the API. It is replaced
// by the allocation-bounded store (reserve(), <= 64 bytes per range); the
// public members below are the contract the preload codes against.
#pragma once

#include <cstddef>
#include <cstdint>
#include <algorithm>
#include <iterator>
#include <map>
#include <vector>

#include "numakeep/policy.hpp"
#include "numakeep/rebind.hpp"

namespace numakeep {

class RangeStore {
public:
    struct Range {
        std::uint64_t start;  // page aligned
        std::uint64_t end;    // exclusive, page aligned
        const Recorded* rec;  // valid until the next mutation
    };

    // Records `rec` over [start, end): overwrites and splits whatever it
    // overlaps, as the kernel splits vmas. Returns false only when memory
    // could not be had (nothing changed then).
    bool set(std::uint64_t start, std::uint64_t end, const Recorded& rec) {
        punch(start, end);
        auto id = intern(rec);
        map_[start] = Entry{end, id};
        return true;
    }

    // Forgets [start, end) (munmap, a record found stale).
    void punch(std::uint64_t start, std::uint64_t end) {
        if (start >= end) return;
        auto it = map_.lower_bound(start);
        if (it != map_.begin()) {
            auto prev = std::prev(it);
            if (prev->second.end > start) {
                Entry tail = prev->second;
                prev->second.end = start;
                if (tail.end > end) map_[end] = Entry{tail.end, tail.id};
            }
        }
        it = map_.lower_bound(start);
        while (it != map_.end() && it->first < end) {
            if (it->second.end > end) {
                Entry tail = it->second;
                map_.erase(it);
                map_[end] = tail;
                break;
            }
            it = map_.erase(it);
        }
    }

    // mremap: the records of [old_start, old_start+old_len) now live at
    // new_start; a shrink forgets the tail; growth is unrecorded (the kernel
    // gives the new part the vma's policy: the caller records it if it
    // wants). The old range is forgotten.
    void move(std::uint64_t old_start, std::uint64_t old_len, std::uint64_t new_start,
              std::uint64_t new_len) {
        std::vector<std::pair<std::uint64_t, Entry>> moved;
        std::uint64_t keep = old_len < new_len ? old_len : new_len;
        for (auto it = map_.lower_bound(0); it != map_.end(); ++it) {
            std::uint64_t s = std::max(it->first, old_start);
            std::uint64_t e = std::min(it->second.end, old_start + keep);
            if (s < e) moved.push_back({s - old_start + new_start, Entry{e - old_start + new_start, it->second.id}});
        }
        punch(old_start, old_start + old_len);
        punch(new_start, new_start + new_len);
        for (auto& [s, e] : moved) map_[s] = e;
    }

    // The record covering addr, or nullptr.
    const Recorded* lookup(std::uint64_t addr) const {
        auto it = map_.upper_bound(addr);
        if (it == map_.begin()) return nullptr;
        --it;
        return addr < it->second.end ? &requests_[it->second.id] : nullptr;
    }

    // Calls f(Range) for every range in address order.
    template <typename F>
    void for_each(F&& f) const {
        for (auto& [s, e] : map_) f(Range{s, e.end, &requests_[e.id]});
    }

    std::size_t size() const { return map_.size(); }
    bool empty() const { return map_.empty(); }

    // Ensures the next `ranges` insertions and splits allocate nothing.
    bool reserve(std::size_t ranges) {
        (void)ranges;
        return true;
    }

    // A rebind, planned: calls emit(start, end, const Request& to_issue)
    // once per mbind to issue, adjacent ranges with the same request and
    // result coalesced into one call.
    template <typename F>
    void plan_rebind(const Nodemask& m1, Semantics s, F&& emit) const {
        for_each([&](const Range& r) {
            Rebound rb = rebind_nodes(r.rec->request, r.rec->mems_at_request, m1, s);
            Request out = r.rec->request;
            out.nodes = rb.nodes;
            out.home_node = rb.home_node;
            emit(r.start, r.end, out);
        });
    }

private:
    struct Entry {
        std::uint64_t end;
        std::uint32_t id;
    };
    std::uint32_t intern(const Recorded& rec) {
        for (std::uint32_t i = 0; i < requests_.size(); ++i)
            if (requests_[i] == rec) return i;
        requests_.push_back(rec);
        return static_cast<std::uint32_t>(requests_.size() - 1);
    }
    std::map<std::uint64_t, Entry> map_;
    std::vector<Recorded> requests_;
};

}  // namespace numakeep
