// Replays a libFuzzer target without libFuzzer: every file in the given directories (the seed
// corpus), then --runs=N deterministic pseudo-random inputs (mutations of the seeds and random
// bytes). Used by `make test` so every fuzz target is exercised in the normal g++ build; the real
// coverage-guided runs use -DBPFC_FUZZ=ON with clang (tests/fuzz/CMakeLists.txt).
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

int main(int argc, char** argv) {
  long runs = 10000;
  std::vector<std::vector<uint8_t>> seeds;
  for (int i = 1; i < argc; ++i) {
    if (std::strncmp(argv[i], "--runs=", 7) == 0) {
      runs = std::strtol(argv[i] + 7, nullptr, 10);
      continue;
    }
    std::filesystem::path p(argv[i]);
    std::error_code ec;
    std::vector<std::filesystem::path> files;
    if (std::filesystem::is_directory(p, ec)) {
      for (const auto& e : std::filesystem::directory_iterator(p, ec))
        if (e.is_regular_file()) files.push_back(e.path());
    } else if (std::filesystem::exists(p, ec)) {
      files.push_back(p);
    }
    for (const auto& f : files) {
      std::ifstream in(f, std::ios::binary);
      seeds.emplace_back(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    }
  }
  for (const auto& s : seeds) LLVMFuzzerTestOneInput(s.data(), s.size());
  std::mt19937_64 rng(12345);
  std::vector<uint8_t> buf;
  for (long r = 0; r < runs; ++r) {
    if (!seeds.empty() && (rng() & 3) != 0) {
      buf = seeds[rng() % seeds.size()];
      int edits = 1 + static_cast<int>(rng() % 8);
      for (int e = 0; e < edits; ++e) {
        size_t what = rng() % 4;
        if (what == 0 && !buf.empty()) buf[rng() % buf.size()] = static_cast<uint8_t>(rng());
        else if (what == 1) buf.insert(buf.begin() + static_cast<long>(buf.empty() ? 0 : rng() % buf.size()), static_cast<uint8_t>(rng()));
        else if (what == 2 && !buf.empty()) buf.erase(buf.begin() + static_cast<long>(rng() % buf.size()));
        else if (!buf.empty()) {
          size_t a = rng() % buf.size(), n = 1 + rng() % 8;
          for (size_t j = 0; j < n && a + j < buf.size(); ++j) buf.insert(buf.begin() + static_cast<long>(a), buf[a + j]);
        }
      }
    } else {
      buf.resize(rng() % 256);
      for (auto& b : buf) b = static_cast<uint8_t>(rng());
    }
    LLVMFuzzerTestOneInput(buf.data(), buf.size());
  }
  std::printf("replayed %zu seeds and %ld generated inputs\n", seeds.size(), runs);
  return 0;
}
