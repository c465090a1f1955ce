// The event-package router (RFC 6665): every rule about SUBSCRIBE and NOTIFY that is not a
// package's own lives here, once.
//   - 489 Bad Event for a package this UA does not take, with Allow-Events (§8.2.2);
//   - a NOTIFY that arrives before the 2xx to our dialog-creating request, or from another fork
//     of it, creates a dialog of its own while the request waits and for 64*T1 after its 2xx
//     (§4.1.2.4);
//   - the final NOTIFYs answered 2xx are remembered (UserAgentConfig::final_notify_memory), so a
//     duplicate after its transaction is gone is answered 200 again, not 481 (RFC 3261 §17.2.2);
//   - a NOTIFY is matched to a subscription by dialog, package and `id` (RFC 3515 §2.4.6 for
//     refer: the CSeq of the REFER), answered 400/481 when it names none or several, and only then
//     handed to the package, after its answer went out; one outside any dialog is answered 481 at
//     once when its package is one whose subscriptions only we create (400 without a valid Event);
//   - a SUBSCRIBE for a package this UA serves goes to that package's notifier.
// Packages register: `refer` is one (its subscriber is the transferor, its notifier the
// transferee); presence or dialog would be others. Every lookup is an index (by dialog, by the
// Call-ID and From tag of a dialog-creating request, by the key of a final NOTIFY).
#pragma once
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "../ua/requests.hpp"
#include "referkit/core/refer_notify.hpp"
#include "referkit/core/stack.hpp"

namespace referkit::stack {

// What became of a NOTIFY that created a dialog for a dialog-creating request of a package.
enum class ForkAnswer : std::uint8_t {
    adopted,  // the package's subscription lives and now carries the dialog (it holds its usage)
    ended,    // the subscription has ended: 481 (§4.1.3), the dialog goes with its usage
};

// A package whose subscriptions we hold: its NOTIFYs come to us.
class SubscriberPackage {
public:
    virtual ~SubscriberPackage() = default;
    // The body rules of the package's NOTIFYs; `verdict` has status 200 on entry and the
    // package's refusal (400, 415 with Accept) on exit when the body is not acceptable.
    virtual void check_body(const Message& notify, ReferNotifyVerdict& verdict) const = 0;
    // The NOTIFY for subscription `owner` was answered verdict.status (200, or 400/415 with the
    // subscription known): the package acts on it now.
    virtual void on_notify(std::uint64_t owner, const ServerRequest& notify, const ReferNotifyVerdict& verdict,
                           Time now) = 0;
    // A NOTIFY created `dialog` for the package's dialog-creating request `creator` (§4.1.2.4).
    virtual ForkAnswer on_fork(RequestId creator, DialogId dialog, Time now) = 0;
};

// A package we serve: SUBSCRIBEs for it come to us.
class NotifierPackage {
public:
    virtual ~NotifierPackage() = default;
    // A SUBSCRIBE for the package (in a dialog or not); the package answers it.
    virtual void on_subscribe(ServerRequest& subscribe, const Event& event, Time now) = 0;
};

class EventRouter {
public:
    explicit EventRouter(Stack::Impl& stack) : s_(stack) {}

    // --- packages
    // `claims_unmatched`: a NOTIFY of the package that matches none of our subscriptions is
    // answered 481 here (§4.1.3) instead of reaching the application.
    void register_subscriber(std::string name, SubscriberPackage& package, bool claims_unmatched);
    void register_notifier(std::string name, NotifierPackage& package);

    // --- rules applied as a request comes in (Stack dispatch)
    // §8.2.2: the Allow-Events of a 489 when `request` (SUBSCRIBE, NOTIFY) names a package this
    // UA does not take; nullopt when it may proceed.
    [[nodiscard]] std::optional<std::string> refuse_package(const Message& request) const;
    // A NOTIFY outside any dialog (no To tag), which matches no subscription of ours: 400 when its
    // Event is missing or garbled, 481 when its package's subscriber claims unmatched NOTIFYs
    // (RFC 6665 §4.1.3, classify_notify's rules); nullopt when it is the application's (another
    // package it takes, such as an unsolicited message-summary).
    [[nodiscard]] std::optional<std::uint16_t> refuse_unsolicited_notify(const Message& notify) const;
    // A NOTIFY equal (Call-ID, From tag, CSeq) to a final one we answered 2xx, within the memory.
    [[nodiscard]] bool duplicate_final_notify(const Message& notify, Time now);
    // A 2xx went out for `notify`: remembered when it said Subscription-State: terminated.
    void notify_answered(const Message& notify, Time now);
    // §4.1.2.4: a NOTIFY outside any known dialog for a dialog-creating request of ours (waiting,
    // or answered 2xx within 64*T1): its dialog, made now with one usage (the requester's), and
    // the request. nullopt when it is not one (the stack answers 481).
    [[nodiscard]] std::optional<std::pair<DialogId, RequestId>> fork_dialog(const TransactionEvent& notify, Time now);

    // --- dialog-creating requests of ours (SUBSCRIBE, REFER), for fork_dialog
    // `package`: the subscriber package that sent it (nullptr: the application's).
    void creating_sent(RequestId id, const std::string& call_id, const std::string& from_tag, std::uint32_t cseq,
                       SubscriberPackage* package);
    // Its final response: a 2xx keeps it forkable for 64*T1, anything else forgets it.
    void creating_ended(RequestId id, const std::string& call_id, const std::string& from_tag, bool answered_2xx,
                        Time now);

    // --- subscriptions we hold, by dialog (NOTIFY matching)
    void add_subscription(DialogId dialog, std::string_view package, std::uint32_t id, std::uint64_t owner);
    void remove_subscription(DialogId dialog, std::string_view package, std::uint64_t owner);
    // The subscription's id changed (a REFER resent with credentials has a new CSeq, RFC 3515 §2.4.6).
    void rename_subscription(DialogId dialog, std::string_view package, std::uint64_t owner, std::uint32_t id);

    // --- routing after the generic rules (Stack::Impl::settle)
    // A NOTIFY in a dialog: to a package (answered here first) or to the application (false).
    bool route_notify(ServerRequest& notify, Time now);
    // A SUBSCRIBE: to the notifier of its package (true) or to the application (false).
    bool route_subscribe(ServerRequest& subscribe, Time now);
    // A dialog ended: its subscriptions are gone. True when it was a dialog only a late NOTIFY
    // made for an ended subscription (its end is not the application's business).
    bool dialog_ended(DialogId dialog);

    [[nodiscard]] std::size_t subscription_count() const noexcept;

private:
    struct Package {
        std::string name;
        SubscriberPackage* subscriber = nullptr;
        bool claims_unmatched = false;
        NotifierPackage* notifier = nullptr;
    };
    struct Subscription {
        const Package* package = nullptr;
        std::uint32_t id = 0;
        std::uint64_t owner = 0;
    };
    struct Creator {
        RequestId request{};
        std::uint32_t cseq = 0;
        SubscriberPackage* package = nullptr;
        std::optional<Time> until{};  // nullopt while the request waits; then 64*T1 after its 2xx
    };
    Package* find_package(std::string_view name);
    const Package* find_package(std::string_view name) const;
    void forget_expired(Time now);
    void discard(ServerRequest& notify, Time now);

    Stack::Impl& s_;
    std::vector<Package> packages_;
    std::unordered_map<DialogId, std::vector<Subscription>, IdHash> subscriptions_;
    std::unordered_map<std::string, Creator> creators_;          // by Call-ID "\n" From tag
    std::deque<std::pair<std::string, Time>> forkable_order_;    // oldest first, for expiry
    std::unordered_map<std::string, Time> final_notifies_;       // (Call-ID, From tag, CSeq) -> forget at
    std::deque<std::pair<std::string, Time>> final_order_;       // oldest first
    std::unordered_set<DialogId, IdHash> discarded_;
};

}  // namespace referkit::stack
