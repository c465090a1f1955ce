// RFC 6665 subscriber and notifier state machines.
#include "referkit/core/subscription.hpp"

#include <algorithm>
#include <array>

#include "referkit/core/header_id.hpp"

namespace referkit {

namespace {
constexpr std::array<std::pair<std::string_view, TerminationReason>, 7> k_reasons{{
    {"deactivated", TerminationReason::deactivated}, {"probation", TerminationReason::probation},
    {"rejected", TerminationReason::rejected},       {"timeout", TerminationReason::timeout},
    {"giveup", TerminationReason::giveup},           {"noresource", TerminationReason::noresource},
    {"invariant", TerminationReason::invariant},
}};

std::optional<Time> earliest(std::optional<Time> a, std::optional<Time> b) noexcept {
    if (!a) return b;
    if (!b) return a;
    return std::min(*a, *b);
}
}  // namespace

TerminationReason parse_termination_reason(std::string_view token) noexcept {
    if (token.empty()) return TerminationReason::none;
    for (const auto& [name, r] : k_reasons)
        if (iequals(name, token)) return r;
    return TerminationReason::other;
}

std::string_view to_string(TerminationReason reason) noexcept {
    switch (reason) {
        case TerminationReason::none:
        case TerminationReason::other: return "";
        case TerminationReason::deactivated: return "deactivated";
        case TerminationReason::probation: return "probation";
        case TerminationReason::rejected: return "rejected";
        case TerminationReason::timeout: return "timeout";
        case TerminationReason::giveup: return "giveup";
        case TerminationReason::noresource: return "noresource";
        case TerminationReason::invariant: return "invariant";
    }
    return "";
}

std::string_view to_string(SubscriberState s) noexcept {
    switch (s) {
        case SubscriberState::idle: return "idle";
        case SubscriberState::notify_wait: return "notify_wait";
        case SubscriberState::pending: return "pending";
        case SubscriberState::active: return "active";
        case SubscriberState::terminated: return "terminated";
    }
    return "?";
}

std::string_view to_string(SubscriberEnd e) noexcept {
    switch (e) {
        case SubscriberEnd::none: return "none";
        case SubscriberEnd::notified: return "notified";
        case SubscriberEnd::no_notify: return "no_notify";
        case SubscriberEnd::expired: return "expired";
        case SubscriberEnd::rejected: return "rejected";
        case SubscriberEnd::local: return "local";
    }
    return "?";
}

std::string_view to_string(NotifierState s) noexcept {
    switch (s) {
        case NotifierState::pending: return "pending";
        case NotifierState::active: return "active";
        case NotifierState::terminated: return "terminated";
    }
    return "?";
}

// --- Subscriber

void Subscriber::request_sent(Time now) {
    if (state_ != SubscriberState::idle) return;
    state_ = SubscriberState::notify_wait;
    timer_n_ = now + options_.notify_wait;  // §4.1.2.4: Timer N starts when the request is sent
}

void Subscriber::request_accepted(Time now, std::optional<std::uint32_t> expires) {
    switch (state_) {
        case SubscriberState::idle:
        case SubscriberState::terminated: return;
        case SubscriberState::notify_wait:
            timer_n_ = now + options_.notify_wait;  // docs/transfer-rules.md R26: the NOTIFY wait counts from the 2xx
            if (expires) set_expiry(now, *expires);
            return;
        case SubscriberState::pending:
        case SubscriberState::active:
            if (expires && !expires_at_) set_expiry(now, *expires);  // a NOTIFY's expires is authoritative
            return;
    }
}

void Subscriber::request_failed() {
    switch (state_) {
        case SubscriberState::idle:
        case SubscriberState::notify_wait: terminate(SubscriberEnd::rejected); return;
        case SubscriberState::pending:
        case SubscriberState::active:
        case SubscriberState::terminated: return;  // a NOTIFY created it already (§4.1.2.4 forking rules)
    }
}

NotifyEffect Subscriber::on_notify(Time now, const SubscriptionState& ss) {
    switch (state_) {
        case SubscriberState::terminated: return NotifyEffect::after_end;
        case SubscriberState::idle:
        case SubscriberState::notify_wait:
        case SubscriberState::pending:
        case SubscriberState::active: break;
    }
    switch (ss.state) {
        case Substate::terminated:
            reason_ = parse_termination_reason(ss.reason);
            retry_after_ = ss.retry_after;  // §4.1.3: expires is ignored on terminated
            terminate(SubscriberEnd::notified);
            return NotifyEffect::terminated;
        case Substate::pending:
            state_ = SubscriberState::pending;
            break;
        case Substate::active:
        case Substate::other:
            state_ = SubscriberState::active;
            break;
    }
    timer_n_.reset();  // a NOTIFY arrived (§4.1.2.4)
    if (ss.expires) set_expiry(now, *ss.expires);
    return NotifyEffect::updated;
}

void Subscriber::unsubscribe_sent(Time now) {
    switch (state_) {
        case SubscriberState::idle:
        case SubscriberState::terminated: return;
        case SubscriberState::notify_wait:
        case SubscriberState::pending:
        case SubscriberState::active:
            timer_n_ = now + options_.notify_wait;  // §4.1.2.3: wait for the final NOTIFY, bounded
            refresh_at_.reset();
            refresh_due_ = false;
            return;
    }
}

void Subscriber::end_locally() {
    if (state_ == SubscriberState::terminated) return;
    terminate(SubscriberEnd::local);
}

void Subscriber::on_timer(Time now) {
    if (state_ == SubscriberState::terminated || state_ == SubscriberState::idle) return;
    if (timer_n_ && now >= *timer_n_) {
        terminate(state_ == SubscriberState::notify_wait ? SubscriberEnd::no_notify : SubscriberEnd::expired);
        return;
    }
    if (expires_at_ && now >= *expires_at_) {
        terminate(SubscriberEnd::expired);  // §4.1.2.2: not refreshed in time
        return;
    }
    if (refresh_at_ && now >= *refresh_at_) {
        refresh_at_.reset();
        refresh_due_ = true;
    }
}

std::optional<Time> Subscriber::next_deadline() const noexcept {
    if (state_ == SubscriberState::terminated || state_ == SubscriberState::idle) return std::nullopt;
    return earliest(earliest(timer_n_, expires_at_), refresh_at_);
}

bool Subscriber::take_refresh() noexcept {
    bool due = refresh_due_;
    refresh_due_ = false;
    return due;
}

void Subscriber::set_expiry(Time now, std::uint32_t seconds) {
    Duration span = std::chrono::seconds(seconds);
    expires_at_ = now + span;
    Duration margin = span > 2 * options_.refresh_margin ? options_.refresh_margin : span / 2;
    refresh_at_ = now + span - margin;
    refresh_due_ = false;
}

void Subscriber::terminate(SubscriberEnd end) {
    state_ = SubscriberState::terminated;
    end_ = end;
    timer_n_.reset();
    expires_at_.reset();
    refresh_at_.reset();
    refresh_due_ = false;
}

// --- Notifier

Notifier::Notifier(Time now, NotifierOptions options)
    : state_(options.start_pending ? NotifierState::pending : NotifierState::active),
      expires_at_(now + std::chrono::seconds(options.expires)) {}

void Notifier::activate() {
    if (state_ == NotifierState::pending) state_ = NotifierState::active;
}

void Notifier::refresh(Time now, std::uint32_t expires) {
    if (state_ == NotifierState::terminated) return;
    if (expires == 0) {
        terminate(TerminationReason::timeout);
        return;
    }
    expires_at_ = now + std::chrono::seconds(expires);
}

void Notifier::terminate(TerminationReason reason) {
    if (state_ == NotifierState::terminated) return;
    state_ = NotifierState::terminated;
    reason_ = reason;
    final_due_ = true;
}

void Notifier::on_timer(Time now) {
    switch (state_) {
        case NotifierState::terminated: return;
        case NotifierState::pending:
        case NotifierState::active:
            if (now >= expires_at_) terminate(TerminationReason::timeout);  // §4.2.2
            return;
    }
}

std::optional<Time> Notifier::next_deadline() const noexcept {
    switch (state_) {
        case NotifierState::terminated: return std::nullopt;
        case NotifierState::pending:
        case NotifierState::active: return expires_at_;
    }
    return std::nullopt;
}

std::string Notifier::state_header(Time now) const {
    auto remaining = [&] {
        Duration left = expires_at_ > now ? expires_at_ - now : Duration{0};
        auto secs = std::chrono::ceil<std::chrono::seconds>(left).count();
        return std::to_string(secs);
    };
    switch (state_) {
        case NotifierState::pending: return "pending;expires=" + remaining();
        case NotifierState::active: return "active;expires=" + remaining();
        case NotifierState::terminated: {
            std::string_view r = to_string(reason_);
            return r.empty() ? std::string("terminated") : "terminated;reason=" + std::string(r);
        }
    }
    return "terminated";
}

bool Notifier::take_final_notify() noexcept {
    bool due = final_due_;
    final_due_ = false;
    return due;
}

}  // namespace referkit
