// SPDX-License-Identifier: MIT
// The kernel-exact mapping against the kernel's own doc-comment examples
// (lib/bitmap.c) and against literal transcriptions of its definitions.
#include <doctest/doctest.h>

#include <random>
#include <string>

#include "numakeep/node_mapping.hpp"
#include "numakeep/nodelist.hpp"

using namespace numakeep;

namespace {

Nodemask L(const char* text) {  // a mask from a kernel-format list
    auto r = parse_kernel_nodelist(text);
    REQUIRE(r.ok);
    return r.nodes;
}

// The definitions, word for word, with none of the shortcuts of the real
// code: a reference to test it against.
Nodemask remap_by_definition(const Nodemask& src, const Nodemask& old_map,
                             const Nodemask& new_map) {
    Nodemask dst;
    unsigned w = new_map.count();
    for (unsigned b = 0; b < kMaxNodes; ++b) {
        if (!src.test(b)) continue;
        int n = old_map.ord(b);
        if (n < 0 || w == 0)
            dst.set(b);
        else
            dst.set(static_cast<unsigned>(new_map.nth(static_cast<unsigned>(n) % w)));
    }
    return dst;
}
Nodemask onto_by_definition(const Nodemask& orig, const Nodemask& relmap) {
    // "for (m = 0; m < bitmap_weight(relmap); m++) if (test_bit(m, orig))
    //  set_bit(find_nth_bit(relmap, m), dst)"
    Nodemask dst;
    for (unsigned m = 0; m < relmap.count(); ++m)
        if (orig.test(m)) dst.set(static_cast<unsigned>(relmap.nth(m)));
    return dst;
}

Nodemask random_mask(std::mt19937_64& rng) {
    Nodemask m;
    switch (rng() % 4) {
        case 0:  // small ids, where collisions happen
            for (unsigned n = 0; n < 8; ++n)
                if (rng() & 1) m.set(n);
            break;
        case 1:  // sparse over the whole range
            for (int k = static_cast<int>(rng() % 6); k > 0; --k)
                m.set(static_cast<unsigned>(rng() % kMaxNodes));
            break;
        case 2:  // dense around a word boundary
            for (unsigned n = 60; n < 140; ++n)
                if (rng() % 3 == 0) m.set(n);
            break;
        default:  // a run somewhere
        {
            unsigned a = static_cast<unsigned>(rng() % kMaxNodes);
            m = Nodemask::range(a, a + static_cast<unsigned>(rng() % 40));
        }
    }
    return m;
}

}  // namespace

TEST_CASE("bitmap_remap: the doc comment's example") {
    // old 4-7, new 12-15: 4->12 ... 7->15, everything else unchanged;
    // src 1,5,7 -> 1,13,15.
    CHECK(remap(Nodemask{1, 5, 7}, L("4-7"), L("12-15")) == Nodemask{1, 13, 15});
    // Fewer new bits than old: the n-th old bit goes to the (n % w)-th new one.
    CHECK(remap(L("0-3"), L("0-3"), L("0-1")) == L("0-1"));
    CHECK(remap(Nodemask{3}, L("0-3"), L("0-1")) == Nodemask{1});
    CHECK(remap(Nodemask{2, 3}, L("0-3"), Nodemask{1}) == Nodemask{1});
    // Either map empty: identity (a copy of src).
    CHECK(remap(Nodemask{1, 700}, Nodemask{}, L("0-3")) == Nodemask{1, 700});
    CHECK(remap(Nodemask{1, 700}, L("0-3"), Nodemask{}) == Nodemask{1, 700});
    // Beyond 64 bits.
    CHECK(remap(Nodemask{100, 700}, Nodemask{100, 700, 1023}, Nodemask{5, 64}) == Nodemask{5, 64});
    CHECK(remap(Nodemask{1023}, Nodemask{100, 700, 1023}, Nodemask{5, 64}) == Nodemask{5});
}

TEST_CASE("bitmap_bitremap: the doc comment's example") {
    CHECK(bitremap(5, L("4-7"), L("12-15")) == 13);
    CHECK(bitremap(3, L("4-7"), L("12-15")) == 3);  // not in old: itself
    CHECK(bitremap(5, L("4-7"), Nodemask{}) == 5);  // new empty: itself
    CHECK(bitremap(3, L("0-3"), L("0-1")) == 1);
    CHECK(bitremap(1023, Nodemask{100, 1023}, Nodemask{700}) == 700);
    CHECK(bitremap(-1, L("0-3"), L("0-1")) == -1);  // no node stays no node
}

TEST_CASE("bitmap_onto: the doc comment's Example [1]") {
    // relmap 30-39, orig 1,3,5,7,9,11 -> 31,33,35,37,39 (11 maps nowhere).
    CHECK(onto(Nodemask{1, 3, 5, 7, 9, 11}, L("30-39")) == Nodemask{31, 33, 35, 37, 39});
    // Either one empty: empty.
    CHECK(onto(Nodemask{}, L("30-39")).empty());
    CHECK(onto(Nodemask{1}, Nodemask{}).empty());
    // Only bits >= W: empty.
    CHECK(onto(Nodemask{10, 11}, L("30-39")).empty());
}

TEST_CASE("bitmap_fold + bitmap_onto: the doc comment's Example [2] table") {
    // relmap: 40 plus the first ten Fibonacci numbers.
    const Nodemask relmap{40, 41, 42, 43, 45, 48, 53, 61, 74, 95};
    REQUIRE(relmap.count() == 10);
    struct Row {
        Nodemask orig, tmp, dst;
    };
    const Row rows[] = {
        {{0}, {0}, {40}},
        {{1}, {1}, {41}},
        {{9}, {9}, {95}},
        {{10}, {0}, {40}},
        {{1, 3, 5, 7}, {1, 3, 5, 7}, {41, 43, 48, 61}},
        {{0, 1, 2, 3, 4}, {0, 1, 2, 3, 4}, {40, 41, 42, 43, 45}},
        {{0, 9, 18, 27}, {0, 9, 8, 7}, {40, 61, 74, 95}},
        {{0, 10, 20, 30}, {0}, {40}},
        {{0, 11, 22, 33}, {0, 1, 2, 3}, {40, 41, 42, 43}},
        {{0, 12, 24, 36}, {0, 2, 4, 6}, {40, 42, 45, 53}},
        {{78, 102, 211}, {1, 2, 8}, {41, 42, 74}},
    };
    for (const Row& row : rows) {
        CAPTURE(row.orig.to_string());
        Nodemask tmp = fold(row.orig, relmap.count());
        CHECK(tmp == row.tmp);
        CHECK(onto(tmp, relmap) == row.dst);
        CHECK(relative_nodemask(row.orig, relmap) == row.dst);  // mpol_relative_nodemask
    }
    // The marked lines: without the fold the result would have been empty.
    CHECK(onto(Nodemask{10}, relmap).empty());
    CHECK(onto(Nodemask{78, 102, 211}, relmap).empty());
}

TEST_CASE("bitmap_fold edges") {
    CHECK(fold(Nodemask{5, 700, 1023}, 4) == Nodemask{1, 0, 3});
    CHECK(fold(Nodemask{5, 700}, 1) == Nodemask{0});
    CHECK(fold(Nodemask{5, 700}, 0).empty());  // the kernel never folds by 0
    CHECK(fold(Nodemask{5, 700}, kMaxNodes) == Nodemask{5, 700});
    CHECK(relative_nodemask(Nodemask{1}, Nodemask{}).empty());
}

TEST_CASE("mpol_relative_nodemask: numactl's relative masks") {
    // "prefer=relative:3 under mems 0-1": position 3 folds to 1.
    CHECK(relative_nodemask(Nodemask{3}, L("0-1")) == Nodemask{1});
    CHECK(relative_nodemask(L("0-3"), L("2-3")) == L("2-3"));
    CHECK(relative_nodemask(Nodemask::all(), Nodemask{1, 700}) == Nodemask{1, 700});
    CHECK(relative_nodemask(Nodemask{0, 2}, Nodemask{4, 100, 700, 1023}) == Nodemask{4, 700});
}

TEST_CASE("positions_in is the inverse of onto inside the set") {
    const Nodemask within{3, 64, 100, 700};
    CHECK(positions_in(Nodemask{64, 700}, within) == Nodemask{1, 3});
    CHECK(onto(positions_in(Nodemask{64, 700}, within), within) == Nodemask{64, 700});
    CHECK(positions_in(Nodemask{5}, within).empty());
}

TEST_CASE("remap and onto agree with their definitions on random masks") {
    std::mt19937_64 rng(20261125);
    for (int i = 0; i < 3000; ++i) {
        Nodemask src = random_mask(rng), a = random_mask(rng), b = random_mask(rng);
        REQUIRE(remap(src, a, b) == remap_by_definition(src, a, b));
        REQUIRE(onto(src, b) == onto_by_definition(src, b));
        for (int bit = src.first(); bit >= 0; bit = src.next(static_cast<unsigned>(bit) + 1))
            REQUIRE(bitremap(bit, a, b) ==
                    remap_by_definition(Nodemask{static_cast<unsigned>(bit)}, a, b).first());
        unsigned sz = 1 + static_cast<unsigned>(rng() % 70);
        Nodemask expect;  // "for each bit oldbit in orig, set bit oldbit mod sz"
        for (unsigned bit = 0; bit < kMaxNodes; ++bit)
            if (src.test(bit)) expect.set(bit % sz);
        REQUIRE(fold(src, sz) == expect);
    }
}

TEST_CASE("the mapping is constexpr") {
    static_assert(remap(Nodemask{1, 5, 7}, Nodemask::range(4, 7), Nodemask::range(12, 15)) ==
                  Nodemask{1, 13, 15});
    static_assert(bitremap(5, Nodemask::range(4, 7), Nodemask::range(12, 15)) == 13);
    static_assert(relative_nodemask(Nodemask{3}, Nodemask{0, 1}) == Nodemask{1});
}
