// How the Stack builds and sends what it originates (RFC 3261 §8.1.1, §12.2.1.1): requests outside
// and inside dialogs as OutgoingRequest fields, their destination (§8.1.2, §18.1.1), the Contact
// and standard headers, digest retries (§22.2), and simple responses. Owns no usage: sessions,
// requests and transfers call it.
#pragma once
#include <array>
#include <cstdint>
#include <expected>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "referkit/core/stack.hpp"

namespace referkit::stack {

struct DialogEntry;

// 16 lowercase hex digits (tags, Call-IDs).
[[nodiscard]] std::string hex(std::uint64_t v);

// One request we send, kept so that it can be sent again with credentials and a higher CSeq
// (§22.2) and so that a UAC dialog can be made from its response (§12.1.2).
struct Outgoing {
    OutgoingRequest request{};  // as sent last (credentials included after a challenge)
    Destination destination{};
    DialogId dialog{};          // in a dialog: the CSeq of a retry advances the dialog's local CSeq
    // §12.1.2: the request's From tag, From and To name-addrs without tag.
    std::string from_tag{}, from_uri{}, to_uri{};
    // Digest state (§22.2): the credentials of the last attempt, per (proxy, realm).
    struct Auth {
        bool proxy = false;
        std::string realm{};
        std::string header{};  // "Authorization" / "Proxy-Authorization"
        std::string value{};
    };
    std::vector<Auth> auth{};
    std::vector<std::pair<bool, std::string>> answered{};  // (proxy, realm) already answered
    int stale_retries = 0;
    std::map<std::string, std::uint32_t> nonce_count{};

    [[nodiscard]] DialogRequestFields dialog_fields() const {
        return DialogRequestFields{.call_id = request.call_id, .local_tag = from_tag, .local_uri = from_uri,
                                   .remote_uri = to_uri, .request_uri = request.request_uri, .cseq = request.cseq};
    }
};

class Sender {
public:
    explicit Sender(Stack::Impl& stack) : s_(stack) {}

    // The listener's "host:port" per transport (Driven::on_local_address); "" = sent_by.
    void set_contact_hostport(Transport t, std::string hostport);
    [[nodiscard]] std::string contact_value(Transport t) const;
    [[nodiscard]] std::string local_uri() const;
    [[nodiscard]] std::string allow_value() const;
    // Allow, Accept and Supported of a 200 to OPTIONS (§11.2, in or out of a dialog).
    [[nodiscard]] HeaderList options_answer_headers() const;
    // User-Agent, then (allow_supported) Allow and Supported, unless `extra` has them; then `extra`.
    void add_standard(HeaderList& h, const HeaderList& extra, bool allow_supported) const;
    [[nodiscard]] static bool has_header(const HeaderList& h, std::string_view name);

    // A fresh request outside a dialog (Call-ID and From tag from the random source; §8.1.2: sent
    // to the first preloaded route, else to the Request-URI).
    [[nodiscard]] std::expected<Outgoing, UaError> out_of_dialog(std::string_view method, std::string_view target,
                                                                 const HeaderList& extra, bool contact,
                                                                 bool allow_supported);
    // A request in dialog `d` (§12.2.1.1: its local CSeq advances).
    [[nodiscard]] Outgoing in_dialog(DialogEntry& d, std::string_view method, const HeaderList& extra, bool contact,
                                     bool allow_supported);
    // Where a dialog's requests go (its route set, else its remote target), on the connection it
    // was made on when that is still the transport.
    [[nodiscard]] std::expected<Destination, UaError> dialog_destination(const DialogEntry& d) const;
    // Hands the request to the transaction layer. Errors: invalid_target, invalid_message,
    // transaction_failed.
    [[nodiscard]] std::expected<TransactionId, UaError> send(const Outgoing& o, Time now);
    // §22.2: a new attempt with credentials for the 401/407 `response`; nullopt when it must surface.
    [[nodiscard]] std::optional<TransactionId> retry_with_credentials(Outgoing& o, const Message& response, Time now);
    // A response built from the request of server transaction `tx` (§8.2.6).
    void respond_simple(TransactionId tx, int status, const HeaderList& headers, Time now,
                        std::string_view content_type = {}, std::string_view body = {});

private:
    [[nodiscard]] std::expected<Destination, UaError> destination_for(std::string_view uri) const;
    [[nodiscard]] std::string from_value(const std::string& tag) const;

    Stack::Impl& s_;
    std::array<std::string, 5> contact_hostport_{};
};

// Header views of an owning list, for ResponseSpec.
[[nodiscard]] std::vector<std::pair<std::string_view, std::string_view>> views(const HeaderList& h);

}  // namespace referkit::stack
