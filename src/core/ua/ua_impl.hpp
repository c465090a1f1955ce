// Private state of UserAgentCore (include/referkit/core/user_agent_core.hpp). Split across
// user_agent_core.cpp (inputs, dispatch, requests with no usage, generic requests, digest) and
// ua_session.cpp (INVITE sessions: RFC 3261 §13-15).
#pragma once
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>
#include <utility>

#include "referkit/core/user_agent_core.hpp"

namespace referkit::ua {

// 16 lowercase hex digits.
std::string hex(std::uint64_t v);

// One request we sent, kept as owning text so that it can be sent again with credentials and a
// higher CSeq (§22.2) and so that a UAC dialog can be made from it (§12.1.2).
struct Outgoing {
    std::string method{};
    std::string request_uri{};
    HeaderList headers{};  // Route, Max-Forwards, From, To, Call-ID, Contact ...: no Via, CSeq, credentials
    std::string content_type{};
    std::string body{};
    std::uint32_t cseq = 0;
    Destination destination{};
    DialogId dialog{};  // in a dialog: the CSeq of a retry advances the dialog's local CSeq
    // For the dialog a 2xx creates (§12.1.2).
    std::string call_id{}, from_tag{}, from_uri{}, to_uri{};
    // Digest state (§22.2): the credentials of the last attempt, per (proxy, realm).
    struct Auth {
        bool proxy = false;
        std::string realm{};
        std::string header{};  // "Authorization" / "Proxy-Authorization"
        std::string value{};
    };
    std::vector<Auth> auth;
    std::vector<std::pair<bool, std::string>> answered;  // (proxy, realm) already answered
    int stale_retries = 0;
    std::map<std::string, std::uint32_t> nonce_count;
};

enum class ClientRole : std::uint8_t { invite, reinvite, bye, request, cancel, detached };

// Who owns a client transaction; kept until the transaction's `terminated` event.
struct ClientOwner {
    ClientRole role = ClientRole::detached;
    std::uint64_t owner = 0;  // SessionId or RequestId value
    // INVITE / re-INVITE: the ACK sent for the 2xx, re-sent for each retransmission (§13.2.2.4).
    std::string ack{};
    Destination ack_destination{};
    std::string to_tag{};  // the To tag of the 2xx acknowledged
    DialogRequestFields fields{};  // INVITE: to build a dialog for another fork's 2xx
    std::vector<Outgoing::Auth> auth{};
};

enum class ServerRole : std::uint8_t { invite, reinvite, incoming };
struct ServerOwner {
    ServerRole role = ServerRole::incoming;
    std::uint64_t owner = 0;  // SessionId or IncomingId value
};

struct DialogEntry {
    DialogId id{};
    Dialog dialog{};
    std::size_t usages = 0;
    SessionId session{};  // the INVITE usage, if any
    Transport transport = Transport::udp;
    ConnectionId connection = 0;
    std::string key{};
};

// A 2xx we retransmit until its ACK (§13.3.1.4).
struct Pending2xx {
    TransactionId tx{};
    std::uint32_t cseq = 0;
    int status = 200;
    std::string reason{};
    HeaderList headers{};
    std::string content_type{};
    std::string body{};
    bool offer = false;  // the 2xx carried our offer: the ACK carries the answer
    bool initial = true; // to the dialog-creating INVITE (else a re-INVITE)
    Duration interval{};
    Time next{};
    Time give_up{};
};

struct Session {
    SessionId id{};
    bool uac = false;
    SessionState state = SessionState::calling;
    DialogId dialog{};
    Transport transport = Transport::udp;
    ConnectionId connection = 0;
    std::uint64_t sdp_version = 0;
    MediaDirection local_direction = MediaDirection::sendrecv;
    // UAC
    TransactionId invite_tx{};
    Outgoing invite{};
    bool offered = false;
    bool cancel_requested = false;
    // UAS
    TransactionId server_tx{};
    std::optional<Message> request{};
    std::string local_tag{};
    bool remote_offer = false;
    std::string remote_offer_body{};
    std::optional<Pending2xx> pending_2xx{};
    bool bye_after_ack = false;
    // Outgoing re-INVITE.
    TransactionId reinvite_tx{};
    Outgoing reinvite{};
    bool reinvite_pending = false;
    std::optional<Time> reinvite_retry_at{};
    MediaDirection previous_direction = MediaDirection::sendrecv;
    // BYE (ours): the session ends with this cause when it completes.
    TransactionId bye_tx{};
    Outgoing bye{};
    EndCause end_cause = EndCause::bye_local;
    int end_status = 0;  // 0: the BYE's final status
    bool bye_resent = false;  // the BYE was sent again after a 500 (see on_bye_response)
};

struct Request {
    RequestId id{};
    TransactionId tx{};
    Outgoing out{};
    bool creates_dialog = false;
    DialogId dialog{};
    bool usage_given = false;
    bool report_challenges = false;  // surface 401/407 answered with credentials (UaEvent::retried)
};

// A dialog-creating request of ours answered 2xx: NOTIFYs from other forks may still create
// dialogs for it until `until` (RFC 6665 §4.1.2.4).
struct Forkable {
    RequestId request{};
    std::string call_id{};
    std::string from_tag{};
    std::uint32_t cseq = 0;
    Time until{};
};

struct Incoming {
    IncomingId id{};
    TransactionId tx{};
    Message request;  // always given (no default: Message has none)
    Source source{};
    DialogId dialog{};
    std::optional<Time> answer_by{};  // UserAgentConfig::unanswered_request_timeout
};

}  // namespace referkit::ua

namespace referkit {

struct UserAgentCore::Impl {
    explicit Impl(UserAgentConfig c);

    UserAgentConfig config;
    std::shared_ptr<std::function<std::uint64_t()>> random_source;
    TransactionLayer txl;
    std::deque<UaEvent> events;
    std::map<Transport, std::string> contact_hostport;

    std::map<std::uint64_t, ua::Session> sessions;
    std::map<std::uint64_t, ua::DialogEntry> dialogs;
    std::map<std::string, std::uint64_t> dialog_index;
    std::map<std::uint64_t, ua::Request> requests;
    std::map<std::uint64_t, ua::Incoming> incoming;
    std::map<std::uint64_t, ua::ClientOwner> clients;
    std::map<std::uint64_t, ua::ServerOwner> servers;
    std::uint64_t next_session = 1, next_dialog = 1, next_request = 1, next_incoming = 1;
    // (notify_key, forget at) of NOTIFYs answered 2xx that ended their subscription, oldest first.
    std::deque<std::pair<std::string, Time>> final_notifies;
    std::deque<ua::Forkable> forkable;  // oldest first

    // --- helpers (user_agent_core.cpp)
    std::uint64_t random() { return (*random_source)(); }
    void drain(Time now);
    void handle(TransactionEvent& ev, Time now);
    void emit(UaEvent ev) { events.push_back(std::move(ev)); }
    std::string contact_value(Transport t) const;
    std::string allow_value() const;
    // Allow, Accept and Supported of a 200 to OPTIONS (in or out of a dialog).
    HeaderList options_answer_headers() const;
    // 405 with Allow when the application does not handle the request's method; true if answered.
    bool refuse_unhandled_method(const TransactionEvent& ev, Time now);
    std::string from_value(const std::string& tag) const;
    std::string local_uri() const;
    static bool has_header(const HeaderList& h, std::string_view name);
    void add_standard(HeaderList& h, const HeaderList& extra, bool allow_supported) const;
    std::expected<Destination, UaError> destination_for(std::string_view uri) const;
    std::expected<Destination, UaError> dialog_destination(const ua::DialogEntry& d) const;
    // A fresh request outside a dialog (Call-ID, From tag from the random source).
    std::expected<ua::Outgoing, UaError> out_of_dialog(std::string_view method, std::string_view target,
                                                       const HeaderList& extra, bool contact, bool allow_supported);
    // A request in dialog d (local CSeq advances).
    ua::Outgoing in_dialog(ua::DialogEntry& d, std::string_view method, const HeaderList& extra, bool contact,
                           bool allow_supported);
    std::expected<TransactionId, UaError> send(ua::Outgoing& o, Time now);
    // §22.2: a new attempt with credentials for the 401/407 `r`; nullopt when it must surface.
    std::optional<TransactionId> retry_with_credentials(ua::Outgoing& o, const Message& r, Time now);

    ua::DialogEntry* find_dialog(std::string_view call_id, std::string_view local_tag, std::string_view remote_tag);
    ua::DialogEntry* dialog(DialogId id);
    ua::DialogEntry& add_dialog(Dialog d, Transport t, ConnectionId c, std::size_t usages);
    void release_usage(DialogId id);
    std::vector<std::pair<std::string_view, std::string_view>> views(const HeaderList& h) const;

    void on_request(TransactionEvent& ev, Time now);
    void on_request_in_dialog(TransactionEvent& ev, ua::DialogEntry& d, Time now);
    void respond_simple(TransactionId tx, int status, const HeaderList& headers, Time now,
                        std::string_view content_type = {}, std::string_view body = {});
    // UserAgentConfig::final_notify_memory: a duplicate of a final NOTIFY we answered 2xx.
    void remember_final_notify(const Message& m, Time now);
    bool is_duplicate_final_notify(const Message& m, Time now);
    void forget_final_notifies(Time now);
    // Incoming requests past their answer_by, and the earliest answer_by.
    [[nodiscard]] std::vector<IncomingId> unanswered(Time now) const;
    [[nodiscard]] std::optional<Time> unanswered_deadline() const;
    // A NOTIFY outside any known dialog for a dialog-creating request of ours (waiting, or answered
    // 2xx within 64*T1): makes its dialog and raises the request event; false when it is not one.
    bool notify_creates_dialog(TransactionEvent& ev, Time now);
    void remember_forkable(const ua::Request& r, Time now);
    void forget_forkable(Time now);
    void new_incoming(TransactionEvent& ev, DialogId d, RequestId request, Time now);
    void on_request_response(ua::Request& r, TransactionEvent& ev, const Message* m, Time now);

    // --- INVITE sessions (ua_session.cpp)
    ua::Session* session(SessionId id);
    std::string make_offer(ua::Session& s, MediaDirection d);
    std::expected<std::string, int> make_answer(ua::Session& s, std::string_view offer);
    bool take_answer(ua::Session& s, std::string_view answer, MediaDirection& direction);
    void on_invite(TransactionEvent& ev, Time now);
    void on_reinvite(TransactionEvent& ev, ua::DialogEntry& d, Time now);
    void on_bye(TransactionEvent& ev, ua::DialogEntry& d, Time now);
    void on_cancel(TransactionEvent& ev, Time now);
    void on_ack(TransactionEvent& ev, Time now);
    void on_invite_response(ua::Session& s, TransactionEvent& ev, const Message* m, Time now);
    void on_reinvite_response(ua::Session& s, TransactionEvent& ev, const Message* m, Time now);
    void on_bye_response(ua::Session& s, TransactionEvent& ev, const Message* m, Time now);
    void on_repeated_2xx(ua::ClientOwner& owner, const Message& m, Time now);
    void ack_and_bye_fork(const DialogRequestFields& fields, const std::vector<ua::Outgoing::Auth>& auth,
                          const Message& m, Transport t, Time now);
    void send_ack(ua::ClientOwner& owner, ua::DialogEntry& d, std::uint32_t cseq, const std::string& body, Time now);
    void send_2xx(ua::Session& s, Time now);
    void start_bye(ua::Session& s, EndCause cause, int status, Time now);
    void end_session(ua::Session& s, EndCause cause, int status, std::optional<Message> m);
    std::expected<void, UaError> send_reinvite(ua::Session& s, const std::string& body, Time now);
    void session_timers(Time now);
    std::optional<Time> session_deadline() const;
    std::size_t session_timer_count() const;
};

}  // namespace referkit
