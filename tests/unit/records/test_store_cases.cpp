// SPDX-License-Identifier: MIT
// The record store, case by case: what set and punch do to the ranges they
// overlap, and each form of mremap (mm/mremap.c) with the policy of the
// vma following the pages.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "store_model.hpp"

using namespace numakeep;
using namespace numakeep::test;

namespace {

constexpr std::uint64_t P = kPage;
constexpr std::uint64_t B = 0x7f0000000000ULL;  // a base address

// The store as "start-end:rec" in pages from B, rec = index in recs.
std::string show(const RangeStore& s, const std::vector<Recorded>& recs) {
    std::string out;
    s.for_each([&](const RangeStore::Range& r) {
        std::size_t i = 0;
        while (i < recs.size() && !(recs[i] == *r.rec)) ++i;
        if (!out.empty()) out += ' ';
        out += std::to_string((r.start - B) / P) + '-' + std::to_string((r.end - B) / P) + ':' +
               std::to_string(i);
    });
    REQUIRE(s.check() == nullptr);
    return out;
}

struct Fixture {
    std::vector<Recorded> recs = sample_records(4);
    RangeStore s;
    void set(std::uint64_t from, std::uint64_t to, int rec) {
        REQUIRE(s.set(B + from * P, B + to * P, recs[static_cast<std::size_t>(rec)]));
    }
    bool move(std::uint64_t os, std::uint64_t ol, std::uint64_t ns, std::uint64_t nl,
              bool keep_old = false) {
        return s.move(B + os * P, ol * P, B + ns * P, nl * P, keep_old);
    }
    std::string str() { return show(s, recs); }
};

}  // namespace

TEST_CASE("set splits and overwrites what it overlaps, as mbind_range() splits vmas") {
    Fixture f;
    f.set(0, 10, 0);
    f.set(3, 5, 1);  // inside one range: three pieces
    CHECK(f.str() == "0-3:0 3-5:1 5-10:0");
    f.set(4, 7, 2);  // across a boundary
    CHECK(f.str() == "0-3:0 3-4:1 4-7:2 7-10:0");
    f.set(1, 9, 3);  // over several
    CHECK(f.str() == "0-1:0 1-9:3 9-10:0");
    f.set(0, 10, 3);  // all of it
    CHECK(f.str() == "0-10:3");
    CHECK(f.s.requests() == 1);
}

TEST_CASE("neighbours with the same record merge, as vma_merge() merges vmas") {
    Fixture f;
    f.set(0, 2, 0);
    f.set(4, 6, 0);
    f.set(2, 4, 0);  // fills the gap: one range
    CHECK(f.str() == "0-6:0");
    f.set(2, 4, 1);
    CHECK(f.str() == "0-2:0 2-4:1 4-6:0");
    f.set(2, 4, 0);  // and back
    CHECK(f.str() == "0-6:0");
    f.set(6, 8, 0);  // appended
    f.set(10, 12, 1);
    f.set(8, 10, 1);  // prepended to its right neighbour only
    CHECK(f.str() == "0-8:0 8-12:1");
}

TEST_CASE("the same request from the program and from numakeep set stays two records") {
    // `numakeep set` records its requests with an origin (Recorded::origin):
    // show must tell them apart, so neither the store nor its request table
    // may take one for the other.
    Fixture f;
    f.recs[1] = f.recs[0];
    f.recs[1].origin = 7;
    f.set(0, 4, 0);
    f.set(4, 8, 1);  // adjacent, same request, another origin: no merge
    CHECK(f.str() == "0-4:0 4-8:1");
    CHECK(f.s.requests() == 2);
    f.set(2, 6, 0);  // the program's own call replaces set's where it lands
    CHECK(f.str() == "0-6:0 6-8:1");
    const Recorded* at = f.s.lookup(B + 7 * P);
    REQUIRE(at != nullptr);
    CHECK(at->origin == 7);
}

TEST_CASE("punch: partial, inside one range, across several, nothing there") {
    Fixture f;
    f.set(0, 4, 0);
    f.set(4, 8, 1);
    f.set(10, 14, 2);
    REQUIRE(f.s.punch(B + 1 * P, B + 2 * P));  // inside one
    CHECK(f.str() == "0-1:0 2-4:0 4-8:1 10-14:2");
    REQUIRE(f.s.punch(B + 3 * P, B + 11 * P));  // across several, ends in a range
    CHECK(f.str() == "0-1:0 2-3:0 11-14:2");
    REQUIRE(f.s.punch(B + 20 * P, B + 30 * P));  // nothing there
    REQUIRE(f.s.punch(B + 13 * P, B + 13 * P));  // empty
    CHECK(f.str() == "0-1:0 2-3:0 11-14:2");
    REQUIRE(f.s.punch(B + 12 * P, B + 12 * P + 1));  // a partial page is a page
    CHECK(f.str() == "0-1:0 2-3:0 11-12:2 13-14:2");
    REQUIRE(f.s.punch(B, B + 100 * P));
    CHECK(f.s.empty());
    CHECK(f.s.requests() == 0);
}

TEST_CASE("bad spans are refused and change nothing") {
    Fixture f;
    f.set(0, 4, 0);
    CHECK_FALSE(f.s.set(B + 1, B + P, f.recs[1]));      // unaligned start
    CHECK_FALSE(f.s.set(B + 2 * P, B + P, f.recs[1]));  // end before start
    CHECK_FALSE(f.s.punch(B + 7, B + P));
    CHECK_FALSE(f.s.set(~std::uint64_t{0} - P + 1, ~std::uint64_t{0}, f.recs[1]));  // overflow
    CHECK(f.s.set(B + 8 * P, B + 8 * P, f.recs[1]));  // empty: nothing to do
    CHECK(f.str() == "0-4:0");
    f.set(8, 9, 1);
    CHECK(f.s.set(B + 9 * P, B + 9 * P + 1, f.recs[1]));  // end rounds up to a page
    CHECK(f.str() == "0-4:0 8-10:1");
}

TEST_CASE("lookup and for_each_in") {
    Fixture f;
    f.set(0, 4, 0);
    f.set(6, 8, 1);
    CHECK(f.s.lookup(B) != nullptr);
    CHECK(*f.s.lookup(B + 4 * P - 1) == f.recs[0]);
    CHECK(f.s.lookup(B + 4 * P) == nullptr);
    CHECK(f.s.lookup(B - 1) == nullptr);
    CHECK(*f.s.lookup(B + 7 * P + 5) == f.recs[1]);
    RangeStore::Range r{};
    REQUIRE(f.s.lookup(B + 7 * P, r));
    CHECK(r.start == B + 6 * P);
    CHECK(r.end == B + 8 * P);
    std::vector<std::uint64_t> starts;
    f.s.for_each_in(B + 3 * P, B + 7 * P,
                    [&](const RangeStore::Range& x) { starts.push_back((x.start - B) / P); });
    CHECK(starts == std::vector<std::uint64_t>{0, 6});
    starts.clear();
    f.s.for_each_in(B + 4 * P, B + 6 * P,
                    [&](const RangeStore::Range& x) { starts.push_back(x.start); });
    CHECK(starts.empty());
}

TEST_CASE("mremap shrink in place: the tail is unmapped") {
    Fixture f;
    f.set(0, 4, 0);
    f.set(4, 8, 1);
    REQUIRE(f.move(0, 8, 0, 6));
    CHECK(f.str() == "0-4:0 4-6:1");
    REQUIRE(f.move(0, 6, 0, 6));  // same size: nothing
    CHECK(f.str() == "0-4:0 4-6:1");
}

TEST_CASE("mremap grow in place: the new pages take the vma's policy") {
    Fixture f;
    f.set(0, 4, 2);
    REQUIRE(f.move(0, 4, 0, 7));  // vma_expand(): the vma grows with its policy
    CHECK(f.str() == "0-7:2");
    // Records left behind in the growth area by an unmap we did not see are
    // stale: the kernel only grows into a free range.
    f.set(9, 12, 1);
    REQUIRE(f.move(0, 7, 0, 10));
    CHECK(f.str() == "0-10:2 10-12:1");
    // A vma we hold no record for grows without one (and clears stale ones).
    f.set(20, 22, 3);
    REQUIRE(f.s.punch(B + 20 * P, B + 22 * P));
    f.set(24, 26, 3);
    REQUIRE(f.move(20, 2, 20, 6));
    CHECK(f.str() == "0-10:2 10-12:1");
}

TEST_CASE("mremap move (MAYMOVE): the policy moves with the pages, the old range goes") {
    Fixture f;
    f.set(0, 2, 0);
    f.set(2, 4, 1);
    REQUIRE(f.move(0, 4, 100, 4));
    CHECK(f.str() == "100-102:0 102-104:1");
    // Moving and growing: growth takes the policy of the last old page.
    REQUIRE(f.move(100, 4, 200, 6));
    CHECK(f.str() == "200-202:0 202-206:1");
    // Moving and shrinking (MREMAP_FIXED with a smaller new_len): the old
    // tail is unmapped first.
    REQUIRE(f.move(200, 6, 300, 3));
    CHECK(f.str() == "300-302:0 302-303:1");
    // A partly recorded source keeps its holes.
    f.set(310, 311, 2);
    REQUIRE(f.move(300, 12, 400, 12));
    CHECK(f.str() == "400-402:0 402-403:1 410-411:2");
}

TEST_CASE("mremap MREMAP_FIXED onto recorded ranges: they are unmapped first") {
    Fixture f;
    f.set(0, 4, 0);
    f.set(10, 20, 1);  // the destination overlaps this one's middle
    REQUIRE(f.move(0, 4, 12, 4));
    CHECK(f.str() == "10-12:1 12-16:0 16-20:1");
    // Fixed onto a larger recorded range, growing: growth takes the
    // moved vma's policy, not the one that was there.
    f.set(30, 40, 2);
    REQUIRE(f.move(12, 4, 30, 6));
    CHECK(f.str() == "10-12:1 16-20:1 30-36:0 36-40:2");
    // Fixed next to a range with the same record: they merge.
    REQUIRE(f.move(10, 2, 20, 2));
    CHECK(f.str() == "16-22:1 30-36:0 36-40:2");
}

TEST_CASE("mremap MREMAP_DONTUNMAP: the old range stays mapped with its policy") {
    Fixture f;
    f.set(0, 2, 0);
    f.set(2, 4, 1);
    REQUIRE(f.move(0, 4, 50, 4, true));
    CHECK(f.str() == "0-2:0 2-4:1 50-52:0 52-54:1");
    CHECK_FALSE(f.move(0, 4, 60, 6, true));  // the kernel wants old_len == new_len
    CHECK_FALSE(f.move(0, 4, 0, 4, true));   // and a move
    CHECK(f.str() == "0-2:0 2-4:1 50-52:0 52-54:1");
}

TEST_CASE("mremap old_len 0 (a shared mapping, duplicated): the copy takes the vma's policy") {
    Fixture f;
    f.set(0, 4, 3);
    REQUIRE(f.move(1, 0, 100, 8));
    CHECK(f.str() == "0-4:3 100-108:3");
    REQUIRE(f.move(10, 0, 200, 2));  // nothing recorded there: nothing copied
    CHECK(f.str() == "0-4:3 100-108:3");
    CHECK_FALSE(f.move(0, 0, 0, 4));
}

TEST_CASE("mremap arguments the kernel refuses change nothing") {
    Fixture f;
    f.set(0, 8, 0);
    CHECK_FALSE(f.move(0, 8, 4, 8));  // overlapping move
    CHECK_FALSE(f.move(4, 8, 0, 6));
    CHECK_FALSE(f.move(0, 8, 20, 0));  // new_len 0
    CHECK_FALSE(f.s.move(B + 1, P, B + 20 * P, P));
    CHECK_FALSE(f.s.move(B, P, B + 20 * P + 1, P));
    CHECK_FALSE(f.s.move(B, ~std::uint64_t{0} - B, B + 20 * P, P));
    CHECK(f.str() == "0-8:0");
    CHECK(f.move(0, 8, 8, 8));  // adjacent is fine
    CHECK(f.str() == "8-16:0");
}

TEST_CASE("requests are interned once and freed with their last range") {
    Fixture f;
    for (std::uint64_t i = 0; i < 100; ++i) f.set(2 * i, 2 * i + 1, static_cast<int>(i % 2));
    CHECK(f.s.size() == 100);
    CHECK(f.s.requests() == 2);
    REQUIRE(f.s.punch(B, B + 100 * P));
    CHECK(f.s.requests() == 2);
    for (std::uint64_t i = 50; i < 100; i += 2)
        REQUIRE(f.s.punch(B + 2 * i * P, B + (2 * i + 1) * P));
    CHECK(f.s.requests() == 1);
    f.s.clear();
    CHECK(f.s.empty());
    CHECK(f.s.requests() == 0);
    f.set(0, 1, 3);
    CHECK(f.str() == "0-1:3");
}

// set()'s one-descent path: a new request over exactly one recorded range
// replaces that range's request in place (the interposed mbind's common
// case: one buffer re-bound again and again). It must leave the store as
// the general path would: merged with a neighbour of the same request,
// and never taken for a partial overlap.
TEST_CASE("set over exactly one range: replaced in place, merged, or the general path") {
    Fixture f;
    f.set(0, 2, 0);
    f.set(2, 4, 1);
    f.set(4, 6, 2);
    f.set(2, 4, 3);  // exact, neighbours differ: in place
    CHECK(f.str() == "0-2:0 2-4:3 4-6:2");
    CHECK(f.s.requests() == 3);
    f.set(2, 4, 0);  // exact, left neighbour equal: merged with it
    CHECK(f.str() == "0-4:0 4-6:2");
    f.set(6, 8, 1);
    f.set(4, 6, 1);  // exact, right neighbour equal: merged with it
    CHECK(f.str() == "0-4:0 4-8:1");
    f.set(8, 10, 0);
    f.set(4, 8, 0);  // exact, both neighbours equal: one range
    CHECK(f.str() == "0-10:0");
    CHECK(f.s.requests() == 1);
    f.set(0, 10, 0);  // exact, same request: nothing changes
    CHECK(f.str() == "0-10:0");
    CHECK(f.s.requests() == 1);

    f.set(12, 14, 1);
    f.set(12, 13, 2);  // same start, shorter: split, not replaced
    CHECK(f.str() == "0-10:0 12-13:2 13-14:1");
    f.set(13, 15, 3);  // same start, longer: past the range's end
    CHECK(f.str() == "0-10:0 12-13:2 13-15:3");
    f.set(11, 15, 3);  // same end, earlier start
    CHECK(f.str() == "0-10:0 11-15:3");
    f.set(10, 11, 0);  // exact gap between two ranges: not a record, merges
    CHECK(f.str() == "0-11:0 11-15:3");
}

TEST_CASE("set over exactly one range, alternating requests: the store stays as it was") {
    // bench-preload's mbind worker: one page re-bound BIND / PREFERRED.
    Fixture f;
    f.set(0, 1, 2);
    f.set(2, 3, 2);
    for (int i = 0; i < 1000; ++i) {
        f.set(1, 2, i % 2);
        REQUIRE(f.s.check() == nullptr);
    }
    CHECK(f.str() == "0-1:2 1-2:1 2-3:2");
    f.set(1, 2, 2);  // the neighbours' request: one range
    CHECK(f.str() == "0-3:2");
    CHECK(f.s.requests() == 1);
}
