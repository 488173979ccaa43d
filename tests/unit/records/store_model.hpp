// SPDX-License-Identifier: MIT
// The reference the record store is checked against: a page -> record map,
// one entry per page, with the kernel's mremap rules written page by page.
#pragma once

#include <doctest/doctest.h>

#include <cstdint>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "numakeep/range_store.hpp"
#include "recorded.hpp"

namespace numakeep::test {

inline constexpr std::uint64_t kPage = RangeStore::kPageSize;

// A few distinct records: requests that differ in mode, nodes, home node,
// and in the mems they were made under.
inline std::vector<Recorded> sample_records(std::size_t n) {
    std::vector<Recorded> out;
    for (std::size_t i = 0; i < n; ++i) {
        out.push_back(
            recorded(static_cast<Mode>(1 + i % 6),  // never Default
                     Nodemask{static_cast<unsigned>(i % 4), static_cast<unsigned>(i % 700)},
                     Nodemask::range(0, static_cast<unsigned>(1 + i / 6 % 4)),
                     i % 3 == 0 ? -1 : static_cast<int>(i % 4)));
    }
    return out;
}

class PageModel {
  public:
    std::map<std::uint64_t, int> pages;  // page number -> record index

    void set(std::uint64_t s, std::uint64_t e, int rec) {
        for (std::uint64_t p = s / kPage; p < e / kPage; ++p) pages[p] = rec;
    }
    void punch(std::uint64_t s, std::uint64_t e) {
        pages.erase(pages.lower_bound(s / kPage), pages.lower_bound(e / kPage));
    }
    int at(std::uint64_t addr) const {
        auto it = pages.find(addr / kPage);
        return it == pages.end() ? -1 : it->second;
    }
    // Page-aligned arguments the kernel accepted.
    void move(std::uint64_t os, std::uint64_t ol, std::uint64_t ns, std::uint64_t nl,
              bool keep_old) {
        if (ns == os) {
            if (nl < ol) punch(os + nl, os + ol);
            if (nl > ol) {
                int grown = at(os + ol - kPage);
                punch(os + ol, os + nl);
                if (grown >= 0) set(os + ol, os + nl, grown);
            }
            return;
        }
        std::uint64_t kept = ol < nl ? ol : nl;
        std::vector<int> moved;
        for (std::uint64_t a = os; a < os + kept; a += kPage) moved.push_back(at(a));
        int grown = nl > ol ? at(ol ? os + ol - kPage : os) : -1;
        punch(ns, ns + nl);
        for (std::size_t i = 0; i < moved.size(); ++i)
            if (moved[i] >= 0) pages[ns / kPage + i] = moved[i];
        if (grown >= 0) set(ns + ol, ns + nl, grown);
        if (!keep_old && ol) punch(os, os + ol);
    }
};

// Every page the store records matches the model and vice versa; returns
// a description of the first difference ("" when none).
inline std::string diff(const RangeStore& store, const PageModel& model,
                        const std::vector<Recorded>& recs) {
    std::string err;
    auto it = model.pages.begin();
    store.for_each([&](const RangeStore::Range& r) {
        for (std::uint64_t p = r.start / kPage; err.empty() && p < r.end / kPage; ++p) {
            if (it == model.pages.end() || it->first != p) {
                err = "store has page " + std::to_string(p) + " the model lacks";
                return;
            }
            if (!(recs[static_cast<std::size_t>(it->second)] == *r.rec))
                err = "page " + std::to_string(p) + " has the wrong record";
            ++it;
        }
    });
    if (err.empty() && it != model.pages.end())
        err = "model has page " + std::to_string(it->first) + " the store lacks";
    if (err.empty())
        if (const char* e = store.check()) err = e;
    return err;
}

// The pages of [s, e) through lookup().
inline std::string diff_span(const RangeStore& store, const PageModel& model,
                             const std::vector<Recorded>& recs, std::uint64_t s, std::uint64_t e) {
    for (std::uint64_t a = s; a < e; a += kPage) {
        const Recorded* got = store.lookup(a + (a / kPage) % kPage);  // any byte of the page
        int want = model.at(a);
        if (want < 0 ? got != nullptr
                     : got == nullptr || !(*got == recs[static_cast<std::size_t>(want)]))
            return "lookup differs at page " + std::to_string(a / kPage);
    }
    return "";
}

// Random operations over a window of `window` pages.
struct RandomOps {
    std::mt19937_64 rng;
    std::uint64_t base;
    std::uint64_t window;   // pages
    std::uint64_t max_len;  // pages

    std::uint64_t page() { return base + rng() % window * kPage; }
    std::uint64_t len() { return (1 + rng() % max_len) * kPage; }
};

}  // namespace numakeep::test
