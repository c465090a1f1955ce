// The REFER client context state machine (RFC 3515 §2.4, RFC 4488, RFC 6665 §4.1).
#include "referkit/core/refer_client_context.hpp"

namespace referkit {

std::string_view sipjs_name(ReferEventKind kind) noexcept {
    switch (kind) {
        case ReferEventKind::refer_request_accepted: return "referRequestAccepted";
        case ReferEventKind::refer_request_rejected: return "referRequestRejected";
        case ReferEventKind::refer_progress: return "referProgress";
        case ReferEventKind::refer_accepted: return "referAccepted";
        case ReferEventKind::refer_rejected: return "referRejected";
        case ReferEventKind::notify: return "notify";
        case ReferEventKind::ended: return "ended";
    }
    return "?";
}

std::string_view to_string(ReferOutcome outcome) noexcept {
    switch (outcome) {
        case ReferOutcome::pending: return "pending";
        case ReferOutcome::accepted: return "accepted";
        case ReferOutcome::rejected: return "rejected";
        case ReferOutcome::unknown: return "unknown";
        case ReferOutcome::failed: return "failed";
    }
    return "?";
}

std::string_view to_string(ReferCause cause) noexcept {
    switch (cause) {
        case ReferCause::none: return "none";
        case ReferCause::final_notify: return "final NOTIFY";
        case ReferCause::refer_response: return "REFER rejected";
        case ReferCause::refer_timeout: return "REFER timed out";
        case ReferCause::transport_error: return "transport error";
        case ReferCause::no_subscription: return "no subscription (Refer-Sub: false)";
        case ReferCause::no_notify: return "no NOTIFY received";
        case ReferCause::subscription_ended: return "subscription ended without a final status";
        case ReferCause::subscription_expired: return "subscription expired";
        case ReferCause::refused_notify: return "refused NOTIFY ended the subscription";
        case ReferCause::unsubscribed: return "unsubscribed";
        case ReferCause::dialog_terminated: return "dialog terminated";
        case ReferCause::shut_down: return "shut down";
    }
    return "?";
}

std::string_view to_string(ReferState state) noexcept {
    switch (state) {
        case ReferState::idle: return "idle";
        case ReferState::requesting: return "requesting";
        case ReferState::subscribed: return "subscribed";
        case ReferState::ended: return "ended";
    }
    return "?";
}

ReferResponse refer_response_from(const Message& response) {
    ReferResponse r;
    r.status = response.status();
    r.reason = std::string(response.reason());
    r.source = ResponseOrigin::wire;
    if (auto rs = response.refer_sub()) r.refer_sub_false = !rs->value;
    if (auto e = response.expires()) r.expires = *e;
    return r;
}

ReferClientContext::ReferClientContext(ReferOptions options)
    : options_(std::move(options)),
      subscriber_(SubscriberOptions{.notify_wait = options_.notify_wait, .refresh_margin = options_.refresh_margin}) {}

void ReferClientContext::refer_sent(Time now, std::uint32_t cseq) {
    switch (state_) {
        case ReferState::idle:
            state_ = ReferState::requesting;
            id_ = cseq;
            subscriber_.request_sent(now);
            return;
        case ReferState::requesting:
        case ReferState::subscribed:
        case ReferState::ended: return;
    }
}

void ReferClientContext::refer_resent(Time /*now*/, std::uint32_t new_cseq) {
    switch (state_) {
        case ReferState::requesting: id_ = new_cseq; return;
        case ReferState::idle:
        case ReferState::subscribed:
        case ReferState::ended: return;
    }
}

void ReferClientContext::on_response(Time now, const ReferResponse& response) {
    switch (state_) {
        case ReferState::idle:
        case ReferState::subscribed:  // a retransmitted 2xx: nothing again
        case ReferState::ended: return;
        case ReferState::requesting: break;
    }
    if (response.status < 200) return;  // 1xx: only the TransferResponseEvent shows it
    final_status_ = response.status;
    if (response.status < 300) {
        raise(ReferEventKind::refer_request_accepted, response.status, response.reason);
        if (deferred_outcome_) {  // the final NOTIFY beat the 2xx (RFC 3515 §2.4.4)
            end(*deferred_outcome_, deferred_cause_);
            return;
        }
        // RFC 4488 §4: the 2xx echoes Refer-Sub: false only when no subscription was created.
        if (!options_.refer_sub && response.refer_sub_false && subscriber_.state() == SubscriberState::notify_wait) {
            end(ReferOutcome::accepted, ReferCause::no_subscription);
            return;
        }
        state_ = ReferState::subscribed;
        subscriber_.request_accepted(now, response.expires);
        return;
    }
    raise(ReferEventKind::refer_request_rejected, response.status, response.reason);
    if (deferred_outcome_) {
        end(*deferred_outcome_, deferred_cause_);
        return;
    }
    subscriber_.request_failed();
    switch (response.source) {
        case ResponseOrigin::wire: end(ReferOutcome::rejected, ReferCause::refer_response); return;
        case ResponseOrigin::timeout: end(ReferOutcome::failed, ReferCause::refer_timeout); return;
        case ResponseOrigin::transport_error: end(ReferOutcome::failed, ReferCause::transport_error); return;
    }
}

void ReferClientContext::on_notify(Time now, const ReferNotifyVerdict& verdict) {
    switch (state_) {
        case ReferState::idle:
        case ReferState::ended: return;
        case ReferState::requesting:
        case ReferState::subscribed: break;
    }
    auto finish = [&](ReferOutcome outcome, ReferCause cause) {
        if (state_ == ReferState::requesting) {
            deferred_outcome_ = outcome;
            deferred_cause_ = cause;
        } else {
            end(outcome, cause);
        }
    };

    if (verdict.status != 200) {
        // docs/transfer-rules.md R31: a refused NOTIFY (400/415) that says terminated ends the context
        // at once, even before the REFER's 2xx (an outcome already known is kept).
        if (verdict.sub_state && verdict.sub_state->state == Substate::terminated) {
            subscriber_.end_locally();
            if (deferred_outcome_) end(*deferred_outcome_, deferred_cause_);
            else end(ReferOutcome::unknown, ReferCause::refused_notify);
        }
        return;
    }
    if (deferred_outcome_) {
        // The outcome is known and waits for the REFER's final response; docs/transfer-rules.md R25: every NOTIFY
        // answered 200 still raises `notify`.
        raise(ReferEventKind::notify, verdict.sipfrag_status, verdict.sipfrag_reason);
        events_.back().note = verdict.tolerated;
        return;
    }
    if (!verdict.sub_state) return;  // classify_refer_notify always sets it with 200
    NotifyEffect effect = subscriber_.on_notify(now, verdict.sub_state->view());
    switch (effect) {
        case NotifyEffect::after_end: return;
        case NotifyEffect::updated:
        case NotifyEffect::terminated: break;
    }
    bool first_final = false;
    switch (verdict.kind) {
        case SipfragClass::progress:
            if (!final_sipfrag_) raise(ReferEventKind::refer_progress, verdict.sipfrag_status, verdict.sipfrag_reason);
            break;
        case SipfragClass::accepted:
            if (!final_sipfrag_) {
                raise(ReferEventKind::refer_accepted, verdict.sipfrag_status, verdict.sipfrag_reason);
                first_final = true;
            }
            break;
        case SipfragClass::rejected:
            if (!final_sipfrag_) {
                raise(ReferEventKind::refer_rejected, verdict.sipfrag_status, verdict.sipfrag_reason);
                first_final = true;
            }
            break;
    }
    if (first_final) final_sipfrag_ = verdict.sipfrag_status;
    raise(ReferEventKind::notify, verdict.sipfrag_status, verdict.sipfrag_reason);
    events_.back().note = verdict.tolerated;

    if (final_sipfrag_) {
        // RFC 3515 §2.4.7: the final status is the last thing the subscription reports; the outcome
        // is known whatever Subscription-State says.
        subscriber_.end_locally();
        finish(*final_sipfrag_ < 300 ? ReferOutcome::accepted : ReferOutcome::rejected, ReferCause::final_notify);
        return;
    }
    if (effect == NotifyEffect::terminated)
        finish(ReferOutcome::unknown, unsubscribing_ ? ReferCause::unsubscribed : ReferCause::subscription_ended);
}

void ReferClientContext::on_timer(Time now) {
    switch (state_) {
        case ReferState::idle:
        case ReferState::ended: return;
        case ReferState::requesting:
        case ReferState::subscribed: break;
    }
    if (deferred_outcome_ || waits_for_response()) return;
    subscriber_.on_timer(now);
    check_subscriber();
}

bool ReferClientContext::waits_for_response() const noexcept {
    // Before the REFER's final response and before any NOTIFY, the REFER's own transaction decides
    // (its 2xx restarts the NOTIFY wait, Timer F gives a 408: RFC 3261 §17.1.2.2); the NOTIFY wait
    // (Timer N, also 64*T1) must not pre-empt a failed outcome.
    return state_ == ReferState::requesting && subscriber_.state() == SubscriberState::notify_wait;
}

void ReferClientContext::check_subscriber() {
    if (!subscriber_.ended()) return;
    switch (subscriber_.end()) {
        case SubscriberEnd::none:
        case SubscriberEnd::notified:
        case SubscriberEnd::rejected:
        case SubscriberEnd::local: return;  // handled where they happen
        case SubscriberEnd::no_notify:
            end(ReferOutcome::unknown, unsubscribing_ ? ReferCause::unsubscribed : ReferCause::no_notify);
            return;
        case SubscriberEnd::expired:
            end(ReferOutcome::unknown, unsubscribing_ ? ReferCause::unsubscribed : ReferCause::subscription_expired);
            return;
    }
}

std::optional<Time> ReferClientContext::next_deadline() const noexcept {
    switch (state_) {
        case ReferState::idle:
        case ReferState::ended: return std::nullopt;
        case ReferState::requesting:
        case ReferState::subscribed: break;
    }
    if (deferred_outcome_ || waits_for_response()) return std::nullopt;
    return subscriber_.next_deadline();
}

bool ReferClientContext::unsubscribe(Time now) {
    switch (state_) {
        case ReferState::idle:
        case ReferState::ended:
        case ReferState::requesting: return false;  // no dialog usage to SUBSCRIBE in yet
        case ReferState::subscribed: break;
    }
    if (unsubscribing_ || deferred_outcome_) return false;
    unsubscribing_ = true;
    subscriber_.unsubscribe_sent(now);
    return true;
}

bool subscribe_failure_ends_subscription(int status) noexcept {
    // RFC 6665 §4.1.2.2 (and RFC 5057 §5.1: usage/dialog-destroying codes), plus 408: a refresh
    // that timed out leaves nothing to wait for (RFC 5057 §5.1.2).
    switch (status) {
        case 404: case 405: case 408: case 410: case 416: case 480: case 481: case 482: case 483: case 484:
        case 485: case 489: case 501: case 502: case 604: return true;
        default: return false;
    }
}

void ReferClientContext::subscribe_failed(Time /*now*/, int status) {
    switch (state_) {
        case ReferState::idle:
        case ReferState::requesting:
        case ReferState::ended: return;
        case ReferState::subscribed: break;
    }
    if (!subscribe_failure_ends_subscription(status)) return;
    subscriber_.end_locally();
    if (deferred_outcome_) {
        end(*deferred_outcome_, deferred_cause_);
        return;
    }
    end(ReferOutcome::unknown, unsubscribing_ ? ReferCause::unsubscribed : ReferCause::subscription_ended);
}

void ReferClientContext::dialog_terminated(Time /*now*/) {
    if (state_ == ReferState::ended || state_ == ReferState::idle) return;
    subscriber_.end_locally();
    if (deferred_outcome_) {
        end(*deferred_outcome_, deferred_cause_);
        return;
    }
    end(ReferOutcome::unknown, ReferCause::dialog_terminated);
}

void ReferClientContext::shut_down(Time /*now*/) {
    if (state_ == ReferState::ended) return;
    subscriber_.end_locally();
    if (deferred_outcome_) {
        end(*deferred_outcome_, deferred_cause_);
        return;
    }
    end(ReferOutcome::unknown, ReferCause::shut_down);
}

std::optional<ReferEvent> ReferClientContext::poll_event() {
    if (events_.empty()) return std::nullopt;
    ReferEvent e = std::move(events_.front());
    events_.pop_front();
    return e;
}

void ReferClientContext::raise(ReferEventKind kind, int status, std::string_view reason) {
    events_.push_back(ReferEvent{.kind = kind, .id = id_, .status = status, .reason = std::string(reason)});
}

void ReferClientContext::end(ReferOutcome outcome, ReferCause cause) {
    if (state_ == ReferState::ended) return;  // every context ends exactly once
    state_ = ReferState::ended;
    outcome_ = outcome;
    cause_ = cause;
    deferred_outcome_.reset();
    subscriber_.end_locally();
    events_.push_back(ReferEvent{.kind = ReferEventKind::ended, .id = id_, .status = final_sipfrag_.value_or(0),
                                 .reason = {}, .outcome = outcome, .cause = cause,
                                 .hang_up = outcome == ReferOutcome::accepted && !options_.active_after_transfer});
}

}  // namespace referkit
