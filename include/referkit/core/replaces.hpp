// The RFC 3891 §3 decision on an INVITE with Replaces, as a pure function of the request and of
// the dialogs it may name: which one it replaces and how, or the status that refuses it.
#pragma once
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "referkit/core/headers.hpp"
#include "referkit/core/message.hpp"
#include "referkit/core/uri.hpp"

namespace referkit {

enum class ReplacesDialogState : std::uint8_t {
    early,       // a 1xx created it
    confirmed,   // 2xx (+ACK)
    terminated,  // ended (BYE sent or received) but still remembered
};

// One of our dialogs, as the decision needs it.
struct ReplacesCandidate {
    std::uint64_t key = 0;        // the caller's handle for it (a SessionId value ...)
    std::string call_id = {};
    std::string local_tag = {};
    std::string remote_tag = {};
    ReplacesDialogState state = ReplacesDialogState::confirmed;
    bool we_are_uac = false;      // early dialogs: we sent the INVITE
    bool invite_dialog = true;    // created by an INVITE
};

enum class ReplacesAction : std::uint8_t {
    replace_confirmed,  // answer the new INVITE 2xx, then BYE the matched dialog
    replace_early,      // answer the new INVITE 2xx, then CANCEL our INVITE of the matched dialog
    reject,             // answer the new INVITE with status; the matched dialog is unchanged
};

struct ReplacesDecision {
    ReplacesAction action = ReplacesAction::reject;
    int status = 481;             // reject only: 400, 481, 486, 603
    std::string_view reason = {}; // static text
    std::uint64_t key = 0;        // the matched candidate (replace, and 486/603 rejects)
};

// Decides on a parsed Replaces value (§3): to-tag compared with our local tag, from-tag with our
// remote tag, Call-ID exactly. Several matches or none: 481. Not an INVITE dialog: 481.
// Terminated: 603. Confirmed with early-only: 486. Confirmed: replace_confirmed. Early and ours
// (UAC): replace_early. Early and not ours: 481. Authorization (§3: Referred-By, digest identity)
// is the caller's policy, applied before acting on a replace decision.
[[nodiscard]] ReplacesDecision decide_replaces(const DialogRef& replaces, std::span<const ReplacesCandidate> dialogs);
// The same from a whole request: nullopt when it has no Replaces header (an ordinary request).
// 400 when the request is not an INVITE, has several Replaces, one that does not parse, or also
// a Join header (contradictory semantics, §3 / RFC 3911).
[[nodiscard]] std::optional<ReplacesDecision> decide_replaces(const Message& request,
                                                              std::span<const ReplacesCandidate> dialogs);

// How the initiator of an INVITE with Replaces relates to the party it would replace: the remote
// party of the matched call (RFC 3891 §3; docs/transfer-rules.md R39). Read from the INVITE's own
// headers, which the sender writes: a claim, not an authenticated identity.
enum class ReplaceRelation : std::uint8_t {
    same_party,   // From is the replaced call's remote party (§3: "equivalent to the user being replaced")
    referred_by,  // Referred-By (RFC 3892) names the replaced call's remote party (§3: a replacement sent
                  // on behalf of the other participant: the transferor of an attended transfer)
    unrelated,    // neither: a third party that learnt the dialog identifiers
};
[[nodiscard]] std::string_view to_string(ReplaceRelation r) noexcept;

// The same party, as far as two URIs can say: the same scheme, user (case-sensitive, escapes decoded)
// and host (case-insensitive), and the same port when both give one (RFC 3261 §19.1.4 on the parts
// of an address-of-record, §10.3 step 5: parameters and headers ignored). tel: the same number.
[[nodiscard]] bool same_party(const Uri& a, const Uri& b);
// `remote_uri`: the replaced call's remote URI as its dialog keeps it (name-addr or addr-spec,
// RFC 3261 §12.1). same_party when the INVITE's From is that party, else referred_by when its one
// Referred-By names it, else unrelated (also when remote_uri or Referred-By does not parse).
[[nodiscard]] ReplaceRelation replace_relation(const Message& invite, std::string_view remote_uri);

}  // namespace referkit
