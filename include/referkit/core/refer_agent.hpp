// The REFER glue over UserAgentCore. Transferor side: sends REFERs in or out of a dialog, routes
// the REFER's responses and the NOTIFYs of its implicit subscription (RFC 3515 §2.4) to
// ReferClientContexts, answers each NOTIFY before raising its events, and hangs up after a
// successful transfer (the BYE follows the 200 to the final NOTIFY). Transferee side: answers
// incoming REFERs through a ReferServerContext and the configured policy, places the INVITE to the
// target, NOTIFYs its progress, answers refreshing SUBSCRIBEs; and acts on incoming INVITEs with
// Replaces (RFC 3891). Sans-I/O: `now` is an argument; events are pulled.
#pragma once
#include <algorithm>
#include <chrono>
#include <compare>
#include <cstdint>
#include <expected>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "referkit/core/refer.hpp"
#include "referkit/core/refer_request.hpp"
#include "referkit/core/refer_server.hpp"
#include "referkit/core/refer_to.hpp"
#include "referkit/core/user_agent_core.hpp"

namespace referkit {

struct ReferHandle {
    std::uint64_t value = 0;
    explicit operator bool() const noexcept { return value != 0; }
    friend auto operator<=>(const ReferHandle&, const ReferHandle&) = default;
};

struct ReferAgentConfig {
    std::string aor = {};             // our AOR: default Referred-By ("sip:alice@example.com")
    std::string default_domain = {};  // completes bare user names in targets
    Scheme default_scheme = Scheme::sip;
    std::uint32_t refresh_expires = 60;  // Expires of a refreshing SUBSCRIBE (RFC 6665 §4.1.2.2)
    // --- transferee side
    ReferPolicy refer_policy = {};        // accept or reject a valid REFER; empty = default_refer_policy
    ReferServerOptions server = {};       // subscription duration, Refer-Sub, embedded headers, queue bound
    bool handle_replaces = true;          // act on incoming INVITEs with Replaces (RFC 3891 §3)
    // Authorises a replacement the RFC 3891 rules accept (§3: the application checks Referred-By or
    // the initiator's identity); empty = allow. Returning false rejects the INVITE 403.
    std::function<bool(const Message& invite, SessionId replaced)> authorize_replace = {};
    // How long an ended call is remembered so that a Replaces naming it gets 603 (§3), not 481.
    Duration ended_memory = std::chrono::seconds(32);
    // --- transferor side
    // RFC 3261 §12.2.1.2: a 481 or 408 (received or synthesised on timeout) to an in-dialog REFER
    // means the dialog is gone for the peer. true: the agent then hangs up the call the REFER was
    // sent in (BYE) once the context has ended. false (default): the call is left to the application.
    bool bye_on_refer_481_408 = false;
};

// Handle of one incoming REFER (transferee side).
struct TransfereeHandle {
    std::uint64_t value = 0;
    explicit operator bool() const noexcept { return value != 0; }
    friend auto operator<=>(const TransfereeHandle&, const TransfereeHandle&) = default;
};

enum class TransfereeEventKind : std::uint8_t {
    refer_received,     // a valid REFER was answered: status 2xx (accepted) or 3xx-6xx (rejected); target set
    transfer_started,   // the INVITE to the target was placed: session
    transfer_notified,  // a NOTIFY was answered 2xx: status = its sipfrag status
    transfer_ended,     // an accepted transfer is over (last event of its handle): status = the INVITE's
                        // final status (0 when unknown), cause = how the subscription ended
    replaced,           // an INVITE with Replaces was answered 200: session (new) replaces `replaced`,
                        // which gets BYE (confirmed) or CANCEL (our early INVITE)
    replace_rejected,   // an INVITE with Replaces was refused: session, status (400/403/481/486/603)
};

struct TransfereeEvent {
    TransfereeEventKind kind = TransfereeEventKind::transfer_ended;
    TransfereeHandle handle = {};       // REFER events
    SessionId session = {};             // the INVITE to the target, or the new call (Replaces)
    SessionId replaced = {};            // replaced: the old call
    int status = 0;
    std::string target = {};            // refer_received: Request-URI of the INVITE to place
    ReferServerCause cause = ReferServerCause::none;  // transfer_ended
};

enum class ReferStartErrc : std::uint8_t {
    bad_target,       // the target does not normalise (detail says why); nothing sent
    not_confirmed,    // the session (or, attended, the other session) is not confirmed
    no_such_session,  // unknown session
    ua_refused,       // UserAgentCore refused the request (ua_error)
};

struct ReferStartError {
    ReferStartErrc code = ReferStartErrc::bad_target;
    std::string detail = {};
    std::optional<UaError> ua_error = {};
};

class ReferAgent {
public:
    // `ua` must outlive the agent; the agent never drives it (the runtime does).
    ReferAgent(UserAgentCore& ua, ReferAgentConfig config);

    // REFER in the dialog of confirmed session `session` to `target` (make_refer_to rules).
    // Errors: no_such_session, not_confirmed, bad_target, ua_refused; nothing is sent on error.
    [[nodiscard]] std::expected<ReferHandle, ReferStartError> refer(SessionId session, std::string_view target,
                                                                    ReferOptions options, Time now);
    // Attended transfer: REFER in `session` to the remote target of `other` with Replaces.
    // Errors: as refer(); not_confirmed when either session is not confirmed.
    [[nodiscard]] std::expected<ReferHandle, ReferStartError> refer_attended(SessionId session, SessionId other,
                                                                             ReferOptions options, Time now);
    // REFER outside any dialog to `request_uri` (the transferee) naming `target`.
    // Errors: bad_target, ua_refused.
    [[nodiscard]] std::expected<ReferHandle, ReferStartError> refer_out_of_dialog(std::string_view request_uri,
                                                                                  std::string_view target,
                                                                                  ReferOptions options, Time now);

    // Offers a UaEvent taken from the core (offer every event: the agent tracks sessions for
    // Replaces). Returns true when the event was the agent's, answered here: a response to one of
    // its REFERs (a retried 401/407 included: receive_response only) or NOTIFYs, a NOTIFY for the
    // refer package (a NOTIFY of another package is the application's, even in a dialog carrying a
    // refer subscription), a REFER, a SUBSCRIBE to the refer
    // package, an incoming INVITE with Replaces (then see the replaced / replace_rejected events).
    // Session events and dialog_ended are observed (contexts progress or end) but returned false:
    // others need them (except the dialog_ended of a dialog that only a late NOTIFY for an ended
    // context made, which the agent answered 481 and released: true).
    bool handle(const UaEvent& event, Time now);
    void on_timer(Time now);
    [[nodiscard]] std::optional<Time> next_deadline() const;
    // Ends the subscription early (SUBSCRIBE Expires: 0 in the dialog). False when nothing to end.
    bool unsubscribe(ReferHandle handle, Time now);
    // Ends every context (client: unknown, shut_down; server: shut_down, no more NOTIFYs) and
    // releases dialog usages.
    void shut_down(Time now);

    // Transferee events, in order; a transfer's transfer_ended is its last.
    [[nodiscard]] std::optional<TransfereeEvent> poll_transferee_event();
    // The server context while its transfer lives (nullptr once transfer_ended is queued).
    [[nodiscard]] const ReferServerContext* transferee(TransfereeHandle handle) const;
    [[nodiscard]] std::size_t transferees_live() const noexcept { return servers_.size(); }

    // Events of all contexts, in order; a context's `ended` is its last.
    [[nodiscard]] std::optional<std::pair<ReferHandle, ReferEvent>> poll_event();
    // The context while it lives (nullptr once ended and its `ended` event queued).
    [[nodiscard]] const ReferClientContext* context(ReferHandle handle) const;
    [[nodiscard]] std::size_t live() const noexcept { return entries_.size(); }

private:
    struct Entry {
        ReferHandle handle;
        ReferClientContext ctx;
        RequestId request;
        SessionId session;  // in dialog: the call the REFER was sent in
        DialogId dialog;    // the dialog carrying the subscription (out of dialog: from the 2xx)
        bool usage = false; // we hold a usage on dialog (RFC 5057)
        RequestId subscribe = {};  // our refreshing/unsubscribing SUBSCRIBE in flight
        // Out of dialog, forked REFER (RFC 6665 §4.1.2.4): dialogs other notifiers' NOTIFYs created,
        // each with a usage of ours; their NOTIFYs go to the same context.
        std::vector<DialogId> forks = {};
        [[nodiscard]] bool carries(DialogId d) const {
            return d && (d == dialog || std::find(forks.begin(), forks.end(), d) != forks.end());
        }
    };
    // A request of an ended context whose responses are still the agent's (taken, not leaked).
    struct Orphan {
        RequestId request;
        bool release_created_dialog = false;  // out-of-dialog REFER: a 2xx creating a dialog gives us a usage
    };

    struct ServerEntry {
        TransfereeHandle handle;
        ReferServerContext ctx;
        DialogId dialog;        // the dialog carrying the subscription
        bool usage = false;     // we hold a usage on dialog (RFC 5057)
        SessionId invite;       // the INVITE to the target
        bool invite_done = true;  // its final status is known (true until placed)
        RequestId notify;       // the NOTIFY in flight
    };
    struct KnownSession {
        SessionId id;
        std::optional<DialogInfo> info;  // last snapshot
        std::optional<Time> ended_at;    // gone from the UA since
    };

    bool on_refer(const UaEvent& ev, Time now);
    bool on_subscribe(const UaEvent& ev, Time now);
    bool on_replaces(const UaEvent& ev, Time now);
    void track(const UaEvent& ev, Time now);
    void pump_server(ServerEntry& e, Time now);
    void collect_servers(Time now);
    void server_event(TransfereeEvent ev) { server_events_.push_back(std::move(ev)); }

    std::expected<ReferHandle, ReferStartError> start(SessionId session, std::string refer_to, ReferOptions options,
                                                      Time now);
    Entry* by_request(RequestId id);
    Entry* by_handle(ReferHandle h);
    void collect(Time now);  // moves context events out, finishes ended contexts
    void sync_ids(Time now);  // a digest retry of a REFER raised its CSeq: the context's id follows
    bool on_orphan_response(const UaEvent& ev, Time now);
    void track_subscribe(Entry& e, RequestId sent);

    UserAgentCore& ua_;
    ReferAgentConfig config_;
    std::vector<Entry> entries_;
    std::vector<std::pair<ReferHandle, ReferEvent>> events_;
    std::vector<Orphan> orphans_;
    std::vector<DialogId> discarded_;  // dialogs made by a NOTIFY for an ended context, released by us
    std::size_t events_head_ = 0;
    std::uint64_t next_handle_ = 1;
    std::vector<ServerEntry> servers_;
    std::vector<KnownSession> known_;
    std::vector<TransfereeEvent> server_events_;
    std::size_t server_events_head_ = 0;
    std::uint64_t next_server_handle_ = 1;
};

}  // namespace referkit
