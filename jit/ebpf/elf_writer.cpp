// The ELF object form of an eBPF translation (see output.hpp): written by hand, five sections.
//   [0] null  [1] .strtab (section and symbol names)  [2] <hook> the program (AX, align 8)
//   [3] license "GPL" (WA)  [4] .symtab: null, then global FUNC bpfc_<hook> (libbpf finds
//   programs through their symbols) and global OBJECT _license.
// Layout: ELF header, section contents in order, then the section header table (8-aligned).
#include <elf.h>

#include <bit>
#include <cstring>
#include <string>

#include "jit/ebpf/output.hpp"

namespace bpf::jit::ebpf {
namespace {

constexpr uint16_t kEmBpf = 247;  // EM_BPF

template <class T>
void put(std::string& out, const T& v) {
  out.append(reinterpret_cast<const char*>(&v), sizeof v);
}
void align(std::string& out, size_t a) {
  while (out.size() % a) out.push_back('\0');
}

}  // namespace

std::string write_elf(const EbpfProgram& p) {
  const std::string section(hook_name(p.hook));
  const std::string func = "bpfc_" + section;
  // .strtab: "\0.strtab\0<section>\0license\0.symtab\0<func>\0_license\0"
  std::string strtab(1, '\0');
  auto add_str = [&](const std::string& s) {
    const uint32_t at = static_cast<uint32_t>(strtab.size());
    strtab += s;
    strtab.push_back('\0');
    return at;
  };
  const uint32_t n_strtab = add_str(".strtab"), n_prog = add_str(section),
                 n_license = add_str("license"), n_symtab = add_str(".symtab"),
                 n_func = add_str(func), n_lic_sym = add_str("_license");
  const std::string code(reinterpret_cast<const char*>(p.insns.data()),
                         p.insns.size() * sizeof(EbpfInsn));
  const std::string license("GPL\0", 4);

  Elf64_Sym syms[3] = {};
  syms[1].st_name = n_func;
  syms[1].st_info = ELF64_ST_INFO(STB_GLOBAL, STT_FUNC);
  syms[1].st_shndx = 2;
  syms[1].st_size = code.size();
  syms[2].st_name = n_lic_sym;
  syms[2].st_info = ELF64_ST_INFO(STB_GLOBAL, STT_OBJECT);
  syms[2].st_shndx = 3;
  syms[2].st_size = license.size();

  std::string out(sizeof(Elf64_Ehdr), '\0');
  Elf64_Shdr sh[5] = {};
  auto place = [&](Elf64_Shdr& s, const void* data, size_t size, size_t al) {
    align(out, al);
    s.sh_offset = out.size();
    s.sh_size = size;
    s.sh_addralign = al;
    out.append(static_cast<const char*>(data), size);
  };
  sh[1].sh_name = n_strtab;
  sh[1].sh_type = SHT_STRTAB;
  place(sh[1], strtab.data(), strtab.size(), 1);
  sh[2].sh_name = n_prog;
  sh[2].sh_type = SHT_PROGBITS;
  sh[2].sh_flags = SHF_ALLOC | SHF_EXECINSTR;
  place(sh[2], code.data(), code.size(), 8);
  sh[3].sh_name = n_license;
  sh[3].sh_type = SHT_PROGBITS;
  sh[3].sh_flags = SHF_ALLOC | SHF_WRITE;
  place(sh[3], license.data(), license.size(), 1);
  sh[4].sh_name = n_symtab;
  sh[4].sh_type = SHT_SYMTAB;
  sh[4].sh_link = 1;
  sh[4].sh_info = 1;  // first global symbol
  sh[4].sh_entsize = sizeof(Elf64_Sym);
  place(sh[4], syms, sizeof syms, 8);
  align(out, 8);

  Elf64_Ehdr eh = {};
  std::memcpy(eh.e_ident, ELFMAG, SELFMAG);
  eh.e_ident[EI_CLASS] = ELFCLASS64;
  eh.e_ident[EI_DATA] = std::endian::native == std::endian::little ? ELFDATA2LSB : ELFDATA2MSB;
  eh.e_ident[EI_VERSION] = EV_CURRENT;
  eh.e_type = ET_REL;
  eh.e_machine = kEmBpf;
  eh.e_version = EV_CURRENT;
  eh.e_shoff = out.size();
  eh.e_ehsize = sizeof(Elf64_Ehdr);
  eh.e_shentsize = sizeof(Elf64_Shdr);
  eh.e_shnum = 5;
  eh.e_shstrndx = 1;
  for (const Elf64_Shdr& s : sh) put(out, s);
  std::memcpy(out.data(), &eh, sizeof eh);
  return out;
}

}  // namespace bpf::jit::ebpf
