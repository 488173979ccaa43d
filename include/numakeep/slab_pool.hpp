// SPDX-License-Identifier: MIT
// Where the record store gets its memory: a heap hook and a pool of
// fixed-size, cache-line aligned blocks carved from large chunks.
//
// The preload records ranges while it holds its lock, and that lock is held
// across fork() and may be taken in a signal handler: nothing there may call
// malloc. So the store never allocates behind the caller's back: every block
// comes from this pool, the pool grows only in reserve(), and reserve()
// reports failure instead of throwing (the preload builds with
// -fno-exceptions). Memory goes back to the heap only in clear() and the
// destructor: a store keeps its high-water mark, as the kernel keeps a
// process's vma slab.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdlib>

namespace numakeep {

// How the store gets heap memory. The default is malloc/free; the preload
// may plug in mmap, tests plug in counters and failures.
struct HeapHooks {
    void* (*allocate)(std::size_t bytes, void* ctx) = nullptr;  // nullptr when none
    void (*release)(void* p, std::size_t bytes, void* ctx) = nullptr;
    void* ctx = nullptr;

    static HeapHooks malloc_free() {
        return HeapHooks{[](std::size_t n, void*) { return std::malloc(n); },
                         [](void* p, std::size_t, void*) { std::free(p); }, nullptr};
    }
    void* get(std::size_t bytes) const { return allocate(bytes, ctx); }
    void put(void* p, std::size_t bytes) const {
        if (p) release(p, bytes, ctx);
    }
};

inline constexpr std::size_t kCacheLine = 64;

// A free list of BlockBytes-sized blocks, BlocksPerChunk to a chunk. take()
// and give() never touch the heap; grow_to() does.
template <std::size_t BlockBytes, std::size_t BlocksPerChunk>
class SlabPool {
    static_assert(BlockBytes % kCacheLine == 0, "blocks are whole cache lines");

  public:
    explicit SlabPool(HeapHooks hooks) : hooks_(hooks) {}
    SlabPool(const SlabPool&) = delete;
    SlabPool& operator=(const SlabPool&) = delete;
    ~SlabPool() { release_all(); }

    // Ensures free_blocks() >= n. False when the heap said no (whatever
    // chunks were had are kept: they are free blocks like any other).
    bool grow_to(std::size_t n) {
        while (free_count_ < n)
            if (!add_chunk()) return false;
        return true;
    }
    // A block, or nullptr when the pool is empty (callers grow first).
    void* take() {
        FreeBlock* b = free_;
        if (!b) return nullptr;
        free_ = b->next;
        --free_count_;
        ++used_;
        return b;
    }
    void give(void* p) {
        auto* b = static_cast<FreeBlock*>(p);
        b->next = free_;
        free_ = b;
        ++free_count_;
        --used_;
    }
    // Gives every chunk back to the heap; all blocks handed out die with it.
    void release_all() {
        while (chunks_) {
            Chunk* c = chunks_;
            chunks_ = c->next;
            hooks_.put(c->raw, kChunkBytes);
        }
        free_ = nullptr;
        free_count_ = used_ = chunk_count_ = 0;
    }

    std::size_t free_blocks() const { return free_count_; }
    std::size_t used_blocks() const { return used_; }
    std::size_t heap_bytes() const { return chunk_count_ * kChunkBytes; }

  private:
    struct FreeBlock {
        FreeBlock* next;
    };
    struct Chunk {
        Chunk* next;
        void* raw;  // what the hook returned (the chunk is aligned inside it)
    };
    // One cache line for the chunk header, one of slack to align it.
    static constexpr std::size_t kChunkBytes = 2 * kCacheLine + BlockBytes * BlocksPerChunk;

    bool add_chunk() {
        if (!hooks_.allocate) return false;
        void* raw = hooks_.get(kChunkBytes);
        if (!raw) return false;
        auto base = (reinterpret_cast<std::uintptr_t>(raw) + kCacheLine - 1) & ~(kCacheLine - 1);
        auto* c = reinterpret_cast<Chunk*>(base);
        c->raw = raw;
        c->next = chunks_;
        chunks_ = c;
        ++chunk_count_;
        auto* blocks = reinterpret_cast<unsigned char*>(base + kCacheLine);
        // Thread them in address order so a fresh pool hands out neighbours.
        for (std::size_t i = BlocksPerChunk; i-- > 0;) {
            auto* b = reinterpret_cast<FreeBlock*>(blocks + i * BlockBytes);
            b->next = free_;
            free_ = b;
        }
        free_count_ += BlocksPerChunk;
        return true;
    }

    HeapHooks hooks_;
    FreeBlock* free_ = nullptr;
    Chunk* chunks_ = nullptr;
    std::size_t free_count_ = 0;
    std::size_t used_ = 0;
    std::size_t chunk_count_ = 0;
};

}  // namespace numakeep
