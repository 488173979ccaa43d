// SPDX-License-Identifier: MIT
// RangeBTree: the index under RangeStore. A B+tree of disjoint ranges keyed
// by start address, each carrying its end and a 32-bit request id, built
// from 1 KiB nodes out of a SlabPool.
//
// Why a B+tree: at a million ranges a binary tree is 20 dependent cache
// misses deep; here the top levels stay in cache and a lookup touches one
// leaf, whose lines are prefetched together. A leaf holds 50 ranges in
// struct-of-arrays form (the binary search reads only starts); nodes stay
// at least half full, so a range costs at most ~42 heap bytes.
//
// The tree only restructures; the store decides what to put in it. Insert
// takes nodes from the pool and must find them there (the store reserves
// first: see nodes_needed()); erase gives nodes back. Neither touches the
// heap, so neither can fail.
#pragma once

#include <cassert>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "numakeep/slab_pool.hpp"

namespace numakeep::detail {

class RangeBTree {
  public:
    static constexpr std::size_t kNodeBytes = 1024;
    static constexpr unsigned kLeafCap = 50;
    static constexpr unsigned kLeafMin = kLeafCap / 2;
    static constexpr unsigned kInnerCap = 64;  // children
    static constexpr unsigned kInnerMin = kInnerCap / 2;
    static constexpr unsigned kMaxInner = 10;  // 25 * 32^10 ranges: far beyond any address space

    struct Leaf {
        std::uint32_t count;
        std::uint32_t unused;
        Leaf* prev;
        Leaf* next;
        std::uint64_t start[kLeafCap];
        std::uint64_t end[kLeafCap];
        std::uint32_t id[kLeafCap];
    };
    struct Inner {
        std::uint32_t count;  // children; keys: count - 1
        std::uint32_t unused;
        // child[i] holds the starts in [key[i-1], key[i]).
        std::uint64_t key[kInnerCap - 1];
        void* child[kInnerCap];
    };
    static_assert(sizeof(Leaf) <= kNodeBytes && sizeof(Inner) <= kNodeBytes);
    static_assert(kNodeBytes - sizeof(Leaf) < 20, "leaf capacity uses the node");
    static_assert(kNodeBytes - sizeof(Inner) < 16, "inner capacity uses the node");

    // The way down to a leaf position; valid until the next insert/erase.
    struct Path {
        Inner* inner[kMaxInner];  // [0]: the leaf's parent ... [height-1]: the root
        unsigned slot[kMaxInner];
        Leaf* leaf;
        unsigned pos;          // an index in leaf: 0..count
        bool partial;          // from the finger: leaf and pos only, no way down
        std::uint64_t lo, hi;  // the starts this leaf may hold: [lo, hi)
    };
    // One entry, wherever it is.
    struct At {
        Leaf* leaf = nullptr;
        unsigned i = 0;
        explicit operator bool() const { return leaf != nullptr; }
        std::uint64_t& start() const { return leaf->start[i]; }
        std::uint64_t& end() const { return leaf->end[i]; }
        std::uint32_t& id() const { return leaf->id[i]; }
    };

    explicit RangeBTree(HeapHooks hooks) : pool_(hooks) {}
    RangeBTree(const RangeBTree&) = delete;
    RangeBTree& operator=(const RangeBTree&) = delete;

    std::size_t size() const { return size_; }
    unsigned height() const { return height_; }
    std::size_t heap_bytes() const { return pool_.heap_bytes(); }
    std::size_t nodes_used() const { return pool_.used_blocks(); }
    std::size_t nodes_free() const { return pool_.free_blocks(); }

    // Free nodes that `n` insertions can consume, whatever erasures come
    // between them. Two bounds, both proven by the min-fill invariant:
    //  - per insertion: a split on every level plus a new root. Within 61
    //    insertions the root can grow only once (a new root has 2 children
    //    and needs kInnerCap - 2 more), so height + 3 each;
    //  - overall: a valid tree of E ranges has at most tree_bound(E) nodes.
    std::size_t nodes_needed(std::size_t n) const {
        if (n <= kInnerCap - 2 && pool_.free_blocks() >= n * (height_ + 3))
            return n * (height_ + 3);
        std::size_t overall = tree_bound(size_ + n);
        overall = overall > nodes_used() ? overall - nodes_used() : 0;
        if (n <= kInnerCap - 2) {
            std::size_t each = n * (height_ + 3);
            return each < overall ? each : overall;
        }
        return overall;
    }
    bool reserve_nodes(std::size_t n) { return pool_.grow_to(n); }

    // Descends towards `key`. pos = the number of entries of the leaf whose
    // start is <= key (upper) or < key (lower).
    void descend(std::uint64_t key, Path& p, bool upper = true) const {
        void* n = root_;
        p.partial = false;
        p.lo = 0;
        p.hi = ~std::uint64_t{0};
        for (unsigned l = height_; l-- > 0;) {
            auto* in = static_cast<Inner*>(n);
            // Inner levels always go by the separators: child s holds the
            // starts in [key[s-1], key[s]).
            unsigned s = upper_bound(in->key, in->count - 1, key);
            if (s > 0) p.lo = in->key[s - 1];
            if (s + 1 < in->count) p.hi = in->key[s];
            p.inner[l] = in;
            p.slot[l] = s;
            n = in->child[s];
            prefetch_node(n);
        }
        p.leaf = static_cast<Leaf*>(n);
        p.pos = p.leaf ? (upper ? upper_bound(p.leaf->start, p.leaf->count, key)
                                : lower_bound(p.leaf->start, p.leaf->count, key))
                       : 0;
    }
    // descend(), starting from the leaf of the last seek when key falls in
    // it (a finger: programs map and bind next to where they just did).
    // The path then holds the leaf only; insert(), erase() and restart()
    // walk down from the root when they restructure.
    void seek(std::uint64_t key, Path& p, bool upper = true) {
        if (finger_ && finger_version_ == version_ && key >= finger_lo_ && key < finger_hi_) {
            Leaf* l = finger_;
            p.leaf = l;
            p.partial = true;
            p.pos =
                upper ? upper_bound(l->start, l->count, key) : lower_bound(l->start, l->count, key);
            return;
        }
        descend(key, p, upper);
        finger_ = p.leaf;
        finger_lo_ = p.lo;
        finger_hi_ = p.hi;
        finger_version_ = version_;
    }

    // The entry just before / at a path position, or none.
    static At before(const Path& p) {
        if (!p.leaf) return {};
        if (p.pos > 0) return {p.leaf, p.pos - 1};
        Leaf* l = p.leaf->prev;
        return l ? At{l, l->count - 1} : At{};
    }
    static At at(const Path& p) {
        if (!p.leaf) return {};
        if (p.pos < p.leaf->count) return {p.leaf, p.pos};
        Leaf* l = p.leaf->next;
        return l ? At{l, 0} : At{};
    }
    // The entry whose start is `start` exactly; the path leads to it.
    bool find_exact(std::uint64_t start, Path& p) const {
        descend(start, p, false);
        return p.leaf && p.pos < p.leaf->count && p.leaf->start[p.pos] == start;
    }
    static At prev(At a) {
        if (a.i > 0) return {a.leaf, a.i - 1};
        Leaf* l = a.leaf->prev;
        return l ? At{l, l->count - 1} : At{};
    }
    static At next(At a) {
        if (++a.i < a.leaf->count) return a;
        return a.leaf->next ? At{a.leaf->next, 0} : At{};
    }
    At first() const {
        void* n = root_;
        for (unsigned l = height_; l-- > 0;) n = static_cast<Inner*>(n)->child[0];
        auto* leaf = static_cast<Leaf*>(n);
        return leaf && leaf->count ? At{leaf, 0} : At{};
    }

    // Inserts at p.pos; the caller keeps starts ordered. Needs
    // nodes_needed(1) free nodes.
    void insert(Path& p, std::uint64_t start, std::uint64_t end, std::uint32_t id) {
        if (!root_) {
            root_ = take();
            auto* l = static_cast<Leaf*>(root_);
            l->count = 0;
            l->prev = l->next = nullptr;
            p.leaf = l;
            p.pos = 0;
            p.partial = false;
            ++version_;
        }
        Leaf* l = p.leaf;
        if (l->count < kLeafCap) {
            ++size_;
            leaf_put(l, p.pos, start, end, id);
            return;
        }
        if (p.partial) descend(start, p);  // a split needs the way up
        ++size_;
        ++version_;
        auto* r = static_cast<Leaf*>(take());
        unsigned keep = kLeafCap / 2;
        r->count = l->count - keep;
        copy_entries(r, 0, l, keep, r->count);
        l->count = keep;
        r->prev = l;
        r->next = l->next;
        if (l->next) l->next->prev = r;
        l->next = r;
        if (p.pos <= keep)
            leaf_put(l, p.pos, start, end, id);
        else
            leaf_put(r, p.pos - keep, start, end, id);
        add_child(p, 0, r->start[0], r);
    }

    // Removes the entry at p.pos (p.pos < p.leaf->count).
    void erase(Path& p) {
        Leaf* l = p.leaf;
        if (l->count <= kLeafMin || height_ == 0) {  // restructures: needs the way up
            if (p.partial) descend(l->start[p.pos], p, false);
            ++version_;
        }
        unsigned n = l->count - p.pos - 1;
        std::memmove(&l->start[p.pos], &l->start[p.pos + 1], n * sizeof(l->start[0]));
        std::memmove(&l->end[p.pos], &l->end[p.pos + 1], n * sizeof(l->end[0]));
        std::memmove(&l->id[p.pos], &l->id[p.pos + 1], n * sizeof(l->id[0]));
        --l->count;
        --size_;
        if (height_ == 0) {
            if (l->count == 0) {
                give(l);
                root_ = nullptr;
            }
            return;
        }
        if (l->count < kLeafMin) fix_leaf(p);
    }

    // Changes the start of the entry at p.pos to `start`, which must stay
    // between its neighbours' starts. The separators that bound the leaf
    // are lower/upper bounds, not copies, so they are moved only when the
    // new start crosses one.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
// GCC cannot see that inner[] and slot[] are filled for every level below
// height_ whenever partial is false.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
    void restart(Path& p, std::uint64_t start) {
        Leaf* l = p.leaf;
        if ((p.pos == 0 || p.pos + 1 == l->count) && height_ > 0) {  // may move a separator
            if (p.partial) descend(l->start[p.pos], p, false);
            ++version_;
        }
        l->start[p.pos] = start;
        if (p.pos == 0)
            for (unsigned lv = 0; lv < height_; ++lv)
                if (p.slot[lv] > 0) {
                    std::uint64_t& lower = p.inner[lv]->key[p.slot[lv] - 1];
                    if (start < lower) lower = start;
                    break;
                }
        if (p.pos + 1 == l->count)
            for (unsigned lv = 0; lv < height_; ++lv)
                if (p.slot[lv] + 1 < p.inner[lv]->count) {
                    std::uint64_t& upper = p.inner[lv]->key[p.slot[lv]];
                    if (start >= upper) upper = start + 1;
                    break;
                }
    }
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

    // Gives every node back (to the pool, which keeps them).
    void clear() {
        if (root_) free_subtree(root_, height_);
        root_ = nullptr;
        height_ = 0;
        size_ = 0;
        finger_ = nullptr;
        ++version_;
    }
    // Gives the pool's memory back to the heap (after clear()).
    void release_memory() {
        pool_.release_all();
    }

    // Checks every structural invariant; for tests. Returns a description
    // of the first violation, or nullptr.
    const char* check() const {
        if (!root_) return size_ == 0 && height_ == 0 ? nullptr : "empty root with entries";
        std::size_t count = 0;
        const Leaf* prev = nullptr;
        const char* err = check_node(root_, height_, 0, ~std::uint64_t{0}, true, count, prev);
        if (err) return err;
        if (prev && prev->next) return "last leaf has a next";
        return count == size_ ? nullptr : "size mismatch";
    }

  private:
    static unsigned upper_bound(const std::uint64_t* a, unsigned n, std::uint64_t key) {
        if (n == 0) return 0;
        const std::uint64_t* b = a;
        while (n > 1) {
            unsigned half = n / 2;
            b = b[half] <= key ? b + half : b;
            n -= half;
        }
        return static_cast<unsigned>(b - a) + (*b <= key);
    }
    static unsigned lower_bound(const std::uint64_t* a, unsigned n, std::uint64_t key) {
        if (n == 0) return 0;
        const std::uint64_t* b = a;
        while (n > 1) {
            unsigned half = n / 2;
            b = b[half] < key ? b + half : b;
            n -= half;
        }
        return static_cast<unsigned>(b - a) + (*b < key);
    }
    // Asks for all lines of the next node at once: one memory latency per
    // level instead of one per binary-search step.
    static void prefetch_node(const void* n) {
        auto* c = static_cast<const char*>(n);
        for (std::size_t off = 0; off < kNodeBytes; off += kCacheLine) __builtin_prefetch(c + off);
    }

    void* take() {
        void* n = pool_.take();
        assert(n && "RangeStore reserves nodes before every insertion");
        return n;
    }
    void give(void* n) {
        pool_.give(n);
    }

    static void copy_entries(Leaf* to, unsigned ti, const Leaf* from, unsigned fi, unsigned n) {
        std::memmove(&to->start[ti], &from->start[fi], n * sizeof(to->start[0]));
        std::memmove(&to->end[ti], &from->end[fi], n * sizeof(to->end[0]));
        std::memmove(&to->id[ti], &from->id[fi], n * sizeof(to->id[0]));
    }
    static void leaf_put(Leaf* l, unsigned pos, std::uint64_t s, std::uint64_t e,
                         std::uint32_t id) {
        copy_entries(l, pos + 1, l, pos, l->count - pos);
        l->start[pos] = s;
        l->end[pos] = e;
        l->id[pos] = id;
        ++l->count;
    }

    // Adds `right` (holding starts >= key) after the child that split at
    // level `lv` of the path; splits upwards as needed.
    void add_child(Path& p, unsigned lv, std::uint64_t key, void* right) {
        if (lv == height_) {
            auto* root = static_cast<Inner*>(take());
            root->count = 2;
            root->key[0] = key;
            root->child[0] = root_;
            root->child[1] = right;
            root_ = root;
            ++height_;
            return;
        }
        Inner* in = p.inner[lv];
        unsigned s = p.slot[lv];
        if (in->count < kInnerCap) {
            inner_put(in, s, key, right);
            return;
        }
        // Split the full node around the key that goes up: the left keeps
        // the first half of the children, the right gets the rest.
        std::uint64_t keys[kInnerCap];
        void* kids[kInnerCap + 1];
        std::memcpy(keys, in->key, s * sizeof(keys[0]));
        keys[s] = key;
        std::memcpy(keys + s + 1, in->key + s, (kInnerCap - 1 - s) * sizeof(keys[0]));
        std::memcpy(kids, in->child, (s + 1) * sizeof(kids[0]));
        kids[s + 1] = right;
        std::memcpy(kids + s + 2, in->child + s + 1, (kInnerCap - 1 - s) * sizeof(kids[0]));
        constexpr unsigned left_kids = (kInnerCap + 1) / 2;
        constexpr unsigned right_kids = kInnerCap + 1 - left_kids;
        auto* r = static_cast<Inner*>(take());
        in->count = left_kids;
        std::memcpy(in->key, keys, (left_kids - 1) * sizeof(keys[0]));
        std::memcpy(in->child, kids, left_kids * sizeof(kids[0]));
        r->count = right_kids;
        std::memcpy(r->key, keys + left_kids, (right_kids - 1) * sizeof(keys[0]));
        std::memcpy(r->child, kids + left_kids, right_kids * sizeof(kids[0]));
        add_child(p, lv + 1, keys[left_kids - 1], r);
    }
    // Puts (key, child) after child s.
    static void inner_put(Inner* in, unsigned s, std::uint64_t key, void* child) {
        unsigned keys = in->count - 1;
        std::memmove(&in->key[s + 1], &in->key[s], (keys - s) * sizeof(in->key[0]));
        std::memmove(&in->child[s + 2], &in->child[s + 1], (in->count - s - 1) * sizeof(void*));
        in->key[s] = key;
        in->child[s + 1] = child;
        ++in->count;
    }
    // Removes child c (c >= 1) and the key before it.
    static void inner_remove(Inner* in, unsigned c) {
        std::memmove(&in->key[c - 1], &in->key[c], (in->count - 1 - c) * sizeof(in->key[0]));
        std::memmove(&in->child[c], &in->child[c + 1], (in->count - 1 - c) * sizeof(void*));
        --in->count;
    }

    // The leaf at the end of the path has fewer than kLeafMin entries:
    // borrow from a sibling that can spare one, else merge with it.
    void fix_leaf(Path& p) {
        Leaf* l = p.leaf;
        Inner* parent = p.inner[0];
        unsigned s = p.slot[0];
        Leaf* left = s > 0 ? static_cast<Leaf*>(parent->child[s - 1]) : nullptr;
        Leaf* right = s + 1 < parent->count ? static_cast<Leaf*>(parent->child[s + 1]) : nullptr;
        if (left && left->count > kLeafMin) {
            copy_entries(l, 1, l, 0, l->count);
            copy_entries(l, 0, left, left->count - 1, 1);
            --left->count;
            ++l->count;
            parent->key[s - 1] = l->start[0];
            return;
        }
        if (right && right->count > kLeafMin) {
            copy_entries(l, l->count, right, 0, 1);
            ++l->count;
            copy_entries(right, 0, right, 1, right->count - 1);
            --right->count;
            parent->key[s] = right->start[0];
            return;
        }
        if (left) {
            merge_leaves(left, l);
            remove_child(p, 0, s);
        } else {
            merge_leaves(l, right);
            remove_child(p, 0, s + 1);
        }
    }
    void merge_leaves(Leaf* into, Leaf* from) {
        copy_entries(into, into->count, from, 0, from->count);
        into->count += from->count;
        into->next = from->next;
        if (from->next) from->next->prev = into;
        give(from);
    }
    // Removes child c of the node at level lv of the path, then repairs
    // that node in turn.
    void remove_child(Path& p, unsigned lv, unsigned c) {
        Inner* in = p.inner[lv];
        inner_remove(in, c);
        if (lv + 1 == height_) {
            if (in->count == 1) {  // the root has one child left: drop a level
                root_ = in->child[0];
                --height_;
                give(in);
            }
            return;
        }
        if (in->count >= kInnerMin) return;
        Inner* parent = p.inner[lv + 1];
        unsigned s = p.slot[lv + 1];
        Inner* left = s > 0 ? static_cast<Inner*>(parent->child[s - 1]) : nullptr;
        Inner* right = s + 1 < parent->count ? static_cast<Inner*>(parent->child[s + 1]) : nullptr;
        if (left && left->count > kInnerMin) {  // rotate right through the parent
            inner_shift_right(in);
            in->key[0] = parent->key[s - 1];
            in->child[0] = left->child[left->count - 1];
            parent->key[s - 1] = left->key[left->count - 2];
            --left->count;
            return;
        }
        if (right && right->count > kInnerMin) {  // rotate left through the parent
            in->key[in->count - 1] = parent->key[s];
            in->child[in->count] = right->child[0];
            ++in->count;
            parent->key[s] = right->key[0];
            std::memmove(&right->key[0], &right->key[1],
                         (right->count - 2) * sizeof(right->key[0]));
            std::memmove(&right->child[0], &right->child[1], (right->count - 1) * sizeof(void*));
            --right->count;
            return;
        }
        if (left) {
            merge_inner(left, parent->key[s - 1], in);
            remove_child(p, lv + 1, s);
        } else {
            merge_inner(in, parent->key[s], right);
            remove_child(p, lv + 1, s + 1);
        }
    }
    static void inner_shift_right(Inner* in) {
        std::memmove(&in->key[1], &in->key[0], (in->count - 1) * sizeof(in->key[0]));
        std::memmove(&in->child[1], &in->child[0], in->count * sizeof(void*));
        ++in->count;
    }
    void merge_inner(Inner* into, std::uint64_t middle, Inner* from) {
        into->key[into->count - 1] = middle;
        std::memcpy(&into->key[into->count], from->key, (from->count - 1) * sizeof(from->key[0]));
        std::memcpy(&into->child[into->count], from->child, from->count * sizeof(void*));
        into->count += from->count;
        give(from);
    }

    // Nodes a valid tree of `entries` ranges can have at most: every
    // non-root node is at least half full.
    static std::size_t tree_bound(std::size_t entries) {
        std::size_t level = entries / kLeafMin;
        if (level == 0) level = 1;
        std::size_t total = level;
        while (level > 1) {
            level /= kInnerMin;
            if (level == 0) level = 1;
            total += level;
        }
        return total;
    }

    void free_subtree(void* n, unsigned lv) {
        if (lv > 0) {
            auto* in = static_cast<Inner*>(n);
            for (unsigned i = 0; i < in->count; ++i) free_subtree(in->child[i], lv - 1);
        }
        give(n);
    }

    const char* check_node(const void* n, unsigned lv, std::uint64_t lo, std::uint64_t hi,
                           bool is_root, std::size_t& count, const Leaf*& prev) const {
        if (lv == 0) {
            auto* l = static_cast<const Leaf*>(n);
            if (!is_root && l->count < kLeafMin) return "leaf under half full";
            if (l->count > kLeafCap) return "leaf over capacity";
            if (l->prev != prev) return "leaf prev link";
            if (prev && prev->next != l) return "leaf next link";
            for (unsigned i = 0; i < l->count; ++i) {
                if (l->start[i] < lo || l->start[i] >= hi) return "start outside separators";
                if (i > 0 && l->start[i] <= l->start[i - 1]) return "starts out of order";
            }
            count += l->count;
            prev = l;
            return nullptr;
        }
        auto* in = static_cast<const Inner*>(n);
        if (in->count > kInnerCap) return "inner over capacity";
        if (is_root ? in->count < 2 : in->count < kInnerMin) return "inner under half full";
        for (unsigned i = 0; i < in->count; ++i) {
            std::uint64_t a = i == 0 ? lo : in->key[i - 1];
            std::uint64_t b = i + 1 == in->count ? hi : in->key[i];
            if (a > b) return "separators out of order";
            if (const char* e = check_node(in->child[i], lv - 1, a, b, false, count, prev))
                return e;
        }
        return nullptr;
    }

    SlabPool<kNodeBytes, 64> pool_;
    void* root_ = nullptr;
    unsigned height_ = 0;  // inner levels above the leaves
    std::size_t size_ = 0;
    // The finger: the leaf of the last full descent and its bounds, valid
    // while version_ (bumped by every change of the tree's shape or of a
    // separator) has not moved.
    Leaf* finger_ = nullptr;
    std::uint64_t finger_lo_ = 0, finger_hi_ = 0;
    std::uint64_t finger_version_ = 0, version_ = 0;
};

}  // namespace numakeep::detail
