// SPDX-License-Identifier: MIT
// The record store's allocation discipline: what reserve() promises, how
// operations fail when the heap says no, and the memory a range costs.
// Allocations are counted twice: through the store's heap hook, and by
// replacing the global operator new (the store must never use it).
#include <doctest/doctest.h>

#include <atomic>
#include <cstdlib>
#include <new>

#include "store_model.hpp"

using namespace numakeep;
using namespace numakeep::test;

namespace {
std::atomic<std::size_t> g_news{0};
}

void* operator new(std::size_t n) {
    ++g_news;
    if (void* p = std::malloc(n ? n : 1)) return p;
    throw std::bad_alloc();
}
void* operator new(std::size_t n, const std::nothrow_t&) noexcept {
    ++g_news;
    return std::malloc(n ? n : 1);
}
void operator delete(void* p) noexcept {
    std::free(p);
}
void operator delete(void* p, std::size_t) noexcept {
    std::free(p);
}

namespace {

// A heap hook that counts, and fails on demand.
struct CountingHeap {
    std::size_t allocations = 0;
    std::size_t live_bytes = 0;
    bool failing = false;
    std::mt19937_64* flaky = nullptr;  // fail one call in four when set

    HeapHooks hooks() {
        return HeapHooks{[](std::size_t n, void* ctx) -> void* {
                             auto& h = *static_cast<CountingHeap*>(ctx);
                             if (h.failing || (h.flaky && (*h.flaky)() % 4 == 0)) return nullptr;
                             ++h.allocations;
                             h.live_bytes += n;
                             return std::malloc(n);
                         },
                         [](void* p, std::size_t n, void* ctx) {
                             static_cast<CountingHeap*>(ctx)->live_bytes -= n;
                             std::free(p);
                         },
                         this};
    }
};

// A random operation whose cost in insertions (as range_store.hpp counts
// them) fits `budget`; returns that cost, 0 when nothing fit.
// operator new calls made inside the store's own calls (the model's are
// not counted).
std::size_t g_store_news = 0;
struct CountNews {
    std::size_t at = g_news;
    ~CountNews() { g_store_news += g_news - at; }
};

std::size_t bounded_op(RangeStore& s, PageModel& m, RandomOps& ops,
                       const std::vector<Recorded>& recs, std::size_t budget, bool& ok,
                       int only = -1) {
    unsigned kind = only >= 0 ? static_cast<unsigned>(only) : static_cast<unsigned>(ops.rng() % 3);
    if (kind == 0 && budget >= 2) {
        std::uint64_t a = ops.page(), e = a + ops.len();
        int rec = static_cast<int>(ops.rng() % recs.size());
        {
            CountNews c;
            ok = s.set(a, e, recs[static_cast<std::size_t>(rec)]);
        }
        if (ok) m.set(a, e, rec);
        return 2;
    }
    if (kind == 1 && budget >= 1) {
        std::uint64_t a = ops.page(), e = a + ops.len();
        {
            CountNews c;
            ok = s.punch(a, e);
        }
        if (ok) m.punch(a, e);
        return 1;
    }
    std::uint64_t os = ops.page(), ol = ops.len(), ns = ops.page();
    if (os < ns + ol && ns < os + ol) return 0;
    std::size_t records = 0;
    s.for_each_in(os, os + ol, [&](const RangeStore::Range&) { ++records; });
    REQUIRE(s.move_cost(os, ol, ol) == records + 3);
    if (records + 3 > budget) return 0;
    {
        CountNews c;
        ok = s.move(os, ol, ns, ol);
    }
    if (ok) m.move(os, ol, ns, ol, false);
    return records + 3;
}

}  // namespace

TEST_CASE("after reserve(n), n insertions' worth of operations allocate nothing") {
    CountingHeap heap;
    auto recs = sample_records(6);
    RangeStore s(heap.hooks());
    PageModel m;
    RandomOps ops{std::mt19937_64(3), 0x200000000ULL, 60000, 5};
    for (int i = 0; i < 20000; ++i) {  // a tree a few levels deep
        std::uint64_t a = ops.page();
        int rec = static_cast<int>(ops.rng() % recs.size());
        REQUIRE(s.set(a, a + kPage, recs[static_cast<std::size_t>(rec)]));
        m.set(a, a + kPage, rec);
    }
    std::size_t leaks = 0, new_calls = 0, ops_done = 0;
    for (int round = 0; round < 3000; ++round) {
        std::size_t n = 1 + ops.rng() % 80;
        REQUIRE(s.reserve(n));
        std::size_t before = heap.allocations, news_before = g_store_news;
        bool all_ok = true;
        for (std::size_t left = n; left > 0;) {
            bool ok = true;
            std::size_t cost = bounded_op(s, m, ops, recs, left, ok);
            if (cost == 0) break;
            all_ok = all_ok && ok;
            left -= cost;
            ++ops_done;
        }
        leaks += heap.allocations - before;
        new_calls += g_store_news - news_before;
        REQUIRE(all_ok);
    }
    CHECK(leaks == 0);
    CHECK(new_calls == 0);
    CHECK(ops_done > 10000);
    CHECK(diff(s, m, recs).empty());
}

TEST_CASE("reserve() covers new requests too") {
    CountingHeap heap;
    RangeStore s(heap.hooks());
    auto recs = sample_records(200);
    REQUIRE(s.reserve(200));
    std::size_t before = heap.allocations;
    for (std::size_t i = 0; i < 100; ++i)  // 100 sets, 2 insertions each
        REQUIRE(s.set(0x10000000 + 2 * i * kPage, 0x10000000 + (2 * i + 1) * kPage, recs[i]));
    CHECK(heap.allocations == before);
    CHECK(s.requests() == 100);
}

TEST_CASE("a large reserve() makes a large batch allocation-free") {
    CountingHeap heap;
    RangeStore s(heap.hooks());
    Recorded rec = sample_records(2)[1], other = sample_records(2)[0];
    REQUIRE(s.reserve(200000));
    std::size_t before = heap.allocations, news = g_news;
    for (std::uint64_t i = 0; i < 100000; ++i)
        s.set(0x10000000 + 2 * i * kPage, 0x10000000 + (2 * i + 1) * kPage, i % 2 ? rec : other);
    CHECK(heap.allocations == before);
    CHECK(g_news == news);
    CHECK(s.size() == 100000);
}

TEST_CASE("when the heap says no, operations return false and change nothing") {
    CountingHeap heap;
    std::mt19937_64 flaky(11);
    auto recs = sample_records(30);
    RangeStore s(heap.hooks());
    PageModel m;
    // Mostly sets over a wide window: the store keeps growing, so the pool
    // and the request table keep asking the heap for more.
    RandomOps ops{std::mt19937_64(5), 0x300000000ULL, 400000, 2};
    heap.flaky = &flaky;
    std::size_t refused = 0;
    for (int i = 0; i < 100000; ++i) {
        bool ok = true;
        std::size_t cost = bounded_op(s, m, ops, recs, 1000, ok, i % 10 == 9 ? -1 : 0);
        if (cost == 0) continue;
        if (!ok) ++refused;  // m was left alone: the store must still equal it
        if (i % 5000 == 0 || !ok) REQUIRE_MESSAGE(diff(s, m, recs).empty(), "step " << i);
    }
    CHECK(refused > 0);
    heap.flaky = nullptr;
    std::uint64_t far = 0x500000000ULL;
    REQUIRE(s.set(far, far + kPage, recs[0]));  // a request already held
    REQUIRE(s.reserve(100));
    heap.failing = true;  // nothing more: only what is in the pool
    std::size_t before = s.size(), added = 0;
    for (;;) {
        far += 2 * kPage;
        if (!s.set(far, far + kPage, recs[0])) break;
        ++added;
        REQUIRE(added < 10000000);
    }
    CHECK(added >= 50);                 // what reserve(100) paid for, and more
    CHECK(s.size() == before + added);  // the refused one left no trace
    CHECK(s.lookup(far) == nullptr);
    CHECK_FALSE(s.reserve(100000));
    CHECK(s.check() == nullptr);
    heap.failing = false;
    CHECK(s.set(far, far + kPage, recs[0]));
}

TEST_CASE("heap per range: at most 64 bytes however the ranges came and went") {
    CountingHeap heap;
    auto recs = sample_records(4);
    RangeStore s(heap.hooks());
    for (std::uint64_t i = 0; i < 200000; ++i)  // descending, as mmap hands out
        REQUIRE(s.set((400000 - 2 * i) * kPage, (400001 - 2 * i) * kPage, recs[i % 4]));
    CHECK(static_cast<double>(heap.live_bytes) / static_cast<double>(s.size()) <= 64.0);
    CHECK(s.heap_bytes() == heap.live_bytes);
    // Random punches leave every node at least half full.
    std::mt19937_64 rng(9);
    for (int i = 0; i < 100000; ++i) {
        std::uint64_t p = 2 * (rng() % 200000) + 2;
        REQUIRE(s.punch(p * kPage, (p + 1) * kPage));
    }
    REQUIRE(s.check() == nullptr);
    // Nodes freed by the punches stay in the pool: count the ones in use.
    CHECK(s.size() > 50000);
    CHECK(static_cast<double>(s.heap_bytes_in_use()) / static_cast<double>(s.size()) <= 64.0);
}

TEST_CASE("clear() keeps the memory, and what reserve() paid for") {
    CountingHeap heap;
    auto recs = sample_records(8);
    RangeStore s(heap.hooks());
    for (std::uint64_t i = 0; i < 5000; ++i)
        REQUIRE(s.set(i * 2 * kPage, (i * 2 + 1) * kPage, recs[i % 8]));
    REQUIRE(s.reserve(16));
    std::size_t bytes = heap.live_bytes, allocations = heap.allocations;
    s.clear();
    CHECK(s.empty());
    CHECK(s.requests() == 0);
    CHECK(heap.live_bytes == bytes);
    for (std::uint64_t i = 0; i < 8; ++i)  // 8 sets of new requests: 16 insertions
        REQUIRE(s.set(i * 2 * kPage, (i * 2 + 1) * kPage, recs[i]));
    CHECK(heap.allocations == allocations);
    CHECK(s.requests() == 8);
    CHECK(s.check() == nullptr);
}
