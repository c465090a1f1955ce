// Standalone check of the peer adapters (no test framework).
//
//   peers_selftest <corpus-dir> [repeat]
//
// Reads every regular file in <corpus-dir> (sorted by name) and, for each peer library, parses
// it (ok/fail + checksum), then keeps it and prints it with the library's printer (printed size,
// or "-" if the library has no printer or rejected the message). With repeat > 1 every parse and
// print is repeated that many times (useful under valgrind); results must stay identical.
// Exits 1 if any peer fails to parse one of the files 01..06 (the typical transfer mix) or gives
// unstable results, 2 on usage/IO errors.
#include "peers.hpp"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace {

using namespace referkit::bench;

struct Peer {
    const char* name;
    void (*init)();
    PeerResult (*parse)(std::string_view);
    PeerMessage* (*keep)(std::string_view);
};

constexpr Peer kPeers[] = {
    {"osip", osip_init, osip_parse, osip_keep},
    {"sofia", sofia_init, sofia_parse, sofia_keep},
    {"re", re_init, re_parse, re_keep},
};

bool read_file(const std::filesystem::path& path, std::string& out) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return false;
    out.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    return true;
}

// Files 01_* .. 06_* are the typical transfer mix every peer must parse.
bool is_required(const std::string& name) {
    return name.size() >= 3 && name[0] == '0' && name[1] >= '1' && name[1] <= '6' &&
           name[2] == '_';
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 2 || argc > 3) {
        std::fprintf(stderr, "usage: %s <corpus-dir> [repeat]\n", argv[0]);
        return 2;
    }
    const int repeat = argc == 3 ? std::max(1, std::atoi(argv[2])) : 1;

    std::vector<std::filesystem::path> files;
    std::error_code ec;
    for (const auto& entry : std::filesystem::directory_iterator(argv[1], ec))
        if (entry.is_regular_file()) files.push_back(entry.path());
    if (ec || files.empty()) {
        std::fprintf(stderr, "cannot list files in %s\n", argv[1]);
        return 2;
    }
    std::sort(files.begin(), files.end());

    for (const Peer& peer : kPeers) peer.init();

    bool failed = false;
    std::string raw;
    std::string printed;
    for (const auto& path : files) {
        const std::string name = path.filename().string();
        if (!read_file(path, raw)) {
            std::fprintf(stderr, "cannot read %s\n", path.c_str());
            return 2;
        }
        // Hand the peers an exact-size, unterminated copy so that valgrind would catch a library
        // reading past the end of the input.
        const auto exact = std::make_unique_for_overwrite<char[]>(raw.size());
        std::copy(raw.begin(), raw.end(), exact.get());
        const std::string_view input{exact.get(), raw.size()};

        std::printf("%s (%zu bytes)\n", name.c_str(), raw.size());
        for (const Peer& peer : kPeers) {
            const PeerResult first = peer.parse(input);
            bool stable = true;
            for (int i = 1; i < repeat; ++i) {
                const PeerResult again = peer.parse(input);
                stable = stable && again.ok == first.ok && again.checksum == first.checksum;
            }

            std::string size_text = "-";
            if (std::unique_ptr<PeerMessage> kept{peer.keep(input)}) {
                const std::size_t size = kept->print(printed);
                for (int i = 1; i < repeat; ++i) stable = stable && kept->print(printed) == size;
                size_text = std::to_string(size);
            }

            std::printf("  %-6s %-4s checksum=%016llx printed=%s%s\n", peer.name,
                        first.ok ? "ok" : "FAIL",
                        static_cast<unsigned long long>(first.checksum), size_text.c_str(),
                        stable ? "" : "  UNSTABLE");
            if (!stable || (!first.ok && is_required(name))) failed = true;
        }
    }
    std::printf(failed ? "selftest: FAILED\n" : "selftest: passed\n");
    return failed ? 1 : 0;
}
