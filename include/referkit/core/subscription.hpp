// RFC 6665 subscription state machines as sans-I/O classes: the subscriber (§4.1.2, the REFER
// sender's implicit subscription, RFC 3515 §2.4.4) and the notifier (§4.2, the REFER receiver).
// Time is an argument; the owner asks next_deadline() and calls on_timer(now) when it passes.
#pragma once
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "referkit/core/headers.hpp"
#include "referkit/core/time.hpp"

namespace referkit {

// RFC 6665 §4.1.3 / §6.2 termination reasons; `other` for an unknown token, `none` when absent.
enum class TerminationReason : std::uint8_t {
    none, deactivated, probation, rejected, timeout, giveup, noresource, invariant, other,
};
[[nodiscard]] TerminationReason parse_termination_reason(std::string_view token) noexcept;  // case-insensitive
[[nodiscard]] std::string_view to_string(TerminationReason reason) noexcept;                // "" for none/other

// --- subscriber (§4.1.2, Figure 1 of RFC 6665)

enum class SubscriberState : std::uint8_t {
    idle,         // nothing sent yet
    notify_wait,  // request sent, no NOTIFY yet (Timer N running, §4.1.2.4)
    pending,      // NOTIFY with Subscription-State: pending
    active,       // NOTIFY with Subscription-State: active
    terminated,   // final
};
[[nodiscard]] std::string_view to_string(SubscriberState s) noexcept;

// Why a subscriber's subscription ended.
enum class SubscriberEnd : std::uint8_t {
    none,          // not ended
    notified,      // NOTIFY with Subscription-State: terminated (reason in end_reason())
    no_notify,     // Timer N / NOTIFY wait expired without a NOTIFY (§4.1.2.4)
    expired,       // the subscription's expiry passed without a refreshing NOTIFY (§4.1.2.2)
    rejected,      // the request got a non-2xx final response (§4.1.2.1)
    local,         // ended by the owner (dialog gone, shut down, application)
};
[[nodiscard]] std::string_view to_string(SubscriberEnd e) noexcept;

struct SubscriberOptions {
    // Timer N: how long to wait for the first NOTIFY, counted from the request and restarted at its
    // 2xx (docs/transfer-rules.md R26: 32 s after the 2xx). RFC 6665 §4.1.2.4: 64*T1.
    Duration notify_wait = std::chrono::seconds(32);
    // Refresh this long before the expiry (half the interval when it is shorter than twice this).
    Duration refresh_margin = std::chrono::seconds(32);
};

// What a NOTIFY did to the subscriber.
enum class NotifyEffect : std::uint8_t {
    updated,      // state (re)set; still alive
    terminated,   // this NOTIFY ended the subscription
    after_end,    // the subscription had already ended: answer 481 (§4.1.3)
};

class Subscriber {
public:
    explicit Subscriber(SubscriberOptions options = {}) : options_(options) {}

    // The SUBSCRIBE/REFER went out: notify_wait with Timer N armed. Precondition: state idle (else ignored).
    void request_sent(Time now);
    // A 2xx to it (possibly after a NOTIFY already arrived, RFC 6665 §4.1.2.4 / RFC 3515 §2.4.4).
    // Restarts the NOTIFY wait when still in notify_wait; `expires` (of the 2xx) bounds the
    // subscription when no NOTIFY has set it yet. No effect after termination.
    void request_accepted(Time now, std::optional<std::uint32_t> expires = std::nullopt);
    // A non-2xx final response: terminated (rejected) unless a NOTIFY already made it pending/active.
    void request_failed();
    // A NOTIFY's Subscription-State (§4.1.3): active/pending take `expires` as authoritative;
    // terminated ends it (reason, retry-after kept). An unknown value (Substate::other) keeps the
    // subscription alive as active: our choice, RFC 6665 defines no other values.
    [[nodiscard]] NotifyEffect on_notify(Time now, const SubscriptionState& state);
    // The owner sent SUBSCRIBE Expires: 0 (§4.1.2.3): keep waiting (Timer N) for the final NOTIFY.
    void unsubscribe_sent(Time now);
    // Ends locally (dialog gone, shut down). Idempotent.
    void end_locally();
    // Fires due timers: Timer N, expiry, refresh. No effect before the deadline.
    void on_timer(Time now);
    // Earliest deadline, none when terminated or idle.
    [[nodiscard]] std::optional<Time> next_deadline() const noexcept;
    // True once per refresh deadline passed (§4.1.2.2): the owner sends a refreshing SUBSCRIBE.
    [[nodiscard]] bool take_refresh() noexcept;

    [[nodiscard]] SubscriberState state() const noexcept { return state_; }
    [[nodiscard]] SubscriberEnd end() const noexcept { return end_; }
    [[nodiscard]] TerminationReason end_reason() const noexcept { return reason_; }
    [[nodiscard]] std::optional<std::uint32_t> retry_after() const noexcept { return retry_after_; }
    [[nodiscard]] std::optional<Time> expires_at() const noexcept { return expires_at_; }
    [[nodiscard]] std::optional<Time> refresh_at() const noexcept { return refresh_at_; }
    [[nodiscard]] bool ended() const noexcept { return state_ == SubscriberState::terminated; }

private:
    void set_expiry(Time now, std::uint32_t seconds);
    void terminate(SubscriberEnd end);

    SubscriberOptions options_;
    SubscriberState state_ = SubscriberState::idle;
    SubscriberEnd end_ = SubscriberEnd::none;
    TerminationReason reason_ = TerminationReason::none;
    std::optional<std::uint32_t> retry_after_;
    std::optional<Time> timer_n_, expires_at_, refresh_at_;
    bool refresh_due_ = false;
};

// --- notifier (§4.2)

enum class NotifierState : std::uint8_t { pending, active, terminated };
[[nodiscard]] std::string_view to_string(NotifierState s) noexcept;

struct NotifierOptions {
    // Subscription duration granted (RFC 3515 §2.4.4 lets the notifier choose for REFER).
    std::uint32_t expires = 60;
    bool start_pending = false;  // authorisation still pending (§4.2.1.1)
};

class Notifier {
public:
    // A subscription exists from now (REFER/SUBSCRIBE accepted).
    Notifier(Time now, NotifierOptions options = {});

    // Authorised: pending -> active (§4.2.1.1). No effect otherwise.
    void activate();
    // A refreshing SUBSCRIBE (§4.2.1.2): new expiry; Expires 0 terminates it with reason timeout
    // (the final NOTIFY of an unsubscribe, §4.2.1.2 / §4.4.3). No effect once terminated.
    void refresh(Time now, std::uint32_t expires);
    // The notifier ends it (final NOTIFY with terminated;reason). Idempotent: the first reason wins.
    void terminate(TerminationReason reason);
    // Expiry: terminated with reason timeout (§4.2.2). No effect before it.
    void on_timer(Time now);
    [[nodiscard]] std::optional<Time> next_deadline() const noexcept;

    // The Subscription-State value for a NOTIFY sent at `now`: "active;expires=N",
    // "pending;expires=N", "terminated;reason=R" (§4.1.3, expires = remaining seconds, rounded up).
    [[nodiscard]] std::string state_header(Time now) const;
    [[nodiscard]] NotifierState state() const noexcept { return state_; }
    [[nodiscard]] TerminationReason reason() const noexcept { return reason_; }
    [[nodiscard]] Time expires_at() const noexcept { return expires_at_; }
    // True once after termination until the final NOTIFY is taken by the owner.
    [[nodiscard]] bool take_final_notify() noexcept;

private:
    NotifierState state_ = NotifierState::active;
    TerminationReason reason_ = TerminationReason::none;
    Time expires_at_{};
    bool final_due_ = false;
};

}  // namespace referkit
