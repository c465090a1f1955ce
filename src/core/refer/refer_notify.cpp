// NOTIFY classification for REFER subscriptions.
#include "referkit/core/refer_notify.hpp"

#include <algorithm>

#include "referkit/core/header_id.hpp"
#include "referkit/core/sipfrag.hpp"

namespace referkit {

SipfragClass classify_sipfrag_status(int status) noexcept {
    if (status < 200) return SipfragClass::progress;
    if (status < 300) return SipfragClass::accepted;
    return SipfragClass::rejected;  // RFC 3515 §2.4.5: any final non-2xx, 3xx included
}

SubscriptionState ReferSubState::view() const {
    SubscriptionState s;
    s.state = state;
    s.expires = expires;
    s.retry_after = retry_after;
    s.reason = reason_text;
    return s;
}

namespace {
ReferNotifyVerdict refuse(std::uint16_t status, std::string detail) {
    ReferNotifyVerdict v;
    v.status = status;
    v.detail = std::move(detail);
    return v;
}
}  // namespace

ReferNotifyVerdict classify_notify(const Message& notify, std::string_view package,
                                   std::span<const std::uint32_t> live_ids) {
    // RFC 6665 §8.2.1: Event identifies the package and, with its id, the subscription.
    // RFC 3261 §7.3.1: a malformed parameter is skipped and noted, never the reason to lose a NOTIFY.
    auto event = notify.event_tolerant();
    if (!event) {
        if (event.error().code == ErrorCode::header_absent) return refuse(400, "NOTIFY without Event");
        return refuse(400, "malformed Event: " + event.error().describe());
    }
    if (!iequals(event->value.package, package)) return refuse(489, "event package is not " + std::string(package));
    std::string tolerated;
    if (event->ignored) tolerated = "Event: " + event->ignored->describe();

    std::optional<std::uint32_t> id;
    if (event->value.has_id) {
        auto n = parse_uint(event->value.id, 0x7fffffffu);
        // An id that is not a CSeq number names no subscription of ours.
        if (!n || std::find(live_ids.begin(), live_ids.end(), *n) == live_ids.end())
            return refuse(481, "no " + std::string(package) + " subscription with id " + std::string(event->value.id));
        id = *n;
    } else if (live_ids.size() == 1) {
        id = live_ids.front();  // RFC 3515 §2.4.6: the id may be omitted for the first REFER
    } else if (live_ids.empty()) {
        return refuse(481, "no live " + std::string(package) + " subscription");
    } else {
        return refuse(400, "Event without id and several " + std::string(package) + " subscriptions live");
    }

    ReferNotifyVerdict v;
    v.id = id;
    // RFC 6665 §4.1.3: NOTIFY requests MUST contain Subscription-State.
    auto ss = notify.subscription_state_tolerant();
    if (!ss) {
        v.status = 400;
        v.detail = ss.error().code == ErrorCode::header_absent ? "NOTIFY without Subscription-State"
                                                               : "malformed Subscription-State";
        return v;
    }
    if (ss->ignored)
        tolerated += (tolerated.empty() ? "" : "; ") + std::string("Subscription-State: ") + ss->ignored->describe();
    ReferSubState owned;
    owned.state = ss->value.state;
    owned.expires = ss->value.expires;
    owned.retry_after = ss->value.retry_after;
    owned.reason_text = std::string(ss->value.reason);
    owned.reason = parse_termination_reason(ss->value.reason);
    v.sub_state = std::move(owned);
    v.tolerated = std::move(tolerated);
    v.status = 200;
    return v;
}

void check_sipfrag_body(const Message& notify, ReferNotifyVerdict& v) {
    // RFC 3515 §2.4.5: the body is a message/sipfrag.
    if (notify.find(HeaderId::content_type) == nullptr) {
        v.status = 400;
        v.detail = notify.body().empty() ? "NOTIFY without a sipfrag body" : "body without Content-Type";
        return;
    }
    auto ct = notify.content_type();
    if (!ct) {
        v.status = 400;
        v.detail = "malformed Content-Type";
        return;
    }
    if (!ct->is("message", "sipfrag")) {
        v.status = 415;
        v.add_accept_sipfrag = true;  // RFC 3261 §21.4.13
        v.detail = "Content-Type is not message/sipfrag";
        return;
    }
    auto frag = parse_sipfrag(notify.body(), notify.limits(), SipfragMode::tolerant);
    if (!frag) {
        v.status = 400;
        v.detail = "malformed sipfrag: " + frag.error().describe();
        return;
    }
    if (!frag->is_response) {
        v.status = 400;
        v.detail = "sipfrag is not a status line";
        return;
    }
    v.status = 200;
    v.sipfrag_status = frag->status;
    v.sipfrag_reason = std::string(frag->reason);
    v.kind = classify_sipfrag_status(frag->status);
}

ReferNotifyVerdict classify_refer_notify(const Message& notify, std::span<const std::uint32_t> live_ids) {
    ReferNotifyVerdict v = classify_notify(notify, "refer", live_ids);
    if (v.status == 200) check_sipfrag_body(notify, v);
    return v;
}

}  // namespace referkit
