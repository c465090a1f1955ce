// Typed header values, as views into the message buffer, and their parsers. Each parse_* takes the
// value of one header field (or one element of a comma list) and reports errors with offsets
// relative to that text; Message's accessors turn them into offsets within the message.
#pragma once
#include <cstdint>
#include <expected>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "referkit/core/error.hpp"
#include "referkit/core/limits.hpp"
#include "referkit/core/params.hpp"
#include "referkit/core/uri.hpp"

namespace referkit {

enum class Method : std::uint8_t {
    other, invite, ack, bye, cancel, options, register_, refer, notify, subscribe, info, message,
    prack, update, publish,
};
[[nodiscard]] Method lookup_method(std::string_view token) noexcept;  // case-sensitive (§7.1)
[[nodiscard]] std::string_view method_name(Method m) noexcept;        // "" for other

// name-addr / addr-spec with header parameters: From, To, Contact, Route, Record-Route, Refer-To,
// Referred-By, Reply-To, P-Asserted-Identity ...
struct NameAddr {
    std::string_view display_name;  // as written: quoted (quotes kept) or tokens; "" when none
    Uri uri;
    ParamList params;               // header parameters after the URI
    std::string_view tag;           // the tag parameter's value ("" when absent)
    bool angle_brackets = false;    // written as <uri>

    // Display name without quotes or escapes.
    [[nodiscard]] std::string display() const;
};
// Errors: bad_name_addr, bad_quoted_string (unbalanced quotes), bad_param, and the URI's errors.
[[nodiscard]] std::expected<NameAddr, ParseError> parse_name_addr(std::string_view text, const Limits& limits = {});

struct Via {
    std::string_view protocol;   // "SIP"
    std::string_view version;    // "2.0"
    std::string_view transport;  // "UDP", "TCP", "TLS", "WS", "WSS", "SCTP" or any token
    std::string_view host;       // as written (IPv6 in brackets)
    HostKind host_kind = HostKind::none;
    std::uint16_t port = 0;      // 0 when absent
    ParamList params;
    std::string_view branch;     // "" when absent
    std::string_view received;   // "" when absent
    std::string_view maddr;
    bool has_rport = false;
    std::uint16_t rport = 0;     // 0 when present without a value
    std::optional<std::uint8_t> ttl;
};
// One via-parm (not a comma list). Errors: bad_via, bad_host, bad_port, bad_param.
[[nodiscard]] std::expected<Via, ParseError> parse_via(std::string_view text, const Limits& limits = {});

struct CSeq {
    std::uint32_t number = 0;  // < 2^31 (RFC 3261 §8.1.1.5)
    std::string_view method_text;
    Method method = Method::other;
};
[[nodiscard]] std::expected<CSeq, ParseError> parse_cseq(std::string_view text);

// Call-ID = word [ "@" word ]; the value is returned trimmed.
[[nodiscard]] std::expected<std::string_view, ParseError> parse_call_id(std::string_view text);

// 1*DIGIT with an upper bound; leading zeros allowed ("0068").
[[nodiscard]] std::expected<std::uint32_t, ParseError> parse_uint(std::string_view text, std::uint32_t max);

struct ContentType {
    std::string_view type;     // "application"
    std::string_view subtype;  // "sdp"
    ParamList params;
    [[nodiscard]] bool is(std::string_view t, std::string_view s) const noexcept;
};
[[nodiscard]] std::expected<ContentType, ParseError> parse_content_type(std::string_view text, const Limits& limits = {});

struct Event {
    std::string_view package;  // event-type, e.g. "refer", "presence.winfo"
    std::string_view id;       // the id parameter ("" when absent)
    bool has_id = false;
    ParamList params;
};
[[nodiscard]] std::expected<Event, ParseError> parse_event(std::string_view text, const Limits& limits = {});

enum class Substate : std::uint8_t { active, pending, terminated, other };
struct SubscriptionState {
    Substate state = Substate::other;
    std::string_view value;                    // as written
    std::optional<std::uint32_t> expires;
    std::optional<std::uint32_t> retry_after;
    std::string_view reason;                   // "" when absent
    ParamList params;
};
[[nodiscard]] std::expected<SubscriptionState, ParseError> parse_subscription_state(std::string_view text, const Limits& limits = {});

// RFC 3261 §7.3.1 leniency for a peer's harmless mistake in a header whose leading value is what
// matters (a deployed transferee writes "terminated;reason=reason=noresource"): when the strict
// parse fails, the leading value is still taken, each ';' parameter is read on its own, and one
// that does not parse is skipped (`ignored` names the first). A missing or malformed leading
// value, or a limit exceeded, is still an error. `params` is empty when something was skipped.
template <class T>
struct Tolerated {
    T value;
    std::optional<ParseError> ignored;  // nullopt: the strict parse succeeded
};
[[nodiscard]] std::expected<Tolerated<SubscriptionState>, ParseError> parse_subscription_state_tolerant(
    std::string_view text, const Limits& limits = {});
[[nodiscard]] std::expected<Tolerated<Event>, ParseError> parse_event_tolerant(std::string_view text,
                                                                               const Limits& limits = {});

struct ReferSub {
    bool value = true;
    ParamList params;
};
[[nodiscard]] std::expected<ReferSub, ParseError> parse_refer_sub(std::string_view text, const Limits& limits = {});

// Replaces (RFC 3891 §6.1) and, with the same shape, Target-Dialog (RFC 4538 §7).
struct DialogRef {
    std::string_view call_id;
    std::string_view to_tag;    // Replaces: to-tag; Target-Dialog: remote-tag
    std::string_view from_tag;  // Replaces: from-tag; Target-Dialog: local-tag
    bool early_only = false;    // Replaces only
    ParamList params;
};
[[nodiscard]] std::expected<DialogRef, ParseError> parse_replaces(std::string_view text, const Limits& limits = {});
[[nodiscard]] std::expected<DialogRef, ParseError> parse_target_dialog(std::string_view text, const Limits& limits = {});

// WWW-Authenticate / Proxy-Authenticate / Authorization / Proxy-Authorization (RFC 3261 §25,
// RFC 7616, RFC 8760). Values of quoted parameters are given without their quotes (escapes kept;
// use unquote() on the raw param for the exact text).
struct AuthParams {
    std::string_view scheme;  // "Digest"
    std::string_view realm, nonce, opaque, algorithm, qop, stale, domain;        // challenge
    std::string_view username, uri, response, cnonce, nc, userhash;             // credentials
    std::vector<Param> params;  // all auth-params in order (values as written)
};
[[nodiscard]] std::expected<AuthParams, ParseError> parse_auth(std::string_view text, const Limits& limits = {});

// Splits a comma-separated header value into elements (commas inside quotes or <> do not split).
// Empty elements are an error (bad_token) except where allow_empty is set.
struct ListOptions { bool allow_empty = false; };
[[nodiscard]] std::expected<std::vector<std::string_view>, ParseError>
split_list(std::string_view text, ListOptions options = {});
// Same, calling f(element, offset) for each element; stops at the first error f returns.
template <class F>
std::expected<void, ParseError> for_each_element(std::string_view text, F&& f);

// RFC 3261 §25.1 character classes, exposed for builders and tests.
[[nodiscard]] bool is_token(std::string_view s) noexcept;
[[nodiscard]] bool is_token_char(char c) noexcept;

}  // namespace referkit

#include "referkit/core/detail/list_impl.hpp"
