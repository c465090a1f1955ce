// Refer-To values (RFC 3515 §2.1): building them for the transferor, always in name-addr form, and
// reading them back for the transferee (the INVITE target plus the embedded headers it may honour).
#pragma once
#include <cstdint>
#include <expected>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "referkit/core/dialog.hpp"
#include "referkit/core/uri.hpp"

namespace referkit {

// What to do with a display name found in the target.
enum class DisplayNamePolicy : std::uint8_t {
    escape,  // keep it, written as a quoted-string with '"' and '\' escaped (RFC 3261 §25.1)
    omit,    // drop it: "<uri>" only
};

// Local misuse when building a Refer-To: nothing is sent.
enum class ReferTargetErrc : std::uint8_t {
    empty,          // nothing but white space
    bad_target,     // the text is not a name-addr, a URI or a user name
    bad_scheme,     // a scheme other than sip, sips, tel
    no_domain,      // a bare user name and no default domain
    not_confirmed,  // attended transfer: the other dialog is early or incomplete
};

struct ReferTargetError {
    ReferTargetErrc code = ReferTargetErrc::bad_target;
    std::string detail;  // human-readable, for logs and the CLI
};

[[nodiscard]] std::string_view to_string(ReferTargetErrc code) noexcept;

struct ReferToOptions {
    DisplayNamePolicy display_name = DisplayNamePolicy::escape;
    // Host (and optional port) completing a bare user name ("bob" -> sip:bob@<default_domain>).
    std::string default_domain = {};
    // Scheme for bare user names: Scheme::sip or Scheme::sips (anything else means sip).
    Scheme default_scheme = Scheme::sip;
};

// Normalises what a user typed as a transfer target into a Refer-To header value, always in
// name-addr form ("<uri>" or "\"Name\" <uri>", header parameters kept): `bob` (completed with
// options.default_domain), `bob@host`, a telephone number with visual separators (`+1 555-0100`),
// `sip:`, `sips:` (never downgraded), `tel:` URIs with their ;params and ?headers, or a name-addr.
// Returns the value (without "Refer-To: "). Errors: empty, bad_target, bad_scheme, no_domain.
[[nodiscard]] std::expected<std::string, ReferTargetError> make_refer_to(std::string_view target,
                                                                         const ReferToOptions& options = {});

struct AttendedReferToOptions {
    DisplayNamePolicy display_name = DisplayNamePolicy::escape;
    // Display name to show (unquoted text); "" = the one of other.remote_uri, if any.
    std::string display = {};
};

// Attended transfer (RFC 5589 §7.3, RFC 3891 §6.1): "<remote-target-of-other?Replaces=CALLID%3Bto-tag%3D
// REMOTE%3Bfrom-tag%3DLOCAL>" with the whole Replaces value percent-escaped (RFC 3515 §2.1 example);
// to-tag = the other dialog's remote tag, from-tag = its local tag, whoever placed that call.
// Precondition: none. Errors: not_confirmed (early dialog, missing Call-ID/tags/remote target),
// bad_target (the remote target does not parse as a sip/sips URI).
[[nodiscard]] std::expected<std::string, ReferTargetError> make_attended_refer_to(
    const DialogInfo& other, const AttendedReferToOptions& options = {});

// --- transferee side

struct EmbeddedHeader {
    std::string name;   // as written, un-escaped
    std::string value;  // un-escaped
};

// What a transferee sends to: the URI without its ?headers, the method (RFC 3261 §19.1.5 "method"
// parameter, removed from the URI; INVITE when absent), and the embedded headers it honours.
struct ReferTarget {
    std::string uri;            // Request-URI of the new request: scheme, user, host, params (method removed)
    std::string method = "INVITE";
    std::vector<EmbeddedHeader> headers;  // honoured, in order (Replaces included)
    std::vector<std::string> dropped;     // names of embedded headers not honoured (RFC 3261 §19.1.5)
    std::optional<std::string> replaces;  // the un-escaped Replaces value, validated by parse_replaces
    std::string body;                     // the "body" pseudo-header, un-escaped ("" when absent)
};

// Reads a received Refer-To value (name-addr or addr-spec, as in Message::refer_to()). Embedded
// headers are un-escaped; From, To, Call-ID, CSeq, Via, Record-Route, Route, Contact, Max-Forwards,
// Content-Length, and the capability headers of RFC 3261 §19.1.5 (Accept*, Allow, Organization,
// Supported, User-Agent) are dropped and listed in `dropped`, not refused.
// Errors (ParseError with status 400): not a sip/sips/tel URI (bad_scheme), a malformed or repeated
// Replaces (bad_param / duplicate_header).
[[nodiscard]] std::expected<ReferTarget, ParseError> read_refer_to(const NameAddr& refer_to);

}  // namespace referkit
