// `bpfc --equiv` (see bpfc_equiv.cpp): the whole command, given bpfc's argv.
#pragma once

namespace bpf::tools {

int run_equiv(int argc, char** argv);

}  // namespace bpf::tools
