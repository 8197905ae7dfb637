// Internal to jit/asmjit: W^X code pages for NativeCode (see code_memory.cpp).
#pragma once

#include <cstddef>

namespace bpf::jit::detail {
size_t page_size();
// At least `bytes`, read+write (counted as one live filter; release_code() gives it back).
void* map_writable(size_t bytes, size_t* mapped);
// read+write -> read+execute. The pages are never both writable and executable.
bool make_executable(void* p, size_t mapped);
// Returns pages obtained from map_writable (to the page cache, or unmapped).
void release_code(void* p, size_t mapped);
// Freed pages kept for reuse (bounded).
size_t cached_pages();
}  // namespace bpf::jit::detail
