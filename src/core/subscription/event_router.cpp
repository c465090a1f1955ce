// The event-package router (RFC 6665 §4.1.2.4, §4.1.3, §8.2.1, §8.2.2): see event_router.hpp.
#include "event_router.hpp"

#include <algorithm>

#include "../stack/stack_impl.hpp"
#include "referkit/core/header_id.hpp"

namespace referkit::stack {

namespace {

std::string two(std::string_view a, std::string_view b) {
    std::string k;
    k.reserve(a.size() + b.size() + 1);
    k.append(a).push_back('\n');
    k.append(b);
    return k;
}

// (Call-ID, From tag, CSeq) of a NOTIFY: what identifies its retransmissions (§17.2.3 without a branch).
std::string notify_key(const Message& m) {
    std::string k = two(m.call_id(), m.from().tag);
    k.push_back('\n');
    k.append(std::to_string(m.cseq().number));
    return k;
}

}  // namespace

EventRouter::Package* EventRouter::find_package(std::string_view name) {
    for (Package& p : packages_)
        if (iequals(p.name, name)) return &p;
    return nullptr;
}

const EventRouter::Package* EventRouter::find_package(std::string_view name) const {
    for (const Package& p : packages_)
        if (iequals(p.name, name)) return &p;
    return nullptr;
}

void EventRouter::register_subscriber(std::string name, SubscriberPackage& package, bool claims_unmatched) {
    Package* p = find_package(name);
    if (p == nullptr) p = &packages_.emplace_back(Package{.name = std::move(name)});
    p->subscriber = &package;
    p->claims_unmatched = claims_unmatched;
}

void EventRouter::register_notifier(std::string name, NotifierPackage& package) {
    Package* p = find_package(name);
    if (p == nullptr) p = &packages_.emplace_back(Package{.name = std::move(name)});
    p->notifier = &package;
}

std::optional<std::string> EventRouter::refuse_package(const Message& m) const {
    const std::vector<std::string>& taken = s_.config.ua.event_packages;
    if (taken.empty()) return std::nullopt;
    auto e = m.event_tolerant();
    if (!e) return std::nullopt;  // a missing or garbled Event is the package's or the application's to refuse
    if (std::any_of(taken.begin(), taken.end(), [&](const std::string& p) { return iequals(p, e->value.package); }))
        return std::nullopt;
    std::string allow;
    for (const std::string& p : taken) allow += (allow.empty() ? "" : ", ") + p;
    return allow;
}

std::optional<std::uint16_t> EventRouter::refuse_unsolicited_notify(const Message& m) const {
    auto event = m.event_tolerant();  // by its package, as route_notify
    const Package* p = event ? find_package(event->value.package) : nullptr;
    // Another package (or ours left to the application) is the application's to answer.
    if (event && (p == nullptr || p->subscriber == nullptr || !p->claims_unmatched)) return std::nullopt;
    // No subscription of ours can match a NOTIFY without To tag (§4.1.2.4 ones carry our tag):
    // no live ids. A missing or garbled Event is 400 (§8.2.1), else 481 (§4.1.3).
    return classify_notify(m, p != nullptr ? std::string_view(p->name) : std::string_view(), {}).status;
}

void EventRouter::forget_expired(Time now) {
    while (!final_order_.empty() && final_order_.front().second <= now) {
        auto it = final_notifies_.find(final_order_.front().first);
        if (it != final_notifies_.end() && it->second == final_order_.front().second) final_notifies_.erase(it);
        final_order_.pop_front();
    }
    while (!forkable_order_.empty() && forkable_order_.front().second <= now) {
        auto it = creators_.find(forkable_order_.front().first);
        if (it != creators_.end() && it->second.until == forkable_order_.front().second) creators_.erase(it);
        forkable_order_.pop_front();
    }
}

bool EventRouter::duplicate_final_notify(const Message& m, Time now) {
    forget_expired(now);
    if (final_notifies_.empty()) return false;
    return final_notifies_.contains(notify_key(m));
}

void EventRouter::notify_answered(const Message& m, Time now) {
    auto ss = m.subscription_state_tolerant();
    if (!ss || ss->value.state != Substate::terminated) return;
    const UserAgentConfig& c = s_.config.ua;
    const Duration keep = c.final_notify_memory.value_or(64 * c.transaction.t1);
    forget_expired(now);
    if (keep <= Duration::zero() || c.max_final_notifies == 0) return;
    while (final_notifies_.size() >= c.max_final_notifies && !final_order_.empty()) {  // oldest forgotten first
        auto it = final_notifies_.find(final_order_.front().first);
        if (it != final_notifies_.end() && it->second == final_order_.front().second) final_notifies_.erase(it);
        final_order_.pop_front();
    }
    std::string key = notify_key(m);
    final_notifies_[key] = now + keep;
    final_order_.emplace_back(std::move(key), now + keep);
}

void EventRouter::creating_sent(RequestId id, const std::string& call_id, const std::string& from_tag,
                                std::uint32_t cseq, SubscriberPackage* package) {
    creators_[two(call_id, from_tag)] = Creator{.request = id, .cseq = cseq, .package = package, .until = std::nullopt};
}

void EventRouter::creating_ended(RequestId id, const std::string& call_id, const std::string& from_tag,
                                 bool answered_2xx, Time now) {
    std::string key = two(call_id, from_tag);
    auto it = creators_.find(key);
    if (it == creators_.end() || it->second.request != id) return;
    const std::size_t bound = s_.config.ua.max_requests;
    if (!answered_2xx || bound == 0) {
        creators_.erase(it);
        return;
    }
    // §4.1.2.4: other forks may still NOTIFY for 64*T1 after the 2xx (Timer N's span).
    forget_expired(now);
    const Time until = now + 64 * s_.config.ua.transaction.t1;
    it->second.until = until;
    forkable_order_.emplace_back(std::move(key), until);
    while (forkable_order_.size() > bound) {  // the oldest is forgotten first
        auto old = creators_.find(forkable_order_.front().first);
        if (old != creators_.end() && old->second.until == forkable_order_.front().second) creators_.erase(old);
        forkable_order_.pop_front();
    }
}

std::optional<std::pair<DialogId, RequestId>> EventRouter::fork_dialog(const TransactionEvent& ev, Time now) {
    // RFC 6665 §4.1.2.4: a NOTIFY may arrive before the 2xx to the request that created the
    // subscription, and a forked request gets NOTIFYs from several notifiers: each NOTIFY with a new
    // From tag (our To tag matching the request's From tag) creates a dialog of its own, while the
    // request waits and for 64*T1 after its 2xx.
    const Message& m = *ev.message;
    forget_expired(now);
    auto it = creators_.find(two(m.call_id(), m.to().tag));
    if (it == creators_.end()) return std::nullopt;
    const Creator c = it->second;
    if (s_.dialogs.size() >= s_.config.ua.max_dialogs) return std::nullopt;
    auto made = Dialog::as_uas(m, std::string(m.to().tag));
    if (!made) return std::nullopt;
    made->set_local_cseq(c.cseq);
    made->confirm(nullptr);
    const DialogId d = s_.dialogs.add(std::move(*made), ev.source.transport, ev.source.connection, 1).id;
    if (!c.until) {  // the request still waits: the dialog is its own (the 2xx will find it)
        if (ClientRequest* r = s_.requests.find(c.request); r != nullptr && !r->dialog) {
            r->dialog = d;
            r->usage_given = true;
        }
    }
    return std::pair{d, c.request};
}

void EventRouter::add_subscription(DialogId dialog, std::string_view package, std::uint32_t id, std::uint64_t owner) {
    const Package* p = find_package(package);
    if (p == nullptr || !dialog) return;
    subscriptions_[dialog].push_back(Subscription{.package = p, .id = id, .owner = owner});
}

void EventRouter::remove_subscription(DialogId dialog, std::string_view package, std::uint64_t owner) {
    auto it = subscriptions_.find(dialog);
    if (it == subscriptions_.end()) return;
    const Package* p = find_package(package);
    std::erase_if(it->second, [&](const Subscription& s) { return s.package == p && s.owner == owner; });
    if (it->second.empty()) subscriptions_.erase(it);
}

void EventRouter::rename_subscription(DialogId dialog, std::string_view package, std::uint64_t owner,
                                      std::uint32_t id) {
    auto it = subscriptions_.find(dialog);
    if (it == subscriptions_.end()) return;
    const Package* p = find_package(package);
    for (Subscription& s : it->second)
        if (s.package == p && s.owner == owner) s.id = id;
}

std::size_t EventRouter::subscription_count() const noexcept {
    std::size_t n = 0;
    for (const auto& [d, subs] : subscriptions_) n += subs.size();
    return n;
}

void EventRouter::discard(ServerRequest& notify, Time now) {
    // §4.1.3: no subscription for this notifier; the dialog made for it goes with its one usage.
    (void)s_.respond(notify, UaResponse{.status = 481, .reason = std::string(reason_phrase(481)), .headers = {},
                                        .content_type = {}, .body = {}, .creates_dialog = false},
                     now);
    discarded_.insert(notify.dialog);
    s_.release_usage(notify.dialog);
}

bool EventRouter::route_notify(ServerRequest& r, Time now) {
    const Message& m = r.message;
    auto tolerant = m.event_tolerant();  // routed by its package even when a parameter is malformed
    const Event* event = tolerant ? &tolerant->value : nullptr;
    if (r.created_by) {
        // RFC 6665 §4.1.2.4: this NOTIFY made its dialog for a dialog-creating request of ours.
        auto it = creators_.find(two(m.call_id(), m.to().tag));
        SubscriberPackage* creator = it != creators_.end() && it->second.request == r.created_by ? it->second.package
                                                                                                : nullptr;
        if (creator != nullptr) {
            if (creator->on_fork(r.created_by, r.dialog, now) == ForkAnswer::ended) {
                const Package* p = event ? find_package(event->package) : nullptr;
                if (p != nullptr && p->subscriber == creator) {
                    discard(r, now);
                    return true;
                }
            }
        } else if (const Package* p = event ? find_package(event->package) : nullptr;
                   p != nullptr && p->subscriber != nullptr && p->claims_unmatched) {
            discard(r, now);  // a package subscription only we create (a REFER's): this one is none of ours
            return true;
        }
    }
    const Package* package = nullptr;
    if (event) {
        package = find_package(event->package);
        // Another package's NOTIFY is the application's, even in a dialog that carries one of our
        // subscriptions (§4.1.3: dialog usages are told apart by Event).
        if (package == nullptr || package->subscriber == nullptr) return false;
    }
    std::vector<std::uint32_t> ids;
    std::vector<std::uint64_t> owners;
    if (auto it = subscriptions_.find(r.dialog); it != subscriptions_.end()) {
        for (const Subscription& s : it->second) {
            if (package == nullptr) package = s.package;  // no Event: the package that has one here
            if (s.package != package) continue;
            ids.push_back(s.id);
            owners.push_back(s.owner);
        }
    }
    if (package == nullptr) return false;  // no Event and nothing of ours: not ours
    if (ids.empty() && !(event && package->claims_unmatched)) return false;
    ReferNotifyVerdict v = classify_notify(m, package->name, ids);
    if (v.status == 200) package->subscriber->check_body(m, v);
    UaResponse answer{.status = v.status, .reason = std::string(reason_phrase(v.status)), .headers = {},
                      .content_type = {}, .body = {}, .creates_dialog = false};
    if (v.add_accept_sipfrag) answer.headers.emplace_back("Accept", "message/sipfrag");
    (void)s_.respond(r, answer, now);  // answered first, then the package acts (its events follow the answer)
    if (v.id) {
        for (std::size_t k = 0; k < ids.size(); ++k) {
            if (ids[k] != *v.id) continue;
            package->subscriber->on_notify(owners[k], r, v, now);
            break;
        }
    }
    return true;
}

bool EventRouter::route_subscribe(ServerRequest& r, Time now) {
    auto event = r.message.event_tolerant();
    if (!event) return false;
    const Package* p = find_package(event->value.package);
    if (p == nullptr || p->notifier == nullptr) return false;  // another package: the application's
    p->notifier->on_subscribe(r, event->value, now);
    return true;
}

bool EventRouter::dialog_ended(DialogId dialog) {
    subscriptions_.erase(dialog);
    return discarded_.erase(dialog) > 0;
}

}  // namespace referkit::stack
