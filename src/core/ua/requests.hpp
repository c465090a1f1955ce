// Requests with no usage of their own (RFC 3261 §8, §11): the requests we send through
// send_request / send_in_dialog (the application's, or a transfer's REFER, SUBSCRIBE and NOTIFY),
// their responses and digest retries (§22.2), the dialogs a 2xx to a dialog-creating request makes
// (§12.1.2), and the requests the application answers (RequestEvent, respond(), 408 when it never
// does). Every lookup is an index by handle or by transaction.
#pragma once
#include <cstddef>
#include <cstdint>
#include <expected>
#include <optional>
#include <string>
#include <unordered_map>

#include "../stack/stack_timers.hpp"
#include "referkit/core/stack.hpp"
#include "sender.hpp"

namespace referkit::stack {

// Whose request it is: its responses go there.
enum class RequestOwner : std::uint8_t { application, transferor, transferee };

struct ClientRequest {
    RequestId id{};
    TransactionId tx{};
    Outgoing out{};
    bool creates_dialog = false;
    DialogId dialog{};
    bool usage_given = false;  // the dialog its 2xx (or a NOTIFY) created holds a usage for the owner
    bool report_challenges = false;
    RequestOwner owner = RequestOwner::application;
};

// A request received and not yet answered, as the stack routes it.
struct ServerRequest {
    TransactionId tx{};
    Message message;
    Source source{};
    DialogId dialog{};
    RequestId created_by{};  // RFC 6665 §4.1.2.4: the request whose fork NOTIFY made `dialog`
    std::string authenticated_user{};  // ServerAuth: the digest user it authenticated as; "" = none
};

class Requests {
public:
    explicit Requests(Stack::Impl& stack) : s_(stack) {}

    // --- ours
    [[nodiscard]] std::expected<SentRequest, UaError> send(const OutOfDialogRequest& request, RequestOwner owner,
                                                           Time now);
    [[nodiscard]] std::expected<SentRequest, UaError> send(DialogId dialog, const InDialogRequest& request,
                                                           RequestOwner owner, Time now);
    [[nodiscard]] ClientRequest* find(RequestId id);
    [[nodiscard]] const ClientRequest* find(RequestId id) const;
    // A response (or the layer's timeout / transport error) for the transaction `ev` of request `r`:
    // digest retry, the dialog a 2xx creates, then a ResponseEvent for the owner.
    void on_response(ClientRequest& r, TransactionEvent& ev, const Message* m, Time now);
    [[nodiscard]] std::size_t outgoing_count() const noexcept { return out_.size(); }

    // --- the application's
    // Queues the request for the application (a RequestEvent) and starts its answer timer.
    void deliver(ServerRequest request, Time now);
    [[nodiscard]] std::expected<DialogId, UaError> respond(IncomingId id, const UaResponse& response, Time now);
    // Timer: the application never answered (UserAgentConfig::unanswered_request_timeout): 408.
    void answer_timeout(IncomingId id, Time now);
    // The server transaction of `id` is gone (terminated or failed): forget it.
    void forget(IncomingId id, TransactionId tx);
    [[nodiscard]] std::size_t incoming_count() const noexcept { return in_.size(); }

    // Both directions count against UserAgentConfig::max_requests.
    [[nodiscard]] bool full() const noexcept;
    // UserAgentConfig::max_requests_per_source: `from` has that many requests waiting already.
    [[nodiscard]] bool source_full(const Source& from) const;

private:
    struct Incoming {
        IncomingId id{};
        ServerRequest request;
        StackTimer answer_by{};
    };
    RequestId add(Outgoing out, TransactionId tx, bool creates_dialog, DialogId dialog, bool report_challenges,
                  RequestOwner owner);

    Stack::Impl& s_;
    std::unordered_map<RequestId, ClientRequest, IdHash> out_;
    std::unordered_map<IncomingId, Incoming, IdHash> in_;
    std::unordered_map<std::string, std::size_t> per_source_;  // requests of in_ by source address
    std::uint64_t next_request_ = 1, next_incoming_ = 1;
};

}  // namespace referkit::stack
