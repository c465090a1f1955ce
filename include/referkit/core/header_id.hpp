// Header-field names: ids for every header the library knows (RFC 3261 §20 and the extensions a
// transfer uses), their canonical spelling and compact forms (RFC 3261 §7.3.3 and the IANA
// registry), case-insensitive lookup.
#pragma once
#include <cstdint>
#include <string_view>

namespace referkit {

enum class HeaderId : std::uint8_t {
    other,  // not known to the library: kept by name
    accept, accept_contact, accept_encoding, accept_language, alert_info, allow, allow_events,
    authentication_info, authorization, call_id, call_info, contact, content_disposition,
    content_encoding, content_language, content_length, content_type, cseq, date, error_info,
    event, expires, from, identity, identity_info, in_reply_to, max_forwards, min_expires, min_se,
    mime_version, organization, p_asserted_identity, path, priority, privacy, proxy_authenticate,
    proxy_authorization, proxy_require, rack, reason, record_route, refer_sub, refer_to,
    referred_by, reject_contact, replaces, reply_to, request_disposition, require, retry_after,
    route, rseq, server, service_route, session_expires, subject, subscription_state, supported,
    target_dialog, timestamp, to, unsupported, user_agent, via, warning, www_authenticate,
};
inline constexpr std::size_t header_id_count = static_cast<std::size_t>(HeaderId::www_authenticate) + 1;

// Case-insensitive lookup of a full or compact name; HeaderId::other when unknown. name must be a
// token (as every parsed header name is): control bytes are folded like letters.
[[nodiscard]] HeaderId lookup_header(std::string_view name) noexcept;
// The canonical spelling ("Call-ID", "CSeq", "WWW-Authenticate"); "" for HeaderId::other.
[[nodiscard]] std::string_view canonical_name(HeaderId id) noexcept;
// The compact form ('i' for Call-ID ...), or '\0' when the header has none.
[[nodiscard]] char compact_form(HeaderId id) noexcept;
// True when the header's grammar is a comma-separated list (RFC 3261 §7.3.1), so that several
// values may share one line and several lines may be combined.
[[nodiscard]] bool is_list_header(HeaderId id) noexcept;
// True when at most one instance may appear in a message (From, To, Call-ID, CSeq, ...).
[[nodiscard]] bool is_single_header(HeaderId id) noexcept;

// ASCII case-insensitive equality (header names, tokens, schemes, parameter names).
[[nodiscard]] inline bool iequals(std::string_view a, std::string_view b) noexcept {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i) {
        char x = a[i], y = b[i];
        if (x == y) continue;
        if (x >= 'A' && x <= 'Z') x = static_cast<char>(x | 0x20);
        if (y >= 'A' && y <= 'Z') y = static_cast<char>(y | 0x20);
        if (x != y) return false;
    }
    return true;
}

}  // namespace referkit
