// Internal: the header-name table and its lookup, inline so the message parser's hot loop can
// use it without a call. Not installed.
#pragma once
#include <array>
#include <cstdint>
#include <cstring>
#include <string_view>

#include "referkit/core/header_id.hpp"

namespace referkit::header_table {


struct Entry {
    std::string_view name;  // canonical
    HeaderId id;
    char compact;
    bool list;
    bool single;
};

// RFC 3261 §20, RFC 3262, 3265/6665, 3311, 3313, 3323, 3325, 3326, 3327, 3329, 3515, 3608, 3841,
// 3891, 3892, 4028, 4474, 4488, 4538. Compact forms from the IANA SIP parameters registry.
inline constexpr std::array<Entry, header_id_count> entries{{
    {"", HeaderId::other, 0, false, false},
    {"Accept", HeaderId::accept, 0, true, false},
    {"Accept-Contact", HeaderId::accept_contact, 'a', true, false},
    {"Accept-Encoding", HeaderId::accept_encoding, 0, true, false},
    {"Accept-Language", HeaderId::accept_language, 0, true, false},
    {"Alert-Info", HeaderId::alert_info, 0, true, false},
    {"Allow", HeaderId::allow, 0, true, false},
    {"Allow-Events", HeaderId::allow_events, 'u', true, false},
    {"Authentication-Info", HeaderId::authentication_info, 0, false, true},
    {"Authorization", HeaderId::authorization, 0, false, false},
    {"Call-ID", HeaderId::call_id, 'i', false, true},
    {"Call-Info", HeaderId::call_info, 0, true, false},
    {"Contact", HeaderId::contact, 'm', true, false},
    {"Content-Disposition", HeaderId::content_disposition, 0, false, true},
    {"Content-Encoding", HeaderId::content_encoding, 'e', true, false},
    {"Content-Language", HeaderId::content_language, 0, true, false},
    {"Content-Length", HeaderId::content_length, 'l', false, true},
    {"Content-Type", HeaderId::content_type, 'c', false, true},
    {"CSeq", HeaderId::cseq, 0, false, true},
    {"Date", HeaderId::date, 0, false, true},
    {"Error-Info", HeaderId::error_info, 0, true, false},
    {"Event", HeaderId::event, 'o', false, true},
    {"Expires", HeaderId::expires, 0, false, true},
    {"From", HeaderId::from, 'f', false, true},
    {"Identity", HeaderId::identity, 'y', false, false},  // RFC 8224 §4: may appear more than once
    {"Identity-Info", HeaderId::identity_info, 'n', false, true},
    {"In-Reply-To", HeaderId::in_reply_to, 0, true, false},
    {"Max-Forwards", HeaderId::max_forwards, 0, false, true},
    {"Min-Expires", HeaderId::min_expires, 0, false, true},
    {"Min-SE", HeaderId::min_se, 0, false, true},
    {"MIME-Version", HeaderId::mime_version, 0, false, true},
    {"Organization", HeaderId::organization, 0, false, true},
    {"P-Asserted-Identity", HeaderId::p_asserted_identity, 0, true, false},
    {"Path", HeaderId::path, 0, true, false},
    {"Priority", HeaderId::priority, 0, false, true},
    {"Privacy", HeaderId::privacy, 0, false, false},
    {"Proxy-Authenticate", HeaderId::proxy_authenticate, 0, false, false},
    {"Proxy-Authorization", HeaderId::proxy_authorization, 0, false, false},
    {"Proxy-Require", HeaderId::proxy_require, 0, true, false},
    {"RAck", HeaderId::rack, 0, false, true},
    {"Reason", HeaderId::reason, 0, true, false},
    {"Record-Route", HeaderId::record_route, 0, true, false},
    {"Refer-Sub", HeaderId::refer_sub, 0, false, true},
    {"Refer-To", HeaderId::refer_to, 'r', false, true},
    {"Referred-By", HeaderId::referred_by, 'b', false, true},
    {"Reject-Contact", HeaderId::reject_contact, 'j', true, false},
    {"Replaces", HeaderId::replaces, 0, false, true},
    {"Reply-To", HeaderId::reply_to, 0, false, true},
    {"Request-Disposition", HeaderId::request_disposition, 'd', true, false},
    {"Require", HeaderId::require, 0, true, false},
    {"Retry-After", HeaderId::retry_after, 0, false, true},
    {"Route", HeaderId::route, 0, true, false},
    {"RSeq", HeaderId::rseq, 0, false, true},
    {"Server", HeaderId::server, 0, false, false},
    {"Service-Route", HeaderId::service_route, 0, true, false},
    {"Session-Expires", HeaderId::session_expires, 'x', false, true},
    {"Subject", HeaderId::subject, 's', false, false},
    {"Subscription-State", HeaderId::subscription_state, 0, false, true},
    {"Supported", HeaderId::supported, 'k', true, false},
    {"Target-Dialog", HeaderId::target_dialog, 0, false, true},
    {"Timestamp", HeaderId::timestamp, 0, false, true},
    {"To", HeaderId::to, 't', false, true},
    {"Unsupported", HeaderId::unsupported, 0, true, false},
    {"User-Agent", HeaderId::user_agent, 0, false, false},
    {"Via", HeaderId::via, 'v', true, false},
    {"Warning", HeaderId::warning, 0, true, false},
    {"WWW-Authenticate", HeaderId::www_authenticate, 0, false, false},
}};

constexpr bool ids_in_order() {
    for (std::size_t i = 0; i < entries.size(); ++i)
        if (static_cast<std::size_t>(entries[i].id) != i) return false;
    return true;
}
static_assert(ids_in_order(), "entries must be indexed by HeaderId");

inline constexpr std::size_t max_len = 20;

// Open-addressing hash table over the full names, keyed by length and three folded characters:
// one or two probes and one comparison per lookup.
inline constexpr std::size_t slots = 256;
constexpr std::size_t slot_of(std::size_t n, char first, char second, char last) noexcept {
    return (n * 37 + static_cast<std::size_t>(first | 0x20) * 11 + static_cast<std::size_t>(second | 0x20) * 5 +
            static_cast<std::size_t>(last | 0x20)) & (slots - 1);
}

// A slot holds the id, the length and the name already folded, so a lookup reads one slot.
struct Slot {
    HeaderId id = HeaderId::other;  // HeaderId::other = empty
    std::uint8_t len = 0;
    char folded[22] = {};
};

struct Index {
    std::array<Slot, slots> table{};
    std::array<HeaderId, 26> compact{};
};

constexpr Index make_index() {
    Index ix{};
    for (const Entry& e : entries) {
        if (e.id == HeaderId::other) continue;
        std::size_t s = slot_of(e.name.size(), e.name[0], e.name[1], e.name.back());
        while (ix.table[s].id != HeaderId::other) s = (s + 1) & (slots - 1);
        ix.table[s].id = e.id;
        ix.table[s].len = static_cast<std::uint8_t>(e.name.size());
        for (std::size_t i = 0; i < e.name.size(); ++i) ix.table[s].folded[i] = static_cast<char>(e.name[i] | 0x20);
        if (e.compact) ix.compact[static_cast<std::size_t>(e.compact - 'a')] = e.id;
    }
    return ix;
}
inline constexpr Index index = make_index();
static_assert(max_len <= sizeof(Slot::folded));

// The name is compared against a canonical name of letters, digits and '-': OR-ing 0x20 folds
// ASCII letters and leaves '-' and digits alone, and no other byte can fold onto them.
inline std::uint64_t load(const char* p, std::size_t n) noexcept {
    std::uint64_t v = 0;
    std::memcpy(&v, p, n);
    return v;
}
// Compares in at most a few word loads; the last load overlaps the previous one when the length is
// not a multiple of the word size. b is already folded.
inline bool equal_folded(const char* a, const char* b, std::size_t n) noexcept {
    constexpr std::uint64_t fold = 0x2020202020202020ULL;
    if (n >= 8) {
        for (std::size_t i = 0; i + 8 < n; i += 8)
            if ((load(a + i, 8) | fold) != load(b + i, 8)) return false;
        return (load(a + n - 8, 8) | fold) == load(b + n - 8, 8);
    }
    constexpr std::uint64_t fold4 = 0x20202020ULL, fold2 = 0x2020ULL;  // only the bytes loaded
    if (n >= 4) return ((load(a, 4) | fold4) == load(b, 4)) && ((load(a + n - 4, 4) | fold4) == load(b + n - 4, 4));
    return ((load(a, 2) | fold2) == load(b, 2)) && ((load(a + n - 2, 2) | fold2) == load(b + n - 2, 2));
}

inline HeaderId lookup(std::string_view name) noexcept {
    const std::size_t n = name.size();
    if (n == 1) {
        char c = static_cast<char>(name[0] | 0x20);
        return (c >= 'a' && c <= 'z') ? index.compact[static_cast<std::size_t>(c - 'a')] : HeaderId::other;
    }
    if (n < 2 || n > max_len) return HeaderId::other;
    std::size_t s = slot_of(n, name[0], name[1], name[n - 1]);
    while (true) {
        const Slot& slot = index.table[s];
        if (slot.id == HeaderId::other) return HeaderId::other;
        if (slot.len == n && equal_folded(name.data(), slot.folded, n)) return slot.id;
        s = (s + 1) & (slots - 1);
    }
}

}  // namespace referkit::header_table
