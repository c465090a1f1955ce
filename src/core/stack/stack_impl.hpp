// Private state of Stack (include/referkit/core/stack.hpp): the transaction layer, the one timer
// queue of the usages, the event queues, and the components that each own one set of rules:
//   Sender       building and sending what we originate, digest retries  (src/core/ua/sender.cpp)
//   DialogSet    dialogs and their usages, RFC 5057                    (src/core/dialog/dialog_set.cpp)
//   Requests     requests with no usage, the application's requests    (src/core/ua/requests.cpp)
//   Sessions     INVITE sessions                                        (src/core/session/)
//   EventRouter  SUBSCRIBE/NOTIFY rules, event packages                 (src/core/subscription/event_router.cpp)
//   Transferor   REFERs we send: the refer package's subscriber        (src/core/refer/transferor.cpp)
//   Transferee   REFERs we take: the refer package's notifier          (src/core/refer/transferee.cpp)
//   Replacer     INVITEs with Replaces                                  (src/core/refer/replacer.cpp)
// stack_dispatch.cpp routes what the transaction layer reports to them; what one component does
// that concerns another (a session ended, a dialog went, a response or a request for a transfer)
// is queued as a Notice and routed by settle() in order, after the component has returned, so no
// component is re-entered while it works.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <unordered_map>
#include <variant>

#include "../dialog/dialog_set.hpp"
#include "../refer/replacer.hpp"
#include "../refer/transferee.hpp"
#include "../refer/transferor.hpp"
#include "../session/invite_session.hpp"
#include "../subscription/event_router.hpp"
#include "../ua/requests.hpp"
#include "../ua/sender.hpp"
#include "referkit/core/stack.hpp"
#include "../transaction/fifo.hpp"
#include "stack_timers.hpp"

namespace referkit::stack {

// Who owns a client transaction; kept until the transaction's `terminated` event.
enum class ClientRole : std::uint8_t { invite, reinvite, bye, request, cancel, detached };
struct ClientOwner {
    ClientRole role = ClientRole::detached;
    std::uint64_t owner = 0;               // SessionId or RequestId value
    std::unique_ptr<InviteAck> ack{};      // invite, reinvite: the ACK of its 2xx
};

enum class ServerRole : std::uint8_t { invite, reinvite, incoming };
struct ServerOwner {
    ServerRole role = ServerRole::incoming;
    std::uint64_t owner = 0;  // SessionId or IncomingId value
};

// A response for the owner of a request of ours.
struct ResponseNotice {
    RequestOwner owner = RequestOwner::application;
    ResponseEvent event;
};
// What one component reports for others, routed in order by settle().
using Notice = std::variant<SessionEvent, ServerRequest, ResponseNotice, DialogEndedEvent>;

}  // namespace referkit::stack

namespace referkit {

struct Stack::Impl {
    explicit Impl(StackConfig c);

    StackConfig config;
    std::shared_ptr<std::function<std::uint64_t()>> random_source;
    TransactionLayer txl;
    stack::StackTimers timers;
    Fifo<StackEvent> events;          // for the user (poll_event)
    Fifo<stack::Notice> notices;      // for the components (settle)
    std::unordered_map<std::uint64_t, stack::ClientOwner> clients;  // by transaction
    std::unordered_map<std::uint64_t, stack::ServerOwner> servers;
    // §8.2.2.2 merged requests: the (From tag, Call-ID, CSeq) of each server transaction of a
    // request without To tag (ACK and CANCEL aside), from its request event to its `terminated`
    // event. At most one entry per live server transaction, so bounded by Limits::max_transactions.
    std::unordered_map<std::uint64_t, std::string> merge_keys;        // by transaction: the key it owns
    std::unordered_map<std::string_view, TransactionId> merge_index;  // views of those keys
    std::string merge_scratch;                                         // the key of a request, built here
    stack::Sender sender{*this};
    stack::DialogSet dialogs;
    stack::Requests requests{*this};
    stack::Sessions sessions{*this};
    stack::EventRouter router{*this};
    stack::Transferor transferor{*this};
    stack::Transferee transferee{*this};
    stack::Replacer replacer{*this};
    // ServerAuth: the digest machine when some method is challenged, and the user the request
    // being dispatched authenticated as (set by on_request, taken by deliver in the same call).
    std::optional<DigestServer> auth;
    std::string authenticated_user;

    std::uint64_t random() { return (*random_source)(); }
    // Queues an event for the user (`E` one of StackEvent's types), built in place.
    template <class E>
    void emit(E&& e) {
        events.emplace_back(std::in_place_type<std::remove_cvref_t<E>>, std::forward<E>(e));
    }
    // Queues a notice for the components (`N` one of Notice's types), built in place.
    template <class N>
    void notice(N&& n) {
        notices.emplace_back(std::in_place_type<std::remove_cvref_t<N>>, std::forward<N>(n));
    }
    // Owns client transaction `tx` (a request of `owner`'s role).
    void own_client(TransactionId tx, stack::ClientRole role, std::uint64_t owner,
                    std::unique_ptr<stack::InviteAck> ack = {});

    // --- stack_dispatch.cpp: what the transaction layer reports
    // Routes every transaction event, then every notice.
    void drain(Time now);
    void handle(TransactionEvent& ev, Time now);
    void on_request(TransactionEvent& ev, Time now);
    void on_request_in_dialog(TransactionEvent& ev, stack::DialogEntry& d, RequestId created_by, Time now);
    // §8.2.2.2: true when `ev`'s request (no To tag) is another copy of a request whose server
    // transaction is ongoing: answered 482 here. Otherwise its key is held until it terminates.
    bool merged_request(const TransactionEvent& ev, Time now);
    // UserAgentConfig::max_route_set_bytes: a request that may create a dialog with more
    // Record-Route bytes than that (it is then answered 400).
    [[nodiscard]] bool route_set_too_large(const Message& m) const;
    // The `terminated` event of `id`: its merged-request key, if any, is released.
    void forget_merge_key(TransactionId id);
    // ServerAuth: true when the request was answered 401 (no, or no valid, credentials).
    bool challenged(const TransactionEvent& ev, Time now);
    // §8.2.1: 405 with Allow when the application does not handle the request's method.
    bool refuse_unhandled_method(const TransactionEvent& ev, Time now);
    // A request the stack does not answer itself: queued for its owner (a transfer component, or
    // the application when max_requests allows: 503 otherwise, in settle).
    void deliver(TransactionEvent& ev, DialogId dialog, RequestId created_by, Time now);

    // --- stack_dispatch.cpp: between components
    // Routes every queued notice in order: transfer components first, then the user's queue.
    void settle(Time now);
    // Removes a usage of `dialog`; when it was the last, the dialog is gone and its end is noticed.
    void release_usage(DialogId dialog);
    // Answers a received request (the application's respond(), or a component's answer): the dialog
    // a 2xx creates (creates_dialog), Contact, the final-NOTIFY memory. Errors as Stack::respond.
    std::expected<DialogId, UaError> respond(stack::ServerRequest& request, const UaResponse& response, Time now);
    void fire(const stack::TimerRef& timer, Time now);
};

}  // namespace referkit
