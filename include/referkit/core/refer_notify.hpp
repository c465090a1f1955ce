// Classification of a NOTIFY received for REFER subscriptions (RFC 3515 §2.4.4-§2.4.5, RFC 6665
// §4.1.3 / §8.2.1, RFC 3420): which response to send, which subscription it belongs to, and what it
// says. Pure: no state, no I/O; the caller answers first, then feeds the context.
#pragma once
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "referkit/core/headers.hpp"
#include "referkit/core/message.hpp"
#include "referkit/core/subscription.hpp"

namespace referkit {

// What a sipfrag status line means for a REFER (RFC 3515 §2.4.5).
enum class SipfragClass : std::uint8_t {
    progress,  // 1xx: referProgress
    accepted,  // 2xx: referAccepted
    rejected,  // 3xx-6xx: referRejected
};
[[nodiscard]] SipfragClass classify_sipfrag_status(int status) noexcept;  // precondition: 100..699

// Owned copy of a Subscription-State header.
struct ReferSubState {
    Substate state = Substate::other;
    std::optional<std::uint32_t> expires;
    std::optional<std::uint32_t> retry_after;
    TerminationReason reason = TerminationReason::none;
    std::string reason_text;  // as written
    [[nodiscard]] SubscriptionState view() const;  // for Subscriber::on_notify (views into this)
};

struct ReferNotifyVerdict {
    // Response to send: 200, 400 (missing/garbled Event, Subscription-State or sipfrag, ambiguous
    // id), 415 (wrong Content-Type; add Accept: message/sipfrag), 481 (no such subscription),
    // 489 (an event package other than refer).
    std::uint16_t status = 200;
    bool add_accept_sipfrag = false;        // only with 415
    std::string detail;                     // why (logs; usable as the reason phrase's comment)
    // With 200: a malformed parameter of Event or Subscription-State that was skipped (RFC 3261
    // §7.3.1 leniency: "Subscription-State: reason parameter ignored (offset 31: ...)"); "" when none.
    std::string tolerated;
    std::optional<std::uint32_t> id;        // the subscription it belongs to (also on 400/415 when known)
    std::optional<ReferSubState> sub_state; // parsed Subscription-State (also on 400/415 when valid)
    // Only with status 200:
    int sipfrag_status = 0;
    std::string sipfrag_reason;
    SipfragClass kind = SipfragClass::progress;
};

// The rules every package's NOTIFY follows (RFC 6665 §8.2.1, §4.1.3): `notify` (a parsed NOTIFY
// in a dialog) against the ids of that dialog's live subscriptions of `package`: Event (400 when
// missing or garbled, 489 for another package), the id (481 when it names none, 400 when it is
// omitted and several are live; without an id the single live one), Subscription-State (400).
// Status 200 means the package's own body rules come next.
[[nodiscard]] ReferNotifyVerdict classify_notify(const Message& notify, std::string_view package,
                                                 std::span<const std::uint32_t> live_ids);
// The refer package's body rules (RFC 3515 §2.4.5, RFC 3420): message/sipfrag (415 with Accept
// otherwise, 400 without a Content-Type or a body) holding a status line (400 otherwise). Changes
// a 200 `verdict` into the refusal, or fills in its sipfrag fields.
void check_sipfrag_body(const Message& notify, ReferNotifyVerdict& verdict);

// Classifies `notify` (a parsed NOTIFY request in a dialog) against the ids of that dialog's live
// REFER subscriptions: classify_notify for "refer", then check_sipfrag_body (each the CSeq number of its REFER, RFC 3515 §2.4.6). A NOTIFY without an id
// matches the single live one; with several live it is ambiguous (400). The Event is matched
// case-insensitively, compact "o:" included. Never fails: every outcome is a verdict.
[[nodiscard]] ReferNotifyVerdict classify_refer_notify(const Message& notify, std::span<const std::uint32_t> live_ids);

}  // namespace referkit
