// SPDX-License-Identifier: MIT
// The runtime's own operator new/delete (hidden, so the program's are left
// alone): plain malloc, and an allocation failure ends the process the way
// an exception-free build would, without pulling libstdc++'s exception
// machinery into a library that is loaded into every program.
#include <cstdlib>
#include <new>

void* operator new(std::size_t n) {
    void* p = std::malloc(n ? n : 1);
    if (!p) std::abort();
    return p;
}
void* operator new[](std::size_t n) {
    return operator new(n);
}
void operator delete(void* p) noexcept {
    std::free(p);
}
void operator delete[](void* p) noexcept {
    std::free(p);
}
void operator delete(void* p, std::size_t) noexcept {
    std::free(p);
}
void operator delete[](void* p, std::size_t) noexcept {
    std::free(p);
}

// The one libstdc++ helper the containers reach (std::vector growth beyond
// max_size). Defined here so the static libstdc++ contributes no exception
// classes, demangler or verbose terminate handler.
namespace std {
[[noreturn]] void __throw_length_error(const char*) {
    std::abort();
}
}  // namespace std
