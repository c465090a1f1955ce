// The transferor's side of REFER (RFC 3515 §2.4, RFC 4488, RFC 6665 §4.1), inside the Stack: it
// sends REFERs in or out of a dialog, follows each one's responses (digest retries move its
// subscription id, §2.4.6) and implicit subscription as the `refer` package's subscriber (the
// event router hands it each NOTIFY after answering it), refreshes and ends the subscription, and
// hangs up after a successful transfer (the BYE follows the 200 to the final NOTIFY). Each
// transfer is a ReferClientContext (refer_client_context.hpp); its events become TransferEvents.
#pragma once
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "../stack/stack_timers.hpp"
#include "../subscription/event_router.hpp"
#include "referkit/core/stack.hpp"

namespace referkit::stack {

class Transferor final : public SubscriberPackage {
public:
    explicit Transferor(Stack::Impl& stack) : s_(stack) {}

    [[nodiscard]] std::expected<TransferId, ReferStartError> refer(SessionId session, std::string_view target,
                                                                   ReferOptions options, Time now);
    [[nodiscard]] std::expected<TransferId, ReferStartError> refer_attended(SessionId session, SessionId other,
                                                                            ReferOptions options, Time now);
    [[nodiscard]] std::expected<TransferId, ReferStartError> refer_out_of_dialog(std::string_view request_uri,
                                                                                 std::string_view target,
                                                                                 ReferOptions options, Time now);
    bool unsubscribe(TransferId id, Time now);
    [[nodiscard]] std::shared_ptr<const ReferClientContext> find(TransferId id) const;
    [[nodiscard]] std::size_t size() const noexcept { return transfers_.size(); }
    void shut_down(Time now);

    // --- SubscriberPackage (refer)
    void check_body(const Message& notify, ReferNotifyVerdict& verdict) const override;
    void on_notify(std::uint64_t owner, const ServerRequest& notify, const ReferNotifyVerdict& verdict,
                   Time now) override;
    ForkAnswer on_fork(RequestId creator, DialogId dialog, Time now) override;

    // --- routed by the stack
    // A response to one of its requests (the REFER, a refreshing or unsubscribing SUBSCRIBE, or a
    // request of a transfer that already ended).
    void on_response(const ResponseEvent& response, Time now);
    void on_session_ended(SessionId session, Time now);
    void on_dialog_ended(DialogId dialog, Time now);
    void on_timer(TransferId id, Time now);

private:
    struct Transfer {
        TransferId id{};
        std::shared_ptr<ReferClientContext> ctx;
        RequestId request{};
        SessionId session{};  // in dialog: the call the REFER was sent in
        DialogId dialog{};    // the dialog carrying the subscription (out of dialog: from the 2xx)
        bool usage = false;   // we hold a usage on dialog (RFC 5057)
        RequestId subscribe{};  // our refreshing/unsubscribing SUBSCRIBE in flight
        // Out of dialog, forked REFER (RFC 6665 §4.1.2.4): dialogs other notifiers' NOTIFYs
        // created, each with a usage of ours; their NOTIFYs go to the same context.
        std::vector<DialogId> forks{};
        StackTimer timer{};
    };
    // What a request of ours is to us.
    struct Owned {
        TransferId transfer{};
        bool subscribe = false;         // a refreshing/unsubscribing SUBSCRIBE
        bool orphan = false;            // its transfer has ended: its responses are taken, not leaked
        bool release_created_dialog = false;  // orphan out-of-dialog REFER: a 2xx's dialog gives us a usage
    };

    std::expected<TransferId, ReferStartError> start(SessionId session, std::string refer_to, ReferOptions options,
                                                     Time now);
    Transfer* find_transfer(TransferId id);
    // A new transfer for the REFER just sent.
    Transfer& open(const SentRequest& sent, ReferOptions options, Time now);
    void carry(Transfer& t, DialogId dialog);  // t's subscription now lives in `dialog` too
    void send_subscribe(Transfer& t, std::uint32_t expires, Time now);
    // Moves the context's events out (with `cause`, the message that caused them) and, when it
    // ended, hangs up / releases usages / forgets it. `t` is invalid afterwards when it ended.
    void collect(Transfer& t, const Message* cause, Time now);
    void rearm(Transfer& t);

    Stack::Impl& s_;
    std::unordered_map<TransferId, Transfer, IdHash> transfers_;
    std::unordered_map<RequestId, Owned, IdHash> requests_;
    std::unordered_map<SessionId, std::vector<TransferId>, IdHash> by_session_;
    std::unordered_map<DialogId, std::vector<TransferId>, IdHash> by_dialog_;
    std::uint64_t next_ = 1;
};

}  // namespace referkit::stack
