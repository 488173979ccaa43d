// SPDX-License-Identifier: MIT
// The record store against the page-by-page reference model: random set,
// punch, move (every mremap form) and lookup, compared after each step.
#include <doctest/doctest.h>

#include "store_model.hpp"

using namespace numakeep;
using namespace numakeep::test;

namespace {

// One random operation on both; checks the store's answer and returns the
// span it touched (for the per-step check).
struct Step {
    std::uint64_t lo = 0, hi = 0;    // a span the operation touched
    std::uint64_t lo2 = 0, hi2 = 0;  // and a second one (mremap's destination)
};

Step random_step(RangeStore& store, PageModel& model, RandomOps& ops,
                 const std::vector<Recorded>& recs) {
    Step st;
    unsigned kind = static_cast<unsigned>(ops.rng() % 100);
    if (kind < 45) {  // set
        std::uint64_t s = ops.page(), e = s + ops.len();
        int rec = static_cast<int>(ops.rng() % recs.size());
        REQUIRE(store.set(s, e, recs[static_cast<std::size_t>(rec)]));
        model.set(s, e, rec);
        st = {s, e};
    } else if (kind < 70) {  // punch
        std::uint64_t s = ops.page(), e = s + ops.len() * (1 + ops.rng() % 4);
        REQUIRE(store.punch(s, e));
        model.punch(s, e);
        st = {s, e};
    } else if (kind < 95) {  // mremap, one of its forms
        std::uint64_t os = ops.page(), ol = ops.len();
        unsigned form = static_cast<unsigned>(ops.rng() % 6);
        std::uint64_t ns = os, nl = ol;
        bool keep_old = false;
        switch (form) {
            case 0:
                nl = ol > kPage ? ol - kPage * (1 + ops.rng() % (ol / kPage - 1)) : ol;
                break;
            case 1:
                nl = ol + ops.len();
                break;  // grow in place
            case 2:
                ns = ops.page();
                nl = ops.len();
                break;  // move (maybe FIXED)
            case 3:
                ns = ops.page();
                keep_old = true;
                break;  // MREMAP_DONTUNMAP
            case 4:
                ns = ops.page();
                ol = 0;
                nl = ops.len();
                break;  // old_len 0 (shared)
            default:
                ns = ops.page();
                nl = ol + ops.len();
                break;  // move and grow
        }
        bool invalid = ns == os ? ol == 0 || keep_old : os < ns + nl && ns < os + ol;
        bool ok = store.move(os, ol, ns, nl, keep_old);
        if (invalid) {
            REQUIRE_FALSE(ok);  // the kernel says EINVAL: nothing recorded changes
        } else {
            REQUIRE(ok);
            model.move(os, ol, ns, nl, keep_old);
        }
        st = {os, os + ol, ns, ns + nl};
    } else {  // lookups only
        std::uint64_t s = ops.page();
        st = {s, s + ops.len()};
    }
    return st;
}

// The pages a step touched, and one on either side, through lookup().
std::string touched(const RangeStore& store, const PageModel& model,
                    const std::vector<Recorded>& recs, const Step& st) {
    std::string d = diff_span(store, model, recs, st.lo - kPage, st.hi + kPage);
    if (d.empty() && st.hi2 > st.lo2)
        d = diff_span(store, model, recs, st.lo2 - kPage, st.hi2 + kPage);
    return d;
}

void run(std::uint64_t seed, std::uint64_t window, std::uint64_t max_len, std::size_t steps,
         std::size_t nrecs, std::size_t full_every) {
    auto recs = sample_records(nrecs);
    RangeStore store;
    PageModel model;
    RandomOps ops{std::mt19937_64(seed), 0x7f0000000000ULL, window, max_len};
    std::size_t differences = 0;
    for (std::size_t i = 0; i < steps; ++i) {
        Step st = random_step(store, model, ops, recs);
        std::string d = touched(store, model, recs, st);
        if (d.empty() && (i % full_every == 0 || i + 1 == steps)) d = diff(store, model, recs);
        if (!d.empty()) {
            ++differences;
            FAIL_CHECK("step " << i << ": " << d);
            break;
        }
    }
    CHECK(differences == 0);
    CHECK(store.size() > 0);
}

}  // namespace

TEST_CASE("100,000 random operations in a small window, all pages compared after each") {
    // 256 pages and short ranges: every operation overlaps, splits, merges.
    run(1, 256, 24, 100000, 5, 1);
}

TEST_CASE("random operations over thousands of ranges (a tree three levels deep)") {
    // Enough live ranges that leaves and inner nodes split, borrow and
    // merge; the whole store is compared every 200 steps, the touched span
    // after each.
    auto recs = sample_records(40);
    RangeStore store;
    PageModel model;
    // Fill first: 4,000 one-page ranges two pages apart, so the tree has
    // inner levels before the random phase begins.
    for (std::uint64_t i = 0; i < 4000; ++i) {
        std::uint64_t s = 0x10000000 + i * 2 * kPage;
        int rec = static_cast<int>(i % recs.size());
        REQUIRE(store.set(s, s + kPage, recs[static_cast<std::size_t>(rec)]));
        model.set(s, s + kPage, rec);
    }
    REQUIRE(diff(store, model, recs).empty());
    RandomOps ops{std::mt19937_64(7), 0x10000000, 8000, 6};
    for (std::size_t i = 0; i < 60000; ++i) {
        Step st = random_step(store, model, ops, recs);
        std::string d = touched(store, model, recs, st);
        if (d.empty() && i % 200 == 0) d = diff(store, model, recs);
        REQUIRE_MESSAGE(d.empty(), "step " << i << ": " << d);
    }
    REQUIRE(diff(store, model, recs).empty());
}

TEST_CASE("growth and shrink of the whole store: a million-page sweep") {
    // Ascending then descending bulk insertion and removal, the patterns of
    // mmap (top-down) and of a program freeing what it allocated.
    auto recs = sample_records(3);
    RangeStore store;
    PageModel model;
    for (std::uint64_t i = 0; i < 20000; ++i) {
        std::uint64_t s = (30000 - i) * 3 * kPage;
        REQUIRE(store.set(s, s + 2 * kPage, recs[i % 3]));
        model.set(s, s + 2 * kPage, static_cast<int>(i % 3));
    }
    REQUIRE(diff(store, model, recs).empty());
    for (std::uint64_t i = 0; i < 20000; i += 2) {
        std::uint64_t s = (10001 + i) * 3 * kPage;
        REQUIRE(store.punch(s, s + 3 * kPage));
        model.punch(s, s + 3 * kPage);
    }
    REQUIRE(diff(store, model, recs).empty());
    REQUIRE(store.punch(0, 200000 * kPage));
    CHECK(store.empty());
    CHECK(store.requests() == 0);
    CHECK(store.check() == nullptr);
}
