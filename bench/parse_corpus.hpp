// The corpus of bench/parse and referkit's side of its checksum: loading bench/corpus/*.sip and
// folding the fields every adapter folds (bench/peers/peers.hpp), so that every library is seen to
// do the same job before it is timed.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "peers.hpp"
#include "referkit/core/message.hpp"

namespace referkit::bench {

inline constexpr std::uint64_t kSeed = 0xcbf29ce484222325ULL;  // the adapters' seed (FNV offset basis)

struct Sample {
    std::string name;   // file name without ".sip"
    std::string bytes;  // raw message
};

struct Corpus {
    std::vector<Sample> all;         // sorted by name
    std::vector<const Sample*> mix;  // 01_..06_
    std::vector<const Sample*> tricky;
};

// True for the typical transfer mix, files 01_..06_.
bool in_mix(const std::string& name);
// Loads every .sip file of `dir` (sorted by name); false, with a message on stderr, when there is
// none or the mix (01_..06_) is not six messages.
bool load_corpus(const std::string& dir, Corpus& corpus);

// referkit's checksum of a parsed message (nullopt when a folded field is missing), and the same
// from raw bytes, parsed from a fresh buffer as every library does.
std::optional<std::uint64_t> referkit_fold(const referkit::Message& m);
PeerResult referkit_parse(std::string_view raw);

// One folded field, for explaining a mismatch.
struct Field {
    std::string name;
    bool is_number = false;
    std::string text;
    std::uint64_t number = 0;
};
std::vector<Field> referkit_fields(const referkit::Message& m);
std::uint64_t checksum_of(const std::vector<Field>& fields);
// Which field makes referkit's checksum differ from `peer_sum`, in words.
std::string explain_mismatch(const std::vector<Field>& fields, std::uint64_t peer_sum);

}  // namespace referkit::bench
