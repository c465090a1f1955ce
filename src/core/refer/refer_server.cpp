// The transferee side of REFER (RFC 3515 §2.4, RFC 4488, RFC 6665 §4.2).
#include "referkit/core/refer_server.hpp"

#include <algorithm>
#include <chrono>

#include "referkit/core/header_id.hpp"

namespace referkit {

std::string_view to_string(ReferServerState s) noexcept {
    switch (s) {
        case ReferServerState::received: return "received";
        case ReferServerState::active: return "active";
        case ReferServerState::terminating: return "terminating";
        case ReferServerState::done: return "done";
    }
    return "?";
}

std::string_view to_string(ReferServerCause c) noexcept {
    switch (c) {
        case ReferServerCause::none: return "none";
        case ReferServerCause::rejected: return "rejected";
        case ReferServerCause::no_subscription: return "no subscription";
        case ReferServerCause::final_notify: return "final notify";
        case ReferServerCause::unsubscribed: return "unsubscribed";
        case ReferServerCause::expired: return "expired";
        case ReferServerCause::notify_failed: return "notify failed";
        case ReferServerCause::dialog_terminated: return "dialog terminated";
        case ReferServerCause::shut_down: return "shut down";
    }
    return "?";
}

namespace {

ReferRequestError bad(std::string detail) {
    return ReferRequestError{.status = 400, .reason = "Bad Request", .detail = std::move(detail)};
}

// A reason phrase safe to put on a sipfrag status line: no CR/LF, the standard one when empty.
std::string phrase(int status, std::string_view reason) {
    std::string out;
    for (char c : reason)
        if (c != '\r' && c != '\n') out += c;
    if (out.empty()) out = std::string(reason_phrase(status));
    return out;
}

// RFC 6665 §4.2.2: these failures of a NOTIFY remove the subscription (408 also covers Timer F).
bool removes_subscription(int status) noexcept {
    switch (status) {
        case 404: case 405: case 408: case 410: case 416: case 480: case 481: case 482: case 483: case 484:
        case 485: case 489: case 501: case 604: return true;
        default: return false;
    }
}

}  // namespace

// ----------------------------------------------------------------- ReferServerContext

std::expected<ReferServerContext, ReferRequestError> ReferServerContext::from_request(const Message& refer,
                                                                                      ReferServerOptions options) {
    if (!refer.is_request() || refer.method() != Method::refer) return std::unexpected(bad("not a REFER"));
    // RFC 3515 §2.4.2: 400 for zero or more than one Refer-To value.
    if (refer.count(HeaderId::refer_to) != 1)
        return std::unexpected(bad(refer.count(HeaderId::refer_to) == 0 ? "no Refer-To" : "several Refer-To"));
    auto na = refer.refer_to();
    if (!na) return std::unexpected(bad("Refer-To: " + na.error().describe()));
    switch (na->uri.scheme) {
        case Scheme::sip:
        case Scheme::sips:
        case Scheme::tel: break;
        case Scheme::other:
            // RFC 3261 §21.4.14 ties 416 to the Request-URI; RFC 3515 §2.4.2 allows any 4xx here.
            return std::unexpected(bad("unsupported Refer-To scheme '" + std::string(na->uri.scheme_text) + "'"));
    }
    auto target = read_refer_to(*na);
    if (!target) return std::unexpected(bad(std::string("Refer-To: ") + std::string(target.error().what)));

    ReferServerContext ctx;
    if (refer.count(HeaderId::referred_by) > 0) {
        auto by = refer.referred_by();
        if (!by) return std::unexpected(bad("Referred-By: " + by.error().describe()));
        ctx.referred_by_ = std::string(refer.find(HeaderId::referred_by)->value);
    }
    bool refer_sub_false = false;
    if (refer.count(HeaderId::refer_sub) > 0) {
        auto rs = refer.refer_sub();
        if (!rs) return std::unexpected(bad("Refer-Sub: " + rs.error().describe()));
        refer_sub_false = !rs->value;
    }
    ctx.options_ = options;
    ctx.target_ = std::move(*target);
    ctx.refer_to_ = std::string(refer.find(HeaderId::refer_to)->value);
    ctx.id_ = refer.cseq().number;
    ctx.in_dialog_ = !refer.to().tag.empty();
    // RFC 4488 §4: a recipient that supports the extension and is willing grants it by echoing
    // Refer-Sub: false in the 2xx; the issuer learns it from there, so its own Supported does not
    // matter (issuers that do not list norefersub are common).
    ctx.no_subscription_ = refer_sub_false && options.allow_no_subscription;
    return ctx;
}

HeaderList ReferServerContext::invite_headers() const {
    HeaderList out;
    if (!referred_by_.empty()) out.emplace_back("Referred-By", referred_by_);  // RFC 3892 §3 (referee copies it)
    for (const EmbeddedHeader& h : target_.headers) {
        bool take = false;
        switch (options_.embedded) {
            case EmbeddedHeaderPolicy::replaces_only: take = lookup_header(h.name) == HeaderId::replaces; break;
            case EmbeddedHeaderPolicy::honoured: take = true; break;
            case EmbeddedHeaderPolicy::none: take = false; break;
        }
        if (!take) continue;
        if (lookup_header(h.name) == HeaderId::referred_by && !referred_by_.empty()) continue;  // once
        out.emplace_back(h.name, h.value);
    }
    return out;
}

ReferServerAnswer ReferServerContext::accept(Time now) {
    if (state_ != ReferServerState::received) return ReferServerAnswer{.status = 0, .reason = {}, .headers = {}};
    accepted_ = true;
    status_ = 100;
    reason_ = "Trying";
    ReferServerAnswer a;
    a.headers.emplace_back("Supported", "norefersub");
    if (no_subscription_) {
        // RFC 4488 §4: echo Refer-Sub: false in the 2xx; no subscription, no NOTIFY.
        a.status = 200;
        a.reason = "OK";
        a.headers.emplace_back("Refer-Sub", "false");
        end(ReferServerCause::no_subscription);
        return a;
    }
    a.status = options_.answer_200 ? 200 : 202;
    a.reason = options_.answer_200 ? "OK" : "Accepted";
    notifier_.emplace(now, NotifierOptions{.expires = options_.expires, .start_pending = false});
    state_ = ReferServerState::active;
    queue(100, "Trying");  // RFC 6665 §4.2.2 / RFC 3515 §2.4.4: the first NOTIFY at once
    return a;
}

ReferServerAnswer ReferServerContext::reject(int status, std::string_view reason) {
    if (state_ != ReferServerState::received) return ReferServerAnswer{.status = 0, .reason = {}, .headers = {}};
    if (status < 300 || status > 699) status = 603;
    ReferServerAnswer a{.status = status, .reason = phrase(status, reason), .headers = {}};
    end(ReferServerCause::rejected, status);
    return a;
}

ReferServerAnswer ReferServerContext::decide(const ReferPolicy& policy, Time now) {
    ReferDecision d = policy ? policy(*this) : default_refer_policy(*this);
    switch (d.verdict) {
        case ReferVerdict::accept: return accept(now);
        case ReferVerdict::reject: return reject(d.status, d.reason);
    }
    return reject(603);
}

ReferDecision default_refer_policy(const ReferServerContext& context) {
    auto target = parse_uri(context.target().uri, UriContext::name_addr);
    bool sip = false;
    if (target) {
        switch (target->scheme) {
            case Scheme::sip:
            case Scheme::sips: sip = true; break;
            case Scheme::tel:
            case Scheme::other: break;
        }
    }
    if (sip && context.target().method == "INVITE") return ReferDecision{};
    return ReferDecision{.verdict = ReferVerdict::reject, .status = 603, .reason = {}};
}

void ReferServerContext::queue(int status, std::string reason) {
    status_ = status;
    reason_ = reason;
    if (state_ != ReferServerState::active) return;
    // Full-state bodies (RFC 3515 §2.4.5): when the queue is full, the newest provisional
    // replaces the last one waiting.
    if (queue_.size() >= std::max<std::size_t>(options_.max_queued_notifies, 1) && !queue_.back().final) {
        queue_.back() = Pending{.status = status, .reason = std::move(reason), .final = false};
        return;
    }
    queue_.push_back(Pending{.status = status, .reason = std::move(reason), .final = false});
}

void ReferServerContext::queue_final(TerminationReason reason) {
    if (state_ != ReferServerState::active || !notifier_) return;
    notifier_->terminate(reason);
    (void)notifier_->take_final_notify();
    state_ = ReferServerState::terminating;
    switch (reason) {
        case TerminationReason::noresource: break;
        // Unsubscribe or expiry: the provisionals still waiting are stale; the final NOTIFY
        // carries the current state (RFC 6665 §4.2.1.2).
        case TerminationReason::none:
        case TerminationReason::deactivated:
        case TerminationReason::probation:
        case TerminationReason::rejected:
        case TerminationReason::timeout:
        case TerminationReason::giveup:
        case TerminationReason::invariant:
        case TerminationReason::other: queue_.clear(); break;
    }
    queue_.push_back(Pending{.status = status_, .reason = reason_, .final = true});
}

void ReferServerContext::reference_progress(Time, int status, std::string_view reason) {
    if (!accepted_ || final_status_ || status < 101 || status > 199) return;
    if (status == last_progress_) return;  // a repeated provisional (RFC 3261 §17.1.1.2 retransmission)
    last_progress_ = status;
    queue(status, phrase(status, reason));
}

void ReferServerContext::reference_final(Time, int status, std::string_view reason) {
    if (!accepted_ || final_status_ || status < 200 || status > 699) return;
    final_status_ = status;
    status_ = status;
    reason_ = phrase(status, reason);
    queue_final(TerminationReason::noresource);  // RFC 3515 §2.4.7
}

std::optional<ReferServerNotify> ReferServerContext::poll_notify(Time now) {
    if (in_flight_ || queue_.empty() || !notifier_) return std::nullopt;
    switch (state_) {
        case ReferServerState::received:
        case ReferServerState::done: return std::nullopt;
        case ReferServerState::active:
        case ReferServerState::terminating: break;
    }
    in_flight_ = std::move(queue_.front());
    queue_.pop_front();
    ReferServerNotify n;
    n.headers.emplace_back("Event", "refer;id=" + std::to_string(id_));  // RFC 3515 §2.4.6
    if (in_flight_->final) {
        n.headers.emplace_back("Subscription-State", notifier_->state_header(now));  // terminated;reason=R
    } else {
        // A provisional still waiting when the final status arrived goes out before it, as active
        // with the time left (RFC 6665 §4.2.2: expires is the remaining duration).
        Duration left = notifier_->expires_at() > now ? notifier_->expires_at() - now : Duration{0};
        n.headers.emplace_back("Subscription-State",
                               "active;expires=" +
                                   std::to_string(std::chrono::ceil<std::chrono::seconds>(left).count()));
    }
    n.body = "SIP/2.0 " + std::to_string(in_flight_->status) + " " + in_flight_->reason + "\r\n";
    n.sipfrag_status = in_flight_->status;
    n.final = in_flight_->final;
    return n;
}

void ReferServerContext::notify_answered(Time, int status) {
    if (!in_flight_ || status < 200) return;
    Pending sent = std::move(*in_flight_);
    in_flight_.reset();
    if (state_ == ReferServerState::done) return;
    if (status < 300) {
        events_.push_back(ReferServerEvent{.kind = ReferServerEventKind::notified, .status = sent.status,
                                           .cause = ReferServerCause::none});
        if (sent.final) {
            ReferServerCause c = ReferServerCause::final_notify;
            switch (notifier_ ? notifier_->reason() : TerminationReason::noresource) {
                case TerminationReason::noresource: c = ReferServerCause::final_notify; break;
                case TerminationReason::timeout: c = unsubscribed_ ? ReferServerCause::unsubscribed
                                                                   : ReferServerCause::expired; break;
                case TerminationReason::none:
                case TerminationReason::deactivated:
                case TerminationReason::probation:
                case TerminationReason::rejected:
                case TerminationReason::giveup:
                case TerminationReason::invariant:
                case TerminationReason::other: c = ReferServerCause::final_notify; break;
            }
            end(c);
        }
        return;
    }
    if (removes_subscription(status) || sent.final) {
        if (notifier_) notifier_->terminate(TerminationReason::noresource);
        end(ReferServerCause::notify_failed, status);
    }
}

ReferServerAnswer ReferServerContext::on_subscribe(Time now, std::optional<std::uint32_t> expires) {
    if (state_ != ReferServerState::active || !notifier_)
        return ReferServerAnswer{.status = 481, .reason = "Subscription Does Not Exist", .headers = {}};
    std::uint32_t granted = std::min(expires.value_or(options_.expires), options_.expires);
    ReferServerAnswer a{.status = 200, .reason = "OK", .headers = {}};
    a.headers.emplace_back("Expires", std::to_string(granted));
    if (granted == 0) {
        unsubscribed_ = true;
        queue_final(TerminationReason::timeout);  // RFC 6665 §4.2.1.2: unsubscribe = terminated;reason=timeout
        return a;
    }
    notifier_->refresh(now, granted);
    queue(status_, reason_);  // RFC 6665 §4.2.1.2: a NOTIFY with the current state follows the 200
    return a;
}

void ReferServerContext::on_timer(Time now) {
    if (state_ != ReferServerState::active || !notifier_) return;
    if (auto d = notifier_->next_deadline(); !d || now < *d) return;
    queue_final(TerminationReason::timeout);  // RFC 6665 §4.2.2: expiry, reason=timeout
}

std::optional<Time> ReferServerContext::next_deadline() const noexcept {
    if (state_ != ReferServerState::active || !notifier_) return std::nullopt;
    return notifier_->next_deadline();
}

void ReferServerContext::dialog_terminated() {
    if (state_ == ReferServerState::done) return;
    if (notifier_) notifier_->terminate(TerminationReason::noresource);
    end(ReferServerCause::dialog_terminated);
}

void ReferServerContext::shut_down() {
    if (state_ == ReferServerState::done) return;
    if (notifier_) notifier_->terminate(TerminationReason::noresource);
    end(ReferServerCause::shut_down);
}

std::optional<ReferServerEvent> ReferServerContext::poll_event() {
    if (events_.empty()) return std::nullopt;
    ReferServerEvent e = events_.front();
    events_.pop_front();
    return e;
}

void ReferServerContext::end(ReferServerCause cause, int status) {
    if (state_ == ReferServerState::done) return;
    state_ = ReferServerState::done;
    cause_ = cause;
    queue_.clear();
    in_flight_.reset();
    events_.push_back(ReferServerEvent{.kind = ReferServerEventKind::ended, .status = status, .cause = cause});
}

}  // namespace referkit
