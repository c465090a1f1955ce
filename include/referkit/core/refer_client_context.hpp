// The REFER client context (SIP.js's ReferClientContext, docs/sipjs-mapping.md) as a sans-I/O state
// machine. It is told what happened (REFER sent, responses, classified NOTIFYs, timers, dialog
// gone, shut down) and produces events to pull: the six events SIP.js names and one final `ended`
// event with the outcome. It sends nothing itself: its owner (the Stack's transferor,
// src/core/refer/transferor.cpp) builds and sends the REFER, answers each NOTIFY *before* feeding
// it here, and acts on `ended`.
#pragma once
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "referkit/core/message.hpp"
#include "referkit/core/refer_notify.hpp"
#include "referkit/core/refer_to.hpp"
#include "referkit/core/subscription.hpp"
#include "referkit/core/time.hpp"
#include "referkit/core/transaction_layer.hpp"

namespace referkit {

// RFC 4538 Target-Dialog: the call the REFER is about, from the sender's point of view.
struct TargetDialog {
    std::string call_id;
    std::string local_tag;
    std::string remote_tag;
};

// Options of one REFER (a header given in extra_headers replaces the default of the same name; each
// appears exactly once). Every response to the REFER reaches the application as a
// TransferResponseEvent (stack_events.hpp), not through an option.
struct ReferOptions {
    std::vector<std::string> extra_headers = {};  // whole header lines, "Name: value"
    bool active_after_transfer = false;            // keep the call after referAccepted
    std::string referred_by = {};                  // Referred-By value (RFC 3892); "" = our AOR
    bool refer_sub = true;                         // false: Refer-Sub: false + Supported: norefersub (RFC 4488)
    std::optional<TargetDialog> target_dialog = {};  // Target-Dialog (RFC 4538)
    Duration notify_wait = std::chrono::seconds(32);  // no NOTIFY this long after the 2xx: unknown outcome
    Duration refresh_margin = std::chrono::seconds(32);
    DisplayNamePolicy display_name = DisplayNamePolicy::escape;
};

// Events, in the order they happened. The first six are SIP.js's; `ended` comes exactly once, last.
enum class ReferEventKind : std::uint8_t {
    refer_request_accepted,  // 2xx to the REFER (once, however often retransmitted)
    refer_request_rejected,  // 3xx-6xx to the REFER, or a synthesised 408 (timeout) / 503 (transport)
    refer_progress,          // NOTIFY with a 1xx sipfrag
    refer_accepted,          // NOTIFY with a 2xx sipfrag
    refer_rejected,          // NOTIFY with a 3xx-6xx sipfrag
    notify,                  // every NOTIFY answered 200, after the specific event
    ended,                   // terminal: outcome() and cause() are final
};
// SIP.js's event names ("referRequestAccepted" ...); "ended" for the terminal event.
[[nodiscard]] std::string_view sipjs_name(ReferEventKind kind) noexcept;

enum class ReferOutcome : std::uint8_t {
    pending,   // not ended
    accepted,  // the target accepted (2xx sipfrag), or the REFER was accepted with no subscription
    rejected,  // the REFER (3xx-6xx) or the target (3xx-6xx sipfrag) refused
    unknown,   // the subscription ended without a final sipfrag, no NOTIFY came, the dialog went away
    failed,    // the REFER never got an answer: timeout (408) or transport error (503)
};
[[nodiscard]] std::string_view to_string(ReferOutcome outcome) noexcept;

enum class ReferCause : std::uint8_t {
    none,                   // not ended
    final_notify,           // a final sipfrag
    refer_response,         // a 3xx-6xx response to the REFER
    refer_timeout,          // synthesised 408 (Timer F)
    transport_error,        // synthesised 503
    no_subscription,        // 2xx echoed Refer-Sub: false (RFC 4488 §4)
    no_notify,              // NOTIFY wait expired
    subscription_ended,     // Subscription-State: terminated without a final sipfrag, or our refreshing
                            // SUBSCRIBE got a subscription-ending answer (481, 408, ...: subscribe_failed)
    subscription_expired,   // expiry passed without refresh
    refused_notify,         // a NOTIFY we refused (400/415) said terminated
    unsubscribed,           // the application ended the subscription
    dialog_terminated,      // BYE / dialog gone during the transfer
    shut_down,              // the UA or the context was shut down
};
[[nodiscard]] std::string_view to_string(ReferCause cause) noexcept;

struct ReferEvent {
    ReferEventKind kind = ReferEventKind::ended;
    std::uint32_t id = 0;        // the REFER's CSeq (subscription id) at the time
    int status = 0;              // response status, or sipfrag status for NOTIFY events
    std::string reason;          // its reason phrase
    ReferOutcome outcome = ReferOutcome::pending;  // ended only
    ReferCause cause = ReferCause::none;           // ended only
    bool hang_up = false;        // ended only: accepted and !active_after_transfer (BYE after the 200 to the NOTIFY)
    // notify only: what the NOTIFY got wrong that was let pass (RFC 3261 §7.3.1), for logs; "" when nothing.
    std::string note = {};
};

// The parts of a response the context needs.
struct ReferResponse {
    int status = 0;
    std::string reason = {};
    ResponseOrigin source = ResponseOrigin::wire;
    bool refer_sub_false = false;                // the response carries Refer-Sub: false
    std::optional<std::uint32_t> expires = {};   // its Expires, if any
};
// Extracts a ReferResponse from a received response (Refer-Sub and Expires read tolerantly).
[[nodiscard]] ReferResponse refer_response_from(const Message& response);

// True for the final statuses to a refreshing/unsubscribing SUBSCRIBE after which the subscription
// no longer exists: 404, 405, 410, 416, 480-485, 489, 501, 604 (RFC 6665 §4.1.2.2), 502 (RFC 5057
// §5.1) and 408 (timeout).
[[nodiscard]] bool subscribe_failure_ends_subscription(int status) noexcept;

enum class ReferState : std::uint8_t {
    idle,        // constructed, REFER not sent
    requesting,  // REFER sent, no final response yet (NOTIFYs may already arrive)
    subscribed,  // 2xx received, waiting for NOTIFYs
    ended,       // terminal
};
[[nodiscard]] std::string_view to_string(ReferState state) noexcept;

class ReferClientContext {
public:
    explicit ReferClientContext(ReferOptions options = {});

    // The REFER went out with CSeq `cseq` (its subscription id, RFC 3515 §2.4.6). Precondition:
    // state idle (otherwise ignored). Starts the NOTIFY wait.
    void refer_sent(Time now, std::uint32_t cseq);
    // A 401/407 was answered by a new REFER with CSeq `new_cseq` (same dialog, advanced CSeq): the
    // id changes, NOTIFYs must carry the new one. Only while requesting.
    void refer_resent(Time now, std::uint32_t new_cseq);
    // A response to the REFER (received or synthesised). 1xx change nothing; the first final one
    // decides; later finals (retransmissions) raise nothing.
    void on_response(Time now, const ReferResponse& response);
    // A NOTIFY for this context, already answered with verdict.status (classify_refer_notify).
    // 200: raises the sipfrag's event (first final only) then `notify`; a refused one (400/415)
    // that says terminated ends the context with an unknown outcome. Ignored once ended.
    void on_notify(Time now, const ReferNotifyVerdict& verdict);
    // Fires due timers (NOTIFY wait, subscription expiry, refresh).
    void on_timer(Time now);
    [[nodiscard]] std::optional<Time> next_deadline() const noexcept;
    // The application ends the subscription early. Returns true when the glue must send
    // SUBSCRIBE Expires: 0 in the dialog (RFC 6665 §4.1.2.3); the context then ends at the final
    // NOTIFY or after the NOTIFY wait (unknown, unsubscribed).
    [[nodiscard]] bool unsubscribe(Time now);
    // A refreshing or unsubscribing SUBSCRIBE of ours got final response `status`. When the status
    // ends the subscription (subscribe_failure_ends_subscription) the context ends now with an
    // unknown outcome, cause subscription_ended (unsubscribed after unsubscribe()); any other
    // status changes nothing. Only while subscribed.
    void subscribe_failed(Time now, int status);
    // The dialog carrying the subscription is gone (BYE received, 481/408 ended it): ends now.
    void dialog_terminated(Time now);
    // The UA or the application shuts the context down: ends now (unknown, shut_down). Idempotent.
    void shut_down(Time now);
    // True once per refresh deadline: the glue sends a refreshing SUBSCRIBE (RFC 6665 §4.1.2.2).
    [[nodiscard]] bool take_refresh() noexcept { return subscriber_.take_refresh(); }

    // Next event, oldest first; nullopt when none.
    [[nodiscard]] std::optional<ReferEvent> poll_event();

    [[nodiscard]] ReferState state() const noexcept { return state_; }
    [[nodiscard]] ReferOutcome outcome() const noexcept { return outcome_; }
    [[nodiscard]] ReferCause cause() const noexcept { return cause_; }
    [[nodiscard]] bool ended() const noexcept { return state_ == ReferState::ended; }
    // The subscription id (CSeq of the last REFER sent); 0 before refer_sent.
    [[nodiscard]] std::uint32_t id() const noexcept { return id_; }
    // Live for NOTIFY routing: a REFER was sent and the context has not ended.
    [[nodiscard]] bool live() const noexcept { return state_ == ReferState::requesting || state_ == ReferState::subscribed; }
    [[nodiscard]] std::optional<int> final_response_status() const noexcept { return final_status_; }
    [[nodiscard]] std::optional<int> final_sipfrag_status() const noexcept { return final_sipfrag_; }
    [[nodiscard]] const Subscriber& subscriber() const noexcept { return subscriber_; }
    [[nodiscard]] const ReferOptions& options() const noexcept { return options_; }

private:
    void raise(ReferEventKind kind, int status, std::string_view reason);
    void end(ReferOutcome outcome, ReferCause cause);
    void check_subscriber();
    [[nodiscard]] bool waits_for_response() const noexcept;

    ReferOptions options_;
    Subscriber subscriber_;
    ReferState state_ = ReferState::idle;
    ReferOutcome outcome_ = ReferOutcome::pending;
    ReferCause cause_ = ReferCause::none;
    std::uint32_t id_ = 0;
    std::optional<int> final_status_;
    std::optional<int> final_sipfrag_;
    bool unsubscribing_ = false;
    // A final sipfrag arrived before the REFER's final response: the end waits for that response.
    std::optional<ReferOutcome> deferred_outcome_;
    ReferCause deferred_cause_ = ReferCause::none;
    std::deque<ReferEvent> events_;
};

}  // namespace referkit
