// The transferee side of REFER (RFC 3515 §2.4) as a sans-I/O state machine (the RFC 3891 Replaces
// decision is in replaces.hpp). ReferServerContext is built from a received REFER, answers it (accept or
// reject), then produces the NOTIFYs of the implicit subscription (RFC 6665 §4.2 notifier): one at
// a time, pulled with poll_notify(). It sends nothing itself: its owner (the Stack's transferee,
// src/core/refer/transferee.cpp) sends the answer and each NOTIFY, places the INVITE to the target
// and reports that INVITE's progress here.
#pragma once
#include <cstddef>
#include <cstdint>
#include <deque>
#include <expected>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "referkit/core/message.hpp"
#include "referkit/core/refer_request.hpp"
#include "referkit/core/refer_to.hpp"
#include "referkit/core/subscription.hpp"
#include "referkit/core/time.hpp"

namespace referkit {

// Which embedded headers of the Refer-To URI the INVITE carries (RFC 3261 §19.1.5 leaves it to
// the UA; read_refer_to already drops the dangerous ones).
enum class EmbeddedHeaderPolicy : std::uint8_t {
    replaces_only,  // Replaces only (the attended-transfer case, RFC 3891 §1)
    honoured,       // every header read_refer_to honours (Replaces included)
    none,           // nothing (Replaces dropped too)
};

struct ReferServerOptions {
    // Subscription duration granted in the first NOTIFY (RFC 3515 §2.4.4: the notifier chooses it)
    // and the upper bound of a refresh.
    std::uint32_t expires = 60;
    bool allow_no_subscription = true;  // honour Refer-Sub: false (RFC 4488 §4)
    bool answer_200 = false;            // accept with 200 instead of 202 (RFC 7647 §5)
    EmbeddedHeaderPolicy embedded = EmbeddedHeaderPolicy::replaces_only;
    // NOTIFYs waiting behind the one in flight; beyond this, the newest provisional replaces the
    // last queued one (refer bodies are full state, RFC 3515 §2.4.5). Limits are API.
    std::size_t max_queued_notifies = 8;
};

// A REFER the context refuses to be built from: the caller answers it with status/reason.
struct ReferRequestError {
    int status = 400;
    std::string reason = "Bad Request";
    std::string detail = {};  // why (logs)
};

// A response to send (to the REFER or to a SUBSCRIBE).
struct ReferServerAnswer {
    int status = 202;
    std::string reason = {};
    HeaderList headers = {};
};

// One NOTIFY to send in the subscription's dialog.
struct ReferServerNotify {
    HeaderList headers = {};  // Event, Subscription-State
    std::string content_type = "message/sipfrag";
    std::string body = {};          // "SIP/2.0 <status> <reason>\r\n"
    int sipfrag_status = 0;
    bool final = false;             // Subscription-State: terminated
};

enum class ReferServerState : std::uint8_t {
    received,     // validated, waiting for accept() / reject()
    active,       // accepted, the subscription lives
    terminating,  // the subscription is terminated: the final NOTIFY is queued or in flight
    done,         // terminal: nothing more to send (see cause())
};
[[nodiscard]] std::string_view to_string(ReferServerState s) noexcept;

enum class ReferServerCause : std::uint8_t {
    none,               // not done
    rejected,           // the REFER was answered 3xx-6xx
    no_subscription,    // accepted with Refer-Sub: false (RFC 4488 §4)
    final_notify,       // the final NOTIFY (terminated;reason=noresource) was answered 2xx
    unsubscribed,       // SUBSCRIBE Expires: 0 (final NOTIFY reason=timeout, RFC 6665 §4.2.1.2)
    expired,            // the subscription expired (reason=timeout, RFC 6665 §4.2.2)
    notify_failed,      // a NOTIFY failed in a way that removes the subscription (RFC 6665 §4.2.2)
    dialog_terminated,  // the dialog carrying the subscription is gone
    shut_down,          // the owner shut it down
};
[[nodiscard]] std::string_view to_string(ReferServerCause c) noexcept;

enum class ReferServerEventKind : std::uint8_t {
    notified,  // a NOTIFY was answered 2xx (status = its sipfrag status)
    ended,     // terminal, once: cause() is final
};

struct ReferServerEvent {
    ReferServerEventKind kind = ReferServerEventKind::ended;
    int status = 0;  // notified: sipfrag status; ended: the NOTIFY's failure status for notify_failed
    ReferServerCause cause = ReferServerCause::none;  // ended only
};

class ReferServerContext;

// The application's decision on a valid REFER.
enum class ReferVerdict : std::uint8_t { accept, reject };
struct ReferDecision {
    ReferVerdict verdict = ReferVerdict::accept;
    int status = 603;          // reject only: 300..699 (anything else becomes 603)
    std::string reason = {};   // "" = the standard phrase
};
using ReferPolicy = std::function<ReferDecision(const ReferServerContext&)>;

// Default policy: accept a sip/sips target whose method is INVITE; decline (603) anything else
// (RFC 3515 §2.4.2: a UA that cannot access a non-SIP URI SHOULD NOT accept it; a tel: target
// needs a gateway only the application knows about).
[[nodiscard]] ReferDecision default_refer_policy(const ReferServerContext& context);

class ReferServerContext {
public:
    // Validates a received REFER (in or out of dialog). Errors (the caller answers with them,
    // nothing else happens): not a REFER (400); zero or several Refer-To values, or one that does
    // not parse (400, RFC 3515 §2.4.1/§2.4.2); a scheme other than sip/sips/tel (400: RFC 3261
    // §21.4.14 defines 416 for the Request-URI only, RFC 3515 §2.4.2 allows any 4xx); a malformed
    // or repeated embedded Replaces (400); a malformed Referred-By or Refer-Sub (400).
    [[nodiscard]] static std::expected<ReferServerContext, ReferRequestError> from_request(
        const Message& refer, ReferServerOptions options = {});

    // --- what the REFER asks
    [[nodiscard]] const ReferTarget& target() const noexcept { return target_; }
    [[nodiscard]] const std::string& refer_to() const noexcept { return refer_to_; }  // as received
    // Referred-By as received ("" when absent), copied into the INVITE (RFC 3892 §3).
    [[nodiscard]] const std::string& referred_by() const noexcept { return referred_by_; }
    [[nodiscard]] std::uint32_t id() const noexcept { return id_; }  // Event: refer;id= (the CSeq, RFC 3515 §2.4.6)
    [[nodiscard]] bool in_dialog() const noexcept { return in_dialog_; }
    // The REFER asked for no subscription and may have it (Refer-Sub: false + norefersub in
    // Supported/Require, allowed by options): accept() answers 200 and creates none.
    [[nodiscard]] bool subscription() const noexcept { return !no_subscription_; }
    // Headers of the INVITE to the target: Referred-By (when present), then the embedded headers
    // the options' policy honours, in order.
    [[nodiscard]] HeaderList invite_headers() const;

    // --- answering (precondition: state received; otherwise nothing happens and the returned
    // answer has status 0)
    // Accepts: 202 (200 with options.answer_200, or when no subscription is created, which
    // echoes Refer-Sub: false), with Supported: norefersub. With a subscription, NOTIFY
    // "100 Trying" (active;expires=N) is queued at once.
    [[nodiscard]] ReferServerAnswer accept(Time now);
    // Rejects with status (300..699, else 603) and reason ("" = the standard phrase). Ends.
    [[nodiscard]] ReferServerAnswer reject(int status, std::string_view reason = {});
    // Asks the policy (default_refer_policy when empty) and accepts or rejects accordingly.
    [[nodiscard]] ReferServerAnswer decide(const ReferPolicy& policy, Time now);

    // --- the referenced INVITE (ignored unless accepted, and after the final status)
    // A provisional (101..199); the same status twice in a row is notified once.
    void reference_progress(Time now, int status, std::string_view reason);
    // The final status (200..699, including a synthesised 408/503): the final NOTIFY
    // (terminated;reason=noresource, RFC 3515 §2.4.7) is queued after those already waiting.
    void reference_final(Time now, int status, std::string_view reason);

    // --- the subscription
    // The next NOTIFY to send, or nullopt when none is due or one is in flight (one NOTIFY at a
    // time: RFC 3261 §12.2.2 makes the subscriber refuse a lower CSeq with 500, so two NOTIFYs in
    // flight over an unordered transport could lose the newer state). Subscription-State is
    // computed at `now`. The caller must send it and report its final response.
    [[nodiscard]] std::optional<ReferServerNotify> poll_notify(Time now);
    // The final response (or a synthesised 408/503) to the NOTIFY in flight. 2xx: the next may go;
    // 404, 405, 408, 410, 416, 480-485, 489, 501, 604 remove the subscription (RFC 6665 §4.2.2);
    // another failure of a provisional NOTIFY is tolerated, of the final one ends the context.
    void notify_answered(Time now, int status);
    // A SUBSCRIBE refreshing this subscription (RFC 6665 §4.2.1.2; id already matched). Returns
    // the answer: 200 with Expires (min(expires, options.expires); absent = options.expires) and a
    // NOTIFY with the current state queued; Expires: 0 terminates (reason=timeout) with a final
    // NOTIFY. 481 when the subscription is not active.
    [[nodiscard]] ReferServerAnswer on_subscribe(Time now, std::optional<std::uint32_t> expires);
    // Fires the expiry (terminated;reason=timeout, RFC 6665 §4.2.2). No effect before it.
    void on_timer(Time now);
    [[nodiscard]] std::optional<Time> next_deadline() const noexcept;
    // The dialog carrying the subscription is gone: done, nothing more is sent.
    void dialog_terminated();
    // The owner stops: done, nothing more is sent. Idempotent.
    void shut_down();

    [[nodiscard]] std::optional<ReferServerEvent> poll_event();

    [[nodiscard]] ReferServerState state() const noexcept { return state_; }
    [[nodiscard]] ReferServerCause cause() const noexcept { return cause_; }
    [[nodiscard]] bool done() const noexcept { return state_ == ReferServerState::done; }
    [[nodiscard]] bool accepted() const noexcept { return accepted_; }
    [[nodiscard]] bool notify_in_flight() const noexcept { return in_flight_.has_value(); }
    // Latest status of the referenced request (100 after accept(), then its provisionals, then
    // its final status).
    [[nodiscard]] int reference_status() const noexcept { return status_; }
    [[nodiscard]] std::optional<int> reference_final_status() const noexcept { return final_status_; }
    [[nodiscard]] const std::optional<Notifier>& notifier() const noexcept { return notifier_; }
    [[nodiscard]] const ReferServerOptions& options() const noexcept { return options_; }

private:
    struct Pending {
        int status = 0;
        std::string reason;
        bool final = false;
    };
    ReferServerContext() = default;
    void queue(int status, std::string reason);
    void queue_final(TerminationReason reason);
    void end(ReferServerCause cause, int status = 0);

    ReferServerOptions options_;
    ReferTarget target_;
    std::string refer_to_;
    std::string referred_by_;
    std::uint32_t id_ = 0;
    bool in_dialog_ = false;
    bool no_subscription_ = false;
    bool accepted_ = false;
    bool unsubscribed_ = false;
    ReferServerState state_ = ReferServerState::received;
    ReferServerCause cause_ = ReferServerCause::none;
    std::optional<Notifier> notifier_;
    int status_ = 0;
    std::string reason_;
    int last_progress_ = 0;
    std::optional<int> final_status_;
    std::deque<Pending> queue_;
    std::optional<Pending> in_flight_;
    std::deque<ReferServerEvent> events_;
};

}  // namespace referkit
