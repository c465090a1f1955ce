// Adapters around the C SIP stacks we compare against. Linked in bench/ only.
// Each adapter starts from raw bytes on every call (the library copies/owns them as it
// normally would), parses the message, and folds the parsed fields named below into a
// checksum so the compiler cannot skip work and so every library is seen to do the same job.
//
// Fields folded into the checksum (every adapter, same set):
//   start line: method or status code; Request-URI host (requests)
//   top Via: host and branch; From tag; To tag; Call-ID; CSeq number and method;
//   Refer-To URI host, Event type, Subscription-State value (when present).
#pragma once
#include <cstdint>
#include <string>
#include <string_view>

namespace referkit::bench {

// Mixes a view into a running checksum (order dependent). It reads every byte, eight at a time:
// a byte-at-a-time hash is a chain of multiplies that would cost as much as a fast parser and
// flatten the ratios between libraries.
inline std::uint64_t mix(std::uint64_t h, std::string_view s) noexcept {
    std::size_t i = 0;
    for (; i + 8 <= s.size(); i += 8) {
        std::uint64_t w;
        __builtin_memcpy(&w, s.data() + i, 8);
        h = (h ^ w) * 0x100000001b3ULL;
    }
    std::uint64_t tail = 0;
    for (std::size_t k = 0; i + k < s.size(); ++k) tail |= static_cast<std::uint64_t>(static_cast<unsigned char>(s[i + k])) << (8 * k);
    h = (h ^ tail) * 0x100000001b3ULL;
    return (h ^ s.size()) * 0x100000001b3ULL;
}
inline std::uint64_t mix(std::uint64_t h, std::uint64_t v) noexcept {
    return (h ^ v) * 0x100000001b3ULL;
}

struct PeerResult {
    bool ok = false;
    std::uint64_t checksum = 0;
};

// A message parsed by a peer library and kept for the printing benchmark.
class PeerMessage {
public:
    virtual ~PeerMessage() = default;
    // Serialises the parsed message into out (cleared first) with the library's own printer,
    // forcing a real print of every header (not a copy of the original bytes) where the library
    // allows it. Returns the number of bytes printed, 0 on failure.
    virtual std::size_t print(std::string& out) = 0;
};

// For each peer: init() once (safe to call again); parse() from raw bytes, releasing everything
// before it returns; keep() parses and keeps the message for printing (nullptr if the library
// cannot parse it or has no printer — the adapter documents which).
void osip_init();
PeerResult osip_parse(std::string_view raw);
PeerMessage* osip_keep(std::string_view raw);

void sofia_init();
PeerResult sofia_parse(std::string_view raw);
PeerMessage* sofia_keep(std::string_view raw);

void re_init();
PeerResult re_parse(std::string_view raw);
PeerMessage* re_keep(std::string_view raw);

}  // namespace referkit::bench
