/* Lets the non-PIC libasmjit.a of Debian 12 (libasmjit-dev ships no shared library and builds
 * its archive as PIE code) be linked into libbpfc.so. PIE code reads the external variable
 * `stderr` with a PC-relative relocation, which a shared object cannot resolve against libc;
 * every other reference in the archive is to its own symbols, which libbpfc.map makes local, so
 * they resolve at link time. This file gives the library a hidden `stderr` of its own that the
 * linker binds those references to (a definition in the link wins over libc's), set to libc's
 * stderr before any code of the library runs. asmjit uses stderr only for its debug and
 * assertion messages; our own code never prints (bpfc.h). Linked only into libbpfc.so. */
#include <dlfcn.h>

__attribute__((visibility("hidden"))) void *bpfc_libc_stderr __asm__("stderr");

__attribute__((constructor)) static void bpfc_bind_stderr(void) {
  void **libc = (void **)dlsym(RTLD_NEXT, "stderr");
  if (libc != 0) bpfc_libc_stderr = *libc;
}
