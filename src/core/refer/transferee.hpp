// The transferee's side of REFER (RFC 3515 §2.4.4-§2.4.7, RFC 4488, RFC 6665 §4.2) inside the
// Stack: it answers a REFER through a ReferServerContext and the configured policy, places the
// INVITE to the target, NOTIFYs that INVITE's progress one NOTIFY at a time, and serves the
// `refer` package's SUBSCRIBEs (refresh, unsubscribe). Its events are TransfereeEvents.
#pragma once
#include <cstdint>
#include <unordered_map>
#include <vector>

#include "../stack/stack_timers.hpp"
#include "../subscription/event_router.hpp"
#include "referkit/core/stack.hpp"

namespace referkit::stack {

class Transferee final : public NotifierPackage {
public:
    explicit Transferee(Stack::Impl& stack) : s_(stack) {}

    // A REFER received (in or out of a dialog): answered here.
    void on_refer(ServerRequest& refer, Time now);
    // --- NotifierPackage (refer)
    void on_subscribe(ServerRequest& subscribe, const Event& event, Time now) override;

    // --- routed by the stack
    void on_response(const ResponseEvent& response, Time now);  // to one of our NOTIFYs
    void on_session_event(const SessionEvent& event, Time now); // of an INVITE to a target
    void on_dialog_ended(DialogId dialog, Time now);
    void on_timer(TransfereeId id, Time now);
    void shut_down(Time now);

    [[nodiscard]] const ReferServerContext* find(TransfereeId id) const;
    [[nodiscard]] std::size_t size() const noexcept { return transfers_.size(); }

private:
    struct Entry {
        TransfereeId id{};
        ReferServerContext ctx;
        DialogId dialog{};         // the dialog carrying the subscription
        bool usage = false;        // we hold a usage on dialog (RFC 5057)
        SessionId invite{};        // the INVITE to the target
        bool invite_done = true;   // its final status is known (true until placed)
        RequestId notify{};        // the NOTIFY in flight
        StackTimer timer{};
    };
    void pump(Entry& e, Time now);      // sends the next NOTIFY when none is in flight
    // Moves the context's events out; when the transfer is over, transfer_ended and forgets it.
    // `e` is invalid afterwards when it returns true.
    bool collect(Entry& e, Time now);
    void rearm(Entry& e);
    void emit(TransfereeEvent e);

    Stack::Impl& s_;
    std::unordered_map<TransfereeId, Entry, IdHash> transfers_;
    std::unordered_map<DialogId, std::vector<TransfereeId>, IdHash> by_dialog_;
    std::unordered_map<SessionId, TransfereeId, IdHash> by_invite_;
    std::unordered_map<RequestId, TransfereeId, IdHash> by_notify_;
    std::uint64_t next_ = 1;
};

}  // namespace referkit::stack
